"""Datastore: sequences read lazily from .npy, .mat (v5 and v7.3) files and one HDF5 file."""

import h5py
import keras
import numpy as np
import pytest
import scipy.io

from matkeras import layers as L
from matkeras.data import Datastore, SequenceDataset


def _sequences(rng, count=9):
    return [rng.normal(size=(int(t), 3)) for t in rng.integers(2, 15, count)]


def _write(folder, sequences, kind):
    for index, sequence in enumerate(sequences):
        name = folder / f"obs{index + 1}"  # natural order: obs2 before obs10
        if kind == "npy":
            np.save(f"{name}.npy", sequence)
        elif kind == "mat5":
            scipy.io.savemat(f"{name}.mat", {"X": sequence.T})  # MATLAB layout C x T
        else:  # v7.3: HDF5 with a MATLAB header, dimensions reversed
            _v73(f"{name}.mat", sequence.T)


def _v73(path, array):
    with h5py.File(path, "w", userblock_size=512) as handle:
        handle["X"] = array.T  # MATLAB stores column-major: h5py sees the transpose
    with open(path, "r+b") as raw:
        raw.write(b"MATLAB 7.3 MAT-file".ljust(116, b" "))


@pytest.mark.parametrize("kind,layout", [("npy", "TC"), ("mat5", "CT"), ("mat73", "CT")])
def test_batches_equal_the_in_memory_dataset(rng, tmp_path, kind, layout):
    sequences = _sequences(rng, 12)
    _write(tmp_path, sequences, kind)
    labels = rng.integers(0, 2, 12)
    options = {"mini_batch_size": 5, "shuffle": "never", "sort_by_length": True}
    lazy = Datastore(tmp_path, labels, layout=layout, **options)
    memory = SequenceDataset(sequences, labels, **options)
    assert len(lazy) == len(memory)
    for index in range(len(memory)):
        for a, b in zip(lazy[index], memory[index], strict=True):
            np.testing.assert_array_equal(a, b)


def test_one_hdf5_file_with_a_dataset_per_observation(rng, tmp_path):
    sequences = _sequences(rng, 11)
    path = tmp_path / "data.h5"
    with h5py.File(path, "w") as handle:
        for index, sequence in enumerate(sequences):
            handle[f"group/seq{index}"] = sequence
    lazy = Datastore(path, sequence_length=4, shuffle="never", mini_batch_size=11)
    memory = SequenceDataset(sequences, sequence_length=4, shuffle="never", mini_batch_size=11)
    assert len(lazy) == len(memory) > 1
    for index in range(len(memory)):
        np.testing.assert_array_equal(lazy[index][0], memory[index][0])


def test_trains_with_fit_through_worker_threads(rng, tmp_path):
    sequences = _sequences(rng, 20)
    _write(tmp_path, sequences, "npy")
    data = Datastore(tmp_path, rng.integers(0, 2, 20), mini_batch_size=4, workers=2)
    model = keras.Sequential([keras.Input((None, 3)), L.LSTM(4, output_mode="last"),
                              L.FullyConnected(2), L.Softmax()])
    model.compile("adam", "sparse_categorical_crossentropy")
    history = model.fit(data.to_tf_dataset(), epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2


def test_bad_locations_and_files_are_named(rng, tmp_path):
    with pytest.raises(ValueError, match="holds no .npy or .mat files"):
        Datastore(tmp_path)
    with pytest.raises(ValueError, match="neither a folder"):
        Datastore(tmp_path / "missing.bin")
    (tmp_path / "obs1.npy").write_bytes(b"not numpy")
    with pytest.raises(ValueError, match="cannot read .*obs1.npy"):
        Datastore(tmp_path)
    (tmp_path / "obs1.npy").unlink()
    scipy.io.savemat(tmp_path / "obs1.mat", {"X": np.zeros((3, 4)), "Y": np.ones(2)})
    with pytest.raises(ValueError, match="pass variable="):
        Datastore(tmp_path)
    with pytest.raises(ValueError, match="no variable 'Z'"):
        Datastore(tmp_path, variable="Z")
    assert len(Datastore(tmp_path, variable="X", layout="CT").sequences) == 1
    pickled = tmp_path / "p" / "obs1.npy"
    pickled.parent.mkdir()
    np.save(pickled, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="cannot read"):  # never unpickled
        Datastore(pickled.parent)
