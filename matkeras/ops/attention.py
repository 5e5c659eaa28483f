"""MATLAB's dot-product attention (the ``attention`` dlarray function), batch-major.

MATLAB documents single-head attention as ``dropout(softmax(mask(lambda * K' Q, M)), p) V`` with
the softmax over the keys, and multihead attention as the same on ``numHeads`` channel slices of
the queries, keys and values, concatenated. Head h owns the contiguous channel block
``h*perHead .. (h+1)*perHead - 1`` (MathWorks' TensorFlow exporter splits the weights that way).

Masked scores are replaced (not offset) by the most negative finite value of the compute dtype,
so a query with at least one allowed key gets exactly zero weight on the others, and a query with
none gets uniform weights over all keys (a documented matkeras choice: MATLAB's ``-Inf`` formula
would give NaN there, which then spreads through the next layers).
"""

import keras
import numpy as np
from keras import ops


def _heads(x, num_heads):
    """(B, T, D) -> (B, T, H, D/H): head h is channels h*D/H .. (h+1)*D/H - 1."""
    width = int(x.shape[-1])
    return ops.reshape(x, (ops.shape(x)[0], -1, num_heads, width // num_heads))


def _lowest(dtype):
    """The most negative finite value of a float dtype."""
    name = keras.backend.standardize_dtype(dtype)
    if name == "bfloat16":  # numpy has no bfloat16: float32's exponent range, 8-bit significand
        return -(2.0 - 2.0**-7) * 2.0**127
    return float(np.finfo(name).min)


def causal_allowed(query_steps, key_steps):
    """(Tq, Tk) bool: query q may attend to key k when k <= q (MATLAB's ``"causal"``)."""
    return ops.expand_dims(ops.arange(query_steps), 1) >= ops.expand_dims(
        ops.arange(key_steps), 0)


def dot_product_attention(query, key, value, num_heads, scale=None, allowed=None,
                          dropout=0.0, training=False, seed=None, return_weights=False):
    """Multihead dot-product attention on already projected queries, keys and values.

    Args:
        query: (B, Tq, Dk). key: (B, Tk, Dk). value: (B, Tk, Dv). Dk and Dv divisible by
            `num_heads`.
        num_heads: MATLAB's ``numHeads``.
        scale: the factor on ``K' Q`` (None: MATLAB's ``"auto"``, ``1/sqrt(Dk/numHeads)``).
        allowed: None or a bool tensor broadcastable to (B, H, Tq, Tk), True where a query may
            attend to a key (the union of MATLAB's padding and attention masks).
        dropout: MATLAB's ``DropoutProbability`` on the attention weights (training only,
            kept weights scaled by ``1/(1 - p)``).
        training: whether dropout is active.
        seed: a ``keras.random.SeedGenerator`` (or int) for the dropout.
        return_weights: also return the attention weights (B, H, Tq, Tk), before dropout.

    Returns:
        (B, Tq, Dv), and the weights when `return_weights`.
    """
    dtype = query.dtype
    width = int(query.shape[-1])
    if scale is None:
        scale = 1.0 / np.sqrt(width // num_heads)
    q, k, v = (_heads(t, num_heads) for t in (query, key, value))
    scores = ops.einsum("bqhd,bkhd->bhqk", q, k) * ops.convert_to_tensor(
        float(scale), dtype=dtype)
    if allowed is not None:
        scores = ops.where(allowed, scores, ops.convert_to_tensor(_lowest(dtype), dtype=dtype))
    weights = ops.softmax(scores, axis=-1)
    used = weights
    if training and dropout > 0:
        used = keras.random.dropout(weights, dropout, seed=seed)
    out = ops.einsum("bhqk,bkhd->bqhd", used, v)
    out = ops.reshape(out, (ops.shape(out)[0], -1, int(value.shape[-1])))
    return (out, weights) if return_weights else out
