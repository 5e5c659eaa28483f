"""Sequence data the MATLAB way: sorting, padding, splitting (pure numpy), and
:class:`SequenceDataset` mini-batches for ``model.fit`` and :class:`Datastore` for data read
lazily from files (both import Keras only when used)."""

from matkeras.data.padding import pad_sequences, sort_by_length, split_sequences

__all__ = ["Datastore", "SequenceDataset", "pad_sequences", "sort_by_length", "split_sequences"]


def __getattr__(name):
    if name == "SequenceDataset":
        from matkeras.data.datasets import SequenceDataset

        return SequenceDataset
    if name == "Datastore":
        from matkeras.data.datastore import Datastore

        return Datastore
    raise AttributeError(f"module 'matkeras.data' has no attribute {name!r}")
