"""The compiled forward under MATLAB-style prediction (``matkeras._forward``): states carried in
each recurrent layer's own dtype, run-time checks that raise matkeras's ValueError on every path,
one trace per (model, input kind, speed settings), one trace for repeated ``activations`` calls,
and when results repeat bit for bit."""

import warnings

import keras
import numpy as np
import pytest

from matkeras import _forward
from matkeras import inference as I
from matkeras.layers import (
    LSTM,
    Addition,
    FullyConnected,
    Indexing1D,
    PositionEmbedding,
    SelfAttention,
    WordEmbedding,
    stateful_layers,
)
from matkeras.ops import _speed
from tests import tolerances as tol

#: The three ways a prediction runs: eager (a layer _forward cannot trace), traced, XLA.
PATHS = {"plain": {"eager": True, "xla": False}, "compiled": {"eager": False, "xla": False},
         "xla": {"eager": False, "xla": True}}


def _eager_layer():
    """A Keras layer that is the identity at prediction and that ``_forward`` does not trace
    (not in its list of layers known to run with a free time axis): the model runs eagerly."""
    return keras.layers.ActivityRegularization()


def _model(inputs, *layers, eager=False):
    h = inputs
    for layer in (*layers[:1], *([_eager_layer()] if eager else []), *layers[1:]):
        h = layer(h)
    return keras.Model(inputs, h)


def _max_diff(a, b):
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


def _in_pieces(model, x, cuts, **options):
    I.reset_state(model)
    pieces = [I.predict_and_update_state(model, x[a:b], **options)
              for a, b in zip((0, *cuts), (*cuts, len(x)), strict=True)]
    state = I.get_state(model)
    I.reset_state(model)
    return np.concatenate(pieces), state


class TestStatesInTheLayersDtype:
    """A sequence fed in pieces continues from the state one call over it carries: the start
    states take the recurrent layer's compute dtype, not the model input's."""

    @pytest.mark.parametrize("path", sorted(PATHS))
    def test_integer_input_network_in_pieces_equals_one_call(self, path, rng):
        keras.utils.set_random_seed(1)
        model = _model(keras.Input((None,), dtype="int32"), WordEmbedding(4, 10), LSTM(5),
                       FullyConnected(2), eager=PATHS[path]["eager"])
        x = rng.integers(1, 11, 12).astype("int32")
        options = {"xla": PATHS[path]["xla"]}
        whole = I.predict(model, x, **options)
        pieces, state = _in_pieces(model, x, (5, 6), **options)
        error = _max_diff(whole, pieces)
        print(f"int input, {path}: pieces vs one call {error:.1e}")
        assert error <= tol.FLOAT32_ATOL
        assert state[model.layers[-2].name]["hidden_state"].dtype == np.float64

    @pytest.mark.parametrize("path", sorted(PATHS))
    def test_float64_layers_behind_a_float32_input_keep_float64_states(self, path, rng):
        keras.utils.set_random_seed(2)
        model = _model(keras.Input((None, 3)), LSTM(6, dtype="float64"),
                       FullyConnected(2, dtype="float64"), eager=PATHS[path]["eager"])
        x = rng.normal(0, 1, (15, 3)).astype("float32")
        options = {"xla": PATHS[path]["xla"]}
        whole = I.predict(model, x, **options)
        pieces, _ = _in_pieces(model, x, (4, 5, 11), **options)
        error = _max_diff(whole, pieces)
        print(f"float64 layers, {path}: pieces vs one call {error:.1e}")
        assert error <= tol.FLOAT64_ATOL

    def test_mixed_float16_policy_carries_float16_states(self, rng):
        previous = keras.config.dtype_policy()
        keras.config.set_dtype_policy("mixed_float16")
        try:
            keras.utils.set_random_seed(3)
            model = _model(keras.Input((None, 3)), LSTM(6), FullyConnected(2))
            layer = model.layers[1]
            assert _forward.state_dtype(layer) == "float16"
            x = rng.normal(0, 1, (10, 3)).astype("float32")
            whole = I.predict(model, x)
            pieces, _ = _in_pieces(model, x, (3, 4))
        finally:
            keras.config.set_dtype_policy(previous)
        assert _max_diff(whole, pieces) <= tol.MIXED_FLOAT16_ATOL


def _indexing_network(eager):
    return _model(keras.Input((None, 3)), LSTM(4, output_mode="sequence"), Indexing1D(6),
                  eager=eager)


def _position_network(eager):
    inputs = keras.Input((None, 4))
    h = _eager_layer()(inputs) if eager else inputs
    h = Addition(2)([h, PositionEmbedding(4, 5)(h)])
    return keras.Model(inputs, LSTM(3)(h))


def _attention_network(eager):
    inputs = keras.Input((None, 4))
    h = _eager_layer()(inputs) if eager else inputs
    mask = np.tril(np.ones((6, 6)))
    return keras.Model(inputs, LSTM(3)(SelfAttention(2, 4, attention_mask=mask)(h)))


#: Each run-time check that user input can fail: (network, a failing input's steps, message).
CHECKS = {
    "indexing": (_indexing_network, 4, r"Index 6 is beyond the input's 4 time steps"),
    "position": (_position_network, 7, r"the input has 7 time steps but MaxPosition is 5"),
    "attention-mask": (_attention_network, 4,
                       r"AttentionMask matrix is 6-by-6 .* the input has 4 keys and 4 queries"),
}


class TestRunTimeChecks:
    """Every check raises matkeras's ValueError with the numbers, on the plain, compiled and
    XLA paths (XLA drops graph assertions: it is traced at the call's shape instead)."""

    @pytest.mark.parametrize("path", sorted(PATHS))
    @pytest.mark.parametrize("check", sorted(CHECKS))
    def test_a_failing_input_raises_the_layers_value_error(self, check, path, rng):
        build, steps, message = CHECKS[check]
        model = build(PATHS[path]["eager"])
        x = rng.normal(0, 1, (steps, model.inputs[0].shape[-1])).astype("float32")
        with pytest.raises(ValueError, match=message):
            I.predict(model, x, xla=PATHS[path]["xla"])
        fine = rng.normal(0, 1, (6 if check != "position" else 5, x.shape[1])).astype("float32")
        assert np.all(np.isfinite(I.predict(model, fine, xla=PATHS[path]["xla"])))

    @pytest.mark.parametrize("path", sorted(PATHS))
    def test_an_out_of_vocabulary_word_raises_the_layers_value_error(self, path):
        """OOVMode 'error' (a check on data values): never the out-of-vocabulary column,
        under XLA neither (the model stays off XLA)."""
        keras.utils.set_random_seed(6)
        model = _model(keras.Input((None, 1), dtype="int32"), WordEmbedding(3, 5, oov_mode="error"),
                       LSTM(4), FullyConnected(2), eager=PATHS[path]["eager"])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # xla=True: "runs without XLA"
            with pytest.raises(ValueError, match=r"an index is 0 or above NumWords = 5 \(out of "):
                I.predict(model, np.array([[1], [2], [9]], "int32"), xla=PATHS[path]["xla"])
            assert I.predict(model, np.array([[1], [5], [3]], "int32"),
                             xla=PATHS[path]["xla"]).shape == (3, 2)

    def test_after_a_good_call_a_bad_length_still_raises(self, rng):
        """The traced function of the good call (free time axis) meets the bad length."""
        model = _indexing_network(eager=False)
        I.predict(model, rng.normal(0, 1, (9, 3)).astype("float32"))
        with pytest.raises(ValueError, match="Index 6 is beyond the input's 2 time steps"):
            I.predict(model, rng.normal(0, 1, (2, 3)).astype("float32"))

    def test_a_data_check_keeps_the_model_off_xla(self):
        inputs = keras.Input((None, 3))
        model = _model(inputs, LSTM(4, output_mode="sequence"), Indexing1D(2, use_mask=True))
        layers = stateful_layers(model)
        assert _forward._checks(model) == ([], [model.layers[-1].name])
        assert not _forward.use_xla(model, layers, 10 ** 6)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            I.predict(model, np.zeros((5, 3), "float32"), xla=True)
        assert any("check their padding mask" in str(w.message) for w in caught)


class TestTraceCache:
    def test_forcing_a_speed_choice_after_a_prediction_retraces(self, rng):
        keras.utils.set_random_seed(4)
        model = _model(keras.Input((None, 3)), LSTM(8), FullyConnected(2))
        x = rng.normal(0, 1, (4, 7, 3)).astype("float32")
        rule = I.predict(model, x, xla=False)
        with _speed.forced(layout="whole"):
            whole = I.predict(model, x, xla=False)
        with _speed.forced(layout="gates"):
            gates = I.predict(model, x, xla=False)
        functions = _forward._FUNCTIONS[model]
        matmuls = {dict(key[-1])["layout"]: _count_ops(function, "MatMul")
                   for key, function in functions.items()}
        assert len(functions) == 3  # the rule's, and each forced layout's
        assert matmuls["gates"] > matmuls["whole"]
        assert _max_diff(rule, whole) <= tol.FLOAT32_PAIR_ATOL
        assert _max_diff(gates, whole) <= tol.FLOAT32_PAIR_ATOL

    def test_activations_traces_once_per_layer(self, rng):
        keras.utils.set_random_seed(5)
        model = _model(keras.Input((None, 3)), LSTM(8, output_mode="sequence"), LSTM(4),
                       FullyConnected(2))
        first = model.layers[1].name
        for length in (5, 9, 6):
            I.activations(model, rng.normal(0, 1, (length, 3)).astype("float32"), first)
        I.activations(model, rng.normal(0, 1, (5, 3)).astype("float32"), 2)
        submodels = I._SUBMODELS[model]
        assert sorted(submodels) == sorted([first, model.layers[2].name])
        for submodel in submodels.values():
            (function,) = _forward._FUNCTIONS[submodel].values()  # one concrete function
            assert hasattr(function, "graph")


def _count_ops(function, kind):
    """MatMul ops in the concrete `function`'s graph, inside its loop bodies too."""
    graph = function.graph.as_graph_def()
    nodes = list(graph.node) + [n for f in graph.library.function for n in f.node_def]
    return sum(node.op == kind for node in nodes)


class TestRepeatableBits:
    """What the README promises: a mini-batch's results do not depend on the rest of the call
    with ``xla=False``; under the XLA rule (512 same-shape mini-batches of an all-LSTM network)
    they agree to float32 rounding."""

    def test_rows_inside_a_large_call(self, rng):
        keras.utils.set_random_seed(6)
        model = _model(keras.Input((None, 3)), LSTM(8), FullyConnected(2))
        x = rng.normal(0, 1, (4, 6, 3)).astype("float32")
        alone = I.predict(model, x, mini_batch_size=4)
        many = np.concatenate([x] * _forward.XLA_REPEATS)
        assert _forward.use_xla(model, stateful_layers(model), _forward.XLA_REPEATS)
        inside_plain = I.predict(model, many, mini_batch_size=4, xla=False)[:4]
        inside_xla = I.predict(model, many, mini_batch_size=4)[:4]
        np.testing.assert_array_equal(inside_plain, alone)
        assert _max_diff(inside_xla, alone) <= tol.XLA_ATOL


def test_one_step_one_row_and_scan_calls_are_never_split():
    big = {"rows": 1000, "columns": 4000, "training": False}
    assert _speed.plan(batch=64, steps=10, **big).parts == 2
    with _speed.forced(parts="2"):
        assert _speed.plan(batch=64, steps=1, **big).parts == 1
        assert _speed.plan(batch=1, steps=10, **big).parts == 1
        assert _speed.plan(batch=64, steps=10, implementation="scan", **big).parts == 1
        assert _speed.plan(batch=64, steps=10, **big).parts == 2
    assert not _speed.splittable(64, 1) and not _speed.splittable(1, 9)
    assert _speed.splittable(None, None)


class TestStatelessTrace:
    """predict from the initial states, with no state wanted back, runs the model's plain
    forward (traced without states in or out): the same bits as the traced call with states
    (what predict_and_update_state and predict_with_state run), on mixed-length padded
    mini-batches, right and left padding, every recurrent kind. (Under XLA the states go in
    and out as before: two XLA compilations of one network need not give the same bits.)"""

    # Under XLA both calls run the one traced function with states: one case shows that
    @pytest.mark.parametrize("kind,direction,xla", [
        *((kind, direction, False) for kind in ("lstm", "gru", "bilstm-sequence")
          for direction in ("right", "left")), ("lstm", "left", True)])
    def test_same_bits_as_the_traced_call_with_states(self, rng, kind, direction, xla):
        from matkeras.layers import GRU, BiLSTM

        keras.utils.set_random_seed(7)
        recurrent = {"lstm": lambda: LSTM(6, output_mode="last"),
                     "gru": lambda: GRU(5, reset_gate_mode="before-multiplication"),
                     "bilstm-sequence": lambda: BiLSTM(4)}[kind]()
        model = _model(keras.Input((None, 3)), recurrent, FullyConnected(2))
        for layer in stateful_layers(model):  # non-zero initial states
            layer.set_matlab_weights(**{name: rng.normal(0, 0.5, layer.state_width)
                                        for name, _ in layer.state_names})
        X = [rng.normal(0, 1, (n, 3)).astype("float32") for n in (5, 9, 2, 7, 4)]
        options = {"mini_batch_size": 2, "padding_direction": direction, "xla": xla}
        plain = I.predict(model, X, **options)
        assert any(key[4] for key in _forward._FUNCTIONS[model]) != xla  # stateless ran
        with_state, state = I.predict_with_state(model, X, **options)
        for a, b in zip(plain if isinstance(plain, list) else [plain],
                        with_state if isinstance(with_state, list) else [with_state],
                        strict=True):
            np.testing.assert_array_equal(a, b)
        assert all(layer.stored_state is None for layer in stateful_layers(model))
        assert state  # the final states came back on the path with states

    def test_one_array_of_sequences_runs_as_the_same_list(self, rng):
        """An (N, T, C) array is cut into mini-batches as slices, without padding: the same
        bits as the list of its sequences, padded, with the stored state too."""
        keras.utils.set_random_seed(8)
        model = _model(keras.Input((None, 3)), LSTM(5), FullyConnected(2))
        X = rng.normal(0, 1, (5, 6, 3)).astype("float32")
        for verb in (I.predict, I.predict_and_update_state):
            I.reset_state(model)
            as_array = verb(model, X, mini_batch_size=2)
            array_state = I.get_state(model)
            I.reset_state(model)
            as_list = verb(model, list(X), mini_batch_size=2)
            for a, b in zip(as_array, as_list, strict=True):
                np.testing.assert_array_equal(a, b)
            for layer, states in array_state.items():
                for key, value in states.items():
                    np.testing.assert_array_equal(value, I.get_state(model)[layer][key])
        with pytest.raises(ValueError, match="Sequence 3 contains NaN"):
            I.predict(model, np.where(np.arange(5)[:, None, None] == 3, np.nan, X))
