"""Incremental (Neal-Hinton) and online (stepwise) EM, and partial_fit."""

import warnings

import numpy as np
import pytest
from scipy.special import logsumexp
from sklearn.utils._param_validation import InvalidParameterError

import fastem
from conftest import make_blobs
from fastem.engine import incremental
from fastem.engine.passes import run_pass

FAMILIES = {
    "gaussian-full": (fastem.GaussianMixture, dict(covariance_type="full")),
    "gaussian-diag": (fastem.GaussianMixture, dict(covariance_type="diag")),
    "gaussian-spherical": (fastem.GaussianMixture, dict(covariance_type="spherical")),
    "gaussian-tied": (fastem.GaussianMixture, dict(covariance_type="tied")),
    "bayesian-tied": (fastem.BayesianGaussianMixture, dict(covariance_type="tied")),
    "bayesian": (fastem.BayesianGaussianMixture, dict(covariance_type="full")),
    "bayesian-diag": (fastem.BayesianGaussianMixture, dict(covariance_type="diag")),
    "student-t": (fastem.StudentTMixture, dict(covariance_type="full")),
    "student-t-tied": (fastem.StudentTMixture, dict(covariance_type="tied")),
    "student-t-diag": (fastem.StudentTMixture, dict(covariance_type="diag")),
    "bernoulli": (fastem.BernoulliMixture, {}),
    "poisson": (fastem.PoissonMixture, {}),
    "categorical": (fastem.CategoricalMixture, {}),
}


def family_data(name, n=3000, seed=0):
    X = make_blobs(n_samples=n, n_features=3, n_components=3, seed=seed, spread=4.0)
    if name == "bernoulli":
        return (X > np.median(X, axis=0)).astype(np.float64)
    if name == "poisson":
        return np.floor(np.abs(X))
    if name == "categorical":
        return np.clip(np.floor(X - X.min(axis=0)), 0, 9)
    return X


def make(name, **params):
    cls, options = FAMILIES[name]
    if name == "categorical":  # a batch need not hold every code
        options = dict(options, min_categories=10)
    return cls(n_components=3, random_state=0, **options, **params)


def quiet_fit(model, X, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fastem.ConvergenceWarning if hasattr(
            fastem, "ConvergenceWarning") else UserWarning)
        warnings.simplefilter("ignore", UserWarning)
        return model.fit(X, **kw)


def fitted(model):
    return {k: v for k, v in vars(model).items() if k.endswith("_") and not k.startswith("_")}


def assert_same_bits(a, b, skip=()):
    fa, fb = fitted(a), fitted(b)
    assert fa.keys() == fb.keys()
    for key in fa:
        if key in skip:
            continue
        va, vb = fa[key], fb[key]
        if isinstance(va, list) and va and isinstance(va[0], np.ndarray):
            for x, y in zip(va, vb):
                np.testing.assert_array_equal(x, y, err_msg=key)
        else:
            np.testing.assert_array_equal(np.asarray(va), np.asarray(vb), err_msg=key)


# --------------------------------------------------------------------------
# Incremental EM: the bound.


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_incremental_bound_never_decreases_over_blocks(name):
    X = family_data(name)
    model = quiet_fit(make(name, learning_method="incremental", batch_size=400,
                           bound_check="raise", max_iter=8, tol=0.0), X)
    bounds = np.asarray(model.lower_bounds_)
    assert len(bounds) == model.n_iter_ == 8
    scale = 1e-9 * max(1.0, np.abs(bounds).max())
    assert np.all(np.diff(bounds) >= -scale)
    if hasattr(model, "m_step_bounds_"):  # exact EM: every step's F, every E-step's rise
        steps = model.m_step_bounds_
        assert len(steps) == 1 + 8 * (len(X) // 400 + 1) - (len(X) // 400 + 1)
        assert np.all(np.diff(steps) >= -scale)
        assert np.all(model.kl_divergences_ >= -scale)
        np.testing.assert_allclose(steps[-1], model.lower_bound_)


def _numpy_incremental(X, blocks, weights, means, covariances, reg_covar, n_pass):
    """Neal and Hinton's incremental EM for full Gaussians, in NumPy: each
    block's posterior kept, the M-step on all of them after every block,
    F(q, theta) = sum q (log w + log N) - sum q log q recomputed from the
    rows after every step once every block has a posterior."""
    n, d = X.shape
    eps = 10 * np.finfo(np.float64).eps

    def log_joint(rows, w, mu, cov):
        out = np.empty((rows.shape[0], len(w)))
        for k in range(len(w)):
            chol = np.linalg.cholesky(cov[k])
            y = np.linalg.solve(chol, (rows - mu[k]).T)
            out[:, k] = (np.log(w[k]) - 0.5 * d * np.log(2 * np.pi)
                         - np.log(np.diag(chol)).sum() - 0.5 * (y**2).sum(axis=0))
        return out

    q = [None] * len(blocks)
    bounds = []
    w, mu, cov = weights, means, covariances
    for _ in range(n_pass):
        for b, (lo, hi) in enumerate(blocks):
            lj = log_joint(X[lo:hi], w, mu, cov)
            q[b] = np.exp(lj - logsumexp(lj, axis=1, keepdims=True))
            seen = [i for i in range(len(blocks)) if q[i] is not None]
            rows = np.concatenate([X[blocks[i][0]:blocks[i][1]] for i in seen])
            Q = np.concatenate([q[i] for i in seen])
            nk = Q.sum(axis=0) + eps
            mu = Q.T @ rows / nk[:, None]
            cov = np.stack([((Q[:, k] * (rows - mu[k]).T) @ (rows - mu[k])) / nk[k]
                            + reg_covar * np.eye(d) for k in range(len(nk))])
            w = nk / nk.sum()
            if len(seen) == len(blocks):
                entropy = -np.sum(Q * np.log(np.where(Q > 0, Q, 1.0)))
                bounds.append((np.sum(Q * log_joint(rows, w, mu, cov)) + entropy) / n)
    return np.array(bounds), (w, mu, cov)


def test_incremental_bound_is_f_recomputed_in_numpy(monkeypatch):
    # (the reference's first pass: an M-step after each block on those seen)
    monkeypatch.setattr(incremental, "FIRST_PASS", "incremental")
    X = make_blobs(n_samples=1000, n_features=2, n_components=3, seed=3, spread=2.0)
    rng = np.random.default_rng(1)
    means = X[rng.choice(len(X), 3, replace=False)]
    weights = np.full(3, 1 / 3)
    covariances = np.stack([np.eye(2)] * 3)
    model = fastem.GaussianMixture(3, learning_method="incremental", batch_size=300,
                                   max_iter=4, tol=0.0, weights_init=weights,
                                   means_init=means, precisions_init=covariances,
                                   bound_check="raise").fit(X)
    blocks = [(lo, min(lo + 300, len(X))) for lo in range(0, len(X), 300)]
    bounds, (w, mu, cov) = _numpy_incremental(X, blocks, weights, means, covariances,
                                              model.reg_covar, 4)
    np.testing.assert_allclose(model.m_step_bounds_, bounds, rtol=1e-10)
    np.testing.assert_allclose(model.means_, mu, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(model.covariances_, cov, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(model.weights_, w, rtol=1e-10)


@pytest.mark.parametrize("cls", [fastem.GaussianMixture, fastem.StudentTMixture])
@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_incremental_and_batch_reach_the_same_optimum(cls, covariance_type):
    X = make_blobs(n_samples=4000, n_features=3, n_components=3, seed=5, spread=8.0)
    # (the t's degrees of freedom creep for thousands of iterations: fixed here)
    extra = {"fit_degrees_of_freedom": False} if cls is fastem.StudentTMixture else {}
    batch = cls(3, covariance_type=covariance_type, tol=1e-10, max_iter=500,
                random_state=0, **extra).fit(X)
    inc = cls(3, covariance_type=covariance_type, tol=1e-10, max_iter=500, random_state=0,
              learning_method="incremental", batch_size=500, **extra).fit(X)
    assert inc.converged_ and batch.converged_
    order = np.argsort(batch.means_[:, 0])
    inc_order = np.argsort(inc.means_[:, 0])
    np.testing.assert_allclose(inc.means_[inc_order], batch.means_[order], atol=1e-5)
    np.testing.assert_allclose(inc.weights_[inc_order], batch.weights_[order], atol=1e-6)
    assert abs(inc.score(X) - batch.score(X)) < 1e-7
    # F after the last step: the bound of the same optimum.
    assert abs(inc.lower_bound_ - batch.score(X)) < 1e-7


def test_incremental_first_pass_modes_reach_the_same_optimum(monkeypatch):
    X = make_blobs(n_samples=3000, n_features=2, n_components=3, seed=2, spread=3.0)
    start = fastem.GaussianMixture(3, max_iter=0, random_state=0).fit(X)
    init = dict(weights_init=start.weights_, means_init=start.means_,
                precisions_init=start.precisions_)
    batch = fastem.GaussianMixture(3, max_iter=1, tol=0.0, **init).fit(X)
    scores = []
    for mode in ("batch", "incremental", "online"):
        monkeypatch.setattr(incremental, "FIRST_PASS", mode)
        m = fastem.GaussianMixture(3, learning_method="incremental", batch_size=250, tol=1e-8,
                                   max_iter=300, bound_check="raise", **init).fit(X)
        assert m.converged_
        scores.append(m.score(X))
        if mode == "batch":  # a batch first pass: batch EM's first iteration, to rounding
            np.testing.assert_allclose(m.m_step_bounds_[0], batch.m_step_bounds_[0],
                                       rtol=1e-12)
    assert max(scores) - min(scores) < 1e-6


# --------------------------------------------------------------------------
# Statistics in a common frame.


def test_rebased_statistics_equal_statistics_taken_about_the_new_centre():
    X = make_blobs(n_samples=2000, n_features=3, n_components=2, seed=4)
    for covariance_type in ("full", "diag"):
        model = fastem.GaussianMixture(2, covariance_type=covariance_type, max_iter=2,
                                       random_state=0).fit(X)
        family = model._family()
        family.setup(3, X.dtype)
        params = family.from_estimator(model)
        moved = params._replace(means=params.means + 0.3)
        a = run_pass(X, family, params, want_stats=True)
        b = run_pass(X, family, moved, want_stats=True)
        # b's posterior differs: rebase a onto b's centres and compare the sums
        # of the same posterior (a's) taken about b's centres directly.
        rebased = family.rebase(a, b.moments)
        direct_x = (a.moments.sum_x + a.nk[:, None] * (params.means - moved.means))
        np.testing.assert_allclose(rebased.sum_x, direct_x, rtol=1e-12, atol=1e-9)
        back = family.rebase(a._replace(moments=rebased), a.moments)
        np.testing.assert_allclose(back.sum_x, a.moments.sum_x, atol=1e-8)
        if covariance_type == "full":
            from fastem.families.gaussian import _symmetrize

            np.testing.assert_allclose(_symmetrize(back.second), _symmetrize(a.moments.second),
                                       rtol=1e-10, atol=1e-7)
        else:
            np.testing.assert_allclose(back.second, a.moments.second, rtol=1e-10, atol=1e-7)


def test_combined_block_statistics_equal_one_pass():
    X = make_blobs(n_samples=3000, n_features=3, n_components=2, seed=6)
    for name in ("student-t", "gaussian-full", "poisson"):
        Xf = family_data(name, 3000, seed=6)
        model = quiet_fit(make(name, max_iter=2), Xf)
        family = model._family()
        family.whole_passes = False
        family.setup(3, Xf.dtype)
        family.prepare(Xf, None)
        params = family.from_estimator(model)
        whole = run_pass(Xf, family, params, want_stats=True)
        parts = [s for *_, s in incremental.block_stats(Xf, family, None, 700,
                                                         lambda i: params)]
        total = incremental.combine(family, parts)
        assert total.n_samples == whole.n_samples
        np.testing.assert_allclose(total.sum_lpn, whole.sum_lpn, rtol=1e-12)
        np.testing.assert_allclose(total.nk, whole.nk, rtol=1e-12)
        pairs = (zip(total.moments, whole.moments) if hasattr(whole.moments, "_fields")
                 else [(total.moments, whole.moments)])
        for x, y in pairs:
            if x.ndim == 3:  # full second moments: the upper triangles are the sums
                x, y = np.triu(x), np.triu(y)
            np.testing.assert_allclose(x, y, rtol=1e-10, atol=1e-8)
        # and the entropies add up: F of the same q and theta
        f_parts = sum(family.entropy(s, params) for s in parts)
        np.testing.assert_allclose(f_parts, family.entropy(whole, params), rtol=1e-10)
    del X


# --------------------------------------------------------------------------
# Online EM and partial_fit.


@pytest.mark.parametrize("name", ["gaussian-full", "gaussian-diag", "gaussian-tied",
                                  "student-t", "bayesian", "bayesian-tied", "bernoulli",
                                  "poisson", "categorical"])
def test_partial_fit_over_batches_equals_online_fit_bitwise(name):
    X = family_data(name, 2400, seed=7)
    b = 300
    online = quiet_fit(make(name, learning_method="online", batch_size=b, max_iter=1, tol=0.0),
                       X)
    model = make(name, batch_size=b, total_samples=len(X))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        for lo in range(0, len(X), b):
            model.partial_fit(X[lo:lo + b])
    assert model.n_batches_seen_ == online.n_batches_seen_ == len(X) // b
    assert model.n_iter_ == len(X) // b
    assert_same_bits(model, online, skip=("n_iter_", "lower_bound_", "lower_bounds_",
                                          "converged_"))
    # one call over all the rows: the same batches, the same model
    whole = make(name, batch_size=b, total_samples=len(X))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        whole.partial_fit(X)
    assert_same_bits(whole, online, skip=("converged_",))


def test_online_fit_reaches_the_batch_optimum_on_well_separated_data():
    X = make_blobs(n_samples=20000, n_features=3, n_components=3, seed=8, spread=8.0)
    rng = np.random.default_rng(0)
    X = X[rng.permutation(len(X))]
    batch = fastem.GaussianMixture(3, random_state=0, tol=1e-8).fit(X)
    online = fastem.GaussianMixture(3, random_state=0, learning_method="online",
                                    batch_size=1000, max_iter=3, tol=0.0).fit(X)
    assert online.n_iter_ == 3
    assert len(online.lower_bounds_) == 3
    assert batch.score(X) - online.score(X) < 1e-2
    assert batch.score(X) - online.score(X) > -1e-9  # batch's is the optimum


def test_partial_fit_checks_later_batches_as_scikit_learn():
    X = make_blobs(n_samples=600, n_features=2, n_components=2, seed=9)
    model = fastem.GaussianMixture(2, random_state=0, batch_size=200)
    model.partial_fit(X)
    before = {k: np.copy(v) if isinstance(v, np.ndarray) else v
              for k, v in fitted(model).items()}
    with pytest.raises(ValueError, match="X has 3 features, but GaussianMixture is "
                                         "expecting 2 features as input"):
        model.partial_fit(np.ones((10, 3)))
    bad = X[:50].copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        model.partial_fit(bad)
    with pytest.raises(ValueError, match="could not convert|numeric"):
        model.partial_fit(np.array([["a", "b"]] * 5))
    for key, value in before.items():
        np.testing.assert_array_equal(np.asarray(getattr(model, key)), np.asarray(value))
    model.partial_fit(X[:200])
    assert model.n_iter_ == 2


def test_partial_fit_first_batch_too_small():
    with pytest.raises(ValueError, match="Expected n_samples >= n_components"):
        fastem.GaussianMixture(5).partial_fit(np.random.default_rng(0).normal(size=(3, 2)))


def test_partial_fit_after_fit_goes_on_from_the_fitted_model():
    X = make_blobs(n_samples=2000, n_features=2, n_components=2, seed=10, spread=6.0)
    model = fastem.GaussianMixture(2, random_state=0).fit(X)
    means = model.means_.copy()
    model.partial_fit(X[:500])
    assert model.n_batches_seen_ == 1
    # the first step takes the batch's statistics whole: near the fitted model
    np.testing.assert_allclose(np.sort(model.means_[:, 0]), np.sort(means[:, 0]), atol=0.5)


class Interrupting:
    """A chunk source (re-iterable) that raises on the pass ``fail_on``."""

    def __init__(self, X, step, fail_on, error=KeyboardInterrupt):
        self.X, self.step, self.fail_on, self.error, self.calls = X, step, fail_on, error, 0

    def __iter__(self):
        self.calls += 1
        for lo in range(0, len(self.X), self.step):
            if self.calls == self.fail_on and lo > 0:
                raise self.error("stop")
            yield self.X[lo:lo + self.step]


def test_partial_fit_and_incremental_fit_are_interrupt_safe():
    X = make_blobs(n_samples=1200, n_features=2, n_components=2, seed=11)
    model = fastem.GaussianMixture(2, random_state=0, batch_size=200)
    model.partial_fit(X[:600])
    state = model._online
    before = {k: np.copy(v) if isinstance(v, np.ndarray) else v
              for k, v in fitted(model).items()}
    running, t = state.running, state.t
    with pytest.raises(KeyboardInterrupt):
        model.partial_fit(Interrupting(X[600:], 100, fail_on=2))  # pass 1 is the check
    assert model._online is state and state.running is running and state.t == t
    for key, value in before.items():
        np.testing.assert_array_equal(np.asarray(getattr(model, key)), np.asarray(value))

    inc = fastem.GaussianMixture(2, random_state=0, learning_method="incremental",
                                 batch_size=300).fit(X)
    before = {k: np.copy(v) if isinstance(v, np.ndarray) else v for k, v in fitted(inc).items()}
    with pytest.raises(KeyboardInterrupt):
        inc.fit(Interrupting(X, 100, fail_on=3))
    for key, value in before.items():
        np.testing.assert_array_equal(np.asarray(getattr(inc, key)), np.asarray(value))


# --------------------------------------------------------------------------
# Sources, threads, options, errors.


@pytest.mark.parametrize("method", ["incremental", "online"])
def test_memmap_and_chunk_source_equal_in_memory_bitwise(tmp_path, method):
    X = make_blobs(n_samples=5000, n_features=3, n_components=3, seed=12)
    path = tmp_path / "X.npy"
    np.save(path, X)
    params = dict(learning_method=method, batch_size=700, max_iter=4, tol=0.0,
                  random_state=0, init_params="random_from_data")

    def fit(data):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fastem.GaussianMixture(3, **params).fit(data)

    ref = fit(X)
    assert_same_bits(fit(np.load(path, mmap_mode="r")), ref)
    assert_same_bits(fit(Interrupting(X, 333, fail_on=0)), ref)


@pytest.mark.parametrize("method", ["incremental", "online"])
def test_dask_blocks_are_the_blocks(method, monkeypatch):
    da = pytest.importorskip("dask.array")
    # a dask block is not cut into the first pass's smaller batches
    monkeypatch.setattr(incremental, "FIRST_PASS_SPLIT", 1)
    X = make_blobs(n_samples=4000, n_features=3, n_components=3, seed=13)
    params = dict(learning_method=method, batch_size=1000, max_iter=3, tol=0.0,
                  random_state=0, init_params="random_from_data")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = fastem.GaussianMixture(3, **params).fit(X)
        got = fastem.GaussianMixture(3, **params).fit(da.from_array(X, chunks=(1000, 3)))
    np.testing.assert_allclose(got.means_, ref.means_, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(got.lower_bounds_, ref.lower_bounds_, rtol=1e-9)


def test_sample_weights_are_repeated_rows_in_incremental_em():
    X = make_blobs(n_samples=400, n_features=2, n_components=2, seed=14)
    w = np.random.default_rng(0).integers(1, 3, size=len(X))
    repeated = np.repeat(X, w, axis=0)
    start = fastem.GaussianMixture(2, max_iter=0, random_state=0).fit(X)
    init = dict(weights_init=start.weights_, means_init=start.means_,
                precisions_init=start.precisions_)
    a = fastem.GaussianMixture(2, learning_method="incremental", batch_size=len(X), max_iter=5,
                               tol=0.0, **init).fit(X, sample_weight=w)
    b = fastem.GaussianMixture(2, learning_method="incremental", batch_size=len(repeated),
                               max_iter=5, tol=0.0, **init).fit(repeated)
    np.testing.assert_allclose(a.means_, b.means_, rtol=1e-10)
    np.testing.assert_allclose(a.lower_bounds_, b.lower_bounds_, rtol=1e-10)


def test_kept_statistics_are_bounded(monkeypatch):
    X = make_blobs(n_samples=2000, n_features=2, n_components=2, seed=15)
    monkeypatch.setattr(incremental, "KEPT_BYTES", 4 * 1024)
    with pytest.warns(incremental.BlocksShrunkWarning, match="more than the 0 MiB|allowed"):
        m = fastem.GaussianMixture(2, learning_method="incremental", batch_size=10,
                                   random_state=0).fit(X)
    assert m._block_rows > 10


def test_verbose_prints_every_block_and_pass(capsys):
    X = make_blobs(n_samples=1000, n_features=2, n_components=2, seed=16)
    fastem.GaussianMixture(2, learning_method="incremental", batch_size=250, max_iter=2,
                           tol=0.0, verbose=2, verbose_interval=1, random_state=0).fit(X)
    out = capsys.readouterr().out
    assert "block 4/4 (rows 750-1000)" in out
    assert "Iteration 2" in out and "lower bound" in out


def test_parameter_errors_read_as_scikit_learn():
    X = make_blobs(n_samples=200, n_features=2, n_components=2, seed=17)
    with pytest.raises(InvalidParameterError, match="learning_method"):
        fastem.GaussianMixture(2, learning_method="stochastic").fit(X)
    with pytest.raises(InvalidParameterError, match="batch_size"):
        fastem.GaussianMixture(2, batch_size=0).fit(X)
    with pytest.raises(InvalidParameterError, match="learning_decay"):
        fastem.GaussianMixture(2, learning_decay=1.5).fit(X)
    with pytest.raises(ValueError, match="reseed=True works with learning_method='batch'"):
        fastem.GaussianMixture(2, reseed=True, learning_method="incremental").fit(X)


def test_select_fits_incremental_candidates():
    X = make_blobs(n_samples=1500, n_features=2, n_components=3, seed=18, spread=6.0)
    best, table = fastem.select(X, n_components=[2, 3], covariance_types=["full", "diag"],
                                learning_method="incremental", batch_size=300, as_frame=False)
    assert best.n_components == 3
    assert all(r["error"] is None for r in table)


def test_convergence_benchmark_runs_on_a_small_file(tmp_path, capsys):
    import importlib.util
    from pathlib import Path

    script = Path(__file__).resolve().parent.parent / "benchmarks" / "convergence.py"
    spec = importlib.util.spec_from_file_location("convergence_bench", script)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    out = tmp_path / "r.json"
    bench.main(["--rows", "60000", "--path", str(tmp_path / "x.npy"), "--tol", "1e-5",
                "--online-batch", "5000", "--batch-size", "6000", "--json", str(out)])
    import json

    result = json.loads(out.read_text())
    methods = [r["method"] for r in result["rows"]]
    assert methods[0] == "batch" and methods[-1].startswith("online")
    assert all(np.isfinite(r["final"]) for r in result["rows"])
    assert "to within 0.0001 of batch's final log-likelihood" in capsys.readouterr().out


def test_partial_fit_keeps_the_first_batch_dtype():
    X = make_blobs(n_samples=1200, n_features=2, n_components=2, seed=19)
    model = fastem.GaussianMixture(2, random_state=0, batch_size=400)
    model.partial_fit(X[:600].astype(np.float32))
    assert model.means_.dtype == np.float32
    model.partial_fit(X[600:])  # float64 rows: computed in float64, the model stays float32
    assert model.means_.dtype == np.float32 and model.n_batches_seen_ == 4  # 400 + 200, twice
    assert np.isfinite(model.score(X))


def test_partial_fit_reads_a_stream_once_block_by_block():
    X = make_blobs(n_samples=3000, n_features=2, n_components=2, seed=20)
    by_call = fastem.GaussianMixture(2, random_state=0, batch_size=500, total_samples=3000)
    for lo in range(0, 3000, 500):
        by_call.partial_fit(X[lo:lo + 500])
    streamed = fastem.GaussianMixture(2, random_state=0, batch_size=500, total_samples=3000)
    streamed.partial_fit(X[lo:lo + 500] for lo in range(0, 3000, 500))
    assert_same_bits(streamed, by_call)

    def interrupted():
        for lo in range(0, 3000, 500):
            if lo == 1500:
                raise KeyboardInterrupt
            yield X[lo:lo + 500]

    partial = fastem.GaussianMixture(2, random_state=0, batch_size=500, total_samples=3000)
    with pytest.raises(KeyboardInterrupt):
        partial.partial_fit(interrupted())
    assert partial.n_batches_seen_ == 3  # the blocks taken in before the interrupt stay
    with pytest.raises(ValueError, match="no sample_weight with an iterator"):
        partial.partial_fit(iter([X[:10]]), sample_weight=np.ones(10))
