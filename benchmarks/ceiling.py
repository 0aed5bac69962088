"""How far each `fastem bench` case is from what this machine could do at all.

    fastem bench ... > table.txt
    python benchmarks/ceiling.py table.txt [--peak-gflops 100] [--dram-gbs 25]

For every row of the table, a floor on the time of one EM iteration:
max(minimal flops / peak flop rate, bytes of X / memory bandwidth), with the
peak taken from the table's own "numpy float64 matmul" line (float32: twice
that) unless given. Minimal flops count only the density and the statistics,
in whichever of the centred or expanded forms is cheaper, and take exp, log
and the M-step as free:

    full 2nkd^2 + 3nkd,  tied nd^2 + 4nkd,  diag 6nkd,  spherical 4nkd

scikit-learn's measured time over that floor is the highest speed-up any
implementation could show for the case. Printed: the geometric means of the
measured and of these ceilings, over all cases and over the cases with
n_features >= 32 and full, diagonal or spherical covariances (BLAS-bound in
scikit-learn), and the cases with the lowest ceilings.
"""

import argparse
import math
import re

ROW = re.compile(
    r"\s*([\d,]+)\s+(\d+)\s+(\d+)\s+(full|tied|diag|spherical)\s+(float32|float64)"
    r"\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)x"
)
MATMUL = re.compile(r"numpy float64 matmul ([\d.]+) GFlop/s")


def minimal_flops(n, d, k, covariance_type):
    return {
        "full": 2 * n * k * d * d + 3 * n * k * d,
        "tied": n * d * d + 4 * n * k * d,
        "diag": 6 * n * k * d,
        "spherical": 4 * n * k * d,
    }[covariance_type]


def geomean(values):
    values = list(values)
    return math.exp(sum(map(math.log, values)) / len(values)) if values else float("nan")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tables", nargs="+", help="saved output of fastem bench")
    parser.add_argument("--peak-gflops", type=float, default=None,
                        help="float64 peak (default: the table's matmul rate)")
    parser.add_argument("--dram-gbs", type=float, default=25.0)
    parser.add_argument("--lowest", type=int, default=10)
    args = parser.parse_args()

    cases = []
    peak = args.peak_gflops
    for path in args.tables:
        with open(path) as f:
            for line in f:
                if peak is None and (m := MATMUL.search(line)):
                    peak = float(m.group(1))
                if m := ROW.match(line):
                    n = int(m.group(1).replace(",", ""))
                    d, k = int(m.group(2)), int(m.group(3))
                    cases.append((n, d, k, m.group(4), m.group(5), float(m.group(7)),
                                  float(m.group(8))))
    if not cases:
        parser.error("no table rows found")
    if peak is None:
        parser.error("no matmul line in the tables: give --peak-gflops")

    rows = []
    for n, d, k, cov, dtype, sklearn_ms, speedup in cases:
        width = 4 if dtype == "float32" else 8
        rate = peak * 1e9 * (2 if dtype == "float32" else 1)
        floor_ms = 1e3 * max(minimal_flops(n, d, k, cov) / rate,
                             n * d * width / (args.dram_gbs * 1e9))
        rows.append((n, d, k, cov, dtype, speedup, sklearn_ms / floor_ms))

    def summary(name, subset):
        print(f"{name}: {len(subset)} cases, measured {geomean(r[5] for r in subset):.1f}x, "
              f"ceiling {geomean(r[6] for r in subset):.1f}x (geometric means)")

    print(f"float64 peak {peak:.1f} GFlop/s, memory {args.dram_gbs:.0f} GB/s")
    summary("all", rows)
    blas_bound = [r for r in rows if r[1] >= 32 and r[3] != "tied"]
    summary("n_features >= 32, full/diag/spherical", blas_bound)
    summary("the others", [r for r in rows if r not in blas_bound])
    print("lowest ceilings:")
    for n, d, k, cov, dtype, speedup, ceiling in sorted(rows, key=lambda r: r[6])[:args.lowest]:
        print(f"  {n:,} x {d}, k={k}, {cov}, {dtype}: measured {speedup:.1f}x, "
              f"ceiling {ceiling:.1f}x")


if __name__ == "__main__":
    main()
