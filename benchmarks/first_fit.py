"""Import time and the first fit in a fresh process (run it as a script).

    python benchmarks/first_fit.py            # warm Numba cache, as users mostly see
    NUMBA_CACHE_DIR=$(mktemp -d) python benchmarks/first_fit.py   # cold cache

Prints: `import fastem`, the first access to `fastem.GaussianMixture` (which
imports scikit-learn), the first default fit of 1,000 x 3 rows (which compiles
or loads the kernels), and the same fit again.
"""

import time


def main():
    t0 = time.perf_counter()
    import fastem  # noqa: F401 -- the import is what is timed

    t1 = time.perf_counter()
    from fastem import GaussianMixture  # loads scikit-learn, which the estimator builds on

    t2 = time.perf_counter()
    import numpy as np

    X = np.random.default_rng(0).normal(size=(1000, 3))
    GaussianMixture(3, random_state=0).fit(X)
    t3 = time.perf_counter()
    GaussianMixture(3, random_state=0).fit(X)
    t4 = time.perf_counter()
    print(f"import fastem {t1 - t0:.2f} s; GaussianMixture (imports scikit-learn) "
          f"{t2 - t1:.2f} s; first fit {t3 - t2:.2f} s; same fit again {t4 - t3:.3f} s")


if __name__ == "__main__":
    main()
