"""Networks in matkeras's plain layout (version 2), written by converters/matlab/matkeras_export.m
under GNU Octave on struct stand-ins for MATLAB's objects, load with load_matlab_network and
equal an independent float64 numpy pass of the same weights and connections (v7 as Octave
writes it; v7.3 as mat-io's independent HDF5 writer re-writes the same variables, since Octave
cannot write v7.3). Also: the public-property translation table, and clear refusals."""

import contextlib
import subprocess
import sys
import warnings

import keras
import numpy as np
import pytest
import scipy.io

from matkeras import assemble_network, inference
from matkeras import layers as L
from matkeras.converters import (
    MatFileError,
    load_matlab_network,
    load_weights_mat,
    save_weights_mat,
)
from matkeras.converters.plain_network import (
    layout_version,
    read_plain,
    read_plain_network,
    saved_fields,
)
from matkeras.matlab import (
    bilstmLayer,
    classificationLayer,
    fullyConnectedLayer,
    lstmLayer,
    sequenceInputLayer,
    softmaxLayer,
)
from tests import tolerances as tol
from tests.conftest import REPO, fixture_path
from tests.converters.test_weights_mat import EXPORT_M, _octave
from tests.reference.network import forward

STANDINS = REPO / "tests" / "converters" / "octave"
FORMATS = ["v7", "v7.3"]


def _weights():
    """Seeded, non-symmetric values: learnables and states as MATLAB keeps them (single),
    normalization statistics as double."""
    rng = np.random.default_rng(18)

    def single(*shape):
        return rng.normal(scale=0.6, size=shape).astype(np.float32)

    return {
        "x_mean": rng.normal(size=(1, 2)), "x_std": rng.uniform(0.5, 2.0, (1, 2)),
        "fc1_W": single(6, 5), "fc1_b": single(6, 1), "dx_W": single(2, 6), "dx_b": single(2, 1),
        "bi_W": single(32, 3), "bi_R": single(32, 4), "bi_b": single(32, 1),
        "bi_h": single(8, 1), "bi_c": single(8, 1),
        "ls_W": single(12, 8), "ls_R": single(12, 3), "ls_b": single(12, 1),
        "ls_h": single(3, 1), "ls_c": single(3, 1), "sfc_W": single(2, 3), "sfc_b": single(2, 1),
        "seq_mean": rng.normal(size=(3, 1)), "seq_std": rng.uniform(0.5, 2.0, (3, 1)),
        "dl_W": single(20, 3), "dl_R": single(20, 5), "dl_b": single(20, 1),
        "dl_h": single(5, 1), "dl_c": single(5, 1), "dl_h0": single(5, 1), "dl_c0": single(5, 1),
        "gru_W": single(12, 5), "gru_R": single(12, 4), "gru_b": single(24, 1),
        "gru_h": single(4, 1), "gru_h0": single(4, 1),
        "dfc_W": single(2, 4), "dfc_b": single(2, 1),
    }


WEIGHTS = _weights()


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """{file name: {"v7": path, "v7.3": path}} of the networks export_test_networks.m writes."""
    import matio

    folder = tmp_path_factory.mktemp("exported")
    scipy.io.savemat(folder / "weights.mat", WEIGHTS)
    script = (f"addpath('{EXPORT_M}'); addpath('{STANDINS}'); "
              f"export_test_networks('{folder / 'weights.mat'}', '{folder}');")
    result = subprocess.run([_octave(), "--no-gui", "--quiet", "--eval", script],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    files = {}
    for name in ("dag", "series", "dlchain", "untrained", "refused"):
        v7 = folder / f"{name}.mat"
        contents = {k: v for k, v in matio.load_from_mat(str(v7)).items()
                    if not k.startswith("__")}
        v73 = folder / f"{name}_v73.mat"
        matio.save_to_mat(str(v73), contents, version="v7.3")
        files[name] = {"v7": v7, "v7.3": v73}
    return files


@contextlib.contextmanager
def _floatx(dtype):
    """Layers built inside compute in `dtype`."""
    floatx, policy = keras.config.floatx(), keras.config.dtype_policy()
    keras.config.set_floatx(dtype)
    keras.config.set_dtype_policy(dtype)
    try:
        yield
    finally:
        keras.config.set_floatx(floatx)
        keras.config.set_dtype_policy(policy)


ATOL = {"float32": tol.FLOAT32_ATOL, "float64": tol.FLOAT64_ATOL}


def _as64(name):
    return np.asarray(WEIGHTS[name], np.float64)


def _max_error(got, expected):
    got = np.asarray(got, np.float64)
    assert got.shape == expected.shape
    return float(np.max(np.abs(got - expected)))


# -- the DAG: two inputs, concatenation, addition with a skip ----------------------------------

DAG_LAYERS = [
    ("x", "input", {"normalization": "zscore", "mean": np.ravel(_as64("x_mean")),
                    "std": np.ravel(_as64("x_std"))}),
    ("cat", "concat", {}), ("u", "input", {}),
    ("fc1", "fc", {"W": _as64("fc1_W"), "b": _as64("fc1_b")}), ("tanh", "tanh", {}),
    ("dx", "fc", {"W": _as64("dx_W"), "b": _as64("dx_b")}), ("add", "add", {}),
]
DAG_CONNECTIONS = [("x", "cat/in1"), ("u", "cat/in2"), ("cat", "fc1"), ("fc1", "tanh"),
                   ("tanh", "dx"), ("dx", "add/in1"), ("x", "add/in2")]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("version", FORMATS)
def test_dag_dlnetwork_equals_numpy_pass(exported, version, dtype):
    with _floatx(dtype):
        model = load_matlab_network(exported["dag"][version])
    assert model.compiled is False  # a dlnetwork: no output layer, no loss
    assert [type(model.get_layer(n)) for n in ("x", "cat", "u", "fc1", "tanh", "dx", "add")] \
        == [L.FeatureInput, L.Concatenation, L.FeatureInput, L.FullyConnected, L.Tanh,
            L.FullyConnected, L.Addition]
    assert [t.name for t in model.inputs] == ["x_data", "u_data"]
    rng = np.random.default_rng(7)
    x, u = rng.normal(size=(4, 2)).astype(dtype), rng.normal(size=(4, 3)).astype(dtype)
    expected = forward(DAG_LAYERS, DAG_CONNECTIONS, {"x": x.T, "u": u.T})["add"].T
    error = _max_error(model([x, u]), expected)
    print(f"DAG {version} {dtype}: max |difference| {error:.2e}")
    assert error <= ATOL[dtype], error
    config = model.get_layer("fc1").get_config()
    assert (config["weights_l2_factor"], config["bias_learn_rate_factor"],
            config["bias_l2_factor"]) == (2, 0.5, 0)


# -- the SeriesNetwork chain: its predict starts from the saved HiddenState/CellState -----------

SERIES_LAYERS = [
    ("in", "input", {}),
    ("bilstm", "bilstm", {"W": _as64("bi_W"), "R": _as64("bi_R"), "b": _as64("bi_b"),
                          "h0": np.ravel(_as64("bi_h")), "c0": np.ravel(_as64("bi_c"))}),
    ("lstm", "lstm", {"W": _as64("ls_W"), "R": _as64("ls_R"), "b": _as64("ls_b"),
                      "h0": np.ravel(_as64("ls_h")), "c0": np.ravel(_as64("ls_c")),
                      "output_mode": "last", "state_activation": "softsign",
                      "gate_activation": "hard-sigmoid"}),
    ("fc", "fc", {"W": _as64("sfc_W"), "b": _as64("sfc_b")}), ("softmax", "softmax", {}),
    ("classoutput", "classification", {}),
]


def _series_input(dtype):
    return np.random.default_rng(8).normal(size=(2, 7, 3)).astype(dtype)  # (N, T, C)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("version", FORMATS)
def test_series_network_starts_from_its_saved_state(exported, version, dtype):
    with _floatx(dtype), warnings.catch_warnings():
        warnings.simplefilter("error")  # trained: no "initialized with MATLAB's initializers"
        model = load_matlab_network(exported["series"][version])
    X = _series_input(dtype)
    expected = forward(SERIES_LAYERS, None, {"in": X.transpose(2, 0, 1)})["classoutput"].T
    error = _max_error(model(X), expected)
    print(f"SeriesNetwork {version} {dtype}: max |difference| {error:.2e}")
    assert error <= ATOL[dtype], error


def test_series_options_and_factors_reach_the_layers(exported):
    model = load_matlab_network(exported["series"]["v7"])
    lstm, bilstm = model.get_layer("lstm"), model.get_layer("bilstm")
    assert (lstm.output_mode, lstm.state_activation, lstm.gate_activation) == (
        "last", "softsign", "hard-sigmoid")
    assert bilstm.output_mode == "sequence"
    config = lstm.get_config()
    assert config["input_weights_l2_factor"] == [1, 2, 3, 4]
    assert (config["recurrent_weights_learn_rate_factor"], config["bias_l2_factor"]) == (0.5, 0)
    assert model.get_layer("classoutput").classes == ["bad", "good"]
    assert model.compiled  # a SeriesNetwork ends in its output layer's loss


@pytest.mark.parametrize("version", FORMATS)
def test_series_file_holds_plain_data_with_states_and_initial_states(exported, version):
    """What matkeras_export wrote for the SeriesNetwork object: names and classes as char,
    the chain as connections, the saved states, and the states after resetState."""
    contents = read_plain(exported["series"][version])
    assert (contents["NetworkClass"], contents["NetworkVariable"]) == ("SeriesNetwork", "series")
    assert contents["Connections"] == {
        "Source": ["in", "bilstm", "lstm", "fc", "softmax"],
        "Destination": ["bilstm", "lstm", "fc", "softmax", "classoutput"]}
    assert (contents["InputNames"], contents["OutputNames"]) == (["in"], ["classoutput"])
    bilstm = contents["layer_002"]
    assert (bilstm["Name"], bilstm["Class"]) == ("bilstm", "nnet.cnn.layer.BiLSTMLayer")
    np.testing.assert_array_equal(bilstm["HiddenState"], WEIGHTS["bi_h"])
    np.testing.assert_array_equal(bilstm["InitialHiddenState"], np.zeros((8, 1)))
    assert contents["layer_006"]["Classes"] == ["bad", "good"]


def test_exported_weights_load_into_the_network_built_in_matkeras(exported):
    """load_weights_mat reads a version 2 file's learnables and states into the same network
    built with matkeras's MATLAB constructors: it computes what the loaded network computes."""
    loaded = load_matlab_network(exported["series"]["v7.3"])
    built = assemble_network([
        sequenceInputLayer(3, "Name", "in"), bilstmLayer(4, "Name", "bilstm"),
        lstmLayer(3, "OutputMode", "last", "StateActivationFunction", "softsign",
                  "GateActivationFunction", "hard-sigmoid", "Name", "lstm"),
        fullyConnectedLayer(2, "Name", "fc"), softmaxLayer("Name", "softmax"),
        classificationLayer("Name", "classoutput")])
    names = load_weights_mat(exported["series"]["v7.3"], built)
    assert names == ["bilstm", "lstm", "fc"]
    X = _series_input("float32")
    np.testing.assert_array_equal(np.asarray(built(X)), np.asarray(loaded(X)))


# -- the dlnetwork chain: starts from its initial state, remembers its State -------------------

def _chain_layers(state):
    """The dlnetwork chain's numpy layers, starting from the State values (``"saved"``) or
    from the initial ones (``"initial"``)."""
    h, c, g = ("dl_h", "dl_c", "gru_h") if state == "saved" else ("dl_h0", "dl_c0", "gru_h0")
    return [
        ("seq", "input", {"normalization": "zscore", "mean": np.ravel(_as64("seq_mean")),
                          "std": np.ravel(_as64("seq_std"))}),
        ("lstm", "lstm", {"W": _as64("dl_W"), "R": _as64("dl_R"), "b": _as64("dl_b"),
                          "h0": np.ravel(_as64(h)), "c0": np.ravel(_as64(c))}),
        ("gru", "gru", {"W": _as64("gru_W"), "R": _as64("gru_R"), "b": _as64("gru_b"),
                        "h0": np.ravel(_as64(g)), "output_mode": "last",
                        "reset_gate_mode": "recurrent-bias-after-multiplication"}),
        ("fc", "fc", {"W": _as64("dfc_W"), "b": _as64("dfc_b")}),
    ]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("version", FORMATS)
def test_dlnetwork_starts_from_initial_state_and_continues_from_saved_state(exported, version,
                                                                            dtype):
    with _floatx(dtype):
        model = load_matlab_network(exported["dlchain"][version])
    assert model.compiled is False
    X = np.random.default_rng(9).normal(size=(3, 6, 3)).astype(dtype)  # (N, T, C)
    data = {"seq": X.transpose(2, 0, 1)}
    initial = forward(_chain_layers("initial"), None, data)["fc"].T
    saved = forward(_chain_layers("saved"), None, data)["fc"].T
    assert np.max(np.abs(initial - saved)) > 1e-2  # the two states give different answers
    errors = [_max_error(model(X), initial),
              _max_error(inference.predict(model, list(X)), saved)]
    inference.reset_state(model)
    errors.append(_max_error(inference.predict(model, list(X)), initial))
    print(f"dlnetwork chain {version} {dtype}: max |difference| {max(errors):.2e}")
    assert max(errors) <= ATOL[dtype], errors


def test_plain_files_load_without_mat_io(exported):
    """The plain layout needs only scipy and h5py: it loads where mat-io cannot be imported."""
    code = ("import sys; sys.modules['matio'] = None\n"
            "from matkeras.converters import load_matlab_network\n"
            f"for path in {[str(exported['dag'][v]) for v in FORMATS]!r}:\n"
            "    load_matlab_network(path)\n"
            "print('loaded')")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=300, cwd=REPO)
    assert result.returncode == 0 and "loaded" in result.stdout, result.stderr[-2000:]


# -- untrained arrays and refusals --------------------------------------------------------------

def test_untrained_layer_array_builds_with_initializers_and_warns(exported):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = load_matlab_network(exported["untrained"]["v7.3"])
    messages = [str(w.message) for w in caught]
    assert any("LayerArray 'untrained' holds no trained values for the learnables of ['lstm', 'fc']"
               in m for m in messages), messages
    assert [layer.name for layer in model.layers[1:]] == ["sequenceinput", "lstm", "fc"]
    assert model(np.ones((2, 5, 2), "float32")).shape == (2, 1)


@pytest.mark.parametrize("version", FORMATS)
def test_function_and_custom_layers_are_refused_together(exported, version):
    with pytest.raises(MatFileError) as error:
        load_matlab_network(exported["refused"][version])
    message = str(error.value)
    assert "layer 2 'square' (nnet.cnn.layer.FunctionLayer, function @(X) X .^ 2)" in message
    assert ("layer 3 'scale' (myproject.ScaleLayer, a custom layer class: its MATLAB code is "
            "not in the file; saved fields ['Description', 'InputNames', 'NumInputs', "
            "'NumOutputs', 'OutputNames', 'Type']): load it with load_matlab_network(..., "
            "custom_layers={'ScaleLayer': ") in message
    assert "Nothing was loaded" in message


@keras.saving.register_keras_serializable(package="tests")
class _Square(keras.layers.Layer):
    def call(self, inputs):
        return inputs * inputs


def test_function_and_custom_layers_load_when_custom_layers_supplies_them(exported, rng):
    """The file MATLAB's exporter wrote (in Octave) with a functionLayer and a custom class:
    custom_layers supplies both (the function layer by its class, FunctionLayer)."""
    model = load_matlab_network(exported["refused"]["v7"], custom_layers={
        "FunctionLayer": lambda fields, name: _Square(name=name),
        "myproject.ScaleLayer": keras.layers.Identity})
    assert [type(layer).__name__ for layer in model.layers[1:]] == [
        "SequenceInput", "_Square", "Identity"]
    x = rng.standard_normal((2, 4, 2)).astype("float32")
    np.testing.assert_allclose(np.asarray(model(x)), x * x, rtol=1e-6)


# -- the file format and its translation table (no Octave) --------------------------------------

class TestPlainLayout:
    def test_public_properties_get_their_saved_struct_forms(self):
        fields = saved_fields("nnet.cnn.layer.LSTMLayer", {
            "OutputMode": np.array(["last"]), "InputWeightsL2Factor": np.array([[1.0, 2, 3, 4]]),
            "BiasLearnRateFactor": np.array([[0.5]]), "Weights": np.zeros((2, 2))})
        assert fields["ReturnSequence"] == 0 and fields["OutputMode"][0] == "last"
        assert fields["InputWeights.L2Factor"].tolist() == [[1, 2, 3, 4]]
        assert fields["Bias.LearnRateFactor"].tolist() == [[0.5]]
        assert saved_fields("nnet.cnn.layer.LSTMLayer", {
            "OutputMode": np.array(["sequence"])})["ReturnSequence"] == 1

    def test_factor_targets_of_fully_connected_and_self_attention(self):
        fc = saved_fields("nnet.cnn.layer.FullyConnectedLayer",
                          {"WeightL2Factor": np.array([[2.0]])})
        assert fc["Weights.L2Factor"] == 2
        attention = saved_fields("nnet.cnn.layer.SelfAttentionLayer", {
            "WeightLearnRateFactor": np.array([[3.0]]), "BiasL2Factor": np.array([[4.0]])})
        assert attention["QueryWeights.LearnRateFactor"] == 3
        assert attention["QueryBias.L2Factor"] == 4

    def test_classes_and_class_weights(self):
        output = saved_fields("nnet.cnn.layer.ClassificationOutputLayer", {
            "Classes": np.array(["a", "b"]), "ClassWeights": np.array(["none"])})
        assert output["Categories"].tolist() == ["a", "b"] and "ClassWeights" not in output
        untrained = saved_fields("nnet.cnn.layer.ClassificationOutputLayer",
                                 {"Classes": np.array(["auto"])})
        assert "Categories" not in untrained

    def test_layout_version_of_other_files(self, tmp_path):
        assert layout_version(fixture_path("matlab", "nets", "series_gru100_gait.mat")) is None
        model = assemble_network([sequenceInputLayer(2, "Name", "in"),
                                  fullyConnectedLayer(1, "Name", "fc")])
        assert layout_version(save_weights_mat(model, tmp_path / "w.mat")) == 1
        assert layout_version(save_weights_mat(model, tmp_path / "w73.mat", version="7.3")) == 1

    def test_weights_only_file_is_refused_with_the_way_to_load_it(self, tmp_path):
        model = assemble_network([sequenceInputLayer(2, "Name", "in"),
                                  fullyConnectedLayer(1, "Name", "fc")])
        path = save_weights_mat(model, tmp_path / "w.mat")
        with pytest.raises(MatFileError, match=r"matkeras_layout_version 1; expected 2\)\. A "
                                               r"version 1 file holds weights only.*"
                                               r"load_weights_mat\(path, model\)"):
            load_matlab_network(path)

    def test_newer_layout_is_refused(self, tmp_path):
        scipy.io.savemat(tmp_path / "v3.mat", {"matkeras_layout_version": 3.0})
        with pytest.raises(MatFileError, match="has matkeras_layout_version 3; this matkeras "
                                               "reads up to 2. Update matkeras."):
            load_matlab_network(tmp_path / "v3.mat")

    def test_variable_other_than_the_exported_one(self, exported):
        assert read_plain_network(exported["dag"]["v7"], variable="dag").variable == "dag"
        with pytest.raises(MatFileError, match=r"exported from the MATLAB variable 'dag'; "
                                               r"variable='net' names no other"):
            load_matlab_network(exported["dag"]["v7"], variable="net")

    def test_connections_of_unequal_length(self, tmp_path):
        scipy.io.savemat(tmp_path / "bad.mat", {
            "matkeras_layout_version": 2.0, "NetworkClass": "DAGNetwork",
            "layer_001": {"Name": "in", "Class": "nnet.cnn.layer.FeatureInputLayer",
                          "InputSize": 2.0},
            "Connections": {"Source": np.array(["in", "fc"], dtype=object),
                            "Destination": np.array(["fc"], dtype=object)}})
        with pytest.raises(MatFileError, match="Connections has 2 sources and 1 destinations"):
            load_matlab_network(tmp_path / "bad.mat")

    def test_dangling_connection_names_it(self, tmp_path):
        scipy.io.savemat(tmp_path / "dangling.mat", {
            "matkeras_layout_version": 2.0, "NetworkClass": "DAGNetwork",
            "layer_001": {"Name": "in", "Class": "nnet.cnn.layer.FeatureInputLayer",
                          "InputSize": 2.0},
            "layer_002": {"Name": "add", "Class": "nnet.cnn.layer.AdditionLayer",
                          "NumInputs": 2.0},
            "Connections": {"Source": np.array(["in"], dtype=object),
                            "Destination": np.array(["add/in1"], dtype=object)}})
        with pytest.raises(MatFileError, match=r"its input 'add/in2' is not connected"):
            load_matlab_network(tmp_path / "dangling.mat")
