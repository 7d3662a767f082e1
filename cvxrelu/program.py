"""The convex program (MATH.md section 2, paper eq. 4) in Clarabel's native conic form.

    min  loss( sum_i D_i Xt (w_i - v_i) + c 1 ) + beta sum_i (N(w_i) + N(v_i)) [+ beta/2 c^2]
    s.t. (2 D_i - I) Xt w_i >= 0,  (2 D_i - I) Xt v_i >= 0

Variables, in order: w (p dt), v (p dt), tw (p), tv (p), [c], z (n) [, l (n), a (n), b (n)].
z is the prediction (one equality block); tw, tv are the norm epigraphs (one second-order cone
per block); the squared loss is the quadratic 1/2 ||z - y||^2 ("z-form"). For the squared loss
with few blocks (p dt <= PFORM_RATIO * n) the "P-form" is used instead: the variable z is
replaced by u = w - v (p dt) and the loss by the dense quadratic 1/2 [u; c]^T M^T M [u; c] -
y^T M [u; c] with M = [D_1 Xt, ..., D_p Xt, 1]; the sparse LDL^T then works on a dense
(p dt) block instead of the fill that n prediction rows of ~n/2 entries each create (5.5x faster
at n = 1000, 50 patterns, d = 10: 2.7 s vs 14.9 s; slower beyond about 0.6 n, see PFORM_RATIO). The logistic loss uses two
exponential cones per sample: l_k >= log(1 + exp(-y_k z_k)) <=> a_k + b_k <= 1,
(-l_k, 1, a_k) and (-y_k z_k - l_k, 1, b_k) in K_exp = {(x, y, z): y exp(x/y) <= z}.
The matrices are assembled once from COO index arrays (no loop over samples or patterns).
"""

from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp

from .convex import (  # noqa: F401 - re-exported: the program's public names
    ConvexSolution,
    block_predictions,
    convex_objective,
    network_from_blocks,
    network_objective,
)
from .model import Model

#: Use the P-form for the squared loss when p * dt <= PFORM_RATIO * n. Measured at n = 1000,
#: d = 10 (while choosing the form): P-form 2.7 s / 3.7 s vs z-form 15 s / 23 s for 50 / 60 patterns,
#: but 121 s / 140 s vs 16 s / 22 s for 75 / 100 (the fill of the sparse LDL^T changes abruptly).
PFORM_RATIO = 0.5




def solve_convex_program(
    Xt: np.ndarray, y: np.ndarray, patterns: np.ndarray, model: Model, *, settings: dict | None = None
) -> ConvexSolution:
    """Solve the program over the given patterns with Clarabel.

    Parameters
    ----------
    Xt : (n, dt) augmented data; y : (n,) labels; patterns : (p, n) bool (rows D_i).
    """
    from .solvers.clarabel import solve_conic

    Xt = np.asarray(Xt, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    S = np.asarray(patterns, dtype=bool)
    n, dt = Xt.shape
    p = S.shape[0]
    ob = model.effective_output_bias
    has_c = ob != "none"
    logistic = model.loss == "logistic"
    free_hb = model.hidden_bias == "free"
    pform = not logistic and p * dt <= PFORM_RATIO * n
    # variable offsets (in the P-form, the n slots of z hold u = w - v instead: p dt slots)
    o_w, o_v = 0, p * dt
    o_tw, o_tv = 2 * p * dt, 2 * p * dt + p
    o_c = 2 * p * dt + 2 * p
    o_z = o_c + (1 if has_c else 0)
    o_l = o_z + (p * dt if pform else n)
    nvar = o_l + (3 * n if logistic else 0)
    o_a, o_b = o_l + n, o_l + 2 * n

    rows, cols, vals, b, cones = [], [], [], [], []
    r0 = 0

    def add(r, c, v):
        rows.append(np.asarray(r, dtype=np.int64).ravel())
        cols.append(np.asarray(c, dtype=np.int64).ravel())
        vals.append(np.asarray(v, dtype=np.float64).ravel())

    jj = np.arange(dt)
    if pform:
        # 1'. equality: u - w + v = 0
        m = p * dt
        add(r0 + np.arange(m), o_z + np.arange(m), np.ones(m))
        add(r0 + np.arange(m), o_w + np.arange(m), -np.ones(m))
        add(r0 + np.arange(m), o_v + np.arange(m), np.ones(m))
        b.append(np.zeros(m))
        cones.append(("zero", m))
        r0 += m
    else:
        # 1. equality: z - sum_i D_i Xt (w_i - v_i) - c 1 = 0
        ii, kk = np.nonzero(S)  # active (pattern, sample) pairs
        rr = np.repeat(kk, dt)
        cw = (ii[:, None] * dt + jj[None, :]).ravel()
        xv = Xt[kk].ravel()
        add(r0 + rr, o_w + cw, -xv)
        add(r0 + rr, o_v + cw, xv)
        if has_c:
            add(r0 + np.arange(n), np.full(n, o_c), -np.ones(n))
        add(r0 + np.arange(n), o_z + np.arange(n), np.ones(n))
        b.append(np.zeros(n))
        cones.append(("zero", n))
        r0 += n
    # 2. cone constraints: -(2 D_i - I) Xt w_i + s = 0, s >= 0 (and the same for v)
    sgn = (2.0 * S - 1.0)  # (p, n)
    ip = np.repeat(np.arange(p), n)
    kp = np.tile(np.arange(n), p)
    rows_c = (ip * n + kp)[:, None].repeat(dt, axis=1).ravel()
    cols_c = (ip[:, None] * dt + jj[None, :]).ravel()
    vals_c = (-(sgn.ravel()[:, None]) * Xt[kp]).ravel()
    for off in (o_w, o_v):
        add(r0 + rows_c, off + cols_c, vals_c)
        b.append(np.zeros(p * n))
        cones.append(("nonneg", p * n))
        r0 += p * n
    # 3. second-order cones (t_i, N-part of w_i)
    nd = dt - 1 if free_hb else dt
    for off, ot in ((o_w, o_tw), (o_v, o_tv)):
        for i in range(p):
            add([r0], [ot + i], [-1.0])
            add(r0 + 1 + np.arange(nd), off + i * dt + np.arange(nd), -np.ones(nd))
            b.append(np.zeros(nd + 1))
            cones.append(("soc", nd + 1))
            r0 += nd + 1
    # 4. logistic epigraph
    if logistic:
        for k in range(n):
            # (-l_k, 1, a_k) in K_exp
            add([r0, r0 + 2], [o_l + k, o_a + k], [1.0, -1.0])
            b.append(np.array([0.0, 1.0, 0.0]))
            cones.append(("exp", 3))
            r0 += 3
            # (-y_k z_k - l_k, 1, b_k) in K_exp
            add([r0, r0, r0 + 2], [o_z + k, o_l + k, o_b + k], [y[k], 1.0, -1.0])
            b.append(np.array([0.0, 1.0, 0.0]))
            cones.append(("exp", 3))
            r0 += 3
        # a_k + b_k <= 1
        add(r0 + np.arange(n), o_a + np.arange(n), np.ones(n))
        add(r0 + np.arange(n), o_b + np.arange(n), np.ones(n))
        b.append(np.ones(n))
        cones.append(("nonneg", n))
        r0 += n
    A = sp.csc_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(r0, nvar))
    bvec = np.concatenate(b)
    # merge consecutive cones of one kind (exp cones stay separate)
    merged: list[tuple[str, int]] = []
    for kind, dim in cones:
        if merged and kind == merged[-1][0] and kind in ("zero", "nonneg"):
            merged[-1] = (kind, merged[-1][1] + dim)
        else:
            merged.append((kind, dim))
    q = np.zeros(nvar)
    q[o_tw : o_tw + 2 * p] = model.beta
    Pd = np.zeros(nvar)
    if logistic:
        q[o_l : o_l + n] = 1.0
    elif not pform:
        Pd[o_z : o_z + n] = 1.0
        q[o_z : o_z + n] = -y
    if has_c and ob == "penalized":
        Pd[o_c] = model.beta
    P = sp.diags(Pd, format="csc")
    if pform:
        # loss 1/2 ||M [u; c] - y||^2 on the variables u (and c): dense Gram block
        M = (S.T[:, :, None] * Xt[:, None, :]).reshape(n, p * dt)
        idx = np.arange(o_z, o_z + p * dt)
        if has_c:
            M = np.hstack([np.ones((n, 1)), M])
            idx = np.concatenate([[o_c], idx])
        Gm = np.triu(M.T @ M)
        gi, gj = np.nonzero(Gm)
        P = P + sp.csc_matrix((Gm[gi, gj], (idx[gi], idx[gj])), shape=(nvar, nvar))
        q[idx] += -(M.T @ y)
    x, _, info = solve_conic(P, q, A, bvec, merged, settings)
    W = x[o_w:o_v].reshape(p, dt)
    V = x[o_v:o_tw].reshape(p, dt)
    c = float(x[o_c]) if has_c else None
    pred = block_predictions(Xt, S, W, V) + (c if c is not None else 0.0)
    obj = convex_objective(Xt, y, S, W, V, c, model)
    info.update({"n_patterns": p, "n_variables": nvar, "n_constraints": r0, "nnz": int(A.nnz),
                 "form": "P" if pform else ("exp-cone" if logistic else "z")})
    return ConvexSolution(W, V, c, obj, pred, info)


SOLVERS = ("auto", "ipm", "clarabel", "first-order")
#: ``auto`` asks Clarabel for a second answer, when the interior-point method ended short of its
#: tolerances or its polish failed, if the program has at most this many cone rows (2 p n).
CLARABEL_SECOND_OPINION_ROWS = 200_000
#: ``auto`` falls back to Clarabel when the interior-point method fails only on programs of at
#: most this many cone rows (2 p n); larger ones keep the IPM's best feasible iterate instead.
CLARABEL_FALLBACK_ROWS = 2_000_000
#: ``auto`` leaves the interior-point method for the first-order one when its estimated memory
#: (``ipm_bytes``) exceeds this (the machine has 24 GiB).
IPM_MAX_BYTES = 12 * 2**30
#: With hint directions for the patterns, the interior-point method screens the cone rows
#: (solvers/ipm.py, solve_ipm_screened) when the data have more than this many rows (it keeps
#: SCREEN_ROWS = 128 per pattern): at n = 1 000 it halves the time on sampled patterns, at
#: n = 2 000 on a search's warm-start program 59 iterations become 23, at n = 20 000 it is what
#: makes that program solvable at all (docs/benchmarks.md).
SCREEN_MIN_ROWS = 512


def ipm_bytes(n: int, p: int, dt: int, screened: bool = False) -> int:
    """Estimated peak memory of solvers/ipm.py on n samples, p patterns, dt coordinates.

    The dense coupling block (min(n, p dt)^2), the n x p dt factor it is built from (B in the
    Woodbury form, M in the Gram form), and about 30 arrays of the 2p x n cone variables
    (slacks, multipliers, scalings, residuals, directions and their refinements); screened,
    the cone arrays have a few hundred rows per block instead of n, and the row check needs
    four p x n arrays.
    """
    k = min(n, p * dt)
    from .solvers.ipm import SCREEN_ADD, SCREEN_MAX_ROUNDS, SCREEN_ROWS

    rows = min(n, SCREEN_ROWS + SCREEN_MAX_ROUNDS * SCREEN_ADD) if screened else n
    return 8 * (2 * k * k + 2 * n * p * dt + 30 * 2 * p * rows + (4 * p * n if screened else 0))


def solve_program(
    Xt: np.ndarray, y: np.ndarray, patterns: np.ndarray, model: Model, *, solver: str = "auto", progress=None,
    hints: np.ndarray | None = None,
) -> ConvexSolution:
    """The convex program over ``patterns`` with the chosen backend.

    ``ipm``: the structure-exploiting interior-point method of solvers/ipm.py (squared loss);
    ``clarabel``: Clarabel on the conic form built by :func:`solve_convex_program`;
    ``first-order``: the augmented-Lagrangian method of first_order.py;
    ``auto``: for the squared loss ``ipm`` (Clarabel if it fails, and also Clarabel as a second
    opinion on small programs where it ends short of its tolerances: the better network is
    kept), ``first-order`` when the interior-point method would need more than IPM_MAX_BYTES
    (``ipm_bytes``); Clarabel for the logistic loss. Squared-loss solutions are refined by
    :func:`polish_squared` when that succeeds.

    ``hints`` (p, dt): a direction in each pattern's cell (a row of NaN or zeros: unknown, then
    computed by LP). With them, on data of more than SCREEN_MIN_ROWS rows, the interior-point
    method screens the cone rows (solve_ipm_screened): same optimum, far fewer cone pairs.
    """
    from .errors import InputError, SolverError

    if solver not in SOLVERS:
        raise InputError(f"solver must be one of {', '.join(SOLVERS)}, got {solver!r}")
    S = np.asarray(patterns, dtype=bool)
    screen = hints is not None and S.shape[1] > SCREEN_MIN_ROWS
    if solver == "auto" and ipm_bytes(S.shape[1], S.shape[0], np.shape(Xt)[1], screen) > IPM_MAX_BYTES:
        solver = "first-order"
    if solver == "first-order":
        from .solvers.first_order import solve_first_order

        return solve_first_order(Xt, y, S, model, progress=progress)
    if solver == "ipm" and model.loss != "squared":
        raise InputError(f"the interior-point solver handles the squared loss; use --solver clarabel "
                         f"for the {model.loss} loss")
    if model.loss != "squared":
        return solve_convex_program(Xt, y, S, model)
    if solver == "clarabel":
        return _polished(solve_convex_program(Xt, y, S, model), Xt, y, S, model, None)
    rows = 2 * S.shape[0] * S.shape[1]
    # beyond Clarabel's reach (its sparse factorization fills in: 72 s at 5e5 cone rows), auto
    # keeps the interior-point method's best feasible iterate when it ends short of even the
    # reduced tolerances; the network read off it is evaluated by the caller like any other
    lenient = solver == "auto" and rows > CLARABEL_FALLBACK_ROWS
    try:
        sol = _solve_ipm(Xt, y, S, model, progress, allow_inaccurate=lenient, hints=hints if screen else None)
    except SolverError as exc:
        if solver == "ipm":
            raise
        sol = _polished(solve_convex_program(Xt, y, S, model), Xt, y, S, model, None)
        sol.solver_info["fallback_from"] = f"ipm: {exc}"
        return sol
    if (solver == "auto" and not (sol.solver_info["status"] == "solved" and sol.solver_info.get("polished"))
            and rows <= CLARABEL_SECOND_OPINION_ROWS):
        # the optima of exact column generation are degenerate (1-D data: kinks at data points
        # put neurons on cell boundaries); where the interior-point method ended short of its
        # tolerances or the polish failed, a small problem gets Clarabel's answer too (its
        # homogeneous embedding copes well there), and the better network is kept
        try:
            other = _polished(solve_convex_program(Xt, y, S, model), Xt, y, S, model, None)
        except SolverError:
            other = None
        if other is not None and (network_objective(Xt, y, other.W, other.V, other.c, model)
                                  < network_objective(Xt, y, sol.W, sol.V, sol.c, model)):
            other.solver_info["second_opinion_for"] = sol.solver_info["status"]
            return other
    return sol


def _polished(sol: "ConvexSolution", Xt, y, S, model: Model, support) -> "ConvexSolution":
    """``sol`` refined by :func:`polish_squared` when that succeeds (recorded in solver_info)."""
    info = sol.solver_info
    W, V, c = sol.W, sol.V, sol.c
    before = convex_objective(Xt, y, S, W, V, c, model)
    try:
        out = polish_squared(Xt, y, S, W, V, c, model, support=support)
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
#: Rounds of the polish (its active-set corrections happen between rounds), and its time budget.
POLISH_ROUNDS = 30
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
#: Newton stops when the face gradient is below POLISH_GRAD times its scale; the damping of the
#: Newton system starts at POLISH_DAMP0 times its mean diagonal.
POLISH_GRAD = 1e-12
POLISH_DAMP0 = 1e-12
#: Newton iterations of the polish.
POLISH_ITERS = 50


def polish_squared(Xt, y, S, W, V, c, model: Model, support=None, time_limit: float = None):
    """Newton refinement of a squared-loss solution on its identified face (to full precision).

    Interior-point solutions are accurate to the solver's tolerance in the objective, hence only
    to about its square root in the predictions and in the dual point lam = yhat - y that verify
    starts from. On the face the solution identifies (its non-zero blocks, each held to the null
    space of its active rows A_act w = 0) the program is smooth:

        min_v  1/2 ||sum_b sg_b D_b Xt Z_b v_b + c - y||^2 + beta sum_b N(Z_b v_b) [+ h_c/2 c^2],

    and Newton's method with a backtracking line search converges quadratically. Between
    rounds (at most POLISH_ROUNDS, within ``time_limit`` seconds, POLISH_SECONDS by default) the
    face is corrected as in an active-set method: a row the refined point violates joins its
    block's active set, an active row with a negative multiplier is released, a block that
    collapses or turns around leaves the support, and a zero block whose dual constraint is
    violated joins it. Blocks of one sign with parallel directions are merged first. The result
    is returned only when every block is in its cone (to POLISH_FEAS) and the program's
    objective did not rise; otherwise None (the caller keeps the solver's answer).
    """
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
        return None
    N = model.neuron_norm(U[sup].T)
    if np.any(N <= 1e-12 * float(N.max())):
        return None  # a pure-bias block (free hidden bias): N is not smooth there
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
    A = {int(b): (2.0 * S[b % p] - 1.0)[:, None] * Xt for b in sup}
    act = {int(b): A[b] @ U[b] <= POLISH_ACTIVE * xn * full[b] for b in sup}
    for _ in range(POLISH_ROUNDS):
        if time.perf_counter() > deadline:
            return None
        out = _newton_on_face(Xt, y, S, U, c, model, sup, A, act, deadline)
        if out is None:
            return None
        U2, c2, collapsed = out
        # a block that shrinks to nothing or turns around wants to be zero: drop it and redo
        if U2 is not None:
            collapsed = set(collapsed) | {int(b) for b in sup if float(U2[b] @ U[b]) <= 0.0}
        if collapsed:
            sup = np.array([b for b in sup if int(b) not in collapsed], dtype=int)
            if sup.size == 0:
                return None
            continue
        violated = False
        for b in sup:
            bad = A[b] @ U2[b] < -POLISH_FEAS * xn * np.linalg.norm(U2[b])
            if bad.any():
                if np.all(act[b][bad]):
                    return None
                act[b] |= bad
                violated = True
        if violated:
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
                    A[b] = (2.0 * S[b % p] - 1.0)[:, None] * Xt
                    act[b] = rows
                sup = np.concatenate([sup, [b for b, _, _ in new]]).astype(int)
                continue
        W2, V2 = U2[:p], U2[p:]
        # compare the networks read off both (eq. 9): a solver's point may violate its cones
        # slightly, and then its program objective is below that of any feasible point
        L0 = network_objective(Xt, y, W, V, c0, model)
        if network_objective(Xt, y, W2, V2, c2, model) > L0 + POLISH_SLACK * max(1.0, abs(L0)):
            return None
        return W2, V2, c2
    return None


def _wrong_sign_rows(Xt, y, S, U, c, model: Model, sup, A, act, tol: float = 1e-9):
    """[(b, rows)]: active rows of support blocks whose Lagrange multipliers are negative.

    On its face, block b satisfies g_b + beta dN(w_b) = A_act' mu (least squares); a row with
    mu_k < -tol * max|mu| should not be held at zero.
    """
    p = S.shape[0]
    W, V = U[:p], U[p:]
    lam = block_predictions(Xt, S, W, V) + (c if c is not None else 0.0) - y
    G = (S * lam[None, :]) @ Xt
    dt = Xt.shape[1]
    out = []
    for b in sup:
        rows = np.flatnonzero(act[b])
        if rows.size == 0:
            continue
        g = G[b % p] * (1.0 if b < p else -1.0)
        w = U[b].copy()
        if model.hidden_bias == "free":
            w[dt - 1] = 0.0
        r = g + model.beta * w / max(float(np.linalg.norm(w)), 1e-300)
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
    from scipy.optimize import nnls

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
        A = (2.0 * S[b % p] - 1.0)[:, None] * Xt
        zeta, _ = nnls(A.T, grads[b], maxiter=50 * Xt.shape[1] + 100)
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
    E = np.eye(dt)[: dt - 1] if model.hidden_bias == "free" else np.eye(dt)
    cols, Bs, Zs, vs = [], [], [], []
    for b in sup:
        Aa = A[b][act[b]]
        if Aa.shape[0]:
            _, sv, vt = np.linalg.svd(Aa, full_matrices=True)
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

    def F(x):
        r = G @ x - y
        val = 0.5 * float(r @ r) + beta * sum(float(np.linalg.norm(B @ x[offs[j]:offs[j + 1]]))
                                              for j, B in enumerate(Bs))
        return val + (0.5 * h_c * x[-1] ** 2 if has_c else 0.0)

    GtG, Gty = G.T @ G, G.T @ y
    norms0 = [float(np.linalg.norm(B @ x[offs[j]:offs[j + 1]])) for j, B in enumerate(Bs)]
    gscale = float(np.linalg.norm(Gty)) + beta * np.sqrt(len(Bs)) + 1e-300

    def grad_hess(x, hess=True):
        """Gradient (and Hessian) of F, or None when a block has collapsed (index)."""
        g = GtG @ x - Gty
        H = GtG.copy() if hess else None
        for j, B in enumerate(Bs):
            sl = slice(offs[j], offs[j + 1])
            u = B @ x[sl]
            nu = float(np.linalg.norm(u))
            if nu <= 1e-10 * norms0[j]:
                return j, None
            q = u / nu
            g[sl] += beta * (B.T @ q)
            if hess:
                H[sl, sl] += beta * (B.T @ (np.eye(B.shape[0]) - np.outer(q, q)) @ B) / nu
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


def _solve_ipm(Xt, y, S, model: Model, progress, allow_inaccurate: bool = False,
               hints: np.ndarray | None = None) -> ConvexSolution:
    from .solvers.ipm import solve_ipm, solve_ipm_screened

    Xt = np.asarray(Xt, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    p = S.shape[0]
    kw = dict(free_hidden_bias=model.hidden_bias == "free", output_bias=model.effective_output_bias,
              allow_inaccurate=allow_inaccurate, progress=progress)
    if hints is None:
        res = solve_ipm(Xt, y, S, model.beta, **kw)
    else:
        H = np.array(hints, dtype=np.float64).reshape(p, Xt.shape[1])
        missing = ~np.all(np.isfinite(H), axis=1) | ~np.any(H != 0, axis=1)
        if missing.any():
            from .arrangements import interior_directions

            H[missing] = interior_directions(Xt, S[missing])
        res = solve_ipm_screened(Xt, y, S, model.beta, H, **kw)
    W, V, c = res.U[:p].copy(), res.U[p:].copy(), res.c
    info = dict(res.info)
    info.update({"n_patterns": p, "form": "structured (Woodbury / Schur)"})
    sol = ConvexSolution(W, V, c, np.nan, np.zeros(0), info)
    return _polished(sol, Xt, y, S, model, res.support)
