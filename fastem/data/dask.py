"""Dask arrays: EM passes as a map over blocks and a tree reduction.

A ``dask.array.Array`` given to ``fit`` is wrapped in a ``DaskSource``.  Each
E-step + statistics pass maps the family's plan -- the same fused kernel as in
memory; the task carries the family and its parameters -- over the array's
row blocks (one task per block, returning one small float64 vector of sums)
and adds the vectors with dask's tree reduction, on the cluster; only that
vector reaches the client, where the M-step runs.  ``predict``, ``predict_proba``
and ``score_samples`` of a dask array return dask arrays, computed lazily, a
block at a time.

Nothing here imports dask until a dask array is seen (``is_dask_array``
looks at the type's module), so dask stays an optional extra
(``fastem[dask]``).
"""

import numpy as np

from .sources import RowSource, compute_dtype_of

_SPLIT_EVERY = 8


def is_dask_array(X):
    return type(X).__module__.split(".")[:2] == ["dask", "array"]


class Task:
    """What a block's task needs besides the block, in one opaque object:
    dask looks into tuples and lists in task arguments (a tuple starting
    with a callable is a task of its own), never into this."""

    def __init__(self, **fields):
        self.__dict__.update(fields)


def _pack(totals):
    return np.concatenate([np.ravel(t) for t in totals])


def _unpack(vector, shapes):
    out = []
    at = 0
    for shape in shapes:
        size = int(np.prod(shape))
        out.append(vector[at:at + size].reshape(shape))
        at += size
    return out


def _total_shapes(plan):
    """The shapes of a plan's reduced accumulators (see ``engine.passes``)."""
    return [(2,), (plan.n_components,)] + [tuple(s) for s in plan.stat_shapes]


def _block_pass(block, task, sample_weight=None):
    """One task: a pass over one block of rows, its sums as a (1, L) vector."""
    from ..engine.passes import pass_totals

    plan = task.family.plan(task.params, task.source_dtype, task.want_stats)
    block = np.ascontiguousarray(block, dtype=plan.dtype)
    return _pack(pass_totals(block, plan, sample_weight))[None, :]


def _block_row_stats(block, task, sample_weight=None):
    """One task: statistics with every row in one component, over one block."""
    from ..engine.passes import ones, stats_under_totals

    block = np.ascontiguousarray(block, dtype=task.plan.dtype)
    return _pack(stats_under_totals(block, task.plan, ones, sample_weight))[None, :]


def _weighted_block_pass(block, weight_block, task):
    """``_block_pass`` with the block's sample weights (an (n, 1) block)."""
    return _block_pass(block, task, sample_weight=weight_block[:, 0])


def _weighted_block_row_stats(block, weight_block, task):
    return _block_row_stats(block, task, sample_weight=weight_block[:, 0])


class DaskSource(RowSource):
    """A 2-D dask array with its rows in blocks and its columns in one chunk.

    The EM passes run on the cluster (``distributed_pass``); the few things
    that need rows on the client (the initialisation's subsample or chosen
    rows, and 'random' responsibilities) read them block by block."""

    def __init__(self, data):
        if data.ndim == 2 and data.numblocks[1] != 1:
            data = data.rechunk({1: -1})
        if data.ndim >= 1 and any(np.isnan(c) for c in data.chunks[0]):
            data = data.compute_chunk_sizes()
        self.data = data
        self.shape = tuple(int(s) for s in data.shape)
        self.dtype = compute_dtype_of(data.dtype)

    def blocks(self):
        for i in range(self.data.numblocks[0]):
            yield np.asarray(self.data.blocks[i].compute())

    def _take_sorted(self, order):
        if order.size == 0:
            return np.empty((0, self.n_features), dtype=self.dtype)
        return np.asarray(self.data[order].compute(), dtype=self.dtype)

    def head(self, n):
        return np.asarray(self.data[:n].compute())

    def non_finite(self):
        """(any NaN, any infinity), in one pass on the cluster."""
        import dask
        import dask.array as da

        if not np.issubdtype(self.data.dtype, np.inexact):
            return False, False
        return dask.compute(da.isnan(self.data).any(), da.isinf(self.data).any())

    def _reduce(self, parts, plan):
        vector = parts.sum(axis=0, split_every=_SPLIT_EVERY).compute()
        return _unpack(np.asarray(vector, dtype=np.float64), _total_shapes(plan))

    def weights_like_rows(self, sample_weight):
        """``sample_weight`` (array-like or dask array) as a dask array with
        this array's row chunks."""
        import dask.array as da

        if is_dask_array(sample_weight):
            return sample_weight.rechunk((self.data.chunks[0],))
        return da.from_array(np.asarray(sample_weight), chunks=(self.data.chunks[0],))

    def _map(self, func, weighted_func, sample_weight, *args, size):
        if sample_weight is None:
            return self.data.map_blocks(func, *args, dtype=np.float64, chunks=(1, size))
        import dask.array as da

        weights = self.weights_like_rows(sample_weight)[:, None]
        return da.map_blocks(weighted_func, self.data, weights, *args, dtype=np.float64,
                             chunks=(1, size))

    def _total(self, sample_weight):
        """The sum of the weights, computed once per weights array."""
        if sample_weight is None:
            return self.n_samples
        memo = getattr(self, "_weight_total", None)
        if memo is None or memo[0] is not sample_weight:
            total = self.weights_like_rows(sample_weight).sum(dtype=np.float64).compute()
            memo = self._weight_total = (sample_weight, float(total))
        return memo[1]

    def distributed_pass(self, family, params, want_stats, sample_weight=None):
        """``engine.passes.run_pass`` over every block, summed on the cluster."""
        from ..engine.passes import finish

        plan = family.plan(params, self.dtype, want_stats)
        task = Task(family=family, params=params, source_dtype=self.dtype,
                    want_stats=want_stats)
        parts = self._map(_block_pass, _weighted_block_pass, sample_weight, task,
                          size=sum(int(np.prod(s)) for s in _total_shapes(plan)))
        return finish(plan, self._reduce(parts, plan), self._total(sample_weight))

    def distributed_row_stats(self, plan, sample_weight=None):
        """``engine.passes.row_stats`` (every row in one component), summed on
        the cluster."""
        from ..engine.passes import finish

        parts = self._map(_block_row_stats, _weighted_block_row_stats, sample_weight,
                          Task(plan=plan),
                          size=sum(int(np.prod(s)) for s in _total_shapes(plan)))
        return finish(plan, self._reduce(parts, plan), self._total(sample_weight))


# --------------------------------------------------------------------------
# Lazy predictions.


def _block_output(block, task):
    from sklearn.utils import assert_all_finite

    from ..engine.passes import run_pass

    # Checked here, when the block is computed: a lazy result has not read
    # its rows yet when predict returns.
    assert_all_finite(block, allow_nan=task.family.missing,
                      estimator_name=task.estimator_name, input_name="X")
    task.family.check_values(block, task.params)
    block = np.ascontiguousarray(block, dtype=task.dtype)
    n = block.shape[0]
    if task.output == "label":
        out = np.empty(n, dtype=np.intp)
        run_pass(block, task.family, task.params, want_stats=False, out_label=out)
    elif task.output == "lpn":
        out = np.empty(n, dtype=task.dtype)
        run_pass(block, task.family, task.params, want_stats=False, out_lpn=out)
    else:
        out = np.empty((n, task.n_components), dtype=task.dtype)
        run_pass(block, task.family, task.params, want_stats=False, out_resp=out)
    return out


def lazy_output(source, family, params, output, estimator_name, out_dtype=None):
    """A dask array of per-row outputs: "label", "lpn" or "resp" (cast to
    ``out_dtype`` where the estimator's outputs are wider than its kernels')."""
    dtype = family.kernel_dtype_for(params, source.dtype)
    task = Task(family=family, params=params, output=output, dtype=dtype,
                n_components=family.n_components, estimator_name=estimator_name)
    data = source.data
    if output == "resp":
        out = data.map_blocks(_block_output, task, dtype=dtype,
                              chunks=(data.chunks[0], (family.n_components,)))
    else:
        out = data.map_blocks(_block_output, task, dtype=np.intp if output == "label" else dtype,
                              drop_axis=1)
    if out_dtype is not None and output != "label" and np.dtype(out_dtype) != dtype:
        out = out.astype(out_dtype)
    return out
