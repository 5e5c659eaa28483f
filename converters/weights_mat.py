"""matkeras's plain-struct weight layout for MAT-files (v5/v7 read by scipy, v7.3 by h5py).

The layout (version 1), as ``save_weights_mat`` writes it (and, before version 2,
``converters/matlab/matkeras_export.m``):

* a variable ``matkeras_layout_version`` = 1;
* one struct variable per layer that has learnables or states, named ``layer_001``,
  ``layer_002``, ... in the network's order, with fields
  - ``Name``: the layer's name (``Layer.Name``; matkeras layer names are the same),
  - ``Class``: its MATLAB class (e.g. ``nnet.cnn.layer.LSTMLayer``),
  - its MATLAB properties, in MATLAB layout, single or double: ``InputWeights``,
    ``RecurrentWeights``, ``Bias``, ``HiddenState``, ``CellState``, ``InputProjector``,
    ``OutputProjector``, ``Weights``, ``Offset``, ``Scale``, ``TrainedMean``,
    ``TrainedVariance``, ``Mean``, ``StandardDeviation``, ``Min``, ``Max`` (vectors as n x 1).

Read it in MATLAB with ``s = load('w.mat'); s.layer_001.InputWeights``; in Python with
:func:`load_weights_mat` (or ``scipy.io.loadmat`` / ``h5py`` directly).

``matkeras_export.m`` now writes version 2 (a whole network: every layer with its options, and
the connections; see ``plain_network``, read by ``load_matlab_network``); :func:`load_weights_mat`
reads the learnables and states of both versions.
"""

import datetime
import os

import h5py
import numpy as np
import scipy.io

from matkeras.converters import plain_network
from matkeras.converters.errors import MatFileError
from matkeras.layers import MatlabMapping

LAYOUT_VERSION = 1


def _properties(layer):
    """``{MATLAB property: numpy value}`` of one layer, MATLAB layout (the layer's own mapping:
    learnables, states and normalization statistics)."""
    return layer.matlab_properties() if isinstance(layer, MatlabMapping) else {}


def _walk(model):
    for layer in model.layers:
        yield layer
        if hasattr(layer, "layers"):
            yield from _walk(layer)


def save_weights_mat(model, path, version="5", overwrite=False):
    """Writes every matkeras layer's MATLAB properties of `model` in the plain layout.

    Args:
        model: a ``keras.Model`` (or a list of layers) with matkeras layers.
        path: the MAT-file to write.
        version: ``"5"`` (MATLAB's default v7 format, read by scipy) or ``"7.3"`` (HDF5).
        overwrite: an existing file is only replaced when True.
    """
    path = os.fspath(path)
    if version not in ("5", "7.3"):
        raise ValueError(f"version must be '5' or '7.3'; received {version!r}.")
    if os.path.exists(path) and not overwrite:
        raise FileExistsError(f"'{path}' exists; pass overwrite=True to replace it.")
    layers = list(_walk(model)) if hasattr(model, "layers") else list(model)
    variables = {"matkeras_layout_version": np.array([[float(LAYOUT_VERSION)]])}
    number = 0
    for layer in layers:
        props = _properties(layer)
        if not props:
            continue
        number += 1
        struct = {"Name": layer.name, "Class": layer.MATLAB_CLASS}
        for prop, value in props.items():
            array = np.asarray(value)
            struct[prop] = array.reshape(-1, 1) if array.ndim == 1 else array
        variables[f"layer_{number:03d}"] = struct
    if version == "5":
        scipy.io.savemat(path, variables, format="5", do_compression=True, oned_as="column")
    else:
        _write_v73(path, variables)
    return path


def _write_v73(path, variables):
    with h5py.File(path, "w", userblock_size=512) as handle:
        for name, value in variables.items():
            if isinstance(value, dict):
                group = handle.create_group(name)
                group.attrs["MATLAB_class"] = np.bytes_("struct")
                for field, item in value.items():
                    _write_v73_value(group, field, item)
            else:
                _write_v73_value(handle, name, value)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%a %b %d %H:%M:%S %Y")
    text = f"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: {stamp} HDF5 schema 1.00 ."
    header = text.encode("ascii").ljust(116, b" ") + b" " * 8 + b"\x00\x02" + b"IM"
    with open(path, "r+b") as handle:
        handle.write(header)


def _write_v73_value(group, name, value):
    if isinstance(value, str):
        codes = np.array([[ord(ch)] for ch in value] or [[0]], dtype=np.uint16)
        dataset = group.create_dataset(name, data=codes)  # MATLAB 1 x n, stored transposed
        dataset.attrs["MATLAB_class"] = np.bytes_("char")
        dataset.attrs["MATLAB_int_decode"] = np.int32(2)
        return
    array = np.asarray(value)
    matlab_class = {"float32": "single", "float64": "double"}[array.dtype.name]
    dataset = group.create_dataset(name, data=np.ascontiguousarray(array.T))
    dataset.attrs["MATLAB_class"] = np.bytes_(matlab_class)


#: The properties version 1 files hold (the learnables and states load_weights_mat sets).
WEIGHT_PROPERTIES = ("InputWeights", "RecurrentWeights", "Bias", "HiddenState", "CellState",
                     "InputProjector", "OutputProjector", "Weights", "Offset", "Scale",
                     "TrainedMean", "TrainedVariance", "Mean", "StandardDeviation", "Min", "Max")


def read_weights_mat(path):
    """The layout's layer structs, in order: a list of dicts (Name, Class, properties).

    Also reads the learnables and states of a version 2 file (a whole network written by
    ``matkeras_export.m``; see ``plain_network``): the layers that have some, with only those
    properties (:data:`WEIGHT_PROPERTIES`). A dlnetwork's recurrent layers give their initial
    state (``InitialHiddenState``/``InitialCellState``) as the state, as
    ``load_matlab_network`` reads it.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise MatFileError(f"'{path}' does not exist or is not a file.")
    if (plain_network.layout_version(path) or 0) >= plain_network.LAYOUT_VERSION:
        return _weights_of_network(path)
    try:
        if h5py.is_hdf5(path):
            contents = _read_v73(path)
        else:
            contents = _read_v5(path)
    except (Exception, MemoryError) as error:
        if isinstance(error, MatFileError):
            raise
        raise MatFileError(f"'{path}' could not be read as a MAT-file "
                           f"({type(error).__name__}: {error}).") from None
    names = sorted(k for k in contents if k.startswith("layer_"))
    if not names:
        present = sorted(k for k in contents if not k.startswith("__"))
        raise MatFileError(f"'{path}' has no layer_NNN structs of the matkeras weight layout; "
                           f"its variables are {present}.")
    structs = []
    for name in names:
        struct = contents[name]
        if not isinstance(struct, dict) or "Name" not in struct:
            raise MatFileError(f"Variable {name!r} in '{path}' is not a struct with a Name "
                               "field.")
        structs.append(struct)
    return structs


def _weights_of_network(path):
    contents = plain_network.read_plain(path)
    dlnetwork = contents.get("NetworkClass") == "dlnetwork"
    names = sorted((k for k in contents if k.startswith("layer_") and k[6:].isdigit()),
                   key=lambda k: int(k[6:]))
    structs = []
    for name in names:
        layer = contents[name]
        if not isinstance(layer, dict) or not isinstance(layer.get("Name"), str):
            raise MatFileError(f"Variable {name!r} in '{path}' is not a struct with a Name "
                               "field.")
        found = {prop: layer[prop] for prop in WEIGHT_PROPERTIES
                 if isinstance(layer.get(prop), np.ndarray) and layer[prop].size}
        for state in ("HiddenState", "CellState"):
            initial = layer.get(f"Initial{state}")
            if dlnetwork and state in found and isinstance(initial, np.ndarray) \
                    and initial.size:
                found[state] = initial
        if found:
            structs.append({"Name": layer["Name"], "Class": layer.get("Class", ""), **found})
    if not structs:
        raise MatFileError(f"'{path}' (a network in matkeras's plain layout) holds no "
                           "learnables or states.")
    return structs


def _read_v5(path):
    """scipy's reader, keeping MATLAB's 2-D shapes (no squeezing) and turning structs to dicts."""
    contents = scipy.io.loadmat(path, squeeze_me=False, struct_as_record=True)
    result = {}
    for name, value in contents.items():
        if isinstance(value, np.ndarray) and value.dtype.names and value.size == 1:
            result[name] = {f: _v5_value(value.flat[0][f]) for f in value.dtype.names}
        else:
            result[name] = value
    return result


def _v5_value(value):
    array = np.asarray(value)
    if array.dtype.kind == "U":
        return str(array.flat[0]) if array.size else ""
    return array


def _read_v73(path):
    contents = {}
    with h5py.File(path, "r") as handle:
        for name, item in handle.items():
            if name.startswith("#"):
                continue
            if isinstance(item, h5py.Group):
                contents[name] = {field: _read_v73_value(item[field]) for field in item
                                  if isinstance(item[field], h5py.Dataset)}
            else:
                contents[name] = _read_v73_value(item)
    return contents


def _read_v73_value(dataset):
    data = dataset[()]
    matlab_class = dataset.attrs.get("MATLAB_class", b"double")
    if isinstance(matlab_class, bytes):
        matlab_class = matlab_class.decode()
    if matlab_class == "char":
        return "".join(chr(c) for c in np.ravel(data.T) if c)
    return np.asarray(data).T


def load_weights_mat(path, model):
    """Sets the weights of `model`'s matkeras layers from a file in the plain layout.

    Layers are matched by name. Returns the names of the layers that were set. A struct that
    names no layer of the model, or a property of the wrong shape, is an error that says which.
    """
    structs = read_weights_mat(path)
    layers = {layer.name: layer for layer in _walk(model)}
    missing = [s["Name"] for s in structs if s["Name"] not in layers]
    if missing:
        raise MatFileError(f"'{path}' has weights for layers {missing} that the model does not "
                           f"have; its layers are {sorted(layers)}.")
    done = []
    for struct in structs:
        layer = layers[struct["Name"]]
        if not isinstance(layer, MatlabMapping):
            raise MatFileError(f"'{path}': layer '{layer.name}' ({type(layer).__name__}) has no "
                               "MATLAB weights to set.")
        known = layer.matlab_keywords()
        values = {}
        for prop, value in struct.items():
            if prop in ("Name", "Class"):
                continue
            if prop not in known:
                raise MatFileError(f"'{path}': layer '{layer.name}' has no MATLAB property "
                                   f"{prop!r}; expected some of {sorted(known)}.")
            values[prop] = np.asarray(value)
        try:
            layer.set_matlab_properties(**values)
        except ValueError as error:
            raise MatFileError(f"'{path}': {error}") from None
        done.append(layer.name)
    return done


