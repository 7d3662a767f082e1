"""Row screening for the structured interior point: a cutting-plane loop over the cone rows.

Of the n rows that shape a pattern's cone only a handful are facets; :func:`solve_ipm_screened`
solves relaxations that keep a few rows per pattern (chosen near a hint direction of each
pattern's cell) and adds violated ones until none is left (docs/benchmarks.md measures it).
The IPM core (solvers/ipm.py) is called as ``ipm.solve_ipm`` so that tests can substitute it.
"""

from __future__ import annotations

import time

import numpy as np

from ..convex import SolverStatus
from ..errors import SolverError
from . import ipm

#: Row screening (solve_ipm_screened): the rows kept per pattern at first, those whose
#: hyperplane lies nearest the pattern's hint direction (in angle) ...
SCREEN_ROWS = 128
#: ... the rows added per pattern and round to a pattern with a violated row (its rows of
#: smallest margin: the violated ones first, then the nearly active) ...
SCREEN_ADD = 64
#: ... where a row counts as violated when sigma_k xn_k' u_b < -SCREEN_TOL max(1, max_b ||u_b||)
#: (xn_k the unit row), the level of the solver's own primal feasibility tolerance ...
SCREEN_TOL = 1e-8
#: ... and the rounds of the cutting-plane loop before the last relaxation is returned as is.
SCREEN_MAX_ROUNDS = 12


def screen_violations(Xt: np.ndarray, patterns: np.ndarray, U: np.ndarray, tol: float = SCREEN_TOL):
    """Per pattern, the (unit-row) margins of its two blocks' worst row: (p, n) array of
    min(sigma_k xn_k' w_i, sigma_k xn_k' v_i) / max(1, max_b ||u_b||), and the violated mask
    (below -tol); zero rows are never violated."""
    Xt = np.asarray(Xt, dtype=np.float64)
    D = np.asarray(patterns, dtype=bool)
    p = D.shape[0]
    norms = np.linalg.norm(Xt, axis=1)
    Xn = Xt / np.where(norms > 0, norms, 1.0)[:, None]
    sig = np.where(D, 1.0, -1.0)
    scale = max(1.0, float(np.max(np.linalg.norm(U, axis=1), initial=0.0)))
    mw = sig * (U[:p] @ Xn.T)
    mv = sig * (U[p:] @ Xn.T)
    marg = np.minimum(mw, mv) / scale
    return marg, marg < -tol


def solve_ipm_screened(
    Xt: np.ndarray,
    y: np.ndarray,
    patterns: np.ndarray,
    beta: float,
    hints: np.ndarray,
    *,
    rows0: int = SCREEN_ROWS,
    add: int = SCREEN_ADD,
    tol: float = SCREEN_TOL,
    max_rounds: int = SCREEN_MAX_ROUNDS,
    **kwargs,
) -> ipm.IPMResult:
    """``solve_ipm`` by row screening: a cutting-plane loop over the cone rows.

    Of the n rows that shape pattern i's cone {u : sigma_k xt_k' u >= 0}, a handful are facets
    (an arrangement's cell in R^dt has O(dt) of them on average); the rest are redundant, yet
    each costs the interior-point method a cone pair per block, 2pn in all, and the method's
    iterations grow with them (docs/benchmarks.md). This solves the relaxation that keeps, per
    pattern, the ``rows0`` rows whose hyperplanes lie nearest ``hints[i]`` (a direction in the
    pattern's cell, e.g. its generator or a trained neuron), then gives each pattern with a
    violated row its ``add`` rows of smallest margin (violated first) and solves again, until
    the solution violates no row (``screen_violations``) or ``max_rounds`` relaxations were
    solved. A relaxation's solution that violates no row is
    optimal for the full program (it is feasible, and no worse than the full optimum); after
    ``max_rounds`` the last one is returned with status "... (rows still violated)" and the
    caller's own evaluation and polish (which checks every row) take it from there.

    Returns the last solve's IPMResult; its "iterations" and "solve_time_s" count all rounds, and
    ``info`` gains "screening": rounds, rows per pattern, violated rows left, per-round history.
    """
    t0 = time.perf_counter()
    Xt = np.asarray(Xt, dtype=np.float64)
    D = np.asarray(patterns, dtype=bool)
    p, n = D.shape
    G = np.asarray(hints, dtype=np.float64)
    if G.shape != (p, Xt.shape[1]):
        raise ValueError(f"hints must be (p, dt) = ({p}, {Xt.shape[1]}), got {G.shape}")
    G = np.where(np.isfinite(G), G, 0.0)  # an unknown hint: rows chosen arbitrarily, then cut
    norms = np.linalg.norm(Xt, axis=1)
    nz = norms > 0
    if p == 0 or not nz.any():
        return ipm.solve_ipm(Xt, y, D, beta, **kwargs)  # nothing to screen
    Xn = Xt / np.where(nz, norms, 1.0)[:, None]
    gn = np.linalg.norm(G, axis=1)
    score = np.abs(G @ Xn.T) / np.where(gn > 0, gn, 1.0)[:, None]
    score[:, ~nz] = np.inf
    r0 = int(max(1, min(rows0, int(nz.sum()))))
    first = np.argpartition(score, r0 - 1, axis=1)[:, :r0]
    keep = np.zeros((p, n), dtype=bool)
    np.put_along_axis(keep, first, True, axis=1)
    keep &= nz[None, :]
    # every pattern keeps a row of each sign it has: with rows of one sign only, a free hidden
    # bias gives the relaxed cone a direction (0, +-b) of zero cost that the full cone lacks,
    # and the relaxation stalls where the full program solves (found in review)
    for sgn in (True, False):
        has = (D & nz[None, :]) if sgn else (~D & nz[None, :])
        miss = np.flatnonzero(has.any(axis=1) & ~(keep & has).any(axis=1))
        for i in miss:
            keep[i, int(np.argmin(np.where(has[i], score[i], np.inf)))] = True
    iters = 0
    history = []
    res = None
    marg = score  # replaced by the margins of each round's solution before it is read

    def finish(out: ipm.IPMResult, left: int, **extra) -> ipm.IPMResult:
        out.info["screening"] = {"rounds": len(history), "rows_initial": r0, "rows_added_per_round": add,
                                 "tolerance": tol, "violated_rows_left": left, "history": history,
                                 "iterations_total": iters, "time_total_s": time.perf_counter() - t0, **extra}
        out.info["iterations"] = iters  # over all rounds (each round's are in the history)
        out.info["solve_time_s"] = time.perf_counter() - t0
        if left:  # the full program's constraints do not all hold: short of its tolerances
            out.info["detail"] = "; ".join(x for x in (out.info.get("detail"), "rows still violated") if x)
            out.info["status"] = SolverStatus.INACCURATE
        return out

    for rnd in range(1, max_rounds + 1):
        counts = keep.sum(axis=1)
        r = int(counts.max())
        short = np.flatnonzero(counts < r)
        if short.size:
            # every pattern gets r rows (one array for all blocks): the short ones their rows
            # nearest the last solution (the hint in the first round); padding with repeats of
            # a row instead (a duplicate constraint, harmless in theory) cost 30 % more iterations
            near = score
            if res is not None:  # margins where the pattern's blocks are non-zero
                bn = np.maximum(np.linalg.norm(res.U[:p], axis=1), np.linalg.norm(res.U[p:], axis=1))
                live = bn > tol * max(1.0, float(bn.max(initial=0.0)))
                near = np.where(live[:, None], marg, score)
            for i in short:
                cand = np.where(keep[i] | ~nz, np.inf, near[i])
                extra = np.argpartition(cand, r - counts[i] - 1)[: r - counts[i]]
                keep[i, extra[np.isfinite(cand[extra])]] = True
        R = np.empty((p, r), dtype=np.intp)
        for i in range(p):
            idx = np.flatnonzero(keep[i])
            R[i, : idx.size] = idx
            R[i, idx.size:] = idx[0]  # only when the data have fewer rows: a duplicate constraint
        try:
            res = ipm.solve_ipm(Xt, y, D, beta, rows=R, **kwargs)
        except SolverError as exc:
            # a relaxation the method cannot solve: the full program instead (its own failure,
            # if any, is the caller's to handle)
            full = ipm.solve_ipm(Xt, y, D, beta, **kwargs)
            iters += int(full.info["iterations"])
            return finish(full, 0, fallback=f"round {rnd}: {exc}; solved unscreened")
        iters += int(res.info["iterations"])
        marg, viol = screen_violations(Xt, D, res.U, tol)
        viol &= ~keep
        nviol = int(viol.sum())
        history.append({"round": rnd, "rows_per_pattern_max": r, "rows_total": int(keep.sum()),
                        "iterations": int(res.info["iterations"]), "status": res.info["status"],
                        "violated_rows": nviol, "seconds": time.perf_counter() - t0})
        if nviol == 0:
            break
        # a pattern with a violated row takes in its `add` rows of smallest margin: the most
        # violated, then the nearly active ones the next solution would likely cross (adding the
        # violated rows alone took four rounds, of 9, 1 and 1 rows, at n = 1 000 / 250 patterns)
        hit = np.flatnonzero(viol.any(axis=1))
        m = np.where(keep[hit] | ~nz[None, :], np.inf, marg[hit])
        k = int(min(add, n))
        worst = np.argpartition(m, k - 1, axis=1)[:, :k]
        sel = np.isfinite(np.take_along_axis(m, worst, axis=1))
        ii = np.repeat(hit, k).reshape(hit.size, k)
        keep[ii[sel], worst[sel]] = True
    return finish(res, history[-1]["violated_rows"])
