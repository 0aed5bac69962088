"""Chunk sources of sequences: data that arrives a few sequences at a time.

A hidden Markov model's chunk source (``fastem.data.sources``' contract: a
callable returning a new iterable each time, or a re-iterable object) yields
items that are whole sequences: a 2-D array (one sequence), or ``(X,
lengths)`` (several).  A first pass reads the lengths and validates every
item; each E-step then runs item by item through the same frames,
recursions and family statistics as in memory (``engine.sequences.e_step``)
and adds the items' statistics in order.  Nothing holds more than one item
(and its frames and posteriors) at a time.
"""

import numpy as np

from .dask_sequences import _add
from .sources import ChunkSource, compute_dtype_of


def _split(item):
    """``(X, lengths)`` of an item: an array is one sequence."""
    if isinstance(item, tuple):
        if len(item) != 2:
            raise ValueError("an item of a sequence source is a 2-D array (one sequence) or "
                             f"a pair (X, lengths), got a tuple of {len(item)}")
        X, lengths = item
        return np.asarray(X), np.atleast_1d(np.asarray(lengths))
    X = np.asarray(item)
    return X, np.array([X.shape[0] if X.ndim else 0])


class SequenceChunks:
    """The items of a chunk source of sequences; ``check(block)``
    validates an item's rows (and returns them)."""

    def __init__(self, source, check, scan_check=None):
        self.source = ChunkSource(source)  # refuses one-shot iterators
        self.check = check
        lengths, n_features, dtypes = [], None, []
        from ..engine.sequences import check_lengths

        for X, item_lengths in self.items(validate=False):
            X = (scan_check or check)(X)
            check_lengths(item_lengths, X.shape[0])
            if n_features is None:
                n_features = X.shape[1]
            elif X.shape[1] != n_features:
                raise ValueError(f"Every item of a sequence source must have the same number "
                                 f"of features: got {X.shape[1]} after {n_features}.")
            lengths.extend(int(t) for t in item_lengths)
            dtypes.append(X.dtype)
        if n_features is None:
            raise ValueError("the sequence source yielded no rows")
        self.lengths = np.asarray(lengths, dtype=np.int64)
        self.bounds = np.concatenate([[0], np.cumsum(self.lengths)]).astype(np.int64)
        self.shape = (int(self.bounds[-1]), n_features)
        self.dtype = compute_dtype_of(np.result_type(*dtypes))

    def items(self, validate=True):
        for item in self.source.blocks_raw():
            X, lengths = _split(item)
            yield (self.check(X) if validate else X), lengths

    def kernel_items(self):
        """``(X, local bounds, first sequence)`` of every item, kernel-ready."""
        first = 0
        for X, lengths in self.items():
            X = np.ascontiguousarray(X, dtype=self.dtype)
            local = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
            yield X, local, first
            first += lengths.size

    def head(self, n):
        rows, have = [], 0
        for X, _ in self.items():
            rows.append(X[:n - have])
            have += rows[-1].shape[0]
            if have >= n:
                break
        return np.concatenate(rows)

    def distributed_e_step(self, emission, startprob, transmat, want_stats, seq_weight):
        """``engine.sequences.e_step`` item by item, the statistics added in
        order."""
        from ..engine.sequences import e_step

        total = None
        for X, local, first in self.kernel_items():
            weights = None if seq_weight is None else seq_weight[first:first + local.size - 1]
            part = e_step(X, local, emission, startprob, transmat, want_stats=want_stats,
                          seq_weight=weights)
            total = part if total is None else _add(total, part)
        return total

    def per_item(self, func):
        """``func(X, local bounds)`` of every item, the outputs concatenated."""
        return np.concatenate([func(X, local) for X, local, _ in self.kernel_items()])
