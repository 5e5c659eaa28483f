"""Moved to :mod:`matkeras.layers.layouts` (the layers own their MATLAB mapping); this path
keeps working, with a DeprecationWarning, for one release."""

import warnings

from matkeras.layers.layouts import *  # noqa: F403
from matkeras.layers.layouts import (  # noqa: F401
    KERAS_GATES,
    MATLAB_GATES,
    ONNX_GATES,
    bias_to_keras,
    bias_to_matlab,
    factors_to_keras,
    matlab_to_onnx,
    onnx_to_matlab,
    weights_to_keras,
    weights_to_matlab,
)

warnings.warn("matkeras.converters.layouts moved to matkeras.layers.layouts; the old path goes "
              "in the next release.", DeprecationWarning, stacklevel=2)
