"""MATLAB Deep Learning Toolbox layers as Keras 3 layers (Keras layout, MATLAB semantics)."""

from matkeras.layers import activations, initializers
from matkeras.layers.lstm import LSTM
from matkeras.layers.regularizers import MatlabL2, set_l2_regularization

__all__ = ["LSTM", "MatlabL2", "activations", "initializers", "set_l2_regularization"]
