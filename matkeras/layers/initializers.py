"""MATLAB's weight initializers, by their MATLAB names, as Keras initializers.

All shapes that Keras passes here are Keras layouts (``(C, gates*H)`` for an input kernel), which
are MATLAB's ``(gates*H, C)`` transposed. The definitions (MATLAB documentation, "Initialize
Learnable Parameters"):

==================  ================================================================================
``glorot``          U(-a, a), a = sqrt(6 / (numIn + numOut)); recurrent layers use the *stacked* row
                    count gates*H as numOut. Keras's ``GlorotUniform`` on the Keras layout computes
                    exactly these fans, so it is used as is.
``he``              N(0, 2 / numIn), a plain (not truncated) normal. Keras's ``HeNormal`` is
                    truncated, so ``VarianceScaling(2, "fan_in", "untruncated_normal")`` is used.
``orthogonal``      Q of the economy QR of a standard normal ``(gates*H, n)`` matrix, signs fixed by
                    diag(R). Keras's ``Orthogonal`` on the transposed shape draws the same
                    distribution.
``narrow-normal``   N(0, 0.01^2).
``zeros``/``ones``  constants.
``unit-forget-gate``  bias zeros except the forget-gate block (LSTM rows H+1:2H), which is ones.
function handle     a Python callable ``f(sz)`` taking MATLAB's size tuple and returning a
                    MATLAB-layout array, as MATLAB calls ``W = f(sz)``; a Keras ``Initializer``
                    instance is used as it is, on the Keras layout.
==================  ================================================================================
"""

import keras
import numpy as np
from keras import ops

WEIGHT_INITIALIZERS = ("glorot", "he", "orthogonal", "narrow-normal", "zeros", "ones")
BIAS_INITIALIZERS = ("unit-forget-gate", "narrow-normal", "ones", "zeros")
#: gruLayer has no forget gate.
GRU_BIAS_INITIALIZERS = ("zeros", "narrow-normal", "ones")


@keras.saving.register_keras_serializable(package="matkeras")
class UnitForgetGate(keras.initializers.Initializer):
    """MATLAB's ``"unit-forget-gate"`` bias: zeros, except ones on the forget-gate blocks.

    Args:
        num_gates: number of stacked gate blocks in the bias (4 for an LSTM, 8 for a BiLSTM).
        forget_gate_index: 0-based index (or indices) of the forget-gate blocks: 1 in MATLAB's
            i, f, g, o; (1, 5) for a BiLSTM's two directions.
    """

    def __init__(self, num_gates=4, forget_gate_index=1):
        self.num_gates = int(num_gates)
        indices = np.atleast_1d(forget_gate_index)
        self.forget_gate_index = int(indices[0]) if indices.size == 1 else [int(i) for i in indices]

    def __call__(self, shape, dtype=None):
        size = int(shape[-1])
        if size % self.num_gates:
            raise ValueError(
                f"UnitForgetGate: bias length {size} is not a multiple of {self.num_gates} gates."
            )
        units = size // self.num_gates
        forget = set(np.atleast_1d(self.forget_gate_index).tolist())
        blocks = [
            ops.ones((units,), dtype) if g in forget else ops.zeros((units,), dtype)
            for g in range(self.num_gates)
        ]
        return ops.concatenate(blocks, axis=0)

    def get_config(self):
        return {"num_gates": self.num_gates, "forget_gate_index": self.forget_gate_index}


class MatlabFunction(keras.initializers.Initializer):
    """Wraps a MATLAB-style function-handle initializer ``W = f(sz)``.

    `f` receives MATLAB's size tuple (the Keras shape reversed, e.g. ``(4*H, C)``) and returns an
    array of that shape in MATLAB layout; it is transposed into the Keras layout. With
    ``transpose=False`` (projector matrices, whose Keras layout is MATLAB's) nothing is reversed.
    Serializable only when `f` is registered with ``keras.saving.register_keras_serializable``.
    """

    def __init__(self, function, transpose=True):
        self.function = function
        self.transpose = bool(transpose)

    def __call__(self, shape, dtype=None):
        shape = tuple(int(s) for s in shape)
        matlab_shape = tuple(reversed(shape)) if self.transpose else shape
        value = np.asarray(self.function(matlab_shape))
        if value.shape != matlab_shape:
            raise ValueError(
                f"Initializer function {getattr(self.function, '__name__', self.function)!r} "
                f"returned shape {value.shape}; expected the MATLAB size {matlab_shape} it was "
                "called with."
            )
        return ops.convert_to_tensor(value.T if self.transpose else value, dtype=dtype)

    def get_config(self):
        return {"function": keras.saving.serialize_keras_object(self.function),
                "transpose": self.transpose}

    @classmethod
    def from_config(cls, config):
        return cls(keras.saving.deserialize_keras_object(config["function"]),
                   config.get("transpose", True))


def get(identifier, *, allowed, argument, matlab_property, where, num_gates=4,
        forget_gate_index=1, transpose=True):
    """The Keras initializer for a MATLAB initializer name, a callable or a Keras initializer."""
    if isinstance(identifier, keras.initializers.Initializer):
        return identifier
    if isinstance(identifier, dict):
        return keras.initializers.deserialize(identifier)
    if callable(identifier):
        return MatlabFunction(identifier, transpose=transpose)
    name = identifier.lower() if isinstance(identifier, str) else identifier
    if name not in allowed:
        options = ", ".join(f'"{a}"' for a in allowed)
        raise ValueError(
            f"{where}: {argument} (MATLAB '{matlab_property}') must be one of {options}, a "
            f"function handle (callable) or a keras.initializers.Initializer; received "
            f"{identifier!r}."
        )
    if name == "glorot":
        return keras.initializers.GlorotUniform()
    if name == "he":
        return keras.initializers.VarianceScaling(2.0, "fan_in", "untruncated_normal")
    if name == "orthogonal":
        return keras.initializers.Orthogonal()
    if name == "narrow-normal":
        return keras.initializers.RandomNormal(mean=0.0, stddev=0.01)
    if name == "zeros":
        return keras.initializers.Zeros()
    if name == "ones":
        return keras.initializers.Ones()
    return UnitForgetGate(num_gates=num_gates, forget_gate_index=forget_gate_index)


def serialize(identifier):
    """The config form of an initializer argument: MATLAB names stay strings."""
    if isinstance(identifier, str):
        return identifier.lower()
    return keras.saving.serialize_keras_object(identifier)
