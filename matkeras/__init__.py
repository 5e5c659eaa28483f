"""matkeras: MATLAB's sequence-network semantics, exactly, on Keras 3 / TensorFlow.

Importing matkeras registers every matkeras layer, initializer, regularizer and loss with Keras's
serialization, so ``keras.models.load_model`` reads ``.keras`` files that use them.

Imported before TensorFlow, it also turns on TensorFlow's oneDNN CPU kernels (TensorFlow enables
them by itself only on some CPUs): on the 2-core AMD machines here they make the recurrent layers
1.1-1.5x faster (``benchmarks/results``). ``TF_ENABLE_ONEDNN_OPTS=0`` keeps TensorFlow's default.
"""

import os as _os
import sys as _sys

if "tensorflow" not in _sys.modules:
    _os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

from matkeras import converters, data, datasets, layers, matlab, ops
from matkeras._version import __version__
from matkeras.network import LayerGraph, assemble_network

__all__ = ["LayerGraph", "__version__", "assemble_network", "converters", "data", "datasets",
           "layers", "matlab", "ops"]
