"""Networks saved by MATLAB (``save net.mat net``) read with mat-io and rebuilt from matkeras.

Covered: ``SeriesNetwork`` objects. Not covered: ``DAGNetwork`` and ``dlnetwork`` objects (no
saved example was available to learn how their connections are stored, and reading their layers
in array order could silently miswire a branching network, so they are refused with a clear
error); layer kinds outside the table in :func:`infer_class`. For those, MATLAB's
``converters/matlab/matkeras_export.m`` writes the plain weight layout that
:func:`matkeras.converters.load_weights_mat` reads.

The file is decoded in a separate process (``_mat_child.py``): mat-io's compiled decoder can
crash the process on a corrupted file, and a corrupted file must end in a :class:`MatFileError`,
not take the caller down. The child hands back plain arrays and strings (an ``.npz`` read with
``allow_pickle=False``): each layer's saved fields, with learnables and states reduced to their
``Value`` (and ``<name>.L2Factor``) and nested structs as ``<struct>.<field>``.

mat-io reports each element of the network's heterogeneous ``Layers`` array with the array's
base class, ``nnet.cnn.layer.Layer``; the real class is inferred from the saved fields (see
:func:`infer_class`).
"""

import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field

import numpy as np

from matkeras.converters.errors import MatFileError

_CHILD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_mat_child.py")
#: Seconds a MAT-file may take to decode before it is declared unreadable.
DECODE_TIMEOUT = 300


@dataclass
class SavedLayer:
    """One layer as MATLAB saved it: 1-based position, name, inferred class, saved fields."""

    position: int
    name: str
    matlab_class: str
    fields: dict = field(repr=False)


def _check_header(path):
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


def read_network(path, variable=None, timeout=DECODE_TIMEOUT):
    """Returns ``(network class, [SavedLayer])`` of the network variable in a MAT-file."""
    path = os.fspath(path)
    _check_header(path)
    with tempfile.TemporaryDirectory(prefix="matkeras-") as folder:
        target = os.path.join(folder, "layers.npz")
        command = [sys.executable, _CHILD, path, target] + ([variable] if variable else [])
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise MatFileError(f"Decoding '{path}' took over {timeout} s; the file is "
                               "corrupted or far too large.") from None
        if result.returncode == 2:
            raise MatFileError(result.stderr.strip())
        if result.returncode != 0:
            how = (f"crashed (signal {-result.returncode})" if result.returncode < 0 else
                   f"failed: {_last_line(result.stderr)}")
            raise MatFileError(f"'{path}' could not be decoded as a MAT-file: the decoder "
                               f"(mat-io) {how}. Is it truncated or corrupted?")
        with np.load(target, allow_pickle=False) as saved:
            arrays = {key: saved[key] for key in saved.files}
    records = []
    for index in range(int(arrays["layer_count"][0])):
        prefix = f"L{index:04d}|"
        fields = {key[len(prefix):]: value for key, value in arrays.items()
                  if key.startswith(prefix) and key != prefix + "__fields__"}
        records.append(SavedLayer(index + 1, text(fields, "Name", f"layer{index + 1}"),
                                  infer_class(fields), fields))
    return str(arrays["network_class"][0]), records


def _last_line(text):
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else "no message"


def value(fields, name, default=None):
    """A numeric field (a learnable's or state's ``Value``) as float64, or `default`."""
    array = fields.get(name)
    if array is None or array.size == 0:
        return default
    if array.dtype.kind not in "biuf":
        raise MatFileError(f"Field {name!r} is not numeric (got {array.dtype}).")
    return array.astype(np.float64)


def scalar(fields, name, default=None):
    array = value(fields, name)
    return default if array is None else array.ravel()[0]


def text(fields, name, default=""):
    array = fields.get(name)
    if array is None or array.size == 0 or array.dtype.kind not in "US":
        return default
    return str(array.ravel()[0])


def strings(fields, name):
    array = fields.get(name)
    return None if array is None or array.dtype.kind not in "US" else [str(s) for s in
                                                                        array.ravel()]


def infer_class(fields):
    """The MATLAB class of a saved layer, from its fields (mat-io only reports the base
    class). Returns the class name or ``"unknown"``."""
    names = {key.split(".")[0] for key in fields}
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
