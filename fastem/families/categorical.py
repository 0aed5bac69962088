"""The categorical family: latent class analysis of integer-coded features.

Feature j holds category codes 0..c_j - 1 (as scikit-learn's
``CategoricalNB``: the codes seen in ``fit``, at least ``min_categories``).
Component k has a probability vector theta_kj over feature j's categories,
and

    log p(x | k) = sum_j log theta_kj[x_j],

which is linear in the one-hot encoding of the row: the EM of
``fastem.families.linear`` with the categories of every feature side by side
in one flat ``(K, C)`` table (``C = sum_j c_j``; feature j's columns start
at ``offsets[j]``), a kernel that gathers instead of multiplying
(``fastem.kernels.discrete.categorical_pass``) and counts per (component,
category) as statistics.  Prior: Dirichlet(1 + alpha) on every theta_kj, so
the M-step is ``(count + alpha) / (nk + c_j alpha)``: no probability is 0,
and a category never seen in a component keeps a small one.
"""

from typing import NamedTuple

import numpy as np

from .. import kernels
from ..data.chunks import kernel_array
from ..data.dask import DaskSource
from ..data.sources import RowSource
from ..data.validation import float_array
from ..engine.family import INT_DTYPES
from ..engine.passes import Plan, compute_dtype
from .gaussian import check_weights
from .linear import LinearFamily


class UnknownCategoryError(ValueError, IndexError):
    """X holds a category code the model has no probability for (an
    ``IndexError`` too, as ``CategoricalNB``'s)."""


class CategoricalParams(NamedTuple):
    weights: np.ndarray  # (K,)
    values: np.ndarray  # (K, C): every feature's category probabilities, side by side
    offsets: np.ndarray  # (d + 1,) int64: feature j's columns are offsets[j]:offsets[j + 1]


class CategoricalPlan(Plan):
    """A pass of ``categorical_pass``: the log table (the compute dtype),
    the float64 log weights, the features' column offsets."""

    def __init__(self, dtype, log_table, lnorm, offsets, want_stats):
        self.dtype = np.dtype(dtype)
        self.n_components = log_table.shape[0]
        self.n_features = offsets.shape[0] - 1
        self.want_stats = want_stats
        # The kernel's layout: a row per category, the components side by side.
        self.log_table_t = kernel_array(np.asarray(log_table).T, self.dtype)
        self.lnorm = kernel_array(lnorm, np.float64)
        self.offsets = kernel_array(offsets[:-1], np.int64)
        self.no_resp = np.empty((0, self.n_components))
        self.stat_shapes = (self.log_table_t.shape,)
        self.uniform_draws = True
        self.missing_takes_all = True  # its kernel for them is as fast as the fused one
        self.table_t = None

    def run(self, chunk, sample_weight, outputs, accs, segment, resp=None):
        resp = self.no_resp if resp is None else resp
        kernels.categorical_pass(chunk, self.log_table_t, self.offsets, self.lnorm, resp,
                                 sample_weight, *outputs, segment, *accs)

    def run_missing(self, rows, sample_weight, outputs, accs, fill=None, draws=None):
        """Rows with NaN (``fastem.kernels.missing.categorical_missing_pass``):
        a missing feature drops out of the row's product, its expected
        counts are the component's probabilities; imputed values are the
        most probable category (or a draw)."""
        d = self.n_features
        fill = np.empty((0, d), self.dtype) if fill is None else fill
        u, e = (np.empty(0), np.empty((0, d))) if draws is None else draws
        if self.table_t is None:  # the probabilities, once per plan
            self.table_t = np.exp(self.log_table_t.astype(np.float64))
        kernels.categorical_missing_pass(rows, self.log_table_t, self.table_t, self.offsets,
                                         self.lnorm, sample_weight, *outputs, fill, u, e,
                                         *accs)

    def moments(self, totals):
        return np.ascontiguousarray(totals[0].T)  # counts (K, C)


def offsets_of(n_categories):
    return np.concatenate([[0], np.cumsum(n_categories)]).astype(np.int64)


def column_max(X):
    """The largest value of each column of validated X, in one pass (on the
    cluster for a dask array)."""
    import warnings

    # NaN (a missing value) is left out; a column all NaN is refused before
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        if isinstance(X, DaskSource):
            import dask.array as da

            return np.asarray(da.nanmax(X.data, axis=0).compute(), dtype=np.float64)
        if isinstance(X, RowSource):
            top = None
            for _, _, chunk in X.iter_chunks(X.dtype):
                m = np.nanmax(chunk, axis=0)
                top = m if top is None else np.fmax(top, m)
            return np.asarray(top, dtype=np.float64)
        return np.asarray(np.nanmax(X, axis=0), dtype=np.float64)


class CategoricalFamily(LinearFamily):
    values_name = "probabilities_"
    init_name = "probabilities_init"
    list_attributes = ("probabilities_",)

    def __init__(self, n_components, alpha, weights_init=None, values_init=None,
                 min_categories=None):
        super().__init__(n_components, alpha, weights_init, values_init)
        self.min_categories = min_categories
        self.offsets = None  # set by prepare
        self.array_attributes = ("weights_", "probabilities_", "n_categories_")

    # ------------------------------------------------------------ set-up

    def setup(self, n_features, data_dtype):
        weights = tables = None
        if self.weights_init is not None:
            weights = check_weights(self.weights_init, self.n_components)
        if self.values_init is not None:
            tables = self._check_tables(self.values_init, n_features)
        self.inits = (weights, tables)
        self.n_features = n_features
        self.data_dtype = np.dtype(data_dtype)
        self.dtype = np.dtype(np.float64)
        self.kernel_dtype = compute_dtype(data_dtype)
        minimum = np.zeros(n_features, dtype=np.int64)
        if self.min_categories is not None:  # CategoricalNB's checks and messages
            given = np.array(self.min_categories)
            if not np.issubdtype(given.dtype, np.signedinteger):
                raise ValueError("'min_categories' should have integral type. Got "
                                 f"{given.dtype} instead.")
            if given.ndim and given.shape != (n_features,):
                raise ValueError(f"'min_categories' should have shape ({n_features},) when "
                                 f"an array-like is provided. Got {given.shape} instead.")
            minimum = np.maximum(minimum, given).astype(np.int64)
        self.minimum = minimum

    def _check_tables(self, tables, n_features):
        if not isinstance(tables, (list, tuple)) or len(tables) != n_features:
            raise ValueError(
                "The parameter 'probabilities_init' should be a list of n_features = "
                f"{n_features} arrays of shape (n_components, n_categories_j)")
        out = []
        for j, table in enumerate(tables):
            table = float_array(table)
            if table.ndim != 2 or table.shape[0] != self.n_components or table.shape[1] < 1:
                raise ValueError(
                    f"The parameter 'probabilities_init[{j}]' should have the shape of "
                    f"(n_components, n_categories_{j}) = ({self.n_components}, c), but got "
                    f"{table.shape}")
            self.check_init(table, f"probabilities_init[{j}]")
            out.append(table)
        return out

    def prepare(self, X, sample_weight, cache=None):
        """The number of categories of each feature: its largest code + 1 in
        X (one pass, shared through ``cache`` by ``fastem.select``), at
        least ``min_categories`` and the initial tables' widths."""
        cache = {} if cache is None else cache
        if "column_max" not in cache:
            cache["column_max"] = column_max(X)
        n_categories = np.maximum(cache["column_max"].astype(np.int64) + 1, self.minimum)
        tables = self.inits[1]
        if tables is not None:
            widths = np.array([t.shape[1] for t in tables])
            short = np.flatnonzero(widths < n_categories)
            if short.size:
                j = short[0]
                raise ValueError(
                    f"The parameter 'probabilities_init[{j}]' has {widths[j]} categories, "
                    f"but X holds code {n_categories[j] - 1} in feature {j}")
            n_categories = widths
            self.inits = (self.inits[0], np.concatenate(tables, axis=1))
        self.offsets = offsets_of(n_categories)

    def check_init(self, table, name="probabilities_init"):
        if np.any(table <= 0.0):
            raise ValueError(f"The parameter '{name}' should be positive, but got min value "
                             f"{np.min(table):.5f}")
        sums = table.sum(axis=1)
        if np.any(np.abs(sums - 1.0) > 1e-6):
            raise ValueError(f"The parameter '{name}' should be normalized (each row sums "
                             f"to 1), but got row sums {sums}")

    def init_fill(self, summary):
        """Codes for the initialisation's filled rows: each column's observed
        mean rounded down (a code between its smallest and largest)."""
        return np.floor(summary.fill_values)

    def check_values(self, block, params=None):
        if self.missing:
            block = np.where(np.isnan(block), 0.0, block)
        if np.any(block < 0):
            raise ValueError("Negative values in data passed to CategoricalMixture (input X)")
        bad = block != np.floor(block)
        if bad.any():
            raise ValueError("CategoricalMixture takes integer category codes: every value "
                             f"of X must be an integer >= 0, got {float(block[bad][0]):g}.")
        if params is None:
            return
        n_categories = np.diff(params.offsets)
        over = block.max(axis=0) >= n_categories
        if over.any():
            j = int(np.flatnonzero(over)[0])
            code = int(block[:, j].max())
            raise UnknownCategoryError(
                f"X holds category {code} in feature {j}, which the model never saw: "
                f"n_categories_[{j}] = {n_categories[j]} (codes 0..{n_categories[j] - 1}). "
                "Give min_categories to keep room for codes absent from the training data.")

    # ---------------------------------------------------- initialisation

    def given_plan(self, n_features, dtype):
        K, C = self.n_components, self.offsets[-1]
        return CategoricalPlan(dtype, np.zeros((K, C)), np.zeros(K), self.offsets, True)

    # ----------------------------------------------------- passes, M-step

    def natural(self, params):
        with np.errstate(divide="ignore"):
            log_weights = np.log(np.asarray(params.weights, dtype=np.float64))
        return np.log(np.asarray(params.values, dtype=np.float64)), log_weights

    def plan(self, params, data_dtype, want_stats):
        log_table, lnorm = self.natural(params)
        plan = CategoricalPlan(self.kernel_dtype_for(params, data_dtype), log_table, lnorm,
                               params.offsets, want_stats)
        plan.missing = self.missing
        return plan

    def map_values(self, counts, nk):
        widths = np.diff(self.offsets)
        out = np.empty_like(counts)
        for j, (lo, hi) in enumerate(zip(self.offsets[:-1], self.offsets[1:])):
            out[:, lo:hi] = (counts[:, lo:hi] + self.alpha) / (nk + widths[j] * self.alpha)[:,
                                                                                         None]
        return out

    def finish(self, estimate):
        weights, values = estimate
        return CategoricalParams(np.asarray(weights, dtype=np.float64),
                                 np.asarray(values, dtype=np.float64), self.offsets)

    def log_prior(self, params):
        return self.alpha * float(np.sum(np.log(np.asarray(params.values, dtype=np.float64))))

    # ----------------------------------------------------------- re-seed

    def healthy(self, estimate, good):
        weights, values = estimate
        family = CategoricalFamily(len(good), self.alpha)
        family.offsets = self.offsets
        family.dtype = self.dtype
        return family, family.finish((weights[good] / np.sum(weights[good]), values[good]))

    def replace(self, estimate, bad, rows, nk):
        """As ``LinearFamily.replace``, with each row one-hot encoded."""
        rows = np.asarray(rows, dtype=np.int64)
        onehot = np.zeros((rows.shape[0], self.offsets[-1]))
        for j in range(rows.shape[1]):
            onehot[np.arange(rows.shape[0]), self.offsets[j] + rows[:, j]] = 1.0
        return super().replace(estimate, bad, onehot, nk)

    # ------------------------------------------------------- fitted model

    def from_estimator(self, est):
        n_categories = np.asarray(est.n_categories_, dtype=np.int64)
        offsets = offsets_of(n_categories)
        if self.offsets is not None and not np.array_equal(self.offsets, offsets):
            # warm_start on new data: its codes must be ones the model knows
            seen = np.diff(self.offsets)
            over = np.flatnonzero(seen > n_categories)
            if over.size:
                j = int(over[0])
                raise UnknownCategoryError(
                    f"warm_start: X holds category {seen[j] - 1} in feature {j}, which the "
                    f"model never saw (n_categories_[{j}] = {n_categories[j]}).")
            self.offsets = offsets
        return CategoricalParams(est.weights_, np.concatenate(list(est.probabilities_), axis=1),
                                 offsets)

    def fitted_attributes(self, params):
        offsets = params.offsets
        return {
            "weights_": params.weights,
            "probabilities_": [params.values[:, lo:hi]
                               for lo, hi in zip(offsets[:-1], offsets[1:])],
            "n_categories_": np.diff(offsets),
        }

    def from_sklearn(self, values):
        weights, tables = values[0], values[1]
        offsets = offsets_of([t.shape[1] for t in tables])
        return CategoricalParams(weights, np.concatenate(list(tables), axis=1), offsets)

    def to_sklearn(self, params):
        return (params.weights, self.fitted_attributes(params)["probabilities_"])

    def n_parameters(self, params):
        K = params.weights.shape[0]
        return K * int(np.sum(np.diff(params.offsets) - 1)) + K - 1

    def sample(self, params, n_samples, rng):
        """``(X, y)``: category codes (float64) and components, grouped by
        component."""
        counts = rng.multinomial(n_samples, np.asarray(params.weights, dtype=np.float64))
        offsets = params.offsets
        d = offsets.shape[0] - 1
        X = np.empty((n_samples, d))
        at = 0
        for k, c in enumerate(counts):
            for j in range(d):
                p = params.values[k, offsets[j]:offsets[j + 1]]
                X[at:at + c, j] = rng.choice(p.size, size=c, p=p / p.sum())
            at += c
        y = np.concatenate([np.full(c, k, dtype=np.int64) for k, c in enumerate(counts)])
        return X, y

    def saved_layout(self, est, read):
        K, d = est.n_components, est.n_features_in_
        f64 = (np.dtype(np.float64),)
        n_categories = read("n_categories_", (d,), INT_DTYPES)
        if np.any(n_categories < 1):
            raise ValueError("n_categories_ holds a count below 1")
        layout = {"weights_": ((K,), f64), "n_categories_": ((d,), INT_DTYPES)}
        layout.update({f"probabilities_:{j}": ((K, int(c)), f64)
                       for j, c in enumerate(n_categories)})
        return layout

    def check_loaded(self, est, name, error):
        K, d = est.n_components, est.n_features_in_
        n_categories = np.asarray(est.n_categories_)
        if n_categories.shape != (d,) or n_categories.dtype.kind not in "iu" \
                or np.any(n_categories < 1):
            raise error(f"{name!s}: n_categories_ is not {d} positive integers")
        tables = est.probabilities_
        if len(tables) != d:
            raise error(f"{name!s}: probabilities_ has {len(tables)} tables, expected {d}")
        for j, table in enumerate(tables):
            if table.shape != (K, n_categories[j]) or table.dtype != np.float64 \
                    or not np.all(np.isfinite(table)):
                raise error(f"{name!s}: probabilities_[{j}] is not a finite float64 array of "
                            f"shape {(K, int(n_categories[j]))}")
            try:
                self.check_init(table, f"probabilities_[{j}]")
            except ValueError as problem:
                raise error(f"{name!s}: {problem}") from None
        w = np.asarray(est.weights_, dtype=np.float64)
        if w.shape != (K,) or np.any(w < 0) or abs(w.sum() - 1.0) > 1e-10:
            raise error(f"{name!s}: weights_ is not a probability vector")
