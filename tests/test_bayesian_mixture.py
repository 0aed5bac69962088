"""fastem.BayesianGaussianMixture against scikit-learn's, and through every
place of the engine: out of core, sample weights, select, persistence,
re-seeding, the bound check."""

import pickle
import warnings

import numpy as np
import pytest
from sklearn.mixture import BayesianGaussianMixture as SkBayesianGaussianMixture

import fastem
from conftest import COVARIANCE_TYPES, make_blobs
from fastem.families import bayesian_gaussian

PRIOR_TYPES = ("dirichlet_process", "dirichlet_distribution")
X = make_blobs(n_samples=800, n_features=3, n_components=3, seed=3)


def _quiet(fit, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fit(*args, **kwargs)


def _both(X, **kwargs):
    kwargs = dict(dict(n_components=4, random_state=0), **kwargs)
    ours = _quiet(fastem.BayesianGaussianMixture(**kwargs).fit, X)
    theirs = _quiet(SkBayesianGaussianMixture(**kwargs).fit, X)
    return ours, theirs


ATTRIBUTES = ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_",
              "mean_precision_", "degrees_of_freedom_", "mean_prior_", "covariance_prior_")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("prior_type", PRIOR_TYPES)
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("init_params", ["kmeans", "k-means++", "random", "random_from_data"])
def test_parity_with_scikit_learn(covariance_type, prior_type, dtype, init_params):
    """float64: the same bound at every iteration to 1e-10.  float32: the
    same converged bound to 1e-5 -- scikit-learn's first parameters are
    computed in float32 (its responsibilities and sums), fastem's sums are
    float64, and a slow start from 'random' amplifies that first 1e-7
    difference along the way, not at the optimum."""
    Xd = X.astype(dtype)
    single = dtype == np.float32
    ours, theirs = _both(Xd, covariance_type=covariance_type, init_params=init_params,
                         weight_concentration_prior_type=prior_type,
                         max_iter=1000 if single else 40)
    rtol = 1e-5 if single else 1e-10
    expected = float(np.squeeze(theirs.lower_bound_))
    assert abs(ours.lower_bound_ - expected) <= rtol * abs(expected)
    if not single:
        np.testing.assert_allclose(ours.lower_bounds_, np.ravel(theirs.lower_bounds_),
                                   rtol=rtol)
        assert ours.n_iter_ == theirs.n_iter_
    assert ours.converged_ == theirs.converged_
    np.testing.assert_array_equal(ours.predict(Xd), theirs.predict(Xd))
    # float32: each run stops within tol of the optimum, not at the same point.
    close = dict(rtol=1e-8, atol=1e-10) if dtype == np.float64 else dict(rtol=1e-2, atol=5e-3)
    for name in ATTRIBUTES:
        a, b = getattr(ours, name), getattr(theirs, name)
        assert np.asarray(a).dtype == np.asarray(b).dtype and np.shape(a) == np.shape(b), name
        np.testing.assert_allclose(a, b, **close, err_msg=name)
    for a, b in zip(np.atleast_2d(ours.weight_concentration_),
                    np.atleast_2d(theirs.weight_concentration_)):
        np.testing.assert_allclose(a, b, **close)
    for method in ("score_samples", "predict_proba"):
        a, b = getattr(ours, method)(Xd), getattr(theirs, method)(Xd)
        assert a.dtype == b.dtype
        np.testing.assert_allclose(a, b, rtol=1e-2 if single else 1e-8,
                                   atol=5e-3 if single else 1e-10)
    assert ours.score(Xd) == pytest.approx(theirs.score(Xd), rel=1e-9 if dtype == np.float64
                                           else 1e-5)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_given_priors_as_scikit_learn(covariance_type):
    d = X.shape[1]
    prior = {"full": np.eye(d) * 2.0, "tied": np.eye(d) * 2.0, "diag": np.full(d, 2.0),
             "spherical": 2.0}[covariance_type]
    kwargs = dict(covariance_type=covariance_type, weight_concentration_prior=0.01,
                  mean_precision_prior=0.5, mean_prior=np.ones(d),
                  degrees_of_freedom_prior=d + 1.5, covariance_prior=prior, max_iter=20)
    ours, theirs = _both(X, **kwargs)
    np.testing.assert_allclose(ours.lower_bounds_, np.ravel(theirs.lower_bounds_), rtol=1e-10)
    for name in ("weight_concentration_prior_", "mean_precision_prior_",
                 "degrees_of_freedom_prior_"):
        assert getattr(ours, name) == getattr(theirs, name)
    np.testing.assert_array_equal(ours.covariance_prior_, theirs.covariance_prior_)


@pytest.mark.parametrize("kwargs", [
    dict(degrees_of_freedom_prior=1.5),
    dict(mean_prior=[0.0, 1.0]),
    dict(covariance_prior=np.eye(2)),
    dict(covariance_prior=-np.eye(3)),
    dict(covariance_type="diag", covariance_prior=[1.0, -1.0, 1.0]),
    dict(covariance_type="diag", covariance_prior=[1.0, 1.0]),
    dict(weight_concentration_prior_type="stick"),
    dict(weight_concentration_prior=-1.0),
    dict(mean_precision_prior=0.0),
])
def test_bad_parameters_fail_as_in_scikit_learn(kwargs):
    def outcome(cls):
        try:
            _quiet(cls(n_components=2, **kwargs).fit, X)
        except Exception as error:  # noqa: BLE001 -- compared below
            return type(error), str(error)
        return None

    expected = outcome(SkBayesianGaussianMixture)
    assert expected is not None
    assert outcome(fastem.BayesianGaussianMixture) == expected


def test_estimator_basics():
    model = fastem.BayesianGaussianMixture(n_components=3, random_state=0)
    with pytest.raises(TypeError):
        fastem.BayesianGaussianMixture(3)  # keyword-only, as scikit-learn's
    assert not hasattr(model, "bic")  # no likelihood criterion for a variational model
    labels = _quiet(model.fit_predict, X)
    np.testing.assert_array_equal(labels, model.predict(X))
    sample, y = model.sample(50)
    assert sample.shape == (50, 3) and y.shape == (50,)
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(again.predict_proba(X), model.predict_proba(X))
    assert not hasattr(model, "m_step_bounds_")  # the chain is exact EM's


def test_out_of_core_and_chunk_sources_equal_in_memory_bitwise(tmp_path):
    path = tmp_path / "x.npy"
    np.save(path, X)
    kwargs = dict(n_components=4, covariance_type="full", random_state=0)
    a = _quiet(fastem.BayesianGaussianMixture(**kwargs).fit, X)
    b = _quiet(fastem.BayesianGaussianMixture(**kwargs).fit, np.load(path, mmap_mode="r"))
    c = _quiet(fastem.BayesianGaussianMixture(**kwargs).fit,
               lambda: (X[i:i + 300] for i in range(0, len(X), 300)))
    for other in (b, c):
        assert other.lower_bounds_ == a.lower_bounds_
        for name in ATTRIBUTES:
            np.testing.assert_array_equal(getattr(other, name), getattr(a, name))


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_integer_sample_weights_equal_repeated_rows(covariance_type):
    w = np.random.default_rng(1).integers(0, 4, X.shape[0])
    kwargs = dict(n_components=4, covariance_type=covariance_type, random_state=0, tol=0.0,
                  max_iter=15)
    weighted = _quiet(fastem.BayesianGaussianMixture(**kwargs).fit, X, sample_weight=w)
    repeated = _quiet(fastem.BayesianGaussianMixture(**kwargs).fit, np.repeat(X, w, axis=0))
    np.testing.assert_allclose(weighted.lower_bounds_, repeated.lower_bounds_, rtol=1e-9)
    for name in ATTRIBUTES:
        np.testing.assert_allclose(getattr(weighted, name), getattr(repeated, name),
                                   rtol=1e-7, atol=1e-9)


def test_select_by_the_lower_bound():
    best, table = _quiet(fastem.select, X, n_components=[1, 2, 3, 4],
                         covariance_types=["full", "diag"], model="BayesianGaussianMixture",
                         as_frame=False)
    assert list(table[0]) == ["n_components", "covariance_type", "lower_bound",
                              "log_likelihood", "n_iter", "converged", "fit_time", "error"]
    for record in table:
        model = _quiet(fastem.BayesianGaussianMixture(
            n_components=record["n_components"], covariance_type=record["covariance_type"],
            random_state=0).fit, X)
        assert record["lower_bound"] == pytest.approx(model.lower_bound_, rel=1e-12)
        assert record["log_likelihood"] == pytest.approx(model.score(X), rel=1e-10)
    winner = max(table, key=lambda r: r["lower_bound"])
    assert (best.n_components, best.covariance_type) == (winner["n_components"],
                                                         winner["covariance_type"])
    with pytest.raises(ValueError, match="has no bic"):
        fastem.select(X, n_components=[2], model="BayesianGaussianMixture", criterion="bic")


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("prior_type", PRIOR_TYPES)
def test_save_and_load(tmp_path, covariance_type, prior_type):
    model = _quiet(fastem.BayesianGaussianMixture(
        n_components=3, covariance_type=covariance_type, random_state=0,
        weight_concentration_prior_type=prior_type, mean_prior=np.zeros(3)).fit, X)
    model.save(tmp_path / "m.npz")
    loaded = fastem.load(tmp_path / "m.npz")
    assert type(loaded) is fastem.BayesianGaussianMixture
    assert loaded.get_params()["weight_concentration_prior_type"] == prior_type
    np.testing.assert_array_equal(loaded.get_params()["mean_prior"], np.zeros(3))
    for name in ATTRIBUTES + ("weight_concentration_prior_", "degrees_of_freedom_prior_"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(model, name))
        assert type(getattr(loaded, name)) is type(getattr(model, name)), name
    assert isinstance(loaded.weight_concentration_, type(model.weight_concentration_))
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))


def test_a_loaded_file_is_checked(tmp_path):
    model = _quiet(fastem.BayesianGaussianMixture(n_components=3, random_state=0).fit, X)
    model.mean_precision_ = -model.mean_precision_  # an invalid model, saved as such
    model.save(tmp_path / "bad.npz")
    with pytest.raises(fastem.ModelFileError, match="mean_precision_ is not positive"):
        fastem.load(tmp_path / "bad.npz")


def _corrupting_update(at_call, corrupt):
    """The variational update, broken once (``corrupt`` edits its estimate)."""
    real = bayesian_gaussian.BayesianGaussianFamily._update
    calls = {"n": 0}

    def update(self, nk, xk, sk):
        out = real(self, nk, xk, sk)
        calls["n"] += 1
        return corrupt(out) if calls["n"] == at_call else out

    return update


def test_a_broken_update_is_caught_by_the_variational_bound_check(monkeypatch):
    def shift_means(estimate):
        concentration, beta, means, dof, covariances = estimate
        return concentration, beta, means * 3.0 + 1.0, dof, covariances

    # Call 1 is the initialisation; call 4 the M-step of iteration 3.
    # scikit-learn's bound is simplified with the M-step's optimality and has
    # no term in the means: the broken means show in the next iteration,
    # whose E-step they spoil.
    monkeypatch.setattr(bayesian_gaussian.BayesianGaussianFamily, "_update",
                        _corrupting_update(4, shift_means))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = fastem.BayesianGaussianMixture(n_components=3, random_state=0, tol=0.0,
                                               max_iter=6).fit(X)
    drops = [w for w in caught if issubclass(w.category, fastem.BoundDecreaseWarning)]
    assert len(drops) == 1
    assert "variational lower bound decreased at iteration 4" in str(drops[0].message)
    assert model.lower_bounds_[3] < model.lower_bounds_[2]


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_the_bound_never_decreases_beyond_its_slack(covariance_type):
    """reg_covar moves the Wishart update off its optimum; the check's slack
    is that loss, exactly (without it, large reg_covar raises false alarms)."""
    rng = np.random.default_rng(0)
    for seed in range(4):
        Xs = rng.normal(size=(300, 2)) * rng.uniform(0.05, 1, 2) + rng.integers(0, 3, (300, 1))
        for dtype in (np.float64, np.float32):
            _quiet(fastem.BayesianGaussianMixture(
                n_components=3, covariance_type=covariance_type, reg_covar=0.05, tol=0.0,
                max_iter=40, random_state=seed, init_params="random",
                bound_check="raise").fit, Xs.astype(dtype))


def test_reseed_recovers_from_a_covariance_that_cannot_be_factorised(monkeypatch):
    def break_one(estimate):
        concentration, beta, means, dof, covariances = estimate
        covariances = covariances.copy()
        covariances[1] = -np.eye(covariances.shape[1])
        return concentration, beta, means, dof, covariances

    kwargs = dict(n_components=3, random_state=0, max_iter=10)
    monkeypatch.setattr(bayesian_gaussian.BayesianGaussianFamily, "_update",
                        _corrupting_update(3, break_one))
    with pytest.raises(ValueError, match="ill-defined empirical covariance"):
        _quiet(fastem.BayesianGaussianMixture(**kwargs).fit, X)
    monkeypatch.setattr(bayesian_gaussian.BayesianGaussianFamily, "_update",
                        _corrupting_update(3, break_one))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = fastem.BayesianGaussianMixture(reseed=True, **kwargs).fit(X)
    assert any(issubclass(w.category, fastem.ReseedWarning) for w in caught)
    assert np.all(np.isfinite(model.covariances_))
    assert np.all(np.linalg.eigvalsh(model.covariances_) > 0)


def test_verbose_lines(capsys):
    _quiet(fastem.BayesianGaussianMixture(n_components=2, verbose=2, verbose_interval=1,
                                          max_iter=3, tol=0.0, random_state=0).fit, X)
    out = capsys.readouterr().out
    assert "Initialization 0" in out and "Iteration 3" in out and "lower bound" in out
