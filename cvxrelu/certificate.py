"""verify(): is a given network a global minimum of L?  (MATH.md sections 3-6)

The verdict rests on a **dual certificate**, checked independently of any solver:

    lower_bound = -loss*(nu) [- (1^T nu)^2 / (2 beta)]   for a dual-feasible nu,

(MATH.md section 5). nu starts from lam = grad loss(yhat) at the network's prediction, is
projected onto the conjugate's domain (and onto 1^T nu = 0, exactly, when the output constant
is free), and is scaled so that M(nu) = max_{N(u) <= 1} |nu^T (Xt u)_+| <= beta holds with the
computed M plus its error bound. Every floating-point step on the way to ``lower_bound`` is
rounded in the safe direction with an a-priori error bound.

* ``optimal``: (objective + its error bound - lower_bound) / max(1, |objective|) <= tol with
  exactly enumerated cells.
* ``suboptimal``: otherwise, when a strictly better network was built and its objective
  evaluated (better by more than both rounding bounds).
* ``inconclusive``: anything else. Solver trouble, NaN or exceptions never become verdicts.
"""

from __future__ import annotations

import hashlib
import math
import platform
import time
from dataclasses import dataclass, field
from enum import Enum

import numpy as np

from . import __version__
from .arrangements import MAX_CELLS, analyze, network_patterns
from .errors import InputError
from .losses import EPS
from .model import (
    Dataset,
    Model,
    Network,
    group_neurons,
    merged,
    objective,
    objective_error_bound,
    predict,
    replace_c,
    scaled,
    with_neuron,
)

#: Default relative gap tolerance (CONTRACT.md).
DEFAULT_TOL = 1e-6
#: KKT report only (never the verdict): a non-zero block's row k may carry a multiplier when
#: (A w)_k <= ACTIVE_TOL * ||xt_k|| ||w|| (numerical optima are accurate to about 1e-8).
ACTIVE_TOL = 1e-6


class Status(str, Enum):
    OPTIMAL = "optimal"
    SUBOPTIMAL = "suboptimal"
    INCONCLUSIVE = "inconclusive"


@dataclass
class DualBound:
    """A certified lower bound and how it was obtained."""

    lower_bound: float
    M_raw: float  # computed M at the unscaled (projected) dual point
    M_error: float
    scale: float
    dual_objective: float
    rounding: float  # error allowance subtracted from the dual objective
    argmax: np.ndarray | None
    argmax_sign: int
    rank: int
    cells_visited: int
    candidates_checked: int
    zero_sum_shift: float
    tolerances: dict


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
            "objective": _finite(self.objective),
            "lower_bound": _finite(self.lower_bound),
            "gap": _finite(self.gap),
            "relative_gap": _finite(self.relative_gap),
            "tolerance": self.tolerance,
            "patterns": self.patterns,
        }
        out.update(_jsonable(self.details))
        if self.witness is not None:
            out["witness"] = {
                "objective": _finite(self.witness_objective),
                "improvement": _finite(self.objective - self.witness_objective),
                "kind": self.details.get("witness_kind"),
                "neurons": int(self.witness.n_neurons),
            }
        else:
            out["witness"] = None
        return out


# ----------------------------------------------------------------------------- dual point


def _project_domain_zero_sum(lam: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """argmin-ish: nu = clip(lam - tau, lo, hi) with sum(nu) ~ 0 (bisection on tau)."""
    if np.all(np.isinf(lo)) and np.all(np.isinf(hi)):
        return lam - np.mean(lam)
    f = lambda t: float(np.sum(np.clip(lam - t, lo, hi)))  # noqa: E731 - decreasing in t
    a, b = float(np.min(lam - hi)) - 1.0, float(np.max(lam - lo)) + 1.0
    if f(a) < 0 or f(b) > 0:  # no zero-sum point in the box: the only safe choice is 0
        return np.clip(np.zeros_like(lam), lo, hi)
    for _ in range(200):
        mid = 0.5 * (a + b)
        if f(mid) > 0:
            a = mid
        else:
            b = mid
    return np.clip(lam - 0.5 * (a + b), lo, hi)


def exact_zero_sum(nu: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray | None:
    """A vector near nu, inside [lo, hi], whose entries sum to exactly 0 in real arithmetic.

    Entries are put on the grid q * Z with q a power of two so small that every partial sum
    is an exact float; the integer residual is then moved onto entries with room.
    Returns None when the box leaves no room.
    """
    total = float(np.sum(np.abs(nu)))
    if total == 0.0:
        return np.zeros_like(nu)
    q = 2.0 ** (math.ceil(math.log2(total)) - 50)
    if q < 2.0**-1000:
        return None
    k = np.round(nu / q)
    klo = np.where(np.isfinite(lo), np.ceil(lo / q), -np.inf)
    khi = np.where(np.isfinite(hi), np.floor(hi / q), np.inf)
    k = np.clip(k, klo, khi)
    ki = [int(v) for v in k]
    resid = sum(ki)
    if resid != 0:
        room = (k - klo) if resid > 0 else (khi - k)
        order = np.argsort(-room, kind="stable")
        need = abs(resid)
        for j in order:
            if need == 0:
                break
            r = room[j]
            step = need if not np.isfinite(r) else min(need, int(r))
            if step <= 0:
                continue
            ki[j] += -step if resid > 0 else step
            need -= step
        if need != 0:
            return None
    out = np.array(ki, dtype=np.float64) * q
    assert sum(int(v) for v in np.round(out / q)) == 0
    return out


def bound_cost(X: np.ndarray, model: Model) -> dict:
    """Estimated cost of one exact dual bound (``dual_bound``) on data X, and whether it is refused.

    Returns {"seconds", "refusal", "reason"}: the arrangement engine's time estimate
    (arrangements.estimate_work); with a free hidden bias the bound explores n arrangements of
    the n - 1 differences x_l - x_k (one per kink, see _dual_constraint), n times the work of
    one. ``refusal`` is the one-line message when that exceeds the engine's limits (else None),
    ``reason`` the same without the advice.
    """
    from .arrangements import ADVICE, MAX_SECONDS, _rank_and_rows, _refusal, estimate_work

    n = X.shape[0]
    free = model.hidden_bias == "free"
    A = X - X[0][None, :] if free else model.augment(X)
    r, _, _, rows, _ = _rank_and_rows(A)
    seconds = estimate_work(int(rows.size), r)["seconds"] * (n if free else 1)
    msg = _refusal(int(rows.size), r, n, nu=True, patterns=False, max_cells=MAX_CELLS)
    if msg is None and seconds > MAX_SECONDS:
        msg = (f"the exact bound with a free hidden bias explores {n} arrangements (one per sample) "
               f"of rank {r}, estimated {seconds:.2g} s in all, more than the limit of "
               f"{MAX_SECONDS:.0f} s" + ADVICE)
    return {"seconds": seconds, "refusal": msg, "reason": None if msg is None else msg.removesuffix(ADVICE)}


def _dual_constraint(Xt: np.ndarray, X: np.ndarray, nu: np.ndarray, model: Model, progress=None):
    """M(nu) and its error bound, argmax (augmented coordinates) and sign.

    Penalized or absent hidden bias: M = max_{||ut|| <= 1} |nu^T (Xt ut)_+| over all cells.
    Free hidden bias (1^T nu = 0): for fixed u, b -> f(u, b) is piecewise linear with kinks
    at b = -x_k^T u and limit nu^T X u as b -> +inf, so
    M = max(||X^T nu||, max_k max_{||u|| <= 1} |sum_l nu_l ((x_l - x_k)^T u)_+|).
    Returns also a Lipschitz radius R (n,) such that |M(nu) - M(nu')| <= sum |nu - nu'| R
    for zero-sum differences (free) or all differences (otherwise).
    """
    if model.hidden_bias != "free":
        res = analyze(Xt, nu, progress=progress)
        am = res.argmax
        return res.M, res.M_error, am, res.argmax_sign, res, np.linalg.norm(Xt, axis=1)
    n, d = X.shape
    why = bound_cost(X, model)["refusal"]
    if why is not None:
        from .errors import TooLargeError

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
        res = analyze(X - X[k][None, :], nu)
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


def dual_bound(net: Network, data: Dataset, model: Model, progress=None) -> DualBound:
    """Certified lower bound on the global minimum P* of L (MATH.md section 5)."""
    loss = model.loss_fn
    X, y = data.X, data.y
    Xt = model.augment(X)
    lam = loss.gradient(predict(net, X), y)
    lo, hi = loss.dual_box(y)
    zero_sum = model.effective_output_bias == "free"
    nu1 = np.clip(lam, lo, hi)
    shift = 0.0
    if zero_sum:
        nu1 = _project_domain_zero_sum(lam, lo, hi)
        shift = float(np.max(np.abs(nu1 - lam))) if lam.size else 0.0
        z = exact_zero_sum(nu1, lo, hi)
        nu1 = z if z is not None else np.zeros_like(lam)
    if not np.all(np.isfinite(nu1)):
        raise FloatingPointError("non-finite dual point")
    M, M_err, argmax, sign, res, R = _dual_constraint(Xt, X, nu1, model, progress)
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
    conj = loss.conjugate(nu3, y)
    rounding = loss.conjugate_error_bound(nu3, y)
    D = -conj
    if model.effective_output_bias == "penalized":
        t = math.fsum(nu3.tolist())
        D -= t * t / (2 * beta)
        rounding += 8 * EPS * (t * t / (2 * beta)) + 1e-300
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


# ----------------------------------------------------------------------------- KKT per block


def block_kkt(net: Network, data: Dataset, model: Model) -> list[dict]:
    """KKT residual of every non-zero block of W(theta) (MATH.md section 4, paper eq. 14).

    Block (pattern s, sign sg) with w = sum |alpha_j| ut_j: residual
    min_{zeta >= 0, zeta_k = 0 where (A w)_k > 0} || g + beta dN(w) - A^T zeta ||,
    g = sg Xt^T D lam, A = (2D - I) Xt. Solved with Clarabel (solvers.clarabel.nnls).
    """
    from .solvers.clarabel import nnls

    X, y = data.X, data.y
    Xt = model.augment(X)
    lam = model.loss_fn.gradient(predict(net, X), y)
    groups = group_neurons(net, Xt, model)
    Ut = net.Ut()
    rows = []
    xn = np.linalg.norm(Xt, axis=1)
    for idx, sg in zip(groups.groups, groups.signs):
        w = Ut[:, idx] @ np.abs(net.alpha[idx])
        Nw = float(model.neuron_norm(w[:, None])[0])
        s = (Xt @ w > 0).astype(float)
        A = (2 * s - 1)[:, None] * Xt
        g = sg * (Xt.T @ (s * lam))
        dN = w.copy()
        if model.hidden_bias == "free":
            dN[-1] = 0.0
        target = g + model.beta * dN / Nw
        act = np.flatnonzero(A @ w <= ACTIVE_TOL * xn * np.linalg.norm(w))
        if act.size:
            sol = nnls(A[act].T, target)
            resid = float(sol["residual"])
            info = sol["status"]
        else:
            resid, info = float(np.linalg.norm(target)), "closed form"
        rows.append(
            {
                "kind": "nonzero",
                "neurons": [int(j) for j in idx],
                "sign": int(sg),
                "norm": Nw,
                "residual": resid,
                "relative_residual": resid / model.beta,
                "active_rows": int(act.size),
                "solver_status": info,
            }
        )
    rows.sort(key=lambda r: -r["residual"])
    return rows


# ----------------------------------------------------------------------------- witnesses


def _line_search_neuron(net, data, model, u, sign, L0):
    """Best of theta + (sqrt(eps) u, -sign sqrt(eps)) over a geometric grid of eps."""
    best = None
    Nu = float(model.neuron_norm(u[:, None])[0])
    if Nu <= 0:
        return None
    u = u / Nu
    for eps in np.geomspace(1e-8, 1e2, 41) * max(1.0, abs(L0)) / model.beta:
        cand = with_neuron(net, math.sqrt(eps) * u, -sign * math.sqrt(eps), model)
        val = objective(cand, data, model)
        if np.isfinite(val) and (best is None or val < best[0]):
            best = (val, cand)
    return best


def _best_output_bias(net, data, model):
    """theta with its output bias c re-optimized (1-D Newton on a convex function)."""
    if model.output_bias == "none" or net.c is None:
        return None
    c = float(net.c)
    pen = model.beta if model.output_bias == "penalized" else 0.0
    base = predict(replace_c(net, 0.0), data.X)
    loss = model.loss_fn
    for _ in range(50):
        z = base + c
        grad = float(np.sum(loss.gradient(z, data.y))) + pen * c
        h = 1e-6 * max(1.0, abs(c))
        curv = (float(np.sum(loss.gradient(z + h, data.y))) - float(np.sum(loss.gradient(z - h, data.y)))) / (2 * h) + pen
        if curv <= 0 or not np.isfinite(curv):
            break
        step = grad / curv
        c -= step
        if abs(step) <= 1e-15 * max(1.0, abs(c)):
            break
    return replace_c(net, c)


def find_witness(net, data, model, bound: DualBound, L0: float, err0: float, Xt, errors: list | None = None):
    """Candidate better networks (MATH.md section 6); returns (kind, network, objective) or None.

    Failures of a route (e.g. the subsampled program's solver) are appended to ``errors``: they
    only mean no witness from that route, never a verdict.
    """
    errors = [] if errors is None else errors
    cands = []
    sc = scaled(net, model)
    cands.append(("rescaled neurons", sc))
    mg = merged(sc, Xt, model)
    cands.append(("merged neurons of one cone (Prop. 1)", mg))
    cb = _best_output_bias(mg, data, model)
    if cb is not None:
        cands.append(("re-optimized output bias", cb))
    if bound.argmax is not None and bound.M_raw > model.beta:
        r = _line_search_neuron(mg, data, model, bound.argmax, bound.argmax_sign, L0)
        if r is not None:
            cands.append(("added neuron along a violated dual constraint", r[1]))
    try:
        from .improve import improve_on_patterns
    except ImportError:  # the subsampled convex program (Thm. 3) is optional here
        improve_on_patterns = None
    if improve_on_patterns is not None:
        extra = None if bound.argmax is None else bound.argmax
        try:
            better = improve_on_patterns(mg, data, model, extra_direction=extra)
        except Exception as exc:  # noqa: BLE001 - a failure here only means no witness from this route
            better = None
            errors.append(f"{type(exc).__name__}: {exc}")
        if better is not None:
            cands.append(("convex program on the network's patterns (Thm. 3)", better))
    best = None
    for kind, cand in cands:
        val = objective(cand, data, model)
        if not np.isfinite(val):
            continue
        err = objective_error_bound(cand, data, model)
        if val + err < L0 - err0 and (best is None or val < best[2]):
            best = (kind, cand, float(val))
    return best


# ----------------------------------------------------------------------------- verify


def _check_consistent(net: Network, data: Dataset, model: Model) -> None:
    n, d = data.X.shape
    if net.U.shape[0] != d:
        raise InputError(f"the network has {net.U.shape[0]} input features but X has {d} columns")
    if model.has_hidden_bias and net.b is None:
        raise InputError(f"hidden_bias is {model.hidden_bias!r} but the network has no b")
    if not model.has_hidden_bias and net.b is not None:
        raise InputError("the network has a hidden bias b but hidden_bias is 'none'")
    msg = model.loss_fn.check_labels(data.y)
    if msg:
        raise InputError(msg)


def _sha(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a, dtype=np.float64).tobytes()).hexdigest()


def versions() -> dict:
    import scipy

    out = {"cvxrelu": __version__, "numpy": np.__version__, "scipy": scipy.__version__,
           "python": platform.python_version()}
    try:
        import clarabel

        out["clarabel"] = getattr(clarabel, "__version__", "unknown")
    except ImportError:  # pragma: no cover
        pass
    return out


def verify(
    net: Network,
    data: Dataset,
    model: Model,
    tol: float = DEFAULT_TOL,
    progress=None,
) -> Certificate:
    """Certify that ``net`` is a global minimum of L within relative tolerance ``tol``.

    Parameters
    ----------
    net : Network (U (d, m), alpha (m,), b, c)
    data : Dataset (X (n, d), y (n,))
    model : Model (beta, loss, hidden_bias, output_bias)
    tol : float
        Relative gap tolerance: optimal iff (L - lower_bound) / max(1, |L|) <= tol.
    """
    if not (isinstance(tol, float | int) and 0 <= tol < 1 and np.isfinite(tol)):
        raise InputError(f"--tol must be a number in [0, 1), got {tol!r}")
    _check_consistent(net, data, model)
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
            bound = dual_bound(net, data, model, progress=progress)
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
                wb = dual_bound(witness, data, model)
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
                    # within the tolerance after all (CONTRACT: optimal is decided first)
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
        "zero_pre_activation": __import__("cvxrelu.model", fromlist=["ZERO_TOL"]).ZERO_TOL,
        "colinear": __import__("cvxrelu.model", fromlist=["COLINEAR_TOL"]).COLINEAR_TOL,
        "kkt_active": ACTIVE_TOL,
        **(bound.tolerances if bound is not None else {}),
    }
    details["versions"] = versions()
    details["inputs_sha256"] = {
        "X": _sha(data.X), "y": _sha(data.y), "U": _sha(net.U), "alpha": _sha(net.alpha),
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


def _finite(x):
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [_jsonable(v) for v in obj.tolist()]
    if isinstance(obj, np.generic):
        return _jsonable(obj.item())
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    return obj
