"""``fastem.BernoulliMixture``: mixtures of independent binary features."""

from numbers import Real

from sklearn.base import BaseEstimator, DensityMixin
from sklearn.utils._param_validation import Interval

from .engine.estimator import (
    MISSING_CONSTRAINTS,
    MISSING_DOC,
    ImputerMixin,
    COMMON_PARAMETERS,
    LEARNING_DOC,
    CriteriaMixin,
    MixtureEstimator,
    mixture_constraints,
)
from .families.bernoulli import BernoulliFamily

#: The documentation every estimator with an ``alpha``-smoothed family shares.
COMMON_DOC = """
    n_components : int, default=1
        The number of mixture components.
    tol : float, default=1e-3
        EM stops when the change of the per-sample bound is below this.
    max_iter : int, default=100
        The number of EM iterations to perform.
    n_init : int, default=1
        The number of initialisations; the one with the highest bound is kept.
    init_params : {'kmeans', 'k-means++', 'random', 'random_from_data'}, \\
            default='kmeans'
        How the first responsibilities are drawn (as scikit-learn's
        mixtures: k-means labels of the rows, k-means++ seeds, random
        responsibilities, or random rows); the first parameters are the
        M-step under them.
    weights_init : array-like of shape (n_components,), default=None
        User-provided initial weights.
"""

def engine_doc(reseed_to):
    """The engine's parameters' documentation; ``reseed_to``: where a
    re-seeded component goes (its family's ``replace``)."""
    return f"""
    random_state : int, RandomState instance or None, default=None
        Seeds the initialisation and :meth:`sample`.
    warm_start : bool, default=False
        Start each ``fit`` from the previous solution (``n_init`` ignored).
    verbose : int, default=0
        1 prints each initialisation and iteration; 2 adds times and changes.
    verbose_interval : int, default=10
        Iterations between two prints.
    bound_check : {{'warn', 'raise', 'ignore'}}, default='warn'
        What to do when the bound decreases by more than rounding explains
        (EM guarantees it never decreases): a
        :class:`fastem.BoundDecreaseWarning`, a
        :class:`fastem.BoundDecreaseError`, or nothing.
    init_max_samples : int or "auto", default="auto"
        The most rows 'kmeans' and 'k-means++' look at (a uniform random
        subsample beyond it); "auto": every row in memory, at most
        1,000,000 out of core.
    reseed : bool, default=False
        Move a component with less than 2 samples' worth of responsibility
        {reseed_to}, instead of keeping it empty (a
        :class:`fastem.ReseedWarning` says so).""" + LEARNING_DOC


ENGINE_DOC = engine_doc("halfway between the row the others explain worst and their mean")

ATTRIBUTES_DOC = """
    weights_ : ndarray of shape (n_components,)
    converged_ : bool
    n_iter_ : int
    lower_bound_ : float
        The MAP objective per sample at the last E-step of the best run:
        the mean log-likelihood plus the log prior of the parameters (up
        to its constant) over the number of rows (their total weight).
    lower_bounds_ : list of float
        That bound at every iteration of the best run.
    m_step_bounds_ : ndarray of shape (n_iter_,)
        The bound after each M-step (the seed's chain: ``lower_bounds_[t]
        <= m_step_bounds_[t] <= lower_bounds_[t + 1]`` up to rounding).
    kl_divergences_ : ndarray of shape (n_iter_ - 1,)
        KL(q_t || p(Z | X, theta_{t+1})) per sample.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Defined only when ``X`` has feature names that are all strings.
"""


class BernoulliMixture(CriteriaMixin, ImputerMixin, MixtureEstimator, DensityMixin,
                       BaseEstimator):
    __doc__ = """Mixture of independent Bernoulli features, fitted by EM on fused kernels.

    Each component k has a probability ``theta_kj`` per feature:
    ``p(x | k) = prod_j theta_kj^x_j (1 - theta_kj)^(1 - x_j)``.  A block's
    log-densities are one small matrix product (by the BLAS from 16
    features on).  X holds 0 and 1 only (bool, int or float); anything else
    is a ``ValueError``.

    Parameters
    ----------""" + COMMON_DOC + """
    probabilities_init : array-like of shape (n_components, n_features), \\
            default=None
        User-provided initial probabilities, strictly between 0 and 1.
    alpha : float, default=1e-2
        Additive smoothing, > 0: a Beta(1 + alpha, 1 + alpha) prior on every
        probability, so the M-step is the MAP estimate
        ``(sum_i r_ik x_ij + alpha) / (sum_i r_ik + 2 alpha)`` and no
        probability is ever exactly 0 or 1 (a single unseen value would
        otherwise make a row's likelihood 0).  ``lower_bound_`` includes
        the prior.""" + ENGINE_DOC + MISSING_DOC + """
    Attributes
    ----------""" + ATTRIBUTES_DOC + """    probabilities_ : ndarray of shape (n_components, n_features)
        P(x_j = 1 | component k).

    Notes
    -----
    The parameters are float64 whatever X's dtype; float32 X is computed in
    float32 (twice the SIMD lanes), its sums in float64.  ``sample``
    returns float64 rows of 0 and 1.
    """

    _parameter_constraints: dict = {
        **mixture_constraints(*COMMON_PARAMETERS, "weights_init"),
        "probabilities_init": ["array-like", None],
        "alpha": [Interval(Real, 0, None, closed="neither")],
        **MISSING_CONSTRAINTS,
    }

    def __init__(self, n_components=1, *, tol=1e-3, max_iter=100, n_init=1,
                 init_params="kmeans", weights_init=None, probabilities_init=None, alpha=1e-2,
                 random_state=None, warm_start=False, verbose=0, verbose_interval=10,
                 bound_check="warn", init_max_samples="auto", reseed=False, learning_method="batch",
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
        self.weights_init = weights_init
        self.probabilities_init = probabilities_init
        self.alpha = alpha
        self.missing = missing

    def _family(self):
        family = BernoulliFamily(self.n_components, self.alpha, self.weights_init,
                                 self.probabilities_init)
        family.missing = self.missing == "marginalize"
        return family


__all__ = ["BernoulliMixture"]
