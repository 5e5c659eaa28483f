"""LSTM training: the backward pass over the whole sequence written out, not differentiated step by
step.

TensorFlow's automatic gradient of the time loop computes, at every step, the step's share of the
weight gradient (``[x_t, 1, h_{t-1}]^T dz_t``) and adds it into an accumulator. Here the backward
loop carries only what has to run step by step (``dh_{t-1} = dz_t R^T`` and the cell's elementwise
derivatives) and stores ``dz_t``; the weight gradient (the bias's is its row met by the inputs'
column of ones) and the input gradient are then two large matrix products over all time steps at
once, as cuDNN and oneDNN do it. The equations are MATLAB's
(``matkeras.ops.lstm``); the derivatives are taken from the activations' outputs:

    tanh' = 1 - y^2,  sigmoid' = y (1 - y),  softsign' = (1 - |y|)^2,  relu' = [y > 0],
    MATLAB hard-sigmoid' = 0.2 [0 < y < 1] (TensorFlow's own gradient of the clip also counts the
    two kinks, x = +-2.5, which a float input reaches only exactly).

Used in training only (the layers pass ``training=True`` through, as ``fit`` does), where the
speed rule takes it (``matkeras.ops._speed``): it stores the gates and cell state of every step
and runs more elementwise ops per step, so it wins where the products dominate (0.74x of the
loop's gradient at batch 32, 1000 steps, 123 features, 320 units), costs up to 1.2 ms a step
where TensorFlow's per-op overhead does (12 features, 100 units), and its graph builds much
faster than TensorFlow's gradient of the loop (a short training's first step: 2 s against 3 s).
Inference keeps the plain loop, which stores nothing per step.
"""

from matkeras.ops import _blocks, _loop
from matkeras.ops.activations import GATE_ACTIVATIONS, STATE_ACTIVATIONS


def _derivative(name, y):
    import tensorflow as tf

    if name == "tanh":
        return 1.0 - y * y
    if name == "sigmoid":
        return y * (1.0 - y)
    if name == "softsign":
        return tf.square(1.0 - tf.abs(y))
    if name == "relu":
        return tf.cast(y > 0, y.dtype)
    if name == "hard-sigmoid":
        return 0.2 * tf.cast((y > 0) & (y < 1), y.dtype)
    raise ValueError(f"no derivative for activation {name!r}")


def lstm_sequence(inputs, kernels, initial_hidden, initial_cell, config, return_sequences,
                  features, unroll=1):
    """MATLAB's LSTM over time-major `inputs` ``(T, B, C + 1)`` (each step's features, then a 1)
    with the whole-sequence backward pass.

    `kernels`: the joined kernel ``[W; b; R]`` (``(C + 1 + H, 4H)``), whole or cut into four gate
    blocks (``matkeras.ops._blocks``); the bias's gradient is then that row's, from the product
    over all steps. `features`: C + 1, the rows of ``[W; b]`` (from the weights: the inputs' last
    axis need not be known when tracing); `unroll`: time steps per
    loop iteration, forward and backward (``matkeras.ops._loop.unroll_for``). Returns
    ``(outputs or None, (h_T, c_T))`` like ``matkeras.ops._loop.run``.
    """
    import tensorflow as tf

    state_name, gate_name = config
    phi, sigma = STATE_ACTIVATIONS[state_name], GATE_ACTIVATIONS[gate_name]
    blocks = len(kernels)

    @tf.custom_gradient
    def run(x, h0, c0, *ks):
        dtype = x.dtype
        units = h0.shape[-1]

        def body(x_t, carry):
            h, c = carry
            joined = tf.concat([x_t[0], h], -1)
            g_i, g_f, g_g, g_o = _blocks.products(joined, ks, 4)
            i, f, g, o = sigma(g_i), sigma(g_f), phi(g_g), sigma(g_o)
            c_new = f * c + i * g
            h_new = o * phi(c_new)
            # the output, the activated gates i, f, g, o side by side, and c_{t-1}
            return (h_new, c_new), (h_new, tf.concat([i, f, g, o], -1), c)

        (h_last, c_last), (outputs, gates, cells) = _loop.unrolled_while(
            body, (x,), (h0, c0), ((dtype, h0.shape), (dtype, h0.shape[:-1] + [4 * units]),
                                   (dtype, c0.shape)), stack=False, unroll=unroll)
        outputs = outputs.stack()  # gates and cells stay arrays the backward loop reads

        def grad(d_outputs, d_h_last, d_c_last):
            standard = config == ("tanh", "sigmoid")
            tanh_columns = tf.concat([tf.zeros((2 * units,), dtype), tf.ones((units,), dtype),
                                      tf.zeros((units,), dtype)], 0)
            joined_kernel = tf.concat(ks, -1) if blocks > 1 else ks[0]
            recurrent_t = tf.transpose(joined_kernel[features:])
            if d_outputs is None:
                d_outputs = tf.zeros_like(outputs)
            d_h_last = tf.zeros_like(h0) if d_h_last is None else d_h_last
            d_c_last = tf.zeros_like(c0) if d_c_last is None else d_c_last

            def back(inputs_t, carry):  # c_t came down from step t + 1
                d_output, activated, c_prev = inputs_t
                dh, dc, c_t = carry
                i, f, g, o = tf.split(activated, 4, axis=-1)
                dh = dh + d_output
                phi_c = phi(c_t)
                dc = dc + dh * o * _derivative(state_name, phi_c)
                if standard:  # sigmoid' = (1 - y) y and tanh' = (1 - y)(1 + y) in one go
                    slopes = (1.0 - activated) * (activated + tanh_columns)
                    dz = tf.concat([dc * g, dc * c_prev, dc * i, dh * phi_c], -1) * slopes
                else:
                    dz = tf.concat([dc * g * _derivative(gate_name, i),
                                    dc * c_prev * _derivative(gate_name, f),
                                    dc * i * _derivative(state_name, g),
                                    dh * phi_c * _derivative(gate_name, o)], -1)
                return (tf.matmul(dz, recurrent_t), dc * f, c_prev), (dz,)

            (dh0, dc0, _), (dz_all,) = _loop.unrolled_while(  # dz_all: (T, B, 4H)
                back, (d_outputs, gates, cells), (d_h_last, d_c_last, c_last),
                ((dtype, h0.shape[:-1] + [4 * units]),), reverse=True, unroll=unroll)
            previous = tf.concat([h0[None], outputs[:-1]], 0)
            joined_all = tf.concat([x, previous], -1)
            rows = tf.shape(x)[0] * tf.shape(x)[1]  # 0 for the empty part of a 1-row batch:
            dz_flat = tf.reshape(dz_all, (rows, 4 * units))  # the widths are given, as -1 is
            d_kernel = tf.matmul(tf.reshape(joined_all, (rows, features + units)), dz_flat,
                                 transpose_a=True)  # ambiguous with no rows
            d_x = tf.reshape(tf.matmul(dz_flat, joined_kernel[:features], transpose_b=True),
                             tf.shape(x))
            d_kernels = tf.split(d_kernel, 4, -1) if blocks > 1 else [d_kernel]
            return (d_x, dh0, dc0, *d_kernels)

        return (outputs, h_last, c_last), grad

    outputs, h_last, c_last = run(inputs, initial_hidden, initial_cell, *kernels)
    return (outputs if return_sequences else None), (h_last, c_last)
