"""Better activation patterns when they cannot all be enumerated (docs/method.md section 9).

The convex program over N random Gaussian patterns is only as good as its patterns, and for
d >= 3 random patterns are poor (docs/method.md section 9: 0.0200 over 250 random patterns against 0.0073 for
a gradient-trained network). Two sources of better patterns, both standard:

* **gradient warm starts** (paper Thm. 3): a network trained by gradient descent is a feasible
  point of the program over its own activation patterns, so the program over those patterns
  is at least as good as the trained network (and usually strictly better: the network is
  only approximately stationary and its weights are not balanced);
* **dual-guided column generation** (Ergen & Pilanci, Alg. 1): at the program's solution, a unit
  ut with |lam' (Xt ut)_+| > beta N(ut) is a violated dual constraint, and its pattern improves
  the program. Exact pricing needs the whole arrangement (colgen.py); here a cell-wise ascent
  from many starts (data points, random directions, the current neurons) finds violated
  constraints heuristically.

The objective only decreases along the way: every round keeps the active patterns of the
previous solution, so the previous optimum stays feasible. Nothing here is a certificate:
the search stops when it finds no violated constraint, which does not prove that none exists.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .errors import SolverError
from .model import Dataset, Model, Network, objective, predict, unique_rows
from .parallel import run_tasks
from .pricing import restricted_pricing

#: A constraint counts as violated when |lam' (Xt u)_+| / N(u) > beta (1 + SEARCH_TOL).
SEARCH_TOL = 1e-4
#: Starts of the cell-wise ascent per round: data rows and random directions (each at most).
SEARCH_DATA_STARTS = 256
SEARCH_RANDOM_STARTS = 256
#: Ascent steps per start, and violating patterns added per sign and round.
SEARCH_ASCENT_STEPS = 50
SEARCH_ADD_PER_ROUND = 16
#: The current neurons also start the ascent perturbed by this much (relative).
SEARCH_JITTER = 1e-2
#: The ascent's starts are cut into chunks of this many columns, one task each (both signs):
#: the partition depends only on the number of starts, so the patterns found are the same
#: whatever the number of worker processes (``jobs``, cvxrelu/parallel.py).
SEARCH_CHUNK = 128
#: With REFRESH_HINTS, after each program its neurons become the hints of their patterns
#: (PatternHints.renote_neurons) for the next program's row screening, in place of the
#: directions noted first (a warm start of the screening across rounds). Off: measured at
#: n = 2 000, d = 10, 100 patterns (docs/benchmarks.md) every program was solved in one
#: screening round either way, in 26 / 25 / 24 IPM iterations with it against 26 / 24 / 22
#: without, to the same objectives.
REFRESH_HINTS = False
#: The warm starts' optimizer: "lbfgs" (scipy's L-BFGS-B on L(theta), at most WARM_LBFGS_ITERS
#: iterations) or "adam" (full-batch Adam, WARM_ITERS iterations at WARM_LR). At n = 20 000,
#: d = 10, width 100 (docs/benchmarks.md): L-BFGS 500 iterations 328.550 in 12 s CPU, Adam
#: 2 000 iterations 332.714 in 35 s (Adam's best of 5 starts of 3 000: 328.615).
WARM_METHOD = "lbfgs"
WARM_LBFGS_ITERS = 500
WARM_ITERS = 2000
WARM_LR = 1e-2
#: Gradient warm starts per search ...
WARM_RUNS = 2
#: ... and one only from this many samples on: at n = 20 000 a warm start costs a good part of
#: the first program's time, and the search's own rounds improve on its patterns.
WARM_ONE_RUN_N = 10_000
#: The search's default time budget (no ``time_limit`` given): no round starts after
#: SEARCH_BUDGET_FACTOR times the seconds the warm starts and the first program took, nor
#: before SEARCH_MIN_SECONDS. Small problems run their rounds out as before; at n = 20 000 the
#: search ends in about 2.5 times its first program's time instead of running 30 rounds.
SEARCH_BUDGET_FACTOR = 1.5
SEARCH_MIN_SECONDS = 60.0


# --------------------------------------------------------------------------- gradient training


def _unpack(theta, shapes):
    out, a = {}, 0
    for k, shp in shapes.items():
        size = int(np.prod(shp))
        out[k] = theta[a:a + size].reshape(shp)
        a += size
    return out


def _loss_and_grads(params, data: Dataset, model: Model):
    """L(theta) as the warm starts see it (loss + beta/2 sum of squares of the penalized
    weights, the weight-decay form of docs/method.md section 1) and its gradient."""
    X, y, beta = data.X, data.y, model.beta
    loss = model.loss_fn
    Z = X @ params["U"]
    if "b" in params:
        Z += params["b"][None, :]
    H = np.maximum(Z, 0.0)
    yhat = H @ params["alpha"] + (params["c"][0] if "c" in params else 0.0)
    g = loss.gradient(yhat, y)
    dZ = (g[:, None] * params["alpha"][None, :]) * (Z > 0)
    grads = {"U": X.T @ dZ + beta * params["U"], "alpha": H.T @ g + beta * params["alpha"]}
    val = float(loss.value(yhat, y)) + 0.5 * beta * (float(np.sum(params["U"] ** 2))
                                                     + float(params["alpha"] @ params["alpha"]))
    if "b" in params:
        grads["b"] = dZ.sum(axis=0) + (beta * params["b"] if model.hidden_bias == "penalized" else 0.0)
        if model.hidden_bias == "penalized":
            val += 0.5 * beta * float(params["b"] @ params["b"])
    if "c" in params:
        pen_c = model.output_bias == "penalized"
        grads["c"] = np.array([g.sum() + (beta * params["c"][0] if pen_c else 0.0)])
        if pen_c:
            val += 0.5 * beta * float(params["c"][0] ** 2)
    return val, grads


def train_gradient(data: Dataset, model: Model, width: int, seed: int, iters: int | None = None,
                   lr: float = WARM_LR, method: str | None = None) -> Network:
    """A gradient-trained network on L(theta) (docs/method.md section 1), any loss and bias
    modes; a warm start only. ``method``: "lbfgs" or "adam" (WARM_METHOD by default), at most
    ``iters`` iterations (WARM_LBFGS_ITERS / WARM_ITERS by default).

    Initialization: u_j, b_j ~ N(0, 1/d), alpha_j ~ N(0, 1/width), c = 0.
    """
    method = WARM_METHOD if method is None else method
    if method not in ("lbfgs", "adam"):
        raise ValueError(f"method must be 'lbfgs' or 'adam', got {method!r}")
    rng = np.random.default_rng(seed)
    d = data.X.shape[1]
    params = {"U": rng.standard_normal((d, width)) / np.sqrt(d),
              "alpha": rng.standard_normal(width) / np.sqrt(width)}
    if model.has_hidden_bias:
        params["b"] = rng.standard_normal(width) / np.sqrt(d)
    if model.output_bias != "none":
        params["c"] = np.zeros(1)
    if method == "lbfgs":
        from scipy.optimize import minimize

        shapes = {k: v.shape for k, v in params.items()}
        theta0 = np.concatenate([v.ravel() for v in params.values()])

        def f(theta):
            val, grads = _loss_and_grads(_unpack(theta, shapes), data, model)
            return val, np.concatenate([grads[k].ravel() for k in shapes])

        it = WARM_LBFGS_ITERS if iters is None else iters
        with np.errstate(all="ignore"):
            res = minimize(f, theta0, jac=True, method="L-BFGS-B", options={"maxiter": it, "maxfun": 2 * it})
        if np.all(np.isfinite(res.x)):  # else the initialization stays (a warm start only)
            params = {k: v.copy() for k, v in _unpack(res.x, shapes).items()}
    else:
        m1 = {k: np.zeros_like(v) for k, v in params.items()}
        m2 = {k: np.zeros_like(v) for k, v in params.items()}
        for t in range(1, (WARM_ITERS if iters is None else iters) + 1):
            _, grads = _loss_and_grads(params, data, model)
            for k, v in params.items():
                m1[k] = 0.9 * m1[k] + 0.1 * grads[k]
                m2[k] = 0.999 * m2[k] + 0.001 * grads[k] ** 2
                v -= lr * (m1[k] / (1 - 0.9**t)) / (np.sqrt(m2[k] / (1 - 0.999**t)) + 1e-12)
    return Network(U=params["U"], alpha=params["alpha"], b=params.get("b"),
                   c=float(params["c"][0]) if "c" in params else None)


# --------------------------------------------------------------------------- heuristic pricing


def ascend(Xt: np.ndarray, nu: np.ndarray, starts: np.ndarray, steps: int = SEARCH_ASCENT_STEPS):
    """Cell-wise ascent of f(u) = nu' (Xt u)_+ on the unit sphere from each column of ``starts``.

    On the cell of u, f is linear with gradient h = Xt' D(u) nu, maximized over the sphere at
    h / ||h||; move there while f increases (a fixed-point iteration, one matrix product per
    step for all starts). Returns (U (dt, S) unit directions, f (S,)).
    """
    U = starts / np.maximum(np.linalg.norm(starts, axis=0), 1e-300)
    f = nu @ np.maximum(Xt @ U, 0.0)
    active = np.ones(U.shape[1], dtype=bool)
    for _ in range(steps):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        H = Xt.T @ ((Xt @ U[:, idx] > 0) * nu[:, None])
        Un = H / np.maximum(np.linalg.norm(H, axis=0), 1e-300)
        fn = nu @ np.maximum(Xt @ Un, 0.0)
        better = fn > f[idx] + 1e-12 * np.abs(f[idx])  # strict increase, beyond rounding
        U[:, idx[better]] = Un[:, better]
        f[idx[better]] = fn[better]
        active[idx[~better]] = False
    return U, f


def ascent_starts(Xt: np.ndarray, net: Network, rng, starts: int | None = None) -> np.ndarray:
    """Starts of the cell-wise ascent: data rows, random directions, the network's live neurons
    and the same neurons perturbed by SEARCH_JITTER (relative); columns of a (dt, S) array.
    ``starts``: this many data rows and this many random directions (default
    SEARCH_DATA_STARTS and SEARCH_RANDOM_STARTS)."""
    n = Xt.shape[0]
    k_rows = SEARCH_DATA_STARTS if starts is None else starts
    k_rand = SEARCH_RANDOM_STARTS if starts is None else starts
    rows = Xt[rng.choice(n, min(n, k_rows), replace=False)].T
    Ut = net.Ut()
    live = Ut[:, np.linalg.norm(Ut, axis=0) > 0]
    return np.hstack([rows, rng.standard_normal((Xt.shape[1], k_rand)), live,
                      live + SEARCH_JITTER * np.linalg.norm(live, axis=0) * rng.standard_normal(live.shape)])


def _ascend_task(task):
    """One chunk of the ascent (a module-level function: run_tasks pickles it by reference)."""
    Xt, nu, starts = task
    return ascend(Xt, nu, np.array(starts, dtype=np.float64))


def violated_patterns(Xt: np.ndarray, nu: np.ndarray, model: Model, starts: np.ndarray,
                      known: set, k: int = SEARCH_ADD_PER_ROUND, directions: list | None = None,
                      jobs: int | None = 1):
    """New patterns of heuristically found violated dual constraints, and the largest ratio found.

    Returns (list of (n,) bool patterns, max over the search of |nu' (Xt u)_+| / (beta N(u))).
    The ascent's end point of each pattern (a direction in its cell) is appended to
    ``directions`` when given. The ascents run as tasks of SEARCH_CHUNK starts per sign on
    ``jobs`` worker processes (cvxrelu/parallel.py run_tasks); each start's ascent is
    independent of the others, so the result does not depend on ``jobs``.
    """
    out, best = [], 0.0
    S = starts.shape[1]
    cuts = list(range(0, S, SEARCH_CHUNK)) or [0]
    tasks = [(Xt, sg * nu, starts[:, a:a + SEARCH_CHUNK]) for sg in (1.0, -1.0) for a in cuts]
    parts = run_tasks(_ascend_task, tasks, jobs=jobs)
    for h, sg in enumerate((1.0, -1.0)):
        mine = parts[h * len(cuts):(h + 1) * len(cuts)]
        U = np.hstack([u for u, _ in mine])
        f = np.concatenate([v for _, v in mine])
        N = model.neuron_norm(U)
        ratio = np.where(N > 0, f / np.maximum(N, 1e-300), 0.0) / model.beta
        best = max(best, float(np.max(ratio, initial=0.0)))
        added = 0
        for j in np.argsort(-ratio, kind="stable"):
            if ratio[j] <= 1 + SEARCH_TOL or added >= k:
                break
            pat = Xt @ U[:, j] > 0
            key = pat.tobytes()
            if key in known or not pat.any():
                continue
            known.add(key)
            out.append(pat)
            if directions is not None:
                directions.append(U[:, j].copy())
            added += 1
    return out, best


class PatternHints:
    """A direction in each pattern's cell, by pattern: the first one noted (its generator, a
    neuron using it, an ascent's end point). The interior-point method's row screening starts
    from these (program.solve_program's ``hints``)."""

    def __init__(self, dt: int):
        self.dt = dt
        self._of: dict = {}

    def note(self, patterns, directions) -> None:
        for q, u in zip(patterns, directions):
            self._of.setdefault(q.tobytes(), np.asarray(u, dtype=np.float64))

    def note_neurons(self, Xt: np.ndarray, Ut: np.ndarray) -> np.ndarray:
        """Note each neuron (a column of Ut) for its own pattern; returns those patterns."""
        Q = (Xt @ Ut > 0).T
        self.note(Q, Ut.T)
        return Q

    def renote_neurons(self, Xt: np.ndarray, Ut: np.ndarray) -> None:
        """Note each live neuron (a column of Ut) for its own pattern, replacing the direction
        noted before: a solution's neuron lies in its cell, near the facets that bind there,
        and the next program's row screening starts from the rows nearest it."""
        live = np.linalg.norm(Ut, axis=0) > 0
        for q, u in zip((Xt @ Ut[:, live] > 0).T, Ut[:, live].T):
            self._of[q.tobytes()] = np.array(u, dtype=np.float64)

    def of(self, patterns) -> np.ndarray:
        """(len(patterns), dt): the noted directions, NaN rows where none is known."""
        nan = np.full(self.dt, np.nan)
        return np.array([self._of.get(q.tobytes(), nan) for q in patterns]).reshape(len(patterns), self.dt)


# --------------------------------------------------------------------------- the search


@dataclass
class SearchResult:
    patterns: np.ndarray  # the last program's pattern set
    active: np.ndarray  # the patterns its solution uses
    network: Network
    objective: float
    rounds: int
    history: list = field(default_factory=list)
    sources: dict = field(default_factory=dict)
    max_violation_found: float = 0.0
    stopped: str = ""
    time_limit: float | None = None  # the one applied (given, or the default budget)
    time_limit_automatic: bool = False


def pattern_search(
    data: Dataset,
    model: Model,
    patterns: np.ndarray,
    solve_on_patterns: Callable[[np.ndarray, np.ndarray], tuple[Network, np.ndarray]],
    *,
    hints: np.ndarray | None = None,
    seed: int = 0,
    max_rounds: int = 30,
    first: tuple[Network, np.ndarray] | None = None,
    time_limit: float | None = None,
    progress=None,
    jobs: int | None = 1,
) -> SearchResult:
    """Improve the program's pattern set by warm starts and dual-guided column generation.

    Parameters
    ----------
    patterns : (p, n) bool, the starting patterns (e.g. sampled).
    solve_on_patterns : (P, H) -> (network from eq. 9, (len(P),) bool mask of the patterns it
        uses); H (len(P), dt) holds a direction in each pattern's cell (its generator: a sampled
        direction, a warm start's neuron, an ascent's end point), NaN where none is known.
    hints : (p, dt) directions generating ``patterns`` (None: unknown).
    first : the solution over ``patterns`` when the caller already has it; then the warm starts'
        patterns join the ones it uses. Without it, the first program is over the warm starts'
        patterns and those of ``patterns`` whose dual constraint the best warm start violates
        (one solve fewer, and a first program that does not grow with p: at n = 20 000 the
        program over 100 sampled patterns alone costs a minute and is 14 times worse than a
        gradient-trained network, docs/benchmarks.md).
    max_rounds : rounds of dual-guided column generation after the warm starts.
    time_limit : start no new round after this many seconds (inf: no limit; None: the default
        budget, max(SEARCH_MIN_SECONDS, SEARCH_BUDGET_FACTOR x the seconds to the first program)).
    jobs : worker processes for the heuristic pricing (violated_patterns); same result whatever it is.

    The warm starts have width min(max(p, 16), 256) (p sampled patterns). Every round keeps the
    patterns its previous solution uses, so the program's optimum cannot rise; the network
    returned is nonetheless the best one evaluated (solves are accurate to their tolerance only),
    and a solver failure after the first solve ends the search with the best so far.
    """
    import time

    t0 = time.perf_counter()
    Xt = model.augment(data.X)
    rng = np.random.default_rng(seed + 7919)
    P = np.asarray(patterns, dtype=bool)
    width = int(min(max(P.shape[0], 16), 256))
    sources = {"sampled": int(P.shape[0]), "gradient": 0, "dual_search": 0, "warm_width": width}
    history = []
    best = None
    stopped = "max_rounds"
    best_ratio = 0.0
    rounds = 0
    net = used = active = L = None
    warm = []
    automatic = False

    dt = Xt.shape[1]
    book = PatternHints(dt)
    if hints is not None:
        hints = np.asarray(hints, dtype=np.float64)
        if hints.shape != (P.shape[0], dt):
            raise ValueError(f"hints must be (p, dt) = ({P.shape[0]}, {dt}), got {hints.shape}")
        book.note(P, hints)

    def step(Pnew, entry):
        nonlocal P, net, used, active, L, best
        P = Pnew
        net, used = solve_on_patterns(P, book.of(P))
        active = P[used]
        if REFRESH_HINTS:
            book.renote_neurons(Xt, net.Ut())
        L = objective(net, data, model)
        if best is None or L < best[0]:
            best = (L, net, P, active)
        history.append({**entry, "patterns": int(P.shape[0]), "objective": L,
                        "seconds": time.perf_counter() - t0})

    if first is not None:
        net, used = first
        active = P[used]
        L = objective(net, data, model)
        best = (L, net, P, active)
        history.append({"round": 0, "patterns": int(P.shape[0]), "objective": L, "source": "sampled",
                        "seconds": 0.0})
    try:
        # gradient warm starts (Thm. 3): the program over a network's own patterns is at least
        # as good as the network
        runs = 1 if Xt.shape[0] >= WARM_ONE_RUN_N else WARM_RUNS
        sources["warm_runs"] = runs
        warm = [train_gradient(data, model, width, seed=seed * 1000 + r) for r in range(runs)]
        # the warm starts are networks too: with an exact solve the program beats them (Thm. 3),
        # with an inexact one (a large program stopped short) it may not, so they compete
        warm_L = [objective(g, data, model) for g in warm]
        warm_Q = [book.note_neurons(Xt, g.Ut()) for g in warm]  # each neuron's pattern, in neuron order
        for g, Lg, Q in zip(warm, warm_L, warm_Q):
            if np.isfinite(Lg) and (best is None or Lg < best[0]):
                Pg = unique_rows(Q[Q.any(axis=1)])
                if Pg.shape[0]:
                    best = (Lg, g, Pg, Pg)
        if first is not None:
            base = active
        else:
            # the sampled patterns that can improve on the best warm start: those whose dual
            # constraint its gradient violates (exact per cell). At small n that is most of them;
            # at n = 20 000 random patterns are far worse than a trained network's (the program
            # over 100 of them: 5 367 against 386) and few are kept, so the first program does
            # not grow with --patterns
            wbest = warm[int(np.argmin(np.where(np.isfinite(warm_L), warm_L, np.inf)))]
            lam = model.loss_fn.gradient(predict(wbest, data.X), data.y)
            _, _, viol = restricted_pricing(Xt, lam, P, model.beta)
            base = P[np.asarray(viol, dtype=int)]
            sources["sampled_kept"] = int(base.shape[0])
        known = {row.tobytes() for row in base}
        new = []
        for Q in warm_Q:
            for q in Q:
                if q.any() and q.tobytes() not in known:
                    known.add(q.tobytes())
                    new.append(q)
        sources["gradient"] = len(new)
        if first is None and not new and base.shape[0] == 0:
            base = P  # nothing to go on (every warm-start neuron dead): all sampled patterns
        if new or first is None:
            step(np.vstack([base, np.array(new)]) if new else base,
                 {"round": 0, "source": "gradient warm starts" if first is not None
                  else "gradient warm starts + sampled patterns they violate"})
        if time_limit is None:
            time_limit = max(SEARCH_MIN_SECONDS, SEARCH_BUDGET_FACTOR * (time.perf_counter() - t0))
            automatic = True
        task = progress.task("Pattern search (rounds)", total=max_rounds) if progress else None
        for rounds in range(1, max_rounds + 1):
            if time.perf_counter() - t0 > time_limit:
                rounds -= 1
                stopped = f"time limit ({time_limit:g} s)"
                break
            lam = model.loss_fn.gradient(predict(net, data.X), data.y)
            dirs = []
            found, ratio = violated_patterns(Xt, lam, model, ascent_starts(Xt, net, rng),
                                             {row.tobytes() for row in active}, directions=dirs, jobs=jobs)
            book.note(found, dirs)
            best_ratio = max(best_ratio, ratio)
            if task:
                task(1)
                if hasattr(task, "note"):
                    task.note(f"objective {best[0]:.6g}")
            if not found:
                stopped = "no violated constraint found"
                break
            sources["dual_search"] += len(found)
            step(np.vstack([active, np.array(found)]), {"round": rounds, "max_violation_found": ratio})
        if task and hasattr(task, "close"):
            task.close()
    except SolverError as exc:
        if best is None:
            raise
        stopped = f"solver error ({exc}); the best network so far is kept"
    L, net, P, active = best
    sources["best_from"] = "gradient warm start" if any(net is g for g in warm) else "convex program"
    return SearchResult(P, active, net, float(L), rounds, history, sources, best_ratio, stopped, time_limit,
                        automatic)
