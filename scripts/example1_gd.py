"""Paper 000, Example 1 / Figure 3: gradient descent with m = 5 lands on the segment [0, w*].

    python scripts/example1_gd.py [--plot docs/example1_gd.png] [--trials 3] [--seed 1]

Data X = [[1, 0], [0, 1], [1, 1]], y = [1, 0, 0], beta = 0.1, squared loss (our convention,
docs/constructive.md). `cvxrelu optimal-set` finds the unique optimal W*: one block w* on the
pattern diag(1, 0, 1). By Thm. 1 (eq. 11) every optimal network of width 5 is a splitting of
the neuron of w*, so its points alpha_i u_i = gamma_i w* lie on the segment [0, w*] with
sum_i gamma_i = 1. Each trial runs plain gradient descent on L from a random start until the
gradient norm is below GRAD_TOL, then prints, per neuron, gamma_i = <alpha_i u_i, w*> / ||w*||^2
and the distance of alpha_i u_i to the line through w*, and certifies the result with verify.
"""

from __future__ import annotations

import argparse

import numpy as np

from cvxrelu.certificate import verify
from cvxrelu.constructive.optimal_set import optimal_set
from cvxrelu.model import Dataset, Model, Network, objective

X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
Y = np.array([1.0, 0.0, 0.0])
BETA = 0.1
WIDTH = 5
#: Gradient descent stops when ||grad L|| <= GRAD_TOL (or after MAX_STEPS steps of size STEP).
GRAD_TOL = 1e-10
STEP = 0.05
MAX_STEPS = 2_000_000
#: Standard deviation of the Gaussian initial weights.
INIT = 1.0


def grad(U, a):
    Z = X @ U
    H = np.maximum(Z, 0.0)
    r = H @ a - Y
    ga = H.T @ r + BETA * a
    gU = X.T @ ((Z > 0) * np.outer(r, a)) + BETA * U
    return gU, ga


def gd(rng):
    U = INIT * rng.standard_normal((2, WIDTH))
    a = INIT * rng.standard_normal(WIDTH)
    for k in range(MAX_STEPS):
        gU, ga = grad(U, a)
        g = np.sqrt(np.sum(gU**2) + np.sum(ga**2))
        if g <= GRAD_TOL:
            break
        U -= STEP * gU
        a -= STEP * ga
    return U, a, k, g


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--plot", default=None)
    ap.add_argument("--trials", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    data, model = Dataset(X, Y), Model(beta=BETA)
    opt = optimal_set(data, model)
    (blk,) = opt.blocks
    w = np.array(blk["w"])
    print(f"optimal-set: P* = {opt.P_star:.10g}, m* = {opt.m_star}, unique = {opt.unique}, "
          f"w* = [{w[0]:.6f}, {w[1]:.6f}] on pattern {blk['pattern']}")
    rng = np.random.default_rng(args.seed)
    trials = []
    for t in range(args.trials):
        U, a, steps, g = gd(rng)
        P = (U * a[None, :]).T  # rows alpha_i u_i
        gamma = P @ w / (w @ w)
        off = np.linalg.norm(P - np.outer(gamma, w), axis=1)
        net = Network(U=U, alpha=a)
        cert = verify(net, data, model)
        print(f"trial {t}: {steps} GD steps, |grad| = {g:.1e}, L = {objective(net, data, model):.10g}, "
              f"verify {cert.status.value}")
        print(f"  gamma_i = {np.array2string(gamma, precision=4)}  sum = {gamma.sum():.8f}  "
              f"max distance to the line = {off.max():.1e}")
        trials.append((P, cert.status.value, objective(net, data, model)))
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(5, 4.5))
        ax.plot([0, w[0]], [0, w[1]], color="0.6", lw=2, label="segment [0, w*]", zorder=1)
        ax.scatter([w[0]], [w[1]], marker="*", s=220, color="k", label="w* (optimal-set)", zorder=3)
        for t, (P, status, L) in enumerate(trials):
            ax.scatter(P[:, 0], P[:, 1], s=40, marker="o^sv"[t % 4], facecolors="none",
                       edgecolors=f"C{t}", label=f"GD trial {t}: alpha_i u_i (L = {L:.4f}, {status})", zorder=2)
        ax.scatter([0], [0], s=12, color="k", zorder=3)
        ax.set_xlabel("first coordinate")
        ax.set_ylabel("second coordinate")
        ax.set_title("Example 1, m = 5: neurons found by GD")
        ax.legend(fontsize=7, loc="lower left")
        ax.set_aspect("equal")
        fig.tight_layout()
        fig.savefig(args.plot, dpi=110)
        print(f"plot written to {args.plot}")


if __name__ == "__main__":
    main()
