"""Every input, every method: fastem behaves exactly as scikit-learn.

One table of inputs.  For each input and each method that takes ``X``
(fit, fit_predict, predict, predict_proba, score_samples, score, bic, aic),
fastem and scikit-learn are run side by side and must agree: both raise the
same exception type with the same message, or both return the same result
(same shape and dtype, equal within rounding) with the same warnings.  The
``expect`` column says which of the two the case is about, so that a case
cannot silently turn from "rejected" into "accepted" in both libraries.

The methods other than fit/fit_predict run on models fitted beforehand on
the case's ``fit_X`` (well-formed data of the right width), so that they
see only the case's input.
"""

import warnings
from typing import Any, Callable, NamedTuple

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.mixture import GaussianMixture as SkGaussianMixture

import fastem
from conftest import make_blobs

METHODS = ("fit", "fit_predict", "predict", "predict_proba", "score_samples", "score", "bic",
           "aic")
FIT_METHODS = ("fit", "fit_predict")

BASE = make_blobs(n_samples=80, n_features=3, n_components=2, seed=5)
ONE = make_blobs(n_samples=80, n_features=1, n_components=2, seed=6)


def _nan_in(X):
    X = np.array(X, dtype=float)
    X[7, 1] = np.nan
    return X


def _nan():
    return _nan_in(BASE)


def _value(value):
    def make():
        X = BASE.copy()
        X[3, 2] = value
        return X
    return make


def _overflowed():
    with np.errstate(over="ignore"):
        return _value(1e300)().astype(np.float32)  # inf


def _read_only():
    X = BASE.copy()
    X.flags.writeable = False
    return X


def _memmap(dtype=np.float64, mode="r", transform=None):
    def make(tmp_path):
        X = BASE if transform is None else transform(BASE.copy())
        path = tmp_path / "x.npy"
        np.save(path, np.asarray(X, dtype=dtype))
        return np.load(path, mmap_mode=mode)
    return make


def _raw_memmap(tmp_path):
    path = tmp_path / "x.dat"
    mm = np.memmap(path, dtype=np.float32, mode="w+", shape=BASE.shape)
    mm[:] = BASE
    mm.flush()
    return np.memmap(path, dtype=np.float32, mode="r", shape=BASE.shape)


def _pandas(make):
    def wrapped():
        pd = pytest.importorskip("pandas")
        return make(pd)
    return wrapped


def _frame(pd, X=None, columns=("a", "b", "c")):
    return pd.DataFrame(BASE if X is None else X, columns=list(columns))


def _mixed_frame(pd):
    df = _frame(pd)
    df["a"] = np.round(df["a"] * 10).astype(np.int64)
    return df


def _nullable_frame(pd):
    return _frame(pd).astype("Float64")


def _frame_with_na(pd):
    df = _nullable_frame(pd)
    df.iloc[4, 1] = pd.NA
    return df


def _series(pd):
    return pd.Series(BASE[:, 0])


class Case(NamedTuple):
    """One input.

    ``make``: a function of nothing (or of ``tmp_path``) returning the input.
    ``expect``: "accept" / "reject" by every method; "reject-fit": rejected
    by fit and fit_predict only; "reject-after-fit": rejected by the methods
    of a fitted model only (fit accepts it as new data).
    ``fit_X``: what the models for the per-row methods are fitted on (BASE).
    ``sk_input``: for the per-row methods, the input scikit-learn is given as
    the reference, where its answer is a bug (see ``DEVIATIONS``).
    """

    id: str
    expect: str
    make: Callable
    fit_X: Any = None
    sk_input: Any = None
    n_components: int = 2


def _as_float64(X):
    return np.asarray(X, dtype=np.float64)


#: Where scikit-learn's answer is a bug, fastem gives the correct one; the
#: test compares with scikit-learn on input converted (``sk_input``) so that
#: scikit-learn computes that correct answer.
DEVIATIONS = (
    # 'full' and 'tied' models store each component's log-density in an
    # array of X's dtype before adding the rest: truncated to integers for
    # integer and boolean X, rounded to float16/float32 precision for such X
    # even when the model is float64.  fastem computes in the promoted dtype
    # (NumPy's rules: float64 for integers, and for float32 data scored by a
    # float64 model).
    "log-densities in X's dtype",
    # bic and aic read X.shape before validating X: a list or tuple raises
    # AttributeError; fastem scores it like the array it stands for.
    "bic/aic of a list",
)

INPUTS = [
    # ---- accepted: converted as scikit-learn converts them
    Case("float64", "accept", lambda: BASE.copy()),
    Case("float32", "accept", lambda: BASE.astype(np.float32), sk_input=_as_float64),
    Case("float16", "accept", lambda: BASE.astype(np.float16), sk_input=_as_float64),
    Case("int64", "accept", lambda: np.round(BASE * 10).astype(np.int64), sk_input=_as_float64),
    Case("int32", "accept", lambda: np.round(BASE * 10).astype(np.int32), sk_input=_as_float64),
    Case("uint8", "accept", lambda: np.round(BASE * 5 + 60).astype(np.uint8),
         sk_input=_as_float64),
    Case("bool", "accept", lambda: BASE > 0, sk_input=_as_float64),
    Case("object-floats", "accept", lambda: BASE.astype(object)),
    Case("list", "accept", lambda: BASE.tolist(), sk_input=_as_float64),
    Case("tuple", "accept", lambda: tuple(map(tuple, BASE)), sk_input=_as_float64),
    Case("fortran", "accept", lambda: np.asfortranarray(BASE)),
    Case("strided-columns", "accept", lambda: np.repeat(BASE, 2, axis=1)[:, ::2]),
    Case("strided-rows", "accept", lambda: np.repeat(BASE, 2, axis=0)[::2]),
    Case("reversed", "accept", lambda: BASE[::-1, ::-1]),
    Case("read-only", "accept", _read_only),
    Case("big-endian-f8", "accept", lambda: BASE.astype(">f8")),
    Case("big-endian-f4", "accept", lambda: BASE.astype(">f4"), sk_input=_as_float64),
    Case("big-endian-i4", "accept", lambda: np.round(BASE * 10).astype(">i4"),
         sk_input=_as_float64),
    Case("unaligned", "accept",
         lambda: np.frombuffer(b"\0" + BASE.tobytes(), dtype=np.float64, offset=1).reshape(
             BASE.shape)),
    Case("memmap-r", "accept", _memmap()),
    Case("memmap-r+", "accept", _memmap(mode="r+")),
    Case("memmap-float32", "accept", _memmap(np.float32), sk_input=_as_float64),
    Case("memmap-int16", "accept", _memmap(np.int16, transform=lambda a: np.round(a * 100)),
         sk_input=_as_float64),
    Case("memmap-fortran", "accept", _memmap(transform=np.asfortranarray)),
    Case("raw-memmap-float32", "accept", _raw_memmap, sk_input=_as_float64),
    Case("one-feature", "accept", lambda: ONE.copy(), fit_X=ONE),
    Case("one-feature-view", "accept", lambda: np.hstack([ONE, ONE])[:, 1:], fit_X=ONE),
    Case("two-samples", "accept", lambda: BASE[:2].copy()),
    Case("dataframe", "accept", _pandas(_frame), fit_X=_pandas(_frame)),
    Case("dataframe-mixed-dtypes", "accept", _pandas(_mixed_frame), fit_X=_pandas(_frame)),
    Case("dataframe-nullable", "accept", _pandas(_nullable_frame), fit_X=_pandas(_frame)),
    Case("dataframe-int-columns", "accept", _pandas(lambda pd: pd.DataFrame(BASE))),
    # names at fit but not at predict, or the other way round: a warning
    Case("array-after-names", "accept", lambda: BASE.copy(), fit_X=_pandas(_frame)),
    Case("names-after-array", "accept", _pandas(_frame)),
    # ---- rejected with scikit-learn's exception and message
    Case("nan", "reject", _nan),
    Case("inf", "reject", _value(np.inf)),
    Case("-inf", "reject", _value(-np.inf)),
    Case("float32-overflow", "reject", lambda: _overflowed()),
    Case("nan-object", "reject", lambda: _nan().astype(object)),
    Case("complex", "reject", lambda: BASE + 1j),
    Case("complex-real-valued", "reject", lambda: BASE.astype(np.complex128)),
    Case("strings", "reject", lambda: np.array([["a", "b", "c"]] * 5)),
    Case("object-strings", "reject", lambda: np.array([["a", "b", "c"]] * 5, dtype=object)),
    # fit converts these to float64; a fitted model refuses them
    Case("numeric-strings", "reject-after-fit", lambda: BASE.astype(str)),
    Case("datetime", "reject-after-fit", lambda: np.zeros((5, 3), dtype="datetime64[s]")),
    Case("timedelta", "reject-after-fit", lambda: np.ones((5, 3), dtype="timedelta64[s]")),
    Case("csr", "reject", lambda: sp.csr_matrix(BASE)),
    Case("csr-array", "reject", lambda: sp.csr_array(BASE)),
    pytest.param(Case("matrix", "reject", lambda: np.asmatrix(BASE)),
                 marks=pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")),
    Case("none", "reject", lambda: None),
    Case("scalar", "reject", lambda: 3.0),
    Case("empty", "reject", lambda: np.empty((0, 3))),
    Case("no-features", "reject", lambda: np.empty((5, 0))),
    Case("1-D", "reject", lambda: BASE[:, 0].copy()),
    Case("1-D-list", "reject", lambda: [1.0, 2.0, 3.0]),
    Case("3-D", "reject", lambda: BASE.reshape(80, 3, 1)),
    Case("ragged-list", "reject", lambda: [[1.0, 2.0, 3.0], [1.0, 2.0]]),
    Case("one-sample", "reject-fit", lambda: BASE[:1].copy()),
    Case("fewer-samples-than-components", "reject-fit", lambda: BASE[:2].copy(),
         n_components=3),
    Case("wrong-n-features", "reject-after-fit", lambda: BASE[:, :2].copy()),
    Case("wrong-n-features-memmap", "reject-after-fit", _memmap(transform=lambda a: a[:, :2])),
    Case("memmap-nan", "reject", _memmap(transform=_nan_in)),
    Case("memmap-complex", "reject", _memmap(np.complex64)),
    Case("memmap-1-D", "reject", _memmap(transform=lambda a: a[:, 0])),
    Case("memmap-empty", "reject", _memmap(transform=lambda a: a[:0])),
    Case("series", "reject", _pandas(_series)),
    Case("dataframe-na", "reject", _pandas(_frame_with_na), fit_X=_pandas(_frame)),
    Case("dataframe-other-names", "reject-after-fit",
         _pandas(lambda pd: _frame(pd, columns="xyz")), fit_X=_pandas(_frame)),
    Case("dataframe-strings", "reject",
         _pandas(lambda pd: pd.DataFrame({"a": ["x"] * 5, "b": [1.0] * 5, "c": [2.0] * 5})),
         fit_X=_pandas(_frame)),
]


def _id(case):
    return case.values[0].id if hasattr(case, "values") else case.id


def _call(model, method, X):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = getattr(model, method)(X)
        except Exception as error:  # noqa: BLE001 -- compared, not swallowed
            return "raised", (type(error), str(error)), _warning_list(caught)
    if result is model:
        result = None
    return "returned", result, _warning_list(caught)


def _warning_list(caught):
    # ConvergenceWarning depends on the iteration count, compared elsewhere.
    return sorted((w.category.__name__, str(w.message)) for w in caught
                  if w.category.__name__ != "ConvergenceWarning")


def _fitted(fit_X, **kwargs):
    """A fastem model, and a scikit-learn model fitted on the same data and
    then given the fastem model's parameters (outputs differ by rounding)."""
    models = []
    for cls in (fastem.GaussianMixture, SkGaussianMixture):
        model = cls(**kwargs)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(fit_X)
        models.append(model)
    for name in ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_"):
        setattr(models[1], name, getattr(models[0], name))
    return models


def _make(make, tmp_path):
    import inspect

    return make(tmp_path) if inspect.signature(make).parameters else make()


def _assert_same_outcome(ours, theirs, method):
    kind, value, warned = ours
    assert (kind, warned) == (theirs[0], theirs[2]), (ours, theirs)
    if kind == "raised":
        assert value == theirs[1]
        return kind
    if method in FIT_METHODS:
        return kind
    mine, ref = np.asarray(value), np.asarray(theirs[1])
    assert mine.shape == ref.shape and mine.dtype == ref.dtype, (mine.dtype, ref.dtype)
    if method == "predict":
        np.testing.assert_array_equal(mine, ref)
    else:
        tol = 1e-4 if mine.dtype == np.float32 else 1e-8
        np.testing.assert_allclose(mine, ref, rtol=tol, atol=tol)
    return kind


def _assert_same_fit(ours, theirs):
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
        a, b = getattr(ours, name), getattr(theirs, name)
        assert a.dtype == b.dtype and a.shape == b.shape, name
        tol = 1e-4 if a.dtype == np.float32 else 1e-7
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol * np.abs(b).max(), err_msg=name)
    assert ours.n_features_in_ == theirs.n_features_in_
    names = [getattr(m, "feature_names_in_", None) for m in (ours, theirs)]
    assert (names[0] is None) == (names[1] is None)
    if names[0] is not None:
        np.testing.assert_array_equal(names[0], names[1])


def _expected(expect, method):
    fitting = method in FIT_METHODS
    rejected = {"accept": False, "reject": True, "reject-fit": fitting,
                "reject-after-fit": not fitting}[expect]
    return "raised" if rejected else "returned"


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("case", INPUTS, ids=[_id(c) for c in INPUTS])
def test_input_is_handled_like_scikit_learn(case, method, tmp_path):
    kwargs = dict(n_components=case.n_components, random_state=0, max_iter=20)
    X = _make(case.make, tmp_path)
    if method in FIT_METHODS:
        models = [fastem.GaussianMixture(**kwargs), SkGaussianMixture(**kwargs)]
        inputs = (X, X)
    else:
        fit_X = BASE if case.fit_X is None else case.fit_X
        models = _fitted(fit_X() if callable(fit_X) else fit_X, **kwargs)
        inputs = (X, X if case.sk_input is None else case.sk_input(X))
    outcomes = [_call(model, method, x) for model, x in zip(models, inputs)]
    kind = _assert_same_outcome(*outcomes, method)
    assert kind == _expected(case.expect, method), outcomes[0]
    if kind == "returned" and method in FIT_METHODS:
        _assert_same_fit(*models)
        if method == "fit_predict":
            np.testing.assert_array_equal(outcomes[0][1], outcomes[1][1])


@pytest.mark.parametrize("method", [m for m in METHODS if m not in FIT_METHODS])
def test_not_fitted(method):
    outcomes = [_call(cls(2), method, BASE)
                for cls in (fastem.GaussianMixture, SkGaussianMixture)]
    assert _assert_same_outcome(*outcomes, method) == "raised"
    assert outcomes[0][1][0].__name__ == "NotFittedError"


def test_the_table_is_large_enough():
    assert len(INPUTS) >= 40
    assert len({_id(c) for c in INPUTS}) == len(INPUTS)


def _read_only_copy(a):
    a = np.array(a)
    a.flags.writeable = False
    return a


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
@pytest.mark.parametrize(
    "convert",
    [lambda a: np.asarray(a).tolist(), lambda a: np.asarray(a, dtype=np.float16),
     lambda a: np.asfortranarray(a), _read_only_copy, lambda a: np.asarray(a).astype(">f8"),
     lambda a: np.asarray(a, dtype=np.float32)],
    ids=["list", "float16", "fortran", "read-only", "big-endian", "float32"],
)
def test_init_arrays_of_other_kinds_match_scikit_learn(covariance_type, convert):
    """weights_init, means_init and precisions_init as lists, float16,
    Fortran-ordered, read-only, big-endian or float32 arrays: accepted, and
    the same model as scikit-learn's from them."""
    fitted = fastem.GaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(BASE)
    weights = fitted.weights_.astype(np.float16).astype(np.float64)
    weights /= weights.sum()
    kwargs = dict(n_components=2, covariance_type=covariance_type, max_iter=5, tol=0.0,
                  weights_init=convert(weights), means_init=convert(fitted.means_),
                  precisions_init=convert(fitted.precisions_))
    outcomes = []
    models = [fastem.GaussianMixture(**kwargs), SkGaussianMixture(**kwargs)]
    for model in models:
        outcomes.append(_call(model, "fit", BASE))
    _assert_same_outcome(*outcomes, "fit")
    if outcomes[0][0] == "returned":
        _assert_same_fit(*models)
