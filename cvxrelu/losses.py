"""Losses of the contract with value, gradient and Fenchel conjugate.

Every loss is a sum over samples, ``loss(yhat, y) = sum_i l(yhat_i, y_i)``.
The conjugate is taken in the first argument:
``loss*(nu) = sup_z nu^T z - loss(z, y)``, so that ``loss(z) >= nu^T z - loss*(nu)``
(Fenchel-Young), the inequality that makes the dual bound of certificate.py valid.
Callers never check the concrete class: they use this vocabulary only.
"""

from __future__ import annotations

import numpy as np

from .errors import InputError

# Unit roundoff of IEEE float64.
EPS = float(np.finfo(np.float64).eps) / 2


class Loss:
    """Base class: a separable convex loss ``sum_i l(z_i, y_i)``."""

    name: str = ""

    def value(self, z: np.ndarray, y: np.ndarray) -> float:
        raise NotImplementedError

    def gradient(self, z: np.ndarray, y: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def conjugate(self, nu: np.ndarray, y: np.ndarray) -> float:
        """loss*(nu); ``inf`` outside the domain."""
        raise NotImplementedError

    def dual_box(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Elementwise bounds (lo, hi) of the conjugate's domain (may be infinite)."""
        raise NotImplementedError

    def conjugate_error_bound(self, nu: np.ndarray, y: np.ndarray) -> float:
        """An upper bound on |fl(conjugate) - conjugate| for float64 evaluation."""
        raise NotImplementedError

    def check_labels(self, y: np.ndarray) -> str | None:
        """A description of what is wrong with the labels, or None."""
        return None


class Squared(Loss):
    """``loss(z, y) = 1/2 ||z - y||^2``; ``loss*(nu) = 1/2 ||nu||^2 + nu^T y``."""

    name = "squared"

    def value(self, z, y):
        r = z - y
        return 0.5 * float(r @ r)

    def gradient(self, z, y):
        return z - y

    def conjugate(self, nu, y):
        return 0.5 * float(nu @ nu) + float(nu @ y)

    def dual_box(self, y):
        n = y.shape[0]
        return np.full(n, -np.inf), np.full(n, np.inf)

    def conjugate_error_bound(self, nu, y):
        n = nu.shape[0]
        gamma = (n + 4) * EPS / (1 - (n + 4) * EPS)
        scale = 0.5 * float(nu @ nu) + float(np.abs(nu) @ np.abs(y))
        return 2 * gamma * scale + n * 1e-300


class Logistic(Loss):
    """``loss(z, y) = sum_i log(1 + exp(-y_i z_i))`` with labels in {-1, +1}.

    With ``t_i = -y_i nu_i``: ``loss*(nu) = sum_i t_i log t_i + (1 - t_i) log(1 - t_i)``
    on ``0 <= t_i <= 1`` (binary negative entropy), ``+inf`` elsewhere.
    """

    name = "logistic"

    def value(self, z, y):
        return float(np.sum(np.logaddexp(0.0, -y * z)))

    def gradient(self, z, y):
        # d/dz log(1 + exp(-y z)) = -y * sigmoid(-y z), computed without overflow.
        return -y * _sigmoid(-y * z)

    def conjugate(self, nu, y):
        t = -y * nu
        if np.any(t < 0) or np.any(t > 1) or not np.all(np.isfinite(t)):
            return float("inf")
        return float(np.sum(_xlogx(t) + _xlogx(1.0 - t)))

    def dual_box(self, y):
        lo = np.where(y > 0, -1.0, 0.0)
        hi = np.where(y > 0, 0.0, 1.0)
        return lo, hi

    def conjugate_error_bound(self, nu, y):
        t = -y * nu
        n = nu.shape[0]
        terms = np.abs(_xlogx(t)) + np.abs(_xlogx(1.0 - t))
        # log is accurate to a few ulps; products and the sum add n + 8 roundings.
        gamma = (n + 16) * EPS / (1 - (n + 16) * EPS)
        return 4 * gamma * float(np.sum(terms)) + n * 1e-300

    def check_labels(self, y):
        bad = ~np.isin(y, (-1.0, 1.0))
        if np.any(bad):
            k = int(np.flatnonzero(bad)[0])
            return f"logistic loss needs labels -1 or +1, found {float(y[k]):g} at index {k}"
        return None


def _sigmoid(x: np.ndarray) -> np.ndarray:
    out = np.empty_like(x, dtype=np.float64)
    pos = x >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-x[pos]))
    ex = np.exp(x[~pos])
    out[~pos] = ex / (1.0 + ex)
    return out


def _xlogx(t: np.ndarray) -> np.ndarray:
    t = np.asarray(t, dtype=np.float64)
    out = np.zeros_like(t)
    pos = t > 0
    out[pos] = t[pos] * np.log(t[pos])
    return out


LOSSES: dict[str, Loss] = {"squared": Squared(), "logistic": Logistic()}


def get_loss(name: str) -> Loss:
    try:
        return LOSSES[name]
    except KeyError:
        raise InputError(
            f"unknown loss {name!r}; choose one of {', '.join(sorted(LOSSES))}"
        ) from None
