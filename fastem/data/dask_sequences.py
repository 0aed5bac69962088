"""Dask arrays of sequences: Baum-Welch with whole sequences in every block.

A hidden Markov model's recursion runs along a sequence, so a block of rows
must hold whole sequences: ``DaskSequences`` rechunks the array's rows at
sequence boundaries (sequences grouped into blocks of about the array's own
block size; a longer sequence is a block of its own -- dask's rechunk is
lazy, nothing is read).  Each E-step is one task per block -- the same
frames, recursions and family statistics as in memory
(``engine.sequences.e_step``), the task carrying the emission and the
chain's parameters -- returning that block's statistics, which the client
adds in block order.  ``predict`` and ``predict_proba`` of a dask array
return dask arrays, computed a block at a time.
"""

import numpy as np

from .dask import Task
from .sources import compute_dtype_of


def aligned_chunks(bounds, target):
    """Row chunks of whole sequences, each about ``target`` rows (a longer
    sequence alone): ``(chunks, block bounds)``, the block bounds being the
    indices into ``bounds`` where each block starts (and the last, S)."""
    starts = [0]
    n_seq = bounds.size - 1
    s = 0
    while s < n_seq:
        e = int(np.searchsorted(bounds, bounds[s] + target, side="right")) - 1
        e = min(max(e, s + 1), n_seq)
        starts.append(e)
        s = e
    starts = np.asarray(starts, dtype=np.int64)
    chunks = tuple(int(c) for c in np.diff(bounds[starts]))
    return chunks, starts


def _block(block, task, index):
    """``(rows, local bounds, first sequence, end sequence)`` of block
    ``index``: its rows validated (``task.check``) and kernel-ready."""
    X = np.ascontiguousarray(task.check(np.asarray(block)), dtype=task.dtype)
    lo, hi = task.starts[index], task.starts[index + 1]
    return X, task.bounds[lo:hi + 1] - task.bounds[lo], lo, hi


def _block_e_step(block, task, index):
    from ..engine.sequences import e_step

    X, local, lo, hi = _block(block, task, index)
    weights = None if task.seq_weight is None else task.seq_weight[lo:hi]
    return e_step(X, local, task.emission, task.startprob, task.transmat,
                  want_stats=task.want_stats, seq_weight=weights)


def _add(a, b, name=""):
    """Two blocks' statistics added: numbers and arrays summed, a frame (the
    ``shift`` the moments are centred on: the same in every block) kept,
    the per-sequence log-likelihoods concatenated."""
    if name == "seq_ll":
        return np.concatenate([a, b])
    if name == "shift":
        return a
    if a is None:
        return None
    if hasattr(a, "_fields"):
        return type(a)(*(_add(x, y, f) for f, x, y in zip(a._fields, a, b)))
    if isinstance(a, list):
        return [_add(x, y) for x, y in zip(a, b)]
    return a + b


class DaskSequences:
    """A 2-D dask array of rows cut into sequences by ``bounds``, its blocks
    made to hold whole sequences; ``check(block)`` validates a block where
    it is computed (and returns it)."""

    def __init__(self, data, bounds, dtype, check):
        if data.numblocks[1] != 1:
            data = data.rechunk({1: -1})
        target = max(int(max(data.chunks[0])), 1)
        chunks, starts = aligned_chunks(bounds, target)
        if tuple(data.chunks[0]) != chunks:
            data = data.rechunk({0: chunks})
        self.data = data
        self.bounds = bounds
        self.starts = starts
        self.shape = tuple(int(s) for s in data.shape)
        self.dtype = compute_dtype_of(np.dtype(dtype))
        self.check = check

    def head(self, n):
        return np.asarray(self.data[:n].compute())

    def distributed_e_step(self, emission, startprob, transmat, want_stats, seq_weight):
        """``engine.sequences.e_step`` over every block, on the cluster; the
        blocks' statistics added in block order on the client."""
        import dask

        task = Task(emission=emission, startprob=np.asarray(startprob),
                    transmat=np.asarray(transmat), want_stats=want_stats, dtype=self.dtype,
                    bounds=self.bounds, starts=self.starts, seq_weight=seq_weight,
                    check=self.check)
        blocks = self.data.to_delayed().ravel()
        parts = dask.compute(*[dask.delayed(_block_e_step)(b, task, i)
                               for i, b in enumerate(blocks)])
        total = parts[0]
        for part in parts[1:]:
            total = _add(total, part)
        return total

    def lazy(self, func, task, out_columns=None, dtype=np.float64):
        """A dask array of per-row outputs: ``func(block, task, index)`` per
        block (``out_columns``: the width of a 2-D output; None: 1-D)."""
        import dask.array as da

        def run(block, block_info=None):
            index = block_info[0]["chunk-location"][0]
            return func(block, task, index)

        if out_columns is None:
            return da.map_blocks(run, self.data, dtype=dtype, drop_axis=1)
        return da.map_blocks(run, self.data, dtype=dtype,
                             chunks=(self.data.chunks[0], (out_columns,)))


def block_viterbi(block, task, index):
    from ..engine.sequences import viterbi

    X, local, _, _ = _block(block, task, index)
    return viterbi(X, local, task.emission, task.startprob, task.transmat)[1]


def block_viterbi_lp(block, task, index):
    from ..engine.sequences import viterbi

    X, local, _, _ = _block(block, task, index)
    return viterbi(X, local, task.emission, task.startprob, task.transmat)[0]


def block_posteriors(block, task, index):
    from ..engine.sequences import e_step

    X, local, _, _ = _block(block, task, index)
    out = np.empty((X.shape[0], task.startprob.shape[0]))
    e_step(X, local, task.emission, task.startprob, task.transmat, want_stats=False,
           posteriors=out)
    return out
