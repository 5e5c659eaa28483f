"""Saved models reloaded by a new Python process, where only ``import matkeras`` can have
registered matkeras's classes (DESIGN.md, house style 6): the cases, gathered from the test
modules, and the one process that reloads them all (tests/test_fresh_process_reload.py).

A test module registers a case with :func:`reload_case`: a function ``case(rng)`` that returns
``(model, inputs, checks)``; ``checks`` maps a Python expression on the reloaded ``model`` to
the text its ``str`` must end with (for example the module of a layer's class).
"""

import json
import subprocess
import sys
import textwrap

import keras
import numpy as np

CASES = {}


def reload_case(function):
    """Registers `function` as a fresh-process reload case (see the module docstring)."""
    CASES[f"{function.__module__}.{function.__name__}"] = function
    return function


_CHILD = textwrap.dedent("""
    import json, sys
    import numpy as np, keras
    import matkeras  # registers every matkeras class; nothing else is imported
    folder, cases = sys.argv[1], json.loads(sys.argv[2])
    found = {}
    for index, (count, checks) in enumerate(cases):
        model = keras.models.load_model(f"{folder}/case{index}.keras")
        x = [np.load(f"{folder}/case{index}_x{k}.npy") for k in range(count)]
        out = model(x if count > 1 else x[0])
        for k, tensor in enumerate(out if isinstance(out, (list, tuple)) else [out]):
            np.save(f"{folder}/case{index}_y{k}.npy", keras.ops.convert_to_numpy(tensor))
        found[index] = [str(eval(expression, {"model": model})) for expression in checks]
    print(json.dumps(found))
""")


def reload_all(folder, rng):
    """Saves every registered case in `folder`, reloads them all in one new process, and
    returns ``{name: (expected outputs, reloaded outputs, checks, check results)}``."""
    saved = []
    for index, (name, case) in enumerate(sorted(CASES.items())):
        model, inputs, checks = case(rng)
        inputs = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        out = model(inputs if len(inputs) > 1 else inputs[0])
        expected = [keras.ops.convert_to_numpy(t)
                    for t in (out if isinstance(out, (list, tuple)) else [out])]
        model.save(folder / f"case{index}.keras")
        for k, array in enumerate(inputs):
            np.save(folder / f"case{index}_x{k}.npy", array)
        saved.append((name, expected, checks, len(inputs)))
    listing = json.dumps([(count, list(checks)) for _, _, checks, count in saved])
    result = subprocess.run([sys.executable, "-c", _CHILD, str(folder), listing],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    found = json.loads(result.stdout.strip().splitlines()[-1])
    return {name: (expected, [np.load(folder / f"case{index}_y{k}.npy")
                              for k in range(len(expected))], checks, found[str(index)])
            for index, (name, expected, checks, _) in enumerate(saved)}
