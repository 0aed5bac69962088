"""Incremental and online EM: an M-step after every block of rows.

The seed's view of EM -- coordinate ascent on F(q, theta) = E_q[log p(X, Z |
theta)] + H(q) -- is what justifies both (Neal and Hinton, "A view of the EM
algorithm that justifies incremental, sparse, and other variants", 1998).

``learning_method="incremental"``
    The rows are cut into blocks.  Each block's statistics are kept, with the
    entropy H(q_b) of its posterior.  A step recomputes one block's
    statistics under the current parameters (an E-step on that block alone:
    F rises by the KL divergence between the block's old q and its new
    posterior), puts them in place of the old in the total, and runs the
    M-step on the total (F rises again).  F itself is exact after every
    step: E_q[log p(X, Z | theta)] is linear in the statistics, so it is the
    family's closed form ``expected_log_joint`` of their total, and H(q) is
    the sum of the blocks' entropies, each ``sum log p(x_i) - E_q[log p(X_b,
    Z_b | theta_b)]`` under the parameters its E-step used.  Both rises are
    checked (the bound check, per block), and a pass converges when F moved
    by less than ``tol`` over it.  Before every block has statistics -- the
    first pass -- the parameters come from stepwise EM (below) on quarter
    blocks (``FIRST_PASS``), whose statistics are kept all the same.

``learning_method="online"`` and ``partial_fit``
    Stepwise EM (Cappe and Moulines 2009; Liang and Klein 2009): running
    statistics ``s <- (1 - eta_t) s + eta_t s_batch``, ``eta_t =
    (learning_offset + t) ** -learning_decay``, each batch's statistics
    scaled to the size of the data (``n_samples``, or ``total_samples`` for
    ``partial_fit``), then the M-step.  No bound is monotone here: a pass
    records the mean log-likelihood of its batches, each under the
    parameters that scored it.

Statistics from different E-steps are summed in a common frame: a Gaussian
family's sums are centred on the means of their E-step, a t family's also
carry the E-step's degrees of freedom, and ``Family.rebase`` moves them to
another frame (``combine`` below).  Every sum runs over the blocks in their
order, so the result does not depend on the thread count.
"""

import math
import warnings
from time import time

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from ..data.chunks import chunk_rows, iter_chunks, kernel_array
from ..kernels import BLOCK
from . import passes
from .missing import run_chunk
from .bound import BoundDecreaseError, BoundDecreaseWarning, rounding_tolerance

#: Blocks incremental EM cuts the rows into by default (``batch_size="auto"``),
#: unless that makes blocks of fewer than ``MIN_BLOCK_ROWS`` rows (each step
#: costs an M-step and the bound's closed forms, ~1 ms): then fewer, but at
#: least four when the rows allow.
INCREMENTAL_BLOCKS = 64
MIN_BLOCK_ROWS = 65536

#: Rows of an online mini-batch by default (``batch_size="auto"``).
ONLINE_BATCH = 65536

#: How incremental EM's first pass, before every block has statistics, sets
#: the parameters: "batch" (every block's statistics under the initial
#: parameters, then one M-step), "incremental" (an M-step after every block
#: on the blocks seen so far) or "online" (stepwise EM's running statistics,
#: as ``learning_method="online"``).  Every block's statistics are kept in
#: all three, so from the second pass on it is exact incremental EM, with F
#: checked at every step.  ``benchmarks/convergence.py --first-pass all``
#: measures them (see the README).
FIRST_PASS = "online"

#: With ``FIRST_PASS = "online"``, the first pass's stepwise batches are
#: this many to a block: small batches make the better start, large blocks
#: the cheaper passes after it (a step costs ~1 ms), and the later passes
#: converge at nearly the same rate per pass for 64 blocks as for 256.
FIRST_PASS_SPLIT = 4

#: The most memory the kept statistics of incremental EM may take: beyond
#: it, the blocks are made larger (fewer of them), and a warning says so.
KEPT_BYTES = 256 * 2**20


class BlocksShrunkWarning(UserWarning):
    """Incremental EM uses fewer, larger blocks than asked for, so that the
    kept statistics fit ``KEPT_BYTES``."""


# --------------------------------------------------------------------------
# Arithmetic on statistics.


def _weighted_sum(items, coefs, frame_fields, frame):
    first = items[0]
    if isinstance(first, np.ndarray):
        total = coefs[0] * first if coefs[0] != 1.0 else first.copy()
        for c, item in zip(coefs[1:], items[1:]):
            total = total + (c * item if c != 1.0 else item)
        return total
    # a NamedTuple of arrays (a Gaussian's or a t's moments)
    return type(first)(*(
        getattr(frame, f) if f in frame_fields
        else _weighted_sum([getattr(i, f) for i in items], coefs, frame_fields, frame)
        for f in first._fields))


def combine(family, parts, coefs=None):
    """``sum_i coefs[i] * parts[i]`` as one ``passes.Stats`` (all
    coefficients 1 by default), the moments in the last part's frame
    (``Family.rebase``).  The sums run in the order of ``parts``."""
    coefs = [1.0] * len(parts) if coefs is None else [float(c) for c in coefs]
    frame = parts[-1].moments
    moments = [family.rebase(p, frame) for p in parts]
    return passes.Stats(
        math.fsum(c * p.n_samples for c, p in zip(coefs, parts)),
        math.fsum(c * p.sum_lpn for c, p in zip(coefs, parts)),
        math.fsum(abs(c) * p.sum_abs_lpn for c, p in zip(coefs, parts)),
        _weighted_sum([p.nk for p in parts], coefs, (), None),
        _weighted_sum(moments, coefs, family.frame_fields, frame),
    )


# --------------------------------------------------------------------------
# Blocks of rows, each under the parameters of its time.


def block_stats(X, family, sample_weight, batch_rows, params_for):
    """Statistics of consecutive blocks of ``batch_rows`` rows (the last
    shorter; a dask array: each of its row blocks), in one read of X:
    yields ``(index, start, stop, Stats)``; block ``index``'s pass runs
    under ``params_for(index)``, asked for when the block starts -- after
    the caller has handled the previous block's statistics."""
    if hasattr(X, "distributed_pass"):
        yield from _dask_block_stats(X, family, sample_weight, params_for)
        return
    n, d = X.shape
    plan = family.plan(params_for(0), X.dtype, True)
    dtype = plan.dtype
    segment = chunk_rows(d, dtype)
    empties = passes.empty_outputs(plan.n_components, dtype)
    index, first, last = 0, 0, min(batch_rows, n)
    accs = passes.accumulators(plan, last - first)
    for start, stop, chunk in iter_chunks(X, dtype):
        lo = start
        while lo < stop:
            hi = min(stop, last)
            run_chunk(plan, chunk[lo - start:hi - start],
                      passes.weight_chunk(sample_weight, lo, hi, dtype), empties, accs, segment)
            lo = hi
            if hi < last:
                continue
            weights = None if sample_weight is None else sample_weight[first:last]
            stats = passes.finish(plan, passes.reduce_partitions(accs),
                                  passes.total_weight(last - first, weights))
            yield index, first, last, stats
            index, first, last = index + 1, last, min(last + batch_rows, n)
            if first < n:
                plan = family.plan(params_for(index), X.dtype, True)
                accs = passes.accumulators(plan, last - first)


def _dask_block_stats(X, family, sample_weight, params_for):
    """``block_stats`` of a dask array: a block is one of its row blocks,
    its statistics computed on the cluster, where it lives."""
    from ..data.dask import DaskSource

    weights = None if sample_weight is None else X.weights_like_rows(sample_weight)
    first = 0
    for index, rows in enumerate(X.data.chunks[0]):
        part = DaskSource(X.data.blocks[index])
        part_weights = None if weights is None else weights.blocks[index]
        stats = part.distributed_pass(family, params_for(index), True, part_weights)
        yield index, first, first + rows, stats
        first += rows


def n_blocks(X, batch_rows):
    """How many blocks ``block_stats`` cuts X into."""
    if hasattr(X, "distributed_pass"):
        return X.data.numblocks[0]
    return max(1, -(-X.shape[0] // batch_rows))


def incremental_rows(n_samples, batch_size, stat_bytes):
    """``(rows per block, warning or None)``: ``batch_size`` ("auto":
    ``INCREMENTAL_BLOCKS`` blocks, in whole kernel blocks), made larger when
    the kept statistics (``stat_bytes`` a block) would pass
    ``KEPT_BYTES``."""
    if batch_size == "auto":
        rows = max(-(-n_samples // INCREMENTAL_BLOCKS),
                   min(MIN_BLOCK_ROWS, -(-n_samples // 4)))
        rows = max(BLOCK, -(-rows // BLOCK) * BLOCK)
    else:
        rows = int(batch_size)
    rows = max(1, min(rows, n_samples))
    most = max(1, KEPT_BYTES // max(1, stat_bytes))
    if -(-n_samples // rows) <= most:
        return rows, None
    wider = -(-n_samples // most)
    message = (
        f"Incremental EM keeps every block's statistics ({stat_bytes / 2**20:.3g} MiB "
        f"each): {-(-n_samples // rows)} blocks of {rows} rows would need "
        f"{-(-n_samples // rows) * stat_bytes / 2**20:.4g} MiB, more than the "
        f"{KEPT_BYTES / 2**20:.0f} MiB allowed, so it uses {-(-n_samples // wider)} "
        f"blocks of {wider} rows."
    )
    return wider, message


def stat_bytes(family, params, data_dtype, n_features):
    """The memory of one block's kept statistics (float64)."""
    plan = family.plan(params, data_dtype, True)
    shapes = ((plan.n_components,),) + tuple(plan.stat_shapes)
    frame = plan.n_components * n_features  # a Gaussian's shift, a t's too
    return 8 * (sum(int(np.prod(s)) for s in shapes) + frame + 8)


# --------------------------------------------------------------------------
# The bound of incremental EM.


def _message(step, index, n_pass, before, after, allowed, dtype):
    what = ("the E-step recomputing its statistics" if step == "E"
            else "the M-step after it")
    return (
        f"The EM lower bound decreased at block {index} of pass {n_pass}, in {what}: "
        f"F(q, theta) went from {before:.12g} to {after:.12g}, a drop of "
        f"{before - after:.3e} per sample, more than the {allowed:.3e} that reg_covar "
        f"and {np.dtype(dtype).name} rounding can explain. EM never decreases the bound "
        "in exact arithmetic, so the numerics of this fit broke down: try float64 data, "
        "a larger reg_covar, or scaling the data."
    )


class BlockBound:
    """F(q, theta) of incremental EM from the kept statistics, checked after
    each E-step and each M-step (per sample for maximum likelihood and MAP;
    a variational family's bound is its own, checked after each M-step)."""

    def __init__(self, family, policy, n_features):
        self.family = family
        self.policy = policy
        self.n_features = n_features
        self.exact = family.exact_em
        self.value = None  # F after the last M-step
        self.m_step_bounds = []
        self.gains = []  # each E-step's rise of F (a block's KL divergence)

    def _fail(self, message):
        if self.policy == "raise":
            raise BoundDecreaseError(message)
        warnings.warn(message, BoundDecreaseWarning, stacklevel=6)

    def _allowed(self, total, scale, slack=0.0):
        magnitude = max(total.sum_abs_lpn / total.n_samples, scale)
        tol = rounding_tolerance(self.family.kernel_dtype, self.n_features, magnitude)
        if not self.exact:
            tol *= total.n_samples
        return slack + tol

    def step(self, index, n_pass, total, entropy, params, new_params, slack, check=True):
        """The bound around one step: ``total`` the kept statistics (the new
        block's in place), ``entropy`` the sum of their H(q_b), ``params``
        the parameters before the M-step, ``new_params`` after."""
        family = self.family
        after, scale = family.block_bound(total, entropy, new_params)
        if self.exact:
            before, scale_before = family.block_bound(total, entropy, params)
            scale = max(scale, scale_before)
            if self.value is not None:
                gain = before - self.value
                self.gains.append(gain)
                allowed = self._allowed(total, scale)
                if check and self.policy != "ignore" and -gain > allowed:
                    self._fail(_message("E", index, n_pass, self.value, before, allowed,
                                        family.kernel_dtype))
            allowed = self._allowed(total, scale, slack / total.n_samples)
            if check and self.policy != "ignore" and before - after > allowed:
                self._fail(_message("M", index, n_pass, before, after, allowed,
                                    family.kernel_dtype))
        elif self.value is not None and check and self.policy != "ignore":
            allowed = self._allowed(total, scale, slack)
            if self.value - after > allowed:
                self._fail(_message("M", index, n_pass, self.value, after, allowed,
                                    family.kernel_dtype))
        self.value = after
        self.m_step_bounds.append(after)
        return after


# --------------------------------------------------------------------------
# The drivers.


def _run_passes(est, one_pass, n_samples, on_iteration):
    """Passes ``one_pass(n_pass)`` (returning the pass's bound) until the
    bound changes by less than ``tol`` or ``max_iter`` is reached, with
    scikit-learn's verbose lines: ``(bound, bounds, converged, passes)``."""
    lower_bound = -np.inf
    lower_bounds = []
    converged = False
    n_pass = 0
    for n_pass in range(1, est.max_iter + 1):
        previous = lower_bound
        started = time()
        lower_bound = one_pass(n_pass)
        lower_bounds.append(lower_bound)
        if on_iteration is not None:
            on_iteration(lower_bound, time() - started)
        change = lower_bound - previous
        est._print_verbose_msg_iter_end(n_pass, change, lower_bound, n_samples)
        if abs(change) < est.tol:
            converged = True
            break
    if est.max_iter > 0:
        est._print_verbose_msg_init_end(lower_bound, converged)
    return lower_bound, lower_bounds, converged, n_pass


def _inits(est, do_init):
    """The runs (``n_init``, one for a warm start), each announced as
    scikit-learn's verbose output does."""
    for init in range(est.n_init if do_init else 1):
        est._init_index = init
        est._print_verbose_msg_init_beg(init)
        yield init


def _check_method(est, family, method):
    if est.reseed:
        raise ValueError(
            f"reseed=True works with learning_method='batch' only, not {method!r}.")


def run_incremental(est, family, X, sw, positive, on_iteration=None, on_block=None):
    """Neal and Hinton's incremental EM (see the module docstring): the fit
    of ``est`` by its ``family`` on validated X, setting the fitted
    attributes as ``em.em_steps`` does (``n_iter_``: passes;
    ``lower_bounds_``: F per sample after each pass; ``m_step_bounds_``: F
    after every step; ``kl_divergences_``: every E-step's rise of F)."""
    from .em import initial_params, set_fitted, start_fit

    _check_method(est, family, "incremental")
    family.whole_passes = False
    n_samples, n_features = X.shape
    sw, do_init, random_state = start_fit(est, family, X, sw, positive)
    best = None
    for init in _inits(est, do_init):
        params = initial_params(est, family, X, sw, do_init, random_state)
        if init == 0:
            block_bytes = stat_bytes(family, params, X.dtype, n_features)
            rows, message = incremental_rows(n_samples, est.batch_size, block_bytes)
            if hasattr(X, "distributed_pass"):
                rows = max(X.data.chunks[0])  # a dask array's row blocks are the blocks
            if message is not None:
                warnings.warn(message, BlocksShrunkWarning, stacklevel=4)
            count = n_blocks(X, rows)
            kept = count * block_bytes
            est._block_rows, est._kept_bytes = rows, kept  # (the command line's summary)
            if est.verbose:
                print(f"Incremental EM: {count} blocks of {rows} rows; kept statistics "
                      f"{kept / 2**20:.3g} MiB")
        run = _incremental_run(est, family, X, sw, params, rows, count, FIRST_PASS,
                               on_iteration, on_block)
        if best is None or run[1] > best[1] or est.max_iter == 0:
            best = run
    params, lower_bound, n_iter, lower_bounds, converged, chain = best
    set_fitted(est, family, params, n_iter, lower_bounds, lower_bound, converged, chain)


def _incremental_run(est, family, X, sw, params, rows, count, first_pass, on_iteration,
                     on_block=None):
    """One run from ``params``: ``(params, F, passes, F per pass, converged,
    chain)``; ``first_pass`` as ``FIRST_PASS``."""
    n_features = X.shape[1]
    scale = _total_weight(X, sw)
    kept = [None] * count
    entropy = [0.0] * count
    bound = BlockBound(family, est.bound_check, n_features)
    current = [params]

    def step(index, start, stop, n_pass, params, total):
        """The M-step on the kept statistics' ``total``, and the bound."""
        estimate, slack = family.m_step(total)
        new_params = family.finish(estimate)
        if all(k is not None for k in kept):
            value = bound.step(index, n_pass, total, math.fsum(entropy), params, new_params,
                               slack)
            if est.verbose >= 2:
                print(f"    block {index + 1}/{count} (rows {start}-{stop})\t "
                      f"bound {value:.5f}")
            if on_block is not None:
                on_block(index, count, start, stop, value)
        current[0] = new_params

    def stepwise_pass():
        """The first pass as stepwise EM, on batches of a quarter block
        (``FIRST_PASS_SPLIT``): their statistics added into their blocks'."""
        split = FIRST_PASS_SPLIT if rows % FIRST_PASS_SPLIT == 0 else 1
        split = 1 if hasattr(X, "distributed_pass") else split
        last = n_blocks(X, rows // split) - 1
        running, t = None, 0
        for index, start, stop, stats in block_stats(X, family, sw, rows // split,
                                                     lambda i: current[0]):
            b = index // split
            entropy[b] += family.entropy(stats, current[0])
            kept[b] = stats if kept[b] is None else combine(family, [kept[b], stats])
            if index < last:
                running, t = online_step(family, running, stats, t, scale,
                                         est.learning_decay, est.learning_offset)
                if running is not None:
                    current[0] = family.finish(family.m_step(running)[0])
                continue
            step(b, b * rows, stop, 1, current[0], combine(family, kept))

    def one_pass(n_pass):
        if n_pass == 1 and first_pass == "online":
            stepwise_pass()
            return bound.value
        whole = n_pass == 1 and first_pass == "batch"
        total = None
        for index, start, stop, stats in block_stats(X, family, sw, rows,
                                                     lambda i: current[0]):
            params = current[0]
            old, kept[index] = kept[index], stats
            entropy[index] = family.entropy(stats, params)
            if whole and index < count - 1:
                continue  # the first pass: every block under the initial parameters
            if total is None:
                # each pass starts from the exact sum
                total = combine(family, [k for k in kept if k is not None])
            elif old is None:
                total = combine(family, [total, stats])  # the first pass
            else:
                # The old block's statistics out, the new in: O(1) a step.
                # (Rounding does not build up: each pass starts from the sum.)
                total = combine(family, [total, old, stats], [1.0, -1.0, 1.0])
            step(index, start, stop, n_pass, params, total)
        return bound.value

    lower_bound, lower_bounds, converged, n_pass = _run_passes(est, one_pass, X.shape[0],
                                                               on_iteration)
    chain = None
    if family.exact_em and est.bound_check != "ignore":
        chain = (bound.m_step_bounds, bound.gains)
    return current[0], lower_bound, n_pass, lower_bounds, converged, chain


def _total_weight(X, sw):
    if hasattr(sw, "compute"):
        return float(sw.sum().compute())
    return float(passes.total_weight(X.shape[0], sw))


def online_rows(batch_size):
    return ONLINE_BATCH if batch_size == "auto" else int(batch_size)


def first_rows(X, sw, rows):
    """The first ``rows`` rows of validated X as an array, and their weights."""
    rows = min(rows, X.shape[0])
    if isinstance(X, np.ndarray):
        head = X[:rows]
    elif hasattr(X, "head"):  # dask
        head = np.asarray(X.head(rows), dtype=X.dtype)
    else:
        head = X.take(np.arange(rows))
    if sw is None:
        return head, None
    if hasattr(sw, "compute"):
        return head, np.asarray(sw[:rows].compute(), dtype=np.float64)
    return head, np.asarray(sw[:rows], dtype=np.float64)


def online_step(family, running, stats, t, scale, decay, offset):
    """Stepwise EM's update: ``(running statistics, t)`` after a batch's
    ``stats`` (scaled to ``scale`` rows); a batch of no weight changes
    nothing."""
    if stats.n_samples <= 0:
        return running, t
    c = scale / stats.n_samples
    if running is None:
        return combine(family, [stats], [c]), t + 1
    eta = (offset + t) ** -decay
    return combine(family, [running, stats], [1.0 - eta, eta * c]), t + 1


class OnlineState:
    """What ``partial_fit`` keeps between calls: the family (set up and
    prepared on the first batch), the running statistics and the step
    count."""

    def __init__(self, family):
        self.family = family
        self.running = None
        self.t = 0


def _online_pass(est, state, X, sw, params, rows, scale, on_block=None):
    """One pass of stepwise EM over X's batches: ``(params, mean batch
    log-likelihood)``."""
    family = state.family
    current = [params]
    lpn, weight = [], []
    for index, start, stop, stats in block_stats(X, family, sw, rows, lambda i: current[0]):
        state.running, state.t = online_step(family, state.running, stats, state.t, scale,
                                             est.learning_decay, est.learning_offset)
        if state.running is not None:
            estimate, _ = family.m_step(state.running)
            current[0] = family.finish(estimate)
        lpn.append(stats.sum_lpn)
        weight.append(stats.n_samples)
        mean = stats.sum_lpn / stats.n_samples if stats.n_samples > 0 else 0.0
        if est.verbose >= 2:
            print(f"    batch {state.t} (rows {start}-{stop})\t log-likelihood {mean:.5f}")
        if on_block is not None:
            on_block(state.t - 1, None, start, stop, mean)
    total = math.fsum(weight)
    return current[0], (math.fsum(lpn) / total if total > 0 else -np.inf)


def _online_start(est, family, X, sw, rows):
    """The set-up of an online fit from X's first batch: ``(sw, do_init,
    random_state, head, head weights)``."""
    from .em import start_fit

    _check_method(est, family, "online")
    family.whole_passes = False
    head, head_w = first_rows(X, sw, rows)
    positive = head.shape[0] if head_w is None else int(np.count_nonzero(head_w > 0))
    head_sw, do_init, random_state = start_fit(est, family, head, head_w, positive)
    if isinstance(sw, np.ndarray):
        sw = kernel_array(sw, family.dtype)
    return sw, do_init, random_state, head, head_sw


def run_online(est, family, X, sw, positive, on_iteration=None, on_block=None):
    """Stepwise EM over X (see the module docstring): initialised on the
    first batch, as ``partial_fit`` would be, then ``max_iter`` passes over
    the batches.  ``lower_bounds_`` holds each pass's mean batch
    log-likelihood; convergence is its change below ``tol``."""
    from .em import initial_params, set_fitted

    rows = online_rows(est.batch_size)
    sw, do_init, random_state, head, head_sw = _online_start(est, family, X, sw, rows)
    scale = _total_weight(X, sw)
    best = None
    for _ in _inits(est, do_init):
        params = initial_params(est, family, head, head_sw, do_init, random_state)
        state = OnlineState(family)
        current = [params]

        def one_pass(n_pass):
            current[0], value = _online_pass(est, state, X, sw, current[0], rows, scale,
                                             on_block)
            return value

        lower_bound, lower_bounds, converged, n_pass = _run_passes(est, one_pass,
                                                                   X.shape[0], on_iteration)
        params = current[0]
        if best is None or lower_bound > best[1]:
            best = (params, lower_bound, n_pass, lower_bounds, converged, state)
    params, lower_bound, n_pass, lower_bounds, converged, state = best
    set_fitted(est, family, params, n_pass, lower_bounds, lower_bound, converged)
    est.n_batches_seen_ = state.t
    est._online = state


def partial_fit(est, family, X, sw, positive):
    """One ``partial_fit`` call: the first initialises from X's first batch
    (``init_params``) and sets the family up; each call runs stepwise EM
    over X's batches of ``batch_size`` rows, the data's size taken as
    ``total_samples``."""
    from .em import initial_params, set_fitted

    rows = online_rows(est.batch_size)
    state = getattr(est, "_online", None)
    if state is None:
        # The first call; on a model fitted by ``fit``, it goes on from the
        # fitted parameters (with statistics of its own from here on).
        fitted = hasattr(est, "converged_")
        sw, _, random_state, head, head_sw = _online_start(est, family, X, sw, rows)
        state = OnlineState(family)
        params = initial_params(est, family, head, head_sw, not fitted, random_state)
        n_iter = 0
    else:
        family = state.family
        if isinstance(sw, np.ndarray):
            sw = kernel_array(sw, family.dtype)
        params = family.from_estimator(est)
        n_iter = est.n_iter_
    params, lower_bound = _online_pass(est, state, X, sw, params, rows,
                                       float(est.total_samples))
    lower_bounds = list(getattr(est, "lower_bounds_", [])) if n_iter else []
    change = lower_bound - (lower_bounds[-1] if lower_bounds else -np.inf)
    lower_bounds.append(lower_bound)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # no convergence to speak of
        set_fitted(est, family, params, n_iter + 1, lower_bounds, lower_bound,
                   abs(change) < est.tol)
    est.n_batches_seen_ = state.t
    est._online = state
