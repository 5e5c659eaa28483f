"""ONNX's image operators (NCHW) for :func:`matkeras.converters.load_onnx_network`: what MATLAB's
``exportONNXNetwork`` writes for image CNNs (Conv, pooling, BatchNormalization, LRN, the
activations, Pad, Flatten at any axis).

Tensors stay in ONNX's own layout, ``(N, C, H, W)`` (``(N, C, T)`` in 1-D), between nodes, as
the rest of the reader keeps them; each operator here moves to Keras's channels-last for its
computation and back (TensorFlow's CPU convolutions and pools take channels-last only).
"""

import numpy as np
from keras import ops


def _attributes(node):
    import onnx

    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _last(x):
    """``(N, C, spatial...)`` -> ``(N, spatial..., C)``."""
    return ops.transpose(x, (0, *range(2, len(x.shape)), 1))


def _first(x):
    """``(N, spatial..., C)`` -> ``(N, C, spatial...)``."""
    rank = len(x.shape)
    return ops.transpose(x, (0, rank - 1, *range(1, rank - 1)))


def _spatial_pads(node, x, kernel, strides, dilations):
    """ONNX ``pads`` ``[begins..., ends...]`` (or ``auto_pad``) as ``[(before, after)]`` per
    spatial axis of the channels-last tensor `x` (1-D sequences or 2-D images)."""
    attrs = _attributes(node)
    auto = attrs.get("auto_pad", b"NOTSET")
    auto = auto.decode() if isinstance(auto, bytes) else auto
    spatial = len(kernel)
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        pads = []
        for axis, (k, s, d) in enumerate(zip(kernel, strides, dilations, strict=True), start=1):
            n = x.shape[axis]
            if n is None and s != 1:
                raise ValueError(f"auto_pad {auto} with stride {s} needs the input's size.")
            total = (k - 1) * d if n is None else max((-(-n // s) - 1) * s + (k - 1) * d + 1 - n,
                                                      0)
            small, large = total // 2, total - total // 2
            pads.append((small, large) if auto == "SAME_UPPER" else (large, small))
        return pads
    if auto == "VALID":
        return [(0, 0)] * spatial
    pads = [int(p) for p in attrs.get("pads", [0] * (2 * spatial))]
    return [(pads[k], pads[k + spatial]) for k in range(spatial)]


def _pad(x, pads, value=0.0):
    if all(p == (0, 0) for p in pads):
        return x
    return ops.pad(x, [(0, 0), *pads, (0, 0)], constant_values=value)


def conv(node, tensors, values, number, tensor, constant):
    attrs = _attributes(node)
    x = _last(tensor(node, 0))
    weights = constant(node, 1, "W")  # (out, in/groups, kh, kw)
    bias = constant(node, 2, "B")
    groups = int(attrs.get("group", 1))
    kernel = weights.shape[2:]
    spatial = len(kernel)
    strides = tuple(attrs.get("strides", [1] * spatial))
    dilations = tuple(attrs.get("dilations", [1] * spatial))
    x = _pad(x, _spatial_pads(node, x, kernel, strides, dilations))
    # (k..., in/groups, out)
    k = np.transpose(weights, (*range(2, 2 + spatial), 1, 0)).astype("float32")
    channels, out = x.shape[-1], weights.shape[0]
    if groups > 1 and weights.shape[1] == 1 and groups == channels:  # depthwise
        depthwise = k.reshape(*kernel, groups, out // groups)
        y = ops.depthwise_conv(x, depthwise, strides=strides, padding="valid",
                               dilation_rate=dilations)
    elif groups > 1:  # group by group (keras.ops.conv takes no groups)
        per_in, per_out = weights.shape[1], out // groups
        y = ops.concatenate([
            ops.conv(x[..., g * per_in:(g + 1) * per_in], k[..., g * per_out:(g + 1) * per_out],
                     strides=strides, padding="valid", dilation_rate=dilations)
            for g in range(groups)], axis=-1)
    else:
        y = ops.conv(x, k, strides=strides, padding="valid", dilation_rate=dilations)
    if bias is not None:
        y = y + bias.astype("float32")
    return [_first(y)]


def _pool(node, tensor, kind):
    attrs = _attributes(node)
    x = _last(tensor(node, 0))
    kernel = tuple(attrs["kernel_shape"])
    strides = tuple(attrs.get("strides", [1] * len(kernel)))
    if attrs.get("ceil_mode", 0):
        raise ValueError("ceil_mode=1 has no MATLAB equivalent.")
    pads = _spatial_pads(node, x, kernel, strides, (1,) * len(kernel))
    if kind == "max":
        return [_first(ops.max_pool(_pad(x, pads, float("-inf")), kernel, strides,
                                    padding="valid"))]
    total = ops.average_pool(_pad(x, pads), kernel, strides, padding="valid")
    if attrs.get("count_include_pad", 0) or all(p == (0, 0) for p in pads):
        return [_first(total)]
    ones = _pad(ops.ones_like(x[..., :1]), pads)
    return [_first(total / ops.average_pool(ones, kernel, strides, padding="valid"))]


def max_pool(node, tensors, values, number, tensor, constant):
    return _pool(node, tensor, "max")


def average_pool(node, tensors, values, number, tensor, constant):
    return _pool(node, tensor, "average")


def global_pool(reduce):
    def handler(node, tensors, values, number, tensor, constant):
        x = tensor(node, 0)  # (N, C, spatial...): over every axis after the channels
        return [reduce(x, axis=tuple(range(2, len(x.shape))), keepdims=True)]
    return handler


def batch_normalization(node, tensors, values, number, tensor, constant):
    x = tensor(node, 0)
    epsilon = _attributes(node).get("epsilon", 1e-5)
    channels = (1, -1) + (1,) * (len(x.shape) - 2)  # (N, C, spatial...)
    scale, offset, mean, variance = (constant(node, k, name).reshape(channels)
                                     for k, name in ((1, "scale"), (2, "B"), (3, "mean"),
                                                     (4, "var")))
    factor = (scale / np.sqrt(variance + epsilon)).astype("float32")
    return [x * factor + (offset - mean * scale / np.sqrt(variance + epsilon)).astype(
        "float32")]


def lrn(node, tensors, values, number, tensor, constant):
    """ONNX's LRN is MATLAB's crossChannelNormalizationLayer (alpha divided by the size, the
    window from ``c - floor((size-1)/2)`` to ``c + ceil((size-1)/2)``, bias = K): that layer."""
    from matkeras.layers import CrossChannelNormalization

    attrs = _attributes(node)
    layer = CrossChannelNormalization(int(attrs["size"]), alpha=attrs.get("alpha", 1e-4),
                                      beta=attrs.get("beta", 0.75), k=attrs.get("bias", 1.0),
                                      name=f"lrn_{number}")
    return [_first(layer(_last(tensor(node, 0))))]


def leaky_relu(node, tensors, values, number, tensor, constant):
    alpha = _attributes(node).get("alpha", 0.01)
    x = tensor(node, 0)
    return [ops.where(x > 0, x, alpha * x)]


def elu(node, tensors, values, number, tensor, constant):
    alpha = _attributes(node).get("alpha", 1.0)
    x = tensor(node, 0)
    return [ops.where(x > 0, x, alpha * ops.expm1(ops.minimum(x, 0)))]


def clip(node, tensors, values, number, tensor, constant):
    attrs = _attributes(node)
    low = attrs.get("min") if "min" in attrs else constant(node, 1, "min")
    high = attrs.get("max") if "max" in attrs else constant(node, 2, "max")
    x = tensor(node, 0)
    if low is not None:
        x = ops.maximum(x, float(np.ravel(low)[0]))
    if high is not None:
        x = ops.minimum(x, float(np.ravel(high)[0]))
    return [x]


def pad(node, tensors, values, number, tensor, constant):
    attrs = _attributes(node)
    x = tensor(node, 0)
    pads = attrs.get("pads")
    if pads is None:
        pads = constant(node, 1, "pads")
    pads = [int(p) for p in np.ravel(pads)]
    value = attrs.get("value")
    if value is None:
        given = constant(node, 2, "constant_value")
        value = 0.0 if given is None else float(np.ravel(given)[0])
    mode = attrs.get("mode", b"constant")
    mode = mode.decode() if isinstance(mode, bytes) else mode
    rank = len(x.shape)
    widths = [(pads[k], pads[k + rank]) for k in range(rank)]
    if mode == "constant":
        return [ops.pad(x, widths, constant_values=value)]
    if mode in ("reflect", "edge"):
        if mode == "edge":
            raise ValueError("Pad mode 'edge' is not supported.")
        return [ops.pad(x, widths, mode="reflect")]
    raise ValueError(f"Pad mode {mode!r} is not supported.")


def flatten(node, tensors, values, number, tensor, constant):
    """ONNX's Flatten at any axis: ``(prod(dims before axis), prod(dims from axis))``, row-major
    (the NCHW order, as MATLAB's ONNX flatten layers keep it)."""
    x = tensor(node, 0)
    axis = _attributes(node).get("axis", 1) % max(len(x.shape), 1)
    if axis == 0:
        return [ops.reshape(x, (1, -1))]
    if None in x.shape[axis:]:
        raise ValueError(f"Flatten needs the sizes of the dimensions from axis {axis} on; the "
                         f"input is {tuple(x.shape)}.")
    return [ops.reshape(x, (-1, int(np.prod(x.shape[axis:]))))]


HANDLERS = {
    "Conv": conv, "MaxPool": max_pool, "AveragePool": average_pool,
    "GlobalAveragePool": global_pool(ops.mean), "GlobalMaxPool": global_pool(ops.max),
    "BatchNormalization": batch_normalization, "LRN": lrn, "LeakyRelu": leaky_relu,
    "Elu": elu, "Clip": clip, "Pad": pad, "Flatten": flatten,
}
