"""matkeras.optimizers against MATLAB's solver equations in numpy (tests/reference/solvers.py)."""

import keras
import numpy as np
import pytest

from matkeras import layers as L
from matkeras import optimizers
from tests import tolerances as tol
from tests.reference import solvers

SOLVERS = {
    "sgdm": (optimizers.SGDM, solvers.sgdm, {"momentum": 0.8}, {"momentum": 0.8}),
    "adam": (optimizers.Adam, solvers.adam,
             {"gradient_decay_factor": 0.85, "squared_gradient_decay_factor": 0.99,
              "epsilon": 1e-6}, {"b1": 0.85, "b2": 0.99, "eps": 1e-6}),
    "rmsprop": (optimizers.RMSProp, solvers.rmsprop,
                {"squared_gradient_decay_factor": 0.8, "epsilon": 1e-6},
                {"b2": 0.8, "eps": 1e-6}),
}
LR = float(np.float32(0.05))  # Keras keeps the learning rate in a float32 variable


def _run(optimizer, w0, grads):
    variable = keras.Variable(w0, dtype="float64")
    seen = []
    for g in grads:
        optimizer.apply([keras.ops.convert_to_tensor(g)], [variable])
        seen.append(keras.ops.convert_to_numpy(variable))
    return seen


@pytest.mark.parametrize("name", SOLVERS)
def test_updates_follow_matlab_equations(rng, name):
    cls, reference, options, ref_options = SOLVERS[name]
    w0 = rng.normal(0, 1, (3, 4))
    grads = [rng.normal(0, 1, (3, 4)) for _ in range(6)]
    got = _run(cls(learning_rate=0.05, **options), w0, grads)
    want = reference(w0, grads, LR, **ref_options)
    for a, b in zip(got, want, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", SOLVERS)
def test_learn_rate_factor_scales_each_gate_block(rng, name):
    cls, reference, options, ref_options = SOLVERS[name]
    w0 = rng.normal(0, 1, (2, 8))
    grads = [rng.normal(0, 1, (2, 8)) for _ in range(4)]
    factor = np.repeat([1.0, 0.0, 2.0, 0.5], 2)
    variable = keras.Variable(w0, dtype="float64")
    optimizer = cls(learning_rate=0.05, multipliers={variable.path: factor}, **options)
    for g in grads:
        optimizer.apply([keras.ops.convert_to_tensor(g)], [variable])
    got = keras.ops.convert_to_numpy(variable)
    for column in range(8):  # each column runs its own solver at lr * factor
        want = reference(w0[:, column], [g[:, column] for g in grads], LR * factor[column],
                         **ref_options)[-1]
        np.testing.assert_allclose(got[:, column], want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("method", ["l2norm", "global-l2norm", "absolute-value"])
def test_gradient_thresholds_are_matlabs(rng, method):
    """On every backend, in float64 (Keras's own clipping takes its maximum in float32 on
    PyTorch and JAX: 1.6e-9 off here; matkeras's solvers clip in the gradients' dtype)."""
    w0 = [rng.normal(0, 1, (3, 3)), rng.normal(0, 1, 4)]
    steps = [[rng.normal(0, scale, w.shape) for w in w0] for scale in (3, 0.05, 2)]
    option = {"l2norm": "clipnorm", "global-l2norm": "global_clipnorm",
              "absolute-value": "clipvalue"}[method]
    optimizer = optimizers.SGDM(0.1, momentum=0.0, **{option: 1.0})
    variables = [keras.Variable(w, dtype="float64") for w in w0]
    want = [w.copy() for w in w0]
    lr = float(np.float32(0.1))
    for grads in steps:
        optimizer.apply([keras.ops.convert_to_tensor(g) for g in grads], variables)
        if method == "l2norm":
            clipped = [solvers.clip_l2norm(g, 1.0) for g in grads]
        elif method == "global-l2norm":
            clipped = solvers.clip_global_l2norm(grads, 1.0)
        else:
            clipped = [solvers.clip_absolute_value(g, 1.0) for g in grads]
        want = [solvers.sgdm(w, [g], lr, momentum=0.0)[-1] for w, g in zip(want, clipped,
                                                                           strict=True)]
    assert any(np.max(np.abs(g)) > 1 for g in steps[0])  # the first step is clipped
    for variable, expected in zip(variables, want, strict=True):
        np.testing.assert_allclose(keras.ops.convert_to_numpy(variable), expected, rtol=0,
                                   atol=tol.FLOAT64_ATOL)


def test_layer_factors_reach_the_optimizer():
    model = keras.Sequential([keras.Input((None, 2)),
                              L.LSTM(3, input_weights_learn_rate_factor=[1, 0, 2, 1],
                                     bias_learn_rate_factor=0),
                              L.FullyConnected(1, weights_learn_rate_factor=3)])
    found = optimizers.learn_rate_multipliers(model)
    lstm, fc = model.layers
    assert found[lstm.bias_variable.path] == 0
    assert found[fc.kernel.path] == 3
    # Keras block order i, f, c, o; MATLAB's i, f, g, o; 3 units per block.
    np.testing.assert_array_equal(found[lstm.kernel.path], np.repeat([1, 0, 2, 1], 3))
    assert lstm.recurrent_kernel.path not in found


def test_zero_factor_freezes_a_parameter_in_fit(rng, gradients):
    model = keras.Sequential([keras.Input((None, 2)), L.LSTM(3, bias_learn_rate_factor=0),
                              L.FullyConnected(1)])
    lstm = model.layers[0]
    bias = keras.ops.convert_to_numpy(lstm.bias_variable)
    kernel = keras.ops.convert_to_numpy(lstm.kernel)
    model.compile(optimizers.Adam(0.01, multipliers=optimizers.learn_rate_multipliers(model)),
                  "mse")
    model.fit(rng.normal(size=(8, 5, 2)), rng.normal(size=(8, 5, 1)), epochs=2, verbose=0)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(lstm.bias_variable), bias)
    assert np.max(np.abs(keras.ops.convert_to_numpy(lstm.kernel) - kernel)) > 1e-4


def test_a_model_with_a_matlab_optimizer_saves_and_loads(rng, tmp_path, gradients):
    model = keras.Sequential([keras.Input((None, 2)), L.LSTM(3), L.FullyConnected(1)])
    model.compile(optimizers.RMSProp(0.01, clipnorm=1.0), "mse")
    model.fit(rng.normal(size=(4, 5, 2)), rng.normal(size=(4, 5, 1)), epochs=1, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert isinstance(loaded.optimizer, optimizers.RMSProp)
    assert loaded.optimizer.clipnorm == 1.0


@pytest.mark.parametrize("method", ["l2norm", "global-l2norm", "absolute-value"])
def test_gradient_thresholds_cover_an_embeddings_gradient(method, gradients):
    """A word embedding's gradient (tf.IndexedSlices on TensorFlow) is clipped like every
    other: one SGD step of `fit` moves the weights by exactly the learning rate times the
    threshold (the gradients are far above it)."""
    option = {"l2norm": "clipnorm", "global-l2norm": "global_clipnorm",
              "absolute-value": "clipvalue"}[method]
    keras.utils.set_random_seed(0)
    inputs = keras.Input((None,))
    hidden = keras.layers.GlobalAveragePooling1D()(L.WordEmbedding(4, 10)(inputs))
    model = keras.Model(inputs, keras.layers.Dense(1)(hidden))
    model.compile(optimizer=optimizers.SGDM(0.5, momentum=0.0, **{option: 1e-3}), loss="mse")
    before = [np.array(w) for w in model.get_weights()]
    x = np.random.default_rng(0).integers(1, 11, (8, 5)).astype("float32")
    model.fit(x, np.full((8, 1), 50.0), epochs=1, batch_size=8, verbose=0)
    steps = [np.array(w, np.float64) - b for w, b in zip(model.get_weights(), before,
                                                         strict=True)]
    limit = 0.5 * float(np.float32(1e-3))
    if method == "l2norm":
        np.testing.assert_allclose([np.linalg.norm(s) for s in steps], limit, rtol=1e-4)
    elif method == "global-l2norm":
        np.testing.assert_allclose(np.sqrt(sum(np.sum(s * s) for s in steps)), limit,
                                   rtol=1e-4)
    else:
        np.testing.assert_allclose([np.max(np.abs(s)) for s in steps], limit, rtol=1e-4)
