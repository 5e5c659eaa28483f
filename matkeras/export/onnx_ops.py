"""ONNX operators for the non-recurrent layers of :func:`matkeras.export.export_onnx`.

Each function takes the exporter's graph builder, the layer and its inputs as ``(ONNX name,
layout)`` pairs, and returns the output pair. A layout names the tensor's axes: ``NC``
(features), ``NTC``/``TNC``/``NCT`` (sequences, batch- or time-major, or channels second for
ONNX's convolutions and pools) and ``NCHW`` (images: ONNX's order; the model's input and output
are Keras's ``NHWC``). Transposes are inserted only where an operator needs another layout.
MATLAB's options map as: 'same' padding to ``auto_pad="SAME_UPPER"`` (the odd element after, as
MATLAB pads), manual padding ``[top bottom left right]`` to ONNX's ``[top left bottom right]``,
'causal' to ``(k-1)*d`` steps before; a fully connected layer over images flattens in MATLAB's
column-major ``h, w, c`` order; a grouped convolution is ``Conv`` with ``group``.
"""

import math

import numpy as np

from matkeras.export._matlab_layers import padding_sizes


def refuse(layer, why):
    raise ValueError(f"export_onnx: layer '{layer.name}' ({type(layer).__name__}) {why}; "
                     "nothing was written.")


def channels_second(builder, tensor):
    """The tensor with its channels on axis 1 (``NC``, ``NCT``, ``NCHW``)."""
    name, layout = tensor
    target = {"NC": "NC", "NTC": "NCT", "TNC": "NCT", "NCT": "NCT", "NCHW": "NCHW",
              "NHWC": "NCHW"}[layout]
    return builder.to(name, layout, target), target


def channel_axis(layout):
    return layout.index("C")


def _padding(builder, layer, spatial, attributes):
    """MATLAB's ``Padding`` of a convolution or pool as ONNX attributes."""
    config = layer.get_config()
    value = config.get("padding_value", 0.0)
    if value not in (0, 0.0) and not (value == "mean" and "Pool" in type(layer).__name__):
        refuse(layer, f"pads with PaddingValue {value!r}, which ONNX's Conv/pools cannot")
    padding = config["padding"]
    if padding == "same":
        attributes["auto_pad"] = "SAME_UPPER"
        return
    if padding == "causal":
        kernel = np.ravel(config["filter_size"])[0]
        dilation = np.ravel(config.get("dilation_factor", 1))[0]
        attributes["pads"] = [int((kernel - 1) * dilation), 0]
        return
    sizes = padding_sizes(padding, spatial)
    # MATLAB [before after] (1-D) or [top bottom left right] (2-D) -> ONNX begins, then ends
    attributes["pads"] = [int(v) for v in (sizes if spatial == 1 else
                                           (sizes[0], sizes[2], sizes[1], sizes[3]))]


def _repeat(value, spatial):
    return [int(v) for v in np.broadcast_to(np.ravel(value), (spatial,))]


def convolution(builder, layer, tensor, spatial, groups=1):
    name, layout = channels_second(builder, tensor)
    config = layer.get_config()
    weights = np.asarray(layer.matlab_properties()["Weights"], np.float32)
    if groups > 1:  # MATLAB (h, w, Cg, Fg, G) -> ONNX (G*Fg, Cg, h, w), group-major
        h, w, cg, fg, g = weights.shape
        weights = np.transpose(weights, (4, 3, 2, 0, 1)).reshape(g * fg, cg, h, w)
    else:  # MATLAB (k, C, F) or (h, w, C, F) -> ONNX (F, C, k...)
        weights = np.transpose(weights, (spatial + 1, spatial, *range(spatial)))
    attributes = {"kernel_shape": list(weights.shape[2:]),
                  "strides": _repeat(config["stride"], spatial),
                  "dilations": _repeat(config["dilation_factor"], spatial), "group": groups}
    _padding(builder, layer, spatial, attributes)
    bias = np.ravel(layer.matlab_properties()["Bias"])
    out = builder.node("Conv", [name, builder.constant("conv_w", weights),
                                builder.constant("conv_b", bias)], **attributes)
    return out, layout


def pooling(builder, layer, tensor, spatial, maximum):
    name, layout = channels_second(builder, tensor)
    config = layer.get_config()
    attributes = {"kernel_shape": _repeat(config["pool_size"], spatial),
                  "strides": _repeat(config["stride"], spatial)}
    _padding(builder, layer, spatial, attributes)
    if not maximum:
        attributes["count_include_pad"] = int(config.get("padding_value", 0.0) != "mean")
    return builder.node("MaxPool" if maximum else "AveragePool", [name], **attributes), layout


def global_pooling(builder, layer, tensor, maximum):
    """Global pooling over time or space: ONNX's global pool on channels-second data, then
    Flatten (as MATLAB's exporter writes it)."""
    name, _ = channels_second(builder, tensor)
    pooled = builder.node("GlobalMaxPool" if maximum else "GlobalAveragePool", [name])
    return builder.node("Flatten", [pooled], axis=1), "NC"


def batch_normalization(builder, layer, tensor):
    name, layout = channels_second(builder, tensor)
    arrays = layer.matlab_properties()
    inputs = [name] + [builder.constant(key.lower(), np.ravel(arrays[key]))
                       for key in ("Scale", "Offset", "TrainedMean", "TrainedVariance")]
    return builder.node("BatchNormalization", inputs,
                        epsilon=float(layer.get_config()["epsilon"])), layout


def fully_connected(builder, layer, tensor):
    name, layout = tensor
    weights = np.asarray(layer.matlab_properties()["Weights"], np.float32)
    if len(layer.spatial_size) > 1:  # images: MATLAB flattens h fastest, then w, then c
        name = builder.to(name, layout, "NCWH")
        name, layout = builder.node("Reshape", [name, builder.constant(
            "flat", [0, -1], np.int64)]), "NC"
    elif layout == "NCT":
        name, layout = builder.to(name, layout, "NTC"), "NTC"
    elif layout not in ("NC", "NTC", "TNC"):
        refuse(layer, f"takes a {layout} input")
    product = builder.node("MatMul", [name, builder.constant("fc_kernel", weights.T)])
    bias = np.ravel(layer.matlab_properties()["Bias"])
    return builder.node("Add", [product, builder.constant("fc_bias", bias)]), layout


def softmax(builder, layer, tensor):
    name, layout = tensor
    return builder.node("Softmax", [name], axis=channel_axis(layout)), layout


def activation(builder, layer, tensor):
    """ReLU, tanh, sigmoid, ELU, leaky ReLU, clipped ReLU, swish, GELU: elementwise."""
    from matkeras import layers as L

    name, layout = tensor
    simple = {L.ReLU: "Relu", L.Tanh: "Tanh", L.Sigmoid: "Sigmoid"}
    config = layer.get_config()
    if type(layer) in simple:
        return builder.node(simple[type(layer)], [name]), layout
    if isinstance(layer, L.ELU):
        return builder.node("Elu", [name], alpha=float(config["alpha"])), layout
    if isinstance(layer, L.LeakyReLU):
        return builder.node("LeakyRelu", [name], alpha=float(config["scale"])), layout
    if isinstance(layer, L.ClippedReLU):
        return builder.node("Clip", [name, builder.constant("low", 0.0),
                                     builder.constant("ceiling", float(config["ceiling"]))]), \
            layout
    if isinstance(layer, L.Swish):
        return builder.node("Mul", [name, builder.node("Sigmoid", [name])]), layout
    # GELU: 0.5 x (1 + erf(x / sqrt 2)), or MATLAB's tanh approximation
    half = builder.node("Mul", [name, builder.constant("half", 0.5)])
    if config["approximation"] == "tanh":
        cube = builder.node("Pow", [name, builder.constant("three", 3.0)])
        inner = builder.node("Add", [name, builder.node("Mul", [
            cube, builder.constant("c", 0.044715)])])
        core = builder.node("Tanh", [builder.node("Mul", [
            inner, builder.constant("k", math.sqrt(2 / math.pi))])])
    else:
        core = builder.node("Erf", [builder.node("Mul", [
            name, builder.constant("r", 1 / math.sqrt(2))])])
    return builder.node("Mul", [half, builder.node("Add", [core, builder.constant(
        "one", 1.0)])]), layout


def merge(builder, layer, tensors):
    """Addition, multiplication and (depth) concatenation of inputs in one layout."""
    from matkeras import layers as L
    from matkeras.layers.merge import keras_axis

    layout = tensors[0][1]
    names = [builder.to(name, own, layout) for name, own in tensors]
    if isinstance(layer, (L.Addition, L.Multiplication)):
        result = names[0]
        for other in names[1:]:
            result = builder.node("Add" if isinstance(layer, L.Addition) else "Mul",
                                  [result, other])
        return result, layout
    keras_layout = {2: "NC", 3: "NTC", 4: "NHWC"}[len(layout)]
    if isinstance(layer, L.DepthConcatenation):
        axis_name = "C"
    else:
        config = layer.get_config()
        data_format = config["data_format"]
        if data_format in ("auto", "images"):  # what the layer reads at these ranks
            data_format = {2: "CB", 3: "CBT", 4: "SSCB"}[len(layout)]
        axis_name = keras_layout[keras_axis(config["dim"], data_format, layer.name)]
    return builder.node("Concat", names, axis=layout.index(axis_name)), layout


def _time(builder, name, axis):
    """A 1-element int64 tensor: the length of `name` along `axis`."""
    return builder.node("Gather", [builder.node("Shape", [name]),
                                   builder.constant("axis", [axis], np.int64)], axis=0)


def position_embedding(builder, layer, tensor):
    """MATLAB's learned position embedding: ``Weights(:, 1:T)`` for each observation."""
    config = layer.get_config()
    if config["position_dimension"] not in ("auto", "temporal"):
        refuse(layer, f"embeds the {config['position_dimension']} dimension")
    name = builder.to(*tensor, "NTC") if tensor[1] in ("TNC", "NCT", "NTC") else refuse(
        layer, "needs a sequence input")
    table = np.asarray(layer.matlab_properties()["Weights"], np.float32).T  # (positions, C)
    rows = builder.node("Slice", [builder.constant("positions", table),
                                  builder.constant("zero", [0], np.int64),
                                  _time(builder, name, 1),
                                  builder.constant("axis0", [0], np.int64)])
    shape = builder.node("Concat", [builder.node("Slice", [
        builder.node("Shape", [name]), builder.constant("from", [0], np.int64),
        builder.constant("to", [2], np.int64)]), builder.constant(
        "width", [table.shape[1]], np.int64)], axis=0)
    return builder.node("Expand", [builder.node("Unsqueeze", [rows, builder.constant(
        "batch", [0], np.int64)]), shape]), "NTC"


def indexing(builder, layer, tensor):
    """MATLAB's indexing1dLayer: one time step (first, last or a number) of each sequence."""
    config = layer.get_config()
    if config.get("has_padding_mask_input"):
        refuse(layer, "takes a padding mask")
    index = {"first": 0, "last": -1}.get(config["index"], None)
    index = int(config["index"]) - 1 if index is None else index
    name = builder.to(*tensor, "NTC")
    return builder.node("Gather", [name, builder.constant("step", index, np.int64)],
                        axis=1), "NC"


def self_attention(builder, layer, tensor):
    """MATLAB's selfAttentionLayer at prediction: projections, heads as contiguous channel
    blocks, ``softmax(scale * Q K')`` with the causal mask, the output projection."""
    config = layer.get_config()
    mask = config["attention_mask"]
    if config["has_padding_mask_input"] or config["has_scores_output"] or \
            not isinstance(mask, str) or mask not in ("none", "causal"):
        refuse(layer, "uses a padding-mask input, a scores output or a custom attention mask")
    arrays = layer.matlab_properties()
    name = builder.to(*tensor, "NTC")
    heads = int(config["num_heads"])

    def project(data, kind):
        weights = np.asarray(arrays[f"{kind}Weights"], np.float32)
        product = builder.node("MatMul", [data, builder.constant(kind, weights.T)])
        return builder.node("Add", [product, builder.constant(
            f"{kind}_b", np.ravel(arrays[f"{kind}Bias"]))]), weights.shape[0]

    def split(data, width, perm):
        shaped = builder.node("Reshape", [data, builder.constant(
            "heads", [0, 0, heads, width // heads], np.int64)])
        return builder.node("Transpose", [shaped], perm=perm)

    (query, dk), (key, _), (value, dv) = (project(name, k) for k in ("Query", "Key", "Value"))
    scores = builder.node("Mul", [builder.node("MatMul", [
        split(query, dk, [0, 2, 1, 3]), split(key, dk, [0, 2, 3, 1])]),
        builder.constant("scale", 1.0 / np.sqrt(dk // heads))])
    if mask == "causal":  # query q sees keys k <= q
        steps = _time(builder, name, 1)
        square = builder.node("ConstantOfShape", [builder.node("Concat", [steps, steps],
                                                               axis=0)],
                              value=_tensor(np.ones(1, np.float32)))
        allowed = builder.node("Cast", [builder.node("Trilu", [square], upper=0)],
                               to=_bool())
        scores = builder.node("Where", [allowed, scores, builder.constant(
            "lowest", np.finfo(np.float32).min)])
    weights = builder.node("Softmax", [scores], axis=-1)
    attended = builder.node("Transpose", [builder.node("MatMul", [
        weights, split(value, dv, [0, 2, 1, 3])])], perm=[0, 2, 1, 3])
    merged = builder.node("Reshape", [attended, builder.constant("merge", [0, 0, dv],
                                                                 np.int64)])
    return project(merged, "Output")[0], "NTC"


def _tensor(array):
    from onnx import numpy_helper

    return numpy_helper.from_array(array)


def _bool():
    import onnx

    return onnx.TensorProto.BOOL
