"""Generators of networks whose optimality gap is known, for the soundness suite.

P_ref is the objective, evaluated with cvxrelu.model.objective, of the optimal network that an
independent cvxpy solve of the full convex program returns (tests/oracles.py). It is the
objective of an actual network, so P_ref >= P*: a network with L(theta) - P_ref > tol * |L| has
a true relative gap (gap / |L|, docs/cli.md) above the tolerance, whatever the oracle's own
error. Those are the "known gap" networks, which must never be certified optimal.

``run`` verifies them all, in each mode (``exact``: the dual constraint by enumeration;
``bounded``: forced bounded mode, bounds.bound_dual_constraint and the refutation search, as
verify runs on data too large to enumerate; the data here are small, so the truth is known),
and counts the verdicts; tests/test_soundness.py runs a fast slice and scripts/soundness.py
the whole suite.
"""

from __future__ import annotations

import collections
import sys
import time
import warnings
from dataclasses import dataclass

import numpy as np

from oracles import convex_optimum

from cvxrelu.arrangements import analyze
from cvxrelu.certificate import Status, verify
from cvxrelu.model import Dataset, Model, Network, objective, scaled

warnings.filterwarnings("ignore", message="Solution may be inaccurate")

TOL = 1e-6


@dataclass
class Problem:
    data: Dataset
    model: Model
    optimum: Network
    P_ref: float


def make_problem(seed: int) -> Problem | None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(3, 11))
    d = int(rng.integers(1, 3))
    hb = ["none", "penalized"][int(rng.integers(0, 2))]
    X = rng.standard_normal((n, d))
    if rng.random() < 0.3:  # degenerate data: duplicates / integer grid
        X = rng.integers(-2, 3, size=(n, d)).astype(float)
    y = rng.standard_normal(n)
    model = Model(beta=float(rng.uniform(0.01, 1.0)), hidden_bias=hb)
    Xt = model.augment(X)
    _, Ut, alpha = convex_optimum(Xt, y, model.beta, analyze(Xt, patterns=True).patterns)
    net = Network.from_augmented(Ut, alpha, model, None)
    data = Dataset(X, y)
    return Problem(data, model, net, objective(net, data, model))


def _gap_ok(L: float, P_ref: float, k: float = 1.0) -> bool:
    return L - P_ref > k * TOL * abs(L)


def rescaled_to_gap(prob: Problem, factor: float) -> Network | None:
    """Unbalance the largest neuron so that L - P_ref = factor * tol * P_ref (a relative gap just
    above factor * tol / (1 + factor * tol)).

    (t u, alpha / t) keeps predictions; for a scaled neuron (||u|| = |alpha| = a) the penalty
    grows by beta a^2 (t - 1/t)^2 / 2.
    """
    net = scaled(prob.optimum, prob.model)
    if net.n_neurons == 0:
        return None
    j = int(np.argmax(np.abs(net.alpha)))
    a = abs(net.alpha[j])
    target = factor * TOL * abs(prob.P_ref) * (1 + 1e-4)
    s = np.sqrt(2 * target / (prob.model.beta * a * a))
    t = (s + np.sqrt(s * s + 4)) / 2
    Ut = net.Ut().copy()
    alpha = net.alpha.copy()
    Ut[:, j] *= t
    alpha[j] /= t
    return Network.from_augmented(Ut, alpha, prob.model, None)


def known_gap_networks(prob: Problem, rng: np.random.Generator) -> list[tuple[str, Network]]:
    """Networks with L(theta) - P_ref > tol * |L|, by construction or by check."""
    out = []
    model, data = prob.model, prob.data
    base = scaled(prob.optimum, model)
    Ut0, a0 = base.Ut(), base.alpha
    for factor in (1.01, 1.1, 2.0):
        net = rescaled_to_gap(prob, factor)
        if net is not None:
            out.append((f"{factor}x tolerance", net))
    if a0.size:
        for _ in range(2):
            sc = 10 ** rng.uniform(-3, -1)
            out.append(("perturbed optimum", Network.from_augmented(
                Ut0 + sc * rng.standard_normal(Ut0.shape), a0 + sc * rng.standard_normal(a0.shape), model, None)))
        t = rng.uniform(1.1, 3.0)
        j = int(rng.integers(0, a0.size))
        Ut, al = Ut0.copy(), a0.copy()
        Ut[:, j] *= t
        al[j] /= t
        out.append(("unbalanced rescaling", Network.from_augmented(Ut, al, model, None)))
    m = int(rng.integers(1, 6))
    dt = Ut0.shape[0]
    out.append(("random weights", Network.from_augmented(rng.standard_normal((dt, m)), rng.standard_normal(m), model, None)))
    out.append(("gradient descent stopped early", gd_stalled(prob, rng)))
    return [(k, n) for k, n in out if _gap_ok(objective(n, data, model), prob.P_ref)]


def gd_stalled(prob: Problem, rng: np.random.Generator, steps: int | None = None) -> Network:
    """Plain gradient descent on L from a random start, stopped after a few steps."""
    model, data = prob.model, prob.data
    Xt = model.augment(data.X)
    m = int(rng.integers(2, 6))
    W = 0.5 * rng.standard_normal((Xt.shape[1], m))
    a = 0.5 * rng.standard_normal(m)
    lr = 0.5 / (1 + np.linalg.norm(Xt, 2) ** 2)
    for _ in range(steps or int(rng.integers(5, 200))):
        Z = Xt @ W
        H = np.maximum(Z, 0)
        r = H @ a - data.y
        ga = H.T @ r + model.beta * a
        gW = Xt.T @ ((Z > 0) * np.outer(r, a)) + model.beta * W
        a -= lr * ga
        W -= lr * gW
    return Network.from_augmented(W, a, model, None)


def optimal_networks(prob: Problem, rng: np.random.Generator, k: int = 2) -> list[Network]:
    """Splittings and permutations of the oracle's optimum (Thm. 1): all optimal."""
    base = scaled(prob.optimum, prob.model)
    Ut, a = base.Ut(), base.alpha
    out = []
    for _ in range(k):
        cols, al = [], []
        for j in range(a.size):
            pieces = int(rng.integers(1, 4))
            g = rng.dirichlet(np.ones(pieces))
            for gi in g:
                cols.append(Ut[:, j] * np.sqrt(gi))
                al.append(a[j] * np.sqrt(gi))
        perm = rng.permutation(len(al))
        U2 = np.array(cols).T[:, perm] if cols else np.zeros((Ut.shape[0], 0))
        out.append(Network.from_augmented(U2, np.array(al)[perm] if al else np.zeros(0), prob.model, None))
    return out


#: Time limit of each forced bounded-mode verify (the data are tiny: it rarely binds).
BOUNDED_TIME_LIMIT = 10.0
OPTIMAL_KIND = "known optimal (split, permuted)"
MODES = ("exact", "bounded")


def run(n_problems: int, seed: int, verbose: bool = True, modes=MODES):
    """Verify every generated network in every mode: (stats[mode][kind] Counter, failures, seconds)."""
    stats = {mode: collections.defaultdict(collections.Counter) for mode in modes}
    failures = []
    t0 = time.time()

    def check(mode, net, prob):
        if mode == "bounded":
            return verify(net, prob.data, prob.model, tol=TOL, patterns="bounded", time_limit=BOUNDED_TIME_LIMIT)
        return verify(net, prob.data, prob.model, tol=TOL)

    for p in range(n_problems):
        pid = seed * 100003 + p
        prob = make_problem(pid)
        rng = np.random.default_rng(seed * 7919 + p)
        gap_nets = known_gap_networks(prob, rng)
        opt_nets = optimal_networks(prob, rng)
        for mode in modes:
            for kind, net in gap_nets:
                cert = check(mode, net, prob)
                stats[mode][kind][cert.status.value] += 1
                if cert.status is Status.OPTIMAL:
                    failures.append(("FALSE OPTIMAL", mode, kind, pid))
                if cert.status is Status.SUBOPTIMAL:
                    if not objective(cert.witness, prob.data, prob.model) < cert.objective:
                        failures.append(("BAD WITNESS", mode, kind, pid))
                if cert.lower_bound > prob.P_ref + 1e-9 * max(1, abs(prob.P_ref)):
                    failures.append(("LOWER BOUND ABOVE P_ref", mode, kind, pid))
            for net in opt_nets:
                cert = check(mode, net, prob)
                stats[mode][OPTIMAL_KIND][cert.status.value] += 1
                if cert.lower_bound > prob.P_ref + 1e-9 * max(1, abs(prob.P_ref)):
                    failures.append(("LOWER BOUND ABOVE P_ref", mode, OPTIMAL_KIND, pid))
        if verbose and (p + 1) % 25 == 0:
            print(f"  {p + 1} problems, {time.time() - t0:.0f} s", file=sys.stderr, flush=True)
    return stats, failures, time.time() - t0
