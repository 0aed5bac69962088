"""Exact EM on data larger than one would like in memory: a memmapped .npy.

    python benchmarks/large_data.py                      # 200,000,000 x 8 float32, 6.4 GB
    python benchmarks/large_data.py --rows 20000000      # a smaller run

Writes the file (a mixture of 16 Gaussians, in 1,000,000-row slices) unless it
exists, then fits 16 full-covariance components from ``np.load(path,
mmap_mode="r")`` in fresh processes:

* fastem in process: seconds per EM iteration (iterations 2.., from
  ``verbose=2``'s lines: iteration 1 includes the initialisation), rows/s,
  peak RSS (VmHWM: includes the file's pages mapped in) and peak anonymous
  memory (RssAnon, sampled every 20 ms), and RssAnon just before the fit,
  after a small fit has loaded the kernels, thread pools and BLAS buffers
  (the difference is what the fit itself allocates);
* scikit-learn on the same memmap, under an address-space limit of 20 GiB so
  that running out of memory is a MemoryError, not the kernel's OOM killer;
* fastem on the same file as a dask array on a ``LocalCluster`` of 2 worker
  processes (each block opens the file itself: nothing big is pickled).

Not a test: minutes of runtime and gigabytes of disk.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import threading
import time

import numpy as np

N_FEATURES = 8
N_COMPONENTS = 16


def generate(path, n_rows, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=6.0, size=(N_COMPONENTS, N_FEATURES))
    scales = rng.uniform(0.5, 1.5, size=(N_COMPONENTS, N_FEATURES))
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32,
                                    shape=(n_rows, N_FEATURES))
    step = 1_000_000
    for start in range(0, n_rows, step):
        rows = min(step, n_rows - start)
        label = rng.integers(0, N_COMPONENTS, size=rows)
        block = centers[label] + scales[label] * rng.standard_normal((rows, N_FEATURES))
        out[start:start + rows] = block.astype(np.float32)
    out.flush()
    del out


class MemoryWatch:
    """Peak VmRSS and RssAnon of this process, sampled in a thread."""

    def __init__(self, interval=0.02):
        self.interval = interval
        self.peak = {"VmRSS": 0, "RssAnon": 0}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self):
        with open("/proc/self/status") as f:
            for line in f:
                key = line.split(":", 1)[0]
                if key in self.peak:
                    self.peak[key] = max(self.peak[key], int(line.split()[1]) * 1024)

    def _run(self):
        while not self._stop.is_set():
            self._sample()
            time.sleep(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self._sample()
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    self.peak["VmHWM"] = int(line.split()[1]) * 1024


class NpyBlocks:
    """A picklable stand-in for the .npy file (path, shape, dtype): each
    slice opens the memmap where it runs, so dask ships only the path."""

    def __init__(self, path):
        self.path = path
        mm = np.load(path, mmap_mode="r")
        self.shape, self.dtype, self.ndim = mm.shape, mm.dtype, mm.ndim

    def __getitem__(self, key):
        return np.asarray(np.load(self.path, mmap_mode="r")[key])


def _rss_anon():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) * 1024
    return 0


def _iteration_seconds(output):
    lapses = [float(m) for m in re.findall(r"time lapse ([0-9.]+)s", output)]
    return lapses[1:] if len(lapses) > 1 else lapses


def child(kind, path, iterations):
    """One measured fit, in this (fresh) process; prints one JSON line."""
    import contextlib
    import io
    import warnings

    result = {"kind": kind}
    X = np.load(path, mmap_mode="r")
    n_rows = X.shape[0]
    buffer = io.StringIO()
    cluster = client = None
    try:
        if kind == "sklearn":
            import resource

            limit = 20 * 2**30
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
            from sklearn.mixture import GaussianMixture
        else:
            from fastem import GaussianMixture
        if kind == "dask":
            import dask.array as da
            from distributed import Client, LocalCluster

            cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                   dashboard_address=None)
            client = Client(cluster)
            X = da.from_array(NpyBlocks(path), chunks=(4_000_000, N_FEATURES))
        model = GaussianMixture(N_COMPONENTS, covariance_type="full", max_iter=iterations,
                                tol=0.0, random_state=0, verbose=2, verbose_interval=1)
        # The libraries' own one-off memory (compiled kernels, thread pools,
        # BLAS buffers) comes with a first small fit; the baseline is after it.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            small = np.asarray(np.load(path, mmap_mode="r")[:5000])
            GaussianMixture(N_COMPONENTS, covariance_type="full", max_iter=2,
                            random_state=0).fit(small)
        result["rss_anon_before_fit_bytes"] = _rss_anon()
        with MemoryWatch() as watch, contextlib.redirect_stdout(buffer), \
                warnings.catch_warnings():
            warnings.simplefilter("ignore")
            start = time.perf_counter()
            model.fit(X)
            result["fit_seconds"] = time.perf_counter() - start
        per_iteration = _iteration_seconds(buffer.getvalue())
        seconds = float(np.median(per_iteration))
        result.update(
            seconds_per_iteration=seconds,
            rows_per_second=n_rows / seconds,
            lower_bound=float(model.lower_bound_),
            peak_rss_bytes=watch.peak.get("VmHWM", watch.peak["VmRSS"]),
            peak_rss_anon_bytes=watch.peak["RssAnon"],
        )
    except MemoryError as exc:
        result["error"] = f"MemoryError: {exc}"
    except Exception as exc:  # report what happens, whatever it is
        result["error"] = f"{type(exc).__name__}: {exc}"
    finally:
        if client is not None:
            client.close()
            cluster.close()
    print(json.dumps(result), flush=True)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=200_000_000)
    p.add_argument("--path", default="/tmp/fastem_large.npy")
    p.add_argument("--iterations", type=int, default=4)
    p.add_argument("--runs", nargs="+", default=["fastem", "sklearn", "dask"],
                   choices=["fastem", "sklearn", "dask"])
    p.add_argument("--timeout", type=float, default=1800.0,
                   help="seconds each run may take (default 1800)")
    p.add_argument("--child", choices=["fastem", "sklearn", "dask"], help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        child(args.child, args.path, args.iterations)
        return
    if not os.path.exists(args.path) or np.load(args.path, mmap_mode="r").shape[0] != args.rows:
        start = time.perf_counter()
        generate(args.path, args.rows)
        print(f"wrote {args.path}: {args.rows:,} x {N_FEATURES} float32, "
              f"{os.path.getsize(args.path) / 1e9:.1f} GB in {time.perf_counter() - start:.0f} s",
              flush=True)
    results = {}
    for kind in args.runs:
        start = time.perf_counter()
        try:
            out = subprocess.run([sys.executable, __file__, "--child", kind, "--path",
                                  args.path, "--iterations", str(args.iterations)],
                                 capture_output=True, text=True, timeout=args.timeout)
        except subprocess.TimeoutExpired:
            results[kind] = {"kind": kind, "error": f"no result within {args.timeout:.0f} s"}
        else:
            line = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else ""
            try:
                results[kind] = json.loads(line)
            except json.JSONDecodeError:
                results[kind] = {"kind": kind, "error": f"exit {out.returncode}: "
                                 f"{out.stderr.strip().splitlines()[-1:]}"}
        results[kind]["wall_seconds"] = time.perf_counter() - start
        r = results[kind]
        if "error" in r:
            print(f"{kind}: {r['error']} (after {r['wall_seconds']:.0f} s)", flush=True)
        else:
            print(f"{kind}: {r['seconds_per_iteration']:.2f} s per iteration, "
                  f"{r['rows_per_second'] / 1e6:.1f} M rows/s, whole fit {r['fit_seconds']:.1f} s, "
                  f"peak RSS {r['peak_rss_bytes'] / 2**20:.0f} MiB, "
                  f"peak RssAnon {r['peak_rss_anon_bytes'] / 2**20:.0f} MiB "
                  f"({r['rss_anon_before_fit_bytes'] / 2**20:.0f} MiB before the fit), "
                  f"lower bound {r['lower_bound']:.6f}", flush=True)
    if "error" not in results.get("fastem", {"error": 1}) and \
            "error" not in results.get("dask", {"error": 1}):
        ratio = results["dask"]["seconds_per_iteration"] / results["fastem"]["seconds_per_iteration"]
        print(f"dask / in-process seconds per iteration: {ratio:.2f}")


if __name__ == "__main__":
    main()
