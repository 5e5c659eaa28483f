"""MATLAB's L2 regularization (trainingOptions ``L2Regularization`` x a parameter's ``L2Factor``).

MATLAB adds ``lambda * L2Factor * w`` to the gradient of each learnable, i.e. the objective is
``loss + lambda/2 * L2Factor * sum(w.^2)``. A per-gate factor (1x4 for an LSTM) scales each gate
block. Keras's ``L2(l)`` penalty is ``l * sum(w**2)``, so this is ``L2(lambda * L2Factor / 2)`` when
the factor is a scalar.

The global lambda is MATLAB's ``trainingOptions`` property: each matkeras layer takes it as
``l2_regularization`` (default 1e-4, MATLAB's default); :func:`set_l2_regularization` changes it on
every matkeras layer of a model (call it before ``model.compile``).
"""

import keras
import numpy as np
from keras import ops

#: MATLAB's trainingOptions default L2Regularization.
DEFAULT_L2_REGULARIZATION = 1e-4


@keras.saving.register_keras_serializable(package="matkeras")
class MatlabL2(keras.regularizers.Regularizer):
    """Penalty ``l2_regularization/2 * sum_g factor_g * sum(w_g**2)`` over gate blocks g.

    Args:
        l2_regularization: MATLAB's global ``L2Regularization`` (lambda).
        factor: MATLAB's ``L2Factor``: a scalar, or one value per gate block.
        axis: the axis along which gate blocks are stacked in the Keras-layout variable.
    """

    def __init__(self, l2_regularization=DEFAULT_L2_REGULARIZATION, factor=1.0, axis=-1):
        self.l2_regularization = float(l2_regularization)
        self.factor = factor
        self.axis = int(axis)

    def __call__(self, x):
        factors = np.atleast_1d(np.asarray(self.factor, dtype="float64"))
        square = ops.square(x)
        if factors.size == 1:
            total = float(factors[0]) * ops.sum(square)
        else:
            blocks = ops.split(square, factors.size, axis=self.axis)
            total = sum(float(f) * ops.sum(b) for f, b in zip(factors, blocks, strict=True))
        return 0.5 * self.l2_regularization * total

    def get_config(self):
        return {"l2_regularization": self.l2_regularization, "factor": self.factor,
                "axis": self.axis}


def make(l2_regularization, factor, axis=-1):
    """A MatlabL2 regularizer, or None when the penalty is identically zero."""
    if l2_regularization == 0 or np.all(np.asarray(factor) == 0):
        return None
    return MatlabL2(l2_regularization, factor, axis)


def check_l2_regularization(value, where="L2Regularization"):
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if not np.isfinite(number) or number < 0:
        raise ValueError(
            f"{where}: l2_regularization (MATLAB trainingOptions 'L2Regularization') must be a "
            f"finite non-negative number; received {value!r}."
        )
    return number


class MatlabL2Mixin:
    """For layers with L2 factors: attaches MatlabL2 regularizers to their variables.

    A layer using it defines ``_l2_targets()`` yielding ``(variable, factor, axis)`` and stores
    lambda in ``self._l2_regularization``.
    """

    @property
    def l2_regularization(self):
        """MATLAB's global ``L2Regularization`` (lambda) this layer's penalties use."""
        return self._l2_regularization

    @l2_regularization.setter
    def l2_regularization(self, value):
        self._l2_regularization = check_l2_regularization(value)
        if self.built:
            self._attach_l2()

    def _attach_l2(self):
        for variable, factor, axis in self._l2_targets():
            variable.regularizer = make(self._l2_regularization, factor, axis)


def _walk(layer):
    for child in getattr(layer, "layers", []):
        yield child
        yield from _walk(child)


def set_l2_regularization(model, l2_regularization):
    """Sets MATLAB's global ``L2Regularization`` (lambda) on every matkeras layer of `model`.

    Equivalent to ``trainingOptions(..., "L2Regularization", l2_regularization)``. Call it before
    ``model.compile``/``model.fit``: a traced training step keeps the value it was traced with.

    Example:
        >>> set_l2_regularization(model, 1e-3)  # doctest: +SKIP
    """
    value = check_l2_regularization(l2_regularization)
    for layer in _walk(model):
        if isinstance(layer, MatlabL2Mixin):
            layer.l2_regularization = value
