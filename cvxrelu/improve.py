"""A better network from the subsampled convex program (paper Thm. 3, docs/method.md section 6).

A Clarke-stationary network is optimal for the convex program restricted to its own
activation patterns; adding the pattern of a violated dual constraint (a unit u with
|lam^T (Xt u)_+| > beta) makes that program strictly better. Solving it and mapping the
solution back with docs/method.md eq. (7.1) gives a network whose objective is at most the program's value.
The caller evaluates the objective: this module only proposes.
"""

from __future__ import annotations

import numpy as np

from .arrangements import network_patterns
from .model import Dataset, Model, Network, unique_rows
from .program import network_from_blocks, solve_program

#: Blocks with N(w) below this are dropped when mapping a convex solution back (eq. 9).
BLOCK_TOL = 1e-10


def improve_on_patterns(
    net: Network, data: Dataset, model: Model, extra_direction: np.ndarray | None = None
) -> Network | None:
    """Optimal network over the patterns of ``net`` (+ the pattern of ``extra_direction``)."""
    Xt = model.augment(data.X)
    pats = [network_patterns(Xt, net.Ut())]
    if extra_direction is not None:
        pats.append((Xt @ extra_direction > 0)[None, :])
    P = unique_rows(np.vstack(pats))
    P = P[P.any(axis=1)]
    if P.shape[0] == 0:
        return None
    sol = solve_program(Xt, data.y, P, model)
    net = network_from_blocks(sol.W, sol.V, sol.c, model, BLOCK_TOL)
    info = sol.solver_info
    net.meta["solver"] = {k: info.get(k) for k in ("solver", "version", "status", "iterations", "settings",
                                                   "polished", "fallback_from") if k in info}
    return net
