"""Passes over sequences: the hidden Markov models' E-step, Viterbi and the
Baum-Welch driver.  Nothing here knows an emission family.

Rows arrive as one array with ``lengths`` (hmmlearn's convention).  A pass
cuts them into *batches* of whole sequences, about ``BATCH_BYTES`` of
frames each (a sequence longer than that is a batch of its own), and for
each batch:

1. the emission writes the batch's scaled frames (parallel over rows);
2. ``kernels.forward_backward`` runs the recursions (parallel over groups
   of sequences), writing the posteriors and adding the start and
   transition statistics; a sequence the scaled recursion cannot take is
   redone in log space;
3. the emission family's statistics kernel takes the emission statistics
   under the posteriors (parallel over rows).

The batches, the groups and the partitions depend on the lengths alone,
never on the number of threads: the same bits come out for any.
"""

from typing import NamedTuple

import numpy as np

from .. import kernels
from ..data.chunks import kernel_array
from . import passes
from .bound import BoundChecker

#: Bytes of frames and posteriors (16 bytes per row and state) per batch.
BATCH_BYTES = 64 * 2**20

#: Sequences of a batch are spread over at most this many groups (each adds
#: its sequences' start and transition statistics into its own slot).
MAX_GROUPS = 64


def check_lengths(lengths, n_samples):
    """The row bounds (S + 1,) int64 of the sequences ``lengths`` (None: one
    sequence) cut ``n_samples`` rows into; hmmlearn's message when they do
    not sum to the rows."""
    if lengths is None:
        return np.array([0, n_samples], dtype=np.int64)
    lengths = np.asarray(lengths)
    if lengths.ndim == 0:
        lengths = lengths.reshape(1)
    if lengths.ndim != 1 or lengths.size == 0:
        raise ValueError(f"lengths must be a 1-D array of sequence lengths, got shape "
                         f"{lengths.shape}")
    if not (np.issubdtype(lengths.dtype, np.integer)
            or (np.issubdtype(lengths.dtype, np.floating)
                and np.all(np.isfinite(lengths)) and np.all(lengths == np.round(lengths)))):
        raise ValueError(f"lengths must be integers, got {lengths.dtype}")
    lengths = lengths.astype(np.int64)
    if np.any(lengths < 0):
        raise ValueError("lengths must be non-negative")
    bounds = np.zeros(lengths.size + 1, dtype=np.int64)
    np.cumsum(lengths, out=bounds[1:])
    if bounds[-1] != n_samples:
        raise ValueError(f"lengths array {lengths} doesn't sum to {n_samples} samples")
    return bounds


def batches(bounds, n_components):
    """``(row_lo, row_hi, seq_lo, seq_hi)`` of each batch of whole sequences."""
    limit = max(1, BATCH_BYTES // (16 * max(1, n_components)))
    out = []
    s, n_seq = 0, bounds.size - 1
    while s < n_seq:
        e = int(np.searchsorted(bounds, bounds[s] + limit, side="right")) - 1
        e = min(max(e, s + 1), n_seq)
        out.append((int(bounds[s]), int(bounds[e]), s, e))
        s = e
    return out


def groups(local_bounds):
    """Group bounds (G + 1,) over a batch's sequences, balanced by rows."""
    n_seq = local_bounds.size - 1
    G = min(n_seq, MAX_GROUPS)
    total = local_bounds[-1]
    targets = (np.arange(1, G) * total) // G
    cuts = np.searchsorted(local_bounds[1:], targets, side="left") + 1
    out = np.concatenate([[0], cuts, [n_seq]]).astype(np.int64)
    return np.maximum.accumulate(np.minimum(out, n_seq))


class SequenceStats(NamedTuple):
    """What one E-step over every sequence returns (float64)."""

    n_samples: float  # rows
    sum_lpn: float  # log p(X) = sum of the sequences' log-likelihoods
    sum_abs_lpn: float  # the rounding scale: sum_t |max_k log p(x_t | k)| + |log p(X)|
    seq_ll: np.ndarray  # (S,) each sequence's log-likelihood
    start: np.ndarray  # (K,) sum over sequences of the first state's posterior
    trans: np.ndarray  # (K, K) expected transition counts
    emission: object  # passes.Stats of the emission family, under the posteriors


class LazyRows:
    """Rows read a batch at a time (a memory-mapped ``.npy``: data larger
    than memory): ``rows[lo:hi]`` is the kernel-ready copy of those rows,
    as ``check`` (the estimator's validation of a block) returns them."""

    def __init__(self, X, dtype, check):
        self.X = X
        self.dtype = np.dtype(dtype)
        self.shape = X.shape
        self.check = check

    def __getitem__(self, rows):
        return kernel_array(self.check(self.X[rows]), self.dtype)


def row_weights(seq_weight, bounds, row_lo, row_hi, seq_lo, seq_hi, dtype):
    """Each row's weight (its sequence's) for rows row_lo:row_hi, or an
    empty array for unit weights."""
    if seq_weight is None:
        return np.empty(0, dtype=dtype)
    lengths = np.diff(bounds[seq_lo:seq_hi + 1])
    return kernel_array(np.repeat(seq_weight[seq_lo:seq_hi], lengths), dtype)


def e_step(X, bounds, emission, startprob, transmat, *, want_stats=True, posteriors=None,
           seq_weight=None):
    """Forward-backward over every sequence of X (kernel-ready rows, or
    ``LazyRows``).

    Returns ``SequenceStats``; writes each row's posterior state
    probabilities into ``posteriors`` ((n, K) float64) when given.
    ``seq_weight`` (S,): each sequence counts that many times in the
    statistics and the log-likelihood (``n_samples`` is then the weighted
    number of rows)."""
    distributed = getattr(X, "distributed_e_step", None)
    if distributed is not None and posteriors is None:  # a dask array, on the cluster
        return distributed(emission, startprob, transmat, want_stats, seq_weight)
    with np.errstate(under="ignore"):
        return _e_step(X, bounds, emission, startprob, transmat, want_stats, posteriors,
                       seq_weight)


def _e_step(X, bounds, emission, startprob, transmat, want_stats, posteriors, seq_weight):
    n, K = X.shape[0], startprob.shape[0]
    startprob = kernel_array(startprob, np.float64)
    transmat = kernel_array(transmat, np.float64)
    weights = (np.empty(0) if seq_weight is None
               else kernel_array(seq_weight, np.float64))
    n_seq = bounds.size - 1
    seq_ll = np.zeros(n_seq)
    failed = np.zeros(n_seq, dtype=np.uint8)
    start_total = np.zeros(K)
    trans_total = np.zeros((K, K))
    sum_abs = 0.0
    # the emission statistics under the posteriors (None: nothing to fit)
    collector = emission.statistics(X.dtype, n) if want_stats else None
    for row_lo, row_hi, seq_lo, seq_hi in batches(bounds, K):
        Xb = X[row_lo:row_hi]
        frames, shift = emission.frames(Xb, True)
        post = (posteriors[row_lo:row_hi] if posteriors is not None
                else np.empty((row_hi - row_lo, K)))
        local = bounds[seq_lo:seq_hi + 1] - row_lo
        grp = groups(local)
        G = grp.size - 1
        start_acc = np.zeros((G, K))
        trans_acc = np.zeros((G if want_stats else 0, K, K))
        ll_b = seq_ll[seq_lo:seq_hi]
        failed_b = failed[seq_lo:seq_hi]
        w_b = weights[seq_lo:seq_hi] if weights.size else weights
        kernels.forward_backward(frames, shift, local, grp, startprob, transmat, w_b, post,
                                 ll_b, failed_b, start_acc, trans_acc)
        start_total += np.add.reduce(start_acc, axis=0)
        trans_total += np.add.reduce(trans_acc, axis=0) if want_stats else 0.0
        bad = np.flatnonzero(failed_b).astype(np.int64)
        if bad.size:
            logb, _ = emission.frames(Xb, False)
            F = bad.size
            extra_start, extra_trans = np.zeros((F, K)), np.zeros((F if want_stats else 0, K, K))
            with np.errstate(divide="ignore"):
                log_start, log_trans = np.log(startprob), np.log(transmat)
            kernels.forward_backward_log(logb, local, bad, log_start, log_trans, w_b, post,
                                         ll_b, extra_start, extra_trans)
            start_total += np.add.reduce(extra_start, axis=0)
            if want_stats:
                trans_total += np.add.reduce(extra_trans, axis=0)
            shift = np.where(np.isfinite(shift), shift, 0.0)
        rw = row_weights(seq_weight, bounds, row_lo, row_hi, seq_lo, seq_hi, X.dtype)
        sum_abs += float(np.sum(np.abs(shift) * rw if rw.size else np.abs(shift)))
        if collector is not None:
            collector.add(Xb, post, rw)
    if seq_weight is None:
        total, n_rows = float(np.sum(seq_ll)), float(n)
    else:
        total = float(np.sum(seq_ll * seq_weight))
        n_rows = float(np.sum(np.diff(bounds) * seq_weight))
    emission_stats = collector.finish(n_rows) if collector is not None else None
    return SequenceStats(n_rows, total, sum_abs + abs(total), seq_ll, start_total,
                         trans_total, emission_stats)


class PlanStatistics:
    """Statistics of a family's plan under given posteriors, batch after
    batch of rows: the plan's kernel with ``resp_in`` (``passes.Plan.run``),
    into per-partition accumulators sized for all ``n`` rows."""

    def __init__(self, plan, n):
        self.plan = plan
        self.n = n
        self.accs = passes.accumulators(plan, n)
        self.empties = passes.empty_outputs(plan.n_components, plan.dtype)

    def add(self, X, post, row_weight):
        """The statistics of the rows X under ``post``, each row counted
        ``row_weight`` times (empty: once)."""
        self.plan.run(X, row_weight, self.empties, self.accs, X.shape[0], post)

    def finish(self, n_rows):
        return passes.finish(self.plan, passes.reduce_partitions(self.accs), n_rows)


def viterbi(X, bounds, emission, startprob, transmat):
    """``(log_prob, path)``: the most likely state path of every sequence and
    the sum of their log-probabilities."""
    n, K = X.shape[0], startprob.shape[0]
    with np.errstate(divide="ignore"):
        log_start = kernel_array(np.log(startprob), np.float64)
        log_trans = kernel_array(np.log(transmat), np.float64)
    path = np.empty(n, dtype=np.int64)
    seq_lp = np.zeros(bounds.size - 1)
    for row_lo, row_hi, seq_lo, seq_hi in batches(bounds, K):
        logb, _ = emission.frames(X[row_lo:row_hi], False)
        kernels.viterbi(logb, bounds[seq_lo:seq_hi + 1] - row_lo, log_start, log_trans,
                        path[row_lo:row_hi], seq_lp[seq_lo:seq_hi])
    return float(np.sum(seq_lp)), path


# --------------------------------------------------------------------------
# The bound of Baum-Welch.


def expected_log_joint(stats, startprob, transmat, emission):
    """``(value, scale)``: E_q[log p(X, Z | theta)] from an E-step's
    statistics under the parameters ``startprob``, ``transmat`` and the
    emission's (a transition the posterior never takes adds nothing, even
    where its probability is 0)."""
    with np.errstate(divide="ignore"):
        ls, lt = np.log(startprob), np.log(transmat)
    s_terms = np.multiply(stats.start, ls, out=np.zeros_like(ls), where=stats.start > 0)
    t_terms = np.multiply(stats.trans, lt, out=np.zeros_like(lt), where=stats.trans > 0)
    e_value, e_scale = emission.expected_log_density(stats.emission)
    value = float(s_terms.sum() + t_terms.sum() + e_value)
    scale = float(np.abs(s_terms).sum() + np.abs(t_terms).sum() + e_scale)
    return value, scale


def dirichlet_log_prior(probabilities, prior):
    """sum (prior - 1) log p over the entries with p > 0 (a Dirichlet
    prior's log-density, up to a constant)."""
    weight = np.broadcast_to(np.asarray(prior, dtype=np.float64) - 1.0, probabilities.shape)
    with np.errstate(divide="ignore"):
        logs = np.log(probabilities)
    return float(np.sum(np.multiply(weight, logs, out=np.zeros_like(logs),
                                    where=(probabilities > 0) & (weight != 0))))


class BaumWelchBound:
    """The seed's chain for Baum-Welch: per row, ``J(theta) = log p(X |
    theta) + log p(theta)`` never decreases, through the M-step (L(q,
    theta) = E_q[log p(X, Z | theta)] + H(q) + log p(theta) does not drop)
    and the E-step (KL(q || p(Z | X, theta)) >= 0, whatever the M-step).
    ``exact``: whether the updates maximise that objective (not so for a
    Dirichlet prior below 1, which hmmlearn clamps, or GMMHMM's covariance
    update): otherwise the M-step is recorded, not checked."""

    def __init__(self, policy, exact, dtype, n_features):
        self.exact = exact
        self.checker = BoundChecker(policy, True, dtype, n_features, stacklevel=6)

    def after_m_step(self, n_iter, stats, joint_old, prior_old, joint_new, prior_new):
        """The M-step of iteration ``n_iter``: L(q, .) from the E-step's
        parameters (``joint_old``: E_q[log p(X, Z | theta)] and its scale)
        to the new ones."""
        n = stats.n_samples
        entropy = stats.sum_lpn - joint_old[0]
        after = (joint_new[0] + entropy + prior_new) / n
        scale = (joint_new[1] + joint_old[1] + abs(prior_new)) / n
        self.checker.m_step(n_iter, stats, after, 0.0, scale, check=self.exact,
                            prior=prior_old / n)

    def after_e_step(self, n_iter, stats, prior):
        self.checker.e_step(n_iter, stats, prior=prior / stats.n_samples)

    @property
    def kl_divergences(self):
        return self.checker.kl_divergences

    @property
    def m_step_bounds(self):
        return self.checker.m_step_bounds


# --------------------------------------------------------------------------
# The Baum-Welch driver.


def normalize(a, axis=None):
    """hmmlearn's ``normalize``: ``a`` divided by its sum (rows summing to 0
    stay 0 along ``axis``), in place."""
    total = a.sum(axis)
    if axis and a.ndim > 1:
        total[total == 0] = 1
        shape = list(a.shape)
        shape[axis] = 1
        total.shape = shape
    a /= total


def transition_m_step(est, stats):
    """hmmlearn's MAP updates of ``startprob_`` and ``transmat_`` (entries
    that are 0 stay 0: a left-right chain keeps its shape)."""
    if "s" in est.params:
        startprob = np.maximum(est.startprob_prior - 1 + stats.start, 0)
        startprob = np.where(est.startprob_ == 0, 0, startprob)
        normalize(startprob)
        est.startprob_ = startprob
    if "t" in est.params:
        transmat = np.maximum(est.transmat_prior - 1 + stats.trans, 0)
        transmat = np.where(est.transmat_ == 0, 0, transmat)
        normalize(transmat, axis=1)
        est.transmat_ = transmat


def transition_log_prior(est):
    return (dirichlet_log_prior(est.startprob_, est.startprob_prior)
            + dirichlet_log_prior(est.transmat_, est.transmat_prior))


def transition_prior_exact(est):
    """Whether the Dirichlet updates are exact maximisers (every prior
    weight at least 1; hmmlearn clamps the others at 0)."""
    ok = True
    if "s" in est.params:
        ok &= bool(np.all(np.asarray(est.startprob_prior, dtype=np.float64) >= 1))
    if "t" in est.params:
        ok &= bool(np.all(np.asarray(est.transmat_prior, dtype=np.float64) >= 1))
    return ok


def baum_welch(est, X, bounds, log, seq_weight=None):
    """Fit ``est`` by Baum-Welch (see ``_baum_welch``); probabilities
    that underflow to 0 are 0, quietly, as in hmmlearn."""
    with np.errstate(under="ignore"):
        _baum_welch(est, X, bounds, log, seq_weight)


def _baum_welch(est, X, bounds, log, seq_weight):
    """Fit ``est`` (initialised and checked) to the kernel-ready rows X cut
    into sequences by ``bounds``: hmmlearn's loop (an E-step, the M-step,
    the monitor's report of the E-step's log-likelihood, its convergence
    test) with the bound checked every iteration (``est.bound_check``)."""
    monitor = est.monitor_
    emission = est._emission()
    exact = transition_prior_exact(est) and emission.prior_exact()
    # Rounding: a row's log-likelihood adds K terms of d features, and the
    # recursion adds a sequence's T scale factors (and transition sums) one
    # after another, an error growing as sqrt(T) -- counted as features.
    longest = int(np.max(np.diff(bounds))) if bounds.size > 1 else 1
    terms = X.shape[1] + est.n_components + int(np.ceil(np.sqrt(longest)))
    checker = BaumWelchBound(est.bound_check, exact, X.dtype, terms)
    lower_bounds = []
    for n_iter in range(1, est.n_iter + 1):
        stats = e_step(X, bounds, emission, est.startprob_, est.transmat_,
                       seq_weight=seq_weight)
        lower_bounds.append(stats.sum_lpn)
        prior_old = transition_log_prior(est) + emission.log_prior()
        checker.after_e_step(n_iter, stats, prior_old)
        joint_old = expected_log_joint(stats, est.startprob_, est.transmat_, emission)
        transition_m_step(est, stats)
        est._emission_m_step(emission, stats.emission)
        emission = est._emission()
        joint_new = expected_log_joint(stats, est.startprob_, est.transmat_, emission)
        prior_new = transition_log_prior(est) + emission.log_prior()
        checker.after_m_step(n_iter, stats, joint_old, prior_old, joint_new, prior_new)
        monitor.report(stats.sum_lpn)
        if monitor.converged:
            break
        if (est.transmat_.sum(axis=1) == 0).any():
            log.warning("Some rows of transmat_ have zero sum because no transition from "
                        "the state was ever observed.")
    est.lower_bounds_ = lower_bounds
    est.lower_bound_ = lower_bounds[-1] if lower_bounds else -np.inf
    est.n_iter_ = monitor.iter
    est.converged_ = bool(monitor.converged and monitor.iter < est.n_iter)
    # the chain in totals, as the monitor's log-likelihoods (the checker's
    # are per row)
    n = float(X.shape[0]) if seq_weight is None else float(np.sum(np.diff(bounds) * seq_weight))
    est.kl_divergences_ = np.asarray(checker.kl_divergences, dtype=np.float64) * n
    est.m_step_bounds_ = np.asarray(checker.m_step_bounds, dtype=np.float64) * n
