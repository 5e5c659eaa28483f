"""The layout of the recurrent matrix product: one ``(rows, gates*H)`` product or one per gate.

Both layouts compute the same numbers; only speed differs. On CPU, TensorFlow's matrix product is
much slower for some shapes than the same work cut into gate-wide blocks (measured on a 2-core
EPYC at batch 32: a ``128 x 512`` recurrent kernel takes 79 us per step whole and 51 us as four
``128 x 128`` blocks, while at ``320 x 1280`` the whole product is faster), and the fast layout
depends on the machine's kernels. So the choice is measured once per process for each kernel
shape and dtype (a few milliseconds), and ``MATKERAS_RECURRENT_BLOCKS=whole|gates`` pins it.

Both layouts agree to float rounding (both are checked against the oracle), but not always
bit for bit: where the two are close in speed the measured choice can differ between processes,
so pin the layout when runs must repeat bit for bit.
"""

import functools
import os
import time

import keras
from keras import ops

CHOICES = ("auto", "whole", "gates")
_ENV = "MATKERAS_RECURRENT_BLOCKS"
_MARGIN = 0.85  # split only when clearly faster: the choice should not flip on timing noise
CHOSEN = {}  # (rows, cols, gates, dtype) -> "gates" or "whole", as measured in this process


def split_kernel(kernel, gates):
    """``(kernel,)`` or the kernel cut into `gates` column blocks, whichever runs faster here."""
    rows, cols = kernel.shape
    dtype = keras.backend.standardize_dtype(kernel.dtype)
    if gates > 1 and _use_gate_blocks(int(rows), int(cols), gates, dtype):
        return tuple(ops.split(kernel, gates, axis=-1))
    return (kernel,)


def gate_sums(x_t, inputs, kernels, gates):
    """``split(x_t + inputs @ concat(kernels), gates)`` in the layout `kernels` has."""
    if len(kernels) == 1:
        return ops.split(x_t + ops.matmul(inputs, kernels[0]), gates, axis=-1)
    return [x + ops.matmul(inputs, k)
            for x, k in zip(ops.split(x_t, gates, axis=-1), kernels, strict=True)]


def products(inputs, kernels, gates, biases=None):
    """``split(inputs @ concat(kernels) [+ concat(biases)], gates)`` in the layout `kernels` has
    (`biases`, when given, is laid out like `kernels`)."""
    out = [ops.matmul(inputs, k) for k in kernels]
    if biases is not None:
        out = [p + b for p, b in zip(out, biases, strict=True)]
    return ops.split(out[0], gates, axis=-1) if len(kernels) == 1 else out


def choice():
    value = os.environ.get(_ENV, "auto").strip().lower() or "auto"
    if value not in CHOICES:
        raise ValueError(f"{_ENV} must be one of {CHOICES}; received {value!r}.")
    return value


def _use_gate_blocks(rows, cols, gates, dtype):
    pinned = choice()
    if pinned != "auto":
        return pinned == "gates"
    if keras.backend.backend() != "tensorflow":
        return False
    return _measured_faster(rows, cols, gates, dtype)


@functools.cache
def _measured_faster(rows, cols, gates, dtype, batch=32, steps=40, rounds=7):
    import numpy as np
    import tensorflow as tf

    with tf.init_scope():  # measure eagerly even when called while a graph is being traced
        rng = np.random.default_rng(0)
        kernel = tf.constant(rng.normal(0, 0.1, (rows, cols)), dtype)
        blocks = tf.split(kernel, gates, axis=-1)
        state = tf.constant(rng.normal(0, 1, (batch, rows)), dtype)

        def loop(multiply):  # every block's product feeds the next step, so none is pruned
            def body(t, h):
                return t + 1, h * tf.sigmoid(tf.add_n([p[:, :1] for p in multiply(h)]))
            return tf.function(lambda: tf.while_loop(
                lambda t, h: t < steps, body, (0, state))[1], autograph=False)

        whole = loop(lambda h: [tf.matmul(h, kernel)])
        split = loop(lambda h: [tf.matmul(h, k) for k in blocks])
        timings = {whole: [], split: []}
        for fn in timings:
            fn()  # trace
        for _ in range(rounds):
            for fn, seen in timings.items():
                start = time.perf_counter()
                fn().numpy()
                seen.append(time.perf_counter() - start)
    # The fastest of several rounds: other work on the machine only ever adds time.
    faster = min(timings[split]) < _MARGIN * min(timings[whole])
    CHOSEN[(rows, cols, gates, dtype)] = "gates" if faster else "whole"
    return faster
