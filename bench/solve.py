"""Benchmark `solve`: the convex program over sampled patterns, several ways, and gradient training.

Planted data: X (n, 10) Gaussian, y from a 5-neuron ReLU network + noise 0.1, squared loss, no
biases, beta = 1e-3 * n (1e-3 on the mean-scaled loss; our objective is sum-scaled). For each n
and number N of sampled Gaussian directions (deduplicated patterns, seed 0) it runs

* ``ipm``             cvxrelu.solve(..., patterns=N, search=False): the structured interior-point
                      method on exactly the sampled patterns (what cvxpy solves below);
* ``clarabel``        the same program in Clarabel's native API (program.solve_convex_program);
* ``cvxpy+clarabel``  the same program written in cvxpy (subprocess, killed after --cvxpy-timeout);
* ``first-order``     the augmented-Lagrangian solver (first_order.py) on the same patterns;
* ``solve (search)``  cvxrelu.solve(..., patterns=N): sampled patterns, then gradient warm starts
                      and dual-guided pattern search (search.py);
* ``adam``            full-batch Adam on the network objective, width N, 5 random starts; the row
                      gives the best start, the note the spread.

and prints one row per method: seconds, objective, relative difference to the cvxpy optimum
over the same patterns (when cvxpy finished) and to the best objective of the row group.
BLAS runs on one thread (as in the CLI) unless --threads says otherwise.

    python bench/solve.py                                   # the issue's table (long)
    python bench/solve.py --n 1000 --patterns 100 250       # the reference figures
    python bench/solve.py --n 200 --patterns 100 --methods ipm,cvxpy
    python bench/solve.py --issue17                         # solve vs 5 Adam starts at n = 20 000,
                                                            # then solve alone at n = 100 000

Each row also gives the CPU seconds of the method and the process's peak resident memory so
far (ru_maxrss: methods run in the order above, the search before Adam).
"""

from __future__ import annotations

import argparse
import os
import sys

if __name__ == "__main__":  # pin BLAS before numpy loads (the CLI does the same)
    _threads = "1"
    for i, a in enumerate(sys.argv):
        if a == "--threads" and i + 1 < len(sys.argv):
            _threads = sys.argv[i + 1]
    for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[_v] = _threads

import json  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
warnings.filterwarnings("ignore")

D_FEATURES = 10
METHODS = "ipm,clarabel,cvxpy,first-order,search,adam"


def planted(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, D_FEATURES))
    U = rng.standard_normal((D_FEATURES, 5))
    a = rng.standard_normal(5)
    y = np.maximum(X @ U, 0) @ a + 0.1 * rng.standard_normal(n)
    return X, y


CVXPY_CHILD = r"""
import sys, json, time, numpy as np, cvxpy as cp
d = np.load(sys.argv[1]); Xt, y, P, beta = d["Xt"], d["y"], d["P"], float(d["beta"])
t0 = time.perf_counter()
p, n = P.shape; dt = Xt.shape[1]
W, V = cp.Variable((p, dt)), cp.Variable((p, dt))
Dm = P.T.astype(float); S = 2 * Dm - 1
pred = cp.sum(cp.multiply(Dm, Xt @ (W - V).T), axis=1)
obj = 0.5 * cp.sum_squares(pred - y) + beta * (cp.sum(cp.norm(W, 2, axis=1)) + cp.sum(cp.norm(V, 2, axis=1)))
prob = cp.Problem(cp.Minimize(obj), [cp.multiply(S, Xt @ W.T) >= 0, cp.multiply(S, Xt @ V.T) >= 0])
prob.solve(solver="CLARABEL")
print(json.dumps({"objective": prob.value, "seconds": time.perf_counter() - t0, "status": prob.status}))
"""


def run_cvxpy(Xt, y, P, beta, timeout):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "inst.npz")
        np.savez(path, Xt=Xt, y=y, P=P, beta=beta)
        try:
            out = subprocess.run([sys.executable, "-c", CVXPY_CHILD, path], capture_output=True,
                                 text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return None, f"> {timeout:g} s (killed)"
        if out.returncode != 0:
            tail = out.stderr.strip().splitlines()
            return None, "error: " + (tail[-1][:80] if tail else str(out.returncode))
        return json.loads(out.stdout.strip().splitlines()[-1]), None


def adam_train(X, y, beta, width, starts=5, iters=3000, seed=0, lr=1e-2):
    """Full-batch Adam on 1/2 ||relu(X U) a - y||^2 + beta/2 (||U||^2 + ||a||^2); objectives per start."""
    out = []
    for s in range(starts):
        rng = np.random.default_rng(10_000 + seed + s)
        U = rng.standard_normal((X.shape[1], width)) / np.sqrt(X.shape[1])
        a = rng.standard_normal(width) / np.sqrt(width)
        params = [U, a]
        m = [np.zeros_like(q) for q in params]
        v = [np.zeros_like(q) for q in params]
        for t in range(1, iters + 1):
            Z = X @ U
            H = np.maximum(Z, 0)
            r = H @ a - y
            gU = X.T @ ((r[:, None] * a[None, :]) * (Z > 0)) + beta * U
            ga = H.T @ r + beta * a
            for q, g, mq, vq in zip(params, (gU, ga), m, v):
                mq *= 0.9
                mq += 0.1 * g
                vq *= 0.999
                vq += 0.001 * g * g
                q -= lr * (mq / (1 - 0.9**t)) / (np.sqrt(vq / (1 - 0.999**t)) + 1e-12)
        H = np.maximum(X @ U, 0)
        out.append(0.5 * float(np.sum((H @ a - y) ** 2)) + beta / 2 * (float(np.sum(U**2)) + float(a @ a)))
    return out


_CPU = {"last": 0.0}


def _timed(f):
    t0, c0 = time.perf_counter(), time.process_time()
    try:
        out = f(), time.perf_counter() - t0, None
    except Exception as e:  # noqa: BLE001 - a benchmark reports, it does not stop
        out = None, time.perf_counter() - t0, f"{type(e).__name__}: {e}"[:70]
    _CPU["last"] = time.process_time() - c0
    return out


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, nargs="*", default=[200, 2000, 20000])
    ap.add_argument("--patterns", type=int, nargs="*", default=[100, 250, 500])
    ap.add_argument("--methods", default=METHODS)
    ap.add_argument("--cvxpy-timeout", type=float, default=600.0)
    ap.add_argument("--cvxpy-max-n", type=int, default=2000, help="skip cvxpy beyond this n")
    ap.add_argument("--clarabel-max-n", type=int, default=1000, help="skip native Clarabel beyond this n")
    ap.add_argument("--first-order-max-n", type=int, default=2000)
    ap.add_argument("--adam-iters", type=int, default=3000)
    ap.add_argument("--search-rounds", type=int, help="cap the pattern search's rounds (default: solve's)")
    ap.add_argument("--search-seconds", type=float, help="start no search round after this many seconds")
    ap.add_argument("--threads", default="1")
    ap.add_argument("--json", help="also write the rows here")
    ap.add_argument("--issue17", action="store_true",
                    help="solve (search) vs 5 Adam starts at n = 20 000 / 100 patterns, then solve (search) "
                         "alone at n = 100 000 (other --n / --patterns / --methods are ignored)")
    args = ap.parse_args(argv)
    plan = None
    if args.issue17:
        plan = [(20000, 100, ["search", "adam"]), (100000, 100, ["search"])]
    search_kw = {} if args.search_rounds is None else {"search_rounds": args.search_rounds}
    if args.search_seconds is not None:
        search_kw["search_seconds"] = args.search_seconds
    methods = args.methods.split(",")
    print("$ python bench/solve.py " + " ".join(argv if argv is not None else sys.argv[1:]), flush=True)

    from cvxrelu.arrangements import sample_patterns
    from cvxrelu.solvers.first_order import solve_first_order
    from cvxrelu.model import Dataset, Model
    from cvxrelu.program import solve_convex_program
    from cvxrelu.solve import solve

    rows = []
    if plan is None:
        plan = [(n, N, methods) for n in args.n for N in args.patterns]
    for n, N, methods in plan:
        X, y = planted(n)
        beta = 1e-3 * n
        model = Model(beta=beta)
        data = Dataset(X, y)
        if True:
            P = sample_patterns(X, N, 0)
            P = P[P.any(axis=1)]
            group = []

            def add(name, sec, obj, note=""):
                cpu, peak = _CPU["last"], _peak_mib()
                group.append({"n": n, "patterns": int(P.shape[0]), "method": name, "seconds": sec,
                              "cpu_seconds": cpu, "peak_rss_mib": peak, "objective": obj, "note": note,
                              "load": os.getloadavg()[0]})
                o = "" if obj is None else f"{obj:.10g}"
                print(f"{n:>6} {P.shape[0]:>4} {name:<16} {sec:>9.2f} {cpu:>9.2f} {peak:>8.0f} {o:>18}  {note}",
                      flush=True)

            if "ipm" in methods:
                r, sec, err = _timed(lambda: solve(data, model, patterns=N, search=False))
                add("ipm", sec, None if r is None else r.objective,
                    err or f"{r.solver.get('iterations')} it, {r.solver.get('status')}; certificate "
                           f"{r.certificate.seconds:.0f} s")
            if "clarabel" in methods and n <= args.clarabel_max_n:
                r, sec, err = _timed(lambda: solve_convex_program(X, y, P, model))
                add("clarabel", sec, None if r is None else r.objective,
                    err or f"{r.solver_info['iterations']} it, {r.solver_info['status']}, {r.solver_info['form']}-form")
            if "cvxpy" in methods and n <= args.cvxpy_max_n:
                t0 = time.perf_counter()
                r, err = run_cvxpy(X, y, P, beta, args.cvxpy_timeout)
                add("cvxpy+clarabel", time.perf_counter() - t0, None if r is None else r["objective"],
                    err or r["status"])
            if "first-order" in methods and n <= args.first_order_max_n:
                r, sec, err = _timed(lambda: solve_first_order(X, y, P, model))
                add("first-order", sec, None if r is None else r.objective,
                    err or f"gap {r.solver_info['relative_gap']:.1e}, {r.solver_info['iterations']} it")
            if "search" in methods:
                r, sec, err = _timed(lambda: solve(data, model, patterns=N, **search_kw))
                note = err
                if r is not None:
                    ps = r.extra["pattern_search"]
                    h0 = ps["history"][0]
                    note = (f"first program {h0['objective']:.10g} at {h0['seconds']:.0f} s "
                            f"({ps['sources'].get('sampled_kept', '-')} sampled + {ps['sources']['gradient']} "
                            f"warm-start patterns); {ps['rounds']} rounds ({ps['stopped']}), "
                            f"{ps['sources']['dual_search']} patterns from dual search; final {r.n_patterns} "
                            f"patterns, {r.to_dict()['neurons']} neurons; best from {ps['sources'].get('best_from')}; "
                            f"solver {r.solver.get('status')}; search {ps['seconds']:.0f} s (limit "
                            f"{ps['time_limit']:.0f} s), certificate {r.certificate.seconds:.0f} s")
                add("solve (search)", sec, None if r is None else r.objective, note)
            if "adam" in methods:
                objs, sec, err = _timed(lambda: adam_train(X, y, beta, int(P.shape[0]), iters=args.adam_iters))
                add("adam (5 starts)", sec, None if objs is None else min(objs),
                    err or f"width {P.shape[0]}, {args.adam_iters} it, starts {min(objs):.6g} .. {max(objs):.6g}")
            ref = next((g["objective"] for g in group if g["method"] == "cvxpy+clarabel" and g["objective"]), None)
            best = min((g["objective"] for g in group if g["objective"] is not None), default=None)
            for g in group:
                o = g["objective"]
                same = g["method"] in ("ipm", "clarabel", "cvxpy+clarabel", "first-order")
                g["rel_to_cvxpy"] = None if (o is None or ref is None or not same) else (o - ref) / abs(ref)
                g["rel_to_best"] = None if (o is None or best is None) else (o - best) / abs(best)
            rows += group
    print()
    print("| n | patterns | method | seconds | CPU s | peak RSS MiB | load | objective | rel. to cvxpy (same patterns) "
          "| rel. to best | note |")
    print("|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for g in rows:
        f = lambda v, s: "" if v is None else format(v, s)  # noqa: E731
        print(f"| {g['n']} | {g['patterns']} | {g['method']} | {f(g['seconds'], '.2f')} | "
              f"{f(g['cpu_seconds'], '.2f')} | {f(g['peak_rss_mib'], '.0f')} | {f(g['load'], '.1f')} | "
              f"{f(g['objective'], '.10g')} | {f(g['rel_to_cvxpy'], '.1e')} | {f(g['rel_to_best'], '.1e')} | "
              f"{g['note']} |")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
