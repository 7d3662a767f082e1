"""Pricing: the most violated dual constraint over a finite set of candidate patterns.

Used by column generation (cvxrelu.colgen) and the dual-guided pattern search (cvxrelu.search)
to decide which patterns to add (docs/method.md eq. (9.1)).
"""

from __future__ import annotations

import numpy as np

from .dual import cone_matrix, cone_residual


def restricted_pricing(Xt: np.ndarray, lam: np.ndarray, candidates: np.ndarray, beta: float):
    """max over the candidate cells of max_{u in C_i, ||u|| <= 1} |lam^T D_i Xt u|.

    Exact per cell: the norm of the projection of +-g_i = +-Xt^T D_i lam onto the cone
    C_i = {u : (2 D_i - I) Xt u >= 0}, i.e. min_{zeta >= 0} ||+-g_i + A_i^T zeta|| (NNLS).
    Only cells with ||g_i|| > beta can violate; they are checked largest first.
    Returns (value, index of the best cell, list of violating cell indices).
    """
    G = (candidates * lam[None, :]) @ Xt  # (p, dt) rows g_i
    gn = np.linalg.norm(G, axis=1)
    best, best_i, viol = 0.0, None, []
    for i in np.argsort(-gn):
        if gn[i] <= max(best, 0.0) and gn[i] <= beta:
            break
        A = cone_matrix(Xt, candidates[i])
        for sg in (1.0, -1.0):
            _, r = cone_residual(A, sg * G[i])
            if r > best:
                best, best_i = float(r), int(i)
            if r > beta:
                viol.append(int(i))
    return best, best_i, sorted(set(viol))
