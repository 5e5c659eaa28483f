"""Forecasting MATLAB's way on MATLAB's chickenpox series (../shared/fixtures/matlab/data).

As MATLAB's "Time Series Forecasting Using Deep Learning" example: standardize with the training
statistics, train an LSTM to predict the next value, prime the state on the training part, then
forecast the held-back last 10% closed loop (each forecast fed back in) and open loop (the true
values fed in as they arrive). Both must beat the naive forecast that repeats the last observed
value.
"""

import keras
import numpy as np
import pytest

from matkeras import inference
from matkeras import layers as L
from tests.fixtures.matlab_files import chickenpox


@pytest.fixture(scope="module")
def trained():
    keras.utils.set_random_seed(0)
    series = chickenpox()
    split = int(np.floor(0.9 * len(series)))
    train, test = series[:split], series[split:]
    mu, sigma = train.mean(), train.std()
    z = (train - mu) / sigma
    model = keras.Sequential([keras.Input((None, 1)), L.LSTM(64), L.FullyConnected(1)])
    model.compile(optimizer=keras.optimizers.Adam(0.005, clipnorm=1.0), loss="mse")
    model.fit(z[None, :-1, None], z[None, 1:, None], epochs=200, verbose=0)
    return model, z, test, mu, sigma, train[-1]


def _rmse(prediction, truth):
    return float(np.sqrt(np.mean((prediction - truth) ** 2)))


def test_closed_loop_forecast_beats_the_naive_forecast(trained):
    model, z, test, mu, sigma, last = trained
    forecast = inference.forecast(model, z[:, None], steps=len(test), mode="closed-loop")
    assert forecast.shape == (len(test), 1)
    ours = _rmse(forecast[:, 0] * sigma + mu, test)
    naive = _rmse(np.full(len(test), last), test)
    print(f"chickenpox closed-loop RMSE {ours:.1f} vs naive last-value {naive:.1f}")
    assert ours < naive


def test_open_loop_forecast_beats_the_naive_forecast(trained):
    model, z, test, mu, sigma, last = trained
    future = ((test - mu) / sigma)[:, None]
    forecast = inference.forecast(model, z[:, None], mode="open-loop", future=future[:-1])
    assert forecast.shape == (len(test), 1)
    ours = _rmse(forecast[:, 0] * sigma + mu, test)
    naive_one_step = _rmse(np.concatenate([[last], test[:-1]]), test)  # the previous true value
    print(f"chickenpox open-loop RMSE {ours:.1f} vs naive previous-value {naive_one_step:.1f}")
    assert ours < naive_one_step


def test_forecast_keeps_the_state_after_the_last_step(trained):
    model, z, *_ = trained
    first = inference.forecast(model, z[:, None], steps=3)
    np.testing.assert_allclose(
        inference.predict(model, first[-1:]),  # continues from the stored state
        inference.forecast(model, z[:, None], steps=4)[-1:], atol=1e-6)


def test_forecast_rejects_bad_arguments(trained):
    model, z, *_ = trained
    with pytest.raises(ValueError, match="mode must be one of"):
        inference.forecast(model, z[:, None], steps=2, mode="sideways")
    with pytest.raises(ValueError, match="steps must be a positive integer"):
        inference.forecast(model, z[:, None])
    with pytest.raises(ValueError, match="pass future="):
        inference.forecast(model, z[:, None], mode="open-loop")
    with pytest.raises(ValueError, match="needs 9 observed future values"):
        inference.forecast(model, z[:, None], steps=10, mode="open-loop", future=z[:3, None])
    last = keras.Sequential([keras.Input((None, 1)), L.LSTM(4, output_mode="last"),
                             L.FullyConnected(1)])
    with pytest.raises(ValueError, match="sequence-to-sequence model"):
        inference.forecast(last, z[:20, None], steps=2)
    wide = keras.Sequential([keras.Input((None, 1)), L.LSTM(4), L.FullyConnected(2)])
    with pytest.raises(ValueError, match="output width must equal its input width"):
        inference.forecast(wide, z[:20, None], steps=2)


@pytest.mark.parametrize("mode", ["closed-loop", "open-loop"])
@pytest.mark.parametrize("count", [1, 3])
def test_forecast_steps_are_the_bits_of_a_predict_and_update_state_loop(rng, mode, count):
    """forecast's own step loop gives what MATLAB's loop of predictAndUpdateState calls gives
    (each step's inputs, outputs and the final stored states, bit for bit), one observation and
    several (one mini-batch), and when the observations span several mini-batches."""
    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.Input((None, 2)), L.GRU(5), L.LSTM(4), L.FullyConnected(2)])
    X = [rng.normal(size=(n, 2)).astype("float32") for n in (6, 4, 9)[:count]]
    future = [rng.normal(size=(5, 2)).astype("float32") for _ in X]
    layers = L.stateful_layers(model)
    for mini_batch_size in (128, 2):
        got = inference.forecast(model, X, steps=5, mode=mode, future=future,
                                 mini_batch_size=mini_batch_size)
        got_state = [layer.stored_state for layer in layers]
        inference.reset_state(model)
        options = {"mini_batch_size": mini_batch_size}
        current = [p[-1:] for p in inference.predict_and_update_state(model, X, **options)]
        expected = [current]
        for k in range(1, 5):
            inputs = current if mode == "closed-loop" else [f[k - 1:k] for f in future]
            current = inference.predict_and_update_state(model, inputs, **options)
            expected.append(current)
        for row in range(count):
            np.testing.assert_array_equal(got[row], np.concatenate([e[row] for e in expected]))
        for mine, theirs in zip(got_state, (layer.stored_state for layer in layers),
                                strict=True):
            for a, b in zip(mine, theirs, strict=True):
                np.testing.assert_array_equal(a, b)


def test_a_prediction_fed_back_is_checked_for_nan():
    """A closed loop that blows up to NaN stops with the message a NaN input gets."""
    model = keras.Sequential([keras.Input((None, 1)), L.LSTM(2), L.FullyConnected(1)])
    model.layers[0].set_matlab_weights(input_weights=np.full((8, 1), 5.0),
                                       recurrent_weights=np.zeros((8, 2)), bias=np.zeros(8))
    # finite weights whose output overflows to inf: h is about 0.76 after a step of ones
    model.layers[-1].set_matlab_weights(weights=np.full((1, 2), 3e38), bias=np.full(1, 3e38))
    with pytest.raises(ValueError, match="contains NaN or Inf"):
        inference.forecast(model, np.ones((3, 1), "float32"), steps=3)
