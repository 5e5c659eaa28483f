"""Decodes a MATLAB-saved network in a separate process (run as a script, numpy + mat-io only).

mat-io's compiled decoder can crash the process on a corrupted MAT-file, so matkeras never
decodes one in the caller's process. This script reads the file, finds the network (a
SeriesNetwork, DAGNetwork, dlnetwork, LayerGraph or layer array, at top level or nested in
structs and objects), flattens its layers into plain arrays and strings and writes them, with the
connections, to an ``.npz`` (no pickles) that the caller reads with ``allow_pickle=False``.

Exit codes: 0 written; 2 a readable problem (message on stderr); 3 mat-io is missing or broken
(message on stderr); 4 the file is in matkeras's plain layout (the caller reads it without
mat-io); anything else: the decoder failed on the file.

    python _mat_child.py IN.mat OUT.npz [VARIABLE]
    python _mat_child.py --serve

With ``--serve``, one process decodes many files in turn (mat-io is imported once): each line of
its standard input is a job, ``[source, target, variable or null]`` in JSON; after each,
``<target>.status`` holds that job's exit code and message as JSON. It exits when its standard
input closes (the caller replaces a process that died or hung on a job).

The class of each saved object: mat-io reports every element of a heterogeneous object array
(a network's ``Layers``) with the array's class, ``nnet.cnn.layer.Layer``. Each object's own
class is recorded in the file's subsystem data, which mat-io reads into its ``MatSubsystem``
(``mcos_object_cache``: object id -> decoded object; ``get_object_metadata(object id)[0]``: the
class id; ``get_classname(class id)``). :class:`ClassRecorder` keeps the subsystems mat-io makes
and reads the true class of every decoded object from them. Those are mat-io internals (tested
with mat-io 1.0.x): if they are missing or fail, the recorder reports why and the caller falls
back to inferring each layer's class from its saved fields.
"""

import re
import sys

import numpy as np

NETWORKS = ("SeriesNetwork", "DAGNetwork", "dlnetwork")
LAYER_GRAPH = "nnet.cnn.LayerGraph"
LAYER_NAMESPACE = "nnet.cnn.layer."
#: The variable that marks matkeras's plain layout (``converters/matlab/matkeras_export.m``).
PLAIN_LAYOUT = "matkeras_layout_version"
#: Object properties that are the class's bookkeeping, not the layer's data.
_SKIP_PROPERTIES = ("PrivateInputs", "PrivateOutputs", "LearnablesTypes", "PrivateNumStates")


def fail(message, code=2):
    sys.stderr.write(message)
    sys.exit(code)


class ClassRecorder:
    """Records mat-io's subsystem readers so that each object's true class can be read back.

    ``classes()`` returns ``{id(object): class name}``, or ``None`` when mat-io's internals are
    not the expected ones (``self.problem`` then says what was missing).
    """

    REQUIRED = ("mcos_object_cache", "get_object_metadata", "get_classname")

    def __init__(self, subsystem_class):
        self.subsystems = []
        self.problem = None
        original = getattr(subsystem_class, "__init__", None)
        if original is None:
            self.problem = "mat-io's MatSubsystem has no __init__ to follow"
            return
        recorder = self

        def init(instance, *args, **kwargs):
            original(instance, *args, **kwargs)
            recorder.subsystems.append(instance)

        subsystem_class.__init__ = init
        self._restore = lambda: setattr(subsystem_class, "__init__", original)

    def restore(self):
        """Puts mat-io's own ``__init__`` back (several files decoded in one process)."""
        if self.problem is None:
            self._restore()

    def classes(self):
        if self.problem:
            return None
        found = {}
        try:
            for subsystem in self.subsystems:
                missing = [name for name in self.REQUIRED if not hasattr(subsystem, name)]
                if missing:
                    self.problem = f"mat-io's MatSubsystem lacks {missing}"
                    return None
                for object_id, obj in dict(subsystem.mcos_object_cache).items():
                    class_id = subsystem.get_object_metadata(object_id)[0]
                    found[id(obj)] = str(subsystem.get_classname(class_id))
        except Exception as error:  # mat-io internals changed: fall back, say why
            self.problem = f"reading mat-io's subsystem failed ({type(error).__name__}: {error})"
            return None
        return found


def strip_string(value):
    array = np.asarray(value)
    if array.dtype.kind in "UST" and array.size:
        return str(array.ravel()[0])
    if array.dtype == object and array.size == 1:
        return strip_string(array.flat[0])
    return ""


def is_opaque(value):
    return hasattr(value, "classname") and hasattr(value, "properties")


def object_fields(obj):
    """An object's saved data as ``{name: value}``: its ``saveobj`` struct (``any``) merged
    over its directly saved properties (newer layers keep theirs on the object)."""
    props = obj.properties if isinstance(obj.properties, dict) else {}
    fields = {}
    for key, value in props.items():
        short = key.rsplit(".", 1)[-1]
        if key != "any" and short not in _SKIP_PROPERTIES:
            fields[short] = value
    saved = props.get("any")
    names = getattr(getattr(saved, "dtype", None), "names", None)
    if names and saved.size:
        item = saved.flat[0]
        for name in names:
            fields[name] = item[name]
    return fields


def flatten(prefix, value, out, depth=0):
    """Plain arrays and strings under dotted keys: learnables and states give their Value (and
    L2Factor, LearnRateFactor), nested structs and objects their fields, categoricals their
    category names, cell arrays their elements as ``prefix(i)``."""
    if depth > 8:
        return
    if is_opaque(value):
        for name, item in object_fields(value).items():
            flatten(f"{prefix}.{name}", item, out, depth + 1)
        return
    names = getattr(getattr(value, "dtype", None), "names", None)
    if names:
        if value.size == 0:
            out[prefix] = np.zeros((0, 0))
            return
        item = value.flat[0]
        if "Value" in names:
            flatten(prefix, item["Value"], out, depth + 1)
            for extra in ("L2Factor", "LearnRateFactor"):
                if extra in names:
                    flatten(f"{prefix}.{extra}", item[extra], out, depth + 1)
            return
        for name in names:
            flatten(f"{prefix}.{name}", item[name], out, depth + 1)
        return
    if hasattr(value, "categories") and hasattr(value, "codes"):  # pandas Categorical
        out[prefix] = np.array([str(c) for c in np.ravel(np.asarray(value))], dtype=str)
        return
    if not isinstance(value, np.ndarray):
        if isinstance(value, (str, int, float, bool, np.generic)):
            flatten(prefix, np.asarray(value), out, depth)
        return
    array = value
    if array.dtype == object:
        if array.size == 1:
            flatten(prefix, array.flat[0], out, depth + 1)
        elif array.size and all(np.size(v) <= 1 and np.asarray(v).dtype.kind in "UST"
                                for v in array.flat):
            out[prefix] = np.array([strip_string(v) for v in array.flat], dtype=str)
        else:
            for index, item in enumerate(array.flat):
                flatten(f"{prefix}({index + 1})", item, out, depth + 1)
        return
    if array.dtype.kind in "UST":
        out[prefix] = np.array([str(v) for v in np.ravel(array)], dtype=str)
    elif array.dtype.kind == "f":  # single stays single: exporters give the file's bits back
        out[prefix] = np.asarray(array)
    elif array.dtype.kind in "biu":
        out[prefix] = np.asarray(array, dtype=np.float64)


# -- finding the network ----------------------------------------------------------------------

def kind_of(value, true_class):
    """``"network"``, ``"graph"``, ``"layers"`` or ``None`` for a decoded value."""
    name = true_class.get(id(value), getattr(value, "classname", None)) if true_class else \
        getattr(value, "classname", None)
    if not isinstance(name, str):
        return None
    if name in NETWORKS:
        return "network"
    if name == LAYER_GRAPH:
        return "graph"
    if name.startswith(LAYER_NAMESPACE) and (is_opaque(value) or isinstance(value, np.ndarray)):
        return "layers"
    return None


def class_name(value, true_class):
    name = getattr(value, "classname", type(value).__name__)
    if true_class and id(value) in true_class:
        name = true_class[id(value)]
    if isinstance(value, np.ndarray) and value.dtype == object and value.size > 1:
        name = f"{value.size}x1 {getattr(value, 'classname', 'object')} array"
    return name


def children(value):
    """``(path suffix, child)`` pairs of a struct, object, dict or cell, MATLAB-style."""
    if isinstance(value, dict):
        return [(f".{k}", v) for k, v in value.items()]
    if is_opaque(value):
        return [(f".{k}", v) for k, v in object_fields(value).items()]
    if isinstance(value, np.ndarray):
        names = value.dtype.names
        many = value.size > 1
        if names:
            return [(f"({i + 1}).{n}" if many else f".{n}", item[n])
                    for i, item in enumerate(value.flat) for n in names]
        if value.dtype == object:
            brackets = "({})" if hasattr(value, "classname") else "{{{}}}"
            return [(brackets.format(i + 1) if many else "", item)
                    for i, item in enumerate(value.flat)]
    return []


def find_candidates(contents, true_class):
    """Every network, layer graph and layer array in the file, as (path, kind, class)."""
    found, seen = [], set()

    def walk(path, value, depth):
        if depth > 24 or id(value) in seen:
            return
        if is_opaque(value) or isinstance(value, (np.ndarray, dict)):
            seen.add(id(value))
        kind = kind_of(value, true_class)
        if kind:
            found.append((path, kind, class_name(value, true_class)))
            return
        for suffix, child in children(value):
            walk(path + suffix, child, depth + 1)

    for name, value in contents.items():
        walk(name, value, 0)
    return found


def group_of(path, kind):
    if kind == "network":
        return 1 if re.fullmatch(r"[A-Za-z]\w*", path) else 2
    return 3


_STEP = re.compile(r"\.?([^.({]+)|\((\d+)\)|\{(\d+)\}")


def resolve(contents, source, path):
    """The value at a dotted path (``a.b(2).c``; object properties and struct fields alike)."""
    value, walked = contents, ""
    for match in _STEP.finditer(path):
        name, index, cell = match.groups()
        if name is not None:
            options = dict(children(value)) if not isinstance(value, dict) else \
                {f".{k}": v for k, v in value.items()}
            key = f".{name}"
            if key not in options:
                names = sorted(k[1:] for k in options if k.startswith(".") and "(" not in k)
                if not walked:
                    fail(f"'{source}' has no variable {name!r}; its variables are {names}.")
                fail(f"'{source}' has no variable {path!r}: '{walked}' has no field or "
                     f"property {name!r}; it has {names[:40]}.")
            value = options[key]
        else:
            position = int(index or cell) - 1
            array = np.asarray(value, dtype=object) if not isinstance(value, np.ndarray) \
                else value
            if not 0 <= position < array.size:
                fail(f"'{source}': index {position + 1} in {path!r} is out of range (size "
                     f"{array.size}).")
            value = array.flat[position]
            if isinstance(value, np.void):
                value = np.asarray([value])
        walked += match.group(0)
    return value


# -- reading the network ----------------------------------------------------------------------

def layer_array(value):
    return [v for v in np.ravel(value)] if isinstance(value, np.ndarray) else [value]


def connections_of(table, source):
    """The connections table as [(source, destination)] strings."""
    if table is None:
        return None
    if hasattr(table, "columns"):  # pandas DataFrame (mat-io decodes MATLAB tables so)
        if not {"Source", "Destination"} <= set(table.columns):
            fail(f"'{source}': the Connections table has columns {list(table.columns)}; "
                 "expected Source and Destination.")
        return [(strip_string(s), strip_string(d))
                for s, d in zip(table["Source"], table["Destination"], strict=True)]
    names = getattr(getattr(table, "dtype", None), "names", None)
    if names and {"Source", "Destination"} <= set(names):
        return [(strip_string(item["Source"]), strip_string(item["Destination"]))
                for item in table.flat]
    array = np.asarray(table, dtype=object)
    if array.ndim == 2 and array.shape[1] == 2:
        return [(strip_string(s), strip_string(d)) for s, d in array]
    if array.size == 0:
        return []
    fail(f"'{source}': the network's Connections are stored as {type(table).__name__}, "
         "which matkeras cannot read.")


def read_container(value, kind, class_label, source, path):
    """(layers, connections or None for a chain, output names, initialized)."""
    if kind == "layers":
        return layer_array(value), None, [], True
    fields = object_fields(value)
    if kind == "graph" or class_label == "dlnetwork":
        graph = fields.get("LayerGraph") if class_label == "dlnetwork" else value
        if graph is None:
            fail(f"Variable {path!r} in '{source}' is a dlnetwork without a saved LayerGraph; "
                 f"its saved fields are {sorted(fields)}.")
        graph_fields = object_fields(graph)
        initialized = bool(np.ravel(fields.get("Initialized", [True]))[0]) \
            if np.size(fields.get("Initialized", [True])) else True
        outputs = [strip_string(v) for v in np.ravel(fields.get("OutputNames", []))
                   if strip_string(v)]
        return (layer_array(graph_fields.get("Layers", [])),
                connections_of(graph_fields.get("Connections"), source), outputs, initialized)
    if "Layers" not in fields:
        fail(f"Variable {path!r} in '{source}' is a {class_label} whose saved structure has no "
             f"Layers (fields {sorted(fields)}).")
    connections = connections_of(fields["Connections"], source) \
        if class_label == "DAGNetwork" and "Connections" in fields else None
    return layer_array(fields["Layers"]), connections, [], True


def choose(candidates, source):
    """The candidate to load with no ``variable=``: trained networks at top level, then trained
    networks nested deeper, then layer graphs and layer arrays; the first group that is not
    empty must have one member."""
    groups = {}
    for candidate in candidates:
        groups.setdefault(group_of(candidate[0], candidate[1]), []).append(candidate)
    first = groups[min(groups)]
    if len(first) > 1:
        fail(f"'{source}' holds several networks: "
             + "; ".join(f"{p} ({c})" for p, _, c in first)
             + ". Choose one with variable= (a dotted path, e.g. variable='"
             + first[0][0] + "').")
    return first[0]


def main(source, target, variable=None):
    try:
        import matio
        from matio.subsystem import subsys
    except Exception as error:  # not installed, or its compiled part does not load
        fail(f"{type(error).__name__}: {error}", code=3)
    recorder = ClassRecorder(subsys.MatSubsystem)
    try:
        contents = {k: v for k, v in matio.load_from_mat(source).items()
                    if not k.startswith("__")}
    finally:
        recorder.restore()
    if PLAIN_LAYOUT in contents:  # matkeras_export.m's plain layout: the caller reads it
        sys.exit(4)
    true_class = recorder.classes()
    candidates = find_candidates(contents, true_class)
    listing = [f"{path} ({label})" for path, _, label in candidates]
    if variable is not None:
        value = resolve(contents, source, variable)
        kind = kind_of(value, true_class)
        if kind is None:
            fail(f"Variable {variable!r} in '{source}' is a {class_name(value, true_class)}, not "
                 "a saved network (SeriesNetwork, DAGNetwork, dlnetwork, LayerGraph or layer "
                 f"array). Networks in the file: {listing or 'none'}.")
        chosen = (variable, kind, class_name(value, true_class))
    else:
        if not candidates:
            fail(f"'{source}' holds no saved network; its variables are {sorted(contents)}. Save "
                 "one with `save net.mat net`, or pass weights in the plain layout "
                 "(load_weights_mat).")
        chosen = choose(candidates, source)
        value = resolve(contents, source, chosen[0])
    path, kind, label = chosen
    layers, connections, outputs, initialized = read_container(value, kind, label, source, path)
    arrays = {"network_class": np.array(["LayerArray" if kind == "layers" else
                                         "LayerGraph" if kind == "graph" else label]),
              "variable": np.array([path]), "candidates": np.array(listing or [""], dtype=str),
              "layer_count": np.array([len(layers)]), "output_names": np.array(outputs,
                                                                                 dtype=str),
              "initialized": np.array([initialized]),
              "class_source": np.array(["fields" if true_class is None else "subsystem"]),
              "class_problem": np.array([recorder.problem or ""])}
    if connections is not None:
        arrays["connections"] = np.array(connections, dtype=str).reshape(-1, 2)
    for index, layer in enumerate(layers):
        if not is_opaque(layer):
            fail(f"Layer {index + 1} of {path!r} in '{source}' is not a saved layer object.")
        fields = {}
        for name, item in object_fields(layer).items():
            flatten(name, item, fields)
        own = true_class.get(id(layer), "") if true_class else ""
        arrays[f"L{index:04d}|__class__"] = np.array([own])
        for key, item in fields.items():
            arrays[f"L{index:04d}|{key}"] = item
    np.savez(target, **arrays)


def serve(lines=sys.stdin):
    """Decodes the job on each line of `lines` (standard input) in this process, until it
    closes (see the module docstring)."""
    import contextlib
    import io
    import json
    import os

    for line in lines:
        if not line.strip():
            continue
        source, target, variable = json.loads(line)
        messages = io.StringIO()
        with contextlib.redirect_stderr(messages):
            try:
                main(source, target, variable)
                code = 0
            except SystemExit as stop:
                code = stop.code if isinstance(stop.code, int) else 1
            except Exception as error:  # the decoder raised: as a failed exit of its own
                sys.stderr.write(f"{type(error).__name__}: {error}")
                code = 1
        with open(target + ".part", "w") as handle:
            json.dump({"code": code, "stderr": messages.getvalue()}, handle)
        os.replace(target + ".part", target + ".status")


if __name__ == "__main__":
    if sys.argv[1] == "--serve":
        serve()
    else:
        main(*sys.argv[1:4])
