"""MATLAB-style constructors: MATLAB's positional arguments and name-value pairs, verbatim.

    >>> from matkeras.matlab import *
    >>> layers = [sequenceInputLayer(12), lstmLayer(100, "OutputMode", "last"),
    ...           fullyConnectedLayer(9), softmaxLayer(), classificationLayer()]

Names are case-insensitive, as in MATLAB, and may also be given as Python keywords
(``lstmLayer(100, OutputMode="last")``). An unknown name raises an error listing the valid ones;
MATLAB options matkeras does not implement (learn-rate factors other than 1, ...) raise an error
saying so. Each function returns the matkeras layer (see ``matkeras.layers``).

Both eras of MATLAB's workflow are here: the classic one (``classificationLayer``,
``trainNetwork``, ``classify``, ``predictAndUpdateState``) and the current one (``dlnetwork``,
``trainnet``, ``minibatchpredict``, ``scores2label``, ``testnet``, ``predict`` with
``nargout=2`` and ``net.State``). ``predict`` and ``resetState`` serve both.
"""

from matkeras.matlab.classic import (
    activations,
    classify,
    classifyAndUpdateState,
    predictAndUpdateState,
    trainingOptions,
    trainNetwork,
)
from matkeras.matlab.current import (
    accuracyMetric,
    dlnetwork,
    fScoreMetric,
    initialize,
    minibatchpredict,
    onehotdecode,
    onehotencode,
    precisionMetric,
    predict,
    recallMetric,
    resetState,
    rmseMetric,
    scores2label,
    testnet,
    trainnet,
)
from matkeras.matlab.image import (
    averagePooling2dLayer,
    clippedReluLayer,
    crossChannelNormalizationLayer,
    eluLayer,
    globalAveragePooling2dLayer,
    globalMaxPooling2dLayer,
    groupedConvolution2dLayer,
    imageInputLayer,
    leakyReluLayer,
    maxPooling2dLayer,
)
from matkeras.matlab.layers import (
    additionLayer,
    addLayers,
    assembleNetwork,
    averagePooling1dLayer,
    batchNormalizationLayer,
    bilstmLayer,
    classificationLayer,
    concatenationLayer,
    connectLayers,
    convolution1dLayer,
    convolution2dLayer,
    depthConcatenationLayer,
    disconnectLayers,
    dropoutLayer,
    featureInputLayer,
    flattenLayer,
    fullyConnectedLayer,
    geluLayer,
    globalAveragePooling1dLayer,
    globalMaxPooling1dLayer,
    groupNormalizationLayer,
    gruLayer,
    gruProjectedLayer,
    instanceNormalizationLayer,
    layerGraph,
    layerNormalizationLayer,
    lstmLayer,
    lstmProjectedLayer,
    maxPooling1dLayer,
    multiplicationLayer,
    regressionLayer,
    reluLayer,
    removeLayers,
    replaceLayer,
    sequenceFoldingLayer,
    sequenceInputLayer,
    sequenceUnfoldingLayer,
    sigmoidLayer,
    softmaxLayer,
    spatialDropoutLayer,
    swishLayer,
    tanhLayer,
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
    "activations", "additionLayer", "addLayers", "assembleNetwork", "attentionLayer",
    "averagePooling1dLayer", "batchNormalizationLayer", "bilstmLayer", "classificationLayer",
    "classify", "classifyAndUpdateState", "concatenationLayer", "connectLayers",
    "convolution1dLayer", "convolution2dLayer", "depthConcatenationLayer", "disconnectLayers",
    "dropoutLayer", "embeddingConcatenationLayer", "featureInputLayer", "flattenLayer",
    "fullyConnectedLayer", "geluLayer", "globalAveragePooling1dLayer", "globalMaxPooling1dLayer",
    "gruLayer", "gruProjectedLayer", "indexing1dLayer", "layerGraph", "layerNormalizationLayer",
    "lstmLayer", "lstmProjectedLayer", "maxPooling1dLayer", "multiplicationLayer",
    "positionEmbeddingLayer", "predict", "predictAndUpdateState", "regressionLayer", "reluLayer",
    "removeLayers", "replaceLayer", "resetState", "selfAttentionLayer", "sequenceFoldingLayer",
    "sequenceInputLayer", "sequenceUnfoldingLayer", "sigmoidLayer",
    "sinusoidalPositionEncodingLayer", "softmaxLayer", "spatialDropoutLayer", "swishLayer",
    "tanhLayer",
    "trainingOptions", "trainNetwork", "wordEmbeddingLayer",
    # 2-D image layers
    "averagePooling2dLayer", "clippedReluLayer", "crossChannelNormalizationLayer", "eluLayer",
    "globalAveragePooling2dLayer", "globalMaxPooling2dLayer", "groupedConvolution2dLayer",
    "imageInputLayer", "leakyReluLayer", "maxPooling2dLayer",
    # normalization over groups of channels (sequences and images)
    "groupNormalizationLayer", "instanceNormalizationLayer",
    # the current (R2024a+) workflow: dlnetwork, trainnet, minibatchpredict, ...
    "accuracyMetric", "dlnetwork", "fScoreMetric", "initialize", "minibatchpredict",
    "onehotdecode", "onehotencode", "precisionMetric", "recallMetric", "rmseMetric",
    "scores2label", "testnet", "trainnet",
]
