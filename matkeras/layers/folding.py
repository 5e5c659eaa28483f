"""MATLAB's sequenceFoldingLayer, sequenceUnfoldingLayer and flattenLayer."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="matkeras")
class SequenceFolding(keras.layers.Layer):
    """MATLAB's ``sequenceFoldingLayer``: image sequences ``(N, T, h, w, c)`` become an image
    batch ``(N*T, h, w, c)`` so that image layers run on every frame.

    Returns ``[out, mini_batch_size]`` as MATLAB's two outputs ``out`` and ``miniBatchSize``;
    ``mini_batch_size`` is an ``(N, T)`` tensor of zeros that only carries N and T to the
    :class:`SequenceUnfolding` layer it must be connected to.
    """

    MATLAB_CLASS = "nnet.cnn.layer.SequenceFoldingLayer"

    def call(self, inputs):
        shape = ops.shape(inputs)
        folded = ops.reshape(inputs, (-1, *inputs.shape[2:]))
        return [folded, ops.zeros((shape[0], shape[1]), dtype=inputs.dtype)]

    def compute_output_shape(self, input_shape):
        return [(None, *input_shape[2:]), (input_shape[0], input_shape[1])]

    def compute_mask(self, inputs, mask=None):
        return [None, None]


@keras.saving.register_keras_serializable(package="matkeras")
class SequenceUnfolding(keras.layers.Layer):
    """MATLAB's ``sequenceUnfoldingLayer``: takes ``[in, mini_batch_size]`` (the folding layer's
    second output) and restores ``(N, T, ...)`` from ``(N*T, ...)``."""

    MATLAB_CLASS = "nnet.cnn.layer.SequenceUnfoldingLayer"

    def call(self, inputs):
        folded, mini_batch_size = inputs
        shape = ops.shape(mini_batch_size)
        return ops.reshape(folded, (shape[0], shape[1], *folded.shape[1:]))

    def compute_output_shape(self, input_shape):
        folded, mini_batch_size = input_shape
        return (mini_batch_size[0], mini_batch_size[1], *folded[1:])


@keras.saving.register_keras_serializable(package="matkeras")
class Flatten(keras.layers.Layer):
    """MATLAB's ``flattenLayer``: each time step's ``(h, w, c)`` becomes ``h*w*c`` channels in
    MATLAB's column-major order (h fastest, then w, then c), so weights trained in MATLAB line
    up. Input ``(N, T, h, w, c)`` (or ``(N, h, w, c)``); output ``(N, T, h*w*c)``."""

    MATLAB_CLASS = "nnet.cnn.layer.FlattenLayer"

    def call(self, inputs):
        rank = len(inputs.shape)
        leading = 2 if rank == 5 else 1
        axes = list(range(leading)) + list(range(rank - 1, leading - 1, -1))  # (.., c, w, h)
        reversed_axes = ops.transpose(inputs, axes)
        return ops.reshape(reversed_axes, (*ops.shape(inputs)[:leading], -1))

    def compute_output_shape(self, input_shape):
        leading = 2 if len(input_shape) == 5 else 1
        size = 1
        for s in input_shape[leading:]:
            size = None if (s is None or size is None) else size * s
        return (*input_shape[:leading], size)
