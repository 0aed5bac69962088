"""The M-step's closed forms and Cholesky factors against naive.py."""

import numpy as np
import pytest

import naive
from conftest import COVARIANCE_TYPES, make_blobs
from fastem.families import gaussian as G


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_m_step_from_kernel_statistics_matches_textbook(covariance_type, dtype):
    rng = np.random.default_rng(0)
    X = make_blobs(n_samples=2000, n_features=3, n_components=3).astype(dtype)
    resp = rng.dirichlet(np.ones(3), size=X.shape[0])
    shift = rng.normal(size=(3, 3))  # any shift: the M-step must not care
    second = "full" if covariance_type == "full" else "diag"
    tied = G.tied_scatter(X) if covariance_type == "tied" else None
    stats = G.resp_stats(X, lambda a, b: resp[a:b], shift, second)
    weights, means, cov, loss = G.m_step(stats, covariance_type, 1e-6, np.float64, tied=tied)
    ref_w, ref_m, ref_c = naive.m_step(X, resp, covariance_type, 1e-6)
    # float32 data: float32 responsibilities and block sums (float64 totals).
    loose = dtype == np.float32
    np.testing.assert_allclose(weights, ref_w, rtol=1e-6 if loose else 1e-12)
    np.testing.assert_allclose(means, ref_m, rtol=1e-5 if loose else 1e-10, atol=1e-12)
    np.testing.assert_allclose(cov, ref_c, rtol=1e-5 if loose else 1e-9, atol=1e-12)
    assert np.isfinite(loss) and loss >= 0.0

    chol = G.precision_cholesky(cov, covariance_type, np.float64)
    np.testing.assert_allclose(chol, naive.precision_cholesky(ref_c, covariance_type),
                               rtol=1e-5 if loose else 1e-9, atol=1e-12)
    if covariance_type in ("full", "tied"):
        assert np.allclose(chol, np.triu(chol))  # upper-triangular, as scikit-learn's


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_cholesky_round_trips(covariance_type):
    rng = np.random.default_rng(1)
    A = rng.normal(size=(2, 3, 3))
    cov = {
        "full": A @ np.swapaxes(A, 1, 2) + np.eye(3),
        "tied": A[0] @ A[0].T + np.eye(3),
        "diag": rng.uniform(0.5, 2, (2, 3)),
        "spherical": rng.uniform(0.5, 2, 2),
    }[covariance_type]
    chol = G.precision_cholesky(cov, covariance_type, np.float64)
    prec = G.precisions_from_cholesky(chol, covariance_type)
    np.testing.assert_allclose(G.precision_cholesky_from_precisions(prec, covariance_type), chol,
                               rtol=1e-10)
    np.testing.assert_allclose(G.covariances_from_cholesky(chol, covariance_type), cov,
                               rtol=1e-10)


def test_tied_scatter_is_exact_for_float32_with_a_large_offset():
    """The data mean is far from 0 and the spread small: an uncentred X^T X in
    float32 would lose every digit of the scatter."""
    rng = np.random.default_rng(2)
    X = (1e4 + rng.normal(size=(50_000, 3))).astype(np.float32)
    tied = G.tied_scatter(X)
    X64 = X.astype(np.float64)
    mean = X64.mean(0)
    # Differences from the rounded mean are exact in float32 (Sterbenz); their
    # products and 256-row sums carry float32 rounding, the totals float64.
    np.testing.assert_allclose(tied.center, mean, rtol=1e-11)
    np.testing.assert_allclose(tied.scatter, (X64 - mean).T @ (X64 - mean), rtol=1e-5)
    naive_scatter = (X.T @ X - len(X) * np.outer(X.mean(0), X.mean(0))).astype(np.float64)
    assert not np.allclose(naive_scatter, (X64 - mean).T @ (X64 - mean), rtol=1e-2)


def test_ill_defined_covariances_raise_scikit_learns_message():
    with pytest.raises(ValueError, match="ill-defined empirical covariance") as info:
        G.precision_cholesky(np.zeros((1, 2, 2)), "full", np.float32)
    assert "passing float64" in str(info.value)
    with pytest.raises(ValueError, match="ill-defined empirical covariance"):
        G.precision_cholesky(np.array([1.0, 0.0]), "spherical", np.float64)


def test_regularisation_loss_sums_each_used_component():
    """The vectorised loss against its definition, component by component:
    unused components add nothing, a used singular one makes it infinite."""
    rng = np.random.default_rng(3)
    r = np.array([3.0, 0.0, 5.5, 1e-3])
    lam = rng.uniform(1e-4, 2.0, (4, 5))
    lam[1, 0] = -1.0  # ignored: no responsibility
    reg = 1e-3
    expected = 0.0
    for rk, lk in zip(r, lam):
        if rk:
            expected += 0.5 * rk * sum(np.log1p(reg / x) - (reg / x) / (1 + reg / x) for x in lk)
    assert G._reg_loss_eigen(lam, r, reg) == pytest.approx(expected, rel=1e-12)
    assert G._reg_loss_eigen(lam, r, 0.0) == 0.0
    lam[2, 3] = 0.0
    assert G._reg_loss_eigen(lam, r, reg) == np.inf
