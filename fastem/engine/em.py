"""The EM driver: one loop for every family.

``em_steps`` is a generator: it yields the parameters of each E-step it
needs and is sent back that pass's ``Stats``; ``run_em`` serves it one pass
at a time (``fit``), ``fastem.select`` serves several fits with one read of
the data per round.  Between passes it runs the family's M-step, re-seeds
when asked, records the bound and checks the seed's chain
(``fastem.engine.bound``), and decides convergence as scikit-learn does:
``n_init`` runs, the change of the bound below ``tol``, the run with the
highest bound kept, a ``ConvergenceWarning`` when that run did not converge.
"""

import warnings
from time import time

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state

from ..data.chunks import kernel_array
from . import missing, passes
from .bound import BoundChecker
from .init import initial_responsibilities
from .reseed import Reseeder, ReseedWarning, reseed_message


def run_em(est, family, X, sw, positive, on_iteration=None, on_block=None):
    """``em_steps`` with each pass it asks for made at once;
    ``on_iteration(lower_bound, seconds)``, if given, hears of each
    iteration's bound and how long its pass took; ``on_block(index, count,
    start, stop, value)`` of each step of incremental or online EM
    (``fastem.engine.incremental``)."""
    pass_seconds = [0.0]

    def report(lower_bound):
        on_iteration(lower_bound, pass_seconds[0])

    method = getattr(est, "learning_method", "batch")
    if method != "batch":
        from .incremental import run_incremental, run_online

        run = run_incremental if method == "incremental" else run_online
        run(est, family, X, sw, positive, on_iteration, on_block)
        return
    steps = em_steps(est, family, X, sw, positive,
                     on_iteration=report if on_iteration is not None else None)
    try:
        params = next(steps)
        while True:
            started = time()
            stats = passes.run_pass(X, family, params, want_stats=True, sample_weight=sw)
            pass_seconds[0] = time() - started
            params = steps.send(stats)
    except StopIteration:
        pass


def _check_sizes(n_samples, n_components, positive):
    if n_samples < n_components:
        raise ValueError(
            "Expected n_samples >= n_components "
            f"but got n_components = {n_components}, "
            f"n_samples = {n_samples}"
        )
    if positive < n_components:
        raise ValueError(
            f"Expected at least n_components = {n_components} rows with a positive "
            f"sample_weight, but got {positive}."
        )


def em_steps(est, family, X, sw, positive, cache=None, on_iteration=None):
    """The fit of the estimator ``est`` (its EM parameters: ``n_init``,
    ``max_iter``, ``tol``, ``warm_start``, ``random_state``, ``init_params``,
    ``init_max_samples``, ``reseed``, ``bound_check``, ``verbose``) by its
    ``family``, on validated ``X`` and sample weights (``positive`` of them
    > 0), as a generator (see the module docstring); ``cache`` shares the
    family's data-wide quantities between fits; ``on_iteration(lower_bound)``
    hears of each iteration's bound.  The fitted attributes are set when it
    finishes."""
    n_samples, n_features = X.shape
    sw, do_init, random_state = start_fit(est, family, X, sw, positive, cache)
    n_init = est.n_init if do_init else 1
    reseeder = Reseeder(family, family.init_X, sw) if est.reseed else None

    max_lower_bound = -np.inf
    best = None
    best_converged = False
    reseeds = []  # (where, components, nk, rows) of every run
    for init in range(n_init):
        est._init_index = init  # read by the command line's progress lines
        est._print_verbose_msg_init_beg(init)
        events = []
        params = initial_params(est, family, X, sw, do_init, random_state, reseeder, events)
        lower_bound = -np.inf if do_init else est.lower_bound_
        lower_bounds = []
        checker = BoundChecker(est.bound_check, family.exact_em, family.kernel_dtype, n_features)
        # bound_check="ignore": no chain to check, and none kept (it costs two
        # closed forms an iteration: ~0.1 ms, a share of tiny problems' time).
        chain = family.exact_em and est.bound_check != "ignore"
        converged = False
        for n_iter in range(1, est.max_iter + 1):
            prev_lower_bound = lower_bound
            stats = yield params
            prior = family.log_prior(params) / stats.n_samples
            checker.e_step(n_iter, stats, prior)
            seen = len(events)
            estimate, slack = family.m_step(stats)
            if reseeder is not None:
                estimate = reseeder(estimate, stats.nk, n_iter, events)
            reseeded = len(events) > seen
            new_params = family.finish(estimate)
            lower_bound, bound_scale = family.bound(stats, params, new_params)
            if chain:
                # Weights that sum to 1 + delta (weights_init is accepted
                # within 1e-6 of 1) lift the E-step's log-likelihood by
                # log(1 + delta), which an M-step to weights summing to 1
                # gives back.
                lifted = max(0.0, family.log_mass(params) - family.log_mass(new_params))
                # L(q, theta) = E_q[log p(X, Z | theta)] + H(q), and the
                # E-step's q is the posterior under its own parameters:
                # H(q) = log p(X | params) - E_q[log p(X, Z | params)].  So
                # L(q, new_params) is the log-likelihood plus the change of
                # the expected log joint, two closed forms of the statistics.
                # A MAP family's objective adds log p(theta) (its prior) to
                # both sides of the chain: its M-step maximises
                # E_q[log p(X, Z | theta)] + log p(theta).
                joint_old, scale_old = family.expected_log_joint(stats, params)
                joint_new, scale_new = family.expected_log_joint(stats, new_params)
                prior_new = family.log_prior(new_params)
                m_step_bound = (stats.sum_lpn + joint_new - joint_old
                                + prior_new) / stats.n_samples
                checker.m_step(n_iter, stats, m_step_bound, slack / stats.n_samples + lifted,
                               (scale_new + scale_old + abs(prior_new)) / stats.n_samples,
                               check=not reseeded, prior=prior)
            elif not family.exact_em:
                checker.variational(n_iter, stats, lower_bound, slack, bound_scale,
                                    check=not reseeded)
            params = new_params
            lower_bounds.append(lower_bound)
            if on_iteration is not None:
                on_iteration(lower_bound)
            change = lower_bound - prev_lower_bound
            est._print_verbose_msg_iter_end(n_iter, change, lower_bound, n_samples)
            if abs(change) < est.tol and not reseeded:
                converged = True
                break
        reseeds.extend(events)
        if est.max_iter == 0:
            # Initialisation only: keep the last one, with no bound (as scikit-learn).
            best = (params, 0, [], checker)
            continue
        est._print_verbose_msg_init_end(lower_bound, converged)
        if lower_bound > max_lower_bound or max_lower_bound == -np.inf:
            max_lower_bound = lower_bound
            best = (params, n_iter, lower_bounds, checker)
            best_converged = converged

    if reseeds:
        warnings.warn(reseed_message(reseeds), ReseedWarning, stacklevel=4)
    params, n_iter, lower_bounds, checker = best
    chain = None
    if family.exact_em and est.bound_check != "ignore":
        chain = (checker.m_step_bounds, checker.kl_divergences)
    set_fitted(est, family, params, n_iter, lower_bounds, max_lower_bound, best_converged, chain)


def start_fit(est, family, X, sw, positive, cache=None):
    """A fit's set-up: the sizes checked, the family set up for X and
    prepared (its data-wide quantities), the sample weights in its dtype.
    Returns ``(sw, do_init, random_state)``: ``do_init`` False for a warm
    start from the estimator's fitted parameters."""
    _check_sizes(X.shape[0], family.n_components, positive)
    family.setup(X.shape[1], X.dtype)
    if isinstance(sw, np.ndarray):
        # Once in the passes' dtype, so that no pass converts them again.
        sw = kernel_array(sw, family.dtype)
    do_init = not (est.warm_start and hasattr(est, "converged_"))
    random_state = check_random_state(est.random_state)
    family.init_X = X
    if family.missing:
        # One scan and one filled copy for all the fits sharing ``cache``.
        cache = {} if cache is None else cache
        if "missing" not in cache:
            summary = missing.scan(X)
            missing.check_summary(summary)
            # The initialisation and re-seeding look at the rows with each
            # NaN replaced by its column's observed mean.
            cache["missing"] = (summary, missing.filled(X, family.init_fill(summary))
                                if summary.n_incomplete else X)
        family.missing_summary, family.init_X = cache["missing"]
        family.has_missing = family.missing_summary.n_incomplete > 0
    family.prepare(family.init_X if family.prepare_on_filled else X, sw, cache)
    return sw, do_init, random_state


def initial_params(est, family, X, sw, do_init, random_state, reseeder=None, events=None):
    """The parameters of a run's first E-step: from the initialisation
    (``init_params`` on X, the ``*_init`` arrays), or the estimator's own
    for a warm start."""
    if not do_init:
        return family.from_estimator(est)
    estimate = None
    if family.needs_responsibilities():
        X = getattr(family, "init_X", X)
        source = initial_responsibilities(X, sw, est.init_params, family.n_components,
                                          random_state, est.init_max_samples)
        estimate, nk = family.initial_estimate(X, source)
        if reseeder is not None:
            estimate = reseeder(estimate, nk, "initialisation", events)
    return family.initial_params(estimate)


def set_fitted(est, family, params, n_iter, lower_bounds, lower_bound, converged, chain=None):
    """The fitted attributes of the best run (a ``ConvergenceWarning`` when it
    did not converge); ``chain``: ``(m_step_bounds, kl_divergences)``, or
    None when none were kept (then no earlier fit's are left behind)."""
    if not converged and est.max_iter > 0:
        warnings.warn(
            "Best performing initialization did not converge. "
            "Try different init parameters, or increase max_iter, "
            "tol, or check for degenerate data.",
            ConvergenceWarning,
        )
    for name, value in family.fitted_attributes(params).items():
        setattr(est, name, value)
    est.__dict__.pop("_online", None)  # an online fit's state, set again by one
    summary = getattr(family, "missing_summary", None)
    if summary is not None:
        est.n_rows_all_missing_ = summary.n_empty
    elif hasattr(est, "n_rows_all_missing_"):
        del est.n_rows_all_missing_
    est.n_iter_ = n_iter
    est.lower_bounds_ = lower_bounds
    est.lower_bound_ = lower_bound
    est.converged_ = converged
    if chain is not None:
        est.m_step_bounds_ = np.asarray(chain[0], dtype=np.float64)
        est.kl_divergences_ = np.asarray(chain[1], dtype=np.float64)
    else:
        for name in ("m_step_bounds_", "kl_divergences_"):
            if hasattr(est, name):
                delattr(est, name)
