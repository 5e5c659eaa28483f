"""A covering design for the recurrent layers' oracle tests (DESIGN.md, house style 13).

The full cross product of activations x output modes x lengths x dtypes ran 72 cases per layer
and test (96 for the LSTM), most of their time at long lengths. Each factor's interactions that
can matter are kept: every activation pair meets both output modes and both dtypes at a short
length that runs the recurrence, both output modes at one step in float64 (the step that runs
without a loop, ``matkeras.ops._loop``), and the long length in float64 with every step's output
compared; every length meets both output modes and both dtypes at MATLAB's default activations;
and the long length also runs the two pairs furthest from the defaults (softsign with
hard-sigmoid, relu with sigmoid: a state that does not saturate) in float32, where rounding
accumulates over the steps.
"""

import itertools

import pytest

STATE_ACTIVATIONS = ["tanh", "softsign", "relu"]
GATE_ACTIVATIONS = ["sigmoid", "hard-sigmoid"]
OUTPUT_MODES = ["sequence", "last"]
DTYPES = ["float64", "float32"]
_LONG_PAIRS = [("softsign", "hard-sigmoid"), ("relu", "sigmoid")]


def recurrent_cases(short, lengths, long, one_step):
    """``pytest.param(state, gate, output_mode, length, dtype)`` cases: `short` and every entry
    of `lengths` are time lengths (or ``(time, batch)`` pairs), `long` the longest of them,
    `one_step` the one-step entry (the step that runs without a loop)."""
    cases = set()
    pairs = list(itertools.product(STATE_ACTIVATIONS, GATE_ACTIVATIONS))
    for (state, gate), mode, dtype in itertools.product(pairs, OUTPUT_MODES, DTYPES):
        cases.add((state, gate, mode, short, dtype))
    for (state, gate), mode in itertools.product(pairs, OUTPUT_MODES):
        cases.add((state, gate, mode, one_step, "float64"))  # the step without the loop
    for state, gate in pairs:  # the whole sequence's every step, exact, at the long length
        cases.add((state, gate, "sequence", long, "float64"))
    for length, mode, dtype in itertools.product(lengths, OUTPUT_MODES, DTYPES):
        cases.add(("tanh", "sigmoid", mode, length, dtype))
    for (state, gate), mode in itertools.product(_LONG_PAIRS, OUTPUT_MODES):
        cases.add((state, gate, mode, long, "float32"))
    return [pytest.param(*case, id="-".join(map(_text, case))) for case in sorted(cases, key=str)]


def _text(value):
    return "x".join(map(str, value)) if isinstance(value, tuple) else str(value)
