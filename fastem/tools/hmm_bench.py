"""``fastem bench --model gaussian-hmm|categorical-hmm``: against hmmlearn.

Per case: sequences drawn from a random hidden Markov model (``hmm_data``),
one shared start (the generating model's parameters, perturbed), then
alternating runs of the same number of Baum-Welch iterations (``tol=0``,
``init_params=""``) by fastem and by hmmlearn -- each less a run of none,
which leaves out each side's once-per-fit validation and checks -- with
the median seconds per iteration and the median of the per-run ratios.
``|dLL|`` is the relative difference of the two fits' last log-likelihoods
(the same model reached).  A case whose hmmlearn run is predicted (from a
slice of its rows) to take longer than ``max_seconds`` is skipped.
"""

import math
import statistics
import time
import warnings
from dataclasses import dataclass

import numpy as np

from .bench import SETTLE_SECONDS, machine_line

GRID = dict(n_samples=(200_000, 2_000_000), lengths=(100, 10_000, 100_000),
            n_components=(4, 32), n_features=(2, 32), covariance_types=("full", "diag"))

CATEGORICAL_GRID = dict(n_samples=(200_000, 2_000_000), lengths=(100, 10_000, 100_000),
                        n_components=(4, 32), n_features=(4, 64), covariance_types=("-",))


@dataclass
class HMMResult:
    model: str
    n_samples: int
    length: int
    n_components: int
    n_features: int
    covariance_type: str
    fastem_s: float
    hmmlearn_s: float
    ratio: float
    ll_diff: float


def random_hmm(model, n_components, n_features, covariance_type, seed=0):
    """Parameters of a random, sticky hidden Markov model (dict of hmmlearn
    attributes)."""
    rng = np.random.default_rng(seed)
    K, d = n_components, n_features
    transmat = rng.dirichlet(np.ones(K), size=K) * 0.2 + np.eye(K) * 0.8
    params = dict(startprob_=rng.dirichlet(np.ones(K)), transmat_=transmat)
    if model == "categorical-hmm":
        params["emissionprob_"] = rng.dirichlet(np.ones(d) * 0.5, size=K)
        return params
    params["means_"] = rng.normal(scale=3.0, size=(K, d))
    if covariance_type == "full":
        A = rng.normal(size=(K, d, d)) / np.sqrt(d)
        params["covars_"] = A @ np.swapaxes(A, 1, 2) + np.eye(d)
    else:
        params["covars_"] = rng.uniform(0.5, 2.0, size=(K, d))
    return params


def hmm_data(model, n_samples, length, n_components, n_features, covariance_type, seed=0):
    """``(X, lengths, params)``: ``n_samples`` rows in sequences of
    ``length`` (the last one shorter) from ``random_hmm``, drawn
    vectorised (a state path, then every row's emission at once)."""
    params = random_hmm(model, n_components, n_features, covariance_type, seed)
    rng = np.random.default_rng(seed + 1)
    lengths = [length] * (n_samples // length)
    if n_samples % length:
        lengths.append(n_samples % length)
    K = n_components
    cdf = np.cumsum(params["transmat_"], axis=1)
    states = np.empty(n_samples, dtype=np.int64)
    u = rng.random(n_samples)
    start_cdf = np.cumsum(params["startprob_"])
    pos = 0
    for T in lengths:
        s = min(int(np.searchsorted(start_cdf, u[pos])), K - 1)
        states[pos] = s
        for t in range(pos + 1, pos + T):
            s = min(int(np.searchsorted(cdf[s], u[t])), K - 1)
            states[t] = s
        pos += T
    if model == "categorical-hmm":
        ecdf = np.cumsum(params["emissionprob_"], axis=1)
        v = rng.random(n_samples)
        X = np.empty((n_samples, 1), dtype=np.int64)
        for k in range(K):
            rows = states == k
            X[rows, 0] = np.minimum(np.searchsorted(ecdf[k], v[rows]), n_features - 1)
        return X, lengths, params
    z = rng.standard_normal((n_samples, n_features))
    means = params["means_"]
    if covariance_type == "full":
        chol = np.linalg.cholesky(params["covars_"])
        X = means[states] + np.einsum("nij,nj->ni", chol[states], z)
    else:
        X = means[states] + np.sqrt(params["covars_"])[states] * z
    return X, lengths, params


def _start(model, params, seed=0):
    """The shared start: the generating parameters, perturbed."""
    rng = np.random.default_rng(seed + 2)
    out = dict(params)
    K = len(params["startprob_"])
    out["startprob_"] = np.full(K, 1.0 / K)
    out["transmat_"] = 0.5 * params["transmat_"] + 0.5 / K
    if model == "categorical-hmm":
        table = params["emissionprob_"] + rng.uniform(0, 0.2, size=params["emissionprob_"].shape)
        out["emissionprob_"] = table / table.sum(axis=1, keepdims=True)
    else:
        out["means_"] = params["means_"] + rng.normal(scale=0.5, size=params["means_"].shape)
    return out


def _make(library, model, n_components, covariance_type, n_features, start, n_iter):
    if library == "fastem":
        from .. import hmm
    else:
        from hmmlearn import hmm
    if model == "categorical-hmm":
        m = hmm.CategoricalHMM(n_components, n_iter=n_iter, tol=0.0, init_params="",
                               n_features=n_features)
    else:
        m = hmm.GaussianHMM(n_components, covariance_type, n_iter=n_iter, tol=0.0,
                            init_params="")
    for name, value in start.items():
        setattr(m, name, np.array(value, copy=True))
    return m


def _timed_fit(library, model, K, cov, d, start, X, lengths, n_iter):
    m = _make(library, model, K, cov, d, start, n_iter)
    time.sleep(SETTLE_SECONDS)
    began = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m.fit(X, lengths)
    return time.perf_counter() - began, m


def per_iteration(library, model, K, cov, d, start, X, lengths, iterations):
    t0, _ = _timed_fit(library, model, K, cov, d, start, X, lengths, 0)
    t, m = _timed_fit(library, model, K, cov, d, start, X, lengths, iterations)
    return max(t - t0, 1e-9) / iterations, m


def predicted_hmmlearn_seconds(model, K, cov, d, start, X, lengths, iterations, repeats):
    """hmmlearn's time for the whole case, from an iteration over at most
    20,000 rows (whole sequences, or a slice of one)."""
    take, rows = [], 0
    for T in lengths:
        if rows >= 20_000:
            break
        T = min(T, 20_000 - rows)
        take.append(T)
        rows += T
    t, _ = per_iteration("hmmlearn", model, K, cov, d, start, X[:rows], take, 1)
    return t * len(X) / rows * (2 * iterations) * repeats


def run_hmm_case(model, n_samples, length, n_components, n_features, covariance_type,
                 iterations=3, repeats=3, max_seconds=120.0):
    X, lengths, params = hmm_data(model, n_samples, length, n_components, n_features,
                                  covariance_type)
    start = _start(model, params)
    args = (model, n_components, covariance_type, n_features, start, X, lengths)
    if max_seconds is not None:
        predicted = predicted_hmmlearn_seconds(*args, iterations, repeats)
        if predicted > max_seconds:
            return None, predicted
    per_iteration("fastem", *args, 1)  # untimed: compile or load the kernels
    fast, slow, ratios = [], [], []
    for _ in range(repeats):
        t_f, m_f = per_iteration("fastem", *args, iterations)
        t_h, m_h = per_iteration("hmmlearn", *args, iterations)
        fast.append(t_f)
        slow.append(t_h)
        ratios.append(t_h / t_f)
    a, b = m_f.monitor_.history[-1], m_h.monitor_.history[-1]
    return HMMResult(model, n_samples, length, n_components, n_features, covariance_type,
                     statistics.median(fast), statistics.median(slow),
                     statistics.median(ratios), abs(a - b) / abs(b)), None


HEADER = (f"{'model':>15} {'rows':>9} {'length':>7} {'k':>3} {'d':>3} {'cov':>5} "
          f"{'fastem ms':>10} {'hmmlearn ms':>12} {'speedup':>8} {'|dLL|':>8}")


def format_row(r):
    return (f"{r.model:>15} {r.n_samples:>9,} {r.length:>7,} {r.n_components:>3} "
            f"{r.n_features:>3} {r.covariance_type:>5} {r.fastem_s * 1e3:>10.2f} "
            f"{r.hmmlearn_s * 1e3:>12.1f} {r.ratio:>7.1f}x {r.ll_diff:>8.1e}")


def run_hmm_bench(model, grid, iterations=3, repeats=3, max_seconds=120.0, out=print):
    """The table of one HMM ``model`` over ``grid``; returns the results."""
    out("machine: " + machine_line())
    out(f"per Baum-Welch iteration, median of {repeats} alternating runs of {iterations} "
        "iterations (less a run of none); same data and start; hmmlearn "
        "implementation='log' (its default)")
    out(HEADER)
    results = []
    for n in sorted(grid["n_samples"]):
        for length in grid["lengths"]:
            if length > n:
                continue
            for k in grid["n_components"]:
                for d in grid["n_features"]:
                    for cov in grid["covariance_types"]:
                        r, predicted = run_hmm_case(model, n, length, k, d, cov, iterations,
                                                    repeats, max_seconds)
                        if r is None:
                            out(f"{model:>15} {n:>9,} {length:>7,} {k:>3} {d:>3} {cov:>5} "
                                f"skipped: hmmlearn predicted {predicted:.0f} s > "
                                f"--max-seconds {max_seconds:g}")
                            continue
                        results.append(r)
                        out(format_row(r))
    if results:
        geo = math.exp(statistics.fmean(math.log(r.ratio) for r in results))
        out(f"{model}: geometric-mean speed-up over hmmlearn {geo:.1f}x ({len(results)} "
            f"cases, lowest {min(r.ratio for r in results):.1f}x)")
    return results
