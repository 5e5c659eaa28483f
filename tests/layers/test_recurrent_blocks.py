"""Both layouts of the recurrent product (whole kernel, one block per gate) against the oracle.

Which layout runs is the speed rule's choice per shape (``matkeras.ops._speed``); each one is
forced here with ``MATKERAS_RECURRENT_BLOCKS`` so that both are checked whatever the rule says.
"""

import keras
import numpy as np
import pytest

from matkeras.layers import LSTM
from matkeras.ops import _blocks
from tests import tolerances as tol
from tests.layers.family_specs import SPECS, Spec
from tests.layers.lstm_helpers import from_hnt, to_cbt

ATOL = {"float64": tol.FLOAT64_ATOL, "float32": tol.FLOAT32_ATOL}
ALL_SPECS = [Spec("lstm", LSTM, 4), *SPECS]


def _max_diff(a, b):
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


@pytest.mark.parametrize("layout", ["whole", "gates"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("spec", ALL_SPECS, ids=repr)
def test_each_layout_matches_oracle(monkeypatch, rng, spec, dtype, layout):
    monkeypatch.setenv("MATKERAS_RECURRENT_BLOCKS", layout)
    params = spec.random_params(rng, "softsign")
    states = spec.random_states(rng)
    layer = spec.make(state_activation="softsign", gate_activation="hard-sigmoid", dtype=dtype,
                      **dict(zip(spec.state_names, states, strict=True)))
    layer.set_matlab_weights(**params)
    x = rng.normal(0, 1, (3, 60, 3))
    y = keras.ops.convert_to_numpy(layer(x.astype(dtype)))
    Y, _, _ = spec.oracle(to_cbt(x), params, states, "softsign", "hard-sigmoid")
    assert _max_diff(y, from_hnt(Y)) <= ATOL[dtype]


@pytest.mark.parametrize("spec", ALL_SPECS, ids=repr)
def test_layouts_give_the_same_gradients(monkeypatch, rng, spec):
    import tensorflow as tf

    params = spec.random_params(rng)
    x = tf.constant(rng.normal(0, 1, (2, 30, 3)))
    grads = {}
    for layout in ("whole", "gates"):
        monkeypatch.setenv("MATKERAS_RECURRENT_BLOCKS", layout)
        layer = spec.make(dtype="float64")
        layer.set_matlab_weights(**params)
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.sin(layer(x)))
        grads[layout] = tape.gradient(loss, [v.value for v in layer.trainable_variables])
    for whole, gates in zip(grads["whole"], grads["gates"], strict=True):
        assert _max_diff(whole, gates) <= tol.FLOAT64_ATOL


def test_split_kernel_cuts_the_gate_blocks_for_the_gates_layout():
    kernel = np.zeros((5, 20))
    assert [k.shape for k in _blocks.split_kernel(kernel, 4, "gates")] == [(5, 5)] * 4
    assert len(_blocks.split_kernel(kernel, 4, "whole")) == 1


@pytest.mark.parametrize("traced", [False, True])
@pytest.mark.parametrize("spec", ALL_SPECS, ids=repr)
def test_a_one_step_sequence_runs_without_the_loop_and_matches_oracle(rng, spec, traced):
    """A time axis of length 1 known when tracing (streaming step by step) runs the step alone,
    eagerly and inside a tf.function, from non-zero initial states."""
    import tensorflow as tf

    params = spec.random_params(rng)
    states = spec.random_states(rng)
    layer = spec.make(dtype="float64", **dict(zip(spec.state_names, states, strict=True)))
    layer.set_matlab_weights(**params)
    x = rng.normal(0, 1, (3, 1, 3))
    run = tf.function(layer) if traced else layer
    y = keras.ops.convert_to_numpy(run(tf.constant(x)))
    Y, _, _ = spec.oracle(to_cbt(x), params, states, "tanh", "sigmoid")
    assert _max_diff(y, from_hnt(Y)) <= tol.FLOAT64_ATOL
