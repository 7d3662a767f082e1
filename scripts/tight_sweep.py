"""Certificates tight to 1e-8: verify at tol 1e-8 the optima of the independent cvxpy oracle.

    python scripts/tight_sweep.py [--per-mode 200] [--seed 0] [--modes squared:none:none,...]

For every loss x hidden-bias x output-bias mode (18), ``--per-mode`` random problems (n 8..14,
d 1..3, at most 100 cells, beta in [0.05, 0.5]; logistic labels of both classes, without
which a free constant makes the infimum unattained): the program over every cell is solved by
the cvxpy + Clarabel oracle (tests/oracles.py ``tight_optimum``: tolerances 1e-10, then the
support re-solved at 1e-12), its solution turned into a network (convex.network_from_blocks)
and verified at tol 1e-8 (certificate.verify). Prints per mode: problems, certified optimal,
suboptimal, inconclusive, the largest relative gap (val - lower bound)/|val| to the oracle's
optimum val, and the unsound counts: a lower bound above the network's objective plus its
rounding bound (a rigorous upper bound on the optimum), or above val by more than 1e-9
relative (the oracle's accuracy). Exit 1 if anything is unsound or not certified optimal.
"""

import argparse
import itertools
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from oracles import tight_optimum  # noqa: E402

from cvxrelu.arrangements import analyze, cover_count  # noqa: E402
from cvxrelu.certificate import Status, objective_error_bound, verify  # noqa: E402
from cvxrelu.convex import network_from_blocks  # noqa: E402
from cvxrelu.model import Dataset, Model, objective  # noqa: E402

#: The certificate's tolerance under test.
TOL = 1e-8
#: Accuracy claimed for the oracle's optimum (relative): a lower bound above val by more counts
#: as unsound.
ORACLE_ACCURACY = 1e-9
#: Problems whose general-position cell count exceeds this are redrawn smaller (cvxpy time).
MAX_CELLS = 100
BIAS = ["none", "penalized", "free"]
ALL = list(itertools.product(["squared", "logistic"], BIAS, BIAS))


def problem(loss, hb, ob, seed):
    """A random problem of the mode (reproducible from seed)."""
    rng = np.random.default_rng(seed)
    while True:
        n, d = int(rng.integers(8, 15)), int(rng.integers(1, 4))
        if cover_count(n, d + (hb != "none")) <= MAX_CELLS:
            break
    X = rng.standard_normal((n, d))
    y = rng.standard_normal(n) if loss == "squared" else np.where(rng.standard_normal(n) > 0, 1.0, -1.0)
    if loss == "logistic":  # one label only: with a free constant the infimum 0 is not attained
        y[:2] = [1.0, -1.0]
    m = Model(beta=float(rng.uniform(0.05, 0.5)), loss=loss, hidden_bias=hb, output_bias=ob)
    return Dataset(X, y), m


def one(loss, hb, ob, seed):
    """(status, relative gap to the oracle, unsound message or None)."""
    data, m = problem(loss, hb, ob, seed)
    Xt = m.augment(data.X)
    P = analyze(Xt, patterns=True).patterns
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        val, W, V, c = tight_optimum(Xt, data.y, P, m)
    net = network_from_blocks(W, V, c, m, 1e-9)
    L = objective(net, data, m)
    cert = verify(net, data, m, tol=TOL)
    lb = cert.lower_bound
    bad = None
    if lb > L + objective_error_bound(net, data, m):
        bad = f"lower bound {lb!r} above the network's objective {L!r}"
    elif lb > val + ORACLE_ACCURACY * abs(val):
        bad = f"lower bound {lb!r} above the oracle's optimum {val!r}"
    return cert.status, (val - lb) / abs(val), bad


def table(stats, done):
    """The markdown table of the counts so far (``done`` problems per mode)."""
    print("| loss | hidden bias | output bias | problems | optimal | suboptimal | inconclusive "
          "| max (val - lb)/abs(val) | unsound |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|")
    for (loss, hb, ob), (counts, worst, unsound) in stats.items():
        print(f"| {loss} | {hb} | {ob} | {done} | {counts[Status.OPTIMAL]} | "
              f"{counts[Status.SUBOPTIMAL]} | {counts[Status.INCONCLUSIVE]} | {worst[0]:.1e} | "
              f"{unsound[0]} |", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--per-mode", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--every", type=int, default=10, help="checkpoint table every this many rounds")
    ap.add_argument("--modes", default="", help="comma-separated loss:hidden:output (default all 18)")
    args = ap.parse_args()
    modes = ALL if not args.modes else [tuple(s.split(":")) for s in args.modes.split(",")]
    t0, c0 = time.perf_counter(), time.process_time()
    print(f"tol {TOL}, {args.per_mode} problems per mode (n 8..14, d 1..3, <= {MAX_CELLS} cells)\n")
    failures = []
    stats = {mode: ({s: 0 for s in Status}, [-np.inf], [0]) for mode in modes}
    # problem-major: every mode advances together, and a checkpoint table is printed every
    # ``--every`` rounds (an interrupted run still reports equal counts per mode)
    for i in range(args.per_mode):
        for loss, hb, ob in modes:
            k = ALL.index((loss, hb, ob))
            counts, worst, unsound = stats[(loss, hb, ob)]
            seed = args.seed + 100000 * k + i
            status, rel, bad = one(loss, hb, ob, seed)
            counts[status] += 1
            worst[0] = max(worst[0], rel)
            if bad is not None:
                unsound[0] += 1
                failures.append(f"{loss} {hb} {ob} seed {seed}: {bad}")
            elif status is not Status.OPTIMAL:
                failures.append(f"{loss} {hb} {ob} seed {seed}: {status.value}, gap {rel:.2e}")
            if failures and failures[-1].startswith(f"{loss} {hb} {ob} seed {seed}:"):
                print("FAILURE (now):", failures[-1], flush=True)
        if (i + 1) % args.every == 0 or i + 1 == args.per_mode:
            print(f"\nafter {i + 1} problems per mode ({time.perf_counter() - t0:.0f} s wall, "
                  f"{time.process_time() - c0:.0f} s CPU):")
            table(stats, i + 1)
    print(f"\n{time.perf_counter() - t0:.0f} s wall, {time.process_time() - c0:.0f} s CPU")
    for f in failures[:40]:
        print("FAILURE:", f)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
