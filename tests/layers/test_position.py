"""positionEmbeddingLayer, sinusoidalPositionEncodingLayer, embeddingConcatenationLayer and
indexing1dLayer against the float64 numpy oracle (tests/reference/position.py)."""

import keras
import numpy as np
import pytest

from matkeras import layers as L
from tests import tolerances as tol
from tests.layers.transformer_helpers import as_numpy, from_cbt, max_diff, right_padded, to_cbt
from tests.reference import position as ref

DTYPES = [("float64", tol.FLOAT64_ATOL), ("float32", tol.FLOAT32_ATOL)]


class TestPositionEmbedding:
    @pytest.mark.parametrize("dtype,atol", DTYPES, ids=["float64", "float32"])
    @pytest.mark.parametrize("steps", [1, 9, 12])
    def test_column_t_of_weights_at_step_t(self, rng, steps, dtype, atol):
        W = rng.normal(size=(4, 12))
        layer = L.PositionEmbedding(4, 12, weights=W, dtype=dtype)
        x = rng.normal(size=(3, steps, 2))
        expected = from_cbt(ref.position_embedding(to_cbt(x), W))
        assert max_diff(as_numpy(layer(x.astype(dtype))), expected) <= atol
        np.testing.assert_array_equal(layer.matlab_weights, W.astype(dtype))

    def test_longer_than_max_position_is_matlabs_error(self):
        layer = L.PositionEmbedding(3, 8, name="pos")
        with pytest.raises(ValueError, match=r"PositionEmbedding layer 'pos': the input has 9 "
                                             r"time steps but MaxPosition is 8"):
            layer(np.zeros((1, 9, 3), "float32"))

    @pytest.mark.tensorflow
    def test_longer_than_max_position_fails_in_a_traced_graph_too(self):
        import tensorflow as tf  # here: the PyTorch and JAX runs of this module load none

        layer = L.PositionEmbedding(3, 8, name="pos")
        layer.build((None, None, 3))
        run = tf.function(layer, input_signature=[tf.TensorSpec((None, None, 3))])
        assert run(np.zeros((1, 8, 3), "float32")).shape == (1, 8, 3)
        with pytest.raises(tf.errors.InvalidArgumentError, match="MaxPosition is 8"):
            run(np.zeros((1, 9, 3), "float32"))

    def test_default_initializer_is_narrow_normal(self):
        layer = L.PositionEmbedding(50, 400)
        layer(np.zeros((1, 2, 3), "float32"))
        assert abs(np.std(layer.matlab_weights) - 0.01) <= 0.01 * tol.VARIANCE_RTOL

    def test_wrong_weights_shape_names_the_property(self):
        with pytest.raises(ValueError, match=r"Weights has shape \(8, 3\); expected "
                                             r"\(OutputSize, MaxPosition\) = \(3, 8\)"):
            L.PositionEmbedding(3, 8, weights=np.zeros((8, 3)))(np.zeros((1, 2, 3)))

    def test_l2_penalty_uses_the_weight_l2_factor(self, rng):
        W = rng.normal(size=(3, 8))
        layer = L.PositionEmbedding(3, 8, weights=W, weights_l2_factor=2.0,
                                    l2_regularization=1e-2, dtype="float64")
        layer(np.zeros((1, 2, 3)))
        penalty = float(sum(as_numpy(v) for v in layer.losses))
        assert abs(penalty - 0.5 * 1e-2 * 2.0 * np.sum(W**2)) <= 1e-12


class TestSinusoidalPositionEncoding:
    @pytest.mark.parametrize("dtype,atol", DTYPES, ids=["float64", "float32"])
    @pytest.mark.parametrize("size", [2, 6, 64])
    def test_interleaved_sine_and_cosine_of_the_time_index(self, rng, size, dtype, atol):
        x = rng.normal(size=(2, 50, 3))
        expected = from_cbt(ref.sinusoidal_temporal(to_cbt(x), size))
        layer = L.SinusoidalPositionEncoding(size, dtype=dtype)
        assert max_diff(as_numpy(layer(x.astype(dtype))), expected) <= atol

    def test_first_channels_are_sin_and_cos_of_the_one_based_step(self):
        got = as_numpy(L.SinusoidalPositionEncoding(4, dtype="float64")(np.zeros((1, 3, 1))))
        np.testing.assert_allclose(got[0, :, 0], np.sin([1.0, 2.0, 3.0]), rtol=0, atol=1e-15)
        np.testing.assert_allclose(got[0, :, 1], np.cos([1.0, 2.0, 3.0]), rtol=0, atol=1e-15)

    @pytest.mark.parametrize("shape", [(5, 1), (2, 7, 1)])
    def test_data_values_are_the_positions(self, rng, shape):
        x = rng.uniform(0, 100, size=shape)
        got = as_numpy(L.SinusoidalPositionEncoding(8, positions="data-values", dtype="float64")(x))
        expected = np.moveaxis(ref.sinusoidal_encoding(x[..., 0], 8), 0, -1)
        assert max_diff(got, expected) <= tol.FLOAT64_ATOL

    def test_odd_output_size_is_refused(self):
        with pytest.raises(ValueError, match=r"output_size \(MATLAB 'OutputSize'\) must be even"):
            L.SinusoidalPositionEncoding(5)


class TestEmbeddingConcatenation:
    @pytest.mark.parametrize("dtype,atol", DTYPES, ids=["float64", "float32"])
    def test_weights_come_first_along_time(self, rng, dtype, atol):
        x, w = rng.normal(size=(3, 4, 5)), rng.normal(size=(5, 1))
        layer = L.EmbeddingConcatenation(weights=w, dtype=dtype)
        expected = from_cbt(ref.embedding_concatenation(to_cbt(x), w[:, 0]))
        assert max_diff(as_numpy(layer(x.astype(dtype))), expected) <= atol
        assert layer.matlab_weights.shape == (5, 1)

    def test_output_has_one_more_step(self):
        inputs = keras.Input((7, 2))
        assert L.EmbeddingConcatenation()(inputs).shape == (None, 8, 2)


class TestIndexing1D:
    @pytest.mark.parametrize("index", ["first", "last", 1, 3])
    def test_without_mask_every_step_counts(self, rng, index):
        x = rng.normal(size=(3, 5, 4))
        got = as_numpy(L.Indexing1D(index, dtype="float64")(x))
        assert max_diff(got, ref.indexing_1d(to_cbt(x), index).T) <= 0

    @pytest.mark.parametrize("index", ["first", "last", 2])
    def test_with_a_padding_mask_only_data_steps_count(self, rng, index):
        x, mask = right_padded(rng, [5, 2, 3], 4)
        mask[2] = [0, 1, 1, 1, 0]  # left and right padding in one observation
        layer = L.Indexing1D(index, has_padding_mask_input=True, dtype="float64")
        got = as_numpy(layer([x, mask]))
        assert max_diff(got, ref.indexing_1d(to_cbt(x), index, mask).T) <= 0

    def test_last_without_mask_returns_the_padding_as_matlab_does(self, rng):
        x, _ = right_padded(rng, [5, 2], 3)
        np.testing.assert_array_equal(as_numpy(L.Indexing1D("last", dtype="float64")(x))[1], 0.0)

    def test_index_beyond_the_sequence_is_refused(self):
        with pytest.raises(ValueError, match=r"Index 6 is beyond the input's 5 time steps"):
            L.Indexing1D(6)(np.zeros((1, 5, 2), "float32"))

    def test_bad_index_names_the_property(self):
        with pytest.raises(ValueError, match=r"index \(MATLAB 'Index'\) must be one of "
                                             r"\"first\", \"last\""):
            L.Indexing1D("middle")
