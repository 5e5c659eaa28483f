"""MATLAB's 1-D and 2-D pooling layers: stride 1 by default, padding 'same' as MATLAB pads, zero
padding counted in averages."""

import keras
import numpy as np
from keras import ops

from matkeras.layers import _options
from matkeras.layers.conv import explicit_padding, same_padding
from matkeras.ops.precision import mean


class _Pooling(keras.layers.Layer):
    """MATLAB's pooling over the `_SPATIAL` axes between batch and channels."""

    _MAX = True
    _SPATIAL = 1

    def __init__(self, pool_size, stride=1, padding=0, **kwargs):
        where = _options.layer_label(type(self).__name__, kwargs.get("name"))
        super().__init__(**kwargs)
        self._where = where
        self.pool_size = self._sizes(pool_size, "pool_size", "PoolSize")
        self.stride = self._sizes(stride, "stride", "Stride")
        self.padding = padding
        mode, pads = explicit_padding(padding, self._SPATIAL, where)
        if mode == "causal":
            raise ValueError(f"{where}: padding 'causal' is for convolutions.")
        self._mode, self._pads = mode, pads

    def _sizes(self, value, argument, prop):
        """One positive int per spatial axis (a scalar applies to all): an int in 1-D."""
        values = np.ravel(value)
        if values.size not in (1, self._SPATIAL):
            raise ValueError(f"{self._where}: {argument} (MATLAB '{prop}') must have 1 or "
                             f"{self._SPATIAL} values; received {value!r}.")
        checked = tuple(_options.positive_int(v, argument=argument, matlab_property=prop,
                                              where=self._where)
                        for v in np.broadcast_to(values, (self._SPATIAL,)))
        return checked[0] if self._SPATIAL == 1 else checked

    def _pool(self, inputs, padding):
        if self._MAX:
            return ops.max_pool(inputs, self.pool_size, self.stride, padding=padding)
        return ops.average_pool(inputs, self.pool_size, self.stride, padding=padding)

    def _padded_pool(self, inputs, value, pads=None):
        widths = [(0, 0), *(pads or self._pads), (0, 0)]
        return self._pool(ops.pad(inputs, widths, constant_values=value), "valid")

    def _tuple(self, value):
        return (value,) if self._SPATIAL == 1 else value

    def call(self, inputs):
        if self._pads is None:  # "same": Keras's pools skip the padding
            return self._pool(inputs, "same")
        return self._padded_pool(inputs, float("-inf") if self._MAX else 0.0)

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        for axis, (k, s) in enumerate(zip(self._tuple(self.pool_size), self._tuple(self.stride),
                                          strict=True), start=1):
            if shape[axis] is None:
                continue
            if self._pads is None:
                shape[axis] = -(-shape[axis] // s)
            else:
                shape[axis] = (shape[axis] + sum(self._pads[axis - 1]) - k) // s + 1
        return tuple(shape)

    def get_config(self):
        padding = self.padding if isinstance(self.padding, str) else np.ravel(
            self.padding).tolist()
        return {**super().get_config(), "pool_size": self.pool_size, "stride": self.stride,
                "padding": padding}


class _Average(_Pooling):
    """Average pooling with MATLAB's ``PaddingValue``."""

    _MAX = False

    def __init__(self, pool_size, stride=1, padding=0, padding_value=0.0, **kwargs):
        super().__init__(pool_size, stride, padding, **kwargs)
        if isinstance(padding_value, str):
            padding_value = padding_value.lower()
        if padding_value != "mean":
            try:
                padding_value = float(padding_value)
            except (TypeError, ValueError):
                raise ValueError(f"{self._where}: padding_value (MATLAB 'PaddingValue') must be "
                                 f"0 or 'mean'; received {padding_value!r}.") from None
        self.padding_value = padding_value

    def call(self, inputs):
        if self.padding_value == "mean":
            pads = self._pads
            if pads is None:
                if keras.backend.backend() != "torch":
                    return self._pool(inputs, "same")
                # Keras's "same" average pool on PyTorch is wrong at the far edge with a stride
                # (measured: 0.34 off at the last step, 3-pool, stride 2, 8 steps): the padded
                # totals over the padded counts there
                pads = same_padding(inputs, self._tuple(self.pool_size),
                                    self._tuple(self.stride))
            totals = self._padded_pool(inputs, 0.0, pads)
            counts = self._padded_pool(ops.ones_like(inputs[..., :1]), 0.0, pads)
            return totals / counts
        if self._pads is None:  # MATLAB's "same" with the padded zeros counted
            return self._padded_pool(inputs, 0.0, same_padding(
                inputs, self._tuple(self.pool_size), self._tuple(self.stride)))
        return self._padded_pool(inputs, self.padding_value)

    def get_config(self):
        return {**super().get_config(), "padding_value": self.padding_value}


@keras.saving.register_keras_serializable(package="matkeras")
class MaxPooling1D(_Pooling):
    """MATLAB's ``maxPooling1dLayer(poolSize)`` over time.

    Args:
        pool_size: ``PoolSize``. stride: ``Stride`` (1, not the pool size as in Keras).
        padding: ``Padding``: 0 (default), ``"same"``, p or ``(left, right)``. Padded positions
            never win the maximum (MATLAB's padding value for max pooling is not confirmed; the
            -Inf reading agrees with Keras's "same").
    """

    MATLAB_CLASS = "nnet.cnn.layer.MaxPooling1DLayer"

    _MAX = True


@keras.saving.register_keras_serializable(package="matkeras")
class AveragePooling1D(_Average):
    """MATLAB's ``averagePooling1dLayer(poolSize)`` over time.

    Args:
        pool_size, stride (1), padding: as :class:`MaxPooling1D`.
        padding_value: ``PaddingValue``: 0 (default: padded zeros count in the average, as
            MATLAB's) or ``"mean"`` (the average of the real elements only).
    """

    MATLAB_CLASS = "nnet.cnn.layer.AveragePooling1DLayer"


@keras.saving.register_keras_serializable(package="matkeras")
class GlobalMaxPooling1D(keras.layers.Layer):
    """MATLAB's ``globalMaxPooling1dLayer``: the maximum over all time steps, padding included
    (MATLAB has no mask)."""

    MATLAB_CLASS = "nnet.cnn.layer.GlobalMaxPooling1DLayer"

    def call(self, inputs):
        return ops.max(inputs, axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])


@keras.saving.register_keras_serializable(package="matkeras")
class GlobalAveragePooling1D(keras.layers.Layer):
    """MATLAB's ``globalAveragePooling1dLayer``: the mean over all time steps, padding
    included."""

    MATLAB_CLASS = "nnet.cnn.layer.GlobalAveragePooling1DLayer"

    def call(self, inputs):
        return mean(inputs, axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])


@keras.saving.register_keras_serializable(package="matkeras")
class MaxPooling2D(_Pooling):
    """MATLAB's ``maxPooling2dLayer(poolSize)`` on images ``(batch, h, w, c)``.

    Args:
        pool_size: ``PoolSize``: an int or ``(h, w)``.
        stride: ``Stride`` (1: MATLAB's default, not the pool size as in Keras): an int or
            ``(vertical, horizontal)``.
        padding: ``Padding``: 0 (default), ``"same"`` (output ceil(n/stride), the odd row and
            column at the bottom and right, as MATLAB's ``PaddingSize`` [top bottom left right]
            shows), p, ``(h, w)`` or ``(top, bottom, left, right)``. Padded cells never win
            the maximum (MATLAB's padding value for max pooling is not documented; -Inf is the
            reading that agrees with 'same').

    Input shape: ``(batch, h, w, c)``. Output shape: ``(batch, new_h, new_w, c)``.

    Example:
        >>> MaxPooling2D(3, stride=2, padding="same")(np.zeros((1, 98, 32, 1))).shape
        TensorShape([1, 49, 16, 1])
    """

    MATLAB_CLASS = "nnet.cnn.layer.MaxPooling2DLayer"

    _SPATIAL = 2


@keras.saving.register_keras_serializable(package="matkeras")
class AveragePooling2D(_Average):
    """MATLAB's ``averagePooling2dLayer(poolSize)`` on images ``(batch, h, w, c)``.

    ``y`` is the mean over each window. Args as :class:`MaxPooling2D`, and
    ``padding_value``: ``PaddingValue``: 0 (default: padded cells are zeros that count in the
    mean, 'same' included, as MATLAB's) or ``"mean"`` (the mean of the real cells only).
    """

    MATLAB_CLASS = "nnet.cnn.layer.AveragePooling2DLayer"

    _SPATIAL = 2


class _Global2D(keras.layers.Layer):
    """A reduction over height and width that keeps them as 1 x 1 (MATLAB: SSCB -> 11CB)."""

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 1, 1, input_shape[-1])


@keras.saving.register_keras_serializable(package="matkeras")
class GlobalAveragePooling2D(_Global2D):
    """MATLAB's ``globalAveragePooling2dLayer``: the mean over height and width, kept as a
    1 x 1 image (``(batch, 1, 1, c)``), as MATLAB's output is 1x1xC."""

    MATLAB_CLASS = "nnet.cnn.layer.GlobalAveragePooling2DLayer"

    def call(self, inputs):
        return mean(inputs, axis=(1, 2), keepdims=True)


@keras.saving.register_keras_serializable(package="matkeras")
class GlobalMaxPooling2D(_Global2D):
    """MATLAB's ``globalMaxPooling2dLayer``: the maximum over height and width, kept as a
    1 x 1 image (``(batch, 1, 1, c)``)."""

    MATLAB_CLASS = "nnet.cnn.layer.GlobalMaxPooling2DLayer"

    def call(self, inputs):
        return ops.max(inputs, axis=(1, 2), keepdims=True)
