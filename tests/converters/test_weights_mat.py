"""The plain weight layout: exact round trips (v5 and v7.3), MATLAB's export function under
GNU Octave, and clear errors."""

import shutil
import subprocess

import numpy as np
import pytest
import scipy.io

from matkeras import assemble_network
from matkeras.converters import (
    MatFileError,
    load_matlab_network,
    load_weights_mat,
    read_weights_mat,
    save_weights_mat,
)
from matkeras.matlab import (
    batchNormalizationLayer,
    bilstmLayer,
    convolution1dLayer,
    fullyConnectedLayer,
    gruLayer,
    layerNormalizationLayer,
    lstmProjectedLayer,
    regressionLayer,
    sequenceInputLayer,
)
from tests.conftest import REPO, fixture_path

EXPORT_M = REPO / "converters" / "matlab"


def _model(seed):
    import keras

    keras.utils.set_random_seed(seed)
    layers = [sequenceInputLayer(5, "Normalization", "zscore", "Mean", np.arange(5.0),
                                 "StandardDeviation", np.arange(1.0, 6.0), "Name", "input"),
              convolution1dLayer(3, 6, "Padding", "same", "Name", "conv"),
              batchNormalizationLayer("Name", "bn"), layerNormalizationLayer("Name", "ln"),
              bilstmLayer(4, "Name", "bilstm"),
              gruLayer(3, "ResetGateMode", "recurrent-bias-after-multiplication", "Name", "gru"),
              lstmProjectedLayer(6, 2, 3, "Name", "lstmp"), fullyConnectedLayer(2, "Name", "fc"),
              regressionLayer("Name", "output")]
    model = assemble_network(layers)
    for weight in model.weights:  # distinctive positive values (std and variances must be)
        weight.assign(np.abs(np.random.default_rng(seed).normal(size=weight.shape)) + 0.1)
    return model


@pytest.mark.parametrize("version", ["5", "7.3"])
def test_round_trip_is_bit_exact(tmp_path, version):
    source, target = _model(1), _model(2)
    path = save_weights_mat(source, tmp_path / f"w{version}.mat", version=version)
    names = load_weights_mat(path, target)
    assert names == ["input", "conv", "bn", "ln", "bilstm", "gru", "lstmp", "fc"]
    for a, b in zip(source.weights, target.weights, strict=True):
        assert a.path == b.path
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_v5_file_is_plain_matlab_structs(tmp_path):
    path = save_weights_mat(_model(1), tmp_path / "w.mat")
    contents = scipy.io.loadmat(path, squeeze_me=False)
    bilstm = next(v for k, v in contents.items()
                  if k.startswith("layer_") and v["Name"][0, 0][0] == "bilstm")[0, 0]
    assert bilstm["Class"][0] == "nnet.cnn.layer.BiLSTMLayer"
    assert bilstm["InputWeights"].shape == (32, 6) and bilstm["Bias"].shape == (32, 1)
    assert bilstm["InputWeights"].dtype == np.float32


def test_v73_file_is_read_by_an_independent_mat_reader(tmp_path):
    import matio

    path = save_weights_mat(_model(1), tmp_path / "w73.mat", version="7.3")
    assert open(path, "rb").read(19) == b"MATLAB 7.3 MAT-file"
    contents = matio.load_from_mat(str(path))
    assert {"layer_001", "matkeras_layout_version"} <= set(contents)
    fc = next(v for k, v in contents.items() if k.startswith("layer_")
              and str(np.ravel(v["Name"][0, 0])[0]) == "fc")
    assert np.shape(fc["Weights"][0, 0]) == (2, 6)
    assert str(np.ravel(fc["Class"][0, 0])[0]) == "nnet.cnn.layer.FullyConnectedLayer"


def test_converted_matlab_network_round_trips(tmp_path):
    model = load_matlab_network(fixture_path("matlab", "nets", "vcs_bilstm100_last.mat"))
    path = save_weights_mat(model, tmp_path / "vcs.mat", version="7.3")
    copy = load_matlab_network(fixture_path("matlab", "nets", "vcs_bilstm100_last.mat"))
    for weight in copy.weights:
        weight.assign(np.zeros(weight.shape))
    load_weights_mat(path, copy)
    for a, b in zip(model.weights, copy.weights, strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


class TestErrors:
    def test_existing_file_is_not_overwritten(self, tmp_path):
        path = tmp_path / "keep.mat"
        path.write_bytes(b"mine")
        with pytest.raises(FileExistsError, match="overwrite=True"):
            save_weights_mat(_model(1), path)
        assert path.read_bytes() == b"mine"

    def test_wrong_shape_names_layer_and_property(self, tmp_path):
        scipy.io.savemat(tmp_path / "bad.mat", {"layer_001": {
            "Name": "fc", "Class": "nnet.cnn.layer.FullyConnectedLayer",
            "Weights": np.zeros((3, 6), np.float32)}})
        with pytest.raises(MatFileError, match=r"'fc': Weights has shape \(3, 6\)"):
            load_weights_mat(tmp_path / "bad.mat", _model(1))

    def test_unknown_layer_lists_the_model_layers(self, tmp_path):
        scipy.io.savemat(tmp_path / "bad.mat", {"layer_001": {"Name": "lstm9", "Class": "x"}})
        with pytest.raises(MatFileError, match=r"layers \['lstm9'\] that the model does not "
                                               r"have; its layers are"):
            load_weights_mat(tmp_path / "bad.mat", _model(1))

    def test_file_without_the_layout(self):
        with pytest.raises(MatFileError, match=r"no layer_NNN structs.*\['train_data'\]"):
            read_weights_mat(fixture_path("matlab", "data", "rossler_trajectory.mat"))

    def test_not_a_mat_file(self, tmp_path):
        (tmp_path / "x.mat").write_text("not a mat file at all " * 20)
        with pytest.raises(MatFileError, match="could not be read"):
            read_weights_mat(tmp_path / "x.mat")


def _octave():
    octave = shutil.which("octave-cli") or shutil.which("octave")
    if octave is None:
        pytest.fail("GNU Octave is required to test converters/matlab/matkeras_export.m but is "
                    "not installed; `make test` installs the Debian package 'octave'.",
                    pytrace=False)
    return octave


def test_matlab_export_function_under_octave(tmp_path):
    """converters/matlab/matkeras_export.m, run by GNU Octave on struct stand-ins for MATLAB
    layers (Octave has no Deep Learning Toolbox), writes a file load_weights_mat reads back."""
    octave = _octave()
    model = _model(3)
    expected = save_weights_mat(model, tmp_path / "expected.mat")
    script = f"""
        addpath('{EXPORT_M}');
        s = load('{expected}');
        names = sort(fieldnames(s));
        layers = {{}};
        for k = 1:numel(names)
          if strncmp(names{{k}}, 'layer_', 6)
            layers{{end + 1}} = s.(names{{k}});
          end
        end
        net = struct('Layers', {{layers}});
        matkeras_export(net, '{tmp_path / "from_octave.mat"}');
    """
    result = subprocess.run([octave, "--no-gui", "--quiet", "--eval", script],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    target = _model(4)
    load_weights_mat(tmp_path / "from_octave.mat", target)
    for a, b in zip(model.weights, target.weights, strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
