"""Reads the ONNX operator test cases in ../shared/fixtures/onnx_node."""

import onnx
from onnx import numpy_helper

from tests.conftest import fixture_path


def load_case(name):
    """Returns (node attributes, {tensor name: array}) of one serialized ONNX node test case."""
    folder = fixture_path("onnx_node", name)
    node = onnx.load(str(folder / "model.onnx")).graph.node[0]
    attributes = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
    tensors = {}
    for kind, names in (("input", node.input), ("output", node.output)):
        present = [n for n in names if n]
        for index, tensor_name in enumerate(present):
            proto = onnx.TensorProto()
            proto.ParseFromString((folder / "test_data_set_0" / f"{kind}_{index}.pb").read_bytes())
            assert proto.name == tensor_name
            tensors[tensor_name] = numpy_helper.to_array(proto)
    return attributes, tensors


def batch_major(attributes, tensors):
    """X as (N, T, C), and a function giving an output for direction d in matkeras's layout."""
    batchwise = attributes.get("layout", 0) == 1
    x = tensors["X"] if batchwise else tensors["X"].transpose(1, 0, 2)

    def expected(name, d):
        value = tensors[name]
        if name == "Y":  # (T, dirs, N, H), or (N, T, dirs, H) when batchwise
            return value[:, :, d] if batchwise else value[:, d].transpose(1, 0, 2)
        return value[:, d] if batchwise else value[d]  # (dirs, N, H) or (N, dirs, H)

    return x, expected
