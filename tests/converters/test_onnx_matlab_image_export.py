"""ONNX image CNNs laid out as MATLAB's exportONNXNetwork writes them (NCHW; the zerocenter
mean as a Sub; each convolution a Conv with MATLAB's PaddingSize as ``pads``; the depthwise
grouped convolution a Conv with ``group``; max pooling with its pads; a fully connected layer
after spatial layers as a Conv whose kernel covers the whole input, as the fixtures README
records of MATLAB's real exports; Flatten; Softmax without an axis; opset 8, batch declared 1),
written from the two real MATLAB-saved CNNs (weights read with mat-io, not through matkeras):
ONNX Runtime, load_onnx_network and the .mat network agree.
"""

import numpy as np
import onnx
import onnxruntime
import pytest
from onnx import helper, numpy_helper

from matkeras.converters import load_matlab_network, load_onnx_network
from tests import tolerances as tol
from tests.conftest import fixture_path
from tests.fixtures.matlab_files import saved_graph, text, value

FILES = {"dlnetwork_speechcmd_cnn_trainnet2024.mat": ("trainedNet",),
         "series_ecg_polar_groupedconv2d_classweights.mat": ("network",)}


_v, _s = value, text


def _ints(fields, name):
    return [int(v) for v in np.ravel(_v(fields, name))]


def _pads(fields):
    """ONNX pads [top, left, bottom, right] from MATLAB's PaddingSize [t b l r] ('same' is
    saved resolved for the training input size, which these inputs have)."""
    t, b, left, r = _ints(fields, "PaddingSize")
    return [t, left, b, r]


def _export(file):
    fields_list, _, _ = saved_graph(file, *FILES[file])
    init, nodes = {}, []
    current = "input"
    channels = None
    for k, f in enumerate(fields_list):
        name = _s(f, "Name")
        klass = set(f)
        out = f"{name}_out"
        if k == 0:  # the image input layer's zerocenter mean
            normalization = f["Normalization"][0, 0]
            mean = np.asarray(normalization["AverageImage"], np.float64)
            size = [int(v) for v in np.ravel(_v(f, "InputSize"))]
            channels = size[2]
            height, width = size[:2]
            init[f"{name}_Mean"] = np.broadcast_to(mean.reshape(1, 1, 1, -1), (1, 1, 1, channels)
                                                   ).transpose(0, 3, 1, 2)
            nodes.append(helper.make_node("Sub", [current, f"{name}_Mean"], [out]))
        elif "NumGroups" in klass:
            W = _v(f, "Weights")
            groups = int(_v(f, "NumGroups").ravel()[0])
            W = W.reshape(*W.shape[:3], -1, groups, order="F")  # (kh, kw, C/G, F/G, G)
            W = W.reshape(*W.shape[:3], -1, order="F")  # (kh, kw, C/G, F), group after group
            init[f"{name}_W"] = W.transpose(3, 2, 0, 1)
            init[f"{name}_B"] = _v(f, "Bias").reshape(-1, order="F")
            nodes.append(helper.make_node(
                "Conv", [current, f"{name}_W", f"{name}_B"], [out], group=groups,
                kernel_shape=_ints(f, "FilterSize"), strides=_ints(f, "Stride"),
                dilations=_ints(f, "DilationFactor"), pads=_pads(f)))
        elif "NumFilters" in klass:
            init[f"{name}_W"] = _v(f, "Weights").transpose(3, 2, 0, 1)  # (F, C, kh, kw)
            init[f"{name}_B"] = _v(f, "Bias").ravel()
            nodes.append(helper.make_node(
                "Conv", [current, f"{name}_W", f"{name}_B"], [out],
                kernel_shape=_ints(f, "FilterSize"), strides=_ints(f, "Stride"),
                dilations=_ints(f, "DilationFactor"), pads=_pads(f)))
        elif "TrainedMean" in klass:
            for key, field in (("scale", "Scale"), ("B", "Offset"), ("mean", "TrainedMean"),
                               ("var", "TrainedVariance")):
                init[f"{name}_{key}"] = _v(f, field).ravel()
            nodes.append(helper.make_node(
                "BatchNormalization", [current] + [f"{name}_{k}" for k in
                                                   ("scale", "B", "mean", "var")], [out],
                epsilon=float(_v(f, "Epsilon").ravel()[0])))
        elif "PoolSize" in klass:
            nodes.append(helper.make_node(
                "MaxPool", [current], [out], kernel_shape=_ints(f, "PoolSize"),
                strides=_ints(f, "Stride"), pads=_pads(f)))
        elif "Probability" in klass:
            nodes.append(helper.make_node("Dropout", [current], [out],
                                          ratio=float(_v(f, "Probability").ravel()[0])))
        elif "OutputSize" in klass:  # fully connected over a spatial input: a Conv
            W = _v(f, "Weights")  # (h, w, c, K)
            init[f"{name}_W"] = W.transpose(3, 2, 0, 1)
            init[f"{name}_B"] = _v(f, "Bias").ravel()
            nodes.append(helper.make_node("Conv", [current, f"{name}_W", f"{name}_B"],
                                          [f"{name}_conv"], kernel_shape=list(W.shape[:2])))
            nodes.append(helper.make_node("Flatten", [f"{name}_conv"], [out], axis=1))
        elif "VectorFormat" in klass:  # softmax: no axis (opset 8: 1)
            nodes.append(helper.make_node("Softmax", [current], [out]))
        elif "Categories" in klass:  # classification output: nothing
            continue
        else:  # ReLU
            nodes.append(helper.make_node("Relu", [current], [out]))
        current = out
    initializers = [numpy_helper.from_array(np.asarray(v, np.float32), k)
                    for k, v in init.items()]
    fc = [f for f in fields_list if "OutputSize" in f][0]
    classes = int(np.ravel(_v(fc, "OutputSize"))[-1])
    graph = helper.make_graph(
        nodes, "matlab_image_export",
        [helper.make_tensor_value_info("input", onnx.TensorProto.FLOAT,
                                       [1, channels, height, width])],
        [helper.make_tensor_value_info(current, onnx.TensorProto.FLOAT, [1, classes])],
        initializer=initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 8)])
    model.ir_version = 4
    return model


@pytest.mark.parametrize("file", sorted(FILES))
def test_matlab_style_image_onnx_equals_onnx_runtime_and_the_mat_network(file, tmp_path, rng):
    path = tmp_path / "cnn.onnx"
    onnx.save(_export(file), path)
    onnx.checker.check_model(str(path))
    from_onnx = load_onnx_network(path)
    from_mat = load_matlab_network(fixture_path("matlab", "nets", file))
    height, width, channels = from_mat.inputs[0].shape[1:]
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for batch in (1, 3):
        x = rng.standard_normal((batch, height, width, channels)).astype("float32")
        nchw = np.transpose(x, (0, 3, 1, 2))
        got = np.asarray(from_onnx(nchw))
        mat = np.asarray(from_mat(x))
        error = float(np.max(np.abs(got - mat)))
        print(f"{file} batch {batch}: ONNX (matkeras) vs .mat {error:.1e}")
        assert got.shape == mat.shape and error <= tol.FLOAT32_PAIR_ATOL
        if batch == 1:  # the file declares batch 1, as MATLAB's do
            (runtime,) = session.run(None, {"input": nchw})
            assert float(np.max(np.abs(got - runtime))) <= tol.FLOAT32_PAIR_ATOL


def _chain(nodes_spec, init, shape, opset, out_rank=2):
    nodes, current = [], "x"
    for k, (op, extra_inputs, attrs) in enumerate(nodes_spec):
        out = f"n{k}"
        nodes.append(helper.make_node(op, [current, *extra_inputs], [out], **attrs))
        current = out
    graph = helper.make_graph(
        nodes, "chain", [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info(current, onnx.TensorProto.FLOAT,
                                       [f"d{k}" for k in range(out_rank)])],
        initializer=[numpy_helper.from_array(np.asarray(v), k) for k, v in init.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


@pytest.mark.parametrize("opset", [8, 13])
def test_every_image_operator_equals_onnx_runtime(opset, tmp_path, rng):
    """Random weights through each image operator and option: grouped, depthwise (multiplier
    2) and auto_pad convolutions, pools with and without counted padding, LRN, LeakyRelu, Elu,
    Clip (attributes before opset 11, inputs after), Pad, global pools, Flatten at axis 2."""
    f32 = np.float32
    init = {"w1": rng.normal(0, 0.5, (6, 2, 3, 3)).astype(f32),
            "b1": rng.normal(0, 1, 6).astype(f32),
            "w2": rng.normal(0, 0.5, (12, 1, 3, 2)).astype(f32),
            "w3": rng.normal(0, 0.5, (4, 12, 2, 2)).astype(f32)}
    clip = ({"min": -0.5, "max": 0.8}, []) if opset < 11 else ({}, ["lo", "hi"])
    if opset >= 11:
        init.update(lo=np.array(-0.5, f32), hi=np.array(0.8, f32))
    pad = ({"pads": [0, 0, 1, 0, 0, 0, 0, 2]}, []) if opset < 11 else ({}, ["pads"])
    if opset >= 11:
        init["pads"] = np.array([0, 0, 1, 0, 0, 0, 0, 2], np.int64)
    spec = [
        ("Conv", ["w1", "b1"], {"group": 2, "kernel_shape": [3, 3], "pads": [1, 0, 2, 1],
                                "strides": [2, 1]}),
        ("LeakyRelu", [], {"alpha": 0.1}),
        ("Conv", ["w2"], {"group": 6, "kernel_shape": [3, 2], "auto_pad": "SAME_UPPER"}),
        ("LRN", [], {"size": 5, "alpha": 0.3, "beta": 0.6, "bias": 1.5}),
        ("Elu", [], {"alpha": 0.7}),
        ("AveragePool", [], {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1], "strides": [1, 2]}),
        ("Conv", ["w3"], {"kernel_shape": [2, 2], "auto_pad": "SAME_LOWER", "dilations": [1, 1],
                          "strides": [2, 2]}),
        ("Clip", clip[1], clip[0]),
        ("Pad", pad[1], pad[0]),
        ("MaxPool", [], {"kernel_shape": [2, 3], "pads": [0, 1, 1, 0]}),
        ("AveragePool", [], {"kernel_shape": [2, 2], "pads": [1, 0, 0, 1],
                             "count_include_pad": 1}),
        ("Flatten", [], {"axis": 2}),
    ]
    path = tmp_path / "ops.onnx"
    onnx.save(_chain(spec, init, [2, 4, 11, 9], opset), path)
    x = rng.normal(0, 1, (2, 4, 11, 9)).astype(f32)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (expected,) = session.run(None, {"x": x})
    got = np.asarray(load_onnx_network(path)(x))
    assert got.shape == expected.shape
    assert float(np.max(np.abs(got - expected))) <= tol.FLOAT32_PAIR_ATOL
    spec[-2] = ("GlobalMaxPool", [], {})
    onnx.save(_chain(spec[:-2] + [("GlobalAveragePool", [], {})], init, [2, 4, 11, 9], opset,
                     out_rank=4), path)
    (expected,) = onnxruntime.InferenceSession(str(path), providers=[
        "CPUExecutionProvider"]).run(None, {"x": x})
    got = np.asarray(load_onnx_network(path)(x))
    assert float(np.max(np.abs(got - expected))) <= tol.FLOAT32_PAIR_ATOL
