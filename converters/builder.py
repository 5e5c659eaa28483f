"""Saved MATLAB layers -> matkeras layers -> keras.Model; and the network summary."""

import numpy as np

from matkeras import layers as L
from matkeras.converters.errors import MatFileError
from matkeras.converters.matlab_network import read_network, scalar, strings, text, value

_RECURRENT = {
    "nnet.cnn.layer.LSTMLayer": L.LSTM,
    "nnet.cnn.layer.BiLSTMLayer": L.BiLSTM,
    "nnet.cnn.layer.GRULayer": L.GRU,
    "nnet.cnn.layer.LSTMProjectedLayer": L.LSTMProjected,
    "nnet.cnn.layer.GRUProjectedLayer": L.GRUProjected,
}


def _l2_factor(fields, name, default):
    factor = value(fields, f"{name}.L2Factor")
    if factor is None:
        return default
    factor = factor.ravel()
    return float(factor[0]) if factor.size == 1 else factor.tolist()


def _state(fields, name):
    """A recurrent layer's current state (what predict starts from), else its initial one."""
    state = value(fields, name)
    return state if state is not None else value(fields, f"Initial{name}")


def _recurrent(record):
    f = record.fields
    cls = _RECURRENT[record.matlab_class]
    options = {
        "units": int(scalar(f, "NumHiddenUnits")),
        "output_mode": "sequence" if bool(scalar(f, "ReturnSequence", 1.0)) else "last",
        "state_activation": text(f, "StateActivationFunction", "tanh"),
        "gate_activation": text(f, "GateActivationFunction", "sigmoid"),
        "has_state_inputs": bool(scalar(f, "HasStateInputs", 0.0)),
        "has_state_outputs": bool(scalar(f, "HasStateOutputs", 0.0)),
        "input_weights_l2_factor": _l2_factor(f, "InputWeights", 1.0),
        "recurrent_weights_l2_factor": _l2_factor(f, "RecurrentWeights", 1.0),
        "bias_l2_factor": _l2_factor(f, "Bias", 0.0),
        "name": record.name,
    }
    if "ResetGateMode" in f:
        options["reset_gate_mode"] = text(f, "ResetGateMode")
    if cls in (L.LSTMProjected, L.GRUProjected):
        options["output_projector_size"] = np.shape(value(f, "OutputProjector"))[1]
        options["input_projector_size"] = np.shape(value(f, "InputProjector"))[1]
    layer = cls(**options)
    weights = {"input_weights": value(f, "InputWeights"),
               "recurrent_weights": value(f, "RecurrentWeights"), "bias": value(f, "Bias")}
    if cls in (L.LSTMProjected, L.GRUProjected):
        weights.update(input_projector=value(f, "InputProjector"),
                       output_projector=value(f, "OutputProjector"))
    if not options["has_state_inputs"]:
        for argument, prop in layer._STATES:
            weights[argument] = _state(f, prop)
    layer.set_matlab_weights(**{k: v for k, v in weights.items() if v is not None})
    return layer


def _sequence_input(record):
    f = record.fields
    size = [int(s) for s in np.ravel(value(f, "InputSize"))]
    options = {"name": record.name, "min_length": int(scalar(f, "MinLength", 1.0))}
    kind = text(f, "Normalization.Type", text(f, "Normalization", "none")) or "none"
    if kind != "none":
        options["normalization"] = kind
        for key, names in (("mean", ("Mean",)), ("standard_deviation", ("Std",
                                                                         "StandardDeviation")),
                           ("min", ("Min",)), ("max", ("Max",))):
            for name in names:
                for source in (f"Normalization.{name}", name):
                    if value(f, source) is not None:
                        options[key] = value(f, source)
    return L.SequenceInput(size[0] if len(size) == 1 else tuple(size), **options)


def _fully_connected(record):
    f = record.fields
    return L.FullyConnected(int(scalar(f, "OutputSize")), weights=value(f, "Weights"),
                            bias=value(f, "Bias"),
                            weights_l2_factor=_l2_factor(f, "Weights", 1.0),
                            bias_l2_factor=_l2_factor(f, "Bias", 0.0), name=record.name)


def _batch_norm(record):
    f = record.fields
    layer = L.BatchNormalization(epsilon=float(scalar(f, "Epsilon", 1e-5)), name=record.name)
    layer.set_matlab_weights(**{key: value(f, prop) for key, prop in (
        ("offset", "Offset"), ("scale", "Scale"), ("trained_mean", "TrainedMean"),
        ("trained_variance", "TrainedVariance")) if value(f, prop) is not None})
    return layer


def _classification(record):
    f = record.fields
    weights = value(f, "ClassWeights")
    return L.Classification(class_weights=weights, classes=strings(f, "Categories"),
                            name=record.name)


def _regression(record):
    names = strings(record.fields, "ResponseNames")
    return L.Regression(response_names=names or None, name=record.name)


_BUILDERS = {
    **dict.fromkeys(_RECURRENT, _recurrent),
    "nnet.cnn.layer.SequenceInputLayer": _sequence_input,
    "nnet.cnn.layer.FullyConnectedLayer": _fully_connected,
    "nnet.cnn.layer.BatchNormalizationLayer": _batch_norm,
    "nnet.cnn.layer.DropoutLayer": lambda r: L.Dropout(float(scalar(r.fields, "Probability")),
                                                       name=r.name),
    "nnet.cnn.layer.SoftmaxLayer": lambda r: L.Softmax(name=r.name),
    "nnet.cnn.layer.ClassificationOutputLayer": _classification,
    "nnet.cnn.layer.RegressionOutputLayer": _regression,
}


def build_layers(path, records):
    """matkeras layers for the saved records; one error lists every unsupported layer."""
    unsupported = [r for r in records if r.matlab_class not in _BUILDERS]
    if unsupported:
        listing = "; ".join(f"layer {r.position} '{r.name}' ({r.matlab_class}, saved fields "
                            f"{sorted(r.fields)})" for r in unsupported)
        raise MatFileError(f"'{path}' has layers matkeras cannot convert: {listing}. Export the "
                           "network with converters/matlab/matkeras_export.m and rebuild it "
                           "with matkeras layers, or open an issue for the layer kind.")
    layers = []
    for record in records:
        try:
            layers.append(_BUILDERS[record.matlab_class](record))
        except (ValueError, TypeError, KeyError, IndexError) as error:
            raise MatFileError(f"'{path}': layer {record.position} '{record.name}' "
                               f"({record.matlab_class}) could not be rebuilt: {error}") from None
    return layers


def load_matlab_network(path, variable=None, compile=True):  # noqa: A002
    """Reads a network MATLAB saved (``save net.mat net``) and rebuilds it as a keras.Model.

    Args:
        path: the MAT-file (v5/v7 or v7.3).
        variable: the network's variable name; found automatically when the file has one.
        compile: compile with the output layer's MATLAB loss (see ``assemble_network``).

    Returns:
        A ``keras.Model`` of matkeras layers with every learnable, state and input
        normalization statistic. Raises :class:`MatFileError` on files it cannot read, listing
        what it found.
    """
    from matkeras.network import assemble_network

    network_class, records = read_network(path, variable)
    layers = build_layers(path, records)
    try:
        return assemble_network(layers, compile=compile)
    except ValueError as error:
        raise MatFileError(f"'{path}': the {network_class}'s layers do not form a network "
                           f"matkeras can assemble: {error}") from None


def inspect_mat(path, variable=None):
    """The layers of a saved network, like MATLAB's network summary.

    Returns a :class:`NetworkSummary`: a list of dicts (``position``, ``name``, ``class``,
    ``options``, ``learnables`` {MATLAB name: shape}) whose ``str()`` is a table.
    """
    network_class, records = read_network(path, variable)
    rows = []
    for record in records:
        learnables, options = {}, {}
        for name, entry in record.fields.items():
            if name.endswith(".L2Factor") or name in ("Version", "Name"):
                continue
            if f"{name}.L2Factor" in record.fields or name in ("HiddenState", "CellState"):
                learnables[name] = tuple(entry.shape)
            else:
                options[name] = _describe(entry)
        rows.append({"position": record.position, "name": record.name,
                     "class": record.matlab_class, "options": options,
                     "learnables": learnables})
    return NetworkSummary(network_class, rows)


def _describe(entry):
    array = np.asarray(entry)
    if array.dtype.kind in "US":
        return " ".join(str(v) for v in np.ravel(array)[:8]) if array.size else ""
    if array.dtype.kind in "biuf" and array.size <= 4:
        flat = [int(v) if float(v).is_integer() else float(v) for v in np.ravel(array)]
        return flat[0] if len(flat) == 1 else flat
    if array.dtype.kind in "biuf":
        return f"<{'x'.join(map(str, array.shape))} {array.dtype}>"
    return f"<{type(entry).__name__}>"


class NetworkSummary(list):
    """What :func:`inspect_mat` returns: rows of layer facts, printable as a table."""

    def __init__(self, network_class, rows):
        super().__init__(rows)
        self.network_class = network_class

    def __str__(self):
        lines = [f"{self.network_class} with {len(self)} layers"]
        for row in self:
            short = row["class"].rsplit(".", 1)[-1]
            learn = ", ".join(f"{k} {'x'.join(map(str, v))}" for k, v in row["learnables"].items())
            keep = {k: v for k, v in row["options"].items()
                    if not (isinstance(v, str) and v.startswith("<"))}
            opts = ", ".join(f"{k}={v}" for k, v in list(keep.items())[:6])
            lines.append(f"{row['position']:>3}  {row['name']:<20} {short:<28} {opts}"
                         + (f"\n{'':>26}learnables: {learn}" if learn else ""))
        return "\n".join(lines)
