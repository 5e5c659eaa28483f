"""Back to MATLAB: a network of matkeras layers as a native MATLAB network of built-in layers.

:func:`export_matlab` writes, into a new folder:

* ``<name>.mat`` (MAT v5, read by MATLAB's ``load``, scipy and GNU Octave): one struct per layer,
  ``layer_001``, ``layer_002``, ... in the network's order, with ``Name``, ``Class`` (the MATLAB
  class) and the layer's public MATLAB properties: the constructor's arguments and the arrays
  (learnables, states, normalization statistics) in MATLAB's layouts and in the dtype they
  were trained in (float32 stays single); ``Connections`` (``Source``/``Destination``),
  ``InputNames``, ``OutputNames``. It is matkeras's plain layout (version 2, the one
  ``converters/matlab/matkeras_export.m`` writes), so ``load_matlab_network`` reads it back.
* ``build_<name>.m``: a function that rebuilds the network from built-in Deep Learning Toolbox
  constructors only (``lstmLayer(100, 'OutputMode', 'last', 'InputWeights', ...)``; name-value
  pairs as ``'Name', value``, which every release accepts), the arrays passed through the
  constructors' own weight and initial-state arguments, then ``dlnetwork(layers)`` (a network
  without an output layer) or ``assembleNetwork(layers)`` (a classic network ending in
  ``classificationLayer``/``regressionLayer``); a branching network is a ``layerGraph`` wired
  with ``connectLayers``. Its help text states the oldest MATLAB release its layers and options
  need.
* ``check_<name>.m`` and ``check_<name>.mat``: reference inputs and matkeras's outputs (in
  MATLAB's layouts: ``CBT`` sequences, ``CB`` features, ``SSCB`` images); ``check_<name>`` builds
  the network, predicts, and asserts that the largest difference is within the tolerance.

A layer without a built-in MATLAB equivalent (matkeras's ONNX-import layers, Keras layers) is
refused by name before anything is written; so is an existing folder unless
``overwrite=True``. A dlnetwork's carried state (``stored_state``, what
``predict_and_update_state`` continues from) is not exported: the network starts from its
initial states, as a freshly built MATLAB network does.
"""

import math
import os
import re
import shutil

import numpy as np

from matkeras.export import _matlab_layers as table
from matkeras.export._trace import model_graph

#: Largest difference ``check_<name>.m`` accepts, relative to the outputs' largest magnitude
#: (at least 1): two float32 implementations of the same network.
CHECK_TOLERANCE = 1e-4
_OLDEST = "R2016a"
_CONTAINERS = {"dlnetwork": "R2019b", "assembleNetwork": "R2018b"}


def export_matlab(model, folder, name=None, overwrite=False, seed=0):
    """Writes `model` as a MATLAB build script with its weights and a check script.

    Args:
        model: a ``keras.Model`` of matkeras layers (``load_matlab_network``, ``trainNetwork``,
            ``assemble_network``, ``trainnet``'s ``net.model``).
        folder: the folder to create.
        name: the network's name in the file names (``build_<name>.m``); default: the
            folder's name, made a valid MATLAB identifier.
        overwrite: replace an existing folder (otherwise an existing folder is an error).
        seed: seed of the check script's reference inputs.

    Returns:
        ``{"folder", "mat", "build", "check", "release", "name"}``: the paths written, the
        oldest MATLAB release the build script needs and the name in the file names.
    """
    folder = os.fspath(folder)
    name = _identifier(name or os.path.basename(os.path.normpath(folder)))
    layers, connections, outputs = _graph(model)
    records = [_record(layer) for layer in layers]  # refuses before anything is written
    classic = any(r.function in ("classificationLayer", "regressionLayer") for r in records)
    chain = _is_chain(layers, connections, outputs)
    release = _OLDEST
    for record in records:
        release = table.newer(release, record.release)
    release = table.newer(release, _CONTAINERS["assembleNetwork" if classic else "dlnetwork"])
    inputs = [layer for layer in layers if _is_input(layer)]
    check_inputs, check_outputs = _reference(model, inputs, seed)
    if os.path.exists(folder):
        if not overwrite:
            raise FileExistsError(f"'{folder}' exists; export_matlab writes a new folder. Pass "
                                  "overwrite=True (matkeras convert --overwrite) to replace it.")
        shutil.rmtree(folder) if os.path.isdir(folder) else os.remove(folder)
    os.makedirs(folder)
    paths = {"folder": folder, "mat": os.path.join(folder, f"{name}.mat"),
             "build": os.path.join(folder, f"build_{name}.m"),
             "check": os.path.join(folder, f"check_{name}.m"), "release": release,
             "name": name}
    _write_mat(paths["mat"], records, connections, inputs, outputs, classic)
    with open(paths["build"], "w", encoding="utf-8") as handle:
        handle.write(_build_script(name, model, records, connections, chain, classic, release))
    import scipy.io

    scipy.io.savemat(os.path.join(folder, f"check_{name}.mat"),
                     {**{f"X{k + 1}": x for k, x in enumerate(check_inputs)},
                      **{f"Y{k + 1}": y for k, y in enumerate(check_outputs)}},
                     format="5", oned_as="column", do_compression=True)
    with open(paths["check"], "w", encoding="utf-8") as handle:
        handle.write(_check_script(name, inputs, model, classic, len(check_outputs), outputs))
    return paths


# -- the graph -------------------------------------------------------------------------------

def _is_input(layer):
    from matkeras.network import is_input_layer

    return is_input_layer(layer)


def matlab_name(layer):
    """The layer's MATLAB name: the one it had in MATLAB where Keras renamed it on loading."""
    return getattr(layer, "matlab_name", "") or layer.name


def _end(layer, index, names):
    """``'layer'`` for a layer's only port, else ``'layer/port'``."""
    name = matlab_name(layer)
    return name if len(names) <= 1 else f"{name}/{names[index]}"


def _graph(model):
    """``(layers, connections, output ends)``: the model's layers in order (no Keras
    ``InputLayer``), MATLAB's ``(source, destination)`` connections and output names."""
    import keras

    from matkeras.network import ports

    calls, _, outputs = model_graph(model, "export_matlab")
    connections = []
    for layer, sources in calls:
        destination_ports = ports(layer)[0]
        for position, (source, index) in enumerate(sources):
            if not isinstance(source, keras.layers.InputLayer):
                connections.append((_end(source, index, ports(source)[1]),
                                    _end(layer, position, destination_ports)))
    return ([layer for layer, _ in calls], connections,
            [_end(layer, index, ports(layer)[1]) for layer, index in outputs])


def _is_chain(layers, connections, outputs):
    expected = [(matlab_name(a), matlab_name(b)) for a, b in zip(layers, layers[1:],
                                                                  strict=False)]
    return connections == expected and outputs == [matlab_name(layers[-1])] and \
        sum(_is_input(layer) for layer in layers) == 1


# -- one layer ---------------------------------------------------------------------------------

class _Record:
    """One layer as a constructor call: its function, arguments and MAT-file struct."""

    def __init__(self, layer, constructor):
        self.layer, self.function = layer, constructor.function
        self.release = constructor.release
        config = layer.get_config()
        self.positional = [(prop, _plain(config[key])) for prop, key in constructor.positional]
        self.options = []
        for prop, key, default, release in constructor.options:
            value = _plain(config.get(key, default))
            if not _same(value, default):
                self.options.append((prop, value))
                if release:
                    self.release = table.newer(self.release, release)
        self.arrays = {}
        for prop, value in (layer.matlab_properties().items()
                            if hasattr(layer, "matlab_properties") else ()):
            if prop not in constructor.skip_arrays:
                shape = constructor.shapes.get(prop)
                self.arrays[prop] = value if shape is None else shape(value, layer)
        if getattr(layer, "has_state_inputs", False):  # the states come in through ports
            self.arrays = {k: v for k, v in self.arrays.items() if not k.endswith("State")}
        self.properties = constructor.properties(config) if constructor.properties else {}
        self.matlab_class = layer.MATLAB_CLASS

    def struct(self):
        """The layer's struct of the MAT-file (public MATLAB properties)."""
        fields = {"Name": matlab_name(self.layer), "Class": self.matlab_class}
        for prop, value in [*self.positional, *self.options]:
            fields[prop] = _mat_value(value)
        fields.update({k: _mat_value(v) for k, v in self.properties.items()})
        fields.update(self.arrays)
        return fields


def _record(layer):
    return _Record(layer, table.constructor(layer))


def _plain(value):
    """A config value as plain Python (lists, numbers, strings, bool; arrays kept)."""
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _same(value, default):
    if isinstance(value, np.ndarray) or isinstance(default, np.ndarray):
        return False
    if isinstance(value, list) and not isinstance(default, list):
        return all(_same(v, default) for v in value) if value else default is None
    return value == default


def _mat_value(value):
    """An option's value as MATLAB keeps it: logical scalars, row vectors, cell arrays of
    char."""
    if isinstance(value, bool):
        return np.array([[value]])
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return np.array([value], dtype=object)
    if isinstance(value, (list, int, float)):
        return np.atleast_2d(np.asarray(value, dtype=np.float64))
    return value


# -- MATLAB text -----------------------------------------------------------------------------

def _identifier(text):
    name = re.sub(r"\W", "_", text).strip("_") or "network"
    return ("net_" + name if not name[0].isalpha() else name)[:50]


def _literal(value):
    """A MATLAB literal for a plain value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Inf" if value > 0 else "-Inf"
        return repr(value)
    if isinstance(value, list):
        if value and all(isinstance(v, str) for v in value):
            return "{" + ", ".join(_literal(v) for v in value) + "}"
        return "[" + " ".join(_literal(v) for v in value) + "]"
    raise TypeError(f"no MATLAB literal for {value!r}")


def _argument(record, index, prop, value):
    """The text of one argument: a literal, or the MAT-file's field for arrays and long
    lists."""
    inline = not isinstance(value, np.ndarray) and not (
        isinstance(value, list) and len(value) > 16)
    return _literal(value) if inline else f"s.layer_{index:03d}.{prop}"


def _call(record, index):
    arguments = [_argument(record, index, p, v) for p, v in record.positional]
    arguments += ["'Name'", _literal(matlab_name(record.layer))]
    for prop, value in record.options:
        arguments += [_literal(prop), _argument(record, index, prop, value)]
    for prop in record.arrays:
        arguments += [_literal(prop), f"s.layer_{index:03d}.{prop}"]
    call = f"{record.function}({', '.join(arguments)})"
    if len(call) <= 90:
        return call
    # one name-value pair per line (MATLAB's ... continues the line)
    count = len(record.positional)
    groups = [", ".join(arguments[:count + 2])] + [
        ", ".join(arguments[k:k + 2]) for k in range(count + 2, len(arguments), 2)]
    return f"{record.function}(" + ", ...\n        ".join(groups) + ")"


def _build_script(name, model, records, connections, chain, classic, release):
    container = "assembleNetwork" if classic else "dlnetwork"
    kind = "a SeriesNetwork or DAGNetwork" if classic else "a dlnetwork"
    lines = [
        f"function net = build_{name}()",
        f"%BUILD_{name.upper()} Builds the network from built-in Deep Learning Toolbox layers.",
        f"%   net = build_{name}() returns {kind} with the weights and states",
        f"%   in {name}.mat (beside this file). Written by matkeras.export.export_matlab.",
        f"%   Needs MATLAB {release} or newer (the newest of its layers and options).",
        "",
        f"s = load(fullfile(fileparts(mfilename('fullpath')), '{name}.mat'));",
    ]
    calls = [_call(record, k) for k, record in enumerate(records, start=1)]
    if chain:
        lines.append("layers = [")
        lines += [f"    {call}" for call in calls]
        lines += ["    ];", f"net = {container}(layers);", "end", ""]
        return "\n".join(lines)
    lines.append("lgraph = layerGraph();")
    lines += [f"lgraph = addLayers(lgraph, {call});" for call in calls]
    lines += [f"lgraph = connectLayers(lgraph, {_literal(s)}, {_literal(d)});"
              for s, d in connections]
    lines += [f"net = {container}(lgraph);", "end", ""]
    return "\n".join(lines)


# -- the check ---------------------------------------------------------------------------------

_FORMATS = {2: ("CB", (1, 0)), 3: ("CBT", (2, 0, 1)), 4: ("SSCB", (1, 2, 3, 0)),
            5: ("SSCBT", (2, 3, 4, 0, 1))}


def _reference(model, inputs, seed):
    """Reference inputs (MATLAB layout) and matkeras's outputs for them (MATLAB layout)."""
    rng = np.random.default_rng(seed)
    arrays = []
    by_tensor = {id(t): k for k, t in enumerate(model.inputs)}
    ordered = [None] * len(model.inputs)
    for layer in inputs:
        shape = [d for d in layer.input.shape[1:]]
        batch = 1 if len(shape) >= 3 else 2
        steps = max(7, int(getattr(layer, "min_length", 1)))
        shape = [batch] + [steps if d is None else int(d) for d in shape]
        low_range = len(shape) >= 4
        dtype = keras_dtype(layer)
        x = (rng.uniform(0, 0.2, shape) if low_range else rng.normal(size=shape)).astype(dtype)
        ordered[by_tensor[id(layer.input)]] = x
        arrays.append(x)
    outputs = model(ordered if len(ordered) > 1 else ordered[0], training=False)
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    import keras

    outputs = [keras.ops.convert_to_numpy(y) for y in outputs]
    return ([np.transpose(x, _FORMATS[x.ndim][1]) for x in arrays],
            [np.transpose(y, _FORMATS[y.ndim][1]) for y in outputs])


def keras_dtype(layer):
    """float32 or float64: the dtype the reference inputs are made in."""
    return "float64" if "64" in str(layer.compute_dtype) else "float32"


def _check_script(name, inputs, model, classic, count, outputs):
    formats = [_FORMATS[len(layer.input.shape)][0] for layer in inputs]
    output_ranks = [len(t.shape) for t in model.outputs]
    lines = [
        f"function maxDifference = check_{name}()",
        f"%CHECK_{name.upper()} Builds the network with build_{name} and compares its "
        f"predictions with matkeras's.",
        f"%   Errors when the largest difference exceeds {CHECK_TOLERANCE:g} times the outputs' "
        "largest magnitude (at least 1).",
        "%   Written by matkeras.export.export_matlab.",
        "",
        f"data = load(fullfile(fileparts(mfilename('fullpath')), 'check_{name}.mat'));",
        f"net = build_{name}();",
    ]
    outs = ", ".join(f"Y{k + 1}" for k in range(count))
    if classic:
        arguments = []
        for k, fmt in enumerate(formats, start=1):
            if fmt == "CBT":
                lines += [f"X{k} = cell(size(data.X{k}, 2), 1);",
                          f"for n = 1:numel(X{k}), X{k}{{n}} = permute(data.X{k}(:, n, :), "
                          "[1 3 2]); end"]
            elif fmt == "CB":
                lines.append(f"X{k} = data.X{k}.';")
            else:
                lines.append(f"X{k} = data.X{k};")
            arguments.append(f"X{k}")
        lines.append(f"[{outs}] = predict(net, {', '.join(arguments)});")
        for k, rank in enumerate(output_ranks, start=1):
            if rank == 3:
                lines.append(f"Y{k} = permute(cat(3, Y{k}{{:}}), [1 3 2]);")
            elif rank == 2:
                lines.append(f"Y{k} = Y{k}.';")
    else:
        arguments = [f"dlarray(data.X{k}, '{fmt}')" for k, fmt in enumerate(formats, start=1)]
        names = ", ".join(_literal(o) for o in outputs)
        extra = f", 'Outputs', {{{names}}}" if count > 1 else ""
        lines.append(f"[{outs}] = predict(net, {', '.join(arguments)}{extra});")
        lines += [f"Y{k} = extractdata(Y{k});" for k in range(1, count + 1)]
    lines.append("maxDifference = 0;")
    for k in range(1, count + 1):
        lines += [f"scale = max(1, max(abs(double(data.Y{k}(:)))));",
                  f"difference = max(abs(double(Y{k}(:)) - double(data.Y{k}(:)))) / scale;",
                  "maxDifference = max(maxDifference, difference);"]
    lines += [f"assert(maxDifference <= {CHECK_TOLERANCE!r}, "
              f"'check_{name}: largest difference %g exceeds %g', maxDifference, "
              f"{CHECK_TOLERANCE!r});",
              f"fprintf('check_{name}: largest difference %g (tolerance %g)\\n', "
              f"maxDifference, {CHECK_TOLERANCE!r});", "end", ""]
    return "\n".join(lines)


def _write_mat(path, records, connections, inputs, outputs, classic):
    import scipy.io

    from matkeras.converters.plain_network import LAYOUT_VERSION, VERSION_VARIABLE

    variables = {VERSION_VARIABLE: float(LAYOUT_VERSION),
                 "NetworkClass": "DAGNetwork" if classic else "dlnetwork",
                 "NetworkVariable": "net",
                 "InputNames": np.array([matlab_name(layer) for layer in inputs], dtype=object),
                 "OutputNames": np.array(outputs, dtype=object),
                 "Connections": {"Source": np.array([s for s, _ in connections], dtype=object),
                                 "Destination": np.array([d for _, d in connections],
                                                         dtype=object)}}
    for index, record in enumerate(records, start=1):
        variables[f"layer_{index:03d}"] = record.struct()
    scipy.io.savemat(path, variables, format="5", oned_as="column", do_compression=True,
                     long_field_names=True)
