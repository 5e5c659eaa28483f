"""MATLAB's convolution1dLayer and convolution2dLayer, with MATLAB's padding options."""

import numbers

import keras
import numpy as np
from keras import ops

from matkeras.layers import _options, initializers
from matkeras.layers._learn_rates import LearnRateFactorsMixin
from matkeras.layers._matlab import MatlabMapping, initializer_unless_given
from matkeras.layers.regularizers import (
    DEFAULT_L2_REGULARIZATION,
    MatlabL2Mixin,
    check_l2_regularization,
)

#: MATLAB PaddingValue names and the keras.ops.pad modes they are ("replicate" repeats the edge
#: element, numpy's "edge", which TensorFlow's pad does not have: it is written out here).
PADDING_VALUES = {"symmetric-include-edge": "symmetric", "symmetric-exclude-edge": "reflect",
                  "replicate": "edge"}


def explicit_padding(padding, spatial, where):
    """MATLAB ``Padding`` -> (Keras padding mode, explicit [(before, after)] per spatial axis).

    ``"same"``/``"causal"`` map to Keras's own modes (``"same"`` splits as TF's SAME, the extra
    element at the end, which is MATLAB's rule); numbers are explicit padding: p (all sides),
    ``(l, r)`` in 1-D, ``(t, b, l, r)`` or ``(h, w)`` in 2-D.
    """
    if isinstance(padding, str):
        allowed = ("same", "causal") if spatial == 1 else ("same",)
        mode = _options.choose(padding, allowed, argument="padding", matlab_property="Padding",
                               where=where)
        return mode, None
    values = [int(v) for v in np.ravel(padding)]
    if any(v < 0 for v in values):
        raise ValueError(f"{where}: padding (MATLAB 'Padding') must be non-negative; received "
                         f"{padding!r}.")
    if len(values) == 1:
        pads = [(values[0], values[0])] * spatial
    elif spatial == 1 and len(values) == 2:
        pads = [(values[0], values[1])]
    elif spatial == 2 and len(values) == 2:
        pads = [(values[0], values[0]), (values[1], values[1])]
    elif spatial == 2 and len(values) == 4:
        pads = [(values[0], values[1]), (values[2], values[3])]
    else:
        raise ValueError(f"{where}: padding (MATLAB 'Padding') {padding!r} does not fit a "
                         f"{spatial}-D layer.")
    return "valid", pads


def same_padding(inputs, kernel, strides, dilations=None):
    """MATLAB's 'same' padding of the spatial axes of ``(leading..., spatial..., channels)``
    `inputs` (as many spatial axes as `kernel` has sizes): ``[(before, after)]`` per axis, the
    output ceil(n/stride) long and the odd element after. Plain ints where the size is known
    when tracing, tensors where it is not."""
    pads = []
    dilations = dilations or (1,) * len(kernel)
    first = len(inputs.shape) - 1 - len(kernel)
    for axis, (k, s, d) in enumerate(zip(kernel, strides, dilations, strict=True), start=first):
        n = inputs.shape[axis]
        if n is None:
            n = ops.shape(inputs)[axis]
            total = ops.maximum((-(-n // s) - 1) * s + (k - 1) * d + 1 - n, 0)
        else:
            total = max((-(-n // s) - 1) * s + (k - 1) * d + 1 - n, 0)
        pads.append((total // 2, total - total // 2))
    return pads


def pad(inputs, pads, value, leading_axes):
    """Pads the spatial axes of ``(leading..., spatial..., channels)`` inputs."""
    if pads is None or all(isinstance(b, int) and isinstance(a, int) and b == a == 0
                           for b, a in pads):
        return inputs
    widths = [(0, 0)] * leading_axes + list(pads) + [(0, 0)]
    if value == "replicate":
        return _replicate(inputs, widths)
    if value == "symmetric-include-edge" and keras.backend.backend() != "tensorflow":
        return _mirror(inputs, widths)
    if isinstance(value, str):
        return ops.pad(inputs, widths, mode=PADDING_VALUES[value])
    return ops.pad(inputs, widths, constant_values=float(value))


def _mirror(inputs, widths):
    """numpy's ``pad(mode="symmetric")`` (the edge included), by slices: Keras's
    ``ops.pad(mode="symmetric")`` gives other values on the PyTorch backend (measured with
    Keras 3.15: off by up to 3 on a 4 x 3 ramp), so the other backends pad this way."""
    for axis, (before, after) in enumerate(widths):
        if isinstance(before, int) and isinstance(after, int) and before == after == 0:
            continue
        size = inputs.shape[axis]
        if size is None or before > size or after > size:
            raise ValueError(f"symmetric padding of {before} and {after} on an axis of size "
                             f"{size}: at most the axis's size on the {keras.backend.backend()} "
                             "backend (MATLAB pads at most that much too).")
        part = [slice(None)] * len(inputs.shape)
        pieces = []
        if before:
            part[axis] = slice(0, before)
            pieces.append(ops.flip(inputs[tuple(part)], axis=axis))
        pieces.append(inputs)
        if after:
            part[axis] = slice(size - after, size)
            pieces.append(ops.flip(inputs[tuple(part)], axis=axis))
        inputs = ops.concatenate(pieces, axis=axis)
    return inputs


def _replicate(inputs, widths):
    """numpy's ``pad(mode="edge")``: the first and last element of each axis repeated."""
    for axis, (before, after) in enumerate(widths):
        if isinstance(before, int) and isinstance(after, int) and before == after == 0:
            continue
        edge = [slice(None)] * len(inputs.shape)
        edge[axis] = slice(0, 1)
        first = inputs[tuple(edge)]
        edge[axis] = slice(-1, None)
        last = inputs[tuple(edge)]
        inputs = ops.concatenate([ops.repeat(first, before, axis=axis), inputs,
                                  ops.repeat(last, after, axis=axis)], axis=axis)
    return inputs


class _MatlabConv(MatlabMapping, LearnRateFactorsMixin, MatlabL2Mixin):
    """MATLAB options around a Keras convolution: explicit padding, padding values, L2."""

    _SPATIAL = 1
    _KERAS = None

    def __init__(self, filter_size, num_filters, stride=1, dilation_factor=1, padding=0,
                 padding_value=0.0, weights_initializer="glorot", bias_initializer="zeros",
                 weights_l2_factor=1.0, bias_l2_factor=0.0,
                 l2_regularization=DEFAULT_L2_REGULARIZATION, weights=None, bias=None,
                 **kwargs):
        where = _options.layer_label(type(self).__name__, kwargs.get("name"))
        mode, pads = explicit_padding(padding, self._SPATIAL, where)
        if not (isinstance(padding_value, numbers.Real) or padding_value in PADDING_VALUES):
            raise ValueError(f"{where}: padding_value (MATLAB 'PaddingValue') must be a number "
                             f"or one of {sorted(PADDING_VALUES)}; received {padding_value!r}.")
        inits = {
            name: initializers.get(value, allowed=allowed, argument=name, matlab_property=prop,
                                   where=where, transpose=False)
            for name, prop, value, allowed in (
                ("weights_initializer", "WeightsInitializer", weights_initializer,
                 initializers.WEIGHT_INITIALIZERS),
                ("bias_initializer", "BiasInitializer", bias_initializer,
                 initializers.GRU_BIAS_INITIALIZERS))
        }
        self._matlab = {
            "filter_size": filter_size, "num_filters": num_filters, "stride": stride,
            "dilation_factor": dilation_factor, "padding": padding,
            "padding_value": padding_value, "weights_initializer": weights_initializer,
            "bias_initializer": bias_initializer,
            "weights_l2_factor": _options.factor(weights_l2_factor, blocks=1,
                                                 argument="weights_l2_factor",
                                                 matlab_property="WeightsL2Factor", where=where),
            "bias_l2_factor": _options.factor(bias_l2_factor, blocks=1,
                                              argument="bias_l2_factor",
                                              matlab_property="BiasL2Factor", where=where),
            "l2_regularization": check_l2_regularization(l2_regularization, where),
        }
        for key in ("filters", "kernel_size", "strides", "dilation_rate", "padding",
                    "kernel_initializer", "bias_initializer"):
            kwargs.pop(key, None)
        self._take_learn_rate_factors(kwargs, where)
        strides = tuple(np.broadcast_to(np.ravel(stride), (self._SPATIAL,)).astype(int))
        dilations = np.broadcast_to(np.ravel(dilation_factor), (self._SPATIAL,)).astype(int)
        # Keras convolutions cannot stride and dilate at once; MATLAB's can: then the layer pads
        # as MATLAB would for that stride, convolves at stride 1 and keeps every stride-th output.
        self._subsample = strides if (max(strides) > 1 and max(dilations) > 1) else None
        self._strides_same = strides
        if self._subsample is not None:
            stride = 1
            if mode == "same":
                mode, pads = "valid", "same"
        elif mode == "same" and padding_value != 0:  # Keras's 'same' pads zeros
            mode, pads = "valid", "same"
        super().__init__(
            filters=_options.positive_int(num_filters, argument="num_filters",
                                          matlab_property="NumFilters", where=where),
            kernel_size=filter_size, strides=stride, dilation_rate=dilation_factor,
            padding=mode, kernel_initializer=inits["weights_initializer"],
            bias_initializer=inits["bias_initializer"], **kwargs)
        self._pads = pads
        self._l2_regularization = self._matlab["l2_regularization"]
        self._explicit = (weights, bias)

    def build(self, input_shape):
        shape = list(input_shape)
        if self._pads == "same":
            shape[-1 - self._SPATIAL:-1] = [None] * self._SPATIAL
        elif self._pads is not None:
            for axis, (before, after) in enumerate(self._pads, start=len(shape) - 1 -
                                                    self._SPATIAL):
                if shape[axis] is not None:
                    shape[axis] += before + after
        own = self.kernel_initializer, self.bias_initializer
        self.kernel_initializer, self.bias_initializer = (
            initializer_unless_given(init, value) for init, value in zip(own, self._explicit,
                                                                          strict=True))
        try:
            super().build(tuple(shape))
        finally:
            self.kernel_initializer, self.bias_initializer = own
        self._attach_l2()
        self.set_matlab_weights(*self._explicit)

    def _l2_targets(self):
        return ((self.kernel, self._matlab["weights_l2_factor"], -1),
                (self.bias, self._matlab["bias_l2_factor"], -1))

    def call(self, inputs):
        leading = len(inputs.shape) - 1 - self._SPATIAL
        pads = (same_padding(inputs, self.kernel_size, self._strides_same, self.dilation_rate)
                if self._pads == "same" else self._pads)
        outputs = super().call(pad(inputs, pads, self._matlab["padding_value"], leading))
        if self._subsample is not None:
            index = (slice(None),) * leading + tuple(slice(None, None, s)
                                                     for s in self._subsample)
            outputs = outputs[index]
        return outputs

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        spatial = range(len(shape) - 1 - self._SPATIAL, len(shape) - 1)
        if self._pads == "same":
            out = list(super().compute_output_shape(tuple(shape)))
            for axis, s in zip(spatial, self._strides_same, strict=True):
                out[axis] = None if shape[axis] is None else -(-shape[axis] // s)
            return tuple(out)
        if self._pads is not None:
            for axis, (before, after) in zip(spatial, self._pads, strict=True):
                if shape[axis] is not None:
                    shape[axis] += before + after
        out = list(super().compute_output_shape(tuple(shape)))
        if self._subsample is not None:
            for axis, s in zip(spatial, self._subsample, strict=True):
                out[axis] = None if out[axis] is None else -(-out[axis] // s)
        return tuple(out)

    MATLAB_PROPERTIES = (("Weights", "weights", "matlab_weights", "learnable"),
                         ("Bias", "bias", "matlab_bias", "learnable"))

    @property
    def matlab_weights(self):
        """MATLAB ``Weights``: (FilterSize, NumChannels, NumFilters) in 1-D, (h, w, C, F) in 2-D
        (the Keras kernel layout, unchanged)."""
        return ops.convert_to_numpy(self.kernel)

    @property
    def matlab_bias(self):
        """MATLAB ``Bias``, NumFilters values (a numpy copy; ``bias`` is Keras's variable)."""
        return ops.convert_to_numpy(self.bias)

    def set_matlab_weights(self, weights=None, bias=None):
        """Sets ``Weights`` (Keras's kernel layout) and ``Bias`` (NumFilters values)."""
        if weights is not None:
            weights = np.asarray(weights, dtype="float64")
            if tuple(weights.shape) != tuple(self.kernel.shape):
                raise ValueError(f"{self.name}: Weights has shape {weights.shape}; expected "
                                 f"{tuple(self.kernel.shape)}.")
            self.kernel.assign(weights)
        if bias is not None:
            self.bias.assign(np.ravel(bias))

    def get_config(self):
        config = super().get_config()
        for key in ("filters", "kernel_size", "strides", "dilation_rate", "padding",
                    "kernel_initializer", "bias_initializer", "groups", "activation",
                    "use_bias", "data_format", "kernel_regularizer", "bias_regularizer",
                    "activity_regularizer", "kernel_constraint", "bias_constraint"):
            config.pop(key, None)
        matlab = dict(self._matlab)
        for key in ("weights_initializer", "bias_initializer"):
            matlab[key] = initializers.serialize(matlab[key])
        for key in ("padding", "filter_size", "stride", "dilation_factor"):
            value = matlab[key]
            matlab[key] = value if isinstance(value, (str, numbers.Number)) else list(
                np.ravel(value).tolist())
        return {**config, **matlab, **self._learn_rate_config()}

    def _learn_rate_parameters(self):
        return {"weights": ("Weights", "kernel", False), "bias": ("Bias", "bias", False)}


@keras.saving.register_keras_serializable(package="matkeras")
class Conv1D(_MatlabConv, keras.layers.Conv1D):
    """MATLAB's ``convolution1dLayer(filterSize, numFilters)`` over the time axis.

    A cross-correlation as MATLAB's (no kernel flip). ``Weights`` (FilterSize, NumChannels,
    NumFilters) is the Keras kernel as it is.

    Args:
        filter_size: ``FilterSize``. num_filters: ``NumFilters``.
        stride: ``Stride`` (1). dilation_factor: ``DilationFactor`` (1).
        padding: ``Padding``: 0 (valid, default), ``"same"`` (output ceil(T/stride), the odd
            element on the right), ``"causal"`` (left (k-1)*d), p, or ``(left, right)``.
        padding_value: ``PaddingValue`` (0), a number, ``"symmetric-include-edge"`` or
            ``"symmetric-exclude-edge"`` (explicit padding only).
        weights_initializer (``"glorot"``: numIn = FilterSize*NumChannels, numOut =
            FilterSize*NumFilters), bias_initializer (``"zeros"``), weights_l2_factor (1),
            bias_l2_factor (0), l2_regularization (1e-4): as MATLAB.
        weights, bias: explicit ``Weights`` and ``Bias``.

    Input shape: ``(batch, time, channels)``. Output shape: ``(batch, new_time, NumFilters)``.
    """

    MATLAB_CLASS = "nnet.cnn.layer.Convolution1DLayer"

    _SPATIAL = 1


@keras.saving.register_keras_serializable(package="matkeras")
class Conv2D(_MatlabConv, keras.layers.Conv2D):
    """MATLAB's ``convolution2dLayer(filterSize, numFilters)`` on images ``(batch, h, w, c)``.

    Same options as :class:`Conv1D`, with 2-D sizes; ``padding`` p, ``(h, w)`` or ``(top,
    bottom, left, right)``. ``Weights`` (h, w, NumChannels, NumFilters) is the Keras kernel.
    """

    _SPATIAL = 2
    MATLAB_CLASS = "nnet.cnn.layer.Convolution2DLayer"


@keras.saving.register_keras_serializable(package="matkeras")
class GroupedConv2D(_MatlabConv, keras.layers.Conv2D):
    """MATLAB's ``groupedConvolution2dLayer(filterSize, numFiltersPerGroup, numGroups)``.

    The input channels split into ``NumGroups`` consecutive groups of ``NumChannelsPerGroup``;
    group g is convolved (a cross-correlation) with its own ``NumFiltersPerGroup`` filters, and
    the outputs come group after group: output channel ``f + NumFiltersPerGroup * g``
    (0-based). ``numGroups="channel-wise"`` makes one group per input channel (depthwise
    convolution; set when the layer is built). Padding, stride and dilation as
    :class:`Conv2D`.

    Args:
        filter_size: ``FilterSize``, an int or ``(h, w)``.
        num_filters_per_group: ``NumFiltersPerGroup``.
        num_groups: ``NumGroups``, an int or ``"channel-wise"``.
        stride, dilation_factor, padding, padding_value, initializers, factors: as
            :class:`Conv2D`.
        weights: ``Weights`` (h, w, NumChannelsPerGroup, NumFiltersPerGroup, NumGroups).
        bias: ``Bias`` (1, 1, NumFiltersPerGroup, NumGroups), or its values in that order.

    Input shape: ``(batch, h, w, NumGroups * NumChannelsPerGroup)``. Output shape: ``(batch,
    new_h, new_w, NumGroups * NumFiltersPerGroup)``.

    The Keras kernel is ``(h, w, NumChannelsPerGroup, NumGroups * NumFiltersPerGroup)``
    (``keras.layers.Conv2D`` with ``groups``); one channel per group runs as a depthwise
    convolution.
    """

    _SPATIAL = 2
    MATLAB_CLASS = "nnet.cnn.layer.GroupedConvolution2DLayer"

    def __init__(self, filter_size, num_filters_per_group, num_groups, stride=1,
                 dilation_factor=1, padding=0, padding_value=0.0, weights=None, bias=None,
                 **kwargs):
        where = _options.layer_label("GroupedConv2D", kwargs.get("name"))
        per_group = _options.positive_int(num_filters_per_group, argument="num_filters_per_group",
                                          matlab_property="NumFiltersPerGroup", where=where)
        if isinstance(num_groups, str):
            num_groups = _options.choose(num_groups, ("channel-wise",), argument="num_groups",
                                         matlab_property="NumGroups", where=where)
            groups = 1
        else:
            groups = num_groups = _options.positive_int(
                num_groups, argument="num_groups", matlab_property="NumGroups", where=where)
        kwargs.pop("groups", None)
        self.num_filters_per_group, self.num_groups = per_group, num_groups
        super().__init__(filter_size, per_group * groups, stride=stride,
                         dilation_factor=dilation_factor, padding=padding,
                         padding_value=padding_value, weights=weights, bias=bias,
                         groups=groups, **kwargs)

    def build(self, input_shape):
        channels = input_shape[-1]
        groups = channels if self.num_groups == "channel-wise" else self.num_groups
        if channels is None or channels % groups:
            raise ValueError(f"{self.name}: the input has {channels} channels, which do not "
                             f"split into NumGroups = {groups} groups.")
        self.groups, self.filters = int(groups), int(groups) * self.num_filters_per_group
        super().build(input_shape)

    def convolution_op(self, inputs, kernel):
        if kernel.shape[-2] == 1 and self.groups > 1:  # one channel per group: depthwise
            kernel = ops.reshape(kernel, (*kernel.shape[:2], self.groups,
                                          self.num_filters_per_group))
            return ops.depthwise_conv(inputs, kernel, strides=self.strides,
                                      padding=self.padding, dilation_rate=self.dilation_rate)
        return super().convolution_op(inputs, kernel)

    @property
    def matlab_weights(self):
        """MATLAB ``Weights`` (h, w, NumChannelsPerGroup, NumFiltersPerGroup, NumGroups)."""
        kernel = ops.convert_to_numpy(self.kernel)
        return kernel.reshape((*kernel.shape[:3], self.num_filters_per_group, self.groups),
                              order="F")

    @property
    def matlab_bias(self):
        """MATLAB ``Bias`` (1, 1, NumFiltersPerGroup, NumGroups)."""
        return ops.convert_to_numpy(self.bias).reshape(
            (1, 1, self.num_filters_per_group, self.groups), order="F")

    def set_matlab_weights(self, weights=None, bias=None):
        """Sets ``Weights`` (h, w, NumChannelsPerGroup, NumFiltersPerGroup, NumGroups) and
        ``Bias`` ((1, 1, NumFiltersPerGroup, NumGroups) or its values group after group)."""
        if weights is not None:
            weights = np.asarray(weights, dtype="float64")
            expected = (*self.kernel.shape[:3], self.num_filters_per_group, self.groups)
            if weights.ndim == 4 and weights.shape[:3] == expected[:3] and \
                    weights.size == np.prod(expected):
                # saved as (h, w, NumChannelsPerGroup, NumFiltersPerGroup * NumGroups), filters
                # fastest (MATLAB's files with one filter per group, or a dropped NumGroups 1)
                weights = weights.reshape(expected, order="F")
            if tuple(weights.shape) != tuple(expected):
                raise ValueError(f"{self.name}: Weights has shape {weights.shape}; expected "
                                 f"(h, w, NumChannelsPerGroup, NumFiltersPerGroup, NumGroups) "
                                 f"= {tuple(expected)}.")
            self.kernel.assign(weights.reshape(tuple(self.kernel.shape), order="F"))
        if bias is not None:
            bias = np.asarray(bias, dtype="float64")
            if bias.size != self.filters:
                raise ValueError(f"{self.name}: Bias has {bias.size} values; expected "
                                 f"NumFiltersPerGroup * NumGroups = {self.filters}.")
            self.bias.assign(bias.reshape(-1, order="F") if bias.ndim == 4 else np.ravel(bias))

    def get_config(self):
        config = super().get_config()
        config.pop("num_filters", None)
        return {**config, "num_filters_per_group": self.num_filters_per_group,
                "num_groups": self.num_groups}
