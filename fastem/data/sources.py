"""Data that is not (or should not become) one in-memory array.

Besides NumPy arrays, every method that takes ``X`` accepts:

* **out-of-core arrays**: a ``numpy.memmap`` (also what ``np.load(path,
  mmap_mode="r")`` returns), an ``h5py`` dataset or a ``zarr`` array of two
  dimensions.  They are read in slices of about 8 MiB (``chunk_rows``) and
  never copied whole, never converted whole to another dtype.
* **chunk sources**: a callable that returns a new iterable of 2-D row blocks
  each time it is called, or an object whose ``__iter__`` starts a new pass
  each time (a class with ``__iter__`` written as a generator function).
  Every pass must yield the same rows in the same order; blocks may have any
  number of rows, all the same number of columns.  A one-shot iterator or a
  generator object cannot be read twice and is refused.

Both are wrapped in a ``RowSource``: ``shape``, ``dtype`` (the dtype rows are
computed in: float32 or float64, as scikit-learn's validation would choose)
and ``iter_chunks(dtype)``, which yields ``(start, stop, chunk)`` with
kernel-ready chunks of exactly ``chunk_rows`` rows (the last one shorter) --
the same segments as an in-memory array, so the same bits come out.
"""

import numpy as np

from .chunks import chunk_rows

#: Up to this many rows, ``take`` reads them one by one; beyond, one pass.
_TAKE_DIRECTLY = 4096

_OUT_OF_CORE_MODULES = ("h5py", "zarr")


def is_out_of_core_array(X):
    """A memmap, or an h5py dataset / zarr array (recognised by module, so
    neither package has to be installed)."""
    if isinstance(X, np.memmap):
        return True
    module = type(X).__module__.split(".")[0]
    return module in _OUT_OF_CORE_MODULES and hasattr(X, "shape") and hasattr(X, "dtype")


def is_chunk_source(X):
    """A callable, or a re-iterable object that is not array-like."""
    if isinstance(X, (np.ndarray, list, tuple, str, bytes, dict)):
        return False
    if hasattr(X, "shape") or hasattr(X, "__array__") or hasattr(X, "__len__"):
        return False
    return callable(X) or hasattr(X, "__iter__")


def compute_dtype_of(dtype):
    """The float dtype scikit-learn's ``check_array(dtype=[float64, float32])``
    would give data of ``dtype``."""
    dtype = np.dtype(dtype)
    if dtype in (np.dtype(np.float64), np.dtype(np.float32)):
        return dtype.newbyteorder("=")
    return np.dtype(np.float64)


class RowSource:
    """Rows read a chunk at a time (see the module docstring)."""

    shape: tuple
    dtype: np.dtype
    ndim = 2
    #: None, or a function of the row count returning a progress bar (an
    #: object with ``update(rows)`` and ``close()``) shown during each pass.
    progress = None

    @property
    def n_samples(self):
        return self.shape[0]

    @property
    def n_features(self):
        return self.shape[1]

    def blocks(self):
        """Raw blocks of rows (any length, any dtype), one pass."""
        raise NotImplementedError

    def iter_chunks(self, dtype=None, whole=False):
        """``(start, stop, chunk)``: kernel-ready ``dtype`` chunks of
        ``chunk_rows`` rows (the last shorter), whatever the blocks' sizes.
        ``whole`` is accepted for the in-memory interface and ignored."""
        bar = self.progress(self.n_samples) if self.progress is not None else None
        try:
            yield from self._chunks(dtype, bar)
        finally:
            if bar is not None:
                bar.close()

    def _chunks(self, dtype, bar):
        dtype = self.dtype if dtype is None else np.dtype(dtype)
        step = chunk_rows(self.n_features, dtype)
        buffer = np.empty((min(step, max(self.n_samples, 1)), self.n_features), dtype=dtype)
        filled = 0
        start = 0
        for block in self.blocks():
            rows = block.shape[0]
            at = 0
            while at < rows:
                take = min(step - filled, rows - at)
                buffer[filled:filled + take] = block[at:at + take]
                filled += take
                at += take
                if filled == step:
                    yield start, start + filled, buffer
                    start += filled
                    filled = 0
                    if bar is not None:
                        bar.update(step)
        if filled:
            yield start, start + filled, buffer[:filled]
            start += filled
            if bar is not None:
                bar.update(filled)
        if start != self.n_samples:
            raise ValueError(
                f"The chunk source yielded {start} rows on this pass, but "
                f"{self.n_samples} on its first: every pass must yield the same rows."
            )

    def take(self, indices):
        """The rows at ``indices`` (any order, repeats allowed) as a float
        array of ``self.dtype``, reading only what it needs.  The last
        result is remembered: asked for the same rows again (``select``'s
        candidates share a ``random_state`` and so their initialisation's
        subsample), the source returns that same array without a read; it
        must not be modified."""
        indices = np.asarray(indices, dtype=np.intp)
        memo = getattr(self, "_take_memo", None)
        if memo is not None and memo[0].shape == indices.shape and np.array_equal(memo[0],
                                                                                  indices):
            return memo[1]
        if indices.size and np.all(indices[1:] > indices[:-1]):
            rows = self._take_sorted(indices)  # a subsample: no reordering copy
        else:
            order = np.unique(indices)
            rows = self._take_sorted(order)[np.searchsorted(order, indices)]
        self._take_memo = (indices.copy(), rows)
        return rows

    def _take_sorted(self, order):
        out = np.empty((order.size, self.n_features), dtype=self.dtype)
        if order.size == 0:
            return out
        for start, stop, chunk in self.iter_chunks(self.dtype):
            lo, hi = np.searchsorted(order, [start, stop])
            if hi > lo:
                out[lo:hi] = chunk[order[lo:hi] - start]
            if hi == order.size:
                break
        return out


class ArraySource(RowSource):
    """A memmap, h5py dataset or zarr array, read in slices."""

    def __init__(self, data):
        self.data = data
        self.shape = tuple(int(s) for s in data.shape)
        self.dtype = compute_dtype_of(data.dtype)

    def blocks(self):
        n_samples, n_features = self.shape
        step = chunk_rows(n_features, self.dtype)
        for start in range(0, n_samples, step):
            yield np.asarray(self.data[start:start + step])

    def _take_sorted(self, order):
        if order.size > _TAKE_DIRECTLY:
            return super()._take_sorted(order)
        out = np.empty((order.size, self.n_features), dtype=self.dtype)
        for i, row in enumerate(order):
            out[i] = np.asarray(self.data[int(row):int(row) + 1])[0]
        return out


class ChunkSource(RowSource):
    """A callable returning an iterable of row blocks, or a re-iterable.

    ``shape`` and ``dtype`` are known after ``scan``, a first pass that the
    estimator's validation makes."""

    def __init__(self, source):
        if not callable(source) and iter(source) is source:
            raise TypeError(
                "A chunk source must be readable once per pass over the data: pass a "
                "function that returns a new iterator of row blocks each time it is "
                "called (or an object whose __iter__ starts a new pass), not a "
                f"generator or iterator ({type(source).__name__})."
            )
        self.source = source
        self.shape = None
        self.dtype = None

    def blocks(self):
        for block in self.blocks_raw():
            yield np.asarray(block)

    def blocks_raw(self):
        """The source's items as it yields them (a sequence source's may be
        ``(X, lengths)`` pairs)."""
        yield from (self.source() if callable(self.source) else self.source)

    def scan(self, check_block):
        """The first pass: each block goes through ``check_block`` (which
        validates it and returns it as a float array); sets ``shape`` and
        ``dtype``."""
        n_samples = 0
        n_features = None
        dtypes = []
        for block in self.blocks():
            if block.ndim == 2 and block.shape[0] == 0:
                continue
            block = check_block(block)
            if n_features is None:
                n_features = block.shape[1]
            elif block.shape[1] != n_features:
                raise ValueError(
                    f"Every block of a chunk source must have the same number of "
                    f"features: got {block.shape[1]} after {n_features}."
                )
            n_samples += block.shape[0]
            dtypes.append(block.dtype)
        self.shape = (n_samples, 0 if n_features is None else n_features)
        self.dtype = np.result_type(*dtypes) if dtypes else np.dtype(np.float64)
        return self


def progress_bar_factory(verbose):
    """Progress bars for passes over out-of-core data when ``verbose`` and
    tqdm is installed (an optional dependency); else None."""
    if not verbose:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None

    def bar(total):
        return tqdm(total=total, unit="rows", unit_scale=True, leave=False, desc="pass",
                    mininterval=0.5)

    return bar


def subsample_indices(n_samples, size, rng):
    """``size`` row indices drawn uniformly without replacement from
    ``range(n_samples)``, sorted, in O(size) memory: the count taken from each
    stretch of rows is hypergeometric, then that many rows of the stretch are
    chosen uniformly (selection sampling, a stretch at a time)."""
    size = min(size, n_samples)
    stretch = 1 << 20
    picked = []
    left_rows = n_samples
    left_size = size
    for start in range(0, n_samples, stretch):
        rows = min(stretch, n_samples - start)
        if left_size == 0:
            break
        if rows == left_rows:
            take = left_size
        else:
            take = int(rng.hypergeometric(rows, left_rows - rows, left_size))
        if take:
            picked.append(start + np.sort(rng.choice(rows, size=take, replace=False)))
        left_rows -= rows
        left_size -= take
    if not picked:
        return np.empty(0, dtype=np.intp)
    return np.concatenate(picked).astype(np.intp)

