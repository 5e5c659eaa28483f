"""XLA under MATLAB-style prediction (``matkeras._forward``): the compiled forward pass equals the
plain one on padded batches of mixed lengths, stateful prediction and forecasting included; the
rule that chooses it; and the exports, which never use it."""

import keras
import numpy as np
import pytest

from matkeras import _forward, assemble_network, export
from matkeras import inference as I
from matkeras.matlab import (
    bilstmLayer,
    fullyConnectedLayer,
    gruLayer,
    lstmLayer,
    regressionLayer,
    sequenceInputLayer,
    softmaxLayer,
)
from tests import tolerances as tol

XLA_ATOL = tol.XLA_ATOL


def _network(recurrent, outputs=3):
    keras.utils.set_random_seed(3)
    return assemble_network([sequenceInputLayer(3), *recurrent,
                             fullyConnectedLayer(outputs), regressionLayer()])


#: Sequence output through two LSTMs; a GRU into a BiLSTM with its last output.
NETWORKS = {
    "lstm-sequence": lambda: _network([lstmLayer(9), lstmLayer(5)]),
    "gru-bilstm-last": lambda: _network([gruLayer(6), bilstmLayer(4, OutputMode="last")]),
}


def _sequences(rng, lengths=(7, 3, 12, 1, 9)):
    return [rng.normal(0, 1, (t, 3)).astype("float32") for t in lengths]


def _max_diff(a, b):
    a = a if isinstance(a, list) else [a]
    b = b if isinstance(b, list) else [b]
    return max(float(np.max(np.abs(np.asarray(p, np.float64) - np.asarray(q, np.float64))))
               for p, q in zip(a, b, strict=True))


@pytest.fixture(scope="module", params=sorted(NETWORKS))
def network(request):
    return NETWORKS[request.param]()


def test_compiled_prediction_equals_the_plain_one_on_mixed_lengths(network, rng):
    """Right padding here, left padding in the stateful test below."""
    x = _sequences(rng)
    plain = I.predict(network, x, xla=False, mini_batch_size=3)
    compiled = I.predict(network, x, xla=True, mini_batch_size=3)
    error = _max_diff(plain, compiled)
    print(f"XLA vs plain, right padding: max |diff| {error:.1e}")
    assert error <= XLA_ATOL


def test_compiled_stateful_prediction_equals_the_plain_one(network, rng):
    """predict_and_update_state in two calls (the second continuing from the stored state of
    each observation; left padding), then in split chunks: outputs and stored states agree."""
    x = _sequences(rng)
    results = {}
    for xla in (False, True):
        I.reset_state(network)
        first = I.predict_and_update_state(network, x, mini_batch_size=2, xla=xla,
                                           padding_direction="left")
        second = I.predict_and_update_state(network, [s[:4] for s in x], xla=xla)
        chunked = I.predict(network, x, sequence_length=4, xla=xla)
        results[xla] = (first, second, chunked, I.get_state(network))
    I.reset_state(network)
    for plain, compiled in zip(results[False][:3], results[True][:3], strict=True):
        assert _max_diff(plain, compiled) <= XLA_ATOL
    states = [(results[False][3][name][k], results[True][3][name][k])
              for name in results[False][3] for k in results[False][3][name]]
    assert states and all(_max_diff(p, c) <= XLA_ATOL for p, c in states)


def test_compiled_closed_loop_forecast_equals_the_plain_one(rng):
    model = NETWORKS["lstm-sequence"]()
    x = _sequences(rng, (10, 6))
    plain = I.forecast(model, x, steps=6, xla=False)
    compiled = I.forecast(model, x, steps=6, xla=True)
    assert _max_diff(plain, compiled) <= XLA_ATOL


def test_the_rule_takes_xla_for_many_calls_of_one_shape_of_lstm_networks(monkeypatch):
    monkeypatch.delenv("MATKERAS_XLA", raising=False)
    lstm, mixed = NETWORKS["lstm-sequence"](), NETWORKS["gru-bilstm-last"]()
    layers = I._stateful_layers(lstm)
    assert _forward.use_xla(lstm, layers, _forward.XLA_REPEATS)
    assert not _forward.use_xla(lstm, layers, _forward.XLA_REPEATS - 1)
    assert not _forward.use_xla(mixed, I._stateful_layers(mixed), 10 * _forward.XLA_REPEATS)
    assert not _forward.use_xla(lstm, layers, 10 ** 6, xla=False)
    assert _forward.use_xla(mixed, [], 1, xla=True)
    monkeypatch.setenv("MATKERAS_XLA", "off")
    assert not _forward.use_xla(lstm, layers, 10 ** 6)
    monkeypatch.setenv("MATKERAS_XLA", "on")
    assert _forward.use_xla(mixed, [], 1)
    monkeypatch.setenv("MATKERAS_XLA", "sometimes")
    with pytest.raises(ValueError, match="MATKERAS_XLA must be one of"):
        _forward.use_xla(lstm, layers, 1)
    with pytest.raises(ValueError, match="xla must be True, False or 'auto'"):
        I.predict(lstm, np.zeros((4, 3), "float32"), xla="yes")


def test_varying_lengths_reuse_one_trace(rng):
    """Mini-batches of any length and size run through the traced function of their kind
    (batch 1 or any, one step or any), not one trace per shape."""
    model = _network([lstmLayer(4)])
    I.predict(model, _sequences(rng, (3, 8, 5, 11, 2, 6, 4)), mini_batch_size=2)
    I.predict(model, _sequences(rng, (13,)))
    functions = _forward._FUNCTIONS[model]
    kinds = sorted((key[:3] for key in functions), key=str)
    assert kinds == sorted([(None, None, False), (1, None, False)], key=str)
    assert all(hasattr(f, "graph") for f in functions.values())  # one concrete trace each


def test_exports_after_compiled_prediction_are_unaffected(tmp_path, rng):
    """SavedModel and TFLite trace the model themselves, without XLA: after XLA predictions
    both still equal the Keras model, and the SavedModel graph asks for no XLA compilation."""
    import tensorflow as tf

    from tests.test_export import _plain_litert

    keras.utils.set_random_seed(5)
    model = assemble_network([sequenceInputLayer(3), lstmLayer(6), fullyConnectedLayer(2),
                              softmaxLayer()])
    x = rng.normal(0, 1, (2, 9, 3)).astype("float32")
    I.predict(model, list(x), xla=True)
    expected = keras.ops.convert_to_numpy(model(x))
    export.export_saved_model(model, tmp_path / "saved")
    reloaded = tf.saved_model.load(str(tmp_path / "saved"))
    served = reloaded.signatures["serving_default"](x=tf.constant(x))
    assert _max_diff(served["y"].numpy(), expected) <= tol.FLOAT32_ATOL
    graph = reloaded.signatures["serving_default"].graph.as_graph_def()
    nodes = list(graph.node) + [n for f in graph.library.function for n in f.node_def]
    assert nodes and not any("_XlaMustCompile" in node.attr for node in nodes)
    path = export.export_tflite(model, tmp_path / "m.tflite", batch_size=2, time_steps=9)
    assert _max_diff(_plain_litert(path, x)[0], expected) <= tol.FLOAT32_ATOL


def _oracle_lstm_last(model, sequences, direction, stored=None):
    """The float64 numpy oracle of lstm(9) -> lstm(5, last) -> fc over each sequence padded to
    the longest in `direction` (MATLAB's predict in one mini-batch), from `stored` start states
    (``{layer name: (h, c)}`` per observation) or the initial ones."""
    from matkeras.data.padding import pad_sequences
    from tests.reference.lstm import lstm_forward

    first, second, fc = (layer for layer in model.layers
                         if hasattr(layer, "matlab_learnables") and layer.matlab_learnables()
                         and "InputWeights" in layer.matlab_learnables() or
                         type(layer).__name__ == "FullyConnected")
    batch, _ = pad_sequences(sequences, "longest", direction, 0.0)
    x = np.transpose(np.asarray(batch, np.float64), (2, 0, 1))  # (C, N, T)
    h = x
    for layer, last in ((first, False), (second, True)):
        p = layer.matlab_learnables()
        h0, c0 = (stored or {}).get(layer.name, (None, None))
        Y, hT, cT = lstm_forward(h, p["InputWeights"], p["RecurrentWeights"], p["Bias"], h0, c0)
        h = hT if last else Y
        if stored is not None:
            stored[layer.name] = (hT, cT)
    p = fc.matlab_learnables()
    return (np.asarray(p["Weights"], np.float64) @ h + np.ravel(p["Bias"])[:, None]).T


@pytest.mark.parametrize("direction", ["right", "left"])
def test_xla_on_the_network_the_rule_compiles_matches_the_oracle(rng, direction):
    """lstm -> lstm(last) -> fc, the sequence-to-one network the rule puts under XLA: stateless
    and stateful prediction with either padding, against the float64 numpy oracle."""
    model = _network([lstmLayer(9), lstmLayer(5, OutputMode="last")])
    assert _forward.use_xla(model, I._stateful_layers(model), _forward.XLA_REPEATS)
    x = _sequences(rng, (7, 3, 12, 5))
    compiled = I.predict(model, x, xla=True, padding_direction=direction)
    oracle = _oracle_lstm_last(model, x, direction)
    error = _max_diff(compiled, oracle)
    print(f"XLA vs oracle, {direction} padding: max |diff| {error:.1e}")
    assert error <= tol.FLOAT32_ATOL
    I.reset_state(model)
    stored = {}
    _oracle_lstm_last(model, x, direction, stored)
    I.predict_and_update_state(model, x, xla=True, padding_direction=direction)
    follow = _sequences(rng, (4, 6, 2, 5))
    stateful = I.predict_and_update_state(model, follow, xla=True, padding_direction=direction)
    I.reset_state(model)
    oracle = _oracle_lstm_last(model, follow, direction, stored)
    assert _max_diff(stateful, oracle) <= tol.FLOAT32_ATOL
