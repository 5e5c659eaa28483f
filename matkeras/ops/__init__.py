"""The recurrent compute of matkeras layers: one function per cell kind, MATLAB semantics.

The functions take Keras-layout weights and batch-major sequences and return the output sequence
(or last output) with the final states. They are what the layers call; they can also be used on
their own.
"""

from matkeras.ops.gru import gru
from matkeras.ops.lstm import lstm

__all__ = ["gru", "lstm"]
