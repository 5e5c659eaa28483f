"""Wrong data into matkeras.inference.predict / classify is stopped before anything runs, with a
message that says what was received, what the network takes and how to fix it."""

import keras
import pytest

from matkeras import assemble_network, inference
from matkeras.matlab import (
    classificationLayer,
    fullyConnectedLayer,
    lstmLayer,
    sequenceInputLayer,
    softmaxLayer,
)


@pytest.fixture(scope="module")
def network():
    keras.utils.set_random_seed(7)
    return assemble_network([sequenceInputLayer(3), lstmLayer(5, OutputMode="last"),
                             fullyConnectedLayer(2), softmaxLayer(), classificationLayer()])


class TestFeatureShapeCheck:
    def test_four_features_for_a_three_feature_network(self, network, rng):
        with pytest.raises(ValueError) as caught:
            inference.predict(network, rng.normal(size=(50, 4)))
        message = str(caught.value)
        assert "Sequence 0 has shape (50, 4)" in message
        assert "takes 3 features per time step" in message and "InputSize" in message
        assert "(None, None, 3)" in message and "layout=" not in message.split("Give")[0]
        assert "Give each sequence as a (T, 3) array" in message

    def test_matlab_c_by_t_matrix_suggests_layout_ct(self, network, rng):
        with pytest.raises(ValueError, match=r"has shape \(3, 50\).*pass layout='CT'"):
            inference.predict(network, rng.normal(size=(3, 50)))
        scores = inference.predict(network, rng.normal(size=(3, 50)), layout="CT")  # the fix
        assert scores.shape == (1, 2)

    def test_t_by_c_data_with_layout_ct_suggests_tc(self, network, rng):
        with pytest.raises(ValueError, match=r"has shape \(50, 3\).*pass layout='TC'"):
            inference.predict(network, rng.normal(size=(50, 3)), layout="CT")

    def test_classify_and_lists_are_checked_too(self, network, rng):
        sequences = [rng.normal(size=(4, 9)), rng.normal(size=(6, 9))]
        with pytest.raises(ValueError, match="Sequence 0 has shape .4, 9.*takes 3 features"):
            inference.classify(network, sequences)
        with pytest.raises(ValueError, match=r"Sequence 0 has shape \(20, 4\)"):
            inference.predict(network, rng.normal(size=(2, 20, 4)))  # an (N, T, C) array

    def test_image_sequences_are_checked_per_step(self, rng):
        inputs = keras.Input((None, 4, 4, 2))
        outputs = keras.layers.TimeDistributed(keras.layers.Flatten())(inputs)
        model = keras.Model(inputs, outputs)
        assert inference.predict(model, rng.normal(size=(3, 4, 4, 2))).shape == (3, 32)
        with pytest.raises(ValueError, match=r"takes time steps of shape \(4, 4, 2\)"):
            inference.predict(model, rng.normal(size=(3, 4, 4, 3)))

    def test_right_data_still_runs(self, network, rng):
        labels, scores = inference.classify(network, [rng.normal(size=(7, 3))])
        assert scores.shape == (1, 2) and labels.shape == (1,)
