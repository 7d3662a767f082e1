"""Data, model options and the two-layer ReLU network, with the objective of docs/method.md eq. (1.1).

Shapes: X (n_samples, n_features), y (n_samples,), U (n_features, n_neurons),
alpha (n_neurons,), b (n_neurons,) or None, c a float or None.

The *augmented* view used by the convex program appends a column of ones to X when the
network has a hidden bias (docs/method.md section 1): Xt = [X, 1], ut_j = (u_j, b_j).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from .errors import InputError
from .losses import EPS, Loss, get_loss
from .penalty import GroupNorm

BIAS_MODES = ("none", "penalized", "free")


@dataclass(frozen=True)
class Dataset:
    """Training data: X (n_samples, n_features) and y (n_samples,), float64."""

    X: np.ndarray
    y: np.ndarray

    @property
    def n_samples(self) -> int:
        return int(self.X.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.X.shape[1])


@dataclass(frozen=True)
class Model:
    """The training problem's options: weight decay beta, loss and the two bias modes."""

    beta: float
    loss: str = "squared"
    hidden_bias: str = "none"
    output_bias: str = "none"

    def __post_init__(self):
        if not (isinstance(self.beta, float | int) and np.isfinite(self.beta) and self.beta > 0):
            raise InputError(f"beta must be a finite number > 0, got {self.beta!r}")
        get_loss(self.loss)
        for name in ("hidden_bias", "output_bias"):
            mode = getattr(self, name)
            if mode not in BIAS_MODES:
                raise InputError(f"{name} must be one of {', '.join(BIAS_MODES)}, got {mode!r}")

    @property
    def loss_fn(self) -> Loss:
        return get_loss(self.loss)

    @property
    def has_hidden_bias(self) -> bool:
        return self.hidden_bias != "none"

    @property
    def effective_output_bias(self) -> str:
        """A free hidden bias makes a free output constant available (docs/method.md section 2)."""
        return "free" if self.hidden_bias == "free" else self.output_bias

    def augment(self, X: np.ndarray) -> np.ndarray:
        """Xt = [X, 1] with a hidden bias, X otherwise."""
        if self.has_hidden_bias:
            return np.hstack([X, np.ones((X.shape[0], 1))])
        return X

    @property
    def group_norm(self) -> GroupNorm:
        """The neuron norm N as one object (value, prox, dual norm, subgradient; penalty.py)."""
        return GroupNorm(free_last=self.hidden_bias == "free")

    def neuron_norm(self, Ut: np.ndarray) -> np.ndarray:
        """N(ut_j) for each column of Ut: the Euclidean norm of the penalized coordinates.

        All of ut when the hidden bias is penalized or absent, only u when it is free.
        """
        return self.group_norm.value(np.asarray(Ut).T)


@dataclass(frozen=True)
class Network:
    """theta = (U, alpha[, b][, c]): yhat = sum_j alpha_j relu(X u_j + b_j) + c."""

    U: np.ndarray
    alpha: np.ndarray
    b: np.ndarray | None = None
    c: float | None = None
    meta: dict = field(default_factory=dict, compare=False)

    @property
    def n_neurons(self) -> int:
        return int(self.alpha.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.U.shape[0])

    def Ut(self) -> np.ndarray:
        """Augmented weights (n_features [+1], n_neurons)."""
        if self.b is None:
            return self.U
        return np.vstack([self.U, self.b[None, :]])

    @classmethod
    def from_augmented(cls, Ut: np.ndarray, alpha: np.ndarray, model: Model, c: float | None):
        if model.has_hidden_bias:
            return cls(U=np.ascontiguousarray(Ut[:-1]), alpha=alpha, b=np.ascontiguousarray(Ut[-1]), c=c)
        return cls(U=np.ascontiguousarray(Ut), alpha=alpha, b=None, c=c)


def hidden(net: Network, X: np.ndarray) -> np.ndarray:
    """Pre-activations X u_j + b_j, shape (n_samples, n_neurons)."""
    Z = X @ net.U
    if net.b is not None:
        Z = Z + net.b[None, :]
    return Z


def predict(net: Network, X: np.ndarray) -> np.ndarray:
    """yhat = relu(X U + b) alpha + c, shape (n_samples,)."""
    yhat = np.maximum(hidden(net, X), 0.0) @ net.alpha
    if net.c is not None:
        yhat = yhat + net.c
    return yhat


def penalty(net: Network, model: Model) -> float:
    """1/2 sum_j (||u_j||^2 + alpha_j^2) [+ 1/2 ||b||^2] [+ 1/2 c^2] (without beta)."""
    p = 0.5 * (float(np.sum(net.U**2)) + float(np.sum(net.alpha**2)))
    if model.hidden_bias == "penalized" and net.b is not None:
        p += 0.5 * float(np.sum(net.b**2))
    if model.output_bias == "penalized" and net.c is not None:
        p += 0.5 * float(net.c) ** 2
    return p


def objective(net: Network, data: Dataset, model: Model) -> float:
    """L(theta) = loss(yhat, y) + beta * penalty(theta)  (docs/method.md section 1)."""
    return model.loss_fn.value(predict(net, data.X), data.y) + model.beta * penalty(net, model)


def objective_error_bound(net: Network, data: Dataset, model: Model) -> float:
    """A generous bound on |fl(L) - L|: a priori rounding analysis of predict + loss + penalty.

    Used so that "strictly better" claims survive rounding: a witness must beat the
    network by more than both error bounds.
    """
    n, d = data.X.shape
    m = max(net.n_neurons, 1)
    Z = np.abs(data.X) @ np.abs(net.U)
    if net.b is not None:
        Z = Z + np.abs(net.b)[None, :]
    absyhat = Z @ np.abs(net.alpha) + (abs(net.c) if net.c is not None else 0.0)
    gamma = (d + m + 8) * EPS * 4
    # Error in yhat is <= gamma * absyhat; propagate through the loss by its slope.
    yhat = predict(net, data.X)
    slope = np.abs(model.loss_fn.gradient(yhat, data.y)) + gamma * absyhat
    err_loss = float(slope @ (gamma * absyhat)) + (n + 8) * 4 * EPS * abs(
        model.loss_fn.value(yhat, data.y)
    ) + n * 8 * EPS
    err_pen = (d + m + 8) * 4 * EPS * penalty(net, model) * model.beta
    return err_loss + err_pen + 1e-300


# --------------------------------------------------------------------------- minimal form

#: A pre-activation |xt_k^T ut| <= ZERO_TOL * ||xt_k|| * ||ut|| counts as exactly zero when
#: the trichotomy (cone) of a neuron is computed (docs/method.md section 3, item 2).
ZERO_TOL = 1e-9
#: Two neurons of one cone are "positively colinear" when the sine of their angle is below this.
COLINEAR_TOL = 1e-7


def scaled(net: Network, model: Model) -> Network:
    """Rescale each neuron to N(ut_j) = |alpha_j| (predictions unchanged, penalty can only drop).

    Neurons with alpha_j = 0 or N(ut_j) = 0 are left as they are (they are dropped or
    treated as constants by :func:`split_constants`).
    """
    Ut = net.Ut().copy()
    alpha = net.alpha.copy()
    N = model.neuron_norm(Ut)
    ok = (N > 0) & (alpha != 0)
    t = np.ones_like(alpha)
    t[ok] = np.sqrt(np.abs(alpha[ok]) / N[ok])
    Ut = Ut * t[None, :]
    alpha = np.where(ok, alpha / t, alpha)
    return Network.from_augmented(Ut, alpha, model, net.c)


def trichotomies(Xt: np.ndarray, Ut: np.ndarray) -> np.ndarray:
    """sign(Xt ut_j) in {-1, 0, +1}, shape (n_samples, n_neurons), with ZERO_TOL."""
    Z = Xt @ Ut
    scale = np.linalg.norm(Xt, axis=1)[:, None] * np.linalg.norm(Ut, axis=0)[None, :]
    S = np.sign(Z).astype(np.int8)
    S[np.abs(Z) <= ZERO_TOL * scale] = 0
    return S


@dataclass(frozen=True)
class NeuronGroups:
    """Non-zero neurons grouped by cone B(u, alpha) = (trichotomy, sign(alpha)) (paper Def. 2)."""

    groups: list[np.ndarray]  # indices of neurons, one array per cone
    signs: list[int]  # sign(alpha) per cone
    colinear: list[bool]  # whether the neurons of that cone are positively colinear
    constant: np.ndarray  # indices of free-bias neurons with u = 0 (constants)
    dropped: np.ndarray  # indices of neurons that contribute nothing

    @property
    def nearly_minimal(self) -> bool:
        return all(self.colinear)

    @property
    def minimal(self) -> bool:
        return all(len(g) == 1 for g in self.groups)


def unique_rows(A: np.ndarray, return_index: bool = False, return_inverse: bool = False):
    """``np.unique(A, axis=0)`` (same rows, same lexicographic order, same index and inverse)
    for bool or int8 matrices, without numpy's per-column structured dtype (which costs
    seconds for rows of 100 000 samples): each row becomes one byte string whose byte order
    is the lexicographic order (int8 shifted by 128)."""
    A = np.ascontiguousarray(A)
    if A.dtype == bool:
        B = A.view(np.uint8)
    elif A.dtype == np.int8:
        B = (A.astype(np.int16) + 128).astype(np.uint8)
    else:
        raise TypeError(f"unique_rows needs bool or int8 rows, got {A.dtype}")
    if A.shape[0] == 0 or A.shape[1] == 0:
        return np.unique(A, axis=0, return_index=return_index, return_inverse=return_inverse)
    keys = np.ascontiguousarray(B).view(np.dtype((np.void, B.shape[1])))[:, 0]
    _, index, inverse = np.unique(keys, return_index=True, return_inverse=True)
    out = (A[index],)
    if return_index:
        out += (index,)
    if return_inverse:
        out += (np.asarray(inverse).ravel(),)
    return out[0] if len(out) == 1 else out


def group_neurons(net: Network, Xt: np.ndarray, model: Model) -> NeuronGroups:
    """Cones of the non-zero neurons and the nearly-minimal test (paper Def. 2, 3)."""
    Ut = net.Ut()
    N = model.neuron_norm(Ut)
    full = np.linalg.norm(Ut, axis=0)
    alive = (net.alpha != 0) & (full > 0)
    constant = np.flatnonzero(alive & (N == 0))
    live = np.flatnonzero(alive & (N > 0))
    dropped = np.flatnonzero(~alive)
    if live.size == 0:
        return NeuronGroups([], [], [], constant, dropped)
    T = trichotomies(Xt, Ut[:, live])
    keys = np.vstack([T, np.sign(net.alpha[live])[None, :].astype(np.int8)])
    _, inverse = unique_rows(keys.T, return_inverse=True)
    inverse = np.asarray(inverse).ravel()
    groups, signs, colinear = [], [], []
    for g in range(int(inverse.max()) + 1):
        idx = live[inverse == g]
        groups.append(idx)
        signs.append(int(np.sign(net.alpha[idx[0]])))
        V = Ut[:, idx] / full[idx][None, :]
        # positively colinear: every direction equals the first one
        colinear.append(bool(np.all(np.linalg.norm(V - V[:, :1], axis=0) <= COLINEAR_TOL)))
    return NeuronGroups(groups, signs, colinear, constant, dropped)


def merged(net: Network, Xt: np.ndarray, model: Model) -> Network:
    """M(theta): one neuron per cone (paper Prop. 1), scaled; predictions unchanged.

    Neurons of one cone share their activation pattern on the data, so
    sum_j alpha_j relu(Xt ut_j) = sign * relu(Xt sum_j |alpha_j| ut_j): merging them is exact
    even when they are not colinear (then the penalty strictly drops). Constant neurons of a
    free hidden bias are kept as they are.
    """
    groups = group_neurons(net, Xt, model)
    Ut = net.Ut()
    cols, alphas = [], []
    for idx, sg in zip(groups.groups, groups.signs):
        w = Ut[:, idx] @ np.abs(net.alpha[idx])
        Nw = float(model.neuron_norm(w[:, None])[0])
        cols.append(w / np.sqrt(Nw))
        alphas.append(sg * np.sqrt(Nw))
    for j in groups.constant:
        cols.append(Ut[:, j])
        alphas.append(net.alpha[j])
    dt = Ut.shape[0]
    Ut_new = np.array(cols).T if cols else np.zeros((dt, 0))
    return Network.from_augmented(Ut_new, np.array(alphas, dtype=np.float64), model, net.c)


def with_neuron(net: Network, ut: np.ndarray, alpha: float, model: Model) -> Network:
    """theta with one more neuron (ut, alpha) appended."""
    Ut = np.hstack([net.Ut(), ut[:, None]])
    return Network.from_augmented(Ut, np.append(net.alpha, alpha), model, net.c)


def replace_c(net: Network, c: float | None) -> Network:
    return replace(net, c=c)
