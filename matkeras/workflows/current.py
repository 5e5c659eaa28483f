"""MATLAB's current workflow (R2023b+): ``trainnet``, ``minibatchpredict`` and ``testnet``, on the
core both workflows share (:mod:`matkeras.training`: the same mini-batches, solver and
``model.fit``; :mod:`matkeras.inference`; :mod:`matkeras.validation`).

trainnet (mathworks.com/help/deeplearning/ref/trainnet.html) differs from trainNetwork
(:mod:`matkeras.workflows.classic`): the network has no output layer (the loss is an argument,
:mod:`matkeras.losses`); sequences are s-by-c, time by channels (:mod:`matkeras.data.formats`);
the information returned holds one row per iteration (``TrainingHistory``) and per validation
(``ValidationHistory``), with the ``Metrics`` of the options (:mod:`matkeras.metrics`), the
iteration of the network returned (``OutputNetworkIteration``: ``OutputNetwork`` is
``"best-validation"`` or ``"last-iteration"``) and why training stopped (``StopReason``:
``"Max epochs completed"``, ``"Met validation criterion"`` after ValidationPatience
validations without improvement, ``"Training loss is NaN"``). Validation runs every
ValidationFrequency iterations and after the last one, from the layers' initial states, over
the validation set in order; a validation improves on the best so far when its
ObjectiveMetricName value is strictly better (lower loss/RMSE, higher accuracy/F-score).

minibatchpredict and testnet (minibatchpredict.html, testnet.html) take a
:class:`~matkeras.dlnetwork.DLNetwork` or a ``keras.Model``, sequences as s-by-c arrays
(``InputDataFormats`` otherwise), and MATLAB's mini-batch options: ``MiniBatchSize`` (128),
``SequenceLength`` ("longest"), ``SequencePaddingValue`` (0), ``SequencePaddingDirection``
("right"). Recurrent layers start from the network's stored state (``net.State``), as
:func:`matkeras.inference.predict` does. How MATLAB pads sequence outputs with
``UniformOutput`` true is UNCONFIRMED here (see :func:`minibatchpredict`).
"""

import time

import keras
import numpy as np

from matkeras import inference
from matkeras import losses as L
from matkeras import metrics as M
from matkeras._table import Table
from matkeras.categorical import is_label_array
from matkeras.data.formats import read_sequences, read_targets
from matkeras.data.images import image_input_size
from matkeras.validation import ValidationMonitor

__all__ = ["TrainingInfo", "minibatchpredict", "testnet", "trainnet"]

STOP_MAX_EPOCHS = "Max epochs completed"
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


def _write_progress_plot(info, path):
    """``Plots="training-progress"``: the figure of the training information, written when
    training ends to `path` (default ``training-progress.png``; never overwriting a file)."""
    from matkeras.plot import training_progress
    from matkeras.training import new_file

    path = new_file(path or "training-progress.png")
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

    training.start_training(options, "trainnet")
    strategy = training.strategy_for(options, "trainnet")
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
        data, validation = training.training_datasets(
            model, sequences, targets, options, lambda vt: prepare_targets(
                vt, loss, outputs, options.TargetDataFormats, classes=classes,
                what="ValidationData targets")[0],
            read_inputs=lambda vx: _sequences(model, vx, options.InputDataFormats))
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
    with training.on_devices(strategy, model) as trained:  # ExecutionEnvironment="multi-gpu"
        training.run_fit(trained, data, options, loss, compiled, callbacks)
        iteration = monitor.finish() if monitor is not None else history.iteration
    validation_table = monitor.table if monitor is not None else Table(
        ["Iteration", "Epoch", "TimeElapsed", "Loss", *[m.display for m in compiled]])
    info = TrainingInfo(history.table, validation_table, iteration,
                        history.stop_reason or STOP_MAX_EPOCHS, classes)
    if options.Plots == "training-progress" and training.is_chief():  # one for all workers
        info.PlotPath = _write_progress_plot(info, options.PlotsPath)
    return net, info


def _metric_specs(metrics):
    if metrics is None:
        return []
    return list(metrics) if isinstance(metrics, (list, tuple)) else [metrics]


def _sequences(model, X, formats):
    """The observations of X as (T, C) arrays (a list), after InputDataFormats; for an image
    network the (h, w, c) images (formats "auto", "SSCB" or "BSSC")."""
    from matkeras.data.formats import read_sequences
    from matkeras.inference import observations

    if image_input_size(model) is not None:
        return observations(model, X, "auto" if formats == "auto" else str(formats).upper())[0]
    return observations(model, read_sequences(X, formats), "TC")[0]


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


def prepare_targets(T, loss, outputs=None, formats="auto", classes=None, what="targets"):
    """Targets for the SequenceDataset and the class names: labels become class indices
    (cross-entropy) or one-hot rows (binary cross-entropy, custom losses); numbers pass
    through (after TargetDataFormats). Raises when the classes do not match the outputs."""
    from matkeras.categorical import encode_classes
    from matkeras.data.formats import read_targets

    per_step = isinstance(T, (list, tuple)) and len(T) > 0 and np.ndim(T[0]) >= 1
    items = list(T) if per_step else [T]
    labels = all(is_label_array(t) for t in items)
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
    indices, names = encode_classes([np.ravel(np.asarray(t)) for t in items] if per_step
                                    else T, classes, what, per_sequence=per_step)
    if not per_step:
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




# -- minibatchpredict and testnet -----------------------------------------------------------




def minibatchpredict(net, X, mini_batch_size=128, input_formats="auto", uniform_output=True,
                     sequence_length="longest", padding_value=0.0, padding_direction="right"):
    """MATLAB's ``Y = minibatchpredict(net, X, Name=Value)``.

    Args:
        net: a DLNetwork or a built ``keras.Model``.
        X: a list of ``(T_n, C)`` sequences, an ``(N, T, C)`` array or one ``(T, C)``
            sequence (or what `input_formats` names); for an image network ``(N, h, w, c)``
            images, MATLAB's h x w x c x N (``input_formats="SSCB"``, or "auto" by the shape),
            one image or a list of images.
        mini_batch_size: ``MiniBatchSize`` (128).
        input_formats: ``InputDataFormats`` ("auto").
        uniform_output: ``UniformOutput`` (True): sequence outputs come back as one
            ``(N, T_max, K)`` array, each sequence's own steps placed as the padding direction
            says and the rest filled with `padding_value`; False gives a list of ``(T_n, K)``
            arrays. Sequence-to-one outputs are ``(N, K)`` either way.
        sequence_length: ``SequenceLength``: "longest", "shortest" or a positive integer.
        padding_value: ``SequencePaddingValue`` (0).
        padding_direction: ``SequencePaddingDirection``: "right" or "left".

    Returns:
        ``(N, K)``; ``(N, T_max, K)`` or a list for sequence outputs; one observation's
        ``(T, K)`` when X is one sequence.
    """
    from matkeras.dlnetwork import as_model

    model = as_model(net, "minibatchpredict", initialize=False)
    if image_input_size(model) is not None:  # images: "SSCB", "BSSC" or "auto"
        return inference.predict(model, X, mini_batch_size=mini_batch_size,
                                 layout=str(input_formats).upper().replace("AUTO", "auto"))
    output = inference.predict(
        model, read_sequences(X, input_formats), mini_batch_size=mini_batch_size,
        sequence_length=sequence_length, padding_value=padding_value,
        padding_direction=padding_direction)
    if not isinstance(output, list) or not uniform_output:
        return output
    longest = max(len(y) for y in output)
    padded = np.full((len(output), longest, *output[0].shape[1:]), padding_value,
                     dtype=output[0].dtype)
    for row, y in enumerate(output):
        if padding_direction == "right":
            padded[row, :len(y)] = y
        else:
            padded[row, longest - len(y):] = y
    return padded


def testnet(net, X, T, metrics, mini_batch_size=128, input_formats="auto",
            target_formats="auto", sequence_length="longest", padding_value=0.0,
            padding_direction="right", class_names=None):
    """MATLAB's ``metricValues = testnet(net, X, T, metrics, Name=Value)``.

    Args:
        net, X: as :func:`minibatchpredict`.
        T: the targets: labels (one per observation or one array per sequence), a pandas
            Categorical, one-hot rows, or numeric responses (``(N, R)`` or per-step
            ``(T_n, R)`` arrays).
        metrics: a metric name (``"accuracy"``, ``"rmse"``, ``"mse"``, ``"mae"``,
            ``"precision"``, ``"recall"``, ``"fscore"``, or a loss name such as
            ``"crossentropy"``), a function ``f(Y, T)``, or a list of them.
        target_formats: ``TargetDataFormats`` ("auto").
        class_names: the class order of the network's outputs (matkeras addition; default
            MATLAB's ``categories(T)``; pass trainnet's ``info.ClassNames`` when the test
            labels miss a class).
        mini_batch_size, input_formats, sequence_length, padding_value, padding_direction:
            as :func:`minibatchpredict`.

    Returns:
        The metric's value (a float) for one metric, else an array in `metrics`' order.
        Accuracy is in percent, as MATLAB gives it; values are over every observation's own
        time steps (padding excluded).
    """
    from matkeras.categorical import encode_classes, is_label_array
    from matkeras.dlnetwork import as_model

    model = as_model(net, "testnet", initialize=False)
    sequences, single = inference.observations(model, read_sequences(X, input_formats), "TC")
    scores = minibatchpredict(model, sequences, mini_batch_size, "auto", False,
                              sequence_length, padding_value, padding_direction)
    if isinstance(scores, list):  # sequence-to-sequence: every step of every observation
        items = [T] if single else list(T)
        if len(items) != len(scores):
            raise ValueError(f"testnet: {len(scores)} sequences but {len(items)} targets.")
        if all(is_label_array(t) for t in items):
            items, names = encode_classes([np.ravel(np.asarray(t)) for t in items],
                                          class_names, "testnet targets", per_sequence=True)
            _check_classes(names, scores[0].shape[-1])
        else:
            items = [np.asarray(t, dtype=np.float64) for t in read_targets(items,
                                                                           target_formats)]
            items = [t[:, None] if t.ndim == 1 else t for t in items]
        for n, (s, t) in enumerate(zip(scores, items, strict=True)):
            if len(t) != len(s):
                raise ValueError(f"testnet: target {n} has {len(t)} time steps; its sequence "
                                 f"has {len(s)}.")
        y, t = np.concatenate(scores), np.concatenate(items)
    else:
        y = scores
        T = np.asarray([T]) if single and np.ndim(T) <= 1 and not hasattr(T, "codes") else T
        if is_label_array(T):
            t, names = encode_classes(T, class_names, "testnet targets", per_sequence=False)
            t = np.ravel(t)
            _check_classes(names, y.shape[-1])
        else:
            t = np.asarray(read_targets(T, target_formats), dtype=np.float64)
            t = t[:, None] if t.ndim == 1 else t
        if len(t) != len(y):
            raise ValueError(f"testnet: {len(y)} observations but {len(t)} targets.")
    specs = list(metrics) if isinstance(metrics, (list, tuple)) else [metrics]
    values = []
    for spec in specs:
        metric = M.get(spec, y.shape[-1], allow_losses=True)
        metric.update_state(t, y)
        values.append(float(keras.ops.convert_to_numpy(metric.result())))
    return values[0] if len(specs) == 1 and not isinstance(metrics, (list, tuple)) else \
        np.asarray(values)


testnet.__test__ = False  # a MATLAB verb, not a pytest test when imported in tests


def _check_classes(names, outputs):
    if len(names) != outputs and not (outputs == 1 and len(names) == 2):
        raise ValueError(
            f"testnet: the targets have {len(names)} classes {[str(n) for n in names][:20]} "
            f"but the network outputs {outputs} scores. Pass the training classes: "
            "class_names=info.ClassNames (MATLAB's categorical keeps them).")
