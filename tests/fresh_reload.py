"""Saved models reloaded by a new Python process, where only ``import matkeras`` can have
registered matkeras's classes (DESIGN.md, house style 6): the cases, gathered from the test
modules, and the new processes, one per case, that reload them
(tests/test_fresh_process_reload.py).

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
    folder, index, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    checks = json.loads(sys.argv[4])
    model = keras.models.load_model(f"{folder}/case{index}.keras")
    x = [np.load(f"{folder}/case{index}_x{k}.npy") for k in range(count)]
    out = model(x if count > 1 else x[0])
    for k, tensor in enumerate(out if isinstance(out, (list, tuple)) else [out]):
        np.save(f"{folder}/case{index}_y{k}.npy", keras.ops.convert_to_numpy(tensor))
    print(json.dumps([str(eval(expression, {"model": model})) for expression in checks]))
""")
#: Reload processes running at once (each case has a process of its own).
PARALLEL = 3
TIMEOUT = 300  # seconds for one reload process


def reload_all(folder, rng):
    """Saves every registered case in `folder`, reloads each in a new process of its own (so a
    class one case's load registers cannot hide a missing registration in another; a few run
    at once), and returns ``{name: (expected outputs, reloaded outputs, checks, check
    results)}``."""
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
    found = {}
    waiting = list(enumerate(saved))
    running = {}
    try:
        while waiting or running:
            while waiting and len(running) < PARALLEL:
                index, (_, _, checks, count) = waiting.pop(0)
                running[index] = subprocess.Popen(
                    [sys.executable, "-c", _CHILD, str(folder), str(index), str(count),
                     json.dumps(list(checks))],
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            index, process = next(iter(running.items()))
            stdout, stderr = process.communicate(timeout=TIMEOUT)
            del running[index]
            assert process.returncode == 0, (saved[index][0], stderr[-3000:])
            found[index] = json.loads(stdout.strip().splitlines()[-1])
    finally:
        for process in running.values():
            process.kill()
            process.communicate()
    return {name: (expected, [np.load(folder / f"case{index}_y{k}.npy")
                              for k in range(len(expected))], checks, found[index])
            for index, (name, expected, checks, _) in enumerate(saved)}
