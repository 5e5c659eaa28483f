"""Tracing a model for export: the serving function(s), with the recurrent states explicit for
streaming and the weights frozen in for TFLite."""

import importlib
import os

import keras

from matkeras.layers.stateful import stateful_layers


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
    for layer in stateful_layers(model):
        width = layer._DIRECTIONS * layer.units
        for argument, _ in layer._STATES:
            name = f"{layer.name}_{argument}"
            specs[name] = (layer, tf.TensorSpec((batch, width), tf.float32, name=name))
    return specs


def _module(model, batch, time_steps, streaming, fused=False, frozen=False):
    """A tf.Module holding the model's variables and the serving function(s); `frozen` traces
    the weights in as constants (what TFLite needs: it would keep variables as resources)."""
    import tensorflow as tf

    lstm_ops = importlib.import_module("matkeras.ops.lstm")  # the module, not the function
    features, dtype = _feature_shape(model)
    if dtype != "float32":
        raise ValueError(f"Export a float32 model (this one takes {dtype}); TFLite and most "
                         "servers compute in float32.")
    x_spec = tf.TensorSpec((batch, time_steps, *features), tf.float32, name="x")
    module = tf.Module()
    module.model = model
    layers = stateful_layers(model)

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


