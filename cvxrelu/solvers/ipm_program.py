"""The convex program on the structured interior-point method of solvers/ipm.py (squared loss).

The adapter between the program's data (Xt, y, patterns, Model) and the IPM core's arguments;
the result is a :class:`~cvxrelu.convex.ConvexSolution` like every other backend's. Module
attributes (``ipm.solve_ipm``, ``screening.solve_ipm_screened``,
``arrangements.interior_directions``) are looked up at call time
so that tests can substitute them.
"""

from __future__ import annotations

import numpy as np

from .. import arrangements
from ..convex import ConvexSolution
from ..model import Model
from . import ipm, screening
from .polish import polished


def solve_program_ipm(Xt, y, S, model: Model, progress=None, allow_inaccurate: bool = False,
                      hints: np.ndarray | None = None, **options) -> ConvexSolution:
    """The program over the patterns S with the structured interior point (squared loss), polished.

    With ``hints`` (a direction in each pattern's cell; a row of NaN or zeros: unknown, then
    found by LP) the cone rows are screened (solvers/screening.py, solve_ipm_screened). ``options``:
    the core's tolerances (tol_gap_rel, tol_feas, max_iter).
    """

    Xt = np.asarray(Xt, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    p = S.shape[0]
    kw = dict(free_hidden_bias=model.hidden_bias == "free", output_bias=model.effective_output_bias,
              allow_inaccurate=allow_inaccurate, progress=progress, **options)
    if hints is None:
        res = ipm.solve_ipm(Xt, y, S, model.beta, **kw)
    else:
        H = np.array(hints, dtype=np.float64).reshape(p, Xt.shape[1])
        missing = ~np.all(np.isfinite(H), axis=1) | ~np.any(H != 0, axis=1)
        if missing.any():
            H[missing] = arrangements.interior_directions(Xt, S[missing])
        res = screening.solve_ipm_screened(Xt, y, S, model.beta, H, **kw)
    W, V, c = res.U[:p].copy(), res.U[p:].copy(), res.c
    info = dict(res.info)
    info.update({"n_patterns": p, "form": "structured (Woodbury / Schur)"})
    sol = ConvexSolution(W, V, c, np.nan, np.zeros(0), info)
    return polished(sol, Xt, y, S, model, res.support)
