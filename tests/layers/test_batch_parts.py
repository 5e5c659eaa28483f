"""The batch run as independent loops, one per row block (``matkeras.ops._loop.in_parts``).

Whether the batch runs whole or in two halves side by side is the speed rule's choice per shape
(``matkeras.ops._speed``); here two parts are forced with ``MATKERAS_BATCH_PARTS`` so that the
split path is checked whatever the rule says: every layer kind
against the float64 oracle with per-row initial states (each half must get its own rows), odd
and unknown batch sizes, padding masked, and the gradients against the whole batch's.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from matkeras.layers import LSTM
from tests import tolerances as tol
from tests.layers.family_specs import SPECS, C, Spec
from tests.layers.lstm_helpers import from_hnt, to_cbt

ALL_SPECS = [Spec("lstm", LSTM, 4), *SPECS]
ATOL = {"float64": tol.FLOAT64_ATOL, "float32": tol.FLOAT32_ATOL}


def _max_diff(a, b):
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64)), initial=0))


@pytest.fixture
def two_parts(monkeypatch):
    monkeypatch.setenv("MATKERAS_BATCH_PARTS", "2")


def _stateful_layer(spec, rng, dtype="float64", **options):
    params = spec.random_params(rng)
    layer = spec.make(dtype=dtype, has_state_inputs=True, has_state_outputs=True, **options)
    layer.set_matlab_weights(**params)
    return layer, params


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("spec", ALL_SPECS, ids=repr)
def test_two_parts_with_per_row_states_match_the_oracle(two_parts, rng, spec, dtype):
    """5 rows (halves of 2 and 3), each from its own initial states: outputs and final states."""
    layer, params = _stateful_layer(spec, rng, dtype)
    x = rng.normal(0, 1, (5, 9, C))
    states = spec.random_states(rng, batch=5)
    results = layer([x.astype(dtype), *(s.astype(dtype) for s in states)])
    Y, _, finals = spec.oracle(to_cbt(x), params, [s.T for s in states], "tanh", "sigmoid")
    y, *got = (keras.ops.convert_to_numpy(r) for r in results)
    assert _max_diff(y, from_hnt(Y)) <= ATOL[dtype]
    for state, final in zip(got, finals, strict=True):
        assert _max_diff(state, final.T) <= ATOL[dtype]


@pytest.mark.parametrize("spec", ALL_SPECS, ids=repr)
def test_batch_unknown_when_tracing_splits_any_size(two_parts, rng, spec):
    """One trace with the batch unknown: sizes 1 (an empty half), 2 and 7 all come out right."""
    layer, params = _stateful_layer(spec, rng)
    width = spec.directions * 4
    run = tf.function(layer, input_signature=[[
        tf.TensorSpec((None, None, C), tf.float64),
        *[tf.TensorSpec((None, width), tf.float64) for _ in spec.state_names]]])
    for batch in (1, 2, 7):
        x = rng.normal(0, 1, (batch, 6, C))
        states = spec.random_states(rng, batch=batch)
        y = keras.ops.convert_to_numpy(run([tf.constant(x), *map(tf.constant, states)])[0])
        Y, _, _ = spec.oracle(to_cbt(x), params, [s.T for s in states], "tanh", "sigmoid")
        assert _max_diff(y, from_hnt(Y)) <= tol.FLOAT64_ATOL, batch


@pytest.mark.parametrize("spec", ALL_SPECS, ids=repr)
def test_masked_padding_is_split_with_its_rows(two_parts, rng, spec):
    """Each half gets its own rows of the mask: the final states are the oracle's on each
    row's unpadded sequence."""
    params, states = spec.random_params(rng), spec.random_states(rng)
    layer = spec.make(dtype="float64", use_mask=True, output_mode="last",
                      **dict(zip(spec.state_names, states, strict=True)))
    layer.set_matlab_weights(**params)
    valid = [13, 4, 9, 1]
    x = rng.normal(0, 1, (len(valid), 13, C))
    mask = np.arange(13)[None, :] < np.array(valid)[:, None]
    y = keras.ops.convert_to_numpy(layer(tf.constant(x), mask=tf.constant(mask)))
    for n, length in enumerate(valid):
        _, last, _ = spec.oracle(to_cbt(x[n:n + 1, :length]), params, states, "tanh", "sigmoid")
        assert _max_diff(y[n], last[:, 0]) <= tol.FLOAT64_ATOL, length


#: The LSTM backward choice exists for LSTM and BiLSTM (projected layers and GRUs always take
#: TensorFlow's gradient of the loop): both values there, one elsewhere.
TRAINING_CASES = [(spec, way) for spec in ALL_SPECS for way in (
    ("steps", "sequence") if spec.name in ("lstm", "bilstm") else ("steps",))]


@pytest.mark.parametrize(("spec", "backward"), TRAINING_CASES,
                         ids=[f"{spec!r}-{way}" for spec, way in TRAINING_CASES])
def test_two_parts_train_with_the_whole_batch_gradients(monkeypatch, rng, spec, backward):
    """Weight and input gradients of a training call in two parts equal the whole batch's (both
    LSTM backward passes)."""
    monkeypatch.setenv("MATKERAS_LSTM_BACKWARD", backward)
    params, states = spec.random_params(rng), spec.random_states(rng)
    x = tf.constant(rng.normal(0, 1, (5, 11, C)))
    grads = {}
    for parts in ("1", "2"):
        monkeypatch.setenv("MATKERAS_BATCH_PARTS", parts)
        layer = spec.make(dtype="float64", **dict(zip(spec.state_names, states, strict=True)))
        layer.set_matlab_weights(**params)
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_sum(tf.sin(3.0 * layer(x, training=True)))
        grads[parts] = tape.gradient(loss, [x, *(v.value for v in layer.trainable_variables)])
    for whole, halves in zip(grads["1"], grads["2"], strict=True):
        assert _max_diff(whole, halves) <= tol.FLOAT64_ATOL
