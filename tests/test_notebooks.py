"""The notebooks in notebooks/ are committed with the outputs of a full run (figures and results
visible without running them; notebooks/run_full.py makes them) and run top to bottom here in
their quick mode (MATKERAS_NOTEBOOK_QUICK=1), from a copy stripped of those outputs."""

import os

import nbformat
import pytest
from nbclient import NotebookClient

from tests.conftest import REPO, SHARED_FIXTURES

NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


def _printed(notebook):
    return "".join(output.get("text", "") for cell in notebook.cells
                   if cell.cell_type == "code" for output in cell.get("outputs", []))


def test_there_are_notebooks_and_the_readme_links_each():
    readme = (REPO / "README.md").read_text()
    assert len(NOTEBOOKS) == 12
    for path in NOTEBOOKS:
        assert f"notebooks/{path.name}" in readme, path.name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_committed_with_the_outputs_of_a_full_run(path):
    notebook = nbformat.read(path, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert notebook.metadata.get("matkeras", {}).get("full_run") is True, \
        "run it with notebooks/run_full.py and commit it with its outputs"
    assert all(cell.get("execution_count") for cell in code), "a code cell did not run"
    outputs = [output for cell in code for output in cell.outputs]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert any("image/png" in o.get("data", {}) for o in outputs), "no figure in the outputs"
    assert "RESULT" in _printed(notebook)


def _start_kernel(**extra):
    from jupyter_client.manager import KernelManager

    settings = {"MATKERAS_NOTEBOOK_QUICK": "1", "MATKERAS_FIXTURES": str(SHARED_FIXTURES),
                "MPLBACKEND": "agg", "TF_CPP_MIN_LOG_LEVEL": "2", **extra}
    manager = KernelManager(kernel_name="python3")
    manager.start_kernel(cwd=str(REPO / "notebooks"), env={**os.environ, **settings})
    return manager


@pytest.fixture(scope="module")
def kernel():
    """One Python kernel per test worker, reused by the notebooks it runs (each starts from an
    empty namespace, ``%reset -f``; the modules it imported stay loaded, which saves every
    notebook TensorFlow's import)."""
    manager = _start_kernel()
    try:
        yield manager
    finally:
        manager.shutdown_kernel(now=True)


#: What a notebook that runs Keras on the PyTorch backend sets before importing Keras: it gets
#: a kernel of its own (the shared one has Keras on TensorFlow).
TORCH = 'os.environ.setdefault("KERAS_BACKEND", "torch")'


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(path, kernel):
    notebook = nbformat.read(path, as_version=4)
    if any(TORCH in cell.source for cell in notebook.cells if cell.cell_type == "code"):
        own = _start_kernel(KERAS_BACKEND="torch")
        try:
            _run(notebook, path, own)
        finally:
            own.shutdown_kernel(now=True)
        return
    _run(notebook, path, kernel)


def _run(notebook, path, kernel):
    for cell in notebook.cells:  # run a copy without the committed outputs
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    notebook.cells.insert(0, nbformat.v4.new_code_cell(
        "%reset -f\nimport os\nassert os.environ['MATKERAS_NOTEBOOK_QUICK'] == '1'"))
    client = NotebookClient(notebook, km=kernel, timeout=900,
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute()  # raises CellExecutionError, with the cell and traceback, on any error
    assert "RESULT" in _printed(notebook)
