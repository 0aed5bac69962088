"""The one interface between the EM engine and a model family.

The engine (the EM driver in ``em.py``, the passes, the data sources, dask,
``select``, persistence, ``reseed``, the command line) knows no model.  It
asks a *family* object, made by the estimator from its constructor
parameters (``estimator._family()``), for everything model-specific:

====================================  =========================================
set-up, once per fit                  ``setup(n_features, data_dtype)``: check
                                      the user's initial parameters and priors,
                                      choose the model's dtype (``dtype``);
                                      ``prepare(X, sample_weight, cache)``:
                                      what the fit needs from all the data,
                                      once (a scatter, priors)
initialisation                        ``needs_responsibilities()``,
                                      ``initial_estimate(X, source)``,
                                      ``initial_params(estimate)``
a pass over the data                  ``plan(params, data_dtype, want_stats)``:
                                      the kernel, its per-component constants
                                      and its statistics (``passes.Plan``)
the M-step                            ``m_step(stats)`` -> ``(estimate, slack)``;
                                      ``finish(estimate)`` -> parameters (the
                                      factorisations; may raise the
                                      "ill-defined" error)
the bound                             ``bound(stats, e_step_params, params)``
                                      (what ``lower_bounds_`` records) and,
                                      for exact EM,
                                      ``expected_log_joint(stats, params)``
                                      = E_q[log p(X, Z | params)]
the data's values                     ``check_values(block, params)``: the
                                      family's domain (0/1, counts, codes)
a MAP family                          ``log_prior(params)``: added to the
                                      bound and to both sides of the chain
re-seeding                            ``degenerate(estimate, nk)``,
                                      ``healthy(estimate, good)``,
                                      ``replace(estimate, bad, rows, nk)``
the fitted model                      ``from_estimator(est)``,
                                      ``fitted_attributes(params)``,
                                      ``n_parameters(params)``,
                                      ``check_loaded(est, name, error)``,
                                      ``output_dtype(params, data_dtype)``
====================================  =========================================

``params`` are the family's own (a NamedTuple of arrays: what a pass needs);
an *estimate* is the M-step's result before its factorisations (what
re-seeding edits).  ``stats`` are ``passes.Stats``: the generic sums (rows,
log-likelihood, entropy, ``nk``) and the family's ``moments``.

``exact_em``: True when the E-step sets q to the exact posterior, so the
bound is the log-likelihood and the engine checks the seed's whole chain
(the M-step never lowers L(q, theta); the next E-step's KL is never
negative); False for a variational bound (checked never to decrease).
"""


import numpy as np

#: The dtypes of a saved model's float arrays, and of its integer ones
#: (``Family.saved_layout``).
FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
INT_DTYPES = tuple(np.dtype(t) for t in (np.int8, np.int16, np.int32, np.int64,
                                         np.uint8, np.uint16, np.uint32, np.uint64))


class Family:
    """Base class of the model families (see the module docstring)."""

    exact_em = True

    #: Whether ``check_values`` has anything to check (else no pass is made).
    checks_values = False

    #: The fields of the statistics' ``moments`` that are not sums but the
    #: frame the sums are taken in (a centre, the E-step's degrees of
    #: freedom): statistics of different E-steps are added after ``rebase``.
    frame_fields = ()

    #: Whether every pass reads every row (batch EM).  Incremental and
    #: online EM set it False before ``prepare``: a quantity summed once
    #: over all rows must then come from each pass instead.
    whole_passes = True

    #: Whether the passes take rows with NaN as missing coordinates to
    #: marginalise (the estimator's ``missing="marginalize"``; the family's
    #: plans then implement ``Plan.run_missing``), and whether the data of
    #: the fit under way has any (set by the engine's scan of it).
    missing = False
    has_missing = False
    #: Whether ``prepare`` looks at the rows with each NaN filled by its
    #: column's mean (as the initialisation does: a Gaussian tied model's
    #: scatter for its first M-step) rather than at the rows as they are.
    prepare_on_filled = False

    #: The fitted attributes that are arrays (saved as arrays), and those
    #: that are plain numbers, beyond the engine's own.
    array_attributes = ()
    scalar_attributes = ()

    def __getstate__(self):
        # What a fit keeps of its data for the initialisation (``init_X``)
        # never travels with the family to dask's workers.
        state = self.__dict__.copy()
        state.pop("init_X", None)
        return state

    def __init__(self, n_components):
        self.n_components = n_components
        self.dtype = None  # the model's dtype, set by setup
        self.data_dtype = None
        self.kernel_dtype = None  # the dtype the fit's passes compute in

    # ------------------------------------------------------------ set-up

    def setup(self, n_features, data_dtype):
        raise NotImplementedError

    def prepare(self, X, sample_weight, cache=None):
        """Data-wide quantities, computed once per fit; ``cache`` (a dict)
        shares them between the fits of ``fastem.select``."""

    # ---------------------------------------------------- initialisation

    def needs_responsibilities(self):
        """Whether the initialisation needs initial responsibilities (False
        when the user gave every initial parameter)."""
        return True

    def initial_estimate(self, X, source):
        """``(estimate, nk)`` from the initial responsibilities ``source``
        (``init.InitialResponsibilities``)."""
        raise NotImplementedError

    def initial_params(self, estimate):
        """The parameters of the first E-step (``estimate`` None when no
        responsibilities were needed)."""
        return self.finish(estimate)

    # ----------------------------------------------------- passes, M-step

    def plan(self, params, data_dtype, want_stats):
        raise NotImplementedError

    def m_step(self, stats):
        raise NotImplementedError

    def finish(self, estimate):
        raise NotImplementedError

    def log_prior(self, params):
        """log p(theta) of a MAP family's prior (up to a constant), summed:
        0 for maximum likelihood.  Its M-step then maximises E_q[log p(X, Z
        | theta)] + log p(theta), and the chain and the bound it records
        hold with the prior added to both sides."""
        return 0.0

    def init_fill(self, summary):
        """What replaces each column's NaN in the rows the initialisation
        looks at (``missing``): the column's observed mean."""
        return summary.fill_values

    def check_values(self, block, params=None):
        """Raise ``ValueError`` unless a validated block of rows holds values
        the family's densities take (0/1, counts, category codes: float
        data always pass); ``params``: the fitted model's, when scoring."""

    def rebase(self, stats, frame):
        """``stats.moments`` expressed in the frame of the moments ``frame``
        (the same sums, taken about ``frame``'s centre): what statistics of
        different E-steps need before they are added.  By default the
        moments are plain sums and are returned as they are."""
        return stats.moments

    def entropy(self, stats, params):
        """H(q) summed over the rows of ``stats``, q the posterior of the
        E-step under ``params`` that took them: the log-likelihood less
        E_q[log p(X, Z | params)] (exact EM)."""
        return stats.sum_lpn - self.expected_log_joint(stats, params)[0]

    def block_bound(self, stats, entropy, params):
        """``(F, scale)`` per unit weight: F(q, params) = E_q[log p(X, Z |
        params)] + H(q) + log p(params), with q the posteriors ``stats`` were
        taken under (possibly of different E-steps: incremental EM) and
        ``entropy`` their H(q); ``scale`` the size of its terms."""
        joint, scale = self.expected_log_joint(stats, params)
        prior = self.log_prior(params)
        n = stats.n_samples
        return (joint + entropy + prior) / n, (scale + abs(prior)) / n

    def log_mass(self, params):
        """log of the total mixing weight of ``params`` (0 when it sums to
        1): the first bound is lifted by it, the next M-step gives it back."""
        return 0.0

    # ------------------------------------------------------------- bound

    def bound(self, stats, e_step_params, params):
        """``(bound, scale)``: the bound recorded in ``lower_bounds_`` for an
        iteration -- its E-step's ``stats`` under ``e_step_params``, its
        M-step's ``params`` -- and the size of its terms per unit weight
        (its rounding scale)."""
        raise NotImplementedError

    def expected_log_joint(self, stats, params):
        """``(value, scale)``: E_q[log p(X, Z | params)] summed over rows, q the
        responsibilities ``stats`` were taken under (exact EM only), and the
        sum of the absolute values of its terms (its rounding scale)."""
        raise NotImplementedError

    # ----------------------------------------------------------- re-seed

    def degenerate(self, estimate, nk):
        raise NotImplementedError

    def healthy(self, estimate, good):
        """``(family, params)``: a model of the ``good`` components alone,
        to find the rows they explain worst."""
        raise NotImplementedError

    def replace(self, estimate, bad, rows, nk):
        raise NotImplementedError

    # ------------------------------------------------------- fitted model

    def from_estimator(self, est):
        raise NotImplementedError

    def fitted_attributes(self, params):
        raise NotImplementedError

    def to_sklearn(self, params):
        """``params`` as scikit-learn's ``_get_parameters`` tuple."""
        return tuple(params)

    def from_sklearn(self, values):
        """The family's parameters from scikit-learn's tuple."""
        raise NotImplementedError

    def prior_attributes(self):
        """Fitted attributes set up before the first iteration (a Bayesian
        model's priors): name -> value."""
        return {}

    def kernel_dtype_for(self, params, data_dtype):
        """The dtype a pass under ``params`` computes in, for data of
        ``data_dtype`` (its plan's ``dtype``)."""
        raise NotImplementedError

    def output_dtype(self, params, data_dtype):
        """The dtype of per-row outputs (scores, responsibilities) for data
        of ``data_dtype``."""
        raise NotImplementedError

    def param_dtype(self, params):
        """The dtype of the fitted parameters."""
        raise NotImplementedError

    def n_parameters(self, params):
        raise NotImplementedError

    def saved_layout(self, est, read):
        """The fitted arrays a saved model must hold, before any is read:
        ``{member: (shape, dtypes)}`` (a member: an attribute of
        ``array_attributes``, or ``name:i`` for the parts of a tuple or list
        attribute), for ``est`` with its parameters, ``n_features_in_`` and
        the scalar attributes set.  ``read(member, shape, dtypes)`` reads a
        small member whose values the layout depends on (raising the file's
        error when it is not of that shape and dtype)."""
        raise NotImplementedError

    def check_loaded(self, est, name, error):
        """Raise ``error(message)`` unless a loaded estimator's fitted
        attributes make a valid model."""
        raise NotImplementedError
