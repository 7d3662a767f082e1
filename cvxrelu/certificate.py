"""verify(): is a given network a global minimum of L?  (docs/method.md sections 3-6)

The verdict rests on a **dual certificate**, checked independently of any solver:

    lower_bound = -loss*(nu) [- (1^T nu)^2 / (2 beta)]   for a dual-feasible nu,

(docs/method.md eq. (5.3)). nu starts from lam = grad loss(yhat) at the network's prediction, is
projected onto the conjugate's domain (and onto 1^T nu = 0, exactly, when the output constant
is free), and is scaled so that M(nu) = max_{N(u) <= 1} |nu^T (Xt u)_+| <= beta holds with a
sound upper bound on M (cvxrelu.lower_bound): the exact enumeration of the arrangement where
the cost model says it fits in the time limit (``patterns: "exact"``), otherwise
bounds.bound_dual_constraint (norm bounds, spike-free data, relaxation, branch and bound;
``patterns: "bounded"``). Every floating-point step on the way to ``lower_bound`` is rounded
in the safe direction with an a-priori error bound. No valid input is refused for its size.

The status, in this order (docs/cli.md):

* ``optimal``: objective + its error bound - lower_bound <= max(atol, tol |objective|);
* ``suboptimal``: otherwise, when a strictly better network was built and its objective
  evaluated (better by more than both rounding bounds; cvxrelu.witness, and cvxrelu.refute's
  search for violated dual constraints in bounded mode or when the witnesses found nothing);
* ``inconclusive``: anything else. Solver trouble, NaN or exceptions never become verdicts.

relative_gap = gap / |objective| (contract v2; v1 divided by max(1, |objective|), which made the
tolerance absolute below objective 1). Per-block KKT residuals (cvxrelu.kkt) are reported
beside the verdict, never used for it.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from enum import Enum

import numpy as np

from .arrangements import network_patterns
from .dual import DualBound, exact_zero_sum
from .errors import InputError, TooLargeError
from .improve import improve_on_patterns
from .kkt import ACTIVE_TOL, block_kkt
from .lower_bound import (
    DEFAULT_TIME_LIMIT,
    STOP_MARGIN,
    LowerBound,
    bound_cost,
    certifying_bound,
    choose_patterns,
    dual_bound,
    dual_start,
    live_directions,
    lower_bound,
)
from .model import (
    COLINEAR_TOL,
    ZERO_TOL,
    Dataset,
    Model,
    Network,
    group_neurons,
    merged,
    objective,
    objective_error_bound,
    scaled,
)
from .parallel import resolve_jobs
from .records import array_sha256, finite, jsonable, versions
from .refine import REFINE_SECONDS, refine_dual
from .refute import SEARCH_SHARE, network_search, refute
from .validation import check_consistent
from .witness import PROGRAM_ENTRIES, find_witness

__all__ = [
    "DEFAULT_TIME_LIMIT", "DEFAULT_TOL", "Certificate", "DualBound", "LowerBound", "Status", "bound_cost",
    "dual_bound", "exact_zero_sum", "verify", "versions",
]

#: Default relative gap tolerance (docs/cli.md, ``verify --tol``).
DEFAULT_TOL = 1e-6


class Status(str, Enum):
    """The three verdicts of verify (docs/cli.md, exit codes)."""

    OPTIMAL = "optimal"
    SUBOPTIMAL = "suboptimal"
    INCONCLUSIVE = "inconclusive"


#: Share of the time limit the network's own bound may use when it can still certify; the
#: refutation search and the witness's bound share the rest.
BOUND_SHARE = 0.7
#: Share of the time limit for the refutation search (refute.refute) in bounded mode.
REFUTE_SHARE = 0.2
#: In bounded mode the refutation's search runs inside the bound, once its cheap stages have not
#: settled the question (its share of REFUTE_SHARE); at most SEARCH_STARTS of the violated directions it found (the largest ratios), and its best
#: direction, join the network's neurons as starts of the bound's incumbent.
SEARCH_STARTS = 64
#: Share of the time limit for a bound that can no longer certify (it only sharpens the
#: reported lower bound).
SHORT_SHARE = 0.1
#: No phase gets less than this many seconds, whatever the time limit (so --time-limit is
#: respected approximately, never to the millisecond).
MIN_PHASE_SECONDS = 0.25
#: The exact bound uses its thresholds (``bound_for``: the floor below the certifying value,
#: the stop above it) only when one enumeration is estimated (``bound_cost``, one job) above
#: this many seconds; cheaper ones run whole (the tightest bound, the exact argmax).
THRESHOLD_SECONDS = 5.0
#: The exact bound's stop above is at least beta (1 + CEILING_SLACK): a network whose dual
#: constraint is violated by less (M / beta - 1 of 1e-6, a gap near the tolerance) gets the
#: whole enumeration, hence a lower bound within about that of its objective, instead of the
#: norm bound (measured: a d = 2, n = 10 000 network stopped at M / beta = 1.000002 reported a
#: relative gap of 0.92), and no witness can be evaluated below such a network anyway (its
#: improvement is of the order of (M / beta - 1)^2, below the objective's rounding).
CEILING_SLACK = 1e-3
#: Branch-and-bound nodes of a report-only bound at the witness's gradient (``verify``: nothing
#: certifies from it, in bounded mode or as exact mode's stand-in for an expensive enumeration):
#: 0 = the norm bounds, the spike-free test and the root relaxation, which do not depend on
#: the clock, so the report stays the same whatever --jobs and the machine's load. Branching
#: for SHORT_SHARE of the time limit instead cost 6 s on solve's 10-D networks (bench/solve.py's
#: ipm rows) and lifted a lower bound of 0.85 to 1.22 below an objective of 224: to bound the
#: witness itself, verify it (``--witness``).
WITNESS_BOUND_NODES = 0


@dataclass
class Certificate:
    """The verdict of :func:`verify` and the numbers behind it (docs/cli.md, ``verify --json``)."""

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
    atol: float = 0.0
    bound_method: str = "enumeration"
    dual_ratio_upper: float | None = None
    dual_ratio_lower: float | None = None
    time_limit: float = DEFAULT_TIME_LIMIT
    seconds: float = 0.0

    def to_dict(self) -> dict:
        out = {
            "status": self.status.value,
            "objective": finite(self.objective),
            "lower_bound": finite(self.lower_bound),
            "gap": finite(self.gap),
            "relative_gap": finite(self.relative_gap),
            "tolerance": self.tolerance,
            "atol": self.atol,
            "patterns": self.patterns,
            "bound_method": self.bound_method,
            "dual_ratio_upper": finite(self.dual_ratio_upper),
            "dual_ratio_lower": finite(self.dual_ratio_lower),
            "time_limit": self.time_limit,
            "seconds": self.seconds,
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


def relative(gap: float, L: float) -> float:
    """gap / |L| (contract v2); 0 when both vanish, +inf for a positive gap at L = 0."""
    if L != 0:
        return gap / abs(L)
    return 0.0 if gap <= 0 else math.inf


def check_options(tol, atol, time_limit) -> None:
    """tol in [0, 1), atol >= 0 finite, time_limit > 0 finite (InputError naming the option)."""
    def num(x):
        return isinstance(x, float | int) and not isinstance(x, bool) and math.isfinite(x)

    if not (num(tol) and 0 <= tol < 1):
        raise InputError(f"--tol must be a number in [0, 1), got {tol!r}")
    if not (num(atol) and atol >= 0):
        raise InputError(f"--atol must be a finite number >= 0, got {atol!r}")
    if not (num(time_limit) and time_limit > 0):
        raise InputError(f"--time-limit must be a finite number of seconds > 0, got {time_limit!r}")


def _budget(deadline: float, share_seconds: float) -> float:
    return max(MIN_PHASE_SECONDS, min(share_seconds, deadline - time.perf_counter()))


def bound_for(nu1: np.ndarray, shift: float, data: Dataset, model: Model, *, mode: str, needed: float,
              allowed: float, seconds: float, short_seconds: float, starts=None, progress=None,
              jobs: int | None = 1, scheduler: str | None = None, max_nodes: int | None = None,
              limit: float = DEFAULT_TIME_LIMIT, more_starts=None) -> LowerBound:
    """The lower bound from nu1, told when to stop (bounded mode): ``needed`` is the lower bound
    that certifies (objective + its error bound - allowed gap).

    Bounded mode asks bounds.bound_dual_constraint to decide whether M(nu1) is below the
    largest value that still certifies (``certifying_bound``): it stops as soon as its upper
    bound is below it (with STOP_MARGIN to spare) or its attained value is above it. When no
    value certifies, only a short bound is computed (for the report's lower bound).

    Exact mode gives the enumeration the same two thresholds (arrangements.analyze, "Thresholds"):
    values that cannot lift the upper bound above the certifying value are not looked for, and
    the enumeration stops at the first value above the larger of the largest certifying one
    and beta (1 + CEILING_SLACK) (then the certificate cannot come from nu1; the report's upper
    bound on M is the norm bound, lower_bound.norm_upper_bound). When no value certifies, the
    floor is beta and the stop beta (1 + CEILING_SLACK): the enumeration stops at the first
    clearly violated dual constraint. The thresholds are used only when
    one enumeration is estimated (one job) above THRESHOLD_SECONDS: below, the exact M and its
    argmax are cheap, and they give the tightest reported bound (a bound from the floor is
    only as good as the tolerance needs) and the most violated direction for the witness.
    """
    above = certifying_bound(nu1, data.y, model, needed)
    if mode == "exact":
        if above == -math.inf:
            ex_below, ex_above = model.beta, model.beta * (1.0 + CEILING_SLACK)
        else:
            ex_below = certifying_bound(nu1, data.y, model, needed + STOP_MARGIN * allowed) if allowed > 0 else above
            ex_below = min(ex_below, above)
            ex_above = max(above, model.beta * (1.0 + CEILING_SLACK))
        if bound_cost(data.X, model)["seconds"] < THRESHOLD_SECONDS:
            # cheap: the whole enumeration (the exact M gives the tightest reported bound, and
            # its argmax the most violated direction for the witness)
            ex_below, ex_above = -math.inf, math.inf
        try:
            lb = lower_bound(nu1, data, model, patterns="exact", shift=shift, progress=progress, jobs=jobs,
                             scheduler=scheduler, stop_below=ex_below, stop_above=ex_above, starts=starts,
                             time_limit=limit)
            lb.details["stop_below"], lb.details["stop_above"] = ex_below, ex_above
            return lb
        except TooLargeError:  # the engine refused after all (its own limits): bound instead
            pass
    if above == -math.inf:  # nothing certifies from nu1: a short bound, for the report
        return lower_bound(nu1, data, model, patterns="bounded", time_limit=short_seconds, stop_below=model.beta,
                           starts=starts, shift=shift, progress=progress, max_nodes=max_nodes,
                           more_starts=more_starts)
    below = certifying_bound(nu1, data.y, model, needed + STOP_MARGIN * allowed) if allowed > 0 else above
    below = min(below, above)
    lb = lower_bound(nu1, data, model, patterns="bounded", time_limit=seconds, stop_below=below,
                     stop_above=above, starts=starts, shift=shift, progress=progress, more_starts=more_starts)
    lb.details["stop_below"], lb.details["stop_above"] = below, above
    return lb


def verify(
    net: Network,
    data: Dataset,
    model: Model,
    tol: float = DEFAULT_TOL,
    progress=None,
    *,
    atol: float = 0.0,
    time_limit: float = DEFAULT_TIME_LIMIT,
    patterns: str = "auto",
    jobs: int | None = 1,
    scheduler: str | None = None,
) -> Certificate:
    """Certify that ``net`` is a global minimum of L, or find a strictly better network.

    Parameters
    ----------
    net : Network (U (d, m), alpha (m,), b, c); m = 0 is the zero function
    data : Dataset (X (n, d), y (n,))
    model : Model (beta, loss, hidden_bias, output_bias)
    tol, atol : float
        optimal iff gap_upper <= max(atol, tol |L|), gap_upper = L + its rounding bound - lower_bound.
    time_limit : float
        Seconds for the anytime bound, the refutation and the witness's bound together (the
        exact enumeration, where the cost model chooses it, runs to its end).
    patterns : "auto" (the cost model chooses), "exact" or "bounded" (forced; tests).

    Status (docs/cli.md): ``optimal`` as above; else ``suboptimal`` when a strictly better
    network was evaluated; else ``inconclusive``. The lower bound is finite and sound in every
    case where the objective is finite.
    jobs, scheduler
        Worker processes (None: all cores) or a dask.distributed scheduler address for the
        exact enumeration; the certificate does not depend on them (docs/scale.md).
    """
    check_options(tol, atol, time_limit)
    check_consistent(net, data, model)
    t0 = time.perf_counter()
    deadline = t0 + time_limit
    Xt = model.augment(data.X)
    L = objective(net, data, model)
    errL = objective_error_bound(net, data, model)
    allowed = max(float(atol), float(tol) * max(abs(L) - errL, 0.0)) if np.isfinite(L) else 0.0
    needed = L + errL - allowed
    mode, cost = choose_patterns(data.X, model, time_limit, patterns,
                                 jobs=resolve_jobs(jobs) if scheduler is None else 1)
    details: dict = {}
    status = Status.INCONCLUSIVE
    lb, gap = -math.inf, math.inf
    groups = group_neurons(net, Xt, model)
    details["neurons"] = {
        "given": net.n_neurons,
        "nonzero": int(sum(len(g) for g in groups.groups) + groups.constant.size),
        "after_merge": int(len(groups.groups) + groups.constant.size),
        "nearly_minimal": bool(groups.nearly_minimal),
        "minimal": bool(groups.minimal),
    }
    details["problem"] = {
        "n_samples": data.n_samples, "n_features": data.n_features, "beta": model.beta, "loss": model.loss,
        "hidden_bias": model.hidden_bias, "output_bias": model.output_bias,
    }
    details["cost_model"] = {"enumeration_seconds": cost["seconds"], "enumeration_refused": cost["reason"],
                             "chosen": mode}
    timings = details["timings"] = {}
    starts = live_directions(net, model)
    witness, bound = None, None
    search, search_rng = None, np.random.default_rng(0)

    def searched() -> np.ndarray | None:
        """The refutation's search, run when the bound's cheap stages have not settled (bounded
        mode): its directions join the bound's incumbent, which then stops before branching
        when one of them attains more than any value that certifies (a network it refutes);
        the refutation below reuses it (same generator, same result)."""
        nonlocal search
        t0 = time.perf_counter()
        try:
            search = network_search(net, data, model, rng=search_rng,
                                    time_budget=_budget(deadline, SEARCH_SHARE * REFUTE_SHARE * time_limit))
        except Exception as exc:  # noqa: BLE001 - without it the bound's incumbent has its own starts
            details["search_error"] = f"{type(exc).__name__}: {exc}"
        timings["search_s"] = time.perf_counter() - t0
        if search is None:
            return None
        details["refutation"] = search.summary()
        found = [search.directions[:, :SEARCH_STARTS]]
        if search.best_direction is not None:
            found.append(search.best_direction[:, None])
        return np.hstack(found)

    def record(b: LowerBound) -> None:
        nonlocal lb, gap
        lb, gap = b.lower_bound, L - b.lower_bound
        details["gap_upper_bound"] = L + errL - lb
        details["relative_gap_upper_bound"] = relative(L + errL - lb, L)

    if not np.isfinite(L):
        details["reason"] = "the objective of the given network is not finite"
    else:
        t1 = time.perf_counter()
        try:
            nu1, shift = dual_start(net, data, model)
            bound = bound_for(nu1, shift, data, model, mode=mode, needed=needed, allowed=allowed,
                              seconds=_budget(deadline, BOUND_SHARE * time_limit),
                              short_seconds=_budget(deadline, SHORT_SHARE * time_limit), starts=starts,
                              progress=progress, jobs=jobs, scheduler=scheduler, limit=time_limit,
                              more_starts=searched)
        except FloatingPointError as exc:
            details["reason"] = f"numerical failure while bounding: {exc}"
        timings["dual_bound_s"] = time.perf_counter() - t1
        details["objective_error_bound"] = errL
        if bound is not None:
            record(bound)
            details["dual"] = _dual_report(bound, model)
            details["arrangement"] = _arrangement_report(bound, net, Xt)
            if L + errL - lb <= allowed:
                status = Status.OPTIMAL
    if status is not Status.OPTIMAL and np.isfinite(L):
        t3 = time.perf_counter()
        errors: list = []
        hint = bound if bound is not None else DualBound(-math.inf, math.nan, 0.0, 1.0, -math.inf, 0.0, None, 1, 0,
                                                          0, 0, 0.0, {})
        bounded = bound is None or bound.patterns == "bounded"
        # bounded mode: the convex program comes from the refutation (with the violated patterns)
        w = find_witness(net, data, model, hint, L, errL, Xt, errors, program=not bounded)
        if w is None:  # the refutation (its convex program's time grows with the data)
            info: dict = {}
            try:
                r = refute(net, data, model, time_budget=_budget(deadline, REFUTE_SHARE * time_limit), info=info,
                           rng=search_rng if search is not None else 0, search=search)
            except Exception as exc:  # noqa: BLE001 - a failure here only means no witness from this route
                r = None
                errors.append(f"refutation: {type(exc).__name__}: {exc}")
            errors.extend(info.get("errors", []))
            if "refutation" in info:
                details["refutation"] = info["refutation"].summary()
            if r is not None and (w is None or r[2] < w[2]):
                w = r
        if errors:
            details["witness_errors"] = errors
        timings["witness_s"] = time.perf_counter() - t3
        if w is not None:
            kind, witness, _ = w
            details["witness_kind"] = kind
            if "solver" in witness.meta:  # the subsampled program's solver: a hint, re-evaluated
                details["witness_solver"] = witness.meta["solver"]
            status = Status.SUBOPTIMAL
            # the bound holds whatever network supplies the dual point: the witness's gradient
            # is often a much better one
            t4 = time.perf_counter()
            try:
                nu_w, shift_w = dual_start(witness, data, model)
                mode_w, report_only = mode, certifying_bound(nu_w, data.y, model, needed) == -math.inf
                if report_only and mode == "exact" and cost["seconds"] >= THRESHOLD_SECONDS:
                    # nothing certifies from the witness's gradient (the witness is better than
                    # the tolerance allows): the bound is for the report only, and an expensive
                    # enumeration is not spent on it; the short bounded bound instead
                    mode_w = "bounded"
                    details["witness_bound_mode"] = "bounded (the verdict cannot change)"
                wb = bound_for(nu_w, shift_w, data, model, mode=mode_w, needed=needed, allowed=allowed,
                               max_nodes=WITNESS_BOUND_NODES if report_only else None,
                               seconds=_budget(deadline, time_limit),
                               short_seconds=_budget(deadline, SHORT_SHARE * time_limit),
                               starts=live_directions(witness, model), jobs=jobs,
                               scheduler=scheduler)
            except FloatingPointError:
                wb = None
            timings["witness_bound_s"] = time.perf_counter() - t4
            if wb is not None and wb.lower_bound > lb:
                record(wb)
                details["lower_bound_from"] = "the witness network's gradient"
                details["witness_bound"] = {"method": wb.method, "M_upper": wb.M_upper, "M_lower": wb.M_lower,
                                            "nodes": wb.details.get("nodes")}
                if L + errL - lb <= allowed:
                    # within the tolerance after all (docs/cli.md: optimal is decided first)
                    status = Status.OPTIMAL
    if (status is not Status.OPTIMAL and np.isfinite(L) and bound is not None and bound.patterns == "exact"
            and data.n_samples * (net.n_neurons + 1) <= PROGRAM_ENTRIES):
        # the gradient at the network is the optimal dual point only at an exact optimum: solve the
        # program on the network's patterns (and the violated cells) to high accuracy and bound
        # again from its dual point (docs/method.md section 9); keep the best bound. Each round
        # runs the whole enumeration: only when the cost model says one fits in the time left
        t5 = time.perf_counter()
        left = deadline - time.perf_counter()
        if left > MIN_PHASE_SECONDS and cost["seconds"] > left:
            details["refine"] = {"stopped": f"not run: one exact bound takes about {cost['seconds']:.3g} s, "
                                            f"{max(left, 0.0):.3g} s left"}
        elif left > MIN_PHASE_SECONDS:
            nu_r, rinfo = refine_dual(net, data, model, time_budget=min(left, REFINE_SECONDS), first_bound=bound)
            rb = rinfo.get("bound")
            details["refine"] = {k: rinfo.get(k) for k in ("lam_lower_bound", "lower_bound", "rounds", "patterns",
                                                          "restricted_objective", "stopped", "seconds", "errors")}
            if rb is not None and rb.lower_bound > lb:
                record(rb)
                details["lower_bound_from"] = "a refined dual point (the program on the network's patterns)"
                if L + errL - lb <= allowed:
                    status = Status.OPTIMAL  # optimal is decided first (docs/cli.md)
        timings["refine_s"] = time.perf_counter() - t5
    if status is not Status.OPTIMAL and np.isfinite(L) and mode == "exact":
        details["own_patterns"] = own_patterns_report(net, data, model, L, lb, tol, atol)
    try:
        kkt = block_kkt(net, data, model) if np.isfinite(L) else []
    except Exception as exc:  # diagnostics only: never changes the verdict
        kkt, details["kkt_error"] = [], f"{type(exc).__name__}: {exc}"
    zero_viol = None if bound is None or not np.isfinite(bound.M_raw) else bound.M_raw - model.beta
    details["kkt"] = {
        "worst": kkt[:5],
        "nonzero_blocks": len(kkt),
        "zero_blocks_max_violation": zero_viol,
        "note": ("zero blocks: max over all cells of |nu^T (Xt u)_+| - beta at the network's gradient"
                 if mode == "exact" and bound is not None and bound.complete else
                 "zero blocks: largest |nu^T (Xt u)_+| - beta attained by the bound's search (a lower bound)"),
    }
    details["tolerances"] = {
        "relative_gap": tol,
        "absolute_gap": atol,
        "zero_pre_activation": ZERO_TOL,
        "colinear": COLINEAR_TOL,
        "kkt_active": ACTIVE_TOL,
        **(bound.tolerances if bound is not None else {}),
    }
    details["versions"] = versions()
    details["inputs_sha256"] = {
        "X": array_sha256(data.X), "y": array_sha256(data.y), "U": array_sha256(net.U),
        "alpha": array_sha256(net.alpha),
    }
    seconds = time.perf_counter() - t0
    timings["total_s"] = seconds
    beta = model.beta
    return Certificate(
        status=status,
        objective=float(L),
        lower_bound=float(lb),
        gap=float(gap),
        relative_gap=float(relative(gap, L)),
        tolerance=float(tol),
        patterns=bound.patterns if bound is not None else mode,
        details=details,
        witness=witness,
        witness_objective=None if witness is None else float(objective(witness, data, model)),
        atol=float(atol),
        bound_method=bound.method if bound is not None else ("enumeration" if mode == "exact" else "none"),
        dual_ratio_upper=None if bound is None else bound.M_upper / beta,
        dual_ratio_lower=None if bound is None else bound.M_lower / beta,
        time_limit=float(time_limit),
        seconds=seconds,
    )



def own_patterns_report(net: Network, data: Dataset, model: Model, L: float, lb: float, tol: float,
                        atol: float) -> dict:
    """The subsampled program of paper Thm. 3 (docs/method.md section 6): the convex program
    over the network's own activation patterns, against the network and the global lower bound.

    A gradient-trained network is typically stationary: its objective equals this program's
    optimum ("optimal over its own patterns") while the global bound is lower ("not globally").
    Diagnostics only: never changes the verdict; a solver failure is reported, not raised.
    """
    t0 = time.perf_counter()
    if data.n_samples * (net.n_neurons + 1) > PROGRAM_ENTRIES:
        return {"skipped": f"n (m + 1) = {data.n_samples * (net.n_neurons + 1)} entries exceed {PROGRAM_ENTRIES}: "
                           "the program would cost far more than the certificate"}
    try:
        own = improve_on_patterns(merged(scaled(net, model), model.augment(data.X), model), data, model)
    except Exception as exc:  # noqa: BLE001 - diagnostics only
        return {"error": f"{type(exc).__name__}: {exc}"}
    if own is None:
        return {"error": "the network has no active pattern"}
    P_own = float(objective(own, data, model))
    close = lambda a, b: a - b <= max(atol, tol * abs(a))  # noqa: E731 - the verdict's own rule
    if close(L, P_own) and not close(P_own, lb):
        finding = "optimal over its own patterns, not globally"
    elif close(L, P_own):
        finding = "optimal over its own patterns"
    else:
        finding = "not optimal even over its own patterns"
    return {
        "patterns": int(network_patterns(model.augment(data.X), net.Ut()).shape[0]),
        "objective": P_own,
        "network_minus_program": L - P_own,
        "program_minus_lower_bound": P_own - lb,
        "finding": finding,
        "seconds": time.perf_counter() - t0,
    }

def _dual_report(bound: LowerBound, model: Model) -> dict:
    return {
        "M": bound.M_raw,
        "M_error_bound": bound.M_error,
        "M_upper": bound.M_upper,
        "M_lower": bound.M_lower,
        "ratio_upper": bound.M_upper / model.beta,
        "ratio_lower": bound.M_lower / model.beta,
        "beta": model.beta,
        "dual_constraint_violation": bound.M_raw - model.beta,
        "scale": bound.scale,
        "dual_objective": bound.dual_objective,
        "rounding_allowance": bound.rounding,
        "zero_sum_shift": bound.zero_sum_shift,
        "seconds": bound.seconds,
    }


def _arrangement_report(bound: LowerBound, net: Network, Xt: np.ndarray) -> dict:
    if bound.patterns == "exact":
        return {
            "method": "exact enumeration (recursive hyperplane restriction + 2-D sweep)",
            "complete": bound.complete,
            "rank": bound.rank,
            "cells_visited": bound.cells_visited,
            "interior_candidates_checked": bound.candidates_checked,
            "network_patterns": int(network_patterns(Xt, net.Ut()).shape[0]),
            "tolerances": bound.tolerances,
            **bound.details,
        }
    return {
        "method": f"bounded without enumeration ({bound.method})",
        "complete": bound.complete,
        "network_patterns": int(network_patterns(Xt, net.Ut()).shape[0]),
        **bound.details,
    }
