"""selfAttentionLayer and attentionLayer against the float64 numpy oracle of MATLAB's
attention equations (tests/reference/attention.py)."""

import keras
import numpy as np
import pytest

from matkeras import layers as L
from tests import tolerances as tol
from tests.layers.transformer_helpers import (
    from_cbt,
    random_attention_weights,
    right_padded,
    scores_to_keras,
    self_attention_layer,
    snake,
    to_cbt,
)
from tests.reference import attention as ref

#: (numHeads, numKeyChannels, NumValueChannels, OutputSize): one head, numKeyChannels !=
#: NumValueChannels, OutputSize != C, more heads than channels per head.
SIZES = [(1, 4, 4, 3), (2, 8, 6, 4), (4, 8, 12, 5), (3, 9, 6, 3)]
DTYPES = [("float64", tol.FLOAT64_ATOL), ("float32", tol.FLOAT32_ATOL)]


def _np(tensor):
    return keras.ops.convert_to_numpy(tensor)


def _max_diff(got, expected):
    assert np.shape(got) == np.shape(expected)
    return float(np.max(np.abs(np.asarray(got, np.float64) - expected)))


class TestSelfAttention:
    @pytest.mark.parametrize("dtype,atol", DTYPES, ids=["float64", "float32"])
    @pytest.mark.parametrize("attention_mask", ["none", "causal"])
    @pytest.mark.parametrize("sizes", SIZES, ids=lambda s: "H{}_K{}_V{}_O{}".format(*s))
    def test_matches_oracle(self, rng, sizes, attention_mask, dtype, atol):
        heads, dk, dv, out = sizes
        weights = random_attention_weights(rng, 3, dk, dv, out)
        layer = self_attention_layer(weights, heads, dtype, attention_mask=attention_mask,
                                     has_scores_output=True)
        x = rng.normal(size=(2, 7, 3))
        y, scores = layer(x.astype(dtype))
        expected, expected_scores = ref.self_attention(to_cbt(x), weights, heads,
                                                       attention_mask)
        assert _max_diff(_np(y), from_cbt(expected)) <= atol
        assert _max_diff(_np(scores), scores_to_keras(expected_scores)) <= atol

    def test_custom_mask_is_keys_by_queries_and_a_query_with_no_key_gets_uniform_weights(
            self, rng):
        weights = random_attention_weights(rng, 3, 8, 6, 3)
        mask = rng.random((6, 6)) < 0.6  # (numKeys, numQueries)
        mask[:, 2] = False  # query 3 may attend to nothing
        mask[0, 3] = True
        layer = self_attention_layer(weights, 2, attention_mask=mask, has_scores_output=True)
        x = rng.normal(size=(2, 6, 3))
        y, scores = layer(x)
        expected, expected_scores = ref.self_attention(to_cbt(x), weights, 2, mask)
        assert _max_diff(_np(y), from_cbt(expected)) <= tol.FLOAT64_ATOL
        assert _max_diff(_np(scores), scores_to_keras(expected_scores)) <= tol.FLOAT64_ATOL
        assert np.allclose(_np(scores)[:, :, 2, :], 1 / 6, atol=0, rtol=0)

    def test_custom_mask_of_the_wrong_size_is_refused(self, rng):
        weights = random_attention_weights(rng, 3, 4, 4, 3)
        layer = self_attention_layer(weights, 1, attention_mask=np.ones((5, 4)), name="sa")
        with pytest.raises(ValueError, match=r"AttentionMask matrix is 5-by-4 \(numKeys-by-"
                                             r"numQueries\) but the input has 6 keys and 6 "
                                             r"queries"):
            layer(np.zeros((1, 6, 3)))

    @pytest.mark.parametrize("attention_mask", ["none", "causal"])
    def test_padded_batch_gives_each_observation_what_it_gives_alone(self, rng,
                                                                     attention_mask):
        weights = random_attention_weights(rng, 3, 8, 6, 4)
        layer = self_attention_layer(weights, 2, attention_mask=attention_mask,
                                     has_padding_mask_input=True)
        lengths = [7, 4, 1]
        x, mask = right_padded(rng, lengths, 3)
        y = _np(layer([x, mask]))
        expected, _ = ref.self_attention(to_cbt(x), weights, 2, attention_mask, mask)
        assert _max_diff(y, from_cbt(expected)) <= tol.FLOAT64_ATOL
        worst = 0.0
        for n, length in enumerate(lengths):
            alone, _ = ref.self_attention(to_cbt(x[n:n + 1, :length]), weights, 2,
                                          attention_mask)
            worst = max(worst, _max_diff(y[n:n + 1, :length], from_cbt(alone)))
        assert worst <= tol.FLOAT64_ATOL

    def test_without_a_padding_mask_padding_changes_the_result_as_in_matlab(self, rng):
        weights = random_attention_weights(rng, 3, 8, 6, 4)
        layer = self_attention_layer(weights, 2)
        x, _ = right_padded(rng, [7, 4], 3)
        y = _np(layer(x))
        expected, _ = ref.self_attention(to_cbt(x), weights, 2)
        assert _max_diff(y, from_cbt(expected)) <= tol.FLOAT64_ATOL
        alone, _ = ref.self_attention(to_cbt(x[1:2, :4]), weights, 2)
        assert _max_diff(y[1:2, :4], from_cbt(alone)) > 1e-3

    def test_a_three_dimensional_mask_counts_its_first_channel(self, rng):
        weights = random_attention_weights(rng, 3, 4, 4, 3)
        layer = self_attention_layer(weights, 2, has_padding_mask_input=True)
        x, mask = right_padded(rng, [5, 3], 3)
        full = np.repeat(mask[:, :, None], 3, axis=2)
        full[:, :, 1:] = 1 - full[:, :, 1:]  # other channels say the opposite: ignored
        np.testing.assert_array_equal(_np(layer([x, full])), _np(layer([x, mask])))

    def test_use_mask_takes_a_keras_mask_as_the_padding_mask(self, rng):
        weights = random_attention_weights(rng, 3, 8, 6, 4)
        x, mask = right_padded(rng, [6, 3], 3)
        inputs = keras.Input((None, 3), dtype="float64")
        masked = keras.layers.Masking(0.0, dtype="float64")(inputs)
        layer = self_attention_layer(weights, 2, use_mask=True)
        model = keras.Model(inputs, layer(masked))
        expected, _ = ref.self_attention(to_cbt(x), weights, 2, "none", mask)
        assert _max_diff(_np(model(x)), from_cbt(expected)) <= tol.FLOAT64_ATOL

    def test_dropout_drops_attention_weights_while_training_only(self, rng):
        weights = random_attention_weights(rng, 3, 8, 6, 4)
        layer = self_attention_layer(weights, 2, dropout_probability=0.4, seed=3)
        x = rng.normal(size=(2, 6, 3))
        expected, _ = ref.self_attention(to_cbt(x), weights, 2)
        assert _max_diff(_np(layer(x, training=False)), from_cbt(expected)) <= \
            tol.FLOAT64_ATOL
        assert _max_diff(_np(layer(x, training=True)), from_cbt(expected)) > 1e-3

    def test_views_are_matlab_layout_and_setters_check_shapes(self, rng):
        weights = random_attention_weights(rng, 3, 8, 6, 4)
        layer = self_attention_layer(weights, 2, name="sa")
        for prop, value in weights.items():
            np.testing.assert_array_equal(getattr(layer, snake(prop)), value)
        assert layer.query_kernel.shape == (3, 8) and layer.output_kernel.shape == (6, 4)
        with pytest.raises(ValueError, match=r"SelfAttention layer 'sa': KeyWeights has shape "
                                             r"\(8, 2\); expected \(NumKeyChannels, InputSize\) "
                                             r"= \(8, 3\)"):
            layer.key_weights = np.zeros((8, 2))
        layer.output_bias = np.ones((4, 1))  # a MATLAB column
        np.testing.assert_array_equal(layer.output_bias, np.ones(4))

    def test_auto_sizes_follow_the_input_and_the_keys(self):
        layer = L.SelfAttention(4, 16)
        out = layer(np.zeros((2, 5, 3), "float32"))
        assert out.shape == (2, 5, 3)
        assert layer.num_value_channels == 16 and layer.output_size == 3
        assert layer.value_weights.shape == (16, 3) and layer.output_weights.shape == (3, 16)

    def test_default_initializers_are_glorot_and_zeros(self):
        layer = L.SelfAttention(2, 64, num_value_channels=32, output_size=8)
        layer(np.zeros((1, 2, 16), "float32"))
        assert np.max(np.abs(layer.query_weights)) <= np.sqrt(6 / (16 + 64))
        assert np.max(np.abs(layer.output_weights)) <= np.sqrt(6 / (32 + 8))
        assert np.std(layer.query_weights) > 0.5 * np.sqrt(2 / (16 + 64))
        assert not np.any(layer.query_bias) and not np.any(layer.output_bias)

    def test_l2_penalty_and_learn_rate_factors_cover_all_four_projections(self, rng):
        weights = random_attention_weights(rng, 3, 4, 4, 3)
        layer = self_attention_layer(weights, 2, l2_regularization=1e-2,
                                     weights_l2_factor=0.5, bias_l2_factor=2.0,
                                     weights_learn_rate_factor=3.0)
        layer(np.zeros((1, 2, 3)))
        kernels = sum(np.sum(weights[p] ** 2) for p in weights if p.endswith("Weights"))
        biases = sum(np.sum(weights[p] ** 2) for p in weights if p.endswith("Bias"))
        expected = 0.5 * 1e-2 * (0.5 * kernels + 2.0 * biases)
        assert abs(float(sum(_np(loss) for loss in layer.losses)) - expected) <= 1e-12
        multipliers = layer.learn_rate_multipliers()
        assert sorted(v.name for v, _ in multipliers) == sorted(
            f"{n}_kernel" for n in ("query", "key", "value", "output"))
        assert {m for _, m in multipliers} == {3.0}

    def test_ports(self):
        assert L.SelfAttention(1, 4).matlab_input_names == ("in",)
        both = L.SelfAttention(1, 4, has_padding_mask_input=True, has_scores_output=True)
        assert both.matlab_input_names == ("in", "mask")
        assert both.matlab_output_names == ("out", "scores")

    def test_a_missing_mask_input_is_named(self):
        layer = L.SelfAttention(1, 4, has_padding_mask_input=True, name="sa")
        with pytest.raises(ValueError, match=r"takes 2 input\(s\) \['in', 'mask'\] "
                                             r"\(HasPaddingMaskInput is true"):
            layer(np.zeros((1, 3, 2), "float32"))

    @pytest.mark.parametrize("kwargs,message", [
        ({"num_key_channels": 10, "num_heads": 4},
         r"num_key_channels \(MATLAB 'NumKeyChannels'\) = 10 must be divisible by num_heads"),
        ({"num_value_channels": 6, "num_heads": 4},
         r"num_value_channels \(MATLAB 'NumValueChannels'\) = 6 must be divisible"),
        ({"attention_mask": "future"}, r"attention_mask \(MATLAB 'AttentionMask'\) must be one "
                                        r"of \"none\", \"causal\"; received 'future'"),
        ({"attention_mask": np.ones(3)}, r"numKeys-by-numQueries logical matrix"),
        ({"dropout_probability": 1.0}, r"DropoutProbability'\) must be in \[0, 1\)"),
        ({"weights_initializer": "uniform"}, r"WeightsInitializer'\) must be one of"),
    ], ids=["keys", "values", "mask-name", "mask-shape", "dropout", "initializer"])
    def test_bad_options_name_the_matlab_property(self, kwargs, message):
        arguments = {"num_heads": 2, "num_key_channels": 8, **kwargs}
        with pytest.raises(ValueError, match=message):
            L.SelfAttention(**arguments)


class TestAttention:
    @pytest.mark.parametrize("dtype,atol", DTYPES, ids=["float64", "float32"])
    @pytest.mark.parametrize("heads,scale", [(1, "auto"), (2, "auto"), (4, 0.3)])
    def test_matches_oracle_with_more_keys_than_queries(self, rng, heads, scale, dtype, atol):
        q, k, v = (rng.normal(size=s) for s in ((2, 4, 8), (2, 6, 8), (2, 6, 12)))
        layer = L.Attention(heads, scale=scale, has_scores_output=True, dtype=dtype)
        y, scores = layer([t.astype(dtype) for t in (q, k, v)])
        expected, expected_scores = ref.attention(to_cbt(q), to_cbt(k), to_cbt(v), heads, scale)
        assert _max_diff(_np(y), from_cbt(expected)) <= atol
        assert _max_diff(_np(scores), scores_to_keras(expected_scores)) <= atol

    def test_padding_mask_covers_the_keys(self, rng):
        q, k, v = (rng.normal(size=s) for s in ((3, 4, 6), (3, 5, 6), (3, 5, 4)))
        mask = np.array([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0], [1, 0, 0, 0, 0]])
        layer = L.Attention(2, attention_mask="causal", has_padding_mask_input=True,
                            dtype="float64")
        assert layer.matlab_input_names == ("query", "key", "value", "mask")
        expected, _ = ref.attention(to_cbt(q), to_cbt(k), to_cbt(v), 2, "auto", "causal", mask)
        assert _max_diff(_np(layer([q, k, v, mask])), from_cbt(expected)) <= tol.FLOAT64_ATOL

    def test_dropout_zeroes_weights_and_scales_the_rest(self, rng):
        # One-hot values per head make the output the (dropped) attention weights themselves.
        heads, steps, p = 2, 5, 0.3
        q, k = rng.normal(size=(64, steps, 4)), rng.normal(size=(64, steps, 4))
        v = np.tile(np.concatenate([np.eye(steps)] * heads, axis=1), (64, 1, 1))
        layer = L.Attention(heads, dropout_probability=p, has_scores_output=True, seed=7,
                            dtype="float64")
        y, scores = (_np(t) for t in layer([q, k, v], training=True))
        dropped = np.stack([y[..., h * steps:(h + 1) * steps] for h in range(heads)], axis=1)
        kept = dropped != 0
        assert np.max(np.abs(dropped[kept] - scores[kept] / (1 - p))) <= tol.FLOAT64_ATOL
        assert abs(1 - kept.mean() - p) <= tol.DROPOUT_RATE_ATOL

    def test_mismatched_query_and_key_channels_are_refused(self):
        with pytest.raises(ValueError, match="queries have 4 channels but keys 6"):
            L.Attention(2)([np.zeros((1, 2, 4)), np.zeros((1, 2, 6)), np.zeros((1, 2, 4))])
