"""The layers MATLAB's ONNX importer writes into networks (``nnet.onnx.layer.*``), whose
behaviour is fixed by their saved fields: networks imported into MATLAB from ONNX and saved
there load with them.

MATLAB's ONNX flatten layers flatten ONNX's way, row-major over (C, H, W) of an NCHW tensor (W
fastest, then H, then C), unlike MATLAB's own ``flattenLayer`` (column-major over (H, W, C):
H fastest); weights after them were trained for that order.
"""

import keras
import numpy as np
from keras import ops

from matkeras.layers import _options
from matkeras.ops.precision import maximum, minimum


class _OneInput(keras.layers.Layer):
    @property
    def matlab_output_names(self):
        """MATLAB's ``OutputNames``: ``("out",)``."""
        return ("out",)


@keras.saving.register_keras_serializable(package="matkeras")
class VerifyBatchSize(_OneInput):
    """``nnet.onnx.layer.VerifyBatchSizeLayer``: passes its input on.

    MATLAB's importer puts it after the input of an ONNX model with a fixed batch size, where it
    checks that each mini-batch has that size. A Keras model takes any batch size, so the check
    is not made (`batch_size` is kept for the record).
    """

    MATLAB_CLASS = "nnet.onnx.layer.VerifyBatchSizeLayer"

    def __init__(self, batch_size=None, **kwargs):
        super().__init__(**kwargs)
        self.batch_size = None if batch_size is None else int(batch_size)

    def call(self, inputs):
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "batch_size": self.batch_size}


def _onnx_order(inputs):
    """(batch, h, w, c) -> (batch, c*h*w) in ONNX's row-major NCHW order."""
    return ops.reshape(ops.transpose(inputs, (0, 3, 1, 2)), (ops.shape(inputs)[0], -1))


def _flat_size(input_shape):
    size = 1
    for s in input_shape[1:]:
        size = None if (s is None or size is None) else size * s
    return size


@keras.saving.register_keras_serializable(package="matkeras")
class FlattenInto2D(_OneInput):
    """``nnet.onnx.layer.FlattenInto2dLayer``: images ``(batch, h, w, c)`` -> ``(batch,
    c*h*w)`` in ONNX's order (W fastest, then H, then C); MATLAB's output is "CB"."""

    MATLAB_CLASS = "nnet.onnx.layer.FlattenInto2dLayer"

    def call(self, inputs):
        return _onnx_order(inputs)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], _flat_size(input_shape))


@keras.saving.register_keras_serializable(package="matkeras")
class OnnxFlatten(_OneInput):
    """``nnet.onnx.layer.FlattenLayer``: images ``(batch, h, w, c)`` -> ``(batch, 1, 1,
    c*h*w)`` in ONNX's order (MATLAB keeps a 1x1xK image)."""

    MATLAB_CLASS = "nnet.onnx.layer.FlattenLayer"

    def call(self, inputs):
        return ops.reshape(_onnx_order(inputs), (ops.shape(inputs)[0], 1, 1, -1))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 1, 1, _flat_size(input_shape))


def _matlab_broadcast(value, argument, where):
    """A MATLAB array (scalar, C x 1 / 1 x C, 1 x 1 x C or h x w x c) as an array that
    broadcasts over Keras's channels-last data."""
    array = np.asarray(value, dtype="float64")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{where}: {argument} contains NaN or Inf.")
    if array.ndim <= 2 and array.size == max(array.shape or (1,)):
        return array.reshape(-1) if array.size > 1 else array.reshape(())
    return array


@keras.saving.register_keras_serializable(package="matkeras")
class ElementwiseAffine(_OneInput):
    """``nnet.onnx.layer.ElementwiseAffineLayer``: ``y = x .* Scale + Offset`` (what MATLAB's
    importer makes of ONNX Mul/Add/Sub/Div by constants), broadcast as MATLAB does.

    Args:
        scale: ``Scale``: a scalar, one value per channel, or an h x w x c array.
        offset: ``Offset``: the same shapes.
    """

    MATLAB_CLASS = "nnet.onnx.layer.ElementwiseAffineLayer"

    def __init__(self, scale=1.0, offset=0.0, **kwargs):
        where = _options.layer_label("ElementwiseAffine", kwargs.get("name"))
        super().__init__(**kwargs)
        self.scale = _matlab_broadcast(scale, "scale (MATLAB 'Scale')", where)
        self.offset = _matlab_broadcast(offset, "offset (MATLAB 'Offset')", where)

    def call(self, inputs):
        dtype = inputs.dtype
        return inputs * ops.convert_to_tensor(self.scale, dtype=dtype) + ops.convert_to_tensor(
            self.offset, dtype=dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "scale": self.scale.tolist(),
                "offset": self.offset.tolist()}


@keras.saving.register_keras_serializable(package="matkeras")
class PReLU(_OneInput):
    """``nnet.onnx.layer.PreluLayer``: ``x`` where ``x > 0``, ``Alpha .* x`` elsewhere, with
    ``Alpha`` a scalar or one slope per channel (ONNX's PRelu).

    Args:
        alpha: ``Alpha``.
    """

    MATLAB_CLASS = "nnet.onnx.layer.PreluLayer"

    def __init__(self, alpha, **kwargs):
        where = _options.layer_label("PReLU", kwargs.get("name"))
        super().__init__(**kwargs)
        self.alpha = _matlab_broadcast(alpha, "alpha (MATLAB 'Alpha')", where)

    def call(self, inputs):
        alpha = ops.convert_to_tensor(self.alpha, dtype=inputs.dtype)
        return ops.where(inputs > 0, inputs, alpha * inputs)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha.tolist()}


@keras.saving.register_keras_serializable(package="matkeras")
class Clip(_OneInput):
    """``nnet.onnx.layer.ClipLayer``: ``min(max(x, Min), Max)`` (ONNX's Clip).

    Args:
        min: ``Min`` (-Inf: no lower bound). max: ``Max`` (Inf: no upper bound).
    """

    MATLAB_CLASS = "nnet.onnx.layer.ClipLayer"

    def __init__(self, min=-np.inf, max=np.inf, **kwargs):  # noqa: A002
        where = _options.layer_label("Clip", kwargs.get("name"))
        low, high = float(min), float(max)
        if np.isnan(low) or np.isnan(high) or low > high:
            raise ValueError(f"{where}: min (MATLAB 'Min') must not exceed max (MATLAB 'Max'); "
                             f"received {min!r} and {max!r}.")
        super().__init__(**kwargs)
        self.min, self.max = low, high

    def call(self, inputs):
        dtype = inputs.dtype
        out = inputs
        if np.isfinite(self.min):
            out = maximum(out, ops.convert_to_tensor(self.min, dtype=dtype))
        if np.isfinite(self.max):
            out = minimum(out, ops.convert_to_tensor(self.max, dtype=dtype))
        return out

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "min": self.min, "max": self.max}


@keras.saving.register_keras_serializable(package="matkeras")
class OnnxShaped(keras.layers.Layer):
    """An ONNX node whose output size is read from other tensors at run time: ONNX computes
    such sizes with ``Shape`` -> ``Gather``/``Slice``/``Concat`` and feeds them to
    ``ConstantOfShape``, ``Expand``, ``Reshape`` or a ``Slice`` end (a free batch or time axis
    in a transformer's position embedding and causal mask, for example).

    Args:
        op: ``"fill"`` (``ConstantOfShape``: `value` in the shape `dims`), ``"expand"`` (the
            data broadcast to `dims`, ONNX's two-way broadcasting), ``"reshape"`` (the data
            reshaped to `dims`) or ``"slice"`` (the data from `starts` to `dims` along `axes`).
        dims: the sizes, each an int or ``[k, axis]``: the size of input `k`'s `axis` (input 0
            is the data; ``"fill"`` takes no data, so its inputs are all size sources).
        value: the fill value (``"fill"``).
        starts, axes: where the slice starts, and its axes (``"slice"``).
    """

    OPS = ("fill", "expand", "reshape", "slice")

    def __init__(self, op, dims, value=0.0, starts=None, axes=None, **kwargs):
        super().__init__(**kwargs)
        if op not in self.OPS:
            raise ValueError(f"OnnxShaped: op must be one of {list(self.OPS)}; received {op!r}.")
        self.op = op
        self.dims = [d if isinstance(d, int) else [int(d[0]), int(d[1])] for d in dims]
        self.value = float(value)
        self.starts = None if starts is None else [int(s) for s in starts]
        self.axes = None if axes is None else [int(a) for a in axes]

    def _sizes(self, inputs):
        return [d if isinstance(d, int) else ops.shape(inputs[d[0]])[d[1]] for d in self.dims]

    def call(self, inputs):
        inputs = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        sizes = self._sizes(inputs)
        if self.op == "fill":
            return ops.broadcast_to(ops.convert_to_tensor(self.value, self.compute_dtype),
                                    sizes)
        data = inputs[0]
        if self.op == "reshape":
            return ops.reshape(data, sizes)
        if self.op == "expand":
            shape = list(ops.shape(data))
            shape = [1] * (len(sizes) - len(shape)) + shape
            sizes = [1] * (len(shape) - len(sizes)) + sizes
            # two-way broadcasting: a size of 1 on either side takes the other side's size
            target = [d if isinstance(s, int) and s == 1 else s
                      for s, d in zip(sizes, shape, strict=True)]
            return ops.broadcast_to(ops.reshape(data, shape), target)
        index = [slice(None)] * len(data.shape)
        for axis, start, end in zip(self.axes, self.starts, sizes, strict=True):
            index[axis] = slice(start, end)
        return data[tuple(index)]

    def get_config(self):
        return {**super().get_config(), "op": self.op, "dims": self.dims, "value": self.value,
                "starts": self.starts, "axes": self.axes}
