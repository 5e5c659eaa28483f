"""MATLAB's transformer layers for sequences: ``selfAttentionLayer(4, 128, "AttentionMask",
"causal")``, ``positionEmbeddingLayer(3, 256)``, ``indexing1dLayer("last")``, ...

MATLAB spells the learn-rate and L2 factors of these layers in the singular
(``WeightLearnRateFactor``, ``WeightL2Factor``: the names a saved positionEmbeddingLayer
carries), as fullyConnectedLayer and the convolution layers do; the plural spellings matkeras
once took still work, with a DeprecationWarning (``matkeras.matlab._args.DEPRECATED_NAMES``).
"""

from matkeras import layers as L
from matkeras.matlab._args import parse_arguments

_WEIGHT_FACTORS = {
    "WeightLearnRateFactor": "weights_learn_rate_factor",
    "WeightL2Factor": "weights_l2_factor",
}
_BIAS_FACTORS = {"BiasLearnRateFactor": "bias_learn_rate_factor",
                 "BiasL2Factor": "bias_l2_factor"}
_ATTENTION = {"AttentionMask": "attention_mask", "HasPaddingMaskInput": "has_padding_mask_input",
              "HasScoresOutput": "has_scores_output",
              "DropoutProbability": "dropout_probability"}


def selfAttentionLayer(numHeads, numKeyChannels, *args, **kwargs):
    """``selfAttentionLayer(numHeads, numKeyChannels, Name=Value)`` ->
    :class:`matkeras.layers.SelfAttention`."""
    options = {**_ATTENTION, "NumValueChannels": "num_value_channels",
               "OutputSize": "output_size", "WeightsInitializer": "weights_initializer",
               "BiasInitializer": "bias_initializer", **_WEIGHT_FACTORS, **_BIAS_FACTORS}
    for prefix, name in (("Query", "query"), ("Key", "key"), ("Value", "value"),
                         ("Output", "output")):
        options[f"{prefix}Weights"] = f"{name}_weights"
        options[f"{prefix}Bias"] = f"{name}_bias"
    values = parse_arguments("selfAttentionLayer", (numHeads, numKeyChannels, *args), kwargs,
                    ("num_heads", "num_key_channels"), options)
    return L.SelfAttention(**values)


def attentionLayer(numHeads, *args, **kwargs):
    """``attentionLayer(numHeads, Name=Value)`` -> :class:`matkeras.layers.Attention`."""
    values = parse_arguments("attentionLayer", (numHeads, *args), kwargs, ("num_heads",),
                    {**_ATTENTION, "Scale": "scale"})
    return L.Attention(**values)


def positionEmbeddingLayer(outputSize, maxPosition, *args, **kwargs):
    """``positionEmbeddingLayer(outputSize, maxPosition, Name=Value)`` ->
    :class:`matkeras.layers.PositionEmbedding`."""
    values = parse_arguments("positionEmbeddingLayer", (outputSize, maxPosition, *args), kwargs,
                    ("output_size", "max_position"),
                    {"PositionDimension": "position_dimension",
                     "WeightsInitializer": "weights_initializer", "Weights": "weights",
                     **_WEIGHT_FACTORS})
    return L.PositionEmbedding(**values)


def sinusoidalPositionEncodingLayer(outputSize, *args, **kwargs):
    """``sinusoidalPositionEncodingLayer(outputSize, Name=Value)`` ->
    :class:`matkeras.layers.SinusoidalPositionEncoding`."""
    values = parse_arguments("sinusoidalPositionEncodingLayer", (outputSize, *args), kwargs,
                    ("output_size",), {"Positions": "positions"})
    return L.SinusoidalPositionEncoding(**values)


def embeddingConcatenationLayer(*args, **kwargs):
    """``embeddingConcatenationLayer(Name=Value)`` ->
    :class:`matkeras.layers.EmbeddingConcatenation`."""
    values = parse_arguments("embeddingConcatenationLayer", args, kwargs, (),
                    {"WeightsInitializer": "weights_initializer", "Weights": "weights",
                     **_WEIGHT_FACTORS})
    return L.EmbeddingConcatenation(**values)


def indexing1dLayer(*args, **kwargs):
    """``indexing1dLayer(index, Name=Value)`` (index ``"first"`` by default) ->
    :class:`matkeras.layers.Indexing1D`."""
    options = {"Index": "index", "HasPaddingMaskInput": "has_padding_mask_input"}
    names = {name.lower() for name in [*options, "Name"]}
    first_is_option = bool(args) and isinstance(args[0], str) and args[0].lower() in names
    positional = ("index",) if args and not first_is_option else ()
    values = parse_arguments("indexing1dLayer", args, kwargs, positional, options)
    return L.Indexing1D(**values)
