"""The README's quickstart runs as written; its set-up names the two commands."""

import re

from tests.conftest import REPO


def _python_blocks():
    text = (REPO / "README.md").read_text()
    return re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)


def test_readme_gives_the_two_commands():
    text = (REPO / "README.md").read_text()
    assert "make demo" in text and "make test" in text


def test_quickstart_runs(capsys):
    blocks = _python_blocks()
    assert blocks, "README.md has no python quickstart block"
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {"__name__": "readme"})  # noqa: S102
    printed = capsys.readouterr().out
    assert "(400, 12) (400, 100) (400,)" in printed
    assert "(4, 9)" in printed and "270 (20, 12)" in printed and "(None, 9)" in printed


def test_readme_table_names_every_matlab_constructor():
    from matkeras import matlab

    text = (REPO / "README.md").read_text()
    missing = [name for name in matlab.__all__
               if name not in ("assembleNetwork", "layerGraph", "connectLayers")
               and f"`{name}" not in text]
    assert not missing, f"README's MATLAB table lacks {missing}"
