"""The squared-loss program under a free hidden bias, with the all-ones cell among its patterns.

The all-ones cell's blocks u = (a, b) predict X a + b on every sample; their biases and the free
output constant trade at no cost, so the optimal set is unbounded and the structured interior
point stalls. program._solve_program solves the program without that cell and keeps the answer
when the cell's dual constraint ||X' lam|| <= beta holds (program._all_ones_ratio); otherwise the
full program is solved as before. Oracle: Clarabel on the full conic program (an independent
formulation, solver="clarabel").
"""

import numpy as np
import pytest

from cvxrelu.arrangements import sample_patterns
from cvxrelu.model import Model
from cvxrelu.program import network_objective, solve_program


def _case(linear: bool, seed: int = 0, n: int = 60):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 2))
    if linear:  # a linear target: the all-ones cell's linear block carries it
        y = X @ np.array([2.0, -1.0]) + 0.01 * rng.standard_normal(n)
    else:
        y = np.abs(X[:, 0]) - 0.5 * np.maximum(X[:, 1], 0) + 0.1 * rng.standard_normal(n)
    model = Model(beta=0.05, loss="squared", hidden_bias="free", output_bias="none")
    Xt = model.augment(X)
    S = sample_patterns(Xt, 30, seed)
    S = np.vstack([S[S.any(axis=1) & ~S.all(axis=1)], np.ones((1, n), dtype=bool)])
    return Xt, y, np.unique(S, axis=0), model


@pytest.mark.parametrize("linear", [False, True])
def test_all_ones_cell_left_out_only_when_its_blocks_are_zero(linear):
    Xt, y, S, model = _case(linear)
    assert S.all(axis=1).sum() == 1
    sol = solve_program(Xt, y, S, model)
    ref = solve_program(Xt, y, S, model, solver="clarabel")
    L = network_objective(Xt, y, sol.W, sol.V, sol.c, model)
    L_ref = network_objective(Xt, y, ref.W, ref.V, ref.c, model)
    assert L <= L_ref * (1 + 1e-8)
    ones = int(np.flatnonzero(S.all(axis=1))[0])
    left_out = "all_ones_cell" in sol.solver_info
    if left_out:
        assert not np.any(sol.W[ones]) and not np.any(sol.V[ones])
        assert "fallback_from" not in sol.solver_info  # the interior point answered
    if linear:
        # the optimum needs the all-ones cell's linear block: the program was solved whole
        assert not left_out
        U = np.vstack([ref.W[ones], ref.V[ones]])
        assert np.max(np.linalg.norm(U[:, :-1], axis=1)) > 1e-3
    else:
        assert left_out
