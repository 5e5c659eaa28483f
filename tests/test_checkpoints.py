"""trainingOptions' CheckpointPath (issue 28): a run stopped after a checkpoint and started again
with the same CheckpointPath resumes after the checkpoint's epoch and ends with the weights of
the run that was never stopped, bit for bit, on each path the training loop takes (one fit call
over tf.data; the epoch-at-a-time loop of split-sequence training with Shuffle every-epoch; one
fit call over the split-sequence chunks); bad checkpoints and options are named. The stop is
simulated by an exception raised right after a checkpoint is written (the worker-kill test in
test_distribute_workers.py stops a real process)."""

import keras
import numpy as np
import pytest

from matkeras.matlab import (
    fullyConnectedLayer,
    lstmLayer,
    regressionLayer,
    sequenceInputLayer,
    trainingOptions,
    trainNetwork,
)
from matkeras.training import Checkpoints


class _Stopped(Exception):
    pass


def _data(rng):
    X = [rng.normal(size=(int(t), 3)).astype("float32") for t in rng.integers(4, 30, 40)]
    return X, [np.cumsum(x[:, :2], axis=0) * 0.1 for x in X]


def _train(X, Y, path, **options):
    keras.utils.set_random_seed(0)
    layers = [sequenceInputLayer(3), lstmLayer(5), fullyConnectedLayer(2), regressionLayer()]
    return trainNetwork(X, Y, layers, trainingOptions(
        "adam", InitialLearnRate=0.01, MaxEpochs=6, MiniBatchSize=9, Seed=3, Verbose=False,
        CheckpointPath=str(path), **options)).get_weights()


@pytest.mark.parametrize("options", [
    dict(Shuffle="every-epoch"),
    dict(Shuffle="every-epoch", SequenceLength=7),
    dict(Shuffle="once", SequenceLength=7),
], ids=["tf.data", "split-epoch-by-epoch", "split-one-fit"])
def test_a_run_started_again_from_its_checkpoint_trains_the_uninterrupted_weights(
        rng, tmp_path, monkeypatch, options):
    X, Y = _data(rng)
    uninterrupted = _train(X, Y, "", **options)
    write = Checkpoints._write

    def write_then_stop(self, epoch, *rest):
        write(self, epoch, *rest)
        if epoch == 4:
            raise _Stopped

    monkeypatch.setattr(Checkpoints, "_write", write_then_stop)
    with pytest.raises(_Stopped):
        _train(X, Y, tmp_path, **options)
    monkeypatch.undo()
    assert (tmp_path / "matkeras_checkpoint.npz").exists()
    resumed = _train(X, Y, tmp_path, **options)
    for a, b in zip(uninterrupted, resumed, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not (tmp_path / "matkeras_checkpoint.npz").exists()  # done: the checkpoint goes
    if "SequenceLength" not in options:  # and the next run starts afresh (once: the same code)
        started_afresh = _train(X, Y, tmp_path, **options)
        np.testing.assert_array_equal(started_afresh[0], uninterrupted[0])


def test_a_checkpoint_of_another_network_and_bad_options_are_named(rng, tmp_path,
                                                                   monkeypatch):
    X, Y = _data(rng)
    write = Checkpoints._write

    def write_then_stop(self, *arguments):
        write(self, *arguments)
        raise _Stopped

    monkeypatch.setattr(Checkpoints, "_write", write_then_stop)
    with pytest.raises(_Stopped):
        _train(X, Y, tmp_path)
    monkeypatch.undo()
    with pytest.raises(ValueError, match="holds a checkpoint of another network or solver"):
        trainNetwork(X, Y, [sequenceInputLayer(3), lstmLayer(7), fullyConnectedLayer(2),
                            regressionLayer()],
                     trainingOptions("adam", MaxEpochs=2, Verbose=False,
                                     CheckpointPath=str(tmp_path)))
    with pytest.raises(ValueError, match="CheckpointFrequencyUnit must be 'epoch'"):
        trainingOptions("adam", CheckpointFrequencyUnit="iteration")
    with pytest.raises(ValueError, match="CheckpointFrequency must be a positive integer"):
        trainingOptions("adam", CheckpointFrequency=0)
