"""hmmlearn's own test files, run against fastem's hidden Markov models.

hmmlearn's wheel ships its tests (``hmmlearn/tests``); their ``from .. import
hmm`` is pointed at ``fastem.hmm`` and their helpers are imported from
hmmlearn, and the files run in a subprocess with hmmlearn's own conftest
(which seeds NumPy's global generator).  Left out, for reasons of their own:

* ``test_underflow_from_scaling[scaling]`` expects hmmlearn's scaled
  recursion to raise ``ValueError`` when it underflows; fastem's redoes that
  sequence in log space instead and fits (README, "Differences").
"""

import os
import pathlib
import subprocess
import sys

import pytest

hmmlearn = pytest.importorskip("hmmlearn")

FILES = ("test_gaussian_hmm.py",)

LEFT_OUT = ("test_underflow_from_scaling and scaling",)

REWRITES = (("from .. import hmm\n", "from fastem import hmm\n"),
            ("from . import ", "from hmmlearn.tests import "))


def test_hmmlearn_tests_pass_on_fastem(tmp_path):
    source = pathlib.Path(hmmlearn.__file__).parent / "tests"
    if not all((source / name).exists() for name in FILES):
        pytest.skip("this hmmlearn wheel ships no tests")
    for name in FILES:
        text = (source / name).read_text()
        for old, new in REWRITES:
            assert old in text, f"{name}: the import to rewrite has changed"
            text = text.replace(old, new)
        (tmp_path / name).write_text(text)
    (tmp_path / "conftest.py").write_text((source / "conftest.py").read_text())
    deselect = " and ".join(f"not ({name})" for name in LEFT_OUT)
    env = dict(os.environ, HMMLEARN_SEED="0")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", deselect,
         "-W", "error::fastem.BoundDecreaseWarning", "--rootdir", str(tmp_path), str(tmp_path)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    tail = result.stdout[-3000:] + result.stderr[-2000:]
    assert result.returncode == 0, tail
    assert " passed" in result.stdout and "failed" not in result.stdout, tail
