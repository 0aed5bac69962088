"""Missing values: ``missing="marginalize"``, ``impute`` and ``MixtureImputer``."""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

import fastem
from fastem import GaussianMixture, MixtureImputer
from fastem.kernels import missing as kmissing

from conftest import COVARIANCE_TYPES, make_blobs, random_params
from naive import missing_e_step, missing_em, t_missing_e_step, t_missing_em

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def holes(X, fraction, seed=0, rows=1.0):
    """X with ``fraction`` of the coordinates of a ``rows`` share of the rows
    set to NaN, completely at random."""
    rng = np.random.default_rng(seed)
    Xm = np.array(X, dtype=np.float64)
    chosen = rng.random(X.shape[0]) < rows
    mask = (rng.random(X.shape) < fraction) & chosen[:, None]
    Xm[mask] = np.nan
    return Xm


def scipy_covariances(model):
    K, d = model.means_.shape
    c = np.asarray(model.covariances_, dtype=np.float64)
    return {"full": lambda: c, "tied": lambda: np.broadcast_to(c, (K, d, d)),
            "diag": lambda: np.stack([np.diag(v) for v in c]),
            "spherical": lambda: np.stack([v * np.eye(d) for v in c])}[model.covariance_type]()


def scipy_marginal(model, X):
    """Each row's log-likelihood from its observed coordinates, with scipy."""
    covs = scipy_covariances(model)
    out = np.empty(X.shape[0])
    for i, row in enumerate(X):
        o = ~np.isnan(row)
        terms = [np.log(w) + (multivariate_normal(mu[o], S[np.ix_(o, o)]).logpdf(row[o])
                              if o.any() else 0.0)
                 for w, mu, S in zip(model.weights_, model.means_, covs)]
        out[i] = logsumexp(terms)
    return out


@pytest.fixture(scope="module")
def data():
    X = make_blobs(400, 4, 3, seed=1)
    return X, holes(X, 0.25, seed=2)


# --------------------------------------------------------------------------
# The kernels against plain NumPy.


def _kernel_case(covariance_type, dtype, n=120, d=5, K=3, seed=0):
    weights, means, chol = random_params(covariance_type, K, d, seed=seed)
    rng = np.random.default_rng(seed)
    X = rng.normal(scale=2.0, size=(n, d))
    X[rng.random(X.shape) < 0.3] = np.nan
    X[5] = np.nan  # a row with nothing observed
    X[6] = 1.0  # a complete row
    if covariance_type in ("full", "tied"):
        U = np.broadcast_to(chol, (K, d, d)) if covariance_type == "tied" else chol
        prec = U @ np.swapaxes(U, 1, 2)
        cov = np.linalg.inv(prec)
        cov_attr = cov if covariance_type == "full" else cov[0]
        log_det = np.log(np.diagonal(U, axis1=1, axis2=2)).sum(axis=1)
    else:
        U = np.broadcast_to(np.reshape(chol, (K, -1)), (K, d))
        cov_attr = 1.0 / np.asarray(chol) ** 2
        log_det = np.log(U).sum(axis=1)
    log_norm = np.log(weights) + log_det - 0.5 * d * np.log(2 * np.pi)
    order = np.lexsort(np.packbits(np.isnan(X), axis=1).T[::-1])
    X = X[order]
    return (X.astype(dtype), weights, means, np.ascontiguousarray(U, dtype=dtype), cov_attr,
            log_norm)


def gaussian_missing_pass(kernel, X, means, U, log_norm, sw, lpn, resp, label, fill, u, e, ll,
                          nk, sx, second):
    """A Gaussian call of a missing-value kernel: its t arguments empty."""
    kernel(X, means, U, log_norm, np.empty(0), np.empty((2, 0, 0)), sw, lpn, resp, label, fill,
           u, e, np.empty((0, 0)), ll, nk, np.empty((0, 0)), np.empty((0, 0)), sx, second)


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-10), (np.float32, 1e-4)])
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("d", [5, 12, 40])  # loops; the BLAS transform; and scatter too
def test_kernels_match_numpy(covariance_type, dtype, tol, weighted, d):
    X, weights, means, U, cov, log_norm = _kernel_case(covariance_type, dtype, n=600, d=d)
    n, d = X.shape
    K = means.shape[0]
    rng = np.random.default_rng(3)
    sw = rng.uniform(0.0, 2.0, n).astype(dtype) if weighted else np.empty(0, dtype)
    P = 3
    ll, nk, sx = np.zeros((P, 2)), np.zeros((P, K)), np.zeros((P, K, d))
    lpn = np.empty(n, dtype)
    resp = np.empty((n, K), dtype)
    label = np.empty(n, np.int64)
    fill = np.empty((0 if weighted else n, d), dtype)  # imputation: unit weights
    args = (X, means.astype(dtype), U, log_norm, sw, lpn, resp, label, fill, np.empty(0),
            np.empty((0, d)), ll, nk, sx)
    if covariance_type in ("full", "tied"):
        second = np.zeros((P, K, d, d))
        gaussian_missing_pass(kmissing.full_missing_pass, *args, second)
    else:
        second = np.zeros((P, K, d))
        gaussian_missing_pass(kmissing.diag_missing_pass, *args, second)
    ref_lpn, ref_resp, xhat, cond = missing_e_step(
        X.astype(np.float64), weights, means.astype(dtype).astype(np.float64), cov,
        covariance_type)
    w = sw.astype(np.float64) if weighted else np.ones(n)
    scale = np.abs(ref_lpn).max()
    assert_allclose(lpn, ref_lpn, rtol=tol, atol=tol * scale)
    assert_allclose(resp, ref_resp, rtol=tol, atol=tol)
    assert_array_equal(label, np.argmax(ref_resp, axis=1))
    if not weighted:
        fill_ref = np.einsum("ik,ikj->ij", ref_resp, xhat)
        assert_allclose(fill, fill_ref, rtol=tol, atol=tol * np.abs(fill_ref).max())
        assert_array_equal(fill[~np.isnan(X)], X[~np.isnan(X)])  # observed values kept
    assert_allclose(ll.sum(axis=0), [w @ ref_lpn, w @ np.abs(ref_lpn)], rtol=tol)
    keep = ~np.all(np.isnan(X), axis=1)
    r = ref_resp * w[:, None] * keep[:, None]
    mu = means.astype(dtype).astype(np.float64)
    z = xhat - mu[None]
    assert_allclose(nk.sum(axis=0), r.sum(axis=0), rtol=tol, atol=tol)
    assert_allclose(sx.sum(axis=0), np.einsum("ik,ikj->kj", r, z), rtol=tol,
                    atol=tol * n)
    full_second = (np.einsum("ik,ikj,ikl->kjl", r, z, z) + np.einsum("ik,ikjl->kjl", r, cond))
    if covariance_type in ("full", "tied"):
        assert_allclose(np.triu(second.sum(axis=0)), np.triu(full_second), rtol=tol,
                        atol=tol * n)
    else:
        assert_allclose(second.sum(axis=0), np.diagonal(full_second, axis1=1, axis2=2),
                        rtol=tol, atol=tol * n)


@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_kernel_draws_follow_the_formula(covariance_type):
    """A draw: the component where the cumulative responsibility passes u,
    then the conditional mean plus the conditional covariance's factor
    times the standard normals of the missing coordinates."""
    X, weights, means, U, cov, log_norm = _kernel_case(covariance_type, np.float64, n=40)
    n, d = X.shape
    K = means.shape[0]
    rng = np.random.default_rng(5)
    u, e = rng.uniform(size=n), rng.standard_normal(size=(n, d))
    fill = np.empty((n, d))
    no = np.empty(0)
    accs = (np.zeros((1, 2)), np.zeros((0, K)), np.zeros((0, K, d)))
    rows = (no, np.empty((0, K)), np.empty(0, np.int64))
    if covariance_type == "full":
        gaussian_missing_pass(kmissing.full_missing_pass, X, means, U, log_norm, no, *rows, fill,
                              u, e, *accs, np.zeros((0, K, d, d)))
    else:
        gaussian_missing_pass(kmissing.diag_missing_pass, X, means, U, log_norm, no, *rows, fill,
                              u, e, *accs, np.zeros((0, K, d)))
    _, resp, xhat, cond = missing_e_step(X, weights, means, cov, covariance_type)
    for i in range(n):
        k = int(np.searchsorted(np.cumsum(resp[i]), u[i], side="right"))
        m = np.isnan(X[i])
        expected = xhat[i, k].copy()
        if m.any():
            C = cond[i, k][np.ix_(m, m)]
            # the kernel's factor: C = L^-T L^-1 with L L^T = C^-1
            L = np.linalg.cholesky(np.linalg.inv(C))
            expected[m] += np.linalg.solve(L.T, e[i, m])
        assert_allclose(fill[i], expected, rtol=1e-9, atol=1e-9)


def test_nan_counts():
    X = np.arange(24.0).reshape(8, 3)
    X[[0, 0, 3, 7, 7, 7], [0, 2, 1, 0, 1, 2]] = np.nan
    counts = np.empty(8, np.int64)
    kmissing.nan_counts(X, counts)
    assert_array_equal(counts, np.isnan(X).sum(axis=1))


# --------------------------------------------------------------------------
# Fits.


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_log_likelihood_is_the_scipy_marginal(data, covariance_type):
    """Every E-step's bound is the marginal log-likelihood of the observed
    values (scipy, row by row); and score_samples is too."""
    _, Xm = data
    kw = dict(covariance_type=covariance_type, missing="marginalize", random_state=0,
              tol=0.0, bound_check="raise")
    full = GaussianMixture(3, max_iter=6, **kw).fit(Xm)
    before = GaussianMixture(3, max_iter=5, **kw).fit(Xm)
    # the sixth E-step ran under the fifth M-step's parameters
    assert_allclose(full.lower_bounds_[-1], scipy_marginal(before, Xm).mean(), rtol=1e-10)
    assert_allclose(full.score_samples(Xm), scipy_marginal(full, Xm), rtol=1e-10, atol=1e-10)
    assert_allclose(full.score(Xm), scipy_marginal(full, Xm).mean(), rtol=1e-10)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_bound_never_decreases(data, covariance_type):
    _, Xm = data
    m = GaussianMixture(3, covariance_type=covariance_type, missing="marginalize",
                        random_state=1, tol=1e-10, max_iter=200, bound_check="raise").fit(Xm)
    bounds = np.asarray(m.lower_bounds_)
    assert np.all(np.diff(bounds) >= -1e-12 * np.abs(bounds[1:]))
    assert np.all(m.kl_divergences_ >= -1e-12)
    assert np.all(m.m_step_bounds_ >= bounds - 1e-12)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_without_nan_the_fit_is_bitwise_missing_raise(covariance_type, dtype):
    X = make_blobs(500, 3, 3, seed=4).astype(dtype)
    kw = dict(covariance_type=covariance_type, random_state=0, max_iter=20)
    a = GaussianMixture(3, **kw).fit(X)
    b = GaussianMixture(3, missing="marginalize", **kw).fit(X)
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_",
                 "lower_bounds_", "m_step_bounds_"):
        assert_array_equal(getattr(a, name), getattr(b, name))
    assert_array_equal(a.score_samples(X), b.score_samples(X))
    assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    assert b.n_rows_all_missing_ == 0 and not hasattr(a, "n_rows_all_missing_")


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_same_fit_as_a_numpy_reference_em(data, covariance_type):
    """A plain-NumPy EM for missing data, row by row from the covariances,
    from the same initial parameters."""
    _, Xm = data
    w0, mu0, chol0 = random_params(covariance_type, 3, 4, seed=7)
    from fastem.families.gaussian import covariances_from_cholesky, precisions_from_cholesky

    cov0 = covariances_from_cholesky(chol0, covariance_type)
    sw = np.random.default_rng(8).uniform(0.5, 2.0, Xm.shape[0])
    m = GaussianMixture(3, covariance_type=covariance_type, missing="marginalize",
                        weights_init=w0, means_init=mu0,
                        precisions_init=precisions_from_cholesky(chol0, covariance_type),
                        max_iter=8, tol=0.0).fit(Xm, sample_weight=sw)
    weights, means, covs, bounds = missing_em(Xm, w0, mu0, cov0, covariance_type, 1e-6, 8,
                                              sample_weight=sw)
    assert_allclose(m.lower_bounds_, bounds, rtol=1e-10)
    assert_allclose(m.weights_, weights, rtol=1e-9)
    assert_allclose(m.means_, means, rtol=1e-9, atol=1e-9)
    assert_allclose(m.covariances_, covs, rtol=1e-9, atol=1e-9)


def _matched_errors(model, means, covs):
    """Mean-vector and covariance errors after matching components by mean."""
    from scipy.optimize import linear_sum_assignment

    cost = ((model.means_[:, None] - means[None]) ** 2).sum(axis=2)
    rows, cols = linear_sum_assignment(cost)
    mean_err = np.sqrt(cost[rows, cols].sum())
    cov_err = np.sqrt(((model.covariances_[rows] - covs[cols]) ** 2).sum())
    return mean_err, cov_err


def test_recovers_the_generating_model_better_than_mean_imputation():
    """MCAR data, 30% missing: EM over the holes recovers the generating
    means and covariances markedly better than filling in the column means
    and fitting.  Measured (seed 0): means error 0.10 vs 1.38, covariances
    0.33 vs 3.28 -- about ten times closer; the test asks for three."""
    from sklearn.impute import SimpleImputer

    rng = np.random.default_rng(0)
    means = np.array([[0.0, 0.0, 0.0, 0.0], [4.0, 4.0, 0.0, -2.0], [-3.0, 3.0, 3.0, 1.0]])
    covs = []
    for _ in range(3):
        A = rng.normal(size=(4, 4))
        covs.append(A @ A.T / 2 + 0.3 * np.eye(4))
    covs = np.array(covs)
    labels = rng.integers(3, size=4000)
    X = np.stack([rng.multivariate_normal(means[k], covs[k]) for k in labels])
    Xm = holes(X, 0.3, seed=1)
    kw = dict(random_state=0, n_init=3, max_iter=500, tol=1e-6)
    marg = GaussianMixture(3, missing="marginalize", **kw).fit(Xm)
    imputed = GaussianMixture(3, **kw).fit(SimpleImputer().fit_transform(Xm))
    mean_m, cov_m = _matched_errors(marg, means, covs)
    mean_i, cov_i = _matched_errors(imputed, means, covs)
    assert mean_m * 3 < mean_i
    assert cov_m * 3 < cov_i


def test_rows_with_nothing_observed(data):
    X, Xm = data
    Xe = Xm.copy()
    Xe[[3, 10, 11]] = np.nan
    m = GaussianMixture(3, missing="marginalize", random_state=0, max_iter=30).fit(Xe)
    assert m.n_rows_all_missing_ == int(np.all(np.isnan(Xe), axis=1).sum()) >= 3
    # their likelihood is 1, their posterior the weights
    assert_allclose(m.score_samples(Xe[[3, 10]]), [0.0, 0.0], atol=1e-14)
    assert_allclose(m.predict_proba(Xe[[3]])[0], m.weights_, rtol=1e-12)
    assert_allclose(m.impute(Xe[[3]])[0], m.weights_ @ m.means_, rtol=1e-12)
    # ... and add nothing to the fit: the same fit as without them
    keep = ~np.all(np.isnan(Xe), axis=1)
    w0, mu0 = m.weights_, m.means_
    kw = dict(missing="marginalize", weights_init=w0, means_init=mu0,
              precisions_init=m.precisions_, max_iter=3, tol=0.0)
    a = GaussianMixture(3, **kw).fit(Xe)
    b = GaussianMixture(3, **kw).fit(Xe[keep])
    assert_allclose(a.means_, b.means_, rtol=1e-12)
    assert_allclose(a.covariances_, b.covariances_, rtol=1e-12)
    assert_allclose(a.lower_bound_ * Xe.shape[0], b.lower_bound_ * keep.sum(), rtol=1e-12)


def test_errors():
    X = make_blobs(50, 3, 2)
    Xn = X.copy()
    Xn[0, 0] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        GaussianMixture(2).fit(Xn)
    Xi = Xn.copy()
    Xi[1, 1] = np.inf
    with pytest.raises(ValueError, match="Input X contains infinity"):
        GaussianMixture(2, missing="marginalize").fit(Xi)
    Xc = X.copy()
    Xc[:, 1] = np.nan
    with pytest.raises(ValueError, match=r"Feature\(s\) 1 of X are missing \(NaN\) in every row"):
        GaussianMixture(2, missing="marginalize").fit(Xc)
    with pytest.raises(ValueError, match=r"Feature\(s\) 0, 1 of X are missing"):
        GaussianMixture(2, missing="marginalize").fit(np.full((5, 2), np.nan))
    with pytest.raises(ValueError, match="The 'missing' parameter of GaussianMixture must be"):
        GaussianMixture(2, missing="drop").fit(X)
    m = GaussianMixture(2, random_state=0).fit(X)
    with pytest.raises(ValueError, match="Input X contains NaN"):
        m.predict(Xn)
    with pytest.raises(ValueError, match="Input X contains infinity"):
        m.impute(Xi)


def test_predict_and_criteria_on_incomplete_rows(data):
    X, Xm = data
    m = GaussianMixture(3, missing="marginalize", random_state=0).fit(Xm)
    lpn = scipy_marginal(m, Xm)
    assert_allclose(m.score(Xm), lpn.mean(), rtol=1e-12)
    n = Xm.shape[0]
    assert_allclose(m.bic(Xm), -2 * lpn.sum() + m._n_parameters() * np.log(n), rtol=1e-12)
    assert_allclose(m.aic(Xm), -2 * lpn.sum() + 2 * m._n_parameters(), rtol=1e-12)
    proba = m.predict_proba(Xm)
    assert_allclose(proba.sum(axis=1), 1.0)
    assert_array_equal(m.predict(Xm), np.argmax(proba, axis=1))
    # complete rows score as a model fitted without the option would
    complete = ~np.isnan(Xm).any(axis=1)
    plain = GaussianMixture(3)
    plain._set_parameters(m._get_parameters())
    plain.n_features_in_ = m.n_features_in_
    plain.converged_ = True
    assert_array_equal(m.score_samples(Xm[complete]), plain.score_samples(Xm[complete]))


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_impute_is_the_posterior_mean(data, covariance_type):
    X, Xm = data
    m = GaussianMixture(3, covariance_type=covariance_type, missing="marginalize",
                        random_state=0).fit(Xm)
    out = m.impute(Xm)
    _, resp, xhat, _ = missing_e_step(Xm, m.weights_, m.means_, m.covariances_,
                                      covariance_type)
    assert_allclose(out, np.einsum("ik,ikj->ij", resp, xhat), rtol=1e-10, atol=1e-10)
    observed = ~np.isnan(Xm)
    assert_array_equal(out[observed], Xm[observed])
    assert_array_equal(m.impute(X), X)  # nothing to impute


def test_impute_draws(data):
    X, Xm = data
    m = GaussianMixture(3, missing="marginalize", random_state=0).fit(Xm)
    a = m.impute(Xm, sample_posterior=True, random_state=1)
    b = m.impute(Xm, sample_posterior=True, random_state=1)
    assert_array_equal(a, b)
    observed = ~np.isnan(Xm)
    assert_array_equal(a[observed], Xm[observed])
    assert not np.array_equal(a, m.impute(Xm))
    # many draws of one row: mean -> the posterior mean, spread -> its variance
    row = np.repeat(Xm[[i for i in range(len(Xm)) if np.isnan(Xm[i]).sum() == 1][:1]], 20000, 0)
    draws = m.impute(row, sample_posterior=True, random_state=2)
    j = int(np.flatnonzero(np.isnan(row[0]))[0])
    _, resp, xhat, cond = missing_e_step(row[:1], m.weights_, m.means_, m.covariances_, "full")
    mean = resp[0] @ xhat[0, :, j]
    var = resp[0] @ (cond[0, :, j, j] + xhat[0, :, j] ** 2) - mean**2
    assert abs(draws[:, j].mean() - mean) < 4 * np.sqrt(var / 20000)
    assert abs(draws[:, j].var() / var - 1) < 0.05


def test_float32(data):
    X, Xm = data
    m32 = GaussianMixture(3, missing="marginalize", random_state=0).fit(Xm.astype(np.float32))
    m64 = GaussianMixture(3, missing="marginalize", random_state=0).fit(Xm)
    assert m32.means_.dtype == np.float32
    assert_allclose(m32.means_, m64.means_, rtol=1e-3, atol=1e-3)
    assert m32.impute(Xm.astype(np.float32)).dtype == np.float32


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag"])
def test_out_of_core_sources_give_the_same_bits(tmp_path, data, covariance_type):
    _, Xm = data
    big = np.concatenate([Xm] * 120)  # 48,000 rows: several chunks
    path = tmp_path / "x.npy"
    np.save(path, big)
    kw = dict(covariance_type=covariance_type, missing="marginalize", random_state=0,
              max_iter=4, tol=0.0)
    ref = GaussianMixture(3, **kw).fit(big)
    mm = GaussianMixture(3, **kw).fit(np.load(path, mmap_mode="r"))

    def chunks():
        for start in range(0, big.shape[0], 7001):
            yield big[start:start + 7001]

    ch = GaussianMixture(3, **kw).fit(chunks)
    for other in (mm, ch):
        assert_array_equal(other.means_, ref.means_)
        assert_array_equal(other.covariances_, ref.covariances_)
        assert_array_equal(other.lower_bounds_, ref.lower_bounds_)
    assert_array_equal(mm.score_samples(np.load(path, mmap_mode="r")), ref.score_samples(big))
    assert_array_equal(ref.impute(np.load(path, mmap_mode="r")), ref.impute(big))


def test_dask(data):
    pytest.importorskip("dask")
    import dask.array as da

    _, Xm = data
    big = np.concatenate([Xm] * 10)
    kw = dict(missing="marginalize", random_state=0, max_iter=5, tol=0.0)
    ref = GaussianMixture(3, **kw).fit(big)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dm = GaussianMixture(3, **kw).fit(da.from_array(big, chunks=(1000, 4)))
    assert_allclose(dm.means_, ref.means_, rtol=1e-9)
    assert_allclose(dm.lower_bounds_, ref.lower_bounds_, rtol=1e-10)
    assert_allclose(dm.score_samples(da.from_array(big, chunks=(1000, 4))).compute(),
                    ref.score_samples(big), rtol=1e-12)


def test_integer_weights_are_repeated_rows(data):
    _, Xm = data
    w = np.random.default_rng(0).integers(0, 3, Xm.shape[0])
    w[:3] = 1
    kw = dict(missing="marginalize", max_iter=5, tol=0.0, init_params="random_from_data",
              random_state=0)
    start = GaussianMixture(3, **kw).fit(Xm)
    kw.update(weights_init=start.weights_, means_init=start.means_,
              precisions_init=start.precisions_)
    a = GaussianMixture(3, **kw).fit(Xm, sample_weight=w)
    b = GaussianMixture(3, **kw).fit(np.repeat(Xm, w, axis=0))
    assert_allclose(a.means_, b.means_, rtol=1e-10)
    assert_allclose(a.covariances_, b.covariances_, rtol=1e-10)
    assert_allclose(a.lower_bounds_, b.lower_bounds_, rtol=1e-10)


@pytest.mark.parametrize("method", ["incremental", "online"])
@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag"])
def test_incremental_and_online(data, method, covariance_type):
    _, Xm = data
    big = np.concatenate([Xm] * 20)
    kw = dict(covariance_type=covariance_type, missing="marginalize", random_state=0,
              bound_check="raise")
    batch = GaussianMixture(3, tol=1e-8, max_iter=500, **kw).fit(big)
    inc = GaussianMixture(3, learning_method=method, batch_size=1000, max_iter=30, tol=1e-8,
                          **kw).fit(big)
    assert abs(inc.score(big) - batch.score(big)) < (1e-6 if method == "incremental" else 1e-2)


def test_reseed_and_select(data):
    _, Xm = data
    m = GaussianMixture(3, missing="marginalize", reseed=True, random_state=0).fit(Xm)
    assert np.all(np.isfinite(m.means_))
    best, _ = fastem.select(Xm, n_components=[2, 3], covariance_types=["full", "diag"],
                         missing="marginalize", as_frame=False)
    assert best.missing == "marginalize" and best.n_components in (2, 3)


def test_save_and_load(tmp_path, data):
    _, Xm = data
    m = GaussianMixture(3, missing="marginalize", random_state=0).fit(Xm)
    m.save(tmp_path / "m.npz")
    back = fastem.load(tmp_path / "m.npz")
    assert back.missing == "marginalize" and back.n_rows_all_missing_ == m.n_rows_all_missing_
    assert_array_equal(back.impute(Xm), m.impute(Xm))


# --------------------------------------------------------------------------
# MixtureImputer.


def test_mixture_imputer(data):
    X, Xm = data
    imp = MixtureImputer(3, random_state=0)
    out = imp.fit_transform(Xm)
    assert_allclose(imp.mean_, np.nanmean(Xm, axis=0), rtol=1e-12)
    assert_allclose(imp.scale_, np.nanstd(Xm, axis=0), rtol=1e-12)
    inner = imp.mixture_.impute((Xm - imp.mean_) / imp.scale_) * imp.scale_ + imp.mean_
    hole = np.isnan(Xm)
    assert_allclose(out[hole], inner[hole], rtol=1e-12)
    assert_array_equal(out[~hole], Xm[~hole])  # observed values pass through exactly
    assert imp.n_features_in_ == 4
    assert_array_equal(imp.get_feature_names_out(), [f"x{i}" for i in range(4)])
    from sklearn.impute import SimpleImputer

    def rmse(filled):
        return np.sqrt(np.mean((filled - X)[np.isnan(Xm)] ** 2))

    assert rmse(out) < 0.8 * rmse(SimpleImputer().fit_transform(Xm))  # measured: 0.65
    drawn = MixtureImputer(3, random_state=0, sample_posterior=True).fit(Xm)
    first, second = drawn.transform(Xm), drawn.transform(Xm)
    assert not np.array_equal(first, second)  # the draws go on
    again = MixtureImputer(3, random_state=0, sample_posterior=True).fit(Xm)
    assert_array_equal(again.transform(Xm), first)
    diag = MixtureImputer(mixture=GaussianMixture(3, covariance_type="diag", random_state=0))
    assert diag.fit(Xm).mixture_.covariance_type == "diag"


def test_mixture_imputer_in_a_pipeline_with_pandas(data):
    pd = pytest.importorskip("pandas")
    from sklearn.linear_model import LinearRegression
    from sklearn.pipeline import make_pipeline

    X, Xm = data
    frame = pd.DataFrame(Xm, columns=list("abcd"))
    y = X @ np.arange(4.0)
    pipe = make_pipeline(MixtureImputer(3, random_state=0), LinearRegression()).fit(frame, y)
    assert pipe.score(frame, y) > 0.5
    imp = MixtureImputer(3, random_state=0).set_output(transform="pandas").fit(frame)
    assert list(imp.transform(frame).columns) == list("abcd")


def test_mixture_imputer_parameter_errors(data):
    _, Xm = data
    with pytest.raises(ValueError, match="The 'n_components' parameter of MixtureImputer"):
        MixtureImputer(0).fit(Xm)
    with pytest.raises(ValueError, match="This MixtureImputer instance is not fitted yet"):
        MixtureImputer().transform(Xm)


# --------------------------------------------------------------------------
# Bernoulli and Poisson: a missing feature drops out of the row's product.


def _discrete_data(kind, n=1500, seed=0):
    rng = np.random.default_rng(seed)
    z = rng.integers(3, size=n)
    if kind == "bernoulli":
        theta = rng.uniform(0.1, 0.9, (3, 10))
        X = (rng.random((n, 10)) < theta[z]).astype(float)
    else:
        rates = rng.uniform(0.5, 8.0, (3, 6))
        X = rng.poisson(rates[z]).astype(float)
    return X, holes(X, 0.25, seed=seed + 1)


def _discrete_model(kind, **kw):
    cls = fastem.BernoulliMixture if kind == "bernoulli" else fastem.PoissonMixture
    return cls(3, **kw)


def _discrete_marginal(model, X, kind):
    from scipy.stats import bernoulli, poisson

    values = model.probabilities_ if kind == "bernoulli" else model.rates_
    dist = bernoulli if kind == "bernoulli" else poisson
    out = np.empty(X.shape[0])
    for i, row in enumerate(X):
        o = ~np.isnan(row)
        out[i] = logsumexp([np.log(w) + dist.logpmf(row[o], v[o]).sum()
                            for w, v in zip(model.weights_, values)])
    return out


def _discrete_reference_em(X, weights, values, kind, alpha, n_iter):
    """Row by row: the E-step over each row's observed features, the M-step
    from the expected statistics (a missing feature counts as its mean)."""
    from scipy.stats import bernoulli, poisson

    dist = bernoulli if kind == "bernoulli" else poisson
    lpns = []
    for _ in range(n_iter):
        resp = np.empty((X.shape[0], len(weights)))
        lpn = np.empty(X.shape[0])
        filled = np.empty((X.shape[0], len(weights), X.shape[1]))
        for i, row in enumerate(X):
            o = ~np.isnan(row)
            wlp = [np.log(w) + dist.logpmf(row[o], v[o]).sum() for w, v in zip(weights, values)]
            lpn[i] = logsumexp(wlp)
            resp[i] = np.exp(wlp - lpn[i])
            filled[i] = np.where(o, row, values)
        keep = ~np.all(np.isnan(X), axis=1)
        r = resp[keep]
        nk = r.sum(axis=0)
        sum_x = np.einsum("ik,ikj->kj", r, filled[keep])
        lpns.append(lpn)
        weights = (nk + 10 * np.finfo(float).eps) / (nk + 10 * np.finfo(float).eps).sum()
        values = (sum_x + alpha) / (nk + (2 * alpha if kind == "bernoulli" else alpha))[:, None]
    return weights, values, lpns


@pytest.mark.parametrize("kind", ["bernoulli", "poisson"])
def test_discrete_marginal_likelihood_and_reference_em(kind):
    X, Xm = _discrete_data(kind)
    m = _discrete_model(kind, missing="marginalize", random_state=0, bound_check="raise",
                        tol=1e-8, max_iter=200).fit(Xm)
    assert_allclose(m.score_samples(Xm), _discrete_marginal(m, Xm, kind), rtol=1e-10,
                    atol=1e-10)
    bounds = np.asarray(m.lower_bounds_)
    assert np.all(np.diff(bounds) >= -1e-12 * np.abs(bounds[1:]))
    # the same fit as a NumPy EM from the same start
    values_name = "probabilities_" if kind == "bernoulli" else "rates_"
    init = {"probabilities_init" if kind == "bernoulli" else "rates_init":
            getattr(m, values_name) * 0.9 + 0.05}
    a = _discrete_model(kind, missing="marginalize", weights_init=m.weights_, max_iter=6,
                        tol=0.0, **init).fit(Xm)
    weights, values, lpns = _discrete_reference_em(Xm, m.weights_, list(init.values())[0],
                                                   kind, a.alpha, 6)
    assert_allclose(a.weights_, weights, rtol=1e-10)
    assert_allclose(getattr(a, values_name), values, rtol=1e-10)
    assert_allclose(a.score_samples(Xm), _discrete_marginal(a, Xm, kind), rtol=1e-10,
                    atol=1e-10)
    assert_allclose(np.sum(lpns[-1]) / len(Xm),
                    _discrete_model(kind, missing="marginalize", weights_init=m.weights_,
                                    max_iter=5, tol=0.0, **init).fit(Xm).score(Xm),
                    rtol=1e-10)


@pytest.mark.parametrize("kind", ["bernoulli", "poisson"])
def test_discrete_without_nan_is_bitwise_and_values_are_checked(kind):
    X, Xm = _discrete_data(kind, n=800)
    a = _discrete_model(kind, random_state=0).fit(X)
    b = _discrete_model(kind, random_state=0, missing="marginalize").fit(X)
    assert_array_equal(a.weights_, b.weights_)
    assert_array_equal(a.lower_bounds_, b.lower_bounds_)
    bad = Xm.copy()
    bad[0, ~np.isnan(bad[0])] = 2.5  # neither 0/1 nor a count
    with pytest.raises(ValueError, match="takes"):
        _discrete_model(kind, missing="marginalize").fit(bad)
    with pytest.raises(ValueError, match="Input X contains NaN"):
        _discrete_model(kind).fit(Xm)


@pytest.mark.parametrize("kind", ["bernoulli", "poisson"])
def test_discrete_impute(kind):
    X, Xm = _discrete_data(kind)
    m = _discrete_model(kind, missing="marginalize", random_state=0).fit(Xm)
    values = m.probabilities_ if kind == "bernoulli" else m.rates_
    mean = m.impute(Xm)
    hole = np.isnan(Xm)
    assert_allclose(mean[hole], (m.predict_proba(Xm) @ values)[hole], rtol=1e-10)
    assert_array_equal(mean[~hole], Xm[~hole])
    drawn = m.impute(Xm, sample_posterior=True, random_state=0)
    assert np.all(drawn == np.round(drawn)) and np.all(drawn >= 0)
    if kind == "bernoulli":
        assert set(np.unique(drawn)) <= {0.0, 1.0}
    # the draws' mean over many copies of one row: its posterior mean
    i = int(np.flatnonzero(hole.any(axis=1))[0])
    many = m.impute(np.repeat(Xm[i:i + 1], 20000, axis=0), sample_posterior=True,
                    random_state=1)
    j = int(np.flatnonzero(hole[i])[0])
    assert abs(many[:, j].mean() - mean[i, j]) < 0.05 * max(1.0, mean[i, j])


def _categorical_data(n=1500, seed=0):
    rng = np.random.default_rng(seed)
    z = rng.integers(3, size=n)
    tables = [rng.dirichlet(np.ones(c), size=3) for c in (3, 4, 2, 5)]
    X = np.stack([(rng.random(n)[:, None] > np.cumsum(t[z], axis=1)).sum(axis=1)
                  for t in tables], axis=1).astype(float)
    return X, holes(X, 0.25, seed=seed + 1)


def _categorical_marginal(model, X):
    return np.array([logsumexp([np.log(model.weights_[k])
                                + sum(np.log(model.probabilities_[j][k, int(v)])
                                      for j, v in enumerate(row) if v == v)
                                for k in range(model.n_components)]) for row in X])


def test_categorical_marginal_likelihood_and_reference_em():
    X, Xm = _categorical_data()
    m = fastem.CategoricalMixture(3, missing="marginalize", random_state=0, bound_check="raise",
                                  tol=1e-8, max_iter=100).fit(Xm)
    assert_array_equal(m.n_categories_, [3, 4, 2, 5])
    assert_allclose(m.score_samples(Xm), _categorical_marginal(m, Xm), rtol=1e-10, atol=1e-10)
    bounds = np.asarray(m.lower_bounds_)
    assert np.all(np.diff(bounds) >= -1e-12 * np.abs(bounds[1:]))
    # one EM step by hand from the fitted model: expected counts for the holes
    a = fastem.CategoricalMixture(3, missing="marginalize", weights_init=m.weights_,
                                  probabilities_init=m.probabilities_, max_iter=1,
                                  tol=0.0).fit(Xm)
    resp = m.predict_proba(Xm)
    keep = ~np.all(np.isnan(Xm), axis=1)
    nk = resp[keep].sum(axis=0)
    for j, table in enumerate(m.probabilities_):
        counts = np.zeros_like(table)
        for i in np.flatnonzero(keep):
            if np.isnan(Xm[i, j]):
                counts += resp[i][:, None] * table
            else:
                counts[:, int(Xm[i, j])] += resp[i]
        expected = (counts + a.alpha) / (nk + table.shape[1] * a.alpha)[:, None]
        assert_allclose(a.probabilities_[j], expected, rtol=1e-10)
    # without NaN: bitwise missing="raise"
    b = fastem.CategoricalMixture(3, random_state=0).fit(X)
    c = fastem.CategoricalMixture(3, random_state=0, missing="marginalize").fit(X)
    assert_array_equal(b.lower_bounds_, c.lower_bounds_)


def test_categorical_impute():
    X, Xm = _categorical_data()
    m = fastem.CategoricalMixture(3, missing="marginalize", random_state=0).fit(Xm)
    out = m.impute(Xm)
    hole = np.isnan(Xm)
    resp = m.predict_proba(Xm)
    for j, table in enumerate(m.probabilities_):
        rows = np.flatnonzero(hole[:, j])
        assert_array_equal(out[rows, j], np.argmax(resp[rows] @ table, axis=1))
    assert_array_equal(out[~hole], Xm[~hole])
    drawn = m.impute(Xm, sample_posterior=True, random_state=0)
    assert np.all(drawn < m.n_categories_) and np.all(drawn == np.round(drawn))
    assert (drawn[hole] == X[hole]).mean() > 1.0 / 5  # better than chance, roughly
    with pytest.raises(ValueError, match="integer category codes"):
        bad = Xm.copy()
        bad[0, 0] = 0.5
        fastem.CategoricalMixture(3, missing="marginalize").fit(bad)


def test_full_kernel_with_few_components_per_row():
    """Well-separated components: most of a row's responsibilities are 0, and
    the conditional covariances are taken component by component (the
    kernel's path for few busy components) -- the same sums."""
    rng = np.random.default_rng(11)
    K, d, n = 8, 6, 400
    means = rng.normal(scale=30.0, size=(K, d))
    X = means[rng.integers(K, size=n)] + rng.normal(size=(n, d))
    X[rng.random(X.shape) < 0.3] = np.nan
    X = X[np.lexsort(np.packbits(np.isnan(X), axis=1).T[::-1])]
    weights = np.full(K, 1.0 / K)
    U = np.stack([np.triu(rng.normal(scale=0.1, size=(d, d)), 1) + np.eye(d)
                  for _ in range(K)])
    cov = np.linalg.inv(U @ np.swapaxes(U, 1, 2))
    log_norm = np.log(weights) + np.log(np.diagonal(U, axis1=1, axis2=2)).sum(axis=1) \
        - 0.5 * d * np.log(2 * np.pi)
    P = 2
    ll, nk, sx, sxx = (np.zeros((P, 2)), np.zeros((P, K)), np.zeros((P, K, d)),
                       np.zeros((P, K, d, d)))
    no = np.empty(0)
    gaussian_missing_pass(kmissing.full_missing_pass, X, means, U, log_norm, no, no,
                          np.empty((0, K)), np.empty(0, np.int64), np.empty((0, d)), no,
                          np.empty((0, d)), ll, nk, sx, sxx)
    _, resp, xhat, cond = missing_e_step(X, weights, means, cov, "full")
    assert np.mean(resp > 1e-300) < 0.5  # mostly exact zeros
    keep = ~np.all(np.isnan(X), axis=1)
    r = resp * keep[:, None]
    z = xhat - means[None]
    expected = np.einsum("ik,ikj,ikl->kjl", r, z, z) + np.einsum("ik,ikjl->kjl", r, cond)
    assert_allclose(np.triu(sxx.sum(axis=0)), np.triu(expected), rtol=1e-10, atol=1e-8)


def test_plots_take_a_model_fitted_over_missing_values(data):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    _, Xm = data
    m = GaussianMixture(3, missing="marginalize", random_state=0).fit(Xm)
    ax = fastem.plot_mixture(m, Xm)
    drawn = ax.collections[0].get_offsets()
    assert drawn.shape[0] == Xm.shape[0]  # rows with a hole in the plotted features: not drawn
    line = fastem.plot_bound(m).lines[0]
    assert_allclose(line.get_ydata(), m.lower_bounds_)


# --------------------------------------------------------------------------
# BayesianGaussianMixture: variational inference over the holes.


def _sklearn_vb(model):
    """A scikit-learn ``BayesianGaussianMixture`` holding ``model``'s priors
    and posterior: its own (private, stable since 0.18) updates and bound
    are the reference for one variational step."""
    from sklearn.mixture import BayesianGaussianMixture as SkBGMM

    sk = SkBGMM(n_components=model.n_components, covariance_type=model.covariance_type,
                reg_covar=model.reg_covar,
                weight_concentration_prior_type=model.weight_concentration_prior_type)
    for name in ("weight_concentration_prior_", "mean_precision_prior_", "mean_prior_",
                 "degrees_of_freedom_prior_", "covariance_prior_", "weight_concentration_",
                 "mean_precision_", "means_", "degrees_of_freedom_", "covariances_",
                 "precisions_cholesky_"):
        setattr(sk, name, getattr(model, name))
    return sk


def _vb_reference_step(model, Xm):
    """One variational step over the holes, row by row: q(z, x_m) from the
    expected log-densities (each row's Gaussian marginal under the mean
    precision, times scikit-learn's per-component constants), then
    scikit-learn's own updates on the expected statistics, and its bound
    plus the entropy of q(x_m | z).  Returns the updated scikit-learn
    estimator and that bound."""
    from scipy.special import digamma

    sk = _sklearn_vb(model)
    K, d = model.means_.shape
    nu = np.broadcast_to(np.asarray(model.degrees_of_freedom_, dtype=float), (K,))
    log_lambda = d * np.log(2.0) + np.sum(digamma(0.5 * (nu - np.arange(d)[:, None])), 0)
    const = (sk._estimate_log_weights() - 0.5 * d * np.log(nu)
             + 0.5 * (log_lambda - d / model.mean_precision_))
    lpn, resp, xhat, cond = missing_e_step(Xm, np.exp(const), model.means_, model.covariances_,
                                           model.covariance_type)
    keep = ~np.all(np.isnan(Xm), axis=1)
    r = resp[keep]
    nk = r.sum(axis=0) + 10 * np.finfo(float).eps
    xk = np.einsum("ik,ikj->kj", r, xhat[keep]) / nk[:, None]
    scatter = np.stack([np.einsum("i,ij,il->jl", r[:, k], xhat[keep, k] - xk[k],
                                  xhat[keep, k] - xk[k])
                        + np.einsum("i,ijl->jl", r[:, k], cond[keep, k]) for k in range(K)])
    reg = model.reg_covar
    cov = model.covariance_type
    if cov == "full":
        sk_ = scatter / nk[:, None, None] + reg * np.eye(d)
    elif cov == "tied":
        sk_ = scatter.sum(axis=0) / nk.sum() + reg * np.eye(d)
    elif cov == "diag":
        sk_ = np.stack([np.diag(s) for s in scatter]) / nk[:, None] + reg
    else:
        sk_ = np.stack([np.diag(s) for s in scatter]).mean(axis=1) / nk + reg
    sk._estimate_weights(nk)
    sk._estimate_means(nk, xk)
    sk._estimate_precisions(nk, xk, sk_)
    # the entropy of q(x_m | z = k), a Gaussian: 1/2 log det(2 pi e cond)
    ent = 0.0
    for i in np.flatnonzero(keep):
        m = np.isnan(Xm[i])
        if m.any() and not m.all():
            for k in range(K):
                C = cond[i, k][np.ix_(m, m)]
                ent += resp[i, k] * 0.5 * np.linalg.slogdet(2 * np.pi * np.e * C)[1]
    with np.errstate(divide="ignore"):
        log_resp = np.log(r)
    bound = float(np.squeeze(sk._compute_lower_bound(log_resp, None))) + ent
    return sk, bound


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("prior", ["dirichlet_process", "dirichlet_distribution"])
def test_bayesian_step_is_the_reference_step(data, covariance_type, prior):
    """From the same posterior, one variational step over data with holes
    (and a row with nothing observed) gives scikit-learn's updates of the
    expected statistics, and a bound equal to its bound plus the entropy of
    q(x_m | z)."""
    _, Xm = data
    Xe = Xm.copy()
    Xe[5] = np.nan
    m = fastem.BayesianGaussianMixture(
        n_components=4, covariance_type=covariance_type, missing="marginalize",
        weight_concentration_prior_type=prior, random_state=0, max_iter=3, tol=0.0,
        warm_start=True, bound_check="raise").fit(Xe)
    sk, bound = _vb_reference_step(m, Xe)
    m.set_params(max_iter=1).fit(Xe)
    assert m.n_rows_all_missing_ == 1
    for name in ("means_", "covariances_", "mean_precision_", "degrees_of_freedom_"):
        assert_allclose(getattr(m, name), getattr(sk, name), rtol=1e-9, atol=1e-10)
    for ours, theirs in zip(np.atleast_2d(m.weight_concentration_),
                            np.atleast_2d(sk.weight_concentration_)):
        assert_allclose(ours, theirs, rtol=1e-9)
    assert_allclose(m.lower_bound_, bound, rtol=1e-10)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_bayesian_bound_never_decreases_and_no_nan_is_bitwise(data, covariance_type):
    X, Xm = data
    kw = dict(n_components=4, covariance_type=covariance_type, random_state=0, max_iter=200,
              tol=1e-9, bound_check="raise")
    m = fastem.BayesianGaussianMixture(missing="marginalize", **kw).fit(Xm)
    bounds = np.asarray(m.lower_bounds_)
    assert np.all(np.diff(bounds) >= -1e-10 * np.abs(bounds[1:]))
    # a row with holes mostly goes where it goes complete (measured 0.90-0.92
    # over the four covariance types; GaussianMixture's 0.94-0.95)
    assert np.mean(m.predict(Xm) == m.predict(X)) > 0.85
    imputed = m.impute(Xm)
    observed = ~np.isnan(Xm)
    assert np.all(np.isfinite(imputed))
    assert_array_equal(imputed[observed], Xm[observed])
    kw["max_iter"] = 20
    a = fastem.BayesianGaussianMixture(**kw).fit(X)
    b = fastem.BayesianGaussianMixture(missing="marginalize", **kw).fit(X)
    for name in ("means_", "covariances_", "weight_concentration_", "lower_bounds_"):
        assert_array_equal(np.asarray(getattr(a, name)), np.asarray(getattr(b, name)))
    assert b.n_rows_all_missing_ == 0


# --------------------------------------------------------------------------
# StudentTMixture: EM over components, scales and missing coordinates.


@pytest.fixture(scope="module")
def t_data():
    rng = np.random.default_rng(3)
    X = np.vstack([rng.standard_t(4, size=(250, 4)),
                   rng.standard_t(4, size=(250, 4)) * 0.7 + [4.0, 4.0, 0.0, -2.0]])
    Xm = holes(X, 0.25, seed=4)
    Xm[7] = np.nan  # a row with nothing observed
    return X, Xm


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_t_same_fit_as_a_numpy_reference_em(t_data, covariance_type):
    """A row-by-row EM for t components over missing values (scipy's
    multivariate t on each row's observed block), from the same start, with
    sample weights: the same bounds and parameters, degrees of freedom
    included."""
    _, Xm = t_data
    w0, mu0, chol0 = random_params(covariance_type, 2, 4, seed=9)
    from fastem.families.gaussian import covariances_from_cholesky, precisions_from_cholesky

    cov0 = covariances_from_cholesky(chol0, covariance_type)
    dof0 = np.array([3.0, 12.0])
    sw = np.random.default_rng(10).uniform(0.5, 2.0, Xm.shape[0])
    m = fastem.StudentTMixture(
        2, covariance_type=covariance_type, missing="marginalize", weights_init=w0,
        means_init=mu0, precisions_init=precisions_from_cholesky(chol0, covariance_type),
        degrees_of_freedom_init=dof0, max_iter=6, tol=0.0, bound_check="raise",
    ).fit(Xm, sample_weight=sw)
    weights, means, covs, dof, bounds = t_missing_em(Xm, w0, mu0, cov0, dof0, covariance_type,
                                                     1e-6, 6, sample_weight=sw)
    assert m.n_rows_all_missing_ == 1
    assert_allclose(m.lower_bounds_, bounds, rtol=1e-10)
    assert_allclose(m.weights_, weights, rtol=1e-9)
    assert_allclose(m.means_, means, rtol=1e-9, atol=1e-9)
    assert_allclose(m.covariances_, covs, rtol=1e-9, atol=1e-9)
    assert_allclose(m.degrees_of_freedom_, dof, rtol=1e-8)
    # scoring rows with holes: the marginal t of the observed coordinates
    lpn, resp = t_missing_e_step(Xm, m.weights_, m.means_, m.covariances_,
                                 m.degrees_of_freedom_, covariance_type)[:2]
    assert_allclose(m.score_samples(Xm), lpn, rtol=1e-10, atol=1e-12)
    assert_allclose(m.predict_proba(Xm), resp, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("covariance_type", ["full", "spherical"])
def test_t_bound_chain_float32_and_no_nan_bitwise(t_data, covariance_type):
    X, Xm = t_data
    kw = dict(covariance_type=covariance_type, random_state=0, tol=1e-8, max_iter=300,
              bound_check="raise")
    m = fastem.StudentTMixture(2, missing="marginalize", **kw).fit(Xm)
    bounds = np.asarray(m.lower_bounds_)
    assert np.all(np.diff(bounds) >= -1e-12 * np.abs(bounds[1:]))
    assert np.all(m.m_step_bounds_ >= bounds - 1e-12)
    assert np.all(m.degrees_of_freedom_ < 10)  # heavy tails found through the holes
    m32 = fastem.StudentTMixture(2, missing="marginalize", **kw).fit(Xm.astype(np.float32))
    assert_allclose(m32.means_, m.means_, rtol=1e-3, atol=1e-3)
    assert_allclose(m32.degrees_of_freedom_, m.degrees_of_freedom_, rtol=1e-2)
    kw["max_iter"] = 10
    a = fastem.StudentTMixture(2, **kw).fit(X)
    b = fastem.StudentTMixture(2, missing="marginalize", **kw).fit(X)
    for name in ("means_", "covariances_", "degrees_of_freedom_", "lower_bounds_"):
        assert_array_equal(getattr(a, name), getattr(b, name))


@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_t_impute_and_draws(t_data, covariance_type):
    """The posterior mean of a missing coordinate is the Gaussian's formula
    (E[x_m | x_o, k] does not depend on the scale); a draw divides the
    conditional Gaussian's spread by the square root of the scale's
    posterior draw, Gamma((nu + |o|) / 2, rate (nu + maha) / 2)."""
    _, Xm = t_data
    m = fastem.StudentTMixture(2, covariance_type=covariance_type, missing="marginalize",
                               random_state=0).fit(Xm)
    _, resp, xhat, cond, _, _ = t_missing_e_step(Xm, m.weights_, m.means_, m.covariances_,
                                                 m.degrees_of_freedom_, covariance_type)
    assert_allclose(m.impute(Xm), np.einsum("ik,ikj->ij", resp, xhat), rtol=1e-9, atol=1e-9)
    rows = Xm[np.isnan(Xm).any(axis=1)][:30]
    rows = rows[~np.all(np.isnan(rows), axis=1)]
    rows = rows[np.lexsort(np.packbits(np.isnan(rows), axis=1).T[::-1])]
    drawn = m.impute(rows, sample_posterior=True, random_state=5)
    # the same random numbers, in the engine's order
    plan = m._family().plan(m._family().from_estimator(m), np.dtype(np.float64), False)
    u, e, g = plan.missing_draws(rows, np.random.RandomState(5))
    nu = m.degrees_of_freedom_
    _, resp, xhat, cond, _, _ = t_missing_e_step(rows, m.weights_, m.means_, m.covariances_,
                                                 nu, covariance_type)
    for i, row in enumerate(rows):
        k = int(np.searchsorted(np.cumsum(resp[i]), u[i], side="right"))
        miss = np.isnan(row)
        o = ~miss
        S = scipy_covariances(m)[k]
        diff = row[o] - m.means_[k, o]
        maha = diff @ np.linalg.solve(S[np.ix_(o, o)], diff)
        scale = g[i, k] / ((nu[k] + maha) / 2)
        L = np.linalg.cholesky(np.linalg.inv(cond[i, k][np.ix_(miss, miss)]))
        expected = xhat[i, k].copy()
        expected[miss] += np.linalg.solve(L.T, e[i, miss]) / np.sqrt(scale)
        assert_allclose(drawn[i], expected, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("model", ["gaussian", "student-t", "bayesian"])
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_far_rows_with_holes_get_their_limit_posterior(data, model, covariance_type):
    """Rows with holes so far from every component that their distances
    overflow: the posterior of their observed coordinates' marginal in the
    limit (as the complete rows get theirs), no NaN and no crash -- the
    same labels as the same rows a little nearer, where nothing overflows."""
    _, Xm = data
    cls = {"gaussian": GaussianMixture, "student-t": fastem.StudentTMixture,
           "bayesian": fastem.BayesianGaussianMixture}[model]
    m = cls(n_components=3, covariance_type=covariance_type, missing="marginalize",
            random_state=0).fit(Xm)
    direction = np.array([[1.0, np.nan, 1.0, -0.5], [np.nan, -1.0, 0.3, np.nan],
                          [0.2, 1.0, np.nan, 1.0], [1.0, 1.0, 1.0, 1.0]])
    far = m.predict_proba(direction * 1e200)
    assert np.all(np.isfinite(far))
    assert_allclose(far.sum(axis=1), 1.0, rtol=1e-12)
    near = m.predict_proba(direction * 1e6)
    assert_array_equal(np.argmax(far, axis=1), np.argmax(near, axis=1))
    assert_array_equal(m.predict(direction * 1e200), np.argmax(near, axis=1))


@pytest.mark.parametrize("model", ["student-t", "bayesian"])
def test_t_and_variational_take_every_source(tmp_path, t_data, model):
    """The engine's reach for the two models over holes: a memmap and a
    chunk source give the in-memory fit's bits, a dask array its fit, and
    incremental EM its batch fit's score."""
    _, Xm = t_data
    big = np.concatenate([Xm] * 100)  # 50,000 rows: several chunks
    path = tmp_path / "x.npy"
    np.save(path, big)
    cls = fastem.StudentTMixture if model == "student-t" else fastem.BayesianGaussianMixture
    kw = dict(n_components=2, missing="marginalize", random_state=0, max_iter=4, tol=0.0)
    ref = cls(**kw).fit(big)
    mm = cls(**kw).fit(np.load(path, mmap_mode="r"))

    def chunks():
        for start in range(0, big.shape[0], 7001):
            yield big[start:start + 7001]

    ch = cls(**kw).fit(chunks)
    for other in (mm, ch):
        assert_array_equal(other.means_, ref.means_)
        assert_array_equal(other.covariances_, ref.covariances_)
        assert_array_equal(other.lower_bounds_, ref.lower_bounds_)
    assert_array_equal(ref.impute(np.load(path, mmap_mode="r")), ref.impute(big))
    if model == "student-t":
        inc = cls(**{**kw, "max_iter": 30, "tol": 1e-8}, learning_method="incremental",
                  batch_size=10_000, bound_check="raise").fit(big)
        batch = cls(**{**kw, "max_iter": 300, "tol": 1e-8}).fit(big)
        assert abs(inc.score(big) - batch.score(big)) < 1e-5
    dask = pytest.importorskip("dask.array")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dm = cls(**kw).fit(dask.from_array(big, chunks=(7000, 4)))
    assert_allclose(dm.means_, ref.means_, rtol=1e-9)
    assert_allclose(dm.lower_bounds_, ref.lower_bounds_, rtol=1e-10)
