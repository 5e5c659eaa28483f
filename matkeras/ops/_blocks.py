"""The layout of the recurrent matrix product: one ``(rows, gates*H)`` product or one per gate.

Both layouts compute the same numbers; only speed differs, and which one runs is the fixed rule's
choice (``matkeras.ops._speed``). Both are checked against the oracle, but they need not agree bit
for bit (the products sum in another order).
"""

from keras import ops

from matkeras.ops.precision import matmul


def split_kernel(kernel, gates, layout):
    """``(kernel,)`` for `layout` ``"whole"``, or the kernel cut into `gates` column blocks for
    ``"gates"``."""
    if gates > 1 and layout == "gates":
        return tuple(ops.split(kernel, gates, axis=-1))
    return (kernel,)


def products(inputs, kernels, gates, biases=None):
    """``split(inputs @ concat(kernels) [+ concat(biases)], gates)`` in the layout `kernels` has
    (`biases`, when given, is laid out like `kernels`)."""
    out = [matmul(inputs, k) for k in kernels]
    if biases is not None:
        out = [p + b for p, b in zip(out, biases, strict=True)]
    return ops.split(out[0], gates, axis=-1) if len(kernels) == 1 else out
