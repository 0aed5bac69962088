"""What a saved hidden Markov model holds, for ``fastem.engine.persistence``.

Each HMM estimator's ``_family()`` is one of these: the arrays a model file
holds (``saved_arrays``, ``restore``), their exact shapes and dtypes for the
model the file's metadata declares (``saved_layout``, checked before any
array is read), the scalar attributes beyond the engine's, and the checks
of a loaded model's values (``check_loaded``: probability vectors and
matrices, positive-definite covariances, non-negative rates).
"""

import numpy as np
from scipy import linalg

F64 = (np.dtype(np.float64),)


def _probabilities(values, shape, what, name, error, rows=True):
    values = np.asarray(values)
    if values.shape != shape or values.dtype != np.float64 or not np.all(np.isfinite(values)) \
            or np.any(values < 0):
        raise error(f"{name!s}: {what} is not a float64 array of {shape} probabilities")
    sums = values.sum(axis=-1)
    # a transition matrix may hold a row of zeros (a state never left, in
    # hmmlearn's updates); every other row sums to 1
    ok = np.isclose(sums, 1.0, rtol=0, atol=1e-8) | (rows & (sums == 0))
    if not np.all(ok):
        raise error(f"{name!s}: {what} {'rows do' if rows else 'does'} not sum to 1")


def _positive_definite(matrix):
    if not np.allclose(matrix, matrix.T):
        return False
    try:
        return bool(linalg.eigvalsh(matrix).min() > 0)
    except linalg.LinAlgError:
        return False


class HMMFile:
    """The arrays of every HMM (start and transition probabilities) and
    the hooks an emission adds (``emission_arrays``...)."""

    list_attributes = ()
    #: fitted numbers beyond the engine's (``n_features`` for every model
    #: but the categorical, where it is a constructor parameter)
    scalar_attributes = ("n_features",)

    def emission_layout(self, est):
        return {}

    def emission_arrays(self, est):
        return {}

    def check_emission(self, est, name, error):
        pass

    @property
    def array_attributes(self):
        return ()

    def saved_arrays(self, est):
        arrays = {"startprob_": np.asarray(est.startprob_, dtype=np.float64),
                  "transmat_": np.asarray(est.transmat_, dtype=np.float64)}
        arrays.update(self.emission_arrays(est))
        return arrays

    def restore(self, est, arrays):
        """Set the loaded arrays, and the monitor from the saved history."""
        from ..hmm import ConvergenceMonitor

        for key, value in arrays.items():
            setattr(est, key, value)
        est.monitor_ = ConvergenceMonitor(est.tol, est.n_iter, est.verbose)
        est.monitor_.history.extend(est.lower_bounds_)
        est.monitor_.iter = est.n_iter_

    def saved_layout(self, est, read):
        K = est.n_components
        layout = {"startprob_": ((K,), F64), "transmat_": ((K, K), F64)}
        layout.update(self.emission_layout(est))
        return layout

    def check_loaded(self, est, name, error):
        K = est.n_components
        if est.n_features != est.n_features_in_:
            raise error(f"{name!s}: n_features = {est.n_features} differs from "
                        f"n_features_in_ = {est.n_features_in_}")
        _probabilities(est.startprob_, (K,), "startprob_", name, error, rows=False)
        _probabilities(est.transmat_, (K, K), "transmat_", name, error)
        self.check_emission(est, name, error)


class GaussianHMMFile(HMMFile):
    """``means_`` (K, d) and the covariances in hmmlearn's private layout,
    spherical saved as (K,) (one variance per state)."""

    def _covars_shape(self, est):
        K, d = est.n_components, est.n_features_in_
        return {"spherical": (K,), "diag": (K, d), "full": (K, d, d),
                "tied": (d, d)}[est.covariance_type]

    def emission_layout(self, est):
        K, d = est.n_components, est.n_features_in_
        return {"means_": ((K, d), F64), "_covars_": (self._covars_shape(est), F64)}

    def emission_arrays(self, est):
        covars = np.asarray(est._covars_, dtype=np.float64)
        if est.covariance_type == "spherical":
            covars = covars.reshape(len(covars), -1)[:, 0].copy()
        return {"means_": np.asarray(est.means_, dtype=np.float64), "_covars_": covars}

    def check_emission(self, est, name, error):
        K, d = est.n_components, est.n_features_in_
        means = np.asarray(est.means_)
        if means.shape != (K, d) or not np.all(np.isfinite(means)):
            raise error(f"{name!s}: means_ is not a finite array of shape {(K, d)}")
        covars = np.asarray(est._covars_)
        if covars.shape != self._covars_shape(est) or not np.all(np.isfinite(covars)):
            raise error(f"{name!s}: the covariances are not finite, of shape "
                        f"{self._covars_shape(est)}")
        ct = est.covariance_type
        if ct in ("spherical", "diag"):
            if np.any(covars <= 0):
                raise error(f"{name!s}: {ct!r} covariances must be positive")
            return
        for k, matrix in enumerate(covars if ct == "full" else covars[None]):
            if not _positive_definite(matrix):
                raise error(f"{name!s}: covariance {k} is not symmetric, positive-definite")


class CategoricalHMMFile(HMMFile):
    scalar_attributes = ()

    def emission_layout(self, est):
        return {"emissionprob_": ((est.n_components, est.n_features), F64)}

    def emission_arrays(self, est):
        return {"emissionprob_": np.asarray(est.emissionprob_, dtype=np.float64)}

    def check_loaded(self, est, name, error):
        if not isinstance(est.n_features, int) or est.n_features < 1:
            raise error(f"{name!s}: n_features = {est.n_features!r} is not a positive integer")
        super().check_loaded(est, name, error)

    def check_emission(self, est, name, error):
        _probabilities(est.emissionprob_, (est.n_components, est.n_features), "emissionprob_",
                       name, error)


class PoissonHMMFile(HMMFile):
    def emission_layout(self, est):
        return {"lambdas_": ((est.n_components, est.n_features_in_), F64)}

    def emission_arrays(self, est):
        return {"lambdas_": np.asarray(est.lambdas_, dtype=np.float64)}

    def check_emission(self, est, name, error):
        lam = np.asarray(est.lambdas_)
        if not np.all(np.isfinite(lam)) or np.any(lam < 0):
            raise error(f"{name!s}: lambdas_ are not finite, non-negative rates")


class GMMHMMFile(HMMFile):
    def _covars_shape(self, est):
        K, M, d = est.n_components, est.n_mix, est.n_features_in_
        return {"spherical": (K, M), "diag": (K, M, d), "full": (K, M, d, d),
                "tied": (K, d, d)}[est.covariance_type]

    def emission_layout(self, est):
        K, M, d = est.n_components, est.n_mix, est.n_features_in_
        return {"weights_": ((K, M), F64), "means_": ((K, M, d), F64),
                "covars_": (self._covars_shape(est), F64)}

    def emission_arrays(self, est):
        return {name: np.asarray(getattr(est, name), dtype=np.float64)
                for name in ("weights_", "means_", "covars_")}

    def check_emission(self, est, name, error):
        K, M, d = est.n_components, est.n_mix, est.n_features_in_
        _probabilities(est.weights_, (K, M), "weights_", name, error)
        if not np.all(np.isfinite(est.means_)):
            raise error(f"{name!s}: means_ are not finite")
        covars = np.asarray(est.covars_)
        ct = est.covariance_type
        if ct in ("spherical", "diag"):
            if np.any(covars <= 0):
                raise error(f"{name!s}: {ct!r} mixture covariances must be positive")
            return
        for matrix in covars.reshape(-1, d, d):
            if not _positive_definite(matrix):
                raise error(f"{name!s}: a mixture covariance is not symmetric, "
                            "positive-definite")


__all__ = ["CategoricalHMMFile", "GMMHMMFile", "GaussianHMMFile", "HMMFile",
           "PoissonHMMFile"]
