"""MATLAB's data formats of the trainnet era (``InputDataFormats``/``TargetDataFormats``) read
into Keras's layout (pure numpy).

``trainnet``, ``minibatchpredict`` and ``testnet`` take vector sequences as **s-by-c**
matrices, time steps by channels, in a cell array: the transpose of ``trainNetwork``'s c-by-s
(MATLAB Answers, "How is batch learning executed with the trainnet function?", 2024-08-29,
mathworks.com/matlabcentral/answers/2148734, pointing to the trainnet page's sequence input
table; the trainnet-era fixture ``dlnetwork_lstm40_trainnet_workspace.mat`` stores T x 2
sequences). That is Keras's ``(T, C)``, so a list of ``(T, C)`` arrays needs no format.
``InputDataFormats`` (a trainingOptions / minibatchpredict / testnet option: ``"auto"``, or
letters ``"T"``, ``"C"``, ``"B"`` such as ``"TCB"`` or ``"CTB"``) says otherwise:

- a list of arrays: the letters other than ``B`` give each sequence's axes (``"CTB"``: every
  sequence is ``(C, T)``, as trainNetwork's cells);
- one numeric 3-D array: the letters give its axes (``"TCB"`` is MATLAB's own s-by-c-by-N
  array); ``"auto"`` reads a 3-D array the Keras way, ``(N, T, C)`` (``"BTC"``).

Targets (``TargetDataFormats``): per-step targets as a list of ``(T, R)`` arrays by default
(``"CTB"``: ``(R, T)``); one response row per observation ``(N, R)`` (``"BC"``; ``"CB"``:
``(R, N)``). Labels need no format.
"""

import numpy as np

__all__ = ["read_sequences", "read_targets"]

_LETTERS = set("BTC")


def _check(formats, allowed, option):
    if isinstance(formats, str) and formats.lower() == "auto":
        return None
    if not isinstance(formats, str) or set(formats.upper()) - _LETTERS or \
            len(set(formats.upper())) != len(formats) or formats.upper() not in allowed:
        raise ValueError(f"{option} must be 'auto' or one of {sorted(allowed)} (T: time, C: "
                         f"channels, B: observations); received {formats!r}.")
    return formats.upper()


_SEQUENCE_FORMATS = {"TCB", "CTB", "BTC", "BCT", "TBC", "CBT", "TC", "CT"}


def read_sequences(X, formats="auto", option="InputDataFormats"):
    """X in Keras's layout: a list of ``(T, C)`` arrays, an ``(N, T, C)`` array, or one
    ``(T, C)`` array for one observation. ``"auto"`` returns X unchanged (lists of ``(T, C)``
    or ``(T, h, w, c)`` arrays, ``(N, T, C)`` arrays). See the module notes."""
    fmt = _check(formats, _SEQUENCE_FORMATS, option)
    if fmt is None:
        return X
    if isinstance(X, np.ndarray) and X.dtype != object:
        if X.ndim == 2 and "B" not in fmt:
            return _per_observation(X, fmt)
        if X.ndim != 3 or len(fmt) != 3:
            raise ValueError(f"{option}={formats!r} does not fit an array of shape {X.shape}: a "
                             "numeric array of sequences has 3 dimensions (observations, time, "
                             "channels) in the order the format names; one sequence has 2 and "
                             "a format without B.")
        return np.transpose(X, [fmt.index("B"), fmt.index("T"), fmt.index("C")])
    if not isinstance(X, (list, tuple)):
        raise TypeError(f"{option}: expected a list of sequences or a numeric array; received "
                        f"{type(X).__name__}.")
    return [_per_observation(np.asarray(x), fmt.replace("B", "")) for x in X]


def _per_observation(x, fmt):
    if x.ndim == 1:
        x = x[:, None] if fmt.index("T") == 0 else x[None, :]
    if x.ndim != 2:
        raise ValueError(f"A sequence of shape {x.shape} does not fit the format {fmt!r} "
                         "(two axes, time and channels).")
    return x if fmt.index("T") == 0 else x.T


_TARGET_FORMATS = {"BC", "CB", "TCB", "CTB", "BTC", "TC", "CT"}


def read_targets(T, formats="auto", option="TargetDataFormats"):
    """Numeric targets in Keras's layout: a list of ``(T_n, R)`` arrays, or an ``(N, R)``
    array; labels and ``"auto"`` pass through unchanged."""
    fmt = _check(formats, _TARGET_FORMATS, option)
    if fmt is None:
        return T
    if isinstance(T, (list, tuple)):
        return [_per_observation(np.asarray(t), fmt.replace("B", "")) for t in T]
    array = np.asarray(T)
    if fmt in ("BC", "CB"):
        if array.ndim != 2:
            raise ValueError(f"{option}={formats!r} takes an (observations, responses) matrix; "
                             f"received shape {array.shape}.")
        return array if fmt == "BC" else array.T
    if array.ndim == 2 and "B" not in fmt:
        return [_per_observation(array, fmt)]
    return list(read_sequences(array, fmt, option))
