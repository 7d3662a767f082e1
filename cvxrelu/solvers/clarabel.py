"""The Clarabel seam: the only module that imports clarabel.

Problems come in Clarabel's native form (scipy.sparse CSC matrices):
    minimize 1/2 x^T P x + q^T x   s.t.  A x + s = b,  s in K,
and statuses are mapped through one table; anything unknown is an error.
"""

from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp

from ..convex import SolverStatus, solver_info
from ..errors import InputError, SolverError

#: Clarabel's status names that return a usable point, and their common name; any other
#: status raises SolverError.
STATUS = {
    "Solved": SolverStatus.SOLVED,
    "AlmostSolved": SolverStatus.ALMOST_SOLVED,
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
    opts.update(check_settings(settings))
    s = clarabel.DefaultSettings()
    for k, v in opts.items():
        setattr(s, k, v)
    P = sp.triu(sp.csc_matrix(P), format="csc")
    A = sp.csc_matrix(A)
    t0 = time.perf_counter()
    solver = clarabel.DefaultSolver(P, np.asarray(q, float), A, np.asarray(b, float),
                                    [_cone(k, d) for k, d in cones], s)
    sol = solver.solve()
    name = str(sol.status).split(".")[-1]
    status = STATUS.get(name)
    if status is None:
        raise SolverError(f"Clarabel stopped with status {name} after {sol.iterations} iterations")
    info = solver_info(
        "clarabel", status, sol.iterations, None if status is SolverStatus.SOLVED else f"Clarabel status {name}",
        version=getattr(clarabel, "__version__", "unknown"),
        solve_time_s=float(getattr(sol, "solve_time", time.perf_counter() - t0)),
        settings=opts,
    )
    x = np.asarray(sol.x, dtype=np.float64)
    if not np.all(np.isfinite(x)):
        raise SolverError("Clarabel returned a non-finite solution")
    return x, np.asarray(sol.z, dtype=np.float64), info


def check_settings(settings: dict | None) -> dict:
    """``settings`` if every key is one of Clarabel's settings, else InputError naming the first
    unknown one (a misspelt tolerance would otherwise be ignored or fail deep inside)."""
    import clarabel

    settings = dict(settings or {})
    defaults = clarabel.DefaultSettings()
    known = {k for k in dir(defaults) if not k.startswith("_") and not callable(getattr(defaults, k))}
    for key in settings:
        if key not in known:
            raise InputError(f"unknown Clarabel setting {key!r}")
    return settings


def nnls(A: np.ndarray, b: np.ndarray, settings: dict | None = None) -> dict:
    """min_{zeta >= 0} ||A zeta - b||_2 as a QP; the residual is recomputed at max(zeta, 0)."""
    k = A.shape[1]
    P = A.T @ A
    q = -(A.T @ b)
    x, _, info = solve_conic(P, q, -sp.identity(k, format="csc"), np.zeros(k), [("nonneg", k)], settings)
    zeta = np.maximum(x, 0.0)
    return {"zeta": zeta, "residual": float(np.linalg.norm(A @ zeta - b)), "status": info["status"]}
