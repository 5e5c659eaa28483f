"""Running recurrent layers from given start states and collecting their final states.

This is what MATLAB's stateful prediction (``predictAndUpdateState``, ``[Y, state] = predict``),
the streaming exports and any user code need from the recurrent layers, as a context:
:class:`StateCarry`. It works eagerly and while a function is traced (``tf.function``, export),
so the states can be inputs and outputs of a compiled function.
"""

import contextvars

from keras import ops

__all__ = ["StateCarry", "check_state_rows"]

_ACTIVE = contextvars.ContextVar("matkeras_state_carry", default=None)


class StateCarry:
    """``with StateCarry(start) as carry: y = model(x)``: recurrent layers run from `start`
    and leave their final states in ``carry.final``.

    Inside the block, every matkeras recurrent layer without state inputs (MATLAB
    ``HasStateInputs`` false) that runs starts from ``start[layer]``, a list with one
    ``(rows, D*H)`` tensor or array per state (``layer.state_names`` order), or from its initial
    states when the layer is not in `start`; its final states (what the next call should start
    from: BiLSTM's forward half only, as MATLAB keeps it) are then ``carry.final[layer]``.
    Start states of one row serve every sequence of the batch; a batch of one sequence runs
    from each row of the start states (MATLAB's implicit expansion); any other row count is an
    error (:func:`check_state_rows`).

    Example:
        >>> import keras, numpy as np
        >>> from matkeras.layers import LSTM, StateCarry
        >>> layer = LSTM(4)
        >>> x = np.ones((2, 3, 5), "float32")
        >>> with StateCarry() as carry:
        ...     y = layer(x)
        >>> [s.shape for s in carry.final[layer]]
        [TensorShape([2, 4]), TensorShape([2, 4])]
    """

    def __init__(self, start=None):
        self._start = {id(layer): (layer, list(states)) for layer, states in
                       dict(start or {}).items()}
        self._final = {}
        self._token = None

    @property
    def final(self):
        """``{layer: [final state tensors]}`` of the layers that ran inside the block."""
        return {layer: states for layer, states in self._final.values()}

    def __enter__(self):
        self._token = _ACTIVE.set(self)
        return self

    def __exit__(self, *exc):
        _ACTIVE.reset(self._token)
        self._token = None
        return False

    # ---- what the recurrent layers call -------------------------------------------------------
    def start_states(self, layer):
        """The start states given for `layer`, or None (its initial states)."""
        found = self._start.get(id(layer))
        return None if found is None else found[1]

    def record(self, layer, states):
        self._final[id(layer)] = (layer, list(states))


def active_carry():
    """The :class:`StateCarry` whose block is running, or None."""
    return _ACTIVE.get()


def check_state_rows(rows, batch, where="The network"):
    """MATLAB's rule for a stored state of `rows` observations met by a call with `batch`:
    1 row serves any batch, a batch of 1 runs from every row, else they must be equal."""
    if rows not in (1, batch) and batch != 1:
        raise ValueError(
            f"{where}: the state holds {rows} observations but this call has {batch}. As in "
            "MATLAB, after a state update the next calls must pass the same number of "
            "observations or 1; call reset_state(model) to start over.")


def expand(sequences, states, where):
    """`sequences` and `states` with their rows matched by MATLAB's implicit expansion (checked
    where both row counts are known; taken as given where they are not, as when traced with a
    free batch axis)."""
    rows, batch = states[0].shape[0], sequences.shape[0]
    states = [ops.cast(s, sequences.dtype) for s in states]
    if rows is None or batch is None:
        return sequences, states
    rows, batch = int(rows), int(batch)
    check_state_rows(rows, batch, where)
    if batch == 1 and rows > 1:
        sequences = ops.broadcast_to(sequences, (rows, *sequences.shape[1:]))
    return sequences, [ops.broadcast_to(s, (max(rows, batch), s.shape[1])) for s in states]
