"""MATLAB's prediction verbs against the compiled forward pass they run (issue 34).

For each layer kind (LSTM, GRU, BiLSTM) at shapes S and L, and the demo's shape: a network
``sequenceInputLayer -> <recurrent>(units, OutputMode="last") -> fullyConnectedLayer(10)``,
timed interleaved round by round in one process (medians, ms):

- ``torch``: ``torch.nn.LSTM``/``GRU`` + ``Linear`` under ``no_grad`` (the reference);
- ``stock Keras``: ``keras.layers.LSTM``/``GRU``/``Bidirectional`` + ``Dense`` in a
  ``tf.function``, and the same under XLA (``jit_compile=True``);
- ``compiled forward``: the matkeras network in a ``tf.function`` (``model(x)``);
- ``inference.predict``: what ``predict``, ``classify`` and ``minibatchpredict`` run;
- ``predict_on_batch`` and ``model.predict`` (Keras's own; ``model.predict`` at S only).

Then one-step streaming on ``lstm(128) + fc``: ``predict_and_update_state`` on one time step, and
``forecast`` (closed loop, per step), against torch's ``LSTM`` + ``Linear`` one step at a time.
Writes ``benchmarks/results/<date>-<machine>-prediction.md``.

    python -m benchmarks.prediction [--quick] [--out PATH] [--label TEXT]
"""

import argparse
import datetime
import os
import platform
import statistics
import time

import numpy as np

import matkeras  # noqa: F401  (before TensorFlow: its CPU settings apply to every candidate)

SHAPES = {"S": (32, 200, 12, 128), "L": (32, 1000, 123, 320), "demo": (27, 26, 12, 100)}
KINDS = ("lstm", "gru", "bilstm")
OUTPUTS = 10


def _matkeras_network(kind, features, units):
    from matkeras.matlab import (
        bilstmLayer,
        fullyConnectedLayer,
        gruLayer,
        lstmLayer,
        sequenceInputLayer,
    )
    from matkeras.network import assemble_network

    layer = {"lstm": lstmLayer, "gru": gruLayer, "bilstm": bilstmLayer}[kind]
    return assemble_network([sequenceInputLayer(features), layer(units, OutputMode="last"),
                             fullyConnectedLayer(OUTPUTS)], compile=False)


def _stock_network(kind, features, units):
    import keras

    layer = {"lstm": lambda: keras.layers.LSTM(units),
             "gru": lambda: keras.layers.GRU(units, reset_after=True),
             "bilstm": lambda: keras.layers.Bidirectional(keras.layers.LSTM(units))}[kind]()
    return keras.Sequential([keras.Input((None, features)), layer,
                             keras.layers.Dense(OUTPUTS)])


def candidates(kind, shape, with_model_predict):
    import tensorflow as tf
    import torch

    from matkeras import inference

    batch, steps, features, units = shape
    x = np.random.default_rng(0).standard_normal((batch, steps, features)).astype(np.float32)
    tx = tf.constant(x)
    model = _matkeras_network(kind, features, units)
    stock = _stock_network(kind, features, units)
    forward = tf.function(lambda v: model(v, training=False), autograph=False)
    stock_forward = tf.function(lambda v: stock(v, training=False), autograph=False)
    stock_xla = tf.function(lambda v: stock(v, training=False), autograph=False,
                            jit_compile=True)
    torch.set_num_threads(os.cpu_count() or 1)
    module = {"lstm": lambda: torch.nn.LSTM(features, units, batch_first=True),
              "gru": lambda: torch.nn.GRU(features, units, batch_first=True),
              "bilstm": lambda: torch.nn.LSTM(features, units, batch_first=True,
                                              bidirectional=True)}[kind]()
    head = torch.nn.Linear(units * (2 if kind == "bilstm" else 1), OUTPUTS)
    torch_x = torch.from_numpy(x)

    def torch_run():
        with torch.no_grad():
            return head(module(torch_x)[0][:, -1]).numpy()

    made = {
        "torch": torch_run,
        "stock Keras": lambda: stock_forward(tx).numpy(),
        "stock Keras, XLA": lambda: stock_xla(tx).numpy(),
        "compiled forward": lambda: forward(tx).numpy(),
        "inference.predict": lambda: inference.predict(model, x),
        "predict_on_batch": lambda: model.predict_on_batch(x),
    }
    if with_model_predict:
        made["model.predict"] = lambda: model.predict(x, verbose=0)
    return made


def measure(runners, repeats):
    """Interleaved rounds, each candidate run once untimed then once timed (steady state, as
    benchmarks.run does); medians in ms."""
    for run in runners.values():
        run()
    times = {name: [] for name in runners}
    for _ in range(repeats):
        for name, run in runners.items():
            run()
            start = time.perf_counter()
            run()
            times[name].append((time.perf_counter() - start) * 1e3)
    return {name: statistics.median(t) for name, t in times.items()}


def streaming(repeats, steps=50):
    """ms per step: predict_and_update_state on one step, forecast's closed loop (per step),
    torch's LSTM + Linear one step at a time with the state carried."""
    import torch

    from matkeras import inference

    model = _one_step_network()
    x = np.random.default_rng(1).standard_normal((1, 12)).astype(np.float32)
    module, head = torch.nn.LSTM(12, 128, batch_first=True), torch.nn.Linear(128, 12)
    tx = torch.from_numpy(x[None])

    def update():
        inference.reset_state(model)
        for _ in range(steps):
            inference.predict_and_update_state(model, x)

    def closed_loop():
        inference.forecast(model, x, steps=steps)

    def torch_steps():
        state, step = None, tx
        with torch.no_grad():
            for _ in range(steps):
                out, state = module(step, state)
                step = head(out)

    runners = {"torch LSTM + Linear": torch_steps, "predict_and_update_state": update,
               "forecast (closed loop)": closed_loop}
    return {name: ms / steps for name, ms in measure(runners, repeats).items()}


def _one_step_network():
    from matkeras.matlab import fullyConnectedLayer, lstmLayer, sequenceInputLayer
    from matkeras.network import assemble_network

    return assemble_network([sequenceInputLayer(12), lstmLayer(128), fullyConnectedLayer(12)],
                            compile=False)


def _table(results, names):
    lines = ["| shape | kind | " + " | ".join(names) + " |",
             "|---|---|" + "---|" * len(names)]
    for (shape, kind), row in results.items():
        torch_ms = row["torch"]
        cells = []
        for name in names:
            if name not in row:
                cells.append("")
                continue
            cells.append(f"{row[name]:.2f} ({row[name] / torch_ms:.2f}x)")
        lines.append(f"| {shape} {SHAPES[shape]} | {kind} | " + " | ".join(cells) + " |")
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="S and demo only, fewer repeats")
    parser.add_argument("--out", default=None)
    parser.add_argument("--label", default="", help="a line under the title (what was run)")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    repeats = 5 if args.quick else 11
    results, names = {}, []
    for shape in ("S", "demo") if args.quick else ("S", "L", "demo"):
        for kind in KINDS if shape != "demo" else ("lstm",):
            runners = candidates(kind, SHAPES[shape], with_model_predict=shape != "L")
            row = measure(runners, repeats if shape != "L" else 5)
            results[(shape, kind)] = row
            names += [n for n in row if n not in names]
            print(shape, kind, {k: round(v, 2) for k, v in row.items()}, flush=True)
    stream = streaming(repeats)
    print("streaming", {k: round(v, 3) for k, v in stream.items()}, flush=True)
    date = datetime.date.today().isoformat()
    out = args.out or os.path.join(os.path.dirname(__file__), "results",
                                   f"{date}-vm-prediction.md")
    import tensorflow as tf
    import torch

    text = [f"# Prediction verbs against the compiled forward ({date})", "",
            args.label, "",
            f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
            f"TensorFlow {tf.__version__}, Keras {__import__('keras').__version__}, "
            f"torch {torch.__version__}. Medians of {repeats} interleaved rounds (5 at L), ms, "
            "and the ratio to torch in the same run. Network: input -> recurrent(units, "
            f"last output) -> fc({OUTPUTS}); shape = (batch, time, features, units).", "",
            *_table(results, names), "",
            "One-step streaming, lstm(128) + fc(12), batch 1, ms per step:", "",
            "| candidate | ms per step | / torch |", "|---|---|---|"]
    base = stream["torch LSTM + Linear"]
    text += [f"| {k} | {v:.3f} | {v / base:.2f}x |" for k, v in stream.items()]
    with open(out, "w") as handle:
        handle.write("\n".join(text) + "\n")
    print("wrote", out)


if __name__ == "__main__":
    main()
