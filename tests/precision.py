"""The ``float64`` fixture: layers, inputs, losses and metrics made in the test compute in
float64 (Keras caches its global dtype policy, so floatx and the policy are both set and
restored). Import it into a test module to use it."""

import keras
import pytest


@pytest.fixture
def float64():
    floatx, policy = keras.config.floatx(), keras.config.dtype_policy().name
    keras.config.set_floatx("float64")
    keras.config.set_dtype_policy("float64")
    yield
    keras.config.set_floatx(floatx)
    keras.config.set_dtype_policy(policy)
