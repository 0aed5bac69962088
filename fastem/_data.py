"""Feeding rows to the kernels in fixed-size chunks.

Every kernel call sees a C-contiguous, writeable, native-endian float32 or
float64 array, so each kernel has exactly two specialisations.  An input that
already is such an array is passed as views of itself (no copy); anything
else (read-only, non-native byte order, strided, Fortran-ordered, another
dtype) is copied chunk by chunk into one reusable buffer, so the extra memory
is one chunk, whatever the number of rows.

Chunk boundaries depend only on ``n_features`` and the dtype, so a model
gives the same bits whether its input came as a view or as copies.
"""

import numpy as np

from .kernels import BLOCK

#: Target size of one chunk of rows, in bytes.
CHUNK_BYTES = 8 * 2**20


def chunk_rows(n_features, dtype):
    """Rows per chunk: a multiple of the kernels' block size, about 8 MiB."""
    rows = CHUNK_BYTES // max(1, n_features * np.dtype(dtype).itemsize)
    return max(BLOCK, rows // BLOCK * BLOCK)


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


def iter_chunks(X, dtype):
    """Yield ``(start, stop, chunk)`` covering the rows of the 2-D array ``X``.

    ``chunk`` is a kernel-ready ``dtype`` array equal to ``X[start:stop]``; it
    may be a reused buffer, so use it before asking for the next one.
    """
    dtype = np.dtype(dtype)
    n_samples, n_features = X.shape
    step = chunk_rows(n_features, dtype)
    ready = _is_kernel_ready(X, dtype)
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
