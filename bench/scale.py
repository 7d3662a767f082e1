"""Exact certificates at large n: verify near-optimal networks from `solve`, 1 and 2 jobs.

    python bench/scale.py [--sizes 1:100000,2:10000,3:1000] [--jobs 1,2,dask] [--cache /tmp/cvxrelu-scale]

Planted data as in bench/verify.py (X uniform in [-2, 2]^d, y = sin(1.5 x_1) (+ 0.5 cos x_2) +
noise 0.1), squared loss, penalized hidden bias, beta = 0.01 n. The network comes from
`cvxrelu.solve.solve` over --patterns sampled patterns (default 64, no search: solve itself
takes minutes at n = 1e5; cached in --cache, so a second run times only verify). Each verify runs in a fresh subprocess (peak memory = its ru_maxrss) and the
table reports: total verify time, the dual bound's time, the witness search's time, cells
visited per second of the bound, the speed-up from 1 to 2 jobs, and peak resident memory.
The results of the runs with different --jobs are compared bit for bit. The load average of
the machine is printed with every row (the machine is shared), and the CPU seconds of the
verify process and its workers (the time on an idle machine, for one job).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

BETA_MEAN = 0.01


def planted(n, d, seed=0):
    import numpy as np

    from cvxrelu.model import Dataset

    rng = np.random.default_rng(seed)
    X = rng.uniform(-2, 2, (n, d))
    y = np.sin(1.5 * X[:, 0]) + (0.5 * np.cos(X[:, 1]) if d > 1 else 0) + 0.1 * rng.standard_normal(n)
    return Dataset(X, y)


def prepare(d, n, cache: Path, patterns: int, search: bool) -> Path:
    """A near-optimal network from solve, saved as a checkpoint with its data (cached)."""
    from cvxrelu.io import save_checkpoint
    from cvxrelu.model import Model
    from cvxrelu.solve import solve

    path = cache / f"planted_d{d}_n{n}.h5"
    if path.exists():
        return path
    cache.mkdir(parents=True, exist_ok=True)
    data = planted(n, d)
    model = Model(beta=BETA_MEAN * n, hidden_bias="penalized")
    t0 = time.perf_counter()
    res = solve(data, model, patterns=patterns, search=search, search_rounds=3, search_seconds=20)
    print(f"# solve d={d} n={n}: {time.perf_counter() - t0:.1f} s, objective {res.objective:.6g}",
          flush=True)
    save_checkpoint(str(path), res.network, model, data)
    return path


def worker(path: str, jobs: int) -> None:
    """One verify, in this (fresh) process; prints one JSON line."""
    import resource

    from cvxrelu.certificate import verify
    from cvxrelu.io import load_checkpoint

    ck = load_checkpoint(path)
    cluster = None
    scheduler = None
    if jobs == "dask":  # a 2-worker LocalCluster, started before the clock
        from distributed import LocalCluster

        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
        scheduler = cluster.scheduler_address
    t0 = time.perf_counter()
    cert = verify(ck.network, ck.data, ck.model, jobs=1 if scheduler else int(jobs), scheduler=scheduler)
    total = time.perf_counter() - t0
    if cluster is not None:
        cluster.close()
    d = cert.to_dict()
    me, ch = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    rss, kids = me.ru_maxrss * 1024, ch.ru_maxrss * 1024
    cpu = me.ru_utime + me.ru_stime + ch.ru_utime + ch.ru_stime  # workers included once they exit
    print(json.dumps({
        "status": d["status"], "total_s": total, "timings": d.get("timings", {}),
        "M": d.get("dual", {}).get("M"), "M_error": d.get("dual", {}).get("M_error_bound"),
        "lower_bound": d["lower_bound"], "relative_gap": d["relative_gap"],
        "cells": d.get("arrangement", {}).get("cells_visited"),
        "candidates": d.get("arrangement", {}).get("interior_candidates_checked"),
        "rank": d.get("arrangement", {}).get("rank"),
        "peak_rss": rss, "peak_rss_workers": kids, "cpu_s": cpu,
    }))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1:100000,2:10000,3:1000")
    ap.add_argument("--jobs", default="1,2", help="comma list of job counts; 'dask' = a 2-worker LocalCluster")
    ap.add_argument("--cache", default="/tmp/cvxrelu-scale")
    ap.add_argument("--patterns", type=int, default=64, help="sampled patterns for solve")
    ap.add_argument("--search", action="store_true", help="solve with its pattern search (slow at n = 1e5)")
    ap.add_argument("--worker", nargs=2, metavar=("CHECKPOINT", "JOBS"))
    args = ap.parse_args()
    if args.worker:
        worker(args.worker[0], args.worker[1])
        return
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    print(f"{'d':>2} {'n':>7} {'jobs':>4} {'status':>12} {'verify s':>9} {'bound s':>8} {'witness s':>9} "
          f"{'cells':>11} {'cells/s':>9} {'speed-up':>8} {'peak MiB':>8} {'cpu s':>7} {'load':>5}")
    for spec in args.sizes.split(","):
        d, n = (int(v) for v in spec.split(":"))
        path = prepare(d, n, Path(args.cache), args.patterns, args.search)
        first = None
        for jobs in args.jobs.split(","):
            load = os.getloadavg()[0]
            out = subprocess.run([sys.executable, __file__, "--worker", str(path), str(jobs)],
                                 capture_output=True, text=True, env=env)
            if out.returncode != 0:
                print(f"# d={d} n={n} jobs={jobs} failed: {out.stderr.strip().splitlines()[-1:]}")
                continue
            r = json.loads(out.stdout.strip().splitlines()[-1])
            tb = r["timings"].get("dual_bound_s", float("nan"))
            tw = r["timings"].get("witness_s", 0.0)
            cells = r["cells"] or 0
            if first is None:
                first = r
                speed = 1.0
            else:
                speed = first["timings"]["dual_bound_s"] / tb
                same = all(first[k] == r[k] for k in ("M", "M_error", "lower_bound", "cells", "candidates", "status"))
                if not same:
                    print(f"# d={d} n={n}: jobs={jobs} DIFFERS from the first run: {first} vs {r}")
            peak = max(r["peak_rss"], r["peak_rss_workers"]) / 2**20
            print(f"{d:>2} {n:>7} {jobs:>4} {r['status']:>12} {r['total_s']:>9.2f} {tb:>8.2f} {tw:>9.2f} "
                  f"{cells:>11.4g} {cells / tb:>9.3g} {speed:>8.2f} {peak:>8.0f} {r['cpu_s']:>7.1f} {load:>5.2f}", flush=True)


if __name__ == "__main__":
    main()
