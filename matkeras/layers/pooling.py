"""MATLAB's 1-D pooling layers: stride 1 by default, and zero padding counted in averages."""

import keras
import numpy as np
from keras import ops

from matkeras.layers import _options
from matkeras.layers.conv import explicit_padding


class _Pooling1D(keras.layers.Layer):
    _MAX = True

    def __init__(self, pool_size, stride=1, padding=0, **kwargs):
        where = _options.layer_label(type(self).__name__, kwargs.get("name"))
        super().__init__(**kwargs)
        self._where = where
        self.pool_size = _options.positive_int(pool_size, argument="pool_size",
                                               matlab_property="PoolSize", where=where)
        self.stride = _options.positive_int(stride, argument="stride", matlab_property="Stride",
                                            where=where)
        self.padding = padding
        mode, pads = explicit_padding(padding, 1, where)
        if mode == "causal":
            raise ValueError(f"{where}: padding 'causal' is for convolutions.")
        self._mode, self._pads = mode, pads

    def _pool(self, inputs, padding):
        if self._MAX:
            return ops.max_pool(inputs, self.pool_size, self.stride, padding=padding)
        return ops.average_pool(inputs, self.pool_size, self.stride, padding=padding)

    def _padded_pool(self, inputs, value):
        widths = [(0, 0), self._pads[0], (0, 0)]
        return self._pool(ops.pad(inputs, widths, constant_values=value), "valid")

    def call(self, inputs):
        if self._pads is None:  # "same": Keras's pools skip the padding
            return self._pool(inputs, "same")
        return self._padded_pool(inputs, float("-inf") if self._MAX else 0.0)

    def compute_output_shape(self, input_shape):
        length = input_shape[1]
        if length is not None:
            if self._pads is None:
                length = -(-length // self.stride)
            else:
                length = (length + sum(self._pads[0]) - self.pool_size) // self.stride + 1
        return (input_shape[0], length, input_shape[2])

    def get_config(self):
        padding = self.padding if isinstance(self.padding, str) else np.ravel(
            self.padding).tolist()
        return {**super().get_config(), "pool_size": self.pool_size, "stride": self.stride,
                "padding": padding}


@keras.saving.register_keras_serializable(package="matkeras")
class MaxPooling1D(_Pooling1D):
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
class AveragePooling1D(_Pooling1D):
    """MATLAB's ``averagePooling1dLayer(poolSize)`` over time.

    Args:
        pool_size, stride (1), padding: as :class:`MaxPooling1D`.
        padding_value: ``PaddingValue``: 0 (default: padded zeros count in the average, as
            MATLAB's) or ``"mean"`` (the average of the real elements only).
    """

    MATLAB_CLASS = "nnet.cnn.layer.AveragePooling1DLayer"

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
            if self._pads is None:
                return self._pool(inputs, "same")
            totals = self._padded_pool(inputs, 0.0)
            counts = self._padded_pool(ops.ones_like(inputs[:, :, :1]), 0.0)
            return totals / counts
        if self._pads is None:  # MATLAB's "same" with zeros counted
            length = ops.shape(inputs)[1]
            total = ops.maximum((-(-length // self.stride) - 1) * self.stride + self.pool_size
                                - length, 0)
            before = total // 2
            widths = [[0, 0], [before, total - before], [0, 0]]
            padded = ops.pad(inputs, ops.convert_to_tensor(widths), constant_values=0.0)
            return self._pool(padded, "valid")
        return self._padded_pool(inputs, self.padding_value)

    def get_config(self):
        return {**super().get_config(), "padding_value": self.padding_value}


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
        return ops.mean(inputs, axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])
