"""asv benchmarks: one EM iteration, a whole fit, peak memory, and quality.

Run with ``asv run --python=same --quick`` (or ``asv continuous main HEAD``).
Parameters are strings, as asv stores them in its results.
"""

import warnings

import numpy as np

import fastem
from fastem.engine import passes
from fastem.engine.threads import single_threaded_blas
from fastem.tools.cli import initial_parameters, make_demo_data


def _data(n_samples, n_features, n_components, dtype):
    return make_demo_data(n_samples, n_features, n_components, seed=0, dtype=dtype)


class EMIteration:
    """Seconds for exactly one EM iteration: the fused E-step pass with its
    sufficient statistics, then the M-step on them and the bound's closed form."""

    params = (["full", "tied", "diag", "spherical"], ["float64", "float32"], ["100000"],
              ["2", "8", "32"], ["4", "16"])
    param_names = ["covariance_type", "dtype", "n_samples", "n_features", "n_components"]

    def setup(self, covariance_type, dtype, n_samples, n_features, n_components):
        n_samples, n_features, n_components = int(n_samples), int(n_features), int(n_components)
        self.X = _data(n_samples, n_features, n_components, dtype)
        fastem.warmup(dtypes=(dtype,), covariance_types=(covariance_type,))
        warnings.simplefilter("ignore")
        self.model = fastem.GaussianMixture(
            n_components, covariance_type=covariance_type, max_iter=2, tol=0.0,
            **initial_parameters(self.X, n_components, covariance_type),
        ).fit(self.X)
        self.params = self.model._current_parameters()
        self.family = self.model._family()
        self.family.setup(n_features, self.X.dtype)
        self.family.prepare(self.X, None)

    def time_em_iteration(self, covariance_type, *args):
        with single_threaded_blas():
            stats = passes.run_pass(self.X, self.family, self.params, want_stats=True)
            new = self.family.finish(self.family.m_step(stats)[0])
            self.family.expected_log_joint(stats, new)

    def track_log_likelihood_per_sample(self, *args):
        return float(self.model.score(self.X))

    track_log_likelihood_per_sample.unit = "nats per sample"


class Fit:
    """A whole default fit (k-means initialisation included)."""

    params = (["full", "diag"], ["float64", "float32"])
    param_names = ["covariance_type", "dtype"]
    timeout = 300

    def setup(self, covariance_type, dtype):
        self.X = _data(50_000, 8, 8, dtype)
        fastem.warmup(dtypes=(dtype,), covariance_types=(covariance_type,))
        warnings.simplefilter("ignore")

    def time_fit(self, covariance_type, dtype):
        fastem.GaussianMixture(8, covariance_type=covariance_type, random_state=0).fit(self.X)

    def peakmem_fit(self, covariance_type, dtype):
        fastem.GaussianMixture(8, covariance_type=covariance_type, random_state=0).fit(self.X)

    def track_lower_bound(self, covariance_type, dtype):
        model = fastem.GaussianMixture(8, covariance_type=covariance_type, random_state=0)
        return float(model.fit(self.X).lower_bound_)

    track_lower_bound.unit = "nats per sample"


class OutOfCoreFit:
    """A fit streamed from a memmapped .npy (float32, 2,000,000 x 8, 64 MB) and
    from a chunk source over the same file: time and peak memory, which
    should stay far below the file's size."""

    params = (["memmap", "chunks"],)
    param_names = ["source"]
    timeout = 300

    def setup(self, source):
        import os
        import tempfile

        self.dir = tempfile.mkdtemp()
        path = os.path.join(self.dir, "X.npy")
        np.save(path, _data(2_000_000, 8, 8, "float32"))
        X = np.load(path, mmap_mode="r")
        if source == "memmap":
            self.X = X
        else:
            def blocks():
                for start in range(0, X.shape[0], 300_000):
                    yield X[start:start + 300_000]
            self.X = blocks
        fastem.warmup(dtypes=("float32",), covariance_types=("full",))
        warnings.simplefilter("ignore")

    def teardown(self, source):
        import shutil

        shutil.rmtree(self.dir, ignore_errors=True)

    def _fit(self):
        return fastem.GaussianMixture(8, max_iter=5, tol=0.0, random_state=0).fit(self.X)

    def time_fit(self, source):
        self._fit()

    def peakmem_fit(self, source):
        self._fit()

    def track_lower_bound(self, source):
        return float(self._fit().lower_bound_)

    track_lower_bound.unit = "nats per sample"


class BayesianFit(Fit):
    """A whole default fit of the variational model (k-means initialisation,
    the priors from the data, the iterations), its peak memory and its lower
    bound (a total over the rows); the data and parameters of ``Fit``."""

    def _fit(self, covariance_type):
        return fastem.BayesianGaussianMixture(n_components=8, covariance_type=covariance_type,
                                              random_state=0).fit(self.X)

    def time_fit(self, covariance_type, dtype):
        self._fit(covariance_type)

    def peakmem_fit(self, covariance_type, dtype):
        self._fit(covariance_type)

    def track_lower_bound(self, covariance_type, dtype):
        return float(self._fit(covariance_type).lower_bound_)

    track_lower_bound.unit = "nats"


class FamilyEMIteration(EMIteration):
    """One EM iteration of each of the other families (the fused pass, the
    M-step, the chain's closed forms), from their built-in data and a
    shared start (``fastem.tools.reference``)."""

    params = (["bernoulli", "poisson", "categorical", "student-t"], ["float64", "float32"],
              ["100000"], ["8", "32"], ["4", "16"])
    param_names = ["family", "dtype", "n_samples", "n_features", "n_components"]

    def setup(self, family, dtype, n_samples, n_features, n_components):
        from fastem.tools.reference import ESTIMATORS, family_data, family_start

        n_samples, n_features, n_components = int(n_samples), int(n_features), int(n_components)
        self.X = family_data(family, n_samples, n_features, n_components, dtype=dtype)
        fastem.warmup(dtypes=(dtype,), families=(family,),
                      covariance_types=("full",) if family == "student-t" else ())
        warnings.simplefilter("ignore")
        self.model = getattr(fastem, ESTIMATORS[family])(
            n_components, max_iter=2, tol=0.0,
            **family_start(family, self.X, n_components)).fit(self.X)
        self.params = self.model._current_parameters()
        self.family = self.model._family()
        self.family.setup(n_features, self.X.dtype)
        self.family.prepare(self.X, None)
