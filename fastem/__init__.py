"""fastem: a Numba-accelerated expectation-maximisation engine.

``fastem.GaussianMixture`` and ``fastem.BayesianGaussianMixture`` are
drop-in replacements for scikit-learn's, whose EM iterations run as fused,
multi-threaded passes over the data, on one engine (``fastem.engine``) that
every model family (``fastem.families``) plugs into; ``BernoulliMixture``,
``PoissonMixture``, ``CategoricalMixture`` and ``StudentTMixture`` are
mixtures of the other families, with the same API; ``MixtureImputer`` fills
in missing values with a Gaussian mixture fitted over them.

The models are loaded on first access: importing scikit-learn takes longer
than everything else fastem imports, and ``fastem.warmup``, the kernels and
the command line do not need it.
"""

from .engine.bound import BoundDecreaseError, BoundDecreaseWarning
from .engine.persistence import ModelFileError, load
from .engine.reseed import ReseedWarning

__version__ = "0.1.0"

#: fastem's models, by name: the registry ``load`` reads a file's model from.
MODELS = ("GaussianMixture", "BayesianGaussianMixture", "BernoulliMixture", "PoissonMixture",
          "CategoricalMixture", "StudentTMixture", "GaussianHMM", "CategoricalHMM",
          "PoissonHMM", "GMMHMM")

_LAZY = {
    "GaussianMixture": ("gaussian_mixture", "GaussianMixture"),
    "BayesianGaussianMixture": ("bayesian_mixture", "BayesianGaussianMixture"),
    "BernoulliMixture": ("bernoulli_mixture", "BernoulliMixture"),
    "PoissonMixture": ("poisson_mixture", "PoissonMixture"),
    "CategoricalMixture": ("categorical_mixture", "CategoricalMixture"),
    "StudentTMixture": ("student_t_mixture", "StudentTMixture"),
    "MixtureImputer": ("mixture_imputer", "MixtureImputer"),
    "GaussianHMM": ("hmm", "GaussianHMM"),
    "CategoricalHMM": ("hmm", "CategoricalHMM"),
    "PoissonHMM": ("hmm", "PoissonHMM"),
    "GMMHMM": ("hmm", "GMMHMM"),
    "UnknownCategoryError": ("families.categorical", "UnknownCategoryError"),
    "select": ("engine.select", "select"),
    "warmup": ("engine.warmup", "warmup"),
    "plot_bound": ("tools.plotting", "plot_bound"),
    "plot_mixture": ("tools.plotting", "plot_mixture"),
}

__all__ = [
    "BayesianGaussianMixture",
    "BernoulliMixture",
    "BoundDecreaseError",
    "BoundDecreaseWarning",
    "CategoricalHMM",
    "CategoricalMixture",
    "GMMHMM",
    "GaussianHMM",
    "GaussianMixture",
    "MODELS",
    "MixtureImputer",
    "ModelFileError",
    "PoissonHMM",
    "PoissonMixture",
    "ReseedWarning",
    "StudentTMixture",
    "UnknownCategoryError",
    "__version__",
    "load",
    "plot_bound",
    "plot_mixture",
    "select",
    "warmup",
]


def __getattr__(name):
    if name in _LAZY:
        from importlib import import_module

        module, attribute = _LAZY[name]
        return getattr(import_module(f".{module}", __name__), attribute)
    raise AttributeError(f"module 'fastem' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
