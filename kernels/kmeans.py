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

from ._blocks import block_starts, sq_dist_block
from ._config import BLOCK, MAX_PARTS, PARTS_BUDGET, XT_PAD, helper, kernel


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
        XT = np.empty((d, BLOCK + XT_PAD))
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


#: Relative margin of the bound tests: a row is skipped only when its bounds
#: separate its centre from every other by more than rounding could move them.
BOUND_MARGIN = 1e-9


@helper
def _row_sq_dists(X, i, mean, centers):
    """Nearest and second-nearest squared distances of row i, and the label
    of the nearest (first on ties)."""
    n_clusters, d = centers.shape
    best = np.inf
    second = np.inf
    label = 0
    for k in range(n_clusters):
        s = 0.0
        for j in range(d):
            t = np.float64(X[i, j] - mean[j]) - np.float64(centers[k, j])
            s += t * t
        if s < best:
            second = best
            best = s
            label = k
        elif s < second:
            second = s
    return best, second, label


@kernel
def lloyd_pass(X, start, mean, centers, labels, upper, lower, moved, half_gap, weights):
    """One Lloyd assignment step over a chunk, with Hamerly's bounds.

    Every row gets its nearest centre (first on ties) in ``labels[start + i]``.
    ``upper[r]`` bounds row r's distance to its centre from above and
    ``lower[r]`` its distance to any other centre from below, both as of the
    centres before they moved by ``moved[k]``; they are updated here.
    ``half_gap[k]`` is half the distance from centre k to the nearest other.
    A row whose bounds settle its label (by more than ``BOUND_MARGIN``) is
    not measured; all others get every distance, so the labels are those of
    plain Lloyd.  Rows with ``labels[r] < 0`` are always measured.

    Returns ``(n_changed, d_counts (K,), d_sums (K, d))``: how many labels
    changed, and the change they make to each cluster's row count and sum of
    centred rows (float64, summed in a thread-independent order).  With
    ``weights`` (float64, full length; empty: all 1), a row counts its
    weight and adds its weight times its centred values.
    """
    n, d = X.shape
    n_clusters = centers.shape[0]
    n_blocks = (n + BLOCK - 1) // BLOCK
    P = max(1, min(n_blocks, MAX_PARTS, PARTS_BUDGET // max(1, n_clusters * (d + 1))))
    # A row's other centres moved at most the largest move among them.
    top = 0
    for k in range(1, n_clusters):
        if moved[k] > moved[top]:
            top = k
    move1 = moved[top]
    move2 = 0.0
    for k in range(n_clusters):
        if k != top and moved[k] > move2:
            move2 = moved[k]
    changed = np.zeros(P, np.int64)
    counts_p = np.zeros((P, n_clusters))
    sums_p = np.zeros((P, n_clusters, d))
    for p in prange(P):
        XT = np.empty((d, BLOCK + XT_PAD))
        acc = np.empty(BLOCK)
        best = np.empty(BLOCK)
        second = np.empty(BLOCK)
        lab = np.empty(BLOCK, np.int64)
        need = np.empty(BLOCK, np.int64)
        for lo in block_starts(p, P, n, n_blocks * BLOCK):
            nb = min(BLOCK, n - lo)
            first = start + lo
            n_need = 0
            for b in range(nb):
                a = labels[first + b]
                aa = max(a, 0)
                u = upper[first + b] + moved[aa]
                low = lower[first + b] - (move2 if aa == top else move1)
                upper[first + b] = u
                lower[first + b] = low
                z = max(low, half_gap[aa])
                flag = 1 if (a < 0 or u * (1.0 + BOUND_MARGIN) >= z * (1.0 - BOUND_MARGIN)) else 0
                need[b] = flag
                n_need += flag
                lab[b] = aa
            if n_need == 0:
                continue
            if n_need * 4 > nb:
                # Many rows: every distance for the whole block, vectorised.
                _centred_block(X, lo, nb, mean, XT)
                for b in range(nb):
                    best[b] = np.inf
                    second[b] = np.inf
                for k in range(n_clusters):
                    sq_dist_block(XT, nb, centers[k], acc)
                    for b in range(nb):
                        v = acc[b]
                        if v < best[b]:
                            second[b] = best[b]
                            best[b] = v
                            lab[b] = k
                        elif v < second[b]:
                            second[b] = v
                for b in range(nb):
                    upper[first + b] = np.sqrt(best[b]) * (1.0 + BOUND_MARGIN)
                    lower[first + b] = np.sqrt(second[b]) * (1.0 - BOUND_MARGIN)
            else:
                for b in range(nb):
                    if need[b]:
                        b1, b2, l1 = _row_sq_dists(X, lo + b, mean, centers)
                        lab[b] = l1
                        upper[first + b] = np.sqrt(b1) * (1.0 + BOUND_MARGIN)
                        lower[first + b] = np.sqrt(b2) * (1.0 - BOUND_MARGIN)
            cnt = counts_p[p]
            sm = sums_p[p]
            for b in range(nb):
                old = labels[first + b]
                new = lab[b]
                if old == new:
                    continue
                changed[p] += 1
                labels[first + b] = new
                w = weights[first + b] if weights.shape[0] > 0 else 1.0
                cnt[new] += w
                for j in range(d):
                    sm[new, j] += w * (X[lo + b, j] - mean[j])
                if old >= 0:
                    cnt[old] -= w
                    for j in range(d):
                        sm[old, j] -= w * (X[lo + b, j] - mean[j])
    counts = np.zeros(n_clusters)
    sums = np.zeros((n_clusters, d))
    for p in range(P):
        counts += counts_p[p]
        sums += sums_p[p]
    return changed.sum(), counts, sums
