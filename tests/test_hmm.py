"""Hidden Markov models: the kernels against plain-NumPy references, and the
estimators against hmmlearn from the same start."""

import copy
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy import stats
from scipy.special import logsumexp

import fastem
from fastem import kernels
from fastem.engine import sequences
from fastem.families.emissions import GaussianEmission, distribute_covars, fill_covars

COVARIANCE_TYPES = ("spherical", "diag", "full", "tied")


# --------------------------------------------------------------------------
# Plain-NumPy references.


def ref_forward_backward(logb, bounds, startprob, transmat):
    """Log-space forward-backward, sequence by sequence: posteriors, each
    sequence's log-likelihood, the start and transition posterior sums."""
    n, K = logb.shape
    with np.errstate(divide="ignore"):
        ls, lt = np.log(startprob), np.log(transmat)
    post = np.empty((n, K))
    seq_ll = np.zeros(len(bounds) - 1)
    start = np.zeros(K)
    trans = np.zeros((K, K))
    for s, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:])):
        T = hi - lo
        if T == 0:
            continue
        fwd = np.empty((T, K))
        bwd = np.zeros((T, K))
        fwd[0] = ls + logb[lo]
        for t in range(1, T):
            fwd[t] = logsumexp(fwd[t - 1][:, None] + lt, axis=0) + logb[lo + t]
        for t in range(T - 2, -1, -1):
            bwd[t] = logsumexp(lt + logb[lo + t + 1] + bwd[t + 1], axis=1)
        ll = logsumexp(fwd[-1])
        seq_ll[s] = ll
        g = fwd + bwd
        post[lo:hi] = np.exp(g - logsumexp(g, axis=1, keepdims=True))
        start += post[lo]
        for t in range(T - 1):
            trans += np.exp(fwd[t][:, None] + lt + logb[lo + t + 1] + bwd[t + 1] - ll)
    return post, seq_ll, start, trans


def ref_viterbi(logb, bounds, startprob, transmat):
    with np.errstate(divide="ignore"):
        ls, lt = np.log(startprob), np.log(transmat)
    path = np.empty(len(logb), dtype=np.int64)
    total = 0.0
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        T = hi - lo
        delta = ls + logb[lo]
        back = np.zeros((T, len(ls)), dtype=np.int64)
        for t in range(1, T):
            scores = delta[:, None] + lt
            back[t] = np.argmax(scores, axis=0)
            delta = scores.max(axis=0) + logb[lo + t]
        state = int(np.argmax(delta))
        total += delta[state]
        path[hi - 1] = state
        for t in range(T - 1, 0, -1):
            state = back[t, state]
            path[lo + t - 1] = state
    return total, path


def ref_log_density(X, means, covars, covariance_type):
    full = fill_covars(covars, covariance_type, len(means), X.shape[1])
    return np.stack([stats.multivariate_normal(m, c).logpdf(X) for m, c in zip(means, full)],
                    axis=1).reshape(len(X), len(means))


def random_model(K, d, covariance_type, seed=0):
    rng = np.random.default_rng(seed)
    startprob = rng.dirichlet(np.ones(K))
    transmat = rng.dirichlet(np.ones(K), size=K)
    means = rng.normal(scale=3, size=(K, d))
    A = rng.normal(size=(d, d))
    cv = A @ A.T + d * np.eye(d)
    covars = distribute_covars(cv, covariance_type, K)
    if covariance_type == "spherical":
        covars = covars[:, 0] * rng.uniform(0.5, 2.0, size=K)
    elif covariance_type == "diag":
        covars = covars * rng.uniform(0.5, 2.0, size=(K, 1))
    elif covariance_type == "full":
        covars = covars * rng.uniform(0.5, 2.0, size=(K, 1, 1))
    return startprob, transmat, means, covars


# --------------------------------------------------------------------------
# Kernels.


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-10), (np.float32, 1e-4)])
def test_frames_are_the_state_log_densities(covariance_type, dtype, rtol):
    K, d = 4, 5
    _, _, means, covars = random_model(K, d, covariance_type)
    X = np.random.default_rng(1).normal(scale=3, size=(700, d))
    em = GaussianEmission(covariance_type, means, covars)
    expected = ref_log_density(X, means, covars, covariance_type)
    logb, _ = em.frames(X.astype(dtype), False)
    assert_allclose(logb, expected, rtol=rtol, atol=0)
    frames, shift = em.frames(X.astype(dtype), True)
    assert_allclose(shift, expected.max(axis=1), rtol=rtol)
    assert_allclose(frames, np.exp(expected - expected.max(axis=1, keepdims=True)),
                    rtol=10 * rtol, atol=1e-300)
    assert np.all(frames.max(axis=1) == 1.0)


@pytest.mark.parametrize("K", [1, 3, 6])
def test_forward_backward_matches_the_log_space_reference(K):
    rng = np.random.default_rng(K)
    lengths = np.array([1, 7, 0, 40, 2, 300, 13])
    bounds = np.concatenate([[0], np.cumsum(lengths)])
    logb = rng.normal(scale=4, size=(bounds[-1], K))
    startprob = rng.dirichlet(np.ones(K))
    transmat = rng.dirichlet(np.ones(K), size=K)
    post_ref, ll_ref, start_ref, trans_ref = ref_forward_backward(logb, bounds, startprob,
                                                                  transmat)
    shift = logb.max(axis=1)
    frames = np.exp(logb - shift[:, None])
    groups = sequences.groups(bounds)
    post = np.zeros_like(logb)
    seq_ll = np.zeros(len(lengths))
    failed = np.zeros(len(lengths), dtype=np.uint8)
    G = len(groups) - 1
    start_acc, trans_acc = np.zeros((G, K)), np.zeros((G, K, K))
    kernels.forward_backward(frames, shift, bounds, groups, startprob, transmat, np.empty(0),
                             post, seq_ll, failed, start_acc, trans_acc)
    assert not failed.any()
    assert_allclose(post, post_ref, rtol=1e-10, atol=1e-14)
    assert_allclose(seq_ll, ll_ref, rtol=1e-12)
    assert_allclose(start_acc.sum(axis=0), start_ref, rtol=1e-10, atol=1e-14)
    assert_allclose(trans_acc.sum(axis=0), trans_ref, rtol=1e-10, atol=1e-12)
    # the log-space kernel, on every sequence
    post2 = np.zeros_like(logb)
    S = len(lengths)
    ll2, start2, trans2 = np.zeros(S), np.zeros((S, K)), np.zeros((S, K, K))
    kernels.forward_backward_log(logb, bounds, np.arange(S), np.log(startprob),
                                 np.log(transmat), np.empty(0), post2, ll2, start2, trans2)
    assert_allclose(post2, post_ref, rtol=1e-10, atol=1e-14)
    assert_allclose(ll2, ll_ref, rtol=1e-12)
    assert_allclose(start2.sum(axis=0), start_ref, rtol=1e-10, atol=1e-14)
    assert_allclose(trans2.sum(axis=0), trans_ref, rtol=1e-10, atol=1e-12)


def test_a_sequence_the_scaled_pass_cannot_take_is_redone_in_log_space():
    # Left-right chain; the second row of the second sequence is an outlier
    # that only a state the chain cannot reach yet explains: the scaled
    # normaliser underflows there.
    K, T = 3, 120
    startprob = np.array([1.0, 0.0, 0.0])
    transmat = np.array([[0.9, 0.1, 0.0], [0.0, 0.9, 0.1], [0.0, 0.0, 1.0]])
    rng = np.random.default_rng(0)
    logb = rng.normal(size=(T, K))
    logb[41] = [-1000.0, -1000.0, 0.0]
    bounds = np.array([0, 40, T])
    frames_shift = logb.max(axis=1)
    frames = np.exp(logb - frames_shift[:, None])
    post = np.zeros((T, K))
    seq_ll, failed = np.zeros(2), np.zeros(2, dtype=np.uint8)
    kernels.forward_backward(frames, frames_shift, bounds, sequences.groups(bounds), startprob,
                             transmat, np.empty(0), post, seq_ll, failed, np.zeros((2, K)),
                             np.zeros((2, K, K)))
    assert failed.tolist() == [0, 1]

    class Fixed:
        def frames(self, X, scaled):
            return (frames.copy(), frames_shift.copy()) if scaled else (logb.copy(), None)

        def statistics(self, dtype, n):
            return GaussianEmission("diag", np.zeros((K, 1)), np.ones((K, 1))).statistics(dtype,
                                                                                          n)

    out = np.empty((T, K))
    st = sequences.e_step(np.zeros((T, 1)), bounds, Fixed(), startprob, transmat,
                          posteriors=out)
    post_ref, ll_ref, start_ref, trans_ref = ref_forward_backward(logb, bounds, startprob,
                                                                  transmat)
    assert_allclose(out, post_ref, rtol=1e-9, atol=1e-14)
    assert_allclose(st.seq_ll, ll_ref, rtol=1e-12)
    assert_allclose(st.trans, trans_ref, rtol=1e-9, atol=1e-12)
    assert_allclose(st.start, start_ref, atol=1e-14)


@pytest.mark.parametrize("K", [1, 2, 5])
def test_viterbi_matches_the_reference(K):
    rng = np.random.default_rng(K)
    lengths = np.array([1, 9, 50, 3, 200])
    bounds = np.concatenate([[0], np.cumsum(lengths)])
    logb = rng.normal(scale=3, size=(bounds[-1], K))
    startprob = rng.dirichlet(np.ones(K))
    transmat = rng.dirichlet(np.ones(K), size=K)
    path = np.empty(bounds[-1], dtype=np.int64)
    seq_lp = np.zeros(len(lengths))
    kernels.viterbi(logb, bounds, np.log(startprob), np.log(transmat), path, seq_lp)
    total, ref_path = ref_viterbi(logb, bounds, startprob, transmat)
    assert_array_equal(path, ref_path)
    assert_allclose(seq_lp.sum(), total, rtol=1e-12)


def test_batches_and_groups_cover_every_sequence_in_order(monkeypatch):
    monkeypatch.setattr(sequences, "BATCH_BYTES", 16 * 4 * 100)  # 100 rows of 4 states
    lengths = np.array([30, 30, 250, 0, 10, 90, 5])
    bounds = sequences.check_lengths(lengths, lengths.sum())
    got = sequences.batches(bounds, 4)
    assert got[0][0] == 0 and got[-1][1] == lengths.sum()
    assert all(a[1] == b[0] and a[3] == b[2] for a, b in zip(got, got[1:]))
    assert (0, 60, 0, 2) in got and (60, 310, 2, 3) in got  # a long sequence alone
    g = sequences.groups(np.concatenate([[0], np.cumsum(lengths)]))
    assert g[0] == 0 and g[-1] == len(lengths) and np.all(np.diff(g) >= 0)


# --------------------------------------------------------------------------
# Against hmmlearn, from the same start.

hmmlearn_hmm = pytest.importorskip("hmmlearn.hmm")


def sample_data(K=3, d=2, covariance_type="full", lengths=(150,) * 8, seed=0):
    sp, tm, means, covars = random_model(K, d, covariance_type, seed)
    gen = hmmlearn_hmm.GaussianHMM(K, covariance_type)
    gen.startprob_, gen.transmat_, gen.means_, gen.covars_ = sp, tm, means, covars
    X, _ = gen.sample(int(np.sum(lengths)), random_state=seed)
    return X, list(lengths)


def pair(covariance_type, **kwargs):
    ours = fastem.GaussianHMM(covariance_type=covariance_type, bound_check="raise", **kwargs)
    ref = hmmlearn_hmm.GaussianHMM(covariance_type=covariance_type, **kwargs)
    return ours, ref


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_fit_matches_hmmlearn_from_the_same_random_state(covariance_type):
    X, lengths = sample_data(covariance_type=covariance_type)
    ours, ref = pair(covariance_type, n_components=3, n_iter=15, tol=0.0, random_state=3)
    ours.fit(X, lengths)
    ref.fit(X, lengths)
    assert_allclose(list(ours.monitor_.history), list(ref.monitor_.history), rtol=1e-10)
    assert ours.monitor_.iter == ref.monitor_.iter and ours.monitor_.converged
    for name in ("startprob_", "transmat_", "means_"):
        assert_allclose(getattr(ours, name), getattr(ref, name), rtol=1e-7, atol=1e-10,
                        err_msg=name)
    if covariance_type == "spherical":
        # hmmlearn's covars_ of a fitted spherical model ravels its (K, d)
        # table into K d matrices; fastem's are the K states' (README)
        assert_allclose(ours.covars_, ref.covars_[::X.shape[1]], rtol=1e-7)
    else:
        assert_allclose(ours.covars_, ref.covars_, rtol=1e-7, atol=1e-10)
    assert_allclose(ours._covars_, ref._covars_, rtol=1e-7, atol=1e-10)
    assert_allclose(ours.score(X, lengths), ref.score(X, lengths), rtol=1e-10)
    lp, post = ours.score_samples(X, lengths)
    lp_ref, post_ref = ref.score_samples(X, lengths)
    assert_allclose(lp, lp_ref, rtol=1e-10)
    assert_allclose(post, post_ref, rtol=1e-6, atol=1e-9)
    for algorithm in ("viterbi", "map"):
        v, path = ours.decode(X, lengths, algorithm=algorithm)
        v_ref, path_ref = ref.decode(X, lengths, algorithm=algorithm)
        assert_array_equal(path, path_ref)
        assert_allclose(v, v_ref, rtol=1e-10)
    assert_array_equal(ours.predict(X, lengths), ref.predict(X, lengths))
    assert_allclose(ours.bic(X, lengths), ref.bic(X, lengths), rtol=1e-10)
    assert_allclose(ours.aic(X, lengths), ref.aic(X, lengths), rtol=1e-10)
    assert_allclose(ours.get_stationary_distribution(), ref.get_stationary_distribution(),
                    rtol=1e-8)
    assert_allclose(ours.lower_bounds_, list(ref.monitor_.history), rtol=1e-10)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_fit_with_priors_and_some_params_matches_hmmlearn(covariance_type):
    X, lengths = sample_data(K=3, d=3, covariance_type=covariance_type, seed=2)
    d = 3
    sp, tm, means, covars = random_model(3, d, covariance_type, seed=5)
    kwargs = dict(n_components=3, n_iter=8, tol=0.0, init_params="",
                  startprob_prior=2.0 + sp, transmat_prior=1.5 + tm, means_prior=means,
                  means_weight=2.0, covars_prior=covars,
                  covars_weight=2.0 + (d if covariance_type in ("full", "tied") else 0))
    for params in ("stmc", "st", "mc", "tm"):
        ours, ref = pair(covariance_type, params=params, **kwargs)
        for m in (ours, ref):
            m.startprob_, m.transmat_ = np.full(3, 1 / 3), np.full((3, 3), 1 / 3)
            m.means_ = means + 0.5
            m.covars_ = covars
        ours.fit(X, lengths)
        ref.fit(X, lengths)
        assert_allclose(list(ours.monitor_.history), list(ref.monitor_.history),
                        rtol=1e-10, err_msg=params)
        assert_allclose(ours.means_, ref.means_, rtol=1e-8, atol=1e-10)
        assert_allclose(ours._covars_, ref._covars_, rtol=1e-8, atol=1e-10)


def test_float32_data_fit_close_to_float64():
    X, lengths = sample_data(d=3, covariance_type="full")
    a = fastem.GaussianHMM(3, "full", n_iter=5, tol=0, random_state=0).fit(X, lengths)
    b = fastem.GaussianHMM(3, "full", n_iter=5, tol=0, random_state=0).fit(
        X.astype(np.float32), lengths)
    assert_allclose(b.lower_bounds_, a.lower_bounds_, rtol=1e-5)
    assert_allclose(b.means_, a.means_, rtol=1e-4, atol=1e-4)


def test_the_bound_never_decreases_and_the_chain_is_kept():
    X, lengths = sample_data(K=4, d=3, covariance_type="diag", lengths=(400,) * 5, seed=4)
    m = fastem.GaussianHMM(4, "diag", n_iter=30, tol=0.0, random_state=1, bound_check="raise")
    m.fit(X, lengths)
    assert np.all(np.diff(m.lower_bounds_) > -1e-9)
    assert len(m.kl_divergences_) == 29 and np.all(m.kl_divergences_ > -1e-12)
    assert len(m.m_step_bounds_) == 30


def test_a_broken_m_step_is_reported():
    X, lengths = sample_data(K=2, d=2, covariance_type="diag", seed=1)

    class Broken(fastem.GaussianHMM):
        def _emission_m_step(self, emission, stats):
            super()._emission_m_step(emission, stats)
            self.means_ = self.means_ + 1.0  # no longer the maximiser

    with pytest.raises(fastem.BoundDecreaseError, match="M-step of iteration 1"):
        Broken(2, n_iter=3, random_state=0, bound_check="raise").fit(X, lengths)
    with pytest.warns(fastem.BoundDecreaseWarning):
        Broken(2, n_iter=3, random_state=0).fit(X, lengths)


def test_scaling_never_fails_where_hmmlearn_raises():
    rng = np.random.RandomState(10)
    data = np.concatenate([rng.normal(0, 1, 100), rng.normal(5, 1, 100)])
    data[40] = 10000
    X = data[:, None]
    kwargs = dict(n_iter=20, init_params="")
    ours = fastem.GaussianHMM(2, implementation="scaling", **kwargs)
    ref = hmmlearn_hmm.GaussianHMM(2, implementation="log", **kwargs)
    for m in (ours, ref):
        m.startprob_ = [0.0, 1.0]
        m.transmat_ = [[0.4, 0.6], [0.6, 0.4]]
        m.means_ = [[0.0], [5.0]]
        m.covars_ = [[1.0], [1.0]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours.fit(X)
        ref.fit(X)
    # The outlier's x^2 = 1e8 in hmmlearn's raw second moments costs it about
    # 1e8 eps of the variances (fastem's moments are centred on the means).
    assert_allclose(list(ours.monitor_.history), list(ref.monitor_.history), rtol=1e-8)


def test_sample_draws_as_hmmlearn():
    X, lengths = sample_data()
    ours, ref = pair("full", n_components=3, n_iter=3, random_state=0)
    ours.fit(X, lengths)
    ref.fit(X, lengths)
    a, sa = ours.sample(50, random_state=7)
    b, sb = ref.sample(50, random_state=7)
    assert_array_equal(sa, sb)
    assert_allclose(a, b, rtol=1e-6)


def test_errors_and_messages():
    X, lengths = sample_data()
    m = fastem.GaussianHMM(3, n_iter=2, random_state=0)
    with pytest.raises(ValueError, match="doesn't sum to 1200 samples"):
        m.fit(X, [100, 100])
    with pytest.raises(ValueError, match="non-negative"):
        m.fit(X, [1300, -100])
    m.fit(X, lengths)
    with pytest.raises(ValueError, match="Unknown decoder 'foo'"):
        m.decode(X, algorithm="foo")
    with pytest.raises(ValueError, match="Unexpected number of dimensions, got 3"):
        m.score(np.zeros((5, 3)))
    with pytest.raises(ValueError, match="implementation must be"):
        fastem.GaussianHMM(2, implementation="fast").fit(X)
    bad = copy.deepcopy(m)
    bad.transmat_ = np.full((3, 3), 0.5)
    with pytest.raises(ValueError, match="transmat_ rows must sum to 1"):
        bad.score(X)
    with pytest.raises(ValueError, match="covariance_type must be one of"):
        fastem.GaussianHMM(2, covariance_type="bad").fit(X)
    with pytest.raises(ValueError, match="contains NaN"):
        m.score(np.full((4, 2), np.nan))


# --------------------------------------------------------------------------
# The other emissions, against hmmlearn.


def _same_fit(ours, ref, X, lengths, rtol=1e-10):
    ours.fit(X, lengths)
    ref.fit(X, lengths)
    assert_allclose(list(ours.monitor_.history), list(ref.monitor_.history), rtol=rtol)
    assert ours.monitor_.iter == ref.monitor_.iter
    assert_allclose(ours.startprob_, ref.startprob_, rtol=1e-7, atol=1e-12)
    assert_allclose(ours.transmat_, ref.transmat_, rtol=1e-7, atol=1e-12)
    assert_array_equal(ours.predict(X, lengths), ref.predict(X, lengths))
    assert_allclose(ours.score(X, lengths), ref.score(X, lengths), rtol=1e-10)
    assert_allclose(ours.predict_proba(X, lengths), ref.predict_proba(X, lengths), atol=1e-8)
    assert_allclose(ours.bic(X, lengths), ref.bic(X, lengths), rtol=1e-10)


def test_categorical_hmm_matches_hmmlearn():
    gen = hmmlearn_hmm.CategoricalHMM(3, random_state=0)
    gen.startprob_ = np.array([0.6, 0.3, 0.1])
    gen.transmat_ = np.array([[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.1, 0.2, 0.7]])
    gen.emissionprob_ = np.array([[0.7, 0.2, 0.05, 0.05], [0.1, 0.1, 0.4, 0.4],
                                  [0.25, 0.25, 0.25, 0.25]])
    gen.n_features = 4
    X, _ = gen.sample(2000, random_state=1)
    lengths = [500, 300, 1200]
    for prior in (1.0, 2.5):
        ours = fastem.CategoricalHMM(3, n_iter=12, tol=0, random_state=5,
                                     emissionprob_prior=prior, bound_check="raise")
        ref = hmmlearn_hmm.CategoricalHMM(3, n_iter=12, tol=0, random_state=5,
                                          emissionprob_prior=prior)
        _same_fit(ours, ref, X, lengths)
        assert_allclose(ours.emissionprob_, ref.emissionprob_, rtol=1e-8)
    with pytest.raises(ValueError, match="Symbols should be integers"):
        fastem.CategoricalHMM(2).fit(X.astype(float))
    with pytest.raises(ValueError, match="Largest symbol is 7"):
        ours.score(np.array([[0], [7]]))
    with pytest.raises(ValueError, match="one symbol per row"):
        fastem.CategoricalHMM(2).fit(np.zeros((5, 2), dtype=int))


def test_poisson_hmm_matches_hmmlearn():
    rng = np.random.RandomState(0)
    lam = np.array([[1.0, 8.0], [6.0, 0.5], [3.0, 3.0]])
    states = np.repeat(rng.randint(3, size=60), 25)
    X = rng.poisson(lam[states])
    lengths = [500, 1000]
    ours = fastem.PoissonHMM(3, n_iter=12, tol=0, random_state=2, bound_check="raise")
    ref = hmmlearn_hmm.PoissonHMM(3, n_iter=12, tol=0, random_state=2)
    _same_fit(ours, ref, X, lengths)
    assert_allclose(ours.lambdas_, ref.lambdas_, rtol=1e-8)
    # hmmlearn's update with a prior (weighed by all states' mass)
    ours = fastem.PoissonHMM(3, n_iter=5, tol=0, random_state=2, lambdas_prior=2.0,
                             lambdas_weight=0.5)
    ref = hmmlearn_hmm.PoissonHMM(3, n_iter=5, tol=0, random_state=2, lambdas_prior=2.0,
                                  lambdas_weight=0.5)
    _same_fit(ours, ref, X, lengths)
    with pytest.raises(ValueError, match="PoissonHMM takes counts"):
        ours.score(X + 0.5)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_gmm_hmm_matches_hmmlearn(covariance_type):
    rng = np.random.RandomState(0)
    X = np.concatenate([rng.randn(100, 2) * s + m
                        for m, s in (([0, 0], 1), ([5, 5], .5), ([0, 6], 2))] * 5)
    lengths = [150] * 10
    ours = fastem.GMMHMM(3, 2, covariance_type=covariance_type, n_iter=10, tol=0,
                         random_state=1)
    ref = hmmlearn_hmm.GMMHMM(3, 2, covariance_type=covariance_type, n_iter=10, tol=0,
                              random_state=1)
    _same_fit(ours, ref, X, lengths)
    for name in ("weights_", "means_", "covars_"):
        assert_allclose(getattr(ours, name), getattr(ref, name), rtol=1e-8, atol=1e-10)
    # hmmlearn's covariance update is not the M-step's maximiser: the M-step
    # is recorded, not checked; the E-step's KL divergences are
    assert np.all(ours.kl_divergences_ > -1e-9)
    a, sa = ours.sample(30, random_state=3)
    b, sb = ref.sample(30, random_state=3)
    assert_array_equal(sa, sb)
    assert_allclose(a, b, rtol=1e-6)


# --------------------------------------------------------------------------
# Sample weights per sequence; data larger than memory.


@pytest.mark.parametrize("cls, kwargs", [
    (fastem.GaussianHMM, dict(covariance_type="full")),
    (fastem.GaussianHMM, dict(covariance_type="diag")),
    (fastem.GMMHMM, dict(n_mix=2, covariance_type="diag")),
])
def test_a_sequence_of_weight_w_counts_as_w_copies(cls, kwargs):
    X, lengths = sample_data(K=3, d=2, covariance_type="diag", lengths=(300, 200, 500), seed=3)
    bounds = np.concatenate([[0], np.cumsum(lengths)])
    seqs = [X[lo:hi] for lo, hi in zip(bounds[:-1], bounds[1:])]
    weights = np.array([2.0, 1.0, 3.0])
    X_rep = np.concatenate([s for s, w in zip(seqs, weights) for _ in range(int(w))])
    lengths_rep = [len(s) for s, w in zip(seqs, weights) for _ in range(int(w))]
    start = cls(3, n_iter=1, random_state=0, **kwargs).fit(X, lengths)
    fits = []
    for data, lens, sw in ((X, lengths, weights), (X_rep, lengths_rep, None)):
        m = cls(3, n_iter=6, tol=0, init_params="", bound_check="raise", **kwargs)
        for name in ("startprob_", "transmat_", "means_", "weights_"):
            if hasattr(start, name):
                setattr(m, name, getattr(start, name).copy())
        if cls is fastem.GMMHMM:
            m.covars_ = start.covars_.copy()
        else:
            m.covars_ = start._covars_.copy()
        fits.append(m.fit(data, lens, sample_weight=sw))
    a, b = fits
    assert_allclose(a.lower_bounds_, b.lower_bounds_, rtol=1e-10)
    assert_allclose(a.means_, b.means_, rtol=1e-8, atol=1e-10)
    assert_allclose(a.transmat_, b.transmat_, rtol=1e-8, atol=1e-12)
    assert_allclose(a.m_step_bounds_, b.m_step_bounds_, rtol=1e-10)
    with pytest.raises(ValueError, match="one weight per sequence"):
        cls(3, n_iter=1, **kwargs).fit(X, lengths, sample_weight=[1.0, 2.0])
    with pytest.raises(ValueError, match="Negative values"):
        cls(3, n_iter=1, **kwargs).fit(X, lengths, sample_weight=[1.0, -2.0, 1.0])
    with pytest.raises(ValueError, match="no sequence with rows"):
        cls(3, n_iter=1, **kwargs).fit(X, lengths, sample_weight=[0.0, 0.0, 0.0])


def test_a_memory_mapped_x_is_read_a_batch_at_a_time(tmp_path, monkeypatch):
    X, lengths = sample_data(K=3, d=2, covariance_type="full", lengths=(400,) * 10, seed=6)
    np.save(tmp_path / "x.npy", X)
    mapped = np.load(tmp_path / "x.npy", mmap_mode="r")
    monkeypatch.setattr(sequences, "BATCH_BYTES", 16 * 3 * 1000)  # batches of ~1000 rows
    a = fastem.GaussianHMM(3, "full", n_iter=5, tol=0, random_state=0).fit(X, lengths)
    b = fastem.GaussianHMM(3, "full", n_iter=5, tol=0, random_state=0).fit(mapped, lengths)
    assert_array_equal(a.lower_bounds_, b.lower_bounds_)
    assert_array_equal(b.predict(mapped, lengths), a.predict(X, lengths))
    assert_allclose(b.score(mapped, lengths), a.score(X, lengths), rtol=1e-14)
    bad = X.copy()
    bad[2500, 1] = np.nan
    np.save(tmp_path / "bad.npy", bad)
    with pytest.raises(ValueError, match="Input contains NaN"):  # hmmlearn's words
        b.score(np.load(tmp_path / "bad.npy", mmap_mode="r"), lengths)
    symbols = (np.arange(4000) // 7 % 3).reshape(-1, 1)
    symbols[3900] = 5  # beyond the symbols of the rows the initialisation sees
    np.save(tmp_path / "s.npy", symbols)
    monkeypatch.setattr(fastem.hmm, "INIT_ROWS", 1000)
    with pytest.raises(ValueError, match="Largest symbol is 5"):
        fastem.CategoricalHMM(3, n_iter=2, random_state=0).fit(
            np.load(tmp_path / "s.npy", mmap_mode="r"), [4000])


def test_a_source_of_sequences_is_read_item_by_item():
    X, lengths = sample_data(K=3, d=2, covariance_type="diag", lengths=(300, 500, 200, 400),
                             seed=8)
    bounds = np.concatenate([[0], np.cumsum(lengths)])

    class Pairs:  # (X, lengths) items: two sequences each
        def __iter__(self):
            yield X[:800], [300, 500]
            yield X[800:], [200, 400]

    class OnePerItem:
        def __iter__(self):
            for lo, hi in zip(bounds[:-1], bounds[1:]):
                yield X[lo:hi]

    a = fastem.GaussianHMM(3, "diag", n_iter=5, tol=0, random_state=0).fit(X, lengths)
    for source in (Pairs(), OnePerItem()):
        b = fastem.GaussianHMM(3, "diag", n_iter=5, tol=0, random_state=0,
                               bound_check="raise").fit(source)
        assert_allclose(b.lower_bounds_, a.lower_bounds_, rtol=1e-10)
        assert_allclose(b.means_, a.means_, rtol=1e-9)
        assert_allclose(b.score(source), a.score(X, lengths), rtol=1e-12)
        assert_array_equal(b.predict(source), a.predict(X, lengths))
        assert_allclose(b.predict_proba(source), a.predict_proba(X, lengths), atol=1e-10)
        for algorithm in ("viterbi", "map"):
            v, path = b.decode(source, algorithm=algorithm)
            v_ref, path_ref = a.decode(X, lengths, algorithm=algorithm)
            assert_allclose(v, v_ref, rtol=1e-12)
            assert_array_equal(path, path_ref)
    w = np.array([1.0, 2.0, 0.5, 1.0])
    c = fastem.GaussianHMM(3, "diag", n_iter=3, tol=0, random_state=0).fit(X, lengths,
                                                                            sample_weight=w)
    d = fastem.GaussianHMM(3, "diag", n_iter=3, tol=0, random_state=0).fit(Pairs(),
                                                                            sample_weight=w)
    assert_allclose(d.lower_bounds_, c.lower_bounds_, rtol=1e-10)
    with pytest.raises(ValueError, match="lengths=None"):
        fastem.GaussianHMM(3).fit(Pairs(), lengths)
    with pytest.raises(TypeError, match="readable once per pass"):
        fastem.GaussianHMM(3).fit(iter([X]))

    class Bad:
        def __iter__(self):
            yield X[:800], [300, 400]

    with pytest.raises(ValueError, match="doesn't sum to 800 samples"):
        fastem.GaussianHMM(3).fit(Bad())
