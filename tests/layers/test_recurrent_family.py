"""BiLSTM, GRU (every reset mode), LSTMProjected and GRUProjected against the numpy oracle, over
a covering design of activations, output modes, lengths and dtypes (tests/layers/covering.py)."""

import keras
import numpy as np
import pytest

from tests import tolerances as tol
from tests.layers.covering import recurrent_cases
from tests.layers.family_specs import SPECS
from tests.layers.lstm_helpers import from_hnt, to_cbt

#: Lengths 1 (one step, no loop), 2 and 500; activation pairs at 2 (tests/layers/covering.py).
CASES = recurrent_cases(short=2, lengths=[1, 2, 500], long=500, one_step=1)
ATOL = {"float64": tol.FLOAT64_ATOL, "float32": tol.FLOAT32_ATOL}


def _max_diff(a, b):
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


def _numpy(values):
    return [keras.ops.convert_to_numpy(v) for v in values]


@pytest.mark.parametrize(("state", "gate", "output_mode", "time", "dtype"), CASES)
@pytest.mark.parametrize("spec", SPECS, ids=repr)
def test_initial_states_match_oracle(rng, spec, state, gate, output_mode, time, dtype):
    params = spec.random_params(rng, state)
    states = spec.random_states(rng)
    layer = spec.make(output_mode=output_mode, state_activation=state, gate_activation=gate,
                      dtype=dtype, **dict(zip(spec.state_names, states, strict=True)))
    layer.set_matlab_weights(**params)
    x = rng.normal(0, 1, (3, time, 3))
    y = keras.ops.convert_to_numpy(layer(x.astype(dtype)))
    Y, last, _ = spec.oracle(to_cbt(x), params, states, state, gate)
    expected = from_hnt(Y) if output_mode == "sequence" else last.T
    assert y.shape == expected.shape and y.dtype == np.dtype(dtype)
    assert _max_diff(y, expected) <= ATOL[dtype]


@pytest.mark.parametrize(("state", "gate", "output_mode", "time", "dtype"), CASES)
@pytest.mark.parametrize("spec", SPECS, ids=repr)
def test_state_inputs_and_outputs_match_oracle(rng, spec, state, gate, output_mode, time, dtype):
    batch = 3
    params = spec.random_params(rng, state)
    states = spec.random_states(rng, batch)
    layer = spec.make(output_mode=output_mode, state_activation=state, gate_activation=gate,
                      has_state_inputs=True, has_state_outputs=True, dtype=dtype)
    layer.set_matlab_weights(**params)
    x = rng.normal(0, 1, (batch, time, 3))
    y, *finals = _numpy(layer([x.astype(dtype), *(s.astype(dtype) for s in states)]))
    Y, last, expected_finals = spec.oracle(to_cbt(x), params, [s.T for s in states], state, gate)
    expected = from_hnt(Y) if output_mode == "sequence" else last.T
    assert _max_diff(y, expected) <= ATOL[dtype]
    assert len(finals) == len(expected_finals)
    for got, want in zip(finals, expected_finals, strict=True):
        assert _max_diff(got, want.T) <= ATOL[dtype]


@pytest.mark.parametrize("spec", SPECS, ids=repr)
def test_mixed_float16_policy_matches_oracle(rng, spec):
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        layer = spec.make(state_activation="softsign")
        layer.set_matlab_weights(**spec.random_params(rng))
        x = rng.normal(0, 1, (3, 30, 3))
        y = keras.ops.convert_to_numpy(layer(x.astype("float32")))
    finally:
        keras.config.set_dtype_policy(previous)
    stored = {key: getattr(layer, key) for key in spec.random_params(rng)}  # as float32 holds
    Y, _, _ = spec.oracle(to_cbt(x), stored, [None] * len(spec.state_names), "softsign",
                          "sigmoid")
    assert y.dtype == np.float16 and layer.kernel.dtype == "float32"
    assert _max_diff(y, from_hnt(Y)) <= tol.MIXED_FLOAT16_ATOL
