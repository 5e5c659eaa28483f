"""Runs notebooks in full (not the CI quick mode) and saves them with their outputs.

    python notebooks/run_full.py [names...]      # default: every notebooks/*.ipynb, in order

The notebooks are committed with the outputs of such a run, so their figures and results show
without running them; ``tests/test_notebooks.py`` checks that and runs a copy stripped of the
outputs in quick mode. Each notebook's metadata records the run (``matkeras.full_run``).
Takes long: run it niced (``nice -n 10``) on a quiet machine.
"""

import datetime
import os
import pathlib
import re
import sys
import time

import nbformat
from nbclient import NotebookClient

HERE = pathlib.Path(__file__).resolve().parent
#: TensorFlow's start-up log lines (absl, CUDA probing): not part of a notebook's results.
NOISE = re.compile(r"^(WARNING: All log messages before absl|[IWE]\d{4} |To enable the "
                   r"following instructions|\[IPKernelApp\])")


def _quiet(cell):
    """The cell's outputs without TensorFlow's start-up log lines."""
    kept = []
    for output in cell.outputs:
        if output.get("output_type") == "stream" and output.get("name") == "stderr":
            lines = [line for line in output.text.splitlines(keepends=True)
                     if line.strip() and not NOISE.match(line)]
            if not lines:
                continue
            output.text = "".join(lines)
        kept.append(output)
    cell.outputs = kept


def run(path):
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    os.environ.pop("MATKERAS_NOTEBOOK_QUICK", None)
    os.environ.pop("MPLBACKEND", None)  # the kernel's inline backend: figures become outputs
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
    start = time.perf_counter()
    client = NotebookClient(notebook, timeout=7200, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    seconds = time.perf_counter() - start
    for cell in notebook.cells:
        if cell.cell_type == "code":
            _quiet(cell)
    notebook.metadata["matkeras"] = {
        "full_run": True, "seconds": round(seconds, 1),
        "date": datetime.date.today().isoformat()}
    nbformat.write(notebook, path)
    return seconds


def main(names):
    """Runs each notebook; one that fails is left as it was and named at the end."""
    paths = [HERE / name for name in names] if names else sorted(HERE.glob("*.ipynb"))
    failed = []
    for path in paths:
        try:
            seconds = run(path)
        except Exception as error:  # noqa: BLE001 (reported, the others still run)
            failed.append(path.name)
            print(f"{path.name}: FAILED, left unchanged: {str(error)[-2000:]}", flush=True)
            continue
        print(f"{path.name}: {seconds:.0f} s", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
