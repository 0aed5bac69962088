import numpy as np
import pytest

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")
DTYPES = (np.float64, np.float32)


def make_blobs(n_samples=600, n_features=3, n_components=3, seed=0, spread=4.0):
    """Well-separated Gaussian blobs with random correlated shapes."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=spread, size=(n_components, n_features))
    labels = rng.integers(n_components, size=n_samples)
    shapes = rng.normal(size=(n_components, n_features, n_features)) * 0.4 + np.eye(n_features)
    X = centers[labels] + np.einsum("nij,nj->ni", shapes[labels], rng.normal(size=(n_samples, n_features)))
    return X


def random_params(covariance_type, n_components, n_features, seed=0, dtype=np.float64):
    """Weights, means and upper-triangular precision Cholesky factors."""
    rng = np.random.default_rng(seed)
    weights = rng.uniform(0.5, 1.5, n_components)
    weights /= weights.sum()
    means = rng.normal(scale=2.0, size=(n_components, n_features))

    def upper():
        A = np.triu(rng.normal(scale=0.3, size=(n_features, n_features)), 1)
        return A + np.diag(rng.uniform(0.5, 1.5, n_features))

    if covariance_type == "full":
        chol = np.stack([upper() for _ in range(n_components)])
    elif covariance_type == "tied":
        chol = upper()
    elif covariance_type == "diag":
        chol = rng.uniform(0.5, 1.5, (n_components, n_features))
    else:
        chol = rng.uniform(0.5, 1.5, n_components)
    return tuple(np.asarray(a, dtype=dtype) for a in (weights, means, chol))


@pytest.fixture
def blobs():
    return make_blobs()
