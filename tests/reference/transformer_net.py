"""An independent float64 numpy forward pass of a saved MATLAB DAG network built from the
transformer layers, from its layers' saved properties and its connection table (plain arrays;
reading the file is the test helpers' job). MATLAB layout throughout: data C x N x T.

Also MathWorks' example's data preparation ("transformer networks for time series prediction":
train/test split at the start of 2021, z-score with the training statistics, 30-day windows
predicting the next day), for the one-step-ahead figures.

Nothing here imports matkeras.
"""

import numpy as np

from tests.reference import attention, layers, position


def _apply(kind, props, inputs):
    if kind == "sequenceInput":
        return inputs["in"]
    if kind == "positionEmbedding":
        return position.position_embedding(inputs["in"], props["Weights"])
    if kind == "addition":
        return sum(inputs[f"in{k}"] for k in range(1, int(props["NumInputs"]) + 1))
    if kind == "selfAttention":
        return attention.self_attention(inputs["in"], props, int(props["NumHeads"]),
                                        props["AttentionMask"])[0]
    if kind == "indexing1d":
        return position.indexing_1d(inputs["in"], props["Index"])
    if kind == "fullyConnected":
        x = inputs["in"]
        if x.ndim == 2:  # C x N
            return props["Weights"] @ x + np.reshape(props["Bias"], (-1, 1))
        return layers.fully_connected(x, props["Weights"], props["Bias"])
    if kind == "regression":
        return inputs["in"]
    raise ValueError(f"no reference for layer kind {kind!r}")


def forward(network_layers, connections, X):
    """network_layers: ``{name: (kind, props)}`` (saved order, the input layer first);
    connections: ``[(source, destination)]`` with ``name/port`` destinations for multi-input
    layers; X (C, N, T). Returns the last layer's output."""
    sources = {}
    for source, destination in connections:
        name, _, port = destination.partition("/")
        sources.setdefault(name, {})[port or "in"] = source.split("/")[0]
    outputs, pending = {}, list(network_layers)
    first = pending[0]
    outputs[first] = _apply(network_layers[first][0], network_layers[first][1], {"in": X})
    pending.remove(first)
    while pending:
        for name in list(pending):
            needed = sources.get(name, {})
            if all(src in outputs for src in needed.values()):
                kind, props = network_layers[name]
                outputs[name] = _apply(kind, props, {p: outputs[s] for p, s in needed.items()})
                pending.remove(name)
    return outputs[list(network_layers)[-1]]


def example_windows(data, dates, window=30, split="2021-01-01"):
    """MathWorks' example's preparation: z-score every column with the mean and standard
    deviation (MATLAB's std, N-1) of the days before `split`; each `window` consecutive days
    of the normalized series is an input (C x T), the next day the target.

    Returns (train X (C, N, T), train Y (C, N), test X, test Y, mean, std): a window belongs
    to the test set when its target day is on or after `split` (the first test windows reach
    back into the last training days).
    """
    train = dates < np.datetime64(split)
    mean = data[train].mean(axis=0)
    std = data[train].std(axis=0, ddof=1)
    z = (data - mean) / std
    starts = np.arange(len(z) - window)
    X = np.stack([z[s:s + window].T for s in starts], axis=1)  # C x N x T
    Y = z[starts + window].T  # C x N
    test = ~train[starts + window]
    return X[:, ~test], Y[:, ~test], X[:, test], Y[:, test], mean, std
