"""Missing values: rows with NaN coordinates in every pass (``missing="marginalize"``).

EM treats a missing coordinate as one more latent variable (Ghahramani &
Jordan, 1994): q covers the component and the row's missing coordinates,
the E-step takes each row's posterior from its marginal density over the
observed ones, and the M-step takes the expected sufficient statistics.
The bound is still the log-likelihood (of the observed values) and every
check of it holds unchanged.

Here the engine routes rows, a segment at a time: a segment with no NaN
goes to the family's fused kernel as it would without this option (the
same bits); in a segment with NaN, the complete rows go to the fused kernel
together and the incomplete ones -- sorted by their pattern of missing
coordinates when the plan asks (``Plan.sort_patterns``: a kernel that
factorises once per pattern and component) -- to the family's kernel for
incomplete rows (``Plan.run_missing``), both adding into the pass's
accumulators; or, when that kernel is as fast as the fused one
(``Plan.missing_takes_all``), the whole segment goes to it, and no row is
copied out.  A row with no observed coordinate has likelihood 1
under every model: it is scored (log-likelihood 0, posterior the weights)
and adds nothing to the statistics.

A fit also looks at the data once (``scan``): how many rows have NaN, how
many have nothing observed, and a column observed nowhere is an error.  The
initialisation (k-means and the first statistics) and re-seeding run on
the rows with each NaN replaced by its column's observed mean (``filled``);
EM itself then runs on the real rows.
"""

from typing import NamedTuple

import numpy as np

from ..data.chunks import iter_chunks
from ..data.dask import DaskSource
from ..data.sources import RowSource
from ..kernels import missing as kernels

MISSING_VALUES = ("raise", "marginalize")


class MissingSummary(NamedTuple):
    """What a fit needs to know of the NaN in its data (one scan)."""

    n_incomplete: int  # rows with at least one NaN
    n_empty: int  # rows with no observed coordinate
    observed: np.ndarray  # (d,) observed values per column
    column_sum: np.ndarray  # (d,) sum of the observed values per column

    @property
    def fill_values(self):
        """Each column's observed mean."""
        return self.column_sum / np.maximum(self.observed, 1)


def nan_counts(chunk):
    """The number of NaN coordinates of every row of a kernel-ready chunk."""
    counts = np.empty(chunk.shape[0], np.int64)
    kernels.nan_counts(chunk, counts)
    return counts


#: Row ranges a scan's per-column sums are cut into (a constant: the same
#: sums for any thread count).
SCAN_TASKS = 16


def _chunk_summary(chunk):
    d = chunk.shape[1]
    counts = np.empty(chunk.shape[0], np.int64)
    observed = np.zeros((SCAN_TASKS, d))
    column_sum = np.zeros((SCAN_TASKS, d))
    kernels.nan_summary(chunk, counts, observed, column_sum)
    rows = np.array([np.count_nonzero(counts), np.count_nonzero(counts == d)])
    return rows, observed.sum(axis=0), column_sum.sum(axis=0)


def scan(X):
    """The ``MissingSummary`` of validated X (an array, a row source or a
    dask array's source): one read."""
    if isinstance(X, DaskSource):
        import dask
        import dask.array as da

        data = X.data
        holes = da.isnan(data)
        counts = holes.sum(axis=1)
        n_incomplete, n_empty, observed, column_sum = dask.compute(
            (counts > 0).sum(), (counts == data.shape[1]).sum(), (~holes).sum(axis=0),
            da.nansum(data, axis=0, dtype=np.float64))
        return MissingSummary(int(n_incomplete), int(n_empty),
                              np.asarray(observed, dtype=np.float64),
                              np.asarray(column_sum, dtype=np.float64))
    n_incomplete = n_empty = 0
    observed = column_sum = 0.0
    for _, _, chunk in iter_chunks(X, X.dtype):
        rows, obs, csum = _chunk_summary(chunk)
        n_incomplete += int(rows[0])
        n_empty += int(rows[1])
        observed = observed + obs
        column_sum = column_sum + csum
    return MissingSummary(n_incomplete, n_empty, np.asarray(observed, dtype=np.float64),
                          np.asarray(column_sum, dtype=np.float64))


def check_summary(summary):
    """A fit's error: a feature observed in no row (which data of rows with
    nothing observed also get)."""
    never = np.flatnonzero(summary.observed == 0)
    if never.size:
        shown = ", ".join(str(int(j)) for j in never[:10]) + (", ..." if never.size > 10 else "")
        raise ValueError(
            f"Feature(s) {shown} of X are missing (NaN) in every row: with "
            "missing='marginalize' every feature needs at least one observed value. "
            "Drop the feature(s) first."
        )


class FilledSource(RowSource):
    """The rows of a validated X with every NaN replaced by its column's
    value in ``fill`` (what the initialisation and re-seeding look at)."""

    def __init__(self, X, fill):
        self.X = X
        self.fill = np.asarray(fill)
        self.shape = tuple(X.shape)
        self.dtype = X.dtype
        self.progress = getattr(X, "progress", None)

    def _fill(self, chunk):
        holes = np.isnan(chunk)
        if holes.any():
            chunk = np.where(holes, self.fill.astype(chunk.dtype), chunk)
        return chunk

    def iter_chunks(self, dtype=None, whole=False):
        dtype = self.dtype if dtype is None else np.dtype(dtype)
        for start, stop, chunk in iter_chunks(self.X, dtype):
            yield start, stop, self._fill(chunk)

    def _take_sorted(self, order):
        if isinstance(self.X, RowSource):
            return self._fill(self.X.take(order))
        return self._fill(np.asarray(self.X[order]))


def filled(X, fill):
    """X with NaN replaced by ``fill`` (per column): an in-memory array as a
    filled copy (the initialisation then sees exactly what it would see of
    complete data), a dask array lazily, anything else a chunk at a time."""
    if isinstance(X, DaskSource):
        import dask.array as da

        data = X.data
        values = np.asarray(fill, dtype=data.dtype)
        return DaskSource(da.where(da.isnan(data), values, data))
    if isinstance(X, RowSource):
        return FilledSource(X, fill)
    holes = np.isnan(X)
    return np.where(holes, np.asarray(fill, dtype=X.dtype), X) if holes.any() else X


def pattern_order(rows):
    """An order of the rows that puts rows of one pattern of missing
    coordinates next to each other (deterministic: by the pattern's bits,
    then by row)."""
    keys = np.packbits(np.isnan(rows), axis=1)
    return np.lexsort(keys.T[::-1])


def _scratch(outputs, n):
    """Per-row outputs for n rows, like ``outputs`` (empty ones stay empty)."""
    return tuple(o if o.shape[0] == 0 else np.empty((n,) + o.shape[1:], o.dtype)
                 for o in outputs)


def _scatter(outputs, scratch, rows):
    for out, tmp in zip(outputs, scratch):
        if out.shape[0]:
            out[rows] = tmp


def run_chunk(plan, chunk, sample_weight, outputs, accs, segment):
    """``plan.run`` on a chunk of rows that may hold NaN (``plan.missing``):
    each segment of the chunk with no NaN goes through the fused kernel as
    it is; in one with NaN, the complete rows go through it together and
    the incomplete ones, sorted by pattern when the plan asks, through
    ``plan.run_missing`` -- or the whole segment does, when the plan's
    kernel for incomplete rows is as fast as its fused one
    (``missing_takes_all``)."""
    if not plan.missing:
        plan.run(chunk, sample_weight, outputs, accs, segment)
        return
    n = chunk.shape[0]
    counts = nan_counts(chunk)
    weighted = sample_weight.shape[0] > 0
    for lo in range(0, n, max(segment, 1)):
        hi = min(n, lo + segment)
        piece = chunk[lo:hi]
        sw = sample_weight[lo:hi] if weighted else sample_weight
        outs = tuple(o[lo:hi] if o.shape[0] else o for o in outputs)
        c = counts[lo:hi]
        if not c.any():
            plan.run(piece, sw, outs, accs, segment)
            continue
        if plan.missing_takes_all:
            plan.run_missing(piece, sw, outs, accs)
            continue
        bad = np.flatnonzero(c)
        good = np.flatnonzero(c == 0)
        if good.size:
            tmp = _scratch(outs, good.size)
            plan.run(piece[good], sw[good] if weighted else sw, tmp, accs, good.size)
            if not np.isfinite(accs[0][:, 0].sum()):
                plan.repair(piece[good], tmp[1], tmp[2])
            _scatter(outs, tmp, good)
        if plan.sort_patterns:
            bad = bad[pattern_order(piece[bad])]
        elif bad.size == hi - lo:  # every row, in order: no copy
            plan.run_missing(piece, sw, outs, accs)
            continue
        tmp = _scratch(outs, bad.size)
        plan.run_missing(piece[bad], sw[bad] if weighted else sw, tmp, accs)
        _scatter(outs, tmp, bad)


def impute(X, family, params, random_state=None):
    """X (validated, possibly with NaN) with each missing coordinate
    replaced by its posterior mean under the model, sum_k p(k | x_o)
    E[x_m | x_o, k] -- or, with ``random_state``, by a draw from the
    posterior of the row's missing coordinates (a component drawn by its
    responsibility, then the component's conditional Gaussian).  Returns a
    new in-memory array of the model's output dtype."""
    plan = family.plan(params, X.dtype, want_stats=False)
    dtype = plan.dtype
    out = np.empty(X.shape, dtype=family.output_dtype(params, X.dtype))
    n_features = X.shape[1]
    accs = [np.zeros((1, 2))] + [np.zeros((0,) + s) for s in
                                 ((plan.n_components,),) + tuple(plan.stat_shapes)]
    no_rows = (np.empty(0, dtype), np.empty((0, plan.n_components), dtype),
               np.empty(0, np.int64))
    no_weight = np.empty(0, dtype)
    for start, stop, chunk in iter_chunks(X, dtype):
        out[start:stop] = chunk
        bad = np.flatnonzero(nan_counts(chunk))
        if plan.sort_patterns:
            bad = bad[pattern_order(chunk[bad])]
        if not bad.size:
            continue
        rows = bad
        fill = np.empty((rows.size, n_features), dtype)
        draws = None
        if random_state is not None:
            draws = plan.missing_draws(chunk[rows], random_state)
        plan.run_missing(chunk[rows], no_weight, no_rows, accs, fill, draws)
        out[start + rows] = fill
    return out
