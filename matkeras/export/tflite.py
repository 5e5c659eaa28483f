"""TFLite export with TFLite builtin ops only (the fused LSTM op where it applies), and the LiteRT
helpers that run and inspect the result."""

import os
import shutil
import tempfile

import numpy as np

from matkeras.export._trace import (
    check_path,
    require_tensorflow,
    serving_module,
    signature_names,
)
from matkeras.layers.stateful import stateful_layers

__all__ = ["export_tflite", "tflite_ops", "tflite_runner"]

QUANTIZATIONS = (None, "float16", "dynamic-int8")


def export_tflite(model, path, batch_size="auto", time_steps="auto", streaming=False,
                  quantize=None, fused=True, overwrite=False):
    """Writes a TFLite model of `model` (TFLite builtin ops only).

    The TFLite input has the model's own shape by default: a model declared with
    ``keras.Input((20, 4))`` exports an input of shape ``(1, 20, 4)``, which any TFLite runtime
    runs as it is. A free time axis (``keras.Input((None, 4))``, or ``time_steps=None``) stays
    free in the file, where it is stored as 1: a runtime must then resize the input to each
    call's shape before running (``interpreter.resize_tensor_input`` and
    ``allocate_tensors``, or a signature runner, which resizes to what it is given;
    :func:`tflite_runner` does it).

    Args:
        model: a built float32 Keras model of matkeras layers.
        path: the ``.tflite`` file to write.
        batch_size: the fixed batch size (TFLite's fused LSTM needs one): ``"auto"`` (default)
            takes the model's where its input fixes one, else 1.
        time_steps: ``"auto"`` (default): the model's time axis, fixed or free (1 step when
            `streaming`); an int fixes it; None leaves it free (runtimes must resize, see above).
        streaming: export one call = ``time_steps`` steps (1 by default) with the recurrent
            states as inputs and outputs (named as in :func:`export_saved_model`).
        quantize: None, ``"float16"`` (weights in float16) or ``"dynamic-int8"`` (weights in
            int8, dynamic-range quantization).
        fused: use TFLite's fused LSTM op for tanh/sigmoid LSTMs (see the module notes).
        overwrite: replace an existing file.

    Returns:
        The path written.

    Example:
        >>> import keras, numpy as np
        >>> from ai_edge_litert.interpreter import Interpreter
        >>> from matkeras.layers import LSTM
        >>> inputs = keras.Input((20, 4))
        >>> model = keras.Model(inputs, LSTM(8, output_mode="last")(inputs))
        >>> interpreter = Interpreter(model_path=export_tflite(model, "lstm.tflite"))
        >>> interpreter.allocate_tensors()
        >>> [list(d["shape"]) for d in interpreter.get_input_details()]
        [[1, 20, 4]]
    """
    require_tensorflow("export_tflite")
    import tensorflow as tf

    if quantize not in QUANTIZATIONS:
        raise ValueError(f"quantize must be one of {QUANTIZATIONS}; received {quantize!r}.")
    model_batch, model_steps = _model_axes(model)
    if batch_size == "auto":
        batch_size = model_batch or 1
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer or 'auto'; received "
                         f"{batch_size!r}.")
    if time_steps == "auto":
        time_steps = 1 if streaming else model_steps
    if time_steps is not None and (isinstance(time_steps, bool) or not isinstance(
            time_steps, int) or time_steps < 1):
        raise ValueError(f"time_steps must be a positive integer, None (a free time axis) or "
                         f"'auto'; received {time_steps!r}.")
    path = check_path(path, overwrite)
    if streaming and time_steps is None:
        time_steps = 1
    if fused and _nonzero_initial_states(model):
        fused = False  # the fused op's state tensors start at zero after a reset: not these
    module = serving_module(model, batch_size, time_steps, streaming, fused=fused and not streaming,
                     frozen=True)
    folder = tempfile.mkdtemp(prefix="matkeras-tflite-")
    try:
        # Converting from a SavedModel keeps the fusable LSTM functions whole for the converter.
        tf.saved_model.save(module, folder,
                            signatures={"serving_default": module.serve.get_concrete_function()})
        converter = tf.lite.TFLiteConverter.from_saved_model(folder)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        if quantize is not None:
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            if quantize == "float16":
                converter.target_spec.supported_types = [tf.float16]
        try:
            content = converter.convert()
        except Exception as error:  # the converter raises ConverterError and others
            raise RuntimeError(
                f"TFLite conversion with builtin ops only failed for {model.name}: {error}. "
                "Try a fixed time_steps, or report the layer that fails.") from error
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    content = _without_cell_clip(content)
    flex = [op for op in tflite_ops(content) if op.startswith("Flex") or op == "CUSTOM"]
    if flex:
        raise RuntimeError(f"The TFLite model needs non-builtin ops {flex}; not written.")
    with open(path, "wb") as handle:
        handle.write(content)
    return path


def _model_axes(model):
    """The batch size and time steps the model's inputs fix (None where they leave them free):
    the batch where every input fixes the same one, the time of the first sequence input."""
    inputs = getattr(model, "inputs", None) or []
    batches = {tuple(tensor.shape)[0] for tensor in inputs}
    steps = [tuple(tensor.shape)[1] for tensor in inputs if len(tensor.shape) >= 3]
    return (batches.pop() if len(batches) == 1 else None), (steps[0] if steps else None)


def _nonzero_initial_states(model):
    return any(np.any(v != 0) for layer in stateful_layers(model)
               for v in layer.initial_state_values())


def _without_cell_clip(content):
    """Sets the fused LSTM ops' cell clip to 0 (off): TensorFlow's converter writes 10, and MATLAB
    does not clip (a trained Japanese Vowels LSTM reaches |c| = 11 and changes 2 of 370 labels
    with the clip). The option is patched in place in the flatbuffer; nothing else changes."""
    import struct

    from ai_edge_litert import schema_py_generated as schema

    buffer = bytearray(content)
    model = schema.Model.GetRootAs(buffer, 0)
    fused = schema.BuiltinOperator.UNIDIRECTIONAL_SEQUENCE_LSTM
    for s in range(model.SubgraphsLength()):
        graph = model.Subgraphs(s)
        for o in range(graph.OperatorsLength()):
            op = graph.Operators(o)
            code = model.OperatorCodes(op.OpcodeIndex())
            if max(code.BuiltinCode(), code.DeprecatedBuiltinCode()) != fused:
                continue
            table = op.BuiltinOptions()
            options = schema.UnidirectionalSequenceLSTMOptions()
            options.Init(table.Bytes, table.Pos)
            field = options._tab.Offset(6)  # cell_clip, as the generated CellClip() reads it
            if field:
                struct.pack_into("<f", buffer, options._tab.Pos + field, 0.0)
    return bytes(buffer)


def _interpreter(model, threads=None):
    from ai_edge_litert.interpreter import Interpreter

    if isinstance(model, (bytes, bytearray)):
        return Interpreter(model_content=bytes(model), num_threads=threads)
    return Interpreter(model_path=os.fspath(model), num_threads=threads)


def tflite_ops(model):
    """The sorted op names of a TFLite model (a path or its bytes), read from LiteRT."""
    interpreter = _interpreter(model)
    return sorted({detail["op_name"] for detail in interpreter._get_ops_details()})


def tflite_runner(model, threads=2):
    """A callable running a TFLite model in LiteRT: ``runner(x, **states) -> dict`` of numpy
    outputs (``y`` and, for streaming models, the states; ``y1``, ``y2``, ... for several
    outputs). `x` is one array, or a list of arrays for a model with several inputs (fed as
    ``x1``, ``x2``, ... in ``model.inputs`` order). Inputs are cast to float32 and the
    interpreter is resized to their shapes. Every call starts from the model's initial states:
    it resets the interpreter's variable tensors first, which is what any other runtime must do
    too before each invocation of a model with the fused LSTM op (``ResetVariableTensors``)."""
    interpreter = _interpreter(model, threads)
    runner = interpreter.get_signature_runner()

    calls = []

    def run(x, **states):
        # TFLite's fused LSTM keeps its state in variable tensors that it updates in place, so
        # without a reset each call would start where the previous one ended. (Before the first
        # call the tensors are not allocated yet; allocation starts them at zero.)
        if calls:
            interpreter.reset_all_variables()
        calls.append(None)
        xs = list(x) if isinstance(x, (list, tuple)) else [x]
        feeds = {n: np.asarray(v, np.float32)
                 for n, v in zip(signature_names("x", len(xs)), xs, strict=True)}
        feeds.update({k: np.asarray(v, np.float32) for k, v in states.items()})
        return runner(**feeds)

    run.interpreter = interpreter
    return run
