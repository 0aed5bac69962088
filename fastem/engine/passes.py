"""Passes over the data: the one place rows meet a kernel.

A family turns its parameters into a ``Plan`` -- which kernel, its
per-component constants, the shapes of its statistics -- and the functions
here feed the plan chunks of rows (in memory, out of core, or as a dask
array's blocks on a cluster), keep the per-partition accumulators, add the
partitions in order and return ``Stats``.  Nothing here knows a family.

Accumulators.  Every plan's kernel adds into ``[ll, nk, *family]``:
``ll (P, 2)`` receives the sums of ``w_i lpn_i`` and ``w_i |lpn_i|``;
``nk (P, K)`` the responsibilities; the family's own statistics follow.
``P`` depends on the problem size only (``n_partitions``), so the same bits
come out for any thread count and however the rows arrive.
"""

import time
from typing import NamedTuple

import numpy as np

from ..data.chunks import CHUNK_BYTES, chunk_rows, iter_chunks, kernel_array, n_partitions
from ..kernels import BLOCK
from .missing import run_chunk


class Stats(NamedTuple):
    """What one pass over the data returns, summed over chunks (float64)."""

    n_samples: float  # the number of rows, or the sum of their sample weights
    sum_lpn: float  # sum_i w_i log p(x_i)
    sum_abs_lpn: float  # sum_i w_i |log p(x_i)| (the bound check's rounding scale)
    nk: np.ndarray  # (K,) sum_i w_i r_ik
    moments: object  # the family's own sufficient statistics (Plan.moments)


class Plan:
    """One kernel pass of a family under given parameters (subclassed by each
    family).

    Attributes: ``dtype`` (the compute dtype: the data's, promoted with the
    parameters'), ``n_components``, ``n_features``, ``want_stats`` and
    ``stat_shapes``, the shapes of the family's statistics after ``nk``
    (their size sets the number of partitions, whether wanted or not).
    """

    dtype: np.dtype
    n_components: int
    n_features: int
    want_stats: bool
    stat_shapes: tuple
    #: ``(sum, sum of absolute values)`` of a log-likelihood term that
    #: depends on the rows alone, over the very rows (and weights) the plan's
    #: passes read, which the family computed once per fit and the kernel
    #: leaves out (a Poisson model's -sum log x!); added to every pass's sums.
    lpn_offset = (0.0, 0.0)
    #: Whether rows may hold NaN, missing coordinates to marginalise
    #: (``fastem.engine.missing``): the passes then route the incomplete
    #: rows to ``run_missing``.
    missing = False
    #: Whether ``run_missing`` wants the rows sorted by their pattern of NaN
    #: (a kernel that factorises once per run of rows of one pattern), or
    #: in their order (one whose cost per row does not depend on it).
    sort_patterns = False
    #: Whether ``run_missing``'s draws of missing values take uniform
    #: numbers (an inverse CDF), or standard normal ones.
    uniform_draws = False
    #: Whether a segment holding any NaN goes to ``run_missing`` whole (a
    #: family whose kernel for incomplete rows is as fast as its fused one:
    #: no rows to copy out), rather than only its incomplete rows.
    missing_takes_all = False

    def run(self, chunk, sample_weight, outputs, accs, segment, resp=None):
        """Add a kernel-ready ``chunk`` of rows into ``accs``: ``outputs``
        are the chunk's slices of ``(out_lpn, out_resp, out_label)`` (empty
        arrays to skip), ``segment`` the rows per segment, ``resp`` given
        responsibilities (float64, one row per row of the chunk) to take
        the statistics under, instead of the E-step's."""
        raise NotImplementedError

    def run_missing(self, rows, sample_weight, outputs, accs, fill=None, draws=None):
        """As ``run``, for kernel-ready rows that each hold a NaN, sorted by
        their pattern of NaN: each row's outputs from its marginal over its
        observed coordinates, the expected statistics added into ``accs``.
        ``fill``: an array of the rows' shape to receive each row with its
        NaN imputed (the posterior mean, or with ``draws``, what
        ``missing_draws`` returns, a draw from the posterior)."""
        raise NotImplementedError

    def missing_draws(self, rows, random_state):
        """The random numbers ``run_missing`` draws ``rows``' missing values
        from: a uniform per row (the component), and per coordinate a
        uniform (``uniform_draws``: an inverse CDF) or a standard normal."""
        n, d = rows.shape
        values = (random_state.uniform(size=(n, d)) if self.uniform_draws
                  else random_state.standard_normal(size=(n, d)))
        return random_state.uniform(size=n), values

    def moments(self, totals):
        """The family's statistics from its reduced accumulators."""
        raise NotImplementedError

    def repair(self, chunk, out_resp, out_label):
        """Fix the outputs of rows with no finite log-density (called only
        when the chunk's log-likelihood sum is not finite)."""


def rows_to_repair(out_resp, out_label):
    """The rows of a chunk's outputs with no posterior from the kernel (label
    -1 or NaN responsibilities: every log-density -inf), as indices; empty
    when none."""
    bad = np.zeros(max(out_resp.shape[0], out_label.shape[0]), dtype=bool)
    if out_label.shape[0]:
        bad |= out_label < 0
    if out_resp.shape[0]:
        bad |= np.isnan(out_resp[:, 0])
    return np.flatnonzero(bad)


def accumulators(plan, n_samples):
    """Zeroed per-partition accumulators ``[ll, nk, *family]`` for one pass
    over ``n_samples`` rows; the statistics' have no rows unless wanted."""
    shapes = ((plan.n_components,),) + tuple(plan.stat_shapes)
    stat_elems = sum(int(np.prod(s)) for s in shapes)
    P = n_partitions(n_samples, plan.n_features, plan.dtype, stat_elems)
    Ps = P if plan.want_stats else 0
    return [np.zeros((P, 2))] + [np.zeros((Ps,) + s) for s in shapes]


def reduce_partitions(accs):
    """Sum each accumulator over its partitions (a reduction over the leading
    axis: NumPy adds the partitions one after another, elementwise)."""
    return [np.add.reduce(acc, axis=0) for acc in accs]


def finish(plan, totals, n_samples):
    """``Stats`` from reduced accumulators (``n_samples``: the number of
    rows, or the weights' sum)."""
    (sum_lpn, sum_abs), nk = totals[0], totals[1]
    offset, offset_abs = plan.lpn_offset
    return Stats(n_samples, float(sum_lpn) + offset, float(sum_abs) + offset_abs, nk,
                 plan.moments(totals[2:]))


def weight_chunk(sample_weight, start, stop, dtype):
    """The kernel's ``sample_weight`` for rows start:stop: empty for unit
    weights, else that slice, kernel-ready, in the data's dtype."""
    if sample_weight is None:
        return np.empty(0, dtype=dtype)
    return kernel_array(sample_weight[start:stop], dtype)


def total_weight(n_samples, sample_weight):
    """The number of rows, or the sum of the sample weights (float64)."""
    if sample_weight is None:
        return n_samples
    return float(np.sum(sample_weight, dtype=np.float64))


def empty_outputs(n_components, dtype):
    return (
        np.empty(0, dtype=dtype),
        np.empty((0, n_components), dtype=dtype),
        np.empty(0, dtype=np.int64),
    )


def _slice_outputs(outputs, empties, start, stop):
    return tuple(e if o is None else o[start:stop] for o, e in zip(outputs, empties))


def run_pass(X, family, params, *, want_stats, out_lpn=None, out_resp=None, out_label=None,
             sample_weight=None):
    """One pass over X through the family's fused kernel.

    Writes the per-row outputs that are given (arrays of the compute dtype
    and of X's length) and returns ``Stats`` (its statistics are all zero
    unless ``want_stats``).  ``sample_weight`` (None, or n_samples
    non-negative floats) weighs each row's log-likelihood and
    responsibilities in the sums; ``Stats.n_samples`` is then their total.
    """
    distributed = getattr(X, "distributed_pass", None)
    if distributed is not None and out_lpn is None and out_resp is None and out_label is None:
        # a DaskSource: the same plan on every block, summed on the cluster
        return distributed(family, params, want_stats, sample_weight)
    plan = family.plan(params, X.dtype, want_stats)
    totals = pass_totals(X, plan, sample_weight, (out_lpn, out_resp, out_label))
    return finish(plan, totals, total_weight(X.shape[0], sample_weight))


def pass_totals(X, plan, sample_weight=None, outputs=(None, None, None)):
    """The reduced accumulators of ``plan``'s pass over the rows of X (an
    array or a ``RowSource``), writing the per-row ``outputs`` given."""
    accs = accumulators(plan, X.shape[0])
    dtype = plan.dtype
    segment = chunk_rows(plan.n_features, dtype)
    empties = empty_outputs(plan.n_components, dtype)
    want_rows = outputs[1] is not None or outputs[2] is not None
    for start, stop, chunk in iter_chunks(X, dtype, whole=True):
        outs = _slice_outputs(outputs, empties, start, stop)
        run_chunk(plan, chunk, weight_chunk(sample_weight, start, stop, dtype), outs, accs,
                  segment)
        # A row with no finite log-density makes the log-likelihood sum -inf:
        # only then are this chunk's outputs scanned for it.
        if want_rows and not np.isfinite(accs[0][:, 0].sum()):
            plan.repair(chunk, outs[1], outs[2])
    return reduce_partitions(accs)


def run_passes(X, requests, sample_weight=None, want_stats=True, seconds=None):
    """``Stats`` of several passes -- ``requests`` of ``(family, params)`` --
    from one read of X: each chunk goes through every request's kernel
    before the next chunk is read.  Each result has the same bits as its
    own ``run_pass``.  ``seconds``: a list to which each request's kernel
    time is added."""
    seconds = [0.0] * len(requests) if seconds is None else seconds
    if hasattr(X, "distributed_pass"):
        out = []
        for i, (family, params) in enumerate(requests):
            started = time.perf_counter()
            out.append(run_pass(X, family, params, want_stats=want_stats,
                                sample_weight=sample_weight))
            seconds[i] += time.perf_counter() - started
        return out
    plans = [family.plan(params, X.dtype, want_stats) for family, params in requests]
    accs = [accumulators(plan, X.shape[0]) for plan in plans]
    for dtype in {plan.dtype for plan in plans}:
        group = [i for i, plan in enumerate(plans) if plan.dtype == dtype]
        segment = chunk_rows(X.shape[1], dtype)
        for start, stop, chunk in iter_chunks(X, dtype, whole=True):
            sw = weight_chunk(sample_weight, start, stop, dtype)
            for i in group:
                started = time.perf_counter()
                run_chunk(plans[i], chunk, sw, empty_outputs(plans[i].n_components, dtype),
                          accs[i], segment)
                seconds[i] += time.perf_counter() - started
    total = total_weight(X.shape[0], sample_weight)  # once for every plan
    return [finish(plan, reduce_partitions(a), total) for plan, a in zip(plans, accs)]


def stats_under(X, plan, resp_chunk, sample_weight=None):
    """Statistics of X under given responsibilities (``plan`` made for them:
    its kernel reads ``resp`` instead of computing the posterior).

    ``resp_chunk(start, stop)`` returns the float64 responsibilities of those
    rows, so a caller never has to hold an ``n_samples x n_components``
    array.  With ``sample_weight``, row i's responsibilities count w_i
    times and ``n_samples`` is the weights' total.  The log-likelihood
    sums are 0.
    """
    totals = stats_under_totals(X, plan, resp_chunk, sample_weight)
    return finish(plan, totals, total_weight(X.shape[0], sample_weight))


def stats_under_totals(X, plan, resp_chunk, sample_weight=None):
    accs = accumulators(plan, X.shape[0])
    empties = empty_outputs(plan.n_components, plan.dtype)
    # Responsibilities are made a slice at a time, each at most about one
    # chunk's worth of bytes, however few features a row has; each slice is
    # one segment of its call.
    step = max(BLOCK, CHUNK_BYTES // (8 * plan.n_components) // BLOCK * BLOCK)
    for start, stop, chunk in iter_chunks(X, plan.dtype):
        for lo in range(start, stop, step):
            hi = min(lo + step, stop)
            resp = kernel_array(resp_chunk(lo, hi), np.float64)
            plan.run(chunk[lo - start:hi - start], weight_chunk(sample_weight, lo, hi, plan.dtype),
                     empties, accs, hi - lo, resp)
    return reduce_partitions(accs)


def ones(start, stop):
    """resp_chunk of a single component that every row belongs to."""
    return np.ones((stop - start, 1))


def row_stats(X, plan, sample_weight=None):
    """Statistics with every row in one component (``plan`` for one
    component under given responsibilities): the data's weighted sums,
    for quantities computed once per fit (a mean, a scatter).  On a dask
    array, summed on the cluster."""
    distributed = getattr(X, "distributed_row_stats", None)
    if distributed is not None:
        return distributed(plan, sample_weight)
    return stats_under(X, plan, ones, sample_weight)


def compute_dtype(*dtypes):
    """float32 only when everything is float32 or narrower, like NumPy's promotion."""
    dtype = np.result_type(*dtypes)
    return np.dtype(np.float32) if dtype == np.float32 else np.dtype(np.float64)
