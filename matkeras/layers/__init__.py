"""MATLAB Deep Learning Toolbox layers as Keras 3 layers (Keras layout, MATLAB semantics)."""

from matkeras.layers import activations, initializers
from matkeras.layers.basic import Dropout, FullyConnected, ReLU, Softmax
from matkeras.layers.bilstm import BiLSTM
from matkeras.layers.conv import Conv1D, Conv2D
from matkeras.layers.embedding import WordEmbedding
from matkeras.layers.folding import Flatten, SequenceFolding, SequenceUnfolding
from matkeras.layers.gru import GRU
from matkeras.layers.lstm import LSTM
from matkeras.layers.normalization import BatchNormalization, LayerNormalization
from matkeras.layers.outputs import (
    Classification,
    MatlabCrossEntropy,
    MatlabHalfMeanSquaredError,
    Regression,
)
from matkeras.layers.pooling import (
    AveragePooling1D,
    GlobalAveragePooling1D,
    GlobalMaxPooling1D,
    MaxPooling1D,
)
from matkeras.layers.projected import GRUProjected, LSTMProjected
from matkeras.layers.regularizers import MatlabL2, set_l2_regularization
from matkeras.layers.sequence_input import SequenceInput
from matkeras.layers.stateful import stateful_layers

__all__ = [
    "GRU", "LSTM", "AveragePooling1D", "BatchNormalization", "BiLSTM", "Classification",
    "Conv1D", "Conv2D", "Dropout", "Flatten", "FullyConnected", "GRUProjected",
    "GlobalAveragePooling1D", "GlobalMaxPooling1D", "LSTMProjected", "LayerNormalization",
    "MatlabCrossEntropy", "MatlabHalfMeanSquaredError", "MatlabL2", "MaxPooling1D", "ReLU",
    "Regression", "SequenceFolding", "SequenceInput", "SequenceUnfolding", "Softmax",
    "WordEmbedding", "activations", "initializers", "set_l2_regularization", "stateful_layers",
]
