"""``make bench``: matkeras's recurrent layers against stock Keras and PyTorch, in one process.

For each shape (batch, time, features, units) and layer kind it times inference and a full
training step (forward, backward, Adam update) of matkeras, stock ``keras.layers`` (where an
equivalent exists) and ``torch.nn`` (CPU), interleaved round by round, and reports medians, the
ratios to torch and to stock Keras, the peak resident memory each run added, and the fraction of
the CPU's measured peak FLOP rate achieved; then what a user waits for in a fresh process (the
first ``predict`` of a loaded network and a 5-epoch ``make demo``, ``benchmarks.first_call``).
Writes ``benchmarks/results/<date>-<machine>.md``. ``python -m benchmarks.rule`` re-measures the
recurrent ops' speed rule.

    python -m benchmarks.run [--quick] [--out PATH]
"""

import argparse
import datetime
import os
import platform
import statistics
import sys
import time

import numpy as np

import matkeras  # noqa: F401  (before TensorFlow: its CPU settings apply to every candidate)
from benchmarks import first_call

SHAPES = {"S": (32, 200, 12, 128), "L": (32, 1000, 123, 320)}


def _peak_rss_reset():
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
    except OSError:
        pass


def _status_mib(field):
    """A memory figure of this process from /proc/self/status (VmHWM: peak, VmRSS: now)."""
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _peak_rss_mib():
    return _status_mib("VmHWM")


def peak_gflops():
    """The CPU's fp32 matrix-multiply rate: a large numpy matmul, best of a few."""
    a = np.random.default_rng(0).standard_normal((2048, 2048)).astype(np.float32)
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        a @ a
        best = min(best, time.perf_counter() - start)
    return 2 * 2048**3 / best / 1e9


def lstm_flops(kind, batch, time_steps, features, units, train):
    gates = {"lstm": 4, "gru": 3, "bilstm": 8}[kind]
    forward = 2 * batch * time_steps * gates * units * (features + units)
    return forward * (3 if train else 1)


def keras_candidates(kind, shape):
    import keras
    import tensorflow as tf

    from matkeras import layers as L

    batch, steps, features, units = shape
    made = {}
    if kind == "lstm":
        made["matkeras"] = L.LSTM(units)
        made["matkeras softsign+hard-sigmoid"] = L.LSTM(units, state_activation="softsign",
                                                         gate_activation="hard-sigmoid")
        made["stock keras"] = keras.layers.LSTM(units, return_sequences=True)
    elif kind == "gru":
        made["matkeras after-mult"] = L.GRU(units)
        made["matkeras before-mult"] = L.GRU(units, reset_gate_mode="before-multiplication")
        made["matkeras rec-bias"] = L.GRU(
            units, reset_gate_mode="recurrent-bias-after-multiplication")
        made["stock keras reset_after"] = keras.layers.GRU(units, return_sequences=True)
        made["stock keras reset_before"] = keras.layers.GRU(units, return_sequences=True,
                                                           reset_after=False)
    else:
        made["matkeras"] = L.BiLSTM(units)
        made["stock keras"] = keras.layers.Bidirectional(
            keras.layers.LSTM(units, return_sequences=True))
    x = tf.constant(np.random.default_rng(0).standard_normal((batch, steps, features)),
                    tf.float32)
    runners = {}
    for name, layer in made.items():
        layer.build((None, None, features))
        for v in layer.trainable_weights:  # MATLAB-style L2 penalties are not timed here
            v.regularizer = None
        optimizer = keras.optimizers.Adam(1e-3)
        optimizer.build(layer.trainable_weights)

        @tf.function(jit_compile=False)
        def infer(layer=layer):
            return layer(x)

        @tf.function(jit_compile=False)
        def train(layer=layer, optimizer=optimizer):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.square(layer(x, training=True)))  # as fit calls it
            grads = tape.gradient(loss, layer.trainable_weights)
            optimizer.apply(grads, layer.trainable_weights)
            return loss

        runners[name] = {"infer": lambda f=infer: f().numpy(),
                         "train": lambda f=train: f().numpy()}
    # What MATLAB-style prediction costs on top: matkeras.inference.predict on the same batch
    # given as a list of sequences (padding, the compiled forward pass with states in and out,
    # the results per sequence). Its train column is the plain layer's.
    from matkeras.inference import predict

    first = next(iter(made))
    inputs = keras.Input((None, features))
    model = keras.Model(inputs, made[first](inputs))
    sequences = list(x.numpy())
    runners[f"{first} via inference.predict"] = {
        "infer": lambda: predict(model, sequences, mini_batch_size=batch),
        "train": runners[first]["train"]}
    return runners


def torch_candidates(kind, shape):
    import torch

    torch.set_num_threads(os.cpu_count() or 1)
    batch, steps, features, units = shape
    module = {"lstm": lambda: torch.nn.LSTM(features, units, batch_first=True),
              "gru": lambda: torch.nn.GRU(features, units, batch_first=True),
              "bilstm": lambda: torch.nn.LSTM(features, units, batch_first=True,
                                              bidirectional=True)}[kind]()
    x = torch.from_numpy(np.random.default_rng(0).standard_normal(
        (batch, steps, features)).astype(np.float32))
    optimizer = torch.optim.Adam(module.parameters(), 1e-3)

    def runners(onednn):
        def infer():
            with torch.no_grad(), torch.backends.mkldnn.flags(enabled=onednn):
                return module(x)[0]

        def train():
            with torch.backends.mkldnn.flags(enabled=onednn):
                optimizer.zero_grad()
                loss = module(x)[0].square().mean()
                loss.backward()
                optimizer.step()
            return loss

        return {"infer": infer, "train": train}

    made = {"torch": runners(True)}
    if kind != "gru":
        # torch runs a float32 LSTM on CPU with oneDNN's fused RNN primitive (the whole sequence
        # in one call); TensorFlow has no such op. Its generic path is shown beside it.
        made["torch, oneDNN RNN off"] = runners(False)
    return made


def measure(runners, repeats):
    """Interleaved rounds: every candidate once per round; medians in ms, peak RSS added."""
    times = {name: {"infer": [], "train": []} for name in runners}
    memory = {}
    for name, run in runners.items():  # warm-up (tracing) and memory, one candidate at a time
        _peak_rss_reset()
        start_rss = _peak_rss_mib()
        run["infer"]()
        run["train"]()
        memory[name] = max(_peak_rss_mib() - start_rss, 0.0)
    for _ in range(repeats):
        for name, run in runners.items():
            for mode in ("infer", "train"):
                # One untimed run first (steady state, as over a user's stream of batches):
                # thread pools that spin after their work (torch's OpenMP, TensorFlow's Eigen
                # pool) would otherwise take the 2 cores from the next candidate; timed cold,
                # the candidate after torch ran ~1.5x slower. (A pause instead of the run made
                # every candidate, torch most, start on an idle VM: torch's 3 ms run took 15 ms.)
                run[mode]()
                start = time.perf_counter()
                run[mode]()
                times[name][mode].append((time.perf_counter() - start) * 1e3)
    return ({n: {m: statistics.median(v) for m, v in t.items()} for n, t in times.items()},
            memory)


def streaming_latency(repeats):
    """One time step at batch 1, state in and out: matkeras LSTM vs torch.nn.LSTM (ms)."""
    import tensorflow as tf
    import torch

    from matkeras.layers import LSTM

    layer = LSTM(128, has_state_inputs=True, has_state_outputs=True)
    x = tf.zeros((1, 1, 12))
    h = c = tf.zeros((1, 128))
    layer([x, h, c])
    step = tf.function(lambda x, h, c: layer([x, h, c]))
    step(x, h, c)
    module = torch.nn.LSTM(12, 128, batch_first=True)
    tx, state = torch.zeros(1, 1, 12), (torch.zeros(1, 1, 128), torch.zeros(1, 1, 128))
    result = {"matkeras": [], "torch": []}
    for _ in range(repeats):
        start = time.perf_counter()
        _, h, c = step(x, h, c)
        h.numpy()
        result["matkeras"].append((time.perf_counter() - start) * 1e3)
        start = time.perf_counter()
        with torch.no_grad():
            _, state = module(tx, state)
        result["torch"].append((time.perf_counter() - start) * 1e3)
    return {k: statistics.median(v) for k, v in result.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shape S only, fewer repeats")
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    shapes = {"S": SHAPES["S"]} if args.quick else SHAPES
    repeats = 5 if args.quick else 9
    peak = peak_gflops()
    lines = [f"# matkeras benchmark, {datetime.date.today()} on {platform.node()}",
             "", f"CPU: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
             f"measured fp32 matmul peak {peak:.0f} GFLOP/s. Medians of {repeats} interleaved "
             f"rounds, fp32, CPU. Mode: {'quick' if args.quick else 'full'}. "
             f"TF_ENABLE_ONEDNN_OPTS={os.environ.get('TF_ENABLE_ONEDNN_OPTS', 'unset')} (matkeras "
             "turns TensorFlow's oneDNN kernels on when imported first; every TensorFlow candidate "
             "runs with the same setting).", ""]
    for label, shape in shapes.items():
        for kind in ("lstm", "gru", "bilstm"):
            if args.quick and label == "L":
                continue
            print(f"[bench] {kind} at {label}={shape} ...", file=sys.stderr, flush=True)
            runners = {**keras_candidates(kind, shape), **torch_candidates(kind, shape)}
            medians, memory = measure(runners, repeats)
            torch_t = medians["torch"]
            lines += [f"## {kind.upper()} {label} = (batch, time, features, units) = {shape}",
                      "", "| candidate | infer ms | train ms | infer / torch | train / torch "
                      "| infer / stock Keras | train / stock Keras | peak RSS added MiB "
                      "| infer % peak |",
                      "|---|---|---|---|---|---|---|---|---|"]
            for name, m in medians.items():
                flops = lstm_flops(kind, *shape, train=False)
                stock = medians.get(_EQUIVALENT_STOCK.get(name, "stock keras"))
                ratio_stock = ("", "") if stock is None or name.startswith(("stock", "torch")) \
                    else (f"{m['infer'] / stock['infer']:.2f}x",
                          f"{m['train'] / stock['train']:.2f}x")
                lines.append(
                    f"| {name} | {m['infer']:.1f} | {m['train']:.1f} | "
                    f"{m['infer'] / torch_t['infer']:.2f}x | {m['train'] / torch_t['train']:.2f}x"
                    f" | {ratio_stock[0]} | {ratio_stock[1]} | {memory[name]:.0f} | "
                    f"{100 * flops / (m['infer'] / 1e3) / (peak * 1e9):.0f}% |")
            lines.append("")
    latency = streaming_latency(200 if not args.quick else 100)
    lines += ["## Streaming: one step at batch 1 (units 128, features 12)", "",
              f"matkeras {latency['matkeras']:.3f} ms, torch {latency['torch']:.3f} ms "
              f"({latency['matkeras'] / latency['torch']:.2f}x).", ""]
    lines += first_call.report(3 if args.quick else 5)
    text = "\n".join(lines)
    print(text)
    out = args.out or os.path.join(os.path.dirname(__file__), "results",
                                   f"{datetime.date.today()}-{platform.node() or 'machine'}"
                                   f"{'-quick' if args.quick else ''}.md")
    with open(out, "w") as handle:
        handle.write(text + "\n")
    print(f"[bench] wrote {out}", file=sys.stderr)


#: The stock Keras layer each matkeras configuration is compared with: the exact equivalent
#: where one exists (Keras's reset_after GRU is MATLAB's recurrent-bias mode; reset_before is
#: before-multiplication), else the closest (MATLAB's after-multiplication has no Keras twin).
_EQUIVALENT_STOCK = {
    "matkeras after-mult": "stock keras reset_after",
    "matkeras rec-bias": "stock keras reset_after",
    "matkeras before-mult": "stock keras reset_before",
}


if __name__ == "__main__":
    main()
