"""MATLAB's batchNormalizationLayer, layerNormalizationLayer (epsilon 1e-5, MATLAB names) and
crossChannelNormalizationLayer."""

import keras
import numpy as np
from keras import ops

from matkeras.layers import _options
from matkeras.layers._matlab import MatlabMapping
from matkeras.ops.precision import constants, demoted

#: MATLAB's default (and minimum) Epsilon of both normalization layers.
MATLAB_EPSILON = 1e-5


def _check_epsilon(epsilon, layer, name):
    value = float(epsilon)
    if not value >= MATLAB_EPSILON:
        raise ValueError(
            f"{_options.layer_label(layer, name)}: epsilon (MATLAB 'Epsilon') must be at least "
            f"{MATLAB_EPSILON}; received {epsilon!r}."
        )
    return value


def _widened(inputs):
    """`inputs` in float32 when half precision (normalization statistics overflow there, so
    Keras's layers compute them in float32 too), else as they are."""
    if keras.backend.standardize_dtype(inputs.dtype) in ("float16", "bfloat16"):
        return ops.cast(inputs, "float32")
    return inputs


def _scale_and_offset(layer, normalized, dtype):
    """``Scale * normalized + Offset`` per channel (those the layer has), in `dtype`."""
    if layer.scale:
        normalized = normalized * ops.cast(layer.gamma, normalized.dtype)
    if layer.center:
        normalized = normalized + ops.cast(layer.beta, normalized.dtype)
    return ops.cast(normalized, dtype)


class _MatlabViews(MatlabMapping):
    """Reads and writes Keras normalization variables under MATLAB's property names."""

    _VIEWS = {}  # MATLAB snake-case name -> Keras attribute

    def set_matlab_weights(self, **values):
        """Sets MATLAB properties (e.g. ``offset``, ``scale``, ``trained_mean``), each a vector
        of NumChannels values (MATLAB's 1x1xC or Cx1 shapes are flattened)."""
        unknown = sorted(set(values) - set(self._VIEWS))
        if unknown:
            raise ValueError(f"{self.name}: unknown MATLAB properties {unknown}; expected some "
                             f"of {sorted(self._VIEWS)}.")
        if not self.built:
            first = np.ravel(next(iter(values.values())))
            self.build((None, None, first.size))
        for key, value in values.items():
            variable = getattr(self, self._VIEWS[key])
            flat = np.ravel(np.asarray(value, dtype="float64"))
            if flat.shape != tuple(variable.shape):
                raise ValueError(
                    f"{self.name}: {key} has {flat.size} values; expected NumChannels = "
                    f"{variable.shape[0]}."
                )
            variable.assign(flat)

    def _view(self, key):
        return ops.convert_to_numpy(getattr(self, self._VIEWS[key]))

    @property
    def offset(self):
        """MATLAB ``Offset`` (beta), NumChannels values (a numpy copy)."""
        return self._view("offset")

    @property
    def matlab_scale(self):
        """MATLAB ``Scale`` (gamma; Keras's own ``scale`` is the use-gamma flag)."""
        return self._view("scale")


@keras.saving.register_keras_serializable(package="matkeras")
class BatchNormalization(_MatlabViews, keras.layers.BatchNormalization):
    """MATLAB's ``batchNormalizationLayer``: per channel, statistics over batch and time.

    At prediction ``y = Scale * (x - TrainedMean) / sqrt(TrainedVariance + Epsilon) + Offset``.
    MATLAB's Epsilon default is 1e-5 (Keras's is 1e-3); the running statistics decay as MATLAB's
    MeanDecay/VarianceDecay 0.1 (Keras momentum 0.9).

    Args:
        epsilon: ``Epsilon`` (1e-5, at least 1e-5).
        **kwargs: ``keras.layers.BatchNormalization`` arguments.

    MATLAB properties (numpy; ``set_matlab_weights(offset=, scale=, trained_mean=,
    trained_variance=)`` writes them): ``offset``, ``matlab_scale``, ``trained_mean``,
    ``trained_variance``.
    """

    _VIEWS = {"offset": "beta", "scale": "gamma", "trained_mean": "moving_mean",
              "trained_variance": "moving_variance"}
    MATLAB_CLASS = "nnet.cnn.layer.BatchNormalizationLayer"
    MATLAB_PROPERTIES = (("Offset", "offset", "offset", "learnable"),
                         ("Scale", "scale", "matlab_scale", "learnable"),
                         ("TrainedMean", "trained_mean", "trained_mean", "state"),
                         ("TrainedVariance", "trained_variance", "trained_variance", "state"))

    def __init__(self, epsilon=MATLAB_EPSILON, momentum=0.9, **kwargs):
        super().__init__(epsilon=_check_epsilon(epsilon, "BatchNormalization",
                                                kwargs.get("name")),
                         momentum=momentum, **kwargs)

    def build(self, input_shape):
        super().build(input_shape)
        # Per channel over every other axis: the same layer serves (batch, C), sequences
        # (batch, time, C) and images (batch, h, w, C), whatever shape built it.
        self.input_spec = keras.InputSpec(min_ndim=2, axes={-1: input_shape[-1]})

    def call(self, inputs, training=None, mask=None):
        if not demoted(inputs) or self.axis % len(inputs.shape) != len(inputs.shape) - 1 or \
                self.renorm or self.synchronized:
            return super().call(inputs, training=training, mask=mask)
        # float64 on PyTorch/JAX, where Keras's layer computes in float32: the same equations
        # (batch statistics and the moving-average update in training) in float64
        axes = [axis for axis in range(len(inputs.shape)) if axis != len(inputs.shape) - 1]
        if training and self.trainable:
            if mask is None:
                mean, variance = ops.moments(inputs, axes)
            else:  # Keras's masked moments: masked-out values never enter, a count + epsilon
                kept = ops.broadcast_to(ops.cast(ops.expand_dims(mask, -1), "bool"),
                                        ops.shape(inputs))
                count = ops.sum(ops.cast(kept, inputs.dtype), axes) + keras.config.epsilon()
                mean = ops.sum(ops.where(kept, inputs, 0.0), axes) / count
                variance = ops.sum(ops.square(ops.where(kept, inputs - mean, 0.0)),
                                   axes) / count
            keep, take = constants(inputs.dtype, self.momentum, 1.0 - self.momentum)
            for moving, batch in ((self.moving_mean, mean), (self.moving_variance, variance)):
                moving.assign(keep * moving + take * batch)
        else:
            mean, variance = self.moving_mean, self.moving_variance
        return ops.batch_normalization(inputs, mean, variance, axis=-1,
                                       offset=self.beta if self.center else None,
                                       scale=self.gamma if self.scale else None,
                                       epsilon=self.epsilon)

    @property
    def trained_mean(self):
        """MATLAB ``TrainedMean`` (a numpy copy)."""
        return self._view("trained_mean")

    @property
    def trained_variance(self):
        """MATLAB ``TrainedVariance`` (a numpy copy)."""
        return self._view("trained_variance")


@keras.saving.register_keras_serializable(package="matkeras")
class LayerNormalization(_MatlabViews, keras.layers.LayerNormalization):
    """MATLAB's ``layerNormalizationLayer``: ``y = Scale * (x - mean) / sqrt(var + Epsilon) +
    Offset``, the mean and variance of each observation taken over the dimensions MATLAB's
    ``OperationDimension`` names (:meth:`normalized_axes`), ``Scale`` and ``Offset`` one value
    per channel.

    Args:
        epsilon: ``Epsilon`` (1e-5).
        operation_dimension: ``OperationDimension``: ``"auto"`` (the channels of each time step
            of sequences and features; the spatial dimensions and channels of 2-D images),
            ``"channel-only"``, ``"spatial-channel"`` (the spatial dimensions and channels;
            the channels where the input has no spatial dimension) or ``"batch-excluded"``
            (every dimension but the batch: on sequences, the time steps and channels).
        **kwargs: ``keras.layers.LayerNormalization`` arguments.

    MATLAB properties: ``offset``, ``matlab_scale`` (``set_matlab_weights(offset=, scale=)``).
    """

    _VIEWS = {"offset": "beta", "scale": "gamma"}
    MATLAB_CLASS = "nnet.cnn.layer.LayerNormalizationLayer"
    MATLAB_PROPERTIES = (("Offset", "offset", "offset", "learnable"),
                         ("Scale", "scale", "matlab_scale", "learnable"))
    OPERATION_DIMENSIONS = ("auto", "channel-only", "spatial-channel", "batch-excluded")

    def __init__(self, epsilon=MATLAB_EPSILON, operation_dimension="auto", **kwargs):
        super().__init__(epsilon=_check_epsilon(epsilon, "LayerNormalization",
                                                kwargs.get("name")), **kwargs)
        self.operation_dimension = _options.choose(
            operation_dimension, self.OPERATION_DIMENSIONS, argument="operation_dimension",
            matlab_property="OperationDimension",
            where=_options.layer_label("LayerNormalization", kwargs.get("name")))

    def normalized_axes(self, rank):
        """The axes of an input of `rank` (batch first, channels last: ``(N, C)``, ``(N, T, C)``,
        ``(N, H, W, C)``, ``(N, T, H, W, C)``) that the statistics are taken over, as MATLAB
        chooses them from ``OperationDimension`` (MathWorks' TensorFlow exporter,
        ``ConverterForLayerNormalizationLayer``): ``"auto"`` is ``"spatial-channel"`` where the
        input has two spatial dimensions and ``"channel-only"`` otherwise."""
        spatial = {4: [1, 2], 5: [2, 3]}.get(rank, [])
        mode = self.operation_dimension
        if mode == "batch-excluded":
            return list(range(1, rank))
        if mode == "spatial-channel" or (mode == "auto" and len(spatial) > 1):
            return spatial + [rank - 1]
        return [rank - 1]

    def call(self, inputs):
        rank = len(inputs.shape)
        axes = self.normalized_axes(rank)
        if [axis % rank for axis in np.ravel(self.axis)] != [rank - 1] or self.rms_scaling or (
                axes == [rank - 1] and not demoted(inputs)):
            return super().call(inputs)  # Keras's own: the channels (or the axes it was given)
        # float64 on PyTorch/JAX, where Keras's layer computes in float32; and MATLAB's wider
        # statistics, one Scale and Offset per channel (Keras's layer would take one per
        # element of the normalized axes). Half precision computes in float32, as Keras does.
        x = _widened(inputs)
        mean, variance = ops.moments(x, axes, keepdims=True)
        return _scale_and_offset(self, (x - mean) * ops.rsqrt(variance + self.epsilon),
                                 inputs.dtype)

    def get_config(self):
        return {**super().get_config(), "operation_dimension": self.operation_dimension}


@keras.saving.register_keras_serializable(package="matkeras")
class GroupNormalization(_MatlabViews, keras.layers.GroupNormalization):
    """MATLAB's ``groupNormalizationLayer(numGroups)``: the channels split into `num_groups`
    contiguous groups; each observation's values normalized over every dimension but the batch
    within each group (spatial dimensions, time steps and the group's channels), then
    ``Scale * xhat + Offset`` per channel (MathWorks' TensorFlow exporter,
    ``ConverterForGroupNormalizationLayer``, maps it to such a group normalization).

    Args:
        num_groups: ``NumGroups``: a positive int dividing the channels, ``"all-channels"``
            (one group) or ``"channel-wise"`` (a group per channel: instance normalization).
        epsilon: ``Epsilon`` (1e-5).
        **kwargs: ``keras.layers.GroupNormalization`` arguments but ``groups``.

    MATLAB properties: ``offset``, ``matlab_scale`` (``set_matlab_weights(offset=, scale=)``).
    """

    _VIEWS = {"offset": "beta", "scale": "gamma"}
    MATLAB_CLASS = "nnet.cnn.layer.GroupNormalizationLayer"
    MATLAB_PROPERTIES = LayerNormalization.MATLAB_PROPERTIES
    _KIND = "GroupNormalization"

    def __init__(self, num_groups, epsilon=MATLAB_EPSILON, **kwargs):
        where = _options.layer_label(self._KIND, kwargs.get("name"))
        if isinstance(num_groups, str):
            num_groups = _options.choose(num_groups, ("all-channels", "channel-wise"),
                                         argument="num_groups", matlab_property="NumGroups",
                                         where=where)
            groups = 1 if num_groups == "all-channels" else -1
        else:
            num_groups = groups = _options.positive_int(
                num_groups, argument="num_groups", matlab_property="NumGroups", where=where)
        kwargs.pop("groups", None)
        super().__init__(groups=groups, epsilon=_check_epsilon(epsilon, self._KIND,
                                                               kwargs.get("name")), **kwargs)
        self.num_groups = num_groups

    def build(self, input_shape):
        super().build(input_shape)
        # any rank with these channels: the MATLAB values may be set (set_matlab_weights)
        # before the layer meets its sequences or images
        self.input_spec = keras.InputSpec(min_ndim=2, axes={-1: input_shape[-1]})

    def call(self, inputs):
        # Keras's own computes in float32 on PyTorch and JAX; here each backend keeps float64
        # (half precision computes in float32, as Keras's does)
        x = _widened(inputs)
        shape = ops.shape(x)
        channels = inputs.shape[-1]
        grouped = ops.reshape(x, (shape[0], -1, self.groups, channels // self.groups))
        mean, variance = ops.moments(grouped, [1, 3], keepdims=True)
        return _scale_and_offset(self, ops.reshape(
            (grouped - mean) * ops.rsqrt(variance + self.epsilon), shape), inputs.dtype)

    def get_config(self):
        config = super().get_config()
        config.pop("groups", None)
        return {**config, "num_groups": self.num_groups}


@keras.saving.register_keras_serializable(package="matkeras")
class InstanceNormalization(GroupNormalization):
    """MATLAB's ``instanceNormalizationLayer``: :class:`GroupNormalization` with a group per
    channel (each observation's channel normalized over its spatial dimensions or time steps).

    Args:
        epsilon: ``Epsilon`` (1e-5).
        **kwargs: ``keras.layers.GroupNormalization`` arguments but ``groups``.
    """

    MATLAB_CLASS = "nnet.cnn.layer.InstanceNormalizationLayer"
    _KIND = "InstanceNormalization"

    def __init__(self, epsilon=MATLAB_EPSILON, **kwargs):
        kwargs.pop("num_groups", None)
        super().__init__("channel-wise", epsilon, **kwargs)

    def get_config(self):
        config = super().get_config()
        config.pop("num_groups")
        return config


@keras.saving.register_keras_serializable(package="matkeras")
class CrossChannelNormalization(keras.layers.Layer):
    """MATLAB's ``crossChannelNormalizationLayer(windowChannelSize)``: local response
    normalization across channels.

    ``y_c = x_c / (K + Alpha * ss_c / WindowChannelSize) ^ Beta``, with ``ss_c`` the sum of
    ``x^2`` over channels ``c - floor((N-1)/2)`` to ``c + ceil((N-1)/2)`` (N =
    ``WindowChannelSize``; the window stops at the first and last channel). MATLAB divides
    Alpha by the window size (TensorFlow's ``local_response_normalization`` does not).

    Args:
        window_channel_size: ``WindowChannelSize``.
        alpha: ``Alpha`` (1e-4). beta: ``Beta`` (0.75). k: ``K`` (2).

    Input shape: ``(batch, ..., channels)``. Output shape: the same.
    """

    MATLAB_CLASS = "nnet.cnn.layer.CrossChannelNormalizationLayer"

    def __init__(self, window_channel_size, alpha=1e-4, beta=0.75, k=2.0, **kwargs):
        where = _options.layer_label("CrossChannelNormalization", kwargs.get("name"))
        size = _options.positive_int(window_channel_size, argument="window_channel_size",
                                     matlab_property="WindowChannelSize", where=where)
        values = {}
        for argument, prop, value in (("alpha", "Alpha", alpha), ("beta", "Beta", beta),
                                      ("k", "K", k)):
            number = float(value)
            if not np.isfinite(number):
                raise ValueError(f"{where}: {argument} (MATLAB '{prop}') must be finite; "
                                 f"received {value!r}.")
            values[argument] = number
        if values["k"] < 1e-5:
            raise ValueError(f"{where}: k (MATLAB 'K') must be at least 1e-5; received {k!r}.")
        super().__init__(**kwargs)
        self.window_channel_size = size
        self.alpha, self.beta, self.k = values["alpha"], values["beta"], values["k"]

    def call(self, inputs):
        size = self.window_channel_size
        before, after = (size - 1) // 2, size - 1 - (size - 1) // 2
        squares = ops.square(inputs)
        channels = inputs.shape[-1]
        widths = [(0, 0)] * (len(inputs.shape) - 1) + [(before, after)]
        padded = ops.pad(squares, widths)
        total = padded[..., 0:channels]
        for shift in range(1, size):
            total = total + padded[..., shift:shift + channels]
        dtype = inputs.dtype
        def constant(value):  # not ops.cast: a Python float would pass through float32
            return ops.convert_to_tensor(value, dtype=dtype)

        scale = constant(self.k) + constant(self.alpha / size) * total
        return inputs / ops.power(scale, constant(self.beta))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "window_channel_size": self.window_channel_size,
                "alpha": self.alpha, "beta": self.beta, "k": self.k}
