"""``fastem.PoissonMixture``: mixtures of independent counts."""

from numbers import Real

from sklearn.base import BaseEstimator, DensityMixin
from sklearn.utils._param_validation import Interval

from .bernoulli_mixture import ATTRIBUTES_DOC, COMMON_DOC, ENGINE_DOC
from .engine.estimator import (
    MISSING_CONSTRAINTS,
    MISSING_DOC,
    ImputerMixin,
    COMMON_PARAMETERS,
    CriteriaMixin,
    MixtureEstimator,
    mixture_constraints,
)
from .families.poisson import PoissonFamily


class PoissonMixture(CriteriaMixin, ImputerMixin, MixtureEstimator, DensityMixin,
                       BaseEstimator):
    __doc__ = """Mixture of independent Poisson counts, fitted by EM on fused kernels.

    Each component k has a rate ``lambda_kj`` per feature:
    ``p(x | k) = prod_j lambda_kj^x_j exp(-lambda_kj) / x_j!``.  The
    log-densities of a block are one small matrix product; ``sum_j log
    x_j!`` depends on the row alone and is computed once per row and pass.
    X holds non-negative integers (int or float); anything else is a
    ``ValueError``.

    Parameters
    ----------""" + COMMON_DOC + """
    rates_init : array-like of shape (n_components, n_features), default=None
        User-provided initial rates, positive.
    alpha : float, default=1e-2
        Smoothing, > 0: a Gamma(shape 1 + alpha, rate alpha) prior on every
        rate, so the M-step is the MAP estimate ``(sum_i r_ik x_ij + alpha)
        / (sum_i r_ik + alpha)`` and no rate is ever 0 (a count seen once
        would otherwise make a row's likelihood 0).  ``lower_bound_``
        includes the prior.""" + ENGINE_DOC + MISSING_DOC + """
    Attributes
    ----------""" + ATTRIBUTES_DOC + """    rates_ : ndarray of shape (n_components, n_features)
        The expected count of feature j in component k.

    Notes
    -----
    The parameters are float64 whatever X's dtype; float32 X is computed in
    float32, its sums in float64.  ``sample`` returns float64 counts.
    """

    _parameter_constraints: dict = {
        **mixture_constraints(*COMMON_PARAMETERS, "weights_init"),
        "rates_init": ["array-like", None],
        "alpha": [Interval(Real, 0, None, closed="neither")],
        **MISSING_CONSTRAINTS,
    }

    def __init__(self, n_components=1, *, tol=1e-3, max_iter=100, n_init=1,
                 init_params="kmeans", weights_init=None, rates_init=None, alpha=1e-2,
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
        self.rates_init = rates_init
        self.alpha = alpha
        self.missing = missing

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.positive_only = True  # counts: scikit-learn's checks pass
        tags.input_tags.categorical = True  # non-negative integers
        return tags

    def _family(self):
        family = PoissonFamily(self.n_components, self.alpha, self.weights_init, self.rates_init)
        family.missing = self.missing == "marginalize"
        return family


__all__ = ["PoissonMixture"]
