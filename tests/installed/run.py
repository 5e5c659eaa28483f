"""The installed-package check (``make test-installed``, part of ``make test``): the built wheel,
installed into a fresh virtual environment outside the source tree, used as a user would.

    python tests/installed/run.py DIST_FOLDER [FIXTURES_FOLDER]

Installs the one wheel of DIST_FOLDER with pip into a virtual environment outside the source
tree, then runs ``use_installed.py`` with that venv's Python in isolated mode (``-I``: no
PYTHONPATH, no current-folder imports) from a new temporary folder, so nothing of the source tree
can be imported. FIXTURES_FOLDER defaults to MATKERAS_FIXTURES, else ``../shared/fixtures``
beside the repository; the check fails if it is missing. Prints the time of each stage; exits
non-zero on any failure.

The venv is made once per set of runtime requirements and reused: pip resolves and installs the
dependencies from the wheel's own metadata into an empty venv (2-4 minutes on 2 cores: about
2 GB of TensorFlow and friends to unpack; the package index here does not let pip cache
downloads), and a venv whose dependencies installed completely is kept under
``$XDG_CACHE_HOME/matkeras-installed-check/`` (``~/.cache``), named by a hash of the Python
version and the wheel's ``Requires-Dist``/``Requires-Python`` lines. Every run then uninstalls
whatever matkeras is there and installs the new wheel (``--no-deps``: the dependencies are
already those the metadata asks for, else the hash would differ), then ``pip check``s the
result. Only the latest requirement set's venv is kept, and one check runs at a time (a lock).
``--fresh`` (or MATKERAS_INSTALLED_FRESH=1) makes a new venv in a temporary folder and removes
it afterwards.
"""

import argparse
import fcntl
import glob
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))


def _stage(name, command, cwd, timeout, **extra_env):
    start = time.perf_counter()
    print(f"[installed] {name} ...", flush=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env.update(extra_env)
    result = subprocess.run(command, cwd=cwd, env=env, timeout=timeout)
    seconds = time.perf_counter() - start
    print(f"[installed] {name}: {seconds:.1f} s", flush=True)
    if result.returncode != 0:
        raise SystemExit(f"[installed] FAILED: {name} (exit code {result.returncode}).")
    return seconds


def _requirements(wheel):
    """The wheel's runtime requirement lines (METADATA's Requires-Python and Requires-Dist
    without extras)."""
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        lines = archive.read(name).decode("utf-8").splitlines()
    return sorted(line for line in lines if line.startswith("Requires-Python:") or (
        line.startswith("Requires-Dist:") and "extra ==" not in line))


def _venv_with_dependencies(venv, wheel):
    """A venv at `venv` holding the wheel's dependencies (installed through the wheel, then the
    wheel's own package removed); marked complete only once pip succeeded."""
    python = os.path.join(venv, "bin", "python")
    done = os.path.join(venv, ".matkeras-dependencies-installed")
    if os.path.exists(done):
        print(f"[installed] reusing the venv {venv} (same Python and requirements)")
        return python
    shutil.rmtree(venv, ignore_errors=True)
    for old in glob.glob(os.path.join(os.path.dirname(venv), "venv-*")):
        shutil.rmtree(old, ignore_errors=True)  # another requirement set's: 2 GB each
    _stage("create a venv", [sys.executable, "-m", "venv", venv], os.path.dirname(venv), 300)
    _stage("pip install the wheel and its dependencies",
           [python, "-m", "pip", "install", "--quiet", "--no-compile", wheel],
           os.path.dirname(venv), 1800)
    with open(done, "w") as marker:
        marker.write("\n".join(_requirements(wheel)) + "\n")
    return python


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dist")
    parser.add_argument("fixtures", nargs="?", default=os.environ.get(
        "MATKERAS_FIXTURES", os.path.join(os.path.dirname(REPO), "shared", "fixtures")))
    parser.add_argument("--fresh", action="store_true",
                        default=os.environ.get("MATKERAS_INSTALLED_FRESH") == "1",
                        help="a new venv, removed afterwards")
    args = parser.parse_args(argv)
    wheels = glob.glob(os.path.join(os.path.abspath(args.dist), "matkeras-*.whl"))
    if len(wheels) != 1:
        raise SystemExit(f"[installed] expected one matkeras wheel in {args.dist}; found "
                         f"{wheels}. Build it with `python -m build --outdir {args.dist}`.")
    wheel = wheels[0]
    fixtures = os.path.abspath(args.fixtures)
    if not os.path.isdir(fixtures):
        raise SystemExit(f"[installed] the fixtures folder {fixtures} is missing: the check "
                         "reads a MATLAB-saved network from ../shared/fixtures beside the "
                         "repository (or MATKERAS_FIXTURES).")
    start = time.perf_counter()
    work = tempfile.mkdtemp(prefix="matkeras-installed-")
    key = hashlib.sha256("\n".join([sys.version, *_requirements(wheel)]).encode()).hexdigest()
    cache = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"),
                         "matkeras-installed-check")
    venv = os.path.join(work, "venv") if args.fresh else os.path.join(cache, f"venv-{key[:16]}")
    for folder in (work, venv):
        if os.path.commonpath([os.path.abspath(folder), REPO]) == REPO:
            raise SystemExit(f"[installed] {folder} is inside the source tree.")
    os.makedirs(os.path.dirname(venv), exist_ok=True)
    lock = open(os.path.join(os.path.dirname(venv), ".lock"), "w")  # one run at a time
    fcntl.flock(lock, fcntl.LOCK_EX)
    try:
        python = _venv_with_dependencies(venv, wheel)
        _stage("pip install the wheel alone", [
            python, "-m", "pip", "install", "--quiet", "--no-compile", "--no-deps",
            "--force-reinstall", wheel], work, 600)
        _stage("pip check", [python, "-m", "pip", "check"], work, 300)
        script = shutil.copy(os.path.join(HERE, "use_installed.py"), work)
        _stage("use the installed package", [python, "-I", script, fixtures], work, 1200,
               TF_CPP_MIN_LOG_LEVEL="2")  # TensorFlow's info lines: the command line's own
    finally:
        shutil.rmtree(work, ignore_errors=True)
        lock.close()
    print(f"[installed] passed in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
