"""Soundness run: known-gap networks are never certified; known-optimal ones mostly are.

    python scripts/soundness.py [--problems 350] [--seed 0]

Prints a table per kind of network: count, certified optimal, suboptimal (with a witness
whose objective is re-evaluated and below the network's), inconclusive. Exit 1 if any
known-gap network is certified optimal or any witness fails its re-evaluation.
"""

import argparse
import sys
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from soundness_cases import TOL, run  # noqa: E402



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
