"""MATLAB's layers with several inputs: additionLayer, multiplicationLayer, concatenationLayer and
depthConcatenationLayer.

Each is called Keras-style on a list of tensors, the list position k holding MATLAB's input port
``in{k+1}`` (``matlab_input_names``), so a graph builder connects ``"add/in2"`` to position 1.

MATLAB's ``Dim`` of ``concatenationLayer`` counts the dimensions of MATLAB's data format, whose
labels are always in the order spatial (S), channel (C), batch (B), time (T); matkeras tensors
hold the same axes in Keras order: batch, time, spatial, channel. So:

=====================  ===========  ==========================================================
Keras input            MATLAB       ``Dim`` -> Keras axis
=====================  ===========  ==========================================================
(batch, C)             CB           1 (C) -> -1
(batch, time, C)       CBT          1 (C) -> -1
(batch, h, c)          SCB          1 (h) -> 1, 2 (c) -> -1
(batch, h, w, c)       SSCB         1 (h) -> 1, 2 (w) -> 2, 3 (c) -> -1
(batch, h, w, d, c)    SSSCB        1, 2, 3 -> 1, 2, 3; 4 (c) -> -1
(batch, time, h, c)    SCBT         1 (h) -> 2, 2 (c) -> -1
(batch, time, h, w, c) SSCBT        1 (h) -> 2, 2 (w) -> 3, 3 (c) -> -1
(b, time, h, w, d, c)  SSSCBT       1, 2, 3 -> 2, 3, 4; 4 (c) -> -1
=====================  ===========  ==========================================================

The batch (B) and time (T) dimensions are refused: MATLAB before R2026a concatenates over channel
and spatial dimensions only (its documentation), and matkeras does not confirm what R2026a does
there. A rank-2 input is read as CB and a rank-3 input as CBT (matkeras's feature and vector
sequence data); higher ranks are ambiguous (``(batch, time, h, c)`` or ``(batch, h, w, c)``?)
and need ``data_format``, or ``data_format="images"`` where the spatial data are 2-D images
(rank 4 SSCB, rank 5 SSCBT: what :func:`matkeras.converters.load_matlab_network` gives the
concatenation layers of networks whose inputs are 2-D images or 2-D image sequences). The
format-order reading of ``Dim`` is inferred from MATLAB's
documentation (its example concatenates 3-D images' channels with ``Dim`` 4) and the data
formats it documents; it is not checked against MATLAB itself.
"""

import keras
from keras import ops

from matkeras.layers import _options

DATA_FORMATS = ("auto", "images", "CB", "CBT", "SCB", "SSCB", "SSSCB", "SCBT", "SSCBT",
                "SSSCBT")
_AUTO_FORMATS = {2: "CB", 3: "CBT"}
#: ``data_format="images"``: the formats by rank where every spatial input is a 2-D image.
_IMAGE_FORMATS = {**_AUTO_FORMATS, 4: "SSCB", 5: "SSCBT"}


def _shapes_text(shapes):
    return ", ".join(f"in{k + 1} {tuple(s)}" for k, s in enumerate(shapes))


def keras_axis(dim, data_format, where):
    """The Keras axis (non-negative) of MATLAB's ``Dim`` in ``data_format`` ("CBT", ...)."""
    if dim > len(data_format):
        raise ValueError(
            f"{where}: Dim = {dim} is beyond the {len(data_format)} dimensions of the "
            f"{data_format} input ({_labels(data_format)}); choose a channel or spatial "
            "dimension.")
    label = data_format[dim - 1]
    if label in "BT":
        name = "batch" if label == "B" else "time"
        raise ValueError(
            f"{where}: Dim = {dim} is the {name} dimension ({label}) of the {data_format} input "
            f"({_labels(data_format)}); MATLAB concatenates over channel and spatial dimensions "
            "only (before R2026a) and matkeras does not support concatenating over "
            f"{name}. Choose a channel or spatial dimension.")
    if label == "C":
        return len(data_format) - 1
    return 1 + ("T" in data_format) + dim - 1


def _labels(data_format):
    return ", ".join(f"{k + 1} = {c}" for k, c in enumerate(data_format))


class _Merge(keras.layers.Layer):
    """Shared by the layers that take ``num_inputs`` tensors as a list."""

    _KIND = "Merge"
    _MIN_INPUTS = 2

    def __init__(self, num_inputs, **kwargs):
        where = _options.layer_label(self._KIND, kwargs.get("name"))
        num_inputs = _options.positive_int(num_inputs, argument="num_inputs",
                                           matlab_property="NumInputs", where=where)
        if num_inputs < self._MIN_INPUTS:
            raise ValueError(f"{where}: num_inputs (MATLAB 'NumInputs') must be at least "
                             f"{self._MIN_INPUTS}; received {num_inputs}.")
        super().__init__(**kwargs)
        self._where = where
        self.num_inputs = num_inputs

    @property
    def matlab_input_names(self):
        """MATLAB's ``InputNames``: ``("in1", ..., "inN")``, list positions 0 .. N-1."""
        return tuple(f"in{k + 1}" for k in range(self.num_inputs))

    @property
    def matlab_output_names(self):
        """MATLAB's ``OutputNames``: ``("out",)``."""
        return ("out",)

    def _shapes(self, input_shape):
        """The input shapes as tuples, checked to be ``num_inputs`` of the same rank."""
        if not isinstance(input_shape, (list, tuple)) or not input_shape or \
                not all(isinstance(s, (list, tuple)) for s in input_shape):
            raise ValueError(
                f"{self._where}: expects a list of {self.num_inputs} tensors (MATLAB inputs "
                f"{', '.join(self.matlab_input_names)}); received one tensor of shape "
                f"{tuple(input_shape) if input_shape is not None else None}.")
        shapes = [tuple(s) for s in input_shape]
        if len(shapes) != self.num_inputs:
            raise ValueError(
                f"{self._where}: received {len(shapes)} inputs ({_shapes_text(shapes)}); "
                f"NumInputs is {self.num_inputs} ({', '.join(self.matlab_input_names)}). "
                "Connect every input, or create the layer with the right NumInputs.")
        if len({len(s) for s in shapes}) != 1:
            raise ValueError(
                f"{self._where}: inputs of different ranks ({_shapes_text(shapes)}); every "
                "input must have the same dimensions (the same data format).")
        return shapes

    def _check_count(self, inputs):
        if not isinstance(inputs, (list, tuple)) or len(inputs) != self.num_inputs:
            count = len(inputs) if isinstance(inputs, (list, tuple)) else "one tensor"
            raise ValueError(f"{self._where}: expects a list of {self.num_inputs} tensors "
                             f"({', '.join(self.matlab_input_names)}); received {count}.")

    def get_config(self):
        return {**super().get_config(), "num_inputs": self.num_inputs}

    def build(self, input_shape):
        self._output_shape(input_shape)
        self.built = True

    def compute_output_shape(self, input_shape):
        return self._output_shape(input_shape)


class _Elementwise(_Merge):
    """Addition and multiplication: same sizes, or size 1 where others differ (MATLAB's
    singleton expansion)."""

    _VERB = "combine"

    def _output_shape(self, input_shape):
        shapes = self._shapes(input_shape)
        out = []
        for axis, sizes in enumerate(zip(*shapes, strict=True)):
            known = {s for s in sizes if s is not None and s != 1}
            if len(known) > 1:
                raise ValueError(
                    f"{self._where}: cannot {self._VERB} inputs of shapes "
                    f"{_shapes_text(shapes)}: axis {axis} has sizes "
                    f"{[s for s in sizes]}. Inputs must have the same size, or size 1 where "
                    "the others differ (MATLAB's expansion); check the layers connected to "
                    "this layer.")
            out.append(known.pop() if known else
                       (None if any(s is None for s in sizes) else 1))
        return tuple(out)


@keras.saving.register_keras_serializable(package="matkeras")
class Addition(_Elementwise):
    """MATLAB's ``additionLayer(numInputs)``: the elementwise sum of its inputs.

    ``out = in1 + in2 + ... + inN``. The inputs have the same size; an input of size 1 along an
    axis is expanded to the others' size (MATLAB's documentation states the expansion for
    ``multiplicationLayer``, and for ``additionLayer`` through its Simulink block's notes).
    Inputs of different sizes otherwise raise an error naming their shapes.

    Args:
        num_inputs: ``NumInputs`` (at least 2): the inputs ``in1`` .. ``inN``.
        **kwargs: Keras layer arguments.

    Input shape: a list of ``num_inputs`` tensors of one shape. Output shape: that shape.

    Example:
        >>> Addition(2)([np.ones((2, 3)), np.ones((2, 3))])  # all 2.0
    """

    MATLAB_CLASS = "nnet.cnn.layer.AdditionLayer"

    _KIND = "Addition"
    _VERB = "add"

    def call(self, inputs):
        self._check_count(inputs)
        total = inputs[0]
        for tensor in inputs[1:]:
            total = total + tensor
        return total


@keras.saving.register_keras_serializable(package="matkeras")
class Multiplication(_Elementwise):
    """MATLAB's ``multiplicationLayer(numInputs)``: the elementwise product of its inputs.

    ``out = in1 .* in2 .* ... .* inN``. The inputs have the same size, or size 1 where the
    others differ (MATLAB's documented expansion); otherwise an error names their shapes.

    Args:
        num_inputs: ``NumInputs`` (at least 2): the inputs ``in1`` .. ``inN``.
        **kwargs: Keras layer arguments.

    Input shape: a list of ``num_inputs`` tensors of one shape. Output shape: that shape.

    Example:
        >>> Multiplication(3)([np.full((2, 3), 2.0)] * 3)  # all 8.0
    """

    MATLAB_CLASS = "nnet.cnn.layer.MultiplicationLayer"

    _KIND = "Multiplication"
    _VERB = "multiply"

    def call(self, inputs):
        self._check_count(inputs)
        product = inputs[0]
        for tensor in inputs[1:]:
            product = product * tensor
        return product


class _Concatenate(_Merge):
    """Concatenation along one axis (``_axis(rank)``); the other axes must agree."""

    def _axis(self, rank):
        raise NotImplementedError

    def _output_shape(self, input_shape):
        shapes = self._shapes(input_shape)
        axis = self._axis(len(shapes[0]))
        out = []
        for other, sizes in enumerate(zip(*shapes, strict=True)):
            if other == axis:
                out.append(None if None in sizes else sum(sizes))
                continue
            known = set(sizes) - {None}
            if len(known) > 1:
                raise ValueError(
                    f"{self._where}: cannot concatenate inputs of shapes {_shapes_text(shapes)} "
                    f"along Keras axis {axis}: axis {other} differs. Every input must have the "
                    "same size in all dimensions except the concatenation dimension.")
            out.append(known.pop() if known else None)
        return tuple(out)

    def call(self, inputs):
        self._check_count(inputs)
        return ops.concatenate(list(inputs), axis=self._axis(len(inputs[0].shape)))


@keras.saving.register_keras_serializable(package="matkeras")
class Concatenation(_Concatenate):
    """MATLAB's ``concatenationLayer(dim, numInputs)``: concatenates along MATLAB's ``Dim``.

    ``Dim`` counts dimensions in MATLAB's data format (spatial, channel, batch, time; see the
    table in :mod:`matkeras.layers.merge`): for feature data ``(batch, C)`` and vector sequences
    ``(batch, time, C)`` ``Dim`` 1 is the channels, Keras axis -1. Batch and time dimensions are
    refused with an error, as is a ``Dim`` beyond the input's dimensions. The inputs must have
    the same size in every other dimension.

    Args:
        dim: ``Dim``: a positive int.
        num_inputs: ``NumInputs`` (at least 2): the inputs ``in1`` .. ``inN``.
        data_format: MATLAB's format of the inputs (``"auto"``: ``"CB"`` for rank 2, ``"CBT"``
            for rank 3; higher ranks need one of ``"SCB"``, ``"SSCB"``, ``"SSSCB"``,
            ``"SCBT"``, ``"SSCBT"``, ``"SSSCBT"``, or ``"images"``: as ``"auto"``, and rank 4
            ``"SSCB"``, rank 5 ``"SSCBT"``, where every spatial input is a 2-D image). Not a
            MATLAB property: MATLAB reads it from the data.
        **kwargs: Keras layer arguments.

    Input shape: a list of ``num_inputs`` tensors. Output shape: their shape with the
    concatenation axis summed.

    Example:
        >>> layer = Concatenation(1, 2)
        >>> layer([np.ones((4, 2)), np.ones((4, 3))]).shape  # (batch, C): channels
        TensorShape([4, 5])
    """

    MATLAB_CLASS = "nnet.cnn.layer.ConcatenationLayer"

    _KIND = "Concatenation"

    def __init__(self, dim, num_inputs, data_format="auto", **kwargs):
        where = _options.layer_label(self._KIND, kwargs.get("name"))
        dim = _options.positive_int(dim, argument="dim", matlab_property="Dim", where=where)
        if not isinstance(data_format, str) or data_format.upper() not in \
                {f.upper() for f in DATA_FORMATS}:
            raise ValueError(
                f"{where}: data_format must be one of {', '.join(DATA_FORMATS)}; received "
                f"{data_format!r}.")
        data_format = data_format.lower() if data_format.lower() in ("auto", "images") else \
            data_format.upper()
        if data_format not in ("auto", "images"):
            keras_axis(dim, data_format, where)
        super().__init__(num_inputs, **kwargs)
        self.dim = dim
        self.data_format = data_format

    def _format(self, rank):
        if self.data_format in ("auto", "images"):
            formats = _IMAGE_FORMATS if self.data_format == "images" else _AUTO_FORMATS
            if rank not in formats:
                raise ValueError(
                    f"{self._where}: inputs of rank {rank} do not say their MATLAB data format "
                    "(image sequences (batch, time, h, ..., c) or images (batch, h, ..., c)?); "
                    "give data_format, e.g. 'SSCB' for (batch, h, w, c) or 'SCBT' for "
                    "(batch, time, h, c).")
            return formats[rank]
        if len(self.data_format) != rank:
            raise ValueError(
                f"{self._where}: data_format {self.data_format!r} has {len(self.data_format)} "
                f"dimensions but the inputs have rank {rank}.")
        return self.data_format

    def _axis(self, rank):
        return keras_axis(self.dim, self._format(rank), self._where)

    def get_config(self):
        return {**super().get_config(), "dim": self.dim, "data_format": self.data_format}


@keras.saving.register_keras_serializable(package="matkeras")
class DepthConcatenation(_Concatenate):
    """MATLAB's ``depthConcatenationLayer(numInputs)``: concatenates along the channels.

    The channel axis is the last Keras axis for every data format; the inputs must have the same
    size in every other dimension (MATLAB: the same height and width).

    Args:
        num_inputs: ``NumInputs`` (at least 2): the inputs ``in1`` .. ``inN``.
        **kwargs: Keras layer arguments.

    Input shape: a list of ``num_inputs`` tensors. Output shape: their shape with the channels
    summed.
    """

    MATLAB_CLASS = "nnet.cnn.layer.DepthConcatenationLayer"

    _KIND = "DepthConcatenation"

    def _axis(self, rank):
        return rank - 1


__all__ = ["DATA_FORMATS", "Addition", "Concatenation", "DepthConcatenation", "Multiplication",
           "keras_axis"]
