"""Training the MATLAB way on ``model.fit``: split-sequence training with carried state,
``trainingOptions`` and ``trainNetwork``.

MATLAB's integer ``SequenceLength`` pads each mini-batch to its longest sequence and cuts it into
chunks of L steps; every chunk is one iteration (one optimizer step), the recurrent states are
carried from chunk to chunk (the forward half only for BiLSTM) with the gradient truncated at the
chunk border, and a new mini-batch starts from the layers' initial states.
:class:`matkeras.data.SequenceDataset` makes the chunks;
:class:`matkeras.data.carry.CarryStateBetweenChunks` carries the state while ``model.fit`` runs
them (TensorFlow backend).
"""

import keras
import numpy as np

from matkeras.categorical import class_names, encode_labels
from matkeras.data.carry import CarryStateBetweenChunks, ChunkCarry  # noqa: F401  (their old home)

__all__ = ["CarryStateBetweenChunks", "TrainingOptions", "train_network", "training_options"]


# -- trainingOptions / trainNetwork -------------------------------------------------------------

SOLVERS = ("sgdm", "adam", "rmsprop")
THRESHOLD_METHODS = {"l2norm": "clipnorm", "global-l2norm": "global_clipnorm",
                     "absolute-value": "clipvalue"}


def _defaults(solver):
    return {
        "MaxEpochs": 30, "MiniBatchSize": 128,
        "InitialLearnRate": 0.01 if solver == "sgdm" else 0.001,
        "LearnRateSchedule": "none", "LearnRateDropFactor": 0.1, "LearnRateDropPeriod": 10,
        "GradientThreshold": float("inf"), "GradientThresholdMethod": "l2norm",
        "L2Regularization": 1e-4, "Shuffle": "once", "ValidationData": None,
        "ValidationFrequency": 50, "SequenceLength": "longest", "SequencePaddingValue": 0.0,
        "SequencePaddingDirection": "right", "Plots": "none", "Verbose": True,
        "VerboseFrequency": 50, "Momentum": 0.9, "GradientDecayFactor": 0.9,
        "SquaredGradientDecayFactor": 0.999 if solver == "adam" else 0.9, "Epsilon": 1e-8,
        "ResetInputNormalization": True, "ExecutionEnvironment": "auto",
        # the trainnet era (R2023b+): metrics, validation stopping, the network returned, data
        # formats; Acceleration is accepted (TensorFlow compiles the step itself)
        "Metrics": None, "ObjectiveMetricName": "loss", "ValidationPatience": float("inf"),
        "OutputNetwork": "auto", "InputDataFormats": "auto", "TargetDataFormats": "auto",
        "Acceleration": "auto",
        # matkeras additions: where the progress figure goes, and the shuffles' seed
        "PlotsPath": None, "Seed": None,
    }


class TrainingOptions:
    """MATLAB's ``trainingOptions`` object: the solver and its name-value options, read as
    attributes with MATLAB's names (``options.MaxEpochs``)."""

    def __init__(self, solver, **options):
        self.__dict__["Solver"] = solver
        self.__dict__["_values"] = options

    def __getattr__(self, name):
        try:
            return self.__dict__["_values"][name]
        except KeyError:
            raise AttributeError(f"trainingOptions has no option {name!r}.") from None

    def __setattr__(self, name, value):
        if name not in self._values:
            raise AttributeError(f"trainingOptions has no option {name!r}.")
        self._values[name] = value

    def __repr__(self):
        lines = [f"TrainingOptions({self.Solver!r})"]
        lines += [f"  {key}: {value!r}" for key, value in self._values.items()
                  if key != "ValidationData" or value is None]
        return "\n".join(lines)


def training_options(solver, **options):
    """MATLAB's ``trainingOptions(solverName, Name=Value)`` (names case-insensitive).

    Solvers: ``"sgdm"``, ``"adam"``, ``"rmsprop"`` (:mod:`matkeras.optimizers`). Options:
    MaxEpochs, MiniBatchSize, InitialLearnRate, LearnRateSchedule ("none"/"piecewise"),
    LearnRateDropFactor, LearnRateDropPeriod, GradientThreshold, GradientThresholdMethod
    ("l2norm" per parameter, the default; "global-l2norm"; "absolute-value"), L2Regularization,
    Shuffle, ValidationData ``(X, Y)``, ValidationFrequency (iterations), SequenceLength,
    SequencePaddingValue, SequencePaddingDirection, Plots ("none"/"training-progress"),
    Verbose, VerboseFrequency, Momentum, GradientDecayFactor, SquaredGradientDecayFactor,
    Epsilon, ResetInputNormalization, ExecutionEnvironment ("auto"/"cpu"/"gpu": TensorFlow
    places work itself); and two matkeras additions: PlotsPath (where the progress figure is
    written) and Seed (for the shuffles).

    The trainnet era's options (used by :func:`matkeras.trainnet.trainnet`): Metrics (a name,
    a function ``f(Y, T)`` or a list; see :mod:`matkeras.metrics`), ObjectiveMetricName
    ("loss" or one of the Metrics), ValidationPatience (Inf), OutputNetwork ("auto",
    "last-iteration", "best-validation"; "auto" is "best-validation" with ValidationData),
    InputDataFormats/TargetDataFormats ("auto" or e.g. "TCB", "CTB";
    :mod:`matkeras.data.formats`), Acceleration ("auto"/"none", accepted). trainNetwork
    ignores them.
    """
    if not isinstance(solver, str) or solver.lower() not in SOLVERS:
        raise ValueError(f"trainingOptions: solverName must be one of {SOLVERS}; received "
                         f"{solver!r}.")
    solver = solver.lower()
    values = _defaults(solver)
    lookup = {name.lower(): name for name in values}
    for name, value in options.items():
        canonical = lookup.get(str(name).lower())
        if canonical is None:
            raise ValueError(f"trainingOptions: unknown option {name!r}. Valid options: "
                             f"{', '.join(sorted(values))}.")
        values[canonical] = value
    _check_options(values)
    return TrainingOptions(solver, **values)


def _check_options(values):
    def positive_int(name):
        value = values[name]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"trainingOptions: {name} must be a positive integer; received "
                             f"{value!r}.")

    for name in ("MaxEpochs", "MiniBatchSize", "LearnRateDropPeriod", "ValidationFrequency",
                 "VerboseFrequency"):
        positive_int(name)
    for name in ("InitialLearnRate", "GradientThreshold", "Epsilon"):
        if not float(values[name]) > 0:
            raise ValueError(f"trainingOptions: {name} must be positive; received "
                             f"{values[name]!r}.")
    for name, allowed in (("LearnRateSchedule", ("none", "piecewise")),
                          ("GradientThresholdMethod", tuple(THRESHOLD_METHODS)),
                          ("Shuffle", ("once", "never", "every-epoch")),
                          ("SequencePaddingDirection", ("right", "left")),
                          ("Plots", ("none", "training-progress")),
                          ("ExecutionEnvironment", ("auto", "cpu", "gpu")),
                          ("OutputNetwork", OUTPUT_NETWORKS),
                          ("Acceleration", ("auto", "none"))):
        if values[name] not in allowed:
            raise ValueError(f"trainingOptions: {name} must be one of {allowed}; received "
                             f"{values[name]!r}.")
    length = values["SequenceLength"]
    if length not in ("longest", "shortest") and (
            isinstance(length, bool) or not isinstance(length, int) or length < 1):
        raise ValueError("trainingOptions: SequenceLength must be 'longest', 'shortest' or a "
                         f"positive integer; received {length!r}.")
    _check_current_options(values)
    if values["ValidationData"] is not None and (
            not isinstance(values["ValidationData"], (tuple, list))
            or len(values["ValidationData"]) != 2):
        raise ValueError("trainingOptions: ValidationData must be {X, Y}: a (X, Y) pair.")


OUTPUT_NETWORKS = ("auto", "last-iteration", "best-validation", "best-validation-loss")


def _check_current_options(values):
    """The trainnet era's options (names of metrics are checked by trainnet, which knows the
    network's outputs)."""
    patience = values["ValidationPatience"]
    if isinstance(patience, bool) or not (
            patience == float("inf") or (isinstance(patience, int) and patience >= 1)):
        raise ValueError("trainingOptions: ValidationPatience must be a positive integer or "
                         f"Inf; received {patience!r}.")
    metrics = values["Metrics"]
    if metrics is not None and not isinstance(metrics, (str, list, tuple)) and \
            not callable(metrics):
        raise ValueError("trainingOptions: Metrics must be a metric name, a function f(Y, T), "
                         f"or a list of them; received {type(metrics).__name__}.")
    if not isinstance(values["ObjectiveMetricName"], str):
        raise ValueError("trainingOptions: ObjectiveMetricName must be 'loss' or the name of "
                         f"one of the Metrics; received {values['ObjectiveMetricName']!r}.")
    for name in ("InputDataFormats", "TargetDataFormats"):
        if not isinstance(values[name], str):
            raise ValueError(f"trainingOptions: {name} must be 'auto' or a format such as "
                             f"'TCB'; received {values[name]!r}.")


def make_optimizer(options, model):
    """The Keras optimizer for `options`, with `model`'s learn-rate factors."""
    from matkeras import optimizers

    extra = {}
    if np.isfinite(float(options.GradientThreshold)):
        extra[THRESHOLD_METHODS[options.GradientThresholdMethod]] = float(
            options.GradientThreshold)
    multipliers = optimizers.learn_rate_multipliers(model)
    rate = float(options.InitialLearnRate)
    if options.Solver == "sgdm":
        return optimizers.SGDM(rate, momentum=options.Momentum, multipliers=multipliers,
                               **extra)
    if options.Solver == "adam":
        return optimizers.Adam(rate, options.GradientDecayFactor,
                               options.SquaredGradientDecayFactor, options.Epsilon,
                               multipliers=multipliers, **extra)
    return optimizers.RMSProp(rate, options.SquaredGradientDecayFactor, options.Epsilon,
                              multipliers=multipliers, **extra)


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

    The history (loss, accuracy per epoch; validation figures) is in
    ``model.history.history``; with ``Plots="training-progress"`` the figure is written to
    ``PlotsPath`` (default ``training-progress.png``, never overwriting a file).
    """
    from matkeras.data import SequenceDataset
    from matkeras.layers import Classification, Regression
    from matkeras.network import assemble_network

    if not isinstance(options, TrainingOptions):
        raise TypeError("options must come from trainingOptions(...); received "
                        f"{type(options).__name__}.")
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
    validator = None
    if validation is not None:
        validator = ValidateEvery(validation, options.ValidationFrequency)
        callbacks.append(validator)
    if options.Plots == "training-progress":
        callbacks.append(TrainingProgressPlot(options.PlotsPath, validator))
    run_fit(model, data, options, output.loss, metrics, callbacks)
    return model


def adapt_input_normalization(model, X, options, layout="TC"):
    """MATLAB's ResetInputNormalization: the sequence input layer's statistics from `X`."""
    from matkeras.layers import SequenceInput

    first = model.layers[0] if not isinstance(model.layers[0], keras.layers.InputLayer) \
        else model.layers[1]
    if isinstance(first, SequenceInput) and options.ResetInputNormalization and \
            first.normalization != "none" and not callable(first.normalization):
        first.adapt(X, layout=layout)


def options_dataset(sequences, targets, options, layout="TC"):
    """The :class:`~matkeras.data.SequenceDataset` of `sequences` and `targets` that
    `trainingOptions` ask for (mini-batch size, sequence length, padding, shuffle, seed)."""
    from matkeras.data import SequenceDataset

    return SequenceDataset(
        sequences, targets, layout=layout, mini_batch_size=options.MiniBatchSize,
        sequence_length=options.SequenceLength,
        padding_direction=options.SequencePaddingDirection,
        padding_value=options.SequencePaddingValue, shuffle=options.Shuffle,
        seed=options.Seed)


def validation_dataset(X, targets, options, chunked, layout="TC"):
    """The validation mini-batches: in order, padded as the training ones (whole sequences
    when training splits them into chunks)."""
    from matkeras.data import SequenceDataset

    return SequenceDataset(
        X, targets, layout=layout, mini_batch_size=options.MiniBatchSize,
        sequence_length="longest" if chunked else options.SequenceLength,
        padding_direction=options.SequencePaddingDirection,
        padding_value=options.SequencePaddingValue, shuffle="never")


def run_fit(model, data, options, loss, metrics, callbacks=()):
    """The training loop of trainNetwork and trainnet: compiles `model` with the options'
    solver, L2 regularization and gradient threshold, then runs ``model.fit`` over the
    :class:`~matkeras.data.SequenceDataset` `data` for MaxEpochs (learn-rate schedule, carried
    state between chunks, `callbacks`). Stops early when a callback sets
    ``model.stop_training``."""
    from matkeras.layers import set_l2_regularization

    set_l2_regularization(model, float(options.L2Regularization))
    per_step = isinstance(data.targets, list)
    model.compile(optimizer=make_optimizer(options, model), loss=loss,
                  weighted_metrics=metrics if per_step else None,
                  metrics=None if per_step else metrics)
    extra, callbacks = list(callbacks), [*data.callbacks()]
    if options.LearnRateSchedule == "piecewise":
        initial, drop = float(options.InitialLearnRate), float(options.LearnRateDropFactor)
        period = int(options.LearnRateDropPeriod)
        callbacks.append(keras.callbacks.LearningRateScheduler(
            lambda epoch, rate: initial * drop ** (epoch // period)))
    callbacks.extend(extra)
    source = data if data.chunked else data.to_tf_dataset()
    verbose = 1 if options.Verbose else 0
    if data.chunked and data.shuffle == "every-epoch" and not (
            data.sort_by_length or data.bucket_by_length):
        history = None  # the chunk count changes per epoch: one fit call per epoch
        for epoch in range(int(options.MaxEpochs)):
            step = model.fit(source, initial_epoch=epoch, epochs=epoch + 1, verbose=verbose,
                             callbacks=callbacks, shuffle=False)
            history = _merge(history, step)
            if model.stop_training:
                break
        model.history = history
    else:
        model.fit(source, epochs=int(options.MaxEpochs), verbose=verbose, callbacks=callbacks,
                  shuffle=False)  # the order is SequenceDataset's (MATLAB's Shuffle)
    return model


def _merge(history, step):
    if history is None:
        return step
    for key, values in step.history.items():
        history.history.setdefault(key, []).extend(values)
    history.epoch.extend(step.epoch)
    return history


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


class ValidateEvery(keras.callbacks.Callback):
    """MATLAB's ValidationFrequency: validation loss (and accuracy) every `frequency`
    iterations and at the end, computed with the model's loss on the validation mini-batches
    (Keras's own metrics keep their training state)."""

    def __init__(self, dataset, frequency):
        super().__init__()
        self.dataset, self.frequency = dataset, int(frequency)
        self.iterations, self.loss, self.accuracy = [], [], []
        self._iteration = 0

    def on_train_batch_end(self, batch, logs=None):
        self._iteration += 1
        if self._iteration % self.frequency == 0:
            self._validate()

    def on_train_end(self, logs=None):
        if not self.iterations or self.iterations[-1] != self._iteration:
            self._validate()

    def _validate(self):
        total = correct = loss = 0.0
        for index in range(len(self.dataset)):
            batch = self.dataset[index]
            x, y = batch[0], batch[1]
            weight = batch[2] if len(batch) > 2 else np.ones(len(y), "float32")
            scores = keras.ops.convert_to_numpy(self.model(x, training=False))
            count = float(np.sum(weight))
            loss += count * float(keras.ops.convert_to_numpy(
                self.model.loss(y, scores, sample_weight=weight)))
            total += count
            if scores.shape[-1] > 1 and np.issubdtype(np.asarray(y).dtype, np.integer):
                correct += float(np.sum((np.argmax(scores, -1) == y) * weight))
        self.iterations.append(self._iteration)
        self.loss.append(loss / total)
        self.accuracy.append(correct / total)


class TrainingProgressPlot(keras.callbacks.Callback):
    """MATLAB's ``Plots="training-progress"``: accuracy (or RMSE) and loss per iteration, with
    validation points, drawn when training ends and written to `path` (a new file)."""

    def __init__(self, path=None, validator=None):
        super().__init__()
        self.path, self.validator = path, validator
        self.records = []
        self.figure = None

    def on_train_batch_end(self, batch, logs=None):
        self.records.append(dict(logs or {}))

    def on_train_end(self, logs=None):
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
        self.path = _new_file(self.path or "training-progress.png")
        figure.savefig(self.path, dpi=100, bbox_inches="tight")
        plt.close(figure)
        print(f"[matkeras] training progress plot: {self.path}")


def _new_file(path):
    """`path`, or `path` with -1, -2... before the extension when it exists (never overwrite)."""
    import os

    root, extension = os.path.splitext(path)
    candidate, count = path, 0
    while os.path.exists(candidate):
        count += 1
        candidate = f"{root}-{count}{extension}"
    return candidate
