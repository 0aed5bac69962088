"""Degenerate data: finite parameters or scikit-learn's error, never NaN;
and the opt-in re-seeding of collapsed and empty components."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture as SkGaussianMixture

import fastem
from conftest import COVARIANCE_TYPES

ATTRS = ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_")


def _blobs(n=150, d=3, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=5.0, size=(3, d))
    return rng.normal(size=(n, d)) + np.repeat(centers, n // 3, axis=0)


def _far_point():
    X = _blobs()
    X[0] = 1e8
    return X


#: (id, data, n_components)
DEGENERATE = [
    ("constant-feature", lambda: np.hstack([_blobs(), np.full((150, 1), 3.0)]), 3),
    ("all-constant", lambda: np.full((40, 3), 2.0), 3),
    ("duplicated-points", lambda: np.repeat(np.random.default_rng(1).normal(size=(3, 2)), 20,
                                           axis=0), 3),
    ("more-components-than-distinct-points",
     lambda: np.repeat(np.random.default_rng(2).normal(size=(4, 2)), 3, axis=0), 5),
    ("components-close-to-samples", lambda: np.random.default_rng(3).normal(size=(10, 2)), 9),
    ("features-more-than-samples", lambda: np.random.default_rng(4).normal(size=(6, 20)), 2),
    ("scale-1e-9", lambda: _blobs() * 1e-9, 3),
    ("scale-1e9", lambda: _blobs() * 1e9, 3),
    ("scale-1e-9-offset-1", lambda: _blobs() * 1e-9 + 1.0, 3),
    ("offset-1e6", lambda: _blobs() + 1e6, 3),
    ("offset-1e8", lambda: _blobs() + 1e8, 3),
    ("one-far-point", _far_point, 3),
    ("integer-grid", lambda: np.random.default_rng(5).integers(0, 3, (150, 3)).astype(float), 3),
]


def _fit(cls, X, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return cls(**kwargs).fit(X), None
        except ValueError as error:
            return None, str(error)


def _collapsed(model, X):
    """Whether a component's covariance is singular up to rounding -- a
    variance of a few eps where the exact one is 0 (scikit-learn returns
    such a spike where fastem's exact sums see the zero and raise)."""
    cov = model.covariances_
    if model.covariance_type in ("full", "tied"):
        smallest = np.linalg.eigvalsh(cov.astype(np.float64)).min()
    else:
        smallest = cov.min()
    return not smallest > 1e3 * np.finfo(X.dtype).eps * X.astype(np.float64).var(axis=0).max()


def _assert_finite(model):
    for name in ATTRS:
        assert np.all(np.isfinite(getattr(model, name))), name
    assert np.isfinite(model.lower_bound_)
    assert np.all(model.weights_ >= 0) and abs(model.weights_.sum() - 1) < 1e-5


@pytest.mark.parametrize("reg_covar", [1e-6, 0.0])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("case, data, n_components", DEGENERATE, ids=[c[0] for c in DEGENERATE])
def test_finite_parameters_or_the_ill_defined_error(case, data, n_components, covariance_type,
                                                   dtype, reg_covar):
    """fastem returns finite parameters, or raises scikit-learn's
    "ill-defined empirical covariance" error -- and only where scikit-learn
    fails too (it never does worse).  The fitted model scores finitely."""
    X = data().astype(dtype)
    kwargs = dict(n_components=n_components, covariance_type=covariance_type,
                  reg_covar=reg_covar, random_state=0)
    ours, error = _fit(fastem.GaussianMixture, X, **kwargs)
    if ours is None:
        assert "ill-defined empirical covariance" in error
        theirs, _ = _fit(SkGaussianMixture, X, **kwargs)
        assert theirs is None or (reg_covar == 0.0 and _collapsed(theirs, X)), \
            "fastem failed where scikit-learn fitted"
        return
    _assert_finite(ours)
    assert np.all(np.isfinite(ours.score_samples(X)))
    assert np.all(np.isfinite(ours.predict_proba(X)))


def _two_blobs():
    rng = np.random.default_rng(0)
    return np.vstack([rng.normal(size=(200, 2)), rng.normal(size=(200, 2)) + 8])


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_an_empty_component_is_reseeded_and_the_fit_goes_on(covariance_type):
    X = _two_blobs()
    kwargs = dict(n_components=3, covariance_type=covariance_type,
                  means_init=[[0.0, 0.0], [8.0, 8.0], [1e3, 1e3]], random_state=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = fastem.GaussianMixture(reseed=True, **kwargs).fit(X)
    messages = [str(w.message) for w in caught if w.category is fastem.ReseedWarning]
    assert len(messages) == 1
    assert "at iteration 1: component(s) 2 (responsibility 0)" in messages[0]
    # no bound warning for the jump; a converged fit with all three in use
    assert not [w for w in caught if w.category is fastem.BoundDecreaseWarning]
    assert model.converged_
    _assert_finite(model)
    assert np.all(np.linalg.norm(model.means_, axis=1) < 20)
    assert model.weights_.min() > 1e-3
    # Without reseed (scikit-learn's behaviour), the component stays empty.
    plain = fastem.GaussianMixture(**kwargs).fit(X)
    theirs = SkGaussianMixture(**kwargs).fit(X)
    assert plain.weights_[2] < 1e-10
    # (The empty component's mean is sum(r x) / (10 eps) of responsibilities
    # below eps: fastem's are exactly 0, scikit-learn's keep a few digits.)
    np.testing.assert_allclose(plain.means_[:2], theirs.means_[:2], rtol=1e-8, atol=1e-8)


def test_reseeding_rescues_fits_that_fail_without_it():
    """Duplicated points with reg_covar=0: a component on one point has a
    zero covariance.  With reseed=True the fit ends with finite parameters
    wherever any component stays healthy."""
    rng = np.random.default_rng(7)
    X = np.vstack([rng.normal(size=(60, 2)), np.repeat([[5.0, 5.0]], 30, axis=0)])
    kwargs = dict(n_components=3, reg_covar=0.0, random_state=0, covariance_type="full")
    with pytest.raises(ValueError, match="ill-defined empirical covariance"):
        fastem.GaussianMixture(**kwargs).fit(X)
    with pytest.warns(fastem.ReseedWarning, match="re-seeded at the worst-explained"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", fastem.BoundDecreaseWarning)
            warnings.simplefilter("ignore", ConvergenceWarning)
            model = fastem.GaussianMixture(reseed=True, **kwargs).fit(X)
    _assert_finite(model)


def test_reseed_with_no_healthy_component_fails_as_scikit_learn():
    X = np.full((40, 2), 3.0)
    with pytest.raises(ValueError, match="ill-defined empirical covariance"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fastem.GaussianMixture(2, reg_covar=0.0, reseed=True, random_state=0).fit(X)


def test_reseed_is_the_same_out_of_core(tmp_path):
    X = _two_blobs()
    path = tmp_path / "x.npy"
    np.save(path, X)
    kwargs = dict(n_components=3, means_init=[[0.0, 0.0], [8.0, 8.0], [1e3, 1e3]],
                  random_state=0, reseed=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fastem.ReseedWarning)
        a = fastem.GaussianMixture(**kwargs).fit(X)
        b = fastem.GaussianMixture(**kwargs).fit(np.load(path, mmap_mode="r"))
        c = fastem.GaussianMixture(**kwargs).fit(lambda: (X[i:i + 37] for i in range(0, 400, 37)))
    for other in (b, c):
        for name in ATTRS:
            np.testing.assert_array_equal(getattr(a, name), getattr(other, name))


def test_worst_rows_are_the_lowest_log_likelihoods():
    from fastem.families import gaussian as G
    from fastem.engine.reseed import worst_rows

    X = _two_blobs()
    model = fastem.GaussianMixture(2, random_state=0).fit(X)
    params = G.Params(model.weights_, model.means_, model.covariances_,
                      model.precisions_cholesky_)
    index, rows = worst_rows(X, G.GaussianFamily(2, "full", 1e-6), params, 5)
    expected = np.argsort(model.score_samples(X), kind="stable")[:5]
    np.testing.assert_array_equal(index, expected)
    np.testing.assert_array_equal(rows, X[expected])


def test_reseed_parameter_is_validated_and_keyword_only():
    with pytest.raises(ValueError, match="'reseed' parameter"):
        fastem.GaussianMixture(reseed="yes").fit(_two_blobs())
    assert fastem.GaussianMixture().reseed is False


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_rows_beyond_overflow_get_the_limit_posterior_not_nan(covariance_type, dtype):
    """A row so far away that every squared distance overflows: scikit-learn
    returns NaN responsibilities and label 0.  fastem returns the limit of
    the posterior along that direction -- the same as at a distance where
    nothing overflows yet -- and log-likelihood -inf (the correctly rounded
    value)."""
    rng = np.random.default_rng(3)
    X = (rng.normal(size=(300, 3)) * [1.0, 3.0, 0.5] + np.repeat(
        [[0.0, 0.0, 0.0], [6.0, 0.0, 0.0], [0.0, 6.0, 6.0]], 100, axis=0)).astype(dtype)
    model = fastem.GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(X)
    directions = rng.normal(size=(40, 3))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    near, far = (1e15, 1e30) if dtype == np.float32 else (1e140, 1e300)
    with np.errstate(over="ignore"):
        far_rows = (directions * far).astype(dtype)
    near_rows = (directions * near).astype(dtype)
    resp = model.predict_proba(far_rows)
    assert np.all(np.isfinite(resp))
    np.testing.assert_allclose(resp.sum(axis=1), 1.0, rtol=1e-6)
    if covariance_type == "tied":
        # One covariance: the quadratic terms are equal and the linear one,
        # x^T P mu_k, decides -- a term that any float evaluation at a
        # distance loses against |x|^2 (so the posterior at `near` is the
        # prior), but the limit keeps.
        expected = np.argmax(directions @ model.precisions_ @ model.means_.T, axis=1)
        np.testing.assert_array_equal(resp, np.eye(3)[expected])
    else:
        np.testing.assert_allclose(resp, model.predict_proba(near_rows), atol=1e-6)
        np.testing.assert_array_equal(model.predict(far_rows), model.predict(near_rows))
    np.testing.assert_array_equal(model.predict(far_rows), resp.argmax(axis=1))
    assert np.all(model.score_samples(far_rows) == -np.inf)
    mixed = np.vstack([X[:5], far_rows[:3]])  # the usual rows are left alone
    np.testing.assert_array_equal(model.predict_proba(mixed)[:5], model.predict_proba(X[:5]))


def test_far_rows_posterior_ties_share_by_weight():
    from fastem.families import gaussian as G

    params = G.Params(np.array([0.25, 0.75]), np.zeros((2, 1)), np.ones(2), np.ones(2))
    resp = G.far_rows_posterior(np.array([[1e300]]), params, "spherical")  # equal distances
    np.testing.assert_allclose(resp, [[0.25, 0.75]])


def test_far_rows_in_a_later_chunk_of_a_copied_input(monkeypatch):
    from fastem.data import chunks as _data

    rng = np.random.default_rng(8)
    X = rng.normal(size=(3000, 2)) + np.repeat([[0.0, 0.0], [9.0, 1.0]], 1500, axis=0)
    model = fastem.GaussianMixture(2, covariance_type="diag", random_state=0).fit(X)
    Y = X.copy()
    Y[[5, 2100, 2999]] = [[1e300, 0.0], [-1e300, 1e299], [0.0, 1e300]]
    expected = model.predict_proba(Y)  # one chunk
    monkeypatch.setattr(_data, "CHUNK_BYTES", 256 * 2 * 8)  # 256-row chunks
    got = model.predict_proba(np.asfortranarray(Y))  # copied a chunk at a time
    np.testing.assert_array_equal(got, expected)
    assert np.all(np.isfinite(got)) and model.predict(np.asfortranarray(Y))[2999] == \
        np.argmax(expected[2999])


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_float32_data_at_a_large_offset(covariance_type):
    """scikit-learn issue #30382: float32 data far from the origin give
    scikit-learn's E[x^2] - mu^2 negative or zero variances (its diag,
    spherical and tied fits fail here as ill-defined).  fastem's centred
    sums give the float64 fit's covariances to float32 accuracy of the data."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, 2)) * 0.1 + np.repeat([[1e4, 1e4], [1e4 + 1, 1e4]], 1000, axis=0)
    ours32 = fastem.GaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(
        X.astype(np.float32))
    ours64 = fastem.GaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(X)
    _assert_finite(ours32)
    np.testing.assert_allclose(ours32.covariances_, ours64.covariances_, rtol=2e-3,
                               atol=1e-5)
    if covariance_type != "full":
        with pytest.raises(ValueError, match="ill-defined empirical covariance"):
            SkGaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(
                X.astype(np.float32))
