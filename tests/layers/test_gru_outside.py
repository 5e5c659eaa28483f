"""matkeras.layers.GRU against outside implementations, one per reset-gate mode.

after-multiplication and recurrent-bias-after-multiplication: torch.nn.GRU (gate order r, z, n as
MATLAB's; its candidate r * (W_hn h + b_hn) is MATLAB's recurrent-bias mode, and with b_hn = 0 the
after-multiplication mode). before-multiplication: stock keras.layers.GRU(reset_after=False) and
ONNX GRU with linear_before_reset=0 (the onnx package's reference outputs).
recurrent-bias-after-multiplication also against ONNX GRU with linear_before_reset=1, run by
onnxruntime on random weights.
"""

import keras
import numpy as np
import onnx
import onnxruntime
import pytest
import torch
from onnx import helper

from matkeras.layers import GRU, layouts
from tests import tolerances as tol
from tests.layers.onnx_cases import batch_major, load_case

C, H = 3, 5


def _params(rng, chunks=1):
    return (rng.normal(0, 0.5, (3 * H, C)), rng.normal(0, 0.5, (3 * H, H)),
            rng.normal(0, 0.5, chunks * 3 * H))


def _matkeras(mode, W, R, b, x, dtype="float64", **options):
    layer = GRU(H, reset_gate_mode=mode, dtype=dtype, **options)
    layer.set_matlab_weights(input_weights=W, recurrent_weights=R, bias=b)
    return keras.ops.convert_to_numpy(layer(x.astype(dtype)))


@pytest.mark.parametrize("mode", ["after-multiplication", "recurrent-bias-after-multiplication"])
def test_matches_torch_gru(rng, mode):
    chunks = 2 if mode == "recurrent-bias-after-multiplication" else 1
    W, R, b = _params(rng, chunks)
    x = rng.normal(0, 1, (4, 30, C))
    reference = torch.nn.GRU(C, H, batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        reference.weight_ih_l0.copy_(torch.from_numpy(W))  # MATLAB r, z, h = torch r, z, n
        reference.weight_hh_l0.copy_(torch.from_numpy(R))
        reference.bias_ih_l0.copy_(torch.from_numpy(b[:3 * H]))
        reference.bias_hh_l0.copy_(torch.from_numpy(b[3 * H:] if chunks == 2 else np.zeros(3 * H)))
        expected = reference(torch.from_numpy(x))[0].numpy()
    assert np.max(np.abs(_matkeras(mode, W, R, b, x) - expected)) <= tol.FLOAT64_ATOL


def test_before_multiplication_matches_stock_keras_reset_before(rng):
    W, R, b = _params(rng)
    x = rng.normal(0, 1, (4, 30, C)).astype("float32")
    permutation = np.r_[H:2 * H, 0:H, 2 * H:3 * H]  # MATLAB r, z, h -> Keras z, r, h
    stock = keras.layers.GRU(H, reset_after=False, return_sequences=True)
    stock.build((None, None, C))
    stock.set_weights([W[permutation].T, R[permutation].T, b[permutation]])
    got = _matkeras("before-multiplication", W, R, b, x, dtype="float32")
    assert np.max(np.abs(got - keras.ops.convert_to_numpy(stock(x)))) <= tol.FLOAT32_PAIR_ATOL


@pytest.mark.parametrize("case", ["test_gru_defaults", "test_gru_with_initial_bias",
                                  "test_gru_seq_length", "test_gru_reverse", "test_gru_batchwise",
                                  "test_gru_bidirectional"])
def test_onnx_node_cases_linear_before_reset_0(case):
    attributes, tensors = load_case(case)
    assert attributes.get("linear_before_reset", 0) == 0 and "activations" not in attributes
    units = attributes["hidden_size"]
    direction = attributes.get("direction", b"forward").decode()
    x, expected = batch_major(attributes, tensors)
    directions = ["forward", "reverse"] if direction == "bidirectional" else [direction]
    for d, which in enumerate(directions):
        onnx_bias = tensors["B"][d] if "B" in tensors else np.zeros(6 * units, np.float32)
        layer = GRU(units, reset_gate_mode="before-multiplication", has_state_outputs=True)
        layer.set_matlab_weights(  # before-multiplication: MATLAB's one bias is Wb + Rb
            input_weights=layouts.onnx_to_matlab("gru", tensors["W"][d]),
            recurrent_weights=layouts.onnx_to_matlab("gru", tensors["R"][d]),
            bias=layouts.onnx_to_matlab("gru", onnx_bias[:3 * units] + onnx_bias[3 * units:]),
        )
        inputs = x[:, ::-1] if which == "reverse" else x
        y, h_t = (keras.ops.convert_to_numpy(t) for t in layer(inputs.astype("float32")))
        got = {"Y": y[:, ::-1] if which == "reverse" else y, "Y_h": h_t}
        compared = [name for name in got if name in tensors]
        assert compared
        for name in compared:
            assert np.max(np.abs(got[name] - expected(name, d))) <= tol.FLOAT32_PAIR_ATOL, name


def test_random_onnx_gru_linear_before_reset_1_in_onnxruntime(rng):
    W, R, _ = _params(rng)
    b = rng.normal(0, 0.5, 6 * H)  # MATLAB [b_W; b_R], rows r, z, h
    x = rng.normal(0, 1, (4, 12, C)).astype("float32")
    onnx_w = layouts.matlab_to_onnx("gru", W)[None].astype("float32")
    onnx_r = layouts.matlab_to_onnx("gru", R)[None].astype("float32")
    onnx_b = layouts.matlab_to_onnx("gru", b, chunks=2)[None].astype("float32")
    node = helper.make_node("GRU", ["X", "W", "R", "B"], ["Y", "Y_h"], hidden_size=H,
                            linear_before_reset=1)
    graph = helper.make_graph(
        [node], "gru",
        [helper.make_tensor_value_info("X", onnx.TensorProto.FLOAT, [12, 4, C])],
        [helper.make_tensor_value_info("Y", onnx.TensorProto.FLOAT, [12, 1, 4, H]),
         helper.make_tensor_value_info("Y_h", onnx.TensorProto.FLOAT, [1, 4, H])],
        initializer=[onnx.numpy_helper.from_array(a, n)
                     for a, n in ((onnx_w, "W"), (onnx_r, "R"), (onnx_b, "B"))],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
    onnx.checker.check_model(model)
    session = onnxruntime.InferenceSession(model.SerializeToString(),
                                           providers=["CPUExecutionProvider"])
    y_onnx = session.run(["Y"], {"X": x.transpose(1, 0, 2)})[0][:, 0].transpose(1, 0, 2)
    got = _matkeras("recurrent-bias-after-multiplication", W, R, b, x, dtype="float32")
    assert np.max(np.abs(got - y_onnx)) <= tol.FLOAT32_PAIR_ATOL
