"""Batch vs incremental vs online EM: passes and wall time to the optimum.

    python benchmarks/convergence.py                      # 20,000,000 x 8 float32 memmap
    python benchmarks/convergence.py --rows 2000000       # a quicker run
    python benchmarks/convergence.py --path big.npy       # an existing file (large_data.py's)

Writes (unless it exists) a memmapped .npy of a mixture of 16 overlapping
Gaussians in 8 dimensions with random full covariances (centres 2.5 apart on
average: EM needs tens of passes from k-means, unlike ``large_data.py``'s
well-separated data, which k-means alone nearly solves; ``--path`` takes any
such file), then fits 16 full components from one shared initialisation
(k-means on a subsample, given to every method as
``weights_init``/``means_init``/``precisions_init``):

* batch EM to ``--tol`` (default 1e-7): the log-likelihood of its final
  model is the target;
* incremental EM (``learning_method="incremental"``, ``batch_size`` "auto"
  unless given, at most ``--incremental-max-iter`` passes) with its default
  first pass (stepwise EM on quarter blocks) or, with ``--first-pass all``,
  each of the three (``fastem.engine.incremental.FIRST_PASS``);
* online EM (``learning_method="online"``, ``--online-passes`` passes).

After every pass the model it ended with is scored on all rows (a pass the
clock does not count).  For each method: the passes and the seconds (every
pass and M-step, from the end of the initialisation) until that
log-likelihood first comes within ``--within`` (default 1e-4, per sample)
of the target, the totals, the final log-likelihood and the gap after one
pass.

Not a test: minutes of runtime and a 640 MB file.
"""

import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from large_data import N_COMPONENTS, N_FEATURES  # noqa: E402


def generate(path, n_rows, seed=0):
    """A mixture of 16 overlapping Gaussians with random full covariances,
    float32, written in 1,000,000-row slices."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=2.5, size=(N_COMPONENTS, N_FEATURES))
    factors = []
    for _ in range(N_COMPONENTS):
        q, _ = np.linalg.qr(rng.normal(size=(N_FEATURES, N_FEATURES)))
        factors.append(q * rng.uniform(0.5, 1.5, size=N_FEATURES))
    factors = np.array(factors)
    weights = rng.dirichlet(np.full(N_COMPONENTS, 5.0))
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32,
                                    shape=(n_rows, N_FEATURES))
    step = 1_000_000
    for start in range(0, n_rows, step):
        rows = min(step, n_rows - start)
        label = rng.choice(N_COMPONENTS, size=rows, p=weights)
        z = rng.standard_normal((rows, N_FEATURES))
        block = centers[label] + np.einsum("ij,ikj->ik", z, factors[label])
        out[start:start + rows] = block.astype(np.float32)
    out.flush()
    del out


def shared_start(X, seed=0):
    """k-means on a 1,000,000-row subsample (the default init), as every
    method's ``*_init``."""
    import fastem

    start = fastem.GaussianMixture(N_COMPONENTS, covariance_type="full", max_iter=0,
                                   random_state=seed)
    start.fit(X)
    return dict(weights_init=start.weights_, means_init=start.means_,
                precisions_init=start.precisions_)


def traced_fit(X, **params):
    """Fit, recording after each pass ``(bound, log-likelihood, seconds so
    far)``: the log-likelihood per sample of the parameters the pass ended
    with, from a scoring pass that the clock does not count."""
    import warnings

    import fastem
    from fastem.data import validation
    from fastem.engine.em import run_em
    from fastem.engine.passes import run_pass
    from fastem.engine.threads import single_threaded_blas

    est = fastem.GaussianMixture(N_COMPONENTS, covariance_type="full", **params)
    family = est._family()
    latest = {}
    finish = family.finish

    def remember(estimate):  # the parameters of each M-step
        latest["params"] = finish(estimate)
        return latest["params"]

    family.finish = remember
    trace = []
    paused = [0.0]

    def on_iteration(bound, _):
        now = time.perf_counter()
        seconds = now - started - paused[0]
        value = run_pass(Xv, family, latest["params"], want_stats=False).sum_lpn / n
        paused[0] += time.perf_counter() - now
        trace.append((float(bound), value, seconds))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        Xv = est._validate_X(X, reset=True)
        n = Xv.shape[0]
        sw, positive = validation.check_sample_weight(None, Xv)
        started = time.perf_counter()
        with single_threaded_blas():
            run_em(est, family, Xv, sw, positive, on_iteration=on_iteration)
    return est, trace


def reached(trace, target, within):
    """The first pass (and the seconds) whose model's log-likelihood is
    within ``within`` of ``target``."""
    for i, (_, value, seconds) in enumerate(trace):
        if value >= target - within:
            return i + 1, seconds
    return None, None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=20_000_000)
    parser.add_argument("--path", default=None)
    parser.add_argument("--tol", type=float, default=1e-7)
    parser.add_argument("--within", type=float, default=1e-4)
    parser.add_argument("--max-iter", type=int, default=300)
    parser.add_argument("--incremental-max-iter", type=int, default=None,
                        help="passes of incremental EM at most (default: --max-iter)")
    parser.add_argument("--batch-size", default="auto")
    parser.add_argument("--online-batch", default="auto")
    parser.add_argument("--first-pass", choices=["default", "all"], default="default")
    parser.add_argument("--online-passes", type=int, default=3)
    parser.add_argument("--json", default=None, help="also write the results here")
    args = parser.parse_args(argv)
    path = args.path or os.path.join(os.environ.get("TMPDIR", "/tmp"),
                                     f"fastem_overlap_{args.rows}.npy")
    if not os.path.exists(path):
        print(f"writing {path} ({args.rows:,} x 8 float32)", flush=True)
        generate(path, args.rows)
    X = np.load(path, mmap_mode="r")
    print(f"data: {X.shape[0]:,} x {X.shape[1]} {X.dtype}, memmap {path}", flush=True)
    start = shared_start(X)

    def size(value):
        return value if value == "auto" else int(value)

    runs = []
    _, trace = traced_fit(X, tol=args.tol, max_iter=args.max_iter, **start)
    target = trace[-1][1]
    runs.append(("batch", trace))
    print(f"batch: {len(trace)} passes, final log-likelihood {target:.7f}", flush=True)
    from fastem.engine import incremental

    default = incremental.FIRST_PASS
    modes = [default] if args.first_pass == "default" else ["online", "incremental", "batch"]
    for mode in modes:
        incremental.FIRST_PASS = mode
        est, trace = traced_fit(X, tol=args.tol,
                                max_iter=args.incremental_max_iter or args.max_iter,
                                learning_method="incremental",
                                batch_size=size(args.batch_size), **start)
        name = f"incremental, {-(-X.shape[0] // est._block_rows)} blocks, {mode} 1st pass"
        runs.append((name, trace))
        print(f"{name}: {len(trace)} passes, final log-likelihood {trace[-1][1]:.7f}",
              flush=True)
    incremental.FIRST_PASS = default
    _, trace = traced_fit(X, tol=0.0, max_iter=args.online_passes, learning_method="online",
                          batch_size=size(args.online_batch), **start)
    runs.append((f"online, batches of {args.online_batch}", trace))
    print(f"online: after one pass {trace[0][1]:.7f} ({target - trace[0][1]:.2e} below "
          "batch's optimum)", flush=True)

    rows = []
    print(f"\nto within {args.within:g} of batch's final log-likelihood {target:.7f}:")
    print(f"{'method':>40} {'passes':>7} {'seconds':>9} {'all passes':>11} "
          f"{'all s':>8} {'final':>12} {'gap after pass 1':>17}")
    for name, trace in runs:
        passes, seconds = reached(trace, target, args.within)
        rows.append(dict(method=name, passes_to_target=passes, seconds_to_target=seconds,
                         passes=len(trace), seconds=trace[-1][2], final=trace[-1][1],
                         gap_after_one_pass=target - trace[0][1]))
        shown = "-" if passes is None else f"{passes}"
        shown_s = "-" if seconds is None else f"{seconds:.1f}"
        print(f"{name:>40} {shown:>7} {shown_s:>9} {len(trace):>11} {trace[-1][2]:>8.1f} "
              f"{trace[-1][1]:>12.7f} {target - trace[0][1]:>17.2e}")
    base = rows[0]["seconds_to_target"]
    for row in rows[1:]:
        if base and row["seconds_to_target"]:
            print(f"{row['method']}: {row['seconds_to_target'] / base:.3f} of batch's time")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(rows=rows, target=target, n_samples=int(X.shape[0])), f, indent=1)


if __name__ == "__main__":
    main()
