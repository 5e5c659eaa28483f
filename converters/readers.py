"""One reader per saved MATLAB layer class: saved fields -> a matkeras layer.

A reader takes a :class:`~matkeras.converters.matlab_network.SavedLayer` (``fields`` as the
child process flattened them: learnables reduced to their ``Value`` with ``<name>.L2Factor`` and
``<name>.LearnRateFactor`` beside) and returns the layer with its saved values. Values absent
from the file (an untrained layer array) are left to the layer's MATLAB initializers.
"""

import numpy as np

from matkeras import layers as L
from matkeras.converters.matlab_network import scalar, strings, text, value

_P = "nnet.cnn.layer."


def _factor(fields, name, extra, default):
    found = value(fields, f"{name}.{extra}")
    if found is None:
        return default
    found = found.ravel()
    return float(found[0]) if found.size == 1 else found.tolist()


def _factors(fields, pairs):
    """``{argument: factor}`` for ``(argument prefix, MATLAB learnable, default L2)`` triples."""
    options = {}
    for prefix, prop, l2 in pairs:
        options[f"{prefix}_l2_factor"] = _factor(fields, prop, "L2Factor", l2)
        options[f"{prefix}_learn_rate_factor"] = _factor(fields, prop, "LearnRateFactor", 1.0)
    return options


def _flag(fields, name, default=False):
    return bool(scalar(fields, name, float(default)))


# -- recurrent layers ---------------------------------------------------------------------------

_RECURRENT = {cls.MATLAB_CLASS: cls for cls in (L.LSTM, L.BiLSTM, L.GRU, L.LSTMProjected,
                                                 L.GRUProjected)}


def _set_saved(layer, record, states=()):
    """Sets every MATLAB property the layer takes (its own mapping) that the file saved;
    `states` are read as :func:`_starting_state` reads them."""
    given = {prop: (_starting_state(record, prop) if prop in states else
                    value(record.fields, prop)) for prop in layer.matlab_keywords()}
    given = {prop: v for prop, v in given.items() if v is not None}
    if given:
        layer.set_matlab_properties(**given)
    return layer


def _starting_state(record, prop):
    """The state a recurrent layer starts from: a dlnetwork's ``Initial<State>``; for
    SeriesNetwork/DAGNetwork the ``<State>`` property their predict starts from."""
    f = record.fields
    current, initial = value(f, prop), value(f, f"Initial{prop}")
    if record.network_class == "dlnetwork":
        return initial if initial is not None else current
    return current if current is not None else initial


def _recurrent(record):
    f = record.fields
    cls = _RECURRENT[record.matlab_class]
    projected = cls in (L.LSTMProjected, L.GRUProjected)
    pairs = [("input_weights", "InputWeights", 1.0), ("recurrent_weights", "RecurrentWeights",
                                                      1.0), ("bias", "Bias", 0.0)]
    options = {
        "units": int(scalar(f, "NumHiddenUnits")),
        "output_mode": "sequence" if _flag(f, "ReturnSequence", True) else "last",
        "state_activation": text(f, "StateActivationFunction", "tanh"),
        "gate_activation": text(f, "GateActivationFunction", "sigmoid"),
        "has_state_inputs": _flag(f, "HasStateInputs"),
        "has_state_outputs": _flag(f, "HasStateOutputs"),
        "name": record.name,
    }
    if projected:
        options["output_projector_size"] = np.shape(value(f, "OutputProjector"))[1]
        options["input_projector_size"] = np.shape(value(f, "InputProjector"))[1]
        pairs += [("input_projector", "InputProjector", 1.0),
                  ("output_projector", "OutputProjector", 1.0)]
    options.update(_factors(f, pairs))
    if "ResetGateMode" in f:
        options["reset_gate_mode"] = text(f, "ResetGateMode")
    layer = cls(**options)
    if value(f, "InputWeights") is None:  # untrained: MATLAB's initializers
        return layer
    return _set_saved(layer, record, states=[prop for _, prop in layer.state_names])


def remember_saved_state(layer, record):
    """A dlnetwork's saved ``HiddenState``/``CellState``, where it differs from the initial
    state, becomes the state ``predict_and_update_state`` continues from."""
    if record.network_class != "dlnetwork" or record.matlab_class not in _RECURRENT \
            or layer.has_state_inputs:
        return
    current = [value(record.fields, prop) for _, prop in layer.state_names]
    initial = [value(record.fields, f"Initial{prop}") for _, prop in layer.state_names]
    if any(c is None for c in current) or all(
            i is not None and np.array_equal(np.ravel(c), np.ravel(i))
            for c, i in zip(current, initial, strict=True)):
        return
    width = layer.state_width
    layer.stored_state = [np.reshape(c, (width, -1)).T for c in current]


def has_learnable_values(record):
    """True when the saved layer holds values for its learnables (a trained network)."""
    learnables = {k.rsplit(".", 1)[0] for k in record.fields
                  if k.endswith((".L2Factor", ".LearnRateFactor"))}
    learnables |= {k for k in ("Weights", "Offset", "Scale", "TrainedMean", "InputWeights")
                   if k in record.fields}
    return any(record.fields[k].size for k in learnables if k in record.fields)


# -- inputs, dense, normalization, outputs ------------------------------------------------------

def _normalization_options(f):
    kind = text(f, "Normalization.Type", text(f, "Normalization", "none")) or "none"
    # SplitComplexInputs: the input layers refuse true by name (complex data, 2C channels out)
    options = {"split_complex_inputs": _flag(f, "SplitComplexInputs")}
    if kind != "none":
        options["normalization"] = kind
        # Older image input layers keep the zerocenter mean as Normalization.AverageImage.
        for key, names in (("mean", ("AverageImage", "Mean")),
                           ("standard_deviation", ("Std", "StandardDeviation")),
                           ("min", ("Min",)), ("max", ("Max",))):
            for name in names:
                for source in (f"Normalization.{name}", name):
                    if value(f, source) is not None:
                        options[key] = value(f, source)
    dimension = text(f, "NormalizationDimension", "auto")
    if dimension != "auto":
        options["normalization_dimension"] = dimension
    return options


def _sequence_input(record):
    f = record.fields
    size = [int(s) for s in np.ravel(value(f, "InputSize"))]
    options = {"name": record.name, "min_length": int(scalar(f, "MinLength", 1.0)),
               **_normalization_options(f)}
    return L.SequenceInput(size[0] if len(size) == 1 else tuple(size), **options)


def _feature_input(record):
    f = record.fields
    return L.FeatureInput(int(scalar(f, "InputSize")), name=record.name,
                          **_normalization_options(f))


def _image_input(record):
    f = record.fields
    size = [int(s) for s in np.ravel(value(f, "InputSize"))]
    augmentations = strings(f, "DataAugmentation") or ["none"]
    return L.ImageInput(tuple(size), name=record.name, data_augmentation=augmentations,
                        **_normalization_options(f))


def _fully_connected(record):
    f = record.fields
    # OperationDimension (R2026a): a number makes the layer multiply along that one dimension
    # of MATLAB's data (a fully connected layer on each pixel of an image, for one), where
    # matkeras, as MATLAB before R2026a, flattens the spatial dimensions and the channels
    # ('auto', 'spatial-channel': the same where the data has no unknown 'U' dimension).
    dimension = text(f, "OperationDimension") or scalar(f, "OperationDimension", "auto")
    if dimension not in ("auto", "spatial-channel"):
        shown = dimension if isinstance(dimension, str) else f"{dimension:g}"
        raise ValueError(
            f"fully connected layer '{record.name}': OperationDimension = {shown} (multiply "
            "along that one dimension of the data, R2026a) is not supported; matkeras flattens "
            "the spatial dimensions and the channels, as OperationDimension 'auto' and "
            "'spatial-channel' do.")
    # OutputSize is a number, or [1 1 K] in older SeriesNetworks after spatial layers.
    return L.FullyConnected(int(np.ravel(value(f, "OutputSize"))[-1]),
                            weights=value(f, "Weights"),
                            bias=value(f, "Bias"), name=record.name,
                            **_factors(f, [("weights", "Weights", 1.0), ("bias", "Bias", 0.0)]))


def _batch_norm(record):
    f = record.fields
    return _set_saved(L.BatchNormalization(epsilon=float(scalar(f, "Epsilon", 1e-5)),
                                           name=record.name), record)


def _classification(record):
    f = record.fields
    return L.Classification(class_weights=value(f, "ClassWeights"),
                            classes=strings(f, "Categories"), name=record.name)


def _regression(record):
    names = strings(record.fields, "ResponseNames")
    return L.Regression(response_names=names or None, name=record.name)


def _vector(array):
    return None if array is None else np.ravel(array)


def _padding(f, spatial):
    """MATLAB's saved ``PaddingMode``/``PaddingSize`` as matkeras's ``padding``: ``"same"`` or
    ``"causal"`` by name (MATLAB recomputes 'same' sizes from each input), else the saved
    sizes: ``[before after]`` in 1-D, ``[top bottom left right]`` in 2-D."""
    mode = text(f, "PaddingMode", "manual")
    if mode in ("same", "causal"):
        return mode
    sizes = value(f, "PaddingSize")
    return [0] * (2 * spatial) if sizes is None else [int(p) for p in np.ravel(sizes)]


def _padding_value(f):
    return text(f, "PaddingValue") or float(scalar(f, "PaddingValue", 0.0))


def _sizes(f, name, spatial, default=1):
    """A size property (``FilterSize``, ``Stride``, ...): one number in 1-D, a tuple in 2-D
    (a single saved number, or none, repeated as MATLAB's constructors repeat it)."""
    sizes = [int(v) for v in np.ravel(value(f, name, np.full(1, default)))]
    if spatial == 1:
        return sizes[0]
    return tuple(sizes * spatial if len(sizes) == 1 else sizes)


def _conv(cls, spatial):
    def read(record):
        f = record.fields
        return cls(_sizes(f, "FilterSize", spatial), int(scalar(f, "NumFilters")),
                   stride=_sizes(f, "Stride", spatial),
                   dilation_factor=_sizes(f, "DilationFactor", spatial),
                   padding=_padding(f, spatial),
                   padding_value=_padding_value(f), weights=value(f, "Weights"),
                   bias=_vector(value(f, "Bias")), name=record.name,
                   **_factors(f, [("weights", "Weights", 1.0), ("bias", "Bias", 0.0)]))
    return read


def _pooling(cls, average, spatial=1):
    def read(record):
        f = record.fields
        if _flag(f, "HasUnpoolingOutputs"):
            raise ValueError("HasUnpoolingOutputs is true (the 'indices' and 'size' outputs "
                             "of a maxUnpooling2dLayer pair); matkeras has no unpooling layer")
        options = {"stride": _sizes(f, "Stride", spatial), "padding": _padding(f, spatial),
                   "name": record.name}
        if average:
            options["padding_value"] = _padding_value(f)
        return cls(_sizes(f, "PoolSize", spatial), **options)
    return read


def _grouped_conv(record):
    f = record.fields
    groups = text(f, "NumGroups") or int(scalar(f, "NumGroups"))
    return L.GroupedConv2D(
        _sizes(f, "FilterSize", 2), int(scalar(f, "NumFiltersPerGroup")), groups,
        stride=_sizes(f, "Stride", 2), dilation_factor=_sizes(f, "DilationFactor", 2),
        padding=_padding(f, 2), padding_value=_padding_value(f), weights=value(f, "Weights"),
        bias=value(f, "Bias"), name=record.name,
        **_factors(f, [("weights", "Weights", 1.0), ("bias", "Bias", 0.0)]))


def _scalar_layer(cls, prop, default=None):
    def read(record):
        number = scalar(record.fields, prop, default)
        return cls(number, name=record.name)
    return read


def _cross_channel(record):
    f = record.fields
    return L.CrossChannelNormalization(
        int(scalar(f, "WindowChannelSize")), alpha=float(scalar(f, "Alpha", 1e-4)),
        beta=float(scalar(f, "Beta", 0.75)), k=float(scalar(f, "K", 2.0)), name=record.name)


def _layer_norm(record):
    f = record.fields
    # OperationDimension: files from releases before it existed hold none ("auto")
    return _set_saved(L.LayerNormalization(
        epsilon=float(scalar(f, "Epsilon", 1e-5)),
        operation_dimension=text(f, "OperationDimension", "auto"), name=record.name), record)


def _group_norm(record):
    f = record.fields
    groups = text(f, "NumGroups") or int(scalar(f, "NumGroups"))
    return _set_saved(L.GroupNormalization(groups, epsilon=float(scalar(f, "Epsilon", 1e-5)),
                                           name=record.name), record)


def _instance_norm(record):
    return _set_saved(L.InstanceNormalization(
        epsilon=float(scalar(record.fields, "Epsilon", 1e-5)), name=record.name), record)


def _word_embedding(record):
    f = record.fields
    return L.WordEmbedding(int(scalar(f, "Dimension")), int(scalar(f, "NumWords")),
                           oov_mode=text(f, "OOVMode", "map-to-last"),
                           weights=value(f, "Weights"), name=record.name)


def _count(record):
    return int(scalar(record.fields, "NumInputs", 2.0))


def _concatenation(record):
    return L.Concatenation(int(scalar(record.fields, "Dim")), _count(record), name=record.name)


def _gelu(record):
    return L.GELU(approximation=text(record.fields, "Approximation", "none"), name=record.name)


def _auto(f, name):
    """A size MATLAB saves as a number or as 'auto' (its default)."""
    if name not in f:
        return "auto"
    return text(f, name) or int(scalar(f, name))


def _attention_options(record):
    """What attentionLayer and selfAttentionLayer save alike: the mask ('none', 'causal' or a
    logical numKeys x numQueries matrix), the padding-mask input, the scores output, dropout."""
    f = record.fields
    mask = "none" if "AttentionMask" not in f else \
        text(f, "AttentionMask") or (value(f, "AttentionMask") > 0)
    return {"attention_mask": mask,
            "has_padding_mask_input": _flag(f, "HasPaddingMaskInput"),
            "has_scores_output": _flag(f, "HasScoresOutput"),
            "dropout_probability": float(scalar(f, "DropoutProbability", 0.0)),
            "name": record.name}


def _self_attention(record):
    f = record.fields
    layer = L.SelfAttention(
        # the query and key channels are one number (their products need it); some MATLAB
        # documentation pages name it NumQueryChannels
        int(scalar(f, "NumHeads")), int(scalar(f, "NumKeyChannels",
                                               scalar(f, "NumQueryChannels"))),
        num_value_channels=_auto(f, "NumValueChannels"), output_size=_auto(f, "OutputSize"),
        **_attention_options(record),
        **_factors(f, [("weights", "QueryWeights", 1.0), ("bias", "QueryBias", 0.0)]))
    return _set_saved(layer, record)


def _attention(record):
    f = record.fields
    return L.Attention(int(scalar(f, "NumHeads")),
                       scale=text(f, "Scale") or float(scalar(f, "Scale")),
                       **_attention_options(record))


def _single_factors(f):
    """Layers that save ``WeightL2Factor``/``WeightLearnRateFactor`` beside ``Weights``."""
    return {"weights_l2_factor": float(scalar(f, "WeightL2Factor", 1.0)),
            "weights_learn_rate_factor": float(scalar(f, "WeightLearnRateFactor", 1.0))}


def _position_embedding(record):
    f = record.fields
    dimension = text(f, "PositionDimension", "auto")
    return L.PositionEmbedding(int(scalar(f, "OutputSize")), int(scalar(f, "MaxPosition")),
                               position_dimension=dimension, weights=value(f, "Weights"),
                               name=record.name, **_single_factors(f))


def _embedding_concatenation(record):
    f = record.fields
    return L.EmbeddingConcatenation(weights=_vector(value(f, "Weights")), name=record.name,
                                    **_single_factors(f))


def _indexing(record):
    f = record.fields
    index = text(f, "Index") or int(scalar(f, "Index"))
    return L.Indexing1D(index, has_padding_mask_input=_flag(f, "HasPaddingMaskInput"),
                        name=record.name)


def _sinusoidal(record):
    f = record.fields
    return L.SinusoidalPositionEncoding(int(scalar(f, "OutputSize")),
                                        positions=text(f, "Positions", "auto"), name=record.name)


def _named(cls):
    return lambda record: cls(name=record.name)


_ONNX = "nnet.onnx.layer."


def _verify_batch_size(record):
    size = scalar(record.fields, "BatchSize")
    return L.VerifyBatchSize(None if size is None else int(size), name=record.name)


def _elementwise_affine(record):
    f = record.fields
    return L.ElementwiseAffine(scale=value(f, "Scale", 1.0), offset=value(f, "Offset", 0.0),
                               name=record.name)


def _prelu(record):
    alpha = value(record.fields, "Alpha")
    if alpha is None:
        raise ValueError("the PReLU layer saved no 'Alpha' slope")
    return L.PReLU(alpha, name=record.name)


def _clip(record):
    f = record.fields
    return L.Clip(min=float(scalar(f, "Min", -np.inf)), max=float(scalar(f, "Max", np.inf)),
                  name=record.name)


def _identity(record):
    import keras

    return keras.layers.Identity(name=record.name)


READERS = {
    **dict.fromkeys(_RECURRENT, _recurrent),
    _P + "SequenceInputLayer": _sequence_input,
    _P + "FeatureInputLayer": _feature_input,
    _P + "FullyConnectedLayer": _fully_connected,
    _P + "BatchNormalizationLayer": _batch_norm,
    _P + "LayerNormalizationLayer": _layer_norm,
    _P + "GroupNormalizationLayer": _group_norm,
    _P + "InstanceNormalizationLayer": _instance_norm,
    _P + "SpatialDropoutLayer": lambda r: L.SpatialDropout(
        float(scalar(r.fields, "Probability", 0.5)), name=r.name),
    _P + "DropoutLayer": lambda r: L.Dropout(float(scalar(r.fields, "Probability", 0.5)),
                                             name=r.name),
    _P + "SoftmaxLayer": _named(L.Softmax),
    _P + "ReLULayer": _named(L.ReLU),
    _P + "SigmoidLayer": _named(L.Sigmoid),
    _P + "TanhLayer": _named(L.Tanh),
    _P + "SwishLayer": _named(L.Swish),
    _P + "GELULayer": _gelu,
    _P + "ClassificationOutputLayer": _classification,
    _P + "RegressionOutputLayer": _regression,
    _P + "Convolution1DLayer": _conv(L.Conv1D, 1),
    _P + "Convolution2DLayer": _conv(L.Conv2D, 2),
    _P + "ImageInputLayer": _image_input,
    _P + "GroupedConvolution2DLayer": _grouped_conv,
    _P + "MaxPooling2DLayer": _pooling(L.MaxPooling2D, average=False, spatial=2),
    _P + "AveragePooling2DLayer": _pooling(L.AveragePooling2D, average=True, spatial=2),
    _P + "GlobalAveragePooling2DLayer": _named(L.GlobalAveragePooling2D),
    _P + "GlobalMaxPooling2DLayer": _named(L.GlobalMaxPooling2D),
    _P + "ELULayer": _scalar_layer(L.ELU, "Alpha", 1.0),
    _P + "LeakyReLULayer": _scalar_layer(L.LeakyReLU, "Scale", 0.01),
    _P + "ClippedReLULayer": _scalar_layer(L.ClippedReLU, "Ceiling"),
    _P + "CrossChannelNormalizationLayer": _cross_channel,
    _P + "MaxPooling1DLayer": _pooling(L.MaxPooling1D, average=False),
    _P + "AveragePooling1DLayer": _pooling(L.AveragePooling1D, average=True),
    _P + "GlobalAveragePooling1DLayer": _named(L.GlobalAveragePooling1D),
    _P + "GlobalMaxPooling1DLayer": _named(L.GlobalMaxPooling1D),
    _P + "FlattenLayer": _named(L.Flatten),
    _P + "SequenceFoldingLayer": _named(L.SequenceFolding),
    _P + "SequenceUnfoldingLayer": _named(L.SequenceUnfolding),
    _P + "WordEmbeddingLayer": _word_embedding,
    _P + "AdditionLayer": lambda r: L.Addition(_count(r), name=r.name),
    _P + "MultiplicationLayer": lambda r: L.Multiplication(_count(r), name=r.name),
    _P + "ConcatenationLayer": _concatenation,
    _P + "DepthConcatenationLayer": lambda r: L.DepthConcatenation(_count(r), name=r.name),
    _P + "SelfAttentionLayer": _self_attention,
    _P + "AttentionLayer": _attention,
    _P + "PositionEmbeddingLayer": _position_embedding,
    _P + "SinusoidalPositionEncodingLayer": _sinusoidal,
    _P + "EmbeddingConcatenationLayer": _embedding_concatenation,
    _P + "Indexing1DLayer": _indexing,
    _ONNX + "VerifyBatchSizeLayer": _verify_batch_size,
    _ONNX + "FlattenInto2dLayer": _named(L.FlattenInto2D),
    _ONNX + "FlattenLayer": _named(L.OnnxFlatten),
    _ONNX + "ElementwiseAffineLayer": _elementwise_affine,
    _ONNX + "PreluLayer": _prelu,
    _ONNX + "ClipLayer": _clip,
}

#: ``nnet.onnx.layer`` classes that are a layer matkeras has under another MATLAB class.
ALIASES = {_ONNX + "IdentityLayer": _identity, _ONNX + "SigmoidLayer": _named(L.Sigmoid),
           _ONNX + "TanhLayer": _named(L.Tanh),
           _ONNX + "GlobalAveragePooling2dLayer": _named(L.GlobalAveragePooling2D)}
READERS.update(ALIASES)

#: MATLAB's default layer names (what it names an unnamed layer when it assembles a network).
_DEFAULT_NAMES = {
    "SequenceInputLayer": "sequenceinput", "FeatureInputLayer": "input", "LSTMLayer": "lstm",
    "BiLSTMLayer": "bilstm", "GRULayer": "gru", "LSTMProjectedLayer": "lstmprojected",
    "GRUProjectedLayer": "gruprojected", "FullyConnectedLayer": "fc", "ReLULayer": "relu",
    "DropoutLayer": "dropout", "SoftmaxLayer": "softmax", "BatchNormalizationLayer": "batchnorm",
    "LayerNormalizationLayer": "layernorm", "ClassificationOutputLayer": "classoutput",
    "RegressionOutputLayer": "regressionoutput", "Convolution1DLayer": "conv1d",
    "Convolution2DLayer": "conv", "GlobalAveragePooling1DLayer": "gapool1d",
    "GlobalMaxPooling1DLayer": "gmpool1d", "MaxPooling1DLayer": "maxpool1d",
    "AveragePooling1DLayer": "avgpool1d", "FlattenLayer": "flatten",
    "SequenceFoldingLayer": "seqfold", "SequenceUnfoldingLayer": "sequnfold",
    "TanhLayer": "tanh", "SigmoidLayer": "sigmoid", "AdditionLayer": "addition",
    "ConcatenationLayer": "concat", "MultiplicationLayer": "multiplication",
    "SelfAttentionLayer": "selfattention", "WordEmbeddingLayer": "word-embedding",
    "ImageInputLayer": "imageinput", "GroupedConvolution2DLayer": "groupedconv",
    "MaxPooling2DLayer": "maxpool", "AveragePooling2DLayer": "avgpool",
    "GlobalAveragePooling2DLayer": "gapool", "GlobalMaxPooling2DLayer": "gmpool",
    "ELULayer": "elu", "LeakyReLULayer": "leakyrelu", "ClippedReLULayer": "clippedrelu",
    "CrossChannelNormalizationLayer": "crossnorm",
}


def default_name(matlab_class):
    """MATLAB's name for an unnamed layer of this class (``"layer"`` where not known)."""
    return _DEFAULT_NAMES.get(matlab_class.rsplit(".", 1)[-1], "layer")
