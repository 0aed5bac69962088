"""Plots of a fitted mixture (the optional extra ``fastem[plot]``: matplotlib).

* ``plot_bound(model)``: the lower bound at every EM iteration
  (``model.lower_bounds_``) -- the curve EM promises never goes down -- and
  the chain between its points: each M-step's gain and each E-step's KL
  divergence.
* ``plot_mixture(model, X)``: 2-D data coloured by component, with each
  component's mean and its 1- and 2-standard-deviation ellipses, on two
  features or on any linear projection.

Both draw on a given matplotlib ``Axes`` (or a new figure's) and return it.
"""

import numpy as np

#: At most this many rows are drawn by plot_mixture (a uniform subsample).
MAX_POINTS = 20_000


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError(
            "fastem's plots need matplotlib: pip install \"fastem[plot]\""
        ) from None
    return plt


def _axes(ax):
    if ax is not None:
        return ax
    plt = _pyplot()
    _, ax = plt.subplots(figsize=(6, 4))
    return ax


def plot_bound(model, ax=None):
    """Draw the bound at every EM iteration (``model.lower_bounds_``) and,
    for a maximum-likelihood model, the seed's chain between them: a
    staircase whose risers are each iteration's M-step gain, L(q_t,
    theta_{t+1}) - L(q_t, theta_t), and the KL divergence the next E-step
    closes, log p(X | theta_{t+1}) - L(q_t, theta_{t+1}) (``m_step_bounds_``,
    ``kl_divergences_``).  A variational model's bound (its ELBO) is drawn
    alone.  A model fitted by incremental EM: F after each pass and after
    every step (per block) between them; by online EM: each pass's mean
    batch log-likelihood.

    Parameters
    ----------
    model : fitted fastem mixture
    ax : matplotlib Axes, optional

    Returns
    -------
    ax : matplotlib Axes
    """
    from matplotlib.ticker import MaxNLocator
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(model)
    bounds = np.asarray(model.lower_bounds_, dtype=np.float64).ravel()
    ax = _axes(ax)
    method = getattr(model, "learning_method", "batch")
    if method != "batch":
        return _plot_passes(ax, model, bounds, method)
    iterations = np.arange(1, bounds.size + 1)
    ax.plot(iterations, bounds, marker="o", markersize=3, linewidth=0 if _has_chain(model)
            else 1.5, color="C0", label="E-step: log-likelihood" if _has_chain(model)
            else "lower bound")
    if bounds.size:
        ax.axhline(bounds[-1], color="0.6", linewidth=0.8, linestyle="--")
    if _has_chain(model) and bounds.size:
        _draw_chain(ax, bounds, np.asarray(model.m_step_bounds_, dtype=np.float64))
        ax.legend(loc="lower right", fontsize="small")
    state = "converged" if model.converged_ else "not converged"
    kind = "" if _has_chain(model) else "variational "
    hmm = hasattr(model, "transmat_")
    if hmm:
        ax.set_title(f"Baum-Welch: {model.n_components} "
                     f"{_component_kind(model).replace('HMM', '')} states, "
                     f"{state} after {model.n_iter_} iterations")
    else:
        ax.set_title(f"EM {kind}lower bound: {model.n_components} {_component_kind(model)} "
                     f"components, {state} after {model.n_iter_} iterations")
    ax.set_xlabel("iteration")
    if hmm:
        ax.set_ylabel("log-likelihood of the sequences (total; + log prior in the chain)")
    elif not _has_chain(model):
        ax.set_ylabel("lower bound (ELBO, total)")
    elif hasattr(model, "alpha"):  # a MAP family: the prior is in the bound
        ax.set_ylabel("mean log-likelihood + log prior / n, per sample")
    else:
        ax.set_ylabel("mean log-likelihood per sample")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(True, alpha=0.3)
    return ax


def _plot_passes(ax, model, bounds, method):
    """Incremental EM: F after every step (the first pass ends with the
    first) and after each pass; online EM: each pass's mean batch
    log-likelihood."""
    from matplotlib.ticker import MaxNLocator

    passes = np.arange(1, bounds.size + 1)
    steps = np.asarray(getattr(model, "m_step_bounds_", []), dtype=np.float64)
    if method == "incremental" and steps.size > 1 and bounds.size > 1:
        per_pass = (steps.size - 1) / (bounds.size - 1)
        x = np.concatenate([[1.0], 1.0 + np.arange(1, steps.size) / per_pass])
        ax.plot(x, steps, linewidth=1.0, color="C1", label="F after every step")
    label = ("F after each pass" if method == "incremental"
             else "mean log-likelihood of the pass's batches")
    ax.plot(passes, bounds, marker="o", markersize=3, linewidth=0 if method == "incremental"
            else 1.5, color="C0", label=label)
    if bounds.size:
        ax.axhline(bounds[-1], color="0.6", linewidth=0.8, linestyle="--")
    ax.legend(loc="lower right", fontsize="small")
    state = "converged" if model.converged_ else "not converged"
    ax.set_title(f"{method.capitalize()} EM: {model.n_components} {_component_kind(model)} "
                 f"components, {state} after {model.n_iter_} passes")
    ax.set_xlabel("pass")
    if method == "online":
        ax.set_ylabel("mean log-likelihood per sample")
    else:
        ax.set_ylabel("F(q, theta) per sample" if model._family().exact_em
                      else "lower bound (ELBO, total)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(True, alpha=0.3)
    return ax


def _has_chain(model):
    return hasattr(model, "m_step_bounds_")


def _draw_chain(ax, bounds, m_bounds):
    """Treads at each bound, an M-step riser a third of the way to the next
    iteration and a KL riser two thirds of the way."""
    n = min(bounds.size, m_bounds.size)
    t = np.arange(1, n + 1, dtype=np.float64)
    after = np.append(bounds[1:n], np.nan) if n == bounds.size else bounds[1:n + 1]
    gap = np.full(n, np.nan)

    def segments(x0, y0, x1, y1):
        return (np.column_stack([x0, x1, gap]).ravel(), np.column_stack([y0, y1, gap]).ravel())

    ax.plot(*segments(t, bounds[:n], t + 1 / 3, bounds[:n]), color="0.6", linewidth=1)
    ax.plot(*segments(t + 1 / 3, m_bounds[:n], t + 2 / 3, m_bounds[:n]), color="0.6",
            linewidth=1)
    ax.plot(*segments(t + 2 / 3, after, t + 1, after), color="0.6", linewidth=1)
    ax.plot(*segments(t + 1 / 3, bounds[:n], t + 1 / 3, m_bounds[:n]), color="C1",
            linewidth=2, label="M-step gain: L(q, theta) raised")
    ax.plot(*segments(t + 2 / 3, m_bounds[:n], t + 2 / 3, after), color="C2", linewidth=2,
            label="E-step: KL divergence closed")


def _full_covariances(model):
    K, d = model.means_.shape
    cov = np.asarray(model.covariances_, dtype=np.float64)
    if model.covariance_type == "full":
        return cov
    if model.covariance_type == "tied":
        return np.broadcast_to(cov, (K, d, d))
    if model.covariance_type == "diag":
        return np.stack([np.diag(c) for c in cov])
    return np.stack([np.eye(d) * c for c in cov])


def _projection(features, n_features):
    if features is None:
        features = (0, 1) if n_features >= 2 else (0,)
    P = np.asarray(features)
    if P.ndim == 1:
        if P.size != 2 or n_features < 2:
            raise ValueError("plot_mixture needs two features (or a (n_features, 2) "
                             f"projection); the model has {n_features} feature(s)")
        index = P.astype(int)
        P = np.zeros((n_features, 2))
        P[index[0], 0] = 1.0
        P[index[1], 1] = 1.0
        labels = [f"feature {index[0]}", f"feature {index[1]}"]
    else:
        if P.shape != (n_features, 2):
            raise ValueError(f"projection must have shape ({n_features}, 2), got {P.shape}")
        labels = ["projection 1", "projection 2"]
    return np.asarray(P, dtype=np.float64), labels


def _component_kind(model):
    """"full", "diag", ... for models with covariance types (and "Student-t
    full"), else the family ("Bernoulli", "Poisson", "Categorical")."""
    name = type(model).__name__
    cov = getattr(model, "covariance_type", None)
    if name == "StudentTMixture":
        return f"Student-t {cov}"
    return cov if cov is not None else name.replace("Mixture", "")


def _component_means(model):
    """E[x | component] of each component, (K, d) float64: the means, the
    Bernoulli probabilities, the Poisson rates, the expected category code."""
    if hasattr(model, "means_"):
        return np.asarray(model.means_, dtype=np.float64)
    if hasattr(model, "rates_"):
        return np.asarray(model.rates_, dtype=np.float64)
    probabilities = model.probabilities_
    if isinstance(probabilities, np.ndarray):
        return np.asarray(probabilities, dtype=np.float64)
    return np.stack([p @ np.arange(p.shape[1]) for p in probabilities], axis=1)


def plot_mixture(model, X, features=None, ax=None, random_state=0):
    """Draw the rows of X, coloured by their most likely component, and each
    component's mean with (for Gaussian and t components) its 1- and 2-sigma
    ellipses (of the t's scale matrix).  For discrete data (Bernoulli,
    Poisson, categorical mixtures) the rows are jittered by up to 0.3 so
    that equal rows do not hide each other, and each component is marked at
    its expected value (probabilities, rates, expected codes).

    Parameters
    ----------
    model : fitted fastem mixture
    X : array-like of shape (n_samples, n_features)
        In memory (at most ``MAX_POINTS`` rows, uniformly chosen, are drawn).
    features : pair of int, or array of shape (n_features, 2), optional
        The two features to plot (default: the first two), or a linear
        projection: rows are drawn at ``X @ P``, ellipses from ``P^T S P``.
    ax : matplotlib Axes, optional
    random_state : int, default=0
        Picks the rows drawn when X has more than ``MAX_POINTS``.

    Returns
    -------
    ax : matplotlib Axes
    """
    from matplotlib.patches import Ellipse

    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(model)
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[1] != model.n_features_in_:
        raise ValueError(f"X must have shape (n_samples, {model.n_features_in_}), "
                         f"got {X.shape}")
    if X.shape[0] > MAX_POINTS:
        rows = np.random.default_rng(random_state).choice(X.shape[0], MAX_POINTS,
                                                          replace=False)
        X = X[np.sort(rows)]
    P, axis_labels = _projection(features, model.n_features_in_)
    ax = _axes(ax)
    labels = model.predict(X)
    Y = np.asarray(X, dtype=np.float64) @ P
    shaped = hasattr(model, "covariances_")
    if not shaped:
        Y = Y + np.random.default_rng(random_state).uniform(-0.3, 0.3, size=Y.shape)
    colours = [f"C{k % 10}" for k in range(model.n_components)]
    ax.scatter(Y[:, 0], Y[:, 1], s=4, c=[colours[k] for k in labels], alpha=0.5,
               linewidths=0)
    means = _component_means(model) @ P
    for k in range(model.n_components):
        ax.plot(*means[k], marker="x", color="black", markersize=6)
    ax.set_xlabel(axis_labels[0])
    ax.set_ylabel(axis_labels[1])
    ax.set_title(f"{model.n_components} {_component_kind(model)} components")
    if not shaped:
        ax.autoscale_view()
        return ax
    for k, cov in enumerate(_full_covariances(model)):
        projected = P.T @ cov @ P
        values, vectors = np.linalg.eigh(projected)
        values = np.maximum(values, 0.0)
        angle = np.degrees(np.arctan2(vectors[1, 1], vectors[0, 1]))
        for scale in (1.0, 2.0):
            ax.add_patch(Ellipse(means[k], 2 * scale * np.sqrt(values[1]),
                                 2 * scale * np.sqrt(values[0]), angle=angle, fill=False,
                                 edgecolor=colours[k], linewidth=1.5 / scale))
    ax.autoscale_view()
    return ax


__all__ = ["plot_bound", "plot_mixture"]
