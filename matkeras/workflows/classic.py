"""MATLAB's classic workflow: ``trainNetwork`` (a layer array ending in a classification or
regression layer), on the core both workflows share (:mod:`matkeras.training`: the options, the
mini-batches, the solver and ``model.fit``; :mod:`matkeras.validation`). Prediction, stateful
prediction and ``classify`` are :mod:`matkeras.inference`'s; the current workflow (``trainnet``)
is :mod:`matkeras.workflows.current`.
"""

import keras
import numpy as np

from matkeras.categorical import encode_classes
from matkeras.training import (
    CURRENT_ONLY,
    is_chief,
    new_file,
    on_devices,
    option_defaults,
    run_fit,
    start_training,
    strategy_for,
    training_datasets,
)

__all__ = ["TrainingProgressPlot", "train_network"]


def train_network(X, Y, layers, options, layout="TC"):
    """MATLAB's ``trainNetwork(X, Y, layers, options)``: returns the trained ``keras.Model``.

    Args:
        X: a list of ``(T_i, C)`` sequences (Keras layout; MATLAB's ``C x T`` cells transposed),
            or a :class:`~matkeras.data.SequenceDataset`/``Datastore`` with its targets (then
            `Y` is None and the options' sequence settings are not used).
        Y: labels, one per observation (strings or integers: classification, classes in
            sorted order as MATLAB's ``categorical``), responses ``(N, R)``, or a list of
            per-step targets (sequence-to-sequence).
        layers: a MATLAB layer array (ending in a classification or regression layer) or a
            ``keras.Model`` built from one.
        options: from :func:`training_options` (``matkeras.matlab.trainingOptions``).
        layout: ``"TC"`` (Keras) or ``"CT"`` (MATLAB's ``C x T`` matrices) for X.

    The history (loss, accuracy per epoch) is in ``model.history.history``, the validations
    (ValidationFrequency, :class:`matkeras.validation.ValidationMonitor`) in
    ``model.history.validation`` (Iteration, Epoch, TimeElapsed, Loss, accuracy or RMSE).
    With ``Plots="training-progress"`` the figure is written to ``PlotsPath`` (default
    ``training-progress.png``, never overwriting a file).
    """
    from matkeras.data import SequenceDataset
    from matkeras.layers import Classification, Regression
    from matkeras.network import assemble_network

    start_training(options, "trainNetwork")
    strategy = strategy_for(options, "trainNetwork")
    _warn_other_era(options, CURRENT_ONLY, "trainNetwork", "trainnet")
    from matkeras.network import LayerGraph

    model = layers if isinstance(layers, keras.Model) else assemble_network(
        layers if isinstance(layers, LayerGraph) else list(layers), compile=False)
    output = model.layers[-1]
    if not isinstance(output, (Classification, Regression)):
        raise ValueError("trainNetwork needs a network that ends in a classification or "
                         f"regression layer; it ends in {type(output).__name__}.")
    classify = isinstance(output, Classification)
    if isinstance(X, SequenceDataset):
        data, validation = X, None
    else:
        targets, classes = _targets(Y, classify, output)
        if classes is not None and output.classes is None:
            output.classes = classes
        data, validation = training_datasets(
            model, X, targets, options, lambda vy: _targets(
                vy, classify, output, classes=output.classes if classify else None)[0], layout)
    metrics = ["accuracy"] if classify else [keras.metrics.RootMeanSquaredError(name="rmse")]
    callbacks = []
    validator = plot = None
    if validation is not None:
        from matkeras.validation import ValidationMonitor

        validator = ValidationMonitor(validation, options.ValidationFrequency, output.loss,
                                      ["accuracy" if classify else "rmse"],
                                      model.outputs[0].shape[-1])
        callbacks.append(validator)
    if options.Plots == "training-progress" and is_chief():  # one figure for all workers
        plot = TrainingProgressPlot(options.PlotsPath, validator)
        callbacks.append(plot)
    with on_devices(strategy, model) as trained:  # ExecutionEnvironment="multi-gpu"
        run_fit(trained, data, options, output.loss, metrics, callbacks)
        if validator is not None:
            validator.finish()  # the validation after the last iteration
            trained.history.validation = validator.table
    if plot is not None:
        plot.finish()
    return model


def _warn_other_era(options, names, function, other):
    """One warning naming the options of the other era that are set and have no effect."""
    defaults = option_defaults(options.Solver)
    changed = [name for name in names if getattr(options, name) != defaults[name]]
    if changed:
        import warnings

        warnings.warn(f"{function} does not use {', '.join(changed)} (trainingOptions of "
                      f"MATLAB's {other}); they have no effect here.", UserWarning,
                      stacklevel=3)


def _targets(Y, classify, output, classes=None):
    """(targets for SequenceDataset, class names or None): labels through the one encoder
    (:func:`matkeras.categorical.encode_classes`, trainnet's too)."""
    per_step = isinstance(Y, (list, tuple)) and len(Y) > 0 and np.ndim(Y[0]) >= 1
    if not classify:
        if per_step:
            return [np.asarray(y).astype("float32") for y in Y], None
        return np.asarray(Y).astype("float32"), None
    indices, names = encode_classes(Y, classes or None, "Y", per_sequence=per_step)
    return (indices if per_step else np.ravel(indices)), names


class TrainingProgressPlot(keras.callbacks.Callback):
    """MATLAB's ``Plots="training-progress"``: accuracy (or RMSE) and loss per iteration, with
    validation points, drawn by :meth:`finish` after training and written to `path` (a new
    file), by the figure trainnet draws (:func:`matkeras.plot.training_progress`)."""

    def __init__(self, path=None, validator=None):
        super().__init__()
        self.path, self.validator = path, validator
        self.records = []
        self.figure = None

    def on_train_batch_end(self, batch, logs=None):
        self.records.append(dict(logs or {}))

    def finish(self):
        """Draws the figure and writes it (once, after every fit of the training ran)."""
        import types

        from matkeras._table import Table
        from matkeras.plot import training_progress

        accuracy = any("accuracy" in r for r in self.records)
        metric, scale = ("Accuracy", 100.0) if accuracy else ("RMSE", 1.0)
        history = Table(["Iteration", "Loss", metric], [
            [k, r.get("loss", np.nan), scale * r.get(metric.lower(), np.nan)]
            for k, r in enumerate(self.records, start=1)])
        validation = (self.validator.table if self.validator is not None
                      else Table(["Iteration", "Loss", metric]))
        info = types.SimpleNamespace(TrainingHistory=history, ValidationHistory=validation,
                                     OutputNetworkIteration=None,
                                     StopReason=getattr(self.model, "stop_reason", None)
                                     or "Max epochs completed")
        self.path = new_file(self.path or "training-progress.png")
        self.figure = training_progress(info, path=self.path)
        print(f"[matkeras] training progress plot: {self.path}")
