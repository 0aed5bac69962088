"""Gaussian-mixture model math on small arrays, and the passes over the data.

The kernels (``fastem.kernels``) reduce the data to sufficient statistics;
everything here works on those ``n_components x n_features^2``-sized
summaries: the M-step's closed forms, Cholesky factors of the precisions,
log-normalisers, and the exact slack that ``reg_covar`` gives the bound check.

The M-step follows scikit-learn's formulas exactly (``nk`` carries the same
``10 * eps`` guard, weights are ``nk / sum(nk)``, tied covariances subtract
``sum_k nk mu_k mu_k^T`` from the scatter of all rows), but every sum arrives
centred: around the current means for full/diag/spherical and around the data
mean for tied, accumulated in float64, so covariances do not lose their
digits to cancellation.
"""

import time
from typing import NamedTuple

import numpy as np
from scipy import linalg
from scipy.linalg import lapack

from . import kernels
from ._data import CHUNK_BYTES, chunk_rows, iter_chunks, kernel_array, n_partitions
from .kernels import BLOCK

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


class Params(NamedTuple):
    """The fitted parameters, in scikit-learn's shapes and in the model dtype."""

    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray
    precisions_cholesky: np.ndarray


class Stats(NamedTuple):
    """What one pass over the data returns, summed over chunks (float64)."""

    n_samples: float  # the number of rows, or the sum of their sample weights
    sum_lpn: float
    sum_abs_lpn: float
    nk: np.ndarray  # (K,) sum of responsibilities
    shift: np.ndarray  # (K, d) the point each component's sums are centred on
    sum_x: np.ndarray  # (K, d) sum r (x - shift)
    second: np.ndarray  # full (K, d, d) upper triangle; diag (K, d); tied (K, 0)


class TiedScatter(NamedTuple):
    """Scatter of all rows around their mean, computed once per fit (tied)."""

    n_samples: int
    center: np.ndarray
    scatter: np.ndarray


def compute_dtype(*dtypes):
    """float32 only when everything is float32 or narrower, like NumPy's promotion."""
    dtype = np.result_type(*dtypes)
    return np.dtype(np.float32) if dtype == np.float32 else np.dtype(np.float64)


# --------------------------------------------------------------------------
# Precisions and their Cholesky factors.


def ill_defined_message(dtype):
    msg = _ILL_DEFINED
    if np.dtype(dtype) == np.float32:
        msg += _ILL_DEFINED_FLOAT32
    return msg


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
        out[k] = np.tril(inverse) if lower else np.triu(inverse)
    return out


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
# Passes over the data.


def _empty_outputs(n_components, dtype):
    return (
        np.empty(0, dtype=dtype),
        np.empty((0, n_components), dtype=dtype),
        np.empty(0, dtype=np.int64),
    )


def _slice_outputs(outputs, empties, start, stop):
    return tuple(e if o is None else o[start:stop] for o, e in zip(outputs, empties))


def tied_center(params):
    """The shift tied passes centre rows on: the mixture's mean."""
    weights = np.asarray(params.weights, dtype=np.float64)
    return weights @ np.asarray(params.means, dtype=np.float64)


def pass_accumulators(n_samples, n_features, n_components, dtype, second, want_stats):
    """Zeroed per-partition accumulators for one pass of a Gaussian kernel:
    ``[ll, nk, sum_x]`` plus ``second`` ("full": ``(K, d, d)``, "diag":
    ``(K, d)``, None: no second moment, the tied kernel's).  Without
    ``want_stats`` the statistics' accumulators have no rows."""
    shape = {"full": (n_features, n_features), "diag": (n_features,), None: None}[second]
    stat_elems = n_components * (1 + n_features + (int(np.prod(shape)) if shape else 0))
    P = n_partitions(n_samples, n_features, dtype, stat_elems)
    Ps = P if want_stats else 0
    accs = [np.zeros((P, 2)), np.zeros((Ps, n_components)),
            np.zeros((Ps, n_components, n_features))]
    if shape is not None:
        accs.append(np.zeros((Ps, n_components) + shape))
    return accs


def reduce_partitions(accs):
    """Sum each accumulator over its partitions (a reduction over the leading
    axis: NumPy adds the partitions one after another, elementwise)."""
    return [np.add.reduce(acc, axis=0) for acc in accs]


def weight_chunk(sample_weight, start, stop, dtype):
    """The kernel's ``sample_weight`` for rows start:stop: empty for unit
    weights, else that slice, kernel-ready, in the data's dtype."""
    if sample_weight is None:
        return np.empty(0, dtype=dtype)
    return kernel_array(sample_weight[start:stop], dtype)


def total_weight(n_samples, sample_weight):
    """The number of rows, or the sum of the sample weights (float64)."""
    if sample_weight is None:
        return n_samples
    return float(np.sum(sample_weight, dtype=np.float64))


class _Plan(NamedTuple):
    """One kernel pass, ready to be fed chunks: ``run(chunk, sw, outs)``
    adds a chunk into ``accs``; ``finish(total)`` turns them into ``Stats``
    (``total``: the number of rows, or the weights' sum)."""

    dtype: np.dtype
    run: object
    accs: list
    shift: np.ndarray
    covariance_type: str
    n_components: int

    def finish(self, total):
        totals = reduce_partitions(self.accs)
        if self.covariance_type == "tied":
            totals.append(np.empty((self.n_components, 0)))
        (sum_lpn, sum_abs), nk, sum_x, second = totals
        return Stats(total, float(sum_lpn), float(sum_abs), nk,
                     np.asarray(self.shift, np.float64), sum_x, second)


def _plan(X, params, covariance_type, want_stats):
    n_samples, n_features = X.shape
    n_components = params.means.shape[0]
    dtype = compute_dtype(X.dtype, params.means.dtype)
    segment = chunk_rows(n_features, dtype)
    lnorm = log_norm(params, covariance_type)
    means = kernel_array(params.means, dtype)
    prec_chol = np.asarray(params.precisions_cholesky)
    no_resp = np.empty((0, n_components))
    if covariance_type == "full":
        prec = kernel_array(prec_chol, dtype)
        accs = pass_accumulators(n_samples, n_features, n_components, dtype, "full", want_stats)

        def run(chunk, sw, outs):
            kernels.full_pass(chunk, means, prec, lnorm, no_resp, sw, *outs, segment, *accs)

        shift = means
    elif covariance_type == "tied":
        # The kernel subtracts the centre in the compute dtype; build the
        # transformed means from that same rounded centre.
        center = kernel_array(tied_center(params), dtype)
        prec64 = np.asarray(prec_chol, dtype=np.float64)
        means_t = kernel_array((params.means - center.astype(np.float64)) @ prec64, dtype)
        prec = kernel_array(prec_chol, dtype)
        accs = pass_accumulators(n_samples, n_features, n_components, dtype, None, want_stats)

        def run(chunk, sw, outs):
            kernels.tied_pass(chunk, center, prec, means_t, lnorm, sw, *outs, segment, *accs)

        # The kernel's first moments are centred on the (rounded) centre.
        shift = np.broadcast_to(center.astype(np.float64), (n_components, n_features))
    else:
        spherical = covariance_type == "spherical"
        prec = kernel_array(
            np.broadcast_to(prec_chol.reshape(n_components, -1), (n_components, n_features)),
            dtype,
        )
        accs = pass_accumulators(n_samples, n_features, n_components, dtype, "diag", want_stats)

        def run(chunk, sw, outs):
            kernels.diag_pass(chunk, means, prec, lnorm, no_resp, sw, *outs, spherical, segment,
                              *accs)

        shift = means
    return _Plan(dtype, run, accs, shift, covariance_type, n_components)


def gaussian_pass(X, params, covariance_type, *, want_stats, out_lpn=None, out_resp=None,
                  out_label=None, sample_weight=None):
    """One pass over X through the family's fused kernel.

    Writes the per-row outputs that are given (arrays of the compute dtype
    and of X's length) and returns ``Stats`` (its statistics are all zero
    unless ``want_stats``).  ``sample_weight`` (None, or n_samples
    non-negative floats) weighs each row's log-likelihood and
    responsibilities in the sums; ``Stats.n_samples`` is then their total.
    """
    distributed = getattr(X, "distributed_pass", None)
    if distributed is not None and out_lpn is None and out_resp is None and out_label is None:
        # a DaskSource
        return distributed(params, covariance_type, want_stats, sample_weight)
    plan = _plan(X, params, covariance_type, want_stats)
    dtype = plan.dtype
    empties = _empty_outputs(plan.n_components, dtype)
    outputs = (out_lpn, out_resp, out_label)
    for start, stop, chunk in iter_chunks(X, dtype, whole=True):
        outs = _slice_outputs(outputs, empties, start, stop)
        plan.run(chunk, weight_chunk(sample_weight, start, stop, dtype), outs)
        # A row with no finite log-density makes the log-likelihood sum -inf:
        # only then are this chunk's outputs scanned for it.
        if (out_resp is not None or out_label is not None) and not np.isfinite(
                plan.accs[0][:, 0].sum()):
            _repair_far_rows(chunk, params, covariance_type, outs[1], outs[2])
    return plan.finish(total_weight(X.shape[0], sample_weight))


def gaussian_passes(X, requests, sample_weight=None, want_stats=True, seconds=None):
    """``Stats`` of several passes -- ``requests`` of ``(params,
    covariance_type)`` -- from one read of X: each chunk goes through every
    request's kernel before the next chunk is read.  Each result has the
    same bits as its own ``gaussian_pass``.  ``seconds``: a list to which
    each request's kernel time is added."""
    seconds = [0.0] * len(requests) if seconds is None else seconds
    if hasattr(X, "distributed_pass"):
        out = []
        for i, (p, c) in enumerate(requests):
            started = time.perf_counter()
            out.append(gaussian_pass(X, p, c, want_stats=want_stats,
                                     sample_weight=sample_weight))
            seconds[i] += time.perf_counter() - started
        return out
    plans = [_plan(X, p, c, want_stats) for p, c in requests]
    for dtype in {plan.dtype for plan in plans}:
        group = [(i, plan) for i, plan in enumerate(plans) if plan.dtype == dtype]
        for start, stop, chunk in iter_chunks(X, dtype, whole=True):
            sw = weight_chunk(sample_weight, start, stop, dtype)
            for i, plan in group:
                started = time.perf_counter()
                plan.run(chunk, sw, _empty_outputs(plan.n_components, dtype))
                seconds[i] += time.perf_counter() - started
    total = total_weight(X.shape[0], sample_weight)  # once for every plan
    return [plan.finish(total) for plan in plans]


def _repair_far_rows(chunk, params, covariance_type, out_resp, out_label):
    """Responsibilities and labels of rows whose every log-density is -inf.

    A row so far from every component that its squared distances overflow
    gets NaN responsibilities and label -1 from the kernel (scikit-learn
    returns NaN and label 0).  Its posterior has a limit all the same (see
    ``far_rows_posterior``).  Found by a scan of the outputs, run only when
    the pass's log-likelihood sum says there is such a row."""
    bad = np.zeros(chunk.shape[0], dtype=bool)
    if out_label.shape[0]:
        bad |= out_label < 0
    if out_resp.shape[0]:
        bad |= np.isnan(out_resp[:, 0])
    if not bad.any():
        return
    rows = np.flatnonzero(bad)
    resp = far_rows_posterior(chunk[rows], params, covariance_type)
    if out_resp.shape[0]:
        out_resp[rows] = resp
    if out_label.shape[0]:
        out_label[rows] = np.argmax(resp, axis=1)


def far_rows_posterior(rows, params, covariance_type):
    """Posterior responsibilities (float64) of rows far from every component.

    With ``a`` a power of two near the row's magnitude (so ``x / a`` is exact
    and of order 1), ``y_k = (x / a) U_k`` and ``m_k = mu_k U_k``, the squared
    distance is ``a^2 |y_k|^2 - 2 a y_k.m_k + |m_k|^2``: three terms of very
    different size, none of which overflows on its own.  The log-densities
    are compared with a reference component ``r`` (the smallest ``|y|^2``,
    then the largest ``y.m``), term by term, so that equal leading terms
    cancel exactly (a tied or spherical model, where only the linear term
    tells the components apart) and an overflowing one gives exp(-inf) = 0.
    """
    rows = np.asarray(rows, dtype=np.float64)
    means = np.asarray(params.means, dtype=np.float64)
    chol = np.asarray(params.precisions_cholesky, dtype=np.float64)
    n_components = means.shape[0]
    lnorm = log_norm(params, covariance_type)
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


def resp_stats(X, resp_chunk, shift, second_moment, sample_weight=None):
    """Statistics of X under given responsibilities, centred on ``shift``.

    ``resp_chunk(start, stop)`` returns the float64 responsibilities of those
    rows, so a caller never has to hold an ``n_samples x n_components``
    array.  ``second_moment`` is "full" (``(K, d, d)`` upper triangle) or
    "diag" (``(K, d)``).  With ``sample_weight``, row i's responsibilities
    count w_i times and ``n_samples`` is the weights' total.
    """
    n_samples, n_features = X.shape
    n_components = shift.shape[0]
    dtype = compute_dtype(X.dtype)
    shift_t = kernel_array(shift, dtype)
    lnorm = np.zeros(n_components)
    empties = _empty_outputs(n_components, dtype)
    accs = pass_accumulators(n_samples, n_features, n_components, dtype, second_moment, True)
    if second_moment == "full":
        dummy_prec = np.empty((n_components, 0, 0), dtype=dtype)

        def run(part, resp, sw, segment):
            kernels.full_pass(part, shift_t, dummy_prec, lnorm, resp, sw, *empties, segment,
                              *accs)
    else:
        dummy_prec = np.empty((n_components, 0), dtype=dtype)

        def run(part, resp, sw, segment):
            kernels.diag_pass(part, shift_t, dummy_prec, lnorm, resp, sw, *empties, False,
                              segment, *accs)

    # Responsibilities are made a slice at a time, each at most about one
    # chunk's worth of bytes, however few features a row has; each slice is
    # one segment of its call.
    step = max(BLOCK, CHUNK_BYTES // (8 * n_components) // BLOCK * BLOCK)
    for start, stop, chunk in iter_chunks(X, dtype):
        for lo in range(start, stop, step):
            hi = min(lo + step, stop)
            resp = kernel_array(resp_chunk(lo, hi), np.float64)
            run(chunk[lo - start : hi - start], resp,
                weight_chunk(sample_weight, lo, hi, dtype), hi - lo)
    _, nk, sum_x, second = reduce_partitions(accs)
    # Report the shift the kernel really used: rounded to the data's dtype.
    return Stats(total_weight(n_samples, sample_weight), 0.0, 0.0, nk,
                 shift_t.astype(np.float64), sum_x, second)


def _mean_and_scatter(X, shift, second_moment, sample_weight):
    distributed = getattr(X, "distributed_moments", None)
    if distributed is not None:
        return distributed(shift, second_moment, sample_weight)  # a DaskSource
    ones = lambda start, stop: np.ones((stop - start, 1))  # noqa: E731
    return resp_stats(X, ones, shift, second_moment, sample_weight)


def tied_scatter(X, sample_weight=None):
    """Scatter of all rows around their mean (both weighted by
    ``sample_weight``): two passes, once per fit."""
    n_features = X.shape[1]
    first = _mean_and_scatter(X, np.zeros((1, n_features)), "diag", sample_weight)
    total = first.n_samples
    center = first.sum_x[0] / total
    second = _mean_and_scatter(X, center[None, :], "full", sample_weight)
    scatter = _symmetrize(second.second)[0]
    # The rounded mean leaves sum(x - center) slightly off zero: move the
    # centre onto the exact mean of the rows and correct the scatter for it.
    residual = second.sum_x[0]
    scatter -= np.outer(residual, residual) / total
    return TiedScatter(total, second.shift[0] + residual / total, scatter)


def _symmetrize(upper):
    """Fill the lower triangles of a stack of upper-triangular-filled matrices."""
    lower = np.tril(np.swapaxes(upper, -1, -2), -1)
    return np.triu(upper) + lower


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
    eps = np.finfo(dtype).eps
    r = stats.nk
    nk = r + 10 * eps
    sum_rx = stats.sum_x + r[:, None] * stats.shift
    means = sum_rx / nk[:, None]
    delta = means - stats.shift
    if covariance_type == "full":
        second = _symmetrize(stats.second)
        sx_delta = stats.sum_x[:, :, None] * delta[:, None, :]
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
        var = (stats.second - 2.0 * delta * stats.sum_x + r[:, None] * delta**2) / nk[:, None]
        if covariance_type == "diag":
            loss = _reg_loss_eigen(var, r, reg_covar)
            covariances = var + reg_covar
        else:
            sph = var.mean(axis=1)
            n_features = var.shape[1]
            loss = n_features * _reg_loss_eigen(sph[:, None], r, reg_covar)
            covariances = sph + reg_covar
    if weights_by == "n_samples":
        weights = nk / stats.n_samples
    else:
        weights = nk / nk.sum()
    return weights, means, covariances, loss


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
