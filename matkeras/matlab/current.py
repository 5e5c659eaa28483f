"""MATLAB's current (R2024a+) verbs: ``dlnetwork``, ``trainnet``, ``minibatchpredict``,
``scores2label``, ``onehotencode``/``onehotdecode``, ``testnet``, stateful ``predict`` with
``net.State`` and ``resetState``; the metric constructors of ``trainingOptions(Metrics=...)``.

A thin facade (MATLAB's positional arguments and name-value pairs) over
:mod:`matkeras.dlnetwork`, :mod:`matkeras.workflows.current`,
:mod:`matkeras.categorical` and :mod:`matkeras.metrics`; the classic verbs are in
:mod:`matkeras.matlab.classic`.
"""

# Registered with Keras on import, so that `import matkeras` reloads what trainnet and
# trainNetwork save (their losses, metrics and solvers):
from matkeras import losses as _losses  # noqa: F401
from matkeras import metrics as _metrics  # noqa: F401
from matkeras import optimizers as _optimizers  # noqa: F401
from matkeras.matlab._args import parse_arguments, verb_options
from matkeras.matlab.classic import PREDICT

MINIBATCH = (*PREDICT, "InputDataFormats")


# -- the dlnetwork object ----------------------------------------------------------------------

def dlnetwork(layers=(), *args, **kwargs):
    """``net = dlnetwork(layers)`` / ``dlnetwork(layers, Initialize=false)`` / ``dlnetwork``
    (empty) -> :class:`matkeras.dlnetwork.DLNetwork` (also wraps a built ``keras.Model``).
    ``addLayers``, ``connectLayers``, ``disconnectLayers``, ``removeLayers`` and
    ``replaceLayer`` edit it as they edit a layerGraph."""
    from matkeras.dlnetwork import DLNetwork

    values = parse_arguments("dlnetwork", args, kwargs, (), {"Initialize": "initialize"})
    values.pop("name", None)
    return DLNetwork(layers, initialize=bool(values.get("initialize", True)))


def initialize(net):
    """``net = initialize(net)``: builds an uninitialized dlnetwork's model."""
    return net.initialize()


def resetState(net):
    """``net = resetState(net)``: recurrent layers back to their initial states (a dlnetwork or
    a ``keras.Model``; the same object comes back)."""
    from matkeras import inference
    from matkeras.dlnetwork import DLNetwork

    inference.reset_state(net.model if isinstance(net, DLNetwork) else net)
    return net


def predict(net, X, *args, nargout=1, **kwargs):
    """``Y = predict(net, X)``; ``[Y, state] = predict(net, X)`` is
    ``Y, state = predict(net, X, nargout=2)``: the state after the last step as a State table
    (see :mod:`matkeras.dlnetwork`), not stored; ``net.State = state`` stores it (for a
    ``keras.Model``, ``state`` is :func:`matkeras.inference.get_state`'s dict and
    ``matkeras.inference.set_state(net, state)`` stores it). Options as ``minibatchpredict``'s
    mini-batch ones, plus ``InputDataFormats``."""
    from matkeras import inference
    from matkeras.data.formats import read_sequences
    from matkeras.dlnetwork import DLNetwork

    options = verb_options("predict", args, kwargs, MINIBATCH)
    X = read_sequences(X, options.pop("input_formats", "auto"))
    if isinstance(net, DLNetwork):
        return net.predict(X, nargout=nargout, **options)
    if nargout == 2:
        return inference.predict_with_state(net, X, **options)
    if nargout != 1:
        raise ValueError(f"predict returns Y or [Y, state]: nargout must be 1 or 2; received "
                         f"{nargout!r}.")
    return inference.predict(net, X, **options)


# -- training ----------------------------------------------------------------------------------

def trainnet(X, T, net, lossFcn, options):
    """``[netTrained, info] = trainnet(X, T, net, lossFcn, options)`` -> ``(net, info)`` (see
    :func:`matkeras.workflows.current.trainnet`)."""
    from matkeras.workflows.current import trainnet as run

    return run(X, T, net, lossFcn, options)


def _metric(function, cls, kind, args, kwargs):
    values = parse_arguments(function, args, kwargs, (), {"AverageType": "average"},
                    unsupported=("NetworkOutput", "ClassificationMode"))
    return cls(kind, average=values.get("average", "micro"), name=values.get("name"))


def accuracyMetric(*args, **kwargs):
    """``accuracyMetric()`` -> :class:`matkeras.metrics.Accuracy` (percent)."""
    from matkeras.metrics import Accuracy

    values = parse_arguments("accuracyMetric", args, kwargs, (), {})
    return Accuracy(name=values.get("name", "accuracy"))


def rmseMetric(*args, **kwargs):
    """``rmseMetric()`` -> :class:`matkeras.metrics.ErrorMetric` ("rmse")."""
    from matkeras.metrics import ErrorMetric

    values = parse_arguments("rmseMetric", args, kwargs, (), {})
    return ErrorMetric("rmse", name=values.get("name"))


def precisionMetric(*args, **kwargs):
    """``precisionMetric(AverageType="micro"|"macro")``."""
    from matkeras.metrics import PrecisionRecallFScore

    return _metric("precisionMetric", PrecisionRecallFScore, "precision", args, kwargs)


def recallMetric(*args, **kwargs):
    """``recallMetric(AverageType="micro"|"macro")``."""
    from matkeras.metrics import PrecisionRecallFScore

    return _metric("recallMetric", PrecisionRecallFScore, "recall", args, kwargs)


def fScoreMetric(*args, **kwargs):
    """``fScoreMetric(AverageType="micro"|"macro")`` (F1)."""
    from matkeras.metrics import PrecisionRecallFScore

    return _metric("fScoreMetric", PrecisionRecallFScore, "fscore", args, kwargs)


# -- prediction and testing --------------------------------------------------------------------

def minibatchpredict(net, X, *args, **kwargs):
    """``Y = minibatchpredict(net, X, Name=Value)``: MiniBatchSize, InputDataFormats,
    UniformOutput, SequenceLength, SequencePaddingValue, SequencePaddingDirection (see
    :func:`matkeras.workflows.current.minibatchpredict`)."""
    from matkeras.workflows import current as minibatch

    options = verb_options("minibatchpredict", args, kwargs, (*MINIBATCH, "UniformOutput"))
    return minibatch.minibatchpredict(net, X, **options)


def testnet(net, X, T, metrics, *args, **kwargs):
    """``metricValues = testnet(net, X, T, metrics, Name=Value)``: the options of
    minibatchpredict, TargetDataFormats, and ClassNames (matkeras; see
    :func:`matkeras.workflows.current.testnet`)."""
    from matkeras.workflows import current as minibatch

    options = verb_options("testnet", args, kwargs, (*MINIBATCH, "TargetDataFormats"),
                           {"ClassNames": "class_names"})
    return minibatch.testnet(net, X, T, metrics, **options)


testnet.__test__ = False  # a MATLAB verb, not a pytest test when imported in tests


def scores2label(scores, classNames, *args, **kwargs):
    """``[Y, scores] = scores2label(scores, classNames)`` -> ``(labels, scores)``."""
    from matkeras import categorical

    return categorical.scores2label(scores, classNames, *args, **kwargs)


def onehotencode(A, featureDim, *args, **kwargs):
    """``B = onehotencode(A, featureDim, Name=Value)`` (see
    :func:`matkeras.categorical.onehotencode`)."""
    from matkeras import categorical

    return categorical.onehotencode(A, featureDim, *args, **kwargs)


def onehotdecode(B, classes, featureDim, *args, **kwargs):
    """``A = onehotdecode(B, classes, featureDim)``."""
    from matkeras import categorical

    return categorical.onehotdecode(B, classes, featureDim, *args, **kwargs)
