"""The compute of matkeras layers: one function per recurrent cell kind, and MATLAB's
dot-product attention, MATLAB semantics.

The functions take Keras-layout weights and batch-major sequences and return the output sequence
(or last output) with the final states. They are what the layers call; they can also be used on
their own.
"""

from matkeras.ops.attention import dot_product_attention
from matkeras.ops.gru import gru
from matkeras.ops.lstm import lstm

__all__ = ["dot_product_attention", "gru", "lstm"]
