"""The recurrent ops' speed rule (``matkeras.ops._speed.plan``): a fixed choice per shape,
overridable, and never a timing.

Each value the rule can take is checked against the oracle by its own tests
(test_recurrent_blocks.py, test_batch_parts.py, test_lstm_backward.py); here, that the rule
gives the choices its docstring's measurements justify, and that nothing on the call path
measures anything.
"""

import importlib

import pytest

from matkeras.ops import _speed

S, L = (32, 200, 12, 128), (32, 1000, 123, 320)


def _lstm(shape, training=False, directions=1):
    batch, _, features, units = shape
    return _speed.plan(features + 1 + units, 4 * units, batch, directions, training,
                       sequence_backward=True)


def _gru(shape, training=False):
    batch, _, _, units = shape
    return _speed.plan(units, 3 * units, batch, 1, training)


@pytest.fixture(autouse=True)
def _rule_only(monkeypatch):
    for name in ("MATKERAS_RECURRENT_BLOCKS", "MATKERAS_BATCH_PARTS", "MATKERAS_LSTM_BACKWARD"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.tensorflow
def test_the_measured_shapes_take_the_measured_choices():
    assert _lstm(S) == ("gates", 1, "steps")
    assert _lstm(S, training=True) == ("gates", 1, "sequence")
    assert _lstm(L) == ("whole", 2, "steps")
    assert _lstm(L, training=True) == ("whole", 2, "sequence")
    assert _gru(S) == ("gates", 1, "steps") and _gru(S, training=True).parts == 1
    assert _gru(L) == ("gates", 2, "steps")
    assert _gru(L, training=True).parts == 1  # TensorFlow's loop gradient: one loop trains faster
    assert _lstm(S, directions=2) == ("gates", 1, "steps")
    assert _lstm(L, directions=2).parts == 1  # a BiLSTM's directions already run side by side
    assert _lstm((128, 200, 12, 128)).parts == 2  # the larger batch: two loops
    assert _lstm((27, 26, 12, 100), training=True) == ("gates", 1, "sequence")  # the demo


def test_a_single_row_runs_one_loop_and_an_unknown_batch_counts_as_32():
    assert _lstm((1, 1000, 123, 320)).parts == 1
    assert _lstm((None, 1000, 123, 320)) == _lstm(L)


def test_without_the_whole_sequence_pass_training_keeps_one_loop():
    plan = _speed.plan(444, 1280, 32, 1, training=True, sequence_backward=False)
    assert plan.backward == "steps" and plan.parts == 1


def test_one_core_runs_one_loop(monkeypatch):
    monkeypatch.setattr(_speed.os, "cpu_count", lambda: 1)
    assert _lstm(L).parts == 1


@pytest.mark.tensorflow
def test_environment_and_forced_choices_override_the_rule(monkeypatch):
    monkeypatch.setenv("MATKERAS_RECURRENT_BLOCKS", "whole")
    monkeypatch.setenv("MATKERAS_BATCH_PARTS", "2")
    monkeypatch.setenv("MATKERAS_LSTM_BACKWARD", "steps")
    assert _lstm(S, training=True) == ("whole", 2, "steps")
    with _speed.forced(layout="gates", parts=1, backward="sequence"):
        assert _lstm(S, training=True) == ("gates", 1, "sequence")
    assert _lstm(S, training=True) == ("whole", 2, "steps")  # forced ends with the block
    monkeypatch.setenv("MATKERAS_BATCH_PARTS", "auto")
    assert _lstm(S).parts == 1


@pytest.mark.parametrize(("variable", "value"), [("MATKERAS_RECURRENT_BLOCKS", "diagonal"),
                                                 ("MATKERAS_BATCH_PARTS", "3"),
                                                 ("MATKERAS_LSTM_BACKWARD", "sideways")])
def test_unknown_settings_are_refused_by_name(monkeypatch, variable, value):
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValueError, match=f"{variable} must be one of"):
        _lstm(S)


def test_forced_refuses_unknown_choices():
    with pytest.raises(ValueError, match="forced: parts=3"):
        with _speed.forced(parts=3):
            pass


def test_no_op_module_reads_a_clock():
    """The choices come from the rule alone: no module on the ops' call path imports a clock
    (a probe times candidates; TensorFlow's own tracing reads clocks, so patching them cannot
    tell the two apart)."""
    for module in ("matkeras.ops._speed", "matkeras.ops._loop", "matkeras.ops._blocks",
                   "matkeras.ops._lstm_backward", "matkeras.ops.lstm", "matkeras.ops.gru",
                   "matkeras.layers._recurrent", "matkeras._forward"):
        names = vars(importlib.import_module(module))
        assert "time" not in names and "perf_counter" not in names, module
