"""trainingOptions' ExecutionEnvironment on tf.distribute (issue 28, first part): trainNetwork
and trainnet under a MirroredStrategy over two logical CPU devices give the weights one device
gives, with mini-batches that do not split evenly across the replicas (MATLAB divides a
mini-batch's loss by the whole mini-batch's count: matkeras.ops.replicas) and padded sequences,
and so does a Keras user's own fit in the strategy's scope with matkeras's layers and solver;
'multi-gpu' without a GPU and 'parallel' without TF_CONFIG are refused with what to do instead.

TensorFlow fixes its devices when it starts: the training runs are one Python process of their
own (both runs in it, so that they share the start-up)."""

import json
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from matkeras.matlab import (
    classificationLayer,
    fullyConnectedLayer,
    lstmLayer,
    sequenceInputLayer,
    softmaxLayer,
    trainingOptions,
    trainNetwork,
)
from tests import tolerances as tol
from tests.conftest import REPO

SCRIPT = r"""
import json, sys
import keras, numpy as np
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()])
from matkeras.datasets import japanese_vowels
from matkeras.matlab import *
from matkeras.dlnetwork import as_model

(XTrain, TTrain), _ = japanese_vowels()
X, T = XTrain[:59], TTrain[:59]  # mini-batches of 27: 27, 27, 5 (14/13, 14/13, 3/2 per device)
rng = np.random.default_rng(0)
responses = [np.cumsum(x[:, :2], axis=0) * 0.1 for x in X]  # per-step targets, padded
results = {}
for where in ("one", "two"):
    rng = np.random.default_rng(0)
    strategy = (tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]) if where == "two"
                else "cpu")
    common = dict(MaxEpochs=3, MiniBatchSize=27, Verbose=False, Seed=0, Shuffle="never",
                  ExecutionEnvironment=strategy)
    keras.utils.set_random_seed(0)  # the layers draw their initial weights when made
    net = trainNetwork(X, T, [sequenceInputLayer(12), lstmLayer(8, OutputMode="last"),
                              fullyConnectedLayer(9), softmaxLayer(), classificationLayer()],
                       trainingOptions("adam", InitialLearnRate=0.01, GradientThreshold=1,
                                       **common))
    results[f"trainNetwork-{where}"] = [w.tolist() for w in net.get_weights()]
    results[f"trainNetwork-loss-{where}"] = net.history.history["loss"]
    keras.utils.set_random_seed(0)  # split-sequence: chunks of 8 steps, state carried
    split = trainNetwork(X, responses, [sequenceInputLayer(12), lstmLayer(6),
                                        fullyConnectedLayer(2), regressionLayer()],
                         trainingOptions("adam", InitialLearnRate=0.01, SequenceLength=8,
                                         **common))
    results[f"split-{where}"] = [w.tolist() for w in split.get_weights()]
    keras.utils.set_random_seed(0)
    net, info = trainnet(X, responses, [sequenceInputLayer(12), lstmLayer(6),
                                        fullyConnectedLayer(2)], "mse",
                         trainingOptions("sgdm", InitialLearnRate=0.05, L2Regularization=1e-3,
                                         ValidationData=(X[:20], responses[:20]),
                                         ValidationFrequency=2, **common))
    results[f"trainnet-{where}"] = [w.tolist() for w in as_model(net, "test").get_weights()]
    results[f"trainnet-validation-{where}"] = [float(v) for v in info.ValidationHistory["Loss"]]
    results[f"replicas-{where}"] = 1 if strategy == "cpu" else strategy.num_replicas_in_sync
    # A Keras user's own model.fit in the strategy's scope (README): Keras's loss averaging and
    # clipping, with matkeras's layers and solver; 64 rows in batches of 16 split evenly
    from matkeras import layers as L, optimizers
    keras.utils.set_random_seed(0)
    scope = strategy.scope() if where == "two" else tf.distribute.get_strategy().scope()
    x = rng.normal(size=(64, 12, 3)).astype("float32")
    y = rng.integers(0, 3, 64)
    with scope:
        model = keras.Sequential([
            keras.Input((None, 3)), L.LSTM(6, output_mode="sequence"),
            L.GRU(5, output_mode="last"), L.FullyConnected(3), L.Softmax(), L.Classification()])
        model.compile(optimizers.Adam(0.01, clipnorm=1.0), model.layers[-1].loss)
    model.fit(tf.data.Dataset.from_tensor_slices((x, y)).batch(16), epochs=3, verbose=0)
    results[f"keras-fit-{where}"] = [w.tolist() for w in model.get_weights()]
print(json.dumps(results))
"""


@pytest.fixture(scope="module")
def trained():
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                          cwd=REPO, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _largest_difference(a, b):
    return max(float(np.max(np.abs(np.asarray(x) - np.asarray(y))))
               for x, y in zip(a, b, strict=True))


@pytest.mark.parametrize("function", ["trainNetwork", "trainnet", "split", "keras-fit"])
def test_two_devices_train_the_weights_one_device_trains(trained, function):
    """The replicas' gradients are summed in another order than one device's sums: float32
    rounding, within the float32 tolerance after 3 epochs (6 iterations)."""
    assert trained["replicas-one"] == 1 and trained["replicas-two"] == 2
    one, two = trained[f"{function}-one"], trained[f"{function}-two"]
    assert _largest_difference(one, two) <= tol.FLOAT32_ATOL, _largest_difference(one, two)
    assert max(abs(np.asarray(w)).max() for w in one) > 0.05  # they trained


def test_the_losses_shown_are_the_whole_mini_batches(trained):
    np.testing.assert_allclose(trained["trainNetwork-loss-two"], trained["trainNetwork-loss-one"],
                               rtol=1e-5)
    np.testing.assert_allclose(trained["trainnet-validation-two"],
                               trained["trainnet-validation-one"], rtol=1e-5)


def _layers():
    return [sequenceInputLayer(3), lstmLayer(4, OutputMode="last"), fullyConnectedLayer(2),
            softmaxLayer(), classificationLayer()]


def test_multi_gpu_needs_a_gpu_and_parallel_needs_tf_config(rng):
    X = [rng.normal(size=(5, 3)).astype("float32") for _ in range(4)]
    Y = np.array(["a", "b"] * 2)
    options = trainingOptions("adam", MaxEpochs=1, Verbose=False, ExecutionEnvironment="multi-gpu")
    if tf.config.list_logical_devices("GPU"):  # a machine with GPUs trains on them
        assert trainNetwork(X, Y, _layers(), options).count_params() > 0
    else:
        with pytest.raises(ValueError, match="'multi-gpu' needs GPUs, and TensorFlow sees none"):
            trainNetwork(X, Y, _layers(), options)
    parallel = trainingOptions("adam", MaxEpochs=1, Verbose=False,
                               ExecutionEnvironment="parallel")
    with pytest.raises(ValueError, match="TF_CONFIG is 'not set'. Set it in each worker"):
        trainNetwork(X, Y, _layers(), parallel)  # this pytest process is no worker
    with pytest.raises(ValueError, match="or a tf.distribute.Strategy"):
        trainingOptions("adam", ExecutionEnvironment=3)
