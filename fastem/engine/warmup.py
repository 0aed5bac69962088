"""Compile (or load) the kernels ahead of the first fit.

Loading kernels shipped compiled in the wheel (see ``fastem.kernels._cache``)
or found in the user's cache costs a fraction of a second; compiling them
costs tens of seconds, once per machine (the user's cache is shared by every
environment with the same kernels and Numba).
"""

import time

import numpy as np

from ..families.gaussian import COVARIANCE_TYPES

#: The kernels a fit of each covariance type runs (besides k-means'): a tied
#: fit takes its first moments through the diagonal kernel and the data's
#: scatter through the full one.
KERNELS_FOR = {
    "full": ("full_pass",),
    "tied": ("diag_pass", "full_pass", "tied_pass"),
    "diag": ("diag_pass",),
    "spherical": ("diag_pass",),
}

KMEANS_KERNELS = ("candidate_sq_distances", "assigned_sq_distances", "lloyd_pass")

#: The kernels of the other families (a Student-t fit also runs the Gaussian
#: kernel of its covariance type, for its start).
FAMILY_KERNELS = {
    "bernoulli": ("linear_pass",),
    "poisson": ("linear_pass",),
    "categorical": ("categorical_pass",),
    "student-t": ("t_full_pass", "t_diag_pass"),
    # hidden Markov models: every emission's frames, the recursions (one
    # float64 specialisation whatever the data), and the statistics through
    # the emission family's kernels (listed above)
    "hmm": ("gaussian_full_frames", "gaussian_diag_frames", "categorical_frames",
            "linear_frames", "scale_frames", "forward_backward", "forward_backward_log",
            "viterbi"),
}


#: The kernels of rows with missing values (``missing="marginalize"``).
MISSING_KERNELS = ("nan_counts", "nan_summary", "full_missing_pass", "diag_missing_pass",
                   "linear_missing_pass", "categorical_missing_pass")


def warmup(dtypes=("float64", "float32"), covariance_types=COVARIANCE_TYPES,
           families=tuple(FAMILY_KERNELS), missing=True):
    """Compile or load every kernel for the given dtypes, Gaussian covariance
    types and other ``families`` (names of ``FAMILY_KERNELS``), and with
    ``missing`` those of rows with missing values.

    Returns the seconds spent per ``(covariance_type, dtype)``, per
    ``(family, dtype)``, per ``("kmeans", dtype)`` for the k-means kernels
    and ``("missing", dtype)``; a kernel already compiled or loaded in this process costs
    nothing.  With ``NUMBA_DISABLE_JIT=1`` there is nothing to compile
    (every entry is 0).
    """
    from ..kernels._precompile import SPECIALISATIONS, kernel_dispatchers

    dispatchers = kernel_dispatchers()
    timings = {}
    for dtype in dtypes:
        which = 0 if np.dtype(dtype) == np.float32 else 1
        groups = [("kmeans", KMEANS_KERNELS)]
        groups += [(cov, KERNELS_FOR[cov]) for cov in covariance_types]
        groups += [(family, FAMILY_KERNELS[family]) for family in families]
        if missing:
            groups.append(("missing", MISSING_KERNELS))
        for label, names in groups:
            start = time.perf_counter()
            for name in names:
                compile_ = getattr(dispatchers[name], "compile", None)  # None without the JIT
                if compile_ is not None:
                    sigs = SPECIALISATIONS[name]
                    compile_(sigs[min(which, len(sigs) - 1)])
            timings[(label, np.dtype(dtype).name)] = time.perf_counter() - start
    return timings


def kernel_sources():
    """Where this process's kernels come from: ``{"precompiled": [folders
    loadable here, best first], "cache": the user's cache folder}``."""
    from numba.core.registry import cpu_target

    from ..kernels import _cache

    magic = cpu_target.target_context.codegen().magic_tuple()
    return {"precompiled": [folder for folder, _ in _cache.precompiled_targets(magic)],
            "cache": _cache.cache_dir()}
