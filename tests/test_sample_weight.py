"""fit(X, sample_weight=...): weighted sufficient statistics in the fused
kernels, a weighted initialisation, and the same answers in memory, out of
core and on dask."""

import warnings

import numpy as np
import pytest
from sklearn.cluster import KMeans

import fastem
from conftest import COVARIANCE_TYPES, DTYPES, make_blobs
from fastem.engine import kmeans as _kmeans

ATTRS = ("weights_", "means_", "covariances_", "precisions_cholesky_")


def _start(X, covariance_type, n_components=3):
    """Initial parameters shared by the fits compared."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = fastem.GaussianMixture(n_components, covariance_type=covariance_type, max_iter=1,
                                   random_state=0).fit(X)
    return dict(weights_init=m.weights_, means_init=m.means_, precisions_init=m.precisions_)


def _fit(X, sample_weight=None, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fastem.GaussianMixture(**kwargs).fit(X, sample_weight=sample_weight)


def _assert_same(a, b, rtol):
    for name in ATTRS:
        x, y = getattr(a, name), getattr(b, name)
        np.testing.assert_allclose(x, y, rtol=rtol, atol=rtol * np.abs(y).max(), err_msg=name)
    np.testing.assert_allclose(a.lower_bound_, b.lower_bound_, rtol=rtol)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_integer_weights_equal_repeated_rows(covariance_type, dtype):
    X = make_blobs(n_samples=500, n_features=3, n_components=3, seed=1).astype(dtype)
    counts = np.random.default_rng(2).integers(0, 4, 500)
    kwargs = dict(n_components=3, covariance_type=covariance_type, tol=0.0, max_iter=15,
                  **_start(X, covariance_type))
    weighted = _fit(X, sample_weight=counts, **kwargs)
    repeated = _fit(np.repeat(X, counts, axis=0), **kwargs)
    _assert_same(weighted, repeated, rtol=1e-9 if dtype == np.float64 else 2e-4)
    assert weighted.n_iter_ == repeated.n_iter_ == 15
    assert weighted.means_.dtype == dtype


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("init_params", ["kmeans", "k-means++", "random_from_data", "random"])
def test_rows_of_weight_zero_take_no_part(covariance_type, init_params):
    """Rows added with weight 0 -- in the middle and at the end, far away --
    change nothing: not the initialisation (their draws have probability 0,
    k-means ignores them), not the EM sums."""
    X = make_blobs(n_samples=400, n_features=2, n_components=3, seed=3)
    junk = np.random.default_rng(4).normal(loc=1e3, scale=50.0, size=(60, 2))
    Y = np.vstack([X[:200], junk[:30], X[200:], junk[30:]])
    w = np.r_[np.ones(200), np.zeros(30), np.ones(200), np.zeros(30)]
    kwargs = dict(n_components=3, covariance_type=covariance_type, init_params=init_params,
                  random_state=0)
    if init_params == "random":
        # Random responsibilities are drawn for every row, so the stream
        # differs; start both from the same responsibilities' model instead.
        kwargs.update(init_params="kmeans", **_start(X, covariance_type))
    ours = _fit(Y, sample_weight=w, **kwargs)
    plain = _fit(X, **kwargs)
    _assert_same(ours, plain, rtol=1e-8)
    assert ours.n_iter_ == plain.n_iter_


def test_weighted_kmeans_labels_match_scikit_learn_kmeans():
    X = make_blobs(n_samples=600, n_features=3, n_components=4, seed=5)
    w = np.random.default_rng(6).uniform(0.1, 3.0, 600)
    ours = _kmeans.kmeans_labels(X, 4, np.random.RandomState(0), sample_weight=w)
    theirs = KMeans(4, n_init=1, random_state=0).fit(X, sample_weight=w).labels_
    np.testing.assert_array_equal(ours, theirs)


def test_scaling_every_weight_changes_nothing():
    X = make_blobs(n_samples=300, n_features=2, n_components=2, seed=7)
    w = np.random.default_rng(8).uniform(0.5, 2.0, 300)
    kwargs = dict(n_components=2, random_state=0)
    a = _fit(X, sample_weight=w, **kwargs)
    b = _fit(X, sample_weight=4.0 * w, **kwargs)  # a power of two: exact
    for name in ATTRS:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    c = _fit(X, sample_weight=2.5, **kwargs)  # a scalar: every row alike
    d = _fit(X, **kwargs)
    _assert_same(c, d, rtol=1e-10)


def test_the_bound_is_the_weighted_mean_log_likelihood():
    X = make_blobs(n_samples=300, n_features=2, n_components=2, seed=9)
    w = np.random.default_rng(10).uniform(0.0, 2.0, 300)
    model = _fit(X, sample_weight=w, n_components=2, random_state=0, tol=1e-12, max_iter=500)
    assert model.converged_
    expected = np.average(model.score_samples(X), weights=w)
    np.testing.assert_allclose(model.lower_bound_, expected, rtol=1e-9)
    assert np.all(np.diff(model.lower_bounds_) >= -1e-12)


@pytest.mark.parametrize(
    "sample_weight, error, message",
    [
        (-np.ones(50), ValueError, "Negative values in data passed to sample_weight"),
        (np.r_[np.ones(49), np.nan], ValueError, "Input sample_weight contains NaN"),
        (np.r_[np.ones(49), np.inf], ValueError, "Input sample_weight contains infinity"),
        (np.ones(49), ValueError, r"sample_weight.shape == \(49,\), expected \(50,\)!"),
        (np.ones((50, 1)), ValueError, "Sample weights must be 1D array or scalar"),
        (np.zeros(50), ValueError, "Sample weights must contain at least one non-zero number"),
        (np.r_[np.zeros(48), 1.0, 1.0], ValueError,
         "Expected at least n_components = 3 rows with a positive sample_weight, but got 2"),
        (["a"] * 50, ValueError, "could not convert"),
    ],
    ids=["negative", "nan", "inf", "short", "2-D", "all-zero", "too-few-positive", "strings"],
)
def test_bad_weights_are_rejected_clearly(sample_weight, error, message):
    X = make_blobs(n_samples=50, n_features=2, n_components=3)
    model = fastem.GaussianMixture(3, random_state=0)
    with pytest.raises(error, match=message):
        model.fit(X, sample_weight=sample_weight)
    assert not hasattr(model, "means_")


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_out_of_core_and_chunk_sources_give_the_same_bits(tmp_path, covariance_type):
    X = make_blobs(n_samples=900, n_features=3, n_components=3, seed=11)
    w = np.random.default_rng(12).integers(0, 3, 900).astype(float)
    path = tmp_path / "x.npy"
    np.save(path, X)
    wpath = tmp_path / "w.npy"
    np.save(wpath, w)
    kwargs = dict(n_components=3, covariance_type=covariance_type, random_state=0)
    a = _fit(X, sample_weight=w, **kwargs)
    b = _fit(np.load(path, mmap_mode="r"), sample_weight=np.load(wpath, mmap_mode="r"),
             **kwargs)
    c = _fit(lambda: (X[i:i + 100] for i in range(0, 900, 100)), sample_weight=w, **kwargs)
    for other in (b, c):
        for name in ATTRS:
            np.testing.assert_array_equal(getattr(a, name), getattr(other, name))
        assert other.lower_bound_ == a.lower_bound_


def test_fit_predict_with_weights_labels_every_row():
    X = make_blobs(n_samples=300, n_features=2, n_components=3, seed=13)
    w = np.r_[np.ones(250), np.zeros(50)]
    model = fastem.GaussianMixture(3, random_state=0)
    labels = model.fit_predict(X, sample_weight=w)
    np.testing.assert_array_equal(labels, model.predict(X))
