"""Converters between MATLAB networks or weight files and matkeras (as `matkeras.converters`).

- :func:`load_matlab_network` and :func:`inspect_mat`: networks MATLAB saved (``save net.mat``).
- :func:`load_weights_mat` / :func:`save_weights_mat`: the plain weight layout (see
  ``weights_mat``), written in MATLAB by ``converters/matlab/matkeras_export.m``.
- ``layouts`` is the only module that knows MATLAB's gate orders and transposes.
"""

from matkeras.converters.builder import inspect_mat, load_matlab_network
from matkeras.converters.errors import MatFileError
from matkeras.converters.onnx_network import load_onnx_network
from matkeras.converters.weights_mat import load_weights_mat, read_weights_mat, save_weights_mat

__all__ = ["MatFileError", "inspect_mat", "load_matlab_network", "load_onnx_network",
           "load_weights_mat",
           "read_weights_mat", "save_weights_mat"]
