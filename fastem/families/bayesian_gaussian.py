"""The variational Bayesian Gaussian family (``BayesianGaussianMixture``).

Variational inference for a Gaussian mixture with a Dirichlet-process
(stick-breaking) or Dirichlet prior on the weights and a Gaussian-Wishart
prior on each component's mean and precision, as scikit-learn's
``BayesianGaussianMixture`` does it (Bishop, PRML 10.2, with its
normalisations): the same parameters, the same updates, the same lower bound.

Everything it needs from the data is what the Gaussian family's kernels
already sum.  Its E-step is the Gaussian kernel pass with other
per-component constants: with ``U_k`` the Cholesky factor of ``precisions_``
(scikit-learn's ``covariances_`` are the inverse Wishart scale divided by the
degrees of freedom nu_k), the expected weighted log-density of component k is

    log_norm[k] - |U_k^T (x - m_k)|^2 / 2,
    log_norm[k] = E[log pi_k] + log|U_k| - d/2 log(2 pi) - d/2 log nu_k
                  + (E[log |Lambda_k|] - d / beta_k) / 2,

E[log |Lambda_k|] without its log|W_k| (scikit-learn's ``log_lambda``: d log 2
plus the digamma sum), which log|U_k| - d/2 log nu_k supplies.  Its M-step turns the Gaussian statistics ``(nk, xk, Sk)`` into the
posterior hyperparameters.  Its bound is scikit-learn's ``_compute_lower_bound``
(constants dropped), a total over the rows, checked never to decrease.
"""

from typing import NamedTuple

import numpy as np
from scipy.special import betaln, digamma, gammaln

from ..data.validation import check_shape, float_array
from ..engine.family import FLOAT_DTYPES
from ..engine.passes import compute_dtype
from .gaussian import (
    GaussianComponents,
    GaussianFamily,
    _reg_loss_eigen,
    cached_scatter,
    check_precision_matrices,
    check_precision_positivity,
    degenerate_components,
    expected_log_density,
    gaussian_estimates,
    log_det_cholesky,
    precision_cholesky,
    reseeded_covariances,
)


class BayesianParams(NamedTuple):
    """The variational posterior, in scikit-learn's attributes (float64)."""

    weights: np.ndarray  # the posterior mean weights (weights_)
    means: np.ndarray
    covariances: np.ndarray
    precisions_cholesky: np.ndarray
    weight_concentration: object  # (K,), or a pair of (K,) for the Dirichlet process
    mean_precision: np.ndarray
    degrees_of_freedom: object  # (K,), or a number (tied)


def posterior_weights(weight_concentration, prior_type):
    """``weights_``: the mean of the weights' variational posterior."""
    if prior_type == "dirichlet_process":
        a, b = weight_concentration
        total = a + b
        weights = a / total * np.hstack((1, np.cumprod(b / total)[:-1]))
        return weights / np.sum(weights)
    return weight_concentration / np.sum(weight_concentration)


def expected_log_weights(weight_concentration, prior_type):
    """E[log pi_k] under the weights' variational posterior."""
    if prior_type == "dirichlet_process":
        a, b = weight_concentration
        digamma_sum = digamma(a + b)
        return (digamma(a) - digamma_sum
                + np.hstack((0, np.cumsum(digamma(b) - digamma_sum)[:-1])))
    return digamma(weight_concentration) - digamma(np.sum(weight_concentration))


def _log_wishart_norm(degrees_of_freedom, log_det_precisions_chol, n_features):
    """log of the Wishart normaliser, without its log(pi) term (scikit-learn's)."""
    return -(degrees_of_freedom * log_det_precisions_chol
             + degrees_of_freedom * n_features * 0.5 * np.log(2.0)
             + np.sum(gammaln(0.5 * (degrees_of_freedom
                                     - np.arange(n_features)[:, np.newaxis])), 0))


class BayesianGaussianFamily(GaussianComponents):
    """``BayesianGaussianMixture``'s family: variational inference."""

    exact_em = False
    # The priors that default to the data's moments, from the rows with
    # NaN filled by the columns' means (as the initialisation sees them).
    prepare_on_filled = True
    array_attributes = ("weights_", "means_", "covariances_", "precisions_",
                        "precisions_cholesky_", "weight_concentration_", "mean_precision_",
                        "degrees_of_freedom_", "mean_prior_", "covariance_prior_")
    scalar_attributes = ("weight_concentration_prior_", "mean_precision_prior_",
                         "degrees_of_freedom_prior_")

    def __init__(self, n_components, covariance_type, reg_covar,
                 weight_concentration_prior_type="dirichlet_process",
                 weight_concentration_prior=None, mean_precision_prior=None, mean_prior=None,
                 degrees_of_freedom_prior=None, covariance_prior=None):
        super().__init__(n_components, covariance_type, reg_covar)
        self.prior_type = weight_concentration_prior_type
        self.weight_concentration_prior = weight_concentration_prior
        self.mean_precision_prior = mean_precision_prior
        self.mean_prior = mean_prior
        self.degrees_of_freedom_prior = degrees_of_freedom_prior
        self.covariance_prior = covariance_prior
        self.priors = None

    # ------------------------------------------------------------ set-up

    def setup(self, n_features, data_dtype):
        """The priors that need no data, checked as scikit-learn checks them
        (in its order)."""
        self.data_dtype = np.dtype(data_dtype)
        # scikit-learn's responsibilities are float64 from the first E-step
        # on (its expected log-densities promote them), so the model is; the
        # passes compute in the data's dtype (kernel_dtype_for).
        self.dtype = np.dtype(np.float64)
        self.kernel_dtype = compute_dtype(data_dtype)
        self.weight_concentration_prior_ = (
            1.0 / self.n_components if self.weight_concentration_prior is None
            else self.weight_concentration_prior)
        self.mean_precision_prior_ = (
            1.0 if self.mean_precision_prior is None else self.mean_precision_prior)
        self.mean_prior_ = None
        if self.mean_prior is not None:
            self.mean_prior_ = float_array(self.mean_prior)
            check_shape(self.mean_prior_, (n_features,), "means")
        if self.degrees_of_freedom_prior is None:
            self.degrees_of_freedom_prior_ = n_features
        elif self.degrees_of_freedom_prior > n_features - 1.0:
            self.degrees_of_freedom_prior_ = self.degrees_of_freedom_prior
        else:
            raise ValueError(
                "The parameter 'degrees_of_freedom_prior' "
                "should be greater than %d, but got %.3f."
                % (n_features - 1, self.degrees_of_freedom_prior)
            )
        self.covariance_prior_ = None
        cov = self.covariance_type
        if self.covariance_prior is not None:
            if cov in ("full", "tied"):
                prior = float_array(self.covariance_prior)
                check_shape(prior, (n_features, n_features), f"{cov} covariance_prior")
                check_precision_matrices(prior, cov)
            elif cov == "diag":
                prior = float_array(self.covariance_prior)
                check_shape(prior, (n_features,), f"{cov} covariance_prior")
                check_precision_positivity(prior, cov)
            else:
                prior = self.covariance_prior
            self.covariance_prior_ = prior

    def prepare(self, X, sample_weight, cache=None):
        """The priors that default to the data's mean and covariance (as
        scikit-learn's ``np.mean``, ``np.cov`` and ``np.var(ddof=1)``, the
        rows counted by their sample weights), and the tied scatter."""
        cov = self.covariance_type
        needs_data = self.mean_prior_ is None or self.covariance_prior_ is None
        second = "full" if cov in ("full", "tied") else "diag"
        if cov == "tied":
            self.tied = cached_scatter(X, sample_weight, "full", cache)
        if needs_data:
            moments = cached_scatter(X, sample_weight, second, cache)
            if self.mean_prior_ is None:
                self.mean_prior_ = moments.center.astype(self.data_dtype)
            if self.covariance_prior_ is None:
                covariance = moments.scatter / (moments.n_samples - 1.0)
                if cov in ("full", "tied"):
                    self.covariance_prior_ = np.atleast_2d(covariance)
                elif cov == "diag":
                    self.covariance_prior_ = covariance.astype(self.data_dtype)
                else:
                    self.covariance_prior_ = self.data_dtype.type(
                        covariance.astype(self.data_dtype).mean())
        self.priors = dict(
            weight_concentration_prior_=self.weight_concentration_prior_,
            mean_precision_prior_=self.mean_precision_prior_,
            mean_prior_=self.mean_prior_,
            degrees_of_freedom_prior_=self.degrees_of_freedom_prior_,
            covariance_prior_=self.covariance_prior_,
        )

    # ---------------------------------------------------- initialisation

    def initial_estimate(self, X, source):
        stats, tied = self.initial_statistics(X, source)
        nk, xk, sk, _ = gaussian_estimates(stats, self.covariance_type, self.reg_covar,
                                           self.data_dtype, tied, source.every_row)
        return self._update(nk, xk, sk), stats.nk

    # ----------------------------------------------------- passes, M-step

    def kernel_dtype_for(self, params, data_dtype):
        """The data's dtype: float32 data get float32 blocks (twice the SIMD
        lanes, no converted copy) and float64 sums, though the model and its
        outputs are float64, as scikit-learn's."""
        return compute_dtype(data_dtype)

    def log_norm(self, params):
        """The kernel's per-component constants of the expected weighted
        log-density (scikit-learn's ``_estimate_weighted_log_prob`` less
        the quadratic term), float64."""
        n_features = params.means.shape[1]
        dof = np.asarray(params.degrees_of_freedom, dtype=np.float64)
        log_det = log_det_cholesky(params.precisions_cholesky, self.covariance_type, n_features)
        log_lambda = n_features * np.log(2.0) + np.sum(
            digamma(0.5 * (dof - np.arange(0, n_features)[:, np.newaxis])), 0)
        out = (expected_log_weights(params.weight_concentration, self.prior_type)
               + log_det - 0.5 * n_features * np.log(2.0 * np.pi)
               - 0.5 * n_features * np.log(dof)
               + 0.5 * (log_lambda - n_features / params.mean_precision))
        return np.ascontiguousarray(np.broadcast_to(out, (self.n_components,)),
                                    dtype=np.float64)

    def m_step(self, stats):
        stats, tied = self.tied_view(stats)
        nk, xk, sk, _ = gaussian_estimates(stats, self.covariance_type, self.reg_covar,
                                           self.dtype, tied)
        estimate = self._update(nk, xk, sk)
        return estimate, self._reg_slack(estimate, nk)

    def _update(self, nk, xk, sk):
        """The variational posterior's hyperparameters from the Gaussian
        estimates ``(nk, xk, sk)`` (scikit-learn's ``_estimate_weights``,
        ``_estimate_means`` and ``_estimate_wishart_*``): ``(weight_concentration,
        mean_precision, means, degrees_of_freedom, covariances)``, float64."""
        K = self.n_components
        p = self.priors
        beta0 = p["mean_precision_prior_"]
        nu0 = p["degrees_of_freedom_prior_"]
        m0 = np.asarray(p["mean_prior_"], dtype=np.float64)
        W0inv = np.asarray(p["covariance_prior_"], dtype=np.float64)
        if self.prior_type == "dirichlet_process":
            concentration = (1.0 + nk, p["weight_concentration_prior_"]
                             + np.hstack((np.cumsum(nk[::-1])[-2::-1], 0)))
        else:
            concentration = p["weight_concentration_prior_"] + nk
        beta = beta0 + nk
        means = (beta0 * m0 + nk[:, None] * xk) / beta[:, None]
        diff = xk - m0
        cov = self.covariance_type
        if cov == "full":
            dof = nu0 + nk
            covariances = (W0inv + nk[:, None, None] * sk
                           + (nk * beta0 / beta)[:, None, None] * diff[:, :, None]
                           * diff[:, None, :])
            covariances /= dof[:, None, None]
        elif cov == "tied":
            dof = nu0 + nk.sum() / K
            covariances = (W0inv + sk * nk.sum() / K
                           + beta0 / K * np.dot((nk / beta) * diff.T, diff)) / dof
        elif cov == "diag":
            dof = nu0 + nk
            covariances = (W0inv + nk[:, None] * (sk + (beta0 / beta)[:, None] * diff**2))
            covariances /= dof[:, None]
        else:
            dof = nu0 + nk
            covariances = (W0inv + nk * (sk + beta0 / beta * np.mean(diff**2, 1))) / dof
        return concentration, beta, means, dof, covariances

    def _reg_slack(self, estimate, nk):
        """How far the bound may fall because ``reg_covar`` is added to the
        empirical covariances: the Wishart update with S + reg I misses its
        optimum over the scale W by (nu/2) sum_j f(c / lambda_j), f(t) = log(1
        + t) - t / (1 + t), c the regularisation's share of nu * covariance
        and lambda_j the eigenvalues of the rest (the Gaussian family's
        ``_reg_loss_eigen``, with nu for r)."""
        if self.reg_covar == 0.0:
            return 0.0
        _, _, _, dof, covariances = estimate
        cov = self.covariance_type
        K = self.n_components
        if cov == "full":
            scaled = dof[:, None, None] * covariances
            c = nk * self.reg_covar
            eig = np.linalg.eigvalsh(scaled) - c[:, None]
            return _loss_rows(eig, c, dof)
        if cov == "tied":
            c = np.array([nk.sum() / K * self.reg_covar])
            eig = np.linalg.eigvalsh(dof * covariances)[None] - c[:, None]
            return K * _loss_rows(eig, c, np.array([dof]))
        if cov == "diag":
            c = nk * self.reg_covar
            eig = dof[:, None] * covariances - c[:, None]
            return _loss_rows(eig, c, dof)
        n_features = self.priors["mean_prior_"].shape[0]
        c = nk * self.reg_covar
        eig = (dof * covariances - c)[:, None]
        return n_features * _loss_rows(eig, c, dof)

    def finish(self, estimate):
        concentration, beta, means, dof, covariances = estimate
        prec_chol = precision_cholesky(covariances, self.covariance_type, self.dtype)
        return BayesianParams(posterior_weights(concentration, self.prior_type), means,
                              covariances, prec_chol, concentration, beta, dof)

    # ------------------------------------------------------------- bound

    def bound(self, stats, e_step_params, params):
        """``(bound, scale)``: scikit-learn's lower bound after the M-step
        (a total over the rows, not per row): minus the E-step's sum r log r,
        the Wishart and weight normalisers and the means' precision term,
        over the new ``params``; ``stats`` from the E-step under
        ``e_step_params``."""
        expected, scale = self._expected(stats, e_step_params)
        value = self._bound_terms(stats.sum_lpn - expected, params)
        return value, (scale + stats.sum_abs_lpn) / stats.n_samples

    def _expected(self, stats, params):
        """sum_i w_i sum_k r_ik log rho_ik: the E-step's expected
        log-densities, a closed form of its statistics."""
        stats, tied = self.tied_view(stats)
        return expected_log_density(stats, params.means, params.precisions_cholesky,
                                    self.cached_log_norm(params), self.covariance_type, tied)

    def entropy(self, stats, params):
        """-sum_i w_i sum_k r_ik log r_ik: the log-likelihood (of the
        variational log-densities) less their expectation."""
        return stats.sum_lpn - self._expected(stats, params)[0]

    def block_bound(self, stats, entropy, params):
        """The bound of ``params`` fitted to ``stats`` (the M-step's result:
        scikit-learn's formula holds there), the posteriors' entropy
        ``entropy``: a total, as ``bound``."""
        scale = stats.sum_abs_lpn / stats.n_samples
        return self._bound_terms(entropy, params), scale

    def _bound_terms(self, entropy, params):
        n_features = params.means.shape[1]
        log_det = log_det_cholesky(params.precisions_cholesky, self.covariance_type,
                                   n_features) - 0.5 * n_features * np.log(
            params.degrees_of_freedom)
        if self.covariance_type == "tied":
            log_wishart = self.n_components * float(np.squeeze(
                _log_wishart_norm(params.degrees_of_freedom, log_det, n_features)))
        else:
            log_wishart = float(np.sum(_log_wishart_norm(params.degrees_of_freedom, log_det,
                                                         n_features)))
        if self.prior_type == "dirichlet_process":
            log_norm_weight = -float(np.sum(betaln(*params.weight_concentration)))
        else:
            wc = params.weight_concentration
            log_norm_weight = float(gammaln(np.sum(wc)) - np.sum(gammaln(wc)))
        # (scikit-learn's tied bound is an array of shape (1,): a number here.)
        return np.float64(entropy - log_wishart - log_norm_weight
                          - 0.5 * n_features * float(np.sum(np.log(params.mean_precision))))

    # ----------------------------------------------------------- re-seed

    def degenerate(self, estimate, nk):
        """Components whose covariance cannot be factorised (not positive-
        definite, not positive, not finite).  An emptied component is not
        degenerate here: the weights' prior lets the model switch
        components off, and its posterior keeps the prior's covariance."""
        return degenerate_components(np.full_like(nk, np.inf), estimate[4],
                                     self.covariance_type)

    def healthy(self, estimate, good):
        """The healthy components' posterior means as a Gaussian mixture."""
        concentration, _, means, _, covariances = estimate
        weights = posterior_weights(concentration, self.prior_type)
        family = GaussianFamily(self.n_components, self.covariance_type, self.reg_covar)
        family.dtype = self.dtype
        return family.healthy((weights, means, covariances), good)

    def replace(self, estimate, bad, rows, nk):
        """Each ``bad`` component restarts at one of ``rows`` as if it had
        ``1 / n_components`` of the responsibility and the healthy components'
        mean covariance."""
        concentration, beta, means, dof, covariances = estimate
        good = np.setdiff1d(np.arange(self.n_components), bad)
        share = np.array(nk, dtype=np.float64)
        share[bad] = share.sum() / self.n_components
        means = np.array(means, dtype=np.float64)
        means[bad] = rows
        covariances = reseeded_covariances(covariances, self.covariance_type, nk, good, bad)
        fresh = self._update(share, means, covariances)
        beta = np.array(beta, dtype=np.float64)
        beta[bad] = fresh[1][bad]
        if self.covariance_type != "tied":
            dof = np.array(dof, dtype=np.float64)
            dof[bad] = fresh[3][bad]
        return fresh[0], beta, means, dof, covariances

    # ------------------------------------------------------- fitted model

    def from_estimator(self, est):
        return BayesianParams(est.weights_, est.means_, est.covariances_,
                              est.precisions_cholesky_, est.weight_concentration_,
                              est.mean_precision_, est.degrees_of_freedom_)

    def to_sklearn(self, params):
        return (params.weight_concentration, params.mean_precision, params.means,
                params.degrees_of_freedom, params.covariances, params.precisions_cholesky)

    def from_sklearn(self, values):
        concentration, beta, means, dof, covariances, prec_chol = values
        return BayesianParams(posterior_weights(concentration, self.prior_type), means,
                              covariances, prec_chol, concentration, beta, dof)

    def fitted_attributes(self, params):
        out = super().fitted_attributes(params)
        out.update({
            "weight_concentration_": params.weight_concentration,
            "mean_precision_": params.mean_precision,
            "degrees_of_freedom_": params.degrees_of_freedom,
        })
        out.update(self.prior_attributes())
        return out

    def prior_attributes(self):
        return dict(self.priors) if self.priors is not None else {}

    def saved_layout(self, est, read):
        layout = super().saved_layout(est, read)
        K, d = est.n_components, est.n_features_in_
        cov = self.covariance_type
        layout.update({
            "mean_precision_": ((K,), FLOAT_DTYPES),
            "degrees_of_freedom_": (() if cov == "tied" else (K,), FLOAT_DTYPES),
            "mean_prior_": ((d,), FLOAT_DTYPES),
            "covariance_prior_": ({"full": (d, d), "tied": (d, d), "diag": (d,),
                                   "spherical": ()}[cov], FLOAT_DTYPES)})
        if self.prior_type == "dirichlet_process":
            layout.update({f"weight_concentration_:{i}": ((K,), FLOAT_DTYPES)
                           for i in range(2)})
        else:
            layout["weight_concentration_"] = ((K,), FLOAT_DTYPES)
        return layout

    def check_loaded(self, est, name, error):
        super().check_loaded(est, name, error)
        K, d = est.n_components, est.n_features_in_
        cov = self.covariance_type
        concentration = est.weight_concentration_
        parts = concentration if isinstance(concentration, tuple) else (concentration,)
        expected_parts = 2 if self.prior_type == "dirichlet_process" else 1
        shapes = [("mean_precision_", est.mean_precision_, (K,)),
                  ("degrees_of_freedom_", est.degrees_of_freedom_, () if cov == "tied" else (K,)),
                  ("mean_prior_", est.mean_prior_, (d,)),
                  ("covariance_prior_", est.covariance_prior_,
                   {"full": (d, d), "tied": (d, d), "diag": (d,), "spherical": ()}[cov])]
        shapes += [("weight_concentration_", part, (K,)) for part in parts]
        if len(parts) != expected_parts:
            raise error(f"{name!s}: weight_concentration_ has {len(parts)} part(s), expected "
                        f"{expected_parts} for {self.prior_type!r}")
        for key, value, shape in shapes:
            value = np.asarray(value)
            if value.shape != shape:
                raise error(f"{name!s}: {key} has shape {value.shape}, expected {shape}")
            if value.dtype.kind != "f" or not np.all(np.isfinite(value)):
                raise error(f"{name!s}: {key} is not a finite float array")
        tiny = np.finfo(np.float64).tiny  # a denormal scale overflows its inverse
        if np.any(np.asarray(est.mean_precision_) < tiny):
            raise error(f"{name!s}: mean_precision_ is not positive (normal, not denormal)")
        if np.any(np.asarray(est.degrees_of_freedom_) <= d - 1):
            raise error(f"{name!s}: degrees_of_freedom_ is not greater than n_features - 1 "
                        f"= {d - 1}")
        if any(np.any(part < tiny) for part in parts):
            raise error(f"{name!s}: weight_concentration_ is not positive (normal, not "
                        "denormal)")
        if not np.isfinite(np.sum([np.sum(part, dtype=np.float64) for part in parts])):
            raise error(f"{name!s}: weight_concentration_ sums to infinity (its expected "
                        "log-weights are NaN)")
        prior = np.asarray(est.covariance_prior_, dtype=np.float64)
        if cov in ("full", "tied"):
            try:
                np.linalg.cholesky(prior)
                positive = np.allclose(prior, prior.T)
            except np.linalg.LinAlgError:
                positive = False
        else:
            positive = np.all(prior >= tiny)
        if not positive:
            raise error(f"{name!s}: covariance_prior_ is not "
                        + ("symmetric positive definite" if cov in ("full", "tied")
                           else "positive"))


def _loss_rows(eigvals, c, dof):
    """sum_k dof_k / 2 sum_j f(c_k / lambda_kj) (see ``_reg_slack``)."""
    used = c > 0
    if not np.any(used):
        return 0.0
    scaled = eigvals[used] / c[used][:, None]  # lambda / c: f(1 / scaled)
    return _reg_loss_eigen(scaled, np.asarray(dof, dtype=np.float64)[used], 1.0)
