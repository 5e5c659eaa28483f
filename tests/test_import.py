"""``import matkeras`` is light (no TensorFlow) and still registers every saveable matkeras class
with Keras, whichever is imported first; and the package's import graph keeps its floors."""

import ast
import os
import subprocess
import sys
import textwrap

import keras
import pytest

from matkeras.layers import LSTM, MatlabL2
from tests.conftest import REPO


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A .keras file using matkeras layers, a regularizer, a loss and an optimizer."""
    folder = tmp_path_factory.mktemp("saved")
    inputs = keras.Input((None, 3))
    hidden = LSTM(4, name="lstm", input_weights_l2_factor=2.0)(inputs)
    outputs = keras.layers.Dense(2, kernel_regularizer=MatlabL2(1e-3, 1.0))(hidden)
    from matkeras.layers import MatlabHalfMeanSquaredError
    from matkeras.optimizers import Adam

    model = keras.Model(inputs, outputs)
    model.compile(optimizer=Adam(), loss=MatlabHalfMeanSquaredError())
    model.save(folder / "net.keras")
    return folder / "net.keras"


def _fresh(code):
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.strip().splitlines()


@pytest.mark.parametrize("first", [
    "import matkeras\nimport keras",          # matkeras before Keras: registered when Keras loads
    "import keras\nimport matkeras",          # Keras first: registered at import matkeras
    "import matkeras\nimport tensorflow",     # TensorFlow loads Keras from inside its __init__
    "import matkeras.ops\nimport keras",      # Keras loaded halfway through matkeras's own modules
    "from matkeras.data import SequenceDataset\nimport keras",
])
def test_import_matkeras_is_enough_to_load_keras_files(saved, first):
    lines = _fresh(f"""
        import sys
        {first.splitlines()[0]}
        print("tensorflow" in sys.modules)
        {first.splitlines()[1]}
        import keras
        model = keras.models.load_model({str(saved)!r})
        print(type(model.get_layer("lstm")).__module__, type(model.optimizer).__module__,
              type(model.loss).__module__)
    """)
    assert lines[-1] == "matkeras.layers.lstm matkeras.optimizers matkeras.layers.outputs", lines
    if first.startswith("import matkeras\n"):
        assert lines[-2] == "False"  # import matkeras alone loads no TensorFlow


def test_registration_covers_every_saveable_class_of_the_package():
    """Registration imports `REGISTERING`; every module of the package together registers no
    more (a new module with saveable classes must be reachable from those)."""
    lines = _fresh("""
        import importlib, pkgutil
        import keras
        import matkeras
        def names():
            return sorted(k for k in keras.saving.get_custom_objects() if k.startswith("matkeras>"))
        registered = names()
        for module in pkgutil.walk_packages(matkeras.__path__, "matkeras."):
            if module.name != "matkeras.demo":
                importlib.import_module(module.name)
        print(len(registered), registered == names())
    """)
    count, same = lines[-1].split()
    assert int(count) >= 30 and same == "True", lines[-1]


# -- floors of the import graph ---------------------------------------------------------------
#: DESIGN.md: ops (compute, activation tables) <- layers <- network/data <- training/inference/
#: export <- converters/cli/matlab facade. A module imports, at module level, only its own floor
#: and those below (imports inside functions may reach up: they run on use).
FLOORS = {
    "matkeras._version": 0, "matkeras._registration": 0, "matkeras._table": 0,
    "matkeras.categorical": 0,
    "matkeras.ops": 1,
    "matkeras.layers": 2,
    "matkeras.network": 3, "matkeras.data": 3, "matkeras.datasets": 3, "matkeras.optimizers": 3,
    "matkeras.losses": 3, "matkeras.metrics": 3,
    "matkeras.training": 4, "matkeras.inference": 4, "matkeras._forward": 4,
    "matkeras.export": 4, "matkeras.plot": 4,
    "matkeras.converters": 5, "matkeras.cli": 5, "matkeras.matlab": 5, "matkeras.demo": 5,
    "matkeras.dlnetwork": 5, "matkeras.trainnet": 5, "matkeras.minibatch": 5,
    "matkeras.workflows": 5, "matkeras.validation": 4, "matkeras.options": 0,
}


def _floor(module):
    parts = module.split(".")
    for size in range(len(parts), 0, -1):
        if ".".join(parts[:size]) in FLOORS:
            return FLOORS[".".join(parts[:size])]
    raise AssertionError(f"{module} has no floor in FLOORS: add it")


def _modules():
    for source, package in (("matkeras", "matkeras"), ("converters", "matkeras.converters")):
        for folder, _, files in os.walk(REPO / source):
            for name in files:
                if name.endswith(".py"):
                    relative = os.path.relpath(os.path.join(folder, name), REPO / source)
                    module = ".".join([package, *relative[:-3].split(os.sep)])
                    yield module.removesuffix(".__init__"), os.path.join(folder, name)


def test_modules_import_only_their_floor_and_below_at_module_level():
    upward = []
    for module, path in _modules():
        if module == "matkeras":
            continue
        with open(path, encoding="utf-8") as handle:
            tree = ast.parse(handle.read(), path)
        for node in tree.body:  # module-level statements only
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                continue
            for target in targets:
                if target.startswith("matkeras.") and _floor(target) > _floor(module):
                    upward.append(f"{module} imports {target}")
    assert not upward, upward

