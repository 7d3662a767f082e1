"""The neuron norm N and everything the solvers need from it, in one object (docs/method.md eq. (1.2)).

N(ut) is the Euclidean norm of the penalized coordinates of an augmented neuron ut = (u, b):
all of them when the hidden bias is penalized or absent, all but the last (the bias) when it is
free. That one rule ("the norm ignores the bias coordinate") is written here once:

* :meth:`GroupNorm.value`: N of each row of a (m, dt) array;
* :meth:`GroupNorm.prox`: the group soft-threshold, prox of t * sum_j N(u_j), row by row;
* :meth:`GroupNorm.dual_norm`: N*(r) = ||E r|| when r vanishes on the free coordinate, else +inf;
* :meth:`GroupNorm.subgradient`: E^T E w / N(w) at N(w) > 0 (the gradient of N there);
* :meth:`GroupNorm.selector` and :meth:`GroupNorm.n_penalized`: E and its row count.

Arrays hold one neuron per **row**; :meth:`cvxrelu.model.Model.neuron_norm` keeps its column
convention (Ut of shape (dt, m)) by transposing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Norms below this are treated as zero where a division by N would follow.
TINY_NORM = 1e-300


@dataclass(frozen=True)
class GroupNorm:
    """N(w) = ||E w||_2 with E selecting every coordinate, or all but the last (``free_last``)."""

    free_last: bool = False

    def n_penalized(self, dt: int) -> int:
        """Number of penalized coordinates of a dt-dimensional neuron."""
        return dt - 1 if self.free_last else dt

    def selector(self, dt: int) -> np.ndarray:
        """E, the (n_penalized, dt) matrix that keeps the penalized coordinates."""
        return np.eye(dt)[: self.n_penalized(dt)]

    def _part(self, W: np.ndarray) -> np.ndarray:
        return W[..., :-1] if self.free_last else W

    def value(self, W: np.ndarray) -> np.ndarray:
        """N of each row of W (m, dt) -> (m,); a 1-D W gives a 0-d array."""
        return np.linalg.norm(self._part(np.asarray(W)), axis=-1)

    def prox(self, W: np.ndarray, t: float) -> np.ndarray:
        """argmin_Z t sum_j N(z_j) + 1/2 ||Z - W||^2, row by row (the free coordinate passes)."""
        W = np.asarray(W)
        nrm = self.value(W)
        scale = np.maximum(1.0 - t / np.maximum(nrm, TINY_NORM), 0.0)
        out = W.copy()
        if self.free_last:
            out[..., :-1] *= scale[..., None]
        else:
            out *= scale[..., None]
        return out

    def dual_norm(self, R: np.ndarray) -> np.ndarray:
        """N*(r) = max_{N(w) <= 1} r^T w for each row: ||E r||, or +inf when r has a non-zero
        free coordinate (N does not bound w along it)."""
        R = np.asarray(R)
        out = np.linalg.norm(self._part(R), axis=-1)
        if self.free_last:
            out = np.where(R[..., -1] != 0, np.inf, out)
        return out

    def subgradient(self, w: np.ndarray) -> np.ndarray:
        """E^T E w / N(w): the gradient of N at w (N(w) > 0; a zero w gives 0, in the subdifferential)."""
        w = np.asarray(w, dtype=np.float64)
        g = w.copy()
        if self.free_last:
            g[..., -1] = 0.0
        return g / np.expand_dims(np.maximum(self.value(w), TINY_NORM), -1)
