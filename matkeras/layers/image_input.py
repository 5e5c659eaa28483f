"""MATLAB's imageInputLayer: 2-D images (no time axis) and their input normalization."""

import warnings

import keras
import numpy as np

from matkeras.layers import _options
from matkeras.layers._input_normalization import InputNormalization

DIMENSIONS = ("auto", "channel", "element", "all")
#: MATLAB's old DataAugmentation values: applied while training only.
AUGMENTATIONS = ("none", "randcrop", "randfliplr")


@keras.saving.register_keras_serializable(package="matkeras")
class ImageInput(InputNormalization):
    """MATLAB's ``imageInputLayer(inputSize)``: declares an image input and normalizes it.

    Images are ``(batch, h, w, c)`` (MATLAB's h x w x c x N, "SSCB"). The normalization is
    :class:`SequenceInput`'s (the same code)::

        "zerocenter":        y = x - Mean
        "zscore":            y = (x - Mean) / StandardDeviation
        "rescale-symmetric": y = 2 (x - Min) / (Max - Min) - 1
        "rescale-zero-one":  y = (x - Min) / (Max - Min)

    or a callable ``y = f(x)``, with the statistics per channel (1 x 1 x c), per element
    (h x w x c, MATLAB's mean image) or one scalar. MATLAB's default is ``"zerocenter"`` with
    statistics computed by training; here the default is ``"none"`` unless statistics are given,
    as for the other input layers (the converters read MATLAB's saved statistics).
    ``DataAugmentation`` (``"randcrop"``, ``"randfliplr"``, MATLAB's old option) acts while
    training only, so it changes nothing at prediction; it is accepted and not applied (a
    warning says so).

    Args:
        input_size: ``InputSize``: ``(h, w)`` (one channel) or ``(h, w, c)``.
        normalization: ``Normalization`` (``"none"``), one of the names above or a callable.
        normalization_dimension: ``NormalizationDimension``: ``"auto"`` (default: the shape of
            the given statistics, else per channel), ``"channel"``, ``"element"``, ``"all"``.
        mean, standard_deviation, min, max: ``Mean``, ``StandardDeviation``, ``Min``, ``Max``.
        data_augmentation: ``DataAugmentation`` (``"none"``).
        split_complex_inputs: ``SplitComplexInputs`` (false); true is refused.
        **kwargs: Keras layer arguments.

    Input shape: ``(batch, h, w, c)``. Output shape: the same.

    Example:
        >>> layer = ImageInput((98, 32, 1), normalization="zerocenter", mean=-4.6)
        >>> layer(np.zeros((2, 98, 32, 1), "float32")).shape
        TensorShape([2, 98, 32, 1])
    """

    MATLAB_CLASS = "nnet.cnn.layer.ImageInputLayer"

    _LEADING = 1
    _DIMENSIONS = DIMENSIONS

    def __init__(self, input_size, normalization="none", normalization_dimension="auto",
                 mean=None, standard_deviation=None, min=None, max=None,  # noqa: A002
                 data_augmentation="none", **kwargs):
        where = _options.layer_label("ImageInput", kwargs.get("name"))
        size = [int(_options.positive_int(s, argument="input_size", matlab_property="InputSize",
                                          where=where)) for s in np.ravel(input_size)]
        if len(size) == 2:
            size.append(1)
        if len(size) != 3:
            raise ValueError(f"{where}: input_size (MATLAB 'InputSize') must be (h, w) or "
                             f"(h, w, c); received {input_size!r}.")
        augmentations = [data_augmentation] if isinstance(data_augmentation, str) else list(
            data_augmentation)
        for item in augmentations:
            _options.choose(item, AUGMENTATIONS, argument="data_augmentation",
                            matlab_property="DataAugmentation", where=where)
        if any(str(item).lower() != "none" for item in augmentations):
            warnings.warn(f"{where}: DataAugmentation {augmentations} acts while training "
                          "only; matkeras does not apply it (predictions are unchanged). "
                          "Augment the training images yourself.", stacklevel=2)
        super().__init__(tuple(size), normalization, normalization_dimension, mean,
                         standard_deviation, min, max, where=where, **kwargs)
        self.data_augmentation = data_augmentation

    def adapt(self, images, ddof=0):
        """Computes the normalization statistics from training images ``(N, h, w, c)``, as
        MATLAB's training does (over all images; per channel, element or overall)."""
        self._adapt_data(np.asarray(images, dtype="float64"), ddof, "images")

    def get_config(self):
        return {**super().get_config(), "input_size": list(self.input_size),
                "data_augmentation": self.data_augmentation}
