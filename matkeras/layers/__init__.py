"""MATLAB Deep Learning Toolbox layers as Keras 3 layers (Keras layout, MATLAB semantics).

Every layer with a MATLAB counterpart is a :class:`MatlabMapping`: ``MATLAB_CLASS``, its MATLAB
properties in MATLAB's layout (``matlab_learnables()``, ``matlab_states()``,
``set_matlab_properties(...)``); the recurrent ones (:class:`RecurrentLayer`) also own their
state (``stored_state``, ``reset_state()``, :class:`StateCarry`).
"""

from matkeras.layers import activations, initializers
from matkeras.layers._matlab import MatlabMapping
from matkeras.layers._recurrent import RecurrentLayer
from matkeras.layers.attention import Attention, SelfAttention
from matkeras.layers.basic import (
    ELU,
    GELU,
    ClippedReLU,
    Dropout,
    FullyConnected,
    LeakyReLU,
    ReLU,
    Sigmoid,
    Softmax,
    SpatialDropout,
    Swish,
    Tanh,
)
from matkeras.layers.bilstm import BiLSTM
from matkeras.layers.conv import Conv1D, Conv2D, GroupedConv2D
from matkeras.layers.embedding import WordEmbedding
from matkeras.layers.feature_input import FeatureInput
from matkeras.layers.folding import Flatten, SequenceFolding, SequenceUnfolding
from matkeras.layers.gru import GRU
from matkeras.layers.image_input import ImageInput
from matkeras.layers.indexing import Indexing1D
from matkeras.layers.lstm import LSTM
from matkeras.layers.merge import Addition, Concatenation, DepthConcatenation, Multiplication
from matkeras.layers.normalization import (
    BatchNormalization,
    CrossChannelNormalization,
    GroupNormalization,
    InstanceNormalization,
    LayerNormalization,
)
from matkeras.layers.onnx_import import (
    Clip,
    ElementwiseAffine,
    FlattenInto2D,
    OnnxFlatten,
    OnnxShaped,
    PReLU,
    VerifyBatchSize,
)
from matkeras.layers.outputs import (
    Classification,
    MatlabCrossEntropy,
    MatlabHalfMeanSquaredError,
    Regression,
)
from matkeras.layers.pooling import (
    AveragePooling1D,
    AveragePooling2D,
    GlobalAveragePooling1D,
    GlobalAveragePooling2D,
    GlobalMaxPooling1D,
    GlobalMaxPooling2D,
    MaxPooling1D,
    MaxPooling2D,
)
from matkeras.layers.position import (
    EmbeddingConcatenation,
    PositionEmbedding,
    SinusoidalPositionEncoding,
)
from matkeras.layers.projected import GRUProjected, LSTMProjected
from matkeras.layers.regularizers import MatlabL2, set_l2_regularization
from matkeras.layers.sequence_input import SequenceInput
from matkeras.layers.stateful import StateCarry, stateful_layers

__all__ = [
    "GELU", "GRU", "LSTM", "Addition", "AveragePooling1D", "BatchNormalization", "BiLSTM",
    "Classification", "Concatenation", "Conv1D", "Conv2D", "DepthConcatenation", "Dropout",
    "FeatureInput", "Flatten", "FullyConnected", "GRUProjected", "GroupNormalization",
    "InstanceNormalization", "GlobalAveragePooling1D",
    "GlobalMaxPooling1D", "LSTMProjected", "LayerNormalization", "MatlabCrossEntropy",
    "MatlabMapping", "RecurrentLayer",
    "MatlabHalfMeanSquaredError", "MatlabL2", "MaxPooling1D", "Multiplication", "ReLU",
    "Regression", "SequenceFolding", "SequenceInput", "SequenceUnfolding", "Sigmoid", "Softmax",
    "SpatialDropout", "StateCarry",
    "Swish", "Tanh", "WordEmbedding", "activations", "initializers", "set_l2_regularization",
    "stateful_layers",
    # image layers
    "AveragePooling2D", "ClippedReLU", "CrossChannelNormalization", "ELU",
    "GlobalAveragePooling2D", "GlobalMaxPooling2D", "GroupedConv2D", "ImageInput", "LeakyReLU",
    "MaxPooling2D",
    # layers MATLAB's ONNX importer writes (nnet.onnx.layer.*)
    "Clip", "ElementwiseAffine", "FlattenInto2D", "OnnxFlatten", "OnnxShaped", "PReLU",
    "VerifyBatchSize",
    # transformer layers
    "Attention", "EmbeddingConcatenation", "Indexing1D", "PositionEmbedding", "SelfAttention",
    "SinusoidalPositionEncoding",
]
