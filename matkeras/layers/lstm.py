"""MATLAB's lstmLayer as a Keras layer."""

import keras

from matkeras.layers._recurrent import RecurrentLayer
from matkeras.layers._views import CellStateMixin
from matkeras.layers.regularizers import DEFAULT_L2_REGULARIZATION
from matkeras.ops.lstm import matlab_lstm


@keras.saving.register_keras_serializable(package="matkeras")
class LSTM(CellStateMixin, RecurrentLayer):
    """Long short-term memory layer with MATLAB's ``lstmLayer`` semantics, exactly.

    Matches MATLAB Deep Learning Toolbox ``lstmLayer(numHiddenUnits, Name=Value)``. Per time step
    (MATLAB column vectors; ``sigma`` = gate activation, ``phi`` = state activation)::

        G_t = W x_t + R h_{t-1} + b              # rows: input i, forget f, candidate g, output o
        i_t = sigma(G_i)  f_t = sigma(G_f)  o_t = sigma(G_o)  g_t = phi(G_g)
        c_t = f_t * c_{t-1} + i_t * g_t
        h_t = o_t * phi(c_t)

    with ``h_0``/``c_0`` the ``HiddenState``/``CellState`` properties (zeros by default) or the
    state inputs. Padded time steps run through the recurrence like data, as in MATLAB (no
    masking): with ``output_mode="last"`` and right-padded sequences the output is the state after
    the padding. ``use_mask=True`` honours a Keras mask instead (a deliberate deviation from
    MATLAB: masked steps keep the state).

    Weights are Keras variables in Keras layout (``kernel`` (C, 4H), ``recurrent_kernel``
    (H, 4H), ``bias_variable`` (4H,), gate blocks i, f, c, o as stock ``keras.layers.LSTM``); the
    properties ``input_weights``, ``recurrent_weights`` and ``bias`` show and set them in MATLAB
    layout, and ``hidden_state``/``cell_state`` show the initial states.

    Args:
        units: ``NumHiddenUnits``, a positive integer.
        output_mode: ``OutputMode``: ``"sequence"`` (default) or ``"last"``.
        state_activation: ``StateActivationFunction``: ``"tanh"`` (default), ``"softsign"``
            (x / (1 + |x|)) or ``"relu"``.
        gate_activation: ``GateActivationFunction``: ``"sigmoid"`` (default) or
            ``"hard-sigmoid"`` (MATLAB's ``clip(0.2x + 0.5, 0, 1)``, not Keras 3's).
        has_state_inputs: ``HasStateInputs`` (False): when True the layer is called on
            ``[x, h0, c0]`` with states of shape (batch, H).
        has_state_outputs: ``HasStateOutputs`` (False): when True the layer returns
            ``[y, h_T, c_T]``.
        hidden_state: ``HiddenState``: initial hidden state, H values (zeros when None).
        cell_state: ``CellState``: initial cell state, H values (zeros when None).
        input_weights_initializer: ``InputWeightsInitializer`` (``"glorot"``): see
            ``matkeras.layers.initializers``.
        recurrent_weights_initializer: ``RecurrentWeightsInitializer`` (``"orthogonal"``).
        bias_initializer: ``BiasInitializer`` (``"unit-forget-gate"``).
        input_weights_l2_factor: ``InputWeightsL2Factor`` (1), scalar or 4 values (one per gate).
        recurrent_weights_l2_factor: ``RecurrentWeightsL2Factor`` (1), scalar or 4 values.
        bias_l2_factor: ``BiasL2Factor`` (0), scalar or 4 values.
        l2_regularization: MATLAB's global ``trainingOptions`` ``L2Regularization`` (1e-4, its
            default). The penalty added to the loss is
            ``l2_regularization/2 * factor * sum(w**2)`` per learnable, as MATLAB's; set it for a
            whole model with ``matkeras.layers.set_l2_regularization(model, value)``.
        input_weights: ``InputWeights``: explicit (4H, C) initial value in MATLAB layout.
        recurrent_weights: ``RecurrentWeights``: explicit (4H, H) initial value.
        bias: ``Bias``: explicit (4H,) or (4H, 1) initial value.
        use_mask: False (MATLAB). True honours an incoming Keras mask (a deviation from MATLAB).
        **kwargs: Keras layer arguments (``name``, ``dtype``, ...), and ``go_backwards`` (False)
            so that ``keras.layers.Bidirectional`` can wrap the layer (it returns reversed
            sequences, as Keras's backward layers do).

    Input shape:
        ``(batch, time, C)``; ``time`` may be None. With state inputs: ``[x, (batch, H),
        (batch, H)]``.

    Output shape:
        ``(batch, time, H)`` for ``"sequence"``, ``(batch, H)`` for ``"last"``; with state outputs
        a list ``[output, (batch, H), (batch, H)]``.

    Example:

    >>> import numpy as np
    >>> from matkeras.layers import LSTM
    >>> layer = LSTM(8, output_mode="last")
    >>> layer(np.zeros((2, 5, 3), "float32")).shape
    TensorShape([2, 8])
    >>> layer.input_weights.shape  # MATLAB layout, rows i, f, g, o
    (32, 3)
    """

    MATLAB_CLASS = "nnet.cnn.layer.LSTMLayer"

    _LAYER = "LSTM"

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
        **kwargs,
    ):
        super().__init__(**self._base_arguments(locals()))

    def _recur(self, sequences, weights, states, mask, training=False):
        return matlab_lstm(
            sequences, weights["kernel"], weights["recurrent_kernel"], weights["bias"], *states,
            input_projector=weights.get("input_projector"),
            output_projector=weights.get("output_projector"), training=training,
            **self._op_options(mask),
        )
