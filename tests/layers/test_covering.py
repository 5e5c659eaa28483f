"""The covering designs keep the oracle's reach (#35): every activation pair at one step (the
step without a loop) in both output modes and at the long length in float64, every length at
MATLAB's defaults, and every LSTM backward pass (layout x output mode) with non-default
activations."""

import itertools

from tests.layers import test_lstm, test_lstm_backward, test_recurrent_family
from tests.layers.covering import GATE_ACTIVATIONS, OUTPUT_MODES, STATE_ACTIVATIONS

PAIRS = list(itertools.product(STATE_ACTIVATIONS, GATE_ACTIVATIONS))


def _cases(module):
    return {tuple(param.values) for param in module.CASES}


def test_every_activation_pair_runs_one_step_and_the_long_length_in_float64():
    for module, one_step, long in ((test_lstm, (1, 7), (2000, 7)),
                                   (test_recurrent_family, 1, 500)):
        cases = _cases(module)
        for (state, gate), mode in itertools.product(PAIRS, OUTPUT_MODES):
            assert (state, gate, mode, one_step, "float64") in cases, (module, state, gate)
        for state, gate in PAIRS:
            assert (state, gate, "sequence", long, "float64") in cases, (module, state, gate)


def test_every_lstm_backward_pass_runs_with_non_default_activations():
    combos = {(mode, layout) for acts, mode, layout in test_lstm_backward.GRADIENT_CASES
              if acts != ("tanh", "sigmoid")}
    assert combos == set(itertools.product(("sequence", "last"), ("whole", "gates")))
