"""Deployment: SavedModel and TFLite exports that keep MATLAB's numbers.

- :func:`export_saved_model`: a SavedModel with free batch and time axes; with
  ``streaming=True`` a second signature, ``streaming``, takes and returns every recurrent layer's
  state explicitly (MATLAB's HasStateInputs/HasStateOutputs pattern), so a server can keep one
  state per client. Reload with ``tf.saved_model.load`` or ``keras.layers.TFSMLayer``.
- :func:`export_tflite`: a ``.tflite`` of TFLite builtin ops only (no Flex/Select TF ops). A
  tanh/sigmoid LSTM (also each half of a BiLSTM) becomes TFLite's fused
  ``UNIDIRECTIONAL_SEQUENCE_LSTM`` op; every other layer and configuration (softsign,
  MATLAB's hard-sigmoid, GRU modes, projected layers...) becomes builtin ops, the recurrence a
  ``WHILE`` loop. ``streaming=True`` exports one step at a time with the states in and out.

- :func:`export_matlab`: back to MATLAB: a MAT-file of the weights, a ``build_<name>.m`` of
  built-in Deep Learning Toolbox constructors and a ``check_<name>.m`` that compares MATLAB's
  predictions with matkeras's (``matkeras.export.matlab``).
- :func:`export_onnx`: a standard ONNX model whose recurrent layers are ONNX ``LSTM``/``GRU``
  nodes with MATLAB's options mapped exactly (``matkeras.export.onnx``).

TensorFlow's converter gives the fused LSTM op a cell clip of 10; MATLAB does not clip, so
:func:`export_tflite` turns the clip off in the written model. TFLite computes in float32:
export float32 models.
"""

from matkeras.export.matlab import export_matlab
from matkeras.export.onnx import export_onnx
from matkeras.export.saved_model import export_saved_model
from matkeras.export.tflite import QUANTIZATIONS, export_tflite, tflite_ops, tflite_runner

__all__ = ["QUANTIZATIONS", "export_matlab", "export_onnx", "export_saved_model", "export_tflite",
           "tflite_ops", "tflite_runner"]
