"""The LSTM's whole-sequence backward pass (``matkeras.ops._lstm_backward``, used in training).

Its input gradient is checked against central differences of the float64 numpy oracle (which
never imports matkeras), and every gradient (inputs, initial states, kernel, recurrent kernel,
bias) against TensorFlow's own gradient of the step-by-step loop, for every activation pair,
both kernel layouts, both output modes, both directions and the BiLSTM. Which of the two
backward passes runs is the speed rule's choice (``matkeras.ops._speed``); each is forced here
with ``MATKERAS_LSTM_BACKWARD``.
"""


import keras
import numpy as np
import pytest
import tensorflow as tf

import matkeras.ops.lstm as lstm_module
from matkeras.layers import LSTM, BiLSTM
from tests import tolerances as tol
from tests.layers.family_specs import C, H, Spec
from tests.layers.lstm_helpers import from_hnt, to_cbt

ACTIVATIONS = [("tanh", "sigmoid"), ("softsign", "hard-sigmoid"), ("relu", "sigmoid"),
               ("tanh", "hard-sigmoid")]
SPECS = {"lstm": Spec("lstm", LSTM, 4), "bilstm": Spec("bilstm", BiLSTM, 4, directions=2)}


def _layer(spec, params, states, acts, output_mode="sequence"):
    layer = spec.make(dtype="float64", state_activation=acts[0], gate_activation=acts[1],
                      output_mode=output_mode,
                      **dict(zip(spec.state_names, states, strict=True)))
    layer.set_matlab_weights(**params)
    return layer


def _gradients(layer, x, training):
    variables = [v.value for v in layer.trainable_variables]
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = tf.reduce_sum(tf.sin(3.0 * layer(x, training=training)))
    return tape.gradient(loss, [x, *variables])


def _max_diff(a, b):
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


@pytest.mark.parametrize("acts", ACTIVATIONS, ids="/".join)
@pytest.mark.parametrize("spec_name", ["lstm", "bilstm"])
def test_input_gradient_matches_central_differences_of_the_oracle(monkeypatch, rng, spec_name,
                                                                  acts):
    monkeypatch.setenv("MATKERAS_LSTM_BACKWARD", "sequence")
    spec = SPECS[spec_name]
    params, states = spec.random_params(rng, acts[0]), spec.random_states(rng)
    x = rng.normal(0, 1, (2, 9, C))
    layer = _layer(spec, params, states, acts)
    (dx, *_) = _gradients(layer, tf.constant(x), training=True)

    def oracle_loss(inputs):
        Y, _, _ = spec.oracle(to_cbt(inputs), params, states, *acts)
        return float(np.sum(np.sin(3.0 * from_hnt(Y))))

    direction = rng.normal(0, 1, x.shape)
    eps = 1e-6
    numeric = (oracle_loss(x + eps * direction) - oracle_loss(x - eps * direction)) / (2 * eps)
    analytic = float(np.sum(keras.ops.convert_to_numpy(dx) * direction))
    assert abs(numeric - analytic) <= 1e-6 * max(1.0, abs(numeric))


#: Every layout x output mode with every activation pair: each backward pass the layer can
#: take, with MATLAB's default activations and with each non-default pair.
GRADIENT_CASES = sorted({(a, m, lay) for a in ACTIVATIONS for m in ("sequence", "last")
                         for lay in ("whole", "gates")})


@pytest.mark.parametrize(("acts", "output_mode", "layout"), GRADIENT_CASES,
                         ids=["/".join(a) + f"-{m}-{lay}" for a, m, lay in GRADIENT_CASES])
@pytest.mark.parametrize("spec_name", ["lstm", "bilstm"])
def test_every_gradient_equals_tensorflows_gradient_of_the_loop(monkeypatch, rng, spec_name,
                                                                acts, output_mode, layout):
    monkeypatch.setenv("MATKERAS_RECURRENT_BLOCKS", layout)
    spec = SPECS[spec_name]
    params, states = spec.random_params(rng, acts[0]), spec.random_states(rng)
    x = tf.constant(rng.normal(0, 1, (3, 11, C)))
    grads = {}
    for way in ("steps", "sequence"):
        monkeypatch.setenv("MATKERAS_LSTM_BACKWARD", way)
        grads[way] = _gradients(_layer(spec, params, states, acts, output_mode), x, True)
    assert len(grads["sequence"]) == 4  # inputs, kernel, recurrent kernel, bias
    for steps, sequence in zip(grads["steps"], grads["sequence"], strict=True):
        assert _max_diff(steps, sequence) <= tol.FLOAT64_ATOL


@pytest.mark.parametrize("go_backwards", [False, True])
def test_initial_state_and_final_state_gradients(monkeypatch, rng, go_backwards):
    """States in and out (HasStateInputs/Outputs): the gradient reaches the initial states, and
    losses on the final hidden and cell states flow back, in both directions."""
    lstm = lstm_module.matlab_lstm
    x = tf.constant(rng.normal(0, 1, (2, 8, C)))
    kernel = tf.constant(rng.normal(0, 0.5, (C, 4 * H)))
    recurrent = tf.constant(rng.normal(0, 0.5, (H, 4 * H)))
    bias = tf.constant(rng.normal(0, 0.5, (4 * H,)))
    h0, c0 = (tf.constant(rng.normal(0, 0.5, (2, H))) for _ in range(2))
    grads = {}
    for way in ("steps", "sequence"):
        monkeypatch.setenv("MATKERAS_LSTM_BACKWARD", way)
        with tf.GradientTape() as tape:
            tape.watch([x, kernel, recurrent, bias, h0, c0])
            out, h, c = lstm(x, kernel, recurrent, bias, h0, c0, go_backwards=go_backwards,
                             training=True)
            loss = tf.reduce_sum(tf.sin(out)) + tf.reduce_sum(h * h) + tf.reduce_sum(tf.cos(c))
        grads[way] = tape.gradient(loss, [x, kernel, recurrent, bias, h0, c0])
    for steps, sequence in zip(grads["steps"], grads["sequence"], strict=True):
        assert _max_diff(steps, sequence) <= tol.FLOAT64_ATOL


def test_only_training_calls_take_it(monkeypatch, rng):
    """Inference keeps the plain loop (it stores nothing per step): a call without training=True
    never uses the whole-sequence backward pass, and its forward numbers are the same."""
    calls = []
    original = lstm_module._lstm_backward.lstm_sequence
    monkeypatch.setattr(lstm_module._lstm_backward, "lstm_sequence",
                        lambda *a, **k: calls.append(1) or original(*a, **k))
    monkeypatch.setenv("MATKERAS_LSTM_BACKWARD", "sequence")
    spec = SPECS["lstm"]
    layer = _layer(spec, spec.random_params(rng), spec.random_states(rng), ACTIVATIONS[0])
    x = rng.normal(0, 1, (2, 5, C))
    plain = keras.ops.convert_to_numpy(layer(x))
    assert calls == []
    trained = keras.ops.convert_to_numpy(layer(x, training=True))
    assert calls  # once, or once per half where the batch runs as two loops (the speed rule)
    assert _max_diff(plain, trained) <= tol.FLOAT64_ATOL


def test_inputs_whose_feature_axis_is_unknown_when_traced(monkeypatch, rng):
    """A tf.function traced for any feature count (as after a flatten of unknown size): the
    backward pass takes the feature count from the weights."""
    monkeypatch.setenv("MATKERAS_LSTM_BACKWARD", "sequence")
    spec = SPECS["lstm"]
    layer = _layer(spec, spec.random_params(rng), spec.random_states(rng), ACTIVATIONS[0])
    x = tf.constant(rng.normal(0, 1, (2, 6, C)))

    @tf.function(input_signature=[tf.TensorSpec((None, None, None), tf.float64)])
    def gradients(inputs):
        return _gradients(layer, inputs, training=True)

    monkeypatch.setenv("MATKERAS_LSTM_BACKWARD", "steps")
    expected = _gradients(layer, x, training=True)
    monkeypatch.setenv("MATKERAS_LSTM_BACKWARD", "sequence")
    for got, want in zip(gradients(x), expected, strict=True):
        assert _max_diff(got, want) <= tol.FLOAT64_ATOL
