"""The time loop shared by every recurrent op.

A cell kind supplies a module-level ``step(x_t, states, weights, config) -> new_states`` (states is
a tuple whose first element is the step's output). The loop runs it over time-major inputs,
carries states over on masked-out steps, and collects the outputs. Two implementations compute
the same thing: ``"while"``, a ``tf.while_loop`` compiled once per configuration (so eager calls
are fast too) that runs several steps per iteration where the steps are small
(``unrolled_while``), and ``"scan"``, portable ``keras.ops.scan``.
"""

import functools

import keras
from keras import ops

from matkeras.ops import _speed
from matkeras.ops.precision import matmul

IMPLEMENTATIONS = ("auto", "while", "scan")


def run(step, projected, keep, states, weights, config, return_sequences, implementation="auto",
        unroll=1):
    """Runs `step` over time.

    Args:
        step: module-level function ``step(x_t, states, weights, config) -> states``.
        projected: ``(time, batch, features)`` per-step inputs (already projected).
        keep: None, or ``(time, batch, 1)`` booleans; False carries the states over unchanged.
        states: tuple of ``(batch, n)`` initial states; ``states[0]`` is the output.
        weights: tuple of tensors (or None) that `step` reads.
        config: tuple of hashable options that `step` reads.
        return_sequences: collect every step's output (else only the final states).
        implementation: ``"auto"``, ``"while"`` or ``"scan"``.
        unroll: time steps per iteration of the ``"while"`` loop (`unroll_for`).

    Returns:
        ``(outputs, final_states)``: outputs ``(time, batch, n)`` or None.
    """
    if implementation not in IMPLEMENTATIONS:
        raise ValueError(
            f"implementation must be one of {IMPLEMENTATIONS}; received {implementation!r}."
        )
    backend = keras.backend.backend()
    if implementation == "auto":
        implementation = "while" if backend == "tensorflow" else "scan"
    elif implementation == "while" and backend != "tensorflow":
        raise ValueError(f"implementation 'while' is TensorFlow's tf.while_loop; this process "
                         f"runs Keras on {backend}: use 'scan' or 'auto' there, or "
                         "KERAS_BACKEND=tensorflow.")
    states, weights, config = tuple(states), tuple(weights), tuple(config)
    if projected.shape[0] == 1:
        # One time step known when tracing (streaming one step at a time): the step alone,
        # without a loop, whose set-up costs more than the step at batch 1.
        final = _masked_step(step, projected[0], None if keep is None else keep[0], states,
                             weights, config)
        return (ops.expand_dims(final[0], 0) if return_sequences else None), final
    if implementation == "scan":
        return _scan_loop(step, projected, keep, states, weights, config, bool(return_sequences))
    import tensorflow as tf

    traced, compiled = _while_loop(step, config, bool(return_sequences), int(unroll))
    # Inside a traced function (fit, predict, a user's tf.function) the loop is built in place,
    # so TensorFlow differentiates and optimizes it with the rest of the graph; a nested
    # tf.function call would make the backward pass several times slower. Eager calls use the
    # compiled function, which is what makes them fast.
    loop = compiled if tf.executing_eagerly() else traced
    return loop(projected, keep, states, weights)


def _masked_step(step, x_t, keep_t, states, weights, config):
    new_states = step(x_t, states, weights, config)
    if keep_t is None:
        return tuple(new_states)
    return tuple(ops.where(keep_t, new, old) for new, old in zip(new_states, states, strict=True))


def _scan_loop(step, projected, keep, states, weights, config, return_sequences):
    xs = projected if keep is None else (projected, keep)

    def body(carry, x):
        x_t, keep_t = (x, None) if keep is None else x
        new_carry = _masked_step(step, x_t, keep_t, carry, weights, config)
        return new_carry, new_carry  # keras.ops.scan wants outputs shaped like the carry

    final, collected = ops.scan(body, states, xs)
    return (collected[0] if return_sequences else None), final


@functools.cache
def _while_loop(step, config, return_sequences, unroll):
    """A tf.while_loop recurrence, compiled once per cell configuration (eager calls run fast;
    one tf.function per configuration keeps TensorFlow from warning about retracing)."""
    import tensorflow as tf

    def loop(projected, keep, states, weights):
        sequences = (projected,) if keep is None else (projected, keep)

        def body(inputs_t, states):
            states = _masked_step(step, inputs_t[0], None if keep is None else inputs_t[1],
                                  states, weights, config)
            return states, ((states[0],) if return_sequences else ())

        outputs = ((projected.dtype, states[0].shape),) if return_sequences else ()
        final, collected = unrolled_while(body, sequences, states, outputs, unroll=unroll)
        return (collected[0] if return_sequences else None), final

    compiled = tf.function(loop, reduce_retracing=True, autograph=False)
    # TensorFlow's "frequent retracing" warning counts every closure of this code together; here
    # each configuration is its own function and traces once per input signature, by design.
    compiled._omit_frequent_tracing_warning = True
    return loop, compiled


# Time steps per iteration of a tf.while_loop, for steps whose recurrent product is small: each
# iteration costs TensorFlow a few microseconds of loop control and array reads and writes besides
# the steps' own ops, a large share of a small step. Measured on a 2-core EPYC, interleaved in one
# process, batch 32, one step per iteration against 8:
# - LSTM, 12 features, 128 units (a 140 x 512 product), 200 steps: inference 13.9 vs 10.5 ms,
#   training 35.8 vs 33.4 ms; GRU (128 x 384): 13.1 vs 10.4 ms and 36.7 vs 28.4 ms;
#   LSTM, 32 features, 200 units (232 x 800): 36.1 vs 31.9 ms and 117.7 vs 112.1 ms;
# - LSTM, 64 features, 256 units (320 x 1024): 43.4 vs 49.7 ms and 144.5 vs 153.6 ms; 123
#   features, 320 units (443 x 1280), 1000 steps: inference 128.9 vs 145.7 ms.
# 4 steps per iteration gained about as much as 8 (LSTM, first shape: 10.6 ms and 35.1 ms) and
# builds a smaller graph: tracing and graph optimization grow with the steps per iteration (this
# project's test suite, mostly small layers traced once each: 4:12 min with 1, 5:24 with 4,
# 6:51 with 8).
UNROLL = 4
_UNROLL_UP_TO = 1 << 18  # recurrent product size (rows x columns) up to which loops unroll


def unroll_for(rows, columns):
    """Time steps per loop iteration for a step whose recurrent product is ``rows x columns``
    (``MATKERAS_LOOP_UNROLL`` or ``_speed.forced(unroll=...)`` over the rule)."""
    forced = _speed.unroll()
    if forced is not None:
        return forced
    return UNROLL if rows * columns <= _UNROLL_UP_TO else 1


def unrolled_while(body, sequences, carry, outputs=(), reverse=False, stack=True, unroll=1):
    """``carry, outputs_t = body(inputs_t, carry)`` over time, `unroll` steps per loop iteration.

    Args:
        body: ``body(inputs_t, carry) -> (carry, outputs_t)``; `inputs_t` holds step t of each of
            `sequences`, `outputs_t` one tensor per entry of `outputs`.
        sequences: non-empty tuple of time-major tensors ``(time, ...)`` with the same time axis,
            the first a tensor, the others tensors or ``tf.TensorArray`` s of one step each.
        carry: tuple of tensors carried from step to step (shapes fixed).
        outputs: ``(dtype, shape)`` of each per-step output.
        reverse: run from the last step to the first (outputs still indexed by time).
        stack: return each output stacked over time, ``(time, ...)``; else as the
            ``tf.TensorArray`` written (another loop can read it without a copy).
        unroll: steps per iteration; the last ``time % unroll`` steps run one per iteration.

    Returns:
        ``(final carry, outputs)``.
    """
    import tensorflow as tf

    steps = sequences[0].shape[0]
    if steps is None:
        steps = tf.shape(sequences[0])[0]
    chunks = steps // unroll if unroll > 1 else 0
    # Steps are read from TensorArrays, not sliced: the gradient of a slice would be a full
    # (time, ...) tensor at every iteration, quadratic in the sequence length.
    arrays = [s if isinstance(s, tf.TensorArray) else tf.TensorArray(s.dtype, size=steps).unstack(s)
              for s in sequences]
    outs = tuple(tf.TensorArray(dtype, size=steps, element_shape=shape)
                 for dtype, shape in outputs)

    def iteration(size):
        """Loop body for steps ``i * size ... i * size + size - 1``. One array read and write per
        step, not a gather and scatter per iteration: as fast (measured), and TFLite's converter
        lowers only these array ops to builtins."""
        def advance(i, carry, outs):
            for j in (range(size - 1, -1, -1) if reverse else range(size)):
                carry, outputs_t = body(tuple(a.read(i * size + j) for a in arrays), carry)
                outs = tuple(o.write(i * size + j, y)
                             for o, y in zip(outs, outputs_t, strict=True))
            return i + (-1 if reverse else 1), carry, outs
        return advance

    if unroll > 1 and stack and not reverse and not isinstance(steps, int):
        return _peeled_while(body, arrays, carry, outputs, steps, unroll)
    # (body, first and last iteration index): `unroll` steps per iteration up to the last whole
    # chunk, then single steps. Static lengths leave out a loop that would not run.
    loops = []
    if not isinstance(chunks, int) or chunks > 0:
        loops.append((iteration(unroll), 0, chunks - 1))
    head = chunks * unroll
    if not isinstance(head, int) or not isinstance(steps, int) or head < steps:
        loops.append((iteration(1), head, steps - 1))
    for advance, first, last in (loops[::-1] if reverse else loops):
        _, carry, outs = tf.while_loop(
            (lambda i, *_, first=first: i >= first) if reverse else
            (lambda i, *_, last=last: i <= last),
            advance, (last if reverse else first, tuple(carry), outs),
            maximum_iterations=last - first + 1)
    return tuple(carry), tuple(o.stack() if stack else o for o in outs)


def _peeled_while(body, arrays, carry, outputs, steps, unroll):
    """:func:`unrolled_while` forward, stacked, for a length known only when running, in one
    loop: the time axis is taken as ``p = (-steps) % unroll`` steps longer at the front, so it
    splits into whole chunks; the first chunk runs before the loop, its first `p` steps computed
    but not kept (the carry passes through them unchanged, their outputs are cut off). A second
    loop for the last ``steps % unroll`` steps costs more to build than the whole step it
    saves (a free-length inference trace, matkeras._forward, builds one loop per direction)."""
    import tensorflow as tf

    extra = tf.math.floormod(-steps, unroll)
    outs = tuple(tf.TensorArray(dtype, size=steps + extra, element_shape=shape)
                 for dtype, shape in outputs)
    carry = tuple(carry)
    for j in range(unroll):  # the first chunk: steps j - extra, those below 0 not kept
        new, outputs_t = body(tuple(a.read(tf.maximum(j - extra, 0)) for a in arrays), carry)
        kept = j >= extra
        carry = tuple(tf.where(kept, n, c) for n, c in zip(new, carry, strict=True))
        outs = tuple(o.write(j, y) for o, y in zip(outs, outputs_t, strict=True))

    def advance(i, carry, outs):
        for j in range(unroll):
            carry, outputs_t = body(tuple(a.read(i * unroll + j - extra) for a in arrays), carry)
            outs = tuple(o.write(i * unroll + j, y) for o, y in zip(outs, outputs_t, strict=True))
        return i + 1, carry, outs

    last = (steps + extra) // unroll - 1
    _, carry, outs = tf.while_loop(lambda i, *_: i <= last, advance, (1, carry, outs),
                                   maximum_iterations=tf.maximum(last, 0))
    return tuple(carry), tuple(o.stack()[extra:] for o in outs)


def prepare(inputs, kernel, bias, mask, input_projector, go_backwards):
    """Time-major input projection ``x [Q_i] K + b`` and mask, reversed in time if asked."""
    inputs, keep = time_major(inputs, mask, input_projector, go_backwards)
    return matmul(inputs, kernel) + bias, keep


def time_major(inputs, mask, input_projector, go_backwards):
    """Time-major inputs ``x [Q_i]`` and mask, reversed in time if asked."""
    # Time-major and reversed before any product: the (time, batch, features) inputs are the
    # smallest tensor on the way, so moving them costs least.
    inputs = ops.transpose(inputs, (1, 0, 2))
    if go_backwards:
        inputs = ops.flip(inputs, axis=0)
    if input_projector is not None:
        inputs = matmul(inputs, input_projector)
    keep = None
    if mask is not None:
        keep = ops.expand_dims(ops.transpose(ops.cast(mask, "bool"), (1, 0)), -1)
        if go_backwards:
            keep = ops.flip(keep, axis=0)
    return inputs, keep


def finish(outputs, final_states, return_sequences, go_backwards):
    """Batch-major outputs in the original time order (or the last output), and final states."""
    if return_sequences:
        outputs = ops.transpose(outputs, (1, 0, 2))
        if go_backwards:
            outputs = ops.flip(outputs, axis=1)
    else:
        outputs = final_states[0]
    return (outputs, *final_states)


# -- The batch in independent loops ---------------------------------------------------------------
# A time loop at batch 32 keeps two cores only partly busy: TensorFlow runs each step's small ops
# one after another, and a product of 32 rows gains little from a second thread. The two halves
# of the batch can run as two independent loops in the same graph, which TensorFlow runs side by
# side (as it runs a BiLSTM's two directions). Where this pays is the fixed rule's choice
# (``matkeras.ops._speed``).


def in_parts(op, parts, inputs, states, mask):
    """``op(inputs, states, mask)`` over `parts` row blocks of the batch, joined back: results
    are ``(outputs, *final_states)`` with the batch first."""
    batch = ops.shape(inputs)[0]
    bounds = [batch * k // parts for k in range(parts + 1)]
    pieces = [op(inputs[start:stop], tuple(s[start:stop] for s in states),
                 None if mask is None else mask[start:stop])
              for start, stop in zip(bounds[:-1], bounds[1:], strict=True)]
    return tuple(ops.concatenate(results, axis=0) for results in zip(*pieces, strict=True))
