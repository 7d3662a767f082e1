"""The convex program's math, without a solver (docs/method.md sections 2, 3 and 7).

On patterns D_1..D_p (rows of ``patterns``, 0/1 of shape (p, n)) the program is

    min  loss( sum_i D_i Xt (w_i - v_i) [+ c 1] ) + beta sum_i (N(w_i) + N(v_i)) [+ beta/2 c^2]
    s.t. (2 D_i - I) Xt w_i >= 0,  (2 D_i - I) Xt v_i >= 0                (docs/method.md eq. (2.3))

Here: the solution type every backend returns (:class:`ConvexSolution`), the program's and the
read-off network's objectives, and docs/method.md eq. (7.1), blocks -> network
(:func:`network_from_blocks`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

import numpy as np

from .model import Model, Network


class SolverStatus(str, Enum):
    """How a backend ended, the same three words for every backend (ipm, clarabel, first-order).

    A backend that cannot return a usable point raises :class:`~cvxrelu.errors.SolverError`
    instead; a status is never a verdict: the network read off the solution is evaluated (and
    certified, by verify) independently.
    """

    #: Converged to the backend's own tolerances.
    SOLVED = "solved"
    #: Met only reduced tolerances (the best iterate is returned).
    ALMOST_SOLVED = "almost_solved"
    #: Short even of those; the best feasible iterate is returned (the reason is in ``detail``).
    INACCURATE = "inaccurate"

    def __str__(self) -> str:
        return self.value


def solver_info(solver: str, status: SolverStatus, iterations: int, detail: str | None = None, **rest) -> dict:
    """The solver record every backend returns: ``solver`` (its name), ``status`` (a
    :class:`SolverStatus`), ``iterations``, ``detail`` (why the status is not ``solved``, or
    None), then backend-specific keys (docs/cli.md, the ``solver`` object of ``solve --json``).
    """
    if not isinstance(status, SolverStatus):
        raise TypeError(f"status must be a SolverStatus, got {status!r}")
    return {"solver": solver, "status": status, "iterations": int(iterations), "detail": detail, **rest}


@dataclass
class ConvexSolution:
    """Solution of the program on p patterns: W, V (p, dt), c, objective (recomputed).

    The one result type of every backend; ``solver_info`` is the record built by
    :func:`solver_info` (name, status, iterations, detail, backend-specific keys).
    """

    W: np.ndarray
    V: np.ndarray
    c: float | None
    objective: float
    prediction: np.ndarray
    solver_info: dict = field(default_factory=dict)

    @property
    def status(self) -> SolverStatus:
        return self.solver_info["status"]

    @property
    def solver(self) -> str:
        return self.solver_info["solver"]

    def nonzero_blocks(self, model: Model, tol: float = 1e-9) -> int:
        N = np.concatenate([model.neuron_norm(self.W.T), model.neuron_norm(self.V.T)])
        return int(np.sum(N > tol * max(1.0, N.max(initial=0.0))))

    def used_patterns(self, tol: float = 1e-9) -> np.ndarray:
        """(p,) bool: patterns whose w or v block is non-zero (Euclidean norm above tol times
        the largest, at least 1), i.e. the patterns the solution's network uses."""
        N = np.maximum(np.linalg.norm(self.W, axis=1), np.linalg.norm(self.V, axis=1))
        return N > tol * max(1.0, float(N.max(initial=0.0)))


def block_predictions(Xt: np.ndarray, patterns: np.ndarray, W: np.ndarray, V: np.ndarray) -> np.ndarray:
    """sum_i D_i Xt (w_i - v_i), shape (n,)."""
    Z = Xt @ (W - V).T  # (n, p)
    return np.sum(Z * patterns.T, axis=1)


def convex_objective(Xt, y, patterns, W, V, c, model: Model) -> float:
    """The program's objective at (W, V, c), evaluated in numpy."""
    z = block_predictions(Xt, patterns, W, V)
    if c is not None:
        z = z + c
    val = model.loss_fn.value(z, y) + model.beta * (
        float(np.sum(model.neuron_norm(W.T))) + float(np.sum(model.neuron_norm(V.T)))
    )
    if c is not None and model.effective_output_bias == "penalized":
        val += 0.5 * model.beta * c * c
    return val


def network_objective(Xt, y, W, V, c, model: Model) -> float:
    """L of the network read off (W, V, c) with docs/method.md eq. (7.1): actual ReLUs, not the patterns' masks.

    Equal to the program's objective when every block is in its cone; otherwise the objective
    of the network a user would get.
    """
    z = np.maximum(Xt @ W.T, 0.0).sum(axis=1) - np.maximum(Xt @ V.T, 0.0).sum(axis=1)
    if c is not None:
        z = z + c
    val = model.loss_fn.value(z, y) + model.beta * (
        float(np.sum(model.neuron_norm(W.T))) + float(np.sum(model.neuron_norm(V.T))))
    if c is not None and model.effective_output_bias == "penalized":
        val += 0.5 * model.beta * c * c
    return val


def network_from_blocks(W: np.ndarray, V: np.ndarray, c: float | None, model: Model, tol: float) -> Network:
    """docs/method.md eq. (7.1): each block with N(w) > tol * max N gives (w / sqrt(N(w)), +-sqrt(N(w))).

    With a free hidden bias a block may have N(w) = 0 but a bias part b > 0: it predicts the
    constant +-b. Such constants and the program's free constant c become one neuron (0, B)
    with alpha = const / B for a large B, whose penalty beta/2 alpha^2 is negligible (the
    infimum is not attained; docs/method.md section 7); the network's own c is then 0.
    """
    dt = W.shape[1] if W.size else (V.shape[1] if V.size else 0)
    blocks = [(w, 1.0) for w in W] + [(v, -1.0) for v in V]
    N = np.array([float(model.neuron_norm(w[:, None])[0]) for w, _ in blocks]) if blocks else np.zeros(0)
    scale = max(1.0, float(N.max(initial=0.0)))
    cols, alphas = [], []
    const = 0.0
    for (w, sg), Nw in zip(blocks, N):
        if Nw > tol * scale:
            cols.append(w / np.sqrt(Nw))
            alphas.append(sg * np.sqrt(Nw))
        elif model.hidden_bias == "free" and w[-1] > tol * scale:
            const += sg * w[-1]
    if model.hidden_bias == "free":
        # the program's free constant (and pure-bias blocks) become one bias neuron
        const += c if c is not None else 0.0
        c_out = 0.0 if model.output_bias != "none" else None
        if const != 0.0:
            B = 1e4 * max(1.0, abs(const))
            u = np.zeros(dt)
            u[-1] = B
            cols.append(u)
            alphas.append(const / B)
    else:
        c_out = c if model.output_bias != "none" else None
    Ut = np.array(cols).T if cols else np.zeros((dt, 0))
    return Network.from_augmented(Ut, np.array(alphas, dtype=np.float64), model, c_out)
