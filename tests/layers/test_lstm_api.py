"""matkeras.layers.LSTM: MATLAB-layout properties, argument errors, serialization, L2 penalties."""


import keras
import numpy as np
import pytest

import matkeras
from matkeras.layers import LSTM, MatlabL2, set_l2_regularization
from tests import tolerances as tol
from tests.fresh_reload import reload_case
from tests.layers.lstm_helpers import random_lstm_params, random_sequences


class TestLSTMMatlabLayout:
    def test_matlab_properties_return_what_was_set(self, rng):
        params = random_lstm_params(rng, 3, 4)
        layer = LSTM(4)
        layer.set_matlab_weights(**params)
        np.testing.assert_array_equal(layer.input_weights, params["input_weights"].astype("f4"))
        np.testing.assert_array_equal(layer.recurrent_weights,
                                      params["recurrent_weights"].astype("f4"))
        np.testing.assert_array_equal(layer.bias, params["bias"].astype("f4"))

    def test_keras_variables_hold_the_transposed_matlab_weights(self, rng):
        params = random_lstm_params(rng, 3, 4)
        layer = LSTM(4, dtype="float64")
        layer.set_matlab_weights(**params)
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer.kernel),
                                      params["input_weights"].T)
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer.recurrent_kernel),
                                      params["recurrent_weights"].T)
        assert [w.name for w in layer.weights] == [
            "kernel", "recurrent_kernel", "bias", "hidden_state", "cell_state"]

    def test_constructor_weights_and_property_setters(self, rng):
        params = random_lstm_params(rng, 3, 4)
        layer = LSTM(4, dtype="float64", **params)
        layer(np.zeros((1, 2, 3)))
        np.testing.assert_array_equal(layer.input_weights, params["input_weights"])
        layer.bias = params["bias"][:, None] * 2  # a MATLAB column vector is accepted
        np.testing.assert_array_equal(layer.bias, params["bias"] * 2)
        layer.recurrent_weights = params["recurrent_weights"] + 1
        np.testing.assert_array_equal(layer.recurrent_weights, params["recurrent_weights"] + 1)

    def test_initial_states_are_matlab_properties(self):
        layer = LSTM(3, hidden_state=[1.0, 2.0, 3.0], cell_state=np.ones((3, 1)))
        np.testing.assert_array_equal(layer.hidden_state, [1.0, 2.0, 3.0])
        layer(np.zeros((2, 1, 2), "float32"))
        np.testing.assert_array_equal(layer.hidden_state, [1.0, 2.0, 3.0])
        np.testing.assert_array_equal(layer.cell_state, [1.0, 1.0, 1.0])
        assert LSTM(3, has_state_inputs=True).hidden_state is None

    def test_default_initializers_are_matlab_defaults(self):
        layer = LSTM(6)
        layer.build((None, None, 4))
        bias = layer.bias
        np.testing.assert_array_equal(bias[6:12], 1.0)  # unit-forget-gate
        np.testing.assert_array_equal(np.delete(bias, np.s_[6:12]), 0.0)
        recurrent = layer.recurrent_weights  # orthogonal columns (4H x H)
        np.testing.assert_allclose(recurrent.T @ recurrent, np.eye(6),
                                   atol=tol.ORTHOGONALITY_ATOL)
        np.testing.assert_array_equal(layer.hidden_state, np.zeros(6))


class TestLSTMErrors:
    @pytest.mark.parametrize(
        "kwargs,message",
        [
            ({"units": 0}, "NumHiddenUnits"),
            ({"units": 2.5}, "NumHiddenUnits"),
            ({"units": 4, "output_mode": "all"}, "'OutputMode') must be one of"),
            ({"units": 4, "state_activation": "sigmoid"}, "StateActivationFunction"),
            ({"units": 4, "gate_activation": "hard_sigmoid"}, "GateActivationFunction"),
            ({"units": 4, "has_state_inputs": "yes"}, "HasStateInputs"),
            ({"units": 4, "input_weights_initializer": "xavier"}, "InputWeightsInitializer"),
            ({"units": 4, "bias_initializer": "glorot"}, "BiasInitializer"),
            ({"units": 4, "input_weights_l2_factor": [1, 2]}, "InputWeightsL2Factor"),
            ({"units": 4, "bias_l2_factor": -1}, "BiasL2Factor"),
            ({"units": 4, "l2_regularization": float("nan")}, "L2Regularization"),
            ({"units": 4, "hidden_state": np.zeros(3)}, "HiddenState has shape (3,)"),
            ({"units": 4, "has_state_inputs": True, "cell_state": np.zeros(4)},
             "must be empty when HasStateInputs"),
            ({"units": 4, "recurrent_weights": np.zeros((16, 3))},
             "RecurrentWeights has shape (16, 3); expected (4*NumHiddenUnits, NumHiddenUnits)"),
            ({"units": 4, "bias": np.full(16, np.nan)}, "Bias contains 16 NaN or Inf"),
        ],
        ids=lambda v: v if isinstance(v, str) else None,
    )
    def test_bad_arguments_name_the_matlab_property(self, kwargs, message):
        with pytest.raises(ValueError, match=_literal(message)):
            LSTM(**kwargs)

    def test_error_says_received_and_expected(self):
        with pytest.raises(ValueError) as info:
            LSTM(4, output_mode="seq", name="lstm1")
        assert str(info.value) == (
            "LSTM layer 'lstm1': output_mode (MATLAB 'OutputMode') must be one of \"sequence\", "
            "\"last\"; received 'seq'."
        )

    def test_input_weights_must_match_input_size(self):
        layer = LSTM(4, input_weights=np.zeros((16, 5)), name="lstm")
        with pytest.raises(ValueError, match=_literal(
                "InputWeights has shape (16, 5); expected (4*NumHiddenUnits, InputSize) = "
                "(16, 3).")):
            layer(np.zeros((1, 2, 3), "float32"))

    def test_set_matlab_weights_checks_shapes(self):
        layer = LSTM(4)
        layer.build((None, None, 3))
        with pytest.raises(ValueError, match=_literal("InputWeights has shape (12, 3)")):
            layer.set_matlab_weights(input_weights=np.zeros((12, 3)))

    def test_weights_before_build_raise_clear_error(self):
        with pytest.raises(ValueError, match="no input size until it is built"):
            _ = LSTM(4).input_weights

    def test_input_must_be_three_dimensional(self):
        with pytest.raises(ValueError, match=_literal("expected input of shape (batch, time, "
                                                      "features)")):
            LSTM(4)(np.zeros((2, 3), "float32"))

    def test_state_inputs_need_three_tensors(self):
        layer = LSTM(4, has_state_inputs=True)
        with pytest.raises(ValueError, match="takes \\[x, hidden, cell\\]"):
            layer.build([(None, 2, 3), (None, 4), (None, 4)])
            layer.call(np.zeros((1, 2, 3), "float32"))


class TestLSTMSerialization:
    def test_config_round_trip(self):
        layer = LSTM(5, output_mode="last", state_activation="softsign",
                     gate_activation="hard-sigmoid", has_state_outputs=True,
                     hidden_state=np.arange(5.0), input_weights_initializer="he",
                     bias_initializer="narrow-normal", input_weights_l2_factor=[1, 2, 3, 4],
                     l2_regularization=1e-3, use_mask=True, name="my_lstm")
        config = layer.get_config()
        clone = LSTM.from_config(config)
        assert clone.get_config() == config
        assert config["hidden_state"] == [0.0, 1.0, 2.0, 3.0, 4.0]
        restored = keras.layers.deserialize(keras.layers.serialize(layer))
        assert isinstance(restored, LSTM) and restored.get_config() == config

    def test_safe_mode_load_needs_no_unsafe_deserialization(self, tmp_path):
        inputs = keras.Input((None, 2))
        model = keras.Model(inputs, LSTM(3)(inputs))
        model.save(tmp_path / "m.keras")
        reloaded = keras.models.load_model(tmp_path / "m.keras", safe_mode=True)
        assert isinstance(reloaded.layers[-1], matkeras.layers.LSTM)


class TestLSTMRegularization:
    def test_penalty_is_matlab_half_lambda_factor_sum_of_squares(self, rng):
        params = random_lstm_params(rng, 3, 4)
        factors = [0.5, 1.0, 2.0, 3.0]
        layer = LSTM(4, dtype="float64", l2_regularization=1e-2,
                     input_weights_l2_factor=factors, recurrent_weights_l2_factor=0.7,
                     bias_l2_factor=0.3, **params)
        layer(np.zeros((1, 1, 3)))
        W, R, b = params["input_weights"], params["recurrent_weights"], params["bias"]
        expected = 0.5 * 1e-2 * (
            sum(f * np.sum(block ** 2) for f, block in zip(factors, np.split(W, 4), strict=True))
            + 0.7 * np.sum(R ** 2) + 0.3 * np.sum(b ** 2)
        )
        got = sum(float(keras.ops.convert_to_numpy(loss)) for loss in layer.losses)
        assert abs(got - expected) <= 1e-12 * max(1.0, expected)

    def test_bias_has_no_penalty_by_default(self):
        layer = LSTM(4)
        layer.build((None, None, 3))
        assert layer.bias_variable.regularizer is None
        assert isinstance(layer.kernel.regularizer, MatlabL2)
        assert layer.kernel.regularizer.l2_regularization == 1e-4

    def test_set_l2_regularization_updates_every_matkeras_layer(self):
        inputs = keras.Input((None, 3))
        x = LSTM(4, name="a")(inputs)
        outputs = LSTM(2, name="b", output_mode="last")(x)
        model = keras.Model(inputs, outputs)
        set_l2_regularization(model, 0.0)
        assert all(layer.kernel.regularizer is None for layer in model.layers[1:])
        assert model.losses == []
        set_l2_regularization(model, 3e-3)
        assert model.get_layer("b").recurrent_kernel.regularizer.l2_regularization == 3e-3
        with pytest.raises(ValueError, match="L2Regularization"):
            set_l2_regularization(model, -1)


class TestLSTMTraining:
    def test_gradients_match_finite_differences_through_hard_sigmoid_and_softsign(self, rng):
        import tensorflow as tf

        params = random_lstm_params(rng, 2, 3)
        layer = LSTM(3, dtype="float64", state_activation="softsign",
                     gate_activation="hard-sigmoid", l2_regularization=0.0, **params)
        x = tf.constant(random_sequences(rng, 2, 6, 2))
        layer(x)
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(layer(x) ** 2)
        gradient = tape.gradient(loss, layer.kernel).numpy()
        base = layer.kernel.numpy()
        numeric = np.zeros_like(base)
        eps = 1e-6
        for index in np.ndindex(base.shape):
            for sign in (1, -1):
                shifted = base.copy()
                shifted[index] += sign * eps
                layer.kernel.assign(shifted)
                numeric[index] += sign * float(tf.reduce_sum(layer(x) ** 2)) / (2 * eps)
        layer.kernel.assign(base)
        assert np.max(np.abs(gradient - numeric)) <= 1e-6


def _literal(text):
    import re

    return re.escape(text)


@reload_case
def lstm_with_states(rng):
    """An LSTM with state outputs and initial states (tests/test_fresh_process_reload.py)."""
    inputs = keras.Input((None, 3))
    y, h, c = LSTM(4, gate_activation="hard-sigmoid", has_state_outputs=True,
                   hidden_state=rng.normal(size=4), cell_state=rng.normal(size=4),
                   name="lstm")(inputs)
    model = keras.Model(inputs, [y, h, c])
    return (model, random_sequences(rng, 2, 9, 3).astype("float32"),
            {"type(model.get_layer('lstm')).__module__": "matkeras.layers.lstm"})


def test_only_the_values_given_skip_their_initializers():
    """Variables built with a MATLAB value assigned right after start as zeros (loading skips
    the orthogonal initializer's QR); the others keep their random initializers, and the
    config keeps every initializer."""
    keras.utils.set_random_seed(4)
    weights = np.arange(24.0).reshape(8, 3) / 10
    layer = LSTM(2, input_weights=weights)
    layer.build((None, None, 3))
    np.testing.assert_array_equal(layer.input_weights, weights.astype("float32"))
    assert np.all(np.abs(layer.recurrent_weights) > 0)  # orthogonal: no zero entries here
    assert layer.get_config()["input_weights_initializer"] == "glorot"
    loaded = LSTM(2)
    loaded.set_matlab_weights(input_weights=weights, bias=np.ones(8))
    np.testing.assert_array_equal(loaded.bias, np.ones(8))
    assert np.all(np.abs(loaded.recurrent_weights) > 0)
