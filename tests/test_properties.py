"""Property tests (hypothesis): what EM and a Gaussian mixture promise,
on random problems.

* the bound never decreases (by more than ``reg_covar`` and rounding allow);
* relabelling the initial components permutes the fitted ones;
* an affine change of the data moves means and covariances with it and
  shifts every log-likelihood by -log|det A|;
* float32 agrees with float64;
* the result does not depend on the thread count, and repeats bit for bit
  with the same ``random_state``.

Each property runs a bounded, derandomised number of examples (same cases
on every run), so the suite's time stays fixed.
"""

import warnings

import numba
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fastem
from conftest import COVARIANCE_TYPES

SETTINGS = settings(max_examples=15, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])


@st.composite
def problems(draw, max_features=4, max_components=4):
    """``(X, n_components, covariance_type)``: Gaussian blobs of random
    size, shape, spread and correlation."""
    n_features = draw(st.integers(1, max_features))
    n_components = draw(st.integers(1, max_components))
    n_samples = draw(st.integers(10 * n_components + 20, 300))
    seed = draw(st.integers(0, 2**32 - 1))
    spread = draw(st.floats(0.5, 10.0))
    covariance_type = draw(st.sampled_from(COVARIANCE_TYPES))
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=spread, size=(n_components, n_features))
    shapes = rng.normal(scale=0.5, size=(n_components, n_features, n_features))
    shapes += np.eye(n_features)
    labels = rng.integers(n_components, size=n_samples)
    noise = rng.normal(size=(n_samples, n_features))
    X = centers[labels] + np.einsum("nij,nj->ni", shapes[labels], noise)
    return X, n_components, covariance_type


def _fit(X, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)  # ConvergenceWarning
        return fastem.GaussianMixture(**kwargs).fit(X)


def _init_params(X, n_components, covariance_type):
    """Initial parameters from a short fit, to start the compared fits from."""
    model = _fit(X, n_components=n_components, covariance_type=covariance_type,
                 random_state=0, max_iter=1)
    return model.weights_, model.means_, model.precisions_


@SETTINGS
@given(problems(), st.sampled_from(["kmeans", "random", "k-means++"]))
def test_the_bound_never_decreases(problem, init_params):
    X, n_components, covariance_type = problem
    model = _fit(X, n_components=n_components, covariance_type=covariance_type,
                 init_params=init_params, tol=0.0, max_iter=30, random_state=0,
                 bound_check="raise")
    bounds = np.asarray(model.lower_bounds_)
    assert np.all(np.isfinite(bounds))
    # reg_covar (1e-6) may lower the bound by a little: the check allowed it
    # exactly (bound_check="raise" did not raise); here, a coarse bound.
    assert np.all(np.diff(bounds) >= -1e-4)


@SETTINGS
@given(problems(), st.randoms(use_true_random=False))
def test_relabelling_the_components_permutes_the_result(problem, rnd):
    X, n_components, covariance_type = problem
    weights, means, precisions = _init_params(X, n_components, covariance_type)
    perm = np.array(rnd.sample(range(n_components), n_components))
    common = dict(n_components=n_components, covariance_type=covariance_type, tol=0.0,
                  max_iter=8)
    a = _fit(X, weights_init=weights, means_init=means, precisions_init=precisions, **common)
    permuted_prec = precisions if covariance_type == "tied" else precisions[perm]
    b = _fit(X, weights_init=weights[perm], means_init=means[perm],
             precisions_init=permuted_prec, **common)
    np.testing.assert_allclose(b.weights_, a.weights_[perm], rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(b.means_, a.means_[perm], rtol=1e-8, atol=1e-10)
    cov_b = b.covariances_ if covariance_type == "tied" else b.covariances_
    cov_a = a.covariances_ if covariance_type == "tied" else a.covariances_[perm]
    np.testing.assert_allclose(cov_b, cov_a, rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(b.score_samples(X), a.score_samples(X), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(b.predict_proba(X), a.predict_proba(X)[:, perm], atol=1e-9)


def _transform_precisions(precisions, covariance_type, A_inv, scale):
    """Precisions of the transformed covariances A C A^T."""
    if covariance_type == "full":
        return np.einsum("ji,kjl,lm->kim", A_inv, precisions, A_inv)
    if covariance_type == "tied":
        return A_inv.T @ precisions @ A_inv
    if covariance_type == "diag":
        return precisions / scale**2
    return precisions / scale**2


@SETTINGS
@given(problems(), st.floats(1e-3, 1e3), st.floats(-1e4, 1e4), st.integers(0, 2**32 - 1))
def test_an_affine_change_of_the_data_moves_the_model_with_it(problem, scale, offset, seed):
    """X -> X A^T + b: means -> A mu + b, covariances -> A C A^T, every
    log-likelihood -> itself - log|det A|.  A is a general matrix for full
    and tied, a diagonal for diag, a multiple of the identity for
    spherical (the transformations each family is closed under).  From
    transformed initial parameters, with reg_covar=0 (an absolute reg_covar
    is not scale-free)."""
    X, n_components, covariance_type = problem
    n_features = X.shape[1]
    rng = np.random.default_rng(seed)
    if covariance_type in ("full", "tied"):
        A = scale * (np.eye(n_features) + 0.3 * rng.normal(size=(n_features, n_features)))
    elif covariance_type == "diag":
        A = np.diag(scale * rng.uniform(0.5, 2.0, n_features))
    else:
        A = scale * np.eye(n_features)
    b = offset * rng.uniform(-1, 1, n_features)
    weights, means, precisions = _init_params(X, n_components, covariance_type)
    diag_scale = np.diag(A)
    common = dict(n_components=n_components, covariance_type=covariance_type, tol=0.0,
                  max_iter=5, reg_covar=0.0)
    try:
        ref = _fit(X, weights_init=weights, means_init=means, precisions_init=precisions,
                   **common)
    except ValueError:
        return  # a component collapsed on this draw: nothing to compare
    Y = X @ A.T + b
    spherical_scale = diag_scale[0] if covariance_type == "spherical" else diag_scale
    moved = _fit(
        Y, weights_init=weights, means_init=means @ A.T + b,
        precisions_init=_transform_precisions(precisions, covariance_type, np.linalg.inv(A),
                                              spherical_scale),
        **common,
    )
    log_det = np.linalg.slogdet(A)[1]
    np.testing.assert_allclose(moved.weights_, ref.weights_, rtol=1e-6, atol=1e-9)
    span = np.abs(ref.means_ @ A.T + b).max() + np.abs(A).max()
    np.testing.assert_allclose(moved.means_, ref.means_ @ A.T + b, rtol=1e-6,
                               atol=1e-6 * span)
    np.testing.assert_allclose(moved.score_samples(Y), ref.score_samples(X) - log_det,
                               rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(moved.lower_bound_, ref.lower_bound_ - log_det, rtol=1e-7,
                               atol=1e-7)
    if covariance_type == "full":
        expected = np.einsum("ij,kjl,ml->kim", A, ref.covariances_, A)
    elif covariance_type == "tied":
        expected = A @ ref.covariances_ @ A.T
    else:
        expected = ref.covariances_ * spherical_scale**2
    np.testing.assert_allclose(moved.covariances_, expected, rtol=1e-5,
                               atol=1e-6 * np.abs(expected).max())


@SETTINGS
@given(problems())
def test_float32_agrees_with_float64(problem):
    X, n_components, covariance_type = problem
    weights, means, precisions = _init_params(X, n_components, covariance_type)
    common = dict(n_components=n_components, covariance_type=covariance_type, tol=0.0,
                  max_iter=3, weights_init=weights.astype(np.float32),
                  means_init=means.astype(np.float32),
                  precisions_init=precisions.astype(np.float32))
    X32 = X.astype(np.float32)
    a = _fit(X32, **common)
    b = _fit(X32.astype(np.float64), **common)
    assert a.means_.dtype == np.float32 and b.means_.dtype == np.float64
    span = np.abs(X).max()
    np.testing.assert_allclose(a.means_, b.means_, rtol=1e-3, atol=1e-4 * span)
    np.testing.assert_allclose(a.weights_, b.weights_, rtol=1e-3, atol=1e-4)
    scores = b.score_samples(X32.astype(np.float64))
    np.testing.assert_allclose(a.score_samples(X32), scores, rtol=1e-3,
                               atol=1e-3 * np.abs(scores).max())


@SETTINGS
@given(problem=problems(max_features=8, max_components=6))
def test_same_bits_for_any_thread_count_and_every_repeat(problem):
    X, n_components, covariance_type = problem
    X = np.repeat(X, 20, axis=0) + np.random.default_rng(0).normal(size=(X.shape[0] * 20, 1))
    kwargs = dict(n_components=n_components, covariance_type=covariance_type,
                  random_state=3, max_iter=5, tol=0.0)
    results = []
    before = numba.get_num_threads()
    try:
        for threads in (1, numba.config.NUMBA_NUM_THREADS, 1):
            numba.set_num_threads(threads)
            model = _fit(X, **kwargs)
            results.append([model.means_.tobytes(), model.covariances_.tobytes(),
                            model.weights_.tobytes(), model.score_samples(X).tobytes(),
                            model.predict_proba(X).tobytes()])
    finally:
        numba.set_num_threads(before)
    assert results[0] == results[1] == results[2]
