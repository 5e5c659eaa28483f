"""Re-measures the recurrent ops' speed rule (``matkeras/ops/_speed.py``) on this machine.

For each shape (batch, time, features, units) and layer kind, every layout x batch parts (x LSTM
backward pass, in training) combination is forced with ``matkeras.ops._speed.forced`` and timed
interleaved in one process, and the rule's own choice is marked beside the fastest: where the
two differ by more than the run-to-run noise (about 10-15% on these machines), the rule's
thresholds deserve another look.

    python -m benchmarks.rule [--shapes 32,200,12,128 ...] [--kinds lstm gru bilstm]
                              [--training] [--rounds N]
"""

import argparse
import itertools
import statistics
import sys
import time

import numpy as np

import matkeras  # noqa: F401  (before TensorFlow: its CPU settings apply)

SHAPES = ((32, 200, 12, 128), (32, 1000, 123, 320), (27, 26, 12, 100), (128, 200, 12, 128),
          (32, 200, 64, 256), (1, 50, 12, 200))


def _layer(kind, units):
    from matkeras import layers as L

    return {"lstm": lambda: L.LSTM(units), "gru": lambda: L.GRU(units),
            "bilstm": lambda: L.BiLSTM(units)}[kind]()


def _runner(kind, shape, training, choices):
    """A zero-argument callable running one inference or training step, traced with
    `choices` forced; and the seconds its first call (tracing included) took."""
    import keras
    import tensorflow as tf

    from matkeras.ops import _speed

    batch, steps, features, units = shape
    x = tf.constant(np.random.default_rng(0).standard_normal((batch, steps, features)),
                    tf.float32)
    layer = _layer(kind, units)
    layer.build((None, None, features))
    for variable in layer.trainable_weights:
        variable.regularizer = None
    optimizer = keras.optimizers.Adam(1e-3)
    optimizer.build(layer.trainable_weights)

    def train():
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(layer(x, training=True)))
        optimizer.apply(tape.gradient(loss, layer.trainable_weights), layer.trainable_weights)
        return loss

    function = tf.function(train if training else (lambda: layer(x)))
    start = time.perf_counter()
    with _speed.forced(**choices):
        function().numpy()
    return (lambda: function().numpy()), time.perf_counter() - start


def _rule_choice(kind, shape, training):
    from matkeras.ops import _speed

    batch, steps, features, units = shape
    gates = 3 if kind == "gru" else 4
    rows = units if kind == "gru" else features + 1 + units
    plan = _speed.plan(rows, gates * units, batch, 2 if kind == "bilstm" else 1, training,
                       sequence_backward=kind != "gru" and steps > 1)
    choice = {"layout": plan.layout, "parts": str(plan.parts)}
    if training and kind != "gru":
        choice["backward"] = plan.backward
    return choice


def measure(kind, shape, training, rounds):
    """``(rows, rule's choice)``: one row ``(choices, median ms, first-call s)`` per
    combination, fastest first."""
    backward = ("steps", "sequence") if training and kind != "gru" else (None,)
    runners = {}
    for layout, parts, way in itertools.product(("whole", "gates"), ("1", "2"), backward):
        choices = {"layout": layout, "parts": parts}
        if way is not None:
            choices["backward"] = way
        runners[tuple(sorted(choices.items()))] = _runner(kind, shape, training, choices)
    times = {key: [] for key in runners}
    for _ in range(rounds):
        for key, (run, _) in runners.items():
            run()  # untimed first: the cores busy with this candidate
            start = time.perf_counter()
            run()
            times[key].append(1e3 * (time.perf_counter() - start))
    rows = sorted(((dict(key), statistics.median(times[key]), runners[key][1])
                   for key in runners), key=lambda row: row[1])
    return rows, _rule_choice(kind, shape, training)


def report(shapes, kinds, training, rounds):
    mode = "training step" if training else "inference"
    lines = [f"## The speed rule re-measured: {mode}", "",
             "Every combination forced and timed interleaved in one process (median ms of "
             f"{rounds} rounds); `rule` marks the rule's choice (`matkeras/ops/_speed.py`).", "",
             "| layer | shape (B, T, C, H) | fastest | ms | rule's choice | ms | rule / fastest |",
             "|---|---|---|---|---|---|---|"]
    for shape in shapes:
        for kind in kinds:
            print(f"[bench] rule: {kind} {shape} {mode} ...", file=sys.stderr, flush=True)
            rows, rule = measure(kind, shape, training, rounds)
            ruled = next(row for row in rows if row[0] == rule)
            lines.append(f"| {kind} | {shape} | {_text(rows[0][0])} | {rows[0][1]:.2f} | "
                         f"{_text(rule)} | {ruled[1]:.2f} | {ruled[1] / rows[0][1]:.2f}x |")
    return lines + [""]


def _text(choices):
    return ", ".join(f"{k} {v}" for k, v in sorted(choices.items()))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", nargs="*", default=None,
                        help="B,T,C,H shapes (default: the rule's measured shapes)")
    parser.add_argument("--kinds", nargs="*", default=["lstm", "gru", "bilstm"])
    parser.add_argument("--training", action="store_true")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args(argv)
    shapes = ([tuple(int(v) for v in s.split(",")) for s in args.shapes] if args.shapes
              else SHAPES)
    print("\n".join(report(shapes, args.kinds, args.training, args.rounds)))


if __name__ == "__main__":
    main()
