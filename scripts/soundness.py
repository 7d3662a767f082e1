"""Soundness run: known-gap networks are never certified; known-optimal ones mostly are.

    python scripts/soundness.py [--problems 350] [--seed 0] [--modes exact,bounded]

Every network is verified once per mode: ``exact`` (the dual constraint by enumerating the
arrangement) and ``bounded`` (forced bounded mode: bounds.bound_dual_constraint and the
refutation search, as verify runs on data too large to enumerate; the data here are small, so
the truth is known). Prints a table per mode and kind of network: count, certified optimal,
suboptimal (with a witness whose objective is re-evaluated and below the network's),
inconclusive. Exit 1 if any known-gap network is certified optimal, any witness fails its
re-evaluation or any lower bound exceeds the reference optimum, in either mode.
"""

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from soundness_cases import MODES, OPTIMAL_KIND, TOL, run  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--problems", type=int, default=350)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--modes", default=",".join(MODES), help="comma-separated: exact, bounded")
    args = ap.parse_args()
    modes = tuple(m for m in args.modes.split(",") if m)
    stats, failures, secs = run(args.problems, args.seed, modes=modes)
    print(f"{args.problems} problems (n 3..10, d 1..2, hidden bias none/penalized, squared loss), "
          f"tolerance {TOL}, modes {', '.join(modes)}, {secs:.0f} s\n")
    print("| mode | networks | count | certified optimal | suboptimal (witness) | inconclusive |")
    print("|---|---|---:|---:|---:|---:|")
    totals = []
    for mode in modes:
        gap_total = gap_opt = 0
        for kind, c in sorted(stats[mode].items()):
            tot = sum(c.values())
            print(f"| {mode} | {kind} | {tot} | {c['optimal']} | {c['suboptimal']} | {c['inconclusive']} |")
            if kind != OPTIMAL_KIND:
                gap_total += tot
                gap_opt += c["optimal"]
        opt = stats[mode][OPTIMAL_KIND]
        totals.append((mode, gap_total, gap_opt, sum(opt.values()), opt["optimal"]))
    print()
    for mode, gap_total, gap_opt, ot, oo in totals:
        print(f"{mode}: known-gap networks: {gap_total}, certified optimal: {gap_opt}; "
              f"known-optimal networks: {ot}, certified: {oo} ({100 * oo / max(ot, 1):.1f} %)")
    for f in failures[:20]:
        print("FAILURE:", f)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
