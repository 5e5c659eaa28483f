"""MATLAB's recurrent-layer activation functions, by their MATLAB names.

They live with the compute that uses them (:mod:`matkeras.ops.activations`); this module keeps
them under their layer-level name.
"""

from matkeras.ops.activations import GATE_ACTIVATIONS, STATE_ACTIVATIONS, hard_sigmoid

__all__ = ["GATE_ACTIVATIONS", "STATE_ACTIVATIONS", "hard_sigmoid"]
