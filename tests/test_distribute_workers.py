"""ExecutionEnvironment="parallel" (issue 28): two worker processes on this machine, joined by
TF_CONFIG on free local ports, train Japanese Vowels with trainNetwork (sequences in memory and
in a Datastore of files, of which each worker reads only its part) and trainnet and end with
the weights one process gets from the same global mini-batches (27 sequences, split 14 and 13
across the workers): within the float32 tolerance (the all-reduce adds the two workers' parts in
another order than one process adds the whole: measured 6e-8).

Each run is a process of its own (TensorFlow joins a cluster once per process, at start); every
process has a timeout and is killed at teardown, pass or fail."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from matkeras.training import local_tf_configs
from tests import tolerances as tol
from tests.conftest import REPO

SCRIPT = r"""
import json, sys
import keras, numpy as np
from matkeras.datasets import japanese_vowels
from matkeras.dlnetwork import as_model
from matkeras.matlab import *

where = sys.argv[1]
(XTrain, TTrain), _ = japanese_vowels()
X, T = XTrain[:59], TTrain[:59]  # mini-batches of 27, 27, 5
responses = [np.cumsum(x[:, :2], axis=0) * 0.1 for x in X]
common = dict(MaxEpochs=3, MiniBatchSize=27, Verbose=where == "parallel", Seed=0,
              Shuffle="every-epoch", ExecutionEnvironment=where)
keras.utils.set_random_seed(0)
net = trainNetwork(X, T, [sequenceInputLayer(12), lstmLayer(8, OutputMode="last"),
                          fullyConnectedLayer(9), softmaxLayer(), classificationLayer()],
                   trainingOptions("adam", InitialLearnRate=0.01, GradientThreshold=1,
                                   **common))
keras.utils.set_random_seed(0)  # split-sequence: chunks of 8 steps, state carried
split = trainNetwork(X, responses, [sequenceInputLayer(12), lstmLayer(6), fullyConnectedLayer(2),
                                    regressionLayer()],
                     trainingOptions("adam", InitialLearnRate=0.01, SequenceLength=8, **common))
keras.utils.set_random_seed(0)
current, info = trainnet(X, responses, [sequenceInputLayer(12), lstmLayer(6),
                                        fullyConnectedLayer(2)], "mse",
                         trainingOptions("sgdm", InitialLearnRate=0.05, L2Regularization=1e-3,
                                         ValidationData=(X[40:], responses[40:]),
                                         ValidationFrequency=2, ValidationPatience=3,
                                         OutputNetwork="best-validation",
                                         Plots="training-progress",
                                         PlotsPath=f"{sys.argv[2]}/progress.png", **common))
# a Datastore of .npy files (sequence-to-sequence responses), each read recorded per epoch
import tempfile
from matkeras.data import Datastore
folder = tempfile.mkdtemp()
for k, x in enumerate(X):
    np.save(f"{folder}/obs{k}.npy", x)
store = Datastore(folder, responses, mini_batch_size=27, shuffle="every-epoch", seed=0,
                  workers=1)
reads, read, epoch_end = [[]], store._sequence, store.on_epoch_end
store._sequence = lambda index: (reads[-1].append(int(index)), read(index))[1]
store.on_epoch_end = lambda: (reads.append([]), epoch_end())[1]
keras.utils.set_random_seed(0)
stored = trainNetwork(store, None, [sequenceInputLayer(12), lstmLayer(6), fullyConnectedLayer(2),
                                    regressionLayer()],
                      trainingOptions("adam", InitialLearnRate=0.01, **common))
print(json.dumps({"trainNetwork": [w.tolist() for w in net.get_weights()],
                  "datastore": [w.tolist() for w in stored.get_weights()],
                  "reads": reads,
                  "loss": net.history.history["loss"],
                  "split": [w.tolist() for w in split.get_weights()],
                  "trainnet": [w.tolist() for w in as_model(current, "test").get_weights()],
                  "trainnet-loss": [float(v) for v in info.TrainingHistory["Loss"]],
                  "validation": [float(v) for v in info.ValidationHistory["Loss"]],
                  "chosen": int(info.OutputNetworkIteration)}))
"""


def _start(where, environment, folder):
    folder.mkdir()
    return subprocess.Popen([sys.executable, "-c", SCRIPT, where, str(folder)], cwd=REPO,
                            text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, **environment})


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("workers")
    return [root / name for name in ("chief", "worker1", "alone")]


@pytest.fixture(scope="module")
def runs(folders):
    processes = [_start("parallel", {"TF_CONFIG": config}, folders[index])
                 for index, config in enumerate(local_tf_configs(2))]
    processes.append(_start("cpu", {}, folders[2]))
    try:
        results = []
        for process in processes:
            out, err = process.communicate(timeout=300)
            assert process.returncode == 0, err[-4000:]
            results.append((json.loads(out.strip().splitlines()[-1]), out))
        yield results
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.communicate()


def _largest_difference(a, b):
    return max(float(np.max(np.abs(np.asarray(x) - np.asarray(y))))
               for x, y in zip(a, b, strict=True))


@pytest.mark.parametrize("function", ["trainNetwork", "trainnet", "split", "datastore"])
def test_two_workers_train_the_weights_one_process_trains(runs, function):
    (chief, _), (other, _), (alone, _) = runs
    assert _largest_difference(chief[function], other[function]) == 0.0  # mirrored
    difference = _largest_difference(chief[function], alone[function])
    assert difference <= tol.FLOAT32_ATOL, difference
    assert max(np.abs(np.asarray(w)).max() for w in alone[function]) > 0.05  # they trained


def test_each_worker_reads_only_its_part_of_a_datastore(runs):
    """Every epoch each of the 59 sequences is read by one worker only, and every one is read:
    the two workers' reads are disjoint and together all sequences. Epochs after the first read
    each sequence once; the first also holds the set-up reads (each worker's part of the first
    mini-batch, for the solver's and the metrics' variables and the input signature)."""
    (chief, _), (other, _), (alone, _) = runs
    epochs = 3  # the lists: the first epoch with the set-up, then one per epoch (reshuffled
    # at each epoch's start after the first, as one process's tf.data passes are)
    assert len(chief["reads"]) == len(other["reads"]) == len(alone["reads"]) == epochs
    for epoch, (first, second) in enumerate(zip(chief["reads"], other["reads"], strict=True)):
        assert not set(first) & set(second), epoch
        assert sorted(set(first) | set(second)) == list(range(59)), epoch
        if epoch > 0:
            assert len(first) + len(second) == 59, epoch


def test_the_losses_are_the_whole_mini_batches_and_only_the_chief_shows_progress(runs):
    (chief, shown), (_, not_shown), (alone, _) = runs
    np.testing.assert_allclose(chief["loss"], alone["loss"], rtol=1e-5)
    np.testing.assert_allclose(chief["trainnet-loss"], alone["trainnet-loss"], rtol=1e-5)
    assert "Epoch 3/3" in shown and "Epoch" not in not_shown  # Verbose=True on both


def test_validation_and_the_best_network_are_the_one_process_ones(runs):
    (chief, _), (other, _), (alone, _) = runs
    np.testing.assert_allclose(chief["validation"], alone["validation"], rtol=1e-5)
    assert chief["validation"] == other["validation"]  # each worker validates the same
    assert chief["chosen"] == alone["chosen"] == other["chosen"]


def test_only_the_chief_writes_the_progress_figure(runs, folders):
    assert [sorted(p.name for p in folder.iterdir()) for folder in folders] == [
        ["progress.png"], [], ["progress.png"]]


#: The long run's epochs: worker 1 is killed when worker 0 starts the third (12 took the test
#: 60 s, 6 take it 46 s)
EPOCHS = 6
LONG = rf"""
import json, sys
import keras, numpy as np
from matkeras.datasets import japanese_vowels
from matkeras.matlab import *

(XTrain, TTrain), _ = japanese_vowels()
keras.utils.set_random_seed(0)
net = trainNetwork(XTrain[:135], TTrain[:135],
                   [sequenceInputLayer(12), lstmLayer(8, OutputMode="last"),
                    fullyConnectedLayer(9), softmaxLayer(), classificationLayer()],
                   trainingOptions("adam", MaxEpochs={EPOCHS}, MiniBatchSize=27, Seed=0,
                                   Shuffle="every-epoch", Verbose=sys.argv[1] == "parallel",
                                   ExecutionEnvironment=sys.argv[1], CheckpointPath=sys.argv[2]))
print(json.dumps([w.tolist() for w in net.get_weights()]))
"""


def _workers(script, arguments, logs):
    processes = []
    for log, config in zip(logs, local_tf_configs(2), strict=True):
        with open(log, "w") as out:
            processes.append(subprocess.Popen(
                [sys.executable, "-c", script, *arguments], cwd=REPO, stdout=out,
                stderr=subprocess.STDOUT, env={**os.environ, "TF_CONFIG": config}))
    return processes


def test_a_worker_that_dies_stops_the_other_and_a_restart_resumes_from_the_checkpoint(
        tmp_path):
    """Worker 1 is killed after worker 0 has shown two epochs of EPOCHS; worker 0 stops within a
    bounded time (TensorFlow's heartbeats notice the missing worker: about 10 s here) with
    matkeras's message, not a hang. Both started again with the same CheckpointPath resume
    after the last checkpoint and end with the weights of one process that was never stopped
    (Shuffle every-epoch: the order of the mini-batches is restored too)."""
    import time

    checkpoints = tmp_path / "checkpoints"
    logs = [tmp_path / f"worker{index}.txt" for index in range(2)]
    processes = []
    try:
        processes = _workers(LONG, ["parallel", str(checkpoints)], logs)
        deadline = time.monotonic() + 120
        while f"Epoch 3/{EPOCHS}" not in logs[0].read_text(errors="replace"):
            assert time.monotonic() < deadline, logs[0].read_text(errors="replace")[-3000:]
            assert processes[0].poll() is None, logs[0].read_text(errors="replace")[-3000:]
            time.sleep(0.2)
        processes[1].kill()
        killed = time.monotonic()
        code = processes[0].wait(timeout=90)
        waited = time.monotonic() - killed
        text = logs[0].read_text(errors="replace")
        assert code != 0, text[-3000:]
        assert "ExecutionEnvironment='parallel': worker 0 lost the other workers" in text, \
            text[-3000:]
        assert "Restart the script on every worker" in text
        assert f"Epoch {EPOCHS}/{EPOCHS}" not in text  # stopped mid-run
        assert (checkpoints / "matkeras_checkpoint.npz").exists()
        assert (checkpoints / "worker-1" / "matkeras_checkpoint.npz").exists()
        print(f"worker 0 stopped {waited:.1f} s after worker 1 was killed")

        resumed = [tmp_path / f"resumed{index}.txt" for index in range(2)]
        processes += _workers(LONG, ["parallel", str(checkpoints)], resumed)
        alone = subprocess.run([sys.executable, "-c", LONG, "cpu", ""], cwd=REPO,
                               capture_output=True, text=True, timeout=300)
        assert alone.returncode == 0, alone.stdout[-3000:] + alone.stderr[-3000:]
        for process, log in zip(processes[2:], resumed, strict=True):
            assert process.wait(timeout=300) == 0, log.read_text(errors="replace")[-3000:]
        text = resumed[0].read_text(errors="replace")
        assert f"Epoch 1/{EPOCHS}" not in text and f"Epoch {EPOCHS}/{EPOCHS}" in text  # resumed
        got = json.loads(text.strip().splitlines()[-1])
        expected = json.loads(alone.stdout.strip().splitlines()[-1])
        difference = _largest_difference(got, expected)
        assert difference <= tol.FLOAT32_ATOL, difference
        assert not (checkpoints / "matkeras_checkpoint.npz").exists()  # done: it goes
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
            process.wait()


def test_workers_are_numbered_as_tensorflow_numbers_its_input_pipelines():
    """The chief (where the cluster names one) is worker 0: it alone shows progress, writes
    figures and the checkpoint's main folder, and makes the first part of each mini-batch;
    then the "worker" tasks in order."""
    import tensorflow as tf

    from matkeras.training import task_index

    resolver = tf.distribute.cluster_resolver.SimpleClusterResolver
    with_chief = tf.train.ClusterSpec({"chief": ["a:1"], "worker": ["b:1", "c:1"]})
    assert [task_index(resolver(with_chief, task_type=kind, task_id=index))
            for kind, index in (("chief", 0), ("worker", 0), ("worker", 1))] == [0, 1, 2]
    workers = tf.train.ClusterSpec({"worker": ["b:1", "c:1"]})
    assert [task_index(resolver(workers, task_type="worker", task_id=index))
            for index in (0, 1)] == [0, 1]
    assert task_index(None) == 0
