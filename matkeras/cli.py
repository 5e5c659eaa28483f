"""The ``matkeras`` command: ``inspect``, ``convert`` and ``demo``.

Exit codes: 0 success, 1 unexpected failure, 2 bad arguments or unreadable input, 3 a
``--verify`` mismatch, 4 the output exists (use ``--force``).

Quiet by default: TensorFlow's C++ log lines (oneDNN, CUDA, CPU-feature notices) and its and
absl's Python log messages are silenced unless ``--verbose``; matkeras's own progress lines
(``[matkeras] ...``) and errors are always shown. ``--help``, ``--version`` and ``inspect`` do
not load TensorFlow.
"""

import argparse
import contextlib
import logging
import os
import shutil
import sys
import time

from matkeras._version import __version__

#: ``--verify``'s tolerance on the largest absolute difference (float32 computation).
VERIFY_ATOL = 1e-4


def _progress(message):
    print(f"[matkeras] {message}", file=sys.stderr, flush=True)


def _quiet_tensorflow():
    """Silences TensorFlow's logging from here on: its C++ log level (read when it loads) and
    its and absl's Python loggers."""
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    for name in ("tensorflow", "absl"):
        logging.getLogger(name).setLevel(logging.ERROR)


@contextlib.contextmanager
def _silenced_stderr():
    """Sends file descriptor 2 to /dev/null: some of TensorFlow's start-up lines are written by
    its C++ logging before it reads TF_CPP_MIN_LOG_LEVEL. Python errors raised inside still
    reach the caller (and are printed after the descriptor is restored)."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def _load_tensorflow(verbose):
    """Imports TensorFlow (once), quietly unless `verbose`."""
    if "tensorflow" in sys.modules:
        return
    if verbose:
        import tensorflow  # noqa: F401
        return
    with _silenced_stderr():
        import tensorflow  # noqa: F401


def _inspect(args):
    if args.verbose:
        from matkeras.converters import inspect_mat
    else:  # in case the converters load TensorFlow
        with _silenced_stderr():
            from matkeras.converters import inspect_mat

    print(inspect_mat(args.path, args.variable))
    return 0


#: Output formats by the output's extension (a name without one is a SavedModel folder).
FORMATS = {".keras": "keras", ".tflite": "tflite", ".onnx": "onnx", "": "saved_model"}


def _output_format(args):
    """``--to``, or the format the output's extension names; checked against the extension."""
    output = args.output
    extension = os.path.splitext(output.rstrip("/\\"))[1].lower()
    if args.to is None:
        if extension not in FORMATS:
            raise SystemExit(_fail(2, f"cannot tell the format from {output!r}: name a .keras, "
                                      ".tflite or .onnx file or a SavedModel folder (no "
                                      "extension), or pass --to."))
        return FORMATS[extension]
    suffix = {"keras": ".keras", "tflite": ".tflite", "onnx": ".onnx", "saved_model": "",
              "matlab": ""}[args.to]
    if suffix and extension != suffix:
        raise SystemExit(_fail(2, f"--to {args.to} writes a {suffix} file; received "
                                  f"{output!r}."))
    return args.to


def _convert(args):
    # Every argument is checked before TensorFlow loads (seconds).
    args.to = _output_format(args)
    output = args.output
    if not os.path.isfile(args.path):
        raise SystemExit(_fail(2, f"'{args.path}' does not exist or is not a file."))
    if os.path.exists(output) and not args.force:
        raise SystemExit(_fail(4, f"'{output}' exists; pass --force to overwrite it."))
    if args.verify and not os.path.isfile(args.verify):
        raise SystemExit(_fail(2, f"--verify: '{args.verify}' does not exist or is not a file."))
    _load_tensorflow(args.verbose)
    import numpy as np

    from matkeras.converters import load_matlab_network

    start = time.perf_counter()
    _progress(f"reading {args.path} ...")
    if args.path.lower().endswith(".keras"):
        import keras

        model = keras.models.load_model(args.path)
    else:
        model = load_matlab_network(args.path, args.variable)
    _progress(f"rebuilt {len(model.layers) - 1} layers "
              f"({model.count_params():,} values) in {time.perf_counter() - start:.1f} s")
    if args.verify:
        x, expected = _verify_data(args.verify)
        got = model.predict(x, verbose=0)
        got = got.reshape(expected.shape) if got.size == expected.size else got
        if got.shape != expected.shape:
            raise SystemExit(_fail(3, f"--verify: the network's output has shape {got.shape}; "
                                      f"'{args.verify}' expects {expected.shape}."))
        difference = float(np.max(np.abs(got - expected)))
        _progress(f"verify: max |difference| = {difference:.3g} (tolerance {VERIFY_ATOL})")
        if not difference <= VERIFY_ATOL:
            raise SystemExit(_fail(3, f"--verify failed: max |difference| {difference:.3g} > "
                                      f"{VERIFY_ATOL}."))
    _progress(f"saving {output} ({args.to}) ...")
    if args.to == "keras":
        model.save(output)
    else:
        from matkeras import export

        if os.path.exists(output):
            shutil.rmtree(output) if os.path.isdir(output) else os.remove(output)
        if args.to == "saved_model":
            export.export_saved_model(model, output, streaming=args.streaming)
        elif args.to == "onnx":
            export.export_onnx(model, output)
        elif args.to == "matlab":
            written = export.export_matlab(model, output)
            _progress(f"MATLAB: run build_{written['name']}.m to build the network (MATLAB "
                      f"{written['release']} or newer), check_{written['name']}.m to compare "
                      "its predictions with matkeras's")
        else:
            export.export_tflite(model, output, batch_size=args.batch_size,
                                 time_steps=args.time_steps, streaming=args.streaming,
                                 quantize=args.quantize)
            _progress(f"TFLite ops: {', '.join(export.tflite_ops(output))}")
    _progress(f"wrote {_written(output)}; done in {time.perf_counter() - start:.1f} s")
    return 0


def _written(path):
    """``path (size)``, or a folder's files and total size."""
    if os.path.isdir(path):
        files = [os.path.join(root, name) for root, _, names in os.walk(path) for name in names]
        total = sum(os.path.getsize(f) for f in files)
        return f"{path}/ ({len(files)} files, {_size(total)})"
    return f"{path} ({_size(os.path.getsize(path))})"


def _size(count):
    for unit in ("bytes", "kB", "MB", "GB"):
        if count < 1000 or unit == "GB":
            return f"{count:.0f} {unit}" if unit == "bytes" else f"{count:.1f} {unit}"
        count /= 1000


def _verify_data(path):
    """Variables X (C x T, or N x 1 cell of C x T) and Y (the MATLAB outputs) of a MAT-file."""
    import numpy as np
    import scipy.io

    from matkeras.converters import MatFileError

    try:
        contents = scipy.io.loadmat(path)
    except Exception as error:
        raise MatFileError(f"--verify: '{path}' could not be read ({error}).") from None
    missing = [k for k in ("X", "Y") if k not in contents]
    if missing:
        raise MatFileError(f"--verify: '{path}' lacks {missing}; it needs X (C x T, MATLAB "
                           "layout) and Y (what MATLAB's predict returned).")
    x, y = contents["X"], contents["Y"]
    if x.dtype == object:  # cell array of equally long sequences
        x = np.stack([np.asarray(c, np.float32).T for c in np.ravel(x)])
        y = np.stack([np.asarray(c, np.float32).T for c in np.ravel(y)]) \
            if y.dtype == object else np.asarray(y, np.float32)
    else:
        x = np.asarray(x, np.float32).T[None]
        y = np.asarray(y, np.float32).T[None]
    return x, y


def _fail(code, message):
    print(f"matkeras: error: {message}", file=sys.stderr)
    return code


def _positive_or_auto(text):
    if text == "auto":
        return text
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer or auto; received {text!r}")
    return value


def main(argv=None):
    # --verbose is accepted before or after the command (absent: not set by that parser).
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--verbose", action="store_true", default=argparse.SUPPRESS,
                        help="show TensorFlow's log messages (silenced by default)")
    parser = argparse.ArgumentParser(prog="matkeras", parents=[common],
                                     description="MATLAB sequence networks on Keras 3.")
    parser.add_argument("--version", action="version", version=f"matkeras {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    inspect = commands.add_parser("inspect", parents=[common],
                                  help="list the layers of a network MATLAB saved")
    inspect.add_argument("path")
    inspect.add_argument("--variable", default=None, help="the network's variable name")
    convert = commands.add_parser(
        "convert", parents=[common],
        help="convert a MATLAB-saved network (or a .keras file) to .keras, a SavedModel, "
             "TFLite, ONNX or a MATLAB build script")
    convert.add_argument("path", help="a MAT-file MATLAB saved, or a .keras file")
    convert.add_argument("-o", "--output", required=True,
                         help="the .keras / .tflite / .onnx file, or the SavedModel or MATLAB "
                              "(--to matlab) folder to write")
    convert.add_argument("--to", choices=("keras", "saved_model", "tflite", "onnx", "matlab"),
                         default=None,
                         help="the output format (default: from the output's extension: "
                              ".keras, .tflite, .onnx, or none for a SavedModel folder); "
                              "matlab: a folder with build_<name>.m, its MAT-file and "
                              "check_<name>.m")
    convert.add_argument("--streaming", action="store_true",
                         help="SavedModel/TFLite: add/export the state-in, state-out signature")
    convert.add_argument("--batch-size", type=_positive_or_auto, default="auto",
                         metavar="N",
                         help="TFLite: the fixed batch size (default: the network's, else 1)")
    convert.add_argument("--time-steps", type=_positive_or_auto, default="auto",
                         metavar="T",
                         help="TFLite: a fixed number of time steps (default: the network's; "
                              "MATLAB networks leave it free, and runtimes then resize the "
                              "input to each call)")
    convert.add_argument("--quantize", choices=("float16", "dynamic-int8"), default=None,
                         help="TFLite: weight quantization")
    convert.add_argument("--variable", default=None)
    convert.add_argument("--verify", default=None, metavar="INPUTS.mat",
                         help="a MAT-file with X (C x T) and MATLAB's output Y to compare with")
    convert.add_argument("--force", action="store_true", help="overwrite an existing output")
    demo = commands.add_parser("demo", parents=[common],
                               help="train MATLAB's Japanese Vowels LSTM example")
    demo.add_argument("--epochs", type=int, default=None)
    args = parser.parse_args(argv)
    args.verbose = getattr(args, "verbose", False)
    if not args.verbose:
        _quiet_tensorflow()
    try:
        if args.command == "inspect":
            return _inspect(args)
        if args.command == "convert":
            return _convert(args)
        _load_tensorflow(args.verbose)
        from matkeras import demo as demo_module

        demo_module.main([] if args.epochs is None else ["--epochs", str(args.epochs)])
        return 0
    except ValueError as error:  # MatFileError included
        return _fail(2, str(error))


if __name__ == "__main__":
    sys.exit(main())
