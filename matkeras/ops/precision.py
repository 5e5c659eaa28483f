"""Operations that keep float64 operands in float64 on every backend.

Keras's type promotion maps float64 results to float32 on the backends other than TensorFlow
(``keras.backend.result_type("float64", "float64")`` is ``"float32"`` on PyTorch and JAX, to
match JAX without x64), so ``keras.ops.matmul``, ``keras.ops.maximum``/``minimum``,
``keras.ops.mean`` and ``divide_no_nan`` of float64 tensors (and ``tanh``, ``sin`` and ``cos`` on
JAX) compute or return float32 there (measured on PyTorch 2.13 / JAX 0.10 with x64: mean 3e-8,
minimum 1.2e-7, tanh 8e-8, sin 1.2e-7 off); elementwise arithmetic, ``einsum``, ``conv``,
``moments``, ``batch_normalization``, sigmoid and softsign keep float64. Keras's own
BatchNormalization and LayerNormalization layers compute in ``result_type(dtype, "float32")``,
float32 there (matkeras's normalization layers use :func:`demoted` to take their own float64
path). matkeras's float64 runs (the oracle checks, MATLAB's double-precision networks) need
float64: these functions are the ``keras.ops`` ones except on PyTorch and JAX with float64
operands, where they call the backend's own function (the same result, in the operands'
precision). On JAX, float64 needs ``JAX_ENABLE_X64=1`` in any case.
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
    return _binary("maximum", a, floor)


def minimum(a, ceiling):
    """``keras.ops.minimum(a, ceiling)``, in float64 as :func:`maximum`."""
    return _binary("minimum", a, ceiling)


def tanh(x):
    """``keras.ops.tanh(x)``, in float64 when `x` is."""
    return _unary("tanh", x)


def sin(x):
    """``keras.ops.sin(x)``, in float64 when `x` is."""
    return _unary("sin", x)


def cos(x):
    """``keras.ops.cos(x)``, in float64 when `x` is."""
    return _unary("cos", x)


def mean(x, axis=None, keepdims=False):
    """``keras.ops.mean(x, axis, keepdims)``, in float64 when `x` is."""
    native = _native(x)
    if native is None:
        return ops.mean(x, axis=axis, keepdims=keepdims)
    x = ops.convert_to_tensor(x)
    if native.__name__ == "torch":
        return native.mean(x, dim=axis, keepdim=keepdims)
    return native.mean(x, axis=axis, keepdims=keepdims)


def divide_no_nan(a, b):
    """``keras.ops.divide_no_nan(a, b)`` (0 where `b` is 0), in float64 when both are."""
    if _native(a, b) is None:
        return ops.divide_no_nan(a, b)
    zero = b == 0
    return ops.where(zero, ops.zeros_like(a), a / ops.where(zero, ops.ones_like(b), b))


def constants(dtype, *values):
    """Python numbers as tensors of `dtype`, for arithmetic with variables: on PyTorch, Keras
    turns a Python number in arithmetic with a variable into a float32 tensor, so a float64
    variable would be updated with float32-rounded factors (the solvers: 8e-9 off after 6
    steps; batch normalization's decay: 2e-8)."""
    return [ops.convert_to_tensor(value, dtype=dtype) for value in values]


def demoted(x):
    """Whether Keras would compute in float32 what `x`, a float64 tensor, asks of it (PyTorch
    and JAX backends)."""
    return _native(x) is not None


def _unary(name, x):
    native = _native(x)
    if native is None:
        return getattr(ops, name)(x)
    return getattr(native, name)(ops.convert_to_tensor(x))


def _binary(name, a, b):
    if isinstance(b, (int, float)) and _is_float64(a):
        b = ops.convert_to_tensor(b, dtype="float64")
    native = _native(a, b)
    if native is None:
        return getattr(ops, name)(a, b)
    return getattr(native, name)(ops.convert_to_tensor(a), ops.convert_to_tensor(b))


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
