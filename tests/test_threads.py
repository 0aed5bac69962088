"""Results never depend on the number of threads (fixed blocks, fixed order)."""

import os
import subprocess
import sys

import pytest

SCRIPT = r"""
import hashlib, sys, warnings
import numpy as np
import numba
import fastem
rng = np.random.default_rng(0)
X = np.concatenate([rng.normal(size=(30_000, 5)) + 3 * i for i in range(3)])
digest = hashlib.sha256()
for dtype in ("float64", "float32"):
    for cov in ("full", "tied", "diag", "spherical"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m = fastem.GaussianMixture(3, covariance_type=cov, max_iter=5, tol=0.0,
                                       random_state=0).fit(X.astype(dtype))
        for a in (m.weights_, m.means_, m.covariances_, m.precisions_cholesky_,
                  np.asarray(m.lower_bounds_), m.score_samples(X), m.predict_proba(X)):
            digest.update(np.ascontiguousarray(a).tobytes())
# Enough features for the BLAS transform of full covariances.
Xw = np.concatenate([rng.normal(size=(20_000, 20)) + 3 * i for i in range(2)])
m = fastem.GaussianMixture(2, max_iter=3, tol=0.0, random_state=0).fit(Xw)
for a in (m.covariances_, np.asarray(m.lower_bounds_), m.score_samples(Xw)):
    digest.update(np.ascontiguousarray(a).tobytes())
# Every other family: their kernels' blocks and partitions.
B = (rng.uniform(size=(40_000, 20)) < np.where(np.arange(40_000)[:, None] % 2, 0.2, 0.7))
C = rng.poisson(np.where(np.arange(40_000)[:, None] % 2, 1.0, 6.0), size=(40_000, 4))
models = [(fastem.BernoulliMixture(2, random_state=0), B.astype(float)),
          (fastem.PoissonMixture(2, random_state=0), C.astype(float)),
          (fastem.CategoricalMixture(2, random_state=0), np.minimum(C, 9).astype(float))]
models += [(fastem.StudentTMixture(3, covariance_type=cov, max_iter=5, tol=0.0,
                                   random_state=0), X) for cov in ("full", "diag")]
for model, data in models:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(data)
    for a in (model.weights_, np.asarray(model.lower_bounds_), model.score_samples(data),
              model.predict_proba(data)):
        digest.update(np.ascontiguousarray(a).tobytes())
# Incremental and online EM: blocks, M-steps between them, kept statistics.
for method in ("incremental", "online"):
    for cov in ("full", "tied"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m = fastem.GaussianMixture(3, covariance_type=cov, learning_method=method,
                                       batch_size=7000, max_iter=3, tol=0.0,
                                       random_state=0).fit(X)
        for a in (m.means_, m.covariances_, np.asarray(m.lower_bounds_)):
            digest.update(np.ascontiguousarray(a).tobytes())
# Missing values: incomplete rows in every partition, with and without weights.
Xm = X.copy()
Xm[rng.random(X.shape) < 0.2] = np.nan
for cov in ("full", "tied", "diag"):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = fastem.GaussianMixture(3, covariance_type=cov, missing="marginalize", max_iter=3,
                                   tol=0.0, random_state=0)
        m.fit(Xm, sample_weight=np.full(len(Xm), 1.5))
    for a in (m.means_, m.covariances_, np.asarray(m.lower_bounds_), m.score_samples(Xm),
              m.impute(Xm)):
        digest.update(np.ascontiguousarray(a).tobytes())
# ... t components and the variational model over the holes.
for cls, cov in ((fastem.StudentTMixture, "full"), (fastem.StudentTMixture, "diag"),
                 (fastem.BayesianGaussianMixture, "full")):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = cls(n_components=3, covariance_type=cov, missing="marginalize", max_iter=3,
                tol=0.0, random_state=0).fit(Xm)
    for a in (m.means_, m.covariances_, np.asarray(m.lower_bounds_), m.impute(Xm)):
        digest.update(np.ascontiguousarray(a).tobytes())
# ... and with enough features for the missing-value kernel's BLAS products.
Xw_m = Xw.copy()
Xw_m[rng.random(Xw.shape) < 0.2] = np.nan
Xw_m = np.concatenate([Xw_m, Xw_m[:, :12]], axis=1)  # 32 features
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    m = fastem.GaussianMixture(2, missing="marginalize", max_iter=2, tol=0.0, reg_covar=1e-3,
                               random_state=0).fit(Xw_m)
for a in (m.covariances_, np.asarray(m.lower_bounds_), m.impute(Xw_m)):
    digest.update(np.ascontiguousarray(a).tobytes())
# Hidden Markov models: frames by blocks, sequences by groups, one sequence
# longer than the rest together.
lengths = [700] * 60 + [5] * 200 + [40_000]
Xh = np.concatenate([rng.normal(size=(sum(lengths), 3)) + 4 * (np.arange(sum(lengths)) // 500
                                                            % 3)[:, None]])
for cov in ("full", "diag"):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = fastem.GaussianHMM(3, covariance_type=cov, n_iter=4, tol=0.0,
                               random_state=0).fit(Xh, lengths)
    for a in (m.means_, m.covars_, m.transmat_, np.asarray(m.lower_bounds_),
              m.predict_proba(Xh, lengths), m.predict(Xh, lengths)):
        digest.update(np.ascontiguousarray(a).tobytes())
print(numba.get_num_threads(), digest.hexdigest())
"""


def run_with_threads(n_threads):
    env = dict(os.environ, NUMBA_NUM_THREADS=str(n_threads), OMP_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True,
                         text=True, check=True, timeout=900)
    threads, digest = out.stdout.split()
    assert int(threads) == n_threads
    return digest


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="needs 2 CPUs to start 2 threads")
def test_one_and_two_threads_give_identical_bytes():
    # A first run fills the kernel cache: a kernel Numba compiles afresh can
    # differ in its last bits from the same kernel loaded from the cache,
    # whatever the thread count, so both compared runs load.
    run_with_threads(2)
    assert run_with_threads(1) == run_with_threads(2)
