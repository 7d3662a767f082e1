"""Time to verify an optimal network, cvxrelu vs the paper's joint KKT program.

    python bench/verify.py [--sizes 1:100,1:1000,1:10000,2:50,2:200,2:1000] [--joint-timeout 600]

Squared loss, penalized hidden bias, planted data (X uniform in [-2, 2]^d, y = a smooth
function + noise 0.1), beta = 0.01 n (1e-2 on the mean-scaled loss). The optimal network comes from exact column
generation (cvxrelu.colgen) and is itself certified; the table times `verify` on it, and the
joint program of paper eq. (14)-(15) (one cvxpy problem over all 2p blocks, solved by Clarabel)
in a subprocess with a time limit, for the sizes where p * n stays below --joint-max-entries.
"""

from __future__ import annotations

import os
import sys

if __name__ == "__main__":  # one BLAS thread, as in the CLI (pinned before numpy loads)
    for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[_v] = "1"

import argparse
import json
import subprocess
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "fixtures"))

from cvxrelu.arrangements import analyze, estimate_cells  # noqa: E402
from cvxrelu.certificate import verify  # noqa: E402
from cvxrelu.colgen import column_generation  # noqa: E402
from cvxrelu.model import Dataset, Model, predict  # noqa: E402

warnings.filterwarnings("ignore")

#: beta = BETA_MEAN * n on our sum-scaled objective, i.e. BETA_MEAN on the mean-scaled loss: the
#: optimum keeps a bounded number of neurons as n grows (6 to 10 here). With beta = 0.1 sqrt(n)
#: (the first choice) the d = 1, n = 10 000 optimum has over 150 neurons on cell boundaries and
#: column generation needed more than 20 minutes to produce it (each degenerate restricted
#: program takes the interior-point method ~100 s).
BETA_MEAN = 0.01


def planted(n, d, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2, 2, (n, d))
    y = np.sin(1.5 * X[:, 0]) + (0.5 * np.cos(X[:, 1]) if d > 1 else 0) + 0.1 * rng.standard_normal(n)
    return Dataset(X, y)


def solver_on_patterns(data, model):
    from cvxrelu.program import network_from_blocks, solve_program

    def solve(P):
        sol = solve_program(model.augment(data.X), data.y, P[P.any(axis=1)], model)
        # every block kept, as solve does for the squared loss (solve.KEEP_BLOCKS_SQUARED):
        # dropping the leftovers below 1e-9 moves the dual point enough that pricing returns
        # cells of the working set and column generation stops short (d = 1, n = 10 000:
        # relative gap 1.7e-6, verify then finds it suboptimal)
        return network_from_blocks(sol.W, sol.V, sol.c, model, 0.0)

    return solve, "cvxrelu.program.solve_program (IPM + polish)"


def run_joint(net, data, model, timeout):
    import tempfile

    Xt = model.augment(data.X)
    lam = predict(net, data.X) - data.y
    Ut = net.Ut()
    # theta -> W (paper eq. 7): each neuron adds |alpha| ut to the block of a cell whose closure
    # contains ut (a 1-D optimum has its kinks at data points, i.e. on cell boundaries)
    pats = analyze(Xt, patterns=True).patterns
    xn = np.linalg.norm(Xt, axis=1)
    acc = {}
    for j in range(net.n_neurons):
        if net.alpha[j] == 0 or not np.any(Ut[:, j]):
            continue
        z = Xt @ Ut[:, j]
        tol = 1e-9 * xn * np.linalg.norm(Ut[:, j])
        ok = np.all(pats[:, z > tol], axis=1) & ~np.any(pats[:, z < -tol], axis=1)
        i = int(np.flatnonzero(ok)[0])
        key = (i, int(np.sign(net.alpha[j])))
        acc[key] = acc.get(key, 0.0) + Ut[:, j] * abs(net.alpha[j])
    blocks = {"w": [w for w in acc.values()], "s": [pats[i] for i, _ in acc], "sg": [sg for _, sg in acc]}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "kkt.npz"
        np.savez(path, Xt=Xt, lam=lam, beta=model.beta,
                 W=np.array(blocks, dtype=object), allow_pickle=True)
        t0 = time.perf_counter()
        try:
            out = subprocess.run([sys.executable, __file__, "--joint-worker", str(path)],
                                 capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return f"> {timeout:.0f} s (killed)"
        wall = time.perf_counter() - t0
        if out.returncode != 0:
            return f"failed ({out.stderr.strip().splitlines()[-1][:60] if out.stderr.strip() else out.returncode})"
        res = json.loads(out.stdout.strip().splitlines()[-1])
        rho = res.get("rho")
        return f"{wall:.1f} s ({res['status']}, rho* = {rho:.1e})" if rho is not None else f"{wall:.1f} s ({res['status']})"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1:100,1:1000,1:10000,2:50,2:200,2:1000")
    ap.add_argument("--joint-timeout", type=float, default=600)
    ap.add_argument("--joint-max-entries", type=float, default=2e7,
                    help="skip the joint program when (2 p) * n exceeds this")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--joint-worker")
    args = ap.parse_args()
    if args.joint_worker:
        z = np.load(args.joint_worker, allow_pickle=True)
        zz = {k: z[k] for k in z.files}
        zz["W"] = zz["W"].item()
        _joint_from_dict(zz)
        return
    rows = []
    print(f"{'d':>2} {'n':>6} {'cells':>9} {'neurons':>7} {'status':>8} {'rel.gap':>9} "
          f"{'verify (s)':>10} {'joint KKT (paper)':>22}  optimum from")
    for spec in args.sizes.split(","):
        d, n = (int(v) for v in spec.split(":"))
        data = planted(n, d)
        model = Model(beta=BETA_MEAN * n, hidden_bias="penalized")
        solve, how = solver_on_patterns(data, model)
        cg = column_generation(data, model, solve, tol=1e-8)
        net = cg.network
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            cert = verify(net, data, model)
            times.append(time.perf_counter() - t0)
        r, cells = estimate_cells(model.augment(data.X))
        if 2 * cells * n <= args.joint_max_entries:
            joint = run_joint(net, data, model, args.joint_timeout)
        else:
            joint = f"skipped (2p*n={2 * cells * n:.1e})"
        row = dict(d=d, n=n, cells=cells, neurons=net.n_neurons, status=cert.status.value,
                   rel_gap=cert.relative_gap, verify_s=min(times), joint=joint,
                   colgen_rounds=cg.rounds, how=how)
        rows.append(row)
        print(f"{d:>2} {n:>6} {cells:>9} {net.n_neurons:>7} {cert.status.value:>8} "
              f"{cert.relative_gap:>9.1e} {min(times):>10.3f} {joint:>22}  {how}, {cg.rounds} rounds",
              flush=True)
    print()
    print("| d | n | cells | neurons | status | relative gap | verify (s) | paper's joint KKT program (cvxpy + Clarabel) |")
    print("|---:|---:|---:|---:|---|---:|---:|---|")
    for r in rows:
        print(f"| {r['d']} | {r['n']} | {r['cells']} | {r['neurons']} | {r['status']} | {r['rel_gap']:.1e} | "
              f"{r['verify_s']:.3f} | {r['joint']} |")


def _joint_from_dict(z):
    """The paper's KKT check (eq. 14-15) as ONE cvxpy problem over all 2p blocks.

    An exact feasibility problem is ill-posed for a numerically computed optimum, so it is
    posed as: minimize rho over multipliers zeta_b >= 0 (n per block) such that every zero block
    has ||g_b - A_b' zeta_b|| <= beta + rho and every non-zero block has
    ||g_b + beta w_b / ||w_b|| - A_b' zeta_b|| <= rho with zeta_bk = 0 on its inactive rows
    (g_b = sg Xt' D_b lam, A_b = (2 D_b - I) Xt). rho* <= 0 (up to the solver) iff the KKT
    conditions hold.
    """
    import cvxpy as cp

    Xt, lam, Wb, beta = z["Xt"], z["lam"], z["W"], float(z["beta"])
    pats = analyze(Xt, patterns=True).patterns
    t0 = time.perf_counter()
    rho = cp.Variable()
    cons = []
    for s in pats:
        D = s.astype(float)
        A = (2 * D - 1)[:, None] * Xt
        for sg in (1, -1):
            g = sg * (Xt.T @ (D * lam))
            zeta = cp.Variable(Xt.shape[0], nonneg=True)
            w = None
            for wb, ws, wsg in zip(Wb["w"], Wb["s"], Wb["sg"]):
                if wsg == sg and np.array_equal(ws, s):
                    w = wb
            if w is None:
                cons.append(cp.norm(g - A.T @ zeta) <= beta + rho)
            else:
                cons.append(cp.norm(g + beta * w / np.linalg.norm(w) - A.T @ zeta) <= rho)
                inactive = np.flatnonzero(A @ w > 1e-6 * np.linalg.norm(w) * np.linalg.norm(Xt, axis=1))
                # (rows with A w = 0 keep a free multiplier: complementary slackness)
                if inactive.size:
                    cons.append(zeta[inactive] == 0)
    prob = cp.Problem(cp.Minimize(rho), cons)
    prob.solve(solver="CLARABEL")
    print(json.dumps({"status": prob.status, "rho": float(rho.value) if rho.value is not None else None,
                      "seconds": time.perf_counter() - t0, "blocks": 2 * len(pats)}))


if __name__ == "__main__":
    main()
