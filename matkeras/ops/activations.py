"""MATLAB's recurrent-layer activation functions, by their MATLAB names (the ops' tables; the
layers read them through :mod:`matkeras.layers.activations`).

MATLAB's ``"hard-sigmoid"`` is ``max(0, min(1, 0.2*x + 0.5))``. Keras 3's own
``keras.activations.hard_sigmoid`` is a different function (``relu6(x + 3) / 6``, slope 1/6), so it
is never used here.
"""

from keras import ops

from matkeras.ops.precision import tanh


def hard_sigmoid(x):
    """MATLAB's hard sigmoid ``clip(0.2*x + 0.5, 0, 1)`` (derivative 0.2 on [-2.5, 2.5], else 0)."""
    return ops.clip(0.2 * x + 0.5, 0.0, 1.0)


#: StateActivationFunction values and the functions they name.
STATE_ACTIVATIONS = {"tanh": tanh, "softsign": ops.softsign, "relu": ops.relu}
#: GateActivationFunction values and the functions they name.
GATE_ACTIVATIONS = {"sigmoid": ops.sigmoid, "hard-sigmoid": hard_sigmoid}
