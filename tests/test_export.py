"""Deployment: SavedModel reload and TFLite (LiteRT interpreter) agree with the Keras model.

Each network is exported at batch 1, and one of each kind at batch 8; TFLite op lists are read
from the interpreter: no Flex/custom ops ever, and tanh/sigmoid LSTMs run as TFLite's fused LSTM
op.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from matkeras import assemble_network, export
from matkeras import layers as L
from matkeras.converters import load_matlab_network
from matkeras.matlab import (
    batchNormalizationLayer,
    bilstmLayer,
    classificationLayer,
    convolution1dLayer,
    fullyConnectedLayer,
    groupNormalizationLayer,
    gruLayer,
    gruProjectedLayer,
    layerNormalizationLayer,
    lstmLayer,
    lstmProjectedLayer,
    maxPooling1dLayer,
    regressionLayer,
    reluLayer,
    sequenceInputLayer,
    softmaxLayer,
    spatialDropoutLayer,
)
from tests.conftest import fixture_path

TOLERANCE = 1e-5
FUSED = "UNIDIRECTIONAL_SEQUENCE_LSTM"


def _classification():
    return assemble_network([sequenceInputLayer(12), lstmLayer(100, OutputMode="last"),
                             fullyConnectedLayer(9), softmaxLayer(), classificationLayer()])


def _regression():
    return assemble_network([sequenceInputLayer(3), lstmLayer(20), fullyConnectedLayer(1),
                             regressionLayer()])


def _gru(mode):
    return lambda: assemble_network([sequenceInputLayer(4), gruLayer(10, ResetGateMode=mode),
                                     fullyConnectedLayer(2), regressionLayer()])


def _bilstm():
    return assemble_network([sequenceInputLayer(4), bilstmLayer(7, OutputMode="last"),
                             fullyConnectedLayer(3), softmaxLayer(), classificationLayer()])


def _bilstm_sequence():
    return assemble_network([sequenceInputLayer(4), bilstmLayer(5), fullyConnectedLayer(2),
                             regressionLayer()])


def _matlab_activations():
    return assemble_network([
        sequenceInputLayer(4),
        lstmLayer(8, StateActivationFunction="softsign", GateActivationFunction="hard-sigmoid"),
        fullyConnectedLayer(2), regressionLayer()])


def _every_layer():
    """Normalization (batch, layer, group), convolution, pooling, projected layers, relu,
    spatial dropout: the rest of the layer set."""
    net = assemble_network([
        sequenceInputLayer(4, Normalization="zscore", Mean=[0.1, 0.2, -0.1, 0.0],
                           StandardDeviation=[1.0, 2.0, 0.5, 1.5]),
        convolution1dLayer(3, 6, Padding="causal"), batchNormalizationLayer(), reluLayer(),
        spatialDropoutLayer(), maxPooling1dLayer(2, Padding="same"), layerNormalizationLayer(),
        groupNormalizationLayer(3),
        lstmProjectedLayer(8, 3, 2),
        gruProjectedLayer(6, 3, 2, ResetGateMode="recurrent-bias-after-multiplication"),
        fullyConnectedLayer(2), regressionLayer()])
    rng = np.random.default_rng(5)
    for layer in net.layers:  # non-trivial normalization statistics
        if isinstance(layer, L.BatchNormalization):
            layer.set_matlab_weights(trained_mean=rng.normal(0, 0.3, 6),
                                     trained_variance=rng.uniform(0.5, 2, 6))
    return net


def _rossler():
    return load_matlab_network(fixture_path("matlab", "nets", "rossler_lstm60.mat"))


NETWORKS = {
    "classification": (_classification, 12, True),
    "regression": (_regression, 3, True),
    "gru-after": (_gru("after-multiplication"), 4, False),
    "gru-before": (_gru("before-multiplication"), 4, False),
    "gru-recurrent-bias": (_gru("recurrent-bias-after-multiplication"), 4, False),
    "bilstm-last": (_bilstm, 4, True),
    "bilstm-sequence": (_bilstm_sequence, 4, True),
    "softsign-hard-sigmoid": (_matlab_activations, 4, False),
    "every-layer": (_every_layer, 4, False),
    "rossler_lstm60": (_rossler, 3, True),
}


@pytest.fixture(scope="module")
def built():
    cache = {}

    def get(name):
        if name not in cache:
            keras.utils.set_random_seed(3)
            cache[name] = NETWORKS[name][0]()
        return cache[name]

    return get


def _keras(model, x):
    return keras.ops.convert_to_numpy(model(x, training=False))


#: Every network once: at batch 8 one of each way TFLite runs a recurrence (the fused LSTM op,
#: one direction and both; a builtin WHILE loop, GRU; the rest of the layer set), the others at
#: batch 1 (the fused op and the loop at batch 1 run in the rest).
BATCHED = ("classification", "bilstm-sequence", "gru-recurrent-bias", "every-layer")
CASES = [(name, 1) for name in NETWORKS if name not in BATCHED] + [(n, 8) for n in BATCHED]


@pytest.mark.parametrize(("name", "batch"), CASES, ids=[f"{n}-{b}" for n, b in CASES])
def test_tflite_agrees_with_keras_with_builtin_ops_only(built, tmp_path, name, batch):
    model = built(name)
    features, fusable = NETWORKS[name][1:]
    x = np.random.default_rng(batch).normal(0, 1, (batch, 17, features)).astype("float32")
    path = export.export_tflite(model, tmp_path / f"{name}.tflite", batch_size=batch)
    ops = export.tflite_ops(path)
    assert not [op for op in ops if op.startswith("Flex") or op == "CUSTOM"], ops
    assert (FUSED in ops) == fusable, ops
    run = export.tflite_runner(path)
    got = run(x)["y"]
    assert np.max(np.abs(got - _keras(model, x))) <= TOLERANCE
    shorter = x[:, :5]  # any number of time steps; every call starts from the initial states
    assert np.max(np.abs(run(shorter)["y"] - _keras(model, shorter))) <= TOLERANCE
    np.testing.assert_array_equal(run(x)["y"], got)


@pytest.mark.parametrize("name", NETWORKS)
def test_saved_model_reloads_with_free_batch_and_time(built, tmp_path, name):
    model = built(name)
    features = NETWORKS[name][1]
    path = export.export_saved_model(model, tmp_path / "saved")
    loaded = tf.saved_model.load(path)
    layer = keras.layers.TFSMLayer(path, call_endpoint="serving_default")
    for batch, steps in ((1, 9), (8, 23)):
        x = np.random.default_rng(steps).normal(0, 1, (batch, steps, features)).astype(
            "float32")
        expected = _keras(model, x)
        got = loaded.signatures["serving_default"](x=tf.constant(x))["y"].numpy()
        assert np.max(np.abs(got - expected)) <= TOLERANCE
        assert np.max(np.abs(layer(x)["y"].numpy() - expected)) <= TOLERANCE


def _stream(step, x, state_shapes):
    states = {name: np.zeros(shape, np.float32) for name, shape in state_shapes.items()}
    outputs = []
    for t in range(x.shape[1]):
        result = step(x[:, t:t + 1], states)
        outputs.append(np.asarray(result["y"]))
        states = {name: np.asarray(result[name]) for name in states}
    return np.concatenate(outputs, axis=1), states


def _state_shapes(model, batch):
    return {f"{layer.name}_{argument}": (batch, layer.units)
            for layer in model.layers if isinstance(layer, (L.LSTM, L.GRU))
            for argument, _ in layer._STATES}


@pytest.mark.parametrize("name", ["regression", "gru-after", "softsign-hard-sigmoid",
                                  "rossler_lstm60"])
def test_streaming_one_step_at_a_time_reproduces_the_sequence(built, tmp_path, name):
    model = built(name)
    features = NETWORKS[name][1]
    x = np.random.default_rng(0).normal(0, 1, (2, 12, features)).astype("float32")
    expected = _keras(model, x)
    tflite = export.tflite_runner(export.export_tflite(
        model, tmp_path / "stream.tflite", batch_size=2, streaming=True))
    assert FUSED not in export.tflite_ops(tmp_path / "stream.tflite")  # states go in and out
    streamed, _ = _stream(lambda xt, s: tflite(xt, **s), x, _state_shapes(model, 2))
    assert np.max(np.abs(streamed - expected)) <= TOLERANCE
    saved = tf.saved_model.load(export.export_saved_model(model, tmp_path / "s", streaming=True))
    signature = saved.signatures["streaming"]
    served, states = _stream(lambda xt, s: {k: v.numpy() for k, v in signature(
        x=tf.constant(xt), **{k: tf.constant(v) for k, v in s.items()}).items()}, x,
        _state_shapes(model, 2))
    assert np.max(np.abs(served - expected)) <= TOLERANCE
    np.testing.assert_allclose(states[next(iter(states))], _final_hidden(model, x), atol=1e-5)


def _final_hidden(model, x):
    """The first recurrent layer's hidden state after the whole sequence, from inference."""
    from matkeras import inference

    inference.reset_state(model)
    inference.predict_and_update_state(model, list(x))
    layer = next(layer for layer in model.layers if isinstance(layer, (L.LSTM, L.GRU)))
    state = inference.get_state(model)[layer.name]["hidden_state"]
    inference.reset_state(model)
    return state


def test_existing_files_are_not_overwritten(built, tmp_path):
    path = tmp_path / "net.tflite"
    path.write_bytes(b"mine")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        export.export_tflite(built("regression"), path)
    assert path.read_bytes() == b"mine"
    export.export_tflite(built("regression"), path, overwrite=True)
    assert path.read_bytes() != b"mine"
    with pytest.raises(ValueError, match="quantize must be one of"):
        export.export_tflite(built("regression"), tmp_path / "q.tflite", quantize="int4")
    with pytest.raises(ValueError, match="float32 model"):
        export.export_tflite(keras.Sequential([keras.Input((None, 2), dtype="float64"),
                                               L.LSTM(2, dtype="float64")]),
                             tmp_path / "d.tflite")


@pytest.mark.parametrize("quantize", ["float16", "dynamic-int8"])
def test_quantized_models_stay_close_and_shrink(built, tmp_path, quantize):
    model = built("classification")
    x = np.random.default_rng(0).normal(0, 1, (1, 20, 12)).astype("float32")
    plain = export.export_tflite(model, tmp_path / "plain.tflite")
    small = export.export_tflite(model, tmp_path / "small.tflite", quantize=quantize)
    assert (tmp_path / "small.tflite").stat().st_size < 0.6 * (tmp_path / "plain.tflite").stat(
    ).st_size
    assert FUSED in export.tflite_ops(small)
    got = export.tflite_runner(small)(x)["y"]
    assert np.max(np.abs(got - export.tflite_runner(plain)(x)["y"])) <= 0.05


def test_fused_lstm_state_does_not_leak_between_calls_or_clip(tmp_path):
    """TFLite's fused LSTM op keeps its state in variable tensors and its converter sets a cell
    clip of 10: the runner resets the state each call and the export turns the clip off. Here
    the cell state climbs to 20, then falls by 15: with the clip it would end at -5, not +5."""
    layer = L.LSTM(1)
    model = keras.Sequential([keras.Input((None, 1)), layer])
    layer.set_matlab_weights(input_weights=np.array([[0.0], [0.0], [20.0], [0.0]]),
                             recurrent_weights=np.zeros((4, 1)),
                             bias=np.array([20.0, 20.0, 0.0, 20.0]))
    x = np.concatenate([np.ones(20), -np.ones(15)]).reshape(1, 35, 1).astype("float32")
    path = export.export_tflite(model, tmp_path / "climb.tflite")
    assert FUSED in export.tflite_ops(path)
    run = export.tflite_runner(path)
    expected = _keras(model, x)
    assert expected[0, -1, 0] > 0.99
    for _ in range(2):
        assert np.max(np.abs(run(x)["y"] - expected)) <= TOLERANCE


def test_nonzero_initial_states_are_exported_without_the_fused_op(tmp_path, rng):
    layer = L.LSTM(3, hidden_state=[0.5, -0.2, 0.1], cell_state=[1.0, 0.0, -1.0])
    model = keras.Sequential([keras.Input((None, 2)), layer])
    x = rng.normal(size=(1, 6, 2)).astype("float32")
    path = export.export_tflite(model, tmp_path / "state.tflite")
    assert FUSED not in export.tflite_ops(path)
    run = export.tflite_runner(path)
    for _ in range(2):
        assert np.max(np.abs(run(x)["y"] - _keras(model, x))) <= TOLERANCE


def _plain_litert(path, x):
    """The model run by a plain LiteRT interpreter as any runtime would: no resizing."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path))
    interpreter.allocate_tensors()
    detail = interpreter.get_input_details()[0]
    interpreter.set_tensor(detail["index"], x)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"]), detail


@pytest.mark.parametrize("kind", ["lstm", "gru"])  # the fused LSTM op; a builtin WHILE loop
def test_default_export_takes_the_model_input_shape(tmp_path, kind):
    keras.utils.set_random_seed(11)
    inputs = keras.Input((20, 4))
    recurrent = L.LSTM(6, name="rnn") if kind == "lstm" else L.GRU(6, name="rnn")
    model = keras.Model(inputs, keras.layers.Dense(2)(recurrent(inputs)))
    x = np.random.default_rng(2).normal(0, 1, (1, 20, 4)).astype("float32")
    path = export.export_tflite(model, tmp_path / "fixed.tflite")
    got, detail = _plain_litert(path, x)
    assert list(detail["shape"]) == [1, 20, 4] and list(detail["shape_signature"]) == [1, 20, 4]
    assert np.max(np.abs(got - _keras(model, x))) <= TOLERANCE
    assert (FUSED in export.tflite_ops(path)) == (kind == "lstm")


def test_default_export_keeps_a_fixed_batch_and_a_free_time_axis_on_request(tmp_path):
    keras.utils.set_random_seed(12)
    inputs = keras.Input((20, 4), batch_size=3)
    model = keras.Model(inputs, L.LSTM(5, output_mode="last")(inputs))
    x = np.random.default_rng(3).normal(0, 1, (3, 20, 4)).astype("float32")
    got, detail = _plain_litert(export.export_tflite(model, tmp_path / "batch3.tflite"), x)
    assert list(detail["shape"]) == [3, 20, 4]
    assert np.max(np.abs(got - _keras(model, x))) <= TOLERANCE
    free = export.export_tflite(model, tmp_path / "free.tflite", batch_size=1, time_steps=None)
    _, detail = _plain_litert(free, x[:1, :1])  # stored as 1 step: runtimes must resize
    assert list(detail["shape_signature"]) == [1, -1, 4]
    assert np.max(np.abs(export.tflite_runner(free)(x[:1])["y"] - _keras(model, x[:1]))) \
        <= TOLERANCE
    free_inputs = keras.Input((None, 4))  # a free axis in the model stays free by default
    free_model = keras.Model(free_inputs, model.layers[-1](free_inputs))
    assert list(_plain_litert(export.export_tflite(free_model, tmp_path / "any.tflite"),
                              x[:1, :1])[1]["shape_signature"]) == [1, -1, 4]


def test_export_sizes_are_checked(built, tmp_path):
    for arguments, message in (({"batch_size": 0}, "batch_size must be a positive integer"),
                               ({"time_steps": 2.5}, "time_steps must be a positive integer"),
                               ({"time_steps": "any"}, "None \\(a free time axis\\)")):
        with pytest.raises(ValueError, match=message):
            export.export_tflite(built("regression"), tmp_path / "x.tflite", **arguments)
