"""PyTorch's fused recurrent kernels, for the MATLAB configurations they compute exactly.

``torch.lstm`` and ``torch.gru`` (what ``torch.nn.LSTM``/``GRU`` call; oneDNN's fused RNN
primitive on CPU, cuDNN on GPU) run the whole sequence in one call, forward and backward.
They compute, per step (row vectors, torch's gate order in brackets):

- LSTM [i, f, g, o]: MATLAB's ``lstmLayer`` with its default activations (tanh, sigmoid): the
  same gate order, the same equations; torch's second bias ``b_hh`` is given as zeros.
- GRU [r, z, n]: ``n = tanh(W_n x + b_n + r * (R_n h + bR_n))``, ``h' = (1 - z) n + z h``:
  MATLAB's ``"recurrent-bias-after-multiplication"`` with ``bR`` its recurrent bias, and
  MATLAB's default ``"after-multiplication"`` with ``bR = 0``. matkeras keeps the blocks in
  Keras's order z, r, h, so they are reordered to r, z, h here.

The rest (MATLAB-only activations, masks, projected layers, ``"before-multiplication"``) keep
the generic loop; :func:`matkeras.ops._speed.kernel` decides.
"""


def lstm(inputs, kernel, recurrent_kernel, bias, hidden, cell, return_sequences, go_backwards,
         training):
    """``(outputs, h_T, c_T)`` of MATLAB's default LSTM from ``torch.lstm``; the arguments as
    :func:`matkeras.ops.lstm.matlab_lstm`'s."""
    import torch

    x = torch.flip(inputs, (1,)) if go_backwards else inputs
    params = [kernel.T, recurrent_kernel.T, bias, torch.zeros_like(bias)]
    outputs, h_last, c_last = torch.lstm(
        x, (hidden[None], cell[None]), params, True, 1, 0.0, bool(training), False, True)
    return _finish(outputs, h_last[0], return_sequences, go_backwards), h_last[0], c_last[0]


def bilstm(inputs, kernel, recurrent_kernel, bias, hidden, cell, training):
    """Both directions of MATLAB's default BiLSTM in one ``torch.lstm`` call (bidirectional, as
    ``torch.nn.LSTM(bidirectional=True)`` runs it): ``[(outputs, h_T, c_T)]`` per direction,
    the backward outputs in the original time order, and the outputs of both ``(batch, time,
    2H)`` as torch gives them (forward then backward: what the layer returns, without joining
    the halves again). Weights as :func:`matkeras.ops.lstm.matlab_bilstm` takes them: columns
    ``[forward 4H | backward 4H]``, states ``(batch, 2H)``."""
    import torch

    units = int(recurrent_kernel.shape[0])
    params = []
    for half in (slice(0, 4 * units), slice(4 * units, 8 * units)):
        params += [kernel[:, half].T, recurrent_kernel[:, half].T, bias[half],
                   torch.zeros_like(bias[half])]
    starts = tuple(torch.stack([s[:, :units], s[:, units:]]) for s in (hidden, cell))
    outputs, h_last, c_last = torch.lstm(inputs, starts, params, True, 1, 0.0, bool(training),
                                         True, True)
    return [(outputs[..., :units], h_last[0], c_last[0]),
            (outputs[..., units:], h_last[1], c_last[1])], outputs


def gru(inputs, kernel, recurrent_kernel, bias, hidden, recurrent_bias, return_sequences,
        go_backwards, training):
    """``(outputs, h_T)`` of MATLAB's after-multiplication GRU (`recurrent_bias` None) or
    recurrent-bias-after-multiplication GRU from ``torch.gru``; blocks z, r, h as
    :func:`matkeras.ops.gru.matlab_gru` takes them."""
    import torch

    x = torch.flip(inputs, (1,)) if go_backwards else inputs
    if recurrent_bias is None:
        recurrent_bias = torch.zeros_like(bias)
    params = [_rzh(kernel.T), _rzh(recurrent_kernel.T), _rzh(bias), _rzh(recurrent_bias)]
    outputs, h_last = torch.gru(
        x, hidden[None], params, True, 1, 0.0, bool(training), False, True)
    return _finish(outputs, h_last[0], return_sequences, go_backwards), h_last[0]


def _rzh(blocks):
    """Keras's block order z, r, h along the first axis as torch's r, z, h."""
    import torch

    z, r, h = torch.chunk(blocks, 3, dim=0)
    return torch.cat([r, z, h], dim=0)


def _finish(outputs, last, return_sequences, go_backwards):
    import torch

    if not return_sequences:
        return last
    return torch.flip(outputs, (1,)) if go_backwards else outputs
