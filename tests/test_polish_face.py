"""The squared loss's face polish (solvers/polish.py) on a degenerate restricted program.

tests/data/polish_face_2d.npz is the interior-point answer of the 13th restricted program of
column generation on tests/test_solid.py's "2d-400" data (n = 400, two features, a penalized
hidden bias: three coordinates per block), squared loss, beta = 0.05: 95 patterns, 65 blocks in
the solver's support. Polishing it used to hold every row the Newton point violated at zero at
once; blocks lost their whole face one after another and the polish gave up ("the face did not
settle", and with more rounds every block collapsed), so solve paid Clarabel's second opinion
(10-20 s per round at 76 000 cone rows). With the ratio test (step only as far as the first row
reaching zero, and hold that row) it converges.

Oracle: the dual bound of the restricted program at the polished point, computed independently
of the polish: lam = yhat - y, its exact maximum over the program's own cells
(pricing.restricted_pricing) and the scaled dual objective (lower_bound.scaled_lower_bound).
"""

from pathlib import Path

import numpy as np

from cvxrelu.lower_bound import lipschitz_radius, scaled_lower_bound
from cvxrelu.model import Model
from cvxrelu.pricing import restricted_pricing
from cvxrelu.program import block_predictions, convex_objective
from cvxrelu.solvers.polish import POLISH_FEAS, cone_matrix, polish_squared


def _load():
    z = np.load(Path(__file__).with_name("data") / "polish_face_2d.npz")
    model = Model(beta=float(z["beta"]), loss="squared", hidden_bias="penalized", output_bias="none")
    return z["Xt"], z["y"], z["S"], z["W"], z["V"], z["support"], model


def test_polish_settles_a_degenerate_face_and_reaches_the_restricted_optimum():
    Xt, y, S, W, V, support, model = _load()
    why = {}
    out = polish_squared(Xt, y, S, W, V, None, model, support=support, why=why)
    assert out is not None, why
    W2, V2, c2 = out
    assert c2 is None
    before = convex_objective(Xt, y, S, W, V, None, model)
    L = convex_objective(Xt, y, S, W2, V2, None, model)
    assert L <= before
    # every block in its cone
    xn = np.linalg.norm(Xt, axis=1)
    for k, U in enumerate((W2, V2)):
        for b in range(S.shape[0]):
            w = U[b]
            if np.any(w):
                assert np.all(cone_matrix(Xt, S[b]) @ w >= -POLISH_FEAS * xn * np.linalg.norm(w)), (k, b)
    # the restricted program's dual bound at the polished point closes its gap to 1e-9
    lam = block_predictions(Xt, S, W2, V2) - y
    M_work = restricted_pricing(Xt, lam, S, model.beta)[0]
    lb = scaled_lower_bound(lam, M_work, lipschitz_radius(Xt[:, :-1], model), y, model)[0]
    assert lb <= L * (1 + 1e-12)
    assert (L - lb) / L <= 1e-9, (L, lb, M_work / model.beta)
    # the solver's answer was not that close
    assert (before - lb) / before > 1e-8


def test_a_declined_polish_says_why(monkeypatch):
    """When the polish gives up, solver_info says which test stopped it (the solver's answer is kept)."""
    import cvxrelu.solvers.polish as PL
    from cvxrelu.convex import ConvexSolution

    Xt, y, S, W, V, support, model = _load()
    monkeypatch.setattr(PL, "POLISH_ROUNDS", 1)
    sol = ConvexSolution(W, V, None, convex_objective(Xt, y, S, W, V, None, model), None, {})
    out = PL.polished(sol, Xt, y, S, model, support)
    assert out.solver_info["polished"] is False
    assert "POLISH_ROUNDS" in out.solver_info["polish_declined"]
    assert np.array_equal(out.W, W) and np.array_equal(out.V, V)


def test_pure_bias_block_of_the_all_ones_cell_goes_into_the_free_constant():
    """tests/data/polish_pure_bias.npz: Clarabel's answer to a restricted program of column
    generation on the "2d-400" data with a free hidden bias (squared loss, output bias none,
    beta = 0.05; the interior-point method had stalled on it). A block u = (0, b) of the
    all-ones cell carries a constant at no penalty and sits at the penalty's kink, and the
    polish used to give up on it. A free hidden bias makes a free output constant available,
    so the polish moves the constant into c and goes on: the result has no pure-bias block,
    every block in its cone, the same network objective or lower, and predictions within the
    solver's accuracy of the solver's."""
    z = np.load(Path(__file__).with_name("data") / "polish_pure_bias.npz")
    Xt, y, S, W, V, c = z["Xt"], z["y"], z["S"], z["W"], z["V"], float(z["c"])
    model = Model(beta=float(z["beta"]), loss="squared", hidden_bias="free", output_bias="none")
    U = np.vstack([W, V])
    N = model.neuron_norm(U.T)
    pure = (N <= 1e-12 * N.max()) & (np.linalg.norm(U, axis=1) > 0)
    assert pure.any() and all(S[b % S.shape[0]].all() for b in np.flatnonzero(pure))  # the case
    why = {}
    out = polish_squared(Xt, y, S, W, V, c, model, why=why)
    assert out is not None, why
    W2, V2, c2 = out
    U2 = np.vstack([W2, V2])
    N2 = model.neuron_norm(U2.T)
    assert not np.any((N2 <= 1e-12 * N2.max()) & (np.linalg.norm(U2, axis=1) > 0))
    from cvxrelu.convex import network_objective

    assert network_objective(Xt, y, W2, V2, c2, model) <= network_objective(Xt, y, W, V, c, model)
    xn = np.linalg.norm(Xt, axis=1)
    for b in range(U2.shape[0]):
        if np.any(U2[b]):
            A = cone_matrix(Xt, S[b % S.shape[0]])
            assert np.all(A @ U2[b] >= -POLISH_FEAS * xn * np.linalg.norm(U2[b])), b
    before = block_predictions(Xt, S, W, V) + c
    after = block_predictions(Xt, S, W2, V2) + c2
    assert np.max(np.abs(after - before)) <= 1e-4 * np.max(np.abs(before))
