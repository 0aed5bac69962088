"""The Gaussian family: mixtures of multivariate normals, four covariance types.

Everything model-specific that the EM engine asks of a Gaussian mixture
(``fastem.engine.family``) -- the kernel plan of a pass, the M-step's closed
forms, the bound's closed form, initial-parameter checks, re-seeding, the
fitted attributes -- on summaries of ``n_components x n_features^2`` size:
the kernels (``fastem.kernels.gaussian``) reduce the data to sufficient
statistics, and nothing here touches a row but the repair of rows beyond
overflow.

The M-step follows scikit-learn's formulas exactly (``nk`` carries the same
``10 * eps`` guard, weights are ``nk / sum(nk)``, tied covariances subtract
``sum_k nk mu_k mu_k^T`` from the scatter of all rows), but every sum arrives
centred: around the current means for full/diag/spherical and around the data
mean for tied, accumulated in float64, so covariances do not lose their
digits to cancellation.
"""

import functools
import math
from typing import NamedTuple

import numpy as np
from scipy import linalg
from scipy.linalg import lapack

from .. import kernels
from ..data.chunks import kernel_array
from ..data.validation import check_shape, float_array
from ..engine.family import FLOAT_DTYPES, Family
from ..engine.passes import Plan, compute_dtype, row_stats, rows_to_repair, stats_under

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")

_ILL_DEFINED = (
    "Fitting the mixture model failed because some components have "
    "ill-defined empirical covariance (for instance caused by singleton "
    "or collapsed samples). Try to decrease the number of components, "
    "increase reg_covar, or scale the input data."
)
_ILL_DEFINED_FLOAT32 = (
    " The numerical accuracy can also be improved by passing float64"
    " data instead of float32."
)


def covariance_shape(covariance_type, n_components, n_features):
    """The shape of ``covariances_``, ``precisions_`` and
    ``precisions_cholesky_`` (the one table of them)."""
    return {
        "full": (n_components, n_features, n_features),
        "tied": (n_features, n_features),
        "diag": (n_components, n_features),
        "spherical": (n_components,),
    }[covariance_type]


class Params(NamedTuple):
    """The fitted parameters, in scikit-learn's shapes and in the model dtype."""

    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray
    precisions_cholesky: np.ndarray


class Moments(NamedTuple):
    """A Gaussian pass's statistics beyond ``nk`` (float64)."""

    shift: np.ndarray  # (K, d) the point each component's sums are centred on
    sum_x: np.ndarray  # (K, d) sum r (x - shift)
    second: np.ndarray  # full (K, d, d) upper triangle; diag (K, d); tied (K, 0)


class TiedScatter(NamedTuple):
    """Scatter of all rows around their mean, computed once per fit (tied)."""

    n_samples: int
    center: np.ndarray
    scatter: np.ndarray


# --------------------------------------------------------------------------
# Precisions and their Cholesky factors.


def ill_defined_message(dtype):
    msg = _ILL_DEFINED
    if np.dtype(dtype) == np.float32:
        msg += _ILL_DEFINED_FLOAT32
    return msg


@functools.lru_cache(maxsize=16)
def _upper_mask(d):
    return np.triu(np.ones((d, d), dtype=bool))


def _triangular_inverse(matrices, lower):
    """Inverse of each triangular matrix of a float64 ``(K, d, d)`` stack.

    LAPACK's ``dtrtri`` one matrix at a time: the stack of a many-component
    model costs microseconds per component, where SciPy's checked wrappers
    cost tens.  The other triangle of the result is exactly zero.
    """
    out = np.empty_like(matrices)
    for k, matrix in enumerate(matrices):
        inverse, info = lapack.dtrtri(matrix, lower=int(lower))
        if info != 0:
            raise linalg.LinAlgError("singular triangular matrix")
        out[k] = inverse
    upper = _upper_mask(matrices.shape[-1])
    return np.where(upper.T if lower else upper, out, 0.0)


def _inverse_cholesky_upper(covariances, dtype):
    """Upper-triangular U_k with U_k U_k^T = covariances[k]^-1 (scikit-learn's
    layout) for a ``(K, d, d)`` stack: one batched Cholesky factorisation,
    then the transposed inverse of each lower factor."""
    try:
        cov_chol = np.linalg.cholesky(covariances)
        if not np.all(np.isfinite(cov_chol)):
            raise linalg.LinAlgError("not finite")
        inverse = _triangular_inverse(cov_chol, lower=True)
    except np.linalg.LinAlgError:
        raise ValueError(ill_defined_message(dtype)) from None
    return np.swapaxes(inverse, 1, 2)


def precision_cholesky(covariances, covariance_type, dtype):
    """Cholesky factors of the precisions from float64 covariances."""
    covariances = np.asarray(covariances, dtype=np.float64)
    if covariance_type == "full":
        out = _inverse_cholesky_upper(covariances, dtype)
    elif covariance_type == "tied":
        out = _inverse_cholesky_upper(covariances[None], dtype)[0]
    else:
        if np.any(covariances <= 0.0) or not np.all(np.isfinite(covariances)):
            raise ValueError(ill_defined_message(dtype))
        out = 1.0 / np.sqrt(covariances)
    return out


def _flipped_cholesky(precisions):
    """Upper U_k with U_k U_k^T = precisions[k], via the Cholesky factors of
    the reversed matrices (a batched factorisation of the whole stack)."""
    lower = np.linalg.cholesky(precisions[:, ::-1, ::-1])
    return np.ascontiguousarray(lower[:, ::-1, ::-1])


def precision_cholesky_from_precisions(precisions, covariance_type):
    precisions = np.asarray(precisions, dtype=np.float64)
    if covariance_type == "full":
        return _flipped_cholesky(precisions)
    if covariance_type == "tied":
        return _flipped_cholesky(precisions[None])[0]
    return np.sqrt(precisions)


def precisions_from_cholesky(prec_chol, covariance_type):
    if covariance_type == "full":
        return np.matmul(prec_chol, np.swapaxes(prec_chol, 1, 2))
    if covariance_type == "tied":
        return prec_chol @ prec_chol.T
    return prec_chol**2


def covariances_from_cholesky(prec_chol, covariance_type):
    """Covariances implied by precision Cholesky factors (inverse of U U^T)."""
    prec_chol = np.asarray(prec_chol, dtype=np.float64)
    if covariance_type == "full":
        inv = _triangular_inverse(prec_chol, lower=False)
        return np.matmul(np.swapaxes(inv, 1, 2), inv)
    if covariance_type == "tied":
        inv = _triangular_inverse(prec_chol[None], lower=False)[0]
        return inv.T @ inv
    return 1.0 / prec_chol**2


def log_det_cholesky(prec_chol, covariance_type, n_features):
    """log|det U| per component (a scalar for tied), in float64."""
    prec_chol = np.asarray(prec_chol, dtype=np.float64)
    if covariance_type == "full":
        return np.log(np.diagonal(prec_chol, axis1=1, axis2=2)).sum(axis=1)
    if covariance_type == "tied":
        return np.log(np.diag(prec_chol)).sum()
    if covariance_type == "diag":
        return np.log(prec_chol).sum(axis=1)
    return n_features * np.log(prec_chol)


def log_norm(params, covariance_type):
    """log weight_k + log|det U_k| - d/2 log(2 pi), float64 (K,)."""
    n_components, n_features = params.means.shape
    with np.errstate(divide="ignore"):
        log_weights = np.log(np.asarray(params.weights, dtype=np.float64))
    log_det = log_det_cholesky(params.precisions_cholesky, covariance_type, n_features)
    out = log_weights + log_det - 0.5 * n_features * np.log(2.0 * np.pi)
    return kernel_array(np.broadcast_to(out, (n_components,)), np.float64)



# --------------------------------------------------------------------------
# A pass: which kernel, with which constants.


def tied_center(params):
    """The shift tied passes centre rows on: the mixture's mean."""
    weights = np.asarray(params.weights, dtype=np.float64)
    return weights @ np.asarray(params.means, dtype=np.float64)


def _second_shape(second, n_components, n_features):
    return {"full": (n_components, n_features, n_features),
            "diag": (n_components, n_features), None: None}[second]


class GaussianPlan(Plan):
    """A pass of one of the three Gaussian kernels (``fastem.kernels.gaussian``).

    ``means`` and ``prec_chol`` in the compute ``dtype`` (kernel-ready),
    ``lnorm`` the float64 per-component constants of the weighted
    log-densities; ``second`` the second moment the kernel accumulates
    ("full", "diag", or None for tied: its scatter is computed once per
    fit); ``given``: statistics under given responsibilities (the means are
    then only the shift; no log-densities); ``first_only``: no second
    moments (an empty accumulator for them)."""

    def __init__(self, covariance_type, dtype, means, prec_chol, lnorm, want_stats,
                 params=None, given=False, first_only=False):
        self.covariance_type = covariance_type
        self.dtype = np.dtype(dtype)
        self.n_components, self.n_features = means.shape
        self.want_stats = want_stats
        self.params = params
        self.given = given
        self.lnorm = kernel_array(lnorm, np.float64)  # never a read-only view
        K, d = self.n_components, self.n_features
        self.no_resp = np.empty((0, K))
        if given:
            self.second = covariance_type  # "full" or "diag"
            self.means = kernel_array(means, dtype)
            self.shift = self.means
            self.prec = np.empty((K, 0, 0) if self.second == "full" else (K, 0), dtype)
        elif covariance_type == "tied":
            # The kernel subtracts the centre in the compute dtype; build the
            # transformed means from that same rounded centre.
            self.second = None
            self.center = kernel_array(tied_center(params), dtype)
            prec64 = np.asarray(params.precisions_cholesky, dtype=np.float64)
            self.means_t = kernel_array(
                (params.means - self.center.astype(np.float64)) @ prec64, dtype)
            self.prec = kernel_array(prec_chol, dtype)
            # The kernel's first moments are centred on the (rounded) centre.
            self.shift = np.broadcast_to(self.center.astype(np.float64), (K, d))
        else:
            self.second = "full" if covariance_type == "full" else "diag"
            self.means = kernel_array(means, dtype)
            self.shift = self.means
            if self.second == "full":
                self.prec = kernel_array(prec_chol, dtype)
            else:
                self.prec = kernel_array(
                    np.broadcast_to(np.asarray(prec_chol).reshape(K, -1), (K, d)), dtype)
        shape = _second_shape(self.second, K, d)
        if first_only:  # the kernel's second-moment accumulator, with no components
            shape = (0,) + shape[1:]
        self.stat_shapes = ((K, d),) + ((shape,) if shape is not None else ())

    def run(self, chunk, sample_weight, outputs, accs, segment, resp=None):
        resp = self.no_resp if resp is None else resp
        if self.second is None:
            kernels.tied_pass(chunk, self.center, self.prec, self.means_t, self.lnorm,
                              sample_weight, *outputs, segment, *accs)
        elif self.second == "full":
            kernels.full_pass(chunk, self.means, self.prec, self.lnorm, resp, sample_weight,
                              *outputs, segment, *accs)
        else:
            spherical = self.covariance_type == "spherical"
            kernels.diag_pass(chunk, self.means, self.prec, self.lnorm, resp, sample_weight,
                              *outputs, spherical, segment, *accs)

    def run_missing(self, rows, sample_weight, outputs, accs, fill=None, draws=None):
        """Rows with NaN (``fastem.kernels.missing``): full and tied through
        the full kernel (a tied factor repeated), diagonal and spherical
        through the diagonal one."""
        K, d = self.n_components, self.n_features
        dtype = self.dtype
        fill = np.empty((0, d), dtype) if fill is None else fill
        u, e = (np.empty(0), np.empty((0, d))) if draws is None else draws
        ll, nk, sum_x = accs[0], accs[1], accs[2]
        # the kernels' t-component arguments, empty (see kernels.missing)
        no_t, no_table, no_g, no_sums = (np.empty(0), np.empty((2, 0, 0)), np.empty((0, 0)),
                                         np.empty((0, 0)))
        if self.second == "diag":
            kernels.diag_missing_pass(rows, self.means, self.prec, self.lnorm, no_t, no_table,
                                      sample_weight, *outputs, fill, u, e, no_g, ll, nk,
                                      no_sums, no_sums, sum_x, accs[3])
            return
        if self.second is None:  # a tied model's scoring pass (its fit is blockwise)
            means = kernel_array(self.params.means, dtype)
            prec = kernel_array(np.broadcast_to(self.prec, (K, d, d)), dtype)
            second = np.zeros((0, K, d, d))
        else:
            means, prec, second = self.means, self.prec, accs[3]
        kernels.full_missing_pass(rows, means, prec, self.lnorm, no_t, no_table, sample_weight,
                                  *outputs, fill, u, e, no_g, ll, nk, no_sums, no_sums, sum_x,
                                  second)

    def moments(self, totals):
        sum_x = totals[0]
        second = totals[1] if len(totals) > 1 else np.empty((self.n_components, 0))
        return Moments(np.asarray(self.shift, np.float64), sum_x, second)

    def repair(self, chunk, out_resp, out_label):
        """Responsibilities and labels of rows whose every log-density is -inf.

        A row so far from every component that its squared distances
        overflow gets NaN responsibilities and label -1 from the kernel
        (scikit-learn returns NaN and label 0).  Its posterior has a limit
        all the same (see ``far_rows_posterior``)."""
        rows = rows_to_repair(out_resp, out_label)
        if not rows.size:
            return
        resp = far_rows_posterior_with_holes(chunk[rows], self.params, self.covariance_type,
                                             self.lnorm)
        if out_resp.shape[0]:
            out_resp[rows] = resp
        if out_label.shape[0]:
            out_label[rows] = np.argmax(resp, axis=1)


def given_plan(shift, second, dtype, first_only=False):
    """A plan that takes statistics under given responsibilities, centred on
    ``shift`` (rounded to the data's ``dtype``), with the ``second`` moment
    "full" (``(K, d, d)`` upper triangle) or "diag" (``(K, d)``) -- or, with
    ``first_only``, none, through that moment's kernel."""
    n_components = shift.shape[0]
    return GaussianPlan(second, dtype, shift, None, np.zeros(n_components), True, given=True,
                        first_only=first_only)


class _Factors(NamedTuple):
    """What ``far_rows_posterior`` reads of a model."""

    means: np.ndarray
    precisions_cholesky: np.ndarray


def marginal_factors(prec_chol, covariance_type, observed, n_components):
    """``(factors, kind, log_det)``: the Cholesky factors of the precisions
    of the ``observed`` coordinates' marginal (the inverse of Sigma_oo: the
    Schur complement of the precision), in the layout of covariance type
    ``kind`` ("full": (K, |o|, |o|) upper; "diag": (K, |o|)), and their
    log-determinants (K,)."""
    chol = np.asarray(prec_chol, dtype=np.float64)
    if covariance_type in ("full", "tied"):
        d = chol.shape[-1]
        U = np.broadcast_to(chol, (n_components, d, d))
        sigma = np.linalg.inv(U @ np.swapaxes(U, 1, 2))
        factors = _inverse_cholesky_upper(sigma[:, observed][:, :, observed], np.float64)
        return factors, "full", np.log(np.diagonal(factors, axis1=1, axis2=2)).sum(axis=1)
    d = observed.shape[0]
    u = np.broadcast_to(chol.reshape(n_components, -1), (n_components, d))[:, observed]
    return np.ascontiguousarray(u), "diag", np.log(u).sum(axis=1)


def by_pattern(rows, complete, marginal):
    """Per-row results (K columns, float64) of rows that may hold NaN:
    ``complete(rows)`` for the rows with none, ``marginal(rows_o, o)`` for
    each pattern of the others (``rows_o`` their observed columns, ``o``
    the pattern's mask of observed features)."""
    rows = np.asarray(rows, dtype=np.float64)
    nan = np.isnan(rows)
    if not nan.any():
        return complete(rows)
    patterns, inverse = np.unique(nan, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    out = None
    for i, pattern in enumerate(patterns):
        sel = np.flatnonzero(inverse == i)
        part = (complete(rows[sel]) if not pattern.any()
                else marginal(rows[sel][:, ~pattern], ~pattern))
        if out is None:
            out = np.empty((rows.shape[0], part.shape[1]))
        out[sel] = part
    return out


def far_rows_posterior_with_holes(rows, params, covariance_type, lnorm):
    """``far_rows_posterior`` of rows that may hold NaN (missing values):
    for each pattern, that of the marginal over the observed coordinates
    (its factors from ``marginal_factors``; its constants ``lnorm`` with
    the complete log-determinant swapped for the marginal's and the missing
    coordinates' log(2 pi) / 2 back); a row with nothing observed has the
    posterior of the constants alone."""
    n_components, d = params.means.shape
    means = np.asarray(params.means, dtype=np.float64)
    lnorm = np.broadcast_to(np.asarray(lnorm, dtype=np.float64), (n_components,))
    full_log_det = np.broadcast_to(
        log_det_cholesky(params.precisions_cholesky, covariance_type, d), (n_components,))

    def complete(x):
        return far_rows_posterior(x, params, covariance_type, lnorm)

    def marginal(x_o, observed):
        if not observed.any():
            e = np.exp(lnorm - lnorm.max())
            return np.broadcast_to(e / e.sum(), (x_o.shape[0], n_components))
        factors, kind, log_det = marginal_factors(params.precisions_cholesky, covariance_type,
                                                  observed, n_components)
        lnorm_o = (lnorm - full_log_det + log_det
                   + 0.5 * (d - observed.sum()) * np.log(2.0 * np.pi))
        return far_rows_posterior(x_o, _Factors(means[:, observed], factors), kind, lnorm_o)

    return by_pattern(rows, complete, marginal)


def far_rows_posterior(rows, params, covariance_type, lnorm=None):
    """Posterior responsibilities (float64) of rows far from every component.

    With ``a`` a power of two near the row's magnitude (so ``x / a`` is exact
    and of order 1), ``y_k = (x / a) U_k`` and ``m_k = mu_k U_k``, the squared
    distance is ``a^2 |y_k|^2 - 2 a y_k.m_k + |m_k|^2``: three terms of very
    different size, none of which overflows on its own.  The log-densities
    are compared with a reference component ``r`` (the smallest ``|y|^2``,
    then the largest ``y.m``), term by term, so that equal leading terms
    cancel exactly (a tied or spherical model, where only the linear term
    tells the components apart) and an overflowing one gives exp(-inf) = 0.
    ``lnorm``: the per-component constants of the log-densities (the plan's;
    by default the maximum-likelihood model's, ``log_norm``).
    """
    if lnorm is None:
        lnorm = log_norm(params, covariance_type)
    rows = np.asarray(rows, dtype=np.float64)
    means = np.asarray(params.means, dtype=np.float64)
    chol = np.asarray(params.precisions_cholesky, dtype=np.float64)
    n_components = means.shape[0]
    top = np.maximum(np.abs(rows).max(axis=1), np.finfo(np.float64).tiny)
    scale = np.exp2(np.floor(np.log2(top)))  # at most 2**1023: finite
    x = rows / scale[:, None]
    if covariance_type == "full":
        y = np.einsum("ni,kij->nkj", x, chol)
        m = np.einsum("ki,kij->kj", means, chol)
    elif covariance_type == "tied":
        y = np.broadcast_to((x @ chol)[:, None, :], (x.shape[0], n_components, x.shape[1]))
        m = means @ chol
    else:
        u = np.broadcast_to(chol.reshape(n_components, -1), means.shape)
        y = x[:, None, :] * u[None, :, :]
        m = means * u
    A = np.sum(y * y, axis=2)
    B = np.sum(y * m[None, :, :], axis=2)
    L = lnorm - 0.5 * np.sum(m * m, axis=1)
    out = np.empty_like(A)
    with np.errstate(over="ignore", invalid="ignore"):
        for n in range(A.shape[0]):
            ties = np.flatnonzero(A[n] == A[n].min())
            r = ties[np.argmax(B[n, ties])]
            a = scale[n]
            delta = (-0.5 * (a * (a * (A[n] - A[n, r]))) + a * (B[n] - B[n, r])
                     + (L - L[r]))
            delta = np.nan_to_num(delta, nan=-np.inf, posinf=np.finfo(np.float64).max)
            e = np.exp(delta - delta.max())
            out[n] = e / e.sum()
    return out




def resp_stats(X, resp_chunk, shift, second_moment, sample_weight=None, first_only=False):
    """Statistics of X under the responsibilities ``resp_chunk(start, stop)``
    gives, centred on ``shift``, with the ``second_moment`` "full" or
    "diag" (see ``fastem.engine.passes.stats_under``); ``first_only``:
    without it, through its kernel."""
    plan = given_plan(shift, second_moment, compute_dtype(X.dtype), first_only)
    return stats_under(X, plan, resp_chunk, sample_weight)


def data_scatter(X, sample_weight=None, second="full"):
    """The rows' (weighted) total, mean and scatter around the mean --
    ``(d, d)`` for ``second="full"``, its diagonal ``(d,)`` for "diag" --
    in two passes (on a dask array, on the cluster)."""
    n_features = X.shape[1]
    dtype = compute_dtype(X.dtype)
    first = row_stats(X, given_plan(np.zeros((1, n_features)), second, dtype,
                                    first_only=second == "full"), sample_weight)
    total = first.n_samples
    center = first.moments.sum_x[0] / total
    moments = row_stats(X, given_plan(center[None, :], second, dtype), sample_weight).moments
    scatter = _symmetrize(moments.second)[0] if second == "full" else moments.second[0].copy()
    # The rounded mean leaves sum(x - center) slightly off zero: move the
    # centre onto the exact mean of the rows and correct the scatter for it.
    residual = moments.sum_x[0]
    if second == "full":
        scatter -= np.outer(residual, residual) / total
    else:
        scatter -= residual * residual / total
    return TiedScatter(total, moments.shift[0] + residual / total, scatter)


def cached_scatter(X, sample_weight, second, cache):
    """``data_scatter``, computed once for all the fits sharing ``cache``."""
    cache = {} if cache is None else cache
    key = ("scatter", second)
    if key not in cache:
        cache[key] = data_scatter(X, sample_weight, second)
    return cache[key]


def tied_scatter(X, sample_weight=None):
    """Scatter of all rows around their mean (both weighted by
    ``sample_weight``): two passes, once per fit."""
    return data_scatter(X, sample_weight, "full")


def shift_sums(sum_x, second, weight, delta):
    """Centred sums moved to another centre: with ``sum_x = sum_i w_i (x_i -
    s)`` and ``second`` the matching second moment (full: upper triangle;
    diag: squares; no columns: none), ``weight = sum_i w_i`` and ``delta =
    s - s'``, the same sums about s' (x - s' = (x - s) + delta).  Full
    second moments come back whole (both triangles)."""
    moved_x = sum_x + weight[:, None] * delta
    if second.ndim == 3 and second.shape[-1]:
        outer = sum_x[:, :, None] * delta[:, None, :]
        moved = (_symmetrize(second) + outer + np.swapaxes(outer, 1, 2)
                 + weight[:, None, None] * delta[:, :, None] * delta[:, None, :])
    elif second.size:
        moved = second + 2.0 * delta * sum_x + weight[:, None] * delta**2
    else:
        moved = second
    return moved_x, moved


def _symmetrize(upper):
    """Fill the lower triangles of a stack of upper-triangular-filled matrices."""
    return np.where(_upper_mask(upper.shape[-1]), upper, np.swapaxes(upper, -1, -2))


# --------------------------------------------------------------------------
# M-step.


def m_step(stats, covariance_type, reg_covar, dtype, tied=None, weights_by="sum",
           every_row=True):
    """Closed-form maximisation from centred statistics.

    Returns ``(weights, means, covariances, loss)``: parameters in float64
    and the M-step's regularisation loss ``Q(theta*) - Q(theta)`` summed over
    rows (see ``_reg_loss_eigen``).  ``weights_by="n_samples"`` divides ``nk`` by the
    number of rows (scikit-learn's initialisation) instead of by ``sum(nk)``.
    ``every_row``: whether every row's responsibilities sum to 1 (tied only:
    see there).
    """
    nk, means, covariances, loss = gaussian_estimates(stats, covariance_type, reg_covar, dtype,
                                                      tied, every_row)
    if weights_by == "n_samples":
        weights = nk / stats.n_samples
    else:
        weights = nk / nk.sum()
    return weights, means, covariances, loss


def gaussian_estimates(stats, covariance_type, reg_covar, dtype, tied=None, every_row=True):
    """``(nk, means, covariances, loss)``: scikit-learn's
    ``_estimate_gaussian_parameters`` (``nk`` with its ``10 * eps`` guard of
    ``dtype``, covariances with ``reg_covar``) from centred statistics, and
    the regularisation loss (see ``m_step``)."""
    eps = np.finfo(dtype).eps
    mo = stats.moments
    r = stats.nk
    nk = r + 10 * eps
    sum_rx = mo.sum_x + r[:, None] * mo.shift
    means = sum_rx / nk[:, None]
    delta = means - mo.shift
    if covariance_type == "full":
        second = _symmetrize(mo.second)
        sx_delta = mo.sum_x[:, :, None] * delta[:, None, :]
        scatter = (
            second
            - sx_delta
            - np.swapaxes(sx_delta, 1, 2)
            + r[:, None, None] * delta[:, :, None] * delta[:, None, :]
        )
        emp = scatter / nk[:, None, None]
        emp = 0.5 * (emp + np.swapaxes(emp, 1, 2))
        loss = _reg_loss_matrices(emp, r, reg_covar)
        covariances = emp.copy()
        idx = np.arange(emp.shape[1])
        covariances[:, idx, idx] += reg_covar
    elif covariance_type == "tied":
        # scikit-learn: (X^T X - sum_k nk mu_k mu_k^T) / sum(nk), around the
        # origin.  Around the rows' mean c that is the scatter around c minus
        # sum_k nk (mu_k - c)(mu_k - c)^T, plus terms in (n - sum nk) c c^T
        # and c (sum_k nk (mu_k - c))^T.  When every row's responsibilities
        # sum to 1 (EM, and the 'kmeans' and 'random' initialisations) those
        # terms are 0 but for the 10 eps guard on nk: nothing at the origin,
        # but enough to make the covariance indefinite when the data sit 1e8
        # away from it, so they are left out (and the covariance does not
        # depend on where the origin is).  With responsibilities on a few
        # rows only ('k-means++', 'random_from_data') they are real.
        total_nk = nk.sum()
        dmean = means - tied.center
        scatter = tied.scatter - (nk[:, None] * dmean).T @ dmean
        if not every_row:
            v = nk @ dmean
            scatter = (scatter - np.outer(tied.center, v) - np.outer(v, tied.center)
                       + (tied.n_samples - total_nk) * np.outer(tied.center, tied.center))
        emp = scatter / total_nk
        emp = 0.5 * (emp + emp.T)
        loss = _reg_loss_matrices(emp[None], np.array([r.sum()]), reg_covar)
        covariances = emp + reg_covar * np.eye(emp.shape[0])
    else:
        var = (mo.second - 2.0 * delta * mo.sum_x + r[:, None] * delta**2) / nk[:, None]
        if covariance_type == "diag":
            loss = _reg_loss_eigen(var, r, reg_covar)
            covariances = var + reg_covar
        else:
            sph = var.mean(axis=1)
            n_features = var.shape[1]
            loss = n_features * _reg_loss_eigen(sph[:, None], r, reg_covar)
            covariances = sph + reg_covar
    return nk, means, covariances, loss


def _reg_loss_eigen(eigvals, r, reg_covar):
    """sum_k r_k / 2 * sum_j f(reg / lambda_kj), f(t) = log(1 + t) - t / (1 + t).

    With covariance Sigma* + reg I in place of the maximiser Sigma*, the
    M-step falls short of the maximum of E_q[log p(X, Z)] by exactly this.
    Components with no responsibility lose nothing; a positive responsibility
    on a singular Sigma* makes the shortfall unbounded.
    """
    if reg_covar == 0.0:
        return 0.0
    used = r != 0.0
    r, lam = r[used], eigvals[used]
    if np.any(lam <= 0.0):
        return np.inf
    t = reg_covar / lam
    return float(0.5 * (r @ np.sum(np.log1p(t) - t / (1.0 + t), axis=1)))


def _reg_loss_matrices(emp, r, reg_covar):
    if reg_covar == 0.0:
        return 0.0
    return _reg_loss_eigen(np.linalg.eigvalsh(emp), r, reg_covar)


# --------------------------------------------------------------------------
# The bound's closed form (the seed's chain).


def expected_log_density(stats, means, prec_chol, lnorm, covariance_type, tied=None):
    """sum_i sum_k w_i r_ik (lnorm_k - |U_k^T (x_i - mean_k)|^2 / 2) from the
    statistics of a pass taken under r, in float64: with S_k(mu) = sum_i
    w_i r_ik (x_i - mu)(x_i - mu)^T moved from the statistics' shift to
    ``means``,

        sum_k nk_k lnorm_k - 1/2 sum_k tr(P_k S_k(mean_k)),   P_k = U_k U_k^T.

    With ``lnorm`` = log weight + log|det U| - d/2 log 2 pi that is E_q[log
    p(X, Z | theta)]; a variational model's constants give its expected
    log-densities.  A tied pass has no per-component second moment: every
    row's responsibilities sum to 1 after an E-step, so sum_k S_k is the
    scatter of all rows (``tied``, computed once per fit) less the
    first-moment terms.

    Returns ``(value, scale)``: ``scale`` is the sum of the absolute values
    of the terms added (the size rounding errors are relative to; large
    when a nearly singular covariance meets a spread-out scatter).
    """
    mo = stats.moments
    nk = stats.nk
    n_components, n_features = mo.sum_x.shape
    means = np.asarray(means, dtype=np.float64)
    chol = np.asarray(prec_chol, dtype=np.float64)
    lnorm = np.broadcast_to(np.asarray(lnorm, dtype=np.float64), (n_components,))
    # A component with no responsibility adds nothing, even at weight 0.
    constant_terms = np.multiply(nk, lnorm, out=np.zeros(n_components), where=nk > 0)
    delta = means - mo.shift
    if covariance_type == "full":
        scatter = _symmetrize(mo.second)
        if delta.any():  # (the statistics' own means: the shift itself)
            sx_delta = mo.sum_x[:, :, None] * delta[:, None, :]
            scatter += (nk[:, None, None] * delta[:, :, None] * delta[:, None, :]
                        - sx_delta - np.swapaxes(sx_delta, 1, 2))
        terms = precisions_from_cholesky(chol, "full") * scatter
    elif covariance_type == "tied":
        # Around the rows' mean m (where the scatter of all rows is), not the
        # pass's centre c, which need not be near the data: no n (c - m)(c -
        # m)^T term to cancel.
        sum_xm = mo.sum_x + nk[:, None] * (mo.shift - tied.center)
        delta_m = means - tied.center
        sx_delta = sum_xm.T @ delta_m
        scatter = tied.scatter - sx_delta - sx_delta.T + (nk[:, None] * delta_m).T @ delta_m
        terms = precisions_from_cholesky(chol, "tied") * scatter
    else:
        scatter = mo.second
        if delta.any():  # (the statistics' own means: the shift itself)
            scatter = scatter + delta * (nk[:, None] * delta - 2.0 * mo.sum_x)
        precisions = np.reshape(chol * chol, (n_components, -1))
        terms = precisions * scatter
    value = constant_terms.sum() - 0.5 * np.sum(terms)
    scale = np.abs(constant_terms).sum() + 0.5 * np.sum(np.abs(terms))
    return float(value), float(scale)


# --------------------------------------------------------------------------
# Checks of the user's initial parameters (scikit-learn's messages).


def check_weights(weights, n_components):
    weights = float_array(weights)
    check_shape(weights, (n_components,), "weights")
    if np.any(weights < 0.0) or np.any(weights > 1.0):
        raise ValueError(
            "The parameter 'weights' should be in the range [0, 1], but got "
            f"max value {np.max(weights):.5f}, min value {np.min(weights):.5f}"
        )
    atol = 1e-6 if weights.dtype == np.float32 else 1e-8
    if not abs(1.0 - float(np.sum(weights))) <= atol:
        raise ValueError(
            "The parameter 'weights' should be normalized, but got "
            f"sum(weights) = {np.sum(weights):.5f}"
        )
    return weights


def check_means(means, n_components, n_features):
    means = float_array(means)
    check_shape(means, (n_components, n_features), "means")
    return means


def check_precision_matrices(matrices, covariance_type):
    """Symmetric positive-definite, or scikit-learn's error (``matrices``
    a stack, or one matrix)."""
    stack = matrices if matrices.ndim == 3 else matrices[None]
    # np.allclose(matrix, matrix.T) and positive eigenvalues, for the whole
    # stack at once.
    transposed = np.swapaxes(stack, 1, 2)
    symmetric = np.abs(stack - transposed) <= 1e-8 + 1e-5 * np.abs(transposed)
    if not (np.all(symmetric) and np.all(np.linalg.eigvalsh(stack) > 0.0)):
        raise ValueError(
            f"'{covariance_type} precision' should be symmetric, positive-definite"
        )


def check_precision_positivity(values, covariance_type):
    if np.any(values <= 0.0):
        raise ValueError(f"'{covariance_type} precision' should be positive")


def check_precisions(precisions, covariance_type, n_components, n_features):
    precisions = float_array(precisions, allow_nd=covariance_type == "full")
    check_shape(precisions, covariance_shape(covariance_type, n_components, n_features),
                f"{covariance_type} precision")
    if covariance_type in ("diag", "spherical"):
        check_precision_positivity(precisions, covariance_type)
    else:
        check_precision_matrices(precisions, covariance_type)
    return precisions


# --------------------------------------------------------------------------
# Re-seeding (``reseed=True``: see fastem.engine.reseed).

#: Components with less responsibility than this are re-seeded.
MIN_RESPONSIBILITY = 2.0


def degenerate_components(nk, covariances, covariance_type):
    """Indices of the components to re-seed, in increasing order: less than
    ``MIN_RESPONSIBILITY`` (empty, or collapsed on a single point), or a
    covariance that is not positive-definite (full), not positive (diag,
    spherical) or not finite."""
    bad = ~(np.asarray(nk) >= MIN_RESPONSIBILITY)
    if covariance_type == "full":
        for k, cov in enumerate(covariances):
            bad[k] |= not _positive_definite(cov)
    elif covariance_type == "diag":
        bad |= ~np.all(np.isfinite(covariances) & (covariances > 0.0), axis=1)
    elif covariance_type == "spherical":
        bad |= ~(np.isfinite(covariances) & (covariances > 0.0))
    return np.flatnonzero(bad)


def _positive_definite(matrix):
    if not np.all(np.isfinite(matrix)):
        return False
    try:
        return bool(np.all(np.isfinite(np.linalg.cholesky(matrix))))
    except np.linalg.LinAlgError:
        return False


def reseeded_covariances(covariances, covariance_type, nk, good, bad):
    """The covariances with each ``bad`` component given the ``nk``-weighted
    mean of the ``good`` ones (tied: the shared one is kept), float64."""
    covariances = np.array(covariances, dtype=np.float64)
    if covariance_type != "tied":
        share = nk[good] / np.sum(nk[good])
        covariances[bad] = np.tensordot(share, covariances[good], axes=1)
    return covariances


# --------------------------------------------------------------------------
# The fitted model.


def n_parameters(covariance_type, n_components, n_features):
    """Number of free parameters of a Gaussian mixture."""
    if covariance_type == "full":
        cov_params = n_components * n_features * (n_features + 1) / 2.0
    elif covariance_type == "diag":
        cov_params = n_components * n_features
    elif covariance_type == "tied":
        cov_params = n_features * (n_features + 1) / 2.0
    else:
        cov_params = n_components
    mean_params = n_features * n_components
    return int(cov_params + mean_params + n_components - 1)


def sample(weights, means, covariances, covariance_type, n_samples, rng):
    """``(X, y)``: ``n_samples`` draws from the mixture, as scikit-learn draws
    them (the same random stream for the same ``rng``)."""
    _, n_features = means.shape
    counts = rng.multinomial(n_samples, weights)
    if covariance_type == "full":
        parts = [rng.multivariate_normal(m, c, int(s))
                 for m, c, s in zip(means, covariances, counts)]
    elif covariance_type == "tied":
        parts = [rng.multivariate_normal(m, covariances, int(s))
                 for m, s in zip(means, counts)]
    else:
        parts = [m + rng.standard_normal(size=(s, n_features)) * np.sqrt(c)
                 for m, c, s in zip(means, covariances, counts)]
    X = np.vstack(parts).astype(np.float64, copy=False)
    y = np.concatenate([np.full(int(s), i, dtype=np.int64) for i, s in enumerate(counts)])
    return X, y


def check_loaded_arrays(est, name, error, shapes, context=""):
    """Each loaded attribute of ``shapes`` (name -> shape) a finite
    float32/64 array of its shape, and ``weights_`` a probability vector;
    raises ``error(message)``."""
    K, d = est.n_components, est.n_features_in_
    for key, shape in shapes.items():
        value = getattr(est, key)
        if not isinstance(value, np.ndarray) or value.shape != shape:
            raise error(
                f"{name!s}: {key} has shape {np.shape(value)}, expected {shape} for "
                f"n_components={K}, n_features={d}{context}")
        if value.dtype not in (np.float32, np.float64):
            raise error(f"{name!s}: {key} has dtype {value.dtype}, not float32/64")
        if not np.all(np.isfinite(value)):
            raise error(f"{name!s}: {key} holds NaN or infinity")
    w = est.weights_.astype(np.float64)
    tol = 1e-5 if est.weights_.dtype == np.float32 else 1e-10
    if np.any(w < 0) or abs(w.sum() - 1.0) > tol:
        raise error(f"{name!s}: weights_ is not a probability vector")


def check_gaussian_arrays(est, name, error):
    """Shapes, dtypes and values of a loaded model's Gaussian parameters
    (``weights_``, ``means_`` and the covariance-type-shaped three); raises
    ``error(message)``."""
    K = est.n_components
    d = est.n_features_in_
    cov = est.covariance_type
    shapes = {"weights_": (K,), "means_": (K, d)}
    for key in ("covariances_", "precisions_", "precisions_cholesky_"):
        shapes[key] = covariance_shape(cov, K, d)
    check_loaded_arrays(est, name, error, shapes, f", covariance_type={cov!r}")
    single = np.float32 in (est.precisions_cholesky_.dtype, est.precisions_.dtype)
    rtol = 1e-4 if single else 1e-8
    # The whitened means (x - mu)^T U must be far from overflowing, whose
    # squares the log-densities sum: no fit gives means beyond that.
    limit = math.sqrt(np.finfo(np.float32 if single else np.float64).max) / (4.0 * d)
    reach = float(np.abs(est.means_).max(initial=0.0)) \
        * float(np.abs(est.precisions_cholesky_).max(initial=0.0))
    if reach > limit:
        raise error(f"{name!s}: means_ times precisions_cholesky_ reach {reach:.3g}; beyond "
                    f"{limit:.3g} the log-densities overflow")
    if cov in ("full", "tied"):
        # One component at a time: the temporaries are d x d, whatever K.
        stack = est.precisions_cholesky_.reshape(-1, d, d)
        stored_all = est.precisions_.reshape(stack.shape)
        covariances_all = est.covariances_.reshape(stack.shape)
        scale = 0.0  # the largest |precision| (on a diagonal: U U^T's row norms)
        for k in range(stack.shape[0]):
            factor = stack[k].astype(np.float64)
            if np.any(np.tril(factor, -1) != 0) or np.any(np.diagonal(factor) <= 0):
                raise error(f"{name!s}: precisions_cholesky_ is not upper-triangular "
                            "with a positive diagonal")
            scale = max(scale, float(np.einsum("ij,ij->i", factor, factor).max()))
        eye = np.eye(d)
        for k in range(stack.shape[0]):
            factor = stack[k].astype(np.float64)
            precision = factor @ factor.T
            if not np.allclose(stored_all[k].astype(np.float64), precision, rtol=rtol,
                               atol=rtol * scale):
                raise error(f"{name!s}: precisions_ disagrees with precisions_cholesky_")
            identity = covariances_all[k].astype(np.float64) @ precision
            if not np.allclose(identity, eye, atol=1e3 * rtol * max(1.0, d)):
                raise error(f"{name!s}: covariances_ is not the inverse of precisions_")
    else:
        chol = est.precisions_cholesky_.astype(np.float64)
        if np.any(chol <= 0):
            raise error(f"{name!s}: precisions_cholesky_ is not positive")
        if not np.allclose(est.precisions_.astype(np.float64), chol**2, rtol=rtol):
            raise error(f"{name!s}: precisions_ disagrees with precisions_cholesky_")
        if not np.allclose(est.covariances_.astype(np.float64) * chol**2, 1.0,
                           rtol=1e3 * rtol):
            raise error(f"{name!s}: covariances_ is not the inverse of precisions_")


# --------------------------------------------------------------------------
# The family.


class GaussianComponents(Family):
    """What the families of Gaussian components share: the kernels, run with
    each family's own per-component constants (``log_norm``), the sampling
    and the checks of the Gaussian arrays of a loaded model."""

    def __init__(self, n_components, covariance_type, reg_covar):
        super().__init__(n_components)
        self.covariance_type = covariance_type
        self.reg_covar = reg_covar
        self.tied = None  # the scatter of all rows, for a tied model (prepare)
        self._log_norm_memo = ((None, None), (None, None))

    def cached_log_norm(self, params):
        """``log_norm(params)``, remembered for the last two parameters asked
        about: an iteration's pass and its bound check ask about the same
        parameters, an incremental step's about the old and the new (the
        objects are never modified once made)."""
        for memo_params, memo in self._log_norm_memo:
            if memo_params is params:
                return memo
        memo = self.log_norm(params)
        self._log_norm_memo = ((params, memo), self._log_norm_memo[0])
        return memo

    def initial_statistics(self, X, source):
        """``(stats, tied)``: the statistics of ``source.rows`` under the initial
        responsibilities -- two passes, the means first, then the scatter
        around them -- and the scatter of all rows the tied M-step needs.
        The ``10 * eps`` guard is the data's (scikit-learn's first
        responsibilities have the data's dtype)."""
        K = self.n_components
        second = "full" if self.covariance_type == "full" else "diag"
        # The means through the kernel the second pass needs: a fit compiles
        # one Gaussian kernel, not two.
        first = resp_stats(source.rows, source.resp_chunk, np.zeros((K, X.shape[1])), second,
                           source.row_weights, first_only=second == "full")
        eps = np.finfo(self.data_dtype).eps
        shift = first.moments.sum_x / (first.nk + 10 * eps)[:, None]
        stats = resp_stats(source.rows, source.resp_chunk, shift, second,
                           source.row_weights)._replace(n_samples=source.n_samples)
        tied = self.tied
        if tied is not None and source.rows is not X and source.every_row:
            # 'kmeans' on a subsample: its own total scatter, as if it were X.
            tied = tied_scatter(source.rows, source.row_weights)
        return stats, tied

    def log_norm(self, params):
        """The kernel's per-component constants, float64 ``(K,)``."""
        raise NotImplementedError

    frame_fields = ("shift",)

    def blockwise_tied(self):
        """Whether passes cover only some rows (incremental and online EM)
        in a tied model: the tied kernel leaves the rows' scatter to one
        computation over all of them (``prepare``), so such passes run the
        full kernel with the shared factor repeated and keep per-component
        second moments instead (``tied_view``)."""
        return self.covariance_type == "tied" and (not self.whole_passes or self.has_missing)

    def tied_view(self, stats):
        """``(stats, tied scatter)`` for the tied M-step and bound: as they
        are, with the scatter of all rows, for batch EM; for blockwise
        passes, the first moments moved to the rows' mean and the scatter
        the sum of the components' second moments about it (the rows'
        responsibilities sum to 1)."""
        if not self.blockwise_tied():
            return stats, self.tied
        mo = stats.moments
        nk = stats.nk
        total = float(nk.sum())
        center = ((mo.sum_x.sum(axis=0) + nk @ mo.shift) / total if total > 0
                  else mo.shift[0])
        sum_x, second = shift_sums(mo.sum_x, mo.second, nk, mo.shift - center)
        K, d = sum_x.shape
        moments = Moments(np.broadcast_to(center, (K, d)), sum_x, np.empty((K, 0)))
        return (stats._replace(moments=moments),
                TiedScatter(total, center, second.sum(axis=0)))

    def rebase(self, stats, frame):
        """The sums about ``frame.shift`` (``shift_sums``)."""
        mo = stats.moments
        if mo.shift is frame.shift or np.array_equal(mo.shift, frame.shift):
            return mo
        sum_x, second = shift_sums(mo.sum_x, mo.second, stats.nk, mo.shift - frame.shift)
        return Moments(frame.shift, sum_x, second)

    def plan(self, params, data_dtype, want_stats):
        dtype = self.kernel_dtype_for(params, data_dtype)
        if self.blockwise_tied():
            K, d = params.means.shape
            chol = np.broadcast_to(np.asarray(params.precisions_cholesky), (K, d, d))
            plan = GaussianPlan("full", dtype, params.means, chol,
                                self.cached_log_norm(params), want_stats, params=params)
        else:
            plan = GaussianPlan(self.covariance_type, dtype, params.means,
                                np.asarray(params.precisions_cholesky),
                                self.cached_log_norm(params), want_stats, params=params)
        plan.missing = self.missing
        # Measured (benchmarks/missing_speed.py): sorting pays for the full
        # kernel's factorisations, even of random patterns (rows share
        # them), and only costs the diagonal one.
        plan.sort_patterns = plan.second != "diag"
        # ... and the diagonal one is as fast as the fused kernel: a segment
        # with NaN goes to it whole, no rows copied out.
        plan.missing_takes_all = plan.second == "diag"
        return plan

    def kernel_dtype_for(self, params, data_dtype):
        """The dtype a pass computes in: NumPy's promotion of the data's and
        the parameters' (a float64 model computes float32 data in float64,
        a chunk converted at a time)."""
        return compute_dtype(data_dtype, params.means.dtype)

    def output_dtype(self, params, data_dtype):
        return compute_dtype(data_dtype, params.means.dtype)

    def param_dtype(self, params):
        return params.means.dtype

    def fitted_attributes(self, params):
        """The Gaussian attributes every such model has (scikit-learn's)."""
        return {
            "weights_": params.weights,
            "means_": params.means,
            "covariances_": params.covariances,
            "precisions_cholesky_": params.precisions_cholesky,
            "precisions_": precisions_from_cholesky(params.precisions_cholesky,
                                                    self.covariance_type),
        }

    def sample(self, params, n_samples, rng):
        return sample(params.weights, params.means, params.covariances, self.covariance_type,
                      n_samples, rng)

    def saved_layout(self, est, read):
        K, d = est.n_components, est.n_features_in_
        shape = covariance_shape(self.covariance_type, K, d)
        return {"weights_": ((K,), FLOAT_DTYPES), "means_": ((K, d), FLOAT_DTYPES),
                "covariances_": (shape, FLOAT_DTYPES), "precisions_": (shape, FLOAT_DTYPES),
                "precisions_cholesky_": (shape, FLOAT_DTYPES)}

    def check_loaded(self, est, name, error):
        check_gaussian_arrays(est, name, error)


class GaussianFamily(GaussianComponents):
    """``GaussianMixture``'s family: maximum-likelihood EM."""

    prepare_on_filled = True  # the tied scatter, for the first M-step

    array_attributes = ("weights_", "means_", "covariances_", "precisions_",
                        "precisions_cholesky_")

    def __init__(self, n_components, covariance_type, reg_covar, weights_init=None,
                 means_init=None, precisions_init=None):
        super().__init__(n_components, covariance_type, reg_covar)
        self.weights_init = weights_init
        self.means_init = means_init
        self.precisions_init = precisions_init
        self.inits = (None, None, None)

    # ------------------------------------------------------------ set-up

    def setup(self, n_features, data_dtype):
        """Validated copies of the ``*_init`` arrays (the estimator's stay
        untouched), and the model's dtype: as in scikit-learn, float64
        initial parameters make a float64 model even for float32 data (NumPy's
        promotion decides every array)."""
        weights = means = precisions = None
        if self.weights_init is not None:
            weights = check_weights(self.weights_init, self.n_components)
        if self.means_init is not None:
            means = check_means(self.means_init, self.n_components, n_features)
        if self.precisions_init is not None:
            precisions = check_precisions(self.precisions_init, self.covariance_type,
                                          self.n_components, n_features)
        self.inits = (weights, means, precisions)
        self.data_dtype = np.dtype(data_dtype)
        self.dtype = compute_dtype(data_dtype, *(a.dtype for a in self.inits if a is not None))
        self.kernel_dtype = self.dtype

    def prepare(self, X, sample_weight, cache=None):
        """The scatter of all rows (tied only), computed once per fit -- or
        once for all the fits sharing ``cache`` (``fastem.select``)."""
        if self.covariance_type == "tied":
            self.tied = cached_scatter(X, sample_weight, "full", cache)

    # ---------------------------------------------------- initialisation

    def needs_responsibilities(self):
        return any(a is None for a in self.inits)

    def initial_estimate(self, X, source):
        stats, tied = self.initial_statistics(X, source)
        weights, means, covariances, _ = m_step(
            stats, self.covariance_type, self.reg_covar, self.data_dtype, tied=tied,
            weights_by="n_samples", every_row=source.every_row)
        return (weights, means, covariances), stats.nk

    def initial_params(self, estimate):
        weights_init, means_init, precisions_init = self.inits
        weights, means, covariances = estimate if estimate is not None else (None,) * 3
        if weights_init is not None:
            weights = np.asarray(weights_init, dtype=np.float64)
        if means_init is not None:
            means = np.asarray(means_init, dtype=np.float64)
        if precisions_init is None:
            prec_chol = precision_cholesky(covariances, self.covariance_type, self.data_dtype)
        else:
            prec_chol = precision_cholesky_from_precisions(precisions_init,
                                                           self.covariance_type)
            covariances = covariances_from_cholesky(prec_chol, self.covariance_type)
        return self._cast(weights, means, covariances, prec_chol, self.dtype)

    @staticmethod
    def _cast(weights, means, covariances, prec_chol, dtype, cov_dtype=None):
        cov_dtype = dtype if cov_dtype is None else cov_dtype
        return Params(
            np.asarray(weights, dtype=dtype),
            np.asarray(means, dtype=dtype),
            np.asarray(covariances, dtype=cov_dtype),
            np.asarray(prec_chol, dtype=cov_dtype),
        )

    # ----------------------------------------------------- passes, M-step

    def log_norm(self, params):
        """The kernel's per-component constants: log weight_k + log|det U_k|
        - d/2 log(2 pi), float64."""
        return log_norm(params, self.covariance_type)

    def m_step(self, stats):
        stats, tied = self.tied_view(stats)
        weights, means, covariances, loss = m_step(stats, self.covariance_type, self.reg_covar,
                                                   self.dtype, tied=tied)
        return (weights, means, covariances), loss

    def finish(self, estimate):
        weights, means, covariances = estimate
        prec_chol = precision_cholesky(covariances, self.covariance_type, self.dtype)
        # scikit-learn allocates full covariances in the data's dtype, even
        # when float64 initial parameters promote the rest of the model.
        cov_dtype = self.data_dtype if self.covariance_type == "full" else self.dtype
        return self._cast(weights, means, covariances, prec_chol, self.dtype, cov_dtype)

    def log_mass(self, params):
        return math.log(math.fsum(np.asarray(params.weights, dtype=np.float64)))

    # ------------------------------------------------------------- bound

    def bound(self, stats, e_step_params, params):
        # The E-step's mean log-likelihood, in the model's dtype (scikit-learn's).
        return (self.dtype.type(stats.sum_lpn / stats.n_samples),
                stats.sum_abs_lpn / stats.n_samples)

    def expected_log_joint(self, stats, params):
        stats, tied = self.tied_view(stats)
        return expected_log_density(stats, params.means, params.precisions_cholesky,
                                    self.cached_log_norm(params), self.covariance_type, tied)

    # ----------------------------------------------------------- re-seed

    def degenerate(self, estimate, nk):
        return degenerate_components(nk, estimate[2], self.covariance_type)

    def healthy(self, estimate, good):
        """``(family, params)``: the mixture of the ``good`` components alone."""
        weights, means, covariances = estimate
        healthy_cov = covariances if self.covariance_type == "tied" else covariances[good]
        family = GaussianFamily(len(good), self.covariance_type, self.reg_covar)
        return family, Params(weights[good] / np.sum(weights[good]), means[good], healthy_cov,
                              precision_cholesky(healthy_cov, self.covariance_type, self.dtype))

    def replace(self, estimate, bad, rows, nk):
        """Each ``bad`` component moves to one of ``rows`` with the healthy
        components' mean covariance and weight 1 / n_components (the
        weights renormalised)."""
        weights, means, covariances = estimate
        good = np.setdiff1d(np.arange(self.n_components), bad)
        means = np.array(means, dtype=np.float64)
        means[bad] = rows
        covariances = reseeded_covariances(covariances, self.covariance_type, nk, good, bad)
        weights = np.array(weights, dtype=np.float64)
        weights[bad] = 1.0 / self.n_components
        weights /= weights.sum()
        return weights, means, covariances

    # ------------------------------------------------------- fitted model

    def from_estimator(self, est):
        return Params(est.weights_, est.means_, est.covariances_, est.precisions_cholesky_)

    def from_sklearn(self, values):
        return Params(*values)


    def n_parameters(self, params):
        return n_parameters(self.covariance_type, self.n_components, params.means.shape[1])
