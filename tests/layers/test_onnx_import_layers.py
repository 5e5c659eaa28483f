"""The layers MATLAB's ONNX importer writes (``nnet.onnx.layer.*``) against the numpy oracle
(tests/reference/image.py), read from saved fields as the converter reads them, and in a
network. No MATLAB-saved file holding them is in ../shared: the records carry the fields
MathWorks' sources name for each class (spec/matlab-2d-layers.md, section 11)."""

import keras
import numpy as np
import pytest

from matkeras import assemble_network
from matkeras.converters.matlab_network import SavedLayer
from matkeras.converters.readers import READERS
from matkeras.layers import (
    Clip,
    ElementwiseAffine,
    FlattenInto2D,
    FullyConnected,
    GlobalAveragePooling2D,
    ImageInput,
    OnnxFlatten,
    OnnxShaped,
    PReLU,
    Sigmoid,
    Tanh,
    VerifyBatchSize,
)
from tests import tolerances as tol
from tests.fresh_reload import reload_case
from tests.reference import image as ref

ONNX = "nnet.onnx.layer."
ATOL = {"float64": tol.FLOAT64_ATOL, "float32": tol.FLOAT32_ATOL}


def _read(matlab_class, fields=None):
    record = SavedLayer(2, "onnx_layer", ONNX + matlab_class, fields or {})
    record.network_class = "DAGNetwork"
    return READERS[ONNX + matlab_class](record)


def _images(rng, h=4, w=3, c=5, n=2):
    X = rng.standard_normal((h, w, c, n))
    return X, np.transpose(X, (3, 0, 1, 2))


def _max_diff(got, expected):
    return float(np.max(np.abs(np.asarray(got, np.float64) - expected)))


@pytest.mark.parametrize("dtype", sorted(ATOL))
def test_flatten_layers_use_onnx_row_major_order(rng, dtype):
    X, x = _images(rng)
    flat = _read("FlattenInto2dLayer")
    assert isinstance(flat, FlattenInto2D)
    flat = FlattenInto2D.from_config({**flat.get_config(), "dtype": dtype})
    assert _max_diff(flat(x.astype(dtype)), ref.onnx_flatten(X).T) <= ATOL[dtype]
    kept = _read("FlattenLayer")
    assert isinstance(kept, OnnxFlatten)
    kept = OnnxFlatten.from_config({**kept.get_config(), "dtype": dtype})
    got = np.asarray(kept(x.astype(dtype)))
    assert got.shape == (2, 1, 1, 60)
    assert _max_diff(got[:, 0, 0], ref.onnx_flatten(X).T) <= ATOL[dtype]
    # not MATLAB's own (column-major) flatten order
    assert _max_diff(got[:, 0, 0], X.reshape(60, 2, order="F").T) > 0.1


@pytest.mark.parametrize("dtype", sorted(ATOL))
@pytest.mark.parametrize("shape", [(1, 1, 5), (4, 3, 5), (1, 1)], ids=["channel", "element",
                                                                        "scalar"])
def test_elementwise_affine_matches_oracle(rng, shape, dtype):
    X, x = _images(rng)
    scale, offset = rng.standard_normal(shape), rng.standard_normal(shape)
    layer = _read("ElementwiseAffineLayer", {"Scale": scale, "Offset": offset})
    assert isinstance(layer, ElementwiseAffine)
    layer = ElementwiseAffine.from_config({**layer.get_config(), "dtype": dtype})
    expected = X * scale.reshape(shape + (1,) * (4 - len(shape))) + offset.reshape(
        shape + (1,) * (4 - len(shape)))
    assert _max_diff(layer(x.astype(dtype)), np.transpose(expected, (3, 0, 1, 2))) \
        <= ATOL[dtype]


@pytest.mark.parametrize("dtype", sorted(ATOL))
def test_prelu_and_clip_match_oracle(rng, dtype):
    X, x = _images(rng)
    alpha = rng.uniform(0.1, 0.5, (1, 1, 5))
    prelu = _read("PreluLayer", {"Alpha": alpha})
    prelu = PReLU.from_config({**prelu.get_config(), "dtype": dtype})
    expected = np.where(X > 0, X, alpha[..., None] * X)
    assert _max_diff(prelu(x.astype(dtype)), np.transpose(expected, (3, 0, 1, 2))) \
        <= ATOL[dtype]
    clip = _read("ClipLayer", {"Min": np.array([[-0.3]]), "Max": np.array([[0.7]])})
    clip = Clip.from_config({**clip.get_config(), "dtype": dtype})
    assert _max_diff(clip(x.astype(dtype)), np.clip(x, -0.3, 0.7)) <= ATOL[dtype]
    lower_only = _read("ClipLayer", {"Min": np.array([[0.0]])})
    x32 = x.astype("float32")
    assert _max_diff(lower_only(x32), np.maximum(x32, 0)) == 0


def test_pass_through_and_aliased_classes(rng):
    x = rng.standard_normal((2, 4, 3, 5)).astype("float32")
    verify = _read("VerifyBatchSizeLayer", {"BatchSize": np.array([[1.0]])})
    assert isinstance(verify, VerifyBatchSize) and verify.batch_size == 1
    np.testing.assert_array_equal(np.asarray(verify(x)), x)  # any batch size runs
    assert isinstance(_read("IdentityLayer"), keras.layers.Identity)
    assert isinstance(_read("SigmoidLayer"), Sigmoid)
    assert isinstance(_read("TanhLayer"), Tanh)
    assert isinstance(_read("GlobalAveragePooling2dLayer"), GlobalAveragePooling2D)


def test_an_onnx_imported_network_shape_runs_and_reloads(rng, tmp_path):
    """input -> batch-size verifier -> affine -> PReLU -> ONNX flatten -> fc: as MATLAB's
    importer lays out an imported image classifier."""
    layers = [ImageInput((4, 3, 5)), VerifyBatchSize(1), ElementwiseAffine(2.0, -1.0),
              PReLU(np.full((1, 1, 5), 0.2)), FlattenInto2D(), FullyConnected(3)]
    model = assemble_network(layers)
    X, x = _images(rng)
    W, b = layers[-1].matlab_weights, layers[-1].bias
    Z = 2.0 * X - 1.0
    expected = (W @ ref.onnx_flatten(np.where(Z > 0, Z, 0.2 * Z)) + b[:, None]).T
    assert _max_diff(model(x.astype("float32")), expected) <= tol.FLOAT32_ATOL
    model.save(tmp_path / "onnx_shape.keras")
    reloaded = keras.models.load_model(tmp_path / "onnx_shape.keras")
    np.testing.assert_array_equal(np.asarray(reloaded(x)), np.asarray(model(x)))


@reload_case
def onnx_shaped_layers(rng):
    """OnnxShaped in each of its ops, sized by the input's run-time batch and length
    (tests/test_fresh_process_reload.py)."""
    inputs = keras.Input((None, 4))
    square = OnnxShaped("fill", [[0, 1], [0, 1]], value=1.0, name="square")(inputs)  # (T, T)
    table = OnnxShaped("slice", [[1, 1]], starts=[0], axes=[0], name="rows")(
        [keras.ops.convert_to_tensor(rng.normal(size=(9, 4)).astype("float32")), inputs])
    spread = OnnxShaped("expand", [[1, 0], [1, 1], 4], name="spread")(
        [keras.ops.expand_dims(table, 0), inputs])
    mixed = keras.ops.matmul(square, inputs + spread)
    y = OnnxShaped("reshape", [[0, 0], [0, 1], 2, 2], name="split")(mixed)
    return (keras.Model(inputs, y), rng.normal(size=(2, 6, 4)).astype("float32"),
            {"type(model.get_layer('split')).__module__": "matkeras.layers.onnx_import"})


def test_onnx_shaped_refuses_an_unknown_op():
    with pytest.raises(ValueError, match="op must be one of"):
        OnnxShaped("tile", [1])


def test_onnx_shaped_expand_broadcasts_both_ways():
    """ONNX's Expand: a size of 1 in the target keeps the data's size, a size of 1 in the data
    takes the target's (numpy's broadcasting of the two shapes)."""
    data = np.arange(8.0, dtype="float32").reshape(2, 1, 4)
    sizes = np.zeros((3, 5, 4), "float32")  # the run-time size source: 5 steps
    layer = OnnxShaped("expand", [1, [1, 1], 4])
    got = keras.ops.convert_to_numpy(layer([data, sizes]))
    np.testing.assert_array_equal(got, np.broadcast_to(data, (2, 5, 4)))
