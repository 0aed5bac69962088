"""fastem.select: a grid of fits in lockstep, sharing each read of X."""

import math
import warnings

import numpy as np
import pytest

import fastem
from conftest import make_blobs

X = make_blobs(n_samples=1200, n_features=3, n_components=3, seed=4)
GRID = dict(n_components=[1, 2, 3, 4], covariance_types=("full", "tied", "diag", "spherical"))


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def test_every_candidate_is_the_ordinary_fit_and_the_best_wins():
    best, table = _quiet(fastem.select, X, as_frame=False, **GRID)
    assert len(table) == 16
    for record in table:
        model = _quiet(fastem.GaussianMixture(record["n_components"],
                                              covariance_type=record["covariance_type"],
                                              random_state=0).fit, X)
        assert record["error"] is None
        np.testing.assert_allclose(record["bic"], model.bic(X), rtol=1e-10)
        np.testing.assert_allclose(record["aic"], model.aic(X), rtol=1e-10)
        np.testing.assert_allclose(record["log_likelihood"], model.score(X), rtol=1e-10)
        assert record["n_iter"] == model.n_iter_
        assert record["converged"] == model.converged_
        assert record["n_parameters"] == model._n_parameters()
        assert record["fit_time"] > 0
    winner = min(table, key=lambda r: r["bic"])
    assert (best.n_components, best.covariance_type) == (winner["n_components"],
                                                         winner["covariance_type"])
    same = _quiet(fastem.GaussianMixture(best.n_components, covariance_type=best.covariance_type,
                                         random_state=0).fit, X)
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
        np.testing.assert_array_equal(getattr(best, name), getattr(same, name))


def test_aic_and_a_data_frame():
    pd = pytest.importorskip("pandas")
    best, table = _quiet(fastem.select, X, n_components=[2, 3], covariance_types=["diag"],
                         criterion="aic")
    assert isinstance(table, pd.DataFrame)
    assert list(table.columns) == ["n_components", "covariance_type", "bic", "aic",
                                   "log_likelihood", "n_iter", "converged", "n_parameters",
                                   "fit_time", "error"]
    assert best.n_components == table.loc[table["aic"].idxmin(), "n_components"]


def test_each_round_reads_the_data_once():
    """A chunk source counts its passes: the grid needs one per round (the
    longest fit's iterations), not one per candidate and iteration."""
    passes = []

    def source():
        passes.append(1)
        return (X[i:i + 300] for i in range(0, 1200, 300))

    kwargs = dict(n_components=[2, 3, 4], covariance_types=("full", "diag"), tol=0.0,
                  max_iter=10, as_frame=False)
    _, table = _quiet(fastem.select, source, **kwargs)
    alone = len(passes)
    iterations = sum(r["n_iter"] for r in table)
    assert iterations == 60
    # scan + one read of the k-means rows (the same subsample for every
    # candidate) + 10 rounds + the final scores
    assert alone == 1 + 1 + 10 + 1 < iterations
    _, in_memory = _quiet(fastem.select, X, **kwargs)
    for a, b in zip(table, in_memory):
        assert a["bic"] == b["bic"]


def test_candidates_that_cannot_be_fitted_are_reported_not_fatal():
    small = X[:3]
    best, table = _quiet(fastem.select, small, n_components=[1, 5], covariance_types=["diag"],
                         as_frame=False)
    assert best.n_components == 1
    assert table[1]["error"].startswith("Expected n_samples >= n_components")
    assert math.isnan(table[1]["bic"])


def test_sample_weights_are_used():
    w = np.random.default_rng(1).integers(0, 3, X.shape[0]).astype(float)
    _, table = _quiet(fastem.select, X, n_components=[2, 3], covariance_types=["full"],
                      sample_weight=w, as_frame=False)
    model = _quiet(fastem.GaussianMixture(3, random_state=0).fit, X, sample_weight=w)
    np.testing.assert_allclose(table[1]["log_likelihood"],
                               np.average(model.score_samples(X), weights=w), rtol=1e-10)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(criterion="loglik"), ValueError, "criterion must be one of"),
        (dict(n_components=[]), ValueError, "at least one value"),
        (dict(covariance_types=["banana"]), ValueError, "covariance_type"),
        (dict(n_components=[0]), ValueError, "n_components"),
        (dict(covariance_type="full"), TypeError, "select's own arguments"),
    ],
)
def test_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        fastem.select(X, **kwargs)
