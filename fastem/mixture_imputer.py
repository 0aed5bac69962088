"""``fastem.MixtureImputer``: missing values filled in by a Gaussian mixture."""

import warnings
from numbers import Integral, Real

import numpy as np

from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin, clone
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from .gaussian_mixture import GaussianMixture


class MixtureImputer(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Impute missing values (NaN) with a Gaussian mixture fitted by EM over
    the missing coordinates.

    ``fit`` standardises each feature (its observed values' mean and
    standard deviation) and fits a :class:`fastem.GaussianMixture` with
    ``missing='marginalize'`` to the data as they are -- no value filled in
    first: each row counts through its observed coordinates, exactly.
    ``transform`` replaces every missing value by its expectation given the
    row's observed values under that mixture, sum_k p(k | x_o)
    E[x_m | x_o, k] (back in the feature's units); with
    ``sample_posterior=True`` by a draw from that posterior (as
    :class:`sklearn.impute.IterativeImputer`'s option).  Observed values
    pass through unchanged.  A scikit-learn transformer: it goes in a
    ``Pipeline``.

    Parameters
    ----------
    n_components : int, default=2
        The number of mixture components.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}, default='full'
        As :class:`fastem.GaussianMixture`'s.  'full' (or 'tied') is what
        lets an observed feature predict a missing one; 'diag' and
        'spherical' impute each component's means, weighted by the row's
        posterior.
    reg_covar : float, default=1e-2
        Added to the diagonal of every covariance, in standardised units (a
        share of each feature's variance): a little shrinkage keeps the
        conditional means stable on small samples.
    max_iter : int, default=100
    tol : float, default=1e-3
    n_init : int, default=1
    init_params : {'kmeans', 'k-means++', 'random', 'random_from_data'}, \
            default='kmeans'
        As :class:`fastem.GaussianMixture`'s (the initialisation looks at the
        rows with each missing value replaced by its column's observed mean).
    sample_posterior : bool, default=False
        Draw each missing value from its posterior instead of taking the
        posterior mean.
    random_state : int, RandomState instance or None, default=None
        Seeds the mixture's initialisation and the draws of
        ``sample_posterior``.
    mixture : estimator or None, default=None
        A fastem mixture to use instead (cloned; it must take
        ``missing='marginalize'``, which is set): the parameters above, but
        ``sample_posterior`` and ``random_state``, are then not used.

    Attributes
    ----------
    mixture_ : GaussianMixture
        The fitted mixture (of the standardised features).
    mean_, scale_ : ndarray of shape (n_features_in_,)
        Each feature's observed mean and standard deviation (1 where it is
        0): the standardisation.
    n_iter_ : int
        The mixture's EM iterations.
    random_state_ : RandomState
        The draws' generator (``sample_posterior``), kept across calls to
        ``transform``.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Defined only when ``X`` has feature names that are all strings.
    """

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "covariance_type": [StrOptions({"full", "tied", "diag", "spherical"})],
        "reg_covar": [Interval(Real, 0.0, None, closed="left")],
        "max_iter": [Interval(Integral, 0, None, closed="left")],
        "tol": [Interval(Real, 0.0, None, closed="left")],
        "n_init": [Interval(Integral, 1, None, closed="left")],
        "init_params": [StrOptions({"kmeans", "k-means++", "random", "random_from_data"})],
        "sample_posterior": ["boolean"],
        "random_state": ["random_state"],
        "mixture": [HasMethods(["fit", "impute"]), None],
    }

    def __init__(self, n_components=2, *, covariance_type="full", reg_covar=1e-2, max_iter=100,
                 tol=1e-3, n_init=1, init_params="kmeans", sample_posterior=False,
                 random_state=None, mixture=None):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.tol = tol
        self.n_init = n_init
        self.init_params = init_params
        self.sample_posterior = sample_posterior
        self.random_state = random_state
        self.mixture = mixture

    def _mixture(self, random_state):
        if self.mixture is not None:
            return clone(self.mixture).set_params(missing="marginalize")
        return GaussianMixture(
            self.n_components, covariance_type=self.covariance_type, reg_covar=self.reg_covar,
            max_iter=self.max_iter, tol=self.tol, n_init=self.n_init,
            init_params=self.init_params, random_state=random_state, missing="marginalize")

    def fit(self, X, y=None):
        """Fit the mixture to X, holes and all.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            NaN marks a missing value.
        y : Ignored

        Returns
        -------
        self : object
        """
        self._validate_params()
        X = validate_data(self, X, dtype=[np.float64, np.float32], ensure_all_finite="allow-nan",
                          ensure_min_samples=2)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN column: the mixture says
            mean = np.nanmean(X, axis=0, dtype=np.float64)
            scale = np.nanstd(X, axis=0, dtype=np.float64)
        scale[~(scale > 0)] = 1.0
        mean[np.isnan(mean)] = 0.0
        self.mean_, self.scale_ = mean, scale
        self.random_state_ = check_random_state(self.random_state)
        seed = self.random_state_.randint(2**31 - 1)
        self.mixture_ = self._mixture(seed).fit(self._standardise(X))
        self.n_iter_ = self.mixture_.n_iter_
        return self

    def _standardise(self, X):
        return ((X - self.mean_) / self.scale_).astype(X.dtype, copy=False)

    def transform(self, X):
        """X with each missing value imputed.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        X_imputed : ndarray of shape (n_samples, n_features)
        """
        check_is_fitted(self, "mixture_")
        X = validate_data(self, X, dtype=[np.float64, np.float32], ensure_all_finite="allow-nan",
                          reset=False)
        rng = self.random_state_ if self.sample_posterior else None
        out = np.array(X, dtype=np.result_type(X.dtype, self.mixture_.means_.dtype))
        holes = np.isnan(out)
        rows = np.flatnonzero(holes.any(axis=1))
        if rows.size:
            filled = self.mixture_.impute(self._standardise(X[rows]),
                                          sample_posterior=self.sample_posterior,
                                          random_state=rng)
            filled = filled * self.scale_ + self.mean_
            part = out[rows]
            part[holes[rows]] = filled[holes[rows]]
            out[rows] = part
        return out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags
