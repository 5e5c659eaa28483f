"""The input normalization MATLAB's input layers share (sequenceInputLayer, featureInputLayer).

One base layer keeps the statistics (``Mean``, ``StandardDeviation``, ``Min``, ``Max``) as
non-trainable variables, checks them, computes them from data (``adapt``) and applies MATLAB's
formulas; the input layers add only their input shape (how many leading batch/time axes) and their
own options (``MinLength``).
"""

import keras
import numpy as np
from keras import ops

from matkeras.layers import _options
from matkeras.layers._matlab import MatlabMapping

NORMALIZATIONS = ("none", "zerocenter", "zscore", "rescale-symmetric", "rescale-zero-one")
STATISTICS = {"zerocenter": ("mean",), "zscore": ("mean", "standard_deviation"),
              "rescale-symmetric": ("min", "max"), "rescale-zero-one": ("min", "max"),
              "none": ()}
MATLAB_NAMES = {"mean": "Mean", "standard_deviation": "StandardDeviation", "min": "Min",
                "max": "Max"}


def check_split_complex_inputs(value, where):
    """MATLAB's ``SplitComplexInputs``: only ``false`` (real input) is supported."""
    if isinstance(value, (bool, np.bool_)) or (isinstance(value, (int, float))
                                                and value in (0, 1)):
        if not value:
            return
        raise ValueError(
            f"{where}: SplitComplexInputs = true (complex input split into real and imaginary "
            "channels) is not supported by matkeras; received True. Split the data into real "
            "channels yourself and set SplitComplexInputs to false.")
    raise ValueError(f"{where}: SplitComplexInputs must be true or false; received {value!r}.")


class InputNormalization(MatlabMapping, keras.layers.Layer):
    """Base of the MATLAB input layers: normalization statistics and formulas.

    Subclasses set ``_LEADING`` (the number of leading axes before the input size: 1 for
    ``(batch, C)``, 2 for ``(batch, time, ...)``), ``_DIMENSIONS`` (the allowed
    ``NormalizationDimension`` values) and ``_KIND`` (the name used in errors).
    """

    _LEADING = 1
    _DIMENSIONS = ("auto", "channel", "all")
    _KIND = "Input"

    def __init__(self, input_size, normalization="none", normalization_dimension="auto",
                 mean=None, standard_deviation=None, min=None, max=None,  # noqa: A002
                 *, where, **kwargs):
        if not callable(normalization):
            normalization = _options.choose(normalization, NORMALIZATIONS,
                                            argument="normalization",
                                            matlab_property="Normalization", where=where)
        dimension = _options.choose(normalization_dimension, self._DIMENSIONS,
                                    argument="normalization_dimension",
                                    matlab_property="NormalizationDimension", where=where)
        check_split_complex_inputs(kwargs.pop("split_complex_inputs", False), where)
        super().__init__(**kwargs)
        self._where = where
        self.input_size = tuple(input_size)
        self.normalization = normalization
        self.normalization_dimension = dimension
        given = {"mean": mean, "standard_deviation": standard_deviation, "min": min, "max": max}
        self._given = {k: self._statistic(k, v) for k, v in given.items() if v is not None}
        self._statistic_variables = {}

    @property
    def matlab_output_names(self):
        """MATLAB's ``OutputNames``: ``("out",)``."""
        return ("out",)

    @property
    def _needed(self):
        return () if callable(self.normalization) else STATISTICS[self.normalization]

    def _full_shape(self):
        return (None,) * self._LEADING + self.input_size

    def _shape_text(self):
        leading = ("batch", "time")[:self._LEADING]
        return f"({', '.join([*leading, *map(str, self.input_size)])})"

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
                f"{self._where}: {MATLAB_NAMES[key]} has shape {array.shape}; expected a "
                f"scalar, {channels} values (one per channel) or the input size "
                f"{self.input_size}."
            )
        if not np.all(np.isfinite(array)):
            raise ValueError(f"{self._where}: {MATLAB_NAMES[key]} contains NaN or Inf.")
        if key == "standard_deviation" and np.any(array <= 0):
            raise ValueError(f"{self._where}: StandardDeviation must be positive; a zero "
                             "would divide by zero.")
        return array

    def build(self, input_shape):
        if len(input_shape) != len(self._full_shape()) or \
                tuple(input_shape[self._LEADING:]) != self.input_size:
            raise ValueError(
                f"{self._where}: input has shape {tuple(input_shape)}; expected "
                f"{self._shape_text()} for InputSize {self.input_size}."
            )
        shape = self._statistic_shape()
        for key in self._needed:
            variable = self.add_weight(shape=shape, name=key, initializer="zeros",
                                       trainable=False)
            if key in self._given:
                variable.assign(np.broadcast_to(self._given[key], shape))
            self._statistic_variables[key] = variable
        self.built = True

    def _adapt_data(self, data, ddof, what="data"):
        """Sets the statistics from ``data`` of shape ``(rows, *input_size)``."""
        if not self.built:
            self.build(self._full_shape())
        if data.shape[1:] != self.input_size:
            raise ValueError(f"{self._where}: adapt() got {what} of feature shape "
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
            self.build(self._full_shape())
        for key, value in statistics.items():
            checked = self._statistic(key, value)
            shape = tuple(self._statistic_variables[key].shape)
            if checked.shape != shape and checked.size != int(np.prod(shape)):
                raise ValueError(f"{self._where}: {MATLAB_NAMES[key]} has {checked.size} "
                                 f"values; this layer keeps {shape}.")
            self._statistic_variables[key].assign(np.reshape(checked, shape))
            self._given[key] = np.reshape(checked, shape)

    def _matlab_rows(self):
        def read(key):
            return lambda layer: (layer.statistic(key) if key in layer._statistic_variables
                                  else None)  # not built yet

        return [(MATLAB_NAMES[key], key, read(key), "statistic") for key in self._needed]

    def statistic(self, key):
        """The current ``mean``/``standard_deviation``/``min``/``max`` (numpy)."""
        return ops.convert_to_numpy(self._statistic_variables[key])

    def _normalize(self, inputs):
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

    def call(self, inputs):
        return self._normalize(inputs)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            normalization=(keras.saving.serialize_keras_object(self.normalization)
                           if callable(self.normalization) else self.normalization),
            normalization_dimension=self.normalization_dimension,
        )
        for key in MATLAB_NAMES:
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
