"""What missing values cost a fit: GaussianMixture(missing="marginalize") on
data with holes against the same fit on the complete data (``--model``:
StudentTMixture or BayesianGaussianMixture instead).

For each case the same data three ways -- complete, 10% of the rows each
missing 20% of their coordinates at random, every row missing 20% -- fitted
from the same given initial parameters (no k-means: the EM passes, the data
scan and the copy the initialisation would use are what is timed), for
``--iterations`` EM iterations; reported: the median seconds over
``--repeats`` alternating runs and the ratios to the complete data's.

    python benchmarks/missing_speed.py [--n-samples 200000] [--repeats 3]
        [--model gaussian|student-t|bayesian] [--cases full:16:4 diag:32:16 ...]

The variational model has no given start: it starts from
``init_params="random_from_data"`` with the same seed in all three runs.
"""

import argparse
import json
import time
import warnings

import numpy as np

CASES = [(d, k, cov) for cov in ("full", "diag") for d in (8, 16, 32) for k in (4, 16)]


def with_holes(X, row_share, fraction, seed):
    rng = np.random.default_rng(seed)
    Xm = X.copy()
    rows = rng.random(X.shape[0]) < row_share
    mask = (rng.random(X.shape) < fraction) & rows[:, None]
    Xm[mask] = np.nan
    return Xm


def case_data(n, d, k, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=3.0, size=(k, d))
    labels = rng.integers(k, size=n)
    X = centers[labels] + rng.normal(size=(n, d))
    return X, centers


def fit_seconds(X, cov, start, iterations, model="gaussian"):
    import fastem

    weights, means, precisions = start
    if model == "bayesian":
        m = fastem.BayesianGaussianMixture(
            n_components=len(weights), covariance_type=cov, missing="marginalize",
            init_params="random_from_data", random_state=0, max_iter=iterations, tol=0.0)
    else:
        cls = fastem.StudentTMixture if model == "student-t" else fastem.GaussianMixture
        m = cls(len(weights), covariance_type=cov, missing="marginalize", weights_init=weights,
                means_init=means, precisions_init=precisions, max_iter=iterations, tol=0.0)
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m.fit(X)
    return time.perf_counter() - started


def run(n=200_000, repeats=3, iterations=10, cases=CASES, model="gaussian"):
    results = []
    for d, k, cov in cases:
        X, centers = case_data(n, d, k)
        weights = np.full(k, 1.0 / k)
        precisions = {"full": np.broadcast_to(np.eye(d), (k, d, d)).copy(),
                      "diag": np.ones((k, d))}[cov]
        start = (weights, centers + 0.5, precisions)
        variants = {"complete": X, "10% rows": with_holes(X, 0.1, 0.2, 1),
                    "100% rows": with_holes(X, 1.0, 0.2, 2)}
        for data in variants.values():  # compile and warm up
            fit_seconds(data[:5000], cov, start, 2, model)
        times = {name: [] for name in variants}
        for _ in range(repeats):
            for name, data in variants.items():
                times[name].append(fit_seconds(data, cov, start, iterations, model))
        med = {name: float(np.median(t)) for name, t in times.items()}
        row = {"model": model, "n_samples": n, "n_features": d, "n_components": k, "covariance_type": cov,
               "seconds": med, "ratio_10": med["10% rows"] / med["complete"],
               "ratio_100": med["100% rows"] / med["complete"]}
        results.append(row)
        print(f"{cov:5s} d={d:3d} k={k:3d}  complete {med['complete']:.3f} s  "
              f"10% rows {med['10% rows']:.3f} s ({row['ratio_10']:.2f}x)  "
              f"100% rows {med['100% rows']:.3f} s ({row['ratio_100']:.2f}x)", flush=True)
    for key in ("ratio_10", "ratio_100"):
        values = np.array([r[key] for r in results])
        print(f"{key}: geometric mean {np.exp(np.log(values).mean()):.2f}x, "
              f"max {values.max():.2f}x")
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-samples", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--iterations", type=int, default=10)
    parser.add_argument("--model", default="gaussian",
                        choices=["gaussian", "student-t", "bayesian"])
    parser.add_argument("--cases", nargs="*", default=None,
                        help="covariance:features:components, e.g. full:16:4 (default: all)")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    cases = CASES
    if args.cases:
        cases = [(int(d), int(k), cov) for cov, d, k in (c.split(":") for c in args.cases)]
    results = run(args.n_samples, args.repeats, args.iterations, cases, args.model)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return results


if __name__ == "__main__":
    main()
