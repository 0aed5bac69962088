"""``fastem.MixtureImputer``: missing values filled in by a Gaussian mixture."""

from numbers import Integral, Real

from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin, clone
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from .gaussian_mixture import GaussianMixture


class MixtureImputer(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Impute missing values (NaN) with a Gaussian mixture fitted by EM over
    the missing coordinates.

    ``fit`` fits a :class:`fastem.GaussianMixture` with
    ``missing='marginalize'`` to X as it is -- no value filled in first:
    each row counts through its observed coordinates, exactly -- and
    ``transform`` replaces every missing value by its expectation given the
    row's observed values under that mixture, sum_k p(k | x_o)
    E[x_m | x_o, k]; with ``sample_posterior=True`` by a draw from that
    posterior (as :class:`sklearn.impute.IterativeImputer`'s option).  A
    scikit-learn transformer: it goes in a ``Pipeline``.

    Parameters
    ----------
    n_components : int, default=5
        The number of mixture components.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}, default='full'
        As :class:`fastem.GaussianMixture`'s.  'full' (or 'tied') is what
        lets an observed feature predict a missing one; 'diag' and
        'spherical' impute each component's means, weighted by the row's
        posterior.
    reg_covar : float, default=1e-6
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
        ``missing='marginalize'``, which is set): the parameters above then
        other than ``sample_posterior`` and ``random_state`` are not used.

    Attributes
    ----------
    mixture_ : GaussianMixture
        The fitted mixture.
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

    def __init__(self, n_components=5, *, covariance_type="full", reg_covar=1e-6, max_iter=100,
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
            NaN marks a missing value.  Anything a fastem mixture's ``fit``
            takes (memmaps, chunk sources, dask arrays).
        y : Ignored

        Returns
        -------
        self : object
        """
        self._validate_params()
        self.random_state_ = check_random_state(self.random_state)
        seed = self.random_state_.randint(2**31 - 1)
        mixture = self._mixture(seed).fit(X)
        self.mixture_ = mixture
        self.n_iter_ = mixture.n_iter_
        self.n_features_in_ = mixture.n_features_in_
        if hasattr(mixture, "feature_names_in_"):
            self.feature_names_in_ = mixture.feature_names_in_
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        return self

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
        rng = self.random_state_ if self.sample_posterior else None
        return self.mixture_.impute(X, sample_posterior=self.sample_posterior,
                                    random_state=rng)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags
