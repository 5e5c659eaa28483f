"""What a user waits for in a fresh process: the first ``predict`` of a loaded network and a
short ``make demo`` training, against stock Keras.

Each figure is the median over `rounds` fresh Python processes, the candidates alternating
(stock Keras, then matkeras, then stock Keras, ...), so both see the same machine. The first
call includes everything a first call pays (tracing, graph optimization, any compilation), not
the imports or the model loading.

    python -m benchmarks.first_call [--rounds N] [--out PATH]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap

#: (name, recurrent layer, features, batch, time steps): the TFGnet-size network of the issue
#: (lstm(200) + fc(5) + softmax, one 50-step sequence), a BiLSTM and a GRU network.
NETWORKS = (
    ("lstm(200)", "lstm", 200, 12, 1, 50),
    ("bilstm(128)", "bilstm", 128, 17, 2, 300),
    ("gru(100)", "gru", 100, 12, 1, 50),
)

_CHILD = textwrap.dedent("""
    import json, sys, time
    import numpy as np
    import matkeras
    import keras
    which, kind, units, features, batch, steps, path = sys.argv[1:8]
    units, features, batch, steps = int(units), int(features), int(batch), int(steps)
    x = np.random.default_rng(0).random((batch, steps, features)).astype("float32")
    if which == "stock":
        layer = {"lstm": lambda: keras.layers.LSTM(units, return_sequences=True),
                 "gru": lambda: keras.layers.GRU(units, return_sequences=True),
                 "bilstm": lambda: keras.layers.Bidirectional(
                     keras.layers.LSTM(units, return_sequences=True))}[kind]()
        inputs = keras.Input((None, features))
        model = keras.Model(inputs, keras.layers.Softmax()(keras.layers.Dense(5)(layer(inputs))))
        run = lambda: model.predict(x, verbose=0)
    else:
        from matkeras.inference import predict
        model = keras.models.load_model(path)
        run = lambda: predict(model, list(x))
    start = time.perf_counter()
    run()
    first = time.perf_counter() - start
    start = time.perf_counter()
    run()
    print(json.dumps({"first": first, "second": time.perf_counter() - start}))
""")


def _save_network(kind, units, features, folder):
    from matkeras import assemble_network
    from matkeras.matlab import (
        bilstmLayer,
        fullyConnectedLayer,
        gruLayer,
        lstmLayer,
        sequenceInputLayer,
        softmaxLayer,
    )

    recurrent = {"lstm": lstmLayer, "gru": gruLayer, "bilstm": bilstmLayer}[kind](units)
    model = assemble_network([sequenceInputLayer(features), recurrent, fullyConnectedLayer(5),
                              softmaxLayer()])
    path = os.path.join(folder, f"{kind}.keras")
    model.save(path)
    return path


def _child(args, env=None):
    result = subprocess.run([sys.executable, "-c", _CHILD, *map(str, args)], capture_output=True,
                            text=True, timeout=600, env=env)
    if result.returncode != 0:
        raise RuntimeError(result.stderr[-3000:])
    return json.loads(result.stdout.strip().splitlines()[-1])


def _demo_seconds(epochs, env=None):
    result = subprocess.run([sys.executable, "-m", "matkeras.demo", "--epochs", str(epochs)],
                            capture_output=True, text=True, timeout=1200, env=env)
    if result.returncode != 0:
        raise RuntimeError(result.stderr[-3000:])
    line = next(text for text in result.stdout.splitlines() if text.startswith("Trained "))
    return float(line.split(" in ")[1].split()[0])


def first_predict(rounds):
    """``{network name: {"stock": (first, second), "matkeras": (first, second)}}``, seconds."""
    found = {}
    with tempfile.TemporaryDirectory(prefix="matkeras-first-call-") as folder:
        for name, kind, units, features, batch, steps in NETWORKS:
            path = _save_network(kind, units, features, folder)
            seen = {"stock": [], "matkeras": []}
            for _ in range(rounds):
                for which in seen:
                    print(f"[bench] first predict: {which} {name} ...", file=sys.stderr,
                          flush=True)
                    seen[which].append(_child((which, kind, units, features, batch, steps,
                                               path)))
            found[name] = {which: (statistics.median(r["first"] for r in runs),
                                   statistics.median(r["second"] for r in runs))
                           for which, runs in seen.items()}
    return found


def demo_training(rounds, epochs=5, baseline_env=None):
    """``{"default": seconds, "baseline": seconds}``: the demo's training time (median)."""
    seen = {"default": [], "baseline": []}
    for _ in range(rounds):
        print(f"[bench] demo --epochs {epochs} ...", file=sys.stderr, flush=True)
        seen["default"].append(_demo_seconds(epochs))
        if baseline_env is not None:
            seen["baseline"].append(_demo_seconds(epochs, {**os.environ, **baseline_env}))
    return {k: statistics.median(v) for k, v in seen.items() if v}


def report(rounds):
    """Markdown lines for the results file."""
    lines = ["## First predict of a loaded network, fresh process", "",
             f"Median of {rounds} fresh processes per candidate, alternating. matkeras: "
             "`keras.models.load_model` of a network from `assemble_network`, then "
             "`matkeras.inference.predict`; stock Keras: the same-size `keras.Model`, "
             "`model.predict`.", "",
             "| network (batch, steps, features) | stock Keras first s | matkeras first s "
             "| matkeras - stock s | stock second ms | matkeras second ms |",
             "|---|---|---|---|---|---|"]
    for (name, results), (_, _, _, features, batch, steps) in zip(
            first_predict(rounds).items(), NETWORKS, strict=True):
        stock, ours = results["stock"], results["matkeras"]
        lines.append(f"| {name} ({batch}, {steps}, {features}) | {stock[0]:.3f} | {ours[0]:.3f} "
                     f"| {ours[0] - stock[0]:+.3f} | {1e3 * stock[1]:.1f} | "
                     f"{1e3 * ours[1]:.1f} |")
    demo = demo_training(rounds)
    lines += ["", "## `python -m matkeras.demo --epochs 5`", "",
              f"Training time (median of {rounds} fresh processes): {demo['default']:.2f} s.", ""]
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    print("\n".join(report(args.rounds)))


if __name__ == "__main__":
    main()
