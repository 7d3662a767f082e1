"""solve(): a globally optimal network by convex optimization (docs/method.md sections 2, 7, 9).

Patterns:

* ``exact`` (default when one exact pricing of every cell is estimated under
  EXACT_PRICING_SECONDS): column generation (colgen.py). The program is solved on a growing
  working set; the exact engine prices every cell, so the result is optimal over **all**
  patterns, with a certified lower bound.
* ``sampled`` (``patterns=N``, or DEFAULT_SAMPLED_PATTERNS when exact pricing does not fit,
  with the reason in the result): the program over the patterns of N Gaussian directions
  (deduplicated), then, with ``search``, a pattern search (search.py: gradient warm starts and
  dual-guided column generation). Optimal over its final patterns (checked per cell); a lower
  bound is certified only when every cell can still be priced.

The network is read off the solution with docs/method.md eq. (7.1), then (cvxrelu.reductions) reduced to at most n + 1 neurons without
changing predictions or penalty (Caratheodory, Lemma 1 / Prop. 6), cleared of interior-point
leftovers (neurons below PRUNE_REL of the largest, and neurons inactive on every sample) and
merged per cone, each step kept only if L does not rise beyond OBJECTIVE_SLACK_REL. Constants
carried by neurons (u = 0) go into c when there is an output bias (reductions.constant_to_c);
with a free hidden bias and no output bias one bias neuron (u = 0, b = B a power of two,
alpha = const / B, CONSTANT_BIAS) carries the constant. ``neurons`` in the result counts the
neurons that can change a prediction (reductions.live_neurons).
"""

from __future__ import annotations

import sys
import time
import types
from dataclasses import dataclass, field

import numpy as np

from .arrangements import estimate_cells, sample_patterns
from .certificate import DEFAULT_TIME_LIMIT, DEFAULT_TOL, Certificate, Status, bound_cost, check_options, verify
from .colgen import column_generation
from .errors import InputError, SolverError
from .model import Dataset, Model, Network, objective, predict, unique_rows
from .parallel import resolve_jobs
from .pricing import restricted_pricing
from .program import SOLVERS, network_from_blocks, solve_program
from .records import jsonable
from .reductions import (  # noqa: F401 - re-exported: solve's post-processing steps
    PRUNE_REL,
    caratheodory_reduce,
    constant_to_c,
    live_neurons,
    merge_cones,
    prune_tiny_neurons,
    set_width,
    snap_kinks_1d,
)
from .search import pattern_search
from .validation import check_labels

#: Blocks with N(w) <= BLOCK_TOL * max N are read as zero when forming the network (eq. 9).
BLOCK_TOL = 1e-9
#: Column generation on the squared loss reads its networks off every block of the program
#: (block threshold 0, not BLOCK_TOL) when the face polish (solvers/polish.py) has not zeroed
#: the interior-point leftovers: they are ~1e-9 of the largest block, but dropping them moved
#: the predictions by 1e-8 and the dual constraint M(lam) / beta by 3e-5 at n = 400 (2-D,
#: penalized / penalized), above the 1e-6 gap the certificate needs: column generation then
#: priced patterns already in its working set and stopped at a 2e-6 gap. The leftovers leave
#: the network only where that does not move the dual point (reductions.prune_tiny_neurons).
KEEP_BLOCKS_SQUARED = True
#: Stop column generation at this relative certified gap.
COLGEN_TOL = 1e-9
#: Column generation also stops when its best relative gap has stalled (colgen.STALL_ROUNDS,
#: STALL_FACTOR) at or below this fraction of the certificate's ``tol``: COLGEN_TOL can lie
#: below the restricted programs' accuracy (breast-cancer slice, squared loss: a gap of 3.1e-9
#: for 29 rounds), and a gap 100 times below ``tol`` leaves the reductions room.
STALL_GAP_FRACTION = 1e-2
#: ... or stalled for longer (colgen.STALL_LONG_ROUNDS) at or below this fraction of ``tol``
#: (planted 1-D data at n = 1e5: near 1e-7 from round 20 on, at tol 1e-6, with 180 rounds left
#: before the limit); still 4 times below it.
STALL_LONG_GAP_FRACTION = 0.25
#: Exact column generation prices every cell in each round: it is used when one pricing is
#: estimated (certificate.bound_cost) at no more than this many seconds.
EXACT_PRICING_SECONDS = 30.0
#: Exact patterns: when verify's certificate of the written network finds a strictly better network, solve takes
#: it (polished on its patterns, the network's and the working set) and certifies again, at most
#: this many times (docs/cli.md, ``adopted_witness``).
ADOPT_ROUNDS = 2
#: Patterns sampled when exact enumeration does not fit and --patterns is not given.
DEFAULT_SAMPLED_PATTERNS = 256


@dataclass
class SolveResult:
    """The network solve writes and its certificate (docs/cli.md, ``solve --json``).

    ``status`` is OPTIMAL exactly when ``certificate`` (certificate.verify on ``network``, with
    the same tolerance verify would use) is, else INCONCLUSIVE; ``lower_bound`` is that
    certificate's, so ``cvxrelu verify OUT --tol TOL`` agrees with ``solve --tol TOL``.
    ``program_lower_bound`` is the bound column generation certified on its own way (exact
    patterns), None with sampled patterns.
    """

    network: Network
    objective: float
    lower_bound: float | None
    patterns: str
    n_patterns: int
    solver: dict
    iterations: int
    seconds: float
    extra: dict = field(default_factory=dict)
    status: Status = Status.INCONCLUSIVE
    tolerance: float = DEFAULT_TOL
    certificate: Certificate | None = None
    program_lower_bound: float | None = None

    def to_dict(self) -> dict:
        from .certificate import relative

        gap = None if self.lower_bound is None else self.objective - self.lower_bound
        cert = self.certificate
        out = {
            "status": self.status.value,
            "objective": self.objective,
            "lower_bound": self.lower_bound,
            "gap": gap,
            "relative_gap": None if gap is None else relative(gap, self.objective),
            "tolerance": self.tolerance,
            "certificate": None if cert is None else {
                "status": cert.status.value, "patterns": cert.patterns, "bound_method": cert.bound_method,
                "dual_ratio_upper": cert.dual_ratio_upper, "dual_ratio_lower": cert.dual_ratio_lower,
                "gap_upper_bound": cert.details.get("gap_upper_bound"), "atol": cert.atol,
                "time_limit": cert.time_limit, "seconds": cert.seconds,
            },
            "program_lower_bound": self.program_lower_bound,
            "neurons": int(np.count_nonzero(live_neurons(self.network))),
            "width": int(self.network.n_neurons),
            "patterns": self.patterns,
            "n_patterns": self.n_patterns,
            "solver": self.solver,
            "iterations": self.iterations,
            "seconds": self.seconds,
        }
        out.update(self.extra)
        return jsonable(out)


def solve(
    data: Dataset,
    model: Model,
    patterns: int | None = None,
    seed: int = 0,
    solver: str = "auto",
    width: int | None = None,
    search: bool = True,
    search_rounds: int = 30,
    search_seconds: float | None = None,
    progress=None,
    tol: float = DEFAULT_TOL,
    time_limit: float = DEFAULT_TIME_LIMIT,
    jobs: int | None = 1,
) -> SolveResult:
    """Train a globally optimal network (exact patterns) or the best over sampled patterns.

    Parameters
    ----------
    patterns : sample this many patterns (Gaussian directions) instead of exact enumeration;
        exact enumeration is also replaced by DEFAULT_SAMPLED_PATTERNS sampled patterns when it
        does not fit (the result says why).
    search : with sampled patterns, improve the pattern set afterwards (search.py: gradient
        warm starts and dual-guided column generation, at most ``search_rounds`` rounds, and
        none started after ``search_seconds`` seconds of search; None: search.py's default
        budget, SEARCH_BUDGET_FACTOR times the time to its first program and at least
        SEARCH_MIN_SECONDS; inf: no limit).
    solver : "auto", "ipm", "clarabel" or "first-order" (program.solve_program).
    width : exactly this many neurons in the returned network.
    jobs : worker processes for the pattern search's pricing (cvxrelu/parallel.py; None or 0:
        all cores); the result does not depend on it.
    tol, time_limit : the certificate of the returned network (certificate.verify with these):
        status OPTIMAL when it closes within ``tol``, else INCONCLUSIVE (also when that
        certificate finds a strictly better network: reported as ``better_network_found``;
        ``cvxrelu verify --witness`` writes it).
    """
    check_options(tol, 0.0, time_limit)
    if solver not in SOLVERS:
        raise InputError(f"--solver must be one of {', '.join(SOLVERS)}, got {solver!r}")
    check_labels(model, data.y)
    t0 = time.perf_counter()
    Xt = model.augment(data.X)
    r, cells = estimate_cells(Xt)
    infos = []

    def on_patterns_used(P, hints=None, accept_almost=False, block_tol=BLOCK_TOL):
        """The program over P: (network of eq. 9, (len(P),) mask of the patterns it uses).

        Empty patterns (no active sample) carry nothing and are left out of the program; the
        mask refers to the rows of the P given. ``hints``: a direction in each pattern's cell
        (the interior-point method's row screening starts from them).
        """
        keep = np.flatnonzero(P.any(axis=1))
        if keep.size == 0:
            keep = np.arange(min(P.shape[0], 1))
        sol = solve_program(Xt, data.y, P[keep], model, solver=solver, progress=progress,
                            hints=None if hints is None else np.asarray(hints)[keep], accept_almost=accept_almost)
        infos.append(sol.solver_info)
        used = np.zeros(P.shape[0], dtype=bool)
        used[keep] = sol.used_patterns(BLOCK_TOL)
        return network_from_blocks(sol.W, sol.V, sol.c, model, block_tol), used

    def on_patterns(P, hints=None):
        # the logistic loss: column generation's intermediate programs keep Clarabel's
        # almost_solved answers (program.solve_program, accept_almost); the final network is
        # polished below. The squared loss keeps every block (KEEP_BLOCKS_SQUARED)
        if model.loss == "squared":
            return on_patterns_used(P, hints, block_tol=0.0 if KEEP_BLOCKS_SQUARED else BLOCK_TOL)[0]
        return on_patterns_used(P, hints, accept_almost=True)[0]

    extra = {}
    cost = bound_cost(data.X, model)
    # one exact pricing (every cell) is affordable: column generation, and a certified bound
    priceable = cost["refusal"] is None and cost["seconds"] <= EXACT_PRICING_SECONDS
    if patterns is None and not priceable:
        # sample (and search), and say why
        patterns = DEFAULT_SAMPLED_PATTERNS
        why = cost["reason"] or (f"exact pricing of every cell is estimated at {cost['seconds']:.2g} s "
                                 f"per round, more than {EXACT_PRICING_SECONDS:g} s")
        extra["why_sampled"] = f"{why}; sampled {patterns} patterns instead"

    if patterns is None:
        cg = column_generation(data, model, on_patterns, tol=COLGEN_TOL, seed=seed, progress=progress,
                               pass_hints=True, stall_gap=STALL_GAP_FRACTION * tol,
                               stall_gap_long=STALL_LONG_GAP_FRACTION * tol,
                               # (the squared loss's programs are solved to full accuracy already)
                               accurate=None if model.loss == "squared" else (
                                   lambda P, h=None: on_patterns_used(P, h)[0]))
        net, lb, n_pat, rounds, kind = cg.network, cg.lower_bound, cg.patterns.shape[0], cg.rounds, "exact"
        extra["history"] = cg.history
        extra["colgen_stopped"] = cg.stopped
        if model.loss != "squared":
            net = polish_final(net, data, model, infos, extra, cg.patterns)
    else:
        if patterns < 1:
            raise InputError(f"--patterns must be >= 1, got {patterns}")
        P, G = sample_patterns(Xt, patterns, seed, return_directions=True)
        nonempty = P.any(axis=1) if P.any() else np.arange(P.shape[0]) < 1
        P, G = P[nonempty], G[nonempty]
        # optimal over all sampled patterns in one solve: random patterns are mostly used at the
        # optimum, so column generation inside the sample re-solves nearly the whole program
        # many times (n = 1000, 250 patterns: 634 s by column generation, 127 s cvxpy)
        rounds = 0
        kind = "sampled"
        extra["sampled_program"] = {"patterns": int(P.shape[0]), "source": "gaussian directions"}
        if search:
            # the search's first program is over the sampled patterns and those of its gradient
            # warm starts together (no separate solve over the sampled ones)
            ts = time.perf_counter()
            res = pattern_search(data, model, P, on_patterns_used, seed=seed, max_rounds=search_rounds,
                                 time_limit=search_seconds, progress=progress, hints=G,
                                 jobs=resolve_jobs(jobs))
            net, P, rounds = res.network, res.patterns, res.rounds
            extra["pattern_search"] = {
                "seconds": time.perf_counter() - ts, "rounds": res.rounds, "stopped": res.stopped,
                "sources": res.sources, "max_violation_found": res.max_violation_found,
                "history": res.history, "time_limit": res.time_limit,
                "time_limit_automatic": res.time_limit_automatic,
                "note": "heuristic pricing: finding no violated constraint does not prove optimality",
            }
        else:
            ts = time.perf_counter()
            net, _ = on_patterns_used(P, G)
            extra["sampled_program"].update(objective=objective(net, data, model),
                                            seconds=time.perf_counter() - ts)
        n_pat = P.shape[0]
        # independent check of optimality over the final pattern set: max over those cells of
        # the dual constraint at the network's own gradient (exact per cell, restricted_pricing);
        # <= 1 (up to the solver's tolerance) iff the network is optimal over those patterns
        lam = model.loss_fn.gradient(predict(net, data.X), data.y)
        M, _, _ = restricted_pricing(Xt, lam, P[P.any(axis=1)], model.beta)
        extra["sample_dual_ratio"] = M / model.beta
        lb = None
    working = cg.patterns if patterns is None else None
    for attempt in range(ADOPT_ROUNDS + 1):
        net = caratheodory_reduce(net, data.X, model)
        net = prune_tiny_neurons(net, data, model)
        net = merge_cones(net, data, model)
        net = snap_kinks_1d(net, data.X, model)
        net = constant_to_c(net, data, model)
        net = set_width(net, width, model)
        L = objective(net, data, model)
        if not np.isfinite(L) or not np.all(np.isfinite(predict(net, data.X))):
            raise SolverError("the solver returned a network with a non-finite objective")
        # the written network's certificate, exactly as verify computes it (docs/cli.md)
        cert = verify(net, data, model, tol=tol, time_limit=time_limit, progress=progress)
        better = cert.witness is not None and cert.witness_objective is not None and cert.witness_objective < L
        if cert.status is Status.OPTIMAL or not better or attempt == ADOPT_ROUNDS or working is None:
            break  # (sampled patterns: the result stays the optimum over its patterns)
        # verify found a strictly better network (e.g. the program on the written network's own
        # patterns, which rows on a kink put in a neighbouring cell): take it, polished over its
        # patterns, the network's and the working set, and certify again
        extra.setdefault("adopted_witness", []).append(
            {"kind": cert.details.get("witness_kind"), "objective_before": float(L),
             "witness_objective": float(cert.witness_objective)})
        own, _ = _live_patterns(net, Xt)
        extra_pats = own if working is None else np.vstack([own, np.asarray(working, dtype=bool)])
        # (its solver record goes with ``final_polish``: ``solver`` stays column generation's)
        net = polish_final(cert.witness, data, model, [], extra, extra_pats)
    if cert.witness is not None:  # said, not taken: solve returns the network of its program
        extra["better_network_found"] = {"kind": cert.details.get("witness_kind"),
                                         "objective": float(cert.witness_objective)}
    status = Status.OPTIMAL if cert.status is Status.OPTIMAL else Status.INCONCLUSIVE
    info = dict(infos[-1]) if infos else {}
    info["calls"] = len(infos)
    extra["rounds"] = rounds  # column generation rounds (exact) or pattern search rounds (sampled)
    extra["estimated_cells"] = cells
    return SolveResult(net, float(L), float(cert.lower_bound), kind, int(n_pat), info,
                       sum(int(i.get("iterations", 0)) for i in infos), time.perf_counter() - t0, extra,
                       status=status, tolerance=float(tol), certificate=cert,
                       program_lower_bound=None if lb is None else float(lb))


def _live_patterns(net: Network, Xt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The activation patterns (rows) of ``net``'s live neurons on the augmented data, and the
    indices of those neurons."""
    Ut = net.Ut()
    live = np.flatnonzero(np.any(Ut != 0, axis=0))
    return (Xt @ Ut[:, live] > 0).T, live


def polish_final(net: Network, data: Dataset, model: Model, infos: list, extra: dict,
                 patterns: np.ndarray | None = None) -> Network:
    """The program on ``net``'s own patterns and ``patterns`` (column generation's last working
    set), solved to full accuracy: the better network.

    Column generation's logistic programs may end ``almost_solved`` (Clarabel's reduced
    tolerances); the optimum over the network's own patterns is at most its objective (each
    neuron lies in its pattern's cell), and the barrier Newton method with its face polish
    (solver ``ipm``: Clarabel when it fails) reaches it to ~1e-12 relative on these few
    patterns. The polished network is kept only when its evaluated objective is lower; a
    solver failure keeps ``net`` (recorded in ``extra["final_polish"]``).
    """
    Xt = model.augment(data.X)
    P, live = _live_patterns(net, Xt)
    if live.size == 0:
        return net
    Ut = net.Ut()
    P, first = unique_rows(P, return_index=True)
    keep = P.any(axis=1)
    P, hints = P[keep], Ut[:, live[first[keep]]].T
    if patterns is not None and len(patterns):
        # the working set's other patterns, without a known interior point (NaN: found by LP)
        own = {row.tobytes() for row in P}
        more = np.array([row for row in np.asarray(patterns, dtype=bool) if row.any() and row.tobytes() not in own])
        if more.size:
            P = np.vstack([P, more])
            hints = np.vstack([hints, np.full((more.shape[0], hints.shape[1]), np.nan)])
    if P.shape[0] == 0:
        return net
    t = time.perf_counter()
    L0 = objective(net, data, model)
    record = {"patterns": int(P.shape[0]), "objective_before": L0}
    try:
        sol = solve_program(Xt, data.y, P, model, solver="ipm", hints=hints)
    except SolverError as exc:
        record["error"] = str(exc)
        extra["final_polish"] = record
        return net
    infos.append(sol.solver_info)
    out = network_from_blocks(sol.W, sol.V, sol.c, model, BLOCK_TOL)
    L1 = objective(out, data, model)
    record.update(objective_after=L1, seconds=time.perf_counter() - t, kept=bool(L1 < L0))
    extra["final_polish"] = record
    return out if L1 < L0 else net


class _CallableModule(types.ModuleType):
    """``cvxrelu.solve`` is both this module and the function: Python's ``from cvxrelu import
    solve`` imports the submodule and binds it, whatever the package exports. Calling the module
    calls :func:`solve`, so ``cvxrelu.solve(data, model)`` works however it was imported
    (docs/api.md)."""

    def __call__(self, *args, **kwargs):
        return solve(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
