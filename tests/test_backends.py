"""matkeras on Keras's PyTorch and JAX backends (issue 25, first part).

In a fresh process with ``KERAS_BACKEND=torch`` or ``jax`` (``JAX_ENABLE_X64=1`` for float64):
the recurrent layers equal the float64 numpy oracle (on torch, torch's fused ``torch.lstm``/
``torch.gru`` for the configurations they compute exactly, the generic loop for the rest);
fixture networks load and predict what the TensorFlow backend predicts; a ``.keras`` file saved
under TensorFlow loads with equal outputs; stateful prediction in pieces equals one call; every
fixture network predicts TensorFlow's outputs; trainNetwork and trainnet train and a closed-loop
forecast runs; and loading, prediction, training and forecasting import no TensorFlow."""

import json
import os
import re
import subprocess
import sys
import textwrap
import warnings

import keras
import numpy as np
import pytest

from matkeras.converters import load_matlab_network
from tests import tolerances as tol
from tests.conftest import REPO, fixture_path

SCRIPT = textwrap.dedent("""
    import json, sys
    import numpy as np, keras
    from matkeras import inference
    from matkeras.converters import load_matlab_network
    from matkeras.layers import GRU, LSTM, BiLSTM
    from matkeras.ops import _speed
    from tests.reference.gru import gru_forward
    from tests.reference.lstm import bilstm_forward, lstm_forward

    folder, files = sys.argv[1], json.loads(sys.argv[2])
    assert keras.backend.backend() == sys.argv[4]
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 7, 4))
    cbt = np.transpose(x, (2, 0, 1))
    errors, kernels = {}, {}

    def compare(name, dtype, got, expected):
        got = keras.ops.convert_to_numpy(got).astype(np.float64)
        errors[f"{name}-{dtype}"] = float(np.max(np.abs(got - expected)))

    for dtype in ("float64", "float32"):
        h0, c0 = rng.normal(0, .5, 5), rng.normal(0, .5, 5)
        for state, gate in (("tanh", "sigmoid"), ("softsign", "hard-sigmoid")):
            for mode in ("sequence", "last"):
                W, R = rng.normal(0, .5, (20, 4)), rng.normal(0, .5, (20, 5))
                b = rng.normal(0, .5, 20)
                layer = LSTM(5, state_activation=state, gate_activation=gate, output_mode=mode,
                             dtype=dtype)
                layer.set_matlab_weights(input_weights=W, recurrent_weights=R, bias=b,
                                         hidden_state=h0, cell_state=c0)
                Y, hT, _ = lstm_forward(cbt, W, R, b, h0, c0, state, gate)
                expected = hT.T if mode == "last" else np.transpose(Y, (1, 2, 0))
                compare(f"lstm-{state}-{mode}", dtype, layer(x.astype(dtype)), expected)
                kernels[f"lstm-{state}"] = _speed.kernel("lstm", (state, gate))
        for reset in ("after-multiplication", "recurrent-bias-after-multiplication",
                      "before-multiplication"):
            W, R = rng.normal(0, .5, (15, 4)), rng.normal(0, .5, (15, 5))
            b = rng.normal(0, .5, 30 if reset.startswith("recurrent") else 15)
            layer = GRU(5, reset_gate_mode=reset, dtype=dtype)
            layer.set_matlab_weights(input_weights=W, recurrent_weights=R, bias=b,
                                     hidden_state=h0)
            Y, _ = gru_forward(cbt, W, R, b, h0, reset)
            compare(f"gru-{reset}", dtype, layer(x.astype(dtype)), np.transpose(Y, (1, 2, 0)))
            # training runs the other input path on JAX (_speed.joined_gru_inputs)
            compare(f"gru-{reset}-training", dtype, layer(x.astype(dtype), training=True),
                    np.transpose(Y, (1, 2, 0)))
            kernels[f"gru-{reset}"] = _speed.kernel("gru", ("tanh", "sigmoid"),
                                                    reset_gate_mode=reset)
        kernels["gru-joined-inputs"] = _speed.joined_gru_inputs()
        kernels["gru-joined-inputs-training"] = _speed.joined_gru_inputs(training=True)
        W, R, b = rng.normal(0, .5, (40, 4)), rng.normal(0, .5, (40, 5)), rng.normal(0, .5, 40)
        h2, c2 = rng.normal(0, .5, 10), rng.normal(0, .5, 10)
        for state in ("tanh", "softsign"):  # torch: fused both ways; the loop
            Y, last, last_step, *_ = bilstm_forward(cbt, W, R, b, h2, c2, state)
            for mode, reading, expected in (
                    ("sequence", "final-state", np.transpose(Y, (1, 2, 0))),
                    ("last", "final-state", last.T), ("last", "last-time-step", last_step.T)):
                layer = BiLSTM(5, output_mode=mode, backward_last_output=reading,
                               state_activation=state, dtype=dtype)
                layer.set_matlab_weights(input_weights=W, recurrent_weights=R, bias=b,
                                         hidden_state=h2, cell_state=c2)
                compare(f"bilstm-{state}-{mode}-{reading}", dtype, layer(x.astype(dtype)),
                        expected)
            kernels[f"bilstm-{state}"] = _speed.directions((state, "sigmoid"))

    # MATLAB's padding values against numpy's modes (Keras's own symmetric mode is wrong on
    # PyTorch: matkeras pads by slices there)
    from matkeras.layers.conv import pad as conv_pad
    ramp = np.arange(48.0).reshape(2, 4, 3, 2)
    padding = {}
    for value, mode in (("symmetric-include-edge", "symmetric"),
                        ("symmetric-exclude-edge", "reflect"), ("replicate", "edge")):
        got = keras.ops.convert_to_numpy(conv_pad(keras.ops.convert_to_tensor(ramp),
                                                  [(2, 1), (1, 2)], value, 1))
        padding[value] = float(np.max(np.abs(got - np.pad(
            ramp, [(0, 0), (2, 1), (1, 2), (0, 0)], mode=mode))))
    outputs = {}
    tensorflow_after_prediction = None
    for index, (file, shape) in enumerate(files):
        model = load_matlab_network(file)
        data = np.load(f"{folder}/x{index}.npy")
        outputs[f"mat{index}"] = keras.ops.convert_to_numpy(model(data))
        whole = inference.predict(model, data[0])
        inference.reset_state(model)
        pieces = np.concatenate([inference.predict_and_update_state(model, data[0][a:b])
                                 for a, b in ((0, 4), (4, 5), (5, len(data[0])))]) \\
            if whole.ndim == 2 and len(whole) == len(data[0]) else whole
        errors[f"pieces{index}"] = float(np.max(np.abs(pieces - whole)))
    tensorflow_after_prediction = "tensorflow" in sys.modules
    census = {}
    for index, file in enumerate(json.loads(sys.argv[3])):  # every fixture network
        model = load_matlab_network(file)
        inputs = [np.load(f"{folder}/census{index}_x{k}.npy") for k in range(len(model.inputs))]
        # predict: compiled on JAX (a call compiles each op on its own: 17 s against 9 s)
        out = model.predict(inputs if len(inputs) > 1 else inputs[0], verbose=0)
        outputs[f"census{index}"] = keras.ops.convert_to_numpy(
            out[0] if isinstance(out, (list, tuple)) else out)
    from matkeras.datasets import japanese_vowels
    from matkeras.matlab import (classificationLayer, classify, fullyConnectedLayer,
                                 lstmLayer, sequenceInputLayer, softmaxLayer, trainingOptions,
                                 trainNetwork)
    (X, Y), (Xt, Yt) = japanese_vowels()
    # one mini-batch per epoch: one padded length, so JAX compiles the step once
    net = trainNetwork(X[::9], np.array([str(v) for v in Y[::9]]),
                       [sequenceInputLayer(12), lstmLayer(20, OutputMode="last"),
                        fullyConnectedLayer(9), softmaxLayer(), classificationLayer()],
                       trainingOptions("adam", MaxEpochs=2, MiniBatchSize=30, Verbose=False))
    labels, scores = classify(net, Xt[:20])
    census["trained"] = bool(np.all(np.isfinite(scores))) and scores.shape == (20, 9)
    from matkeras import inference
    from matkeras.matlab import regressionLayer, trainnet
    # a sequence-to-sequence regression on a sine, then a stateful closed-loop forecast
    wave = [np.sin(np.arange(40) / 4 + k)[:, None].astype("float32") for k in range(8)]
    options = trainingOptions("adam", MaxEpochs=1, MiniBatchSize=8, Verbose=False)
    regression = trainNetwork([w[:-1] for w in wave], [w[1:] for w in wave],
                              [sequenceInputLayer(1), lstmLayer(8), fullyConnectedLayer(1),
                               regressionLayer()], options)
    ahead = inference.forecast(regression, wave[0][:30], steps=5)
    census["forecast"] = list(np.shape(ahead))
    census["tensorflow_after_training"] = "tensorflow" in sys.modules
    try:  # tf.distribute's training says which backend to use, before any work
        trainNetwork(X[:4], np.array([str(v) for v in Y[:4]]), [], trainingOptions(
            "adam", ExecutionEnvironment="multi-gpu"))
        census["multi_gpu_refusal"] = ""
    except ValueError as error:
        census["multi_gpu_refusal"] = str(error)
    # ONNX and MATLAB exports are backend-neutral (they read layer configs, where Keras itself
    # imports TensorFlow when it is installed; run on torch, the time JAX would spend
    # compiling the same checks is saved); the TensorFlow-only ones say what to do
    from matkeras import export
    rossler = load_matlab_network(files[0][0])
    if sys.argv[4] == "torch":
        onnx_file = export.export_onnx(rossler, f"{folder}/net.onnx")
        import onnxruntime
        session = onnxruntime.InferenceSession(onnx_file, providers=["CPUExecutionProvider"])
        data = np.load(f"{folder}/x0.npy")
        outputs["onnx"] = session.run(None, {"x": data})[0]
        outputs["matlab"] = keras.ops.convert_to_numpy(load_matlab_network(
            export.export_matlab(rossler, f"{folder}/matlab")["mat"])(data))
    try:
        export.export_tflite(rossler, f"{folder}/net.tflite")
        census["tflite_refusal"] = ""
    except ValueError as error:
        census["tflite_refusal"] = str(error)
    # trainnet copies the layers through get_config, where Keras itself imports TensorFlow
    # when it is installed (keras.src.saving.serialization_lib checks tf.TensorShape)
    current, info = trainnet([w[:-1] for w in wave], [w[1:] for w in wave],
                             [sequenceInputLayer(1), lstmLayer(8), fullyConnectedLayer(1)],
                             "mse", options)
    census["trainnet"] = bool(np.all(np.isfinite(info.TrainingHistory.Loss))) and \
        np.shape(inference.forecast(current.model, wave[0][:30], steps=3)) == (3, 1)
    reloaded = keras.models.load_model(f"{folder}/tf.keras")
    outputs["keras"] = keras.ops.convert_to_numpy(reloaded(np.load(f"{folder}/x0.npy")))
    if sys.argv[4] == "torch":  # the README's plain PyTorch fine-tuning, against Keras's fit
        import re
        import torch
        from matkeras.layers import set_l2_regularization
        readme = open("README.md", encoding="utf-8").read()
        block = re.findall(r"```python torch\\n(.*?)```", readme, re.S)[0]
        torch.manual_seed(0)
        scope = {}
        exec(block.replace('"rossler_lstm25.mat"', repr(files[0][0])), scope)
        twin = load_matlab_network(files[0][0])
        set_l2_regularization(twin, 0.0)
        twin.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse")
        twin.fit(scope["x"].numpy(), scope["y"].numpy(), batch_size=4, epochs=3,
                 shuffle=False, verbose=0)
        pairs = list(zip(scope["net"].trainable_weights, twin.trainable_weights, strict=True))
        census["finetune"] = [len(pairs), max(float(np.max(np.abs(
            keras.ops.convert_to_numpy(a) - keras.ops.convert_to_numpy(b)))) for a, b in pairs),
            max(float(np.max(np.abs(keras.ops.convert_to_numpy(a) - keras.ops.convert_to_numpy(
                b)))) for a, b in zip(scope["net"].trainable_weights,
                                      load_matlab_network(files[0][0]).trainable_weights))]
    np.savez(f"{folder}/torch.npz", **outputs)
    print(json.dumps({"errors": errors, "kernels": kernels, "census": census,
                      "padding": padding, "tensorflow": tensorflow_after_prediction}))
""")

FILES = ["rossler_lstm25.mat", "series_gru100_gait.mat", "vcs_bilstm100_last.mat"]


BACKENDS = ["torch", "jax"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_matkeras_on_another_backend(backend, tmp_path):
    """One fresh process per backend (a test each, so that pytest-xdist never runs a backend's
    process twice), checked three ways below."""
    run = _run(backend, tmp_path)
    _check_recurrent_layers_equal_the_oracle(run)
    _check_fused_torch_kernels_serve_the_configurations_they_compute_exactly(run)
    _check_fixture_networks_and_a_tensorflow_keras_file_give_the_same_outputs(run)
    assert run[0]["padding"] == dict.fromkeys(
        ["symmetric-include-edge", "symmetric-exclude-edge", "replicate"], 0.0), run[0]["padding"]


def _run(backend, folder):
    """The report of a fresh process on another backend (torch, jax: test extras that make
    test installs; fails loudly without them), with TensorFlow's outputs to compare."""
    import importlib

    importlib.import_module(backend)
    rng = np.random.default_rng(3)
    files, expected = [], {}
    for index, name in enumerate(FILES):
        path = str(fixture_path("matlab", "nets", name))
        model = load_matlab_network(path)
        x = rng.normal(size=(2, 6, model.inputs[0].shape[-1])).astype("float32")
        np.save(folder / f"x{index}.npy", x)
        expected[f"mat{index}"] = np.asarray(model(x))
        if index == 0:
            model.save(folder / "tf.keras")
            expected["keras"] = expected["mat0"]
            if backend == "torch":
                expected["onnx"] = expected["matlab"] = expected["mat0"]
        files.append((path, None))
    census = [str(path) for path in sorted(fixture_path("matlab", "nets").glob("*.mat"))
              if "__" not in path.name]
    for index, path in enumerate(census):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # renamed layers
            model = load_matlab_network(path)
        # sequences N(0, 1); images in the fixtures' range (the ECG net's mean is about 0.08:
        # N(0, 1) on its 512 x 512 x 7 input drives its logits to 17, where two float32
        # convolution orders differ by 1e-5)
        inputs = [(rng.uniform(0, 0.2, [2, *t.shape[1:]]) if len(t.shape) == 4 else
                   rng.normal(size=[2] + [7 if d is None else d for d in t.shape[1:]]))
                  .astype("float32") for t in model.inputs]
        for k, array in enumerate(inputs):
            np.save(folder / f"census{index}_x{k}.npy", array)
        out = model(inputs if len(inputs) > 1 else inputs[0])
        expected[f"census{index}"] = np.asarray(out[0] if isinstance(out, (list, tuple))
                                                else out)
    environment = {**os.environ, **NO_JAX_TRACEBACKS, "KERAS_BACKEND": backend,
                   "JAX_ENABLE_X64": "1", "PYTHONPATH": str(REPO)}
    result = subprocess.run([sys.executable, "-c", SCRIPT, str(folder), json.dumps(files),
                             json.dumps(census), backend],
                            capture_output=True, text=True, timeout=600, env=environment,
                            cwd=REPO)
    assert result.returncode == 0, result.stderr[-4000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    with np.load(folder / "torch.npz") as saved:
        got = {k: saved[k] for k in saved.files}
    return report, got, expected, backend


def _check_recurrent_layers_equal_the_oracle(run):
    report = run[0]
    errors = report["errors"]
    assert len([k for k in errors if not k.startswith("pieces")]) == 2 * (4 + 3 + 3 + 6)
    for name, error in errors.items():
        if name.startswith("pieces"):
            continue
        atol = tol.FLOAT64_ATOL if name.endswith("float64") else tol.FLOAT32_ATOL
        assert error <= atol, (name, error)


def _check_fused_torch_kernels_serve_the_configurations_they_compute_exactly(run):
    kernels, backend = run[0]["kernels"], run[3]
    fused = {"lstm-tanh": "fused", "lstm-softsign": "loop",
             "gru-after-multiplication": "fused",
             "gru-recurrent-bias-after-multiplication": "fused",
             "gru-before-multiplication": "loop"}
    # JAX's GRU loop joins the inputs to each step's product (the oracle checks above ran it)
    assert kernels.pop("gru-joined-inputs") is (backend == "jax")
    assert kernels.pop("gru-joined-inputs-training") is False
    # a BiLSTM's two directions: one torch.lstm call; one loop of batched products on JAX
    assert [kernels.pop("bilstm-tanh"), kernels.pop("bilstm-softsign")] == (
        ["fused", "apart"] if backend == "torch" else ["joined", "joined"])
    assert kernels == (fused if backend == "torch" else dict.fromkeys(fused, "loop"))


def _check_fixture_networks_and_a_tensorflow_keras_file_give_the_same_outputs(run):
    """Every network in ../shared/fixtures/matlab/nets (the image CNNs included) predicts on
    torch what it predicts on TensorFlow; trainNetwork and trainnet train, a closed-loop
    forecast runs, and ONNX Runtime and the exported MATLAB file give TensorFlow's outputs,
    all without importing TensorFlow."""
    report, got, expected, _ = run
    assert len([k for k in expected if k.startswith("census")]) >= 13
    assert report["census"]["trained"] is True
    assert report["census"]["trainnet"] is True
    assert report["census"]["forecast"] == [5, 1]
    # training (trainNetwork) and forecasting import no TensorFlow either
    assert report["census"]["tensorflow_after_training"] is False
    # export_onnx and export_matlab run here (outputs compared below); TFLite says what to do
    assert "needs Keras's TensorFlow backend" in report["census"]["tflite_refusal"]
    assert "needs Keras's TensorFlow backend" in report["census"]["multi_gpu_refusal"]
    assert "KERAS_BACKEND=tensorflow" in report["census"]["tflite_refusal"]
    if run[3] == "torch":  # the README's PyTorch loop equals Keras's fit, and trained
        count, difference, moved = report["census"]["finetune"]
        assert count >= 5 and difference <= tol.FLOAT32_ATOL and moved > 1e-3, \
            report["census"]["finetune"]
    for key, value in expected.items():
        error = float(np.max(np.abs(got[key] - value)))
        assert error <= tol.FLOAT32_PAIR_ATOL, (key, error)
    for key, error in report["errors"].items():
        if key.startswith("pieces"):
            assert error <= tol.FLOAT32_ATOL, (key, error)
    assert report["tensorflow"] is False


#: The test modules that also run on PyTorch and JAX, each backend in a pytest process of its
#: own: every layer, loss and optimizer against its float64 numpy oracle (float32 1e-5, float64
#: 1e-10), the tests marked ``tensorflow`` (TFLite, tf.function, the speed rule's TensorFlow
#: measurements, Keras's float32 gradient clipping) left out. Two groups, so that pytest-xdist
#: can run them side by side.
LAYER_TESTS = {
    "layers": ["tests/layers/test_attention.py", "tests/layers/test_bilstm_outside.py",
               "tests/layers/test_graph_layers.py", "tests/layers/test_gru_outside.py",
               "tests/layers/test_image_layers.py", "tests/layers/test_initializers.py",
               "tests/layers/test_layer_set.py", "tests/layers/test_layouts.py",
               "tests/layers/test_lstm_onnx_node.py", "tests/layers/test_onnx_import_layers.py",
               "tests/layers/test_recurrent_family_api.py",
               "tests/layers/test_position.py", "tests/layers/test_transformer_api.py",
               "tests/test_losses.py", "tests/test_optimizers.py"],
    "recurrent": ["tests/layers/test_recurrent_family.py", "tests/layers/test_lstm.py"],
}
#: At least this many tests pass in each run (what passed when the runs were added, less a
#: margin for cases merged later), so that a run that selects almost nothing fails.
LAYER_TESTS_PASSED = {("torch", "layers"): 440, ("torch", "recurrent"): 250,
                      ("jax", "layers"): 260, ("jax", "recurrent"): 180}
#: JAX records no Python traceback in the MLIR location of each op it compiles (2.0 s of 15 for
#: 522 one-op compiles; the numbers are the same bits): in every process these tests start.
NO_JAX_TRACEBACKS = {"JAX_INCLUDE_FULL_TRACEBACKS_IN_LOCATIONS": "0"}
#: The layer runs' JAX compiles a one-op program for each eager op of each new shape, most of
#: those runs' time, with XLA's cheaper compilation (JAX_DISABLE_MOST_OPTIMIZATIONS: 131 -> 106 s
#: for both groups) and its older CPU code emitters (one-op compiles about a third faster:
#: 18.5-20.4 -> 12.3-13.0 s for 522). test_matkeras_on_another_backend checks the recurrent
#: layers and every fixture network with XLA's defaults, what a user gets.
EAGER_JAX = {**NO_JAX_TRACEBACKS, "JAX_DISABLE_MOST_OPTIMIZATIONS": "1",
             "XLA_FLAGS": " ".join([os.environ.get("XLA_FLAGS", ""),
                                    "--xla_cpu_use_fusion_emitters=false"]).strip()}
#: On JAX every test function runs about one case in three (tests/conftest.py's
#: MATKERAS_CASE_STRIDE: every level of each parameter still runs): JAX compiles each eager op
#: of each new shape (about 25 ms each), so that all cases took 166 + 76 s of the suite's time.
#: PyTorch's recurrent cases run one in two (all of them took 49 s of the suite's time; the
#: float32 fused kernels are test_matkeras_on_another_backend's).
CASE_STRIDE = {("torch", "layers"): "0", ("torch", "recurrent"): "2", ("jax", "layers"): "3",
               ("jax", "recurrent"): "3"}


@pytest.mark.parametrize("group", LAYER_TESTS)
@pytest.mark.parametrize("backend", BACKENDS)
def test_layer_tests_pass_on_another_backend(backend, group):
    """The layer tests on another backend. The recurrent cases run in float64 only, the
    tighter tolerance, and on JAX (and PyTorch's recurrent group) a share of each test's cases
    (CASE_STRIDE);
    test_matkeras_on_another_backend checks the float32 recurrent layers (PyTorch's fused
    kernels included) against the oracle."""
    selection = ["-m", "not tensorflow"]
    if group == "recurrent":  # float32 recurrent layers: test_matkeras_on_another_backend
        selection += ["-k", "float64"]
    environment = {**os.environ, **EAGER_JAX, "KERAS_BACKEND": backend, "JAX_ENABLE_X64": "1",
                   "PYTHONPATH": str(REPO),
                   "MATKERAS_CASE_STRIDE": CASE_STRIDE[backend, group],
                   "MATKERAS_BLOCK_TENSORFLOW": "1"}
    environment.pop("PYTEST_XDIST_WORKER", None)
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                             "-p", "no:xdist", *selection, *LAYER_TESTS[group]],
                            capture_output=True, text=True, timeout=600, env=environment,
                            cwd=REPO)
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    assert result.returncode == 0, (result.stdout[-6000:], result.stderr[-2000:])
    passed = re.search(r"(\d+) passed", summary)
    assert passed and int(passed.group(1)) >= LAYER_TESTS_PASSED[backend, group], summary


def test_the_backend_here_is_tensorflow():
    assert keras.backend.backend() == "tensorflow"
    from matkeras.ops import _speed

    # TensorFlow runs a BiLSTM's two directions as two loops side by side
    assert _speed.directions(("tanh", "sigmoid")) == "apart"
