"""MATLAB's fullyConnectedLayer, dropoutLayer, softmaxLayer and the elementwise activation layers
(reluLayer, sigmoidLayer, tanhLayer, geluLayer, swishLayer) as Keras layers."""

import keras
import numpy as np
from keras import ops

from matkeras.layers import _options, initializers
from matkeras.layers._learn_rates import LearnRateFactorsMixin
from matkeras.layers._matlab import MatlabMapping
from matkeras.layers.regularizers import (
    DEFAULT_L2_REGULARIZATION,
    MatlabL2Mixin,
    check_l2_regularization,
)
from matkeras.ops.precision import matmul


@keras.saving.register_keras_serializable(package="matkeras")
class FullyConnected(MatlabMapping, LearnRateFactorsMixin, MatlabL2Mixin, keras.layers.Layer):
    """Fully connected layer: MATLAB's ``fullyConnectedLayer(outputSize)``.

    ``y = W x + b`` on the channel axis, at every time step of a sequence (MATLAB's CBT -> CBT).
    Spatial inputs must be flattened first (:class:`matkeras.layers.Flatten`, column-major as
    MATLAB).

    Args:
        output_size: ``OutputSize``.
        weights_initializer: ``WeightsInitializer`` (``"glorot"``: numIn = InputSize,
            numOut = OutputSize).
        bias_initializer: ``BiasInitializer`` (``"zeros"``).
        weights_l2_factor: ``WeightsL2Factor`` (1). bias_l2_factor: ``BiasL2Factor`` (0).
        l2_regularization: MATLAB's global ``L2Regularization`` (1e-4).
        weights, bias: explicit MATLAB values: ``Weights`` (OutputSize, InputSize), ``Bias``.
        **kwargs: Keras layer arguments.

    Input shape: ``(batch, ..., InputSize)``. Output shape: ``(batch, ..., OutputSize)``.

    MATLAB layout: ``matlab_weights`` (OutputSize, InputSize) and ``bias`` (numpy); the Keras
    variables are ``kernel`` (InputSize, OutputSize) and ``bias_variable``.
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

    def build(self, input_shape):
        input_size = input_shape[-1]
        if input_size is None:
            raise ValueError(f"{self._where}: the input's last axis (InputSize) must be known.")
        self.input_size = int(input_size)
        self.kernel = self.add_weight(shape=(self.input_size, self.output_size), name="kernel",
                                      initializer=self._inits["weights_initializer"])
        self.bias_variable = self.add_weight(shape=(self.output_size,), name="bias",
                                             initializer=self._inits["bias_initializer"])
        self.built = True
        self._attach_l2()
        self.set_matlab_weights(**self._explicit)

    def _l2_targets(self):
        return ((self.kernel, self.weights_l2_factor, -1),
                (self.bias_variable, self.bias_l2_factor, -1))

    def call(self, inputs):
        return matmul(inputs, ops.cast(self.kernel, inputs.dtype)) + ops.cast(
            self.bias_variable, inputs.dtype)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.output_size)

    MATLAB_CLASS = "nnet.cnn.layer.FullyConnectedLayer"
    MATLAB_PROPERTIES = (("Weights", "weights", "matlab_weights", "learnable"),
                         ("Bias", "bias", "bias", "learnable"))

    @property
    def matlab_weights(self):
        """MATLAB ``Weights`` (OutputSize, InputSize) (a numpy copy)."""
        return ops.convert_to_numpy(self.kernel).T

    @property
    def bias(self):
        """MATLAB ``Bias`` (OutputSize,) (a numpy copy)."""
        return ops.convert_to_numpy(self.bias_variable)

    def set_matlab_weights(self, weights=None, bias=None):
        """Sets ``Weights`` (OutputSize, InputSize) and/or ``Bias`` (OutputSize,) or (.., 1)."""
        if not self.built:
            if weights is None:
                raise ValueError(f"{self._where}: give weights to build the layer, or call it.")
            self.build((None, np.shape(weights)[-1]))
        if weights is not None:
            self.kernel.assign(_options.matlab_array(
                weights, (self.output_size, self.input_size), matlab_property="Weights",
                shape_text="(OutputSize, InputSize)", where=self._where).T)
        if bias is not None:
            self.bias_variable.assign(_options.matlab_array(
                np.ravel(bias) if np.ndim(bias) == 2 and 1 in np.shape(bias) else bias,
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
        return ops.tanh(inputs)


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
            return x * (0.5 + 0.5 * ops.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)))
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
