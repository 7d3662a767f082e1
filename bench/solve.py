"""Benchmark: the convex program over sampled patterns, solved several ways.

Planted data: X (n, 10) Gaussian, y from a 5-neuron ReLU network + noise 0.1, squared loss,
no biases, beta = 1e-3 * n (1e-3 on the mean-scaled loss; our objective is sum-scaled).
For each n and number of sampled patterns it times

* ``solve/clarabel``     cvxrelu.solve.solve(..., solver="clarabel") (column generation in the sample)
* ``solve/first-order``  cvxrelu.solve.solve(..., solver="first-order")
* ``first-order/all``    cvxrelu.first_order.solve_first_order on all sampled patterns at once
* ``cvxpy+clarabel``     the full program in cvxpy (subprocess, skipped beyond --cvxpy-timeout)
* ``adam (5 starts)``    full-batch Adam on the network objective, width = number of patterns

and prints n, patterns, method, seconds, objective and the relative difference to the best.

    python bench/solve.py --quick
    python bench/solve.py --n 20000 --patterns 100 --cvxpy-timeout 0
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

D_FEATURES = 10


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
            return None, f"> {timeout:g} s"
        if out.returncode != 0:
            return None, "error: " + out.stderr.strip().splitlines()[-1][:80]
        r = json.loads(out.stdout.strip().splitlines()[-1])
        return r, None


def adam_train(X, y, beta, width, starts=5, iters=3000, seed=0, lr=1e-2):
    """Full-batch Adam on 1/2 ||relu(X U) a - y||^2 + beta/2 (||U||^2 + ||a||^2)."""
    best = np.inf
    for s in range(starts):
        rng = np.random.default_rng(seed + s)
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
        L = 0.5 * float(np.sum((H @ a - y) ** 2)) + beta / 2 * (float(np.sum(U**2)) + float(a @ a))
        best = min(best, L)
    return best


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="n = 200 and 2 000 only")
    ap.add_argument("--n", type=int, nargs="*", default=None)
    ap.add_argument("--patterns", type=int, nargs="*", default=[100, 250, 500])
    ap.add_argument("--cvxpy-timeout", type=float, default=600.0)
    ap.add_argument("--methods", default="solve/clarabel,solve/first-order,first-order/all,cvxpy,adam")
    ap.add_argument("--adam-iters", type=int, default=3000)
    args = ap.parse_args(argv)
    ns = args.n or ([200, 2000] if args.quick else [200, 2000, 20000])
    methods = args.methods.split(",")
    print("$ python bench/solve.py " + " ".join(argv if argv is not None else sys.argv[1:]))

    from cvxrelu.arrangements import sample_patterns
    from cvxrelu.model import Dataset, Model

    rows = []
    for n in ns:
        X, y = planted(n)
        beta = 1e-3 * n
        model = Model(beta=beta)
        data = Dataset(X, y)
        Xt = model.augment(X)
        for N in args.patterns:
            P = sample_patterns(Xt, N, 0)
            P = P[P.any(axis=1)]
            res = []
            for solver in ("clarabel", "first-order"):
                if f"solve/{solver}" not in methods:
                    continue
                try:
                    from cvxrelu.solve import solve

                    t0 = time.perf_counter()
                    r = solve(data, model, patterns=N, solver=solver)
                    res.append((f"solve/{solver}", time.perf_counter() - t0, r.objective, ""))
                except Exception as e:  # noqa: BLE001 - a benchmark reports, it does not stop
                    res.append((f"solve/{solver}", np.nan, np.nan, f"{type(e).__name__}: {e}"[:60]))
            if "first-order/all" in methods:
                from cvxrelu.first_order import solve_first_order

                t0 = time.perf_counter()
                s = solve_first_order(Xt, y, P, model)
                gap = s.solver_info["relative_gap"]
                res.append(("first-order/all", time.perf_counter() - t0, s.objective,
                            f"gap {gap:.1e}, {s.solver_info['iterations']} it"))
            if "cvxpy" in methods:
                if args.cvxpy_timeout <= 0:
                    res.append(("cvxpy+clarabel", np.nan, np.nan, "skipped"))
                else:
                    t0 = time.perf_counter()
                    r, err = run_cvxpy(Xt, y, P, beta, args.cvxpy_timeout)
                    if r is None:
                        res.append(("cvxpy+clarabel", np.nan, np.nan, err))
                    else:
                        res.append(("cvxpy+clarabel", time.perf_counter() - t0, r["objective"], r["status"]))
            if "adam" in methods:
                t0 = time.perf_counter()
                L = adam_train(X, y, beta, P.shape[0], iters=args.adam_iters)
                res.append(("adam (5 starts)", time.perf_counter() - t0, L, f"width {P.shape[0]}"))
            best = np.nanmin([r[2] for r in res]) if res else np.nan
            for name, sec, obj, note in res:
                rel = (obj - best) / abs(best) if np.isfinite(obj) else np.nan
                rows.append((n, P.shape[0], name, sec, obj, rel, note))
                print(f"{n:>6} {P.shape[0]:>5} {name:<18} {sec:>9.2f} {obj:>14.8g} {rel:>10.1e}  {note}",
                      flush=True)
    print()
    print("| n | patterns | method | seconds | objective | rel. diff to best | note |")
    print("|---:|---:|---|---:|---:|---:|---|")
    for n, p, name, sec, obj, rel, note in rows:
        s = "" if not np.isfinite(sec) else f"{sec:.2f}"
        o = "" if not np.isfinite(obj) else f"{obj:.8g}"
        r = "" if not np.isfinite(rel) else f"{rel:.1e}"
        print(f"| {n} | {p} | {name} | {s} | {o} | {r} | {note} |")


if __name__ == "__main__":
    main()
