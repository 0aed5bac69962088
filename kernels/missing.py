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

Layout.  The ``n`` rows are cut into ``P = ll.shape[0]`` contiguous ranges,
one per partition, each walked in order and added into the same
accumulators ``ll[p]``, ``nk_p[p]``, ... a complete rows' kernel uses: the
result depends on ``P`` and the rows, never on the thread count.  Everything
is computed in float64 (these rows are few, and the conditioning wants the
precision); outputs are cast to the data's dtype.

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
def _posterior_row(logp, n_comp):
    """In place: logp -> responsibilities; returns (log-likelihood, label)."""
    best = 0
    top = logp[0]
    for k in range(1, n_comp):
        if logp[k] > top:
            top = logp[k]
            best = k
    if top == -np.inf:
        for k in range(n_comp):
            logp[k] = np.nan
        return -np.inf, -1
    total = 0.0
    for k in range(n_comp):
        e = np.exp(logp[k] - top)
        logp[k] = e
        total += e
    for k in range(n_comp):
        logp[k] /= total
    return top + np.log(total), best


@helper
def _write_row(i, lpn, label, resp, n_comp, out_lpn, out_resp, out_label):
    if out_lpn.shape[0] > 0:
        out_lpn[i] = lpn
    if out_resp.shape[0] > 0:
        for k in range(n_comp):
            out_resp[i, k] = resp[k]
    if out_label.shape[0] > 0:
        out_label[i] = label


@helper
def _drawn_component(resp, n_comp, u):
    """The component where the cumulative responsibility passes u."""
    acc = 0.0
    for k in range(n_comp):
        acc += resp[k]
        if u < acc:
            return k
    for k in range(n_comp - 1, -1, -1):  # u at the top of rounding: the last possible
        if resp[k] > 0.0:
            return k
    return n_comp - 1


@helper
def _row_weight(sample_weight, i):
    if sample_weight.shape[0] == 0:
        return 1.0
    return np.float64(sample_weight[i])


@helper
def _factor_pattern(prec_chol, midx, nm, chol, cond, log_det):
    """For every component, the Cholesky factor ``chol[k]`` (lower, nm x nm)
    of Lambda_mm, its inverse's Gram matrix ``cond[k]`` = Lambda_mm^-1 (the
    conditional covariance) and ``log_det[k] = log|L_k|``."""
    n_comp, d, _ = prec_chol.shape
    inv = np.empty((nm, nm))
    for k in range(n_comp):
        U = prec_chol[k]
        L = chol[k]
        for a in range(nm):
            ia = midx[a]
            for b in range(a + 1):
                ib = midx[b]
                s = 0.0
                for j in range(max(ia, ib), d):
                    s += np.float64(U[ia, j]) * np.float64(U[ib, j])
                L[a, b] = s
        # in-place Cholesky of the lower triangle
        ld = 0.0
        for a in range(nm):
            for b in range(a + 1):
                s = L[a, b]
                for c in range(b):
                    s -= L[a, c] * L[b, c]
                if a == b:
                    r = np.sqrt(s) if s > 0.0 else np.nan
                    L[a, a] = r
                    ld += np.log(r)
                else:
                    L[a, b] = s / L[b, b]
        log_det[k] = ld
        # inverse of L (lower), then cond = inv^T inv
        for a in range(nm):
            for b in range(nm):
                inv[a, b] = 0.0
        for b in range(nm):
            inv[b, b] = 1.0 / L[b, b]
            for a in range(b + 1, nm):
                s = 0.0
                for c in range(b, a):
                    s -= L[a, c] * inv[c, b]
                inv[a, b] = s / L[a, a]
        C = cond[k]
        for a in range(nm):
            for b in range(a, nm):
                s = 0.0
                for c in range(b, nm):
                    s += inv[c, a] * inv[c, b]
                C[a, b] = s
                C[b, a] = s


@helper
def _flush_cond(rsum, cond, midx, nm, sxx):
    """sxx[k] (upper triangle) += rsum[k] * the conditional covariance of the
    pattern just finished, on its missing block; rsum reset."""
    n_comp = rsum.shape[0]
    for k in range(n_comp):
        r = rsum[k]
        if r != 0.0:
            C = cond[k]
            for a in range(nm):
                ia = midx[a]
                for b in range(nm):
                    ib = midx[b]
                    if ia <= ib:
                        sxx[k, ia, ib] += r * C[a, b]
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
    n_comp = means.shape[0]
    P = ll.shape[0]
    want_stats = nk_p.shape[0] > 0
    want_fill = out_fill.shape[0] > 0
    draw = draw_u.shape[0] > 0
    for p in prange(P):
        lo = p * n // P
        hi = (p + 1) * n // P
        miss = np.zeros(d, np.bool_)
        midx = np.empty(d, np.int64)
        prev_midx = np.empty(d, np.int64)
        chol = np.empty((n_comp, d, d))
        cond = np.empty((n_comp, d, d))
        log_det = np.zeros(n_comp)
        rsum = np.zeros(n_comp)
        z = np.empty(d)
        y = np.empty(d)
        g = np.empty(d)
        xhat = np.empty((n_comp, d))
        logp = np.empty(n_comp)
        fill = np.empty(d)
        nm = -1  # no pattern yet
        for i in range(lo, hi):
            # this row's pattern: the same as the last row's?
            same = nm >= 0
            c = 0
            for j in range(d):
                v = X[i, j]
                isnan = v != v
                if isnan != miss[j]:
                    same = False
                miss[j] = isnan
                if isnan:
                    midx[c] = j
                    c += 1
            if not same:
                if want_stats and nm > 0:
                    _flush_cond(rsum, cond, prev_midx, nm, sxx_p[p])
                for k in range(n_comp):
                    rsum[k] = 0.0
                nm = c
                for a in range(nm):
                    prev_midx[a] = midx[a]
                if nm > 0:
                    _factor_pattern(prec_chol, midx, nm, chol, cond, log_det)
                else:
                    for k in range(n_comp):
                        log_det[k] = 0.0
            empty = nm == d
            for k in range(n_comp):
                U = prec_chol[k]
                for j in range(d):
                    z[j] = 0.0 if miss[j] else np.float64(X[i, j]) - np.float64(means[k, j])
                q = 0.0
                for j in range(d):
                    s = 0.0
                    for t in range(j + 1):
                        s += z[t] * np.float64(U[t, j])
                    y[j] = s
                    q += s * s
                L = chol[k]
                # g = U[m, :] y, then w = L^-1 g in place
                for a in range(nm):
                    ia = midx[a]
                    s = 0.0
                    for j in range(ia, d):
                        s += np.float64(U[ia, j]) * y[j]
                    g[a] = s
                for a in range(nm):
                    s = g[a]
                    for b in range(a):
                        s -= L[a, b] * g[b]
                    g[a] = s / L[a, a]
                    q -= g[a] * g[a]
                logp[k] = log_norm[k] + nm * _HALF_LOG_2PI - log_det[k] - 0.5 * q
                # conditional mean offset delta = -L^-T w
                for a in range(nm - 1, -1, -1):
                    s = g[a]
                    for b in range(a + 1, nm):
                        s -= L[b, a] * g[b]
                    g[a] = s / L[a, a]
                xk = xhat[k]
                for j in range(d):
                    xk[j] = z[j]  # centred on the mean
                for a in range(nm):
                    xk[midx[a]] = -g[a]
            lpn, label = _posterior_row(logp, n_comp)
            _write_row(i, lpn, label, logp, n_comp, out_lpn, out_resp, out_label)
            w = _row_weight(sample_weight, i)
            if w != 0.0:
                ll[p, 0] += w * lpn
                ll[p, 1] += w * abs(lpn)
            if want_stats and not empty and w != 0.0:
                nk = nk_p[p]
                sx = sx_p[p]
                sxx = sxx_p[p]
                for k in range(n_comp):
                    r = w * logp[k]
                    if r == 0.0:
                        continue
                    nk[k] += r
                    rsum[k] += r
                    xk = xhat[k]
                    for j in range(d):
                        t = r * xk[j]
                        sx[k, j] += t
                        for jj in range(j, d):
                            sxx[k, j, jj] += t * xk[jj]
            if want_fill:
                if draw:
                    k = _drawn_component(logp, n_comp, draw_u[i])
                    L = chol[k]
                    # L^-T e on the missing block
                    for a in range(nm - 1, -1, -1):
                        s = draw_e[i, midx[a]]
                        for b in range(a + 1, nm):
                            s -= L[b, a] * g[b]
                        g[a] = s / L[a, a]
                    for j in range(d):
                        fill[j] = xhat[k, j] + np.float64(means[k, j])
                    for a in range(nm):
                        fill[midx[a]] += g[a]
                else:
                    for j in range(d):
                        fill[j] = 0.0
                    for k in range(n_comp):
                        r = logp[k]
                        for j in range(d):
                            fill[j] += r * (xhat[k, j] + np.float64(means[k, j]))
                for j in range(d):
                    out_fill[i, j] = X[i, j] if not miss[j] else fill[j]
        if want_stats and nm > 0:
            _flush_cond(rsum, cond, prev_midx, nm, sxx_p[p])


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
    n_comp = means.shape[0]
    P = ll.shape[0]
    want_stats = nk_p.shape[0] > 0
    want_fill = out_fill.shape[0] > 0
    draw = draw_u.shape[0] > 0
    for p in prange(P):
        lo = p * n // P
        hi = (p + 1) * n // P
        logp = np.empty(n_comp)
        fill = np.empty(d)
        for i in range(lo, hi):
            nm = 0
            for j in range(d):
                v = X[i, j]
                nm += v != v
            for k in range(n_comp):
                q = 0.0
                dropped = 0.0
                for j in range(d):
                    u = np.float64(prec_chol[k, j])
                    v = np.float64(X[i, j])
                    if v != v:
                        dropped += np.log(u)
                    else:
                        t = (v - np.float64(means[k, j])) * u
                        q += t * t
                logp[k] = log_norm[k] + nm * _HALF_LOG_2PI - dropped - 0.5 * q
            lpn, label = _posterior_row(logp, n_comp)
            _write_row(i, lpn, label, logp, n_comp, out_lpn, out_resp, out_label)
            w = _row_weight(sample_weight, i)
            if w != 0.0:
                ll[p, 0] += w * lpn
                ll[p, 1] += w * abs(lpn)
            if want_stats and nm < d and w != 0.0:
                nk = nk_p[p]
                sx = sx_p[p]
                sq = sq_p[p]
                for k in range(n_comp):
                    r = w * logp[k]
                    if r == 0.0:
                        continue
                    nk[k] += r
                    for j in range(d):
                        v = np.float64(X[i, j])
                        if v != v:
                            u = np.float64(prec_chol[k, j])
                            sq[k, j] += r / (u * u)
                        else:
                            t = v - np.float64(means[k, j])
                            sx[k, j] += r * t
                            sq[k, j] += r * t * t
            if want_fill:
                if draw:
                    k = _drawn_component(logp, n_comp, draw_u[i])
                    for j in range(d):
                        fill[j] = (np.float64(means[k, j])
                                   + draw_e[i, j] / np.float64(prec_chol[k, j]))
                else:
                    for j in range(d):
                        fill[j] = 0.0
                    for k in range(n_comp):
                        r = logp[k]
                        for j in range(d):
                            fill[j] += r * np.float64(means[k, j])
                for j in range(d):
                    v = X[i, j]
                    out_fill[i, j] = v if v == v else fill[j]
