"""MATLAB's ``trainnet`` (R2023b+): training with a named loss, on the same machinery as
``trainNetwork`` (:func:`matkeras.training.run_fit`: the same mini-batches, solver and
``model.fit``), returning the network and MATLAB's training information.

MATLAB documents trainnet at mathworks.com/help/deeplearning/ref/trainnet.html. What differs
from trainNetwork: the network has no output layer (the loss is an argument,
:mod:`matkeras.losses`); sequences are s-by-c, time by channels (:mod:`matkeras.data.formats`);
the information returned holds one row per iteration (``TrainingHistory``) and per validation
(``ValidationHistory``), with the ``Metrics`` of the options (:mod:`matkeras.metrics`), the
iteration of the network returned (``OutputNetworkIteration``: ``OutputNetwork`` is
``"best-validation"`` or ``"last-iteration"``) and why training stopped (``StopReason``:
``"Max epochs completed"``, ``"Met validation criterion"`` after ValidationPatience
validations without improvement, ``"Training loss is NaN"``).

Validation runs every ValidationFrequency iterations and after the last one, from the layers'
initial states, over the validation set in order; a validation improves on the best so far when
its ObjectiveMetricName value is strictly better (lower loss/RMSE, higher accuracy/F-score).
"""

import time

import keras
import numpy as np

from matkeras import losses as L
from matkeras import metrics as M
from matkeras._table import Table
from matkeras.training import ValidateEvery

__all__ = ["TrainingInfo", "trainnet"]

STOP_MAX_EPOCHS = "Max epochs completed"
STOP_VALIDATION = "Met validation criterion"
STOP_NAN = "Training loss is NaN"


class TrainingInfo:
    """MATLAB's ``TrainingInfo`` (the second output of trainnet).

    Attributes:
        TrainingHistory: a :class:`~matkeras._table.Table`, one row per iteration: Iteration,
            Epoch, TimeElapsed (seconds), LearnRate, Loss and one column per metric.
        ValidationHistory: one row per validation: Iteration, Epoch, TimeElapsed, Loss and the
            metrics (empty without ValidationData).
        OutputNetworkIteration: the iteration whose weights the returned network holds.
        StopReason: why training stopped.
        ClassNames: the class order used for categorical targets (MATLAB's
            ``categories(TTrain)``; a matkeras addition), else None.
    """

    def __init__(self, training, validation, iteration, reason, classes):
        self.TrainingHistory = training
        self.ValidationHistory = validation
        self.OutputNetworkIteration = iteration
        self.StopReason = reason
        self.ClassNames = classes
        self.PlotPath = None  # where Plots="training-progress" wrote the figure

    def show(self, path=None):
        """The training progress figure (MATLAB ``show(info)``; see
        :func:`matkeras.plot.training_progress`)."""
        from matkeras.plot import training_progress

        return training_progress(self, path=path)

    def __repr__(self):
        return (f"TrainingInfo: {len(self.TrainingHistory)} iterations, "
                f"{len(self.ValidationHistory)} validations, OutputNetworkIteration "
                f"{self.OutputNetworkIteration}, StopReason {self.StopReason!r}")


class IterationHistory(keras.callbacks.Callback):
    """One TrainingHistory row per iteration: the mini-batch's loss and metrics (Keras's
    running metrics are reset before every iteration, so its logs hold that batch alone)."""

    def __init__(self, displays):
        super().__init__()
        self.displays = displays  # metric name in logs -> column
        self.table = Table(["Iteration", "Epoch", "TimeElapsed", "LearnRate", "Loss",
                            *displays.values()])
        self.iteration, self.epoch, self.start, self.stop_reason = 0, 0, None, None

    def elapsed(self):
        return time.perf_counter() - self.start

    def on_train_begin(self, logs=None):
        if self.start is None:
            self.start = time.perf_counter()

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch + 1

    def on_train_batch_begin(self, batch, logs=None):
        self.model.reset_metrics()

    def on_train_batch_end(self, batch, logs=None):
        logs = logs or {}
        self.iteration += 1
        loss = float(logs.get("loss", np.nan))
        rate = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        self.table.append([self.iteration, self.epoch, self.elapsed(), rate, loss,
                           *[float(logs.get(name, np.nan)) for name in self.displays]])
        if not np.isfinite(loss):
            self.stop_reason = STOP_NAN
            self.model.stop_training = True


class ValidationMonitor(ValidateEvery):
    """Validation rows every `frequency` iterations, the best network so far, and MATLAB's
    ValidationPatience. Call :meth:`finish` after training (not ``on_train_end``, which
    trainnet's one-fit-per-epoch mode calls every epoch)."""

    def __init__(self, dataset, frequency, loss, metric_specs, num_classes, history,
                 objective="loss", patience=float("inf"), keep_best=False):
        super().__init__(dataset, frequency)
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

    def on_train_end(self, logs=None):
        pass  # see finish()

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
        self.table.append([self._iteration, self.history.epoch, self.history.elapsed(), *values])
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
                self.history.stop_reason = STOP_VALIDATION
                self.model.stop_training = True


def _write_progress_plot(info, path):
    """``Plots="training-progress"``: the figure of the training information, written when
    training ends to `path` (default ``training-progress.png``; never overwriting a file)."""
    from matkeras.plot import training_progress
    from matkeras.training import _new_file

    path = _new_file(path or "training-progress.png")
    training_progress(info, path=path)
    print(f"[matkeras] training progress plot: {path}")
    return path


def trainnet(X, T, net, lossFcn, options):
    """MATLAB's ``[netTrained, info] = trainnet(X, T, net, lossFcn, options)``.

    Args:
        X: sequences: a list of ``(T_n, C)`` arrays (MATLAB's s-by-c cells), an ``(N, T, C)``
            array, or what ``options.InputDataFormats`` names (:mod:`matkeras.data.formats`).
        T: targets: labels (one per observation, or one array per sequence), a pandas
            Categorical, one-hot/probability rows ``(N, K)``, responses ``(N, R)``, or a list
            of per-step responses ``(T_n, R)``.
        net: a layer array without output layer (the last layer gives the scores:
            ``softmaxLayer`` for cross-entropy), a :class:`~matkeras.dlnetwork.DLNetwork`, or a
            ``keras.Model`` (such as a loaded MATLAB dlnetwork; fine-tuned in place).
        lossFcn: a loss name (:data:`matkeras.losses.NAMES`) or a function ``f(Y, T)``.
        options: from ``trainingOptions`` (:func:`matkeras.training.training_options`).

    Returns:
        ``(net, info)``: the trained network and a :class:`TrainingInfo`. A layer array gives
        a new :class:`~matkeras.dlnetwork.DLNetwork`; a DLNetwork or a ``keras.Model`` is
        trained in place and comes back itself (networks are handles in matkeras).

    Example:
        >>> from matkeras.matlab import *  # doctest: +SKIP
        >>> layers = [sequenceInputLayer(12), lstmLayer(100, OutputMode="last"),
        ...           fullyConnectedLayer(9), softmaxLayer()]
        >>> net, info = trainnet(XTrain, TTrain, layers, "crossentropy",
        ...                      trainingOptions("adam", Metrics="accuracy"))
    """
    from matkeras import training
    from matkeras.data import SequenceDataset
    from matkeras.dlnetwork import as_model, as_network

    if not isinstance(options, training.TrainingOptions):
        raise TypeError("trainnet: options must come from trainingOptions(...); received "
                        f"{type(options).__name__}.")
    if options.Seed is not None:
        keras.utils.set_random_seed(int(options.Seed))
    net = as_network(net, "trainnet", refuse_output_layers=True)
    model = as_model(net, "trainnet")
    loss = L.get(lossFcn)
    classes = None
    outputs = model.outputs[0].shape[-1] if getattr(model, "outputs", None) else None
    if isinstance(X, SequenceDataset):
        data, validation = X, None
    else:
        sequences = _sequences(model, X, options.InputDataFormats)
        targets, classes = prepare_targets(T, loss, outputs, options.TargetDataFormats)
        _check_sequence_targets(model, targets)
        training.adapt_input_normalization(model, sequences, options)
        data = training.options_dataset(sequences, targets, options)
        validation = None
        if options.ValidationData is not None:
            vx, vt = options.ValidationData
            vtargets, _ = prepare_targets(vt, loss, outputs, options.TargetDataFormats,
                                          classes=classes, what="ValidationData targets")
            validation = training.validation_dataset(
                _sequences(model, vx, options.InputDataFormats), vtargets, options,
                data.chunked)
    specs = _metric_specs(options.Metrics)
    compiled = [M.get(spec, outputs) for spec in specs]
    history = IterationHistory({m.name: m.display for m in compiled})
    callbacks = [history]
    monitor = None
    keep_best = options.OutputNetwork in ("best-validation", "best-validation-loss") or (
        options.OutputNetwork == "auto" and validation is not None)
    if validation is not None:
        monitor = ValidationMonitor(validation, options.ValidationFrequency, loss, specs,
                                    outputs, history, options.ObjectiveMetricName,
                                    options.ValidationPatience, keep_best)
        callbacks.append(monitor)
    elif keep_best and options.OutputNetwork != "auto":
        raise ValueError("trainingOptions: OutputNetwork 'best-validation' needs ValidationData.")
    training.run_fit(model, data, options, loss, compiled, callbacks)
    iteration = monitor.finish() if monitor is not None else history.iteration
    validation_table = monitor.table if monitor is not None else Table(
        ["Iteration", "Epoch", "TimeElapsed", "Loss", *[m.display for m in compiled]])
    info = TrainingInfo(history.table, validation_table, iteration,
                        history.stop_reason or STOP_MAX_EPOCHS, classes)
    if options.Plots == "training-progress":
        info.PlotPath = _write_progress_plot(info, options.PlotsPath)
    return net, info


def _metric_specs(metrics):
    if metrics is None:
        return []
    return list(metrics) if isinstance(metrics, (list, tuple)) else [metrics]


def _sequences(model, X, formats):
    """The observations of X as (T, C) arrays (a list), after InputDataFormats."""
    from matkeras.data.formats import read_sequences
    from matkeras.inference import _observations

    return _observations(model, read_sequences(X, formats), "TC")[0]


def _check_sequence_targets(model, targets):
    output_rank = len(model.outputs[0].shape) if getattr(model, "outputs", None) else None
    per_step = isinstance(targets, list)
    if output_rank is None:
        return
    if per_step and output_rank < 3:
        raise ValueError("trainnet: the targets are sequences (one per time step) but the "
                         "network outputs one value per observation; set OutputMode "
                         "'sequence' on the last recurrent layer, or pass one target per "
                         "observation.")
    if not per_step and output_rank >= 3:
        raise ValueError("trainnet: the targets have one value per observation but the network "
                         "outputs a sequence; set OutputMode 'last' on the last recurrent "
                         "layer, or pass one target array per sequence.")


def _is_label_array(T):
    from matkeras.categorical import _is_categorical

    if _is_categorical(T) or (hasattr(T, "cat") and hasattr(T, "array")):
        return True
    return np.asarray(T).dtype.kind not in "fc"


def prepare_targets(T, loss, outputs=None, formats="auto", classes=None, what="targets"):
    """Targets for the SequenceDataset and the class names: labels become class indices
    (cross-entropy) or one-hot rows (binary cross-entropy, custom losses); numbers pass
    through (after TargetDataFormats). Raises when the classes do not match the outputs."""
    from matkeras.categorical import encode_labels
    from matkeras.data.formats import read_targets

    per_step = isinstance(T, (list, tuple)) and len(T) > 0 and np.ndim(T[0]) >= 1
    items = list(T) if per_step else [T]
    labels = all(_is_label_array(t) for t in items)
    task = loss.task
    if labels and task == "regression":
        raise ValueError(f"trainnet: {what} are labels (categorical) but the loss "
                         f"{loss.name!r} is a regression loss; use 'crossentropy' or numeric "
                         "targets.")
    if not labels:
        if task == "classification" and loss.name == "index_crossentropy":
            raise ValueError(f"trainnet: 'index-crossentropy' takes class labels; {what} are "
                             "numeric. Pass labels, or use 'crossentropy' for one-hot targets.")
        T = read_targets(T, formats)
        if per_step:
            return [np.asarray(t, dtype="float32") for t in T], classes
        array = np.asarray(T, dtype="float32")
        return (array[:, None] if array.ndim == 1 else array), classes
    if per_step:
        names = classes if classes is not None else _union_classes(items)
        indices = [encode_labels(np.ravel(t), names, what)[0] for t in items]
    else:
        indices, names = encode_labels(T, classes, what)
        indices = np.ravel(indices)
    if outputs is not None and len(names) != outputs and not (
            task == "binary" and len(names) == 2 and outputs == 1):
        raise ValueError(
            f"trainnet: {what} have {len(names)} classes {[str(n) for n in names][:20]} but "
            f"the network outputs {outputs} values; the last fullyConnectedLayer's OutputSize "
            "must equal the number of classes.")
    if task == "classification":
        return indices, list(names)
    width = 1 if (task == "binary" and len(names) == 2 and outputs == 1) else len(names)

    def encode(index):
        return (index == 1).astype("float32")[..., None] if width == 1 else \
            np.eye(width, dtype="float32")[index]

    return ([encode(i) for i in indices] if per_step else encode(indices)), list(names)


def _union_classes(items):
    from matkeras.categorical import class_names

    return class_names(np.concatenate([np.ravel(np.asarray(t)) for t in items]))
