"""MATLAB's positionEmbeddingLayer, sinusoidalPositionEncodingLayer and
embeddingConcatenationLayer: what transformer networks add to or put before a sequence."""

import keras
import numpy as np
from keras import ops

from matkeras.layers import _masks, _options, initializers
from matkeras.layers._learn_rates import LearnRateFactorsMixin
from matkeras.layers._matlab import MatlabMapping
from matkeras.layers.regularizers import (
    DEFAULT_L2_REGULARIZATION,
    MatlabL2Mixin,
    check_l2_regularization,
)
from matkeras.ops.precision import cos, sin

POSITION_DIMENSIONS = ("auto", "temporal", "spatial")
POSITIONS = ("auto", "temporal-indices", "spatial-indices", "data-values")


def _sequence_shape(input_shape, where):
    if len(input_shape) != 3:
        raise ValueError(f"{where}: expected input of shape (batch, time, channels) (or "
                         f"(batch, space, channels) for 1-D images); received "
                         f"{tuple(input_shape)}.")


class _OneLearnable(MatlabMapping, LearnRateFactorsMixin, MatlabL2Mixin, keras.layers.Layer):
    """A layer whose only learnable is MATLAB's ``Weights`` (a Keras variable ``embeddings``)."""

    MATLAB_PROPERTIES = (("Weights", "weights", "matlab_weights", "learnable"),)

    _LAYER = ""

    def _init_weights(self, weights_initializer, weights_l2_factor, l2_regularization, weights,
                      kwargs):
        where = _options.layer_label(self._LAYER, kwargs.get("name"))
        self._checked_init = initializers.get(
            weights_initializer, allowed=initializers.WEIGHT_INITIALIZERS,
            argument="weights_initializer", matlab_property="WeightsInitializer", where=where)
        factor = _options.factor(weights_l2_factor, blocks=1, argument="weights_l2_factor",
                                 matlab_property="WeightL2Factor", where=where)
        l2 = check_l2_regularization(l2_regularization, where)
        self._take_learn_rate_factors(kwargs, where)
        return where, factor, l2

    def _finish_init(self, where, factor, l2, weights_initializer, weights):
        self._where = where
        self.weights_l2_factor = factor
        self.weights_initializer = weights_initializer
        self._l2_regularization = l2
        self._explicit = weights

    def _learn_rate_parameters(self):
        return {"weights": ("Weight", "embeddings", False)}

    def _l2_targets(self):
        return ((self.embeddings, self.weights_l2_factor, -1),)

    def _weights_config(self):
        return {"weights_initializer": initializers.serialize(self.weights_initializer),
                "weights_l2_factor": self.weights_l2_factor,
                "l2_regularization": self._l2_regularization, **self._learn_rate_config()}

    def _add_embeddings(self, shape):
        self.embeddings = self.add_weight(shape=shape, name="embeddings",
                                          initializer=self._checked_init)
        self.built = True
        self._attach_l2()
        if self._explicit is not None:
            self.set_matlab_weights(self._explicit)

    @property
    def matlab_weights(self):
        """MATLAB ``Weights`` (a numpy copy, MATLAB layout)."""
        if not self.built:
            raise ValueError(f"{self._where}: Weights is not set yet: call the layer on data or "
                             "use set_matlab_weights().")
        return self._to_matlab(ops.convert_to_numpy(self.embeddings))

    @matlab_weights.setter
    def matlab_weights(self, value):
        self.set_matlab_weights(value)


@keras.saving.register_keras_serializable(package="matkeras")
class PositionEmbedding(_OneLearnable):
    """Learned position embedding: MATLAB's ``positionEmbeddingLayer(outputSize, maxPosition)``.

    The output at time step t (1-based) is column t of ``Weights`` (OutputSize-by-MaxPosition),
    the same for every observation: the layer maps positions, not values, so networks add it to
    the input (``additionLayer``). A sequence longer than ``MaxPosition`` is an error, as in
    MATLAB. Padded steps get their position's column like data (MATLAB has no mask here).

    Args:
        output_size: ``OutputSize``. max_position: ``MaxPosition``.
        position_dimension: ``PositionDimension``: ``"auto"``, ``"temporal"`` or ``"spatial"``
            (all embed axis 1 of a (batch, time|space, C) input).
        weights_initializer: ``WeightsInitializer`` (``"narrow-normal"``).
        weights_l2_factor: ``WeightL2Factor`` (1). l2_regularization: global lambda (1e-4).
        weights: explicit ``Weights`` (OutputSize, MaxPosition).
        **kwargs: Keras layer arguments and ``weights_learn_rate_factor``
            (``WeightLearnRateFactor``).

    Input shape: ``(batch, time, C)``, time <= MaxPosition. Output shape:
    ``(batch, time, OutputSize)``.

    Example:

    >>> import numpy as np
    >>> from matkeras.layers import PositionEmbedding
    >>> layer = PositionEmbedding(3, 64)
    >>> layer(np.zeros((2, 30, 3), "float32")).shape
    TensorShape([2, 30, 3])
    >>> layer.matlab_weights.shape
    (3, 64)
    """

    _LAYER = "PositionEmbedding"
    MATLAB_CLASS = "nnet.cnn.layer.PositionEmbeddingLayer"
    #: A call checks the sequence length against MaxPosition (``matkeras._forward`` runs that
    #: check before a compiled call).
    checks_length = True

    def __init__(self, output_size, max_position, position_dimension="auto",
                 weights_initializer="narrow-normal", weights_l2_factor=1.0,
                 l2_regularization=DEFAULT_L2_REGULARIZATION, weights=None, **kwargs):
        where, factor, l2 = self._init_weights(weights_initializer, weights_l2_factor,
                                               l2_regularization, weights, kwargs)
        output_size = _options.positive_int(output_size, argument="output_size",
                                            matlab_property="OutputSize", where=where)
        max_position = _options.positive_int(max_position, argument="max_position",
                                             matlab_property="MaxPosition", where=where)
        dimension = _options.choose(position_dimension, POSITION_DIMENSIONS,
                                    argument="position_dimension",
                                    matlab_property="PositionDimension", where=where)
        super().__init__(**kwargs)
        self._finish_init(where, factor, l2, weights_initializer, weights)
        self.output_size, self.max_position = output_size, max_position
        self.position_dimension = dimension

    def build(self, input_shape):
        _sequence_shape(input_shape, self._where)
        self._add_embeddings((self.max_position, self.output_size))

    @staticmethod
    def _to_matlab(value):
        return value.T

    def set_matlab_weights(self, weights):
        """Sets ``Weights`` (OutputSize, MaxPosition)."""
        value = _options.matlab_array(weights, (self.output_size, self.max_position),
                                      matlab_property="Weights",
                                      shape_text="(OutputSize, MaxPosition)", where=self._where)
        if not self.built:
            self.build((None, None, None))
        self.embeddings.assign(value.T)

    def call(self, inputs):
        steps = _masks.static_length(inputs)
        message = (f"{self._where}: the input has {{}} time steps but MaxPosition is "
                   f"{self.max_position}; MATLAB's positionEmbeddingLayer does not embed "
                   "positions beyond MaxPosition. Shorten the sequences (trainingOptions "
                   "SequenceLength) or use a larger maxPosition.")
        if steps is not None:
            if steps > self.max_position:
                raise ValueError(message.format(steps))
        else:
            steps = ops.shape(inputs)[1]
            steps = _masks.runtime_check(steps <= self.max_position, message.format("more"),
                                         steps)
        table = ops.cast(self.embeddings, inputs.dtype)[:steps]
        return ops.broadcast_to(table[None], (ops.shape(inputs)[0], steps, self.output_size))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[1], self.output_size)

    def get_config(self):
        return {**super().get_config(), "output_size": self.output_size,
                "max_position": self.max_position,
                "position_dimension": self.position_dimension, **self._weights_config()}


@keras.saving.register_keras_serializable(package="matkeras")
class SinusoidalPositionEncoding(keras.layers.Layer):
    """Fixed sinusoidal position encoding: MATLAB's ``sinusoidalPositionEncodingLayer``.

    For position p and k = 1 .. OutputSize/2 (MATLAB's 1-based channel numbers)::

        channel 2k-1 = sin(p / 10000^(2(k-1)/OutputSize))
        channel 2k   = cos(p / 10000^(2(k-1)/OutputSize))

    (sine and cosine interleaved, as in "Attention Is All You Need"). With ``"temporal-indices"``
    (``"auto"`` for sequences) p is the 1-based time step index, the same for every observation;
    with ``"data-values"`` p is the input's value (one channel). UNCONFIRMED against a running
    MATLAB: the interleaving and the 1-based positions follow MATLAB's wording ("use the
    temporal indices of the input as positions"), see docs/transformer-layers.md.

    Args:
        output_size: ``OutputSize``, an even positive integer.
        positions: ``Positions``: ``"auto"``, ``"temporal-indices"``, ``"spatial-indices"`` or
            ``"data-values"``.
        **kwargs: Keras layer arguments.

    Input shape: ``(batch, time, C)`` (``"data-values"``: ``(batch, 1)`` or
    ``(batch, time, 1)``). Output shape: ``(batch, time, OutputSize)`` (``(batch,
    OutputSize)`` for ``(batch, 1)``).
    """

    MATLAB_CLASS = "nnet.cnn.layer.SinusoidalPositionEncodingLayer"

    def __init__(self, output_size, positions="auto", **kwargs):
        where = _options.layer_label("SinusoidalPositionEncoding", kwargs.get("name"))
        output_size = _options.positive_int(output_size, argument="output_size",
                                            matlab_property="OutputSize", where=where)
        if output_size % 2:
            raise ValueError(f"{where}: output_size (MATLAB 'OutputSize') must be even; "
                             f"received {output_size}.")
        positions = _options.choose(positions, POSITIONS, argument="positions",
                                    matlab_property="Positions", where=where)
        super().__init__(**kwargs)
        self._where = where
        self.output_size, self.positions = output_size, positions

    def build(self, input_shape):
        if self.positions == "data-values":
            if input_shape[-1] != 1 or len(input_shape) not in (2, 3):
                raise ValueError(f"{self._where}: Positions 'data-values' takes one channel, "
                                 f"(batch, 1) or (batch, time, 1); received "
                                 f"{tuple(input_shape)}.")
        else:
            _sequence_shape(input_shape, self._where)
        self.built = True

    def call(self, inputs):
        dtype = inputs.dtype
        if self.positions == "data-values":
            p = inputs
        else:
            steps = ops.shape(inputs)[1]
            p = ops.cast(ops.arange(1, steps + 1), dtype)[None, :, None]
        half = np.arange(self.output_size // 2, dtype="float64")
        rates = ops.convert_to_tensor(10000.0 ** (-2.0 * half / self.output_size), dtype)
        angle = p * rates  # (..., d/2)
        pairs = ops.stack([sin(angle), cos(angle)], axis=-1)  # (..., d/2, 2)
        encoded = ops.reshape(pairs, (*ops.shape(angle)[:-1], self.output_size))
        if self.positions != "data-values":
            encoded = ops.broadcast_to(encoded, (ops.shape(inputs)[0], steps, self.output_size))
        return encoded

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.output_size)

    def get_config(self):
        return {**super().get_config(), "output_size": self.output_size,
                "positions": self.positions}


@keras.saving.register_keras_serializable(package="matkeras")
class EmbeddingConcatenation(_OneLearnable):
    """A learned vector prepended along time: MATLAB's ``embeddingConcatenationLayer``.

    ``Y = [w, X]``: the output has one more time step than the input, the first being
    ``Weights`` (C-by-1, e.g. a class token), the same for every observation.

    Args:
        weights_initializer: ``WeightsInitializer`` (``"narrow-normal"``).
        weights_l2_factor: ``WeightL2Factor`` (1). l2_regularization: global lambda (1e-4).
        weights: explicit ``Weights`` (C,) or (C, 1).
        **kwargs: Keras layer arguments and ``weights_learn_rate_factor``.

    Input shape: ``(batch, time, C)``. Output shape: ``(batch, time + 1, C)``.
    """

    _LAYER = "EmbeddingConcatenation"
    MATLAB_CLASS = "nnet.cnn.layer.EmbeddingConcatenationLayer"

    def __init__(self, weights_initializer="narrow-normal", weights_l2_factor=1.0,
                 l2_regularization=DEFAULT_L2_REGULARIZATION, weights=None, **kwargs):
        where, factor, l2 = self._init_weights(weights_initializer, weights_l2_factor,
                                               l2_regularization, weights, kwargs)
        super().__init__(**kwargs)
        self._finish_init(where, factor, l2, weights_initializer, weights)

    def build(self, input_shape):
        _sequence_shape(input_shape, self._where)
        if input_shape[-1] is None:
            raise ValueError(f"{self._where}: the number of channels must be known.")
        self.input_size = int(input_shape[-1])
        self._add_embeddings((self.input_size,))

    @staticmethod
    def _to_matlab(value):
        return value[:, None]

    def set_matlab_weights(self, weights):
        """Sets ``Weights`` (C, 1) (or (C,))."""
        if not self.built:
            self.build((None, None, int(np.size(weights))))
        value = _options.matlab_array(np.ravel(weights) if np.ndim(weights) == 2 else weights,
                                      (self.input_size,), matlab_property="Weights",
                                      shape_text="(NumChannels, 1)", where=self._where)
        self.embeddings.assign(value)

    def call(self, inputs):
        first = ops.broadcast_to(ops.cast(self.embeddings, inputs.dtype)[None, None],
                                 (ops.shape(inputs)[0], 1, self.input_size))
        return ops.concatenate([first, inputs], axis=1)

    def compute_output_shape(self, input_shape):
        steps = None if input_shape[1] is None else input_shape[1] + 1
        return (input_shape[0], steps, input_shape[2])

    def get_config(self):
        return {**super().get_config(), **self._weights_config()}
