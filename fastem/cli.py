"""The ``fastem`` command line."""

import argparse
import os
import statistics
import sys
import time
import warnings

import numpy as np


def make_demo_data(n_samples, n_features, n_components, seed=0, dtype=np.float64):
    """A built-in synthetic mixture: random centres, random correlated shapes."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=6.0, size=(n_components, n_features))
    shapes = rng.normal(scale=0.5, size=(n_components, n_features, n_features))
    shapes += np.eye(n_features)
    weights = rng.dirichlet(np.full(n_components, 5.0))
    labels = rng.choice(n_components, size=n_samples, p=weights)
    X = rng.standard_normal((n_samples, n_features))
    for k in range(n_components):  # per component: no n x d x d temporary
        rows = np.flatnonzero(labels == k)
        X[rows] = centers[k] + X[rows] @ shapes[k].T
    return X.astype(dtype, copy=False)


def initial_parameters(X, n_components, covariance_type, seed=0):
    """Shared starting point: random rows as means, the data's own spread."""
    rng = np.random.default_rng(seed + 1)
    n_samples, n_features = X.shape
    means = X[rng.choice(n_samples, n_components, replace=False)].astype(np.float64)
    weights = np.full(n_components, 1.0 / n_components)
    var = X.var(axis=0).astype(np.float64)
    precisions = {
        "full": np.stack([np.diag(1.0 / var)] * n_components),
        "tied": np.diag(1.0 / var),
        "diag": np.tile(1.0 / var, (n_components, 1)),
        "spherical": np.full(n_components, 1.0 / var.mean()),
    }[covariance_type]
    dtype = X.dtype
    return dict(weights_init=weights.astype(dtype), means_init=means.astype(dtype),
                precisions_init=precisions.astype(dtype))


def _timed_fit(cls, X, kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning: tol=0 runs every iteration
        start = time.perf_counter()
        model = cls(**kwargs).fit(X)
        return time.perf_counter() - start, model


def demo(args):
    import numba
    from sklearn.mixture import GaussianMixture as SkGaussianMixture

    import fastem

    dtype = np.dtype(args.dtype)
    print(f"fastem {fastem.__version__} demo: {args.n_samples:,} x {args.n_features} "
          f"{dtype.name}, {args.n_components} components, covariance_type="
          f"'{args.covariance_type}', {args.iterations} EM iterations from the same start")
    print(f"machine: {os.cpu_count()} CPUs, numba threads {numba.get_num_threads()}")
    X = make_demo_data(args.n_samples, args.n_features, args.n_components, args.seed, dtype)
    kwargs = dict(
        n_components=args.n_components, covariance_type=args.covariance_type,
        max_iter=args.iterations, tol=0.0,
        **initial_parameters(X, args.n_components, args.covariance_type, args.seed),
    )
    start = time.perf_counter()
    fastem.warmup(dtypes=(dtype.name,), covariance_types=(args.covariance_type,))
    print(f"kernel compile/cache load (first call in this process): "
          f"{time.perf_counter() - start:.2f} s")

    ours, theirs = [], []
    for _ in range(args.repeats):  # alternate, so drift on a shared machine hits both
        t, fast_model = _timed_fit(fastem.GaussianMixture, X, kwargs)
        ours.append(t)
        t, sk_model = _timed_fit(SkGaussianMixture, X, kwargs)
        theirs.append(t)
    t_ours, t_theirs = statistics.median(ours), statistics.median(theirs)
    n_iter = args.iterations
    print(f"{'':14}{'fit (s)':>10}{'s/iter':>10}   lower bound (mean log-likelihood)")
    print(f"{'fastem':14}{t_ours:10.3f}{t_ours / n_iter:10.4f}   {fast_model.lower_bound_:.10f}")
    print(f"{'scikit-learn':14}{t_theirs:10.3f}{t_theirs / n_iter:10.4f}   "
          f"{sk_model.lower_bound_:.10f}")
    print(f"speed-up: {t_theirs / t_ours:.1f}x (median of {args.repeats} alternating runs); "
          f"|difference in lower bound|: {abs(fast_model.lower_bound_ - sk_model.lower_bound_):.2e}")
    return 0


def build_parser():
    parser = argparse.ArgumentParser(prog="fastem", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("demo", help="fit built-in synthetic data with fastem and scikit-learn")
    p.add_argument("--n-samples", type=int, default=200_000)
    p.add_argument("--n-features", type=int, default=8)
    p.add_argument("--n-components", type=int, default=16)
    p.add_argument("--covariance-type", default="full",
                   choices=["full", "tied", "diag", "spherical"])
    p.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    p.add_argument("--iterations", type=int, default=10)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=demo)

    from .bench import GRID

    b = sub.add_parser("bench", help="side-by-side speed comparison with scikit-learn")
    b.add_argument("--n-samples", type=int, nargs="+", default=list(GRID["n_samples"]))
    b.add_argument("--n-features", type=int, nargs="+", default=list(GRID["n_features"]))
    b.add_argument("--n-components", type=int, nargs="+", default=list(GRID["n_components"]))
    b.add_argument("--covariance-types", nargs="+", default=list(GRID["covariance_types"]),
                   choices=["full", "tied", "diag", "spherical"])
    b.add_argument("--dtypes", nargs="+", default=list(GRID["dtypes"]),
                   choices=["float64", "float32"])
    b.add_argument("--iterations", type=int, default=3)
    b.add_argument("--repeats", type=int, default=3)
    b.add_argument("--max-seconds", type=float, default=60.0,
                   help="drop cases whose scikit-learn fit is predicted to take longer")
    b.add_argument("--no-compile", action="store_true",
                   help="skip measuring cold/warm compile time in fresh processes")
    b.add_argument("--threads", action="store_true",
                   help="also report 1-thread vs all-thread time for three cases")
    b.set_defaults(func=bench)

    a = sub.add_parser("accuracy", help="score_samples against a 50-digit reference "
                                        "on adversarial data (needs mpmath)")
    a.add_argument("--dtypes", nargs="+", default=["float64", "float32"],
                   choices=["float64", "float32"])
    a.add_argument("--covariance-types", nargs="+",
                   default=["full", "tied", "diag", "spherical"],
                   choices=["full", "tied", "diag", "spherical"])
    a.add_argument("--rows", type=int, default=200, help="rows evaluated per case")
    a.set_defaults(func=accuracy)
    return parser


def accuracy(args):
    from .accuracy import report

    report(dtypes=args.dtypes, covariance_types=args.covariance_types, n_eval=args.rows)
    return 0


def bench(args):
    from .bench import Case, run

    grid = dict(n_samples=args.n_samples, n_features=args.n_features,
                n_components=args.n_components, covariance_types=args.covariance_types,
                dtypes=args.dtypes)
    scaling = ()
    if args.threads:
        scaling = (Case(100_000, 8, 16, "full", "float64"),
                   Case(100_000, 32, 16, "full", "float64"),
                   Case(100_000, 8, 16, "diag", "float32"))
    run(grid, iterations=args.iterations, repeats=args.repeats, max_seconds=args.max_seconds,
        with_compile=not args.no_compile, scaling_cases=scaling)
    return 0


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, OSError) as exc:
        print(f"fastem: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
