"""Op modules that can still be called as the functions they were named after (one release)."""

import sys
import types
import warnings


def callable_module(name, function, new_name):
    """Lets ``matkeras.ops.<module>(...)`` keep working, with a DeprecationWarning, where
    ``matkeras.ops.<module>`` used to be the op function: it is now the module, and the op
    `function` is ``matkeras.ops.<new_name>``."""

    class _CallableModule(types.ModuleType):
        def __call__(self, *args, **kwargs):
            warnings.warn(f"Calling {name}(...) is deprecated: {name} is the module; call "
                          f"matkeras.ops.{new_name}(...).", DeprecationWarning, stacklevel=2)
            return function(*args, **kwargs)

    sys.modules[name].__class__ = _CallableModule
