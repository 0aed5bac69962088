"""The checks every estimator makes of ``X`` and of its sample weights, with
scikit-learn's helpers and messages, for every kind of data fastem takes.

scikit-learn is imported on first use, not with this module: ``import
fastem`` stays quick (the estimators import it when first accessed).
"""

from numbers import Real

import numpy as np

from .dask import DaskSource, is_dask_array
from .sources import (
    ArraySource,
    ChunkSource,
    RowSource,
    is_chunk_source,
    is_out_of_core_array,
    progress_bar_factory,
)


def check_shape(param, param_shape, name):
    if param.shape != param_shape:
        raise ValueError(
            f"The parameter '{name}' should have the shape of {param_shape}, "
            f"but got {param.shape}"
        )


def float_array(param, allow_nd=False):
    """``check_array(param, dtype=[float64, float32], ensure_2d=False, ...)``.

    A plain, finite, non-empty float32/float64 ndarray of 1 or 2 dimensions (3
    with ``allow_nd``) is what check_array would return unchanged, so it is
    returned at once: check_array's general path (dataframe detection and
    the like) costs a tenth of a millisecond per call, a visible share of a
    small fit. Anything else goes through check_array, for its conversions
    and its messages."""
    if (
        type(param) is np.ndarray
        and param.dtype in (np.float32, np.float64)
        and 1 <= param.ndim <= (3 if allow_nd else 2)
        and param.shape[0] >= 1
        and (param.ndim != 2 or param.shape[1] >= 1)
        and np.isfinite(param).all()
    ):
        return param
    from sklearn.utils import check_array

    return check_array(param, dtype=[np.float64, np.float32], ensure_2d=False,
                       allow_nd=allow_nd)


def validate_X(estimator, X, reset, lazy=False, model_dtype=None, allow_nan=None):
    """X checked as scikit-learn checks it (``fit``: float64/float32, at
    least 2 rows); out-of-core arrays and chunk sources come back as a
    ``RowSource``, checked a chunk at a time, never loaded whole; dask
    arrays as a ``DaskSource``, checked on the cluster (with ``lazy``,
    their values only when each block is computed).  ``n_features_in_`` and
    ``feature_names_in_`` are set (``reset``) or checked on ``estimator``.
    ``model_dtype``: the fitted model's dtype, for the error scikit-learn's
    scoring raises on dates and durations.  ``allow_nan``: whether NaN is
    taken (by default, when the estimator's ``missing`` is
    'marginalize')."""
    from sklearn.utils import assert_all_finite, check_array
    from sklearn.utils.validation import validate_data

    # missing="marginalize" (or ``allow_nan``): NaN is a missing value;
    # infinity stays an error.
    if allow_nan is None:
        allow_nan = getattr(estimator, "missing", "raise") == "marginalize"
    finite = "allow-nan" if allow_nan else True
    if isinstance(X, RowSource):
        source = X
    elif is_dask_array(X):
        source = DaskSource(X)
    elif is_out_of_core_array(X):
        source = ArraySource(X)
    elif is_chunk_source(X):
        source = ChunkSource(X)
    elif reset:
        return validate_data(estimator, X, dtype=[np.float64, np.float32], ensure_min_samples=2,
                             ensure_all_finite=finite)
    else:
        X = validate_data(estimator, X, reset=False, ensure_all_finite=finite)
        if X.dtype.kind in "mM":
            # Dates and durations pass scikit-learn's validation of new
            # data and fail in its scoring's first product with the
            # model: the same product, on no rows, raises the same error.
            X[:0] @ np.zeros((X.shape[1], 0), dtype=model_dtype)
        return X

    min_samples = 2 if reset else 1
    # fit converts to float64/float32 and new data are checked as numbers,
    # as scikit-learn does in memory (whose messages differ by that).
    dtype = [np.float64, np.float32] if reset else "numeric"

    def check_block(block, min_rows=1, dtype=dtype):
        try:
            return check_array(block, dtype=dtype, estimator=estimator, input_name="X",
                               ensure_all_finite=finite, ensure_min_samples=min_rows)
        except ValueError:
            if isinstance(getattr(source, "data", None), np.memmap):
                # scikit-learn's message shows the whole array: check
                # the memmap itself (a view; the check stops at the
                # first problem, before reading every row).
                check_array(np.asarray(source.data), dtype=dtype, estimator=estimator,
                            input_name="X", ensure_all_finite=finite,
                            ensure_min_samples=min_rows)
            raise

    def check_dims(block):
        # As an in-memory array of that shape is refused (whatever its dtype).
        check_block(block, dtype="numeric")
        check_block(block)

    if isinstance(source, ChunkSource):
        if source.shape is None:
            source.scan(check_block)
        checked = True
    elif isinstance(source, DaskSource):
        if len(source.shape) != 2:
            check_dims(np.asarray(_first_rows(source.data).compute()))
        if source.shape[0] > 0:
            check_block(source.head(2))
        checked = lazy
    else:
        data = source.data
        if len(source.shape) != 2:
            check_dims(np.asarray(_first_rows(data)))  # scikit-learn's "Expected 2D array"
        # dtype: complex, strings, objects (an empty array whole: the
        # message shows its shape)
        small = 0 in source.shape or source.shape[0] < min_samples
        check_block(np.asarray(data[:] if small else data[:2]), min_samples)
        checked = False
    if not isinstance(source, DaskSource):
        source.progress = progress_bar_factory(estimator.verbose)
    n_samples, n_features = source.shape
    name = type(estimator).__name__
    if n_samples < min_samples:
        raise ValueError(
            f"Found array with {n_samples} sample(s) (shape={source.shape}) while a "
            f"minimum of {min_samples} is required by {name}."
        )
    if n_features < 1:
        raise ValueError(
            f"Found array with {n_features} feature(s) (shape={source.shape}) while a "
            f"minimum of 1 is required by {name}."
        )
    # The values first, then n_features_in_ and feature names (none here)
    # as scikit-learn sets and checks them, on a stand-in of the same width:
    # scikit-learn's order, so an array with both problems gets its message.
    # (``raw``: the data's own dtype; a chunk source's, the one it yields.)
    raw = np.dtype(getattr(getattr(source, "data", None), "dtype", source.dtype))
    if not checked and isinstance(source, DaskSource):
        for found, value in zip(source.non_finite(), (np.nan, np.inf)):
            if found and not (allow_nan and np.isnan(value)):
                # scikit-learn's message for that kind of value
                assert_all_finite(np.array([[value]]), allow_nan=False,
                                  estimator_name=name, input_name="X")
    elif not checked:
        # In the data's own float dtype (float16, big-endian, ...): the
        # message names it, as in memory.
        for _, _, chunk in source.iter_chunks(raw if raw.kind == "f" else source.dtype):
            assert_all_finite(chunk, allow_nan=allow_nan, estimator_name=name,
                              input_name="X")
    validate_data(estimator, np.zeros((2, n_features)), reset=reset)
    if not reset and raw.kind in "mM":
        # Dates and durations: the error of scoring in memory (above).
        np.zeros((0, n_features), dtype=raw) \
            @ np.zeros((n_features, 0), dtype=model_dtype)
    return source


def _first_rows(data):
    """A few rows of an array-like of any number of dimensions (a 0-d one
    whole: ``data[:3]`` is an error there)."""
    return data if len(data.shape) == 0 else data[:3]


def check_sample_weight(sample_weight, X):
    """``(weights, n_positive)``: None, or the weights as float64 (a dask
    array for a dask X): 1-D, one per row, finite, non-negative, not all
    zero; and how many are positive.  Messages as scikit-learn's
    ``sample_weight`` checks in other estimators."""
    from sklearn.utils import assert_all_finite, check_array

    if sample_weight is None:
        return None, X.shape[0]
    n_samples = X.shape[0]
    if isinstance(X, DaskSource) and is_dask_array(sample_weight):
        w = sample_weight
    elif isinstance(sample_weight, (Real, np.number)) and not isinstance(sample_weight, bool):
        w = np.full(n_samples, float(sample_weight))
    else:
        w = check_array(sample_weight, ensure_2d=False, dtype=np.float64,
                        input_name="sample_weight", ensure_min_samples=0)
    if w.ndim != 1:
        raise ValueError("Sample weights must be 1D array or scalar")
    if tuple(w.shape) != (n_samples,):
        raise ValueError(
            f"sample_weight.shape == {tuple(w.shape)}, expected {(n_samples,)}!")
    if isinstance(X, DaskSource):
        import dask
        import dask.array as da

        w = X.weights_like_rows(w).astype(np.float64)
        nan, inf, lowest, positive = dask.compute(
            da.isnan(w).any(), da.isinf(w).any(), w.min(), (w > 0).sum())
        for found, value in zip((nan, inf), (np.nan, np.inf)):
            if found:
                assert_all_finite(np.array([value]), input_name="sample_weight")
    else:
        lowest, positive = w.min(), int(np.count_nonzero(w > 0))
    if lowest < 0:
        raise ValueError("Negative values in data passed to sample_weight")
    if positive == 0:
        raise ValueError("Sample weights must contain at least one non-zero number.")
    return w, int(positive)


#: Rows per slice when an in-memory array's values are checked.
_CHECK_ROWS = 1 << 16


def check_values(X, family, params=None):
    """The family's check of the data's values (``Family.check_values``)
    over every row of validated X: an array a slice at a time, a row source
    a chunk at a time, a dask array on the cluster (one pass)."""
    if isinstance(X, DaskSource):
        def check_block(block):
            family.check_values(np.asarray(block), params)
            return np.zeros((1, 1))

        X.data.map_blocks(check_block, dtype=np.float64, chunks=(1, 1)).compute()
    elif isinstance(X, RowSource):
        for _, _, chunk in X.iter_chunks(X.dtype):
            family.check_values(chunk, params)
    else:
        for start in range(0, X.shape[0], _CHECK_ROWS):
            family.check_values(X[start:start + _CHECK_ROWS], params)
