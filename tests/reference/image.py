"""An independent float64 numpy pass of MATLAB's 2-D image layers, in MATLAB's layout.

Images are ``(H, W, C, N)`` ("SSCB"), as MATLAB holds them. Written from MATLAB's documented
definitions (../shared/spec/matlab-2d-layers.md): convolutions are cross-correlations,
``Weights`` (kh, kw, C, F) and grouped ``Weights`` (kh, kw, C/G, F/G, G); 'same' padding puts
the odd row/column at the bottom/right; average pooling counts padded zeros; a fully connected
layer flattens (H, W, C) column-major; cross-channel normalization divides Alpha by the window.
Never imports matkeras.
"""

import math

import numpy as np


def same_pads(n, k, stride, dilation=1):
    """MATLAB's 'same' padding of one axis: (before, after), the odd one after."""
    total = max((math.ceil(n / stride) - 1) * stride + (k - 1) * dilation + 1 - n, 0)
    return total // 2, total - total // 2


def _pads(X, size, stride, dilation, padding):
    """[(top, bottom), (left, right)] for 'same' or MATLAB's [t b l r] / [h w] / p."""
    if isinstance(padding, str):
        return [same_pads(X.shape[a], size[a], stride[a], dilation[a]) for a in (0, 1)]
    p = [int(v) for v in np.ravel(padding)]
    if len(p) == 1:
        p = p * 4
    elif len(p) == 2:
        p = [p[0], p[0], p[1], p[1]]
    return [(p[0], p[1]), (p[2], p[3])]


def pad(X, pads, value=0.0):
    """Pads H and W of an (H, W, C, N) array: a number, or MATLAB's PaddingValue names."""
    widths = [pads[0], pads[1], (0, 0), (0, 0)]
    modes = {"replicate": "edge", "symmetric-include-edge": "symmetric",
             "symmetric-exclude-edge": "reflect"}
    if isinstance(value, str):
        return np.pad(X, widths, mode=modes[value])
    return np.pad(X, widths, constant_values=value)


def conv2d(X, W, b, stride=(1, 1), dilation=(1, 1), padding=0, padding_value=0.0):
    """MATLAB's convolution2dLayer: X (H, W, C, N), W (kh, kw, C, F), b (F,) -> (H', W', F, N)."""
    kh, kw = W.shape[:2]
    size = ((kh - 1) * dilation[0] + 1, (kw - 1) * dilation[1] + 1)
    pads = _pads(X, (kh, kw), stride, dilation, padding)
    P = pad(np.asarray(X, np.float64), pads, padding_value)
    out_h = (P.shape[0] - size[0]) // stride[0] + 1
    out_w = (P.shape[1] - size[1]) // stride[1] + 1
    Y = np.zeros((out_h, out_w, W.shape[3], X.shape[3]))
    for p in range(kh):
        for q in range(kw):
            rows = slice(p * dilation[0], p * dilation[0] + (out_h - 1) * stride[0] + 1,
                         stride[0])
            cols = slice(q * dilation[1], q * dilation[1] + (out_w - 1) * stride[1] + 1,
                         stride[1])
            Y += np.einsum("hwcn,cf->hwfn", P[rows, cols], W[p, q])
    return Y + np.ravel(b)[None, None, :, None]


def grouped_conv2d(X, W, b, stride=(1, 1), dilation=(1, 1), padding=0, padding_value=0.0):
    """MATLAB's groupedConvolution2dLayer: W (kh, kw, C/G, F/G, G), b (F/G, G) (any shape of
    that order); group g's outputs are channels g*F/G .. (g+1)*F/G - 1."""
    W = np.asarray(W, np.float64).reshape((*W.shape[:3], -1, W.shape[-1]) if W.ndim == 5
                                          else W.shape)
    cg, fg, groups = W.shape[2], W.shape[3], W.shape[4]
    b = np.reshape(np.asarray(b, np.float64), (fg, groups), order="F")
    outputs = [conv2d(X[:, :, g * cg:(g + 1) * cg], W[..., g], b[:, g], stride, dilation,
                      padding, padding_value) for g in range(groups)]
    return np.concatenate(outputs, axis=2)


def pool2d(X, size, stride, padding, mode, padding_value=0.0):
    """MATLAB's max/average pooling: padded cells never win a maximum; in an average they are
    zeros that count (PaddingValue 0) or are left out (PaddingValue "mean")."""
    pads = _pads(X, size, stride, (1, 1), padding)
    X = np.asarray(X, np.float64)
    P = pad(X, pads, -np.inf if mode == "max" else 0.0)
    ones = pad(np.ones(X.shape[:2] + (1, 1)), pads, 0.0)
    out_h = (P.shape[0] - size[0]) // stride[0] + 1
    out_w = (P.shape[1] - size[1]) // stride[1] + 1
    windows, counts = [], []
    for p in range(size[0]):
        for q in range(size[1]):
            rows = slice(p, p + (out_h - 1) * stride[0] + 1, stride[0])
            cols = slice(q, q + (out_w - 1) * stride[1] + 1, stride[1])
            windows.append(P[rows, cols])
            counts.append(ones[rows, cols])
    if mode == "max":
        return np.max(windows, axis=0)
    total = np.sum(windows, axis=0)
    if padding_value == "mean":
        return total / np.sum(counts, axis=0)
    return total / (size[0] * size[1])


def batch_norm(X, offset, scale, mean, variance, epsilon):
    shape = (1, 1, -1, 1)
    return (np.reshape(scale, shape) * (X - np.reshape(mean, shape))
            / np.sqrt(np.reshape(variance, shape) + epsilon) + np.reshape(offset, shape))


def fully_connected(X, W, b):
    """MATLAB's fullyConnectedLayer on (H, W, C, N): column-major flatten (H fastest), Weights
    (O, H*W*C) or the older (H, W, C, O)."""
    h, w, c, n = X.shape
    flat = X.reshape(h * w * c, n, order="F")
    W = np.asarray(W, np.float64)
    if W.ndim == 4:
        W = W.reshape(h * w * c, -1, order="F").T
    return W @ flat + np.ravel(b)[:, None]  # (O, N)


def softmax(Z):
    """Softmax over the channels (axis 0 of a (C, N) array)."""
    e = np.exp(Z - Z.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)


def elu(X, alpha=1.0):
    return np.where(X > 0, X, alpha * (np.exp(np.minimum(X, 0)) - 1))


def leaky_relu(X, scale=0.01):
    return np.where(X > 0, X, scale * X)


def clipped_relu(X, ceiling):
    return np.minimum(np.maximum(X, 0), ceiling)


def cross_channel_norm(X, window, alpha=1e-4, beta=0.75, k=2.0):
    """MATLAB's crossChannelNormalizationLayer on (H, W, C, N), the window clipped at the
    first and last channel."""
    C = X.shape[2]
    Y = np.empty_like(X, dtype=np.float64)
    for c in range(C):
        start = max(c - (window - 1) // 2, 0)
        stop = min(c + math.ceil((window - 1) / 2), C - 1)
        ss = np.sum(X[:, :, start:stop + 1] ** 2, axis=2)
        Y[:, :, c] = X[:, :, c] / (k + alpha * ss / window) ** beta
    return Y


def normalize(X, kind, mean=None, std=None, lo=None, hi=None):
    """imageInputLayer's normalization with statistics broadcast over (H, W, C) (scalar,
    1 x 1 x C or H x W x C)."""
    def b(v):
        v = np.asarray(v, np.float64)
        return v.reshape(v.shape + (1,) * (4 - v.ndim)) if v.ndim else v

    if kind == "zerocenter":
        return X - b(mean)
    if kind == "zscore":
        return (X - b(mean)) / b(std)
    if kind == "rescale-zero-one":
        return (X - b(lo)) / (b(hi) - b(lo))
    if kind == "rescale-symmetric":
        return 2 * (X - b(lo)) / (b(hi) - b(lo)) - 1
    return X


def forward(layers, X):
    """A chain of ``(kind, params)`` layers on X (H, W, C, N); returns the last output: images
    (H, W, C, N) until a fully connected layer, then (C, N)."""
    for kind, p in layers:
        if kind == "input":
            X = normalize(X, p.get("normalization", "none"), p.get("mean"))
        elif kind == "conv2d":
            X = conv2d(X, p["W"], p["b"], p["stride"], p["dilation"], p["padding"])
        elif kind == "grouped_conv2d":
            X = grouped_conv2d(X, p["W"], p["b"], p["stride"], p["dilation"], p["padding"])
        elif kind == "batchnorm":
            X = batch_norm(X, p["offset"], p["scale"], p["mean"], p["variance"], p["epsilon"])
        elif kind == "relu":
            X = np.maximum(X, 0)
        elif kind in ("maxpool2d", "avgpool2d"):
            X = pool2d(X, p["size"], p["stride"], p["padding"], kind[:3])
        elif kind == "fc":
            X = fully_connected(X, p["W"], p["b"]) if X.ndim == 4 else (
                np.asarray(p["W"]) @ X + np.ravel(p["b"])[:, None])
        elif kind == "softmax":
            X = softmax(X)
        elif kind not in ("dropout", "classification"):
            raise ValueError(f"reference image network: unknown layer kind {kind!r}")
    return X


def onnx_flatten(X):
    """MATLAB's ONNX flatten layers on (H, W, C, N): ONNX's row-major NCHW order (W fastest,
    then H, then C) -> (C*H*W, N)."""
    return np.stack([np.transpose(X[..., n], (2, 0, 1)).ravel() for n in range(X.shape[3])],
                    axis=1)
