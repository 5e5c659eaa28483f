"""MATLAB's solver updates in float64 numpy (sgdmupdate, adamupdate, rmspropupdate).

Independent of matkeras: written from MATLAB's documented update equations.
"""

import numpy as np


def sgdm(w, grads, lr, momentum=0.9):
    """Runs the gradients in order; returns the weights after each step."""
    v = np.zeros_like(w)
    out = []
    for g in grads:
        v = momentum * v - lr * g
        w = w + v
        out.append(w)
    return out


def adam(w, grads, lr, b1=0.9, b2=0.999, eps=1e-8):
    m = np.zeros_like(w)
    v = np.zeros_like(w)
    out = []
    for t, g in enumerate(grads, start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
        w = w - lr * m_hat / (np.sqrt(v_hat) + eps)
        out.append(w)
    return out


def rmsprop(w, grads, lr, b2=0.9, eps=1e-8):
    v = np.zeros_like(w)
    out = []
    for g in grads:
        v = b2 * v + (1 - b2) * g**2
        w = w - lr * g / (np.sqrt(v) + eps)
        out.append(w)
    return out


def clip_l2norm(g, threshold):
    """MATLAB's 'l2norm' gradient threshold, per learnable."""
    norm = np.sqrt(np.sum(g**2))
    return g * (threshold / norm) if norm > threshold else g


def clip_global_l2norm(grads, threshold):
    """MATLAB's 'global-l2norm' gradient threshold: every learnable scaled by one factor."""
    norm = np.sqrt(sum(np.sum(g**2) for g in grads))
    return [g * (threshold / norm) if norm > threshold else g for g in grads]


def clip_absolute_value(g, threshold):
    """MATLAB's 'absolute-value' gradient threshold, element by element."""
    return np.clip(g, -threshold, threshold)
