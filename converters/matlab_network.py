"""Networks saved by MATLAB (``save net.mat net``) read with mat-io and rebuilt from matkeras.

Covered: ``SeriesNetwork`` objects. Not covered: ``DAGNetwork`` and ``dlnetwork`` objects (no
saved example was available to learn how their connections are stored, and reading their layers
in array order could silently miswire a branching network, so they are refused with a clear
error); layer kinds outside the table in :func:`infer_class`. For those, MATLAB's
``converters/matlab/matkeras_export.m`` writes the plain weight layout that
:func:`matkeras.converters.load_weights_mat` reads.

mat-io decodes the MCOS objects but reports each element of the network's heterogeneous
``Layers`` array with the array's base class, ``nnet.cnn.layer.Layer``. The real class is
inferred from the fields each layer's ``saveobj`` wrote (see :func:`infer_class`).
"""

import os
from dataclasses import dataclass, field

import numpy as np

from matkeras.converters.errors import MatFileError

NETWORK_CLASSES = ("SeriesNetwork", "DAGNetwork", "dlnetwork")


@dataclass
class SavedLayer:
    """One layer as MATLAB saved it: 1-based position, name, inferred class, saved fields."""

    position: int
    name: str
    matlab_class: str
    fields: dict = field(repr=False)


def _load_mat(path):
    import matio

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise MatFileError(f"'{path}' does not exist or is not a file.")
    try:
        with open(path, "rb") as handle:
            head = handle.read(128)
    except OSError as error:
        raise MatFileError(f"'{path}' cannot be read: {error}.") from None
    if len(head) < 128 or not (head.startswith(b"MATLAB") or head[:4] == b"\x89HDF"):
        raise MatFileError(f"'{path}' is not a MAT-file (its header does not start with "
                           "'MATLAB 5.0 MAT-file' or 'MATLAB 7.3 MAT-file').")
    try:
        return matio.load_from_mat(path)
    except (Exception, MemoryError) as error:  # mat-io raises many kinds on corrupt input
        raise MatFileError(f"'{path}' could not be decoded as a MAT-file "
                           f"({type(error).__name__}: {error}). Is it truncated or "
                           "corrupted?") from None


def _is_network(value):
    return getattr(value, "classname", None) in NETWORK_CLASSES


def read_network(path, variable=None):
    """Returns ``(network class, [SavedLayer])`` of the network variable in a MAT-file."""
    contents = {k: v for k, v in _load_mat(path).items() if not k.startswith("__")}
    if variable is not None:
        if variable not in contents:
            raise MatFileError(f"'{path}' has no variable {variable!r}; its variables are "
                               f"{sorted(contents)}.")
        if not _is_network(contents[variable]):
            raise MatFileError(
                f"Variable {variable!r} in '{path}' is a "
                f"{getattr(contents[variable], 'classname', type(contents[variable]).__name__)},"
                f" not a saved network ({', '.join(NETWORK_CLASSES)}).")
    else:
        networks = [k for k, v in contents.items() if _is_network(v)]
        if not networks:
            raise MatFileError(f"'{path}' holds no saved network; its variables are "
                               f"{sorted(contents)}. Save one with `save net.mat net`, or pass "
                               "weights in the plain layout (load_weights_mat).")
        if len(networks) > 1:
            raise MatFileError(f"'{path}' holds several networks {sorted(networks)}; choose "
                               "one with variable=.")
        variable = networks[0]
    network = contents[variable]
    if network.classname != "SeriesNetwork":
        raise MatFileError(f"Variable {variable!r} in '{path}' is a {network.classname}; only "
                           "SeriesNetwork objects are read. Write its weights with "
                           "converters/matlab/matkeras_export.m and load them into the same "
                           "network built with matkeras layers (load_weights_mat).")
    try:
        saved = network.properties["any"][0, 0]
        layers = np.ravel(saved["Layers"])
        structs = [layer.properties["any"][0, 0] for layer in layers]
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as error:
        raise MatFileError(f"Variable {variable!r} in '{path}' is a {network.classname} whose "
                           f"saved structure is not the expected one ({error}).") from None
    records = []
    for position, struct in enumerate(structs, start=1):
        fields = _fields(struct)
        records.append(SavedLayer(position, _text(fields.get("Name", f"layer{position}")),
                                  infer_class(fields), fields))
    return network.classname, records


def _fields(struct):
    names = getattr(getattr(struct, "dtype", None), "names", None)
    if not names:
        raise MatFileError(f"A saved layer is not a struct (got {type(struct).__name__}).")
    return {name: struct[name] for name in names}


def _text(value):
    flat = np.ravel(value)
    return str(flat[0]) if flat.size else ""


def value(fields, name, default=None):
    """A numeric field or a learnable's ``Value`` as float64 (None/default when absent)."""
    if name not in fields:
        return default
    entry = fields[name]
    if isinstance(entry, np.ndarray) and entry.dtype.names:
        if entry.size == 0:
            return default
        inner = entry[0, 0] if entry.ndim == 2 else entry.flat[0]
        entry = inner["Value"] if "Value" in entry.dtype.names else entry
    array = np.asarray(entry)
    if array.dtype == object:
        array = np.asarray(array.flat[0]) if array.size == 1 else array
    if array.size == 0:
        return default
    try:
        return array.astype(np.float64)
    except (TypeError, ValueError):
        raise MatFileError(f"Field {name!r} is not numeric (got {array.dtype}).") from None


def scalar(fields, name, default=None):
    array = value(fields, name)
    return default if array is None else array.ravel()[0]


def text(fields, name, default=""):
    return _text(fields[name]) if name in fields else default


def infer_class(fields):
    """The MATLAB class of a saved layer struct, from its fields (mat-io only reports the base
    class). Returns the class name or ``"unknown"``."""
    names = set(fields)
    if "NumHiddenUnits" in names:
        units = scalar(fields, "NumHiddenUnits")
        rows = np.shape(value(fields, "InputWeights", np.zeros((0, 0))))[0]
        projected = {"InputProjector", "OutputProjector"} & names
        if "ResetGateMode" in names or (units and rows == 3 * units):
            return "nnet.cnn.layer.GRUProjectedLayer" if projected else "nnet.cnn.layer.GRULayer"
        if projected:
            return "nnet.cnn.layer.LSTMProjectedLayer"
        if units and rows == 8 * units:
            return "nnet.cnn.layer.BiLSTMLayer"
        return "nnet.cnn.layer.LSTMLayer"
    if "Normalization" in names and ("MinLength" in names or "NormalizationDimension" in names):
        return "nnet.cnn.layer.SequenceInputLayer"
    if {"OutputSize", "Weights"} <= names:
        return "nnet.cnn.layer.FullyConnectedLayer"
    if {"TrainedMean", "TrainedVariance"} <= names:
        return "nnet.cnn.layer.BatchNormalizationLayer"
    if "Probability" in names:
        return "nnet.cnn.layer.DropoutLayer"
    if {"ChannelDim", "VectorFormat"} & names:
        return "nnet.cnn.layer.SoftmaxLayer"
    if "Categories" in names or "NumClasses" in names:
        return "nnet.cnn.layer.ClassificationOutputLayer"
    if "ResponseNames" in names or text(fields, "LossFunction") == "mean-squared-error":
        return "nnet.cnn.layer.RegressionOutputLayer"
    if {"FilterSize", "NumFilters"} <= names:
        return "nnet.cnn.layer.ConvolutionLayer"
    if "PoolSize" in names:
        return "nnet.cnn.layer.PoolingLayer"
    return "unknown"
