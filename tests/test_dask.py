"""Dask arrays on a real LocalCluster with worker processes: the passes run
as tasks on the workers, the model equals the NumPy fit."""

import numpy as np
import pytest

import fastem
from conftest import COVARIANCE_TYPES, make_blobs

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None)
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


@pytest.fixture(scope="module")
def X():
    return make_blobs(n_samples=4000, n_features=3, n_components=3, seed=12)


def _close(a, b):
    assert abs(a.lower_bound_ - b.lower_bound_) < 1e-9
    assert a.n_iter_ == b.n_iter_
    for name in ("weights_", "means_", "covariances_"):
        np.testing.assert_allclose(getattr(b, name), getattr(a, name), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_dask_fit_equals_numpy_fit_and_runs_on_the_workers(client, X, covariance_type):
    dX = da.from_array(X, chunks=(700, 3))
    kw = dict(n_components=3, covariance_type=covariance_type, random_state=0)
    a = fastem.GaussianMixture(**kw).fit(X)
    with distributed.get_task_stream(client) as tasks:
        b = fastem.GaussianMixture(**kw).fit(dX)
    _close(a, b)
    # The kernels ran in the worker processes (dask fuses each pass's
    # per-block task into its reduction's first level, so count those).
    names = [t["key"][0] if isinstance(t["key"], tuple) else t["key"] for t in tasks.data]
    first_level = [n for n in names if "sum" in str(n) and "aggregate" not in str(n)]
    assert len(first_level) >= b.n_iter_ * dX.numblocks[0]
    assert {t["worker"] for t in tasks.data} <= set(client.scheduler_info()["workers"])
    loaded = client.run(lambda: __import__("sys").modules.get("fastem.kernels.gaussian")
                        is not None)
    assert len(loaded) == 2 and all(loaded.values())

    labels = b.predict(dX)
    assert isinstance(labels, da.Array)
    np.testing.assert_array_equal(labels.compute(), a.predict(X))
    proba = b.predict_proba(dX)
    assert isinstance(proba, da.Array) and proba.shape == (4000, 3)
    np.testing.assert_allclose(proba.compute(), a.predict_proba(X), rtol=1e-9, atol=1e-12)
    lpn = b.score_samples(dX)
    assert isinstance(lpn, da.Array)
    np.testing.assert_allclose(lpn.compute(), a.score_samples(X), rtol=1e-12)
    assert abs(b.score(dX) - a.score(X)) < 1e-12
    np.testing.assert_allclose(b.bic(dX), a.bic(X), rtol=1e-12)


@pytest.mark.parametrize("init_params", ["random", "random_from_data", "k-means++"])
def test_every_initialisation(client, X, init_params):
    kw = dict(n_components=3, init_params=init_params, random_state=3, max_iter=30)
    a = fastem.GaussianMixture(**kw).fit(X)
    b = fastem.GaussianMixture(**kw).fit(da.from_array(X, chunks=(1000, 2)))  # columns rechunked
    _close(a, b)


def test_float32_and_unknown_chunk_sizes(client, X):
    X32 = X.astype(np.float32)
    d = da.from_array(X32, chunks=(500, 3))
    d = d[d[:, 0] > -np.inf]  # rows filtered: chunk sizes unknown until computed
    assert np.isnan(d.shape[0])
    a = fastem.GaussianMixture(2, covariance_type="diag", random_state=0).fit(X32)
    b = fastem.GaussianMixture(2, covariance_type="diag", random_state=0).fit(d)
    assert b.means_.dtype == np.float32
    assert abs(a.lower_bound_ - b.lower_bound_) < 1e-6


def test_fit_predict_is_lazy_and_equals_fit_then_predict(client, X):
    dX = da.from_array(X, chunks=(1000, 3))
    model = fastem.GaussianMixture(3, random_state=0)
    labels = model.fit_predict(dX)
    assert isinstance(labels, da.Array)
    np.testing.assert_array_equal(labels.compute(), model.predict(X))


def test_non_finite_values_are_reported_as_scikit_learn(client, X):
    bad = X.copy()
    bad[3999, 2] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        fastem.GaussianMixture(2).fit(da.from_array(bad, chunks=(1000, 3)))
    bad[3999, 2] = np.inf
    with pytest.raises(ValueError, match="Input X contains infinity"):
        fastem.GaussianMixture(2).fit(da.from_array(bad, chunks=(1000, 3)))
    model = fastem.GaussianMixture(2, random_state=0).fit(X)
    lazy = model.predict(da.from_array(bad, chunks=(1000, 3)))  # checked when computed
    with pytest.raises(ValueError, match="Input X contains infinity"):
        lazy.compute()
    with pytest.raises(ValueError, match="X has 2 features, but GaussianMixture is expecting 3"):
        model.predict(da.from_array(X[:, :2], chunks=(1000, 2)))


def test_reseed_on_a_dask_array(client):
    """reseed=True finds the worst-explained rows on the cluster; the fit
    equals the in-memory one."""
    import warnings

    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(size=(300, 2)), rng.normal(size=(300, 2)) + 8])
    kw = dict(n_components=3, means_init=[[0.0, 0.0], [8.0, 8.0], [1e3, 1e3]], random_state=0,
              reseed=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        a = fastem.GaussianMixture(**kw).fit(X)
        b = fastem.GaussianMixture(**kw).fit(da.from_array(X, chunks=(170, 2)))
    messages = [str(w.message) for w in caught if w.category is fastem.ReseedWarning]
    assert len(messages) == 2 and messages[0] == messages[1]
    _close(a, b)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_sample_weight_on_a_dask_array(client, X, covariance_type):
    """Weights as a dask array (other chunks) or a NumPy array: the passes
    weigh each block's rows on the workers; the fit equals the in-memory one."""
    w = np.random.default_rng(3).integers(0, 4, X.shape[0]).astype(float)
    dX = da.from_array(X, chunks=(700, 3))
    kw = dict(n_components=3, covariance_type=covariance_type, random_state=0)
    a = fastem.GaussianMixture(**kw).fit(X, sample_weight=w)
    b = fastem.GaussianMixture(**kw).fit(dX, sample_weight=da.from_array(w, chunks=1000))
    c = fastem.GaussianMixture(**kw).fit(dX, sample_weight=w)
    _close(a, b)
    _close(a, c)


def test_bad_dask_weights_are_rejected(client, X):
    dX = da.from_array(X, chunks=(700, 3))
    w = np.ones(X.shape[0])
    w[5] = np.nan
    with pytest.raises(ValueError, match="Input sample_weight contains NaN"):
        fastem.GaussianMixture(3).fit(dX, sample_weight=da.from_array(w, chunks=1000))
    with pytest.raises(ValueError, match="Negative values in data passed to sample_weight"):
        fastem.GaussianMixture(3).fit(dX, sample_weight=-da.ones(X.shape[0], chunks=1000))


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_bayesian_mixture_on_a_dask_array(client, X, covariance_type):
    """The variational model's passes run on the workers too, weighted or not."""
    dX = da.from_array(X, chunks=(700, 3))
    w = np.random.default_rng(3).integers(0, 3, X.shape[0]).astype(float)
    kw = dict(n_components=4, covariance_type=covariance_type, random_state=0)
    for sample_weight, dask_weight in ((None, None), (w, da.from_array(w, chunks=900))):
        a = fastem.BayesianGaussianMixture(**kw).fit(X, sample_weight=sample_weight)
        b = fastem.BayesianGaussianMixture(**kw).fit(dX, sample_weight=dask_weight)
        assert a.n_iter_ == b.n_iter_
        assert abs(a.lower_bound_ - b.lower_bound_) < 1e-9 * abs(a.lower_bound_)
        np.testing.assert_allclose(b.means_, a.means_, rtol=1e-9, atol=1e-12)
    proba = b.predict_proba(dX)
    assert isinstance(proba, da.Array)
    np.testing.assert_allclose(proba.compute(), a.predict_proba(X), rtol=1e-9, atol=1e-12)


# --------------------------------------------------------------------------
# Hidden Markov models: blocks rechunked to whole sequences.


@pytest.mark.parametrize("make", [
    lambda: fastem.GaussianHMM(3, "full", n_iter=5, tol=0, random_state=0),
    lambda: fastem.GMMHMM(2, 2, covariance_type="diag", n_iter=4, tol=0, random_state=0),
])
def test_dask_hmm_fit_equals_numpy_fit_and_runs_on_the_workers(client, X, make):
    lengths = [300, 900, 50, 1250, 700, 800]
    dX = da.from_array(X, chunks=(700, 3))  # blocks that cut sequences
    a = make().fit(X, lengths)
    with distributed.get_task_stream(client) as tasks:
        b = make().fit(dX, lengths, sample_weight=None)
    assert any("_block_e_step" in t["key"][0] if isinstance(t["key"], tuple)
               else "_block_e_step" in t["key"] for t in tasks.data)
    np.testing.assert_allclose(b.lower_bounds_, a.lower_bounds_, rtol=1e-10)
    np.testing.assert_allclose(b.means_, a.means_, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(b.transmat_, a.transmat_, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(b.score(dX, lengths), a.score(X, lengths), rtol=1e-12)
    states = b.predict(dX, lengths)
    assert isinstance(states, da.Array)
    np.testing.assert_array_equal(states.compute(), a.predict(X, lengths))
    proba = b.predict_proba(dX, lengths)
    np.testing.assert_allclose(proba.compute(), a.predict_proba(X, lengths), atol=1e-9)
    v, path = b.decode(dX, lengths)
    v_ref, path_ref = a.decode(X, lengths)
    np.testing.assert_allclose(v, v_ref, rtol=1e-12)
    np.testing.assert_array_equal(path.compute(), path_ref)
    weights = np.array([1.0, 2.0, 0.5, 1.0, 3.0, 1.0])
    c = make().fit(X, lengths, sample_weight=weights)
    d = make().fit(dX, lengths, sample_weight=weights)
    np.testing.assert_allclose(d.lower_bounds_, c.lower_bounds_, rtol=1e-10)
    bad = X.copy()
    bad[1000, 0] = np.nan
    with pytest.raises(ValueError, match="Input contains NaN"):
        b.score(da.from_array(bad, chunks=(700, 3)), lengths)
