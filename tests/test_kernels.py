"""Every kernel against the plain-NumPy reference in naive.py."""

import numpy as np
import pytest

import naive
from conftest import COVARIANCE_TYPES, random_params
from fastem import kernels
from fastem.data.chunks import chunk_rows
from fastem.engine.passes import accumulators, reduce_partitions


def pass_accumulators(n, d, K, dtype, second, want_stats):
    """Zeroed per-partition accumulators ``[ll (P, 2), nk, sum_x[, second]]``
    for one pass (``second``: "full", "diag" or None), as the engine makes
    them."""
    class Shapes:
        pass
    plan = Shapes()
    plan.n_components, plan.n_features, plan.dtype, plan.want_stats = K, d, dtype, want_stats
    plan.stat_shapes = [(K, d)] + {"full": [(K, d, d)], "diag": [(K, d)], None: []}[second]
    return accumulators(plan, n)

SIZES = [1, 7, 255, 256, 257, 3000, 70_001]
TOL = {np.float64: dict(rtol=1e-10, atol=1e-10), np.float32: dict(rtol=1e-4, atol=1e-4)}


def log_norm(weights, prec_chol, covariance_type, d, K):
    with np.errstate(divide="ignore"):  # a zero weight: log 0 = -inf, on purpose
        w = np.log(weights.astype(np.float64))
    U = prec_chol.astype(np.float64)
    if covariance_type == "full":
        ld = np.log(np.diagonal(U, axis1=1, axis2=2)).sum(1)
    elif covariance_type == "tied":
        ld = np.full(K, np.log(np.diag(U)).sum())
    elif covariance_type == "diag":
        ld = np.log(U).sum(1)
    else:
        ld = d * np.log(U)
    return np.ascontiguousarray(w + ld - 0.5 * d * np.log(2 * np.pi))


def call_kernel(X, covariance_type, args, outs, resp_in, segment_rows, accs, pieces=1,
                sample_weight=None):
    """Run the family's kernel over X, fed as ``pieces`` calls of whole
    segments each (as the API feeds copies of a non-contiguous input)."""
    sw = np.empty(0, X.dtype) if sample_weight is None else sample_weight
    n = X.shape[0]
    n_segments = -(-n // segment_rows)
    step = max(1, -(-n_segments // pieces)) * segment_rows
    for lo in range(0, max(n, 1), step):
        hi = min(lo + step, n)
        cut = tuple(o[lo:hi] if o.shape[0] else o for o in outs)
        part_resp = resp_in[lo:hi] if resp_in.shape[0] else resp_in
        part_sw = sw[lo:hi] if sw.shape[0] else sw
        if covariance_type == "full":
            kernels.full_pass(X[lo:hi], *args, part_resp, part_sw, *cut, segment_rows, *accs)
        elif covariance_type == "tied":
            kernels.tied_pass(X[lo:hi], *args, part_sw, *cut, segment_rows, *accs)
        else:
            kernels.diag_pass(X[lo:hi], *args, part_resp, part_sw, *cut,
                              covariance_type == "spherical", segment_rows, *accs)


def run_kernel(X, params, covariance_type, resp_in=None, outputs=True, want_stats=True,
               segment_rows=None, pieces=1, sample_weight=None):
    """The kernel's results as ``(sum_lpn, sum_abs_lpn, nk, sum_x[, second][,
    center])`` and its per-row outputs."""
    weights, means, chol = params
    n, d = X.shape
    K = means.shape[0]
    dtype = X.dtype
    lnorm = log_norm(weights, chol, covariance_type, d, K)
    out_lpn = np.full(n, np.nan, dtype)
    out_resp = np.full((n, K), np.nan, dtype)
    out_label = np.full(n, -1, np.int64)
    outs = (out_lpn, out_resp, out_label) if outputs else (
        np.empty(0, dtype), np.empty((0, K), dtype), np.empty(0, np.int64))
    resp_in = np.empty((0, K)) if resp_in is None else resp_in
    segment_rows = chunk_rows(d, dtype) if segment_rows is None else segment_rows
    second = {"full": "full", "tied": None}.get(covariance_type, "diag")
    accs = pass_accumulators(n, d, K, dtype, second, want_stats)
    if covariance_type == "full":
        args = (means, chol, lnorm)
    elif covariance_type == "tied":
        center = np.ascontiguousarray(X.mean(0) if n else np.zeros(d), dtype=dtype)
        means_t = np.ascontiguousarray(
            (means.astype(np.float64) - center) @ chol.astype(np.float64), dtype=dtype)
        args = (center, chol, means_t, lnorm)
    else:
        prec = chol if covariance_type == "diag" else np.repeat(chol[:, None], d, axis=1)
        args = (means, np.ascontiguousarray(prec), lnorm)
    call_kernel(X, covariance_type, args, outs, resp_in, segment_rows, accs, pieces,
                sample_weight)
    (sum_lpn, sum_abs), *stats = reduce_partitions(accs)
    res = (sum_lpn, sum_abs, *stats)
    if covariance_type == "tied":
        res = res + (center,)
    return res, out_lpn, out_resp, out_label


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("d", [3, 8, 33])  # full: loop, BLAS bands, uneven BLAS bands
def test_e_step_matches_reference(covariance_type, dtype, n, d):
    K = 4
    params = random_params(covariance_type, K, d, seed=n, dtype=dtype)
    X = np.random.default_rng(n).normal(scale=2.0, size=(n, d)).astype(dtype)
    res, lpn, resp, label = run_kernel(X, params, covariance_type)

    wlp = naive.weighted_log_prob(X, *params, covariance_type)
    ref_lpn, ref_resp = naive.log_prob_and_resp(wlp)
    tol = TOL[dtype]
    np.testing.assert_allclose(lpn, ref_lpn, **tol)
    np.testing.assert_allclose(resp, ref_resp, **tol)
    # Labels: argmax of the weighted log-density, unless two are within rounding.
    top2 = np.sort(wlp, axis=1)[:, -2:] if K > 1 else None
    clear = (top2[:, 1] - top2[:, 0]) > 1e-3
    np.testing.assert_array_equal(label[clear], wlp.argmax(1)[clear])
    np.testing.assert_allclose(res[0], ref_lpn.sum(), rtol=tol["rtol"])
    np.testing.assert_allclose(res[1], np.abs(ref_lpn).sum(), rtol=tol["rtol"])

    # Statistics of the E-step, centred on the means (tied: on the centre).
    means = params[1].astype(np.float64)
    if covariance_type == "tied":
        shift = np.broadcast_to(res[-1].astype(np.float64), means.shape)
    else:
        shift = means
    nk, sum_x, sum_xxT, sum_sq = naive.sufficient_stats(X, ref_resp, shift)
    stat_tol = dict(rtol=tol["rtol"], atol=tol["atol"] * max(n, 1))
    np.testing.assert_allclose(res[2], nk, **stat_tol)
    np.testing.assert_allclose(res[3], sum_x, **stat_tol)
    for r in res[2:4] if covariance_type == "tied" else res[2:5]:
        assert r.dtype == np.float64
    if covariance_type == "full":
        iu = np.triu_indices(d)
        np.testing.assert_allclose(res[4][:, iu[0], iu[1]], sum_xxT[:, iu[0], iu[1]], **stat_tol)
    elif covariance_type == "diag":
        np.testing.assert_allclose(res[4], sum_sq, **stat_tol)
    elif covariance_type == "spherical":
        # Only the total over features is computed, spread evenly.
        np.testing.assert_allclose(res[4].sum(1), sum_sq.sum(1), **stat_tol)
        np.testing.assert_allclose(res[4], res[4][:, :1] * np.ones(d), rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("second", ["full", "diag"])
@pytest.mark.parametrize("n", [5, 256, 3001])
@pytest.mark.parametrize("d", [4, 33])  # full: scatter by loops, by BLAS bands
def test_given_responsibilities(second, dtype, n, d):
    """With resp_in, the kernels only accumulate statistics around the shift."""
    K = 3
    rng = np.random.default_rng(1)
    X = rng.normal(size=(n, d)).astype(dtype)
    resp = rng.uniform(size=(n, K))
    resp[rng.uniform(size=n) < 0.3] = 0.0  # rows that belong to no component
    shift = np.ascontiguousarray(rng.normal(size=(K, d)), dtype=dtype)
    empties = (np.empty(0, dtype), np.empty((0, K), dtype), np.empty(0, np.int64))
    accs = pass_accumulators(n, d, K, dtype, second, True)
    dummy_prec = np.empty((K, 0, 0) if second == "full" else (K, 0), dtype)
    # Segments of 512 rows: 3001 rows take six, the last one short.
    call_kernel(X, second, (shift, dummy_prec, np.zeros(K)), empties, resp, 512, accs)
    res = reduce_partitions(accs)
    nk, sum_x, sum_xxT, sum_sq = naive.sufficient_stats(X, resp, shift.astype(np.float64))
    # float32 data: responsibilities, differences and 256-row partial sums in
    # float32, the totals in float64, so the error does not grow with n.
    tol = dict(rtol=1e-10, atol=1e-9) if dtype == np.float64 else dict(rtol=1e-5, atol=1e-4)
    assert np.all(res[0] == 0.0)
    np.testing.assert_allclose(res[1], nk, **tol)
    np.testing.assert_allclose(res[2], sum_x, **tol)
    if second == "full":
        iu = np.triu_indices(d)
        np.testing.assert_allclose(res[3][:, iu[0], iu[1]], sum_xxT[:, iu[0], iu[1]], **tol)
    else:
        np.testing.assert_allclose(res[3], sum_sq, **tol)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_outputs_and_stats_are_optional(covariance_type):
    X = np.random.default_rng(2).normal(size=(1000, 2))
    params = random_params(covariance_type, 3, 2)
    full, *_ = run_kernel(X, params, covariance_type)
    bare, lpn, resp, label = run_kernel(X, params, covariance_type, outputs=False,
                                        want_stats=False)
    assert bare[0] == full[0] and bare[1] == full[1]
    assert not bare[2].any() and not bare[3].any()
    assert np.isnan(lpn).all() and (label == -1).all()


def test_zero_weight_component_gives_no_nan():
    """log w = -inf for one component: its responsibility is 0, never NaN.

    This is the case all-flags fastmath breaks (it assumes no infinities)."""
    X = np.random.default_rng(3).normal(size=(500, 2))
    weights, means, chol = random_params("full", 3, 2)
    weights = np.array([0.0, 0.4, 0.6])
    res, lpn, resp, label = run_kernel(X, (weights, means, chol), "full")
    assert np.all(np.isfinite(lpn)) and np.all(np.isfinite(resp))
    assert np.all(resp[:, 0] == 0.0) and np.all(label != 0)
    ref_lpn, _ = naive.log_prob_and_resp(naive.weighted_log_prob(X, weights, means, chol, "full"))
    np.testing.assert_allclose(lpn, ref_lpn, rtol=1e-10)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_far_away_points_do_not_underflow(covariance_type):
    """A row far from every component: densities underflow, log-sum-exp does not."""
    params = random_params(covariance_type, 3, 2)
    X = np.array([[1e3, -1e3], [0.0, 0.0], [-5e2, 7e2]])
    _, lpn, resp, _ = run_kernel(X, params, covariance_type)
    ref_lpn, ref_resp = naive.log_prob_and_resp(naive.weighted_log_prob(X, *params, covariance_type))
    np.testing.assert_allclose(lpn, ref_lpn, rtol=1e-10)
    np.testing.assert_allclose(resp, ref_resp, atol=1e-10)
    np.testing.assert_allclose(resp.sum(1), 1.0, rtol=1e-12)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_thread_count_does_not_change_bits(covariance_type):
    numba = pytest.importorskip("numba")
    X = np.random.default_rng(4).normal(size=(40_000, 3))
    params = random_params(covariance_type, 4, 3)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = run_kernel(X, params, covariance_type)
        numba.set_num_threads(before)
        many = run_kernel(X, params, covariance_type)
    finally:
        numba.set_num_threads(before)
    for a, b in zip(one[0], many[0]):
        assert np.asarray(a).tobytes() == np.asarray(b).tobytes()
    for a, b in zip(one[1:], many[1:]):
        assert a.tobytes() == b.tobytes()


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("n", [1000, 3000])
def test_segments_fed_in_pieces_give_the_same_bits(covariance_type, n):
    """Several calls of whole segments each (the API's path for copied input)
    add into the same accumulators exactly as one call over all rows; short
    segments still match the reference."""
    params = random_params(covariance_type, 3, 5, seed=8)
    X = np.random.default_rng(8).normal(size=(n, 5))
    one = run_kernel(X, params, covariance_type, segment_rows=512)
    pieces = run_kernel(X, params, covariance_type, segment_rows=512, pieces=3)
    for a, b in zip(one[0], pieces[0]):
        assert np.asarray(a).tobytes() == np.asarray(b).tobytes()
    for a, b in zip(one[1:], pieces[1:]):
        assert a.tobytes() == b.tobytes()
    ref_lpn, _ = naive.log_prob_and_resp(naive.weighted_log_prob(X, *params, covariance_type))
    np.testing.assert_allclose(one[1], ref_lpn, rtol=1e-10)
    whole = run_kernel(X, params, covariance_type)
    np.testing.assert_allclose(one[0][2], whole[0][2], rtol=1e-12)


def test_row_with_every_component_at_minus_infinity():
    """log-sum-exp of all -inf is -inf (scipy's answer), responsibilities NaN
    (scikit-learn's), and the other rows are untouched."""
    X = np.random.default_rng(5).normal(size=(300, 2))
    weights, means, chol = random_params("diag", 2, 2)
    lnorm = np.array([-np.inf, -np.inf])
    K = 2
    out_lpn, out_resp = np.empty(300), np.empty((300, K))
    accs = pass_accumulators(300, 2, K, X.dtype, "diag", False)
    kernels.diag_pass(X, means, chol, lnorm, np.empty((0, K)), np.empty(0), out_lpn, out_resp,
                      np.empty(300, np.int64), False, 512, *accs)
    assert np.all(out_lpn == -np.inf)
    assert np.all(np.isnan(out_resp))


def test_negligible_components_get_exact_zeros():
    """Terms below exp(EXP_CUTOFF) < 2**-54 of the largest are exactly 0: they
    cannot change the row's sum, and exp is never evaluated deep in underflow."""
    from fastem.kernels._posterior import EXP_CUTOFF

    params = random_params("diag", 3, 2)
    X = np.array([[0.0, 0.0], [40.0, -40.0], [2.0, 1.0]])
    _, lpn, resp, _ = run_kernel(X, params, "diag")
    wlp = naive.weighted_log_prob(X, *params, "diag")
    ref_lpn, ref_resp = naive.log_prob_and_resp(wlp)
    np.testing.assert_allclose(lpn, ref_lpn, rtol=1e-12)
    tiny = (wlp - wlp.max(axis=1, keepdims=True)) <= EXP_CUTOFF
    assert tiny.any()
    assert np.all(resp[tiny] == 0.0)
    np.testing.assert_allclose(resp[~tiny], ref_resp[~tiny], rtol=1e-10, atol=1e-300)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_vectorisable_exp_is_within_a_few_ulp_of_libm(dtype):
    from numba import njit

    from fastem.kernels._posterior import exp_cutoff, exp_split, int_view

    @njit
    def apply(t):
        out = np.empty_like(t)
        scale = np.empty_like(t)
        bits = int_view(scale)
        for i in range(t.size):
            p, bits[i] = exp_split(t[i])
            out[i] = p
        return out * scale

    @njit
    def cutoff(t):
        return exp_cutoff(t[0])

    lo = float(cutoff(np.zeros(1, dtype)))
    assert np.exp(lo) < np.finfo(dtype).eps / 2
    rng = np.random.default_rng(6)
    t = np.concatenate([np.linspace(lo, 0.0, 200_001), -rng.uniform(0, -lo, 100_000),
                        [0.0, -0.0, lo, -np.log(2) / 2, np.log(2) / 2 - 1]]).astype(dtype)
    ref = np.exp(t.astype(np.float64)).astype(dtype)
    got = apply(t)
    assert got.dtype == dtype
    ulps = np.abs(got.astype(np.float64) - ref) / np.spacing(ref)
    assert ulps.max() <= 4
    assert apply(np.array([0.0], dtype))[0] == 1.0


def test_vectorisable_log_is_within_two_ulp_of_libm():
    from fastem.kernels._posterior import log_block as _log_block

    rng = np.random.default_rng(7)
    sqrt2 = np.sqrt(2.0)
    x = np.concatenate([
        rng.uniform(1.0, 2.0, 100_000),  # a row's sum of exponentials: [1, K]
        rng.uniform(1.0, 64.0, 100_000),
        np.exp(rng.uniform(-700, 700, 100_000)),  # any positive normal number
        [1.0, np.nextafter(1.0, 2.0), np.nextafter(1.0, 0.0), sqrt2, np.nextafter(sqrt2, 0.0),
         np.nextafter(sqrt2, 2.0), 2.0, 0.5, 3.0, 1024.0, np.finfo(np.float64).tiny,
         np.finfo(np.float64).max],
    ])
    got = x.copy()
    _log_block(got, got.size, np.empty_like(got))
    ref = np.log(x)
    ulps = np.abs(got - ref) / np.spacing(np.maximum(np.abs(ref), np.finfo(np.float64).tiny))
    assert ulps.max() <= 2
    assert got[np.flatnonzero(x == 1.0)].tolist() == [0.0]
    # nb bounds the work: entries past it are untouched.
    part = x[:10].copy()
    _log_block(part, 4, np.empty(10))
    np.testing.assert_array_equal(part[4:], x[4:10])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("n", [7, 3000])
@pytest.mark.parametrize("d", [3, 33])
def test_sample_weights_weigh_sums_not_rows(covariance_type, dtype, n, d):
    """With sample weights the sums are sum_i w_i lpn_i and sum_i w_i r_ik
    (..): the NumPy reference's with responsibilities times w; the per-row
    outputs are the unweighted ones; a weight of 0 takes a row out even when
    its log-likelihood is -inf."""
    K = 3
    params = random_params(covariance_type, K, d, seed=n, dtype=dtype)
    rng = np.random.default_rng(n + d)
    X = rng.normal(scale=2.0, size=(n, d)).astype(dtype)
    w = rng.integers(0, 4, n).astype(dtype)
    res, lpn, resp, label = run_kernel(X, params, covariance_type, sample_weight=w)
    plain, lpn0, resp0, label0 = run_kernel(X, params, covariance_type)
    np.testing.assert_array_equal(lpn, lpn0)
    np.testing.assert_array_equal(resp, resp0)
    np.testing.assert_array_equal(label, label0)

    wlp = naive.weighted_log_prob(X, *params, covariance_type)
    ref_lpn, ref_resp = naive.log_prob_and_resp(wlp)
    tol = TOL[dtype]
    w64 = w.astype(np.float64)
    np.testing.assert_allclose(res[0], w64 @ ref_lpn, rtol=tol["rtol"])
    np.testing.assert_allclose(res[1], w64 @ np.abs(ref_lpn), rtol=tol["rtol"])
    means = params[1].astype(np.float64)
    shift = np.broadcast_to(res[-1].astype(np.float64), means.shape) \
        if covariance_type == "tied" else means
    nk, sum_x, sum_xxT, sum_sq = naive.sufficient_stats(X, ref_resp * w64[:, None], shift)
    stat_tol = dict(rtol=tol["rtol"], atol=tol["atol"] * 4 * n)
    np.testing.assert_allclose(res[2], nk, **stat_tol)
    np.testing.assert_allclose(res[3], sum_x, **stat_tol)
    if covariance_type == "full":
        iu = np.triu_indices(d)
        np.testing.assert_allclose(res[4][:, iu[0], iu[1]], sum_xxT[:, iu[0], iu[1]], **stat_tol)
    elif covariance_type == "diag":
        np.testing.assert_allclose(res[4], sum_sq, **stat_tol)


def test_a_zero_weight_row_at_minus_infinity_adds_nothing():
    X = np.random.default_rng(1).normal(size=(300, 2))
    weights, means, chol = random_params("diag", 2, 2)
    K = 2
    lnorm = np.zeros(K)
    lnorm[:] = -np.inf  # every row -inf: NaN responsibilities
    w = np.zeros(300)
    accs = pass_accumulators(300, 2, K, X.dtype, "diag", True)
    kernels.diag_pass(X, means, chol, lnorm, np.empty((0, K)), w, np.empty(0), np.empty((0, K)),
                      np.empty(0, np.int64), False, 512, *accs)
    (sum_lpn, sum_abs), nk, sum_x, sum_sq = reduce_partitions(accs)
    assert sum_lpn == 0.0 and sum_abs == 0.0
    assert np.all(nk == 0) and np.all(sum_x == 0) and np.all(sum_sq == 0)
