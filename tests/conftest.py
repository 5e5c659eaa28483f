"""Shared test helpers: fixtures from ../shared (which must exist: tests never skip on them)."""

import gc
import itertools
import os
import sys
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import matkeras  # noqa: E402, F401  (first: its TensorFlow settings apply to every test)

if os.environ.get("MATKERAS_BLOCK_TENSORFLOW") == "1":
    # test_backends.py's layer runs on PyTorch and JAX: Keras's serialization imports TensorFlow
    # wherever it is installed (6-9 s a process); the tests these runs select need none of it,
    # so Keras sees the install a user without TensorFlow has
    sys.modules["tensorflow"] = None
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


def pytest_collection_modifyitems(config, items):
    """``MATKERAS_CASE_STRIDE=s`` (test_backends.py's JAX run): each parametrized test keeps
    about one case in s (at least two), spread over its parameter list with a prime step that
    does not divide the list's length, so that every level of each parameter still runs."""
    stride = int(os.environ.get("MATKERAS_CASE_STRIDE", "0"))
    if stride <= 1:
        return
    groups = {}
    for item in items:
        groups.setdefault((item.module.__name__, item.originalname), []).append(item)
    keep = set()
    for cases in groups.values():
        count = len(cases)
        wanted = max(min(count, 2), -(-count // stride))
        step = next(p for p in range(max(1, count // wanted), count + 2)
                    if _prime(p) and count % p) if wanted < count else 1
        keep.update(id(cases[(j * step) % count]) for j in range(wanted))
    deselected = [item for item in items if id(item) not in keep]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if id(item) in keep]


#: Garbage collection in a long test process: TFLite's converter runs a full ``gc.collect()``
#: at each conversion, and Python's own full collections traverse every object the process
#: holds (some millions after a few hundred tests: about 1 s a collection). At the start of each
#: test module the objects alive are frozen (``gc.freeze``), so that later collections traverse
#: only what later modules made; every FULL_COLLECTION_EVERY-th module they are unfrozen and
#: collected with the rest. Before each freeze the previous module's garbage is collected (a
#: collection of the unfrozen objects only), so that no garbage is frozen: a dead ``tf.data``
#: iterator's destructor waits for its autotune thread, about as long as the iterator lived
#: (measured: 41 s for one kept 40 s), and such iterators are freed only by a collection when
#: a test keeps the exception of a training it stopped (``pytest.raises``: frame, exception
#: and traceback form a cycle). Freezing them stalled a test process by 8-90 s a run.
FULL_COLLECTION_EVERY = 4
_MODULES = itertools.count()


@pytest.fixture(autouse=True, scope="module")
def _frozen_survivors():
    if next(_MODULES) % FULL_COLLECTION_EVERY == 0:
        gc.unfreeze()
    gc.collect()
    gc.freeze()
    yield


#: TensorFlow's time loop: steps per iteration (matkeras.ops._speed's "unroll"). The suite
#: traces hundreds of small layers once each, and a loop of 4 steps per iteration (the default
#: for small layers) is about three times the graph of one step to build and optimize, for the
#: same output bits (tests/layers/test_unrolled_loop.py checks that for every layer kind, and the
#: same gradient bits through the LSTM's whole-sequence backward pass). So the
#: test modules run with MATKERAS_LOOP_UNROLL=1 (the processes they start inherit it), except
#: those below, which check what a user's default builds: the unrolled loop itself, SavedModel,
#: TFLite and ONNX export (the converters lower the unrolled loop), XLA, repeatable bits in fresh
#: processes, real MATLAB networks and the command line. Measured on 2 cores, the whole suite
#: with 2 workers: 652-689 s -> 445-566 s (test_forward 40 -> 11 s, test_recurrent_family 66 ->
#: 27 s, the notebooks 76 -> 55 s). MATKERAS_LOOP_UNROLL set when pytest starts (``auto``: the
#: rule) holds for every module but test_unrolled_loop.
DEFAULT_UNROLL = ("tests.layers.test_unrolled_loop", "tests.test_export",
                  "tests.test_export_attention", "tests.test_export_onnx",
                  "tests.test_inference_xla", "tests.test_determinism", "tests.test_cli",
                  "tests.converters.", "tests.fixtures.")
_UNROLL_GIVEN = os.environ.get("MATKERAS_LOOP_UNROLL")


@pytest.fixture(autouse=True, scope="module")
def _loop_unroll(request):
    if _UNROLL_GIVEN is not None:
        yield
        return
    if request.module.__name__.startswith(DEFAULT_UNROLL):
        os.environ.pop("MATKERAS_LOOP_UNROLL", None)
    else:
        os.environ["MATKERAS_LOOP_UNROLL"] = "1"
    try:
        yield
    finally:
        os.environ.pop("MATKERAS_LOOP_UNROLL", None)


def _prime(number):
    return number > 1 and all(number % d for d in range(2, int(number ** 0.5) + 1))


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
