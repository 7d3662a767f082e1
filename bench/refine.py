"""Benchmark refine_dual (cvxrelu/refine.py): how tight the certified bound gets.

For every loss x hidden-bias x output-bias mode: 2-D data, n = --n (enumerable), the global
optimum P* from the barrier Newton solve over every cell (cvxrelu/solvers/newton.py), and a
network optimal to ~1e-12 in objective whose blocks are scaled by 1 + 1e-6 r (so its gradient
is off by ~1e-6). Prints the relative gaps (P* - bound) / P* of the bound at the network's
gradient (certificate.dual_bound) and at the refined dual point, and both times.

    python bench/refine.py [--n 10]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from test_refine import COMBOS, _near_optimal_net, _optimum  # noqa: E402

from cvxrelu.certificate import dual_bound  # noqa: E402
from cvxrelu.refine import refine_dual  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=10)
    a = ap.parse_args(argv)
    print(f"{'loss/hidden/output':28} {'gap(lam)':>9} {'gap(ref)':>9} {'bound s':>8} {'refine s':>8} rounds")
    for combo in COMBOS:
        data, m, sol = _optimum(0, *combo, n=a.n)
        net = _near_optimal_net(sol, m, 0)
        P = sol.objective
        t = time.perf_counter()
        lam = dual_bound(net, data, m).lower_bound
        t1 = time.perf_counter() - t
        t = time.perf_counter()
        _, info = refine_dual(net, data, m)
        t2 = time.perf_counter() - t
        print(f"{'/'.join(combo):28} {(P - lam) / P:9.1e} {(P - info['lower_bound']) / P:9.1e} "
              f"{t1:8.2f} {t2:8.2f} {info['rounds']}")


if __name__ == "__main__":
    main()
