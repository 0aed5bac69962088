"""``fastem bench --model bernoulli|poisson|categorical|student-t``.

Per case: the family's built-in data, one shared start
(``reference.family_start``), then alternating runs of the same number of
EM iterations (``tol=0``; less a run of none, so that each side's
once-per-fit set-up is left out) by fastem and by the NumPy EM of
``fastem.tools.reference`` (and by pomegranate's ``GeneralMixtureModel``
when pomegranate is installed and has the family: Bernoulli, Poisson,
categorical; up to ``POMEGRANATE_MAX_ROWS`` rows), with the median seconds
per iteration and the median of the
per-run ratios.  The bound columns say both reached the same model.
"""

import math
import statistics
import time
import warnings
from dataclasses import dataclass

import numpy as np

from .bench import SETTLE_SECONDS, machine_line
from .reference import ESTIMATORS, family_data, family_start, numpy_em

GRID = dict(n_samples=(100_000, 1_000_000), n_features=(8, 32, 64),
            n_components=(4, 16, 64), dtypes=("float64",))


@dataclass
class FamilyResult:
    family: str
    n_samples: int
    n_features: int
    n_components: int
    dtype: str
    fastem_s: float  # median seconds per iteration
    numpy_s: float
    ratio: float  # median of per-run numpy / fastem
    bound_diff: float  # |fastem - numpy| mean log-likelihood at the last E-step
    pomegranate_s: float = math.nan
    pomegranate_ratio: float = math.nan


def _timed(func):
    time.sleep(SETTLE_SECONDS)
    started = time.perf_counter()
    out = func()
    return time.perf_counter() - started, out


def _pomegranate_model(family, start):
    """pomegranate's mixture of the family, set to the shared start, or None
    when pomegranate is missing or has no such family."""
    if family not in ("bernoulli", "poisson", "categorical"):
        return None
    try:
        import torch
        from pomegranate import distributions as dists
        from pomegranate.gmm import GeneralMixtureModel
    except ImportError:
        return None
    weights = torch.tensor(start["weights_init"], dtype=torch.float64)
    if family == "bernoulli":
        comps = [dists.Bernoulli(probs=torch.tensor(p)) for p in start["probabilities_init"]]
    elif family == "poisson":
        comps = [dists.Poisson(lambdas=torch.tensor(r)) for r in start["rates_init"]]
    else:
        tables = start["probabilities_init"]
        comps = [dists.Categorical(probs=torch.tensor(np.stack([t[k] for t in tables])))
                 for k in range(len(weights))]
    return lambda iterations: GeneralMixtureModel(comps, priors=weights, max_iter=iterations,
                                                  tol=0.0, inertia=0.0)


#: pomegranate runs on cases up to this many rows (its 1,000,000-row
#: iterations take minutes at 64 x 64).
POMEGRANATE_MAX_ROWS = 100_000


def run_family_case(family, n_samples, n_features, n_components, dtype="float64",
                    iterations=3, repeats=3, pomegranate_max_rows=POMEGRANATE_MAX_ROWS):
    import fastem

    X = family_data(family, n_samples, n_features, n_components, seed=0, dtype=dtype)
    start = family_start(family, X, n_components)
    fastem.warmup(dtypes=(dtype,), covariance_types=("full",) if family == "student-t" else (),
                  families=(family,))
    cls = getattr(fastem, ESTIMATORS[family])
    kwargs = dict(n_components=n_components, max_iter=iterations, tol=0.0, **start)
    if family == "student-t":
        kwargs["reg_covar"] = 1e-6

    def ours(n_iter):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return cls(**dict(kwargs, max_iter=n_iter)).fit(X)

    def per_iteration(run):
        """Seconds of one iteration: a run of ``iterations`` less one of
        none (each side's once-per-fit set-up: validation, the data's value
        check, the NumPy EM's encodings)."""
        t_none, _ = _timed(lambda: run(0))
        t_all, out = _timed(lambda: run(iterations))
        return max(t_all - t_none, 1e-9) / iterations, out

    pomegranate = (_pomegranate_model(family, start) if n_samples <= pomegranate_max_rows
                   else None)
    X_pom = X.astype(np.int64) if family == "categorical" else X  # its categorical's codes
    ours(1)  # untimed: first calls' one-off costs (dispatch, imports)
    if pomegranate is not None:
        pomegranate(1).fit(X_pom)
    fast, slow, ratios, pom, pom_ratios = [], [], [], [], []
    for _ in range(repeats):
        t_ours, model = per_iteration(ours)
        t_numpy, (_, bounds) = per_iteration(lambda n: numpy_em(family, X, start, n))
        fast.append(t_ours)
        slow.append(t_numpy)
        ratios.append(t_numpy / t_ours)
        if pomegranate is not None:
            t_pom, _ = per_iteration(lambda n: pomegranate(n).fit(X_pom) if n else None)
            pom.append(t_pom)
            pom_ratios.append(t_pom / t_ours)
    diff = abs(float(model.lower_bounds_[-1]) - bounds[-1])
    result = FamilyResult(family, n_samples, n_features, n_components, dtype,
                          statistics.median(fast), statistics.median(slow),
                          statistics.median(ratios), diff)
    if pom:
        result.pomegranate_s = statistics.median(pom)
        result.pomegranate_ratio = statistics.median(pom_ratios)
    return result


HEADER = (f"{'family':>12} {'n_samples':>9} {'d':>4} {'k':>4} {'dtype':>7} "
          f"{'fastem ms':>10} {'numpy ms':>10} {'speedup':>8} {'|dLB|':>8} "
          f"{'pomegr. ms':>10} {'speedup':>8}")


def format_row(r):
    pom = (f"{r.pomegranate_s * 1e3:>10.1f} {r.pomegranate_ratio:>7.1f}x"
           if r.pomegranate_s == r.pomegranate_s else f"{'-':>10} {'-':>8}")
    return (f"{r.family:>12} {r.n_samples:>9,} {r.n_features:>4} {r.n_components:>4} "
            f"{r.dtype:>7} {r.fastem_s * 1e3:>10.2f} {r.numpy_s * 1e3:>10.1f} "
            f"{r.ratio:>7.1f}x {r.bound_diff:>8.1e} {pom}")


def run_families(families, grid=GRID, iterations=3, repeats=3, out=print):
    """The table for each family of ``families``; returns the results."""
    out("machine: " + machine_line())
    out(f"per EM iteration, median of {repeats} alternating runs of {iterations} iterations; "
        "same data and initial parameters; numpy: n x k arrays, one pass per statistic "
        "(fastem.tools.reference)")
    out(HEADER)
    results = []
    for family in families:
        mine = []
        for n in sorted(grid["n_samples"]):
            for d in grid["n_features"]:
                for k in grid["n_components"]:
                    for dtype in grid["dtypes"]:
                        r = run_family_case(family, n, d, k, dtype, iterations, repeats)
                        mine.append(r)
                        out(format_row(r))
        if mine:
            geo = math.exp(statistics.fmean(math.log(r.ratio) for r in mine))
            line = (f"{family}: geometric-mean speed-up over the NumPy EM {geo:.1f}x "
                    f"({len(mine)} cases, lowest {min(r.ratio for r in mine):.1f}x)")
            with_pom = [r for r in mine if r.pomegranate_ratio == r.pomegranate_ratio]
            if with_pom:
                geo_p = math.exp(statistics.fmean(math.log(r.pomegranate_ratio)
                                                  for r in with_pom))
                line += f"; over pomegranate {geo_p:.1f}x"
            out(line)
        results.extend(mine)
    return results
