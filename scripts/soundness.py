"""Soundness run: known-gap networks are never certified; known-optimal ones mostly are.

    python scripts/soundness.py [--problems 350] [--seed 0]

Prints a table per kind of network: count, certified optimal, suboptimal (with a witness
whose objective is re-evaluated and below the network's), inconclusive. Exit 1 if any
known-gap network is certified optimal or any witness fails its re-evaluation.
"""

import argparse
import collections
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from soundness_cases import TOL, known_gap_networks, make_problem, optimal_networks  # noqa: E402

from cvxrelu.certificate import Status, verify  # noqa: E402
from cvxrelu.model import objective  # noqa: E402


def run(n_problems: int, seed: int, verbose: bool = True):
    stats = collections.defaultdict(collections.Counter)
    failures = []
    t0 = time.time()
    for p in range(n_problems):
        prob = make_problem(seed * 100003 + p)
        rng = np.random.default_rng(seed * 7919 + p)
        for kind, net in known_gap_networks(prob, rng):
            cert = verify(net, prob.data, prob.model, tol=TOL)
            stats[kind][cert.status.value] += 1
            if cert.status is Status.OPTIMAL:
                failures.append(("FALSE OPTIMAL", kind, seed * 100003 + p))
            if cert.status is Status.SUBOPTIMAL:
                if not objective(cert.witness, prob.data, prob.model) < cert.objective:
                    failures.append(("BAD WITNESS", kind, seed * 100003 + p))
            if cert.lower_bound > prob.P_ref + 1e-9 * max(1, abs(prob.P_ref)):
                failures.append(("LOWER BOUND ABOVE P_ref", kind, seed * 100003 + p))
        for net in optimal_networks(prob, rng):
            cert = verify(net, prob.data, prob.model, tol=TOL)
            stats["known optimal (split, permuted)"][cert.status.value] += 1
        if verbose and (p + 1) % 25 == 0:
            print(f"  {p + 1} problems, {time.time() - t0:.0f} s", file=sys.stderr, flush=True)
    return stats, failures, time.time() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--problems", type=int, default=350)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    stats, failures, secs = run(args.problems, args.seed)
    print(f"{args.problems} problems (n 3..10, d 1..2, hidden bias none/penalized, squared loss), "
          f"tolerance {TOL}, {secs:.0f} s\n")
    print("| networks | count | certified optimal | suboptimal (witness) | inconclusive |")
    print("|---|---:|---:|---:|---:|")
    gap_total = gap_opt = 0
    for kind, c in sorted(stats.items()):
        tot = sum(c.values())
        print(f"| {kind} | {tot} | {c['optimal']} | {c['suboptimal']} | {c['inconclusive']} |")
        if not kind.startswith("known optimal"):
            gap_total += tot
            gap_opt += c["optimal"]
    opt = stats["known optimal (split, permuted)"]
    ot = sum(opt.values())
    print(f"\nknown-gap networks: {gap_total}, certified optimal: {gap_opt}")
    print(f"known-optimal networks: {ot}, certified: {opt['optimal']} ({100 * opt['optimal'] / max(ot, 1):.1f} %)")
    for f in failures[:20]:
        print("FAILURE:", f)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
