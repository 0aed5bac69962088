"""Model selection: ``fastem.select`` fits a grid of mixtures and keeps the best.

Every candidate is an ordinary ``GaussianMixture`` fit, run in lockstep with
the others: X is validated once, the tied scatter is computed once for all
'tied' candidates, and each round of E-steps reads X once for every
candidate still iterating (each chunk goes through all their kernels before
the next is read -- for data on disk, one read of the file per round instead
of one per candidate).  The log-likelihood under each final model, which BIC
and AIC need, comes from one more shared read.
"""

import math
import time

import numpy as np

from . import _gaussian as G
from ._threads import single_threaded_blas

CRITERIA = ("bic", "aic")
COLUMNS = ("n_components", "covariance_type", "bic", "aic", "log_likelihood", "n_iter",
           "converged", "n_parameters", "fit_time", "error")


def select(X, n_components=range(1, 11), covariance_types=("full", "tied", "diag", "spherical"),
           criterion="bic", *, sample_weight=None, random_state=0, as_frame="auto",
           **params):
    """Fit a Gaussian mixture for every number of components and covariance
    type, and return the best by BIC or AIC.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Anything ``GaussianMixture.fit`` takes: arrays, memmaps, h5py/zarr
        arrays, chunk sources, dask arrays.
    n_components : iterable of int, default=range(1, 11)
    covariance_types : iterable of str, default=all four
    criterion : {"bic", "aic"}, default="bic"
        Lower is better.  With ``sample_weight``, the log-likelihood is the
        weighted one and the sample size the total weight.
    sample_weight : array-like of shape (n_samples,), default=None
        As in ``GaussianMixture.fit``.
    random_state : int, RandomState or None, default=0
        Given to every candidate.
    as_frame : bool or "auto", default="auto"
        Return the table as a pandas DataFrame ("auto": when pandas is
        installed) or as a list of dicts.
    **params
        Any other ``GaussianMixture`` parameter, for every candidate
        (``n_init``, ``max_iter``, ``tol``, ``reg_covar``, ``init_params``,
        ``reseed``, ...).

    Returns
    -------
    best : GaussianMixture
        The fitted candidate with the lowest criterion.
    table : pandas.DataFrame or list of dict
        One row per candidate, in grid order: ``n_components``,
        ``covariance_type``, ``bic``, ``aic``, ``log_likelihood`` (per
        sample), ``n_iter``, ``converged``, ``n_parameters``, ``fit_time``
        (seconds: its initialisation, M-steps and kernel time) and ``error``
        (None, or why the candidate could not be fitted -- it then has NaN
        criteria and is never chosen).
    """
    from .gaussian_mixture import GaussianMixture

    if criterion not in CRITERIA:
        raise ValueError(f"criterion must be one of {CRITERIA}, got {criterion!r}")
    grid = [(int(k), str(c)) for c in covariance_types for k in n_components]
    if not grid:
        raise ValueError("select needs at least one value of n_components and of "
                         "covariance_types")
    for key in ("n_components", "covariance_type"):
        if key in params:
            raise TypeError(f"give {key} through select's own arguments")
    models = [GaussianMixture(k, covariance_type=c, random_state=random_state, **params)
              for k, c in grid]
    for model in models:
        model._validate_params()
    with single_threaded_blas():
        first = models[0]
        Xv = first._validate_X(X, reset=True)
        sw, positive = first._check_sample_weight(sample_weight, Xv)
        for model in models[1:]:
            model.n_features_in_ = first.n_features_in_
            if hasattr(first, "feature_names_in_"):
                model.feature_names_in_ = first.feature_names_in_
        tied = None
        if any(c == "tied" for _, c in grid):
            tied = G.tied_scatter(Xv, sw)
        seconds, errors = _fit_in_lockstep(models, Xv, sw, positive, tied)
        done = [i for i, e in enumerate(errors) if e is None]
        finals = [(models[i]._current_parameters(), models[i].covariance_type) for i in done]
        passes = G.gaussian_passes(Xv, finals, sw, want_stats=False)
    total = G.total_weight(Xv.shape[0], sw)
    records = []
    scores = dict(zip(done, passes))
    for i, (model, (k, c)) in enumerate(zip(models, grid)):
        record = dict(n_components=k, covariance_type=c, bic=math.nan, aic=math.nan,
                      log_likelihood=math.nan, n_iter=None, converged=None,
                      n_parameters=None, fit_time=seconds[i], error=errors[i])
        if i in scores:
            log_likelihood = scores[i].sum_lpn
            p = model._n_parameters()
            record.update(
                bic=-2.0 * log_likelihood + p * math.log(total),
                aic=-2.0 * log_likelihood + 2.0 * p,
                log_likelihood=log_likelihood / total,
                n_iter=model.n_iter_, converged=bool(model.converged_), n_parameters=p,
            )
        records.append(record)
    valid = [i for i in done if np.isfinite(records[i][criterion])]
    if not valid:
        raise ValueError("no candidate could be fitted: "
                         + "; ".join(f"{k} {c}: {e}" for (k, c), e in zip(grid, errors) if e))
    best = min(valid, key=lambda i: records[i][criterion])
    return models[best], _table(records, as_frame)


def _fit_in_lockstep(models, X, sw, positive, tied):
    """Run every model's ``_em_steps``, serving each round's E-steps with
    one read of X.  Returns the seconds each spent and its error (None)."""
    seconds = [0.0] * len(models)
    errors = [None] * len(models)
    steps = {}
    requests = {}

    def advance(i, value):
        started = time.perf_counter()
        try:
            requests[i] = steps[i].send(value)
        except StopIteration:
            requests.pop(i, None)
        except (ValueError, ArithmeticError) as error:  # ill-defined covariance, ...
            errors[i] = str(error)
            requests.pop(i, None)
        finally:
            seconds[i] += time.perf_counter() - started

    for i, model in enumerate(models):
        steps[i] = model._em_steps(X, sw, positive, tied if model.covariance_type == "tied"
                                   else None)
        advance(i, None)
    while requests:
        active = sorted(requests)
        times = [0.0] * len(active)
        results = G.gaussian_passes(
            X, [(requests[i], models[i].covariance_type) for i in active], sw, seconds=times)
        for i, stats, spent in zip(active, results, times):
            seconds[i] += spent
            advance(i, stats)
    return seconds, errors


def _table(records, as_frame):
    if as_frame == "auto":
        try:
            import pandas  # noqa: F401
        except ImportError:
            as_frame = False
        else:
            as_frame = True
    if not as_frame:
        return records
    import pandas as pd

    return pd.DataFrame.from_records(records, columns=list(COLUMNS))
