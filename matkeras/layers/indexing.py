"""MATLAB's indexing1dLayer: one step of a sequence, by position."""

import numbers

import keras
from keras import ops

from matkeras.layers import _masks, _options

INDICES = ("first", "last")


@keras.saving.register_keras_serializable(package="matkeras")
class Indexing1D(_masks.PortsMixin, keras.layers.Layer):
    """One time (or spatial) step of each observation: MATLAB's ``indexing1dLayer(index)``.

    ``(batch, time, C) -> (batch, C)``. Without a padding mask every step counts as data, as
    in MATLAB: ``"last"`` on right-padded sequences returns the last *padded* step. With
    ``has_padding_mask_input=True`` the layer takes ``[x, mask]`` (mask (batch, time) or
    (batch, time, C), nonzero = data; first channel of a 3-D mask) and counts only the data
    steps: ``"last"`` is each observation's own last step, whatever the padding direction
    (an observation whose mask has no data step at all gives its first step for ``"first"``
    and its last for ``"last"``; MATLAB's result there is not documented).

    Args:
        index: ``Index``: ``"first"`` (default), ``"last"``, or a positive 1-based step number
            (a matkeras extension: MATLAB documents "first" and "last"); with a padding mask the
            k-th data step.
        has_padding_mask_input: ``HasPaddingMaskInput`` (False).
        use_mask: False (MATLAB); True takes an incoming Keras mask as the padding mask.
        **kwargs: Keras layer arguments.

    Input shape: ``(batch, time, C)`` (+ mask). Output shape: ``(batch, C)``.

    Example:

    >>> import numpy as np
    >>> from matkeras.layers import Indexing1D
    >>> Indexing1D("last")(np.arange(6.0).reshape(1, 3, 2)).numpy()
    array([[4., 5.]])
    """

    MATLAB_CLASS = "nnet.cnn.layer.Indexing1DLayer"

    def __init__(self, index="first", has_padding_mask_input=False, use_mask=False, **kwargs):
        where = _options.layer_label("Indexing1D", kwargs.get("name"))
        if isinstance(index, numbers.Integral) and not isinstance(index, bool):
            index = _options.positive_int(index, argument="index", matlab_property="Index",
                                          where=where)
        else:
            index = _options.choose(index, INDICES, argument="index", matlab_property="Index",
                                    where=where)
        flags = {arg: _options.boolean(value, argument=arg, matlab_property=prop, where=where)
                 for arg, prop, value in (
                     ("has_padding_mask_input", "HasPaddingMaskInput", has_padding_mask_input),
                     ("use_mask", "(none: a matkeras option)", use_mask))}
        super().__init__(**kwargs)
        self._where = where
        self.index = index
        self.has_padding_mask_input = flags["has_padding_mask_input"]
        self.use_mask = flags["use_mask"]
        self.supports_masking = True

    @property
    def checks_length(self):
        """A step number checks the sequence length (``matkeras._forward`` runs that check
        before a compiled call)."""
        return not isinstance(self.index, str) and not self._masked

    @property
    def checks_data(self):
        """A step number with a padding mask checks the mask's data steps while running: no
        XLA then (XLA drops the assertion)."""
        return not isinstance(self.index, str) and self._masked

    @property
    def _masked(self):
        return self.has_padding_mask_input or self.use_mask

    def build(self, input_shape):
        shape = self._data_shape(input_shape)
        if len(shape) != 3:
            raise ValueError(f"{self._where}: expected input of shape (batch, time, channels); "
                             f"received {tuple(shape)}.")
        self.built = True

    def call(self, inputs, mask=None):
        (x,), padding = self._split_inputs(inputs)
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        if padding is None and self.use_mask and mask is not None:
            padding = mask
        if padding is None:
            return self._unmasked(x)
        data = ops.cast(_masks.padding_steps(padding), "int32")  # (B, T)
        if self.index == "first":
            position = ops.argmax(data, axis=1)
        elif self.index == "last":
            position = ops.shape(x)[1] - 1 - ops.argmax(ops.flip(data, axis=1), axis=1)
        else:
            counts = ops.min(ops.sum(data, axis=1))
            data = _masks.runtime_check(
                counts >= self.index,
                f"{self._where}: Index {self.index} asks for the {self.index}-th data step, but "
                "an observation has fewer data steps (mask ones); use a smaller index or "
                "\"last\".", data)
            hit = ops.logical_and(ops.cumsum(data, axis=1) == self.index, data > 0)
            position = ops.argmax(ops.cast(hit, "int32"), axis=1)
        position = ops.cast(position, "int32")[:, None, None]
        return ops.take_along_axis(x, position, axis=1)[:, 0]

    def _unmasked(self, x):
        if self.index == "first":
            return x[:, 0]
        if self.index == "last":
            return x[:, -1]
        message = (f"{self._where}: Index {self.index} is beyond the input's {{}} time steps; "
                   "use an index within the sequence or \"last\".")
        steps = _masks.static_length(x)
        if steps is not None:
            if self.index > steps:
                raise ValueError(message.format(steps))
        else:
            x = _masks.runtime_check(ops.shape(x)[1] >= self.index, message.format("fewer"), x)
        return x[:, self.index - 1]

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        shape = input_shape[0] if self.has_padding_mask_input else input_shape
        return (shape[0], shape[2])

    def get_config(self):
        return {**super().get_config(), "index": self.index,
                "has_padding_mask_input": self.has_padding_mask_input,
                "use_mask": self.use_mask}
