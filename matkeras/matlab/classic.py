"""MATLAB's classic (trainNetwork-era) verbs: prediction, stateful prediction and training,
on :mod:`matkeras.inference` and :mod:`matkeras.training`."""

from matkeras.matlab._args import _parse

# -- prediction (matkeras.inference under MATLAB's names) -------------------------------------

_PREDICT = {
    "MiniBatchSize": "mini_batch_size", "SequenceLength": "sequence_length",
    "SequencePaddingValue": "padding_value", "SequencePaddingDirection": "padding_direction",
}


def _predict_options(function, args, kwargs, extra=None):
    return _parse(function, args, kwargs, (), {**_PREDICT, **(extra or {})},
                  unsupported=("ExecutionEnvironment", "Acceleration"))


def predict(net, X, *args, **kwargs):
    """``Y = predict(net, X, Name=Value)`` (see :func:`matkeras.inference.predict`)."""
    from matkeras import inference

    return inference.predict(net, X, **_predict_options("predict", args, kwargs))


def classify(net, X, *args, **kwargs):
    """``[labels, scores] = classify(net, X, Name=Value)`` -> ``(labels, scores)``."""
    from matkeras import inference

    return inference.classify(net, X, **_predict_options("classify", args, kwargs))


def predictAndUpdateState(net, X, *args, **kwargs):
    """``[net, Y] = predictAndUpdateState(net, X, Name=Value)`` -> ``(net, Y)``; the state is
    stored in `net` itself (the same object comes back)."""
    from matkeras import inference

    options = _predict_options("predictAndUpdateState", args, kwargs)
    return net, inference.predict_and_update_state(net, X, **options)


def classifyAndUpdateState(net, X, *args, **kwargs):
    """``[net, labels, scores] = classifyAndUpdateState(net, X, Name=Value)``."""
    from matkeras import inference

    options = _predict_options("classifyAndUpdateState", args, kwargs)
    return (net, *inference.classify_and_update_state(net, X, **options))


def resetState(net):
    """``net = resetState(net)``: recurrent layers back to their initial states."""
    from matkeras import inference

    return inference.reset_state(net)


def activations(net, X, layer, *args, **kwargs):
    """``act = activations(net, X, layer, Name=Value)``: `layer` is a name or MATLAB's 1-based
    index into ``net.Layers`` (here ``model.layers``)."""
    from matkeras import inference

    if isinstance(layer, int) and not isinstance(layer, bool):
        if layer < 1:
            raise ValueError(f"activations: MATLAB layer indices start at 1; received {layer}.")
        layer -= 1
    return inference.activations(net, X, layer, **_predict_options("activations", args, kwargs))


# -- training (matkeras.training under MATLAB's names) -----------------------------------------

def trainingOptions(solverName, *args, **kwargs):
    """``options = trainingOptions(solverName, Name=Value)`` (see
    :func:`matkeras.training.training_options`)."""
    from matkeras import training

    if len(args) % 2:
        raise ValueError("trainingOptions: name-value arguments come in pairs; received an odd "
                         f"number: {list(args)!r}.")
    pairs = dict(zip(args[::2], args[1::2], strict=True))
    return training.training_options(solverName, **pairs, **kwargs)


def trainNetwork(X, Y, layers, options, layout="TC"):
    """``net = trainNetwork(X, Y, layers, options)`` -> trained ``keras.Model``. X is a list of
    (T, C) sequences (``layout="CT"`` for MATLAB's C x T cells)."""
    from matkeras import training

    return training.train_network(X, Y, layers, options, layout=layout)
