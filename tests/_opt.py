"""Test-only oracles: the independent cvxpy formulations of the convex program (MATH.md section 2)."""

import sys
from pathlib import Path

import cvxpy as cp

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))

from make_fixtures import convex_optimum  # noqa: E402,F401


def cvxpy_program(Xt, y, P, model):
    """The convex program of MATH.md section 2 written directly in cvxpy (test oracle).

    One cvxpy variable per block and plain sums, so that it is independent of the package's
    conic assembly and of its interior-point method.
    """
    p, n = P.shape
    dt = Xt.shape[1]
    k = dt - 1 if model.hidden_bias == "free" else dt
    pred, pen, cons = 0, 0, []
    for i in range(p):
        D = P[i].astype(float)
        A = (2 * D - 1)[:, None] * Xt
        w, v = cp.Variable(dt), cp.Variable(dt)
        pred = pred + cp.multiply(D, Xt @ (w - v))
        pen = pen + cp.norm(w[:k], 2) + cp.norm(v[:k], 2)
        cons += [A @ w >= 0, A @ v >= 0]
    extra = 0
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
    prob.solve(solver="CLARABEL", tol_gap_abs=1e-10, tol_gap_rel=1e-10, tol_feas=1e-10)
    return prob.value
