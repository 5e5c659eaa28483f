"""Which built-in MATLAB constructor rebuilds each matkeras layer (the one table of
:func:`matkeras.export.export_matlab`).

Each row: the MATLAB function, the oldest release that has it, its positional arguments
(``(MATLAB property, config key)``) and its name-value options (``(MATLAB name, config key,
MATLAB's default, oldest release that takes the option)``). The layer's arrays (learnables,
states, normalization statistics) come from the layer's own MATLAB mapping
(``matlab_properties()``) and pass through the constructors' arguments of the same names. An
option is written only where it differs from MATLAB's default, so a script needs no newer
release than its layers and options do.
"""

from dataclasses import dataclass, field

import numpy as np

from matkeras import layers as L

#: Config values that MATLAB has no option for: ``{config key: the only value MATLAB has}``.
_NO_MATLAB_OPTION = {"go_backwards": False, "backward_last_output": "final-state"}


@dataclass(frozen=True)
class Constructor:
    """How one layer class is written as a MATLAB constructor call."""

    function: str
    release: str
    positional: tuple = ()
    options: tuple = ()
    #: Public properties the constructor spells another way (``Padding`` is
    #: ``PaddingMode``/``PaddingSize``): f(config) -> {property: value} for the MAT-file.
    properties: object = None
    #: Arrays of ``matlab_properties()`` no constructor argument takes.
    skip_arrays: tuple = field(default=())
    #: ``{property: f(array, layer) -> array}``: the shape the constructor takes where the
    #: layer's mapping gives a plain vector (MATLAB's 1 x 1 x C biases and statistics).
    shapes: dict = field(default_factory=dict)


def _leading_ones(count):
    """A vector as ``1 x ... x 1 x n`` (`count` leading ones)."""
    return lambda array, layer: np.reshape(array, (1,) * count + (-1,))


def _per_channel(array, layer):
    """A per-channel vector in the form MATLAB keeps for the layer's input: ``1 x 1 x C``
    after images, ``C x 1`` otherwise."""
    images = len(layer.input.shape) == 4
    return np.reshape(array, (1, 1, -1) if images else (-1, 1))


_NORMALIZED = ("Offset", "Scale", "TrainedMean", "TrainedVariance")


def _option(name, key, default, release=None):
    return (name, key, default, release)


_FACTORS = {
    "weighted": (_option("WeightL2Factor", "weights_l2_factor", 1.0),
                 _option("BiasL2Factor", "bias_l2_factor", 0.0),
                 _option("WeightLearnRateFactor", "weights_learn_rate_factor", 1.0),
                 _option("BiasLearnRateFactor", "bias_learn_rate_factor", 1.0)),
    "recurrent": tuple(
        _option(f"{prop}{kind}", f"{key}_{suffix}", default)
        for prop, key, l2 in (("InputWeights", "input_weights", 1.0),
                              ("RecurrentWeights", "recurrent_weights", 1.0),
                              ("Bias", "bias", 0.0))
        for kind, suffix, default in (("L2Factor", "l2_factor", l2),
                                      ("LearnRateFactor", "learn_rate_factor", 1.0))),
    "projector": tuple(
        _option(f"{prop}{kind}", f"{key}_{suffix}", 1.0)
        for prop, key in (("InputProjector", "input_projector"),
                          ("OutputProjector", "output_projector"))
        for kind, suffix in (("L2Factor", "l2_factor"), ("LearnRateFactor", "learn_rate_factor"))),
}

_NORMALIZATION = (_option("Normalization", "normalization", "none"),
                  _option("NormalizationDimension", "normalization_dimension", "auto", "R2019b"))

_RECURRENT = (_option("OutputMode", "output_mode", "sequence"),
              _option("StateActivationFunction", "state_activation", "tanh", "R2019a"),
              _option("GateActivationFunction", "gate_activation", "sigmoid", "R2019a"),
              _option("HasStateInputs", "has_state_inputs", False, "R2020b"),
              _option("HasStateOutputs", "has_state_outputs", False, "R2020b"),
              *_FACTORS["recurrent"])

_ATTENTION = (_option("AttentionMask", "attention_mask", "none"),
              _option("HasPaddingMaskInput", "has_padding_mask_input", False),
              _option("HasScoresOutput", "has_scores_output", False),
              _option("DropoutProbability", "dropout_probability", 0.0))


def padding_sizes(padding, spatial):
    """A manual ``Padding`` (one number, ``[vertical horizontal]`` in 2-D, or every side) as
    MATLAB's ``PaddingSize``: ``[before after]`` in 1-D, ``[top bottom left right]`` in 2-D."""
    sizes = np.ravel(padding).tolist()
    if len(sizes) == 1:
        sizes = sizes * (2 * spatial)
    elif spatial == 2 and len(sizes) == 2:  # [vertical horizontal]
        sizes = [sizes[0], sizes[0], sizes[1], sizes[1]]
    return [int(s) for s in sizes]


def _padding(spatial):
    """``Padding`` ('same', 'causal' or sizes) as the public ``PaddingMode``/``PaddingSize``."""
    def properties(config):
        padding = config["padding"]
        if isinstance(padding, str):
            return {"PaddingMode": padding}
        return {"PaddingMode": "manual", "PaddingSize": padding_sizes(padding, spatial)}
    return properties


def _conv(function, release, spatial, positional, shapes=None):
    return Constructor(function, release, positional, (
        _option("Stride", "stride", 1), _option("DilationFactor", "dilation_factor", 1),
        _option("Padding", "padding", 0), _option("PaddingValue", "padding_value", 0.0),
        *_FACTORS["weighted"]), properties=_padding(spatial),
        shapes={"Bias": _leading_ones(spatial)} if shapes is None else shapes)


def _pool(function, release, spatial, average):
    value = (_option("PaddingValue", "padding_value", 0.0),) if average else ()
    return Constructor(function, release, (("PoolSize", "pool_size"),),
                       (_option("Stride", "stride", 1), _option("Padding", "padding", 0),
                        *value), properties=_padding(spatial))


def _plain(function, release):
    return Constructor(function, release)


_SINGLE_WEIGHT = (_option("WeightL2Factor", "weights_l2_factor", 1.0),
                  _option("WeightLearnRateFactor", "weights_learn_rate_factor", 1.0))

CONSTRUCTORS = {
    L.SequenceInput: Constructor("sequenceInputLayer", "R2017b", (("InputSize", "input_size"),),
                                 (*_NORMALIZATION,
                                  _option("MinLength", "min_length", 1, "R2021b"))),
    L.FeatureInput: Constructor("featureInputLayer", "R2020b", (("InputSize", "input_size"),),
                                _NORMALIZATION),
    L.ImageInput: Constructor("imageInputLayer", "R2016a", (("InputSize", "input_size"),),
                              (*_NORMALIZATION,
                               _option("DataAugmentation", "data_augmentation", "none"))),
    L.LSTM: Constructor("lstmLayer", "R2017a", (("NumHiddenUnits", "units"),), _RECURRENT),
    L.BiLSTM: Constructor("bilstmLayer", "R2017b", (("NumHiddenUnits", "units"),), _RECURRENT),
    L.GRU: Constructor("gruLayer", "R2020a", (("NumHiddenUnits", "units"),), (
        *_RECURRENT, _option("ResetGateMode", "reset_gate_mode", "after-multiplication",
                             "R2020a"))),
    L.LSTMProjected: Constructor(
        "lstmProjectedLayer", "R2022b",
        (("NumHiddenUnits", "units"), ("OutputProjectorSize", "output_projector_size"),
         ("InputProjectorSize", "input_projector_size")), (*_RECURRENT, *_FACTORS["projector"])),
    L.GRUProjected: Constructor(
        "gruProjectedLayer", "R2023b",
        (("NumHiddenUnits", "units"), ("OutputProjectorSize", "output_projector_size"),
         ("InputProjectorSize", "input_projector_size")),
        (*_RECURRENT, _option("ResetGateMode", "reset_gate_mode", "after-multiplication"),
         *_FACTORS["projector"])),
    L.FullyConnected: Constructor("fullyConnectedLayer", "R2016a",
                                  (("OutputSize", "output_size"),), _FACTORS["weighted"]),
    L.Dropout: Constructor("dropoutLayer", "R2016a", (("Probability", "probability"),)),
    L.SpatialDropout: Constructor("spatialDropoutLayer", "R2024a", (),
                                  (_option("Probability", "probability", 0.5),)),
    L.ReLU: _plain("reluLayer", "R2016a"),
    L.Sigmoid: _plain("sigmoidLayer", "R2020b"),
    L.Tanh: _plain("tanhLayer", "R2019a"),
    L.Swish: _plain("swishLayer", "R2021a"),
    L.Softmax: _plain("softmaxLayer", "R2016a"),
    L.GELU: Constructor("geluLayer", "R2022b", (),
                        (_option("Approximation", "approximation", "none"),)),
    L.ELU: Constructor("eluLayer", "R2019a", (("Alpha", "alpha"),)),
    L.LeakyReLU: Constructor("leakyReluLayer", "R2017b", (("Scale", "scale"),)),
    L.ClippedReLU: Constructor("clippedReluLayer", "R2017b", (("Ceiling", "ceiling"),)),
    L.Classification: Constructor("classificationLayer", "R2016a", (), (
        _option("Classes", "classes", None, "R2018b"),
        _option("ClassWeights", "class_weights", None, "R2018b"))),
    L.Regression: Constructor("regressionLayer", "R2017a", (), (
        _option("ResponseNames", "response_names", None, "R2018b"),)),
    L.BatchNormalization: Constructor("batchNormalizationLayer", "R2017b", (),
                                      (_option("Epsilon", "epsilon", 1e-5),),
                                      shapes=dict.fromkeys(_NORMALIZED, _per_channel)),
    L.LayerNormalization: Constructor("layerNormalizationLayer", "R2021a", (),
                                      (_option("Epsilon", "epsilon", 1e-5),
                                       _option("OperationDimension", "operation_dimension",
                                               "auto", "R2023a")),
                                      shapes=dict.fromkeys(_NORMALIZED, _per_channel)),
    L.GroupNormalization: Constructor("groupNormalizationLayer", "R2020b",
                                      (("NumGroups", "num_groups"),),
                                      (_option("Epsilon", "epsilon", 1e-5),),
                                      shapes=dict.fromkeys(_NORMALIZED, _per_channel)),
    L.InstanceNormalization: Constructor("instanceNormalizationLayer", "R2021a", (),
                                         (_option("Epsilon", "epsilon", 1e-5),),
                                         shapes=dict.fromkeys(_NORMALIZED, _per_channel)),
    L.CrossChannelNormalization: Constructor(
        "crossChannelNormalizationLayer", "R2016a", (("WindowChannelSize",
                                                      "window_channel_size"),),
        (_option("Alpha", "alpha", 1e-4), _option("Beta", "beta", 0.75),
         _option("K", "k", 2.0))),
    L.Conv1D: _conv("convolution1dLayer", "R2021b", 1,
                    (("FilterSize", "filter_size"), ("NumFilters", "num_filters"))),
    L.Conv2D: _conv("convolution2dLayer", "R2016a", 2,
                    (("FilterSize", "filter_size"), ("NumFilters", "num_filters"))),
    L.GroupedConv2D: _conv("groupedConvolution2dLayer", "R2019a", 2,
                           (("FilterSize", "filter_size"),
                            ("NumFiltersPerGroup", "num_filters_per_group"),
                            ("NumGroups", "num_groups")), shapes={}),
    L.MaxPooling1D: _pool("maxPooling1dLayer", "R2021b", 1, average=False),
    L.AveragePooling1D: _pool("averagePooling1dLayer", "R2021b", 1, average=True),
    L.MaxPooling2D: _pool("maxPooling2dLayer", "R2016a", 2, average=False),
    L.AveragePooling2D: _pool("averagePooling2dLayer", "R2016a", 2, average=True),
    L.GlobalMaxPooling1D: _plain("globalMaxPooling1dLayer", "R2021b"),
    L.GlobalAveragePooling1D: _plain("globalAveragePooling1dLayer", "R2021b"),
    L.GlobalMaxPooling2D: _plain("globalMaxPooling2dLayer", "R2020a"),
    L.GlobalAveragePooling2D: _plain("globalAveragePooling2dLayer", "R2019b"),
    L.Flatten: _plain("flattenLayer", "R2019a"),
    L.SequenceFolding: _plain("sequenceFoldingLayer", "R2019a"),
    L.SequenceUnfolding: _plain("sequenceUnfoldingLayer", "R2019a"),
    L.Addition: Constructor("additionLayer", "R2017b", (("NumInputs", "num_inputs"),)),
    L.Multiplication: Constructor("multiplicationLayer", "R2020b",
                                  (("NumInputs", "num_inputs"),)),
    L.Concatenation: Constructor("concatenationLayer", "R2019a",
                                 (("Dim", "dim"), ("NumInputs", "num_inputs"))),
    L.DepthConcatenation: Constructor("depthConcatenationLayer", "R2017b",
                                      (("NumInputs", "num_inputs"),)),
    L.SelfAttention: Constructor(
        "selfAttentionLayer", "R2023a", (("NumHeads", "num_heads"),
                                         ("NumKeyChannels", "num_key_channels")),
        (_option("NumValueChannels", "num_value_channels", "auto"),
         _option("OutputSize", "output_size", "auto"), *_ATTENTION,
         _option("WeightL2Factor", "weights_l2_factor", 1.0),
         _option("BiasL2Factor", "bias_l2_factor", 0.0),
         _option("WeightLearnRateFactor", "weights_learn_rate_factor", 1.0),
         _option("BiasLearnRateFactor", "bias_learn_rate_factor", 1.0))),
    L.Attention: Constructor("attentionLayer", "R2024a", (("NumHeads", "num_heads"),),
                             (_option("Scale", "scale", "auto"), *_ATTENTION)),
    L.PositionEmbedding: Constructor(
        "positionEmbeddingLayer", "R2023b", (("OutputSize", "output_size"),
                                             ("MaxPosition", "max_position")),
        (_option("PositionDimension", "position_dimension", "auto"), *_SINGLE_WEIGHT)),
    L.SinusoidalPositionEncoding: Constructor(
        "sinusoidalPositionEncodingLayer", "R2023b", (("OutputSize", "output_size"),),
        (_option("Positions", "positions", "auto"),)),
    L.EmbeddingConcatenation: Constructor("embeddingConcatenationLayer", "R2023b", (),
                                          _SINGLE_WEIGHT),
    L.Indexing1D: Constructor("indexing1dLayer", "R2023b", (("Index", "index"),),
                              (_option("HasPaddingMaskInput", "has_padding_mask_input",
                                       False),)),
    L.WordEmbedding: Constructor("wordEmbeddingLayer", "R2018b",
                                 (("Dimension", "dimension"), ("NumWords", "num_words")),
                                 (_option("OOVMode", "oov_mode", "map-to-last", "R2021b"),)),
}


def constructor(layer):
    """The :class:`Constructor` of `layer`'s class, or a ValueError naming the layer."""
    found = CONSTRUCTORS.get(type(layer))
    if found is None:
        matlab_class = getattr(layer, "MATLAB_CLASS", None)
        kind = (f"its MATLAB class {matlab_class} is not a built-in Deep Learning Toolbox "
                "layer" if matlab_class else "MATLAB has no built-in layer for it")
        raise ValueError(f"export_matlab: layer '{layer.name}' ({type(layer).__name__}) has "
                         f"no built-in MATLAB constructor ({kind}). Replace it with built-in "
                         f"layers, or export to ONNX or TFLite instead. Supported: "
                         f"{', '.join(sorted(c.__name__ for c in CONSTRUCTORS))}.")
    config = layer.get_config()
    for key, only in _NO_MATLAB_OPTION.items():
        if key in config and config[key] != only:
            raise ValueError(f"export_matlab: layer '{layer.name}' has {key}={config[key]!r}; "
                             f"MATLAB's {found.function} has no such option (only {only!r}).")
    return found


def newer(first, second):
    """The later of two release names (``"R2021a"`` < ``"R2021b"`` < ``"R2022a"``)."""
    return max(first, second, key=lambda r: (int(r[1:5]), r[5:]))
