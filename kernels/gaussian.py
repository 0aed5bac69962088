"""Fused E-step, sufficient-statistics and scoring kernels for Gaussian mixtures.

One call makes one pass over the rows of ``X``.  For every row it computes
each component's weighted log-density, the log-sum-exp over components (the
row's log-likelihood), and, as asked, the responsibilities, the most likely
component and the M-step sufficient statistics -- without ever holding an
``n_samples x n_components`` temporary.

Layout.  Rows are cut into blocks of ``BLOCK`` rows and partitions of blocks
as ``_blocks.py`` describes.  A block is first copied transposed
(``XT[feature, row]``) so that every inner loop runs over rows,
contiguously, and vectorises; ``_posterior.py`` turns its log-densities
into responsibilities and the row's log-likelihood.

Precision.  Everything inside a block -- log-densities, the exp of the
log-sum-exp, responsibilities, differences, products and the block's partial
sums -- is in the data's dtype, so float32 data get twice the SIMD lanes of
float64; each block's sums are then added to float64 accumulators, so the
error of a statistic does not grow with the number of rows (about 1e-6
relative for float32 data, rounding level for float64).  Per-row
log-likelihoods and their sum are float64.

Conventions shared by the three kernels (full, tied, diag; spherical is diag
with one precision repeated over features):

``log_norm[k]``
    ``log(weight_k) + log|det U_k| - n_features/2 * log(2 pi)``, float64, so
    that ``log N(x | mu_k, Sigma_k) + log weight_k = log_norm[k] - |y|^2 / 2``
    with ``y = (x - mu_k) @ U_k``.  (A variational model's expected
    log-density has the same form with other per-component constants.)
``resp_in``
    ``(0, K)`` to compute responsibilities from the parameters (the E-step),
    or ``(n_samples, K)`` float64 responsibilities to accumulate statistics
    for (the initialisation).
``sample_weight``, ``out_lpn, out_resp, out_label``
    As ``_posterior.py`` describes.
``segment_rows, ll, nk_p, ...``
    The segment length and the per-partition accumulators (see Layout):
    ``ll[p]`` receives ``sum_i lpn_i`` and ``sum_i |lpn_i|``; statistic
    accumulators with no rows mean "no statistics".  Statistics are float64:
    ``nk[k] = sum_i r_ik``, ``sum_x[k] = sum_i r_ik (x_i - shift_k)`` and the
    covariance type's second moment around the same shift.
"""

import numpy as np
from numba import prange

from ._blocks import add_weight, block_starts, load_block, sq_dist_block, typed_zero
from ._config import BLOCK, XT_PAD, helper, kernel
from ._posterior import posterior_block, posterior_buffers, start_block

#: From this many features on, the full-covariance transform is a BLAS product.
GEMM_MIN_FEATURES = 8

#: From this many features on, the full-covariance scatter is a BLAS product
#: per band of rows (measured: 6-7% faster at 32 and 64 features, even at 16,
#: slower below).
GEMM_SCATTER_MIN_FEATURES = 32

#: Height of the bands the triangular transform and the scatter are cut
#: into.  Thin bands skip more of the zero triangle; the extra BLAS calls cost
#: less than that saves (4 rather than 8: 2-5% faster at 32 and 64 features).
GEMM_BAND = 4

# --------------------------------------------------------------------------
# Full covariance: one upper-triangular U_k per component.


@helper
def _logprob_block_full(XT, nb, means, prec_chol, log_norm, diffT, y4, logp):
    """logp[k] = log_norm[k] - |(x - mu_k) U_k|^2 / 2 for one block.

    The triangular transform produces four output columns per sweep over
    the rows: each difference loaded from L1 feeds four multiply-adds."""
    n_comp, d = means.shape
    d4 = d - d % 4
    y0, y1, y2, y3 = y4[0], y4[1], y4[2], y4[3]
    for k in range(n_comp):
        for i in range(d):
            mu = means[k, i]
            for b in range(nb):
                diffT[i, b] = XT[i, b] - mu
        acc = logp[k]
        for b in range(nb):
            acc[b] = 0.0
        for j in range(0, d4, 4):
            for b in range(nb):
                y0[b] = 0.0
                y1[b] = 0.0
                y2[b] = 0.0
                y3[b] = 0.0
            # U is upper-triangular with stored zeros: rows past j only add 0.
            for i in range(j + 4):
                u0 = prec_chol[k, i, j]
                u1 = prec_chol[k, i, j + 1]
                u2 = prec_chol[k, i, j + 2]
                u3 = prec_chol[k, i, j + 3]
                for b in range(nb):
                    x = diffT[i, b]
                    y0[b] += x * u0
                    y1[b] += x * u1
                    y2[b] += x * u2
                    y3[b] += x * u3
            for b in range(nb):
                acc[b] += (y0[b] * y0[b] + y1[b] * y1[b]) + (y2[b] * y2[b] + y3[b] * y3[b])
        for j in range(d4, d):
            for b in range(nb):
                y0[b] = 0.0
            for i in range(j + 1):
                u = prec_chol[k, i, j]
                for b in range(nb):
                    y0[b] += diffT[i, b] * u
            for b in range(nb):
                acc[b] += y0[b] * y0[b]
        for b in range(nb):
            acc[b] = log_norm[k] - 0.5 * acc[b]


@helper
def _gemm_splits(d):
    """Row bands of U^T for the blocked triangular transform: ``n_split``
    bands of about equal height."""
    n_split = max(1, d // GEMM_BAND)
    edges = np.empty(n_split + 1, np.int64)
    for r in range(n_split + 1):
        edges[r] = r * d // n_split
    return edges


@helper
def _pack_bands(prec_chol, edges):
    """For each component, band r of U^T -- rows edges[r]:edges[r+1], columns
    0:edges[r+1] (the rest of the band is zero) -- as one contiguous matrix,
    all bands one after another."""
    n_comp, d, _ = prec_chol.shape
    n_split = edges.shape[0] - 1
    size = 0
    for r in range(n_split):
        size += (edges[r + 1] - edges[r]) * edges[r + 1]
    packed = np.empty((n_comp, size), prec_chol.dtype)
    for k in range(n_comp):
        off = 0
        for r in range(n_split):
            for i in range(edges[r], edges[r + 1]):
                for j in range(edges[r + 1]):
                    packed[k, off] = prec_chol[k, j, i]
                    off += 1
    return packed


@helper
def _zero_tail(ZT, nb):
    """Zero the columns of a (d, BLOCK) buffer past nb, so that a BLAS product
    over the whole buffer reads no garbage."""
    for i in range(ZT.shape[0]):
        for b in range(nb, ZT.shape[1]):
            ZT[i, b] = 0.0


@helper
def _banded_product(packed, edges, ZT, YT):
    """YT = U^T ZT for an upper-triangular U given as the bands of U^T
    packed by ``_pack_bands`` (one matrix product per band)."""
    off = 0
    for r in range(edges.shape[0] - 1):
        lo = edges[r]
        hi = edges[r + 1]
        size = (hi - lo) * hi
        band = packed[off:off + size].reshape((hi - lo, hi))
        np.dot(band, ZT[:hi], YT[lo:hi])
        off += size


@helper
def _logprob_block_full_gemm(XT, nb, means, packed, edges, log_norm, diffT, YT, logp):
    """As ``_logprob_block_full``, with the transform ``YT = U_k^T (XT - mu_k)``
    done by the BLAS (single-threaded during a fit) as one matrix product
    per band of rows of the lower-triangular U_k^T, each band skipping the
    zero columns to its right.  At the BLAS's rate this beats the
    hand-tiled loop from ``GEMM_MIN_FEATURES`` features on.

    ``diffT`` and ``YT`` are full ``(d, BLOCK)`` buffers; columns past ``nb``
    hold zeros (set here for a short block) and are not read back.
    """
    n_comp, d = means.shape
    _zero_tail(diffT, nb)
    for k in range(n_comp):
        for i in range(d):
            mu = means[k, i]
            for b in range(nb):
                diffT[i, b] = XT[i, b] - mu
        _banded_product(packed[k], edges, diffT, YT)
        acc = logp[k]
        for b in range(nb):
            acc[b] = 0.0
        for j in range(d):
            for b in range(nb):
                acc[b] += YT[j, b] * YT[j, b]
        for b in range(nb):
            acc[b] = log_norm[k] - 0.5 * acc[b]


@helper
def _scatter_bands_gemm(wd, diffT, edges, band_out, sum_xxT):
    """sum_xxT[lo:hi, lo:] += wd[lo:hi] @ diffT[lo:]^T for each band of rows
    (``edges``): the upper triangle of the block's scatter, plus the lower
    halves of the diagonal tiles (scratch), as BLAS products over the whole
    ``(d, BLOCK)`` buffers (columns past the block's rows hold zeros)."""
    d = wd.shape[0]
    for r in range(edges.shape[0] - 1):
        lo = edges[r]
        hi = edges[r + 1]
        width = d - lo
        out = band_out[:(hi - lo) * width].reshape((hi - lo, width))
        np.dot(wd[lo:hi], diffT[lo:].T, out)
        for i in range(hi - lo):
            for j in range(width):
                sum_xxT[lo + i, lo + j] += out[i, j]


@helper
def _scatter_tiles(wd, diffT, nb, sum_xxT):
    """The upper triangle of sum_b wd[:, b] diffT[:, b]^T by loops: rows of
    the scatter four at a time, so each difference loaded feeds four
    multiply-adds; those four rows also fill a few entries below the
    diagonal, which are scratch."""
    d = wd.shape[0]
    d4 = d - d % 4
    zero = typed_zero(wd[0, 0])
    for i in range(0, d4, 4):
        for j in range(i, d):
            s0 = zero
            s1 = zero
            s2 = zero
            s3 = zero
            for b in range(nb):
                v = diffT[j, b]
                s0 += wd[i, b] * v
                s1 += wd[i + 1, b] * v
                s2 += wd[i + 2, b] * v
                s3 += wd[i + 3, b] * v
            sum_xxT[i, j] += s0
            sum_xxT[i + 1, j] += s1
            sum_xxT[i + 2, j] += s2
            sum_xxT[i + 3, j] += s3
    for i in range(d4, d):
        for j in range(i, d):
            s = zero
            for b in range(nb):
                s += wd[i, b] * diffT[j, b]
            sum_xxT[i, j] += s


@helper
def _scatter_block_full(XT, nb, shift, resp, diffT, wd, edges, band_out, nk, sum_x, sum_xxT):
    """Accumulate sum r, sum r (x - shift_k) and the upper triangle of
    sum r (x - shift_k)(x - shift_k)^T for one block (not the last when
    ``sum_xxT`` has no components: first moments only).

    Within the block, differences, products and the 256-row partial sums are
    in the data's precision (float32 data: twice the SIMD lanes); each
    block's sums are then added to float64 accumulators, so the error does
    not grow with the number of rows.  The scatter is a BLAS product per
    band of rows when ``band_out`` is given (from
    ``GEMM_SCATTER_MIN_FEATURES`` features on), else hand-tiled loops."""
    n_comp, d = shift.shape
    zero = typed_zero(XT[0, 0])
    blas = band_out.shape[0] > 0
    if blas:
        _zero_tail(diffT, nb)
        _zero_tail(wd, nb)
    for k in range(n_comp):
        if not add_weight(resp, k, nb, nk):
            continue
        for i in range(d):
            mu = shift[k, i]
            s = zero
            for b in range(nb):
                t = XT[i, b] - mu
                diffT[i, b] = t
                w = resp[k, b] * t
                wd[i, b] = w
                s += w
            sum_x[k, i] += s
        if sum_xxT.shape[0] == 0:
            continue
        if blas:
            _scatter_bands_gemm(wd, diffT, edges, band_out, sum_xxT[k])
        else:
            _scatter_tiles(wd, diffT, nb, sum_xxT[k])


@kernel
def full_pass(X, means, prec_chol, log_norm, resp_in, sample_weight, out_lpn, out_resp, out_label,
              segment_rows, ll, nk_p, sx_p, sxx_p):
    """One pass for full covariances.

    X (n, d), means (K, d), prec_chol (K, d, d) upper-triangular: all of one
    float dtype.  With ``resp_in`` given, ``means`` is only the shift around
    which statistics are taken and ``prec_chol``/``log_norm`` are not read.
    Adds into the per-partition accumulators (see ``_blocks.py``):
    ``ll (P, 2)``, and unless they have no rows, ``nk_p (P, K)``,
    ``sx_p (P, K, d)``, ``sxx_p (P, K, d, d)`` (upper triangles; with no
    components, ``(P, 0, d, d)``, first moments only).
    """
    n, d = X.shape
    n_comp = means.shape[0]
    P = ll.shape[0]
    given = resp_in.shape[0] > 0
    want_stats = nk_p.shape[0] > 0
    use_gemm = d >= GEMM_MIN_FEATURES and not given
    gemm_scatter = d >= GEMM_SCATTER_MIN_FEATURES and want_stats and sxx_p.shape[1] > 0
    edges = _gemm_splits(d)
    packed = _pack_bands(prec_chol[:n_comp if use_gemm else 0], edges)
    for p in prange(P):
        XT = np.empty((d, BLOCK + XT_PAD), X.dtype)
        diffT = np.empty((d, BLOCK), X.dtype)
        wd = np.empty((d, BLOCK), X.dtype)
        band_out = np.empty(d * d if gemm_scatter else 0, X.dtype)
        y4 = np.empty((4, BLOCK), X.dtype)
        YT = np.empty((d if use_gemm else 0, BLOCK), X.dtype)
        logp, lpn, scratch = posterior_buffers(n_comp, X)
        no_term = np.empty(0)
        for start in block_starts(p, P, n, segment_rows):
            nb = min(BLOCK, n - start)
            if start_block(X, resp_in, sample_weight, start, nb, XT, logp):
                if use_gemm:
                    _logprob_block_full_gemm(XT, nb, means, packed, edges, log_norm, diffT,
                                             YT, logp)
                else:
                    _logprob_block_full(XT, nb, means, prec_chol, log_norm, diffT, y4, logp)
                posterior_block(logp, nb, start, lpn, scratch, out_lpn, out_resp,
                                out_label, ll[p], sample_weight, no_term)
            if want_stats:
                _scatter_block_full(XT, nb, means, logp, diffT, wd, edges, band_out,
                                    nk_p[p], sx_p[p], sxx_p[p])


# --------------------------------------------------------------------------
# Tied covariance: one U shared by all components, applied once per row.


@helper
def _logprob_block_tied(XT, nb, center, prec_chol, packed, edges, means_t, log_norm, ZT, YT,
                        logp):
    """ZT = XT - center; YT = U^T ZT, once per row for all components (by
    the BLAS over bands of U^T when ``packed`` holds them, else by loops);
    then logp[k] = log_norm[k] - |YT - means_t[k]|^2 / 2."""
    n_comp, d = means_t.shape
    for i in range(d):
        c = center[i]
        for b in range(nb):
            ZT[i, b] = XT[i, b] - c
    if packed.shape[0] > 0:
        _zero_tail(ZT, nb)
        _banded_product(packed[0], edges, ZT, YT)
    else:
        for j in range(d):
            u = prec_chol[0, j]
            for b in range(nb):
                YT[j, b] = ZT[0, b] * u
            for i in range(1, j + 1):
                u = prec_chol[i, j]
                for b in range(nb):
                    YT[j, b] += ZT[i, b] * u
    for k in range(n_comp):
        acc = logp[k]
        for b in range(nb):
            acc[b] = 0.0
        for j in range(d):
            mt = means_t[k, j]
            for b in range(nb):
                t = YT[j, b] - mt
                acc[b] += t * t
        for b in range(nb):
            acc[b] = log_norm[k] - 0.5 * acc[b]


@helper
def _first_moment_block(ZT, nb, resp, nk, sum_x):
    """nk += sum r, sum_x += sum r (x - center): products and the block's
    partial sums in the data's precision, totals in float64."""
    n_comp = resp.shape[0]
    d = ZT.shape[0]
    zero = typed_zero(ZT[0, 0])
    for k in range(n_comp):
        if not add_weight(resp, k, nb, nk):
            continue
        for i in range(d):
            s = zero
            for b in range(nb):
                s += resp[k, b] * ZT[i, b]
            sum_x[k, i] += s


@kernel
def tied_pass(X, center, prec_chol, means_t, log_norm, sample_weight, out_lpn, out_resp,
              out_label, segment_rows, ll, nk_p, sx_p):
    """One pass for a tied covariance.

    X (n, d), center (d,), prec_chol (d, d) upper-triangular,
    means_t = (means - center) @ prec_chol (K, d): all of one float dtype.
    Adds into ``ll (P, 2)`` and, unless they have no rows, ``nk_p (P, K)``
    and ``sx_p (P, K, d)`` with ``sum_x[k] = sum_i r_ik (x_i - center)``.
    The tied M-step needs no per-iteration second moment: the total scatter
    of X is computed once.
    """
    n, d = X.shape
    n_comp = means_t.shape[0]
    P = ll.shape[0]
    want_stats = nk_p.shape[0] > 0
    edges = _gemm_splits(d)
    packed = _pack_bands(prec_chol.reshape((1, d, d))[: 1 if d >= GEMM_MIN_FEATURES else 0],
                         edges)
    for p in prange(P):
        XT = np.empty((d, BLOCK + XT_PAD), X.dtype)
        ZT = np.empty((d, BLOCK), X.dtype)
        YT = np.empty((d, BLOCK), X.dtype)
        logp, lpn, scratch = posterior_buffers(n_comp, X)
        no_term = np.empty(0)
        for start in block_starts(p, P, n, segment_rows):
            nb = min(BLOCK, n - start)
            load_block(X, start, nb, XT)
            _logprob_block_tied(XT, nb, center, prec_chol, packed, edges, means_t, log_norm,
                                ZT, YT, logp)
            posterior_block(logp, nb, start, lpn, scratch, out_lpn, out_resp, out_label,
                            ll[p], sample_weight, no_term)
            if want_stats:
                _first_moment_block(ZT, nb, logp, nk_p[p], sx_p[p])


# --------------------------------------------------------------------------
# Diagonal covariance (and spherical, with precisions repeated over features).


@helper
def _logprob_block_diag(XT, nb, means, prec_chol, log_norm, logp):
    """logp[k] = log_norm[k] - sum_j ((x_j - mu_kj) u_kj)^2 / 2, four features
    per sweep over the rows (one accumulator load and store per four)."""
    n_comp, d = means.shape
    d4 = d - d % 4
    for k in range(n_comp):
        acc = logp[k]
        for b in range(nb):
            acc[b] = 0.0
        for j in range(0, d4, 4):
            mu0, mu1, mu2, mu3 = means[k, j], means[k, j + 1], means[k, j + 2], means[k, j + 3]
            u0, u1 = prec_chol[k, j], prec_chol[k, j + 1]
            u2, u3 = prec_chol[k, j + 2], prec_chol[k, j + 3]
            for b in range(nb):
                t0 = (XT[j, b] - mu0) * u0
                t1 = (XT[j + 1, b] - mu1) * u1
                t2 = (XT[j + 2, b] - mu2) * u2
                t3 = (XT[j + 3, b] - mu3) * u3
                acc[b] += (t0 * t0 + t1 * t1) + (t2 * t2 + t3 * t3)
        for j in range(d4, d):
            mu = means[k, j]
            u = prec_chol[k, j]
            for b in range(nb):
                t = (XT[j, b] - mu) * u
                acc[b] += t * t
        for b in range(nb):
            acc[b] = log_norm[k] - 0.5 * acc[b]


@helper
def _scatter_block_diag(XT, nb, shift, resp, nk, sum_x, sum_sq):
    """Accumulate sum r, sum r (x - shift_k) and sum r (x - shift_k)^2 per
    feature for one block: block partial sums in the data's precision, added
    to float64 accumulators (as ``_scatter_block_full``)."""
    n_comp, d = shift.shape
    d4 = d - d % 4
    zero = typed_zero(XT[0, 0])
    for k in range(n_comp):
        if not add_weight(resp, k, nb, nk):
            continue
        # Four features per sweep: each responsibility loaded feeds four.
        for j in range(0, d4, 4):
            mu0, mu1, mu2, mu3 = shift[k, j], shift[k, j + 1], shift[k, j + 2], shift[k, j + 3]
            a0 = zero
            a1 = zero
            a2 = zero
            a3 = zero
            q0 = zero
            q1 = zero
            q2 = zero
            q3 = zero
            for b in range(nb):
                r = resp[k, b]
                t0 = XT[j, b] - mu0
                t1 = XT[j + 1, b] - mu1
                t2 = XT[j + 2, b] - mu2
                t3 = XT[j + 3, b] - mu3
                w0 = r * t0
                w1 = r * t1
                w2 = r * t2
                w3 = r * t3
                a0 += w0
                a1 += w1
                a2 += w2
                a3 += w3
                q0 += w0 * t0
                q1 += w1 * t1
                q2 += w2 * t2
                q3 += w3 * t3
            sum_x[k, j] += a0
            sum_x[k, j + 1] += a1
            sum_x[k, j + 2] += a2
            sum_x[k, j + 3] += a3
            sum_sq[k, j] += q0
            sum_sq[k, j + 1] += q1
            sum_sq[k, j + 2] += q2
            sum_sq[k, j + 3] += q3
        for j in range(d4, d):
            mu = shift[k, j]
            s1 = zero
            s2 = zero
            for b in range(nb):
                t = XT[j, b] - mu
                w = resp[k, b] * t
                s1 += w
                s2 += w * t
            sum_x[k, j] += s1
            sum_sq[k, j] += s2


@helper
def _logprob_block_spherical(XT, nb, means, prec_chol, log_norm, dist, logp):
    """dist[k] = |x - mu_k|^2 (kept: it is also the spherical statistic),
    logp[k] = log_norm[k] - u_k^2 dist[k] / 2 with u_k = prec_chol[k, 0]."""
    n_comp = means.shape[0]
    for k in range(n_comp):
        acc = dist[k]
        sq_dist_block(XT, nb, means[k], acc)
        u = np.float64(prec_chol[k, 0])
        half = 0.5 * u * u
        out = logp[k]
        for b in range(nb):
            out[b] = log_norm[k] - half * acc[b]


@helper
def _scatter_block_spherical(XT, nb, shift, resp, dist, nk, sum_x, sum_sq):
    """As ``_scatter_block_diag`` for a spherical model, which needs only
    sum_j sum r (x_j - shift_kj)^2: that is sum r dist, with dist from the
    log-density.  It is spread evenly over ``sum_sq[k, :]`` (the M-step
    averages over features)."""
    n_comp, d = shift.shape
    zero = typed_zero(XT[0, 0])
    for k in range(n_comp):
        if not add_weight(resp, k, nb, nk):
            continue
        s2 = zero
        for b in range(nb):
            s2 += resp[k, b] * dist[k, b]
        share = np.float64(s2) / d
        for j in range(d):
            sum_sq[k, j] += share
        for j in range(d):
            mu = shift[k, j]
            s1 = zero
            for b in range(nb):
                s1 += resp[k, b] * (XT[j, b] - mu)
            sum_x[k, j] += s1


@kernel
def diag_pass(X, means, prec_chol, log_norm, resp_in, sample_weight, out_lpn, out_resp,
              out_label, spherical, segment_rows, ll, nk_p, sx_p, sq_p):
    """One pass for diagonal (or spherical) covariances.

    X (n, d), means (K, d), prec_chol (K, d) = 1 / standard deviations: all of
    one float dtype.  With ``resp_in`` given, ``means`` is only the shift.
    Adds into ``ll (P, 2)`` and, unless they have no rows, ``nk_p (P, K)``,
    ``sx_p (P, K, d)`` and ``sq_p (P, K, d)`` with
    ``sum_sq[k, j] = sum_i r_ik (x_ij - shift_kj)^2``.  With ``spherical``
    (and no ``resp_in``), ``prec_chol[k]`` is one value repeated and only
    ``sum_j sum_sq[k, j]`` is computed, spread evenly over the features.
    """
    n, d = X.shape
    n_comp = means.shape[0]
    P = ll.shape[0]
    given = resp_in.shape[0] > 0
    want_stats = nk_p.shape[0] > 0
    sph = spherical and not given
    for p in prange(P):
        XT = np.empty((d, BLOCK + XT_PAD), X.dtype)
        dist = np.empty((n_comp if sph else 0, BLOCK), X.dtype)
        logp, lpn, scratch = posterior_buffers(n_comp, X)
        no_term = np.empty(0)
        for start in block_starts(p, P, n, segment_rows):
            nb = min(BLOCK, n - start)
            if start_block(X, resp_in, sample_weight, start, nb, XT, logp):
                if sph:
                    _logprob_block_spherical(XT, nb, means, prec_chol, log_norm, dist, logp)
                else:
                    _logprob_block_diag(XT, nb, means, prec_chol, log_norm, logp)
                posterior_block(logp, nb, start, lpn, scratch, out_lpn, out_resp,
                                out_label, ll[p], sample_weight, no_term)
            if want_stats:
                if sph:
                    _scatter_block_spherical(XT, nb, means, logp, dist, nk_p[p], sx_p[p],
                                             sq_p[p])
                else:
                    _scatter_block_diag(XT, nb, means, logp, nk_p[p], sx_p[p], sq_p[p])
