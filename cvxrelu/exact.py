"""``verify --exact``: the global optimum P* itself, beside the network's own bound (docs/method.md section 11).

verify certifies a lower bound on P* from the given network's gradient; when the network is not
optimal that bound can sit far below P*, and the reported gap overstates how far the network
is from the optimum. Where the arrangement is enumerable, :func:`exact_optimum` computes P* by
column generation (cvxrelu.colgen, exact pricing of every cell, as ``solve`` does) and brackets
it:

* ``optimum_upper`` = P_hi, the objective of an evaluated network (the optimum found), so
  P* <= P_hi;
* ``optimum_lower`` = P_lo, the certified dual bound of column generation (any dual point with
  the exact enumeration's M and its rounding allowance, cvxrelu.lower_bound), so P* >= P_lo.

The true gap L - P* of the given network then lies in [L - P_hi, L - P_lo]. When one exact
pricing does not fit in the time limit (the cost model of verify, lower_bound.choose_patterns)
the status is ``skipped`` with the reason; when column generation runs out of time or fails the
bracket it reached is reported (status ``time_limit`` / ``failed``). None of these is a verdict:
:func:`merge_into` only lets P_lo replace verify's lower bound when it is larger (it is a
certified bound), and lets the optimum serve as the witness of ``suboptimal`` when its objective
is below L by more than both rounding bounds (cvxrelu.witness's rule).
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field

import numpy as np

from .certificate import Certificate, Status, relative
from .colgen import column_generation
from .lower_bound import choose_patterns, dual_bound
from .model import Dataset, Model, Network, objective, objective_error_bound, predict
from .program import network_from_blocks, solve_program
from .records import finite
from .reductions import caratheodory_reduce, constant_to_c, merge_cones, prune_tiny_neurons, snap_kinks_1d

#: Column generation stops at this relative width of its bracket, (P_hi - P_lo) / max(1, |P_hi|)
#: (the tolerance ``solve`` uses in exact mode).
EXACT_COLGEN_TOL = 1e-9
#: At most this many column generation rounds (each: one restricted program, one exact pricing).
EXACT_MAX_ROUNDS = 200
#: Blocks with N(w) <= EXACT_BLOCK_TOL * max N are read as zero when forming a network (eq. 9).
EXACT_BLOCK_TOL = 1e-9
#: Name of the witness kind when the optimum found here proves the network suboptimal.
WITNESS_KIND = "global optimum (column generation, verify --exact)"
#: Statuses of :class:`ExactResult` (docs/cli.md, ``exact.status``).
STATUSES = ("complete", "time_limit", "failed", "skipped")


class _OutOfTime(Exception):
    """Raised inside the restricted-program callback when the time limit has passed."""


@dataclass
class ExactResult:
    """P* bracketed by column generation, and the given network's true gap (docs/cli.md, ``exact``).

    status : "complete" (column generation ended: its tolerance met or nothing left to add),
        "time_limit" (stopped between rounds; the bracket reached), "failed" (an exception; the
        bracket reached, if any), "skipped" (one exact pricing does not fit; ``reason``).
    objective : L of the given network.
    optimum_upper, optimum_lower : P_hi (objective of ``network``) and P_lo (certified), or None.
    """

    status: str
    objective: float
    optimum_upper: float | None = None
    optimum_lower: float | None = None
    network: Network | None = None
    rounds: int = 0
    patterns: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    reason: str | None = None
    estimated_pricing_seconds: float | None = None
    history: list = field(default_factory=list)

    @property
    def gap_lower(self) -> float | None:
        """L - P_hi: the true gap L - P* is at least this."""
        return None if self.optimum_upper is None else self.objective - self.optimum_upper

    @property
    def gap_upper(self) -> float | None:
        """L - P_lo: the true gap L - P* is at most this."""
        return None if self.optimum_lower is None else self.objective - self.optimum_lower

    def relative_to_optimum(self) -> tuple[float | None, float | None]:
        """The bracket of (L - P*) / |P*| over P* in [P_lo, P_hi] (None where unbounded)."""
        lo_gap, hi_gap, P_hi, P_lo = self.gap_lower, self.gap_upper, self.optimum_upper, self.optimum_lower
        if lo_gap is None or hi_gap is None:
            return None, None
        # losses and penalty are >= 0, so P* >= max(P_lo, 0); the ratio (L - P) / P falls with P
        low = max(lo_gap, 0.0) / abs(P_hi) if P_hi > 0 else None
        floor = max(P_lo, 0.0)
        high = hi_gap / floor if floor > 0 else None
        return low, high

    def to_dict(self) -> dict:
        rel_lo, rel_hi = self.relative_to_optimum()
        net = self.network
        return {
            "status": self.status,
            "reason": self.reason,
            "optimum_upper": finite(self.optimum_upper),
            "optimum_lower": finite(self.optimum_lower),
            "gap_lower": finite(self.gap_lower),
            "gap_upper": finite(self.gap_upper),
            "relative_gap_lower": None if self.gap_lower is None else finite(relative(self.gap_lower, self.objective)),
            "relative_gap_upper": None if self.gap_upper is None else finite(relative(self.gap_upper, self.objective)),
            "relative_to_optimum_lower": finite(rel_lo),
            "relative_to_optimum_upper": finite(rel_hi),
            "rounds": self.rounds,
            "patterns": self.patterns,
            "neurons": None if net is None else int(np.count_nonzero((np.linalg.norm(net.Ut(), axis=0) > 0)
                                                                      & (net.alpha != 0))),
            "seconds": self.seconds,
            "cpu_seconds": self.cpu_seconds,
            "estimated_pricing_seconds": finite(self.estimated_pricing_seconds),
            "output": None,
        }


def _reduced(net: Network, data: Dataset, model: Model) -> Network:
    """solve's post-processing (cvxrelu.reductions): fewer neurons, the same function up to
    reductions.OBJECTIVE_SLACK_REL of L."""
    net = caratheodory_reduce(net, data.X, model)
    net = prune_tiny_neurons(net, data, model)
    net = merge_cones(net, data, model)
    net = snap_kinks_1d(net, data.X, model)
    return constant_to_c(net, data, model)


def exact_optimum(net: Network, data: Dataset, model: Model, *, time_limit: float, solver: str = "auto",
                  seed: int = 0, progress=None, patterns: str = "auto") -> ExactResult:
    """P* bracketed by exact column generation, and the network's true gap (module docstring).

    Parameters
    ----------
    net : the given network (its objective L is the left end of every gap).
    time_limit : seconds: column generation starts no restricted program after it (the round
        under way finishes); the cost model skips the computation when one exact pricing is
        estimated above it.
    solver : the restricted programs' solver (program.solve_program).
    patterns : "auto" (the cost model decides) or "exact" (forced; tests).

    Never raises for a solver failure: the result then has status "failed" and what was reached.
    """
    t0, c0 = time.perf_counter(), time.process_time()
    L = float(objective(net, data, model))
    mode, cost = choose_patterns(data.X, model, time_limit, "exact" if patterns == "exact" else "auto")
    est = cost.get("seconds")

    def done(status, **kw):
        return ExactResult(status, L, seconds=time.perf_counter() - t0, cpu_seconds=time.process_time() - c0,
                           estimated_pricing_seconds=est, **kw)

    if mode != "exact":
        why = cost["reason"] or (f"one exact pricing of every cell is estimated at {est:.2g} s, more than the "
                                 f"time limit of {time_limit:g} s")
        return done("skipped", reason=why)
    Xt = model.augment(data.X)
    deadline = t0 + time_limit
    seen: list[Network] = []

    def on_patterns(P, hints=None):
        if seen and time.perf_counter() > deadline:
            raise _OutOfTime
        keep = np.flatnonzero(P.any(axis=1))
        if keep.size == 0:
            keep = np.arange(min(P.shape[0], 1))
        sol = solve_program(Xt, data.y, P[keep], model, solver=solver, progress=progress,
                            hints=None if hints is None else np.asarray(hints)[keep])
        out = network_from_blocks(sol.W, sol.V, sol.c, model, EXACT_BLOCK_TOL)
        seen.append(out)
        return out

    status, reason, history, rounds, n_pat = "complete", None, [], 0, 0
    best, P_hi, P_lo = None, math.inf, -math.inf
    try:
        cg = column_generation(data, model, on_patterns, tol=EXACT_COLGEN_TOL, max_rounds=EXACT_MAX_ROUNDS,
                               seed=seed, progress=progress, pass_hints=True)
        best, P_hi, P_lo = cg.network, cg.objective, cg.lower_bound
        history, rounds, n_pat = cg.history, cg.rounds, int(cg.patterns.shape[0])
    except _OutOfTime:
        status, reason = "time_limit", f"column generation stopped after {time_limit:g} s (the time limit)"
    except (KeyboardInterrupt, MemoryError):
        raise
    except Exception as exc:  # noqa: BLE001 - a failure is reported with what was reached, never a verdict
        msg = str(exc).splitlines()[0] if str(exc) else ""
        status, reason = "failed", f"{type(exc).__name__}: {msg}"
    if status != "complete":
        rounds = len(seen)
        best, P_hi, P_lo = _reached(seen, data, model)
    if best is None or not math.isfinite(P_hi):
        return done("failed" if status == "complete" else status, reason=reason or "no network was reached",
                    rounds=rounds, history=history, optimum_lower=finite(P_lo))
    try:
        red = _reduced(best, data, model)
        L_red = float(objective(red, data, model))
        if math.isfinite(L_red) and L_red <= P_hi and np.all(np.isfinite(predict(red, data.X))):
            best, P_hi = red, L_red
    except (KeyboardInterrupt, MemoryError):
        raise
    except Exception:  # noqa: BLE001 - the unreduced optimum stands
        pass
    if not math.isfinite(P_lo):
        P_lo = None
    elif P_lo > P_hi:  # both ends are sound, so they cannot cross: a bug, reported and never used
        status, reason = "failed", f"inconsistent bracket: lower bound {P_lo!r} above the optimum found {P_hi!r}"
        P_lo = None
    elif status == "complete" and (P_hi - P_lo) / max(1.0, abs(P_hi)) > EXACT_COLGEN_TOL:
        reason = (f"the bracket stays open by {(P_hi - P_lo) / max(1.0, abs(P_hi)):.1e} relative (more than "
                  f"{EXACT_COLGEN_TOL:g}): the restricted solver's accuracy or the round limit")
    return done(status, reason=reason, optimum_upper=float(P_hi), optimum_lower=None if P_lo is None else float(P_lo),
                network=best, rounds=rounds, patterns=n_pat, history=history)


def _reached(seen: list[Network], data: Dataset, model: Model) -> tuple[Network | None, float, float]:
    """(best network, its objective, the best certified bound) of the rounds that finished:
    the bound from the last and the best network's gradients (one exact pricing each)."""
    vals = [float(objective(n, data, model)) for n in seen]
    ok = [i for i, v in enumerate(vals) if math.isfinite(v)]
    if not ok:
        return None, math.inf, -math.inf
    i_best = min(ok, key=lambda i: vals[i])
    lb = -math.inf
    for i in {i_best, ok[-1]}:
        try:
            lb = max(lb, float(dual_bound(seen[i], data, model).lower_bound))
        except (KeyboardInterrupt, MemoryError):
            raise
        except Exception:  # noqa: BLE001 - no bound from this point; the bracket stays open below
            pass
    return seen[i_best], vals[i_best], lb


def merge_into(cert: Certificate, ex: ExactResult, net: Network, data: Dataset, model: Model) -> Certificate:
    """verify's certificate with what :func:`exact_optimum` proved (docs/cli.md, ``lower_bound_from``).

    * P_lo is a certified lower bound on P*: when larger than the certificate's, it becomes the
      lower bound (``lower_bound_from: "exact"``) and the status is decided again by verify's
      rule (optimal iff L + its rounding bound - lower bound <= max(atol, tol |L|)).
    * The optimum network is a witness when its objective is below L by more than both rounding
      bounds (cvxrelu.witness): a non-optimal verdict becomes ``suboptimal`` with it (it replaces
      a witness of higher objective).
    """
    if cert.status is Status.OPTIMAL or not np.isfinite(cert.objective):
        return cert
    L = cert.objective
    errL = objective_error_bound(net, data, model)
    allowed = max(float(cert.atol), float(cert.tolerance) * max(abs(L) - errL, 0.0))
    details = dict(cert.details)
    changes: dict = {}
    lb = cert.lower_bound
    if ex.optimum_lower is not None and math.isfinite(ex.optimum_lower) and ex.optimum_lower > lb:
        lb = float(ex.optimum_lower)
        gap = L - lb
        changes.update(lower_bound=lb, gap=gap, relative_gap=float(relative(gap, L)))
        details["lower_bound_from"] = "exact"
        details["gap_upper_bound"] = L + errL - lb
        details["relative_gap_upper_bound"] = relative(L + errL - lb, L)
        if L + errL - lb <= allowed:
            changes["status"] = Status.OPTIMAL
            return dataclasses.replace(cert, details=details, **changes)
    opt = ex.network
    if opt is not None:
        val = float(objective(opt, data, model))
        better = math.isfinite(val) and val + objective_error_bound(opt, data, model) < L - errL
        if better and (cert.witness is None or val < float(cert.witness_objective)):
            details["witness_kind"] = WITNESS_KIND
            details.pop("witness_solver", None)
            changes.update(status=Status.SUBOPTIMAL, witness=opt, witness_objective=val)
    return dataclasses.replace(cert, details=details, **changes) if changes or details != cert.details else cert

