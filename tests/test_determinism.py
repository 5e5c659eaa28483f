"""Repeatable numbers on request: with TensorFlow's op determinism on, two fresh processes compute
the same bits (outputs and gradients), because the ops' measured speed choices (product layout,
batch loops, LSTM backward pass) take fixed values and no probe runs."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np

SCRIPT = textwrap.dedent("""
    import importlib, json, sys
    import numpy as np
    import tensorflow as tf
    import keras
    from matkeras.layers import GRU, LSTM
    from matkeras.ops import _blocks, _loop

    lstm = importlib.import_module("matkeras.ops.lstm")  # the module (matkeras.ops.lstm: the op)

    if sys.argv[2] == "on":
        tf.config.experimental.enable_op_determinism()
    keras.utils.set_random_seed(0)
    inputs = keras.Input((None, 12))
    hidden = LSTM(32, state_activation="softsign")(inputs)
    hidden = GRU(16, output_mode="last")(hidden)
    model = keras.Model(inputs, keras.layers.Dense(3)(hidden))
    x = tf.constant(np.random.default_rng(1).normal(0, 1, (16, 30, 12)), tf.float32)
    inference = model(x, training=False)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.square(model(x, training=True)))
    gradients = tape.gradient(loss, model.trainable_variables)
    np.savez(sys.argv[1], inference=inference.numpy(),
             **{f"g{k}": g.numpy() for k, g in enumerate(gradients)})
    print(json.dumps({"layouts": len(_blocks.CHOSEN), "batch_parts": len(_loop.PARTS_CHOSEN),
                      "backward": len(lstm.BACKWARD_CHOSEN)}))
""")


def _run(tmp_path, name, determinism):
    environment_free = {key: value for key, value in os.environ.items()
                        if not key.startswith(("MATKERAS_RECURRENT_BLOCKS", "MATKERAS_BATCH",
                                               "MATKERAS_LSTM_BACKWARD", "TF_DETERMINISTIC"))}
    result = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path / name), determinism],
                            capture_output=True, text=True, timeout=600, env=environment_free)
    assert result.returncode == 0, result.stderr[-3000:]
    probes = json.loads(result.stdout.strip().splitlines()[-1])
    with np.load(tmp_path / name) as saved:
        return {key: saved[key] for key in saved.files}, probes


def test_op_determinism_gives_the_same_bits_in_two_processes(tmp_path):
    first, probes = _run(tmp_path, "first.npz", "on")
    assert probes == {"layouts": 0, "batch_parts": 0, "backward": 0}, probes  # fixed choices
    second, _ = _run(tmp_path, "second.npz", "on")
    assert sorted(first) == sorted(second) and len(first) > 6
    for key, value in first.items():
        assert np.isfinite(value).all() and np.any(value != 0), key
        np.testing.assert_array_equal(second[key], value, err_msg=key)


def test_without_op_determinism_the_choices_are_measured(tmp_path):
    """The other side of the switch: by default the probes run (so the test above shows that
    determinism is what turned them off)."""
    _, probes = _run(tmp_path, "measured.npz", "off")
    assert probes["batch_parts"] > 0 and probes["layouts"] > 0, probes
