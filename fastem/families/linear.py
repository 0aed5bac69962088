"""What the Bernoulli and Poisson families share: log-densities linear in the row.

Both families' weighted log-densities are ``log_norm[k] + x . coef[k]`` (plus
a term of the row alone for Poisson), so one kernel
(``fastem.kernels.discrete.linear_pass``) serves both, and a pass returns
``nk`` and ``sum_x[k] = sum_i w_i r_ik x_i``: everything the M-step needs.

Each family has one parameter per (component, feature) -- a probability or a
rate, ``values`` here -- and a conjugate prior on it with one strength
``alpha`` (documented in each estimator), so the M-step is a MAP estimate
in closed form, no value ever reaches the boundary of its domain (a
probability of 0 or 1, a rate of 0), and the objective that EM never
decreases is the log-likelihood plus ``log_prior``: the engine records and
checks the bound with it.  The mixing weights have no prior (maximum
likelihood, as ``GaussianMixture``).
"""

from typing import NamedTuple

import numpy as np

from .. import kernels
from ..data.chunks import kernel_array
from ..data.validation import check_shape, float_array
from ..engine.family import FLOAT_DTYPES, Family
from ..engine.passes import Plan, compute_dtype, stats_under
from .gaussian import check_loaded_arrays, check_weights

#: Components with less responsibility than this are re-seeded (``reseed``).
MIN_RESPONSIBILITY = 2.0


class LinearParams(NamedTuple):
    weights: np.ndarray  # (K,)
    values: np.ndarray  # (K, d): probabilities or rates


class LinearPlan(Plan):
    """A pass of ``linear_pass``: ``coef`` (the compute dtype) and the
    float64 ``lnorm`` per component; ``log_factorial`` the table of the
    row term (empty: none); ``lpn_offset``: the row term summed once per
    fit instead (see ``Plan.lpn_offset``)."""

    def __init__(self, dtype, coef, lnorm, log_factorial, want_stats, lpn_offset=None,
                 const=None, values=None, kind=0):
        self.dtype = np.dtype(dtype)
        if lpn_offset is not None:  # the row term, summed once per fit
            self.lpn_offset = lpn_offset
            log_factorial = np.empty(0)
        self.n_components, self.n_features = coef.shape
        self.want_stats = want_stats
        self.coef = kernel_array(coef, self.dtype)
        self.lnorm = kernel_array(lnorm, np.float64)
        self.log_factorial = log_factorial
        self.no_resp = np.empty((0, self.n_components))
        self.stat_shapes = ((self.n_components, self.n_features),)
        # rows with NaN (``run_missing``): each feature's constant and mean
        self.const, self.values, self.kind = const, values, kind
        self.uniform_draws = True
        self.missing_takes_all = True  # its kernel for them is as fast as the fused one

    def run(self, chunk, sample_weight, outputs, accs, segment, resp=None):
        resp = self.no_resp if resp is None else resp
        if outputs[0].shape[0] and self.lpn_offset != (0.0, 0.0):
            raise RuntimeError("a fit's plan (its row term summed once) writes no per-row "
                               "log-likelihoods")
        kernels.linear_pass(chunk, self.coef, self.lnorm, self.log_factorial, resp,
                            sample_weight, *outputs, segment, *accs)

    def run_missing(self, rows, sample_weight, outputs, accs, fill=None, draws=None):
        """Rows with NaN (``fastem.kernels.missing.linear_missing_pass``): a
        missing feature drops out of the row's product; it counts in the
        statistics as its mean under each component."""
        d = self.n_features
        fill = np.empty((0, d), self.dtype) if fill is None else fill
        u, e = (np.empty(0), np.empty((0, d))) if draws is None else draws
        kernels.linear_missing_pass(rows, self.coef, self.const, self.values, self.lnorm,
                                    self.log_factorial, self.kind, sample_weight, *outputs,
                                    fill, u, e, *accs)

    def moments(self, totals):
        return totals[0]  # sum_x (K, d)


class LinearFamily(Family):
    """The shared EM of a family with log-densities linear in the row.

    A subclass sets ``values_name`` (the fitted attribute: "probabilities_",
    "rates_") and ``init_name`` (the estimator's initial-value parameter),
    and defines ``natural`` (``coef`` and the per-component constants from
    the values), ``map_values`` (the M-step), ``log_prior``,
    ``check_values``, ``check_init`` and ``draw`` (sampling)."""

    checks_values = True
    array_attributes = ("weights_",)
    values_name = None
    init_name = None
    #: The value distribution ``linear_missing_pass`` draws imputations from
    #: (0: Bernoulli, 1: Poisson).
    kind = 0
    #: log k! table of the row term (empty: the family has none).
    log_factorial = np.empty(0)

    def __init__(self, n_components, alpha, weights_init=None, values_init=None):
        super().__init__(n_components)
        self.alpha = float(alpha)
        self.weights_init = weights_init
        self.values_init = values_init
        self.inits = (None, None)
        self.array_attributes = ("weights_", self.values_name)
        #: The fit's data's row term, summed once (``prepare``): its passes
        #: then leave it to ``Plan.lpn_offset``.  None: each pass computes it.
        self.row_total = None

    # ------------------------------------------------------------ set-up

    def setup(self, n_features, data_dtype):
        weights = values = None
        if self.weights_init is not None:
            weights = check_weights(self.weights_init, self.n_components)
        if self.values_init is not None:
            values = float_array(self.values_init)
            check_shape(values, (self.n_components, n_features), self.init_name)
            self.check_init(values)
        self.inits = (weights, values)
        # The parameters are float64 whatever the data (a float32
        # probability within 6e-8 of 1 would round to 1); the passes compute
        # in the data's dtype (kernel_dtype_for).
        self.data_dtype = np.dtype(data_dtype)
        self.dtype = np.dtype(np.float64)
        self.kernel_dtype = compute_dtype(data_dtype)

    # ---------------------------------------------------- initialisation

    def needs_responsibilities(self):
        return any(a is None for a in self.inits)

    def given_plan(self, n_features, dtype):
        K = self.n_components
        return LinearPlan(dtype, np.zeros((K, n_features)), np.zeros(K), self.log_factorial,
                          True)

    def initial_estimate(self, X, source):
        """The M-step under the initial responsibilities, with the weights
        divided by the number of rows (scikit-learn's initialisation)."""
        plan = self.given_plan(X.shape[1], compute_dtype(X.dtype))
        stats = stats_under(source.rows, plan, source.resp_chunk, source.row_weights)
        weights = (stats.nk + 10 * np.finfo(self.data_dtype).eps) / source.n_samples
        return (weights, self.map_values(stats.moments, stats.nk)), stats.nk

    def initial_params(self, estimate):
        weights, values = estimate if estimate is not None else (None, None)
        weights_init, values_init = self.inits
        if weights_init is not None:
            weights = weights_init
        if values_init is not None:
            values = values_init
        return self.finish((weights, values))

    # ----------------------------------------------------- passes, M-step

    def natural(self, params):
        """``(coef (K, d), lnorm (K,))`` in float64: the kernel's constants."""
        raise NotImplementedError

    def plan(self, params, data_dtype, want_stats):
        coef, lnorm = self.natural(params)
        const = values = None
        if self.missing:
            const = kernel_array(self.constants(params), np.float64)
            values = kernel_array(params.values, np.float64)
        plan = LinearPlan(self.kernel_dtype_for(params, data_dtype), coef, lnorm,
                          self.log_factorial, want_stats, lpn_offset=self.row_total,
                          const=const, values=values, kind=self.kind)
        plan.missing = self.missing
        return plan

    def constants(self, params):
        """``(K, d)`` float64: the term of each feature's log-density that
        does not multiply x (``lnorm`` holds their sum over the features)."""
        raise NotImplementedError

    def observed(self, block):
        """The entries of a block of rows to check: all, or with missing
        values taken (``missing``), the ones that are not NaN."""
        return block[~np.isnan(block)] if self.missing else block

    def m_step(self, stats):
        nk = stats.nk + 10 * np.finfo(self.dtype).eps
        return (nk / nk.sum(), self.map_values(stats.moments, stats.nk)), 0.0

    def finish(self, estimate):
        weights, values = estimate
        return LinearParams(np.asarray(weights, dtype=self.dtype),
                            np.asarray(values, dtype=self.dtype))

    def log_mass(self, params):
        return float(np.log(np.sum(params.weights, dtype=np.float64)))

    # ------------------------------------------------------------- bound

    def bound(self, stats, e_step_params, params):
        """The E-step's MAP objective per sample: mean log-likelihood plus
        the log prior of its parameters over the rows' total weight."""
        value = (stats.sum_lpn + self.log_prior(e_step_params)) / stats.n_samples
        return self.dtype.type(value), stats.sum_abs_lpn / stats.n_samples

    def expected_log_joint(self, stats, params):
        """sum_k nk_k lnorm_k + sum_kj coef_kj sum_x_kj: E_q[log p(X, Z)] but
        for the row term, which does not depend on the parameters (the chain
        uses differences only)."""
        coef, lnorm = self.natural(params)
        nk = stats.nk
        constant = np.multiply(nk, lnorm, out=np.zeros(nk.shape), where=nk > 0)
        linear = np.multiply(coef, stats.moments, out=np.zeros(coef.shape),
                             where=stats.moments != 0)
        value = constant.sum() + linear.sum()
        return float(value), float(np.abs(constant).sum() + np.abs(linear).sum())

    # ----------------------------------------------------------- re-seed

    def degenerate(self, estimate, nk):
        return np.flatnonzero(~(np.asarray(nk) >= MIN_RESPONSIBILITY))

    def healthy(self, estimate, good):
        weights, values = estimate
        family = type(self)(len(good), self.alpha)
        family.setup(values.shape[1], self.dtype)
        return family, family.finish((weights[good] / np.sum(weights[good]), values[good]))

    def replace(self, estimate, bad, rows, nk):
        """Each ``bad`` component moves halfway between one of ``rows`` and
        the healthy components' weighted mean (strictly inside the domain),
        with weight 1 / n_components (the weights renormalised)."""
        weights, values = estimate
        good = np.setdiff1d(np.arange(self.n_components), bad)
        values = np.array(values, dtype=np.float64)
        weights = np.array(weights, dtype=np.float64)
        centre = weights[good] @ values[good] / weights[good].sum()
        values[bad] = 0.5 * np.asarray(rows, dtype=np.float64) + 0.5 * centre
        weights[bad] = 1.0 / self.n_components
        return weights / weights.sum(), values

    # ------------------------------------------------------- fitted model

    def from_estimator(self, est):
        return LinearParams(est.weights_, getattr(est, self.values_name))

    def fitted_attributes(self, params):
        return {"weights_": params.weights, self.values_name: params.values}

    def from_sklearn(self, values):
        return LinearParams(*values)

    def kernel_dtype_for(self, params, data_dtype):
        return compute_dtype(data_dtype)

    def output_dtype(self, params, data_dtype):
        return compute_dtype(data_dtype)

    def param_dtype(self, params):
        return params.values.dtype

    def n_parameters(self, params):
        K, d = params.values.shape
        return K * d + K - 1

    def sample(self, params, n_samples, rng):
        """``(X, y)``: rows drawn from the mixture (float64) and their
        components, grouped by component as scikit-learn's ``sample``."""
        counts = rng.multinomial(n_samples, np.asarray(params.weights, dtype=np.float64))
        values = np.asarray(params.values, dtype=np.float64)
        X = np.vstack([self.draw(rng, values[k], c) for k, c in enumerate(counts)])
        y = np.concatenate([np.full(c, k, dtype=np.int64) for k, c in enumerate(counts)])
        return X.astype(np.float64), y

    def saved_layout(self, est, read):
        K, d = est.n_components, est.n_features_in_
        return {"weights_": ((K,), FLOAT_DTYPES), self.values_name: ((K, d), FLOAT_DTYPES)}

    def check_loaded(self, est, name, error):
        K, d = est.n_components, est.n_features_in_
        check_loaded_arrays(est, name, error, {"weights_": (K,), self.values_name: (K, d)})
        try:
            self.check_init(getattr(est, self.values_name))
        except ValueError as problem:
            raise error(f"{name!s}: {problem}") from None
