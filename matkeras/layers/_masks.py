"""What MATLAB's attention and indexing layers share: padding-mask inputs, attention masks,
multi-input port names, and run-time checks that raise in eager calls and assert in graphs."""

import keras
import numpy as np
from keras import ops

from matkeras.layers import _options

ATTENTION_MASKS = ("none", "causal")


def check_attention_mask(value, where):
    """MATLAB ``AttentionMask``: ``"none"``, ``"causal"``, or a numKeys-by-numQueries logical
    matrix (nonzero: the query may attend to the key). Returns the string or a bool array."""
    if isinstance(value, str):
        return _options.choose(value, ATTENTION_MASKS, argument="attention_mask",
                               matlab_property="AttentionMask", where=where)
    try:
        array = np.asarray(value)
    except (TypeError, ValueError):
        array = np.asarray(None)
    if array.ndim != 2 or array.size == 0 or array.dtype.kind not in "biuf":
        raise ValueError(
            f"{where}: attention_mask (MATLAB 'AttentionMask') must be \"none\", \"causal\" or a "
            "numKeys-by-numQueries logical matrix (MATLAB's orientation: row k, column q is 1 "
            f"when query q may attend to key k); received {_describe(value)}.")
    return array != 0


def attention_mask_config(mask):
    return mask if isinstance(mask, str) else mask.astype(int).tolist()


def _describe(value):
    shape = np.shape(value) if not isinstance(value, str) else None
    return f"{type(value).__name__} of shape {shape}" if shape else repr(value)


def padding_steps(mask):
    """A MATLAB padding-mask input as (B, T) bool: (B, T) as is, (B, T, C) by its first
    channel (MathWorks' TensorFlow exporter reads channel 1 of the C-by-B-by-T mask)."""
    if len(mask.shape) == 3:
        mask = mask[..., 0]
    if mask.dtype == "bool":
        return mask
    return ops.not_equal(mask, ops.zeros((), mask.dtype))


def runtime_check(condition, message, value):
    """`value`, after checking the bool tensor `condition`: ValueError(`message`) at once in
    eager calls; in a traced graph an assertion op that `value` depends on, so that nothing
    computed from `value` runs before the check (and fails first with a less helpful error)."""
    if keras.backend.backend() == "tensorflow":  # the other backends never import TensorFlow
        import tensorflow as tf

        if not tf.executing_eagerly():
            with tf.control_dependencies([tf.debugging.Assert(tf.reduce_all(condition),
                                                              [message])]):
                return tf.identity(value)
    if not bool(ops.convert_to_numpy(ops.all(condition))):
        raise ValueError(message)
    return value


def static_length(tensor, axis=1):
    """The static length of `axis`, or None when it is only known at run time."""
    value = tensor.shape[axis]
    return None if value is None else int(value)


class PortsMixin:
    """MATLAB's port names (``InputNames``/``OutputNames``) of a layer with several inputs or
    outputs; the graph builder connects ``'name/port'`` to that position of the call's list."""

    _DATA_INPUTS = ("in",)

    @property
    def matlab_input_names(self):
        """MATLAB ``InputNames``: the data inputs, then ``"mask"`` with HasPaddingMaskInput."""
        mask = ("mask",) if self.has_padding_mask_input else ()
        return (*self._DATA_INPUTS, *mask)

    @property
    def matlab_output_names(self):
        """MATLAB ``OutputNames``: ``("out",)``, or ``("out", "scores")`` with HasScoresOutput."""
        return ("out", "scores") if getattr(self, "has_scores_output", False) else ("out",)

    def _data_shape(self, input_shape):
        """The first data input's shape from a build's `input_shape`, checking the count."""
        several = isinstance(input_shape, (list, tuple)) and bool(input_shape) and \
            isinstance(input_shape[0], (list, tuple))
        count = len(input_shape) if several else 1
        if count != len(self.matlab_input_names):
            raise ValueError(self._count_message(count))
        return tuple(input_shape[0]) if several else tuple(input_shape)

    def _split_inputs(self, inputs):
        """(data tensors, padding mask or None) from the call's inputs, checking their count."""
        names = self.matlab_input_names
        if len(names) == 1:
            if isinstance(inputs, (list, tuple)):
                if len(inputs) != 1:
                    raise ValueError(self._count_message(len(inputs)))
                inputs = inputs[0]
            return [inputs], None
        if not isinstance(inputs, (list, tuple)) or len(inputs) != len(names):
            count = len(inputs) if isinstance(inputs, (list, tuple)) else 1
            raise ValueError(self._count_message(count))
        data = list(inputs[:len(self._DATA_INPUTS)])
        mask = inputs[-1] if self.has_padding_mask_input else None
        return data, mask

    def _count_message(self, count):
        names = self.matlab_input_names
        hint = (" (HasPaddingMaskInput is true: pass the padding mask last)"
                if self.has_padding_mask_input else "")
        return (f"{self._where}: the layer takes {len(names)} input(s) {list(names)}{hint}; "
                f"received {count}.")
