"""The estimator every fastem model is: scikit-learn's mixture API on the engine.

``MixtureEstimator`` holds everything a mixture estimator does that is not
its family's: ``fit`` and ``fit_predict`` (all-or-nothing), validation of X
and of sample weights for every kind of data, the inference methods, saving,
and scikit-learn's verbose lines.  A model is a subclass that stores its
constructor parameters and says which family it is (``_family()``).
"""

import math
from numbers import Integral, Real
from time import time

import numpy as np
from sklearn import config_context, get_config
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from ..data import validation
from ..data.dask import DaskSource, is_dask_array, lazy_output
from . import passes
from .em import em_steps, run_em
from .init import InitialResponsibilities, initial_responsibilities
from .threads import single_threaded_blas

#: The constraints of the engine's own keyword-only parameters.
ENGINE_CONSTRAINTS = {
    "bound_check": [StrOptions({"warn", "raise", "ignore"})],
    "init_max_samples": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
    "reseed": ["boolean"],
    "learning_method": [StrOptions({"batch", "incremental", "online"})],
    "batch_size": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
    # LatentDirichletAllocation's, whose convention these parameters follow.
    "learning_decay": [Interval(Real, 0, 1, closed="both")],
    "learning_offset": [Interval(Real, 1.0, None, closed="left")],
    "total_samples": [Interval(Real, 0, None, closed="neither")],
}


#: The parameter of the models that take missing values.
MISSING_CONSTRAINTS = {"missing": [StrOptions({"raise", "marginalize"})]}

#: Its documentation.
MISSING_DOC = """
    missing : {'raise', 'marginalize'}, default='raise'
        What NaN in ``X`` means.  'raise': an error, as scikit-learn's.
        'marginalize': a missing value.  EM then treats the missing
        coordinates as latent variables: each row's log-likelihood and
        responsibilities come from its marginal density over its observed
        coordinates, and the M-step uses the expected sufficient
        statistics (what each missing coordinate contributes is its
        conditional expectation given the row's observed ones, under each
        component: for a Gaussian component its conditional mean, and its
        conditional covariance in the second moments; for features
        independent given the component, the component's mean).  ``predict``,
        ``predict_proba``, ``score_samples``, ``score`` (and ``bic`` and
        ``aic``, where the model has them) then take rows with NaN too
        (the marginal), and :meth:`impute` fills them in.  A row with no observed value has
        likelihood 1 under every model: it adds nothing to the fit
        (counted in ``n_rows_all_missing_``); a feature with no observed
        value is an error.  Infinity stays an error.  Not a scikit-learn
        parameter (keyword-only).
"""

#: The documentation of the learning parameters every model has.
LEARNING_DOC = """
    learning_method : {'batch', 'incremental', 'online'}, default='batch'
        'batch': EM, one pass over all rows per iteration.  'incremental':
        Neal and Hinton's incremental EM -- the rows in blocks of
        ``batch_size``, each block's statistics kept; a step recomputes one
        block's under the current parameters and runs the M-step on the
        total, so a pass makes as many M-steps as there are blocks (often
        reaching the optimum in fewer passes: for data read from disk).  Its
        bound F(q, theta) is exact after every step and checked per block;
        ``n_iter_`` counts passes, ``tol`` applies to F's change over a pass.
        Its first pass, before every block has statistics, is stepwise EM
        on quarter blocks.
        'online': stepwise EM over mini-batches of ``batch_size`` rows (as
        :meth:`partial_fit`), initialised on the first one, ``max_iter``
        passes; for streams and a good model in one pass.  Neither takes
        ``reseed``; a tied Gaussian model's passes then keep per-component
        second moments (the full kernel), as its blocks need them.
        Not a scikit-learn parameter (keyword-only), named after
        ``LatentDirichletAllocation``'s.
    batch_size : int or 'auto', default='auto'
        Rows per block (incremental; 'auto': 64 blocks, fewer when that
        makes blocks below 65,536 rows -- but 4 when the rows allow -- or
        their kept statistics would pass 256 MiB) or per mini-batch (online
        and :meth:`partial_fit`; 'auto': 65,536).  A dask array's own row
        blocks are its blocks and batches, each computed where it lives.
    learning_decay : float, default=0.7
        Online EM's step for batch t is ``(learning_offset + t) **
        -learning_decay`` (t = 0 for the first, whose step is 1); in
        (0.5, 1] for the guarantees of stepwise EM.
    learning_offset : float, default=10.0
        Down-weights the first batches' steps (>= 1).
    total_samples : float, default=1e6
        The size of the data :meth:`partial_fit` scales each batch's
        statistics to (``fit`` uses the number of rows); matters for models
        with priors (the MAP families, Bayesian models).
"""


def mixture_constraints(*names):
    """scikit-learn's mixtures' own constraint objects for the parameters
    ``names`` (so every error reads as scikit-learn's), with the engine's."""
    from sklearn.mixture import GaussianMixture

    own = GaussianMixture._parameter_constraints
    return {**{name: own[name] for name in names}, **ENGINE_CONSTRAINTS}


#: The parameters every fastem mixture has (scikit-learn's ``BaseMixture``'s,
#: less ``reg_covar``).
COMMON_PARAMETERS = ("n_components", "tol", "max_iter", "n_init", "init_params",
                     "random_state", "warm_start", "verbose", "verbose_interval")


class MixtureEstimator:
    """Base class of fastem's mixtures (mix in left of ``BaseEstimator``).

    Its ``__init__`` stores the parameters every model has, as scikit-learn's
    ``BaseMixture`` does; a model's own ``__init__`` lists all of its
    parameters (scikit-learn reads them from its signature) and stores the
    rest."""

    def __init__(self, n_components, *, tol, max_iter, n_init, init_params, random_state,
                 warm_start, verbose, verbose_interval, bound_check, init_max_samples, reseed,
                 learning_method, batch_size, learning_decay, learning_offset, total_samples):
        self.n_components = n_components
        self.tol = tol
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.verbose_interval = verbose_interval
        self.bound_check = bound_check
        self.init_max_samples = init_max_samples
        self.reseed = reseed
        self.learning_method = learning_method
        self.batch_size = batch_size
        self.learning_decay = learning_decay
        self.learning_offset = learning_offset
        self.total_samples = total_samples

    def _family(self):
        """The model family, made from the constructor parameters."""
        raise NotImplementedError

    # ------------------------------------------------------------------ fit

    def fit(self, X, y=None, sample_weight=None):
        """Estimate the model's parameters with the EM algorithm.

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
            positive weight.  ``lower_bound_`` is then the weighted bound
            (maximum likelihood: the weighted mean log-likelihood).  For a
            dask ``X``, a dask or NumPy array.

        Returns
        -------
        self : object
        """
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
        state = getattr(self, "_online", None)
        try:
            with config_context(skip_parameter_validation=True), single_threaded_blas():
                return self._fit_predict(X, labels, sample_weight)
        except BaseException:
            self._restore_fitted_attributes(saved)
            if state is not None:
                self._online = state
            raise

    def partial_fit(self, X, y=None, sample_weight=None):
        """Update the model with one batch of rows by online (stepwise) EM.

        The first call initialises the model from the first ``batch_size``
        rows of X (``init_params``; or goes on from a model fitted by
        ``fit``); every call then cuts X into batches of ``batch_size`` rows
        and, for each, takes its statistics under the current parameters,
        scaled to ``total_samples`` rows, into running statistics with step
        ``(learning_offset + t) ** -learning_decay`` (``t`` the batches seen
        before; the first batch's step is 1), and runs the M-step.  Later
        calls check X's number of features as scikit-learn's ``partial_fit``
        estimators do.  ``n_iter_`` counts the calls, ``n_batches_seen_`` the
        batches; ``lower_bound_`` is the mean log-likelihood of this call's
        batches, each under the parameters that scored it.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or an iterator
            Anything ``fit`` takes (arrays, memmaps, chunk sources, dask
            arrays); or a one-shot iterator (a generator) of row blocks, a
            stream read once: each block is then one call of its own, so the
            model holds every block taken in when the stream stops or is
            interrupted (a never-ending stream never returns).
        y : Ignored
        sample_weight : array-like of shape (n_samples,), default=None
            As in :meth:`fit` (not with an iterator).

        Returns
        -------
        self : object
        """
        from .incremental import partial_fit

        if not get_config()["skip_parameter_validation"]:
            self._validate_params()
        if hasattr(X, "__next__") and iter(X) is X:  # a stream: a block at a time
            if sample_weight is not None:
                raise ValueError("partial_fit takes no sample_weight with an iterator of "
                                 "blocks: give each block to partial_fit with its weights.")
            for block in X:
                self.partial_fit(block)
            return self
        state = getattr(self, "_online", None)
        first = state is None and not hasattr(self, "converged_")
        saved = self._fitted_attributes()
        kept = None if state is None else (state.running, state.t)
        try:
            with config_context(skip_parameter_validation=True), single_threaded_blas():
                X = self._validate_X(X, reset=first)
                sw, positive = validation.check_sample_weight(sample_weight, X)
                partial_fit(self, self._family(), X, sw, positive)
        except BaseException:
            self._restore_fitted_attributes(saved)
            if state is None:
                self.__dict__.pop("_online", None)
            else:
                state.running, state.t = kept
                self._online = state
            raise
        return self

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
        sw, positive = validation.check_sample_weight(sample_weight, X)
        family = self._family()
        run_em(self, family, X, sw, positive)
        if not labels:
            # fit_predict's final E-step only labels the rows: fit has no
            # use for the labels, so it skips that pass over the data.
            return None
        # A final E-step, so that fit_predict(X) always equals fit(X).predict(X).
        if isinstance(X, DaskSource):
            return lazy_output(X, family, self._current_parameters(), "label",
                               type(self).__name__)
        return self._predict_labels(X)

    def _check_parameters(self, X):
        """scikit-learn's ``BaseMixture._check_parameters``: check the
        parameters against validated X, and set what a model derives from it
        (a Bayesian model's priors)."""
        family = self._family()
        family.setup(X.shape[1], X.dtype)
        family.prepare(X, None)
        for name, value in family.prior_attributes().items():
            setattr(self, name, value)
        self._checked_family = family

    def _initialize_parameters(self, X, random_state):
        """scikit-learn's ``BaseMixture._initialize_parameters``: the first
        parameters from the initial responsibilities of validated X, set as
        the fitted attributes (after ``_check_parameters``)."""
        family = getattr(self, "_checked_family", None)
        if family is None:
            self._check_parameters(X)
            family = self._checked_family
        estimate = None
        if family.needs_responsibilities():
            source = initial_responsibilities(X, None, self.init_params, family.n_components,
                                              random_state, self.init_max_samples)
            estimate, _ = family.initial_estimate(X, source)
        for name, value in family.fitted_attributes(family.initial_params(estimate)).items():
            setattr(self, name, value)

    def _initialize(self, X, resp):
        """scikit-learn's ``_initialize``: the first parameters from a given
        responsibility matrix (one column per component) of validated X."""
        family = self._family()
        family.n_components = resp.shape[1]
        family.setup(X.shape[1], X.dtype)
        family.prepare(X, None)
        resp = np.asarray(resp, dtype=np.float64)
        every_row = bool(np.allclose(resp.sum(axis=1), 1.0))
        source = InitialResponsibilities(X, lambda start, stop: resp[start:stop], None,
                                         X.shape[0], every_row)
        estimate = None
        if family.needs_responsibilities():
            estimate, _ = family.initial_estimate(X, source)
        for name, value in family.fitted_attributes(family.initial_params(estimate)).items():
            setattr(self, name, value)

    def _em_steps(self, X, sw, positive, cache=None):
        """The fit as a generator of E-step requests (``fastem.engine.em``)."""
        return em_steps(self, self._family(), X, sw, positive, cache)

    def _run_em(self, X, sw, positive, on_iteration=None, on_block=None):
        run_em(self, self._family(), X, sw, positive, on_iteration, on_block)

    def _check_sample_weight(self, sample_weight, X):
        return validation.check_sample_weight(sample_weight, X)

    # ------------------------------------------------------------ inference

    def _current_parameters(self):
        return self._family().from_estimator(self)

    def _get_parameters(self):
        """scikit-learn's ``BaseMixture._get_parameters``: the fitted
        parameters as a tuple, in scikit-learn's order."""
        return self._family().to_sklearn(self._current_parameters())

    def _set_parameters(self, params):
        """scikit-learn's ``BaseMixture._set_parameters``: set the fitted
        attributes from such a tuple (and those derived from it)."""
        family = self._family()
        for name, value in family.fitted_attributes(family.from_sklearn(params)).items():
            setattr(self, name, value)

    def _validate_X(self, X, reset, lazy=False, allow_nan=None):
        family = self._family()
        params = None if reset else self._current_parameters()
        model_dtype = None if reset else family.param_dtype(params)
        X = validation.validate_X(self, X, reset, lazy, model_dtype, allow_nan)
        if family.checks_values and not (lazy and isinstance(X, DaskSource)):
            # (a lazy dask output checks each block when it is computed)
            validation.check_values(X, family, params)
        return X

    def _validated(self, X, lazy=False):
        check_is_fitted(self)
        return self._validate_X(X, reset=False, lazy=lazy)

    def _lazy(self, X, output):
        """For a dask array, the per-row output as a lazy dask array; else None."""
        if not is_dask_array(X):
            return None
        source = self._validated(X, lazy=True)
        return lazy_output(source, self._family(), self._current_parameters(), output,
                           type(self).__name__, self._output_dtype(source.dtype))

    def _output_dtype(self, data_dtype):
        return self._family().output_dtype(self._current_parameters(), data_dtype)

    def _pass(self, X, **outputs):
        """A pass for per-row outputs, written in the estimator's output dtype
        (which a family's kernels may compute in a narrower one: a float64
        Bayesian model on float32 data)."""
        family = self._family()
        params = self._current_parameters()
        kernel_dtype = family.kernel_dtype_for(params, X.dtype)
        staged = {}
        for name, out in outputs.items():
            if out is not None and name != "out_label" and out.dtype != kernel_dtype:
                staged[name] = out
                outputs[name] = np.empty(out.shape, kernel_dtype)
        with single_threaded_blas():
            stats = passes.run_pass(X, family, params, want_stats=False, **outputs)
        for name, out in staged.items():
            out[...] = outputs[name]
        return stats

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
        return self._score_samples(self._validated(X))

    def _score_samples(self, X):
        out = np.empty(X.shape[0], dtype=self._output_dtype(X.dtype))
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
        """The mean log-likelihood and the number of rows: the float64 sum of
        a pass, divided -- the same bits for every source of the rows.  For
        a float32 model on an in-memory array, scikit-learn's definition
        instead, the float32 mean of ``score_samples`` (its own rounding:
        ``score(X) == score_samples(X).mean()``)."""
        X = self._validated(X)
        if isinstance(X, np.ndarray) and self._output_dtype(X.dtype) == np.float32:
            return float(np.mean(self._score_samples(X))), X.shape[0]
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
        out = np.empty((X.shape[0], self.n_components), dtype=self._output_dtype(X.dtype))
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
        rng = check_random_state(self.random_state)
        return self._family().sample(self._current_parameters(), n_samples, rng)

    # ---------------------------------------------------------- persistence

    def save(self, file):
        """Write the fitted model to ``file`` (a path or a binary file), in
        fastem's versioned ``.npz`` format: no pickle, checked on
        :func:`fastem.load`.  (Pickling the estimator works as well.)

        Parameters
        ----------
        file : str, path-like or binary file object
        """
        from .persistence import save_model

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


class CriteriaMixin:
    """``bic`` and ``aic`` for models with a likelihood and a parameter count."""

    def _n_parameters(self):
        """Number of free parameters in the model."""
        return self._family().n_parameters(self._current_parameters())

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


class ImputerMixin:
    """``impute`` for the models that take missing values (``missing``)."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = getattr(self, "missing", "raise") == "marginalize"
        return tags

    def impute(self, X, *, sample_posterior=False, random_state=None):
        """X with every missing value (NaN) filled in by the fitted model.

        Each row's missing coordinates are replaced by their expectation
        given the row's observed ones, sum_k p(k | x_o) E[x_m | x_o, k]
        (the conditional means under each component, weighted by the
        component's posterior; for categorical features, whose codes have
        no mean, the most probable category), or, with
        ``sample_posterior``, drawn from that posterior.  Observed values
        are kept as they are.  Works whatever ``missing`` was at fit time.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Anything ``predict`` takes; the result is an in-memory array.
        sample_posterior : bool, default=False
            Draw each row's missing values from their posterior (a component
            by its responsibility, then its conditional Gaussian) instead of
            taking the posterior mean.
        random_state : int, RandomState instance or None, default=None
            The draws' random numbers (``sample_posterior`` only).

        Returns
        -------
        X_imputed : ndarray of shape (n_samples, n_features)
        """
        from .missing import impute

        check_is_fitted(self)
        X = self._validate_X(X, reset=False, allow_nan=True)
        family = self._family()
        family.missing = True
        rng = check_random_state(random_state) if sample_posterior else None
        with single_threaded_blas():
            return impute(X, family, self._current_parameters(), rng)
