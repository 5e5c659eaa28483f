"""The recurrent family's contract: projections, MATLAB properties, errors, serialization."""

import re

import keras
import numpy as np
import pytest

from matkeras.layers import GRU, LSTM, BiLSTM, GRUProjected, LSTMProjected
from tests import tolerances as tol
from tests.fresh_reload import reload_case
from tests.layers.family_specs import MODES, P_IN, P_OUT, SPECS, C, H

PROJECTED = [s for s in SPECS if s.projected]


class TestProjectedLayers:
    @pytest.mark.parametrize("output_mode", ["sequence", "last"])
    @pytest.mark.parametrize("spec", PROJECTED, ids=repr)
    def test_equals_its_unprojected_layer(self, rng, spec, output_mode):
        layer = spec.make(output_mode=output_mode, has_state_outputs=True,
                          **dict(zip(spec.state_names, spec.random_states(rng), strict=True)))
        layer.set_matlab_weights(**spec.random_params(rng))
        x = rng.normal(0, 1, (4, 40, C)).astype("float32")
        plain = layer.to_unprojected()
        assert type(plain) is (LSTM if spec.cell else GRU)
        assert plain.input_weights.shape == (spec.gates * H, C)
        for got, want in zip(layer(x), plain(x), strict=True):
            assert np.max(np.abs(keras.ops.convert_to_numpy(got - want))) <= tol.PROJECTION_ATOL

    @pytest.mark.parametrize("spec", PROJECTED, ids=repr)
    def test_learnable_count_is_matlabs(self, spec):
        layer = spec.make()
        layer.build((None, None, C))
        rows = spec.gates * H
        chunks = 2 if spec.mode == "recurrent-bias-after-multiplication" else 1
        # MATLAB: InputWeights + RecurrentWeights + Bias + InputProjector + OutputProjector
        expected = rows * P_IN + rows * P_OUT + chunks * rows + C * P_IN + H * P_OUT
        assert layer.count_matlab_learnables() == expected
        assert expected < rows * C + rows * H + chunks * rows  # the point of projecting

    def test_projectors_are_matlab_layout_properties(self, rng):
        layer = LSTMProjected(H, P_OUT, P_IN)
        params = {"input_projector": rng.normal(size=(C, P_IN)),
                  "output_projector": rng.normal(size=(H, P_OUT))}
        layer.set_matlab_weights(**params)
        np.testing.assert_allclose(layer.input_projector, params["input_projector"], rtol=1e-6)
        np.testing.assert_allclose(layer.output_projector, params["output_projector"], rtol=1e-6)
        assert layer.input_weights.shape == (4 * H, P_IN)
        assert layer.recurrent_weights.shape == (4 * H, P_OUT)

    def test_default_projectors_are_orthogonal(self):
        layer = GRUProjected(16, 4, 2)
        layer.build((None, None, 6))
        np.testing.assert_allclose(layer.input_projector.T @ layer.input_projector, np.eye(2),
                                   atol=tol.ORTHOGONALITY_ATOL)
        np.testing.assert_allclose(layer.output_projector.T @ layer.output_projector, np.eye(4),
                                   atol=tol.ORTHOGONALITY_ATOL)


class TestMatlabDefaults:
    def test_bilstm_initializes_the_stacked_matrices(self):
        keras.utils.set_random_seed(3)
        layer = BiLSTM(50)
        layer.build((None, None, 20))
        bias = layer.bias
        expected = np.zeros(400)
        expected[50:100] = expected[250:300] = 1.0  # both forget blocks
        np.testing.assert_array_equal(bias, expected)
        recurrent = layer.recurrent_weights  # 8H x H, orthonormal columns
        np.testing.assert_allclose(recurrent.T @ recurrent, np.eye(50),
                                   atol=tol.ORTHOGONALITY_ATOL)
        weights = layer.input_weights
        assert abs(np.var(weights) / (2.0 / (20 + 400)) - 1) <= tol.VARIANCE_RTOL
        assert layer.hidden_state.shape == (100,)

    def test_gru_bias_defaults_to_zeros_and_bias_length_follows_mode(self):
        for mode, length in zip(MODES, (12, 12, 24), strict=True):
            layer = GRU(4, reset_gate_mode=mode)
            layer.build((None, None, 3))
            np.testing.assert_array_equal(layer.bias, np.zeros(length))

    def test_gru_matlab_rows_are_r_z_h(self, rng):
        W = rng.normal(size=(12, 3))
        layer = GRU(4)
        layer.set_matlab_weights(input_weights=W)
        kernel = keras.ops.convert_to_numpy(layer.kernel)
        np.testing.assert_array_equal(kernel[:, :4], W[4:8].T.astype("float32"))  # Keras z first
        np.testing.assert_array_equal(layer.input_weights, W.astype("float32"))


class TestFamilyErrors:
    @pytest.mark.parametrize(
        "make,message",
        [
            (lambda: GRU(4, reset_gate_mode="after"), "'ResetGateMode') must be one of"),
            (lambda: GRU(4, bias_initializer="unit-forget-gate"), "'BiasInitializer'"),
            (lambda: GRU(4, reset_gate_mode="recurrent-bias-after-multiplication",
                         bias=np.zeros(12)),
             "Bias has shape (12,); expected (6*NumHiddenUnits,) = (24,)"),
            (lambda: GRU(4, cell_state=np.zeros(4)),
             "Unrecognized keyword arguments passed to GRU"),
            (lambda: BiLSTM(4, hidden_state=np.zeros(4)),
             "HiddenState has shape (4,); expected (2*NumHiddenUnits,) = (8,)"),
            (lambda: BiLSTM(4, bias_l2_factor=[1, 1, 1, 1]), "'BiasL2Factor') must be a"),
            (lambda: BiLSTM(4, backward_last_output="first"), "backward_last_output"),
            (lambda: LSTMProjected(4, 0, 2), "'OutputProjectorSize'"),
            (lambda: LSTMProjected(4, 2, 2, output_projector=np.zeros((4, 3))),
             "OutputProjector has shape (4, 3); expected (NumHiddenUnits, OutputProjectorSize)"),
        ],
    )
    def test_bad_arguments_are_named(self, make, message):
        with pytest.raises((ValueError, TypeError), match=re.escape(message)):
            make()

    def test_state_inputs_count_is_checked(self):
        layer = GRU(4, has_state_inputs=True)
        with pytest.raises(ValueError, match=re.escape("takes [x, hidden]")):
            layer.build([(None, 2, 3), (None, 4)])
            layer.call([np.zeros((1, 2, 3), "float32")])

    def test_unknown_matlab_property_in_set_matlab_weights(self):
        with pytest.raises(ValueError, match="unknown MATLAB properties \\['cell_state'\\]"):
            GRU(4).set_matlab_weights(input_weights=np.zeros((12, 3)), cell_state=np.zeros(4))


def _every_layer():
    return [
        LSTM(H, gate_activation="hard-sigmoid", name="lstm"),
        BiLSTM(H, output_mode="last", state_activation="softsign", name="bilstm",
               hidden_state=np.arange(2 * H) / 10),
        *[GRU(H, reset_gate_mode=m, name=f"gru{k}") for k, m in enumerate(MODES)],
        LSTMProjected(H, P_OUT, P_IN, name="lstm_projected"),
        GRUProjected(H, P_OUT, P_IN, reset_gate_mode="before-multiplication",
                     name="gru_projected"),
        keras.layers.Bidirectional(LSTM(H), name="bidirectional_lstm"),
    ]


class TestFamilySerialization:
    @pytest.mark.parametrize("layer", _every_layer()[:-1], ids=lambda layer: layer.name)
    def test_config_round_trip(self, layer):
        config = layer.get_config()
        clone = type(layer).from_config(config)
        assert clone.get_config() == config
        assert keras.layers.deserialize(keras.layers.serialize(layer)).get_config() == config


@reload_case
def every_recurrent_layer(rng):
    """Every recurrent layer of the family in one model (tests/test_fresh_process_reload.py)."""
    inputs = keras.Input((None, C))
    model = keras.Model(inputs, [layer(inputs) for layer in _every_layer()])
    return model, rng.normal(0, 1, (2, 7, C)).astype("float32"), {}
