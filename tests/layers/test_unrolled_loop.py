"""The time loop that runs several steps per iteration (``matkeras.ops._loop.unrolled_while``).

Small recurrent products run ``UNROLL`` steps per loop iteration and, for a length known when
tracing, the remaining ``time % UNROLL`` steps one at a time; a length known only when running
runs one loop over whole chunks, the time axis taken as longer at the front and the extra steps
not kept (``_peeled_while``). The
helper is checked against a plain numpy loop, and every layer kind against the float64 numpy
oracle at lengths below, at and past a multiple of the unroll, with the length unknown when
tracing, with padding masked, and (values and gradients) through TensorFlow's gradient of the
unrolled loop.
"""

import importlib

import keras
import numpy as np
import pytest
import tensorflow as tf

from matkeras.layers import LSTM
from tests import tolerances as tol
from tests.layers.family_specs import SPECS, C, Spec
from tests.layers.lstm_helpers import from_hnt, to_cbt

_loop = importlib.import_module("matkeras.ops._loop")
_speed = importlib.import_module("matkeras.ops._speed")
ALL_SPECS = [Spec("lstm", LSTM, 4), *SPECS]
LENGTHS = [3, 8, 19]  # below, at and past a multiple of the unroll (4)


@pytest.fixture(autouse=True)
def _default_unroll(monkeypatch):
    """These tests are about the rule's unrolled loop: no MATKERAS_LOOP_UNROLL."""
    monkeypatch.delenv("MATKERAS_LOOP_UNROLL", raising=False)


def _max_diff(a, b):
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64)), initial=0))


def _numpy_recurrence(x, c0, reverse):
    """c_t = tanh(0.9 c_{t-1} + x_t) (from the last step back when reverse), and c_t * x_t."""
    c, states, products = c0, [None] * len(x), [None] * len(x)
    for t in (range(len(x) - 1, -1, -1) if reverse else range(len(x))):
        c = np.tanh(0.9 * c + x[t])
        states[t], products[t] = c, c * x[t]
    return c, np.array(states).reshape(x.shape), np.array(products).reshape(x.shape)


@pytest.mark.parametrize("dynamic", [False, True])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("unroll", [1, 3, 8])
def test_unrolled_while_matches_a_plain_loop(rng, unroll, reverse, dynamic):
    def body(inputs_t, carry):
        (x_t,), (c,) = inputs_t, carry
        c = tf.tanh(0.9 * c + x_t)
        return (c,), (c, c * x_t)

    def run(x, c0):
        outputs = ((x.dtype, c0.shape), (x.dtype, c0.shape))
        return _loop.unrolled_while(body, (x,), (c0,), outputs, reverse=reverse, unroll=unroll)

    signature = [tf.TensorSpec((None, None, 2), tf.float64), tf.TensorSpec((None, 2), tf.float64)]
    traced = tf.function(run, input_signature=signature if dynamic else None, autograph=False)
    lengths = [0, 1, 2, 3, 7, 8, 9, 16, 17, 20] if not dynamic else [1, 3, 8, 20]
    for length in lengths:
        x, c0 = rng.normal(0, 1, (length, 3, 2)), rng.normal(0, 1, (3, 2))
        (c,), (states, products) = traced(tf.constant(x), tf.constant(c0))
        c_np, states_np, products_np = _numpy_recurrence(x, c0, reverse)
        assert states.shape == x.shape
        for got, want in ((c, c_np), (states, states_np), (products, products_np)):
            assert _max_diff(got, want) <= tol.FLOAT64_ATOL, (length, unroll, reverse)


def test_unrolled_while_reads_tensor_arrays_and_returns_them_unstacked(rng):
    x, c0 = rng.normal(0, 1, (11, 3, 2)), rng.normal(0, 1, (3, 2))

    @tf.function(autograph=False)
    def run():
        array = tf.TensorArray(tf.float64, size=11).unstack(tf.constant(2.0 * x))
        (c,), (states,) = _loop.unrolled_while(
            lambda inputs_t, carry: ((carry[0] + inputs_t[0] - inputs_t[1],),) * 2,
            (tf.constant(x), array), (tf.constant(c0),), ((tf.float64, c0.shape),),
            stack=False, unroll=4)
        return c, states.stack()

    c, states = run()
    assert _max_diff(states, c0 - np.cumsum(x, axis=0)) <= tol.FLOAT64_ATOL
    assert _max_diff(c, c0 - x.sum(axis=0)) <= tol.FLOAT64_ATOL


def test_small_products_unroll_large_ones_do_not():
    assert _loop.unroll_for(140, 512) == _loop.UNROLL == 4  # 12 features, 128 units
    assert _loop.unroll_for(443, 1280) == 1  # 123 features, 320 units


@pytest.mark.parametrize("spec", ALL_SPECS, ids=repr)
def test_every_unroll_setting_gives_the_same_bits(rng, spec):
    """MATKERAS_LOOP_UNROLL (the test suite runs most modules with 1) changes the graph, not the
    numbers: the same ops run per step, so outputs and final states are the same bits for a
    length known when tracing and one known only when running (19 steps: whole chunks of 4 and
    the rest)."""
    x = tf.constant(rng.normal(0, 1, (2, 19, C)).astype("float32"))
    layer = spec.make(dtype="float32", output_mode="sequence", has_state_outputs=True)
    layer(x)
    layer.set_weights([rng.normal(0, 0.5, w.shape) for w in layer.get_weights()])
    results = {}
    for unroll in ("1", "4"):  # what the suite runs, and the rule's choice here
        with _speed.forced(unroll=unroll):
            assert _loop.unroll_for(140, 512) == int(unroll)
            free = tf.function(layer, input_signature=[tf.TensorSpec((None, None, C))])
            results[unroll] = [keras.ops.convert_to_numpy(t)
                               for call in (free, tf.function(layer)) for t in call(x)]
    for unroll, outputs in results.items():
        for got, expected in zip(outputs, results["4"], strict=True):
            np.testing.assert_array_equal(got, expected, err_msg=unroll)


@pytest.mark.parametrize("spec", [s for s in ALL_SPECS if s.name in ("lstm", "bilstm")],
                         ids=repr)
def test_every_unroll_setting_gives_the_same_gradient_bits_through_the_sequence_backward(
        rng, spec):
    """The LSTM's whole-sequence backward pass (the rule's choice in training) runs an unrolled
    reverse loop: its input and weight gradients are the same bits with 1 and 4 steps per
    iteration, as the outputs are."""
    x = tf.constant(rng.normal(0, 1, (2, 19, C)).astype("float32"))
    layer = spec.make(dtype="float32", output_mode="sequence")
    layer(x)
    layer.set_weights([rng.normal(0, 0.5, w.shape) for w in layer.get_weights()])
    gradients = {}
    for unroll in ("1", "4"):
        with _speed.forced(unroll=unroll, backward="sequence"):
            @tf.function
            def step(x):
                with tf.GradientTape() as tape:
                    tape.watch(x)
                    loss = tf.reduce_sum(tf.sin(3.0 * layer(x, training=True)))
                return tape.gradient(loss, [x, *layer.trainable_weights])
            gradients[unroll] = [g.numpy() for g in step(x)]
    for got, expected in zip(gradients["1"], gradients["4"], strict=True):
        np.testing.assert_array_equal(got, expected)


def test_the_unroll_setting_is_checked_and_keys_the_traces(monkeypatch):
    monkeypatch.setenv("MATKERAS_LOOP_UNROLL", "3")
    with pytest.raises(ValueError, match=r"MATKERAS_LOOP_UNROLL must be one of .*'1', '2', '4', "
                                         r"'8'.*received '3'"):
        _loop.unroll_for(140, 512)
    monkeypatch.setenv("MATKERAS_LOOP_UNROLL", "auto")
    assert _loop.unroll_for(140, 512) == 4
    with pytest.raises(ValueError, match="forced: unroll=3"):
        with _speed.forced(unroll=3):
            pass
    monkeypatch.setenv("MATKERAS_LOOP_UNROLL", "1")
    assert ("unroll", "1") in _speed.settings()  # in every traced function's cache key


def _layer(spec, rng, **options):
    params, states = spec.random_params(rng), spec.random_states(rng)
    layer = spec.make(dtype="float64", **options,
                      **dict(zip(spec.state_names, states, strict=True)))
    layer.set_matlab_weights(**params)
    return layer, params, states


@pytest.mark.parametrize("spec", ALL_SPECS, ids=repr)
def test_length_unknown_when_tracing_matches_oracle(rng, spec):
    """One trace with the time axis unknown runs both loops: every length must come out right."""
    layer, params, states = _layer(spec, rng)
    run = tf.function(layer, input_signature=[tf.TensorSpec((None, None, C), tf.float64)])
    for length in LENGTHS:
        x = rng.normal(0, 1, (2, length, C))
        y = keras.ops.convert_to_numpy(run(tf.constant(x)))
        Y, _, _ = spec.oracle(to_cbt(x), params, states, "tanh", "sigmoid")
        assert _max_diff(y, from_hnt(Y)) <= tol.FLOAT64_ATOL, length


@pytest.mark.parametrize("spec", ALL_SPECS, ids=repr)
def test_padding_masked_at_the_end_matches_the_oracle_on_the_unpadded_steps(rng, spec):
    """Masked steps past a sequence's end carry the states over (unrolled steps included): the
    final state and the valid steps' outputs are the oracle's on the unpadded sequence."""
    layer, params, states = _layer(spec, rng, use_mask=True, output_mode="last")
    x = rng.normal(0, 1, (2, 19, C))
    valid = [19, 11]
    mask = np.arange(19)[None, :] < np.array(valid)[:, None]
    y = keras.ops.convert_to_numpy(layer(tf.constant(x), mask=tf.constant(mask)))
    for n, length in enumerate(valid):
        _, last, _ = spec.oracle(to_cbt(x[n:n + 1, :length]), params, states, "tanh", "sigmoid")
        assert _max_diff(y[n], last[:, 0]) <= tol.FLOAT64_ATOL, length


#: The backward passes of the loop: TensorFlow's gradient of it ("steps", every layer kind) and
#: the LSTM's own whole-sequence pass ("sequence", an unrolled reverse loop: matkeras.ops.
#: _lstm_backward), the rule's choice for LSTM and BiLSTM in training.
BACKWARDS = [(spec, "steps") for spec in ALL_SPECS] + [
    (spec, "sequence") for spec in ALL_SPECS if spec.name in ("lstm", "bilstm")]


@pytest.mark.parametrize("spec, backward", BACKWARDS, ids=lambda v: str(getattr(v, "name", v)))
def test_gradient_of_the_unrolled_loop_matches_central_differences_of_the_oracle(
        monkeypatch, rng, spec, backward):
    monkeypatch.setenv("MATKERAS_LSTM_BACKWARD", backward)
    layer, params, states = _layer(spec, rng)
    x = rng.normal(0, 1, (2, 19, C))
    tensor = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(tensor)
        loss = tf.reduce_sum(tf.sin(3.0 * layer(tensor, training=True)))
    dx = keras.ops.convert_to_numpy(tape.gradient(loss, tensor))

    def oracle_loss(inputs):
        Y, _, _ = spec.oracle(to_cbt(inputs), params, states, "tanh", "sigmoid")
        return float(np.sum(np.sin(3.0 * from_hnt(Y))))

    direction = rng.normal(0, 1, x.shape)
    eps = 1e-6
    numeric = (oracle_loss(x + eps * direction) - oracle_loss(x - eps * direction)) / (2 * eps)
    assert abs(numeric - float(np.sum(dx * direction))) <= 1e-6 * max(1.0, abs(numeric))
