"""A whole default fit (k-means initialisation included), fastem or scikit-learn,
with its peak memory.  One library per process, so peaks do not mix:

    python benchmarks/whole_fit.py fastem
    python benchmarks/whole_fit.py sklearn [--n-samples 1000000]

Peak memory is VmHWM from /proc/self/status, reset after the data is made
(Linux), so it is what the fit itself adds.
"""

import argparse
import time
import warnings

from fastem.tools.cli import make_demo_data


def peak_mb():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) // 1024 for line in f if line.startswith("VmHWM"))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("library", choices=["fastem", "sklearn"])
    parser.add_argument("--n-samples", type=int, default=1_000_000)
    parser.add_argument("--n-features", type=int, default=8)
    parser.add_argument("--n-components", type=int, default=16)
    args = parser.parse_args()
    X = make_demo_data(args.n_samples, args.n_features, args.n_components)
    if args.library == "fastem":
        import fastem

        fastem.warmup(dtypes=("float64",), covariance_types=("full",))
        cls = fastem.GaussianMixture
    else:
        from sklearn.mixture import GaussianMixture as cls
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset VmHWM to the current RSS
    before = peak_mb()
    warnings.simplefilter("ignore")
    start = time.perf_counter()
    model = cls(args.n_components, random_state=0).fit(X)
    seconds = time.perf_counter() - start
    print(f"{args.library}: fit {seconds:.2f} s, n_iter {model.n_iter_}, "
          f"lower_bound {model.lower_bound_:.12f}, peak memory +{peak_mb() - before} MB "
          f"(input {X.nbytes >> 20} MB)")


if __name__ == "__main__":
    main()
