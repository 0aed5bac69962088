"""A whole default fit of one of the other families, with its peak memory:

    python benchmarks/family_fit.py bernoulli|poisson|categorical|student-t
                                    [--n-samples 1000000] [--n-features 32]
                                    [--n-components 16] [--numpy]

The family's built-in data (``fastem.tools.reference.family_data``), then a
default fit (k-means start, tol 1e-3).  Peak memory is VmHWM from
/proc/self/status, reset after the data is made (Linux), so it is what the
fit itself adds to the input.  ``--numpy``: 10 iterations of the NumPy EM
of ``fastem.tools.reference`` from a shared start instead, for comparison.
"""

import argparse
import time
import warnings

from fastem.tools.reference import ESTIMATORS, FAMILIES, family_data, family_start, numpy_em


def peak_mb():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) // 1024 for line in f if line.startswith("VmHWM"))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("family", choices=FAMILIES)
    parser.add_argument("--n-samples", type=int, default=1_000_000)
    parser.add_argument("--n-features", type=int, default=32)
    parser.add_argument("--n-components", type=int, default=16)
    parser.add_argument("--numpy", action="store_true")
    args = parser.parse_args()
    X = family_data(args.family, args.n_samples, args.n_features, args.n_components)
    import fastem

    fastem.warmup(dtypes=("float64",), families=(args.family,),
                  covariance_types=("full",) if args.family == "student-t" else ())
    cls = getattr(fastem, ESTIMATORS[args.family])  # its imports (scikit-learn) before
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset VmHWM to the current RSS
    before = peak_mb()
    warnings.simplefilter("ignore")
    start = time.perf_counter()
    if args.numpy:
        numpy_em(args.family, X, family_start(args.family, X, args.n_components), 10)
        what = "numpy EM, 10 iterations"
    else:
        model = cls(args.n_components, random_state=0).fit(X)
        what = f"fastem, n_iter {model.n_iter_}, lower_bound {model.lower_bound_:.10f}"
    seconds = time.perf_counter() - start
    print(f"{args.family} {args.n_samples:,} x {args.n_features}, k={args.n_components}: "
          f"{what}: {seconds:.2f} s, peak memory +{peak_mb() - before} MB "
          f"(input {X.nbytes >> 20} MB)")


if __name__ == "__main__":
    main()
