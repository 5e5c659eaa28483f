"""Training the MATLAB way on ``model.fit``, the core both workflows share: ``trainingOptions``,
the solver, the mini-batches, split-sequence training with carried state, and the loop
(:func:`run_fit`). MATLAB's two training functions are in :mod:`matkeras.workflows`:
``trainNetwork`` (:mod:`~matkeras.workflows.classic`) and ``trainnet``
(:mod:`~matkeras.workflows.current`).

MATLAB's integer ``SequenceLength`` pads each mini-batch to its longest sequence and cuts it into
chunks of L steps; every chunk is one iteration (one optimizer step), the recurrent states are
carried from chunk to chunk (the forward half only for BiLSTM) with the gradient truncated at the
chunk border, and a new mini-batch starts from the layers' initial states.
:class:`matkeras.data.SequenceDataset` makes the chunks;
:class:`matkeras.data.carry.CarryStateBetweenChunks` carries the state while ``model.fit`` runs
them (TensorFlow backend).
"""

import contextlib
import functools
import os

import keras
import numpy as np

from matkeras.data.carry import CarryStateBetweenChunks, ChunkCarry  # noqa: F401  (their old home)
from matkeras.options import check_no_effect

__all__ = ["CarryStateBetweenChunks", "TrainingOptions", "run_fit", "training_options"]


# -- trainingOptions / trainNetwork -------------------------------------------------------------

SOLVERS = ("sgdm", "adam", "rmsprop")
THRESHOLD_METHODS = {"l2norm": "clipnorm", "global-l2norm": "global_clipnorm",
                     "absolute-value": "clipvalue"}


def option_defaults(solver):
    """trainingOptions' defaults for `solver` (MATLAB's, and matkeras's additions)."""
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
        "CheckpointPath": "", "CheckpointFrequency": 1, "CheckpointFrequencyUnit": "epoch",
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
    Epsilon, ResetInputNormalization, ExecutionEnvironment ("multi-gpu" trains under
    ``tf.distribute.MirroredStrategy`` over the local GPUs, "parallel" under
    ``MultiWorkerMirroredStrategy`` over the workers ``TF_CONFIG`` names, the other values have
    no effect here: :mod:`matkeras.options`; not MATLAB: a ``tf.distribute.Strategy`` to train
    under), CheckpointPath and CheckpointFrequency (epochs; a run started again resumes from
    the checkpoint: :class:`Checkpoints`) and Acceleration (no effect); and two matkeras
    additions: PlotsPath (where the progress figure is written) and Seed (for the shuffles).

    The trainnet era's options (used by :func:`matkeras.workflows.current.trainnet`): Metrics (a
    name, a function ``f(Y, T)`` or a list; see :mod:`matkeras.metrics`), ObjectiveMetricName
    ("loss" or one of the Metrics), ValidationPatience (Inf), OutputNetwork ("auto",
    "last-iteration", "best-validation"; "auto" is "best-validation" with ValidationData),
    InputDataFormats/TargetDataFormats ("auto" or e.g. "TCB", "CTB";
    :mod:`matkeras.data.formats`). trainNetwork does not use them, and warns when one is set
    (:data:`CURRENT_ONLY`).
    """
    if not isinstance(solver, str) or solver.lower() not in SOLVERS:
        raise ValueError(f"trainingOptions: solverName must be one of {SOLVERS}; received "
                         f"{solver!r}.")
    solver = solver.lower()
    values = option_defaults(solver)
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
                          ("OutputNetwork", OUTPUT_NETWORKS)):
        if values[name] not in allowed:
            raise ValueError(f"trainingOptions: {name} must be one of {allowed}; received "
                             f"{values[name]!r}.")
    if not isinstance(values["ExecutionEnvironment"], str):
        _check_strategy(values["ExecutionEnvironment"])
    else:  # the one options table's answer
        values["ExecutionEnvironment"] = check_no_effect(
            "trainingOptions", "ExecutionEnvironment", values["ExecutionEnvironment"])
    values["Acceleration"] = check_no_effect("trainingOptions", "Acceleration",
                                             values["Acceleration"])
    frequency = values["CheckpointFrequency"]
    if isinstance(frequency, bool) or not isinstance(frequency, int) or frequency < 1:
        raise ValueError("trainingOptions: CheckpointFrequency must be a positive integer; "
                         f"received {frequency!r}.")
    if values["CheckpointFrequencyUnit"] != "epoch":
        raise ValueError("trainingOptions: CheckpointFrequencyUnit must be 'epoch' (checkpoints "
                         "after every CheckpointFrequency epochs; 'iteration' is not available "
                         f"in matkeras); received {values['CheckpointFrequencyUnit']!r}.")
    if not isinstance(values["CheckpointPath"], (str, os.PathLike)):
        raise ValueError("trainingOptions: CheckpointPath must be a folder name (or '' for no "
                         f"checkpoints); received {values['CheckpointPath']!r}.")
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
#: trainingOptions' options of the current era (trainnet); trainNetwork does not use them.
CURRENT_ONLY = ("Metrics", "ObjectiveMetricName", "ValidationPatience", "OutputNetwork",
                "InputDataFormats", "TargetDataFormats")


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


def _check_strategy(value):
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        if isinstance(value, tf.distribute.Strategy):
            return
    raise ValueError("trainingOptions: ExecutionEnvironment must be one of 'auto', 'cpu', "
                     "'gpu', 'multi-gpu', 'parallel' (-auto, -cpu, -gpu) or a "
                     "tf.distribute.Strategy (TensorFlow backend); received "
                     f"{type(value).__name__} {value!r}.")


def strategy_for(options, function):
    """The ``tf.distribute`` strategy `options` train under: a MirroredStrategy over the local
    GPUs for ``ExecutionEnvironment="multi-gpu"``, the MultiWorkerMirroredStrategy of
    ``TF_CONFIG`` for "parallel", the strategy given instead of a name, or None (one device:
    'auto', 'cpu', 'gpu'). Raises, naming `function`, on a backend other than TensorFlow, for
    'multi-gpu' on a machine whose TensorFlow sees no GPU and for 'parallel' without a valid
    ``TF_CONFIG``."""
    environment = options.ExecutionEnvironment
    if isinstance(environment, str) and environment != "multi-gpu" and \
            not environment.startswith("parallel"):
        return None
    backend = keras.backend.backend()
    if backend != "tensorflow":
        raise ValueError(f"{function}: ExecutionEnvironment={environment!r} trains through "
                         "tf.distribute, which needs Keras's TensorFlow backend "
                         f"(KERAS_BACKEND=tensorflow); this process runs {backend}.")
    import tensorflow as tf

    if not isinstance(environment, str):
        return environment
    if environment.startswith("parallel"):
        return _workers(function, environment)
    gpus = tf.config.list_logical_devices("GPU")
    if not gpus:
        raise ValueError(f"{function}: ExecutionEnvironment='multi-gpu' needs GPUs, and "
                         "TensorFlow sees none on this machine. Use 'auto' or 'cpu', or pass a "
                         "tf.distribute strategy over the devices you have (trainingOptions("
                         "..., ExecutionEnvironment=tf.distribute.MirroredStrategy(devices))).")
    return tf.distribute.MirroredStrategy([gpu.name for gpu in gpus])


_WORKERS = []  # the process's one MultiWorkerMirroredStrategy


def _workers(function, environment):
    """The MultiWorkerMirroredStrategy of ``ExecutionEnvironment="parallel"``: the workers
    ``TF_CONFIG`` names, made once per process (TensorFlow allows one)."""
    import json

    import tensorflow as tf

    if _WORKERS:
        return _WORKERS[0]
    text = os.environ.get("TF_CONFIG", "")
    try:
        config = json.loads(text) if text else None
        workers = config["cluster"]["worker"]
        config["task"]["index"]
    except (ValueError, KeyError, TypeError):
        raise ValueError(
            f"{function}: ExecutionEnvironment={environment!r} trains on the workers that the "
            "environment variable TF_CONFIG names, the same script running on each; "
            f"TF_CONFIG is {'not set' if not text else 'not valid: ' + text[:200]!r}. Set it "
            'in each worker\'s environment, e.g. {"cluster": {"worker": ["host1:port", '
            '"host2:port"]}, "task": {"type": "worker", "index": 0}} (README, "Several GPUs '
            "or machines\"), or use 'multi-gpu' for the GPUs of one machine.") from None
    gpus = tf.config.list_physical_devices("GPU")
    if environment == "parallel-gpu" and not gpus:
        raise ValueError(f"{function}: ExecutionEnvironment='parallel-gpu' needs GPUs, and "
                         "TensorFlow sees none on this worker; use 'parallel' or 'parallel-cpu'.")
    if environment == "parallel-cpu" and gpus:
        raise ValueError(f"{function}: ExecutionEnvironment='parallel-cpu' on a worker whose "
                         "TensorFlow sees GPUs: hide them (CUDA_VISIBLE_DEVICES=\"\") or use "
                         "'parallel'.")
    try:
        _WORKERS.append(tf.distribute.MultiWorkerMirroredStrategy())
    except (RuntimeError, ValueError) as error:
        raise RuntimeError(
            f"{function}: ExecutionEnvironment={environment!r}: TensorFlow could not join the "
            f"{len(workers)} workers of TF_CONFIG ({error}). The strategy must be made before "
            "TensorFlow runs anything else in the process: call trainNetwork/trainnet (or "
            "matkeras.training.strategy_for) before other TensorFlow work.") from error
    return _WORKERS[0]


def local_tf_configs(count=2):
    """``TF_CONFIG`` values for `count` workers on this machine (free local ports), one per
    worker in order: to try ``ExecutionEnvironment="parallel"`` with worker processes here
    (``TF_CONFIG=<value k> python train.py`` for each k) before a real cluster."""
    import json
    import socket

    sockets = [socket.socket() for _ in range(count)]
    try:
        for one in sockets:
            one.bind(("localhost", 0))
        cluster = {"worker": [f"localhost:{one.getsockname()[1]}" for one in sockets]}
    finally:
        for one in sockets:
            one.close()
    return [json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
            for index in range(count)]


def is_chief():
    """Whether this process shows progress and writes figures: every process but the workers
    of ``ExecutionEnvironment="parallel"`` other than the first (:func:`task_index` 0: the
    cluster's chief where it names one, else worker 0)."""
    return not _WORKERS or task_index(_WORKERS[0].cluster_resolver) == 0


def task_index(resolver):
    """This process's number among the training workers of the cluster `resolver` describes
    (a ``tf.distribute.cluster_resolver.ClusterResolver``), as TensorFlow numbers its input
    pipelines: the ``"chief"`` task first where the cluster has one, then the ``"worker"``
    tasks in order; 0 outside a cluster."""
    if resolver is None or resolver.task_type in (None, "chief"):
        return 0
    return int(resolver.task_id) + ("chief" in resolver.cluster_spec().jobs)


@contextlib.contextmanager
def on_devices(strategy, model):
    """Trains `model` under `strategy` (None: as it is). Yields the model to train: a copy of
    `model` whose variables are made in the strategy's scope (Keras mirrors variables only
    when they are created there), in a model object made outside it; the copy's weights and
    history go back into `model` when the block ends (its optimizer state stays with the
    copy).

    Why the object is made outside: a Keras model made in a strategy's scope builds itself
    in ``fit`` from the first mini-batch averaged across the replicas, which fails when the
    mini-batch does not split evenly (14 and 13 rows of 27 on two devices: "Inputs to
    operation AddN ... must have the same size and shape"); one made outside takes the strategy
    of the scope ``fit`` runs in and builds while tracing its first step."""
    if strategy is None:
        yield model
        return
    with strategy.scope():
        twin = keras.models.clone_model(model)
        twin.set_weights(model.get_weights())
    trained = keras.Model(*[one[0] if len(one) == 1 else one for one in (
        twin.inputs, twin.outputs)], name=model.name)  # a single input as one tensor
    with strategy.scope():
        yield trained
    model.set_weights(trained.get_weights())
    model.history = getattr(trained, "history", None)


def _replicated():
    if keras.backend.backend() != "tensorflow":
        return False
    import tensorflow as tf

    return tf.distribute.has_strategy()


def _build_for_replicas(model, data):
    """The optimizer's and the compiled metrics' variables, made before the first distributed
    step (a model from :func:`on_devices` would make them inside a replica's step, which
    TensorFlow refuses: "You must feed a value for placeholder tensor ... cond/Placeholder"),
    from the first mini-batch; the metrics start again from zero."""
    model.optimizer.build(model.trainable_variables)
    x, y, *weight = data.peek(0)
    model.compute_metrics(x, y, model(x, training=False),
                          sample_weight=weight[0] if weight else None)
    model.reset_metrics()


def start_training(options, function):
    """What both training functions do first: refuse options that do not come from
    ``trainingOptions`` (naming `function`), and seed the random generators with ``Seed``."""
    if not isinstance(options, TrainingOptions):
        raise TypeError(f"{function}: options must come from trainingOptions(...); received "
                        f"{type(options).__name__}.")
    if options.Seed is not None:
        keras.utils.set_random_seed(int(options.Seed))


def training_datasets(model, X, targets, options, validation_targets, layout="TC",
                      read_inputs=None):
    """Both training functions' data: the input layer's statistics from `X` (MATLAB's
    ResetInputNormalization), the training mini-batches, and the ``ValidationData`` ones
    (None without), whose targets ``validation_targets(vy)`` encodes as the training ones and
    whose inputs ``read_inputs(vx)`` reads as `X` was (None: as they are)."""
    X = _image_batch(model, X)
    adapt_input_normalization(model, X, options, layout)
    data = options_dataset(X, targets, options, layout)
    if options.ValidationData is None:
        return data, None
    vx, vy = options.ValidationData
    vx = _image_batch(model, vx if read_inputs is None else read_inputs(vx))
    return data, validation_dataset(vx, validation_targets(vy), options, data.chunked, layout)


def adapt_input_normalization(model, X, options, layout="TC"):
    """MATLAB's ResetInputNormalization: the sequence or image input layer's statistics from
    `X` (images: an ``(N, h, w, c)`` array)."""
    from matkeras.layers import ImageInput, SequenceInput

    first = model.layers[0] if not isinstance(model.layers[0], keras.layers.InputLayer) \
        else model.layers[1]
    if not (isinstance(first, (SequenceInput, ImageInput)) and options.ResetInputNormalization
            and first.normalization != "none" and not callable(first.normalization)):
        return
    if isinstance(first, ImageInput):
        first.adapt(X)
    else:
        first.adapt(X, layout=layout)


def _image_batch(model, X):
    """`X` as an ``(N, h, w, c)`` array for an image network (Keras's or MATLAB's h x w x c
    x N layout, or a list of images: :func:`matkeras.data.images.as_images`), else as given."""
    from matkeras.data.images import as_images, image_input_size

    size = image_input_size(model)
    return X if size is None else np.stack(as_images(X, size)[0])


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
    ``model.stop_training``. Across workers (``ExecutionEnvironment="parallel"``) each worker
    makes and reads only its part of every mini-batch."""
    with _worker_share(data):
        return _run_fit(model, data, options, loss, metrics, callbacks)


def _run_fit(model, data, options, loss, metrics, callbacks):
    from matkeras.layers import set_l2_regularization

    set_l2_regularization(model, float(options.L2Regularization))
    per_step = isinstance(data.targets, list)
    model.compile(optimizer=make_optimizer(options, model), loss=loss,
                  weighted_metrics=metrics if per_step else None,
                  metrics=None if per_step else metrics)
    if _replicated():
        _build_for_replicas(model, data)
    extra, callbacks = list(callbacks), [*data.callbacks()]
    checkpoints, start = None, 0
    if options.CheckpointPath:
        checkpoints = Checkpoints(options.CheckpointPath, int(options.CheckpointFrequency),
                                  data)
        start = checkpoints.resume(model)
        callbacks.append(checkpoints)
    if options.LearnRateSchedule == "piecewise":
        initial, drop = float(options.InitialLearnRate), float(options.LearnRateDropFactor)
        period = int(options.LearnRateDropPeriod)
        callbacks.append(keras.callbacks.LearningRateScheduler(
            lambda epoch, rate: initial * drop ** (epoch // period)))
    callbacks.extend(extra)
    # tf.data carries mini-batches of different lengths on TensorFlow (Keras fixes a
    # PyDataset's signature from its first batches there); JAX and PyTorch take the PyDataset
    # itself, so training on them imports no TensorFlow.
    on_workers = _on_workers()
    # Across workers each one makes only its part of every mini-batch (fit_on_workers).
    source = data if data.chunked or on_workers or keras.backend.backend() != "tensorflow" \
        else data.to_tf_dataset()
    fit = functools.partial(fit_on_workers, model) if on_workers else model.fit
    verbose = 1 if options.Verbose else 0
    if data.chunked and data.shuffle == "every-epoch" and not (
            data.sort_by_length or data.bucket_by_length):
        history = None  # the chunk count changes per epoch: one fit call per epoch
        carry = next(c for c in callbacks if isinstance(c, CarryStateBetweenChunks))
        # Each call's order is fixed before it starts (pinned): Keras's fit counts the
        # mini-batches, then signals an epoch end (which would reshuffle into another count).
        with carry.across_fits():  # one trace for all of them
            try:
                for epoch in range(start, int(options.MaxEpochs)):
                    if epoch > start:
                        data.unpin()
                        data.on_epoch_end()  # the next epoch's order (Shuffle every-epoch)
                    data.pin()
                    step = fit(source, initial_epoch=epoch, epochs=epoch + 1,
                               verbose=verbose, callbacks=callbacks, shuffle=False)
                    history = _merge(history, step)
                    if model.stop_training:
                        break
            finally:
                data.unpin()
        model.history = history
    else:
        fit(source, initial_epoch=start, epochs=int(options.MaxEpochs), verbose=verbose,
            callbacks=callbacks, shuffle=False)  # the order is SequenceDataset's (Shuffle)
    if checkpoints is not None:
        checkpoints.finish()
    return model


class Checkpoints(keras.callbacks.Callback):
    """MATLAB's ``CheckpointPath``/``CheckpointFrequency`` (epochs) as a restartable run: after
    every `frequency` epochs the weights, the solver's state, the epoch and the order of the
    next epoch's mini-batches go to `folder` (``matkeras_checkpoint.npz``, written whole or not
    at all; with ``ExecutionEnvironment="parallel"`` each worker other than the
    chief writes to ``worker-<index>`` inside it). Training started again with the same
    `folder` resumes after the checkpoint's epoch and trains the weights an uninterrupted run
    trains; training that completes removes the files. Not kept: the validation history and
    best network (they start again at the resumed epoch), and the training-progress records of
    the epochs before it."""

    NAME = "matkeras_checkpoint"

    def __init__(self, folder, frequency, dataset):
        super().__init__()
        task = task_index(_WORKERS[0].cluster_resolver) if _WORKERS else 0
        self.folder = os.fspath(folder) if task == 0 else os.path.join(
            os.fspath(folder), f"worker-{task}")
        self.frequency, self.dataset = frequency, dataset
        self._held, self._resumed = None, False

    def _path(self, extension):
        return os.path.join(self.folder, f"{self.NAME}.{extension}")

    def resume(self, model):
        """Loads the checkpoint in the folder into `model` and the data set, if there is one;
        returns the epoch to start from (0 without one)."""
        import json

        if not os.path.exists(self._path("npz")):
            return 0
        if not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        with np.load(self._path("npz"), allow_pickle=False) as arrays:
            state = json.loads(str(arrays["state"]))
            weights = [arrays[f"weight_{k}"] for k in range(state["weights"])]
            solver = [arrays[f"solver_{k}"] for k in range(state["solver"])]
        shapes = [tuple(np.shape(v)) for v in model.get_weights()]
        solver_shapes = [tuple(v.shape) for v in model.optimizer.variables]
        if shapes != [w.shape for w in weights] or solver_shapes != [v.shape for v in solver]:
            raise ValueError(f"CheckpointPath {self.folder!r} holds a checkpoint of another "
                             "network or solver; choose another folder, or remove "
                             f"{self.NAME}.npz there to start afresh.")
        model.set_weights(weights)
        for variable, value in zip(model.optimizer.variables, solver, strict=True):
            variable.assign(value)
        self.dataset.restore(state["dataset"])
        self._resumed = True
        return int(state["epoch"])

    def on_train_batch_begin(self, batch, logs=None):
        if self._resumed:  # the restored order is the one this step reads
            self.dataset.release()
            self._resumed = False

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.frequency == 0:  # kept until the next epoch's order is known
            self._held = (epoch + 1, [np.array(w) for w in self.model.get_weights()],
                          [keras.ops.convert_to_numpy(v) for v in
                           self.model.optimizer.variables])

    def on_train_batch_end(self, batch, logs=None):
        if self._held is not None and batch == 0:  # the epoch's first mini-batch was served
            self._write(*self._held, self.dataset.epoch_state())
            self._held = None

    def _write(self, epoch, weights, solver, order):
        import json

        os.makedirs(self.folder, exist_ok=True)
        arrays = {f"weight_{k}": w for k, w in enumerate(weights)}
        arrays.update({f"solver_{k}": v for k, v in enumerate(solver)})
        arrays["state"] = np.array(json.dumps({
            "epoch": epoch, "weights": len(weights), "solver": len(solver), "dataset": order}))
        temporary = self._path("partial.npz")
        np.savez(temporary, **arrays)
        os.replace(temporary, self._path("npz"))  # one file, replaced whole

    def finish(self):
        """Training completed: the checkpoint goes."""
        if os.path.exists(self._path("npz")):
            os.remove(self._path("npz"))


def _worker_part():
    """``(this worker's index, the number of workers)`` under a
    ``tf.distribute.MultiWorkerMirroredStrategy`` with one replica per worker (the index from
    :func:`task_index`); else None (another backend imports no TensorFlow here)."""
    if not _on_workers():
        return None
    import tensorflow as tf

    strategy = tf.distribute.get_strategy()
    if len(strategy.extended.worker_devices) != 1:
        return None
    return task_index(strategy.cluster_resolver), strategy.num_replicas_in_sync


@contextlib.contextmanager
def _worker_share(dataset):
    """Inside, the :class:`~matkeras.data.SequenceDataset` `dataset` makes and reads only this
    worker's part of each mini-batch (:meth:`~matkeras.data.SequenceDataset.shard`) when
    :func:`_worker_part` says each worker has one; its part as before afterwards."""
    part, previous = _worker_part(), dataset.part
    if part is not None:
        dataset.shard(*part)
    try:
        yield part
    finally:
        dataset.shard(*(previous or (0, 1)))


def _on_workers():
    if keras.backend.backend() != "tensorflow":
        return False
    import tensorflow as tf

    return isinstance(tf.distribute.get_strategy(), tf.distribute.MultiWorkerMirroredStrategy)


def fit_on_workers(model, dataset, epochs=1, initial_epoch=0, verbose=0, callbacks=(),
                   shuffle=False):
    """``model.fit(dataset, epochs=epochs, initial_epoch=initial_epoch, verbose=verbose,
    callbacks=callbacks)`` under a ``tf.distribute.MultiWorkerMirroredStrategy``
    (Keras 3's own fit stops there: keras-team/keras#20585). Each step runs Keras's
    ``model.train_step`` on every replica (``strategy.run``) on its part of the global
    mini-batch; the logs are the metrics read across all replicas. A
    :class:`~matkeras.data.SequenceDataset` (a ``Datastore`` too) with one replica per worker
    makes and reads on each worker only that worker's part of every mini-batch
    (:meth:`~matkeras.data.SequenceDataset.shard`; no sequence is read by two workers); else
    tf.data splits each mini-batch across the replicas and each worker keeps its parts.
    `dataset` is a ``tf.data.Dataset`` or a :class:`~matkeras.data.SequenceDataset` (its
    mini-batches in order, its epochs ended where one process's would end them: after each
    epoch for a chunked one, as Keras's fit does for a PyDataset; at the start of each later
    epoch otherwise, as its ``to_tf_dataset()`` does). The callbacks get the calls ``fit``
    makes; the progress bar shows on the chief only. Every
    worker runs the same calls in the same order (the collectives need all of them). The order
    of the mini-batches is `dataset`'s (`shuffle` must be False, as trainNetwork passes it)."""
    import tensorflow as tf

    if shuffle:
        raise ValueError("fit_on_workers takes the mini-batches in the dataset's order: "
                         "shuffle the dataset itself and pass shuffle=False.")

    with (contextlib.nullcontext() if isinstance(dataset, tf.data.Dataset) else
          _worker_share(dataset)):
        return _fit_across_workers(model, dataset, epochs, initial_epoch, verbose, callbacks)


def _fit_across_workers(model, dataset, epochs, initial_epoch, verbose, callbacks):
    import tensorflow as tf

    strategy = tf.distribute.get_strategy()
    chief = task_index(strategy.cluster_resolver) == 0  # not only matkeras's strategy
    if isinstance(dataset, tf.data.Dataset):
        def epoch_data():
            return strategy.experimental_distribute_dataset(dataset)
        steps = int(dataset.cardinality()) if int(dataset.cardinality()) > 0 else None
    else:  # a SequenceDataset: its mini-batches in order, its epoch ended after each pass
        signature = dataset.to_tf_dataset().element_spec
        steps = len(dataset)
        if dataset.chunked:
            # the orders one process trains: Keras's fit signals an epoch end when it starts
            # (its epoch iterator's reset) on the chunked dataset itself; the unchunked one
            # goes to it as to_tf_dataset(), which starts in the dataset's order
            dataset.on_epoch_end()

        def batches(context=None):
            if context is not None and dataset.part != (
                    context.input_pipeline_id, context.num_input_pipelines):
                raise RuntimeError(  # _worker_part numbers the workers as TensorFlow does
                    f"matkeras: this worker made part {dataset.part} of each mini-batch but "
                    f"TensorFlow feeds it as input pipeline {context.input_pipeline_id} of "
                    f"{context.num_input_pipelines}.")
            return tf.data.Dataset.from_generator(
                lambda: (dataset[index] for index in range(len(dataset))),
                output_signature=signature)

        def epoch_data():
            if dataset.part is not None:  # one replica per worker, each making its part
                return strategy.distribute_datasets_from_function(batches)
            return strategy.experimental_distribute_dataset(batches())
    distributed = epoch_data()

    @tf.function(input_signature=[distributed.element_spec])  # one trace for every length
    def step(batch):
        strategy.run(model.train_step, args=(batch,))

    callbacks = keras.callbacks.CallbackList(
        list(callbacks), add_history=True, add_progbar=bool(verbose and chief),
        verbose=verbose if chief else 0, epochs=epochs, steps=steps, model=model)
    model.stop_training = False
    try:
        return _worker_epochs(model, strategy, distributed, epoch_data, step, dataset,
                              callbacks, initial_epoch, epochs)
    except (tf.errors.UnavailableError, tf.errors.DeadlineExceededError,
            tf.errors.AbortedError) as error:
        first = str(error).strip().splitlines()[0][:400] if str(error).strip() else ""
        raise RuntimeError(
            f"ExecutionEnvironment='parallel': worker {task_index(strategy.cluster_resolver)} "
            f"lost the other workers during training ({type(error).__name__}: {first}). A "
            "worker stopped or cannot be reached; training cannot go on without it. Restart "
            "the script on every worker.") from error


def _worker_epochs(model, strategy, distributed, epoch_data, step, dataset, callbacks,
                   initial_epoch, epochs):
    import tensorflow as tf

    callbacks.on_train_begin()
    logs = {}
    for epoch in range(initial_epoch, epochs):
        model.reset_metrics()
        callbacks.on_epoch_begin(epoch)
        if epoch > initial_epoch:
            if not isinstance(dataset, tf.data.Dataset) and not dataset.chunked:
                dataset.on_epoch_end()  # as to_tf_dataset() does at each pass after the first
            distributed = epoch_data()
        for index, batch in enumerate(distributed):
            callbacks.on_train_batch_begin(index)
            step(batch)
            logs = {name: float(value) for name, value in model.get_metrics_result().items()}
            callbacks.on_train_batch_end(index, logs)
            if model.stop_training:
                break
        if not isinstance(dataset, tf.data.Dataset) and dataset.chunked:
            dataset.on_epoch_end()  # as Keras's fit does after each epoch of a PyDataset
        callbacks.on_epoch_end(epoch, dict(logs))
        if model.stop_training:
            break
    callbacks.on_train_end(dict(logs))
    return model.history


def _merge(history, step):
    if history is None:
        return step
    for key, values in step.history.items():
        history.history.setdefault(key, []).extend(values)
    history.epoch.extend(step.epoch)
    return history


def new_file(path):
    """`path`, or `path` with -1, -2... before the extension when it exists (never overwrite)."""
    import os

    root, extension = os.path.splitext(path)
    candidate, count = path, 0
    while os.path.exists(candidate):
        count += 1
        candidate = f"{root}-{count}{extension}"
    return candidate


#: Names that moved to matkeras.workflows.classic (this module's old ones, for one release).
_MOVED = {"train_network": "matkeras.workflows.classic",
          "TrainingProgressPlot": "matkeras.workflows.classic",
          "ValidateEvery": "matkeras.validation"}
#: Names replaced by another (old name: its successor's text).
_REPLACED = {"ValidateEvery": "matkeras.validation.ValidationMonitor (both training functions' "
                              "one validation callback)"}


def __getattr__(name):
    if name in _MOVED:
        import importlib
        import warnings

        where = _REPLACED.get(name, f"{_MOVED[name]}.{name}")
        verb = "is replaced by" if name in _REPLACED else "moved to"
        warnings.warn(f"matkeras.training.{name} {verb} {where}; the old name goes in the next "
                      "release.", DeprecationWarning, stacklevel=2)
        return getattr(importlib.import_module(_MOVED[name]), name)
    raise AttributeError(f"module 'matkeras.training' has no attribute {name!r}")
