"""What every MATLAB recurrent layer shares: options, weights, MATLAB-layout views, config.

A concrete layer sets the class attributes below and implements ``_recur``. Keras-layout
variables: ``kernel`` (input width, D*G*H), ``recurrent_kernel`` (recurrent width, D*G*H),
``bias_variable`` (chunks*D*G*H,), the initial states (D*H,) as non-trainable variables, and for
projected layers ``input_projector_variable`` (C, P_in) and ``output_projector_variable``
(H, P_out), whose Keras layout is MATLAB's. D = directions, G = gate blocks, H = units.
"""

import keras
import numpy as np
from keras import ops

from matkeras.layers import _options, initializers, layouts
from matkeras.layers._carry import active_carry, expand
from matkeras.layers._learn_rates import LearnRateFactorsMixin
from matkeras.layers._matlab import MatlabMapping, initializer_unless_given
from matkeras.layers.activations import GATE_ACTIVATIONS, STATE_ACTIVATIONS
from matkeras.layers.regularizers import MatlabL2Mixin, check_l2_regularization

OUTPUT_MODES = ("sequence", "last")


class RecurrentLayer(MatlabMapping, LearnRateFactorsMixin, MatlabL2Mixin, keras.layers.Layer):
    """Base of matkeras's recurrent layers (not used directly)."""

    _LAYER = "Recurrent"  # the class name used in messages
    _KIND = "lstm"  # converters.layouts kind of the stacked gate blocks
    _GATES = 4  # gate blocks per direction
    _DIRECTIONS = 1
    _STATES = (("hidden_state", "HiddenState"), ("cell_state", "CellState"))
    _BIAS_INITIALIZERS = initializers.BIAS_INITIALIZERS
    _PROJECTED = False

    def __init__(self, units, *, output_mode, state_activation, gate_activation,
                 has_state_inputs, has_state_outputs, initial_states, input_weights_initializer,
                 recurrent_weights_initializer, bias_initializer, input_weights_l2_factor,
                 recurrent_weights_l2_factor, bias_l2_factor, l2_regularization, input_weights,
                 recurrent_weights, bias, use_mask, projectors=None, bias_chunks=1,
                 go_backwards=False, **kwargs):
        where = _options.layer_label(self._LAYER, kwargs.get("name"))
        units = _options.positive_int(units, argument="units", matlab_property="NumHiddenUnits",
                                      where=where)
        choices = {}
        for argument, matlab_property, value, allowed in (
            ("output_mode", "OutputMode", output_mode, OUTPUT_MODES),
            ("state_activation", "StateActivationFunction", state_activation,
             tuple(STATE_ACTIVATIONS)),
            ("gate_activation", "GateActivationFunction", gate_activation,
             tuple(GATE_ACTIVATIONS)),
        ):
            choices[argument] = _options.choose(value, allowed, argument=argument,
                                                matlab_property=matlab_property, where=where)
        flags = {
            argument: _options.boolean(value, argument=argument, matlab_property=prop,
                                       where=where)
            for argument, prop, value in (
                ("has_state_inputs", "HasStateInputs", has_state_inputs),
                ("has_state_outputs", "HasStateOutputs", has_state_outputs),
                ("use_mask", "(none: a matkeras option)", use_mask),
                ("go_backwards", "(none: a Keras option)", go_backwards),
            )
        }
        if flags["has_state_inputs"] and any(v is not None for v in initial_states.values()):
            names = " and ".join(prop for _, prop in self._STATES)
            args = " and ".join(f"{arg}=None" for arg, _ in self._STATES)
            raise ValueError(
                f"{where}: {names} must be empty when HasStateInputs is true (the states come "
                f"from the layer's inputs); pass {args}, or has_state_inputs=False."
            )
        blocks = self._DIRECTIONS * self._GATES
        factors = {
            argument: _options.factor(value, blocks=blocks, argument=argument,
                                      matlab_property=prop, where=where)
            for argument, prop, value in (
                ("input_weights_l2_factor", "InputWeightsL2Factor", input_weights_l2_factor),
                ("recurrent_weights_l2_factor", "RecurrentWeightsL2Factor",
                 recurrent_weights_l2_factor),
                ("bias_l2_factor", "BiasL2Factor", bias_l2_factor),
            )
        }
        init_args = [
            ("input_weights_initializer", "InputWeightsInitializer", input_weights_initializer,
             initializers.WEIGHT_INITIALIZERS, True),
            ("recurrent_weights_initializer", "RecurrentWeightsInitializer",
             recurrent_weights_initializer, initializers.WEIGHT_INITIALIZERS, True),
            ("bias_initializer", "BiasInitializer", bias_initializer, self._BIAS_INITIALIZERS,
             True),
        ]
        projectors = dict(projectors or {})
        for which, prop in (("input", "InputProjector"), ("output", "OutputProjector")):
            if f"{which}_projector_size" in projectors:
                projectors[f"{which}_projector_size"] = _options.positive_int(
                    projectors[f"{which}_projector_size"], argument=f"{which}_projector_size",
                    matlab_property=f"{prop}Size", where=where)
                init_args.append((f"{which}_projector_initializer", f"{prop}Initializer",
                                  projectors[f"{which}_projector_initializer"],
                                  initializers.WEIGHT_INITIALIZERS, False))
                factors[f"{which}_projector_l2_factor"] = _options.factor(
                    projectors[f"{which}_projector_l2_factor"], blocks=1,
                    argument=f"{which}_projector_l2_factor", matlab_property=f"{prop}L2Factor",
                    where=where)
        forget = tuple(d * self._GATES + 1 for d in range(self._DIRECTIONS))
        resolved = {
            argument: initializers.get(value, allowed=allowed, argument=argument,
                                       matlab_property=prop, where=where, num_gates=blocks,
                                       forget_gate_index=forget, transpose=transpose)
            for argument, prop, value, allowed, transpose in init_args
        }
        states = {
            argument: None if value is None else _options.matlab_array(
                value, (self._DIRECTIONS * units,), matlab_property=prop,
                shape_text=self._state_shape_text(), where=where, allow_column=True)
            for (argument, prop), value in zip(self._STATES, initial_states.values(),
                                               strict=True)
        }
        l2 = check_l2_regularization(l2_regularization, where)
        self._take_learn_rate_factors(kwargs, where, blocks)

        super().__init__(**kwargs)
        self._where = where
        self.units = units
        self.output_mode = choices["output_mode"]
        self.state_activation = choices["state_activation"]
        self.gate_activation = choices["gate_activation"]
        self.has_state_inputs = flags["has_state_inputs"]
        self.has_state_outputs = flags["has_state_outputs"]
        self.use_mask = flags["use_mask"]
        self.go_backwards = flags["go_backwards"]
        self._chunks = int(bias_chunks)
        self._initializer_args = {a: v for a, _, v, _, _ in init_args}
        self._initializers = resolved
        self._factors = factors
        self._l2_regularization = l2
        self._initial_states = states
        self.input_projector_size = projectors.get("input_projector_size")
        self.output_projector_size = projectors.get("output_projector_size")
        self.supports_masking = True
        self._explicit = {"input_weights": input_weights, "recurrent_weights": recurrent_weights,
                          "bias": bias}
        for key in ("input_projector", "output_projector"):
            if projectors.get(key) is not None:
                self._explicit[key] = projectors[key]
        input_dependent = ("input_projector",) if self._PROJECTED else ("input_weights",)
        for key, value in self._explicit.items():  # what does not need the input size: now
            if value is not None and key not in input_dependent:
                self._explicit[key] = self._check(key, value, 0)
        self._state_variables = []
        self._pending = {}  # the MATLAB values set_matlab_weights assigns after building

    @classmethod
    def _base_arguments(cls, arguments, exclude=()):
        """The base constructor's keyword arguments from a subclass ``__init__``'s ``locals()``
        (taken first thing), its MATLAB state arguments gathered into ``initial_states``."""
        arguments = {k: v for k, v in arguments.items()
                     if k not in ("self", "__class__", *exclude)}
        kwargs = arguments.pop("kwargs")
        arguments["initial_states"] = {name: arguments.pop(name) for name, _ in cls._STATES}
        return {**arguments, **kwargs}

    # ---- sizes, in MATLAB terms ---------------------------------------------------------------
    def _state_shape_text(self):
        return "(NumHiddenUnits,)" if self._DIRECTIONS == 1 else "(2*NumHiddenUnits,)"

    def _bias_chunks(self):
        return self._chunks

    # ---- the attributes keras.layers.Bidirectional reads --------------------------------------
    stateful = False

    @property
    def states(self):
        """Keras's stateful-RNN states: none (MATLAB-style stateful prediction is separate)."""
        return None

    @property
    def return_sequences(self):
        return self.output_mode == "sequence"

    @property
    def return_state(self):
        return self.has_state_outputs

    def _rows(self):
        return self._DIRECTIONS * self._GATES * self.units

    def _rows_text(self):
        return f"{self._DIRECTIONS * self._GATES}*NumHiddenUnits"

    def _input_width(self, input_size):
        return self.input_projector_size if self._PROJECTED else input_size

    def _recurrent_width(self):
        return self.output_projector_size if self._PROJECTED else self.units

    def _matlab_shapes(self, input_size):
        """(expected shape, description) of every MATLAB-layout learnable and state."""
        rows, text = self._rows(), self._rows_text()
        in_text = "InputProjectorSize" if self._PROJECTED else "InputSize"
        rec_text = "OutputProjectorSize" if self._PROJECTED else "NumHiddenUnits"
        shapes = {
            "input_weights": ((rows, self._input_width(input_size)), "InputWeights",
                              f"({text}, {in_text})"),
            "recurrent_weights": ((rows, self._recurrent_width()), "RecurrentWeights",
                                  f"({text}, {rec_text})"),
            "bias": ((self._bias_chunks() * rows,), "Bias",
                     f"({self._bias_chunks() * self._DIRECTIONS * self._GATES}*NumHiddenUnits,)"),
        }
        if self._PROJECTED:
            shapes["input_projector"] = ((input_size, self.input_projector_size),
                                         "InputProjector", "(InputSize, InputProjectorSize)")
            shapes["output_projector"] = ((self.units, self.output_projector_size),
                                          "OutputProjector",
                                          "(NumHiddenUnits, OutputProjectorSize)")
        for argument, prop in self._STATES:
            shapes[argument] = ((self._DIRECTIONS * self.units,), prop, self._state_shape_text())
        return shapes

    def _check(self, key, value, input_size):
        shape, prop, text = self._matlab_shapes(input_size)[key]
        return _options.matlab_array(value, shape, matlab_property=prop, shape_text=text,
                                     where=self._where, allow_column=len(shape) == 1)

    # ---- Keras layer --------------------------------------------------------------------------
    def build(self, input_shape):
        sequence_shape = input_shape[0] if self.has_state_inputs else input_shape
        if len(sequence_shape) != 3 or sequence_shape[-1] is None:
            raise ValueError(
                f"{self._where}: expected input of shape (batch, time, features) with a known "
                f"number of features; received shape {tuple(sequence_shape)}."
            )
        input_size = int(sequence_shape[-1])
        self.input_size = input_size
        for key, value in self._explicit.items():  # fail before creating anything
            if value is not None:
                self._explicit[key] = self._check(key, value, input_size)
        rows = self._rows()
        given = {**self._pending, **{k: v for k, v in self._explicit.items() if v is not None}}
        init = {name: initializer_unless_given(self._initializers[name], given.get(key))
                for key, name in (
            ("input_weights", "input_weights_initializer"),
            ("recurrent_weights", "recurrent_weights_initializer"),
            ("bias", "bias_initializer"),
            ("input_projector", "input_projector_initializer"),
            ("output_projector", "output_projector_initializer"))
            if name in self._initializers}
        if self._PROJECTED:
            self.input_projector_variable = self.add_weight(
                shape=(input_size, self.input_projector_size), name="input_projector",
                initializer=init["input_projector_initializer"])
            self.output_projector_variable = self.add_weight(
                shape=(self.units, self.output_projector_size), name="output_projector",
                initializer=init["output_projector_initializer"])
        self.kernel = self.add_weight(shape=(self._input_width(input_size), rows), name="kernel",
                                      initializer=init["input_weights_initializer"])
        self.recurrent_kernel = self.add_weight(
            shape=(self._recurrent_width(), rows), name="recurrent_kernel",
            initializer=init["recurrent_weights_initializer"])
        self.bias_variable = self.add_weight(shape=(self._bias_chunks() * rows,), name="bias",
                                             initializer=init["bias_initializer"])
        self._state_variables = []
        if not self.has_state_inputs:
            for argument, _ in self._STATES:
                variable = self.add_weight(shape=(self._DIRECTIONS * self.units,), name=argument,
                                           initializer="zeros", trainable=False)
                if self._initial_states[argument] is not None:
                    variable.assign(self._initial_states[argument])
                self._state_variables.append(variable)
        self.built = True
        self._attach_l2()
        self._assign_matlab({k: v for k, v in self._explicit.items() if v is not None})

    def _l2_targets(self):

        chunks = self._bias_chunks()
        kind, factors = self._KIND, self._factors
        targets = [
            (self.kernel, layouts.factors_to_keras(kind, factors["input_weights_l2_factor"]), -1),
            (self.recurrent_kernel,
             layouts.factors_to_keras(kind, factors["recurrent_weights_l2_factor"]), -1),
            (self.bias_variable,
             layouts.factors_to_keras(kind, factors["bias_l2_factor"], chunks), -1),
        ]
        if self._PROJECTED:
            targets.append((self.input_projector_variable,
                            factors["input_projector_l2_factor"], -1))
            targets.append((self.output_projector_variable,
                            factors["output_projector_l2_factor"], -1))
        return targets

    def call(self, inputs, mask=None, initial_state=None, training=None):
        count = len(self._STATES)
        carry = None
        if initial_state is not None and not self.has_state_inputs:  # Keras-style states
            inputs = [inputs, *initial_state]
        if self.has_state_inputs or initial_state is not None:
            if not isinstance(inputs, (list, tuple)) or len(inputs) != 1 + count:
                names = ", ".join(["x"] + [a.split("_")[0] for a, _ in self._STATES])
                raise ValueError(
                    f"{self._where}: HasStateInputs is true, so the layer takes [{names}]; "
                    f"received {type(inputs).__name__}."
                )
            sequences, *states = inputs
            if isinstance(mask, (list, tuple)):
                mask = mask[0]
        else:
            sequences, carry = inputs, active_carry()
            given = None if carry is None else carry.start_states(self)
            if given is not None:  # run from given states (StateCarry)
                sequences, states = expand(sequences, given, self._where)
            else:
                states = self._initial_state_rows(ops.shape(sequences)[0], sequences.dtype)
            if training and self.chunk_carry is not None:  # split-sequence training
                states = self.chunk_carry.start(states)
        dtype = sequences.dtype
        weights = {"kernel": self.kernel, "recurrent_kernel": self.recurrent_kernel,
                   "bias": self.bias_variable}
        if self._PROJECTED:
            weights.update(input_projector=self.input_projector_variable,
                           output_projector=self.output_projector_variable)
        weights = {k: _in_dtype(v, dtype) for k, v in weights.items()}
        states = [_in_dtype(s, dtype) for s in states]
        results = list(self._recur(sequences, weights, states,
                                   mask if self.use_mask else None, training=bool(training)))
        if self.go_backwards and self.output_mode == "sequence":
            results[0] = ops.flip(results[0], axis=1)  # Keras's order for a backward layer
        if carry is not None:
            carry.record(self, self._next_carry(results[1:]))
        if training and self.chunk_carry is not None and carry is None:
            self.chunk_carry.keep(self._next_carry(results[1:]))
        return results if self.has_state_outputs else results[0]

    #: Split-sequence training (MATLAB's integer SequenceLength): a
    #: :class:`matkeras.data.ChunkCarry`, set by :class:`matkeras.data.CarryStateBetweenChunks`
    #: while ``fit`` runs, starts each chunk from the previous chunk's final states (no gradient
    #: through them) unless the chunk starts a new mini-batch. None: no carry.
    chunk_carry = None

    # ---- the stored state (MATLAB's stateful prediction) --------------------------------------
    @property
    def state_names(self):
        """``(argument, MATLAB property)`` of each state, in order: ``(("hidden_state",
        "HiddenState"), ("cell_state", "CellState"))`` for an LSTM."""
        return self._STATES

    @property
    def state_width(self):
        """The width of each state: ``D*H`` (D directions, H units)."""
        return self._DIRECTIONS * self.units

    @property
    def stored_state(self):
        """The state MATLAB's stateful prediction left in the layer: one numpy ``(rows, D*H)``
        array per state (rows 1 or one per observation), or None: the initial states (MATLAB's
        ``HiddenState``/``CellState`` as set or trained). Saved with the model; set it to
        continue from a known state (None resets). The arrays are read-only copies: assign new
        arrays to change the state, never write into these."""
        return self._remembered

    @stored_state.setter
    def stored_state(self, value):
        if value is None:
            self._remember(None)
            return
        arrays = [np.array(v, dtype=np.float64) for v in value]  # copies: kept read-only
        arrays = [a[None, :] if a.ndim == 1 else a for a in arrays]
        if len(arrays) != len(self._STATES) or any(
                a.ndim != 2 or a.shape[1] != self.state_width
                for a in arrays) or len({a.shape[0] for a in arrays}) > 1:
            raise ValueError(
                f"{self._where}: stored_state takes {len(self._STATES)} finite arrays "
                f"({', '.join(a for a, _ in self._STATES)}) of one shape (rows, "
                f"{self.state_width}); received shapes {[np.shape(v) for v in value]}.")
        self._check_finite(arrays)
        self._remember(arrays)

    def _check_finite(self, arrays):
        bad = [argument for (argument, _), a in zip(self._STATES, arrays, strict=True)
               if not np.isfinite(a).all()]
        if bad:
            raise ValueError(
                f"{self._where}: the state to store is not finite ({' and '.join(bad)} hold "
                "Inf or NaN). A stateful prediction whose recurrence overflowed leaves such a "
                "state, and every later output would be NaN: the layer keeps the state it had. "
                "reset_state() goes back to the initial states; inputs on a smaller scale or a "
                "float64 network keep the recurrence finite.")

    def __setattr__(self, name, value):
        if name == "stored_state":  # straight to the setter: Keras's tracking of every
            type(self).stored_state.fset(self, value)  # assignment costs ~0.1 ms a call
            return
        super().__setattr__(name, value)

    def _remember(self, arrays, tensors=None):
        # a plain attribute: Keras's attribute tracking (it wraps lists, about 0.1 ms a call)
        # has nothing to track in numpy arrays; they are saved by save_own_variables. Read-only,
        # so that `tensors` (the same values as the backend's tensors the last call left, which
        # the next call starts from: stored_tensors) cannot fall out of step with them.
        for array in arrays or ():
            array.flags.writeable = False
        object.__setattr__(self, "_remembered", arrays)
        object.__setattr__(self, "_stored_tensors", None if tensors is None else (arrays, tensors))

    _stored_tensors = None

    def store_state(self, tensors):
        """Stores the final states of a stateful call (one backend ``(rows, D*H)`` tensor per
        state, in the layer's compute dtype) as :attr:`stored_state`, checked as its setter
        checks, and keeps the tensors for the next call to start from (:meth:`stored_tensors`:
        the same values, without converting them back)."""
        arrays = [np.asarray(t, dtype=np.float64) for t in tensors]
        self._check_finite(arrays)
        self._remember(arrays, list(tensors))

    def stored_tensors(self):
        """The stored state as the tensors a stateful call left (in the layer's compute dtype),
        or None when none are kept for the present :attr:`stored_state`."""
        kept = self._stored_tensors
        return kept[1] if kept is not None and kept[0] is self._remembered else None

    def initial_state_values(self):
        """The initial states as numpy ``(D*H,)`` arrays (``HiddenState``, ``CellState``)."""
        return [ops.convert_to_numpy(v) for v in self._state_variables]

    def start_state_values(self):
        """Where the next stateful call starts: :attr:`stored_state`, else the initial states
        as one row each."""
        if self._remembered is not None:
            return [np.array(v) for v in self._remembered]
        return [v[None, :] for v in self.initial_state_values()]

    def reset_state(self):
        """MATLAB's ``resetState`` for this layer: back to the initial states."""
        self._remember(None)

    def _initial_state_rows(self, rows, dtype):
        width = self._DIRECTIONS * self.units
        return [ops.broadcast_to(_in_dtype(v, dtype)[None, :], (rows, width))
                for v in self._state_variables]

    # The state predict_and_update_state left behind: numpy ``(rows, D*H)`` per state, or None
    # (the initial states). Saved with the model beside the variables.
    _remembered = None
    _REMEMBERED = "remembered_"

    def save_own_variables(self, store):
        super().save_own_variables(store)
        if self._remembered is not None:
            for (argument, _), value in zip(self._STATES, self._remembered, strict=True):
                store[self._REMEMBERED + argument] = value

    def load_own_variables(self, store):
        keys = list(store.keys())
        remembered = [self._REMEMBERED + argument for argument, _ in self._STATES]
        self._remember([np.array(store[key]) for key in remembered]
                       if any(key in keys for key in remembered) else None)
        super().load_own_variables({k: store[k] for k in keys if k not in remembered})

    def _next_carry(self, final_states):
        """The states a stateful call leaves behind (BiLSTM overrides: forward half only)."""
        return list(final_states)

    def _recur(self, sequences, weights, states, mask, training=False):
        """Returns ``(output, *final_states)`` in original time order (`training`: the result
        will be differentiated, which some ops use to pick a faster backward pass)."""
        raise NotImplementedError

    def _op_options(self, mask):
        """The keyword arguments every op takes, from this layer's options."""
        return {"state_activation": self.state_activation,
                "gate_activation": self.gate_activation,
                "return_sequences": self.output_mode == "sequence", "mask": mask,
                "go_backwards": self.go_backwards}

    def compute_mask(self, inputs, mask=None):
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        output_mask = mask if (self.use_mask and self.output_mode == "sequence") else None
        if self.has_state_outputs:
            return [output_mask] + [None] * len(self._STATES)
        return output_mask

    def compute_output_shape(self, input_shape):
        sequence_shape = input_shape[0] if self.has_state_inputs else input_shape
        batch, time = sequence_shape[0], sequence_shape[1]
        width = self._DIRECTIONS * self.units
        output = (batch, time, width) if self.output_mode == "sequence" else (batch, width)
        if self.has_state_outputs:
            return (output, *[(batch, width)] * len(self._STATES))
        return output

    def get_config(self):
        config = super().get_config()
        config.update({
            "units": self.units,
            "output_mode": self.output_mode,
            "state_activation": self.state_activation,
            "gate_activation": self.gate_activation,
            "has_state_inputs": self.has_state_inputs,
            "has_state_outputs": self.has_state_outputs,
            "l2_regularization": self._l2_regularization,
            "use_mask": self.use_mask,
            "go_backwards": self.go_backwards,
        })
        for argument, _ in self._STATES:
            value = self._initial_states[argument]
            config[argument] = None if value is None else [float(v) for v in value]
        for argument, value in self._initializer_args.items():
            config[argument] = initializers.serialize(value)
        config.update(self._factors)
        config.update(self._learn_rate_config())
        return config

    def _learn_rate_parameters(self):
        parameters = {"input_weights": ("InputWeights", "kernel", True),
                      "recurrent_weights": ("RecurrentWeights", "recurrent_kernel", True),
                      "bias": ("Bias", "bias_variable", True)}
        if self._PROJECTED:
            parameters.update(
                input_projector=("InputProjector", "input_projector_variable", False),
                output_projector=("OutputProjector", "output_projector_variable", False))
        return parameters

    # ---- MATLAB-layout views ------------------------------------------------------------------
    def _matlab_rows(self):
        names = ["input_weights", "recurrent_weights", "bias"]
        if self._PROJECTED:
            names += ["input_projector", "output_projector"]
        rows = [(prop, name, name, "learnable") for name, (_, prop, _) in
                ((n, self._matlab_shapes(0)[n]) for n in names)]
        if not self.has_state_inputs:
            rows += [(prop, argument, argument, "state") for argument, prop in self._STATES]
        return rows

    def _require_built(self, what):
        if not self.built:
            raise ValueError(
                f"{self._where}: {what} is not set yet: the layer has no input size until it is "
                "built. Call the layer on data, or set weights with set_matlab_weights()."
            )

    def _matlab_value(self, key):
        """The MATLAB-layout numpy value of a learnable or state."""

        prop = {"input_weights": "InputWeights", "recurrent_weights": "RecurrentWeights",
                "bias": "Bias", "input_projector": "InputProjector",
                "output_projector": "OutputProjector"}.get(key)
        if key in dict(self._STATES):
            if self.has_state_inputs:
                return None
            if not self.built:
                value = self._initial_states[key]
                return np.zeros(self._DIRECTIONS * self.units) if value is None else value.copy()
            index = [a for a, _ in self._STATES].index(key)
            return ops.convert_to_numpy(self._state_variables[index])
        self._require_built(prop)
        if key == "input_weights":
            return layouts.weights_to_matlab(self._KIND, ops.convert_to_numpy(self.kernel))
        if key == "recurrent_weights":
            return layouts.weights_to_matlab(self._KIND,
                                             ops.convert_to_numpy(self.recurrent_kernel))
        if key == "bias":
            return layouts.bias_to_matlab(self._KIND, ops.convert_to_numpy(self.bias_variable),
                                          self._bias_chunks())
        return ops.convert_to_numpy(getattr(self, f"{key}_variable"))

    @property
    def input_weights(self):
        """MATLAB ``InputWeights`` (gates*H, C), MATLAB gate order (a numpy copy)."""
        return self._matlab_value("input_weights")

    @input_weights.setter
    def input_weights(self, value):
        self.set_matlab_weights(input_weights=value)

    @property
    def recurrent_weights(self):
        """MATLAB ``RecurrentWeights`` (gates*H, H) (a numpy copy)."""
        return self._matlab_value("recurrent_weights")

    @recurrent_weights.setter
    def recurrent_weights(self, value):
        self.set_matlab_weights(recurrent_weights=value)

    @property
    def bias(self):
        """MATLAB ``Bias`` (a numpy copy). The Keras variable is ``bias_variable``."""
        return self._matlab_value("bias")

    @bias.setter
    def bias(self, value):
        self.set_matlab_weights(bias=value)

    @property
    def hidden_state(self):
        """MATLAB ``HiddenState``: the initial hidden state, or None with state inputs."""
        return self._matlab_value("hidden_state")

    def set_matlab_weights(self, **values):
        """Sets learnables and initial states from MATLAB-layout arrays, checking their shapes.

        Keywords are the MATLAB properties in snake case (``input_weights``,
        ``recurrent_weights``, ``bias``, the states, and the projectors of projected layers).
        Builds the layer from the input size the values imply if it is not built yet.
        """
        known = set(self._matlab_shapes(0))
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"{self._where}: unknown MATLAB properties {unknown}; expected some "
                             f"of {sorted(known)}.")
        values = {k: v for k, v in values.items() if v is not None}
        if not self.built:
            source = "input_projector" if self._PROJECTED else "input_weights"
            if source not in values:
                self._require_built("the layer's weights")
            value = np.asarray(values[source])
            size = value.shape[0 if self._PROJECTED else -1] if value.ndim == 2 else None
            if size is None:
                self._check(source, value, 0)
            shape = (None, None, int(size))
            if self.has_state_inputs:
                shape = [shape] + [(None, self._DIRECTIONS * self.units)] * len(self._STATES)
            self._pending = values
            try:
                self.build(shape)
            finally:
                self._pending = {}
        self._assign_matlab(values)

    def _assign_matlab(self, values):

        checked = {k: self._check(k, v, self.input_size) for k, v in values.items()}
        for key in checked:
            if key in dict(self._STATES) and self.has_state_inputs:
                raise ValueError(f"{self._where}: {dict(self._STATES)[key]} cannot be set when "
                                 "HasStateInputs is true.")
        for key, value in checked.items():
            if key == "input_weights":
                self.kernel.assign(layouts.weights_to_keras(self._KIND, value))
            elif key == "recurrent_weights":
                self.recurrent_kernel.assign(layouts.weights_to_keras(self._KIND, value))
            elif key == "bias":
                self.bias_variable.assign(
                    layouts.bias_to_keras(self._KIND, value, self._bias_chunks()))
            elif key in dict(self._STATES):
                index = [a for a, _ in self._STATES].index(key)
                self._state_variables[index].assign(value)
            else:
                getattr(self, f"{key}_variable").assign(value)


def _in_dtype(value, dtype):
    """`value` (a variable or a tensor) as a tensor of `dtype` (a tensor's dtype): cast only where
    it differs (Keras's cast costs about 10 us a call on PyTorch when nothing changes). On
    TensorFlow a variable is always read into a tensor: its ``value`` is the ``tf.Variable``,
    which the loop's shared compiled function must not capture."""
    if isinstance(value, keras.Variable):
        if keras.backend.backend() == "tensorflow":
            return ops.cast(value, dtype)
        value = value.value
    return value if value.dtype == dtype else ops.cast(value, dtype)
