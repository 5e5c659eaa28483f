"""The time loop shared by every recurrent op.

A cell kind supplies a module-level ``step(x_t, states, weights, config) -> new_states`` (states is
a tuple whose first element is the step's output). The loop runs it over time-major inputs,
carries states over on masked-out steps, and collects the outputs. Two implementations compute
the same thing: ``"while"``, a ``tf.while_loop`` compiled once per configuration (so eager calls
are fast too), and ``"scan"``, portable ``keras.ops.scan``.
"""

import functools

import keras
from keras import ops

IMPLEMENTATIONS = ("auto", "while", "scan")


def run(step, projected, keep, states, weights, config, return_sequences, implementation="auto"):
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

    Returns:
        ``(outputs, final_states)``: outputs ``(time, batch, n)`` or None.
    """
    if implementation not in IMPLEMENTATIONS:
        raise ValueError(
            f"implementation must be one of {IMPLEMENTATIONS}; received {implementation!r}."
        )
    if implementation == "auto":
        implementation = "while" if keras.backend.backend() == "tensorflow" else "scan"
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

    traced, compiled = _while_loop(step, config, bool(return_sequences))
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
def _while_loop(step, config, return_sequences):
    """A tf.while_loop recurrence, compiled once per cell configuration (eager calls run fast;
    one tf.function per configuration keeps TensorFlow from warning about retracing)."""
    import tensorflow as tf

    def loop(projected, keep, states, weights):
        steps = tf.shape(projected)[0]
        outputs = tf.TensorArray(projected.dtype, size=steps if return_sequences else 0,
                                 element_shape=states[0].shape)
        # Steps are read from TensorArrays, not sliced: the gradient of projected[t] would be a
        # full (time, batch, features) tensor at every step, quadratic in the sequence length.
        step_inputs = tf.TensorArray(projected.dtype, size=steps).unstack(projected)
        step_keeps = None if keep is None else tf.TensorArray(keep.dtype, size=steps).unstack(
            keep)

        def body(t, states, outputs):
            keep_t = None if keep is None else step_keeps.read(t)
            states = _masked_step(step, step_inputs.read(t), keep_t, states, weights, config)
            if return_sequences:
                outputs = outputs.write(t, states[0])
            return t + 1, states, outputs

        _, final, outputs = tf.while_loop(
            lambda t, *_: t < steps, body, (tf.constant(0), states, outputs),
            maximum_iterations=steps,
        )
        return (outputs.stack() if return_sequences else None), final

    compiled = tf.function(loop, reduce_retracing=True, autograph=False)
    # TensorFlow's "frequent retracing" warning counts every closure of this code together; here
    # each configuration is its own function and traces once per input signature, by design.
    compiled._omit_frequent_tracing_warning = True
    return loop, compiled


def prepare(inputs, kernel, bias, mask, input_projector, go_backwards):
    """Time-major input projection ``x [Q_i] K + b`` and mask, reversed in time if asked."""
    inputs, keep = time_major(inputs, mask, input_projector, go_backwards)
    return ops.matmul(inputs, kernel) + bias, keep


def time_major(inputs, mask, input_projector, go_backwards):
    """Time-major inputs ``x [Q_i]`` and mask, reversed in time if asked."""
    # Time-major and reversed before any product: the (time, batch, features) inputs are the
    # smallest tensor on the way, so moving them costs least.
    inputs = ops.transpose(inputs, (1, 0, 2))
    if go_backwards:
        inputs = ops.flip(inputs, axis=0)
    if input_projector is not None:
        inputs = ops.matmul(inputs, input_projector)
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
