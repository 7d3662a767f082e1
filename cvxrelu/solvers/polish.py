"""Newton polish of squared-loss solutions on their identified face (docs/method.md section 7).

Interior-point and conic solutions are accurate to the solver's tolerance; :func:`polished`
refines them (when the refinement succeeds and does not raise the objective) so that the dual
point verify starts from is accurate to full precision. The polish never decides a verdict: the
network read off its result is evaluated like any other.
"""

from __future__ import annotations

import time

import numpy as np

from ..convex import ConvexSolution, block_predictions, convex_objective, network_objective
from ..dual import cone_matrix, cone_residual
from ..model import Model


def polished(sol: ConvexSolution, Xt, y, S, model: Model, support) -> ConvexSolution:
    """``sol`` refined by :func:`polish_squared` when that succeeds (recorded in solver_info)."""
    info = sol.solver_info
    W, V, c = sol.W, sol.V, sol.c
    before = convex_objective(Xt, y, S, W, V, c, model)
    try:
        out = polish_squared(Xt, y, S, W, V, c, model, support=support, why=info)
    except (np.linalg.LinAlgError, RuntimeError, FloatingPointError, ValueError) as exc:
        out, info["polish_error"] = None, f"{type(exc).__name__}: {exc}"
    info["polished"] = out is not None
    if out is not None:
        W, V, c = out
    obj = convex_objective(Xt, y, S, W, V, c, model)
    info["polish_decrease"] = before - obj
    pred = block_predictions(Xt, S, W, V) + (c if c is not None else 0.0)
    return ConvexSolution(W, V, c, obj, pred, info)


#: The polish holds row k of a non-zero block at zero when (A w)_k <= POLISH_ACTIVE ||xt_k|| ||w||.
POLISH_ACTIVE = 1e-9
#: Polish only when the support has at most this many free coordinates (dense Newton).
POLISH_MAX_DIM = 4000
#: Active-set rounds of the polish (ratio steps, releases, joining blocks; a collapse drops a
#: block and is not counted: there are at most as many as blocks), and its time budget. The
#: 95-pattern program of tests/test_polish_face.py takes 18 rounds and 9 collapses.
POLISH_ROUNDS = 30
#: Give up early when a Newton point violates more rows than POLISH_VIOLATED_PER_ROUND times
#: the rounds left, and not half as many as at the previous round (``too_far``).
POLISH_VIOLATED_PER_ROUND = 4
POLISH_SECONDS = 60.0
#: Without a support from the solver, blocks above this times the largest are non-zero.
POLISH_SUPPORT = 1e-7
#: Blocks of one sign whose directions have 1 - cos below this are merged (parallel).
POLISH_PARALLEL = 1e-12
#: The polished network may not be worse than the solver's by more than this (relative): far
#: below the solvers' own tolerances (1e-9), and what the recomputation of L can resolve.
POLISH_SLACK = 1e-10
#: The polished blocks must satisfy A w >= -POLISH_FEAS ||xt_k|| ||w|| on every row.
POLISH_FEAS = 1e-12
#: A zero block that joins the support starts at this size relative to the largest block.
POLISH_NEW_BLOCK = 1e-3
#: A block below this times the largest block leaves the support (it collapses): measured, a
#: leftover of 4e-14 against a largest of 3.5 (2-D data, a hidden bias) stalled Newton at the
#: norm's kink 1.2e-8 above the solver's objective, and the polish was declined.
POLISH_TINY = 1e-12
#: Newton stops when the face gradient is below POLISH_GRAD times its scale; the damping of the
#: Newton system starts at POLISH_DAMP0 times its mean diagonal.
POLISH_GRAD = 1e-12
POLISH_DAMP0 = 1e-12
#: Newton iterations of the polish.
POLISH_ITERS = 50


def polish_squared(Xt, y, S, W, V, c, model: Model, support=None, time_limit: float = None,
                   why: dict | None = None):
    """Newton refinement of a squared-loss solution on its identified face (to full precision).

    Interior-point solutions are accurate to the solver's tolerance in the objective, hence only
    to about its square root in the predictions and in the dual point lam = yhat - y that verify
    starts from. On the face the solution identifies (its non-zero blocks, each held to the null
    space of its active rows A_act w = 0) the program is smooth:

        min_v  1/2 ||sum_b sg_b D_b Xt Z_b v_b + c - y||^2 + beta sum_b N(Z_b v_b) [+ h_c/2 c^2],

    and Newton's method with a backtracking line search converges quadratically. Between
    rounds (at most POLISH_ROUNDS, within ``time_limit`` seconds, POLISH_SECONDS by default) the
    face is corrected as in an active-set method: when the refined point leaves a cone, the
    point steps towards it only as far as the first row reaching zero, which joins its block's
    active set (``ratio_step``), an active row with a negative multiplier is released, a block that
    collapses or turns around leaves the support, and a zero block whose dual constraint is
    violated joins it. Blocks of one sign with parallel directions are merged first. The result
    is returned only when every block is in its cone (to POLISH_FEAS) and the program's
    objective did not rise; otherwise None (the caller keeps the solver's answer), and
    ``why["polish_declined"]`` (when ``why`` is given) says which test failed.
    """

    def declined(reason: str):
        if why is not None:
            why["polish_declined"] = reason
        return None

    deadline = time.perf_counter() + (POLISH_SECONDS if time_limit is None else time_limit)
    Xt = np.asarray(Xt, dtype=np.float64)
    n, dt = Xt.shape
    p = S.shape[0]
    U = np.vstack([W, V])
    c0 = c
    full = np.linalg.norm(U, axis=1)
    sup = support if support is not None else full > POLISH_SUPPORT * max(float(full.max(initial=0.0)), 1e-300)
    sup = np.flatnonzero(np.asarray(sup, dtype=bool) & (full > 0))
    if sup.size == 0:
        return declined("no non-zero block")
    N = model.neuron_norm(U[sup].T)
    pure = N <= 1e-12 * float(N.max())
    if np.any(pure):
        # a pure-bias block (free hidden bias, u = (0, b)) sits at the penalty's kink. In the
        # all-ones cell it adds the constant sg b to every prediction at no penalty, which is
        # what the free output constant (a free hidden bias makes one available) carries: fold
        # it into c. Elsewhere the polish cannot handle it
        if (c is None or model.hidden_bias != "free" or model.effective_output_bias != "free"
                or not all(S[b % p].all() for b in sup[pure])):
            return declined("a pure-bias block (free hidden bias): the penalty is not smooth there")
        U = U.copy()
        for b in sup[pure]:
            c = c + (1.0 if b < p else -1.0) * float(U[b, -1])
            U[b] = 0.0
        sup = sup[~pure]
        if sup.size == 0:
            return declined("no non-zero block besides constants")
    # Blocks of one sign with parallel directions lie on a face shared by their cells (in 1-D
    # the optimal kinks sit at data points, Cor. 3.2): their sum lies in every one of those
    # cones and predicts the same, with the same penalty. Merge them, or the split between
    # them is a singular, non-smooth direction for Newton.
    U = U.copy()
    unit = U[sup] / full[sup][:, None]
    merged_into = {}
    for a_pos, a in enumerate(sup):
        if a in merged_into:
            continue
        for b_pos in range(a_pos + 1, sup.size):
            b = sup[b_pos]
            if b in merged_into or float(unit[a_pos] @ unit[b_pos]) < 1 - POLISH_PARALLEL:
                continue
            if (a < p) == (b < p):
                U[a] += U[b]
                U[b] = 0.0
                merged_into[b] = a
            else:
                # opposite signs, one direction: relu(Xt w) - relu(Xt v) = (|w| - |v|) relu(Xt e);
                # keep the difference in the larger block (same predictions, penalty lower by
                # 2 beta min(|w|, |v|))
                big, small = (a, b) if full[a] >= full[b] else (b, a)
                U[big] *= 1.0 - full[small] / full[big]
                U[small] = 0.0
                merged_into[small] = big
                if big == b:
                    break
    sup = np.array([b for b in sup if b not in merged_into], dtype=int)
    full = np.linalg.norm(U, axis=1)
    xn = np.linalg.norm(Xt, axis=1)
    A = {int(b): cone_matrix(Xt, S[b % p]) for b in sup}
    act = {int(b): A[b] @ U[b] <= POLISH_ACTIVE * xn * full[b] for b in sup}
    rounds, last_violated = 0, None  # active-set rounds (a collapse drops a block for good: not counted)
    while rounds < POLISH_ROUNDS:
        if time.perf_counter() > deadline:
            return declined("out of time")
        out = _newton_on_face(Xt, y, S, U, c, model, sup, A, act, deadline)
        if out is None:
            return declined("out of time" if time.perf_counter() > deadline else
                            f"more than POLISH_MAX_DIM = {POLISH_MAX_DIM} free coordinates")
        U2, c2, collapsed = out
        # a block that shrinks to nothing or turns around wants to be zero: drop it and redo
        if U2 is not None:
            collapsed = set(collapsed) | {int(b) for b in sup if float(U2[b] @ U[b]) <= 0.0}
        if collapsed:
            sup = np.array([b for b in sup if int(b) not in collapsed], dtype=int)
            if sup.size == 0:
                return declined("every block collapsed")
            continue
        # a row the refined point violates: step from the current point towards it only as far
        # as the first row reaches zero (the ratio test of an active-set method), and hold that
        # row at zero. Holding every violated row at once over-constrained the blocks: on 2-D
        # data with a hidden bias (3 coordinates per block) they lost their whole face one after
        # another, and the polish ended with every block collapsed (docs/method.md section 9)
        step = ratio_step(A, U, U2, sup, act, POLISH_FEAS * xn)
        if step is None:
            return declined("a row held at zero left its cone")
        alpha, blocking, violated = step
        if too_far(violated, last_violated, rounds, POLISH_ROUNDS):
            return declined(f"{violated} rows violated after {rounds} of {POLISH_ROUNDS} rounds "
                            "(POLISH_VIOLATED_PER_ROUND): the solver's face is far from the optimum's")
        rounds, last_violated = rounds + 1, violated
        if blocking:
            U, c = hold_step(U, U2, c, c2, sup, act, alpha, blocking)
            continue
        # an active row whose multiplier has the wrong sign holds its block against the optimum:
        # release it (g_b + beta dN(w_b) = A_act' mu needs mu >= 0)
        released = _wrong_sign_rows(Xt, y, S, U2, c2, model, sup, A, act)
        if released:
            for b, rows in released:
                act[b][rows] = False
            U, c = U2.copy(), c2
            continue
        if model.hidden_bias != "free":
            # a zero block whose dual constraint the refined point violates joins the support
            # along its steepest feasible direction (the face was identified one block short)
            new = _violated_zero_blocks(Xt, y, S, U2, c2, model, sup)
            if new:
                U, c = U2.copy(), c2
                scale = float(np.max(np.linalg.norm(U2[sup], axis=1)))
                for b, dvec, rows in new:
                    U[b] = POLISH_NEW_BLOCK * scale * dvec
                    A[b] = cone_matrix(Xt, S[b % p])
                    act[b] = rows
                sup = np.concatenate([sup, [b for b, _, _ in new]]).astype(int)
                continue
        W2, V2 = U2[:p], U2[p:]
        # compare the networks read off both (eq. 9): a solver's point may violate its cones
        # slightly, and then its program objective is below that of any feasible point
        L0 = network_objective(Xt, y, W, V, c0, model)
        if network_objective(Xt, y, W2, V2, c2, model) > L0 + POLISH_SLACK * max(1.0, abs(L0)):
            return declined("the polished network is worse than the solver's (POLISH_SLACK)")
        return W2, V2, c2
    return declined(f"the face did not settle in POLISH_ROUNDS = {POLISH_ROUNDS} rounds")


def ratio_step(A, U, U2, blocks, act, feas):
    """The ratio test of a primal active-set method, between the current point U and the Newton
    point U2 on the current face: (alpha, [(b, k)]), the largest step alpha in [0, 1] along
    U2 - U that keeps every row of every block in its cone, and the rows that reach zero there
    (to be held at zero), and how many rows U2 violates; (1.0, [], 0) when it violates none;
    None when U2 violates only rows already held at zero (the face itself is inconsistent).

    A[b] (rows, dims): block b's cone rows, (A[b] u)_k >= 0 inside the cone; act[b] the rows held
    at zero; a row is violated below -feas * ||U2[b]|| (``feas`` a scalar, or one value per row).
    Holding every violated row at once instead over-constrains the blocks (docs/method.md
    section 9, the face polish).
    """
    alpha, blocking, violated = 1.0, [], 0
    for b in blocks:
        new = A[b] @ U2[b]
        bad = new < -feas * np.linalg.norm(U2[b])
        if not bad.any():
            continue
        rows = np.flatnonzero(bad & ~act[b])
        if rows.size == 0:
            return None
        violated += rows.size
        old = A[b][rows] @ U[b]
        t = np.clip(old / np.maximum(old - new[rows], 1e-300), 0.0, 1.0)
        k = int(np.argmin(t))
        if t[k] < alpha:
            alpha, blocking = float(t[k]), [(b, int(rows[k]))]
        elif t[k] == alpha:
            blocking.append((b, int(rows[k])))
    return alpha, blocking, violated


def hold_step(U, U2, c, c2, blocks, act, alpha, blocking):
    """(U, c) moved by ``alpha`` towards (U2, c2) on ``blocks``, with the rows of ``blocking``
    held at zero from now on (in ``act``): the step of ``ratio_step``."""
    U = U.copy()
    U[blocks] += alpha * (U2[blocks] - U[blocks])
    if c is not None and c2 is not None:
        c = c + alpha * (c2 - c)
    for b, k in blocking:
        act[b][k] = True
    return U, c


def too_far(violated: int, before: int | None, rounds: int, limit: int) -> bool:
    """Whether an active-set polish, after ``rounds`` of its ``limit`` rounds, should give up:
    its Newton point violates more than POLISH_VIOLATED_PER_ROUND rows per round left, and
    more than half as many as at the previous round (``before``; None at the first). Measured,
    rows violated per round: 222, 87, 1, 0 on a 2-D program that settles; 1 089, 868, 590,
    550, ... (still 124 at round 40) on sampled patterns at d = 10, where the face never
    settled and 100 rounds cost 3 s (4 rounds, 1.3 s)."""
    return (before is not None and violated > 0.5 * before
            and violated > POLISH_VIOLATED_PER_ROUND * (limit - rounds))


def _wrong_sign_rows(Xt, y, S, U, c, model: Model, sup, A, act, tol: float = 1e-9):
    """[(b, rows)]: active rows of support blocks whose Lagrange multipliers are negative.

    On its face, block b satisfies g_b + beta dN(w_b) = A_act' mu (least squares); a row with
    mu_k < -tol * max|mu| should not be held at zero.
    """
    p = S.shape[0]
    W, V = U[:p], U[p:]
    lam = block_predictions(Xt, S, W, V) + (c if c is not None else 0.0) - y
    G = (S * lam[None, :]) @ Xt
    out = []
    for b in sup:
        rows = np.flatnonzero(act[b])
        if rows.size == 0:
            continue
        g = G[b % p] * (1.0 if b < p else -1.0)
        r = g + model.beta * model.group_norm.subgradient(U[b])
        mu, *_ = np.linalg.lstsq(A[b][rows].T, r, rcond=None)
        bad = mu < -tol * max(float(np.max(np.abs(mu))), 1e-300)
        if bad.any():
            out.append((int(b), rows[bad]))
    return out


def _violated_zero_blocks(Xt, y, S, U, c, model: Model, sup, tol: float = 1e-9, limit: int = 16):
    """Zero blocks whose dual constraint is violated at (U, c), most violated first.

    Block b (pattern D, sign sg) has gradient g = sg Xt' D lam; its steepest feasible direction is
    the projection of -g onto its cone, d = A'zeta* - g with zeta* = argmin_{zeta >= 0}
    ||A'zeta - g|| (NNLS); the constraint ||d|| <= beta is violated when ||d|| > beta (1 + tol).
    Returns [(b, d / ||d||, rows held at zero)] for at most ``limit`` blocks.
    """
    p = S.shape[0]
    W, V = U[:p], U[p:]
    lam = block_predictions(Xt, S, W, V) + (c if c is not None else 0.0) - y
    G = (S * lam[None, :]) @ Xt
    grads = np.vstack([G, -G])
    gn = np.linalg.norm(grads, axis=1)
    inside = np.zeros(2 * p, dtype=bool)
    inside[np.asarray(sup, dtype=int)] = True
    cand = [b for b in np.argsort(-gn) if not inside[b] and gn[b] > model.beta * (1 + tol)]
    out = []
    xn = np.linalg.norm(Xt, axis=1)
    for b in cand:
        A = cone_matrix(Xt, S[b % p])
        zeta, _ = cone_residual(A, -grads[b])
        d = A.T @ zeta - grads[b]
        nd = float(np.linalg.norm(d))
        if nd > model.beta * (1 + tol):
            rows = A @ d <= POLISH_ACTIVE * xn * nd
            out.append((int(b), d / nd, rows, nd))
    out.sort(key=lambda r: -r[3])
    return [(b, dvec, rows) for b, dvec, rows, _ in out[:limit]]


def _newton_on_face(Xt, y, S, U, c, model, sup, A, act, deadline: float = float("inf")):
    """Newton's method for the face program of :func:`polish_squared`.

    Returns (U, c, []) , or (None, None, [b]) when block b collapses, or None when the face has
    no room (an empty null space) or the Newton system fails.
    """
    n, dt = Xt.shape
    p = S.shape[0]
    E = model.group_norm.selector(dt)
    cols, Bs, Zs, vs = [], [], [], []
    for b in sup:
        Aa = A[b][act[b]]
        if Aa.shape[0]:
            # only sv and the dt x dt factor vt are used: the k x k left factor of a full SVD
            # took 13 GiB at k = 41 865 active rows (1-D data, n = 1e5)
            _, sv, vt = np.linalg.svd(Aa, full_matrices=Aa.shape[0] < Aa.shape[1])
            rank = int(np.sum(sv > 1e-9 * sv[0]))
            Z = vt[rank:].T
        else:
            Z = np.eye(dt)
        if Z.shape[1] == 0:  # no room on the face: the block belongs to the zero blocks
            return None, None, [int(b)]
        sg = 1.0 if b < p else -1.0
        cols.append(sg * (S[b % p][:, None] * (Xt @ Z)))
        Bs.append(E @ Z)
        Zs.append(Z)
        vs.append(Z.T @ U[b])
    sizes = [Z.shape[1] for Z in Zs]
    has_c = model.effective_output_bias != "none"
    h_c = model.beta if model.effective_output_bias == "penalized" else 0.0
    if sum(sizes) + has_c > POLISH_MAX_DIM:
        return None
    G = np.hstack(cols + ([np.ones((n, 1))] if has_c else []))
    x = np.concatenate(vs + ([np.array([c if c is not None else 0.0])] if has_c else []))
    offs = np.cumsum([0] + sizes)
    beta = model.beta

    # the penalty's blocks, padded to one dense (blocks, rows, cols) array: every block's u_j =
    # B_j x_j, its norm, gradient and Hessian in a few vectorized products (F is evaluated in
    # every line-search step; a loop over the blocks, then scipy.sparse's per-call overhead,
    # dominated it: 26 of 65 s of polish on the diabetes slice, rank 4)
    nb = len(Bs)
    kmax = max(sizes)
    rmax = max(B.shape[0] for B in Bs)
    Bp = np.zeros((nb, rmax, kmax))
    idx = np.zeros((nb, kmax), dtype=np.intp)
    valid = np.zeros((nb, kmax), dtype=bool)
    for j, B in enumerate(Bs):
        Bp[j, :B.shape[0], :sizes[j]] = B
        idx[j, :sizes[j]] = offs[j] + np.arange(sizes[j])
        valid[j, :sizes[j]] = True
    BtB = np.einsum("jrk,jrl->jkl", Bp, Bp)
    flat = idx[valid]  # each variable once, block by block
    pair = valid[:, :, None] & valid[:, None, :]
    rows_h = np.broadcast_to(idx[:, :, None], pair.shape)[pair]
    cols_h = np.broadcast_to(idx[:, None, :], pair.shape)[pair]

    def blocks(x):
        """u (blocks, rows): every block's B_j x_j, and the norms ||B_j x_j||."""
        u = np.einsum("jrk,jk->jr", Bp, np.where(valid, x[idx], 0.0))
        return u, np.sqrt(np.einsum("jr,jr->j", u, u))

    def F(x):
        r = G @ x - y
        val = 0.5 * float(r @ r) + beta * float(np.sum(blocks(x)[1]))
        return val + (0.5 * h_c * x[-1] ** 2 if has_c else 0.0)

    GtG, Gty = G.T @ G, G.T @ y
    norms0 = blocks(x)[1]
    gscale = float(np.linalg.norm(Gty)) + beta * np.sqrt(len(Bs)) + 1e-300
    # a block collapses when it falls below 1e-10 of its own starting size, or below
    # POLISH_TINY of the largest block: a solver's support can hold leftovers of 1e-14 that sit
    # at the norm's kink, where the gradient is not the function's slope and Newton stalls
    limit = np.maximum(1e-10 * norms0, POLISH_TINY * float(norms0.max(initial=0.0)))

    def grad_hess(x, hess=True):
        """Gradient (and Hessian) of F, or None when a block has collapsed (index).

        All blocks at once: the penalty's gradient is beta B_j' q_j for block j (q_j = u_j /
        ||u_j||, u_j = B_j x_j), its Hessian beta (B_j' B_j - B_j' q_j q_j' B_j) / ||u_j||,
        block diagonal."""
        g = GtG @ x - Gty
        H = GtG.copy() if hess else None
        u, nu = blocks(x)
        low = np.flatnonzero(nu <= limit)
        if low.size:
            return int(low[0]), None
        q = u / nu[:, None]
        K = np.einsum("jrk,jr->jk", Bp, q)  # B_j' q_j
        g[flat] += beta * K[valid]
        if hess:
            Hb = (BtB - K[:, :, None] * K[:, None, :]) / nu[:, None, None]
            H[rows_h, cols_h] += beta * Hb[pair]
        if has_c:
            g[-1] += h_c * x[-1]
            if hess:
                H[-1, -1] += h_c
        return g, H

    f = F(x)
    damp = None
    for _ in range(POLISH_ITERS):
        if time.perf_counter() > deadline:
            return None  # out of time (the caller keeps the solver's answer)
        g, H = grad_hess(x)
        if H is None:
            return None, None, [int(sup[g])]  # collapses: it belongs to the zero blocks
        gn = float(np.linalg.norm(g))
        if gn <= POLISH_GRAD * gscale:
            break
        # damped Newton (Levenberg-Marquardt): H can be singular on the face (a 1-D face has no
        # curvature from its norm, and blocks of opposite signs can cancel in the predictions).
        # A step is accepted when F decreases enough, or, where F's rounding hides the decrease
        # (near the optimum), when F does not rise beyond rounding and the gradient halves.
        scale = max(float(np.trace(H)) / H.shape[0], 1e-300)
        damp = POLISH_DAMP0 * scale if damp is None else max(damp / 10, POLISH_DAMP0 * scale)
        moved = False
        for _try in range(12):
            try:
                step = -np.linalg.solve(H + damp * np.eye(H.shape[0]), g)
            except np.linalg.LinAlgError:
                damp *= 100
                continue
            slope = float(g @ step)
            a = 1.0
            while slope < 0 and a > 1e-3:
                xn = x + a * step
                fn = F(xn)
                if fn <= f + 1e-4 * a * slope:
                    moved = True
                elif fn <= f + 64 * np.finfo(float).eps * max(1.0, abs(f)):
                    g2, _ = grad_hess(xn, hess=False)
                    moved = g2 is not None and not isinstance(g2, int) and float(np.linalg.norm(g2)) <= 0.5 * gn
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
    return U2, (float(x[-1]) if has_c else None), []
