"""Bernoulli and Poisson mixtures: kernels against NumPy, densities against
scipy.stats, EM against a plain-NumPy EM, and the engine's promises (data
sources, dask, weights, selection, persistence, bad input)."""

import io
import warnings

import numpy as np
import pytest
from scipy import stats as sps
from scipy.special import logsumexp

import fastem
from fastem.engine import passes

import naive


def binary_data(n=3000, d=12, K=3, seed=0):
    rng = np.random.default_rng(seed)
    theta = rng.uniform(0.05, 0.95, (K, d))
    z = rng.integers(0, K, n)
    return (rng.uniform(size=(n, d)) < theta[z]).astype(np.float64), theta, z


def count_data(n=3000, d=6, K=3, seed=0, scale=8.0):
    rng = np.random.default_rng(seed)
    rates = rng.uniform(0.2, scale, (K, d))
    z = rng.integers(0, K, n)
    return rng.poisson(rates[z]).astype(np.float64), rates, z


def random_model(kind, K, d, seed=1):
    rng = np.random.default_rng(seed)
    weights = rng.dirichlet(np.ones(K))
    if kind == "bernoulli":
        return weights, rng.uniform(0.02, 0.98, (K, d))
    return weights, rng.uniform(0.1, 20.0, (K, d))


MODELS = {
    "bernoulli": (fastem.BernoulliMixture, "probabilities_init", "probabilities_", binary_data,
                  naive.bernoulli_log_prob),
    "poisson": (fastem.PoissonMixture, "rates_init", "rates_", count_data,
                naive.poisson_log_prob),
}


def fitted(kind, weights, values, **kwargs):
    cls, init, attr, _, _ = MODELS[kind]
    model = cls(len(weights), weights_init=weights, **{init: values}, **kwargs)
    model.weights_ = np.asarray(weights, dtype=np.float64)
    setattr(model, attr, np.asarray(values, dtype=np.float64))
    model.n_features_in_ = values.shape[1]
    model.converged_ = True
    model.n_iter_ = 0
    model.lower_bound_ = 0.0
    model.lower_bounds_ = []
    return model


# --------------------------------------------------------------------------
# The kernel and the densities.


@pytest.mark.parametrize("kind", ["bernoulli", "poisson"])
@pytest.mark.parametrize("d", [3, 7, 20])  # loops; loops with a tail; the BLAS
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("weighted", [False, True])
def test_linear_kernel_matches_numpy(kind, d, dtype, weighted):
    K = 4
    X = (binary_data if kind == "bernoulli" else count_data)(n=1000, d=d, K=K, seed=2)[0]
    if kind == "poisson":
        X[::97, 0] = 5000.0  # beyond the log k! table: lgamma
    weights, values = random_model(kind, K, d)
    rng = np.random.default_rng(3)
    sw = rng.uniform(0, 2, X.shape[0]) if weighted else None
    model = fitted(kind, weights, values)
    family = model._family()
    family.setup(d, np.dtype(dtype))
    params = family.from_estimator(model)
    Xd = X.astype(dtype)
    n = X.shape[0]
    lpn = np.empty(n, dtype)
    resp = np.empty((n, K), dtype)
    labels = np.empty(n, np.int64)
    stats = passes.run_pass(Xd, family, params, want_stats=True, out_lpn=lpn, out_resp=resp,
                            out_label=labels,
                            sample_weight=None if sw is None else sw.astype(dtype))
    wlp = MODELS[kind][4](Xd, weights, values)
    ref_lpn, ref_resp = naive.log_prob_and_resp(wlp)
    w = np.ones(n) if sw is None else sw.astype(dtype).astype(np.float64)
    tol = 1e-10 if dtype == np.float64 else 1e-4
    scale = np.abs(ref_lpn).max()
    np.testing.assert_allclose(lpn, ref_lpn, rtol=tol, atol=tol * scale)
    np.testing.assert_allclose(resp, ref_resp, atol=tol * 10)
    np.testing.assert_array_equal(labels, np.argmax(wlp, axis=1))
    np.testing.assert_allclose(stats.nk, (ref_resp * w[:, None]).sum(axis=0), rtol=tol * 10)
    np.testing.assert_allclose(stats.moments, (ref_resp * w[:, None]).T @ X,
                               rtol=tol * 10, atol=tol * 10 * n)
    np.testing.assert_allclose(stats.sum_lpn, w @ ref_lpn, rtol=tol)


@pytest.mark.parametrize("kind", ["bernoulli", "poisson"])
def test_score_samples_is_scipy_stats_log_density(kind):
    K, d = 5, 9
    X = (binary_data if kind == "bernoulli" else count_data)(n=500, d=d, K=K, seed=4)[0]
    weights, values = random_model(kind, K, d, seed=5)
    model = fitted(kind, weights, values)
    if kind == "bernoulli":
        per = np.stack([sps.bernoulli.logpmf(X, values[k]).sum(axis=1) for k in range(K)], 1)
    else:
        per = np.stack([sps.poisson.logpmf(X, values[k]).sum(axis=1) for k in range(K)], 1)
    expected = logsumexp(per + np.log(weights), axis=1)
    np.testing.assert_allclose(model.score_samples(X), expected, rtol=1e-12)
    np.testing.assert_allclose(model.predict_proba(X),
                               np.exp(per + np.log(weights) - expected[:, None]), atol=1e-12)


# --------------------------------------------------------------------------
# EM.


@pytest.mark.parametrize("kind", ["bernoulli", "poisson"])
@pytest.mark.parametrize("weighted", [False, True])
def test_em_matches_a_numpy_em_from_the_same_start(kind, weighted):
    cls, init, attr, make, _ = MODELS[kind]
    X = make(n=2000, d=8, K=3, seed=6)[0]
    weights, values = random_model(kind, 3, 8, seed=7)
    sw = np.random.default_rng(8).uniform(0.1, 3, X.shape[0]) if weighted else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = cls(3, weights_init=weights, **{init: values}, max_iter=12, tol=0.0,
                    alpha=0.05, bound_check="raise").fit(X, sample_weight=sw)
    w_ref, v_ref, bounds = naive.discrete_em(X, weights, values, 12, kind, 0.05, sw)
    np.testing.assert_allclose(model.weights_, w_ref, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(getattr(model, attr), v_ref, rtol=1e-10)
    np.testing.assert_allclose(model.lower_bounds_, bounds, rtol=1e-10)
    assert np.all(np.diff(model.lower_bounds_) > -1e-12)
    # The seed's chain, with the prior on both sides.
    lb = np.asarray(model.lower_bounds_)
    assert np.all(model.m_step_bounds_ >= lb - 1e-12)
    assert np.all(model.kl_divergences_ >= -1e-12)
    np.testing.assert_allclose(model.kl_divergences_, lb[1:] - model.m_step_bounds_[:-1],
                               atol=1e-12)


@pytest.mark.parametrize("kind", ["bernoulli", "poisson"])
def test_recovers_the_generating_model(kind):
    cls, _, attr, make, _ = MODELS[kind]
    X, truth, z = make(n=20000, d=10, K=3, seed=9)
    model = cls(3, n_init=3, random_state=0).fit(X)
    assert model.converged_
    # Components match the truth up to a permutation.
    labels = model.predict(X)
    table = np.zeros((3, 3), int)
    np.add.at(table, (z, labels), 1)
    order = table.argmax(axis=1)
    assert len(set(order)) == 3
    # As accurate as the generating model's own posterior (the Bayes rule).
    bayes = fitted(kind, np.full(3, 1 / 3), truth).predict(X)
    assert table.max(axis=1).sum() / len(z) > np.mean(bayes == z) - 0.01
    np.testing.assert_allclose(getattr(model, attr)[order], truth,
                               atol=0.05 if kind == "bernoulli" else 0.25)


@pytest.mark.parametrize("kind", ["bernoulli", "poisson"])
@pytest.mark.parametrize("init_params", ["kmeans", "k-means++", "random", "random_from_data"])
def test_every_initialisation_fits(kind, init_params):
    cls, _, attr, make, _ = MODELS[kind]
    X = make(n=600, d=5, seed=10)[0]
    model = cls(3, init_params=init_params, random_state=0).fit(X)
    assert np.isfinite(model.lower_bound_)
    values = getattr(model, attr)
    assert np.all(values > 0) and (kind == "poisson" or np.all(values < 1))
    assert model.weights_.sum() == pytest.approx(1.0)


@pytest.mark.parametrize("kind", ["bernoulli", "poisson"])
def test_float32_data_follow_float64(kind):
    cls, init, attr, make, _ = MODELS[kind]
    X = make(n=3000, d=8, seed=11)[0]
    weights, values = random_model(kind, 3, 8, seed=20)
    kw = dict(weights_init=weights, **{init: values}, max_iter=10, tol=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m64 = cls(3, **kw).fit(X)
        m32 = cls(3, **kw).fit(X.astype(np.float32))
    assert getattr(m32, attr).dtype == np.float64
    assert m32.score_samples(X.astype(np.float32)).dtype == np.float32
    np.testing.assert_allclose(getattr(m32, attr), getattr(m64, attr), rtol=1e-3, atol=1e-4)
    assert m32.lower_bound_ == pytest.approx(m64.lower_bound_, rel=1e-5)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("kind", ["bernoulli", "poisson"])
def test_integer_weights_are_repeated_rows(kind):
    cls, init, attr, make, _ = MODELS[kind]
    X = make(n=400, d=5, seed=12)[0]
    counts = np.random.default_rng(13).integers(0, 4, X.shape[0])
    weights, values = random_model(kind, 3, 5, seed=14)
    kw = dict(weights_init=weights, **{init: values}, max_iter=30, tol=0)
    a = cls(3, **kw).fit(X, sample_weight=counts)
    b = cls(3, **kw).fit(np.repeat(X, counts, axis=0))
    np.testing.assert_allclose(getattr(a, attr), getattr(b, attr), rtol=1e-9)
    np.testing.assert_allclose(a.lower_bound_, b.lower_bound_, rtol=1e-9)


# --------------------------------------------------------------------------
# Data sources, dask, selection, persistence.


@pytest.mark.parametrize("kind", ["bernoulli", "poisson"])
def test_out_of_core_equals_in_memory_bitwise(kind, tmp_path):
    cls, _, attr, make, _ = MODELS[kind]
    X = make(n=5000, d=6, seed=15)[0]
    path = tmp_path / "x.npy"
    np.save(path, X)
    mm = np.load(path, mmap_mode="r")
    a = cls(3, random_state=0).fit(X)
    b = cls(3, random_state=0).fit(mm)
    c = cls(3, random_state=0).fit(lambda: (X[i:i + 700] for i in range(0, len(X), 700)))
    for other in (b, c):
        np.testing.assert_array_equal(getattr(a, attr), getattr(other, attr))
        assert a.lower_bounds_ == other.lower_bounds_
    np.testing.assert_array_equal(a.score_samples(X), b.score_samples(mm))


@pytest.mark.parametrize("kind", ["bernoulli", "poisson"])
def test_dask_equals_in_memory(kind):
    da = pytest.importorskip("dask.array")
    cls, _, attr, make, _ = MODELS[kind]
    X = make(n=4000, d=6, seed=16)[0]
    a = cls(3, init_params="random_from_data", random_state=0).fit(X)
    b = cls(3, init_params="random_from_data", random_state=0).fit(da.from_array(X, chunks=900))
    np.testing.assert_allclose(getattr(b, attr), getattr(a, attr), rtol=1e-9)
    np.testing.assert_allclose(b.lower_bound_, a.lower_bound_, rtol=1e-9)
    lazy = b.score_samples(da.from_array(X, chunks=900))
    np.testing.assert_allclose(lazy.compute(), a.score_samples(X), rtol=1e-9)


@pytest.mark.parametrize("kind", ["bernoulli", "poisson"])
def test_select_over_n_components(kind):
    cls, _, _, make, _ = MODELS[kind]
    X = make(n=3000, d=10, K=3, seed=17)[0]
    best, table = fastem.select(X, n_components=[1, 2, 3, 4], model=cls.__name__,
                                as_frame=False, n_init=2)
    assert isinstance(best, cls)
    assert best.n_components == 3
    assert [row["covariance_type"] for row in table] == [None] * 4
    row = table[2]
    assert row["bic"] == pytest.approx(best.bic(X))


@pytest.mark.parametrize("kind", ["bernoulli", "poisson"])
def test_save_and_load(kind, tmp_path):
    cls, _, attr, make, _ = MODELS[kind]
    X = make(n=800, d=5, seed=18)[0]
    model = cls(2, random_state=0).fit(X)
    buffer = io.BytesIO()
    model.save(buffer)
    buffer.seek(0)
    loaded = fastem.load(buffer)
    assert type(loaded) is cls
    np.testing.assert_array_equal(getattr(loaded, attr), getattr(model, attr))
    np.testing.assert_array_equal(loaded.score_samples(X), model.score_samples(X))
    # An invalid model is refused.
    setattr(model, attr, -getattr(model, attr))
    buffer = io.BytesIO()
    model.save(buffer)
    buffer.seek(0)
    with pytest.raises(fastem.ModelFileError):
        fastem.load(buffer)


@pytest.mark.parametrize("kind", ["bernoulli", "poisson"])
def test_sample_draws_from_the_model(kind):
    cls, _, attr, make, _ = MODELS[kind]
    X = make(n=3000, d=4, seed=19)[0]
    model = cls(2, random_state=0).fit(X)
    S, y = model.sample(20000)
    assert S.shape == (20000, 4) and y.shape == (20000,)
    for k in range(2):
        np.testing.assert_allclose(S[y == k].mean(axis=0), getattr(model, attr)[k],
                                   rtol=0.1, atol=0.02)


# --------------------------------------------------------------------------
# Bad input.


@pytest.mark.parametrize("bad", [0.5, 2.0, -1.0])
def test_bernoulli_refuses_non_binary_data(bad):
    X = binary_data(n=50, d=3)[0]
    X[7, 1] = bad
    with pytest.raises(ValueError, match="must be 0 or 1"):
        fastem.BernoulliMixture(2).fit(X)
    model = fastem.BernoulliMixture(2).fit(binary_data(n=50, d=3)[0])
    with pytest.raises(ValueError, match="must be 0 or 1"):
        model.predict(X)


@pytest.mark.parametrize("bad", [0.5, -1.0, 2.25])
def test_poisson_refuses_what_is_not_a_count(bad):
    X = count_data(n=50, d=3)[0]
    X[7, 1] = bad
    with pytest.raises(ValueError, match="non-negative integer"):
        fastem.PoissonMixture(2).fit(X)
    model = fastem.PoissonMixture(2).fit(count_data(n=50, d=3)[0])
    with pytest.raises(ValueError, match="non-negative integer"):
        model.score_samples(X)


def test_bool_and_int_data_are_taken():
    X = binary_data(n=300, d=4)[0]
    a = fastem.BernoulliMixture(2, random_state=0).fit(X)
    b = fastem.BernoulliMixture(2, random_state=0).fit(X.astype(bool))
    c = fastem.PoissonMixture(2, random_state=0).fit(X.astype(np.int64))
    np.testing.assert_array_equal(a.probabilities_, b.probabilities_)
    assert np.isfinite(c.lower_bound_)


@pytest.mark.parametrize("kind", ["bernoulli", "poisson"])
def test_bad_initial_values_get_clear_errors(kind):
    cls, init, _, make, _ = MODELS[kind]
    X = make(n=100, d=3)[0]
    with pytest.raises(ValueError, match="should have the shape"):
        cls(2, **{init: np.full((2, 4), 0.5)}).fit(X)
    with pytest.raises(ValueError, match="open interval|positive"):
        cls(2, **{init: np.zeros((2, 3))}).fit(X)
    with pytest.raises(ValueError, match="alpha"):
        cls(2, alpha=0.0).fit(X)


# --------------------------------------------------------------------------
# Categorical features (latent class analysis).


def categorical_data(n=3000, categories=(2, 3, 4, 5), K=3, seed=0):
    rng = np.random.default_rng(seed)
    tables = [rng.dirichlet(np.full(c, 0.5), size=K) for c in categories]
    z = rng.integers(0, K, n)
    X = np.stack([(rng.uniform(size=(n, 1)) > np.cumsum(t[z], axis=1)).sum(axis=1)
                  for t in tables], axis=1)
    return X.astype(np.float64), tables, z


def random_tables(K, categories, seed=1):
    rng = np.random.default_rng(seed)
    return rng.dirichlet(np.ones(K)), [rng.dirichlet(np.ones(c), size=K) for c in categories]


def fitted_categorical(weights, tables, **kwargs):
    model = fastem.CategoricalMixture(len(weights), **kwargs)
    model.weights_ = np.asarray(weights, dtype=np.float64)
    model.probabilities_ = [np.asarray(t, dtype=np.float64) for t in tables]
    model.n_categories_ = np.array([t.shape[1] for t in tables])
    model.n_features_in_ = len(tables)
    model.converged_, model.n_iter_, model.lower_bound_, model.lower_bounds_ = True, 0, 0.0, []
    return model


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("weighted", [False, True])
def test_categorical_kernel_matches_numpy(dtype, weighted):
    categories = (2, 3, 7, 1, 4)
    X = categorical_data(n=1100, categories=categories, seed=21)[0]
    weights, tables = random_tables(4, categories, seed=22)
    model = fitted_categorical(weights, tables)
    family = model._family()
    params = family.from_estimator(model)
    n = X.shape[0]
    Xd = X.astype(dtype)
    sw = np.random.default_rng(23).uniform(0, 2, n) if weighted else None
    lpn, resp, labels = np.empty(n, dtype), np.empty((n, 4), dtype), np.empty(n, np.int64)
    stats = passes.run_pass(Xd, family, params, want_stats=True, out_lpn=lpn, out_resp=resp,
                            out_label=labels,
                            sample_weight=None if sw is None else sw.astype(dtype))
    wlp = naive.categorical_log_prob(X, weights, tables)
    ref_lpn, ref_resp = naive.log_prob_and_resp(wlp)
    w = np.ones(n) if sw is None else sw.astype(dtype).astype(np.float64)
    tol = 1e-10 if dtype == np.float64 else 1e-4
    np.testing.assert_allclose(lpn, ref_lpn, rtol=tol)
    np.testing.assert_allclose(resp, ref_resp, atol=10 * tol)
    np.testing.assert_array_equal(labels, np.argmax(wlp, axis=1))
    rw = ref_resp * w[:, None]
    counts = np.concatenate([np.stack([rw[X[:, j] == c].sum(axis=0) for c in range(cj)], 1)
                             for j, cj in enumerate(categories)], axis=1)
    np.testing.assert_allclose(stats.nk, rw.sum(axis=0), rtol=10 * tol)
    np.testing.assert_allclose(stats.moments, counts, rtol=10 * tol, atol=10 * tol)


def test_categorical_score_samples_is_scipy_stats_log_density():
    categories = (3, 2, 5)
    X = categorical_data(n=400, categories=categories, seed=24)[0]
    weights, tables = random_tables(3, categories, seed=25)
    model = fitted_categorical(weights, tables)
    per = np.zeros((X.shape[0], 3))
    for j, c in enumerate(categories):
        onehot = np.eye(c)[X[:, j].astype(int)]
        per += np.stack([sps.multinomial.logpmf(onehot, 1, tables[j][k]) for k in range(3)], 1)
    expected = logsumexp(per + np.log(weights), axis=1)
    np.testing.assert_allclose(model.score_samples(X), expected, rtol=1e-12)


@pytest.mark.parametrize("weighted", [False, True])
def test_categorical_em_matches_a_numpy_em(weighted):
    categories = (2, 3, 4, 6)
    X = categorical_data(n=2000, categories=categories, seed=26)[0]
    weights, tables = random_tables(3, categories, seed=27)
    sw = np.random.default_rng(28).uniform(0.1, 3, X.shape[0]) if weighted else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = fastem.CategoricalMixture(3, weights_init=weights, probabilities_init=tables,
                                          max_iter=10, tol=0.0, alpha=0.1,
                                          bound_check="raise").fit(X, sample_weight=sw)
    w_ref, t_ref, bounds = naive.discrete_em(X, weights, tables, 10, "categorical", 0.1, sw)
    np.testing.assert_allclose(model.weights_, w_ref, rtol=1e-10)
    for got, want in zip(model.probabilities_, t_ref):
        np.testing.assert_allclose(got, want, rtol=1e-10)
    np.testing.assert_allclose(model.lower_bounds_, bounds, rtol=1e-10)
    assert np.all(model.kl_divergences_ >= -1e-12)


def test_categorical_matches_stepmix_from_the_same_start():
    """StepMix's latent class model ('categorical' measurement) run from our
    initial parameters reaches the same maximum-likelihood fit."""
    stepmix = pytest.importorskip("stepmix")
    categories = (3, 3, 4, 2)
    X = categorical_data(n=3000, categories=categories, seed=29)[0]
    ours = fastem.CategoricalMixture(3, alpha=1e-10, tol=1e-10, max_iter=2000, n_init=4,
                                     random_state=0).fit(X)
    theirs = stepmix.StepMix(n_components=3, measurement="categorical", n_init=4,
                             max_iter=2000, abs_tol=1e-10, rel_tol=1e-12, random_state=0,
                             verbose=0, progress_bar=0).fit(X.astype(int))
    # The same optimum: the same mean log-likelihood, the same classes.
    assert ours.score(X) == pytest.approx(theirs.score(X.astype(int)), abs=1e-6)
    ours_labels, their_labels = ours.predict(X), theirs.predict(X.astype(int))
    table = np.zeros((3, 3), int)
    np.add.at(table, (ours_labels, their_labels), 1)
    assert table.max(axis=1).sum() >= 0.99 * X.shape[0]


def test_categorical_fits_select_save_and_sample(tmp_path):
    categories = (2, 3, 4, 5, 3, 2)
    X, _, _ = categorical_data(n=4000, categories=categories, seed=30)
    best, table = fastem.select(X, n_components=[1, 2, 3], model="CategoricalMixture",
                                as_frame=False)
    assert isinstance(best, fastem.CategoricalMixture)
    assert list(best.n_categories_) == list(categories)
    path = tmp_path / "m.npz"
    best.save(path)
    loaded = fastem.load(path)
    assert isinstance(loaded.probabilities_, list)
    np.testing.assert_array_equal(loaded.score_samples(X), best.score_samples(X))
    S, y = best.sample(500)
    assert S.shape == (500, 6) and np.all(S < np.array(categories))
    assert best._n_parameters() == best.n_components * sum(c - 1 for c in categories) + (
        best.n_components - 1)


def test_categorical_sources_and_dask_agree(tmp_path):
    da = pytest.importorskip("dask.array")
    X = categorical_data(n=3000, categories=(3, 4, 2), seed=31)[0]
    a = fastem.CategoricalMixture(2, random_state=0).fit(X)
    np.save(tmp_path / "x.npy", X)
    b = fastem.CategoricalMixture(2, random_state=0).fit(np.load(tmp_path / "x.npy",
                                                                 mmap_mode="r"))
    for ta, tb in zip(a.probabilities_, b.probabilities_):
        np.testing.assert_array_equal(ta, tb)
    c = fastem.CategoricalMixture(2, init_params="random_from_data", random_state=0)
    d_ = fastem.CategoricalMixture(2, init_params="random_from_data", random_state=0)
    c.fit(X)
    d_.fit(da.from_array(X, chunks=700))
    for ta, tb in zip(c.probabilities_, d_.probabilities_):
        np.testing.assert_allclose(ta, tb, rtol=1e-9)


def test_categorical_bad_codes_and_unknown_categories():
    X = categorical_data(n=200, categories=(3, 3), seed=32)[0]
    model = fastem.CategoricalMixture(2, random_state=0).fit(X)
    bad = X.copy()
    bad[3, 1] = 1.5
    with pytest.raises(ValueError, match="integer category codes"):
        fastem.CategoricalMixture(2).fit(bad)
    bad[3, 1] = -1
    with pytest.raises(ValueError, match="Negative values"):
        model.predict(bad)
    unseen = X.copy()
    unseen[5, 0] = 3
    with pytest.raises(IndexError, match="never saw"):
        model.predict(unseen)
    with pytest.raises(fastem.UnknownCategoryError):
        model.score_samples(unseen)
    roomy = fastem.CategoricalMixture(2, min_categories=[5, 3], random_state=0).fit(X)
    assert list(roomy.n_categories_) == [5, 3]
    assert np.isfinite(roomy.score_samples(unseen)).all()
    with pytest.raises(ValueError, match="integral type"):
        fastem.CategoricalMixture(2, min_categories=np.array([1.5, 2])).fit(X)


# --------------------------------------------------------------------------
# Parity with independent implementations (where installed).


@pytest.mark.parametrize("kind", ["bernoulli", "poisson", "categorical"])
def test_matches_pomegranate_from_the_same_start(kind):
    """pomegranate's GeneralMixtureModel, started from our initial
    parameters, after the same number of EM iterations (no smoothing:
    alpha tiny)."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("pomegranate")
    from pomegranate import distributions as dists
    from pomegranate.gmm import GeneralMixtureModel

    from fastem.tools.reference import ESTIMATORS, family_data, family_start

    X = family_data(kind, 4000, 5, 3, seed=33)
    start = family_start(kind, X, 3)
    model = getattr(fastem, ESTIMATORS[kind])(3, max_iter=8, tol=0.0, alpha=1e-12, **start)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X)
    weights = torch.tensor(start["weights_init"], dtype=torch.float64)
    if kind == "bernoulli":
        comps = [dists.Bernoulli(probs=torch.tensor(p)) for p in start["probabilities_init"]]
    elif kind == "poisson":
        comps = [dists.Poisson(lambdas=torch.tensor(r)) for r in start["rates_init"]]
    else:
        tables = start["probabilities_init"]
        comps = [dists.Categorical(probs=torch.tensor(np.stack([t[k] for t in tables])))
                 for k in range(3)]
    theirs = GeneralMixtureModel(comps, priors=weights, max_iter=8, tol=0.0)
    theirs.fit(X.astype(np.int64) if kind == "categorical" else X)
    np.testing.assert_allclose(model.weights_, theirs.priors.numpy(), rtol=1e-6)
    if kind == "bernoulli":
        got = np.stack([d.probs.numpy() for d in theirs.distributions])
        np.testing.assert_allclose(model.probabilities_, got, rtol=1e-6, atol=1e-9)
    elif kind == "poisson":
        got = np.stack([d.lambdas.numpy() for d in theirs.distributions])
        np.testing.assert_allclose(model.rates_, got, rtol=1e-6)
    else:
        for j, table in enumerate(model.probabilities_):
            got = np.stack([d.probs.numpy()[j, :table.shape[1]] for d in theirs.distributions])
            np.testing.assert_allclose(table, got, rtol=1e-6, atol=1e-9)


def test_bernoulli_matches_stepmix():
    """StepMix's latent class model on binary items reaches the same maximum
    likelihood fit."""
    stepmix = pytest.importorskip("stepmix")
    X = binary_data(n=4000, d=8, K=3, seed=34)[0]
    ours = fastem.BernoulliMixture(3, alpha=1e-10, tol=1e-10, max_iter=2000, n_init=4,
                                   random_state=0).fit(X)
    theirs = stepmix.StepMix(n_components=3, measurement="binary", n_init=4, max_iter=2000,
                             abs_tol=1e-10, rel_tol=1e-12, random_state=0, verbose=0,
                             progress_bar=0).fit(X)
    assert ours.score(X) == pytest.approx(theirs.score(X), abs=1e-6)
    table = np.zeros((3, 3), int)
    np.add.at(table, (ours.predict(X), theirs.predict(X)), 1)
    assert table.max(axis=1).sum() >= 0.99 * X.shape[0]


def test_warm_start_and_reseed():
    X = categorical_data(n=2000, categories=(3, 4, 2), seed=35)[0]
    model = fastem.CategoricalMixture(2, warm_start=True, max_iter=3, tol=0, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X)
        first = model.lower_bound_
        model.fit(X[X[:, 0] < 2])  # fewer categories seen: the model keeps its own
        assert list(model.n_categories_) == [3, 4, 2]
        model.fit(X)
    assert model.lower_bound_ >= first - 1e-12
    wider = X.copy()
    wider[0, 1] = 6
    with pytest.raises(fastem.UnknownCategoryError, match="warm_start"):
        model.fit(wider)
    # A component given weight 0 gets no responsibility: re-seeded, not left empty.
    B = binary_data(n=600, d=4, K=3, seed=36)[0]
    with pytest.warns(fastem.ReseedWarning):
        m = fastem.BernoulliMixture(3, reseed=True, weights_init=[0.5, 0.5, 0.0],
                                    random_state=0, max_iter=30).fit(B)
    assert np.all(np.isfinite(m.probabilities_)) and np.all(m.weights_ > 0.01)
