"""Argument checks shared by the layers: one wording for every error a user can get."""

import numbers

import numpy as np


def layer_label(layer_kind, name):
    return f"{layer_kind} layer '{name}'" if name else f"{layer_kind} layer"


def choose(value, allowed, *, argument, matlab_property, where):
    """Returns `value` lower-cased if it is one of `allowed`, else raises a ValueError saying so."""
    if isinstance(value, str) and value.lower() in allowed:
        return value.lower()
    options = ", ".join(f'"{a}"' for a in allowed)
    raise ValueError(
        f"{where}: {argument} (MATLAB '{matlab_property}') must be one of {options}; "
        f"received {value!r}."
    )


def positive_int(value, *, argument, matlab_property, where):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(
            f"{where}: {argument} (MATLAB '{matlab_property}') must be a positive integer; "
            f"received {value!r}."
        )
    return int(value)


def boolean(value, *, argument, matlab_property, where):
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(
            f"{where}: {argument} (MATLAB '{matlab_property}') must be True or False; "
            f"received {value!r}."
        )
    return bool(value)


def factor(value, *, blocks, argument, matlab_property, where):
    """A MATLAB learn-rate/L2 factor: a non-negative scalar or one value per gate block."""
    array = np.asarray(value, dtype="float64") if _is_numeric(value) else None
    if array is None or array.ndim > 1 or (array.ndim == 1 and array.size not in (1, blocks)):
        raise ValueError(
            f"{where}: {argument} (MATLAB '{matlab_property}') must be a non-negative scalar or "
            f"{blocks} values (one per gate block); received {value!r}."
        )
    if not np.all(np.isfinite(array)) or np.any(array < 0):
        raise ValueError(
            f"{where}: {argument} (MATLAB '{matlab_property}') must be finite and non-negative; "
            f"received {value!r}."
        )
    return float(array) if array.size == 1 else [float(v) for v in array]


def _is_numeric(value):
    try:
        return np.asarray(value).dtype.kind in "biuf"
    except (TypeError, ValueError):
        return False


def matlab_array(value, expected_shape, *, matlab_property, shape_text, where, allow_column=False):
    """Checks a user-given MATLAB-layout array (finite, right shape) and returns it as float64.

    `allow_column` accepts an ``(n, 1)`` MATLAB column vector where ``(n,)`` is expected.
    """
    try:
        array = np.asarray(value, dtype="float64")
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"{where}: {matlab_property} must be a numeric array; received {type(value).__name__} "
            f"({error})."
        ) from None
    if allow_column and array.ndim == 2 and array.shape[1] == 1 and len(expected_shape) == 1:
        array = array[:, 0]
    if array.shape != tuple(expected_shape):
        raise ValueError(
            f"{where}: {matlab_property} has shape {array.shape}; expected {shape_text} = "
            f"{tuple(expected_shape)}."
        )
    if not np.all(np.isfinite(array)):
        bad = int(np.size(array) - np.count_nonzero(np.isfinite(array)))
        raise ValueError(
            f"{where}: {matlab_property} contains {bad} NaN or Inf value(s); MATLAB weights and "
            "states must be finite."
        )
    return array
