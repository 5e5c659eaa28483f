"""Gate orders and transposes between MATLAB layouts and Keras layouts: the one table.

MATLAB stacks the gate blocks of a recurrent layer vertically (rows) and multiplies column vectors:
``InputWeights`` is ``(gates*H, C)``. Keras multiplies row vectors: ``kernel`` is ``(C, gates*H)``.
Every other module converts through the functions here, so a gate-order bug can only live here.

========  ==============  ====================  =====================
layer     MATLAB rows     Keras columns         ONNX rows
========  ==============  ====================  =====================
lstm      i, f, g, o      i, f, c, o (same)     i, o, f, c
========  ==============  ====================  =====================
"""

import numpy as np

#: Gate block order of each layer kind, as MATLAB stacks them.
MATLAB_GATES = {"lstm": ("i", "f", "g", "o")}
#: Gate block order of the Keras-layout variables matkeras keeps (the same blocks as Keras's own
#: layers, so weights move to and from stock ``keras.layers.LSTM`` with a transpose only).
KERAS_GATES = {"lstm": ("i", "f", "g", "o")}
#: Gate block order of the ONNX operator of each kind (ONNX names the candidate "c").
ONNX_GATES = {"lstm": ("i", "o", "f", "g")}


def _reorder_blocks(array, source, target, axis):
    """Reorders the equal gate blocks of `array` along `axis` from order `source` to `target`."""
    array = np.asarray(array)
    blocks = np.split(array, len(source), axis=axis)
    by_name = dict(zip(source, blocks, strict=True))
    return np.concatenate([by_name[g] for g in target], axis=axis)


def weights_to_keras(kind, matrix):
    """MATLAB-layout stacked weights ``(gates*H, n)`` to a Keras kernel ``(n, gates*H)``."""
    reordered = _reorder_blocks(matrix, MATLAB_GATES[kind], KERAS_GATES[kind], axis=0)
    return np.ascontiguousarray(reordered.T)


def weights_to_matlab(kind, kernel):
    """Keras kernel ``(n, gates*H)`` to MATLAB-layout stacked weights ``(gates*H, n)``."""
    reordered = _reorder_blocks(kernel, KERAS_GATES[kind], MATLAB_GATES[kind], axis=1)
    return np.ascontiguousarray(reordered.T)


def bias_to_keras(kind, bias):
    """MATLAB bias ``(gates*H,)`` or ``(gates*H, 1)`` to the Keras bias ``(gates*H,)``."""
    return _reorder_blocks(np.ravel(bias), MATLAB_GATES[kind], KERAS_GATES[kind], axis=0)


def bias_to_matlab(kind, bias):
    """Keras bias ``(gates*H,)`` to MATLAB's bias, returned as a flat ``(gates*H,)`` vector."""
    return _reorder_blocks(np.ravel(bias), KERAS_GATES[kind], MATLAB_GATES[kind], axis=0)


def onnx_to_matlab(kind, array, axis=0):
    """Reorders ONNX gate blocks (e.g. LSTM ``i,o,f,c``) into MATLAB's order along `axis`."""
    return _reorder_blocks(array, ONNX_GATES[kind], MATLAB_GATES[kind], axis=axis)


def matlab_to_onnx(kind, array, axis=0):
    """Reorders MATLAB gate blocks into the ONNX operator's order along `axis`."""
    return _reorder_blocks(array, MATLAB_GATES[kind], ONNX_GATES[kind], axis=axis)
