"""Refutation of Adam-trained networks on planted data (cvxrelu.refute).

    python bench/refute.py [--quick] [--all-modes] [--sizes 10:1000,50:2000] [--budget 20] [--no-program]

Planted data: X standard normal (n, d), y = relu(X W + 0.5) a + 0.1 noise with 5 planted neurons
(logistic: y = sign(planted - median), labels -1/+1). Networks of width 20 trained by full-batch
Adam (cvxrelu.search.train_gradient, 1 000 iterations); beta = 1e-3 n (squared) or 1e-2 n^(1/2)
(logistic), large enough that the trained nets are far from zero and small enough that they fit.
Bias modes: (hidden, output) = (none, free), (penalized, none), (free, penalized) by default, all
nine pairs with --all-modes. Columns: ratio found = max |lam^T (Xt u)_+| / (beta N(u)) found at the
net's gradient; t_ref = seconds until the first strictly better network was evaluated; t_all =
seconds of the whole refute call (search, line searches, greedy neurons, convex program);
L(net), L(better) and the relative improvement (L(net) - L(better)) / L(net).
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cvxrelu.model import Dataset, Model, objective  # noqa: E402
from cvxrelu.refute import refute  # noqa: E402
from cvxrelu.search import train_gradient  # noqa: E402

warnings.filterwarnings("ignore")

SIZES = [(10, 500), (10, 1000), (20, 1000), (50, 2000), (100, 3000)]
QUICK_SIZES = [(10, 500), (20, 1000), (50, 2000), (100, 3000)]
MODES = [("none", "free"), ("penalized", "none"), ("free", "penalized")]
ALL_MODES = [(h, o) for h in ("none", "penalized", "free") for o in ("none", "penalized", "free")]


def planted(n: int, d: int, seed: int, loss: str) -> Dataset:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    W = rng.standard_normal((d, 5)) / np.sqrt(d)
    y = np.maximum(X @ W + 0.5, 0.0) @ rng.standard_normal(5) + 0.1 * rng.standard_normal(n)
    if loss == "logistic":
        y = np.where(y > np.median(y), 1.0, -1.0)
    return Dataset(X, y)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer sizes, squared and logistic")
    ap.add_argument("--all-modes", action="store_true", help="all nine hidden/output bias pairs")
    ap.add_argument("--sizes", help="d:n pairs, comma-separated (overrides --quick)")
    ap.add_argument("--budget", type=float, default=20.0, help="refute's time budget (s)")
    ap.add_argument("--no-program", action="store_true", help="skip the convex program route")
    args = ap.parse_args()
    sizes = QUICK_SIZES if args.quick else SIZES
    if args.sizes:
        sizes = [tuple(int(v) for v in pair.split(":")) for pair in args.sizes.split(",")]
    modes = ALL_MODES if args.all_modes else MODES
    print("| d | n | loss | biases (h/o) | ratio found | refuted? | t_ref s | t_all s | L(net) | L(better) "
          "| rel. impr. | by |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    worst = 0.0
    count = refuted = 0
    for d, n in sizes:
        for loss in ("squared", "logistic"):
            data = planted(n, d, seed=d * 7 + n, loss=loss)
            beta = 1e-3 * n if loss == "squared" else 1e-2 * np.sqrt(n)
            for hb, ob in modes:
                model = Model(beta=float(beta), loss=loss, hidden_bias=hb, output_bias=ob)
                net = train_gradient(data, model, width=20, seed=1, iters=1000)
                L0 = objective(net, data, model)
                info: dict = {}
                t = time.perf_counter()
                res = refute(net, data, model, time_budget=args.budget, info=info, program=not args.no_program)
                t_all = time.perf_counter() - t
                ref = info.get("refutation")
                ratio = ref.ratio if ref is not None else float("nan")
                count += 1
                if res is None:
                    print(f"| {d} | {n} | {loss} | {hb}/{ob} | {ratio:.3f} | no | - | {t_all:.1f} | {L0:.6g} | - | - | - |")
                    continue
                refuted += 1
                kind, better, L1 = res
                worst = max(worst, info.get("refuted_s", t_all))
                by = "program" if kind.startswith("convex") else ("greedy" if "greedy" in kind else "neuron")
                print(f"| {d} | {n} | {loss} | {hb}/{ob} | {ratio:.3f} | yes | {info.get('refuted_s', t_all):.1f} "
                      f"| {t_all:.1f} | {L0:.6g} | {L1:.6g} | {(L0 - L1) / abs(L0):.2%} | {by} |", flush=True)
    print(f"\n{refuted}/{count} refuted; slowest time to refutation {worst:.1f} s")


if __name__ == "__main__":
    main()
