"""The built-in losses of MATLAB's ``trainnet`` (R2023b+), with MATLAB's normalizations.

``trainnet(X, T, net, lossFcn, options)`` names its loss: ``"crossentropy"``,
``"index-crossentropy"``, ``"binary-crossentropy"``, ``"mse"``/``"mean-squared-error"``/
``"l2loss"``, ``"mae"``/``"mean-absolute-error"``/``"l1loss"``, ``"huber"``, or a function
handle ``loss = f(Y, T)``. MATLAB's trainnet page (mathworks.com/help/deeplearning/ref/
trainnet.html, "lossFcn") normalizes the cross-entropies by the number of non-channel elements
of the network output (observations x time steps) and the regression losses and the binary
cross-entropy by the number of elements (observations x time steps x channels). So, with N
observations, T steps, K classes or R responses:

- crossentropy:        ``-(1/(N*T)) sum_n sum_t sum_k T_ntk log Y_ntk`` (one-hot or label targets)
- index-crossentropy:  the same with integer class targets (the label's probability)
- binary-crossentropy: ``-(1/(N*T*K)) sum [T log Y + (1-T) log(1-Y)]``
- mse / l2loss:        ``(1/(N*T*R)) sum (Y-T)^2``: no 1/2, divided by R
- mae / l1loss:        ``(1/(N*T*R)) sum |Y-T|``
- huber:               ``(1/(N*T*R)) sum h(Y-T)``, ``h(e) = e^2/2`` for ``|e| <= 1``, else
  ``|e| - 1/2`` (MATLAB's ``huber`` with its default TransitionPoint 1)

Against the classic output layers (``matkeras.layers.Classification``/``Regression``):
crossentropy equals classificationLayer's loss for sequence-to-label networks; ``mse`` is
``2/R`` times regressionLayer's half mean squared error (which sums the responses). Probabilities
are bounded below by 1e-8 before the log, as matkeras's classificationLayer does (MATLAB's exact
bound is not confirmed).

Padded time steps (sequence-to-sequence targets, mini-batches padded to their longest sequence)
are left out of the sum *and* of the count T here: the loss is a mean over the observations' own
steps (``sample_weight`` = the padding mask). What MATLAB's trainnet does with padded targets is
UNCONFIRMED here; matkeras's classic regression/classification losses instead divide by the
padded N*T (Keras's ``sum_over_batch_size``), so the two differ by ``N*T_padded / sum_n T_n`` on
padded mini-batches (tests/test_losses.py measures it).
"""

import keras
from keras import ops

from matkeras.ops.precision import maximum, mean
from matkeras.ops.replicas import mean_share, replicas

__all__ = ["BinaryCrossEntropy", "CrossEntropy", "FunctionLoss", "Huber", "MeanAbsoluteError",
           "MeanSquaredError", "get"]

#: Lower bound of probabilities before the log (matkeras.layers.MatlabCrossEntropy's).
EPSILON = 1e-8


def _weight_like(weight, values):
    """Sample weights (``(N,)``, ``(N, T)``, ``(N, T, 1)``...) in `values`' dtype, squeezed or
    expanded on the right and broadcast to `values`' shape."""
    weight = ops.cast(ops.convert_to_tensor(weight), values.dtype)
    while len(weight.shape) > len(values.shape):
        weight = ops.squeeze(weight, -1)
    while len(weight.shape) < len(values.shape):
        weight = ops.expand_dims(weight, -1)
    return ops.broadcast_to(weight, ops.shape(values))


class _TrainnetLoss(keras.losses.Loss):
    """A trainnet loss: per-element values from ``elementwise`` (shape of the output without
    its channel axis), averaged with the sample weights (the padding mask) as weights."""

    #: "classification" (targets become class indices or one-hot vectors), "binary",
    #: "regression"
    task = "regression"

    def __init__(self, name, **kwargs):
        kwargs.pop("reduction", None)
        super().__init__(name=name, **kwargs)

    def __call__(self, y_true, y_pred, sample_weight=None):
        y_pred = ops.cast(ops.convert_to_tensor(y_pred), self.dtype)  # floatx, as Keras losses
        values = self.elementwise(ops.convert_to_tensor(y_true), y_pred)
        if sample_weight is None:
            if replicas() == 1:
                return mean(values)
            return mean_share(ops.sum(values), ops.cast(ops.size(values), values.dtype))
        weight = _weight_like(sample_weight, values)  # the mean over the whole mini-batch
        return mean_share(ops.sum(values * weight), ops.sum(weight))  # under tf.distribute too

    def call(self, y_true, y_pred):
        return self.elementwise(ops.convert_to_tensor(y_true),
                                ops.cast(ops.convert_to_tensor(y_pred), self.dtype))

    def get_config(self):
        config = super().get_config()
        config.pop("reduction", None)
        return config


def _targets_like(y_true, y_pred):
    return ops.reshape(ops.cast(y_true, y_pred.dtype), ops.shape(y_pred))


@keras.saving.register_keras_serializable(package="matkeras")
class CrossEntropy(_TrainnetLoss):
    """MATLAB trainnet's ``"crossentropy"`` and ``"index-crossentropy"``.

    Targets are one-hot (or probability) vectors shaped like the predictions, or integer
    class indices (0-based) without the channel axis; predictions are probabilities (after
    ``softmaxLayer``).

    Args:
        epsilon: lower bound of the probabilities before the log (1e-8).
        name: ``"crossentropy"`` or ``"index_crossentropy"``.
    """

    task = "classification"

    def __init__(self, epsilon=EPSILON, name="crossentropy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.epsilon = float(epsilon)

    def elementwise(self, y_true, y_pred):
        floor = ops.cast(self.epsilon, y_pred.dtype)
        if len(y_true.shape) == len(y_pred.shape) and y_true.shape[-1] == y_pred.shape[-1] and \
                y_pred.shape[-1] != 1:
            targets = ops.cast(y_true, y_pred.dtype)
            return -ops.sum(targets * ops.log(maximum(y_pred, floor)), axis=-1)
        labels = ops.cast(y_true, "int32")
        if len(labels.shape) == len(y_pred.shape):
            labels = labels[..., 0]
        chosen = ops.take_along_axis(y_pred, ops.expand_dims(labels, -1), axis=-1)[..., 0]
        return -ops.log(maximum(chosen, floor))

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}


@keras.saving.register_keras_serializable(package="matkeras")
class BinaryCrossEntropy(_TrainnetLoss):
    """MATLAB trainnet's ``"binary-crossentropy"``: targets in [0, 1] shaped like the
    predictions (probabilities after ``sigmoidLayer``); the mean over every element.

    Args:
        epsilon: the probabilities are kept in [epsilon, 1 - epsilon] before the logs (1e-8).
    """

    task = "binary"

    def __init__(self, epsilon=EPSILON, name="binary_crossentropy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.epsilon = float(epsilon)

    def elementwise(self, y_true, y_pred):
        targets = _targets_like(y_true, y_pred)
        floor = ops.cast(self.epsilon, y_pred.dtype)
        y = ops.clip(y_pred, floor, 1 - floor)
        return -mean(targets * ops.log(y) + (1 - targets) * ops.log(1 - y), axis=-1)

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}


@keras.saving.register_keras_serializable(package="matkeras")
class MeanSquaredError(_TrainnetLoss):
    """MATLAB trainnet's ``"mse"`` (``"mean-squared-error"``, ``"l2loss"``): the mean of
    ``(Y - T)^2`` over every element (no 1/2; divided by the number of responses)."""

    def __init__(self, name="mse", **kwargs):
        super().__init__(name=name, **kwargs)

    def elementwise(self, y_true, y_pred):
        return mean(ops.square(y_pred - _targets_like(y_true, y_pred)), axis=-1)


@keras.saving.register_keras_serializable(package="matkeras")
class MeanAbsoluteError(_TrainnetLoss):
    """MATLAB trainnet's ``"mae"`` (``"mean-absolute-error"``, ``"l1loss"``): the mean of
    ``|Y - T|`` over every element."""

    def __init__(self, name="mae", **kwargs):
        super().__init__(name=name, **kwargs)

    def elementwise(self, y_true, y_pred):
        return mean(ops.abs(y_pred - _targets_like(y_true, y_pred)), axis=-1)


@keras.saving.register_keras_serializable(package="matkeras")
class Huber(_TrainnetLoss):
    """MATLAB trainnet's ``"huber"``: ``h(e) = e^2/2`` for ``|e| <= delta``, else
    ``delta*(|e| - delta/2)``, averaged over every element.

    Args:
        transition_point: MATLAB ``TransitionPoint`` delta (1).
    """

    def __init__(self, transition_point=1.0, name="huber", **kwargs):
        super().__init__(name=name, **kwargs)
        self.transition_point = float(transition_point)
        if not self.transition_point > 0:
            raise ValueError(f"Huber: transition_point (MATLAB 'TransitionPoint') must be "
                             f"positive; received {transition_point!r}.")

    def elementwise(self, y_true, y_pred):
        error = ops.abs(y_pred - _targets_like(y_true, y_pred))
        delta = ops.cast(self.transition_point, y_pred.dtype)
        values = ops.where(error <= delta, 0.5 * ops.square(error),
                           delta * (error - 0.5 * delta))
        return mean(values, axis=-1)

    def get_config(self):
        return {**super().get_config(), "transition_point": self.transition_point}


class FunctionLoss(keras.losses.Loss):
    """A Python function as trainnet's loss, MATLAB's ``lossFcn`` function handle
    ``loss = f(Y, T)``: predictions first, then targets (categorical targets arrive one-hot
    encoded, as MATLAB passes them), returning a scalar. It runs inside the traced training
    step, so it must use ``keras.ops`` (or TensorFlow) operations. It sees whole padded
    mini-batches: padded steps are not masked out for it. Under a ``tf.distribute`` strategy it
    sees each replica's part, and the loss is the mean of the parts' values (Keras's rule: the
    mini-batch's only when the function is a mean and the parts are equal). Not saved with a
    model.
    """

    task = None

    def __init__(self, function, name=None):
        super().__init__(name=name or getattr(function, "__name__", "custom_loss"))
        self.function = function

    def __call__(self, y_true, y_pred, sample_weight=None):
        y_pred = ops.convert_to_tensor(y_pred)
        value = self.function(y_pred, ops.cast(y_true, y_pred.dtype))
        value = ops.convert_to_tensor(value)
        if len(value.shape) != 0:
            raise ValueError(f"The custom loss function {self.name!r} must return a scalar; it "
                             f"returned shape {tuple(value.shape)}.")
        value = ops.cast(value, y_pred.dtype)
        count = replicas()  # each replica's value on its part: their mean (Keras's rule)
        return value if count == 1 else value / count

    def call(self, y_true, y_pred):
        return self(y_true, y_pred)

    def get_config(self):
        return {"name": self.name}


_NAMES = {
    "crossentropy": (CrossEntropy, "crossentropy"),
    "index-crossentropy": (CrossEntropy, "index_crossentropy"),
    "binary-crossentropy": (BinaryCrossEntropy, "binary_crossentropy"),
    "mse": (MeanSquaredError, "mse"), "mean-squared-error": (MeanSquaredError, "mse"),
    "l2loss": (MeanSquaredError, "l2loss"),
    "mae": (MeanAbsoluteError, "mae"), "mean-absolute-error": (MeanAbsoluteError, "mae"),
    "l1loss": (MeanAbsoluteError, "l1loss"),
    "huber": (Huber, "huber"),
}

#: The names trainnet accepts, in MATLAB's spelling.
NAMES = tuple(_NAMES)


def get(loss, dtype=None):
    """The loss object for MATLAB's `lossFcn`: one of :data:`NAMES` (case-insensitive), a
    loss object from this module, or a Python function ``f(Y, T)``. `dtype`: the loss's
    compute dtype (Keras's floatx by default, as Keras losses)."""
    if isinstance(loss, _TrainnetLoss | FunctionLoss):
        return loss
    if isinstance(loss, str):
        found = _NAMES.get(loss.lower())
        if found is None:
            raise ValueError(f"trainnet: unknown lossFcn {loss!r}. MATLAB's built-in losses: "
                             f"{', '.join(repr(n) for n in NAMES)}; or pass a function "
                             "f(Y, T) returning a scalar.")
        cls, name = found
        return cls(name=name, dtype=dtype)
    if callable(loss) and not isinstance(loss, keras.losses.Loss):
        return FunctionLoss(loss)
    raise TypeError(f"trainnet: lossFcn must be a loss name ({', '.join(NAMES)}) or a "
                    f"function f(Y, T); received {type(loss).__name__}.")
