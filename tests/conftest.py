"""Shared test helpers: fixtures from ../shared (which must exist: tests never skip on them)."""

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import matkeras  # noqa: E402, F401  (first: its TensorFlow settings apply to every test)

if os.environ.get("KERAS_BACKEND") == "torch":  # the layer tests on PyTorch (test_backends.py)
    import torch

    # outputs that need no gradient convert with np.asarray, as on the other backends; the tests
    # that take gradients switch them on themselves
    torch.set_grad_enabled(False)

REPO = Path(__file__).resolve().parent.parent


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "tensorflow: needs Keras's TensorFlow backend (TFLite, tf.function, the "
        "speed rule's TensorFlow measurements); left out where test_backends.py runs the layer "
        "tests on PyTorch and JAX")
SHARED_FIXTURES = Path(os.environ.get("MATKERAS_FIXTURES", REPO.parent / "shared" / "fixtures"))


def fixture_path(*parts):
    """Path of a file in ../shared/fixtures; fails the test loudly when it is missing."""
    path = SHARED_FIXTURES.joinpath(*parts)
    if not path.exists():
        pytest.fail(
            f"Required fixture {path} is missing. The tests read real MATLAB-saved files and data "
            "from ../shared/fixtures beside the repository (or MATKERAS_FIXTURES); they never "
            "skip without them.",
            pytrace=False,
        )
    return path


@pytest.fixture
def gradients():
    """Gradients on for a test that trains (the layer tests on PyTorch run with them off)."""
    if os.environ.get("KERAS_BACKEND") != "torch":
        yield
        return
    with torch.enable_grad():
        yield


@pytest.fixture
def rng(request):
    """A numpy Generator seeded from the test's name: reproducible, different per test."""
    seed = sum(ord(ch) * (k + 1) for k, ch in enumerate(request.node.name)) % (2**32)
    return np.random.default_rng(seed)
