"""MATLAB's 2-D image layer constructors (``imageInputLayer([98 32 1])``,
``maxPooling2dLayer(3, "Stride", 2, "Padding", "same")``, ...)."""

from matkeras import layers as L
from matkeras.matlab._args import WEIGHTED, WEIGHTED_LEARN_RATES, parse_arguments

_POOLING = {"Stride": "stride", "Padding": "padding"}


def imageInputLayer(inputSize, *args, **kwargs):
    """``imageInputLayer(inputSize, Name=Value)`` -> :class:`matkeras.layers.ImageInput`.

    MATLAB's default ``Normalization`` is ``"zerocenter"``, its ``Mean`` computed by training;
    until statistics are given (``Mean=...``) or computed (``layer.adapt(images)``) the mean
    is zero, which changes nothing.
    """
    values = parse_arguments("imageInputLayer", args, kwargs, (), {
        "Normalization": "normalization", "NormalizationDimension": "normalization_dimension",
        "Mean": "mean", "StandardDeviation": "standard_deviation", "Min": "min", "Max": "max",
        "DataAugmentation": "data_augmentation", "SplitComplexInputs": "split_complex_inputs"})
    values.setdefault("normalization", "zerocenter")
    return L.ImageInput(inputSize, **values)


def groupedConvolution2dLayer(filterSize, numFiltersPerGroup, numGroups, *args, **kwargs):
    """``groupedConvolution2dLayer(filterSize, numFiltersPerGroup, numGroups, Name=Value)``
    (``numGroups`` a number or ``"channel-wise"``) -> :class:`matkeras.layers.GroupedConv2D`.
    """
    options = {"Stride": "stride", "DilationFactor": "dilation_factor", "Padding": "padding",
               "PaddingValue": "padding_value", "Weights": "weights", "Bias": "bias",
               **WEIGHTED, **WEIGHTED_LEARN_RATES}
    values = parse_arguments("groupedConvolution2dLayer",
                             (filterSize, numFiltersPerGroup, numGroups, *args), kwargs,
                             ("filter_size", "num_filters_per_group", "num_groups"), options)
    return L.GroupedConv2D(**values)


def maxPooling2dLayer(poolSize, *args, **kwargs):
    """``maxPooling2dLayer(poolSize, Name=Value)`` -> :class:`matkeras.layers.MaxPooling2D`.
    ``HasUnpoolingOutputs`` true is refused (matkeras has no maxUnpooling2dLayer)."""
    values = parse_arguments("maxPooling2dLayer", (poolSize, *args), kwargs, ("pool_size",),
                             {**_POOLING, "HasUnpoolingOutputs": "has_unpooling_outputs"})
    if values.pop("has_unpooling_outputs", False):
        raise ValueError("maxPooling2dLayer: HasUnpoolingOutputs true (outputs for a "
                         "maxUnpooling2dLayer) is not supported by matkeras.")
    return L.MaxPooling2D(**values)


def averagePooling2dLayer(poolSize, *args, **kwargs):
    """``averagePooling2dLayer(poolSize, Name=Value)`` ->
    :class:`matkeras.layers.AveragePooling2D`."""
    values = parse_arguments("averagePooling2dLayer", (poolSize, *args), kwargs,
                             ("pool_size",), {**_POOLING, "PaddingValue": "padding_value"})
    return L.AveragePooling2D(**values)


def globalAveragePooling2dLayer(*args, **kwargs):
    """``globalAveragePooling2dLayer`` -> :class:`matkeras.layers.GlobalAveragePooling2D`."""
    return L.GlobalAveragePooling2D(**parse_arguments("globalAveragePooling2dLayer", args,
                                                      kwargs, (), {}))


def globalMaxPooling2dLayer(*args, **kwargs):
    """``globalMaxPooling2dLayer`` -> :class:`matkeras.layers.GlobalMaxPooling2D`."""
    return L.GlobalMaxPooling2D(**parse_arguments("globalMaxPooling2dLayer", args, kwargs, (),
                                                  {}))


def eluLayer(*args, **kwargs):
    """``eluLayer(alpha)`` -> :class:`matkeras.layers.ELU` (Alpha 1)."""
    return L.ELU(**parse_arguments("eluLayer", args, kwargs, ("alpha",), {}))


def leakyReluLayer(*args, **kwargs):
    """``leakyReluLayer(scale)`` -> :class:`matkeras.layers.LeakyReLU` (Scale 0.01)."""
    return L.LeakyReLU(**parse_arguments("leakyReluLayer", args, kwargs, ("scale",), {}))


def clippedReluLayer(ceiling, *args, **kwargs):
    """``clippedReluLayer(ceiling)`` -> :class:`matkeras.layers.ClippedReLU`."""
    return L.ClippedReLU(**parse_arguments("clippedReluLayer", (ceiling, *args), kwargs,
                                           ("ceiling",), {}))


def crossChannelNormalizationLayer(windowChannelSize, *args, **kwargs):
    """``crossChannelNormalizationLayer(windowChannelSize, Name=Value)`` ->
    :class:`matkeras.layers.CrossChannelNormalization` (Alpha 1e-4, Beta 0.75, K 2)."""
    values = parse_arguments("crossChannelNormalizationLayer", (windowChannelSize, *args),
                             kwargs, ("window_channel_size",),
                             {"Alpha": "alpha", "Beta": "beta", "K": "k"})
    return L.CrossChannelNormalization(**values)
