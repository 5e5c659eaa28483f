"""MATLAB's featureInputLayer: feature data (no time axis) and its input normalization."""

import numbers

import keras
import numpy as np

from matkeras.layers import _options
from matkeras.layers._input_normalization import InputNormalization

DIMENSIONS = ("auto", "channel", "all")


@keras.saving.register_keras_serializable(package="matkeras")
class FeatureInput(InputNormalization):
    """MATLAB's ``featureInputLayer``: declares a feature input and normalizes it.

    Feature data have no time axis: one vector of ``InputSize`` numbers per observation (MATLAB's
    "CB" format; N x numFeatures arrays for ``trainnet``/``minibatchpredict``). The
    normalization is :class:`SequenceInput`'s (the same code)::

        "zerocenter":        y = x - Mean
        "zscore":            y = (x - Mean) / StandardDeviation
        "rescale-symmetric": y = 2 (x - Min) / (Max - Min) - 1
        "rescale-zero-one":  y = (x - Min) / (Max - Min)

    or a callable ``y = f(x)``, with the statistics per feature (``"channel"``) or one scalar
    for all (``"all"``). ``adapt(features)`` computes them over all observations, the standard
    deviation dividing by N (MATLAB's N vs N-1 is not confirmed; ``ddof=1`` gives the other).
    A graph builder makes the ``keras.Input`` from ``input_size`` (a one-element tuple).

    Args:
        input_size: ``InputSize`` (the positional ``numFeatures``): a positive int.
        normalization: ``Normalization`` (``"none"``), one of the names above or a callable.
        normalization_dimension: ``NormalizationDimension``: ``"auto"`` (default: the shape of
            the given statistics, else per feature), ``"channel"``, ``"all"``.
        mean, standard_deviation, min, max: ``Mean``, ``StandardDeviation``, ``Min``, ``Max``:
            a scalar or one value per feature (MATLAB stores numFeatures x 1 or 1 x numFeatures).
        split_complex_inputs: ``SplitComplexInputs`` (false); true is refused.
        **kwargs: Keras layer arguments.

    Input shape: ``(batch, input_size)``. Output shape: the same.

    Example:
        >>> layer = FeatureInput(3, normalization="zscore", mean=[1.0, 2.0, 3.0],
        ...                      standard_deviation=2.0)
        >>> layer(np.ones((2, 3), "float32")).shape
        TensorShape([2, 3])
    """

    MATLAB_CLASS = "nnet.cnn.layer.FeatureInputLayer"

    _LEADING = 1
    _DIMENSIONS = DIMENSIONS

    def __init__(self, input_size, normalization="none", normalization_dimension="auto",
                 mean=None, standard_deviation=None, min=None, max=None,  # noqa: A002
                 **kwargs):
        where = _options.layer_label("FeatureInput", kwargs.get("name"))
        size = input_size
        if not isinstance(size, numbers.Integral) and np.size(size) == 1 and \
                np.asarray(size).dtype.kind in "iu":
            size = np.ravel(size)[0]
        size = _options.positive_int(size, argument="input_size", matlab_property="InputSize",
                                     where=where)
        super().__init__((size,), normalization, normalization_dimension, mean,
                         standard_deviation, min, max, where=where, **kwargs)

    def adapt(self, features, layout="BC", ddof=0):
        """Computes the normalization statistics from training features.

        Args:
            features: an ``(N, input_size)`` array (``(input_size, N)`` with ``layout="CB"``).
            layout: ``"BC"`` (observations in rows, MATLAB's ``trainnet`` layout) or ``"CB"``.
            ddof: 0 (population standard deviation, default) or 1.
        """
        layout = _options.choose(layout, ("bc", "cb"), argument="layout",
                                 matlab_property="data format", where=self._where)
        data = np.asarray(features, np.float64)
        if data.ndim != 2:
            raise ValueError(f"{self._where}: adapt() needs a 2-D array of features; received "
                             f"shape {data.shape}.")
        self._adapt_data(data.T if layout == "cb" else data, ddof, what="features")

    def get_config(self):
        return {**super().get_config(), "input_size": self.input_size[0]}
