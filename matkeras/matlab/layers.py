"""MATLAB's layer constructors (``lstmLayer(100, "OutputMode", "last")``) and layer graphs."""

from matkeras import layers as L
from matkeras.matlab._args import (
    LEARN_RATES,
    PROJECTOR_LEARN_RATES,
    PROJECTORS,
    RECURRENT_OPTIONS,
    WEIGHTED,
    WEIGHTED_LEARN_RATES,
    parse_arguments,
)
from matkeras.network import LayerGraph, assemble_network

_NORMALIZATION = {"Normalization": "normalization",
                  "NormalizationDimension": "normalization_dimension", "Mean": "mean",
                  "StandardDeviation": "standard_deviation", "Min": "min", "Max": "max",
                  "SplitComplexInputs": "split_complex_inputs"}


def sequenceInputLayer(inputSize, *args, **kwargs):
    """``sequenceInputLayer(inputSize, Name=Value)`` -> :class:`matkeras.layers.SequenceInput`.
    """
    values = parse_arguments("sequenceInputLayer", args, kwargs, (),
                    {**_NORMALIZATION, "MinLength": "min_length"})
    return L.SequenceInput(inputSize, **values)


def featureInputLayer(numFeatures, *args, **kwargs):
    """``featureInputLayer(numFeatures, Name=Value)`` -> :class:`matkeras.layers.FeatureInput`.
    """
    values = parse_arguments("featureInputLayer", args, kwargs, (), _NORMALIZATION)
    return L.FeatureInput(numFeatures, **values)


def _recurrent(function, cls, positional, args, kwargs, extra):
    values = parse_arguments(function, args, kwargs, positional,
                             {**RECURRENT_OPTIONS, **LEARN_RATES, **extra})
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
                      {"CellState": "cell_state", **PROJECTORS, **PROJECTOR_LEARN_RATES})


def gruProjectedLayer(numHiddenUnits, outputProjectorSize, inputProjectorSize, *args,
                      **kwargs):
    """``gruProjectedLayer(numHiddenUnits, outputProjectorSize, inputProjectorSize,
    Name=Value)`` -> :class:`matkeras.layers.GRUProjected`."""
    return _recurrent("gruProjectedLayer", L.GRUProjected,
                      ("units", "output_projector_size", "input_projector_size"),
                      (numHiddenUnits, outputProjectorSize, inputProjectorSize, *args), kwargs,
                      {"ResetGateMode": "reset_gate_mode", **PROJECTORS,
                       **PROJECTOR_LEARN_RATES})


def _conv(function, cls, args, kwargs):
    options = {"Stride": "stride", "DilationFactor": "dilation_factor", "Padding": "padding",
               "PaddingValue": "padding_value", **WEIGHTED}
    values = parse_arguments(function, args, kwargs, ("filter_size", "num_filters"),
                    {**options, "Weights": "weights", "Bias": "bias", **WEIGHTED_LEARN_RATES})
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
    values = parse_arguments("maxPooling1dLayer", (poolSize, *args), kwargs, ("pool_size",),
                    {"Stride": "stride", "Padding": "padding"})
    return L.MaxPooling1D(**values)


def averagePooling1dLayer(poolSize, *args, **kwargs):
    """``averagePooling1dLayer(poolSize, Name=Value)`` -> ``matkeras.layers.AveragePooling1D``.
    """
    values = parse_arguments("averagePooling1dLayer", (poolSize, *args), kwargs, ("pool_size",),
                    {"Stride": "stride", "Padding": "padding", "PaddingValue": "padding_value"})
    return L.AveragePooling1D(**values)


def _simple(function, cls, args, kwargs, positional=(), options=None):
    return cls(**parse_arguments(function, args, kwargs, positional, options or {}))


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


def sigmoidLayer(*args, **kwargs):
    """``sigmoidLayer`` -> :class:`matkeras.layers.Sigmoid`."""
    return _simple("sigmoidLayer", L.Sigmoid, args, kwargs)


def tanhLayer(*args, **kwargs):
    """``tanhLayer`` -> :class:`matkeras.layers.Tanh`."""
    return _simple("tanhLayer", L.Tanh, args, kwargs)


def geluLayer(*args, **kwargs):
    """``geluLayer(Approximation="none"|"tanh")`` -> :class:`matkeras.layers.GELU`."""
    return _simple("geluLayer", L.GELU, args, kwargs, (), {"Approximation": "approximation"})


def swishLayer(*args, **kwargs):
    """``swishLayer`` -> :class:`matkeras.layers.Swish`."""
    return _simple("swishLayer", L.Swish, args, kwargs)


def additionLayer(numInputs, *args, **kwargs):
    """``additionLayer(numInputs)`` -> :class:`matkeras.layers.Addition`."""
    return _simple("additionLayer", L.Addition, (numInputs, *args), kwargs, ("num_inputs",))


def multiplicationLayer(numInputs, *args, **kwargs):
    """``multiplicationLayer(numInputs)`` -> :class:`matkeras.layers.Multiplication`."""
    return _simple("multiplicationLayer", L.Multiplication, (numInputs, *args), kwargs,
                   ("num_inputs",))


def concatenationLayer(dim, numInputs, *args, **kwargs):
    """``concatenationLayer(dim, numInputs)`` -> :class:`matkeras.layers.Concatenation`
    (``Dim`` in MATLAB's data-format numbering: see :mod:`matkeras.layers.merge`)."""
    return _simple("concatenationLayer", L.Concatenation, (dim, numInputs, *args), kwargs,
                   ("dim", "num_inputs"))


def depthConcatenationLayer(numInputs, *args, **kwargs):
    """``depthConcatenationLayer(numInputs)`` -> :class:`matkeras.layers.DepthConcatenation`."""
    return _simple("depthConcatenationLayer", L.DepthConcatenation, (numInputs, *args), kwargs,
                   ("num_inputs",))


def softmaxLayer(*args, **kwargs):
    """``softmaxLayer`` -> :class:`matkeras.layers.Softmax`."""
    return _simple("softmaxLayer", L.Softmax, args, kwargs)


def wordEmbeddingLayer(dimension, numWords, *args, **kwargs):
    """``wordEmbeddingLayer(dimension, numWords, Name=Value)`` -> ``WordEmbedding``."""
    return _simple("wordEmbeddingLayer", L.WordEmbedding, (dimension, numWords, *args), kwargs,
                   ("dimension", "num_words"), {"OOVMode": "oov_mode", "Weights": "weights"})


def fullyConnectedLayer(outputSize, *args, **kwargs):
    """``fullyConnectedLayer(outputSize, Name=Value)`` -> ``matkeras.layers.FullyConnected``."""
    values = parse_arguments("fullyConnectedLayer", (outputSize, *args), kwargs, ("output_size",),
                    {**WEIGHTED, "Weights": "weights", "Bias": "bias",
                     **WEIGHTED_LEARN_RATES})
    return L.FullyConnected(**values)


def dropoutLayer(*args, **kwargs):
    """``dropoutLayer(probability)`` (default 0.5) -> :class:`matkeras.layers.Dropout`."""
    positional = ("probability",) if args and not isinstance(args[0], str) else ()
    return _simple("dropoutLayer", L.Dropout, args, kwargs, positional,
                   {"Probability": "probability"})


def spatialDropoutLayer(*args, **kwargs):
    """``spatialDropoutLayer(Probability=p)`` (default 0.5; R2024a) ->
    :class:`matkeras.layers.SpatialDropout`."""
    return _simple("spatialDropoutLayer", L.SpatialDropout, args, kwargs, (),
                   {"Probability": "probability"})


def _normalization(function, cls, args, kwargs, views, options=None, positional=()):
    values = parse_arguments(function, args, kwargs, positional,
                             {"Epsilon": "epsilon", **(options or {}), **views},
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
                          {"Offset": "offset", "Scale": "scale"},
                          {"OperationDimension": "operation_dimension"})


def groupNormalizationLayer(numGroups, *args, **kwargs):
    """``groupNormalizationLayer(numGroups, Name=Value)`` (a positive int, "all-channels" or
    "channel-wise") -> ``matkeras.layers.GroupNormalization``."""
    return _normalization("groupNormalizationLayer", L.GroupNormalization, (numGroups, *args),
                          kwargs, {"Offset": "offset", "Scale": "scale"},
                          positional=("num_groups",))


def instanceNormalizationLayer(*args, **kwargs):
    """``instanceNormalizationLayer(Name=Value)`` -> ``matkeras.layers.InstanceNormalization``."""
    return _normalization("instanceNormalizationLayer", L.InstanceNormalization, args, kwargs,
                          {"Offset": "offset", "Scale": "scale"})


def classificationLayer(*args, **kwargs):
    """``classificationLayer(Name=Value)`` -> :class:`matkeras.layers.Classification`."""
    values = parse_arguments("classificationLayer", args, kwargs, (),
                    {"ClassWeights": "class_weights", "Classes": "classes"})
    if isinstance(values.get("class_weights"), str):  # 'none'
        values["class_weights"] = None
    return L.Classification(**values)


def regressionLayer(*args, **kwargs):
    """``regressionLayer(Name=Value)`` -> :class:`matkeras.layers.Regression`."""
    return _simple("regressionLayer", L.Regression, args, kwargs, (),
                   {"ResponseNames": "response_names"})


def layerGraph(layers=()):
    """``lgraph = layerGraph(layers)``: a :class:`matkeras.network.LayerGraph` of a layer array
    (connected in order) or of another graph."""
    if isinstance(layers, LayerGraph):
        return LayerGraph(layers.layers, layers.connections)
    return LayerGraph(layers)


def addLayers(lgraph, layers):
    """``lgraph = addLayers(lgraph, layers)``: adds a layer array, connected in order."""
    return lgraph.add_layers(layers)


def connectLayers(lgraph, source, destination):
    """``lgraph = connectLayers(lgraph, 'fold/miniBatchSize', 'unfold/miniBatchSize')``."""
    return lgraph.connect(source, destination)


def disconnectLayers(lgraph, source, destination):
    """``lgraph = disconnectLayers(lgraph, source, destination)``."""
    return lgraph.disconnect(source, destination)


def removeLayers(lgraph, layerNames):
    """``lgraph = removeLayers(lgraph, layerNames)``: the layers and their connections."""
    return lgraph.remove_layers(layerNames)


def replaceLayer(lgraph, layerName, larray):
    """``lgraph = replaceLayer(lgraph, layerName, larray)``: `larray` takes the old layer's
    connections (its inputs feed the first new layer, its outputs come from the last)."""
    return lgraph.replace_layer(layerName, larray)


def assembleNetwork(layers):
    """``assembleNetwork(layers)`` -> ``keras.Model`` (see :func:`matkeras.assemble_network`)."""
    return assemble_network(layers)
