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

TFLite's fused LSTM clips the cell state to [-10, 10] (the converter sets ``cell_clip`` 10);
MATLAB does not clip. Networks whose cell states leave that range should be exported with
``fused=False``. TFLite computes in float32: export float32 models.
"""

import os
import shutil
import tempfile

import keras
import numpy as np

from matkeras.inference import _stateful_layers

__all__ = ["export_saved_model", "export_tflite", "tflite_ops", "tflite_runner"]

QUANTIZATIONS = (None, "float16", "dynamic-int8")


def _check_path(path, overwrite):
    path = os.fspath(path)
    if os.path.exists(path) and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True to replace it.")
    return path


def _feature_shape(model):
    inputs = getattr(model, "inputs", None)
    if not inputs or len(inputs) != 1:
        raise ValueError("Export needs a built single-input model (a functional or Sequential "
                         "model with an Input).")
    shape = tuple(inputs[0].shape)
    if len(shape) < 3:
        raise ValueError(f"Export expects sequence input (batch, time, features...); the model "
                         f"takes {shape}.")
    return shape[2:], keras.backend.standardize_dtype(inputs[0].dtype)


def _state_specs(model, batch):
    import tensorflow as tf

    specs = {}
    for layer in _stateful_layers(model):
        width = layer._DIRECTIONS * layer.units
        for argument, _ in layer._STATES:
            name = f"{layer.name}_{argument}"
            specs[name] = (layer, tf.TensorSpec((batch, width), tf.float32, name=name))
    return specs


def _module(model, batch, time_steps, streaming, fused=False, frozen=False):
    """A tf.Module holding the model's variables and the serving function(s); `frozen` traces
    the weights in as constants (what TFLite needs: it would keep variables as resources)."""
    import importlib

    import tensorflow as tf

    lstm_ops = importlib.import_module("matkeras.ops.lstm")  # the module, not the function
    features, dtype = _feature_shape(model)
    if dtype != "float32":
        raise ValueError(f"Export a float32 model (this one takes {dtype}); TFLite and most "
                         "servers compute in float32.")
    x_spec = tf.TensorSpec((batch, time_steps, *features), tf.float32, name="x")
    module = tf.Module()
    module.model = model
    layers = _stateful_layers(model)

    snapshot = [(v, keras.ops.convert_to_numpy(v)) for v in model.variables] if frozen else []

    def run(x, states=None):
        if frozen:
            values = [(v, tf.constant(array, dtype=v.dtype)) for v, array in snapshot]
            with keras.StatelessScope(state_mapping=values):
                return _run(x, states)
        return _run(x, states)

    def _run(x, states):
        lstm_ops._FUSABLE = fused
        try:
            for layer in layers:
                if states is not None:
                    layer._carried = [states[f"{layer.name}_{a}"] for a, _ in layer._STATES]
                layer._capture = states is not None
            y = model(x, training=False)
            left = {}
            if states is not None:
                for layer in layers:
                    for (argument, _), value in zip(layer._STATES, layer._captured,
                                                    strict=True):
                        left[f"{layer.name}_{argument}"] = tf.cast(value, tf.float32)
        finally:
            lstm_ops._FUSABLE = False
            for layer in layers:
                layer._carried, layer._capture, layer._captured = None, False, None
        return y, left

    if streaming:
        specs = _state_specs(model, batch)
        if not specs:
            raise ValueError("streaming=True needs a recurrent layer whose state it can carry.")
        names = list(specs)

        def step(x, *values):
            y, left = run(x, dict(zip(names, values, strict=True)))
            return {"y": y, **left}

        module.serve = tf.function(step, input_signature=[x_spec] + [
            spec for _, spec in specs.values()], autograph=False)
    else:
        module.serve = tf.function(lambda x: {"y": run(x)[0]}, input_signature=[x_spec],
                                   autograph=False)
    return module


def export_saved_model(model, path, streaming=False, overwrite=False):
    """Writes a SavedModel of `model` with free batch and time axes.

    Signatures: ``serving_default`` (``x`` -> ``y``) and, with ``streaming=True``, also
    ``streaming`` (``x`` and one input per recurrent state, named ``<layer>_hidden_state`` /
    ``<layer>_cell_state``, -> ``y`` and the states after the last step). Returns the path.
    """
    import tensorflow as tf

    path = _check_path(path, overwrite)
    full = _module(model, None, None, streaming=False)
    signatures = {"serving_default": full.serve.get_concrete_function()}
    if streaming:
        stepper = _module(model, None, None, streaming=True)
        full.stream = stepper.serve
        signatures["streaming"] = stepper.serve.get_concrete_function()
    if os.path.exists(path):
        shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)
    tf.saved_model.save(full, path, signatures=signatures)
    return path


def export_tflite(model, path, batch_size=1, time_steps=None, streaming=False, quantize=None,
                  fused=True, overwrite=False):
    """Writes a TFLite model of `model` (TFLite builtin ops only).

    Args:
        model: a built float32 Keras model of matkeras layers.
        path: the ``.tflite`` file to write.
        batch_size: the fixed batch size (TFLite's fused LSTM needs one).
        time_steps: a fixed number of time steps, or None for any (the interpreter is resized
            per call; :func:`tflite_runner` does it).
        streaming: export one call = ``time_steps`` steps (1 by default) with the recurrent
            states as inputs and outputs (named as in :func:`export_saved_model`).
        quantize: None, ``"float16"`` (weights in float16) or ``"dynamic-int8"`` (weights in
            int8, dynamic-range quantization).
        fused: use TFLite's fused LSTM op for tanh/sigmoid LSTMs (see the module notes).
        overwrite: replace an existing file.

    Returns:
        The path written.
    """
    import tensorflow as tf

    if quantize not in QUANTIZATIONS:
        raise ValueError(f"quantize must be one of {QUANTIZATIONS}; received {quantize!r}.")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer; received {batch_size!r}.")
    path = _check_path(path, overwrite)
    if streaming and time_steps is None:
        time_steps = 1
    module = _module(model, batch_size, time_steps, streaming, fused=fused and not streaming,
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
    flex = [op for op in tflite_ops(content) if op.startswith("Flex") or op == "CUSTOM"]
    if flex:
        raise RuntimeError(f"The TFLite model needs non-builtin ops {flex}; not written.")
    with open(path, "wb") as handle:
        handle.write(content)
    return path


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
    outputs (``y`` and, for streaming models, the states). Inputs are cast to float32 and the
    interpreter is resized to their shapes."""
    interpreter = _interpreter(model, threads)
    runner = interpreter.get_signature_runner()

    def run(x, **states):
        feeds = {"x": np.asarray(x, np.float32)}
        feeds.update({k: np.asarray(v, np.float32) for k, v in states.items()})
        return runner(**feeds)

    run.interpreter = interpreter
    return run
