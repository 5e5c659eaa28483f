"""The LSTM recurrence of MATLAB's lstmLayer (and lstmProjectedLayer).

Per time step, with column vectors in MATLAB (row vectors here, weights transposed)::

    G_t = W x_t + R h_{t-1} + b          gate blocks i, f, g, o
    i_t = sigma(G_i), f_t = sigma(G_f), o_t = sigma(G_o), g_t = phi(G_g)
    c_t = f_t * c_{t-1} + i_t * g_t
    h_t = o_t * phi(c_t)

Projected (lstmProjectedLayer): ``G_t = W' (Q_i^T x_t) + R' (Q_o^T h_{t-1}) + b``; the input
projector ``Q_i`` is applied to every time step in one product before the loop.

Each step computes ``W x_t + R h_{t-1}`` as one product ``[x_t, h_{t-1}] [W; R]``. On CPU this
runs faster than projecting every time step's inputs in one large product before the loop (a
``(time, batch, 4H)`` tensor to write, read and, in training, to differentiate): measured on a
2-core EPYC at batch 32, 200 steps, 12 features, 128 units (whole kernel), inference 10.7 vs
11.0 ms and a training step 25.7 vs 33.7 ms; at 1000 steps, 123 features, 320 units (gate
blocks) 145 vs 149 ms and 639 vs 779 ms. The bias joins that product as a row of the kernel,
met by a column of ones appended to the inputs before the loop, ``[x_t, 1, h_{t-1}] [W; b; R]``:
one op less per step, and in training the bias gradient is that row's. Measured interleaved in
one process (batch 32): inference 6.3 vs 5.5 ms at the first shape and 121.6 vs 110.2 ms at the
second, training 374.7 vs 345.0 ms at the second.
"""

import contextlib
import contextvars

from keras import ops

from matkeras.ops import _blocks, _deprecated, _loop, _lstm_backward, _speed, _torch
from matkeras.ops.activations import GATE_ACTIVATIONS, STATE_ACTIVATIONS
from matkeras.ops.precision import matmul

IMPLEMENTATIONS = _loop.IMPLEMENTATIONS


def matlab_lstm(
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
    go_backwards=False,
    input_projector=None,
    output_projector=None,
    implementation="auto",
    side_by_side=1,
    training=False,
    batch_parts=None,
):
    """Runs MATLAB's LSTM over a batch of sequences.

    Args:
        inputs: ``(batch, time, C)``.
        kernel: ``(C, 4H)`` (``(P_in, 4H)`` when projected), gate blocks i, f, g, o (MATLAB
            ``InputWeights`` transposed).
        recurrent_kernel: ``(H, 4H)`` (``(P_out, 4H)`` when projected).
        bias: ``(4H,)``.
        initial_hidden, initial_cell: ``(batch, H)``.
        state_activation: ``"tanh"``, ``"softsign"`` or ``"relu"`` (phi).
        gate_activation: ``"sigmoid"`` or ``"hard-sigmoid"`` (sigma).
        return_sequences: True for every step's hidden state, False for the last one.
        mask: optional ``(batch, time)`` booleans; where False the states are carried over
            unchanged and the step outputs the carried hidden state. MATLAB has no mask: pass None
            for MATLAB's results.
        go_backwards: run over the time-reversed sequence; outputs come back in original order.
        input_projector: ``(C, P_in)`` MATLAB ``InputProjector`` (projected layers only).
        output_projector: ``(H, P_out)`` MATLAB ``OutputProjector`` (projected layers only).
        implementation: ``"auto"``, ``"while"`` or ``"scan"`` (see ``matkeras.ops._loop``).
        side_by_side: how many runs of this op the caller makes at the same time (a BiLSTM's
            two directions: 2); the speed rule (``matkeras.ops._speed``) reads it.
        training: True when the result will be differentiated (``fit``). With the TensorFlow
            backend, no mask and no output projector, the backward pass then runs over the
            whole sequence (``matkeras.ops._lstm_backward``) instead of TensorFlow's gradient of
            the loop (the speed rule). The forward numbers are the same either way.
        batch_parts: run the batch as this many independent loops (1 or 2; ``_loop.in_parts``);
            None: the speed rule's choice.

    Returns:
        ``(outputs, h_T, c_T)``: outputs ``(batch, time, H)`` or ``(batch, H)``.
    """
    if (_FUSABLE.get() and state_activation == "tanh" and gate_activation == "sigmoid"
            and mask is None and input_projector is None and output_projector is None):
        return _fusable_lstm(inputs, kernel, recurrent_kernel, bias, initial_hidden,
                             initial_cell, return_sequences, go_backwards, implementation)
    if _speed.kernel("lstm", (state_activation, gate_activation), mask,
                     input_projector is not None or output_projector is not None,
                     implementation=implementation) == "fused":
        return _torch.lstm(inputs, kernel, recurrent_kernel, bias, initial_hidden, initial_cell,
                           return_sequences, go_backwards, training)
    features, recurrent_rows = int(kernel.shape[0]), int(recurrent_kernel.shape[0])
    units = int(recurrent_kernel.shape[1]) // 4
    choices = _speed.plan(
        features + 1 + recurrent_rows, 4 * units, inputs.shape[0], side_by_side, training,
        sequence_backward=(mask is None and output_projector is None and implementation != "scan"
                           and inputs.shape[1] != 1),
        steps=inputs.shape[1], implementation=implementation)
    parts = ((batch_parts or choices.parts)
             if _speed.splittable(inputs.shape[0], inputs.shape[1], implementation) else 1)
    if parts > 1:
        return _loop.in_parts(lambda x, states, m: matlab_lstm(
            x, kernel, recurrent_kernel, bias, *states, state_activation=state_activation,
            gate_activation=gate_activation, return_sequences=return_sequences, mask=m,
            go_backwards=go_backwards, input_projector=input_projector,
            output_projector=output_projector, implementation=implementation,
            side_by_side=side_by_side, training=training, batch_parts=1,
        ), parts, inputs, (initial_hidden, initial_cell), mask)
    inputs, keep = _loop.time_major(inputs, mask, input_projector, go_backwards)
    if inputs.shape[0] == 1:
        # One step known when tracing (streaming one step at a time): two products and the
        # bias, W x + R h + b. The joined kernel below is made once per call, which a loop of
        # steps shares and one step does not: a (C + 1 + H, 4H) copy and its split, each call
        # (lstm(128) + fc, one step: the compiled call 0.32 -> 0.21 ms, predict_and_update_state
        # 0.54 -> 0.40 ms).
        outputs, final = _loop.run(
            _lstm_one_step, inputs, keep, (initial_hidden, initial_cell),
            (kernel, recurrent_kernel, bias, output_projector),
            (state_activation, gate_activation), return_sequences, implementation)
        return _loop.finish(outputs, final, return_sequences, go_backwards)
    # The bias joins the product as a row of the kernel, met by a column of ones in the inputs:
    # one op less per step (see the module docstring).
    inputs = ops.concatenate([inputs, ops.ones_like(inputs[..., :1])], axis=-1)
    kernels = _blocks.split_kernel(ops.concatenate(
        [kernel, ops.expand_dims(bias, 0), recurrent_kernel], axis=0), 4, choices.layout)
    unroll = _loop.unroll_for(features + recurrent_rows, 4 * units)
    if choices.backward == "sequence":
        outputs, final = _lstm_backward.lstm_sequence(
            inputs, kernels, initial_hidden, initial_cell, (state_activation, gate_activation),
            return_sequences, features + 1, unroll)
        return _loop.finish(outputs, final, return_sequences, go_backwards)
    outputs, final = _loop.run(
        _lstm_step, inputs, keep, (initial_hidden, initial_cell),
        (kernels, output_projector), (state_activation, gate_activation),
        return_sequences, implementation, unroll,
    )
    return _loop.finish(outputs, final, return_sequences, go_backwards)


def matlab_bilstm(inputs, kernel, recurrent_kernel, bias, initial_hidden, initial_cell, *,
                  state_activation="tanh", gate_activation="sigmoid", return_sequences=True,
                  backward_last_output="final-state", mask=None, training=False):
    """MATLAB's bilstmLayer: :func:`matlab_lstm` forward and backward, outputs side by side.

    Args:
        inputs: ``(batch, time, C)``.
        kernel: ``(C, 8H)``: the forward direction's gate blocks i, f, g, o, then the backward
            one's; recurrent_kernel ``(H, 8H)`` and bias ``(8H,)`` alike.
        initial_hidden, initial_cell: ``(batch, 2H)``, forward then backward.
        return_sequences: every step's output, else the last (``OutputMode``).
        backward_last_output: with ``return_sequences`` False, the backward half of the output:
            ``"final-state"`` (its state after the whole reversed sequence, MATLAB's) or
            ``"last-time-step"`` (its output at the last time step).
        mask, state_activation, gate_activation, training: as :func:`matlab_lstm`'s.

    How the two directions run is the speed rule's choice (:func:`matkeras.ops._speed.
    directions`); each way computes the same equations.

    Returns:
        ``(outputs, h_T, c_T)``: outputs ``(batch, time, 2H)`` or ``(batch, 2H)``; the final
        states ``(batch, 2H)``.
    """
    half = int(recurrent_kernel.shape[0])
    needs_backward_sequence = return_sequences or backward_last_output == "last-time-step"
    how = _speed.directions((state_activation, gate_activation), mask)
    joined = None  # both directions' outputs as one tensor, where the kernel gives them so
    if how != "apart":  # one call for both: the forward output is its final state when "last"
        if how == "fused":
            directions, joined = _torch.bilstm(
                inputs, kernel, recurrent_kernel, bias, initial_hidden, initial_cell, training)
        else:
            directions = _joined_directions(
                inputs, kernel, recurrent_kernel, bias, initial_hidden, initial_cell,
                (state_activation, gate_activation), mask, needs_backward_sequence)
        if not return_sequences:
            directions[0] = (directions[0][1], *directions[0][1:])
    else:
        directions = []
        for index, backward in enumerate((False, True)):
            columns = slice(index * 4 * half, (index + 1) * 4 * half)
            rows = slice(index * half, (index + 1) * half)
            directions.append(matlab_lstm(
                inputs, kernel[:, columns], recurrent_kernel[:, columns], bias[columns],
                initial_hidden[:, rows], initial_cell[:, rows],
                state_activation=state_activation, gate_activation=gate_activation,
                return_sequences=return_sequences or (backward and needs_backward_sequence),
                mask=mask, go_backwards=backward, side_by_side=2, training=training))
    forward, backward = directions
    if return_sequences:
        output = joined if joined is not None else ops.concatenate(
            [forward[0], backward[0]], axis=-1)
    elif backward_last_output == "last-time-step":
        output = ops.concatenate([forward[0], backward[0][:, -1]], axis=-1)
    else:
        output = ops.concatenate([forward[0], backward[1]], axis=-1)
    return (output, ops.concatenate([forward[1], backward[1]], axis=-1),
            ops.concatenate([forward[2], backward[2]], axis=-1))


def _joined_directions(inputs, kernel, recurrent_kernel, bias, initial_hidden, initial_cell,
                       activations, mask, sequences):
    """Both directions in one loop: the step runs on ``(2, batch, .)`` states, direction first,
    with one batched product ``[x_t, 1, h] [W; b; R]`` per step (the backward direction reads
    the inputs reversed). ``[(outputs or None, h_T, c_T)]`` per direction, batch first, the
    backward outputs in the original time order."""
    half = int(recurrent_kernel.shape[0])
    inputs, keep = _loop.time_major(inputs, mask, None, False)
    inputs = ops.concatenate([inputs, ops.ones_like(inputs[..., :1])], axis=-1)
    inputs = ops.stack([inputs, ops.flip(inputs, axis=0)], axis=1)  # (time, 2, batch, C + 1)
    if keep is not None:
        keep = ops.stack([keep, ops.flip(keep, axis=0)], axis=1)
    kernels = ops.stack([ops.concatenate(
        [kernel[:, columns], ops.expand_dims(bias[columns], 0), recurrent_kernel[:, columns]],
        axis=0) for columns in (slice(0, 4 * half), slice(4 * half, 8 * half))])
    states = tuple(ops.stack([s[:, :half], s[:, half:]]) for s in (initial_hidden, initial_cell))
    outputs, (hidden, cell) = _loop.run(_lstm_step, inputs, keep, states, ((kernels,), None),
                                        activations, sequences, "scan")
    if outputs is None:
        return [(None, hidden[0], cell[0]), (None, hidden[1], cell[1])]
    forward = ops.transpose(outputs[:, 0], (1, 0, 2))
    backward = ops.flip(ops.transpose(outputs[:, 1], (1, 0, 2)), axis=1)
    return [(forward, hidden[0], cell[0]), (backward, hidden[1], cell[1])]


def _lstm_step(x_t, states, weights, config):
    hidden, cell = states
    kernels, output_projector = weights
    # x_t ends in the bias row's 1
    joined = ops.concatenate([x_t, _recurrent_in(hidden, output_projector)], axis=-1)
    return _lstm_update(_blocks.products(joined, kernels, 4), cell, config)


def _lstm_one_step(x_t, states, weights, config):
    hidden, cell = states
    kernel, recurrent_kernel, bias, output_projector = weights
    gates = (matmul(x_t, kernel) + matmul(_recurrent_in(hidden, output_projector),
                                          recurrent_kernel) + bias)
    return _lstm_update(ops.split(gates, 4, axis=-1), cell, config)


def _recurrent_in(hidden, output_projector):
    return hidden if output_projector is None else matmul(hidden, output_projector)


def _lstm_update(gates, cell, config):
    """MATLAB's LSTM equations from the gate pre-activations i, f, g, o: ``(h_t, c_t)``."""
    phi, sigma = STATE_ACTIVATIONS[config[0]], GATE_ACTIVATIONS[config[1]]
    g_i, g_f, g_g, g_o = gates
    new_cell = sigma(g_f) * cell + sigma(g_i) * phi(g_g)
    return sigma(g_o) * phi(new_cell), new_cell


# -- TFLite's fused LSTM --------------------------------------------------------------------------
# TensorFlow's TFLite converter replaces a function whose ``api_implements`` attribute starts with
# "lstm_" and whose signature is Keras 2's ``standard_lstm`` (input, h0, c0, kernel, recurrent
# kernel, bias -> last output, outputs, h, c, runtime; gate blocks i, f, c, o, which are MATLAB's
# i, f, g, o) by its UNIDIRECTIONAL_SEQUENCE_LSTM op, when only the first two results are used and
# the batch size is fixed. matkeras.export switches this on while it traces a model for TFLite;
# everywhere else the function is an ordinary one running the recurrence below.
_FUSABLE = contextvars.ContextVar("matkeras_tflite_fusable_lstm", default=False)


@contextlib.contextmanager
def tflite_fusable():
    """LSTM ops traced inside (MATLAB's default activations, no mask or projectors) become
    functions TFLite's converter fuses into its UNIDIRECTIONAL_SEQUENCE_LSTM op."""
    token = _FUSABLE.set(True)
    try:
        yield
    finally:
        _FUSABLE.reset(token)


def _fusable_lstm(inputs, kernel, recurrent_kernel, bias, initial_hidden, initial_cell,
                  return_sequences, go_backwards, implementation):
    import uuid

    import tensorflow as tf

    def standard_lstm(x, h0, c0, k, r, b):
        outputs, h_last, c_last = matlab_lstm(x, k, r, b, h0, c0, go_backwards=go_backwards,
                                       implementation=implementation)
        if go_backwards:  # the fused op returns the outputs in the order it ran
            outputs = tf.reverse(outputs, [1])
        return outputs[:, -1], outputs, h_last, c_last, tf.constant(0.0)

    token = _FUSABLE.set(False)  # the body itself is the plain recurrence
    try:
        function = tf.function(standard_lstm, autograph=False, experimental_attributes={
            "api_implements": f"lstm_{uuid.uuid4()}", "api_preferred_device": "CPU",
            "time_major": False, "go_backwards": bool(go_backwards)})
        last, outputs, _, cell, _ = function(inputs, initial_hidden, initial_cell, kernel,
                                             recurrent_kernel, bias)
    finally:
        _FUSABLE.reset(token)
    if go_backwards:
        outputs = tf.reverse(outputs, [1])
    # The final hidden state is the last output; the final cell state is only there when the
    # function is not fused (using it keeps TFLite from fusing, which stays correct).
    return (outputs if return_sequences else last), last, cell


_deprecated.callable_module(__name__, matlab_lstm, "matlab_lstm")
