"""``fastem.GaussianMixture``: scikit-learn's estimator on the EM engine."""

from sklearn.base import BaseEstimator, DensityMixin
from sklearn.mixture import GaussianMixture as _SkGaussianMixture

from .engine.bound import BoundDecreaseError, BoundDecreaseWarning
from .engine.estimator import (
    ENGINE_CONSTRAINTS,
    LEARNING_DOC,
    MISSING_CONSTRAINTS,
    MISSING_DOC,
    CriteriaMixin,
    ImputerMixin,
    MixtureEstimator,
)
from .families.gaussian import GaussianFamily


class GaussianMixture(CriteriaMixin, ImputerMixin, MixtureEstimator, DensityMixin,
                      BaseEstimator):
    __doc__ = """Gaussian mixture fitted by EM on fused, multi-threaded Numba kernels.

    A drop-in replacement for :class:`sklearn.mixture.GaussianMixture`: same
    parameters, attributes, methods, warnings and errors, and the same
    initial parameters for the same ``random_state``.  Every EM iteration is
    one pass over ``X`` that computes the responsibilities and the M-step's
    sufficient statistics together, in blocks, without an
    ``n_samples x n_components`` temporary.

    Parameters
    ----------
    n_components : int, default=1
        The number of mixture components.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}, default='full'
        The covariance parameters: one general matrix per component
        ('full'), one matrix shared by all ('tied'), one diagonal per
        component ('diag'), or one variance per component ('spherical').
    tol : float, default=1e-3
        EM stops when the change of the per-sample mean log-likelihood (the
        lower bound) is below this.
    reg_covar : float, default=1e-6
        Non-negative value added to the diagonal of every covariance.
    max_iter : int, default=100
        The number of EM iterations to perform.
    n_init : int, default=1
        The number of initialisations; the one with the highest bound is kept.
    init_params : {'kmeans', 'k-means++', 'random', 'random_from_data'}, \
            default='kmeans'
        How responsibilities are initialised (as scikit-learn, with the same
        random streams).
    weights_init : array-like of shape (n_components,), default=None
        User-provided initial weights.
    means_init : array-like of shape (n_components, n_features), default=None
        User-provided initial means.
    precisions_init : array-like, default=None
        User-provided initial precisions; shape as ``precisions_``.
    random_state : int, RandomState instance or None, default=None
        Seeds the initialisation and :meth:`sample`.
    warm_start : bool, default=False
        Start each ``fit`` from the previous solution (``n_init`` ignored).
    verbose : int, default=0
        1 prints each initialisation and iteration; 2 adds times and changes.
    verbose_interval : int, default=10
        Iterations between two prints.
    bound_check : {'warn', 'raise', 'ignore'}, default='warn'
        What to do when the lower bound decreases by more than ``reg_covar``
        and rounding can explain (EM guarantees it never decreases): emit a
        :class:`fastem.BoundDecreaseWarning`, raise a
        :class:`fastem.BoundDecreaseError`, or nothing.  Not a scikit-learn
        parameter; keyword-only and last, so scikit-learn code is unaffected.
    init_max_samples : int or "auto", default="auto"
        The most rows the 'kmeans' and 'k-means++' initialisations look at
        (at least ``n_components``): above it they run on a uniform random
        subsample of that many rows
        (drawn with ``random_state``), and EM then uses every row.  "auto":
        every row of an in-memory array (scikit-learn's behaviour), at most
        1,000,000 rows of an out-of-core array or chunk source.  Not a
        scikit-learn parameter (keyword-only).
    reseed : bool, default=False
        Recover from collapsed and empty components instead of failing:
        after each M-step (and the initialisation), a component with less
        than 2 samples' worth of responsibility, or whose covariance is not
        positive-definite, moves to the sample the other components explain
        worst, with their average covariance and weight
        ``1 / n_components``, and EM goes on; a :class:`fastem.ReseedWarning`
        says what was re-seeded.  scikit-learn has no such option (it raises
        "ill-defined empirical covariance", or keeps an empty component).
        Not a scikit-learn parameter (keyword-only).""" + LEARNING_DOC + MISSING_DOC + """
    Attributes
    ----------
    weights_ : ndarray of shape (n_components,)
    means_ : ndarray of shape (n_components, n_features)
    covariances_ : ndarray
        (n_components, n_features, n_features) if 'full', (n_features,
        n_features) if 'tied', (n_components, n_features) if 'diag',
        (n_components,) if 'spherical'.
    precisions_ : ndarray
        Inverses of the covariances, same shapes.
    precisions_cholesky_ : ndarray
        Upper-triangular ``U`` with ``U @ U.T == precisions_`` (full, tied),
        or ``sqrt(precisions_)``.
    converged_ : bool
    n_iter_ : int
    lower_bound_ : float
        Mean log-likelihood per sample at the last E-step of the best run.
    lower_bounds_ : list of float
        The lower bound at every iteration of the best run: the mean
        log-likelihood of its E-step, L(q_t, theta_t).
    m_step_bounds_ : ndarray of shape (n_iter_,)
        The bound after each M-step of the best run, L(q_t, theta_{t+1}) per
        sample (not in scikit-learn): ``lower_bounds_[t] <=
        m_step_bounds_[t] <= lower_bounds_[t + 1]`` up to ``reg_covar``'s
        slack and rounding, the seed's chain that the bound check verifies.
    kl_divergences_ : ndarray of shape (n_iter_ - 1,)
        KL(q_t || p(Z | X, theta_{t+1})) per sample: how much each E-step
        gained over its M-step's bound, ``lower_bounds_[t + 1] -
        m_step_bounds_[t]`` (not in scikit-learn).
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Defined only when ``X`` has feature names that are all strings.
    n_rows_all_missing_ : int
        With ``missing='marginalize'``: the rows of the fit's ``X`` with no
        observed value (they take no part in it).

    Notes
    -----
    Every method taking ``X`` also accepts data that is not one in-memory
    array: a ``numpy.memmap`` (``np.load(path, mmap_mode="r")``), an h5py
    dataset, a zarr array, or a *chunk source* -- a function that returns a
    new iterable of 2-D row blocks each time it is called (every call the
    same rows in the same order).  Each EM iteration then streams the rows
    once, a chunk of about 8 MiB at a time; nothing copies the whole input.
    The fit equals that of the same rows in memory (same bits) when the
    initialisation sees the same rows; see ``init_max_samples``.
    """

    # scikit-learn's own constraint objects, so that every parameter error
    # reads exactly as scikit-learn's (the option sets print in its order).
    _parameter_constraints: dict = {
        **_SkGaussianMixture._parameter_constraints,
        **ENGINE_CONSTRAINTS,
        **MISSING_CONSTRAINTS,
    }

    def __init__(
        self,
        n_components=1,
        *,
        covariance_type="full",
        tol=1e-3,
        reg_covar=1e-6,
        max_iter=100,
        n_init=1,
        init_params="kmeans",
        weights_init=None,
        means_init=None,
        precisions_init=None,
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
        self.weights_init = weights_init
        self.means_init = means_init
        self.precisions_init = precisions_init
        self.missing = missing

    def _family(self):
        family = GaussianFamily(self.n_components, self.covariance_type, self.reg_covar,
                                self.weights_init, self.means_init, self.precisions_init)
        family.missing = self.missing == "marginalize"
        return family


__all__ = ["GaussianMixture", "BoundDecreaseWarning", "BoundDecreaseError"]
