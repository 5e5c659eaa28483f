"""Random MATLAB-layout LSTM parameters and data for the LSTM tests."""

import numpy as np


def random_lstm_params(rng, input_size, units, scale=None, state_activation="tanh"):
    """Non-symmetric random weights (every gate block different), MATLAB layout.

    The scale keeps 2000-step runs bounded for every state activation (relu's cell state grows
    without bound when the recurrence gain exceeds 1, so it gets smaller weights).
    """
    if scale is None:
        scale = 0.2 if state_activation == "relu" else 0.4
    return {
        "input_weights": rng.normal(0.0, scale, (4 * units, input_size)),
        "recurrent_weights": rng.normal(0.0, scale, (4 * units, units)),
        "bias": rng.normal(0.0, scale, 4 * units),
    }


def random_sequences(rng, batch, time, features):
    return rng.normal(0.0, 1.0, (batch, time, features))


def to_cbt(x):
    """Keras (N, T, C) batch to MATLAB's C x N x T."""
    return np.transpose(x, (2, 0, 1))


def from_hnt(y):
    """MATLAB H x N x T output to Keras (N, T, H)."""
    return np.transpose(y, (1, 2, 0))


def wrb(params):
    """The oracle's argument names (MATLAB's W, R, b) for a params dict."""
    return {"W": params["input_weights"], "R": params["recurrent_weights"], "b": params["bias"]}
