"""Out-of-memory sequence data, read lazily from files (MATLAB's datastores for trainNetwork).

A :class:`Datastore` is a :class:`~matkeras.data.SequenceDataset` whose sequences stay on disk:
at creation it reads only each file's header (the sequence lengths, for sorting, padding and
chunking); a mini-batch reads its own sequences when it is made, and worker threads make the
next mini-batches while the current one trains. Memory is bounded by the mini-batches in
flight (``max_queue_size``), not by the data set.
"""

import os
import re

import numpy as np

from matkeras.data.datasets import SequenceDataset

SUFFIXES = (".npy", ".mat")
HDF5_SUFFIXES = (".h5", ".hdf5")


def _natural(name):
    """Sort key putting obs2 before obs10."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


class Datastore(SequenceDataset):
    """Sequences read lazily from a folder of per-observation files or one HDF5 file.

    Args:
        location: a folder of ``.npy`` files (one array each) and/or ``.mat`` files (v5 or
            v7.3, one variable per observation), taken in natural name order; or one ``.h5`` /
            ``.hdf5`` file with one dataset per observation (natural order of their names).
        targets: labels/responses/per-step targets in the same order (see
            :class:`SequenceDataset`), or None for prediction.
        variable: the variable to read from each ``.mat`` file (default: its only variable).
        layout: ``"TC"`` (time first, default) or ``"CT"`` (MATLAB's ``C x T``, what MATLAB
            saves).
        workers, max_queue_size: threads making mini-batches ahead, and how many may wait.
        **options: the :class:`SequenceDataset` options (``mini_batch_size``,
            ``sequence_length``, ``shuffle``...).
    """

    def __init__(self, location, targets=None, variable=None, layout="TC", workers=2,
                 max_queue_size=4, **options):
        self.location, self.variable, self._layout = os.fspath(location), variable, layout
        if layout not in ("TC", "CT"):
            raise ValueError(f"layout must be 'TC' or 'CT'; received {layout!r}.")
        super().__init__(self.location, targets, layout=layout, workers=workers,
                         max_queue_size=max_queue_size, **options)

    # -- where the sequences come from ----------------------------------------------------------
    def _load(self, location, layout):
        if os.path.isdir(location):
            names = sorted((n for n in os.listdir(location)
                            if n.lower().endswith(SUFFIXES)), key=_natural)
            if not names:
                raise ValueError(f"Datastore: {location} holds no {' or '.join(SUFFIXES)} "
                                 "files.")
            self._hdf5 = None
            return [os.path.join(location, n) for n in names]
        if os.path.isfile(location) and location.lower().endswith(HDF5_SUFFIXES):
            import h5py

            try:
                with h5py.File(location, "r") as handle:
                    keys = []
                    handle.visititems(lambda name, item: keys.append(name)
                                      if isinstance(item, h5py.Dataset) else None)
            except OSError as error:
                raise ValueError(f"Datastore: {location} is not a readable HDF5 file "
                                 f"({error}).") from None
            if not keys:
                raise ValueError(f"Datastore: {location} holds no datasets.")
            self._hdf5 = location
            return sorted(keys, key=_natural)
        raise ValueError(f"Datastore: {location!r} is neither a folder of {SUFFIXES} files nor "
                         f"an {HDF5_SUFFIXES} file.")

    def _length_of(self, index):
        shape = self._shape(index)
        if len(shape) == 0:
            raise ValueError(f"Datastore: {self._where(index)} holds a scalar, not a sequence.")
        if self._layout == "CT":
            return int(shape[1]) if len(shape) > 1 else 1
        return int(shape[0])

    def _sequence(self, index):
        array = np.asarray(self._read(index))
        if array.dtype.kind not in "biuf":
            raise ValueError(f"Datastore: {self._where(index)} holds {array.dtype} data, not "
                             "numbers.")
        if array.ndim == 1:
            array = array[:, None] if self._layout == "TC" else array[None, :]
        return array.T if self._layout == "CT" else array

    def _where(self, index):
        entry = self.sequences[index]
        return f"{self._hdf5}:{entry}" if self._hdf5 else entry

    # -- reading one observation ----------------------------------------------------------------
    def _shape(self, index):
        entry = self.sequences[index]
        try:
            if self._hdf5:
                import h5py

                with h5py.File(self._hdf5, "r") as handle:
                    return handle[entry].shape
            if entry.lower().endswith(".npy"):
                return np.load(entry, mmap_mode="r", allow_pickle=False).shape
            return self._mat_shape(entry)
        except (OSError, ValueError, KeyError) as error:
            raise ValueError(f"Datastore: cannot read {self._where(index)}: {error}") from None

    def _read(self, index):
        entry = self.sequences[index]
        try:
            if self._hdf5:
                import h5py

                with h5py.File(self._hdf5, "r") as handle:
                    return handle[entry][()]
            if entry.lower().endswith(".npy"):
                return np.load(entry, allow_pickle=False)
            return self._mat_read(entry)
        except (OSError, ValueError, KeyError) as error:
            raise ValueError(f"Datastore: cannot read {self._where(index)}: {error}") from None

    def _mat_variable(self, path, names):
        names = [n for n in names if not n.startswith("#")]
        if self.variable is not None:
            if self.variable not in names:
                raise ValueError(f"no variable {self.variable!r} in {path}; it holds {names}")
            return self.variable
        if len(names) != 1:
            raise ValueError(f"{path} holds {names}: pass variable=... to say which to read")
        return names[0]

    def _mat_shape(self, path):
        import h5py

        if h5py.is_hdf5(path):  # MATLAB v7.3: HDF5 with the dimensions reversed
            with h5py.File(path, "r") as handle:
                name = self._mat_variable(path, list(handle.keys()))
                return tuple(reversed(handle[name].shape))
        import scipy.io

        found = {name: shape for name, shape, _ in scipy.io.whosmat(path)}
        return tuple(found[self._mat_variable(path, list(found))])

    def _mat_read(self, path):
        import h5py

        if h5py.is_hdf5(path):
            with h5py.File(path, "r") as handle:
                return np.asarray(handle[self._mat_variable(path, list(handle.keys()))][()]).T
        import scipy.io

        names = [name for name, _, _ in scipy.io.whosmat(path)]
        name = self._mat_variable(path, names)
        return scipy.io.loadmat(path, variable_names=[name])[name]
