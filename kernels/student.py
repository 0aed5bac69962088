"""Fused E-step and statistics kernels for mixtures of multivariate t components.

A t component is a Gaussian scale mixture: x | u ~ N(mu, Sigma / u) with
u ~ Gamma(nu / 2, rate nu / 2).  With ``maha = |(x - mu) U|^2`` (U the
Cholesky factor of Sigma's inverse, as the Gaussian kernels take it),

    log weight + log t(x) = log_norm[k] - (nu_k + d) / 2 * log(1 + maha / nu_k),

and, given the component, the posterior of the latent scale is Gamma((nu +
d) / 2, rate (nu + maha) / 2): E[u] = (nu + d) / (nu + maha) and E[log u] =
digamma((nu + d) / 2) - log(nu / 2) - log(1 + maha / nu).  EM over (z, u)
needs from a pass, per component: ``nk = sum r``, ``su = sum r E[u]``,
``slog = sum r log(1 + maha / nu)`` (the degrees of freedom's statistic)
and the ``r E[u]``-weighted first and second moments -- the Gaussian
kernels' statistics with the responsibilities times E[u] as weights.

The distances come from the Gaussian kernels' own block helpers (run with
zero constants they return ``-maha / 2``), and so do the weighted scatters:
this file adds the t's log-density, the scale weights and their sums.
Layout, precision and accumulators as ``gaussian.py`` describes.
"""

import numpy as np
from numba import prange

from ._blocks import block_starts, load_block
from ._config import BLOCK, XT_PAD, helper, kernel
from ._posterior import log_block, posterior_block, posterior_buffers
from .gaussian import (
    GEMM_MIN_FEATURES,
    GEMM_SCATTER_MIN_FEATURES,
    _gemm_splits,
    _logprob_block_diag,
    _logprob_block_full,
    _logprob_block_full_gemm,
    _pack_bands,
    _scatter_block_diag,
    _scatter_block_full,
)


@helper
def log1p_ratio(dist, nb, inv, out, work):
    """out[b] = log(1 + dist[b] * inv) for b < nb by ``log_block``'s
    vectorised logs (a distance that overflowed gives +inf)."""
    far = False
    for b in range(nb):
        out[b] = 1.0 + dist[b] * inv
        far |= dist[b] == np.inf
    log_block(out, nb, work)
    if far:
        for b in range(nb):
            if dist[b] == np.inf:
                out[b] = np.inf


@helper
def _t_logprob(logp, nb, log_norm, dof, n_features, dist, lg, work):
    """On entry ``logp[k, b] = -maha / 2``; on exit the weighted t
    log-density, with ``dist[k, b] = maha`` and ``lg[k, b] = log(1 + maha /
    nu_k)`` kept for the statistics.  The logs are ``log_block``'s
    vectorised ones (a distance that overflowed gives +inf, so -inf)."""
    for k in range(logp.shape[0]):
        nu = dof[k]
        inv = 1.0 / nu
        half = 0.5 * (nu + n_features)
        row = logp[k]
        dk = dist[k]
        lk = lg[k]
        for b in range(nb):
            dk[b] = -2.0 * np.float64(row[b])
        log1p_ratio(dk, nb, inv, lk, work)
        for b in range(nb):
            row[b] = log_norm[k] - half * lk[b]


@helper
def _t_weights(resp, nb, dof, n_features, dist, lg, wu, nk, slog):
    """wu[k, b] = r_kb E[u_kb] (the scatters' weights); nk += sum r, slog +=
    sum r log(1 + maha / nu) (float64)."""
    for k in range(resp.shape[0]):
        nu = dof[k]
        top = nu + n_features
        r_sum = 0.0
        l_sum = 0.0
        for b in range(nb):
            r = np.float64(resp[k, b])
            r_sum += r
            l_sum += r * lg[k, b]
            wu[k, b] = r * (top / (nu + dist[k, b]))
        nk[k] += r_sum
        slog[k] += l_sum


@kernel
def t_full_pass(X, means, prec_chol, log_norm, dof, sample_weight, out_lpn, out_resp, out_label,
                segment_rows, ll, nk_p, slog_p, su_p, sx_p, sxx_p):
    """One pass of a t mixture with full (or, repeated, tied) scale matrices.

    X (n, d), means (K, d), prec_chol (K, d, d) upper-triangular: one float
    dtype; log_norm and dof (K,) float64.  Adds into ``ll (P, 2)`` and,
    unless they have no rows, ``nk_p``, ``slog_p``, ``su_p`` (P, K),
    ``sx_p (P, K, d)`` = sum r u (x - mean_k) and ``sxx_p (P, K, d, d)`` its
    upper-triangular second moment.
    """
    n, d = X.shape
    n_comp = means.shape[0]
    P = ll.shape[0]
    want_stats = nk_p.shape[0] > 0
    use_gemm = d >= GEMM_MIN_FEATURES
    gemm_scatter = d >= GEMM_SCATTER_MIN_FEATURES and want_stats
    edges = _gemm_splits(d)
    packed = _pack_bands(prec_chol[:n_comp if use_gemm else 0], edges)
    zeros = np.zeros(n_comp)
    for p in prange(P):
        XT = np.empty((d, BLOCK + XT_PAD), X.dtype)
        diffT = np.empty((d, BLOCK), X.dtype)
        wd = np.empty((d, BLOCK), X.dtype)
        band_out = np.empty(d * d if gemm_scatter else 0, X.dtype)
        y4 = np.empty((4, BLOCK), X.dtype)
        YT = np.empty((d if use_gemm else 0, BLOCK), X.dtype)
        dist = np.empty((n_comp, BLOCK))
        lg = np.empty((n_comp, BLOCK))
        work = np.empty(BLOCK)
        wu = np.empty((n_comp, BLOCK), X.dtype)
        no_term = np.empty(0)
        logp, lpn, scratch = posterior_buffers(n_comp, X)
        for start in block_starts(p, P, n, segment_rows):
            nb = min(BLOCK, n - start)
            load_block(X, start, nb, XT)
            if use_gemm:
                _logprob_block_full_gemm(XT, nb, means, packed, edges, zeros, diffT, YT, logp)
            else:
                _logprob_block_full(XT, nb, means, prec_chol, zeros, diffT, y4, logp)
            _t_logprob(logp, nb, log_norm, dof, d, dist, lg, work)
            posterior_block(logp, nb, start, lpn, scratch, out_lpn, out_resp, out_label, ll[p],
                            sample_weight, no_term)
            if want_stats:
                _t_weights(logp, nb, dof, d, dist, lg, wu, nk_p[p], slog_p[p])
                _scatter_block_full(XT, nb, means, wu, diffT, wd, edges, band_out, su_p[p],
                                    sx_p[p], sxx_p[p])


@kernel
def t_diag_pass(X, means, prec_chol, log_norm, dof, sample_weight, out_lpn, out_resp, out_label,
                segment_rows, ll, nk_p, slog_p, su_p, sx_p, sq_p):
    """One pass of a t mixture with diagonal (or, repeated, spherical)
    scales: prec_chol (K, d) = 1 / standard deviations; ``sq_p (P, K, d)``
    receives sum r u (x - mean_k)^2 per feature.  Otherwise as
    ``t_full_pass``."""
    n, d = X.shape
    n_comp = means.shape[0]
    P = ll.shape[0]
    want_stats = nk_p.shape[0] > 0
    zeros = np.zeros(n_comp)
    for p in prange(P):
        XT = np.empty((d, BLOCK + XT_PAD), X.dtype)
        dist = np.empty((n_comp, BLOCK))
        lg = np.empty((n_comp, BLOCK))
        work = np.empty(BLOCK)
        wu = np.empty((n_comp, BLOCK), X.dtype)
        no_term = np.empty(0)
        logp, lpn, scratch = posterior_buffers(n_comp, X)
        for start in block_starts(p, P, n, segment_rows):
            nb = min(BLOCK, n - start)
            load_block(X, start, nb, XT)
            _logprob_block_diag(XT, nb, means, prec_chol, zeros, logp)
            _t_logprob(logp, nb, log_norm, dof, d, dist, lg, work)
            posterior_block(logp, nb, start, lpn, scratch, out_lpn, out_resp, out_label, ll[p],
                            sample_weight, no_term)
            if want_stats:
                _t_weights(logp, nb, dof, d, dist, lg, wu, nk_p[p], slog_p[p])
                _scatter_block_diag(XT, nb, means, wu, su_p[p], sx_p[p], sq_p[p])
