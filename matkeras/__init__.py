"""matkeras: MATLAB's sequence-network semantics, exactly, on Keras 3 / TensorFlow.

Importing matkeras registers every matkeras layer, initializer, regularizer and loss with Keras's
serialization, so ``keras.models.load_model`` reads ``.keras`` files that use them.
"""

from matkeras import converters, data, datasets, layers, matlab, ops
from matkeras._version import __version__
from matkeras.network import LayerGraph, assemble_network

__all__ = ["LayerGraph", "__version__", "assemble_network", "converters", "data", "datasets",
           "layers", "matlab", "ops"]
