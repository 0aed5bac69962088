"""The Bernoulli family: mixtures of independent binary features.

log p(x | k) = sum_j x_j log theta_kj + (1 - x_j) log(1 - theta_kj)
            = x . logit(theta_k) + sum_j log(1 - theta_kj),

linear in the row (``fastem.families.linear``).  Prior: Beta(1 + alpha,
1 + alpha) on every theta_kj, so the M-step is

    theta_kj = (sum_i w_i r_ik x_ij + alpha) / (nk_k + 2 alpha),

additive smoothing that keeps every probability strictly inside (0, 1).
"""

import numpy as np

from .linear import LinearFamily


class BernoulliFamily(LinearFamily):
    values_name = "probabilities_"
    init_name = "probabilities_init"

    def check_init(self, values):
        if np.any(values <= 0.0) or np.any(values >= 1.0):
            raise ValueError(
                "The parameter 'probabilities' should be in the open interval (0, 1), but "
                f"got max value {np.max(values):.5f}, min value {np.min(values):.5f}")

    def check_values(self, block, params=None):
        block = self.observed(block)
        bad = (block != 0) & (block != 1)
        if bad.any():
            value = block[bad][0]
            raise ValueError(
                "BernoulliMixture takes binary data: every value of X must be 0 or 1 "
                f"(bool, int or float), got {float(value):g}.")

    def natural(self, params):
        theta = np.asarray(params.values, dtype=np.float64)
        with np.errstate(divide="ignore"):
            log_weights = np.log(np.asarray(params.weights, dtype=np.float64))
        log_off = np.log1p(-theta)
        return np.log(theta) - log_off, log_weights + log_off.sum(axis=1)

    def constants(self, params):
        return np.log1p(-np.asarray(params.values, dtype=np.float64))

    def map_values(self, sum_x, nk):
        return (sum_x + self.alpha) / (nk + 2.0 * self.alpha)[:, None]

    def log_prior(self, params):
        theta = np.asarray(params.values, dtype=np.float64)
        return self.alpha * float(np.sum(np.log(theta) + np.log1p(-theta)))

    def draw(self, rng, theta, n):
        return (rng.uniform(size=(n, theta.size)) < theta).astype(np.float64)
