"""Soundness run: known-gap networks are never certified; known-optimal ones mostly are.

    python scripts/soundness.py [--problems 350] [--seed 0] [--modes exact,bounded]

Every network is verified once per mode: ``exact`` (the dual constraint by enumerating the
arrangement) and ``bounded`` (forced bounded mode: bounds.bound_dual_constraint and the
refutation search, as verify runs on data too large to enumerate; here the data are small, so
the exact verdict is known). Prints a table per mode and kind of network: count, certified
optimal, suboptimal (with a witness whose objective is re-evaluated and below the network's),
inconclusive. Exit 1 if any known-gap network is certified optimal, any witness fails its
re-evaluation or any lower bound exceeds the reference optimum, in either mode.
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


#: Time limit of each forced bounded-mode verify (the data are tiny: it rarely binds).
BOUNDED_TIME_LIMIT = 10.0
OPTIMAL_KIND = "known optimal (split, permuted)"


def run(n_problems: int, seed: int, verbose: bool = True, modes=("exact", "bounded")):
    """Verify every generated network in every mode; (stats[mode][kind] Counter, failures, seconds)."""
    stats = {mode: collections.defaultdict(collections.Counter) for mode in modes}
    failures = []
    t0 = time.time()

    def check(mode, net, prob):
        kw = {"patterns": mode} if mode == "bounded" else {}
        if mode == "bounded":
            kw["time_limit"] = BOUNDED_TIME_LIMIT
        return verify(net, prob.data, prob.model, tol=TOL, **kw)

    for p in range(n_problems):
        pid = seed * 100003 + p
        prob = make_problem(pid)
        rng = np.random.default_rng(seed * 7919 + p)
        gap_nets = known_gap_networks(prob, rng)
        opt_nets = optimal_networks(prob, rng)
        for mode in modes:
            for kind, net in gap_nets:
                cert = check(mode, net, prob)
                stats[mode][kind][cert.status.value] += 1
                if cert.status is Status.OPTIMAL:
                    failures.append(("FALSE OPTIMAL", mode, kind, pid))
                if cert.status is Status.SUBOPTIMAL:
                    if not objective(cert.witness, prob.data, prob.model) < cert.objective:
                        failures.append(("BAD WITNESS", mode, kind, pid))
                if cert.lower_bound > prob.P_ref + 1e-9 * max(1, abs(prob.P_ref)):
                    failures.append(("LOWER BOUND ABOVE P_ref", mode, kind, pid))
            for net in opt_nets:
                cert = check(mode, net, prob)
                stats[mode][OPTIMAL_KIND][cert.status.value] += 1
                if cert.lower_bound > prob.P_ref + 1e-9 * max(1, abs(prob.P_ref)):
                    failures.append(("LOWER BOUND ABOVE P_ref", mode, OPTIMAL_KIND, pid))
        if verbose and (p + 1) % 25 == 0:
            print(f"  {p + 1} problems, {time.time() - t0:.0f} s", file=sys.stderr, flush=True)
    return stats, failures, time.time() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--problems", type=int, default=350)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--modes", default="exact,bounded", help="comma-separated: exact, bounded")
    args = ap.parse_args()
    modes = tuple(m for m in args.modes.split(",") if m)
    stats, failures, secs = run(args.problems, args.seed, modes=modes)
    print(f"{args.problems} problems (n 3..10, d 1..2, hidden bias none/penalized, squared loss), "
          f"tolerance {TOL}, modes {', '.join(modes)}, {secs:.0f} s\n")
    print("| mode | networks | count | certified optimal | suboptimal (witness) | inconclusive |")
    print("|---|---|---:|---:|---:|---:|")
    for mode in modes:
        gap_total = gap_opt = 0
        for kind, c in sorted(stats[mode].items()):
            tot = sum(c.values())
            print(f"| {mode} | {kind} | {tot} | {c['optimal']} | {c['suboptimal']} | {c['inconclusive']} |")
            if kind != OPTIMAL_KIND:
                gap_total += tot
                gap_opt += c["optimal"]
        opt = stats[mode][OPTIMAL_KIND]
        ot = sum(opt.values())
        print(f"\n{mode}: known-gap networks: {gap_total}, certified optimal: {gap_opt}; known-optimal "
              f"networks: {ot}, certified: {opt['optimal']} ({100 * opt['optimal'] / max(ot, 1):.1f} %)\n")
    for f in failures[:20]:
        print("FAILURE:", f)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
