"""k-means++ seeding and Lloyd's k-means for the initialisation, in O(n) memory.

scikit-learn's GaussianMixture initialises with ``KMeans(n_clusters,
n_init=1, random_state=rs).fit(X).labels_`` (or ``kmeans_plusplus``).  KMeans
copies and centres X and allocates several n_samples x n_candidates
temporaries.  This module takes the same random draws in the same order and
the same decisions (k-means++ greedy seeding with ``2 + int(log k)`` local
trials; Lloyd iterations to strict convergence or a centre shift within
``tol * mean(var(X))``; empty clusters moved to the farthest rows; a final
labelling when not strictly converged), with the distance work done by the
kernels in ``fastem.kernels.kmeans``; a Lloyd step measures only the rows
whose Hamerly bounds do not settle their label.  Extra memory: a few arrays of
length n_samples (labels, bounds, distances) and one chunk of candidate
distances.

The seeding's reductions (dot, cumsum, matrix products) are NumPy's own
calls (the candidates' potentials summed over chunks of rows in float64), so
for float64 data the same seeds and labels as scikit-learn's come out (up to
distance ties at rounding level).
Lloyd's distances are taken directly in float64, not as
``|c|^2 - 2 x.c`` in the data's dtype: for float32 data a row that sits on a
tie at float32 precision may get the other label.
"""

import warnings

import numpy as np

from .. import kernels
from ..data.chunks import iter_chunks, kernel_array


def _native(dtype):
    return np.dtype(dtype).newbyteorder("=")


def _centred_rows(X, indices, mean):
    return kernel_array(np.asarray(X[indices]) - mean, mean.dtype)


def _chunk_buffer(flat, n_rows, n_cols):
    """A C-contiguous ``(n_rows, n_cols)`` view of the front of ``flat``."""
    return flat[: n_rows * n_cols].reshape(n_rows, n_cols)


def _min_distances(X, mean, center, closest, first=False):
    """closest = min(closest, |x - center|^2) row by row, in place (with
    ``first``, closest = |x - center|^2), a chunk of rows at a time."""
    dtype = closest.dtype
    no_min = np.empty(0, dtype=dtype)
    flat = None
    for start, stop, chunk in iter_chunks(X, dtype):
        if flat is None:
            flat = np.empty(stop - start, dtype=dtype)
        out = _chunk_buffer(flat, 1, stop - start)
        kernels.candidate_sq_distances(chunk, 0, mean, center,
                                       no_min if first else closest[start:stop], out)
        closest[start:stop] = out[0]


def _candidate_potentials(X, mean, candidates, closest, sample_weight):
    """sum_i w_i min(closest_i, |x_i - c|^2) for each candidate c, summed
    over chunks of rows: never an n_candidates x n_samples array."""
    dtype = closest.dtype
    n_cand = candidates.shape[0]
    pots = np.zeros((n_cand, 1))
    flat = None
    for start, stop, chunk in iter_chunks(X, dtype):
        if flat is None:
            flat = np.empty(n_cand * (stop - start), dtype=dtype)
        out = _chunk_buffer(flat, n_cand, stop - start)
        kernels.candidate_sq_distances(chunk, 0, mean, candidates, closest[start:stop], out)
        pots += out @ sample_weight[start:stop].reshape(-1, 1)
    return pots


def kmeans_plusplus(X, n_clusters, random_state, mean=None, sample_weight=None):
    """Indices of the rows k-means++ picks as seeds (scikit-learn's
    ``kmeans_plusplus``, with its ``sample_weight``), and the seeds in the
    coordinates of ``X - mean``.

    Each step's candidate potentials are summed a chunk of rows at a time
    (scikit-learn holds an ``n_local_trials x n_samples`` array), and the
    chosen candidate's distances are then taken again, into ``closest`` in
    place; the extra memory is a few arrays of length n_samples."""
    n_samples, n_features = X.shape
    dtype = _native(X.dtype)
    mean = kernel_array(np.zeros(n_features) if mean is None else mean, dtype)
    n_local_trials = 2 + int(np.log(n_clusters))
    unit = sample_weight is None
    sample_weight = (np.ones(n_samples, dtype=dtype) if unit
                     else np.asarray(sample_weight, dtype=dtype))

    indices = np.full(n_clusters, -1, dtype=int)
    centers = np.empty((n_clusters, n_features), dtype=dtype)
    center_id = random_state.choice(n_samples, p=sample_weight / sample_weight.sum())
    indices[0] = center_id
    centers[0] = _centred_rows(X, [center_id], mean)[0]
    closest = np.empty(n_samples, dtype=dtype)
    _min_distances(X, mean, centers[:1], closest, first=True)
    current_pot = closest @ sample_weight
    cumulative = np.empty_like(closest)
    for c in range(1, n_clusters):
        rand_vals = random_state.uniform(size=n_local_trials) * current_pot
        # Unit weights: sample_weight * closest is closest itself, bit for bit.
        np.cumsum(closest if unit else sample_weight * closest, out=cumulative)
        candidate_ids = np.searchsorted(cumulative, rand_vals)
        np.clip(candidate_ids, None, n_samples - 1, out=candidate_ids)
        candidates = _centred_rows(X, candidate_ids, mean)
        candidates_pot = _candidate_potentials(X, mean, candidates, closest, sample_weight)
        best = np.argmin(candidates_pot)
        current_pot = candidates_pot[best]
        _min_distances(X, mean, candidates[best:best + 1], closest)
        indices[c] = candidate_ids[best]
        centers[c] = candidates[best]
    return indices, centers


def _tolerance(X, mean, tol, sample_weight=None):
    """``tol`` times the mean of the features' (weighted) variances, in chunks."""
    n_samples, n_features = X.shape
    mean64 = np.asarray(mean, dtype=np.float64)
    sq = np.zeros(n_features)
    for start, stop, chunk in iter_chunks(X, mean.dtype):
        diff = chunk - mean64
        if sample_weight is None:
            sq += np.einsum("ij,ij->j", diff, diff)
        else:
            sq += np.einsum("i,ij,ij->j", sample_weight[start:stop], diff, diff)
    total = n_samples if sample_weight is None else np.sum(sample_weight)
    return float(np.mean(sq / total) * tol)


def _half_gaps(centers):
    """Half the distance from each centre to its nearest other centre."""
    c = np.asarray(centers, dtype=np.float64)
    gaps = np.sqrt(((c[:, None, :] - c[None, :, :]) ** 2).sum(-1))
    np.fill_diagonal(gaps, np.inf)
    return 0.5 * gaps.min(axis=1)


class _Lloyd:
    """Lloyd's state between steps: Hamerly's per-row distance bounds (two
    float64 arrays of n_samples), how far each centre moved since they were
    taken, and the row counts and sums of the clusters as labelled (kept up
    to date from the rows that change label)."""

    def __init__(self, n_samples, n_clusters, n_features):
        self.upper = np.zeros(n_samples)
        self.lower = np.zeros(n_samples)
        self.moved = np.zeros(n_clusters)
        self.counts = np.zeros(n_clusters)
        self.sums = np.zeros((n_clusters, n_features))

    def step(self, X, mean, centers, labels, weights):
        """Assign every row; returns how many labels changed."""
        changed = 0
        half_gap = _half_gaps(centers)
        for start, _, chunk in iter_chunks(X, mean.dtype):
            c, dn, ds = kernels.lloyd_pass(chunk, start, mean, centers, labels, self.upper,
                                           self.lower, self.moved, half_gap, weights)
            changed += c
            self.counts += dn
            self.sums += ds
        self.moved[:] = 0.0
        return changed


def _relocate_empty(X, mean, centers_old, counts, sums, labels, weights):
    """Give each empty cluster one of the rows farthest from their centres
    (taking the row's weight out of its own cluster), as scikit-learn does;
    rows of weight 0 are never taken."""
    empty = np.flatnonzero(counts == 0)
    if empty.size == 0:
        return
    distances = np.empty(X.shape[0], dtype=mean.dtype)
    for start, _, chunk in iter_chunks(X, mean.dtype):
        kernels.assigned_sq_distances(chunk, start, mean, centers_old, labels, distances)
    if weights.shape[0]:
        distances[weights == 0] = -1
    if np.max(distances) <= 0:
        return  # more clusters than distinct rows: nothing to gain
    far = np.argpartition(distances, -empty.size)[: -empty.size - 1 : -1]
    del distances
    for new, idx in zip(empty, far):
        w = weights[idx] if weights.shape[0] else 1.0
        row = (np.asarray(X[idx], dtype=mean.dtype) - mean).astype(np.float64)
        old = labels[idx]
        sums[old] -= w * row
        counts[old] -= w
        sums[new] = w * row
        counts[new] = w


def kmeans_labels(X, n_clusters, random_state, max_iter=300, tol=1e-4, sample_weight=None):
    """Labels of ``KMeans(n_clusters, n_init=1, random_state=random_state)``.

    ``X`` is a 2-D float32/float64 array (any layout); ``random_state`` a
    ``RandomState``, advanced exactly as scikit-learn's KMeans advances it.
    Warns as KMeans does when fewer distinct clusters than asked are found.
    With ``sample_weight``, the weighted k-means of
    ``KMeans.fit(X, sample_weight=...)``, except that the centring mean and
    the tolerance's variances are weighted too (scikit-learn's are not), so
    that rows of weight 0 take no part at all.
    """
    n_samples, n_features = X.shape
    dtype = _native(X.dtype)
    if sample_weight is None:
        weights = np.empty(0)
        mean = kernel_array(np.asarray(X).mean(axis=0), dtype)
    else:
        weights = kernel_array(sample_weight, np.float64)
        mean = kernel_array(weights @ np.asarray(X, dtype=np.float64) / weights.sum(), dtype)
    tol = _tolerance(X, mean, tol, sample_weight)
    _, centers = kmeans_plusplus(X, n_clusters, random_state, mean, sample_weight)
    centers = kernel_array(centers, dtype)
    labels = np.full(n_samples, -1, dtype=np.int32)
    lloyd = _Lloyd(n_samples, n_clusters, n_features)
    strict = False
    for _ in range(max_iter):
        changed = lloyd.step(X, mean, centers, labels, weights)
        counts, sums = lloyd.counts.copy(), lloyd.sums.copy()
        _relocate_empty(X, mean, centers, counts, sums, labels, weights)
        new = np.empty_like(sums)
        full = counts > 0
        new[full] = sums[full] / counts[full, None]
        new[~full] = new[np.argmax(counts)]
        new = kernel_array(new, dtype)
        moves = np.sum((new.astype(np.float64) - centers) ** 2, axis=1)
        lloyd.moved[:] = np.sqrt(moves)
        shift = float(np.sum(moves))
        centers = new
        if changed == 0:
            strict = True
            break
        if shift <= tol:
            break
    if not strict:
        lloyd.step(X, mean, centers, labels, weights)
    distinct = np.unique(labels).size
    if distinct < n_clusters:
        from sklearn.exceptions import ConvergenceWarning

        warnings.warn(
            "Number of distinct clusters ({}) found smaller than "
            "n_clusters ({}). Possibly due to duplicate points "
            "in X.".format(distinct, n_clusters),
            ConvergenceWarning,
            stacklevel=2,
        )
    return labels
