"""matkeras.layers.layouts: the one table of gate orders and transposes."""

import numpy as np
import pytest

from matkeras.layers import layouts

KINDS = sorted(layouts.MATLAB_GATES)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("chunks", [1, 2])
def test_weights_and_bias_round_trip(kind, chunks):
    rng = np.random.default_rng(0)
    gates = len(layouts.MATLAB_GATES[kind])
    matrix = rng.normal(size=(gates * 5, 3))
    np.testing.assert_array_equal(
        layouts.weights_to_matlab(kind, layouts.weights_to_keras(kind, matrix)), matrix)
    bias = rng.normal(size=chunks * gates * 5)
    np.testing.assert_array_equal(
        layouts.bias_to_matlab(kind, layouts.bias_to_keras(kind, bias, chunks), chunks), bias)


@pytest.mark.parametrize("kind", sorted(layouts.ONNX_GATES))
def test_onnx_round_trip(kind):
    matrix = np.random.default_rng(1).normal(size=(len(layouts.ONNX_GATES[kind]) * 4, 2))
    np.testing.assert_array_equal(
        layouts.onnx_to_matlab(kind, layouts.matlab_to_onnx(kind, matrix)), matrix)


def _labelled(kind, rows_per_block=2):
    """A MATLAB-layout matrix whose rows carry their block's index."""
    gates = len(layouts.MATLAB_GATES[kind])
    return np.repeat(np.arange(gates), rows_per_block)[:, None].astype(float)


def test_lstm_keras_kernel_is_the_transpose():
    matrix = np.arange(8 * 3).reshape(8, 3)
    np.testing.assert_array_equal(layouts.weights_to_keras("lstm", matrix), matrix.T)


def test_lstm_onnx_order_is_i_o_f_c():
    onnx = layouts.matlab_to_onnx("lstm", _labelled("lstm"))  # MATLAB i=0, f=1, g=2, o=3
    np.testing.assert_array_equal(onnx.ravel(), [0, 0, 3, 3, 1, 1, 2, 2])


def test_gru_keras_order_is_z_r_h():
    kernel = layouts.weights_to_keras("gru", _labelled("gru"))  # MATLAB r=0, z=1, h=2
    np.testing.assert_array_equal(kernel.ravel(), [1, 1, 0, 0, 2, 2])


def test_gru_six_h_bias_reorders_each_half():
    bias = np.array([0, 1, 2, 10, 11, 12], float)  # [b_W r, z, h; b_R r, z, h], H = 1
    np.testing.assert_array_equal(layouts.bias_to_keras("gru", bias, chunks=2),
                                  [1, 0, 2, 11, 10, 12])


def test_factors_follow_the_gate_order():
    assert layouts.factors_to_keras("gru", [1.0, 2.0, 3.0]) == [2.0, 1.0, 3.0]
    assert layouts.factors_to_keras("gru", [1.0, 2.0, 3.0], chunks=2) == [2, 1, 3, 2, 1, 3]
    assert layouts.factors_to_keras("lstm", 0.5) == 0.5


def test_bilstm_keeps_forward_then_backward():
    matrix = _labelled("bilstm")
    np.testing.assert_array_equal(layouts.weights_to_keras("bilstm", matrix), matrix.T)


def test_the_old_import_path_still_works_with_a_deprecation_warning():
    import importlib
    import sys

    sys.modules.pop("matkeras.converters.layouts", None)
    with pytest.warns(DeprecationWarning, match="moved to matkeras.layers.layouts"):
        old = importlib.import_module("matkeras.converters.layouts")
    assert old.weights_to_keras is layouts.weights_to_keras
