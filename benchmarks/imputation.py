"""Imputation: fastem.MixtureImputer against scikit-learn's imputers.

On the datasets that ship inside scikit-learn (no download): each dataset's
features standardised (z-scores over the complete data, so that an RMSE
weighs every feature alike), then 20% of the values removed completely at
random; every imputer fits on the data with holes and fills them in.
Reported per dataset and imputer: the RMSE over the removed values (the
mean over ``--seeds`` hole patterns) and the median seconds of fit +
transform, all imputers run one after another on the same holes.

    python benchmarks/imputation.py [--seeds 3] [--fraction 0.2] [--json out.json]
"""

import argparse
import json
import time
import warnings

import numpy as np


def datasets():
    from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits, load_wine

    return {"diabetes": load_diabetes, "wine": load_wine, "breast_cancer": load_breast_cancer,
            "digits": load_digits}


def imputers(seed):
    from sklearn.experimental import enable_iterative_imputer  # noqa: F401
    from sklearn.impute import IterativeImputer, KNNImputer, SimpleImputer

    import fastem

    return {
        "SimpleImputer(mean)": lambda: SimpleImputer(),
        "KNNImputer": lambda: KNNImputer(),
        "IterativeImputer": lambda: IterativeImputer(random_state=seed),
        "MixtureImputer": lambda: fastem.MixtureImputer(random_state=seed),
        # more components and more shrinkage (not the default; see README)
        "MixtureImputer(8, reg_covar=0.1)": lambda: fastem.MixtureImputer(
            8, reg_covar=0.1, random_state=seed),
    }


def holes(X, fraction, rng):
    mask = rng.random(X.shape) < fraction
    # keep at least one observed value per row (every imputer needs one to
    # say anything about the row) and per column
    for i in np.flatnonzero(mask.all(axis=1)):
        mask[i, rng.integers(X.shape[1])] = False
    for j in np.flatnonzero(mask.all(axis=0)):
        mask[rng.integers(X.shape[0]), j] = False
    Xm = X.copy()
    Xm[mask] = np.nan
    return Xm, mask


def run(seeds=3, fraction=0.2, names=None):
    from sklearn.preprocessing import StandardScaler

    results = []
    for name, loader in datasets().items():
        if names and name not in names:
            continue
        X = loader().data.astype(np.float64)
        X = StandardScaler().fit_transform(X)
        errors = {}
        seconds = {}
        for seed in range(seeds):
            rng = np.random.default_rng(seed)
            Xm, mask = holes(X, fraction, rng)
            for label, make in imputers(seed).items():
                started = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    filled = make().fit(Xm).transform(Xm)
                seconds.setdefault(label, []).append(time.perf_counter() - started)
                err = np.sqrt(np.mean((filled[mask] - X[mask]) ** 2))
                errors.setdefault(label, []).append(err)
        for label in errors:
            results.append({"dataset": name, "shape": list(X.shape), "imputer": label,
                            "rmse": float(np.mean(errors[label])),
                            "rmse_std": float(np.std(errors[label])),
                            "seconds": float(np.median(seconds[label]))})
            print(f"{name:14s} {str(X.shape):12s} {label:32s} rmse {results[-1]['rmse']:.4f} "
                  f"(+-{results[-1]['rmse_std']:.4f})  {results[-1]['seconds']:.3f} s",
                  flush=True)
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--fraction", type=float, default=0.2)
    parser.add_argument("--datasets", nargs="*", default=None)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    import fastem

    fastem.warmup(dtypes=("float64",), covariance_types=("full",), families=())
    results = run(args.seeds, args.fraction, args.datasets)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return results


if __name__ == "__main__":
    main()
