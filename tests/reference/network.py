"""An independent float64 numpy forward pass of a MATLAB network: layers plus connections.

MATLAB layout: sequences are (C, N, T) ("CBT"), feature data (C, N) ("CB"). Each layer is
``(name, kind, params)`` with the parameters as MATLAB stores them; ``connections`` are MATLAB's
``(source, destination)`` pairs (``'add/in2'``; a bare name is the first port), or None for a
layer array run in order. Written from MATLAB's documented equations; never imports matkeras.
"""

import numpy as np

from tests.reference.gru import gru_forward
from tests.reference.layers import batch_norm_inference, conv1d, normalize
from tests.reference.lstm import bilstm_forward, lstm_forward


def _channels_first(x, fn):
    """Applies `fn` to a (C, ...) array as a (C, M) matrix and restores the shape."""
    shape = x.shape
    return fn(x.reshape(shape[0], -1)).reshape(-1, *shape[1:])


def _softmax(x):
    e = np.exp(x - x.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)


def _recurrent(kind, p, x):
    last = p.get("output_mode", "sequence") == "last"
    if kind == "lstm":
        Y, h, _ = lstm_forward(x, p["W"], p["R"], p["b"], p.get("h0"), p.get("c0"),
                               p.get("state_activation", "tanh"),
                               p.get("gate_activation", "sigmoid"))
        return h if last else Y
    if kind == "bilstm":
        Y, h_last, *_ = bilstm_forward(x, p["W"], p["R"], p["b"], p.get("h0"), p.get("c0"),
                                       p.get("state_activation", "tanh"),
                                       p.get("gate_activation", "sigmoid"))
        return h_last if last else Y
    Y, h = gru_forward(x, p["W"], p["R"], p["b"], p.get("h0"),
                       p.get("reset_gate_mode", "after-multiplication"),
                       p.get("state_activation", "tanh"), p.get("gate_activation", "sigmoid"))
    return h if last else Y


def _layer(kind, p, inputs):
    x = inputs[0]
    if kind == "input":
        return normalize(x.T, p.get("normalization", "none"), p.get("mean"),
                         p.get("std")).T if x.ndim == 2 else np.moveaxis(
            normalize(np.moveaxis(x, 0, -1), p.get("normalization", "none"), p.get("mean"),
                      p.get("std")), -1, 0)
    if kind in ("lstm", "bilstm", "gru"):
        return _recurrent(kind, p, x)
    if kind == "fc":
        W, b = np.asarray(p["W"], np.float64), np.ravel(p["b"])
        return _channels_first(x, lambda m: W @ m + b[:, None])
    if kind == "relu":
        return np.maximum(x, 0)
    if kind == "tanh":
        return np.tanh(x)
    if kind == "sigmoid":
        return 1 / (1 + np.exp(-x))
    if kind == "softmax":
        return _softmax(x)
    if kind in ("dropout", "regression", "classification"):
        return x
    if kind == "conv1d":
        W = np.asarray(p["W"], np.float64)
        k, dilation = W.shape[0], p.get("dilation", 1)
        pad = p["pad"] if p["pad"] != "causal" else ((k - 1) * dilation, 0)
        return conv1d(x, W, np.ravel(p["b"]), p.get("stride", 1), dilation, pad)
    if kind == "batchnorm":
        shape = (-1,) + (1,) * (x.ndim - 1)
        return batch_norm_inference(x, *(np.reshape(p[k], shape) for k in (
            "offset", "scale", "mean", "variance")), p.get("epsilon", 1e-5))
    if kind == "gap1d":
        return x.mean(axis=2)
    if kind == "concat":
        return np.concatenate(inputs, axis=0)
    if kind == "add":
        return sum(inputs)
    raise ValueError(f"reference network: unknown layer kind {kind!r}")


def _port(end):
    name, _, port = end.partition("/")
    return name, (int(port[2:]) - 1 if port.startswith("in") and port[2:].isdigit() else 0)


def forward(layers, connections, inputs):
    """Runs the network; returns ``{layer name: output}`` for every layer.

    Args:
        layers: ``[(name, kind, params)]`` in MATLAB's Layers order.
        connections: ``[(source, destination)]`` or None (a chain in array order).
        inputs: ``{input layer name: array}`` in MATLAB layout.
    """
    if connections is None:
        connections = [(a[0], b[0]) for a, b in zip(layers, layers[1:], strict=False)]
    feeds = {}
    for source, destination in connections:
        name, position = _port(destination)
        feeds.setdefault(name, {})[position] = source.partition("/")[0]
    outputs, pending = {}, list(layers)
    while pending:
        for entry in pending:
            name, kind, params = entry
            sources = feeds.get(name, {})
            if all(s in outputs for s in sources.values()):
                given = ([np.asarray(inputs[name], np.float64)] if kind == "input" else
                         [outputs[sources[k]] for k in sorted(sources)])
                outputs[name] = _layer(kind, params, given)
                pending.remove(entry)
                break
        else:
            raise ValueError("reference network: the connections form a cycle or dangle")
    return outputs
