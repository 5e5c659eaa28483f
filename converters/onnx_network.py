"""ONNX files with LSTM/GRU nodes (as MATLAB's exportONNXNetwork writes them) as keras.Models.

The graph is rebuilt op by op on Keras tensors, in the ONNX graph's own layouts: the model's
inputs and outputs have the shapes the ONNX graph declares (an RNN's ``X`` is ``(T, N, C)`` unless
the node has ``layout=1``; its ``Y`` is ``(T, directions, N, H)`` and ``Y_h``/``Y_c`` are
``(directions, N, H)``). Recurrent nodes become matkeras layers:

* ``LSTM``: gates ``i, o, f, c`` -> MATLAB's ``i, f, g, o``; ``B`` (input and recurrent bias)
  summed into MATLAB's one bias; ``activations`` ``[f, g, h]`` with f Sigmoid or HardSigmoid
  (alpha 0.2, beta 0.5: MATLAB's hard-sigmoid) and g = h one of Tanh, Softsign, Relu; forward,
  reverse and bidirectional (:class:`matkeras.layers.BiLSTM`); constant ``initial_h``/
  ``initial_c`` become the layers' HiddenState/CellState.
* ``GRU``: gates ``z, r, h``; ``linear_before_reset=0`` -> ``"before-multiplication"`` (one bias,
  ``Wb + Rb``), ``=1`` -> ``"recurrent-bias-after-multiplication"`` (6H bias ``[Wb; Rb]``);
  bidirectional through ``keras.layers.Bidirectional``.

Image CNNs (NCHW, as MATLAB exports them): Conv (groups, depthwise, pads or auto_pad,
strides, dilations), MaxPool, AveragePool (padding counted or not), Global pools,
BatchNormalization, LRN, LeakyRelu, Elu, Clip, Pad, Flatten at any axis
(:mod:`matkeras.converters.onnx_image_ops`).

Other ops: Squeeze, Unsqueeze, Transpose, Reshape (constant shape; 0 copies the input's
dimension), MatMul, Add, Sub, Mul, Div, Gemm, Softmax (before opset 13 over the dimensions from
``axis`` on, default 1, as the older opsets define it), Relu, Sigmoid, Tanh, Identity, Flatten,
Dropout (identity: these are inference graphs), Slice, Gather and Concat with constant
arguments, in every opset from 7 (older opsets give axes, starts and ends as attributes, newer
ones as inputs). Not supported (an error lists them all): peepholes, ``clip``,
``input_forget``, variable ``sequence_lens``, and any other op.

MATLAB's ``exportONNXNetwork`` writes sequences time-major, ``[T, N, C]``, and stores the
recurrent layers' initial states with a batch of 1 (ONNX Runtime then refuses other batch
sizes); here the batch axis of a time-major sequence input is free and the stored state serves
every observation, as the MATLAB network's does.
"""

import contextvars
import os

import keras
import numpy as np
from keras import ops

from matkeras import layers as L
from matkeras.converters import onnx_image_ops
from matkeras.converters.errors import MatFileError
from matkeras.layers import layouts

_GATE = {"Sigmoid": "sigmoid", "HardSigmoid": "hard-sigmoid"}
_STATE = {"Tanh": "tanh", "Softsign": "softsign", "Relu": "relu"}
SUPPORTED_OPS = ("LSTM", "GRU", "Squeeze", "Unsqueeze", "Transpose", "Reshape", "MatMul", "Add",
                 "Sub", "Mul", "Div", "Gemm", "Softmax", "Relu", "Sigmoid", "Tanh", "Identity",
                 "Flatten", "Dropout", "Slice", "Gather", "Concat", "Constant",
                 # sizes known at run time (a free batch or time axis): ONNX's shape arithmetic
                 "Shape", "ConstantOfShape", "Expand", "Trilu", "Cast", "Where",
                 # image CNNs (NCHW): matkeras.converters.onnx_image_ops
                 "Conv", "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool",
                 "BatchNormalization", "LRN", "LeakyRelu", "Elu", "Clip", "Pad")
#: The default-domain opset of the file being read (ops changed their signatures across them).
_OPSET = contextvars.ContextVar("matkeras_onnx_opset", default=14)


def load_onnx_network(path, constants=None):
    """Reads an ONNX file with LSTM/GRU nodes and returns an equivalent ``keras.Model``.

    Args:
        path: the ``.onnx`` file.
        constants: optional ``{graph input name: array}`` for graph inputs that are really
            weights (as in the ONNX operator test cases, which feed W, R, B as inputs).

    Returns:
        A ``keras.Model`` whose inputs are the graph's remaining inputs and whose outputs are the
        graph's outputs, in the graph's layouts.
    """
    import onnx

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise MatFileError(f"'{path}' does not exist or is not a file.")
    try:
        model = onnx.load(path)
        onnx.checker.check_model(model)
    except Exception as error:  # onnx raises DecodeError, ValidationError, ...
        raise MatFileError(f"'{path}' is not a valid ONNX model ({type(error).__name__}: "
                           f"{error}).") from None
    graph = model.graph
    opset = max([o.version for o in model.opset_import if o.domain in ("", "ai.onnx")] or [14])
    token = _OPSET.set(opset)
    try:
        return _build(path, graph, constants)
    finally:
        _OPSET.reset(token)


def _time_major_inputs(graph):
    """Graph inputs that reach a recurrent node's X in ONNX's default time-major layout,
    through elementwise ops only (MATLAB's normalization: Sub, Div, Mul, Add)."""
    feeds = {}
    for node in graph.node:
        for name in node.input:
            feeds.setdefault(name, []).append(node)
    found = set()
    for item in graph.input:
        frontier, seen = [item.name], set()
        while frontier:
            name = frontier.pop()
            for node in feeds.get(name, []):
                if node.op_type in ("LSTM", "GRU") and node.input[0] == name and not any(
                        a.name == "layout" and a.i == 1 for a in node.attribute):
                    found.add(item.name)
                elif node.op_type in ("Sub", "Div", "Mul", "Add", "Identity", "Dropout") \
                        and node.output[0] not in seen:
                    seen.add(node.output[0])
                    frontier.append(node.output[0])
    return found


def _broadcast_constants(graph, values):
    """Node numbers to skip: ``Expand`` of a constant (a recurrent node's start state broadcast
    to the batch, as matkeras's export writes it) becomes that constant (the recurrent
    reader takes one row for every observation; other ops broadcast it), and the Shape/Gather/
    Concat nodes that only compute its target shape go with it."""
    expands = {k for k, n in enumerate(graph.node)
               if n.op_type == "Expand" and n.input[0] in values}
    for k in expands:
        values[graph.node[k].output[0]] = values[graph.node[k].input[0]]
    consumers = {}
    for k, node in enumerate(graph.node):
        for name in node.input:
            consumers.setdefault(name, set()).add(k)
    skipped, changed = set(expands), True
    while changed:
        changed = False
        for k, node in enumerate(graph.node):
            if k in skipped or node.op_type not in ("Shape", "Gather", "Concat", "Constant"):
                continue
            users = set().union(*(consumers.get(o, set()) for o in node.output))
            if users and users <= skipped:
                skipped.add(k)
                changed = True
    return skipped


def _build(path, graph, constants):
    from onnx import numpy_helper

    values = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant":
            values[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
    values.update({k: np.asarray(v) for k, v in (constants or {}).items()})
    skipped = _broadcast_constants(graph, values)
    unsupported = sorted({n.op_type for k, n in enumerate(graph.node) if k not in skipped}
                         - set(SUPPORTED_OPS))
    if unsupported:
        raise MatFileError(f"'{path}' uses ONNX ops matkeras does not convert: {unsupported}; "
                           f"supported: {list(SUPPORTED_OPS)}.")
    tensors, inputs = {}, []
    time_major = _time_major_inputs(graph)
    for item in graph.input:
        if item.name in values:
            continue
        dims = [d.dim_value if d.dim_value > 0 else None for d in
                item.type.tensor_type.shape.dim]
        if item.name in time_major and len(dims) == 3:
            dims[:2] = None, None  # [T, N, C]: any length and batch (MATLAB stores 10 x 1)
        elif len(dims) == 4:
            dims[0] = None  # images [N, C, H, W]: any batch (MATLAB's BatchSize, 1 by default)
        tensor = keras.Input(shape=tuple(dims[1:]), batch_size=dims[0], name=item.name)
        tensors[item.name] = tensor
        inputs.append(tensor)
    for number, node in enumerate(graph.node):
        if number in skipped:
            continue
        try:
            outputs = _HANDLERS[node.op_type](node, tensors, values, number)
        except (ValueError, KeyError, TypeError) as error:
            raise MatFileError(f"'{path}': node {number} ({node.op_type} "
                               f"'{node.name or node.output[0]}') could not be converted: "
                               f"{error}") from None
        for name, tensor in zip(node.output, outputs, strict=False):
            if name:
                tensors[name] = tensor
    return keras.Model(inputs, [tensors[o.name] for o in graph.output], name="onnx_network")


def _attributes(node):
    import onnx

    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _input(node, index, tensors, values):
    if index >= len(node.input) or not node.input[index]:
        return None
    name = node.input[index]
    return values[name] if name in values else tensors[name]


def _constant(node, index, values, what):
    if index >= len(node.input) or not node.input[index]:
        return None
    name = node.input[index]
    if name not in values:
        raise ValueError(f"its {what} ('{name}') must be a constant (an initializer or given in "
                         "constants=).")
    return np.asarray(values[name], dtype=np.float64)


def _activations(attrs, count, directions, kind):
    names = [a.decode() if isinstance(a, bytes) else a for a in attrs.get(
        "activations", [b"Sigmoid", b"Tanh", b"Tanh"][:count] * directions)]
    alphas = list(attrs.get("activation_alpha", []))
    betas = list(attrs.get("activation_beta", []))
    per_direction = [names[d * count:(d + 1) * count] for d in range(directions)]
    if any(p != per_direction[0] for p in per_direction):
        raise ValueError(f"both directions must use the same activations; received {names}.")
    gate, state = per_direction[0][0], per_direction[0][1]
    if kind == "LSTM" and per_direction[0][2] != state:
        raise ValueError(f"MATLAB's LSTM applies one state activation twice; activations "
                         f"{names} use {state} and {per_direction[0][2]}.")
    if gate not in _GATE or state not in _STATE:
        raise ValueError(f"activations {names} are outside MATLAB's (gate: {list(_GATE)}; "
                         f"state: {list(_STATE)}).")
    alpha, beta = (alphas or [0.2])[0], (betas or [0.5])[0]
    if gate == "HardSigmoid" and (abs(alpha - 0.2) > 1e-6 or abs(beta - 0.5) > 1e-6):
        raise ValueError(f"HardSigmoid with alpha {alpha}, beta {beta} is not MATLAB's "
                         "hard-sigmoid (0.2, 0.5).")
    return _GATE[gate], _STATE[state]


def _recurrent(node, tensors, values, number):
    kind = node.op_type
    attrs = _attributes(node)
    gates = 4 if kind == "LSTM" else 3
    for name in ("clip", "input_forget"):
        if attrs.get(name):
            raise ValueError(f"attribute {name} has no MATLAB equivalent.")
    if kind == "LSTM" and _input(node, 7, tensors, values) is not None:
        raise ValueError("peephole weights (P) have no MATLAB equivalent.")
    direction = attrs.get("direction", b"forward")
    direction = direction.decode() if isinstance(direction, bytes) else direction
    directions = 2 if direction == "bidirectional" else 1
    units = int(attrs["hidden_size"])
    batchwise = attrs.get("layout", 0) == 1
    gate, state = _activations(attrs, 3 if kind == "LSTM" else 2, directions, kind)
    W, R = _constant(node, 1, values, "W"), _constant(node, 2, values, "R")
    B = _constant(node, 3, values, "B")
    B = np.zeros((directions, 2 * gates * units)) if B is None else B
    lengths = _constant(node, 4, values, "sequence_lens")
    x = _input(node, 0, tensors, values)
    if lengths is not None and len(set(lengths.ravel())) > 1:
        raise ValueError("sequence_lens with different lengths has no MATLAB equivalent "
                         "(MATLAB pads and runs every step).")
    initial = [_constant(node, 5, values, "initial_h")]
    if kind == "LSTM":
        initial.append(_constant(node, 6, values, "initial_c"))
    states = []
    for value in initial:
        if value is None:
            states.append(None)
            continue
        value = value.transpose(1, 0, 2) if batchwise else value  # (dirs, N, H)
        if not np.allclose(value, value[:, :1]):
            raise ValueError("initial states that differ between observations cannot be a "
                             "layer's HiddenState/CellState.")
        states.append(value[:, 0, :])
    onnx_kind = "lstm" if kind == "LSTM" else "gru"
    per_direction = []
    for d in range(directions):
        w = layouts.onnx_to_matlab(onnx_kind, W[d])
        r = layouts.onnx_to_matlab(onnx_kind, R[d])
        wb, rb = B[d][:gates * units], B[d][gates * units:]
        if kind == "GRU" and attrs.get("linear_before_reset", 0):
            bias = layouts.onnx_to_matlab("gru", np.concatenate([wb, rb]), chunks=2)
        else:
            bias = layouts.onnx_to_matlab(onnx_kind, wb + rb)
        per_direction.append({"input_weights": w, "recurrent_weights": r, "bias": bias})
    sequences = x if batchwise else ops.transpose(x, (1, 0, 2))
    options = {"state_activation": state, "gate_activation": gate, "has_state_outputs": True,
               "name": f"{node.name or node.op_type.lower()}_{number}"}
    if kind == "GRU":
        options["reset_gate_mode"] = ("recurrent-bias-after-multiplication"
                                      if attrs.get("linear_before_reset", 0)
                                      else "before-multiplication")
    results = _run_recurrent(kind, directions, direction, units, options, per_direction,
                             states, sequences)
    y, finals = results[0], results[1:]
    y = ops.stack([y[..., d * units:(d + 1) * units] for d in range(directions)],
                  axis=2)  # (N, T, dirs, H)
    y = y if batchwise else ops.transpose(y, (1, 2, 0, 3))  # (T, dirs, N, H)
    finals = [ops.reshape(f, (-1, directions, units)) for f in finals]  # (N, dirs, H)
    finals = finals if batchwise else [ops.transpose(f, (1, 0, 2)) for f in finals]
    return [y, *finals]


def _run_recurrent(kind, directions, direction, units, options, per_direction, states,
                   sequences):
    if kind == "LSTM" and directions == 2:
        layer = L.BiLSTM(units, **options)
        layer.set_matlab_weights(**{k: np.concatenate([p[k] for p in per_direction])
                                    for k in per_direction[0]},
                                 **_state_values(states, ("hidden_state", "cell_state")))
        return layer(sequences)
    cls = L.LSTM if kind == "LSTM" else L.GRU
    names = ("hidden_state", "cell_state") if kind == "LSTM" else ("hidden_state",)
    if directions == 2:
        wrapper = keras.layers.Bidirectional(cls(units, **{**options, "name": options["name"]}),
                                             name=f"bidirectional_{options['name']}")
        outputs = wrapper(sequences)
        for d, layer in enumerate((wrapper.forward_layer, wrapper.backward_layer)):
            layer.set_matlab_weights(**per_direction[d], **_state_values(
                [None if s is None else s[d:d + 1] for s in states], names))
        y, *finals = outputs
        count = len(names)
        return [y, *[ops.concatenate([finals[i], finals[count + i]], axis=-1)
                     for i in range(count)]]
    layer = cls(units, go_backwards=direction == "reverse", **options)
    layer.set_matlab_weights(**per_direction[0], **_state_values(states, names))
    y, *finals = layer(sequences)
    if direction == "reverse":
        y = ops.flip(y, axis=1)  # back to the original time order, as ONNX's Y
    return [y, *finals]


def _state_values(states, names):
    return {name: np.ravel(value) for name, value in zip(names, states, strict=False)
            if value is not None}


def _tensor(node, index, tensors, values):
    value = _input(node, index, tensors, values)
    return ops.convert_to_tensor(np.asarray(value, np.float32)) if isinstance(
        value, np.ndarray) else value


def _axes(node, values):
    attrs = _attributes(node)
    if "axes" in attrs:
        return tuple(int(a) for a in attrs["axes"])
    axes = _constant(node, 1, values, "axes")
    return None if axes is None else tuple(int(a) for a in axes.ravel())


class _Dims(list):
    """A shape-valued ONNX tensor (the int64 vector ``Shape``, ``Gather``, ``Slice`` and
    ``Concat`` compute): each item an int, or ``(tensor, axis)`` for a size known only at run
    time."""


def _sizes_input(node, index, tensors, values):
    """Input `index` when it is shape-valued (a :class:`_Dims`), else None."""
    value = _input(node, index, tensors, values)
    return value if isinstance(value, _Dims) else None


def _static(tensor, axis):
    size = tensor.shape[axis]
    return (tensor, axis % len(tensor.shape)) if size is None else int(size)


def _shape(node, tensors, values, number):
    x = _tensor(node, 0, tensors, values)
    attrs = _attributes(node)
    items = [_static(x, k) for k in range(len(x.shape))]
    return [_Dims(items[attrs.get("start", 0):attrs.get("end", len(items))])]


def _dims(node, index, tensors, values):
    """Input `index` as a :class:`_Dims` (a constant becomes ints), else None."""
    value = _input(node, index, tensors, values)
    if isinstance(value, _Dims):
        return value
    if isinstance(value, np.ndarray) and value.dtype.kind in "iu":
        return _Dims(int(v) for v in value.ravel())
    return None


def _shaped(op, dims, data=None, **config):
    """An :class:`~matkeras.layers.OnnxShaped` layer on `data` sized by `dims`."""
    sources, spec = ([] if data is None else [data]), []
    for item in dims:
        if isinstance(item, tuple):
            tensor, axis = item
            k = next((i for i, s in enumerate(sources) if s is tensor), None)
            if k is None:
                sources.append(tensor)
                k = len(sources) - 1
            spec.append([k, axis])
        else:
            spec.append(int(item))
    layer = L.OnnxShaped(op, spec, **config)
    return layer(sources if len(sources) > 1 else sources[0])


def _constant_of_shape(node, tensors, values, number):
    from onnx import numpy_helper

    dims = _dims(node, 0, tensors, values)
    given = _attributes(node).get("value")
    fill = numpy_helper.to_array(given).ravel() if given is not None else np.zeros(1, "float32")
    if all(isinstance(d, int) for d in dims):
        return [ops.convert_to_tensor(np.full(list(dims), fill[0], fill.dtype))]
    if fill.dtype.kind != "f":
        raise ValueError(f"a run-time sized ConstantOfShape of {fill.dtype} is not supported "
                         "(float only).")
    return [_shaped("fill", dims, value=float(fill[0]))]


def _expand(node, tensors, values, number):
    x = _tensor(node, 0, tensors, values)
    dims = _dims(node, 1, tensors, values)
    if all(isinstance(d, int) for d in dims) and None not in x.shape:
        return [ops.broadcast_to(x, np.broadcast_shapes(tuple(x.shape), tuple(dims)))]
    return [_shaped("expand", dims, x)]


def _trilu(node, tensors, values, number):
    x = _tensor(node, 0, tensors, values)
    k = _constant(node, 1, values, "k")
    k = 0 if k is None else int(k.ravel()[0])
    upper = _attributes(node).get("upper", 1)
    return [ops.triu(x, k) if upper else ops.tril(x, k)]


def _onnx_dtype(code):
    import onnx

    return np.dtype(onnx.helper.tensor_dtype_to_np_dtype(code)).name


def _cast(node, tensors, values, number):
    x = _input(node, 0, tensors, values)
    if isinstance(x, _Dims):  # sizes stay sizes
        return [x]
    dtype = _onnx_dtype(_attributes(node)["to"])
    return [ops.convert_to_tensor(np.asarray(x).astype(dtype)) if isinstance(x, np.ndarray)
            else ops.cast(x, dtype)]


def _where(node, tensors, values, number):
    condition = _input(node, 0, tensors, values)
    if isinstance(condition, np.ndarray):
        condition = ops.convert_to_tensor(condition.astype(bool))
    return [ops.where(condition, _tensor(node, 1, tensors, values),
                      _tensor(node, 2, tensors, values))]


def _squeeze(node, tensors, values, number):
    dims = _sizes_input(node, 0, tensors, values)
    if dims is not None:
        return [dims]
    return [ops.squeeze(_tensor(node, 0, tensors, values), axis=_axes(node, values))]


def _unsqueeze(node, tensors, values, number):
    dims = _sizes_input(node, 0, tensors, values)
    if dims is not None:
        return [dims]
    x = _tensor(node, 0, tensors, values)
    for axis in sorted(_axes(node, values)):
        x = ops.expand_dims(x, axis)
    return [x]


def _gemm(node, tensors, values, number):
    attrs = _attributes(node)
    a, b = _tensor(node, 0, tensors, values), _tensor(node, 1, tensors, values)
    if attrs.get("transA"):
        a = ops.transpose(a)
    if attrs.get("transB"):
        b = ops.transpose(b)
    if len(a.shape) > 2:
        a = _recurrent_features(a, int(b.shape[0]))
    y = attrs.get("alpha", 1.0) * ops.matmul(a, b)
    c = _tensor(node, 2, tensors, values)
    return [y if c is None else y + attrs.get("beta", 1.0) * c]


def _recurrent_features(a, width):
    """A recurrent node's ``Y_h`` ``(D, N, H)`` or ``Y`` ``(T, D, N, H)`` as Gemm's 2-D (or
    per-step) input, ``(N, D*H)`` or ``(T, N, D*H)``, the directions side by side (MATLAB's
    BiLSTM order). MATLAB's exporter feeds them to Gemm as they are, which is right only for
    one observation."""
    if len(a.shape) == 3 and a.shape[0] is not None and a.shape[0] * a.shape[2] == width:
        return ops.concatenate([a[d] for d in range(a.shape[0])], axis=-1)
    if len(a.shape) == 4 and a.shape[1] is not None and a.shape[1] * a.shape[3] == width:
        return ops.concatenate([a[:, d] for d in range(a.shape[1])], axis=-1)
    raise ValueError(f"Gemm's first input has shape {tuple(a.shape)}; ONNX's Gemm takes a "
                     "matrix (or a recurrent node's Y or Y_h, as MATLAB's exporter gives it).")


def _reshape(node, tensors, values, number):
    x = _tensor(node, 0, tensors, values)
    shape = list(_dims(node, 1, tensors, values))
    if not _attributes(node).get("allowzero", 0):  # 0 copies the input's dimension
        leading = next((k for k, s in enumerate(shape) if s != 0), len(shape))
        if shape[leading:] == [-1] and None not in x.shape[leading:]:
            return [_merge_trailing(x, leading)]  # [0, ..., 0, -1]: any leading sizes
        shape = [_static(x, k) if s == 0 else s for k, s in enumerate(shape)]
    sized = [s for s in shape if isinstance(s, tuple)]
    if len(sized) + shape.count(-1) > 1:  # sizes known at run time only
        return [_shaped("reshape", shape, x)]
    return [ops.reshape(x, tuple(-1 if isinstance(s, tuple) else s for s in shape))]


def _merge_trailing(x, keep):
    """`x` with its axes from `keep` on merged into one, row-major (sizes known there; the
    leading ones may not be)."""
    while len(x.shape) > keep + 1:
        x = ops.concatenate([x[..., i, :] for i in range(x.shape[-2])], axis=-1)
    return x


def _softmax(node, tensors, values, number):
    x = _tensor(node, 0, tensors, values)
    if _OPSET.get() >= 13:
        return [ops.softmax(x, axis=_attributes(node).get("axis", -1))]
    # opsets 1-12: over the input coerced to 2-D at `axis` (default 1). A free dimension
    # there is a batch (or time) axis that MATLAB's exporter declared as 1: not reduced over.
    axis = _attributes(node).get("axis", 1) % len(x.shape)
    if axis == len(x.shape) - 1 or any(d is None for d in x.shape[axis:-1]):
        return [ops.softmax(x, axis=-1)]
    shape = ops.shape(x)
    flat = ops.reshape(x, (-1, int(np.prod(x.shape[axis:]))) if axis else (1, -1))
    return [ops.reshape(ops.softmax(flat, axis=-1), shape)]


def _dropout(node, tensors, values, number):
    x = _tensor(node, 0, tensors, values)
    return [x, ops.ones_like(x, dtype="bool")]


def _slice(node, tensors, values, number):
    dims = _sizes_input(node, 0, tensors, values)
    if dims is not None:
        starts, ends = (_constant(node, k, values, w) for k, w in ((1, "starts"), (2, "ends")))
        big = np.iinfo(np.int32).max
        end = int(ends.ravel()[0])
        return [_Dims(dims[int(starts.ravel()[0]):None if end >= big else end])]
    x = _tensor(node, 0, tensors, values)
    attrs = _attributes(node)
    ends = _dims(node, 2, tensors, values) if _OPSET.get() >= 10 else None
    if ends is not None and not all(isinstance(e, int) for e in ends):  # run-time ends
        given = _constant(node, 3, values, "axes")
        axes = list(range(len(ends))) if given is None else [int(v) for v in given.ravel()]
        if _constant(node, 4, values, "steps") is not None and np.any(
                _constant(node, 4, values, "steps") != 1):
            raise ValueError("a Slice with run-time ends takes steps of 1 only.")
        return [_shaped("slice", list(ends), x, axes=[a % len(x.shape) for a in axes],
                        starts=[int(v) for v in _constant(node, 1, values, "starts").ravel()])]
    if _OPSET.get() < 10:
        starts, ends = list(attrs["starts"]), list(attrs["ends"])
        axes, steps = list(attrs.get("axes", range(len(starts)))), [1] * len(starts)
    else:
        starts = [int(v) for v in _constant(node, 1, values, "starts").ravel()]
        ends = [int(v) for v in _constant(node, 2, values, "ends").ravel()]
        given = _constant(node, 3, values, "axes")
        axes = list(range(len(starts))) if given is None else [int(v) for v in given.ravel()]
        given = _constant(node, 4, values, "steps")
        steps = [1] * len(starts) if given is None else [int(v) for v in given.ravel()]
    index = [slice(None)] * len(x.shape)
    big = np.iinfo(np.int32).max
    for axis, start, end, step in zip(axes, starts, ends, steps, strict=True):
        index[axis % len(x.shape)] = slice(start, None if abs(end) >= big else end, step)
    return [x[tuple(index)]]


def _gather(node, tensors, values, number):
    dims = _sizes_input(node, 0, tensors, values)
    if dims is not None:
        indices = _constant(node, 1, values, "indices").astype("int64")
        return [_Dims(dims[int(i)] for i in indices.ravel())]
    x = _tensor(node, 0, tensors, values)
    indices = _constant(node, 1, values, "indices").astype("int64")
    axis = _attributes(node).get("axis", 0)
    return [ops.take(x, ops.convert_to_tensor(indices.astype("int32")), axis=axis)]


def _concat(node, tensors, values, number):
    if any(_sizes_input(node, k, tensors, values) is not None for k in range(len(node.input))):
        return [_Dims([d for k in range(len(node.input))
                       for d in _dims(node, k, tensors, values)])]
    parts = [_tensor(node, k, tensors, values) for k in range(len(node.input))]
    return [ops.concatenate(parts, axis=_attributes(node)["axis"])]


def _unary(function):
    return lambda node, tensors, values, number: [function(_tensor(node, 0, tensors, values))]


def _binary(function):
    return lambda node, tensors, values, number: [function(_tensor(node, 0, tensors, values),
                                                           _tensor(node, 1, tensors, values))]


_HANDLERS = {
    "LSTM": _recurrent, "GRU": _recurrent, "Squeeze": _squeeze, "Unsqueeze": _unsqueeze,
    "Transpose": lambda node, tensors, values, number: [ops.transpose(
        _tensor(node, 0, tensors, values), _attributes(node).get("perm"))],
    "Reshape": _reshape, "MatMul": _binary(ops.matmul), "Add": _binary(ops.add),
    "Sub": _binary(ops.subtract), "Mul": _binary(ops.multiply), "Div": _binary(ops.divide),
    "Gemm": _gemm, "Softmax": _softmax, "Relu": _unary(ops.relu), "Sigmoid": _unary(ops.sigmoid),
    "Tanh": _unary(ops.tanh), "Identity": _unary(lambda x: x),
    "Dropout": _dropout, "Slice": _slice, "Gather": _gather, "Concat": _concat,
    "Constant": lambda node, tensors, values, number: [ops.convert_to_tensor(
        values[node.output[0]])],
    "Shape": _shape, "ConstantOfShape": _constant_of_shape, "Expand": _expand,
    "Trilu": _trilu, "Cast": _cast, "Where": _where,
}


def _image_handler(handler):
    def run(node, tensors, values, number):
        return handler(node, tensors, values, number,
                       lambda n, index: _tensor(n, index, tensors, values),
                       lambda n, index, what: _constant(n, index, values, what))
    return run


_HANDLERS.update({name: _image_handler(handler)
                  for name, handler in onnx_image_ops.HANDLERS.items()})
