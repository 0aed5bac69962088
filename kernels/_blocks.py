"""Block helpers shared by the mixture and k-means kernels."""

from ._config import helper


@helper
def sq_dist_block(XT, nb, center, acc):
    """acc[b] = sum_j (XT[j, b] - center[j])^2 for the block's nb rows, four
    features per sweep over the rows (one load and store of the accumulator
    per four).  The arithmetic is in the wider of the two input types."""
    d = XT.shape[0]
    d4 = d - d % 4
    for b in range(nb):
        acc[b] = 0.0
    for j in range(0, d4, 4):
        c0, c1, c2, c3 = center[j], center[j + 1], center[j + 2], center[j + 3]
        for b in range(nb):
            t0 = XT[j, b] - c0
            t1 = XT[j + 1, b] - c1
            t2 = XT[j + 2, b] - c2
            t3 = XT[j + 3, b] - c3
            acc[b] += (t0 * t0 + t1 * t1) + (t2 * t2 + t3 * t3)
    for j in range(d4, d):
        c = center[j]
        for b in range(nb):
            t = XT[j, b] - c
            acc[b] += t * t
