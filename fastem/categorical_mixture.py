"""``fastem.CategoricalMixture``: latent class analysis of categorical features."""

from numbers import Real

from sklearn.base import BaseEstimator, DensityMixin
from sklearn.naive_bayes import CategoricalNB
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
from .families.categorical import CategoricalFamily, UnknownCategoryError


class CategoricalMixture(CriteriaMixin, ImputerMixin, MixtureEstimator, DensityMixin,
                         BaseEstimator):
    __doc__ = """Mixture of independent categorical features (latent class analysis).

    Each column of X holds integer category codes 0..c_j - 1 (as
    scikit-learn's ``CategoricalNB``: ``OrdinalEncoder``'s output, say);
    component k has a probability vector over each feature's categories,
    and the features are independent given the component.  Negative or
    non-integer codes are a ``ValueError``; at ``predict``, a code the
    model never saw (not below ``n_categories_``) is a
    ``fastem.UnknownCategoryError`` (a ``ValueError`` and an ``IndexError``,
    which ``CategoricalNB`` raises).

    Parameters
    ----------""" + COMMON_DOC + """
    probabilities_init : list of array-like, default=None
        User-provided initial probabilities: one (n_components, c_j) array
        per feature, rows positive and summing to 1 (its widths then set
        ``n_categories_``).
    alpha : float, default=1e-2
        Additive smoothing, > 0: a Dirichlet(1 + alpha) prior on every
        probability vector, so the M-step is the MAP estimate ``(count +
        alpha) / (sum_i r_ik + c_j alpha)`` and no category's probability is
        ever 0 (one unseen code would otherwise make a row's likelihood 0).
        ``lower_bound_`` includes the prior.
    min_categories : int or array-like of shape (n_features,), default=None
        The least number of categories of each feature (``CategoricalNB``'s
        parameter): room for codes absent from the training data.""" + ENGINE_DOC + MISSING_DOC + """
        :meth:`impute` gives each missing feature its most probable category
        under the row's posterior (or, with ``sample_posterior``, a draw).
    Attributes
    ----------""" + ATTRIBUTES_DOC + """    probabilities_ : list of ndarray
        One (n_components, n_categories_[j]) array per feature: P(x_j = c |
        component k).
    n_categories_ : ndarray of shape (n_features,), dtype=int64
        The number of categories of each feature.

    Notes
    -----
    The parameters are float64 whatever X's dtype.  Internally the
    categories of all features sit side by side in one (n_components,
    sum(n_categories_)) table, which the kernel gathers from.  ``sample``
    returns float64 codes.
    """

    _parameter_constraints: dict = {
        **mixture_constraints(*COMMON_PARAMETERS, "weights_init"),
        "probabilities_init": [list, tuple, None],
        "alpha": [Interval(Real, 0, None, closed="neither")],
        "min_categories": CategoricalNB._parameter_constraints["min_categories"],
        **MISSING_CONSTRAINTS,
    }

    def __init__(self, n_components=1, *, tol=1e-3, max_iter=100, n_init=1,
                 init_params="kmeans", weights_init=None, probabilities_init=None, alpha=1e-2,
                 min_categories=None, random_state=None, warm_start=False, verbose=0,
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
        self.weights_init = weights_init
        self.probabilities_init = probabilities_init
        self.alpha = alpha
        self.min_categories = min_categories
        self.missing = missing

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.positive_only = True
        tags.input_tags.categorical = True
        return tags

    def _family(self):
        family = CategoricalFamily(self.n_components, self.alpha, self.weights_init,
                                   self.probabilities_init, self.min_categories)
        family.missing = self.missing == "marginalize"
        return family


__all__ = ["CategoricalMixture", "UnknownCategoryError"]
