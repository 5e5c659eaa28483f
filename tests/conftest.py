"""Shared test helpers: fixtures from ../shared (which must exist: tests never skip on them)."""

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# The speed choices the recurrent ops measure once per process and shape (product layout, batch
# loops, LSTM backward pass) are pinned to the values TensorFlow's op determinism takes: each
# measurement costs seconds, and the suite meets hundreds of shapes in each worker and in every
# subprocess and notebook kernel it starts (they inherit this environment). Every value of each
# choice is checked against the oracle with the variable set explicitly
# (tests/layers/test_recurrent_blocks.py, test_batch_parts.py, test_lstm_backward.py), and the
# measuring itself by tests that unset the variable (test_determinism.py and those files).
# The installed-wheel check (tests/installed/run.py) runs outside pytest: it measures, as users do.
for _name, _value in (("MATKERAS_RECURRENT_BLOCKS", "whole"), ("MATKERAS_BATCH_PARTS", "1"),
                      ("MATKERAS_LSTM_BACKWARD", "steps")):
    os.environ.setdefault(_name, _value)
import matkeras  # noqa: E402, F401  (first: its TensorFlow settings apply to every test)

REPO = Path(__file__).resolve().parent.parent
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
def rng(request):
    """A numpy Generator seeded from the test's name: reproducible, different per test."""
    seed = sum(ord(ch) * (k + 1) for k, ch in enumerate(request.node.name)) % (2**32)
    return np.random.default_rng(seed)
