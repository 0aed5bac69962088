"""Behaviour a scikit-learn user relies on: inputs, dtypes, fit/predict consistency."""

import pickle
import warnings

import numpy as np
import pytest

import fastem
from conftest import COVARIANCE_TYPES, make_blobs


@pytest.fixture(scope="module")
def X():
    return make_blobs(n_samples=900, n_features=3, n_components=3, seed=11)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_fit_predict_equals_fit_then_predict(X, covariance_type):
    for max_iter in (1, 3, 100):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            a = fastem.GaussianMixture(3, covariance_type=covariance_type, max_iter=max_iter,
                                       random_state=0)
            labels = a.fit_predict(X)
        np.testing.assert_array_equal(labels, a.predict(X))
        np.testing.assert_array_equal(labels, a.predict_proba(X).argmax(1))


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_fit_reads_the_data_once_per_iteration(X, covariance_type, monkeypatch):
    """fit needs no labels, so it skips fit_predict's final labelling pass;
    both give the same model."""
    from fastem.engine import passes as engine_passes

    passes = []
    real_pass = engine_passes.run_pass

    def counting_pass(*args, **kwargs):
        passes.append(kwargs.get("want_stats"))
        return real_pass(*args, **kwargs)

    monkeypatch.setattr(engine_passes, "run_pass", counting_pass)
    kwargs = dict(n_components=3, covariance_type=covariance_type, max_iter=4, tol=0.0,
                  random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = fastem.GaussianMixture(**kwargs).fit(X)
        assert passes == [True] * 4
        passes.clear()
        b = fastem.GaussianMixture(**kwargs)
        b.fit_predict(X)
        assert passes == [True] * 4 + [False]
    assert a.lower_bound_ == b.lower_bound_
    np.testing.assert_array_equal(a.means_, b.means_)
    np.testing.assert_array_equal(a.precisions_cholesky_, b.precisions_cholesky_)


def test_float32_stays_float32(X):
    X32 = X.astype(np.float32)
    m = fastem.GaussianMixture(3, random_state=0).fit(X32)
    for name in ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_"):
        assert getattr(m, name).dtype == np.float32, name
    assert m.score_samples(X32).dtype == np.float32
    assert m.predict_proba(X32).dtype == np.float32
    assert m.score_samples(X).dtype == np.float64  # float64 input promotes, as in NumPy


@pytest.mark.parametrize(
    "convert",
    [
        np.asfortranarray,
        lambda a: np.round(a * 10).astype(np.int64),
        lambda a: a.astype(">f8"),
        lambda a: np.repeat(a, 2, axis=1)[:, ::2],
        lambda a: a.tolist(),
        lambda a: a.astype(np.float16),
    ],
    ids=["fortran", "int64", "big-endian", "strided", "list", "float16"],
)
def test_other_layouts_give_the_same_model(X, convert):
    ref = fastem.GaussianMixture(3, random_state=0).fit(X)
    other = fastem.GaussianMixture(3, random_state=0).fit(convert(X))
    Xc = np.asarray(convert(X), dtype=np.float64)
    ref_on_c = fastem.GaussianMixture(3, random_state=0).fit(Xc)
    np.testing.assert_allclose(other.means_, ref_on_c.means_, rtol=1e-10)
    np.testing.assert_allclose(other.score_samples(X), ref_on_c.score_samples(X), rtol=1e-10)
    assert ref.means_.shape == other.means_.shape


def test_read_only_memmap_input_is_bitwise_like_in_memory(X, tmp_path):
    path = tmp_path / "x.npy"
    np.save(path, X)
    mm = np.load(path, mmap_mode="r")
    assert not mm.flags.writeable
    a = fastem.GaussianMixture(3, random_state=0).fit(X)
    b = fastem.GaussianMixture(3, random_state=0).fit(mm)
    assert a.means_.tobytes() == b.means_.tobytes()
    assert a.score_samples(X).tobytes() == b.score_samples(mm).tobytes()


def test_chunked_input_equals_single_chunk(monkeypatch):
    """Chunk boundaries are part of the summation order; results must not care
    beyond rounding."""
    from fastem.data import chunks as _data

    X = make_blobs(n_samples=5000, n_features=2, n_components=2, seed=3)
    a = fastem.GaussianMixture(2, random_state=0).fit(X)
    monkeypatch.setattr(_data, "CHUNK_BYTES", 256 * 16 * 3)
    b = fastem.GaussianMixture(2, random_state=0).fit(X)
    np.testing.assert_allclose(a.means_, b.means_, rtol=1e-12)
    np.testing.assert_allclose(a.lower_bound_, b.lower_bound_, rtol=1e-12)


def test_pickle_round_trip(X):
    m = fastem.GaussianMixture(3, covariance_type="tied", random_state=0).fit(X)
    m2 = pickle.loads(pickle.dumps(m))
    np.testing.assert_array_equal(m.score_samples(X), m2.score_samples(X))


def test_feature_names_are_recorded():
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(make_blobs(200, 2), columns=["a", "b"])
    m = fastem.GaussianMixture(2, random_state=0).fit(df)
    assert list(m.feature_names_in_) == ["a", "b"]
    assert m.n_features_in_ == 2


def test_max_iter_zero_with_precisions_init_is_usable(X):
    prec = np.stack([np.eye(3)] * 2)
    m = fastem.GaussianMixture(2, max_iter=0, precisions_init=prec,
                               means_init=X[:2], weights_init=[0.5, 0.5]).fit(X)
    np.testing.assert_allclose(m.covariances_, np.stack([np.eye(3)] * 2))
    assert m.n_iter_ == 0 and m.lower_bounds_ == []


def test_warmup_compiles_every_kernel():
    timings = fastem.warmup()
    families = ("bernoulli", "poisson", "categorical", "student-t", "hmm")
    assert set(timings) == {(c, d) for c in COVARIANCE_TYPES + ("kmeans", "missing") + families
                            for d in ("float64", "float32")}
    from fastem import kernels
    from fastem.kernels._precompile import SPECIALISATIONS

    for name, sigs in SPECIALISATIONS.items():
        assert len(getattr(kernels, name).signatures) == len(sigs), name


def test_blas_threads_are_restored_after_fit_and_predict(X):
    from threadpoolctl import threadpool_info

    before = [(i["filepath"], i["num_threads"]) for i in threadpool_info()]
    m = fastem.GaussianMixture(3, random_state=0).fit(X)
    m.predict(X)
    after = [(i["filepath"], i["num_threads"]) for i in threadpool_info()]
    assert [a for a in after if a in before] == before


def test_import_does_not_load_scikit_learn_until_needed():
    import subprocess
    import sys

    code = ("import sys, fastem; fastem.warmup(covariance_types=('diag',), dtypes=('float64',)); "
            "print('sklearn' in sys.modules); from fastem import GaussianMixture; "
            "print('sklearn' in sys.modules, GaussianMixture.__module__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["False", "True", "fastem.gaussian_mixture"]
    assert "GaussianMixture" in dir(fastem)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        fastem.nope


def test_score_is_the_mean_of_score_samples_in_the_models_dtype(X):
    """scikit-learn's definition: a float32 model's score is the float32 mean
    of its per-row scores (its own rounding); a float64 model's, their
    float64 mean to the last bits."""
    for dtype in (np.float32, np.float64):
        model = fastem.GaussianMixture(3, random_state=0).fit(X.astype(dtype))
        samples = model.score_samples(X.astype(dtype))
        assert samples.dtype == dtype
        if dtype == np.float32:
            assert model.score(X.astype(dtype)) == float(samples.mean())
        else:
            assert model.score(X) == pytest.approx(float(samples.mean()), rel=1e-14)
