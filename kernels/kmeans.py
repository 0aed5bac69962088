"""k-means kernels for the 'kmeans' and 'k-means++' initialisations.

The data are used centred, ``x - mean`` rounded to the data's dtype (what
scikit-learn's KMeans works on after ``X -= X.mean(axis=0)``); pass a zero
``mean`` for the raw rows.  Every kernel takes one chunk of rows and the
chunk's first row number ``start``, and writes row outputs at
``start + i`` of full-length arrays.

Squared distances are taken directly, ``sum_j (x_j - c_j)^2``, in float64,
rather than as ``|x|^2 - 2 x.c + |c|^2``: no cancellation, and stored in the
data's dtype they round to the same values as scikit-learn's float64-upcast
distances.
"""

import numpy as np
from numba import prange

from ._blocks import sq_dist_block
from ._config import BLOCK, MAX_PARTS, PARTS_BUDGET, helper, kernel


@helper
def _centred_block(X, start, nb, mean, XT):
    """XT[j, b] = float64(X[start + b, j] - mean[j]), the difference rounded
    in the data's dtype first."""
    d = X.shape[1]
    for b in range(nb):
        for j in range(d):
            XT[j, b] = X[start + b, j] - mean[j]


@kernel
def candidate_sq_distances(X, start, mean, candidates, closest, out):
    """out[c, start + i] = min(closest[start + i], |x_i - candidates[c]|^2).

    ``closest`` of length 0 means no minimum (the first centre).  ``out`` is
    (n_candidates, n_rows_total) of the data's dtype; ``candidates`` are in
    centred coordinates.
    """
    n, d = X.shape
    n_cand = candidates.shape[0]
    use_min = closest.shape[0] > 0
    n_blocks = (n + BLOCK - 1) // BLOCK
    for blk in prange(n_blocks):
        XT = np.empty((d, BLOCK))
        acc = np.empty(BLOCK)
        lo = blk * BLOCK
        nb = min(BLOCK, n - lo)
        _centred_block(X, lo, nb, mean, XT)
        for c in range(n_cand):
            sq_dist_block(XT, nb, candidates[c], acc)
            row = out[c]
            for b in range(nb):
                i = start + lo + b
                row[i] = acc[b]  # rounded to the output's dtype
                if use_min and closest[i] < row[i]:
                    row[i] = closest[i]


@kernel
def assigned_sq_distances(X, start, mean, centers, labels, out):
    """out[start + i] = |x_i - centers[labels[start + i]]|^2 (data's dtype)."""
    n, d = X.shape
    n_blocks = (n + BLOCK - 1) // BLOCK
    for blk in prange(n_blocks):
        lo = blk * BLOCK
        for i in range(lo, min(lo + BLOCK, n)):
            k = labels[start + i]
            s = 0.0
            for j in range(d):
                t = np.float64(X[i, j] - mean[j]) - np.float64(centers[k, j])
                s += t * t
            out[start + i] = s


@kernel
def lloyd_pass(X, start, mean, centers, labels, want_sums):
    """One Lloyd step over a chunk: nearest centre of every row (first on
    ties), written to ``labels[start + i]``, and, with ``want_sums``, the
    per-cluster row counts and sums of centred rows (float64, summed in a
    thread-independent order).

    Returns ``(n_changed, counts (K,), sums (K, d))`` where ``n_changed``
    counts rows whose label differs from the one ``labels`` held before.
    """
    n, d = X.shape
    n_clusters = centers.shape[0]
    n_blocks = (n + BLOCK - 1) // BLOCK
    P = max(1, min(n_blocks, MAX_PARTS, PARTS_BUDGET // max(1, n_clusters * (d + 1))))
    Ps = P if want_sums else 0
    changed = np.zeros(P, np.int64)
    counts_p = np.zeros((Ps, n_clusters))
    sums_p = np.zeros((Ps, n_clusters, d))
    for p in prange(P):
        XT = np.empty((d, BLOCK))
        acc = np.empty(BLOCK)
        best = np.empty(BLOCK)
        lab = np.empty(BLOCK, np.int64)
        for blk in range(p * n_blocks // P, (p + 1) * n_blocks // P):
            lo = blk * BLOCK
            nb = min(BLOCK, n - lo)
            _centred_block(X, lo, nb, mean, XT)
            for b in range(nb):
                best[b] = np.inf
                lab[b] = 0
            for k in range(n_clusters):
                sq_dist_block(XT, nb, centers[k], acc)
                for b in range(nb):
                    if acc[b] < best[b]:
                        best[b] = acc[b]
                        lab[b] = k
            n_changed = 0
            for b in range(nb):
                row = start + lo + b
                if labels[row] != lab[b]:
                    n_changed += 1
                    labels[row] = lab[b]
            changed[p] += n_changed
            if want_sums:
                cnt = counts_p[p]
                sm = sums_p[p]
                for b in range(nb):
                    k = lab[b]
                    cnt[k] += 1.0
                    for j in range(d):
                        sm[k, j] += XT[j, b]
    counts = np.zeros(n_clusters)
    sums = np.zeros((n_clusters, d))
    for p in range(Ps):
        counts += counts_p[p]
        sums += sums_p[p]
    return changed.sum(), counts, sums
