"""fastem.plot_bound and fastem.plot_mixture (matplotlib, the 'plot' extra)."""

import warnings

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

import fastem  # noqa: E402
from conftest import COVARIANCE_TYPES, make_blobs  # noqa: E402

X = make_blobs(n_samples=600, n_features=3, n_components=3, seed=15)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_plot_bound_draws_every_iteration(tmp_path):
    model = fastem.GaussianMixture(3, random_state=0, tol=1e-8).fit(X)
    ax = fastem.plot_bound(model)
    x, y = ax.lines[0].get_data()
    np.testing.assert_array_equal(x, np.arange(1, model.n_iter_ + 1))
    np.testing.assert_array_equal(y, model.lower_bounds_)
    assert np.all(np.diff(y) >= 0)  # the curve EM promises
    path = tmp_path / "bound.png"
    ax.figure.savefig(path)
    assert path.stat().st_size > 1000


def test_plot_bound_draws_the_chain_as_a_staircase():
    model = fastem.GaussianMixture(3, random_state=0, tol=0.0, max_iter=8,
                                   init_params="random").fit(X)
    ax = fastem.plot_bound(model)
    labels = [line.get_label() for line in ax.lines]
    m_step = ax.lines[labels.index("M-step gain: L(q, theta) raised")]
    kl = ax.lines[labels.index("E-step: KL divergence closed")]
    x, y = m_step.get_data()  # risers: (t + 1/3, lb_t) to (t + 1/3, m_t), NaN-separated
    np.testing.assert_allclose(x[0::3], np.arange(1, 9) + 1 / 3)
    np.testing.assert_array_equal(y[0::3], model.lower_bounds_)
    np.testing.assert_array_equal(y[1::3], model.m_step_bounds_)
    x, y = kl.get_data()
    np.testing.assert_allclose((y[1::3] - y[0::3])[:-1], model.kl_divergences_, rtol=1e-12)
    assert all(float(t).is_integer() for t in ax.get_xticks())


def test_plot_bound_of_a_variational_model():
    model = fastem.BayesianGaussianMixture(n_components=4, random_state=0).fit(X)
    ax = fastem.plot_bound(model)
    np.testing.assert_array_equal(ax.lines[0].get_data()[1], model.lower_bounds_)
    assert "variational" in ax.get_title() and "ELBO" in ax.get_ylabel()


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_plot_mixture_draws_points_means_and_ellipses(tmp_path, covariance_type):
    model = fastem.GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(X)
    ax = fastem.plot_mixture(model, X, features=(0, 2))
    offsets = ax.collections[0].get_offsets()
    np.testing.assert_allclose(offsets, X[:, [0, 2]])
    assert len(ax.patches) == 2 * 3  # 1- and 2-sigma ellipses per component
    first = ax.patches[0]
    cov = model.covariances_
    full = {"full": lambda: cov[0], "tied": lambda: cov, "diag": lambda: np.diag(cov[0]),
            "spherical": lambda: np.eye(3) * cov[0]}[covariance_type]()
    sub = full[np.ix_([0, 2], [0, 2])]
    np.testing.assert_allclose(sorted([first.width, first.height]),
                               2 * np.sqrt(np.linalg.eigvalsh(sub)), rtol=1e-6)
    np.testing.assert_allclose(first.center, model.means_[0, [0, 2]])
    path = tmp_path / "mixture.png"
    ax.figure.savefig(path)
    assert path.stat().st_size > 1000


def test_plot_mixture_on_a_projection_and_on_given_axes():
    model = fastem.GaussianMixture(3, random_state=0).fit(X)
    P = np.linalg.qr(np.random.default_rng(0).normal(size=(3, 2)))[0]
    _, ax = plt.subplots()
    assert fastem.plot_mixture(model, X, features=P, ax=ax) is ax
    np.testing.assert_allclose(ax.collections[0].get_offsets(), X @ P)


def test_plot_errors():
    model = fastem.GaussianMixture(2, random_state=0).fit(X[:, :1])
    with pytest.raises(ValueError, match="needs two features"):
        fastem.plot_mixture(model, X[:, :1])
    with pytest.raises(ValueError, match="X must have shape"):
        fastem.plot_mixture(model, X)
    with pytest.raises(Exception, match="not fitted"):
        fastem.plot_bound(fastem.GaussianMixture())


@pytest.mark.parametrize("family", ["bernoulli", "poisson", "categorical", "student-t"])
def test_plots_of_the_other_families(tmp_path, family):
    from fastem.tools.reference import ESTIMATORS, family_data

    data = family_data(family, 800, 3, 2, seed=3)
    model = getattr(fastem, ESTIMATORS[family])(2, random_state=0).fit(data)
    ax = fastem.plot_bound(model)
    np.testing.assert_array_equal(ax.lines[0].get_data()[1], model.lower_bounds_)
    ax = fastem.plot_mixture(model, data)
    points = ax.collections[0].get_offsets()
    if family == "student-t":
        np.testing.assert_allclose(points, data[:, :2])
        assert len(ax.patches) == 2 * 2
    else:  # discrete rows jittered, so that equal rows stay visible
        assert np.abs(points - data[:, :2]).max() <= 0.3
        assert not ax.patches
    marks = [line.get_xydata()[0] for line in ax.lines]
    assert len(marks) == 2 and all(np.isfinite(m).all() for m in marks)
    ax.figure.savefig(tmp_path / "m.png")


@pytest.mark.parametrize("method", ["incremental", "online"])
def test_plot_bound_of_incremental_and_online_fits(method):
    X = make_blobs(n_samples=2000, n_features=2, n_components=2, seed=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = fastem.GaussianMixture(2, learning_method=method, batch_size=250, max_iter=4,
                                       tol=0.0, random_state=0).fit(X)
    ax = fastem.plot_bound(model)
    assert ax.get_xlabel() == "pass" and "after 4 passes" in ax.get_title()
    lines = ax.get_lines()
    np.testing.assert_allclose(lines[-2 if method == "online" else 1].get_ydata(),
                               model.lower_bounds_)
    if method == "incremental":  # F after every step: one in pass 1, then 8 a pass
        assert lines[0].get_ydata().size == 1 + 3 * 8
    plt.close(ax.figure)
