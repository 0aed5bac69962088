"""Model-agnostic block code: the partition driver and helpers every kernel shares.

Layout of a pass.  Rows are cut into blocks of ``BLOCK`` rows.  The rows are
taken in segments of ``segment_rows`` (a multiple of ``BLOCK``); the blocks
of a segment are grouped into ``P`` contiguous partitions, a kernel's
``prange`` runs over the partitions, and partition ``p`` of every segment
adds its blocks, in order, into the same float64 accumulators ``acc[p]``
(one task per partition walks all the segments: its buffers are allocated
once per call, and there is no barrier between segments).  The caller owns
the accumulators: it zeroes them once, may feed the rows to several calls a
segment at a time (copies of a strided or read-only input), and adds the
partitions in order at the end.  ``P`` and the segments depend only on the
problem size, never on the number of threads or on how the rows arrived, so
results are bitwise identical for 1 or 64 threads and for views or copies.

A family's kernel is then::

    for p in prange(P):
        ...per-partition buffers...
        for start in block_starts(p, P, n, segment_rows):
            nb = min(BLOCK, n - start)
            load_block(X, start, nb, XT)
            ...the family's log-densities, posterior_block, statistics...
"""

import numpy as np
from numba import types
from numba.extending import overload

from ._config import BLOCK, JIT_OPTIONS, helper


def typed_zero(x):
    """0 of x's type (so an accumulator keeps the data's precision)."""
    return 0.0


@overload(typed_zero, inline="always", jit_options=JIT_OPTIONS)
def _typed_zero_impl(x):
    if x == types.float32:
        return lambda x: np.float32(0.0)
    return lambda x: 0.0


@helper
def block_starts(p, P, n, segment_rows):
    """The first row of every block partition ``p`` of ``P`` takes, over all
    segments of ``segment_rows`` rows of an ``n``-row input, in order."""
    segment_rows = max(segment_rows, 1)
    count = 0
    for seg in range(0, n, segment_rows):
        seg_blocks = (min(segment_rows, n - seg) + BLOCK - 1) // BLOCK
        count += (p + 1) * seg_blocks // P - p * seg_blocks // P
    starts = np.empty(count, np.int64)
    i = 0
    for seg in range(0, n, segment_rows):
        seg_blocks = (min(segment_rows, n - seg) + BLOCK - 1) // BLOCK
        for blk in range(p * seg_blocks // P, (p + 1) * seg_blocks // P):
            starts[i] = seg + blk * BLOCK
            i += 1
    return starts


@helper
def load_block(X, start, nb, XT):
    """XT[j, b] = X[start + b, j]: a transposed copy of one block of rows
    (of data, or of given responsibilities).

    Rows are read in memory order, so the hardware prefetcher streams them
    from memory; the writes go down a column of ``XT``, whose rows are
    padded (``XT_PAD``) so that the column does not fall into a few L1
    cache sets."""
    d = X.shape[1]
    if d >= 8:
        for b in range(nb):
            for j in range(d):
                XT[j, b] = X[start + b, j]
        return
    # A few features: eight rows at a time, each feature's eight values
    # written as one vector.
    b8 = nb - nb % 8
    for b0 in range(0, b8, 8):
        for j in range(d):
            for b in range(b0, b0 + 8):
                XT[j, b] = X[start + b, j]
    for b in range(b8, nb):
        for j in range(d):
            XT[j, b] = X[start + b, j]


@helper
def add_weight(resp, k, nb, nk):
    """nk[k] += the block's sum of responsibilities of component k; False when
    that sum is 0 (the component has nothing else to add from this block)."""
    r_sum = 0.0
    for b in range(nb):
        r_sum += resp[k, b]
    nk[k] += r_sum
    return r_sum != 0.0


@helper
def sq_dist_block(XT, nb, center, acc):
    """acc[b] = sum_j (XT[j, b] - center[j])^2 for the block's nb rows, four
    features per sweep over the rows (one load and store of the accumulator
    per four).  The arithmetic is in the wider of the two input types."""
    d = XT.shape[0]
    d4 = d - d % 4
    for b in range(nb):
        acc[b] = 0.0
    for j in range(0, d4, 4):
        c0, c1, c2, c3 = center[j], center[j + 1], center[j + 2], center[j + 3]
        for b in range(nb):
            t0 = XT[j, b] - c0
            t1 = XT[j + 1, b] - c1
            t2 = XT[j + 2, b] - c2
            t3 = XT[j + 3, b] - c3
            acc[b] += (t0 * t0 + t1 * t1) + (t2 * t2 + t3 * t3)
    for j in range(d4, d):
        c = center[j]
        for b in range(nb):
            t = XT[j, b] - c
            acc[b] += t * t
