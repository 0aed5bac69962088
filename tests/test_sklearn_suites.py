"""scikit-learn's own mixture test files, run against fastem's estimators.

scikit-learn's wheel ships its tests; their imports of ``GaussianMixture``
and ``BayesianGaussianMixture`` are pointed at fastem's, and the files run
in a subprocess with scikit-learn's fixtures (its float32 tests included).
Two tests are left out, for reasons of their own:

* ``test_check_weights`` expects scikit-learn's message for weights outside
  [0, 1], which prints the minimum as "max value" and the maximum as "min
  value"; fastem labels them the right way round (README, "Differences").
* ``test_gaussian_mixture_all_init_does_not_estimate_gaussian_parameters``
  counts calls of scikit-learn's private ``_estimate_gaussian_parameters``,
  which fastem never calls (its M-step works on the kernels' statistics).
"""

import os
import pathlib
import subprocess
import sys

import pytest

sklearn = pytest.importorskip("sklearn")

LEFT_OUT = (
    "test_check_weights",
    "test_gaussian_mixture_all_init_does_not_estimate_gaussian_parameters",
)

REWRITES = {
    "test_gaussian_mixture.py": ("from sklearn.mixture import GaussianMixture\n",
                                 "from fastem import GaussianMixture\n"),
    "test_bayesian_mixture.py": ("from sklearn.mixture import BayesianGaussianMixture\n",
                                 "from fastem import BayesianGaussianMixture\n"),
    "test_mixture.py": ("from sklearn.mixture import BayesianGaussianMixture, GaussianMixture\n",
                        "from fastem import BayesianGaussianMixture, GaussianMixture\n"),
}


def test_scikit_learn_mixture_tests_pass_on_fastem(tmp_path):
    source = pathlib.Path(sklearn.__file__).parent / "mixture" / "tests"
    if not all((source / name).exists() for name in REWRITES):
        pytest.skip("this scikit-learn wheel ships no mixture tests")
    for name, (old, new) in REWRITES.items():
        text = (source / name).read_text()
        assert old in text, f"{name}: the import to rewrite has changed"
        (tmp_path / name).write_text(text.replace(old, new))
    env = dict(os.environ, SKLEARN_RUN_FLOAT32_TESTS="1")
    deselect = " and ".join(f"not {name}" for name in LEFT_OUT)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "sklearn.conftest",
         "-k", deselect, "--rootdir", str(tmp_path), str(tmp_path)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    tail = result.stdout[-3000:] + result.stderr[-2000:]
    assert result.returncode == 0, tail
    assert " passed" in result.stdout and "failed" not in result.stdout, tail
