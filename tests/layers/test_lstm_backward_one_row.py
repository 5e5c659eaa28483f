"""A batch of one sequence through the LSTM's whole-sequence backward pass when the batch runs in
two parts (``MATKERAS_BATCH_PARTS=2``, traced with the batch unknown, as ``model.fit`` traces):
the second part is empty, and its backward pass must contribute nothing (it once reshaped its
zero rows with -1 and asked for a (T*(C+1+H), T*4H) product: an out-of-memory error when
training on one long sequence, as MATLAB's forecasting examples do)."""

import keras
import numpy as np
import tensorflow as tf

from matkeras.layers import LSTM
from tests import tolerances as tol
from tests.layers.lstm_helpers import random_lstm_params


def _gradients(monkeypatch, x, parts, backward):
    monkeypatch.setenv("MATKERAS_BATCH_PARTS", parts)
    monkeypatch.setenv("MATKERAS_LSTM_BACKWARD", backward)
    layer = LSTM(6, dtype="float64")
    layer.set_matlab_weights(**random_lstm_params(np.random.default_rng(7), 2, 6))

    @tf.function(input_signature=[tf.TensorSpec((None, None, 2), tf.float64)])
    def step(inputs):
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            loss = tf.reduce_sum(layer(inputs, training=True) ** 2)
        return tape.gradient(loss, [inputs, *layer.trainable_variables])

    return [keras.ops.convert_to_numpy(g) for g in step(tf.constant(x))]


def test_one_row_in_two_parts_trains_as_one_loop(rng, monkeypatch):
    x = rng.normal(size=(1, 40, 2))
    split = _gradients(monkeypatch, x, "2", "sequence")
    reference = _gradients(monkeypatch, x, "1", "steps")
    worst = max(float(np.max(np.abs(a - b))) for a, b in zip(split, reference, strict=True))
    print(f"batch of 1 in two parts, sequence backward vs one loop: max |diff| {worst:.2e}")
    assert worst <= tol.FLOAT64_ATOL
