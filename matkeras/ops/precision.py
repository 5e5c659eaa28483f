"""Operations that keep float64 operands in float64 on every backend.

Keras's type promotion maps float64 results to float32 on the backends other than TensorFlow
(``keras.backend.result_type("float64", "float64")`` is ``"float32"`` on PyTorch and JAX, to
match JAX without x64), so ``keras.ops.matmul``, ``keras.ops.maximum`` and ``keras.ops.tanh``
of float64 tensors return float32 there (measured: tanh 8e-8 off on JAX 0.10 with x64);
elementwise arithmetic, ``einsum``, ``conv``, sigmoid and softsign keep float64. matkeras's
float64 runs (the oracle checks, MATLAB's double-precision networks) need them in float64:
these functions are the ``keras.ops`` ones except on PyTorch and JAX with float64 operands,
where they call the backend's own function (the same result, in the operands' precision). On
JAX, float64 needs ``JAX_ENABLE_X64=1`` in any case.
"""

import keras
from keras import ops


def matmul(a, b):
    """``a @ b`` as ``keras.ops.matmul`` computes it, in float64 when both operands are."""
    native = _native(a, b)
    if native is None:
        return ops.matmul(a, b)
    return native.matmul(ops.convert_to_tensor(a), ops.convert_to_tensor(b))


def maximum(a, floor):
    """``keras.ops.maximum(a, floor)`` in `a`'s float64 when `a` is float64 and `floor` a
    Python number or a float64 tensor."""
    if isinstance(floor, (int, float)) and _is_float64(a):
        floor = ops.convert_to_tensor(floor, dtype="float64")
    native = _native(a, floor)
    if native is None:
        return ops.maximum(a, floor)
    return native.maximum(ops.convert_to_tensor(a), ops.convert_to_tensor(floor))


def tanh(x):
    """``keras.ops.tanh(x)``, in float64 when `x` is."""
    native = _native(x)
    if native is None:
        return ops.tanh(x)
    return native.tanh(ops.convert_to_tensor(x))


def _is_float64(x):
    return keras.backend.standardize_dtype(getattr(x, "dtype", None) or "float32") == "float64"


def _native(*operands):
    """The backend's array module where Keras would demote these float64 operands."""
    backend = keras.backend.backend()
    if backend == "tensorflow" or not all(_is_float64(x) for x in operands):
        return None
    if backend == "torch":
        import torch

        return torch
    if backend == "jax":
        import jax.numpy

        return jax.numpy
    return None
