"""The seed's non-recurrent layers against independent numpy versions of MATLAB's formulas."""

import keras
import numpy as np
import pytest

from matkeras import layers as L
from tests import tolerances as tol
from tests.layers.lstm_helpers import to_cbt
from tests.reference import layers as ref


def _np(tensor):
    return keras.ops.convert_to_numpy(tensor)


def _close(got, expected, atol=tol.FLOAT64_ATOL):
    assert np.shape(got) == np.shape(expected)
    assert float(np.max(np.abs(np.asarray(got) - expected))) <= atol


class TestFullyConnected:
    def test_applies_matlab_weights_at_every_time_step(self, rng):
        W, b = rng.normal(size=(4, 3)), rng.normal(size=4)
        layer = L.FullyConnected(4, weights=W, bias=b[:, None], dtype="float64")
        x = rng.normal(size=(2, 5, 3))
        _close(_np(layer(x)), np.transpose(ref.fully_connected(to_cbt(x), W, b), (1, 2, 0)))
        _close(layer.matlab_weights, W, 0)

    def test_wrong_weight_shape_names_the_property(self):
        layer = L.FullyConnected(4, weights=np.zeros((4, 2)), name="fc")
        with pytest.raises(ValueError, match=r"Weights has shape \(4, 2\); expected "
                                             r"\(OutputSize, InputSize\) = \(4, 3\)"):
            layer(np.zeros((1, 2, 3), "float32"))


class TestConv1D:
    @pytest.mark.parametrize("padding,stride,dilation", [
        (0, 1, 1), ("same", 1, 1), ("same", 2, 1), ("same", 3, 2), ("causal", 1, 2),
        (2, 1, 1), ((3, 1), 2, 1), ((3, 1), 2, 2),
    ], ids=str)
    def test_matches_numpy_cross_correlation(self, rng, padding, stride, dilation):
        k, C, F, T = 4, 3, 5, 11
        W, b = rng.normal(size=(k, C, F)), rng.normal(size=F)
        layer = L.Conv1D(k, F, stride=stride, dilation_factor=dilation, padding=padding,
                         weights=W, bias=b, dtype="float64")
        x = rng.normal(size=(2, T, C))
        if padding == "same":
            pads = ref.same_padding(T, k, stride, dilation)
        elif padding == "causal":
            pads = ((k - 1) * dilation, 0)
        else:
            pads = tuple(np.broadcast_to(np.ravel(padding), (2,)))
        expected = ref.conv1d(to_cbt(x), W, b, stride, dilation, pads)
        _close(_np(layer(x)), np.transpose(expected, (1, 2, 0)))

    def test_same_padding_puts_the_odd_element_on_the_right(self):
        assert ref.same_padding(10, 4, 1) == (1, 2)

    def test_symmetric_padding_value(self, rng):
        W, b = rng.normal(size=(3, 2, 2)), np.zeros(2)
        layer = L.Conv1D(3, 2, padding=(2, 2), padding_value="symmetric-include-edge",
                         weights=W, bias=b, dtype="float64")
        x = rng.normal(size=(1, 6, 2))
        padded = np.concatenate([x[:, 1::-1], x, x[:, :-3:-1]], axis=1)
        _close(_np(layer(x)), np.transpose(ref.conv1d(to_cbt(padded), W, b), (1, 2, 0)))


def test_conv2d_matches_numpy(rng):
    W, b = rng.normal(size=(3, 2, 4, 5)), rng.normal(size=5)
    layer = L.Conv2D((3, 2), 5, weights=W, bias=b, dtype="float64")
    images = rng.normal(size=(2, 6, 7, 4))
    got = _np(layer(images))
    for n in range(2):
        _close(got[n], ref.conv2d_valid(images[n], W, b))


class TestPooling:
    @pytest.mark.parametrize("padding_value", [0.0, "mean"], ids=["counted", "mean"])
    @pytest.mark.parametrize("padding,stride", [((1, 2), 1), (1, 2), ("same", 1), ("same", 2)],
                             ids=str)
    def test_average_pooling(self, rng, padding, stride, padding_value):
        size, T = 3, 8
        x = rng.normal(size=(2, T, 3))
        pads = (ref.same_padding(T, size, stride) if padding == "same"
                else tuple(np.broadcast_to(np.ravel(padding), (2,))))
        layer = L.AveragePooling1D(size, stride=stride, padding=padding,
                                   padding_value=padding_value, dtype="float64")
        expected = ref.pool1d(to_cbt(x), size, stride, pads, "average", padding_value)
        _close(_np(layer(x)), np.transpose(expected, (1, 2, 0)))

    @pytest.mark.parametrize("padding,stride", [(0, 1), ((1, 1), 1), ("same", 2)], ids=str)
    def test_max_pooling_default_stride_is_one(self, rng, padding, stride):
        size, T = 2, 7
        x = -np.abs(rng.normal(size=(2, T, 3)))  # negative: padding must never win
        pads = (ref.same_padding(T, size, stride) if padding == "same"
                else tuple(np.broadcast_to(np.ravel(padding), (2,))))
        layer = L.MaxPooling1D(size, stride=stride, padding=padding, dtype="float64")
        expected = ref.pool1d(to_cbt(x), size, stride, pads, "max")
        _close(_np(layer(x)), np.transpose(expected, (1, 2, 0)))

    def test_global_pooling_includes_every_step(self, rng):
        x = rng.normal(size=(2, 6, 3))
        _close(_np(L.GlobalAveragePooling1D(dtype="float64")(x)), x.mean(axis=1))
        _close(_np(L.GlobalMaxPooling1D(dtype="float64")(x)), x.max(axis=1))


class TestFoldingAndFlatten:
    def test_flatten_is_column_major(self, rng):
        x = rng.normal(size=(2, 3, 4, 5, 6))
        got = _np(L.Flatten(dtype="float64")(x))
        expected = np.stack([np.stack([ref.flatten_column_major(f) for f in s]) for s in x])
        _close(got, expected, 0)

    def test_fold_then_unfold_is_identity_and_folds_time_into_batch(self, rng):
        x = rng.normal(size=(2, 3, 4, 5, 6))
        folded, mini_batch = L.SequenceFolding(dtype="float64")(x)
        assert folded.shape == (6, 4, 5, 6)
        _close(_np(folded)[4], x[1, 1], 0)
        _close(_np(L.SequenceUnfolding(dtype="float64")([folded, mini_batch])), x, 0)


class TestWordEmbedding:
    def test_one_based_indices_and_out_of_vocabulary(self, rng):
        W = rng.normal(size=(3, 6))  # Dimension 3, NumWords 5 (+1 OOV column)
        layer = L.WordEmbedding(3, 5, weights=W, dtype="float64")
        indices = np.array([[1, 5, 0, 6, 9], [2, 2, 3, 4, 1]])
        _close(_np(layer(indices)), ref.word_embedding(indices, W, 5))

    def test_error_mode_rejects_out_of_vocabulary(self):
        layer = L.WordEmbedding(3, 5, oov_mode="error")
        layer(np.array([[1, 5]]))
        with pytest.raises(ValueError, match="out of vocabulary"):
            layer(np.array([[0, 1]]))


class TestSequenceInputNormalization:
    @pytest.mark.parametrize("kind", ["zerocenter", "zscore", "rescale-symmetric",
                                      "rescale-zero-one"])
    def test_adapt_and_formula_per_channel(self, rng, kind):
        sequences = [rng.normal(2.0, 3.0, (t, 4)) for t in (5, 9, 3)]
        layer = L.SequenceInput(4, normalization=kind, dtype="float64")
        layer.adapt(sequences)
        data = np.concatenate(sequences)
        stats = {"mean": data.mean(0), "std": data.std(0), "lo": data.min(0), "hi": data.max(0)}
        x = rng.normal(size=(2, 6, 4))
        _close(_np(layer(x)), ref.normalize(x, kind, **stats))

    def test_element_and_all_dimensions_on_image_sequences(self, rng):
        sequences = [rng.normal(size=(t, 3, 2, 2)) for t in (4, 6)]
        data = np.concatenate(sequences)
        for dimension, axes in (("element", (0,)), ("all", (0, 1, 2, 3)),
                                ("channel", (0, 1, 2))):
            layer = L.SequenceInput((3, 2, 2), normalization="zscore",
                                    normalization_dimension=dimension, dtype="float64")
            layer.adapt(sequences)
            x = rng.normal(size=(1, 2, 3, 2, 2))
            expected = ref.normalize(x, "zscore", mean=data.mean(axes), std=data.std(axes))
            _close(_np(layer(x)), expected)

    def test_matlab_shaped_statistics_are_accepted(self):
        layer = L.SequenceInput(2, normalization="zscore", mean=[[1.0], [2.0]],
                                standard_deviation=np.array([[2.0], [4.0]]), dtype="float64")
        _close(_np(layer(np.ones((1, 1, 2)))), [[[0.0, -0.25]]])

    def test_min_length_is_enforced(self):
        with pytest.raises(ValueError, match="MinLength = 3"):
            L.SequenceInput(2, min_length=3)(np.zeros((1, 2, 2), "float32"))

    def test_bad_statistics_shape_is_named(self):
        with pytest.raises(ValueError, match="StandardDeviation has shape"):
            L.SequenceInput(3, normalization="zscore", mean=0.0, standard_deviation=[1, 2])


class TestNormalizationLayers:
    def test_batch_normalization_uses_matlab_epsilon(self, rng):
        values = {"offset": rng.normal(size=3), "scale": rng.normal(size=3),
                  "trained_mean": rng.normal(size=3), "trained_variance": rng.uniform(0, 1e-4, 3)}
        layer = L.BatchNormalization(dtype="float64")
        layer.set_matlab_weights(**values)
        x = rng.normal(size=(2, 5, 3))
        assert layer.epsilon == 1e-5
        _close(_np(layer(x, training=False)), ref.batch_norm_inference(
            x, values["offset"], values["scale"], values["trained_mean"],
            values["trained_variance"]))

    def test_batch_normalization_training_step(self, rng):
        values = {"offset": rng.normal(size=3), "scale": rng.normal(size=3),
                  "trained_mean": rng.normal(size=3), "trained_variance": rng.uniform(0.5, 1, 3)}
        layer = L.BatchNormalization(dtype="float64")
        layer.set_matlab_weights(**values)
        x = rng.normal(size=(4, 6, 3)) * 2 + 1
        expected, mean, variance = ref.batch_norm_training(x, *values.values())
        _close(_np(layer(x, training=True)), expected)
        _close(layer.trained_mean, mean)
        _close(layer.trained_variance, variance)

    def test_layer_normalization_over_channels(self, rng):
        layer = L.LayerNormalization(dtype="float64")
        layer.set_matlab_weights(offset=rng.normal(size=4), scale=rng.normal(size=4))
        x = rng.normal(size=(2, 5, 4)) * 1e-3  # small variance: epsilon matters
        _close(_np(layer(x)), ref.layer_norm(x, layer.offset, layer.matlab_scale))

    @pytest.mark.parametrize("kind, shape", [("sequence", (3, 6, 4)), ("image", (2, 5, 3, 4)),
                                             ("image-sequence", (2, 3, 4, 2, 4))])
    @pytest.mark.parametrize("dimension", L.LayerNormalization.OPERATION_DIMENSIONS)
    def test_layer_normalization_over_matlabs_operation_dimension(self, rng, kind, shape,
                                                                  dimension):
        """Each OperationDimension on sequences (N, T, C), 2-D images (N, H, W, C) and image
        sequences (N, T, H, W, C), float64 and float32, one Scale and Offset per channel."""
        values = {"offset": rng.normal(size=4), "scale": rng.normal(size=4)}
        x = rng.normal(size=shape) * rng.uniform(0.5, 3, size=shape[-1]) + rng.normal(size=4)
        expected = ref.layer_norm(x, values["offset"], values["scale"],
                                  axes=ref.LAYER_NORM_AXES[kind][dimension])
        for dtype, atol in (("float64", tol.FLOAT64_ATOL), ("float32", tol.FLOAT32_ATOL)):
            layer = L.LayerNormalization(operation_dimension=dimension, dtype=dtype)
            layer.set_matlab_weights(**values)
            got = _np(layer(x.astype(dtype)))
            assert np.max(np.abs(got - expected)) <= atol, (dtype, np.max(np.abs(got - expected)))
        assert layer.gamma.shape == (4,)
        config = layer.get_config()
        assert config["operation_dimension"] == dimension
        assert type(layer).from_config(config).operation_dimension == dimension

    @pytest.mark.parametrize("shape", [(3, 6, 6), (2, 5, 3, 6), (2, 3, 4, 2, 6)],
                             ids=["sequence", "image", "image-sequence"])
    @pytest.mark.parametrize("groups", ["all-channels", 2, 3, "channel-wise"])
    def test_group_normalization_is_the_oracle(self, rng, shape, groups):
        values = {"offset": rng.normal(size=6), "scale": rng.normal(size=6)}
        x = rng.normal(size=shape) * rng.uniform(0.5, 3, size=6) + rng.normal(size=6)
        count = {"all-channels": 1, "channel-wise": 6}.get(groups, groups)
        expected = ref.group_norm(x, values["offset"], values["scale"], count)
        kinds = [L.GroupNormalization(groups, dtype=d) for d in ("float64", "float32")]
        if groups == "channel-wise":
            kinds += [L.InstanceNormalization(dtype=d) for d in ("float64", "float32")]
        for layer in kinds:
            layer.set_matlab_weights(**values)
            atol = tol.FLOAT64_ATOL if layer.dtype == "float64" else tol.FLOAT32_ATOL
            error = np.max(np.abs(_np(layer(x.astype(layer.dtype))) - expected))
            assert error <= atol, (type(layer).__name__, layer.dtype, error)
            restored = type(layer).from_config(layer.get_config())
            assert restored.get_config() == layer.get_config()
        assert kinds[0].get_config()["num_groups"] == groups

    def test_group_normalization_names_bad_groups(self):
        with pytest.raises(ValueError, match=r"num_groups \(MATLAB 'NumGroups'\) must be one of "
                                             r"\"all-channels\", \"channel-wise\""):
            L.GroupNormalization("rows")
        with pytest.raises(ValueError, match="must be a multiple"):
            L.GroupNormalization(4)(np.zeros((1, 3, 6)))

    def test_layer_normalization_names_a_bad_operation_dimension(self):
        with pytest.raises(ValueError, match=r"operation_dimension \(MATLAB 'OperationDimension'"
                                             r"\) must be one of .*\"batch-excluded\"; "
                                             r"received 'time'"):
            L.LayerNormalization(operation_dimension="time")

    def test_epsilon_below_matlab_minimum_is_rejected(self):
        with pytest.raises(ValueError, match="at least 1e-05"):
            L.BatchNormalization(epsilon=1e-6)


class TestOutputLosses:
    def test_cross_entropy_is_matlab_normalized_with_class_weights(self, rng):
        probabilities = rng.dirichlet(np.ones(4), size=(3, 5))  # (N, T, K)
        labels = rng.integers(0, 4, (3, 5))
        weights = [1.0, 2.0, 0.5, 3.0]
        assert L.Classification(class_weights=weights).loss.class_weights == weights
        loss = L.MatlabCrossEntropy(weights, dtype="float64")
        chosen = np.take_along_axis(probabilities, labels[..., None], -1)[..., 0]
        expected = -np.mean(np.take(weights, labels) * np.log(chosen))
        _close(float(loss(labels, probabilities)), expected, 1e-12)

    def test_a_keras_mask_survives_a_dtype_conversion(self, rng):
        """A float32 prediction carrying a Keras mask, into a float64 loss: the mean over the
        unmasked steps (the mask was dropped by the dtype conversion before)."""
        y, t = rng.normal(size=(3, 4, 2)).astype("float32"), rng.normal(size=(3, 4, 2))
        mask = np.arange(4)[None] < np.array([4, 2, 3])[:, None]
        prediction = keras.ops.convert_to_tensor(y)
        prediction._keras_mask = keras.ops.convert_to_tensor(mask)
        values = 0.5 * np.sum((y.astype("float64") - t) ** 2, axis=-1)
        expected = np.sum(values * mask) / mask.sum()
        got = float(L.MatlabHalfMeanSquaredError(dtype="float64")(t, prediction))
        _close(got, expected, 1e-6)  # float32 predictions

    def test_regression_is_half_squared_error_summed_over_responses(self, rng):
        y, t = rng.normal(size=(4, 6, 3)), rng.normal(size=(4, 6, 3))
        expected = np.sum(0.5 * (y - t) ** 2) / (4 * 6)
        assert isinstance(L.Regression().loss, L.MatlabHalfMeanSquaredError)
        _close(float(L.MatlabHalfMeanSquaredError(dtype="float64")(t, y)), expected, 1e-12)


def test_dropout_is_inverted_and_identity_at_prediction(rng):
    layer = L.Dropout(0.25, dtype="float64")
    x = rng.uniform(1, 2, size=(4, 50, 8))
    _close(_np(layer(x, training=False)), x, 0)
    kept = _np(layer(x, training=True))
    dropped = kept == 0
    np.testing.assert_allclose(kept[~dropped], x[~dropped] / 0.75, rtol=1e-12)
    assert 0.15 < dropped.mean() < 0.35


@pytest.mark.parametrize("shape", [(6, 40, 8), (6, 5, 4, 8), (6, 3, 4, 2, 8)],
                         ids=["sequence", "image", "image-sequence"])
def test_spatial_dropout_drops_whole_channels_and_is_identity_at_prediction(rng, shape):
    """spatialDropoutLayer: each observation's channel is dropped or kept whole (every time
    step and position), the kept ones scaled by 1/(1-p); nothing changes at prediction."""
    layer = L.SpatialDropout(0.25, dtype="float64")
    x = rng.uniform(1, 2, size=shape)
    _close(_np(layer(x, training=False)), x, 0)
    got = _np(layer(x, training=True))
    channels = np.moveaxis(got, -1, 1).reshape(shape[0], shape[-1], -1)  # (N, C, the rest)
    dropped = np.all(channels == 0, axis=-1)
    assert np.all(dropped | np.all(channels != 0, axis=-1))  # whole channels only
    kept = ~np.broadcast_to(dropped.reshape(shape[0], *[1] * (len(shape) - 2), shape[-1]), shape)
    np.testing.assert_allclose(got[kept], x[kept] / 0.75, rtol=1e-12)
    assert 0 < dropped.mean() < 0.6  # 48 draws at p = 0.25
    assert L.SpatialDropout(0.3).get_config()["probability"] == 0.3


def test_relu_and_softmax(rng):
    x = rng.normal(size=(2, 3, 5))
    _close(_np(L.ReLU(dtype="float64")(x)), np.maximum(x, 0))
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    _close(_np(L.Softmax(dtype="float64")(x)), e / e.sum(axis=-1, keepdims=True))


@pytest.mark.parametrize("layer", [
    L.SequenceInput((4, 4, 2), normalization="zscore", mean=0.5, standard_deviation=2.0,
                    min_length=2),
    L.Conv1D(3, 4, padding=(1, 2), stride=2, dilation_factor=2, weights_l2_factor=0.5),
    L.Conv2D(3, 4, padding="same"), L.MaxPooling1D(2, padding="same"),
    L.AveragePooling1D(3, padding=1, padding_value="mean"), L.GlobalMaxPooling1D(),
    L.GlobalAveragePooling1D(), L.SequenceFolding(), L.SequenceUnfolding(), L.Flatten(),
    L.WordEmbedding(3, 10, oov_mode="error"), L.FullyConnected(5, bias_l2_factor=1.0),
    L.Dropout(0.3), L.SpatialDropout(0.2), L.BatchNormalization(epsilon=1e-4),
    L.LayerNormalization(operation_dimension="batch-excluded"), L.ReLU(),
    L.Softmax(), L.Classification(class_weights=[1, 2], classes=["a", "b"]),
    L.Regression(response_names=["y"]),
], ids=lambda layer: type(layer).__name__)
def test_config_round_trip(layer):
    config = layer.get_config()
    restored = keras.layers.deserialize(keras.layers.serialize(layer))
    assert type(restored) is type(layer) and restored.get_config() == config
