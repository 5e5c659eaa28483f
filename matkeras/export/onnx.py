"""ONNX export with ONNX's own recurrent operators: MATLAB's options mapped exactly.

:func:`export_onnx` writes a standard ONNX model (opset 14) of a chain of matkeras sequence
layers: the recurrent layers become ONNX ``LSTM``/``GRU`` nodes, which express MATLAB's options
directly: gate order i, o, f, c (``matkeras.layers.layouts``); ``activations`` Sigmoid or
HardSigmoid (alpha 0.2, beta 0.5: MATLAB's hard-sigmoid) for the gates and Tanh, Softsign or
Relu for the state; ``linear_before_reset`` 1 for MATLAB's after-multiplication GRU modes (the
recurrent bias in ``B``'s second half for "recurrent-bias-after-multiplication") and 0 for
"before-multiplication"; ``direction="bidirectional"`` for BiLSTM (MATLAB's 'last' output is
``Y_h``, the forward state at T beside the backward state after the reversed sequence); the
layers' initial states as ``initial_h``/``initial_c`` broadcast to the batch. The other layers
are plain operators (Sub/Div for input normalization, MatMul/Add, Relu, Tanh, Sigmoid, Softmax;
dropout and output layers are identities at prediction). Input ``x`` is ``(batch, time, C)``
(or ``(batch, C)`` for feature input), output ``y``, both with dynamic batch and time axes.

Refused by name, before anything is written: layers outside that set (convolutions, attention,
projected layers: ONNX's LSTM has no projection), graphs that are not a chain, masks
(``use_mask``), state inputs/outputs, and float64 models.
"""

import numpy as np

from matkeras.export._trace import check_path
from matkeras.layers import layouts

OPSET = 14
_GATE = {"sigmoid": "Sigmoid", "hard-sigmoid": "HardSigmoid"}
_STATE = {"tanh": "Tanh", "softsign": "Softsign", "relu": "Relu"}


def export_onnx(model, path, overwrite=False):
    """Writes `model` (a chain of matkeras sequence layers) as an ONNX file; returns the path.
    See the module notes for what it maps and what it refuses."""
    import onnx

    path = check_path(path, overwrite)
    builder = _Builder()
    layers = _chain(model)
    builder.run(model, layers)
    graph = onnx.helper.make_graph(builder.nodes, model.name or "matkeras", [builder.input],
                                   [builder.output], initializer=builder.initializers)
    proto = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", OPSET)],
                                   producer_name="matkeras")
    proto.ir_version = 8
    onnx.checker.check_model(proto, full_check=True)
    onnx.save(proto, path)
    return path


def _chain(model):
    """The model's layers in order, checking that each takes the previous one's output."""
    import keras

    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ValueError(f"export_onnx takes a network with one input and one output; "
                         f"{model.name} has {len(model.inputs)} and {len(model.outputs)}.")
    previous = model.inputs[0]
    for layer in layers:
        if layer.input is not previous:
            raise ValueError(f"export_onnx takes a chain of layers; '{layer.name}' does not "
                             "take the previous layer's output (branching graphs are not "
                             "exported yet).")
        previous = layer.output
    return layers


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

    def run(self, model, layers):
        import onnx

        shape = model.inputs[0].shape
        import keras

        if keras.backend.standardize_dtype(model.inputs[0].dtype) != "float32":
            raise ValueError(f"export_onnx writes float32 models; {model.name}'s input is "
                             f"{model.inputs[0].dtype}.")
        dims = ["batch", "time", *shape[2:]] if len(shape) == 3 else ["batch", *shape[1:]]
        if len(shape) not in (2, 3) or any(d is None for d in shape[len(dims) - 1:]):
            raise ValueError(f"export_onnx takes sequences (batch, time, C) or features "
                             f"(batch, C); {model.name}'s input is {tuple(shape)}.")
        self.input = onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, dims)
        current, layout = "x", "NTC" if len(shape) == 3 else "NC"
        for layer in layers:
            current, layout = self.layer(layer, current, layout)
        if layout == "TNC":
            current = self.node("Transpose", [current], perm=[1, 0, 2])
        self.node("Identity", [current], ["y"])
        rank = len(model.outputs[0].shape)
        self.output = onnx.helper.make_tensor_value_info(
            "y", onnx.TensorProto.FLOAT, ["batch", "time", model.outputs[0].shape[-1]][:rank]
            if rank == 3 else ["batch", model.outputs[0].shape[-1]])

    def layer(self, layer, current, layout):
        from matkeras import layers as L

        kind = type(layer).__name__
        if isinstance(layer, (L.SequenceInput, L.FeatureInput)):
            return self.normalization(layer, current), layout
        if type(layer) in (L.LSTM, L.GRU, L.BiLSTM):
            return self.recurrent(layer, current, layout)
        if isinstance(layer, L.FullyConnected):
            if len(layer.spatial_size) > 1:
                raise ValueError(f"export_onnx: '{layer.name}' (FullyConnected over images) is "
                                 "not exported yet.")
            product = self.node("MatMul", [current, self.constant("fc_kernel",
                                                                  layer.matlab_weights.T)])
            return self.node("Add", [product, self.constant("fc_bias", layer.bias)]), layout
        simple = {L.ReLU: "Relu", L.Tanh: "Tanh", L.Sigmoid: "Sigmoid"}
        if type(layer) in simple:
            return self.node(simple[type(layer)], [current]), layout
        if isinstance(layer, L.Softmax):
            return self.node("Softmax", [current], axis=-1), layout
        if isinstance(layer, (L.Dropout, L.Classification, L.Regression)):
            return current, layout  # identities at prediction
        raise ValueError(f"export_onnx: layer '{layer.name}' ({kind}) has no ONNX mapping here "
                         "yet; nothing was written.")

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
        from matkeras import layers as L

        if layer.use_mask or layer.has_state_inputs or layer.has_state_outputs or \
                layer.go_backwards:
            raise ValueError(f"export_onnx: '{layer.name}' uses masking, state inputs/outputs "
                             "or go_backwards, which the export does not map; nothing was "
                             "written.")
        if layout == "NTC":
            current = self.node("Transpose", [current], perm=[1, 0, 2])
        elif layout != "TNC":
            raise ValueError(f"export_onnx: '{layer.name}' needs a sequence input.")
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
