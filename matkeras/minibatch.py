"""Moved to :mod:`matkeras.workflows.current` (MATLAB's current workflow); this path keeps
working, with a DeprecationWarning, for one release."""

import warnings

from matkeras.workflows.current import minibatchpredict, testnet  # noqa: F401

__all__ = ["minibatchpredict", "testnet"]

warnings.warn("matkeras.minibatch moved to matkeras.workflows.current; the old path goes in "
              "the next release.", DeprecationWarning, stacklevel=2)
