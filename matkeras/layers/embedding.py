"""MATLAB's wordEmbeddingLayer (Text Analytics Toolbox): 1-based word indices."""

import keras
import numpy as np
from keras import ops

from matkeras.layers import _masks, _options
from matkeras.layers._matlab import MatlabMapping

OOV_MODES = ("map-to-last", "error")


@keras.saving.register_keras_serializable(package="matkeras")
class WordEmbedding(MatlabMapping, keras.layers.Layer):
    """MATLAB's ``wordEmbeddingLayer(dimension, numWords)``.

    Input: 1-based word indices ``(N, T)`` (or ``(N, T, 1)``, MATLAB's one channel). ``Weights``
    is ``(Dimension, NumWords + 1)``: column k is word k, the last column the out-of-vocabulary
    vector. With ``oov_mode="map-to-last"`` (default) index 0 and indices above NumWords map to
    the last column; with ``"error"`` they raise an error.

    Args:
        dimension: ``Dimension``. num_words: ``NumWords``.
        oov_mode: ``OOVMode``: ``"map-to-last"`` or ``"error"``.
        weights: explicit ``Weights`` (Dimension, NumWords) or (Dimension, NumWords + 1); a
            (Dimension, NumWords) keeps the initialized OOV column.
        **kwargs: Keras layer arguments.

    Output shape: ``(N, T, Dimension)``.
    """

    MATLAB_CLASS = "nnet.cnn.layer.WordEmbeddingLayer"
    MATLAB_PROPERTIES = (("Weights", "weights", "matlab_weights", "learnable"),)

    def __init__(self, dimension, num_words, oov_mode="map-to-last", weights=None, **kwargs):
        where = _options.layer_label("WordEmbedding", kwargs.get("name"))
        dimension = _options.positive_int(dimension, argument="dimension",
                                          matlab_property="Dimension", where=where)
        num_words = _options.positive_int(num_words, argument="num_words",
                                          matlab_property="NumWords", where=where)
        oov_mode = _options.choose(oov_mode, OOV_MODES, argument="oov_mode",
                                   matlab_property="OOVMode", where=where)
        super().__init__(**kwargs)
        self._where = where
        self.dimension, self.num_words, self.oov_mode = dimension, num_words, oov_mode
        self._explicit = weights

    def build(self, input_shape):
        limit = np.sqrt(6.0 / (self.num_words + 1 + self.dimension))  # glorot, MATLAB's fans
        self.embeddings = self.add_weight(
            shape=(self.num_words + 1, self.dimension), name="embeddings",
            initializer=keras.initializers.RandomUniform(-limit, limit))
        self.built = True
        if self._explicit is not None:
            self.set_matlab_weights(self._explicit)

    @property
    def matlab_weights(self):
        """MATLAB ``Weights`` (Dimension, NumWords + 1) (a numpy copy)."""
        return ops.convert_to_numpy(self.embeddings).T

    def set_matlab_weights(self, weights):
        """Sets ``Weights``: (Dimension, NumWords + 1), or (Dimension, NumWords) keeping the
        current OOV column."""
        weights = np.asarray(weights, dtype="float64")
        if weights.shape == (self.dimension, self.num_words):
            weights = np.concatenate([weights, self.matlab_weights[:, -1:]], axis=1)
        if weights.shape != (self.dimension, self.num_words + 1):
            raise ValueError(
                f"{self._where}: Weights has shape {weights.shape}; expected (Dimension, "
                f"NumWords + 1) = {(self.dimension, self.num_words + 1)} or (Dimension, "
                "NumWords).")
        self.embeddings.assign(weights.T)

    def call(self, inputs):
        if len(inputs.shape) == 3:
            inputs = inputs[..., 0]
        indices = ops.cast(ops.round(ops.cast(inputs, "float32")), "int32")
        oov = ops.logical_or(indices < 1, indices > self.num_words)
        if self.oov_mode == "error":
            indices = _masks.runtime_check(
                ops.logical_not(ops.any(oov)),
                f"{self._where}: an index is 0 or above NumWords = {self.num_words} (out of "
                "vocabulary) and OOVMode is 'error'; use oov_mode='map-to-last' to map such "
                "words to the last column.", indices)
        indices = ops.where(oov, self.num_words + 1, indices)
        return ops.take(ops.cast(self.embeddings, self.compute_dtype), indices - 1, axis=0)

    @property
    def checks_data(self):
        """OOVMode 'error' checks the words while running (``matkeras._forward`` never runs
        such a model under XLA, which drops the check)."""
        return self.oov_mode == "error"

    def compute_output_shape(self, input_shape):
        shape = input_shape[:-1] if len(input_shape) == 3 else input_shape
        return (*shape, self.dimension)

    def get_config(self):
        return {**super().get_config(), "dimension": self.dimension,
                "num_words": self.num_words, "oov_mode": self.oov_mode}
