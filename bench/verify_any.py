"""verify beyond enumeration: an Adam-trained network and `solve`'s output at d = 10.

    python bench/verify_any.py [--n 1000] [--d 10] [--time-limit 60] [--out /tmp/verify_any]

Planted data (X Gaussian, y from a planted ReLU network of 5 neurons, standardized, noise
0.1), squared loss, no biases, beta = 0.1. Writes three checkpoints into --out and times,
each through the CLI in a subprocess (as a user runs it): `cvxrelu verify` on the Adam net
(width 20, 2 000 full-batch Adam steps), `cvxrelu solve` on the same data (sampled patterns
and pattern search, the default there) and `cvxrelu verify` on solve's output. Prints one
markdown table (docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cvxrelu.io import save_checkpoint  # noqa: E402
from cvxrelu.model import Dataset, Model  # noqa: E402
from cvxrelu.search import train_gradient  # noqa: E402


def planted(n, d, seed=0, width=5, noise=0.1):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    U, a = rng.standard_normal((d, width)), rng.standard_normal(width)
    y = np.maximum(X @ U, 0) @ a
    return Dataset(X, y / np.std(y) + noise * rng.standard_normal(n))


def cli(*args):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    t = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "cvxrelu.cli", *map(str, args), "--json"], capture_output=True,
                       text=True, env=env)
    secs = time.perf_counter() - t
    try:
        d = json.loads(r.stdout)
    except json.JSONDecodeError:
        d = {"status": f"exit {r.returncode}: {r.stderr.strip()[:120]}"}
    return r.returncode, d, secs


def row(what, code, d, secs):
    lb, obj = d.get("lower_bound"), d.get("objective")
    ratio = "-" if d.get("dual_ratio_upper") is None else f"{d['dual_ratio_lower']:.4f} / {d['dual_ratio_upper']:.4f}"
    wit = d.get("witness") or {}
    wobj = wit.get("objective") if isinstance(wit, dict) else None
    fmt = lambda x: "-" if x is None else f"{x:.6g}"  # noqa: E731
    return (f"| {what} | {code} | {d.get('status')} | {d.get('bound_method', '-')} | {fmt(obj)} | {fmt(lb)} | "
            f"{fmt(d.get('relative_gap'))} | {ratio} | {fmt(wobj)} | {secs:.1f} |")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--d", type=int, default=10)
    ap.add_argument("--beta", type=float, default=0.1)
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--out", default="/tmp/verify_any")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data, model = planted(args.n, args.d), Model(beta=args.beta)
    net = train_gradient(data, model, width=20, seed=0, iters=2000)
    adam = out / "adam.h5"
    save_checkpoint(adam, net, model, data)
    tl = ["--time-limit", args.time_limit]
    print(f"n = {args.n}, d = {args.d}, beta = {args.beta}, squared loss, no biases, --time-limit {args.time_limit:g}\n")
    print("| command | exit | status | bound method | objective | lower bound | relative gap | M/beta (lower / upper) "
          "| witness objective | seconds |")
    print("|---|---:|---|---|---:|---:|---:|---|---:|---:|")
    print(row("verify adam.h5", *cli("verify", adam, *tl, "--witness", out / "adam_better.h5")), flush=True)
    solved = out / "solved.h5"
    code, d, secs = cli("solve", adam, "--beta", args.beta, "-o", solved, *tl)
    print(row("solve", code, d, secs), flush=True)
    if solved.exists():
        print(row("verify solved.h5", *cli("verify", solved, *tl)), flush=True)


if __name__ == "__main__":
    main()
