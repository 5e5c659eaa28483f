"""Validation during training, the MATLAB way, for trainNetwork and trainnet alike: one callback
(:class:`ValidationMonitor`)."""

import time

import keras
import numpy as np

from matkeras import losses as L
from matkeras import metrics as M
from matkeras._table import Table

__all__ = ["STOP_VALIDATION", "ValidationMonitor"]

STOP_VALIDATION = "Met validation criterion"


class ValidationMonitor(keras.callbacks.Callback):
    """MATLAB's ValidationFrequency for both training functions: validation rows every
    `frequency` iterations and after the last one (:meth:`finish`), the best network so far
    (OutputNetwork), and ValidationPatience.

    The loss is the training loss (a classification or regression layer's for trainNetwork,
    trainnet's named loss), the metrics are trainingOptions' Metrics (trainNetwork: accuracy or
    RMSE), computed over the validation mini-batches in order from the layers' initial states.
    Call :meth:`finish` after training, not ``on_train_end``: training that runs one
    ``model.fit`` per epoch ends a fit every epoch. `history`, when given, is trainnet's
    iteration history (its epoch, clock and stop reason are shared)."""

    def __init__(self, dataset, frequency, loss, metric_specs, num_classes, history=None,
                 objective="loss", patience=float("inf"), keep_best=False):
        super().__init__()
        self.dataset, self.frequency = dataset, int(frequency)
        self.iterations, self.loss, self.accuracy = [], [], []
        self._iteration, self.epoch, self.start, self.stop_reason = 0, 0, None, None
        self.loss_metric = (M.FunctionMetric(loss.function, name="loss")
                            if isinstance(loss, L.FunctionLoss) else M.LossMetric(loss))
        self.metrics = [M.get(spec, num_classes) for spec in metric_specs]
        self.history, self.keep_best = history, keep_best
        self.patience = patience
        names = {"loss": (0, False)}
        for index, metric in enumerate(self.metrics, start=1):
            names[metric.name.lower()] = (index, metric.maximize)
            names[metric.display.lower()] = (index, metric.maximize)
        if objective.lower() not in names:
            raise ValueError(f"trainingOptions: ObjectiveMetricName {objective!r} is not 'loss' "
                             f"or one of the Metrics {[m.name for m in self.metrics]}.")
        self.objective = names[objective.lower()]
        self.table = Table(["Iteration", "Epoch", "TimeElapsed", "Loss",
                            *[m.display for m in self.metrics]])
        self.best, self.best_iteration, self.best_weights, self.waited = None, 0, None, 0

    def on_train_begin(self, logs=None):
        if self.start is None:
            self.start = time.perf_counter()

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch + 1

    def on_train_batch_end(self, batch, logs=None):
        self._iteration += 1
        if self._iteration % self.frequency == 0:
            self._validate()

    def finish(self):
        """The last validation (unless the last iteration had one), then the best weights
        back in the model when OutputNetwork is best-validation. Returns the iteration of the
        weights the model holds."""
        if not self.iterations or self.iterations[-1] != self._iteration:
            self._validate()
        if self.keep_best and self.best_weights is not None:
            self.model.set_weights(self.best_weights)
            return self.best_iteration
        return self._iteration

    def _validate(self):
        tracked = [self.loss_metric, *self.metrics]
        for metric in tracked:
            metric.reset_state()
        for index in range(len(self.dataset)):
            batch = self.dataset[index]
            x, y = batch[0], batch[1]
            weight = batch[2] if len(batch) > 2 else None
            scores = self.model(x, training=False)
            for metric in tracked:
                metric.update_state(y, scores, sample_weight=weight)
        values = [float(keras.ops.convert_to_numpy(m.result())) for m in tracked]
        self.iterations.append(self._iteration)
        self.loss.append(values[0])
        accuracy = [v for m, v in zip(self.metrics, values[1:], strict=True)
                    if isinstance(m, M.Accuracy)]
        self.accuracy.append(accuracy[0] / 100 if accuracy else np.nan)
        epoch, elapsed = ((self.history.epoch, self.history.elapsed()) if self.history else
                          (self.epoch, time.perf_counter() - self.start))
        self.table.append([self._iteration, epoch, elapsed, *values])
        index, maximize = self.objective
        value = values[index]
        better = self.best is None or (value > self.best if maximize else value < self.best)
        if better and np.isfinite(value):
            self.best, self.best_iteration, self.waited = value, self._iteration, 0
            if self.keep_best:
                self.best_weights = [np.array(w) for w in self.model.get_weights()]
        else:
            self.waited += 1
            if self.waited >= self.patience:
                self.stop_reason = STOP_VALIDATION
                if self.history is not None:
                    self.history.stop_reason = STOP_VALIDATION
                self.model.stop_training = True


class ValidateEvery(ValidationMonitor):
    """Deprecated (``matkeras.training.ValidateEvery`` before the one-core release; it goes in
    the next release): :class:`ValidationMonitor` with the old arguments ``(dataset,
    frequency)``, the model's own loss, accuracy for a classifier (integer labels, several
    scores), and the last validation when training ends."""

    def __init__(self, dataset, frequency):
        keras.callbacks.Callback.__init__(self)
        self._arguments = (dataset, frequency)

    def set_model(self, model):
        dataset, frequency = self._arguments
        classes = int(model.outputs[0].shape[-1]) if getattr(model, "outputs", None) else 1
        ValidationMonitor.__init__(self, dataset, frequency, model.loss,
                                   ["accuracy"] if classes > 1 else [], classes)
        super().set_model(model)

    def on_train_end(self, logs=None):
        self.finish()
