"""fastem's compiled kernels: arrays and scalars in, arrays out.

Shipped as ``fastem.kernels``.  Nothing here validates its input; the API in
``fastem`` does that and always passes C-contiguous, writeable, native-endian
float32 or float64 arrays, so each kernel has at most two specialisations.
"""

from ._config import BLOCK, FASTMATH, MAX_PARTS, PARTS_BUDGET
from .discrete import categorical_pass, linear_pass
from .gaussian import diag_pass, full_pass, tied_pass
from .hmm import (
    categorical_frames,
    forward_backward,
    forward_backward_log,
    gaussian_diag_frames,
    gaussian_full_frames,
    linear_frames,
    scale_frames,
    viterbi,
)
from .kmeans import assigned_sq_distances, candidate_sq_distances, lloyd_pass
from .missing import (
    categorical_missing_pass,
    diag_missing_pass,
    full_missing_pass,
    linear_missing_pass,
    nan_counts,
    nan_summary,
)
from .student import t_diag_pass, t_full_pass

__all__ = [
    "BLOCK",
    "FASTMATH",
    "MAX_PARTS",
    "PARTS_BUDGET",
    "assigned_sq_distances",
    "candidate_sq_distances",
    "categorical_frames",
    "categorical_missing_pass",
    "categorical_pass",
    "diag_missing_pass",
    "diag_pass",
    "forward_backward",
    "forward_backward_log",
    "full_missing_pass",
    "full_pass",
    "gaussian_diag_frames",
    "gaussian_full_frames",
    "linear_frames",
    "linear_missing_pass",
    "linear_pass",
    "lloyd_pass",
    "nan_counts",
    "nan_summary",
    "scale_frames",
    "t_diag_pass",
    "t_full_pass",
    "tied_pass",
    "viterbi",
]
