"""MATLAB layer arrays through matkeras.matlab and assemble_network: the seed's networks."""

import keras
import numpy as np
import pytest

from matkeras import assemble_network
from matkeras import layers as L
from matkeras.matlab import (
    batchNormalizationLayer,
    classificationLayer,
    connectLayers,
    convolution2dLayer,
    dropoutLayer,
    flattenLayer,
    fullyConnectedLayer,
    layerGraph,
    lstmLayer,
    regressionLayer,
    reluLayer,
    sequenceFoldingLayer,
    sequenceInputLayer,
    sequenceUnfoldingLayer,
    softmaxLayer,
)

F, H, K, R, N, T = 6, 12, 4, 2, 8, 9


def _sequence_to_label_classification():
    return [sequenceInputLayer(F), lstmLayer(H, "OutputMode", "last"), fullyConnectedLayer(K),
            softmaxLayer(), classificationLayer()]


def _sequence_to_sequence_classification():
    return [sequenceInputLayer(F), lstmLayer(H, "OutputMode", "sequence"),
            fullyConnectedLayer(K), softmaxLayer(), classificationLayer()]


def _sequence_to_one_regression():
    return [sequenceInputLayer(F), lstmLayer(H, "OutputMode", "last"), fullyConnectedLayer(R),
            regressionLayer()]


def _sequence_to_sequence_regression():
    return [sequenceInputLayer(F), lstmLayer(H, "OutputMode", "sequence"),
            fullyConnectedLayer(R), regressionLayer()]


def _deeper_with_dropout():
    return [sequenceInputLayer(F), lstmLayer(H, "OutputMode", "sequence"), dropoutLayer(0.2),
            lstmLayer(H // 2, "OutputMode", "last"), dropoutLayer(0.2), fullyConnectedLayer(K),
            softmaxLayer(), classificationLayer()]


def _video():
    layers = [
        sequenceInputLayer([16, 16, 3], "Name", "input"), sequenceFoldingLayer("Name", "fold"),
        convolution2dLayer(5, 8, "Name", "conv"), batchNormalizationLayer("Name", "bn"),
        reluLayer("Name", "relu"), sequenceUnfoldingLayer("Name", "unfold"),
        flattenLayer("Name", "flatten"), lstmLayer(H, "OutputMode", "last", "Name", "lstm"),
        fullyConnectedLayer(K, "Name", "fc"), softmaxLayer("Name", "softmax"),
        classificationLayer("Name", "classification"),
    ]
    return connectLayers(layerGraph(layers), "fold/miniBatchSize", "unfold/miniBatchSize")


def _data(name, rng):
    if name == "video":
        return rng.normal(size=(N, 4, 16, 16, 3)), rng.integers(0, K, N)
    x = rng.normal(size=(N, T, F))
    targets = {
        "sequence_to_label_classification": rng.integers(0, K, N),
        "deeper_with_dropout": rng.integers(0, K, N),
        "sequence_to_sequence_classification": rng.integers(0, K, (N, T)),
        "sequence_to_one_regression": rng.normal(size=(N, R)),
        "sequence_to_sequence_regression": rng.normal(size=(N, T, R)),
    }
    return x, targets[name]


SEED_NETWORKS = {
    "sequence_to_label_classification": _sequence_to_label_classification,
    "sequence_to_sequence_classification": _sequence_to_sequence_classification,
    "sequence_to_one_regression": _sequence_to_one_regression,
    "sequence_to_sequence_regression": _sequence_to_sequence_regression,
    "deeper_with_dropout": _deeper_with_dropout,
    "video": _video,
}


@pytest.mark.parametrize("name", sorted(SEED_NETWORKS))
def test_seed_network_builds_trains_and_reloads(name, rng, tmp_path):
    model = assemble_network(SEED_NETWORKS[name]())
    x, y = _data(name, rng)
    x = x.astype("float32")
    history = model.fit(x, y, batch_size=4, epochs=2, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    before = model.predict(x, verbose=0)
    model.save(tmp_path / "net.keras")
    reloaded = keras.models.load_model(tmp_path / "net.keras")
    np.testing.assert_array_equal(reloaded.predict(x, verbose=0), before)
    assert type(reloaded.layers[-1]) is type(model.layers[-1])


def test_classification_network_loss_is_matlab_cross_entropy(rng):
    model = assemble_network(_sequence_to_label_classification())
    x, y = _data("sequence_to_label_classification", rng)
    probabilities = model.predict(x.astype("float32"), verbose=0)
    expected = -np.mean(np.log(probabilities[np.arange(N), y]))
    data_loss = model.evaluate(x.astype("float32"), y, verbose=0, return_dict=True)["loss"]
    penalty = sum(float(keras.ops.convert_to_numpy(v)) for v in model.losses)
    assert abs(data_loss - penalty - expected) <= 1e-5


class TestAssembleErrors:
    def test_missing_input_layer(self):
        with pytest.raises(ValueError, match=r"must start with a sequence input layer.*layer 1"):
            assemble_network(_sequence_to_label_classification()[1:])

    def test_sequence_lstm_feeding_a_label_head(self):
        with pytest.raises(ValueError, match=r"layer 2 \('lstm.*'\, LSTM\) has OutputMode "
                                             r"'sequence'"):
            assemble_network(_sequence_to_sequence_classification(), responses="label")

    def test_mismatched_sizes_name_the_layer_and_position(self):
        layers = _sequence_to_label_classification()
        layers[2] = fullyConnectedLayer(K, "Weights", np.zeros((K, H + 1)), "Name", "fc")
        with pytest.raises(ValueError, match=r"layer 3 \('fc', FullyConnected\).*Weights has "
                                             r"shape \(4, 13\)"):
            assemble_network(layers)

    def test_unfolding_needs_the_mini_batch_size_connection(self):
        with pytest.raises(ValueError, match="miniBatchSize input is not connected"):
            assemble_network(_video().layers)

    def test_output_layer_must_be_last(self):
        layers = _sequence_to_label_classification()
        with pytest.raises(ValueError, match="must be last"):
            assemble_network([*layers[:2], classificationLayer("Name", "early"), *layers[2:]])

    def test_repeated_names(self):
        with pytest.raises(ValueError, match="repeated"):
            assemble_network([sequenceInputLayer(F, "Name", "a"), lstmLayer(H, "Name", "a")])


class TestMatlabConstructors:
    def test_name_value_pairs_are_case_insensitive(self):
        layer = lstmLayer(7, "outputmode", "last", "NAME", "my_lstm", "gateactivationfunction",
                          "hard-sigmoid")
        assert (layer.output_mode, layer.name, layer.gate_activation) == (
            "last", "my_lstm", "hard-sigmoid")

    def test_python_keywords_work_too(self):
        assert lstmLayer(7, OutputMode="last").output_mode == "last"

    def test_unknown_name_lists_the_valid_names(self):
        with pytest.raises(ValueError, match=r"unknown name-value argument 'OutputMod'\. Valid "
                                             r"names: .*OutputMode"):
            lstmLayer(7, "OutputMod", "last")

    def test_odd_pairs(self):
        with pytest.raises(ValueError, match="come in pairs"):
            fullyConnectedLayer(3, "Name")

    def test_learn_rate_factors_are_kept(self):
        layer = lstmLayer(4, "InputWeightsLearnRateFactor", [1, 2, 3, 4], BiasLearnRateFactor=2)
        assert layer.learn_rate_factors["input_weights_learn_rate_factor"] == [1, 2, 3, 4]
        assert fullyConnectedLayer(3, WeightLearnRateFactor=0).learn_rate_factors[
            "weights_learn_rate_factor"] == 0
        with pytest.raises(ValueError, match="non-negative scalar or 4 values"):
            lstmLayer(4, "InputWeightsLearnRateFactor", [1, 2])
        with pytest.raises(ValueError, match="does not implement"):
            batchNormalizationLayer("OffsetLearnRateFactor", 2)

    def test_constructors_return_matkeras_layers(self):
        assert isinstance(dropoutLayer(0.3), L.Dropout) and dropoutLayer(0.3).rate == 0.3
        bn = batchNormalizationLayer("TrainedMean", [1.0, 2.0], "Epsilon", 1e-4)
        assert bn.epsilon == 1e-4 and list(bn.trained_mean) == [1.0, 2.0]
