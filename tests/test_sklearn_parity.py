"""fastem.GaussianMixture against sklearn.mixture.GaussianMixture."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture as SkGaussianMixture

import fastem
from conftest import COVARIANCE_TYPES, DTYPES, make_blobs, random_params

ATTRS = ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_")
RTOL = {np.float64: 1e-8, np.float32: 1e-4}


def precisions_from(chol, covariance_type):
    if covariance_type == "full":
        return np.matmul(chol, np.swapaxes(chol, 1, 2))
    if covariance_type == "tied":
        return chol @ chol.T
    return chol**2


def both(**kwargs):
    return fastem.GaussianMixture(**kwargs), SkGaussianMixture(**kwargs)


def fit_quietly(model, X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X)


def assert_same_model(ours, theirs, rtol, atol=0.0):
    for name in ATTRS:
        a, b = getattr(ours, name), getattr(theirs, name)
        assert a.shape == b.shape, name
        assert a.dtype == b.dtype, name
        scale = np.max(np.abs(b))
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol + rtol * scale, err_msg=name)
    np.testing.assert_allclose(ours.lower_bound_, theirs.lower_bound_, rtol=rtol)
    np.testing.assert_allclose(ours.lower_bounds_, theirs.lower_bounds_, rtol=rtol)
    assert ours.n_iter_ == theirs.n_iter_
    assert ours.converged_ == theirs.converged_


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_ten_iterations_from_the_same_parameters(covariance_type, dtype):
    X = make_blobs(n_samples=2000, n_features=4, n_components=3).astype(dtype)
    weights, means, chol = random_params(covariance_type, 3, 4, seed=5)
    kwargs = dict(
        n_components=3, covariance_type=covariance_type, max_iter=10, tol=0.0,
        weights_init=weights, means_init=means,
        precisions_init=precisions_from(chol, covariance_type),
    )
    ours, theirs = both(**kwargs)
    fit_quietly(ours, X)
    fit_quietly(theirs, X)
    assert ours.n_iter_ == 10
    assert_same_model(ours, theirs, RTOL[dtype])
    Y = make_blobs(n_samples=300, n_features=4, seed=9).astype(dtype)
    rtol = RTOL[dtype]
    np.testing.assert_allclose(ours.score_samples(Y), theirs.score_samples(Y), rtol=rtol)
    np.testing.assert_allclose(ours.predict_proba(Y), theirs.predict_proba(Y), atol=rtol * 10)
    np.testing.assert_allclose(ours.score(Y), theirs.score(Y), rtol=rtol)
    np.testing.assert_allclose(ours.bic(Y), theirs.bic(Y), rtol=rtol)
    np.testing.assert_allclose(ours.aic(Y), theirs.aic(Y), rtol=rtol)
    assert np.mean(ours.predict(Y) == theirs.predict(Y)) > 0.99
    for method in ("score_samples", "predict_proba"):
        assert getattr(ours, method)(Y).dtype == getattr(theirs, method)(Y).dtype


@pytest.mark.parametrize("init_params", ["kmeans", "k-means++", "random", "random_from_data"])
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_same_seed_gives_same_initial_parameters(covariance_type, init_params):
    X = make_blobs(n_samples=500, n_features=3, n_components=4, seed=2)
    kwargs = dict(n_components=4, covariance_type=covariance_type, init_params=init_params,
                  max_iter=0, random_state=7)
    ours, theirs = both(**kwargs)
    ours.fit(X)
    theirs.fit(X)
    # One-point components ('k-means++', 'random_from_data') have variance
    # reg_covar = 1e-6 exactly; scikit-learn's E[x^2] - mu^2 leaves ~1e-13 of
    # cancellation in it, which the precisions (~1e6) amplify to ~1e-7.
    assert_same_model(ours, theirs, rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_default_fit_matches(covariance_type):
    X = make_blobs(n_samples=1500, n_features=3, n_components=3, seed=3)
    ours, theirs = both(n_components=3, covariance_type=covariance_type, random_state=0)
    labels = ours.fit_predict(X)
    theirs.fit(X)
    assert_same_model(ours, theirs, rtol=1e-6, atol=1e-10)
    np.testing.assert_array_equal(labels, theirs.predict(X))
    np.testing.assert_array_equal(labels, ours.predict(X))


def test_n_init_and_float32_default_fit():
    X = make_blobs(n_samples=800, n_features=2, n_components=4, seed=4).astype(np.float32)
    ours, theirs = both(n_components=4, n_init=3, random_state=1)
    ours.fit(X)
    theirs.fit(X)
    assert_same_model(ours, theirs, rtol=1e-4, atol=1e-5)
    assert ours.lower_bound_.dtype == np.float32


def test_warm_start_continues_like_sklearn():
    X = make_blobs(n_samples=600, n_features=2, n_components=2, seed=5)
    ours, theirs = both(n_components=2, warm_start=True, max_iter=2, random_state=0, tol=0.0)
    for _ in range(3):
        fit_quietly(ours, X)
        fit_quietly(theirs, X)
        assert_same_model(ours, theirs, rtol=1e-8, atol=1e-12)


def test_sample_matches():
    X = make_blobs(n_samples=400, n_features=2, n_components=2, seed=6)
    for covariance_type in COVARIANCE_TYPES:
        ours, theirs = both(n_components=2, covariance_type=covariance_type, random_state=3)
        ours.fit(X)
        theirs.fit(X)
        Xo, yo = ours.sample(50)
        Xt, yt = theirs.sample(50)
        np.testing.assert_array_equal(yo, yt)
        np.testing.assert_allclose(Xo, Xt, rtol=1e-6, atol=1e-8)
        assert Xo.dtype == Xt.dtype and yo.dtype == yt.dtype


def test_convergence_warning_and_verbose_output(capsys):
    X = make_blobs(n_samples=300, n_features=2, n_components=2, seed=7)
    outputs = []
    for model in both(n_components=2, max_iter=3, tol=0.0, verbose=1, verbose_interval=1,
                      random_state=0):
        with pytest.warns(ConvergenceWarning, match="Best performing initialization did not"):
            model.fit(X)
        outputs.append(capsys.readouterr().out)
    assert outputs[0] == outputs[1]
    assert "Iteration 3" in outputs[0]


@pytest.mark.parametrize(
    "kwargs, X",
    [
        (dict(n_components=0), None),
        (dict(covariance_type="banana"), None),
        (dict(tol=-1.0), None),
        (dict(init_params="nope"), None),
        (dict(n_components=5), np.arange(8.0).reshape(4, 2)),
        (dict(n_components=2, weights_init=[0.7, 0.7]), None),
        (dict(n_components=2, weights_init=[0.5, 0.4]), None),
        (dict(n_components=2, weights_init=[0.5, 0.2, 0.3]), None),
        (dict(n_components=2, means_init=np.zeros((3, 2))), None),
        (dict(n_components=2, precisions_init=-np.ones(2), covariance_type="spherical"), None),
        (dict(n_components=2, precisions_init=np.ones((2, 3)), covariance_type="diag"), None),
        (dict(n_components=1, precisions_init=[[[1.0, 2.0], [2.0, 1.0]]]), None),
        (dict(n_components=1, precisions_init=[[1.0, 0.5], [0.0, 1.0]], covariance_type="tied"),
         None),
        # ndarrays that are not plain finite float arrays of the right rank
        (dict(n_components=2, means_init=np.array([[0.0, np.nan], [1.0, 1.0]])), None),
        (dict(n_components=2, weights_init=np.array([0.5, np.inf])), None),
        (dict(n_components=2, weights_init=np.array(1.0)), None),
        (dict(n_components=2, weights_init=np.empty(0)), None),
        (dict(n_components=2, means_init=np.zeros((2, 2, 1))), None),
        (dict(n_components=2, means_init=np.zeros((2, 0))), None),
        (dict(n_components=2, precisions_init=np.ones((2, 2, 2, 1)), covariance_type="full"),
         None),
        (dict(n_components=2, precisions_init=np.full((2, 2, 2), np.nan)), None),
        # other constructor parameters
        (dict(n_components=1.5), None),
        (dict(n_components="2"), None),
        (dict(max_iter=-1), None),
        (dict(n_init=0), None),
        (dict(reg_covar=-1e-6), None),
        (dict(random_state="seed"), None),
        (dict(warm_start="yes"), None),
        (dict(verbose=-1), None),
        (dict(verbose_interval=0), None),
        (dict(init_params=None), None),
        (dict(covariance_type=None), None),
        (dict(tol=float("nan")), None),
        # *_init of the wrong kind, length or content
        (dict(n_components=2, weights_init=["a", "b"]), None),
        (dict(n_components=2, weights_init=[0.5, 0.5 + 0.5j]), None),
        (dict(n_components=2, means_init=[[0.0, 0.0]]), None),
        (dict(n_components=2, means_init=np.zeros(4)), None),
        (dict(n_components=2, precisions_init=np.ones(3), covariance_type="spherical"), None),
        (dict(n_components=2, precisions_init=np.zeros((2, 2)), covariance_type="diag"), None),
        (dict(n_components=2, precisions_init=np.eye(3), covariance_type="tied"), None),
        (dict(n_components=2, precisions_init=np.stack([np.eye(2), -np.eye(2)])), None),
    ],
)
@pytest.mark.parametrize("method", ["fit", "fit_predict"])
def test_same_errors_as_sklearn(kwargs, X, method):
    X = make_blobs(n_samples=50, n_features=2) if X is None else X
    errors = []
    for model in both(**kwargs):
        with pytest.raises(Exception) as info:
            getattr(model, method)(X)
        errors.append((type(info.value), str(info.value)))
    assert errors[0] == errors[1]


def test_ill_defined_covariance_message():
    X = np.repeat(np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 0.5]]), 5, axis=0)
    errors = []
    for model in both(n_components=3, reg_covar=0.0, random_state=0):
        with pytest.raises(ValueError) as info:
            model.fit(X)
        errors.append(str(info.value))
    assert errors[0] == errors[1]
    assert "ill-defined empirical covariance" in errors[0]


def test_predict_errors_match():
    X = make_blobs(n_samples=100, n_features=3)
    ours, theirs = both(n_components=2, random_state=0)
    for method in ("predict", "predict_proba", "score_samples", "score"):
        msgs = []
        for model in (ours, theirs):
            with pytest.raises(Exception) as info:
                getattr(model, method)(X)
            msgs.append(type(info.value).__name__)
        assert msgs[0] == msgs[1] == "NotFittedError"
    ours.fit(X)
    theirs.fit(X)
    msgs = []
    for model in (ours, theirs):
        with pytest.raises(ValueError) as info:
            model.predict(X[:, :2])
        msgs.append(str(info.value))
    assert msgs[0] == msgs[1]


def test_parameters_are_not_modified_by_fit():
    weights = [0.5, 0.5]
    model = fastem.GaussianMixture(2, weights_init=weights, random_state=0)
    model.fit(make_blobs(n_samples=100, n_features=2))
    assert model.weights_init is weights


def test_constructor_signature_extends_sklearns():
    import inspect

    ours = inspect.signature(fastem.GaussianMixture)
    theirs = inspect.signature(SkGaussianMixture)
    ours_params = list(ours.parameters.values())
    assert ours_params[: len(theirs.parameters)] == list(theirs.parameters.values())
    extra = ours_params[len(theirs.parameters):]
    assert [p.name for p in extra] == ["bound_check", "init_max_samples", "reseed",
                                       "learning_method", "batch_size", "learning_decay",
                                       "learning_offset", "total_samples", "missing"]
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in extra)


def test_max_iter_zero_after_a_fit_like_sklearn():
    X = make_blobs(n_samples=300, n_features=2, n_components=2, seed=8)
    ours, theirs = both(n_components=2, warm_start=True, random_state=0)
    ours.fit(X)
    theirs.fit(X)
    for model in (ours, theirs):
        model.set_params(max_iter=0)
        model.fit(X)
    assert_same_model(ours, theirs, rtol=1e-8, atol=1e-12)
    assert ours.lower_bound_ == theirs.lower_bound_ == -np.inf
