"""MATLAB's bilstmLayer as a Keras layer."""

import keras
from keras import ops

from matkeras.layers import _options
from matkeras.layers._recurrent import RecurrentLayer
from matkeras.layers._views import CellStateMixin
from matkeras.layers.regularizers import DEFAULT_L2_REGULARIZATION
from matkeras.ops.lstm import matlab_bilstm

BACKWARD_LAST_OUTPUTS = ("final-state", "last-time-step")


@keras.saving.register_keras_serializable(package="matkeras")
class BiLSTM(CellStateMixin, RecurrentLayer):
    """Bidirectional LSTM layer with MATLAB's ``bilstmLayer`` semantics.

    Matches MATLAB ``bilstmLayer(numHiddenUnits, Name=Value)``: a forward LSTM on the sequence and
    a backward LSTM on the time-reversed sequence (its outputs flipped back to the original
    order), each with the equations of :class:`matkeras.layers.LSTM`; the output is
    ``[forward; backward]`` along the channels (2H, no other merge mode). Padding runs through
    both directions as data (the backward direction meets right padding first), as in MATLAB.

    ``output_mode="last"`` gives ``[h_fwd(T); h_bwd_final]``: the forward state after the last
    time step and the backward state after the whole reversed sequence (aligned with time step 1),
    which is MATLAB's current behaviour (its Coder implementation), Keras's
    ``Bidirectional(LSTM)`` and ONNX's ``Y_h``. It is not the last column of the "sequence"
    output. The R2017b CPU reading (backward output at time step T, after one reversed step) is
    available as ``backward_last_output="last-time-step"``.

    MATLAB layout: ``input_weights`` (8H, C), rows 1:4H forward and 4H+1:8H backward, each i, f,
    g, o; ``recurrent_weights`` (8H, H); ``bias`` (8H,); ``hidden_state``/``cell_state`` (2H,) =
    [forward; backward]. Keras variables: ``kernel`` (C, 8H), ``recurrent_kernel`` (H, 8H),
    ``bias_variable`` (8H,), forward blocks first. Initializers apply to the stacked 8H-row
    matrices as MATLAB's (glorot's fan-out is 8H; unit-forget-gate sets both forget blocks).
    Stateful prediction carries only the forward state (MATLAB), and with ``has_state_outputs``
    the returned states are ``[forward; backward]`` final states (2H).

    Args:
        units: ``NumHiddenUnits`` (H per direction).
        output_mode, state_activation, gate_activation, has_state_inputs, has_state_outputs,
            hidden_state, cell_state, input_weights_initializer, recurrent_weights_initializer,
            bias_initializer, l2_regularization, input_weights, recurrent_weights, bias,
            use_mask: as :class:`matkeras.layers.LSTM`, with 8H rows and 2H states.
        input_weights_l2_factor, recurrent_weights_l2_factor, bias_l2_factor: scalars, or 8
            values (one per gate block of both directions).
        backward_last_output: ``"final-state"`` (default, MATLAB now) or ``"last-time-step"``
            (MATLAB R2017b's CPU implementation) for ``output_mode="last"``.
        **kwargs: Keras layer arguments.

    Input shape:
        ``(batch, time, C)``; with state inputs ``[x, (batch, 2H), (batch, 2H)]``.

    Output shape:
        ``(batch, time, 2H)`` or ``(batch, 2H)``; with state outputs plus two ``(batch, 2H)``.

    Example:

    >>> import numpy as np
    >>> from matkeras.layers import BiLSTM
    >>> BiLSTM(4, output_mode="last")(np.zeros((2, 5, 3), "float32")).shape
    TensorShape([2, 8])
    """

    MATLAB_CLASS = "nnet.cnn.layer.BiLSTMLayer"

    _LAYER = "BiLSTM"
    _KIND = "bilstm"
    _DIRECTIONS = 2

    def __init__(
        self,
        units,
        output_mode="sequence",
        state_activation="tanh",
        gate_activation="sigmoid",
        has_state_inputs=False,
        has_state_outputs=False,
        hidden_state=None,
        cell_state=None,
        input_weights_initializer="glorot",
        recurrent_weights_initializer="orthogonal",
        bias_initializer="unit-forget-gate",
        input_weights_l2_factor=1.0,
        recurrent_weights_l2_factor=1.0,
        bias_l2_factor=0.0,
        l2_regularization=DEFAULT_L2_REGULARIZATION,
        input_weights=None,
        recurrent_weights=None,
        bias=None,
        use_mask=False,
        backward_last_output="final-state",
        **kwargs,
    ):
        arguments = self._base_arguments(locals(), exclude=("backward_last_output",))
        where = _options.layer_label("BiLSTM", kwargs.get("name"))
        backward_last_output = _options.choose(
            backward_last_output, BACKWARD_LAST_OUTPUTS, argument="backward_last_output",
            matlab_property="(none: the reading of OutputMode 'last')", where=where,
        )
        if kwargs.get("go_backwards"):
            raise ValueError(f"{where}: go_backwards is for one-directional layers wrapped in "
                             "keras.layers.Bidirectional; a BiLSTM already runs both ways.")
        super().__init__(**arguments)
        self.backward_last_output = backward_last_output

    def _recur(self, sequences, weights, states, mask, training=False):
        options = self._op_options(mask)
        options.pop("go_backwards")
        return matlab_bilstm(sequences, weights["kernel"], weights["recurrent_kernel"],
                             weights["bias"], *states, training=training,
                             backward_last_output=self.backward_last_output, **options)

    def _next_carry(self, final_states):
        # MATLAB carries only the forward state: the backward half restarts from the initial
        # state at every call (R2017b computeState; MATLAB Coder's BiLSTMLayer.predict).
        half = self.units
        initial = self._initial_state_rows(ops.shape(final_states[0])[0], final_states[0].dtype)
        return [ops.concatenate([final[:, :half], start[:, half:]], axis=-1)
                for final, start in zip(final_states, initial, strict=True)]

    def get_config(self):
        return {**super().get_config(), "backward_last_output": self.backward_last_output}
