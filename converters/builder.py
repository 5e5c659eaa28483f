"""Saved MATLAB layers -> matkeras layers -> keras.Model (through the one graph builder).

:func:`load_matlab_network` reads any container MATLAB saves (see ``matlab_network``), rebuilds
each layer from its saved fields with the reader registered for its class in ``readers``, and
wires them with :func:`matkeras.network.assemble_network` from the saved connections.
"""

import logging
import re
import warnings

from matkeras.converters.errors import MatFileError
from matkeras.converters.matlab_network import read_network, text
from matkeras.converters.readers import (
    READERS,
    default_name,
    has_learnable_values,
    remember_saved_state,
)

log = logging.getLogger("matkeras.converters")

#: What TensorFlow accepts in a layer name (its name scopes); other characters become "_".
_KERAS_NAME = re.compile(r"[^A-Za-z0-9_.\-]")


def keras_names(matlab_names):
    """``{MATLAB name: Keras name}``: the same name where TensorFlow accepts it (letters,
    digits, ``_ . -``, not starting with ``_`` or ``-``), else with the other characters
    replaced by ``_`` (``x[k]`` -> ``x_k_``), made unique."""
    taken, mapping = set(), {}
    for name in matlab_names:
        candidate = _KERAS_NAME.sub("_", name) or "layer"
        if candidate[0] in "_-":
            candidate = "L" + candidate
        base, count = candidate, 1
        while candidate in taken:
            count += 1
            candidate = f"{base}_{count}"
        taken.add(candidate)
        mapping[name] = candidate
    return mapping


def _custom_hint(record):
    short = record.matlab_class.rsplit(".", 1)[-1]
    return (f"load it with load_matlab_network(..., custom_layers={{{short!r}: <a Keras layer "
            f"class, or a function (fields, name) -> Keras layer>}}), for example "
            f"custom_layers={{{short!r}: keras.layers.Identity}} for a layer that passes its "
            "input on")


def _custom_entry(custom_layers, matlab_class):
    """``(found, value)``: the ``custom_layers`` entry of a class, by its full name or its
    last dotted part."""
    for key in (matlab_class, matlab_class.rsplit(".", 1)[-1]):
        if key in custom_layers:
            return True, custom_layers[key]
    return False, None


def _is_custom(record):
    return record.matlab_class != "unknown" and not record.matlab_class.startswith(
        ("nnet.cnn.layer.", "nnet.onnx.layer."))


#: Fields MATLAB's output layer base classes give every custom output layer
#: (nnet.layer.ClassificationLayer, RegressionLayer).
_OUTPUT_FIELDS = ("Classes", "Categories", "ResponseNames")
#: Output layers MATLAB's importers add where the imported model names no loss: they pass the
#: scores on and hold no loss, so they are left out (as a dlnetwork has no output layer).
_PASS_THROUGH_OUTPUTS = ("nnet.onnx.layer.CustomOutputLayer",)


def _unsupported(record):
    if record.matlab_class == "nnet.cnn.layer.FunctionLayer":
        function = next((str(v.ravel()[0]) for k, v in record.fields.items()
                         if k.endswith("function_handle.function") and v.size), "")
        function = function.split("@", 1)[-1] if "@" in function else function
        shown = text(record.fields, "Description") or ("@" + function if function else "?")
        return (f"layer {record.position} '{record.name}' (nnet.cnn.layer.FunctionLayer, "
                f"function {shown}): a functionLayer runs MATLAB code matkeras cannot "
                "translate; rebuild that step as a Keras layer and pass custom_layers="
                "{'FunctionLayer': <a function (fields, name) -> Keras layer>} (the name says "
                "which function layer it is)")
    if _is_custom(record):
        fields = sorted(k for k in record.fields if "." not in k)
        return (f"layer {record.position} '{record.name}' ({record.matlab_class}, a custom "
                f"layer class: its MATLAB code is not in the file; saved fields {fields}): "
                + _custom_hint(record))
    fields = sorted(k for k in record.fields if "." not in k)
    how = " (class inferred from its fields)" if record.class_source == "fields" else ""
    return (f"layer {record.position} '{record.name}' ({record.matlab_class}{how}, saved "
            f"fields {fields})")


def build_layers(path, records, custom_layers=None):
    """matkeras layers for the saved records (``custom_layers`` as in
    :func:`load_matlab_network`); one error lists every unsupported layer."""
    custom_layers = custom_layers or {}
    unsupported = [r for r in records if r.matlab_class not in READERS
                   and not _custom_entry(custom_layers, r.matlab_class)[0]]
    if unsupported:
        listing = "; ".join(_unsupported(r) for r in unsupported)
        raise MatFileError(f"'{path}' has layers matkeras cannot convert: {listing}. Nothing "
                           "was loaded. Export the rest with converters/matlab/matkeras_export.m "
                           "and rebuild it with matkeras layers, or open an issue for the layer "
                           "kind.")
    layers = []
    for record in records:
        found, given = _custom_entry(custom_layers, record.matlab_class)
        try:
            layers.append(_custom_layer(record, given) if found else
                          READERS[record.matlab_class](record))
        except (ValueError, TypeError, KeyError, IndexError) as error:
            raise MatFileError(f"'{path}': layer {record.position} '{record.name}' "
                               f"({record.matlab_class}) could not be rebuilt: {error}") from None
    return layers


def _remove(saved, record):
    saved.layers.remove(record)
    if saved.connections is not None:
        saved.connections = [(s, d) for s, d in saved.connections
                             if d.split("/")[0] != record.name]


def _custom_layer(record, given):
    """The layer ``custom_layers`` gives for `record`: a Keras layer class, built with the
    layer's name; or a function called with the saved fields and the name."""
    import keras

    if isinstance(given, type) and issubclass(given, keras.layers.Layer):
        layer = given(name=record.name)
    elif callable(given):
        layer = given(dict(record.fields), name=record.name)
    else:
        raise TypeError(f"custom_layers[{record.matlab_class!r}] must be a Keras layer class, "
                        f"a function (fields, name) -> Keras layer, or None (drop an output "
                        f"layer); received {given!r}")
    if not isinstance(layer, keras.layers.Layer):
        raise TypeError(f"custom_layers[{record.matlab_class!r}] returned "
                        f"{type(layer).__name__}, not a Keras layer")
    return layer


def _drop_output_layers(saved, custom_layers):
    """Removes the custom output layers that ``custom_layers`` maps to None, or that it does
    not map (with a warning: an output layer does not change what predict returns); a None for
    a layer that is not an output layer is refused. An output layer is the last layer of a
    SeriesNetwork or DAGNetwork, or of a layer graph or array when its fields are an output
    layer's (``Classes``, ``ResponseNames``); a dlnetwork has none."""
    sources = ({s.split("/")[0] for s, _ in saved.connections}
               if saved.connections is not None else None)
    last = saved.layers[-1] if saved.layers else None
    dropped = []
    for record in list(saved.layers):
        if record.matlab_class in _PASS_THROUGH_OUTPUTS and record is last:
            _remove(saved, record)
            log.info("Left out %s '%s' (an importer's output layer without a loss).",
                     record.matlab_class, record.name)
            continue
        found, given = _custom_entry(custom_layers, record.matlab_class)
        if (found and given is not None) or (not found and not _is_custom(record)):
            continue
        sink = record is last if sources is None else record.name not in sources
        # SeriesNetwork/DAGNetwork end in output layers; elsewhere the fields must say so
        output = sink and (saved.network_class in ("SeriesNetwork", "DAGNetwork") or (
            saved.network_class != "dlnetwork" and any(k in record.fields
                                                       for k in _OUTPUT_FIELDS)))
        if not output:
            if found:
                raise MatFileError(
                    f"'{saved.path}': custom_layers maps {record.matlab_class!r} to None, which "
                    f"drops an output layer only; layer {record.position} '{record.name}' has "
                    "layers after it. Map it to a Keras layer instead.")
            continue  # refused by build_layers, with the other unsupported layers
        _remove(saved, record)
        dropped.append((record, found))
    for record, asked in dropped:
        if not asked:
            warnings.warn(
                f"'{saved.path}': the custom output layer {record.position} '{record.name}' "
                f"({record.matlab_class}) was dropped: an output layer does not change what "
                "predict returns (the previous layer's output), but its loss is not there for "
                f"training. To keep one, {_custom_hint(record)}; custom_layers="
                f"{{{record.matlab_class.rsplit('.', 1)[-1]!r}: None}} drops it silently.",
                stacklevel=4)


def _name_layers(records):
    """Gives unnamed layers (a layer array never assembled) MATLAB's default names: the
    layer kind's name, suffixed _1, _2, ... where several layers share it."""
    unnamed = [r for r in records if not r.name]
    kinds = [default_name(r.matlab_class) for r in unnamed]
    taken = {r.name for r in records if r.name}
    for record, kind in zip(unnamed, kinds, strict=True):
        if kinds.count(kind) == 1 and kind not in taken:
            record.name = kind
        else:
            count = 1
            while f"{kind}_{count}" in taken:
                count += 1
            record.name = f"{kind}_{count}"
        taken.add(record.name)


def _rename(end, mapping):
    name, slash, port = end.partition("/")
    return mapping.get(name, name) + slash + port


def load_matlab_network(path, variable=None, compile=True, custom_layers=None):  # noqa: A002
    """Reads a network MATLAB saved and rebuilds it as a ``keras.Model``.

    Reads ``SeriesNetwork``, ``DAGNetwork``, ``dlnetwork``, ``LayerGraph`` and layer arrays,
    at top level or nested in structs and objects (see :func:`read_network` for how the network
    is found when the file holds several), and files written in MATLAB by
    ``matkeras_export.m`` (in ``converters/matlab``; matkeras's plain layout, version 2, see
    ``plain_network``).

    Semantics:
        - The model returns what MATLAB's ``predict(net, X)`` returns: a SeriesNetwork or
          DAGNetwork ends in its output layer (softmax scores for classification), and is
          compiled with that layer's MATLAB loss; a dlnetwork has no output layer and is not
          compiled. Several outputs come in MATLAB's ``OutputNames`` order, several inputs as a
          list in the order of the input layers.
        - Recurrent layers of a dlnetwork start from ``InitialHiddenState``/
          ``InitialCellState``; the saved ``HiddenState``/``CellState`` (the state after
          MATLAB's last stateful call), where it differs, is the remembered state that
          :func:`matkeras.inference.predict_and_update_state` continues from and
          ``reset_state`` clears. A SeriesNetwork/DAGNetwork's ``HiddenState`` is the state
          its predict starts from (MATLAB's semantics for those objects).
        - A layer array or layer graph saved before training (no learnables) is built with
          MATLAB's initializers, with a warning.
        - Keras layer names are MATLAB's names where TensorFlow accepts them; others (``x[k]``)
          have the other characters replaced by ``_`` (a warning lists them).

    Args:
        path: the MAT-file (v5/v7 or v7.3).
        variable: the network's variable name or dotted path
            (``"NSSTrainingOutput.NSSModel.StateTransitionFcn_.Network"``); found automatically
            when the file has one candidate of the highest rank.
        compile: compile with the output layer's MATLAB loss (see ``assemble_network``).
        custom_layers: layers of classes MATLAB does not ship (user-defined layers, whose
            MATLAB code is not in the file), as Keras's ``custom_objects``: ``{MATLAB class
            name: value}``, the name as the file records it or its last dotted part. The value
            is a Keras layer class (built as ``cls(name=...)``), a function ``f(fields, name)
            -> Keras layer`` that receives the layer's saved fields (numpy arrays and strings,
            learnables as their values, ``"<learnable>.L2Factor"`` beside), or None to drop an
            output layer. Without an entry, a custom output layer (the last layer of a
            SeriesNetwork/DAGNetwork) is dropped with a warning, since it does not change what
            predict returns, and a custom layer anywhere else is refused with a message naming
            it and its fields.

    Returns:
        A ``keras.Model`` of matkeras layers. Raises :class:`MatFileError` on files it cannot
        read, listing every layer it cannot convert; nothing partial is returned.
    """
    return build_network(read_network(path, variable), compile=compile,
                         custom_layers=custom_layers)


def _image_concatenations(layers):
    """MATLAB's concatenationLayer reads its Dim in the format of the data it gets, which the
    file does not save: where the network's inputs are 2-D images or 2-D image sequences (and
    vectors), every rank-4 tensor is SSCB and every rank-5 one SSCBT, so its concatenation
    layers read their Dim so (``data_format="images"``); other networks keep ``"auto"``."""
    import matkeras.layers as L

    spatial = set()
    for layer in layers:
        if isinstance(layer, (L.ImageInput, L.SequenceInput)):
            spatial.add(len(layer.input_size) - 1)
        elif isinstance(layer, L.FeatureInput):
            spatial.add(0)
    if 2 in spatial and spatial <= {0, 2}:
        for layer in layers:
            if isinstance(layer, L.Concatenation) and layer.data_format == "auto":
                layer.data_format = "images"


def build_network(saved, compile=True, custom_layers=None):  # noqa: A002
    """The ``keras.Model`` of a :class:`SavedNetwork` (see :func:`load_matlab_network`)."""
    custom_layers = dict(custom_layers or {})
    _drop_output_layers(saved, custom_layers)
    from matkeras.network import LayerGraph, assemble_network

    path = saved.path
    others = [c for c in saved.candidates if not c.startswith(f"{saved.variable} (")]
    log.info("Loading %s '%s' from '%s'%s.", saved.network_class, saved.variable, path,
             f" (the file also holds {', '.join(others)})" if others else "")
    if saved.class_problem:
        log.warning("Layer classes inferred from their saved fields: %s.", saved.class_problem)
    _name_layers(saved.layers)
    mapping = keras_names([record.name for record in saved.layers])
    renamed = {m: k for m, k in mapping.items() if m != k}
    if renamed:
        warnings.warn(f"'{path}': layer names TensorFlow does not accept were changed for "
                      f"Keras: {renamed}.", stacklevel=2)
    for record in saved.layers:
        record.matlab_name, record.name = record.name, mapping[record.name]
        record.network_class = saved.network_class
    layers = build_layers(path, saved.layers, custom_layers)
    _image_concatenations(layers)
    if saved.connections is None:
        graph = LayerGraph(layers)
    else:
        graph = LayerGraph(layers, [(_rename(s, mapping), _rename(d, mapping))
                                    for s, d in saved.connections])
    outputs = [_rename(name, mapping) for name in saved.output_names] or None
    try:
        model = assemble_network(graph, compile=compile, output_names=outputs)
    except ValueError as error:
        raise MatFileError(f"'{path}': the {saved.network_class} '{saved.variable}' does not "
                           f"form a network matkeras can assemble: {error}") from None
    for layer, record in zip(layers, saved.layers, strict=True):
        layer.matlab_name = record.matlab_name
        remember_saved_state(layer, record)
    untrained = [record.matlab_name for record, layer in zip(saved.layers, layers, strict=True)
                 if layer.trainable_weights and not has_learnable_values(record)
                 and not _custom_entry(custom_layers, record.matlab_class)[0]]
    if untrained:
        warnings.warn(f"'{path}': {saved.network_class} '{saved.variable}' holds no trained "
                      f"values for the learnables of {untrained}; they were initialized with "
                      "MATLAB's initializers, as dlnetwork/trainnet would.", stacklevel=2)
    return model
