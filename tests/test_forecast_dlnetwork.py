"""Closed-loop forecasting on MATLAB's chickenpox series the current way (trainnet with "mse";
``[Y, state] = predict(net, X)``, ``net.State = state``, ``resetState``), against the classic way
(trainNetwork with a regression layer; predictAndUpdateState through
matkeras.inference.forecast): with the learning rate scaled by R/2 the two trainings give the
same float64 weights, and the two forecasts the same numbers and RMSE."""

import keras
import numpy as np
import pytest

from matkeras import inference
from matkeras.matlab import (
    dlnetwork,
    fullyConnectedLayer,
    lstmLayer,
    predict,
    regressionLayer,
    resetState,
    sequenceInputLayer,
    trainingOptions,
    trainnet,
    trainNetwork,
)
from matkeras.network import assemble_network
from tests import tolerances as tol
from tests.fixtures.matlab_files import chickenpox


def _rmse(forecast, truth):
    return float(np.sqrt(np.mean((forecast - truth) ** 2)))


@pytest.fixture(scope="module")
def trained():
    """Both trainings, once for the module's tests, in float64 (kept on while they run)."""
    floatx, policy = keras.config.floatx(), keras.config.dtype_policy().name
    keras.config.set_floatx("float64")
    keras.config.set_dtype_policy("float64")
    try:
        yield _train()
    finally:
        keras.config.set_floatx(floatx)
        keras.config.set_dtype_policy(policy)


def _train():
    series = chickenpox()
    split = int(np.floor(0.9 * len(series)))
    train, test = series[:split], series[split:]
    mu, sigma = train.mean(), train.std(ddof=1)
    z = (train - mu) / sigma
    X, Y = z[:-1, None], z[1:, None]

    def body():
        return [sequenceInputLayer(1), lstmLayer(24), fullyConnectedLayer(1)]

    keras.utils.set_random_seed(0)
    classic = assemble_network(body() + [regressionLayer()], compile=False)
    current = assemble_network(body(), compile=False)
    current.set_weights(classic.get_weights())
    common = dict(MaxEpochs=40, L2Regularization=0.0, Momentum=0.9, Verbose=False)
    eta = 0.05  # R = 1 response: trainnet's "mse" is 2x the half-MSE, so half the rate
    trainNetwork([X], [Y], classic, trainingOptions("sgdm", InitialLearnRate=eta, **common))
    net, info = trainnet([X], [Y], current, "mse",
                         trainingOptions("sgdm", InitialLearnRate=eta / 2, **common))
    return classic, net, z, test, mu, sigma, info


def test_trainnet_and_train_network_agree_on_the_series(trained):
    classic, net, *_, info = trained
    worst = max(float(np.max(np.abs(a - b))) for a, b in
                zip(classic.get_weights(), net.get_weights(), strict=True))
    print(f"chickenpox, 40 epochs: trainnet(mse, eta/2) vs trainNetwork(regression, eta) max "
          f"|diff| {worst:.2e}; final loss {info.TrainingHistory.Loss[-1]:.4f}")
    assert worst <= tol.FLOAT64_ATOL
    assert info.TrainingHistory.Loss[-1] < 0.5 * info.TrainingHistory.Loss[0]


def test_closed_loop_forecast_with_net_state_equals_the_classic_path(trained):
    classic, net, z, test, mu, sigma, _ = trained
    steps = len(test)
    expected = inference.forecast(classic, z[:, None], steps=steps)[:, 0] * sigma + mu
    # MATLAB's current example: reset, prime on the observed series, then feed forecasts back
    net = resetState(dlnetwork(net))
    Z, state = predict(net, z[:, None], nargout=2)
    net.State = state
    current = [Z[-1, 0]]
    for _ in range(steps - 1):
        y, state = predict(net, np.array([[current[-1]]]), nargout=2)
        net.State = state
        current.append(y[-1, 0])
    current = np.array(current) * sigma + mu
    rmse_classic, rmse_current = _rmse(expected, test), _rmse(current, test)
    print(f"chickenpox closed loop: RMSE classic {rmse_classic:.6f}, dlnetwork way "
          f"{rmse_current:.6f}, max forecast |diff| {np.max(np.abs(current - expected)):.2e}")
    assert np.max(np.abs(current - expected)) <= tol.FLOAT64_ATOL * sigma
    assert abs(rmse_current - rmse_classic) <= tol.FLOAT64_ATOL * sigma
