"""Images in MATLAB-style prediction: predict, classify and minibatchpredict take Keras's
(N, h, w, c) and MATLAB's h x w x c x N (layout / InputDataFormats "SSCB", or "auto" by the
shape), one image or a list; images of another size are refused, never padded. The real
speech-command dlnetwork classifies a synthetic spectrogram batch with its saved class names."""

import matio
import numpy as np
import pytest

from matkeras import inference as I
from matkeras.converters import load_matlab_network
from matkeras.matlab import minibatchpredict, scores2label
from tests import tolerances as tol
from tests.conftest import fixture_path

SPEECH = "dlnetwork_speechcmd_cnn_trainnet2024.mat"


@pytest.fixture(scope="module")
def speech():
    model = load_matlab_network(fixture_path("matlab", "nets", SPEECH))
    saved = matio.load_from_mat(str(fixture_path(
        "matlab", "nets", SPEECH.replace(".mat", "__classes.mat"))))
    classes = [str(np.ravel(c)[0]) for c in np.ravel(saved["classes"])]
    return model, classes


def _spectrograms(rng, count):
    """Log-mel-like spectrograms (98 frames x 32 bands): a smooth band profile, a burst of
    energy in the middle frames, and noise, in MATLAB's range (about -10 to 2)."""
    frames, bands = np.arange(98)[:, None], np.arange(32)[None, :]
    images = []
    for _ in range(count):
        center, width = rng.uniform(30, 70), rng.uniform(5, 20)
        burst = np.exp(-0.5 * ((frames - center) / width) ** 2)
        profile = -0.15 * bands + rng.uniform(-1, 1)
        images.append(-6 + 6 * burst + profile * burst + rng.normal(0, 0.5, (98, 32)))
    return np.stack(images)[..., None].astype("float32")  # (N, 98, 32, 1)


def test_speech_network_classifies_spectrograms_with_its_class_names(speech, rng):
    model, classes = speech
    assert len(classes) == 8 and classes[-1] == "unknown"
    x = _spectrograms(rng, 10)
    scores = minibatchpredict(model, x, MiniBatchSize=4)
    direct = np.asarray(model(x))
    assert scores.shape == (10, 8)
    assert float(np.max(np.abs(scores - direct))) <= tol.FLOAT32_PAIR_ATOL
    labels, _ = scores2label(scores, classes)
    assert list(labels) == [classes[k] for k in np.argmax(direct, axis=1)]
    matlab = minibatchpredict(model, np.moveaxis(x, 0, 3), MiniBatchSize=4,
                              InputDataFormats="SSCB")  # MATLAB's 98 x 32 x 1 x N
    np.testing.assert_array_equal(matlab, scores)
    print("speech-command labels of 10 synthetic spectrograms:", list(labels))


def test_images_in_every_form_give_the_same_scores(speech, rng):
    model, _ = speech
    x = _spectrograms(rng, 3)
    keras_layout = I.predict(model, x)
    for form in (np.moveaxis(x, 0, 3), list(x), [image[..., 0] for image in x]):
        np.testing.assert_array_equal(I.predict(model, form), keras_layout)
    np.testing.assert_array_equal(I.predict(model, np.moveaxis(x, 0, 3), layout="SSCB"),
                                  keras_layout)
    one = I.predict(model, x[1])
    assert one.shape == (1, 8)
    assert float(np.max(np.abs(one - keras_layout[1:2]))) <= tol.FLOAT32_PAIR_ATOL


def test_classify_uses_the_classification_layers_classes(rng):
    model = load_matlab_network(fixture_path(
        "matlab", "nets", "series_ecg_polar_groupedconv2d_classweights.mat"))
    x = rng.uniform(0, 0.2, (2, 512, 512, 7)).astype("float32")
    labels, scores = I.classify(model, x)
    assert scores.shape == (2, 3)
    assert list(labels) == [["1", "2", "3"][k] for k in np.argmax(scores, axis=1)]


@pytest.mark.parametrize(("shape", "options", "message"), [
    ((2, 97, 32, 1), {}, r"do not fit the network's input size \(h, w, c\) = \(98, 32, 1\)"),
    ((98, 32, 1, 2), {"layout": "BSSC"}, r"\(BSSC\) do not fit"),
    ((2, 98, 32, 1), {"layout": "HWCN"}, "layout for images must be one of"),
    ((2, 98, 32, 1), {"sequence_length": 10}, "applies to sequences; this is an image network"),
])
def test_wrong_images_are_refused_with_a_clear_error(speech, shape, options, message):
    model, _ = speech
    with pytest.raises(ValueError, match=message):
        I.predict(model, np.zeros(shape, "float32"), **options)


def test_a_list_image_of_another_size_is_named(speech):
    model, _ = speech
    with pytest.raises(ValueError, match=r"Image 1 has shape \(98, 31, 1\)"):
        I.predict(model, [np.zeros((98, 32, 1)), np.zeros((98, 31, 1))])
    with pytest.raises(ValueError, match="Image 0 contains NaN"):
        I.predict(model, [np.full((98, 32, 1), np.nan)])


@pytest.fixture(scope="module")
def image_data():
    """Two classes of 8 x 8 images (class b brighter in the top half), both layouts."""
    rng = np.random.default_rng(5)
    x = rng.normal(2.0, 1.0, (48, 8, 8, 1)).astype("float32")
    y = np.array(["a", "b"] * 24)
    x[y == "b", :4] += 1.5
    return x, y


def _image_layers(output):
    from matkeras.matlab import (
        convolution2dLayer,
        fullyConnectedLayer,
        imageInputLayer,
        maxPooling2dLayer,
        reluLayer,
        softmaxLayer,
    )

    return [imageInputLayer([8, 8, 1]), convolution2dLayer(3, 4, Padding="same"), reluLayer(),
            maxPooling2dLayer(2, Stride=2), fullyConnectedLayer(2), softmaxLayer(), *output]


def test_train_network_on_images_with_class_weights_and_matlab_layout(image_data):
    """trainNetwork on MATLAB's h x w x c x N images: imageInputLayer's zerocenter mean is
    computed from them per channel (ResetInputNormalization), class weights go to the loss."""
    from matkeras.matlab import classificationLayer, trainingOptions, trainNetwork

    x, y = image_data
    layers = _image_layers([classificationLayer(Classes=["a", "b"], ClassWeights=[1.0, 3.0])])
    options = trainingOptions("adam", MaxEpochs=15, MiniBatchSize=8, Verbose=False, Seed=0,
                              InitialLearnRate=0.01)
    net = trainNetwork(np.moveaxis(x, 0, 3), y, layers, options)
    np.testing.assert_allclose(net.layers[1].statistic("mean"), [x.mean()], rtol=1e-5)
    assert net.loss.class_weights == [1.0, 3.0]
    labels, _ = I.classify(net, x)
    assert np.mean(labels == y) >= 0.9


def test_trainnet_on_images(image_data):
    from matkeras.matlab import trainingOptions, trainnet

    x, y = image_data
    options = trainingOptions("adam", MaxEpochs=15, MiniBatchSize=8, Verbose=False, Seed=0,
                              InitialLearnRate=0.01)
    net, info = trainnet(x, y, _image_layers([]), "crossentropy", options)
    labels, _ = scores2label(minibatchpredict(net, x), info.ClassNames)
    assert np.mean(labels == y) >= 0.9
