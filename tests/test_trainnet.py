"""trainnet (matkeras.workflows.current): the same trained weights as trainNetwork where MATLAB's
two losses agree, the documented factor where they differ, the training information (per-iteration
history, validation rows, stop reason), OutputNetwork="best-validation" and ValidationPatience,
data formats, metrics, the progress plot, and clear errors."""

import keras
import numpy as np
import pytest

from matkeras.dlnetwork import DLNetwork
from matkeras.matlab import (
    classificationLayer,
    fullyConnectedLayer,
    lstmLayer,
    minibatchpredict,
    regressionLayer,
    sequenceInputLayer,
    softmaxLayer,
    testnet,
    trainingOptions,
    trainNetwork,
)
from matkeras.network import assemble_network
from matkeras.workflows import current as T
from tests import tolerances as tol
from tests.precision import float64  # noqa: F401  (fixture)


def _labelled(rng, count=40, features=3, classes=4):
    X = [rng.normal(size=(t, features)) for t in rng.integers(5, 15, count)]
    Y = np.array([f"c{k}" for k in rng.integers(0, classes, count)])
    return X, Y


def _twins(body, head):
    """A classic network (body + head output layer) and a trainnet one (body only) with the
    same initial weights."""
    classic = assemble_network(body() + head, compile=False)
    current = assemble_network(body(), compile=False)
    current.set_weights(classic.get_weights())
    return classic, current


def _largest_difference(a, b):
    return max(float(np.max(np.abs(np.asarray(x) - np.asarray(y))))
               for x, y in zip(a.get_weights(), b.get_weights(), strict=True))


@pytest.mark.parametrize("sequence_length", ["longest", 4])
@pytest.mark.usefixtures("float64")
def test_crossentropy_trains_the_same_weights_as_a_classification_layer(
        rng, sequence_length):
    """Sequence-to-label cross-entropy: MATLAB's trainnet loss and classificationLayer's are
    the same function, so 3 epochs of adam (every-epoch shuffle, gradient threshold, L2) give
    the same float64 weights; an integer SequenceLength exercises the carried-state chunks."""
    X, Y = _labelled(rng)

    def body():
        return [sequenceInputLayer(3), lstmLayer(6, OutputMode="last"), fullyConnectedLayer(4),
                softmaxLayer()]

    keras.utils.set_random_seed(1)
    classic, current = _twins(body, [classificationLayer()])
    initial = [np.array(w) for w in current.get_weights()]
    options = dict(MaxEpochs=3, MiniBatchSize=8, Shuffle="every-epoch", Seed=3, Verbose=False,
                   GradientThreshold=1, SequenceLength=sequence_length)
    trainNetwork(X, Y, classic, trainingOptions("adam", **options))
    net, info = T.trainnet(X, Y, current, "crossentropy", trainingOptions("adam", **options))
    moved = max(float(np.max(np.abs(w - i))) for w, i in zip(current.get_weights(), initial,
                                                               strict=True))
    difference = _largest_difference(classic, current)
    print(f"SequenceLength={sequence_length}: weights moved {moved:.3f}, trainnet vs "
          f"trainNetwork max |diff| {difference:.2e}")
    assert net is current and moved > 1e-2
    assert difference <= tol.FLOAT64_ATOL
    assert info.StopReason == "Max epochs completed"
    assert info.ClassNames == ["c0", "c1", "c2", "c3"]
    expected_iterations = 3 * 5 if sequence_length == "longest" else None
    if expected_iterations:
        assert list(info.TrainingHistory.Iteration) == list(range(1, expected_iterations + 1))
        assert list(info.TrainingHistory.Epoch) == [e for e in (1, 2, 3) for _ in range(5)]


@pytest.mark.parametrize("layout", ["sequence-to-one", "sequence-to-sequence"])
@pytest.mark.usefixtures("float64")
def test_mse_trains_as_the_regression_layer_with_the_learn_rate_scaled_by_r_over_2(
        rng, layout):
    """trainnet's "mse" is 2/R times regressionLayer's half-MSE (tests/test_losses.py), so
    with plain SGD with momentum (no L2, no threshold) trainnet at learning rate eta*R/2 trains
    the same weights as trainNetwork at eta. Sequences of one length (no padding: padded
    mini-batches add the factor N*T_padded/sum(T_n), see matkeras.losses)."""
    R = 2
    X = [rng.normal(size=(9, 3)) for _ in range(24)]
    if layout == "sequence-to-one":
        Y = np.stack([x[:, :R].sum(0) for x in X])
        mode = "last"
    else:
        Y = [np.cumsum(x[:, :R], axis=0) / 5 for x in X]
        mode = "sequence"

    def body():
        return [sequenceInputLayer(3), lstmLayer(5, OutputMode=mode), fullyConnectedLayer(R)]

    keras.utils.set_random_seed(2)
    classic, current = _twins(body, [regressionLayer()])
    eta = 0.05
    common = dict(MaxEpochs=3, MiniBatchSize=6, Momentum=0.9, L2Regularization=0.0,
                  Shuffle="every-epoch", Seed=4, Verbose=False)
    trainNetwork(X, Y, classic, trainingOptions("sgdm", InitialLearnRate=eta, **common))
    T.trainnet(X, Y, current, "mse",
               trainingOptions("sgdm", InitialLearnRate=eta * R / 2, **common))
    difference = _largest_difference(classic, current)
    print(f"{layout}: trainnet(mse, eta*R/2) vs trainNetwork(regression, eta): "
          f"max |diff| {difference:.2e}")
    assert difference <= tol.FLOAT64_ATOL


@pytest.mark.usefixtures("float64")
def test_training_history_is_per_iteration(rng):
    """Loss and metrics are the mini-batch's own (not Keras's running epoch mean): the first
    row is the first mini-batch's loss under the initial weights."""
    X, Y = _labelled(rng, count=24)
    layers = [sequenceInputLayer(3), lstmLayer(5, OutputMode="last"), fullyConnectedLayer(4),
              softmaxLayer()]
    keras.utils.set_random_seed(5)
    model = assemble_network(layers, compile=False)
    longest = max(len(x) for x in X[:8])  # the first mini-batch, right-padded with zeros
    first = np.stack([np.pad(x, ((0, longest - len(x)), (0, 0))) for x in X[:8]])
    first = first.astype("float32")  # mini-batches carry float32 inputs
    classes = sorted(set(Y))
    scores = keras.ops.convert_to_numpy(model(first))
    chosen = scores[np.arange(8), [classes.index(y) for y in Y[:8]]]
    expected = float(np.mean(-np.log(chosen)))
    options = trainingOptions("sgdm", MaxEpochs=2, MiniBatchSize=8, Shuffle="never",
                              L2Regularization=0.0, Verbose=False,
                              Metrics=["accuracy", "fscore"], LearnRateSchedule="piecewise",
                              LearnRateDropPeriod=1, LearnRateDropFactor=0.5)
    _, info = T.trainnet(X, Y, model, "crossentropy", options)
    history = info.TrainingHistory
    assert history.columns == ["Iteration", "Epoch", "TimeElapsed", "LearnRate", "Loss",
                               "Accuracy", "FScore"]
    print(f"first iteration loss {history.Loss[0]:.12f}, expected {expected:.12f}")
    assert abs(history.Loss[0] - expected) <= tol.FLOAT64_ATOL
    np.testing.assert_allclose(history.LearnRate, [0.01] * 3 + [0.005] * 3)
    accuracy = history.Accuracy
    assert np.all((accuracy >= 0) & (accuracy <= 100)) and np.all(np.isin(
        np.round(accuracy * 8 / 100, 6), np.arange(9)))  # k correct of 8, in percent
    np.testing.assert_allclose(history.FScore, accuracy / 100, atol=1e-6)  # micro = accuracy
    assert np.all(np.diff(history.TimeElapsed) >= 0)
    assert len(info.ValidationHistory) == 0 and info.OutputNetworkIteration == 6


def _regression_with_a_validation_minimum(rng):
    """Validation targets are 0.3x the training ones: validation loss falls while the outputs
    grow from ~0 toward 0.3*T, then rises as they go on toward T."""
    X = [rng.normal(size=(6, 2)) for _ in range(32)]
    Y = np.stack([[x[:, 0].sum(), x[:, 1].sum()] for x in X])
    return X, Y, (X[:16], 0.3 * Y[:16])


def _regression_net(seed):
    keras.utils.set_random_seed(seed)
    return assemble_network([sequenceInputLayer(2), lstmLayer(8, OutputMode="last"),
                             fullyConnectedLayer(2)], compile=False)


@pytest.mark.usefixtures("float64")
def test_best_validation_returns_the_best_validation_iteration(rng):
    X, Y, validation = _regression_with_a_validation_minimum(rng)
    common = dict(MaxEpochs=12, MiniBatchSize=8, InitialLearnRate=0.02, Shuffle="never",
                  ValidationData=validation, ValidationFrequency=2, Verbose=False)
    net, info = T.trainnet(X, Y, _regression_net(7), "mse", trainingOptions(
        "adam", OutputNetwork="best-validation", **common))
    last, last_info = T.trainnet(X, Y, _regression_net(7), "mse", trainingOptions(
        "adam", OutputNetwork="last-iteration", **common))
    losses = info.ValidationHistory.Loss
    best = int(np.argmin(losses))
    print(f"validation loss: first {losses[0]:.4f}, best {losses[best]:.4f} at iteration "
          f"{int(info.ValidationHistory.Iteration[best])}, last {losses[-1]:.4f}")
    assert 0 < best < len(losses) - 1 and losses[-1] - losses[best] > 1e-2  # it can tell
    assert info.OutputNetworkIteration == int(info.ValidationHistory.Iteration[best])
    assert last_info.OutputNetworkIteration == int(last_info.TrainingHistory.Iteration[-1])
    np.testing.assert_array_equal(last_info.ValidationHistory.Loss, losses)  # same training
    vx, vy = [x.astype("float32") for x in validation[0]], validation[1].astype("float32")
    # (mini-batches carry float32 data; testnet then sees what the validation saw)
    assert abs(testnet(net, vx, vy, "mse") - losses[best]) <= tol.FLOAT64_ATOL
    assert abs(testnet(last, vx, vy, "mse") - losses[-1]) <= tol.FLOAT64_ATOL
    # "auto" is best-validation when there is validation data (MATLAB's default)
    auto, auto_info = T.trainnet(X, Y, _regression_net(7), "mse", trainingOptions(
        "adam", **common))
    assert auto_info.OutputNetworkIteration == info.OutputNetworkIteration


@pytest.mark.usefixtures("float64")
def test_validation_patience_stops_training_when_it_should(rng):
    X, Y, validation = _regression_with_a_validation_minimum(rng)
    options = trainingOptions("adam", MaxEpochs=30, MiniBatchSize=8, InitialLearnRate=0.02,
                              Shuffle="never", ValidationData=validation,
                              ValidationFrequency=2, ValidationPatience=3, Verbose=False,
                              OutputNetwork="last-iteration")
    _, info = T.trainnet(X, Y, _regression_net(7), "mse", options)
    losses = info.ValidationHistory.Loss
    best = int(np.argmin(losses))
    print(f"stopped after {len(info.TrainingHistory)} of {30 * 4} iterations; best validation "
          f"{best + 1} of {len(losses)}")
    assert info.StopReason == "Met validation criterion"
    assert len(losses) == best + 1 + 3  # three validations without improvement, then stop
    assert np.all(losses[best + 1:] >= losses[best])
    assert info.TrainingHistory.Iteration[-1] == info.ValidationHistory.Iteration[-1]
    assert len(info.TrainingHistory) < 30 * 4


@pytest.mark.usefixtures("float64")
def test_objective_metric_can_be_a_maximized_metric(rng):
    X, Y = _labelled(rng, count=32)
    options = trainingOptions("adam", MaxEpochs=4, MiniBatchSize=8, Verbose=False,
                              Metrics="accuracy", ObjectiveMetricName="accuracy",
                              ValidationData=(X[:12], Y[:12]), ValidationFrequency=1,
                              OutputNetwork="best-validation", InitialLearnRate=0.02)
    keras.utils.set_random_seed(3)
    layers = [sequenceInputLayer(3), lstmLayer(8, OutputMode="last"), fullyConnectedLayer(4),
              softmaxLayer()]
    net, info = T.trainnet(X, Y, layers, "crossentropy", options)
    accuracy = info.ValidationHistory.Accuracy
    best = int(np.argmax(accuracy))  # the first of the highest
    assert info.OutputNetworkIteration == int(info.ValidationHistory.Iteration[best])
    assert isinstance(net, DLNetwork)
    again = testnet(net, X[:12], Y[:12], "accuracy", MiniBatchSize=8,  # the same padding
                    ClassNames=info.ClassNames)
    assert abs(again - accuracy[best]) <= 1e-9


@pytest.mark.usefixtures("float64")
def test_input_data_formats_read_channel_by_time_cells(rng):
    X, Y = _labelled(rng, count=16)
    results = []
    for data, formats in ((X, "auto"), ([x.T for x in X], "CTB")):
        layers = [sequenceInputLayer(3), lstmLayer(4, OutputMode="last"),
                  fullyConnectedLayer(4), softmaxLayer()]
        net, _ = T.trainnet(data, Y, layers, "crossentropy", trainingOptions(
            "adam", MaxEpochs=1, MiniBatchSize=8, Verbose=False, InputDataFormats=formats,
            Seed=9))
        results.append(net.model)
    assert _largest_difference(*results) == 0.0
    scores = minibatchpredict(results[0], [x.T for x in X], InputDataFormats="CTB")
    np.testing.assert_array_equal(scores, minibatchpredict(results[0], X))


@pytest.mark.usefixtures("float64")
def test_categorical_targets_and_one_hot_targets_train_alike(rng):
    X, Y = _labelled(rng, count=16)
    nets = []
    for targets in (Y, np.eye(4)[np.unique(Y, return_inverse=True)[1]]):
        layers = [sequenceInputLayer(3), lstmLayer(4, OutputMode="last"),
                  fullyConnectedLayer(4), softmaxLayer()]
        nets.append(T.trainnet(X, targets, layers, "crossentropy", trainingOptions(
            "adam", MaxEpochs=2, MiniBatchSize=8, Verbose=False, Seed=4))[0].model)
    assert _largest_difference(*nets) <= tol.FLOAT64_ATOL


def test_custom_loss_function_trains(rng):
    X, Y = _labelled(rng, count=16)
    seen = []

    def weighted_crossentropy(Y_, T_):
        seen.append(tuple(T_.shape))
        return -keras.ops.mean(keras.ops.sum(T_ * keras.ops.log(Y_ + 1e-7), axis=-1))

    layers = [sequenceInputLayer(3), lstmLayer(4, OutputMode="last"), fullyConnectedLayer(4),
              softmaxLayer()]
    net, info = T.trainnet(X, Y, layers, weighted_crossentropy, trainingOptions(
        "adam", MaxEpochs=2, MiniBatchSize=8, Verbose=False))
    assert seen and seen[0][-1] == 4  # categorical targets arrive one-hot, as in MATLAB
    assert np.all(np.isfinite(info.TrainingHistory.Loss))


def test_progress_plot_shows_the_metrics(rng, tmp_path):
    X, Y = _labelled(rng, count=16)
    path = tmp_path / "progress.png"
    layers = [sequenceInputLayer(3), lstmLayer(4, OutputMode="last"), fullyConnectedLayer(4),
              softmaxLayer()]
    _, info = T.trainnet(X, Y, layers, "crossentropy", trainingOptions(
        "adam", MaxEpochs=2, MiniBatchSize=8, Verbose=False, Metrics=["accuracy", "recall"],
        ValidationData=(X[:4], Y[:4]), ValidationFrequency=1, Plots="training-progress",
        PlotsPath=str(path)))
    assert info.PlotPath == str(path) and path.read_bytes()[:4] == b"\x89PNG"
    figure = info.show()
    labels = [ax.get_ylabel() for ax in figure.axes]
    assert labels == ["Accuracy (%)", "Recall", "Loss"]
    assert all(len(ax.lines) >= 2 for ax in figure.axes)  # training and validation


def test_trainnet_errors_name_the_problem(rng):
    X, _ = _labelled(rng, count=8)
    Y = np.array(["c0", "c1", "c2", "c3"] * 2)
    layers = [sequenceInputLayer(3), lstmLayer(4, OutputMode="last"), fullyConnectedLayer(4),
              softmaxLayer()]
    options = trainingOptions("adam", MaxEpochs=1, Verbose=False)
    with pytest.raises(ValueError, match=r"layer 5 \('classoutput', Classification\) is an "
                                         r"output layer.*'crossentropy'"):
        T.trainnet(X, Y, [*layers, classificationLayer(Name="classoutput")], "crossentropy",
                   options)
    with pytest.raises(ValueError, match="labels .* regression loss"):
        T.trainnet(X, Y, layers, "mse", options)
    with pytest.raises(ValueError, match="have 3 classes .* outputs 4 values"):
        T.trainnet(X, np.array(["a", "b", "c"] * 2 + ["a", "b"]), layers, "crossentropy",
                   options)
    with pytest.raises(ValueError, match="targets are sequences .* OutputMode 'sequence'"):
        T.trainnet(X, [np.zeros(len(x)) for x in X], [
            sequenceInputLayer(3), lstmLayer(4, OutputMode="last"), fullyConnectedLayer(1)],
            "mse", options)
    with pytest.raises(ValueError, match="ObjectiveMetricName 'rmse' is not 'loss' or one of"):
        T.trainnet(X, Y, layers, "crossentropy", trainingOptions(
            "adam", MaxEpochs=1, Verbose=False, ObjectiveMetricName="rmse",
            ValidationData=(X, Y)))
    with pytest.raises(ValueError, match="'best-validation' needs ValidationData"):
        T.trainnet(X, Y, layers, "crossentropy", trainingOptions(
            "adam", MaxEpochs=1, Verbose=False, OutputNetwork="best-validation"))
    with pytest.raises(TypeError, match="options must come from trainingOptions"):
        T.trainnet(X, Y, layers, "crossentropy", {"MaxEpochs": 1})
    with pytest.raises(ValueError, match="ValidationPatience must be a positive integer or Inf"):
        trainingOptions("adam", ValidationPatience=0)
    with pytest.raises(ValueError, match="OutputNetwork must be one of"):
        trainingOptions("adam", OutputNetwork="best")
    with pytest.raises(ValueError, match="InputDataFormats must be 'auto' or one of"):
        T.trainnet(X, Y, layers, "crossentropy", trainingOptions(
            "adam", MaxEpochs=1, Verbose=False, InputDataFormats="SCB"))
