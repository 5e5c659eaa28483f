"""MATLAB's trainnet losses and metrics in float64 numpy, written from MathWorks' documented
formulas (trainnet's lossFcn table; crossentropy, l1loss, l2loss, huber; the metric pages).

Independent of matkeras. Arrays are Keras layout: predictions ``(N, K)`` or ``(N, T, K)``;
``mask`` is ``(N,)`` or ``(N, T)`` with 1 on each observation's own steps (None: all ones).
Normalizations: the cross-entropies divide by the unmasked non-channel elements, every other
loss by the unmasked elements (x channels).
"""

import numpy as np


def _mask(Y, mask):
    return np.ones(Y.shape[:-1]) if mask is None else np.asarray(mask, dtype=np.float64)


def crossentropy(Y, T, mask=None):
    """T one-hot like Y."""
    m = _mask(Y, mask)
    per = -np.sum(T * np.log(Y), axis=-1)
    return np.sum(per * m) / np.sum(m)


def binary_crossentropy(Y, T, mask=None):
    m = _mask(Y, mask)[..., None]
    per = -(T * np.log(Y) + (1 - T) * np.log(1 - Y))
    return np.sum(per * m) / (np.sum(m) * Y.shape[-1])


def l2(Y, T, mask=None):
    m = _mask(Y, mask)[..., None]
    return np.sum((Y - T) ** 2 * m) / (np.sum(m) * Y.shape[-1])


def l1(Y, T, mask=None):
    m = _mask(Y, mask)[..., None]
    return np.sum(np.abs(Y - T) * m) / (np.sum(m) * Y.shape[-1])


def huber(Y, T, mask=None, delta=1.0):
    m = _mask(Y, mask)[..., None]
    e = np.abs(Y - T)
    per = np.where(e <= delta, 0.5 * e**2, delta * (e - 0.5 * delta))
    return np.sum(per * m) / (np.sum(m) * Y.shape[-1])


def half_mse_padded(Y, T, mask):
    """The classic regressionLayer loss over a padded mini-batch as matkeras computes it:
    half squared error summed over responses, divided by N * T_padded."""
    m = np.asarray(mask, dtype=np.float64)[..., None]
    return np.sum(0.5 * (Y - T) ** 2 * m) / np.prod(Y.shape[:-1])


def confusion(labels, predicted, classes):
    matrix = np.zeros((classes, classes))
    for t, p in zip(labels, predicted, strict=True):
        matrix[t, p] += 1
    return matrix


def precision_recall_f(matrix, average):
    """(precision, recall, F1) from a confusion matrix (rows: true, columns: predicted)."""
    hits = np.diag(matrix)
    predicted, actual = matrix.sum(0), matrix.sum(1)
    if average == "micro":
        p, r = hits.sum() / predicted.sum(), hits.sum() / actual.sum()
        return p, r, 2 * p * r / (p + r)
    p = np.where(predicted > 0, hits / np.maximum(predicted, 1), 0.0)
    r = np.where(actual > 0, hits / np.maximum(actual, 1), 0.0)
    f = np.where(p + r > 0, 2 * p * r / np.maximum(p + r, 1e-300), 0.0)
    return p.mean(), r.mean(), f.mean()
