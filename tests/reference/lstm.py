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
                 gate_activation="sigmoid", Qi=None, Qo=None):
    """MATLAB lstmLayer on data X of shape (C, N, T) ("CBT").

    W (4H, C), R (4H, H), b (4H,), rows i, f, g, o. h0, c0: (H,) or (H, N) initial states.
    lstmProjectedLayer: Qi (C, Pin) and Qo (H, Pout) projectors, with W (4H, Pin) and R (4H, Pout);
    the pre-activation is then W (Qi' x) + R (Qo' h) + b.
    Returns (Y, hT, cT) with Y (H, N, T), hT and cT (H, N).
    """
    X = np.asarray(X, dtype=np.float64)
    W, R = np.asarray(W, np.float64), np.asarray(R, np.float64)
    b = np.asarray(b, np.float64).reshape(-1, 1)
    C, N, T = X.shape
    H = R.shape[0] // 4
    Qi = np.eye(C) if Qi is None else np.asarray(Qi, np.float64)
    Qo = np.eye(H) if Qo is None else np.asarray(Qo, np.float64)
    assert W.shape == (4 * H, Qi.shape[1]) and R.shape == (4 * H, Qo.shape[1])
    assert b.shape == (4 * H, 1) and Qi.shape[0] == C and Qo.shape[0] == H
    h = np.zeros((H, N)) if h0 is None else np.broadcast_to(_col(h0), (H, N)).astype(np.float64)
    c = np.zeros((H, N)) if c0 is None else np.broadcast_to(_col(c0), (H, N)).astype(np.float64)
    phi, sigma = STATE[state_activation], GATE[gate_activation]
    i_rows, f_rows, g_rows, o_rows = (slice(k * H, (k + 1) * H) for k in range(4))
    Y = np.zeros((H, N, T))
    for t in range(T):
        G = W @ (Qi.T @ X[:, :, t]) + R @ (Qo.T @ h) + b
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


def bilstm_forward(X, W, R, b, h0=None, c0=None, state_activation="tanh",
                   gate_activation="sigmoid"):
    """MATLAB bilstmLayer on X (C, N, T): rows 1:4H of W, R, b forward, 4H+1:8H backward.

    h0, c0: (2H,) or (2H, N) = [forward; backward]. The backward LSTM runs on the time-reversed
    data and its outputs are flipped back. Returns (Y, h_last, h_last_step, hT, cT):
    Y (2H, N, T) = [forward; backward]; h_last (2H, N) = [h_fwd(T); backward state after the
    whole reversed sequence] (MATLAB's 'last' output now); h_last_step = [h_fwd(T); backward
    output at time T] (R2017b's reading); hT, cT the final states [forward; backward].
    """
    R = np.asarray(R, np.float64)
    H = R.shape[1]
    b = np.asarray(b, np.float64).ravel()
    halves = []
    for d, data in ((0, X), (1, np.asarray(X)[:, :, ::-1])):
        rows = slice(4 * H * d, 4 * H * (d + 1))
        states = [None if s is None else _col(s)[H * d:H * (d + 1)] for s in (h0, c0)]
        Y, h, c = lstm_forward(data, np.asarray(W, np.float64)[rows], R[rows], b[rows], *states,
                               state_activation=state_activation,
                               gate_activation=gate_activation)
        halves.append((Y if d == 0 else Y[:, :, ::-1], h, c))
    (Yf, hf, cf), (Yb, hb, cb) = halves
    Y = np.concatenate([Yf, Yb], axis=0)
    return (Y, np.concatenate([hf, hb]), np.concatenate([hf, Yb[:, :, -1]]),
            np.concatenate([hf, hb]), np.concatenate([cf, cb]))
