"""Datastore memory benchmark: train one epoch over a generated data set several times larger
than a memory cap, and record the peak resident memory the epoch added.

    python -m benchmarks.datastore [--megabytes 600] [--cap 200] [--out PATH]

Writes ``benchmarks/results/<date>-<machine>-datastore.md``.
"""

import argparse
import datetime
import os
import platform
import shutil
import sys
import tempfile
import time

import numpy as np

import matkeras  # noqa: F401  (before TensorFlow: its CPU settings apply to every candidate)
from benchmarks.run import _peak_rss_mib, _peak_rss_reset, _status_mib


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=int, default=2000, help="size of the data set")
    parser.add_argument("--cap", type=int, default=200, help="memory cap to stay under (MiB)")
    parser.add_argument("--out")
    args = parser.parse_args(argv)

    import keras

    from matkeras import layers as L
    from matkeras.data import Datastore

    steps, features, batch = 1000, 256, 16
    per_file = steps * features * 4
    count = max(batch, args.megabytes * 2**20 // per_file)
    folder = tempfile.mkdtemp(prefix="matkeras-datastore-")
    try:
        rng = np.random.default_rng(0)
        print(f"[bench] writing {count} sequences of ({steps}, {features}) float32 to {folder}",
              file=sys.stderr)
        for index in range(count):
            length = int(rng.integers(steps // 2, steps + 1))
            np.save(os.path.join(folder, f"obs{index}.npy"),
                    rng.standard_normal((length, features)).astype(np.float32))
        on_disk = sum(os.path.getsize(os.path.join(folder, n)) for n in os.listdir(folder))
        labels = rng.integers(0, 4, count)
        data = Datastore(folder, labels, mini_batch_size=batch, workers=2, max_queue_size=4,
                         sort_by_length=True, shuffle="never")
        model = keras.Sequential([keras.Input((None, features)), L.LSTM(32, output_mode="last"),
                                  L.FullyConnected(4), L.Softmax(), L.Classification()])
        model.compile("adam", model.layers[-1].loss)
        model.fit(data.to_tf_dataset().take(2), epochs=1, verbose=0)  # trace first
        baseline = _status_mib("VmRSS")
        _peak_rss_reset()
        start = time.perf_counter()
        model.fit(data.to_tf_dataset(), epochs=1, verbose=1)
        seconds = time.perf_counter() - start
        added = _peak_rss_mib() - baseline
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    verdict = "within" if added <= args.cap else "OVER"
    lines = [
        f"# matkeras Datastore memory benchmark, {datetime.date.today()} on {platform.node()}",
        "",
        f"One training epoch (LSTM(32), mini-batch {batch}, 2 reader threads, at most 4 "
        f"mini-batches queued) over {count} `.npy` sequences of up to ({steps}, {features}) "
        f"float32: {on_disk / 2**20:.0f} MiB on disk, {on_disk / 2**20 / args.cap:.1f}x the "
        f"{args.cap} MiB cap.", "",
        "| data on disk MiB | memory cap MiB | peak RSS added by the epoch MiB | epoch s |",
        "|---|---|---|---|",
        f"| {on_disk / 2**20:.0f} | {args.cap} | {added:.0f} ({verdict} the cap) | "
        f"{seconds:.1f} |", "",
    ]
    text = "\n".join(lines)
    print(text)
    out = args.out or os.path.join(os.path.dirname(__file__), "results",
                                   f"{datetime.date.today()}-{platform.node() or 'machine'}"
                                   "-datastore.md")
    with open(out, "w") as handle:
        handle.write(text + "\n")
    print(f"[bench] wrote {out}", file=sys.stderr)
    return 0 if added <= args.cap else 1


if __name__ == "__main__":
    raise SystemExit(main())
