"""matkeras.inference: MATLAB's predict/classify, stateful prediction, forecasting, activations.

Stored states are checked against the float64 numpy oracle; piecewise stateful prediction against
one whole-sequence prediction.
"""

import keras
import numpy as np
import pytest

from matkeras import inference
from matkeras import layers as L
from matkeras import matlab as M
from tests import tolerances as tol
from tests.layers.family_specs import SPECS
from tests.layers.lstm_helpers import random_lstm_params, to_cbt, wrb
from tests.reference.lstm import lstm_forward

C = 3
PIECES = [(0, 7), (7, 8), (8, 30), (30, 41)]  # uneven pieces, one of a single step


def _model(*layers, features=C, dtype=None):
    dtype = dtype or next((layer.dtype for layer in layers), None)
    return keras.Sequential([keras.Input((None, features), dtype=dtype), *layers])


def _lstm_model(rng, units=5, output_mode="sequence", dtype="float64", **options):
    layer = L.LSTM(units, output_mode=output_mode, dtype=dtype, **options)
    model = _model(layer, L.FullyConnected(2, dtype=dtype))
    layer.set_matlab_weights(**random_lstm_params(rng, C, units))
    return model, layer


def _spec(name):
    return next(s for s in SPECS if s.name == name)


def _family_model(rng, name):
    spec = _spec(name)
    layer = spec.make(dtype="float64")
    model = _model(layer)
    layer.set_matlab_weights(**spec.random_params(rng))
    return model


def _stacked_model(rng):
    first, second = L.LSTM(6, dtype="float64"), L.LSTM(4, dtype="float64")
    model = _model(first, second, L.FullyConnected(2, dtype="float64"))
    first.set_matlab_weights(**random_lstm_params(rng, C, 6))
    second.set_matlab_weights(**random_lstm_params(rng, 6, 4))
    return model


def _pieces(model, x):
    inference.reset_state(model)
    return np.concatenate([inference.predict_and_update_state(model, x[a:b])
                           for a, b in PIECES])


def _sequences(rng, lengths, features=C):
    return [rng.normal(0, 1, (t, features)) for t in lengths]


# -- stateful prediction ------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["lstm", "gru-after-multiplication",
                                  "gru-before-multiplication",
                                  "gru-recurrent-bias-after-multiplication", "stacked-lstm"])
def test_pieces_through_update_state_equal_one_predict(rng, kind):
    if kind == "lstm":
        model, _ = _lstm_model(rng)
    elif kind == "stacked-lstm":
        model = _stacked_model(rng)
    else:
        model = _family_model(rng, kind)
    x = rng.normal(0, 1, (41, C))
    whole = inference.predict(model, x)
    assert whole.shape[0] == 41
    assert np.max(np.abs(_pieces(model, x) - whole)) <= tol.FLOAT64_ATOL  # float64: < 1e-6


def test_update_state_in_float32_matches_one_predict(rng):
    model, _ = _lstm_model(rng, dtype="float32")
    x = rng.normal(0, 1, (41, C))
    whole = inference.predict(model, x)  # before the pieces store a state
    assert np.max(np.abs(_pieces(model, x) - whole)) <= 1e-6


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32"])
def test_one_sequence_calls_equal_the_general_path_bit_for_bit(rng, dtype):
    """One numpy sequence takes inference's one-sequence path (the final states kept as
    tensors for the next call); a list of one sequence takes the general path. Both give the
    same outputs and stored states, bit for bit, step by step and in pieces, from the initial
    state and from a stored one, on float and integer (WordEmbedding) inputs."""
    if dtype == "int32":
        layer = L.LSTM(5)
        model = keras.Sequential([keras.Input((None,), dtype="int32"), L.WordEmbedding(4, 10),
                                  layer, L.FullyConnected(2)])
        x = rng.integers(1, 11, 12).astype("int32")
    else:
        model, layer = _lstm_model(rng, dtype=dtype)
        x = rng.normal(0, 1, (12, C)).astype(dtype)
    pieces = [(0, 1), (1, 2), (2, 7), (7, 8), (8, 12)]
    results = {}
    for way in ("one", "general"):
        inference.reset_state(model)
        outputs, states = [], []
        for a, b in pieces:
            piece = x[a:b] if way == "one" else [x[a:b]]
            outputs.append(_first(inference.predict_and_update_state(model, piece)))
            kept = layer.stored_tensors()
            assert (kept is not None) == (way == "one")  # which path ran
            states.append([np.array(s) for s in layer.stored_state])
        outputs.append(_first(inference.predict(model, x[:3] if way == "one" else [x[:3]])))
        results[way] = (outputs, states)
    for got, expected in zip(*(results[w][0] for w in ("one", "general")), strict=True):
        np.testing.assert_array_equal(got, expected)
    for got, expected in zip(*(results[w][1] for w in ("one", "general")), strict=True):
        for g, e in zip(got, expected, strict=True):
            np.testing.assert_array_equal(g, e)
    inference.reset_state(model)  # from the initial state: the plain forward on both paths
    np.testing.assert_array_equal(inference.predict(model, x), inference.predict(model, [x])[0])


def _first(result):
    """The one sequence's output: a list of one sequence gives a list of one output."""
    return result[0] if isinstance(result, list) else result


def test_stored_state_arrays_are_read_only_copies(rng):
    model, layer = _lstm_model(rng)
    inference.predict_and_update_state(model, rng.normal(0, 1, (4, C)))
    assert layer.stored_tensors() is not None
    with pytest.raises(ValueError, match="read-only"):
        layer.stored_state[0][0, 0] = 1.0  # the kept tensors cannot fall out of step
    mine = [rng.normal(0, 1, (1, 5)), rng.normal(0, 1, (1, 5))]
    layer.stored_state = mine
    assert layer.stored_tensors() is None  # a new stored state: the next call converts it
    mine[0][0, 0] = 7.0  # the caller's arrays stay theirs and writable
    assert layer.stored_state[0][0, 0] != 7.0
    x = rng.normal(0, 1, (3, C))
    np.testing.assert_array_equal(inference.predict(model, x), inference.predict(model, [x])[0])


@pytest.mark.parametrize("rows", [1, 2], ids=["one-sequence", "mini-batch"])
def test_an_overflowing_state_is_refused_by_name_and_no_layer_changes(rng, rows):
    """A float32 relu LSTM with huge weights overflows to Inf within two steps: the stateful
    call says so (not a shape error about arrays the user never set), and both layers keep the
    state the previous call left, the first layer (finite) included: all or none."""
    first, second = (L.LSTM(5, state_activation="relu", dtype="float32") for _ in range(2))
    model = _model(first, second)
    first.set_matlab_weights(**random_lstm_params(rng, C, 5))
    huge = random_lstm_params(rng, 5, 5)
    second.set_matlab_weights(**{k: np.abs(v) * 1e30 for k, v in huge.items()})
    x = [rng.normal(0, 1, (6, C)).astype("float32") for _ in range(rows)]
    model_input = x[0] if rows == 1 else x
    inference.predict_and_update_state(model, [s[:1] for s in x] if rows > 1 else x[0][:1])
    before = [[np.array(a) for a in layer.stored_state] for layer in (first, second)]
    with pytest.raises(ValueError, match=r"state to store is not finite \(hidden_state and "
                                         r"cell_state hold Inf or NaN\).*reset_state"):
        inference.predict_and_update_state(model, model_input)
    for layer, kept in zip((first, second), before, strict=True):
        for got, expected in zip(layer.stored_state, kept, strict=True):
            np.testing.assert_array_equal(got, expected)
    inference.reset_state(model)
    assert first.stored_state is None and second.stored_state is None


def test_stored_state_is_the_oracle_final_state(rng):
    params = random_lstm_params(rng, C, 5)
    layer = L.LSTM(5, dtype="float64")
    model = _model(layer)
    layer.set_matlab_weights(**params)
    x = _sequences(rng, [9, 9, 9])
    inference.predict_and_update_state(model, x)
    _, hT, cT = lstm_forward(to_cbt(np.stack(x)), **wrb(params))
    state = inference.get_state(model)[layer.name]
    assert state["hidden_state"].shape == (3, 5)
    assert np.max(np.abs(state["hidden_state"] - hT.T)) <= tol.FLOAT64_ATOL
    assert np.max(np.abs(state["cell_state"] - cT.T)) <= tol.FLOAT64_ATOL


def test_bilstm_carries_its_forward_half_only(rng):
    model = _family_model(rng, "bilstm")
    layer = model.layers[0]
    x = rng.normal(0, 1, (41, C))
    whole = inference.predict(model, x)
    pieces = _pieces(model, x)
    half = layer.units
    # Forward half: the carried state makes the pieces equal the whole sequence.
    assert np.max(np.abs(pieces[:, :half] - whole[:, :half])) <= 1e-6
    # Backward half: each piece runs backward from the initial state on its own (MATLAB).
    fresh = _family_model(np.random.default_rng(0), "bilstm")
    fresh.set_weights(model.get_weights())
    alone = np.concatenate([inference.predict(fresh, x[a:b])[:, half:] for a, b in PIECES])
    assert np.max(np.abs(pieces[:, half:] - alone)) <= tol.FLOAT64_ATOL
    assert np.max(np.abs(pieces[:, half:] - whole[:, half:])) > 1e-3  # they do differ
    stored = inference.get_state(model)[layer.name]["hidden_state"]
    initial = keras.ops.convert_to_numpy(layer._state_variables[0])
    assert np.array_equal(stored[0, half:], initial[half:])


def test_predict_reads_but_does_not_change_the_state(rng):
    model, layer = _lstm_model(rng)
    x = rng.normal(0, 1, (12, C))
    inference.predict_and_update_state(model, x)
    before = inference.get_state(model)
    continued = inference.predict(model, x)
    after = inference.get_state(model)
    assert np.array_equal(before[layer.name]["hidden_state"], after[layer.name]["hidden_state"])
    inference.reset_state(model)
    fresh = inference.predict(model, x)
    assert np.max(np.abs(continued - fresh)) > 1e-3  # the stored state was used


def test_batch_of_n_then_batch_of_one_follows_matlab_state_rule(rng):
    model, layer = _lstm_model(rng)
    inference.predict_and_update_state(model, _sequences(rng, [6, 6, 6, 6]))
    state = inference.get_state(model)
    step = rng.normal(0, 1, (3, C))
    # One observation runs from each of the 4 stored states (MATLAB's implicit expansion).
    expanded = inference.predict(model, step)
    assert len(expanded) == 4
    for row in range(4):
        inference.set_state(model, {layer.name: {k: v[row] for k, v in state[layer.name].items()}})
        np.testing.assert_allclose(expanded[row], inference.predict(model, step), atol=1e-12)
    inference.set_state(model, state)
    same = inference.predict(model, _sequences(rng, [3, 3, 3, 3]))
    assert len(same) == 4
    with pytest.raises(ValueError, match="state holds 4 observations but this call has 3"):
        inference.predict(model, _sequences(rng, [3, 3, 3]))
    inference.reset_state(model)
    assert len(inference.predict(model, _sequences(rng, [3, 3, 3]))) == 3


def test_state_rows_follow_observations_across_sorted_mini_batches(rng):
    # Left padding with a zero bias and zero initial state leaves the state untouched, so each
    # observation's stored state is its own history's, whatever batch it was sorted into.
    model, layer = _lstm_model(rng)
    params = random_lstm_params(rng, C, 5)
    params["bias"] = np.zeros(20)
    layer.set_matlab_weights(**params)
    x = _sequences(rng, [5, 9, 2, 7, 3])
    options = {"mini_batch_size": 2, "sort_by_length": True, "padding_direction": "left"}
    inference.predict_and_update_state(model, x, **options)
    nxt = _sequences(rng, [4, 4, 4, 4, 4])
    together = inference.predict(model, nxt, **options)
    for i in range(5):  # each observation alone: its own history, then its next piece
        inference.reset_state(model)
        inference.predict_and_update_state(model, x[i])
        alone = inference.predict(model, nxt[i])
        np.testing.assert_allclose(together[i], alone, atol=1e-12)


def test_state_is_saved_with_the_model(rng, tmp_path):
    model, _ = _lstm_model(rng)
    x = rng.normal(0, 1, (20, C))
    inference.predict_and_update_state(model, _sequences(rng, [8, 8]))
    expected = inference.predict(model, [x, x])
    path = tmp_path / "stateful.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    for name, states in inference.get_state(model).items():
        for key, value in states.items():
            assert np.array_equal(inference.get_state(loaded)[name][key], value)
    for got, want in zip(inference.predict(loaded, [x, x]), expected, strict=True):
        np.testing.assert_allclose(got, want, atol=1e-12)
    weights = tmp_path / "w.weights.h5"
    inference.reset_state(model)
    model.save_weights(weights)
    loaded.load_weights(weights)
    assert inference.get_state(loaded)[model.layers[0].name]["hidden_state"].shape == (1, 5)


def test_set_state_rejects_bad_input(rng):
    model, layer = _lstm_model(rng)
    with pytest.raises(ValueError, match="no recurrent layer named"):
        inference.set_state(model, {"nope": {}})
    with pytest.raises(ValueError, match="needs exactly the states"):
        inference.set_state(model, {layer.name: {"hidden_state": np.zeros(5)}})
    with pytest.raises(ValueError, match=r"shape \(rows, 5\)"):
        inference.set_state(model, {layer.name: {"hidden_state": np.zeros(4),
                                                 "cell_state": np.zeros(4)}})
    with pytest.raises(ValueError, match="must be finite"):
        inference.set_state(model, {layer.name: {"hidden_state": np.full(5, np.nan),
                                                 "cell_state": np.zeros(5)}})


def test_update_state_needs_a_recurrent_layer():
    model = _model(L.FullyConnected(2))
    with pytest.raises(ValueError, match="at least one recurrent layer"):
        inference.predict_and_update_state(model, np.zeros((4, C)))


# -- predict: order, trimming, padding ----------------------------------------------------------

def test_sorted_mini_batches_return_input_order_and_own_lengths(rng):
    model, _ = _lstm_model(rng)
    lengths = [7, 2, 11, 5, 5, 1, 9]
    x = _sequences(rng, lengths)
    out = inference.predict(model, x, mini_batch_size=3, sort_by_length=True)
    assert [len(o) for o in out] == lengths
    for seq, got in zip(x, out, strict=True):  # right padding never reaches earlier steps
        np.testing.assert_allclose(got, inference.predict(model, seq), atol=1e-12)
    left = inference.predict(model, x, mini_batch_size=3, padding_direction="left")
    assert [len(o) for o in left] == lengths


def test_left_padding_matches_per_observation_last_output_when_padding_is_neutral(rng):
    # Zero padding leaves a zero state unchanged when the bias is zero: then left padding gives
    # exactly the per-observation answer, and right padding does not.
    params = random_lstm_params(rng, C, 5)
    params["bias"] = np.zeros(20)
    layer = L.LSTM(5, output_mode="last", dtype="float64")
    model = _model(layer, L.FullyConnected(2, dtype="float64"))
    layer.set_matlab_weights(**params)
    x = _sequences(rng, [8, 3, 6, 1])
    alone = np.concatenate([inference.predict(model, s) for s in x])
    left = inference.predict(model, x, padding_direction="left")
    right = inference.predict(model, x, padding_direction="right")
    assert np.max(np.abs(left - alone)) <= tol.FLOAT64_ATOL
    assert np.max(np.abs(right - alone)) > 1e-2


def test_left_padding_is_closer_than_right_padding_on_average(rng):
    """Over random networks (every weight drawn from the test's seeded rng, none from Keras's
    global initializers), padding on the left moves a 'last' output less than padding on the
    right. One network alone can go either way, so the claim is checked on the average."""
    left, right = [], []
    for _ in range(8):
        model, _ = _lstm_model(rng, output_mode="last")  # random non-zero bias
        head = model.layers[-1]
        head.set_weights([rng.normal(0, 1, w.shape) for w in head.get_weights()])
        x = _sequences(rng, [30, 3, 16, 1, 25])
        alone = np.concatenate([inference.predict(model, s) for s in x])
        left.append(np.mean(np.abs(inference.predict(model, x, padding_direction="left") - alone)))
        right.append(np.mean(np.abs(inference.predict(model, x, padding_direction="right")
                                    - alone)))
    assert np.mean(left) < 0.5 * np.mean(right)


def test_integer_sequence_length_carries_state_across_chunks(rng):
    model, _ = _lstm_model(rng)
    x = _sequences(rng, [23, 10])
    chunked = inference.predict(model, x, sequence_length=4)
    whole = inference.predict(model, x)
    for got, want in zip(chunked, whole, strict=True):
        assert got.shape == want.shape
        assert np.max(np.abs(got - want)) <= tol.FLOAT64_ATOL
    last_model, _ = _lstm_model(np.random.default_rng(5), output_mode="last")
    seq = rng.normal(0, 1, (24, C))
    np.testing.assert_allclose(inference.predict(last_model, seq, sequence_length=5),
                               inference.predict(last_model, np.concatenate(
                                   [seq, np.zeros((1, C))])), atol=1e-12)


def test_shortest_truncates_and_matlab_layout_is_accepted(rng):
    model, _ = _lstm_model(rng)
    x = _sequences(rng, [6, 4])
    out = inference.predict(model, x, sequence_length="shortest")
    assert [len(o) for o in out] == [4, 4]
    np.testing.assert_allclose(out[0], inference.predict(model, x[0][:4]), atol=1e-12)
    ct = inference.predict(model, [s.T for s in x], layout="CT")
    for a, b in zip(ct, inference.predict(model, x), strict=True):
        np.testing.assert_allclose(a, b, atol=0)


def test_bad_input_gets_clear_errors(rng):
    model, _ = _lstm_model(rng)
    with pytest.raises(ValueError, match="NaN or Inf"):
        inference.predict(model, np.full((4, C), np.nan))
    with pytest.raises(ValueError, match="MiniBatchSize"):
        inference.predict(model, np.zeros((4, C)), mini_batch_size=0)
    with pytest.raises(ValueError, match="SequencePaddingDirection"):
        inference.predict(model, [np.zeros((4, C))], padding_direction="up")
    with pytest.raises(ValueError, match="SequenceLength"):  # one sequence: no padding to do
        inference.predict_and_update_state(model, np.zeros((4, C)), sequence_length="long")
    with pytest.raises(ValueError, match="same feature shape"):
        inference.predict(model, [np.zeros((4, C)), np.zeros((C, 4))])


def test_classify_labels_are_the_argmax_with_class_names(rng):
    layer = L.LSTM(4, output_mode="last")
    model = _model(layer, L.FullyConnected(3), L.Softmax(), L.Classification(
        classes=["a", "b", "c"]))
    x = _sequences(rng, [5, 8, 2])
    labels, scores = inference.classify(model, x)
    assert scores.shape == (3, 3)
    assert list(labels) == [["a", "b", "c"][i] for i in np.argmax(scores, axis=1)]
    named, _ = inference.classify(model, x, classes=["x", "y", "z"])
    assert list(named) == [["x", "y", "z"][i] for i in np.argmax(scores, axis=1)]
    plain = _model(layer, L.FullyConnected(3), L.Softmax())
    index_labels, plain_scores = inference.classify(plain, x)
    np.testing.assert_array_equal(index_labels, np.argmax(plain_scores, axis=1))
    seq_model = _model(L.LSTM(4), L.FullyConnected(3), L.Softmax())
    labels, scores = inference.classify(seq_model, x)
    assert [len(lab) for lab in labels] == [5, 8, 2]
    np.testing.assert_array_equal(labels[1], np.argmax(scores[1], axis=-1))
    inference.reset_state(seq_model)
    _, step_scores = inference.classify_and_update_state(seq_model, x)
    assert inference.get_state(seq_model)[seq_model.layers[0].name]["hidden_state"].shape == (
        3, 4)


# -- MATLAB names -------------------------------------------------------------------------------

def test_matlab_names_take_name_value_options(rng):
    model, _ = _lstm_model(rng)
    x = _sequences(rng, [5, 3])
    expected = inference.predict(model, x, mini_batch_size=1, padding_direction="left")
    got = M.predict(model, x, "MiniBatchSize", 1, SequencePaddingDirection="left")
    for a, b in zip(got, expected, strict=True):
        np.testing.assert_allclose(a, b, atol=0)
    net, y = M.predictAndUpdateState(model, x[0])
    assert net is model and inference.get_state(model)[model.layers[0].name][
        "hidden_state"].shape == (1, 5)
    assert M.resetState(model) is model
    with pytest.raises(ValueError, match="unknown name-value argument 'MiniBatch'"):
        M.predict(model, x, MiniBatch=3)
    act = M.activations(model, x, 1)  # MATLAB's 1-based index: the LSTM layer
    np.testing.assert_allclose(act[0], inference.activations(model, x, 0)[0], atol=0)


# -- activations --------------------------------------------------------------------------------

def test_activations_equal_a_submodel_up_to_the_layer(rng):
    first = L.LSTM(6, name="lstm_a")
    model = _model(first, L.LSTM(4, name="lstm_b"), L.FullyConnected(2, name="fc"))
    x = _sequences(rng, [7, 4])
    batch = np.stack([x[0][:4], x[1]])
    for layer in ("lstm_a", "lstm_b", 1):
        target = model.get_layer(layer) if isinstance(layer, str) else model.layers[layer]
        sub = keras.Model(model.inputs[0], target.output)
        expected = keras.ops.convert_to_numpy(sub(batch.astype("float32")))
        got = inference.activations(model, [x[0][:4], x[1]], layer)
        np.testing.assert_allclose(np.stack(got), expected, atol=1e-6)
    with pytest.raises(ValueError, match="no layer named 'nope'"):
        inference.activations(model, x, "nope")
    with pytest.raises(ValueError, match="out of range"):
        inference.activations(model, x, 9)


def test_activations_heatmap_writes_a_png(rng, tmp_path):
    from matkeras.plot import activations_heatmap

    model = _model(L.LSTM(8, name="lstm"), L.FullyConnected(2))
    act = inference.activations(model, rng.normal(0, 1, (30, C)), "lstm")
    path = tmp_path / "heatmap.png"
    figure = activations_heatmap(act, path=str(path), title="LSTM activations")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert figure.axes[0].images[0].get_array().shape == (8, 30)
    with pytest.raises(FileExistsError):
        activations_heatmap(act, path=str(path))
    with pytest.raises(ValueError, match="one observation"):
        activations_heatmap(np.zeros((2, 3, 4)))
