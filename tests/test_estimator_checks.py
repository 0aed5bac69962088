"""scikit-learn's own estimator checks."""

from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import Binarizer
from sklearn.utils.estimator_checks import parametrize_with_checks

import fastem


def expected_failures(estimator):
    name = type(estimator).__name__
    if name in ("PoissonMixture", "CategoricalMixture"):
        return {"check_sample_weight_equivalence_on_dense_data":
                "feeds real-valued X without the input tags' rounding to counts"}
    if name == "Pipeline":
        return {
            "check_estimators_overwrite_params": "a Pipeline fits its steps in place",
            "check_dont_overwrite_parameters": "a Pipeline fits its steps in place",
        }
    return {}


@parametrize_with_checks([
    fastem.GaussianMixture(),
    fastem.GaussianMixture(covariance_type="diag"),
    fastem.GaussianMixture(missing="marginalize"),
    fastem.MixtureImputer(n_components=2),
    fastem.BayesianGaussianMixture(),
    fastem.BayesianGaussianMixture(missing="marginalize"),
    fastem.BayesianGaussianMixture(covariance_type="tied",
                                   weight_concentration_prior_type="dirichlet_distribution"),
    fastem.PoissonMixture(),
    fastem.CategoricalMixture(),
    fastem.StudentTMixture(),
    fastem.StudentTMixture(covariance_type="spherical"),
    fastem.StudentTMixture(covariance_type="diag", missing="marginalize"),
    # No input tag makes scikit-learn's checks feed 0/1 data: the mixture
    # behind a Binarizer (BernoulliNB's own binarize step).
    make_pipeline(Binarizer(), fastem.BernoulliMixture()),
], expected_failed_checks=expected_failures)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
