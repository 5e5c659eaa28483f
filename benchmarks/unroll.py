"""Steps per loop iteration (``MATKERAS_LOOP_UNROLL``): what the first call and each later call
cost with 1, 2 and 4 (the rule's choice for small layers), TensorFlow backend.

Each round builds a new model per (layer, setting) and times its first call (tracing, graph
optimization and the run) and then its later calls (median of `calls`), the settings taking
turns within a round, so all see the same machine. Inference is ``inference.predict``, training
``train_on_batch`` (Adam, MSE). Medians over the rounds.

    python -m benchmarks.unroll [--rounds N] [--calls N] [--out PATH]
"""

import argparse
import os
import platform
import statistics
import time

SHAPE = (32, 200, 12, 128)  # batch, time steps, features, units: the "S" shape of benchmarks.run
SETTINGS = ("1", "2", "4")


def _measure(kind, unroll, mode, calls):
    import keras
    import numpy as np

    from matkeras import inference
    from matkeras.layers import GRU, LSTM, BiLSTM
    from matkeras.ops import _speed

    batch, steps, features, units = SHAPE
    rng = np.random.default_rng(0)
    x = rng.random((batch, steps, features)).astype("float32")
    layer = {"lstm": LSTM, "gru": GRU, "bilstm": BiLSTM}[kind](units)
    inputs = keras.Input((None, features))
    model = keras.Model(inputs, layer(inputs))
    if mode == "train":
        model.compile("adam", "mse")
        y = rng.random((batch, steps, model.output_shape[-1])).astype("float32")

        def call():
            model.train_on_batch(x, y)
    else:
        def call():
            inference.predict(model, x, xla=False)
    with _speed.forced(unroll=unroll):
        start = time.perf_counter()
        call()
        first = time.perf_counter() - start
        later = []
        for _ in range(calls):
            start = time.perf_counter()
            call()
            later.append(time.perf_counter() - start)
    return first, statistics.median(later)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=15)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    os.environ.pop("MATKERAS_LOOP_UNROLL", None)
    results = {}
    for round_ in range(args.rounds):
        for kind in ("lstm", "gru", "bilstm"):
            for mode in ("infer", "train"):
                for unroll in SETTINGS:
                    first, later = _measure(kind, unroll, mode, args.calls)
                    results.setdefault((kind, mode, unroll), []).append((first, later))
        print(f"round {round_ + 1}/{args.rounds} done", flush=True)
    lines = [
        f"# Steps per loop iteration (MATKERAS_LOOP_UNROLL), {time.strftime('%Y-%m-%d')} on "
        f"{platform.node() or 'this machine'}", "",
        f"TensorFlow backend, CPU: {platform.machine()}, {os.cpu_count()} cores. Shape (batch, "
        f"steps, features, units) = {SHAPE}, float32. Medians of {args.rounds} rounds; a "
        f"round builds a new model per row and times its first call, then {args.calls} later "
        "calls (their median). Inference: `inference.predict(xla=False)`; training: "
        "`train_on_batch` (Adam, MSE). 4 is the rule's choice for these layers.", "",
        "| layer | call | unroll | first call s | later calls ms | later / unroll 4 |",
        "|---|---|---|---|---|---|"]
    for (kind, mode, unroll), rows in results.items():
        first = statistics.median(r[0] for r in rows)
        later = statistics.median(r[1] for r in rows)
        base = statistics.median(r[1] for r in results[kind, mode, "4"])
        lines.append(f"| {kind} | {mode} | {unroll} | {first:.3f} | {1e3 * later:.2f} | "
                     f"{later / base:.2f}x |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        with open(args.out, "w") as out:
            out.write(text)


if __name__ == "__main__":
    main()
