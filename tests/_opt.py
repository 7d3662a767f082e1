"""Test-only oracles: the independent cvxpy formulations of the convex program (MATH.md section 2)."""

import sys
from pathlib import Path

import cvxpy as cp

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))

from make_fixtures import convex_optimum  # noqa: E402,F401


def cvxpy_program(Xt, y, P, model):
    """The convex program of MATH.md section 2 written directly in cvxpy (test oracle)."""
    p, n = P.shape
    dt = Xt.shape[1]
    W, V = cp.Variable((p, dt)), cp.Variable((p, dt))
    D = P.T.astype(float)
    S = 2 * D - 1
    pred = cp.sum(cp.multiply(D, Xt @ (W - V).T), axis=1)
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
    k = dt - 1 if model.hidden_bias == "free" else dt
    pen = cp.sum(cp.norm(W[:, :k], 2, axis=1)) + cp.sum(cp.norm(V[:, :k], 2, axis=1))
    prob = cp.Problem(cp.Minimize(loss + model.beta * pen + extra),
                      [cp.multiply(S, Xt @ W.T) >= 0, cp.multiply(S, Xt @ V.T) >= 0])
    prob.solve(solver="CLARABEL", tol_gap_abs=1e-10, tol_gap_rel=1e-10, tol_feas=1e-10)
    return prob.value
