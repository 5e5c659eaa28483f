"""MATLAB's classificationLayer and regressionLayer, and the losses they carry."""

import keras
import numpy as np
from keras import ops

from matkeras.layers import _options
from matkeras.ops.precision import demoted, maximum
from matkeras.ops.replicas import mean_share, replicas


class _Float64Reduction(keras.losses.Loss):
    """Keras's reduction of the loss values ('sum_over_batch_size': the weighted sum over the
    number of values, or over the unmasked ones with a Keras mask), in float64 on PyTorch and
    JAX too, where Keras reduces float64 losses in float32 (``matkeras.ops.precision``), and
    over the whole mini-batch when ``tf.distribute`` splits it across replicas
    (:func:`matkeras.ops.replicas.mean_share`; Keras's own averages the replicas' means)."""

    def __call__(self, y_true, y_pred, sample_weight=None):
        converted = ops.convert_to_tensor(y_pred, dtype=self.dtype)
        mask = getattr(y_pred, "_keras_mask", None)
        replicated = replicas() > 1
        if self.reduction != "sum_over_batch_size" or not replicated and (
                not demoted(converted) or mask is not None):  # Keras's own (masks too)
            return super().__call__(y_true, y_pred, sample_weight=sample_weight)
        values = self.call(ops.convert_to_tensor(y_true), converted)
        if sample_weight is not None:
            weight = ops.cast(ops.convert_to_tensor(sample_weight), values.dtype)
            if len(weight.shape) == len(values.shape) + 1 and weight.shape[-1] == 1:
                weight = ops.squeeze(weight, -1)
            if len(weight.shape) != len(values.shape):  # Keras's broadcasting rule: its own
                return super().__call__(y_true, y_pred, sample_weight=sample_weight)
            values = values * weight
        if mask is not None:  # the mean over the unmasked values, as Keras's
            mask = ops.broadcast_to(ops.cast(mask, values.dtype), ops.shape(values))
            return mean_share(ops.sum(values * mask), ops.sum(mask))
        return mean_share(ops.sum(values), ops.cast(ops.size(values), values.dtype))


@keras.saving.register_keras_serializable(package="matkeras")
class MatlabCrossEntropy(_Float64Reduction):
    """MATLAB's classification loss: ``-(1/(N*T)) sum_n sum_t sum_k w_k t_nk log(y_nk)``.

    Targets are integer class indices (0-based), shape ``(N,)`` or ``(N, T)``; predictions are
    probabilities (after :class:`matkeras.layers.Softmax`). Probabilities are bounded below by
    ``epsilon`` before the log (MATLAB bounds them away from 0; its exact bound is not
    confirmed).

    Args:
        class_weights: ``ClassWeights``: one weight per class, or None (all 1).
        epsilon: lower bound of the probabilities (1e-8).
    """

    def __init__(self, class_weights=None, epsilon=1e-8, name="matlab_crossentropy",
                 **kwargs):
        super().__init__(name=name, **kwargs)
        self.class_weights = None if class_weights is None else [float(w) for w in
                                                                  np.ravel(class_weights)]
        self.epsilon = float(epsilon)

    def call(self, y_true, y_pred):
        labels = ops.cast(y_true, "int32")
        if len(labels.shape) == len(y_pred.shape):
            labels = labels[..., 0]
        chosen = ops.take_along_axis(y_pred, ops.expand_dims(labels, -1), axis=-1)[..., 0]
        losses = -ops.log(maximum(chosen, self.epsilon))
        if self.class_weights is not None:
            weights = ops.convert_to_tensor(self.class_weights, dtype=y_pred.dtype)
            losses = losses * ops.take(weights, labels)
        return losses

    def get_config(self):
        return {**super().get_config(), "class_weights": self.class_weights,
                "epsilon": self.epsilon}


@keras.saving.register_keras_serializable(package="matkeras")
class MatlabHalfMeanSquaredError(_Float64Reduction):
    """MATLAB's regression loss: ``(1/(N*T)) sum_n sum_t sum_r (y - t)^2 / 2``: half squared
    error summed over the responses (not divided by R), averaged over observations and time.
    This is ``R/2`` times Keras's ``MeanSquaredError``."""

    def __init__(self, name="matlab_half_mse", **kwargs):
        super().__init__(name=name, **kwargs)

    def call(self, y_true, y_pred):
        y_true = ops.cast(y_true, y_pred.dtype)
        return 0.5 * ops.sum(ops.square(y_pred - ops.reshape(y_true, ops.shape(y_pred))),
                             axis=-1)


class _OutputLayer(keras.layers.Layer):
    """An identity layer that names the loss of the network it ends."""

    def call(self, inputs):
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape


@keras.saving.register_keras_serializable(package="matkeras")
class Classification(_OutputLayer):
    """MATLAB's ``classificationLayer``: cross-entropy over mutually exclusive classes.

    Args:
        class_weights: ``ClassWeights`` (None: all 1).
        classes: ``Classes``: class names (in score order), used to turn scores into labels.
    """

    MATLAB_CLASS = "nnet.cnn.layer.ClassificationOutputLayer"

    def __init__(self, class_weights=None, classes=None, **kwargs):
        super().__init__(**kwargs)
        if class_weights is not None:
            class_weights = [float(w) for w in np.ravel(class_weights)]
            if any(w < 0 or not np.isfinite(w) for w in class_weights):
                raise ValueError(
                    f"{_options.layer_label('Classification', self.name)}: class_weights "
                    f"(MATLAB 'ClassWeights') must be finite and non-negative; received "
                    f"{class_weights}.")
        self.class_weights = class_weights
        self.classes = None if classes is None else [str(c) for c in classes]

    @property
    def loss(self):
        return MatlabCrossEntropy(self.class_weights)

    def get_config(self):
        return {**super().get_config(), "class_weights": self.class_weights,
                "classes": self.classes}


@keras.saving.register_keras_serializable(package="matkeras")
class Regression(_OutputLayer):
    """MATLAB's ``regressionLayer``: half mean squared error, summed over responses.

    Args:
        response_names: ``ResponseNames`` (optional).
    """

    MATLAB_CLASS = "nnet.cnn.layer.RegressionOutputLayer"

    def __init__(self, response_names=None, **kwargs):
        super().__init__(**kwargs)
        self.response_names = None if response_names is None else [str(r) for r in
                                                                    response_names]

    @property
    def loss(self):
        return MatlabHalfMeanSquaredError()

    def get_config(self):
        return {**super().get_config(), "response_names": self.response_names}
