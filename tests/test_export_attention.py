"""A network with self-attention (MathWorks' transformer example's shape) exports to SavedModel
and to TFLite with builtin ops only, keeps its outputs, and trains with model.fit."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from matkeras import export
from matkeras import layers as L
from tests import tolerances as tol


def transformer(rng, channels=3, max_position=64):
    """sequenceInput -> positionEmbedding + input -> selfAttention (causal) -> selfAttention
    -> indexing1d("last") -> fullyConnected, with random non-symmetric weights."""
    inputs = keras.Input((None, channels), name="x")
    pos = L.PositionEmbedding(channels, max_position,
                              weights=rng.normal(0, 0.5, (channels, max_position)))(inputs)
    x = keras.layers.Add()([pos, inputs])
    x = L.SelfAttention(3, 12, attention_mask="causal", bias_initializer="narrow-normal")(x)
    x = L.SelfAttention(2, 8, num_value_channels=6, bias_initializer="narrow-normal")(x)
    x = L.Indexing1D("last")(x)
    return keras.Model(inputs, L.FullyConnected(channels)(x))


@pytest.fixture
def model(rng):
    return transformer(rng)


def _keras(model, x):
    return keras.ops.convert_to_numpy(model(x, training=False))


def test_saved_model_reloads_with_free_batch_and_time(model, rng, tmp_path):
    loaded = tf.saved_model.load(export.export_saved_model(model, tmp_path / "saved"))
    serve = loaded.signatures["serving_default"]
    for batch, steps in ((1, 30), (5, 17)):
        x = rng.normal(size=(batch, steps, 3)).astype("float32")
        got = serve(x=tf.constant(x))["y"].numpy()
        assert float(np.max(np.abs(got - _keras(model, x)))) <= tol.FLOAT32_PAIR_ATOL


@pytest.mark.parametrize("batch,steps", [(1, None), (4, 30)], ids=["b1-free-time", "b4-t30"])
def test_tflite_has_builtin_ops_only_and_agrees_with_keras(model, rng, tmp_path, batch, steps):
    path = export.export_tflite(model, tmp_path / "net.tflite", batch_size=batch,
                                time_steps=steps)
    ops = export.tflite_ops(path)
    assert not [op for op in ops if op.startswith("Flex") or op == "CUSTOM"], ops
    run = export.tflite_runner(path)
    for length in ([30] if steps else [30, 9]):
        x = rng.normal(size=(batch, length, 3)).astype("float32")
        got = run(x)["y"]
        assert float(np.max(np.abs(got - _keras(model, x)))) <= tol.FLOAT32_PAIR_ATOL


def test_trains_with_fit(rng):
    # the attention layers' glorot weights and fit's shuffling come from Keras's global seed:
    # set it, so the result does not depend on the tests that ran before in the worker
    keras.utils.set_random_seed(0)
    model = transformer(rng)
    x = rng.normal(size=(64, 20, 3)).astype("float32")
    y = (x[:, -1] + 0.5 * x[:, -2]).astype("float32")
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    before = model.evaluate(x, y, verbose=0)
    model.fit(x, y, epochs=15, batch_size=16, verbose=0)
    assert model.evaluate(x, y, verbose=0) < 0.5 * before


def test_dropout_and_padding_mask_train_too(rng):
    data, mask = keras.Input((None, 4)), keras.Input((None,))
    x = L.SelfAttention(2, 8, has_padding_mask_input=True, dropout_probability=0.1)(
        [data, mask])
    out = L.Indexing1D("last", has_padding_mask_input=True)([x, mask])
    model = keras.Model([data, mask], out)
    x = rng.normal(size=(32, 6, 4)).astype("float32")
    m = (np.arange(6)[None] < rng.integers(2, 7, size=(32, 1))).astype("float32")
    target = x[np.arange(32), m.sum(axis=1).astype(int) - 1]
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    history = model.fit([x, m], target, epochs=10, batch_size=8, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_a_sequence_longer_than_max_position_fails_loudly_after_export(rng, tmp_path):
    model = transformer(rng, max_position=16)
    x = np.zeros((1, 20, 3), "float32")
    loaded = tf.saved_model.load(export.export_saved_model(model, tmp_path / "saved"))
    with pytest.raises(tf.errors.InvalidArgumentError, match="MaxPosition is 16"):
        loaded.signatures["serving_default"](x=tf.constant(x))
    run = export.tflite_runner(export.export_tflite(model, tmp_path / "net.tflite"))
    with pytest.raises(RuntimeError, match="BROADCAST_TO"):  # TFLite drops the assertion
        run(x)
