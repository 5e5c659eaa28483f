"""Random MATLAB-layout self-attention weights and layout helpers for the transformer tests."""

import numpy as np

from matkeras import layers as L

PROPERTIES = ("QueryWeights", "KeyWeights", "ValueWeights", "OutputWeights", "QueryBias",
              "KeyBias", "ValueBias", "OutputBias")


def snake(prop):
    """``QueryWeights`` -> ``query_weights``."""
    for kind in ("Weights", "Bias"):
        if prop.endswith(kind):
            return f"{prop[:-len(kind)].lower()}_{kind.lower()}"
    raise ValueError(prop)


def random_attention_weights(rng, channels, key_channels, value_channels, output_size):
    """Non-symmetric random MATLAB properties (every row different), scaled so the softmax is
    neither flat nor one-hot."""
    shapes = {"QueryWeights": (key_channels, channels), "KeyWeights": (key_channels, channels),
              "ValueWeights": (value_channels, channels),
              "OutputWeights": (output_size, value_channels), "QueryBias": (key_channels,),
              "KeyBias": (key_channels,), "ValueBias": (value_channels,),
              "OutputBias": (output_size,)}
    return {prop: rng.normal(0.0, 0.6, shapes[prop]) for prop in PROPERTIES}


def self_attention_layer(weights, num_heads, dtype="float64", **options):
    """A SelfAttention layer holding `weights` (MATLAB properties)."""
    key_channels, channels = weights["QueryWeights"].shape
    layer = L.SelfAttention(num_heads, key_channels,
                            num_value_channels=weights["ValueWeights"].shape[0],
                            output_size=weights["OutputWeights"].shape[0], dtype=dtype,
                            **options)
    layer.set_matlab_weights(**{snake(p): v for p, v in weights.items()})
    return layer


def to_cbt(x):
    """Keras (N, T, C) to MATLAB C x N x T."""
    return np.transpose(x, (2, 0, 1))


def from_cbt(y):
    """MATLAB C x N x T to Keras (N, T, C)."""
    return np.transpose(y, (1, 2, 0))


def scores_to_keras(weights):
    """MATLAB's numKeys x numQueries x numHeads x N attention weights to Keras's
    (N, numHeads, numQueries, numKeys)."""
    return np.transpose(weights, (3, 2, 1, 0))


def right_padded(rng, lengths, channels, total=None):
    """Random sequences of `lengths`, right-padded with zeros; returns (x, mask (N, T))."""
    total = total or max(lengths)
    x = np.zeros((len(lengths), total, channels))
    mask = np.zeros((len(lengths), total))
    for n, length in enumerate(lengths):
        x[n, :length] = rng.normal(size=(length, channels))
        mask[n, :length] = 1
    return x, mask
