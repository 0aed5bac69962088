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
