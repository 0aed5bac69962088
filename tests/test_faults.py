"""Faults mid-fit: a KeyboardInterrupt or a failing chunk source leaves the
estimator exactly as it was before ``fit``, thread settings restored."""

import gc
import warnings

import numba
import numpy as np
import pytest
from threadpoolctl import threadpool_info

import fastem
from conftest import make_blobs
from fastem.engine import passes

X = make_blobs(n_samples=600, n_features=3, n_components=3, seed=21)


def _state(model):
    """Every public fitted attribute, as bytes (or the plain value)."""
    out = {}
    for name, value in vars(model).items():
        if name.endswith("_") and not name.startswith("_"):
            out[name] = value.tobytes() if isinstance(value, np.ndarray) else repr(value)
    return out


def _interrupt_on_pass(monkeypatch, n, error=KeyboardInterrupt):
    """Make the n-th data pass (counting from 1) raise ``error``."""
    real = passes.run_pass
    calls = []

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == n:
            raise error("interrupted mid-fit")
        return real(*args, **kwargs)

    monkeypatch.setattr(passes, "run_pass", failing)
    return calls


def _threads():
    return numba.get_num_threads(), [(i["filepath"], i["num_threads"])
                                      for i in threadpool_info()]


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_interrupted_first_fit_leaves_an_unfitted_estimator(monkeypatch, covariance_type):
    kwargs = dict(n_components=3, covariance_type=covariance_type, random_state=0, tol=0.0,
                  max_iter=5)
    model = fastem.GaussianMixture(**kwargs)
    before = _threads()
    _interrupt_on_pass(monkeypatch, 3)
    with pytest.raises(KeyboardInterrupt):
        model.fit(X)
    assert _state(model) == {}  # not even n_features_in_ or converged_
    assert _threads() == before
    monkeypatch.undo()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X)
        clean = fastem.GaussianMixture(**kwargs).fit(X)
    assert _state(model) == _state(clean)


@pytest.mark.parametrize("method", ["fit", "fit_predict"])
def test_interrupted_refit_keeps_the_previous_model(monkeypatch, method):
    model = fastem.GaussianMixture(3, random_state=0).fit(X)
    before = _state(model)
    other = make_blobs(n_samples=300, n_features=2, n_components=2, seed=4)
    model.set_params(n_components=2)
    _interrupt_on_pass(monkeypatch, 2)
    with pytest.raises(KeyboardInterrupt):
        getattr(model, method)(other)
    assert _state(model) == before
    # the restored model still predicts with its own parameters
    assert model.predict(X).shape == (600,)


def test_an_error_in_the_final_labelling_pass_also_rolls_back(monkeypatch):
    model = fastem.GaussianMixture(3, random_state=0, max_iter=3, tol=0.0)
    calls = _interrupt_on_pass(monkeypatch, 4, error=RuntimeError)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(RuntimeError, match="interrupted mid-fit"):
            model.fit_predict(X)
    assert len(calls) == 4 and _state(model) == {}


def test_a_failing_chunk_source_mid_fit(tmp_path):
    """The source's own exception reaches the caller unchanged, on the third
    pass, after some of its blocks were read; the estimator is untouched."""
    passes = []

    def source():
        passes.append(1)
        for start in range(0, 600, 100):
            if len(passes) == 3 and start == 300:
                raise OSError("disk went away")
            yield X[start:start + 100]

    model = fastem.GaussianMixture(3, random_state=0).fit(X[:300])
    before = _state(model)
    threads = _threads()
    with pytest.raises(OSError, match="disk went away"):
        model.fit(source)
    assert _state(model) == before
    assert _threads() == threads


def test_warm_start_after_an_interrupted_warm_fit(monkeypatch):
    kwargs = dict(n_components=3, random_state=0, warm_start=True, max_iter=2, tol=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = fastem.GaussianMixture(**kwargs).fit(X)
        reference = fastem.GaussianMixture(**kwargs).fit(X)
        after_first = _state(model)
        _interrupt_on_pass(monkeypatch, 2)
        with pytest.raises(KeyboardInterrupt):
            model.fit(X)
        assert _state(model) == after_first
        monkeypatch.undo()
        model.fit(X)  # continues from the first fit, as if never interrupted
        reference.fit(X)
    assert _state(model) == _state(reference)


def test_ill_defined_refit_keeps_the_previous_model():
    model = fastem.GaussianMixture(3, random_state=0).fit(X)
    before = _state(model)
    degenerate = np.repeat(X[:3], 10, axis=0)
    model.set_params(reg_covar=0.0)
    with pytest.raises(ValueError, match="ill-defined empirical covariance"):
        model.fit(degenerate)
    assert _state(model) == before


def test_a_real_sigint_mid_pass():
    """Ctrl-C while a pass reads its blocks: the signal arrives as
    KeyboardInterrupt between two blocks; the fitted model is untouched."""
    import signal

    passes = []

    def source():
        passes.append(1)
        for start in range(0, 600, 100):
            if len(passes) == 4 and start == 200:
                signal.raise_signal(signal.SIGINT)
            yield X[start:start + 100]

    model = fastem.GaussianMixture(3, random_state=0).fit(X[::2])
    before = _state(model)
    # Python's own handler, and no garbage collection during the fit: a
    # finalizer of an earlier test's leftovers (dask's) that happened to run
    # the handler would swallow the KeyboardInterrupt ("exception ignored").
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    gc.collect()
    gc.disable()
    try:
        with pytest.raises(KeyboardInterrupt):
            model.fit(source)
    finally:
        gc.enable()
        signal.signal(signal.SIGINT, previous)
    assert len(passes) == 4
    assert _state(model) == before
