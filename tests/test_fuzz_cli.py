"""Fuzzing the command line's data readers: ``fastem predict MODEL DATA``
on .npy files of odd dtypes, shapes, byte orders and layouts, on .csv files
written every way people write them (quotes, blank lines, NaN/inf, a byte
order mark, CRLF, a header, long lines) and on .h5 files of odd datasets.

The property: exit status 0 and the labels the in-memory array gives, or
exit status 1 and one line on stderr -- the in-memory call's own message
where it refuses the array.  A file whose numbers the in-memory array holds
(a CSV however quoted, spaced or marked) must give the in-memory result.
"""

import collections
import contextlib
import io
import json
import os
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fastem
from fastem.tools import cli
from fuzzing import FUZZ

OUTCOMES = collections.Counter()


@pytest.fixture(scope="module", autouse=True)
def _report():
    yield
    path = os.environ.get("FASTEM_FUZZ_REPORT_CLI")
    if path:
        with open(path, "w") as f:
            json.dump({f"{s} {o}": n for (s, o), n in sorted(OUTCOMES.items())}, f, indent=1)


_MODEL = {}


def _model(tmp):
    if not _MODEL:
        from conftest import make_blobs

        X = make_blobs(n_samples=200, n_features=3, n_components=2, seed=3)
        model = fastem.GaussianMixture(n_components=2, random_state=0).fit(X)
        path = os.path.join(tmp, "model.npz")
        model.save(path)
        _MODEL.update(model=model, path=path)
    return _MODEL["model"], _MODEL["path"]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("fuzz_cli"))


def _run(argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), \
            warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rc = cli.main(argv)
    return rc, out.getvalue(), err.getvalue()


def _expected(model, array):
    """What the in-memory call gives: ("labels", text) or ("error", line)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            labels = model.predict(array)
    except (ValueError, TypeError) as error:
        return "error", cli._one_line(error)
    buffer = io.StringIO()
    np.savetxt(buffer, labels, fmt="%d")
    return "labels", buffer.getvalue()


def _check(surface, workdir, path, array=None, must_read=False):
    """Run ``fastem predict`` on ``path``; compare with the in-memory
    ``array`` (None: the file is unreadable in memory too)."""
    model, model_path = _model(workdir)
    rc, out, err = _run(["predict", model_path, path])
    lines = err.splitlines()
    if rc != 0:
        assert rc == 1 and len(lines) == 1 and lines[0].startswith("fastem: error: "), err
        assert "Traceback" not in err and "numba" not in err.lower(), err
        assert out == ""
    expected = _expected(model, array) if array is not None else ("error", None)
    if expected[0] == "labels":
        if must_read or rc == 0:
            assert rc == 0, err
            assert out == expected[1]
        OUTCOMES[surface, "same labels" if rc == 0 else "one-line error"] += 1
    else:
        assert rc == 1, out
        if expected[1] is not None:
            assert lines[0] == "fastem: error: " + expected[1]
        OUTCOMES[surface, "one-line error"] += 1


NPY_DTYPES = ["<f8", ">f8", "<f4", ">f4", "<f2", "<i8", ">i4", "|i1", "|u1", "<u8", "|b1",
              "<c16", "<M8[s]", "<U4", "|S4", "[('a', '<f8'), ('b', '<f8'), ('c', '<f8')]"]
clean = st.floats(-1e6, 1e6)
special = st.sampled_from([np.nan, np.inf, -np.inf, 0.0, 1e300, -1e300, 5e-324])


def _numbers(data, n):
    """n numbers: all ordinary, or (half the time) with special values among them."""
    values = st.one_of(clean, special) if data.draw(st.booleans()) else clean
    return data.draw(st.lists(values, min_size=n, max_size=n))


@FUZZ
@given(st.sampled_from(NPY_DTYPES), st.lists(st.integers(0, 5), min_size=0, max_size=3),
       st.booleans(), st.data())
def test_npy_files(workdir, dtype, shape, fortran, data):
    shape = tuple(shape)
    if data.draw(st.booleans()):
        shape = (data.draw(st.integers(0, 6)), 3)  # the model's width, half the time
    n = int(np.prod(shape))
    numbers = np.array(_numbers(data, n), dtype=np.float64).reshape(shape)
    dt = np.dtype(eval(dtype) if dtype.startswith("[") else dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if dt.names:
            array = np.zeros(shape, dtype=dt)
        elif dt.kind in "US":
            array = numbers.astype(dt)
        elif dt.kind == "M":
            array = np.nan_to_num(numbers, posinf=0, neginf=0).astype("<i8").astype(dt)
        else:
            array = numbers.astype(dt)
    array = np.asfortranarray(array) if fortran else array
    path = os.path.join(workdir, "data.npy")
    np.save(path, array)
    _check("npy", workdir, path, np.load(path, allow_pickle=False), must_read=True)


def test_npy_of_objects_is_one_line(workdir):
    path = os.path.join(workdir, "objects.npy")
    np.save(path, np.array([[1.0, "a", None]], dtype=object), allow_pickle=True)
    _check("npy", workdir, path)


def _field(value, quote, rnd):
    text = repr(float(value)) if rnd.random() < 0.8 else f"{value:.17g}"
    text = {"nan": rnd.choice(["nan", "NaN", "NAN"]), "inf": rnd.choice(["inf", "Inf"]),
            "-inf": "-inf"}.get(text, text)
    text = " " * rnd.randint(0, 2) + text + " " * rnd.randint(0, 2)
    return f'"{text}"' if quote else text


@FUZZ
@given(st.integers(0, 6), st.data(), st.booleans(), st.booleans(), st.booleans(),
       st.booleans(), st.booleans(), st.sampled_from([",", ", "]),
       st.randoms(use_true_random=False))
def test_csv_files(workdir, n, data, quote, header, bom, crlf, blank, sep, rnd):
    numbers = np.array(_numbers(data, 3 * n), dtype=np.float64).reshape(n, 3)
    rows = [sep.join(_field(v, quote, rnd) for v in row) for row in numbers]
    if header:
        rows.insert(0, sep.join(['"x"', "y", "z z"] if quote else ["x", "y", "z"]))
    if blank and rows:
        for _ in range(rnd.randint(1, 3)):
            rows.insert(rnd.randint(0, len(rows)), rnd.choice(["", "  ", "\t"]))
    text = ("\r\n" if crlf else "\n").join(rows) + rnd.choice(["", "\n", "\n\n"])
    path = os.path.join(workdir, "data.csv")
    with open(path, "wb") as f:
        f.write((b"\xef\xbb\xbf" if bom else b"") + text.encode())
    _check("csv", workdir, path, numbers if n else None, must_read=n > 0)


@FUZZ
@given(st.sampled_from(["1,2", "1,2,3,4", "1;2;3", "a,b,c\n1,2,x", "1,2,3\n4,5",
                        "1e999,0,0", "0x10,1,2", "1,,3", '"1,2",3', "\x00,1,2", "1 2 3",
                        "\ufeff\ufeff1,2,3", "1,2,3" + "0" * 100000, "#c\n1,2,3",
                        "1_0,2,3", " ", "\n\n"]), st.booleans())
def test_csv_oddities_are_one_line_or_read(workdir, text, txt):
    path = os.path.join(workdir, "odd.txt" if txt else "odd.csv")
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    model, model_path = _model(workdir)
    rc, out, err = _run(["predict", model_path, path])
    lines = err.splitlines()
    assert rc in (0, 1)
    if rc == 1:
        assert len(lines) == 1 and lines[0].startswith("fastem: error: "), err
        assert "Traceback" not in err
    OUTCOMES["csv oddities", "read" if rc == 0 else "one-line error"] += 1


@FUZZ
@given(st.sampled_from(["<f8", ">f8", "<f4", "<i2", "|b1", "|S3", "<c8"]),
       st.one_of(st.lists(st.integers(0, 4), min_size=0, max_size=3).map(tuple),
                 st.integers(0, 5).map(lambda n: (n, 3))),
       st.integers(0, 2), st.sampled_from(["", ":x", ":g/x", ":nothing", ":g"]),
       st.booleans())
def test_h5_files(workdir, dtype, shape, extra, spec, chunked):
    h5py = pytest.importorskip("h5py")
    rng = np.random.default_rng(len(shape))
    array = rng.normal(size=shape).astype(dtype)
    path = os.path.join(workdir, "data.h5")
    with h5py.File(path, "w") as f:
        f.create_dataset("g/x" if spec == ":g/x" else "x", data=array,
                         chunks=True if chunked and array.ndim and array.size else None)
        for i in range(extra):
            f.create_dataset(f"other{i}", data=np.zeros((2, 3)))
    one = extra == 0 and spec in ("", ":x", ":g/x")
    readable = one or spec in (":x", ":g/x")
    _check("h5", workdir, path + spec, array if readable else None, must_read=readable)


@pytest.mark.parametrize("dtype", ["<M8[s]", "<m8[D]"])
def test_dates_in_a_npy_file_are_refused_as_in_memory(workdir, dtype):
    path = os.path.join(workdir, "dates.npy")
    np.save(path, np.zeros((4, 3), dtype="<i8").astype(dtype))
    model, _ = _model(workdir)
    assert _expected(model, np.load(path))[0] == "error"
    _check("npy", workdir, path, np.load(path))


def test_nan_and_the_wrong_width_give_the_in_memory_message(workdir):
    path = os.path.join(workdir, "narrow.npy")
    np.save(path, np.array([[0.0], [0.0], [np.nan]]))
    model, _ = _model(workdir)
    assert "NaN" in _expected(model, np.load(path))[1]
    _check("npy", workdir, path, np.load(path))


def test_dates_of_the_wrong_width_get_the_width_message(workdir):
    path = os.path.join(workdir, "narrow_dates.npy")
    np.save(path, np.zeros((1, 1), dtype="<i8").astype("<M8[s]"))
    model, _ = _model(workdir)
    assert "features" in _expected(model, np.load(path))[1]
    _check("npy", workdir, path, np.load(path))


@pytest.mark.parametrize("dtype", ["<f2", ">f8", ">f4"])
def test_infinity_is_named_in_the_files_own_dtype(workdir, dtype):
    path = os.path.join(workdir, "inf.npy")
    np.save(path, np.array([[0.0, 0.0, np.inf], [1.0, 2.0, 3.0]]).astype(dtype))
    model, _ = _model(workdir)
    _check("npy", workdir, path, np.load(path))
