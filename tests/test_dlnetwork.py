"""The dlnetwork object (matkeras.dlnetwork): construction, MATLAB-shaped Learnables and State
tables, the dlnetwork way of stateful prediction (``[Y, state] = predict(net, X)``,
``net.State = state``, ``resetState``) against predictAndUpdateState and the float64 oracle,
and reloading a trainnet-trained network from a .keras file in a fresh process."""


import keras
import numpy as np
import pytest

from matkeras import inference
from matkeras import layers as L
from matkeras._table import Table
from matkeras.dlnetwork import DLNetwork
from matkeras.matlab import (
    additionLayer,
    addLayers,
    batchNormalizationLayer,
    connectLayers,
    disconnectLayers,
    dlnetwork,
    fullyConnectedLayer,
    initialize,
    lstmLayer,
    predict,
    predictAndUpdateState,
    removeLayers,
    replaceLayer,
    resetState,
    sequenceInputLayer,
    softmaxLayer,
    trainingOptions,
    trainnet,
)
from tests import tolerances as tol
from tests.fresh_reload import reload_case
from tests.layers.lstm_helpers import random_lstm_params, to_cbt, wrb
from tests.precision import float64  # noqa: F401  (fixture)
from tests.reference.lstm import lstm_forward

C, H = 3, 5


def _lstm_net(rng, dtype="float64"):
    """sequenceInput(3) -> lstm(5) (MATLAB-layout random weights) -> fc(2), float64."""
    params = random_lstm_params(rng, C, H)
    layers = [L.SequenceInput(C, dtype=dtype, name="input"), L.LSTM(H, dtype=dtype, name="lstm"),
              L.FullyConnected(2, dtype=dtype, name="fc")]
    net = dlnetwork(layers)
    net.model.get_layer("lstm").set_matlab_weights(**params)
    return net, params


class TestConstruction:
    def test_learnables_are_in_matlab_layout(self, rng):
        net, params = _lstm_net(rng)
        table = net.Learnables
        assert table.columns == ["Layer", "Parameter", "Value"]
        assert table.Layer == ["lstm", "lstm", "lstm", "fc", "fc"]
        assert table.Parameter == ["InputWeights", "RecurrentWeights", "Bias", "Weights", "Bias"]
        assert [v.shape for v in table.Value] == [(4 * H, C), (4 * H, H), (4 * H,), (2, H),
                                                  (2,)]
        for row, key in zip(table, ("input_weights", "recurrent_weights", "bias"),
                            strict=False):
            np.testing.assert_array_equal(row["Value"], params[key])
        columns = table.to_dict()  # what pandas.DataFrame takes
        assert list(columns) == table.columns and columns["Layer"] == table.Layer
        np.testing.assert_array_equal(columns["Value"][1], params["recurrent_weights"])

    def test_learnables_assignment_writes_the_weights(self, rng):
        net, _ = _lstm_net(rng)
        table = net.Learnables
        rows = [dict(row) for row in table]
        rows[3]["Value"] = rows[3]["Value"] * 2  # fc Weights
        net.Learnables = Table(table.columns, rows)
        np.testing.assert_array_equal(net.Learnables.Value[3], table.Value[3] * 2)
        with pytest.raises(TypeError, match="columns Layer, Parameter, Value"):
            net.Learnables = {"fc": 1}
        with pytest.raises(ValueError, match="no layer named 'nope'"):
            net.Learnables = Table(table.columns, [["nope", "Weights", np.zeros(2)]])

    def test_uninitialized_network_is_built_by_initialize(self, rng):
        lstm = lstmLayer(4, Name="lstm")
        net = dlnetwork([sequenceInputLayer(3, Name="in"), lstm, fullyConnectedLayer(2)],
                        Initialize=False)
        assert not net.Initialized and len(net.Learnables) == 0
        with pytest.raises(ValueError, match="not initialized: call initialize"):
            net.model  # noqa: B018
        assert initialize(net) is net and net.Initialized
        assert net.InputNames == ["in"] and len(net.Learnables) == 5

    def test_learnables_set_before_initialize_are_kept(self, rng):
        params = random_lstm_params(rng, 3, 4)
        lstm = lstmLayer(4, Name="lstm")
        lstm.set_matlab_weights(**params)
        net = initialize(dlnetwork([sequenceInputLayer(3), lstm], Initialize=False))
        np.testing.assert_allclose(net.Learnables.Value[0], params["input_weights"],
                                   atol=tol.FLOAT32_ATOL)

    def test_one_layer_array_makes_independent_networks(self, rng):
        layers = [sequenceInputLayer(3), lstmLayer(4, OutputMode="last"),
                  fullyConnectedLayer(2), softmaxLayer()]
        first, second = dlnetwork(layers), dlnetwork(layers)
        second.model.set_weights(first.model.get_weights())
        before = [np.array(w) for w in second.model.get_weights()]
        X = [rng.normal(size=(6, 3)) for _ in range(8)]
        trainnet(X, np.array(["a", "b"] * 4), first, "crossentropy",
                 trainingOptions("adam", MaxEpochs=2, Verbose=False))
        for w, b in zip(second.model.get_weights(), before, strict=True):
            np.testing.assert_array_equal(w, b)
        assert any(np.max(np.abs(w - b)) > 0 for w, b in zip(
            first.model.get_weights(), before, strict=True))

    def test_wraps_a_keras_model_and_names_outputs(self, rng):
        net, _ = _lstm_net(rng)
        wrapped = dlnetwork(net.model)
        assert wrapped.model is net.model
        assert wrapped.OutputNames == ["fc"] and wrapped.InputNames == ["input"]
        assert "initialized" in repr(wrapped)


class TestGraphEditing:
    @pytest.mark.usefixtures("float64")
    def test_a_graph_built_by_editing_computes_its_equations(self, rng):
        """MATLAB's way: an empty dlnetwork, addLayers, connectLayers, initialize. The skip
        connection's sum checked against numpy from the MATLAB-layout Learnables."""
        net = dlnetwork()
        net = addLayers(net, [sequenceInputLayer(3, Name="in"), fullyConnectedLayer(4, Name="fc1"),
                              additionLayer(2, Name="add"), fullyConnectedLayer(2, Name="out")])
        net = addLayers(net, fullyConnectedLayer(4, Name="skip"))
        net = connectLayers(net, "in", "skip")
        net = connectLayers(net, "skip", "add/in2")
        assert not net.Initialized
        assert ("skip", "add/in2") in [tuple(r.values()) for r in net.Connections]
        net = initialize(net)
        assert net.InputNames == ["in"] and net.OutputNames == ["out"]
        values = {(r["Layer"], r["Parameter"]): r["Value"] for r in net.Learnables}
        x = rng.normal(size=(2, 5, 3))

        def fc(name, z):
            return z @ values[(name, "Weights")].T + values[(name, "Bias")]

        expected = fc("out", fc("fc1", x) + fc("skip", x))
        got = keras.ops.convert_to_numpy(net.model(x))
        print(f"edited graph vs numpy: max |diff| {np.max(np.abs(got - expected)):.2e}")
        assert np.max(np.abs(got - expected)) <= tol.FLOAT64_ATOL

    def test_replace_layer_keeps_the_other_learnables(self, rng):
        X = [rng.normal(size=(6, 3)) for _ in range(12)]
        net, _ = trainnet(X, np.array(["a", "b", "c"] * 4), [
            sequenceInputLayer(3, Name="in"), lstmLayer(4, OutputMode="last", Name="lstm"),
            fullyConnectedLayer(3, Name="fc"), softmaxLayer(Name="sm")], "crossentropy",
            trainingOptions("adam", MaxEpochs=2, Verbose=False))
        trained = {(r["Layer"], r["Parameter"]): r["Value"] for r in net.Learnables}
        edited = replaceLayer(net, "fc", fullyConnectedLayer(5, Name="fc5"))
        assert not edited.Initialized and net.Initialized
        assert [layer.name for layer in net.Layers] == ["in", "lstm", "fc", "sm"]
        edited = initialize(edited)
        after = {(r["Layer"], r["Parameter"]): r["Value"] for r in edited.Learnables}
        for key in [("lstm", "InputWeights"), ("lstm", "RecurrentWeights"), ("lstm", "Bias")]:
            np.testing.assert_array_equal(after[key], trained[key])
        assert after[("fc5", "Weights")].shape == (5, 4)
        tuned, info = trainnet(X, np.array(list("vwxyz") * 2 + ["v", "w"]), edited,
                               "crossentropy", trainingOptions("adam", MaxEpochs=1,
                                                               Verbose=False))
        assert tuned is edited and len(info.ClassNames) == 5
        np.testing.assert_array_equal(net.Learnables.Value[0], trained[("lstm", "InputWeights")])

    def test_remove_and_disconnect(self, rng):
        net = dlnetwork([sequenceInputLayer(3, Name="in"), lstmLayer(4, Name="lstm"),
                         fullyConnectedLayer(2, Name="fc"), softmaxLayer(Name="sm")])
        assert initialize(removeLayers(net, "sm")).OutputNames == ["fc"]
        cut = disconnectLayers(net, "lstm", "fc")
        assert sorted(cut.OutputNames) == ["lstm", "sm"]
        with pytest.raises(ValueError, match="its input 'fc/in' is not connected"):
            initialize(cut)
        with pytest.raises(ValueError, match="wraps a keras.Model; its graph cannot be edited"):
            removeLayers(dlnetwork(net.model), "sm")


class TestStatefulPrediction:
    @pytest.mark.usefixtures("float64")
    def test_predict_and_state_assignment_equal_predict_and_update_state(self, rng):
        """Feeding a batch of 3 sequences in pieces: the dlnetwork way (predict with
        nargout=2, net.State = state) gives the classic predictAndUpdateState numbers, and
        both equal one pass of the float64 oracle over the whole sequences."""
        net, params = _lstm_net(rng)
        x = rng.normal(size=(3, 20, C))
        pieces = [(0, 6), (6, 7), (7, 20)]
        classic, current = [], []
        resetState(net.model)
        for start, stop in pieces:
            _, y = predictAndUpdateState(net.model, x[:, start:stop])
            classic.append(np.stack(y))
        classic_state = net.State
        resetState(net)
        for start, stop in pieces:
            y, state = predict(net, x[:, start:stop], nargout=2)
            net.State = state
            current.append(np.stack(y))
        whole_classic, whole_current = np.concatenate(classic, 1), np.concatenate(current, 1)
        assert np.max(np.abs(whole_classic - whole_current)) == 0.0
        for a, b in zip(classic_state.Value, net.State.Value, strict=True):
            np.testing.assert_array_equal(a, b)
        Y, hT, cT = lstm_forward(to_cbt(x), **wrb(params))
        fc = net.model.get_layer("fc")
        expected = np.transpose(Y, (1, 2, 0)) @ fc.matlab_weights.T + fc.bias
        worst = np.max(np.abs(whole_current - expected))
        print(f"piecewise dlnetwork-way prediction vs oracle: max |diff| {worst:.2e}")
        assert worst <= tol.FLOAT64_ATOL
        hidden, cell = net.State.Value
        assert hidden.shape == (H, 3)  # MATLAB's NumHiddenUnits x N
        assert np.max(np.abs(hidden - hT)) <= tol.FLOAT64_ATOL
        assert np.max(np.abs(cell - cT)) <= tol.FLOAT64_ATOL

    def test_predict_with_state_does_not_store_it(self, rng):
        net, _ = _lstm_net(rng)
        x = rng.normal(size=(2, 8, C))
        first, state = predict(net, x, nargout=2)
        np.testing.assert_array_equal(np.stack(predict(net, x)), np.stack(first))
        assert net.State.Value[0].shape == (H, 1)  # still the initial state
        assert state.Value[0].shape == (H, 2)
        net.State = state
        assert not np.array_equal(np.stack(predict(net, x)), np.stack(first))
        assert resetState(net) is net
        np.testing.assert_array_equal(np.stack(predict(net, x)), np.stack(first))

    def test_keras_model_gets_the_state_as_a_dict(self, rng):
        net, _ = _lstm_net(rng)
        x = rng.normal(size=(1, 8, C))
        y, state = predict(net.model, x, nargout=2)
        assert sorted(state) == ["lstm"] and state["lstm"]["hidden_state"].shape == (1, H)
        inference.set_state(net.model, state)
        _, expected = predictAndUpdateState(resetState(net.model), x)
        np.testing.assert_array_equal(inference.get_state(net.model)["lstm"]["cell_state"],
                                      state["lstm"]["cell_state"])
        with pytest.raises(ValueError, match="nargout must be 1 or 2"):
            predict(net, x, nargout=3)

    def test_batch_normalization_statistics_are_state(self, rng):
        net = dlnetwork([sequenceInputLayer(3), batchNormalizationLayer(Name="bn"),
                         lstmLayer(2, Name="lstm")])
        state = net.State
        assert state.Layer == ["bn", "bn", "lstm", "lstm"]
        assert state.Parameter == ["TrainedMean", "TrainedVariance", "HiddenState", "CellState"]
        assert state.Value[0].shape == (3, 1)
        rows = [dict(row) for row in state]
        rows[0]["Value"] = np.array([[1.0], [2.0], [3.0]])
        net.State = Table(state.columns, rows)
        np.testing.assert_allclose(net.model.get_layer("bn").trained_mean, [1, 2, 3])


@reload_case
def trainnet_network(rng):
    """A trainnet network with its loss and metrics (tests/test_fresh_process_reload.py)."""
    X = [rng.normal(size=(7, 3)) for _ in range(16)]
    layers = [sequenceInputLayer(3), lstmLayer(4, OutputMode="last"), fullyConnectedLayer(3),
              softmaxLayer()]
    net, _ = trainnet(X, np.array(["x", "y", "z", "x"] * 4), layers, "crossentropy",
                      trainingOptions("adam", MaxEpochs=1, Verbose=False,
                                      Metrics=["accuracy", "fscore"]))
    assert isinstance(net, DLNetwork)
    return net.model, np.stack(X[:4]).astype("float32"), {"type(model.loss).__name__":
                                                           "CrossEntropy"}
