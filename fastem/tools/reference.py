"""The yardstick of ``fastem bench --model`` and ``fastem demo --model``.

For each family fastem adds to scikit-learn's: built-in synthetic data, a
shared starting point, and a plain NumPy EM written the way scikit-learn
writes ``GaussianMixture`` -- whole ``n_samples x n_components`` arrays, one
vectorised expression (a pass over them) per statistic, ``logsumexp`` from
SciPy -- with the same M-steps as fastem's families (the same smoothing, the
same degrees-of-freedom update), so both run the same iterations from the
same start and reach the same bound.
"""

import numpy as np
from scipy.optimize import brentq
from scipy.special import digamma, gammaln, logsumexp

#: The families, by their command-line names.
FAMILIES = ("bernoulli", "poisson", "categorical", "student-t")

#: The estimator each command-line name fits.
ESTIMATORS = {"bernoulli": "BernoulliMixture", "poisson": "PoissonMixture",
              "categorical": "CategoricalMixture", "student-t": "StudentTMixture"}

#: Categories per feature of the built-in categorical data.
N_CATEGORIES = 5


def family_data(family, n_samples, n_features, n_components, seed=0, dtype=np.float64):
    """Built-in data of a family: a mixture of ``n_components`` random
    components of that family (binary, counts, codes, heavy-tailed rows)."""
    rng = np.random.default_rng(seed)
    labels = rng.choice(n_components, size=n_samples,
                        p=rng.dirichlet(np.full(n_components, 5.0)))
    if family == "bernoulli":
        theta = rng.beta(0.7, 0.7, size=(n_components, n_features))
        X = np.empty((n_samples, n_features), dtype=dtype)
        for k in range(n_components):  # per component: no n x d x K temporary
            rows = np.flatnonzero(labels == k)
            X[rows] = rng.uniform(size=(rows.size, n_features)) < theta[k]
        return X
    if family == "poisson":
        rates = rng.gamma(2.0, 3.0, size=(n_components, n_features))
        return rng.poisson(rates[labels]).astype(dtype)
    if family == "categorical":
        X = np.empty((n_samples, n_features), dtype=dtype)
        for k in range(n_components):
            rows = np.flatnonzero(labels == k)
            for j in range(n_features):
                p = rng.dirichlet(np.full(N_CATEGORIES, 0.5))
                X[rows, j] = rng.choice(N_CATEGORIES, size=rows.size, p=p)
        return X
    if family == "student-t":
        centres = rng.normal(scale=6.0, size=(n_components, n_features))
        X = rng.standard_normal((n_samples, n_features))
        X /= np.sqrt(rng.gamma(2.0, 0.5, size=n_samples))[:, None]  # t with 4 dof
        X += centres[labels]
        return X.astype(dtype, copy=False)
    raise ValueError(f"unknown family {family!r}; one of {FAMILIES}")


def family_start(family, X, n_components, seed=0):
    """A shared starting point, as the estimator's ``*_init`` keywords:
    uniform weights and random rows (smoothed into the family's domain)."""
    rng = np.random.default_rng(seed + 1)
    rows = np.asarray(X[rng.choice(X.shape[0], n_components, replace=False)], np.float64)
    weights = np.full(n_components, 1.0 / n_components)
    if family == "bernoulli":
        mean = np.asarray(X.mean(axis=0), np.float64)
        return dict(weights_init=weights,
                    probabilities_init=np.clip(0.5 * rows + 0.5 * mean, 0.01, 0.99))
    if family == "poisson":
        mean = np.asarray(X.mean(axis=0), np.float64)
        return dict(weights_init=weights, rates_init=0.5 * rows + 0.5 * mean + 0.01)
    if family == "categorical":
        c = int(X.max()) + 1
        tables = []
        for j in range(X.shape[1]):
            onehot = np.eye(c)[rows[:, j].astype(int)]
            tables.append(0.5 * onehot + 0.5 / c)
        return dict(weights_init=weights, probabilities_init=tables)
    var = np.asarray(X.var(axis=0), np.float64)
    return dict(weights_init=weights, means_init=rows,
                precisions_init=np.stack([np.diag(1.0 / var)] * n_components),
                degrees_of_freedom_init=np.full(n_components, 10.0))


# --------------------------------------------------------------------------
# The NumPy EMs.


def _e_step(log_prob, sample_weight):
    """Responsibilities and the mean log-likelihood from weighted log-densities."""
    log_norm = logsumexp(log_prob, axis=1)
    resp = np.exp(log_prob - log_norm[:, None])
    if sample_weight is None:
        return resp, log_norm.mean()
    return resp * sample_weight[:, None], sample_weight @ log_norm / sample_weight.sum()


def numpy_em(family, X, start, n_iter, alpha=1e-2, reg_covar=1e-6, sample_weight=None):
    """``n_iter`` EM iterations of ``family`` from ``start`` (``family_start``'s
    keywords).  Returns ``(params, lower_bounds)``: the bound at each E-step
    as fastem records it (the mean log-likelihood, plus the smoothing
    prior's log density over the number of rows for the MAP families)."""
    X = np.asarray(X)
    if family == "student-t":
        return _student_t_em(X, start, n_iter, reg_covar, sample_weight)
    weights = np.asarray(start["weights_init"], dtype=np.float64)
    bounds = []
    if family == "poisson":
        row_term = gammaln(X + 1.0).sum(axis=1)  # the same for every iteration
        values = np.asarray(start["rates_init"], dtype=np.float64)
    elif family == "bernoulli":
        values = np.asarray(start["probabilities_init"], dtype=np.float64)
    else:
        # CategoricalNB's formulation: integer codes, a gather of each
        # feature's log probabilities, a bincount per feature and component.
        codes = X.astype(np.int64)
        values = [np.asarray(t, dtype=np.float64) for t in start["probabilities_init"]]
    for _ in range(n_iter):
        if family == "bernoulli":
            log_prob = (X @ np.log(values).T + (1.0 - X) @ np.log1p(-values).T
                        + np.log(weights))
        elif family == "poisson":
            log_prob = (X @ np.log(values).T - values.sum(axis=1) - row_term[:, None]
                        + np.log(weights))
        else:
            log_prob = np.log(weights) + np.zeros((X.shape[0], len(weights)))
            for j, table in enumerate(values):
                log_prob += np.log(table)[:, codes[:, j]].T
        resp, bound = _e_step(log_prob, sample_weight)
        if family == "bernoulli":
            prior = alpha * np.sum(np.log(values) + np.log1p(-values))
        elif family == "poisson":
            prior = alpha * np.sum(np.log(values) - values)
        else:
            prior = alpha * sum(np.sum(np.log(t)) for t in values)
        total = X.shape[0] if sample_weight is None else sample_weight.sum()
        bounds.append(bound + prior / total)
        nk = resp.sum(axis=0) + 10 * np.finfo(resp.dtype).eps
        weights = nk / nk.sum()
        if family == "bernoulli":
            values = (resp.T @ X + alpha) / (nk + 2 * alpha)[:, None]
        elif family == "poisson":
            values = (resp.T @ X + alpha) / (nk + alpha)[:, None]
        else:
            for j, table in enumerate(values):
                c = table.shape[1]
                counts = np.stack([np.bincount(codes[:, j], weights=resp[:, k], minlength=c)
                                   for k in range(len(weights))])
                values[j] = (counts + alpha) / (nk + c * alpha)[:, None]
    return (weights, values), bounds


def _student_t_em(X, start, n_iter, reg_covar, sample_weight):
    """Full-covariance t mixture EM, scikit-learn's layout: a loop over
    components for the Mahalanobis distances and the covariances."""
    n, d = X.shape
    weights = np.asarray(start["weights_init"], dtype=np.float64)
    means = np.asarray(start["means_init"], dtype=np.float64)
    precisions = np.asarray(start["precisions_init"], dtype=np.float64)
    covariances = np.linalg.inv(precisions)
    dof = np.asarray(start["degrees_of_freedom_init"], dtype=np.float64)
    K = len(weights)
    bounds = []
    for _ in range(n_iter):
        chol = np.linalg.inv(np.linalg.cholesky(covariances)).transpose(0, 2, 1)
        maha = np.empty((n, K), dtype=X.dtype)
        for k in range(K):
            y = X @ chol[k] - means[k] @ chol[k]
            maha[:, k] = np.sum(np.square(y), axis=1)
        log_det = np.log(np.diagonal(chol, axis1=1, axis2=2)).sum(axis=1)
        log_prob = (np.log(weights) + gammaln((dof + d) / 2) - gammaln(dof / 2)
                    - d / 2 * np.log(dof * np.pi) + log_det
                    - (dof + d) / 2 * np.log1p(maha / dof))
        resp, bound = _e_step(log_prob, sample_weight)
        bounds.append(bound)
        u = (dof + d) / (dof + maha)
        ru = resp * u
        nk = resp.sum(axis=0) + 10 * np.finfo(resp.dtype).eps
        su = ru.sum(axis=0) + 10 * np.finfo(resp.dtype).eps
        weights = nk / nk.sum()
        means = ru.T @ X / su[:, None]
        covariances = np.empty((K, d, d))
        for k in range(K):
            diff = X - means[k]
            covariances[k] = (ru[:, k] * diff.T) @ diff / nk[k]
            covariances[k].flat[::d + 1] += reg_covar
        e_log_u = digamma((dof + d) / 2) - np.log((dof + maha) / 2)
        for k in range(K):
            c = 1.0 + resp[:, k] @ (e_log_u[:, k] - u[:, k]) / resp[:, k].sum()

            def h(v, c=c):
                return np.log(v / 2) - digamma(v / 2) + c

            dof[k] = brentq(h, 0.1, 1e4) if h(0.1) > 0 > h(1e4) else (
                1e4 if h(1e4) >= 0 else 0.1)
    return (weights, means, covariances, dof), bounds
