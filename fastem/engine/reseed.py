"""Opt-in recovery from collapsed and empty components (``reseed=True``).

scikit-learn stops a fit with "ill-defined empirical covariance" when a
component's covariance cannot be factorised, and keeps a component that has
emptied (its weight tends to 0, its mean to wherever the last few
responsibilities put it).  With ``reseed=True`` fastem instead re-seeds such
a component after the M-step and goes on:

* the family says which components are *degenerate* (a Gaussian: less than
  two samples' worth of responsibility, or a covariance that is not
  positive-definite or not finite);
* each degenerate component moves to one of the samples worst explained by
  the healthy components (lowest log-likelihood under their mixture; ties
  to the lowest row index), and the family gives it the healthy
  components' typical shape (a Gaussian: the ``nk``-weighted mean of their
  covariances, weight ``1 / n_components``).

Re-seeding is a jump outside EM, so the M-step check skips the iteration
that re-seeded and the fit does not count as converged in it (the next
E-step's check still holds: the KL divergence to any parameters is never
negative).  The estimator warns (``ReseedWarning``) once per fit with what
it re-seeded.
"""

import numpy as np

from ..data.chunks import iter_chunks
from . import passes


class ReseedWarning(UserWarning):
    """Components collapsed or emptied and were re-seeded (``reseed=True``)."""


def worst_rows(X, family, params, count, sample_weight=None):
    """``(indices, rows)``: the ``count`` rows of X with the lowest
    log-likelihood under ``params`` (ties: lowest index first), in that
    order, rows of weight 0 left out; rows as float64.  One pass, a chunk
    at a time."""
    if hasattr(X, "distributed_pass"):
        return _worst_rows_dask(X, family, params, count, sample_weight)
    dtype = family.kernel_dtype_for(params, X.dtype)
    best_values = np.empty(0)
    best_index = np.empty(0, dtype=np.intp)
    best_rows = np.empty((0, X.shape[1]))
    for start, stop, chunk in iter_chunks(X, dtype):
        lpn = np.empty(stop - start, dtype=dtype)
        passes.run_pass(chunk, family, params, want_stats=False, out_lpn=lpn)
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


def _worst_rows_dask(X, family, params, count, sample_weight):
    from ..data.dask import lazy_output

    lpn = np.asarray(lazy_output(X, family, params, "lpn", "reseed").compute(),
                     dtype=np.float64)
    if sample_weight is not None:
        lpn[np.asarray(sample_weight) == 0] = np.inf
        count = min(count, int(np.count_nonzero(lpn < np.inf)))
    order = np.lexsort((np.arange(lpn.shape[0]), lpn))[:count]
    rows = np.asarray(X.data[np.sort(order)].compute(), dtype=np.float64)
    rank = np.argsort(np.argsort(order))  # rows came in index order
    return order, rows[rank]


class Reseeder:
    """Re-seeds the degenerate components of a family's M-step estimates
    during one fit, recording each event ``(where, components, nk, rows)``
    (``where``: an iteration number or "initialisation")."""

    def __init__(self, family, X, sample_weight):
        self.family = family
        self.X = X
        self.sample_weight = sample_weight

    def __call__(self, estimate, nk, where, events):
        family = self.family
        bad = family.degenerate(estimate, nk)
        if bad.size == 0:
            return estimate
        good = np.setdiff1d(np.arange(family.n_components), bad)
        if good.size == 0 or not np.sum(nk[good]) > 0.0:
            return estimate  # nothing healthy to re-seed from: fail as usual
        healthy_family, healthy = family.healthy(estimate, good)
        rows_at, rows = worst_rows(self.X, healthy_family, healthy, len(bad), self.sample_weight)
        if rows.shape[0] < len(bad):
            return estimate
        events.append((where, bad.tolist(), nk[bad].tolist(), rows_at.tolist()))
        return family.replace(estimate, bad, rows, nk)


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
