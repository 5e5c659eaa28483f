"""One core under both MATLAB eras: layers own their state and MATLAB mapping (no module outside
``matkeras/layers`` touches a layer's private attributes), no module imports another's
underscore name, one label encoder, one options table, MATLAB's own spellings, and op modules
that are modules."""

import ast
import importlib
import warnings

import numpy as np
import pytest

from matkeras import categorical, options, training
from matkeras import layers as L
from matkeras.matlab import (
    classificationLayer,
    classify,
    fullyConnectedLayer,
    lstmLayer,
    minibatchpredict,
    predict,
    predictAndUpdateState,
    sequenceInputLayer,
    softmaxLayer,
    testnet,
    trainingOptions,
)
from matkeras.workflows import classic
from matkeras.workflows import current as trainnet
from tests.conftest import REPO

SOURCES = sorted([*(REPO / "matkeras").rglob("*.py"), *(REPO / "converters").rglob("*.py")])


def _module_name(path):
    parts = path.relative_to(REPO).with_suffix("").parts
    parts = ("matkeras", *parts[1:]) if parts[0] == "converters" else parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _layer_private_names():
    """Every private attribute, method and class attribute the layer classes define."""
    names = set()
    for path in (REPO / "matkeras" / "layers").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ClassDef):
                continue
            for item in ast.walk(node):
                if isinstance(item, ast.FunctionDef):
                    names.add(item.name)
                elif isinstance(item, ast.Attribute) and isinstance(item.value, ast.Name) \
                        and item.value.id == "self":
                    names.add(item.attr)
                elif isinstance(item, ast.Assign):
                    names.update(t.id for t in item.targets if isinstance(t, ast.Name))
    return {n for n in names if n.startswith("_") and not n.startswith("__")}


def test_no_module_outside_the_layers_touches_a_layers_private_attributes():
    private = _layer_private_names()
    assert {"_remembered", "_STATES", "_matlab_value"} <= private  # the scan sees them
    found = []
    for path in SOURCES:
        if (REPO / "matkeras" / "layers") in path.parents:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr in private and not (
                    isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")):
                found.append(f"{path.relative_to(REPO)}:{node.lineno} {ast.unparse(node)}")
    assert not found, found


def test_no_module_imports_another_modules_underscore_name():
    """``from m import _x`` only for a private submodule ``m._x`` of the importer's own
    package (``from matkeras.ops import _loop`` inside matkeras.ops)."""
    found = []
    for path in SOURCES:
        importer = _module_name(path)
        package = importer if path.name == "__init__.py" else importer.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ImportFrom) or not node.module:
                continue
            for alias in node.names:
                if not alias.name.startswith("_") or alias.name.startswith("__"):
                    continue
                submodule = importlib.util.find_spec(f"{node.module}.{alias.name}") is not None
                if not (submodule and (package + ".").startswith(node.module + ".")):
                    found.append(f"{importer}: from {node.module} import {alias.name}")
    assert not found, found


def test_op_modules_are_modules_and_the_old_calls_still_work():
    import matkeras.ops
    import matkeras.ops.gru as gru_module
    import matkeras.ops.lstm as lstm_module

    assert isinstance(lstm_module, type(importlib)) and hasattr(lstm_module, "tflite_fusable")
    assert matkeras.ops.lstm is lstm_module and matkeras.ops.gru is gru_module
    assert matkeras.ops.matlab_lstm is lstm_module.matlab_lstm
    x, h = np.zeros((1, 2, 3), "float32"), np.zeros((1, 2), "float32")
    with pytest.warns(DeprecationWarning, match="call matkeras.ops.matlab_lstm"):
        old = matkeras.ops.lstm(x, np.ones((3, 8), "float32"), np.ones((2, 8), "float32"),
                                np.zeros(8, "float32"), h, h)
    new = matkeras.ops.matlab_lstm(x, np.ones((3, 8), "float32"), np.ones((2, 8), "float32"),
                                   np.zeros(8, "float32"), h, h)
    np.testing.assert_array_equal(np.asarray(old[0]), np.asarray(new[0]))


# -- one label encoder: MATLAB's categorical order in both eras ------------------------------

#: (labels, MATLAB's categories(categorical(labels))): numbers by value; text by character
#: code ("10" before "2", upper case before lower case, non-ASCII by code point).
LABELS = {
    "numbers": (np.array([10, 2, 1, 2]), ["1", "2", "10"]),
    "numeric text": (np.array(["1", "2", "10", "2"]), ["1", "10", "2"]),
    "mixed case": (np.array(["b", "B", "a", "A"]), ["A", "B", "a", "b"]),
    "non-ascii": (np.array(["é", "e", "z", "É"]), ["e", "z", "É", "é"]),
}


def _pandas_categorical():
    import pandas

    return pandas.Categorical(["lo", "hi", "lo", "mid"], categories=["lo", "mid", "hi"])


@pytest.mark.parametrize("kind", [*LABELS, "pandas"])
def test_both_training_functions_order_classes_as_matlabs_categorical(kind):
    labels, expected = LABELS[kind] if kind in LABELS else (_pandas_categorical(),
                                                            ["lo", "mid", "hi"])
    assert [str(c) for c in categorical.class_names(labels)] == expected
    old = classic._targets(labels, True, None)
    current = trainnet.prepare_targets(labels, trainnet.L.get("crossentropy"))
    assert old[1] == expected and [str(c) for c in current[1]] == expected
    np.testing.assert_array_equal(old[0], current[0])


def test_train_network_and_trainnet_record_the_same_class_order(rng):
    X = [rng.normal(size=(5, 3)).astype("float32") for _ in range(6)]
    Y = np.array(["1", "2", "10"] * 2)
    layers = [sequenceInputLayer(3), lstmLayer(4, OutputMode="last"), fullyConnectedLayer(3),
              softmaxLayer()]
    opts = trainingOptions("adam", MaxEpochs=1, Verbose=False)
    model = classic.train_network(X, Y, [*layers, classificationLayer()], opts)
    _, info = trainnet.trainnet(X, Y, [sequenceInputLayer(3), lstmLayer(4, OutputMode="last"),
                                       fullyConnectedLayer(3), softmaxLayer()],
                                "crossentropy", opts)
    assert model.layers[-1].classes == ["1", "10", "2"]
    assert info.ClassNames == ["1", "10", "2"]


@pytest.mark.parametrize("labels", [
    pytest.param(np.array([10, 2, 1] * 2), id="integers"),
    pytest.param(np.array(["10", "2", "1"] * 2), id="text"),
    pytest.param([np.array([2, 10, 1, 2, 1]), np.array([1, 1, 10, 2, 2])] * 3, id="per-step"),
])
def test_one_label_encoder_gives_both_workflows_the_same_text_classes(labels):
    """One function (categorical.encode_classes), one return type: names as text in MATLAB's
    categorical order (integers by value, text by character), the same indices."""
    from matkeras.categorical import encode_classes

    indices, names = encode_classes(labels)
    expected = ["1", "2", "10"] if np.asarray(labels[0]).dtype.kind in "iu" or \
        isinstance(labels, list) else ["1", "10", "2"]
    assert names == expected and all(type(n) is str for n in names)
    targets, classic_names = classic._targets(labels, True, None)
    current_targets, current_names = trainnet.prepare_targets(labels, _crossentropy())
    assert classic_names == current_names == names
    for ours in (targets, current_targets):
        for got, want in zip(ours if isinstance(labels, list) else [ours],
                             indices if isinstance(labels, list) else [indices], strict=True):
            np.testing.assert_array_equal(np.ravel(got), np.ravel(want))
    again, _ = encode_classes(labels, classes=[int(n) for n in names])  # 3 and "3" are one class
    for got, want in zip(again if isinstance(labels, list) else [again],
                         indices if isinstance(labels, list) else [indices], strict=True):
        np.testing.assert_array_equal(got, want)


def _crossentropy():
    from matkeras import losses

    return losses.get("crossentropy")


# -- one options table: the same answer in every function -----------------------------------

@pytest.fixture(scope="module")
def network():
    from matkeras import assemble_network

    return assemble_network([sequenceInputLayer(3), lstmLayer(4, OutputMode="last"),
                             fullyConnectedLayer(2), softmaxLayer(), classificationLayer()])


def _verbs(network, x):
    """Every function that takes the prediction options, called with extra name-value pairs."""
    return {
        "classify": lambda *pairs: classify(network, x, *pairs),
        "predict": lambda *pairs: predict(network, x, *pairs),
        "predictAndUpdateState": lambda *pairs: predictAndUpdateState(network, x, *pairs),
        "minibatchpredict": lambda *pairs: minibatchpredict(network, x, *pairs),
        "testnet": lambda *pairs: testnet(network, x, np.array([0, 1]), "accuracy", *pairs),
        "trainingOptions": lambda *pairs: trainingOptions("adam", *pairs),
    }


@pytest.mark.parametrize("name,value", [("ExecutionEnvironment", "cpu"),
                                        ("ExecutionEnvironment", "gpu"),
                                        ("ExecutionEnvironment", "multi-gpu"),
                                        ("ExecutionEnvironment", "parallel"),
                                        ("ExecutionEnvironment", "auto"),
                                        ("Acceleration", "mex"), ("Acceleration", "none")])
def test_options_without_effect_are_accepted_everywhere(network, rng, name, value):
    x = [rng.normal(size=(4, 3)).astype("float32") for _ in range(2)]
    from matkeras.inference import reset_state

    arrays = {"classify": lambda out: out[1], "predictAndUpdateState": lambda out: out[1]}
    for verb, call in _verbs(network, x).items():
        with_option = call(name, value)  # accepted, and changes nothing
        reset_state(network)
        without = call()
        reset_state(network)
        if verb == "trainingOptions":
            assert getattr(with_option, name) == value and without.Solver == "adam"
            continue
        pick = arrays.get(verb, lambda out: out)
        np.testing.assert_array_equal(np.asarray(pick(with_option)), np.asarray(pick(without)),
                                      err_msg=verb)


@pytest.mark.parametrize("value,message", [
    ("sideways", r"ExecutionEnvironment must be one of \('auto', 'cpu', 'gpu', 'multi-gpu', "
                 r"'parallel', 'parallel-auto', 'parallel-cpu', 'parallel-gpu'\)"),
])
def test_refused_values_get_the_same_message_everywhere(network, rng, value, message):
    x = [rng.normal(size=(4, 3)).astype("float32") for _ in range(2)]
    for call in _verbs(network, x).values():
        with pytest.raises(ValueError, match=message):
            call("ExecutionEnvironment", value)


def test_train_network_says_which_trainnet_options_have_no_effect(rng):
    X = [rng.normal(size=(5, 3)).astype("float32") for _ in range(4)]
    opts = trainingOptions("adam", MaxEpochs=1, Verbose=False, Metrics="accuracy",
                           ValidationPatience=3)
    layers = [sequenceInputLayer(3), lstmLayer(4, OutputMode="last"), fullyConnectedLayer(2),
              softmaxLayer(), classificationLayer()]
    with pytest.warns(UserWarning, match="trainNetwork does not use Metrics, ValidationPatience"):
        classic.train_network(X, np.array(["a", "b"] * 2), layers, opts)


def test_the_options_table_describes_every_option():
    text = options.describe()
    for name, option in options.OPTIONS.items():
        assert name in text and option.treatment in ("honoured", "no effect")
        assert set(option.eras) <= {"classic", "current"}


# -- MATLAB's own spellings, constructor by constructor ---------------------------------------

#: The learnable-parameter options of each constructor as MATLAB's reference page spells them
#: (mathworks.com/help/deeplearning/ref/...): singular WeightL2Factor/WeightLearnRateFactor,
#: plural Weights and WeightsInitializer.
SPELLINGS = {
    "fullyConnectedLayer": (lambda **o: fullyConnectedLayer(3, **o)),
    "convolution1dLayer": (lambda **o: __import__("matkeras.matlab").matlab.convolution1dLayer(
        3, 4, **o)),
    "convolution2dLayer": (lambda **o: __import__("matkeras.matlab").matlab.convolution2dLayer(
        3, 4, **o)),
    "positionEmbeddingLayer": (lambda **o: __import__("matkeras.matlab").matlab
                               .positionEmbeddingLayer(3, 8, **o)),
    "embeddingConcatenationLayer": (lambda **o: __import__("matkeras.matlab").matlab
                                    .embeddingConcatenationLayer(**o)),
    "selfAttentionLayer": (lambda **o: __import__("matkeras.matlab").matlab
                           .selfAttentionLayer(2, 4, **o)),
}


@pytest.mark.parametrize("constructor", sorted(SPELLINGS))
def test_constructors_take_matlabs_spelling_and_warn_on_the_old_plural(constructor):
    make = SPELLINGS[constructor]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # MATLAB's names: no warning
        layer = make(WeightL2Factor=2, WeightLearnRateFactor=0.5, WeightsInitializer="he")
    assert isinstance(layer, L.MatlabMapping)
    with pytest.warns(DeprecationWarning, match="'WeightsL2Factor' is spelled 'WeightL2Factor'"):
        make(WeightsL2Factor=2)


@pytest.mark.parametrize("old,new", [
    ("matkeras.trainnet", "matkeras.workflows.current"),
    ("matkeras.minibatch", "matkeras.workflows.current"),
    ("matkeras.converters.layouts", "matkeras.layers.layouts"),
])
def test_old_module_paths_still_work_with_a_deprecation_warning(old, new):
    import sys

    sys.modules.pop(old, None)
    with pytest.warns(DeprecationWarning, match=f"moved to {new}"):
        module = importlib.import_module(old)
    assert module.__doc__.startswith("Moved to")


def test_moved_training_names_still_work_with_a_deprecation_warning():
    with pytest.warns(DeprecationWarning, match="moved to matkeras.workflows.classic"):
        old = training.train_network
    assert old is classic.train_network


def test_validate_every_still_works_with_a_deprecation_warning(rng):
    """The callback the one-core release replaced, with its old arguments (dataset,
    frequency): validation loss and accuracy every 2 iterations and at the end."""
    import keras

    from matkeras.data import SequenceDataset
    from matkeras.layers import LSTM, FullyConnected, Softmax
    from matkeras.layers.outputs import MatlabCrossEntropy

    with pytest.warns(DeprecationWarning, match="replaced by matkeras.validation.Validation"):
        validate_every = training.ValidateEvery
    keras.utils.set_random_seed(0)
    inputs = keras.Input((None, 3))
    model = keras.Model(inputs, Softmax()(FullyConnected(2)(LSTM(4, output_mode="last")(inputs))))
    model.compile("sgd", MatlabCrossEntropy())
    x = [rng.normal(0, 1, (5, 3)).astype("float32") for _ in range(8)]
    y = np.array([0, 1] * 4)
    data = SequenceDataset(x, y, mini_batch_size=4, shuffle="never")
    callback = validate_every(data, 2)
    model.fit(data, epochs=3, verbose=0, callbacks=[callback])
    assert callback.iterations == [2, 4, 6]
    assert all(np.isfinite(callback.loss)) and all(0 <= a <= 1 for a in callback.accuracy)
