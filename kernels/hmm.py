"""Hidden Markov model kernels: emission frames, forward-backward, Viterbi.

A hidden Markov model's E-step is the forward-backward recursion over each
sequence.  Its work is split three ways:

1. **Frames** (parallel over rows): each state's emission log-density, by
   the emission family's own block code (``gaussian.py``, ``discrete.py``),
   turned into *scaled frames* ``e[t, k] = exp(log p(x_t | k) - m_t)`` with
   ``m_t = max_k log p(x_t | k)``, so every frame lies in [0, 1] and the
   recursion needs no exp or log.  Unscaled, the frames are the
   log-densities themselves (Viterbi, the log-space fallback).
2. **Forward-backward** (parallel over sequences; sequential within one):
   scaled recursions on the frames, writing each row's posterior state
   probabilities and adding the start and transition statistics.
3. The emission statistics under those posteriors: the family's own
   statistics kernels with given responsibilities (``resp_in``).

Sequences are grouped into ``G`` contiguous groups, fixed by the caller
from the sequence lengths alone; ``prange`` runs over the groups and group
``g`` adds its sequences, in order, into ``start_acc[g]`` and
``trans_acc[g]``, which the caller sums in order: the same bits for any
number of threads.

Scaling.  ``alpha_t = (alpha_{t-1} A) * e_t / c_t`` with ``c_t`` the sum
that makes ``alpha_t`` sum to 1, so ``c_t`` is in (0, 1] and ``log p(x) =
sum_t (log c_t + m_t)``.  A step whose ``c_t`` falls below ``TINY`` (every
state the chain can reach gives the row a density 1e-280 times the best
state's: a left-right chain, an outlier), or a backward variable that
overflows, marks the sequence ``failed``; the caller then runs it through
``forward_backward_log``, the same recursions in log space, which never
underflow.
"""

import numpy as np
from numba import prange

from ._blocks import load_block
from ._config import BLOCK, XT_PAD, helper, kernel
from ._posterior import exp_split, int_view
from .discrete import (
    _categorical_logprob,
    _codes_block,
    _linear_logprob_loops,
    _row_log_factorials,
)
from .gaussian import (
    GEMM_MIN_FEATURES,
    _gemm_splits,
    _logprob_block_diag,
    _logprob_block_full,
    _logprob_block_full_gemm,
    _pack_bands,
)

#: A forward step whose normaliser falls below this fails the scaled pass.
TINY = 1e-280

#: Below this, exp(t) is not a normal float64: the frame is taken as 0.
FRAME_CUTOFF = -708.0


# --------------------------------------------------------------------------
# Frames: emission log-densities, a block at a time, written per row.


@helper
def _write_frames(logp, nb, start, scaled, frames, shift, work, pow2):
    """Rows start:start+nb of ``frames`` (and ``shift``) from one block's
    log-densities ``logp[k, b]`` (the data's dtype): scaled, ``frames[t, k]
    = exp(logp - m_t)`` and ``shift[t] = m_t``; else the log-densities."""
    n_comp = logp.shape[0]
    if not scaled:
        for b in range(nb):
            for k in range(n_comp):
                frames[start + b, k] = logp[k, b]
        return
    m = work[0]
    for b in range(nb):
        m[b] = -np.inf
    for k in range(n_comp):
        for b in range(nb):
            v = np.float64(logp[k, b])
            if v > m[b]:
                m[b] = v
    for b in range(nb):
        shift[start + b] = m[b]
    tmp = work[1]
    bits = int_view(pow2)
    for k in range(n_comp):
        for b in range(nb):
            t = np.float64(logp[k, b]) - m[b]
            inside = t > FRAME_CUTOFF  # False for NaN: a row with no finite density
            p, e = exp_split(t if inside else 0.0)
            tmp[b] = p if inside else 0.0
            bits[b] = e
        for b in range(nb):
            frames[start + b, k] = tmp[b] * pow2[b]


@helper
def _frame_buffers(n_comp, X):
    logp = np.empty((n_comp, BLOCK), X.dtype)
    work = np.empty((2, BLOCK))
    pow2 = np.empty(BLOCK)
    return logp, work, pow2


@kernel
def gaussian_full_frames(X, means, prec_chol, log_norm, scaled, frames, shift):
    """Frames of full-covariance Gaussian emissions (a tied model passes its
    one factor repeated): ``log_norm[k] - |(x - mu_k) U_k|^2 / 2``.  X (n, d),
    means (K, d), prec_chol (K, d, d) upper-triangular, in one float dtype;
    ``frames`` (n, K) and ``shift`` (n,) float64 outputs."""
    n, d = X.shape
    n_comp = means.shape[0]
    n_blocks = (n + BLOCK - 1) // BLOCK
    use_gemm = d >= GEMM_MIN_FEATURES
    edges = _gemm_splits(d)
    packed = _pack_bands(prec_chol[:n_comp if use_gemm else 0], edges)
    for blk in prange(n_blocks):
        start = blk * BLOCK
        nb = min(BLOCK, n - start)
        XT = np.empty((d, BLOCK + XT_PAD), X.dtype)
        diffT = np.empty((d, BLOCK), X.dtype)
        y4 = np.empty((4, BLOCK), X.dtype)
        YT = np.empty((d if use_gemm else 0, BLOCK), X.dtype)
        logp, work, pow2 = _frame_buffers(n_comp, X)
        load_block(X, start, nb, XT)
        if use_gemm:
            _logprob_block_full_gemm(XT, nb, means, packed, edges, log_norm, diffT, YT, logp)
        else:
            _logprob_block_full(XT, nb, means, prec_chol, log_norm, diffT, y4, logp)
        _write_frames(logp, nb, start, scaled, frames, shift, work, pow2)


@kernel
def gaussian_diag_frames(X, means, prec, log_norm, scaled, frames, shift):
    """Frames of diagonal (and spherical: its precision repeated over
    features) Gaussian emissions; ``prec`` (K, d) = 1 / standard deviations."""
    n, d = X.shape
    n_comp = means.shape[0]
    n_blocks = (n + BLOCK - 1) // BLOCK
    for blk in prange(n_blocks):
        start = blk * BLOCK
        nb = min(BLOCK, n - start)
        XT = np.empty((d, BLOCK + XT_PAD), X.dtype)
        logp, work, pow2 = _frame_buffers(n_comp, X)
        load_block(X, start, nb, XT)
        _logprob_block_diag(XT, nb, means, prec, log_norm, logp)
        _write_frames(logp, nb, start, scaled, frames, shift, work, pow2)


@kernel
def categorical_frames(X, log_table_t, offsets, log_norm, scaled, frames, shift):
    """Frames of categorical emissions (``discrete.categorical_pass``'s
    table: ``log_table_t[offsets[j] + x_j, k]``)."""
    n, d = X.shape
    n_comp = log_table_t.shape[1]
    n_blocks = (n + BLOCK - 1) // BLOCK
    for blk in prange(n_blocks):
        start = blk * BLOCK
        nb = min(BLOCK, n - start)
        codes = np.empty((BLOCK, d), np.int64)
        acc = np.empty(n_comp)
        logp, work, pow2 = _frame_buffers(n_comp, X)
        _codes_block(X, start, nb, offsets, codes)
        _categorical_logprob(codes, nb, log_table_t, log_norm, acc, logp)
        _write_frames(logp, nb, start, scaled, frames, shift, work, pow2)


@kernel
def linear_frames(X, coef, log_norm, log_factorial, scaled, frames, shift):
    """Frames of emissions whose log-density is linear in the row
    (``discrete.linear_pass``: Poisson, Bernoulli): ``log_norm[k] + coef[k]
    . x``, plus the row term ``-sum_j log x_j!`` from the table
    ``log_factorial`` (empty: none), as ``linear_pass``."""
    n, d = X.shape
    n_comp = coef.shape[0]
    n_blocks = (n + BLOCK - 1) // BLOCK
    counts = log_factorial.shape[0] > 0
    for blk in prange(n_blocks):
        start = blk * BLOCK
        nb = min(BLOCK, n - start)
        XT = np.empty((d, BLOCK + XT_PAD), X.dtype)
        term = np.empty(BLOCK)
        logp, work, pow2 = _frame_buffers(n_comp, X)
        load_block(X, start, nb, XT)
        _linear_logprob_loops(XT, nb, coef, log_norm, logp)
        if counts:
            _row_log_factorials(X, start, nb, log_factorial, term)
            for k in range(n_comp):
                for b in range(nb):
                    logp[k, b] += term[b]
        _write_frames(logp, nb, start, scaled, frames, shift, work, pow2)


@kernel
def scale_frames(logb, frames, shift):
    """Scaled frames of given log-densities ``logb`` (n, K) float64 (a
    mixture's per-state log-likelihoods): ``frames`` (n, K), ``shift``
    (n,); ``frames`` may be ``logb`` itself."""
    n, n_comp = logb.shape
    n_blocks = (n + BLOCK - 1) // BLOCK
    for blk in prange(n_blocks):
        start = blk * BLOCK
        nb = min(BLOCK, n - start)
        logp, work, pow2 = _frame_buffers(n_comp, logb)
        for b in range(nb):
            for k in range(n_comp):
                logp[k, b] = logb[start + b, k]
        _write_frames(logp, nb, start, True, frames, shift, work, pow2)


# --------------------------------------------------------------------------
# Forward-backward, scaled.


@helper
def _forward_backward_one(frames, shift, lo, hi, startprob, transmat, post, scales, pred, beta,
                          w, xi, want_trans):
    """One sequence (rows lo:hi): posteriors into ``post[lo:hi]``, the
    unnormalised transition sums into ``xi`` (zeroed here; the caller
    multiplies by the transition matrix).  Returns ``(log p(x), ok)``."""
    n_comp = startprob.shape[0]
    T = hi - lo
    # Forward.
    c = 0.0
    for k in range(n_comp):
        a = startprob[k] * frames[lo, k]
        post[lo, k] = a
        c += a
    if not c > TINY:
        return 0.0, False
    inv = 1.0 / c
    for k in range(n_comp):
        post[lo, k] *= inv
    scales[0] = c
    # log p(x) = sum_t log c_t + m_t: the c_t (in (TINY, 1]) are multiplied
    # together and the product's log taken when it gets small -- a log per
    # few hundred rows rather than per row.
    log_p = shift[lo]
    prod = c
    for t in range(1, T):
        row = lo + t
        for k in range(n_comp):
            pred[k] = 0.0
        for j in range(n_comp):
            a = post[row - 1, j]
            for k in range(n_comp):
                pred[k] += a * transmat[j, k]
        c = 0.0
        for k in range(n_comp):
            v = pred[k] * frames[row, k]
            post[row, k] = v
            c += v
        if not c > TINY:
            return 0.0, False
        inv = 1.0 / c
        for k in range(n_comp):
            post[row, k] *= inv
        scales[t] = c
        log_p += shift[row]
        if c < 1e-100:
            log_p += np.log(c)
        else:
            prod *= c
            if prod < 1e-200:
                log_p += np.log(prod)
                prod = 1.0
    log_p += np.log(prod)
    # Backward: beta_{T-1} = 1; at each t, post[t] becomes alpha_t beta_t
    # (normalised), after alpha_t fed the transition sums.
    for i in range(n_comp):
        for j in range(n_comp):
            xi[i, j] = 0.0
    for k in range(n_comp):
        beta[k] = 1.0
    for t in range(T - 1, -1, -1):
        row = lo + t
        s = 0.0
        for k in range(n_comp):
            s += post[row, k] * beta[k]
        if not (s > 0.0 and s < np.inf):
            return 0.0, False
        inv = 1.0 / s
        if t == 0:
            for k in range(n_comp):
                post[row, k] = post[row, k] * beta[k] * inv
            break
        # w_j = e_t(j) beta_t(j) / c_t, for the transition sums and beta_{t-1}
        inv_c = 1.0 / scales[t]
        for k in range(n_comp):
            w[k] = frames[row, k] * beta[k] * inv_c
        for k in range(n_comp):
            post[row, k] = post[row, k] * beta[k] * inv
        if want_trans:
            for i in range(n_comp):
                a = post[row - 1, i]
                for j in range(n_comp):
                    xi[i, j] += a * w[j]
        for i in range(n_comp):
            v = 0.0
            for j in range(n_comp):
                v += transmat[i, j] * w[j]
            beta[i] = v
    return log_p, True


@kernel
def forward_backward(frames, shift, bounds, groups, startprob, transmat, seq_weight, post,
                     seq_ll, failed, start_acc, trans_acc):
    """The scaled forward-backward pass over every sequence.

    ``frames`` (n, K) and ``shift`` (n,): scaled frames (see the module
    docstring); ``bounds`` (S + 1,) int64: sequence s is rows
    ``bounds[s]:bounds[s + 1]``; ``groups`` (G + 1,) int64: group g is
    sequences ``groups[g]:groups[g + 1]``; ``startprob`` (K,), ``transmat``
    (K, K) float64; ``seq_weight`` (S,) each sequence's weight in the
    statistics (empty: 1).  Writes ``post`` (n, K) (each row's posterior state
    probabilities), ``seq_ll`` (S,) (each sequence's log-likelihood) and
    ``failed`` (S,) (1 where the scaled recursion broke down: that
    sequence's outputs and statistics are left out, for the caller to redo
    in log space).  Adds, unless they have no rows, the posterior of each
    sequence's first state into ``start_acc`` (G, K) and the expected
    transition counts into ``trans_acc`` (G, K, K).
    """
    n_comp = startprob.shape[0]
    n_groups = groups.shape[0] - 1
    want_start = start_acc.shape[0] > 0
    want_trans = trans_acc.shape[0] > 0
    for g in prange(n_groups):
        longest = 1
        for s in range(groups[g], groups[g + 1]):
            longest = max(longest, bounds[s + 1] - bounds[s])
        scales = np.empty(longest)
        pred = np.empty(n_comp)
        beta = np.empty(n_comp)
        w = np.empty(n_comp)
        xi = np.empty((n_comp, n_comp))
        for s in range(groups[g], groups[g + 1]):
            lo = bounds[s]
            hi = bounds[s + 1]
            if hi == lo:
                seq_ll[s] = 0.0
                failed[s] = 0
                continue
            log_p, ok = _forward_backward_one(frames, shift, lo, hi, startprob, transmat, post,
                                              scales, pred, beta, w, xi, want_trans)
            seq_ll[s] = log_p
            failed[s] = 0 if ok else 1
            if not ok:
                continue
            weight = seq_weight[s] if seq_weight.shape[0] > 0 else 1.0
            if want_start:
                for k in range(n_comp):
                    start_acc[g, k] += weight * post[lo, k]
            if want_trans and hi - lo > 1:
                for i in range(n_comp):
                    for j in range(n_comp):
                        trans_acc[g, i, j] += weight * (xi[i, j] * transmat[i, j])


# --------------------------------------------------------------------------
# Forward-backward in log space: the fallback for the sequences the scaled
# pass could not take.


@helper
def _logsumexp(v, n):
    m = -np.inf
    for i in range(n):
        if v[i] > m:
            m = v[i]
    if m == -np.inf:
        return -np.inf
    s = 0.0
    for i in range(n):
        s += np.exp(v[i] - m)
    return m + np.log(s)


@kernel
def forward_backward_log(logb, bounds, seqs, log_start, log_trans, seq_weight, post, seq_ll,
                         start_acc, trans_acc):
    """Forward-backward in log space for the sequences ``seqs`` (indices
    into ``bounds``), in parallel: ``logb`` (n, K) unscaled frames
    (log-densities), ``log_start`` (K,), ``log_trans`` (K, K),
    ``seq_weight`` as ``forward_backward``'s.  Writes
    ``post`` and ``seq_ll`` of those sequences and adds the start and
    transition posteriors of ``seqs[i]`` into ``start_acc[i]`` (F, K) and
    ``trans_acc[i]`` (F, K, K) (none, if it has no rows).  A sequence
    whose log-likelihood is -inf gets NaN posteriors and adds nothing."""
    n_comp = log_start.shape[0]
    want_trans = trans_acc.shape[0] > 0
    for idx in prange(seqs.shape[0]):
        s = seqs[idx]
        lo = bounds[s]
        hi = bounds[s + 1]
        T = hi - lo
        if T == 0:
            seq_ll[s] = 0.0
            continue
        tmp = np.empty(n_comp)
        fwd = np.empty((T, n_comp))
        bwd = np.empty((T, n_comp))
        for k in range(n_comp):
            fwd[0, k] = log_start[k] + logb[lo, k]
        for t in range(1, T):
            for k in range(n_comp):
                for j in range(n_comp):
                    tmp[j] = fwd[t - 1, j] + log_trans[j, k]
                fwd[t, k] = _logsumexp(tmp, n_comp) + logb[lo + t, k]
        for k in range(n_comp):
            bwd[T - 1, k] = 0.0
        for t in range(T - 2, -1, -1):
            for i in range(n_comp):
                for j in range(n_comp):
                    tmp[j] = log_trans[i, j] + logb[lo + t + 1, j] + bwd[t + 1, j]
                bwd[t, i] = _logsumexp(tmp, n_comp)
        for k in range(n_comp):
            tmp[k] = fwd[T - 1, k]
        log_p = _logsumexp(tmp, n_comp)
        seq_ll[s] = log_p
        if log_p == -np.inf:
            for t in range(T):
                for k in range(n_comp):
                    post[lo + t, k] = np.nan
            continue
        for t in range(T):
            for k in range(n_comp):
                tmp[k] = fwd[t, k] + bwd[t, k]
            norm = _logsumexp(tmp, n_comp)
            for k in range(n_comp):
                post[lo + t, k] = np.exp(tmp[k] - norm)
        weight = seq_weight[s] if seq_weight.shape[0] > 0 else 1.0
        for k in range(n_comp):
            start_acc[idx, k] += weight * post[lo, k]
        if not want_trans:
            continue
        for t in range(T - 1):
            for i in range(n_comp):
                for j in range(n_comp):
                    v = (fwd[t, i] + log_trans[i, j] + logb[lo + t + 1, j] + bwd[t + 1, j]
                         - log_p)
                    trans_acc[idx, i, j] += weight * np.exp(v)


# --------------------------------------------------------------------------
# Viterbi.


@kernel
def viterbi(logb, bounds, log_start, log_trans, path, seq_lp):
    """The most likely state path of every sequence, in parallel over
    sequences: ``logb`` (n, K) emission log-densities, ``log_start`` (K,),
    ``log_trans`` (K, K).  Writes ``path`` (n,) int64 and ``seq_lp`` (S,),
    each path's log-probability.  Ties go to the lowest state."""
    n_comp = log_start.shape[0]
    n_seq = bounds.shape[0] - 1
    for s in prange(n_seq):
        lo = bounds[s]
        hi = bounds[s + 1]
        T = hi - lo
        if T == 0:
            seq_lp[s] = 0.0
            continue
        back = np.empty((T, n_comp), np.int32)
        delta = np.empty(n_comp)
        nxt = np.empty(n_comp)
        for k in range(n_comp):
            delta[k] = log_start[k] + logb[lo, k]
        for t in range(1, T):
            for k in range(n_comp):
                best = -np.inf
                arg = 0
                for j in range(n_comp):
                    v = delta[j] + log_trans[j, k]
                    if v > best:
                        best = v
                        arg = j
                nxt[k] = best + logb[lo + t, k]
                back[t, k] = arg
            for k in range(n_comp):
                delta[k] = nxt[k]
        best = -np.inf
        arg = 0
        for k in range(n_comp):
            if delta[k] > best:
                best = delta[k]
                arg = k
        seq_lp[s] = best
        path[hi - 1] = arg
        for t in range(T - 1, 0, -1):
            arg = back[t, arg]
            path[lo + t - 1] = arg
