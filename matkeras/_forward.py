"""The forward pass under MATLAB-style prediction: one compiled function per model, with the
recurrent states as its inputs and outputs, and XLA where it is measured to pay.

:func:`run` computes ``model(x)`` from given start states and returns the final states
(:class:`matkeras.layers.StateCarry` inside a ``tf.function``). The function is traced once per
model and input kind: batch 1 or any, one time step or any (a one-step call, as closed-loop
forecasting makes, runs the step without a loop; a batch of one takes one loop, the speed rule's
choice). Every other shape reuses the trace, so mini-batches of varying lengths cost no tracing.
Models with layers not known to run right with a free time axis run eagerly instead
(:func:`_traceable`), as do the other backends.

XLA (``jit_compile``) compiles the traced function again for each concrete input shape. Measured
on the 2-core EPYC (interleaved in one process, ``benchmarks/results``): for unidirectional LSTM
networks it runs 7-12% faster at batch 32, 200 steps, 12 features, 128 units (11.1 vs 12.5 ms),
31% at the demo's (27, 26, 12, 100) (1.79 vs 2.61 ms), 0.35 ms less per one-step streaming call
(lstm(200) + fc: 0.85 vs 1.2 ms), and not at all at (32, 1000, 123, 320) (338 vs 340 ms); GRU
layers run 2.4x slower under it (33 vs 14 ms) and BiLSTM layers 0-10% slower. Compiling costs
0.3-1 s per shape, so a shape has to run about 430 times (S) to 1000 times (one-step
streaming) before XLA has paid for itself. The rule (:func:`use_xla`): XLA for the calls of one
shape when the network's recurrent layers are all unidirectional LSTMs and the same call runs
that shape at least :data:`XLA_REPEATS` times (a ``predict`` over many same-length mini-batches,
a long ``forecast``); never for a first call; ``xla=True``/``False`` on the inference functions,
or ``MATKERAS_XLA=on|off|auto``, overrides it. The SavedModel and TFLite exports do not use it.
"""

import os
import weakref

import keras
import numpy as np

#: Calls of one shape within one inference call from which XLA pays for its compilation.
XLA_REPEATS = 512
XLA_CHOICES = ("auto", "on", "off")
_ENV = "MATKERAS_XLA"
_FUNCTIONS = weakref.WeakKeyDictionary()  # model -> {(batch, time, xla): tf.function}


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
    from matkeras.layers import LSTM

    recurrent = [layer for layer in _recurrent_layers(model)]
    return (repeats >= XLA_REPEATS and bool(recurrent)
            and all(type(layer) is LSTM for layer in recurrent))


def _recurrent_layers(model):
    from matkeras.layers import RecurrentLayer

    found = []
    for layer in getattr(model, "layers", ()):
        if isinstance(layer, RecurrentLayer):
            found.append(layer)
        elif getattr(layer, "layers", None):
            found.extend(_recurrent_layers(layer))
    return found


def run(model, layers, batch, starts, xla=False):
    """``(output, final states)`` of `model` on the numpy `batch`, the recurrent `layers`
    starting from `starts` (per layer, one numpy ``(rows, width)`` array per state, rows equal
    to the batch's): numpy, in the model's input dtype."""
    dtype = _input_dtype(model)
    x = np.asarray(batch, dtype)
    starts = [[np.asarray(s, dtype) for s in states] for states in starts]
    if keras.backend.backend() != "tensorflow" or not _traceable(model):
        output, finals = _forward(model, layers, keras.ops.convert_to_tensor(x), starts)
    else:
        output, finals = _function(model, layers, x, xla)(x, starts)
    if isinstance(output, (list, tuple, dict)):
        raise ValueError("matkeras.inference handles single-output models; this model returns "
                         f"{len(output)} outputs.")
    return (keras.ops.convert_to_numpy(output),
            [[keras.ops.convert_to_numpy(s) for s in states] for states in finals])


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
    from matkeras.layers import StateCarry

    with StateCarry(dict(zip(layers, starts, strict=True))) as carry:
        output = model(x, training=False)
    final = carry.final
    return output, [final[layer] for layer in layers]


def _function(model, layers, x, xla):
    import tensorflow as tf

    key = (1 if x.shape[0] == 1 else None, 1 if x.shape[1] == 1 else None, bool(xla))
    functions = _FUNCTIONS.setdefault(model, {})
    if key not in functions:
        owner = weakref.ref(model)  # the cache must not keep the model alive
        dtype = tf.as_dtype(x.dtype)
        signature = [tf.TensorSpec((key[0], key[1], *x.shape[2:]), dtype),
                     [[tf.TensorSpec((key[0], layer.state_width), dtype)
                       for _ in layer.state_names] for layer in layers]]
        functions[key] = tf.function(
            lambda x, starts: _forward(owner(), layers, x, starts), input_signature=signature,
            autograph=False, jit_compile=bool(xla))
    return functions[key]


def _input_dtype(model):
    inputs = getattr(model, "inputs", None)
    if inputs and inputs[0].dtype is not None:
        return keras.backend.standardize_dtype(inputs[0].dtype)
    return keras.config.floatx()
