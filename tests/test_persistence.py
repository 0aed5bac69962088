"""model.save(path) / fastem.load(path): a versioned .npz format, no pickle,
validated on load."""

import io
import json
import os
import pickle
import warnings
import zipfile

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

import fastem
from conftest import COVARIANCE_TYPES, DTYPES, make_blobs
from fastem.engine import persistence as _persistence

X = make_blobs(n_samples=300, n_features=3, n_components=3, seed=2)


def _fitted(covariance_type="full", dtype=np.float64, **kwargs):
    kwargs.setdefault("random_state", 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fastem.GaussianMixture(3, covariance_type=covariance_type,
                                      **kwargs).fit(X.astype(dtype))


def _same(a, b):
    for name, value in vars(a).items():
        if name.endswith("_") and not name.startswith("_"):
            other = getattr(b, name)
            if isinstance(value, np.ndarray):
                assert value.dtype == other.dtype and value.tobytes() == other.tobytes(), name
            else:
                assert value == other, name
    assert set(k for k in vars(a) if k.endswith("_")) == set(k for k in vars(b) if k.endswith("_"))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_round_trip_gives_identical_predictions(tmp_path, covariance_type, dtype):
    model = _fitted(covariance_type, dtype)
    path = tmp_path / "model.npz"
    model.save(path)
    loaded = fastem.load(path)
    _same(model, loaded)
    assert loaded.get_params() == model.get_params()
    Y = X.astype(dtype)
    for method in ("predict", "predict_proba", "score_samples"):
        assert getattr(model, method)(Y).tobytes() == getattr(loaded, method)(Y).tobytes()
    assert model.score(Y) == loaded.score(Y) and model.bic(Y) == loaded.bic(Y)
    np.testing.assert_array_equal(model.sample(5)[0], loaded.sample(5)[0])


def test_feature_names_init_arrays_and_unfinished_fits_survive(tmp_path):
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(X, columns=["a", "b", "c"])
    means = X[:3].copy()
    model = fastem.GaussianMixture(3, means_init=means, random_state=None, max_iter=0).fit(df)
    assert model.lower_bound_ == -np.inf
    model.save(tmp_path / "m.npz")
    loaded = fastem.load(tmp_path / "m.npz")
    assert list(loaded.feature_names_in_) == ["a", "b", "c"]
    np.testing.assert_array_equal(loaded.means_init, means)
    assert loaded.lower_bound_ == -np.inf and loaded.lower_bounds_ == []
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no feature-name warning
        np.testing.assert_array_equal(loaded.predict(df), model.predict(df))


def test_file_objects_and_exact_paths(tmp_path):
    model = _fitted()
    buffer = io.BytesIO()
    model.save(buffer)
    buffer.seek(0)
    _same(model, fastem.load(buffer))
    path = tmp_path / "model.bin"  # no .npz appended
    model.save(str(path))
    assert os.listdir(tmp_path) == ["model.bin"]
    _same(model, fastem.load(str(path)))


def test_a_random_state_instance_is_not_saved(tmp_path):
    model = _fitted(random_state=None)
    model.set_params(random_state=np.random.RandomState(3))
    model.save(tmp_path / "m.npz")
    assert fastem.load(tmp_path / "m.npz").random_state is None


def _rewrite(path, member, data):
    """Replace one member of the zip archive at ``path``."""
    with zipfile.ZipFile(path) as z:
        contents = {n: z.read(n) for n in z.namelist()}
    contents[member] = data
    with zipfile.ZipFile(path, "w") as z:
        for n, d in contents.items():
            z.writestr(n, d)


def _npy_bytes(array):
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def test_a_modified_array_is_refused(tmp_path):
    path = tmp_path / "m.npz"
    model = _fitted()
    model.save(path)
    _rewrite(path, "means_.npy", _npy_bytes(model.means_ + 1e-9))
    with pytest.raises(fastem.ModelFileError, match="modified or corrupted"):
        fastem.load(path)


def test_truncated_and_foreign_files_are_refused(tmp_path):
    path = tmp_path / "m.npz"
    _fitted().save(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(fastem.ModelFileError, match="not a readable fastem model file"):
        fastem.load(path)
    text = tmp_path / "t.npz"
    text.write_text("hello")
    with pytest.raises(ValueError, match="not a readable fastem model file"):
        fastem.load(text)
    other = tmp_path / "o.npz"
    np.savez(other, a=np.zeros(3))
    with pytest.raises(fastem.ModelFileError, match="not a fastem model file"):
        fastem.load(other)
    pickled = tmp_path / "p.npz"
    np.savez(pickled, metadata=np.array([{"a": 1}], dtype=object))
    with pytest.raises(fastem.ModelFileError, match="allow_pickle=False"):
        fastem.load(pickled)


def _save_with(path, **changes):
    """A model saved with some attributes changed (digests made to match)."""
    model = _fitted()
    for name, value in changes.items():
        setattr(model, name, value)
    _persistence.save_model(model, path)


@pytest.mark.parametrize(
    "changes, message",
    [
        (dict(weights_=np.array([0.5, 0.4, 0.3])), "not a probability vector"),
        (dict(means_=np.zeros((3, 2))),
         r"member means_: dtype float64, shape \(3, 2\); expected .* of shape \(3, 3\)"),
        (dict(covariances_=np.full((3, 3, 3), np.nan)), "NaN or infinity"),
        (dict(precisions_cholesky_=-np.stack([np.eye(3)] * 3)), "positive diagonal"),
        (dict(precisions_cholesky_=np.stack([np.eye(3)] * 3)), "disagrees"),
        (dict(means_=np.zeros((3, 3), dtype=np.int64)), "member means_: dtype int64"),
    ],
    ids=["weights", "shape", "nan", "cholesky", "inconsistent", "dtype"],
)
def test_invalid_parameters_are_refused(tmp_path, changes, message):
    path = tmp_path / "m.npz"
    _save_with(path, **changes)
    with pytest.raises(fastem.ModelFileError, match=message):
        fastem.load(path)


def test_a_newer_format_asks_for_an_upgrade(tmp_path):
    path = tmp_path / "m.npz"
    _fitted().save(path)
    with np.load(path) as archive:
        metadata = json.loads(str(archive["metadata"]))
    metadata["format_version"] = _persistence.FORMAT_VERSION + 1
    _rewrite(path, "metadata.npy", _npy_bytes(np.array(json.dumps(metadata))))
    with pytest.raises(fastem.ModelFileError, match="upgrade fastem"):
        fastem.load(path)


def test_an_unfitted_model_cannot_be_saved(tmp_path):
    with pytest.raises(NotFittedError):
        fastem.GaussianMixture().save(tmp_path / "m.npz")


def test_an_interrupted_save_leaves_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "m.npz"
    first = _fitted("diag")
    first.save(path)
    before = path.read_bytes()

    def broken(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", broken)
    with pytest.raises(KeyboardInterrupt):
        _fitted("full").save(path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.npz"]


def test_pickle_still_works():
    model = _fitted("tied")
    again = pickle.loads(pickle.dumps(model))
    _same(model, again)


def test_a_path_that_names_no_file_is_pythons_error(tmp_path):
    """A missing path is ``FileNotFoundError`` and a directory
    ``IsADirectoryError``, as everywhere in Python -- not a bad model file."""
    with pytest.raises(FileNotFoundError):
        fastem.load(tmp_path / "absent.npz")
    with pytest.raises(IsADirectoryError):
        fastem.load(tmp_path)


def test_saving_into_a_missing_folder_is_pythons_error(tmp_path):
    target = tmp_path / "nowhere" / "m.npz"
    with pytest.raises(FileNotFoundError) as error:
        _fitted().save(target)
    assert error.value.filename == str(target)


def _format_1(path, out):
    """The file at ``path`` as fastem wrote it before the manifest."""
    with zipfile.ZipFile(path) as z:
        contents = {n: z.read(n) for n in z.namelist()}
    metadata = json.loads(str(np.load(io.BytesIO(contents["metadata.npy"]))))
    del metadata["arrays"]
    metadata["format_version"] = 1
    contents["metadata.npy"] = _npy_bytes(np.array(json.dumps(metadata)))
    with zipfile.ZipFile(out, "w") as z:
        for n, d in contents.items():
            z.writestr(n, d)
    return metadata


def test_format_1_files_still_load(tmp_path):
    model = _fitted("diag")
    assert hasattr(model, "m_step_bounds_")
    model.save(tmp_path / "m.npz")
    _format_1(tmp_path / "m.npz", tmp_path / "old.npz")
    _same(model, fastem.load(tmp_path / "old.npz"))


def test_format_2_needs_its_manifest(tmp_path):
    _fitted("diag").save(tmp_path / "m.npz")
    metadata = _format_1(tmp_path / "m.npz", tmp_path / "bad.npz")
    metadata["format_version"] = 2
    _rewrite(tmp_path / "bad.npz", "metadata.npy", _npy_bytes(np.array(json.dumps(metadata))))
    with pytest.raises(fastem.ModelFileError, match="arrays .* is missing"):
        fastem.load(tmp_path / "bad.npz")


def test_a_manifest_that_disagrees_with_a_header_is_refused(tmp_path):
    path = tmp_path / "m.npz"
    _fitted("spherical").save(path)
    with np.load(path) as archive:
        metadata = json.loads(str(archive["metadata"]))
    metadata["arrays"]["weights_"] = ["<f8", [4]]
    _rewrite(path, "metadata.npy", _npy_bytes(np.array(json.dumps(metadata))))
    with pytest.raises(fastem.ModelFileError, match="member weights_: header .* disagrees"):
        fastem.load(path)


@pytest.mark.parametrize("text", [
    "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 3), }  (",  # tokenize.TokenError
    "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 3)",  # SyntaxError
    "{'descr': '<f8', 'fortran_order': False, 'shape': (3, -3), }",
    "{'descr': '<f8', 'fortran_order': False, 'shape': [3, 3], }",
    "{'descr': 'O', 'fortran_order': False, 'shape': (3, 3), }",
    "__import__('os').system('echo owned')",
], ids=["unclosed", "unfinished", "negative", "list", "object", "code"])
def test_a_broken_npy_header_is_a_model_file_error(tmp_path, text):
    path = tmp_path / "m.npz"
    _fitted("full").save(path)
    with zipfile.ZipFile(path) as z:
        body = z.read("means_.npy")
    start = 10 + int.from_bytes(body[8:10], "little")
    text += " " * (-(10 + len(text) + 1) % 64) + "\n"
    header = b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text.encode()
    _rewrite(path, "means_.npy", header + body[start:])
    with pytest.raises(fastem.ModelFileError, match="member means_"):
        fastem.load(path)


def test_concentrations_that_sum_to_infinity_are_refused(tmp_path):
    model = fastem.BayesianGaussianMixture(
        n_components=2, weight_concentration_prior_type="dirichlet_distribution",
        random_state=0).fit(X)
    model.weight_concentration_ = np.array([1e308, 1e308])
    _persistence.save_model(model, tmp_path / "m.npz")
    with pytest.raises(fastem.ModelFileError, match="sums to infinity"):
        fastem.load(tmp_path / "m.npz")


def test_a_member_the_layout_needs_and_the_metadata_forgets_is_refused(tmp_path):
    rng = np.random.default_rng(0)
    model = fastem.CategoricalMixture(n_components=2, random_state=0).fit(
        rng.integers(0, 3, size=(50, 2)).astype(float))
    path = tmp_path / "m.npz"
    model.save(path)
    with zipfile.ZipFile(path) as z:
        contents = {n: z.read(n) for n in z.namelist() if n != "n_categories_.npy"}
    metadata = json.loads(str(np.load(io.BytesIO(contents["metadata.npy"]))))
    del metadata["sha256"]["n_categories_"], metadata["arrays"]["n_categories_"]
    contents["metadata.npy"] = _npy_bytes(np.array(json.dumps(metadata)))
    with zipfile.ZipFile(path, "w") as z:
        for n, d in contents.items():
            z.writestr(n, d)
    with pytest.raises(fastem.ModelFileError, match="member n_categories_ is missing"):
        fastem.load(path)
