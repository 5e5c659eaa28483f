"""load_matlab_network and inspect_mat on the real MATLAB-saved fixtures, and on bad input."""

import shutil
import struct
import warnings
import zlib
from concurrent.futures import ThreadPoolExecutor

import keras
import numpy as np
import pytest

from matkeras import layers as L
from matkeras.converters import MatFileError, inspect_mat, load_matlab_network
from matkeras.converters.builder import build_network
from matkeras.converters.matlab_network import read_networks
from tests import tolerances as tol
from tests.conftest import fixture_path
from tests.fixtures.matlab_files import (
    kolmogorov,
    rossler_trajectory,
    saved_layers,
    value,
    vcs_features,
)
from tests.reference.lstm import lstm_forward


def _net(name):
    return fixture_path("matlab", "nets", name)


def _uncompressed(data):
    """The same MAT v5 file with its zlib-compressed elements stored plainly (and the header's
    subsystem offset moved along), so that mutations reach the decoder instead of zlib."""
    out, position = bytearray(data[:128]), 128
    subsystem = struct.unpack_from("<Q", data, 116)[0]
    while position + 8 <= len(data):
        if position == subsystem:
            struct.pack_into("<Q", out, 116, len(out))
        kind, size = struct.unpack_from("<II", data, position)
        body = data[position + 8:position + 8 + size]
        out += zlib.decompress(body) if kind == 15 else data[position:position + 8 + size]
        position += 8 + size + (0 if kind == 15 else (-size) % 8)
    return bytes(out)


def _write(folder, data):
    path = folder / "plain.mat"
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("name", ["rossler_lstm25.mat", "rossler_lstm60.mat"])
def test_rossler_networks_match_the_oracle(name):
    model = load_matlab_network(_net(name))
    assert [type(layer) for layer in model.layers[1:]] == [L.SequenceInput, L.LSTM,
                                                           L.FullyConnected, L.Regression]
    inputs, target = rossler_trajectory()
    window = inputs[:3000]
    got = model.predict(window[None].astype("float32"), verbose=0)[0]
    _, lstm, fc, _ = saved_layers(name)
    Y, _, _ = lstm_forward(window.T[:, None, :], value(lstm, "InputWeights"),
                           value(lstm, "RecurrentWeights"), value(lstm, "Bias"))
    expected = (value(fc, "Weights") @ Y[:, 0, :] + value(fc, "Bias")).T
    assert np.max(np.abs(got - expected)) <= tol.FLOAT32_ATOL


def test_rossler_lstm60_rmse():
    model = load_matlab_network(_net("rossler_lstm60.mat"))
    inputs, target = rossler_trajectory()
    prediction = model.predict(inputs[None].astype("float32"), verbose=0)[0, :, 0]
    rmse = float(np.sqrt(np.mean((prediction - target) ** 2)))
    assert abs(rmse - tol.ROSSLER_LSTM60_RMSE) <= tol.ROSSLER_LSTM60_RMSE_TOL, rmse


def test_kolmogorov_converts_with_its_zscore_layer():
    model = load_matlab_network(_net("kolmogorov_3xlstm32_zscore.mat"), variable="lstm_net")
    sequence_input = model.layers[1]
    assert sequence_input.normalization == "zscore"
    _, X, q, matlab_prediction, tau = kolmogorov()
    start, length = 74925, 24970
    target = q[start + tau:start + tau + length]
    prediction = model.predict(X[None, start:start + length].astype("float32"),
                               verbose=0)[0, :, 0]
    rmse = float(np.sqrt(np.mean((prediction - target) ** 2)))
    matlab_rmse = float(np.sqrt(np.mean((matlab_prediction - target) ** 2)))
    assert abs(rmse / 0.01043 - 1) <= 0.03, rmse
    assert abs(rmse / matlab_rmse - 1) <= 0.05, (rmse, matlab_rmse)


def test_vcs_bilstm_accuracy():
    model = load_matlab_network(_net("vcs_bilstm100_last.mat"))
    classes = model.layers[-1].classes
    accuracies = []
    for split in ("Train", "Validation"):
        x, labels = vcs_features(split)
        scores = model.predict(x.astype("float32"), verbose=0)
        predicted = np.array([int(classes[k]) for k in np.argmax(scores, axis=1)])
        accuracies.append(float(np.mean(predicted == labels)))
    assert round(accuracies[0], 3) == 0.996 and accuracies[1] == 1.0, accuracies


def test_converted_network_reloads_from_keras_file_identically(tmp_path):
    model = load_matlab_network(_net("rossler_lstm25.mat"))
    x = rossler_trajectory()[0][None, :500].astype("float32")
    model.save(tmp_path / "rossler.keras")
    reloaded = keras.models.load_model(tmp_path / "rossler.keras")
    np.testing.assert_array_equal(reloaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_inspect_mat_summarizes_layers():
    summary = inspect_mat(_net("vcs_bilstm100_last.mat"))
    assert [row["class"].rsplit(".", 1)[-1] for row in summary] == [
        "SequenceInputLayer", "BiLSTMLayer", "FullyConnectedLayer", "SoftmaxLayer",
        "ClassificationOutputLayer"]
    assert summary[1]["learnables"]["InputWeights"] == (800, 17)
    assert summary[1]["options"]["NumHiddenUnits"] == 100
    text = str(summary)
    assert "BiLSTMLayer" in text and "InputWeights 800x17" in text


class TestBadInput:
    def test_missing_file(self, tmp_path):
        with pytest.raises(MatFileError, match="does not exist"):
            load_matlab_network(tmp_path / "nope.mat")

    def test_not_a_mat_file(self, tmp_path):
        path = tmp_path / "notes.mat"
        path.write_text("hello " * 100)
        with pytest.raises(MatFileError, match="is not a MAT-file"):
            load_matlab_network(path)

    def test_truncated_file(self, tmp_path):
        data = _net("rossler_lstm25.mat").read_bytes()
        path = tmp_path / "truncated.mat"
        path.write_bytes(data[: len(data) // 2])
        with pytest.raises(MatFileError):
            load_matlab_network(path)

    def test_mat_file_without_a_network(self):
        with pytest.raises(MatFileError, match=r"holds no saved network; its variables are "
                                               r"\['train_data'\]"):
            load_matlab_network(fixture_path("matlab", "data", "rossler_trajectory.mat"))

    def test_wrong_variable_lists_the_variables(self):
        with pytest.raises(MatFileError, match=r"has no variable 'net'; its variables are "
                                               r"\['X', .*'lstm_net'"):
            load_matlab_network(_net("kolmogorov_3xlstm32_zscore.mat"), variable="net")

    def test_variable_that_is_not_a_network(self):
        with pytest.raises(MatFileError, match="'lstm_options' .* not a saved network"):
            load_matlab_network(_net("kolmogorov_3xlstm32_zscore.mat"), variable="lstm_options")

    @pytest.mark.parametrize("name,plain,compressed,head", [
        ("rossler_lstm25.mat", 48, 16, L.Regression),
        ("dlnetwork_lstm100_relu_experiment_output.mat", 24, 8, L.FullyConnected),
        ("dagnetwork_transformer_selfattention.mat", 24, 8, L.Regression),
    ], ids=["SeriesNetwork", "dlnetwork", "DAGNetwork"])
    def test_randomly_mutated_copies_fail_cleanly(self, tmp_path, name, plain, compressed,
                                                  head):
        """Seeded byte mutations of a real fixture (most of its uncompressed form, where the
        decoder meets the damage, some of the compressed file): each either still converts to
        a network or ends in MatFileError; no crash (mat-io's decoder does crash on some of
        them, in its own process), no hang, nothing else escapes. 64 mutants of the small
        SeriesNetwork, 32 of a dlnetwork and of a DAGNetwork, through ``read_networks``: one
        decoder process serves the mutants in turn, and a new one takes over after each crash
        (two such queues, one per core)."""
        original = _net(name).read_bytes()
        sources = [_uncompressed(original)] * plain + [original] * compressed
        rng = np.random.default_rng(2026)
        paths = []
        for case, source in enumerate(sources):
            data = bytearray(source)
            for _ in range(int(rng.integers(1, 8))):
                data[int(rng.integers(128, len(data)))] = int(rng.integers(0, 256))
            if case % 10 == 0:
                data = data[: int(rng.integers(128, len(data)))]
            paths.append(tmp_path / f"mutant{case}.mat")
            paths[-1].write_bytes(bytes(data))
        assert isinstance(load_matlab_network(_write(tmp_path, _uncompressed(original)))
                          .layers[-1], head)

        with ThreadPoolExecutor(max_workers=2) as pool:
            halves = list(pool.map(lambda half: read_networks(half, timeout=60),
                                   [paths[0::2], paths[1::2]]))
        decoded = halves[0] + halves[1]
        assert len(decoded) == len(paths)
        outcomes = {"converted": 0, "rejected": 0, "crashed decoder": 0}
        for result in decoded:
            if isinstance(result, MatFileError):
                outcomes["rejected"] += 1
                outcomes["crashed decoder"] += "crashed" in str(result)
                continue
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", UserWarning)
                    model = build_network(result, compile=False)
            except MatFileError:
                outcomes["rejected"] += 1
            else:
                assert isinstance(model.layers[-1], head)
                outcomes["converted"] += 1
        print(outcomes)
        assert outcomes["rejected"] > len(paths) // 2, outcomes

    def test_one_decoder_process_survives_a_crash_and_a_hang(self, tmp_path, monkeypatch):
        """read_networks decodes files in turn in one process; a file that kills the decoder
        or hangs it gets its own error, and a new process decodes the files after it. (The
        decoder is wrapped to abort or sleep on the files named so: mat-io's own crashes are
        not reproducible on demand.)"""
        import matkeras.converters.matlab_network as reader

        wrapper = tmp_path / "child.py"
        wrapper.write_text(
            "import importlib.util, os, sys, time\n"
            f"spec = importlib.util.spec_from_file_location('child', {reader._CHILD!r})\n"
            "child = importlib.util.module_from_spec(spec); spec.loader.exec_module(child)\n"
            "real = child.main\n"
            "def main(source, target, variable=None):\n"
            "    if 'crash' in source: os.abort()\n"
            "    if 'hang' in source: time.sleep(60)\n"
            "    real(source, target, variable)\n"
            "child.main = main\n"
            "child.serve()\n")
        monkeypatch.setattr(reader, "_CHILD", str(wrapper))
        good = _net("rossler_lstm25.mat")
        names = ["first", "crash", "second", "hang", "third"]
        paths = []
        for name in names:
            paths.append(tmp_path / f"{name}.mat")
            shutil.copy(good, paths[-1])
        results = read_networks(paths, timeout=5)
        assert [type(r).__name__ for r in results] == [
            "SavedNetwork", "MatFileError", "SavedNetwork", "MatFileError", "SavedNetwork"]
        assert "crashed (signal" in str(results[1]) and "took too long" in str(results[3])
        assert all(len(results[k].layers) == 4 for k in (0, 2, 4))

    def test_the_decoder_process_serves_the_next_file_and_ends_with_its_input(self):
        """A decoder process that finished a file waits for the next (mat-io imports once);
        it exits when its standard input closes (the caller's exit), within seconds."""
        import matkeras.converters.matlab_network as reader

        reader._Decoder.close_idle()  # those earlier tests here left
        read_networks([_net("rossler_lstm25.mat")])
        pids = {d.process.pid for d in reader._Decoder._idle}
        assert len(pids) == 1
        (second,) = read_networks([_net("series_gru100_gait.mat")])
        assert len(second.layers) == 5
        assert {d.process.pid for d in reader._Decoder._idle} == pids
        decoder = reader._Decoder.take()
        decoder.process.stdin.close()
        assert decoder.process.wait(timeout=30) == 0
        decoder.close()

    def test_copy_with_renamed_extension_still_reads(self, tmp_path):
        copy = tmp_path / "network.bin"
        shutil.copy(_net("rossler_lstm25.mat"), copy)
        assert isinstance(load_matlab_network(copy).layers[2], L.LSTM)


def test_unsupported_layers_are_listed_together():
    from matkeras.converters.builder import build_layers
    from matkeras.converters.matlab_network import SavedLayer, infer_class

    records = [
        SavedLayer(1, "in", "nnet.cnn.layer.SequenceInputLayer",
                   {"InputSize": np.array([[3.0]]), "Normalization": np.zeros((0, 0)),
                    "MinLength": np.array([[1.0]])}),
        SavedLayer(2, "relu", infer_class({"Version": np.array([[1.0]]),
                                           "Name": np.array(["relu"])}), {}),
        SavedLayer(3, "peep", "lab.PeepholeLSTMLayer", {"NumHiddenUnits": np.array([[4.0]])}),
    ]
    assert records[1].matlab_class == "unknown"
    with pytest.raises(MatFileError, match=r"layer 2 'relu' \(unknown.*; layer 3 'peep' "
                                           r"\(lab.PeepholeLSTMLayer, a custom layer class: "
                                           r"its MATLAB code is not in the file.*custom_layers="
                                           r".*Nothing was loaded"):
        build_layers("net.mat", records)
