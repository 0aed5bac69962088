"""What the fuzz tests (test_fuzz_files.py, test_fuzz_cli.py) share: real
saved models of every family, the ways a model file is damaged or forged,
the equality a loaded model must have with the original, and the budget.

The budget: ``FASTEM_FUZZ_EXAMPLES`` examples per surface (default 40: the
whole fuzz suite then runs in well under a minute); the long run sets it
high (the README's testing section shows the command).
"""

import io
import json
import os
import warnings
import zipfile

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

import fastem
from conftest import make_blobs
from fastem.engine import persistence

EXAMPLES = int(os.environ.get("FASTEM_FUZZ_EXAMPLES", "40"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                suppress_health_check=list(HealthCheck))


def _models():
    """(label, fitted model, data to predict) for every family and the
    variants whose files differ: covariance types, float32, feature names,
    initial-parameter arrays, incremental EM's chain, missing values, the
    variational model's two priors, the discrete families."""
    import pandas as pd

    rng = np.random.default_rng(0)
    X = make_blobs(n_samples=240, n_features=3, n_components=2, seed=1)
    holes = X.copy()
    holes[rng.random(X.shape) < 0.1] = np.nan
    binary = (X > 0).astype(np.float64)
    counts = rng.poisson(3.0, size=(240, 3)).astype(np.float64)
    cats = rng.integers(0, 4, size=(240, 3)).astype(np.float64)
    frame = pd.DataFrame(X.astype(np.float32), columns=["a", "bb", "ccc"])
    out = [
        ("gaussian-full", fastem.GaussianMixture(n_components=2, random_state=0), X, X),
        ("gaussian-tied-f32-names", fastem.GaussianMixture(n_components=2, covariance_type="tied",
                                                           random_state=0), frame, frame),
        ("gaussian-diag-init-incremental",
         fastem.GaussianMixture(n_components=2, covariance_type="diag", means_init=X[:2],
                                learning_method="incremental", batch_size=60), X, X),
        ("gaussian-spherical-missing",
         fastem.GaussianMixture(n_components=2, covariance_type="spherical", missing="marginalize",
                                random_state=0), holes, holes),
        ("bayesian-dp-full", fastem.BayesianGaussianMixture(n_components=2, random_state=0), X, X),
        ("bayesian-dirichlet-tied",
         fastem.BayesianGaussianMixture(n_components=2, covariance_type="tied", random_state=0,
                                        weight_concentration_prior_type=(
                                            "dirichlet_distribution")), X, X),
        ("student-t", fastem.StudentTMixture(n_components=2, random_state=0), X, X),
        ("bernoulli", fastem.BernoulliMixture(n_components=2, random_state=0), binary, binary),
        ("poisson", fastem.PoissonMixture(n_components=2, random_state=0), counts, counts),
        ("categorical", fastem.CategoricalMixture(n_components=2, random_state=0), cats, cats),
        # hidden Markov models: the rows as one sequence
        ("gaussian-hmm-full", fastem.GaussianHMM(2, "full", n_iter=5, random_state=0), X, X),
        ("gmm-hmm-diag", fastem.GMMHMM(2, 2, covariance_type="diag", n_iter=5,
                                       random_state=0), X, X),
        ("categorical-hmm", fastem.CategoricalHMM(2, n_iter=5, random_state=0),
         cats[:, :1].astype(int), cats[:, :1].astype(int)),
        ("poisson-hmm", fastem.PoissonHMM(2, n_iter=5, random_state=0), counts.astype(int),
         counts.astype(int)),
    ]
    models = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for label, model, data, test in out:
            model.fit(data)
            buffer = io.BytesIO()
            model.save(buffer)
            models.append((label, model, buffer.getvalue(), test))
    return models


_CACHE = []
#: How many models ``saved_models`` gives.
N_MODELS = 14


def saved_models():
    """The models of ``_models`` (made once), each with its file's bytes."""
    if not _CACHE:
        _CACHE.extend(_models())
        assert len(_CACHE) == N_MODELS
    return _CACHE


def load_bytes(data):
    return fastem.load(io.BytesIO(data))


# --------------------------------------------------------------------------
# Equality of a loaded model with the original.


def same_value(a, b):
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        if not (isinstance(a, np.ndarray) and isinstance(b, np.ndarray)
                and a.dtype == b.dtype and a.shape == b.shape):
            return False
        return a.tolist() == b.tolist() if a.dtype == object else a.tobytes() == b.tobytes()
    if isinstance(a, (list, tuple)) or isinstance(b, (list, tuple)):
        return (type(a) is type(b) and len(a) == len(b)
                and all(same_value(x, y) for x, y in zip(a, b)))
    numbers = (int, float, np.integer, np.floating)
    if isinstance(a, numbers) and isinstance(b, numbers) \
            and isinstance(a, (bool, np.bool_)) == isinstance(b, (bool, np.bool_)):
        return float(a) == float(b) or (np.isnan(a) and np.isnan(b))
    return type(a) is type(b) and a == b


def same_model(a, b):
    """The fitted attributes and the parameters, bit for bit."""
    fitted = {k for k in vars(a) if k.endswith("_") and not k.startswith("_")}
    if fitted != {k for k in vars(b) if k.endswith("_") and not k.startswith("_")}:
        return False
    if not all(same_value(getattr(a, k), getattr(b, k)) for k in fitted if k != "monitor_"):
        return False
    if "monitor_" in fitted and not (list(a.monitor_.history) == list(b.monitor_.history)
                                     and a.monitor_.iter == b.monitor_.iter):
        return False
    pa, pb = a.get_params(deep=False), b.get_params(deep=False)
    return pa.keys() == pb.keys() and all(
        same_value(np.asarray(pa[k], dtype=np.float64) if isinstance(pa[k], np.ndarray)
                   else pa[k], pb[k]) for k in pa if k != "random_state")


def usable(model, X):
    """What a loaded model, however forged, must still do: finite
    probabilities that sum to one and no NaN in its scores."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            proba = model.predict_proba(X)
            scores = model.score_samples(X)
            if isinstance(scores, tuple):  # a hidden Markov model's (log p(X), posteriors)
                scores = np.asarray(scores[0])
        except ValueError as error:
            # a parameter edited to refuse such data (missing="error")
            return str(error).startswith("Input X contains")
    return (np.all(np.isfinite(proba)) and np.allclose(proba.sum(axis=1), 1.0)
            and not np.any(np.isnan(scores)))


# --------------------------------------------------------------------------
# Rewriting an archive.


def members(data):
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return {info.filename: z.read(info) for info in z.infolist()}


def archive(contents, compression=zipfile.ZIP_STORED):
    """An archive of ``contents`` (name -> bytes; a list of pairs keeps
    duplicate names), with correct CRCs."""
    buffer = io.BytesIO()
    items = contents.items() if isinstance(contents, dict) else contents
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names
        with zipfile.ZipFile(buffer, "w", compression=compression) as z:
            for name, value in items:
                z.writestr(name, value)
    return buffer.getvalue()


def npy(array):
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def read_npy(data):
    return np.load(io.BytesIO(data), allow_pickle=False)


def metadata_of(contents):
    return json.loads(str(read_npy(contents["metadata.npy"])))


def with_metadata(contents, metadata):
    contents = dict(contents)
    contents["metadata.npy"] = npy(np.array(json.dumps(metadata)))
    return contents


def forge(contents, key, array):
    """Member ``key`` replaced by ``array`` with the digest and the manifest
    made to match: what someone who means harm writes."""
    contents = dict(contents)
    contents[key + ".npy"] = npy(array)
    metadata = metadata_of(contents)
    metadata["sha256"][key] = persistence._digest(array)
    metadata.setdefault("arrays", {})[key] = [array.dtype.str, list(array.shape)]
    return with_metadata(contents, metadata)


def header_bytes(dtype_str, shape, fortran=False):
    """A version 1.0 .npy header claiming ``dtype_str`` and ``shape``,
    whatever they are."""
    descr = dtype_str if dtype_str.startswith("[") else repr(dtype_str)
    text = f"{{'descr': {descr}, 'fortran_order': {fortran}, 'shape': {tuple(shape)!r}, }}"
    total = 10 + len(text) + 1
    text += " " * (-total % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text.encode("latin1")


# --------------------------------------------------------------------------
# Strategies.

SPECIAL = [np.nan, np.inf, -np.inf, 0.0, -0.0, -1.0, 5e-324, 1e-310, 1e308, 1e200, -1e200,
           1e-200, 1e30, -1e30, 2.0, 0.5]
DTYPES = ["<f8", "<f4", ">f8", "<f2", "<i8", "<i4", "|u1", "|b1", "<U5", "|O", "<c16",
          "|V8", "[('a', '<f8')]", "<M8[s]", "(2,)<f8"]
shapes = st.lists(st.one_of(st.integers(0, 6), st.sampled_from([10**6, 2**31, 10**11, 2**62])),
                  max_size=4).map(tuple)
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70),
              st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=8),
              st.sampled_from(["array", "inf", "-inf", "nan", "full", "kmeans"])),
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.text(max_size=6), inner, max_size=4)),
    max_leaves=8)
