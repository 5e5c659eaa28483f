"""MATLAB-style constructors: MATLAB's positional arguments and name-value pairs, verbatim.

    >>> from matkeras.matlab import *
    >>> layers = [sequenceInputLayer(12), lstmLayer(100, "OutputMode", "last"),
    ...           fullyConnectedLayer(9), softmaxLayer(), classificationLayer()]

Names are case-insensitive, as in MATLAB, and may also be given as Python keywords
(``lstmLayer(100, OutputMode="last")``). An unknown name raises an error listing the valid ones;
MATLAB options matkeras does not implement (learn-rate factors other than 1, ...) raise an error
saying so. Each function returns the matkeras layer (see ``matkeras.layers``).
"""

from matkeras.matlab.classic import (
    activations,
    classify,
    classifyAndUpdateState,
    predict,
    predictAndUpdateState,
    resetState,
    trainingOptions,
    trainNetwork,
)
from matkeras.matlab.layers import (
    assembleNetwork,
    averagePooling1dLayer,
    batchNormalizationLayer,
    bilstmLayer,
    classificationLayer,
    connectLayers,
    convolution1dLayer,
    convolution2dLayer,
    dropoutLayer,
    flattenLayer,
    fullyConnectedLayer,
    globalAveragePooling1dLayer,
    globalMaxPooling1dLayer,
    gruLayer,
    gruProjectedLayer,
    layerGraph,
    layerNormalizationLayer,
    lstmLayer,
    lstmProjectedLayer,
    maxPooling1dLayer,
    regressionLayer,
    reluLayer,
    sequenceFoldingLayer,
    sequenceInputLayer,
    sequenceUnfoldingLayer,
    softmaxLayer,
    wordEmbeddingLayer,
)
from matkeras.matlab.transformer import (
    attentionLayer,
    embeddingConcatenationLayer,
    indexing1dLayer,
    positionEmbeddingLayer,
    selfAttentionLayer,
    sinusoidalPositionEncodingLayer,
)

__all__ = [
    "assembleNetwork", "averagePooling1dLayer", "batchNormalizationLayer", "bilstmLayer",
    "classificationLayer", "connectLayers", "convolution1dLayer", "convolution2dLayer",
    "dropoutLayer", "flattenLayer", "fullyConnectedLayer", "globalAveragePooling1dLayer",
    "globalMaxPooling1dLayer", "gruLayer", "gruProjectedLayer", "layerGraph",
    "layerNormalizationLayer", "lstmLayer", "lstmProjectedLayer", "maxPooling1dLayer",
    "regressionLayer", "reluLayer", "sequenceFoldingLayer", "sequenceInputLayer",
    "sequenceUnfoldingLayer", "softmaxLayer", "wordEmbeddingLayer",
    # transformer layers
    "attentionLayer", "embeddingConcatenationLayer", "indexing1dLayer", "positionEmbeddingLayer",
    "selfAttentionLayer", "sinusoidalPositionEncodingLayer",
    # prediction
    "activations", "classify", "classifyAndUpdateState", "predict", "predictAndUpdateState",
    "resetState",
    # training
    "trainNetwork", "trainingOptions",
]
