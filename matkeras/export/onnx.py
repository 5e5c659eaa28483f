"""ONNX export with ONNX's own recurrent operators: MATLAB's options mapped exactly.

:func:`export_onnx` writes a standard ONNX model (opset 14) of a network of matkeras layers (a
chain or a graph: the model's functional graph is walked layer by layer). The recurrent layers
become ONNX ``LSTM``/``GRU`` nodes, which express MATLAB's options directly: gate order i, o, f,
c (``matkeras.layers.layouts``); ``activations`` Sigmoid or HardSigmoid (alpha 0.2, beta 0.5:
MATLAB's hard-sigmoid) for the gates and Tanh, Softsign or Relu for the state;
``linear_before_reset`` 1 for MATLAB's after-multiplication GRU modes (the recurrent bias in
``B``'s second half for "recurrent-bias-after-multiplication") and 0 for
"before-multiplication"; ``direction="bidirectional"`` for BiLSTM (MATLAB's 'last' output is
``Y_h``, the forward state at T beside the backward state after the reversed sequence); the
layers' initial states as ``initial_h``/``initial_c`` broadcast to the batch. The other layers
are plain operators (``matkeras.export.onnx_ops``): input normalization (Sub/Div), fully
connected (MatMul/Add; over images flattened in MATLAB's column-major order), Conv (1-D, 2-D,
grouped), MaxPool/AveragePool, global pools, BatchNormalization, the activations, Softmax,
Add/Mul/Concat for the merge layers, and the transformer layers (position embedding,
indexing, self-attention with its causal mask); dropout and output layers are identities at
prediction. Inputs are ``x`` (``x1``, ``x2``, ... for several, in ``model.inputs`` order) and
outputs ``y`` (``y1``, ...), in Keras's layouts: ``(batch, time, C)``, ``(batch, C)`` or
``(batch, h, w, c)``, with dynamic batch and time axes.

Refused by name, before anything is written: layers without a mapping (projected layers: ONNX's
LSTM has no projection; matkeras's ONNX-import layers, folding, word embedding, ...), masks
(``use_mask``), state inputs/outputs, padding values other than zero (``'replicate'``, ...), a
custom attention mask or padding-mask input, and float64 models.
"""

import numpy as np

from matkeras import layers as L
from matkeras.export import onnx_ops as ops
from matkeras.export._trace import check_path, model_graph
from matkeras.export.onnx_ops import refuse
from matkeras.layers import layouts

OPSET = 14
_GATE = {"sigmoid": "Sigmoid", "hard-sigmoid": "HardSigmoid"}
_STATE = {"tanh": "Tanh", "softsign": "Softsign", "relu": "Relu"}


def export_onnx(model, path, overwrite=False):
    """Writes `model` (matkeras layers, a chain or a graph) as an ONNX file; returns the path.
    See the module notes for what it maps and what it refuses."""
    import onnx

    path = check_path(path, overwrite)
    builder = _Builder()
    builder.run(model)
    graph = onnx.helper.make_graph(builder.nodes, model.name or "matkeras", builder.inputs,
                                   builder.outputs, initializer=builder.initializers)
    proto = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", OPSET)],
                                   producer_name="matkeras")
    proto.ir_version = 8
    onnx.checker.check_model(proto, full_check=True)
    onnx.save(proto, path)
    return path


#: The Keras layout of a model input or output of each rank, and the ONNX dimension names.
_KERAS = {2: "NC", 3: "NTC", 4: "NHWC"}


def _dims(shape):
    names = {0: "batch", 1: "time"} if len(shape) == 3 else {0: "batch"}
    return [names[k] if d is None or k == 0 else int(d) for k, d in enumerate(shape)]


class _Builder:
    def __init__(self):
        self.nodes, self.initializers, self.count = [], [], 0

    def name(self, prefix):
        self.count += 1
        return f"{prefix}_{self.count}"

    def constant(self, prefix, array, dtype=np.float32):
        from onnx import numpy_helper

        name = self.name(prefix)
        self.initializers.append(numpy_helper.from_array(np.asarray(array, dtype), name))
        return name

    def node(self, op, inputs, outputs=None, **attributes):
        import onnx

        outputs = outputs or [self.name(op.lower())]
        self.nodes.append(onnx.helper.make_node(op, inputs, outputs, **attributes))
        return outputs if len(outputs) > 1 else outputs[0]

    def to(self, name, layout, target):
        """`name` transposed from `layout` to `target` (the same axes in another order)."""
        if layout == target:
            return name
        return self.node("Transpose", [name], perm=[layout.index(axis) for axis in target])

    def run(self, model):
        """Walks the model's graph (Keras's functional config), layer by layer."""
        import keras
        import onnx

        for tensor in model.inputs:
            if keras.backend.standardize_dtype(tensor.dtype) != "float32":
                raise ValueError(f"export_onnx writes float32 models; {model.name}'s input is "
                                 f"{tensor.dtype}.")
            if len(tensor.shape) not in _KERAS or any(
                    d is None for d in tensor.shape[1 + (len(tensor.shape) == 3):]):
                raise ValueError(f"export_onnx takes sequences (batch, time, C), features "
                                 f"(batch, C) or images (batch, h, w, c); {model.name}'s input "
                                 f"is {tuple(tensor.shape)}.")
        calls, input_names, outputs = model_graph(model, "export_onnx")
        several = [len(input_names) > 1, len(outputs) > 1]
        tensors, self.inputs, self.outputs = {}, [], []
        for k, (name, tensor) in enumerate(zip(input_names, model.inputs, strict=True)):
            label = f"x{k + 1}" if several[0] else "x"
            self.inputs.append(onnx.helper.make_tensor_value_info(
                label, onnx.TensorProto.FLOAT, _dims(tensor.shape)))
            tensors[(name, 0)] = (label, _KERAS[len(tensor.shape)])
        for layer, sources in calls:
            inputs = [tensors[(source.name, index)] for source, index in sources]
            tensors[(layer.name, 0)] = self.layer(layer, inputs)
        for k, ((layer, index), tensor) in enumerate(zip(outputs, model.outputs, strict=True)):
            if (layer.name, index) not in tensors:
                refuse(layer, f"gives the model's output on its port {index + 1}, which the "
                              "export does not map")
            current, layout = tensors[(layer.name, index)]
            label = f"y{k + 1}" if several[1] else "y"
            self.node("Identity", [self.to(current, layout, _KERAS[len(tensor.shape)])],
                      [label])
            self.outputs.append(onnx.helper.make_tensor_value_info(
                label, onnx.TensorProto.FLOAT, _dims(tensor.shape)))

    def layer(self, layer, inputs):
        if len(inputs) != 1 and not isinstance(layer, (L.Addition, L.Multiplication,
                                                       L.Concatenation,
                                                       L.DepthConcatenation)):
            refuse(layer, f"takes {len(inputs)} inputs (state or mask inputs), which the export "
                          "does not map")
        current = inputs[0]
        if isinstance(layer, (L.SequenceInput, L.FeatureInput, L.ImageInput)):
            return self.normalization(layer, current[0]), current[1]
        if type(layer) in (L.LSTM, L.GRU, L.BiLSTM):
            return self.recurrent(layer, *current)
        for kinds, function in _OPS:
            if isinstance(layer, kinds):
                return function(self, layer, inputs if function is ops.merge else current)
        if isinstance(layer, (L.Dropout, L.Classification, L.Regression)):  # SpatialDropout too
            return current  # identities at prediction
        refuse(layer, "has no ONNX mapping here yet")

    def normalization(self, layer, current):
        kind = layer.normalization
        if callable(kind):
            raise ValueError(f"export_onnx: '{layer.name}' normalizes with a function; only "
                             "MATLAB's named normalizations are exported.")
        stats = {}
        for key in ("mean", "standard_deviation", "min", "max"):
            try:
                stats[key] = layer.statistic(key)
            except KeyError:  # not one this normalization keeps
                pass
        if kind == "zerocenter":
            return self.node("Sub", [current, self.constant("mean", stats["mean"])])
        if kind == "zscore":
            centered = self.node("Sub", [current, self.constant("mean", stats["mean"])])
            return self.node("Div", [centered, self.constant("std",
                                                             stats["standard_deviation"])])
        if kind in ("rescale-zero-one", "rescale-symmetric"):
            low, high = stats["min"], stats["max"]
            scaled = self.node("Div", [self.node("Sub", [current, self.constant("min", low)]),
                                       self.constant("range", high - low)])
            if kind == "rescale-zero-one":
                return scaled
            doubled = self.node("Mul", [scaled, self.constant("two", 2.0)])
            return self.node("Sub", [doubled, self.constant("one", 1.0)])
        return current

    def recurrent(self, layer, current, layout):
        if layer.use_mask or layer.has_state_inputs or layer.has_state_outputs or \
                layer.go_backwards:
            refuse(layer, "uses masking, state inputs/outputs or go_backwards, which the "
                          "export does not map")
        if layout not in ("NTC", "TNC", "NCT"):
            refuse(layer, "needs a sequence input")
        current = self.to(current, layout, "TNC")
        bidirectional = isinstance(layer, L.BiLSTM)
        directions = 2 if bidirectional else 1
        kind = "gru" if isinstance(layer, L.GRU) else "lstm"
        units = layer.units
        gates = 3 if kind == "gru" else 4
        W, R, b = layer.input_weights, layer.recurrent_weights, np.ravel(layer.bias)
        per = gates * units
        attributes = {"hidden_size": units, "direction": "bidirectional" if bidirectional
                      else "forward"}
        weights, recurrent, biases = [], [], []
        for d in range(directions):
            weights.append(layouts.matlab_to_onnx(kind, W[d * per:(d + 1) * per]))
            recurrent.append(layouts.matlab_to_onnx(kind, R[d * per:(d + 1) * per]))
            if kind == "gru":
                mode = layer.reset_gate_mode
                attributes["linear_before_reset"] = int(mode != "before-multiplication")
                if mode == "recurrent-bias-after-multiplication":
                    biases.append(layouts.matlab_to_onnx("gru", b, chunks=2))
                else:
                    biases.append(np.concatenate([layouts.matlab_to_onnx("gru", b),
                                                  np.zeros(per)]))
            else:
                biases.append(np.concatenate([layouts.matlab_to_onnx(
                    "lstm", b[d * per:(d + 1) * per]), np.zeros(per)]))
        gate, state = _GATE[layer.gate_activation], _STATE[layer.state_activation]
        names = ([gate, state, state] if kind == "lstm" else [gate, state]) * directions
        attributes["activations"] = names
        if gate == "HardSigmoid":
            # One value per HardSigmoid: ONNX Runtime gives the values to the activations that
            # take them, in order; a runtime that gives one to every activation reads 0.2, 0.5
            # for the first and ONNX's defaults (also 0.2, 0.5) for the others.
            attributes["activation_alpha"] = [0.2] * names.count("HardSigmoid")
            attributes["activation_beta"] = [0.5] * names.count("HardSigmoid")
        inputs = [current, self.constant("W", np.stack(weights)),
                  self.constant("R", np.stack(recurrent)), self.constant("B", np.stack(biases)),
                  ""]
        for value in layer.initial_state_values():
            inputs.append(self.states(current, np.reshape(value, (directions, 1, units))))
        outputs = [self.name("Y"), self.name("Y_h")] + (
            [self.name("Y_c")] if kind == "lstm" else [])
        self.node(kind.upper(), inputs, outputs, **attributes)
        y, y_h = outputs[0], outputs[1]
        if layer.output_mode == "last":
            if directions == 1:
                return self.node("Squeeze", [y_h, self.constant("axes", [0], np.int64)]), "NC"
            moved = self.node("Transpose", [y_h], perm=[1, 0, 2])
            return self.node("Reshape", [moved, self.constant("shape", [0, -1], np.int64)]), \
                "NC"
        if directions == 1:
            return self.node("Squeeze", [y, self.constant("axes", [1], np.int64)]), "TNC"
        moved = self.node("Transpose", [y], perm=[0, 2, 1, 3])
        return self.node("Reshape", [moved, self.constant("shape", [0, 0, -1], np.int64)]), \
            "TNC"

    def states(self, sequence, value):
        """A ``(D, 1, H)`` start state broadcast to the batch of the time-major `sequence`."""
        batch = self.node("Gather", [self.node("Shape", [sequence]),
                                     self.constant("batch_axis", [1], np.int64)], axis=0)
        shape = self.node("Concat", [self.constant("dirs", [value.shape[0]], np.int64), batch,
                                     self.constant("units", [value.shape[2]], np.int64)], axis=0)
        return self.node("Expand", [self.constant("state", value), shape])


_ACTIVATIONS = (L.ReLU, L.Tanh, L.Sigmoid, L.ELU, L.LeakyReLU, L.ClippedReLU, L.Swish, L.GELU)
#: ``(layer classes, function)`` of the non-recurrent layers (``matkeras.export.onnx_ops``).
_OPS = (
    (L.FullyConnected, ops.fully_connected),
    (_ACTIVATIONS, ops.activation),
    (L.Softmax, ops.softmax),
    (L.BatchNormalization, ops.batch_normalization),
    (L.Conv1D, lambda b, layer, t: ops.convolution(b, layer, t, 1)),
    (L.GroupedConv2D, lambda b, layer, t: ops.convolution(
        b, layer, t, 2, groups=layer.matlab_properties()["Weights"].shape[4])),
    (L.Conv2D, lambda b, layer, t: ops.convolution(b, layer, t, 2)),
    (L.MaxPooling1D, lambda b, layer, t: ops.pooling(b, layer, t, 1, True)),
    (L.AveragePooling1D, lambda b, layer, t: ops.pooling(b, layer, t, 1, False)),
    (L.MaxPooling2D, lambda b, layer, t: ops.pooling(b, layer, t, 2, True)),
    (L.AveragePooling2D, lambda b, layer, t: ops.pooling(b, layer, t, 2, False)),
    ((L.GlobalMaxPooling1D, L.GlobalMaxPooling2D),
     lambda b, layer, t: ops.global_pooling(b, layer, t, True)),
    ((L.GlobalAveragePooling1D, L.GlobalAveragePooling2D),
     lambda b, layer, t: ops.global_pooling(b, layer, t, False)),
    ((L.Addition, L.Multiplication, L.Concatenation, L.DepthConcatenation), ops.merge),
    (L.PositionEmbedding, ops.position_embedding),
    (L.Indexing1D, ops.indexing),
    (L.SelfAttention, ops.self_attention),
)
