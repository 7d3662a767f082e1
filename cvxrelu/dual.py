"""The dual side of the convex program, written once (docs/method.md section 5).

* :func:`dual_point`: nu from the gradient of the loss at a prediction, moved into the domain of
  the conjugate and, when the output constant is free, onto 1^T nu = 0 (eq. (5.2)).
* :func:`project_domain_zero_sum` and :func:`exact_zero_sum`: that move, approximately and then
  exactly in real arithmetic.
* :func:`dual_objective`: D(nu) = -loss*(nu) [- (1^T nu)^2 / (2 beta)] with an a-priori rounding
  allowance (eq. (5.3)).
* :func:`cone_matrix` and :func:`cone_residual`: A = (2 D - I) Xt of one pattern and the distance
  min_{zeta >= 0} ||h + A^T zeta|| (a non-negative least-squares problem) that bounds the dual
  constraint of one block (eqs. (4.2), (4.3)).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .losses import EPS
from .model import Model


@dataclass
class DualBound:
    """A certified lower bound and how it was obtained."""

    lower_bound: float
    M_raw: float  # computed M at the unscaled (projected) dual point
    M_error: float
    scale: float
    dual_objective: float
    rounding: float  # error allowance subtracted from the dual objective
    argmax: np.ndarray | None
    argmax_sign: int
    rank: int
    cells_visited: int
    candidates_checked: int
    zero_sum_shift: float
    tolerances: dict


#: Bisection steps of the zero-sum projection (each halves the bracket; 200 reach any float).
ZERO_SUM_BISECTIONS = 200


def project_domain_zero_sum(lam: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """nu = clip(lam - tau, lo, hi) with sum(nu) ~ 0, tau found by bisection (eq. (5.2)).

    When the box [lo, hi] holds no zero-sum point the only safe choice, 0 clipped to the box,
    is returned.
    """
    if np.all(np.isinf(lo)) and np.all(np.isinf(hi)):
        return lam - np.mean(lam)
    f = lambda t: float(np.sum(np.clip(lam - t, lo, hi)))  # noqa: E731 - decreasing in t
    a, b = float(np.min(lam - hi)) - 1.0, float(np.max(lam - lo)) + 1.0
    if f(a) < 0 or f(b) > 0:
        return np.clip(np.zeros_like(lam), lo, hi)
    for _ in range(ZERO_SUM_BISECTIONS):
        mid = 0.5 * (a + b)
        if f(mid) > 0:
            a = mid
        else:
            b = mid
    return np.clip(lam - 0.5 * (a + b), lo, hi)


def exact_zero_sum(nu: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray | None:
    """A vector near nu, inside [lo, hi], whose entries sum to exactly 0 in real arithmetic.

    Entries are put on the grid q * Z with q a power of two so small that every partial sum
    is an exact float; the integer residual is then moved onto entries with room.
    Returns None when the box leaves no room.
    """
    total = float(np.sum(np.abs(nu)))
    if total == 0.0:
        return np.zeros_like(nu)
    q = 2.0 ** (math.ceil(math.log2(total)) - 50)
    if q < 2.0**-1000:
        return None
    k = np.round(nu / q)
    klo = np.where(np.isfinite(lo), np.ceil(lo / q), -np.inf)
    khi = np.where(np.isfinite(hi), np.floor(hi / q), np.inf)
    k = np.clip(k, klo, khi)
    ki = [int(v) for v in k]
    resid = sum(ki)
    if resid != 0:
        room = (k - klo) if resid > 0 else (khi - k)
        order = np.argsort(-room, kind="stable")
        need = abs(resid)
        for j in order:
            if need == 0:
                break
            r = room[j]
            step = need if not np.isfinite(r) else min(need, int(r))
            if step <= 0:
                continue
            ki[j] += -step if resid > 0 else step
            need -= step
        if need != 0:
            return None
    out = np.array(ki, dtype=np.float64) * q
    assert sum(int(v) for v in np.round(out / q)) == 0
    return out


def dual_point(pred: np.ndarray, y: np.ndarray, model: Model) -> np.ndarray:
    """nu = grad loss(pred) moved into the conjugate's domain (and onto 1^T nu = 0 when c is free).

    This is the approximate point of eq. (5.2); :func:`exact_zero_sum` makes the sum exactly 0
    where a certified bound needs it.
    """
    loss = model.loss_fn
    lam = loss.gradient(pred, y)
    lo, hi = loss.dual_box(y)
    if model.effective_output_bias == "free":
        return project_domain_zero_sum(lam, lo, hi)
    return np.clip(lam, lo, hi)


def dual_objective(nu: np.ndarray, y: np.ndarray, model: Model) -> tuple[float, float]:
    """(D(nu), rounding allowance) with D(nu) = -loss*(nu) [- (1^T nu)^2 / (2 beta)] (eq. (5.3)).

    The quadratic term is present when the output constant is penalized; with a free constant
    the caller guarantees 1^T nu = 0, with none it is absent. D(nu) - allowance is below the
    exact real value of D at nu.
    """
    loss = model.loss_fn
    D = -loss.conjugate(nu, y)
    rounding = loss.conjugate_error_bound(nu, y)
    if model.effective_output_bias == "penalized":
        t = math.fsum(nu.tolist())
        q = t * t / (2 * model.beta)
        D -= q
        rounding += 8 * EPS * q + 1e-300
    return float(D), float(rounding)


def cone_matrix(Xt: np.ndarray, pattern: np.ndarray) -> np.ndarray:
    """A = (2 D - I) Xt for the 0/1 pattern D: the cone of the block is {u : A u >= 0} (eq. (2.1))."""
    return (2.0 * np.asarray(pattern, dtype=np.float64) - 1.0)[:, None] * Xt


def cone_residual(A: np.ndarray, h: np.ndarray, maxiter: int | None = None) -> tuple[np.ndarray, float]:
    """(zeta, min_{zeta >= 0} ||h + A^T zeta||) by scipy's NNLS (docs/method.md eq. (4.3)).

    When non-negative this equals max_{A u >= 0, ||u|| <= 1} h^T u: the distance from h to the
    polar cone {-A^T zeta : zeta >= 0}. With h = -g it is the left side of eq. (4.2).
    """
    from scipy.optimize import nnls

    if maxiter is None:
        maxiter = 50 * A.shape[1] + 100
    zeta, res = nnls(A.T, -h, maxiter=maxiter)
    return zeta, float(res)
