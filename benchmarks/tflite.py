"""TFLite (LiteRT) against TensorFlow: latency and the accuracy/size of quantized exports.

    python -m benchmarks.tflite [--out PATH]

For the Japanese Vowels demo network (trained here, 100 epochs): test accuracy and file size of
the float32, float16 and dynamic-int8 TFLite exports, and the inference latency of LiteRT (2
threads) and of TensorFlow (the Keras model in a tf.function) at batch 1 and batch 32, on a
demo-length sequence (26 steps) and on a 1000-step one. Writes
``benchmarks/results/<date>-<machine>-tflite.md``.
"""

import argparse
import datetime
import os
import platform
import statistics
import sys
import tempfile
import time

import numpy as np

import matkeras  # noqa: F401  (before TensorFlow: its CPU settings apply to every candidate)


def _median_ms(function, repeats):
    function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--out")
    args = parser.parse_args(argv)

    import tensorflow as tf

    from matkeras import demo, export, inference

    model, accuracy, _, (x_test, y_test) = demo.train(args.epochs, seed=0, verbose=0)
    alone = float(np.mean(np.argmax(inference.predict(model, x_test, mini_batch_size=1), -1)
                          == y_test))
    folder = tempfile.mkdtemp(prefix="matkeras-tflite-bench-")
    lines = [f"# matkeras TFLite benchmark, {datetime.date.today()} on {platform.node()}", "",
             f"Japanese Vowels demo network (LSTM(100,'last'), {args.epochs} epochs). Accuracy "
             "over the 370 test sequences, each run alone at batch 1 (no padding).", "",
             "| export | file KiB | test accuracy | fused LSTM op |", "|---|---|---|---|",
             f"| Keras, sorted mini-batches of 27 (the demo's figure) | | {accuracy:.4f} | |",
             f"| Keras, each sequence alone | | {alone:.4f} | |"]
    for quantize in (None, "float16", "dynamic-int8"):
        path = export.export_tflite(model, os.path.join(folder, f"{quantize}.tflite"),
                                    quantize=quantize)
        run = export.tflite_runner(path)
        labels = [int(np.argmax(run(x[None])["y"])) for x in x_test]
        correct = float(np.mean(np.array(labels) == y_test))
        fused = "UNIDIRECTIONAL_SEQUENCE_LSTM" in export.tflite_ops(path)
        lines.append(f"| TFLite {quantize or 'float32'} | {os.path.getsize(path) / 1024:.0f} | "
                     f"{correct:.4f} | {'yes' if fused else 'no'} |")
        print(f"[bench] {quantize or 'float32'}: accuracy {correct:.4f}", file=sys.stderr)
    lines += ["", "Latency (median ms; LiteRT with 2 threads; TensorFlow: the Keras model in a "
              "tf.function, same process):", "",
              "| batch | steps | TensorFlow ms | LiteRT ms | TF / LiteRT |",
              "|---|---|---|---|---|"]
    served = tf.function(lambda x: model(x, training=False), reduce_retracing=True)
    for batch in (1, 32):
        path = export.export_tflite(model, os.path.join(folder, f"b{batch}.tflite"),
                                    batch_size=batch)
        run = export.tflite_runner(path, threads=2)
        for steps in (26, 1000):
            x = np.random.default_rng(0).normal(0, 1, (batch, steps, 12)).astype("float32")
            repeats = 30 if steps < 100 else 8
            tf_ms = _median_ms(lambda x=x: served(tf.constant(x)).numpy(), repeats)
            lite_ms = _median_ms(lambda x=x, run=run: run(x), repeats)
            lines.append(f"| {batch} | {steps} | {tf_ms:.2f} | {lite_ms:.2f} | "
                         f"{tf_ms / lite_ms:.2f}x |")
            print(f"[bench] batch {batch} steps {steps}: TF {tf_ms:.2f} ms, LiteRT "
                  f"{lite_ms:.2f} ms", file=sys.stderr)
    text = "\n".join(lines) + "\n"
    print(text)
    out = args.out or os.path.join(os.path.dirname(__file__), "results",
                                   f"{datetime.date.today()}-{platform.node() or 'machine'}"
                                   "-tflite.md")
    with open(out, "w") as handle:
        handle.write(text)
    print(f"[bench] wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
