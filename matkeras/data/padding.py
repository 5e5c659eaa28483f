"""Sorting and padding lists of sequences as MATLAB's trainNetwork/predict do (pure numpy).

Sequences are Keras layout, time first: ``(T_i, C)`` vectors or ``(T_i, h, w, c)`` image
sequences. ``layout="CT"`` accepts MATLAB's ``(C, T_i)`` cells instead (vector sequences).
"""

import numbers

import numpy as np

_LAYOUTS = ("TC", "CT")


def as_time_major(sequences, layout):
    if layout not in _LAYOUTS:
        raise ValueError(f"layout must be one of {_LAYOUTS}; received {layout!r}.")
    if isinstance(sequences, np.ndarray) and sequences.dtype != object:
        sequences = [sequences] if sequences.ndim == 2 and layout == "CT" else list(sequences)
    arrays = []
    for index, sequence in enumerate(sequences):
        array = np.asarray(sequence)
        if array.ndim < 1 or array.dtype.kind not in "biuf":
            raise ValueError(
                f"Sequence {index} must be a numeric array of shape (time, features...); "
                f"received {type(sequence).__name__} with shape {np.shape(sequence)}."
            )
        if array.ndim == 1:
            array = array[:, None] if layout == "TC" else array[None, :]
        if layout == "CT":
            if array.ndim != 2:
                raise ValueError(
                    f'layout="CT" takes MATLAB (C, T) matrices; sequence {index} has shape '
                    f"{array.shape}."
                )
            array = array.T
        arrays.append(array)
    if not arrays:
        raise ValueError("Received no sequences: pass a non-empty list of arrays.")
    feature_shapes = {a.shape[1:] for a in arrays}
    if len(feature_shapes) > 1:
        raise ValueError(
            "All sequences must have the same feature shape after the time axis; received "
            f"{sorted(feature_shapes)}. Is one of them (C, T) instead of (T, C)? "
            'Use layout="CT" for MATLAB-layout data.'
        )
    return arrays


def sort_by_length(sequences, descending=False, layout="TC"):
    """Sorts sequences by length, stably, as MATLAB's ``sort`` of the lengths does.

    Args:
        sequences: list of ``(T_i, ...)`` arrays (``(C, T_i)`` with ``layout="CT"``).
        descending: longest first when True.
        layout: ``"TC"`` (default) or ``"CT"`` (MATLAB's cells; the arrays are returned unchanged).

    Returns:
        ``(sorted_sequences, order)`` with ``sorted_sequences[k] = sequences[order[k]]``.

    Example:
        >>> import numpy as np
        >>> _, order = sort_by_length([np.zeros((5, 2)), np.zeros((3, 2))])
        >>> order.tolist()
        [1, 0]
    """
    arrays = as_time_major(sequences, layout)
    lengths = np.array([a.shape[0] for a in arrays])
    order = np.argsort(-lengths if descending else lengths, kind="stable")
    originals = list(sequences)
    return [originals[i] for i in order], order


def pad_sequences(sequences, length="longest", direction="right", value=0.0, layout="TC",
                  dtype=None):
    """Pads (or truncates) sequences into one batch, as MATLAB's ``SequenceLength`` options.

    Args:
        sequences: list of ``(T_i, ...)`` arrays (``(C, T_i)`` with ``layout="CT"``).
        length: ``"longest"`` (MATLAB default: pad to the longest), ``"shortest"`` (truncate to
            the shortest) or a positive int L (pad or truncate every sequence to exactly L steps).
        direction: ``SequencePaddingDirection``: ``"right"`` (padding after the data; truncation
            keeps the first steps) or ``"left"`` (padding before; truncation keeps the last steps).
        value: ``SequencePaddingValue`` (0).
        layout: ``"TC"`` or ``"CT"`` for the input; the batch is always Keras layout.
        dtype: of the batch; the sequences' common dtype by default.

    Returns:
        ``(batch, mask)``: batch ``(N, L, ...)``, mask ``(N, L)`` booleans, True on real steps.

    Example:
        >>> import numpy as np
        >>> batch, mask = pad_sequences([np.ones((3, 1)), np.ones((1, 1))], direction="left")
        >>> mask.astype(int).tolist()
        [[1, 1, 1], [0, 0, 1]]
    """
    arrays = as_time_major(sequences, layout)
    if direction not in ("right", "left"):
        raise ValueError(
            "direction (MATLAB 'SequencePaddingDirection') must be \"right\" or \"left\"; "
            f"received {direction!r}."
        )
    lengths = [a.shape[0] for a in arrays]
    if isinstance(length, str) and length in ("longest", "shortest"):
        target = max(lengths) if length == "longest" else min(lengths)
    elif isinstance(length, numbers.Integral) and not isinstance(length, bool) and length > 0:
        target = int(length)
    else:
        raise ValueError(
            'length (MATLAB \'SequenceLength\') must be "longest", "shortest" or a positive '
            f"integer; received {length!r}."
        )
    dtype = np.result_type(*arrays) if dtype is None else np.dtype(dtype)
    batch = np.full((len(arrays), target, *arrays[0].shape[1:]), value, dtype=dtype)
    mask = np.zeros((len(arrays), target), dtype=bool)
    for row, array in enumerate(arrays):
        kept = array[:target] if direction == "right" else array[max(0, len(array) - target):]
        steps = len(kept)
        where = slice(0, steps) if direction == "right" else slice(target - steps, target)
        batch[row, where] = kept
        mask[row, where] = True
    return batch, mask


def split_sequences(sequences, length, direction="right", value=0.0, layout="TC", steps=None):
    """Cuts one mini-batch into chunks of `length` steps, as MATLAB's integer SequenceLength.

    MATLAB pads the mini-batch to its longest sequence, then cuts it into
    ``ceil(longest / length)`` consecutive chunks of exactly `length` steps; the last chunk is
    padded with `value` (on the side `direction` names).

    Args:
        sequences: list of ``(T_i, ...)`` arrays (``(C, T_i)`` with ``layout="CT"``).
        length: the chunk length L (a positive int).
        direction, value, layout: as :func:`pad_sequences`.
        steps: pad to this many steps before cutting instead of the longest sequence's (at
            least that many): a part of a mini-batch cut as the whole one is.

    Returns:
        A list of ``(batch, mask)`` pairs, one per chunk, each batch ``(N, L, ...)``.

    Example:
        >>> import numpy as np
        >>> chunks = split_sequences([np.ones((5, 1)), np.ones((2, 1))], 2)
        >>> len(chunks), chunks[-1][1].astype(int).tolist()
        (3, [[1, 0], [0, 0]])
    """
    if isinstance(length, bool) or not isinstance(length, numbers.Integral) or length <= 0:
        raise ValueError("length (MATLAB 'SequenceLength') must be a positive integer to split "
                         f"sequences; received {length!r}.")
    batch, mask = pad_sequences(sequences, "longest" if steps is None else steps, direction,
                                value, layout)
    chunks = -(-batch.shape[1] // length)
    total = chunks * length
    extra = total - batch.shape[1]
    widths = [(0, 0), (extra, 0) if direction == "left" else (0, extra)]
    widths += [(0, 0)] * (batch.ndim - 2)
    batch = np.pad(batch, widths, constant_values=value)
    mask = np.pad(mask, widths[:2], constant_values=False)
    return [(batch[:, k * length:(k + 1) * length], mask[:, k * length:(k + 1) * length])
            for k in range(chunks)]
