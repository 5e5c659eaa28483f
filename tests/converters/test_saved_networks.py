"""Every network in ../shared/fixtures/matlab/nets loads with one call and equals an independent
numpy forward pass of its saved weights and connections: float32 within 1e-5 on 10 steps, and
loaded in float64 within 1e-10 on 100 steps. (The 3 x BiLSTM regression net amplifies float32
rounding along the sequence on these random inputs: 2-3e-6 at 10 steps, 4-6e-6 at 17, up to
1.6e-5 at 25 and 1e-4 at 100, while float64 agrees to 1e-11 at 100: the difference is
float32's, not the port's.)

The layer kinds of each network are written here from the fixtures' README (not read by the
converter's class detection), the weights read straight from the file with mat-io.
"""

import numpy as np
import pytest

from matkeras.converters import MatFileError, load_matlab_network
from tests import tolerances as tol
from tests.conftest import fixture_path
from tests.fixtures.matlab_files import saved_graph, trainnet_lstm_test_data
from tests.precision import float64  # noqa: F401  (fixture)
from tests.reference.network import forward


def _v(fields, name):
    entry = fields[name]
    if isinstance(entry, np.ndarray) and entry.dtype.names and "Value" in entry.dtype.names:
        entry = entry[0, 0]["Value"]
    return np.asarray(entry, np.float64)


def _s(fields, name):
    return str(np.ravel(fields[name])[0])


def _params(kind, f, network_class):
    if kind in ("lstm", "bilstm", "gru"):
        state = "InitialHiddenState" if network_class == "dlnetwork" else "HiddenState"
        params = {"W": _v(f, "InputWeights"), "R": _v(f, "RecurrentWeights"),
                  "b": _v(f, "Bias"), "h0": np.ravel(_v(f, state)),
                  "output_mode": "sequence" if bool(_v(f, "ReturnSequence")) else "last",
                  "state_activation": _s(f, "StateActivationFunction"),
                  "gate_activation": _s(f, "GateActivationFunction")}
        if kind != "gru":
            params["c0"] = np.ravel(_v(f, state.replace("Hidden", "Cell")))
        else:
            params["reset_gate_mode"] = _s(f, "ResetGateMode")
        return params
    if kind == "fc":
        return {"W": _v(f, "Weights"), "b": _v(f, "Bias")}
    if kind == "conv1d":
        mode = _s(f, "PaddingMode")
        return {"W": _v(f, "Weights"), "b": _v(f, "Bias"),
                "stride": int(_v(f, "Stride").ravel()[0]),
                "dilation": int(_v(f, "DilationFactor").ravel()[0]),
                "pad": "causal" if mode == "causal" else tuple(
                    int(p) for p in np.ravel(_v(f, "PaddingSize")))}
    if kind == "batchnorm":
        return {"offset": _v(f, "Offset"), "scale": _v(f, "Scale"),
                "mean": _v(f, "TrainedMean"), "variance": _v(f, "TrainedVariance"),
                "epsilon": float(_v(f, "Epsilon").ravel()[0])}
    return {}


def _reference(file, kinds, *path, network_class):
    fields, connections, _ = saved_graph(file, *path)
    assert len(fields) == len(kinds), [_s(f, "Name") for f in fields]
    return [(_s(f, "Name"), kind, _params(kind, f, network_class))
            for f, kind in zip(fields, kinds, strict=True)], connections


def _compare(model, layers, connections, inputs, output, atol=tol.FLOAT32_ATOL):
    """The model (float32) against the numpy pass (float64) on the same float32 inputs: some
    trained networks amplify input rounding a thousandfold, which would swamp the check."""
    dtype = model.inputs[0].dtype
    inputs = {k: v.astype(dtype).astype("float64") for k, v in inputs.items()}
    expected = forward(layers, connections, inputs)[output]
    keras_inputs = [np.moveaxis(x, 0, -1).astype(dtype) if x.ndim == 3 else
                    x.T.astype(dtype) for x in inputs.values()]
    got = model(keras_inputs if len(keras_inputs) > 1 else keras_inputs[0])
    got = np.asarray(got, np.float64)
    expected = np.moveaxis(expected, 0, -1) if expected.ndim == 3 else expected.T
    assert got.shape == expected.shape
    error = float(np.max(np.abs(got - expected)))
    assert error <= atol, error
    return error


def _sequences(rng, channels, batch=3, steps=10):
    return rng.standard_normal((channels, batch, steps))


SERIES = {
    "series_conv1d_bn_globalpool.mat": (
        ["input", "conv1d", "relu", "batchnorm", "conv1d", "relu", "batchnorm", "gap1d", "fc",
         "relu", "fc", "softmax", "classification"], "ftn_detector_cnn", 1),
    "series_3xbilstm_relu_regression.mat": (
        ["input"] + ["bilstm", "relu"] * 3 + ["fc", "regression"], "net", 1),
    "series_gru100_gait.mat": (["input", "gru", "fc", "softmax", "classification"], "net", 12),
}


@pytest.mark.parametrize("file", sorted(SERIES))
def test_series_network_equals_numpy_pass(file, rng):
    kinds, variable, channels = SERIES[file]
    model = load_matlab_network(fixture_path("matlab", "nets", file))
    layers, connections = _reference(file, kinds, variable, network_class="SeriesNetwork")
    _compare(model, layers, connections, {layers[0][0]: _sequences(rng, channels)},
             layers[-1][0])


@pytest.mark.parametrize("file", sorted(SERIES))
@pytest.mark.usefixtures("float64")
def test_series_network_in_float64_equals_numpy_pass_on_long_sequences(file, rng):
    kinds, variable, channels = SERIES[file]
    model = load_matlab_network(fixture_path("matlab", "nets", file))
    layers, connections = _reference(file, kinds, variable, network_class="SeriesNetwork")
    _compare(model, layers, connections, {layers[0][0]: _sequences(rng, channels, steps=100)},
             layers[-1][0], atol=tol.FLOAT64_ATOL)


DLNETWORKS = {
    "dlnetwork_lstm100_relu_experiment_output.mat": (
        ["input", "lstm", "fc", "relu", "fc"], ("Network",), 3),
    "dlnetwork_lstm40_trainnet_workspace.mat": (
        ["input", "lstm", "fc", "dropout", "fc"], ("lstm_model",), 2),
}


@pytest.mark.parametrize("file", sorted(DLNETWORKS))
def test_dlnetwork_equals_numpy_pass(file, rng):
    kinds, path, channels = DLNETWORKS[file]
    model = load_matlab_network(fixture_path("matlab", "nets", file))
    assert model.compiled is False  # a dlnetwork has no output layer: no loss
    layers, connections = _reference(file, kinds, *path, network_class="dlnetwork")
    _compare(model, layers, connections, {layers[0][0]: _sequences(rng, channels)},
             layers[-1][0])


def test_trainnet_lstm_rmse_on_its_own_test_data():
    """The trainnet-era LSTM on its 50 normalized test sequences (time x channel, as trainnet
    takes them): RMSE over all 5,800 steps, against the numpy pass and the README's 0.2366."""
    file = "dlnetwork_lstm40_trainnet_workspace.mat"
    model = load_matlab_network(fixture_path("matlab", "nets", file))
    layers, _ = _reference(file, DLNETWORKS[file][0], "lstm_model", network_class="dlnetwork")
    inputs, targets = trainnet_lstm_test_data()
    squared, reference_squared, count, worst = 0.0, 0.0, 0, 0.0
    for x, y in zip(inputs, targets, strict=True):
        got = np.asarray(model(x[None].astype("float32")), np.float64)[0]
        expected = forward(layers, None, {"sequenceinput": x.T[:, None, :]})["fc_2"][:, 0, :].T
        worst = max(worst, float(np.max(np.abs(got - expected))))
        squared += float(np.sum((got - y) ** 2))
        reference_squared += float(np.sum((expected - y) ** 2))
        count += y.size
    rmse, reference_rmse = np.sqrt(squared / count), np.sqrt(reference_squared / count)
    print(f"trainnet LSTM test RMSE {rmse:.6f} (numpy pass {reference_rmse:.6f}, {count} steps, "
          f"max |difference| {worst:.2e})")
    assert count == 5800
    assert worst <= tol.FLOAT32_ATOL
    assert round(float(reference_rmse), 4) == 0.2366


TWO_INPUT_KINDS = ["input", "concat", "input"] + ["fc", "tanh"] * 4 + ["fc", "add"]


@pytest.mark.parametrize("path", [("ans",), ("NSSTrainingOutput", "NSSModel",
                                             "StateTransitionFcn_", "Network")],
                         ids=["top-level", "inside-idNeuralStateSpace"])
def test_two_input_dlnetwork_equals_numpy_pass(path, rng):
    file = "dlnetwork_two_inputs_concat_addition.mat"
    variable = None if path == ("ans",) else ".".join(path)
    with pytest.warns(UserWarning, match=r"'x\[k\]': 'x_k_'"):
        model = load_matlab_network(fixture_path("matlab", "nets", file), variable)
    layers, connections = _reference(file, TWO_INPUT_KINDS, *path, network_class="dlnetwork")
    assert [layer.matlab_name for layer in model.layers if hasattr(layer, "matlab_name")][:2] \
        == ["x[k]", "u[k]"]
    inputs = {"x[k]": rng.standard_normal((2, 5)), "u[k]": rng.standard_normal((3, 5))}
    _compare(model, layers, connections, inputs, "x[k+1]")


def test_function_layers_are_refused_by_name_with_their_code():
    with pytest.raises(MatFileError, match=r"layer 3 'yx' \(nnet.cnn.layer.FunctionLayer, "
                                           r"function @\(x\)x\(:\)\).*layer 4 'yu' .*"
                                           r"@\(u\)zeros\(nx,nu\)\*u\(:\).*Nothing was loaded"):
        load_matlab_network(fixture_path("matlab", "nets",
                                         "dlnetwork_two_inputs_concat_addition.mat"),
                            "NSSTrainingOutput.NSSModel.OutputFcn_.Network")


def test_several_candidates_of_a_rank_are_listed():
    """Without variable=, a file whose first non-empty group has several networks names them
    all: here every candidate is a nested dlnetwork once the top-level one is taken away."""
    from matkeras.converters.matlab_network import read_network

    saved = read_network(fixture_path("matlab", "nets", "dlnetwork_lstm40_trainnet_workspace.mat"))
    assert (saved.network_class, saved.variable) == ("dlnetwork", "lstm_model")
    assert saved.candidates == ["layers (5x1 nnet.cnn.layer.Layer array)",
                                "lstm_model (dlnetwork)"]


def test_layer_array_beside_its_trained_network_loads_with_variable(rng):
    """``layers`` (the untrained array trainnet took) loads with MATLAB's initializers and a
    warning, and its default layer names are MATLAB's."""
    with pytest.warns(UserWarning, match=r"no trained values for the learnables of \['lstm', "
                                         r"'fc_1', 'fc_2'\]; they were initialized"):
        model = load_matlab_network(fixture_path(
            "matlab", "nets", "dlnetwork_lstm40_trainnet_workspace.mat"), "layers")
    assert [layer.name for layer in model.layers[1:]] == [
        "sequenceinput", "lstm", "fc_1", "dropout", "fc_2"]
    assert model.get_layer("lstm").input_weights.shape == (160, 2)


def test_inspect_prints_a_dlnetwork_with_its_connections_and_the_other_candidates():
    from matkeras.converters import inspect_mat

    summary = inspect_mat(fixture_path("matlab", "nets",
                                       "dlnetwork_two_inputs_concat_addition.mat"))
    text = str(summary)
    assert text.startswith("dlnetwork 'ans' with 13 layers (classes as recorded in the file)")
    assert [row["class"].rsplit(".", 1)[-1] for row in summary][:3] == [
        "FeatureInputLayer", "ConcatenationLayer", "FeatureInputLayer"]
    assert "13 connections:" in text and "     dx -> x[k+1]/in2" in text
    assert "Outputs: x[k+1]" in text
    assert "NSSTrainingOutput.NSSModel.OutputFcn_.Network (dlnetwork)" in text
    assert {row["class_source"] for row in summary} == {"subsystem"}
