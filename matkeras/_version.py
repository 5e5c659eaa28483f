"""The one place the matkeras version is written."""

__version__ = "0.1.0"
