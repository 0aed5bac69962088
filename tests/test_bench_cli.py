"""`fastem bench` and `fastem demo` run end to end (tiny sizes; no timing asserted)."""

import re

import numpy as np

from fastem.tools import bench
from fastem.tools.cli import main


def test_bench_prints_a_table_with_geometric_mean(monkeypatch):
    monkeypatch.setattr(bench, "SETTLE_SECONDS", 0.0)
    lines = []
    grid = dict(n_samples=(600, 3000), n_features=(2,), n_components=(2,),
                covariance_types=("full", "spherical"), dtypes=("float32",))
    results = bench.run(grid, iterations=2, repeats=1, with_compile=False, out=lines.append,
                        scaling_cases=(bench.Case(600, 2, 2, "diag", "float64"),))
    assert len(results) == 4
    for r in results:
        assert r.fastem_s > 0 and r.sklearn_s > 0 and r.ratio > 0
        assert r.bound_diff < 1e-4  # same start, same iterations: same model
    text = "\n".join(lines)
    assert lines[0].startswith("machine: ")
    assert re.search(r"geometric-mean speed-up [\d.]+x over 4 cases", text)
    assert re.search(r"1 thread\(s\) [\d.]+ ms/iter", text)


def test_bench_reports_dtype_ratio_and_full_rate(monkeypatch):
    monkeypatch.setattr(bench, "SETTLE_SECONDS", 0.0)
    monkeypatch.setattr(bench, "matmul_gflops", lambda: 50.0)  # keep the test short
    lines = []
    grid = dict(n_samples=(2000,), n_features=(32,), n_components=(2,),
                covariance_types=("full",), dtypes=("float64", "float32"))
    bench.run(grid, iterations=1, repeats=1, with_compile=False, out=lines.append)
    text = "\n".join(lines)
    assert re.search(r"float32 vs float64 \(fastem, n_features >= 8\): geometric mean "
                     r"[\d.]+x faster over 1 cases", text)
    rate = re.search(r"2,000 x 32, k=2, full, float64: [\d.]+ ms, ([\d.]+) GFlop/s, "
                     r"(\d+)% of matmul", text)
    assert rate and float(rate.group(1)) > 0
    assert "matmul 50.0 GFlop/s" in text


def test_bench_drops_cases_predicted_too_slow(monkeypatch):
    monkeypatch.setattr(bench, "SETTLE_SECONDS", 0.0)
    lines = []
    grid = dict(n_samples=(500, 10_000_000), n_features=(2,), n_components=(2,),
                covariance_types=("diag",), dtypes=("float64",))
    results = bench.run(grid, iterations=1, repeats=1, max_seconds=1e-3, with_compile=False,
                        out=lines.append)
    assert [r.case.n_samples for r in results] == [500]
    assert any(line.startswith("dropped") and "10,000,000" in line for line in lines)


def test_demo_command_runs(capsys):
    assert main(["demo", "--n-samples", "2000", "--n-components", "3", "--n-features", "2",
                 "--iterations", "2", "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    speedup = re.search(r"speed-up: ([\d.]+)x", out)
    assert speedup and float(speedup.group(1)) > 0
    bounds = re.findall(r"(-?\d+\.\d{10})$", out, flags=re.M)
    assert len(bounds) == 2 and np.isclose(float(bounds[0]), float(bounds[1]), rtol=1e-8)


def test_bench_reports_a_library_that_fails_and_goes_on(monkeypatch):
    from sklearn import mixture

    monkeypatch.setattr(bench, "SETTLE_SECONDS", 0.0)

    class Failing(mixture.GaussianMixture):
        def fit(self, X, y=None):
            raise ValueError("ill-defined empirical covariance (simulated)")

    monkeypatch.setattr(mixture, "GaussianMixture", Failing)
    lines = []
    grid = dict(n_samples=(500,), n_features=(2,), n_components=(2,),
                covariance_types=("diag", "full"), dtypes=("float64",))
    results = bench.run(grid, iterations=1, repeats=1, with_compile=False, out=lines.append)
    assert results == []
    failures = [line for line in lines if "failed: scikit-learn: ill-defined" in line]
    assert len(failures) == 2


def test_family_bench_compares_with_the_numpy_em(monkeypatch):
    from fastem.tools import family_bench

    monkeypatch.setattr(family_bench, "SETTLE_SECONDS", 0.0)
    lines = []
    grid = dict(n_samples=(3000,), n_features=(4,), n_components=(2,), dtypes=("float64",))
    results = family_bench.run_families(["bernoulli", "poisson", "categorical", "student-t"],
                                        grid, iterations=2, repeats=1, out=lines.append)
    assert [r.family for r in results] == ["bernoulli", "poisson", "categorical", "student-t"]
    for r in results:
        assert r.fastem_s > 0 and r.numpy_s > 0 and r.ratio > 0
        assert r.bound_diff < 1e-10  # same start, same iterations: the same bound
    assert sum(line.startswith(("bernoulli:", "student-t:")) for line in lines) == 2
