"""The shipped Japanese Vowels data equal the .ts fixture exactly."""

import numpy as np
import pytest

from matkeras.datasets import japanese_vowels
from tests.conftest import fixture_path


def _read_ts(path):
    """An independent reader: float() of every text value, dimensions split by ':'."""
    sequences, labels = [], []
    lines = path.read_text().splitlines()
    start = next(k for k, line in enumerate(lines) if line.strip().lower() == "@data") + 1
    for line in lines[start:]:
        if line.strip():
            fields = line.split(":")
            sequences.append(np.array([[float(v) for v in f.split(",")] for f in fields[:-1]]).T)
            labels.append(int(fields[-1]) - 1)
    return sequences, np.array(labels)


@pytest.fixture(scope="module")
def loaded():
    return japanese_vowels()


@pytest.mark.parametrize("split,index,count", [("TRAIN", 0, 270), ("TEST", 1, 370)])
def test_loader_matches_ts_fixture_exactly(loaded, split, index, count):
    expected_x, expected_y = _read_ts(
        fixture_path("japanese_vowels", f"JapaneseVowels_{split}.ts"))
    x, y = loaded[index]
    assert len(x) == len(expected_x) == count
    for got, expected in zip(x, expected_x, strict=True):
        assert got.dtype == np.float64 and got.shape == expected.shape
        np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(y, expected_y)


def test_shape_and_label_facts(loaded):
    (x_train, y_train), (x_test, y_test) = loaded
    lengths = [len(s) for s in x_train + x_test]
    assert min(lengths) == 7 and max(lengths) == 29
    assert all(s.shape[1] == 12 for s in x_train + x_test)
    assert set(y_train) == set(range(9)) and set(y_test) == set(range(9))
    np.testing.assert_array_equal(np.bincount(y_train), [30] * 9)
