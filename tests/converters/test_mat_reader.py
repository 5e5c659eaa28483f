"""The MAT-file reader's choices: which network a file's candidates give, and the true layer
classes from mat-io's subsystem with the fallback when mat-io's internals change."""

import subprocess
import sys

import numpy as np
import pytest

from matkeras.converters import _mat_child as child
from matkeras.converters.matlab_network import infer_class, saved_network
from matkeras.converters.summary import NetworkSummary
from tests.conftest import fixture_path


def _choose(candidates, capsys):
    try:
        return child.choose(candidates, "f.mat")
    except SystemExit as stop:
        assert stop.code == 2
        return capsys.readouterr().err


class TestChoosingTheNetwork:
    def test_trained_network_at_top_level_beats_nested_and_arrays(self, capsys):
        candidates = [("layers", "layers", "5x1 nnet.cnn.layer.Layer array"),
                      ("out.trial.net", "network", "dlnetwork"),
                      ("lgraph", "graph", "nnet.cnn.LayerGraph"),
                      ("net", "network", "SeriesNetwork")]
        assert _choose(candidates, capsys) == ("net", "network", "SeriesNetwork")

    def test_nested_network_beats_layer_graphs_and_arrays(self, capsys):
        candidates = [("layers", "layers", "array"), ("output.Network", "network", "dlnetwork")]
        assert _choose(candidates, capsys)[0] == "output.Network"

    def test_struct_array_element_is_nested(self, capsys):
        candidates = [("results(2).net", "network", "DAGNetwork"), ("lg", "graph", "LG")]
        assert _choose(candidates, capsys)[0] == "results(2).net"

    def test_several_of_the_first_group_are_listed_with_paths_and_classes(self, capsys):
        message = _choose([("a.net", "network", "dlnetwork"), ("b.net", "network", "DAGNetwork"),
                           ("layers", "layers", "array")], capsys)
        assert "holds several networks: a.net (dlnetwork); b.net (DAGNetwork)." in message
        assert "variable=" in message and "layers" not in message

    def test_only_graphs_and_arrays(self, capsys):
        assert _choose([("layers", "layers", "array")], capsys)[0] == "layers"
        message = _choose([("layers", "layers", "array"), ("lg", "graph", "nnet.cnn.LayerGraph")],
                          capsys)
        assert "layers (array); lg (nnet.cnn.LayerGraph)" in message


class _Subsystem:
    mcos_object_cache = {}


class TestTrueClasses:
    def test_guard_reports_missing_internals(self):
        class Old:
            def __init__(self):
                pass

        recorder = child.ClassRecorder(Old)
        Old()
        assert recorder.classes() is None
        assert "lacks ['mcos_object_cache', 'get_object_metadata', 'get_classname']" in \
            recorder.problem

    def test_guard_reports_a_failing_lookup(self):
        class Broken:
            def __init__(self):
                self.mcos_object_cache = {7: object()}

            def get_object_metadata(self, object_id):
                raise IndexError("object id out of range")

            def get_classname(self, class_id):
                return "x"

        recorder = child.ClassRecorder(Broken)
        Broken()
        assert recorder.classes() is None
        assert "IndexError: object id out of range" in recorder.problem

    @pytest.mark.parametrize("name", ["series_conv1d_bn_globalpool.mat", "series_gru100_gait.mat",
                                      "vcs_bilstm100_last.mat"])
    def test_fallback_infers_the_same_classes_when_matio_changes(self, tmp_path, name):
        """mat-io whose subsystem lacks what the recorder reads (its internals changed; here
        simulated by requiring an attribute it does not have): the child reports it and the
        reader infers each class from the fields, saying so."""
        path = fixture_path("matlab", "nets", name)
        target = tmp_path / "out.npz"
        script = ("import importlib.util as u; "
                  f"spec = u.spec_from_file_location('child', {child.__file__!r}); "
                  "child = u.module_from_spec(spec); spec.loader.exec_module(child); "
                  "child.ClassRecorder.REQUIRED += ('class_table',); "
                  f"child.main({str(path)!r}, {str(target)!r})")
        subprocess.run([sys.executable, "-c", script], check=True, timeout=300)
        with np.load(target, allow_pickle=False) as saved:
            fallback = saved_network(str(path), {k: saved[k] for k in saved.files})
        assert "lacks ['class_table']" in fallback.class_problem
        assert {r.class_source for r in fallback.layers} == {"fields"}
        subprocess.run([sys.executable, child.__file__, str(path), str(target)], check=True,
                       timeout=300)
        with np.load(target, allow_pickle=False) as saved:
            recorded = saved_network(str(path), {k: saved[k] for k in saved.files})
        assert {r.class_source for r in recorded.layers} == {"subsystem"}
        assert [r.matlab_class for r in fallback.layers] == [
            {"nnet.cnn.layer.Convolution1DLayer": "nnet.cnn.layer.ConvolutionLayer",
             "nnet.cnn.layer.GlobalAveragePooling1DLayer":
                 "nnet.cnn.layer.GlobalAveragePooling1DLayer"}.get(r.matlab_class,
                                                                    r.matlab_class)
            if r.matlab_class != "nnet.cnn.layer.ReLULayer" else "unknown"
            for r in recorded.layers]
        text = str(NetworkSummary(fallback, [
            {"position": r.position, "name": r.name, "class": r.matlab_class,
             "class_source": r.class_source, "options": {}, "learnables": {}}
            for r in fallback.layers]))
        assert "classes inferred from saved fields" in text and "class_table" in text


def test_field_inference_names_the_newer_layers():
    assert infer_class({"MaxPosition": np.ones(1), "Weights": np.ones((3, 4)),
                        "OutputSize": np.ones(1)}) == "nnet.cnn.layer.PositionEmbeddingLayer"
    assert infer_class({"NumKeyChannels": np.ones(1), "QueryWeights": np.ones((4, 2))}) == \
        "nnet.cnn.layer.SelfAttentionLayer"
    assert infer_class({"Dim": np.ones(1), "NumInputs": np.ones(1)}) == \
        "nnet.cnn.layer.ConcatenationLayer"
    assert infer_class({"Name": np.array(["add"]), "Version": np.ones(1),
                        "NumInputs": np.ones(1)}) == "nnet.cnn.layer.AdditionLayer"
    assert infer_class({"Name": np.array(["t"]), "Type": np.array(["Tanh"])}) == \
        "nnet.cnn.layer.TanhLayer"
    assert infer_class({"Name": np.array(["relu"]), "Version": np.ones(1)}) == "unknown"
