"""A certified lower bound on the global minimum P*, at any data size (docs/method.md section 5).

Weak duality: P* >= D(nu) = -loss*(nu) [- (1^T nu)^2 / (2 beta)] for every nu in the domain of
the conjugate (1^T nu = 0 exactly when the output constant is free) with

    M(nu) = max_{N(u) <= 1} |nu^T (Xt u)_+| <= beta        (the dual constraint).

From a dual point nu1 (the loss gradient at the network, dual.dual_point, made exactly
zero-sum where needed) and a SOUND upper bound Mbar >= M(nu1), every s nu1 with
0 <= s <= beta / Mbar is feasible (M is positively homogeneous), so max_s D(s nu1) over that
interval is a lower bound on P*. Two sources of Mbar, chosen by cost (``bound_constraint``):

* ``patterns = "exact"``: the exact enumeration of the arrangement (arrangements.analyze; with
  a free hidden bias one arrangement per kink, see ``enumerated_constraint``): M and its
  a-priori error bound, Mbar = M + M_error. Used where its estimated time (``bound_cost``)
  fits in the time limit.
* ``patterns = "bounded"``: bounds.bound_dual_constraint (norm bounds, spike-free data, a
  relaxation, branch and bound), whose ``upper`` already contains every rounding error. It is
  anytime: it stops when its upper bound drops below ``stop_below`` (the tolerance is then met),
  when the value it has attained exceeds ``stop_above`` (the tolerance cannot be met from this
  dual point), or at its time limit, and whatever it returns is sound.

Floating point (``scaled_lower_bound``): the scaled point fl(s nu1) differs from s nu1 by at
most EPS |s nu1| per entry, and the exact zero-sum correction moves it further; both moves
are charged to the constraint through a Lipschitz radius R (|M(nu) - M(nu')| <= |nu - nu'|^T R,
R_k = ||xt_k||, or 2 max_k ||x_k|| with a free hidden bias), and the check
(s Mbar + |Delta|^T R)(1 + 64 EPS) <= beta is made before the point is used. D is then
evaluated with its rounding allowance subtracted (dual.dual_objective).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from .arrangements import ADVICE, MAX_CELLS, MAX_SECONDS, analyze, estimate_work, rank_and_rows, refusal_for_size
from .dual import DualBound, dual_objective, exact_zero_sum, project_domain_zero_sum
from .errors import InputError, TooLargeError
from .losses import EPS
from .model import Dataset, Model, Network, predict
from .parallel import resolve_jobs

#: Default time limit (seconds) of the dual-constraint bound in ``verify`` (``--time-limit``).
DEFAULT_TIME_LIMIT = 60.0
#: Ways of bounding the dual constraint: the cost model decides, or one is forced (tests).
PATTERN_MODES = ("auto", "exact", "bounded")
#: Golden-section steps when maximizing the concave s -> D(s nu1) over [0, s_max].
SCALE_SEARCH_STEPS = 80
#: Bisection steps for the smallest scale that still meets the tolerance (``certifying_bound``).
THRESHOLD_STEPS = 80
#: ``stop_below`` asks for a gap of (1 - STOP_MARGIN) times the allowed one, so that the rounding
#: of the final scaling never loses a certificate the branch and bound has just closed.
STOP_MARGIN = 1e-3


@dataclass
class LowerBound(DualBound):
    """A certified lower bound, how the dual constraint was bounded, and its ratio to beta.

    Fields of DualBound (lower_bound, M_raw = the value M attains at ``argmax`` (enumeration:
    the computed M), M_error, scale, dual_objective, rounding, argmax, argmax_sign, rank,
    cells_visited, candidates_checked, zero_sum_shift, tolerances) plus:

    patterns : "exact" (every cell enumerated) or "bounded" (bounded without enumeration)
    method : "enumeration", "spike-free", "branch-and-bound", "relaxation" or "norm"
    M_upper : sound upper bound on M(nu1); M_lower : a value M(nu1) attains (ratio M / beta
        lies in [M_lower / beta, M_upper / beta])
    complete : whether M(nu1) is known (to the method's tolerance) or the bound stopped at a target
    seconds : time spent bounding; details : the method's own report
    """

    patterns: str = "exact"
    method: str = "enumeration"
    M_upper: float = math.inf
    M_lower: float = 0.0
    complete: bool = True
    seconds: float = 0.0
    details: dict = field(default_factory=dict)


# ----------------------------------------------------------------------------- cost model


def bound_cost(X: np.ndarray, model: Model, jobs: int = 1, max_seconds: float | None = None) -> dict:
    """Estimated cost of one exact dual bound on data X, and whether enumeration is refused.

    Returns {"seconds", "refusal", "reason"}: the arrangement engine's time estimate
    (arrangements.estimate_work); with a free hidden bias the bound explores n arrangements of
    the n - 1 differences x_l - x_k (one per kink, see ``enumerated_constraint``), n times the
    work of one. ``refusal`` is the one-line message when that exceeds the engine's limits
    (``max_seconds`` for the time; else None), ``reason`` the same without the advice.
    """
    max_seconds = MAX_SECONDS if max_seconds is None else max_seconds
    n = X.shape[0]
    free = model.hidden_bias == "free"
    A = X - X[0][None, :] if free else model.augment(X)
    r, _, _, rows, _ = rank_and_rows(A)
    seconds = estimate_work(int(rows.size), r, jobs=jobs)["seconds"] * (n if free else 1)
    msg = refusal_for_size(int(rows.size), r, n, nu=True, patterns=False, max_cells=MAX_CELLS, jobs=jobs,
                           max_seconds=max_seconds)
    if msg is None and seconds > max_seconds:
        msg = (f"the exact bound with a free hidden bias explores {n} arrangements (one per sample) "
               f"of rank {r}, estimated {seconds:.2g} s in all, more than the limit of "
               f"{max_seconds:.0f} s" + ADVICE)
    return {"seconds": seconds, "refusal": msg, "reason": None if msg is None else msg.removesuffix(ADVICE)}


def choose_patterns(X: np.ndarray, model: Model, time_limit: float, patterns: str = "auto",
                    jobs: int = 1) -> tuple[str, dict]:
    """("exact" | "bounded", cost): enumeration where the cost model says it fits in the time limit."""
    if patterns not in PATTERN_MODES:
        raise InputError(f"patterns must be one of {', '.join(PATTERN_MODES)}, got {patterns!r}")
    # the engine's own time limit never refuses what the caller's time limit allows
    cost = bound_cost(X, model, jobs=jobs, max_seconds=max(MAX_SECONDS, time_limit))
    if patterns != "auto":
        return patterns, cost
    fits = cost["refusal"] is None and cost["seconds"] <= time_limit
    return ("exact" if fits else "bounded"), cost


# ----------------------------------------------------------------------------- the dual point


def lipschitz_radius(X: np.ndarray, model: Model) -> np.ndarray:
    """R (n,) with |M(nu) - M(nu')| <= |nu - nu'|^T R (zero-sum differences with a free hidden bias).

    Without a free hidden bias, |(xt_k^T u)_+| <= ||xt_k|| on the unit ball. With one, the
    maximizing bias can be taken in [-r, r], r = max_k ||x_k|| (beyond it every sample is active
    or none is), so |(x_k^T u + b)_+| <= 2 r.
    """
    if model.hidden_bias == "free":
        return 2.0 * float(np.max(np.linalg.norm(X, axis=1), initial=0.0)) * np.ones(X.shape[0])
    return np.linalg.norm(model.augment(X), axis=1)


def dual_start(net: Network, data: Dataset, model: Model) -> tuple[np.ndarray, float]:
    """(nu1, shift): the loss gradient at the network, in the conjugate's domain, exactly zero-sum
    when the output constant is free (``shift``: how far the zero-sum projection moved it)."""
    return project_dual(model.loss_fn.gradient(predict(net, data.X), data.y), data.y, model)


def project_dual(lam: np.ndarray, y: np.ndarray, model: Model) -> tuple[np.ndarray, float]:
    """(nu1, shift): any candidate dual point lam (n,) clipped to the conjugate's domain and, when
    the output constant is free, projected onto 1^T nu = 0 exactly (docs/method.md section 5)."""
    lam = np.asarray(lam, dtype=np.float64)
    if lam.shape != y.shape:
        raise ValueError(f"the dual point has shape {lam.shape}, the labels {y.shape}")
    lo, hi = model.loss_fn.dual_box(y)
    nu1 = np.clip(lam, lo, hi)
    shift = 0.0
    if model.effective_output_bias == "free":
        nu1 = project_domain_zero_sum(lam, lo, hi)
        shift = float(np.max(np.abs(nu1 - lam))) if lam.size else 0.0
        z = exact_zero_sum(nu1, lo, hi)
        nu1 = z if z is not None else np.zeros_like(lam)
    if not np.all(np.isfinite(nu1)):
        raise FloatingPointError("non-finite dual point")
    return nu1, shift


# ----------------------------------------------------------------------------- scaling


def _feasible_point(nu1, s, M_upper, R, lo, hi, zero_sum, beta):
    """(s', nu3) with s' <= s and nu3 = fl-exact point proven to satisfy M(nu3) <= beta."""
    if M_upper <= 0.0:
        M_upper = 0.0
    for _ in range(60):
        nu2 = s * nu1
        nu3 = nu2
        if zero_sum:
            z = exact_zero_sum(nu2, lo, hi)
            nu3 = z if z is not None else np.zeros_like(nu2)
        # nu3 = s nu1 + Delta with |Delta| <= |nu3 - nu2| + EPS |nu2| (exact reals)
        delta = np.abs(nu3 - nu2) + EPS * np.abs(nu2)
        bound = (s * M_upper + float(delta @ R)) * (1 + 64 * EPS) + 1e-300
        if bound <= beta:
            return s, nu3
        s *= 1 - 2.0**-30 if bound < beta * (1 + 1e-9) else beta / bound
    return 0.0, np.zeros_like(nu1)  # pragma: no cover - cannot happen for finite inputs


def scaled_lower_bound(nu1: np.ndarray, M_upper: float, R: np.ndarray, y: np.ndarray, model: Model):
    """(lower_bound, s, D, rounding): the best certified D(s nu1) over 0 <= s <= min(1, beta / M_upper).

    s -> D(s nu1) is concave, so its maximum over the interval is at the right end or at an
    interior peak (golden section); each candidate is made feasible by ``_feasible_point`` and
    evaluated with its rounding allowance, and the larger certified value is kept.
    """
    beta = model.beta
    lo, hi = model.loss_fn.dual_box(y)
    zero_sum = model.effective_output_bias == "free"
    s_max = 1.0 if M_upper <= beta else beta / M_upper * (1 - 8 * EPS)

    def certified(s):
        s2, nu3 = _feasible_point(nu1, s, M_upper, R, lo, hi, zero_sum, beta)
        D, rounding = dual_objective(nu3, y, model)
        return D - rounding, s2, D, rounding

    best = certified(s_max)

    def approx(s):
        v = dual_objective(s * nu1, y, model)[0]
        return v if np.isfinite(v) else -math.inf

    s_peak = _peak(approx, 0.0, s_max)
    if s_peak < s_max:  # an interior peak
        cand = certified(s_peak)
        if cand[0] > best[0]:
            best = cand
    if not np.isfinite(best[0]):
        raise FloatingPointError("non-finite lower bound")
    return best


def _peak(f, a: float, b: float) -> float:
    """argmax of a concave f over [a, b] by golden section (b when the end is at least as good)."""
    g = (math.sqrt(5) - 1) / 2
    c1, c2 = b - g * (b - a), a + g * (b - a)
    f1, f2 = f(c1), f(c2)
    end, fend = b, f(b)
    for _ in range(SCALE_SEARCH_STEPS):
        if f1 >= f2:
            b, c2, f2 = c2, c1, f1
            c1 = b - g * (b - a)
            f1 = f(c1)
        else:
            a, c1, f1 = c1, c2, f2
            c2 = a + g * (b - a)
            f2 = f(c2)
    mid = 0.5 * (a + b)
    return mid if f(mid) > fend else end


def certifying_bound(nu1: np.ndarray, y: np.ndarray, model: Model, needed: float) -> float:
    """The largest Mbar >= M(nu1) from which the lower bound still reaches ``needed``.

    With g(s) = D(s nu1) - its rounding allowance, concave, and s* its maximizer on [0, 1], the
    bound from Mbar is g(min(s*, beta / Mbar)), so the answer is beta / s_lo with s_lo the
    smallest s in [0, s*] where g reaches ``needed`` (bisection). -inf when g(s*) < needed (no
    bound on M(nu1) certifies from this point), +inf when g(0) >= needed. It steers when the
    anytime bound stops; the certificate itself is ``scaled_lower_bound``'s.
    """
    def g(s):
        D, rounding = dual_objective(s * nu1, y, model)
        v = D - rounding
        return v if np.isfinite(v) else -math.inf

    s_star = _peak(g, 0.0, 1.0)
    if g(s_star) < needed:
        return -math.inf
    if g(0.0) >= needed:
        return math.inf
    lo, hi = 0.0, s_star  # g(lo) < needed <= g(hi)
    for _ in range(THRESHOLD_STEPS):
        mid = 0.5 * (lo + hi)
        if g(mid) >= needed:
            hi = mid
        else:
            lo = mid
    return model.beta / hi


# ----------------------------------------------------------------------------- the dual constraint


def norm_upper_bound(nu: np.ndarray, R: np.ndarray, dims: int) -> float:
    """A sound upper bound on M(nu): max(sum_{nu_k > 0} nu_k R_k, sum_{nu_k < 0} -nu_k R_k).

    On the feasible set each term |nu_k (xt_k^T u + b)_+| is at most |nu_k| R_k
    (``lipschitz_radius``; its norms over ``dims`` coordinates have relative error at most
    (dims + 2) EPS), and f sums the positive terms and the negative ones separately (an n-term
    sum: relative error at most (n + 2) EPS). The factor 1 + 4 (n + dims + 4) EPS covers both.
    """
    pos = float(np.maximum(nu, 0.0) @ R)
    neg = float(np.maximum(-nu, 0.0) @ R)
    return max(pos, neg) * (1.0 + 4.0 * (nu.size + dims + 4) * EPS) + 1e-300


def enumerated_constraint(Xt: np.ndarray, X: np.ndarray, nu: np.ndarray, model: Model, progress=None,
                          jobs: int | None = 1, scheduler: str | None = None, *,
                          stop_below: float = -math.inf, stop_above: float = math.inf,
                          max_seconds: float | None = None):
    """M(nu) by exact enumeration: (M, M_error, argmax (augmented coordinates), sign, last result).

    Penalized or absent hidden bias: M = max_{||ut|| <= 1} |nu^T (Xt ut)_+| over all cells.
    Free hidden bias (1^T nu = 0): for fixed u, b -> f(u, b) is piecewise linear with kinks
    at b = -x_k^T u and limit nu^T X u as b -> +inf, so
    M = max(||X^T nu||, max_k max_{||u|| <= 1} |sum_l nu_l ((x_l - x_k)^T u)_+|).

    ``max_seconds``: the engine's refusal limit (estimated time of the whole bound).
    ``stop_below``, ``stop_above``: the thresholds of arrangements.analyze. The last result's
    ``floor`` is then the largest floor used and ``stopped`` whether a value above
    ``stop_above`` was attained (the loop over kinks stops there): M(nu) <= max(M, floor) +
    M_error when not stopped, M(nu) >= M - M_error always.
    """
    if model.hidden_bias != "free":
        res = analyze(Xt, nu, progress=progress, jobs=jobs, scheduler=scheduler, stop_below=stop_below,
                      stop_above=stop_above, max_seconds=max_seconds)
        return res.M, res.M_error, res.argmax, res.argmax_sign, res
    n, d = X.shape
    why = bound_cost(X, model, jobs=resolve_jobs(jobs) if scheduler is None else 1,
                     max_seconds=max_seconds)["refusal"]
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
    floor, stopped = 0.0, gn > stop_above
    task = progress.task("Exploring activation patterns", total=n) if progress else None
    for k in range(0 if stopped else n):
        res = analyze(X - X[k][None, :], nu, jobs=jobs, scheduler=scheduler, stop_below=stop_below,
                      stop_above=stop_above, max_seconds=math.inf)  # the whole loop was checked above
        last = res
        visited += res.cells_visited
        checked += res.candidates_checked
        err = max(err, res.M_error)
        floor = max(floor, res.floor)
        if res.M > best and res.argmax is not None:
            best, best_sign = res.M, res.argmax_sign
            u = res.argmax
            best_at = np.append(u, -float(X[k] @ u))
        if task:
            task(1)
        if res.stopped:
            stopped = True
            break
    if task and hasattr(task, "close"):
        task.close()
    if last is not None:
        last.cells_visited, last.candidates_checked = visited, checked
        last.floor, last.stopped = floor, stopped
    return best, err, best_at, best_sign, last


def lower_bound(
    nu1: np.ndarray,
    data: Dataset,
    model: Model,
    *,
    patterns: str = "exact",
    time_limit: float = DEFAULT_TIME_LIMIT,
    stop_below: float = -math.inf,
    stop_above: float = math.inf,
    starts: np.ndarray | None = None,
    shift: float = 0.0,
    progress=None,
    jobs: int | None = 1,
    scheduler: str | None = None,
    max_nodes: int | None = None,
    more_starts=None,
) -> LowerBound:
    """Certified lower bound on P* from the dual point nu1 (see the module docstring).

    Parameters
    ----------
    nu1 : (n,) dual point in the conjugate's domain, exactly zero-sum when the output constant
        is free (``dual_start``).
    patterns : "exact" (enumeration; TooLargeError if the engine refuses) or "bounded".
    time_limit, stop_below, stop_above, starts : passed to bounds.bound_dual_constraint in
        bounded mode (``starts``: (dt, S) directions seeding its incumbent, e.g. the neurons).
        In exact mode the enumeration is refused (TooLargeError) only when estimated above
        max(MAX_SECONDS, time_limit).
        In exact mode ``stop_below`` and ``stop_above`` are the enumeration's thresholds
        (arrangements.analyze): below, M_upper = max(M, floor) + M_error is reported (the floor
        skips what cannot matter; ``complete`` False when M is not above it); above, the
        enumeration stops at the first value above ``stop_above`` and M_upper is the norm bound
        (``norm_upper_bound``; ``complete`` False).
    shift : how far the zero-sum projection moved the gradient (reported only).
    jobs, scheduler : where the exact enumeration runs (arrangements.analyze); the bound is
        bit-identical whatever they are (docs/scale.md).
    max_nodes : bounded mode: node limit of the branch and bound (0: the cheap bounds and the
        root relaxation only, which do not depend on the time).
    more_starts : bounded mode: passed to bounds.bound_dual_constraint (a callable giving more
        directions for its incumbent, called only when its cheap bounds do not settle).
    """
    t0 = time.perf_counter()
    X, y = data.X, data.y
    Xt = model.augment(X)
    R = lipschitz_radius(X, model)
    if patterns == "exact":
        M, M_err, argmax, sign, res = enumerated_constraint(Xt, X, nu1, model, progress, jobs, scheduler,
                                                            stop_below=stop_below, stop_above=stop_above,
                                                            max_seconds=max(MAX_SECONDS, time_limit))
        floor, stopped = (res.floor, res.stopped) if res is not None else (0.0, False)
        below_floor = floor > 0 and not stopped and not M > floor
        if below_floor and floor + M_err > stop_below:
            # the floor came too close to stop_below (an error term larger than expected):
            # the bound from it would not reach the target, the exact maximum might
            return lower_bound(nu1, data, model, patterns="exact", time_limit=time_limit, starts=starts,
                               shift=shift, progress=progress, jobs=jobs, scheduler=scheduler)
        if not (np.isfinite(M) and np.isfinite(M_err)):
            raise FloatingPointError("non-finite dual constraint value")
        M_upper, M_lower, method, complete, details = M + M_err, max(M - M_err, 0.0), "enumeration", True, {}
        if stopped:
            # a value above stop_above was attained: the certificate cannot come from nu1, and
            # the enumeration stopped there; the upper bound for the report is the norm bound
            M_upper, complete = max(norm_upper_bound(nu1, R, Xt.shape[1]), M + M_err), False
            details = {"stopped": "above", "stop_above": stop_above}
        elif below_floor:
            # every value above the floor would have been found: M(nu1) <= floor + M_err
            M_upper, complete = floor + M_err, False
            details = {"stopped": "below", "stop_below": stop_below, "floor": floor}
        rank = int(res.rank) if res is not None else 0
        visited = int(res.cells_visited) if res is not None else 0
        checked = int(res.candidates_checked) if res is not None else 0
        tolerances = res.tolerances if res is not None else {}
    else:
        from .bounds import bound_dual_constraint

        mb = bound_dual_constraint(Xt, nu1, free_bias=model.hidden_bias == "free", stop_below=stop_below,
                                   stop_above=stop_above, time_limit=time_limit, starts=starts,
                                   progress=progress, max_nodes=max_nodes, more_starts=more_starts)
        if not (math.isfinite(mb.upper) and mb.upper >= 0):
            raise FloatingPointError(f"no finite bound on the dual constraint ({mb.method}: {mb.upper})")
        M, M_err, argmax, sign = float(mb.lower), 0.0, mb.argmax, int(mb.sign)
        M_upper, M_lower, method, complete = float(mb.upper), float(mb.lower), mb.method, bool(mb.complete)
        details = {"nodes": mb.nodes, "seconds": mb.seconds, **(mb.details or {})}
        rank, visited, checked, tolerances = 0, 0, 0, {}
    lb, s, D, rounding = scaled_lower_bound(nu1, M_upper, R, y, model)
    return LowerBound(
        lower_bound=float(lb),
        M_raw=float(M),
        M_error=float(M_err),
        scale=float(s),
        dual_objective=float(D),
        rounding=float(rounding),
        argmax=argmax,
        argmax_sign=int(sign),
        rank=rank,
        cells_visited=visited,
        candidates_checked=checked,
        zero_sum_shift=float(shift),
        tolerances=tolerances,
        patterns=patterns,
        method=method,
        M_upper=float(M_upper),
        M_lower=float(M_lower),
        complete=complete,
        seconds=time.perf_counter() - t0,
        details=details,
    )


def dual_bound(net: Network, data: Dataset, model: Model, progress=None, *, patterns: str = "exact",
               time_limit: float = DEFAULT_TIME_LIMIT) -> LowerBound:
    """Certified lower bound on P* from the network's own gradient (docs/method.md section 5)."""
    nu1, shift = dual_start(net, data, model)
    return lower_bound(nu1, data, model, patterns=patterns, time_limit=time_limit, shift=shift,
                       starts=live_directions(net, model), progress=progress)


def live_directions(net: Network, model: Model) -> np.ndarray | None:
    """The network's non-zero neurons ut_j (augmented), columns of a (dt, k) array, or None."""
    Ut = net.Ut()
    live = Ut[:, (np.linalg.norm(Ut, axis=0) > 0) & (net.alpha != 0)]
    return live if live.shape[1] else None
