"""Tracing a model for export: the serving function(s), with the recurrent states explicit for
streaming and the weights frozen in for TFLite."""

import contextlib
import os

import keras

from matkeras.layers.stateful import StateCarry, stateful_layers
from matkeras.ops.lstm import tflite_fusable


def require_tensorflow(feature):
    """A clear error for a TensorFlow-only export on another Keras backend."""
    backend = keras.backend.backend()
    if backend != "tensorflow":
        raise ValueError(
            f"{feature} needs Keras's TensorFlow backend; this process runs Keras on {backend}. "
            "Save the model (model.save('net.keras')) and export it in a process with "
            "KERAS_BACKEND=tensorflow, or use export_onnx / export_matlab, which run on every "
            "backend.")


def model_graph(model, exporter):
    """A functional model's graph, read from its config: ``(calls, inputs, outputs)`` with
    ``calls`` one ``(layer, [(source layer, output index), ...])`` per layer but Keras's
    ``InputLayer`` in model order (a merge layer's list of inputs flattened in order), ``inputs``
    the ``InputLayer`` names in ``model.inputs`` order and ``outputs`` ``(layer, output index)``
    pairs in ``model.outputs`` order. A layer called more than once is refused."""
    if not isinstance(model, keras.Model):
        raise TypeError(f"{exporter} takes a keras.Model; received {type(model).__name__}.")
    config = model.get_config()
    if "layers" not in config or "input_layers" not in config:
        raise ValueError(f"{exporter} takes a functional keras.Model (what "
                         "load_matlab_network, trainNetwork and assemble_network return); "
                         f"{model.name} is a {type(model).__name__} without a layer graph.")
    by_name = {layer.name: layer for layer in model.layers}
    calls = []
    for entry in config["layers"]:
        layer = by_name[entry["name"]]
        if isinstance(layer, keras.layers.InputLayer):
            continue
        inbound = entry["inbound_nodes"]
        if len(inbound) > 1:
            raise ValueError(f"{exporter}: layer '{layer.name}' is called {len(inbound)} times "
                             "(shared weights); the export takes layers called once.")
        arguments = []
        for argument in (inbound[0]["args"] if inbound else []):
            arguments += list(argument) if isinstance(argument, (list, tuple)) else [argument]
        calls.append((layer, [(by_name[t["config"]["keras_history"][0]],
                               t["config"]["keras_history"][2]) for t in arguments
                              if isinstance(t, dict) and "keras_history" in t.get("config", {})]))
    def ends(found):  # Keras writes one end as [name, node, index], several as a list
        return [found] if found and isinstance(found[0], str) else found

    return (calls, [name for name, _, _ in ends(config["input_layers"])],
            [(by_name[name], index) for name, _, index in ends(config["output_layers"])])


def check_path(path, overwrite):
    path = os.fspath(path)
    if os.path.exists(path) and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True to replace it.")
    return path


def signature_names(prefix, count):
    """Signature names of a model's inputs (prefix ``x``) or outputs (``y``): the prefix alone
    for one, ``x1``, ``x2``, ... for several (``model.inputs`` order, MATLAB's input-layer
    order; outputs in MATLAB's ``OutputNames`` order)."""
    return [prefix] if count == 1 else [f"{prefix}{k}" for k in range(1, count + 1)]


def _input_specs(model, batch, time_steps):
    """One TensorSpec per model input: sequence inputs (batch, time, features...) get
    `time_steps`, feature inputs (batch, C) have no time axis."""
    import tensorflow as tf

    inputs = getattr(model, "inputs", None)
    if not inputs:
        raise ValueError("Export needs a built model with inputs (a functional or Sequential "
                         "model with an Input).")
    specs = []
    for name, tensor in zip(signature_names("x", len(inputs)), inputs, strict=True):
        dtype = keras.backend.standardize_dtype(tensor.dtype)
        if dtype != "float32":
            raise ValueError(f"Export a float32 model (this one takes {dtype}); TFLite and most "
                             "servers compute in float32.")
        shape = tuple(tensor.shape)
        if len(shape) < 2:
            raise ValueError(f"Export expects inputs of shape (batch, features) or (batch, "
                             f"time, features...); the model takes {shape}.")
        shape = (batch, time_steps, *shape[2:]) if len(shape) >= 3 else (batch, *shape[1:])
        specs.append(tf.TensorSpec(shape, tf.float32, name=name))
    return specs


def _state_specs(model, batch):
    import tensorflow as tf

    specs = {}
    for layer in stateful_layers(model):
        for argument, _ in layer.state_names:
            name = f"{layer.name}_{argument}"
            specs[name] = (layer, tf.TensorSpec((batch, layer.state_width), tf.float32,
                                                name=name))
    return specs


def serving_module(model, batch, time_steps, streaming, fused=False, frozen=False):
    """A tf.Module holding the model's variables and the serving function(s); `frozen` traces
    the weights in as constants (what TFLite needs: it would keep variables as resources)."""
    import tensorflow as tf

    x_specs = _input_specs(model, batch, time_steps)
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
        fusion = tflite_fusable() if fused else contextlib.nullcontext()
        start = None if states is None else {
            layer: [states[f"{layer.name}_{a}"] for a, _ in layer.state_names]
            for layer in layers}
        with fusion, StateCarry(start) as carry:
            y = model(x, training=False)
        left = {}
        if states is not None:
            final = carry.final
            for layer in layers:
                for (argument, _), value in zip(layer.state_names, final[layer], strict=True):
                    left[f"{layer.name}_{argument}"] = tf.cast(value, tf.float32)
        return y, left

    def outputs(y):
        y = list(y) if isinstance(y, (list, tuple)) else [y]
        return dict(zip(signature_names("y", len(y)), y, strict=True))

    def join(xs):
        return xs[0] if len(xs) == 1 else list(xs)

    if streaming:
        if len(x_specs) != 1 or len(x_specs[0].shape) < 3:
            raise ValueError("streaming=True needs a model with one sequence input.")
        specs = _state_specs(model, batch)
        if not specs:
            raise ValueError("streaming=True needs a recurrent layer whose state it can carry.")
        names = list(specs)

        def step(x, *values):
            y, left = run(x, dict(zip(names, values, strict=True)))
            return {**outputs(y), **left}

        module.serve = tf.function(step, input_signature=[x_specs[0]] + [
            spec for _, spec in specs.values()], autograph=False)
    else:
        module.serve = tf.function(lambda *xs: outputs(run(join(xs))[0]),
                                   input_signature=x_specs, autograph=False)
    return module


