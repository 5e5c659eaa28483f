"""Gate orders and transposes between MATLAB layouts and Keras layouts: the one table.

MATLAB stacks the gate blocks of a recurrent layer vertically (rows) and multiplies column vectors:
``InputWeights`` is ``(gates*H, C)``. Keras multiplies row vectors: ``kernel`` is ``(C, gates*H)``.
Every other module converts through the functions here, so a gate-order bug can only live here.

=========  ==========================  ==========================  =====================
kind       MATLAB rows                 matkeras (Keras) columns    ONNX rows
=========  ==========================  ==========================  =====================
lstm       i, f, g, o                  i, f, c, o (same)           i, o, f, c
bilstm     forward i,f,g,o; backward   the same, forward first     (per direction, lstm)
gru        r, z, h                     z, r, h (stock Keras GRU)   z, r, h
=========  ==========================  ==========================  =====================

A GRU with ``ResetGateMode="recurrent-bias-after-multiplication"`` has a 6H bias: two stacked
3H vectors (input bias, recurrent bias), each reordered on its own (``chunks=2``). Factor vectors
(one L2 or learn-rate factor per gate block) follow the same orders.
"""

import numpy as np

#: Gate block order of each layer kind, as MATLAB stacks them.
MATLAB_GATES = {
    "lstm": ("i", "f", "g", "o"),
    "bilstm": ("fi", "ff", "fg", "fo", "bi", "bf", "bg", "bo"),
    "gru": ("r", "z", "h"),
}
#: Gate block order of the Keras-layout variables matkeras keeps (the blocks of Keras's own
#: layers, so weights move to and from stock ``keras.layers.LSTM``/``GRU`` as they are).
KERAS_GATES = {
    "lstm": ("i", "f", "g", "o"),
    "bilstm": ("fi", "ff", "fg", "fo", "bi", "bf", "bg", "bo"),
    "gru": ("z", "r", "h"),
}
#: Gate block order of the ONNX operator of each kind (ONNX names the LSTM candidate "c").
ONNX_GATES = {"lstm": ("i", "o", "f", "g"), "gru": ("z", "r", "h")}


def _reorder_blocks(array, source, target, axis, chunks=1):
    """Reorders the equal gate blocks of `array` along `axis` from `source` to `target` order,
    within each of `chunks` equal stacked parts."""
    array = np.asarray(array)
    parts = np.split(array, chunks, axis=axis)
    reordered = []
    for part in parts:
        by_name = dict(zip(source, np.split(part, len(source), axis=axis), strict=True))
        reordered.extend(by_name[g] for g in target)
    return np.concatenate(reordered, axis=axis)


def weights_to_keras(kind, matrix):
    """MATLAB-layout stacked weights ``(gates*H, n)`` to a Keras kernel ``(n, gates*H)``."""
    reordered = _reorder_blocks(matrix, MATLAB_GATES[kind], KERAS_GATES[kind], axis=0)
    return np.ascontiguousarray(reordered.T)


def weights_to_matlab(kind, kernel):
    """Keras kernel ``(n, gates*H)`` to MATLAB-layout stacked weights ``(gates*H, n)``."""
    reordered = _reorder_blocks(kernel, KERAS_GATES[kind], MATLAB_GATES[kind], axis=1)
    return np.ascontiguousarray(reordered.T)


def bias_to_keras(kind, bias, chunks=1):
    """MATLAB bias ``(chunks*gates*H,)`` or ``(..., 1)`` to the Keras bias, same length."""
    return _reorder_blocks(np.ravel(bias), MATLAB_GATES[kind], KERAS_GATES[kind], 0, chunks)


def bias_to_matlab(kind, bias, chunks=1):
    """Keras bias to MATLAB's bias, returned as a flat vector."""
    return _reorder_blocks(np.ravel(bias), KERAS_GATES[kind], MATLAB_GATES[kind], 0, chunks)


def factors_to_keras(kind, factors, chunks=1):
    """A MATLAB per-gate factor vector (one value per gate block) in Keras block order,
    repeated for each of `chunks` stacked parts; a scalar stays a scalar."""
    values = np.atleast_1d(np.asarray(factors, dtype="float64"))
    if values.size == 1:
        return float(values[0])
    reordered = _reorder_blocks(values, MATLAB_GATES[kind], KERAS_GATES[kind], 0)
    return [float(v) for v in np.tile(reordered, chunks)]


def onnx_to_matlab(kind, array, axis=0, chunks=1):
    """Reorders ONNX gate blocks (e.g. LSTM ``i,o,f,c``) into MATLAB's order along `axis`."""
    return _reorder_blocks(array, ONNX_GATES[kind], MATLAB_GATES[kind], axis, chunks)


def matlab_to_onnx(kind, array, axis=0, chunks=1):
    """Reorders MATLAB gate blocks into the ONNX operator's order along `axis`."""
    return _reorder_blocks(array, MATLAB_GATES[kind], ONNX_GATES[kind], axis, chunks)
