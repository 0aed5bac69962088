"""Compile (or load from Numba's cache) every kernel ahead of the first fit."""

import time

import numpy as np

from ..families.gaussian import COVARIANCE_TYPES, GaussianFamily, Params, resp_stats, tied_scatter
from . import kmeans, passes


def warmup(dtypes=("float64", "float32"), covariance_types=COVARIANCE_TYPES):
    """Compile or load every kernel for the given dtypes and covariance types.

    The first call in a process costs a few seconds per kernel when Numba's
    on-disk cache is cold and well under a second when it is warm; later
    calls cost nothing.  Returns the seconds spent per ``(covariance_type,
    dtype)``.
    """
    from .. import kernels

    timings = {}
    X64 = np.random.default_rng(0).standard_normal((8, 2))
    for dtype in dtypes:
        X = X64.astype(dtype)
        start = time.perf_counter()
        labels = kmeans.kmeans_labels(X, 2, np.random.RandomState(0))
        kernels.assigned_sq_distances(X, 0, X[0].copy(), X[:2].copy(), labels, np.empty(8, dtype))
        timings[("kmeans", np.dtype(dtype).name)] = time.perf_counter() - start
        for cov in covariance_types:
            start = time.perf_counter()
            family = GaussianFamily(2, cov, 1e-6)
            passes.run_pass(X, family, _toy_params(cov, dtype), want_stats=True,
                            out_lpn=np.empty(8, dtype), out_resp=np.empty((8, 2), dtype),
                            out_label=np.empty(8, np.intp))
            if cov != "tied":
                second = "full" if cov == "full" else "diag"
                resp_stats(X, lambda a, b: np.full((b - a, 2), 0.5), np.zeros((2, 2)), second)
            else:
                tied_scatter(X)
            timings[(cov, np.dtype(dtype).name)] = time.perf_counter() - start
    return timings


def _toy_params(covariance_type, dtype):
    weights = np.array([0.5, 0.5])
    means = np.array([[-1.0, 0.0], [1.0, 0.0]])
    chol = {
        "full": np.stack([np.eye(2)] * 2),
        "tied": np.eye(2),
        "diag": np.ones((2, 2)),
        "spherical": np.ones(2),
    }[covariance_type]
    return Params(*(np.asarray(a, dtype=dtype) for a in (weights, means, chol, chol)))
