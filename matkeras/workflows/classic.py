"""MATLAB's classic workflow: ``trainNetwork`` (a layer array ending in a classification or
regression layer), on the core both workflows share (:mod:`matkeras.training`: the options, the
mini-batches, the solver and ``model.fit``; :mod:`matkeras.validation`). Prediction, stateful
prediction and ``classify`` are :mod:`matkeras.inference`'s; the current workflow (``trainnet``)
is :mod:`matkeras.workflows.current`.
"""

import keras
import numpy as np

from matkeras.categorical import class_names, encode_labels
from matkeras.training import (
    CURRENT_ONLY,
    TrainingOptions,
    adapt_input_normalization,
    new_file,
    option_defaults,
    options_dataset,
    run_fit,
    validation_dataset,
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

    if not isinstance(options, TrainingOptions):
        raise TypeError("options must come from trainingOptions(...); received "
                        f"{type(options).__name__}.")
    _warn_other_era(options, CURRENT_ONLY, "trainNetwork", "trainnet")
    if options.Seed is not None:
        keras.utils.set_random_seed(int(options.Seed))
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
        adapt_input_normalization(model, X, options, layout)
        data = options_dataset(X, targets, options, layout)
        validation = None
        if options.ValidationData is not None:
            vx, vy = options.ValidationData
            vtargets, _ = _targets(vy, classify, output, classes=output.classes
                                   if classify else None)
            validation = validation_dataset(vx, vtargets, options, data.chunked, layout)
    metrics = ["accuracy"] if classify else [keras.metrics.RootMeanSquaredError(name="rmse")]
    callbacks = []
    validator = plot = None
    if validation is not None:
        from matkeras.validation import ValidationMonitor

        validator = ValidationMonitor(validation, options.ValidationFrequency, output.loss,
                                      ["accuracy" if classify else "rmse"],
                                      model.outputs[0].shape[-1])
        callbacks.append(validator)
    if options.Plots == "training-progress":
        plot = TrainingProgressPlot(options.PlotsPath, validator)
        callbacks.append(plot)
    run_fit(model, data, options, output.loss, metrics, callbacks)
    if validator is not None:
        validator.finish()  # the validation after the last iteration
        model.history.validation = validator.table
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
    """(targets for SequenceDataset, class names or None). Class order is MATLAB's
    ``categorical``'s (:func:`matkeras.categorical.class_names`: numbers by value, text as
    MATLAB sorts it, a pandas Categorical's own order; the one encoder trainnet uses too); the
    names are text, as MATLAB's categories are."""
    if isinstance(Y, (list, tuple)) and Y and np.ndim(Y[0]) >= 1:  # per-step targets
        arrays = [np.asarray(y) for y in Y]
        if not classify:
            return [a.astype("float32") for a in arrays], None
        names = classes or _text(class_names(np.concatenate([np.ravel(a) for a in arrays])))
        return [_encode(a, names) for a in arrays], names
    if not classify:
        return np.asarray(Y).astype("float32"), None
    if hasattr(Y, "codes") or hasattr(Y, "cat"):  # pandas: its own category order
        codes, own = encode_labels(Y, None, "Y")
        if classes is None:
            return np.ravel(codes), _text(own)
        Y = np.asarray(own, dtype=object)[np.ravel(codes)]
    array = np.asarray(Y)
    names = classes or _text(class_names(array))
    return np.ravel(_encode(array, names)), names


def _text(names):
    return [str(name) for name in names]


def _encode(labels, names):
    """Class indices of `labels` among the text class `names` (labels compared as text)."""
    labels = np.asarray(labels)
    text = np.asarray([str(v) for v in labels.ravel()]).reshape(labels.shape)
    try:
        return encode_labels(text, names, "Y")[0]
    except ValueError:
        unknown = sorted({str(v) for v in text.ravel()} - set(names))
        raise ValueError(f"Labels {unknown} are not among the training classes {names}.") \
            from None


class TrainingProgressPlot(keras.callbacks.Callback):
    """MATLAB's ``Plots="training-progress"``: accuracy (or RMSE) and loss per iteration, with
    validation points, drawn by :meth:`finish` after training and written to `path` (a new
    file)."""

    def __init__(self, path=None, validator=None):
        super().__init__()
        self.path, self.validator = path, validator
        self.records = []
        self.figure = None

    def on_train_batch_end(self, batch, logs=None):
        self.records.append(dict(logs or {}))

    def finish(self):
        """Draws the figure and writes it (once, after every fit of the training ran)."""
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        iterations = np.arange(1, len(self.records) + 1)
        figure, (top, bottom) = plt.subplots(2, 1, figsize=(8, 6), sharex=True)
        metric = "accuracy" if any("accuracy" in r for r in self.records) else "rmse"
        scale = 100.0 if metric == "accuracy" else 1.0
        top.plot(iterations, [scale * r.get(metric, np.nan) for r in self.records],
                 label="training")
        bottom.plot(iterations, [r.get("loss", np.nan) for r in self.records],
                    label="training", color="tab:orange")
        if self.validator is not None and self.validator.iterations:
            if metric == "accuracy":
                top.plot(self.validator.iterations,
                         [100 * a for a in self.validator.accuracy], "k--o", label="validation")
            bottom.plot(self.validator.iterations, self.validator.loss, "k--o",
                        label="validation")
        top.set_ylabel("Accuracy (%)" if metric == "accuracy" else "RMSE")
        bottom.set_ylabel("Loss")
        bottom.set_xlabel("Iteration")
        top.legend()
        bottom.legend()
        figure.suptitle("Training progress")
        self.figure = figure
        self.path = new_file(self.path or "training-progress.png")
        figure.savefig(self.path, dpi=100, bbox_inches="tight")
        plt.close(figure)
        print(f"[matkeras] training progress plot: {self.path}")
