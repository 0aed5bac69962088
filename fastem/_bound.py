"""The bound check: EM's promise that the log-likelihood never decreases.

The E-step makes the bound L(q, theta) equal to log p(X | theta); the M-step
raises L with q held fixed; so log p(X | theta) cannot go down.  Two things
can legitimately bend that promise, and the check allows for each exactly:

* ``reg_covar``: adding ``reg`` to a covariance's diagonal moves the M-step
  off the maximiser, which can lower the bound by at most the M-step's loss
  (``fastem._gaussian._reg_loss_eigen``), divided by the number of rows;
* rounding: the per-row log-likelihoods are computed in the data's dtype,
  so the mean carries an error of a few ``eps * n_features`` times the mean
  magnitude of the per-row values.

A larger drop means the numerics broke EM: the estimator warns (or raises,
with ``bound_check="raise"``), naming the iteration and the size of the drop.
"""

import numpy as np


class BoundDecreaseWarning(RuntimeWarning):
    """The EM lower bound decreased by more than rounding and reg_covar allow."""


class BoundDecreaseError(ArithmeticError):
    """Raised instead of ``BoundDecreaseWarning`` when ``bound_check="raise"``."""


def rounding_tolerance(dtype, n_features, mean_abs_lpn):
    """How far rounding alone may move the mean log-likelihood."""
    eps = np.finfo(dtype).eps
    return 8.0 * (n_features + 1) * eps * (mean_abs_lpn + 1.0)


def bound_drop_message(n_iter, previous, current, allowed, dtype):
    return (
        f"The EM lower bound decreased at iteration {n_iter}: from {previous:.12g} "
        f"to {current:.12g}, a drop of {previous - current:.3e} per sample, more than "
        f"the {allowed:.3e} that reg_covar and {np.dtype(dtype).name} rounding can "
        "explain. EM never decreases the bound in exact arithmetic, so the numerics "
        "of this fit broke down: try float64 data, a larger reg_covar, or scaling "
        "the data."
    )
