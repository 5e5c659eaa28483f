"""export_matlab (issue 26, part 1): back to MATLAB as built-in layers.

Ground truth from MATLAB's own files: every network in ../shared/fixtures/matlab/nets, loaded
and exported, gives back the file's learnables and states bit for bit (dtype and shape too), and
the exported MAT-file loads back to the same layers, options, connections and outputs. GNU
Octave (no Deep Learning Toolbox) runs the generated ``build_<name>.m`` with stand-in
constructors that record every argument (tests/converters/octave_export), and
``check_<name>.m`` with a stand-in ``predict`` that is an independent forward pass written from
MATLAB's equations (LSTM, BiLSTM, GRU, fully connected, activations); a wrong gate order fails
it."""

import re
import shutil
import subprocess
import warnings

import keras
import numpy as np
import pytest
import scipy.io

from matkeras import layers as L
from matkeras.converters import load_matlab_network
from matkeras.converters.matlab_network import read_networks
from matkeras.export import export_matlab
from matkeras.export import matlab as exporter
from matkeras.matlab import (
    bilstmLayer,
    classificationLayer,
    featureInputLayer,
    fullyConnectedLayer,
    groupNormalizationLayer,
    gruLayer,
    instanceNormalizationLayer,
    layerNormalizationLayer,
    lstmLayer,
    lstmProjectedLayer,
    regressionLayer,
    reluLayer,
    sequenceInputLayer,
    sigmoidLayer,
    softmaxLayer,
    spatialDropoutLayer,
    tanhLayer,
)
from matkeras.network import assemble_network
from tests import tolerances as tol
from tests.conftest import REPO, fixture_path
from tests.converters.test_weights_mat import _octave

STANDINS = REPO / "tests" / "converters" / "octave_export"
#: The fixture networks the Octave forward pass covers (chains of its layers).
OCTAVE_FORWARD = ("rossler_lstm25", "series_gru100_gait", "vcs_bilstm100_last",
                  "kolmogorov_3xlstm32_zscore", "series_3xbilstm_relu_regression",
                  "dlnetwork_lstm100_relu_experiment_output", "dlnetwork_lstm40_trainnet_workspace")


def _fixture_networks():
    folder = fixture_path("matlab", "nets")
    return sorted(p for p in folder.glob("*.mat") if "__" not in p.name)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """Every fixture network loaded and exported once: ``{stem: (path, model, written)}``."""
    folder = tmp_path_factory.mktemp("matlab")
    found = {}
    for path in _fixture_networks():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # renamed layers
            model = load_matlab_network(path)
        found[path.stem] = (path, model, export_matlab(model, folder / path.stem,
                                                       name=path.stem))
    assert len(found) >= 13
    return found


def _struct(item):
    """A scipy struct (1 x 1 record array) as ``{field: value}``."""
    return {name: item[name][0, 0] for name in item.dtype.names}


def _exported_layers(mat):
    contents = scipy.io.loadmat(mat, squeeze_me=False)
    names = sorted((k for k in contents if re.fullmatch(r"layer_\d+", k)), key=lambda k: k[6:])
    return [_struct(contents[k]) for k in names], contents


def _text(value):
    return str(np.ravel(value)[0])


def _layers(model):
    return [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]


def _as_saved(got, original, matlab_class, prop):
    """The exported array in the saved array's form where MATLAB's constructor takes another
    (asserted here): fully connected weights after images, saved H x W x C x K with a
    1 x 1 x K bias, are the K x (H*W*C) matrix and K x 1 bias fullyConnectedLayer documents
    (H fastest, MATLAB's column-major flattening); a grouped
    convolution's saved arrays drop the singleton group dimensions its constructor has."""
    if matlab_class.endswith("FullyConnectedLayer") and original.ndim >= 3:
        if prop == "Weights":
            assert got.shape == (original.shape[3], original[..., 0].size)
            return got.T.reshape(original.shape, order="F")
        assert got.shape == (original.size, 1)  # Bias: 1 x 1 x K saved, K x 1 documented
        return got.reshape(original.shape)
    if matlab_class.endswith("GroupedConvolution2DLayer"):
        assert np.squeeze(got).shape == np.squeeze(original).shape
        return got.reshape(original.shape)
    return got


def test_learnables_and_states_are_the_matlab_files_arrays_bit_for_bit(exported):
    """For every MATLAB-saved network: each exported array (learnables, states, statistics)
    has the file's dtype, shape and bits (arrays a file saved as double, which
    load_matlab_network's float32 network holds rounded to single, after that rounding; a
    dlnetwork's recurrent states are its InitialHiddenState/InitialCellState, a classic
    network's the states its predict starts from); classes and names are the file's."""
    stems = list(exported)
    saved = read_networks([str(exported[s][0]) for s in stems])
    compared = rounded = 0
    for stem, network in zip(stems, saved, strict=True):
        assert not isinstance(network, Exception), network
        layers, _ = _exported_layers(exported[stem][2]["mat"])
        keras_layers = _layers(exported[stem][1])
        assert len(layers) == len(network.layers) == len(keras_layers), stem
        # a graph's layers in Keras's (topological) order: matched by name
        structs = {_text(struct["Name"]): struct for struct in layers}
        by_name = {exporter.matlab_name(layer): layer for layer in keras_layers}
        assert sorted(structs) == sorted(by_name), stem
        for position, record in enumerate(network.layers):
            name = record.name or exporter.matlab_name(keras_layers[position])
            struct, layer = structs[name], by_name[name]
            assert _text(struct["Class"]) == record.matlab_class, (stem, name)
            f = record.fields
            for prop in layer.matlab_keywords() if hasattr(layer, "matlab_keywords") else ():
                initial = f.get(f"Initial{prop}")
                original = initial if network.network_class == "dlnetwork" and \
                    initial is not None else f.get(prop)
                if original is None or original.size == 0:
                    continue
                where = f"{stem}/{record.name}/{prop}"
                got = _as_saved(struct[prop], original, record.matlab_class, prop)
                if original.dtype == np.float64 and got.dtype == np.float32:
                    # saved as double: the (float32) network holds them rounded once
                    original = original.astype(np.float32)
                    rounded += 1
                assert got.dtype == original.dtype, (where, got.dtype, original.dtype)
                assert got.shape == original.shape, (where, got.shape, original.shape)
                np.testing.assert_array_equal(got, original, err_msg=where)
                compared += 1
    assert compared >= 100 and compared - rounded >= 50, (compared, rounded)


STATISTICS = ("mean", "standard_deviation", "min", "max")


def _configs(model):
    return [(type(layer).__name__, {k: v for k, v in layer.get_config().items()
                                    if k not in ("name", "dtype")})
            for layer in model.layers]


def test_the_exported_file_loads_back_to_the_same_network(exported):
    """The MAT-file is matkeras's plain layout: load_matlab_network rebuilds the same layer
    classes and options, wired the same way, with the same outputs to the last bit."""
    for stem, (_, model, written) in exported.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            back = load_matlab_network(written["mat"])
        assert [layer.name for layer in back.layers] == [layer.name for layer in model.layers]
        mine, theirs = _configs(model), _configs(back)
        for (kind, config), (kind_back, config_back) in zip(mine, theirs, strict=True):
            assert kind == kind_back, stem
            for key, value in config.items():
                other = config_back[key]
                if key in STATISTICS and value is not None:
                    # a statistic saved as double: the float32 layer holds (and exports) it
                    # rounded to single
                    value, other = np.float32(value), np.float32(other)
                assert np.array_equal(np.asarray(value, dtype=object),
                                      np.asarray(other, dtype=object)), \
                    (stem, kind, key, value, other)
        wiring = [(entry["name"], str(entry["inbound_nodes"]))
                  for entry in model.get_config()["layers"]]
        assert wiring == [(entry["name"], str(entry["inbound_nodes"]))
                          for entry in back.get_config()["layers"]], stem
        check = scipy.io.loadmat(f"{written['folder']}/check_{stem}.mat")
        inputs = [np.transpose(check[f"X{k + 1}"], np.argsort(exporter._FORMATS[
            check[f"X{k + 1}"].ndim][1])) for k in range(len(model.inputs))]
        x = inputs if len(inputs) > 1 else inputs[0]
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(_first(back(x))),
                                      keras.ops.convert_to_numpy(_first(model(x))))


def _first(outputs):
    return outputs[0] if isinstance(outputs, (list, tuple)) else outputs


ALLOWED_CALLS = {c.function for c in exporter.table.CONSTRUCTORS.values()} | {
    "load", "fullfile", "fileparts", "mfilename", "dlnetwork", "assembleNetwork", "layerGraph",
    "addLayers", "connectLayers", "function"}


def test_build_scripts_call_built_in_constructors_with_name_value_pairs(exported):
    releases = {}
    for stem, (_, _, written) in exported.items():
        text = open(written["build"]).read()
        code = "\n".join(line for line in text.splitlines() if not line.startswith("%"))
        called = set(re.findall(r"([A-Za-z]\w*)\(", re.sub(r"'[^']*'", "''", code)))
        assert called <= ALLOWED_CALLS | {f"build_{stem}"}, (stem, called - ALLOWED_CALLS)
        assert not re.search(r"\(\s*[^()']*\b[A-Z]\w*\s*=", code), stem  # no Name=Value
        assert f"Needs MATLAB {written['release']} or newer" in text
        releases[stem] = written["release"]
    assert releases["dagnetwork_transformer_selfattention"] == "R2023b"  # positionEmbedding
    assert releases["series_gru100_gait"] == "R2020a"  # gruLayer
    assert releases["series_conv1d_bn_globalpool"] == "R2021b"  # convolution1dLayer
    assert "connectLayers(lgraph, 'pos-emb', 'add/in1')" in open(
        exported["dagnetwork_transformer_selfattention"][2]["build"]).read()


def _weights(rng, layer, **sizes):
    """Random non-symmetric MATLAB-layout arrays for the layer's own properties."""
    shapes = {"InputWeights": sizes.get("w"), "RecurrentWeights": sizes.get("r"),
              "Bias": sizes.get("b"), "HiddenState": sizes.get("h"),
              "CellState": sizes.get("c"), "Weights": sizes.get("fc"),
              "InputProjector": sizes.get("qi"), "OutputProjector": sizes.get("qo")}
    given = {k: rng.normal(0, 0.5, shape).astype("float32") for k, shape in shapes.items()
             if shape is not None and k in layer.matlab_keywords()}
    layer.set_matlab_properties(**given)
    return layer


def _synthetic(rng):
    """Small networks covering every recurrent option the Octave forward pass has."""
    nets = {}
    for state, gate, mode in (("tanh", "sigmoid", "sequence"),
                              ("softsign", "hard-sigmoid", "last"), ("relu", "sigmoid", "last")):
        lstm = lstmLayer(5, "OutputMode", mode, "StateActivationFunction", state,
                         "GateActivationFunction", gate, "Name", "lstm")
        layers = [sequenceInputLayer(3), lstm, fullyConnectedLayer(2)]
        model = assemble_network(layers, compile=False)
        _weights(rng, lstm, w=(20, 3), r=(20, 5), b=(20, 1), h=(5, 1), c=(5, 1))
        _weights(rng, layers[2], fc=(2, 5), b=(2, 1))
        nets[f"lstm_{state}_{mode}"] = model
    for mode, bias in (("after-multiplication", 15), ("before-multiplication", 15),
                       ("recurrent-bias-after-multiplication", 30)):
        gru = gruLayer(5, "ResetGateMode", mode, "Name", "gru")
        layers = [sequenceInputLayer(3), gru, tanhLayer(), fullyConnectedLayer(2)]
        model = assemble_network(layers, compile=False)
        _weights(rng, gru, w=(15, 3), r=(15, 5), b=(bias, 1), h=(5, 1))
        _weights(rng, layers[3], fc=(2, 5), b=(2, 1))
        nets[f"gru_{mode.replace('-', '_')}"] = model
    for mode in ("sequence", "last"):
        bilstm = bilstmLayer(4, "OutputMode", mode, "Name", "bilstm")
        layers = [sequenceInputLayer(3, "Normalization", "zscore", "Mean", [0.1, -0.2, 0.3],
                                     "StandardDeviation", [1.5, 0.5, 2.0]),
                  bilstm, fullyConnectedLayer(3), sigmoidLayer(), fullyConnectedLayer(4),
                  softmaxLayer(), classificationLayer("Classes", ["a", "b", "c", "d"])]
        model = assemble_network(layers, compile=False)
        _weights(rng, bilstm, w=(32, 3), r=(32, 4), b=(32, 1), h=(8, 1), c=(8, 1))
        _weights(rng, layers[2], fc=(3, 8), b=(3, 1))
        _weights(rng, layers[4], fc=(4, 3), b=(4, 1))
        nets[f"bilstm_{mode}_classifier"] = model
    layers = [featureInputLayer(4, "Normalization", "zerocenter", "Mean", [1, 2, 3, 4]),
              fullyConnectedLayer(6), reluLayer(), fullyConnectedLayer(2), regressionLayer()]
    model = assemble_network(layers, compile=False)
    _weights(rng, layers[1], fc=(6, 4), b=(6, 1))
    _weights(rng, layers[3], fc=(2, 6), b=(2, 1))
    nets["features_regression"] = model
    return nets


def _standins(folder):
    """The stand-ins: the committed ones, plus one recording constructor per function the
    exporter writes."""
    shutil.copytree(STANDINS, folder)
    for entry in exporter.table.CONSTRUCTORS.values():
        (folder / f"{entry.function}.m").write_text(
            f"function L = {entry.function}(varargin)\n"
            f"L = standin_constructor('{entry.function}', varargin);\nend\n")


def _swap_gates(mat, layer, rows):
    """A copy of an exported MAT-file with the input and forget gate blocks of one layer's
    InputWeights exchanged (the negative control)."""
    contents = scipy.io.loadmat(mat, squeeze_me=False)
    struct = contents[layer]
    weights = struct["InputWeights"][0, 0]
    swapped = np.concatenate([weights[rows:2 * rows], weights[:rows], weights[2 * rows:]])
    struct["InputWeights"][0, 0] = swapped
    scipy.io.savemat(mat, {k: v for k, v in contents.items() if not k.startswith("__")},
                     format="5", long_field_names=True)


def test_octave_runs_the_build_and_check_scripts_on_stand_ins(exported, tmp_path, rng):
    """One Octave process: every exported network's build script runs and records its
    constructor calls (their arrays equal matkeras's, bit for bit, in float32); check_<name>
    (the stand-in predict: an independent forward pass) is within 1e-5 of matkeras for the
    fixture chains and a network per recurrent option; a wrong gate order fails the check."""
    standins = tmp_path / "standins"
    _standins(standins)
    models = {stem: model for stem, (_, model, _) in exported.items()}
    folders = {stem: written["folder"] for stem, (_, _, written) in exported.items()}
    synthetic = _synthetic(rng)
    for stem, model in synthetic.items():
        folders[stem] = export_matlab(model, tmp_path / stem, name=stem)["folder"]
        models[stem] = model
    control = tmp_path / "wrong_gate_order"
    shutil.copytree(folders["rossler_lstm25"], control)
    for suffix in ("m", "mat"):
        for path in control.glob(f"*.{suffix}"):
            path.rename(control / path.name.replace("rossler_lstm25", "wrong_gate_order"))
    for path in control.glob("*.m"):
        path.write_text(path.read_text().replace("rossler_lstm25", "wrong_gate_order"))
    _swap_gates(control / "wrong_gate_order.mat", "layer_002", 25)
    folders["wrong_gate_order"] = str(control)
    checked = [*OCTAVE_FORWARD, *synthetic, "wrong_gate_order"]
    lines = [f"addpath('{standins}');"]
    for stem, folder in folders.items():
        lines += [f"addpath('{folder}');", f"net = build_{stem}();",
                  f"save('-mat7-binary', '{tmp_path / f'recorded_{stem}.mat'}', 'net');"]
        if stem in checked:
            lines += ["try", f"  d = check_{stem}();",
                      f"  printf('RESULT {stem} %.17g\\n', d);", "catch err",
                      f"  printf('FAILED {stem} %s\\n', err.message);", "end"]
        lines.append(f"rmpath('{folder}');")
    result = subprocess.run([_octave(), "--no-gui", "--quiet", "--eval", "\n".join(lines)],
                            capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    results = dict(re.findall(r"^RESULT (\w+) (\S+)$", result.stdout, re.M))
    failed = dict(re.findall(r"^FAILED (\w+) (.*)$", result.stdout, re.M))
    assert set(failed) == {"wrong_gate_order"}, failed
    assert "largest difference" in failed["wrong_gate_order"]
    assert set(results) == set(checked) - {"wrong_gate_order"}
    for stem, difference in results.items():
        assert float(difference) <= tol.FLOAT32_ATOL, (stem, difference)
    recorded_arrays = 0
    for stem, model in models.items():
        recorded_arrays += _compare_recorded(tmp_path / f"recorded_{stem}.mat", model)
    assert recorded_arrays >= 100


def _compare_recorded(path, model):
    """The arrays the stand-in constructors received equal the layers' MATLAB properties (bit
    for bit, float32 kept); returns how many were compared."""
    net = scipy.io.loadmat(path, squeeze_me=False)["net"]
    layers = net["Layers"][0, 0].ravel()
    keras_layers = [layer for layer in model.layers
                    if not isinstance(layer, keras.layers.InputLayer)]
    assert len(layers) == len(keras_layers)
    compared = 0
    for recorded, layer in zip(layers, keras_layers, strict=True):
        assert str(recorded["Function"][0]) == exporter.table.constructor(layer).function
        args = list(recorded["Args"].ravel())
        names = [str(a[0]) if a.dtype.kind == "U" and a.size == 1 else None for a in args]
        pairs = dict(zip(names[names.index("Name"):][::2], args[names.index("Name"):][1::2],
                         strict=False))
        assert str(pairs["Name"][0]) == exporter.matlab_name(layer)
        for prop, value in (layer.matlab_properties().items()
                            if hasattr(layer, "matlab_properties") else ()):
            got = pairs[prop]
            assert got.dtype == value.dtype, (layer.name, prop, got.dtype, value.dtype)
            np.testing.assert_array_equal(got.ravel(order="F"), value.ravel(order="F"),
                                          err_msg=f"{layer.name}/{prop}")
            compared += 1
    return compared


def test_projected_layers_keep_their_projectors_and_need_r2022b(tmp_path, rng):
    layer = lstmProjectedLayer(6, 3, 2, "Name", "proj")
    model = assemble_network([sequenceInputLayer(4), layer], compile=False)
    _weights(rng, layer, w=(24, 2), r=(24, 3), b=(24, 1), qi=(4, 2), qo=(6, 3))
    written = export_matlab(model, tmp_path / "projected")
    assert written["release"] == "R2022b"
    text = open(written["build"]).read()
    assert "lstmProjectedLayer(6, 3, 2, 'Name', 'proj'" in text
    layers, _ = _exported_layers(written["mat"])
    for prop in ("InputProjector", "OutputProjector"):
        np.testing.assert_array_equal(layers[1][prop], layer.matlab_properties()[prop])
    back = load_matlab_network(written["mat"])
    x = rng.normal(size=(2, 5, 4)).astype("float32")
    np.testing.assert_array_equal(np.asarray(back(x)), np.asarray(model(x)))


def test_layer_normalization_keeps_its_operation_dimension_and_needs_r2023a(tmp_path, rng):
    layer = layerNormalizationLayer("Name", "ln", "OperationDimension", "batch-excluded",
                                    "Offset", rng.normal(size=(4, 1)),
                                    "Scale", rng.normal(size=(4, 1)))
    model = assemble_network([sequenceInputLayer(4), layer, fullyConnectedLayer(3)],
                             compile=False)
    written = export_matlab(model, tmp_path / "normalized")
    assert written["release"] == "R2023a"
    assert "'OperationDimension', 'batch-excluded'" in open(written["build"]).read()
    back = load_matlab_network(written["mat"])
    assert [a.operation_dimension for a in back.layers if a.name == "ln"] == ["batch-excluded"]
    x = rng.normal(size=(2, 5, 4)).astype("float32")
    np.testing.assert_array_equal(np.asarray(back(x)), np.asarray(model(x)))


def test_group_normalization_is_written_with_its_groups(tmp_path, rng):
    values = {"Offset": rng.normal(size=(6, 1)), "Scale": rng.normal(size=(6, 1))}
    model = assemble_network([sequenceInputLayer(6),
                              groupNormalizationLayer(3, Name="gn", Epsilon=1e-4, **values),
                              groupNormalizationLayer("all-channels", Name="one", **values),
                              instanceNormalizationLayer(Name="each", **values),
                              fullyConnectedLayer(2)], compile=False)
    written = export_matlab(model, tmp_path / "grouped")
    assert written["release"] == "R2021a"
    text = open(written["build"]).read()
    for start in ("groupNormalizationLayer(3, 'Name', 'gn'",
                  "groupNormalizationLayer('all-channels', 'Name', 'one'",
                  "instanceNormalizationLayer('Name', 'each'"):
        assert start in text, start
    back = load_matlab_network(written["mat"])
    x = rng.normal(size=(2, 5, 6)).astype("float32")
    np.testing.assert_array_equal(np.asarray(back(x)), np.asarray(model(x)))


def test_spatial_dropout_is_written_with_its_probability_and_needs_r2024a(tmp_path):
    model = assemble_network([sequenceInputLayer(4), spatialDropoutLayer(Probability=0.3,
                                                                          Name="drop"),
                              fullyConnectedLayer(3)], compile=False)
    written = export_matlab(model, tmp_path / "dropped")
    assert written["release"] == "R2024a"
    assert "spatialDropoutLayer('Name', 'drop', 'Probability', 0.3)" in open(
        written["build"]).read()
    back = load_matlab_network(written["mat"])
    assert [(type(a).__name__, a.probability) for a in back.layers if a.name == "drop"] == [
        ("SpatialDropout", 0.3)]


class TestRefusals:
    def test_a_layer_without_a_built_in_constructor_is_refused_by_name(self, tmp_path):
        model = assemble_network([sequenceInputLayer(3), L.PReLU(np.ones(3), name="prelu"),
                                  fullyConnectedLayer(2)], compile=False)
        with pytest.raises(ValueError, match=r"layer 'prelu' \(PReLU\) has no built-in MATLAB "
                                             r"constructor .*nnet\.onnx\.layer\.PreluLayer"):
            export_matlab(model, tmp_path / "out")
        assert not (tmp_path / "out").exists()

    def test_a_keras_layer_is_refused_by_name(self, tmp_path):
        inputs = keras.Input((None, 3))
        model = keras.Model(inputs, keras.layers.Dense(2, name="dense")(
            L.SequenceInput(3)(inputs)))
        with pytest.raises(ValueError, match=r"layer 'dense' \(Dense\) .*MATLAB has no "
                                             "built-in layer for it"):
            export_matlab(model, tmp_path / "out")
        assert not (tmp_path / "out").exists()

    def test_an_existing_folder_is_kept_unless_overwrite(self, tmp_path, exported):
        model = exported["rossler_lstm25"][1]
        folder = tmp_path / "mine"
        folder.mkdir()
        (folder / "notes.txt").write_text("keep")
        with pytest.raises(FileExistsError, match="overwrite=True"):
            export_matlab(model, folder)
        assert (folder / "notes.txt").read_text() == "keep"
        written = export_matlab(model, folder, overwrite=True)
        assert not (folder / "notes.txt").exists()
        assert sorted(p.name for p in folder.iterdir()) == [
            "build_mine.m", "check_mine.m", "check_mine.mat", "mine.mat"]
        assert written["name"] == "mine"


def test_every_layer_with_a_built_in_matlab_class_has_its_constructor():
    built_in = {getattr(L, name) for name in L.__all__
                if str(getattr(getattr(L, name), "MATLAB_CLASS", "")).startswith(
                    "nnet.cnn.layer.")}
    assert built_in and built_in == set(exporter.table.CONSTRUCTORS)
    onnx_import = {getattr(L, name) for name in L.__all__
                   if str(getattr(getattr(L, name), "MATLAB_CLASS", "")).startswith(
                       "nnet.onnx.layer.")}
    assert onnx_import and not onnx_import & set(exporter.table.CONSTRUCTORS)
