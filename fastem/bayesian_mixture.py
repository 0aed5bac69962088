"""``fastem.BayesianGaussianMixture``: scikit-learn's variational estimator on
the EM engine."""

from sklearn.base import BaseEstimator, DensityMixin
from sklearn.mixture import BayesianGaussianMixture as _SkBayesianGaussianMixture

from .engine.estimator import (
    ENGINE_CONSTRAINTS,
    LEARNING_DOC,
    MISSING_CONSTRAINTS,
    MISSING_DOC,
    ImputerMixin,
    MixtureEstimator,
)
from .families.bayesian_gaussian import BayesianGaussianFamily


class BayesianGaussianMixture(ImputerMixin, MixtureEstimator, DensityMixin, BaseEstimator):
    __doc__ = """Variational Bayesian Gaussian mixture on fused, multi-threaded Numba kernels.

    A drop-in replacement for :class:`sklearn.mixture.BayesianGaussianMixture`:
    same parameters, attributes, methods, warnings and errors, and the same
    initial point for the same ``random_state``.  Every iteration is one
    pass over ``X`` through the Gaussian family's fused kernel (the
    variational E-step differs from maximum likelihood's only in
    per-component constants), with no ``n_samples x n_components``
    temporary; the data may be out of core, a chunk source or a dask array,
    and rows may carry sample weights.

    Parameters
    ----------
    n_components : int, default=1
        The largest number of components; the weights' prior can switch
        some off.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}, default='full'
    tol : float, default=1e-3
        Stop when the lower bound (a total over the rows, as scikit-learn's)
        changes by less than this.
    reg_covar : float, default=1e-6
        Added to the diagonal of the empirical covariances.
    max_iter : int, default=100
    n_init : int, default=1
    init_params : {'kmeans', 'k-means++', 'random', 'random_from_data'}, \
            default='kmeans'
    weight_concentration_prior_type : {'dirichlet_process', \
            'dirichlet_distribution'}, default='dirichlet_process'
        The weights' prior: a stick-breaking Dirichlet process, or a
        Dirichlet distribution.
    weight_concentration_prior : float or None, default=None
        ``1 / n_components`` if None.
    mean_precision_prior : float or None, default=None
        1 if None.
    mean_prior : array-like of shape (n_features,), default=None
        The mean of ``X`` if None.
    degrees_of_freedom_prior : float or None, default=None
        ``n_features`` if None; must be greater than ``n_features - 1``.
    covariance_prior : float or array-like, default=None
        The covariance of ``X`` (``np.cov``; diag and spherical: its
        diagonal, its mean) if None.
    random_state : int, RandomState instance or None, default=None
    warm_start : bool, default=False
    verbose : int, default=0
    verbose_interval : int, default=10
    bound_check : {'warn', 'raise', 'ignore'}, default='warn'
        What to do when the variational lower bound decreases by more than
        ``reg_covar`` (its exact effect on the Wishart update) and rounding
        can explain.  Not a scikit-learn parameter (keyword-only, like the
        two below).
    init_max_samples : int or "auto", default="auto"
        As in :class:`fastem.GaussianMixture`.
    reseed : bool, default=False
        Re-seed a component whose covariance cannot be factorised at the row
        the others explain worst, instead of failing.  (An emptied component
        is left alone: switching components off is what the weights' prior
        does.)""" + LEARNING_DOC + MISSING_DOC + """
        Under the variational posterior a missing coordinate's factor
        q(x_m | z) is the Gaussian of the expected log-density (precision
        ``precisions_``, the posterior mean precision), and the lower bound
        includes its entropy.  The priors that default to the data's mean
        and covariance take them from the rows with each missing value
        replaced by its column's observed mean.

    Attributes
    ----------
    weights_, means_, covariances_, precisions_, precisions_cholesky_
        The posterior point estimates, in scikit-learn's shapes.
    weight_concentration_prior_, weight_concentration_ : float, array or pair
    mean_precision_prior_ : float
    mean_precision_ : ndarray of shape (n_components,)
    mean_prior_ : ndarray of shape (n_features,)
    degrees_of_freedom_prior_ : float
    degrees_of_freedom_ : ndarray of shape (n_components,) or float (tied)
    covariance_prior_ : float or ndarray
    converged_ : bool
    n_iter_ : int
    lower_bound_ : float
        The lower bound of the best run's last iteration.
    lower_bounds_ : list of float
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
    n_rows_all_missing_ : int
        With ``missing='marginalize'``: the rows of the fit's ``X`` with no
        observed value (they take no part in it).

    Notes
    -----
    Every method taking ``X`` accepts what :class:`fastem.GaussianMixture`'s
    do (memmaps, h5py and zarr arrays, chunk sources, dask arrays), and
    ``fit`` and ``fit_predict`` take ``sample_weight``.
    """

    _parameter_constraints: dict = {
        **_SkBayesianGaussianMixture._parameter_constraints,
        **ENGINE_CONSTRAINTS,
        **MISSING_CONSTRAINTS,
    }

    def __init__(
        self,
        *,
        n_components=1,
        covariance_type="full",
        tol=1e-3,
        reg_covar=1e-6,
        max_iter=100,
        n_init=1,
        init_params="kmeans",
        weight_concentration_prior_type="dirichlet_process",
        weight_concentration_prior=None,
        mean_precision_prior=None,
        mean_prior=None,
        degrees_of_freedom_prior=None,
        covariance_prior=None,
        random_state=None,
        warm_start=False,
        verbose=0,
        verbose_interval=10,
        bound_check="warn",
        init_max_samples="auto",
        reseed=False,
        learning_method="batch",
        batch_size="auto",
        learning_decay=0.7,
        learning_offset=10.0,
        total_samples=1e6,
        missing="raise",
    ):
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
        self.weight_concentration_prior_type = weight_concentration_prior_type
        self.weight_concentration_prior = weight_concentration_prior
        self.mean_precision_prior = mean_precision_prior
        self.mean_prior = mean_prior
        self.degrees_of_freedom_prior = degrees_of_freedom_prior
        self.covariance_prior = covariance_prior
        self.missing = missing

    def _family(self):
        family = BayesianGaussianFamily(
            self.n_components, self.covariance_type, self.reg_covar,
            self.weight_concentration_prior_type, self.weight_concentration_prior,
            self.mean_precision_prior, self.mean_prior, self.degrees_of_freedom_prior,
            self.covariance_prior)
        family.missing = self.missing == "marginalize"
        return family


__all__ = ["BayesianGaussianMixture"]
