"""Dask arrays: EM passes as a map over blocks and a tree reduction.

A ``dask.array.Array`` given to ``fit`` is wrapped in a ``DaskSource``.  Each
E-step + statistics pass maps the same fused kernel over the array's row
blocks (one task per block, returning one small float64 vector of sums) and
adds the vectors with dask's tree reduction, on the cluster; only that vector
reaches the client, where the M-step runs.  ``predict``, ``predict_proba``
and ``score_samples`` of a dask array return dask arrays, computed lazily, a
block at a time.

Nothing here imports dask until a dask array is seen (``is_dask_array``
looks at the type's module), so dask stays an optional extra
(``fastem[dask]``).
"""

import numpy as np

from . import _gaussian as G
from ._sources import RowSource, compute_dtype_of

_SPLIT_EVERY = 8


def is_dask_array(X):
    return type(X).__module__.split(".")[:2] == ["dask", "array"]


def _stat_shapes(n_components, n_features, covariance_type):
    second = {
        "full": (n_components, n_features, n_features),
        "tied": (n_components, 0),
    }.get(covariance_type, (n_components, n_features))
    return [(n_components,), (n_components, n_features), second]


def _pack(stats):
    return np.concatenate([[stats.sum_lpn, stats.sum_abs_lpn], stats.nk.ravel(),
                           stats.sum_x.ravel(), np.asarray(stats.second).ravel()])


def _unpack(vector, template):
    """Stats with the sums of ``vector`` and the rest of ``template``."""
    out = []
    at = 2
    for shape in (template.nk.shape, template.sum_x.shape, np.shape(template.second)):
        size = int(np.prod(shape))
        out.append(vector[at:at + size].reshape(shape))
        at += size
    return template._replace(sum_lpn=float(vector[0]), sum_abs_lpn=float(vector[1]),
                             nk=out[0], sum_x=out[1], second=out[2])


def _block_stats(block, dtype, weights, means, covariances, prec_chol, covariance_type,
                 want_stats, sample_weight=None):
    """One task: the pass over one block of rows, as a (1, L) vector.  (The
    parameters come as separate arrays: dask rebuilds tuples in task
    arguments as plain tuples.)"""
    block = np.ascontiguousarray(block, dtype=dtype)
    params = G.Params(weights, means, covariances, prec_chol)
    stats = G.gaussian_pass(block, params, covariance_type, want_stats=want_stats,
                            sample_weight=sample_weight)
    return _pack(stats)[None, :]


def _weighted_block_stats(block, weight_block, *args):
    """``_block_stats`` with the block's sample weights (an (n, 1) block)."""
    return _block_stats(block, *args, sample_weight=weight_block[:, 0])


def _block_moments(block, dtype, shift, second, sample_weight=None):
    """One task: sum (x - shift) and its second moment over one block."""
    block = np.ascontiguousarray(block, dtype=dtype)
    stats = G.resp_stats(block, lambda a, b: np.ones((b - a, 1)), shift, second, sample_weight)
    return _pack(stats)[None, :]


def _weighted_block_moments(block, weight_block, *args):
    return _block_moments(block, *args, sample_weight=weight_block[:, 0])


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

    def _reduce(self, parts, template):
        vector = parts.sum(axis=0, split_every=_SPLIT_EVERY).compute()
        return _unpack(np.asarray(vector, dtype=np.float64), template)

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

    def distributed_pass(self, params, covariance_type, want_stats, sample_weight=None):
        """``gaussian_pass`` over every block, summed on the cluster."""
        dtype = G.compute_dtype(self.dtype, params.means.dtype)
        template = G.gaussian_pass(np.empty((0, self.n_features), dtype=dtype), params,
                                   covariance_type, want_stats=want_stats)
        parts = self._map(_block_stats, _weighted_block_stats, sample_weight, dtype, *params,
                          covariance_type, want_stats, size=_pack(template).size)
        return self._reduce(parts, template)._replace(n_samples=self._total(sample_weight))

    def distributed_moments(self, shift, second, sample_weight=None):
        """``resp_stats`` with every responsibility 1 (the tied scatter's
        passes), summed on the cluster."""
        template = G.resp_stats(np.empty((0, self.n_features), dtype=self.dtype),
                                lambda a, b: np.ones((b - a, 1)), shift, second)
        parts = self._map(_block_moments, _weighted_block_moments, sample_weight, self.dtype,
                          shift, second, size=_pack(template).size)
        return self._reduce(parts, template)._replace(n_samples=self._total(sample_weight))


# --------------------------------------------------------------------------
# Lazy predictions.


def _block_output(block, dtype, weights, means, covariances, prec_chol, covariance_type,
                  output, n_components):
    from sklearn.utils import assert_all_finite

    # Checked here, when the block is computed: a lazy result has not read
    # its rows yet when predict returns.
    assert_all_finite(block, allow_nan=False, estimator_name="GaussianMixture", input_name="X")
    block = np.ascontiguousarray(block, dtype=dtype)
    params = G.Params(weights, means, covariances, prec_chol)
    n = block.shape[0]
    if output == "label":
        out = np.empty(n, dtype=np.intp)
        G.gaussian_pass(block, params, covariance_type, want_stats=False, out_label=out)
    elif output == "lpn":
        out = np.empty(n, dtype=dtype)
        G.gaussian_pass(block, params, covariance_type, want_stats=False, out_lpn=out)
    else:
        out = np.empty((n, n_components), dtype=dtype)
        G.gaussian_pass(block, params, covariance_type, want_stats=False, out_resp=out)
    return out


def lazy_output(source, params, covariance_type, output):
    """A dask array of per-row outputs: "label", "lpn" or "resp"."""
    dtype = G.compute_dtype(source.dtype, params.means.dtype)
    n_components = params.means.shape[0]
    data = source.data
    if output == "resp":
        return data.map_blocks(_block_output, dtype, *params, covariance_type, output,
                               n_components, dtype=dtype,
                               chunks=(data.chunks[0], (n_components,)))
    out_dtype = np.intp if output == "label" else dtype
    return data.map_blocks(_block_output, dtype, *params, covariance_type, output,
                           n_components, dtype=out_dtype, drop_axis=1)
