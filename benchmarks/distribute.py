"""Training on one process, on two logical devices and on two worker processes of this machine.

    python -m benchmarks.distribute [--epochs N] [--out PATH]

MATLAB's Japanese Vowels network (bilstmLayer(100, OutputMode="last"), MiniBatchSize 27,
sorted-free, Shuffle "never") trained with trainNetwork for N epochs (10) three ways:
ExecutionEnvironment "cpu" (one process), a tf.distribute.MirroredStrategy over two logical CPU
devices (one process) and "parallel" (two worker processes joined by TF_CONFIG on free local
ports). The time is trainNetwork's call in each process (the chief's for "parallel"), start-up
excluded; the weights of the three are compared. Writes
``benchmarks/results/<date>-<machine>-distribute.md``.
"""

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys

import numpy as np

from matkeras.training import local_tf_configs

SCRIPT = r"""
import json, sys, time
mode, epochs, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
import tensorflow as tf
if threads:
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
if mode == "mirrored":
    tf.config.set_logical_device_configuration(
        tf.config.list_physical_devices("CPU")[0], [tf.config.LogicalDeviceConfiguration()] * 2)
import keras
from matkeras.datasets import japanese_vowels
from matkeras.matlab import *

(X, T), _ = japanese_vowels()
where = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]) if mode == "mirrored" else mode
keras.utils.set_random_seed(0)
layers = [sequenceInputLayer(12), bilstmLayer(100, OutputMode="last"), fullyConnectedLayer(9),
          softmaxLayer(), classificationLayer()]
options = trainingOptions("adam", MaxEpochs=epochs, MiniBatchSize=27, Shuffle="never",
                          GradientThreshold=1, Verbose=False, ExecutionEnvironment=where)
start = time.perf_counter()
net = trainNetwork(X, T, layers, options)
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "weights": [w.tolist() for w in net.get_weights()]}))
"""


def _run(modes, epochs, threads=0):
    processes = []
    try:
        for mode, environment in modes:
            processes.append(subprocess.Popen(
                [sys.executable, "-c", SCRIPT, mode, str(epochs), str(threads)], text=True,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **environment}))
        results = []
        for process in processes:
            out, err = process.communicate(timeout=1800)
            if process.returncode != 0:
                raise RuntimeError(err[-3000:])
            results.append(json.loads(out.strip().splitlines()[-1]))
        return results
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()


def _difference(a, b):
    return max(float(np.max(np.abs(np.asarray(x) - np.asarray(y))))
               for x, y in zip(a, b, strict=True))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    def workers(threads=0):
        return _run([("parallel", {"TF_CONFIG": config}) for config in local_tf_configs(2)],
                    args.epochs, threads)

    one, = _run([("cpu", {})], args.epochs)
    single, = _run([("cpu", {})], args.epochs, threads=1)
    mirrored, = _run([("mirrored", {})], args.epochs)
    chief, other = workers()
    chief_single, _ = workers(threads=1)
    rows = [("one process (`cpu`), TensorFlow's threads (2)", one, one),
            ("one process, 1 thread", single, one),
            ("two logical devices (MirroredStrategy), one process", mirrored, one),
            ("two worker processes (`parallel`), 2 threads each", chief, one),
            ("two worker processes, 1 thread each", chief_single, one)]
    lines = [f"# Distributed training, {datetime.date.today()}, {platform.node() or 'this VM'}",
             "", f"{os.cpu_count()} CPU cores, no GPU; Japanese Vowels (270 sequences), "
             f"bilstmLayer(100), MiniBatchSize 27, {args.epochs} epochs of trainNetwork "
             "(start-up excluded); speed-up against one process with TensorFlow's threads.", "",
             "| how | trainNetwork s | speed-up | max abs weight difference to one process |",
             "|---|---|---|---|"]
    for name, result, reference in rows:
        lines.append(f"| {name} | {result['seconds']:.1f} | "
                     f"{one['seconds'] / result['seconds']:.2f}x | "
                     f"{_difference(result['weights'], reference['weights']):.1e} |")
    lines += ["", f"The two workers' weights differ by "
              f"{_difference(chief['weights'], other['weights']):.1e}. Two workers against one "
              f"process at 1 thread each: {single['seconds'] / chief_single['seconds']:.2f}x."]
    text = "\n".join(lines) + "\n"
    print(text)
    out = args.out or os.path.join(os.path.dirname(__file__), "results",
                                   f"{datetime.date.today()}-vm-distribute.md")
    with open(out, "w") as handle:
        handle.write(text)


if __name__ == "__main__":
    main()
