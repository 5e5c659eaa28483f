"""Networks MATLAB wrote with ``converters/matlab/matkeras_export.m`` (the plain layout, v2).

``matkeras_export(net, 'net.mat')`` writes a network's layers and connections as plain MATLAB
data (structs, cell arrays of char, numbers, logicals; no MATLAB objects), readable by
``scipy.io.loadmat`` (v7) and ``h5py`` (v7.3) without mat-io. Use it for files the mat-io reader
cannot decode. The variables:

* ``matkeras_layout_version`` = 2 (version 1 files hold weights only: see ``weights_mat``);
* ``NetworkClass``: ``SeriesNetwork``, ``DAGNetwork``, ``dlnetwork``, ``LayerGraph`` or
  ``LayerArray``; ``NetworkVariable``: the name of the MATLAB variable exported (may be empty);
* ``layer_001``, ``layer_002``, ...: one struct per layer in ``net.Layers`` order, with
  ``Name``, ``Class`` (the layer's MATLAB class) and the layer's public properties (learnables,
  states, options, learn-rate and L2 factors), plus ``InitialHiddenState``/
  ``InitialCellState`` for recurrent layers;
* ``Connections``: a struct with ``Source`` and ``Destination`` cell arrays of ``'layer'`` or
  ``'layer/port'``; ``InputNames``, ``OutputNames`` (cell arrays); ``Initialized`` (dlnetwork).

:func:`read_plain_network` turns such a file into the same :class:`SavedNetwork` the mat-io
reader makes, so that :func:`matkeras.converters.load_matlab_network` builds it with the same
layer readers and graph builder. The readers use the names MATLAB's SAVED structs have; where a
public property's name or form differs, :data:`SAVED_NAMES` adds the saved form beside it (one
table). This module needs no TensorFlow.
"""

import os
import re

import h5py
import numpy as np
import scipy.io

from matkeras.converters.errors import MatFileError
from matkeras.converters.matlab_network import SavedLayer, SavedNetwork, read_network

LAYOUT_VERSION = 2
VERSION_VARIABLE = "matkeras_layout_version"
#: Containers whose layers form a chain in array order (their connections are not needed).
_CHAINS = ("SeriesNetwork", "LayerArray")
_FACTOR = re.compile(r"^(\w+?)(L2Factor|LearnRateFactor)$")


# -- public property -> saved-struct form (the one table) ---------------------------------------

def _output_mode(fields, value):
    """``OutputMode`` ('sequence' | 'last') -> ``ReturnSequence`` (logical)."""
    mode = str(np.ravel(value)[0]) if value.size else ""
    return {"ReturnSequence": np.array([[float(mode == "sequence")]])}


def _classes(fields, value):
    """``Classes`` (a categorical, written as a cell array of char; 'auto' before training)
    -> ``Categories``."""
    return {} if list(np.ravel(value)) == ["auto"] else {"Categories": value}


def _class_weights(fields, value):
    """``ClassWeights`` 'none' -> no weights (the saved struct's numeric form only)."""
    return {"ClassWeights": None} if value.dtype.kind in "US" else {}


def _predict_function(fields, value):
    """A functionLayer's ``PredictFcn`` (its text, func2str) where the refusal shows it."""
    return {"PredictFcn.function_handle.function": value}


#: ``{public property: f(fields, value) -> {saved field: value (None: drop the field)}}``.
SAVED_NAMES = {
    "OutputMode": _output_mode,
    "Classes": _classes,
    "ClassWeights": _class_weights,
    "PredictFcn": _predict_function,
}
#: Factor properties whose learnable is not ``<X>`` (``<X>L2Factor``) nor ``Weights``
#: (``WeightL2Factor``): ``{class: {prefix: learnable}}``.
_FACTOR_TARGETS = {
    "nnet.cnn.layer.SelfAttentionLayer": {"Weight": "QueryWeights", "Bias": "QueryBias"},
}


def saved_fields(matlab_class, properties):
    """The readers' fields for a layer's public properties: every property under its own name,
    plus the saved-struct forms of :data:`SAVED_NAMES`, and ``<learnable>.L2Factor`` /
    ``<learnable>.LearnRateFactor`` for each ``<X>L2Factor`` / ``<X>LearnRateFactor``."""
    fields = dict(properties)
    targets = _FACTOR_TARGETS.get(matlab_class, {})
    for name, item in properties.items():
        if name in SAVED_NAMES:
            fields.update(SAVED_NAMES[name](properties, item))
        match = _FACTOR.match(name)
        if match and item.dtype.kind in "biuf":
            prefix, kind = match.groups()
            learnable = targets.get(prefix, "Weights" if prefix == "Weight" else prefix)
            fields.setdefault(f"{learnable}.{kind}", item)
    return {k: v for k, v in fields.items() if v is not None}


# -- reading the file ---------------------------------------------------------------------------

def layout_version(path):
    """The file's ``matkeras_layout_version``, or None when it is not a plain-layout MAT-file
    (or not readable as one: the caller's other reader then says why)."""
    path = os.fspath(path)
    try:
        if h5py.is_hdf5(path):
            with h5py.File(path, "r") as handle:
                if VERSION_VARIABLE not in handle:
                    return None
                return int(np.ravel(handle[VERSION_VARIABLE][()])[0])
        names = [entry[0] for entry in scipy.io.whosmat(path)]
        if VERSION_VARIABLE not in names:
            return None
        found = scipy.io.loadmat(path, variable_names=[VERSION_VARIABLE])
        return int(np.ravel(found[VERSION_VARIABLE])[0])
    except Exception:  # noqa: BLE001 - not a plain-layout file; the mat-io reader reports
        return None


def read_plain(path):
    """The file's variables as plain Python: str, list (cell arrays), dict (structs) and float64
    arrays (numbers and logicals, MATLAB's shapes)."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise MatFileError(f"'{path}' does not exist or is not a file.")
    try:
        if h5py.is_hdf5(path):
            with h5py.File(path, "r") as handle:
                return {name: _from_hdf5(handle, item) for name, item in handle.items()
                        if not name.startswith("#")}
        contents = scipy.io.loadmat(path, squeeze_me=False, struct_as_record=True)
        return {name: _from_scipy(value) for name, value in contents.items()
                if not name.startswith("__")}
    except (Exception, MemoryError) as error:
        if isinstance(error, MatFileError):
            raise
        raise MatFileError(f"'{path}' could not be read as a MAT-file "
                           f"({type(error).__name__}: {error}).") from None


def _from_scipy(value):
    if not isinstance(value, np.ndarray):
        return value
    if value.dtype.names:
        if value.size == 0:
            return {}
        item = value.flat[0]
        return {name: _from_scipy(item[name]) for name in value.dtype.names}
    if value.dtype == object:
        return [_from_scipy(v) for v in value.ravel(order="F")]
    if value.dtype.kind in "US":
        return "\n".join(str(v) for v in value.ravel()) if value.size else ""
    return np.asarray(value, dtype=np.float64)


def _attribute(item, name, default=""):
    found = item.attrs.get(name, default)
    return found.decode() if isinstance(found, bytes) else found


def _from_hdf5(handle, item):
    """MATLAB's v7.3 layout: structs are groups, cell arrays are datasets of references into
    ``#refs#``, char is uint16 codes, arrays are stored transposed; an empty array is its
    dimensions with ``MATLAB_empty`` set."""
    matlab_class = _attribute(item, "MATLAB_class")
    if isinstance(item, h5py.Group):
        return {name: _from_hdf5(handle, child) for name, child in item.items()}
    data = item[()]
    empty = bool(_attribute(item, "MATLAB_empty", 0))
    if matlab_class == "cell":
        return [] if empty else [_from_hdf5(handle, handle[ref]) for ref in np.ravel(data)]
    if matlab_class == "char":
        if empty:
            return ""
        rows = np.atleast_2d(np.asarray(data).T)
        return "\n".join("".join(chr(c) for c in row) for row in rows)
    if empty:
        return np.zeros(tuple(int(d) for d in np.ravel(data)))
    return np.asarray(data, dtype=np.float64).T


def _field(item):
    """A plain value in the form the readers take (``matlab_network.value``/``text``)."""
    if isinstance(item, str):
        return np.array([item])
    if isinstance(item, list):
        if all(isinstance(v, str) for v in item):
            return np.array(item, dtype=str)
        return None
    if isinstance(item, np.ndarray):
        return item
    return None


def _flat(prefix, item, out):
    if isinstance(item, dict):
        for name, child in item.items():
            _flat(f"{prefix}.{name}", child, out)
        return
    converted = _field(item)
    if converted is not None:
        out[prefix] = converted


def _texts(contents, name):
    item = contents.get(name, [])
    return [item] if isinstance(item, str) else [v for v in item if isinstance(v, str)]


def read_plain_network(path, variable=None):
    """The network in a plain-layout (version 2) file as a
    :class:`~matkeras.converters.matlab_network.SavedNetwork`.

    Args:
        path: a MAT-file written by ``matkeras_export.m`` (v7 or v7.3).
        variable: None, or the name of the MATLAB variable that was exported (the file holds
            one network).
    """
    path = os.fspath(path)
    contents = read_plain(path)
    version = contents.get(VERSION_VARIABLE)
    version = None if version is None else int(np.ravel(version)[0])
    if version is None or version < LAYOUT_VERSION:
        raise MatFileError(
            f"'{path}' is not a network in matkeras's plain layout (matkeras_layout_version "
            f"{version}; expected {LAYOUT_VERSION}). A version 1 file holds weights only: build "
            "the network with matkeras layers and call load_weights_mat(path, model), or export "
            "it again with the current converters/matlab/matkeras_export.m.")
    if version > LAYOUT_VERSION:
        raise MatFileError(f"'{path}' has matkeras_layout_version {version}; this matkeras "
                           f"reads up to {LAYOUT_VERSION}. Update matkeras.")
    network_class = contents.get("NetworkClass") or "LayerArray"
    exported = contents.get("NetworkVariable") or "net"
    if variable is not None and variable != exported:
        raise MatFileError(f"'{path}' holds one network in matkeras's plain layout, exported "
                           f"from the MATLAB variable {exported!r}; variable={variable!r} names "
                           "no other. Call without variable=.")
    names = sorted((k for k in contents if re.fullmatch(r"layer_\d+", k)),
                   key=lambda k: int(k[6:]))
    records = []
    for position, name in enumerate(names, start=1):
        struct = contents[name]
        if not isinstance(struct, dict) or not isinstance(struct.get("Name"), str):
            raise MatFileError(f"Variable {name!r} in '{path}' is not a layer struct with a "
                               "Name (char) field.")
        matlab_class = struct.get("Class") if isinstance(struct.get("Class"), str) else ""
        properties = {}
        for field, item in struct.items():
            if field not in ("Name", "Class"):
                _flat(field, item, properties)
        records.append(SavedLayer(position, struct["Name"], matlab_class or "unknown",
                                  saved_fields(matlab_class, properties), "export"))
    if not records:
        raise MatFileError(f"'{path}' (matkeras's plain layout) holds no layer_NNN structs.")
    wiring = contents.get("Connections", {})
    connections = None
    if network_class not in _CHAINS:
        wiring = wiring if isinstance(wiring, dict) else {}
        sources, destinations = _texts(wiring, "Source"), _texts(wiring, "Destination")
        if len(sources) != len(destinations):
            raise MatFileError(f"'{path}': Connections has {len(sources)} sources and "
                               f"{len(destinations)} destinations; expected the same number.")
        connections = list(zip(sources, destinations, strict=True))
    initialized = contents.get("Initialized")
    return SavedNetwork(
        path=path, network_class=network_class, variable=exported, layers=records,
        connections=connections, output_names=_texts(contents, "OutputNames"),
        initialized=True if initialized is None else bool(np.ravel(initialized)[0]),
        candidates=[f"{exported} ({network_class}, matkeras plain layout)"])


def read_saved_network(path, variable=None):
    """A plain-layout file (one with ``matkeras_layout_version``) through
    :func:`read_plain_network` (which refuses weights-only version 1 files, saying how to load
    them); any other MAT-file through the mat-io reader
    (:func:`~matkeras.converters.matlab_network.read_network`)."""
    if layout_version(path) is not None:
        return read_plain_network(path, variable)
    return read_network(path, variable)
