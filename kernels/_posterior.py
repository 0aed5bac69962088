"""Posterior blocks shared by every family's kernel: log-sum-exp, responsibilities,
labels, per-row outputs and weighting.

A family's kernel writes each block's weighted log-densities
``logp[k, b] = log weight_k + log p(x_b | component k)`` (in the data's
dtype) and calls ``posterior_block``, which turns them, in place, into the
responsibilities and adds the block's ``sum_i w_i lpn_i`` and ``sum_i w_i
|lpn_i|`` into the partition's ``ll`` (``lpn``: the row's log-likelihood,
float64).  Nothing else of the posterior is summed here: the bound's other
terms are closed forms of the statistics (``fastem.engine.bound``).

``sample_weight``
    ``(0,)`` for unit weights, or ``(n_samples,)`` of the data's dtype: row
    i's sums and responsibilities count ``w_i`` times (a row of weight 0
    adds exactly nothing); the per-row outputs are not weighted.
``out_lpn, out_resp, out_label``
    Per-row outputs: log-likelihood, responsibilities, argmax of the weighted
    log-density.  Pass an empty array to skip one.
"""

import numpy as np
from numba import types
from numba.extending import overload

from ._blocks import load_block, typed_zero
from ._config import BLOCK, JIT_OPTIONS, helper

#: Below these, exp(t) < eps / 2: the term vanishes when added to 1.
EXP_CUTOFF = -38.0
EXP_CUTOFF32 = -18.0

_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01  # ln 2 split so that n * _LN2_HI is exact
_LN2_LO = 1.90821492927058770002e-10
_SQRT2 = 1.4142135623730951
_MANTISSA_BITS = (1 << 52) - 1
_EXPONENT_OF_ONE = 1023 << 52
_LN2_HI32 = np.float32(0.693359375)  # 8 significant bits: n * _LN2_HI32 is exact
_LN2_LO32 = np.float32(-2.12194440e-4)


def exp_split(t):
    """exp(t) = p * 2**n for cutoff <= t <= 0 (see ``exp_cutoff``): returns
    ``(p, bits)``, p in t's precision and ``bits`` the integer whose bits,
    read as t's float type, are 2**n (see ``int_view``).  This plain-Python
    version (``NUMBA_DISABLE_JIT=1``), where ``int_view`` is the identity,
    gives ``(exp(t), 1.0)``: n = 0."""
    return np.exp(t), 1.0


def exp_cutoff(t):
    """The most negative argument ``exp_split`` takes for t's type."""
    return EXP_CUTOFF


def int_view(a):
    """A float array's memory as the signed integers of the same width."""
    return a


@overload(exp_split, inline="always", jit_options=JIT_OPTIONS)
def _exp_split_impl(t):
    """t = n ln2 + r with |r| <= ln2 / 2; e^r by its Taylor polynomial (degree
    13 for float64, 7 for float32: truncation < 0.1 ulp) and 2**n as the
    float whose exponent field is n.  Plain arithmetic, so a loop of these
    vectorises (a table lookup of 2**n would be a gather, which is slow),
    where libm's exp is a scalar call per element; within about one ulp of
    libm's."""
    if t == types.float32:
        def exp32(t):
            n = np.rint(t * np.float32(_LOG2E))
            r = (t - n * _LN2_HI32) - n * _LN2_LO32
            p = np.float32(1.0 / 5040.0)
            p = p * r + np.float32(1.0 / 720.0)
            p = p * r + np.float32(1.0 / 120.0)
            p = p * r + np.float32(1.0 / 24.0)
            p = p * r + np.float32(1.0 / 6.0)
            p = p * r + np.float32(0.5)
            p = p * r + np.float32(1.0)
            p = p * r + np.float32(1.0)
            return p, (np.int32(n) + np.int32(127)) << np.int32(23)

        return exp32

    def exp64(t):
        n = np.rint(t * _LOG2E)
        r = (t - n * _LN2_HI) - n * _LN2_LO
        p = 1.0 / 6227020800.0
        p = p * r + 1.0 / 479001600.0
        p = p * r + 1.0 / 39916800.0
        p = p * r + 1.0 / 3628800.0
        p = p * r + 1.0 / 362880.0
        p = p * r + 1.0 / 40320.0
        p = p * r + 1.0 / 5040.0
        p = p * r + 1.0 / 720.0
        p = p * r + 1.0 / 120.0
        p = p * r + 1.0 / 24.0
        p = p * r + 1.0 / 6.0
        p = p * r + 0.5
        p = p * r + 1.0
        p = p * r + 1.0
        return p, (np.int64(n) + 1023) << 52

    return exp64


@overload(int_view, inline="always", jit_options=JIT_OPTIONS)
def _int_view_impl(a):
    if a.dtype == types.float32:
        return lambda a: a.view(np.int32)
    return lambda a: a.view(np.int64)


@overload(exp_cutoff, inline="always", jit_options=JIT_OPTIONS)
def _exp_cutoff_impl(t):
    if t == types.float32:
        return lambda t: np.float32(EXP_CUTOFF32)
    return lambda t: EXP_CUTOFF


@helper
def log_block(x, nb, work):
    """x[b] = log(x[b]) in place for the first nb of a float64 array of
    positive normal numbers, within 2 ulp of libm's log; ``work`` is float64
    scratch of the same length.

    x = 2^e m with m in [sqrt(1/2), sqrt(2)), from the bits of x; then
    log m = 2 atanh(s), s = (m - 1) / (m + 1), |s| < 0.172, by its odd series
    to s^23 (truncation < 1e-17).  Integer and float loops without calls, so
    both vectorise, where libm's log is a call per element."""
    bits = x.view(np.int64)
    for b in range(nb):
        i = bits[b]
        work[b] = np.float64((i >> 52) - 1023)
        bits[b] = (i & _MANTISSA_BITS) | _EXPONENT_OF_ONE  # m in [1, 2)
    for b in range(nb):
        m = x[b]
        e = work[b]
        big = m > _SQRT2
        m = m * 0.5 if big else m
        e = e + 1.0 if big else e
        f = m - 1.0
        s = f / (2.0 + f)
        z = s * s
        p = 1.0 / 23.0
        p = p * z + 1.0 / 21.0
        p = p * z + 1.0 / 19.0
        p = p * z + 1.0 / 17.0
        p = p * z + 1.0 / 15.0
        p = p * z + 1.0 / 13.0
        p = p * z + 1.0 / 11.0
        p = p * z + 1.0 / 9.0
        p = p * z + 1.0 / 7.0
        p = p * z + 1.0 / 5.0
        p = p * z + 1.0 / 3.0
        x[b] = e * _LN2_HI + (e * _LN2_LO + (2.0 * s + 2.0 * s * (z * p)))


@helper
def normalize_block(logp, nb, lpn, work, scratch):
    """Log-sum-exp over components, then responsibilities in place.

    ``logp[k, b]`` holds weighted log-densities on entry and responsibilities
    on exit, in the data's precision; ``lpn[b]`` (float64) receives each row's
    log-likelihood.  ``work`` is float64 scratch of ``BLOCK``, ``scratch`` is
    ``(3, BLOCK)`` of logp's dtype.  A row
    whose components are all ``-inf`` gets ``lpn = -inf`` and NaN
    responsibilities (as scikit-learn; the family's Python side replaces
    them).
    """
    n_comp = logp.shape[0]
    m = scratch[0]
    total = scratch[1]
    pow2 = scratch[2]
    pow2_bits = int_view(pow2)
    cutoff = exp_cutoff(logp[0, 0])
    zero = cutoff - cutoff  # 0 in logp's precision: no mixed-type arithmetic below
    for b in range(nb):
        m[b] = -np.inf
    for k in range(n_comp):
        for b in range(nb):
            if logp[k, b] > m[b]:
                m[b] = logp[k, b]
    # One exp per entry: keep exp(logp - max), then divide by the row's sum.
    # Below the cutoff the exp (< eps / 2) cannot change a sum that is at
    # least 1, so it is taken as 0.  The argument is clamped first, which
    # keeps it in exp_split's range (2**n stays a normal number).  2**n
    # goes through memory (pow2_bits and pow2 are one buffer) to become a
    # float: two vector sweeps per component.
    for b in range(nb):
        total[b] = 0.0
    for k in range(n_comp):
        row = logp[k]
        for b in range(nb):
            t = row[b] - m[b]
            p, bits = exp_split(max(t, cutoff))
            row[b] = p if t > cutoff else zero
            pow2_bits[b] = bits
        for b in range(nb):
            e = row[b] * pow2[b]
            row[b] = e
            total[b] += e
    # total is in [1, K] unless the row is all -inf (then garbage, replaced).
    for b in range(nb):
        lpn[b] = np.float64(total[b]) if m[b] != -np.inf else 1.0
    log_block(lpn, nb, work)
    for b in range(nb):
        if m[b] == -np.inf:
            lpn[b] = -np.inf
            total[b] = np.nan
        else:
            lpn[b] += np.float64(m[b])
            total[b] = 1.0 / total[b]
    for k in range(n_comp):
        for b in range(nb):
            logp[k, b] *= total[b]


@helper
def _write_labels(logp, nb, start, out_label, best):
    """out_label[row] = argmax_k of the weighted log-density (first on ties),
    or -1 where every one is -inf or NaN.

    Components outside, rows inside, with the best value so far in ``best``
    (scratch of logp's dtype): every step is a vector compare and select."""
    n_comp = logp.shape[0]
    if out_label.shape[0] > 0:
        labels = out_label[start:start + nb]
        for b in range(nb):
            best[b] = logp[0, b]
            labels[b] = 0
        for k in range(1, n_comp):
            for b in range(nb):
                v = logp[k, b]
                better = v > best[b]
                best[b] = v if better else best[b]
                labels[b] = k if better else labels[b]
        # -1: no component has a finite log-density (a row so far from every
        # component that its distances overflow); the caller decides.
        for b in range(nb):
            labels[b] = labels[b] if best[b] > -np.inf else -1


@helper
def _write_normalized(resp, nb, start, lpn, out_lpn, out_resp):
    if out_lpn.shape[0] > 0:
        for b in range(nb):
            out_lpn[start + b] = lpn[b]
    if out_resp.shape[0] > 0:
        n_comp = resp.shape[0]
        for b in range(nb):
            for k in range(n_comp):
                out_resp[start + b, k] = resp[k, b]


@helper
def _sum_lpn(lpn, nb, sample_weight, start):
    """sum_b w_b lpn_b and sum_b w_b |lpn_b| (w = 1 without weights; a row
    of weight 0 adds exactly nothing, even with lpn = -inf)."""
    s = 0.0
    a = 0.0
    if sample_weight.shape[0] == 0:
        for b in range(nb):
            s += lpn[b]
            a += abs(lpn[b])
    else:
        for b in range(nb):
            v = lpn[b] * np.float64(sample_weight[start + b])
            if v != v:  # -inf * 0: a row of weight 0 adds nothing
                v = 0.0
            s += v
            a += abs(v)
    return s, a


@helper
def weigh_block(resp, nb, sample_weight, start):
    """resp[k, b] *= w[start + b], in place (0 where w is 0, whatever resp
    holds): the statistics then sum w_i r_ik."""
    if sample_weight.shape[0] > 0:
        zero = typed_zero(resp[0, 0])
        w = sample_weight[start:start + nb]
        for k in range(resp.shape[0]):
            row = resp[k]
            for b in range(nb):
                row[b] *= w[b]
        # A row of weight 0 with NaN responsibilities (every log-density
        # -inf: all NaN) is left NaN * 0 = NaN: zero such rows explicitly.
        for b in range(nb):
            if resp[0, b] != resp[0, b] and w[b] == zero:  # NaN first: never, normally
                for k in range(resp.shape[0]):
                    resp[k, b] = zero


@helper
def posterior_buffers(n_comp, X):
    """One partition's buffers for ``posterior_block``: the block's
    log-densities ``(n_comp, BLOCK)`` and scratch, of X's dtype, and the
    float64 per-row scratch."""
    logp = np.empty((n_comp, BLOCK), X.dtype)
    lpn = np.empty((2, BLOCK))
    scratch = np.empty((3, BLOCK), X.dtype)
    return logp, lpn, scratch


@helper
def start_block(X, resp_in, sample_weight, start, nb, XT, logp):
    """Load a block of rows transposed into ``XT``; with given
    responsibilities (``resp_in`` has rows: the initialisation's), load them
    too, in place of the block's posterior, into ``logp`` and times the
    sample weights.  Returns whether the posterior is still to compute."""
    load_block(X, start, nb, XT)
    if resp_in.shape[0] == 0:
        return True
    load_block(resp_in, start, nb, logp)
    weigh_block(logp, nb, sample_weight, start)
    return False


@helper
def posterior_block(logp, nb, start, lpn, scratch, out_lpn, out_resp, out_label, ll,
                    sample_weight, row_term):
    """From weighted log-densities to everything per row: labels, the
    log-likelihood (summed into ``ll``, times the sample weights),
    responsibilities (left in ``logp``, times the sample weights).
    ``lpn`` is float64 scratch ``(2, BLOCK)``, ``scratch`` ``(3, BLOCK)`` of
    the data's dtype.  ``row_term`` (float64, empty for none): a term of
    every component's log-density that depends on the row alone (a Poisson
    model's -sum log x!), added to the log-likelihood after the posterior,
    which it does not change."""
    _write_labels(logp, nb, start, out_label, scratch[0])
    normalize_block(logp, nb, lpn[0], lpn[1], scratch)
    if row_term.shape[0] > 0:
        for b in range(nb):
            lpn[0, b] += row_term[b]
    _write_normalized(logp, nb, start, lpn[0], out_lpn, out_resp)
    s, a = _sum_lpn(lpn[0], nb, sample_weight, start)
    ll[0] += s
    ll[1] += a
    weigh_block(logp, nb, sample_weight, start)
