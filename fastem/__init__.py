"""fastem: Numba-accelerated EM for Gaussian mixtures.

``fastem.GaussianMixture`` is a drop-in replacement for
``sklearn.mixture.GaussianMixture`` whose EM iterations run as fused,
multi-threaded passes over the data.

``GaussianMixture`` is loaded on first access: importing scikit-learn takes
longer than everything else fastem imports, and ``fastem.warmup``, the
kernels and the command line do not need it.
"""

from ._bound import BoundDecreaseError, BoundDecreaseWarning
from ._persistence import ModelFileError, load
from ._reseed import ReseedWarning
from ._warmup import warmup

__version__ = "0.1.0"

__all__ = [
    "BoundDecreaseError",
    "BoundDecreaseWarning",
    "GaussianMixture",
    "ModelFileError",
    "ReseedWarning",
    "__version__",
    "load",
    "plot_bound",
    "plot_mixture",
    "select",
    "warmup",
]


def __getattr__(name):
    if name == "GaussianMixture":
        from .gaussian_mixture import GaussianMixture

        return GaussianMixture
    if name == "select":
        from ._select import select

        return select
    if name in ("plot_bound", "plot_mixture"):
        from . import plotting

        return getattr(plotting, name)
    raise AttributeError(f"module 'fastem' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
