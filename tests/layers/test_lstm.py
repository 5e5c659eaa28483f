"""matkeras.layers.LSTM against the independent MATLAB oracle, stock Keras and its own contract."""

import keras
import numpy as np
import pytest

from matkeras.layers import LSTM
from tests import tolerances as tol
from tests.layers.covering import recurrent_cases
from tests.layers.lstm_helpers import (
    from_hnt,
    random_lstm_params,
    random_sequences,
    to_cbt,
    wrb,
)
from tests.reference.lstm import lstm_forward

#: (time, batch): one step alone or in a batch, 2000 steps alone or in a batch; the activation
#: pairs at 9 steps in a batch of 7 (tests/layers/covering.py).
CASES = recurrent_cases(short=(9, 7), lengths=[(1, 1), (1, 7), (2000, 1), (2000, 7)],
                        long=(2000, 7), one_step=(1, 7))
ATOL = {"float64": tol.FLOAT64_ATOL, "float32": tol.FLOAT32_ATOL}
C, H = 3, 5


def _max_diff(a, b):
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


def _layer_with_params(params, dtype, **options):
    layer = LSTM(H, dtype=dtype, **options)
    layer.set_matlab_weights(**params)
    return layer


class TestLSTMMatchesOracle:
    @pytest.mark.parametrize(("state", "gate", "output_mode", "shape", "dtype"), CASES)
    def test_output_matches_oracle(self, rng, state, gate, output_mode, shape, dtype):
        time, batch = shape
        params = random_lstm_params(rng, C, H, state_activation=state)
        h0, c0 = rng.normal(0, 0.5, H), rng.normal(0, 0.5, H)
        x = random_sequences(rng, batch, time, C)
        layer = _layer_with_params(
            params, dtype, output_mode=output_mode, state_activation=state, gate_activation=gate,
            hidden_state=h0, cell_state=c0,
        )
        y = keras.ops.convert_to_numpy(layer(x.astype(dtype)))
        Y, hT, _ = lstm_forward(to_cbt(x), h0=h0, c0=c0, state_activation=state,
                                gate_activation=gate, **wrb(params))
        expected = from_hnt(Y) if output_mode == "sequence" else hT.T
        assert y.dtype == np.dtype(dtype)
        assert y.shape == expected.shape
        assert _max_diff(y, expected) <= ATOL[dtype]

    @pytest.mark.parametrize(("state", "gate", "output_mode", "shape", "dtype"), CASES)
    def test_state_inputs_and_outputs_match_oracle(self, rng, state, gate, output_mode, shape,
                                                   dtype):
        time, batch = shape
        params = random_lstm_params(rng, C, H, state_activation=state)
        h0, c0 = rng.normal(0, 0.5, (batch, H)), rng.normal(0, 0.5, (batch, H))
        x = random_sequences(rng, batch, time, C)
        layer = _layer_with_params(
            params, dtype, output_mode=output_mode, state_activation=state, gate_activation=gate,
            has_state_inputs=True, has_state_outputs=True,
        )
        y, h_t, c_t = (keras.ops.convert_to_numpy(t) for t in layer(
            [x.astype(dtype), h0.astype(dtype), c0.astype(dtype)]))
        Y, hT, cT = lstm_forward(to_cbt(x), h0=h0.T, c0=c0.T, state_activation=state,
                                 gate_activation=gate, **wrb(params))
        expected = from_hnt(Y) if output_mode == "sequence" else hT.T
        assert _max_diff(y, expected) <= ATOL[dtype]
        assert _max_diff(h_t, hT.T) <= ATOL[dtype]
        assert _max_diff(c_t, cT.T) <= ATOL[dtype]

    @pytest.mark.parametrize("implementation", ["while", "scan"])
    def test_every_loop_implementation_matches_oracle(self, rng, implementation):
        from matkeras.ops import matlab_lstm as lstm_op
        from matkeras.ops.lstm import IMPLEMENTATIONS

        assert implementation in IMPLEMENTATIONS
        params = random_lstm_params(rng, C, H)
        x = random_sequences(rng, 4, 50, C)
        h0, c0 = rng.normal(0, 0.5, (4, H)), rng.normal(0, 0.5, (4, H))
        arguments = (x, params["input_weights"].T, params["recurrent_weights"].T,
                     params["bias"], h0, c0)
        options = {"state_activation": "softsign", "gate_activation": "hard-sigmoid",
                   "implementation": implementation}
        if implementation == "while" and keras.backend.backend() != "tensorflow":
            with pytest.raises(ValueError, match="'while' is TensorFlow's tf.while_loop.*"
                                                 "use 'scan'"):
                lstm_op(*arguments, **options)
            return
        y, h_t, c_t = lstm_op(*arguments, **options)
        Y, hT, cT = lstm_forward(to_cbt(x), h0=h0.T, c0=c0.T, state_activation="softsign",
                                 gate_activation="hard-sigmoid", **wrb(params))
        assert _max_diff(y, from_hnt(Y)) <= tol.FLOAT64_ATOL
        assert _max_diff(c_t, cT.T) <= tol.FLOAT64_ATOL

    def test_mixed_float16_policy_matches_oracle(self, rng):
        previous = keras.config.dtype_policy()
        keras.config.set_dtype_policy("mixed_float16")
        try:
            params = random_lstm_params(rng, C, H)
            layer = LSTM(H, state_activation="softsign")
            layer.set_matlab_weights(**params)
            x = random_sequences(rng, 3, 40, C)
            y = keras.ops.convert_to_numpy(layer(x.astype("float32")))
            weights_dtype = layer.kernel.dtype
        finally:
            keras.config.set_dtype_policy(previous)
        stored = {  # the oracle sees the float32 values the variables hold
            "input_weights": layer.input_weights, "recurrent_weights": layer.recurrent_weights,
            "bias": layer.bias,
        }
        Y, _, _ = lstm_forward(to_cbt(x), state_activation="softsign", **wrb(stored))
        assert y.dtype == np.float16
        assert weights_dtype == "float32"
        assert _max_diff(y, from_hnt(Y)) <= tol.MIXED_FLOAT16_ATOL

    def test_last_output_includes_right_padding(self, rng):
        params = random_lstm_params(rng, C, H)
        x = random_sequences(rng, 2, 6, C)
        x[1, 3:] = 0.0  # observation 2 is 3 steps long, right-padded with zeros
        layer = _layer_with_params(params, "float64", output_mode="last")
        y = keras.ops.convert_to_numpy(layer(x))
        _, h_padded, _ = lstm_forward(to_cbt(x[1:2]), **wrb(params))
        _, h_unpadded, _ = lstm_forward(to_cbt(x[1:2, :3]), **wrb(params))
        assert _max_diff(y[1], h_padded[:, 0]) <= tol.FLOAT64_ATOL
        assert _max_diff(y[1], h_unpadded[:, 0]) > 1e-3  # MATLAB runs through the padding

    def test_keras_mask_is_ignored_by_default_as_matlab_does(self, rng):
        params = random_lstm_params(rng, C, H)
        x = random_sequences(rng, 2, 6, C)
        x[1, 3:] = 0.0
        inputs = keras.Input((None, C), dtype="float64")
        masked = keras.layers.Masking(0.0, dtype="float64")(inputs)
        layer = _layer_with_params(params, "float64", output_mode="last")
        model = keras.Model(inputs, layer(masked))
        y = keras.ops.convert_to_numpy(model(x))  # predict() would cast the data to float32
        _, hT, _ = lstm_forward(to_cbt(x), **wrb(params))
        assert _max_diff(y, hT.T) <= tol.FLOAT64_ATOL


class TestLSTMAgreesWithStockKeras:
    @pytest.mark.parametrize("return_sequences", [True, False])
    @pytest.mark.parametrize(
        "state,gate",
        [("tanh", "sigmoid"), ("softsign", "sigmoid"), ("relu", "sigmoid"),
         ("tanh", "hard-sigmoid")],
    )
    def test_stock_lstm_with_transposed_weights_gives_same_output(self, rng, state, gate,
                                                                   return_sequences):
        params = random_lstm_params(rng, C, H, state_activation=state)
        x = random_sequences(rng, 4, 30, C).astype("float32")
        gate_fn = "sigmoid" if gate == "sigmoid" else (
            lambda z: keras.ops.clip(0.2 * z + 0.5, 0.0, 1.0))
        stock = keras.layers.LSTM(H, activation=state, recurrent_activation=gate_fn,
                                  return_sequences=return_sequences)
        stock.build((None, None, C))
        stock.set_weights([params["input_weights"].T, params["recurrent_weights"].T,
                           params["bias"]])
        mine = _layer_with_params(params, "float32", state_activation=state,
                                  gate_activation=gate,
                                  output_mode="sequence" if return_sequences else "last")
        assert _max_diff(mine(x), stock(x)) <= tol.FLOAT32_PAIR_ATOL

    def test_use_mask_matches_stock_keras_masking(self, rng):
        params = random_lstm_params(rng, C, H)
        x = random_sequences(rng, 3, 8, C).astype("float32")
        x[0, 5:] = 0.0
        x[2, 2:] = 0.0
        outputs = {}
        for name in ("stock", "matkeras"):
            inputs = keras.Input((None, C))
            masked = keras.layers.Masking(0.0)(inputs)
            if name == "stock":
                layer = keras.layers.LSTM(H, return_sequences=False)
                layer.build((None, None, C))
                layer.set_weights([params["input_weights"].T, params["recurrent_weights"].T,
                                   params["bias"]])
            else:
                layer = _layer_with_params(params, "float32", output_mode="last", use_mask=True)
            outputs[name] = keras.Model(inputs, layer(masked)).predict(x, verbose=0)
        _, h_short, _ = lstm_forward(to_cbt(x[2:3, :2]), **wrb(params))
        assert _max_diff(outputs["matkeras"], outputs["stock"]) <= tol.FLOAT32_PAIR_ATOL
        assert _max_diff(outputs["matkeras"][2], h_short[:, 0]) <= tol.FLOAT32_ATOL
