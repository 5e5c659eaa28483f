"""MATLAB-style constructors: MATLAB's positional arguments and name-value pairs, verbatim.

    >>> from matkeras.matlab import *
    >>> layers = [sequenceInputLayer(12), lstmLayer(100, "OutputMode", "last"),
    ...           fullyConnectedLayer(9), softmaxLayer(), classificationLayer()]

Names are case-insensitive, as in MATLAB, and may also be given as Python keywords
(``lstmLayer(100, OutputMode="last")``). An unknown name raises an error listing the valid ones;
MATLAB options matkeras does not implement (learn-rate factors other than 1, ...) raise an error
saying so. Each function returns the matkeras layer (see ``matkeras.layers``).
"""

from matkeras import layers as L
from matkeras.network import LayerGraph, assemble_network

__all__ = [
    "assembleNetwork", "averagePooling1dLayer", "batchNormalizationLayer", "bilstmLayer",
    "classificationLayer", "connectLayers", "convolution1dLayer", "convolution2dLayer",
    "dropoutLayer", "flattenLayer", "fullyConnectedLayer", "globalAveragePooling1dLayer",
    "globalMaxPooling1dLayer", "gruLayer", "gruProjectedLayer", "layerGraph",
    "layerNormalizationLayer", "lstmLayer", "lstmProjectedLayer", "maxPooling1dLayer",
    "regressionLayer", "reluLayer", "sequenceFoldingLayer", "sequenceInputLayer",
    "sequenceUnfoldingLayer", "softmaxLayer", "wordEmbeddingLayer",
    # prediction
    "activations", "classify", "classifyAndUpdateState", "predict", "predictAndUpdateState",
    "resetState",
    # training
    "trainNetwork", "trainingOptions",
]

_RECURRENT = {
    "OutputMode": "output_mode", "StateActivationFunction": "state_activation",
    "GateActivationFunction": "gate_activation", "HasStateInputs": "has_state_inputs",
    "HasStateOutputs": "has_state_outputs", "HiddenState": "hidden_state",
    "InputWeightsInitializer": "input_weights_initializer",
    "RecurrentWeightsInitializer": "recurrent_weights_initializer",
    "BiasInitializer": "bias_initializer", "InputWeightsL2Factor": "input_weights_l2_factor",
    "RecurrentWeightsL2Factor": "recurrent_weights_l2_factor",
    "BiasL2Factor": "bias_l2_factor", "InputWeights": "input_weights",
    "RecurrentWeights": "recurrent_weights", "Bias": "bias",
}
_LEARN_RATES = {"InputWeightsLearnRateFactor": "input_weights_learn_rate_factor",
                "RecurrentWeightsLearnRateFactor": "recurrent_weights_learn_rate_factor",
                "BiasLearnRateFactor": "bias_learn_rate_factor"}
_WEIGHTED_LEARN_RATES = {"WeightsLearnRateFactor": "weights_learn_rate_factor",
                         "BiasLearnRateFactor": "bias_learn_rate_factor"}
_PROJECTOR_LEARN_RATES = {
    "InputProjectorLearnRateFactor": "input_projector_learn_rate_factor",
    "OutputProjectorLearnRateFactor": "output_projector_learn_rate_factor"}
_PROJECTORS = {
    "InputProjectorInitializer": "input_projector_initializer",
    "OutputProjectorInitializer": "output_projector_initializer",
    "InputProjectorL2Factor": "input_projector_l2_factor",
    "OutputProjectorL2Factor": "output_projector_l2_factor",
    "InputProjector": "input_projector", "OutputProjector": "output_projector",
}
_WEIGHTED = {
    "WeightsInitializer": "weights_initializer", "BiasInitializer": "bias_initializer",
    "WeightsL2Factor": "weights_l2_factor", "BiasL2Factor": "bias_l2_factor",
}


def _parse(function, args, kwargs, positional, options, unsupported=()):
    """Splits MATLAB-style arguments into Python keyword arguments for a layer class."""
    count = len(positional)
    values = dict(zip(positional, args[:count], strict=False))
    pairs = list(args[count:])
    if len(pairs) % 2:
        raise ValueError(f"{function}: name-value arguments come in pairs; received an odd "
                         f"number after the {count} positional argument(s): {pairs!r}.")
    given = list(zip(pairs[::2], pairs[1::2], strict=True)) + list(kwargs.items())
    lookup = {name.lower(): name for name in [*options, "Name", *unsupported]}
    for name, value in given:
        if not isinstance(name, str) or name.lower() not in lookup:
            raise ValueError(
                f"{function}: unknown name-value argument {name!r}. Valid names: "
                f"{', '.join(sorted([*options, 'Name']))}.")
        canonical = lookup[name.lower()]
        if canonical in unsupported:
            if value != 1:
                raise ValueError(f"{function}: '{canonical}' other than 1 is a MATLAB option "
                                 "matkeras does not implement; received {value!r}.")
            continue
        if canonical == "Name":
            if value:
                values["name"] = str(value)
            continue
        values[options[canonical]] = value
    return values


def sequenceInputLayer(inputSize, *args, **kwargs):
    """``sequenceInputLayer(inputSize, Name=Value)`` -> :class:`matkeras.layers.SequenceInput`.
    """
    options = {"Normalization": "normalization",
               "NormalizationDimension": "normalization_dimension", "Mean": "mean",
               "StandardDeviation": "standard_deviation", "Min": "min", "Max": "max",
               "MinLength": "min_length"}
    values = _parse("sequenceInputLayer", args, kwargs, (), options,
                    unsupported=("SplitComplexInputs",))
    return L.SequenceInput(inputSize, **values)


def _recurrent(function, cls, positional, args, kwargs, extra):
    values = _parse(function, args, kwargs, positional, {**_RECURRENT, **_LEARN_RATES, **extra})
    return cls(**values)


def lstmLayer(numHiddenUnits, *args, **kwargs):
    """``lstmLayer(numHiddenUnits, Name=Value)`` -> :class:`matkeras.layers.LSTM`."""
    return _recurrent("lstmLayer", L.LSTM, ("units",), (numHiddenUnits, *args), kwargs,
                      {"CellState": "cell_state"})


def bilstmLayer(numHiddenUnits, *args, **kwargs):
    """``bilstmLayer(numHiddenUnits, Name=Value)`` -> :class:`matkeras.layers.BiLSTM`."""
    return _recurrent("bilstmLayer", L.BiLSTM, ("units",), (numHiddenUnits, *args), kwargs,
                      {"CellState": "cell_state"})


def gruLayer(numHiddenUnits, *args, **kwargs):
    """``gruLayer(numHiddenUnits, Name=Value)`` -> :class:`matkeras.layers.GRU`."""
    return _recurrent("gruLayer", L.GRU, ("units",), (numHiddenUnits, *args), kwargs,
                      {"ResetGateMode": "reset_gate_mode"})


def lstmProjectedLayer(numHiddenUnits, outputProjectorSize, inputProjectorSize, *args,
                       **kwargs):
    """``lstmProjectedLayer(numHiddenUnits, outputProjectorSize, inputProjectorSize,
    Name=Value)`` -> :class:`matkeras.layers.LSTMProjected`."""
    return _recurrent("lstmProjectedLayer", L.LSTMProjected,
                      ("units", "output_projector_size", "input_projector_size"),
                      (numHiddenUnits, outputProjectorSize, inputProjectorSize, *args), kwargs,
                      {"CellState": "cell_state", **_PROJECTORS, **_PROJECTOR_LEARN_RATES})


def gruProjectedLayer(numHiddenUnits, outputProjectorSize, inputProjectorSize, *args,
                      **kwargs):
    """``gruProjectedLayer(numHiddenUnits, outputProjectorSize, inputProjectorSize,
    Name=Value)`` -> :class:`matkeras.layers.GRUProjected`."""
    return _recurrent("gruProjectedLayer", L.GRUProjected,
                      ("units", "output_projector_size", "input_projector_size"),
                      (numHiddenUnits, outputProjectorSize, inputProjectorSize, *args), kwargs,
                      {"ResetGateMode": "reset_gate_mode", **_PROJECTORS,
                       **_PROJECTOR_LEARN_RATES})


def _conv(function, cls, args, kwargs):
    options = {"Stride": "stride", "DilationFactor": "dilation_factor", "Padding": "padding",
               "PaddingValue": "padding_value", **_WEIGHTED}
    values = _parse(function, args, kwargs, ("filter_size", "num_filters"),
                    {**options, "Weights": "weights", "Bias": "bias", **_WEIGHTED_LEARN_RATES})
    return cls(**values)


def convolution1dLayer(filterSize, numFilters, *args, **kwargs):
    """``convolution1dLayer(filterSize, numFilters, Name=Value)`` -> ``matkeras.layers.Conv1D``.
    """
    return _conv("convolution1dLayer", L.Conv1D, (filterSize, numFilters, *args), kwargs)


def convolution2dLayer(filterSize, numFilters, *args, **kwargs):
    """``convolution2dLayer(filterSize, numFilters, Name=Value)`` -> ``matkeras.layers.Conv2D``.
    """
    return _conv("convolution2dLayer", L.Conv2D, (filterSize, numFilters, *args), kwargs)


def maxPooling1dLayer(poolSize, *args, **kwargs):
    """``maxPooling1dLayer(poolSize, Name=Value)`` -> :class:`matkeras.layers.MaxPooling1D`."""
    values = _parse("maxPooling1dLayer", (poolSize, *args), kwargs, ("pool_size",),
                    {"Stride": "stride", "Padding": "padding"})
    return L.MaxPooling1D(**values)


def averagePooling1dLayer(poolSize, *args, **kwargs):
    """``averagePooling1dLayer(poolSize, Name=Value)`` -> ``matkeras.layers.AveragePooling1D``.
    """
    values = _parse("averagePooling1dLayer", (poolSize, *args), kwargs, ("pool_size",),
                    {"Stride": "stride", "Padding": "padding", "PaddingValue": "padding_value"})
    return L.AveragePooling1D(**values)


def _simple(function, cls, args, kwargs, positional=(), options=None):
    return cls(**_parse(function, args, kwargs, positional, options or {}))


def globalMaxPooling1dLayer(*args, **kwargs):
    """``globalMaxPooling1dLayer`` -> :class:`matkeras.layers.GlobalMaxPooling1D`."""
    return _simple("globalMaxPooling1dLayer", L.GlobalMaxPooling1D, args, kwargs)


def globalAveragePooling1dLayer(*args, **kwargs):
    """``globalAveragePooling1dLayer`` -> :class:`matkeras.layers.GlobalAveragePooling1D`."""
    return _simple("globalAveragePooling1dLayer", L.GlobalAveragePooling1D, args, kwargs)


def sequenceFoldingLayer(*args, **kwargs):
    """``sequenceFoldingLayer`` -> :class:`matkeras.layers.SequenceFolding`."""
    return _simple("sequenceFoldingLayer", L.SequenceFolding, args, kwargs)


def sequenceUnfoldingLayer(*args, **kwargs):
    """``sequenceUnfoldingLayer`` -> :class:`matkeras.layers.SequenceUnfolding`."""
    return _simple("sequenceUnfoldingLayer", L.SequenceUnfolding, args, kwargs)


def flattenLayer(*args, **kwargs):
    """``flattenLayer`` -> :class:`matkeras.layers.Flatten` (column-major)."""
    return _simple("flattenLayer", L.Flatten, args, kwargs)


def reluLayer(*args, **kwargs):
    """``reluLayer`` -> :class:`matkeras.layers.ReLU`."""
    return _simple("reluLayer", L.ReLU, args, kwargs)


def softmaxLayer(*args, **kwargs):
    """``softmaxLayer`` -> :class:`matkeras.layers.Softmax`."""
    return _simple("softmaxLayer", L.Softmax, args, kwargs)


def wordEmbeddingLayer(dimension, numWords, *args, **kwargs):
    """``wordEmbeddingLayer(dimension, numWords, Name=Value)`` -> ``WordEmbedding``."""
    return _simple("wordEmbeddingLayer", L.WordEmbedding, (dimension, numWords, *args), kwargs,
                   ("dimension", "num_words"), {"OOVMode": "oov_mode", "Weights": "weights"})


def fullyConnectedLayer(outputSize, *args, **kwargs):
    """``fullyConnectedLayer(outputSize, Name=Value)`` -> ``matkeras.layers.FullyConnected``."""
    values = _parse("fullyConnectedLayer", (outputSize, *args), kwargs, ("output_size",),
                    {**_WEIGHTED, "Weights": "weights", "Bias": "bias",
                     **_WEIGHTED_LEARN_RATES})
    return L.FullyConnected(**values)


def dropoutLayer(*args, **kwargs):
    """``dropoutLayer(probability)`` (default 0.5) -> :class:`matkeras.layers.Dropout`."""
    positional = ("probability",) if args and not isinstance(args[0], str) else ()
    return _simple("dropoutLayer", L.Dropout, args, kwargs, positional,
                   {"Probability": "probability"})


def _normalization(function, cls, args, kwargs, views):
    values = _parse(function, args, kwargs, (), {"Epsilon": "epsilon", **views},
                    unsupported=("OffsetLearnRateFactor", "ScaleLearnRateFactor"))
    matlab = {key: values.pop(key) for key in list(values) if key in views.values()}
    layer = cls(**values)
    if matlab:
        layer.set_matlab_weights(**matlab)
    return layer


def batchNormalizationLayer(*args, **kwargs):
    """``batchNormalizationLayer(Name=Value)`` -> ``matkeras.layers.BatchNormalization``."""
    return _normalization("batchNormalizationLayer", L.BatchNormalization, args, kwargs,
                          {"Offset": "offset", "Scale": "scale", "TrainedMean": "trained_mean",
                           "TrainedVariance": "trained_variance"})


def layerNormalizationLayer(*args, **kwargs):
    """``layerNormalizationLayer(Name=Value)`` -> ``matkeras.layers.LayerNormalization``."""
    return _normalization("layerNormalizationLayer", L.LayerNormalization, args, kwargs,
                          {"Offset": "offset", "Scale": "scale"})


def classificationLayer(*args, **kwargs):
    """``classificationLayer(Name=Value)`` -> :class:`matkeras.layers.Classification`."""
    values = _parse("classificationLayer", args, kwargs, (),
                    {"ClassWeights": "class_weights", "Classes": "classes"})
    if isinstance(values.get("class_weights"), str):  # 'none'
        values["class_weights"] = None
    return L.Classification(**values)


def regressionLayer(*args, **kwargs):
    """``regressionLayer(Name=Value)`` -> :class:`matkeras.layers.Regression`."""
    return _simple("regressionLayer", L.Regression, args, kwargs, (),
                   {"ResponseNames": "response_names"})


def layerGraph(layers=()):
    """``layerGraph(layers)``: a :class:`matkeras.network.LayerGraph` of a layer array."""
    return LayerGraph(layers)


def connectLayers(lgraph, source, destination):
    """``connectLayers(lgraph, 'fold/miniBatchSize', 'unfold/miniBatchSize')``."""
    return lgraph.connect(source, destination)


def assembleNetwork(layers):
    """``assembleNetwork(layers)`` -> ``keras.Model`` (see :func:`matkeras.assemble_network`)."""
    return assemble_network(layers)


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
