"""Kernel micro-benchmarks (pytest-benchmark).

Disabled in normal runs (``--benchmark-disable`` in pyproject.toml), where each
runs once as a test; ``pytest tests/test_bench_kernels.py --benchmark-enable``
times them.
"""

import numpy as np
import pytest

from fastem.engine.passes import run_pass
from fastem.families import gaussian as G
from conftest import COVARIANCE_TYPES, random_params


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_e_step_with_statistics(benchmark, covariance_type, dtype):
    X = np.random.default_rng(0).normal(size=(50_000, 8)).astype(dtype)
    weights, means, chol = random_params(covariance_type, 16, 8, dtype=dtype)
    cov = G.covariances_from_cholesky(chol, covariance_type).astype(dtype)
    params = G.Params(weights, means, cov, chol)
    family = G.GaussianFamily(16, covariance_type, 1e-6)
    stats = benchmark(run_pass, X, family, params, want_stats=True)
    # float32 responsibilities sum to 1 within float32 rounding.
    np.testing.assert_allclose(stats.nk.sum(), X.shape[0], rtol=1e-9 if dtype == "float64" else 1e-6)
