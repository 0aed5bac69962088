"""score_samples against a 50-digit reference (fastem.accuracy) on the
adversarial cases of the README's "Numerics" table: fastem stays within a
few eps of the exact value for the stored parameters, in both dtypes."""

import numpy as np
import pytest

pytest.importorskip("mpmath")

from fastem.tools import accuracy  # noqa: E402
from conftest import COVARIANCE_TYPES, random_params  # noqa: E402


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("case", list(accuracy.CASES))
def test_score_samples_is_within_a_few_eps(case, covariance_type, dtype):
    result = accuracy.measure(case, dtype, covariance_type, n_eval=25)
    assert result is not None
    ours, _ = result
    assert ours < 32 * np.finfo(dtype).eps, ours


def test_the_reference_is_the_textbook_formula():
    """The 50-digit reference against a plain float64 evaluation of the same
    parameters (to float64 accuracy, on benign data)."""
    from scipy.special import logsumexp
    from scipy.stats import multivariate_normal

    import fastem

    weights, means, chol = random_params("full", 3, 2, seed=4)
    model = fastem.GaussianMixture(3)
    model.weights_, model.means_, model.precisions_cholesky_ = weights, means, chol
    model.covariance_type = "full"
    X = np.random.default_rng(0).normal(size=(20, 2))
    covs = [np.linalg.inv(u @ u.T) for u in chol]
    dens = np.stack([np.log(w) + multivariate_normal(m, c).logpdf(X)
                     for w, m, c in zip(weights, means, covs)], axis=1)
    np.testing.assert_allclose(accuracy.reference_score_samples(model, X),
                               logsumexp(dens, axis=1), rtol=1e-12)


def test_errors_treat_non_finite_values_as_infinitely_wrong():
    err = accuracy.errors([0.5, np.nan, -2000.0], np.array([0.5 + 1e-9, 1.0, -2000.2]))
    np.testing.assert_allclose(err[[0, 2]], [1e-9, 0.2 / 2000.2], rtol=1e-6)
    assert err[1] == np.inf
