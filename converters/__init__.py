"""Converters between MATLAB networks or weight files and matkeras (as `matkeras.converters`).

- :func:`load_matlab_network` and :func:`inspect_mat`: networks MATLAB saved (``save net.mat``):
  SeriesNetwork, DAGNetwork, dlnetwork, LayerGraph or a layer array, wherever it sits in the file;
  ``load_matlab_network`` also reads the plain layout ``converters/matlab/matkeras_export.m``
  writes (see ``plain_network``).
- :func:`load_weights_mat` / :func:`save_weights_mat`: the plain weight layout (see
  ``weights_mat``), written in MATLAB by ``converters/matlab/matkeras_export.m``.
- ``layouts`` is the only module that knows MATLAB's gate orders and transposes.

Names are imported on first use, so that reading a file's summary (``inspect_mat``, the
``matkeras inspect`` command) does not load TensorFlow.
"""

import importlib

_HOMES = {
    "MatFileError": "errors", "inspect_mat": "summary", "load_matlab_network": "builder",
    "load_onnx_network": "onnx_network", "load_weights_mat": "weights_mat",
    "read_weights_mat": "weights_mat", "save_weights_mat": "weights_mat",
}

__all__ = sorted(_HOMES)


def __getattr__(name):
    if name in _HOMES:
        module = importlib.import_module(f"{__name__}.{_HOMES[name]}")
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_HOMES])
