"""A log-barrier Newton method for the convex program, for every loss, with a face polish.

The convex program of cvxrelu/program.py (its module docstring) over patterns
D_1..D_p has 2p blocks b (w_1..w_p, then v_1..v_p, signs sg_b = +1 / -1):

    min  loss( sum_b sg_b D_b Xt u_b + c 1 ) + beta sum_b t_b  [+ h_c / 2 c^2]
    s.t. sigma_bk xt_k^T u_b / ||xt_k|| >= 0      (n rows per block, sigma_b = 2 D_b - 1)
         || N-part of u_b || <= t_b               (one second-order cone per block)

Path following on the barrier problem

    F_mu = loss(z) + beta sum t [+ h_c/2 c^2] - mu ( sum_bk log s_bk + sum_b log(t_b^2 - ||N u_b||^2) )

with Newton's method. The loss enters only through its value, gradient and diagonal Hessian
in the prediction z, so every loss of cvxrelu/losses.py works the same way (no exponential
cones): the logistic loss on separable data is as easy as the squared one, since the
penalty makes the program coercive. Each Newton system is block diagonal (one (dt+1) x
(dt+1) block per b, from the barrier) plus the rank-n coupling G' diag(h) G through the
predictions, solved by the Woodbury identity in the n-dimensional prediction space,

    (B + G'HG)^-1 = B^-1 - B^-1 G' H^1/2 (I + H^1/2 G B^-1 G' H^1/2)^-1 H^1/2 G B^-1,

which stays well conditioned when the loss curvature h vanishes (separable logistic data);
a free output bias c is eliminated by a scalar Schur complement. When 2p(dt+1) < n the
system is formed and factored directly instead.

At a central point x_mu the gradient lam = loss'(z_mu) is feasible for the restricted
program's dual and its dual objective is within mu * nu_B of the restricted optimum (nu_B =
the number of barrier terms, 2pn + 2 * 2p), so the objective error falls linearly with mu.
The barrier cannot resolve mu much below 1e-12 relative (active slacks are ~ mu / multiplier
and drown in rounding), so the path stops at BARRIER_GAP_REL and a Newton polish on the
identified face (non-zero blocks, each held to the null space of its active rows) finishes
the job to full precision for every loss. The polished point is kept only when every block
is in its cone and its objective is not above the barrier's.

Cost: each Newton step is O(p n dt^2) for the block Hessians plus min(n^2 p dt + n^3 / 3,
(p dt)^3) for the coupling. The number of steps grows with the number of barrier terms (the
long-step path needs up to O(nu_B) damped steps per centering): on all 2p n rows of a
150-sample breast-cancer slice, 20 patterns, a centering took ~50-100 steps and the path
ended short of the optimum. Hence row screening (solve_barrier): each block starts with the
SCREEN_ROWS rows nearest its cell's boundary, violated rows are added between rounds; there
the solve takes 3 rounds and ~180 steps per round and ends 3e-7 below Clarabel's objective.
A primal-dual variant (multipliers for the cone rows, adaptive mu) was tried and stalled.

Everything returned is a hint: objectives are recomputed by the caller, optimality over the
patterns and globally is certified independently (cvxrelu/certificate.py).
"""

from __future__ import annotations

import time

import numpy as np
from scipy.linalg import cho_solve

from ..errors import SolverError
from ..model import Model
from .polish import POLISH_TINY, hold_step, ratio_step, too_far

SOLVER_NAME = "cvxrelu-newton (log-barrier Newton + face polish)"

#: The path stops when mu * nu_B <= BARRIER_GAP_REL * max(1, |objective|) (nu_B barrier terms).
BARRIER_GAP_REL = 1e-10
#: The barrier parameter is multiplied by this after each centering.
MU_FACTOR = 0.1
#: A point is centered when the Newton decrement squared, in units of mu, is below this ...
CENTER_TOL = 0.5
#: ... and at the last mu (the point the polish starts from), below this; a centering gives up
#: after MAX_CENTER_STEPS steps (along the nearly flat constant direction of a free hidden
#: bias the regularized steps converge only linearly) and the path goes on.
FINAL_CENTER_TOL = 1e-3
MAX_CENTER_STEPS = 100
#: Newton steps in all (centering + path), and the default time budget in seconds. The status
#: is "solved" only when the last centering converged (then the restricted gap is about
#: mu * nu_B), "inaccurate" otherwise, "max_newton" / "time_limit" when a budget ran out.
MAX_NEWTON = 1500
TIME_LIMIT = 600.0
#: Armijo constant of the backtracking line search and the fraction of the step to the
#: boundary of the barrier's domain.
ARMIJO = 1e-4
BOUNDARY_FRACTION = 0.99
#: A cell whose interior point has a normalized margin below this is treated as not
#: full-dimensional (the barrier needs strictly interior starting points).
MIN_MARGIN = 1e-9
#: Face identification: row k of block b is active when s_k^2 <= ACTIVE_FACTOR * mu * N(u_b) / beta
#: (complementarity s_k zeta_k = mu, active when the multiplier dominates the slack);
#: a block is non-zero when N(u_b) > SUPPORT_TOL * max(largest N, t-scale).
ACTIVE_FACTOR = 1.0
SUPPORT_TOL = 1e-6
#: Face Newton: stop when the gradient norm is below POLISH_GRAD times its scale; at most
#: POLISH_ITERS iterations and POLISH_ROUNDS active-set rounds (ratio steps and releases; a
#: collapse drops a block and is not counted), within the deadline and polish.too_far. 8 rounds
#: of any kind before the ratio step, when every violated row joined at once.
POLISH_GRAD = 1e-13
POLISH_ITERS = 60
POLISH_ROUNDS = 30
#: The polished blocks must satisfy (A u)_k >= -POLISH_FEAS ||xt_k|| ||u|| on every row.
POLISH_FEAS = 1e-12
#: The polished point is kept when its objective is at most the barrier's plus this (relative).
POLISH_SLACK = 1e-13
#: With a free hidden bias, a pure-bias block (u = 0, b) lies in the cone of the all-ones and of
#: the all-zeros pattern at no cost: the barrier problem would be unbounded below along it.
#: mu * sum_b (b_b / bias_scale)^2 is added to the barrier (it vanishes with mu), with
#: bias_scale = BIAS_SCALE * (1 + max_k ||x_k||).
BIAS_SCALE = 1e2
#: ... and the bias coordinates' curvature in the Newton system is at least this times the
#: loss curvature sum(h) + beta (a regularized Newton step along a nearly flat direction).
BIAS_CURVATURE_FLOOR = 1e-10
#: Row screening (solve_barrier): rows kept per block at first, rounds of adding violated rows
#: before the full program is solved, and spare rows added per round.
SCREEN_ROWS = 40
SCREEN_ROUNDS = 4
SCREEN_ADD = 8
#: Polish only when the face has at most this many free coordinates (dense Newton).
POLISH_MAX_DIM = 3000


def loss_hessian(model: Model, z: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Diagonal of the loss Hessian in the prediction z (the loss classes have no Hessian).

    squared: 1; logistic: sigmoid(y z) sigmoid(-y z) (labels +-1), without overflow.
    """
    if model.loss == "squared":
        return np.ones_like(z)
    if model.loss == "logistic":
        a = -np.abs(y * z)
        e = np.exp(a)
        return e / (1.0 + e) ** 2
    raise SolverError(f"no Hessian for the {model.loss} loss")  # pragma: no cover


def interior_points(Xt: np.ndarray, patterns: np.ndarray, hints: np.ndarray | None = None):
    """(p, dt) directions strictly inside each pattern's cone, and their margins.

    Margin = min_k sigma_k xt_k' u / ||xt_k|| over non-zero rows, with ||u||_inf <= 1 (an LP,
    HiGHS); a hint row that already has a margin above MIN_MARGIN is kept instead.
    """
    from scipy.optimize import linprog

    norms = np.linalg.norm(Xt, axis=1)
    nz = norms > 0
    Xn = Xt[nz] / norms[nz][:, None]
    p, dt = patterns.shape[0], Xt.shape[1]
    out = np.zeros((p, dt))
    margin = np.zeros(p)
    cobj = np.zeros(dt + 1)
    cobj[-1] = -1.0
    for i, row in enumerate(patterns):
        sg = np.where(row[nz], 1.0, -1.0)
        if hints is not None and np.all(np.isfinite(hints[i])) and np.any(hints[i] != 0):
            h = hints[i] / np.max(np.abs(hints[i]))
            m = float(np.min(sg * (Xn @ h))) if Xn.shape[0] else 1.0
            if m > MIN_MARGIN:
                out[i], margin[i] = h, m
                continue
        A = np.hstack([-(sg[:, None] * Xn), np.ones((Xn.shape[0], 1))])
        res = linprog(cobj, A_ub=A, b_ub=np.zeros(Xn.shape[0]), bounds=[(-1.0, 1.0)] * dt + [(None, 1.0)],
                      method="highs-ds")
        if res.status == 0 and res.x is not None:
            out[i] = res.x[:dt]
            margin[i] = float(np.min(sg * (Xn @ out[i]))) if Xn.shape[0] else 1.0
    return out, margin


class _Problem:
    """The data of the barrier problem, in the block layout of the module docstring."""

    def __init__(self, Xt, y, S, model: Model):
        self.Xt, self.y, self.S, self.model = Xt, y, S, model
        n, dt = Xt.shape
        p = S.shape[0]
        self.n, self.dt, self.p, self.nb = n, dt, p, 2 * p
        norms = np.linalg.norm(Xt, axis=1)
        self.rows = np.flatnonzero(norms > 0)
        Xn = Xt[self.rows] / norms[self.rows][:, None]
        sig = 2.0 * S[:, self.rows] - 1.0  # (p, m)
        sig = np.vstack([sig, sig])  # (2p, m): w and v blocks share the cone
        self.A = sig[:, :, None] * Xn[None, :, :]  # (2p, m, dt)
        self.A_full = self.A
        self.sg = np.concatenate([np.ones(p), -np.ones(p)])
        self.D = np.vstack([S, S]).astype(np.float64)  # (2p, n)
        self.pen = np.ones(dt, dtype=bool)
        if model.hidden_bias == "free":
            self.pen[-1] = False
        ob = model.effective_output_bias
        self.has_c = ob != "none"
        self.h_c = model.beta if ob == "penalized" else 0.0
        self.beta = model.beta
        self.loss = model.loss_fn
        self.nu_B = self.nb * self.rows.size + 2 * self.nb
        free = model.hidden_bias == "free"
        xmax = float(np.max(np.linalg.norm(Xt[:, :-1], axis=1))) if free and n else 0.0
        self.rho = 1.0 / (BIAS_SCALE * (1.0 + xmax)) ** 2 if free else 0.0

    def restrict_rows(self, idx: np.ndarray | None):
        """Keep rows idx[b] (2p, K) of each block's cone (a relaxation); None: all rows.

        Blocks with fewer distinct rows repeat some (same cone, only the barrier's weights)."""
        self.A = self.A_full if idx is None else np.take_along_axis(self.A_full, idx[:, :, None], axis=1)
        self.nu_B = self.nb * self.A.shape[1] + 2 * self.nb

    def predict(self, U, c):
        z = np.einsum("bn,bn->n", self.D * self.sg[:, None], (self.Xt @ U.T).T).copy() if U.size else np.zeros(self.n)
        return z + (c if self.has_c else 0.0)

    def f0(self, U, T, c, z=None):
        z = self.predict(U, c) if z is None else z
        val = self.loss.value(z, self.y) + self.beta * float(np.sum(T))
        return val + (0.5 * self.h_c * c * c if self.has_c else 0.0)

    def objective(self, U, c):
        """The program's objective at (U, c) (t = N(u))."""
        return self.f0(U, np.linalg.norm(U[:, self.pen], axis=1), c)

    def slacks(self, U, T):
        s = np.einsum("bmd,bd->bm", self.A, U)
        r = U[:, self.pen]
        q = T * T - np.sum(r * r, axis=1)
        return s, r, q

    def barrier_value(self, U, T, c, mu):
        s, _, q = self.slacks(U, T)
        if np.any(s <= 0) or np.any(q <= 0) or np.any(T <= 0):
            return np.inf
        prox = self.rho * float(np.sum(U[:, -1] ** 2)) if self.rho else 0.0
        return self.f0(U, T, c) - mu * (float(np.sum(np.log(s))) + float(np.sum(np.log(q))) - prox)


def _newton_direction(P: _Problem, U, T, c, mu):
    """Gradient pieces and the Newton direction of F_mu at (U, T, c); also the decrement^2."""
    n, dt, nb = P.n, P.dt, P.nb
    z = P.predict(U, c)
    lam = P.loss.gradient(z, P.y)
    h = loss_hessian(P.model, z, P.y)
    s, r, q = P.slacks(U, T)
    inv_s = 1.0 / s
    # gradient in (u_b, t_b) per block
    XtD = P.Xt  # (n, dt)
    gl = (P.D * lam[None, :]) @ XtD * P.sg[:, None]  # (nb, dt): sg_b Xt' D_b lam
    gu = gl - mu * np.einsum("bmd,bm->bd", P.A, inv_s)
    gu[:, P.pen] += mu * 2.0 * r / q[:, None]
    gt = P.beta - mu * 2.0 * T / q
    if P.rho:
        gu[:, -1] += 2.0 * mu * P.rho * U[:, -1]
    gc = float(np.sum(lam)) + P.h_c * c if P.has_c else 0.0
    # block Hessians of the barrier, (nb, dt+1, dt+1)
    Bk = np.zeros((nb, dt + 1, dt + 1))
    Bk[:, :dt, :dt] = mu * np.einsum("bmd,bm,bme->bde", P.A, inv_s * inv_s, P.A)
    pi = np.flatnonzero(P.pen)
    rr = np.einsum("bi,bj->bij", r, r) * (4.0 / (q * q))[:, None, None]
    rr[:, np.arange(pi.size), np.arange(pi.size)] += (2.0 / q)[:, None]
    Bk[:, pi[:, None], pi[None, :]] += mu * rr
    Bk[:, pi, dt] += mu * (-4.0 * T[:, None] * r / (q * q)[:, None])
    Bk[:, dt, pi] = Bk[:, pi, dt]
    Bk[:, dt, dt] = mu * (2.0 * T * T + 2.0 * np.sum(r * r, axis=1)) / (q * q)
    if P.rho:
        # the prox's curvature, and a floor under it in the Newton system only (an inexact,
        # regularized Newton step): the biases of the all-ones pattern's blocks and c are
        # redundant (one constant), a direction with curvature ~ mu rho that would swamp the
        # Woodbury matrix K
        Bk[:, dt - 1, dt - 1] += 2.0 * mu * P.rho + BIAS_CURVATURE_FLOOR * (float(np.sum(h)) + P.beta)
    g = np.concatenate([gu, gt[:, None]], axis=1)  # (nb, dt+1)
    # G_b = sg_b D_b Xt (n, dt), padded with a zero column for t_b
    # B_b = D L_s L_s' D with D = sqrt(diag B_b): the symmetric diagonal scaling takes out the
    # axis-aligned spread (a zero block's u has curvature ~ beta^2 / mu, a free bias ~ mu)
    dg = np.sqrt(np.maximum(np.einsum("bii->bi", Bk), 1e-300))
    Bs = Bk / (dg[:, :, None] * dg[:, None, :])
    try:
        Ls = np.linalg.cholesky(Bs)
    except np.linalg.LinAlgError:
        Ls = np.linalg.cholesky(Bs + 1e-13 * np.eye(dt + 1))
    Linv = np.linalg.inv(Ls) / dg[:, None, :]  # (nb, dt+1, dt+1): L^-1 = L_s^-1 D^-1
    Binv = np.einsum("bji,bjk->bik", Linv, Linv)  # B^-1 = L^-T L^-1
    sh = np.sqrt(h)
    Bg = np.einsum("bij,bj->bi", Binv, g)  # B^-1 g
    if 2 * nb * (dt + 1) < n:
        dU, dT, dc = _direct(P, Bk, g, gc, h)
    else:
        # Y_b = L_b^-1 [G_b' H^1/2 ; 0]  (dt+1, n), K = sum_b Y_b' Y_b
        Gt = (P.sg[:, None, None] * (P.D[:, :, None] * XtD[None, :, :]))  # (nb, n, dt)
        GtH = Gt * sh[None, :, None]
        Y = np.einsum("bij,bnj->bin", Linv[:, :, :dt], GtH)  # (nb, dt+1, n)
        Yf = Y.reshape(-1, n)
        K = Yf.T @ Yf
        K[np.diag_indices(n)] += 1.0
        rhs = -sh * np.einsum("bnd,bd->n", Gt, Bg[:, :dt])
        Lk = np.linalg.cholesky(K)

        def ksolve(v):
            return cho_solve((Lk, True), v)  # two triangular solves with K's Cholesky factor

        dc = 0.0
        if P.has_c:
            hv = sh  # H^1/2 1
            ab = ksolve(np.column_stack([rhs, hv]))
            a, b = ab[:, 0], ab[:, 1]
            den = float(hv @ b) + P.h_c
            if den <= 0:
                raise SolverError("the output bias has no curvature")
            dc = (-gc - float(hv @ a)) / den
            qv = a + b * dc
        else:
            qv = ksolve(rhs)
        w = np.einsum("bnd,n->bd", Gt, sh * qv)  # G_b' H^1/2 q
        w = np.concatenate([w, np.zeros((nb, 1))], axis=1)
        dx = -(Bg + np.einsum("bij,bj->bi", Binv, w))
        dU, dT = dx[:, :dt], dx[:, dt]
    dec = -(float(np.sum(g[:, :dt] * dU)) + float(gt @ dT) + gc * dc)
    return dU, dT, dc, dec, lam


def _direct(P: _Problem, Bk, g, gc, h):
    """The Newton system formed and factored directly (when 2p(dt+1) < n)."""
    n, dt, nb = P.n, P.dt, P.nb
    k = dt + 1
    N = nb * k + (1 if P.has_c else 0)
    G = np.zeros((n, N))
    for b in range(nb):
        G[:, b * k: b * k + dt] = P.sg[b] * (P.D[b][:, None] * P.Xt)
    if P.has_c:
        G[:, -1] = 1.0
    H = G.T @ (h[:, None] * G)
    for b in range(nb):
        H[b * k:(b + 1) * k, b * k:(b + 1) * k] += Bk[b]
    rhs = np.concatenate([g.ravel(), [gc] if P.has_c else []])
    if P.has_c:
        H[-1, -1] += P.h_c
    try:
        Lh = np.linalg.cholesky(H)
        dx = -cho_solve((Lh, True), rhs)
    except np.linalg.LinAlgError:
        dx = -np.linalg.lstsq(H, rhs, rcond=None)[0]
    dc = float(dx[-1]) if P.has_c else 0.0
    dxb = dx[: nb * k].reshape(nb, k)
    return dxb[:, :dt], dxb[:, dt], dc


def _max_step(P: _Problem, U, T, dU, dT):
    """The largest step keeping every slack and cone strictly feasible (times BOUNDARY_FRACTION)."""
    s, r, q = P.slacks(U, T)
    ds = np.einsum("bmd,bd->bm", P.A, dU)
    neg = ds < 0
    a = 1.0
    if neg.any():
        a = min(a, float(np.min(-s[neg] / ds[neg])) * BOUNDARY_FRACTION)
    # (T + a dT)^2 - ||r + a dr||^2 > 0 with T + a dT > 0: a quadratic qa a^2 + qb a + qc in a
    # (qc = q > 0), its smallest positive real root per block, for all blocks at once (the
    # numerically stable pair of roots; qa = 0 leaves the linear root -qc / qb)
    dr = dU[:, P.pen]
    qa = dT * dT - np.sum(dr * dr, axis=1)
    qb = 2 * (T * dT - np.sum(r * dr, axis=1))
    qc = q
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        disc = qb * qb - 4.0 * qa * qc
        real = (qa == 0) | (disc >= 0)
        qq = -0.5 * (qb + np.copysign(np.sqrt(np.maximum(disc, 0.0)), qb))
        r1 = np.where(qa != 0, qq / qa, np.inf)
        r2 = np.where(qq != 0, qc / qq, np.inf)
    roots = np.concatenate([r1[real], r2[real]])
    roots = roots[np.isfinite(roots) & (roots > 0)]
    if roots.size:
        a = min(a, float(roots.min()) * BOUNDARY_FRACTION)
    down = dT < 0
    if down.any():
        a = min(a, float(np.min(-T[down] / dT[down])) * BOUNDARY_FRACTION)
    return a


def solve_barrier(Xt, y, patterns, model: Model, *, hints=None, time_limit: float | None = None,
                  gap_rel: float = BARRIER_GAP_REL, polish: bool = True, progress=None, screen: bool = True):
    """Solve the program over ``patterns`` (p, n) bool; returns a program.ConvexSolution.

    With ``screen`` (and more than SCREEN_ROWS non-zero rows) each block keeps only its
    SCREEN_ROWS rows nearest the boundary at its interior point: a relaxation, solved, checked
    against every row, and re-solved with the violated rows added (at most SCREEN_ROUNDS
    rounds, then the full program). A solution of the relaxation that satisfies every row is
    optimal for the full program. Most rows of a cell are redundant, and each costs the
    barrier path steps (the long-step path needs O(nu_B) damped steps per centering at worst).

    ``hints`` (p, dt): optional points of the patterns' cells (else an LP finds them).
    A pattern whose cell is not full-dimensional (the barrier needs interior points) has its
    blocks held at zero: the result is then the optimum of a restriction, reported with
    status "inaccurate" and ``dropped_patterns`` (their indices). Raises SolverError when no
    cell is full-dimensional or the path fails; the caller falls back to another solver.
    """
    from ..convex import ConvexSolution

    t0 = time.perf_counter()
    deadline = t0 + (TIME_LIMIT if time_limit is None else time_limit)
    Xt = np.asarray(Xt, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    S_all = np.asarray(patterns, dtype=bool)
    p_all = S_all.shape[0]
    d0, margin = interior_points(Xt, S_all, hints)
    full = margin > MIN_MARGIN
    if not full.any():
        raise SolverError(f"none of the {p_all} patterns has a full-dimensional cell (largest margin "
                          f"{float(margin.max(initial=0.0)):.1e}): the barrier method needs interior points")
    S, d0 = S_all[full], d0[full]
    P = _Problem(Xt, y, S, model)
    p = P.p
    info = {"solver": SOLVER_NAME, "n_patterns": p_all}
    m = P.A_full.shape[1]
    idx = None
    if screen and m > SCREEN_ROWS:
        # the SCREEN_ROWS rows of each block nearest to the interior point's boundary
        s0 = np.einsum("bmd,bd->bm", P.A_full, np.vstack([d0, d0]))
        idx = np.argsort(s0, axis=1, kind="stable")[:, :SCREEN_ROWS]
    rounds = []
    while True:
        P.restrict_rows(idx)
        U, c, sub = _solve_on(P, d0, deadline, gap_rel, polish, progress)
        sfull = np.einsum("bmd,bd->bm", P.A_full, U)
        bad = sfull < -POLISH_FEAS * np.linalg.norm(U, axis=1)[:, None]
        rounds.append({"rows": int(P.A.shape[1]), "violated": int(bad.sum()), "status": sub["status"]})
        if idx is None or not bad.any():
            break
        if len(rounds) >= SCREEN_ROUNDS or time.perf_counter() > deadline:
            idx = None  # the full program
            continue
        # add the violated rows (most violated first) to their blocks
        order = np.argsort(sfull / np.maximum(np.linalg.norm(U, axis=1), 1e-300)[:, None], axis=1, kind="stable")
        new = [np.unique(np.concatenate([idx[b], order[b, : int(bad[b].sum())]])) for b in range(P.nb)]
        K = max(len(r) for r in new) + SCREEN_ADD
        idx = np.array([np.concatenate([r, np.resize(r, K - len(r))]) if len(r) < K else r for r in new])
    info.update(sub)
    info["screening"] = rounds
    info["seconds"] = time.perf_counter() - t0
    obj = P.objective(U, c)
    W, V = np.zeros((p_all, P.dt)), np.zeros((p_all, P.dt))
    W[full], V[full] = U[:p], U[p:]
    if not full.all():
        info["dropped_patterns"] = [int(i) for i in np.flatnonzero(~full)]
        info["status"] = "inaccurate"
        info["note"] = (f"{int((~full).sum())} of {p_all} patterns have no full-dimensional cell: their "
                        "blocks are held at zero (the optimum of a restriction)")
    cc = float(c) if P.has_c else None
    return ConvexSolution(W, V, cc, float(obj), P.predict(U, c), info)


def _solve_on(P: _Problem, d0, deadline, gap_rel, polish, progress):
    """The barrier path and the polish on P's current rows: (U, c, info)."""
    dt = P.dt
    t0 = time.perf_counter()
    # start: small blocks inside their cones, t well inside its cone
    xmax = float(np.max(np.abs(P.Xt))) if P.Xt.size else 1.0
    scale = 1e-2 / max(1.0, xmax * dt)
    U = scale * np.vstack([d0, d0])
    T = np.linalg.norm(U[:, P.pen], axis=1) + 1.0 * max(scale, 1e-8)
    c = 0.0
    f_start = P.f0(U, T, c)
    mu = max(abs(f_start), 1.0) / P.nu_B
    info = {"barrier_terms": P.nu_B}
    newton = 0
    outer = 0
    status = "solved"
    uncentered = 0
    centered = False
    while True:
        last = mu * P.nu_B <= gap_rel * max(1.0, abs(P.f0(U, T, c)))
        tol = FINAL_CENTER_TOL if last else CENTER_TOL
        Fv = P.barrier_value(U, T, c, mu)
        centered = False
        for _step in range(MAX_CENTER_STEPS):
            if newton >= MAX_NEWTON or time.perf_counter() > deadline:
                status = "max_newton" if newton >= MAX_NEWTON else "time_limit"
                break
            dU, dT, dc, dec, _ = _newton_direction(P, U, T, c, mu)
            newton += 1
            if not np.isfinite(dec):
                raise SolverError("non-finite Newton direction")
            if dec / mu <= tol or dec <= 1e-15 * max(1.0, abs(Fv)):
                centered = True
                break
            a = _max_step(P, U, T, dU, dT)
            moved = False
            while a > 1e-12:
                U2, T2, c2 = U + a * dU, T + a * dT, c + a * dc
                F2 = P.barrier_value(U2, T2, c2, mu)
                if F2 <= Fv - ARMIJO * a * dec:
                    moved = True
                    break
                a *= 0.5
            if not moved:
                # rounding: the decrease is below what F can resolve
                centered = dec <= 1e-10 * max(1.0, abs(Fv))
                break
            U, T, c, Fv = U2, T2, c2, F2
        outer += 1
        uncentered += not centered
        if progress is not None:
            progress(outer, mu, P.f0(U, T, c))
        if last or status != "solved":
            break
        mu *= MU_FACTOR
    if status == "solved" and not centered:
        status = "inaccurate"  # the last point is not central: mu * nu_B does not bound its gap
    info.update({"status": status, "uncentered": uncentered, "newton_steps": newton, "centerings": outer, "mu": mu,
                 "gap_bound": mu * P.nu_B, "barrier_seconds": time.perf_counter() - t0})
    if status != "solved":
        info["note"] = f"the barrier path stopped early ({status})"
    obj = P.objective(U, c)
    info["barrier_objective"] = obj
    info["polished"] = False
    if polish and time.perf_counter() < deadline:
        try:
            out = polish_face(P, U, T, c, mu, deadline)
        except (np.linalg.LinAlgError, FloatingPointError, ValueError) as exc:
            out, info["polish_error"] = None, f"{type(exc).__name__}: {exc}"
        Nb = np.linalg.norm(U[:, P.pen], axis=1)
        if float(np.max(Nb, initial=0.0)) <= SUPPORT_TOL * max(1.0, float(np.max(T))):
            # every block's penalized part at the barrier's scale of mu: the zero network (with
            # its best constant) is a candidate face too, and the better of it and the polished
            # point is kept (the polish may settle on blocks of 1e-14 instead of zero). With a
            # free hidden bias the blocks may also carry free constants that cancel (pure-bias
            # blocks of the all-ones cell, +-b): the penalty does not see them, and they are
            # replaced by the one best constant
            zero = _zero_network(P, U, c)
            if out is None or P.objective(*zero) <= P.objective(*out):
                out = zero
        if out is not None:
            U2, c2 = out
            obj2 = P.objective(U2, c2)
            if obj2 <= obj + POLISH_SLACK * max(1.0, abs(obj)):
                U, c, obj = U2, c2, obj2
                info["polished"] = True
                info["polish_decrease"] = info["barrier_objective"] - obj2
    return U, c, info


def polish_face(P: _Problem, U, T, c, mu, deadline):
    """Newton's method on the face identified at the barrier point; (U, c) or None.

    Non-zero blocks keep their coordinates in the null space of their active rows; the
    program is then smooth in those coordinates (for every loss). When the result leaves a
    cone, the point steps towards it as far as the first row reaching zero and that row is
    held (polish.ratio_step); active rows whose multiplier has the wrong sign are released, and
    a block that collapses leaves the support, for at most POLISH_ROUNDS rounds.
    """
    beta = P.beta
    Nb = np.linalg.norm(U[:, P.pen], axis=1)
    big = max(float(Nb.max(initial=0.0)), 1e-300)
    sup = [int(b) for b in np.flatnonzero(Nb > SUPPORT_TOL * big)]
    s, _, _ = P.slacks(U, T)
    act = {b: s[b] ** 2 <= ACTIVE_FACTOR * mu * Nb[b] / beta for b in sup}
    U = U.copy()
    for b in range(P.nb):
        if b not in sup:
            U[b] = 0.0
    rounds, last_violated = 0, None  # active-set rounds (a collapse drops a block for good: not counted)
    while rounds < POLISH_ROUNDS:
        if time.perf_counter() > deadline:
            return None
        if not sup:
            # every block collapsed: the face is U = 0, where only the constant is free
            return _zero_network(P, U, c)
        out = _face_newton(P, U, c, sup, act, deadline)
        if out is None:
            return None
        U2, c2, collapsed = out
        if collapsed:
            sup = [b for b in sup if b not in collapsed]
            for b in collapsed:
                U[b] = 0.0
            continue
        # a row the Newton point violates: step only as far as the first row reaching zero and
        # hold that row (polish.ratio_step; holding every violated row at once took whole faces)
        step = ratio_step(P.A, U, U2, sup, act, POLISH_FEAS)
        if step is None:
            return None
        alpha, blocking, violated = step
        if too_far(violated, last_violated, rounds, POLISH_ROUNDS):
            return None
        rounds, last_violated = rounds + 1, violated
        if blocking:
            U, c = hold_step(U, U2, c, c2, sup, act, alpha, blocking)
            continue
        rel = _wrong_sign(P, U2, c2, sup, act)
        if rel:
            for b, rows in rel:
                act[b][rows] = False
            U, c = U2, c2
            continue
        return U2, c2
    return None


def _zero_network(P: _Problem, U, c):
    """The zero network with its best constant: (U, c) with every block zero and the constant
    in c (output constant) or else, with a free hidden bias, in the bias of the all-ones
    cell's w block (+b) or v block (-b), the one place a constant costs no penalty (its cone
    row constraints hold for u = (0, b), b >= 0). Without either the constant is 0."""
    U0 = np.zeros_like(U)
    if P.has_c:
        return U0, _constant_only(P, c)
    ones = np.flatnonzero(P.S.all(axis=1)) if P.model.hidden_bias == "free" else np.zeros(0, int)
    if ones.size == 0:
        return U0, c
    k = _constant_only(P, _carried_constant(P, U), always=True)
    i = int(ones[0])
    if k >= 0:
        U0[i, -1] = k
    else:
        U0[P.p + i, -1] = -k
    return U0, c


def _carried_constant(P: _Problem, U):
    """The constant the pure-bias parts of the all-ones cells' blocks add to every prediction."""
    ones = np.flatnonzero(P.S.all(axis=1))
    return float(np.sum(U[ones, -1]) - np.sum(U[P.p + ones, -1]))


def _constant_only(P: _Problem, c, always: bool = False):
    """argmin over c of loss(c 1) [+ h_c / 2 c^2] (c unchanged without an output constant,
    unless ``always``): the zero network's best constant, by a safeguarded 1-D Newton method."""
    if not (P.has_c or always):
        return c
    c = float(c)
    for _ in range(POLISH_ITERS):
        z = np.full(P.n, c)
        g = float(np.sum(P.loss.gradient(z, P.y))) + P.h_c * c
        h = float(np.sum(loss_hessian(P.model, z, P.y))) + P.h_c
        if h <= 0 or not np.isfinite(g):
            break
        step = g / h
        f = P.f0(np.zeros((0, P.dt)), np.zeros(0), c, z)
        a = 1.0
        while a > 1e-12 and P.f0(np.zeros((0, P.dt)), np.zeros(0), c - a * step,
                                  np.full(P.n, c - a * step)) > f:
            a *= 0.5
        c -= a * step
        if abs(a * step) <= POLISH_GRAD * max(1.0, abs(c)):
            break
    return c


def _block_gradient(P: _Problem, U, c):
    z = P.predict(U, c)
    lam = P.loss.gradient(z, P.y)
    return (P.D * lam[None, :]) @ P.Xt * P.sg[:, None], lam


def _wrong_sign(P: _Problem, U, c, sup, act, tol: float = 1e-9):
    """[(b, rows)]: active rows whose least-squares multipliers are negative."""
    G, _ = _block_gradient(P, U, c)
    out = []
    for b in sup:
        rows = np.flatnonzero(act[b])
        if rows.size == 0:
            continue
        w = U[b].copy()
        w[~P.pen] = 0.0
        r = G[b] + P.beta * w / max(float(np.linalg.norm(w)), 1e-300)
        mu, *_ = np.linalg.lstsq(P.A[b][rows].T, r, rcond=None)
        bad = mu < -tol * max(float(np.max(np.abs(mu))), 1e-300)
        if bad.any():
            out.append((b, rows[bad]))
    return out


def _face_newton(P: _Problem, U, c, sup, act, deadline):
    """Damped Newton on min loss(G x + c) + beta sum ||B_j x_j|| [+ h_c/2 c^2]."""
    n, dt, beta = P.n, P.dt, P.beta
    E = np.eye(dt)[P.pen]
    cols, Bs, Zs, xs = [], [], [], []
    for b in sup:
        Aa = P.A[b][act[b]]
        if Aa.shape[0]:
            _, sv, vt = np.linalg.svd(Aa, full_matrices=True)
            rank = int(np.sum(sv > 1e-9 * sv[0]))
            Z = vt[rank:].T
        else:
            Z = np.eye(dt)
        if Z.shape[1] == 0:
            return U, c, [b]
        cols.append(P.sg[b] * (P.D[b][:, None] * (P.Xt @ Z)))
        Bs.append(E @ Z)
        Zs.append(Z)
        xs.append(Z.T @ U[b])
    sizes = [Z.shape[1] for Z in Zs]
    if sum(sizes) + P.has_c > POLISH_MAX_DIM:
        return None
    G = np.hstack(cols + ([np.ones((n, 1))] if P.has_c else []))
    x = np.concatenate(xs + ([np.array([c])] if P.has_c else []))
    offs = np.cumsum([0] + sizes)
    y = P.y

    def norms(x):
        return [float(np.linalg.norm(B @ x[offs[j]:offs[j + 1]])) for j, B in enumerate(Bs)]

    def F(x):
        z = G @ x
        val = P.loss.value(z, y) + beta * sum(norms(x))
        return val + (0.5 * P.h_c * x[-1] ** 2 if P.has_c else 0.0)

    n0 = norms(x)
    if min(n0) <= 0:
        return None  # a pure-bias block: N is not smooth there

    def grad_hess(x, hess=True):
        z = G @ x
        lam = P.loss.gradient(z, y)
        g = G.T @ lam
        H = G.T @ (loss_hessian(P.model, z, y)[:, None] * G) if hess else None
        for j, B in enumerate(Bs):
            sl = slice(offs[j], offs[j + 1])
            u = B @ x[sl]
            nu = float(np.linalg.norm(u))
            if nu <= max(1e-10 * n0[j], POLISH_TINY * max(n0)):  # at the norm's kink: collapses
                return j, None
            qv = u / nu
            g[sl] += beta * (B.T @ qv)
            if hess:
                H[sl, sl] += beta * (B.T @ (np.eye(B.shape[0]) - np.outer(qv, qv)) @ B) / nu
        if P.has_c:
            g[-1] += P.h_c * x[-1]
            if hess:
                H[-1, -1] += P.h_c
        return g, H

    f = F(x)
    gscale = float(np.linalg.norm(G.T @ P.loss.gradient(np.zeros(n), y))) + beta * np.sqrt(len(Bs)) + 1e-300
    for _ in range(POLISH_ITERS):
        if time.perf_counter() > deadline:
            return None
        g, H = grad_hess(x)
        if H is None:
            return U, c, [sup[g]]
        gn = float(np.linalg.norm(g))
        if gn <= POLISH_GRAD * gscale:
            break
        damp = 1e-14 * max(float(np.trace(H)) / H.shape[0], 1e-300)
        moved = False
        for _try in range(10):
            try:
                step = -np.linalg.solve(H + damp * np.eye(H.shape[0]), g)
            except np.linalg.LinAlgError:
                damp *= 100
                continue
            slope = float(g @ step)
            a = 1.0
            while slope < 0 and a > 1e-4:
                xn = x + a * step
                fn = F(xn)
                if fn <= f + ARMIJO * a * slope:
                    moved = True
                elif fn <= f + 64 * np.finfo(float).eps * max(1.0, abs(f)):
                    g2, _ = grad_hess(xn, hess=False)
                    moved = not isinstance(g2, int) and float(np.linalg.norm(g2)) <= 0.5 * gn
                if moved:
                    break
                a *= 0.5
            if moved:
                break
            damp *= 100
        if not moved:
            break
        x, f = x + a * step, fn
    U2 = np.zeros_like(U)
    for j, b in enumerate(sup):
        U2[b] = Zs[j] @ x[offs[j]:offs[j + 1]]
    return U2, (float(x[-1]) if P.has_c else 0.0), []
