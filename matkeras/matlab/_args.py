"""MATLAB's argument conventions: positional arguments, then name-value pairs (case-insensitive)
or Python keywords; shared by every constructor and verb of :mod:`matkeras.matlab`."""

_RECURRENT = {
    "OutputMode": "output_mode", "StateActivationFunction": "state_activation",
    "GateActivationFunction": "gate_activation", "HasStateInputs": "has_state_inputs",
    "HasStateOutputs": "has_state_outputs", "HiddenState": "hidden_state",
    "InputWeightsInitializer": "input_weights_initializer",
    "RecurrentWeightsInitializer": "recurrent_weights_initializer",
    "BiasInitializer": "bias_initializer", "InputWeightsL2Factor": "input_weights_l2_factor",
    "RecurrentWeightsL2Factor": "recurrent_weights_l2_factor",
    "BiasL2Factor": "bias_l2_factor", "InputWeights": "input_weights",
    "RecurrentWeights": "recurrent_weights", "Bias": "bias",
}
_LEARN_RATES = {"InputWeightsLearnRateFactor": "input_weights_learn_rate_factor",
                "RecurrentWeightsLearnRateFactor": "recurrent_weights_learn_rate_factor",
                "BiasLearnRateFactor": "bias_learn_rate_factor"}
_WEIGHTED_LEARN_RATES = {"WeightsLearnRateFactor": "weights_learn_rate_factor",
                         "BiasLearnRateFactor": "bias_learn_rate_factor"}
_PROJECTOR_LEARN_RATES = {
    "InputProjectorLearnRateFactor": "input_projector_learn_rate_factor",
    "OutputProjectorLearnRateFactor": "output_projector_learn_rate_factor"}
_PROJECTORS = {
    "InputProjectorInitializer": "input_projector_initializer",
    "OutputProjectorInitializer": "output_projector_initializer",
    "InputProjectorL2Factor": "input_projector_l2_factor",
    "OutputProjectorL2Factor": "output_projector_l2_factor",
    "InputProjector": "input_projector", "OutputProjector": "output_projector",
}
_WEIGHTED = {
    "WeightsInitializer": "weights_initializer", "BiasInitializer": "bias_initializer",
    "WeightsL2Factor": "weights_l2_factor", "BiasL2Factor": "bias_l2_factor",
}


def _parse(function, args, kwargs, positional, options, unsupported=()):
    """Splits MATLAB-style arguments into Python keyword arguments for a layer class."""
    count = len(positional)
    values = dict(zip(positional, args[:count], strict=False))
    pairs = list(args[count:])
    if len(pairs) % 2:
        raise ValueError(f"{function}: name-value arguments come in pairs; received an odd "
                         f"number after the {count} positional argument(s): {pairs!r}.")
    given = list(zip(pairs[::2], pairs[1::2], strict=True)) + list(kwargs.items())
    lookup = {name.lower(): name for name in [*options, "Name", *unsupported]}
    for name, value in given:
        if not isinstance(name, str) or name.lower() not in lookup:
            raise ValueError(
                f"{function}: unknown name-value argument {name!r}. Valid names: "
                f"{', '.join(sorted([*options, 'Name']))}.")
        canonical = lookup[name.lower()]
        if canonical in unsupported:
            if value != 1:
                raise ValueError(f"{function}: '{canonical}' other than 1 is a MATLAB option "
                                 f"matkeras does not implement; received {value!r}.")
            continue
        if canonical == "Name":
            if value:
                values["name"] = str(value)
            continue
        values[options[canonical]] = value
    return values
