"""Kernels for rows with missing coordinates (NaN): Gaussian components, and
models whose log-densities are linear in the row (Bernoulli, Poisson; at the
end of the file).

A row ``x`` with observed coordinates ``o`` and missing ones ``m`` has, under
component k, the marginal density N(x_o | mu_o, Sigma_oo) and, given x_o, the
Gaussian conditional of x_m.  With the precision Lambda = U U^T (``U`` the
upper-triangular ``precisions_cholesky_``), ``z = x - mu`` with zeros at m,
``y = U^T z`` and ``g = (Lambda z)_m = U[m, :] y``, and the Cholesky factor
L L^T = Lambda_mm of the missing block:

* the marginal's quadratic form is ``|y|^2 - |L^-1 g|^2`` and its log
  determinant ``-log|Lambda| + log|Lambda_mm|``, so the weighted marginal
  log-density is ``log_norm[k] + |m|/2 log(2 pi) - log|L| - (|y|^2 -
  |L^-1 g|^2) / 2`` with the complete rows' ``log_norm``;
* the conditional mean is ``mu_m - L^-T L^-1 g`` and the conditional
  covariance ``Lambda_mm^-1 = L^-T L^-1``.

The statistics are the expected ones (Ghahramani & Jordan): ``x_m``
replaced by its conditional mean under each component, and the conditional
covariance added to that component's second moment.  ``L`` and the
conditional covariance depend on the pattern of missing coordinates and the
component only: the caller sorts the rows by pattern, and a run of rows of
one pattern factorises once per component (the diagonal kernel needs no
factor and no order).  A row with no observed
coordinate has log-likelihood 0 and the posterior of the per-component
constants alone (the weights, for maximum likelihood): its outputs are
written, it adds nothing to the statistics.

Layout.  As the complete rows' kernels: blocks of rows, one component at a
time, every heavy loop over the block's rows (which vectorise) -- for full
covariances the same banded BLAS transform and scatter, on ``z``; only the
small solves with L are per row.  The ``n`` rows are cut into ``P =
ll.shape[0]`` contiguous ranges, one per partition, each walked in order
into partition-private sums that are then added into the accumulators
``ll[p]``, ``nk_p[p]``, ... a complete rows' kernel uses: the result depends
on ``P`` and the rows, never on the thread count.  Everything is computed in
float64 (the conditioning wants the precision); outputs are cast to the
data's dtype.

Outputs (each skipped when it has no rows): ``out_lpn``, ``out_resp``,
``out_label`` as the complete rows' kernels write them, and ``out_fill``
(asked for with no ``sample_weight``):
the row with its missing coordinates imputed -- by the posterior mean
sum_k p(k | x_o) E[x_m | x_o, k], or, when ``draw_u`` has rows, by a draw
from the posterior: component k where the cumulative responsibility passes
``draw_u[i]``, then ``x_m = E[x_m | x_o, k] + L^-T draw_e[i, m]``.
"""

import math

import numpy as np
from numba import prange

from ._blocks import add_weight
from ._config import BLOCK, helper, kernel
from ._posterior import log_block, posterior_block
from .student import log1p_ratio
from .gaussian import (
    GEMM_MIN_FEATURES,
    GEMM_SCATTER_MIN_FEATURES,
    _banded_product,
    _gemm_splits,
    _pack_bands,
    _scatter_bands_gemm,
    _scatter_tiles,
    _zero_tail,
)

_HALF_LOG_2PI = 0.5 * np.log(2.0 * np.pi)


@kernel
def nan_summary(X, counts, observed, column_sum):
    """counts[i] = the NaN coordinates of row i; ``observed[t, j]`` and
    ``column_sum[t, j]`` (float64, ``T`` rows: one per task) the observed
    values of column j and their sum over task t's rows -- the tasks cut
    the rows by their count only, so the caller's sum over t is the same
    for any thread count."""
    n, d = X.shape
    T = observed.shape[0]
    for t in prange(T):
        for i in range(t * n // T, (t + 1) * n // T):
            c = 0
            for j in range(d):
                v = X[i, j]
                if v == v:
                    observed[t, j] += 1.0
                    column_sum[t, j] += np.float64(v)
                else:
                    c += 1
            counts[i] = c


@kernel
def nan_counts(X, counts):
    """counts[i] = the number of NaN coordinates of row i."""
    n, d = X.shape
    n_tasks = max(1, min(64, n // 4096))
    for t in prange(n_tasks):
        for i in range(t * n // n_tasks, (t + 1) * n // n_tasks):
            c = 0
            for j in range(d):
                v = X[i, j]
                c += v != v
            counts[i] = c


@helper
def _load_block64(X, start, nb, XT):
    """XT[j, b] = X[start + b, j] in float64 (NaN and all)."""
    for b in range(nb):
        for j in range(X.shape[1]):
            XT[j, b] = np.float64(X[start + b, j])


@helper
def _drop_unobserved(XT, nb, resp):
    """Zero the responsibilities of the block's rows with no observed value:
    they take no part in the statistics."""
    for b in range(nb):
        seen = False
        for j in range(XT.shape[0]):
            seen = seen or XT[j, b] == XT[j, b]
        if not seen:
            for k in range(resp.shape[0]):
                resp[k, b] = 0.0


@helper
def _empty_row_term(XT, nb, logp, term):
    """term[b] = minus the log-sum-exp of row b's weighted log-densities
    when the row has no observed value, else 0: as ``posterior_block``'s
    row term it makes such a row's log-likelihood exactly 0 (it carries no
    information) and leaves its posterior as it is (a variational model's
    per-component constants need not sum to one as weights do).  Returns
    whether the block has such a row (``_drop_unobserved`` is then due)."""
    empty = False
    for b in range(nb):
        term[b] = 0.0
    for j in range(XT.shape[0]):  # term[b] counts row b's observed values
        for b in range(nb):
            term[b] += XT[j, b] == XT[j, b]
    for b in range(nb):
        if term[b] == 0.0:
            empty = True
            top = logp[0, b]
            for k in range(1, logp.shape[0]):
                top = max(top, logp[k, b])
            s = 0.0
            for k in range(logp.shape[0]):
                s += math.exp(logp[k, b] - top)
            term[b] = -(top + math.log(s))
        else:
            term[b] = 0.0
    return empty


_T_DOC = """t components (a Student-t mixture, ``dof`` its degrees of
freedom nu_k): given the component and a latent scale u ~ Gamma(nu / 2, rate
nu / 2), x ~ N(mu, Sigma / u), so the observed coordinates' marginal is a t
of the same nu over the |o| = d - m observed ones, scale Sigma_oo: with
maha its quadratic form (the Gaussian's), the weighted log-density is
``log_norm[k] + t_const[0, k, m] - log|L| - (nu + d - m) / 2 log(1 + maha
/ nu)`` (``log_norm`` the complete rows' constants, ``t_const[0, k, m]``
what m missing coordinates change in them).  Given x_o the scale's
posterior is Gamma((nu + d - m) / 2, rate (nu + maha) / 2), and given u too
x_m ~ N(E[x_m | x_o], Lambda_mm^-1 / u): the moments take the weights r
E[u] (the conditional covariance r alone: E[u Lambda_mm^-1 / u]); ``su_p``
sums r E[u] and ``slog_p`` r (log(1 + maha / nu) + ``t_const[1, k, m]``),
which makes the complete rows' formula for sum r E[log u] (with d) exact.
A draw takes the scale from ``draw_g[i, k]`` (a standard Gamma of shape (nu
+ d - m) / 2)."""


@helper
def _t_half(nu, d, m):
    """(nu + d - m) / 2: the power of a t with d - m observed coordinates."""
    return 0.5 * (nu + d - m)


@helper
def _t_row_weights(r, nb, nm, nu, d, dist, lg, shift, wu, slog, su, k):
    """wu[b] = r[b] E[u_b] for the block's rows; su[k] += sum r E[u],
    slog[k] += sum r (log(1 + maha / nu) + shift[m]) (see ``_T_DOC``;
    ``lg`` holds log(1 + maha / nu))."""
    s_u = 0.0
    s_l = 0.0
    for b in range(nb):
        rb = r[b]
        if rb == 0.0:  # a row with nothing observed, or far away
            wu[b] = 0.0
            continue
        m = nm[b]
        w = rb * ((nu + d - m) / (nu + dist[b]))
        wu[b] = w
        s_u += w
        s_l += rb * (lg[b] + shift[m])
    su[k] += s_u
    slog[k] += s_l


@helper
def _posterior_mean(resp, b, means, j):
    """sum_k resp[k, b] means[k, j]: feature j's mean under row b's posterior."""
    f = 0.0
    for k in range(resp.shape[0]):
        f += resp[k, b] * np.float64(means[k, j])
    return f


@helper
def _drawn_component(resp, b, u):
    """The component where row b's cumulative responsibility passes u."""
    K = resp.shape[0]
    acc = 0.0
    for k in range(K):
        acc += resp[k, b]
        if u < acc:
            return k
    return K - 1


@helper
def _factor_one(lam, k, midx, nm, chol):
    """Component k's Cholesky factor L (lower, ``chol[:nm, :nm]``) of
    Lambda_mm for the missing block ``midx[:nm]``; returns log|L|."""
    # log|L| = log prod L_aa / 2 from the product of the pivots, one log per
    # factor (renormalised before the product could leave the normal range)
    ld = 0.0
    prod = 1.0
    for a in range(nm):
        ia = midx[a]
        for b in range(a + 1):
            v = lam[k, ia, midx[b]]
            for c in range(b):
                v -= chol[a, c] * chol[b, c]
            if a == b:
                if not v > 0.0:
                    v = np.nan
                chol[a, a] = np.sqrt(v)
                prod *= v
                if not 1e-150 < prod < 1e150:
                    ld += 0.5 * np.log(prod)
                    prod = 1.0
            else:
                chol[a, b] = v / chol[b, b]
    return ld + 0.5 * np.log(prod)


@helper
def _centred_block(XT, nb, mu, ZT):
    """ZT[j, b] = XT[j, b] - mu[j] where observed, 0 where missing."""
    d = XT.shape[0]
    for j in range(d):
        m = mu[j]
        for b in range(nb):
            v = XT[j, b]
            ZT[j, b] = v - m if v == v else 0.0


@helper
def _block_patterns(X, start, nb, nm, midx, new_run, last):
    """Each row's missing coordinates (``midx[b, :nm[b]]``) and whether its
    pattern differs from the row before's (``new_run``; the first row of a
    block always starts one); ``last``: the previous row's NaN flags."""
    d = X.shape[1]
    for b in range(nb):
        c = 0
        same = b > 0
        for j in range(d):
            v = X[start + b, j]
            isnan = v != v
            if isnan != last[j]:
                same = False
            last[j] = isnan
            if isnan:
                midx[b, c] = j
                c += 1
        nm[b] = c
        new_run[b] = not same


@kernel
def full_missing_pass(X, means, prec_chol, log_norm, dof, t_const, sample_weight, out_lpn,
                      out_resp, out_label, out_fill, draw_u, draw_e, draw_g, ll, nk_p, slog_p,
                      su_p, sx_p, sxx_p):
    """Rows with missing coordinates under full covariances (see the module
    docstring).  X (n, d) sorted by missingness pattern; means (K, d);
    prec_chol (K, d, d) upper (a tied model's factor repeated); log_norm
    (K,) float64; statistics centred on the means, ``sxx_p`` the upper
    triangle of the second moments.  With ``dof`` non-empty, t components
    instead (see ``_T_DOC``: ``t_const``, ``draw_g``, ``slog_p``, ``su_p``);
    else those are empty.

    Blocks of rows, one component at a time, as the complete rows' kernel:
    z = x - mu with zeros at the missing coordinates, y = U^T z and
    v = U y = Lambda z for the whole block (loops over the rows, which
    vectorise); then, row by row, the small solves with the factor of the
    row's missing block (factorised again only where the pattern changes);
    the posterior of the block; then the expected statistics of the block,
    again a product over its rows, and the conditional covariances once per
    run of rows of one pattern."""
    n, d = X.shape
    K = means.shape[0]
    P = ll.shape[0]
    want_stats = nk_p.shape[0] > 0
    want_fill = out_fill.shape[0] > 0
    draw = draw_u.shape[0] > 0
    tdist = dof.shape[0] > 0
    U = np.zeros((K, d, d))
    mu = np.empty((K, d))
    for k in range(K):
        for i in range(d):
            mu[k, i] = np.float64(means[k, i])
            for j in range(i, d):
                U[k, i, j] = np.float64(prec_chol[k, i, j])
    lam = np.zeros((K, d, d))
    for k in range(K):
        for i in range(d):
            for j in range(i, d):
                v = 0.0
                for t in range(j, d):
                    v += U[k, i, t] * U[k, j, t]
                lam[k, i, j] = v
                lam[k, j, i] = v
    lamT = np.empty((d, d, K))  # components innermost, for the conditional covariances
    for k in range(K):
        for i in range(d):
            for j in range(d):
                lamT[i, j, k] = lam[k, i, j]
    # rows per block: the block's completed rows (K, d, rows) within ~2 MiB
    rows = max(8, min(BLOCK, (1 << 18) // max(1, K * d)))
    # the complete rows' kernel's BLAS products, from as many features on
    blas = d >= GEMM_MIN_FEATURES
    scatter_blas = d >= GEMM_SCATTER_MIN_FEATURES
    edges = _gemm_splits(d)
    packed = _pack_bands(U, edges)
    for p in prange(P):
        lo = p * n // P
        hi = (p + 1) * n // P
        band_out = np.empty(d * d if scatter_blas else 0)
        XT = np.empty((d, rows))
        ZT = np.zeros((d, rows))
        YT = np.zeros((d, rows))
        VT = np.zeros((d, rows))
        DT = np.empty((K, d, rows))  # the conditional means' offsets, per component
        logp = np.empty((K, BLOCK))
        lpn = np.empty((2, BLOCK))
        scratch = np.empty((3, BLOCK))
        q = np.empty(rows)
        term = np.empty(rows)
        dist = np.empty((K if tdist else 0, rows))
        lg = np.empty((K if tdist else 0, rows))
        wu = np.empty(rows if tdist else 0)
        slog = np.zeros(K if tdist else 0)
        su = np.zeros(K if tdist else 0)
        nm = np.empty(rows, np.int64)
        midx = np.empty((rows, d), np.int64)
        new_run = np.empty(rows, np.bool_)
        last = np.zeros(d, np.bool_)
        chol = np.empty((d, d))
        g = np.empty(d)
        fill = np.empty(d)
        nk = np.zeros(K)
        sx = np.zeros((K, d))
        sxx = np.zeros((K, d, d))
        sxc = np.zeros((d if want_stats else 0, d, K))
        inv = np.empty((d, d))
        chol3 = np.empty((d, d, K))
        inv3 = np.empty((d, d, K))
        rsum = np.empty(K)
        work = np.empty(K)
        s_ll = np.zeros(2)
        for start in range(lo, hi, rows):
            nb = min(rows, hi - start)
            _load_block64(X, start, nb, XT)
            _block_patterns(X, start, nb, nm, midx, new_run, last)
            if blas and nb < rows:
                _zero_tail(ZT, nb)
            for k in range(K):
                _centred_block(XT, nb, mu[k], ZT)
                for b in range(nb):
                    q[b] = 0.0
                if blas:
                    _banded_product(packed[k], edges, ZT, YT)
                    np.dot(lam[k], ZT, VT)
                    for j in range(d):
                        for b in range(nb):
                            q[b] += YT[j, b] * YT[j, b]
                else:
                    for j in range(d):
                        for b in range(nb):
                            YT[j, b] = 0.0
                        for i in range(j + 1):
                            u = U[k, i, j]
                            for b in range(nb):
                                YT[j, b] += ZT[i, b] * u
                        for b in range(nb):
                            q[b] += YT[j, b] * YT[j, b]
                    for i in range(d):
                        for b in range(nb):
                            VT[i, b] = 0.0
                        for j in range(i, d):
                            u = U[k, i, j]
                            for b in range(nb):
                                VT[i, b] += u * YT[j, b]
                ld = 0.0
                for b in range(nb):
                    m = nm[b]
                    if m == 0:
                        if tdist:
                            dist[k, b] = q[b]
                            lg[k, b] = math.log1p(q[b] / dof[k])
                            logp[k, b] = log_norm[k] - _t_half(dof[k], d, 0) * lg[k, b]
                        else:
                            logp[k, b] = log_norm[k] - 0.5 * q[b]
                        continue
                    if new_run[b]:
                        ld = _factor_one(lam, k, midx[b], m, chol)
                    # w = L^-1 g, g = (Lambda z)_m; q -= |w|^2; offset -L^-T w
                    qb = q[b]
                    for a in range(m):
                        v = VT[midx[b, a], b]
                        for c in range(a):
                            v -= chol[a, c] * g[c]
                        g[a] = v / chol[a, a]
                        qb -= g[a] * g[a]
                    for a in range(m - 1, -1, -1):
                        v = g[a]
                        for c in range(a + 1, m):
                            v -= chol[c, a] * g[c]
                        g[a] = v / chol[a, a]
                        DT[k, a, b] = -g[a]
                    if tdist:
                        dist[k, b] = qb
                        lg[k, b] = math.log1p(qb / dof[k])
                        logp[k, b] = (log_norm[k] + t_const[0, k, m] - ld
                                      - _t_half(dof[k], d, m) * lg[k, b])
                    else:
                        logp[k, b] = log_norm[k] + m * _HALF_LOG_2PI - ld - 0.5 * qb
            empty = _empty_row_term(XT, nb, logp, term)
            posterior_block(logp, nb, start, lpn, scratch, out_lpn, out_resp, out_label, s_ll,
                            sample_weight, term)
            if want_fill:
                for b in range(nb):
                    m = nm[b]
                    if draw:
                        kk = _drawn_component(logp, b, draw_u[start + b])
                        _factor_one(lam, kk, midx[b], m, chol)
                        for a in range(m - 1, -1, -1):
                            v = draw_e[start + b, midx[b, a]]
                            for c in range(a + 1, m):
                                v -= chol[c, a] * fill[c]
                            fill[a] = v / chol[a, a]
                        scale = 1.0
                        if tdist:  # the scale's posterior draw, Gamma(., rate (nu + maha) / 2)
                            scale = 1.0 / math.sqrt(
                                draw_g[start + b, kk] / (0.5 * (dof[kk] + dist[kk, b])))
                        for a in range(m):
                            j = midx[b, a]
                            out_fill[start + b, j] = mu[kk, j] + DT[kk, a, b] + scale * fill[a]
                    else:
                        for a in range(m):
                            j = midx[b, a]
                            v = 0.0
                            for k in range(K):
                                v += logp[k, b] * (mu[k, j] + DT[k, a, b])
                            out_fill[start + b, j] = v
                    for j in range(d):
                        v = X[start + b, j]
                        if v == v:
                            out_fill[start + b, j] = v
            if not want_stats:
                continue
            if empty:  # rows with nothing observed take no part
                _drop_unobserved(XT, nb, logp)
            # the conditional covariances: once per run of rows of one
            # pattern, every component at once
            b = 0
            while b < nb:
                e = b + 1
                while e < nb and not new_run[e]:
                    e += 1
                if nm[b] > 0:
                    for k in range(K):
                        rsum[k] = 0.0
                    for bb in range(b, e):
                        for k in range(K):
                            rsum[k] += logp[k, bb]
                    busy = 0
                    for k in range(K):
                        busy += rsum[k] != 0.0
                    if 4 * busy > K:
                        _add_cond_all(lamT, midx[b], nm[b], rsum, chol3, inv3, work, sxc)
                    else:  # few components hold these rows: only theirs
                        for k in range(K):
                            if rsum[k] != 0.0:
                                _add_cond_one(lam, k, midx[b], nm[b], rsum[k], chol, inv, sxc)
                b = e
            for k in range(K):
                if not add_weight(logp, k, nb, nk):
                    continue
                _centred_block(XT, nb, mu[k], ZT)
                r = logp[k]
                if tdist:  # the moments weighted by r E[u]
                    r = wu
                    _t_row_weights(logp[k], nb, nm, dof[k], d, dist[k], lg[k], t_const[1, k],
                                   wu, slog, su, k)
                for b in range(nb):
                    for a in range(nm[b]):
                        ZT[midx[b, a], b] = DT[k, a, b]
                for j in range(d):
                    s = 0.0
                    for b in range(nb):
                        v = r[b] * ZT[j, b]
                        YT[j, b] = v
                        s += v
                    sx[k, j] += s
                if scatter_blas:
                    _zero_tail(YT, nb)
                    _scatter_bands_gemm(YT, ZT, edges, band_out, sxx[k])
                else:
                    _scatter_tiles(YT, ZT, nb, sxx[k])
        ll[p, 0] += s_ll[0]
        ll[p, 1] += s_ll[1]
        if want_stats:
            for k in range(K):
                nk_p[p, k] += nk[k]
                for j in range(d):
                    sx_p[p, k, j] += sx[k, j]
                    for jj in range(j, d):
                        sxx_p[p, k, j, jj] += sxx[k, j, jj] + sxc[j, jj, k]
                if tdist:
                    slog_p[p, k] += slog[k]
                    su_p[p, k] += su[k]


@helper
def _add_cond_one(lam, k, midx, nm, weight, chol, inv, sxc):
    """``_add_cond_all`` for component k alone (when few components have
    responsibility for the rows: a well-separated mixture)."""
    _factor_one(lam, k, midx, nm, chol)
    for b in range(nm):
        inv[b, b] = 1.0 / chol[b, b]
        for a in range(b + 1, nm):
            v = 0.0
            for c in range(b, a):
                v -= chol[a, c] * inv[c, b]
            inv[a, b] = v / chol[a, a]
    for a in range(nm):
        ia = midx[a]
        for b in range(a, nm):
            v = 0.0
            for c in range(b, nm):
                v += inv[c, a] * inv[c, b]
            sxc[ia, midx[b], k] += weight * v


@helper
def _add_cond_all(lamT, midx, nm, weight, chol, inv, work, sxc):
    """sxc[i, j, k] (i <= j) += weight[k] * the conditional covariance
    Lambda_mm^-1 of the missing block ``midx[:nm]`` under component k, for
    every component at once (the innermost axis: each step one vector
    operation over the components)."""
    K = weight.shape[0]
    for a in range(nm):
        ia = midx[a]
        for b in range(a + 1):
            ib = midx[b]
            for k in range(K):
                work[k] = lamT[ia, ib, k]
            for c in range(b):
                for k in range(K):
                    work[k] -= chol[a, c, k] * chol[b, c, k]
            if a == b:
                for k in range(K):
                    v = work[k]
                    chol[a, a, k] = np.sqrt(v) if v > 0.0 else np.nan
            else:
                for k in range(K):
                    chol[a, b, k] = work[k] / chol[b, b, k]
    for b in range(nm):
        for k in range(K):
            inv[b, b, k] = 1.0 / chol[b, b, k]
        for a in range(b + 1, nm):
            for k in range(K):
                work[k] = 0.0
            for c in range(b, a):
                for k in range(K):
                    work[k] -= chol[a, c, k] * inv[c, b, k]
            for k in range(K):
                inv[a, b, k] = work[k] / chol[a, a, k]
    for a in range(nm):
        ia = midx[a]
        for b in range(a, nm):
            ib = midx[b]
            for k in range(K):
                work[k] = 0.0
            for c in range(b, nm):
                for k in range(K):
                    work[k] += inv[c, a, k] * inv[c, b, k]
            for k in range(K):
                sxc[ia, ib, k] += weight[k] * work[k]


@helper
def _gauss_diag_logprob(XT, nb, mu, u, dropped, log_norm, logp):
    """The weighted Gaussian log-densities of a block of rows with missing
    values under diagonal covariances: ``dropped[k * d + j]`` what a missing
    coordinate j takes out of component k's constants (1/2 log(2 pi) - log
    u)."""
    K, d = mu.shape
    for k in range(K):
        acc = logp[k]
        for b in range(nb):
            acc[b] = log_norm[k]
        for j in range(d):
            m = mu[k, j]
            uj = u[k, j]
            gone = dropped[k * d + j]
            for b in range(nb):
                v = XT[j, b]
                t = (v - m) * uj
                acc[b] += -0.5 * t * t if v == v else gone


@helper
def _t_diag_logprob(XT, nb, mu, u, log_u, log_norm, dof, t_const, nm, dist, lg, work, logp):
    """The weighted t log-densities of a block of rows with missing values
    under diagonal scales (see ``_T_DOC``): ``nm[b]`` the row's missing
    coordinates, ``dist[k, b]`` its observed coordinates' quadratic form and
    ``lg[k, b]`` log(1 + dist / nu_k) (``log_block``'s vectorised logs; a
    distance that overflowed gives +inf); ``log_u`` the log of ``u`` (the
    factor's diagonal), which a missing coordinate takes out of the
    log-determinant."""
    K, d = mu.shape
    for b in range(nb):
        c = 0
        for j in range(d):
            c += XT[j, b] != XT[j, b]
        nm[b] = c
    for k in range(K):
        acc = logp[k]
        dk = dist[k]
        for b in range(nb):
            acc[b] = 0.0
            dk[b] = 0.0
        for j in range(d):
            m = mu[k, j]
            uj = u[k, j]
            gone = log_u[k * d + j]
            for b in range(nb):
                v = XT[j, b]
                t = (v - m) * uj
                dk[b] += t * t if v == v else 0.0
                acc[b] -= 0.0 if v == v else gone
        nu = dof[k]
        lk = lg[k]
        log1p_ratio(dk, nb, 1.0 / nu, lk, work)
        for b in range(nb):
            m = nm[b]
            acc[b] += log_norm[k] + t_const[0, k, m] - _t_half(nu, d, m) * lk[b]


@kernel
def diag_missing_pass(X, means, prec_chol, log_norm, dof, t_const, sample_weight, out_lpn,
                      out_resp, out_label, out_fill, draw_u, draw_e, draw_g, ll, nk_p, slog_p,
                      su_p, sx_p, sq_p):
    """Rows with missing coordinates under diagonal (or spherical: the value
    repeated) covariances: a missing coordinate drops out of the density,
    its conditional mean is the component's mean and its conditional
    variance the component's.  ``prec_chol`` (K, d) = 1 / standard
    deviations; statistics centred on the means, ``sq_p[p, k, j]`` the
    expected sum of r (x_j - mu_kj)^2.  Blocks of rows, as the complete
    rows' kernel: every loop runs over the block's rows, a missing value
    selected out (no pattern is looked at), so the rows need no order.
    With ``dof`` non-empty, t components (as ``full_missing_pass``)."""
    n, d = X.shape
    K = means.shape[0]
    P = ll.shape[0]
    want_stats = nk_p.shape[0] > 0
    want_fill = out_fill.shape[0] > 0
    draw = draw_u.shape[0] > 0
    tdist = dof.shape[0] > 0
    mu = np.empty((K, d))
    u = np.empty((K, d))
    var = np.empty((K, d))
    dropped = np.empty(K * d)  # what a missing coordinate takes out: 1/2 log(2 pi) - log u
    work = np.empty(K * d)
    for k in range(K):
        for j in range(d):
            mu[k, j] = np.float64(means[k, j])
            u[k, j] = np.float64(prec_chol[k, j])
            var[k, j] = 1.0 / (u[k, j] * u[k, j])
            dropped[k * d + j] = u[k, j]
    log_block(dropped, K * d, work)
    log_u = dropped.copy()
    for i in range(K * d):
        dropped[i] = _HALF_LOG_2PI - dropped[i]
    for p in prange(P):
        lo = p * n // P
        hi = (p + 1) * n // P
        XT = np.empty((d, BLOCK))
        logp = np.empty((K, BLOCK))
        lpn = np.empty((2, BLOCK))
        scratch = np.empty((3, BLOCK))
        term = np.empty(BLOCK)
        nk = np.zeros(K)
        sx = np.zeros((K, d))
        sq = np.zeros((K, d))
        s_ll = np.zeros(2)
        dist = np.empty((K if tdist else 0, BLOCK))
        lg = np.empty((K if tdist else 0, BLOCK))
        work_b = np.empty(BLOCK if tdist else 0)
        nm = np.zeros(BLOCK if tdist else 0, np.int64)
        wu = np.empty(BLOCK if tdist else 0)
        slog = np.zeros(K if tdist else 0)
        su = np.zeros(K if tdist else 0)
        for start in range(lo, hi, BLOCK):
            nb = min(BLOCK, hi - start)
            _load_block64(X, start, nb, XT)
            if tdist:
                _t_diag_logprob(XT, nb, mu, u, log_u, log_norm, dof, t_const, nm, dist, lg,
                                work_b, logp)
            else:
                _gauss_diag_logprob(XT, nb, mu, u, dropped, log_norm, logp)
            empty = _empty_row_term(XT, nb, logp, term)
            posterior_block(logp, nb, start, lpn, scratch, out_lpn, out_resp, out_label, s_ll,
                            sample_weight, term)
            if want_fill:
                for b in range(nb):
                    kk = _drawn_component(logp, b, draw_u[start + b]) if draw else 0
                    for j in range(d):
                        v = X[start + b, j]
                        if v == v:
                            out_fill[start + b, j] = v
                        elif draw:
                            scale = 1.0
                            if tdist:
                                scale = 1.0 / math.sqrt(
                                    draw_g[start + b, kk] / (0.5 * (dof[kk] + dist[kk, b])))
                            out_fill[start + b, j] = (mu[kk, j] + scale
                                                      * draw_e[start + b, j] / u[kk, j])
                        else:
                            out_fill[start + b, j] = _posterior_mean(logp, b, mu, j)
            if not want_stats:
                continue
            if empty:  # rows with nothing observed take no part
                _drop_unobserved(XT, nb, logp)
            for k in range(K):
                if not add_weight(logp, k, nb, nk):
                    continue
                r = logp[k]
                if tdist:  # observed values weighted by r E[u]; the variance by r
                    _t_row_weights(r, nb, nm, dof[k], d, dist[k], lg[k], t_const[1, k], wu, slog,
                                   su, k)
                    for j in range(d):
                        m = mu[k, j]
                        vj = var[k, j]
                        s1 = 0.0
                        s2 = 0.0
                        for b in range(nb):
                            v = XT[j, b]
                            t = v - m
                            w = wu[b]
                            s1 += w * t if v == v else 0.0
                            s2 += w * t * t if v == v else r[b] * vj
                        sx[k, j] += s1
                        sq[k, j] += s2
                else:
                    for j in range(d):
                        m = mu[k, j]
                        vj = var[k, j]
                        s1 = 0.0
                        s2 = 0.0
                        for b in range(nb):
                            v = XT[j, b]
                            t = v - m
                            w = r[b]
                            s1 += w * t if v == v else 0.0
                            s2 += w * t * t if v == v else w * vj
                        sx[k, j] += s1
                        sq[k, j] += s2
        ll[p, 0] += s_ll[0]
        ll[p, 1] += s_ll[1]
        if want_stats:
            for k in range(K):
                nk_p[p, k] += nk[k]
                for j in range(d):
                    sx_p[p, k, j] += sx[k, j]
                    sq_p[p, k, j] += sq[k, j]
                if tdist:
                    slog_p[p, k] += slog[k]
                    su_p[p, k] += su[k]


@kernel
def linear_missing_pass(X, coef, const, values, log_norm, log_factorial, kind, sample_weight,
                        out_lpn, out_resp, out_label, out_fill, draw_u, draw_e, ll, nk_p, sx_p):
    """Rows with missing coordinates of a model whose log-densities are
    linear in the row (Bernoulli, Poisson): ``log_norm[k] + sum_j (x_j
    coef_kj + const_kj)`` over the observed j only (``log_norm`` holds the
    sum over every j of ``const``, which a missing one takes back out), the
    row term ``-sum_j log x_j!`` (``log_factorial`` non-empty) over the
    observed j too.  The statistics are the expected ones: a missing x_j
    counts as its mean under the component, ``values[k, j]`` (a probability
    or a rate).  ``out_fill``: sum_k p(k | x_o) values[k, j], or with
    ``draw_u`` a draw -- the component, then ``draw_e[i, j]`` (uniform)
    through the inverse CDF of the value's Bernoulli (``kind`` 0) or
    Poisson (``kind`` 1) distribution.  Blocks of rows as the complete
    rows' kernel, a missing value selected out."""
    n, d = X.shape
    K = coef.shape[0]
    P = ll.shape[0]
    want_stats = nk_p.shape[0] > 0
    want_fill = out_fill.shape[0] > 0
    draw = draw_u.shape[0] > 0
    counts = log_factorial.shape[0] > 0
    last = log_factorial.shape[0] - 1
    for p in prange(P):
        lo = p * n // P
        hi = (p + 1) * n // P
        XT = np.empty((d, BLOCK))
        logp = np.empty((K, BLOCK))
        lpn = np.empty((2, BLOCK))
        scratch = np.empty((3, BLOCK))
        term = np.empty(BLOCK if counts else 0)
        nk = np.zeros(K)
        sx = np.zeros((K, d))
        s_ll = np.zeros(2)
        for start in range(lo, hi, BLOCK):
            nb = min(BLOCK, hi - start)
            _load_block64(X, start, nb, XT)
            for k in range(K):
                acc = logp[k]
                for b in range(nb):
                    acc[b] = log_norm[k]
                for j in range(d):
                    c = np.float64(coef[k, j])
                    gone = -const[k, j]
                    for b in range(nb):
                        v = XT[j, b]
                        acc[b] += v * c if v == v else gone
            if counts:
                for b in range(nb):
                    s = 0.0
                    for j in range(d):
                        v = XT[j, b]
                        if v == v:
                            s += log_factorial[int(v)] if v < last else math.lgamma(v + 1.0)
                    term[b] = -s
            posterior_block(logp, nb, start, lpn, scratch, out_lpn, out_resp, out_label, s_ll,
                            sample_weight, term)
            if want_fill:
                for b in range(nb):
                    kk = _drawn_component(logp, b, draw_u[start + b]) if draw else 0
                    for j in range(d):
                        v = X[start + b, j]
                        if v == v:
                            out_fill[start + b, j] = v
                        elif draw:
                            mean = np.float64(values[kk, j])
                            e = draw_e[start + b, j]
                            if kind == 0:
                                out_fill[start + b, j] = 1.0 if e < mean else 0.0
                            else:  # the Poisson inverse CDF
                                x = 0.0
                                prob = math.exp(-mean)
                                cdf = prob
                                while e > cdf and prob > 0.0:
                                    x += 1.0
                                    prob *= mean / x
                                    cdf += prob
                                out_fill[start + b, j] = x
                        else:
                            out_fill[start + b, j] = _posterior_mean(logp, b, values, j)
            if not want_stats:
                continue
            _drop_unobserved(XT, nb, logp)
            for k in range(K):
                if not add_weight(logp, k, nb, nk):
                    continue
                r = logp[k]
                for j in range(d):
                    mean = np.float64(values[k, j])
                    s1 = 0.0
                    for b in range(nb):
                        v = XT[j, b]
                        s1 += r[b] * (v if v == v else mean)
                    sx[k, j] += s1
        ll[p, 0] += s_ll[0]
        ll[p, 1] += s_ll[1]
        if want_stats:
            for k in range(K):
                nk_p[p, k] += nk[k]
                for j in range(d):
                    sx_p[p, k, j] += sx[k, j]


@kernel
def categorical_missing_pass(X, log_table_t, table_t, offsets, log_norm, sample_weight,
                             out_lpn, out_resp, out_label, out_fill, draw_u, draw_e, ll, nk_p,
                             counts_p):
    """Rows with missing features of a mixture of independent categorical
    features (``categorical_pass``'s layout: feature j's code c is row
    ``offsets[j] + c`` of ``log_table_t (C, K)``; ``table_t`` the same
    probabilities, float64).  A missing feature drops out of the row's
    product; its expected counts are the component's probabilities.
    ``out_fill``: the most probable category under the row's posterior,
    argmax_c sum_k p(k | x_o) theta_kjc -- or with ``draw_u`` a draw: the
    component, then the category where the cumulative probability passes
    ``draw_e[i, j]`` (uniform)."""
    n, d = X.shape
    K = log_table_t.shape[1]
    P = ll.shape[0]
    want_stats = nk_p.shape[0] > 0
    want_fill = out_fill.shape[0] > 0
    draw = draw_u.shape[0] > 0
    n_cat = log_table_t.shape[0]
    for p in prange(P):
        lo = p * n // P
        hi = (p + 1) * n // P
        logp = np.empty((K, BLOCK))
        lpn = np.empty((2, BLOCK))
        scratch = np.empty((3, BLOCK))
        acc = np.empty(K)
        nk = np.zeros(K)
        counts = np.zeros((n_cat, K))
        for start in range(lo, hi, BLOCK):
            nb = min(BLOCK, hi - start)
            for b in range(nb):
                for k in range(K):
                    acc[k] = log_norm[k]
                for j in range(d):
                    v = X[start + b, j]
                    if v == v:
                        row = log_table_t[offsets[j] + np.int64(v)]
                        for k in range(K):
                            acc[k] += row[k]
                for k in range(K):
                    logp[k, b] = acc[k]
            posterior_block(logp, nb, start, lpn, scratch, out_lpn, out_resp, out_label,
                            ll[p], sample_weight, np.empty(0))
            if want_fill:
                for b in range(nb):
                    kk = _drawn_component(logp, b, draw_u[start + b]) if draw else 0
                    for j in range(d):
                        v = X[start + b, j]
                        if v == v:
                            out_fill[start + b, j] = v
                            continue
                        first = offsets[j]
                        last = offsets[j + 1] if j + 1 < d else n_cat
                        best = 0
                        if draw:
                            best = last - first - 1
                            cdf = 0.0
                            for c in range(first, last):
                                cdf += table_t[c, kk]
                                if draw_e[start + b, j] < cdf:
                                    best = c - first
                                    break
                        else:
                            top = -1.0
                            for c in range(first, last):
                                s = 0.0
                                for k in range(K):
                                    s += logp[k, b] * table_t[c, k]
                                if s > top:
                                    top = s
                                    best = c - first
                        out_fill[start + b, j] = best
            if not want_stats:
                continue
            for b in range(nb):
                seen = False
                for j in range(d):
                    v = X[start + b, j]
                    seen = seen or v == v
                if not seen:  # nothing observed: no part in the statistics
                    continue
                for k in range(K):
                    nk[k] += logp[k, b]
                for j in range(d):
                    v = X[start + b, j]
                    if v == v:
                        row = counts[offsets[j] + np.int64(v)]
                        for k in range(K):
                            row[k] += logp[k, b]
                    else:
                        last = offsets[j + 1] if j + 1 < d else n_cat
                        for c in range(offsets[j], last):
                            row = counts[c]
                            for k in range(K):
                                row[k] += logp[k, b] * table_t[c, k]
        if want_stats:
            for k in range(K):
                nk_p[p, k] += nk[k]
            for c in range(n_cat):
                for k in range(K):
                    counts_p[p, c, k] += counts[c, k]
