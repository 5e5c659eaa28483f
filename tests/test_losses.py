"""trainnet's losses (matkeras.losses) and metrics (matkeras.metrics) against the float64 numpy
oracle of MATLAB's documented formulas (tests/reference/losses.py), the factors between them and
the classic output layers' losses, and the categorical helpers (matkeras.categorical)."""

import keras
import numpy as np
import pytest

from matkeras import categorical as C
from matkeras import losses
from matkeras import metrics as M
from matkeras.layers import MatlabCrossEntropy, MatlabHalfMeanSquaredError
from tests import tolerances as tol
from tests.reference import losses as ref


def _probabilities(rng, shape):
    z = rng.normal(0, 1.5, shape)
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _mask(rng, n, t):
    lengths = rng.integers(2, t + 1, n)
    lengths[0] = t
    return (np.arange(t)[None, :] < lengths[:, None]).astype(np.float64)


def _value(loss, y_true, y_pred, weight=None, dtype="float64"):
    """The loss of float64 (or float32) predictions, computed in that dtype."""
    value = loss(np.asarray(y_true), np.asarray(y_pred, dtype=dtype),
                 sample_weight=None if weight is None else np.asarray(weight, dtype=dtype))
    return float(keras.ops.convert_to_numpy(value))


CASES = ["crossentropy", "index-crossentropy", "binary-crossentropy", "mse", "l1loss",
         "huber"]


def _case(rng, name, shape):
    if name in ("crossentropy", "index-crossentropy"):
        Y = _probabilities(rng, shape)
        labels = rng.integers(0, shape[-1], shape[:-1])
        onehot = np.eye(shape[-1])[labels]
        targets = labels if name == "index-crossentropy" else onehot
        return Y, targets, lambda m: ref.crossentropy(Y, onehot, m)
    if name == "binary-crossentropy":
        Y = 1 / (1 + np.exp(-rng.normal(0, 2, shape)))
        T = rng.uniform(0, 1, shape)
        return Y, T, lambda m: ref.binary_crossentropy(Y, T, m)
    Y, T = rng.normal(0, 1.5, shape), rng.normal(0, 1.5, shape)  # |Y-T| on both Huber sides
    oracle = {"mse": ref.l2, "l1loss": ref.l1, "huber": ref.huber}[name]
    return Y, T, lambda m: oracle(Y, T, m)


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("layout", ["sequence-to-one", "sequence-to-sequence-padded"])
def test_loss_matches_matlab_formula(rng, name, layout):
    shape = (7, 4) if layout == "sequence-to-one" else (6, 9, 4)
    Y, T, oracle = _case(rng, name, shape)
    mask = None if layout == "sequence-to-one" else _mask(rng, 6, 9)
    got = _value(losses.get(name, "float64"), T, Y, mask)
    worst = abs(got - oracle(mask))
    print(f"{name} {layout}: {got:.12f}, |diff| {worst:.2e}")
    assert worst <= tol.FLOAT64_ATOL
    assert abs(_value(losses.get(name, "float32"), T, Y.astype("float32"), mask, "float32")
               - oracle(mask)) <= \
        tol.FLOAT32_ATOL * max(1.0, abs(oracle(mask)))


def test_matlab_names_and_aliases():
    kinds = {name: type(losses.get(name)).__name__ for name in losses.NAMES}
    assert kinds == {
        "crossentropy": "CrossEntropy", "index-crossentropy": "CrossEntropy",
        "binary-crossentropy": "BinaryCrossEntropy", "mse": "MeanSquaredError",
        "mean-squared-error": "MeanSquaredError", "l2loss": "MeanSquaredError",
        "mae": "MeanAbsoluteError", "mean-absolute-error": "MeanAbsoluteError",
        "l1loss": "MeanAbsoluteError", "huber": "Huber"}
    assert isinstance(losses.get("MSE"), losses.MeanSquaredError)
    with pytest.raises(ValueError, match="unknown lossFcn 'cross-entropy'.*'crossentropy'"):
        losses.get("cross-entropy")
    with pytest.raises(TypeError, match="lossFcn must be a loss name"):
        losses.get(3)
    with pytest.raises(ValueError, match="TransitionPoint"):
        losses.Huber(0)


def test_crossentropy_equals_the_classification_layer_loss_for_labels(rng):
    Y = _probabilities(rng, (11, 5))
    labels = rng.integers(0, 5, 11)
    classic = _value(MatlabCrossEntropy(dtype="float64"), labels, Y)
    assert _value(losses.get("crossentropy", "float64"), labels, Y) == classic
    assert _value(losses.get("crossentropy", "float64"), np.eye(5)[labels], Y) == classic


def test_mse_is_two_over_r_times_the_regression_layer_half_mse(rng):
    """trainnet's "mse" divides by the R responses and has no 1/2: (2/R) x regressionLayer."""
    R = 3
    Y, T = rng.normal(size=(8, R)), rng.normal(size=(8, R))
    classic = _value(MatlabHalfMeanSquaredError(dtype="float64"), T, Y)
    current = _value(losses.get("mse", "float64"), T, Y)
    print(f"mse {current:.6f} = (2/R) x half-mse {classic:.6f}, R={R}")
    assert abs(current - 2 / R * classic) <= tol.FLOAT64_ATOL


def test_padded_sequence_losses_differ_by_the_padded_count(rng):
    """Sequence-to-sequence over a padded mini-batch: the classic loss divides by N*T_padded
    (padded steps weighted out but counted), trainnet's by the real steps: the factor is
    (2/R) * N*T_padded / sum(T_n)."""
    N, T, R = 5, 12, 2
    Y, target = rng.normal(size=(N, T, R)), rng.normal(size=(N, T, R))
    mask = _mask(rng, N, T)
    classic = _value(MatlabHalfMeanSquaredError(dtype="float64"), target, Y, mask)
    assert abs(classic - ref.half_mse_padded(Y, target, mask)) <= tol.FLOAT64_ATOL
    factor = 2 / R * N * T / mask.sum()
    current = _value(losses.get("mse", "float64"), target, Y, mask)
    print(f"padded: trainnet mse {current:.6f}, classic {classic:.6f}, factor {factor:.4f}")
    assert factor > 2 / R  # the mini-batch really is padded
    assert abs(current - factor * classic) <= tol.FLOAT64_ATOL


def test_function_loss_is_called_with_predictions_first():
    calls = []

    def my_loss(Y, T):
        calls.append((tuple(Y.shape), tuple(T.shape)))
        return keras.ops.mean(keras.ops.abs(Y - 2 * T))

    loss = losses.get(my_loss)
    assert loss.name == "my_loss"
    Y, T = np.ones((3, 2)), np.zeros((3, 2))
    assert _value(loss, T, Y) == 1.0
    with pytest.raises(ValueError, match="must return a scalar"):
        losses.get(lambda Y, T: Y - T)(T, Y)


@pytest.mark.parametrize("name", ["crossentropy", "binary-crossentropy", "mse", "mae", "huber"])
def test_loss_config_round_trip(name):
    loss = losses.get(name)
    again = keras.losses.deserialize(keras.losses.serialize(loss))
    assert type(again) is type(loss) and again.get_config() == loss.get_config()


# -- metrics ------------------------------------------------------------------------------------

def _metric(metric, y_true, y_pred, weight=None):
    metric.update_state(y_true, y_pred, sample_weight=weight)
    return float(keras.ops.convert_to_numpy(metric.result()))


def test_accuracy_is_in_percent_and_ignores_padded_steps(rng):
    Y = _probabilities(rng, (4, 6, 3))
    labels = rng.integers(0, 3, (4, 6))
    mask = _mask(rng, 4, 6)
    expected = 100 * np.sum((np.argmax(Y, -1) == labels) * mask) / mask.sum()
    assert abs(_metric(M.get("accuracy"), labels, Y, mask) - expected) <= tol.FLOAT32_ATOL
    assert abs(_metric(M.get("accuracy"), np.eye(3)[labels], Y, mask) - expected) <= \
        tol.FLOAT32_ATOL


@pytest.mark.parametrize("kind", ["rmse", "mse", "mae"])
def test_error_metrics_over_every_element(rng, kind):
    Y, T = rng.normal(size=(5, 7, 2)), rng.normal(size=(5, 7, 2))
    mask = _mask(rng, 5, 7)
    mse = ref.l2(Y, T, mask)
    expected = {"rmse": np.sqrt(mse), "mse": mse, "mae": ref.l1(Y, T, mask)}[kind]
    assert abs(_metric(M.get(kind), T, Y, mask) - expected) <= tol.FLOAT32_ATOL


@pytest.mark.parametrize("average", ["micro", "macro"])
def test_precision_recall_fscore(rng, average):
    K = 4
    Y = _probabilities(rng, (60, K))
    labels = rng.integers(0, K, 60)
    matrix = ref.confusion(labels, np.argmax(Y, -1), K)
    expected = ref.precision_recall_f(matrix, average)
    for kind, value in zip(("precision", "recall", "fscore"), expected, strict=True):
        metric = M.PrecisionRecallFScore(kind, K, average)
        assert abs(_metric(metric, labels, Y) - value) <= tol.FLOAT32_ATOL, kind
    if average == "micro":  # single-label: every micro average is the accuracy
        assert abs(expected[2] - np.mean(np.argmax(Y, -1) == labels)) <= tol.FLOAT64_ATOL


def test_metric_names_and_errors():
    assert isinstance(M.get("RMSE"), M.ErrorMetric)
    assert M.get("fscore", 5).num_classes == 5
    template = M.PrecisionRecallFScore("recall", average="macro")
    assert M.get(template, 3).num_classes == 3 and M.get(template, 3) is not template
    with pytest.raises(ValueError, match="'auc' .* not implemented"):
        M.get("auc")
    with pytest.raises(ValueError, match="Unknown metric 'acc'"):
        M.get("acc")
    assert isinstance(M.get("crossentropy", allow_losses=True), M.LossMetric)


# -- categorical helpers -------------------------------------------------------------------------

def test_class_order_is_matlab_categories():
    assert C.class_names(np.array(["b", "10", "a", "2"])) == ["10", "2", "a", "b"]
    assert C.class_names(np.array([10, 2, 1])) == [1, 2, 10]
    indices, names = C.encode_labels(["y", "x", "y"])
    assert names == ["x", "y"] and indices.tolist() == [1, 0, 1]
    with pytest.raises(ValueError, match=r"contains \['z'\].*not among the classes"):
        C.encode_labels(["z"], ["x", "y"])


class _Categorical:
    """What matkeras reads of a pandas Categorical (pandas is not a dependency)."""

    def __init__(self, values, categories):
        self.categories = list(categories)
        self.codes = np.array([self.categories.index(v) if v in self.categories else -1
                               for v in values])


def test_categorical_keeps_its_category_order():
    labels = _Categorical(["lo", "hi", "lo"], categories=["lo", "mid", "hi"])
    indices, names = C.encode_labels(labels)
    assert names == ["lo", "mid", "hi"] and indices.tolist() == [0, 2, 0]
    assert C.onehotencode(labels, 2).shape == (3, 3)
    with pytest.raises(ValueError, match="1 missing .undefined. values"):
        C.encode_labels(_Categorical(["lo", "?"], ["lo"]))


def test_onehotencode_and_decode_round_trip():
    A = np.array(["cat", "dog", "cat", "emu"])
    B = C.onehotencode(A, 2)
    np.testing.assert_array_equal(B, np.eye(3)[[0, 1, 0, 2]])
    assert C.onehotencode(A, 2, "single").dtype == np.float32
    np.testing.assert_array_equal(C.onehotdecode(B, ["cat", "dog", "emu"], 2), A)
    assert C.onehotencode(A[None, :], 1).shape == (3, 4)  # a 1-by-N row, classes down dim 1
    assert C.onehotencode(A, 2, ClassNames=["emu", "dog", "cat"])[0].tolist() == [0, 0, 1]
    with pytest.raises(ValueError, match="featureDim must be a singleton dimension"):
        C.onehotencode(A, 1)


def test_scores2label_returns_labels_and_their_scores():
    scores = np.array([[0.1, 0.7, 0.2], [0.5, 0.2, 0.3]])
    labels, best = C.scores2label(scores, ["a", "b", "c"])
    assert labels.tolist() == ["b", "a"] and best.tolist() == [0.7, 0.5]
    per_sequence = [np.array([[0.9, 0.1, 0.0]]), np.array([[0, 0, 1.0], [0, 1.0, 0]])]
    labels, best = C.scores2label(per_sequence, [1, 2, 3])
    assert [x.tolist() for x in labels] == [[1], [3, 2]]
    with pytest.raises(ValueError, match="3 values per observation .* 2 class names"):
        C.scores2label(scores, ["a", "b"])
