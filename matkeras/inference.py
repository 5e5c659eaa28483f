"""Prediction the MATLAB way: predict, classify, stateful prediction, forecasting, activations.

MATLAB's ``predict(net, X)`` takes one sequence or a cell array of sequences of different lengths,
pads each mini-batch (``MiniBatchSize``, ``SequenceLength``, ``SequencePaddingValue``,
``SequencePaddingDirection``) and returns the results per observation. Recurrent layers start from
the network's stored state; ``predictAndUpdateState`` also stores the state after the last time
step, so a long sequence can be fed in pieces. These functions do the same for Keras models built
from matkeras layers (``matkeras.matlab`` has them under MATLAB's names).

Conventions:

- ``X`` is one ``(T, C)`` array (or ``(T, h, w, c)`` image sequence), a list of them, or a
  numeric ``(N, T, C)`` array; ``layout="CT"`` takes MATLAB's ``(C, T)`` matrices.
- Sequence-to-one results are ``(N, K)`` (``(1, K)`` for one sequence). Sequence-to-sequence
  results are one ``(T_n, K)`` array per observation, trimmed to its own length (one array for
  one sequence).
- The stored state is per observation: ``(N, D*H)`` per state after an update with N
  observations, one row before (the layers' initial ``hidden_state``/``cell_state``). A later call
  must pass N observations or 1 (MATLAB's implicit expansion: one sequence then runs from every
  stored row and yields N results); other counts raise an error. BiLSTM stores its forward half
  only; its backward half restarts from the initial state at every call, as in MATLAB.
- As in MATLAB, recurrent layers do not skip padding: with right padding and ``"longest"``, a
  short sequence's stored state is the state after the padded steps.
- Keras's own ``model(x)``/``model.predict`` always start from the initial states; only these
  functions read and write the stored state, which ``model.save`` keeps.
"""

import collections
import numbers
import weakref

import keras
import numpy as np

from matkeras import _forward
from matkeras.data.padding import as_time_major, pad_sequences, split_sequences
from matkeras.layers.stateful import check_state_rows

__all__ = [
    "activations", "classify", "classify_and_update_state", "forecast", "get_state", "predict",
    "predict_and_update_state", "predict_with_state", "reset_state", "set_state",
]

FORECAST_MODES = ("closed-loop", "open-loop")


def predict(model, X, mini_batch_size=128, sequence_length="longest", padding_value=0.0,
            padding_direction="right", layout="TC", sort_by_length=False, xla="auto"):
    """MATLAB's ``predict``: the model's outputs for `X`, starting from the stored state.

    Args:
        model: a built Keras model.
        X: one sequence, a list of sequences, or an ``(N, T, ...)`` array (see the module notes).
        mini_batch_size: MATLAB ``MiniBatchSize`` (128).
        sequence_length: ``"longest"`` (default), ``"shortest"`` or a positive int L: each
            mini-batch is cut into chunks of L steps that run in order with the state carried
            from chunk to chunk, as MATLAB's integer ``SequenceLength``.
        padding_value: MATLAB ``SequencePaddingValue`` (0).
        padding_direction: MATLAB ``SequencePaddingDirection``: ``"right"`` or ``"left"``.
        layout: ``"TC"`` (Keras, default) or ``"CT"`` (MATLAB's ``C x T`` matrices); for an
            image network (an imageInputLayer) ``"BSSC"`` (Keras's ``(N, h, w, c)``),
            ``"SSCB"`` (MATLAB's h x w x c x N) or ``"auto"`` (by the shape; also what the
            default means there). Images are never padded; one of another size is an error.
        sort_by_length: group sequences of similar length into mini-batches (less padding);
            results still come back in input order.
        xla: compile the forward pass with XLA: ``"auto"`` (default) where it is measured to
            pay for its compilation (``matkeras._forward``: unidirectional LSTM networks, a
            shape run at least 512 times in the call), True or False (``MATKERAS_XLA=off``
            turns "auto" off everywhere). Results agree to float rounding (1e-6 in float32).

    Returns:
        ``(N, K)`` for a sequence-to-one model, else a list of ``(T_n, K)`` arrays (see above).
    """
    return _predict(model, X, update=False, **_options(
        mini_batch_size, sequence_length, padding_value, padding_direction, layout,
        sort_by_length, xla))


def predict_and_update_state(model, X, mini_batch_size=128, sequence_length="longest",
                             padding_value=0.0, padding_direction="right", layout="TC",
                             sort_by_length=False, xla="auto"):
    """MATLAB's ``predictAndUpdateState``: :func:`predict`, then stores the state after the last
    time step in the model (per observation, in input order). Arguments as :func:`predict`."""
    return _predict(model, X, update=True, **_options(
        mini_batch_size, sequence_length, padding_value, padding_direction, layout,
        sort_by_length, xla))


def classify(model, X, classes=None, **options):
    """MATLAB's ``classify``: ``(labels, scores)``, labels the argmax of the scores.

    `classes` names the classes in score order; by default the ``classes`` of the model's
    :class:`~matkeras.layers.Classification` layer, else the labels are class indices. Sequence-
    to-sequence models give one label array per observation. Other arguments as :func:`predict`.
    """
    return _labels(model, predict(model, X, **options), classes)


def classify_and_update_state(model, X, classes=None, **options):
    """MATLAB's ``classifyAndUpdateState``: :func:`classify` that stores the state."""
    return _labels(model, predict_and_update_state(model, X, **options), classes)


def predict_with_state(model, X, **options):
    """The dlnetwork way of stateful prediction, MATLAB's ``[Y, state] = predict(net, X)``:
    :func:`predict`, plus the state after the last time step (as :func:`get_state` gives it),
    without storing it; ``set_state(model, state)`` (MATLAB's ``net.State = state``) then does
    what :func:`predict_and_update_state` does in one call. Arguments as :func:`predict`."""
    layers = _stateful_layers(model)
    if not layers:
        return predict(model, X, **options), {}
    kept = [layer.stored_state for layer in layers]
    try:
        output = predict_and_update_state(model, X, **options)
        state = get_state(model)
    finally:
        for layer, stored in zip(layers, kept, strict=True):
            layer.stored_state = stored
    return output, state


def reset_state(model):
    """MATLAB's ``resetState``: recurrent layers go back to their initial states."""
    for layer in _stateful_layers(model):
        layer.reset_state()
    return model


def get_state(model):
    """The stored state: ``{layer name: {"hidden_state": (rows, D*H)[, "cell_state": ...]}}``.

    One row means the initial state (broadcast over observations); N rows, one per observation.
    """
    result = {}
    for layer in _stateful_layers(model):
        names = [argument for argument, _ in layer.state_names]
        result[layer.name] = dict(zip(names, layer.start_state_values(), strict=True))
    return result


def set_state(model, state):
    """Sets the stored state from a :func:`get_state`-shaped dict (rows: 1 or one per
    observation; every state of a layer must have the same rows)."""
    layers = {layer.name: layer for layer in _stateful_layers(model)}
    if not isinstance(state, dict):
        raise TypeError(f"state must be a dict of layer name -> dict of arrays, as get_state "
                        f"returns; received {type(state).__name__}.")
    unknown = sorted(set(state) - set(layers))
    if unknown:
        raise ValueError(f"set_state: the model has no recurrent layer named {unknown}; its "
                         f"recurrent layers are {sorted(layers)}.")
    updates = {}
    for name, values in state.items():
        layer = layers[name]
        names = [argument for argument, _ in layer.state_names]
        width = layer.state_width
        if not isinstance(values, dict) or sorted(values) != sorted(names):
            raise ValueError(f"set_state: layer {name!r} needs exactly the states {names}; "
                             f"received {sorted(values) if isinstance(values, dict) else values}.")
        arrays = []
        for argument in names:
            array = np.asarray(values[argument], dtype=np.float64)
            array = array[None, :] if array.ndim == 1 else array
            if array.ndim != 2 or array.shape[1] != width or not np.all(np.isfinite(array)):
                raise ValueError(
                    f"set_state: layer {name!r} {argument} must be finite, of shape (rows, "
                    f"{width}) or ({width},); received shape {np.shape(values[argument])}.")
            arrays.append(array)
        if len({a.shape[0] for a in arrays}) > 1:
            raise ValueError(f"set_state: layer {name!r}'s states have different numbers of "
                             f"rows: {[a.shape for a in arrays]}.")
        updates[layer] = arrays
    for layer, arrays in updates.items():
        layer.stored_state = arrays
    return model


def forecast(model, X, steps=None, mode="closed-loop", future=None, reset=True, **options):
    """MATLAB's time-series forecasting: prime the state on `X`, then predict step by step.

    The model maps a sequence of C features to C predicted features per step (the next values).
    After priming on the observed sequence `X`, its last output forecasts step 1; then

    - ``"closed-loop"``: each forecast is fed back in to forecast the next (`steps` steps);
    - ``"open-loop"``: the true values `future` (``(steps, C)``, or one per observation) are fed
      in instead as they become known; `steps` defaults to their length.

    Args:
        model: a sequence-to-sequence model whose output width equals its input width.
        X: the observed sequence(s), as for :func:`predict`.
        steps: how many steps to forecast.
        mode: ``"closed-loop"`` or ``"open-loop"``.
        future: the observed values for open-loop forecasting.
        reset: reset the state before priming (MATLAB's examples do).
        **options: ``layout``, ``padding_value``... as :func:`predict`.

    Returns:
        ``(steps, C)`` for one sequence, a list of them for several. The model keeps the state
        after the last step fed in.
    """
    if mode not in FORECAST_MODES:
        raise ValueError(f"mode must be one of {FORECAST_MODES}; received {mode!r}.")
    layout = options.get("layout", "TC")
    sequences, single = observations(model, X, layout)
    futures = None
    if mode == "open-loop":
        if future is None:
            raise ValueError('mode="open-loop" feeds in the observed values: pass future=...')
        futures = observations(model, future, layout)[0]
        if len(futures) != len(sequences):
            raise ValueError(f"future has {len(futures)} sequences for {len(sequences)} "
                             "observed ones.")
        known = min(len(f) for f in futures)
        steps = known + 1 if steps is None else steps
        if steps > known + 1:
            raise ValueError(f"open-loop forecasting of {steps} steps needs {steps - 1} observed "
                             f"future values; future has {known}.")
    elif steps is None or isinstance(steps, bool) or not isinstance(steps, numbers.Integral) \
            or steps < 1:
        raise ValueError(f"steps must be a positive integer; received {steps!r}.")
    if reset:
        reset_state(model)
    options = {**options, "layout": "TC"}
    primed = predict_and_update_state(model, sequences, **options)
    if not isinstance(primed, list) or primed[0].ndim != 2:
        raise ValueError("forecast needs a sequence-to-sequence model (output_mode='sequence' "
                         "in its recurrent layers).")
    width = sequences[0].shape[1:]
    if primed[0].shape[1:] != width:
        raise ValueError(f"forecast feeds predictions back in, so the model's output width must "
                         f"equal its input width {width}; it outputs {primed[0].shape[1:]}.")
    current = [p[-1:] for p in primed]
    # The steps are steps - 1 calls of one shape: XLA's rule counts them together.
    layers = _stateful_layers(model)
    xla = _forward.use_xla(model, layers, steps - 1, options.get("xla", "auto"))
    if len(current) <= options.get("mini_batch_size", 128):
        forecasts = _steps(model, layers, np.stack(current), steps, mode, futures, xla)
    else:
        forecasts = [np.stack(current)]
        for k in range(1, steps):
            inputs = current if mode == "closed-loop" else [f[k - 1:k] for f in futures]
            current = predict_and_update_state(model, inputs, **{**options, "xla": xla})
            forecasts.append(np.stack(current))
    result = list(np.concatenate(forecasts, axis=1))
    return result[0] if single else result


def _steps(model, layers, current, steps, mode, futures, xla):
    """The one-step calls of :func:`forecast` when all observations are one mini-batch: what
    :func:`predict_and_update_state` computes on each step (the same compiled call, the same
    states), without re-reading the inputs and the model on every step. Returns the
    ``(N, 1, C)`` forecasts, in order; the model keeps the final state."""
    carried = _state_rows([layer.start_state_values() for layer in layers],
                          np.arange(len(current)))
    forecasts = [current]
    if mode == "closed-loop" and not xla and steps > 1:
        _check_finite(list(current), "Sequence")
        outputs, carried = _forward.closed_loop(model, layers, current, carried, steps - 1)
        for step in outputs[:-1]:  # a prediction fed back is an input: NaN or Inf stops
            _check_finite(list(step), "Sequence")
        forecasts += list(outputs)
    else:
        for k in range(1, steps):
            step = current if mode == "closed-loop" else np.stack([f[k - 1:k] for f in futures])
            _check_finite(list(step), "Sequence")  # a prediction fed back
            current, carried = _forward.run(model, layers, step, carried, xla)
            forecasts.append(current)
    _store(layers, carried)
    return forecasts


def activations(model, X, layer, **options):
    """MATLAB's ``activations``: the output of `layer` (name or index into ``model.layers``)
    for `X`, computed as :func:`predict` computes the model's (stored state, padding, chunks).

    Recurrent layers with ``output_mode="sequence"`` give ``(T_n, H)`` per observation: the
    hidden units over time (see :func:`matkeras.plot.activations_heatmap`).
    """
    target = _find_layer(model, layer)
    inputs = getattr(model, "inputs", None)
    if not inputs:
        raise ValueError("activations needs a built model with known inputs (a functional or "
                         "Sequential model that has been called or given an Input).")
    submodels = _SUBMODELS.setdefault(model, {})
    if target.name not in submodels:  # one submodel, so one traced forward, per layer
        submodels[target.name] = keras.Model(
            inputs[0] if len(inputs) == 1 else inputs, target.output,
            name=f"{model.name}_to_{target.name}")
    return predict(submodels[target.name], X, **options)


#: model -> {layer name: the submodel up to that layer}, for activations().
_SUBMODELS = weakref.WeakKeyDictionary()


# -- internals --------------------------------------------------------------------------------

def _options(mini_batch_size, sequence_length, padding_value, padding_direction, layout,
             sort_by_length, xla):
    if isinstance(mini_batch_size, bool) or not isinstance(mini_batch_size, numbers.Integral) \
            or mini_batch_size < 1:
        raise ValueError("mini_batch_size (MATLAB 'MiniBatchSize') must be a positive integer; "
                         f"received {mini_batch_size!r}.")
    if padding_direction not in ("right", "left"):
        raise ValueError("padding_direction (MATLAB 'SequencePaddingDirection') must be "
                         f"\"right\" or \"left\"; received {padding_direction!r}.")
    if isinstance(sequence_length, str) and sequence_length not in ("longest", "shortest"):
        raise ValueError("sequence_length (MATLAB 'SequenceLength') must be \"longest\", "
                         f"\"shortest\" or a positive integer; received {sequence_length!r}.")
    if not np.isfinite(padding_value):
        raise ValueError("padding_value (MATLAB 'SequencePaddingValue') must be finite; "
                         f"received {padding_value!r}.")
    return {"mini_batch_size": int(mini_batch_size), "sequence_length": sequence_length,
            "padding_value": padding_value, "padding_direction": padding_direction,
            "layout": layout, "sort_by_length": bool(sort_by_length), "xla": xla}


def _state_rows(stored, rows):
    """The layers' start states (per layer, ``(1 or N, width)`` arrays) for the observations
    `rows`: a single stored row serves every observation."""
    return [[np.broadcast_to(s, (len(rows), s.shape[1])) if len(s) == 1 else s[rows]
             for s in states] for states in stored]


def _stateful_layers(model):
    return _forward.facts(model).stateful


def _observation_rank(model):
    inputs = getattr(model, "inputs", None)
    if inputs and len(inputs) == 1 and inputs[0].shape is not None:
        return len(inputs[0].shape) - 1
    return 2


def observations(model, X, layout, known=None):
    """(list of time-major arrays, whether X was one sequence); for an image network (an
    :class:`~matkeras.layers.ImageInput`) the list of ``(h, w, c)`` images
    (:func:`matkeras.data.images.as_images`: ``layout`` ``"BSSC"``, ``"SSCB"``, or ``"auto"``,
    which the sequence layouts' default ``"TC"`` also means there). `known`: the model's
    facts (``matkeras._forward.facts``), when the caller has read them."""
    size = (known or _forward.facts(model)).image_size
    if size is not None:
        from matkeras.data.images import as_images

        images, single = as_images(X, size, "auto" if layout == "TC" else layout)
        _check_finite(images, "Image")
        return images, single
    rank = _observation_rank(model)
    if isinstance(X, np.ndarray) and X.dtype != object:
        single = X.ndim == rank
        if _dense(X, rank, layout):  # one (N, T, ...) array: checked at once
            _check_feature_shape(model, X[:1], layout)
            if not np.all(np.isfinite(X)):
                _check_finite(list(X), "Sequence")  # names the first such sequence
            return list(X), False
    else:
        single = False
        if not isinstance(X, (list, tuple)):
            X = np.asarray(X)
            single = X.ndim == rank
    sequences = as_time_major([X] if single else X, layout)
    _check_feature_shape(model, sequences, layout)
    _check_finite(sequences, "Sequence")
    return sequences, single


def _dense(X, rank, layout):
    """Whether `X` is one numeric ``(N, T, ...)`` array of sequences (Keras layout): its
    sequences are one length, so its mini-batches are slices of it, without padding."""
    return (isinstance(X, np.ndarray) and layout == "TC" and X.dtype.kind in "biuf"
            and X.ndim == rank + 1 and len(X) > 0 and X.shape[1] > 0)


def _check_finite(arrays, what):
    for index, array in enumerate(arrays):
        if array.dtype.kind == "f" and not np.isfinite(array).all():
            raise ValueError(f"{what} {index} contains NaN or Inf values; MATLAB's predict "
                             "would propagate them into the results. Fill or remove them "
                             "first (e.g. fillmissing in MATLAB, numpy.nan_to_num here).")


def _check_feature_shape(model, sequences, layout):
    """Each time step's shape against the model input's (MATLAB: sequenceInputLayer's
    InputSize), before anything runs; suggests the other layout where it would fit."""
    inputs = getattr(model, "inputs", None)
    if not inputs or len(inputs) != 1 or len(inputs[0].shape) < 3:
        return
    expected = tuple(inputs[0].shape[2:])

    def fits(step_shape):
        return len(step_shape) == len(expected) and all(
            e is None or e == g for e, g in zip(expected, step_shape, strict=True))

    for index, sequence in enumerate(sequences):
        if fits(sequence.shape[1:]):
            continue
        shown = sequence.shape if layout == "TC" else sequence.shape[::-1]
        what = (f"{expected[0]} features per time step" if len(expected) == 1 else
                f"time steps of shape {expected}")
        message = (f"Sequence {index} has shape {shown} ({layout} layout: "
                   f"{sequence.shape[0]} time steps of shape {sequence.shape[1:]}), but the "
                   f"network takes {what} (its input shape is {tuple(inputs[0].shape)}; MATLAB: "
                   "the sequenceInputLayer's InputSize).")
        if sequence.ndim == 2 and fits(sequence.shape[:1]):
            given, other = ("(C, T)", "CT") if layout == "TC" else ("(T, C)", "TC")
            message += (f" Transposed it would fit: if it is a {given} matrix, pass "
                        f"layout={other!r}.")
        else:
            message += (f" Give each sequence as a (T, {', '.join(map(str, expected))}) array"
                        " (or MATLAB (C, T) matrices with layout='CT').")
        raise ValueError(message)


def _check_rows(layers, count):
    rows = {len(layer.stored_state[0]) for layer in layers if layer.stored_state is not None}
    for stored in rows:
        check_state_rows(stored, count)
    return max(rows | {count})


def _mini_batches(sequences, order, mini_batch_size, sequence_length, padding_direction,
                  padding_value):
    """``(index, chunks)`` per mini-batch: the sequences' positions and the padded ``(batch,
    mask)`` chunks that run in order, the state carried from one to the next."""
    for first in range(0, len(order), mini_batch_size):
        index = order[first:first + mini_batch_size]
        members = [sequences[i] for i in index]
        if isinstance(sequence_length, str) and len(members) == 1:  # nothing to pad
            yield index, [(members[0][None], None)]
        elif isinstance(sequence_length, str):
            yield index, [pad_sequences(members, sequence_length, padding_direction,
                                        padding_value)]
        else:
            yield index, split_sequences(members, sequence_length, padding_direction,
                                         padding_value)


def _predict(model, X, update, mini_batch_size, sequence_length, padding_value,
             padding_direction, layout, sort_by_length, xla):
    if not getattr(model, "built", False):
        raise ValueError("The model is not built: call it on data or give it an Input first.")
    known = _forward.facts(model)
    layers = known.stateful
    if update and not layers:
        raise ValueError("predict_and_update_state needs a network with at least one recurrent "
                         "layer whose state it can update (layers with has_state_inputs take "
                         "their state from their inputs instead).")
    if _one_sequence(model, X, known, layout, sequence_length, xla):
        return _predict_one(model, X, update, known)
    sequences, single = observations(model, X, layout, known)
    if known.image_size is not None and sequence_length != "longest":
        raise ValueError("sequence_length (MATLAB 'SequenceLength') applies to sequences; this "
                         f"is an image network. Leave it at 'longest'; received "
                         f"{sequence_length!r}.")
    count = len(sequences)
    results = _check_rows(layers, count)  # > count when one sequence runs from N stored rows
    lengths = np.array([len(s) for s in sequences])
    order = np.argsort(lengths, kind="stable") if sort_by_length else np.arange(count)
    if results > count:
        order = np.zeros(1, int)
    if isinstance(sequence_length, str) and known.image_size is None and \
            _dense(X, _observation_rank(model), layout):  # slices of X: no padding to do
        batches = [(index, [(X[index], None)]) for index in (
            order[first:first + mini_batch_size] for first in range(0, len(order),
                                                                    mini_batch_size))]
    else:
        batches = list(_mini_batches(sequences, order, mini_batch_size, sequence_length,
                                     padding_direction, padding_value))
    shapes = collections.Counter(chunk[0].shape for _, chunks in batches for chunk in chunks)
    compiled = {shape: _forward.use_xla(model, layers, repeats, xla)
                for shape, repeats in shapes.items()}
    # from the initial states with no state wanted back: the model's plain forward (no
    # states in or out of the compiled function; the same bits as with states, which XLA's
    # two compilations do not promise: under XLA the states go in and out as before)
    plain = not update and isinstance(sequence_length, str) and all(
        layer.stored_state is None for layer in layers)
    stored = None
    outputs, finals = [None] * results, [[None] * results for _ in layers]
    sequence_model = None
    for index, chunks in batches:
        rows = index if results == count else np.arange(results)
        carried = None
        if not plain or any(compiled[c[0].shape] for c in chunks):
            if stored is None:
                stored = [layer.start_state_values() for layer in layers]
            carried = _state_rows(stored, rows)
        pieces = []
        for batch, _ in chunks:
            xla_here = compiled[batch.shape]
            if len(batch) < len(rows):  # one sequence from every stored row (MATLAB)
                batch = np.broadcast_to(batch, (len(rows), *batch.shape[1:]))
            output, carried = _forward.run(model, layers, batch, carried, xla_here, known)
            pieces.append(output)
        sequence_model = _sequence_output(pieces[0], chunks[0][0])
        output = np.concatenate(pieces, axis=1) if sequence_model else pieces[-1]
        padded = sum(c[0].shape[1] for c in chunks)
        for row, position in enumerate(rows):
            if sequence_model:  # the observation's own steps: min(T_n, padded) of them
                source = sequences[index[min(row, len(index) - 1)]]
                outputs[position] = _trim(output[row], min(len(source), padded), padded,
                                          padding_direction)
            else:
                outputs[position] = output[row]
            if update:
                for which, states in enumerate(carried):
                    finals[which][position] = [s[row] for s in states]
    if update:
        _store(layers, [[np.stack([f[k] for f in finals[which]])
                         for k in range(len(layer.state_names))]
                        for which, layer in enumerate(layers)])
    if sequence_model:
        return outputs[0] if single and results == 1 else outputs
    return np.stack(outputs)


def _one_sequence(model, X, known, layout, sequence_length, xla):
    """Whether :func:`_predict_one` gives this call's results: one numeric ``(T, ...)`` array,
    nothing to pad, at most one stored row per layer, TensorFlow's traced call without XLA."""
    return (isinstance(X, np.ndarray) and X.dtype.kind in "biuf" and layout == "TC"
            and isinstance(sequence_length, str) and known.traceable
            and known.image_size is None and X.ndim == _observation_rank(model) and len(X) > 0
            and keras.backend.backend() == "tensorflow"
            and all(layer.stored_state is None or len(layer.stored_state[0]) == 1
                    for layer in known.stateful)
            and not _forward.use_xla(model, known.stateful, 1, xla))


def _predict_one(model, X, update, known):
    """:func:`_predict` of one sequence (:func:`_one_sequence`) with less Python per call (a
    loop of one-step predict_and_update_state calls, lstm(128) + fc: 0.84 -> 0.56 ms a step): the
    same checks, the same traced function and bits, and the final states kept as tensors for the
    next call to start from."""
    layers = known.stateful
    _check_feature_shape(model, [X], "TC")
    _check_finite([X], "Sequence")
    if update or any(layer.stored_state is not None for layer in layers):
        output, finals = _forward.run_stored(model, layers, X[None], known)
    else:  # from the initial states, none wanted back: the plain forward, as _predict runs it
        output, finals = _forward.run(model, layers, X[None], None, False, known)
    if update:
        _store(layers, finals, tensors=True)
    return output[0] if _sequence_output(output, X[None]) else output


def _store(layers, finals, tensors=False):
    """Each recurrent layer's final states stored (numpy, through ``stored_state``; or the
    call's tensors, :meth:`RecurrentLayer.store_state`), all or none: a state that is not finite
    raises the layer's error, and every layer keeps the state it had."""
    previous = [layer.stored_state for layer in layers]
    try:
        for layer, states in zip(layers, finals, strict=True):
            if tensors:
                layer.store_state(states)
            else:
                layer.stored_state = states
    except ValueError:
        for layer, states in zip(layers, previous, strict=True):
            layer.stored_state = states
        raise


def _sequence_output(output, batch):
    """Whether `output` has one step per step of the `batch` it came from (sequence output)."""
    return output.ndim >= 3 and output.shape[1] == batch.shape[1]


def _trim(output, kept, span, direction):
    """An observation's own steps out of a padded sequence output of `span` steps."""
    return output[:kept] if direction == "right" else output[span - kept:span]


def _labels(model, scores, classes):
    if classes is None:
        from matkeras.layers import Classification

        for layer in getattr(model, "layers", ()):
            if isinstance(layer, Classification) and layer.classes:
                classes = layer.classes
    names = None if classes is None else np.asarray(classes)

    def label(values):
        index = np.argmax(values, axis=-1)
        if names is None:
            return index
        if names.shape[0] != values.shape[-1]:
            raise ValueError(f"classes names {names.shape[0]} classes but the model scores "
                             f"{values.shape[-1]}.")
        return names[index]

    if isinstance(scores, list):
        return [label(s) for s in scores], scores
    return label(scores), scores


def _find_layer(model, layer):
    if isinstance(layer, str):
        try:
            return model.get_layer(layer)
        except ValueError:
            names = [item.name for item in model.layers]
            raise ValueError(f"The model has no layer named {layer!r}; its layers are "
                             f"{names}.") from None
    if isinstance(layer, numbers.Integral) and not isinstance(layer, bool):
        if not -len(model.layers) <= layer < len(model.layers):
            raise ValueError(f"Layer index {layer} is out of range: the model has "
                             f"{len(model.layers)} layers (model.layers, 0-based).")
        return model.layers[layer]
    if isinstance(layer, keras.layers.Layer):
        return layer
    raise TypeError(f"layer must be a name, an index into model.layers or a layer; received "
                    f"{type(layer).__name__}.")
