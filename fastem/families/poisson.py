"""The Poisson family: mixtures of independent counts.

log p(x | k) = sum_j x_j log lambda_kj - lambda_kj - log x_j!,

linear in the row but for -sum_j log x_j!, which depends on the row alone
and not on the parameters: a fit sums it over the data once (``prepare``)
and its passes add that total (``Plan.lpn_offset``) instead of computing it
again; a pass for per-row outputs (``score_samples``) has the kernel compute
it once per row (a table for counts below ``FACTORIAL_TABLE``, lgamma
above).  Prior: Gamma(shape 1 + alpha, rate
alpha) on every rate, so the M-step is

    lambda_kj = (sum_i w_i r_ik x_ij + alpha) / (nk_k + alpha),

which keeps every rate positive (an empty component's rates are 1).
"""

import math

import numpy as np

from ..engine.passes import run_pass
from .linear import LinearFamily

#: Counts below this take log k! from a table.
FACTORIAL_TABLE = 1024

_LOG_FACTORIAL = np.array([math.lgamma(k + 1.0) for k in range(FACTORIAL_TABLE)])


class PoissonFamily(LinearFamily):
    values_name = "rates_"
    init_name = "rates_init"
    log_factorial = _LOG_FACTORIAL
    kind = 1

    def prepare(self, X, sample_weight, cache=None):
        """The data's -sum_i w_i sum_j log x_ij!, once per fit (and once for
        all the fits of ``fastem.select``): a pass of one component with
        every rate 1, whose log-likelihood is that less d per row -- the
        kernel's own sum, so every source of the rows gives the same bits.
        The fit's passes then leave the row term out of the kernel."""
        if not self.whole_passes:  # a pass over some rows: each computes its own
            self.row_total = None
            return
        cache = {} if cache is None else cache
        if "poisson_row_total" not in cache:
            d = X.shape[1]
            one = PoissonFamily(1, self.alpha)
            one.missing = self.missing  # the row term over observed counts only
            one.setup(d, X.dtype)
            params = one.finish((np.ones(1), np.ones((1, d))))
            stats = run_pass(X, one, params, want_stats=False, sample_weight=sample_weight)
            total = stats.sum_lpn + d * stats.n_samples
            cache["poisson_row_total"] = (total, -total)  # every term is <= 0
        self.row_total = cache["poisson_row_total"]

    def check_init(self, values):
        if np.any(values <= 0.0):
            raise ValueError(
                f"The parameter 'rates' should be positive, but got min value "
                f"{np.min(values):.5f}")

    def check_values(self, block, params=None):
        block = self.observed(block)
        if np.any(block < 0):
            raise ValueError(  # scikit-learn's words for negative data
                "Negative values in data passed to PoissonMixture: every value of X must "
                f"be a non-negative integer (a count), got {float(block.min()):g}.")
        bad = block != np.floor(block)
        if bad.any():
            raise ValueError(
                "PoissonMixture takes counts: every value of X must be a non-negative "
                f"integer, got {float(block[bad][0]):g}.")

    def natural(self, params):
        rates = np.asarray(params.values, dtype=np.float64)
        with np.errstate(divide="ignore"):
            log_weights = np.log(np.asarray(params.weights, dtype=np.float64))
        return np.log(rates), log_weights - rates.sum(axis=1)

    def constants(self, params):
        return -np.asarray(params.values, dtype=np.float64)

    def map_values(self, sum_x, nk):
        return (sum_x + self.alpha) / (nk + self.alpha)[:, None]

    def log_prior(self, params):
        rates = np.asarray(params.values, dtype=np.float64)
        return self.alpha * float(np.sum(np.log(rates) - rates))

    def draw(self, rng, rates, n):
        return rng.poisson(rates, size=(n, rates.size)).astype(np.float64)
