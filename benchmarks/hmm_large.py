"""Baum-Welch on sequences larger than one would like in memory: a memmapped .npy.

    python benchmarks/hmm_large.py                       # 100,000,000 x 8 float32, 3.2 GB
    python benchmarks/hmm_large.py --rows 10000000       # a smaller run

Writes the file (unless it exists): 10,000-row sequences of a sticky
8-state chain with diagonal Gaussian emissions, in 1,000,000-row slices,
and the lengths beside it.  Then, in a fresh process, fits a GaussianHMM
from ``np.load(path, mmap_mode="r")`` and a start near the truth
(``init_params=""``: the initialisation would look at the first rows only)
and reports the seconds per Baum-Welch iteration, rows per second, and the
peak RSS (VmHWM: includes the file's pages mapped in) and peak anonymous
memory (RssAnon, sampled every 20 ms) -- against RssAnon just before the
fit, after a small fit has loaded the kernels and thread pools.

Not a test: minutes of runtime and gigabytes of disk.
"""

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from large_data import MemoryWatch, _rss_anon  # noqa: E402

N_FEATURES = 8
N_STATES = 8
LENGTH = 10_000


def truth(seed=0):
    rng = np.random.default_rng(seed)
    means = rng.normal(scale=4.0, size=(N_STATES, N_FEATURES))
    scales = rng.uniform(0.5, 1.5, size=(N_STATES, N_FEATURES))
    return means, scales


def generate(path, n_rows, seed=0, stay=0.98):
    """A chain that stays with probability ``stay`` and else jumps to a
    uniformly drawn state: states from the running count of jumps."""
    rng = np.random.default_rng(seed + 1)
    means, scales = truth(seed)
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32,
                                    shape=(n_rows, N_FEATURES))
    step = 1_000_000
    state = 0
    for start in range(0, n_rows, step):
        rows = min(step, n_rows - start)
        jumps = rng.random(rows) > stay
        draws = rng.integers(0, N_STATES, size=rows)
        index = np.cumsum(jumps)
        picks = np.concatenate([[state], draws[jumps]])
        states = picks[index]
        state = states[-1]
        block = means[states] + scales[states] * rng.standard_normal((rows, N_FEATURES))
        out[start:start + rows] = block.astype(np.float32)
    out.flush()
    del out


def child(path, iterations):
    import fastem

    X = np.load(path, mmap_mode="r")
    n = X.shape[0]
    lengths = [LENGTH] * (n // LENGTH) + ([n % LENGTH] if n % LENGTH else [])
    means, scales = truth()
    stay = 0.98 + 0.02 / N_STATES

    def start(model):
        model.startprob_ = np.full(N_STATES, 1.0 / N_STATES)
        model.transmat_ = np.full((N_STATES, N_STATES), (1 - stay) / (N_STATES - 1))
        np.fill_diagonal(model.transmat_, stay)
        model.means_ = means + 0.3
        model.covars_ = (scales * 1.2) ** 2
        return model

    small = np.ascontiguousarray(X[:100_000])
    start(fastem.GaussianHMM(N_STATES, "diag", n_iter=1, init_params="")).fit(small)
    before = _rss_anon()
    model = start(fastem.GaussianHMM(N_STATES, "diag", n_iter=iterations, tol=0.0,
                                     init_params="", verbose=False))
    with MemoryWatch() as watch:
        began = time.perf_counter()
        model.fit(X, lengths)
        seconds = time.perf_counter() - began
    per_iteration = seconds / iterations
    print(json.dumps({
        "rows": n, "sequences": len(lengths), "iterations": iterations,
        "seconds": seconds, "seconds_per_iteration": per_iteration,
        "rows_per_second": n / per_iteration,
        "log_likelihood": model.lower_bounds_,
        "peak_rss_gib": watch.peak.get("VmHWM", watch.peak["VmRSS"]) / 2**30,
        "peak_anon_gib": watch.peak["RssAnon"] / 2**30,
        "anon_before_gib": before / 2**30,
    }))


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000_000)
    parser.add_argument("--path", default="hmm_large.npy")
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.path, args.iterations)
        return
    if not os.path.exists(args.path) or np.load(args.path, mmap_mode="r").shape[0] != args.rows:
        began = time.perf_counter()
        generate(args.path, args.rows)
        print(f"wrote {args.path}: {args.rows:,} x {N_FEATURES} float32 in "
              f"{time.perf_counter() - began:.0f} s", flush=True)
    out = subprocess.run([sys.executable, __file__, "--child", "--path", args.path,
                          "--iterations", str(args.iterations)],
                         capture_output=True, text=True, check=True)
    result = json.loads(out.stdout.splitlines()[-1])
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
