"""minibatchpredict and testnet (matkeras.workflows.current): output forms, metric values against
numpy, MATLAB's current "Sequence Classification Using Deep Learning" workflow on Japanese
Vowels, and MATLAB-saved networks going straight in (prediction, testing, fine-tuning)."""

import keras
import numpy as np
import pytest

from matkeras import data as D
from matkeras import inference
from matkeras.converters import load_matlab_network
from matkeras.datasets import japanese_vowels
from matkeras.matlab import (
    dlnetwork,
    fullyConnectedLayer,
    lstmLayer,
    minibatchpredict,
    scores2label,
    sequenceInputLayer,
    softmaxLayer,
    testnet,
    trainingOptions,
    trainnet,
)
from tests import tolerances as tol
from tests.conftest import fixture_path
from tests.fixtures.matlab_files import rossler_trajectory, vcs_features


def _sequence_net(output_mode="sequence", classes=3, seed=0):
    keras.utils.set_random_seed(seed)
    return dlnetwork([sequenceInputLayer(2), lstmLayer(5, OutputMode=output_mode),
                      fullyConnectedLayer(classes), softmaxLayer()])


def _sequences(rng, lengths):
    return [rng.normal(size=(t, 2)) for t in lengths]


class TestMinibatchpredict:
    def test_sequence_to_one_is_predict(self, rng):
        net = _sequence_net("last")
        X = _sequences(rng, [4, 9, 6, 3, 7])
        scores = minibatchpredict(net, X, MiniBatchSize=2)
        assert scores.shape == (5, 3)
        np.testing.assert_array_equal(scores, inference.predict(net.model, X,
                                                                mini_batch_size=2))
        assert minibatchpredict(net, X[1]).shape == (1, 3)

    @pytest.mark.parametrize("direction", ["right", "left"])
    def test_uniform_output_pads_sequence_outputs(self, rng, direction):
        net = _sequence_net()
        X = _sequences(rng, [4, 9, 6])
        own = minibatchpredict(net, X, UniformOutput=False, SequencePaddingDirection=direction,
                               SequencePaddingValue=-1)
        assert [y.shape for y in own] == [(4, 3), (9, 3), (6, 3)]
        padded = minibatchpredict(net, X, SequencePaddingDirection=direction,
                                  SequencePaddingValue=-1, ExecutionEnvironment="cpu")
        assert padded.shape == (3, 9, 3)
        for row, y in enumerate(own):
            steps = slice(0, len(y)) if direction == "right" else slice(9 - len(y), 9)
            np.testing.assert_array_equal(padded[row, steps], y)
            assert np.all(np.delete(padded[row], np.arange(9)[steps], axis=0) == -1)
        single = minibatchpredict(net, X[0])
        assert single.shape == (4, 3)

    def test_options_are_checked(self, rng):
        net = _sequence_net("last")
        with pytest.raises(ValueError, match="unknown name-value argument 'MiniBatch'"):
            minibatchpredict(net, _sequences(rng, [3]), MiniBatch=2)
        with pytest.raises(ValueError, match="InputDataFormats must be 'auto' or one of"):
            minibatchpredict(net, _sequences(rng, [3]), InputDataFormats="SSCB")
        with pytest.raises(ValueError, match="not initialized"):
            minibatchpredict(dlnetwork([sequenceInputLayer(2), lstmLayer(2)],
                                       Initialize=False), _sequences(rng, [3]))


class TestTestnet:
    def test_classification_metrics_over_every_step(self, rng):
        net = _sequence_net()
        X = _sequences(rng, [4, 9, 6, 5])
        labels = [rng.choice(["a", "b", "c"], len(x)) for x in X]
        scores = np.concatenate(minibatchpredict(net, X, UniformOutput=False))
        truth = np.concatenate(labels)
        index = np.searchsorted(["a", "b", "c"], truth)
        accuracy = 100 * np.mean(np.argmax(scores, -1) == index)
        crossentropy = np.mean(-np.log(scores[np.arange(len(index)), index]))
        values = testnet(net, X, labels, ["accuracy", "crossentropy"])
        print(f"testnet accuracy {values[0]:.4f} (numpy {accuracy:.4f}), crossentropy "
              f"{values[1]:.6f} (numpy {crossentropy:.6f})")
        assert abs(values[0] - accuracy) <= tol.FLOAT32_ATOL
        assert abs(values[1] - crossentropy) <= tol.FLOAT32_ATOL
        assert isinstance(testnet(net, X, labels, "accuracy"), float)

    def test_regression_rmse_over_every_element(self, rng):
        keras.utils.set_random_seed(1)
        net = dlnetwork([sequenceInputLayer(2), lstmLayer(4), fullyConnectedLayer(2)])
        X = _sequences(rng, [5, 8, 3])
        T = [rng.normal(size=(len(x), 2)) for x in X]
        Y = minibatchpredict(net, X, UniformOutput=False)
        expected = np.sqrt(np.mean(np.concatenate([(y - t) ** 2 for y, t in zip(Y, T,
                                                                              strict=True)])))
        assert abs(testnet(net, X, T, "rmse") - expected) <= tol.FLOAT32_ATOL
        transposed = testnet(net, [x.T for x in X], [t.T for t in T], "rmse",
                             InputDataFormats="CTB", TargetDataFormats="CTB")
        assert abs(transposed - expected) <= tol.FLOAT32_ATOL

    def test_missing_classes_need_the_training_classes(self, rng):
        net = _sequence_net("last")
        X = _sequences(rng, [4, 5])
        with pytest.raises(ValueError, match="2 classes .* outputs 3 scores.*class_names"):
            testnet(net, X, ["a", "b"], "accuracy")
        value = testnet(net, X, ["a", "b"], "accuracy", ClassNames=["a", "b", "c"])
        assert 0 <= value <= 100


def test_japanese_vowels_the_current_matlab_way():
    """MATLAB's current "Sequence Classification Using Deep Learning": trainnet with
    "crossentropy" and an accuracy metric, minibatchpredict, scores2label; training and test
    data sorted by length so mini-batches carry little padding ("last" outputs see it). (The
    classic trainNetwork path reaches about 0.94 here, tests/test_training.py; measured over
    seeds 0-3: 0.943-0.962.)"""
    (XTrain, TTrain), (XTest, TTest) = japanese_vowels()
    TTrain = np.array([str(v + 1) for v in TTrain])
    TTest = np.array([str(v + 1) for v in TTest])
    XTrain, order = D.sort_by_length(XTrain)
    TTrain = TTrain[order]
    XTest, order = D.sort_by_length(XTest)
    TTest = TTest[order]
    layers = [sequenceInputLayer(12), lstmLayer(100, OutputMode="last"), fullyConnectedLayer(9),
              softmaxLayer()]
    options = trainingOptions("adam", MaxEpochs=50, MiniBatchSize=27, InitialLearnRate=0.002,
                              GradientThreshold=1, Shuffle="never", Metrics="accuracy",
                              Verbose=False, Seed=0)
    net, info = trainnet(XTrain, TTrain, layers, "crossentropy", options)
    classNames = info.ClassNames
    scores = minibatchpredict(net, XTest, MiniBatchSize=27)
    YTest, _ = scores2label(scores, classNames)
    accuracy = float(np.mean(YTest == TTest))
    print(f"Japanese Vowels, trainnet + minibatchpredict + scores2label: test accuracy "
          f"{accuracy:.4f}; last training mini-batch accuracy "
          f"{info.TrainingHistory.Accuracy[-1]:.1f}%")
    assert accuracy >= 0.93
    assert classNames == [str(k) for k in range(1, 10)]
    assert abs(testnet(net, XTest, TTest, "accuracy", MiniBatchSize=27) - 100 * accuracy) <= \
        1e-4


def test_a_saved_matlab_network_goes_straight_in():
    """A network MATLAB saved (vcs_bilstm100_last.mat, 17 features x 1 step cells) through
    minibatchpredict and testnet with MATLAB's C x T cells read by InputDataFormats."""
    model = load_matlab_network(fixture_path("matlab", "nets", "vcs_bilstm100_last.mat"))
    classes = model.layers[-1].classes
    x, labels = vcs_features("Train")
    cells = [row.T for row in x]  # MATLAB's 17 x 1 cells
    scores = minibatchpredict(model, cells, InputDataFormats="CTB")
    predicted, _ = scores2label(scores, classes)
    accuracy = float(np.mean(predicted.astype(int) == labels))
    assert round(accuracy, 3) == 0.996  # the fixture README's figure
    value = testnet(model, cells, labels.astype(str), "accuracy", InputDataFormats="CTB",
                    ClassNames=classes)
    assert abs(value - 100 * accuracy) <= 1e-4


def test_a_saved_matlab_network_can_be_fine_tuned():
    model = load_matlab_network(fixture_path("matlab", "nets", "rossler_lstm25.mat"))
    inputs, target = rossler_trajectory()
    X = [inputs[k:k + 50] for k in range(0, 2000, 50)]
    T = [inputs[k + 1:k + 51] for k in range(0, 2000, 50)]  # next state, 3 responses
    before = [np.array(w) for w in model.get_weights()]
    tuned, info = trainnet(X, T, model, "mse", trainingOptions(
        "adam", MaxEpochs=1, MiniBatchSize=10, InitialLearnRate=1e-4, Verbose=False))
    assert tuned is model and len(info.TrainingHistory) == 4
    assert np.all(np.isfinite(info.TrainingHistory.Loss))
    assert any(np.max(np.abs(w - b)) > 0 for w, b in zip(model.get_weights(), before,
                                                          strict=True))


def _lstm40_workspace():
    """The trainnet-era fixture: the dlnetwork and its normalized test set (T x 2 cells)."""
    import matio

    path = fixture_path("matlab", "nets", "dlnetwork_lstm40_trainnet_workspace.mat")
    saved = matio.load_from_mat(str(path), variable_names=["Z_ntest", "Y_ntest"])
    Z = [np.asarray(c, np.float64) for c in np.ravel(saved["Z_ntest"])]
    Y = [np.asarray(c, np.float64) for c in np.ravel(saved["Y_ntest"])]
    return load_matlab_network(path, variable="lstm_model"), Z, Y


def test_a_matlab_dlnetwork_goes_straight_into_the_current_verbs():
    """dlnetwork_lstm40_trainnet_workspace.mat (trained by MATLAB's trainnet with "mse"): its
    test sequences are s-by-c as MATLAB stores them, and minibatchpredict/testnet give the
    fixture README's RMSE 0.2366 (an independent numpy pass); fine-tuning runs on it."""
    net, Z, Y = _lstm40_workspace()
    assert Z[0].shape[1] == 2 and sum(len(z) for z in Z) == 5800
    predictions = minibatchpredict(net, Z, UniformOutput=False)
    rmse = float(np.sqrt(np.mean(np.concatenate([p - y for p, y in zip(predictions, Y,
                                                                        strict=True)]) ** 2)))
    print(f"lstm40 dlnetwork: minibatchpredict RMSE {rmse:.5f}, testnet "
          f"{testnet(net, Z, Y, 'rmse'):.5f}")
    assert round(rmse, 4) == 0.2366
    assert abs(testnet(net, Z, Y, "rmse") - rmse) <= tol.FLOAT32_ATOL
    wrapped = dlnetwork(net)
    assert "HiddenState" in wrapped.State.Parameter
    tuned, info = trainnet(Z[:10], Y[:10], net, "mse", trainingOptions(
        "adam", MaxEpochs=2, MiniBatchSize=5, InitialLearnRate=1e-3, Verbose=False))
    assert tuned is net and np.all(np.isfinite(info.TrainingHistory.Loss))
