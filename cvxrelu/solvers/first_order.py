"""A first-order solver for the convex program on given patterns (docs/method.md sections 2, 5, 7).

For instances too large for an interior-point method (thousands of patterns, tens of
thousands of samples) the program

    min  loss( sum_i D_i Xt (w_i - v_i) + c 1 ) + beta * sum_i (N(w_i) + N(v_i)) [+ beta/2 c^2]
    s.t. A_i w_i >= 0,  A_i v_i >= 0,     A_i = (2 D_i - I) Xt

is solved by an **augmented Lagrangian** on the cone constraints whose subproblems are solved by
**FISTA** (accelerated proximal gradient, backtracking on the Lipschitz constant, adaptive
restart). The smooth part is the loss plus the augmented-Lagrangian term of the cone
constraints; the non-smooth part beta * N is handled by its prox, the group soft-threshold
(with a free hidden bias, N and hence the threshold leave the last coordinate alone).

Blocks are stacked as U = [W; V] (2p, dt) with signs sg = (+1, ..., -1, ...), and everything is
vectorized over blocks: with Z = Xt U^T (n, 2p) and P the (p, n) 0/1 pattern matrix,
predictions are (Z * (sg P)^T).sum(1) + c. Constraint rows are normalized by ||xt_k|| (this
changes neither the cones nor the solution, only the conditioning of the penalty).

Stopping rule: the duality gap of the program restricted to the given patterns
(docs/method.md section 5). With nu = grad loss(prediction) (moved onto 1^T nu = 0 inside the
conjugate's domain when c is free) and any multipliers zeta >= 0,

    max_{w in C_i, N(w) <= 1} +-g_i^T w  <=  || +-g_i + A_i^T zeta ||,   g_i = Xt^T D_i nu,

(for a free hidden bias the last coordinate of the residual must vanish; a multiple of one row
of A_i is added to zero it). The augmented-Lagrangian multipliers make this bound tight at the
optimum, so it costs one matrix product instead of 2p cone projections. Scaling nu by
min(1, beta / M) makes it dual-feasible for the restricted program, and
-loss*(nu) [- (1^T nu)^2 / (2 beta)] is a lower bound on the restricted optimum.

Feasibility of the reported point: at the end every non-zero block is projected exactly onto
its cone (Moreau: w = w0 + A^T zeta*, zeta* = argmin_{zeta >= 0} ||w0 + A^T zeta||, an NNLS
over the nearly active rows), so the returned W, V satisfy A_i w_i >= 0 up to rounding, and the
reported objective is the program's objective at that feasible point (which equals L of the
network read off with eq. 9). The final gap is recomputed at the projected point.

Status: "solved" only when that recomputed relative gap is at most ``tol``; reaching
``max_iter`` first gives "inaccurate" with the gap in ``detail`` (never "solved" at max_iter).

Why ``auto`` does not use it (cvxrelu/program.py chooses it only when the interior-point
method's memory estimate exceeds IPM_MAX_BYTES): its convergence is sublinear and degrades
with the conditioning of the data and with degenerate optima (blocks on cell boundaries), so
the 1e-9 relative gap column generation needs takes tens of thousands of iterations where
the interior-point and barrier Newton methods take tens of steps; on a 150-sample
breast-cancer slice (logistic loss, free biases) it ran 163 s to a worse objective than the
barrier method reaches in seconds (docs/benchmarks.md). Its answers are feasible and
evaluated, so it remains the method of last resort for programs too large to factor.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..convex import ConvexSolution, SolverStatus, solver_info
from ..dual import cone_residual, dual_objective, dual_point
from ..model import Model

SOLVER_NAME = "first-order (AL-FISTA)"
#: Inner FISTA iterations per augmented-Lagrangian round.
INNER_ITER = 200
#: Rows with normalized slack below this fraction of ||w|| enter the exact cone projection.
NEAR_ACTIVE = 1e-4
DEBUG = False
GROW = True
#: At most this many blocks get an exact cone projection in the dual bound.
EXACT_BLOCKS = 200


@dataclass
class _Problem:
    """Fixed data of one program: everything that does not change across iterations."""

    Xt: np.ndarray  # (n, dt)
    y: np.ndarray  # (n,)
    PsgT: np.ndarray  # (n, 2p): sg_j * D_j, stacked blocks as columns
    SXn: np.ndarray  # (n, 2p): (2 D_j - 1)_k / ||xt_k||, so A u_j / ||xt|| = SXn[:, j] * Z[:, j]
    model: Model
    free_last: bool  # N excludes the last coordinate (free hidden bias)
    cmode: str  # "none" | "free" | "penalized"


def _smooth(pb: _Problem, Z, c, lam, rho, want_grad=True):
    """Value (and gradient) of loss(pred) [+ beta/2 c^2] + AL term of the cone constraints."""
    loss = pb.model.loss_fn
    pred = np.einsum("kj,kj->k", Z, pb.PsgT)
    if pb.cmode != "none":
        pred = pred + c
    Q = lam - rho * (pb.SXn * Z)
    np.maximum(Q, 0.0, out=Q)
    val = loss.value(pred, pb.y) + (float(np.vdot(Q, Q)) - float(np.vdot(lam, lam))) / (2 * rho)
    if pb.cmode == "penalized":
        val += 0.5 * pb.model.beta * c * c
    if not want_grad:
        return val, pred, Q, None, 0.0
    g = loss.gradient(pred, pb.y)
    G = pb.PsgT * g[:, None]
    G -= pb.SXn * Q
    gradU = G.T @ pb.Xt
    gc = 0.0
    if pb.cmode != "none":
        gc = float(np.sum(g)) + (pb.model.beta * c if pb.cmode == "penalized" else 0.0)
    return val, pred, Q, gradU, gc


def _objective(pb: _Problem, U, c, pred) -> float:
    """Program objective at (U, c) with the given prediction."""
    val = pb.model.loss_fn.value(pred, pb.y) + pb.model.beta * float(np.sum(pb.model.group_norm.value(U)))
    if pb.cmode == "penalized":
        val += 0.5 * pb.model.beta * c * c
    return val


def _dual_bound(pb: _Problem, pred: np.ndarray, Qmult: np.ndarray) -> tuple[float, float]:
    """Lower bound on the restricted optimum from nu = grad loss(pred) and multipliers Qmult.

    Residual of block j: r_j = -sg_j Xt^T D_j nu + A_j^T zeta_j, zeta_j = Qmult[:, j] / ||xt||;
    returns (dual objective at the scaled nu, M = max_j N*(r_j)).
    """
    beta = pb.model.beta
    nu = dual_point(pred, pb.y, pb.model)
    R = (pb.SXn * Qmult - pb.PsgT * nu[:, None]).T @ pb.Xt  # (2p, dt)
    if pb.free_last:
        H = -(pb.PsgT * nu[:, None]).T @ pb.Xt  # the residual with zeta = 0
        M = np.minimum(_seminorm_bound(pb, R), _seminorm_bound(pb, H))
        Mmax = float(np.max(M)) if M.size else 0.0
    else:
        M = np.linalg.norm(R, axis=1)
        # where the multipliers do not settle it, the exact cone projection (NNLS) does
        bad = np.flatnonzero(M > beta)
        if 0 < bad.size <= EXACT_BLOCKS:
            Xn = pb.Xt / np.maximum(np.linalg.norm(pb.Xt, axis=1), 1e-300)[:, None]
            for j in bad:
                h = -(pb.PsgT[:, j] * nu) @ pb.Xt
                A = np.sign(pb.SXn[:, j])[:, None] * Xn
                _, res = cone_residual(A, h)
                M[j] = min(M[j], res)
        Mmax = float(np.max(M)) if M.size else 0.0
    if not np.isfinite(Mmax):
        return -np.inf, Mmax
    s = 1.0 if Mmax <= beta else beta / Mmax
    nu = s * nu
    D, _ = dual_objective(nu, pb.y, pb.model)
    return D, Mmax


def _seminorm_bound(pb: _Problem, R: np.ndarray) -> np.ndarray:
    """Upper bounds on max_{w in C_j, N(w) <= 1} -r_j^T... for a free hidden bias.

    N ignores the bias coordinate, so r_j bounds the dual constraint only once its last entry is
    zero: add t * A_jk^T (t > 0) for the row k whose bias entry has the right sign and that
    gives the smallest ||r_{1:d}||. Rows are normalized: A_jk = s_jk xt_k / ||xt_k||.
    """
    Xn = pb.Xt / np.maximum(np.linalg.norm(pb.Xt, axis=1), 1e-300)[:, None]
    S = np.sign(pb.SXn)
    r_last = R[:, -1]
    M = np.linalg.norm(R[:, :-1], axis=1)
    tiny = 1e-13 * (np.linalg.norm(R, axis=1) + 1e-300)
    for j in np.flatnonzero(np.abs(r_last) > tiny):
        want = -np.sign(r_last[j])
        rows = np.flatnonzero(S[:, j] * Xn[:, -1] * want > 0)
        if rows.size == 0:
            M[j] = np.inf
            continue
        t = -r_last[j] / (S[rows, j] * Xn[rows, -1])  # > 0
        cand = R[j, :-1][None, :] + (t * S[rows, j])[:, None] * Xn[rows, :-1]
        M[j] = float(np.min(np.linalg.norm(cand, axis=1)))
    return M


def _project_blocks(pb: _Problem, U: np.ndarray) -> tuple[np.ndarray, int]:
    """Project every non-zero block exactly onto its cone {u : A_j u >= 0}."""
    Xt = pb.Xt
    rn = np.maximum(np.linalg.norm(Xt, axis=1), 1e-300)
    U = U.copy()
    moved = 0
    for j in np.flatnonzero(np.linalg.norm(U, axis=1) > 0):
        s = np.sign(pb.SXn[:, j])
        A = (s / rn)[:, None] * Xt  # normalized rows
        w0 = U[j]
        a = A @ w0
        scale = float(np.linalg.norm(w0))
        if np.all(a >= 0):
            continue
        moved += 1
        near = a < NEAR_ACTIVE * scale
        for _ in range(20):
            rows = np.flatnonzero(near)
            zeta, _ = cone_residual(A[rows], w0, maxiter=50 * Xt.shape[1] + 10 * rows.size + 100)
            w = w0 + A[rows].T @ zeta
            aw = A @ w
            bad = (aw < 0) & ~near
            if not bad.any():
                break
            near |= aw < NEAR_ACTIVE * scale
        # rounding: clear tiny negative slacks on the projected rows by a final nudge inward
        U[j] = w
    return U, moved


def solve_first_order(
    Xt: np.ndarray,
    y: np.ndarray,
    patterns: np.ndarray,
    model: Model,
    *,
    tol: float = 1e-6,
    max_iter: int = 20000,
    progress=None,
    rho: float | None = None,
) -> ConvexSolution:
    """Solve the convex program on ``patterns`` by AL-FISTA (see the module docstring).

    Parameters
    ----------
    Xt : (n, dt) augmented data, y : (n,) labels, patterns : (p, n) bool D_i.
    tol : relative duality gap (restricted to the patterns) at which to stop.
    max_iter : total FISTA iterations over all augmented-Lagrangian rounds.

    Returns
    -------
    ConvexSolution with W, V (p, dt) feasible (each block projected onto its cone), c, the
    program objective at that point, the prediction, and solver_info (name, iterations,
    outer rounds, seconds, final relative gap, lower bound, max constraint violation before
    the projection).
    """
    t0 = time.perf_counter()
    Xt = np.ascontiguousarray(Xt, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    P = np.asarray(patterns, dtype=bool)
    n, dt = Xt.shape
    p = P.shape[0]
    cmode = model.effective_output_bias
    norm = model.group_norm
    free_last = norm.free_last
    rn = np.linalg.norm(Xt, axis=1)
    inv = np.where(rn > 0, 1.0 / np.where(rn > 0, rn, 1.0), 0.0)
    PT = P.T.astype(np.float64)
    PsgT = np.hstack([PT, -PT])
    SXn = (2.0 * np.hstack([PT, PT]) - 1.0) * inv[:, None]
    pb = _Problem(Xt, y, PsgT, SXn, model, free_last, cmode)
    beta = model.beta
    loss = model.loss_fn
    curv = 1.0 if loss.name == "squared" else 0.25

    # Lipschitz estimate of the loss part: ||K||^2 <= sum_j ||D_j Xt||^2 (Frobenius-free bound
    # via power iteration would cost more than backtracking saves: start small, backtrack).
    xs = float(np.linalg.norm(Xt, 2)) ** 2
    if rho is None:
        rho = curv * xs / max(n, 1) * 50.0
    L = curv * xs * 2.0

    U = np.zeros((2 * p, dt))
    c = 0.0
    lam = np.zeros((n, 2 * p))
    Z = np.zeros((n, 2 * p))
    it = 0
    rounds = 0
    gap = np.inf
    lb = -np.inf
    viol = np.inf
    history = []
    task = progress.task("First-order solve", total=max_iter) if progress else None
    while it < max_iter:
        rounds += 1
        # ---- FISTA on the augmented Lagrangian with multipliers lam
        Ux, cx, Zx = U, c, Z
        Uy, cy, Zy = U, c, Z
        tk = 1.0
        Fx_prev = np.inf
        for _ in range(INNER_ITER):
            it += 1
            Fy, _, _, gU, gc = _smooth(pb, Zy, cy, lam, rho)
            while True:
                Un = norm.prox(Uy - gU / L, beta / L)
                cn = cy - gc / L if cmode != "none" else 0.0
                Zn = Xt @ Un.T
                Fn, _, _, _, _ = _smooth(pb, Zn, cn, lam, rho, want_grad=False)
                dU = Un - Uy
                dc = cn - cy
                quad = Fy + float(np.vdot(gU, dU)) + gc * dc + 0.5 * L * (float(np.vdot(dU, dU)) + dc * dc)
                if Fn <= quad + 1e-12 * abs(Fy):
                    break
                L *= 2.0
            step = float(np.sqrt(np.vdot(dU, dU) + dc * dc)) * L
            # objective with the non-smooth part, for the adaptive restart
            Fobj = Fn + beta * float(np.sum(norm.value(Un)))
            tn = 0.5 * (1 + np.sqrt(1 + 4 * tk * tk))
            mom = (tk - 1) / tn
            if Fobj > Fx_prev:  # restart the momentum
                mom, tn = 0.0, 1.0
            Uy = Un + mom * (Un - Ux)
            cy = cn + mom * (cn - cx)
            Zy = Zn + mom * (Zn - Zx)
            Ux, cx, Zx, tk, Fx_prev = Un, cn, Zn, tn, Fobj
            L *= 0.95
            if step <= 1e-3 * tol * max(1.0, abs(Fobj)) or it >= max_iter:
                break
        U, c, Z = Ux, cx, Zx
        # ---- multiplier update and stopping test
        A = SXn * Z  # normalized constraint values (n, 2p)
        lam = lam - rho * A
        np.maximum(lam, 0.0, out=lam)
        # violation of the normalized constraints, relative to the largest block
        scale_U = float(np.max(np.linalg.norm(U, axis=1))) if p else 0.0
        viol = float(np.max(-A, initial=0.0)) / scale_U if scale_U > 0 else 0.0
        pred = np.einsum("kj,kj->k", Z, PsgT) + (c if cmode != "none" else 0.0)
        primal = _objective(pb, U, c, pred)
        lb, M = _dual_bound(pb, pred, lam)
        gap = (primal - lb) / max(1.0, abs(primal))
        history.append({"iteration": it, "objective": primal, "lower_bound": lb, "violation": viol})
        if DEBUG:  # pragma: no cover
            print(rounds, it, f"P={primal:.10g} lb={lb:.10g} M={M:.6g} viol={viol:.2e} rho={rho:.3g} L={L:.3g}")
        if task:
            task(INNER_ITER)
        if gap <= tol and viol <= 0.1 * tol:
            break
        if GROW and viol > 1e-4 and len(history) > 4 and viol > 0.9 * history[-5]["violation"]:
            rho *= 2.0  # constraint progress too slow: stiffen the penalty
            L = max(L, curv * xs) + rho
    if task and hasattr(task, "close"):
        task.close()

    # ---- exact cone projection and the final objective/gap at the feasible point
    Ufeas, moved = _project_blocks(pb, U)
    Zf = Xt @ Ufeas.T
    pred = np.einsum("kj,kj->k", Zf, PsgT) + (c if cmode != "none" else 0.0)
    primal = _objective(pb, Ufeas, c, pred)
    lb, M = _dual_bound(pb, pred, lam)
    gap = (primal - lb) / max(1.0, abs(primal))
    ok = bool(gap <= tol)
    info = solver_info(
        SOLVER_NAME,
        SolverStatus.SOLVED if ok else SolverStatus.INACCURATE,
        it,
        None if ok else f"relative gap {gap:.2e} above {tol:g} after {it} of {max_iter} iterations",
        rounds=rounds,
        seconds=time.perf_counter() - t0,
        solve_time_s=time.perf_counter() - t0,
        relative_gap=float(gap),
        lower_bound=float(lb),
        violation_before_projection=float(viol),
        projected_blocks=int(moved),
        rho=float(rho),
    )
    return ConvexSolution(
        W=Ufeas[:p].copy(),
        V=Ufeas[p:].copy(),
        c=(float(c) if cmode != "none" else None),
        objective=float(primal),
        prediction=pred,
        solver_info=info,
    )
