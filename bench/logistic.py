"""Benchmark the convex program over given patterns for every loss and bias mode.

Solvers compared on exactly the same program (the patterns of --patterns Gaussian directions,
deduplicated, seed 0):

* ``newton``       cvxrelu/solvers/newton.py (log-barrier Newton + face polish);
* ``clarabel``     program.solve_convex_program (Clarabel; exponential cones for logistic);
* ``first-order``  first_order.solve_first_order (AL-FISTA, max_iter --fo-iter).

Data sets (standardized features, float64):

* ``2d``           2-D synthetic, n = --n (default 300): y = sign / value of a 3-neuron ReLU
                   network plus noise;
* ``cancer``       scikit-learn's breast-cancer set, first --slice samples, first 5 features,
                   labels +-1 (for the squared loss: the same +-1 values);
* ``diabetes``     scikit-learn's diabetes set, first --slice samples, all 10 features, target
                   standardized (logistic: sign of target - median).

scikit-learn is optional (``pip install scikit-learn``); without it only ``2d`` runs.
One row per (data, loss, hidden bias, output bias, solver): seconds, objective, status, and
the relative difference to the best objective of the row group. A solver error is a row with
status ``error: ...``, never a crash.

    python bench/logistic.py                              # the full table (several minutes)
    python bench/logistic.py --data 2d --loss logistic --solvers newton,clarabel
"""

from __future__ import annotations

import argparse
import os
import sys

if __name__ == "__main__":  # pin BLAS before numpy loads (the CLI does the same)
    for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[_v] = "1"

import time
import warnings

import numpy as np

MODES = ("none", "penalized", "free")


def datasets(names, n, n_slice):
    out = {}
    if "2d" in names:
        rng = np.random.default_rng(0)
        X = rng.standard_normal((n, 2))
        Wt = rng.standard_normal((2, 3))
        f = np.maximum(X @ Wt + 0.3, 0.0) @ np.array([1.0, -1.0, 0.7]) - 0.2
        out["2d"] = (X, f + 0.1 * rng.standard_normal(n))
    try:
        from sklearn.datasets import load_breast_cancer, load_diabetes
    except ImportError:
        print("# scikit-learn is not installed: only the 2-D data", file=sys.stderr)
        return out
    if "cancer" in names:
        d = load_breast_cancer()
        X = d.data[:n_slice, :5]
        out["cancer"] = ((X - X.mean(0)) / X.std(0), np.where(d.target[:n_slice] > 0, 1.0, -1.0))
    if "diabetes" in names:
        d = load_diabetes()
        X = d.data[:n_slice]
        t = d.target[:n_slice]
        out["diabetes"] = ((X - X.mean(0)) / X.std(0), (t - t.mean()) / t.std())
    return out


def labels(y, loss):
    if loss == "logistic":
        return np.where(y > np.median(y), 1.0, -1.0) if not np.all(np.isin(y, (-1.0, 1.0))) else y
    return y


def run(solver, Xt, y, P, model, fo_iter, time_limit):
    from cvxrelu.solvers.first_order import solve_first_order
    from cvxrelu.program import solve_convex_program
    from cvxrelu.solvers.newton import solve_barrier

    t0 = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if solver == "newton":
                sol = solve_barrier(Xt, y, P, model, time_limit=time_limit)
                st = sol.solver_info["status"] + (" +polish" if sol.solver_info["polished"] else "")
            elif solver == "clarabel":
                sol = solve_convex_program(Xt, y, P, model)
                st = str(sol.solver_info.get("status", "?"))
            else:
                sol = solve_first_order(Xt, y, P, model, max_iter=fo_iter)
                gap = sol.solver_info.get("relative_gap", sol.solver_info.get("gap"))
                st = f"iters {sol.solver_info.get('iterations', '?')}, gap {gap:.1e}" if isinstance(
                    gap, float) else f"iters {sol.solver_info.get('iterations', '?')}"
        obj = float(sol.objective)
    except Exception as exc:  # noqa: BLE001 - a failure is a row of the table
        obj, st = float("nan"), f"error: {type(exc).__name__}: {str(exc)[:60]}"
    return time.perf_counter() - t0, obj, st


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="2d,cancer,diabetes")
    ap.add_argument("--loss", default="logistic,squared")
    ap.add_argument("--solvers", default="newton,clarabel,first-order")
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--slice", type=int, default=200)
    ap.add_argument("--patterns", type=int, default=40)
    ap.add_argument("--beta", type=float, default=0.1)
    ap.add_argument("--fo-iter", type=int, default=5000)
    ap.add_argument("--time-limit", type=float, default=300.0, help="newton's time budget (s)")
    ap.add_argument("--modes", default=None, help="comma list of hb/ob pairs, e.g. free/none")
    a = ap.parse_args(argv)
    from cvxrelu.arrangements import sample_patterns
    from cvxrelu.model import Model

    modes = [(h, o) for h in MODES for o in MODES]
    if a.modes:
        modes = [tuple(m.split("/")) for m in a.modes.split(",")]
    solvers = a.solvers.split(",")
    print(f"{'data':9} {'n':>4} {'d':>2} {'loss':8} {'hb':9} {'ob':9} {'p':>4} {'solver':11} "
          f"{'seconds':>8} {'objective':>18} {'rel.diff':>9}  status")
    for name, (X, y0) in datasets(a.data.split(","), a.n, a.slice).items():
        for loss in a.loss.split(","):
            y = labels(y0, loss)
            for hb, ob in modes:
                model = Model(beta=a.beta, loss=loss, hidden_bias=hb, output_bias=ob)
                Xt = model.augment(X)
                P = sample_patterns(Xt, a.patterns, seed=0)
                rows = [(s, *run(s, Xt, y, P, model, a.fo_iter, a.time_limit)) for s in solvers]
                best = min((r[2] for r in rows if np.isfinite(r[2])), default=float("nan"))
                for s, sec, obj, st in rows:
                    rel = (obj - best) / max(1.0, abs(best)) if np.isfinite(obj) else float("nan")
                    print(f"{name:9} {X.shape[0]:4d} {X.shape[1]:2d} {loss:8} {hb:9} {ob:9} {P.shape[0]:4d} "
                          f"{s:11} {sec:8.2f} {obj:18.12f} {rel:9.1e}  {st}", flush=True)


if __name__ == "__main__":
    main()
