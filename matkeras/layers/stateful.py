"""Which layers of a model keep a recurrent state, and running them from given states
(:class:`StateCarry`): what stateful prediction, split-sequence training and the streaming
exports read and write."""

from matkeras.layers._carry import StateCarry, check_state_rows
from matkeras.layers._recurrent import RecurrentLayer

__all__ = ["StateCarry", "check_state_rows", "stateful_layers"]


def stateful_layers(model):
    """The recurrent layers of `model` (nested models included, each layer once, in model order)
    whose state is stored between calls: every matkeras recurrent layer except those with
    ``has_state_inputs=True`` (MATLAB ``HasStateInputs``), which take their state from their
    inputs instead.

    Example:
        >>> import keras
        >>> from matkeras.layers import LSTM, stateful_layers
        >>> inputs = keras.Input((None, 3))
        >>> model = keras.Model(inputs, LSTM(4, name="lstm")(inputs))
        >>> [layer.name for layer in stateful_layers(model)]
        ['lstm']
    """
    found, seen = [], set()

    def visit(layer):
        if id(layer) in seen:
            return
        seen.add(id(layer))
        if isinstance(layer, RecurrentLayer):
            if not layer.has_state_inputs:
                found.append(layer)
            return
        for sub in getattr(layer, "layers", None) or ():
            visit(sub)

    visit(model)
    return found
