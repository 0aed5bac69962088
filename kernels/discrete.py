"""Fused E-step and statistics kernels for mixtures of discrete data.

Bernoulli and Poisson components share one kernel, ``linear_pass``: their
weighted log-densities are linear in the row,

    log weight_k + log p(x | component k) = log_norm[k] + sum_j coef[k, j] x_j
                                             + row_term(x),

(Bernoulli: ``coef = logit theta``, ``log_norm = log weight + sum_j log(1 -
theta_j)``, no row term; Poisson: ``coef = log rate``, ``log_norm = log
weight - sum_j rate_j``, ``row_term = -sum_j log x_j!``), and both need
only ``nk`` and ``sum_i r_ik x_i`` from a pass.  A block's log-densities
are one small matrix product (by the BLAS from ``GEMM_MIN_FEATURES``
features on), and so are its statistics.  The row term does not depend on
the component: it is computed once per row and added to the row's
log-likelihood after the posterior, which it does not change.

``categorical_pass`` takes integer category codes (stored as floats): each
feature's code picks one row of a ``(categories, K)`` log-probability table
-- the K components' values side by side, added to the row's K
accumulators as one vector -- and the statistics are the
responsibility-weighted counts of every (feature, category) pair, added the
same way (a scatter over categories of contiguous K-vectors, never a chain
of dependent single adds).

Layout, precision, ``resp_in``, ``sample_weight``, the per-row outputs and
the accumulators are as in ``gaussian.py``: blocks of ``BLOCK`` rows,
partitions in a fixed order, block sums in the data's dtype added into
float64 accumulators.  Nothing here checks the codes or counts: the caller
guarantees non-negative integers (and, for categories, codes below each
feature's number of categories).
"""

import math

import numpy as np
from numba import prange

from ._blocks import add_weight, block_starts, load_block, typed_zero
from ._config import BLOCK, XT_PAD, helper, kernel
from ._posterior import posterior_block, posterior_buffers, start_block, weigh_block

#: From this many features on, a block's log-densities and statistics are
#: BLAS products.
GEMM_MIN_FEATURES = 16


@helper
def _linear_logprob_loops(XT, nb, coef, log_norm, logp):
    """logp[k] = log_norm[k] + sum_j coef[k, j] XT[j], four features per
    sweep over the rows."""
    n_comp, d = coef.shape
    d4 = d - d % 4
    for k in range(n_comp):
        acc = logp[k]
        for b in range(nb):
            acc[b] = 0.0
        for j in range(0, d4, 4):
            c0, c1, c2, c3 = coef[k, j], coef[k, j + 1], coef[k, j + 2], coef[k, j + 3]
            for b in range(nb):
                acc[b] += (XT[j, b] * c0 + XT[j + 1, b] * c1) + (XT[j + 2, b] * c2
                                                                 + XT[j + 3, b] * c3)
        for j in range(d4, d):
            c = coef[k, j]
            for b in range(nb):
                acc[b] += XT[j, b] * c
        for b in range(nb):
            acc[b] = log_norm[k] + acc[b]


@helper
def _load_rows(X, start, nb, rows):
    """rows[:nb] = X[start:start + nb] (row order: a straight copy), zero
    rows after: a contiguous block for the BLAS."""
    d = X.shape[1]
    for b in range(nb):
        for j in range(d):
            rows[b, j] = X[start + b, j]
    for b in range(nb, rows.shape[0]):
        for j in range(d):
            rows[b, j] = 0.0


@helper
def _linear_logprob_gemm(rows, nb, coef, log_norm, logp):
    """As ``_linear_logprob_loops``, the product ``coef @ rows.T`` by the BLAS
    over the whole block (its rows past ``nb`` are zeros)."""
    np.dot(coef, rows.T, logp)
    for k in range(coef.shape[0]):
        acc = logp[k]
        for b in range(nb):
            acc[b] = log_norm[k] + acc[b]


@helper
def _zero_columns(A, nb):
    for i in range(A.shape[0]):
        for b in range(nb, A.shape[1]):
            A[i, b] = 0.0


@helper
def _row_log_factorials(X, start, nb, table, out):
    """out[b] = -sum_j log(x_bj!) for rows start:start + nb of X: from
    ``table`` (log k! for k below its length) by a gather over clamped
    indices, which vectorises; counts beyond the table (rare) are then
    corrected by lgamma."""
    d = X.shape[1]
    last = table.shape[0] - 1
    beyond = False
    for b in range(nb):
        s = 0.0
        for j in range(d):
            i = min(np.int64(X[start + b, j]), last)
            beyond |= i == last
            s += table[i]
        out[b] = -s
    if beyond:
        for b in range(nb):
            for j in range(d):
                x = np.float64(X[start + b, j])
                if x >= last:
                    out[b] += table[last] - math.lgamma(x + 1.0)


@helper
def _linear_stats_loops(XT, nb, resp, nk, sum_x):
    """nk += sum_b r[k, b]; sum_x[k, j] += sum_b r[k, b] XT[j, b]: the block's
    sums in the data's precision, added to float64 accumulators."""
    n_comp = resp.shape[0]
    d = XT.shape[0]
    zero = typed_zero(XT[0, 0])
    for k in range(n_comp):
        if not add_weight(resp, k, nb, nk):
            continue
        r = resp[k]
        for j in range(d):
            s = zero
            for b in range(nb):
                s += r[b] * XT[j, b]
            sum_x[k, j] += s


@helper
def _linear_stats_gemm(rows, nb, resp, prod, nk, sum_x):
    """As ``_linear_stats_loops``, the product ``resp @ rows`` by the BLAS."""
    n_comp = resp.shape[0]
    _zero_columns(resp, nb)
    for k in range(n_comp):
        add_weight(resp, k, nb, nk)
    np.dot(resp, rows, prod)
    for k in range(n_comp):
        for j in range(rows.shape[1]):
            sum_x[k, j] += prod[k, j]


@kernel
def linear_pass(X, coef, log_norm, log_factorial, resp_in, sample_weight, out_lpn, out_resp,
                out_label, segment_rows, ll, nk_p, sx_p):
    """One pass of a model whose log-densities are linear in the row.

    X (n, d) and coef (K, d) of one float dtype, log_norm (K,) float64;
    ``log_factorial`` (float64) log k! for k below its length -- empty for
    no row term, else the row term is -sum_j log x_j!.  With ``resp_in``
    given, only the statistics under it.  Adds into ``ll (P, 2)`` and,
    unless they have no rows, ``nk_p (P, K)`` and ``sx_p (P, K, d)`` with
    ``sum_x[k] = sum_i r_ik x_i``.  From ``GEMM_MIN_FEATURES`` features on,
    a block is copied in row order and both products go to the BLAS; below,
    it is transposed and the loops run over rows.
    """
    n, d = X.shape
    n_comp = coef.shape[0]
    P = ll.shape[0]
    given = resp_in.shape[0] > 0
    want_stats = nk_p.shape[0] > 0
    use_gemm = d >= GEMM_MIN_FEATURES
    counts = log_factorial.shape[0] > 0
    for p in prange(P):
        rows = np.empty((BLOCK if use_gemm else 0, d), X.dtype)
        XT = np.empty((0 if use_gemm else d, BLOCK + XT_PAD), X.dtype)
        prod = np.empty((n_comp, d), X.dtype)
        term = np.empty(BLOCK if counts else 0)
        logp, lpn, scratch = posterior_buffers(n_comp, X)
        for start in block_starts(p, P, n, segment_rows):
            nb = min(BLOCK, n - start)
            if use_gemm:
                _load_rows(X, start, nb, rows)
                compute = not given
                if given:
                    load_block(resp_in, start, nb, logp)
                    weigh_block(logp, nb, sample_weight, start)
                else:
                    _linear_logprob_gemm(rows, nb, coef, log_norm, logp)
            else:
                compute = start_block(X, resp_in, sample_weight, start, nb, XT, logp)
                if compute:
                    _linear_logprob_loops(XT, nb, coef, log_norm, logp)
            if compute:
                if counts:
                    _row_log_factorials(X, start, nb, log_factorial, term)
                posterior_block(logp, nb, start, lpn, scratch, out_lpn, out_resp,
                                out_label, ll[p], sample_weight, term)
            if want_stats:
                if use_gemm:
                    _linear_stats_gemm(rows, nb, logp, prod, nk_p[p], sx_p[p])
                else:
                    _linear_stats_loops(XT, nb, logp, nk_p[p], sx_p[p])


# --------------------------------------------------------------------------
# Categorical features: integer codes.


@helper
def _codes_block(X, start, nb, offsets, codes):
    """codes[b, j] = offsets[j] + x_bj: the row of the feature's category in
    the flat table of all features' categories (read from X in row order)."""
    for b in range(nb):
        for j in range(X.shape[1]):
            codes[b, j] = offsets[j] + np.int64(X[start + b, j])


@helper
def _categorical_logprob(codes, nb, log_table_t, log_norm, acc, logp):
    """logp[k, b] = log_norm[k] + sum_j log_table_t[codes[b, j], k]: per row,
    one contiguous vector of K log probabilities added per feature."""
    n_comp = log_table_t.shape[1]
    d = codes.shape[1]
    for b in range(nb):
        for k in range(n_comp):
            acc[k] = 0.0
        for j in range(d):
            row = log_table_t[codes[b, j]]
            for k in range(n_comp):
                acc[k] += row[k]
        for k in range(n_comp):
            logp[k, b] = log_norm[k] + acc[k]


@helper
def _categorical_stats(codes, nb, resp, rT, nk, counts_t):
    """nk[k] += sum_b r[k, b]; counts_t[codes[b, j], k] += r[k, b]: per row
    and feature, the row's K responsibilities added to one contiguous row
    of the float64 counts, in the block's order."""
    n_comp = resp.shape[0]
    d = codes.shape[1]
    for k in range(n_comp):
        add_weight(resp, k, nb, nk)
    for k in range(n_comp):
        for b in range(nb):
            rT[b, k] = resp[k, b]
    for b in range(nb):
        r = rT[b]
        for j in range(d):
            row = counts_t[codes[b, j]]
            for k in range(n_comp):
                row[k] += r[k]


@kernel
def categorical_pass(X, log_table_t, offsets, log_norm, resp_in, sample_weight, out_lpn,
                     out_resp, out_label, segment_rows, ll, nk_p, counts_p):
    """One pass of a mixture of independent categorical features.

    X (n, d) holds category codes (non-negative integers, as floats), and
    feature j's code c is row ``offsets[j] + c`` of ``log_table_t (C, K)``
    (the data's dtype: log probabilities, a row per category); log_norm
    (K,) float64 are the log weights.  Adds into ``ll (P, 2)`` and, unless
    they have no rows, ``nk_p (P, K)`` and ``counts_p (P, C, K)``: the
    responsibility-weighted count of each (feature, category) row.
    """
    n, d = X.shape
    n_comp = log_table_t.shape[1]
    P = ll.shape[0]
    given = resp_in.shape[0] > 0
    want_stats = nk_p.shape[0] > 0
    for p in prange(P):
        codes = np.empty((BLOCK, d), np.int64)
        acc = np.empty(n_comp, X.dtype)
        rT = np.empty((BLOCK, n_comp))
        no_term = np.empty(0)
        logp, lpn, scratch = posterior_buffers(n_comp, X)
        for start in block_starts(p, P, n, segment_rows):
            nb = min(BLOCK, n - start)
            _codes_block(X, start, nb, offsets, codes)
            if given:
                load_block(resp_in, start, nb, logp)
                weigh_block(logp, nb, sample_weight, start)
            else:
                _categorical_logprob(codes, nb, log_table_t, log_norm, acc, logp)
                posterior_block(logp, nb, start, lpn, scratch, out_lpn, out_resp,
                                out_label, ll[p], sample_weight, no_term)
            if want_stats:
                _categorical_stats(codes, nb, logp, rT, nk_p[p], counts_p[p])
