"""export_onnx: ONNX's own LSTM/GRU nodes with MATLAB's options, run by ONNX Runtime, equal to
Keras within 1e-5 for each recurrent option and every fixture network (CNNs, graphs and the
transformer included); the files pass onnx.checker (full check), reload through matkeras's ONNX
importer to the same outputs, and the layers it does not map are refused by name before
anything is written."""

import itertools
import warnings

import keras
import numpy as np
import onnx
import onnxruntime
import pytest

from matkeras import export
from matkeras.converters import load_matlab_network, load_onnx_network
from matkeras.layers import (
    GRU,
    LSTM,
    BiLSTM,
    Dropout,
    FullyConnected,
    ReLU,
    SequenceInput,
    Softmax,
    SpatialDropout,
)
from tests import tolerances as tol
from tests.conftest import fixture_path

PAIRS = list(itertools.product(["tanh", "softsign", "relu"], ["sigmoid", "hard-sigmoid"]))


def _runtime(path, x):
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"x": x})[0]


def _randomize(model, rng):
    """Random non-symmetric values in every variable (weights and initial states) but the
    input normalization's statistics (given by the test)."""
    for layer in model.layers:
        if isinstance(layer, SequenceInput):
            continue
        for variable in layer.weights:
            variable.assign(rng.normal(0, 0.5, variable.shape))


def _check(model, path, rng, batch=4, steps=9):
    export.export_onnx(model, path, overwrite=True)
    onnx.checker.check_model(str(path), full_check=True)
    channels = model.inputs[0].shape[-1]
    x = rng.normal(0, 1, (batch, steps, channels)).astype("float32")
    expected = np.asarray(model(x))
    got = _runtime(path, x)
    assert got.shape == expected.shape
    error = float(np.max(np.abs(got - expected)))
    assert error <= tol.FLOAT32_PAIR_ATOL, error
    return x, expected, error


def _network(recurrent, rng, normalization="zscore"):
    keras.utils.set_random_seed(int(rng.integers(1 << 30)))
    inputs = keras.Input((None, 3))
    stats = {"zscore": {"mean": rng.normal(size=3), "standard_deviation": rng.uniform(1, 2, 3)},
             "rescale-symmetric": {"min": -rng.uniform(1, 2, 3), "max": rng.uniform(1, 2, 3)},
             "none": {}}[normalization]
    h = SequenceInput(3, normalization=normalization, **stats)(inputs)
    for layer in recurrent:
        h = layer(h)
    h = SpatialDropout(0.1)(ReLU()(h))  # the dropouts: identities at prediction
    model = keras.Model(inputs, Softmax()(FullyConnected(4)(Dropout(0.2)(h))))
    _randomize(model, rng)
    return model


@pytest.mark.parametrize(("state", "gate"), PAIRS, ids=["-".join(p) for p in PAIRS])
def test_lstm_activations_and_output_modes(state, gate, rng, tmp_path):
    model = _network([LSTM(5, state_activation=state, gate_activation=gate),
                      LSTM(4, state_activation=state, gate_activation=gate,
                           output_mode="last")], rng)
    _check(model, tmp_path / "lstm.onnx", rng)


@pytest.mark.parametrize("mode", ["after-multiplication", "recurrent-bias-after-multiplication",
                                  "before-multiplication"])
def test_gru_reset_gate_modes(mode, rng, tmp_path):
    model = _network([GRU(5, reset_gate_mode=mode),
                      GRU(4, reset_gate_mode=mode, state_activation="softsign",
                          gate_activation="hard-sigmoid", output_mode="last")], rng,
                     normalization="rescale-symmetric")
    _check(model, tmp_path / "gru.onnx", rng)


@pytest.mark.parametrize("output_mode", ["sequence", "last"])
def test_bilstm_both_output_modes_and_reload(output_mode, rng, tmp_path):
    model = _network([BiLSTM(4, state_activation="relu", gate_activation="hard-sigmoid",
                             output_mode=output_mode)], rng, normalization="none")
    path = tmp_path / "bilstm.onnx"
    x, expected, _ = _check(model, path, rng)
    reloaded = load_onnx_network(path)
    assert float(np.max(np.abs(np.asarray(reloaded(x)) - expected))) <= tol.FLOAT32_PAIR_ATOL


def test_padded_batches_run_as_keras_runs_them(rng, tmp_path):
    """MATLAB pads and runs every step (no mask): a right-padded batch gives the same numbers
    in ONNX Runtime as in Keras."""
    model = _network([LSTM(6, output_mode="last")], rng)
    path = tmp_path / "padded.onnx"
    export.export_onnx(model, path)
    x = rng.normal(0, 1, (3, 8, 3)).astype("float32")
    x[0, 5:] = 0.0
    x[2, 2:] = 0.0
    assert float(np.max(np.abs(_runtime(path, x) - np.asarray(model(x))))) \
        <= tol.FLOAT32_PAIR_ATOL


def _fixture_networks():
    return sorted(p.name for p in fixture_path("matlab", "nets").glob("*.mat")
                  if "__" not in p.name)


@pytest.mark.parametrize("file", _fixture_networks())
def test_every_fixture_network_equals_onnx_runtime_and_reloads(file, rng, tmp_path):
    """Every MATLAB-saved network (sequence chains, the 1-D and 2-D CNNs, the two-input DAG,
    the transformer): ONNX Runtime within 1e-5 of Keras at a second time length too, and the
    file reads back through load_onnx_network to the same outputs at both lengths (the
    transformer's position embedding and causal mask through ONNX's run-time shape
    arithmetic: Shape, Gather, Slice, Concat, ConstantOfShape, Expand, Trilu, Where)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # renamed layers
        model = load_matlab_network(fixture_path("matlab", "nets", file))
    path = tmp_path / "net.onnx"
    export.export_onnx(model, path)
    onnx.checker.check_model(str(path), full_check=True)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    assert names == (["x"] if len(model.inputs) == 1 else
                     [f"x{k + 1}" for k in range(len(model.inputs))])
    reloaded = load_onnx_network(path)
    images = all(len(t.shape) == 4 for t in model.inputs)  # no time axis: one size
    for steps in (12,) if images else (12, 5):
        # sequences N(0, 1); images in the fixtures' range (as tests/test_backends.py)
        x = [(rng.uniform(0, 0.2, (2, *t.shape[1:])) if len(t.shape) == 4 else
              rng.normal(size=[2] + [steps if d is None else d for d in t.shape[1:]]))
             .astype("float32") for t in model.inputs]
        expected = model(x if len(x) > 1 else x[0])
        expected = np.asarray(expected[0] if isinstance(expected, (list, tuple)) else expected)
        got = session.run(None, dict(zip(names, x, strict=True)))[0]
        assert got.shape == expected.shape
        error = float(np.max(np.abs(got - expected)))
        print(f"{file} ({steps} steps): ONNX Runtime vs Keras {error:.1e}")
        assert error <= tol.FLOAT32_PAIR_ATOL, error
        again = reloaded(x if len(x) > 1 else x[0])
        again = np.asarray(again[0] if isinstance(again, (list, tuple)) else again)
        assert float(np.max(np.abs(again - expected))) <= tol.FLOAT32_PAIR_ATOL


def test_unmapped_layers_are_refused_by_name_and_nothing_is_written(rng, tmp_path):
    from matkeras.layers import LSTMProjected, PReLU

    for layer, message in ((LSTMProjected(4, 2, 2, name="proj"),
                            r"layer 'proj' \(LSTMProjected\) has no ONNX mapping"),
                           (PReLU(np.ones(3), name="prelu"),
                            r"layer 'prelu' \(PReLU\) has no ONNX mapping"),
                           (LSTM(3, has_state_outputs=True, name="stateful"),
                            r"layer 'stateful' \(LSTM\) uses masking, state inputs/outputs")):
        inputs = keras.Input((None, 3))
        out = layer(SequenceInput(3)(inputs))
        model = keras.Model(inputs, out[0] if isinstance(out, (list, tuple)) else out)
        with pytest.raises(ValueError, match=message):
            export.export_onnx(model, tmp_path / "net.onnx")
        assert not (tmp_path / "net.onnx").exists()


def test_an_existing_file_is_not_overwritten(rng, tmp_path):
    model = _network([LSTM(3)], rng)
    path = tmp_path / "mine.onnx"
    path.write_bytes(b"mine")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        export.export_onnx(model, path)
    assert path.read_bytes() == b"mine"
