"""The bound check: the seed's inequality chain, verified every iteration.

EM maximises log p(X | theta) = L(q, theta) + KL(q || p(Z | X, theta)).  With
q_t the E-step's posterior under theta_t and theta_{t+1} the M-step's
parameters,

    log p(X | theta_t) = L(q_t, theta_t)              (the E-step: KL = 0)
                      <= L(q_t, theta_{t+1})           (the M-step)
                      <= L(q_t, theta_{t+1}) + KL(q_t || p(Z | X, theta_{t+1}))
                       = log p(X | theta_{t+1}).       (the next E-step)

L(q_t, theta) = E_{q_t}[log p(X, Z | theta)] + H(q_t).  The first term is a
closed form of the pass's statistics (the family's ``expected_log_joint``);
the entropy of the posterior q_t is log p(X | theta_t) - E_{q_t}[log p(X, Z
| theta_t)] (L(q_t, theta_t) is the log-likelihood), so

    L(q_t, theta_{t+1}) = log p(X | theta_t) + E_{q_t}[log p(X, Z | theta_{t+1})]
                                             - E_{q_t}[log p(X, Z | theta_t)]

costs the kernels nothing (and holds for any latent structure: a hidden
Markov model's q is not a product over rows).  Both inequalities are
checked, each on its own:

* the M-step must not lower L(q_t, .) -- beyond the slack its family
  declares (``reg_covar`` moves the M-step off the maximiser by an exact,
  computable amount) and rounding; a failure names the M-step;
* the KL the next E-step reveals, log p(X | theta_{t+1}) - L(q_t,
  theta_{t+1}), must not be negative beyond rounding; a failure names the
  E-step.

Rounding: the per-row log-likelihoods are computed in the data's dtype, so
per-sample values carry an error of a few ``eps * n_features`` times the
mean magnitude of the per-row values.

A variational family (``exact_em = False``) has no exact posterior: its
bound (an ELBO) is checked never to decrease, beyond its M-step's slack and
rounding.

A failure means the numerics broke EM: the estimator warns (or raises, with
``bound_check="raise"``), naming the step, the iteration and the size of the
drop.
"""

import warnings

import numpy as np


class BoundDecreaseWarning(RuntimeWarning):
    """The EM lower bound decreased by more than rounding and reg_covar allow."""


class BoundDecreaseError(ArithmeticError):
    """Raised instead of ``BoundDecreaseWarning`` when ``bound_check="raise"``."""


def rounding_tolerance(dtype, n_features, mean_abs_lpn):
    """How far rounding alone may move a per-sample bound."""
    eps = np.finfo(dtype).eps
    return 8.0 * (n_features + 1) * eps * (mean_abs_lpn + 1.0)


_ADVICE = (
    " EM never decreases the bound in exact arithmetic, so the numerics of this fit "
    "broke down: try float64 data, a larger reg_covar, or scaling the data."
)


def m_step_message(n_iter, before, after, allowed, dtype):
    return (
        f"The EM lower bound decreased in the M-step of iteration {n_iter}: L(q, theta) "
        f"went from {before:.12g} to {after:.12g}, a drop of {before - after:.3e} per "
        f"sample, more than the {allowed:.3e} that reg_covar and "
        f"{np.dtype(dtype).name} rounding can explain." + _ADVICE
    )


def e_step_message(n_iter, log_likelihood, bound, allowed, dtype):
    return (
        f"The EM lower bound decreased in the E-step of iteration {n_iter}: the "
        f"log-likelihood {log_likelihood:.12g} is below the bound {bound:.12g} of the "
        f"previous M-step, a negative KL divergence of {log_likelihood - bound:.3e} per "
        f"sample, beyond the {allowed:.3e} that {np.dtype(dtype).name} rounding can "
        "explain." + _ADVICE
    )


def variational_message(n_iter, previous, current, allowed, dtype):
    return (
        f"The variational lower bound decreased at iteration {n_iter}: from "
        f"{previous:.12g} to {current:.12g}, a drop of {previous - current:.3e}, more "
        f"than the {allowed:.3e} that reg_covar and {np.dtype(dtype).name} rounding can "
        "explain." + _ADVICE
    )


class BoundChecker:
    """Checks one run of EM, iteration by iteration, and keeps its chain.

    ``policy``: "warn", "raise" or "ignore"; ``exact``: whether the family's
    E-step is an exact posterior (then the chain is kept and checked).
    """

    def __init__(self, policy, exact, dtype, n_features, stacklevel=5):
        self.policy = policy
        self.exact = exact
        self.dtype = np.dtype(dtype)
        self.n_features = n_features
        self.stacklevel = stacklevel
        self.m_step_bounds = []  # L(q_t, theta_{t+1}) per sample
        self.kl_divergences = []  # KL(q_t || p(Z | X, theta_{t+1})) per sample
        self._previous = None  # the last variational bound
        self._scale = 0.0  # the rounding scale of the last M-step's bound

    def _rounding(self, stats):
        magnitude = max(stats.sum_abs_lpn / stats.n_samples, self._scale)
        return rounding_tolerance(self.dtype, self.n_features, magnitude)

    def _fail(self, message):
        if self.policy == "raise":
            raise BoundDecreaseError(message)
        warnings.warn(message, BoundDecreaseWarning, stacklevel=self.stacklevel)

    def e_step(self, n_iter, stats, prior=0.0):
        """The E-step of iteration ``n_iter``: the KL divergence between the
        previous q and the new posterior is log p(X | theta) - L(q_prev,
        theta), never negative.  ``prior``: log p(theta) per sample, for a
        MAP family (on both sides)."""
        if not self.exact or not self.m_step_bounds:
            return
        log_likelihood = stats.sum_lpn / stats.n_samples + prior
        bound = self.m_step_bounds[-1]
        kl = log_likelihood - bound
        self.kl_divergences.append(kl)
        allowed = self._rounding(stats)
        if self.policy != "ignore" and -kl > allowed:
            self._fail(e_step_message(n_iter, log_likelihood, bound, allowed, self.dtype))

    def m_step(self, n_iter, stats, m_step_bound, slack, scale, check=True, prior=0.0):
        """The M-step of iteration ``n_iter`` took L(q, .) from the E-step's
        log-likelihood to ``m_step_bound`` (both per sample); ``slack`` is
        what the family allows it to lose and ``scale`` the size of the terms
        of its closed form (both per sample); ``prior``: the E-step
        parameters' log p(theta) per sample (a MAP family's, else 0)."""
        self.m_step_bounds.append(m_step_bound)
        self._scale = scale
        if not check or self.policy == "ignore":
            return
        before = stats.sum_lpn / stats.n_samples + prior
        allowed = slack + self._rounding(stats)
        if before - m_step_bound > allowed:
            self._fail(m_step_message(n_iter, before, m_step_bound, allowed, self.dtype))

    def variational(self, n_iter, stats, bound, slack, scale=0.0, check=True):
        """A variational bound (a total over the rows) after the M-step of
        iteration ``n_iter``, against the previous iteration's; ``scale``:
        the size of its terms per unit weight (its rounding scale)."""
        previous, self._previous = self._previous, bound
        if previous is None or not check or self.policy == "ignore":
            return
        allowed = slack + stats.n_samples * rounding_tolerance(
            self.dtype, self.n_features, max(stats.sum_abs_lpn / stats.n_samples, scale))
        if previous - bound > allowed:
            self._fail(variational_message(n_iter, previous, bound, allowed, self.dtype))
