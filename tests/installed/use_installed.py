"""Uses matkeras as installed from its wheel, as a new user would (run by ``run.py`` inside the
fresh venv, from a folder outside the source tree, with ``python -I``).

    python -I use_installed.py FIXTURES_FOLDER

Checks, in order: the package comes from the venv's site-packages; ``import matkeras`` loads no
TensorFlow; the ``matkeras`` command answers ``--version`` and ``inspect``s a MATLAB-saved
network; every module of the package imports and the shipped data files are there; the command
line's ``demo`` trains in quick mode (1 epoch) and ``convert`` writes the network as .keras and
TFLite; the .keras file reloads in a fresh process after a bare ``import matkeras``; a plain LiteRT
interpreter runs the TFLite file and agrees with the Keras network within 1e-5. Uses nothing but
the installed package, its dependencies and the standard library.

TensorFlow takes seconds to load, so ``demo`` and ``convert`` run in this process through the
command line's own ``main`` (the ``matkeras`` command itself is run for ``--version`` and
``inspect``).
"""

import contextlib
import importlib
import io
import os
import pkgutil
import subprocess
import sys
import sysconfig
import tempfile
import time

TOLERANCE = 1e-5
NETWORK = ("matlab", "nets", "rossler_lstm25.mat")
BIN = os.path.dirname(sys.executable)


def check(condition, message):
    if not condition:
        raise SystemExit(f"use_installed: FAILED: {message}")


def run(*command, timeout=600):
    """Runs a command of the venv; returns its stdout (fails with its output on an error)."""
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    print(f"  {' '.join(os.path.basename(c) for c in command[:3])} ...: "
          f"{time.perf_counter() - start:.1f} s", flush=True)
    check(result.returncode == 0, f"{command} exited {result.returncode}:\n{result.stdout}\n"
                                  f"{result.stderr[-4000:]}")
    return result.stdout, result.stderr


def python(code):
    return run(sys.executable, "-I", "-c", code)


def main(fixtures):
    network = os.path.join(fixtures, *NETWORK)
    check(os.path.isfile(network), f"the fixture {network} is missing")
    site = sysconfig.get_paths()["purelib"]

    # Installed, not the source tree; light to import.
    out, _ = python("import sys, matkeras; print(matkeras.__file__); "
                    "print('tensorflow' in sys.modules, 'keras' in sys.modules)")
    location, heavy = out.split("\n")[:2]
    check(location.startswith(site), f"matkeras comes from {location}, not {site}")
    check(heavy == "False False", f"import matkeras loaded TensorFlow/Keras: {heavy}")
    matkeras_command = os.path.join(BIN, "matkeras")
    out, _ = run(matkeras_command, "--version")
    check(out.startswith("matkeras "), f"--version printed {out!r}")

    # Every module imports; the data files are in place.
    import matkeras

    names = [m.name for m in pkgutil.walk_packages(matkeras.__path__, "matkeras.")]
    for name in names:
        importlib.import_module(name)
    check(len(names) >= 50, f"only {len(names)} modules found: {names}")
    print(f"  imported {len(names)} modules")
    from matkeras.datasets import japanese_vowels

    (x_train, _), _ = japanese_vowels()
    check(len(x_train) == 270, "the Japanese Vowels data did not load")
    script = os.path.join(os.path.dirname(matkeras.converters.__file__), "matlab",
                          "matkeras_export.m")
    check(os.path.isfile(script), f"{script} (the MATLAB export script) is not installed")

    # The command line: inspect as a command, demo and convert through its main.
    out, err = run(matkeras_command, "inspect", network)
    check("SeriesNetwork 'net' with 4 layers" in out and "LSTMLayer" in out,
          f"inspect printed {out!r}")
    check(not err.strip(), f"inspect wrote to stderr: {err!r}")
    from matkeras import cli

    printed = io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stdout(printed):
        code = cli.main(["demo", "--epochs", "1"])
    check(code == 0 and "Test accuracy" in printed.getvalue(),
          f"the demo returned {code} and printed {printed.getvalue()[-2000:]!r}")
    print(f"  matkeras demo --epochs 1: {time.perf_counter() - start:.1f} s")
    folder = tempfile.mkdtemp(prefix="matkeras-use-")
    keras_file = os.path.join(folder, "rossler.keras")
    tflite_file = os.path.join(folder, "rossler.tflite")
    start = time.perf_counter()
    check(cli.main(["convert", network, "-o", keras_file]) == 0, "convert to .keras failed")
    check(cli.main(["convert", network, "-o", tflite_file, "--to", "tflite"]) == 0,
          "convert --to tflite failed")
    print(f"  matkeras convert (.keras, TFLite): {time.perf_counter() - start:.1f} s")

    # The network in Keras, the .keras file in a fresh process, the TFLite file in LiteRT.
    import numpy as np

    from matkeras.converters import load_matlab_network

    x = np.random.default_rng(0).normal(0, 1, (1, 50, 3)).astype("float32")
    np.save(os.path.join(folder, "x.npy"), x)
    expected = load_matlab_network(network).predict(x, verbose=0)
    python(f"import numpy as np, matkeras, keras\n"
           f"model = keras.models.load_model({keras_file!r})\n"
           f"np.save({folder!r} + '/y.npy', model.predict(np.load({folder!r} + '/x.npy'), "
           f"verbose=0))")
    reloaded = np.load(os.path.join(folder, "y.npy"))
    difference = float(np.max(np.abs(reloaded - expected)))  # float rounding: measured speed
    check(difference <= TOLERANCE, f"the reloaded .keras network differs by {difference}")
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=tflite_file)
    detail = interpreter.get_input_details()[0]
    interpreter.resize_tensor_input(detail["index"], x.shape)  # MATLAB's time axis is free
    interpreter.allocate_tensors()
    interpreter.set_tensor(detail["index"], x)
    interpreter.invoke()
    got = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    difference = float(np.max(np.abs(got - expected)))
    check(difference <= TOLERANCE, f"LiteRT and Keras differ by {difference}")
    print(f"  LiteRT vs Keras: max |difference| {difference:.2e}")
    print("use_installed: passed")


if __name__ == "__main__":
    main(sys.argv[1])
