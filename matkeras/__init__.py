"""matkeras: MATLAB's sequence-network semantics, exactly, on Keras 3 / TensorFlow.

``import matkeras`` is light: it loads neither TensorFlow nor Keras. Its submodules and names
(``matkeras.layers``, ``matkeras.assemble_network``, ...) load when first used (PEP 562).
Importing matkeras still registers every matkeras layer, initializer, regularizer, loss and
optimizer with Keras's serialization, so ``keras.models.load_model`` reads ``.keras`` files that
use them: at once when Keras is already loaded, else as soon as Keras is (``_registration``).

Imported before TensorFlow, it also turns on TensorFlow's oneDNN CPU kernels (TensorFlow enables
them by itself only on some CPUs): on the 2-core AMD machines here they make the recurrent layers
1.1-1.5x faster (``benchmarks/results``). ``TF_ENABLE_ONEDNN_OPTS=0`` keeps TensorFlow's default.
"""

import importlib as _importlib
import os as _os
import sys as _sys

from matkeras._version import __version__

if "tensorflow" not in _sys.modules:
    _os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

__all__ = ["LayerGraph", "__version__", "assemble_network", "converters", "data", "datasets",
           "layers", "matlab", "ops"]

#: Submodules loaded on first attribute access (``import matkeras.x`` loads them as usual).
_SUBMODULES = frozenset({"converters", "data", "datasets", "demo", "export", "inference",
                         "layers", "matlab", "network", "ops", "optimizers", "plot", "training"})
#: Names defined in a submodule, loaded on first access.
_NAMES = {"LayerGraph": "matkeras.network", "assemble_network": "matkeras.network"}


def __getattr__(name):
    if name in _SUBMODULES:
        return _importlib.import_module(f"matkeras.{name}")
    if name in _NAMES:
        value = getattr(_importlib.import_module(_NAMES[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'matkeras' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | _SUBMODULES | set(_NAMES))


from matkeras import _registration  # noqa: E402  (last: it may import the layers)

_registration.install()
