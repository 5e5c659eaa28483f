"""MATLAB's gruLayer as a Keras layer."""

import keras

from matkeras.layers import _options, initializers
from matkeras.layers._recurrent import RecurrentLayer
from matkeras.layers.regularizers import DEFAULT_L2_REGULARIZATION
from matkeras.ops.gru import RESET_GATE_MODES, matlab_gru


@keras.saving.register_keras_serializable(package="matkeras")
class GRU(RecurrentLayer):
    """Gated recurrent unit layer with MATLAB's ``gruLayer`` semantics, every ResetGateMode.

    Matches MATLAB ``gruLayer(numHiddenUnits, Name=Value)``. Per time step (MATLAB column vectors,
    gate rows reset r, update z, candidate h)::

        r = sigma(W_r x + R_r h + b_r [+ bR_r])      # bR: recurrent bias (6H-bias mode only)
        z = sigma(W_z x + R_z h + b_z [+ bR_z])
        "after-multiplication":                 h~ = phi(W_h x + b_h + r * (R_h h))
        "recurrent-bias-after-multiplication":  h~ = phi(W_h x + b_h + r * (R_h h + bR_h))
        "before-multiplication":                h~ = phi(W_h x + R_h (r * h) + b_h)
        h_t = (1 - z) * h~ + z * h_{t-1}

    MATLAB layout: ``input_weights`` (3H, C) rows r, z, h; ``recurrent_weights`` (3H, H);
    ``bias`` (3H,), or (6H,) = [input bias; recurrent bias] in the recurrent-bias mode. The Keras
    variables use stock ``keras.layers.GRU``'s block order z, r, h (``kernel`` (C, 3H),
    ``recurrent_kernel`` (H, 3H), ``bias_variable`` (3H,) or (6H,)).

    Args:
        units: ``NumHiddenUnits``.
        output_mode: ``OutputMode``: ``"sequence"`` (default) or ``"last"``.
        reset_gate_mode: ``ResetGateMode``: ``"after-multiplication"`` (default),
            ``"before-multiplication"`` or ``"recurrent-bias-after-multiplication"``.
        state_activation: ``StateActivationFunction``: ``"tanh"``, ``"softsign"``, ``"relu"``.
        gate_activation: ``GateActivationFunction``: ``"sigmoid"`` or ``"hard-sigmoid"``.
        has_state_inputs: ``HasStateInputs``: call on ``[x, h0]``.
        has_state_outputs: ``HasStateOutputs``: returns ``[y, h_T]``.
        hidden_state: ``HiddenState``, H values (zeros when None).
        input_weights_initializer: ``InputWeightsInitializer`` (``"glorot"``).
        recurrent_weights_initializer: ``RecurrentWeightsInitializer`` (``"orthogonal"``).
        bias_initializer: ``BiasInitializer`` (``"zeros"``; also ``"narrow-normal"``, ``"ones"``
            or a callable).
        input_weights_l2_factor, recurrent_weights_l2_factor, bias_l2_factor: MATLAB's L2
            factors (1, 1, 0), scalars or 3 values (r, z, h).
        l2_regularization: MATLAB's global ``L2Regularization`` (1e-4).
        input_weights, recurrent_weights, bias: explicit MATLAB-layout initial values.
        use_mask: False (MATLAB); True honours a Keras mask.
        **kwargs: Keras layer arguments, and ``go_backwards`` for ``keras.layers.Bidirectional``.

    Input shape:
        ``(batch, time, C)``; with state inputs ``[x, (batch, H)]``.

    Output shape:
        ``(batch, time, H)`` or ``(batch, H)``; with state outputs ``[output, (batch, H)]``.

    Example:

    >>> import numpy as np
    >>> from matkeras.layers import GRU
    >>> layer = GRU(4, reset_gate_mode="recurrent-bias-after-multiplication")
    >>> layer(np.zeros((2, 5, 3), "float32")).shape, layer.bias.shape
    (TensorShape([2, 5, 4]), (24,))
    """

    MATLAB_CLASS = "nnet.cnn.layer.GRULayer"

    _LAYER = "GRU"
    _KIND = "gru"
    _GATES = 3
    _STATES = (("hidden_state", "HiddenState"),)
    _BIAS_INITIALIZERS = initializers.GRU_BIAS_INITIALIZERS

    def __init__(
        self,
        units,
        output_mode="sequence",
        reset_gate_mode="after-multiplication",
        state_activation="tanh",
        gate_activation="sigmoid",
        has_state_inputs=False,
        has_state_outputs=False,
        hidden_state=None,
        input_weights_initializer="glorot",
        recurrent_weights_initializer="orthogonal",
        bias_initializer="zeros",
        input_weights_l2_factor=1.0,
        recurrent_weights_l2_factor=1.0,
        bias_l2_factor=0.0,
        l2_regularization=DEFAULT_L2_REGULARIZATION,
        input_weights=None,
        recurrent_weights=None,
        bias=None,
        use_mask=False,
        **kwargs,
    ):
        arguments = self._base_arguments(locals(), exclude=("reset_gate_mode",))
        reset_gate_mode = _options.choose(
            reset_gate_mode, RESET_GATE_MODES, argument="reset_gate_mode",
            matlab_property="ResetGateMode",
            where=_options.layer_label(self._LAYER, kwargs.get("name")),
        )
        super().__init__(
            bias_chunks=2 if reset_gate_mode == "recurrent-bias-after-multiplication" else 1,
            **arguments,
        )
        self.reset_gate_mode = reset_gate_mode

    def _recur(self, sequences, weights, states, mask, training=False):
        return matlab_gru(
            sequences, weights["kernel"], weights["recurrent_kernel"], weights["bias"], *states,
            reset_gate_mode=self.reset_gate_mode,
            input_projector=weights.get("input_projector"),
            output_projector=weights.get("output_projector"), training=training,
            **self._op_options(mask),
        )

    def get_config(self):
        return {**super().get_config(), "reset_gate_mode": self.reset_gate_mode}
