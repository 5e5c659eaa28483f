"""The Japanese Vowels data set of MATLAB's "Sequence Classification Using Deep Learning" example.

UCI Machine Learning Repository, "Japanese Vowels" (CC BY 4.0). M. Kudo, J. Toyama and M. Shimbo
(1999), "Multidimensional Curve Classification Using Passing-Through Regions", Pattern Recognition
Letters 20(11-13), 1103-1111. Nine male speakers, 12 LPC cepstrum coefficients per frame, 270
training and 370 test utterances of 7 to 29 frames, in MATLAB's order. See ``data/LICENSE.txt``.

Stored compactly: every value of the source text has at most six decimals, so it is kept exactly
as an integer number of millionths; dividing by 1e6 gives the same float64 as parsing the text.

Rebuild from the sktime ``.ts`` files with
``python -m matkeras.datasets.japanese_vowels TRAIN.ts TEST.ts``.
"""

import sys
from decimal import Decimal
from importlib import resources
from pathlib import Path

import numpy as np

_FILE = "japanese_vowels.npz"
_SCALE = 1_000_000
NUM_FEATURES = 12
NUM_CLASSES = 9


def japanese_vowels():
    """Loads Japanese Vowels as MATLAB's example sees it.

    Returns:
        ``((x_train, y_train), (x_test, y_test))``: ``x_*`` are lists of float64 arrays of shape
        ``(T_i, 12)`` (Keras layout: time by features; MATLAB's cells hold the transpose),
        ``y_*`` int64 arrays of speaker labels 0..8 (MATLAB's categories "1".."9").

    Example:
        >>> (x_train, y_train), (x_test, y_test) = japanese_vowels()
        >>> len(x_train), len(x_test), x_train[0].shape, int(y_train[0])
        (270, 370, (20, 12), 0)
    """
    with resources.files("matkeras.datasets").joinpath("data", _FILE).open("rb") as handle:
        with np.load(handle, allow_pickle=False) as stored:
            arrays = {key: stored[key] for key in stored.files}
    return tuple(
        _unpack(arrays[f"{split}_values"], arrays[f"{split}_lengths"], arrays[f"{split}_labels"])
        for split in ("train", "test")
    )


def _unpack(values, lengths, labels):
    data = values.astype("float64") / _SCALE
    sequences = np.split(data, np.cumsum(lengths)[:-1])
    return list(sequences), labels.astype("int64")


def _parse_ts(path):
    """Reads an sktime ``.ts`` file of this data set: one line per utterance, dimensions split by
    ':', time steps by ',', the class label last."""
    sequences, labels = [], []
    in_data = False
    for line in Path(path).read_text().splitlines():
        if not in_data:
            in_data = line.strip().lower() == "@data"
            continue
        if not line.strip():
            continue
        *dimensions, label = line.split(":")
        columns = [[_millionths(v) for v in d.split(",")] for d in dimensions]
        sequences.append(np.array(columns, dtype="int64").T)
        labels.append(int(label) - 1)
    return sequences, np.array(labels)


def _millionths(text):
    scaled = Decimal(text) * _SCALE
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{text!r} has more than six decimals; it cannot be stored exactly.")
    return int(scaled)


def _build(train_path, test_path, out_path):
    arrays = {}
    for split, path in (("train", train_path), ("test", test_path)):
        sequences, labels = _parse_ts(path)
        arrays[f"{split}_values"] = np.concatenate(sequences).astype("int32")
        arrays[f"{split}_lengths"] = np.array([len(s) for s in sequences], dtype="int16")
        arrays[f"{split}_labels"] = labels.astype("int8")
    np.savez_compressed(out_path, **arrays)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python -m matkeras.datasets.japanese_vowels TRAIN.ts TEST.ts")
    _build(sys.argv[1], sys.argv[2], Path(__file__).parent / "data" / _FILE)
