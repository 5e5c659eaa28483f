"""Training the MATLAB way: split-sequence training with carried state, trainingOptions and
trainNetwork (Japanese Vowels, R2018b example settings), padding sensitivity."""

import contextlib
import time

import keras
import numpy as np
import pytest

from matkeras import data as D
from matkeras import inference
from matkeras import layers as L
from matkeras.datasets import japanese_vowels
from matkeras.matlab import (
    bilstmLayer,
    classificationLayer,
    fullyConnectedLayer,
    lstmLayer,
    regressionLayer,
    sequenceInputLayer,
    softmaxLayer,
    trainingOptions,
    trainNetwork,
)
from matkeras.training import ChunkCarry
from tests import tolerances as tol
from tests.layers.family_specs import SPECS
from tests.layers.lstm_helpers import random_lstm_params

# -- carried state between chunks ---------------------------------------------------------------

def _chunked_training_forward(layer, x, chunk):
    """Runs `layer` in training mode chunk by chunk with a ChunkCarry, as fit would."""
    import tensorflow as tf

    first = tf.Variable(True)
    layer.chunk_carry = ChunkCarry(layer, first)
    try:
        outputs = []
        for start in range(0, x.shape[1], chunk):
            first.assign(start == 0)
            outputs.append(keras.ops.convert_to_numpy(
                layer(x[:, start:start + chunk], training=True)))
    finally:
        layer.chunk_carry = None
    return np.concatenate(outputs, axis=1)


@pytest.mark.parametrize("name", ["lstm", "gru-after-multiplication", "bilstm",
                                  "lstm-projected"])
def test_carried_state_equals_running_the_whole_sequence(rng, name):
    if name == "lstm":
        layer = L.LSTM(5, dtype="float64")
        layer.set_matlab_weights(**random_lstm_params(rng, 3, 5))
        forward = slice(None)
    else:
        spec = next(s for s in SPECS if s.name == name)
        layer = spec.make(dtype="float64")
        layer.set_matlab_weights(**spec.random_params(rng))
        forward = slice(0, layer.units) if name == "bilstm" else slice(None)
    x = rng.normal(0, 1, (4, 23, 3))
    whole = keras.ops.convert_to_numpy(layer(x))
    chunked = _chunked_training_forward(layer, x, 5)
    assert np.max(np.abs(chunked[..., forward] - whole[..., forward])) <= 1e-6
    assert np.max(np.abs(chunked[..., forward] - whole[..., forward])) <= tol.FLOAT64_ATOL
    if name == "bilstm":  # the backward half restarts in every chunk: it differs
        assert np.max(np.abs(chunked[..., layer.units:] - whole[..., layer.units:])) > 1e-3


def test_a_new_mini_batch_restarts_from_the_initial_state(rng):
    layer = L.LSTM(4, dtype="float64")
    layer.set_matlab_weights(**random_lstm_params(rng, 3, 4))
    x = rng.normal(0, 1, (2, 10, 3))
    restarted = _chunked_training_forward(layer, x, 10)  # one chunk: first every time
    np.testing.assert_allclose(restarted, keras.ops.convert_to_numpy(layer(x)), atol=1e-12)


def _memory_task(rng, count=256, steps=40):
    """The class is the sign of the first step; every step's target is that class. Steps after
    the first chunk can only be right if the state carries the first step's sign across."""
    x = rng.normal(0, 0.3, (count, steps, 1))
    bit = rng.integers(0, 2, count)
    x[:, 0, 0] = np.where(bit, 1.5, -1.5)
    return list(x), [np.full(steps, b) for b in bit], x, bit


def _memory_model():
    model = keras.Sequential([keras.Input((None, 1)), L.LSTM(16), L.FullyConnected(2),
                              L.Softmax()])
    model.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy",
                  weighted_metrics=["accuracy"])
    return model


def test_split_sequence_training_learns_across_chunk_borders(rng):
    sequences, targets, _, _ = _memory_task(rng)
    histories = {}
    models = {}
    for carry in (True, False):  # the same chunks, with and without the carried state
        keras.utils.set_random_seed(1)
        model = _memory_model()
        data = D.SequenceDataset(sequences, targets, mini_batch_size=32, sequence_length=10,
                                 seed=0)
        history = model.fit(data, epochs=25, verbose=0, shuffle=False,
                            callbacks=data.callbacks() if carry else [])
        histories[carry], models[carry] = history.history["accuracy"][-1], model
    test_sequences, _, _, test_bit = _memory_task(np.random.default_rng(99), 200)
    scores = inference.predict(models[True], test_sequences, sequence_length=10)
    later = float(np.mean(np.argmax(np.stack(scores), -1)[:, 10:] == test_bit[:, None]))
    print(f"training accuracy over all chunks: carried state {histories[True]:.3f}, started "
          f"afresh {histories[False]:.3f}; later-chunk test accuracy {later:.3f}")
    assert histories[True] >= 0.95
    assert histories[False] <= 0.75  # 1/4 of the steps can see the first step: ~0.625
    assert later >= 0.95


def test_carry_kept_across_fit_calls_trains_as_one_installed_per_call(rng):
    """trainNetwork's epoch-at-a-time loop keeps the carry in the train function across its
    fit calls (one trace, not one per epoch): the same weights as installing it anew in every
    call and as one fit call over all epochs, and the carry is gone from the layers after."""
    sequences = [rng.normal(size=(t, 2)) for t in (7, 23, 12, 30, 18, 9)]
    labels = rng.integers(0, 2, 6)
    start = None
    weights, functions = {}, {}
    for way in ("kept", "per call", "one call"):
        keras.utils.set_random_seed(2)
        model = keras.Sequential([keras.Input((None, 2)), L.LSTM(3, output_mode="last"),
                                  L.FullyConnected(2), L.Softmax()])
        model.compile(keras.optimizers.SGD(0.1), "sparse_categorical_crossentropy")
        model.build((None, None, 2))
        start = model.get_weights() if start is None else start
        model.set_weights(start)
        data = D.SequenceDataset(sequences, labels, mini_batch_size=2, sequence_length=5,
                                 seed=0)
        carry, = data.callbacks()
        seen = set()
        if way == "one call":
            model.fit(data, epochs=3, verbose=0, callbacks=[carry], shuffle=False)
        else:
            with carry.across_fits() if way == "kept" else contextlib.nullcontext():
                for epoch in range(3):
                    model.fit(data, initial_epoch=epoch, epochs=epoch + 1, verbose=0,
                              callbacks=[carry], shuffle=False)
                    seen.add(id(model.train_function))
        assert all(layer.chunk_carry is None for layer in L.stateful_layers(model))
        weights[way], functions[way] = model.get_weights(), len(seen)
    assert np.max(np.abs(weights["kept"][0] - start[0])) > 1e-3  # it trained
    for way in ("per call", "one call"):
        for kept, other in zip(weights["kept"], weights[way], strict=True):
            np.testing.assert_array_equal(kept, other)
    assert functions["kept"] == 1 and functions["per call"] == 3


def test_epoch_by_epoch_split_training_trains_every_chunk_of_each_epoch(rng, monkeypatch):
    """Shuffle every-epoch with chunks and no sorting: one fit call per epoch. Keras's fit
    counts a PyDataset's mini-batches before it signals an epoch end at its start; that
    reshuffle used to give the call another order with another chunk count, so epochs lost or
    repeated chunks (19 of 21 in one case). The order is now fixed before each call."""
    from matkeras.data.carry import CarryStateBetweenChunks

    trained, expected = [], []
    begin, step = (CarryStateBetweenChunks.on_epoch_begin,
                   CarryStateBetweenChunks.on_train_batch_begin)

    def on_epoch_begin(self, epoch, logs=None):
        begin(self, epoch, logs)
        trained.append(0)
        expected.append(len(self.dataset))

    def on_train_batch_begin(self, batch, logs=None):
        trained[-1] += 1
        step(self, batch, logs)

    monkeypatch.setattr(CarryStateBetweenChunks, "on_epoch_begin", on_epoch_begin)
    monkeypatch.setattr(CarryStateBetweenChunks, "on_train_batch_begin", on_train_batch_begin)
    X = [rng.normal(size=(int(t), 3)).astype("float32") for t in rng.integers(4, 30, 40)]
    Y = [np.cumsum(x[:, :2], axis=0) for x in X]
    trainNetwork(X, Y, [sequenceInputLayer(3), lstmLayer(5), fullyConnectedLayer(2),
                        regressionLayer()],
                 trainingOptions("adam", MaxEpochs=6, MiniBatchSize=9, Seed=3, Verbose=False,
                                 Shuffle="every-epoch", SequenceLength=7))
    assert trained == expected and len(set(expected)) > 1, (trained, expected)


def test_chunk_count_change_between_epochs_is_refused(rng):
    sequences = [rng.normal(size=(t, 1)) for t in [3] * 6 + [40, 40]]
    data = D.SequenceDataset(sequences, rng.integers(0, 2, 8), mini_batch_size=2,
                             sequence_length=10, shuffle="every-epoch", seed=0)
    model = keras.Sequential([keras.Input((None, 1)), L.LSTM(2, output_mode="last"),
                              L.FullyConnected(2), L.Softmax()])
    model.compile("adam", "sparse_categorical_crossentropy")
    with pytest.raises(RuntimeError, match="chunk count changes between epochs"):
        model.fit(data, epochs=30, verbose=0, callbacks=data.callbacks(), shuffle=False)
    in_order = D.SequenceDataset(sequences, rng.integers(0, 2, 8), mini_batch_size=2,
                                 sequence_length=10, seed=0)
    with pytest.raises(RuntimeError, match="pass shuffle=False"):
        model.fit(in_order, epochs=3, verbose=0, callbacks=in_order.callbacks())  # shuffles
    options = trainingOptions("adam", MaxEpochs=6, MiniBatchSize=2, SequenceLength=10,
                              Shuffle="every-epoch", Verbose=False, Seed=0)
    net = trainNetwork(sequences, np.array([1, 2] * 4),
                       [sequenceInputLayer(1), lstmLayer(2, OutputMode="last"),
                        fullyConnectedLayer(2), softmaxLayer(), classificationLayer()], options)
    assert len(net.history.history["loss"]) == 6  # trainNetwork runs such epochs one by one


# -- trainingOptions / trainNetwork --------------------------------------------------------------

def _jv_layers(units=100):
    return [sequenceInputLayer(12), bilstmLayer(units, OutputMode="last"),
            fullyConnectedLayer(9), softmaxLayer(), classificationLayer()]


def _sorted(sequences, labels):
    ordered, order = D.sort_by_length(sequences)
    return ordered, np.asarray(labels)[order]


@pytest.fixture(scope="module")
def japanese_vowels_r2018b(tmp_path_factory):
    """MATLAB R2018b's "Sequence Classification Using Deep Learning" settings."""
    (x_train, y_train), (x_test, y_test) = japanese_vowels()
    x_train, y_train = _sorted(x_train, [str(v + 1) for v in y_train])
    keras.utils.set_random_seed(0)
    layers = _jv_layers()
    plot = tmp_path_factory.mktemp("plots") / "progress.png"
    options = trainingOptions("adam", ExecutionEnvironment="cpu", GradientThreshold=1,
                              MaxEpochs=100, MiniBatchSize=27, SequenceLength="longest",
                              Shuffle="never", Verbose=0, Plots="training-progress",
                              PlotsPath=str(plot), Seed=0)
    start = time.perf_counter()
    net = trainNetwork(x_train, y_train, layers, options)
    seconds = time.perf_counter() - start
    x_test, y_test = _sorted(x_test, [str(v + 1) for v in y_test])
    return net, x_test, y_test, seconds, plot


def test_train_network_on_japanese_vowels_reaches_matlab_accuracy(japanese_vowels_r2018b):
    net, x_test, y_test, seconds, plot = japanese_vowels_r2018b
    labels, scores = inference.classify(net, x_test, mini_batch_size=27)
    accuracy = float(np.mean(labels == y_test))
    print(f"Japanese Vowels BiLSTM(100): test accuracy {accuracy:.4f}, training {seconds:.1f} s")
    assert accuracy >= 0.93
    assert list(net.layers[-1].classes) == [str(k) for k in range(1, 10)]
    assert plot.read_bytes()[:4] == b"\x89PNG"
    assert len(net.history.history["loss"]) == 100


@pytest.fixture(scope="module")
def japanese_vowels_lstm_last():
    """LSTM(100, 'last') nets trained on length-sorted Japanese Vowels, one per padding side."""
    (x_train, y_train), (x_test, y_test) = japanese_vowels()
    x_train, y_train = _sorted(x_train, y_train)
    nets = {}
    for direction in ("left", "right"):
        keras.utils.set_random_seed(0)
        layers = [sequenceInputLayer(12), lstmLayer(100, OutputMode="last"),
                  fullyConnectedLayer(9), softmaxLayer(), classificationLayer()]
        options = trainingOptions("adam", GradientThreshold=1, MaxEpochs=30, MiniBatchSize=27,
                                  Shuffle="never", SequencePaddingDirection=direction,
                                  Verbose=False, Seed=0)
        nets[direction] = trainNetwork(x_train, y_train, layers, options)
    return nets, x_test, y_test


def test_padding_sensitivity_of_last_networks_is_what_matlab_has(japanese_vowels_lstm_last):
    """'last' networks see the padding (MATLAB does not mask): a prediction depends on the
    sequences that share its mini-batch. Sorting by length makes mini-batches nearly padding
    free, so predictions barely depend on mini-batch composition on either side; in mixed-length
    mini-batches both sides change many labels. Left padding is exactly neutral only when the
    padded steps leave the state unchanged (tests/test_inference.py), which a trained network's
    biases do not; measured here: left padding is not the cure it is often said to be."""
    nets, x_test, _ = japanese_vowels_lstm_last
    shuffled = np.random.default_rng(0).permutation(len(x_test))
    x = [x_test[i] for i in shuffled]
    ordered, order = D.sort_by_length(x)
    report = {}
    for direction, net in nets.items():
        alone = inference.predict(net, x, mini_batch_size=1)
        mixed = inference.predict(net, x, mini_batch_size=64, padding_direction=direction)
        by_length = np.empty_like(alone)
        by_length[order] = inference.predict(net, ordered, mini_batch_size=27,
                                             padding_direction=direction)
        report[direction] = {name: int(np.sum(np.argmax(p, 1) != np.argmax(alone, 1)))
                             for name, p in (("sorted", by_length), ("mixed", mixed))}
        np.testing.assert_array_equal(  # alone there is no padding: the side does not matter
            alone, inference.predict(net, x, mini_batch_size=1, padding_direction="left"))
    print(f"labels changed by mini-batch composition (of {len(x)}): {report}")
    for counts in report.values():
        assert counts["sorted"] <= 0.02 * len(x)
        assert counts["mixed"] > 3 * max(counts["sorted"], 1)


def test_training_options_check_their_values():
    options = trainingOptions("SGDM", "maxepochs", 3, InitialLearnRate=0.1)
    assert options.Solver == "sgdm" and options.MaxEpochs == 3 and options.Momentum == 0.9
    assert trainingOptions("adam").InitialLearnRate == 0.001
    with pytest.raises(ValueError, match="solverName must be one of"):
        trainingOptions("lbfgs")
    with pytest.raises(ValueError, match="unknown option 'MaxEpoch'"):
        trainingOptions("adam", MaxEpoch=3)
    with pytest.raises(ValueError, match="MiniBatchSize must be a positive integer"):
        trainingOptions("adam", MiniBatchSize=0)
    with pytest.raises(ValueError, match="Shuffle must be one of"):
        trainingOptions("adam", Shuffle="sometimes")
    with pytest.raises(ValueError, match="GradientThresholdMethod must be one of"):
        trainingOptions("adam", GradientThresholdMethod="l1norm")
    with pytest.raises(ValueError, match="ValidationData must be"):
        trainingOptions("adam", ValidationData=[1, 2, 3])
    with pytest.raises(AttributeError, match="no option"):
        options.MaxEpoch = 4


def test_piecewise_schedule_validation_and_regression(rng, tmp_path):
    sequences = [rng.normal(size=(t, 2)) for t in rng.integers(4, 12, 40)]
    responses = np.array([[s[:, 0].sum(), s[:, 1].mean()] for s in sequences])
    layers = [sequenceInputLayer(2), lstmLayer(8, OutputMode="last"), fullyConnectedLayer(2),
              regressionLayer()]
    path = tmp_path / "progress.png"
    path.write_bytes(b"mine")  # an existing file is never overwritten
    options = trainingOptions(
        "sgdm", MaxEpochs=4, MiniBatchSize=10, InitialLearnRate=0.05,
        LearnRateSchedule="piecewise", LearnRateDropFactor=0.5, LearnRateDropPeriod=2,
        ValidationData=(sequences[:10], responses[:10]), ValidationFrequency=3,
        Plots="training-progress", PlotsPath=str(path), Verbose=False, Seed=0)
    net = trainNetwork(sequences, responses, layers, options)
    assert path.read_bytes() == b"mine" and (tmp_path / "progress-1.png").exists()
    history = net.history.history
    np.testing.assert_allclose(history["learning_rate"], [0.05, 0.05, 0.025, 0.025], rtol=1e-6)
    assert "rmse" in history
    assert net.optimizer.__class__.__name__ == "SGDM"
    # 4 iterations an epoch: validations every 3 iterations and after the last (the 16th)
    assert [row["Iteration"] for row in net.history.validation] == [3, 6, 9, 12, 15, 16]
    assert np.all(np.isfinite([row["Loss"] for row in net.history.validation]))


def test_train_network_rejects_a_network_without_output_layer(rng):
    options = trainingOptions("adam", MaxEpochs=1, Verbose=False)
    with pytest.raises(ValueError, match="ends in a classification or regression layer"):
        trainNetwork([np.zeros((3, 2))], [1], [sequenceInputLayer(2), lstmLayer(3)], options)
    with pytest.raises(TypeError, match="must come from trainingOptions"):
        trainNetwork([np.zeros((3, 2))], [1], _jv_layers(), {"MaxEpochs": 1})
