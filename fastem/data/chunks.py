"""Feeding rows to the kernels in fixed-size chunks.

Every kernel call sees a C-contiguous, writeable, native-endian float32 or
float64 array, so each kernel has exactly two specialisations.  An input that
already is such an array is passed as views of itself (no copy); anything
else (read-only, non-native byte order, strided, Fortran-ordered, another
dtype) is copied chunk by chunk into one reusable buffer, so the extra memory
is one chunk, whatever the number of rows.

Chunk boundaries depend only on ``n_features`` and the dtype.  The mixture
kernels take their rows in segments of exactly that length and sum them into
accumulators the caller keeps across calls, so a kernel-ready array goes
through in one call and a copied one a chunk per call, with the same bits.
"""

import numpy as np

from ..kernels import BLOCK, MAX_PARTS, PARTS_BUDGET

#: Target size of one chunk of rows, in bytes.
CHUNK_BYTES = 8 * 2**20


def chunk_rows(n_features, dtype):
    """Rows per chunk: a multiple of the kernels' block size, about 8 MiB."""
    rows = CHUNK_BYTES // max(1, n_features * np.dtype(dtype).itemsize)
    return max(BLOCK, rows // BLOCK * BLOCK)


def n_partitions(n_samples, n_features, dtype, stat_elems):
    """Partitions per segment of a pass (see ``fastem.kernels._blocks``):
    at most ``MAX_PARTS``, at most one per block of a segment, and few enough
    that all partial sums (``stat_elems`` float64 each) fit ``PARTS_BUDGET``.
    A function of the problem's size only, never of the thread count."""
    rows = min(chunk_rows(n_features, dtype), n_samples)
    blocks = -(-rows // BLOCK)
    return max(1, min(blocks, MAX_PARTS, PARTS_BUDGET // max(1, stat_elems)))


def kernel_array(a, dtype):
    """``a`` as a C-contiguous, writeable, aligned, native ``dtype`` array.

    Read-only or non-native arrays are a different Numba type, and every
    different type costs a kernel a compilation of its own.
    """
    return np.require(a, dtype=np.dtype(dtype).newbyteorder("="), requirements="CWA")


def _is_kernel_ready(X, dtype):
    return (
        X.dtype == dtype
        and X.dtype.isnative
        and X.flags.c_contiguous
        and X.flags.writeable
        and X.flags.aligned
    )


def iter_chunks(X, dtype, whole=False):
    """Yield ``(start, stop, chunk)`` covering the rows of the 2-D array ``X``.

    ``chunk`` is a kernel-ready ``dtype`` array equal to ``X[start:stop]``; it
    may be a reused buffer, so use it before asking for the next one.  With
    ``whole``, a kernel-ready ``X`` comes as one chunk, itself (for kernels
    that segment their rows on ``chunk_rows`` themselves).
    """
    if hasattr(X, "iter_chunks"):
        # A RowSource (fastem._sources): out-of-core arrays and chunk sources.
        yield from X.iter_chunks(dtype)
        return
    dtype = np.dtype(dtype)
    n_samples, n_features = X.shape
    step = chunk_rows(n_features, dtype)
    ready = _is_kernel_ready(X, dtype)
    if ready and whole:
        yield 0, n_samples, X
        return
    buffer = None
    for start in range(0, n_samples, step):
        stop = min(start + step, n_samples)
        if ready:
            yield start, stop, X[start:stop]
            continue
        if buffer is None:
            buffer = np.empty((min(step, n_samples), n_features), dtype=dtype)
        chunk = buffer[: stop - start]
        chunk[...] = X[start:stop]
        yield start, stop, chunk
