"""The LSTM recurrence of MATLAB's lstmLayer.

Per time step, with column vectors in MATLAB (row vectors here, weights transposed)::

    G_t = W x_t + R h_{t-1} + b          gate blocks i, f, g, o
    i_t = sigma(G_i), f_t = sigma(G_f), o_t = sigma(G_o), g_t = phi(G_g)
    c_t = f_t * c_{t-1} + i_t * g_t
    h_t = o_t * phi(c_t)

The input projection ``x W^T + b`` of every time step is one matrix product before the loop; only
the recurrent product runs step by step. Two loops compute the same thing: ``"while"``, a
``tf.while_loop`` (TensorFlow backend), and ``"scan"``, portable ``keras.ops.scan``.
"""

import functools

import keras
from keras import ops

from matkeras.layers.activations import GATE_ACTIVATIONS, STATE_ACTIVATIONS

IMPLEMENTATIONS = ("auto", "while", "scan")


def lstm(
    inputs,
    kernel,
    recurrent_kernel,
    bias,
    initial_hidden,
    initial_cell,
    *,
    state_activation="tanh",
    gate_activation="sigmoid",
    return_sequences=True,
    mask=None,
    implementation="auto",
):
    """Runs MATLAB's LSTM over a batch of sequences.

    Args:
        inputs: ``(batch, time, C)``.
        kernel: ``(C, 4H)``, gate blocks i, f, g, o (MATLAB ``InputWeights`` transposed).
        recurrent_kernel: ``(H, 4H)`` (MATLAB ``RecurrentWeights`` transposed).
        bias: ``(4H,)``.
        initial_hidden, initial_cell: ``(batch, H)``.
        state_activation: ``"tanh"``, ``"softsign"`` or ``"relu"`` (phi).
        gate_activation: ``"sigmoid"`` or ``"hard-sigmoid"`` (sigma).
        return_sequences: True for every step's hidden state, False for the last one.
        mask: optional ``(batch, time)`` booleans; where False the states are carried over
            unchanged and the step outputs the carried hidden state. MATLAB has no mask: pass None
            for MATLAB's results.
        implementation: ``"auto"`` (``"while"`` on TensorFlow, else ``"scan"``), ``"while"`` or
            ``"scan"``.

    Returns:
        ``(outputs, h_T, c_T)``: outputs ``(batch, time, H)`` or ``(batch, H)``.
    """
    if implementation not in IMPLEMENTATIONS:
        raise ValueError(f"implementation must be one of {IMPLEMENTATIONS}; received "
                         f"{implementation!r}.")
    if implementation == "auto":
        implementation = "while" if keras.backend.backend() == "tensorflow" else "scan"
    projected = ops.transpose(ops.matmul(inputs, kernel) + bias, (1, 0, 2))
    keep = None
    if mask is not None:
        keep = ops.expand_dims(ops.transpose(ops.cast(mask, "bool"), (1, 0)), -1)
    loop = _while_loop() if implementation == "while" else _scan_loop
    outputs, last_hidden, last_cell = loop(
        projected, keep, initial_hidden, initial_cell, recurrent_kernel,
        state_activation, gate_activation, return_sequences,
    )
    if return_sequences:
        outputs = ops.transpose(outputs, (1, 0, 2))
    else:
        outputs = last_hidden
    return outputs, last_hidden, last_cell


def _step(gates_in, keep_t, hidden, cell, recurrent_kernel, state_activation, gate_activation):
    """One time step; where `keep_t` is False the states are carried over unchanged."""
    phi = STATE_ACTIVATIONS[state_activation]
    sigma = GATE_ACTIVATIONS[gate_activation]
    gates = gates_in + ops.matmul(hidden, recurrent_kernel)
    g_i, g_f, g_g, g_o = ops.split(gates, 4, axis=-1)
    new_cell = sigma(g_f) * cell + sigma(g_i) * phi(g_g)
    new_hidden = sigma(g_o) * phi(new_cell)
    if keep_t is None:
        return new_hidden, new_cell
    return ops.where(keep_t, new_hidden, hidden), ops.where(keep_t, new_cell, cell)


def _scan_loop(projected, keep, hidden, cell, recurrent_kernel, state_activation,
               gate_activation, return_sequences):
    xs = projected if keep is None else (projected, keep)

    def body(carry, x):
        gates_in, keep_t = (x, None) if keep is None else x
        new_carry = _step(gates_in, keep_t, *carry, recurrent_kernel, state_activation,
                          gate_activation)
        return new_carry, new_carry  # keras.ops.scan wants outputs shaped like the carry

    (last_hidden, last_cell), (hiddens, _) = ops.scan(body, (hidden, cell), xs)
    return (hiddens if return_sequences else None), last_hidden, last_cell


@functools.cache
def _while_loop():
    """The tf.while_loop recurrence, compiled once per configuration (eager calls run fast)."""
    import tensorflow as tf

    @tf.function(reduce_retracing=True, autograph=False)
    def loop(projected, keep, hidden, cell, recurrent_kernel, state_activation, gate_activation,
             return_sequences):
        steps = tf.shape(projected)[0]
        outputs = tf.TensorArray(projected.dtype, size=steps if return_sequences else 0,
                                 element_shape=hidden.shape)

        def body(t, hidden, cell, outputs):
            keep_t = None if keep is None else keep[t]
            hidden, cell = _step(projected[t], keep_t, hidden, cell, recurrent_kernel,
                                 state_activation, gate_activation)
            if return_sequences:
                outputs = outputs.write(t, hidden)
            return t + 1, hidden, cell, outputs

        _, last_hidden, last_cell, outputs = tf.while_loop(
            lambda t, *_: t < steps, body, (tf.constant(0), hidden, cell, outputs),
            maximum_iterations=steps,
        )
        return (outputs.stack() if return_sequences else None), last_hidden, last_cell

    return loop
