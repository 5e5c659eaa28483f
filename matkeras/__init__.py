"""matkeras: MATLAB's sequence-network semantics, exactly, on Keras 3 / TensorFlow.

Importing matkeras registers every matkeras layer, initializer and regularizer with Keras's
serialization, so ``keras.models.load_model`` reads ``.keras`` files that use them.
"""

from matkeras import converters, data, datasets, layers, ops
from matkeras._version import __version__

__all__ = ["__version__", "converters", "data", "datasets", "layers", "ops"]
