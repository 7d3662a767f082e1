"""Column generation over activation patterns with an exact pricing oracle (docs/method.md eq. (9.1)).

The convex program (docs/method.md eq. (2.2)) is solved on a small working set of patterns; its
solution gives a network theta and a dual point lam = grad loss(yhat). The exact
arrangement engine then finds max_u |lam^T (Xt u)_+| over *all* cells: if it exceeds beta, the
pattern of the maximizer is a violated dual constraint and joins the working set (Ergen &
Pilanci, Alg. 1). When no pattern is violated beyond the tolerance the certified dual bound of
certificate.py closes the gap, so the result is a global optimum with a certificate, and the
working set stays small (the optimum has at most n + 1 non-zero blocks, Lemma 1).

Cost per round: one convex solve over the working set plus one exact pass of the engine (and,
for the squared loss, a cheap cell-wise ascent that adds further violated patterns). Patterns
the current network has left unused for a few rounds leave the working set (DROP_AFTER).
The result is the best network of all rounds with the largest of their (all valid) bounds.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .certificate import relative
from .lower_bound import certifying_bound, dual_start, live_directions, lower_bound
from .model import Dataset, Model, Network, objective, predict, unique_rows
from .pricing import restricted_pricing
from .search import SEARCH_DATA_STARTS, PatternHints, ascent_starts, violated_patterns

#: Patterns added per round besides the maximizer's own: those of nearby directions.
NEIGHBOURS = 4
#: Besides the exact maximizer, a cell-wise ascent (search.ascend) from data rows, random
#: directions and the current neurons adds up to this many further violated patterns per sign
#: and round. They only enlarge the working set (the exact pricing still decides when to stop),
#: and cut the number of rounds when the optimum has many neurons (d = 1, n = 10 000).
HEURISTIC_ADD = 16
#: The ascent costs O(n) per start and step: above n = HEURISTIC_START_ROWS / SEARCH_DATA_STARTS
#: (25 000) it gets HEURISTIC_START_ROWS / n data rows and as many random directions (at least
#: HEURISTIC_MIN_STARTS), besides the network's neurons. Planted 1-D data at n = 1e5: with
#: the full 256 + 256 starts the ascent took two thirds of solve's 122 CPU s (28 rounds); with
#: 64 + 64, 65 CPU s (27 rounds), same objective to 1e-8 relative, gap 7.7e-8.
HEURISTIC_START_ROWS = 6_400_000
HEURISTIC_MIN_STARTS = 16
#: A pattern leaves the working set once the network has left it unused for this many rounds in
#: a row, for every loss: the programs stay small (every round re-solves them; pricing finds a
#: dropped pattern again if it is needed). At n = 200 (logistic) keeping patterns for 2 rounds
#: let the working set grow to 120 patterns, where a program costs a minute.
DROP_AFTER = 1
#: ... and, for the logistic loss, a pattern counts as used only when one of its neurons carries
#: at least IDLE_REL_LOGISTIC of the largest |alpha_j| ||u_j||: an interior-point answer leaves
#: every block slightly non-zero (~ its tolerance), which would keep every pattern forever.
IDLE_REL_LOGISTIC = 1e-6
#: ... and, for the squared loss, at least IDLE_REL_SQUARED of max(1, it): solve keeps every block of
#: a squared-loss program in the network (its interior-point leftovers carry the dual point's
#: accuracy), and the patterns of blocks this small count as unused (the old block threshold).
IDLE_REL_SQUARED = 1e-9
#: Price with a ceiling by default (``column_generation(ceiling=...)``, ``_priced``).
PRICING_CEILING = True
#: ... and stops only above beta + CEILING_FRACTION (M_last - beta), M_last the violation the
#: previous round found: adding the first barely violated cell made rounds many (diabetes slice,
#: rank 4: over 140 rounds).
CEILING_FRACTION = 0.5
#: Column generation given a ``stall_gap`` stops once its best relative gap is at most that
#: and has not fallen below STALL_FACTOR times its value STALL_ROUNDS rounds earlier: the
#: restricted programs' accuracy is then the limit. On the breast-cancer slice (squared loss,
#: penalized hidden bias) the gap reached 3.1e-9 at round 51 and stayed there for 29 more
#: rounds (158 of 242 s), the COLGEN_TOL of 1e-9 out of the restricted solver's reach. The
#: stop decides only when the rounds end: the status is the written network's certificate.
STALL_ROUNDS = 5
STALL_FACTOR = 0.5
#: ... and, given a ``stall_gap_long``, once the best gap is at most that and has not fallen
#: below STALL_FACTOR times its value STALL_LONG_ROUNDS rounds earlier. Planted 1-D data at
#: n = 1e5 (squared loss, penalized hidden bias): from round 20 on the gap stayed near 1e-7 while
#: the restricted programs (degenerate: the optimal kinks sit on data points, shared by two
#: cells of the working set) ended almost solved, above a stall gap of 1e-8; each further
#: round cost 6 s, up to the 200-round limit.
STALL_LONG_ROUNDS = 10
#: The pricing ceiling exceeds the working set's own largest value by this factor (relative),
#: so that the rounding of restricted_pricing's projections cannot stop it on a known cell.
CEILING_MARGIN = 1e-9


@dataclass
class ColgenResult:
    network: Network
    objective: float
    lower_bound: float
    patterns: np.ndarray
    rounds: int
    history: list = field(default_factory=list)
    #: why the rounds ended: "gap" (relative gap <= tol), "no violation" (M <= beta at the
    #: round's dual point), "stalled" (``stall_gap``), "nothing new" (pricing added no new
    #: pattern), "max rounds"
    stopped: str = "max rounds"

    @property
    def relative_gap(self) -> float:
        """(objective - lower bound) / |objective|: the gap as verify measures it (certificate.relative)."""
        return relative(self.objective - self.lower_bound, self.objective)


def _neighbour_patterns(Xt: np.ndarray, u: np.ndarray, rng, k: int, book=None) -> np.ndarray:
    dirs = [u]
    for _ in range(k):
        v = u + 1e-3 * np.linalg.norm(u) * rng.standard_normal(u.shape)
        dirs.append(v)
    P = (Xt @ np.array(dirs).T > 0).T
    if book is not None:
        book.note(P, dirs)
    return P


def _heuristic_patterns(Xt, data, model, net, work, rng, book=None) -> list:
    """Further violated patterns from a cell-wise ascent (a cheap supplement to exact pricing)."""
    if HEURISTIC_ADD <= 0:
        return []
    lam = model.loss_fn.gradient(predict(net, data.X), data.y)
    dirs = []
    starts = None
    if Xt.shape[0] * SEARCH_DATA_STARTS > HEURISTIC_START_ROWS:
        starts = max(HEURISTIC_MIN_STARTS, min(SEARCH_DATA_STARTS, HEURISTIC_START_ROWS // Xt.shape[0]))
    found, _ = violated_patterns(Xt, lam, model, ascent_starts(Xt, net, rng, starts),
                                 {row.tobytes() for row in work}, k=HEURISTIC_ADD, directions=dirs)
    if book is not None:
        book.note(found, dirs)
    return [np.array(found)] if found else []


def _priced(net: Network, data: Dataset, model: Model, needed: float, work: np.ndarray | None,
            last_M: float = 0.0):
    """The exact pricing of one round: the certified bound from the network's gradient
    (lower_bound.lower_bound, exact patterns), with ``argmax`` a point of a violated cell.

    With the working set ``work``, the enumeration stops (arrangements.analyze, ``stop_above``)
    at the first value above the ceiling max(beta, certifying value, M_work): the certifying
    value (lower_bound.certifying_bound) is the largest M from which this dual point's bound
    still reaches ``needed``, so a value above it means this round cannot close the gap
    whatever the maximum; M_work (pricing.restricted_pricing, exact per cell) is the largest
    value over the working set's own cells, so a point above it lies in a cell outside the
    set: a new violated pattern, whatever the restricted solve's accuracy. Only a round that
    can close the gap, or has nothing new to add, enumerates every cell. The stopped bound is
    weaker (the norm bound on M) but still valid. The ceiling is also at least beta +
    CEILING_FRACTION (``last_M`` - beta), ``last_M`` the value the previous round found, so
    the patterns added stay strongly violated as the rounds go on (a round that finds nothing
    above it enumerates every cell and gives the exact maximum). ``work`` None, or a free hidden bias (whose
    constraint restricted_pricing does not measure): every cell, every round.
    """
    nu1, shift = dual_start(net, data, model)
    stop_above = math.inf
    if work is not None and model.hidden_bias != "free":
        certifying = certifying_bound(nu1, data.y, model, needed)
        if certifying < math.inf:
            rows = work[work.any(axis=1)]
            in_set = restricted_pricing(model.augment(data.X), nu1, rows, model.beta)[0] if len(rows) else 0.0
            # a violation at least CEILING_FRACTION of the last round's: a strongly violated
            # pattern, not the first barely violated one (rounds that add little are many)
            partial = model.beta + CEILING_FRACTION * max(last_M - model.beta, 0.0)
            stop_above = max(model.beta, certifying, in_set * (1 + CEILING_MARGIN), partial)
    return lower_bound(nu1, data, model, patterns="exact", stop_above=stop_above, shift=shift,
                       starts=live_directions(net, model))


def column_generation(
    data: Dataset,
    model: Model,
    solve_on_patterns: Callable[[np.ndarray], Network],
    *,
    initial: np.ndarray | None = None,
    tol: float = 1e-7,
    max_rounds: int = 200,
    seed: int = 0,
    progress=None,
    pass_hints: bool = False,
    drop_after: int | None = None,
    accurate: Callable[..., Network] | None = None,
    ceiling: bool | None = None,
    stall_gap: float | None = None,
    stall_gap_long: float | None = None,
) -> ColgenResult:
    """Global optimum of the convex program by exact column generation.

    Parameters
    ----------
    solve_on_patterns : callable
        patterns (p, n) bool -> Network, the optimal network of the program on those patterns;
        with ``pass_hints``, (patterns, hints) -> Network, hints (p, dt) a direction in each
        pattern's cell where known (the pattern's generator or a neuron using it), NaN otherwise.
    initial : (p0, n) bool, optional
        Starting working set (default: patterns of a few random directions).
    tol : float
        Stop when (objective - certified lower bound) / |objective| <= tol (the relative gap
        of certificate.verify, certificate.relative).
    drop_after : int, optional
        A pattern the network has not used for this many rounds in a row leaves the working
        set (default DROP_AFTER).
    accurate : callable, optional
        Like ``solve_on_patterns``, to full accuracy. When pricing adds nothing new while the gap
        is open, the first solver's answer was not accurate enough (an almost-solved answer's
        dual point prices patterns already in the set): the rounds go on with this one, and
        stop only when it too adds nothing new.
    ceiling : bool, optional
        (default PRICING_CEILING) Price with a ceiling (``_priced``): the enumeration stops at the first cell whose value
        shows that this round's dual point cannot close the gap; only the last rounds enumerate
        every cell. False: every round enumerates every cell (the most violated pattern).
    stall_gap : float, optional
        Also stop once the best relative gap is at most ``stall_gap`` and has not fallen below
        STALL_FACTOR times its value STALL_ROUNDS rounds earlier (``stopped`` "stalled").
        None: only ``tol`` (and the other stops) end the rounds.
    stall_gap_long : float, optional
        Likewise with STALL_LONG_ROUNDS rounds in place of STALL_ROUNDS (a larger gap, stalled
        for longer).
    """
    if drop_after is None:
        drop_after = DROP_AFTER
    if ceiling is None:
        ceiling = PRICING_CEILING
    idle: dict = {}  # pattern bytes -> rounds in a row the network has left it unused
    rng = np.random.default_rng(seed)
    Xt = model.augment(data.X)
    book = PatternHints(Xt.shape[1])
    if initial is None:
        initial = book.note_neurons(Xt, rng.standard_normal((Xt.shape[1], 8)))
    work = unique_rows(np.asarray(initial, dtype=bool))

    history = []
    # every round's bound is valid (any dual point): keep the largest, and the best network
    best_net, best_L, best_lb = None, np.inf, -np.inf
    t0 = time.perf_counter()
    task = progress.task("Column generation (rounds)", total=max_rounds) if progress else None
    precise = False  # rounds solved by ``accurate``
    dropped: set = set()  # patterns that have left the working set
    pinned: set = set()  # patterns that came back after leaving it: never dropped again
    added = returned = 0  # the previous round's new patterns, and those of them dropped before
    gaps = []  # the best relative gap after each round
    stopped = "max rounds"
    for rnd in range(1, max_rounds + 1):
        solver = accurate if precise else solve_on_patterns
        net = solver(work, book.of(work)) if pass_hints else solver(work)
        L = objective(net, data, model)
        if L < best_L:
            best_net, best_L = net, L
        bound = _priced(net, data, model, best_L - tol * abs(best_L), work if ceiling else None,
                        history[-1]["M"] if history else 0.0)
        lb = bound.lower_bound
        best_lb = max(best_lb, lb)
        rel = relative(best_L - best_lb, best_L)
        history.append({"round": rnd, "patterns": int(work.shape[0]), "objective": L,
                        "lower_bound": lb, "M": bound.M_raw, "accurate": precise,
                        "added": added, "returned": returned, "complete": bool(bound.complete),
                        "seconds": time.perf_counter() - t0})
        if task:
            task(1)
            if hasattr(task, "note"):
                task.note(f"gap {rel:.1e} -> {tol:.0e}")
        gaps.append(rel)
        if rel <= tol:
            stopped = "gap"
            break
        if bound.argmax is None or bound.M_raw <= model.beta:
            stopped = "no violation"
            break
        if any(g is not None and rel <= g and len(gaps) > k and rel > STALL_FACTOR * gaps[-1 - k]
               for g, k in ((stall_gap, STALL_ROUNDS), (stall_gap_long, STALL_LONG_ROUNDS))):
            stopped = "stalled"
            break
        new = np.vstack([_neighbour_patterns(Xt, bound.argmax, rng, NEIGHBOURS, book)]
                        + _heuristic_patterns(Xt, data, model, net, work, rng, book))
        known = {row.tobytes() for row in work}
        if all(row.tobytes() in known for row in new):
            if accurate is not None and not precise:
                precise = True  # the same working set again, to full accuracy
                continue
            stopped = "nothing new"
            break  # nothing new to add: the solver's accuracy is the limit
        # the next working set: the patterns the current network uses, the new ones, and those
        # left unused for fewer than drop_after rounds in a row. Dropping unused patterns keeps
        # the restricted programs small and far less degenerate (pricing finds them again if
        # needed); the current network stays feasible, so the objective does not rise (up to the
        # solver's accuracy; the best network is kept).
        # a neuron lies in its own pattern's cell: one product for the patterns and their hints
        Ut = net.Ut()
        Q = book.note_neurons(Xt, Ut)
        weight = np.abs(net.alpha) * np.linalg.norm(Ut, axis=0)
        if model.loss == "squared":  # the old block threshold: relative to max(1, largest)
            floor = IDLE_REL_SQUARED * max(1.0, float(weight.max(initial=0.0)))
        else:
            floor = IDLE_REL_LOGISTIC * float(weight.max(initial=0.0))
        in_use = {row.tobytes() for row in Q[weight > floor]}
        fresh = {row.tobytes() for row in new} - known
        added, returned = len(fresh), len(fresh & dropped)
        keep = []
        # a pattern pricing brings back after it was dropped is kept from then on (``pinned``):
        # each pattern leaves at most once, so the rounds cannot cycle
        pinned |= fresh & dropped
        for row in unique_rows(np.vstack([work, Q])):
            key = row.tobytes()
            idle[key] = 0 if key in in_use else idle.get(key, 0) + 1
            if idle[key] < drop_after or key in pinned:
                keep.append(row)
        work = unique_rows(np.vstack([new] + ([np.array(keep)] if keep else [])))
        dropped |= known - {row.tobytes() for row in work}
        work = work[work.any(axis=1)] if work.any() else work
    if task and hasattr(task, "close"):
        task.close()
    return ColgenResult(best_net, float(best_L), float(best_lb), work, len(history), history, stopped)
