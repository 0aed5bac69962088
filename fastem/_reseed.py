"""Opt-in recovery from collapsed and empty components (``reseed=True``).

scikit-learn stops a fit with "ill-defined empirical covariance" when a
component's covariance cannot be factorised, and keeps a component that has
emptied (its weight tends to 0, its mean to wherever the last few
responsibilities put it).  With ``reseed=True`` fastem instead re-seeds such
a component after the M-step and goes on:

* a component is *degenerate* when its responsibility mass ``nk`` is below
  ``MIN_RESPONSIBILITY`` (at most one sample's worth: empty, or collapsed on
  a single point), or when its covariance is not positive-definite (full),
  not positive (diag, spherical) or not finite;
* each degenerate component moves to one of the samples worst explained by
  the healthy components (lowest log-likelihood under their mixture; ties
  to the lowest row index), takes the ``nk``-weighted mean of the healthy
  components' covariances (tied: the shared one is kept) and the weight
  ``1 / n_components``; the weights are then renormalised.

Re-seeding is a jump outside EM, so the bound check skips the next
iteration and the fit does not count as converged in an iteration that
re-seeded.  The estimator warns (``ReseedWarning``) once per fit with what
it re-seeded.
"""

import numpy as np

from . import _gaussian as G
from ._data import iter_chunks

#: Components with less responsibility than this are re-seeded.
MIN_RESPONSIBILITY = 2.0


class ReseedWarning(UserWarning):
    """Components collapsed or emptied and were re-seeded (``reseed=True``)."""


def degenerate_components(nk, covariances, covariance_type):
    """Indices of the components to re-seed, in increasing order."""
    bad = ~(np.asarray(nk) >= MIN_RESPONSIBILITY)
    if covariance_type == "full":
        for k, cov in enumerate(covariances):
            bad[k] |= not _positive_definite(cov)
    elif covariance_type == "diag":
        bad |= ~np.all(np.isfinite(covariances) & (covariances > 0.0), axis=1)
    elif covariance_type == "spherical":
        bad |= ~(np.isfinite(covariances) & (covariances > 0.0))
    return np.flatnonzero(bad)


def _positive_definite(matrix):
    if not np.all(np.isfinite(matrix)):
        return False
    try:
        return bool(np.all(np.isfinite(np.linalg.cholesky(matrix))))
    except np.linalg.LinAlgError:
        return False


def worst_rows(X, params, covariance_type, count, sample_weight=None):
    """``(indices, rows)``: the ``count`` rows of X with the lowest
    log-likelihood under ``params`` (ties: lowest index first), in that
    order, rows of weight 0 left out; rows as float64.  One pass, a chunk
    at a time."""
    if hasattr(X, "distributed_pass"):
        return _worst_rows_dask(X, params, covariance_type, count, sample_weight)
    dtype = G.compute_dtype(X.dtype, params.means.dtype)
    best_values = np.empty(0)
    best_index = np.empty(0, dtype=np.intp)
    best_rows = np.empty((0, X.shape[1]))
    for start, stop, chunk in iter_chunks(X, dtype):
        lpn = np.empty(stop - start, dtype=dtype)
        G.gaussian_pass(chunk, params, covariance_type, want_stats=False, out_lpn=lpn)
        if sample_weight is not None:
            lpn[np.asarray(sample_weight[start:stop]) == 0] = np.inf
        order = np.lexsort((np.arange(stop - start), lpn))[:count]
        values = np.concatenate([best_values, lpn[order].astype(np.float64)])
        index = np.concatenate([best_index, start + order])
        rows = np.concatenate([best_rows, np.asarray(chunk[order], dtype=np.float64)])
        keep = np.lexsort((index, values))[:count]
        best_values, best_index, best_rows = values[keep], index[keep], rows[keep]
    keep = best_values < np.inf
    return best_index[keep], best_rows[keep]


def _worst_rows_dask(X, params, covariance_type, count, sample_weight):
    from ._dask import lazy_output

    lpn = np.asarray(lazy_output(X, params, covariance_type, "lpn").compute(),
                     dtype=np.float64)
    if sample_weight is not None:
        lpn[np.asarray(sample_weight) == 0] = np.inf
        count = min(count, int(np.count_nonzero(lpn < np.inf)))
    order = np.lexsort((np.arange(lpn.shape[0]), lpn))[:count]
    rows = np.asarray(X.data[np.sort(order)].compute(), dtype=np.float64)
    rank = np.argsort(np.argsort(order))  # rows came in index order
    return order, rows[rank]


def reseed(X, weights, means, covariances, nk, covariance_type, dtype, bad, sample_weight=None):
    """New ``(weights, means, covariances, rows)`` with the components
    ``bad`` re-seeded (float64 arrays, copies); None when no component is
    healthy (nothing to re-seed from)."""
    n_components = means.shape[0]
    good = np.setdiff1d(np.arange(n_components), bad)
    if good.size == 0 or not np.sum(nk[good]) > 0.0:
        return None
    shared = covariance_type == "tied"
    healthy_cov = covariances if shared else covariances[good]
    healthy = G.Params(
        weights[good] / np.sum(weights[good]),
        means[good],
        healthy_cov,
        G.precision_cholesky(healthy_cov, covariance_type, dtype),
    )
    rows_at, rows = worst_rows(X, healthy, covariance_type, len(bad), sample_weight)
    if rows.shape[0] < len(bad):
        return None
    means = np.array(means, dtype=np.float64)
    means[bad] = rows
    covariances = np.array(covariances, dtype=np.float64)
    if not shared:
        share = nk[good] / np.sum(nk[good])
        covariances[bad] = np.tensordot(share, covariances[good], axes=1)
    weights = np.array(weights, dtype=np.float64)
    weights[bad] = 1.0 / n_components
    weights /= weights.sum()
    return weights, means, covariances, rows_at


def reseed_message(events):
    """One line for the warning: ``events`` are ``(where, components, nk,
    rows)`` with ``where`` an iteration number or "initialisation"."""
    count = sum(len(components) for _, components, _, _ in events)
    parts = []
    for where, components, nk, rows in events[:5]:
        at = "at initialisation" if where == "initialisation" else f"at iteration {where}"
        parts.append(
            f"{at}: component(s) {', '.join(map(str, components))} "
            f"(responsibility {', '.join(f'{v:.3g}' for v in nk)}) to row(s) "
            f"{', '.join(map(str, rows))}"
        )
    more = f"; and {len(events) - 5} more iteration(s)" if len(events) > 5 else ""
    return (
        f"{count} collapsed or empty component(s) re-seeded at the worst-explained "
        f"sample(s) (reseed=True): " + "; ".join(parts) + more + "."
    )
