"""``python -m benchmarks.backends``: matkeras's recurrent layers on Keras's PyTorch and JAX
backends, against stock Keras on the same backend and ``torch.nn.LSTM``/``GRU`` in the same
process.

Each backend runs in a fresh process (``KERAS_BACKEND=torch|jax``). Per shape (batch, time,
features, units) and layer kind it times, interleaved round by round: inference
(``predict_on_batch``: jit-compiled on JAX, eager under ``no_grad`` on PyTorch) and a training
step (``train_on_batch``: forward, backward, Adam) of the matkeras layer alone, the stock Keras
layer (``LSTM``, ``GRU(reset_after=True)``, ``Bidirectional(LSTM)``), and ``torch.nn`` with
``torch.optim.Adam``; on PyTorch also the matkeras model called as the ``torch.nn.Module`` it
is there (``model(x)``, and a plain PyTorch step over ``model.parameters()``), the call
torch.nn's row makes; medians and the ratios to torch. Writes
``benchmarks/results/<date>-<machine>-backends.md``.

    python -m benchmarks.backends [--quick] [--out PATH]
"""

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time

SHAPES = {"S": (32, 200, 12, 128), "L": (32, 1000, 123, 320)}
KINDS = ("lstm", "gru", "bilstm")


def _child(backend, shapes, rounds):
    import keras
    import numpy as np
    import torch

    from matkeras import layers as L

    assert keras.backend.backend() == backend
    rows = []
    for label, (batch, steps, features, units) in shapes.items():
        for kind in KINDS:
            rng = np.random.default_rng(0)
            x = rng.normal(size=(batch, steps, features)).astype("float32")
            width = 2 * units if kind == "bilstm" else units
            y = rng.normal(size=(batch, steps, width)).astype("float32")
            ours = {"lstm": L.LSTM, "gru": L.GRU, "bilstm": L.BiLSTM}[kind](units)
            if kind == "gru":
                stock = keras.layers.GRU(units, return_sequences=True, reset_after=True)
            else:
                stock = keras.layers.LSTM(units, return_sequences=True)
                stock = keras.layers.Bidirectional(stock) if kind == "bilstm" else stock
            candidates, models = {}, {}
            # stock Keras on PyTorch runs the recurrence as a Python loop of small ops: seconds
            # per step at L, so it is timed at S only there
            pairs = [("matkeras", ours)] + ([] if backend == "torch" and label == "L" else
                                            [("stock keras", stock)])
            for name, layer in pairs:
                inputs = keras.Input((steps, features))
                model = keras.Model(inputs, layer(inputs))
                model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
                models[name] = model
                candidates[name] = (
                    lambda m=model, x=x: m.predict_on_batch(x),
                    lambda m=model, x=x, y=y: m.train_on_batch(x, y))
            module = (torch.nn.GRU if kind == "gru" else torch.nn.LSTM)(
                features, units, batch_first=True, bidirectional=kind == "bilstm")
            optimizer = torch.optim.Adam(module.parameters(), 1e-3)
            xt, yt = torch.from_numpy(x), torch.from_numpy(y)

            def torch_infer(module=module, xt=xt):
                with torch.no_grad():
                    return module(xt)[0]

            def torch_train(module=module, optimizer=optimizer, xt=xt, yt=yt):
                optimizer.zero_grad()
                loss = torch.nn.functional.mse_loss(module(xt)[0], yt)
                loss.backward()
                optimizer.step()

            if backend == "torch":  # the Keras model as the torch.nn.Module it is there
                ours_model = models["matkeras"]
                ours_optimizer = torch.optim.Adam(ours_model.parameters(), 1e-3)

                def module_infer(module=ours_model, xt=xt):
                    with torch.no_grad():
                        return module(xt)

                def module_train(module=ours_model, optimizer=ours_optimizer, xt=xt, yt=yt):
                    optimizer.zero_grad()
                    loss = torch.nn.functional.mse_loss(module(xt, training=True), yt)
                    loss.backward()
                    optimizer.step()

                candidates["matkeras, module call"] = (module_infer, module_train)
            candidates["torch.nn"] = (torch_infer, torch_train)
            times = {(n, m): [] for n in candidates for m in ("infer", "train")}
            for calls in candidates.values():  # warm up: compile, allocate
                for _ in range(2):
                    calls[0]()
                    calls[1]()
            for _ in range(rounds if label == "S" else max(3, rounds // 2)):
                for name, calls in candidates.items():
                    for mode, call in zip(("infer", "train"), calls, strict=True):
                        start = time.perf_counter()
                        call()
                        times[(name, mode)].append(time.perf_counter() - start)
            for name in candidates:
                rows.append({"shape": label, "kind": kind, "candidate": name,
                             **{m: 1e3 * statistics.median(times[(name, m)])
                                for m in ("infer", "train")}})
            print(f"[{backend}] {label} {kind} done", file=sys.stderr, flush=True)
    print(json.dumps(rows))


def _table(backend, rows):
    lines = [f"## {backend} backend", "",
             "| shape | layer | candidate | infer ms | train ms | infer / torch | "
             "train / torch |", "|---|---|---|---|---|---|---|"]
    for row in rows:
        reference = next(r for r in rows if r["shape"] == row["shape"] and
                         r["kind"] == row["kind"] and r["candidate"] == "torch.nn")
        lines.append(f"| {row['shape']} | {row['kind']} | {row['candidate']} | "
                     f"{row['infer']:.1f} | {row['train']:.1f} | "
                     f"{row['infer'] / reference['infer']:.2f}x | "
                     f"{row['train'] / reference['train']:.2f}x |")
    return lines + [""]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="S only, 3 rounds")
    parser.add_argument("--out", default=None)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    shapes = {"S": SHAPES["S"]} if args.quick else SHAPES
    rounds = 3 if args.quick else 7
    if args.child:
        _child(args.child, shapes, rounds)
        return 0
    sections = []
    for backend in ("torch", "jax"):
        environment = {**os.environ, "KERAS_BACKEND": backend}
        command = [sys.executable, "-m", "benchmarks.backends", "--child", backend] + (
            ["--quick"] if args.quick else [])
        result = subprocess.run(command, stdout=subprocess.PIPE, text=True, env=environment,
                                timeout=3600)  # progress goes to stderr as it runs
        if result.returncode != 0:
            raise SystemExit(f"the {backend} run failed (exit code {result.returncode}).")
        sections += _table(backend, json.loads(result.stdout.strip().splitlines()[-1]))
    date = datetime.date.today().isoformat()
    machine = platform.node().split(".")[0] or "machine"
    out = args.out or os.path.join(os.path.dirname(__file__), "results",
                                   f"{date}-{machine}-backends{'-quick' if args.quick else ''}.md")
    header = [f"# matkeras on Keras's PyTorch and JAX backends, {date} on {machine}", "",
              f"CPU: {platform.machine()}, {os.cpu_count()} cores. Medians of {rounds} "
              "interleaved rounds at S (3 at L), float32. Stock Keras on PyTorch is timed at S "
              "only (its Python loop takes seconds per step at L). Each backend in its own "
              "process; torch.nn in the same process. Inference: `predict_on_batch` (jit on "
              "JAX); training: `train_on_batch` (Adam, MSE). On PyTorch, \"matkeras, module "
              "call\" is the same model called as the `torch.nn.Module` it is there, as "
              "torch.nn is: `model(x)` under `no_grad`, and a plain PyTorch step "
              "(`torch.optim.Adam` over `model.parameters()`, MSE): Keras's "
              "`predict_on_batch`/`train_on_batch` add their own work around the same call.",
              ""]
    with open(out, "w") as handle:
        handle.write("\n".join(header + sections))
    print("\n".join(header + sections))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
