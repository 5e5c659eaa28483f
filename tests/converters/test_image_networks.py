"""The real MATLAB image CNNs in ../shared/fixtures/matlab/nets load with one call and equal an
independent float64 numpy pass of their saved weights (tests/reference/image.py) on real-size
inputs: the speech-command dlnetwork (trainnet, 2024: 'same' convolutions and max pooling with
MATLAB's asymmetric padding, a 13 x 1 pool, a fully connected layer over a 1 x 4 x 48 input) and
the ECG SeriesNetwork (a depthwise grouped convolution on 512 x 512 x 7, class weights).

The layer kinds are written here from the fixtures' README; the weights are read straight from
the files with mat-io (not through the converter).
"""

import numpy as np
import pytest

from matkeras.converters import load_matlab_network
from matkeras.layers import Classification, GroupedConv2D, ImageInput
from tests import tolerances as tol
from tests.conftest import fixture_path
from tests.fixtures.matlab_files import saved_graph, text, value
from tests.precision import float64  # noqa: F401  (fixture)
from tests.reference.image import forward

SPEECH = "dlnetwork_speechcmd_cnn_trainnet2024.mat"
ECG = "series_ecg_polar_groupedconv2d_classweights.mat"

_BLOCK = ["conv2d", "batchnorm", "relu"]
KINDS = {
    SPEECH: (["input", *_BLOCK, "maxpool2d", *_BLOCK, "maxpool2d", *_BLOCK, "maxpool2d",
              *_BLOCK, *_BLOCK, "maxpool2d", "dropout", "fc", "softmax"], ("trainedNet",)),
    ECG: (["input", *_BLOCK, "grouped_conv2d", "batchnorm", "relu", *_BLOCK, "maxpool2d",
           "fc", "softmax", "classification"], ("network",)),
}


def _v(fields, name):
    return value(fields, name)


def _s(fields, name):
    return text(fields, name)


def _pairs(fields, name):
    return tuple(int(v) for v in np.ravel(_v(fields, name)))


def _params(kind, f):
    if kind == "input":
        normalization = f["Normalization"][0, 0]  # MATLAB's saved normalization object
        return {"normalization": str(np.ravel(normalization["Type"])[0]),
                "mean": np.asarray(normalization["AverageImage"], np.float64)}
    if kind in ("conv2d", "grouped_conv2d"):
        padding = "same" if _s(f, "PaddingMode") == "same" else _pairs(f, "PaddingSize")
        weights = _v(f, "Weights")
        if kind == "grouped_conv2d":  # (kh, kw, C/G, F/G, G); one filter per group saves 4-D
            per_group, groups = (int(_v(f, k).ravel()[0]) for k in ("NumFiltersPerGroup",
                                                                    "NumGroups"))
            weights = weights.reshape((*weights.shape[:3], per_group, groups), order="F")
        return {"W": weights, "b": _v(f, "Bias"), "stride": _pairs(f, "Stride"),
                "dilation": _pairs(f, "DilationFactor"), "padding": padding}
    if kind == "maxpool2d":
        padding = "same" if _s(f, "PaddingMode") == "same" else _pairs(f, "PaddingSize")
        return {"size": _pairs(f, "PoolSize"), "stride": _pairs(f, "Stride"),
                "padding": padding}
    if kind == "batchnorm":
        return {"offset": _v(f, "Offset"), "scale": _v(f, "Scale"),
                "mean": _v(f, "TrainedMean"), "variance": _v(f, "TrainedVariance"),
                "epsilon": float(_v(f, "Epsilon").ravel()[0])}
    if kind == "fc":
        return {"W": _v(f, "Weights"), "b": _v(f, "Bias")}
    return {}


def _reference(file):
    kinds, path = KINDS[file]
    fields, _, _ = saved_graph(file, *path)
    assert len(fields) == len(kinds), [_s(f, "Name") for f in fields]
    return [(kind, _params(kind, f)) for f, kind in zip(fields, kinds, strict=True)]


@pytest.fixture(scope="module")
def networks():
    return {file: load_matlab_network(fixture_path("matlab", "nets", file)) for file in KINDS}


def _outputs(model, images):
    """(fully connected layer's output, scores) of `model` on (H, W, C, N) images."""
    import keras

    logits = keras.Model(model.inputs, model.get_layer("fc").output)
    x = np.transpose(images, (3, 0, 1, 2)).astype(model.inputs[0].dtype)
    return [np.asarray(m(x), np.float64) for m in (logits, model)]


def _compare(file, model, images, atol):
    layers = _reference(file)
    cut = [kind for kind, _ in layers].index("fc") + 1
    expected = [forward(part, images.astype(np.float64)).T for part in (layers[:cut], layers)]
    errors = []
    for name, got, want in zip(("fc", "scores"), _outputs(model, images), expected, strict=True):
        error = float(np.max(np.abs(got - want)))
        print(f"{file} {model.inputs[0].dtype} {name}: max |keras - numpy| {error:.2e} over "
              f"{got.shape}, values up to {np.max(np.abs(want)):.2f}")
        assert got.shape == want.shape
        errors.append(error)
    return errors


@pytest.mark.parametrize("file", sorted(KINDS))
def test_image_network_equals_numpy_pass_on_real_size_images(networks, file, rng):
    """float32 as loaded: the scores (the network's output) within 1e-5 of the float64 numpy
    pass. (On random normal images the ECG network's logits reach 17, where float32 rounding
    over its 32768-input fully connected layer is about 1e-5; the float64 test below checks
    every logit exactly.)"""
    model = networks[file]
    images = rng.standard_normal((*model.inputs[0].shape[1:], 2)).astype("float32")  # HWCN
    _, scores = _compare(file, model, images, tol.FLOAT32_ATOL)
    assert scores <= tol.FLOAT32_ATOL


@pytest.mark.parametrize("file", sorted(KINDS))
@pytest.mark.usefixtures("float64")
def test_image_network_in_float64_equals_numpy_pass(file, rng):
    model = load_matlab_network(fixture_path("matlab", "nets", file))
    images = rng.standard_normal((*model.inputs[0].shape[1:], 2))
    logits, scores = _compare(file, model, images, tol.FLOAT64_ATOL)
    assert logits <= tol.FLOAT64_ATOL and scores <= tol.FLOAT64_ATOL


def test_the_networks_layers_are_matlabs(networks):
    speech, ecg = networks[SPEECH], networks[ECG]
    image_input = speech.layers[1]
    assert isinstance(image_input, ImageInput) and image_input.input_size == (98, 32, 1)
    assert image_input.normalization == "zerocenter"
    assert speech.compiled is False and ecg.compiled  # a dlnetwork has no output layer
    grouped = ecg.get_layer("grouped_conv")
    assert isinstance(grouped, GroupedConv2D) and grouped.groups == 32
    assert grouped.matlab_weights.shape == (3, 3, 1, 1, 32)
    output = ecg.layers[-1]
    assert isinstance(output, Classification) and list(output.classes) == ["1", "2", "3"]
    np.testing.assert_allclose(output.class_weights, [0.69767442, 1.09756098, 1.0], rtol=1e-7)


def test_inspect_shows_the_image_networks_layers():
    from matkeras.converters import inspect_mat

    text = str(inspect_mat(fixture_path("matlab", "nets", ECG)))
    assert text.startswith("SeriesNetwork 'network' with 14 layers")
    assert "ImageInputLayer              Normalization=zerocenter, InputSize=[512, 512, 7]" in text
    assert "GroupedConvolution2DLayer    FilterSize=[3, 3], NumGroups=32" in text
    assert "learnables: Weights 32x32x32x3, Bias 1x1x3" in text
    speech = str(inspect_mat(fixture_path("matlab", "nets", SPEECH)))
    assert "MaxPooling2DLayer            PoolSize=[13, 1]" in speech
