"""Kernels for rows with missing coordinates (NaN): Gaussian components.

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
one pattern factorises once per component.  A row with no observed
coordinate has log-density ``log weight_k``: its outputs are written, it
adds nothing to the statistics.

Layout.  A row's patterns differ from its neighbours', so nothing
vectorises over rows: a row is computed for every component at once, the
component the innermost axis of every array (``(d, d, K)`` factors, ``(d,
K)`` completed rows, ``(d, d, K)`` second moments), so that each step is one
vector operation over the components.  The ``n`` rows are cut into ``P =
ll.shape[0]`` contiguous ranges, one per partition, each walked in order
into partition-private sums that are then added into the accumulators
``ll[p]``, ``nk_p[p]``, ... a complete rows' kernel uses: the result depends
on ``P`` and the rows, never on the thread count.  Everything is computed in
float64 (the conditioning wants the precision); outputs are cast to the
data's dtype.

Outputs (each skipped when it has no rows): ``out_lpn``, ``out_resp``,
``out_label`` as the complete rows' kernels write them, and ``out_fill``:
the row with its missing coordinates imputed -- by the posterior mean
sum_k p(k | x_o) E[x_m | x_o, k], or, when ``draw_u`` has rows, by a draw
from the posterior: component k where the cumulative responsibility passes
``draw_u[i]``, then ``x_m = E[x_m | x_o, k] + L^-T draw_e[i, m]``.
"""

import numpy as np
from numba import prange

from ._config import helper, kernel
from ._posterior import exp_cutoff, exp_split, int_view, log_block

_HALF_LOG_2PI = 0.5 * np.log(2.0 * np.pi)


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
def _row_posterior(logp, K, e, pow2, work):
    """logp (K,) -> responsibilities in place, vectorised over components
    (``exp_split``); returns the row's log-likelihood and its label (-1 and
    NaN responsibilities when every log-density is -inf)."""
    top = logp[0]
    best = 0
    for k in range(1, K):
        if logp[k] > top:
            top = logp[k]
            best = k
    if top == -np.inf:
        for k in range(K):
            logp[k] = np.nan
        return -np.inf, -1
    cutoff = exp_cutoff(top)
    bits = int_view(pow2)
    for k in range(K):
        t = logp[k] - top
        p, b = exp_split(max(t, cutoff))
        e[k] = p if t > cutoff else 0.0
        bits[k] = b
    total = 0.0
    for k in range(K):
        v = e[k] * pow2[k]
        e[k] = v
        total += v
    inv = 1.0 / total
    for k in range(K):
        logp[k] = e[k] * inv
    work[0] = total
    log_block(work, 1, work[1:])
    return top + work[0], best


@helper
def _write_row(i, lpn, label, resp, K, out_lpn, out_resp, out_label):
    if out_lpn.shape[0] > 0:
        out_lpn[i] = lpn
    if out_resp.shape[0] > 0:
        for k in range(K):
            out_resp[i, k] = resp[k]
    if out_label.shape[0] > 0:
        out_label[i] = label


@helper
def _drawn_component(resp, K, u):
    """The component where the cumulative responsibility passes u."""
    acc = 0.0
    for k in range(K):
        acc += resp[k]
        if u < acc:
            return k
    for k in range(K - 1, -1, -1):  # u at the top of rounding: the last possible
        if resp[k] > 0.0:
            return k
    return K - 1


@helper
def _row_weight(sample_weight, i):
    if sample_weight.shape[0] == 0:
        return 1.0
    return np.float64(sample_weight[i])


@helper
def _read_pattern(X, i, miss, midx, oidx):
    """The row's pattern into ``miss``, ``midx`` (missing coordinates) and
    ``oidx`` (observed ones); returns ``(nm, no, same)``: their counts and
    whether the pattern is the one ``miss`` held before."""
    d = X.shape[1]
    same = True
    nm = 0
    no = 0
    for j in range(d):
        v = X[i, j]
        isnan = v != v
        if isnan != miss[j]:
            same = False
        miss[j] = isnan
        if isnan:
            midx[nm] = j
            nm += 1
        else:
            oidx[no] = j
            no += 1
    return nm, no, same


@helper
def _factor_pattern(lam, midx, nm, want_cond, chol, cond, log_det, logs, work):
    """For the missing block ``midx[:nm]``, every component's Cholesky factor
    L (lower, ``chol[a, b, k]``) of Lambda_mm, ``log_det[k] = log|L|`` and,
    with ``want_cond``, the conditional covariance Lambda_mm^-1 = L^-T L^-1
    (``cond[a, b, k]``, both triangles); all vectorised over components."""
    K = lam.shape[2]
    for a in range(nm):
        ia = midx[a]
        for b in range(a + 1):
            ib = midx[b]
            for k in range(K):
                chol[a, b, k] = lam[ia, ib, k]
    for a in range(nm):
        for b in range(a + 1):
            for c in range(b):
                for k in range(K):
                    chol[a, b, k] -= chol[a, c, k] * chol[b, c, k]
            if a == b:
                for k in range(K):
                    v = chol[a, a, k]
                    chol[a, a, k] = np.sqrt(v) if v > 0.0 else np.nan
            else:
                for k in range(K):
                    chol[a, b, k] /= chol[b, b, k]
    for a in range(nm):
        for k in range(K):
            logs[a * K + k] = chol[a, a, k]
    log_block(logs, nm * K, work)
    for k in range(K):
        log_det[k] = 0.0
    for a in range(nm):
        for k in range(K):
            log_det[k] += logs[a * K + k]
    if not want_cond:
        return
    # L^-1 (lower) into cond's lower triangle, then cond = (L^-1)^T L^-1
    inv = np.empty((nm, nm, K))
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
        for b in range(a, nm):
            for k in range(K):
                work[k] = 0.0
            for c in range(b, nm):
                for k in range(K):
                    work[k] += inv[c, a, k] * inv[c, b, k]
            for k in range(K):
                cond[a, b, k] = work[k]
                cond[b, a, k] = work[k]


@helper
def _flush_cond(rsum, cond, midx, nm, sxx):
    """sxx[j, l, k] (j <= l) += rsum[k] times the conditional covariance of the
    pattern just finished, on its missing block; rsum reset."""
    K = rsum.shape[0]
    for a in range(nm):
        ia = midx[a]
        for b in range(nm):
            ib = midx[b]
            if ia <= ib:
                for k in range(K):
                    sxx[ia, ib, k] += rsum[k] * cond[a, b, k]
    for k in range(K):
        rsum[k] = 0.0


@kernel
def full_missing_pass(X, means, prec_chol, log_norm, sample_weight, out_lpn, out_resp,
                      out_label, out_fill, draw_u, draw_e, ll, nk_p, sx_p, sxx_p):
    """Rows with missing coordinates under full covariances (see the module
    docstring).  X (n, d) sorted by missingness pattern; means (K, d);
    prec_chol (K, d, d) upper (a tied model's factor repeated); log_norm
    (K,) float64; statistics centred on the means, ``sxx_p`` the upper
    triangle of the second moments."""
    n, d = X.shape
    K = means.shape[0]
    P = ll.shape[0]
    want_stats = nk_p.shape[0] > 0
    want_fill = out_fill.shape[0] > 0
    draw = draw_u.shape[0] > 0
    # Components innermost, float64, shared by the partitions: U[t, j, k],
    # Lambda = U U^T as lam[i, j, k], the means as mu[j, k].
    U = np.empty((d, d, K))
    mu = np.empty((d, K))
    for k in range(K):
        for t in range(d):
            mu[t, k] = np.float64(means[k, t])
            for j in range(d):
                U[t, j, k] = np.float64(prec_chol[k, t, j]) if t <= j else 0.0
    lam = np.zeros((d, d, K))
    for i in range(d):
        for j in range(i, d):
            for t in range(j, d):
                for k in range(K):
                    lam[i, j, k] += U[i, t, k] * U[j, t, k]
            for k in range(K):
                lam[j, i, k] = lam[i, j, k]
    for p in prange(P):
        lo = p * n // P
        hi = (p + 1) * n // P
        miss = np.zeros(d, np.bool_)
        midx = np.empty(d, np.int64)
        oidx = np.empty(d, np.int64)
        pmidx = np.empty(d, np.int64)
        chol = np.empty((d, d, K))
        cond = np.empty((d, d, K))
        log_det = np.zeros(K)
        logs = np.empty(d * K + 1)
        work = np.empty(max(d * K, K) + 1)
        z = np.empty((d, K))
        y = np.empty((d, K))
        g = np.empty((d, K))
        q = np.empty(K)
        logp = np.empty(K)
        e = np.empty(K)
        pow2 = np.empty(K)
        fill = np.empty(d)
        rsum = np.zeros(K)
        nk = np.zeros(K if want_stats else 0)
        sx = np.zeros((d if want_stats else 0, K))
        sxx = np.zeros((d if want_stats else 0, d, K))
        s_ll = 0.0
        s_abs = 0.0
        nm = -1  # no pattern yet
        for i in range(lo, hi):
            pnm = nm
            nm, no, same = _read_pattern(X, i, miss, midx, oidx)
            if not (same and pnm >= 0):
                if want_stats and pnm > 0:
                    _flush_cond(rsum, cond, pmidx, pnm, sxx)
                for k in range(K):
                    rsum[k] = 0.0
                for a in range(nm):
                    pmidx[a] = midx[a]
                if nm > 0:
                    _factor_pattern(lam, midx, nm, want_stats, chol, cond, log_det, logs,
                                    work)
                else:
                    for k in range(K):
                        log_det[k] = 0.0
            # z = x - mu on the observed coordinates, 0 on the missing ones
            for j in range(d):
                for k in range(K):
                    z[j, k] = 0.0
            for c in range(no):
                j = oidx[c]
                v = np.float64(X[i, j])
                for k in range(K):
                    z[j, k] = v - mu[j, k]
            # y = U^T z (observed t only), q = |y|^2
            for k in range(K):
                q[k] = 0.0
            for j in range(d):
                for k in range(K):
                    y[j, k] = 0.0
                for c in range(no):
                    t = oidx[c]
                    if t > j:
                        break
                    for k in range(K):
                        y[j, k] += U[t, j, k] * z[t, k]
                for k in range(K):
                    q[k] += y[j, k] * y[j, k]
            # g = U[m, :] y, then w = L^-1 g; q -= |w|^2
            for a in range(nm):
                ia = midx[a]
                for k in range(K):
                    g[a, k] = 0.0
                for j in range(ia, d):
                    for k in range(K):
                        g[a, k] += U[ia, j, k] * y[j, k]
            for a in range(nm):
                for b in range(a):
                    for k in range(K):
                        g[a, k] -= chol[a, b, k] * g[b, k]
                for k in range(K):
                    g[a, k] /= chol[a, a, k]
                    q[k] -= g[a, k] * g[a, k]
            for k in range(K):
                logp[k] = log_norm[k] + nm * _HALF_LOG_2PI - log_det[k] - 0.5 * q[k]
            # the conditional mean's offset -L^-T w, into z's missing entries
            for a in range(nm - 1, -1, -1):
                for b in range(a + 1, nm):
                    for k in range(K):
                        g[a, k] -= chol[b, a, k] * g[b, k]
                for k in range(K):
                    g[a, k] /= chol[a, a, k]
                    z[midx[a], k] = -g[a, k]
            lpn, label = _row_posterior(logp, K, e, pow2, work)
            _write_row(i, lpn, label, logp, K, out_lpn, out_resp, out_label)
            w = _row_weight(sample_weight, i)
            if w != 0.0:
                s_ll += w * lpn
                s_abs += w * abs(lpn)
            if want_stats and no > 0 and w != 0.0:
                for k in range(K):
                    e[k] = w * logp[k]
                    nk[k] += e[k]
                    rsum[k] += e[k]
                for j in range(d):
                    for k in range(K):
                        y[j, k] = e[k] * z[j, k]  # r (x^ - mu)
                        sx[j, k] += y[j, k]
                    for jj in range(j, d):
                        for k in range(K):
                            sxx[j, jj, k] += y[j, k] * z[jj, k]
            if want_fill:
                if draw:
                    kk = _drawn_component(logp, K, draw_u[i])
                    # L^-T e on the missing block, component kk
                    for a in range(nm - 1, -1, -1):
                        v = draw_e[i, midx[a]]
                        for b in range(a + 1, nm):
                            v -= chol[b, a, kk] * fill[b]
                        fill[a] = v / chol[a, a, kk]
                    for a in range(nm):
                        out_fill[i, midx[a]] = z[midx[a], kk] + mu[midx[a], kk] + fill[a]
                else:
                    for a in range(nm):
                        j = midx[a]
                        v = 0.0
                        for k in range(K):
                            v += logp[k] * (z[j, k] + mu[j, k])
                        out_fill[i, j] = v
                for c in range(no):
                    out_fill[i, oidx[c]] = X[i, oidx[c]]
        ll[p, 0] += s_ll
        ll[p, 1] += s_abs
        if want_stats:
            if nm > 0:
                _flush_cond(rsum, cond, pmidx, nm, sxx)
            for k in range(K):
                nk_p[p, k] += nk[k]
            for j in range(d):
                for k in range(K):
                    sx_p[p, k, j] += sx[j, k]
                for jj in range(j, d):
                    for k in range(K):
                        sxx_p[p, k, j, jj] += sxx[j, jj, k]


@kernel
def diag_missing_pass(X, means, prec_chol, log_norm, sample_weight, out_lpn, out_resp,
                      out_label, out_fill, draw_u, draw_e, ll, nk_p, sx_p, sq_p):
    """Rows with missing coordinates under diagonal (or spherical: the value
    repeated) covariances: a missing coordinate drops out of the density,
    its conditional mean is the component's mean and its conditional
    variance the component's.  ``prec_chol`` (K, d) = 1 / standard
    deviations; statistics centred on the means, ``sq_p[p, k, j]`` the
    expected sum of r (x_j - mu_kj)^2."""
    n, d = X.shape
    K = means.shape[0]
    P = ll.shape[0]
    want_stats = nk_p.shape[0] > 0
    want_fill = out_fill.shape[0] > 0
    draw = draw_u.shape[0] > 0
    mu = np.empty((d, K))
    u = np.empty((d, K))
    var = np.empty((d, K))
    logu = np.empty(d * K)
    work = np.empty(d * K)
    for k in range(K):
        for j in range(d):
            mu[j, k] = np.float64(means[k, j])
            u[j, k] = np.float64(prec_chol[k, j])
            var[j, k] = 1.0 / (u[j, k] * u[j, k])
            logu[j * K + k] = u[j, k]
    log_block(logu, d * K, work)
    for p in prange(P):
        lo = p * n // P
        hi = (p + 1) * n // P
        miss = np.zeros(d, np.bool_)
        midx = np.empty(d, np.int64)
        oidx = np.empty(d, np.int64)
        q = np.empty(K)
        logp = np.empty(K)
        e = np.empty(K)
        pow2 = np.empty(K)
        rwork = np.empty(2)
        nk = np.zeros(K if want_stats else 0)
        sx = np.zeros((d if want_stats else 0, K))
        sq = np.zeros((d if want_stats else 0, K))
        s_ll = 0.0
        s_abs = 0.0
        for i in range(lo, hi):
            nm, no, _ = _read_pattern(X, i, miss, midx, oidx)
            for k in range(K):
                q[k] = log_norm[k] + nm * _HALF_LOG_2PI
            for a in range(nm):
                j = midx[a]
                for k in range(K):
                    q[k] -= logu[j * K + k]
            for c in range(no):
                j = oidx[c]
                v = np.float64(X[i, j])
                for k in range(K):
                    t = (v - mu[j, k]) * u[j, k]
                    q[k] -= 0.5 * t * t
            for k in range(K):
                logp[k] = q[k]
            lpn, label = _row_posterior(logp, K, e, pow2, rwork)
            _write_row(i, lpn, label, logp, K, out_lpn, out_resp, out_label)
            w = _row_weight(sample_weight, i)
            if w != 0.0:
                s_ll += w * lpn
                s_abs += w * abs(lpn)
            if want_stats and no > 0 and w != 0.0:
                for k in range(K):
                    e[k] = w * logp[k]
                    nk[k] += e[k]
                for a in range(nm):
                    j = midx[a]
                    for k in range(K):
                        sq[j, k] += e[k] * var[j, k]
                for c in range(no):
                    j = oidx[c]
                    v = np.float64(X[i, j])
                    for k in range(K):
                        t = e[k] * (v - mu[j, k])
                        sx[j, k] += t
                        sq[j, k] += t * (v - mu[j, k])
            if want_fill:
                if draw:
                    kk = _drawn_component(logp, K, draw_u[i])
                    for a in range(nm):
                        j = midx[a]
                        out_fill[i, j] = mu[j, kk] + draw_e[i, j] / u[j, kk]
                else:
                    for a in range(nm):
                        j = midx[a]
                        v = 0.0
                        for k in range(K):
                            v += logp[k] * mu[j, k]
                        out_fill[i, j] = v
                for c in range(no):
                    out_fill[i, oidx[c]] = X[i, oidx[c]]
        ll[p, 0] += s_ll
        ll[p, 1] += s_abs
        if want_stats:
            for k in range(K):
                nk_p[p, k] += nk[k]
            for j in range(d):
                for k in range(K):
                    sx_p[p, k, j] += sx[j, k]
                    sq_p[p, k, j] += sq[j, k]
