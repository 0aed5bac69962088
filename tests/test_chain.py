"""The seed's chain, kept and checked: lower_bounds_[t] <= m_step_bounds_[t] <=
lower_bounds_[t + 1], recomputed here with plain NumPy from the parameters
before and after each M-step."""

import warnings

import numpy as np
import pytest
from scipy.special import logsumexp

import fastem
import naive
from conftest import COVARIANCE_TYPES, DTYPES, make_blobs
from fastem.engine import passes

X = make_blobs(n_samples=700, n_features=3, n_components=3, seed=7)


def _fit(max_iter, X=X, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)
        kwargs = dict(dict(n_components=3, random_state=0, tol=0.0), **kwargs)
        return fastem.GaussianMixture(max_iter=max_iter, **kwargs).fit(X)


def _weighted_log_prob(model, X):
    cov = model.covariance_type
    return naive.weighted_log_prob(X, model.weights_.astype(np.float64),
                                   model.means_.astype(np.float64),
                                   model.precisions_cholesky_.astype(np.float64), cov)


def _bound(q, wlp, w=None):
    """L(q, theta) = sum_i w_i sum_k q_ik (log p(x_i, k | theta) - log q_ik), per unit weight."""
    w = np.ones(q.shape[0]) if w is None else w
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(q > 0, q * (wlp - np.log(q)), 0.0)
    return float(w @ terms.sum(axis=1) / w.sum())


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("init_params", ["kmeans", "random", "k-means++"])
def test_chain_arrays_match_a_numpy_recomputation(covariance_type, init_params):
    T = 6
    kw = dict(covariance_type=covariance_type, init_params=init_params)
    model = _fit(T, **kw)
    assert model.m_step_bounds_.shape == (T,) and model.kl_divergences_.shape == (T - 1,)
    # theta_1 is the initialisation (max_iter=0); theta_{t+1} what t M-steps give.
    thetas = [_fit(t, **kw) for t in range(T + 1)]
    for t in range(1, T + 1):
        before, after = thetas[t - 1], thetas[t]
        wlp_before = _weighted_log_prob(before, X)
        q = np.exp(wlp_before - logsumexp(wlp_before, axis=1)[:, None])
        wlp_after = _weighted_log_prob(after, X)
        m_bound = _bound(q, wlp_after)
        # Relative to the iteration's largest term: 'k-means++' starts from
        # covariances of reg_covar, a first log-likelihood of -1e5 per sample.
        scale = max(abs(m_bound), abs(model.lower_bounds_[t - 1]))
        assert abs(model.m_step_bounds_[t - 1] - m_bound) <= 1e-10 * scale
        # The E-step before it: L(q_t, theta_t) is the log-likelihood.
        assert _bound(q, wlp_before) == pytest.approx(model.lower_bounds_[t - 1], rel=1e-10)
        if t < T:
            kl = logsumexp(wlp_after, axis=1).mean() - m_bound
            np.testing.assert_allclose(model.kl_divergences_[t - 1], kl, rtol=1e-6, atol=1e-12)
            assert kl >= 0.0


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_the_chain_holds_at_every_iteration(covariance_type, dtype):
    model = _fit(30, X=X.astype(dtype), covariance_type=covariance_type, bound_check="raise")
    lb = np.asarray(model.lower_bounds_, dtype=np.float64)
    tol = 1e-4 if dtype == np.float32 else 1e-10
    assert np.all(lb[:-1] <= model.m_step_bounds_[:-1] + tol)
    assert np.all(model.m_step_bounds_[:-1] <= lb[1:] + tol)
    np.testing.assert_allclose(model.kl_divergences_, lb[1:] - model.m_step_bounds_[:-1],
                               atol=tol)


def test_chain_with_sample_weights():
    w = np.random.default_rng(0).integers(0, 4, X.shape[0]).astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)
        kw = dict(n_components=3, random_state=0, tol=0.0, covariance_type="full")
        model = fastem.GaussianMixture(max_iter=3, **kw).fit(X, sample_weight=w)
        before = fastem.GaussianMixture(max_iter=1, **kw).fit(X, sample_weight=w)
        after = fastem.GaussianMixture(max_iter=2, **kw).fit(X, sample_weight=w)
    wlp = _weighted_log_prob(before, X)
    q = np.exp(wlp - logsumexp(wlp, axis=1)[:, None])
    np.testing.assert_allclose(model.m_step_bounds_[1], _bound(q, _weighted_log_prob(after, X), w),
                               rtol=1e-10)


def _recording(**kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = fastem.GaussianMixture(**kwargs).fit(X)
    return model, [w for w in caught if issubclass(w.category, fastem.BoundDecreaseWarning)]


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_a_broken_e_step_is_caught_and_named(monkeypatch, covariance_type):
    """A pass whose log-likelihood comes out too low -- below the bound
    L(q, theta) that the previous M-step's statistics prove -- is an E-step
    the numerics broke: the KL divergence it implies is negative."""
    real = passes.run_pass
    calls = []

    def broken(*args, **kwargs):
        stats = real(*args, **kwargs)
        calls.append(1)
        if len(calls) == 3:
            stats = stats._replace(sum_lpn=stats.sum_lpn - 0.5 * stats.n_samples)
        return stats

    monkeypatch.setattr(passes, "run_pass", broken)
    model, drops = _recording(n_components=3, covariance_type=covariance_type, tol=0.0,
                              max_iter=5, random_state=0)
    assert len(drops) == 1
    message = str(drops[0].message)
    assert "E-step of iteration 3" in message
    assert model.kl_divergences_[1] < -0.4
    assert f"{model.kl_divergences_[1]:.3e}" in message
    monkeypatch.setattr(passes, "run_pass", broken)
    calls.clear()
    with pytest.raises(fastem.BoundDecreaseError, match="E-step of iteration 3"):
        fastem.GaussianMixture(3, covariance_type=covariance_type, tol=0.0, max_iter=5,
                               random_state=0, bound_check="raise").fit(X)


def test_a_reseeded_iteration_skips_only_its_m_step_check():
    """Re-seeding jumps outside EM: the M-step bound may fall, but the KL
    divergence to the re-seeded parameters is still never negative."""
    rng = np.random.default_rng(0)
    Xr = np.vstack([rng.normal(size=(200, 2)), rng.normal(size=(200, 2)) + 8])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = fastem.GaussianMixture(3, means_init=[[0, 0], [8, 8], [1e3, 1e3]], reseed=True,
                                       tol=0.0, max_iter=10, bound_check="raise").fit(Xr)
    assert any(issubclass(w.category, fastem.ReseedWarning) for w in caught)
    assert np.all(model.kl_divergences_ >= -1e-12)


def test_bound_check_ignore_computes_and_keeps_no_chain():
    model = _fit(5, covariance_type="diag")
    assert model.m_step_bounds_.shape == (5,)
    model.set_params(bound_check="ignore").fit(X)
    assert not hasattr(model, "m_step_bounds_") and not hasattr(model, "kl_divergences_")
    assert model.n_iter_ == 5
