"""Exact pattern sets on degenerate data against a brute-force oracle.

    python scripts/degenerate_patterns.py [--instances 1200] [--seed 0]

For each instance (n <= 12), every sign vector is tested for a full-dimensional cell with an LP
(cvxrelu.arrangements.brute_force_patterns); the engine's pattern set must be equal. Kinds:
duplicates (incl. negative multiples), collinear points with a bias column, zero rows,
rank-deficient X, d > n (n up to 12, d = n + 1..3), small integer grids. Exit 1 on any mismatch.
"""

import argparse
import collections
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cvxrelu.arrangements import analyze, brute_force_patterns  # noqa: E402


def instance(rng, kind):
    n = int(rng.integers(2, 13))
    if kind == "duplicates":
        d = int(rng.integers(1, 4))
        X = rng.standard_normal((n, d))
        k = n // 2
        X[k:] = X[: n - k] * rng.choice([1.0, 2.0, -1.0, -3.0], (n - k, 1))
    elif kind == "collinear+bias":
        t = rng.integers(-4, 5, size=n).astype(float)
        X = np.column_stack([t, 2 * t - 1, np.ones(n)])
    elif kind == "zero rows":
        X = rng.standard_normal((n, int(rng.integers(1, 4))))
        X[rng.random(n) < 0.4] = 0.0
    elif kind == "rank deficient":
        d = int(rng.integers(2, 5))
        X = rng.integers(-2, 3, size=(n, d - 1)).astype(float) @ rng.integers(-1, 2, size=(d - 1, d)).astype(float)
    elif kind == "d > n":  # n up to 12, d = n + 1..3: rank n, every sign vector a cell
        X = rng.standard_normal((n, n + int(rng.integers(1, 4))))
    elif kind == "integer grid + bias":
        d = int(rng.integers(1, 3))
        X = np.hstack([rng.integers(-2, 3, size=(n, d)).astype(float), np.ones((n, 1))])
    else:
        raise ValueError(kind)
    return X


KINDS = ["duplicates", "collinear+bias", "zero rows", "rank deficient", "d > n", "integer grid + bias"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--instances", type=int, default=1200)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    ok = collections.Counter()
    bad = collections.Counter()
    t0 = time.time()
    for i in range(args.instances):
        kind = KINDS[i % len(KINDS)]
        X = instance(rng, kind)
        a = {tuple(r) for r in analyze(X, patterns=True).patterns}
        b = {tuple(r) for r in brute_force_patterns(X)}
        (ok if a == b else bad)[kind] += 1
        if a != b:
            print(f"MISMATCH {kind} instance {i}: engine {len(a)} vs oracle {len(b)}", flush=True)
    print(f"{args.instances} instances (seed {args.seed}), {time.time() - t0:.0f} s\n")
    print("| kind | instances | equal pattern sets |\n|---|---:|---:|")
    for k in KINDS:
        print(f"| {k} | {ok[k] + bad[k]} | {ok[k]} |")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
