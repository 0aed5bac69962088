"""Import, first fit and second fit in fresh processes, cold and warm.

    python benchmarks/first_fit.py              # the installed fastem
    python benchmarks/first_fit.py --jit-only   # ignore kernels shipped compiled

For each case -- a default ``GaussianMixture`` and ``BayesianGaussianMixture``
fit of 1,000 x 3, and a 100,000 x 8, 16-component full fit of each -- a fresh
interpreter imports fastem and fits twice, first with an empty kernel cache
(``FASTEM_CACHE_DIR`` a new folder: what a new user meets), then with the
cache that run left (every later process).  With kernels shipped compiled in
the installed wheel the cold run loads them; ``--jit-only``
(``FASTEM_PRECOMPILED=0``) shows what compiling them costs.  The numbers
are seconds: ``import`` covers ``import fastem`` and the estimator's
(scikit-learn's) import; ``first`` is the first fit, compilation or loading
included.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

_CHILD = """
import json, sys, time, warnings
t0 = time.perf_counter()
import numpy as np
import fastem
from fastem import BayesianGaussianMixture, GaussianMixture
t1 = time.perf_counter()
model, n, d, k = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rng = np.random.default_rng(0)
X = rng.normal(size=(n, d)) + rng.integers(0, 4, size=(n, 1)) * 3.0
cls = GaussianMixture if model == "GaussianMixture" else BayesianGaussianMixture
make = (lambda: cls(k, random_state=0)) if model == "GaussianMixture" else (
    lambda: cls(n_components=k, random_state=0))
warnings.simplefilter("ignore")
times = []
for _ in range(2):
    start = time.perf_counter()
    make().fit(X)
    times.append(time.perf_counter() - start)
print(json.dumps({"import": t1 - t0, "first": times[0], "second": times[1]}))
"""

CASES = [("GaussianMixture", 1000, 3, 3), ("BayesianGaussianMixture", 1000, 3, 3),
         ("GaussianMixture", 100_000, 8, 16), ("BayesianGaussianMixture", 100_000, 8, 16)]


def run_case(case, cache, env):
    model, n, d, k = case
    out = subprocess.run([sys.executable, "-c", _CHILD, model, str(n), str(d), str(k)],
                         env=dict(env, FASTEM_CACHE_DIR=cache), check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout.splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jit-only", action="store_true",
                        help="ignore kernels shipped compiled (FASTEM_PRECOMPILED=0)")
    parser.add_argument("--small", action="store_true", help="the 1,000 x 3 cases only")
    args = parser.parse_args(argv)
    env = dict(os.environ)
    if args.jit_only:
        env["FASTEM_PRECOMPILED"] = "0"
    from fastem.engine.warmup import kernel_sources

    shipped = kernel_sources()["precompiled"] if not args.jit_only else []
    print(f"kernels shipped compiled: {shipped[0] if shipped else 'none used (JIT)'}")
    print(f"{'case':40} {'cache':5} {'import':>7} {'first':>7} {'second':>7} {'total':>7}")
    for case in CASES[:2] if args.small else CASES:
        with tempfile.TemporaryDirectory() as cache:
            for label in ("cold", "warm"):
                t = run_case(case, cache, env)
                name = f"{case[0]} {case[1]:,}x{case[2]} K={case[3]}"
                print(f"{name:40} {label:5} {t['import']:7.2f} {t['first']:7.2f} "
                      f"{t['second']:7.2f} {t['import'] + t['first']:7.2f}", flush=True)


if __name__ == "__main__":
    main()
