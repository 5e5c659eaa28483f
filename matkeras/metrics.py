"""The metrics of MATLAB's trainnet era (``trainingOptions(Metrics=...)``, ``testnet``), as
Keras metrics: one implementation for the per-iteration training history (inside
``model.fit``), the validation rows and ``testnet``.

Names as MATLAB spells them: ``"accuracy"`` (in percent, as MATLAB reports it), ``"rmse"``,
``"mse"``, ``"mae"``, ``"precision"``, ``"recall"``, ``"fscore"`` (F1); for ``testnet`` also
the loss names of :mod:`matkeras.losses`; or a Python function ``metric = f(Y, T)`` (keras ops,
as a custom loss). Conventions (MathWorks' metric pages: accuracyMetric, rmseMetric,
precisionMetric, recallMetric, fScoreMetric; details recalled, not re-read here, so
UNCONFIRMED):

- Every value is over all elements seen since the last reset, padded time steps excluded (the
  ``sample_weight`` mask): accuracy = correct / labels; RMSE = sqrt(mean of squared errors over
  observations, steps and responses).
- Precision, recall and F-score average over classes as MATLAB's ``AverageType``:
  ``"micro"`` (MATLAB's default: pooled counts; for single-label classification all three then
  equal the accuracy as a fraction) or ``"macro"`` (the mean of the per-class values; a class
  that is never predicted has precision 0).
- One output channel (sigmoid networks) is read as the positive-class probability,
  threshold 0.5.
- A function metric's value is the mean of its mini-batch values weighted by mini-batch size.
"""

import keras
from keras import ops

from matkeras.ops.precision import divide_no_nan
from matkeras.ops.precision import mean as average

__all__ = ["Accuracy", "ErrorMetric", "FunctionMetric", "LossMetric", "PrecisionRecallFScore",
           "get"]


class _Metric(keras.metrics.Metric):
    """A MATLAB metric: `display` is its column name in the training history, `maximize`
    says whether larger is better (for ObjectiveMetricName and OutputNetwork)."""

    display = None
    maximize = False

    def _weights(self, sample_weight, shape, dtype):
        if sample_weight is None:
            return ops.ones(shape, dtype)
        weight = ops.cast(sample_weight, dtype)
        while len(weight.shape) > len(shape):
            weight = ops.squeeze(weight, -1)
        return ops.broadcast_to(weight, shape)


def _labels(values, channels):
    """Class indices of scores/one-hot targets (last axis), or of index targets as given."""
    if channels == 1:
        return ops.cast(values[..., 0] >= 0.5, "int32")
    return ops.cast(ops.argmax(values, axis=-1), "int32")


def _true_labels(y_true, y_pred):
    channels = y_pred.shape[-1]
    if len(y_true.shape) == len(y_pred.shape) and y_true.shape[-1] == channels and \
            channels is not None:
        return _labels(ops.cast(y_true, y_pred.dtype), channels)
    labels = ops.cast(y_true, "int32")
    return labels[..., 0] if len(labels.shape) == len(y_pred.shape) else labels


@keras.saving.register_keras_serializable(package="matkeras")
class Accuracy(_Metric):
    """MATLAB's ``"accuracy"``: the percentage of correctly classified elements."""

    display = "Accuracy"
    maximize = True

    def __init__(self, name="accuracy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.correct = self.add_variable((), initializer="zeros", name="correct")
        self.total = self.add_variable((), initializer="zeros", name="total")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = ops.convert_to_tensor(y_pred)
        truth = _true_labels(ops.convert_to_tensor(y_true), y_pred)
        guess = _labels(y_pred, y_pred.shape[-1])
        weight = self._weights(sample_weight, ops.shape(guess), self.dtype)
        self.correct.assign_add(ops.sum(ops.cast(ops.equal(truth, guess), self.dtype) * weight))
        self.total.assign_add(ops.sum(weight))

    def result(self):
        return 100.0 * divide_no_nan(self.correct, self.total)


@keras.saving.register_keras_serializable(package="matkeras")
class ErrorMetric(_Metric):
    """MATLAB's ``"rmse"``, ``"mse"`` and ``"mae"`` over every element.

    Args:
        kind: ``"rmse"``, ``"mse"`` or ``"mae"``.
    """

    KINDS = {"rmse": "RMSE", "mse": "MSE", "mae": "MAE"}

    def __init__(self, kind="rmse", name=None, **kwargs):
        if kind not in self.KINDS:
            raise ValueError(f"ErrorMetric kind must be one of {tuple(self.KINDS)}; received "
                             f"{kind!r}.")
        super().__init__(name=name or kind, **kwargs)
        self.kind = kind
        self.display = self.KINDS[kind]
        self.total = self.add_variable((), initializer="zeros", name="total")
        self.count = self.add_variable((), initializer="zeros", name="count")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = ops.cast(ops.convert_to_tensor(y_pred), self.dtype)
        error = y_pred - ops.reshape(ops.cast(y_true, self.dtype), ops.shape(y_pred))
        values = ops.abs(error) if self.kind == "mae" else ops.square(error)
        weight = self._weights(sample_weight, ops.shape(values)[:-1], self.dtype)
        self.total.assign_add(ops.sum(ops.sum(values, axis=-1) * weight))
        self.count.assign_add(ops.sum(weight) * ops.cast(ops.shape(values)[-1], self.dtype))

    def result(self):
        mean = divide_no_nan(self.total, self.count)
        return ops.sqrt(mean) if self.kind == "rmse" else mean

    def get_config(self):
        return {**super().get_config(), "kind": self.kind}


@keras.saving.register_keras_serializable(package="matkeras")
class PrecisionRecallFScore(_Metric):
    """MATLAB's ``"precision"``, ``"recall"`` and ``"fscore"`` (F1) from a confusion matrix.

    Args:
        kind: ``"precision"``, ``"recall"`` or ``"fscore"``.
        num_classes: the number of network outputs (1: sigmoid, read as two classes); None
            makes a template that :func:`get` completes with the network's outputs.
        average: MATLAB ``AverageType``: ``"micro"`` (default) or ``"macro"``.
    """

    KINDS = {"precision": "Precision", "recall": "Recall", "fscore": "FScore"}
    maximize = True

    def __init__(self, kind="fscore", num_classes=None, average="micro", name=None, **kwargs):
        if kind not in self.KINDS:
            raise ValueError(f"kind must be one of {tuple(self.KINDS)}; received {kind!r}.")
        if average not in ("micro", "macro"):
            raise ValueError(f"average (MATLAB 'AverageType') must be 'micro' or 'macro'; "
                             f"received {average!r}.")
        super().__init__(name=name or kind, **kwargs)
        self.kind, self.average = kind, average
        self.num_classes = None if num_classes is None else int(num_classes)
        self.display = self.KINDS[kind]
        if self.num_classes is not None:  # else a template: metrics.get sets the classes
            size = max(2, self.num_classes)
            self.confusion = self.add_variable((size, size), initializer="zeros",
                                               name="confusion")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = ops.convert_to_tensor(y_pred)
        truth = _true_labels(ops.convert_to_tensor(y_true), y_pred)
        guess = _labels(y_pred, y_pred.shape[-1])
        weight = self._weights(sample_weight, ops.shape(guess), self.dtype)
        size = max(2, self.num_classes)
        onehot_truth = ops.one_hot(ops.reshape(truth, (-1,)), size, dtype=self.dtype)
        onehot_guess = ops.one_hot(ops.reshape(guess, (-1,)), size, dtype=self.dtype)
        weighted = onehot_truth * ops.reshape(weight, (-1, 1))
        self.confusion.assign_add(ops.matmul(ops.transpose(weighted), onehot_guess))

    def result(self):
        matrix = self.confusion
        hits = ops.diagonal(matrix)
        predicted, actual = ops.sum(matrix, axis=0), ops.sum(matrix, axis=1)
        if self.num_classes == 1:  # binary: the positive class only
            hits, predicted, actual = hits[1:], predicted[1:], actual[1:]
        if self.average == "micro":
            hits, predicted, actual = (ops.sum(hits), ops.sum(predicted), ops.sum(actual))
        precision = divide_no_nan(hits, predicted)
        recall = divide_no_nan(hits, actual)
        value = {"precision": precision, "recall": recall,
                 "fscore": divide_no_nan(2 * precision * recall, precision + recall)}
        return average(value[self.kind])

    def get_config(self):
        return {**super().get_config(), "kind": self.kind, "num_classes": self.num_classes,
                "average": self.average}


class LossMetric(_Metric):
    """A :mod:`matkeras.losses` loss as a metric (``testnet(net, X, T, "crossentropy")``):
    its elementwise values averaged over every unpadded element seen. A loss without
    elementwise values (a classic output layer's, :class:`matkeras.layers.Classification`'s
    cross-entropy or :class:`~matkeras.layers.Regression`'s half-MSE): its mini-batch values
    averaged, weighted by the mini-batch's observations, as trainNetwork reports them."""

    def __init__(self, loss, name=None, **kwargs):
        super().__init__(name=name or loss.name, **kwargs)
        self.loss = loss
        self.display = loss.name
        self.total = self.add_variable((), initializer="zeros", name="total")
        self.count = self.add_variable((), initializer="zeros", name="count")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = ops.cast(ops.convert_to_tensor(y_pred), self.dtype)
        if not hasattr(self.loss, "elementwise"):  # a classic output layer's loss
            count = ops.cast(ops.shape(y_pred)[0], self.dtype) if sample_weight is None else \
                ops.sum(ops.cast(sample_weight, self.dtype))
            value = self.loss(y_true, y_pred, sample_weight=sample_weight)
            self.total.assign_add(ops.cast(value, self.dtype) * count)
            self.count.assign_add(count)
            return
        values = self.loss.elementwise(ops.convert_to_tensor(y_true), y_pred)
        weight = self._weights(sample_weight, ops.shape(values), self.dtype)
        self.total.assign_add(ops.sum(values * weight))
        self.count.assign_add(ops.sum(weight))

    def result(self):
        return divide_no_nan(self.total, self.count)


class FunctionMetric(_Metric):
    """A Python function ``metric = f(Y, T)`` (MATLAB's function-handle metric): the mean of
    its mini-batch values, weighted by mini-batch size.

    Args:
        function: ``f(Y, T)`` with keras ops, returning a scalar.
        maximize: whether larger values are better (for ObjectiveMetricName; default False).
    """

    def __init__(self, function, maximize=False, name=None, **kwargs):
        super().__init__(name=name or getattr(function, "__name__", "metric"), **kwargs)
        self.function, self.maximize = function, bool(maximize)
        self.display = self.name
        self.total = self.add_variable((), initializer="zeros", name="total")
        self.count = self.add_variable((), initializer="zeros", name="count")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = ops.convert_to_tensor(y_pred)
        value = ops.cast(self.function(y_pred, ops.cast(y_true, y_pred.dtype)), self.dtype)
        size = ops.cast(ops.shape(y_pred)[0], self.dtype)
        self.total.assign_add(value * size)
        self.count.assign_add(size)

    def result(self):
        return divide_no_nan(self.total, self.count)


NAMES = ("accuracy", "rmse", "mse", "mae", "precision", "recall", "fscore")


def get(metric, num_classes=None, allow_losses=False):
    """A metric object for a MATLAB metric name, a metric object or a function ``f(Y, T)``.

    `num_classes` (the network's output width) is needed by precision, recall and F-score.
    With `allow_losses` (``testnet``) the loss names of :mod:`matkeras.losses` are metrics too.
    """
    from matkeras import losses

    if isinstance(metric, _Metric):
        return _fresh(metric, num_classes)
    if isinstance(metric, str):
        name = metric.lower()
        if name == "accuracy":
            return Accuracy()
        if name in ErrorMetric.KINDS:
            return ErrorMetric(name)
        if name in PrecisionRecallFScore.KINDS:
            return PrecisionRecallFScore(name, num_classes or 2)
        if allow_losses and name in losses.NAMES:
            return LossMetric(losses.get(name))
        if name == "auc":
            raise ValueError("The metric 'auc' (MATLAB aucMetric) is not implemented in "
                             "matkeras; use a function metric f(Y, T) instead.")
        valid = NAMES + (losses.NAMES if allow_losses else ())
        raise ValueError(f"Unknown metric {metric!r}. MATLAB's metric names: "
                         f"{', '.join(valid)}; or pass a function f(Y, T).")
    if callable(metric):
        return FunctionMetric(metric)
    raise TypeError(f"A metric must be a name ({', '.join(NAMES)}) or a function f(Y, T); "
                    f"received {type(metric).__name__}.")


def _fresh(metric, num_classes):
    """A new, reset metric like `metric` (the same object must not serve both the training
    step and the validation), with the network's classes where it needs them."""
    if isinstance(metric, FunctionMetric):
        return FunctionMetric(metric.function, metric.maximize, name=metric.name)
    if isinstance(metric, LossMetric):
        return LossMetric(metric.loss, name=metric.name)
    config = metric.get_config()
    if isinstance(metric, PrecisionRecallFScore) and config["num_classes"] is None:
        config["num_classes"] = num_classes or 2
    return metric.__class__.from_config(config)
