"""Small data sets shipped inside matkeras (no download at run time)."""

from matkeras.datasets.japanese_vowels import japanese_vowels

__all__ = ["japanese_vowels"]
