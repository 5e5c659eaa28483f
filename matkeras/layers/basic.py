"""MATLAB's fullyConnectedLayer, dropoutLayer, softmaxLayer and the elementwise activation layers
(reluLayer, sigmoidLayer, tanhLayer, geluLayer, swishLayer) as Keras layers."""

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
from matkeras.ops.precision import matmul, minimum, tanh


@keras.saving.register_keras_serializable(package="matkeras")
class FullyConnected(MatlabMapping, LearnRateFactorsMixin, MatlabL2Mixin, keras.layers.Layer):
    """Fully connected layer: MATLAB's ``fullyConnectedLayer(outputSize)``.

    ``y = W x + b`` on the channel axis, at every time step of a sequence (MATLAB's CBT -> CBT).
    On an image ``(batch, h, w, c)`` (or a sequence of images ``(batch, time, h, w, c)``) it
    first flattens ``(h, w, c)`` as MATLAB does (column-major: h fastest, then w, then c), so
    ``Weights`` (OutputSize, h*w*c) trained in MATLAB line up; MATLAB's older 4-D ``Weights``
    (h, w, c, OutputSize) are taken too.

    Args:
        output_size: ``OutputSize``.
        weights_initializer: ``WeightsInitializer`` (``"glorot"``: numIn = InputSize,
            numOut = OutputSize).
        bias_initializer: ``BiasInitializer`` (``"zeros"``).
        weights_l2_factor: ``WeightsL2Factor`` (1). bias_l2_factor: ``BiasL2Factor`` (0).
        l2_regularization: MATLAB's global ``L2Regularization`` (1e-4).
        weights, bias: explicit MATLAB values: ``Weights`` (OutputSize, InputSize), ``Bias``.
        **kwargs: Keras layer arguments.

    Input shape: ``(batch, InputSize)``, ``(batch, time, InputSize)``, ``(batch, h, w, c)`` or
    ``(batch, time, h, w, c)``. Output shape: ``(batch, OutputSize)`` or ``(batch, time,
    OutputSize)``.

    MATLAB layout: ``matlab_weights`` (OutputSize, InputSize) and ``bias`` (numpy); the Keras
    variables are ``kernel`` (InputSize, OutputSize), its rows in Keras's row-major (h, w, c)
    order on images, and ``bias_variable``.
    """

    def __init__(self, output_size, weights_initializer="glorot", bias_initializer="zeros",
                 weights_l2_factor=1.0, bias_l2_factor=0.0,
                 l2_regularization=DEFAULT_L2_REGULARIZATION, weights=None, bias=None, **kwargs):
        where = _options.layer_label("FullyConnected", kwargs.get("name"))
        self._checked = dict(
            output_size=_options.positive_int(output_size, argument="output_size",
                                              matlab_property="OutputSize", where=where),
            weights_l2_factor=_options.factor(weights_l2_factor, blocks=1,
                                              argument="weights_l2_factor",
                                              matlab_property="WeightsL2Factor", where=where),
            bias_l2_factor=_options.factor(bias_l2_factor, blocks=1, argument="bias_l2_factor",
                                           matlab_property="BiasL2Factor", where=where),
        )
        inits = {
            name: initializers.get(value, allowed=allowed, argument=name,
                                   matlab_property=prop, where=where)
            for name, prop, value, allowed in (
                ("weights_initializer", "WeightsInitializer", weights_initializer,
                 initializers.WEIGHT_INITIALIZERS),
                ("bias_initializer", "BiasInitializer", bias_initializer,
                 initializers.GRU_BIAS_INITIALIZERS),
            )
        }
        l2 = check_l2_regularization(l2_regularization, where)
        self._take_learn_rate_factors(kwargs, where)
        super().__init__(**kwargs)
        self._where = where
        self.output_size = self._checked["output_size"]
        self.weights_l2_factor = self._checked["weights_l2_factor"]
        self.bias_l2_factor = self._checked["bias_l2_factor"]
        self.weights_initializer, self.bias_initializer = weights_initializer, bias_initializer
        self._inits = inits
        self._l2_regularization = l2
        self._explicit = {"weights": weights, "bias": bias}

    #: Spatial axes flattened before the product, by input rank: images and image sequences.
    _SPATIAL_BY_RANK = {4: 2, 5: 2}

    def build(self, input_shape):
        spatial = self._SPATIAL_BY_RANK.get(len(input_shape), 0)
        sizes = tuple(input_shape[len(input_shape) - 1 - spatial:])
        if any(size is None for size in sizes):
            axes = "spatial and channel axes" if spatial else "last axis"
            raise ValueError(f"{self._where}: the input's {axes} (InputSize) must be known; "
                             f"received {tuple(input_shape)}.")
        self.spatial_size = tuple(int(v) for v in sizes)  # (h, w, c) on images, else (C,)
        self.input_size = int(np.prod(self.spatial_size))
        self.kernel = self.add_weight(
            shape=(self.input_size, self.output_size), name="kernel",
            initializer=initializer_unless_given(self._inits["weights_initializer"],
                                                 self._explicit["weights"]))
        self.bias_variable = self.add_weight(
            shape=(self.output_size,), name="bias",
            initializer=initializer_unless_given(self._inits["bias_initializer"],
                                                 self._explicit["bias"]))
        self.built = True
        self._attach_l2()
        self.set_matlab_weights(**self._explicit)

    def _l2_targets(self):
        return ((self.kernel, self.weights_l2_factor, -1),
                (self.bias_variable, self.bias_l2_factor, -1))

    def call(self, inputs):
        spatial = len(self.spatial_size) - 1
        if spatial:  # row-major (h, w, c): the kernel's rows are in that order
            leading = ops.shape(inputs)[:len(inputs.shape) - 1 - spatial]
            inputs = ops.reshape(inputs, (*leading, self.input_size))
        return matmul(inputs, ops.cast(self.kernel, inputs.dtype)) + ops.cast(
            self.bias_variable, inputs.dtype)

    def compute_output_shape(self, input_shape):
        spatial = self._SPATIAL_BY_RANK.get(len(input_shape), 0)
        return (*input_shape[:len(input_shape) - 1 - spatial], self.output_size)

    MATLAB_CLASS = "nnet.cnn.layer.FullyConnectedLayer"
    MATLAB_PROPERTIES = (("Weights", "weights", "matlab_weights", "learnable"),
                         ("Bias", "bias", "bias", "learnable"))

    @property
    def matlab_weights(self):
        """MATLAB ``Weights`` (OutputSize, InputSize) (a numpy copy); on images InputSize is
        h*w*c in MATLAB's column-major order."""
        kernel = ops.convert_to_numpy(self.kernel)
        if len(self.spatial_size) > 1:  # rows (h, w, c) row-major -> columns column-major
            kernel = kernel.reshape((*self.spatial_size, self.output_size)).reshape(
                (self.input_size, self.output_size), order="F")
        return kernel.T

    @property
    def bias(self):
        """MATLAB ``Bias`` (OutputSize,) (a numpy copy)."""
        return ops.convert_to_numpy(self.bias_variable)

    def set_matlab_weights(self, weights=None, bias=None):
        """Sets ``Weights`` (OutputSize, InputSize) and/or ``Bias`` (OutputSize,) or (.., 1)."""
        if weights is not None and np.ndim(weights) == 4:  # MATLAB's (h, w, c, OutputSize)
            weights = np.asarray(weights)
            if not self.built:
                self.build((None, *weights.shape[:3]))
            if tuple(weights.shape) != (*self.spatial_size, self.output_size) and \
                    len(self.spatial_size) == 3:
                expected = (*self.spatial_size, self.output_size)
                raise ValueError(f"{self._where}: Weights has shape {weights.shape}; expected "
                                 f"(h, w, c, OutputSize) = {expected}.")
            weights = weights.reshape((-1, self.output_size), order="F").T
        if not self.built:
            if weights is None:
                raise ValueError(f"{self._where}: give weights to build the layer, or call it.")
            self.build((None, np.shape(weights)[-1]))
        if weights is not None:
            matrix = _options.matlab_array(
                weights, (self.output_size, self.input_size), matlab_property="Weights",
                shape_text="(OutputSize, InputSize)", where=self._where).T
            if len(self.spatial_size) > 1:  # column-major (h, w, c) -> Keras's row-major rows
                matrix = matrix.reshape((*self.spatial_size, self.output_size), order="F")
                matrix = matrix.reshape((self.input_size, self.output_size))
            self.kernel.assign(matrix)
        if bias is not None:
            self.bias_variable.assign(_options.matlab_array(
                np.ravel(bias) if np.ndim(bias) >= 2 and np.size(bias) == max(np.shape(bias))
                else bias,
                (self.output_size,), matlab_property="Bias", shape_text="(OutputSize,)",
                where=self._where))

    def get_config(self):
        return {**super().get_config(), "output_size": self.output_size,
                "weights_initializer": initializers.serialize(self.weights_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                "weights_l2_factor": self.weights_l2_factor,
                "bias_l2_factor": self.bias_l2_factor,
                "l2_regularization": self._l2_regularization, **self._learn_rate_config()}

    def _learn_rate_parameters(self):
        return {"weights": ("Weights", "kernel", False), "bias": ("Bias", "bias_variable", False)}


@keras.saving.register_keras_serializable(package="matkeras")
class Dropout(keras.layers.Dropout):
    """MATLAB's ``dropoutLayer(Probability)``: inverted dropout (kept units scaled by
    1/(1-p)) while training, identity at prediction; the mask is drawn per element.

    Args:
        probability: ``Probability`` (0.5).
    """

    MATLAB_CLASS = "nnet.cnn.layer.DropoutLayer"

    def __init__(self, probability=0.5, **kwargs):
        value = float(probability)
        if not 0 <= value < 1:
            raise ValueError(
                f"{_options.layer_label('Dropout', kwargs.get('name'))}: probability (MATLAB "
                f"'Probability') must be in [0, 1); received {probability!r}."
            )
        kwargs.pop("rate", None)
        super().__init__(rate=value, **kwargs)

    @property
    def probability(self):
        return self.rate

    def get_config(self):
        config = super().get_config()
        config["probability"] = config.pop("rate")
        return config


@keras.saving.register_keras_serializable(package="matkeras")
class SpatialDropout(Dropout):
    """MATLAB's ``spatialDropoutLayer(Probability)`` (R2024a): while training, whole channels
    are dropped: one draw per observation and channel, kept for every time step and spatial
    position, the kept channels scaled by 1/(1-p); identity at prediction.

    Args:
        probability: ``Probability`` (0.5).

    Input shape: ``(batch, ..., channels)``. Output shape: the same.
    """

    MATLAB_CLASS = "nnet.cnn.layer.SpatialDropoutLayer"

    def call(self, inputs, training=False):
        if not training or self.rate == 0:
            return inputs
        shape = ops.shape(inputs)
        noise = (shape[0],) + (1,) * (len(inputs.shape) - 2) + (shape[-1],)
        return keras.random.dropout(inputs, self.rate, noise_shape=noise,
                                    seed=self.seed_generator)


class _Elementwise(keras.layers.Layer):
    """A layer without weights whose output has its input's shape; one input, one output."""

    @property
    def matlab_output_names(self):
        """MATLAB's ``OutputNames``: ``("out",)``."""
        return ("out",)

    def compute_output_shape(self, input_shape):
        return input_shape


@keras.saving.register_keras_serializable(package="matkeras")
class ReLU(_Elementwise):
    """MATLAB's ``reluLayer``: ``max(x, 0)`` elementwise."""

    MATLAB_CLASS = "nnet.cnn.layer.ReLULayer"

    def call(self, inputs):
        return ops.relu(inputs)


@keras.saving.register_keras_serializable(package="matkeras")
class Sigmoid(_Elementwise):
    """MATLAB's ``sigmoidLayer``: the logistic function elementwise.

    ``y = 1 / (1 + exp(-x))``.

    Input shape: any. Output shape: the same.

    Example:
        >>> Sigmoid()(np.zeros((1, 2), "float32"))  # [[0.5, 0.5]]
    """

    MATLAB_CLASS = "nnet.cnn.layer.SigmoidLayer"

    def call(self, inputs):
        return ops.sigmoid(inputs)


@keras.saving.register_keras_serializable(package="matkeras")
class Tanh(_Elementwise):
    """MATLAB's ``tanhLayer``: the hyperbolic tangent elementwise, ``y = tanh(x)``.

    Input shape: any. Output shape: the same.
    """

    MATLAB_CLASS = "nnet.cnn.layer.TanhLayer"

    def call(self, inputs):
        return tanh(inputs)


GELU_APPROXIMATIONS = ("none", "tanh")
_SQRT_HALF = 0.7071067811865476  # 1/sqrt(2)
_SQRT_2_OVER_PI = 0.7978845608028654  # sqrt(2/pi)


@keras.saving.register_keras_serializable(package="matkeras")
class GELU(_Elementwise):
    """MATLAB's ``geluLayer``: the Gaussian error linear unit elementwise.

    MATLAB's documented formulas (``Approximation``)::

        "none": y = x/2 (1 + erf(x / sqrt(2)))
        "tanh": y = x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))

    (the tanh form replaces ``erf(x/sqrt(2))``; MATLAB recommends it only to reproduce models
    trained with it, such as BERT and GPT-2). In float64 the formulas are written out rather
    than taken from ``keras.ops.gelu``: TensorFlow's ``tf.nn.gelu`` rounds its constants to
    float32, which measured 5e-9 off in float64. In float32 the erf form is ``tf.nn.gelu``'s
    graph, which TFLite's converter turns into its GELU op (an ``Erf`` written out is not a
    TFLite builtin); the tanh form is written out (TFLite ADD, MUL, TANH).

    Args:
        approximation: ``Approximation`` (``"none"``) or ``"tanh"``.
        **kwargs: Keras layer arguments.

    Input shape: any. Output shape: the same.

    Example:
        >>> GELU(approximation="tanh")(np.ones((1, 2), "float32"))
    """

    MATLAB_CLASS = "nnet.cnn.layer.GELULayer"

    def __init__(self, approximation="none", **kwargs):
        approximation = _options.choose(
            approximation, GELU_APPROXIMATIONS, argument="approximation",
            matlab_property="Approximation",
            where=_options.layer_label("GELU", kwargs.get("name")))
        super().__init__(**kwargs)
        self.approximation = approximation

    def call(self, inputs):
        x = inputs
        if self.approximation == "tanh":
            # x (1/2 + tanh/2): no "0.5 * x" node that graph optimizers would share with an
            # exact GELU of the same input and so keep TFLite from fusing that one.
            return x * (0.5 + 0.5 * tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)))
        if keras.backend.standardize_dtype(x.dtype) == "float64":
            return 0.5 * x * (1.0 + ops.erf(x * _SQRT_HALF))
        return ops.gelu(x, approximate=False)  # TF's graph: TFLite's converter fuses it (GELU)

    def get_config(self):
        return {**super().get_config(), "approximation": self.approximation}


@keras.saving.register_keras_serializable(package="matkeras")
class Swish(_Elementwise):
    """MATLAB's ``swishLayer``: ``y = x / (1 + exp(-x))`` (x times its sigmoid) elementwise.

    Input shape: any. Output shape: the same.
    """

    MATLAB_CLASS = "nnet.cnn.layer.SwishLayer"

    def call(self, inputs):
        return ops.silu(inputs)


@keras.saving.register_keras_serializable(package="matkeras")
class Softmax(_Elementwise):
    """MATLAB's ``softmaxLayer``: softmax over the channel axis, at every time step."""

    MATLAB_CLASS = "nnet.cnn.layer.SoftmaxLayer"

    def call(self, inputs):
        return ops.softmax(inputs, axis=-1)


class _ScalarElementwise(_Elementwise):
    """An elementwise layer with one scalar MATLAB property (``_PROPERTY``, ``_ARGUMENT``).
    (The scalar enters the graph through ``convert_to_tensor(value, dtype)``:
    ``ops.cast(python_float, "float64")`` rounds through float32 first.)"""

    _PROPERTY = _ARGUMENT = None
    _DEFAULT = None

    def __init__(self, value=None, **kwargs):
        where = _options.layer_label(type(self).__name__, kwargs.get("name"))
        kwargs.pop(self._ARGUMENT, None)
        value = self._DEFAULT if value is None else value
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = float("nan")
        if not np.isfinite(number) or not self._valid(number):
            raise ValueError(f"{where}: {self._ARGUMENT} (MATLAB '{self._PROPERTY}') must be "
                             f"{self._RULE}; received {value!r}.")
        super().__init__(**kwargs)
        setattr(self, self._ARGUMENT, number)

    _RULE = "a finite number"

    @staticmethod
    def _valid(number):
        return True

    def get_config(self):
        return {**super().get_config(), self._ARGUMENT: getattr(self, self._ARGUMENT)}


@keras.saving.register_keras_serializable(package="matkeras")
class ELU(_ScalarElementwise):
    """MATLAB's ``eluLayer(alpha)``: ``x`` where ``x > 0``, ``alpha (exp(x) - 1)`` elsewhere.

    Args:
        alpha: ``Alpha`` (1).
    """

    MATLAB_CLASS = "nnet.cnn.layer.ELULayer"
    _PROPERTY, _ARGUMENT, _DEFAULT = "Alpha", "alpha", 1.0

    def __init__(self, alpha=None, **kwargs):
        super().__init__(alpha, **kwargs)

    def call(self, inputs):
        alpha = ops.convert_to_tensor(self.alpha, dtype=inputs.dtype)
        return ops.where(inputs > 0, inputs, alpha * ops.expm1(minimum(inputs, 0)))


@keras.saving.register_keras_serializable(package="matkeras")
class LeakyReLU(_ScalarElementwise):
    """MATLAB's ``leakyReluLayer(scale)``: ``x`` where ``x > 0``, ``scale * x`` elsewhere.

    Args:
        scale: ``Scale`` (0.01).
    """

    MATLAB_CLASS = "nnet.cnn.layer.LeakyReLULayer"
    _PROPERTY, _ARGUMENT, _DEFAULT = "Scale", "scale", 0.01

    def __init__(self, scale=None, **kwargs):
        super().__init__(scale, **kwargs)

    def call(self, inputs):
        scale = ops.convert_to_tensor(self.scale, dtype=inputs.dtype)
        return ops.where(inputs > 0, inputs, scale * inputs)


@keras.saving.register_keras_serializable(package="matkeras")
class ClippedReLU(_ScalarElementwise):
    """MATLAB's ``clippedReluLayer(ceiling)``: ``min(max(x, 0), ceiling)``.

    Args:
        ceiling: ``Ceiling`` (a positive number; no default, as in MATLAB).
    """

    MATLAB_CLASS = "nnet.cnn.layer.ClippedReLULayer"
    _PROPERTY, _ARGUMENT = "Ceiling", "ceiling"
    _RULE = "a positive number"

    def __init__(self, ceiling, **kwargs):
        super().__init__(ceiling, **kwargs)

    @staticmethod
    def _valid(number):
        return number > 0

    def call(self, inputs):
        ceiling = ops.convert_to_tensor(self.ceiling, dtype=inputs.dtype)
        return minimum(ops.relu(inputs), ceiling)
