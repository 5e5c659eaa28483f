"""MATLAB's sequenceInputLayer: the input size, input normalization and MinLength."""

import numbers

import keras
import numpy as np
from keras import ops

from matkeras.layers import _options

NORMALIZATIONS = ("none", "zerocenter", "zscore", "rescale-symmetric", "rescale-zero-one")
DIMENSIONS = ("auto", "channel", "element", "all")
_STATISTICS = {"zerocenter": ("mean",), "zscore": ("mean", "standard_deviation"),
               "rescale-symmetric": ("min", "max"), "rescale-zero-one": ("min", "max"),
               "none": ()}
_MATLAB_NAMES = {"mean": "Mean", "standard_deviation": "StandardDeviation", "min": "Min",
                 "max": "Max"}


@keras.saving.register_keras_serializable(package="matkeras")
class SequenceInput(keras.layers.Layer):
    """MATLAB's ``sequenceInputLayer``: declares the input and normalizes it.

    Formulas (per channel, element or overall, as ``normalization_dimension`` says)::

        "zerocenter":        y = x - Mean
        "zscore":            y = (x - Mean) / StandardDeviation
        "rescale-symmetric": y = 2 (x - Min) / (Max - Min) - 1
        "rescale-zero-one":  y = (x - Min) / (Max - Min)

    or a callable ``y = f(x)``. ``adapt(sequences)`` computes the statistics as MATLAB's
    trainNetwork does: over all observations and all time steps (padding is never seen: the
    sequences are given unpadded). The standard deviation is the population one (divide by N);
    whether MATLAB divides by N or N-1 is not confirmed (``adapt(..., ddof=1)`` gives the other).
    :func:`matkeras.assemble_network` makes the ``keras.Input`` from ``input_size``.

    Args:
        input_size: ``InputSize``: an int C (vector sequences), or ``(h, c)``, ``(h, w, c)`` or
            ``(h, w, d, c)`` for image sequences.
        normalization: ``Normalization`` (``"none"``), one of the names above or a callable.
        normalization_dimension: ``NormalizationDimension``: ``"auto"`` (default: the shape of
            the given statistics, else per channel), ``"channel"``, ``"element"``, ``"all"``.
        mean, standard_deviation, min, max: the statistics (``Mean``, ``StandardDeviation``,
            ``Min``, ``Max``): scalars, one value per channel (C x 1 or 1 x 1 x c in MATLAB) or
            one per element (the input size).
        min_length: ``MinLength`` (1): shorter sequences raise an error.
        **kwargs: Keras layer arguments.

    Input shape: ``(batch, time, *input_size)``. Output shape: the same.
    """

    def __init__(self, input_size, normalization="none", normalization_dimension="auto",
                 mean=None, standard_deviation=None, min=None, max=None, min_length=1,  # noqa: A002
                 **kwargs):
        where = _options.layer_label("SequenceInput", kwargs.get("name"))
        size = (input_size,) if isinstance(input_size, numbers.Integral) else input_size
        try:
            size = tuple(int(_options.positive_int(s, argument="input_size",
                                                   matlab_property="InputSize", where=where))
                         for s in np.ravel(size))
        except (TypeError, ValueError) as error:
            raise ValueError(f"{where}: input_size (MATLAB 'InputSize') must be a positive int "
                             f"or (h, w, c); received {input_size!r}. {error}") from None
        if not callable(normalization):
            normalization = _options.choose(normalization, NORMALIZATIONS,
                                            argument="normalization",
                                            matlab_property="Normalization", where=where)
        dimension = _options.choose(normalization_dimension, DIMENSIONS,
                                    argument="normalization_dimension",
                                    matlab_property="NormalizationDimension", where=where)
        super().__init__(**kwargs)
        self._where = where
        self.input_size = size
        self.normalization = normalization
        self.normalization_dimension = dimension
        self.min_length = _options.positive_int(min_length, argument="min_length",
                                                matlab_property="MinLength", where=where)
        given = {"mean": mean, "standard_deviation": standard_deviation, "min": min, "max": max}
        self._given = {k: self._statistic(k, v) for k, v in given.items() if v is not None}
        self._statistic_variables = {}

    @property
    def _needed(self):
        return () if callable(self.normalization) else _STATISTICS[self.normalization]

    def _statistic_shape(self):
        dimension = self.normalization_dimension
        if dimension == "auto":
            shapes = {v.shape for v in self._given.values()}
            return shapes.pop() if len(shapes) == 1 else (self.input_size[-1],)
        return {"channel": (self.input_size[-1],), "element": self.input_size,
                "all": ()}[dimension]

    def _statistic(self, key, value):
        """A user statistic in MATLAB's shape, as a per-channel, per-element or scalar array."""
        array = np.asarray(value, dtype="float64")
        channels = self.input_size[-1]
        elements = int(np.prod(self.input_size))
        if array.size == 1:
            array = array.reshape(())
        elif array.size == channels and (array.ndim <= 1 or max(array.shape) == channels):
            array = array.reshape(channels)
        elif array.size == elements:
            array = array.reshape(self.input_size)
        else:
            raise ValueError(
                f"{self._where}: {_MATLAB_NAMES[key]} has shape {array.shape}; expected a "
                f"scalar, {channels} values (one per channel) or the input size "
                f"{self.input_size}."
            )
        if not np.all(np.isfinite(array)):
            raise ValueError(f"{self._where}: {_MATLAB_NAMES[key]} contains NaN or Inf.")
        if key == "standard_deviation" and np.any(array <= 0):
            raise ValueError(f"{self._where}: StandardDeviation must be positive; a zero "
                             "would divide by zero.")
        return array

    def build(self, input_shape):
        if tuple(input_shape[2:]) != self.input_size:
            raise ValueError(
                f"{self._where}: input has shape {tuple(input_shape)}; expected (batch, time, "
                f"{', '.join(map(str, self.input_size))}) for InputSize {self.input_size}."
            )
        shape = self._statistic_shape()
        for key in self._needed:
            variable = self.add_weight(shape=shape, name=key, initializer="zeros",
                                       trainable=False)
            if key in self._given:
                variable.assign(np.broadcast_to(self._given[key], shape))
            self._statistic_variables[key] = variable
        self.built = True

    def adapt(self, sequences, layout="TC", ddof=0):
        """Computes the normalization statistics from unpadded training sequences.

        Args:
            sequences: list of ``(T_i, *input_size)`` arrays (``(C, T_i)`` with ``layout="CT"``).
            layout: ``"TC"`` or ``"CT"`` (MATLAB's cells of C x T).
            ddof: 0 (population standard deviation, default) or 1.
        """
        if not self.built:
            self.build((None, None, *self.input_size))
        arrays = [np.asarray(s, np.float64) for s in sequences]
        if layout == "CT":
            arrays = [a.T for a in arrays]
        data = np.concatenate(arrays, axis=0)
        if data.shape[1:] != self.input_size:
            raise ValueError(f"{self._where}: adapt() got sequences of feature shape "
                             f"{data.shape[1:]}; expected {self.input_size}.")
        shape = tuple(self._statistic_variables[self._needed[0]].shape) if self._needed else ()
        axes = tuple(range(data.ndim - len(shape)))
        reducers = {"mean": lambda: data.mean(axis=axes),
                    "standard_deviation": lambda: data.std(axis=axes, ddof=ddof),
                    "min": lambda: data.min(axis=axes), "max": lambda: data.max(axis=axes)}
        for key in self._needed:
            value = reducers[key]()
            self._statistic_variables[key].assign(np.reshape(value, shape))
            self._given[key] = np.reshape(value, shape)

    def set_matlab_weights(self, **statistics):
        """Sets ``mean``, ``standard_deviation``, ``min``, ``max`` (MATLAB-shaped arrays)."""
        unknown = sorted(set(statistics) - set(self._needed))
        if unknown:
            raise ValueError(f"{self._where}: normalization {self.normalization!r} has no "
                             f"statistics {unknown}; it uses {list(self._needed)}.")
        if not self.built:
            self.build((None, None, *self.input_size))
        for key, value in statistics.items():
            checked = self._statistic(key, value)
            shape = tuple(self._statistic_variables[key].shape)
            if checked.shape != shape and checked.size != int(np.prod(shape)):
                raise ValueError(f"{self._where}: {_MATLAB_NAMES[key]} has {checked.size} "
                                 f"values; this layer keeps {shape}.")
            self._statistic_variables[key].assign(np.reshape(checked, shape))
            self._given[key] = np.reshape(checked, shape)

    def statistic(self, key):
        """The current ``mean``/``standard_deviation``/``min``/``max`` (numpy)."""
        return ops.convert_to_numpy(self._statistic_variables[key])

    def call(self, inputs):
        self._check_length(inputs)
        if callable(self.normalization):
            return self.normalization(inputs)
        stats = {k: ops.cast(v, inputs.dtype) for k, v in self._statistic_variables.items()}
        kind = self.normalization
        if kind == "zerocenter":
            return inputs - stats["mean"]
        if kind == "zscore":
            return (inputs - stats["mean"]) / stats["standard_deviation"]
        if kind == "rescale-zero-one":
            return (inputs - stats["min"]) / (stats["max"] - stats["min"])
        if kind == "rescale-symmetric":
            return 2.0 * (inputs - stats["min"]) / (stats["max"] - stats["min"]) - 1.0
        return inputs

    def _check_length(self, inputs):
        if self.min_length <= 1:
            return
        length = inputs.shape[1]
        message = (f"{self._where}: sequences have fewer time steps than MinLength = "
                   f"{self.min_length}; pad them or lower min_length.")
        if length is not None:
            if length < self.min_length:
                raise ValueError(f"{message} (received {length})")
            return
        import tensorflow as tf

        tf.debugging.assert_greater_equal(tf.shape(inputs)[1], self.min_length, message=message)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            input_size=list(self.input_size) if len(self.input_size) > 1 else self.input_size[0],
            normalization=(keras.saving.serialize_keras_object(self.normalization)
                           if callable(self.normalization) else self.normalization),
            normalization_dimension=self.normalization_dimension,
            min_length=self.min_length,
        )
        for key in _MATLAB_NAMES:
            value = self._given.get(key)
            config[key] = None if value is None else np.asarray(value).tolist()
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("normalization"), dict):
            config["normalization"] = keras.saving.deserialize_keras_object(
                config["normalization"])
        return cls(**config)
