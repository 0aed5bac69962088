"""scikit-learn's own estimator checks."""

from sklearn.utils.estimator_checks import parametrize_with_checks

import fastem


@parametrize_with_checks([
    fastem.GaussianMixture(),
    fastem.GaussianMixture(covariance_type="diag"),
    fastem.BayesianGaussianMixture(),
    fastem.BayesianGaussianMixture(covariance_type="tied",
                                   weight_concentration_prior_type="dirichlet_distribution"),
])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
