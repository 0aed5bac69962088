"""Out-of-core arrays and chunk sources: the same model as in memory, read a
chunk at a time."""

import tracemalloc
import warnings

import numpy as np
import pytest

import fastem
from conftest import COVARIANCE_TYPES, make_blobs

INIT_PARAMS = ("kmeans", "k-means++", "random", "random_from_data")


def _same_model(a, b):
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
        assert getattr(a, name).tobytes() == getattr(b, name).tobytes(), name
    assert a.lower_bound_ == b.lower_bound_
    assert a.n_iter_ == b.n_iter_


def _npy(tmp_path, X, name="X.npy"):
    path = tmp_path / name
    np.save(path, X)
    return np.load(path, mmap_mode="r")


def _blocks(X, sizes):
    """A chunk source: a function returning a new iterator of row blocks of
    the given (cycled) sizes."""
    def source():
        start, i = 0, 0
        while start < X.shape[0]:
            step = sizes[i % len(sizes)]
            yield X[start:start + step]
            start += step
            i += 1
    return source


class ReIterable:
    """An object whose __iter__ starts a new pass each time."""

    def __init__(self, X, step):
        self.X, self.step = X, step

    def __iter__(self):
        for start in range(0, self.X.shape[0], self.step):
            yield self.X[start:start + self.step].tolist()  # lists are fine too


@pytest.fixture(scope="module")
def X():
    return make_blobs(n_samples=3000, n_features=3, n_components=3, seed=11)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_memmap_fit_equals_in_memory_fit(tmp_path, X, covariance_type):
    mm = _npy(tmp_path, X)
    assert isinstance(mm, np.memmap) and not mm.flags.writeable
    kw = dict(n_components=3, covariance_type=covariance_type, random_state=0)
    a = fastem.GaussianMixture(**kw).fit(X)
    b = fastem.GaussianMixture(**kw).fit(mm)
    _same_model(a, b)
    assert b.predict(mm).tobytes() == a.predict(X).tobytes()
    assert b.predict_proba(mm).tobytes() == a.predict_proba(X).tobytes()
    assert b.score_samples(mm).tobytes() == a.score_samples(X).tobytes()
    assert b.score(mm) == a.score(X)
    assert b.bic(mm) == a.bic(X) and b.aic(mm) == a.aic(X)


@pytest.mark.parametrize("init_params", INIT_PARAMS)
def test_chunk_source_fit_equals_in_memory_fit(X, init_params):
    kw = dict(n_components=3, init_params=init_params, random_state=1, max_iter=20)
    a = fastem.GaussianMixture(**kw).fit(X)
    b = fastem.GaussianMixture(**kw).fit(_blocks(X, [1000, 7, 333]))
    _same_model(a, b)
    source = _blocks(X, [512])
    np.testing.assert_array_equal(b.predict(source), a.predict(X))
    assert b.score(source) == a.score(X)
    assert b.n_features_in_ == 3


def test_reiterable_object_and_lists_of_rows(X):
    a = fastem.GaussianMixture(2, covariance_type="diag", random_state=0).fit(X)
    b = fastem.GaussianMixture(2, covariance_type="diag", random_state=0).fit(ReIterable(X, 700))
    _same_model(a, b)


def test_float32_and_integer_memmaps_take_scikit_learn_dtypes(tmp_path, X):
    X32 = X.astype(np.float32)
    a = fastem.GaussianMixture(2, random_state=0).fit(X32)
    b = fastem.GaussianMixture(2, random_state=0).fit(_npy(tmp_path, X32, "f32.npy"))
    _same_model(a, b)
    assert b.means_.dtype == np.float32
    Xi = np.round(X * 10).astype(np.int16)
    a = fastem.GaussianMixture(2, random_state=0).fit(Xi)
    b = fastem.GaussianMixture(2, random_state=0).fit(_npy(tmp_path, Xi, "i16.npy"))
    _same_model(a, b)
    assert b.means_.dtype == np.float64


def test_generator_is_refused_with_a_clear_message(X):
    gen = (X[i:i + 100] for i in range(0, 3000, 100))
    with pytest.raises(TypeError, match="readable once per pass"):
        fastem.GaussianMixture(2).fit(gen)


def test_chunk_source_errors_read_as_scikit_learn(X):
    bad = X.copy()
    bad[2500, 1] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        fastem.GaussianMixture(2).fit(_blocks(bad, [1000]))
    bad[2500, 1] = np.inf
    with pytest.raises(ValueError, match="Input X contains infinity"):
        fastem.GaussianMixture(2).fit(_blocks(bad, [1000]))
    with pytest.raises(ValueError, match="minimum of 2 is required by GaussianMixture"):
        fastem.GaussianMixture(1).fit(_blocks(X[:1], [1]))
    with pytest.raises(ValueError, match="same number of features"):
        fastem.GaussianMixture(2).fit(lambda: iter([X[:10], X[10:20, :2]]))
    with pytest.raises(ValueError, match="Complex data not supported"):
        fastem.GaussianMixture(2).fit(lambda: iter([X[:10] + 1j]))
    model = fastem.GaussianMixture(2, random_state=0).fit(X)
    with pytest.raises(ValueError, match="X has 2 features, but GaussianMixture is expecting 3"):
        model.predict(_blocks(X[:, :2], [100]))


def test_memmap_errors_read_as_scikit_learn(tmp_path, X):
    bad = X.copy()
    bad[-1, 0] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        fastem.GaussianMixture(2).fit(_npy(tmp_path, bad))
    with pytest.raises(ValueError, match="Expected 2D array, got 1D array"):
        fastem.GaussianMixture(2).fit(_npy(tmp_path, X[:, 0], "one.npy"))
    with pytest.raises(ValueError, match="n_samples >= n_components"):
        fastem.GaussianMixture(5).fit(_npy(tmp_path, X[:3], "three.npy"))


def test_a_source_that_changes_between_passes_is_caught(X):
    calls = []

    def shrinking():
        calls.append(1)
        return iter([X[: 3000 - 10 * len(calls)]])

    with pytest.raises(ValueError, match="every pass must yield the same rows"):
        fastem.GaussianMixture(2, random_state=0).fit(shrinking)


def test_init_max_samples_subsamples_the_initialisation(tmp_path, X, monkeypatch):
    from fastem.engine import init

    seen = []
    real = init.kmeans_labels

    def spy(rows, *args, **kwargs):
        seen.append(rows.shape[0])
        return real(rows, *args, **kwargs)

    monkeypatch.setattr(init, "kmeans_labels", spy)
    mm = _npy(tmp_path, X)
    model = fastem.GaussianMixture(3, init_max_samples=500, random_state=0).fit(mm)
    in_memory = fastem.GaussianMixture(3, init_max_samples=500, random_state=0).fit(X)
    assert seen == [500, 500]
    _same_model(model, in_memory)  # the same subsample, then EM over every row
    np.testing.assert_allclose(model.weights_.sum(), 1.0)
    # The subsampled start lands on the same optimum of these well-separated blobs.
    full = fastem.GaussianMixture(3, random_state=0).fit(X)
    np.testing.assert_allclose(np.sort(model.means_, axis=0), np.sort(full.means_, axis=0),
                               rtol=1e-6)
    assert seen == [500, 500, 3000]


def test_init_max_samples_below_n_components_still_gives_a_row_per_cluster(X):
    model = fastem.GaussianMixture(4, init_max_samples=2, random_state=0).fit(X)
    assert np.all(model.weights_ > 0) and np.isfinite(model.lower_bound_)


def test_subsample_indices_are_uniform_and_distinct():
    from fastem.data.sources import subsample_indices

    rng = np.random.RandomState(0)
    idx = subsample_indices(5_000_000, 100_000, rng)
    assert idx.size == 100_000 and np.unique(idx).size == idx.size
    assert np.all(np.diff(idx) > 0) and idx[0] >= 0 and idx[-1] < 5_000_000
    counts = np.bincount(idx // 500_000, minlength=10)
    assert counts.min() > 9_000 and counts.max() < 11_000
    np.testing.assert_array_equal(subsample_indices(10, 20, rng), np.arange(10))


def test_memmap_fit_memory_does_not_grow_with_rows(tmp_path):
    """Extra memory of a fit from a memmap: chunk buffers and the model, not
    n_samples-sized arrays (traced NumPy allocations; 64 MB of data)."""
    rng = np.random.default_rng(0)
    n = 8_000_000
    path = tmp_path / "big.npy"
    mm = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, 2))
    for start in range(0, n, 1_000_000):
        block = rng.normal(size=(1_000_000, 2)).astype(np.float32)
        block[: 500_000] += 5.0
        mm[start:start + 1_000_000] = block
    mm.flush()
    del mm
    X = np.load(path, mmap_mode="r")
    model = fastem.GaussianMixture(2, covariance_type="diag", max_iter=3,
                                   init_max_samples=50_000, random_state=0)
    tracemalloc.start()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 32 * 2**20, peak  # the data alone is 64 MB
    assert np.isfinite(model.lower_bound_)


@pytest.mark.parametrize("module", ["h5py", "zarr"])
def test_h5py_and_zarr_arrays(tmp_path, X, module):
    lib = pytest.importorskip(module)
    if module == "h5py":
        f = lib.File(tmp_path / "X.h5", "w")
        data = f.create_dataset("X", data=X, chunks=(256, 3))
    else:
        data = lib.create_array(store=str(tmp_path / "X.zarr"), shape=X.shape,
                                chunks=(256, 3), dtype=X.dtype)
        data[:] = X
    a = fastem.GaussianMixture(3, covariance_type="tied", random_state=0).fit(X)
    b = fastem.GaussianMixture(3, covariance_type="tied", random_state=0).fit(data)
    _same_model(a, b)
    np.testing.assert_array_equal(b.predict(data), a.predict(X))


def test_verbose_prints_bound_and_throughput_and_a_progress_bar(tmp_path, X, capsys):
    pytest.importorskip("tqdm")
    mm = _npy(tmp_path, X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = fastem.GaussianMixture(2, max_iter=2, tol=0.0, verbose=2, verbose_interval=1,
                                       random_state=0).fit(mm)
    captured = capsys.readouterr()
    lines = [line for line in captured.out.splitlines() if "Iteration" in line]
    assert len(lines) == 2
    assert "ll change" in lines[1] and "rows/s" in lines[1]
    assert f"lower bound {model.lower_bounds_[1]:.5f}" in lines[1]
    assert "rows" in captured.err  # tqdm's bar, on stderr
