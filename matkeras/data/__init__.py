"""Sequence data the MATLAB way: sorting, padding (pure numpy, no Keras import)."""

from matkeras.data.padding import pad_sequences, sort_by_length

__all__ = ["pad_sequences", "sort_by_length"]
