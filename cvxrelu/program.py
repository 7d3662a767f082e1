"""The solver-choice policy: the convex program over given patterns, with the chosen backend.

``solve_program`` is the one entry point every caller uses (column generation, the pattern
search, the witness search of verify); it picks the backend (``SOLVERS``) and returns a
:class:`~cvxrelu.convex.ConvexSolution` whatever the backend. The program itself is written in
docs/method.md eq. (2.3); the backends live in cvxrelu/solvers/ (conic.py for Clarabel, ipm.py,
screening.py and ipm_program.py for the structured interior point, first_order.py, polish.py).
"""

from __future__ import annotations

import numpy as np

from .convex import (  # noqa: F401 - re-exported: the program's public names
    ConvexSolution,
    SolverStatus,
    block_predictions,
    convex_objective,
    network_from_blocks,
    network_objective,
)
from .errors import InputError, SolverError
from .model import Model
from .solvers.clarabel import check_settings
from .solvers.compress import compress
from .solvers.conic import PFORM_RATIO, solve_convex_program  # noqa: F401 - re-exported
from .solvers.first_order import solve_first_order
from .solvers.ipm_program import solve_program_ipm
from .solvers.newton import solve_barrier
from .solvers.polish import polish_squared, polished  # noqa: F401 - re-exported
from .solvers.screening import SCREEN_ADD, SCREEN_MAX_ROUNDS, SCREEN_ROWS

SOLVERS = ("auto", "ipm", "clarabel", "first-order")
#: Squared loss, free hidden bias: the program is solved without the all-ones cell, and that
#: answer kept when the cell's dual constraint holds, ||X' lam|| <= beta (1 + ALL_ONES_SLACK)
#: (``_all_ones_ratio``). With the cell, the interior point stalled on every program of the
#: 2-D n = 400 free-bias case (relative gap 0.47 after 27 iterations) and Clarabel took over.
ALL_ONES_SLACK = 1e-9
#: solvers/newton.py's status words in the common SolverStatus vocabulary: only a converged
#: path is "solved"; a path that stopped early (budget, uncentered, dropped degenerate cells)
#: is "inaccurate" and gets Clarabel's second opinion.
BARRIER_STATUS = {"solved": SolverStatus.SOLVED}
#: ``auto`` asks Clarabel for a second answer, when the interior-point method ended short of its
#: tolerances or its polish failed, if the program has at most this many cone rows (2 p n).
CLARABEL_SECOND_OPINION_ROWS = 200_000
#: ... and up to CLARABEL_FALLBACK_ROWS cone rows when the cones are at most this small (1-D data
#: with a bias, or 2 features without): there the interior point stalls on the degenerate optima
#: (kinks at data points) and Clarabel's answer is cheap. Measured on 1-D planted data, n = 10 000
#: (docs/benchmarks.md): solve ended inconclusive at a relative gap of 1.3e-6 in 52 s without it,
#: optimal at 7.5e-9 in 75 s with it.
CLARABEL_SECOND_OPINION_SMALL_CONES = 2
#: ``auto`` falls back to Clarabel when the interior-point method fails only on programs of at
#: most this many cone rows (2 p n); larger ones keep the IPM's best feasible iterate instead.
CLARABEL_FALLBACK_ROWS = 2_000_000
#: ``auto`` leaves the interior-point method for the first-order one when its estimated memory
#: (``ipm_bytes``) exceeds this (the machine has 24 GiB).
IPM_MAX_BYTES = 12 * 2**30
#: With hint directions for the patterns, the interior-point method screens the cone rows
#: (solvers/screening.py, solve_ipm_screened) when the data have more than this many rows (it keeps
#: SCREEN_ROWS = 128 per pattern): at n = 1 000 it halves the time on sampled patterns, at
#: n = 2 000 on a search's warm-start program 59 iterations become 23, at n = 20 000 it is what
#: makes that program solvable at all (docs/benchmarks.md).
SCREEN_MIN_ROWS = 512
#: Programs with planar cones on more rows than this are compressed first (solve_program,
#: solvers/compress.py); below it the backends are fast anyway.
COMPRESS_MIN_ROWS = 2048


def ipm_bytes(n: int, p: int, dt: int, screened: bool = False) -> int:
    """Estimated peak memory of solvers/ipm.py on n samples, p patterns, dt coordinates.

    The dense coupling block (min(n, p dt)^2), the n x p dt factor it is built from (B in the
    Woodbury form, M in the Gram form), and about 30 arrays of the 2p x n cone variables
    (slacks, multipliers, scalings, residuals, directions and their refinements); screened,
    the cone arrays have a few hundred rows per block instead of n, and the row check needs
    four p x n arrays.
    """
    k = min(n, p * dt)
    rows = min(n, SCREEN_ROWS + SCREEN_MAX_ROUNDS * SCREEN_ADD) if screened else n
    return 8 * (2 * k * k + 2 * n * p * dt + 30 * 2 * p * rows + (4 * p * n if screened else 0))


#: The options each backend accepts through ``solve_program(settings=...)``; Clarabel's are its
#: own settings (solvers/clarabel.py, check_settings).
BACKEND_OPTIONS = {
    "ipm": ("tol_gap_rel", "tol_feas", "max_iter"),
    "first-order": ("tol", "max_iter", "rho"),
    "clarabel": None,
}


def check_solver_settings(settings: dict | None) -> dict:
    """{backend: {option: value}} with every backend and option known, else InputError naming it."""
    settings = dict(settings or {})
    for backend, opts in settings.items():
        if backend not in BACKEND_OPTIONS:
            raise InputError(f"solver settings: unknown backend {backend!r} (one of {', '.join(BACKEND_OPTIONS)})")
        if not isinstance(opts, dict):
            raise InputError(f"solver settings for {backend}: expected a mapping, got {type(opts).__name__}")
        if backend == "clarabel":
            check_settings(opts)
            continue
        for key in opts:
            if key not in BACKEND_OPTIONS[backend]:
                raise InputError(f"unknown {backend} setting {key!r} (one of {', '.join(BACKEND_OPTIONS[backend])})")
    return settings


def solve_program(
    Xt: np.ndarray, y: np.ndarray, patterns: np.ndarray, model: Model, *, solver: str = "auto", progress=None,
    hints: np.ndarray | None = None, settings: dict | None = None, accept_almost: bool = False,
) -> ConvexSolution:
    """The convex program over ``patterns`` with the chosen backend (:func:`_solve_program`).

    Squared loss, planar cones (dt = 2: 1-D data with a hidden bias, or 2 features without
    one), no output bias, more than COMPRESS_MIN_ROWS rows: the program is first compressed
    (solvers/compress.py: the rows every pattern treats alike replaced by at most four rows
    with the same loss up to a constant and the same cones), solved, and its objective and
    predictions recomputed on the data (``solver_info["compression"]`` says how many rows the
    backends saw).
    """
    S = np.asarray(patterns, dtype=bool)
    packed = None
    if (model.loss == "squared" and model.effective_output_bias == "none" and np.shape(Xt)[1] == 2
            and S.shape[1] > COMPRESS_MIN_ROWS):
        packed = compress(Xt, y, S)
    if packed is None:
        return _solve_program(Xt, y, S, model, solver=solver, progress=progress, hints=hints,
                              settings=settings, accept_almost=accept_almost)
    Xc, yc, Sc, offset, info = packed
    sol = _solve_program(Xc, yc, Sc, model, solver=solver, progress=progress, hints=hints,
                         settings=settings, accept_almost=accept_almost)
    sol.prediction = block_predictions(Xt, S, sol.W, sol.V) + (sol.c if sol.c is not None else 0.0)
    sol.objective = convex_objective(Xt, y, S, sol.W, sol.V, sol.c, model)
    sol.solver_info["compression"] = dict(info, offset=offset)
    return sol


def _solve_program(
    Xt: np.ndarray, y: np.ndarray, patterns: np.ndarray, model: Model, *, solver: str = "auto", progress=None,
    hints: np.ndarray | None = None, settings: dict | None = None, accept_almost: bool = False,
) -> ConvexSolution:
    """The convex program over ``patterns`` with the chosen backend.

    ``ipm``: an interior-point method: for the squared loss the structure-exploiting one of
    solvers/ipm.py, for the logistic loss the log-barrier Newton method of solvers/newton.py
    (no exponential cones; face polish; row screening), with Clarabel as below;
    ``clarabel``: Clarabel on the conic form built by :func:`solve_convex_program` (the barrier
    Newton method when Clarabel fails or ends short of its tolerances);
    ``first-order``: the augmented-Lagrangian method of solvers/first_order.py (never chosen
    by ``auto`` unless memory forces it: see its module docstring);
    ``auto``: for the squared loss solvers/ipm.py (Clarabel if it fails, then the barrier
    Newton method, e.g. on Clarabel's InsufficientProgress; and Clarabel as a second opinion
    on small programs where it ends short of its tolerances), ``first-order`` when the
    interior-point method would need more than IPM_MAX_BYTES (``ipm_bytes``); for the
    logistic loss Clarabel, then the barrier Newton method when it fails or ends short, except
    under a free hidden bias, where the barrier method comes first (``ipm`` on the logistic
    loss: the barrier method first, then Clarabel). Under a free hidden bias the squared loss's
    program is first solved without the all-ones cell (``_all_ones_ratio``).
    Whenever two backends ran, the better network by evaluated objective is kept and the
    record says so (``fallback_from``, ``second_opinion_for``, ``second_opinion``); a
    SolverError escapes only when every backend failed. Squared-loss solutions are refined
    by :func:`polish_squared` when that succeeds.

    ``hints`` (p, dt): a direction in each pattern's cell (a row of NaN or zeros: unknown, then
    computed by LP). With them, on data of more than SCREEN_MIN_ROWS rows, the interior-point
    method screens the cone rows (solve_ipm_screened): same optimum, far fewer cone pairs.

    ``settings`` {backend: {option: value}} (BACKEND_OPTIONS): options of each backend, checked
    here (an unknown backend or option is an InputError, never silently ignored).

    ``accept_almost``: the logistic loss under ``auto`` keeps Clarabel's ``almost_solved`` answer
    without the barrier method's second opinion, or the barrier's ``inaccurate`` one without
    Clarabel's where the barrier comes first (a failure still falls back). Column generation
    uses it for its intermediate programs: their answers only steer the working set (every
    network is evaluated and every bound is certified independently), and the barrier's second
    opinion cost 30-150 s per program at n = 200 where Clarabel takes under a second
    (docs/benchmarks.md); solve then polishes the final network (solve.py, polish_final).
    """
    if solver not in SOLVERS:
        raise InputError(f"solver must be one of {', '.join(SOLVERS)}, got {solver!r}")
    settings = check_solver_settings(settings)
    ipm_opts, fo_opts = settings.get("ipm", {}), settings.get("first-order", {})
    cl_opts = settings.get("clarabel")
    S = np.asarray(patterns, dtype=bool)
    screen = hints is not None and S.shape[1] > SCREEN_MIN_ROWS
    if solver == "auto" and ipm_bytes(S.shape[1], S.shape[0], np.shape(Xt)[1], screen) > IPM_MAX_BYTES:
        solver = "first-order"
    if solver == "first-order":
        return solve_first_order(Xt, y, S, model, progress=progress, **fo_opts)
    if model.loss != "squared":
        # column generation's intermediate programs under auto keep an answer short of the
        # tolerances without the other backend's second opinion (``accept_almost``)
        steer = accept_almost and solver == "auto"
        if solver == "clarabel" or (solver == "auto" and model.hidden_bias != "free"):
            # auto: Clarabel first (3-9x faster than the barrier method on these programs, measured
            # in docs/benchmarks.md), the barrier Newton method when it fails (InsufficientProgress)
            # or ends short of its tolerances (AlmostSolved): the better network is kept. Under a
            # free hidden bias Clarabel stopped with InsufficientProgress on most programs (5 of
            # the first 8 of the 2-D n = 400 case, 3-8 s each before the barrier's 1-2 s), so
            # auto takes the barrier first there, as ``ipm`` does
            return _with_fallback(lambda: solve_convex_program(Xt, y, S, model, settings=cl_opts),
                                  lambda: _barrier(Xt, y, S, model, hints), Xt, y, model, "clarabel",
                                  accept=(SolverStatus.SOLVED, SolverStatus.ALMOST_SOLVED) if steer
                                  else (SolverStatus.SOLVED,))
        # ipm (and auto under a free hidden bias): the barrier Newton method first (no exponential
        # cones), Clarabel when it fails or ends short of its tolerances; with ``accept_almost``
        # (column generation's intermediate programs) auto keeps an inaccurate barrier answer,
        # as it keeps Clarabel's almost-solved one
        return _with_fallback(lambda: _barrier(Xt, y, S, model, hints),
                              lambda: solve_convex_program(Xt, y, S, model, settings=cl_opts), Xt, y, model,
                              "barrier", accept=(SolverStatus.SOLVED, SolverStatus.INACCURATE) if steer
                              else (SolverStatus.SOLVED,))
    if solver == "clarabel":
        return _with_fallback(
            lambda: polished(solve_convex_program(Xt, y, S, model, settings=cl_opts), Xt, y, S, model, None),
            lambda: _barrier(Xt, y, S, model, hints), Xt, y, model, "clarabel")
    ones = S.all(axis=1)
    if model.hidden_bias == "free" and solver in ("auto", "ipm") and ones.any() and not ones.all():
        # the all-ones cell's blocks make the interior point stall (their biases and the free
        # constant trade at no cost: an unbounded optimal set); solve without them, and keep that
        # answer when they are not needed (``_all_ones_ratio``)
        sub = _solve_program(Xt, y, S[~ones], model, solver=solver, progress=progress,
                             hints=None if hints is None else np.asarray(hints)[~ones], settings=settings)
        ratio = _all_ones_ratio(Xt, y, S[~ones], sub, model)
        if ratio <= 1.0 + ALL_ONES_SLACK:
            return _embed(sub, ~ones, ratio)
    rows = 2 * S.shape[0] * S.shape[1]
    # beyond Clarabel's reach (its sparse factorization fills in: 72 s at 5e5 cone rows), auto
    # keeps the interior-point method's best feasible iterate when it ends short of even the
    # reduced tolerances; the network read off it is evaluated by the caller like any other
    lenient = solver == "auto" and rows > CLARABEL_FALLBACK_ROWS
    try:
        sol = solve_program_ipm(Xt, y, S, model, progress, allow_inaccurate=lenient,
                                hints=hints if screen else None, **ipm_opts)
    except SolverError as exc:
        if solver == "ipm":
            raise
        if lenient:
            # beyond Clarabel's reach (its factorization of 2 p n cone rows fills in: the memory
            # of the machine at n = 1e5): the barrier Newton method, then the first-order method
            sol = _with_fallback(lambda: _barrier(Xt, y, S, model, hints),
                                 lambda: solve_first_order(Xt, y, S, model, progress=progress, **fo_opts),
                                 Xt, y, model, "barrier")
        else:
            # Clarabel, then (InsufficientProgress on degenerate programs) the barrier Newton method
            sol = _with_fallback(
                lambda: polished(solve_convex_program(Xt, y, S, model, settings=cl_opts), Xt, y, S, model, None),
                lambda: _barrier(Xt, y, S, model, hints), Xt, y, model, "clarabel")
        sol.solver_info["fallback_from"] = f"ipm: {exc}" + (
            f"; {sol.solver_info['fallback_from']}" if "fallback_from" in sol.solver_info else "")
        return sol
    if (solver == "auto" and not (sol.status is SolverStatus.SOLVED and sol.solver_info.get("polished"))
            and (rows <= CLARABEL_SECOND_OPINION_ROWS
                 or (np.shape(Xt)[1] <= CLARABEL_SECOND_OPINION_SMALL_CONES and rows <= CLARABEL_FALLBACK_ROWS))):
        # the optima of exact column generation are degenerate (1-D data: kinks at data points
        # put neurons on cell boundaries); where the interior-point method ended short of its
        # tolerances or the polish failed, a small problem gets Clarabel's answer too (its
        # homogeneous embedding copes well there), and the better network is kept
        try:
            other = polished(solve_convex_program(Xt, y, S, model, settings=cl_opts), Xt, y, S, model, None)
        except SolverError:
            try:
                other = _barrier(Xt, y, S, model, hints)
            except SolverError:
                other = None
        if other is not None and (network_objective(Xt, y, other.W, other.V, other.c, model)
                                  < network_objective(Xt, y, sol.W, sol.V, sol.c, model)):
            other.solver_info["second_opinion_for"] = sol.status
            return other
    return sol


def _all_ones_ratio(Xt, y, S, sol: ConvexSolution, model: Model) -> float:
    """||X' lam|| / beta at the answer ``sol`` of the squared-loss program over patterns S without
    the all-ones cell, under a free hidden bias (so a free output constant; lam = yhat - y).

    The all-ones cell's blocks u = (a, b) predict X a + b 1 (every sample active) for any a, with
    b large enough, at penalty beta ||a||. With the constant free at its optimum (sum lam = 0),
    zero blocks there are optimal iff lam' X a + beta ||a|| >= 0 for every a, i.e. iff
    ||X' lam|| <= beta: then ``sol`` solves the program with the all-ones cell too (its other
    optimality conditions do not change), and the dual point is the same. (sum lam = 0 is the
    constant's own optimality condition in the program without the cell, met to the solver's
    accuracy; the certificate of the final network does not rely on any of this.)
    """
    pred = block_predictions(Xt, S, sol.W, sol.V) + (sol.c if sol.c is not None else 0.0)
    lam = pred - y
    return float(np.linalg.norm(np.asarray(Xt)[:, :-1].T @ lam)) / model.beta


def _embed(sol: ConvexSolution, kept: np.ndarray, ratio: float) -> ConvexSolution:
    """``sol`` over the patterns ``kept`` written over all the patterns (zero blocks elsewhere)."""
    p, dt = kept.size, sol.W.shape[1]
    W, V = np.zeros((p, dt)), np.zeros((p, dt))
    W[kept], V[kept] = sol.W, sol.V
    sol.solver_info["all_ones_cell"] = (f"left out of the program: its blocks are zero at the optimum "
                                        f"(||X' lam|| / beta = {ratio:.3g} <= 1, docs/method.md section 2)")
    return ConvexSolution(W, V, sol.c, sol.objective, sol.prediction, sol.solver_info)


def _barrier(Xt, y, S, model: Model, hints) -> ConvexSolution:
    """solvers/newton.py's solve_barrier with its record in the common vocabulary (status,
    iterations = Newton steps, detail); the barrier's own status word stays as barrier_status."""
    h = None
    if hints is not None:
        h = np.asarray(hints, dtype=np.float64)
        if h.shape != (S.shape[0], np.shape(Xt)[1]):
            h = None
    sol = solve_barrier(Xt, y, S, model, hints=h)
    info = sol.solver_info
    word = info.get("status")
    info["barrier_status"] = word
    info["status"] = BARRIER_STATUS.get(word, SolverStatus.INACCURATE)
    info["iterations"] = int(info.get("newton_steps", 0))
    info["detail"] = None if info["status"] is SolverStatus.SOLVED else info.get("note", f"barrier status {word}")
    return sol


def _with_fallback(first, second, Xt, y, model: Model, name: str,
                   accept: tuple = (SolverStatus.SOLVED,)) -> ConvexSolution:
    """``first()``; when it raises SolverError or ends with a status not in ``accept`` (default:
    short of "solved"), also ``second()``, and
    the better network by evaluated objective (network_objective, never a solver's own value).

    The record says what happened: ``fallback_from`` (the first backend's error, when it
    failed), ``second_opinion_for`` (its status, when it ended short and the other won), or
    ``second_opinion`` (the other's error or status, when the first's answer was kept). Only
    when both fail is a SolverError raised, naming both errors.
    """
    try:
        sol, err = first(), None
    except SolverError as exc:
        sol, err = None, exc
    if sol is not None and sol.status in accept:
        return sol
    try:
        other, err2 = second(), None
    except SolverError as exc:
        other, err2 = None, exc
    if sol is None and other is None:
        raise SolverError(f"{name}: {err}; fallback: {err2}")
    if sol is None:
        other.solver_info["fallback_from"] = f"{name}: {err}"
        return other
    if other is None:
        sol.solver_info["second_opinion"] = f"failed: {err2}"
        return sol
    L1 = network_objective(Xt, y, sol.W, sol.V, sol.c, model)
    L2 = network_objective(Xt, y, other.W, other.V, other.c, model)
    if np.isfinite(L2) and not (L1 <= L2):
        why = sol.solver_info.get("barrier_status") or sol.status
        other.solver_info["second_opinion_for"] = f"{name}: {why}, objective {L1!r}"
        return other
    sol.solver_info["second_opinion"] = f"{other.solver_info.get('solver')}: {other.status}, objective {L2!r}"
    return sol
