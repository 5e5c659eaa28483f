"""The notebooks in notebooks/ run top to bottom (their quick mode: MATKERAS_NOTEBOOK_QUICK=1)."""

import os

import nbformat
import pytest
from nbclient import NotebookClient

from tests.conftest import REPO, SHARED_FIXTURES

NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks_and_the_readme_links_each():
    readme = (REPO / "README.md").read_text()
    assert len(NOTEBOOKS) == 10
    for path in NOTEBOOKS:
        assert f"notebooks/{path.name}" in readme, path.name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(path, monkeypatch):
    monkeypatch.setenv("MATKERAS_NOTEBOOK_QUICK", "1")
    monkeypatch.setenv("MATKERAS_FIXTURES", str(SHARED_FIXTURES))
    monkeypatch.setenv("MPLBACKEND", "agg")
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
    notebook = nbformat.read(path, as_version=4)
    assert all(not cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code"), \
        "notebooks are committed without outputs"
    client = NotebookClient(notebook, timeout=900, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute()  # raises CellExecutionError, with the cell and traceback, on any error
    printed = "".join(output.get("text", "") for cell in notebook.cells
                      if cell.cell_type == "code" for output in cell.outputs)
    assert "RESULT" in printed
    assert os.environ["MATKERAS_NOTEBOOK_QUICK"] == "1"
