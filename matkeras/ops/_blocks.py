"""The layout of the recurrent matrix product: one ``(rows, gates*H)`` product or one per gate.

Both layouts compute the same numbers; only speed differs. On CPU, TensorFlow runs the same step
at quite different speeds in the two layouts, and which one wins depends on the shapes and on the
machine: on a 2-core EPYC the four-gate-block layout ran an LSTM layer up to 1.5x (batch 32, 200
steps, 12 features, 128 units; some runs show a tie) and 1.8x (1000 steps, 123 features, 320
units) faster in inference, a BiLSTM's two directions side by side ran faster whole, and a bare
loop of products alone showed no difference at the first shape. So the
choice is measured once per process and kernel shape on the op itself: the op passes a `probe`
that runs it on a short random sequence (batch 32, 100 steps: at 40 steps the timings did not yet
separate), and both layouts are timed (0.1-0.4 s).
``MATKERAS_RECURRENT_BLOCKS=whole|gates`` pins the choice.

Both layouts agree to float rounding (both are checked against the oracle), but not always
bit for bit: where the two are close in speed the measured choice can differ between processes,
so pin the layout when runs must repeat bit for bit. With TensorFlow's op determinism on
(``tf.config.experimental.enable_op_determinism()`` or ``TF_DETERMINISTIC_OPS=1``) every measured
choice of the ops takes a fixed value instead (:func:`pinned_choice`; here ``"whole"``), and no
probe runs: two processes then compute the same bits.
"""

import contextvars
import functools
import os
import sys
import time

import keras
from keras import ops

CHOICES = ("auto", "whole", "gates")
_ENV = "MATKERAS_RECURRENT_BLOCKS"
_MARGIN = 1.0  # the faster layout: a near tie either way costs no speed (pin it to repeat runs)
CHOSEN = {}  # (rows, cols, gates, dtype, probe label) -> "gates" or "whole", measured here
_FORCED = contextvars.ContextVar("matkeras_recurrent_blocks", default=None)  # while measuring


def split_kernel(kernel, gates, probe=None):
    """``(kernel,)`` or the kernel cut into `gates` column blocks, whichever runs faster here.

    `probe`, when given, is a hashable ``(function, arguments)``: ``function(*arguments)`` returns
    a zero-argument callable that runs the calling op on a short random sequence, taking its
    layout from this function. The layouts are then timed on the op itself; without a probe, on
    a generic step of products and elementwise work.
    """
    rows, cols = kernel.shape
    dtype = keras.backend.standardize_dtype(kernel.dtype)
    if gates > 1 and _use_gate_blocks(int(rows), int(cols), gates, dtype, probe):
        return tuple(ops.split(kernel, gates, axis=-1))
    return (kernel,)


def products(inputs, kernels, gates, biases=None):
    """``split(inputs @ concat(kernels) [+ concat(biases)], gates)`` in the layout `kernels` has
    (`biases`, when given, is laid out like `kernels`)."""
    out = [ops.matmul(inputs, k) for k in kernels]
    if biases is not None:
        out = [p + b for p, b in zip(out, biases, strict=True)]
    return ops.split(out[0], gates, axis=-1) if len(kernels) == 1 else out


def pinned_choice(forced, env, choices, deterministic):
    """A measured choice's setting: the value `forced` holds while measuring, else what the
    environment variable `env` pins (one of `choices`), else `deterministic` when TensorFlow's
    op determinism is on (:func:`op_determinism`), else ``"auto"`` (measure)."""
    value = forced.get()
    if value is not None:
        return value
    value = os.environ.get(env, "auto").strip().lower() or "auto"
    if value not in choices:
        raise ValueError(f"{env} must be one of {choices}; received {value!r}.")
    if value == "auto" and op_determinism():
        return deterministic
    return value


def op_determinism():
    """Whether TensorFlow's op determinism is on: ``tf.config.experimental.enable_op_determinism()``
    was called, or ``TF_DETERMINISTIC_OPS`` is set (TensorFlow's own reading of both)."""
    if "tensorflow" not in sys.modules:  # then only the environment variable can have set it
        return os.environ.get("TF_DETERMINISTIC_OPS", "").strip().lower() in ("1", "true")
    # TensorFlow has no public reader of the setting; this is what enable_op_determinism sets.
    from tensorflow.python.framework import config

    return bool(config.is_op_determinism_enabled())


def _use_gate_blocks(rows, cols, gates, dtype, probe=None):
    pinned = pinned_choice(_FORCED, _ENV, CHOICES, deterministic="whole")
    if pinned != "auto":
        return pinned == "gates"
    if keras.backend.backend() != "tensorflow":
        return False
    return _measured_faster(rows, cols, gates, dtype, probe)


@functools.cache
def _measured_faster(rows, cols, gates, dtype, probe=None, rounds=6):
    timings = time_forced(_FORCED, ("whole", "gates"), lambda: (
        probe[0](*probe[1]) if probe is not None else _generic_probe(rows, cols, gates, dtype)),
        rounds)
    faster = timings["gates"] < _MARGIN * timings["whole"]
    label = "generic" if probe is None else probe_label(probe)
    CHOSEN[(rows, cols, gates, dtype, label)] = "gates" if faster else "whole"
    return faster


def probe_label(probe):
    """A readable name of an op's probe ``(function, arguments)``: ``"lstm(12, 128, ...)"``."""
    return f"{probe[0].__module__.rsplit('.', 1)[-1]}{tuple(probe[1])}"


def time_forced(variable, choices, make_run, rounds, statistic=min):
    """``{choice: time}`` of `make_run()`'s zero-argument callable, built and traced with each of
    `choices` set in the context variable `variable` (the traced function keeps it): the
    `statistic` of `rounds` timed runs (``fastest_times``). Runs eagerly even when called while a
    graph is being traced."""
    import tensorflow as tf

    with tf.init_scope():
        runs = {}
        for choice_ in choices:
            token = variable.set(choice_)
            try:
                runs[choice_] = make_run()
                runs[choice_]()
            finally:
                variable.reset(token)
        return fastest_times(runs, rounds, statistic)


def fastest_times(runs, rounds, statistic=min):
    """``{name: fastest of rounds}`` for zero-argument callables, timed in alternating order, each
    timed run right after an untimed one (so it starts with the CPU busy with that candidate).
    The fastest, not the median: other work on the machine only ever adds time. (Another
    `statistic`, e.g. ``statistics.median``, for candidates whose time has a rare fast mode.)"""
    timings = {name: [] for name in runs}
    for round_ in range(rounds):
        order = list(runs.items()) if round_ % 2 else list(runs.items())[::-1]
        for name, run in order:
            run()
            start = time.perf_counter()
            run()
            timings[name].append(time.perf_counter() - start)
    return {name: statistic(seen) for name, seen in timings.items()}


def _generic_probe(rows, cols, gates, dtype, batch=32, steps=100):
    """A loop of steps shaped like the layers' steps: the product feeds an elementwise function per
    gate, whose result comes back as part of the next step's input (so nothing is pruned)."""
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(0)
    kernels = split_kernel(tf.constant(rng.normal(0, 0.1, (rows, cols)), dtype), gates)
    width = cols // gates
    fixed = tf.constant(rng.normal(0, 1, (batch, max(rows - width, 0))), dtype)
    state = tf.constant(rng.normal(0, 1, (batch, width)), dtype)

    def body(t, h):
        joined = tf.concat([fixed, h], -1) if rows > width else h[:, :rows]
        return t + 1, tf.add_n([tf.sigmoid(p) for p in products(joined, kernels, gates)])

    loop = tf.function(lambda: tf.while_loop(lambda t, h: t < steps, body, (0, state))[1],
                       autograph=False)
    return lambda: loop().numpy()


def random_probe_tensors(dtype, *shapes):
    """Random tensors (scale 0.1) for an op's probe, one per shape, seeded for repeatability."""
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(0)
    return [tf.constant(rng.normal(0, 0.1, shape), dtype) for shape in shapes]


def compiled_probe(run_side, sides, training, weights):
    """A zero-argument callable for an op's probe: ``run_side(side)`` for each of `sides` runs at
    once (as a BiLSTM's directions go) in one compiled function; with `training`, the gradients
    of their sum with respect to `weights` instead of the outputs."""
    import tensorflow as tf

    def run():  # tf.gradients, not a tape: tapes do not record inside tf.init_scope
        outputs = [run_side(side) for side in range(sides)]
        if not training:
            return outputs
        return tf.gradients(tf.add_n([tf.reduce_sum(y) for y in outputs]), list(weights))

    compiled = tf.function(run, autograph=False)
    return lambda: [result.numpy() for result in compiled()]
