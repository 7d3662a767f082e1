"""verify(): is a given network a global minimum of L?  (docs/method.md sections 3-6)

The verdict rests on a **dual certificate**, checked independently of any solver:

    lower_bound = -loss*(nu) [- (1^T nu)^2 / (2 beta)]   for a dual-feasible nu,

(docs/method.md eq. (5.3)). nu starts from lam = grad loss(yhat) at the network's prediction, is
projected onto the conjugate's domain (and onto 1^T nu = 0, exactly, when the output constant
is free), and is scaled so that M(nu) = max_{N(u) <= 1} |nu^T (Xt u)_+| <= beta holds with the
computed M plus its error bound. Every floating-point step on the way to ``lower_bound`` is
rounded in the safe direction with an a-priori error bound.

* ``optimal``: (objective + its error bound - lower_bound) / max(1, |objective|) <= tol with
  exactly enumerated cells.
* ``suboptimal``: otherwise, when a strictly better network was built and its objective
  evaluated (better by more than both rounding bounds; cvxrelu.witness).
* ``inconclusive``: anything else. Solver trouble, NaN or exceptions never become verdicts.

Per-block KKT residuals (cvxrelu.kkt) are reported beside the verdict, never used for it.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from enum import Enum

import numpy as np

from .arrangements import (
    ADVICE,
    MAX_CELLS,
    MAX_SECONDS,
    analyze,
    estimate_work,
    network_patterns,
    rank_and_rows,
    refusal_for_size,
)
from .dual import DualBound, dual_objective, exact_zero_sum, project_domain_zero_sum
from .errors import InputError, TooLargeError
from .kkt import ACTIVE_TOL, block_kkt
from .losses import EPS
from .model import (
    COLINEAR_TOL,
    ZERO_TOL,
    Dataset,
    Model,
    Network,
    group_neurons,
    objective,
    objective_error_bound,
    predict,
)
from .parallel import resolve_jobs
from .records import array_sha256, finite, jsonable, versions
from .validation import check_consistent
from .witness import find_witness

__all__ = [
    "DEFAULT_TOL", "Certificate", "DualBound", "Status", "bound_cost", "dual_bound", "exact_zero_sum",
    "verify", "versions",
]

#: Default relative gap tolerance (docs/cli.md, ``verify --tol``).
DEFAULT_TOL = 1e-6


class Status(str, Enum):
    """The three verdicts of verify (docs/cli.md, exit codes)."""

    OPTIMAL = "optimal"
    SUBOPTIMAL = "suboptimal"
    INCONCLUSIVE = "inconclusive"



@dataclass
class Certificate:
    status: Status
    objective: float
    lower_bound: float
    gap: float
    relative_gap: float
    tolerance: float
    patterns: str
    details: dict = field(default_factory=dict)
    witness: Network | None = None
    witness_objective: float | None = None

    def to_dict(self) -> dict:
        out = {
            "status": self.status.value,
            "objective": finite(self.objective),
            "lower_bound": finite(self.lower_bound),
            "gap": finite(self.gap),
            "relative_gap": finite(self.relative_gap),
            "tolerance": self.tolerance,
            "patterns": self.patterns,
        }
        out.update(jsonable(self.details))
        if self.witness is not None:
            out["witness"] = {
                "objective": finite(self.witness_objective),
                "improvement": finite(self.objective - self.witness_objective),
                "kind": self.details.get("witness_kind"),
                "neurons": int(self.witness.n_neurons),
            }
        else:
            out["witness"] = None
        return out


# ----------------------------------------------------------------------------- dual point

# ----------------------------------------------------------------------------- dual bound


def bound_cost(X: np.ndarray, model: Model, jobs: int = 1) -> dict:
    """Estimated cost of one exact dual bound (``dual_bound``) on data X, and whether it is refused.

    Returns {"seconds", "refusal", "reason"}: the arrangement engine's time estimate
    (arrangements.estimate_work); with a free hidden bias the bound explores n arrangements of
    the n - 1 differences x_l - x_k (one per kink, see _dual_constraint), n times the work of
    one. ``refusal`` is the one-line message when that exceeds the engine's limits (else None),
    ``reason`` the same without the advice.
    """
    n = X.shape[0]
    free = model.hidden_bias == "free"
    A = X - X[0][None, :] if free else model.augment(X)
    r, _, _, rows, _ = rank_and_rows(A)
    seconds = estimate_work(int(rows.size), r, jobs=jobs)["seconds"] * (n if free else 1)
    msg = refusal_for_size(int(rows.size), r, n, nu=True, patterns=False, max_cells=MAX_CELLS, jobs=jobs)
    if msg is None and seconds > MAX_SECONDS:
        msg = (f"the exact bound with a free hidden bias explores {n} arrangements (one per sample) "
               f"of rank {r}, estimated {seconds:.2g} s in all, more than the limit of "
               f"{MAX_SECONDS:.0f} s" + ADVICE)
    return {"seconds": seconds, "refusal": msg, "reason": None if msg is None else msg.removesuffix(ADVICE)}


def _dual_constraint(Xt: np.ndarray, X: np.ndarray, nu: np.ndarray, model: Model, progress=None,
                     jobs: int | None = 1, scheduler: str | None = None):
    """M(nu) and its error bound, argmax (augmented coordinates) and sign.

    Penalized or absent hidden bias: M = max_{||ut|| <= 1} |nu^T (Xt ut)_+| over all cells.
    Free hidden bias (1^T nu = 0): for fixed u, b -> f(u, b) is piecewise linear with kinks
    at b = -x_k^T u and limit nu^T X u as b -> +inf, so
    M = max(||X^T nu||, max_k max_{||u|| <= 1} |sum_l nu_l ((x_l - x_k)^T u)_+|).
    Returns also a Lipschitz radius R (n,) such that |M(nu) - M(nu')| <= sum |nu - nu'| R
    for zero-sum differences (free) or all differences (otherwise).
    """
    if model.hidden_bias != "free":
        res = analyze(Xt, nu, progress=progress, jobs=jobs, scheduler=scheduler)
        am = res.argmax
        return res.M, res.M_error, am, res.argmax_sign, res, np.linalg.norm(Xt, axis=1)
    n, d = X.shape
    why = bound_cost(X, model, jobs=resolve_jobs(jobs) if scheduler is None else 1)["refusal"]
    if why is not None:
        raise TooLargeError(why)
    g = X.T @ nu
    gn = float(np.linalg.norm(g))
    best, best_at, best_sign = gn, None, 1
    if gn > 0:
        u = g / gn
        b = float(np.max(-(X @ u))) + 1.0  # every sample active: f = nu^T X u = ||g||
        best_at = np.append(u, b)
    err = 32.0 * (n + d + 8) * EPS * float(np.abs(nu) @ np.linalg.norm(X, axis=1))
    last = None
    visited = checked = 0
    task = progress.task("Exploring activation patterns", total=n) if progress else None
    for k in range(n):
        res = analyze(X - X[k][None, :], nu, jobs=jobs, scheduler=scheduler)
        last = res
        visited += res.cells_visited
        checked += res.candidates_checked
        err = max(err, res.M_error)
        if res.M > best and res.argmax is not None:
            best, best_sign = res.M, res.argmax_sign
            u = res.argmax
            best_at = np.append(u, -float(X[k] @ u))
        if task:
            task(1)
    if task and hasattr(task, "close"):
        task.close()
    if last is not None:
        last.cells_visited, last.candidates_checked = visited, checked
    R = 2.0 * float(np.max(np.linalg.norm(X, axis=1))) * np.ones(n)
    return best, err, best_at, best_sign, last, R


def dual_bound(net: Network, data: Dataset, model: Model, progress=None, jobs: int | None = 1,
               scheduler: str | None = None) -> DualBound:
    """Certified lower bound on the global minimum P* of L (docs/method.md section 5).

    ``jobs`` / ``scheduler``: where the exact enumeration runs (arrangements.analyze); the
    bound is bit-identical whatever they are (docs/scale.md).
    """
    loss = model.loss_fn
    X, y = data.X, data.y
    Xt = model.augment(X)
    lam = loss.gradient(predict(net, X), y)
    lo, hi = loss.dual_box(y)
    zero_sum = model.effective_output_bias == "free"
    nu1 = np.clip(lam, lo, hi)
    shift = 0.0
    if zero_sum:
        nu1 = project_domain_zero_sum(lam, lo, hi)
        shift = float(np.max(np.abs(nu1 - lam))) if lam.size else 0.0
        z = exact_zero_sum(nu1, lo, hi)
        nu1 = z if z is not None else np.zeros_like(lam)
    if not np.all(np.isfinite(nu1)):
        raise FloatingPointError("non-finite dual point")
    M, M_err, argmax, sign, res, R = _dual_constraint(Xt, X, nu1, model, progress, jobs, scheduler)
    if not (np.isfinite(M) and np.isfinite(M_err)):
        raise FloatingPointError("non-finite dual constraint value")
    beta = model.beta
    s = 1.0 if M + M_err <= beta else beta / (M + M_err) * (1 - 8 * EPS)
    for _ in range(60):
        nu2 = s * nu1
        nu3 = nu2
        if zero_sum:
            z = exact_zero_sum(nu2, lo, hi)
            nu3 = z if z is not None else np.zeros_like(nu2)
        # nu3 = s*nu1 + Delta with |Delta| <= |nu3 - nu2| + EPS |nu2| (exact reals)
        delta = np.abs(nu3 - nu2) + EPS * np.abs(nu2)
        bound = (s * (M + M_err) + float(delta @ R)) * (1 + 64 * EPS) + 1e-300
        if bound <= beta:
            break
        s *= 1 - 2.0**-30 if bound < beta * (1 + 1e-9) else beta / bound
    else:  # pragma: no cover - cannot happen for finite inputs
        nu3 = np.zeros_like(nu1)
    D, rounding = dual_objective(nu3, y, model)
    lb = D - rounding
    if not np.isfinite(lb):
        raise FloatingPointError("non-finite lower bound")
    return DualBound(
        lower_bound=float(lb),
        M_raw=float(M),
        M_error=float(M_err),
        scale=float(s),
        dual_objective=float(D),
        rounding=float(rounding),
        argmax=argmax,
        argmax_sign=int(sign),
        rank=int(res.rank) if res is not None else 0,
        cells_visited=int(res.cells_visited) if res is not None else 0,
        candidates_checked=int(res.candidates_checked) if res is not None else 0,
        zero_sum_shift=shift,
        tolerances=res.tolerances if res is not None else {},
    )


# ----------------------------------------------------------------------------- verify


def verify(
    net: Network,
    data: Dataset,
    model: Model,
    tol: float = DEFAULT_TOL,
    progress=None,
    jobs: int | None = 1,
    scheduler: str | None = None,
) -> Certificate:
    """Certify that ``net`` is a global minimum of L within relative tolerance ``tol``.

    Parameters
    ----------
    net : Network (U (d, m), alpha (m,), b, c)
    data : Dataset (X (n, d), y (n,))
    model : Model (beta, loss, hidden_bias, output_bias)
    tol : float
        Relative gap tolerance: optimal iff (L - lower_bound) / max(1, |L|) <= tol.
    jobs, scheduler
        Worker processes (None: all cores) or a dask.distributed scheduler address for the
        exact enumeration; the certificate does not depend on them (docs/scale.md).
    """
    if not (isinstance(tol, float | int) and 0 <= tol < 1 and np.isfinite(tol)):
        raise InputError(f"--tol must be a number in [0, 1), got {tol!r}")
    check_consistent(net, data, model)
    t0 = time.perf_counter()
    Xt = model.augment(data.X)
    L = objective(net, data, model)
    errL = objective_error_bound(net, data, model)
    details: dict = {}
    status = Status.INCONCLUSIVE
    lb, gap, rel = -math.inf, math.inf, math.inf
    groups = group_neurons(net, Xt, model)
    neurons = {
        "given": net.n_neurons,
        "nonzero": int(sum(len(g) for g in groups.groups) + groups.constant.size),
        "after_merge": int(len(groups.groups) + groups.constant.size),
        "nearly_minimal": bool(groups.nearly_minimal),
        "minimal": bool(groups.minimal),
    }
    details["neurons"] = neurons
    details["problem"] = {
        "n_samples": data.n_samples,
        "n_features": data.n_features,
        "beta": model.beta,
        "loss": model.loss,
        "hidden_bias": model.hidden_bias,
        "output_bias": model.output_bias,
    }
    witness = None
    bound = None
    if not np.isfinite(L):
        details["reason"] = "the objective of the given network is not finite"
    else:
        t1 = time.perf_counter()
        try:
            bound = dual_bound(net, data, model, progress=progress, jobs=jobs, scheduler=scheduler)
        except FloatingPointError as exc:
            details["reason"] = f"numerical failure while bounding: {exc}"
        t2 = time.perf_counter()
        details["timings"] = {"dual_bound_s": t2 - t1}
        if bound is not None:
            lb = bound.lower_bound
            gap = L - lb
            gap_upper = L + errL - lb
            rel = gap / max(1.0, abs(L))
            rel_upper = gap_upper / max(1.0, abs(L))
            details["gap_upper_bound"] = gap_upper
            details["relative_gap_upper_bound"] = rel_upper
            details["objective_error_bound"] = errL
            details["dual"] = {
                "M": bound.M_raw,
                "M_error_bound": bound.M_error,
                "beta": model.beta,
                "dual_constraint_violation": bound.M_raw - model.beta,
                "scale": bound.scale,
                "dual_objective": bound.dual_objective,
                "rounding_allowance": bound.rounding,
                "zero_sum_shift": bound.zero_sum_shift,
            }
            details["arrangement"] = {
                "method": "exact enumeration (recursive hyperplane restriction + 2-D sweep)",
                "complete": True,
                "rank": bound.rank,
                "cells_visited": bound.cells_visited,
                "interior_candidates_checked": bound.candidates_checked,
                "network_patterns": int(network_patterns(Xt, net.Ut()).shape[0]),
                "tolerances": bound.tolerances,
            }
            if rel_upper <= tol:
                status = Status.OPTIMAL
    if status is not Status.OPTIMAL and np.isfinite(L):
        t3 = time.perf_counter()
        if bound is None:
            bound = DualBound(-math.inf, math.nan, 0.0, 1.0, -math.inf, 0.0, None, 1, 0, 0, 0, 0.0, {})
        witness_errors: list = []
        w = find_witness(net, data, model, bound, L, errL, Xt, witness_errors)
        if witness_errors:
            details["witness_errors"] = witness_errors
        details.setdefault("timings", {})["witness_s"] = time.perf_counter() - t3
        if w is not None:
            kind, witness, wobj = w
            details["witness_kind"] = kind
            if "solver" in witness.meta:  # the subsampled program's solver: a hint, re-evaluated
                details["witness_solver"] = witness.meta["solver"]
            status = Status.SUBOPTIMAL
            # the bound holds whatever network supplies the dual point: the witness's gradient
            # is often a much better one
            try:
                wb = dual_bound(witness, data, model, jobs=jobs, scheduler=scheduler)
            except FloatingPointError:
                wb = None
            if wb is not None and wb.lower_bound > lb:
                lb = wb.lower_bound
                gap = L - lb
                rel = gap / max(1.0, abs(L))
                details["lower_bound_from"] = "the witness network's gradient"
                details["gap_upper_bound"] = L + errL - lb
                details["relative_gap_upper_bound"] = (L + errL - lb) / max(1.0, abs(L))
                if details["relative_gap_upper_bound"] <= tol:
                    # within the tolerance after all (docs/cli.md: optimal is decided first)
                    status = Status.OPTIMAL
    try:
        kkt = block_kkt(net, data, model) if np.isfinite(L) else []
    except Exception as exc:  # diagnostics only: never changes the verdict
        kkt, details["kkt_error"] = [], f"{type(exc).__name__}: {exc}"
    zero_viol = None if bound is None or not np.isfinite(bound.M_raw) else bound.M_raw - model.beta
    details["kkt"] = {
        "worst": kkt[:5],
        "nonzero_blocks": len(kkt),
        "zero_blocks_max_violation": zero_viol,
        "note": "zero blocks: max over all cells of |nu^T (Xt u)_+| - beta at the network's gradient",
    }
    details["tolerances"] = {
        "relative_gap": tol,
        "zero_pre_activation": ZERO_TOL,
        "colinear": COLINEAR_TOL,
        "kkt_active": ACTIVE_TOL,
        **(bound.tolerances if bound is not None else {}),
    }
    details["versions"] = versions()
    details["inputs_sha256"] = {
        "X": array_sha256(data.X), "y": array_sha256(data.y), "U": array_sha256(net.U), "alpha": array_sha256(net.alpha),
    }
    details.setdefault("timings", {})["total_s"] = time.perf_counter() - t0
    return Certificate(
        status=status,
        objective=float(L),
        lower_bound=float(lb),
        gap=float(gap),
        relative_gap=float(rel),
        tolerance=float(tol),
        patterns="exact",
        details=details,
        witness=witness,
        witness_objective=None if witness is None else float(objective(witness, data, model)),
    )
