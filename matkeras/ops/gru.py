"""The GRU recurrence of MATLAB's gruLayer (and gruProjectedLayer), every ResetGateMode.

MATLAB (column vectors, gate rows r, z, h)::

    r = sigma(W_r x + R_r h + b_r [+ bR_r])          bR: recurrent bias, 6H-bias mode only
    z = sigma(W_z x + R_z h + b_z [+ bR_z])
    after-multiplication:                 h~ = phi(W_h x + b_h + r * (R_h h))
    recurrent-bias-after-multiplication:  h~ = phi(W_h x + b_h + r * (R_h h + bR_h))
    before-multiplication:                h~ = phi(W_h x + R_h (r * h) + b_h)
    h_t = (1 - z) * h~ + z * h_{t-1}

matkeras keeps Keras's block order z, r, h in its kernels (so weights move to stock
``keras.layers.GRU``); ``matkeras.converters.layouts`` converts from MATLAB's r, z, h. Projected
(gruProjectedLayer): every ``R h`` becomes ``R' (Q_o^T h)`` and ``W x`` becomes ``W' (Q_i^T x)``.
"""

from keras import ops

from matkeras.ops import _blocks, _deprecated, _loop, _speed, _torch
from matkeras.ops.activations import GATE_ACTIVATIONS, STATE_ACTIVATIONS
from matkeras.ops.precision import matmul

RESET_GATE_MODES = (
    "after-multiplication",
    "before-multiplication",
    "recurrent-bias-after-multiplication",
)


def matlab_gru(
    inputs,
    kernel,
    recurrent_kernel,
    bias,
    initial_hidden,
    *,
    reset_gate_mode="after-multiplication",
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
    """Runs MATLAB's GRU over a batch of sequences.

    Args:
        inputs: ``(batch, time, C)``.
        kernel: ``(C, 3H)`` (``(P_in, 3H)`` when projected), blocks z, r, h.
        recurrent_kernel: ``(H, 3H)`` (``(P_out, 3H)`` when projected), blocks z, r, h.
        bias: ``(3H,)``, or ``(6H,)`` = [input bias; recurrent bias] for
            ``"recurrent-bias-after-multiplication"``; blocks z, r, h.
        initial_hidden: ``(batch, H)``.
        reset_gate_mode: MATLAB ``ResetGateMode``.
        state_activation, gate_activation, return_sequences, mask, go_backwards,
            input_projector, output_projector, implementation, side_by_side, training,
            batch_parts: as ``matkeras.ops.matlab_lstm`` (`training` only feeds the speed rule: the
            backward pass is TensorFlow's gradient of the loop).

    Returns:
        ``(outputs, h_T)``.
    """
    if reset_gate_mode not in RESET_GATE_MODES:
        raise ValueError(
            f"reset_gate_mode must be one of {RESET_GATE_MODES}; received {reset_gate_mode!r}."
        )
    gates = kernel.shape[-1]
    if _speed.kernel("gru", (state_activation, gate_activation), mask,
                     input_projector is not None or output_projector is not None,
                     reset_gate_mode, implementation) == "fused":
        recurrent_bias = bias[gates:] if bias.shape[0] == 2 * gates else None
        return _torch.gru(inputs, kernel, recurrent_kernel, bias[:gates], initial_hidden,
                          recurrent_bias, return_sequences, go_backwards, training)
    choices = _speed.plan(recurrent_kernel.shape[0], gates, inputs.shape[0], side_by_side,
                          training, steps=inputs.shape[1], implementation=implementation)
    parts = ((batch_parts or choices.parts)
             if _speed.splittable(inputs.shape[0], inputs.shape[1], implementation) else 1)
    if parts > 1:
        return _loop.in_parts(lambda x, states, m: matlab_gru(
            x, kernel, recurrent_kernel, bias, *states, reset_gate_mode=reset_gate_mode,
            state_activation=state_activation, gate_activation=gate_activation,
            return_sequences=return_sequences, mask=m, go_backwards=go_backwards,
            input_projector=input_projector, output_projector=output_projector,
            implementation=implementation, side_by_side=side_by_side,
            training=training, batch_parts=1,
        ), parts, inputs, (initial_hidden,), mask)
    if _speed.joined_gru_inputs(training):
        return _joined_gru(inputs, kernel, recurrent_kernel, bias, initial_hidden,
                           reset_gate_mode, (state_activation, gate_activation),
                           return_sequences, mask, go_backwards, input_projector,
                           output_projector, implementation)
    recurrent_bias = candidate_kernel = None
    if reset_gate_mode == "recurrent-bias-after-multiplication":
        bias, recurrent_bias = bias[:gates], bias[gates:]
    if reset_gate_mode == "before-multiplication":  # r * h meets the candidate block alone
        units = gates // 3
        recurrent_kernel, candidate_kernel = (recurrent_kernel[:, :2 * units],
                                              recurrent_kernel[:, 2 * units:])
    recurrent_kernels = _blocks.split_kernel(
        recurrent_kernel, 2 if candidate_kernel is not None else 3, choices.layout)
    if recurrent_bias is not None:  # laid out like the kernel blocks it is added to
        recurrent_bias = (tuple(ops.split(recurrent_bias, 3)) if len(recurrent_kernels) == 3
                          else (recurrent_bias,))
    projected, keep = _loop.prepare(inputs, kernel, bias, mask, input_projector, go_backwards)
    outputs, final = _loop.run(
        _gru_step, projected, keep, (initial_hidden,),
        (recurrent_kernels, candidate_kernel, recurrent_bias, output_projector),
        (state_activation, gate_activation), return_sequences, implementation,
        _loop.unroll_for(int(recurrent_kernel.shape[0]), int(gates)),
    )
    return _loop.finish(outputs, final, return_sequences, go_backwards)


def _joined_gru(inputs, kernel, recurrent_kernel, bias, initial_hidden, reset_gate_mode,
                activations, return_sequences, mask, go_backwards, input_projector,
                output_projector, implementation):
    """The loop with the inputs joining each step's recurrent product, as the LSTM's:
    ``[x_t, 1, h] K`` with ``K`` = ``[[W_z W_r W_h 0]; [b_z b_r b_h bR_h]; [R_z R_r 0 R_h]]``,
    blocks z, r, the candidate's input part and its recurrent part (which the reset gate
    scales); before-multiplication leaves the last block out and multiplies ``r * h`` by
    ``R_h`` as before. The recurrent biases of z and r join their input biases."""
    units = int(kernel.shape[-1]) // 3
    features, rows = int(kernel.shape[0]), int(recurrent_kernel.shape[0])
    input_bias, recurrent_bias = ((bias[:3 * units], bias[3 * units:])
                                  if bias.shape[0] == 6 * units else (bias, None))
    gate_bias = input_bias[:2 * units]
    if recurrent_bias is not None:
        gate_bias = gate_bias + recurrent_bias[:2 * units]
    before = reset_gate_mode == "before-multiplication"
    candidate_kernel = recurrent_kernel[:, 2 * units:] if before else None
    columns = [[kernel[:, :2 * units], kernel[:, 2 * units:]],
               [ops.expand_dims(gate_bias, 0), ops.expand_dims(input_bias[2 * units:], 0)],
               [recurrent_kernel[:, :2 * units], ops.zeros((rows, units), kernel.dtype)]]
    if not before:
        last = (ops.zeros((units,), kernel.dtype) if recurrent_bias is None
                else recurrent_bias[2 * units:])
        for row, block in zip(columns, (ops.zeros((features, units), kernel.dtype),
                                        ops.expand_dims(last, 0),
                                        recurrent_kernel[:, 2 * units:]), strict=True):
            row.append(block)
    joined = ops.concatenate([ops.concatenate(row, axis=-1) for row in columns], axis=0)
    inputs, keep = _loop.time_major(inputs, mask, input_projector, go_backwards)
    inputs = ops.concatenate([inputs, ops.ones_like(inputs[..., :1])], axis=-1)
    outputs, final = _loop.run(
        _joined_step, inputs, keep, (initial_hidden,),
        (joined, candidate_kernel, output_projector), activations, return_sequences,
        implementation, 1)
    return _loop.finish(outputs, final, return_sequences, go_backwards)


def _joined_step(x_t, states, weights, config):
    (hidden,) = states
    joined, candidate_kernel, output_projector = weights
    phi, sigma = STATE_ACTIVATIONS[config[0]], GATE_ACTIVATIONS[config[1]]
    products = matmul(ops.concatenate([x_t, _project(hidden, output_projector)], axis=-1),
                      joined)
    if candidate_kernel is None:
        pre_z, pre_r, x_h, rec_h = ops.split(products, 4, axis=-1)
        reset = sigma(pre_r)
        candidate = phi(x_h + reset * rec_h)
    else:
        pre_z, pre_r, x_h = ops.split(products, 3, axis=-1)
        reset = sigma(pre_r)
        candidate = phi(x_h + matmul(_project(reset * hidden, output_projector),
                                     candidate_kernel))
    update = sigma(pre_z)
    return ((1.0 - update) * candidate + update * hidden,)


def _project(hidden, output_projector):
    return hidden if output_projector is None else matmul(hidden, output_projector)


def _gru_step(x_t, states, weights, config):
    (hidden,) = states
    recurrent_kernels, candidate_kernel, recurrent_bias, output_projector = weights
    phi, sigma = STATE_ACTIVATIONS[config[0]], GATE_ACTIVATIONS[config[1]]
    x_z, x_r, x_h = ops.split(x_t, 3, axis=-1)
    recurrent_in = _project(hidden, output_projector)
    if candidate_kernel is not None:  # before-multiplication: recurrent holds z, r only
        rec_z, rec_r = _blocks.products(recurrent_in, recurrent_kernels, 2)
        update, reset = sigma(x_z + rec_z), sigma(x_r + rec_r)
        candidate = phi(x_h + matmul(_project(reset * hidden, output_projector),
                                         candidate_kernel))
    else:
        rec_z, rec_r, rec_h = _blocks.products(recurrent_in, recurrent_kernels, 3,
                                               recurrent_bias)
        update, reset = sigma(x_z + rec_z), sigma(x_r + rec_r)
        candidate = phi(x_h + reset * rec_h)
    return ((1.0 - update) * candidate + update * hidden,)


_deprecated.callable_module(__name__, matlab_gru, "matlab_gru")
