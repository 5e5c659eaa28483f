"""Independent float64 numpy versions of MATLAB's non-recurrent sequence layers (spec section 8).

Data are MATLAB-shaped where that is the point (column-major flatten, C x N x T sequences) and
written from the MATLAB documentation's formulas with plain loops.
"""

import math

import numpy as np


def fully_connected(X, W, b):
    """X (C, N, T) -> W X + b at every time step: (OutputSize, N, T)."""
    return np.einsum("oc,cnt->ont", W, X) + np.reshape(b, (-1, 1, 1))


def same_padding(length, k, stride, dilation=1):
    """MATLAB 'same': total = max(0, (ceil(T/s) - 1) s + k_eff - T), left = floor(total/2)."""
    k_eff = (k - 1) * dilation + 1
    total = max(0, (-(-length // stride) - 1) * stride + k_eff - length)
    return total // 2, total - total // 2


def conv1d(X, W, b, stride=1, dilation=1, pad=(0, 0), value=0.0):
    """X (C, N, T); W (FilterSize, NumChannels, NumFilters); cross-correlation over T."""
    C, N, T = X.shape
    k, _, F = W.shape
    Xp = np.concatenate([np.full((C, N, pad[0]), value), X, np.full((C, N, pad[1]), value)], 2)
    k_eff = (k - 1) * dilation + 1
    steps = (Xp.shape[2] - k_eff) // stride + 1
    Y = np.zeros((F, N, steps))
    for t in range(steps):
        for j in range(k):
            Y[:, :, t] += np.einsum("cf,cn->fn", W[j], Xp[:, :, t * stride + j * dilation])
    return Y + np.reshape(b, (-1, 1, 1))


def conv2d_valid(image, W, b):
    """One image (h, w, C); W (kh, kw, C, F); valid cross-correlation -> (h', w', F)."""
    kh, kw, _, F = W.shape
    h, w, _ = image.shape
    out = np.zeros((h - kh + 1, w - kw + 1, F))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = np.einsum("abc,abcf->f", image[i:i + kh, j:j + kw], W)
    return out + b


def pool1d(X, size, stride, pad, mode, pad_value=0.0):
    """X (C, N, T); mode 'max' or 'average'; pad_value 0 counts in averages, 'mean' does not."""
    C, N, T = X.shape
    fill = -np.inf if mode == "max" else 0.0
    Xp = np.concatenate([np.full((C, N, pad[0]), fill), X, np.full((C, N, pad[1]), fill)], 2)
    real = np.concatenate([np.zeros(pad[0]), np.ones(T), np.zeros(pad[1])])
    steps = (Xp.shape[2] - size) // stride + 1
    Y = np.zeros((C, N, steps))
    for t in range(steps):
        window = Xp[:, :, t * stride:t * stride + size]
        if mode == "max":
            Y[:, :, t] = window.max(axis=2)
        elif pad_value == "mean":
            Y[:, :, t] = window.sum(axis=2) / real[t * stride:t * stride + size].sum()
        else:
            Y[:, :, t] = window.sum(axis=2) / size
    return Y


def flatten_column_major(frame):
    """One frame (h, w, c) -> its h*w*c values, h fastest (MATLAB's memory order)."""
    return np.reshape(frame, -1, order="F")


def word_embedding(indices, W, num_words):
    """1-based indices (N, T); W (Dimension, NumWords + 1); OOV -> the last column."""
    idx = np.asarray(indices).astype(int)
    idx = np.where((idx < 1) | (idx > num_words), num_words + 1, idx)
    return np.transpose(W[:, idx - 1], (1, 2, 0))  # (N, T, Dimension)


def normalize(x, kind, mean=None, std=None, lo=None, hi=None):
    """sequenceInputLayer's formulas, statistics broadcast on the last axis."""
    if kind == "zerocenter":
        return x - mean
    if kind == "zscore":
        return (x - mean) / std
    if kind == "rescale-symmetric":
        return 2 * (x - lo) / (hi - lo) - 1
    if kind == "rescale-zero-one":
        return (x - lo) / (hi - lo)
    return x


def batch_norm_inference(x, offset, scale, mean, variance, epsilon=1e-5):
    return scale * (x - mean) / np.sqrt(variance + epsilon) + offset


def batch_norm_training(x, offset, scale, mean, variance, decay=0.1, epsilon=1e-5):
    """A training step: the output from the mini-batch's per-channel statistics (population
    variance) and the trained statistics after it, each moved `decay` (MATLAB's MeanDecay and
    VarianceDecay, 0.1) toward the mini-batch's."""
    axes = tuple(range(x.ndim - 1))
    mu, var = x.mean(axis=axes), x.var(axis=axes)
    return (batch_norm_inference(x, offset, scale, mu, var, epsilon),
            (1 - decay) * mean + decay * mu, (1 - decay) * variance + decay * var)


def layer_norm(x, offset, scale, epsilon=1e-5, axes=(-1,)):
    """MATLAB's layer normalization of batch-first, channels-last `x` over `axes` (the
    channels by default), one offset and scale per channel."""
    mu = x.mean(axis=axes, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=axes, keepdims=True)
    return scale * (x - mu) / np.sqrt(var + epsilon) + offset


def group_norm(x, offset, scale, groups, epsilon=1e-5):
    """MATLAB's group normalization of batch-first, channels-last `x`: per observation and
    group of `groups` contiguous channel blocks, over every other dimension."""
    n, c = x.shape[0], x.shape[-1]
    g = x.reshape(n, -1, groups, c // groups)  # (N, time and spatial, group, its channels)
    mu = g.mean(axis=(1, 3), keepdims=True)
    var = ((g - mu) ** 2).mean(axis=(1, 3), keepdims=True)
    return scale * ((g - mu) / np.sqrt(var + epsilon)).reshape(x.shape) + offset


#: layerNormalizationLayer's OperationDimension -> the axes of a batch-first, channels-last
#: input it normalizes over, per input kind (MathWorks' TensorFlow exporter,
#: ConverterForLayerNormalizationLayer: "auto" takes the spatial dimensions too where there are
#: two of them; "spatial-channel" where there is any; "batch-excluded" everything but the
#: batch).
LAYER_NORM_AXES = {
    "sequence": {"auto": (2,), "channel-only": (2,), "spatial-channel": (2,),
                 "batch-excluded": (1, 2)},
    "image": {"auto": (1, 2, 3), "channel-only": (3,), "spatial-channel": (1, 2, 3),
              "batch-excluded": (1, 2, 3)},
    "image-sequence": {"auto": (2, 3, 4), "channel-only": (4,), "spatial-channel": (2, 3, 4),
                       "batch-excluded": (1, 2, 3, 4)},
}


# Activation layers (MATLAB's documented formulas, elementwise).
def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def swish(x):
    """swishLayer: x * sigmoid(x)."""
    return x / (1.0 + np.exp(-x))


_ERF = np.vectorize(math.erf, otypes=[np.float64])


def gelu(x, approximation="none"):
    """geluLayer: x/2 (1 + erf(x/sqrt 2)); 'tanh' replaces erf(x/sqrt 2) by
    tanh(sqrt(2/pi) (x + 0.044715 x^3))."""
    if approximation == "tanh":
        inner = np.tanh(np.sqrt(2.0 / np.pi) * (x + 0.044715 * x ** 3))
    else:
        inner = _ERF(x / np.sqrt(2.0))
    return x / 2.0 * (1.0 + inner)


# Multi-input layers, on arrays in MATLAB's data-format layout (e.g. C x B x T for "CBT").
def keras_to_matlab_format(x, data_format):
    """A Keras-layout array (batch, [time], spatial..., channel) in MATLAB's format order
    (spatial..., channel, batch, [time])."""
    has_time = "T" in data_format
    spatial = data_format.count("S")
    batch, time = 0, (1 if has_time else None)
    first_spatial = 2 if has_time else 1
    order = [first_spatial + k for k in range(spatial)] + [x.ndim - 1, batch]
    if has_time:
        order.append(time)
    return np.transpose(x, order)


def matlab_format_to_keras(y, data_format):
    has_time = "T" in data_format
    spatial = data_format.count("S")
    # MATLAB axes: S.. (0..spatial-1), C (spatial), B (spatial+1), T (spatial+2)
    order = [spatial + 1] + ([spatial + 2] if has_time else []) + list(range(spatial)) + [spatial]
    return np.transpose(y, order)


def concatenate_matlab(arrays, dim):
    """concatenationLayer: cat(dim, in1, ..., inN) on MATLAB-layout arrays (dim 1-based)."""
    return np.concatenate(arrays, axis=dim - 1)


def add_all(arrays):
    """additionLayer: in1 + ... + inN with MATLAB's singleton expansion."""
    total = arrays[0]
    for a in arrays[1:]:
        total = total + a
    return total


def multiply_all(arrays):
    """multiplicationLayer: in1 .* ... .* inN with MATLAB's singleton expansion."""
    product = arrays[0]
    for a in arrays[1:]:
        product = product * a
    return product
