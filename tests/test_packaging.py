"""The built sdist and wheel hold the whole tree, and the runtime dependencies cover its imports.

`make test` builds ``build/dist`` first and passes it as MATKERAS_DIST; on its own this test
builds both into a temporary folder (``python -m build``, about 20 s). What the wheel does once
installed is ``tests/installed/`` (``make test-installed``).
"""

import ast
import glob
import importlib.metadata
import os
import subprocess
import sys
import tarfile
import zipfile

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import REPO

#: Source folder -> where its files land in the wheel.
INSTALLED_AS = {"matkeras": "matkeras", "converters": "matkeras/converters"}


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    folder = os.environ.get("MATKERAS_DIST")
    if not folder:
        folder = str(tmp_path_factory.mktemp("dist"))
        result = subprocess.run([sys.executable, "-m", "build", "--outdir", folder, str(REPO)],
                                capture_output=True, text=True, timeout=900)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    wheels = glob.glob(os.path.join(folder, "matkeras-*.whl"))
    sdists = glob.glob(os.path.join(folder, "matkeras-*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1, f"{folder} holds {os.listdir(folder)}"
    return wheels[0], sdists[0]


def tree_files():
    """Every file of matkeras/ and converters/ that git tracks or would track (not ignored)."""
    result = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z", "--",
         *INSTALLED_AS], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"git ls-files failed in {REPO}: {result.stderr}"
    files = {name for name in result.stdout.split("\0") if name}
    return {name for name in files if os.path.exists(os.path.join(REPO, name))}  # not deleted


def installed_path(name):
    folder, _, rest = name.partition("/")
    return f"{INSTALLED_AS[folder]}/{rest}"


def wheel_files(wheel):
    with zipfile.ZipFile(wheel) as archive:
        return {n for n in archive.namelist() if not n.split("/")[0].endswith(".dist-info")}


def wheel_metadata(wheel):
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        return archive.read(name).decode("utf-8").splitlines()


def runtime_requirements(wheel):
    return [Requirement(line.split(":", 1)[1].strip()) for line in wheel_metadata(wheel)
            if line.startswith("Requires-Dist:") and "extra ==" not in line]


def test_wheel_holds_every_module_and_data_file_of_the_tree(dist):
    expected = {installed_path(name) for name in tree_files()}
    assert "matkeras/converters/matlab/matkeras_export.m" in expected  # the tree is read right
    assert "matkeras/datasets/data/japanese_vowels.npz" in expected
    found = wheel_files(dist[0])
    assert not expected - found, f"missing from the wheel: {sorted(expected - found)}"
    assert not found - expected, f"in the wheel but not in the tree: {sorted(found - expected)}"


def test_sdist_holds_every_file_of_the_tree_and_the_build_files(dist):
    with tarfile.open(dist[1]) as archive:
        names = {n.split("/", 1)[1] for n in archive.getnames() if "/" in n}
    missing = (tree_files() | {"setup.py", "pyproject.toml", "README.md"}) - names
    assert not missing, f"missing from the sdist: {sorted(missing)}"


def _third_party_imports():
    """{top-level module: first file importing it} over matkeras/ and converters/ (absolute
    imports of modules outside the standard library and matkeras)."""
    found = {}
    for name in sorted(tree_files()):
        if not name.endswith(".py"):
            continue
        with open(os.path.join(REPO, name), encoding="utf-8") as handle:
            tree = ast.parse(handle.read(), name)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                modules = [node.module]
            else:
                continue
            for module in modules:
                top = module.split(".")[0]
                if top not in sys.stdlib_module_names and top != "matkeras":
                    found.setdefault(top, name)
    return found


#: Modules matkeras imports only while Keras runs on their backend (inside the functions of
#: matkeras.ops._torch and matkeras.ops.precision): each is an extra of its own name.
BACKEND_MODULES = ("torch", "jax")


def test_every_third_party_import_is_a_runtime_dependency(dist):
    imports = _third_party_imports()
    assert {"tensorflow", "keras", "numpy", "matio"} <= set(imports)  # the scan sees them
    declared = {canonicalize_name(r.name) for r in runtime_requirements(dist[0])}
    extras = {line.split(":", 1)[1].strip() for line in wheel_metadata(dist[0])
              if line.startswith("Provides-Extra:")}
    providers = importlib.metadata.packages_distributions()
    undeclared = {}
    for module, where in imports.items():
        if module in BACKEND_MODULES and module in extras:
            continue
        distributions = {canonicalize_name(d) for d in providers.get(module, [])}
        if not distributions & declared:
            undeclared[module] = (where, sorted(distributions) or "not installed")
    assert not undeclared, ("imported at run time but not a runtime dependency in "
                            f"pyproject.toml (module: (first file, distribution)): {undeclared}")
    assert "mat-io" in declared and "onnx" in declared


def test_the_tested_versions_are_inside_the_declared_ranges(dist):
    """The suite runs on what the package declares: each installed runtime dependency satisfies
    its requirement, and the running Python satisfies Requires-Python."""
    outside = {}
    for requirement in runtime_requirements(dist[0]):
        version = importlib.metadata.version(requirement.name)
        if not requirement.specifier.contains(version, prereleases=True):
            outside[requirement.name] = (str(requirement.specifier), version)
    assert not outside, f"installed versions outside the declared ranges: {outside}"
    python = next(line.split(":", 1)[1].strip() for line in wheel_metadata(dist[0])
                  if line.startswith("Requires-Python:"))
    running = ".".join(map(str, sys.version_info[:3]))
    assert Requirement(f"python{python}").specifier.contains(running), (python, running)
