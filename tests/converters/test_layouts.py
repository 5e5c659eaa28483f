"""converters.layouts: the one table of gate orders and transposes."""

import numpy as np
import pytest

from matkeras.converters import layouts

KINDS = sorted(layouts.MATLAB_GATES)


@pytest.mark.parametrize("kind", KINDS)
def test_weights_round_trip(kind):
    rng = np.random.default_rng(0)
    gates = len(layouts.MATLAB_GATES[kind])
    matrix = rng.normal(size=(gates * 5, 3))
    np.testing.assert_array_equal(
        layouts.weights_to_matlab(kind, layouts.weights_to_keras(kind, matrix)), matrix)
    bias = rng.normal(size=gates * 5)
    np.testing.assert_array_equal(layouts.bias_to_matlab(kind, layouts.bias_to_keras(kind, bias)),
                                  bias)
    np.testing.assert_array_equal(
        layouts.onnx_to_matlab(kind, layouts.matlab_to_onnx(kind, matrix)), matrix)


def test_lstm_keras_kernel_is_the_transpose():
    matrix = np.arange(8 * 3).reshape(8, 3)
    np.testing.assert_array_equal(layouts.weights_to_keras("lstm", matrix), matrix.T)


def test_lstm_onnx_order_is_i_o_f_c():
    blocks = [np.full((2, 1), k) for k in range(4)]  # MATLAB i=0, f=1, g=2, o=3
    onnx = layouts.matlab_to_onnx("lstm", np.concatenate(blocks))
    np.testing.assert_array_equal(onnx.ravel(), [0, 0, 3, 3, 1, 1, 2, 2])
