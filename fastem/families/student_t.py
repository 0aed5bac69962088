"""The Student-t family: mixtures of multivariate t components (robust clustering).

Component k is a Gaussian scale mixture: given z = k and a latent scale
u ~ Gamma(nu_k / 2, rate nu_k / 2), x ~ N(mu_k, Sigma_k / u).  EM runs over
(z, u): the E-step's posterior of u given z is Gamma, so the pass
(``fastem.kernels.student``) returns, per component, ``nk = sum r``,
``sum_u = sum r E[u]``, ``sum_log = sum r log(1 + maha / nu)`` and the
``r E[u]``-weighted moments; the M-step is then in closed form
(McLachlan & Peel's EM, Liu & Rubin's CM-step for nu):

    mu_k    = sum r u x / sum r u,
    Sigma_k = sum r u (x - mu_k)(x - mu_k)^T / nk_k  (+ reg_covar),
    nu_k    the root of log(nu / 2) - digamma(nu / 2) + 1
              + (sum r (E[log u] - E[u])) / nk_k = 0,

the last a 1-D root per component (bracketed in ``DOF_BOUNDS``; the
objective is concave in nu, so the clipped root is still its maximum
there).  Each is the exact maximiser of E_q[log p(X, Z, U | theta)] -- the
degrees of freedom use the E-step's expectations, so the step can never
lower the bound -- and the engine checks the seed's chain with the scales
among the latent variables (``expected_log_joint``).

Covariance types as ``GaussianMixture``'s; ``covariances_`` are the scale
matrices Sigma_k (the covariance of a t is nu / (nu - 2) Sigma for nu > 2).
A tied model runs the full kernel with the shared factor repeated (the
weights u differ per component, so no data-wide scatter serves it).
"""

from typing import NamedTuple

import numpy as np
from scipy.special import digamma, gammaln

from .. import kernels
from ..data.chunks import kernel_array
from ..data.validation import float_array
from ..engine.family import FLOAT_DTYPES
from ..engine.passes import Plan, Stats, compute_dtype, rows_to_repair
from .gaussian import (
    GaussianFamily,
    Moments,
    _reg_loss_eigen,
    _reg_loss_matrices,
    _symmetrize,
    by_pattern,
    check_gaussian_arrays,
    degenerate_components,
    expected_log_density,
    log_det_cholesky,
    marginal_factors,
    n_parameters,
    precision_cholesky,
    shift_sums,
)

#: The degrees of freedom the M-step keeps to.
DOF_BOUNDS = (0.1, 1e4)

#: The initial degrees of freedom when none are given.
DEFAULT_DOF = 10.0


class StudentTParams(NamedTuple):
    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray
    precisions_cholesky: np.ndarray
    degrees_of_freedom: np.ndarray  # (K,)


class TMoments(NamedTuple):
    """A t pass's statistics beyond ``nk`` (float64)."""

    shift: np.ndarray  # (K, d) the point the moments are centred on
    sum_log: np.ndarray  # (K,) sum r log(1 + maha / nu)
    sum_u: np.ndarray  # (K,) sum r E[u]
    sum_x: np.ndarray  # (K, d) sum r E[u] (x - shift)
    second: np.ndarray  # (K, d, d) upper triangle, or (K, d) diagonal
    dof: np.ndarray  # (K,) the E-step's degrees of freedom


def t_log_norm(params, covariance_type):
    """The per-component constants of the weighted log-density: log w +
    log Gamma((nu + d) / 2) - log Gamma(nu / 2) - d / 2 log(nu pi) +
    log|det U|, float64."""
    K, d = params.means.shape
    nu = np.asarray(params.degrees_of_freedom, dtype=np.float64)
    with np.errstate(divide="ignore"):
        log_w = np.log(np.asarray(params.weights, dtype=np.float64))
    log_det = log_det_cholesky(params.precisions_cholesky, covariance_type, d)
    out = (log_w + gammaln(0.5 * (nu + d)) - gammaln(0.5 * nu) - 0.5 * d * np.log(nu * np.pi)
           + log_det)
    return kernel_array(np.broadcast_to(out, (K,)), np.float64)


def kernel_factors(params, covariance_type, dtype):
    """The kernels' per-component factors: (K, d, d) for full and tied (the
    shared one repeated), (K, d) for diag and spherical."""
    K, d = params.means.shape
    chol = np.asarray(params.precisions_cholesky, dtype=np.float64)
    if covariance_type == "tied":
        chol = np.broadcast_to(chol, (K, d, d))
    elif covariance_type == "spherical":
        chol = np.broadcast_to(chol[:, None], (K, d))
    return kernel_array(chol, dtype)


class StudentTPlan(Plan):
    """A pass of ``t_full_pass`` or ``t_diag_pass``."""

    def __init__(self, covariance_type, dtype, params, lnorm, want_stats):
        self.covariance_type = covariance_type
        self.dtype = np.dtype(dtype)
        self.n_components, self.n_features = K, d = params.means.shape
        self.want_stats = want_stats
        self.params = params
        self.full = covariance_type in ("full", "tied")
        self.means = kernel_array(params.means, self.dtype)
        self.prec = kernel_factors(params, covariance_type, self.dtype)
        self.lnorm = kernel_array(lnorm, np.float64)
        self.dof = kernel_array(params.degrees_of_freedom, np.float64)
        self.stat_shapes = ((K,), (K,), (K, d), (K, d, d) if self.full else (K, d))
        self._t_const = None

    def run(self, chunk, sample_weight, outputs, accs, segment, resp=None):
        run = kernels.t_full_pass if self.full else kernels.t_diag_pass
        run(chunk, self.means, self.prec, self.lnorm, self.dof, sample_weight, *outputs,
            segment, *accs)

    def t_const(self):
        """The missing-value kernels' tables (``fastem.kernels.missing``),
        (2, K, d + 1) per number m of missing coordinates: what they change
        in the log-density's constants, gammaln((nu + d - m) / 2) -
        gammaln((nu + d) / 2) + m / 2 log(nu pi), and in the scales' E[log
        u], digamma((nu + d) / 2) - digamma((nu + d - m) / 2)."""
        if self._t_const is None:
            d = self.n_features
            nu = self.dof[:, None]
            half = 0.5 * (nu + d - np.arange(d + 1)[None, :])
            m = np.arange(d + 1)[None, :]
            self._t_const = np.ascontiguousarray(np.stack([
                gammaln(half) - gammaln(0.5 * (nu + d)) + 0.5 * m * np.log(nu * np.pi),
                digamma(0.5 * (nu + d)) - digamma(half),
            ]))
        return self._t_const

    def run_missing(self, rows, sample_weight, outputs, accs, fill=None, draws=None):
        """Rows with NaN: the Gaussian missing-value kernels with t
        components (full and tied through the full one, diagonal and
        spherical through the diagonal one)."""
        d = self.n_features
        fill = np.empty((0, d), self.dtype) if fill is None else fill
        u, e, g = (np.empty(0), np.empty((0, d)), np.empty((0, 0))) if draws is None else draws
        run = kernels.full_missing_pass if self.full else kernels.diag_missing_pass
        run(rows, self.means, self.prec, self.lnorm, self.dof, self.t_const(), sample_weight,
            *outputs, fill, u, e, g, *accs)

    def missing_draws(self, rows, random_state):
        """The Gaussian draws, and per row and component a standard Gamma
        of the scale's posterior shape, (nu_k + the row's observed
        coordinates) / 2."""
        u, e = super().missing_draws(rows, random_state)
        observed = np.sum(~np.isnan(rows), axis=1)
        g = random_state.standard_gamma(0.5 * (self.dof[None, :] + observed[:, None]))
        return u, e, g

    def moments(self, totals):
        sum_log, sum_u, sum_x, second = totals
        return TMoments(self.means.astype(np.float64), sum_log, sum_u, sum_x, second,
                        self.dof.copy())

    def repair(self, chunk, out_resp, out_label):
        """The posterior of rows so far from every component that their
        distances overflow (``t_far_posterior``); of a row with missing
        values, that of its observed coordinates' marginal t."""
        bad = rows_to_repair(out_resp, out_label)
        if not bad.size:
            return
        params = self.params
        K, d = self.n_components, self.n_features
        means = np.asarray(params.means, dtype=np.float64)
        chol = kernel_factors(params, self.covariance_type, np.float64)
        full_log_det = np.broadcast_to(
            log_det_cholesky(params.precisions_cholesky, self.covariance_type, d), (K,))

        def complete(x):
            return t_far_posterior(x, means, chol, self.full, self.lnorm, self.dof, d)

        def marginal(x_o, observed):
            m = d - int(observed.sum())
            lnorm = self.lnorm + self.t_const()[0, :, m]
            if not observed.any():
                e = np.exp(lnorm - lnorm.max())
                return np.broadcast_to(e / e.sum(), (x_o.shape[0], K))
            factors, kind, log_det = marginal_factors(params.precisions_cholesky,
                                                      self.covariance_type, observed, K)
            return t_far_posterior(x_o, means[:, observed], factors, kind == "full",
                                   lnorm - full_log_det + log_det, self.dof, d - m)

        resp = by_pattern(chunk[bad], complete, marginal)
        if out_resp.shape[0]:
            out_resp[bad] = resp
        if out_label.shape[0]:
            out_label[bad] = np.argmax(resp, axis=1)


def t_far_posterior(rows, means, chol, full, lnorm, nu, d):
    """The posterior (float64) of rows so far from every t component that
    their distances overflow: from log maha = 2 log a + log |(x / a - mu /
    a) U|^2 with ``a`` a power of two near the row's size; ``chol`` (K, d,
    d) upper when ``full``, else (K, d); ``lnorm`` the weighted log-density's
    constants."""
    rows = np.asarray(rows, dtype=np.float64)
    top = np.maximum(np.abs(rows).max(axis=1), np.finfo(np.float64).tiny)
    a = np.exp2(np.floor(np.log2(top)))[:, None]
    logp = np.empty((rows.shape[0], means.shape[0]))
    for k in range(means.shape[0]):
        diff = rows / a - means[k] / a
        y = diff @ chol[k] if full else diff * chol[k]
        log_m = 2.0 * np.log(a[:, 0]) + np.log(np.sum(y * y, axis=1))
        logp[:, k] = lnorm[k] - 0.5 * (nu[k] + d) * (
            log_m - np.log(nu[k]) + np.log1p(nu[k] * np.exp(-log_m)))
    logp -= logp.max(axis=1, keepdims=True)
    resp = np.exp(logp)
    return resp / resp.sum(axis=1, keepdims=True)


def dof_update(nk, sum_u, sum_log, dof_e, n_features):
    """The CM-step of the degrees of freedom: per component with
    responsibility, the root of log(nu / 2) - digamma(nu / 2) + c = 0 with
    c = 1 + (sum r E[log u] - sum r E[u]) / nk, where under the E-step's
    nu_e, sum r E[log u] = nk (digamma((nu_e + d) / 2) - log(nu_e / 2)) -
    sum_log.  The left side decreases in nu: bisection on log nu for every
    component at once (to the last bit), clipped to ``DOF_BOUNDS``."""
    lo, hi = np.log(DOF_BOUNDS[0]), np.log(DOF_BOUNDS[1])
    dof_e = np.asarray(dof_e, dtype=np.float64)
    out = dof_e.copy()
    active = np.flatnonzero(nk > 0)
    if not active.size:
        return out
    nu_e = dof_e[active]
    c = (1.0 + digamma(0.5 * (nu_e + n_features)) - np.log(0.5 * nu_e)
         - (sum_log[active] + sum_u[active]) / nk[active])

    def h(log_nu):
        nu = np.exp(log_nu)
        return np.log(0.5 * nu) - digamma(0.5 * nu) + c

    a = np.full(active.size, lo)
    b = np.full(active.size, hi)
    for _ in range(64):
        mid = 0.5 * (a + b)
        above = h(mid) > 0.0  # the root lies above mid
        a = np.where(above, mid, a)
        b = np.where(above, b, mid)
    root = np.exp(0.5 * (a + b))
    root = np.where(h(np.full(active.size, hi)) >= 0.0, DOF_BOUNDS[1], root)
    root = np.where(h(np.full(active.size, lo)) <= 0.0, DOF_BOUNDS[0], root)
    out[active] = root
    return out


class StudentTFamily(GaussianFamily):
    """``StudentTMixture``'s family: exact EM over components and scales."""

    array_attributes = GaussianFamily.array_attributes + ("degrees_of_freedom_",)

    def __init__(self, n_components, covariance_type, reg_covar, weights_init=None,
                 means_init=None, precisions_init=None, dof_init=None, fit_dof=True):
        super().__init__(n_components, covariance_type, reg_covar, weights_init, means_init,
                         precisions_init)
        self.dof_init = dof_init
        self.fit_dof = fit_dof

    # ------------------------------------------------------------ set-up

    def setup(self, n_features, data_dtype):
        super().setup(n_features, data_dtype)
        # Parameters in float64 whatever the data; passes in the data's dtype.
        self.dtype = np.dtype(np.float64)
        self.kernel_dtype = compute_dtype(data_dtype)
        dof = DEFAULT_DOF if self.dof_init is None else self.dof_init
        dof = float_array(np.broadcast_to(np.asarray(dof, dtype=np.float64),
                                          (self.n_components,)).copy())
        if np.any(dof <= 0.0):
            raise ValueError("The parameter 'degrees_of_freedom_init' should be positive, but "
                             f"got min value {np.min(dof):.5f}")
        self.dof0 = dof

    def initial_estimate(self, X, source):
        """The Gaussian M-step under the initial responsibilities (every
        scale 1), with the initial degrees of freedom."""
        estimate, nk = super().initial_estimate(X, source)
        return estimate + (self.dof0,), nk

    def initial_params(self, estimate):
        gaussian = super().initial_params(None if estimate is None else estimate[:3])
        return StudentTParams(*gaussian, self.dof0.copy())

    # ----------------------------------------------------- passes, M-step

    def log_norm(self, params):
        return t_log_norm(params, self.covariance_type)

    def plan(self, params, data_dtype, want_stats):
        plan = StudentTPlan(self.covariance_type, self.kernel_dtype_for(params, data_dtype),
                            params, self.cached_log_norm(params), want_stats)
        plan.missing = self.missing
        # as the Gaussian plans (benchmarks/missing_speed.py)
        plan.sort_patterns = plan.full
        plan.missing_takes_all = not plan.full
        return plan

    def kernel_dtype_for(self, params, data_dtype):
        return compute_dtype(data_dtype)

    def output_dtype(self, params, data_dtype):
        return compute_dtype(data_dtype)

    frame_fields = ("shift", "dof")

    def blockwise_tied(self):
        return False  # tied runs the full kernel: its second moments are its own

    def rebase(self, stats, frame):
        """The sums about ``frame.shift`` (weighted by r E[u]), and ``sum_log``
        as if taken under ``frame.dof``: what the updates use of it, sum r
        E[log u] = nk (digamma((nu_e + d) / 2) - log(nu_e / 2)) - sum_log,
        stays the same."""
        mo = stats.moments
        same_shift = mo.shift is frame.shift or np.array_equal(mo.shift, frame.shift)
        if same_shift and np.array_equal(mo.dof, frame.dof):
            return mo
        d = mo.sum_x.shape[1]
        sum_x, second = shift_sums(mo.sum_x, mo.second, mo.sum_u, mo.shift - frame.shift)

        def g(nu):
            return digamma(0.5 * (nu + d)) - np.log(0.5 * nu)

        sum_log = mo.sum_log + stats.nk * (g(frame.dof) - g(mo.dof))
        return TMoments(frame.shift, sum_log, mo.sum_u, sum_x, second, frame.dof)

    def m_step(self, stats):
        mo = stats.moments
        cov = self.covariance_type
        reg = self.reg_covar
        eps = 10 * np.finfo(self.dtype).eps
        r = stats.nk
        nk = r + eps
        weights = nk / nk.sum()
        means = (mo.sum_x + mo.sum_u[:, None] * mo.shift) / (mo.sum_u + eps)[:, None]
        delta = means - mo.shift
        if cov in ("full", "tied"):
            sx_delta = mo.sum_x[:, :, None] * delta[:, None, :]
            scatter = (_symmetrize(mo.second) - sx_delta - np.swapaxes(sx_delta, 1, 2)
                       + mo.sum_u[:, None, None] * delta[:, :, None] * delta[:, None, :])
            if cov == "full":
                emp = scatter / nk[:, None, None]
                emp = 0.5 * (emp + np.swapaxes(emp, 1, 2))
                loss = _reg_loss_matrices(emp, r, reg)
                covariances = emp + reg * np.eye(emp.shape[1])
            else:
                emp = scatter.sum(axis=0) / nk.sum()
                emp = 0.5 * (emp + emp.T)
                loss = _reg_loss_matrices(emp[None], np.array([r.sum()]), reg)
                covariances = emp + reg * np.eye(emp.shape[0])
        else:
            var = (mo.second - 2.0 * delta * mo.sum_x + mo.sum_u[:, None] * delta**2) / nk[:, None]
            if cov == "diag":
                loss = _reg_loss_eigen(var, r, reg)
                covariances = var + reg
            else:
                sph = var.mean(axis=1)
                loss = var.shape[1] * _reg_loss_eigen(sph[:, None], r, reg)
                covariances = sph + reg
        if self.fit_dof:
            dof = dof_update(r, mo.sum_u, mo.sum_log, mo.dof, means.shape[1])
        else:
            dof = mo.dof.copy()
        return (weights, means, covariances, dof), loss

    def finish(self, estimate):
        weights, means, covariances, dof = estimate
        prec_chol = precision_cholesky(covariances, self.covariance_type, self.data_dtype)
        f8 = np.float64
        return StudentTParams(np.asarray(weights, f8), np.asarray(means, f8),
                              np.asarray(covariances, f8), np.asarray(prec_chol, f8),
                              np.asarray(dof, f8))

    # ------------------------------------------------------------- bound

    def bound(self, stats, e_step_params, params):
        return stats.sum_lpn / stats.n_samples, stats.sum_abs_lpn / stats.n_samples

    def expected_log_joint(self, stats, params):
        """E_q[log p(X, Z, U | params)] (q the E-step's posterior over
        components and scales) from the pass's statistics: the Gaussian
        quadratic form weighted by E[u], the Gaussian and Gamma constants
        weighted by nk, and the terms in E[log u] and E[u]."""
        mo = stats.moments
        nk = stats.nk
        K, d = mo.sum_x.shape
        cov = self.covariance_type
        chol, kind = params.precisions_cholesky, cov
        if cov == "tied":
            chol, kind = np.broadcast_to(chol, (K, d, d)), "full"
        weighted = Stats(stats.n_samples, 0.0, 0.0, mo.sum_u,
                         Moments(mo.shift, mo.sum_x, mo.second))
        quad, quad_scale = expected_log_density(weighted, params.means, chol, np.zeros(K), kind)
        nu = np.asarray(params.degrees_of_freedom, dtype=np.float64)
        nu_e = mo.dof
        e_log_u = nk * (digamma(0.5 * (nu_e + d)) - np.log(0.5 * nu_e)) - mo.sum_log
        with np.errstate(divide="ignore"):
            log_w = np.log(np.asarray(params.weights, dtype=np.float64))
        log_det = log_det_cholesky(params.precisions_cholesky, cov, d)
        constant = (log_w + log_det - 0.5 * d * np.log(2.0 * np.pi)
                    + 0.5 * nu * np.log(0.5 * nu) - gammaln(0.5 * nu))
        terms = np.concatenate([
            np.multiply(nk, constant, out=np.zeros(K), where=nk > 0),
            (0.5 * (d + nu) - 1.0) * e_log_u,
            -0.5 * nu * mo.sum_u,
        ])
        return float(terms.sum() + quad), float(np.abs(terms).sum() + quad_scale)

    # ----------------------------------------------------------- re-seed

    def degenerate(self, estimate, nk):
        return degenerate_components(nk, estimate[2], self.covariance_type)

    def healthy(self, estimate, good):
        weights, means, covariances, dof = estimate
        healthy_cov = covariances if self.covariance_type == "tied" else covariances[good]
        family = StudentTFamily(len(good), self.covariance_type, self.reg_covar)
        family.setup(means.shape[1], self.data_dtype)
        return family, family.finish((weights[good] / np.sum(weights[good]), means[good],
                                      healthy_cov, dof[good]))

    def replace(self, estimate, bad, rows, nk):
        """As ``GaussianFamily.replace``; a re-seeded component takes the
        healthy components' mean degrees of freedom."""
        weights, means, covariances, dof = estimate
        weights, means, covariances = super().replace((weights, means, covariances), bad,
                                                      rows, nk)
        good = np.setdiff1d(np.arange(self.n_components), bad)
        dof = np.array(dof, dtype=np.float64)
        dof[bad] = dof[good].mean()
        return weights, means, covariances, dof

    # ------------------------------------------------------- fitted model

    def from_estimator(self, est):
        return StudentTParams(est.weights_, est.means_, est.covariances_,
                              est.precisions_cholesky_, est.degrees_of_freedom_)

    def from_sklearn(self, values):
        return StudentTParams(*values)

    def fitted_attributes(self, params):
        out = super().fitted_attributes(params)
        out["degrees_of_freedom_"] = params.degrees_of_freedom
        return out

    def n_parameters(self, params):
        K, d = params.means.shape
        return n_parameters(self.covariance_type, K, d) + (K if self.fit_dof else 0)

    def sample(self, params, n_samples, rng):
        """``(X, y)``: Gaussian draws divided by the square roots of Gamma
        scales, grouped by component."""
        K, d = params.means.shape
        counts = rng.multinomial(n_samples, np.asarray(params.weights, dtype=np.float64))
        cov = self.covariance_type
        parts = []
        for k, c in enumerate(counts):
            if cov == "full":
                z = rng.multivariate_normal(np.zeros(d), params.covariances[k], c)
            elif cov == "tied":
                z = rng.multivariate_normal(np.zeros(d), params.covariances, c)
            else:
                z = rng.standard_normal(size=(c, d)) * np.sqrt(params.covariances[k])
            nu = params.degrees_of_freedom[k]
            u = rng.gamma(0.5 * nu, 2.0 / nu, size=c)
            parts.append(params.means[k] + z / np.sqrt(u)[:, None])
        X = np.vstack(parts).astype(np.float64, copy=False)
        y = np.concatenate([np.full(c, k, dtype=np.int64) for k, c in enumerate(counts)])
        return X, y

    def saved_layout(self, est, read):
        layout = super().saved_layout(est, read)
        layout["degrees_of_freedom_"] = ((est.n_components,), FLOAT_DTYPES)
        return layout

    def check_loaded(self, est, name, error):
        check_gaussian_arrays(est, name, error)
        dof = est.degrees_of_freedom_
        if not isinstance(dof, np.ndarray) or dof.shape != (est.n_components,) \
                or not np.all(np.isfinite(dof)) or np.any(dof < np.finfo(np.float64).tiny):
            raise error(f"{name!s}: degrees_of_freedom_ is not {est.n_components} positive "
                        "numbers (normal, not denormal)")

