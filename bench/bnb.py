"""Branch and bound on the dual constraint M(nu) beyond exact enumeration (cvxrelu/bounds.py).

    python bench/bnb.py [--n 200] [--d 4,5,6,8,10] [--bias none,free] [--time-limit 60]
                        [--patterns 200] [--seed 0]

Planted data: X (n, d) Gaussian, y from a 5-neuron ReLU network + noise 0.1, squared loss,
beta = 0.01 n. The network is ``cvxrelu.solve.solve(..., patterns=P, search_seconds=S)``
(sampled patterns and the pattern search); nu is its loss gradient (exactly zero-sum with a
free hidden bias, as certificate.dual_bound makes it), scaled so that the best value of
|nu^T (Xt u)_+| found by the root search equals beta (as verify scales its dual point), then
re-made exactly zero-sum. ``bound_dual_constraint`` runs with
stop_below = stop_above = beta (1 + 1e-6) and the time limit: "closed" when it proves
M <= beta (1 + 1e-6), "refuted" when it finds a unit above it (the network was not optimal),
"open" at the time limit. When a larger value is found, nu is rescaled to it and the search
restarts (at most --rescales times, all within the time limit; "/k" in the status). Columns: time, upper / beta and lower / beta reached, the cheapest
norm bound / beta, the root relaxation / beta, nodes, nodes per second, open nodes.
BLAS runs on one thread (as in the CLI).
"""

from __future__ import annotations

import os
import sys

if __name__ == "__main__":  # one BLAS thread, as in the CLI (pinned before numpy loads)
    for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[_v] = "1"

import argparse
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
warnings.filterwarnings("ignore")

from cvxrelu.bounds import bound_dual_constraint  # noqa: E402
from cvxrelu.dual import exact_zero_sum  # noqa: E402
from cvxrelu.dual import project_domain_zero_sum as _project_domain_zero_sum  # noqa: E402
from cvxrelu.model import Dataset, Model, predict  # noqa: E402
from cvxrelu.solve import solve  # noqa: E402


def planted(n: int, d: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    U = rng.standard_normal((d, 5))
    a = rng.standard_normal(5)
    y = np.maximum(X @ U, 0) @ a + 0.1 * rng.standard_normal(n)
    return X, y


def dual_point(net, data, model):
    """nu as certificate.dual_bound builds it before scaling (clipped, exactly zero-sum if free)."""
    loss = model.loss_fn
    lam = loss.gradient(predict(net, data.X), data.y)
    lo, hi = loss.dual_box(data.y)
    if model.effective_output_bias == "free":
        nu = _project_domain_zero_sum(lam, lo, hi)
        z = exact_zero_sum(nu, lo, hi)
        return z if z is not None else np.zeros_like(lam)
    return np.clip(lam, lo, hi)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--d", default="4,5,6,8,10")
    ap.add_argument("--bias", default="none,free")
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--patterns", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--search-seconds", type=float, default=20.0)
    ap.add_argument("--rescales", type=int, default=3,
                    help="times nu is rescaled to a larger value found, within the time limit")
    args = ap.parse_args()
    print(f"n = {args.n}, squared loss, beta = 0.01 n, solve(patterns={args.patterns}), "
          f"time limit {args.time_limit:g} s, target upper <= beta (1 + 1e-6)")
    head = (f"{'d':>3} {'bias':>5} {'solve s':>8} {'status':>10} {'time s':>8} {'upper/beta':>12} "
            f"{'lower/beta':>12} {'norm/beta':>10} {'root/beta':>10} {'nodes':>7} {'nodes/s':>8} "
            f"{'open':>6} method")
    print(head)
    for d in [int(x) for x in args.d.split(",")]:
        X, y = planted(args.n, d, args.seed)
        data = Dataset(X, y)
        for bias in args.bias.split(","):
            model = Model(beta=0.01 * args.n, hidden_bias=bias)
            t0 = time.perf_counter()
            sol = solve(data, model, patterns=args.patterns, seed=args.seed,
                        search_seconds=args.search_seconds)
            ts = time.perf_counter() - t0
            net = sol.network
            nu = dual_point(net, data, model)
            Xt = model.augment(X)
            beta = model.beta
            free = bias == "free"
            quick = bound_dual_constraint(Xt, nu, free_bias=free, time_limit=0.0, starts=net.Ut())
            if quick.lower > 0:
                nu = nu * (beta / quick.lower)
                if free:
                    nu = exact_zero_sum(nu, nu - 1.0, nu + 1.0)
            target = beta * (1 + 1e-6)
            t1 = time.perf_counter()
            rescales = 0
            starts = net.Ut()
            while True:
                left = args.time_limit - (time.perf_counter() - t1)
                res = bound_dual_constraint(Xt, nu, free_bias=free, stop_below=target,
                                            stop_above=target, time_limit=max(left, 0.0),
                                            starts=starts)
                if res.lower > target and rescales < args.rescales and left > 0:
                    # a larger value was found: rescale nu to it (as verify would) and go on
                    nu = nu * (beta / res.lower)
                    if free:
                        nu = exact_zero_sum(nu, nu - 1.0, nu + 1.0)
                    rescales += 1
                    starts = np.column_stack([starts, res.argmax])  # keep the point found
                    continue
                break
            res.seconds = time.perf_counter() - t1
            closed = res.upper <= target
            status = "closed" if closed else ("refuted" if res.lower > target else "open")
            status += f"/{rescales}" if rescales else ""
            norm = min(res.details.get("cheap_bounds", {}).values(), default=float("nan"))
            root = res.details.get("root_bound")
            nps = res.details.get("nodes_per_second", 0.0)
            open_nodes = res.details.get("bnb", {}).get("open_nodes", 0)
            print(f"{d:>3} {bias:>5} {ts:>8.1f} {status:>10} {res.seconds:>8.1f} "
                  f"{res.upper / beta:>12.8f} {res.lower / beta:>12.8f} {norm / beta:>10.4g} "
                  f"{(root / beta if root is not None else float('nan')):>10.6g} {res.nodes:>7d} "
                  f"{nps:>8.0f} {open_nodes:>6d} {res.method}", flush=True)


if __name__ == "__main__":
    main()
