"""MATLAB's sequenceInputLayer: the input size, input normalization and MinLength."""

import numbers

import keras
import numpy as np

from matkeras.layers import _options
from matkeras.layers._input_normalization import NORMALIZATIONS, InputNormalization

DIMENSIONS = ("auto", "channel", "element", "all")
__all__ = ["DIMENSIONS", "NORMALIZATIONS", "SequenceInput"]


@keras.saving.register_keras_serializable(package="matkeras")
class SequenceInput(InputNormalization):
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
    :func:`matkeras.assemble_network` makes the ``keras.Input`` from ``input_size``. The
    normalization code is shared with :class:`FeatureInput` (``_input_normalization.py``).

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
        split_complex_inputs: ``SplitComplexInputs`` (false); true is refused.
        **kwargs: Keras layer arguments.

    Input shape: ``(batch, time, *input_size)``. Output shape: the same.
    """

    MATLAB_CLASS = "nnet.cnn.layer.SequenceInputLayer"

    _LEADING = 2
    _DIMENSIONS = DIMENSIONS

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
        min_length = _options.positive_int(min_length, argument="min_length",
                                           matlab_property="MinLength", where=where)
        super().__init__(size, normalization, normalization_dimension, mean,
                         standard_deviation, min, max, where=where, **kwargs)
        self.min_length = min_length

    def adapt(self, sequences, layout="TC", ddof=0):
        """Computes the normalization statistics from unpadded training sequences.

        Args:
            sequences: list of ``(T_i, *input_size)`` arrays (``(C, T_i)`` with ``layout="CT"``).
            layout: ``"TC"`` or ``"CT"`` (MATLAB's cells of C x T).
            ddof: 0 (population standard deviation, default) or 1.
        """
        arrays = [np.asarray(s, np.float64) for s in sequences]
        if layout == "CT":
            arrays = [a.T for a in arrays]
        self._adapt_data(np.concatenate(arrays, axis=0), ddof, what="sequences")

    def call(self, inputs):
        self._check_length(inputs)
        return self._normalize(inputs)

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

    def get_config(self):
        return {**super().get_config(),
                "input_size": (list(self.input_size) if len(self.input_size) > 1
                               else self.input_size[0]),
                "min_length": self.min_length}
