"""The compute of matkeras layers: one function per recurrent cell kind, and MATLAB's
dot-product attention, MATLAB semantics.

The functions take Keras-layout weights and batch-major sequences and return the output sequence
(or last output) with the final states. They are what the layers call; they can also be used on
their own: ``matlab_lstm``, ``matlab_gru`` and ``dot_product_attention``.
``matkeras.ops.lstm`` and ``matkeras.ops.gru`` are their modules (still callable as the
functions, with a DeprecationWarning, for one release). ``speed_settings()`` gives the speed
rule's current overrides (``matkeras.ops._speed``), which traced functions depend on.
"""

from matkeras.ops import gru, lstm
from matkeras.ops._speed import settings as speed_settings
from matkeras.ops.attention import dot_product_attention
from matkeras.ops.gru import matlab_gru
from matkeras.ops.lstm import matlab_lstm

__all__ = ["dot_product_attention", "gru", "lstm", "matlab_gru", "matlab_lstm",
           "speed_settings"]
