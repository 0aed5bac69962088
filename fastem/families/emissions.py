"""Emission models of the hidden Markov models, on the families' own code.

A hidden Markov model's state emits rows as one component of a mixture
does, so each emission here is a thin layer over its family: the per-state
log-density blocks are the family's (``fastem.kernels.hmm`` calls them to
write frames), the statistics under the forward-backward posteriors are
the family's statistics kernels with given responsibilities, and the
maximisation is the family's closed form.  What the layer adds is
hmmlearn's parametrisation: its attribute shapes, its priors (MAP updates
with a Normal-inverse-gamma or -Wishart prior), and its checks.

An emission object is built from the estimator (``from_estimator``) and
answers:

====================  ======================================================
``frames(X, scaled)``  per-row, per-state log-densities or scaled frames
                       (``fastem.kernels.hmm``)
``statistics(dtype, n)``  a collector of the emission statistics under the
                       posteriors, batch after batch (``add(X, post)``,
                       ``finish()``): the family's kernels
``m_step(stats)``      the new emission parameters (hmmlearn's updates)
``expected_log_density(stats)``  sum_t sum_k gamma_tk log p(x_t | k)
``log_prior()``        log p(theta) of the emission priors (up to a
                       constant), for the bound
====================  ======================================================
"""

import numpy as np
from scipy import linalg

from .. import kernels
from ..data.chunks import kernel_array
from ..engine import passes
from ..engine.sequences import PlanStatistics, dirichlet_log_prior, normalize
from .categorical import CategoricalPlan
from .gaussian import (
    GaussianPlan,
    _symmetrize,
    expected_log_density,
    given_plan,
    precision_cholesky,
)
from .linear import LinearPlan
from .poisson import PoissonFamily

COVARIANCE_TYPES = frozenset(("spherical", "diag", "full", "tied"))


def frame_outputs(n, n_components, scaled):
    """The frames kernels' outputs for n rows: ``frames`` (n, K) and
    ``shift`` (n,), or no shift when unscaled."""
    return np.empty((n, n_components)), np.empty(n if scaled else 0)


def validate_covars(covars, covariance_type, n_components):
    """hmmlearn's checks of ``covars_`` (its messages)."""
    if covariance_type == "spherical":
        if len(covars) != n_components:
            raise ValueError("'spherical' covars have length n_components")
        if np.any(covars <= 0):
            raise ValueError("'spherical' covars must be positive")
    elif covariance_type == "tied":
        if covars.ndim != 2 or covars.shape[0] != covars.shape[1]:
            raise ValueError("'tied' covars must have shape (n_dim, n_dim)")
        if not np.allclose(covars, covars.T) or np.any(linalg.eigvalsh(covars) <= 0):
            raise ValueError("'tied' covars must be symmetric, positive-definite")
    elif covariance_type == "diag":
        if covars.ndim != 2:
            raise ValueError("'diag' covars must have shape (n_components, n_dim)")
        if np.any(covars <= 0):
            raise ValueError("'diag' covars must be positive")
    elif covariance_type == "full":
        if covars.ndim != 3 or covars.shape[1] != covars.shape[2]:
            raise ValueError("'full' covars must have shape (n_components, n_dim, n_dim)")
        for n, cv in enumerate(covars):
            if not np.allclose(cv, cv.T) or np.any(linalg.eigvalsh(cv) <= 0):
                raise ValueError(
                    f"component {n} of 'full' covars must be symmetric, positive-definite")
    else:
        raise ValueError("covariance_type must be one of 'spherical', 'tied', 'diag', 'full'")


def distribute_covars(tied_cv, covariance_type, n_components):
    """The initial ``_covars_`` of every state from one covariance matrix
    (hmmlearn's layout: spherical as (K, d) rows of the mean variance)."""
    if covariance_type == "spherical":
        return np.tile(tied_cv.mean() * np.ones(tied_cv.shape[1]), (n_components, 1))
    if covariance_type == "tied":
        return tied_cv.copy()
    if covariance_type == "diag":
        return np.tile(np.diag(tied_cv), (n_components, 1))
    return np.tile(tied_cv, (n_components, 1, 1))


def fill_covars(covars, covariance_type, n_components, n_features):
    """``covars_`` as hmmlearn shows it: one full matrix per state."""
    if covariance_type == "full":
        return covars
    if covariance_type == "diag":
        return np.array([np.diag(c) for c in covars])
    if covariance_type == "tied":
        return np.tile(covars, (n_components, 1, 1))
    # (K,), or hmmlearn's (K, d) rows of one value after a step: the state's
    # variance is its row's first (hmmlearn ravels the rows, which gives K d
    # matrices, the first K of them not the states')
    covars = np.asarray(covars)
    variances = covars.reshape(len(covars), -1)[:, 0]
    return np.eye(n_features)[None, :, :] * variances[:, None, None]


def _state_cholesky(covars, n_features):
    """Upper U with U U^T = covars^-1 per state; a covariance that is not
    positive-definite is retried with 1e-7 on its diagonal, as hmmlearn
    does when it computes densities, then refused with its message."""
    out = np.empty_like(covars)
    for k, cv in enumerate(covars):
        try:
            chol = precision_cholesky(cv[None], "full", np.float64)[0]
        except ValueError:
            try:
                chol = precision_cholesky((cv + 1e-7 * np.eye(n_features))[None], "full",
                                          np.float64)[0]
            except ValueError:
                raise ValueError("'covars' must be symmetric, positive-definite") from None
        out[k] = chol
    return out


class GaussianEmission:
    """Gaussian emissions (``fastem.families.gaussian``), hmmlearn's
    ``GaussianHMM`` parametrisation: ``means`` (K, d) and ``covars`` in
    hmmlearn's private shapes (spherical (K,) or (K, d), diag (K, d), full
    (K, d, d), tied (d, d)), all float64."""

    def __init__(self, covariance_type, means, covars, *, means_prior=0.0, means_weight=0.0,
                 covars_prior=1e-2, covars_weight=1.0):
        self.covariance_type = covariance_type
        self.means = np.asarray(means, dtype=np.float64)
        self.covars = np.asarray(covars, dtype=np.float64)
        self.n_components, self.n_features = self.means.shape
        self.means_prior = means_prior
        self.means_weight = means_weight
        self.covars_prior = covars_prior
        self.covars_weight = covars_weight
        self._factor()

    def _factor(self):
        """The family's parameters (``gaussian.Params``, weights 1: the
        frames are plain state densities) and their per-state constants."""
        K, d = self.n_components, self.n_features
        ct = self.covariance_type
        if ct in ("spherical", "diag"):
            # spherical is (K,) or, after a step, hmmlearn's (K, d) rows;
            # hmmlearn floors variances at the smallest normal float
            var = np.broadcast_to(self.covars.reshape(K, -1), (K, d))
            self.chol = 1.0 / np.sqrt(np.maximum(var, np.finfo(float).tiny))
            log_det = np.log(self.chol).sum(axis=1)
            self.kind = "diag"
        else:
            covs = (np.broadcast_to(self.covars, (K, d, d)) if ct == "tied" else self.covars)
            self.chol = _state_cholesky(np.asarray(covs), d)
            log_det = np.log(np.diagonal(self.chol, axis1=1, axis2=2)).sum(axis=1)
            self.kind = "full"
        self.lnorm = kernel_array(log_det - 0.5 * d * np.log(2.0 * np.pi), np.float64)

    # -------------------------------------------------------------- frames

    def frames(self, X, scaled):
        """``(frames, shift)`` of the kernel-ready rows X (see
        ``fastem.kernels.hmm``); unscaled, ``frames`` are the log-densities."""
        frames, shift = frame_outputs(X.shape[0], self.n_components, scaled)
        means = kernel_array(self.means, X.dtype)
        chol = kernel_array(self.chol, X.dtype)
        if self.kind == "full":
            kernels.gaussian_full_frames(X, means, chol, self.lnorm, scaled, frames, shift)
        else:
            kernels.gaussian_diag_frames(X, means, chol, self.lnorm, scaled, frames, shift)
        return frames, shift

    def log_density(self, X):
        """Per-state log-densities of float64 rows (tests, small inputs)."""
        return self.frames(kernel_array(X, X.dtype), False)[0]

    # ------------------------------------------------------------ statistics

    def statistics(self, dtype, n):
        """The Gaussian family's statistics under given posteriors, centred
        on the current means; full and tied keep each state's full scatter,
        diagonal and spherical its per-feature one."""
        second = "full" if self.covariance_type in ("full", "tied") else "diag"
        return PlanStatistics(given_plan(self.means, second, dtype), n)

    def expected_log_density(self, stats):
        """``(value, scale)``: sum_t sum_k gamma_tk log N(x_t | mean_k, cov_k)
        from the statistics (the family's closed form)."""
        ct = "full" if self.kind == "full" else "diag"
        return expected_log_density(stats, self.means, self.chol, self.lnorm, ct)

    # ---------------------------------------------------------------- M-step

    def _scatters(self, stats, means):
        """sum_t gamma_tk (x_t - mean_k)(x_t - mean_k)^T per state (full) or
        its diagonal, moved from the statistics' shift to ``means``."""
        mo = stats.moments
        nk = stats.nk
        delta = means - mo.shift
        if self.covariance_type in ("full", "tied"):
            scatter = _symmetrize(mo.second)  # the kernels fill upper triangles only
            sx_delta = mo.sum_x[:, :, None] * delta[:, None, :]
            return (scatter + nk[:, None, None] * delta[:, :, None] * delta[:, None, :]
                    - sx_delta - np.swapaxes(sx_delta, 1, 2))
        return mo.second + delta * (nk[:, None] * delta - 2.0 * mo.sum_x)

    def m_step(self, stats, update_means, update_covars):
        """hmmlearn's MAP updates from the family's statistics: means
        ``(w mu0 + sum gamma x) / (w + sum gamma)``; covariances
        ``(covars_prior + w (mean - mu0)^2 + scatter) / (a + sum gamma)``
        with the prior's weight ``a = max(covars_weight - 1, 0)`` (diagonal;
        spherical then averages over features) or ``max(covars_weight - d,
        0)`` (full; tied pools the states).  The priors broadcast as
        hmmlearn's do."""
        nk = stats.nk
        means = self.means
        mp, mw = np.asarray(self.means_prior), np.asarray(self.means_weight)
        if update_means:
            mo = stats.moments
            obs = mo.sum_x + nk[:, None] * mo.shift
            means = (mw * mp + obs) / (mw + nk[:, None])
        covars = self.covars
        if update_covars:
            cp, cw = self.covars_prior, self.covars_weight
            meandiff = means - mp
            scatter = self._scatters(stats, means)
            if self.covariance_type in ("spherical", "diag"):
                c_n = mw * meandiff**2 + scatter
                c_d = max(cw - 1, 0) + nk[:, None]
                covars = (cp + c_n) / np.maximum(c_d, 1e-5)
                if self.covariance_type == "spherical":
                    covars = np.tile(covars.mean(1)[:, None], (1, covars.shape[1]))
            else:
                c_n = np.empty_like(scatter)
                for c in range(self.n_components):
                    c_n[c] = mw * np.outer(meandiff[c], meandiff[c]) + scatter[c]
                a = max(cw - self.n_features, 0)
                if self.covariance_type == "tied":
                    covars = (cp + c_n.sum(axis=0)) / (a + nk.sum())
                else:
                    covars = (cp + c_n) / (a + nk[:, None, None])
        return means, covars

    def log_prior(self):
        """log p(means, covariances), up to a constant, of the prior whose
        MAP estimate the updates are: per state and covariance ``S``,
        ``-a/2 log|S| - 1/2 tr(S^-1 (covars_prior + w (mean - mu0)(mean -
        mu0)^T))`` (diagonal: per feature), ``a`` as in ``m_step``."""
        mp, mw = np.asarray(self.means_prior), np.asarray(self.means_weight)
        cp, cw = self.covars_prior, self.covars_weight
        K, d = self.n_components, self.n_features
        meandiff = self.means - mp
        if self.kind == "diag":
            a = max(cw - 1, 0)
            num = np.broadcast_to(cp + mw * meandiff**2, (K, d))
            terms = a * np.log(self.chol) - 0.5 * num * self.chol**2
            return float(terms.sum())
        a = max(cw - d, 0)
        prec = self.chol @ np.swapaxes(self.chol, 1, 2)
        log_det_prec = 2.0 * np.log(np.diagonal(self.chol, axis1=1, axis2=2)).sum(axis=1)
        outer = np.stack([mw * np.outer(m, m) for m in meandiff])
        if self.covariance_type == "tied":
            num = np.broadcast_to(cp + outer.sum(axis=0), (d, d))
            return float(0.5 * a * log_det_prec[0] - 0.5 * np.sum(prec[0] * num))
        num = np.broadcast_to(cp + outer, (K, d, d))
        return float(0.5 * a * log_det_prec.sum() - 0.5 * np.sum(prec * num))

    def prior_exact(self):
        """Whether the updates maximise E_q[log p(X, Z)] + ``log_prior``
        exactly: they do, for every prior weight (``log_prior`` uses the
        clamped weight the updates use)."""
        return True


class CategoricalEmission:
    """Categorical emissions of one symbol per row (``fastem.families.
    categorical``: its kernels with one feature of ``n_features`` codes),
    hmmlearn's ``CategoricalHMM`` parametrisation: ``emissionprob`` (K, C)
    and a Dirichlet prior ``emissionprob_prior``."""

    def __init__(self, emissionprob, emissionprob_prior=1.0):
        self.emissionprob = np.asarray(emissionprob, dtype=np.float64)
        self.n_components, self.n_symbols = self.emissionprob.shape
        self.prior = emissionprob_prior
        with np.errstate(divide="ignore"):
            self.log_table = np.log(self.emissionprob)
        self.offsets = np.array([0, self.n_symbols], dtype=np.int64)
        self.lnorm = np.zeros(self.n_components)

    def frames(self, X, scaled):
        frames, shift = frame_outputs(X.shape[0], self.n_components, scaled)
        log_table_t = kernel_array(self.log_table.T, X.dtype)
        kernels.categorical_frames(X, log_table_t, self.offsets[:-1], self.lnorm, scaled,
                                   frames, shift)
        return frames, shift

    def statistics(self, dtype, n):
        K, C = self.n_components, self.n_symbols
        return PlanStatistics(CategoricalPlan(dtype, np.zeros((K, C)), np.zeros(K),
                                              self.offsets, True), n)

    def expected_log_density(self, stats):
        counts = stats.moments
        terms = np.multiply(counts, self.log_table, out=np.zeros_like(counts),
                            where=counts > 0)
        return float(terms.sum()), float(np.abs(terms).sum())

    def m_step(self, stats):
        """hmmlearn's update: ``max(prior - 1 + counts, 0)``, rows normalised."""
        table = np.maximum(self.prior - 1 + stats.moments, 0)
        normalize(table, axis=1)
        return table

    def log_prior(self):
        return dirichlet_log_prior(self.emissionprob, self.prior)

    def prior_exact(self):
        return bool(np.all(np.asarray(self.prior, dtype=np.float64) >= 1))


class PoissonEmission:
    """Independent Poisson counts (``fastem.families.poisson``: its kernels,
    its table of log k!), hmmlearn's ``PoissonHMM`` parametrisation:
    ``lambdas`` (K, d), and its update with ``lambdas_prior`` and
    ``lambdas_weight``."""

    def __init__(self, lambdas, lambdas_prior=0.0, lambdas_weight=0.0):
        self.lambdas = np.asarray(lambdas, dtype=np.float64)
        self.n_components, self.n_features = self.lambdas.shape
        self.lambdas_prior = lambdas_prior
        self.lambdas_weight = lambdas_weight
        # a zero rate takes only zero counts: its log is floored to a finite
        # value, so that 0 * log(rate) stays 0 in the kernel's products
        self.coef = np.log(np.maximum(self.lambdas, np.finfo(float).tiny))
        self.lnorm = -self.lambdas.sum(axis=1)

    def frames(self, X, scaled):
        frames, shift = frame_outputs(X.shape[0], self.n_components, scaled)
        kernels.linear_frames(X, kernel_array(self.coef, X.dtype), self.lnorm,
                              PoissonFamily.log_factorial, scaled, frames, shift)
        return frames, shift

    def statistics(self, dtype, n):
        K, d = self.n_components, self.n_features
        return PlanStatistics(LinearPlan(dtype, np.zeros((K, d)), np.zeros(K),
                                         PoissonFamily.log_factorial, True), n)

    def expected_log_density(self, stats):
        """sum gamma (x log lambda - lambda), less the rows' -sum log x!
        (the same under any parameters: it cancels from the bound's
        differences)."""
        sum_x, nk = stats.moments, stats.nk
        with np.errstate(divide="ignore"):
            log_rates = np.log(self.lambdas)
        linear = np.multiply(sum_x, log_rates, out=np.zeros_like(sum_x), where=sum_x > 0)
        rates = nk[:, None] * self.lambdas
        return float(linear.sum() - rates.sum()), float(np.abs(linear).sum() + rates.sum())

    def m_step(self, stats):
        """hmmlearn's update ``(prior + n y_bar) / (weight + n)``, with ``n``
        the total posterior mass of all states (hmmlearn's choice) and
        ``y_bar`` each state's mean count."""
        nk = stats.nk
        n = nk.sum()
        with np.errstate(divide="ignore", invalid="ignore"):
            y_bar = stats.moments / nk[:, None]
        return (self.lambdas_prior + n * y_bar) / (self.lambdas_weight + n)

    def log_prior(self):
        return 0.0

    def prior_exact(self):
        """Maximum likelihood without a prior; with one, hmmlearn's update
        weighs it against every state's total mass, the MAP estimate of no
        prior: the bound is then kept, not checked."""
        return bool(np.all(np.asarray(self.lambdas_prior) == 0)
                    and np.all(np.asarray(self.lambdas_weight) == 0))


class CallbackEmission:
    """Emissions given by a function of the rows (a subclass of
    ``fastem.hmm.BaseHMM`` that defines ``_compute_log_likelihood``, as in
    hmmlearn): its per-state log-likelihoods feed the recursions as they
    are; nothing of it is fitted (its expected log-density is the same
    before and after every M-step, so it adds nothing to the bound's
    differences: 0 here)."""

    def __init__(self, log_likelihood):
        self.log_likelihood = log_likelihood

    def frames(self, X, scaled):
        logb = np.array(self.log_likelihood(X), dtype=np.float64, order="C")
        if not scaled:
            return logb, np.empty(0)
        shift = logb.max(axis=1)
        finite = np.isfinite(shift)
        with np.errstate(invalid="ignore", under="ignore"):
            frames = np.where(finite[:, None], np.exp(logb - shift[:, None]), 0.0)
        return np.ascontiguousarray(frames), shift

    def statistics(self, dtype, n):
        return None

    def expected_log_density(self, stats):
        return 0.0, 0.0

    def log_prior(self):
        return 0.0

    def prior_exact(self):
        return True


class GaussianMixtureEmission:
    """Each state emits from its own Gaussian mixture (hmmlearn's ``GMMHMM``):
    ``weights`` (K, M), ``means`` (K, M, d) and ``covars`` in hmmlearn's
    shapes (spherical (K, M), diag (K, M, d), full (K, M, d, d), tied (K, d,
    d): one matrix per state, shared by its components).

    A state's log-density is its mixture's log-likelihood: the Gaussian
    family's fused kernel over the rows with that state's weights, means and
    factors writes it (``out_lpn``).  Its statistics are the same kernel's
    with each row weighed by the state's posterior (``sample_weight``):
    then ``nk[m] = sum_t gamma_t r_tm`` and the moments are the mixture
    posterior's, times gamma -- one pass per state for the frames, one for
    the statistics.  The updates are hmmlearn's (its priors, and its
    scatter taken about the E-step's means)."""

    def __init__(self, covariance_type, weights, means, covars, *, weights_prior,
                 means_prior, means_weight, covars_prior, covars_weight):
        self.covariance_type = covariance_type
        self.weights = np.asarray(weights, dtype=np.float64)
        self.means = np.asarray(means, dtype=np.float64)
        self.covars = np.asarray(covars, dtype=np.float64)
        self.n_components, self.n_mix, self.n_features = self.means.shape
        self.weights_prior = weights_prior
        self.means_prior = means_prior
        self.means_weight = means_weight
        self.covars_prior = covars_prior
        self.covars_weight = covars_weight
        self._factor()

    def _factor(self):
        """Per state: the kernel's covariance type (tied: the full kernel, its
        one factor repeated, so that each component's scatter is kept), the
        precision factors and the log-norms with the log weights."""
        ct = self.covariance_type
        K, M, d = self.n_components, self.n_mix, self.n_features
        self.kind = "full" if ct in ("full", "tied") else ct
        self.chol = []
        self.lnorm = []
        for p in range(K):
            if ct in ("full", "tied"):
                covs = np.broadcast_to(self.covars[p], (M, d, d)) if ct == "tied" \
                    else self.covars[p]
                chol = _state_cholesky(np.asarray(covs), d)
                log_det = np.log(np.diagonal(chol, axis1=1, axis2=2)).sum(axis=1)
            else:
                var = np.broadcast_to(self.covars[p].reshape(M, -1), (M, d))
                chol = 1.0 / np.sqrt(np.maximum(var, np.finfo(float).tiny))
                log_det = np.log(chol).sum(axis=1)
                if ct == "spherical":
                    chol = chol[:, 0].copy()
            with np.errstate(divide="ignore"):
                log_w = np.log(self.weights[p])
            self.chol.append(chol)
            self.lnorm.append(log_w + log_det - 0.5 * d * np.log(2.0 * np.pi))

    def _plan(self, p, dtype, want_stats):
        return GaussianPlan(self.kind, dtype, kernel_array(self.means[p], dtype),
                            kernel_array(self.chol[p], dtype), self.lnorm[p], want_stats)

    def frames(self, X, scaled):
        n, K = X.shape[0], self.n_components
        logb = np.empty((n, K))
        out_lpn = np.empty(n, dtype=X.dtype)
        no_resp = np.empty((0, self.n_mix), dtype=X.dtype)
        no_label = np.empty(0, dtype=np.int64)
        no_weight = np.empty(0, dtype=X.dtype)
        for p in range(K):
            plan = self._plan(p, X.dtype, False)
            accs = passes.accumulators(plan, n)
            plan.run(X, no_weight, (out_lpn, no_resp, no_label), accs, n)
            logb[:, p] = out_lpn
        if not scaled:
            return logb, np.empty(0)
        shift = np.empty(n)
        kernels.scale_frames(logb, logb, shift)
        return logb, shift

    def statistics(self, dtype, n):
        return _MixtureStatistics(self, dtype, n)

    def _scatter(self, stats):
        """Per component, sum r (x - mean)(x - mean)^T about the E-step's
        means (hmmlearn's ``c_n``): full (M, d, d), or per feature (M, d)."""
        if self.kind == "full":
            return _symmetrize(stats.moments.second)
        if self.kind == "spherical":
            # the spherical kernel spreads sum r |x - mean|^2 over features
            return stats.moments.second.sum(axis=1)
        return stats.moments.second

    def expected_log_density(self, stats):
        """sum_t sum_k gamma_tk E_r[log w + log N] (the mixture's complete
        log-likelihood under its posterior; with each mixture's entropy
        this is the state's log-density): the family's closed form, per
        state."""
        value = scale = 0.0
        for p, st in enumerate(stats):
            kind = "diag" if self.kind == "spherical" else self.kind
            chol = self.chol[p]
            if self.kind == "spherical":
                chol = np.repeat(chol[:, None], self.n_features, axis=1)
            v, sc = expected_log_density(st, self.means[p], chol, self.lnorm[p], kind)
            value += v
            scale += sc
        return value, scale

    def m_step(self, stats, params):
        """hmmlearn's updates of the weights ('w'), means ('m') and
        covariances ('c'), from each state's statistics (priors already
        broadcast to hmmlearn's shapes)."""
        M, d = self.n_mix, self.n_features
        post_mix_sum = np.stack([st.nk for st in stats])  # (K, M)
        post_sum = post_mix_sum.sum(axis=1)
        weights, means, covars = self.weights, self.means, self.covars
        if "w" in params:
            alphas_minus_one = self.weights_prior - 1
            w_n = post_mix_sum + alphas_minus_one
            w_d = (post_sum + alphas_minus_one.sum(axis=1))[:, None]
            weights = w_n / w_d
        if "m" in params:
            obs = np.stack([st.moments.sum_x + st.nk[:, None] * st.moments.shift
                            for st in stats])
            m_n = self.means_weight[:, :, None] * self.means_prior + obs
            m_d = post_mix_sum + self.means_weight
            m_d[(weights == 0) & (m_n == 0).all(axis=-1)] = 1
            means = m_n / m_d[:, :, None]
        if "c" in params:
            lambdas, mus = self.means_weight, self.means_prior
            centered = means - mus
            scatter = np.stack([self._scatter(st) for st in stats])
            ct = self.covariance_type
            if ct == "full":
                outer = centered[..., :, None] * centered[..., None, :]
                psis_t = np.transpose(self.covars_prior, axes=(0, 1, 3, 2))
                c_n = psis_t + lambdas[:, :, None, None] * outer + scatter
                c_d = (post_mix_sum + 1 + self.covars_weight + d + 1)[:, :, None, None]
            elif ct == "diag":
                alphas, betas = self.covars_prior, self.covars_weight
                c_n = lambdas[:, :, None] * centered**2 + 2 * betas + scatter
                c_d = post_mix_sum[:, :, None] + 1 + 2 * (alphas + 1)
            elif ct == "spherical":
                alphas, betas = self.covars_prior, self.covars_weight
                c_n = lambdas * np.einsum("...i,...i", centered, centered) + 2 * betas + scatter
                c_d = d * (post_mix_sum + 1) + 2 * (alphas + 1)
            else:
                outer = centered[..., :, None] * centered[..., None, :]
                psis_t = np.transpose(self.covars_prior, axes=(0, 2, 1))
                c_n = np.einsum("ij,ijkl->ikl", lambdas, outer) + psis_t + scatter.sum(axis=1)
                c_d = (post_sum + M + self.covars_weight + d + 1)[:, None, None]
            # A component no row belongs to has, under hmmlearn's default
            # priors, 0 / 0 for its covariance (hmmlearn's NaN): it keeps its
            # covariance instead.
            c_d = np.broadcast_to(c_d, c_n.shape)
            empty = c_d == 0
            with np.errstate(invalid="ignore", divide="ignore"):
                covars = np.where(empty, self.covars, c_n / np.where(empty, 1.0, c_d))
        return weights, means, covars

    def log_prior(self):
        return dirichlet_log_prior(self.weights, self.weights_prior)

    def prior_exact(self):
        """hmmlearn's covariance update takes the scatter about the E-step's
        means, not the new ones: not the M-step's maximiser, so the bound
        is kept, not checked."""
        return False


class _MixtureStatistics:
    """The per-state mixture statistics of ``GaussianMixtureEmission``:
    each state's fused kernel, rows weighed by its posterior."""

    def __init__(self, emission, dtype, n):
        self.emission = emission
        self.n = n
        self.dtype = np.dtype(dtype)
        self.plans = [emission._plan(p, dtype, True) for p in range(emission.n_components)]
        self.accs = [passes.accumulators(plan, n) for plan in self.plans]
        self.empties = passes.empty_outputs(emission.n_mix, dtype)

    def add(self, X, post, row_weight):
        for p, plan in enumerate(self.plans):
            weight = post[:, p] * row_weight if row_weight.size else post[:, p]
            plan.run(X, kernel_array(weight, self.dtype), self.empties, self.accs[p],
                     X.shape[0])

    def finish(self, n_rows):
        return [passes.finish(plan, passes.reduce_partitions(accs), n_rows)
                for plan, accs in zip(self.plans, self.accs)]
