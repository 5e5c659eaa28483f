"""Independent float64 numpy versions of MATLAB's attention layers (attentionLayer,
selfAttentionLayer) and the ``attention`` dlarray function they are built on.

Written from MathWorks' documentation of ``attention`` (single-head dot-product attention
``attention(Q, K, V) = dropout(softmax(mask(lambda * K' Q, M)), p) V``, weights of size
numKeys x numQueries x numHeads x numObservations) and of ``selfAttentionLayer`` (queries,
keys and values computed from the input, heads merged, then a linear output map), and from
MathWorks' TensorFlow exporter for ``selfAttentionLayer`` (head h owns the contiguous row block
h*perHead .. (h+1)*perHead - 1 of QueryWeights/KeyWeights/ValueWeights and the matching column
block of OutputWeights). Everything is in MATLAB's layout: data C x N x T, weights numOut x
numIn, one observation at a time, with plain loops over observations and heads.

Masks: an allowed-matrix ``M`` of size numKeys x numQueries (True where query q may attend to
key k) is the union (AND of allowed) of the padding mask (keys that are padding are excluded),
the causal mask (key k > query q excluded) and a custom mask. Excluded scores are -Inf before
the softmax over the keys. A query with no allowed key at all gets uniform weights over all
keys (a choice matkeras documents; MATLAB's formula would give NaN there).

Nothing here imports matkeras.
"""

import numpy as np


def softmax_over_keys(scores, allowed):
    """scores (Tk, Tq); allowed (Tk, Tq) bool -> weights (Tk, Tq), each column sums to 1."""
    tk, tq = scores.shape
    weights = np.empty_like(scores)
    for q in range(tq):
        keep = allowed[:, q]
        if not keep.any():
            weights[:, q] = 1.0 / tk
            continue
        column = np.where(keep, scores[:, q], -np.inf)
        column = np.exp(column - column[keep].max())
        weights[:, q] = column / column.sum()
    return weights


def allowed_matrix(tk, tq, attention_mask="none", key_padding=None, observation=0):
    """The numKeys x numQueries allowed-matrix of one observation.

    attention_mask: "none", "causal", or a MATLAB-layout array (Tk, Tq) or (Tk, Tq, N), nonzero
    where attention is allowed. key_padding: (N, Tk) array of 1 (data) / 0 (padding), or None.
    """
    allowed = np.ones((tk, tq), dtype=bool)
    if isinstance(attention_mask, str):
        if attention_mask == "causal":
            for k in range(tk):
                for q in range(tq):
                    allowed[k, q] = k <= q
    else:
        mask = np.asarray(attention_mask)
        mask = mask[:, :, observation] if mask.ndim == 3 else mask
        allowed &= mask != 0
    if key_padding is not None:
        allowed &= (np.asarray(key_padding)[observation] != 0)[:, None]
    return allowed


def attention(Q, K, V, num_heads, scale="auto", attention_mask="none", key_padding=None,
              dropout_masks=None, dropout_probability=0.0):
    """MATLAB's ``attention`` on MATLAB-layout data.

    Q (Dk, N, Tq), K (Dk, N, Tk), V (Dv, N, Tk). Head h uses rows h*Dk/H .. (h+1)*Dk/H - 1 of Q
    and K and the matching rows of V. scale "auto" = 1/sqrt(Dk/H).
    dropout_masks: optional (Tk, Tq, H, N) 0/1 arrays applied to the weights, kept weights
    scaled by 1/(1 - dropout_probability) (inverted dropout).

    Returns Y (Dv, N, Tq) and the weights (Tk, Tq, H, N) (before dropout).
    """
    dk, n, tq = Q.shape
    dv, tk = V.shape[0], K.shape[2]
    hk, hv = dk // num_heads, dv // num_heads
    lam = 1.0 / np.sqrt(hk) if isinstance(scale, str) else float(scale)
    Y = np.zeros((dv, n, tq))
    W = np.zeros((tk, tq, num_heads, n))
    for b in range(n):
        allowed = allowed_matrix(tk, tq, attention_mask, key_padding, b)
        for h in range(num_heads):
            q = Q[h * hk:(h + 1) * hk, b, :]
            k = K[h * hk:(h + 1) * hk, b, :]
            v = V[h * hv:(h + 1) * hv, b, :]
            weights = softmax_over_keys(lam * (k.T @ q), allowed)
            W[:, :, h, b] = weights
            if dropout_masks is not None:
                weights = weights * dropout_masks[:, :, h, b] / (1.0 - dropout_probability)
            Y[h * hv:(h + 1) * hv, b, :] = v @ weights
    return Y, W


def self_attention(X, weights, num_heads, attention_mask="none", key_padding=None):
    """MATLAB's ``selfAttentionLayer`` forward pass.

    X (C, N, T); weights: dict of MATLAB properties QueryWeights (Dk, C), QueryBias (Dk,),
    KeyWeights (Dk, C), KeyBias, ValueWeights (Dv, C), ValueBias, OutputWeights (O, Dv),
    OutputBias (O,). Returns Y (O, N, T) and the attention weights (T, T, H, N).
    """
    def project(W, b, data):
        return np.einsum("oc,cnt->ont", W, data) + np.reshape(b, (-1, 1, 1))

    Q = project(weights["QueryWeights"], weights["QueryBias"], X)
    K = project(weights["KeyWeights"], weights["KeyBias"], X)
    V = project(weights["ValueWeights"], weights["ValueBias"], X)
    A, W = attention(Q, K, V, num_heads, "auto", attention_mask, key_padding)
    return project(weights["OutputWeights"], weights["OutputBias"], A), W
