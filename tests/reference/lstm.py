"""MATLAB lstmLayer forward pass, float64 numpy, MATLAB layout (spec section 1.3)."""

import numpy as np


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def hard_sigmoid(x):
    return np.maximum(0.0, np.minimum(1.0, 0.2 * x + 0.5))


def softsign(x):
    return x / (1.0 + np.abs(x))


def relu(x):
    return np.maximum(x, 0.0)


STATE = {"tanh": np.tanh, "softsign": softsign, "relu": relu}
GATE = {"sigmoid": sigmoid, "hard-sigmoid": hard_sigmoid}


def lstm_forward(X, W, R, b, h0=None, c0=None, state_activation="tanh",
                 gate_activation="sigmoid"):
    """MATLAB lstmLayer on data X of shape (C, N, T) ("CBT").

    W (4H, C), R (4H, H), b (4H,), rows i, f, g, o. h0, c0: (H,) or (H, N) initial states.
    Returns (Y, hT, cT) with Y (H, N, T), hT and cT (H, N).
    """
    X = np.asarray(X, dtype=np.float64)
    W, R = np.asarray(W, np.float64), np.asarray(R, np.float64)
    b = np.asarray(b, np.float64).reshape(-1, 1)
    C, N, T = X.shape
    H = R.shape[1]
    assert W.shape == (4 * H, C) and R.shape == (4 * H, H) and b.shape == (4 * H, 1)
    h = np.zeros((H, N)) if h0 is None else np.broadcast_to(_col(h0), (H, N)).astype(np.float64)
    c = np.zeros((H, N)) if c0 is None else np.broadcast_to(_col(c0), (H, N)).astype(np.float64)
    phi, sigma = STATE[state_activation], GATE[gate_activation]
    i_rows, f_rows, g_rows, o_rows = (slice(k * H, (k + 1) * H) for k in range(4))
    Y = np.zeros((H, N, T))
    for t in range(T):
        G = W @ X[:, :, t] + R @ h + b
        i = sigma(G[i_rows])
        f = sigma(G[f_rows])
        g = phi(G[g_rows])
        o = sigma(G[o_rows])
        c = f * c + i * g
        h = o * phi(c)
        Y[:, :, t] = h
    return Y, h, c


def _col(v):
    v = np.asarray(v, np.float64)
    return v.reshape(-1, 1) if v.ndim == 1 else v
