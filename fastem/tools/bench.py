"""Side-by-side speed comparison with scikit-learn (``fastem bench``).

Every case fits the same data from the same initial parameters with both
libraries for the same number of EM iterations (``tol=0``), alternating
fastem and scikit-learn runs so that drift on a shared machine hits both, and
reports the median of the per-run ratios.  Each timed fit starts after a
short pause, so neither library's idle-spinning thread pool slows the other.  Cases whose scikit-learn fit is
predicted to take longer than ``--max-seconds`` are dropped and listed.
"""

import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass

import numpy as np

GRID = dict(
    n_samples=(100_000, 1_000_000),
    n_features=(2, 8, 32, 64),
    n_components=(4, 16, 64),
    covariance_types=("full", "tied", "diag", "spherical"),
    dtypes=("float64", "float32"),
)


@dataclass
class Case:
    n_samples: int
    n_features: int
    n_components: int
    covariance_type: str
    dtype: str
    model: str = "gaussian"  # or "bayesian"


@dataclass
class Result:
    case: Case
    fastem_s: float  # median seconds per iteration
    sklearn_s: float
    ratio: float  # median of per-run ratios
    bound_diff: float  # |fastem lower_bound_ - sklearn lower_bound_|


def machine_line():
    import numba
    from threadpoolctl import threadpool_info

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    blas = ", ".join(
        f"{i['internal_api']} {i.get('architecture', '')} x{i['num_threads']}"
        for i in threadpool_info() if i["user_api"] == "blas"
    )
    return (f"{cpu}; {os.cpu_count()} CPUs; numba {numba.__version__} with "
            f"{numba.get_num_threads()} threads; BLAS: {blas}; Python "
            f"{platform.python_version()}")


#: Pause before each timed fit.  Thread pools (OpenBLAS's, OpenMP's) spin-wait
#: for a while after their last task; without a pause, each library's run
#: would start while the other's threads still hold the cores.
SETTLE_SECONDS = 0.2


def _fit_seconds(library, cls, X, kwargs):
    time.sleep(SETTLE_SECONDS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        try:
            model = cls(**kwargs).fit(X)
        except ValueError as exc:
            raise ValueError(f"{library}: {exc}") from exc
        return time.perf_counter() - start, model


def _bayesian_starts(X, case):
    """Two BayesianGaussianMixture pairs (fastem's, scikit-learn's) at the
    same initial point -- the same k-means labels (``random_state=0``), no
    iteration yet -- set to warm-start ``iterations`` iterations."""
    from sklearn.mixture import BayesianGaussianMixture as SkBayesianGaussianMixture

    import fastem

    kwargs = dict(n_components=case.n_components, covariance_type=case.covariance_type,
                  random_state=0, max_iter=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return (fastem.BayesianGaussianMixture(**kwargs).fit(X),
                SkBayesianGaussianMixture(**kwargs).fit(X))


def _bayesian_seconds(library, start, X, iterations):
    """Seconds of ``iterations`` iterations from ``start``: a warm-started fit
    of that many iterations less one of none, each from a copy of ``start``.
    Every fit first sets up its priors from the data (scikit-learn's
    ``np.cov``, fastem's two passes); the difference leaves the iterations."""
    import copy

    seconds = []
    for max_iter in (0, iterations):
        model = copy.deepcopy(start).set_params(warm_start=True, max_iter=max_iter, tol=0.0)
        time.sleep(SETTLE_SECONDS)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            started = time.perf_counter()
            try:
                model.fit(X)
            except ValueError as exc:
                raise ValueError(f"{library}: {exc}") from exc
            seconds.append(time.perf_counter() - started)
    return max(seconds[1] - seconds[0], 1e-9), model


def run_case(case, iterations=3, repeats=3, data_cache=None):
    """Alternate fastem and scikit-learn fits of one case; median figures."""
    from sklearn.mixture import GaussianMixture as SkGaussianMixture

    import fastem
    from fastem.tools.cli import initial_parameters, make_demo_data

    key = (case.n_samples, case.n_features, case.n_components, case.dtype)
    if data_cache is not None and key in data_cache:
        X = data_cache[key]
    else:
        X = make_demo_data(case.n_samples, case.n_features, case.n_components, seed=0,
                           dtype=case.dtype)
        if data_cache is not None:
            data_cache.clear()
            data_cache[key] = X
    fastem.warmup(dtypes=(case.dtype,), covariance_types=(case.covariance_type,))
    if case.model == "bayesian":
        start_ours, start_theirs = _bayesian_starts(X, case)

        def fit_ours():
            return _bayesian_seconds("fastem", start_ours, X, iterations)

        def fit_theirs():
            return _bayesian_seconds("scikit-learn", start_theirs, X, iterations)
    else:
        kwargs = dict(n_components=case.n_components, covariance_type=case.covariance_type,
                      max_iter=iterations, tol=0.0,
                      **initial_parameters(X, case.n_components, case.covariance_type))

        def fit_ours():
            return _fit_seconds("fastem", fastem.GaussianMixture, X, kwargs)

        def fit_theirs():
            return _fit_seconds("scikit-learn", SkGaussianMixture, X, kwargs)
    ours, theirs, ratios = [], [], []
    for _ in range(repeats):
        t_ours, m_ours = fit_ours()
        t_theirs, m_theirs = fit_theirs()
        ours.append(t_ours / iterations)
        theirs.append(t_theirs / iterations)
        ratios.append(t_theirs / t_ours)
    diff = abs(float(m_ours.lower_bound_) - float(np.squeeze(m_theirs.lower_bound_)))
    return Result(case, statistics.median(ours), statistics.median(theirs),
                  statistics.median(ratios), diff)


def predicted_sklearn_seconds(case, measured, iterations, repeats):
    """Scale a smaller case's scikit-learn time linearly in n_samples."""
    for r in measured:
        c = r.case
        same = (c.n_features, c.n_components, c.covariance_type, c.dtype) == (
            case.n_features, case.n_components, case.covariance_type, case.dtype)
        if same and c.n_samples < case.n_samples:
            per_iter = r.sklearn_s * case.n_samples / c.n_samples
            return per_iter * iterations * repeats
    return 0.0


def compile_seconds():
    """Seconds ``fastem.warmup()`` takes in a fresh process: with the kernels
    shipped in the install (if any), and by the JIT alone with a cold and a
    warm cache."""
    code = "import time, fastem; t = time.perf_counter(); fastem.warmup(); " \
           "print(time.perf_counter() - t)"
    out = {}
    with tempfile.TemporaryDirectory() as cache:
        jit = dict(os.environ, FASTEM_CACHE_DIR=cache, FASTEM_PRECOMPILED="0")
        shipped = dict(os.environ, FASTEM_CACHE_DIR=os.path.join(cache, "empty"))
        for label, env in (("shipped", shipped), ("cold", jit), ("warm", jit)):
            proc = subprocess.run([sys.executable, "-c", code], env=env, check=True,
                                  capture_output=True, text=True)
            out[label] = float(proc.stdout.split()[-1])
    return out


def thread_scaling(case, iterations=3, repeats=3):
    """Seconds per iteration with 1 and with all Numba threads."""
    import numba

    import fastem
    from fastem.tools.cli import initial_parameters, make_demo_data

    X = make_demo_data(case.n_samples, case.n_features, case.n_components, dtype=case.dtype)
    kwargs = dict(n_components=case.n_components, covariance_type=case.covariance_type,
                  max_iter=iterations, tol=0.0,
                  **initial_parameters(X, case.n_components, case.covariance_type))
    fastem.warmup(dtypes=(case.dtype,), covariance_types=(case.covariance_type,))
    all_threads = numba.get_num_threads()
    times = {1: [], all_threads: []}
    try:
        for _ in range(repeats):
            for n_threads in times:
                numba.set_num_threads(n_threads)
                times[n_threads].append(
                    _fit_seconds("fastem", fastem.GaussianMixture, X, kwargs)[0] / iterations)
    finally:
        numba.set_num_threads(all_threads)
    return {k: statistics.median(v) for k, v in times.items()}


def matmul_gflops(size=2000, repeats=3):
    """numpy's float64 matmul rate on large square matrices (GFlop/s)."""
    a = np.random.default_rng(0).standard_normal((size, size))
    a @ a
    best = statistics.median(_seconds(lambda: a @ a) for _ in range(repeats))
    return 2.0 * size**3 / best / 1e9


def _seconds(func):
    start = time.perf_counter()
    func()
    return time.perf_counter() - start


def em_iteration_seconds(case, repeats=5):
    """Median seconds of exactly one EM iteration of fastem: the fused pass
    with its statistics, then the M-step and the bound's closed form (what
    a long fit repeats)."""
    import fastem
    from fastem.engine import passes
    from fastem.engine.threads import single_threaded_blas
    from fastem.tools.cli import initial_parameters, make_demo_data

    X = make_demo_data(case.n_samples, case.n_features, case.n_components, dtype=case.dtype)
    fastem.warmup(dtypes=(case.dtype,), covariance_types=(case.covariance_type,))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = fastem.GaussianMixture(
            case.n_components, covariance_type=case.covariance_type, max_iter=1, tol=0.0,
            **initial_parameters(X, case.n_components, case.covariance_type)).fit(X)
    params = model._current_parameters()
    family = model._family()
    family.setup(X.shape[1], X.dtype)
    family.prepare(X, None)

    def iteration():
        stats = passes.run_pass(X, family, params, want_stats=True)
        new = family.finish(family.m_step(stats)[0])
        family.expected_log_joint(stats, new)  # the bound check's chain

    with single_threaded_blas():
        iteration()
        return statistics.median(_seconds(iteration) for _ in range(repeats))


def full_rate_lines(grid, repeats=5):
    """Useful flop rate of full-covariance EM iterations at n_features >= 32:
    W = 2 n k d^2 per iteration, against numpy's float64 matmul in this run."""
    cases = [c for c in iter_cases(grid) if c.covariance_type == "full" and c.n_features >= 32]
    if not cases:
        return []
    peak = matmul_gflops()
    lines = [f"full covariance, one EM iteration (pass + M-step), W = 2 n k d^2; numpy float64 "
             f"matmul {peak:.1f} GFlop/s in this run"]
    for case in cases:
        secs = em_iteration_seconds(case, repeats)
        rate = 2.0 * case.n_samples * case.n_components * case.n_features**2 / secs / 1e9
        lines.append(f"  {describe(case)}: {secs * 1e3:.1f} ms, {rate:.1f} GFlop/s, "
                     f"{100 * rate / peak:.0f}% of matmul")
    return lines


def dtype_ratio_lines(results, min_features=8):
    """fastem's float64 time over its float32 time, per case with both."""
    by_key = {}
    for r in results:
        c = r.case
        by_key.setdefault((c.n_samples, c.n_features, c.n_components, c.covariance_type),
                          {})[c.dtype] = r.fastem_s
    ratios = [(k, v["float64"] / v["float32"]) for k, v in by_key.items()
              if k[1] >= min_features and {"float64", "float32"} <= set(v)]
    if not ratios:
        return []
    geo = math.exp(statistics.fmean(math.log(x) for _, x in ratios))
    (n, d, k, cov), low = min(ratios, key=lambda item: item[1])
    return [f"float32 vs float64 (fastem, n_features >= {min_features}): geometric mean "
            f"{geo:.2f}x faster over {len(ratios)} cases; lowest {low:.2f}x "
            f"({n:,} x {d}, k={k}, {cov})"]


def iter_cases(grid):
    for n in sorted(grid["n_samples"]):
        for d in grid["n_features"]:
            for k in grid["n_components"]:
                for cov in grid["covariance_types"]:
                    for dtype in grid["dtypes"]:
                        yield Case(n, d, k, cov, dtype, grid.get("model", "gaussian"))


def describe(case):
    model = "Bayesian " if case.model == "bayesian" else ""
    return (f"{case.n_samples:,} x {case.n_features}, k={case.n_components}, "
            f"{model}{case.covariance_type}, {case.dtype}")


def format_row(r):
    c = r.case
    return (f"{c.n_samples:>9,} {c.n_features:>4} {c.n_components:>4} {c.covariance_type:>9} "
            f"{c.dtype:>7} {r.fastem_s * 1e3:>11.2f} {r.sklearn_s * 1e3:>11.2f} "
            f"{r.ratio:>7.1f}x {r.bound_diff:>9.1e}")


HEADER = (f"{'n_samples':>9} {'d':>4} {'k':>4} {'cov':>9} {'dtype':>7} "
          f"{'fastem ms':>11} {'sklearn ms':>11} {'speedup':>8} {'|dLB|':>9}")


def run(grid=GRID, iterations=3, repeats=3, max_seconds=60.0, with_compile=True,
        scaling_cases=(), full_rate=True, out=print):
    """Run the comparison and print the table; returns the list of results."""
    out("machine: " + machine_line())
    if with_compile:
        c = compile_seconds()
        out(f"fastem.warmup() in a fresh process: shipped kernels (if installed) "
            f"{c['shipped']:.2f} s; JIT, cold cache {c['cold']:.1f} s, warm cache "
            f"{c['warm']:.2f} s")
    out(f"per EM iteration, median of {repeats} alternating runs of {iterations} iterations; "
        "same data and initial parameters"
        + (" (the same k-means start, then warm-started fits; the priors' set-up "
           "from the data, once per fit, left out)"
           if grid.get("model", "gaussian") == "bayesian" else ""))
    out(HEADER)
    results, dropped = [], []
    data_cache = {}
    for case in iter_cases(grid):
        predicted = predicted_sklearn_seconds(case, results, iterations, repeats)
        if predicted > max_seconds * repeats:
            dropped.append((case, predicted / repeats))
            continue
        try:
            r = run_case(case, iterations, repeats, data_cache)
        except ValueError as exc:  # e.g. an ill-defined covariance in one library
            out(f"{describe(case)}: failed: {exc.args[0][:70]}...")
            continue
        results.append(r)
        out(format_row(r))
    if results:
        geo = math.exp(statistics.fmean(math.log(r.ratio) for r in results))
        worst = min(results, key=lambda r: r.ratio)
        out(f"geometric-mean speed-up {geo:.1f}x over {len(results)} cases; lowest "
            f"{worst.ratio:.1f}x ({describe(worst.case)})")
    for line in dtype_ratio_lines(results):
        out(line)
    for case, secs in dropped:
        out(f"dropped, scikit-learn predicted at ~{secs:.0f} s per fit (over "
            f"{max_seconds:.0f} s): {describe(case)}")
    if full_rate and grid.get("model", "gaussian") == "gaussian":
        for line in full_rate_lines(grid):
            out(line)
    for case in scaling_cases:
        t = thread_scaling(case, iterations, repeats)
        threads = sorted(t)
        out(f"threads, {describe(case)}: " + ", ".join(
                f"{n} thread(s) {t[n] * 1e3:.1f} ms/iter" for n in threads)
            + f" (x{t[threads[0]] / t[threads[-1]]:.2f})")
    return results
