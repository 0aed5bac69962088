"""Initial responsibilities: 'kmeans', 'k-means++', 'random' and
'random_from_data', as scikit-learn's mixtures draw them, over any data source.

scikit-learn builds an ``n_samples x n_components`` responsibility matrix and
hands it to the model's ``_initialize``.  Here the same responsibilities are
described, never materialised: ``initial_responsibilities`` returns the rows
they live on (X, a subsample, or the few chosen rows) and a function that
makes them a slice at a time; a family takes its first statistics under
them (``fastem.engine.passes.stats_under``).  The random draws are
scikit-learn's, in the same order, so the same ``random_state`` gives the
same start.
"""

from typing import Callable, NamedTuple, Optional

import numpy as np

from ..data.dask import is_dask_array
from ..data.sources import RowSource, subsample_indices
from .kmeans import kmeans_labels, kmeans_plusplus
from .passes import total_weight

#: init_max_samples="auto" for out-of-core data and chunk sources.
DEFAULT_INIT_MAX_SAMPLES = 1_000_000

#: Up to this many rows, 'random_from_data' draws as scikit-learn does
#: (``RandomState.choice``, which permutes every row index).
RANDOM_FROM_DATA_PERMUTATION_LIMIT = 10_000_000


class InitialResponsibilities(NamedTuple):
    """The statistics of ``rows`` under the responsibilities
    ``resp_chunk(start, stop)`` gives (times ``row_weights``), with weights
    divided by ``n_samples`` (scikit-learn divides by all rows even when only
    a few have a responsibility); ``every_row``: whether every row of X has
    responsibilities summing to 1 in them."""

    rows: object
    resp_chunk: Callable
    row_weights: Optional[np.ndarray]
    n_samples: float
    every_row: bool


def _one_hot_chunks(labels, n_components):
    """resp_chunk for hard labels (-1: no component)."""
    def resp_chunk(start, stop):
        lab = labels[start:stop]
        out = np.zeros((stop - start, n_components))
        rows = np.flatnonzero(lab >= 0)
        out[rows, lab[rows]] = 1.0
        return out
    return resp_chunk


def _seed_chunks(indices, n_components):
    """resp_chunk over the chosen rows taken in sorted order: the row at
    ``sorted(indices)[i]`` belongs to the component that chose it.  The
    statistics of those rows alone are those of all rows with the others at
    zero responsibility, bit for bit (a zero term adds exactly nothing)."""
    order = np.argsort(np.asarray(indices), kind="stable")
    return _one_hot_chunks(order.astype(np.intp), n_components)


def weights_at(sw, indices, in_memory=False):
    """The sample weights of the rows ``indices`` (all rows: None) as a
    float64 array; None without weights.  A dask array stays one for all
    rows unless ``in_memory``."""
    if sw is None:
        return None
    if is_dask_array(sw):
        if indices is None and not in_memory:
            return sw
        picked = sw if indices is None else sw[np.asarray(indices)]
        return np.asarray(picked.compute(), dtype=np.float64)
    return sw if indices is None else sw[np.asarray(indices)]


def init_rows(X, sw, n_components, random_state, init_max_samples):
    """The rows 'kmeans' and 'k-means++' look at, and their weights: X
    itself, or (beyond ``init_max_samples``, or out of core) an in-memory
    array of at most that many rows, uniformly subsampled with
    ``random_state``."""
    n_samples = X.shape[0]
    limit = init_max_samples
    if limit == "auto":
        if not isinstance(X, RowSource):
            return X, weights_at(sw, None)
        limit = DEFAULT_INIT_MAX_SAMPLES
    limit = max(limit, n_components)  # k-means needs a row per cluster
    if n_samples <= limit:
        if not isinstance(X, RowSource):
            return X, weights_at(sw, None)
        return X.take(np.arange(n_samples)), weights_at(sw, None)
    indices = subsample_indices(n_samples, limit, random_state)
    rows = np.asarray(X[indices]) if not isinstance(X, RowSource) else X.take(indices)
    return rows, weights_at(sw, indices)


def initial_responsibilities(X, sw, init_params, n_components, random_state,
                             init_max_samples="auto"):
    """How the initial statistics are taken (``InitialResponsibilities``),
    for validated X and sample weights ``sw``."""
    n_samples = X.shape[0]
    total = total_weight(n_samples, sw)
    K = n_components
    if init_params == "random":
        # Drawn a slice at a time, in order, from the same stream as
        # scikit-learn's one (n_samples, K) draw; each pass over the rows
        # replays it, and the state ends as after that one draw.
        start_state = random_state.get_state()

        def resp_chunk(start, stop):
            if start == 0:
                random_state.set_state(start_state)
            resp = np.asarray(random_state.uniform(size=(stop - start, K)), dtype=X.dtype)
            resp /= np.sum(resp, axis=1)[:, np.newaxis]
            return resp

        return InitialResponsibilities(X, resp_chunk, sw, total, True)
    if init_params == "random_from_data":
        if sw is not None:
            # scikit-learn's draw among the rows that take part (weight
            # > 0): with every weight positive, its very draw.
            w = weights_at(sw, None, in_memory=True)
            taking_part = np.flatnonzero(w > 0)
            indices = taking_part[random_state.choice(taking_part.size, size=K,
                                                      replace=False)]
        elif n_samples <= RANDOM_FROM_DATA_PERMUTATION_LIMIT or not isinstance(X, RowSource):
            indices = random_state.choice(n_samples, size=K, replace=False)
        else:
            # RandomState.choice would permute every row index.
            indices = random_state.permutation(subsample_indices(n_samples, K, random_state))
    else:
        rows, row_w = init_rows(X, sw, K, random_state, init_max_samples)
        row_w = weights_at(row_w, None, in_memory=True)
        if init_params == "kmeans":
            labels = kmeans_labels(rows, K, random_state, sample_weight=row_w)
            return InitialResponsibilities(rows, _one_hot_chunks(labels, K), row_w,
                                           total_weight(rows.shape[0], row_w), True)
        chosen, _ = kmeans_plusplus(rows, K, random_state, sample_weight=row_w)
        order = np.sort(chosen)
        chosen_w = None if row_w is None else row_w[order]
        return InitialResponsibilities(np.asarray(rows[order]), _seed_chunks(chosen, K),
                                       chosen_w, total, False)
    order = np.sort(indices)
    chosen_rows = X.take(order) if isinstance(X, RowSource) else np.asarray(X[order])
    return InitialResponsibilities(chosen_rows, _seed_chunks(indices, K), weights_at(sw, order),
                                   total, False)
