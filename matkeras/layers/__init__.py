"""MATLAB Deep Learning Toolbox layers as Keras 3 layers (Keras layout, MATLAB semantics)."""

from matkeras.layers import activations, initializers
from matkeras.layers.bilstm import BiLSTM
from matkeras.layers.gru import GRU
from matkeras.layers.lstm import LSTM
from matkeras.layers.projected import GRUProjected, LSTMProjected
from matkeras.layers.regularizers import MatlabL2, set_l2_regularization

__all__ = ["GRU", "LSTM", "BiLSTM", "GRUProjected", "LSTMProjected", "MatlabL2", "activations",
           "initializers", "set_l2_regularization"]
