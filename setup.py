"""The package list and package data, read from the tree (everything else is in pyproject.toml).

Every directory with an ``__init__.py`` under ``matkeras/`` is a package, and so is every one
under ``converters/``, installed as ``matkeras.converters``; every other file under them (the
Japanese Vowels data, the MATLAB export script, ...) ships as package data of the nearest package
above it. Nothing is listed by hand, so nothing can fall behind: ``tests/test_packaging.py``
compares the built wheel with the tree.
"""

import os

from setuptools import setup

#: Source folder -> the package it installs as.
ROOTS = {"matkeras": "matkeras", "converters": "matkeras.converters"}
#: Never shipped: caches, compiled files, editor and notebook leftovers, hidden files.
SKIPPED_DIRECTORIES = {"__pycache__", ".ipynb_checkpoints"}
SKIPPED_SUFFIXES = (".pyc", ".pyo", "~", ".swp")


def shipped(name):
    return not name.startswith(".") and not name.endswith(SKIPPED_SUFFIXES)


def discover(roots=ROOTS, base="."):
    """``(packages, package_dir, package_data)`` for every package and data file under `roots`."""
    packages, package_data = [], {}
    for folder, package in roots.items():
        if not os.path.isfile(os.path.join(base, folder, "__init__.py")):
            raise SystemExit(f"{folder}/ must be a package (it has no __init__.py).")
        for directory, subdirectories, files in os.walk(os.path.join(base, folder)):
            subdirectories[:] = sorted(d for d in subdirectories
                                       if d not in SKIPPED_DIRECTORIES and shipped(d))
            relative = os.path.relpath(directory, os.path.join(base, folder))
            parts = [] if relative == "." else relative.split(os.sep)
            if "__init__.py" in files:
                owner, inside = ".".join([package, *parts]), []
                packages.append(owner)
            else:  # a data folder: its files belong to the nearest package above
                owner = ".".join([package, *parts[:-1]]) if parts else package
                while owner not in packages:
                    owner = owner.rpartition(".")[0]
                inside = parts[len(owner.split(".")) - len(package.split(".")):]
            for name in sorted(files):
                if shipped(name) and (inside or not name.endswith(".py")):  # .py: modules
                    package_data.setdefault(owner, []).append("/".join([*inside, name]))
    return packages, {package: folder for folder, package in roots.items()}, package_data


if __name__ == "__main__":
    found, directories, data = discover()
    setup(packages=found, package_dir=directories, package_data=data,
          include_package_data=False)
