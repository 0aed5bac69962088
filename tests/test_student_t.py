"""Student-t mixtures: the kernels against NumPy, the density against
scipy.stats.multivariate_t, EM against a plain-NumPy EM, the chain with the
latent scales, robustness to outliers, and the engine's promises."""

import io
import warnings

import numpy as np
import pytest
from scipy.special import logsumexp
from scipy.stats import multivariate_t

import fastem
from fastem.engine import passes
from fastem.families.gaussian import precision_cholesky

import naive

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")


def t_data(n=3000, d=3, K=3, dof=4.0, seed=0, spread=6.0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(K, d)) * spread
    z = rng.integers(0, K, n)
    u = rng.gamma(dof / 2, 2 / dof, size=n)
    X = centres[z] + rng.normal(size=(n, d)) / np.sqrt(u)[:, None]
    return X, centres, z


def random_t_params(covariance_type, K, d, seed=1):
    rng = np.random.default_rng(seed)
    weights = rng.dirichlet(np.ones(K) * 3)
    means = rng.normal(size=(K, d)) * 3
    if covariance_type in ("full", "tied"):
        A = rng.normal(size=(K, d, d))
        covs = A @ np.swapaxes(A, 1, 2) / d + 0.5 * np.eye(d)
        covs = covs if covariance_type == "full" else covs[0]
    elif covariance_type == "diag":
        covs = rng.uniform(0.3, 2.0, (K, d))
    else:
        covs = rng.uniform(0.3, 2.0, K)
    dof = rng.uniform(1.5, 30.0, K)
    return weights, means, covs, dof


def fitted_t(covariance_type, weights, means, covs, dof):
    model = fastem.StudentTMixture(len(weights), covariance_type=covariance_type)
    chol = precision_cholesky(covs, covariance_type, np.float64)
    model.weights_, model.means_, model.covariances_ = weights, means, np.asarray(covs)
    model.precisions_cholesky_ = chol
    model.degrees_of_freedom_ = np.asarray(dof, dtype=np.float64)
    model.n_features_in_ = means.shape[1]
    model.converged_, model.n_iter_, model.lower_bound_, model.lower_bounds_ = True, 0, 0.0, []
    return model


def dense_cov(covs, covariance_type, K, d):
    if covariance_type == "full":
        return covs
    if covariance_type == "tied":
        return np.broadcast_to(covs, (K, d, d))
    if covariance_type == "diag":
        return np.stack([np.diag(c) for c in covs])
    return np.stack([c * np.eye(d) for c in covs])


# --------------------------------------------------------------------------
# Kernels and densities.


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("d", [3, 10, 33])  # loops; BLAS transform; BLAS scatter too
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_t_kernels_match_numpy(covariance_type, d, dtype):
    K = 3
    X = t_data(n=900, d=d, K=K, seed=2)[0]
    weights, means, covs, dof = random_t_params(covariance_type, K, d, seed=3)
    model = fitted_t(covariance_type, weights, means, covs, dof)
    family = model._family()
    family.setup(d, np.dtype(dtype))
    params = family.from_estimator(model)
    Xd = X.astype(dtype)
    n = X.shape[0]
    sw = np.random.default_rng(4).uniform(0, 2, n).astype(dtype)
    lpn, resp, labels = np.empty(n, dtype), np.empty((n, K), dtype), np.empty(n, np.int64)
    stats = passes.run_pass(Xd, family, params, want_stats=True, out_lpn=lpn, out_resp=resp,
                            out_label=labels, sample_weight=sw)
    chol = params.precisions_cholesky
    wlp = naive.t_log_prob(Xd, weights, means, chol, dof, covariance_type)
    ref_lpn, ref_resp = naive.log_prob_and_resp(wlp)
    tol = 1e-10 if dtype == np.float64 else 2e-4
    np.testing.assert_allclose(lpn, ref_lpn, rtol=tol, atol=tol)
    np.testing.assert_allclose(resp, ref_resp, atol=10 * tol)
    np.testing.assert_array_equal(labels, np.argmax(wlp, axis=1))
    maha = naive.mahalanobis(Xd, means, chol, covariance_type)
    r = ref_resp * sw.astype(np.float64)[:, None]
    u = (dof + d) / (dof + maha)
    mo = stats.moments
    np.testing.assert_allclose(stats.nk, r.sum(axis=0), rtol=10 * tol)
    np.testing.assert_allclose(mo.sum_u, (r * u).sum(axis=0), rtol=10 * tol)
    np.testing.assert_allclose(mo.sum_log, (r * np.log1p(maha / dof)).sum(axis=0),
                               rtol=10 * tol)
    X64 = Xd.astype(np.float64)
    for k in range(K):
        diff = X64 - mo.shift[k]
        ru = r[:, k] * u[:, k]
        np.testing.assert_allclose(mo.sum_x[k], ru @ diff, rtol=100 * tol, atol=100 * tol * n)
        if covariance_type in ("full", "tied"):
            second = np.triu((ru[:, None] * diff).T @ diff)
            np.testing.assert_allclose(np.triu(mo.second[k]), second, rtol=100 * tol,
                                       atol=100 * tol * n)
        elif covariance_type == "diag":
            np.testing.assert_allclose(mo.second[k], ru @ diff**2, rtol=100 * tol,
                                       atol=100 * tol * n)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_score_samples_is_scipy_multivariate_t(covariance_type):
    K, d = 3, 4
    X = t_data(n=500, d=d, K=K, seed=5)[0]
    weights, means, covs, dof = random_t_params(covariance_type, K, d, seed=6)
    model = fitted_t(covariance_type, weights, means, covs, dof)
    dense = dense_cov(covs, covariance_type, K, d)
    per = np.stack([multivariate_t(means[k], dense[k], df=dof[k]).logpdf(X) for k in range(K)],
                   axis=1) + np.log(weights)
    expected = logsumexp(per, axis=1)
    np.testing.assert_allclose(model.score_samples(X), expected, rtol=1e-12)
    np.testing.assert_allclose(model.predict_proba(X), np.exp(per - expected[:, None]),
                               atol=1e-12)


def test_rows_beyond_overflow_get_a_posterior():
    weights, means, covs, dof = random_t_params("full", 2, 3, seed=7)
    model = fitted_t("full", weights, means, covs, dof)
    X = np.array([[1e200, 1e200, -1e200], [0.0, 0.0, 0.0]])
    resp = model.predict_proba(X)
    assert np.all(np.isfinite(resp))
    np.testing.assert_allclose(resp.sum(axis=1), 1.0)
    assert model.predict(X)[0] in (0, 1)


# --------------------------------------------------------------------------
# EM.


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_em_matches_a_numpy_em_from_the_same_start(covariance_type):
    K, d = 3, 3
    X = t_data(n=1500, d=d, K=K, seed=8)[0]
    weights, means, covs, dof = random_t_params(covariance_type, K, d, seed=9)
    precisions = np.linalg.inv(covs) if covariance_type in ("full", "tied") else 1.0 / covs
    sw = np.random.default_rng(10).uniform(0.2, 2.0, X.shape[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = fastem.StudentTMixture(
            K, covariance_type=covariance_type, weights_init=weights, means_init=means,
            precisions_init=precisions, degrees_of_freedom_init=dof, max_iter=8, tol=0.0,
            reg_covar=1e-6, bound_check="raise").fit(X, sample_weight=sw)
    w, m, c, v, bounds = naive.t_em(X, weights, means, covs, dof, covariance_type, 8,
                                    reg_covar=1e-6, sample_weight=sw)
    np.testing.assert_allclose(model.weights_, w, rtol=1e-8)
    np.testing.assert_allclose(model.means_, m, rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(model.covariances_, c, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(model.degrees_of_freedom_, v, rtol=1e-7)
    np.testing.assert_allclose(model.lower_bounds_, bounds, rtol=1e-10)
    # The chain with the scales latent: L(q_t, theta_t) <= L(q_t, theta_t+1) <= ll_t+1.
    lb = np.asarray(model.lower_bounds_)
    assert np.all(model.m_step_bounds_ >= lb - 1e-10)
    assert np.all(model.kl_divergences_ >= -1e-10)
    np.testing.assert_allclose(model.kl_divergences_, lb[1:] - model.m_step_bounds_[:-1],
                               atol=1e-12)


def test_the_m_step_maximises_the_expected_log_joint():
    """Moving any parameter off the M-step's values lowers L(q, theta)."""
    K, d = 2, 3
    X = t_data(n=800, d=d, K=K, seed=11)[0]
    model = fastem.StudentTMixture(K, max_iter=3, tol=0, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X)
    family = model._family()
    family.setup(d, X.dtype)
    params = family.from_estimator(model)
    stats = passes.run_pass(X, family, params, want_stats=True)
    estimate, _ = family.m_step(stats)
    best = family.expected_log_joint(stats, family.finish(estimate))[0]
    rng = np.random.default_rng(12)
    for index in range(4):
        for sign in (-1, 1):
            moved = list(estimate)
            moved[index] = np.array(moved[index], dtype=float)
            step = sign * 1e-3 * (1 + np.abs(moved[index]))
            if index == 0:
                moved[0] = moved[0] * np.exp(step * rng.normal(size=K))
                moved[0] /= moved[0].sum()
            elif index == 2:
                moved[2] = moved[2] + 1e-3 * sign * np.eye(d)
            else:
                moved[index] = moved[index] + step
            assert family.expected_log_joint(stats, family.finish(tuple(moved)))[0] < best


def test_fixed_degrees_of_freedom_stay_fixed():
    X = t_data(n=1000, seed=13)[0]
    model = fastem.StudentTMixture(3, degrees_of_freedom_init=[3.0, 5.0, 7.0],
                                   fit_degrees_of_freedom=False, random_state=0).fit(X)
    np.testing.assert_array_equal(model.degrees_of_freedom_, [3.0, 5.0, 7.0])
    assert model._n_parameters() == fastem.GaussianMixture(3)._family().n_parameters(
        model._family().from_estimator(model))


def test_recovers_the_degrees_of_freedom():
    X = t_data(n=30000, d=2, K=1, dof=3.0, seed=14)[0]
    model = fastem.StudentTMixture(1, tol=1e-8, max_iter=500).fit(X)
    assert model.degrees_of_freedom_[0] == pytest.approx(3.0, rel=0.1)
    # A stationary point of the log-likelihood in nu as well.
    nu = model.degrees_of_freedom_[0]

    def ll(v):
        return multivariate_t(model.means_[0], model.covariances_[0], df=v).logpdf(X).mean()

    assert abs((ll(nu + 1e-3) - ll(nu - 1e-3)) / 2e-3) < 1e-4


def test_outliers_pull_the_t_less_than_the_gaussian():
    """5% gross outliers spread over a wide box around three clean clusters:
    the t mixture's means stay at the clean centres; the Gaussian mixture
    spends a component on the outliers and merges two clusters.  Measured
    (n_init=10, seeds 0-2): worst-centre error 0.099 for the t, 3.98 for
    the Gaussian; asserted with a wide margin."""
    rng = np.random.default_rng(15)
    centres = np.array([[0.0, 0.0], [8.0, 0.0], [0.0, 8.0]])
    clean = np.concatenate([c + rng.normal(size=(950, 2)) for c in centres])
    outliers = rng.uniform(-60, 60, size=(150, 2))
    X = np.concatenate([clean, outliers])

    def error(model):
        return max(np.min(np.linalg.norm(model.means_ - c, axis=1)) for c in centres)

    t = fastem.StudentTMixture(3, n_init=10, random_state=0).fit(X)
    g = fastem.GaussianMixture(3, n_init=10, random_state=0).fit(X)
    assert error(t) < 0.2
    assert error(g) > 3.0
    assert t.score(X) > g.score(X)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_float32_data_follow_float64(covariance_type):
    X = t_data(n=3000, seed=16)[0]
    weights, means, covs, dof = random_t_params(covariance_type, 3, 3, seed=17)
    precisions = np.linalg.inv(covs) if covariance_type in ("full", "tied") else 1.0 / covs
    kw = dict(covariance_type=covariance_type, weights_init=weights, means_init=means,
              precisions_init=precisions, degrees_of_freedom_init=dof, max_iter=10, tol=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = fastem.StudentTMixture(3, **kw).fit(X)
        b = fastem.StudentTMixture(3, **kw).fit(X.astype(np.float32))
    assert b.means_.dtype == np.float64
    assert b.score_samples(X.astype(np.float32)).dtype == np.float32
    np.testing.assert_allclose(b.means_, a.means_, rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(b.degrees_of_freedom_, a.degrees_of_freedom_, rtol=1e-3)


# --------------------------------------------------------------------------
# Sources, dask, selection, persistence, sampling, bad input.


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_out_of_core_is_bitwise_and_dask_agrees(tmp_path):
    X = t_data(n=5000, seed=18)[0]
    np.save(tmp_path / "x.npy", X)
    a = fastem.StudentTMixture(3, random_state=0).fit(X)
    b = fastem.StudentTMixture(3, random_state=0).fit(np.load(tmp_path / "x.npy",
                                                              mmap_mode="r"))
    np.testing.assert_array_equal(a.means_, b.means_)
    np.testing.assert_array_equal(a.degrees_of_freedom_, b.degrees_of_freedom_)
    assert a.lower_bounds_ == b.lower_bounds_
    da = pytest.importorskip("dask.array")
    c = fastem.StudentTMixture(3, init_params="random_from_data", random_state=0).fit(X)
    d_ = fastem.StudentTMixture(3, init_params="random_from_data", random_state=0).fit(
        da.from_array(X, chunks=1200))
    np.testing.assert_allclose(d_.means_, c.means_, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(d_.degrees_of_freedom_, c.degrees_of_freedom_, rtol=1e-9)


def test_select_over_components_and_covariance_types(tmp_path):
    X = t_data(n=3000, d=2, K=3, seed=19)[0]
    best, table = fastem.select(X, n_components=[1, 2, 3, 4],
                                covariance_types=("full", "diag"), model="StudentTMixture",
                                as_frame=False)
    assert isinstance(best, fastem.StudentTMixture) and best.n_components == 3
    assert len(table) == 8
    path = tmp_path / "t.npz"
    best.save(path)
    loaded = fastem.load(path)
    np.testing.assert_array_equal(loaded.degrees_of_freedom_, best.degrees_of_freedom_)
    np.testing.assert_array_equal(loaded.score_samples(X), best.score_samples(X))
    best.degrees_of_freedom_ = -best.degrees_of_freedom_
    buffer = io.BytesIO()
    best.save(buffer)
    buffer.seek(0)
    with pytest.raises(fastem.ModelFileError, match="degrees_of_freedom_"):
        fastem.load(buffer)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_sample_has_the_model_s_tails(covariance_type):
    """Given its component, maha / d of a t draw follows F(d, nu)."""
    from scipy import stats

    d = 3
    weights, means, covs, _ = random_t_params(covariance_type, 2, d, seed=20)
    dof = np.array([3.0, 6.0])
    model = fitted_t(covariance_type, weights, means, covs, dof)
    model.random_state = 0
    S, y = model.sample(20000)
    maha = naive.mahalanobis(S, means, model.precisions_cholesky_, covariance_type)
    for k in range(2):
        rows = y == k
        assert abs(rows.mean() - weights[k]) < 0.02
        assert stats.kstest(maha[rows, k] / d, stats.f(d, dof[k]).cdf).pvalue > 1e-3


def test_bad_degrees_of_freedom_are_refused():
    X = t_data(n=100)[0]
    with pytest.raises(ValueError, match="degrees_of_freedom_init"):
        fastem.StudentTMixture(2, degrees_of_freedom_init=0.0).fit(X)
    with pytest.raises(ValueError, match="degrees_of_freedom_init"):
        fastem.StudentTMixture(2, degrees_of_freedom_init=[1.0, -2.0]).fit(X)


def test_reseed_and_warm_start():
    X = t_data(n=600, d=2, K=2, seed=21)[0]
    X[:3] = 1e3  # three far rows: a component collapses onto them
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = fastem.StudentTMixture(5, reseed=True, random_state=0, max_iter=50).fit(X)
    assert np.all(np.isfinite(m.means_)) and np.all(m.degrees_of_freedom_ > 0)
    w = fastem.StudentTMixture(2, warm_start=True, max_iter=2, tol=0, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        w.fit(X)
        before = w.lower_bounds_[-1]
        w.fit(X)
    assert w.lower_bounds_[0] >= before - 1e-10
