"""MATLAB's lstmLayer as a Keras layer."""

import keras
import numpy as np
from keras import ops

from matkeras.converters import layouts
from matkeras.layers import _options, initializers
from matkeras.layers.activations import GATE_ACTIVATIONS, STATE_ACTIVATIONS
from matkeras.layers.regularizers import (
    DEFAULT_L2_REGULARIZATION,
    MatlabL2Mixin,
    check_l2_regularization,
)
from matkeras.ops import lstm as lstm_op

OUTPUT_MODES = ("sequence", "last")


@keras.saving.register_keras_serializable(package="matkeras")
class LSTM(MatlabL2Mixin, keras.layers.Layer):
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
        **kwargs: Keras layer arguments (``name``, ``dtype``, ...).

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
        where = _options.layer_label("LSTM", kwargs.get("name"))
        units = _options.positive_int(
            units, argument="units", matlab_property="NumHiddenUnits", where=where
        )
        output_mode = _options.choose(
            output_mode, OUTPUT_MODES, argument="output_mode", matlab_property="OutputMode",
            where=where,
        )
        state_activation = _options.choose(
            state_activation, tuple(STATE_ACTIVATIONS), argument="state_activation",
            matlab_property="StateActivationFunction", where=where,
        )
        gate_activation = _options.choose(
            gate_activation, tuple(GATE_ACTIVATIONS), argument="gate_activation",
            matlab_property="GateActivationFunction", where=where,
        )
        has_state_inputs = _options.boolean(
            has_state_inputs, argument="has_state_inputs", matlab_property="HasStateInputs",
            where=where,
        )
        has_state_outputs = _options.boolean(
            has_state_outputs, argument="has_state_outputs", matlab_property="HasStateOutputs",
            where=where,
        )
        use_mask = _options.boolean(
            use_mask, argument="use_mask", matlab_property="(none: a matkeras option)", where=where
        )
        if has_state_inputs and (hidden_state is not None or cell_state is not None):
            raise ValueError(
                f"{where}: HiddenState and CellState must be empty when HasStateInputs is true "
                "(the states come from the layer's inputs); pass hidden_state=None and "
                "cell_state=None, or has_state_inputs=False."
            )
        factors = {}
        for argument, matlab_property, value in (
            ("input_weights_l2_factor", "InputWeightsL2Factor", input_weights_l2_factor),
            ("recurrent_weights_l2_factor", "RecurrentWeightsL2Factor",
             recurrent_weights_l2_factor),
            ("bias_l2_factor", "BiasL2Factor", bias_l2_factor),
        ):
            factors[argument] = _options.factor(
                value, blocks=4, argument=argument, matlab_property=matlab_property, where=where
            )
        init_args = (
            ("input_weights_initializer", "InputWeightsInitializer", input_weights_initializer,
             initializers.WEIGHT_INITIALIZERS),
            ("recurrent_weights_initializer", "RecurrentWeightsInitializer",
             recurrent_weights_initializer, initializers.WEIGHT_INITIALIZERS),
            ("bias_initializer", "BiasInitializer", bias_initializer,
             initializers.BIAS_INITIALIZERS),
        )
        resolved = {
            argument: initializers.get(
                value, allowed=allowed, argument=argument, matlab_property=matlab_property,
                where=where,
            )
            for argument, matlab_property, value, allowed in init_args
        }
        vectors = {}
        for argument, matlab_property, value in (
            ("hidden_state", "HiddenState", hidden_state),
            ("cell_state", "CellState", cell_state),
        ):
            vectors[argument] = None if value is None else _options.matlab_array(
                value, (units,), matlab_property=matlab_property,
                shape_text="(NumHiddenUnits,)", where=where, allow_column=True,
            )
        l2 = check_l2_regularization(l2_regularization, where)

        super().__init__(**kwargs)
        self._where = where
        self.units = units
        self.output_mode = output_mode
        self.state_activation = state_activation
        self.gate_activation = gate_activation
        self.has_state_inputs = has_state_inputs
        self.has_state_outputs = has_state_outputs
        self.use_mask = use_mask
        self.input_weights_initializer = input_weights_initializer
        self.recurrent_weights_initializer = recurrent_weights_initializer
        self.bias_initializer = bias_initializer
        self._initializers = resolved
        self.input_weights_l2_factor = factors["input_weights_l2_factor"]
        self.recurrent_weights_l2_factor = factors["recurrent_weights_l2_factor"]
        self.bias_l2_factor = factors["bias_l2_factor"]
        self._l2_regularization = l2
        self._initial_states = vectors
        self._explicit = {
            "input_weights": input_weights,
            "recurrent_weights": recurrent_weights,
            "bias": bias,
        }
        self.supports_masking = True
        if input_weights is not None:
            self._explicit["input_weights"] = self._check_input_weights(input_weights, None)
        if recurrent_weights is not None:
            self._explicit["recurrent_weights"] = self._check_recurrent_weights(recurrent_weights)
        if bias is not None:
            self._explicit["bias"] = self._check_bias(bias)

    # ---- MATLAB-layout validation ---------------------------------------------------------------
    def _check_input_weights(self, value, input_size):
        value = np.asarray(value)
        size = input_size if input_size is not None else (value.shape[-1] if value.ndim else 0)
        return _options.matlab_array(
            value, (4 * self.units, size), matlab_property="InputWeights",
            shape_text="(4*NumHiddenUnits, InputSize)", where=self._where,
        )

    def _check_recurrent_weights(self, value):
        return _options.matlab_array(
            value, (4 * self.units, self.units), matlab_property="RecurrentWeights",
            shape_text="(4*NumHiddenUnits, NumHiddenUnits)", where=self._where,
        )

    def _check_bias(self, value):
        return _options.matlab_array(
            value, (4 * self.units,), matlab_property="Bias", shape_text="(4*NumHiddenUnits,)",
            where=self._where, allow_column=True,
        )

    # ---- Keras layer ----------------------------------------------------------------------------
    def build(self, input_shape):
        sequence_shape = input_shape[0] if self.has_state_inputs else input_shape
        if len(sequence_shape) != 3 or sequence_shape[-1] is None:
            raise ValueError(
                f"{self._where}: expected input of shape (batch, time, features) with a known "
                f"number of features; received shape {tuple(sequence_shape)}."
            )
        input_size = int(sequence_shape[-1])
        explicit_w = self._explicit["input_weights"]
        if explicit_w is not None and explicit_w.shape[1] != input_size:
            raise ValueError(
                f"{self._where}: InputWeights has shape {explicit_w.shape}; expected "
                f"(4*NumHiddenUnits, InputSize) = {(4 * self.units, input_size)} for inputs with "
                f"{input_size} features."
            )
        self.input_size = input_size
        gates = 4 * self.units
        self.kernel = self.add_weight(
            shape=(input_size, gates), name="kernel",
            initializer=self._initializers["input_weights_initializer"],
        )
        self.recurrent_kernel = self.add_weight(
            shape=(self.units, gates), name="recurrent_kernel",
            initializer=self._initializers["recurrent_weights_initializer"],
        )
        self.bias_variable = self.add_weight(
            shape=(gates,), name="bias", initializer=self._initializers["bias_initializer"]
        )
        if not self.has_state_inputs:
            self.initial_hidden_state = self.add_weight(
                shape=(self.units,), name="hidden_state", initializer="zeros", trainable=False
            )
            self.initial_cell_state = self.add_weight(
                shape=(self.units,), name="cell_state", initializer="zeros", trainable=False
            )
            for variable, key in ((self.initial_hidden_state, "hidden_state"),
                                  (self.initial_cell_state, "cell_state")):
                if self._initial_states[key] is not None:
                    variable.assign(self._initial_states[key])
        self.built = True
        self._attach_l2()
        self._assign_matlab(**self._explicit)

    def _l2_targets(self):
        return (
            (self.kernel, self.input_weights_l2_factor, -1),
            (self.recurrent_kernel, self.recurrent_weights_l2_factor, -1),
            (self.bias_variable, self.bias_l2_factor, -1),
        )

    def call(self, inputs, mask=None):
        if self.has_state_inputs:
            if not isinstance(inputs, (list, tuple)) or len(inputs) != 3:
                raise ValueError(
                    f"{self._where}: HasStateInputs is true, so the layer takes [x, hidden, cell];"
                    f" received {type(inputs).__name__}."
                )
            sequences, hidden, cell = inputs
            if isinstance(mask, (list, tuple)):
                mask = mask[0]
        else:
            sequences = inputs
            batch = ops.shape(sequences)[0]
            hidden = ops.broadcast_to(
                ops.cast(self.initial_hidden_state, sequences.dtype)[None, :], (batch, self.units)
            )
            cell = ops.broadcast_to(
                ops.cast(self.initial_cell_state, sequences.dtype)[None, :], (batch, self.units)
            )
        dtype = sequences.dtype
        outputs, last_hidden, last_cell = lstm_op(
            sequences,
            ops.cast(self.kernel, dtype),
            ops.cast(self.recurrent_kernel, dtype),
            ops.cast(self.bias_variable, dtype),
            ops.cast(hidden, dtype),
            ops.cast(cell, dtype),
            state_activation=self.state_activation,
            gate_activation=self.gate_activation,
            return_sequences=self.output_mode == "sequence",
            mask=mask if self.use_mask else None,
        )
        if self.has_state_outputs:
            return [outputs, last_hidden, last_cell]
        return outputs

    def compute_mask(self, inputs, mask=None):
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        output_mask = mask if (self.use_mask and self.output_mode == "sequence") else None
        if self.has_state_outputs:
            return [output_mask, None, None]
        return output_mask

    def compute_output_shape(self, input_shape):
        sequence_shape = input_shape[0] if self.has_state_inputs else input_shape
        batch, time = sequence_shape[0], sequence_shape[1]
        if self.output_mode == "sequence":
            output = (batch, time, self.units)
        else:
            output = (batch, self.units)
        if self.has_state_outputs:
            return [output, (batch, self.units), (batch, self.units)]
        return output

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "units": self.units,
                "output_mode": self.output_mode,
                "state_activation": self.state_activation,
                "gate_activation": self.gate_activation,
                "has_state_inputs": self.has_state_inputs,
                "has_state_outputs": self.has_state_outputs,
                "hidden_state": _as_list(self._initial_states["hidden_state"]),
                "cell_state": _as_list(self._initial_states["cell_state"]),
                "input_weights_initializer": initializers.serialize(
                    self.input_weights_initializer
                ),
                "recurrent_weights_initializer": initializers.serialize(
                    self.recurrent_weights_initializer
                ),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                "input_weights_l2_factor": self.input_weights_l2_factor,
                "recurrent_weights_l2_factor": self.recurrent_weights_l2_factor,
                "bias_l2_factor": self.bias_l2_factor,
                "l2_regularization": self._l2_regularization,
                "use_mask": self.use_mask,
            }
        )
        return config

    # ---- MATLAB-layout views ------------------------------------------------------------------
    def _require_built(self, what):
        if not self.built:
            raise ValueError(
                f"{self._where}: {what} is not set yet: the layer has no input size until it is "
                "built. Call the layer on data, or set weights with set_matlab_weights()."
            )

    @property
    def input_weights(self):
        """MATLAB ``InputWeights`` (4H, C), rows i, f, g, o (a numpy copy)."""
        self._require_built("InputWeights")
        return layouts.weights_to_matlab("lstm", ops.convert_to_numpy(self.kernel))

    @input_weights.setter
    def input_weights(self, value):
        self.set_matlab_weights(input_weights=value)

    @property
    def recurrent_weights(self):
        """MATLAB ``RecurrentWeights`` (4H, H) (a numpy copy)."""
        self._require_built("RecurrentWeights")
        return layouts.weights_to_matlab("lstm", ops.convert_to_numpy(self.recurrent_kernel))

    @recurrent_weights.setter
    def recurrent_weights(self, value):
        self.set_matlab_weights(recurrent_weights=value)

    @property
    def bias(self):
        """MATLAB ``Bias`` (4H,) (a numpy copy). The Keras variable is ``bias_variable``."""
        self._require_built("Bias")
        return layouts.bias_to_matlab("lstm", ops.convert_to_numpy(self.bias_variable))

    @bias.setter
    def bias(self, value):
        self.set_matlab_weights(bias=value)

    @property
    def hidden_state(self):
        """MATLAB ``HiddenState``: the initial hidden state (H,), or None with state inputs."""
        if self.has_state_inputs:
            return None
        if not self.built:
            value = self._initial_states["hidden_state"]
            return np.zeros(self.units) if value is None else value.copy()
        return ops.convert_to_numpy(self.initial_hidden_state)

    @property
    def cell_state(self):
        """MATLAB ``CellState``: the initial cell state (H,), or None with state inputs."""
        if self.has_state_inputs:
            return None
        if not self.built:
            value = self._initial_states["cell_state"]
            return np.zeros(self.units) if value is None else value.copy()
        return ops.convert_to_numpy(self.initial_cell_state)

    def set_matlab_weights(self, input_weights=None, recurrent_weights=None, bias=None,
                           hidden_state=None, cell_state=None):
        """Sets learnables (and initial states) from MATLAB-layout arrays, checking their shapes.

        Builds the layer from ``input_weights``'s column count if it is not built yet.
        """
        if not self.built:
            if input_weights is None:
                self._require_built("the layer's weights")
            columns = np.shape(input_weights)[-1] if np.ndim(input_weights) == 2 else None
            if columns is None:
                self._check_input_weights(input_weights, None)
            shape = (None, None, int(columns))
            if self.has_state_inputs:
                shape = [shape, (None, self.units), (None, self.units)]
            self.build(shape)
        self._assign_matlab(input_weights, recurrent_weights, bias, hidden_state, cell_state)

    def _assign_matlab(self, input_weights=None, recurrent_weights=None, bias=None,
                       hidden_state=None, cell_state=None):
        if input_weights is not None:
            value = self._check_input_weights(input_weights, self.input_size)
            self.kernel.assign(layouts.weights_to_keras("lstm", value))
        if recurrent_weights is not None:
            value = self._check_recurrent_weights(recurrent_weights)
            self.recurrent_kernel.assign(layouts.weights_to_keras("lstm", value))
        if bias is not None:
            self.bias_variable.assign(layouts.bias_to_keras("lstm", self._check_bias(bias)))
        for value, variable, name in ((hidden_state, "initial_hidden_state", "HiddenState"),
                                      (cell_state, "initial_cell_state", "CellState")):
            if value is None:
                continue
            if self.has_state_inputs:
                raise ValueError(
                    f"{self._where}: {name} cannot be set when HasStateInputs is true."
                )
            checked = _options.matlab_array(
                value, (self.units,), matlab_property=name, shape_text="(NumHiddenUnits,)",
                where=self._where, allow_column=True,
            )
            getattr(self, variable).assign(checked)


def _as_list(value):
    return None if value is None else [float(v) for v in value]
