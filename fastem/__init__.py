"""fastem: Numba-accelerated EM for Gaussian mixtures.

``fastem.GaussianMixture`` is a drop-in replacement for
``sklearn.mixture.GaussianMixture`` whose EM iterations run as fused,
multi-threaded passes over the data.
"""

from ._bound import BoundDecreaseError, BoundDecreaseWarning
from ._warmup import warmup
from .gaussian_mixture import GaussianMixture

__version__ = "0.1.0"

__all__ = [
    "BoundDecreaseError",
    "BoundDecreaseWarning",
    "GaussianMixture",
    "__version__",
    "warmup",
]
