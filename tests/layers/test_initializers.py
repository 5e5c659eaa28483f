"""MATLAB's initializers: distributions checked statistically with fixed seeds.

Definitions (MATLAB documentation, spec section 1.5), for an LSTM with C inputs and H units
(MATLAB InputWeights 4H x C, RecurrentWeights 4H x H):
glorot U(-a, a), a = sqrt(6 / (C + 4H)) -> variance 2 / (C + 4H); he N(0, 2 / C), not truncated;
orthogonal: the 4H x C matrix has orthonormal columns; narrow-normal N(0, 0.01^2).
"""

import keras
import numpy as np
import pytest
from scipy import stats

from matkeras.layers import LSTM
from tests import tolerances as tol

C, H = 50, 100


def _built(seed=1, **kwargs):
    keras.utils.set_random_seed(seed)
    layer = LSTM(H, **kwargs)
    layer.build((None, None, C))
    return layer


class TestMatlabInitializers:
    def test_glorot_uses_stacked_fan_out(self):
        weights = _built(input_weights_initializer="glorot").input_weights
        limit = np.sqrt(6.0 / (C + 4 * H))
        assert weights.shape == (4 * H, C)
        assert np.max(np.abs(weights)) <= limit
        assert np.max(np.abs(weights)) > 0.99 * limit
        assert abs(np.var(weights) / (2.0 / (C + 4 * H)) - 1) <= tol.VARIANCE_RTOL
        assert stats.kstest(weights.ravel(), stats.uniform(-limit, 2 * limit).cdf).pvalue > 1e-3

    def test_he_is_untruncated_normal_with_fan_in(self):
        weights = _built(input_weights_initializer="he").input_weights
        std = np.sqrt(2.0 / C)
        assert abs(np.var(weights) / std**2 - 1) <= tol.VARIANCE_RTOL
        assert np.max(np.abs(weights)) > 3.0 * std  # a truncated normal stops at 2 std
        assert stats.kstest(weights.ravel(), stats.norm(0, std).cdf).pvalue > 1e-3

    @pytest.mark.parametrize("which", ["input", "recurrent"])
    def test_orthogonal_has_orthonormal_columns_in_matlab_layout(self, which):
        layer = _built(input_weights_initializer="orthogonal")
        weights = layer.input_weights if which == "input" else layer.recurrent_weights
        columns = weights.shape[1]
        np.testing.assert_allclose(weights.T @ weights, np.eye(columns),
                                   atol=tol.ORTHOGONALITY_ATOL)

    def test_narrow_normal_has_std_one_hundredth(self):
        layer = _built(input_weights_initializer="narrow-normal",
                       recurrent_weights_initializer="narrow-normal",
                       bias_initializer="narrow-normal")
        values = np.concatenate([layer.input_weights.ravel(), layer.recurrent_weights.ravel()])
        assert abs(np.var(values) / 1e-4 - 1) <= tol.VARIANCE_RTOL
        assert abs(np.mean(values)) <= 5 * 0.01 / np.sqrt(values.size)
        assert np.std(layer.bias) > 0

    @pytest.mark.parametrize("name,value", [("zeros", 0.0), ("ones", 1.0)])
    def test_constant_initializers(self, name, value):
        layer = _built(input_weights_initializer=name, recurrent_weights_initializer=name,
                       bias_initializer=name)
        for weights in (layer.input_weights, layer.recurrent_weights, layer.bias):
            np.testing.assert_array_equal(weights, value)

    def test_unit_forget_gate_sets_only_the_forget_block(self):
        bias = _built().bias
        expected = np.zeros(4 * H)
        expected[H:2 * H] = 1.0
        np.testing.assert_array_equal(bias, expected)

    def test_function_handle_gets_matlab_size(self):
        seen = []

        def initializer(size):
            seen.append(size)
            return np.arange(np.prod(size), dtype="float64").reshape(size)

        layer = _built(input_weights_initializer=initializer)
        assert seen == [(4 * H, C)]
        np.testing.assert_array_equal(
            layer.input_weights, np.arange(4 * H * C, dtype="float32").reshape(4 * H, C))

    def test_function_handle_with_wrong_shape_is_an_error(self):
        with pytest.raises(ValueError, match=r"returned shape \(3,\); expected the MATLAB size"):
            _built(input_weights_initializer=lambda size: np.zeros(3))

    def test_same_seed_same_weights(self):
        np.testing.assert_array_equal(_built(seed=7).input_weights, _built(seed=7).input_weights)
        assert not np.array_equal(_built(seed=7).input_weights, _built(seed=8).input_weights)
