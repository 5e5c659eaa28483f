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


def test_readme_says_what_the_speed_choices_are_now():
    """No run-time probes any more (a fixed rule, matkeras/ops/_speed.py), and the repeatable
    bits it promises are the ones tests/test_forward.py and tests/test_determinism.py test."""
    text = (REPO / "README.md").read_text()
    assert "probe" not in text.lower()
    assert "fixed rule" in text and "xla=False" in text and "not bit for bit" in text
