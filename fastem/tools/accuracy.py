"""How accurate ``score_samples`` is (``fastem accuracy``).

For each adversarial case, a model is fitted (fastem, in the case's dtype)
and its per-sample log-likelihood is evaluated three ways on the same rows,
with the model's stored parameters:

* fastem's ``score_samples``;
* scikit-learn's ``score_samples``, given the same parameters;
* a reference in 50-digit arithmetic (mpmath): every stored parameter and
  every row taken exactly, the Mahalanobis terms, log-determinants and the
  log-sum-exp over components evaluated with 50 significant digits.

The error of a value ``s`` against the reference ``r`` is
``|s - r| / max(1, |r|)``: relative, and absolute where ``|r| < 1`` (a
log-likelihood near 0 has no meaningful relative error).  The report gives
the largest error over the rows of each case.

mpmath is not a dependency of fastem (``pip install mpmath``; the test
extra installs it).
"""

import warnings

import numpy as np

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")


def _blobs(rng, n_samples, n_features, n_components, spread=6.0):
    centers = rng.normal(scale=spread, size=(n_components, n_features))
    shapes = rng.normal(scale=0.4, size=(n_components, n_features, n_features))
    shapes += np.eye(n_features)
    labels = rng.integers(n_components, size=n_samples)
    noise = rng.normal(size=(n_samples, n_features))
    return centers[labels] + np.einsum("nij,nj->ni", shapes[labels], noise)


def _case_well_conditioned(rng):
    X = _blobs(rng, 2000, 4, 3)
    return X, X, 3


def _case_offset(rng):
    X = _blobs(rng, 2000, 4, 3) + 1e4
    return X, X, 3


def _case_ill_conditioned(rng):
    X = _blobs(rng, 2000, 6, 3) * np.logspace(-2, 2, 6)  # covariance condition ~1e8
    return X, X, 3


def _case_far_points(rng):
    X = _blobs(rng, 2000, 4, 3)
    directions = rng.normal(size=(200, 4))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    far = X.mean(axis=0) + directions * np.logspace(2, 5, 200)[:, None]
    return X, far, 3


def _case_overlapping(rng):
    X = rng.normal(size=(2000, 3))  # one Gaussian, sixteen near-equal components
    return X, X, 16


def _case_tiny_scale(rng):
    X = _blobs(rng, 2000, 4, 3) * 1e-6
    return X, X, 3


def _case_many_features(rng):
    X = _blobs(rng, 2000, 64, 4)
    return X, X, 4


CASES = {
    "well-conditioned (d=4, k=3)": _case_well_conditioned,
    "offset 1e4 (d=4, k=3)": _case_offset,
    "covariance condition 1e8 (d=6, k=3)": _case_ill_conditioned,
    "points 1e2..1e5 sd away (d=4, k=3)": _case_far_points,
    "16 overlapping components (d=3)": _case_overlapping,
    "scale 1e-6 (d=4, k=3)": _case_tiny_scale,
    "64 features (k=4)": _case_many_features,
}


def reference_score_samples(model, X, digits=50):
    """Per-row log-likelihood of ``model`` (a fitted GaussianMixture) at the
    rows of ``X``, in ``digits``-digit arithmetic, returned as float64."""
    import mpmath

    cov = model.covariance_type
    with mpmath.workdps(digits):
        mpf = mpmath.mpf
        weights = [mpf(float(w)) for w in model.weights_]
        means = [[mpf(float(v)) for v in row] for row in model.means_]
        chol = np.asarray(model.precisions_cholesky_, dtype=np.float64)
        n_components, n_features = model.means_.shape
        if cov == "tied":
            chol = np.broadcast_to(chol, (n_components, n_features, n_features))
        if cov in ("full", "tied"):
            columns = [[[mpf(float(chol[k, i, j])) for i in range(n_features)]
                        for j in range(n_features)] for k in range(n_components)]
            log_dets = [mpmath.fsum(mpmath.log(mpf(float(chol[k, j, j])))
                                    for j in range(n_features)) for k in range(n_components)]
        else:
            scales = np.broadcast_to(chol.reshape(n_components, -1), (n_components, n_features))
            scales = [[mpf(float(v)) for v in row] for row in scales]
            log_dets = [mpmath.fsum(mpmath.log(v) for v in row) for row in scales]
        half_log_2pi = n_features * mpmath.log(2 * mpmath.pi) / 2
        out = np.empty(X.shape[0])
        for n, row in enumerate(np.asarray(X, dtype=np.float64)):
            x = [mpf(float(v)) for v in row]
            terms = []
            for k in range(n_components):
                diff = [a - b for a, b in zip(x, means[k])]
                if cov in ("full", "tied"):
                    y = [mpmath.fdot(diff, col) for col in columns[k]]
                else:
                    y = [a * s for a, s in zip(diff, scales[k])]
                maha = mpmath.fsum(v * v for v in y)
                terms.append(mpmath.log(weights[k]) + log_dets[k] - half_log_2pi - maha / 2)
            top = max(terms)
            out[n] = float(top + mpmath.log(mpmath.fsum(mpmath.exp(t - top) for t in terms)))
    return out


def errors(values, reference):
    """``|s - r| / max(1, |r|)`` per row (inf where s is not finite)."""
    values = np.asarray(values, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        err = np.abs(values - reference) / np.maximum(1.0, np.abs(reference))
    return np.where(np.isfinite(values), err, np.inf)


def measure(case, dtype, covariance_type, n_eval=200, seed=0):
    """``(fastem_error, sklearn_error)``: the largest error of each library's
    ``score_samples`` over ``n_eval`` rows of the case, or None where the
    fit is ill-defined."""
    from sklearn.mixture import GaussianMixture as SkGaussianMixture

    from ..gaussian_mixture import GaussianMixture

    rng = np.random.default_rng(seed)
    X_fit, X_eval, n_components = CASES[case](rng)
    X_fit = X_fit.astype(dtype)
    X_eval = X_eval[:n_eval].astype(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            model = GaussianMixture(n_components, covariance_type=covariance_type,
                                    random_state=0, max_iter=20).fit(X_fit)
        except ValueError:
            return None
    theirs = SkGaussianMixture(n_components, covariance_type=covariance_type)
    for name in ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_",
                 "n_features_in_"):
        setattr(theirs, name, getattr(model, name))
    reference = reference_score_samples(model, X_eval)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = errors(model.score_samples(X_eval), reference).max()
        sk = errors(theirs.score_samples(X_eval), reference).max()
    return float(ours), float(sk)


def report(dtypes=("float64", "float32"), covariance_types=COVARIANCE_TYPES, cases=None,
           n_eval=200, out=print):
    """Print the table of largest errors (see the module docstring)."""
    cases = list(CASES) if cases is None else cases
    out(f"max |score_samples - reference| / max(1, |reference|) over {n_eval} rows per case "
        "(reference: mpmath, 50 digits)")
    out(f"{'case':38}{'covariance':>11}{'dtype':>9}{'fastem':>11}{'sklearn':>11}")
    rows = []
    for case in cases:
        for covariance_type in covariance_types:
            for dtype in dtypes:
                result = measure(case, dtype, covariance_type, n_eval=n_eval)
                rows.append((case, covariance_type, dtype, result))
                if result is None:
                    out(f"{case:38}{covariance_type:>11}{dtype:>9}   ill-defined fit")
                else:
                    out(f"{case:38}{covariance_type:>11}{dtype:>9}{result[0]:11.1e}"
                        f"{result[1]:11.1e}")
    for dtype in dtypes:
        done = [r[3] for r in rows if r[2] == dtype and r[3] is not None]
        if done:
            out(f"{dtype}: worst fastem {max(r[0] for r in done):.1e}, worst scikit-learn "
                f"{max(r[1] for r in done):.1e} over {len(done)} cases "
                f"(eps {np.finfo(dtype).eps:.1e})")
    return rows


__all__ = ["CASES", "errors", "measure", "reference_score_samples", "report"]
