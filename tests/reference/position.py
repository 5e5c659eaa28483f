"""Independent float64 numpy versions of MATLAB's position and sequence-indexing layers:
positionEmbeddingLayer, sinusoidalPositionEncodingLayer, embeddingConcatenationLayer and
indexing1dLayer. MATLAB layout (data C x N x T, 1-based positions); nothing imports matkeras.
"""

import numpy as np


def position_embedding(X, W):
    """X (C, N, T); W (OutputSize, MaxPosition): output (OutputSize, N, T), column t of W at
    time step t, the same for every observation (the input's values do not matter)."""
    _, n, t = X.shape
    if t > W.shape[1]:
        raise ValueError("sequence longer than MaxPosition")
    out = np.zeros((W.shape[0], n, t))
    for b in range(n):
        out[:, b, :] = W[:, :t]
    return out


def sinusoidal_encoding(positions, output_size):
    """Channels interleaved as in "Attention Is All You Need", MATLAB 1-based channel numbers:
    channel 2k-1 = sin(p / 10000^(2(k-1)/d)), channel 2k = cos(same), k = 1..d/2.
    positions (any shape) -> (output_size, *positions.shape)."""
    p = np.asarray(positions, dtype=np.float64)
    out = np.zeros((output_size, *p.shape))
    for k in range(1, output_size // 2 + 1):
        angle = p / 10000.0 ** (2 * (k - 1) / output_size)
        out[2 * k - 2] = np.sin(angle)
        out[2 * k - 1] = np.cos(angle)
    return out


def sinusoidal_temporal(X, output_size):
    """X (C, N, T): the encoding of the 1-based temporal indices, (output_size, N, T)."""
    _, n, t = X.shape
    enc = sinusoidal_encoding(np.arange(1, t + 1), output_size)  # (d, T)
    return np.repeat(enc[:, None, :], n, axis=1)


def embedding_concatenation(X, w):
    """X (C, N, T); w (C,): w prepended along time -> (C, N, T + 1)."""
    c, n, _ = X.shape
    first = np.repeat(np.reshape(w, (c, 1, 1)), n, axis=1)
    return np.concatenate([first, X], axis=2)


def indexing_1d(X, index, padding_mask=None):
    """X (C, N, T) -> (C, N): the step `index` ("first", "last" or a 1-based integer) of each
    observation; with a padding mask (N, T) of 1/0 only the data steps count."""
    c, n, t = X.shape
    out = np.zeros((c, n))
    for b in range(n):
        steps = list(range(t)) if padding_mask is None else [
            s for s in range(t) if padding_mask[b][s] != 0]
        chosen = {"first": steps[0], "last": steps[-1]}.get(index) if isinstance(index, str) \
            else steps[index - 1]
        out[:, b] = X[:, b, chosen]
    return out
