"""Training under tf.distribute.MirroredStrategy with two logical CPU devices gives the weights
one device gives (the gradients of the two half-batches are summed across replicas).

TensorFlow fixes its devices when it starts, so each run is its own Python process.
"""

import json
import subprocess
import sys

import numpy as np

from tests.conftest import REPO

SCRIPT = r"""
import json, sys
import numpy as np
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()])
import keras
from matkeras import layers as L
from matkeras import optimizers

mirrored = sys.argv[1] == "mirrored"
keras.utils.set_random_seed(0)
rng = np.random.default_rng(0)
x = rng.normal(size=(64, 12, 3)).astype("float32")
y = rng.integers(0, 3, 64)
strategy = (tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]) if mirrored
            else tf.distribute.get_strategy())
with strategy.scope():
    model = keras.Sequential([
        keras.Input((None, 3)), L.LSTM(6, output_mode="sequence"), L.GRU(5, output_mode="last"),
        L.FullyConnected(3), L.Softmax(), L.Classification()])
    model.compile(optimizers.Adam(0.01, clipnorm=1.0), model.layers[-1].loss)
data = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
model.fit(data, epochs=3, verbose=0)
print(json.dumps({"replicas": strategy.num_replicas_in_sync,
                  "weights": [w.tolist() for w in model.get_weights()]}))
"""


def _train(mode):
    done = subprocess.run([sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True,
                          cwd=REPO, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_mirrored_strategy_on_two_devices_matches_one_device():
    one, two = _train("single"), _train("mirrored")
    assert one["replicas"] == 1 and two["replicas"] == 2
    for a, b in zip(one["weights"], two["weights"], strict=True):
        np.testing.assert_allclose(np.asarray(b), np.asarray(a), atol=1e-5)
