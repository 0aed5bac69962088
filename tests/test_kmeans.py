"""The k-means initialisation: kernels against NumPy, and the same seeds and
labels as scikit-learn's KMeans / kmeans_plusplus."""

import warnings

import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.cluster import kmeans_plusplus as sk_kmeans_plusplus
from sklearn.exceptions import ConvergenceWarning

from conftest import make_blobs
from fastem import kernels
from fastem.engine import kmeans as _kmeans


def centred(X, mean):
    return (X - mean).astype(np.float64)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n", [1, 255, 257, 3001])
def test_candidate_sq_distances_match_numpy(dtype, n):
    rng = np.random.default_rng(n)
    X = rng.normal(size=(n, 5)).astype(dtype)
    mean = X.mean(axis=0).astype(dtype)
    cand = (X[rng.integers(n, size=3)] - mean).astype(dtype)
    ref = ((centred(X, mean)[None] - cand[:, None].astype(np.float64)) ** 2).sum(-1)
    out = np.empty((3, n + 4), dtype)
    kernels.candidate_sq_distances(X, 4, mean, cand, np.empty(0, dtype), out)
    tol = dict(rtol=1e-6) if dtype == np.float32 else dict(rtol=1e-14, atol=1e-14)
    np.testing.assert_allclose(out[:, 4:], ref, **tol)
    closest = rng.uniform(0, 3, n + 4).astype(dtype)
    kernels.candidate_sq_distances(X, 4, mean, cand, closest, out)
    np.testing.assert_allclose(out[:, 4:], np.minimum(ref, closest[4:]), **tol)
    assert np.all(out[:, 4:] <= closest[4:])


def lloyd(X, mean, centers, labels, upper, lower, moved):
    return kernels.lloyd_pass(X, 0, mean, centers, labels, upper, lower, moved,
                              _kmeans._half_gaps(centers), np.empty(0))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n", [1, 256, 70_001])
def test_lloyd_pass_matches_numpy(dtype, n):
    rng = np.random.default_rng(n)
    X = rng.normal(size=(n, 6)).astype(dtype)
    mean = rng.normal(size=6).astype(dtype)
    centers = rng.normal(size=(7, 6)).astype(dtype)
    Xc = centred(X, mean)

    def distances(centers):
        return np.sqrt(((Xc[:, None] - centers[None].astype(np.float64)) ** 2).sum(-1))

    ref = distances(centers).argmin(axis=1)
    labels = np.full(n, -1, np.int32)
    upper, lower, moved = np.zeros(n), np.zeros(n), np.zeros(7)
    changed, counts, sums = lloyd(X, mean, centers, labels, upper, lower, moved)
    np.testing.assert_array_equal(labels, ref)
    assert changed == n
    np.testing.assert_array_equal(counts, np.bincount(ref, minlength=7))
    ref_sums = np.stack([Xc[ref == k].sum(0) for k in range(7)])
    np.testing.assert_allclose(sums, ref_sums, rtol=1e-12, atol=1e-9)
    # The bounds hold: each row's centre is within upper, every other beyond lower.
    dist = distances(centers)
    assert np.all(dist[np.arange(n), ref] <= upper)
    others = np.where(np.arange(7)[None, :] == ref[:, None], np.inf, dist)
    assert np.all(others.min(axis=1) >= lower)
    # Nothing moved: no row is measured again and nothing changes.
    again = lloyd(X, mean, centers, labels, upper, lower, moved)
    assert again[0] == 0 and not again[1].any() and not again[2].any()
    # Move the centres a little, then a lot: the labels are still exactly the
    # nearest centres, and the changes add up to the new clusters' sums.
    total_counts, total_sums = counts, sums
    for scale in (0.01, 0.3, 3.0):
        new = (centers + scale * rng.normal(size=centers.shape)).astype(dtype)
        moved = np.sqrt(((new.astype(np.float64) - centers) ** 2).sum(1))
        centers = new
        _, d_counts, d_sums = lloyd(X, mean, centers, labels, upper, lower, moved)
        ref = distances(centers).argmin(axis=1)
        np.testing.assert_array_equal(labels, ref)
        total_counts, total_sums = total_counts + d_counts, total_sums + d_sums
        np.testing.assert_array_equal(total_counts, np.bincount(ref, minlength=7))
        ref_sums = np.stack([Xc[ref == k].sum(0) for k in range(7)])
        np.testing.assert_allclose(total_sums, ref_sums, rtol=1e-10, atol=1e-8)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_assigned_sq_distances_match_numpy(dtype):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(1000, 3)).astype(dtype)
    mean = X.mean(axis=0).astype(dtype)
    centers = rng.normal(size=(4, 3)).astype(dtype)
    labels = rng.integers(4, size=1000).astype(np.int32)
    out = np.empty(1000, dtype)
    kernels.assigned_sq_distances(X, 0, mean, centers, labels, out)
    ref = ((centred(X, mean) - centers[labels].astype(np.float64)) ** 2).sum(1)
    np.testing.assert_allclose(out, ref, rtol=1e-6 if dtype == np.float32 else 1e-14)


# Continuous data with no exact distance ties: on an exact tie (two
# candidates with equal potential, a row equidistant from two centres)
# rounding decides, in scikit-learn as here, and the two may differ.
CASES = [(2000, 2, 4, 0), (5000, 8, 16, 1), (3000, 3, 40, 2), (20_000, 5, 8, 3), (800, 32, 6, 4)]


@pytest.mark.parametrize("n, d, k, seed", CASES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_kmeans_plusplus_picks_scikit_learns_seeds(n, d, k, seed, dtype):
    X = make_blobs(n, d, k, seed=seed).astype(dtype)
    ref_centers, ref = sk_kmeans_plusplus(X, k, random_state=seed)
    rs = np.random.RandomState(seed)
    indices, centers = _kmeans.kmeans_plusplus(X, k, rs)
    np.testing.assert_array_equal(indices, ref)
    np.testing.assert_array_equal(centers, ref_centers)
    # The stream is left where scikit-learn leaves it.
    rs_ref = np.random.RandomState(seed)
    sk_kmeans_plusplus(X, k, random_state=rs_ref)
    assert rs.uniform() == rs_ref.uniform()


@pytest.mark.parametrize("n, d, k, seed", CASES)
def test_kmeans_labels_are_scikit_learns(n, d, k, seed):
    X = make_blobs(n, d, k, seed=seed)
    ref = KMeans(k, n_init=1, random_state=np.random.RandomState(seed)).fit(X).labels_
    labels = _kmeans.kmeans_labels(X, k, np.random.RandomState(seed))
    np.testing.assert_array_equal(labels, ref)


def test_kmeans_labels_float32_agree_up_to_ties():
    X = make_blobs(20_000, 4, 6, seed=5).astype(np.float32)
    ref = KMeans(6, n_init=1, random_state=np.random.RandomState(5)).fit(X).labels_
    labels = _kmeans.kmeans_labels(X, 6, np.random.RandomState(5))
    assert np.mean(labels != ref) < 1e-3


def test_kmeans_labels_any_layout():
    X = make_blobs(3000, 4, 5, seed=6)
    ref = _kmeans.kmeans_labels(X, 5, np.random.RandomState(0))
    for other in (np.asfortranarray(X), X[::1].copy()[:, ::1], X.astype(">f8")):
        np.testing.assert_array_equal(_kmeans.kmeans_labels(other, 5, np.random.RandomState(0)),
                                      ref)


def test_empty_cluster_is_relocated_as_scikit_learn_does():
    # Lloyd's first step empties a cluster seeded between two tight groups.
    X = np.array([[0.0, 0.0], [0.1, 0.0], [0.0, 0.1], [10.0, 0.0], [10.1, 0.0], [10.0, 0.1],
                  [5.0, 0.0], [20.0, 0.0]])
    for seed in range(40):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            ref = KMeans(4, n_init=1, random_state=seed).fit(X).labels_
            labels = _kmeans.kmeans_labels(X, 4, np.random.RandomState(seed))
        np.testing.assert_array_equal(labels, ref)


def test_relocation_moves_the_farthest_rows():
    X = np.array([[0.0], [1.0], [2.0], [9.0]])
    mean = np.zeros(1)
    centers = np.array([[1.0], [50.0]])
    labels = np.zeros(4, np.int32)
    counts = np.array([4.0, 0.0])
    sums = np.array([[12.0], [0.0]])
    _kmeans._relocate_empty(X, mean, centers, counts, sums, labels, np.empty(0))
    np.testing.assert_array_equal(counts, [3.0, 1.0])
    np.testing.assert_array_equal(sums, [[3.0], [9.0]])


def test_fewer_distinct_points_than_clusters_warns_like_kmeans():
    X = np.repeat(np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 0.0]]), 5, axis=0)
    with pytest.warns(ConvergenceWarning) as ours:
        labels = _kmeans.kmeans_labels(X, 5, np.random.RandomState(0))
    with pytest.warns(ConvergenceWarning) as theirs:
        ref = KMeans(5, n_init=1, random_state=0).fit(X).labels_
    assert str(ours[0].message) == str(theirs[0].message)
    assert np.unique(labels).size == np.unique(ref).size == 3
