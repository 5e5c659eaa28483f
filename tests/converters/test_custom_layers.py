"""Custom layers (classes MATLAB does not ship): ``load_matlab_network(...,
custom_layers={class name: Keras layer class, function (fields, name) -> layer, or None})``.

No MATLAB-saved file with a user-defined layer is in ../shared (the issue keeps its two back), so
these tests take a real saved network (vcs_bilstm100_last.mat, read by the converter into its
neutral form: layer records with their saved fields) and give records the class names a
user-defined layer has in a file: the output layer becomes a ``weightedClassificationLayer``,
and custom layers are put in the middle with the fields such a layer saves. Everything after
the decoding (class lookup, custom_layers, dropping, building, wiring) is the code under test.
"""

import copy
import warnings

import keras
import numpy as np
import pytest

from matkeras.converters import MatFileError
from matkeras.converters.builder import build_network
from matkeras.converters.matlab_network import SavedLayer, read_network
from matkeras.layers import Classification
from tests.conftest import fixture_path

FILE = "vcs_bilstm100_last.mat"  # sequenceInput(17) -> bilstm -> fc(6) -> softmax -> class


@pytest.fixture(scope="module")
def saved():
    return read_network(fixture_path("matlab", "nets", FILE))


@pytest.fixture(scope="module")
def original(saved):
    return build_network(copy.deepcopy(saved))


def _x(rng):
    return rng.standard_normal((3, 1, 17)).astype("float32")


def _with_custom_output(saved):
    network = copy.deepcopy(saved)
    network.layers[-1].matlab_class = "weightedClassificationLayer"
    return network


def _with_middle(saved, name, matlab_class, fields):
    """The network with a custom layer between the fully connected layer and the softmax."""
    network = copy.deepcopy(saved)
    position = [r.matlab_class for r in network.layers].index("nnet.cnn.layer.SoftmaxLayer")
    fields = {"Name": np.array([name]), **fields}
    network.layers.insert(position, SavedLayer(position + 1, name, matlab_class, fields))
    return network


def test_a_custom_output_layer_is_dropped_with_a_warning(saved, original, rng):
    with pytest.warns(UserWarning, match=r"custom output layer 5 'classoutput' "
                                         r"\(weightedClassificationLayer\) was dropped.*"
                                         r"custom_layers=\{'weightedClassificationLayer'"):
        model = build_network(_with_custom_output(saved))
    assert not isinstance(model.layers[-1], Classification)
    x = _x(rng)
    np.testing.assert_array_equal(np.asarray(model(x)), np.asarray(original(x)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # None drops it silently
        build_network(_with_custom_output(saved),
                      custom_layers={"weightedClassificationLayer": None})


def test_a_custom_output_layer_can_be_supplied_from_its_saved_fields(saved, original, rng):
    def weighted(fields, name):
        return Classification(class_weights=np.ravel(fields["ClassWeights"])
                              if "ClassWeights" in fields else [1, 2, 3, 4, 5, 6],
                              classes=[str(c) for c in np.ravel(fields["Categories"])],
                              name=name)

    model = build_network(_with_custom_output(saved),
                          custom_layers={"weightedClassificationLayer": weighted})
    output = model.layers[-1]
    assert isinstance(output, Classification) and output.class_weights is not None
    assert list(output.classes) == list(original.layers[-1].classes)
    assert model.compiled  # the output layer's loss, for training
    x = _x(rng)
    np.testing.assert_array_equal(np.asarray(model(x)), np.asarray(original(x)))


def test_a_custom_middle_layer_is_refused_with_its_fields_and_the_argument(saved):
    network = _with_middle(saved, "identity", "identityLayer",
                           {"Description": np.array(["passes its input on"])})
    with pytest.raises(MatFileError, match=(
            r"layer 4 'identity' \(identityLayer, a custom layer class: its MATLAB code is not "
            r"in the file; saved fields \['Description', 'Name'\]\): load it with "
            r"load_matlab_network\(\.\.\., custom_layers=\{'identityLayer': .*\}\), for example "
            r"custom_layers=\{'identityLayer': keras.layers.Identity\}")):
        build_network(network)


def test_a_custom_middle_layer_loads_when_supplied(saved, original, rng):
    network = _with_middle(saved, "identity", "myLayers.identityLayer", {})
    model = build_network(network, custom_layers={"identityLayer": keras.layers.Identity})
    assert isinstance(model.get_layer("identity"), keras.layers.Identity)
    x = _x(rng)
    np.testing.assert_array_equal(np.asarray(model(x)), np.asarray(original(x)))


def test_a_factory_receives_the_saved_fields(saved, original, rng):
    """A scaling layer that saved its factor: the factory builds it from the field."""
    network = _with_middle(saved, "scale", "scalingLayer", {"Factor": np.array([[2.5]])})
    model = build_network(network, custom_layers={"scalingLayer": lambda fields, name: (
        keras.layers.Rescaling(float(fields["Factor"].ravel()[0]), name=name))})
    x = _x(rng)
    logits = keras.Model(original.inputs, original.get_layer("fc").output)(x)
    expected = keras.ops.softmax(2.5 * logits, axis=-1)
    assert float(np.max(np.abs(np.asarray(model(x)) - np.asarray(expected)))) <= 1e-6


def test_none_drops_only_an_output_layer(saved):
    network = _with_middle(saved, "identity", "identityLayer", {})
    with pytest.raises(MatFileError, match="drops an output layer only; layer 4 'identity' has "
                                           "layers after it"):
        build_network(network, custom_layers={"identityLayer": None})


def test_a_wrong_custom_layers_value_is_named(saved):
    network = _with_middle(saved, "identity", "identityLayer", {})
    with pytest.raises(MatFileError, match=r"custom_layers\['identityLayer'\] must be a Keras "
                                           r"layer class"):
        build_network(network, custom_layers={"identityLayer": "Identity"})


def test_an_onnx_importers_custom_output_layer_is_left_out(saved, original, rng):
    """nnet.onnx.layer.CustomOutputLayer: what MATLAB's ONNX importer puts last where the
    model names no loss; it passes the scores on."""
    network = copy.deepcopy(saved)
    network.layers[-1].matlab_class = "nnet.onnx.layer.CustomOutputLayer"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = build_network(network)
    x = _x(rng)
    np.testing.assert_array_equal(np.asarray(model(x)), np.asarray(original(x)))
