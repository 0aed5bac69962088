"""``fastem.GaussianMixture``: scikit-learn's estimator on fused Numba kernels."""

import math
import warnings
from time import time

import numpy as np
from sklearn.base import BaseEstimator, DensityMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture as _SkGaussianMixture
from numbers import Integral, Real

from sklearn.utils import assert_all_finite, check_array, check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data
from sklearn import config_context, get_config

from . import _gaussian as G
from ._dask import DaskSource, is_dask_array, lazy_output
from ._kmeans import kmeans_labels, kmeans_plusplus
from ._sources import (
    ArraySource,
    ChunkSource,
    RowSource,
    is_chunk_source,
    is_out_of_core_array,
    progress_bar_factory,
    subsample_indices,
)
from ._threads import single_threaded_blas
from ._reseed import ReseedWarning, degenerate_components, reseed, reseed_message
from ._bound import (
    BoundDecreaseError,
    BoundDecreaseWarning,
    bound_drop_message,
    rounding_tolerance,
)


# --------------------------------------------------------------------------
# Validation of user-given initial parameters (scikit-learn's messages).


def _check_shape(param, param_shape, name):
    if param.shape != param_shape:
        raise ValueError(
            f"The parameter '{name}' should have the shape of {param_shape}, "
            f"but got {param.shape}"
        )


def _float_array(param, allow_nd=False):
    """``check_array(param, dtype=[float64, float32], ensure_2d=False, ...)``.

    A plain, finite, non-empty float32/float64 ndarray of 1 or 2 dimensions (3
    with ``allow_nd``) is what check_array would return unchanged, so it is
    returned at once: check_array's general path (dataframe detection and
    the like) costs a tenth of a millisecond per call, a visible share of a
    small fit. Anything else goes through check_array, for its conversions
    and its messages."""
    if (
        type(param) is np.ndarray
        and param.dtype in (np.float32, np.float64)
        and 1 <= param.ndim <= (3 if allow_nd else 2)
        and param.shape[0] >= 1
        and (param.ndim != 2 or param.shape[1] >= 1)
        and np.isfinite(param).all()
    ):
        return param
    return check_array(param, dtype=[np.float64, np.float32], ensure_2d=False,
                       allow_nd=allow_nd)


def _check_weights(weights, n_components):
    weights = _float_array(weights)
    _check_shape(weights, (n_components,), "weights")
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


def _check_means(means, n_components, n_features):
    means = _float_array(means)
    _check_shape(means, (n_components, n_features), "means")
    return means


def _check_precisions(precisions, covariance_type, n_components, n_features):
    precisions = _float_array(precisions, allow_nd=covariance_type == "full")
    shapes = {
        "full": (n_components, n_features, n_features),
        "tied": (n_features, n_features),
        "diag": (n_components, n_features),
        "spherical": (n_components,),
    }
    _check_shape(precisions, shapes[covariance_type], f"{covariance_type} precision")
    if covariance_type in ("diag", "spherical"):
        if np.any(precisions <= 0.0):
            raise ValueError(f"'{covariance_type} precision' should be positive")
    else:
        matrices = precisions if covariance_type == "full" else precisions[None]
        # np.allclose(matrix, matrix.T) and positive eigenvalues, for the
        # whole stack at once.
        transposed = np.swapaxes(matrices, 1, 2)
        symmetric = np.abs(matrices - transposed) <= 1e-8 + 1e-5 * np.abs(transposed)
        if not (np.all(symmetric) and np.all(np.linalg.eigvalsh(matrices) > 0.0)):
            raise ValueError(
                f"'{covariance_type} precision' should be symmetric, positive-definite"
            )
    return precisions


# --------------------------------------------------------------------------


#: init_max_samples="auto" for out-of-core data and chunk sources.
DEFAULT_INIT_MAX_SAMPLES = 1_000_000

#: Up to this many rows, 'random_from_data' draws as scikit-learn does
#: (``RandomState.choice``, which permutes every row index).
RANDOM_FROM_DATA_PERMUTATION_LIMIT = 10_000_000


def _one_hot_chunks(labels, n_components):
    """resp_chunk for hard labels (-1: no component)."""
    def resp_chunk(start, stop):
        lab = labels[start:stop]
        out = np.zeros((stop - start, n_components))
        rows = np.flatnonzero(lab >= 0)
        out[rows, lab[rows]] = 1.0
        return out
    return resp_chunk


def _seed_chunks(indices, n_components):
    """resp_chunk over the chosen rows taken in sorted order: the row at
    ``sorted(indices)[i]`` belongs to the component that chose it.  The
    statistics of those rows alone are those of all rows with the others at
    zero responsibility, bit for bit (a zero term adds exactly nothing)."""
    order = np.argsort(np.asarray(indices), kind="stable")
    return _one_hot_chunks(order.astype(np.intp), n_components)


def _weights_at(sw, indices, in_memory=False):
    """The sample weights of the rows ``indices`` (all rows: None) as a
    float64 array; None without weights.  A dask array stays one for all
    rows unless ``in_memory``."""
    if sw is None:
        return None
    if is_dask_array(sw):
        if indices is None and not in_memory:
            return sw
        picked = sw if indices is None else sw[np.asarray(indices)]
        return np.asarray(picked.compute(), dtype=np.float64)
    return sw if indices is None else sw[np.asarray(indices)]


class GaussianMixture(DensityMixin, BaseEstimator):
    """Gaussian mixture fitted by EM on fused, multi-threaded Numba kernels.

    A drop-in replacement for :class:`sklearn.mixture.GaussianMixture`: same
    parameters, attributes, methods, warnings and errors, and the same
    initial parameters for the same ``random_state``.  Every EM iteration is
    one pass over ``X`` that computes the responsibilities and the M-step's
    sufficient statistics together, in blocks, without an
    ``n_samples x n_components`` temporary.

    Parameters
    ----------
    n_components : int, default=1
        The number of mixture components.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}, default='full'
        The covariance parameters: one general matrix per component
        ('full'), one matrix shared by all ('tied'), one diagonal per
        component ('diag'), or one variance per component ('spherical').
    tol : float, default=1e-3
        EM stops when the change of the per-sample mean log-likelihood (the
        lower bound) is below this.
    reg_covar : float, default=1e-6
        Non-negative value added to the diagonal of every covariance.
    max_iter : int, default=100
        The number of EM iterations to perform.
    n_init : int, default=1
        The number of initialisations; the one with the highest bound is kept.
    init_params : {'kmeans', 'k-means++', 'random', 'random_from_data'}, \
            default='kmeans'
        How responsibilities are initialised (as scikit-learn, with the same
        random streams).
    weights_init : array-like of shape (n_components,), default=None
        User-provided initial weights.
    means_init : array-like of shape (n_components, n_features), default=None
        User-provided initial means.
    precisions_init : array-like, default=None
        User-provided initial precisions; shape as ``precisions_``.
    random_state : int, RandomState instance or None, default=None
        Seeds the initialisation and :meth:`sample`.
    warm_start : bool, default=False
        Start each ``fit`` from the previous solution (``n_init`` ignored).
    verbose : int, default=0
        1 prints each initialisation and iteration; 2 adds times and changes.
    verbose_interval : int, default=10
        Iterations between two prints.
    bound_check : {'warn', 'raise', 'ignore'}, default='warn'
        What to do when the lower bound decreases by more than ``reg_covar``
        and rounding can explain (EM guarantees it never decreases): emit a
        :class:`fastem.BoundDecreaseWarning`, raise a
        :class:`fastem.BoundDecreaseError`, or nothing.  Not a scikit-learn
        parameter; keyword-only and last, so scikit-learn code is unaffected.
    init_max_samples : int or "auto", default="auto"
        The most rows the 'kmeans' and 'k-means++' initialisations look at
        (at least ``n_components``): above it they run on a uniform random
        subsample of that many rows
        (drawn with ``random_state``), and EM then uses every row.  "auto":
        every row of an in-memory array (scikit-learn's behaviour), at most
        1,000,000 rows of an out-of-core array or chunk source.  Not a
        scikit-learn parameter (keyword-only).
    reseed : bool, default=False
        Recover from collapsed and empty components instead of failing:
        after each M-step (and the initialisation), a component with less
        than 2 samples' worth of responsibility, or whose covariance is not
        positive-definite, moves to the sample the other components explain
        worst, with their average covariance and weight
        ``1 / n_components``, and EM goes on; a :class:`fastem.ReseedWarning`
        says what was re-seeded.  scikit-learn has no such option (it raises
        "ill-defined empirical covariance", or keeps an empty component).
        Not a scikit-learn parameter (keyword-only).

    Attributes
    ----------
    weights_ : ndarray of shape (n_components,)
    means_ : ndarray of shape (n_components, n_features)
    covariances_ : ndarray
        (n_components, n_features, n_features) if 'full', (n_features,
        n_features) if 'tied', (n_components, n_features) if 'diag',
        (n_components,) if 'spherical'.
    precisions_ : ndarray
        Inverses of the covariances, same shapes.
    precisions_cholesky_ : ndarray
        Upper-triangular ``U`` with ``U @ U.T == precisions_`` (full, tied),
        or ``sqrt(precisions_)``.
    converged_ : bool
    n_iter_ : int
    lower_bound_ : float
        Mean log-likelihood per sample at the last E-step of the best run.
    lower_bounds_ : list of float
        The lower bound at every iteration of the best run.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Defined only when ``X`` has feature names that are all strings.

    Notes
    -----
    Every method taking ``X`` also accepts data that is not one in-memory
    array: a ``numpy.memmap`` (``np.load(path, mmap_mode="r")``), an h5py
    dataset, a zarr array, or a *chunk source* -- a function that returns a
    new iterable of 2-D row blocks each time it is called (every call the
    same rows in the same order).  Each EM iteration then streams the rows
    once, a chunk of about 8 MiB at a time; nothing copies the whole input.
    The fit equals that of the same rows in memory (same bits) when the
    initialisation sees the same rows; see ``init_max_samples``.
    """

    # scikit-learn's own constraint objects, so that every parameter error
    # reads exactly as scikit-learn's (the option sets print in its order).
    _parameter_constraints: dict = {
        **_SkGaussianMixture._parameter_constraints,
        "bound_check": [StrOptions({"warn", "raise", "ignore"})],
        "init_max_samples": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "reseed": ["boolean"],
    }

    def __init__(
        self,
        n_components=1,
        *,
        covariance_type="full",
        tol=1e-3,
        reg_covar=1e-6,
        max_iter=100,
        n_init=1,
        init_params="kmeans",
        weights_init=None,
        means_init=None,
        precisions_init=None,
        random_state=None,
        warm_start=False,
        verbose=0,
        verbose_interval=10,
        bound_check="warn",
        init_max_samples="auto",
        reseed=False,
    ):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weights_init = weights_init
        self.means_init = means_init
        self.precisions_init = precisions_init
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.verbose_interval = verbose_interval
        self.bound_check = bound_check
        self.init_max_samples = init_max_samples
        self.reseed = reseed

    # ------------------------------------------------------------------ fit

    def fit(self, X, y=None, sample_weight=None):
        """Estimate model parameters with the EM algorithm.

        Fits ``n_init`` times and keeps the run with the largest lower bound;
        each run iterates E- and M-steps until the bound changes by less than
        ``tol`` or ``max_iter`` is reached (then a ``ConvergenceWarning``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : Ignored
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each row (not in scikit-learn): the fit
            maximises ``sum_i w_i log p(x_i)``.  Integer weights give the
            model of the rows repeated that many times; a row of weight 0
            takes no part.  The initialisation uses them too: 'kmeans' and
            'k-means++' are weighted (scikit-learn's KMeans with
            ``sample_weight``), 'random_from_data' draws among the rows of
            positive weight.  ``lower_bound_`` is then the weighted mean
            log-likelihood.  For a dask ``X``, a dask or NumPy array.

        Returns
        -------
        self : object
        """
        # fit_predict's final E-step only labels the rows: fit has no use
        # for the labels, so it skips that pass over the data.
        self._fit_checked(X, labels=False, sample_weight=sample_weight)
        return self

    def fit_predict(self, X, y=None, sample_weight=None):
        """Estimate model parameters using X and predict the labels for X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : Ignored
        sample_weight : array-like of shape (n_samples,), default=None
            As in :meth:`fit`.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
        """
        return self._fit_checked(X, labels=True, sample_weight=sample_weight)

    def _fit_checked(self, X, labels, sample_weight=None):
        if not get_config()["skip_parameter_validation"]:
            self._validate_params()
        # A fit either completes or leaves the estimator as it found it:
        # an exception (a KeyboardInterrupt, an error raised by a chunk
        # source, an ill-defined covariance) puts back every fitted
        # attribute, so no half-updated model survives.  The BLAS thread
        # limit is a context manager and is restored on the way out too.
        saved = self._fitted_attributes()
        try:
            with config_context(skip_parameter_validation=True), single_threaded_blas():
                return self._fit_predict(X, labels, sample_weight)
        except BaseException:
            self._restore_fitted_attributes(saved)
            raise

    def _fitted_attributes(self):
        """The fitted state: public attributes ending in an underscore
        (scikit-learn's convention, ``n_features_in_`` included)."""
        return {name: value for name, value in vars(self).items()
                if name.endswith("_") and not name.startswith("_")}

    def _restore_fitted_attributes(self, saved):
        for name in list(self._fitted_attributes()):
            if name not in saved:
                delattr(self, name)
        for name, value in saved.items():
            setattr(self, name, value)

    def _fit_predict(self, X, labels=True, sample_weight=None):
        X = self._validate_X(X, reset=True)
        sw, positive = self._check_sample_weight(sample_weight, X)
        self._run_em(X, sw, positive)
        if not labels:
            return None
        # A final E-step, so that fit_predict(X) always equals fit(X).predict(X).
        if isinstance(X, DaskSource):
            return lazy_output(X, self._current_parameters(), self.covariance_type, "label")
        return self._predict_labels(X)

    def _run_em(self, X, sw, positive, on_pass=None):
        """``_em_steps`` with each pass it asks for made at once;
        ``on_pass(stats, seconds)``, if given, hears of each."""
        steps = self._em_steps(X, sw, positive)
        try:
            params = next(steps)
            while True:
                started = time()
                stats = G.gaussian_pass(X, params, self.covariance_type, want_stats=True,
                                        sample_weight=sw)
                if on_pass is not None:
                    on_pass(stats, time() - started)
                params = steps.send(stats)
        except StopIteration:
            pass

    def _em_steps(self, X, sw, positive, tied=None):
        """The fit on validated ``X`` and sample weights (``positive`` of
        them > 0), as a generator: it yields the parameters of each E-step
        it needs and is sent that pass's ``Stats`` back (``fastem.select``
        serves several fits' passes with one read of the data, and may give
        the tied scatter it computed once); the fitted attributes are set
        when it finishes."""
        n_samples, n_features = X.shape
        if n_samples < self.n_components:
            raise ValueError(
                "Expected n_samples >= n_components "
                f"but got n_components = {self.n_components}, "
                f"n_samples = {n_samples}"
            )
        if positive < self.n_components:
            raise ValueError(
                f"Expected at least n_components = {self.n_components} rows with a positive "
                f"sample_weight, but got {positive}."
            )
        inits = self._check_initial_parameters(n_features)
        # As in scikit-learn, float64 initial parameters make a float64 model
        # even for float32 data (NumPy's promotion decides every array).
        dtype = G.compute_dtype(X.dtype, *(a.dtype for a in inits if a is not None))
        if isinstance(sw, np.ndarray):
            # Once in the passes' dtype, so that no pass converts them again.
            sw = G.kernel_array(sw, dtype)

        do_init = not (self.warm_start and hasattr(self, "converged_"))
        n_init = self.n_init if do_init else 1
        random_state = check_random_state(self.random_state)
        if self.covariance_type != "tied":
            tied = None
        elif tied is None:
            tied = G.tied_scatter(X, sw)

        max_lower_bound = -np.inf
        best = None
        best_converged = False
        reseeds = []  # (where, components, nk, rows) of every run
        for init in range(n_init):
            self._init_index = init  # read by the command line's progress lines
            self._print_verbose_msg_init_beg(init)
            events = []
            if do_init:
                params = self._initial_parameters(X, sw, random_state, inits, tied, dtype,
                                                  events)
            else:
                params = self._current_parameters()
            lower_bound = -np.inf if do_init else self.lower_bound_
            lower_bounds = []
            converged = False
            loss = None
            log_mass = 0.0
            for n_iter in range(1, self.max_iter + 1):
                prev_lower_bound = lower_bound
                # Weights that sum to 1 + delta (weights_init is accepted
                # within 1e-6 of 1) lift that bound by log(1 + delta); the
                # M-step's weights sum to 1, so the next bound may be lower
                # by as much.
                prev_log_mass, log_mass = log_mass, math.log(
                    math.fsum(np.asarray(params.weights, dtype=np.float64)))
                stats = yield params
                lower_bound = dtype.type(stats.sum_lpn / stats.n_samples)
                if loss is not None:
                    self._check_bound(n_iter, prev_lower_bound, lower_bound, loss, stats, dtype,
                                      max(0.0, prev_log_mass - log_mass))
                seen = len(events)
                params, loss = self._m_step(stats, tied, dtype, X.dtype, X, sw, n_iter, events)
                reseeded = len(events) > seen
                if reseeded:
                    loss = None  # a jump outside EM: the next bound may be lower
                lower_bounds.append(lower_bound)
                change = lower_bound - prev_lower_bound
                self._print_verbose_msg_iter_end(n_iter, change, lower_bound, n_samples)
                if abs(change) < self.tol and not reseeded:
                    converged = True
                    break
            reseeds.extend(events)
            if self.max_iter == 0:
                # Initialisation only: keep the last one, with no bound (as scikit-learn).
                best = (params, 0, [])
                continue
            self._print_verbose_msg_init_end(lower_bound, converged)
            if lower_bound > max_lower_bound or max_lower_bound == -np.inf:
                max_lower_bound = lower_bound
                best = (params, n_iter, lower_bounds)
                best_converged = converged

        if reseeds:
            warnings.warn(reseed_message(reseeds), ReseedWarning, stacklevel=4)
        if not best_converged and self.max_iter > 0:
            warnings.warn(
                "Best performing initialization did not converge. "
                "Try different init parameters, or increase max_iter, "
                "tol, or check for degenerate data.",
                ConvergenceWarning,
            )

        params, self.n_iter_, self.lower_bounds_ = best
        self._set_parameters(params)
        self.lower_bound_ = max_lower_bound
        self.converged_ = best_converged

    def _check_sample_weight(self, sample_weight, X):
        """``(weights, n_positive)``: None, or the weights as float64 (a dask
        array for a dask X): 1-D, one per row, finite, non-negative, not all
        zero; and how many are positive.  Messages as scikit-learn's
        ``sample_weight`` checks in other estimators."""
        if sample_weight is None:
            return None, X.shape[0]
        n_samples = X.shape[0]
        if isinstance(X, DaskSource) and is_dask_array(sample_weight):
            w = sample_weight
        elif isinstance(sample_weight, (Real, np.number)) and not isinstance(sample_weight, bool):
            w = np.full(n_samples, float(sample_weight))
        else:
            w = check_array(sample_weight, ensure_2d=False, dtype=np.float64,
                            input_name="sample_weight", ensure_min_samples=0)
        if w.ndim != 1:
            raise ValueError("Sample weights must be 1D array or scalar")
        if tuple(w.shape) != (n_samples,):
            raise ValueError(
                f"sample_weight.shape == {tuple(w.shape)}, expected {(n_samples,)}!")
        if isinstance(X, DaskSource):
            import dask
            import dask.array as da

            w = X.weights_like_rows(w).astype(np.float64)
            nan, inf, lowest, positive = dask.compute(
                da.isnan(w).any(), da.isinf(w).any(), w.min(), (w > 0).sum())
            for found, value in zip((nan, inf), (np.nan, np.inf)):
                if found:
                    assert_all_finite(np.array([value]), input_name="sample_weight")
        else:
            lowest, positive = w.min(), int(np.count_nonzero(w > 0))
        if lowest < 0:
            raise ValueError("Negative values in data passed to sample_weight")
        if positive == 0:
            raise ValueError("Sample weights must contain at least one non-zero number.")
        return w, int(positive)

    def _check_initial_parameters(self, n_features):
        """Validated copies of the ``*_init`` arrays (the parameters stay untouched)."""
        weights = means = precisions = None
        if self.weights_init is not None:
            weights = _check_weights(self.weights_init, self.n_components)
        if self.means_init is not None:
            means = _check_means(self.means_init, self.n_components, n_features)
        if self.precisions_init is not None:
            precisions = _check_precisions(
                self.precisions_init, self.covariance_type, self.n_components, n_features
            )
        return weights, means, precisions

    def _init_rows(self, X, sw, random_state):
        """The rows 'kmeans' and 'k-means++' look at, and their weights: X
        itself, or (beyond ``init_max_samples``, or out of core) an
        in-memory array of at most that many rows, uniformly subsampled with
        ``random_state``."""
        n_samples = X.shape[0]
        limit = self.init_max_samples
        if limit == "auto":
            if not isinstance(X, RowSource):
                return X, _weights_at(sw, None)
            limit = DEFAULT_INIT_MAX_SAMPLES
        limit = max(limit, self.n_components)  # k-means needs a row per cluster
        if n_samples <= limit:
            if not isinstance(X, RowSource):
                return X, _weights_at(sw, None)
            return X.take(np.arange(n_samples)), _weights_at(sw, None)
        indices = subsample_indices(n_samples, limit, random_state)
        rows = np.asarray(X[indices]) if not isinstance(X, RowSource) else X.take(indices)
        return rows, _weights_at(sw, indices)

    def _initial_labels(self, X, sw, random_state):
        """How the initial statistics are taken: ``(rows, resp_chunk,
        row_weights, n_samples, every_row)`` -- the statistics of ``rows``
        under the responsibilities ``resp_chunk(start, stop)`` gives (times
        ``row_weights``), with weights divided by ``n_samples`` (scikit-learn
        divides by all rows even when only a few have a responsibility);
        ``every_row``: whether every row of X has responsibilities summing
        to 1 in them."""
        n_samples = X.shape[0]
        total = G.total_weight(n_samples, sw)
        K = self.n_components
        if self.init_params == "random":
            # Drawn a slice at a time, in order, from the same stream as
            # scikit-learn's one (n_samples, K) draw; each pass over the rows
            # replays it, and the state ends as after that one draw.
            start_state = random_state.get_state()

            def resp_chunk(start, stop):
                if start == 0:
                    random_state.set_state(start_state)
                resp = np.asarray(random_state.uniform(size=(stop - start, K)), dtype=X.dtype)
                resp /= np.sum(resp, axis=1)[:, np.newaxis]
                return resp

            return X, resp_chunk, sw, total, True
        if self.init_params == "random_from_data":
            if sw is not None:
                # scikit-learn's draw among the rows that take part (weight
                # > 0): with every weight positive, its very draw.
                w = _weights_at(sw, None, in_memory=True)
                taking_part = np.flatnonzero(w > 0)
                indices = taking_part[random_state.choice(taking_part.size, size=K,
                                                          replace=False)]
            elif n_samples <= RANDOM_FROM_DATA_PERMUTATION_LIMIT or not isinstance(X, RowSource):
                indices = random_state.choice(n_samples, size=K, replace=False)
            else:
                # RandomState.choice would permute every row index.
                indices = random_state.permutation(subsample_indices(n_samples, K, random_state))
        else:
            rows, row_w = self._init_rows(X, sw, random_state)
            if self.init_params == "kmeans":
                row_w = _weights_at(row_w, None, in_memory=True)
                labels = kmeans_labels(rows, K, random_state, sample_weight=row_w)
                return (rows, _one_hot_chunks(labels, K), row_w,
                        G.total_weight(rows.shape[0], row_w), True)
            row_w = _weights_at(row_w, None, in_memory=True)
            chosen, _ = kmeans_plusplus(rows, K, random_state, sample_weight=row_w)
            order = np.sort(chosen)
            chosen_w = None if row_w is None else row_w[order]
            return (np.asarray(rows[order]), _seed_chunks(chosen, K), chosen_w, total, False)
        order = np.sort(indices)
        chosen_rows = X.take(order) if isinstance(X, RowSource) else np.asarray(X[order])
        return chosen_rows, _seed_chunks(indices, K), _weights_at(sw, order), total, False

    def _initial_parameters(self, X, sw, random_state, inits, tied, model_dtype, events):
        weights_init, means_init, precisions_init = inits
        dtype = X.dtype
        n_samples, n_features = X.shape
        K = self.n_components
        weights = means = covariances = None
        if weights_init is None or means_init is None or precisions_init is None:
            rows, resp_chunk, row_w, n_weighted, every_row = self._initial_labels(
                X, sw, random_state)
            second = "full" if self.covariance_type == "full" else "diag"
            # Two passes: the means first, then the scatter around them.
            first = G.resp_stats(rows, resp_chunk, np.zeros((K, n_features)), "diag", row_w)
            shift = (first.sum_x / (first.nk + 10 * np.finfo(dtype).eps)[:, None])
            stats = G.resp_stats(rows, resp_chunk, shift, second, row_w)._replace(
                n_samples=n_weighted)
            if tied is not None and rows is not X and every_row:
                # 'kmeans' on a subsample: its own total scatter, as if it were X.
                tied = G.tied_scatter(rows, row_w)
            weights, means, covariances, _ = G.m_step(
                stats, self.covariance_type, self.reg_covar, dtype, tied=tied,
                weights_by="n_samples", every_row=every_row,
            )
            if self.reseed:
                weights, means, covariances = self._reseed(
                    X, sw, weights, means, covariances, stats.nk, dtype, "initialisation",
                    events)
        if weights_init is not None:
            weights = np.asarray(weights_init, dtype=np.float64)
        if means_init is not None:
            means = np.asarray(means_init, dtype=np.float64)
        if precisions_init is None:
            prec_chol = G.precision_cholesky(covariances, self.covariance_type, dtype)
        else:
            prec_chol = G.precision_cholesky_from_precisions(precisions_init, self.covariance_type)
            covariances = G.covariances_from_cholesky(prec_chol, self.covariance_type)
        return self._cast(weights, means, covariances, prec_chol, model_dtype)

    @staticmethod
    def _cast(weights, means, covariances, prec_chol, dtype, cov_dtype=None):
        cov_dtype = dtype if cov_dtype is None else cov_dtype
        return G.Params(
            np.asarray(weights, dtype=dtype),
            np.asarray(means, dtype=dtype),
            np.asarray(covariances, dtype=cov_dtype),
            np.asarray(prec_chol, dtype=cov_dtype),
        )

    def _m_step(self, stats, tied, dtype, data_dtype, X=None, sw=None, n_iter=None,
                events=None):
        weights, means, covariances, loss = G.m_step(
            stats, self.covariance_type, self.reg_covar, dtype, tied=tied
        )
        if self.reseed and X is not None:
            weights, means, covariances = self._reseed(
                X, sw, weights, means, covariances, stats.nk, dtype, n_iter, events)
        prec_chol = G.precision_cholesky(covariances, self.covariance_type, dtype)
        # scikit-learn allocates full covariances in the data's dtype, even
        # when float64 initial parameters promote the rest of the model.
        cov_dtype = data_dtype if self.covariance_type == "full" else dtype
        return self._cast(weights, means, covariances, prec_chol, dtype, cov_dtype), loss

    def _reseed(self, X, sw, weights, means, covariances, nk, dtype, where, events):
        """The M-step's parameters with degenerate components re-seeded
        (``fastem._reseed``), the event appended to ``events``."""
        bad = degenerate_components(nk, covariances, self.covariance_type)
        if bad.size == 0:
            return weights, means, covariances
        new = reseed(X, weights, means, covariances, nk, self.covariance_type, dtype, bad, sw)
        if new is None:  # nothing healthy to re-seed from: fail as usual
            return weights, means, covariances
        weights, means, covariances, rows = new
        events.append((where, bad.tolist(), nk[bad].tolist(), rows.tolist()))
        return weights, means, covariances

    def _check_bound(self, n_iter, previous, current, loss, stats, dtype, slack=0.0):
        if self.bound_check == "ignore":
            return
        n_features = stats.sum_x.shape[1]
        allowed = loss / stats.n_samples + slack + rounding_tolerance(
            dtype, n_features, stats.sum_abs_lpn / stats.n_samples
        )
        if not previous - current > allowed:
            return
        message = bound_drop_message(n_iter, previous, current, allowed, dtype)
        if self.bound_check == "raise":
            raise BoundDecreaseError(message)
        warnings.warn(message, BoundDecreaseWarning, stacklevel=4)

    # ---------------------------------------------------- fitted parameters

    def _current_parameters(self):
        return G.Params(self.weights_, self.means_, self.covariances_, self.precisions_cholesky_)

    def _set_parameters(self, params):
        self.weights_, self.means_, self.covariances_, self.precisions_cholesky_ = params
        self.precisions_ = G.precisions_from_cholesky(
            self.precisions_cholesky_, self.covariance_type
        )

    def _n_parameters(self):
        """Number of free parameters in the model."""
        _, n_features = self.means_.shape
        if self.covariance_type == "full":
            cov_params = self.n_components * n_features * (n_features + 1) / 2.0
        elif self.covariance_type == "diag":
            cov_params = self.n_components * n_features
        elif self.covariance_type == "tied":
            cov_params = n_features * (n_features + 1) / 2.0
        else:
            cov_params = self.n_components
        mean_params = n_features * self.n_components
        return int(cov_params + mean_params + self.n_components - 1)

    # ------------------------------------------------------------ inference

    def _validated(self, X, lazy=False):
        check_is_fitted(self)
        return self._validate_X(X, reset=False, lazy=lazy)

    def _lazy(self, X, output):
        """For a dask array, the per-row output as a lazy dask array; else None."""
        if not is_dask_array(X):
            return None
        source = self._validated(X, lazy=True)
        return lazy_output(source, self._current_parameters(), self.covariance_type, output)

    def _validate_X(self, X, reset, lazy=False):
        """X checked as scikit-learn checks it (``fit``: float64/float32, at
        least 2 rows); out-of-core arrays and chunk sources come back as a
        ``RowSource``, checked a chunk at a time, never loaded whole; dask
        arrays as a ``DaskSource``, checked on the cluster (with ``lazy``,
        their values only when each block is computed)."""
        if isinstance(X, RowSource):
            source = X
        elif is_dask_array(X):
            source = DaskSource(X)
        elif is_out_of_core_array(X):
            source = ArraySource(X)
        elif is_chunk_source(X):
            source = ChunkSource(X)
        elif reset:
            return validate_data(self, X, dtype=[np.float64, np.float32], ensure_min_samples=2)
        else:
            X = validate_data(self, X, reset=False)
            if X.dtype.kind in "mM":
                # Dates and durations pass scikit-learn's validation of new
                # data and fail in its scoring's first product with the
                # model: the same product, on no rows, raises the same error.
                X[:0] @ np.zeros((X.shape[1], 0), dtype=self.means_.dtype)
            return X
        min_samples = 2 if reset else 1

        def check_block(block):
            try:
                return check_array(block, dtype=[np.float64, np.float32], estimator=self,
                                   input_name="X")
            except ValueError:
                if isinstance(getattr(source, "data", None), np.memmap):
                    # scikit-learn's message shows the whole array: check
                    # the memmap itself (a view; the check stops at the
                    # first problem, before reading every row).
                    check_array(np.asarray(source.data), dtype=[np.float64, np.float32],
                                estimator=self, input_name="X")
                raise

        if isinstance(source, ChunkSource):
            if source.shape is None:
                source.scan(check_block)
            checked = True
        elif isinstance(source, DaskSource):
            if len(source.shape) != 2:
                check_block(np.asarray(source.data[:3].compute()))
            if source.shape[0] > 0:
                check_block(source.head(2))
            checked = lazy
        else:
            data = source.data
            if len(source.shape) != 2:
                check_block(np.asarray(data[:3]))  # scikit-learn's "Expected 2D array"
            if source.shape[0] > 0:
                check_block(np.asarray(data[:2]))  # dtype: complex, strings, objects
            checked = False
        if not isinstance(source, DaskSource):
            source.progress = progress_bar_factory(self.verbose)
        n_samples, n_features = source.shape
        name = type(self).__name__
        if n_samples < min_samples:
            raise ValueError(
                f"Found array with {n_samples} sample(s) (shape={source.shape}) while a "
                f"minimum of {min_samples} is required by {name}."
            )
        if n_features < 1:
            raise ValueError(
                f"Found array with {n_features} feature(s) (shape={source.shape}) while a "
                f"minimum of 1 is required by {name}."
            )
        # n_features_in_ and feature names (none here) as scikit-learn sets
        # and checks them, on a stand-in of the same width.
        validate_data(self, np.zeros((2, n_features)), reset=reset)
        if checked:
            return source
        if isinstance(source, DaskSource):
            for found, value in zip(source.non_finite(), (np.nan, np.inf)):
                if found:  # scikit-learn's message for that kind of value
                    assert_all_finite(np.array([[value]]), allow_nan=False,
                                      estimator_name=name, input_name="X")
            return source
        for _, _, chunk in source.iter_chunks(source.dtype):
            assert_all_finite(chunk, allow_nan=False, estimator_name=name, input_name="X")
        return source

    def _output_dtype(self, X):
        return G.compute_dtype(X.dtype, self.means_.dtype)

    def _pass(self, X, **outputs):
        with single_threaded_blas():
            return G.gaussian_pass(X, self._current_parameters(), self.covariance_type,
                                   want_stats=False, **outputs)

    def _predict_labels(self, X):
        labels = np.empty(X.shape[0], dtype=np.intp)
        self._pass(X, out_label=labels)
        return labels

    def score_samples(self, X):
        """Log-likelihood of each sample under the model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        log_prob : ndarray of shape (n_samples,)
            A lazy dask array when ``X`` is one.
        """
        lazy = self._lazy(X, "lpn")
        if lazy is not None:
            return lazy
        X = self._validated(X)
        out = np.empty(X.shape[0], dtype=self._output_dtype(X))
        self._pass(X, out_lpn=out)
        return out

    def score(self, X, y=None):
        """Per-sample average log-likelihood of X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : Ignored

        Returns
        -------
        log_likelihood : float
        """
        return self._score_and_rows(X)[0]

    def _score_and_rows(self, X):
        X = self._validated(X)
        return float(self._pass(X).sum_lpn / X.shape[0]), X.shape[0]

    def predict(self, X):
        """Most probable component of each sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            A lazy dask array when ``X`` is one.
        """
        lazy = self._lazy(X, "label")
        if lazy is not None:
            return lazy
        return self._predict_labels(self._validated(X))

    def predict_proba(self, X):
        """Posterior probability of each component for each sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        resp : ndarray of shape (n_samples, n_components)
            A lazy dask array when ``X`` is one.
        """
        lazy = self._lazy(X, "resp")
        if lazy is not None:
            return lazy
        X = self._validated(X)
        out = np.empty((X.shape[0], self.n_components), dtype=self._output_dtype(X))
        self._pass(X, out_resp=out)
        return out

    def sample(self, n_samples=1):
        """Generate random samples from the fitted mixture.

        Parameters
        ----------
        n_samples : int, default=1

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
        y : ndarray of shape (n_samples,)
            Component labels.
        """
        check_is_fitted(self)
        if n_samples < 1:
            raise ValueError(
                "Invalid value for 'n_samples': %d . The sampling requires at "
                "least one sample." % (self.n_components)
            )
        _, n_features = self.means_.shape
        rng = check_random_state(self.random_state)
        counts = rng.multinomial(n_samples, self.weights_)
        if self.covariance_type == "full":
            parts = [rng.multivariate_normal(m, c, int(s))
                     for m, c, s in zip(self.means_, self.covariances_, counts)]
        elif self.covariance_type == "tied":
            parts = [rng.multivariate_normal(m, self.covariances_, int(s))
                     for m, s in zip(self.means_, counts)]
        else:
            parts = [m + rng.standard_normal(size=(s, n_features)) * np.sqrt(c)
                     for m, c, s in zip(self.means_, self.covariances_, counts)]
        X = np.vstack(parts).astype(np.float64, copy=False)
        y = np.concatenate([np.full(int(s), i, dtype=np.int64) for i, s in enumerate(counts)])
        return X, y

    def bic(self, X):
        """Bayesian information criterion on X (lower is better).

        Parameters
        ----------
        X : array of shape (n_samples, n_features)

        Returns
        -------
        bic : float
        """
        score, n = self._score_and_rows(X)
        return -2 * score * n + self._n_parameters() * math.log(n)

    def aic(self, X):
        """Akaike information criterion on X (lower is better).

        Parameters
        ----------
        X : array of shape (n_samples, n_features)

        Returns
        -------
        aic : float
        """
        score, n = self._score_and_rows(X)
        return -2 * score * n + 2 * self._n_parameters()

    # ---------------------------------------------------------- persistence

    def save(self, file):
        """Write the fitted model to ``file`` (a path or a binary file), in
        fastem's versioned ``.npz`` format: no pickle, checked on
        :func:`fastem.load`.  (Pickling the estimator works as well.)

        Parameters
        ----------
        file : str, path-like or binary file object
        """
        from ._persistence import save_model

        save_model(self, file)

    # -------------------------------------------------------------- verbose

    def _print_verbose_msg_init_beg(self, n_init):
        if self.verbose == 1:
            print("Initialization %d" % n_init)
        elif self.verbose >= 2:
            print("Initialization %d" % n_init)
            self._init_prev_time = time()
            self._iter_prev_time = self._init_prev_time

    def _print_verbose_msg_iter_end(self, n_iter, diff_ll, lower_bound=None, n_samples=None):
        if n_iter % self.verbose_interval == 0:
            if self.verbose == 1:
                print("  Iteration %d" % n_iter)
            elif self.verbose >= 2:
                # scikit-learn's line, then the bound and the rows per second
                # of the iterations since the last line.
                cur_time = time()
                lapse = cur_time - self._iter_prev_time
                line = "  Iteration %d\t time lapse %.5fs\t ll change %.5f" % (
                    n_iter, lapse, diff_ll)
                if lower_bound is not None:
                    rate = n_samples * self.verbose_interval / lapse if lapse > 0 else np.inf
                    line += "\t lower bound %.5f\t %.3g rows/s" % (lower_bound, rate)
                print(line)
                self._iter_prev_time = cur_time

    def _print_verbose_msg_init_end(self, lb, init_has_converged):
        converged_msg = "converged" if init_has_converged else "did not converge"
        if self.verbose == 1:
            print(f"Initialization {converged_msg}.")
        elif self.verbose >= 2:
            t = time() - self._init_prev_time
            print(f"Initialization {converged_msg}. time lapse {t:.5f}s\t lower bound {lb:.5f}.")


__all__ = ["GaussianMixture", "BoundDecreaseWarning", "BoundDecreaseError"]
