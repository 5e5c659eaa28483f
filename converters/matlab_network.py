"""Networks saved by MATLAB (``save net.mat net``), read with mat-io into a neutral form.

Every container MATLAB writes is read into ONE form, :class:`SavedNetwork`: layer records (name,
true class, saved fields) plus connections. Containers: ``SeriesNetwork``, ``DAGNetwork``,
``dlnetwork`` (what ``trainnet`` returns), ``nnet.cnn.LayerGraph`` and a bare layer array, at top
level or nested in structs and objects' properties (Experiment Manager's ``output.mat``, a whole
workspace, a dlnetwork inside a system-identification model). :mod:`matkeras.converters.builder`
turns that form into a ``keras.Model``. This module needs no TensorFlow.

The file is decoded in a separate process (``_mat_child.py``): mat-io's compiled decoder can
crash the process on a corrupted file, and a corrupted file must end in a :class:`MatFileError`,
not take the caller down. The child hands back plain arrays and strings (an ``.npz`` read with
``allow_pickle=False``): each layer's saved fields, with learnables and states reduced to their
``Value`` (and ``<name>.L2Factor``, ``<name>.LearnRateFactor``) and nested structs and objects as
``<struct>.<field>``.

Class of each layer: mat-io reports each element of a network's heterogeneous ``Layers`` array
with the array's base class, ``nnet.cnn.layer.Layer``. The true class is read from the file's
subsystem data (see ``_mat_child.ClassRecorder``; mat-io 1.0.x internals). If that fails, the
class is inferred from the saved fields (:func:`infer_class`), and :class:`SavedLayer` says which
was used (``class_source``).
"""

import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from matkeras.converters.errors import MatFileError

_CHILD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_mat_child.py")
#: Seconds a MAT-file may take to decode before it is declared unreadable.
DECODE_TIMEOUT = 300


@dataclass
class SavedLayer:
    """One layer as MATLAB saved it: 1-based position, name, class, saved fields, and where the
    class came from (``"subsystem"``: the file's record; ``"fields"``: inferred)."""

    position: int
    name: str
    matlab_class: str
    fields: dict = field(repr=False)
    class_source: str = "subsystem"
    #: The name in the file, where ``name`` had to change for Keras; the container's class.
    matlab_name: str = ""
    network_class: str = ""


@dataclass
class SavedNetwork:
    """A saved network in neutral form.

    ``network_class`` is ``SeriesNetwork``, ``DAGNetwork``, ``dlnetwork``, ``LayerGraph`` or
    ``LayerArray``; ``variable`` the dotted path of the object in the file; ``connections`` a
    list of ``(source, destination)`` (``None``: the layers form a chain in array order);
    ``output_names`` MATLAB's ``OutputNames`` where the file stores them (dlnetwork);
    ``initialized`` false for an uninitialized dlnetwork; ``candidates`` every network found in
    the file (``"path (class)"``); ``class_problem`` why the true classes could not be read
    from the file, when they could not.
    """

    path: str
    network_class: str
    variable: str
    layers: list
    connections: list = None
    output_names: list = field(default_factory=list)
    initialized: bool = True
    candidates: list = field(default_factory=list)
    class_problem: str = ""


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


#: How to install the decoder, in every message about it.
MATIO_INSTALL = "pip install 'mat-io>=1.0.2,<1.1'"


def read_network(path, variable=None, timeout=DECODE_TIMEOUT):
    """The network in a MAT-file as a :class:`SavedNetwork`: a file MATLAB saved, through
    mat-io; a file in matkeras's plain layout (``matkeras_export.m``), through
    :func:`~matkeras.converters.plain_network.read_plain_network`.

    Args:
        path: the MAT-file.
        variable: the network's variable, or a dotted path to it inside structs and objects
            (``"NSSTrainingOutput.NSSModel.StateTransitionFcn_.Network"``; ``s(2).net`` for an
            element of a struct array). With None, candidates are taken in this order: trained
            networks (SeriesNetwork, DAGNetwork, dlnetwork) at top level; trained networks
            nested deeper; layer graphs and layer arrays. The first group that is not empty must
            have exactly one member; otherwise the error lists every candidate with its path.
        timeout: seconds the decoder may take.
    """
    (result,) = read_networks([path], variable, timeout)
    if isinstance(result, MatFileError):
        raise result
    return result


def read_networks(paths, variable=None, timeout=DECODE_TIMEOUT):
    """:func:`read_network` for many files: a list with a :class:`SavedNetwork` or the
    :class:`MatFileError` for each file, in order. A file that crashes the decoder process, or
    takes over `timeout` seconds, gets its error and a new process decodes the files after it."""
    results = [None] * len(paths)
    with tempfile.TemporaryDirectory(prefix="matkeras-") as folder:
        decoder = None
        try:
            for index, path in enumerate(map(os.fspath, paths)):
                try:
                    _check_header(path)
                except MatFileError as error:
                    results[index] = error
                    continue
                target = os.path.join(folder, f"network{index}.npz")
                decoder = decoder if decoder is not None and decoder.alive() else _Decoder.take()
                outcome = decoder.decode(path, target, variable, timeout)
                results[index] = _interpret(path, variable, target, *outcome)
        finally:
            if decoder is not None:
                decoder.give_back()
    return results


class _Decoder:
    """A decoder process (``_mat_child.py --serve``): it decodes one file per line of its
    standard input and exits when that closes. mat-io takes most of a second to import, so a
    process that finished its file waits for the next one (at most :attr:`KEEP` of them, each
    used by one caller at a time); one that crashed or hung is ended and replaced."""

    KEEP = 2
    _idle = []
    _lock = threading.Lock()

    def __init__(self):
        self.script, self.owner = _CHILD, os.getpid()
        self.folder = tempfile.mkdtemp(prefix="matkeras-decoder-")
        self.log = os.path.join(self.folder, "decoder.log")
        with open(self.log, "w") as errors:
            self.process = subprocess.Popen([sys.executable, _CHILD, "--serve"],
                                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                            stderr=errors, text=True)

    @classmethod
    def take(cls):
        """An idle decoder of this process running the current script, else a new one."""
        with cls._lock:
            while cls._idle:
                decoder = cls._idle.pop()
                if decoder.owner == os.getpid() and decoder.script == _CHILD and decoder.alive():
                    return decoder
                decoder.close()
        return cls()

    def give_back(self):
        with self._lock:
            if self.alive() and len(self._idle) < self.KEEP:
                self._idle.append(self)
                return
        self.close()

    def alive(self):
        return self.process.poll() is None

    def decode(self, path, target, variable, timeout):
        """``(code, message)`` of one file: the child's exit code and message for it (0:
        decoded), a negative code (the signal) or 1 if the process died on it, None for the
        code if it took over `timeout` seconds (the process is ended then)."""
        status = target + ".status"
        offset = os.path.getsize(self.log)
        try:
            self.process.stdin.write(json.dumps([path, target, variable]) + "\n")
            self.process.stdin.flush()
        except OSError:  # it died between files
            pass
        started = time.monotonic()
        while not os.path.exists(status):
            if not self.alive() and not os.path.exists(status):
                code = self.process.returncode or 1
                with open(self.log, errors="replace") as handle:
                    handle.seek(offset)
                    message = handle.read()
                self.close()
                return code if code < 0 else 1, _last_line(message)
            if time.monotonic() - started > timeout:
                self.close()
                return None, ""
            time.sleep(0.005)
        with open(status) as handle:
            outcome = json.load(handle)
        return outcome["code"], outcome["stderr"]

    def close(self):
        if self.owner == os.getpid():
            if self.alive():
                self.process.kill()
            self.process.wait()
            try:
                self.process.stdin.close()
            except OSError:  # its pipe broke when it died
                pass
        shutil.rmtree(self.folder, ignore_errors=True)

    @classmethod
    def close_idle(cls):
        with cls._lock:
            idle, cls._idle[:] = list(cls._idle), []
        for decoder in idle:
            decoder.close()


atexit.register(_Decoder.close_idle)


def _interpret(path, variable, target, code, message):
    """A :class:`SavedNetwork`, or the :class:`MatFileError` for the decoder's `code`."""
    if code is None:
        return MatFileError(f"Decoding '{path}' took too long; the file is corrupted or far "
                            "too large.")
    if code == 2:
        return MatFileError(message.strip())
    if code == 4 or (code == 3 and _plain(path)):
        from matkeras.converters.plain_network import read_plain_network

        try:
            return read_plain_network(path, variable)
        except MatFileError as error:
            return error
    if code == 3:
        return MatFileError(
            f"Reading networks MATLAB saved needs the package mat-io (import name 'matio'), "
            f"which could not be imported ({_last_line(message)}). Install it with: "
            f"{MATIO_INSTALL}")
    if code != 0:
        how = (f"crashed (signal {-code})" if code < 0 else f"failed: {_last_line(message)}")
        return MatFileError(f"'{path}' could not be decoded as a MAT-file: the decoder "
                            f"(mat-io) {how}. Is it truncated or corrupted?")
    with np.load(target, allow_pickle=False) as saved:
        arrays = {key: saved[key] for key in saved.files}
    try:
        return saved_network(path, arrays)
    except MatFileError as error:
        return error


def _plain(path):
    from matkeras.converters.plain_network import layout_version

    return layout_version(path) is not None


def saved_network(path, arrays):
    """The :class:`SavedNetwork` in the child process's arrays (see ``_mat_child.py``)."""
    problem = str(arrays["class_problem"][0])
    records = []
    for index in range(int(arrays["layer_count"][0])):
        prefix = f"L{index:04d}|"
        fields = {key[len(prefix):]: value for key, value in arrays.items()
                  if key.startswith(prefix) and key != prefix + "__class__"}
        recorded = str(arrays[prefix + "__class__"][0])
        source = "subsystem" if recorded and not problem else "fields"
        records.append(SavedLayer(index + 1, text(fields, "Name", ""),
                                  recorded if source == "subsystem" else infer_class(fields),
                                  fields, source))
    connections = arrays.get("connections")
    return SavedNetwork(
        path=path, network_class=str(arrays["network_class"][0]),
        variable=str(arrays["variable"][0]), layers=records,
        connections=None if connections is None else [tuple(c) for c in connections.tolist()],
        output_names=[str(n) for n in arrays["output_names"]],
        initialized=bool(arrays["initialized"][0]),
        candidates=[str(c) for c in arrays["candidates"] if str(c)], class_problem=problem)


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
    names = {key.split(".")[0].split("(")[0] for key in fields}
    for required, name in _BY_FIELDS:
        if required <= names:
            return name
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
        return "nnet.cnn.layer.SequenceInputLayer"  # a featureInputLayer saves the same fields
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
    return _infer_newer_class(names, fields)


#: Layers whose saved fields name them: (fields all present, class).
_BY_FIELDS = (
    ({"NumKeyChannels", "QueryWeights"}, "nnet.cnn.layer.SelfAttentionLayer"),
    ({"MaxPosition", "Weights"}, "nnet.cnn.layer.PositionEmbeddingLayer"),
    ({"Dim", "NumInputs"}, "nnet.cnn.layer.ConcatenationLayer"),
    ({"PoolOverTime"}, "nnet.cnn.layer.GlobalAveragePooling1DLayer"),
    ({"PredictFcn"}, "nnet.cnn.layer.FunctionLayer"),
)
#: Layers that save only their name: the class from the ``Type`` MATLAB shows (newer layers
#: save it), else unknown.
_BY_TYPE = {"Tanh": "nnet.cnn.layer.TanhLayer", "Sigmoid": "nnet.cnn.layer.SigmoidLayer",
            "ReLU": "nnet.cnn.layer.ReLULayer", "Function": "nnet.cnn.layer.FunctionLayer",
            "GELU": "nnet.cnn.layer.GELULayer", "Swish": "nnet.cnn.layer.SwishLayer"}


def _infer_newer_class(names, fields):
    if "Index" in names and "HasPaddingMaskInput" in names:
        return "nnet.cnn.layer.Indexing1DLayer"
    if names >= {"NumInputs"} and len(names - {"Name", "Version", "NumInputs"}) == 0:
        return "nnet.cnn.layer.AdditionLayer"
    if "Normalization" in names and "InputSize" in names:
        size = value(fields, "InputSize")
        return ("nnet.cnn.layer.FeatureInputLayer" if size is not None and size.size == 1
                and "MinLength" not in names else "nnet.cnn.layer.SequenceInputLayer")
    return _BY_TYPE.get(text(fields, "Type"), "unknown")
