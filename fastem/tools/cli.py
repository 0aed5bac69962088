"""The fastem command line.

    fastem demo [--model M]          fit built-in data with fastem and scikit-learn (or,
                                     for another family, a NumPy EM)
    fastem fit DATA -k K [--model gaussian|bayesian|bernoulli|poisson|categorical|
                     student-t] [--covariance-type T] [--out model.npz] [--plot bound.png]
    fastem fit DATA -k K --model gaussian-hmm|categorical-hmm|poisson-hmm|gmm-hmm
                     [--lengths LENGTHS] [--out model.npz]   a hidden Markov model
    fastem predict MODEL DATA [--out labels.npy] [--proba] [--lengths LENGTHS]
    fastem impute MODEL DATA [--out filled.npy] [--sample-posterior]
    fastem score MODEL DATA
    fastem select DATA [-k 1 2 3 ...] [--model ...] [--covariance-types ...]
                     [--out best.npz]
    fastem bench                     speed against scikit-learn
    fastem accuracy                  score_samples against a 50-digit reference

DATA is a .npy file (memory-mapped, never loaded whole), a .csv or .txt file
(comma- or whitespace-separated; a header line is skipped), an HDF5 file
(file.h5 with one dataset, or file.h5:dataset; needs h5py) or a zarr array
(dir.zarr; needs zarr); LENGTHS is such a file of the sequences' lengths (one
integer per sequence, summing to the rows).  A missing value is NaN (``nan`` in a text file):
``fit --missing marginalize`` fits over them, and ``predict``, ``score`` and
``impute`` then take them.  Errors are one line on stderr and exit
status 1 (2 for bad arguments, 130 for Ctrl-C).
"""

import argparse
import csv
import itertools
import os
import statistics
import sys
import time
import warnings

import numpy as np


def make_demo_data(n_samples, n_features, n_components, seed=0, dtype=np.float64):
    """A built-in synthetic mixture: random centres, random correlated shapes."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=6.0, size=(n_components, n_features))
    shapes = rng.normal(scale=0.5, size=(n_components, n_features, n_features))
    shapes += np.eye(n_features)
    weights = rng.dirichlet(np.full(n_components, 5.0))
    labels = rng.choice(n_components, size=n_samples, p=weights)
    X = rng.standard_normal((n_samples, n_features))
    for k in range(n_components):  # per component: no n x d x d temporary
        rows = np.flatnonzero(labels == k)
        X[rows] = centers[k] + X[rows] @ shapes[k].T
    return X.astype(dtype, copy=False)


def initial_parameters(X, n_components, covariance_type, seed=0):
    """Shared starting point: random rows as means, the data's own spread."""
    rng = np.random.default_rng(seed + 1)
    n_samples, n_features = X.shape
    means = X[rng.choice(n_samples, n_components, replace=False)].astype(np.float64)
    weights = np.full(n_components, 1.0 / n_components)
    var = X.var(axis=0).astype(np.float64)
    precisions = {
        "full": np.stack([np.diag(1.0 / var)] * n_components),
        "tied": np.diag(1.0 / var),
        "diag": np.tile(1.0 / var, (n_components, 1)),
        "spherical": np.full(n_components, 1.0 / var.mean()),
    }[covariance_type]
    dtype = X.dtype
    return dict(weights_init=weights.astype(dtype), means_init=means.astype(dtype),
                precisions_init=precisions.astype(dtype))


def _timed_fit(cls, X, kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning: tol=0 runs every iteration
        start = time.perf_counter()
        model = cls(**kwargs).fit(X)
        return time.perf_counter() - start, model


def family_demo(args):
    """``fastem demo --model FAMILY``: the family's built-in data, fitted by
    fastem and by the NumPy EM of ``fastem.tools.reference`` from the same
    start, alternating."""
    import numba

    import fastem

    from .reference import ESTIMATORS, family_data, family_start, numpy_em

    dtype = np.dtype(args.dtype)
    family = args.model
    print(f"fastem {fastem.__version__} demo: {ESTIMATORS[family]}, {args.n_samples:,} x "
          f"{args.n_features} {dtype.name}, {args.n_components} components, "
          f"{args.iterations} EM iterations from the same start")
    print(f"machine: {os.cpu_count()} CPUs, numba threads {numba.get_num_threads()}")
    X = family_data(family, args.n_samples, args.n_features, args.n_components, args.seed,
                    dtype)
    start = family_start(family, X, args.n_components, args.seed)
    kwargs = dict(n_components=args.n_components, max_iter=args.iterations, tol=0.0, **start)
    begin = time.perf_counter()
    fastem.warmup(dtypes=(dtype.name,),
                  covariance_types=("full",) if family == "student-t" else (),
                  families=(family,))
    print(f"kernel compile/cache load (first call in this process): "
          f"{time.perf_counter() - begin:.2f} s")
    ours, theirs = [], []
    for _ in range(args.repeats):
        t, fast_model = _timed_fit(getattr(fastem, ESTIMATORS[family]), X, kwargs)
        ours.append(t)
        begin = time.perf_counter()
        _, bounds = numpy_em(family, X, start, args.iterations)
        theirs.append(time.perf_counter() - begin)
    t_ours, t_theirs = statistics.median(ours), statistics.median(theirs)
    n_iter = args.iterations
    print(f"{'':14}{'fit (s)':>10}{'s/iter':>10}   bound at the last E-step")
    print(f"{'fastem':14}{t_ours:10.3f}{t_ours / n_iter:10.4f}   "
          f"{fast_model.lower_bounds_[-1]:.10f}")
    print(f"{'numpy EM':14}{t_theirs:10.3f}{t_theirs / n_iter:10.4f}   {bounds[-1]:.10f}")
    print(f"speed-up: {t_theirs / t_ours:.1f}x (median of {args.repeats} alternating runs); "
          f"|difference in bound|: {abs(fast_model.lower_bounds_[-1] - bounds[-1]):.2e}")
    return 0


def demo(args):
    import numba
    from sklearn.mixture import GaussianMixture as SkGaussianMixture

    import fastem

    hmm = args.model.endswith("-hmm")
    if args.n_components is None:
        args.n_components = 8 if hmm else 16
    if args.iterations is None:
        args.iterations = 5 if hmm else 10
    if hmm:
        from .hmm_cli import demo as hmm_demo

        return hmm_demo(args)
    if args.model != "gaussian":
        return family_demo(args)

    dtype = np.dtype(args.dtype)
    print(f"fastem {fastem.__version__} demo: {args.n_samples:,} x {args.n_features} "
          f"{dtype.name}, {args.n_components} components, covariance_type="
          f"'{args.covariance_type}', {args.iterations} EM iterations from the same start")
    print(f"machine: {os.cpu_count()} CPUs, numba threads {numba.get_num_threads()}")
    X = make_demo_data(args.n_samples, args.n_features, args.n_components, args.seed, dtype)
    kwargs = dict(
        n_components=args.n_components, covariance_type=args.covariance_type,
        max_iter=args.iterations, tol=0.0,
        **initial_parameters(X, args.n_components, args.covariance_type, args.seed),
    )
    start = time.perf_counter()
    fastem.warmup(dtypes=(dtype.name,), covariance_types=(args.covariance_type,))
    print(f"kernel compile/cache load (first call in this process): "
          f"{time.perf_counter() - start:.2f} s")

    ours, theirs = [], []
    for _ in range(args.repeats):  # alternate, so drift on a shared machine hits both
        t, fast_model = _timed_fit(fastem.GaussianMixture, X, kwargs)
        ours.append(t)
        t, sk_model = _timed_fit(SkGaussianMixture, X, kwargs)
        theirs.append(t)
    t_ours, t_theirs = statistics.median(ours), statistics.median(theirs)
    n_iter = args.iterations
    print(f"{'':14}{'fit (s)':>10}{'s/iter':>10}   lower bound (mean log-likelihood)")
    print(f"{'fastem':14}{t_ours:10.3f}{t_ours / n_iter:10.4f}   {fast_model.lower_bound_:.10f}")
    print(f"{'scikit-learn':14}{t_theirs:10.3f}{t_theirs / n_iter:10.4f}   "
          f"{sk_model.lower_bound_:.10f}")
    print(f"speed-up: {t_theirs / t_ours:.1f}x (median of {args.repeats} alternating runs); "
          f"|difference in lower bound|: {abs(fast_model.lower_bound_ - sk_model.lower_bound_):.2e}")
    return 0


def warmup_command(args):
    """Compile or load every kernel now, and say where they come from."""
    from numba.core import config

    import fastem
    from fastem.engine.warmup import kernel_sources

    if config.DISABLE_JIT:
        print("NUMBA_DISABLE_JIT is set: the kernels run as Python, nothing to compile")
        return 0
    sources = kernel_sources()
    if sources["precompiled"]:
        print(f"kernels shipped compiled for this machine: {sources['precompiled'][0]}")
    else:
        print("no kernels shipped compiled for this machine (an editable install, another "
              "CPU, Numba or Python): compiling once, into the user's cache")
    print(f"user's cache: {sources['cache']}")
    total = 0.0
    for (label, dtype), seconds in fastem.warmup(dtypes=args.dtype).items():
        print(f"  {label:10} {dtype:8} {seconds:7.2f} s")
        total += seconds
    print(f"every kernel ready in {total:.2f} s")
    return 0


# --------------------------------------------------------------------------
# Reading data.


def _split_dataset(spec):
    """``file.h5:dataset`` -> ("file.h5", "dataset"); no dataset -> None."""
    for suffix in (".h5", ".hdf5", ".hdf", ".zarr"):
        at = spec.find(suffix + ":")
        if at >= 0:
            return spec[: at + len(suffix)], spec[at + len(suffix) + 1:]
    return spec, None


def _only_member(names, path, kind):
    if len(names) != 1:
        raise ValueError(f"{path} holds {len(names)} {kind}s ({', '.join(sorted(names))}); "
                         f"name one as {path}:NAME")
    return names[0]


def read_data(spec):
    """The array a DATA argument names (see the module docstring)."""
    path, dataset = _split_dataset(spec)
    lower = path.lower()
    if not os.path.exists(path):
        raise FileNotFoundError(f"no such file: {path}")
    if lower.endswith(".npy"):
        return np.load(path, mmap_mode="r", allow_pickle=False)
    if lower.endswith((".csv", ".txt", ".tsv")):
        return _read_text(path)
    if lower.endswith((".h5", ".hdf5", ".hdf")):
        try:
            import h5py
        except ImportError:
            raise ImportError(f"reading {path} needs h5py: pip install \"fastem[hdf5]\"") \
                from None
        handle = h5py.File(path, "r")
        if dataset is None:
            names = []
            handle.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset)
                              else None)
            dataset = _only_member(names, path, "dataset")
        return handle[dataset]
    if lower.endswith(".zarr"):
        try:
            import zarr
        except ImportError:
            raise ImportError(f"reading {path} needs zarr: pip install \"fastem[zarr]\"") \
                from None
        node = zarr.open(path, mode="r")
        if hasattr(node, "shape"):
            return node
        names = [name for name, _ in node.arrays()] if dataset is None else [dataset]
        return node[_only_member(names, path, "array")]
    raise ValueError(f"{path}: unknown file type (use .npy, .csv, .txt, .h5 or .zarr)")


def _read_text(path):
    """A .csv (comma-separated; fields may be quoted) or .txt/.tsv
    (whitespace-separated) file of numbers: a byte order mark, blank lines
    and one header line are skipped; NaN and inf are read as numbers."""
    delimiter = "," if path.lower().endswith(".csv") else None
    with open(path, encoding="utf-8-sig") as f:
        lines = (line for line in f if line.strip())
        first = next(lines, None)
        if first is None:
            raise ValueError(f"{path} holds no rows")
        rows = lines if not _is_numbers(first, delimiter) else itertools.chain([first], lines)
        if delimiter is not None:
            rows = map(_unquoted, rows)
        return np.loadtxt(rows, delimiter=delimiter, ndmin=2, dtype=np.float64)


def _fields(line, delimiter):
    if delimiter is None:
        return line.split()
    return next(csv.reader([line], skipinitialspace=True))


def _unquoted(line):
    """A CSV line with its quoted fields unquoted (as written by tools that
    quote every field: ``"1.5", "2"``)."""
    return ",".join(_fields(line, ",")) if '"' in line else line


def _is_numbers(line, delimiter):
    try:
        [float(v) for v in _fields(line, delimiter)]
    except ValueError:
        return False  # a header
    return True


# --------------------------------------------------------------------------
# fit, predict, score.


def _eta(seconds):
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 60}:{seconds % 60:02d}"


class _Progress:
    """One line per EM iteration on stderr: the bound, its change, rows per
    second, and an estimate of the time left (the changes so far shrink
    geometrically: how many more iterations until one is below tol; at most
    max_iter)."""

    def __init__(self, model, n_samples, stream=None):
        self.model = model
        self.n_samples = n_samples
        self.stream = sys.stderr if stream is None else stream
        self.previous = None
        self.changes = []
        self.iteration = 0
        self.init = None

    def update(self, bound, seconds):
        init = getattr(self.model, "_init_index", 0)
        if init != self.init:
            self.init, self.iteration, self.previous, self.changes = init, 0, None, []
            if self.model.n_init > 1:
                print(f"initialisation {init + 1} of {self.model.n_init}", file=self.stream)
        self.iteration += 1
        change = bound - self.previous if self.previous is not None else float("nan")
        self.previous = bound
        if change == change:
            self.changes.append(abs(change))
        left = self.model.max_iter - self.iteration
        if len(self.changes) >= 2 and 0 < self.changes[-1] < self.changes[-2]:
            ratio = self.changes[-1] / self.changes[-2]
            tol = max(self.model.tol, 1e-300)
            needed = np.log(tol / self.changes[-1]) / np.log(ratio) if self.changes[-1] > tol \
                else 0.0
            left = int(min(left, max(0.0, np.ceil(needed))))
        rate = self.n_samples / seconds if seconds > 0 else float("inf")
        word = "iteration" if getattr(self.model, "learning_method", "batch") == "batch" \
            else "pass"
        shown = f"{change: .2e}" if change == change else f"{'-':>9}"  # none before the second
        print(f"{word} {self.iteration:4d}  bound {bound: .8f}  change {shown}  "
              f"{rate:10.3g} rows/s  ETA {_eta(left * seconds)}", file=self.stream, flush=True)

    def block(self, index, count, start, stop, bound):
        """A line per block of incremental EM (F after its step) or batch of
        online EM (its mean log-likelihood)."""
        what = f"block {index + 1}/{count}" if count else f"batch {index + 1}"
        name = "bound" if count else "log-likelihood"
        print(f"  {what}  rows {start}-{stop}  {name} {bound: .8f}", file=self.stream,
              flush=True)


def fit_with_progress(model, X, sample_weight=None, stream=None):
    """``model.fit(X, sample_weight)`` printing a progress line per EM
    iteration (the fit itself is the estimator's, pass for pass)."""
    from ..engine.threads import single_threaded_blas

    model._validate_params()
    with single_threaded_blas():
        Xv = model._validate_X(X, reset=True)
        sw, positive = model._check_sample_weight(sample_weight, Xv)
        progress = _Progress(model, Xv.shape[0], stream)
        model._run_em(Xv, sw, positive, on_iteration=progress.update, on_block=progress.block)
    return model


#: --model: the estimator each name fits.
MODELS = {"gaussian": "GaussianMixture", "bayesian": "BayesianGaussianMixture",
          "bernoulli": "BernoulliMixture", "poisson": "PoissonMixture",
          "categorical": "CategoricalMixture", "student-t": "StudentTMixture"}

#: How progress lines name each model's components.
KINDS = {"gaussian": "", "bayesian": "Bayesian", "bernoulli": "Bernoulli",
         "poisson": "Poisson", "categorical": "categorical", "student-t": "Student-t"}


def _model_options(args):
    """The --model's own options: the Bayesian model's weight prior, the
    discrete families' smoothing, the t's degrees of freedom."""
    if args.model == "bayesian":
        return dict(weight_concentration_prior_type=args.weight_concentration_prior_type,
                    weight_concentration_prior=args.weight_concentration_prior)
    if args.model in ("bernoulli", "poisson", "categorical") and args.alpha is not None:
        return dict(alpha=args.alpha)
    if args.model == "student-t":
        return dict(degrees_of_freedom_init=args.degrees_of_freedom,
                    fit_degrees_of_freedom=not args.fixed_degrees_of_freedom)
    return {}


def _has_covariance_types(args):
    return args.model in ("gaussian", "bayesian", "student-t")


def _make_model(args, **common):
    """The --model's estimator with the common options it takes."""
    import fastem

    cls = getattr(fastem, MODELS[args.model])
    if _has_covariance_types(args):
        common["reg_covar"] = args.reg_covar
    return cls(**common, **_model_options(args))


def fit_command(args):
    from .hmm_cli import HMM_MODELS

    if args.model in HMM_MODELS:
        from . import hmm_cli

        return hmm_cli.fit(args)
    if args.tol is None:
        args.tol = 1e-3
    X = read_data(args.data)
    sample_weight = None if args.sample_weight is None else read_data(args.sample_weight)
    extra = {"covariance_type": args.covariance_type} if _has_covariance_types(args) else {}
    batch_size = args.batch_size if args.batch_size == "auto" else int(args.batch_size)
    if args.missing != "raise":  # every model takes it
        extra["missing"] = args.missing
    model = _make_model(
        args, n_components=args.n_components, tol=args.tol, max_iter=args.max_iter,
        n_init=args.n_init, init_params=args.init_params, random_state=args.random_state,
        reseed=args.reseed, learning_method=args.learning_method, batch_size=batch_size,
        **extra)
    model._validate_params()  # a bad option is the one line printed, before any other
    kind = " ".join(w for w in (KINDS[args.model], extra.get("covariance_type")) if w)
    print(f"fitting {args.n_components} {kind} components to "
          f"{X.shape[0]:,} x {X.shape[1]} ({np.dtype(X.dtype).name}) from {args.data}",
          file=sys.stderr)
    started = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if args.quiet:
            model.fit(X, sample_weight=None if sample_weight is None
                      else np.asarray(sample_weight).ravel())
        else:
            fit_with_progress(model, X, None if sample_weight is None
                              else np.asarray(sample_weight).ravel())
    seconds = time.perf_counter() - started
    print_warnings(caught)
    state = "converged" if model.converged_ else "did not converge"
    steps = "iterations" if args.learning_method == "batch" else "passes"
    print(f"{state} after {model.n_iter_} {steps} in {seconds:.2f} s; "
          f"lower bound {model.lower_bound_:.8f}")
    if args.learning_method == "incremental":
        blocks = -(-X.shape[0] // model._block_rows)
        print(f"incremental EM: {blocks} blocks of {model._block_rows:,} rows; kept "
              f"statistics {model._kept_bytes / 2**20:.3g} MiB")
    if args.out:
        model.save(args.out)
        print(f"model written to {args.out}")
    if args.plot:
        save_bound_plot(model, args.plot)
    if args.plot_mixture:
        from .plotting import _pyplot, plot_mixture

        plt = _pyplot()
        ax = plot_mixture(model, X)
        ax.figure.savefig(args.plot_mixture, dpi=100, bbox_inches="tight")
        plt.close(ax.figure)
        print(f"mixture plot written to {args.plot_mixture}")
    return 0


def print_warnings(caught):
    """The warnings a fit raised, one line each on stderr."""
    for w in caught:
        print(f"warning: {w.category.__name__}: {' '.join(str(w.message).split())}",
              file=sys.stderr)


def save_bound_plot(model, path):
    """``--plot``: ``plot_bound(model)`` written to ``path``."""
    from .plotting import _pyplot, plot_bound

    plt = _pyplot()
    ax = plot_bound(model)
    ax.figure.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(ax.figure)
    print(f"bound plot written to {path}")


def select_command(args):
    import fastem

    X = read_data(args.data)
    options = _model_options(args)
    if _has_covariance_types(args):
        options["reg_covar"] = args.reg_covar
    best, table = fastem.select(
        X, n_components=args.n_components, covariance_types=args.covariance_types,
        criterion=args.criterion, random_state=args.random_state, max_iter=args.max_iter,
        tol=args.tol, as_frame=False, model=MODELS[args.model], **options,
    )
    columns = BOUND_COLUMNS if args.model == "bayesian" else CRITERIA_COLUMNS
    print(" ".join(f"{title:>{width}}" for _, title, width, _ in columns))
    for r in table:
        r = dict(r, covariance_type=r["covariance_type"] or "-")
        if r["error"]:
            print(f"{r['n_components']:>4} {r['covariance_type']:>10}  failed: {r['error']}")
            continue
        print(" ".join(f"{r[key]:{width}{form}}" for key, _, width, form in columns))
    criterion = args.criterion or ("lower_bound" if args.model == "bayesian" else "bic")
    shape = best.covariance_type if _has_covariance_types(args) else None
    family = KINDS[args.model] if args.model != "bayesian" else ""
    kind = " ".join(w for w in (shape, family) if w)
    print(f"best by {criterion}: {best.n_components} {kind} components")
    if args.out:
        best.save(args.out)
        print(f"model written to {args.out}")
    return 0


#: select's table columns: (key, title, width, format).
_HEAD = [("n_components", "k", 4, "d"), ("covariance_type", "covariance", 10, "s")]
_TAIL = [("log_likelihood", "log-lik/row", 12, ".6f"), ("n_iter", "iter", 5, "d"),
         ("fit_time", "seconds", 8, ".3f")]
CRITERIA_COLUMNS = _HEAD + [("bic", "bic", 16, ".6f"), ("aic", "aic", 16, ".6f")] + _TAIL
BOUND_COLUMNS = _HEAD + [("lower_bound", "lower bound", 18, ".6f")] + _TAIL


def predict_command(args):
    import fastem

    model = fastem.load(args.model)
    X = read_data(args.data)
    if hasattr(model, "transmat_"):  # a hidden Markov model
        from .hmm_cli import predict

        out = predict(model, X, args)
    elif args.lengths is not None:
        raise ValueError("--lengths is for hidden Markov models; this model is a "
                         f"{type(model).__name__}")
    else:
        out = model.predict_proba(X) if args.proba else model.predict(X)
    if args.out:
        np.save(args.out, out)
        what = "probabilities" if args.proba else "labels"
        print(f"{what} of {X.shape[0]:,} rows written to {args.out}")
    else:
        np.savetxt(sys.stdout, out, fmt="%.6g" if args.proba else "%d")
    return 0


def impute_command(args):
    import fastem

    model = fastem.load(args.model)  # every model imputes
    X = read_data(args.data)
    out = model.impute(X, sample_posterior=args.sample_posterior,
                       random_state=args.random_state)
    if args.out:
        np.save(args.out, out)
        holes = int(np.count_nonzero(np.isnan(np.asarray(X))))
        print(f"{X.shape[0]:,} rows, {holes:,} missing values imputed, written to {args.out}")
    else:
        np.savetxt(sys.stdout, out, fmt="%.10g", delimiter=",")
    return 0


def score_command(args):
    import fastem

    model = fastem.load(args.model)
    X = read_data(args.data)
    if hasattr(model, "transmat_"):  # a hidden Markov model
        from .hmm_cli import score

        return score(model, X, args)
    if args.lengths is not None:
        raise ValueError("--lengths is for hidden Markov models; this model is a "
                         f"{type(model).__name__}")
    score = model.score(X)
    n = X.shape[0]
    print(f"rows {n}")
    print(f"mean log-likelihood {score:.10g}")
    if hasattr(model, "bic"):
        p = model._n_parameters()
        print(f"bic {-2 * score * n + p * np.log(n):.10g}")
        print(f"aic {-2 * score * n + 2 * p:.10g}")
    return 0


def _add_model_options(parser, hmm=False):
    from .hmm_cli import HMM_MODELS

    choices = sorted(MODELS) + (sorted(HMM_MODELS) if hmm else [])
    parser.add_argument("--model", default="gaussian", choices=choices,
                        help="gaussian: GaussianMixture (maximum likelihood); bayesian: "
                             "BayesianGaussianMixture (variational); bernoulli, poisson, "
                             "categorical, student-t: the other families' mixtures"
                             + ("; gaussian-hmm, categorical-hmm, poisson-hmm, gmm-hmm: "
                                "hidden Markov models (hmmlearn's)" if hmm else ""))
    parser.add_argument("--alpha", type=float, default=None,
                        help="--model bernoulli|poisson|categorical: the smoothing "
                             "(default 0.01)")
    parser.add_argument("--degrees-of-freedom", type=float, default=None,
                        help="--model student-t: the initial degrees of freedom (default 10)")
    parser.add_argument("--fixed-degrees-of-freedom", action="store_true",
                        help="--model student-t: keep them fixed")
    parser.add_argument("--weight-concentration-prior-type", default="dirichlet_process",
                        choices=["dirichlet_process", "dirichlet_distribution"],
                        help="--model bayesian: the weights' prior")
    parser.add_argument("--weight-concentration-prior", type=float, default=None,
                        help="--model bayesian: its concentration (default 1/k)")


def build_parser():
    parser = argparse.ArgumentParser(prog="fastem", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    sub = parser.add_subparsers(dest="command", required=True)

    f = sub.add_parser("fit", help="fit a mixture to a data file")
    f.add_argument("data", help="a .npy, .csv/.txt, .h5[:dataset] or .zarr file")
    f.add_argument("-k", "--n-components", type=int, required=True)
    _add_model_options(f, hmm=True)
    f.add_argument("--lengths", help="--model ...-hmm: a file of the sequences' lengths "
                                     "(default: the rows are one sequence)")
    f.add_argument("--n-mix", type=int, default=1,
                   help="--model gmm-hmm: Gaussian components per state")
    f.add_argument("--covariance-type", default="full",
                   choices=["full", "tied", "diag", "spherical"])
    f.add_argument("--max-iter", type=int, default=100)
    f.add_argument("--tol", type=float, default=None,
                   help="default 1e-3 (a mixture's gain in the bound per row); 1e-2 for a "
                        "hidden Markov model (its gain in the total log-likelihood)")
    f.add_argument("--reg-covar", type=float, default=1e-6)
    f.add_argument("--n-init", type=int, default=1)
    f.add_argument("--init-params", default="kmeans",
                   choices=["kmeans", "k-means++", "random", "random_from_data"])
    f.add_argument("--random-state", type=int, default=0)
    f.add_argument("--reseed", action="store_true",
                   help="re-seed collapsed or empty components instead of failing")
    f.add_argument("--learning-method", default="batch",
                   choices=["batch", "incremental", "online"],
                   help="batch EM (default); incremental EM: an M-step after every "
                        "block of rows, the bound checked per block; online (stepwise) EM")
    f.add_argument("--batch-size", default="auto",
                   help="rows per block (incremental) or mini-batch (online); default auto")
    f.add_argument("--missing", default="raise", choices=["raise", "marginalize"],
                   help="NaN in DATA: an error, or missing values EM fits over "
                   "(every model)")
    f.add_argument("--sample-weight", help="a file with one weight per row (a hidden Markov "
                                           "model: per sequence)")
    f.add_argument("--out", help="write the model here (fastem's .npz format)")
    f.add_argument("--plot", help="draw the lower bound per iteration to this image file")
    f.add_argument("--plot-mixture", help="draw the data and the components (first two "
                                          "features) to this image file")
    f.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    f.set_defaults(func=fit_command)

    se = sub.add_parser("select", help="fit a grid of models and keep the best by BIC or AIC")
    se.add_argument("data")
    se.add_argument("-k", "--n-components", type=int, nargs="+", default=list(range(1, 11)))
    se.add_argument("--covariance-types", nargs="+",
                    default=["full", "tied", "diag", "spherical"],
                    choices=["full", "tied", "diag", "spherical"])
    _add_model_options(se)
    se.add_argument("--criterion", default=None, choices=["bic", "aic", "lower_bound"],
                    help="default: bic (gaussian), lower_bound (bayesian)")
    se.add_argument("--max-iter", type=int, default=100)
    se.add_argument("--tol", type=float, default=1e-3)
    se.add_argument("--reg-covar", type=float, default=1e-6)
    se.add_argument("--random-state", type=int, default=0)
    se.add_argument("--out", help="write the best model here")
    se.set_defaults(func=select_command)

    pr = sub.add_parser("predict", help="label the rows of a data file with a saved model")
    pr.add_argument("model")
    pr.add_argument("data")
    pr.add_argument("--out", help="write a .npy file (default: one value per line on stdout)")
    pr.add_argument("--proba", action="store_true", help="component probabilities, not labels")
    pr.add_argument("--lengths", help="a hidden Markov model's sequences: a file of their "
                                      "lengths")
    pr.set_defaults(func=predict_command)

    im = sub.add_parser("impute", help="fill in the missing values (NaN) of a data file with "
                        "a saved model")
    im.add_argument("model")
    im.add_argument("data")
    im.add_argument("--out", help="write a .npy file (default: CSV rows on stdout)")
    im.add_argument("--sample-posterior", action="store_true",
                    help="draw each missing value from its posterior, not its mean")
    im.add_argument("--random-state", type=int, default=0)
    im.set_defaults(func=impute_command)

    sc = sub.add_parser("score", help="log-likelihood, BIC and AIC of a data file")
    sc.add_argument("model")
    sc.add_argument("data")
    sc.add_argument("--lengths", help="a hidden Markov model's sequences: a file of their "
                                      "lengths")
    sc.set_defaults(func=score_command)

    p = sub.add_parser("demo", help="fit built-in synthetic data with fastem and scikit-learn")
    p.add_argument("--n-samples", type=int, default=200_000)
    p.add_argument("--n-features", type=int, default=8)
    p.add_argument("--n-components", type=int, default=None,
                   help="default 16 (8 states for a hidden Markov model)")
    p.add_argument("--covariance-type", default="full",
                   choices=["full", "tied", "diag", "spherical"])
    p.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    p.add_argument("--iterations", type=int, default=None,
                   help="default 10 (5 for a hidden Markov model)")
    p.add_argument("--length", type=int, default=1000,
                   help="--model gaussian-hmm|categorical-hmm: rows per sequence")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--model", default="gaussian",
                   choices=["gaussian", "bernoulli", "poisson", "categorical", "student-t",
                            "gaussian-hmm", "categorical-hmm"],
                   help="gaussian: against scikit-learn's GaussianMixture; another family: "
                        "against a NumPy EM of it (fastem.tools.reference); gaussian-hmm, "
                        "categorical-hmm: against hmmlearn (when installed)")
    p.set_defaults(func=demo)

    w = sub.add_parser("warmup", help="compile (or load) every kernel now; say where from")
    w.add_argument("--dtype", nargs="+", default=["float64", "float32"],
                   choices=["float64", "float32"])
    w.set_defaults(func=warmup_command)

    from .bench import GRID
    from .family_bench import GRID as FAMILY_GRID

    b = sub.add_parser("bench", help="side-by-side speed comparison with scikit-learn")
    b.add_argument("--n-samples", type=int, nargs="+", default=None,
                   help=f"default {list(GRID['n_samples'])}")
    b.add_argument("--n-features", type=int, nargs="+", default=None,
                   help=f"default {list(GRID['n_features'])} ({list(FAMILY_GRID['n_features'])} "
                        "for the other families)")
    b.add_argument("--n-components", type=int, nargs="+", default=None,
                   help=f"default {list(GRID['n_components'])}")
    b.add_argument("--covariance-types", nargs="+", default=None,
                   choices=["full", "tied", "diag", "spherical"],
                   help=f"default {list(GRID['covariance_types'])} (full, diag for "
                        "gaussian-hmm)")
    b.add_argument("--lengths", type=int, nargs="+", default=None,
                   help="--model gaussian-hmm|categorical-hmm: sequence lengths (default "
                        "100 10000 100000)")
    b.add_argument("--dtypes", nargs="+", default=list(GRID["dtypes"]),
                   choices=["float64", "float32"])
    b.add_argument("--iterations", type=int, default=3)
    b.add_argument("--repeats", type=int, default=3)
    b.add_argument("--max-seconds", type=float, default=60.0,
                   help="drop cases whose scikit-learn fit is predicted to take longer")
    b.add_argument("--no-compile", action="store_true",
                   help="skip measuring cold/warm compile time in fresh processes")
    b.add_argument("--model", default="gaussian",
                   choices=sorted(MODELS) + ["categorical-hmm", "gaussian-hmm"],
                   help="gaussian, bayesian: against scikit-learn's; another family: "
                        "against a NumPy EM (and pomegranate, when installed); "
                        "gaussian-hmm, categorical-hmm: against hmmlearn (its n_features: "
                        "the number of symbols)")
    b.add_argument("--threads", action="store_true",
                   help="also report 1-thread vs all-thread time for three cases")
    b.set_defaults(func=bench)

    a = sub.add_parser("accuracy", help="score_samples against a 50-digit reference "
                                        "on adversarial data (needs mpmath)")
    a.add_argument("--dtypes", nargs="+", default=["float64", "float32"],
                   choices=["float64", "float32"])
    a.add_argument("--covariance-types", nargs="+",
                   default=["full", "tied", "diag", "spherical"],
                   choices=["full", "tied", "diag", "spherical"])
    a.add_argument("--rows", type=int, default=200, help="rows evaluated per case")
    a.set_defaults(func=accuracy)
    return parser


def accuracy(args):
    from .accuracy import report

    report(dtypes=args.dtypes, covariance_types=args.covariance_types, n_eval=args.rows)
    return 0


def bench(args):
    from .bench import GRID, Case, run

    if args.model in ("gaussian-hmm", "categorical-hmm"):
        from .hmm_bench import CATEGORICAL_GRID, run_hmm_bench
        from .hmm_bench import GRID as HMM_GRID

        base = HMM_GRID if args.model == "gaussian-hmm" else CATEGORICAL_GRID
        grid = {key: getattr(args, key) or base[key]
                for key in ("n_samples", "n_features", "n_components", "lengths")}
        grid["covariance_types"] = (args.covariance_types or base["covariance_types"]
                                    if args.model == "gaussian-hmm" else ("-",))
        run_hmm_bench(args.model, grid, iterations=args.iterations, repeats=args.repeats,
                      max_seconds=args.max_seconds)
        return 0
    if args.covariance_types is None:
        args.covariance_types = list(GRID["covariance_types"])
    if args.model not in ("gaussian", "bayesian"):
        from .family_bench import GRID as FAMILY_GRID
        from .family_bench import run_families

        grid = {key: getattr(args, key) or FAMILY_GRID[key]
                for key in ("n_samples", "n_features", "n_components")}
        grid["dtypes"] = args.dtypes
        run_families([args.model], grid, iterations=args.iterations, repeats=args.repeats)
        return 0
    grid = dict(n_samples=args.n_samples or GRID["n_samples"],
                n_features=args.n_features or GRID["n_features"],
                n_components=args.n_components or GRID["n_components"],
                covariance_types=args.covariance_types, dtypes=args.dtypes, model=args.model)
    scaling = ()
    if args.threads:
        scaling = (Case(100_000, 8, 16, "full", "float64"),
                   Case(100_000, 32, 16, "full", "float64"),
                   Case(100_000, 8, 16, "diag", "float32"))
    run(grid, iterations=args.iterations, repeats=args.repeats, max_seconds=args.max_seconds,
        with_compile=not args.no_compile, scaling_cases=scaling)
    return 0


def _one_line(exc):
    """The first line of an error's message (scikit-learn's run to several)."""
    text = str(exc).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    if isinstance(exc, (ValueError, OSError, ImportError)):
        return line
    return f"{type(exc).__name__}: {line}"


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("fastem: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (``| head``): stop quietly, as Unix tools do
        # (128 + SIGPIPE), with stdout pointed at /dev/null so that the
        # interpreter's final flush does not complain.
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError, AttributeError):  # no real stdout (tests)
            pass
        return 141
    except Exception as exc:  # noqa: BLE001 -- the command line's one-line report
        if args.debug:
            raise
        print(f"fastem: error: {_one_line(exc)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
