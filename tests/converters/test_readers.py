"""Each saved-layer reader builds the layer MATLAB's constructor would, from the fields MATLAB
saves: the reader's layer and ``matkeras.matlab``'s constructor given the same MATLAB values
compute the same outputs. For classes no fixture holds, the saved field names are those of
MathWorks' own exporters and upgrade code (``PaddingMode``/``PaddingSize``, ...), not checked
on a saved file."""

import keras
import numpy as np
import pytest

from matkeras import matlab as M
from matkeras.converters.matlab_network import SavedLayer
from matkeras.converters.readers import READERS

P = "nnet.cnn.layer."


def _a(*values):
    return np.array([values], dtype=np.float64)


def _s(text):
    return np.array([text])


def _record(cls, fields, network_class="SeriesNetwork"):
    record = SavedLayer(2, "layer", P + cls, fields)
    record.network_class = network_class
    return record


def _cases(rng):
    W2 = rng.standard_normal((3, 2, 4, 5))
    b2 = rng.standard_normal((1, 1, 5))
    W1 = rng.standard_normal((3, 4, 6))
    embed = rng.standard_normal((3, 8))
    norm = {"offset": rng.standard_normal((4, 1)), "scale": rng.standard_normal((4, 1))}
    proj = {"W": rng.standard_normal((12, 2)), "R": rng.standard_normal((12, 2)),
            "b": rng.standard_normal((12, 1)), "Qi": rng.standard_normal((4, 2)),
            "Qo": rng.standard_normal((3, 2))}
    attention = {k: rng.standard_normal(s) for k, s in (
        ("QueryWeights", (8, 4)), ("KeyWeights", (8, 4)), ("ValueWeights", (6, 4)),
        ("OutputWeights", (5, 6)), ("QueryBias", (8, 1)), ("KeyBias", (8, 1)),
        ("ValueBias", (6, 1)), ("OutputBias", (5, 1)))}
    return {
        "conv2d-same": (
            "Convolution2DLayer",
            {"FilterSize": _a(3, 2), "NumFilters": _a(5), "Stride": _a(2, 1),
             "DilationFactor": _a(1, 1), "PaddingMode": _s("same"), "PaddingSize": _a(1, 1, 0, 1),
             "PaddingValue": _a(0), "Weights": W2, "Bias": b2},
            M.convolution2dLayer([3, 2], 5, Stride=[2, 1], Padding="same", Weights=W2, Bias=b2),
            (2, 7, 6, 4)),
        "conv2d-manual": (
            "Convolution2DLayer",
            {"FilterSize": _a(3, 2), "NumFilters": _a(5), "Stride": _a(1, 1),
             "DilationFactor": _a(2, 1), "PaddingMode": _s("manual"),
             "PaddingSize": _a(1, 2, 0, 1), "PaddingValue": _a(0.5), "Weights": W2, "Bias": b2},
            M.convolution2dLayer([3, 2], 5, DilationFactor=[2, 1], Padding=[1, 2, 0, 1],
                                 PaddingValue=0.5, Weights=W2, Bias=b2),
            (2, 7, 6, 4)),
        "conv1d-manual": (
            "Convolution1DLayer",
            {"FilterSize": _a(3), "NumFilters": _a(6), "Stride": _a(2), "DilationFactor": _a(1),
             "PaddingMode": _s("manual"), "PaddingSize": _a(2, 1), "PaddingValue": _a(0),
             "Weights": W1, "Bias": rng.standard_normal((1, 6))},
            None, (2, 9, 4)),
        "maxpool1d": (
            "MaxPooling1DLayer",
            {"PoolSize": _a(3), "Stride": _a(2), "PaddingMode": _s("manual"),
             "PaddingSize": _a(1, 1)},
            M.maxPooling1dLayer(3, Stride=2, Padding=[1, 1]), (2, 9, 4)),
        "avgpool1d-same-mean": (
            "AveragePooling1DLayer",
            {"PoolSize": _a(2), "Stride": _a(1), "PaddingMode": _s("same"),
             "PaddingSize": _a(0, 1), "PaddingValue": _s("mean")},
            M.averagePooling1dLayer(2, Padding="same", PaddingValue="mean"), (2, 9, 4)),
        "layernorm": (
            "LayerNormalizationLayer",
            {"Epsilon": _a(1e-4), "Offset": rng.standard_normal((4, 1)),
             "Scale": rng.standard_normal((4, 1))}, None, (2, 9, 4)),
        "layernorm-batch-excluded": (  # the time steps and the channels of each sequence
            "LayerNormalizationLayer",
            {"Epsilon": _a(1e-4), "OperationDimension": _s("batch-excluded"),
             "Offset": rng.standard_normal((4, 1)), "Scale": rng.standard_normal((4, 1))},
            None, (2, 9, 4)),
        "layernorm-image": (  # no OperationDimension ('auto'): a 2-D image's H, W and C
            "LayerNormalizationLayer",
            {"Epsilon": _a(1e-4), "Offset": rng.standard_normal((1, 1, 4)),
             "Scale": rng.standard_normal((1, 1, 4))}, None, (2, 5, 3, 4)),
        "word-embedding": (
            "WordEmbeddingLayer",
            {"Dimension": _a(3), "NumWords": _a(7), "Weights": embed,
             "OOVMode": _s("map-to-last")},
            M.wordEmbeddingLayer(3, 7, Weights=embed), None),
        "lstm-projected": (
            "LSTMProjectedLayer",
            {"NumHiddenUnits": _a(3), "ReturnSequence": _a(1), "InputWeights": proj["W"],
             "RecurrentWeights": proj["R"], "Bias": proj["b"], "InputProjector": proj["Qi"],
             "OutputProjector": proj["Qo"], "HiddenState": np.zeros((3, 1)),
             "CellState": np.zeros((3, 1))},
            M.lstmProjectedLayer(3, 2, 2, InputWeights=proj["W"], RecurrentWeights=proj["R"],
                                 Bias=proj["b"], InputProjector=proj["Qi"],
                                 OutputProjector=proj["Qo"]),
            (2, 9, 4)),
        "self-attention": (
            "SelfAttentionLayer",
            {"NumHeads": _a(2), "NumKeyChannels": _a(8), "NumValueChannels": _a(6),
             "OutputSize": _a(5), "AttentionMask": _s("causal"), "DropoutProbability": _a(0),
             "HasPaddingMaskInput": _a(0), "HasScoresOutput": _a(0), **attention},
            M.selfAttentionLayer(2, 8, NumValueChannels=6, OutputSize=5, AttentionMask="causal",
                                 **attention),
            (2, 9, 4)),
        "self-attention-query-channels": (  # the name some documentation pages give
            "SelfAttentionLayer",
            {"NumHeads": _a(2), "NumQueryChannels": _a(8), "NumValueChannels": _a(6),
             "OutputSize": _a(5), "AttentionMask": _s("none"), "DropoutProbability": _a(0),
             "HasPaddingMaskInput": _a(0), "HasScoresOutput": _a(0), **attention},
            M.selfAttentionLayer(2, 8, NumValueChannels=6, OutputSize=5, **attention),
            (2, 9, 4)),
        "groupnorm": (
            "GroupNormalizationLayer",
            {"NumGroups": _a(2), "Epsilon": _a(1e-4), "Offset": norm["offset"],
             "Scale": norm["scale"]},
            M.groupNormalizationLayer(2, Epsilon=1e-4, Offset=norm["offset"],
                                      Scale=norm["scale"]), (2, 9, 4)),
        "groupnorm-channel-wise-image": (
            "GroupNormalizationLayer",
            {"NumGroups": _s("channel-wise"), "Offset": norm["offset"].reshape(1, 1, 4),
             "Scale": norm["scale"].reshape(1, 1, 4)},
            M.instanceNormalizationLayer(Offset=norm["offset"], Scale=norm["scale"]),
            (2, 5, 3, 4)),
        "instancenorm": (
            "InstanceNormalizationLayer",
            {"Epsilon": _a(1e-3), "Offset": norm["offset"], "Scale": norm["scale"]},
            M.groupNormalizationLayer("channel-wise", Epsilon=1e-3, Offset=norm["offset"],
                                      Scale=norm["scale"]), (2, 9, 4)),
        "spatial-dropout": (
            "SpatialDropoutLayer", {"Probability": _a(0.3)},
            M.spatialDropoutLayer(Probability=0.3), (2, 9, 4)),
        "sinusoidal": ("SinusoidalPositionEncodingLayer",
                       {"OutputSize": _a(4), "Positions": _s("auto")},
                       M.sinusoidalPositionEncodingLayer(4), (2, 9, 4)),
        "indexing-last": ("Indexing1DLayer", {"Index": _s("last"), "HasPaddingMaskInput": _a(0)},
                          M.indexing1dLayer("last"), (2, 9, 4)),
        "gelu-tanh": ("GELULayer", {"Approximation": _s("tanh")},
                      M.geluLayer(Approximation="tanh"), (2, 9, 4)),
        "swish": ("SwishLayer", {}, M.swishLayer(), (2, 9, 4)),
        "sigmoid": ("SigmoidLayer", {}, M.sigmoidLayer(), (2, 9, 4)),
        "flatten": ("FlattenLayer", {}, M.flattenLayer(), (2, 3, 2, 4)),
    }


CASES = sorted(_cases(np.random.default_rng(0)))


@pytest.mark.parametrize("case", CASES)
def test_reader_builds_what_the_constructor_builds(case, rng):
    cls, fields, expected, shape = _cases(rng)[case]
    layer = READERS[P + cls](_record(cls, fields))
    if shape is None:  # word embedding: 1-based word indices
        x = rng.integers(1, 9, size=(2, 5)).astype("float32")
    else:
        x = rng.standard_normal(shape).astype("float32")
    got = keras.ops.convert_to_numpy(layer(x))
    if expected is None:
        return _check_by_hand(case, fields, layer, x, got)
    np.testing.assert_array_equal(got, keras.ops.convert_to_numpy(expected(x)))


def _check_by_hand(case, fields, layer, x, got):
    """Layers whose MATLAB constructor takes their trained values in another form."""
    if case.startswith("layernorm"):
        axes = {"layernorm": -1, "layernorm-batch-excluded": (1, 2),
                "layernorm-image": (1, 2, 3)}[case]
        mean = x.mean(axis=axes, keepdims=True)
        var = x.var(axis=axes, keepdims=True)
        want = (np.ravel(fields["Scale"]) * (x - mean) / np.sqrt(var + 1e-4)
                + np.ravel(fields["Offset"]))
        assert layer.epsilon == 1e-4
        np.testing.assert_allclose(got, want, atol=1e-5)
    elif case == "conv1d-manual":
        expected = M.convolution1dLayer(3, 6, Stride=2, Padding=[2, 1], Weights=fields["Weights"],
                                        Bias=np.ravel(fields["Bias"]))
        np.testing.assert_array_equal(got, keras.ops.convert_to_numpy(expected(x)))
    else:
        raise AssertionError(case)


def test_fully_connected_operation_dimension_is_read(rng):
    """R2026a's OperationDimension: 'auto' and 'spatial-channel' are the flattening matkeras
    does (the same layer, the same numbers); a dimension number is refused by name."""
    fields = {"OutputSize": _a(3), "Weights": rng.standard_normal((3, 4)),
              "Bias": rng.standard_normal((3, 1))}
    x = rng.standard_normal((2, 5, 4)).astype("float32")
    plain = READERS[P + "FullyConnectedLayer"](_record("FullyConnectedLayer", fields))
    for dimension in (_s("auto"), _s("spatial-channel")):
        layer = READERS[P + "FullyConnectedLayer"](_record(
            "FullyConnectedLayer", {**fields, "OperationDimension": dimension}))
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer(x)),
                                      keras.ops.convert_to_numpy(plain(x)))
    with pytest.raises(ValueError, match=r"fully connected layer 'layer': OperationDimension = "
                                         r"3 \(multiply along that one dimension"):
        READERS[P + "FullyConnectedLayer"](_record(
            "FullyConnectedLayer", {**fields, "OperationDimension": _a(3)}))


@pytest.mark.parametrize("cls, size", [("SequenceInputLayer", _a(4)),
                                       ("FeatureInputLayer", _a(4)),
                                       ("ImageInputLayer", _a(5, 3, 4))])
def test_split_complex_inputs_is_read_and_refused_by_name(cls, size):
    fields = {"InputSize": size, "Normalization": _s("none")}
    READERS[P + cls](_record(cls, {**fields, "SplitComplexInputs": _a(0)}))
    with pytest.raises(ValueError, match="SplitComplexInputs = true"):
        READERS[P + cls](_record(cls, {**fields, "SplitComplexInputs": _a(1)}))


@pytest.mark.parametrize("dim, axis", [(3, 3), (1, 1), (2, 2)], ids=["C", "H", "W"])
def test_concatenation_in_an_image_network_reads_dim_in_sscb(tmp_path, rng, dim, axis):
    """concatenationLayer(dim, 2) after a 2-D image input: Dim counts H, W, C (MATLAB's SSCB),
    which the file does not save; the loaded network says so and keeps it when saved."""
    from matkeras.converters.builder import build_network
    from matkeras.converters.matlab_network import SavedNetwork

    records = [SavedLayer(1, "in", P + "ImageInputLayer",
                          {"InputSize": _a(4, 5, 3), "Normalization": _s("none")}),
               SavedLayer(2, "a", P + "ReLULayer", {}), SavedLayer(3, "b", P + "TanhLayer", {}),
               SavedLayer(4, "cat", P + "ConcatenationLayer", {"Dim": _a(dim),
                                                              "NumInputs": _a(2)})]
    saved = SavedNetwork("net.mat", "DAGNetwork", "net", records,
                         [("in", "a"), ("in", "b"), ("a", "cat/in1"), ("b", "cat/in2")],
                         output_names=["cat"])
    model = build_network(saved, compile=False)
    x = rng.standard_normal((2, 4, 5, 3)).astype("float32")
    expected = np.concatenate([np.maximum(x, 0), np.tanh(x)], axis=axis)
    np.testing.assert_allclose(np.asarray(model(x)), expected, atol=1e-6)
    model.save(tmp_path / "net.keras")
    reloaded = keras.models.load_model(tmp_path / "net.keras")
    np.testing.assert_array_equal(np.asarray(reloaded(x)), np.asarray(model(x)))
    import onnxruntime

    from matkeras.export import export_onnx

    session = onnxruntime.InferenceSession(export_onnx(model, tmp_path / "net.onnx"),
                                           providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: x})[0]
    np.testing.assert_allclose(got, expected, atol=1e-6)


def test_every_matkeras_layer_class_has_a_reader():
    import matkeras.layers as L

    simple = ("ReLULayer", "SoftmaxLayer", "TanhLayer")
    readable = {type(READERS[c](_record(c.rsplit(".", 1)[-1], {}))).__name__
                for c in READERS if c.rsplit(".", 1)[-1] in simple}
    assert readable == {"ReLU", "Softmax", "Tanh"}
    classes = [getattr(L, name) for name in L.__all__ if isinstance(getattr(L, name), type)
               and issubclass(getattr(L, name), keras.layers.Layer)]
    mapped = {cls.MATLAB_CLASS: cls for cls in classes if getattr(cls, "MATLAB_CLASS", None)}
    unmapped = {cls.__name__ for cls in classes if not getattr(cls, "MATLAB_CLASS", None)}
    # the base class, and ONNX's run-time shape arithmetic (load_onnx_network), which no MATLAB
    # layer is; every other layer names its MATLAB class
    assert unmapped == {"RecurrentLayer", "OnnxShaped"}
    from matkeras.converters.readers import ALIASES

    assert set(mapped) | set(ALIASES) == set(READERS), sorted(set(mapped) ^ set(READERS))
    for matlab_class, cls in mapped.items():  # each reader builds the class that names it
        if matlab_class.rsplit(".", 1)[-1] in simple:
            assert type(READERS[matlab_class](_record(matlab_class.rsplit(".", 1)[-1], {}))) \
                is cls
