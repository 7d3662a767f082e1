"""The Clarabel seam: the only module that imports clarabel.

Problems come in Clarabel's native form (scipy.sparse CSC matrices):
    minimize 1/2 x^T P x + q^T x   s.t.  A x + s = b,  s in K,
and statuses are mapped through one table; anything unknown is an error.
"""

from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp

from ..errors import SolverError

#: Clarabel status name -> (usable, accurate)
STATUS = {
    "Solved": (True, True),
    "AlmostSolved": (True, False),
}

DEFAULT_SETTINGS = {
    "verbose": False,
    "tol_gap_abs": 1e-10,
    "tol_gap_rel": 1e-10,
    "tol_feas": 1e-10,
    "max_iter": 200,
}


def _cone(kind: str, dim: int):
    import clarabel

    if kind == "zero":
        return clarabel.ZeroConeT(dim)
    if kind == "nonneg":
        return clarabel.NonnegativeConeT(dim)
    if kind == "soc":
        return clarabel.SecondOrderConeT(dim)
    if kind == "exp":
        return clarabel.ExponentialConeT()
    raise ValueError(kind)


def solve_conic(P, q, A, b, cones: list[tuple[str, int]], settings: dict | None = None):
    """Solve a conic program; returns (x, z, info). Raises SolverError unless solved.

    cones : list of (kind, dim) with kind in zero, nonneg, soc, exp (dim 3 for exp).
    """
    import clarabel

    opts = dict(DEFAULT_SETTINGS)
    opts.update(settings or {})
    s = clarabel.DefaultSettings()
    for k, v in opts.items():
        setattr(s, k, v)
    P = sp.triu(sp.csc_matrix(P), format="csc")
    A = sp.csc_matrix(A)
    t0 = time.perf_counter()
    solver = clarabel.DefaultSolver(P, np.asarray(q, float), A, np.asarray(b, float),
                                    [_cone(k, d) for k, d in cones], s)
    sol = solver.solve()
    status = str(sol.status).split(".")[-1]
    info = {
        "solver": "clarabel",
        "version": getattr(clarabel, "__version__", "unknown"),
        "status": status,
        "iterations": int(sol.iterations),
        "solve_time_s": float(getattr(sol, "solve_time", time.perf_counter() - t0)),
        "settings": opts,
    }
    usable, accurate = STATUS.get(status, (False, False))
    if not usable:
        raise SolverError(f"Clarabel stopped with status {status} after {sol.iterations} iterations")
    x = np.asarray(sol.x, dtype=np.float64)
    if not np.all(np.isfinite(x)):
        raise SolverError("Clarabel returned a non-finite solution")
    info["accurate"] = accurate
    return x, np.asarray(sol.z, dtype=np.float64), info


def nnls(A: np.ndarray, b: np.ndarray, settings: dict | None = None) -> dict:
    """min_{zeta >= 0} ||A zeta - b||_2 as a QP; the residual is recomputed at max(zeta, 0)."""
    k = A.shape[1]
    P = A.T @ A
    q = -(A.T @ b)
    x, _, info = solve_conic(P, q, -sp.identity(k, format="csc"), np.zeros(k), [("nonneg", k)], settings)
    zeta = np.maximum(x, 0.0)
    return {"zeta": zeta, "residual": float(np.linalg.norm(A @ zeta - b)), "status": info["status"]}
