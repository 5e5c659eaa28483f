"""MATLAB's classic (trainNetwork-era) verbs: prediction, stateful prediction and training, a
thin facade (MATLAB's arguments) over :mod:`matkeras.inference` and
:mod:`matkeras.workflows.classic`."""

from matkeras.matlab._args import verb_options

# -- prediction (matkeras.inference under MATLAB's names) -------------------------------------
# (``predict`` and ``resetState`` serve both eras: matkeras.matlab.current.)

PREDICT = ("MiniBatchSize", "SequenceLength", "SequencePaddingValue",
           "SequencePaddingDirection", "ExecutionEnvironment", "Acceleration")


def _predict_options(function, args, kwargs):
    return verb_options(function, args, kwargs, PREDICT)


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
    from matkeras.workflows.classic import train_network

    return train_network(X, Y, layers, options, layout=layout)
