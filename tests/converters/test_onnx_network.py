"""load_onnx_network: the ONNX operator's LSTM/GRU cases, and random models run by onnxruntime."""

import itertools

import numpy as np
import onnx
import onnxruntime
import pytest
from onnx import helper, numpy_helper

from matkeras.converters import MatFileError, load_onnx_network
from tests import tolerances as tol
from tests.conftest import fixture_path
from tests.layers.onnx_cases import load_case

NODE_CASES = ["test_lstm_defaults", "test_lstm_with_initial_bias", "test_lstm_reverse",
              "test_lstm_batchwise", "test_lstm_bidirectional", "test_gru_defaults",
              "test_gru_with_initial_bias", "test_gru_seq_length", "test_gru_reverse",
              "test_gru_batchwise", "test_gru_bidirectional"]


def _predict(model, inputs):
    outputs = model.predict(inputs, verbose=0) if len(model.outputs) > 1 else [
        model.predict(inputs, verbose=0)]
    return [np.asarray(o) for o in outputs]


@pytest.mark.parametrize("case", NODE_CASES)
def test_operator_test_cases(case):
    attributes, tensors = load_case(case)
    path = fixture_path("onnx_node", case, "model.onnx")
    graph = onnx.load(str(path)).graph
    constants = {name: tensors[name] for name in ("W", "R", "B") if name in tensors}
    model = load_onnx_network(path, constants=constants)
    got = _predict(model, tensors["X"])
    expected = [tensors[o.name] for o in graph.output]
    assert len(got) == len(expected)
    for g, e in zip(got, expected, strict=True):
        assert g.shape == e.shape
        assert np.max(np.abs(g - e)) <= tol.FLOAT32_PAIR_ATOL


def test_peephole_case_is_refused_by_name():
    attributes, tensors = load_case("test_lstm_with_peepholes")
    constants = {k: tensors[k] for k in ("W", "R", "B", "P", "initial_h", "initial_c",
                                         "sequence_lens")}
    with pytest.raises(MatFileError, match="peephole"):
        load_onnx_network(fixture_path("onnx_node", "test_lstm_with_peepholes", "model.onnx"),
                          constants=constants)


def _random_model(kind, direction, activations, linear_before_reset, rng, T=7, N=3, C=4, H=5,
                  head=False):
    gates = 4 if kind == "LSTM" else 3
    dirs = 2 if direction == "bidirectional" else 1
    init = {
        "W": rng.normal(0, 0.5, (dirs, gates * H, C)),
        "R": rng.normal(0, 0.5, (dirs, gates * H, H)),
        "B": rng.normal(0, 0.5, (dirs, 2 * gates * H)),
        "initial_h": np.broadcast_to(rng.normal(0, 0.5, (dirs, 1, H)), (dirs, N, H)),
    }
    inputs = ["X", "W", "R", "B", "", "initial_h"]
    outputs = ["Y", "Y_h"]
    if kind == "LSTM":
        init["initial_c"] = np.broadcast_to(rng.normal(0, 0.5, (dirs, 1, H)), (dirs, N, H))
        inputs.append("initial_c")
        outputs.append("Y_c")
    attrs = {"hidden_size": H, "direction": direction, "activations": activations * dirs}
    if kind == "GRU":
        attrs["linear_before_reset"] = linear_before_reset
    nodes = [helper.make_node(kind, inputs, outputs, **attrs)]
    graph_outputs = [helper.make_tensor_value_info("Y", onnx.TensorProto.FLOAT, [T, dirs, N, H]),
                     helper.make_tensor_value_info("Y_h", onnx.TensorProto.FLOAT, [dirs, N, H])]
    if head:  # as MATLAB exports a sequence classifier: squeeze, transpose, FC, softmax
        init["fc_w"] = rng.normal(0, 0.5, (dirs * H, 3))
        init["fc_b"] = rng.normal(0, 0.5, 3)
        init["shape"] = np.array([T, N, dirs * H], np.int64)
        nodes += [helper.make_node("Transpose", ["Y"], ["Yt"], perm=[0, 2, 1, 3]),
                  helper.make_node("Reshape", ["Yt", "shape"], ["Yr"]),
                  helper.make_node("MatMul", ["Yr", "fc_w"], ["Z"]),
                  helper.make_node("Add", ["Z", "fc_b"], ["Zb"]),
                  helper.make_node("Softmax", ["Zb"], ["P"], axis=-1)]
        graph_outputs = [helper.make_tensor_value_info("P", onnx.TensorProto.FLOAT, [T, N, 3])]
    initializers = [numpy_helper.from_array(np.asarray(v, np.int64 if k == "shape" else
                                                       np.float32), k)
                    for k, v in init.items()]
    graph = helper.make_graph(nodes, "rnn",
                              [helper.make_tensor_value_info("X", onnx.TensorProto.FLOAT,
                                                             [T, N, C])],
                              graph_outputs, initializer=initializers)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])


LSTM_ACTIVATIONS = [[g, s, s] for g, s in itertools.product(["Sigmoid", "HardSigmoid"],
                                                              ["Tanh", "Softsign", "Relu"])]


@pytest.mark.parametrize("direction", ["forward", "reverse", "bidirectional"])
@pytest.mark.parametrize("activations", LSTM_ACTIVATIONS, ids=lambda a: "-".join(a[:2]))
def test_random_lstm_models_match_onnxruntime(tmp_path, rng, direction, activations):
    _check_against_onnxruntime(tmp_path, _random_model("LSTM", direction, activations, 0, rng),
                               rng)


@pytest.mark.parametrize("direction", ["forward", "reverse", "bidirectional"])
@pytest.mark.parametrize("linear_before_reset", [0, 1])
@pytest.mark.parametrize("activations", [["Sigmoid", "Tanh"], ["HardSigmoid", "Softsign"]],
                         ids=lambda a: "-".join(a))
def test_random_gru_models_match_onnxruntime(tmp_path, rng, direction, linear_before_reset,
                                             activations):
    model = _random_model("GRU", direction, activations, linear_before_reset, rng)
    _check_against_onnxruntime(tmp_path, model, rng)


def test_matlab_style_classifier_graph(tmp_path, rng):
    model = _random_model("LSTM", "bidirectional", ["Sigmoid", "Tanh", "Tanh"], 0, rng,
                          head=True)
    _check_against_onnxruntime(tmp_path, model, rng)


def _check_against_onnxruntime(tmp_path, model, rng):
    onnx.checker.check_model(model)
    path = tmp_path / "model.onnx"
    onnx.save(model, path)
    x = rng.normal(0, 1, [d.dim_value for d in
                          model.graph.input[0].type.tensor_type.shape.dim]).astype("float32")
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    expected = session.run(None, {"X": x})
    got = _predict(load_onnx_network(path), x)
    for g, e in zip(got, expected, strict=True):
        assert g.shape == e.shape
        assert np.max(np.abs(g - e)) <= tol.FLOAT32_PAIR_ATOL


class TestOnnxErrors:
    def test_not_an_onnx_file(self, tmp_path):
        (tmp_path / "x.onnx").write_bytes(b"\x00garbage" * 50)
        with pytest.raises(MatFileError, match="is not a valid ONNX model"):
            load_onnx_network(tmp_path / "x.onnx")

    def test_unsupported_ops_are_listed(self, tmp_path, rng):
        node = helper.make_node("ConvTranspose", ["X", "w"], ["Y"])
        graph = helper.make_graph(
            [node], "g", [helper.make_tensor_value_info("X", onnx.TensorProto.FLOAT,
                                                        [1, 1, 4, 4])],
            [helper.make_tensor_value_info("Y", onnx.TensorProto.FLOAT, [1, 1, 3, 3])],
            initializer=[numpy_helper.from_array(np.ones((1, 1, 2, 2), np.float32), "w")])
        onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)]),
                  tmp_path / "conv.onnx")
        with pytest.raises(MatFileError, match=r"does not convert: \['ConvTranspose'\]"):
            load_onnx_network(tmp_path / "conv.onnx")


def test_sizes_known_at_run_time_follow_every_batch_and_length(tmp_path, rng):
    """ONNX's shape arithmetic on a free batch and time axis (Shape, Gather, Slice, Concat,
    Unsqueeze, Cast, ConstantOfShape, Expand, Reshape with run-time sizes, a Slice ending at a
    run-time size, Trilu, Where), the way exporters write a position embedding and a causal
    mask: equal to ONNX Runtime at three (batch, length) pairs, and through a .keras file."""
    import keras

    table = rng.normal(size=(9, 4)).astype("float32")  # 9 positions, 4 channels
    int64 = lambda name, v: numpy_helper.from_array(np.asarray(v, np.int64), name)  # noqa: E731
    nodes = [
        helper.make_node("Shape", ["x"], ["shape"]),
        helper.make_node("Gather", ["shape", "one"], ["steps"], axis=0),  # (1,): T
        helper.make_node("Slice", ["shape", "zero", "two"], ["bt"]),  # (2,): N, T
        helper.make_node("Slice", ["table", "zero", "steps", "zero"], ["rows"]),  # (T, 4)
        helper.make_node("Concat", ["bt", "four"], ["ntc"], axis=0),
        helper.make_node("Unsqueeze", ["rows", "zero"], ["rows1"]),
        helper.make_node("Expand", ["rows1", "ntc"], ["positions"]),  # (N, T, 4)
        helper.make_node("Add", ["x", "positions"], ["embedded"]),
        helper.make_node("Concat", ["steps", "steps"], ["square_shape"], axis=0),
        helper.make_node("ConstantOfShape", ["square_shape"], ["square"],
                         value=numpy_helper.from_array(np.ones(1, np.float32))),
        helper.make_node("Trilu", ["square"], ["lower"], upper=0),
        helper.make_node("Cast", ["lower"], ["allowed"], to=onnx.TensorProto.BOOL),
        helper.make_node("MatMul", ["embedded", "embedded_t"], ["scores"]),
        helper.make_node("Where", ["allowed", "scores", "lowest"], ["masked"]),
        helper.make_node("Softmax", ["masked"], ["weights"], axis=-1),
        helper.make_node("MatMul", ["weights", "embedded"], ["mixed"]),
        helper.make_node("Concat", ["bt", "two_four"], ["split_shape"], axis=0),
        helper.make_node("Reshape", ["mixed", "split_shape"], ["y"]),  # (N, T, 2, 2)
    ]
    nodes.insert(12, helper.make_node("Transpose", ["embedded"], ["embedded_t"],
                                      perm=[0, 2, 1]))
    graph = helper.make_graph(
        nodes, "shapes",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, ["N", "T", 4])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, ["N", "T", 2, 2])],
        [numpy_helper.from_array(table, "table"), int64("zero", [0]), int64("one", [1]),
         int64("two", [2]), int64("four", [4]), int64("two_four", [2, 2]),
         numpy_helper.from_array(np.array(-1e9, np.float32), "lowest")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    path = tmp_path / "shapes.onnx"
    onnx.save(model, path)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    loaded = load_onnx_network(path)
    loaded.save(tmp_path / "shapes.keras")
    again = keras.models.load_model(tmp_path / "shapes.keras")
    for batch, steps in ((1, 9), (3, 5), (2, 1)):
        x = rng.normal(size=(batch, steps, 4)).astype("float32")
        expected = session.run(None, {"x": x})[0]
        for network in (loaded, again):
            got = np.asarray(network(x))
            assert got.shape == expected.shape
            assert float(np.max(np.abs(got - expected))) <= tol.FLOAT32_PAIR_ATOL
