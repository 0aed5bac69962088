"""Every specialisation fastem's API calls, and compiling them ahead of time.

``SPECIALISATIONS`` lists, per top-level kernel, the argument types the API
passes it (``fastem`` makes every array C-contiguous, writeable and native;
see ``fastem.data.chunks.kernel_array``), for float32 and float64 data: two
per kernel.  A test checks the list against what the API really compiles.

``main`` compiles them into one folder for one code generator, with its
``target.json``; the wheel build (``setup.py``) runs it in fresh
interpreters: for the build machine's own CPU, and for each portable level
asked for with ``NUMBA_CPU_NAME`` set to the level and ``NUMBA_CPU_FEATURES``
empty (so the code uses only what the level implies).
"""

import json
import os
import time

from numba import types

from . import _cache


def _arr(dtype, ndim):
    return types.Array(dtype, ndim, "C")


def _signatures(f):
    """The argument types of each kernel for data of numba float type ``f``."""
    f8, i8, i4 = types.float64, types.int64, types.int32
    return {
        # X, means, prec_chol, log_norm, resp_in, sample_weight, out_lpn,
        # out_resp, out_label, segment_rows, ll, nk_p, sx_p, sxx_p
        "full_pass": (_arr(f, 2), _arr(f, 2), _arr(f, 3), _arr(f8, 1), _arr(f8, 2), _arr(f, 1),
                      _arr(f, 1), _arr(f, 2), _arr(i8, 1), i8, _arr(f8, 2), _arr(f8, 2),
                      _arr(f8, 3), _arr(f8, 4)),
        # X, center, prec_chol, means_t, log_norm, sample_weight, out_lpn,
        # out_resp, out_label, segment_rows, ll, nk_p, sx_p
        "tied_pass": (_arr(f, 2), _arr(f, 1), _arr(f, 2), _arr(f, 2), _arr(f8, 1), _arr(f, 1),
                      _arr(f, 1), _arr(f, 2), _arr(i8, 1), i8, _arr(f8, 2), _arr(f8, 2),
                      _arr(f8, 3)),
        # X, means, prec_chol, log_norm, resp_in, sample_weight, out_lpn,
        # out_resp, out_label, spherical, segment_rows, ll, nk_p, sx_p, sq_p
        "diag_pass": (_arr(f, 2), _arr(f, 2), _arr(f, 2), _arr(f8, 1), _arr(f8, 2), _arr(f, 1),
                      _arr(f, 1), _arr(f, 2), _arr(i8, 1), types.boolean, i8, _arr(f8, 2),
                      _arr(f8, 2), _arr(f8, 3), _arr(f8, 3)),
        # X, coef, log_norm, log_factorial, resp_in, sample_weight, out_lpn,
        # out_resp, out_label, segment_rows, ll, nk_p, sx_p
        "linear_pass": (_arr(f, 2), _arr(f, 2), _arr(f8, 1), _arr(f8, 1), _arr(f8, 2),
                        _arr(f, 1), _arr(f, 1), _arr(f, 2), _arr(i8, 1), i8, _arr(f8, 2),
                        _arr(f8, 2), _arr(f8, 3)),
        # X, log_table_t, offsets, log_norm, resp_in, sample_weight, out_lpn,
        # out_resp, out_label, segment_rows, ll, nk_p, counts_p
        "categorical_pass": (_arr(f, 2), _arr(f, 2), _arr(i8, 1), _arr(f8, 1), _arr(f8, 2),
                             _arr(f, 1), _arr(f, 1), _arr(f, 2), _arr(i8, 1), i8,
                             _arr(f8, 2), _arr(f8, 2), _arr(f8, 3)),
        # X, means, prec_chol, log_norm, dof, sample_weight, out_lpn, out_resp,
        # out_label, segment_rows, ll, nk_p, slog_p, su_p, sx_p, sxx_p (sq_p)
        "t_full_pass": (_arr(f, 2), _arr(f, 2), _arr(f, 3), _arr(f8, 1), _arr(f8, 1),
                        _arr(f, 1), _arr(f, 1), _arr(f, 2), _arr(i8, 1), i8, _arr(f8, 2),
                        _arr(f8, 2), _arr(f8, 2), _arr(f8, 2), _arr(f8, 3), _arr(f8, 4)),
        "t_diag_pass": (_arr(f, 2), _arr(f, 2), _arr(f, 2), _arr(f8, 1), _arr(f8, 1),
                        _arr(f, 1), _arr(f, 1), _arr(f, 2), _arr(i8, 1), i8, _arr(f8, 2),
                        _arr(f8, 2), _arr(f8, 2), _arr(f8, 2), _arr(f8, 3), _arr(f8, 3)),
        # X, counts
        "nan_counts": (_arr(f, 2), _arr(i8, 1)),
        # X, counts, observed, column_sum
        "nan_summary": (_arr(f, 2), _arr(i8, 1), _arr(f8, 2), _arr(f8, 2)),
        # X, means, prec_chol, log_norm, dof, t_const, sample_weight, out_lpn,
        # out_resp, out_label, out_fill, draw_u, draw_e, draw_g, ll, nk_p,
        # slog_p, su_p, sx_p, sxx_p
        "full_missing_pass": (_arr(f, 2), _arr(f, 2), _arr(f, 3), _arr(f8, 1), _arr(f8, 1),
                              _arr(f8, 3), _arr(f, 1), _arr(f, 1), _arr(f, 2), _arr(i8, 1),
                              _arr(f, 2), _arr(f8, 1), _arr(f8, 2), _arr(f8, 2),
                              _arr(f8, 2), _arr(f8, 2), _arr(f8, 2), _arr(f8, 2),
                              _arr(f8, 3), _arr(f8, 4)),
        # ... the same, with prec_chol (K, d) and sq_p (P, K, d)
        "diag_missing_pass": (_arr(f, 2), _arr(f, 2), _arr(f, 2), _arr(f8, 1), _arr(f8, 1),
                              _arr(f8, 3), _arr(f, 1), _arr(f, 1), _arr(f, 2), _arr(i8, 1),
                              _arr(f, 2), _arr(f8, 1), _arr(f8, 2), _arr(f8, 2),
                              _arr(f8, 2), _arr(f8, 2), _arr(f8, 2), _arr(f8, 2),
                              _arr(f8, 3), _arr(f8, 3)),
        # X, coef, const, values, log_norm, log_factorial, kind, sample_weight,
        # out_lpn, out_resp, out_label, out_fill, draw_u, draw_e, ll, nk_p, sx_p
        "linear_missing_pass": (_arr(f, 2), _arr(f, 2), _arr(f8, 2), _arr(f8, 2), _arr(f8, 1),
                                _arr(f8, 1), i8, _arr(f, 1), _arr(f, 1), _arr(f, 2),
                                _arr(i8, 1), _arr(f, 2), _arr(f8, 1), _arr(f8, 2),
                                _arr(f8, 2), _arr(f8, 2), _arr(f8, 3)),
        # X, log_table_t, table_t, offsets, log_norm, sample_weight, out_lpn,
        # out_resp, out_label, out_fill, draw_u, draw_e, ll, nk_p, counts_p
        "categorical_missing_pass": (_arr(f, 2), _arr(f, 2), _arr(f8, 2), _arr(i8, 1),
                                     _arr(f8, 1), _arr(f, 1), _arr(f, 1), _arr(f, 2),
                                     _arr(i8, 1), _arr(f, 2), _arr(f8, 1), _arr(f8, 2),
                                     _arr(f8, 2), _arr(f8, 2), _arr(f8, 3)),
        # X, means, prec_chol, log_norm, scaled, frames, shift
        "gaussian_full_frames": (_arr(f, 2), _arr(f, 2), _arr(f, 3), _arr(f8, 1), types.boolean,
                                 _arr(f8, 2), _arr(f8, 1)),
        "gaussian_diag_frames": (_arr(f, 2), _arr(f, 2), _arr(f, 2), _arr(f8, 1), types.boolean,
                                 _arr(f8, 2), _arr(f8, 1)),
        # X, log_table_t, offsets, log_norm, scaled, frames, shift
        "categorical_frames": (_arr(f, 2), _arr(f, 2), _arr(i8, 1), _arr(f8, 1), types.boolean,
                               _arr(f8, 2), _arr(f8, 1)),
        # X, coef, log_norm, log_factorial, scaled, frames, shift
        "linear_frames": (_arr(f, 2), _arr(f, 2), _arr(f8, 1), _arr(f8, 1), types.boolean,
                          _arr(f8, 2), _arr(f8, 1)),
        # X, start, mean, candidates, closest, out
        "candidate_sq_distances": (_arr(f, 2), i8, _arr(f, 1), _arr(f, 2), _arr(f, 1),
                                   _arr(f, 2)),
        # X, start, mean, centers, labels, out
        "assigned_sq_distances": (_arr(f, 2), i8, _arr(f, 1), _arr(f, 2), _arr(i4, 1),
                                  _arr(f, 1)),
        # X, start, mean, centers, labels, upper, lower, moved, half_gap, weights
        "lloyd_pass": (_arr(f, 2), i8, _arr(f, 1), _arr(f, 2), _arr(i4, 1), _arr(f8, 1),
                       _arr(f8, 1), _arr(f8, 1), _arr(f8, 1), _arr(f8, 1)),
    }


def _recursions():
    """The hidden Markov models' recursions, which read float64 frames
    whatever the data's dtype: one specialisation each."""
    f8, i8, u1 = types.float64, types.int64, types.uint8
    return {
        # frames, shift, bounds, groups, startprob, transmat, seq_weight, post,
        # seq_ll, failed, start_acc, trans_acc
        "forward_backward": (_arr(f8, 2), _arr(f8, 1), _arr(i8, 1), _arr(i8, 1), _arr(f8, 1),
                             _arr(f8, 2), _arr(f8, 1), _arr(f8, 2), _arr(f8, 1), _arr(u1, 1),
                             _arr(f8, 2), _arr(f8, 3)),
        # logb, bounds, seqs, log_start, log_trans, seq_weight, post, seq_ll,
        # start_acc, trans_acc
        "forward_backward_log": (_arr(f8, 2), _arr(i8, 1), _arr(i8, 1), _arr(f8, 1),
                                 _arr(f8, 2), _arr(f8, 1), _arr(f8, 2), _arr(f8, 1),
                                 _arr(f8, 2), _arr(f8, 3)),
        # logb, frames, shift
        "scale_frames": (_arr(f8, 2), _arr(f8, 2), _arr(f8, 1)),
        # logb, bounds, log_start, log_trans, path, seq_lp
        "viterbi": (_arr(f8, 2), _arr(i8, 1), _arr(f8, 1), _arr(f8, 2), _arr(i8, 1),
                    _arr(f8, 1)),
    }


#: ``{kernel name: (float32 signature, float64 signature)}``, or ``(float64
#: signature,)`` for a kernel that never reads the data (``_recursions``).
SPECIALISATIONS = {
    name: (sig32, _signatures(types.float64)[name])
    for name, sig32 in _signatures(types.float32).items()
}
SPECIALISATIONS.update({name: (sig,) for name, sig in _recursions().items()})


def kernel_dispatchers():
    """``{name: dispatcher}`` of every top-level kernel."""
    from . import discrete, gaussian, hmm, kmeans, missing, student

    modules = (gaussian, kmeans, discrete, student, missing, hmm)
    return {name: next(getattr(m, name) for m in modules if hasattr(m, name))
            for name in SPECIALISATIONS}


def main(folder, kernels=None, verbose=True):
    """Compile ``kernels`` (names; default all) for every listed
    specialisation with this process's code generator (``NUMBA_CPU_NAME``
    and ``NUMBA_CPU_FEATURES`` choose it) and move their cache entries, and
    write the folder's ``target.json``, into ``folder``.  Compile into an
    empty scratch cache (``FASTEM_CACHE_DIR``, set before the import): the
    helpers' own entries stay there, never loaded (a kernel's entry holds
    them).  Several processes may fill one folder with different kernels."""
    import shutil

    from numba.core.registry import cpu_target

    names = list(SPECIALISATIONS) if kernels is None else list(kernels)
    scratch = _cache.cache_dir()
    os.makedirs(folder, exist_ok=True)
    start = time.perf_counter()
    dispatchers = kernel_dispatchers()
    for name in names:
        begin = time.perf_counter()
        for sig in SPECIALISATIONS[name]:
            dispatchers[name].compile(sig)
        if verbose:
            print(f"  {name}: {time.perf_counter() - begin:.1f} s", flush=True)
    for entry in os.listdir(scratch):
        kernel = entry.split(".")[1].split("-")[0] if entry.count(".") >= 2 else ""
        if kernel in names and entry.endswith((".nbi", ".nbc")):
            shutil.copyfile(os.path.join(scratch, entry), os.path.join(folder, entry))
    record = _cache.target_record(cpu_target.target_context.codegen())
    temporary = os.path.join(folder, f"target.json.{os.getpid()}")
    with open(temporary, "w") as f:
        json.dump(record, f, indent=1)
    os.replace(temporary, os.path.join(folder, "target.json"))
    if verbose:
        print(f"fastem kernels {names} for {record['magic'][1]}: "
              f"{time.perf_counter() - start:.1f} s", flush=True)


#: How the wheel build splits the kernels over two processes (about equal
#: compile times each).
SHARDS = (("full_pass", "lloyd_pass", "assigned_sq_distances", "linear_pass", "t_diag_pass",
           "full_missing_pass", "linear_missing_pass", "gaussian_full_frames",
           "forward_backward", "viterbi", "linear_frames"),
          ("diag_pass", "tied_pass", "candidate_sq_distances", "categorical_pass",
           "t_full_pass", "diag_missing_pass", "nan_counts", "nan_summary",
           "categorical_missing_pass", "gaussian_diag_frames", "forward_backward_log",
           "categorical_frames", "scale_frames"))
