"""CPU seconds of the arrangement engine alone (``analyze``, one job) at the gradient of optimal
networks and at noise-like dual points (docs/benchmarks.md, "The engine at the gradient of
optimal networks").

    python bench/engine.py [--cache /tmp/cvxrelu-scale]

Planted data of bench/scale.py (penalized hidden bias). "optimal net": the gradient of the
network that ``bench/scale.py --optimal`` makes (solve with its search, then ``to_optimum``;
cached in --cache as planted_opt_d{d}_n{n}.h5); "noise": 0.1 N(0, 1). Run it from two checkouts
to compare commits (PYTHONPATH decides which package is imported).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

if __name__ == "__main__":  # pin BLAS before numpy loads (the CLI does the same)
    for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[_v] = "1"

sys.path.insert(0, str(Path(__file__).resolve().parent))

CASES = [("noise", 2, 1500), ("optimal", 2, 2000), ("noise", 3, 250), ("optimal", 3, 200), ("optimal", 3, 400)]


def main() -> None:
    import numpy as np

    from cvxrelu.arrangements import analyze
    from cvxrelu.io import load_checkpoint
    from cvxrelu.lower_bound import dual_start
    from scale import planted, prepare

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cache", default="/tmp/cvxrelu-scale")
    args = ap.parse_args()
    print("| case | CPU s | cells | candidates | M | M_error | load |")
    print("|---|---|---|---|---|---|---|")
    for kind, d, n in CASES:
        if kind == "noise":
            data = planted(n, d)
            Xt = np.hstack([data.X, np.ones((n, 1))])
            nu = np.random.default_rng(1).standard_normal(n) * 0.1
        else:
            ck = load_checkpoint(str(prepare(d, n, Path(args.cache), 64, False, optimal=True)))
            nu, _ = dual_start(ck.network, ck.data, ck.model)
            Xt = ck.model.augment(ck.data.X)
        c0 = time.process_time()
        r = analyze(Xt, nu)
        print(f"| rank {d + 1}, {kind}, n = {n} | {time.process_time() - c0:.2f} | {r.cells_visited} | "
              f"{r.candidates_checked} | {r.M!r} | {r.M_error:.3g} | {os.getloadavg()[0]:.1f} |", flush=True)


if __name__ == "__main__":
    main()
