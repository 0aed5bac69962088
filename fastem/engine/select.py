"""Model selection: ``fastem.select`` fits a grid of mixtures and keeps the best.

Every candidate is an ordinary fit of the model (``GaussianMixture``,
``BayesianGaussianMixture``, ...), run in lockstep with the others: X is
validated once, data-wide quantities (the tied scatter, priors from the
data) are computed once for all candidates, and each round of E-steps reads X once for every
candidate still iterating (each chunk goes through all their kernels before
the next is read -- for data on disk, one read of the file per round instead
of one per candidate).  The log-likelihood under each final model, which BIC
and AIC need, comes from one more shared read.
"""

import math
import time

import numpy as np

from . import passes
from .threads import single_threaded_blas

CRITERIA = ("bic", "aic", "lower_bound")
COLUMNS = ("n_components", "covariance_type", "bic", "aic", "log_likelihood", "n_iter",
           "converged", "n_parameters", "fit_time", "error")
#: The table of a model without a likelihood criterion (a variational one).
BOUND_COLUMNS = ("n_components", "covariance_type", "lower_bound", "log_likelihood",
                 "n_iter", "converged", "fit_time", "error")


def _model_class(model):
    import fastem

    if isinstance(model, str):
        if model not in fastem.MODELS:
            raise ValueError(f"model must be one of {fastem.MODELS} or an estimator class, "
                             f"got {model!r}")
        return getattr(fastem, model)
    return model


def select(X, n_components=range(1, 11), covariance_types=("full", "tied", "diag", "spherical"),
           criterion=None, *, model="GaussianMixture", sample_weight=None, random_state=0,
           as_frame="auto", **params):
    """Fit a mixture for every number of components and covariance type, and
    return the best by BIC, AIC or the lower bound.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Anything ``fit`` takes: arrays, memmaps, h5py/zarr arrays, chunk
        sources, dask arrays.
    n_components : iterable of int, default=range(1, 11)
    covariance_types : iterable of str, default=all four
        Ignored for a model without covariance types (its table's
        ``covariance_type`` column holds None).
    criterion : {"bic", "aic", "lower_bound"}, default=None
        BIC and AIC: lower is better (with ``sample_weight``, the
        log-likelihood is the weighted one and the sample size the total
        weight).  "lower_bound": the fit's final ``lower_bound_``, higher is
        better -- the criterion of a variational model, whose ELBO already
        weighs fit against complexity.  None: "bic" for models that have
        ``bic`` (``GaussianMixture``), else "lower_bound".
    model : str or estimator class, default="GaussianMixture"
        The model to fit: a name of ``fastem.MODELS`` ("GaussianMixture",
        "BayesianGaussianMixture", "BernoulliMixture", "PoissonMixture",
        "CategoricalMixture", "StudentTMixture"), or the class.
    sample_weight : array-like of shape (n_samples,), default=None
        As in ``fit``.
    random_state : int, RandomState or None, default=0
        Given to every candidate.
    as_frame : bool or "auto", default="auto"
        Return the table as a pandas DataFrame ("auto": when pandas is
        installed) or as a list of dicts.
    **params
        Any other parameter of the model, for every candidate (``n_init``,
        ``max_iter``, ``tol``, ``reg_covar``, ``init_params``, ``reseed``,
        priors, ...).

    Returns
    -------
    best : estimator
        The fitted candidate with the best criterion.
    table : pandas.DataFrame or list of dict
        One row per candidate, in grid order: ``n_components``,
        ``covariance_type``, ``bic``, ``aic`` (or, for a model without them,
        ``lower_bound``), ``log_likelihood`` (per sample: ``score``),
        ``n_iter``, ``converged``, ``n_parameters``, ``fit_time`` (seconds:
        its initialisation, M-steps and kernel time) and ``error`` (None, or
        why the candidate could not be fitted -- it then has NaN criteria and
        is never chosen).

    Notes
    -----
    The candidates run in lockstep: X is validated once, data-wide
    quantities (the tied scatter, priors from the data) are computed once,
    and each round of E-steps reads X once for every candidate still
    iterating (each chunk goes through all their kernels before the next is
    read -- for data on disk, one read of the file per round instead of one
    per candidate).  The log-likelihood under each final model comes from
    one more shared read.
    """
    cls = _model_class(model)
    with_criteria = hasattr(cls, "bic")
    if criterion is None:
        criterion = "bic" if with_criteria else "lower_bound"
    if criterion not in CRITERIA:
        raise ValueError(f"criterion must be one of {CRITERIA}, got {criterion!r}")
    if criterion != "lower_bound" and not with_criteria:
        raise ValueError(f"{cls.__name__} has no {criterion}: use criterion='lower_bound'")
    if "covariance_type" in cls._get_param_names():
        grid = [(int(k), str(c)) for c in covariance_types for k in n_components]
    else:  # a model with no covariance types (Bernoulli, Poisson, categorical)
        grid = [(int(k), None) for k in n_components]
    if not grid:
        raise ValueError("select needs at least one value of n_components and of "
                         "covariance_types")
    for key in ("n_components", "covariance_type"):
        if key in params:
            raise TypeError(f"give {key} through select's own arguments")
    models = [cls(n_components=k, random_state=random_state, **params,
                  **({} if c is None else {"covariance_type": c})) for k, c in grid]
    for candidate in models:
        candidate._validate_params()
    with single_threaded_blas():
        first = models[0]
        Xv = first._validate_X(X, reset=True)
        sw, positive = first._check_sample_weight(sample_weight, Xv)
        for candidate in models[1:]:
            candidate.n_features_in_ = first.n_features_in_
            if hasattr(first, "feature_names_in_"):
                candidate.feature_names_in_ = first.feature_names_in_
        seconds, errors = _fit_in_lockstep(models, Xv, sw, positive)
        done = [i for i, e in enumerate(errors) if e is None]
        finals = [(models[i]._family(), models[i]._current_parameters()) for i in done]
        scored = passes.run_passes(Xv, finals, sw, want_stats=False)
    total = passes.total_weight(Xv.shape[0], sw)
    records = []
    scores = dict(zip(done, scored))
    for i, (candidate, (k, c)) in enumerate(zip(models, grid)):
        record = dict(n_components=k, covariance_type=c, log_likelihood=math.nan,
                      n_iter=None, converged=None, fit_time=seconds[i], error=errors[i])
        if with_criteria:
            record.update(bic=math.nan, aic=math.nan, n_parameters=None)
        else:
            record.update(lower_bound=math.nan)
        if i in scores:
            log_likelihood = scores[i].sum_lpn
            record.update(log_likelihood=log_likelihood / total, n_iter=candidate.n_iter_,
                          converged=bool(candidate.converged_))
            if with_criteria:
                p = candidate._n_parameters()
                record.update(bic=-2.0 * log_likelihood + p * math.log(total),
                              aic=-2.0 * log_likelihood + 2.0 * p, n_parameters=p)
            else:
                record.update(lower_bound=float(candidate.lower_bound_))
        columns = COLUMNS if with_criteria else BOUND_COLUMNS
        records.append({name: record[name] for name in columns})
    valid = [i for i in done if np.isfinite(records[i][criterion])]
    if not valid:
        raise ValueError("no candidate could be fitted: "
                         + "; ".join(f"{k} {c}: {e}" for (k, c), e in zip(grid, errors) if e))
    sign = -1.0 if criterion == "lower_bound" else 1.0
    best = min(valid, key=lambda i: sign * records[i][criterion])
    return models[best], _table(records, as_frame, columns)


def _fit_in_lockstep(models, X, sw, positive):
    """Run every model's EM steps, serving each round's E-steps with one
    read of X.  Returns the seconds each spent and its error (None)."""
    seconds = [0.0] * len(models)
    errors = [None] * len(models)
    steps = {}
    requests = {}
    families = [m._family() for m in models]
    cache = {}  # data-wide quantities, computed by the first fit that needs them

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

    from .em import em_steps, run_em

    for i, model in enumerate(models):
        if getattr(model, "learning_method", "batch") != "batch":
            # Incremental and online EM run an M-step per block: no rounds to
            # share, so such a candidate reads X on its own.
            started = time.perf_counter()
            try:
                run_em(model, families[i], X, sw, positive)
            except (ValueError, ArithmeticError) as error:
                errors[i] = str(error)
            seconds[i] += time.perf_counter() - started
            continue
        steps[i] = em_steps(model, families[i], X, sw, positive, cache)
        advance(i, None)
    while requests:
        active = sorted(requests)
        times = [0.0] * len(active)
        results = passes.run_passes(X, [(families[i], requests[i]) for i in active], sw,
                                    seconds=times)
        for i, stats, spent in zip(active, results, times):
            seconds[i] += spent
            advance(i, stats)
    return seconds, errors


def _table(records, as_frame, columns):
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

    return pd.DataFrame.from_records(records, columns=list(columns))
