"""Exact certificates at large n: verify near-optimal networks from `solve`, 1 and 2 jobs.

    python bench/scale.py [--sizes 1:100000,2:10000,3:1000] [--jobs 1,2,dask] [--cache /tmp/cvxrelu-scale]
                          [--time-limit 60] [--patterns-mode exact] [--optimal] [--memory]

Planted data as in bench/verify.py (X uniform in [-2, 2]^d, y = sin(1.5 x_1) (+ 0.5 cos x_2) +
noise 0.1), squared loss, penalized hidden bias, beta = 0.01 n. The network comes from
`cvxrelu.solve.solve` over --patterns sampled patterns (default 64, no search: solve itself
takes minutes at n = 1e5; cached in --cache, so a second run times only verify); with
--optimal from solve with its search followed by ``to_optimum`` (column generation whose
pricing stops at the first violated cell, ending with one whole enumeration): an optimal
network, which verify can certify only by enumerating every cell; with --dual-planted a
one-neuron network that is optimal by construction (``dual_planted``). Each verify runs in a fresh subprocess (peak memory = its ru_maxrss) and the
table reports: total verify time, the dual bound's time, the witness search's time, cells
visited per second of the bound, the speed-up from 1 to 2 jobs, and peak resident memory.
The results of the runs with different --jobs are compared bit for bit. The load average of
the machine is printed with every row (the machine is shared), and the CPU seconds of the
verify process and its workers (the time on an idle machine, for one job). Worker processes
are grandchildren (forkserver), so their peak memory is read from /proc (VmHWM of every
descendant, polled) rather than from RUSAGE_CHILDREN. --memory prints the peak-memory table of
the engine alone (``analyze`` on the same planted data, n x rank grid) instead.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

BETA_MEAN = 0.01
#: As the CLI does (cvxrelu/cli.py): a multithreaded BLAS on a loaded machine spins (measured
#: here: the dual objective at n = 100 000 took 41 ms instead of 0.2 ms at load average 12).
BLAS_ONE_THREAD = {v: "1" for v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                                    "VECLIB_MAXIMUM_THREADS")}


def planted(n, d, seed=0):
    import numpy as np

    from cvxrelu.model import Dataset

    rng = np.random.default_rng(seed)
    X = rng.uniform(-2, 2, (n, d))
    y = np.sin(1.5 * X[:, 0]) + (0.5 * np.cos(X[:, 1]) if d > 1 else 0) + 0.1 * rng.standard_normal(n)
    return Dataset(X, y)


def dual_planted(n, d, jobs=2):
    """Data and a one-neuron network that is a global minimum by construction.

    The dual point nu0 = y0 - mean(y0) of the planted data (X, y0) is scaled to nu = nu0 beta
    / M(nu0), so that max_{||u|| <= 1} |nu^T relu(Xt u)| = beta (M and its argmax u*, sign s,
    from the exact enumeration); the network is the neuron u = u*, alpha = s (||u|| = |alpha|
    = 1), and the labels are y = f + nu with f = s relu(Xt u*). Then y - f = nu satisfies the
    optimality conditions of the convex program (docs/method.md): the neuron's block has
    Xt^T D* nu = beta u* up to its cone's normals, every other block's constraint holds with
    M = beta. Optimal up to the enumeration's M_error (about 1e-15 relative here).
    """
    import numpy as np

    from cvxrelu.arrangements import analyze
    from cvxrelu.model import Dataset, Model, Network

    data0 = planted(n, d)
    model = Model(beta=BETA_MEAN * n, hidden_bias="penalized")
    Xt = model.augment(data0.X)
    nu0 = data0.y - data0.y.mean()
    res = analyze(Xt, nu0, jobs=jobs)
    u = res.argmax / np.linalg.norm(res.argmax)
    s = float(res.argmax_sign)
    nu = nu0 * (model.beta / res.M)
    f = s * np.maximum(Xt @ u, 0.0)
    net = Network(U=u[:d, None].copy(), alpha=np.array([s]), b=np.array([u[d]]))
    return Dataset(data0.X, f + nu), model, net


def prepare(d, n, cache: Path, patterns: int, search: bool, optimal: bool = False, dual: bool = False,
            exact: bool = False) -> Path:
    """A network from solve, saved as a checkpoint with its data (cached). ``optimal``: solve
    with its pattern search, then ``to_optimum`` (an optimal network, which verify certifies
    only by the whole enumeration); ``exact``: solve's default (exact column generation)."""
    from cvxrelu.io import save_checkpoint
    from cvxrelu.model import Model, objective
    from cvxrelu.solve import solve

    path = cache / (f"planted_dual_d{d}_n{n}.h5" if dual else f"planted_exact_d{d}_n{n}.h5" if exact else
                    f"planted_opt_d{d}_n{n}.h5" if optimal else f"planted_d{d}_n{n}.h5")
    if path.exists():
        return path
    cache.mkdir(parents=True, exist_ok=True)
    if dual:
        t0 = time.perf_counter()
        data, model, net = dual_planted(n, d)
        print(f"# dual-planted d={d} n={n}: {time.perf_counter() - t0:.1f} s", flush=True)
        save_checkpoint(str(path), net, model, data)
        return path
    data = planted(n, d)
    model = Model(beta=BETA_MEAN * n, hidden_bias="penalized")
    t0, c0 = time.perf_counter(), time.process_time()
    if exact:  # what `cvxrelu solve DATA` does: exact column generation where one pricing is affordable
        res = solve(data, model, jobs=2)
        print(f"# solve (exact) d={d} n={n}: status {res.status.value}, relative gap {res.to_dict()['relative_gap']:.2g}, "
              f"{len(res.extra.get('history', []))} rounds, stopped {res.extra.get('colgen_stopped')}, "
              f"{time.process_time() - c0:.1f} s CPU (this process), peak RSS "
              f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB", flush=True)
    elif optimal:
        res = solve(data, model, patterns=200, search=True, search_rounds=30, jobs=2)
    else:
        res = solve(data, model, patterns=patterns, search=search, search_rounds=3, search_seconds=20)
    print(f"# solve d={d} n={n}: {time.perf_counter() - t0:.1f} s, objective {res.objective:.10g}",
          flush=True)
    net = res.network
    if optimal:
        net = to_optimum(data, model, net, jobs=2, tol=1e-6, pricing="bounded" if d >= 3 else "exact")
        print(f"# to_optimum d={d} n={n}: {time.perf_counter() - t0:.1f} s in all, objective "
              f"{objective(net, data, model):.10g}", flush=True)
    save_checkpoint(str(path), net, model, data)
    return path


def to_optimum(data, model, net, *, jobs: int = 2, tol: float = 1e-7, rounds: int = 80, log=print, each=None,
               pricing: str = "exact"):
    """Column generation from ``net``'s patterns with a CEILING on the pricing (the engine stops
    at the first violated cell, arrangements.analyze(stop_above)): every round but the last
    costs a warm start or a part of the enumeration; the last one, the full enumeration, proves
    that no pattern is violated by more than ``tol`` (relative to beta). The network returned
    is optimal to the solver's accuracy: what verify must then certify with a full enumeration.
    ``each(net)`` is called with every round's network. ``pricing="bounded"``: the branch and
    bound with the same thresholds instead of the enumeration (faster at rank 4).
    """
    import numpy as np

    from cvxrelu.lower_bound import dual_start, lower_bound
    from cvxrelu.model import objective, predict
    from cvxrelu.program import network_from_blocks, solve_program
    from cvxrelu.search import ascent_starts, violated_patterns

    Xt = model.augment(data.X)
    rng = np.random.default_rng(0)
    Ut = net.Ut()
    G = Ut[:, (np.linalg.norm(Ut, axis=0) > 0) & (net.alpha != 0)].T  # a direction in each pattern's cell

    def patterns_of(D):
        P, idx = np.unique((Xt @ D.T > 0).T, axis=0, return_index=True)
        return P, D[idx]

    work, G = patterns_of(G)
    for rnd in range(rounds):
        if each is not None:
            each(net)
        nu1, _ = dual_start(net, data, model)
        t0 = time.perf_counter()
        target = model.beta * (1 + tol)
        if pricing == "exact":
            lb = lower_bound(nu1, data, model, patterns="exact", jobs=jobs, time_limit=7200, stop_above=target)
            done = lb.complete
        else:  # the branch and bound, told both thresholds (bounds.py)
            lb = lower_bound(nu1, data, model, patterns="bounded", time_limit=1800, stop_above=target,
                             stop_below=target)
            done = lb.M_upper <= target
        L = objective(net, data, model)
        log(f"#   round {rnd}: objective {L:.12g}, M/beta in [{lb.M_lower / model.beta:.10f}, "
            f"{lb.M_upper / model.beta:.10f}], {'done' if done else 'go on'}, {time.perf_counter() - t0:.1f} s, "
            f"{work.shape[0]} patterns")
        if done or lb.M_lower <= model.beta:
            return net
        dirs = []
        if lb.argmax is not None:  # its pattern is violated (either sign), and nearby ones
            u = lb.argmax
            dirs = [u] + [u + 1e-3 * np.linalg.norm(u) * rng.standard_normal(u.shape) for _ in range(8)]
        lam = model.loss_fn.gradient(predict(net, data.X), data.y)
        violated_patterns(Xt, lam, model, ascent_starts(Xt, net, rng), {row.tobytes() for row in work}, k=16,
                          directions=dirs)
        if not dirs:
            return net
        size = work.shape[0]
        work, G = patterns_of(np.vstack([G, np.array(dirs)]))
        same = work.shape[0] == size
        # with hints (a direction in each cell) the interior point screens its rows; nothing new:
        # its answer was not accurate enough to price, Clarabel
        sol = solve_program(Xt, data.y, work, model, solver="clarabel" if same else "auto", hints=G)
        net = network_from_blocks(sol.W, sol.V, sol.c, model, 1e-10)
    return net


class DescendantPeak:
    """Largest VmHWM (bytes) of this process's descendants, polled from /proc every 0.1 s."""

    def __init__(self):
        import threading

        self.peak, self.cpu, self._stop = 0, {}, False
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _descendants(self):
        me, kids = os.getpid(), {}
        for pid in os.listdir("/proc"):
            if pid.isdigit():
                try:
                    with open(f"/proc/{pid}/stat") as f:
                        kids.setdefault(int(f.read().rsplit(")", 1)[1].split()[1]), []).append(int(pid))
                except OSError:
                    pass
        out, todo = [], [me]
        while todo:
            for c in kids.get(todo.pop(), []):
                out.append(c)
                todo.append(c)
        return out

    def _run(self):
        tick = os.sysconf("SC_CLK_TCK")
        while not self._stop:
            for pid in self._descendants():
                try:
                    with open(f"/proc/{pid}/status") as f:
                        for line in f:
                            if line.startswith("VmHWM:"):
                                self.peak = max(self.peak, int(line.split()[1]) * 1024)
                    with open(f"/proc/{pid}/stat") as f:
                        fields = f.read().rsplit(")", 1)[1].split()
                        self.cpu[pid] = (int(fields[11]) + int(fields[12])) / tick  # utime + stime
                except OSError:
                    pass
            time.sleep(0.1)

    def stop(self):
        self._stop = True
        self._t.join()
        return self.peak, sum(self.cpu.values())


def worker(path: str, jobs: int, time_limit: float, patterns: str) -> None:
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
    poll = DescendantPeak()
    c0 = time.process_time()
    t0 = time.perf_counter()
    cert = verify(ck.network, ck.data, ck.model, jobs=1 if scheduler else int(jobs), scheduler=scheduler,
                  time_limit=time_limit, patterns=patterns)
    total = time.perf_counter() - t0
    cpu_self = time.process_time() - c0
    if cluster is not None:
        cluster.close()
    kids, cpu_kids = poll.stop()
    d = cert.to_dict()
    me = resource.getrusage(resource.RUSAGE_SELF)
    arr = d.get("arrangement", {})
    print(json.dumps({
        "status": d["status"], "total_s": total, "timings": d.get("timings", {}),
        "M": d.get("dual", {}).get("M"), "M_error": d.get("dual", {}).get("M_error_bound"),
        "M_upper": d.get("dual", {}).get("M_upper"), "beta": ck.model.beta,
        "lower_bound": d["lower_bound"], "relative_gap": d["relative_gap"], "patterns": d.get("patterns"),
        "cells": arr.get("cells_visited"), "candidates": arr.get("interior_candidates_checked"),
        "rank": arr.get("rank"), "stopped": arr.get("stopped"), "refine": d.get("refine", {}).get("stopped"),
        "witness_bound": d.get("witness_bound"),
        "peak_rss": me.ru_maxrss * 1024, "peak_rss_workers": kids, "cpu_s": cpu_self + cpu_kids,
    }))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1:100000,2:10000,3:1000")
    ap.add_argument("--jobs", default="1,2", help="comma list of job counts; 'dask' = a 2-worker LocalCluster")
    ap.add_argument("--cache", default="/tmp/cvxrelu-scale")
    ap.add_argument("--patterns", type=int, default=64, help="sampled patterns for solve")
    ap.add_argument("--search", action="store_true", help="solve with its pattern search (slow at n = 1e5)")
    ap.add_argument("--optimal", action="store_true",
                    help="optimal networks (solve with search, then column generation with a ceiling: to_optimum)")
    ap.add_argument("--exact-solve", action="store_true",
                    help="networks from solve's default (exact column generation; 1-D data at n = 1e5)")
    ap.add_argument("--dual-planted", action="store_true",
                    help="networks optimal by construction (``dual_planted``: labels made from a scaled dual point)")
    ap.add_argument("--time-limit", type=float, default=60.0, help="verify --time-limit (the CLI's default)")
    ap.add_argument("--patterns-mode", default="exact", choices=["auto", "exact", "bounded"],
                    help="verify's patterns mode (exact: the enumeration, unless the engine refuses)")
    ap.add_argument("--memory", action="store_true", help="the engine's peak-memory table instead")
    ap.add_argument("--worker", nargs=2, metavar=("CHECKPOINT", "JOBS"))
    args = ap.parse_args()
    if args.worker:
        worker(args.worker[0], args.worker[1], args.time_limit, args.patterns_mode)
        return
    if args.memory:
        memory_table()
        return
    env = dict(os.environ, PYTHONPATH=str(ROOT), **BLAS_ONE_THREAD)
    print(f"{'d':>2} {'n':>7} {'jobs':>4} {'status':>12} {'verify s':>9} {'bound s':>8} {'witness s':>9} "
          f"{'cells':>11} {'cells/s':>9} {'speed-up':>8} {'peak MiB':>8} {'cpu s':>7} {'load':>5}")
    for spec in args.sizes.split(","):
        d, n = (int(v) for v in spec.split(":"))
        path = prepare(d, n, Path(args.cache), args.patterns, args.search, args.optimal, args.dual_planted,
                       args.exact_solve)
        first = None
        for jobs in args.jobs.split(","):
            load = os.getloadavg()[0]
            out = subprocess.run([sys.executable, __file__, "--worker", str(path), str(jobs), "--time-limit",
                                  str(args.time_limit), "--patterns-mode", args.patterns_mode],
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
            print(f"#   {r['patterns']} M/beta {r['M'] / r['beta'] if r['M'] else float('nan'):.4g} "
                  f"M_upper/beta {r['M_upper'] / r['beta'] if r['M_upper'] else float('nan'):.4g} "
                  f"stopped {r['stopped']} timings {json.dumps({k: round(v, 2) for k, v in r['timings'].items()})} "
                  f"refine {r['refine']!r} witness bound {r['witness_bound']} "
                  f"peak MiB verify {r['peak_rss'] / 2**20:.0f} workers {r['peak_rss_workers'] / 2**20:.0f}",
                  flush=True)


def memory_table():
    """Peak RSS of ``analyze`` (fresh process each) on planted data against n and the rank,
    beside the formula of docs/scale.md, and of the pattern list (exact patterns, small n)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), **BLAS_ONE_THREAD)
    code = ("import sys, resource, time, numpy as np\n"
            "sys.path.insert(0, {bench!r})\n"
            "from scale import planted\n"
            "from cvxrelu.arrangements import analyze\n"
            "from cvxrelu.model import Model\n"
            "n, d, pat = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == '1'\n"
            "data = planted(n, d); Xt = Model(beta=1.0, hidden_bias='penalized').augment(data.X)\n"
            "nu = np.random.default_rng(1).standard_normal(n) * 0.1\n"
            "c = time.process_time(); res = analyze(Xt, None if pat else nu, patterns=pat)\n"
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, time.process_time() - c,"
            " res.n_patterns or 0)\n").format(bench=str(Path(__file__).parent))
    from cvxrelu.arrangements import estimate_work

    print(f"{'rank':>4} {'n':>7} {'patterns':>9} {'peak MiB':>9} {'estimate MiB':>12} {'cpu s':>7} {'load':>5}")
    for d, ns, pat in ((1, (1000, 10000, 100000), 0), (2, (1000, 2000, 4000), 0), (3, (100, 150, 200), 0),
                       (1, (1000, 10000), 1), (2, (100, 300), 1)):
        for n in ns:
            load = os.getloadavg()[0]
            out = subprocess.run([sys.executable, "-c", code, str(n), str(d), str(pat)], capture_output=True,
                                 text=True, env=env)
            if out.returncode != 0:
                print(f"# rank {d + 1} n={n} failed: {out.stderr.strip().splitlines()[-1:]}")
                continue
            rss, cpu, npat = out.stdout.split()
            est = estimate_work(n, d + 1, patterns=bool(pat), with_nu=not pat)["bytes"] / 2**20
            print(f"{d + 1:>4} {n:>7} {int(npat):>9} {int(rss) / 2**20:>9.0f} {est:>12.0f} {float(cpu):>7.1f} "
                  f"{load:>5.2f}", flush=True)


if __name__ == "__main__":
    main()
