"""The one independent test oracle: the convex program (docs/method.md eq. (2.3)) written in cvxpy.

One cvxpy variable per block and plain sums, so that it shares nothing with the package's conic
assembly, its interior-point method or its first-order solver. fixtures/make_fixtures.py uses
it too, to build the optimal fixtures and their expected optima (fixtures/expected.json).
"""

from __future__ import annotations

import cvxpy as cp
import numpy as np

from cvxrelu.model import Model

#: Clarabel tolerances of the oracle (far tighter than the package's solvers).
ORACLE_TOL = 1e-10
#: Blocks above this norm are read as non-zero when the oracle's solution becomes a network.
SUPPORT_TOL = 1e-9


def cvxpy_program(Xt, y, P, model, *, solution=False, tol=ORACLE_TOL, options=None):
    """Optimal value of the program over the patterns P (p, n) for ``model`` (any loss and biases).

    With ``solution=True`` returns (value, W (p, dt), V (p, dt), c or None). ``options``: more
    Clarabel settings.
    """
    p, n = P.shape
    dt = Xt.shape[1]
    k = dt - 1 if model.hidden_bias == "free" else dt
    pred, pen, cons, ws, vs = 0, 0, [], [], []
    for i in range(p):
        D = P[i].astype(float)
        A = (2 * D - 1)[:, None] * Xt
        w, v = cp.Variable(dt), cp.Variable(dt)
        ws.append(w)
        vs.append(v)
        pred = pred + cp.multiply(D, Xt @ (w - v))
        pen = pen + cp.norm(w[:k], 2) + cp.norm(v[:k], 2)
        cons += [A @ w >= 0, A @ v >= 0]
    extra, c = 0, None
    cmode = model.effective_output_bias
    if cmode != "none":
        c = cp.Variable()
        pred = pred + c
        if cmode == "penalized":
            extra = model.beta / 2 * cp.square(c)
    if model.loss == "squared":
        loss = 0.5 * cp.sum_squares(pred - y)
    else:
        loss = cp.sum(cp.logistic(-cp.multiply(y, pred)))
    prob = cp.Problem(cp.Minimize(loss + model.beta * pen + extra), cons)
    prob.solve(solver="CLARABEL", tol_gap_abs=tol, tol_gap_rel=tol, tol_feas=tol, **(options or {}))
    cvxpy_program.last_status = prob.status  # "optimal" or "optimal_inaccurate" (tight_optimum)
    if not solution:
        return prob.value
    W = np.array([w.value for w in ws]).reshape(p, dt)
    V = np.array([v.value for v in vs]).reshape(p, dt)
    return prob.value, W, V, (None if c is None else float(c.value))


#: Clarabel tolerances of the support re-solve of :func:`tight_optimum`.
TIGHT_TOL = 1e-12
#: Blocks below this times the largest block norm are left out of that re-solve (a block
#: wrongly left out shows as a higher value, and the first solution is kept).
TIGHT_SUPPORT = 1e-5
#: Clarabel settings of the retry when it stops early ("InsufficientProgress", seen on
#: logistic programs): shorter interior-point steps.
TIGHT_RETRY = {"max_step_fraction": 0.9}


def tight_optimum(Xt, y, P, model):
    """The program's optimum over the patterns P, as accurate as Clarabel gets: solved at
    ORACLE_TOL, then solved again at TIGHT_TOL over the support of that solution only (the
    patterns whose blocks exceed TIGHT_SUPPORT times the largest: a small, better conditioned
    program whose feasible points are feasible for the full one). Returns (value, W, V, c) of
    the re-solve (the full program's shape: zero blocks off the support), or of the first solve
    when the re-solve failed or is higher by more than 1e-9 relative (a wrong support).
    """
    try:
        best = cvxpy_program(Xt, y, P, model, solution=True)
    except cp.error.SolverError:  # Clarabel stalled (exponential cones): shorter steps
        best = cvxpy_program(Xt, y, P, model, solution=True, options=TIGHT_RETRY)
    W, V = best[1], best[2]
    nrm = np.maximum(np.linalg.norm(W, axis=1), np.linalg.norm(V, axis=1))
    if nrm.size == 0 or nrm.max() == 0:
        return best
    keep = np.flatnonzero(nrm > TIGHT_SUPPORT * nrm.max())
    val = None
    for options in (None, TIGHT_RETRY):  # shorter steps when Clarabel fails or is inaccurate
        try:
            out = cvxpy_program(Xt, y, P[keep], model, solution=True, tol=TIGHT_TOL, options=options)
        except (cp.error.SolverError, ValueError, TypeError):  # else the first solution stands
            continue
        if val is None or (out[0] is not None and out[0] < val):
            val, Ws, Vs, c = out
        if cvxpy_program.last_status == "optimal":
            break
    # the re-solve is the more accurate one unless the support was wrong (then its value is
    # clearly higher: it is the optimum of a restriction)
    if val is None or not np.isfinite(val) or Ws is None or val > best[0] + 1e-9 * abs(best[0]):
        return best
    W2, V2 = np.zeros_like(W), np.zeros_like(V)
    W2[keep], V2[keep] = Ws, Vs
    return val, W2, V2, c


def convex_optimum(Xt, y, beta, patterns, polish=True):
    """(P*, Ut (dt, m), alpha (m,)) over ``patterns`` for the squared loss with weight decay beta,
    every coordinate of Xt penalized and no output constant (a hidden bias, if any, is a
    penalized column of ones in Xt): the optimum and its network (eq. (7.1)).

    With ``polish`` the program is solved again over the support of the first solution only (a
    small, more accurate problem).
    """
    model = Model(beta=beta)
    if polish:
        _, W, V, _ = cvxpy_program(Xt, y, patterns, model, solution=True, tol=1e-12)
        keep = (np.linalg.norm(W, axis=1) > 1e-6) | (np.linalg.norm(V, axis=1) > 1e-6)
        patterns = patterns[keep]
        if patterns.shape[0] == 0:  # the zero network is optimal
            return 0.5 * float(y @ y), np.zeros((Xt.shape[1], 0)), np.zeros(0)
    val, W, V, _ = cvxpy_program(Xt, y, patterns, model, solution=True, tol=1e-12)
    cols, alphas = [], []
    for M, sg in ((W, 1.0), (V, -1.0)):
        for w in M:
            nw = np.linalg.norm(w)
            if nw > SUPPORT_TOL:
                cols.append(w / np.sqrt(nw))
                alphas.append(sg * np.sqrt(nw))
    return val, np.array(cols).T.reshape(Xt.shape[1], len(cols)), np.array(alphas)


def all_patterns_bruteforce(Xt, n_dirs=200000, seed=0):
    """Patterns of many random directions: every cell of a small arrangement (the fixtures')."""
    rng = np.random.default_rng(seed)
    G = rng.standard_normal((Xt.shape[1], n_dirs))
    return np.unique((Xt @ G > 0).T, axis=0)


def grid_pricing_2d(X, nu, n_angles=20000):
    """max over unit w in R^2 and any bias b of |sum_i nu_i (x_i^T w + b)_+|, by brute force on a
    grid of angles (the maximum over b is at a kink b = -x_m^T w: sorted cumulative sums), with the
    patterns of the best grid points. Shares nothing with the package's arrangement engine; the
    value is a lower estimate of the true maximum, within its Lipschitz constant times the spacing.

    Returns (M, list of (value, pattern (n,) bool)) sorted by value, largest first.
    """
    th = np.linspace(0.0, 2 * np.pi, n_angles, endpoint=False)
    Z = X @ np.vstack([np.cos(th), np.sin(th)])            # (n, K)
    order = np.argsort(-Z, axis=0, kind="stable")          # descending pre-activations per angle
    zs = np.take_along_axis(Z, order, axis=0)
    ns = nu[order]
    f = np.cumsum(ns * zs, axis=0) - zs * np.cumsum(ns, axis=0)   # f at b = -z_(m): the top m active
    a = np.abs(f)
    flat = np.argsort(-a, axis=None)[:200]
    out, seen = [], set()
    for idx in flat:
        m, k = np.unravel_index(idx, a.shape)
        for top in (m + 1, m):                             # the kink sample active or not: both cells
            D = np.zeros(X.shape[0], dtype=bool)
            D[order[:top, k]] = True
            key = D.tobytes()
            if top > 0 and key not in seen:
                seen.add(key)
                out.append((float(a[m, k]), D))
    return float(a.max()), out


def oracle_column_generation_2d(X, y, beta, initial=None, max_rounds=60, add=12, tol=1e-7):
    """P* of the squared loss, two features, free hidden and output biases: column generation with
    the cvxpy program above on the working set and :func:`grid_pricing_2d` as the pricing.

    Returns (P_S, D_grid): P_S the cvxpy optimum over the final working set (an upper bound on
    P* up to the solver's accuracy), D_grid the dual value of its scaled residual with the grid's
    maximum (a lower estimate of P*, as good as the grid).
    """
    model = Model(beta=beta, hidden_bias="free", output_bias="free")
    Xt = model.augment(X)
    rng = np.random.default_rng(0)
    P = (Xt @ rng.standard_normal((3, 30)) > 0).T
    if initial is not None:
        P = np.vstack([P, initial])
    P = np.unique(P[P.any(axis=1)], axis=0)
    val = D = None
    for _ in range(max_rounds):
        val, W, V, c = cvxpy_program(Xt, y, P, model, solution=True)
        pred = (P * (Xt @ (W - V).T).T).sum(axis=0) + c
        nu = y - pred
        nu = nu - nu.mean()                                 # the free output constant: 1^T nu = 0
        M, cands = grid_pricing_2d(X, nu)
        s = min(max(float(nu @ y) / float(nu @ nu), 0.0), beta / M) if M > 0 else 1.0
        D = -0.5 * s * s * float(nu @ nu) + s * float(nu @ y)
        if M <= beta * (1 + tol):
            break
        used = (np.linalg.norm(W, axis=1) > 1e-7) | (np.linalg.norm(V, axis=1) > 1e-7)
        known = {r.tobytes() for r in P[used]}
        new = [Dp for v, Dp in cands if v > beta and Dp.tobytes() not in known][:add]
        if not new:
            break
        P = np.unique(np.vstack([P[used]] + new), axis=0)
    return float(val), float(D)
