"""The command line's hidden Markov models: ``fastem fit --model gaussian-hmm
--lengths FILE``, ``predict``/``score`` of a saved one, and ``fastem demo
--model gaussian-hmm``."""

import statistics
import sys
import time
import warnings

import numpy as np

#: --model: the hidden Markov model each name fits.
HMM_MODELS = {"gaussian-hmm": "GaussianHMM", "categorical-hmm": "CategoricalHMM",
              "poisson-hmm": "PoissonHMM", "gmm-hmm": "GMMHMM"}

#: The HMMs' default convergence threshold (hmmlearn's: a gain in the total
#: log-likelihood, not per row as the mixtures' --tol).
DEFAULT_TOL = 1e-2


def read_lengths(spec, n_samples):
    """The sequence lengths in the file ``spec`` (None: one sequence):
    non-negative integers summing to the rows."""
    from .cli import read_data

    if spec is None:
        return None
    values = np.asarray(read_data(spec), dtype=np.float64).ravel()
    if values.size == 0:
        raise ValueError(f"{spec}: no sequence lengths")
    if not np.all(np.isfinite(values)) or np.any(values != np.round(values)) \
            or np.any(values < 0):
        raise ValueError(f"{spec}: sequence lengths must be non-negative integers")
    lengths = values.astype(np.int64)
    if lengths.sum() != n_samples:
        raise ValueError(f"{spec}: the sequence lengths sum to {lengths.sum():,}, but the data "
                         f"has {n_samples:,} rows")
    return lengths


def _symbols(X, model):
    """A categorical model's integer symbols from data read as floats."""
    if model != "categorical-hmm" or X.dtype.kind in "iu":
        return X
    X = np.asarray(X)
    if X.dtype.kind == "f":
        if not np.all(np.isfinite(X)) or np.any(X != np.round(X)):
            raise ValueError("categorical-hmm takes integer symbols: every value of the data "
                             "must be an integer >= 0")
        X = X.astype(np.int64)
    return X


def make_model(args):
    import fastem

    cls = getattr(fastem, HMM_MODELS[args.model])
    kwargs = dict(n_components=args.n_components, n_iter=args.max_iter,
                  tol=DEFAULT_TOL if args.tol is None else args.tol,
                  random_state=args.random_state, verbose=not args.quiet)
    if args.model in ("gaussian-hmm", "gmm-hmm"):
        kwargs["covariance_type"] = args.covariance_type
    if args.model == "gmm-hmm":
        kwargs["n_mix"] = args.n_mix
    return cls(**kwargs)


def fit(args):
    """``fastem fit DATA -k K --model ...-hmm [--lengths FILE]``: Baum-Welch,
    each iteration's log-likelihood on stderr (hmmlearn's verbose lines)."""
    from .cli import print_warnings, read_data, save_bound_plot

    mixture_only = [name for name, given in (
        ("--learning-method", args.learning_method != "batch"),
        ("--batch-size", args.batch_size != "auto"),
        ("--missing", args.missing != "raise"), ("--n-init", args.n_init != 1),
        ("--init-params", args.init_params != "kmeans"), ("--reseed", args.reseed),
        ("--plot-mixture", args.plot_mixture is not None)) if given]
    if mixture_only:
        raise ValueError(f"{mixture_only[0]} is an option of the mixtures; --model "
                         f"{args.model} fits a hidden Markov model")
    X = _symbols(read_data(args.data), args.model)
    if not isinstance(X, np.memmap):  # a memory-mapped .npy is read a batch at a time
        X = np.asarray(X)
    lengths = read_lengths(args.lengths, X.shape[0])
    sample_weight = None
    if args.sample_weight is not None:  # one weight per sequence
        sample_weight = np.asarray(read_data(args.sample_weight), dtype=np.float64).ravel()
    model = make_model(args)
    n_seq = 1 if lengths is None else len(lengths)
    kind = args.model.replace("-hmm", "")
    print(f"fitting a {args.n_components}-state {kind} hidden Markov model to "
          f"{X.shape[0]:,} x {X.shape[1]} in {n_seq:,} sequence{'s' * (n_seq != 1)} from "
          f"{args.data}", file=sys.stderr)
    started = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(X, lengths, sample_weight=sample_weight)
    seconds = time.perf_counter() - started
    print_warnings(caught)
    state = "converged" if model.converged_ else "stopped"
    print(f"{state} after {model.n_iter_} iterations in {seconds:.2f} s; "
          f"log-likelihood {model.lower_bound_:.8f}")
    if args.out:
        model.save(args.out)
        print(f"model written to {args.out}")
    if args.plot:
        save_bound_plot(model, args.plot)
    return 0


def predict(model, X, args):
    """``fastem predict`` of a saved HMM: each row's state (Viterbi), or
    with ``--proba`` its posterior state probabilities."""
    if type(model).__name__ == "CategoricalHMM":
        X = _symbols(X, "categorical-hmm")
    lengths = read_lengths(args.lengths, X.shape[0])
    return model.predict_proba(X, lengths) if args.proba else model.predict(X, lengths)


def score(model, X, args):
    if type(model).__name__ == "CategoricalHMM":
        X = _symbols(X, "categorical-hmm")
    lengths = read_lengths(args.lengths, X.shape[0])
    log_prob = model.score(X, lengths)
    print(f"rows {X.shape[0]}")
    print(f"sequences {1 if lengths is None else len(lengths)}")
    print(f"log-likelihood {log_prob:.10g}")
    print(f"bic {model.bic(X, lengths):.10g}")
    print(f"aic {model.aic(X, lengths):.10g}")
    return 0


def demo(args):
    """``fastem demo --model gaussian-hmm|categorical-hmm``: sequences drawn
    from a random HMM, fitted from the same start by fastem and (when
    installed) hmmlearn, alternating."""
    import numba

    import fastem

    from .hmm_bench import _start, hmm_data, per_iteration

    model = args.model
    K, d = args.n_components, args.n_features
    cov = args.covariance_type if model == "gaussian-hmm" else "-"
    length = args.length
    X, lengths, params = hmm_data(model, args.n_samples, length, K, d, cov, seed=args.seed)
    start = _start(model, params, seed=args.seed)
    name = HMM_MODELS[model]
    print(f"fastem {fastem.__version__} demo: {name}, {args.n_samples:,} rows in "
          f"{len(lengths):,} sequences of {length:,}, {K} states, "
          + (f"{d} features, covariance_type='{cov}'" if model == "gaussian-hmm"
             else f"{d} symbols")
          + f", {args.iterations} Baum-Welch iterations from the same start")
    print(f"machine: {numba.get_num_threads()} numba threads")
    began = time.perf_counter()
    fastem.warmup(dtypes=("float64",), covariance_types=(), families=("hmm",), missing=False)
    print(f"kernel compile/cache load (first call in this process): "
          f"{time.perf_counter() - began:.2f} s")
    try:
        import hmmlearn  # noqa: F401
        have_hmmlearn = True
    except ImportError:
        have_hmmlearn = False
    args_ = (model, K, cov, d, start, X, lengths)
    ours, theirs = [], []
    for _ in range(args.repeats):
        t, fast_model = per_iteration("fastem", *args_, args.iterations)
        ours.append(t)
        if have_hmmlearn:
            t, ref_model = per_iteration("hmmlearn", *args_, args.iterations)
            theirs.append(t)
    t_ours = statistics.median(ours)
    print(f"{'':10}{'s/iter':>10}   log-likelihood at the last E-step")
    print(f"{'fastem':10}{t_ours:10.4f}   {fast_model.monitor_.history[-1]:.10f}")
    if not have_hmmlearn:
        print("hmmlearn is not installed: pip install hmmlearn to compare")
        return 0
    t_theirs = statistics.median(theirs)
    a, b = fast_model.monitor_.history[-1], ref_model.monitor_.history[-1]
    print(f"{'hmmlearn':10}{t_theirs:10.4f}   {b:.10f}")
    print(f"speed-up: {t_theirs / t_ours:.1f}x (median of {args.repeats} alternating runs); "
          f"relative difference in log-likelihood: {abs(a - b) / abs(b):.2e}")
    return 0
