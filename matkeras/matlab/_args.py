"""MATLAB's argument conventions: positional arguments, then name-value pairs (case-insensitive)
or Python keywords; shared by every constructor and verb of :mod:`matkeras.matlab`. The verbs'
options take their treatment from the one table, :mod:`matkeras.options`."""

from matkeras import options as _table

RECURRENT_OPTIONS = {
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
LEARN_RATES = {"InputWeightsLearnRateFactor": "input_weights_learn_rate_factor",
                "RecurrentWeightsLearnRateFactor": "recurrent_weights_learn_rate_factor",
                "BiasLearnRateFactor": "bias_learn_rate_factor"}
WEIGHTED_LEARN_RATES = {"WeightLearnRateFactor": "weights_learn_rate_factor",
                         "BiasLearnRateFactor": "bias_learn_rate_factor"}
PROJECTOR_LEARN_RATES = {
    "InputProjectorLearnRateFactor": "input_projector_learn_rate_factor",
    "OutputProjectorLearnRateFactor": "output_projector_learn_rate_factor"}
PROJECTORS = {
    "InputProjectorInitializer": "input_projector_initializer",
    "OutputProjectorInitializer": "output_projector_initializer",
    "InputProjectorL2Factor": "input_projector_l2_factor",
    "OutputProjectorL2Factor": "output_projector_l2_factor",
    "InputProjector": "input_projector", "OutputProjector": "output_projector",
}
WEIGHTED = {
    "WeightsInitializer": "weights_initializer", "BiasInitializer": "bias_initializer",
    "WeightL2Factor": "weights_l2_factor", "BiasL2Factor": "bias_l2_factor",
}


#: Names matkeras once accepted that MATLAB spells otherwise (MATLAB's properties are singular:
#: ``WeightL2Factor``, ``WeightLearnRateFactor``; plural only ``Weights``,
#: ``WeightsInitializer``): accepted with a DeprecationWarning for one release.
DEPRECATED_NAMES = {"WeightsL2Factor": "WeightL2Factor",
                    "WeightsLearnRateFactor": "WeightLearnRateFactor"}


def parse_arguments(function, args, kwargs, positional, options, unsupported=()):
    """Splits MATLAB-style arguments into Python keyword arguments for a layer class."""
    count = len(positional)
    values = dict(zip(positional, args[:count], strict=False))
    pairs = list(args[count:])
    if len(pairs) % 2:
        raise ValueError(f"{function}: name-value arguments come in pairs; received an odd "
                         f"number after the {count} positional argument(s): {pairs!r}.")
    given = list(zip(pairs[::2], pairs[1::2], strict=True)) + list(kwargs.items())
    lookup = {name.lower(): name for name in [*options, "Name", *unsupported]}
    for old, new in DEPRECATED_NAMES.items():
        if new in options:
            lookup.setdefault(old.lower(), old)
    for name, value in given:
        if not isinstance(name, str) or name.lower() not in lookup:
            raise ValueError(
                f"{function}: unknown name-value argument {name!r}. Valid names: "
                f"{', '.join(sorted([*options, 'Name']))}.")
        canonical = lookup[name.lower()]
        if canonical in DEPRECATED_NAMES and canonical not in options:
            import warnings

            warnings.warn(f"{function}: {canonical!r} is spelled {DEPRECATED_NAMES[canonical]!r} "
                          "in MATLAB; the plural goes in the next release.", DeprecationWarning,
                          stacklevel=3)
            canonical = DEPRECATED_NAMES[canonical]
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


def verb_options(function, args, kwargs, names, extra=None):
    """A verb's name-value options as Python keywords: each of `names` treated as the options
    table (:mod:`matkeras.options`) says (honoured, no effect here, or refused with the reason),
    the same in every verb; `extra` maps the verb's own options to keywords."""
    extra = dict(extra or {})
    if len(args) % 2:
        raise ValueError(f"{function}: name-value arguments come in pairs; received an odd "
                         f"number: {list(args)!r}.")
    lookup = {name.lower(): name for name in [*names, *extra]}
    values = {}
    for name, value in [*zip(args[::2], args[1::2], strict=True), *kwargs.items()]:
        canonical = lookup.get(name.lower()) if isinstance(name, str) else None
        if canonical is None:
            raise ValueError(f"{function}: unknown name-value argument {name!r}. Valid names: "
                             f"{', '.join(sorted([*names, *extra]))}.")
        if canonical in extra:
            values[extra[canonical]] = value
            continue
        resolved = _table.resolve(function, canonical, value)
        if resolved is not None:
            values[resolved[0]] = resolved[1]
    return values
