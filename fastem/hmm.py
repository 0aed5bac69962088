"""Hidden Markov models: drop-ins for hmmlearn 0.3's ``GaussianHMM``, ...

The same constructor parameters, fitted attributes, methods, messages and
initialisation as hmmlearn's (for the same ``random_state``, the same
k-means means and Dirichlet draws), on fastem's engine: the E-step is
``fastem.engine.sequences`` (emission frames from the family's kernels,
forward-backward in parallel over sequences, the family's statistics
kernels under the posteriors), the emission maximisation is the family's
closed form (``fastem.families.emissions``), and the bound is checked every
iteration.

``implementation`` is accepted for compatibility: both values run the same
scaled recursion, which redoes in log space any sequence whose scaling
underflows -- so "scaling" never fails where hmmlearn's raises.
"""

import logging
import string
import sys
from collections import deque

import numpy as np
from scipy import linalg
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_array, check_is_fitted, check_random_state

from .data.chunks import kernel_array
from .data.dask import is_dask_array
from .data.sources import is_chunk_source
from .engine import sequences
from .families.hmm_files import CategoricalHMMFile, GaussianHMMFile, GMMHMMFile, PoissonHMMFile
from .families.emissions import (
    COVARIANCE_TYPES,
    CallbackEmission,
    CategoricalEmission,
    GaussianEmission,
    GaussianMixtureEmission,
    PoissonEmission,
    distribute_covars,
    fill_covars,
    validate_covars,
)

_log = logging.getLogger(__name__)

#: The decoder algorithms.
DECODER_ALGORITHMS = frozenset(("viterbi", "map"))

#: A memory-mapped X's initialisation looks at its first rows only.
INIT_ROWS = 1_000_000


class ConvergenceMonitor:
    """Reports and decides convergence, as hmmlearn's: ``history`` keeps the
    last two log-likelihoods, ``iter`` the iterations made; ``converged``
    once ``n_iter`` iterations are made or the last gain is below ``tol``.
    ``verbose`` prints each iteration to stderr."""

    _template = "{iter:>10d} {log_prob:>16.8f} {delta:>+16.8f}"

    def __init__(self, tol, n_iter, verbose):
        self.tol = tol
        self.n_iter = n_iter
        self.verbose = verbose
        self.history = deque()
        self.iter = 0

    def __repr__(self):
        params = sorted(dict(vars(self), history=list(self.history)).items())
        return (f"{type(self).__name__}(\n"
                + "".join(f"    {k}={v},\n" for k, v in params) + ")")

    def _reset(self):
        self.iter = 0
        self.history.clear()

    def report(self, log_prob):
        """Record one iteration's log-likelihood (printed when verbose; a
        drop beyond sqrt(eps) is logged as hmmlearn does)."""
        if self.verbose:
            delta = log_prob - self.history[-1] if self.history else np.nan
            print(self._template.format(iter=self.iter + 1, log_prob=log_prob, delta=delta),
                  file=sys.stderr)
        precision = np.finfo(float).eps ** 0.5
        if self.history and (log_prob - self.history[-1]) < -precision:
            delta = log_prob - self.history[-1]
            _log.warning(f"Model is not converging.  Current: {log_prob} is not greater "
                         f"than {self.history[-1]}. Delta is {delta}")
        self.history.append(log_prob)
        self.iter += 1

    @property
    def converged(self):
        return (self.iter == self.n_iter
                or (len(self.history) >= 2 and self.history[-1] - self.history[-2] < self.tol))


class BaseHMM(BaseEstimator):
    """What every hidden Markov model shares: the start and transition
    probabilities, Baum-Welch, scoring and decoding, sampling, criteria.

    A subclass supplies the emission: ``_emission()`` (a
    ``fastem.families.emissions`` object of its current parameters),
    ``_emission_m_step``, ``_init_emission``, ``_check_emission``,
    ``_emission_scalars`` (free parameters per letter of ``params``),
    ``_generate_sample_from_state`` and ``_prepare_X``.
    """

    def __init__(self, n_components=1, startprob_prior=1.0, transmat_prior=1.0,
                 algorithm="viterbi", random_state=None, n_iter=10, tol=1e-2, verbose=False,
                 params=string.ascii_letters, init_params=string.ascii_letters,
                 implementation="log", bound_check="warn"):
        self.n_components = n_components
        self.bound_check = bound_check
        self.params = params
        self.init_params = init_params
        self.algorithm = algorithm
        self.n_iter = n_iter
        self.tol = tol
        self.verbose = verbose
        self.implementation = implementation
        self.random_state = random_state
        self.startprob_prior = startprob_prior
        self.transmat_prior = transmat_prior
        self.monitor_ = ConvergenceMonitor(self.tol, self.n_iter, self.verbose)

    # ---------------------------------------------------------- parameters

    def _validate_params(self):
        """Check the constructor's parameters (clear errors before a fit
        starts; hmmlearn leaves most to fail later)."""
        def integer(name, low):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) \
                    or value < low:
                raise ValueError(f"The '{name}' parameter of {type(self).__name__} must be an "
                                 f"int >= {low}. Got {value!r} instead.")

        integer("n_components", 1)
        integer("n_iter", 0)
        if isinstance(self.tol, bool) or not isinstance(self.tol, (int, float, np.number)) \
                or not self.tol >= 0:
            raise ValueError(f"The 'tol' parameter of {type(self).__name__} must be a float "
                             f">= 0. Got {self.tol!r} instead.")
        if self.algorithm not in DECODER_ALGORITHMS:
            raise ValueError(f"Unknown decoder {self.algorithm!r}")
        for name in ("params", "init_params"):
            if not isinstance(getattr(self, name), str):
                raise ValueError(f"The '{name}' parameter of {type(self).__name__} must be a "
                                 f"str. Got {getattr(self, name)!r} instead.")
        self._check_implementation()
        self._check_emission_parameters()

    def save(self, file):
        """Write the fitted model to ``file`` (fastem's ``.npz`` format, no
        pickle); ``fastem.load`` reads it back."""
        from .engine.persistence import save_model

        check_is_fitted(self, "lower_bounds_")
        save_model(self, file)

    def __sklearn_is_fitted__(self):
        return hasattr(self, "startprob_") and hasattr(self, "transmat_")

    # ------------------------------------------------------------ checks

    def _check_implementation(self):
        if self.implementation not in ("log", "scaling"):
            raise ValueError(f"implementation must be 'log' or 'scaling', got "
                             f"{self.implementation!r}")
        if self.bound_check not in ("warn", "raise", "ignore"):
            raise ValueError(f"bound_check must be 'warn', 'raise' or 'ignore', got "
                             f"{self.bound_check!r}")

    def _check_sum_1(self, name):
        s = getattr(self, name).sum(axis=-1)
        if not np.allclose(s, 1):
            raise ValueError(
                f"{name} must sum to 1 (got {s:.4f})" if s.ndim == 0
                else f"{name} rows must sum to 1 (got row sums of {s})" if s.ndim == 1
                else "Expected 1D or 2D array")

    def _check(self):
        """Validate the parameters before fitting or scoring (hmmlearn's
        messages)."""
        self.startprob_ = np.asarray(self.startprob_)
        if len(self.startprob_) != self.n_components:
            raise ValueError("startprob_ must have length n_components")
        self._check_sum_1("startprob_")
        self.transmat_ = np.asarray(self.transmat_)
        if self.transmat_.shape != (self.n_components, self.n_components):
            raise ValueError("transmat_ must have shape (n_components, n_components)")
        self._check_sum_1("transmat_")
        for name in ("startprob_", "transmat_"):
            value = getattr(self, name)
            if not np.all(np.isfinite(value)) or np.any(value < 0):
                raise ValueError(f"{name} must hold probabilities in [0, 1]")
        self._check_emission()

    def _needs_init(self, code, name):
        if code in self.init_params:
            if hasattr(self, name):
                _log.warning("Even though the %r attribute is set, it will be overwritten "
                             "during initialization because 'init_params' contains %r",
                             name, code)
            return True
        return not hasattr(self, name)

    def _check_and_set_n_features(self, X):
        n_features = X.shape[1]
        if hasattr(self, "n_features"):
            if self.n_features != n_features:
                raise ValueError(f"Unexpected number of dimensions, got {n_features} but "
                                 f"expected {self.n_features}")
        else:
            self.n_features = n_features

    # ------------------------------------------------------- initialisation

    def _init(self, X, lengths=None):
        """hmmlearn's initialisation: Dirichlet(1/K) draws for ``startprob_``
        and each row of ``transmat_`` from ``random_state``, then the
        emission's; a warning when there are fewer values than parameters."""
        X = self._prepare_X(X)
        self._check_and_set_n_features(X)
        init = 1.0 / self.n_components
        random_state = check_random_state(self.random_state)
        if self._needs_init("s", "startprob_"):
            self.startprob_ = random_state.dirichlet(np.full(self.n_components, init))
        if self._needs_init("t", "transmat_"):
            self.transmat_ = random_state.dirichlet(np.full(self.n_components, init),
                                                    size=self.n_components)
        n_fit_scalars = sum(self._get_n_fit_scalars_per_param()[p] for p in self.params
                            if p in self._get_n_fit_scalars_per_param())
        if X.size < n_fit_scalars:
            _log.warning("Fitting a model with %d free scalar parameters with only %d data "
                         "points will result in a degenerate solution.", n_fit_scalars, X.size)
        self._init_emission(X, lengths)

    def _get_n_fit_scalars_per_param(self):
        nc = self.n_components
        return {"s": nc - 1, "t": nc * (nc - 1), **self._emission_scalars()}

    # ------------------------------------------------------------------ fit

    def fit(self, X, lengths=None, sample_weight=None):
        """Estimate the model's parameters by Baum-Welch (EM) over the
        sequences of X (``lengths``: their lengths, summing to the rows;
        None: one sequence).  ``sample_weight``: one non-negative weight per
        sequence (fastem's; hmmlearn has none): a sequence of weight w
        counts as w copies of it.  X may be a memory-mapped ``.npy``
        (``np.load(path, mmap_mode="r")``): it is then read a batch of
        sequences at a time, and the initialisation looks at its first
        ``INIT_ROWS`` rows only (give ``init_params=""`` and a start to fit
        data larger than memory from your own)."""
        self._validate_params()
        rows, X_init, bounds = self._rows(X, lengths, fit=True)
        seq_weight = self._check_sample_weight(sample_weight, bounds)
        self._init(X_init, np.diff(bounds))
        self._check()
        self.monitor_._reset()
        sequences.baum_welch(self, rows, bounds, _log, seq_weight)
        self.n_features_in_ = int(rows.shape[1]) if type(self) is not CategoricalHMM \
            else int(self.n_features)
        return self

    @staticmethod
    def _check_sample_weight(sample_weight, bounds):
        if sample_weight is None:
            return None
        n_seq = bounds.size - 1
        w = check_array(sample_weight, ensure_2d=False, dtype=np.float64,
                        input_name="sample_weight")
        if w.shape != (n_seq,):
            raise ValueError(f"sample_weight.shape == {w.shape}, expected {(n_seq,)}: one "
                             "weight per sequence")
        if np.any(w < 0):
            raise ValueError("Negative values in data passed to `sample_weight`")
        if not np.any((w > 0) & (np.diff(bounds) > 0)):
            raise ValueError("sample_weight gives no sequence with rows a positive weight")
        return w

    def _rows(self, X, lengths, fit):
        """``(rows, X_init, bounds)``: the rows the passes read (kernel-ready
        in memory, ``LazyRows`` of a memory-mapped array, ``DaskSequences``
        of a dask array), the rows the initialisation looks at, the
        sequences' row bounds."""
        if is_chunk_source(X):
            from .data.sequence_chunks import SequenceChunks

            if lengths is not None:
                raise ValueError("a sequence source's items give the sequences: pass "
                                 "lengths=None")
            rows = SequenceChunks(X, self._check_block, scan_check=self._check_rows)
            head = self._prepare_X(check_array(rows.head(INIT_ROWS)))
            if not fit:
                self._check_scored_X(head)
            return rows, head, rows.bounds
        if is_dask_array(X) or (isinstance(X, np.memmap) and X.ndim == 2
                                and X.dtype.kind in "biuf"):
            if is_dask_array(X):
                if X.ndim != 2:
                    raise ValueError(f"Expected a 2D dask array, got {X.ndim}D")
                if any(np.isnan(c) for c in X.chunks[0]):
                    X = X.compute_chunk_sizes()
            dtype = X.dtype if X.dtype in (np.float32, np.float64) else np.float64
            bounds = sequences.check_lengths(lengths, X.shape[0])
            if is_dask_array(X):
                from .data.dask_sequences import DaskSequences

                rows = DaskSequences(X, bounds, dtype, self._check_block)
                head = rows.head(INIT_ROWS)
            else:
                rows = sequences.LazyRows(X, dtype, self._check_block)
                head = np.asarray(X[:INIT_ROWS])
            head = self._prepare_X(check_array(head))
            if not fit:
                self._check_scored_X(head)
            return rows, head, bounds
        X = self._prepare_X(check_array(X))
        if not fit:
            self._check_scored_X(X)
        return self._kernel_X(X), X, sequences.check_lengths(lengths, X.shape[0])

    def _dask_task(self, rows):
        from .data.dask import Task

        return Task(emission=self._emission(), startprob=np.asarray(self.startprob_),
                    transmat=np.asarray(self.transmat_), dtype=rows.dtype,
                    bounds=rows.bounds, starts=rows.starts, check=rows.check)

    def _check_block(self, block):
        """A batch of an out-of-core X: finite, and values the emission
        takes (the checks scoring makes)."""
        block = self._check_rows(block)
        self._check_scored_X(block)
        return block

    def _check_rows(self, block):
        """Rows validated as an in-memory X is (finite, numeric, 2-D)."""
        return self._prepare_X(check_array(np.asarray(block)))

    def _kernel_X(self, X):
        dtype = X.dtype if X.dtype in (np.float32, np.float64) else np.float64
        return kernel_array(X, dtype)

    # ------------------------------------------------------------ scoring

    def _scored(self, X, lengths):
        check_is_fitted(self, "startprob_")
        self._check_implementation()
        self._check()
        rows, _, bounds = self._rows(X, lengths, fit=False)
        return rows, bounds

    def _check_scored_X(self, X):
        if hasattr(self, "n_features") and X.shape[1] != self.n_features:
            raise ValueError(f"Unexpected number of dimensions, got {X.shape[1]} but "
                             f"expected {self.n_features}")

    def _score(self, X, lengths, compute_posteriors):
        X, bounds = self._scored(X, lengths)
        if hasattr(X, "distributed_e_step"):  # a dask array or a sequence source
            stats = sequences.e_step(X, bounds, self._emission(), self.startprob_,
                                     self.transmat_, want_stats=False)
            posteriors = np.empty((0, self.n_components))
            if compute_posteriors and hasattr(X, "lazy"):  # a dask array of them
                from .data.dask_sequences import block_posteriors

                posteriors = X.lazy(block_posteriors, self._dask_task(X), self.n_components)
            elif compute_posteriors:
                posteriors = X.per_item(self._item_posteriors)
            return stats.sum_lpn, posteriors
        posteriors = np.empty((X.shape[0], self.n_components)) if compute_posteriors else None
        stats = sequences.e_step(X, bounds, self._emission(), self.startprob_, self.transmat_,
                                 want_stats=False, posteriors=posteriors)
        if not compute_posteriors:
            posteriors = np.empty((0, self.n_components))
        return stats.sum_lpn, posteriors

    def score_samples(self, X, lengths=None):
        """``(log_prob, posteriors)``: the log-likelihood of X and each row's
        posterior state probabilities."""
        return self._score(X, lengths, True)

    def score(self, X, lengths=None):
        """The log-likelihood of X under the model."""
        return self._score(X, lengths, False)[0]

    def decode(self, X, lengths=None, algorithm=None):
        """``(log_prob, state_sequence)``: the most likely states of each
        sequence ("viterbi": the most likely path and its log-probability;
        "map": each row's most likely state, and hmmlearn's sum of their
        posterior probabilities)."""
        check_is_fitted(self, "startprob_")
        self._check()
        algorithm = algorithm or self.algorithm
        if algorithm not in DECODER_ALGORITHMS:
            raise ValueError(f"Unknown decoder {algorithm!r}")
        if is_dask_array(X):
            return self._decode_dask(X, lengths, algorithm)
        if is_chunk_source(X):
            return self._decode_items(self._scored(X, lengths)[0], algorithm)
        if algorithm == "map":
            X, bounds = self._scored(X, lengths)
            posteriors = np.empty((X.shape[0], self.n_components))
            sequences.e_step(X, bounds, self._emission(), self.startprob_, self.transmat_,
                             want_stats=False, posteriors=posteriors)
            log_prob = 0.0
            for lo, hi in zip(bounds[:-1], bounds[1:]):
                log_prob += np.max(posteriors[lo:hi], axis=1).sum()
            return log_prob, np.argmax(posteriors, axis=1)
        X, bounds = self._scored(X, lengths)
        return sequences.viterbi(X, bounds, self._emission(), self.startprob_, self.transmat_)

    def _item_posteriors(self, X, local):
        out = np.empty((X.shape[0], self.n_components))
        sequences.e_step(X, local, self._emission(), self.startprob_, self.transmat_,
                         want_stats=False, posteriors=out)
        return out

    def _decode_items(self, rows, algorithm):
        """``decode`` of a sequence source, item by item."""
        log_prob, paths = 0.0, []
        for X, local, _ in rows.kernel_items():
            if algorithm == "map":
                post = self._item_posteriors(X, local)
                log_prob += post.max(axis=1).sum()
                paths.append(np.argmax(post, axis=1))
            else:
                lp, path = sequences.viterbi(X, local, self._emission(), self.startprob_,
                                             self.transmat_)
                log_prob += lp
                paths.append(path)
        return log_prob, np.concatenate(paths)

    def _decode_dask(self, X, lengths, algorithm, log_prob=True):
        """``decode`` of a dask array: the states as a dask array, the
        log-probability computed (unless ``log_prob`` is False: None)."""
        import dask

        from .data.dask_sequences import block_posteriors, block_viterbi, block_viterbi_lp

        rows, _ = self._scored(X, lengths)
        task = self._dask_task(rows)
        if algorithm == "map":
            posteriors = rows.lazy(block_posteriors, task, self.n_components)
            value = float(posteriors.max(axis=1).sum().compute()) if log_prob else None
            return value, posteriors.argmax(axis=1)
        path = rows.lazy(block_viterbi, task, dtype=np.int64)
        value = None
        if log_prob:
            blocks = rows.data.to_delayed().ravel()
            value = float(sum(dask.compute(*[dask.delayed(block_viterbi_lp)(b, task, i)
                                             for i, b in enumerate(blocks)])))
        return value, path

    def predict(self, X, lengths=None):
        """The most likely state of each row (``decode`` with ``algorithm``;
        a dask array of a dask array, computed a block at a time)."""
        if is_dask_array(X):
            check_is_fitted(self, "startprob_")
            self._check()
            return self._decode_dask(X, lengths, self.algorithm, log_prob=False)[1]
        return self.decode(X, lengths)[1]

    def predict_proba(self, X, lengths=None):
        """Each row's posterior state probabilities."""
        return self.score_samples(X, lengths)[1]

    # ------------------------------------------------------------ sampling

    def sample(self, n_samples=1, random_state=None, currstate=None):
        """``(X, state_sequence)``: ``n_samples`` rows drawn from the model
        (hmmlearn's draws for the same ``random_state``: a state, then its
        emission, row after row); ``currstate``: the state to start from."""
        check_is_fitted(self, "startprob_")
        self._check()
        if random_state is None:
            random_state = self.random_state
        random_state = check_random_state(random_state)
        transmat_cdf = np.cumsum(self.transmat_, axis=1)
        if currstate is None:
            startprob_cdf = np.cumsum(self.startprob_)
            currstate = (startprob_cdf > random_state.rand()).argmax()
        state_sequence = [currstate]
        X = [self._generate_sample_from_state(currstate, random_state)]
        for _ in range(n_samples - 1):
            currstate = (transmat_cdf[currstate] > random_state.rand()).argmax()
            state_sequence.append(currstate)
            X.append(self._generate_sample_from_state(currstate, random_state))
        return np.atleast_2d(X), np.array(state_sequence, dtype=int)

    # ----------------------------------------------------------- emission

    def _emission(self):
        """The emission of the current parameters.  A subclass of
        ``BaseHMM`` itself (hmmlearn's extension point) gives its per-state
        log-likelihoods by ``_compute_log_likelihood(X)``: the recursions
        then run on them as given, and its emission is not fitted."""
        if type(self)._compute_log_likelihood is not BaseHMM._compute_log_likelihood:
            return CallbackEmission(self._compute_log_likelihood)
        raise NotImplementedError("Must be overridden in subclass")

    def _compute_log_likelihood(self, X):
        """Per-state emission log-likelihoods of X, (n_samples, n_components)."""
        raise NotImplementedError("Must be overridden in subclass")

    def _check_emission_parameters(self):
        pass

    def _check_emission(self):
        pass

    def _prepare_X(self, X):
        return X

    def _emission_scalars(self):
        return {}

    def _init_emission(self, X, lengths):
        pass

    def _emission_m_step(self, emission, stats):
        pass

    def _generate_sample_from_state(self, state, random_state):
        return ()

    # ------------------------------------------------------------ criteria

    def get_stationary_distribution(self):
        """The stationary distribution of the states: the left eigenvector
        of ``transmat_`` for its largest eigenvalue, summing to 1."""
        check_is_fitted(self, "transmat_")
        eigvals, eigvecs = linalg.eig(self.transmat_.T)
        eigvec = np.real_if_close(eigvecs[:, np.argmax(eigvals)])
        return eigvec / eigvec.sum()

    def _n_parameters(self):
        return sum(self._get_n_fit_scalars_per_param().values())

    def aic(self, X, lengths=None):
        """Akaike's information criterion: -2 log p(X) + 2 n_parameters."""
        return -2 * self.score(X, lengths=lengths) + 2 * self._n_parameters()

    def bic(self, X, lengths=None):
        """The Bayesian information criterion: -2 log p(X) + n_parameters log
        n_samples."""
        return (-2 * self.score(X, lengths=lengths)
                + self._n_parameters() * np.log(len(X)))


class GaussianHMM(BaseHMM):
    """A hidden Markov model with Gaussian emissions: hmmlearn's
    ``GaussianHMM`` on fastem's engine (see the module docstring)."""

    def _family(self):
        return GaussianHMMFile()

    def __init__(self, n_components=1, covariance_type="diag", min_covar=1e-3,
                 startprob_prior=1.0, transmat_prior=1.0, means_prior=0, means_weight=0,
                 covars_prior=1e-2, covars_weight=1, algorithm="viterbi", random_state=None,
                 n_iter=10, tol=1e-2, verbose=False, params="stmc", init_params="stmc",
                 implementation="log", bound_check="warn"):
        super().__init__(n_components, startprob_prior=startprob_prior,
                         transmat_prior=transmat_prior, algorithm=algorithm,
                         random_state=random_state, n_iter=n_iter, tol=tol, params=params,
                         verbose=verbose, init_params=init_params,
                         implementation=implementation, bound_check=bound_check)
        self.covariance_type = covariance_type
        self.min_covar = min_covar
        self.means_prior = means_prior
        self.means_weight = means_weight
        self.covars_prior = covars_prior
        self.covars_weight = covars_weight

    @property
    def covars_(self):
        """The covariances as full matrices, one per state."""
        return fill_covars(self._covars_, self.covariance_type, self.n_components,
                           self.n_features)

    @covars_.setter
    def covars_(self, covars):
        covars = np.array(covars, copy=True)
        validate_covars(covars, self.covariance_type, self.n_components)
        self._covars_ = covars

    def _emission_scalars(self):
        nc, nf = self.n_components, self.n_features
        return {"m": nc * nf,
                "c": {"spherical": nc, "diag": nc * nf, "full": nc * nf * (nf + 1) // 2,
                      "tied": nf * (nf + 1) // 2}[self.covariance_type]}

    def _init_emission(self, X, lengths):
        from sklearn import cluster

        if self._needs_init("m", "means_"):
            kmeans = cluster.KMeans(n_clusters=self.n_components,
                                    random_state=self.random_state, n_init=10)
            kmeans.fit(X)
            self.means_ = kmeans.cluster_centers_
        if self._needs_init("c", "covars_"):
            cv = np.cov(X.T) + self.min_covar * np.eye(X.shape[1])
            if not cv.shape:
                cv.shape = (1, 1)
            self.covars_ = distribute_covars(cv, self.covariance_type,
                                             self.n_components).copy()

    def _check_emission_parameters(self):
        if self.covariance_type not in COVARIANCE_TYPES:
            raise ValueError(f"covariance_type must be one of {COVARIANCE_TYPES}")

    def _check_emission(self):
        self.means_ = np.asarray(self.means_)
        self.n_features = self.means_.shape[1]
        if self.covariance_type not in COVARIANCE_TYPES:
            raise ValueError(f"covariance_type must be one of {COVARIANCE_TYPES}")

    def _emission(self):
        return GaussianEmission(self.covariance_type, self.means_, self._covars_,
                                means_prior=self.means_prior, means_weight=self.means_weight,
                                covars_prior=self.covars_prior,
                                covars_weight=self.covars_weight)

    def _emission_m_step(self, emission, stats):
        means, covars = emission.m_step(stats, "m" in self.params, "c" in self.params)
        if "m" in self.params:
            self.means_ = means
        if "c" in self.params:
            self._covars_ = covars

    def _generate_sample_from_state(self, state, random_state):
        return random_state.multivariate_normal(self.means_[state], self.covars_[state])


class CategoricalHMM(BaseHMM):
    """A hidden Markov model with categorical emissions, one symbol (an
    integer code) per row: hmmlearn's ``CategoricalHMM`` on fastem's engine
    (the categorical family's kernels).  X has shape (n_samples, 1)."""

    def _family(self):
        return CategoricalHMMFile()

    def __init__(self, n_components=1, startprob_prior=1.0, transmat_prior=1.0, *,
                 emissionprob_prior=1.0, n_features=None, algorithm="viterbi",
                 random_state=None, n_iter=10, tol=1e-2, verbose=False, params="ste",
                 init_params="ste", implementation="log", bound_check="warn"):
        super().__init__(n_components, startprob_prior=startprob_prior,
                         transmat_prior=transmat_prior, algorithm=algorithm,
                         random_state=random_state, n_iter=n_iter, tol=tol, verbose=verbose,
                         params=params, init_params=init_params,
                         implementation=implementation, bound_check=bound_check)
        self.emissionprob_prior = emissionprob_prior
        self.n_features = n_features

    def _check_emission_parameters(self):
        n = self.n_features
        if n is not None and (isinstance(n, bool) or not isinstance(n, (int, np.integer))
                              or n < 1):
            raise ValueError(f"The 'n_features' parameter of CategoricalHMM must be None or "
                             f"an int >= 1. Got {n!r} instead.")

    def _prepare_X(self, X):
        if X.ndim == 2 and X.shape[1] != 1:
            raise ValueError("CategoricalHMM takes one symbol per row: X must have shape "
                             f"(n_samples, 1), got {X.shape}")
        return X

    def _check_and_set_n_features(self, X):
        if not np.issubdtype(X.dtype, np.integer):
            raise ValueError("Symbols should be integers")
        if X.min() < 0:
            raise ValueError("Symbols should be nonnegative")
        if self.n_features is not None:
            if self.n_features - 1 < X.max():
                raise ValueError(f"Largest symbol is {X.max()} but the model only emits "
                                 f"symbols up to {self.n_features - 1}")
        else:
            self.n_features = X.max() + 1

    def _check_scored_X(self, X):
        self._check_and_set_n_features(X)

    def _emission_scalars(self):
        nc, nf = self.n_components, self.n_features
        return {"e": nc * (nf - 1)}

    def _init_emission(self, X, lengths):
        self.random_state = check_random_state(self.random_state)
        if self._needs_init("e", "emissionprob_"):
            self.emissionprob_ = self.random_state.rand(self.n_components, self.n_features)
            sequences.normalize(self.emissionprob_, axis=1)

    def _check_emission(self):
        self.emissionprob_ = np.atleast_2d(self.emissionprob_)
        if self.n_features is None:
            self.n_features = self.emissionprob_.shape[1]
        if self.emissionprob_.shape != (self.n_components, self.n_features):
            raise ValueError(f"emissionprob_ must have shape"
                             f"({self.n_components}, {self.n_features})")
        self._check_sum_1("emissionprob_")

    def _emission(self):
        return CategoricalEmission(self.emissionprob_, self.emissionprob_prior)

    def _emission_m_step(self, emission, stats):
        if "e" in self.params:
            self.emissionprob_ = emission.m_step(stats)

    def _generate_sample_from_state(self, state, random_state):
        cdf = np.cumsum(self.emissionprob_[state, :])
        random_state = check_random_state(random_state)
        return [(cdf > random_state.rand()).argmax()]


class PoissonHMM(BaseHMM):
    """A hidden Markov model with independent Poisson counts as emissions:
    hmmlearn's ``PoissonHMM`` on fastem's engine (the Poisson family's
    kernels)."""

    def _family(self):
        return PoissonHMMFile()

    def __init__(self, n_components=1, startprob_prior=1.0, transmat_prior=1.0,
                 lambdas_prior=0.0, lambdas_weight=0.0, algorithm="viterbi", random_state=None,
                 n_iter=10, tol=1e-2, verbose=False, params="stl", init_params="stl",
                 implementation="log", bound_check="warn"):
        super().__init__(n_components, startprob_prior=startprob_prior,
                         transmat_prior=transmat_prior, algorithm=algorithm,
                         random_state=random_state, n_iter=n_iter, tol=tol, verbose=verbose,
                         params=params, init_params=init_params,
                         implementation=implementation, bound_check=bound_check)
        self.lambdas_prior = lambdas_prior
        self.lambdas_weight = lambdas_weight

    def _check_counts(self, X):
        if np.any(X < 0):
            raise ValueError("PoissonHMM takes counts: X must not hold negative values, got "
                             f"{float(X.min()):g}")
        bad = X != np.floor(X)
        if bad.any():
            raise ValueError("PoissonHMM takes counts: every value of X must be a "
                             f"non-negative integer, got {float(X[bad][0]):g}")

    def _check_scored_X(self, X):
        super()._check_scored_X(X)
        self._check_counts(X)

    def _emission_scalars(self):
        return {"l": self.n_components * self.n_features}

    def _init_emission(self, X, lengths):
        self._check_counts(X)
        self.random_state = check_random_state(self.random_state)
        mean_X = X.mean()
        var_X = X.var()
        if self._needs_init("l", "lambdas_"):
            # the method of moments, as hmmlearn
            self.lambdas_ = self.random_state.gamma(shape=mean_X**2 / var_X,
                                                    scale=var_X / mean_X,
                                                    size=(self.n_components, self.n_features))

    def _check_emission(self):
        self.lambdas_ = np.atleast_2d(self.lambdas_)
        n_features = getattr(self, "n_features", self.lambdas_.shape[1])
        if self.lambdas_.shape != (self.n_components, n_features):
            raise ValueError("lambdas_ must have shape (n_components, n_features)")
        self.n_features = n_features

    def _emission(self):
        return PoissonEmission(self.lambdas_, self.lambdas_prior, self.lambdas_weight)

    def _emission_m_step(self, emission, stats):
        if "l" in self.params:
            self.lambdas_ = emission.m_step(stats)

    def _generate_sample_from_state(self, state, random_state):
        return random_state.poisson(self.lambdas_[state])


class GMMHMM(BaseHMM):
    """A hidden Markov model whose states emit from Gaussian mixtures:
    hmmlearn's ``GMMHMM`` on fastem's engine (each state's mixture through
    the Gaussian family's fused kernel)."""

    def _family(self):
        return GMMHMMFile()

    def __init__(self, n_components=1, n_mix=1, min_covar=1e-3, startprob_prior=1.0,
                 transmat_prior=1.0, weights_prior=1.0, means_prior=0.0, means_weight=0.0,
                 covars_prior=None, covars_weight=None, algorithm="viterbi",
                 covariance_type="diag", random_state=None, n_iter=10, tol=1e-2,
                 verbose=False, params="stmcw", init_params="stmcw", implementation="log",
                 bound_check="warn"):
        super().__init__(n_components, startprob_prior=startprob_prior,
                         transmat_prior=transmat_prior, algorithm=algorithm,
                         random_state=random_state, n_iter=n_iter, tol=tol, verbose=verbose,
                         params=params, init_params=init_params,
                         implementation=implementation, bound_check=bound_check)
        self.covariance_type = covariance_type
        self.min_covar = min_covar
        self.n_mix = n_mix
        self.weights_prior = weights_prior
        self.means_prior = means_prior
        self.means_weight = means_weight
        self.covars_prior = covars_prior
        self.covars_weight = covars_weight

    def _check_emission_parameters(self):
        if self.covariance_type not in COVARIANCE_TYPES:
            raise ValueError(f"covariance_type must be one of {COVARIANCE_TYPES}")
        if isinstance(self.n_mix, bool) or not isinstance(self.n_mix, (int, np.integer)) \
                or self.n_mix < 1:
            raise ValueError(f"The 'n_mix' parameter of GMMHMM must be an int >= 1. Got "
                             f"{self.n_mix!r} instead.")

    def _emission_scalars(self):
        nc, nf, nm = self.n_components, self.n_features, self.n_mix
        return {"m": nc * nm * nf,
                "c": {"spherical": nc * nm, "diag": nc * nm * nf,
                      "full": nc * nm * nf * (nf + 1) // 2,
                      "tied": nc * nf * (nf + 1) // 2}[self.covariance_type],
                "w": nm - 1}

    def _init_covar_priors(self):
        """hmmlearn's defaults of the covariance priors (set on the
        estimator, as hmmlearn does)."""
        nf, nm = self.n_features, self.n_mix
        defaults = {"full": (0.0, -(1.0 + nf + 1.0)), "tied": (0.0, -(nm + nf + 1.0)),
                    "diag": (-1.5, 0.0), "spherical": (-(nm + 2.0) / 2.0, 0.0)}
        prior, weight = defaults[self.covariance_type]
        if self.covars_prior is None:
            self.covars_prior = prior
        if self.covars_weight is None:
            self.covars_weight = weight

    def _fix_priors_shape(self):
        nc, nf, nm = self.n_components, self.n_features, self.n_mix
        self.weights_prior = np.broadcast_to(self.weights_prior, (nc, nm)).copy()
        self.means_prior = np.broadcast_to(self.means_prior, (nc, nm, nf)).copy()
        self.means_weight = np.broadcast_to(self.means_weight, (nc, nm)).copy()
        shapes = {"full": ((nc, nm, nf, nf), (nc, nm)), "tied": ((nc, nf, nf), (nc,)),
                  "diag": ((nc, nm, nf), (nc, nm, nf)), "spherical": ((nc, nm), (nc, nm))}
        prior_shape, weight_shape = shapes[self.covariance_type]
        self.covars_prior = np.broadcast_to(self.covars_prior, prior_shape).copy()
        self.covars_weight = np.broadcast_to(self.covars_weight, weight_shape).copy()

    def _init(self, X, lengths=None):
        # hmmlearn's GMMHMM initialises the chain without the lengths
        super()._init(X, None)

    def _init_emission(self, X, lengths):
        from sklearn import cluster

        nc, nf, nm = self.n_components, self.n_features, self.n_mix

        def compute_cv():
            return np.cov(X.T) + self.min_covar * np.eye(nf)

        self._init_covar_priors()
        self._fix_priors_shape()
        main_kmeans = cluster.KMeans(n_clusters=nc, random_state=self.random_state, n_init=10)
        cv = None
        labels = main_kmeans.fit_predict(X)
        main_centroid = np.mean(main_kmeans.cluster_centers_, axis=0)
        means = []
        for label in range(nc):
            kmeans = cluster.KMeans(n_clusters=nm, random_state=self.random_state, n_init=10)
            X_cluster = X[np.where(labels == label)]
            if X_cluster.shape[0] >= nm:
                kmeans.fit(X_cluster)
                means.append(kmeans.cluster_centers_)
            else:
                if cv is None:
                    cv = compute_cv()
                # hmmlearn draws these from NumPy's global generator
                means.append(np.random.multivariate_normal(main_centroid, cov=cv, size=nm))
        if self._needs_init("w", "weights_"):
            self.weights_ = np.full((nc, nm), 1 / nm)
        if self._needs_init("m", "means_"):
            self.means_ = np.stack(means)
        if self._needs_init("c", "covars_"):
            if cv is None:
                cv = compute_cv()
            if not cv.shape:
                cv.shape = (1, 1)
            shape = {"tied": (nc, nf, nf), "full": (nc, nm, nf, nf), "diag": (nc, nm, nf),
                     "spherical": (nc, nm)}[self.covariance_type]
            value = {"tied": cv, "full": cv, "diag": np.diag(cv),
                     "spherical": cv.mean()}[self.covariance_type]
            self.covars_ = np.zeros(shape)
            self.covars_[:] = value

    def _check_emission(self):
        if not hasattr(self, "n_features"):
            self.n_features = self.means_.shape[2]
        nc, nf, nm = self.n_components, self.n_features, self.n_mix
        self._check_emission_parameters()
        self._init_covar_priors()
        self._fix_priors_shape()
        self.weights_ = np.array(self.weights_)
        if self.weights_.shape != (nc, nm):
            raise ValueError(f"weights_ must have shape (n_components, n_mix), actual shape: "
                             f"{self.weights_.shape}")
        self._check_sum_1("weights_")
        self.means_ = np.array(self.means_)
        if self.means_.shape != (nc, nm, nf):
            raise ValueError(f"means_ must have shape (n_components, n_mix, n_features), "
                             f"actual shape: {self.means_.shape}")
        self.covars_ = np.array(self.covars_)
        needed = {"spherical": (nc, nm), "tied": (nc, nf, nf), "diag": (nc, nm, nf),
                  "full": (nc, nm, nf, nf)}[self.covariance_type]
        if self.covars_.shape != needed:
            raise ValueError(f"{self.covariance_type!r} mixture covars must have shape "
                             f"{needed}, actual shape: {self.covars_.shape}")
        if self.covariance_type in ("spherical", "diag"):
            if np.any(self.covars_ < 0):
                raise ValueError(f"{self.covariance_type!r} mixture covars must be "
                                 "non-negative")
            if np.any(self.covars_ == 0):
                _log.warning("Degenerate mixture covariance")
        elif self.covariance_type == "tied":
            for i, covar in enumerate(self.covars_):
                self._check_matrix(covar, f"Covariance of state #{i}")
        else:
            for i, mix_covars in enumerate(self.covars_):
                for j, covar in enumerate(mix_covars):
                    self._check_matrix(covar, f"Covariance of state #{i}, mixture #{j}")

    @staticmethod
    def _check_matrix(covar, what):
        if not np.allclose(covar, covar.T):
            raise ValueError(f"{what} is not symmetric")
        min_eigvalsh = linalg.eigvalsh(covar).min()
        if min_eigvalsh < 0:
            raise ValueError(f"{what} is not positive definite")
        if min_eigvalsh == 0:
            _log.warning("%s has a null eigenvalue.", what)

    def _emission(self):
        return GaussianMixtureEmission(
            self.covariance_type, self.weights_, self.means_, self.covars_,
            weights_prior=self.weights_prior, means_prior=self.means_prior,
            means_weight=self.means_weight, covars_prior=self.covars_prior,
            covars_weight=self.covars_weight)

    def _emission_m_step(self, emission, stats):
        weights, means, covars = emission.m_step(stats, self.params)
        self.weights_, self.means_, self.covars_ = weights, means, covars

    def _generate_sample_from_state(self, state, random_state):
        cur_weights = self.weights_[state]
        i_gauss = random_state.choice(self.n_mix, p=cur_weights)
        if self.covariance_type == "tied":
            covs = self.covars_
        else:
            covs = fill_covars(self.covars_[:, i_gauss], self.covariance_type,
                               self.n_components, self.n_features)
        return random_state.multivariate_normal(self.means_[state, i_gauss], covs[state])
