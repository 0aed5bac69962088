"""Every snippet in the README runs.

``python`` blocks are executed as they are (each in a fresh namespace, in an
empty folder); ``bash`` blocks line by line -- ``fastem ...`` through the
command line's ``main`` (exit status 0), ``python ...`` as a subprocess --
except blocks that install packages (``pip install``), which CI itself
runs.  ``text`` blocks are output, not run.
"""

import re
import shlex
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
FENCE = re.compile(r"^( *)```(\w+)\n(.*?)^\1```", re.MULTILINE | re.DOTALL)


def _blocks():
    text = README.read_text()
    out = []
    for match in FENCE.finditer(text):
        indent, language, body = match.groups()
        line = text.count("\n", 0, match.start()) + 1
        body = textwrap.dedent("\n".join(row[len(indent):] if row.startswith(indent) else row
                                         for row in body.splitlines()))
        out.append((line, language, body))
    return out


BLOCKS = [b for b in _blocks() if b[1] in ("python", "bash")]


def test_the_readme_starts_with_the_two_commands():
    blocks = _blocks()
    assert README.read_text().startswith("# fastem\n\n```bash\n")
    assert blocks[0][1:] == ("bash", "pip install . && fastem demo")
    assert blocks[1][1:] == ("bash", 'pip install -e ".[test]" && pytest')


@pytest.mark.parametrize("line, language, body", BLOCKS,
                         ids=[f"line{b[0]}-{b[1]}" for b in BLOCKS])
def test_snippet_runs(line, language, body, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    if language == "python":
        pytest.importorskip("matplotlib") if "plot_" in body else None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            exec(compile(body, f"README.md:{line}", "exec"), {"__name__": "__readme__"})
        return
    if "pip install" in body:
        pytest.skip("installs packages: what CI runs")
    from fastem.tools import cli

    for command in body.splitlines():
        args = shlex.split(command, comments=True)
        if not args:
            continue
        if args[0] == "fastem":
            assert cli.main(args[1:]) == 0, command
        elif args[0] == "python":
            subprocess.run([sys.executable, *args[1:]], check=True, cwd=tmp_path)
        else:
            pytest.fail(f"README.md:{line}: no way to run {command!r}")
