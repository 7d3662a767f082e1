"""Refutation at any dimension: violated dual constraints found by search, and better networks.

A network theta with loss gradient lam = grad loss(yhat) is not a global minimum of L when some
direction ut has |lam^T (Xt ut)_+| > beta N(ut) (a violated dual constraint, docs/reliability.md):
adding the neuron (sqrt(eps) ut / N(ut), -sign sqrt(eps)) changes L by about
eps (beta - |lam^T (Xt ut)_+| / N(ut)) < 0, and the convex program over the network's own
activation patterns plus the violating ones (paper Thm. 3) is strictly better than the network.

* :func:`find_violations` searches for such directions without enumerating the arrangement:
  multi-start cell-wise ascent of f(ut) = +-nu^T (Xt ut)_+ over N(ut) = 1, all starts at once.
  It is a heuristic: the largest ratio it reports is a true value of the ratio at a direction it
  returns (so never above the exact maximum M(nu) / beta, up to rounding), but finding nothing
  proves nothing.
* :func:`refute` turns the violations into strictly better networks and evaluates them with
  :func:`cvxrelu.model.objective`; a network is returned only when its objective plus its
  rounding bound is below the given network's objective minus its rounding bound.

The ascent's update is the one of ``cvxrelu.search.ascend`` (copied and adapted here: a deadline,
and a second variant for a free hidden bias).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from .model import (
    Dataset,
    Model,
    Network,
    merged,
    objective,
    objective_error_bound,
    predict,
    scaled,
    with_neuron,
)

#: A direction is a violation when its ratio |nu^T (Xt ut)_+| / (beta N(ut)) exceeds 1 + VIOLATION_TOL.
VIOLATION_TOL = 1e-6
#: Default wall-clock budget, in seconds, of :func:`find_violations` and of :func:`refute` each.
DEFAULT_TIME_BUDGET = 20.0
#: Starts of the first round: at most this many data rows and this many random directions.
DATA_STARTS = 256
RANDOM_STARTS = 256
#: The network's neurons also start the ascent in JITTER_COPIES copies perturbed by JITTER (relative).
JITTER = 1e-2
JITTER_COPIES = 2
#: Steps of one ascent (each one matrix product per sign for all starts; usually far fewer are taken).
ASCENT_STEPS = 200
#: An ascent step is taken only when f rises by more than RISE_TOL |f| (beyond rounding).
RISE_TOL = 1e-12
#: Later rounds start from the best TOP_RESTARTS directions found, each jittered, plus random ones;
#: the search stops after PATIENCE rounds that raise the best ratio by at most PROGRESS_TOL (relative).
TOP_RESTARTS = 32
PATIENCE = 2
PROGRESS_TOL = 1e-9
MAX_ROUNDS = 50
#: The best POLISH_TOP directions of each sign and round are polished: POLISH_STEPS moves to the
#: exact maximum over the closed cell (a projection onto a polyhedral cone, by NNLS). A row with
#: |xt_k^T ut| <= ZERO_TOL ||xt_k|| ||ut|| lies on the cell's boundary.
POLISH_TOP = 8
POLISH_STEPS = 20
ZERO_TOL = 1e-10
#: Share of :func:`refute`'s time budget given to the search, and its rounds at most (the first
#: round from the network's neurons and the data usually finds the violations that matter).
SEARCH_SHARE = 0.25
REFUTE_ROUNDS = 3
#: Distinct violated patterns kept, per sign (the largest ratios).
MAX_PATTERNS = 32
#: The convex program gets the network's patterns plus at most PROGRAM_VIOLATED violated ones (the
#: largest ratios); it is skipped when the search and line searches used up the time budget.
PROGRAM_VIOLATED = 16
#: The convex program is solved exactly (program.solve_program: the interior-point method for the
#: squared loss, Clarabel otherwise) up to IPM_MAX_ENTRIES (squared) or CONIC_MAX_ENTRIES (other
#: losses) entries n p dt; above, by the first-order method stopped at FIRST_ORDER_TOL (relative
#: gap) or after min(FIRST_ORDER_ITERS, max(FIRST_ORDER_MIN_ITERS, FIRST_ORDER_WORK / (n p dt)))
#: iterations: any feasible point is a candidate, and the exact solves took 60-100 s at n = 1 000,
#: d = 20 (squared) and 90 s at n = 500, d = 10 (logistic) in bench/refute.py.
IPM_MAX_ENTRIES = 3e5
CONIC_MAX_ENTRIES = 5e4
FIRST_ORDER_TOL = 1e-4
FIRST_ORDER_ITERS = 2000
FIRST_ORDER_MIN_ITERS = 100
FIRST_ORDER_WORK = 1e9
#: After the first added neuron, up to GREEDY_NEURONS more are added one at a time, each along a
#: violation found at the current network's gradient (a search of GREEDY_ROUNDS rounds).
GREEDY_NEURONS = 4
GREEDY_ROUNDS = 2
#: Directions line-searched by :func:`refute` (the largest ratios, both signs together).
LINE_SEARCH_DIRECTIONS = 4
#: Line search on eps (the added neuron's |alpha|^2 = N(ut)^2): a geometric grid of LINE_GRID
#: points over [LINE_LO, LINE_HI] * max(1, |L|) / beta, then LINE_REFINE golden-section steps.
LINE_GRID = 41
LINE_LO = 1e-8
LINE_HI = 1e2
LINE_REFINE = 30
#: Blocks with N(w) below this (relative) are dropped when mapping a convex solution back (eq. 9).
BLOCK_TOL = 1e-10


@dataclass
class Refutation:
    """What :func:`find_violations` found.

    ratio : the largest |nu^T (Xt ut)_+| / (beta N(ut)) found (0 when every start gave f <= 0).
    directions : (dt, k) directions ut with N(ut) = 1, one per distinct violated pattern
        (ratio > 1 + VIOLATION_TOL), largest ratio first; with a free hidden bias the last
        coordinate is the bias b, not normalized.
    signs : (k,) +1 where nu^T (Xt ut)_+ > 0 (the constraint is violated by +f), -1 otherwise.
    ratios : (k,) the ratio of each direction.
    best_direction, best_sign : where ``ratio`` was found (None when nothing was positive).
    starts : ascents run (both signs counted once), rounds : rounds of starts, seconds : wall time.
    """

    ratio: float
    directions: np.ndarray
    signs: np.ndarray
    ratios: np.ndarray
    best_direction: np.ndarray | None
    best_sign: int
    starts: int
    rounds: int
    seconds: float
    meta: dict = field(default_factory=dict)

    @property
    def violated(self) -> bool:
        return self.ratio > 1 + VIOLATION_TOL and self.directions.shape[1] > 0

    def summary(self) -> dict:
        return {"ratio": self.ratio, "violated_patterns": int(self.directions.shape[1]),
                "starts": self.starts, "rounds": self.rounds, "seconds": self.seconds}


# --------------------------------------------------------------------------- ascent


def _unit(U: np.ndarray) -> np.ndarray:
    return U / np.maximum(np.linalg.norm(U, axis=0), 1e-300)


def _ascend_plain(Xt, nu, U, steps, deadline):
    """Cell-wise ascent of f(ut) = nu^T (Xt ut)_+ on the unit sphere (no free bias).

    On the cell of ut, f is linear with gradient g = Xt^T D nu, maximal on the sphere at
    g / ||g||; move there while f rises. Cost O(n dt S) per step for S starts.
    """
    U = _unit(U)
    f = nu @ np.maximum(Xt @ U, 0.0)
    active = np.ones(U.shape[1], dtype=bool)
    for _ in range(steps):
        idx = np.flatnonzero(active)
        if idx.size == 0 or time.perf_counter() > deadline:
            break
        G = Xt.T @ ((Xt @ U[:, idx] > 0) * nu[:, None])
        Un = _unit(G)
        fn = nu @ np.maximum(Xt @ Un, 0.0)
        up = fn > f[idx] + RISE_TOL * np.abs(f[idx])
        U[:, idx[up]] = Un[:, up]
        f[idx[up]] = fn[up]
        active[idx[~up]] = False
    return U, f


def _best_kinks(X, nu, U):
    """For each column u of U: max over b of nu^T (X u + b)_+ at the kinks b = -x_k^T u.

    With z = X u sorted decreasingly, the value at b = -z_(j) is
    sum_{i <= j} nu_(i) (z_(i) - z_(j)): two prefix sums. Returns (f, k, b) with k the row
    whose kink is best. O(n log n) per column.
    """
    Z = X @ U
    order = np.argsort(-Z, axis=0, kind="stable")
    Zs = np.take_along_axis(Z, order, axis=0)
    nus = nu[order]
    F = np.cumsum(nus * Zs, axis=0) - Zs * np.cumsum(nus, axis=0)
    j = np.argmax(F, axis=0)
    cols = np.arange(U.shape[1])
    return F[j, cols], order[j, cols], -Zs[j, cols]


def _ascend_free(X, nu, U, steps, deadline):
    """Cell-wise ascent of max_b nu^T (X u + b)_+ over ||u|| = 1 (free hidden bias, b unpenalized).

    For fixed u the function of b is piecewise linear with kinks at b = -x_k^T u, so its
    maximum is at a kink (or the limit b -> +inf, which equals the last kink's value when
    1^T nu = 0; otherwise that limit is unbounded and not explored). At the best kink k with
    active set D = {l : x_l^T u > x_k^T u}, the value is linear in u with gradient
    g = sum_{l in D} nu_l (x_l - x_k); move u to g / ||g|| and re-optimize b while the value
    rises. Cost O(n d S + n log n S) per step for S starts.
    Returns (U (d, S) unit, b (S,), f (S,)).
    """
    U = _unit(U)
    f, k, b = _best_kinks(X, nu, U)
    active = np.ones(U.shape[1], dtype=bool)
    for _ in range(steps):
        idx = np.flatnonzero(active)
        if idx.size == 0 or time.perf_counter() > deadline:
            break
        Z = X @ U[:, idx]
        zk = Z[k[idx], np.arange(idx.size)]
        DN = (Z > zk[None, :]) * nu[:, None]
        G = X.T @ DN - X[k[idx]].T * DN.sum(axis=0)[None, :]
        Un = _unit(G)
        fn, kn, bn = _best_kinks(X, nu, Un)
        up = fn > f[idx] + RISE_TOL * np.abs(f[idx])
        sel = idx[up]
        U[:, sel], f[sel], k[sel], b[sel] = Un[:, up], fn[up], kn[up], bn[up]
        active[idx[~up]] = False
    return U, b, f


def _cone_projection(A: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Euclidean projection of g onto {w : A w >= 0}: w = g + A_R^T lam with lam >= 0 from NNLS
    over a growing set R of rows (those w violates); exact once w violates no row."""
    from scipy.optimize import nnls

    w = g.copy()
    rows = np.zeros(A.shape[0], dtype=bool)
    for _ in range(A.shape[0] + 1):
        viol = (A @ w < 0) & ~rows
        if not viol.any():
            break
        rows |= viol
        lam, _ = nnls(A[rows].T, -g)
        w = g + A[rows].T @ lam
    return w


def _polish(Xt, nu, u, steps=POLISH_STEPS):
    """Local maximum of f(u) = nu^T (Xt u)_+ on the unit sphere from unit u, cell by cell.

    On a closed cell f is linear, g^T u with g = Xt^T D nu, and its maximum over the cell and
    the ball is at the projection of g onto the cell's cone (normalized). Rows on the boundary
    are counted active when nu_k > 0 (the neighbouring cell is then at least as good: f is
    convex along those rows) and inactive otherwise, so f never decreases. Returns (u, f).
    """
    norms = np.linalg.norm(Xt, axis=1)
    f = float(nu @ np.maximum(Xt @ u, 0.0))
    for _ in range(steps):
        z = Xt @ u
        tiny = np.abs(z) <= ZERO_TOL * norms * np.linalg.norm(u)
        act = ((z > 0) & ~tiny) | (tiny & (nu > 0))
        g = Xt.T @ (act * nu)
        w = _cone_projection(np.where(act, 1.0, -1.0)[:, None] * Xt, g)
        nw = float(np.linalg.norm(w))
        if not nw > 0:
            break
        un = w / nw
        fn = float(nu @ np.maximum(Xt @ un, 0.0))
        if not fn > f + RISE_TOL * abs(f):
            break
        u, f = un, fn
    return u, f


def _polish_free(X, nu, u, b, steps=POLISH_STEPS):
    """_polish for a free hidden bias: at the kink row k of (u, b), max over unit u of
    nu^T ((X - x_k) u)_+ is the problem without bias on the differences; b = -x_k^T u."""
    k = int(np.argmin(np.abs(X @ u + b)))
    un, _ = _polish(X - X[k][None, :], nu, u, steps)
    fk, kk, bk = _best_kinks(X, nu, un[:, None])
    return un, float(bk[0]), float(fk[0])


# --------------------------------------------------------------------------- search


def default_starts(Xt: np.ndarray, rng, net: Network | None = None) -> np.ndarray:
    """Starts (dt, S): data rows (at most DATA_STARTS), RANDOM_STARTS random directions and,
    given ``net``, its live neurons and JITTER_COPIES jittered copies of each."""
    n, dt = Xt.shape
    cols = [Xt[rng.choice(n, min(n, DATA_STARTS), replace=False)].T,
            rng.standard_normal((dt, RANDOM_STARTS))]
    if net is not None:
        Ut = net.Ut()
        live = Ut[:, np.linalg.norm(Ut, axis=0) > 0]
        if live.shape[1]:
            cols.append(live)
            for _ in range(JITTER_COPIES):
                cols.append(live + JITTER * np.linalg.norm(live, axis=0) * rng.standard_normal(live.shape))
    return np.hstack(cols)


def find_violations(
    Xt: np.ndarray,
    nu: np.ndarray,
    model: Model,
    *,
    starts: np.ndarray | None = None,
    time_budget: float = DEFAULT_TIME_BUDGET,
    rng: np.random.Generator | int | None = None,
    max_rounds: int = MAX_ROUNDS,
) -> Refutation:
    """Directions ut with |nu^T (Xt ut)_+| > beta N(ut), by multi-start cell-wise ascent.

    Parameters
    ----------
    Xt : (n, dt) augmented data (model.augment(X)).
    nu : (n,) dual weights (the loss gradient at the network's prediction, or a projection of it).
        With a free hidden bias, 1^T nu = 0 is expected (otherwise the supremum is infinite and
        only the kinks b = -x_k^T u are explored).
    starts : (dt, S) start directions (None: ``default_starts`` without a network). With a free
        hidden bias only the first dt - 1 rows (u) are used: b is re-optimized.
    time_budget : seconds; the search stops starting new rounds, and ascents stop stepping, after it.
    rng : a Generator or a seed for the random starts.
    max_rounds : at most this many rounds of starts.

    Each round runs the ascent from all starts for both signs of nu; round 0 from ``starts``,
    later rounds from the TOP_RESTARTS best directions found, jittered, plus RANDOM_STARTS random
    ones; the search ends after PATIENCE rounds without progress, ``max_rounds`` rounds or the budget.
    Cost per ascent step: O(n dt S) without a free bias, O(n (d + log n) S) with one, S starts.
    Every ratio reported is re-evaluated at the returned direction (so it never exceeds the exact
    max ratio M(nu) / beta beyond rounding).
    """
    t0 = time.perf_counter()
    deadline = t0 + float(time_budget)
    Xt = np.asarray(Xt, dtype=np.float64)
    nu = np.asarray(nu, dtype=np.float64)
    n, dt = Xt.shape
    if nu.shape != (n,):
        raise ValueError(f"nu must have shape ({n},), got {nu.shape}")
    if not (np.all(np.isfinite(Xt)) and np.all(np.isfinite(nu))):
        raise ValueError("Xt and nu must be finite")
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    free = model.hidden_bias == "free"
    beta = float(model.beta)
    if starts is None:
        starts = default_starts(Xt, rng)
    starts = np.asarray(starts, dtype=np.float64)
    if starts.ndim != 2 or starts.shape[0] != dt:
        raise ValueError(f"starts must have shape ({dt}, S), got {starts.shape}")
    X = Xt[:, :-1] if free else Xt
    S0 = starts[:-1] if free else starts
    S0 = S0[:, np.linalg.norm(S0, axis=0) > 0]

    pool: dict[int, dict] = {+1: {}, -1: {}}  # sign -> pattern bytes -> (ratio, ut)
    best = (0.0, None, 1)
    top: list = []  # (ratio, u-part) of the best directions, for restarts
    n_starts = rounds = stale = 0
    while True:
        if S0.shape[1] == 0:
            break
        gained = False
        for sg in (1, -1):
            if free:
                U, b, _ = _ascend_free(X, sg * nu, S0.copy(), ASCENT_STEPS, deadline)
                Ut = np.vstack([U, b[None, :]])
            else:
                Ut, _ = _ascend_plain(X, sg * nu, S0.copy(), ASCENT_STEPS, deadline)
            fz = sg * (nu @ np.maximum(Xt @ Ut, 0.0)) / np.maximum(model.neuron_norm(Ut), 1e-300)
            for i in np.argsort(-fz, kind="stable")[:POLISH_TOP]:
                if time.perf_counter() > deadline:
                    break
                if free:
                    u, bb, _ = _polish_free(X, sg * nu, Ut[:-1, i] / np.linalg.norm(Ut[:-1, i]), Ut[-1, i]
                                            / np.linalg.norm(Ut[:-1, i]))
                    Ut[:, i] = np.append(u, bb)
                else:
                    Ut[:, i], _ = _polish(Xt, sg * nu, Ut[:, i] / np.linalg.norm(Ut[:, i]))
            N = model.neuron_norm(Ut)
            ok = N > 0
            Ut = Ut[:, ok] / N[ok][None, :]
            f = sg * (nu @ np.maximum(Xt @ Ut, 0.0))  # re-evaluated at the returned directions
            ratio = f / beta
            j = int(np.argmax(ratio)) if ratio.size else -1
            if j >= 0 and ratio[j] > best[0] and ratio[j] > 0:
                gained = gained or ratio[j] > best[0] * (1 + PROGRESS_TOL)
                best = (float(ratio[j]), Ut[:, j].copy(), sg)
            order = np.argsort(-ratio, kind="stable")[:TOP_RESTARTS]
            top.extend((float(ratio[i]), (Ut[:-1] if free else Ut)[:, i].copy()) for i in order)
            for i in np.flatnonzero(ratio > 1 + VIOLATION_TOL):
                key = (Xt @ Ut[:, i] > 0).tobytes()
                old = pool[sg].get(key)
                if old is None or ratio[i] > old[0]:
                    pool[sg][key] = (float(ratio[i]), Ut[:, i].copy())
        n_starts += S0.shape[1]
        rounds += 1
        stale = 0 if gained else stale + 1
        if stale >= PATIENCE or rounds >= max_rounds or time.perf_counter() > deadline:
            break
        top.sort(key=lambda t: -t[0])
        top = top[:TOP_RESTARTS]
        T = np.array([u for _, u in top]).T if top else np.zeros((X.shape[1], 0))
        S0 = np.hstack([T + JITTER * rng.standard_normal(T.shape) * np.linalg.norm(T, axis=0),
                        rng.standard_normal((X.shape[1], RANDOM_STARTS))])
    found = []
    for sg in (1, -1):
        kept = sorted(pool[sg].values(), key=lambda t: -t[0])[:MAX_PATTERNS]
        found.extend((r, u, sg) for r, u in kept)
    found.sort(key=lambda t: -t[0])
    dirs = np.array([u for _, u, _ in found]).T if found else np.zeros((dt, 0))
    return Refutation(
        ratio=best[0],
        directions=dirs,
        signs=np.array([s for _, _, s in found], dtype=int),
        ratios=np.array([r for r, _, _ in found]),
        best_direction=best[1],
        best_sign=int(best[2]),
        starts=n_starts,
        rounds=rounds,
        seconds=time.perf_counter() - t0,
    )


# --------------------------------------------------------------------------- better networks


def search_dual_point(net: Network, data: Dataset, model: Model) -> np.ndarray:
    """The dual weights the search uses: the loss gradient at the network's prediction, minus its
    mean when the output constant is free (a free constant absorbs 1^T lam; with a free hidden
    bias the ascent needs 1^T nu = 0)."""
    lam = model.loss_fn.gradient(predict(net, data.X), data.y)
    if model.effective_output_bias == "free":
        lam = lam - float(np.mean(lam))
    return lam


def line_search_neuron(net: Network, data: Dataset, model: Model, ut: np.ndarray, sign: int,
                       L0: float):
    """(objective, network) of the best theta + (sqrt(eps) ut / N(ut), -sign sqrt(eps)) found.

    A geometric grid of eps, then golden-section refinement in log eps around the best grid
    point. None when N(ut) = 0 or no candidate has a finite objective.
    """
    Nu = float(model.neuron_norm(ut[:, None])[0])
    if not Nu > 0:
        return None
    ut = ut / Nu
    cache: dict = {}

    def val(le):
        if le not in cache:
            e = math.exp(le)
            cand = with_neuron(net, math.sqrt(e) * ut, -sign * math.sqrt(e), model)
            v = objective(cand, data, model)
            cache[le] = (v if np.isfinite(v) else math.inf, cand)
        return cache[le][0]

    scale = max(1.0, abs(L0)) / model.beta
    grid = np.log(np.geomspace(LINE_LO, LINE_HI, LINE_GRID) * scale)
    vals = [val(float(le)) for le in grid]
    i = int(np.argmin(vals))
    if not np.isfinite(vals[i]):
        return None
    a, b = float(grid[max(i - 1, 0)]), float(grid[min(i + 1, len(grid) - 1)])
    g = (math.sqrt(5) - 1) / 2
    for _ in range(LINE_REFINE):
        c1, c2 = b - g * (b - a), a + g * (b - a)
        if val(c1) <= val(c2):
            b = c2
        else:
            a = c1
    v, cand = min(cache.values(), key=lambda t: t[0])
    return float(v), cand


def program_on_patterns(data: Dataset, model: Model, patterns: np.ndarray,
                        hints: np.ndarray | None = None) -> Network:
    """The network of the convex program over ``patterns`` (paper eq. 9). Raises on solver failure.

    Exact (program.solve_program) up to IPM_MAX_ENTRIES / CONIC_MAX_ENTRIES entries n p dt, the
    first-order method with a capped iteration count above (see those constants)."""
    from .program import network_from_blocks, solve_program

    Xt = model.augment(data.X)
    entries = Xt.shape[0] * patterns.shape[0] * Xt.shape[1]
    if entries > (IPM_MAX_ENTRIES if model.loss == "squared" else CONIC_MAX_ENTRIES):
        from .solvers.first_order import solve_first_order

        iters = int(min(FIRST_ORDER_ITERS, max(FIRST_ORDER_MIN_ITERS, FIRST_ORDER_WORK / entries)))
        sol = solve_first_order(Xt, data.y, patterns, model, tol=FIRST_ORDER_TOL, max_iter=iters)
    else:
        sol = solve_program(Xt, data.y, patterns, model, hints=hints)
    out = network_from_blocks(sol.W, sol.V, sol.c, model, BLOCK_TOL)
    info = sol.solver_info
    out.meta["solver"] = {k: info.get(k) for k in ("solver", "status", "iterations", "fallback_from")
                          if k in info}
    return out


class _Skipped(Exception):
    """The convex program was not asked for."""


def _strictly_better(cand: Network, data: Dataset, model: Model, L0: float, err0: float) -> bool:
    val = objective(cand, data, model)
    return bool(np.isfinite(val) and val + objective_error_bound(cand, data, model) < L0 - err0)


def network_search(net: Network, data: Dataset, model: Model, *,
                   time_budget: float = SEARCH_SHARE * DEFAULT_TIME_BUDGET,
                   rng: np.random.Generator | int | None = 0) -> Refutation:
    """The first step of :func:`refute`: violated dual constraints at the network's gradient
    (``search_dual_point``), from ``default_starts`` of the merged network, at most
    REFUTE_ROUNDS rounds. FloatingPointError when the gradient is not finite."""
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    Xt = model.augment(data.X)
    return _search(net, data, model, Xt, merged(scaled(net, model), Xt, model), time_budget, rng)


def _search(net, data, model, Xt, base, time_budget, rng) -> Refutation:
    """network_search with the augmented data and the merged network already at hand."""
    nu = search_dual_point(net, data, model)
    if not np.all(np.isfinite(nu)):
        raise FloatingPointError("non-finite loss gradient")
    return find_violations(Xt, nu, model, starts=default_starts(Xt, rng, base), time_budget=time_budget,
                           rng=rng, max_rounds=REFUTE_ROUNDS)


def refute(
    net: Network,
    data: Dataset,
    model: Model,
    *,
    time_budget: float = DEFAULT_TIME_BUDGET,
    rng: np.random.Generator | int | None = 0,
    info: dict | None = None,
    program: bool = True,
    search: Refutation | None = None,
):
    """A strictly better network than ``net`` from violated dual constraints, or None.

    Returns (kind, better_network, objective) with objective = model.objective(better_network)
    and objective + objective_error_bound(better) < L(net) - objective_error_bound(net); None
    when no violation is found or no candidate is strictly better. Candidates, from the merged
    network (one neuron per cone, paper Prop. 1; same predictions):

    * ``"added neuron along a violated dual constraint"``: a line search on the size of one new
      neuron, along each of the LINE_SEARCH_DIRECTIONS best violated directions;
    * ``"k neurons added along violated dual constraints (greedy)"``: from the best of those,
      up to GREEDY_NEURONS more neurons, each along a violation at the current gradient;
    * ``"convex program on the network's and the violated patterns (Thm. 3)"``: the program over
      the network's activation patterns plus the PROGRAM_VIOLATED most violated patterns found and
      those of the greedy neurons,
      mapped back (eq. 9); a solver failure only means no candidate from this route (recorded
      in ``info``).

    The best evaluated candidate is kept. ``time_budget`` (seconds) is soft: the search gets
    SEARCH_SHARE of it, the program is started only while time is left and then runs to its
    end (it cannot be interrupted; on n = 3 000 samples it can take tens of seconds). ``info`` (a dict), when given, receives "refutation" (a Refutation),
    "candidates" (kind -> objective), "errors" and "refuted_s" (seconds until the first strictly
    better network was evaluated). ``program=False`` skips the convex program. ``search``: the
    result of :func:`network_search` on this network, already run with the generator passed as
    ``rng`` (verify runs it before its bound); the same network is then found as without it.
    """
    info = {} if info is None else info
    info.setdefault("errors", [])
    info["candidates"] = {}
    t0 = time.perf_counter()
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    L0 = objective(net, data, model)
    if not np.isfinite(L0):
        info["errors"].append("the objective of the given network is not finite")
        return None
    err0 = objective_error_bound(net, data, model)
    Xt = model.augment(data.X)
    base = merged(scaled(net, model), Xt, model)
    if search is None:
        try:
            search = _search(net, data, model, Xt, base, SEARCH_SHARE * time_budget, rng)
        except FloatingPointError as exc:
            info["errors"].append(str(exc))
            return None
    ref = search
    info["refutation"] = ref
    if not ref.violated:
        return None

    cands = []
    single = None
    for j in range(min(LINE_SEARCH_DIRECTIONS, ref.directions.shape[1])):
        r = line_search_neuron(base, data, model, ref.directions[:, j], int(ref.signs[j]), L0)
        if r is not None:
            cands.append(("added neuron along a violated dual constraint", r[1]))
            if "refuted_s" not in info and _strictly_better(r[1], data, model, L0, err0):
                info["refuted_s"] = time.perf_counter() - t0
            if single is None or r[0] < single[0]:
                single = r
    extra = []  # directions of the greedily added neurons
    if single is not None:
        cur_val, cur = single
        added = 1
        for _ in range(GREEDY_NEURONS):
            left = SEARCH_SHARE * 2 * time_budget - (time.perf_counter() - t0)
            if left <= 0:
                break
            nu_c = search_dual_point(cur, data, model)
            st = np.hstack([ref.directions, default_starts(Xt, rng, cur)])
            rc = find_violations(Xt, nu_c, model, starts=st, time_budget=left, rng=rng, max_rounds=GREEDY_ROUNDS)
            if not rc.violated:
                break
            r = line_search_neuron(cur, data, model, rc.directions[:, 0], int(rc.signs[0]), cur_val)
            if r is None or not r[0] < cur_val:
                break
            cur_val, cur = r
            added += 1
            extra.append(rc.directions[:, 0])
        if added > 1:
            cands.append((f"{added} neurons added along violated dual constraints (greedy)", cur))
    info["greedy_neurons"] = len(extra)
    try:
        if not program:
            raise _Skipped
        if time.perf_counter() - t0 > time_budget:
            raise TimeoutError("time budget used before the convex program")
        Ub = base.Ut()
        own = (Xt @ Ub > 0).T  # one pattern per neuron, the neuron its hint
        Dv = np.hstack([ref.directions[:, :PROGRAM_VIOLATED]] + [e[:, None] for e in extra])
        viol = (Xt @ Dv > 0).T
        P, first = np.unique(np.vstack([own, viol]), axis=0, return_index=True)
        H = np.vstack([Ub.T, Dv.T])[first]
        keep = P.any(axis=1)
        better = program_on_patterns(data, model, P[keep], H[keep])
        cands.append(("convex program on the network's and the violated patterns (Thm. 3)", better))
    except _Skipped:
        pass
    except Exception as exc:  # noqa: BLE001 - a failure here only means no candidate from this route
        info["errors"].append(f"{type(exc).__name__}: {exc}")

    best = None
    for kind, cand in cands:
        try:
            val = objective(cand, data, model)
            err = objective_error_bound(cand, data, model)
        except Exception as exc:  # noqa: BLE001 - an unevaluable candidate is no candidate
            info["errors"].append(f"{type(exc).__name__}: {exc}")
            continue
        if not (np.isfinite(val) and np.isfinite(err)):
            continue
        info["candidates"][kind] = min(float(val), info["candidates"].get(kind, math.inf))
        if val + err < L0 - err0 and (best is None or val < best[2]):
            best = (kind, cand, float(val))
            info.setdefault("refuted_s", time.perf_counter() - t0)
    info["seconds"] = time.perf_counter() - t0
    if best is not None:
        best[1].meta["refutation"] = ref.summary()
    return best
