"""ONNX files laid out as MATLAB's exportONNXNetwork writes them load with load_onnx_network and
equal the network loaded from the .mat file they came from, at any batch size and length.

No MATLAB-exported ONNX file of a sequence network is in ../shared (the issue keeps one back).
These files are written here from real MATLAB-saved networks (their weights read with mat-io,
not through matkeras) in the layout of MathWorks' own converter sources
(``ConverterForSequenceInputLayer``, ``ConverterForLSTMLayer``, ``ConverterForBiLSTMLayer``,
``ConverterForFullyConnectedLayer``, ``ConverterForDropoutLayer``, ``ConverterForSoftmaxLayer``,
2018-2019): opset 8; the sequence input ``[10, 1, C]`` (time-major, length 10 and batch 1
fixed); every initializer also a graph input; LSTM gates in ONNX's i, o, f, c order with the
recurrent-bias half of B zero and ``initial_h``/``initial_c`` of batch 1; 'last' output through
``Y_h`` straight into ``Gemm`` (``transB=1``); ``Dropout`` with ``ratio``; ``Softmax`` without
an axis; the output declared ``[1, K]``. ONNX Runtime refuses such a file at a batch other than
1 (the states' batch); matkeras takes any.
"""

import numpy as np
import onnx
import onnxruntime
import pytest
from onnx import helper, numpy_helper

from matkeras.converters import load_matlab_network, load_onnx_network
from tests import tolerances as tol
from tests.conftest import fixture_path
from tests.fixtures.matlab_files import saved_layers, value


def _onnx_gates(matrix, units):
    """MATLAB's gate blocks i, f, g, o (rows) as ONNX's i, o, f, c."""
    i, f, g, o = (matrix[k * units:(k + 1) * units] for k in range(4))
    return np.concatenate([i, o, f, g])


def _state(layer, name, units, directions):
    if name in layer.dtype.names and value(layer, name).size:
        return value(layer, name).reshape(directions, 1, units)
    return np.zeros((directions, 1, units))


def _matlab_export(file, dropout=None, matmul=False):
    """The ONNX model MATLAB's 2018-2019 converter writes for `file`'s network
    (sequenceInput -> lstm/bilstm -> [dropout] -> fc -> [softmax] -> output layer); with
    `matmul` (one direction, sequence output) the fully connected layer as newer converters
    refer to it, Squeeze of the direction axis, MatMul and Add, which ONNX Runtime loads
    (it refuses the sources' Gemm of a 3-D or 4-D input)."""
    layers = saved_layers(file)
    inputs, recurrent, fc = layers[0], layers[1], layers[2]
    channels = int(value(inputs, "InputSize").ravel()[0])
    units = int(value(recurrent, "NumHiddenUnits").ravel()[0])
    W, R, b = (value(recurrent, k) for k in ("InputWeights", "RecurrentWeights", "Bias"))
    directions = W.shape[0] // (4 * units)
    per = 4 * units
    init = {
        "lstm_W": np.stack([_onnx_gates(W[d * per:(d + 1) * per], units)
                            for d in range(directions)]),
        "lstm_R": np.stack([_onnx_gates(R[d * per:(d + 1) * per], units)
                            for d in range(directions)]),
        "lstm_B": np.stack([np.concatenate([_onnx_gates(b.ravel()[d * per:(d + 1) * per],
                                                        units), np.zeros(per)])
                            for d in range(directions)]),
        "lstm_initial_h": _state(recurrent, "HiddenState", units, directions),
        "lstm_initial_c": _state(recurrent, "CellState", units, directions),
        "fc_W": value(fc, "Weights"), "fc_B": value(fc, "Bias").ravel(),
    }
    last = not bool(value(recurrent, "ReturnSequence").ravel()[0])
    attributes = {"hidden_size": units, "activations": ["Sigmoid", "Tanh", "Tanh"] * directions,
                  "direction": "bidirectional" if directions == 2 else "forward"}
    nodes = [helper.make_node("LSTM", ["sequenceinput", "lstm_W", "lstm_R", "lstm_B", "",
                                       "lstm_initial_h", "lstm_initial_c"],
                              ["", "lstm"] if last else ["lstm"], name="lstm", **attributes)]
    feature = "lstm"
    if matmul:
        nodes.append(helper.make_node("Squeeze", ["lstm"], ["lstm_squeezed"], axes=[1]))
        feature = "lstm_squeezed"
        init["fc_Wt"] = init.pop("fc_W").T
    if dropout is not None:
        nodes.append(helper.make_node("Dropout", [feature], ["dropout"], name="dropout",
                                      ratio=dropout))
        feature = "dropout"
    if matmul:
        nodes += [helper.make_node("MatMul", [feature, "fc_Wt"], ["fc_MatMul"]),
                  helper.make_node("Add", ["fc_MatMul", "fc_B"], ["fc"])]
    else:
        nodes.append(helper.make_node("Gemm", [feature, "fc_W", "fc_B"], ["fc"], name="fc",
                                      alpha=1.0, beta=1.0, transA=0, transB=1))
    output, classes = "fc", int(value(fc, "OutputSize").ravel()[-1])
    if last:
        nodes.append(helper.make_node("Softmax", ["fc"], ["softmax"], name="softmax"))
        output = "softmax"
    initializers = [numpy_helper.from_array(v.astype(np.float32), k) for k, v in init.items()]
    graph = helper.make_graph(
        nodes, "matlab_export",
        [*(helper.make_tensor_value_info(t.name, onnx.TensorProto.FLOAT, list(t.dims))
           for t in initializers),
         helper.make_tensor_value_info("sequenceinput", onnx.TensorProto.FLOAT,
                                       [10, 1, channels])],
        [helper.make_tensor_value_info(output, onnx.TensorProto.FLOAT,
                                       [1, classes] if last else [10, 1, classes])],
        initializer=initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 8)],
                              producer_name="MATLAB Deep Learning Toolbox Converter for ONNX")
    model.ir_version = 4
    return model


CASES = {"vcs_bilstm100_last.mat": (0.2, False), "rossler_lstm25.mat": (None, False),
         "rossler_lstm25.mat-matmul": (0.2, True)}


@pytest.mark.parametrize("case", sorted(CASES))
def test_matlab_export_equals_the_mat_network_at_any_batch_and_length(case, tmp_path, rng):
    file = case.split("-")[0]
    path = tmp_path / "net.onnx"
    onnx.save(_matlab_export(file, *CASES[case]), path)
    onnx.checker.check_model(str(path))
    from_onnx = load_onnx_network(path)
    from_mat = load_matlab_network(fixture_path("matlab", "nets", file))
    channels = from_mat.inputs[0].shape[-1]
    for steps, batch in ((10, 1), (7, 5), (23, 3)):
        x = rng.standard_normal((batch, steps, channels)).astype("float32")
        expected = np.asarray(from_mat(x))  # (N, K) or (N, T, K)
        got = np.asarray(from_onnx(np.transpose(x, (1, 0, 2))))  # MATLAB's [T, N, C]
        if expected.ndim == 3:
            got = np.transpose(got, (1, 0, 2))
        assert got.shape == expected.shape, (got.shape, expected.shape)
        error = float(np.max(np.abs(got - expected)))
        print(f"{file} ONNX vs .mat, T={steps} N={batch}: max |diff| {error:.1e}")
        assert error <= tol.FLOAT32_PAIR_ATOL


def test_onnx_runtime_agrees_at_its_only_batch_size(tmp_path, rng):
    """ONNX Runtime runs the file as written (batch 1, 10 steps): matkeras's reading equals it.
    (At batch 2 Runtime refuses it, as it does MATLAB's own files.)"""
    file = "rossler_lstm25.mat"
    path = tmp_path / "net.onnx"
    onnx.save(_matlab_export(file, 0.2, matmul=True), path)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = rng.standard_normal((10, 1, 3)).astype("float32")
    (expected,) = session.run(None, {"sequenceinput": x})
    got = np.asarray(load_onnx_network(path)(x))
    assert got.shape == expected.shape
    assert float(np.max(np.abs(got - expected))) <= tol.FLOAT32_PAIR_ATOL
    with pytest.raises(Exception):  # noqa: B017 (onnxruntime's own error types)
        session.run(None, {"sequenceinput": np.zeros((10, 2, 3), np.float32)})
