"""``fastem.StudentTMixture``: mixtures of multivariate t components."""

from numbers import Real

from sklearn.base import BaseEstimator, DensityMixin
from sklearn.utils._param_validation import Interval

from .bernoulli_mixture import engine_doc
from .engine.estimator import (
    COMMON_PARAMETERS,
    MISSING_CONSTRAINTS,
    MISSING_DOC,
    CriteriaMixin,
    ImputerMixin,
    MixtureEstimator,
    mixture_constraints,
)
from .families.student_t import StudentTFamily


class StudentTMixture(CriteriaMixin, ImputerMixin, MixtureEstimator, DensityMixin,
                      BaseEstimator):
    __doc__ = """Mixture of multivariate Student-t components (robust clustering).

    A t component is a Gaussian whose precision is scaled, row by row, by a
    latent Gamma(nu / 2, rate nu / 2) variable: heavy tails, so that gross
    outliers pull its mean and scale far less than a Gaussian's.  EM runs
    over the components and the scales together (the bound check and the
    chain hold with both latent); the degrees of freedom ``nu`` of each
    component are estimated by a 1-D root per iteration (the CM-step of
    Liu & Rubin's ECM), or fixed.  Parameters, attributes and methods as
    :class:`fastem.GaussianMixture`'s, plus the degrees of freedom.

    Parameters
    ----------
    n_components : int, default=1
    covariance_type : {'full', 'tied', 'diag', 'spherical'}, default='full'
        The form of the scale matrices, as ``GaussianMixture``'s.
    tol : float, default=1e-3
    reg_covar : float, default=1e-6
        Added to the diagonal of every scale matrix.
    max_iter : int, default=100
    n_init : int, default=1
    init_params : {'kmeans', 'k-means++', 'random', 'random_from_data'}, \\
            default='kmeans'
        The first responsibilities; the first means and scales are then the
        Gaussian M-step under them (every latent scale 1).
    weights_init : array-like of shape (n_components,), default=None
    means_init : array-like of shape (n_components, n_features), default=None
    precisions_init : array-like, default=None
        Initial inverse scale matrices; shape as ``precisions_``.
    degrees_of_freedom_init : float or array-like of shape (n_components,), \\
            default=None
        Initial degrees of freedom (None: 10 for every component), > 0.
    fit_degrees_of_freedom : bool, default=True
        Estimate the degrees of freedom (within [0.1, 1e4]); False keeps
        ``degrees_of_freedom_init``.""" + engine_doc(
        "(or whose scale matrix is not positive-definite) to the row the others "
        "explain worst, with their mean scale and degrees of freedom") + MISSING_DOC + """
        For a t component the marginal of the observed coordinates is a t of
        the same degrees of freedom, and given them and the latent scale u
        the missing ones are Gaussian (covariance Sigma_mm|o / u): the
        expected statistics are taken over both.  ``impute``'s draws take
        the scale from its posterior too.
    Attributes
    ----------
    weights_ : ndarray of shape (n_components,)
    means_ : ndarray of shape (n_components, n_features)
        The components' centres (their means when nu > 1).
    covariances_ : ndarray
        The scale matrices, shapes as ``GaussianMixture``'s; a component's
        covariance is ``nu / (nu - 2)`` times its scale when nu > 2.
    precisions_ : ndarray
        Inverses of the scale matrices.
    precisions_cholesky_ : ndarray
        Their Cholesky factors, as ``GaussianMixture``'s.
    degrees_of_freedom_ : ndarray of shape (n_components,)
    converged_ : bool
    n_iter_ : int
    lower_bound_ : float
        Mean log-likelihood per sample at the last E-step of the best run.
    lower_bounds_ : list of float
    m_step_bounds_ : ndarray of shape (n_iter_,)
        The bound after each M-step, with the scales among the latent
        variables (the seed's chain).
    kl_divergences_ : ndarray of shape (n_iter_ - 1,)
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
    n_rows_all_missing_ : int
        With ``missing='marginalize'``: the rows of the fit's ``X`` with no
        observed value (they take no part in it).

    Notes
    -----
    The parameters are float64 whatever X's dtype; float32 X is computed in
    float32 (twice the SIMD lanes), its sums in float64.
    """

    _parameter_constraints: dict = {
        **mixture_constraints(*COMMON_PARAMETERS, "covariance_type", "reg_covar",
                              "weights_init", "means_init", "precisions_init"),
        "degrees_of_freedom_init": [Interval(Real, 0, None, closed="neither"), "array-like",
                                    None],
        "fit_degrees_of_freedom": ["boolean"],
        **MISSING_CONSTRAINTS,
    }

    def __init__(self, n_components=1, *, covariance_type="full", tol=1e-3, reg_covar=1e-6,
                 max_iter=100, n_init=1, init_params="kmeans", weights_init=None,
                 means_init=None, precisions_init=None, degrees_of_freedom_init=None,
                 fit_degrees_of_freedom=True, random_state=None, warm_start=False, verbose=0,
                 verbose_interval=10, bound_check="warn", init_max_samples="auto",
                 reseed=False, learning_method="batch",
                 batch_size="auto", learning_decay=0.7, learning_offset=10.0,
                 total_samples=1e6, missing="raise"):
        super().__init__(
            n_components=n_components, tol=tol, max_iter=max_iter, n_init=n_init,
            init_params=init_params, random_state=random_state, warm_start=warm_start,
            verbose=verbose, verbose_interval=verbose_interval, bound_check=bound_check,
            init_max_samples=init_max_samples, reseed=reseed,
            learning_method=learning_method, batch_size=batch_size,
            learning_decay=learning_decay, learning_offset=learning_offset,
            total_samples=total_samples,
        )
        self.covariance_type = covariance_type
        self.reg_covar = reg_covar
        self.weights_init = weights_init
        self.means_init = means_init
        self.precisions_init = precisions_init
        self.degrees_of_freedom_init = degrees_of_freedom_init
        self.fit_degrees_of_freedom = fit_degrees_of_freedom
        self.missing = missing

    def _family(self):
        family = StudentTFamily(self.n_components, self.covariance_type, self.reg_covar,
                                self.weights_init, self.means_init, self.precisions_init,
                                self.degrees_of_freedom_init, self.fit_degrees_of_freedom)
        family.missing = self.missing == "marginalize"
        return family


__all__ = ["StudentTMixture"]
