"""Every network in ../shared/fixtures/matlab/nets, loaded, survives ``.keras`` in a fresh
process (where only ``import matkeras`` registers its layers), outputs within 1e-5."""

import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

from matkeras.converters import load_matlab_network
from tests import tolerances as tol
from tests.conftest import fixture_path

#: (file, variable or None): every network the fixtures hold that matkeras can build.
NETWORKS = [
    ("rossler_lstm25.mat", None), ("rossler_lstm60.mat", None),
    ("kolmogorov_3xlstm32_zscore.mat", None), ("vcs_bilstm100_last.mat", None),
    ("series_gru100_gait.mat", None), ("series_conv1d_bn_globalpool.mat", None),
    ("series_3xbilstm_relu_regression.mat", None),
    ("dlnetwork_lstm40_trainnet_workspace.mat", None),
    ("dlnetwork_lstm100_relu_experiment_output.mat", None),
    ("dlnetwork_two_inputs_concat_addition.mat", None),
    ("dlnetwork_two_inputs_concat_addition.mat",
     "NSSTrainingOutput.NSSModel.StateTransitionFcn_.Network"),
    ("dagnetwork_transformer_selfattention.mat", None),
    ("dlnetwork_speechcmd_cnn_trainnet2024.mat", None),
    ("series_ecg_polar_groupedconv2d_classweights.mat", None),
]


def example_inputs(model, rng, steps=12, batch=2):
    """Random inputs for each of the model's inputs (sequences get `steps` steps)."""
    inputs = []
    for tensor in model.inputs:
        shape = [batch] + [steps if d is None else d for d in tensor.shape[1:]]
        inputs.append(rng.standard_normal(shape).astype("float32"))
    return inputs


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    folder = tmp_path_factory.mktemp("roundtrip")
    rng = np.random.default_rng(18)
    cases = []
    for index, (file, variable) in enumerate(NETWORKS):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # renamed layers (x[k] -> x_k_)
            model = load_matlab_network(fixture_path("matlab", "nets", file), variable)
        x = example_inputs(model, rng)
        out = model(x if len(x) > 1 else x[0])
        expected = [np.asarray(t) for t in (out if isinstance(out, (list, tuple)) else [out])]
        model.save(folder / f"net{index}.keras")
        for k, array in enumerate(x):
            np.save(folder / f"net{index}_x{k}.npy", array)
        cases.append((file, variable, len(x), expected))
    return folder, cases


def test_every_loaded_network_reloads_in_a_fresh_process(saved):
    folder, cases = saved
    script = textwrap.dedent(f"""
        import numpy as np, keras
        import matkeras  # registers matkeras's layers; nothing else is imported
        folder = {str(folder)!r}
        for index, count in enumerate({[case[2] for case in cases]!r}):
            model = keras.models.load_model(f"{{folder}}/net{{index}}.keras")
            x = [np.load(f"{{folder}}/net{{index}}_x{{k}}.npy") for k in range(count)]
            out = model(x if count > 1 else x[0])
            out = out if isinstance(out, (list, tuple)) else [out]
            for k, tensor in enumerate(out):
                np.save(f"{{folder}}/net{{index}}_y{{k}}.npy", keras.ops.convert_to_numpy(tensor))
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    for index, (file, variable, _, expected) in enumerate(cases):
        for k, value in enumerate(expected):
            got = np.load(folder / f"net{index}_y{k}.npy")
            error = float(np.max(np.abs(got - value)))
            assert error <= tol.FLOAT32_ATOL, (file, variable, error)


@pytest.mark.parametrize("index", range(len(NETWORKS)),
                         ids=[f"{f.split('.')[0]}{'-' + v.split('.')[-2] if v else ''}"
                              for f, v in NETWORKS])
def test_every_loaded_network_exports_to_tflite_with_builtin_ops(index, tmp_path):
    """TFLite at the model's input shape (batch 2, 12 steps of sequences; images at their
    size), run by LiteRT."""
    from matkeras import export

    file, variable = NETWORKS[index]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        model = load_matlab_network(fixture_path("matlab", "nets", file), variable)
    x = example_inputs(model, np.random.default_rng(index))
    image = model.inputs[0].shape[1] is not None  # (h, w, c) images: their own fixed size
    path = export.export_tflite(model, tmp_path / "net.tflite", batch_size=2,
                                time_steps="auto" if image else 12)
    ops = export.tflite_ops(path)
    assert not [op for op in ops if op.startswith("Flex") or op == "CUSTOM"], ops
    out = model(x if len(x) > 1 else x[0])
    expected = out if isinstance(out, (list, tuple)) else [out]
    got = export.tflite_runner(path)(x if len(x) > 1 else x[0])
    names = ["y"] if len(expected) == 1 else [f"y{k + 1}" for k in range(len(expected))]
    for name, value in zip(names, expected, strict=True):
        error = float(np.max(np.abs(got[name] - np.asarray(value))))
        assert error <= tol.FLOAT32_ATOL, (file, variable, error)


@pytest.mark.parametrize("file", ["dlnetwork_two_inputs_concat_addition.mat",
                                  "dagnetwork_transformer_selfattention.mat",
                                  "dlnetwork_speechcmd_cnn_trainnet2024.mat"])
def test_graph_networks_export_to_saved_model(file, tmp_path):
    import tensorflow as tf

    from matkeras import export

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        model = load_matlab_network(fixture_path("matlab", "nets", file))
    x = example_inputs(model, np.random.default_rng(7), steps=9, batch=3)
    serve = tf.saved_model.load(export.export_saved_model(model, tmp_path / "sm")).signatures[
        "serving_default"]
    names = ["x"] if len(x) == 1 else [f"x{k + 1}" for k in range(len(x))]
    got = serve(**{n: tf.constant(v) for n, v in zip(names, x, strict=True)})["y"]
    expected = model(x if len(x) > 1 else x[0])
    assert float(np.max(np.abs(np.asarray(got) - np.asarray(expected)))) <= tol.FLOAT32_ATOL


def test_cli_converts_a_dag_network_to_tflite(tmp_path):
    from matkeras import cli

    target = tmp_path / "transformer.tflite"
    code = cli.main(["convert", str(fixture_path("matlab", "nets",
                                                 "dagnetwork_transformer_selfattention.mat")),
                     "-o", str(target), "--to", "tflite", "--time-steps", "30"])
    assert code == 0 and target.stat().st_size > 0
