"""MATLAB's name-value options of the prediction and training verbs, in one table.

Each option has one answer in every function that accepts it, in both MATLAB eras:

- ``"honoured"``: it does what MATLAB's does (its Python keyword is ``keyword``);
- ``"no effect"``: accepted at the values listed, and does nothing here, for the reason given
  (``ExecutionEnvironment``: TensorFlow places the work on the devices it has);
- a value listed under ``refused`` raises an error with the reason and what to do instead.

``eras`` says which MATLAB workflow uses an option: ``"classic"`` (``trainNetwork``,
``classify``, ``predictAndUpdateState``), ``"current"`` (``trainnet``, ``minibatchpredict``,
``testnet``, ``predict`` on a dlnetwork), or both. A trainnet-only ``trainingOptions`` option
(``Metrics``, ``ObjectiveMetricName``...) set to a value other than its default and given to
``trainNetwork`` has no effect there and says so (one warning naming them): MATLAB's own
``trainNetwork`` does not read ``Metrics``. ``trainnet`` gives no such warning.
:func:`describe` prints the table (the README's options section is made from it).
"""

import collections

Option = collections.namedtuple("Option", "keyword treatment values refused note eras")

_BOTH = ("classic", "current")
_PLACEMENT = ("TensorFlow places the work on the devices it has (a CUDA GPU when one is "
              "installed and visible); matkeras runs the same code on each")
_DISTRIBUTED = ("'multi-gpu' trains under tf.distribute.MirroredStrategy over the local GPUs "
                "(an error when TensorFlow sees none), 'parallel' (and 'parallel-auto', "
                "'parallel-cpu', 'parallel-gpu') under tf.distribute.MultiWorkerMirroredStrategy "
                "over the workers TF_CONFIG names (trainingOptions); prediction runs on one "
                "device")

#: The verbs' MATLAB options (trainingOptions' own are in matkeras.training).
OPTIONS = {
    "MiniBatchSize": Option("mini_batch_size", "honoured", None, {}, "", _BOTH),
    "SequenceLength": Option("sequence_length", "honoured", None, {}, "", _BOTH),
    "SequencePaddingValue": Option("padding_value", "honoured", None, {}, "", _BOTH),
    "SequencePaddingDirection": Option("padding_direction", "honoured", None, {}, "", _BOTH),
    "InputDataFormats": Option("input_formats", "honoured", None, {}, "", ("current",)),
    "TargetDataFormats": Option("target_formats", "honoured", None, {}, "", ("current",)),
    "UniformOutput": Option("uniform_output", "honoured", None, {}, "", ("current",)),
    "ExecutionEnvironment": Option(
        None, "no effect", ("auto", "cpu", "gpu", "multi-gpu", "parallel", "parallel-auto",
                            "parallel-cpu", "parallel-gpu"), {},
        f"{_PLACEMENT}; {_DISTRIBUTED}", _BOTH),
    "Acceleration": Option(None, "no effect", ("auto", "mex", "none"), {},
                           "TensorFlow compiles the computation itself (XLA: the prediction "
                           "functions' xla= argument)", _BOTH),
}


def resolve(function, name, value):
    """``(keyword, value)`` for an honoured option, None for one that has no effect here;
    raises for a refused or unknown value, naming the function, the option and why."""
    option = OPTIONS[name]
    if option.treatment == "honoured":
        return option.keyword, value
    text = value.lower() if isinstance(value, str) else value
    if text in option.refused:
        raise ValueError(f"{function}: {name}={value!r} is not available in matkeras: "
                         f"{option.refused[text]}.")
    if text not in option.values:
        raise ValueError(f"{function}: {name} must be one of {option.values}; received "
                         f"{value!r}.")
    return None


def check_no_effect(function, name, value):
    """Checks an option that has no effect here (:func:`resolve`) and returns the value as
    MATLAB spells it."""
    resolve(function, name, value)
    return value.lower() if isinstance(value, str) else value


def describe():
    """The table as text: one line per option, its treatment and values."""
    lines = []
    for name, option in OPTIONS.items():
        what = option.treatment
        if option.treatment == "no effect":
            what += f" (values {', '.join(option.values)}): {option.note}"
            if option.refused:
                reason = next(iter(option.refused.values()))
                what += f"; refused: {', '.join(option.refused)} ({reason})"
        lines.append(f"{name} [{'/'.join(option.eras)}]: {what}")
    return "\n".join(lines)
