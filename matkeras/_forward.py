"""The forward pass under MATLAB-style prediction: one compiled function per model, with the
recurrent states as its inputs and outputs, and XLA where it is measured to pay.

:func:`run` computes ``model(x)`` from given start states and returns the final states
(:class:`matkeras.layers.StateCarry` inside a ``tf.function``). The states go in and come out
in each recurrent layer's compute dtype (:func:`state_dtype`), whatever the model's input dtype,
so a sequence fed in pieces continues exactly as one call over it would. The function is traced
once per model, input kind (batch 1 or any, one time step or any: a one-step call runs the step
without a loop), input dtype, speed settings (the rule's overrides,
:func:`matkeras.ops.speed_settings`) and whether states go in and out (a call from the initial
states that wants none back traces the model's plain forward, with the same bits), and called as
a concrete function with flat tensors. Every other shape reuses the trace, so mini-batches of
varying lengths cost no tracing. :func:`closed_loop` traces one while loop of one-step calls
(closed-loop forecasting: the bits of the same calls made one by one). Models with layers not
known to run right with a free time axis run eagerly instead (:func:`_traceable`), as do the other
backends.

Run-time checks on user input (a position embedding's MaxPosition, an indexing layer's step, an
attention mask's size: layers with ``checks_length``) raise the layer's own ValueError on every
path: eagerly at once; in the traced function their assertion stops the call, which then runs
again eagerly to raise that ValueError with its numbers; under XLA, which drops assertions, such
models are traced at each call's own shape (XLA compiles each shape anyway), so the layers check
the length in Python while tracing. Checks on data values (an indexing layer's k-th data step
under a padding mask, a word embedding's out-of-vocabulary words under OOVMode 'error':
``checks_data``) cannot run under XLA, so those models never take it.

XLA (``jit_compile``) compiles the traced function again for each concrete input shape. Measured
on the 2-core EPYC (interleaved in one process, ``benchmarks/results``): for unidirectional LSTM
networks it runs 7-12% faster at batch 32, 200 steps, 12 features, 128 units (11.1 vs 12.5 ms),
31% at the demo's (27, 26, 12, 100) (1.79 vs 2.61 ms), 0.35 ms less per one-step streaming call
(lstm(200) + fc: 0.85 vs 1.2 ms), and not at all at (32, 1000, 123, 320) (338 vs 340 ms); GRU
layers run 2.4x slower under it (33 vs 14 ms) and BiLSTM layers 0-10% slower. Compiling costs
0.3-1 s per shape, so a shape has to run some hundreds of times before XLA has paid for itself.
The rule (:func:`use_xla`): XLA for the calls of one shape when the network's recurrent layers
are all unidirectional LSTMs, no layer checks data values, and the same inference call runs that
shape at least :data:`XLA_REPEATS` times (a ``predict`` over many same-shape mini-batches; a
``forecast`` of at least that many steps counts its one-step calls together).
``xla=True``/``False`` on the inference functions, or ``MATKERAS_XLA=on|off|auto``, overrides
it. The SavedModel and TFLite exports do not use it.

Repeatable bits: the same call (inputs, mini-batches, options) gives the same bits in every
process. With ``xla=False`` a mini-batch's results do not depend on the rest of the call; under
the XLA rule, the rows of a call with :data:`XLA_REPEATS` same-shape mini-batches agree with the
same rows predicted alone to float32 rounding (``tests/tolerances.py`` ``XLA_ATOL``), not bit for
bit.
"""

import os
import warnings
import weakref

import keras
import numpy as np

#: Calls of one shape within one inference call from which XLA pays for its compilation.
XLA_REPEATS = 512
XLA_CHOICES = ("auto", "on", "off")
_ENV = "MATKERAS_XLA"
#: model -> {(batch, time, xla, input dtype, stateless, feature shape, speed settings):
#: concrete function}
_FUNCTIONS = weakref.WeakKeyDictionary()


def use_xla(model, layers, repeats, xla="auto"):
    """Whether `repeats` calls of one shape of `model` (whose stateful recurrent layers are
    `layers`) run under XLA: `xla` True/False, else ``MATKERAS_XLA``, else the rule above."""
    if xla not in (True, False, "auto"):
        raise ValueError(f"xla must be True, False or 'auto'; received {xla!r}.")
    if xla != "auto":
        return bool(xla) and keras.backend.backend() == "tensorflow"
    setting = os.environ.get(_ENV, "auto").strip().lower() or "auto"
    if setting not in XLA_CHOICES:
        raise ValueError(f"{_ENV} must be one of {XLA_CHOICES}; received {setting!r}.")
    if setting != "auto" or keras.backend.backend() != "tensorflow":
        return setting == "on" and keras.backend.backend() == "tensorflow"
    return repeats >= XLA_REPEATS and facts(model).xla_kind


def _recurrent_layers(model):
    from matkeras.layers import RecurrentLayer

    return [layer for layer in _all_layers(model) if isinstance(layer, RecurrentLayer)]


def run(model, layers, batch, starts, xla=False, known=None):
    """``(output, final states)`` of `model` on the numpy `batch`, the recurrent `layers`
    starting from `starts` (per layer, one numpy ``(rows, width)`` array per state, rows equal
    to the batch's): numpy, the batch in the model's input dtype and each layer's states in
    that layer's compute dtype (:func:`state_dtype`: what its recurrence carries).

    ``starts=None``: the layers start from their own initial states and the final states are
    not wanted (``(output, None)``): the model's plain forward, traced without states.
    `known`: the model's :func:`facts`, when the caller has them."""
    known = known or facts(model)
    x = np.asarray(batch, known.input_dtype)
    if starts is not None:
        starts = [[np.asarray(s, state_dtype(layer)) for s in states]
                  for layer, states in zip(layers, starts, strict=True)]
    if keras.backend.backend() != "tensorflow" or not known.traceable:
        output, finals = _forward(model, layers, keras.ops.convert_to_tensor(x), starts)
    else:
        if xla and known.checks[1]:
            warnings.warn(_NO_XLA.format(known.checks[1]), stacklevel=3)
            xla = False
        output, finals = _compiled(model, layers, x, starts, xla)
    _check_single_output(output)
    return (keras.ops.convert_to_numpy(output), None if finals is None else
            [[keras.ops.convert_to_numpy(s) for s in states] for states in finals])


def run_stored(model, layers, x, known):
    """``(output, final states)`` of the traced call on the numpy one-row batch `x`, the
    recurrent `layers` starting from their stored states (:meth:`RecurrentLayer.stored_tensors`
    where a call left them, else ``start_state_values``): the output numpy, the final states
    tensors (per layer), for :meth:`RecurrentLayer.store_state`. TensorFlow, traceable models
    (``known.traceable``), without XLA: the same function and bits as :func:`run`."""
    import tensorflow as tf

    starts = []
    for layer in layers:
        kept = layer.stored_tensors()
        starts.append(kept if kept is not None else [
            tf.constant(np.asarray(s, state_dtype(layer))) for s in layer.start_state_values()])
    output, finals = _compiled(model, layers, np.asarray(x, known.input_dtype), starts, False)
    _check_single_output(output)
    return output.numpy(), finals


def _check_single_output(output):
    if isinstance(output, (list, tuple, dict)):
        raise ValueError("matkeras.inference handles single-output models; this model returns "
                         f"{len(output)} outputs.")


def closed_loop(model, layers, x, starts, steps):
    """``(outputs, final states)`` of `steps` one-step calls of `model`, each output fed back
    as the next input, from the numpy ``(rows, 1, C)`` `x` and `starts` (as :func:`run`):
    outputs ``(steps, rows, 1, C)``. On TensorFlow with a traceable model the steps run in one
    compiled loop (the same step, so the same bits, as `steps` calls of :func:`run`, without a
    call's cost per step); else one :func:`run` per step."""
    known = facts(model)
    if keras.backend.backend() != "tensorflow" or not known.traceable or known.checks[0] \
            or known.checks[1]:
        outputs = []
        for _ in range(steps):
            x, starts = run(model, layers, x, starts)
            outputs.append(x)
        return np.stack(outputs), starts
    import tensorflow as tf

    x = np.asarray(x, known.input_dtype)
    function = _loop_function(model, layers, x)
    flat = [tf.constant(np.asarray(s, state_dtype(layer)))
            for layer, states in zip(layers, starts, strict=True) for s in states]
    outputs, *finals = function(tf.constant(x), tf.constant(steps, tf.int32), *flat)
    return outputs.numpy(), _nested(layers, [s.numpy() for s in finals])


def _loop_function(model, layers, x):
    import tensorflow as tf

    from matkeras.ops import speed_settings

    batch = 1 if x.shape[0] == 1 else None
    key = ("loop", batch, str(x.dtype), speed_settings())
    functions = _FUNCTIONS.setdefault(model, {})
    if key not in functions:
        owner = weakref.ref(model)
        signature = [tf.TensorSpec((batch, 1, *x.shape[2:]), tf.as_dtype(x.dtype)),
                     tf.TensorSpec((), tf.int32), *_state_specs(layers, batch)]
        outputs = getattr(model, "outputs", None)
        output_dtype = tf.as_dtype(outputs[0].dtype if outputs else x.dtype)

        def loop(x, steps, *flat):
            def body(k, x, written, *flat):
                output, finals = _forward(owner(), layers, x, _nested(layers, flat))
                return (k + 1, tf.cast(output, x.dtype), written.write(k, output),
                        *_flat(finals))

            written = tf.TensorArray(output_dtype, size=steps, element_shape=x.shape)
            _, _, written, *finals = tf.while_loop(
                lambda k, *_: k < steps, body, (tf.constant(0), x, written, *flat))
            return [written.stack(), *finals]

        functions[key] = tf.function(loop, input_signature=signature,
                                     autograph=False).get_concrete_function()
    return functions[key]


def _compiled(model, layers, x, starts, xla):
    """The traced call; a run-time check of a layer that fails in the graph (an assertion:
    the graph holds no numbers for its message) runs the call again eagerly, which raises the
    layer's own ValueError with the numbers, as the plain path does."""
    import tensorflow as tf

    function = _function(model, layers, x, xla, stateless=starts is None)
    flat = [tf.constant(x)] + ([] if starts is None else [
        s if isinstance(s, tf.Tensor) else tf.constant(s) for s in _flat(starts)])
    try:
        result = _call(function, flat)
    except tf.errors.InvalidArgumentError:
        if not any(facts(model).checks):
            raise
        _forward(model, layers, tf.convert_to_tensor(x), starts)  # raises the ValueError
        raise
    if starts is None:
        return result, None
    output, *finals = result
    return output, _nested(layers, finals)


def _call(function, flat):
    """The concrete `function` on the `flat` tensors, which match its signature by construction
    (made from the same shapes and dtypes as its key): through its atomic function
    (``inference_fn.call_flat``), which skips the argument binding and type checks of
    ``ConcreteFunction.__call__`` (measured on a one-step lstm(128) + fc call: 0.64 -> 0.45 ms);
    the ordinary call where a TensorFlow version has no such attribute."""
    import tensorflow as tf

    atomic = getattr(function, "inference_fn", None)
    if atomic is None or not hasattr(atomic, "call_flat"):
        return function(*flat)
    outputs = atomic.call_flat(*flat, *function.captured_inputs)
    structure = function.structured_outputs
    if isinstance(structure, list) and len(structure) == len(outputs):  # [output, *states]
        return list(outputs)
    if len(outputs) == 1 and not isinstance(structure, (list, tuple, dict)):
        return outputs[0]
    return tf.nest.pack_sequence_as(structure, outputs)


def _state_specs(layers, batch):
    """The flat signature of the layers' states: one ``(batch, width)`` spec per state."""
    import tensorflow as tf

    return [tf.TensorSpec((batch, layer.state_width), state_dtype(layer))
            for layer in layers for _ in layer.state_names]


def _flat(starts):
    return [s for states in starts for s in states]


def _nested(layers, flat):
    """Flat states back as one list per layer."""
    it = iter(flat)
    return [[next(it) for _ in layer.state_names] for layer in layers]


class _Facts:
    """What prediction needs to know of a model, read once per model (and again when its list
    of layers changes): whether it traces, its checking layers, its input dtype, its stateful
    recurrent layers, its image input size (None: a sequence network)."""

    def __init__(self, model):
        from matkeras.data.images import image_input_size
        from matkeras.layers import LSTM
        from matkeras.layers.stateful import stateful_layers

        self.layers = _layer_ids(model)
        self.traceable = _traceable(model)
        self.checks = _checks(model)
        self.input_dtype = _input_dtype(model)
        self.stateful = stateful_layers(model)
        self.image_size = image_input_size(model)
        recurrent = _recurrent_layers(model)  # what the XLA rule compiles: LSTMs only
        self.xla_kind = (bool(recurrent) and all(type(layer) is LSTM for layer in recurrent)
                         and not self.checks[1])


#: model -> _Facts
_FACTS = weakref.WeakKeyDictionary()


def _layer_ids(model):
    return tuple(map(id, getattr(model, "layers", ())))


def facts(model):
    """The model's :class:`_Facts` (cached per model)."""
    facts = _FACTS.get(model)
    if facts is None or facts.layers != _layer_ids(model):
        facts = _FACTS[model] = _Facts(model)
    return facts


def _checks(model):
    """``(layers that check the sequence length, layers that check their data)`` while
    running (``checks_length``/``checks_data``: position embeddings, step indexing, attention
    masks), by name."""
    length, data = [], []
    for layer in _all_layers(model):
        if getattr(layer, "checks_length", False):
            length.append(layer.name)
        if getattr(layer, "checks_data", False):
            data.append(layer.name)
    return length, data


def _all_layers(model):
    for layer in getattr(model, "layers", ()):
        yield layer
        if getattr(layer, "layers", None):
            yield from _all_layers(layer)


_NO_XLA = ("xla=True: layers {} check their padding mask or their words while running, which "
           "XLA cannot do (it drops the check); this call runs without XLA.")


def state_dtype(layer):
    """The dtype `layer` carries its states in: its compute dtype (float32 for a float32 layer
    behind an integer input, float16 under a mixed_float16 policy, float64 for a float64 layer
    behind a float32 input), so that a sequence fed in pieces continues from exactly the state
    one call over the whole sequence would carry."""
    return keras.backend.standardize_dtype(layer.compute_dtype)


def _traceable(model):
    """Whether every layer of `model` is known to run right when traced with a free batch and
    time axis: matkeras's layers and Keras's layers that work step by step or on the last axis
    (others, such as ``keras.layers.TimeDistributed``, which returns one step when traced with
    the time axis unknown in Keras 3.15, run eagerly on each call's own shape)."""
    for layer in getattr(model, "layers", ()):
        if getattr(layer, "layers", None):
            if not _traceable(layer):
                return False
        elif not (type(layer).__module__.startswith("matkeras.")
                  or isinstance(layer, _traceable_keras_layers())):
            return False
    return True


def _traceable_keras_layers():
    L = keras.layers
    return (L.InputLayer, L.Dense, L.EinsumDense, L.Activation, L.Softmax, L.ReLU, L.LeakyReLU,
            L.ELU, L.PReLU, L.Dropout, L.Identity, L.Add, L.Subtract, L.Multiply, L.Average,
            L.Maximum, L.Minimum, L.Concatenate, L.LayerNormalization, L.BatchNormalization,
            L.Rescaling)


def _forward(model, layers, x, starts):
    """``(output, final states)``; with `starts` None the model's plain call (its layers'
    own initial states) and no final states."""
    if starts is None:
        return model(x, training=False), None
    from matkeras.layers import StateCarry

    with StateCarry(dict(zip(layers, starts, strict=True))) as carry:
        output = model(x, training=False)
    final = carry.final
    return output, [final[layer] for layer in layers]


def _function(model, layers, x, xla, stateless=False):
    """The concrete function (flat tensors in: the input, then each layer's states; flat out:
    the output, then the final states), traced once per key: calling a concrete function
    skips ``tf.function``'s argument binding and trace lookup (about 0.3 ms a call)."""
    import tensorflow as tf

    from matkeras.ops import speed_settings

    batch, steps = (1 if x.shape[0] == 1 else None, 1 if x.shape[1] == 1 else None)
    if xla and facts(model).checks[0]:
        # XLA drops assertions but compiles each shape anyway: traced at the call's own
        # shape, the layers check the length in Python and raise their ValueError.
        batch, steps = x.shape[:2]
    key = (batch, steps, bool(xla), x.dtype, bool(stateless), x.shape[2:], speed_settings())
    functions = _FUNCTIONS.setdefault(model, {})
    if key not in functions:
        owner = weakref.ref(model)  # the cache must not keep the model alive
        signature = [tf.TensorSpec((batch, steps, *x.shape[2:]), tf.as_dtype(x.dtype)),
                     *([] if stateless else _state_specs(layers, batch))]

        def call(x, *flat):
            if stateless:
                return _forward(owner(), layers, x, None)[0]
            output, finals = _forward(owner(), layers, x, _nested(layers, flat))
            return [output, *_flat(finals)]

        functions[key] = tf.function(call, input_signature=signature, autograph=False,
                                     jit_compile=bool(xla)).get_concrete_function()
    return functions[key]


def _input_dtype(model):
    inputs = getattr(model, "inputs", None)
    if inputs and inputs[0].dtype is not None:
        return keras.backend.standardize_dtype(inputs[0].dtype)
    return keras.config.floatx()
