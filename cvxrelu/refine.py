"""Tight dual points: refine the certificate's dual point by a restricted solve.

certificate.dual_bound starts from lam = grad loss(yhat) at the network's prediction. That
is the optimal dual point only at an exact optimum: a network 1e-10 from optimal can have
M(lam) a relative 1e-5 above beta, and the scaled point then gives a bound 1e-6 loose.

refine_dual solves the convex program (cvxrelu/program.py) restricted to the network's own
activation patterns plus given ones (active or violated cells, e.g. the argmax cell of the
first bound) to full precision with the barrier Newton solver and its face polish
(cvxrelu/solvers/newton.py). The gradient of the loss at the restricted optimum's
prediction is that program's optimal dual point; projected onto the conjugate's domain and
(for a free output constant) onto 1' nu = 0 as certificate.dual_bound does, it is checked
against M over every cell again by :func:`lower_bound_at`. While the most violated cell is
not among the patterns, it is added and the program re-solved, as long as the bound improves
and time remains (column generation on the dual side). The lower bound that results reaches
the global optimum to ~1e-10 relative when the network is that close to it.

:func:`lower_bound_at` is certificate.dual_bound with the dual point given instead of
computed from a network: the same projection, exact zero-sum rounding, exact M with its error
bound, safe scaling and rounding allowance (it reuses certificate.py's helpers; the scaling
loop and conjugate step are the same code).
"""

from __future__ import annotations

import time

import numpy as np

from .arrangements import network_patterns
from .dual import DualBound
from .errors import SolverError
from .lower_bound import LowerBound, lower_bound, project_dual
from .model import Dataset, Model, Network, predict

#: Default time budget of :func:`refine_dual` in seconds.
REFINE_SECONDS = 60.0
#: At most this many restricted solves (each adds the most violated cell of the last bound).
REFINE_ROUNDS = 6
#: The restricted optimum's dual point is taken as feasible (no further cell added) when
#: M(nu) <= beta (1 + REFINE_M_SLACK): the rest is rounding, covered by the bound's own scaling.
REFINE_M_SLACK = 1e-10
#: Stop when a round raises the lower bound by less than this (relative to max(1, |bound|)).
REFINE_MIN_GAIN = 1e-13


def lower_bound_at(nu0: np.ndarray, data: Dataset, model: Model, progress=None) -> LowerBound:
    """Certified lower bound on the global minimum from the dual point nu0 (n,): the
    certificate's own code path (lower_bound.project_dual, then lower_bound.lower_bound over
    every cell, exact enumeration), so a refined point is judged exactly as the network's own."""
    nu1, shift = project_dual(nu0, data.y, model)
    return lower_bound(nu1, data, model, patterns="exact", shift=shift, progress=progress)


def _project(lam: np.ndarray, data: Dataset, model: Model) -> np.ndarray:
    """lam clipped to the conjugate's domain (and exactly zero-sum when c is free)."""
    return project_dual(lam, data.y, model)[0]


def _unique_rows(P: np.ndarray) -> np.ndarray:
    return np.unique(np.asarray(P, dtype=bool), axis=0) if P.shape[0] else P


def refine_dual(net: Network, data: Dataset, model: Model, *, extra_patterns: np.ndarray | None = None,
                time_budget: float = REFINE_SECONDS, first_bound: DualBound | None = None):
    """A tight dual point for ``net``: (nu, info).

    nu (n,) is the loss gradient at the optimum of the program restricted to the network's
    patterns plus ``extra_patterns`` (q, n) bool (and, round by round, the argmax cell of the
    last bound), projected onto the conjugate's domain and zero-sum constraint; its certified
    lower bound is ``info["lower_bound"]`` (the best over the rounds, :func:`lower_bound_at`;
    the nu returned is the one that gave it). ``first_bound``: the bound at the network's own
    gradient, if already computed (its argmax cell joins the patterns).

    info: lower_bound, lam_lower_bound (the bound at the network's gradient), rounds, patterns
    (count), restricted_objective, solver (the last solve's info), seconds, stopped (why).
    Solver failures are reported in info["errors"] and leave the best point so far (at worst
    the network's own gradient): never an exception from the solver.
    """
    t0 = time.perf_counter()
    deadline = t0 + time_budget
    from .solvers.newton import solve_barrier

    X, y = data.X, data.y
    Xt = model.augment(X)
    lam = model.loss_fn.gradient(predict(net, X), y)
    best_nu = _project(lam, data, model)
    lb0 = first_bound if first_bound is not None else lower_bound_at(lam, data, model)
    best = lb0
    info: dict = {"lam_lower_bound": lb0.lower_bound, "rounds": 0, "errors": []}
    pats = [network_patterns(Xt, net.Ut())]
    if extra_patterns is not None:
        pats.append(np.asarray(extra_patterns, dtype=bool).reshape(-1, Xt.shape[0]))
    last = lb0
    stopped = "rounds"
    for _ in range(REFINE_ROUNDS):
        if last.argmax is not None and last.M_raw > model.beta * (1 + REFINE_M_SLACK):
            pats.append((Xt @ last.argmax > 0)[None, :])
        P = _unique_rows(np.vstack(pats))
        P = P[np.any(P, axis=1)]  # the all-zeros pattern predicts nothing
        if P.shape[0] == 0:
            stopped = "no patterns"
            break
        left = deadline - time.perf_counter()
        if left <= 0:
            stopped = "time"
            break
        try:
            sol = solve_barrier(Xt, y, P, model, time_limit=left)
        except (SolverError, np.linalg.LinAlgError, FloatingPointError, ValueError) as exc:
            info["errors"].append(f"{type(exc).__name__}: {exc}")
            stopped = "solver failure"
            break
        info["rounds"] += 1
        info["patterns"] = int(P.shape[0])
        info["restricted_objective"] = sol.objective
        info["solver"] = {k: v for k, v in sol.solver_info.items() if np.isscalar(v)}
        nu = _project(model.loss_fn.gradient(sol.prediction, y), data, model)
        try:
            bound = lower_bound_at(nu, data, model)
        except FloatingPointError as exc:
            info["errors"].append(f"FloatingPointError: {exc}")
            stopped = "bound failure"
            break
        gain = bound.lower_bound - best.lower_bound
        if gain > 0:
            best, best_nu = bound, nu
        last = bound
        feasible = bound.M_raw <= model.beta * (1 + REFINE_M_SLACK)
        if feasible or gain <= REFINE_MIN_GAIN * max(1.0, abs(best.lower_bound)):
            stopped = "converged" if feasible else "no gain"
            break
    info.update({"lower_bound": best.lower_bound, "bound": best, "stopped": stopped,
                 "seconds": time.perf_counter() - t0})
    return best_nu, info
