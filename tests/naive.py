"""Plain-NumPy references for every kernel (stumpy's tests/naive.py habit).

Written for clarity, not speed: dense n x K arrays, Python loops over
components, float64 throughout.
"""

import numpy as np
from scipy.special import logsumexp


def weighted_log_prob(X, weights, means, prec_chol, covariance_type):
    """log w_k + log N(x_i | mu_k, Sigma_k) as an (n, K) float64 array."""
    X = np.asarray(X, dtype=np.float64)
    n, d = X.shape
    K = means.shape[0]
    out = np.empty((n, K))
    for k in range(K):
        if covariance_type == "full":
            U = prec_chol[k]
        elif covariance_type == "tied":
            U = prec_chol
        elif covariance_type == "diag":
            U = np.diag(prec_chol[k])
        else:
            U = prec_chol[k] * np.eye(d)
        U = np.asarray(U, dtype=np.float64)
        y = (X - means[k]) @ U
        log_det = np.sum(np.log(np.diag(U)))
        with np.errstate(divide="ignore"):  # a zero weight: log 0 = -inf
            log_weight = np.log(weights[k])
        out[:, k] = (
            log_weight + log_det - 0.5 * d * np.log(2 * np.pi) - 0.5 * np.sum(y**2, axis=1)
        )
    return out


def log_prob_and_resp(wlp):
    lpn = logsumexp(wlp, axis=1)
    return lpn, np.exp(wlp - lpn[:, None])


def sufficient_stats(X, resp, shift):
    """nk, sum r (x - shift_k), full second moments and diagonal ones."""
    X = np.asarray(X, dtype=np.float64)
    K = resp.shape[1]
    nk = resp.sum(axis=0)
    sum_x = np.stack([resp[:, k] @ (X - shift[k]) for k in range(K)])
    sum_xxT = np.stack(
        [(resp[:, k, None] * (X - shift[k])).T @ (X - shift[k]) for k in range(K)]
    )
    sum_sq = np.stack([resp[:, k] @ (X - shift[k]) ** 2 for k in range(K)])
    return nk, sum_x, sum_xxT, sum_sq


def m_step(X, resp, covariance_type, reg_covar):
    """The textbook M-step (scikit-learn's formulas), in float64."""
    X = np.asarray(X, dtype=np.float64)
    n, d = X.shape
    nk = resp.sum(axis=0) + 10 * np.finfo(np.float64).eps
    means = resp.T @ X / nk[:, None]
    if covariance_type == "full":
        cov = np.stack(
            [(resp[:, k, None] * (X - means[k])).T @ (X - means[k]) / nk[k] for k in range(len(nk))]
        )
        cov += reg_covar * np.eye(d)
    elif covariance_type == "tied":
        cov = (X.T @ X - (nk * means.T) @ means) / nk.sum() + reg_covar * np.eye(d)
    else:
        var = resp.T @ (X * X) / nk[:, None] - means**2 + reg_covar
        cov = var if covariance_type == "diag" else var.mean(axis=1)
    return nk / nk.sum(), means, cov


def precision_cholesky(cov, covariance_type):
    if covariance_type in ("full", "tied"):
        mats = cov if covariance_type == "full" else cov[None]
        out = np.stack([np.linalg.inv(np.linalg.cholesky(c)).T for c in mats])
        return out if covariance_type == "full" else out[0]
    return 1.0 / np.sqrt(cov)


# --------------------------------------------------------------------------
# Discrete families.


def bernoulli_log_prob(X, weights, theta):
    """log w_k + log p(x_i | theta_k) for binary features, (n, K) float64."""
    X = np.asarray(X, dtype=np.float64)
    with np.errstate(divide="ignore"):
        log_w = np.log(weights)
    return log_w + X @ np.log(theta).T + (1.0 - X) @ np.log1p(-theta).T


def poisson_log_prob(X, weights, rates):
    from scipy.special import gammaln

    X = np.asarray(X, dtype=np.float64)
    with np.errstate(divide="ignore"):
        log_w = np.log(weights)
    return (log_w + X @ np.log(rates).T - rates.sum(axis=1)
            - gammaln(X + 1.0).sum(axis=1)[:, None])


def categorical_log_prob(X, weights, tables):
    """``tables``: one (K, c_j) probability array per feature."""
    codes = np.asarray(X).astype(np.int64)
    with np.errstate(divide="ignore"):
        out = np.log(weights) + np.zeros((codes.shape[0], len(weights)))
    for j, table in enumerate(tables):
        out += np.log(table[:, codes[:, j]]).T
    return out


def discrete_em(X, weights, values, n_iter, family, alpha, sample_weight=None):
    """``n_iter`` EM iterations of a Bernoulli, Poisson or categorical
    mixture, n x K arrays throughout, with the families' MAP M-steps;
    returns the weights, values and the objective at each E-step."""
    X = np.asarray(X, dtype=np.float64)
    w = np.ones(X.shape[0]) if sample_weight is None else np.asarray(sample_weight, float)
    log_prob = {"bernoulli": bernoulli_log_prob, "poisson": poisson_log_prob,
                "categorical": categorical_log_prob}[family]
    bounds = []
    for _ in range(n_iter):
        wlp = log_prob(X, weights, values)
        lpn, resp = log_prob_and_resp(wlp)
        resp = resp * w[:, None]
        if family == "bernoulli":
            prior = alpha * np.sum(np.log(values) + np.log1p(-values))
        elif family == "poisson":
            prior = alpha * np.sum(np.log(values) - values)
        else:
            prior = alpha * sum(np.sum(np.log(t)) for t in values)
        bounds.append((w @ lpn + prior) / w.sum())
        nk = resp.sum(axis=0)
        weights = (nk + 10 * np.finfo(float).eps) / (nk + 10 * np.finfo(float).eps).sum()
        if family == "bernoulli":
            values = (resp.T @ X + alpha) / (nk + 2 * alpha)[:, None]
        elif family == "poisson":
            values = (resp.T @ X + alpha) / (nk + alpha)[:, None]
        else:
            codes = X.astype(np.int64)
            values = [
                (np.stack([resp[codes[:, j] == c].sum(axis=0) for c in range(t.shape[1])],
                          axis=1) + alpha) / (nk + t.shape[1] * alpha)[:, None]
                for j, t in enumerate(values)]
    return weights, values, bounds


# --------------------------------------------------------------------------
# Student-t mixtures.


def _factor(prec_chol, covariance_type, k, d):
    if covariance_type == "full":
        return np.asarray(prec_chol[k], dtype=np.float64)
    if covariance_type == "tied":
        return np.asarray(prec_chol, dtype=np.float64)
    if covariance_type == "diag":
        return np.diag(np.asarray(prec_chol[k], dtype=np.float64))
    return float(prec_chol[k]) * np.eye(d)


def mahalanobis(X, means, prec_chol, covariance_type):
    """|(x_i - mu_k) U_k|^2 as an (n, K) float64 array."""
    X = np.asarray(X, dtype=np.float64)
    d = X.shape[1]
    return np.stack([np.sum(((X - means[k]) @ _factor(prec_chol, covariance_type, k, d)) ** 2,
                            axis=1) for k in range(means.shape[0])], axis=1)


def t_log_prob(X, weights, means, prec_chol, dof, covariance_type):
    """log w_k + log t(x_i | mu_k, Sigma_k, nu_k) as an (n, K) float64 array."""
    from scipy.special import gammaln

    d = np.shape(X)[1]
    maha = mahalanobis(X, means, prec_chol, covariance_type)
    log_det = np.array([np.sum(np.log(np.diag(_factor(prec_chol, covariance_type, k, d))))
                        for k in range(means.shape[0])])
    return (np.log(weights) + gammaln((dof + d) / 2) - gammaln(dof / 2)
            - d / 2 * np.log(dof * np.pi) + log_det - (dof + d) / 2 * np.log1p(maha / dof))


def t_em(X, weights, means, covariances, dof, covariance_type, n_iter, reg_covar=0.0,
         sample_weight=None, fit_dof=True):
    """``n_iter`` iterations of the t mixture's EM (McLachlan & Peel, Liu &
    Rubin's CM-step for nu), n x K arrays throughout; returns the
    parameters and the mean log-likelihood at each E-step."""
    from scipy.optimize import brentq
    from scipy.special import digamma

    X = np.asarray(X, dtype=np.float64)
    n, d = X.shape
    K = len(weights)
    w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, float)
    bounds = []
    for _ in range(n_iter):
        chol = precision_cholesky(covariances, covariance_type)
        wlp = t_log_prob(X, weights, means, chol, dof, covariance_type)
        lpn, resp = log_prob_and_resp(wlp)
        bounds.append(w @ lpn / w.sum())
        maha = mahalanobis(X, means, chol, covariance_type)
        u = (dof + d) / (dof + maha)
        r = resp * w[:, None]
        nk = r.sum(axis=0) + 10 * np.finfo(float).eps
        ru = r * u
        weights = nk / nk.sum()
        means = ru.T @ X / (ru.sum(axis=0) + 10 * np.finfo(float).eps)[:, None]
        scat = np.stack([(ru[:, k, None] * (X - means[k])).T @ (X - means[k]) for k in range(K)])
        if covariance_type == "full":
            covariances = scat / nk[:, None, None] + reg_covar * np.eye(d)
        elif covariance_type == "tied":
            covariances = scat.sum(axis=0) / nk.sum() + reg_covar * np.eye(d)
        elif covariance_type == "diag":
            covariances = np.stack([np.diag(s) for s in scat]) / nk[:, None] + reg_covar
        else:
            covariances = np.array([np.trace(s) / d for s in scat]) / nk + reg_covar
        if fit_dof:
            new = dof.copy()
            for k in range(K):
                e_log_u = digamma((dof[k] + d) / 2) - np.log((dof[k] + maha[:, k]) / 2)
                c = 1 + (r[:, k] @ (e_log_u - u[:, k])) / r[:, k].sum()
                h = lambda v: np.log(v / 2) - digamma(v / 2) + c  # noqa: E731
                new[k] = brentq(h, 0.1, 1e4, xtol=1e-12, rtol=1e-14)
            dof = new
    return weights, means, covariances, dof, bounds


def _gaussian_covariances(covariances, covariance_type, n_components, n_features):
    """Every component's covariance matrix, (K, d, d) float64."""
    c = np.asarray(covariances, dtype=np.float64)
    if covariance_type == "full":
        return c
    if covariance_type == "tied":
        return np.broadcast_to(c, (n_components, n_features, n_features))
    if covariance_type == "diag":
        return np.stack([np.diag(v) for v in c])
    return np.stack([v * np.eye(n_features) for v in c])


def _conditional(x, mean, S, o):
    """E[x | x_o] (the observed values kept) and the conditional covariance
    of the missing block (zeros elsewhere) of a Gaussian N(mean, S)."""
    m = ~o
    xhat = x.copy()
    cond = np.zeros((x.shape[0], x.shape[0]))
    if m.any():
        Soo = S[np.ix_(o, o)]
        gain = S[np.ix_(m, o)] @ np.linalg.inv(Soo) if o.any() else np.zeros((m.sum(), 0))
        xhat[m] = mean[m] + gain @ (x[o] - mean[o])
        cond[np.ix_(m, m)] = S[np.ix_(m, m)] - gain @ S[np.ix_(o, m)]
    return xhat, cond


def missing_e_step(X, weights, means, covariances, covariance_type):
    """Row by row, from the covariances (not the precisions the kernels
    use): each row's marginal log-likelihood over its observed coordinates,
    responsibilities, and per component the completed row E[x | x_o, k] and
    the conditional covariance of the missing block (zeros elsewhere)."""
    X = np.asarray(X, dtype=np.float64)
    n, d = X.shape
    K = means.shape[0]
    covs = _gaussian_covariances(covariances, covariance_type, K, d)
    lpn = np.empty(n)
    resp = np.empty((n, K))
    xhat = np.empty((n, K, d))
    cond = np.zeros((n, K, d, d))
    for i in range(n):
        o = ~np.isnan(X[i])
        wlp = np.empty(K)
        for k in range(K):
            S = covs[k]
            Soo = S[np.ix_(o, o)]
            diff = X[i, o] - means[k, o]
            if o.any():
                sign, logdet = np.linalg.slogdet(Soo)
                quad = diff @ np.linalg.solve(Soo, diff)
                wlp[k] = (np.log(weights[k]) - 0.5 * (o.sum() * np.log(2 * np.pi) + logdet)
                          - 0.5 * quad)
            else:
                wlp[k] = np.log(weights[k])
            xhat[i, k], cond[i, k] = _conditional(X[i], means[k], S, o)
        lpn[i] = logsumexp(wlp)
        resp[i] = np.exp(wlp - lpn[i])
    return lpn, resp, xhat, cond


def missing_m_step(X, resp, xhat, cond, covariance_type, reg_covar, sample_weight=None):
    """The M-step from the expected sufficient statistics (rows with no
    observed coordinate left out); returns weights, means, covariances."""
    n, K, d = xhat.shape
    w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    keep = ~np.all(np.isnan(X), axis=1)
    r = resp[keep] * w[keep, None]
    xh = xhat[keep]
    cd = cond[keep]
    nk = r.sum(axis=0) + 10 * np.finfo(np.float64).eps
    means = np.einsum("ik,ikj->kj", r, xh) / nk[:, None]
    scatter = np.empty((K, d, d))
    for k in range(K):
        z = xh[:, k] - means[k]
        scatter[k] = (np.einsum("i,ij,il->jl", r[:, k], z, z)
                      + np.einsum("i,ijl->jl", r[:, k], cd[:, k]))
    weights = nk / nk.sum()
    if covariance_type == "full":
        cov = scatter / nk[:, None, None] + reg_covar * np.eye(d)
    elif covariance_type == "tied":
        cov = scatter.sum(axis=0) / nk.sum() + reg_covar * np.eye(d)
    elif covariance_type == "diag":
        cov = np.stack([np.diag(s) for s in scatter]) / nk[:, None] + reg_covar
    else:
        cov = np.stack([np.trace(s) for s in scatter]) / (nk * d) + reg_covar
    return weights, means, cov


def missing_em(X, weights, means, covariances, covariance_type, reg_covar, n_iter,
               sample_weight=None):
    """EM for missing data, row by row, from given parameters: returns the
    parameters after ``n_iter`` iterations and each E-step's mean
    log-likelihood."""
    w = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    bounds = []
    for _ in range(n_iter):
        lpn, resp, xhat, cond = missing_e_step(X, weights, means, covariances, covariance_type)
        bounds.append(np.sum(lpn if w is None else w * lpn) / (len(lpn) if w is None else w.sum()))
        weights, means, covariances = missing_m_step(X, resp, xhat, cond, covariance_type,
                                                     reg_covar, w)
    return weights, means, covariances, bounds


def t_missing_e_step(X, weights, means, covariances, dof, covariance_type):
    """The t mixture's E-step over rows with missing coordinates, row by row
    with scipy's multivariate t on each row's observed block: the marginal
    log-likelihoods, responsibilities, and per row and component the
    completed row E[x | x_o, k], the conditional covariance of the missing
    block (given the scale: divided by u), E[u | x_o, k] and E[log u | x_o,
    k]."""
    from scipy.special import digamma
    from scipy.stats import multivariate_t

    X = np.asarray(X, dtype=np.float64)
    n, d = X.shape
    K = means.shape[0]
    covs = _gaussian_covariances(covariances, covariance_type, K, d)
    lpn = np.empty(n)
    resp = np.empty((n, K))
    xhat = np.empty((n, K, d))
    cond = np.zeros((n, K, d, d))
    e_u = np.zeros((n, K))
    e_log_u = np.zeros((n, K))
    for i in range(n):
        o = ~np.isnan(X[i])
        d_o = o.sum()
        wlp = np.log(np.asarray(weights, dtype=np.float64))
        for k in range(K):
            S = covs[k]
            if not d_o:  # nothing observed: the component's mean (no part in a fit)
                xhat[i, k] = means[k]
                continue
            Soo = S[np.ix_(o, o)]
            diff = X[i, o] - means[k, o]
            wlp[k] += multivariate_t(means[k, o], Soo, df=dof[k]).logpdf(X[i, o])
            maha = diff @ np.linalg.solve(Soo, diff)
            e_u[i, k] = (dof[k] + d_o) / (dof[k] + maha)
            e_log_u[i, k] = digamma((dof[k] + d_o) / 2) - np.log((dof[k] + maha) / 2)
            xhat[i, k], cond[i, k] = _conditional(X[i], means[k], S, o)
        lpn[i] = logsumexp(wlp)
        resp[i] = np.exp(wlp - lpn[i])
    return lpn, resp, xhat, cond, e_u, e_log_u


def t_missing_em(X, weights, means, covariances, dof, covariance_type, reg_covar, n_iter,
                 sample_weight=None):
    """EM for a t mixture over missing coordinates (components, scales and
    missing values latent), row by row: returns the parameters after
    ``n_iter`` iterations and each E-step's mean log-likelihood."""
    from scipy.optimize import brentq
    from scipy.special import digamma

    n, d = X.shape
    K = len(weights)
    w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    keep = ~np.all(np.isnan(X), axis=1)
    eps = 10 * np.finfo(np.float64).eps
    bounds = []
    for _ in range(n_iter):
        lpn, resp, xhat, cond, e_u, e_log_u = t_missing_e_step(X, weights, means, covariances,
                                                               dof, covariance_type)
        bounds.append(w @ lpn / w.sum())
        r = resp * (w * keep)[:, None]
        ru = r * e_u
        nk = r.sum(axis=0) + eps
        weights = nk / nk.sum()
        means = np.einsum("ik,ikj->kj", ru, xhat) / (ru.sum(axis=0) + eps)[:, None]
        scat = np.empty((K, d, d))
        for k in range(K):
            z = xhat[:, k] - means[k]
            scat[k] = (np.einsum("i,ij,il->jl", ru[:, k], z, z)
                       + np.einsum("i,ijl->jl", r[:, k], cond[:, k]))
        if covariance_type == "full":
            covariances = scat / nk[:, None, None] + reg_covar * np.eye(d)
        elif covariance_type == "tied":
            covariances = scat.sum(axis=0) / nk.sum() + reg_covar * np.eye(d)
        elif covariance_type == "diag":
            covariances = np.stack([np.diag(s) for s in scat]) / nk[:, None] + reg_covar
        else:
            covariances = np.array([np.trace(s) / d for s in scat]) / nk + reg_covar
        new = np.array(dof, dtype=np.float64)
        for k in range(K):
            c = 1 + (r[:, k] @ (e_log_u[:, k] - e_u[:, k])) / r[:, k].sum()
            h = lambda v: np.log(v / 2) - digamma(v / 2) + c  # noqa: E731
            new[k] = brentq(h, 0.1, 1e4, xtol=1e-12, rtol=1e-14)
        dof = new
    return weights, means, covariances, dof, bounds
