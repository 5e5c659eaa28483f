"""Repeatable numbers by default: two fresh processes compute the same bits (predictions through
Keras and through ``matkeras.inference``, gradients), with or without TensorFlow's op determinism,
because the ops' speed choices (product layout, batch loops, LSTM backward pass) come from a
fixed rule (``matkeras.ops._speed``), never from a timing."""

import os
import subprocess
import sys
import textwrap

import numpy as np

SCRIPT = textwrap.dedent("""
    import sys
    import numpy as np
    import tensorflow as tf
    import keras
    from matkeras.inference import predict
    from matkeras.layers import GRU, LSTM, BiLSTM

    def run():
        keras.utils.set_random_seed(0)
        inputs = keras.Input((None, 12))
        hidden = LSTM(200, state_activation="softsign")(inputs)  # two loops at batch 32
        hidden = BiLSTM(24)(hidden)
        hidden = GRU(16, output_mode="last")(hidden)
        model = keras.Model(inputs, keras.layers.Dense(3)(hidden))
        x = np.random.default_rng(1).normal(0, 1, (32, 30, 12)).astype("float32")
        inference = model(tf.constant(x), training=False)
        matlab = predict(model, [x[n, :20 + n % 10] for n in range(32)], mini_batch_size=16)
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.square(model(tf.constant(x), training=True)))
        gradients = tape.gradient(loss, model.trainable_variables)
        return dict(inference=inference.numpy(), predict=matlab,
                    **{f"g{k}": g.numpy() for k, g in enumerate(gradients)})

    np.savez(sys.argv[1], **run())
    if sys.argv[2] == "then-on":  # a new network, the same numbers, with op determinism on
        tf.config.experimental.enable_op_determinism()
        np.savez(sys.argv[1].replace(".npz", "-determinism.npz"), **run())
""")


def _run(tmp_path, name, determinism="off"):
    default = {key: value for key, value in os.environ.items()
               if not key.startswith(("MATKERAS_", "TF_DETERMINISTIC"))}
    result = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / name), determinism],
                            capture_output=True, text=True, timeout=600, env=default)
    assert result.returncode == 0, result.stderr[-3000:]
    return _load(tmp_path / name)


def _load(path):
    with np.load(path) as saved:
        return {key: saved[key] for key in saved.files}


def _assert_same_bits(first, second):
    assert sorted(first) == sorted(second) and len(first) > 10
    for key, value in first.items():
        assert np.isfinite(value).all() and np.any(value != 0), key
        np.testing.assert_array_equal(second[key], value, err_msg=key)


def test_fresh_processes_give_the_same_bits_with_default_settings_and_with_op_determinism(
        tmp_path):
    """Two processes with default settings agree bit for bit; the first then builds the
    network again with TensorFlow's op determinism on and agrees with them too: nothing in
    matkeras depends on it any more (it used to pin choices that are now the rule's)."""
    first = _run(tmp_path, "first.npz", "then-on")
    _assert_same_bits(first, _run(tmp_path, "second.npz"))
    _assert_same_bits(first, _load(tmp_path / "first-determinism.npz"))
