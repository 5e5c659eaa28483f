"""MATLAB gruLayer (and gruProjectedLayer) forward pass, float64 numpy, MATLAB layout.

Spec section 3: rows r (1:H), z (H+1:2H), candidate h (2H+1:3H); Bias 3H, or 6H = [b_W; b_R] for
ResetGateMode "recurrent-bias-after-multiplication".
"""

import numpy as np

from tests.reference.lstm import GATE, STATE, _col


def gru_forward(X, W, R, b, h0=None, reset_gate_mode="after-multiplication",
                state_activation="tanh", gate_activation="sigmoid", Qi=None, Qo=None):
    """Returns (Y (H, N, T), hT (H, N)) for X (C, N, T)."""
    X = np.asarray(X, np.float64)
    W, R = np.asarray(W, np.float64), np.asarray(R, np.float64)
    b = np.asarray(b, np.float64).ravel()
    C, N, T = X.shape
    H = R.shape[0] // 3
    Qi = np.eye(C) if Qi is None else np.asarray(Qi, np.float64)
    Qo = np.eye(H) if Qo is None else np.asarray(Qo, np.float64)
    recurrent_bias = reset_gate_mode == "recurrent-bias-after-multiplication"
    assert b.size == (6 if recurrent_bias else 3) * H
    bW = b[:3 * H].reshape(-1, 1)
    bR = b[3 * H:].reshape(-1, 1) if recurrent_bias else np.zeros((3 * H, 1))
    r_rows, z_rows, h_rows = (slice(k * H, (k + 1) * H) for k in range(3))
    phi, sigma = STATE[state_activation], GATE[gate_activation]
    h = np.zeros((H, N)) if h0 is None else np.broadcast_to(_col(h0), (H, N)).astype(np.float64)
    Y = np.zeros((H, N, T))
    for t in range(T):
        x = Qi.T @ X[:, :, t]
        r = sigma(W[r_rows] @ x + R[r_rows] @ (Qo.T @ h) + bW[r_rows] + bR[r_rows])
        z = sigma(W[z_rows] @ x + R[z_rows] @ (Qo.T @ h) + bW[z_rows] + bR[z_rows])
        if reset_gate_mode == "before-multiplication":
            candidate = phi(W[h_rows] @ x + R[h_rows] @ (Qo.T @ (r * h)) + bW[h_rows])
        else:
            candidate = phi(W[h_rows] @ x + bW[h_rows]
                            + r * (R[h_rows] @ (Qo.T @ h) + bR[h_rows]))
        h = (1 - z) * candidate + z * h
        Y[:, :, t] = h
    return Y, h
