"""MATLAB's 2-D image layers against the independent float64 numpy oracle
(tests/reference/image.py), with seeded random non-symmetric weights: float64 within 1e-10 and
float32 within 1e-5. The options run as a covering design (DESIGN.md, house style 13): every
value of every option at least once, not their full cross product."""

import keras
import numpy as np
import pytest

from matkeras.layers import (
    ELU,
    AveragePooling2D,
    BatchNormalization,
    ClippedReLU,
    Conv2D,
    CrossChannelNormalization,
    FullyConnected,
    GlobalAveragePooling2D,
    GlobalMaxPooling2D,
    GroupedConv2D,
    ImageInput,
    LeakyReLU,
    MaxPooling2D,
)
from tests import tolerances as tol
from tests.reference import image as ref

ATOL = {"float64": tol.FLOAT64_ATOL, "float32": tol.FLOAT32_ATOL}
DTYPES = sorted(ATOL)


def _images(rng, h=9, w=8, c=3, n=2):
    """(H, W, C, N) MATLAB images and the same as Keras's (N, H, W, C)."""
    X = rng.standard_normal((h, w, c, n))
    return X, np.transpose(X, (3, 0, 1, 2))


def _check(layer, keras_x, expected, dtype):
    """`layer` on `keras_x` against the oracle's (H, W, C, N) (or (C, N)) `expected`."""
    got = np.asarray(layer(keras_x.astype(dtype)), np.float64)
    expected = np.transpose(expected, (3, 0, 1, 2)) if expected.ndim == 4 else expected.T
    assert got.shape == expected.shape, (got.shape, expected.shape)
    error = float(np.max(np.abs(got - expected)))
    assert error <= ATOL[dtype], error
    return error


#: Convolution cases: (filter, filters, stride, dilation, padding, padding value).
CONV_CASES = {
    "valid": ((3, 2), 4, (1, 1), (1, 1), 0, 0.0),
    "same-stride2": ((3, 3), 5, (2, 2), (1, 1), "same", 0.0),
    "same-odd-stride3x1": ((2, 4), 3, (3, 1), (1, 1), "same", 0.0),
    "dilated-same": ((3, 2), 2, (1, 1), (2, 3), "same", 0.0),
    "strided-dilated-same": ((3, 3), 2, (2, 2), (2, 1), "same", 0.0),
    "manual-tblr-value": ((3, 3), 4, (1, 2), (1, 1), (1, 2, 0, 3), 1.5),
    "same-nonzero-value": ((3, 3), 2, (2, 1), (1, 1), "same", -2.0),
    "replicate": ((3, 2), 3, (1, 1), (1, 1), (2, 1), "replicate"),
    "symmetric-include-edge": ((3, 3), 2, (1, 1), (1, 1), 2, "symmetric-include-edge"),
    "symmetric-exclude-edge": ((2, 3), 2, (2, 2), (1, 1), (1, 1, 2, 2),
                               "symmetric-exclude-edge"),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", sorted(CONV_CASES))
def test_conv2d_matches_oracle(rng, case, dtype):
    size, filters, stride, dilation, padding, value = CONV_CASES[case]
    X, x = _images(rng)
    W = rng.standard_normal((*size, X.shape[2], filters))
    b = rng.standard_normal(filters)
    layer = Conv2D(size, filters, stride=stride, dilation_factor=dilation, padding=padding,
                   padding_value=value, weights=W, bias=b, dtype=dtype)
    expected = ref.conv2d(X, W, b, stride, dilation, padding, value)
    _check(layer, x, expected, dtype)
    np.testing.assert_array_equal(layer.matlab_weights, W.astype(dtype))


#: Grouped cases: (filter, filters per group, groups, channels, stride, padding).
GROUPED_CASES = {
    "depthwise-channel-wise": ((3, 3), 1, "channel-wise", 4, (2, 2), "same"),
    "depthwise-multiplier-2": ((2, 3), 2, 4, 4, (1, 1), 0),
    "two-groups": ((3, 2), 3, 2, 6, (1, 2), (1, 0, 2, 1)),
    "three-groups-same": ((3, 3), 2, 3, 6, (2, 1), "same"),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", sorted(GROUPED_CASES))
def test_grouped_conv2d_matches_oracle(rng, case, dtype):
    size, per_group, groups, channels, stride, padding = GROUPED_CASES[case]
    X, x = _images(rng, c=channels)
    count = channels if groups == "channel-wise" else groups
    W = rng.standard_normal((*size, channels // count, per_group, count))
    b = rng.standard_normal((1, 1, per_group, count))
    layer = GroupedConv2D(size, per_group, groups, stride=stride, padding=padding, weights=W,
                          bias=b, dtype=dtype)
    expected = ref.grouped_conv2d(X, W, b, stride, (1, 1), padding)
    _check(layer, x, expected, dtype)
    np.testing.assert_allclose(layer.matlab_weights, W, rtol=0, atol=ATOL[dtype])
    np.testing.assert_allclose(layer.matlab_bias, b, rtol=0, atol=ATOL[dtype])


def test_grouped_conv2d_takes_matlabs_4d_weights_of_one_filter_per_group(rng):
    """MATLAB saves (kh, kw, C/G, G) when each group has one filter (the ECG fixture)."""
    X, x = _images(rng, c=4)
    W = rng.standard_normal((3, 3, 1, 1, 4))
    b = rng.standard_normal(4)
    layer = GroupedConv2D(3, 1, 4, weights=W[:, :, :, 0, :], bias=b, dtype="float64")
    _check(layer, x, ref.grouped_conv2d(X, W, b), "float64")


#: Pooling cases: (kind, size, stride, padding, padding value).
POOL_CASES = {
    "max-same-stride2": ("max", (3, 3), (2, 2), "same", 0.0),
    "max-manual": ("max", (2, 3), (1, 2), (1, 0, 2, 1), 0.0),
    "max-13x1": ("max", (13, 1), (1, 1), 0, 0.0),
    "avg-same-zeros-count": ("avg", (3, 2), (2, 2), "same", 0.0),
    "avg-manual-zeros-count": ("avg", (2, 2), (1, 1), (1, 1), 0.0),
    "avg-same-mean": ("avg", (3, 3), (2, 1), "same", "mean"),
    "avg-manual-mean": ("avg", (3, 2), (2, 2), (2, 1, 0, 1), "mean"),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", sorted(POOL_CASES))
def test_pooling2d_matches_oracle(rng, case, dtype):
    kind, size, stride, padding, value = POOL_CASES[case]
    X, x = _images(rng, h=13)
    if kind == "max":
        layer = MaxPooling2D(size, stride=stride, padding=padding, dtype=dtype)
    else:
        layer = AveragePooling2D(size, stride=stride, padding=padding, padding_value=value,
                                 dtype=dtype)
    _check(layer, x, ref.pool2d(X, size, stride, padding, kind, value), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_global_pooling2d_keeps_1x1_and_matches_oracle(rng, dtype):
    X, x = _images(rng)
    _check(GlobalAveragePooling2D(dtype=dtype), x, X.mean(axis=(0, 1), keepdims=True), dtype)
    _check(GlobalMaxPooling2D(dtype=dtype), x, X.max(axis=(0, 1), keepdims=True), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", ["matrix", "4d"])
def test_fully_connected_flattens_images_column_major(rng, layout, dtype):
    """Weights (O, H*W*C) with MATLAB's column-major columns, or the older (H, W, C, O)."""
    X, x = _images(rng, h=4, w=3, c=5)
    W4 = rng.standard_normal((4, 3, 5, 6))
    b = rng.standard_normal(6)
    W = W4 if layout == "4d" else W4.reshape(60, 6, order="F").T
    layer = FullyConnected(6, weights=W, bias=b, dtype=dtype)
    _check(layer, x, ref.fully_connected(X, W, b), dtype)
    np.testing.assert_allclose(layer.matlab_weights, W4.reshape(60, 6, order="F").T,
                               rtol=0, atol=ATOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_batch_normalization_on_images_matches_oracle(rng, dtype):
    X, x = _images(rng)
    stats = {k: rng.uniform(0.5, 2.0, (1, 1, 3)) for k in ("scale", "variance")}
    stats.update({k: rng.standard_normal((1, 1, 3)) for k in ("offset", "mean")})
    layer = BatchNormalization(dtype=dtype)
    layer.set_matlab_weights(offset=stats["offset"], scale=stats["scale"],
                             trained_mean=stats["mean"], trained_variance=stats["variance"])
    expected = ref.batch_norm(X, stats["offset"], stats["scale"], stats["mean"],
                              stats["variance"], 1e-5)
    _check(layer, x, expected, dtype)


ACTIVATIONS = {
    "elu": (lambda: ELU(0.7), lambda X: ref.elu(X, 0.7)),
    "elu-default": (lambda: ELU(), lambda X: ref.elu(X, 1.0)),
    "leaky-relu": (lambda: LeakyReLU(0.2), lambda X: ref.leaky_relu(X, 0.2)),
    "leaky-relu-default": (lambda: LeakyReLU(), lambda X: ref.leaky_relu(X, 0.01)),
    "clipped-relu": (lambda: ClippedReLU(0.6), lambda X: ref.clipped_relu(X, 0.6)),
    "cross-channel-5": (lambda: CrossChannelNormalization(5, alpha=0.3, beta=0.6, k=1.5),
                        lambda X: ref.cross_channel_norm(X, 5, 0.3, 0.6, 1.5)),
    "cross-channel-4-even": (lambda: CrossChannelNormalization(4),
                             lambda X: ref.cross_channel_norm(X, 4)),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", sorted(ACTIVATIONS))
def test_elementwise_and_cross_channel_layers_match_oracle(rng, case, dtype):
    make, oracle = ACTIVATIONS[case]
    X, x = _images(rng, c=7)
    X, x = 3 * X, 3 * x
    layer = make()
    layer = type(layer).from_config({**layer.get_config(), "dtype": dtype})
    _check(layer, x, oracle(X), dtype)


#: Image input normalization: (kind, statistics shape).
INPUT_CASES = {
    "zerocenter-channel": ("zerocenter", (1, 1, 3)),
    "zerocenter-element": ("zerocenter", (9, 8, 3)),
    "zscore-channel": ("zscore", (1, 1, 3)),
    "zscore-all": ("zscore", ()),
    "rescale-symmetric-element": ("rescale-symmetric", (9, 8, 3)),
    "rescale-zero-one-channel": ("rescale-zero-one", (1, 1, 3)),
    "none": ("none", None),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", sorted(INPUT_CASES))
def test_image_input_normalization_matches_oracle(rng, case, dtype):
    kind, shape = INPUT_CASES[case]
    X, x = _images(rng)
    stats = {}
    if shape is not None:
        stats = {"mean": rng.standard_normal(shape), "std": rng.uniform(0.5, 2, shape),
                 "lo": rng.uniform(-3, -2, shape), "hi": rng.uniform(2, 3, shape)}
    names = {"zerocenter": {"mean": "mean"}, "zscore": {"mean": "mean",
                                                        "standard_deviation": "std"},
             "rescale-symmetric": {"min": "lo", "max": "hi"},
             "rescale-zero-one": {"min": "lo", "max": "hi"}, "none": {}}[kind]
    layer = ImageInput((9, 8, 3), normalization=kind, dtype=dtype,
                       **{arg: stats[key] for arg, key in names.items()})
    _check(layer, x, ref.normalize(X, kind, stats.get("mean"), stats.get("std"),
                                   stats.get("lo"), stats.get("hi")), dtype)


def test_image_input_warns_that_augmentation_is_not_applied():
    with pytest.warns(UserWarning, match="acts while training only"):
        ImageInput((4, 4), data_augmentation=["randfliplr"])


@pytest.mark.parametrize("make", [
    lambda: Conv2D((3, 2), 4, stride=(2, 1), padding="same", padding_value="replicate"),
    lambda: GroupedConv2D(3, 2, "channel-wise", padding=(1, 0, 2, 1)),
    lambda: MaxPooling2D((3, 2), stride=2, padding="same"),
    lambda: AveragePooling2D(2, padding=1, padding_value="mean"),
    lambda: CrossChannelNormalization(3, alpha=0.5),
    lambda: ClippedReLU(6),
], ids=["conv2d", "grouped", "maxpool", "avgpool", "crossnorm", "clippedrelu"])
def test_config_round_trip_and_keras_reload(tmp_path, rng, make):
    x = rng.standard_normal((2, 7, 6, 4)).astype("float32")
    inputs = keras.Input((7, 6, 4))
    model = keras.Model(inputs, make()(inputs))
    path = tmp_path / "m.keras"
    model.save(path)
    reloaded = keras.models.load_model(path)
    np.testing.assert_array_equal(np.asarray(reloaded(x)), np.asarray(model(x)))


def test_matlab_constructors_assemble_an_image_network(rng):
    from matkeras import assemble_network
    from matkeras.matlab import (
        averagePooling2dLayer,
        batchNormalizationLayer,
        classificationLayer,
        clippedReluLayer,
        convolution2dLayer,
        crossChannelNormalizationLayer,
        eluLayer,
        fullyConnectedLayer,
        globalAveragePooling2dLayer,
        globalMaxPooling2dLayer,
        groupedConvolution2dLayer,
        imageInputLayer,
        leakyReluLayer,
        maxPooling2dLayer,
        softmaxLayer,
    )

    layers = [imageInputLayer([28, 28, 3]), convolution2dLayer(3, 8, "Padding", "same"),
              batchNormalizationLayer(), leakyReluLayer(0.1),
              groupedConvolution2dLayer(3, 2, "channel-wise", Stride=2),
              eluLayer(), crossChannelNormalizationLayer(3), clippedReluLayer(6),
              maxPooling2dLayer(2, "Stride", 2, "Padding", "same"),
              averagePooling2dLayer(2, PaddingValue="mean"), fullyConnectedLayer(5),
              softmaxLayer(), classificationLayer()]
    model = assemble_network(layers)
    assert model.layers[1].normalization == "zerocenter"  # MATLAB's default
    assert model.get_layer(layers[4].name).groups == 8
    scores = np.asarray(model(rng.standard_normal((2, 28, 28, 3)).astype("float32")))
    assert scores.shape == (2, 5) and np.allclose(scores.sum(axis=1), 1, atol=1e-6)
    for make, cls in ((globalAveragePooling2dLayer, GlobalAveragePooling2D),
                      (globalMaxPooling2dLayer, GlobalMaxPooling2D)):
        assert isinstance(make(Name="g"), cls)
    with pytest.raises(ValueError, match="HasUnpoolingOutputs"):
        maxPooling2dLayer(2, HasUnpoolingOutputs=True)


@pytest.mark.tensorflow
def test_every_image_layer_exports_to_tflite_with_builtin_ops(tmp_path, rng):
    """One network with each 2-D layer (grouped convolution with several channels per group
    included), through TFLite's builtin ops and LiteRT, equal to Keras."""
    from matkeras import export

    inputs = keras.Input((16, 12, 4))
    h = ImageInput((16, 12, 4), normalization="zscore", mean=rng.standard_normal((1, 1, 4)),
                   standard_deviation=rng.uniform(1, 2, (1, 1, 4)))(inputs)
    h = Conv2D(3, 6, padding="same", padding_value=0.5)(h)
    h = GroupedConv2D(3, 2, 3, stride=(2, 1), padding="same")(h)
    h = GroupedConv2D(2, 1, "channel-wise", padding=(0, 1, 1, 0))(h)
    for layer in (ELU(0.5), CrossChannelNormalization(3, alpha=0.5), LeakyReLU(0.1),
                  MaxPooling2D(3, stride=2, padding="same"),
                  AveragePooling2D(2, padding=1, padding_value="mean"), ClippedReLU(2.0)):
        h = layer(h)
    pooled = GlobalMaxPooling2D()(GlobalAveragePooling2D()(h))
    model = keras.Model(inputs, FullyConnected(3)(keras.layers.Concatenate()([
        keras.layers.Reshape((1, 1, -1))(keras.layers.Flatten()(h)), pooled])))
    x = rng.standard_normal((2, 16, 12, 4)).astype("float32")
    path = export.export_tflite(model, tmp_path / "image.tflite", batch_size=2)
    ops = export.tflite_ops(path)
    assert not [op for op in ops if op.startswith("Flex") or op == "CUSTOM"], ops
    got = export.tflite_runner(path)(x)["y"]
    assert float(np.max(np.abs(got - np.asarray(model(x))))) <= tol.FLOAT32_PAIR_ATOL


def test_padding_computed_while_running_gives_the_same_result(rng):
    """MATLAB-style prediction traces images with the height free (matkeras._forward): the
    'same' padding of a non-zero or replicated PaddingValue and of average pooling is then
    computed while running, and must equal the static one."""
    from matkeras import inference

    inputs = keras.Input((11, 7, 2))
    h = ImageInput((11, 7, 2))(inputs)
    h = Conv2D(3, 3, stride=2, padding="same", padding_value=0.5)(h)
    h = Conv2D((2, 3), 2, padding="same", padding_value="replicate")(h)
    h = AveragePooling2D(3, stride=2, padding="same")(h)
    model = keras.Model(inputs, FullyConnected(2)(h))
    x = rng.standard_normal((3, 11, 7, 2)).astype("float32")
    got = inference.predict(model, x, xla=False)
    assert float(np.max(np.abs(got - np.asarray(model(x))))) <= tol.FLOAT32_PAIR_ATOL
