"""Registers matkeras's saveable classes with Keras as soon as Keras is loaded, without loading it.

``import matkeras`` does not import TensorFlow (the command line's ``inspect``, ``--help`` and
``--version`` need none of it), yet ``import matkeras`` must still be enough for
``keras.models.load_model`` to read ``.keras`` files that use matkeras layers, losses,
initializers, regularizers and optimizers: Keras finds custom classes only once the modules that
define them have run (their ``@keras.saving.register_keras_serializable``), and it never imports
them itself. So:

- when Keras is already loaded, :func:`register` runs at ``import matkeras``;
- otherwise an import hook (:class:`_Finder`, on ``sys.meta_path``) watches the imports of
  ``keras``, ``tensorflow`` and matkeras's own modules, and runs :func:`register` when the
  outermost of them has finished executing with Keras loaded. Waiting for the outermost one
  matters: TensorFlow imports Keras from inside its own ``__init__``, and matkeras's modules
  import Keras halfway through their own, so registering the moment Keras finished would import
  matkeras modules while others are half-initialized.

The hook only wraps those modules' loaders (counting the modules executing); the modules
themselves load as usual, and the hook leaves ``sys.meta_path`` once registration has run.
"""

import importlib
import importlib.abc
import sys
import threading

#: The modules whose import registers every saveable matkeras class with Keras.
REGISTERING = ("matkeras.layers", "matkeras.optimizers", "matkeras.losses", "matkeras.metrics")
#: Modules whose execution the hook counts: registration waits until none is executing.
_WATCHED = ("keras", "tensorflow")

_lock = threading.RLock()
_local = threading.local()  # depth: watched module bodies executing in this thread
_done = False


def registered():
    """Whether matkeras's classes are registered with Keras in this process."""
    return _done


def register():
    """Imports :data:`REGISTERING` (and so Keras and TensorFlow): every saveable matkeras class
    is registered with Keras afterwards. Runs once."""
    global _done
    with _lock:
        if _done:
            return
        _done = True
        _uninstall()
        try:
            for name in REGISTERING:
                importlib.import_module(name)
        except BaseException:
            _done = False
            raise


def install():
    """Registers now when Keras is loaded, else puts the import hook in place (once)."""
    if "keras" in sys.modules:
        register()
        return
    with _lock:
        if not _done and not any(isinstance(f, _Finder) for f in sys.meta_path):
            sys.meta_path.insert(0, _Finder())


def _uninstall():
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _Finder)]


def _after_execution():
    if not _done and getattr(_local, "depth", 0) == 0 and "keras" in sys.modules:
        register()


def _watched(name):
    return name in _WATCHED or name.startswith("matkeras.")


class _Finder(importlib.abc.MetaPathFinder):
    """Finds watched modules with the finders after it and wraps their loaders."""

    def find_spec(self, name, path=None, target=None):
        if _done or not _watched(name) or getattr(_local, "finding", False):
            return None
        _local.finding = True
        try:
            spec = None
            for finder in list(sys.meta_path):
                find = getattr(finder, "find_spec", None)
                if finder is self or find is None:
                    continue
                spec = find(name, path, target)
                if spec is not None:
                    break
        finally:
            _local.finding = False
        if spec is not None and hasattr(spec.loader, "exec_module"):
            spec.loader = _CountingLoader(spec.loader)
        return spec


class _CountingLoader(importlib.abc.Loader):
    """A module's own loader, with its execution counted (everything else is passed on)."""

    def __init__(self, loader):
        self._loader = loader

    def __getattr__(self, name):
        return getattr(self._loader, name)

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        _local.depth = getattr(_local, "depth", 0) + 1
        try:
            self._loader.exec_module(module)
        finally:
            _local.depth -= 1
        _after_execution()
