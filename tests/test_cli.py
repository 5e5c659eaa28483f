"""The ``matkeras`` command line, run as a user would (a subprocess, with the environment a user
has: no TF_CPP_MIN_LOG_LEVEL) where what is checked is a fresh process's (TensorFlow's start-up
lines, what gets imported); the conversions' other checks call ``matkeras.cli.main`` in this
process (each fresh process costs TensorFlow's import, 6-9 s here), their output read from the
file descriptors (``capfd``: TensorFlow's C++ logging included). ``make test-installed`` runs the
installed ``matkeras`` command too."""

import os
import re
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import scipy.io

from tests.conftest import fixture_path
from tests.fixtures.matlab_files import rossler_trajectory

ROSSLER = str(fixture_path("matlab", "nets", "rossler_lstm25.mat"))


#: A line of TensorFlow's C++ logging ("I0000 00:00:... port.cc:153] oneDNN custom ...").
TF_LOG_LINE = re.compile(r"^[IWEF]\d{4} |^WARNING: All log messages before absl", re.MULTILINE)
USER_ENVIRONMENT = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}


def _run(*args):
    return subprocess.run([sys.executable, "-m", "matkeras.cli", *args], capture_output=True,
                          text=True, timeout=300, env=USER_ENVIRONMENT)


@pytest.fixture
def cli_main(capfd, monkeypatch):
    """``cli_main(*args)``: ``matkeras.cli.main(args)`` run in this process, its exit code and
    output as ``_run`` gives them; the environment variable it sets (TF_CPP_MIN_LOG_LEVEL) is put
    back after."""
    from matkeras import cli

    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0"))

    def call(*args):
        capfd.readouterr()
        try:
            code = cli.main(list(args))
        except SystemExit as exit:
            code = exit.code
        out, err = capfd.readouterr()
        return subprocess.CompletedProcess(args, code, out, err)

    return call


def _modules_after(code):
    """Whether TensorFlow and Keras are loaded after running `code` in a fresh process."""
    script = textwrap.dedent(code) + textwrap.dedent("""
        import sys
        print("tensorflow" in sys.modules, "keras" in sys.modules)
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=300, env=USER_ENVIRONMENT)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.strip().splitlines()[-1]


def test_inspect_prints_the_layers_and_nothing_else():
    result = _run("inspect", ROSSLER)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("SeriesNetwork 'net' with 4 layers (classes as recorded in "
                                    "the file)\n")
    assert "LSTMLayer" in result.stdout and "InputWeights 100x3" in result.stdout
    assert result.stderr == ""
    assert not TF_LOG_LINE.search(result.stdout)


def test_import_version_and_help_load_no_tensorflow():
    assert _modules_after("import matkeras; matkeras.__version__") == "False False"
    for arguments in (["--version"], ["--help"], ["convert", "--help"]):
        assert _modules_after(f"""
            import contextlib, io
            from matkeras import cli
            with contextlib.redirect_stdout(io.StringIO()):
                try:
                    cli.main({arguments!r})
                except SystemExit as exit:
                    assert exit.code == 0, exit.code
        """) == "False False", arguments
    result = _run("--version")
    assert result.returncode == 0 and result.stdout.startswith("matkeras ")


def test_inspect_loads_no_tensorflow():
    """Needs the converters' TensorFlow-free inspect (issue 18's lazy matkeras.converters)."""
    assert _modules_after(f"""
        import contextlib, io
        from matkeras import cli
        with contextlib.redirect_stdout(io.StringIO()) as printed:
            assert cli.main(["inspect", {ROSSLER!r}]) == 0
        assert "SeriesNetwork" in printed.getvalue()
    """) == "False False"


def test_bad_tflite_sizes_exit_2_before_loading_anything(tmp_path):
    for option, value in (("--batch-size", "0"), ("--time-steps", "ten")):
        result = _run("convert", ROSSLER, "-o", str(tmp_path / "x.tflite"), "--to", "tflite",
                      option, value)
        assert result.returncode == 2 and "must be a positive integer or auto" in result.stderr
        assert option in result.stderr


def test_convert_verifies_and_saves_and_never_overwrites(tmp_path, cli_main):
    inputs = rossler_trajectory()[0][:200]
    from matkeras.converters import load_matlab_network

    expected = load_matlab_network(ROSSLER).predict(inputs[None].astype("float32"), verbose=0)
    scipy.io.savemat(tmp_path / "check.mat", {"X": inputs.T, "Y": expected[0].T})
    output = tmp_path / "rossler.keras"
    result = _run("convert", ROSSLER, "-o", str(output), "--verify", str(tmp_path / "check.mat"))
    assert result.returncode == 0, result.stderr
    assert all(line.startswith("[matkeras] ") for line in result.stderr.splitlines()), \
        result.stderr
    assert "verify: max |difference|" in result.stderr and "; done in" in result.stderr
    model = keras.models.load_model(output)
    np.testing.assert_array_equal(model.predict(inputs[None].astype("float32"), verbose=0),
                                  expected)
    again = cli_main("convert", ROSSLER, "-o", str(output))
    assert again.returncode == 4 and "--force" in again.stderr
    forced = _run("convert", ROSSLER, "-o", str(output), "--force", "--verbose")
    assert forced.returncode == 0, forced.stderr
    # --verbose shows TensorFlow's start-up lines, which the runs above kept out of stderr
    assert TF_LOG_LINE.search(forced.stderr), forced.stderr


def test_verify_mismatch_fails_with_code_3(tmp_path, cli_main):
    inputs = rossler_trajectory()[0][:50]
    scipy.io.savemat(tmp_path / "wrong.mat", {"X": inputs.T, "Y": np.zeros((3, 50))})  # fc(3)
    result = cli_main("convert", ROSSLER, "-o", str(tmp_path / "m.keras"), "--verify",
                  str(tmp_path / "wrong.mat"))
    assert result.returncode == 3 and "--verify failed" in result.stderr
    assert not (tmp_path / "m.keras").exists()


def test_bad_input_exits_2_with_a_clear_message(tmp_path):
    (tmp_path / "bad.mat").write_text("definitely not a MAT-file" * 10)
    result = _run("inspect", str(tmp_path / "bad.mat"))
    assert result.returncode == 2
    assert "matkeras: error:" in result.stderr and "is not a MAT-file" in result.stderr
    assert "Traceback" not in result.stderr


def test_convert_to_tflite_and_saved_model(tmp_path, cli_main):
    import tensorflow as tf

    from matkeras import export
    from matkeras.converters import load_matlab_network

    inputs = rossler_trajectory()[0][:50][None].astype("float32")
    expected = load_matlab_network(ROSSLER).predict(inputs, verbose=0)
    lite = tmp_path / "rossler.tflite"
    result = cli_main("convert", ROSSLER, "-o", str(lite))  # the format from the extension
    assert result.returncode == 0, result.stderr
    assert "UNIDIRECTIONAL_SEQUENCE_LSTM" in result.stderr  # the op list is printed
    assert re.search(rf"wrote {re.escape(str(lite))} \(\d+\.\d kB\)", result.stderr)
    assert all(line.startswith("[matkeras] ") for line in result.stderr.splitlines()), \
        result.stderr  # and nothing of TensorFlow's converter
    np.testing.assert_allclose(export.tflite_runner(lite)(inputs)["y"], expected, atol=1e-5)
    saved = tmp_path / "rossler_saved"
    folder = cli_main("convert", ROSSLER, "-o", str(saved), "--streaming")  # no extension
    assert folder.returncode == 0, folder.stderr
    assert re.search(r"wrote .*rossler_saved/ \(\d+ files, ", folder.stderr)
    loaded = tf.saved_model.load(str(saved))
    assert set(loaded.signatures) == {"serving_default", "streaming"}
    np.testing.assert_allclose(loaded.signatures["serving_default"](x=tf.constant(inputs))[
        "y"].numpy(), expected, atol=1e-5)
    assert cli_main("convert", ROSSLER, "-o", str(lite), "--to", "tflite").returncode == 4
    wrong = cli_main("convert", ROSSLER, "-o", str(tmp_path / "x.keras"), "--to", "tflite")
    assert wrong.returncode == 2 and "writes a .tflite file" in wrong.stderr


def test_argument_errors_come_before_tensorflow_loads(tmp_path):
    """A format the extension does not name, a missing input, a missing --verify file: exit 2
    at once, without the seconds TensorFlow takes to load."""
    for arguments, message in (
            (["convert", ROSSLER, "-o", str(tmp_path / "net.pt")], "cannot tell the format"),
            (["convert", str(tmp_path / "missing.mat"), "-o", str(tmp_path / "n.keras")],
             "does not exist"),
            (["convert", ROSSLER, "-o", str(tmp_path / "n.keras"), "--verify",
              str(tmp_path / "none.mat")], "--verify: "),
            (["convert", ROSSLER, "-o", str(tmp_path / "n.keras"), "--to", "tflite"],
             "writes a .tflite file")):
        assert _modules_after(f"""
            import contextlib, io
            from matkeras import cli
            with contextlib.redirect_stderr(io.StringIO()) as printed:
                try:
                    code = cli.main({arguments!r})
                except SystemExit as exit:
                    code = exit.code
            assert code == 2, code
            assert {message!r} in printed.getvalue(), printed.getvalue()
        """) == "False False", arguments


def test_convert_to_onnx_from_the_extension(tmp_path, cli_main):
    import onnxruntime

    from matkeras.converters import load_matlab_network

    output = tmp_path / "rossler.onnx"
    result = cli_main("convert", ROSSLER, "-o", str(output))
    assert result.returncode == 0, result.stderr
    assert f"wrote {output}" in result.stderr
    x = rossler_trajectory()[0][:40][None].astype("float32")
    session = onnxruntime.InferenceSession(str(output), providers=["CPUExecutionProvider"])
    expected = load_matlab_network(ROSSLER).predict(x, verbose=0)
    np.testing.assert_allclose(session.run(None, {"x": x})[0], expected, atol=1e-5)


def test_convert_a_keras_file_to_matlab(tmp_path, cli_main):
    """``matkeras convert net.keras --to matlab -o folder``: the folder export_matlab writes,
    named in the output, with what to run in MATLAB; an existing folder needs --force."""
    from matkeras.converters import load_matlab_network

    model = load_matlab_network(ROSSLER)
    model.save(tmp_path / "net.keras")
    output = tmp_path / "for_matlab"
    result = cli_main("convert", str(tmp_path / "net.keras"), "--to", "matlab", "-o", str(output))
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in output.iterdir()) == [
        "build_for_matlab.m", "check_for_matlab.m", "check_for_matlab.mat", "for_matlab.mat"]
    assert "run build_for_matlab.m" in result.stderr and "R2018b or newer" in result.stderr
    assert f"wrote {output}/ (4 files" in result.stderr
    back = load_matlab_network(output / "for_matlab.mat")
    x = rossler_trajectory()[0][:30][None].astype("float32")
    np.testing.assert_array_equal(back.predict(x, verbose=0), model.predict(x, verbose=0))
    again = cli_main("convert", str(tmp_path / "net.keras"), "--to", "matlab", "-o", str(output))
    assert again.returncode == 4 and "--force" in again.stderr
