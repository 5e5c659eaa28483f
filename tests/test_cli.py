"""The ``matkeras`` command line, run as a user would (a subprocess)."""

import subprocess
import sys

import keras
import numpy as np
import scipy.io

from tests.conftest import fixture_path
from tests.fixtures.matlab_files import rossler_trajectory

ROSSLER = str(fixture_path("matlab", "nets", "rossler_lstm25.mat"))


def _run(*args):
    return subprocess.run([sys.executable, "-m", "matkeras.cli", *args], capture_output=True,
                          text=True, timeout=300)


def test_inspect_prints_the_layers():
    result = _run("inspect", ROSSLER)
    assert result.returncode == 0, result.stderr
    assert "SeriesNetwork 'net' with 4 layers" in result.stdout
    assert "LSTMLayer" in result.stdout and "InputWeights 100x3" in result.stdout


def test_convert_verifies_and_saves_and_never_overwrites(tmp_path):
    inputs = rossler_trajectory()[0][:200]
    from matkeras.converters import load_matlab_network

    expected = load_matlab_network(ROSSLER).predict(inputs[None].astype("float32"), verbose=0)
    scipy.io.savemat(tmp_path / "check.mat", {"X": inputs.T, "Y": expected[0].T})
    output = tmp_path / "rossler.keras"
    result = _run("convert", ROSSLER, "-o", str(output), "--verify", str(tmp_path / "check.mat"))
    assert result.returncode == 0, result.stderr
    assert "verify: max |difference|" in result.stderr and "[matkeras] done" in result.stderr
    model = keras.models.load_model(output)
    np.testing.assert_array_equal(model.predict(inputs[None].astype("float32"), verbose=0),
                                  expected)
    again = _run("convert", ROSSLER, "-o", str(output))
    assert again.returncode == 4 and "--force" in again.stderr
    assert _run("convert", ROSSLER, "-o", str(output), "--force").returncode == 0


def test_verify_mismatch_fails_with_code_3(tmp_path):
    inputs = rossler_trajectory()[0][:50]
    scipy.io.savemat(tmp_path / "wrong.mat", {"X": inputs.T, "Y": np.zeros((3, 50))})  # fc(3)
    result = _run("convert", ROSSLER, "-o", str(tmp_path / "m.keras"), "--verify",
                  str(tmp_path / "wrong.mat"))
    assert result.returncode == 3 and "--verify failed" in result.stderr
    assert not (tmp_path / "m.keras").exists()


def test_bad_input_exits_2_with_a_clear_message(tmp_path):
    (tmp_path / "bad.mat").write_text("definitely not a MAT-file" * 10)
    result = _run("inspect", str(tmp_path / "bad.mat"))
    assert result.returncode == 2
    assert "matkeras: error:" in result.stderr and "is not a MAT-file" in result.stderr
    assert "Traceback" not in result.stderr


def test_convert_to_tflite_and_saved_model(tmp_path):
    import tensorflow as tf

    from matkeras import export
    from matkeras.converters import load_matlab_network

    inputs = rossler_trajectory()[0][:50][None].astype("float32")
    expected = load_matlab_network(ROSSLER).predict(inputs, verbose=0)
    lite = tmp_path / "rossler.tflite"
    result = _run("convert", ROSSLER, "-o", str(lite), "--to", "tflite")
    assert result.returncode == 0, result.stderr
    assert "UNIDIRECTIONAL_SEQUENCE_LSTM" in result.stderr  # the op list is printed
    np.testing.assert_allclose(export.tflite_runner(lite)(inputs)["y"], expected, atol=1e-5)
    saved = tmp_path / "rossler_saved"
    assert _run("convert", ROSSLER, "-o", str(saved), "--to", "saved_model",
                "--streaming").returncode == 0
    loaded = tf.saved_model.load(str(saved))
    assert set(loaded.signatures) == {"serving_default", "streaming"}
    np.testing.assert_allclose(loaded.signatures["serving_default"](x=tf.constant(inputs))[
        "y"].numpy(), expected, atol=1e-5)
    assert _run("convert", ROSSLER, "-o", str(lite), "--to", "tflite").returncode == 4
    wrong = _run("convert", ROSSLER, "-o", str(tmp_path / "x.keras"), "--to", "tflite")
    assert wrong.returncode == 2 and "writes a .tflite file" in wrong.stderr
