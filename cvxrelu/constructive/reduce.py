"""Reduce a network without raising its objective (docs/constructive.md, "reduce").

Three steps, each kept only when L does not rise (beyond the rounding of evaluating L) and the
predictions stay within PREDICTION_RTOL:

1. scale: (u_j, alpha_j) -> (t u_j, alpha_j / t), t = sqrt(|alpha_j| / N(u_j)); predictions are
   unchanged and 1/2 (N(u)^2 + alpha^2) >= |alpha| N(u) drops to its minimum;
2. merge: neurons of one cone B(u, alpha) (same trichotomy on the data, same sign of alpha)
   become one (paper Prop. 1 when they are positively colinear: constant objective; otherwise
   the alignment of Prop. 3 lowers the penalty by the triangle inequality);
3. prune: Caratheodory (Lemma 1 / Prop. 6). With t_j = |alpha_j| N(ut_j) and atoms
   a_j = sign(alpha_j) relu(Xt ut_j / N(ut_j)), yhat = sum_j t_j a_j and the penalty is
   beta sum_j t_j. While the columns [a_j; 1] are linearly dependent, moving t along a null
   vector keeps both until some t_j reaches 0: at most rank([A; 1]) <= n + 1 neurons remain, and
   the straight segment in t between two steps is a path of constant objective.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..model import (
    Dataset,
    Model,
    Network,
    merged,
    objective,
    objective_error_bound,
    predict,
    scaled,
)

#: Predictions may move by at most PREDICTION_RTOL * (1 + max |yhat|) in a step (rounding of the
#: null-space moves; the steps are exact in exact arithmetic).
PREDICTION_RTOL = 1e-8
#: A singular value of [A; 1] below NULL_RTOL times the largest counts as zero (a null vector):
#: used to prune below n + 1 neurons when the atoms are dependent.
NULL_RTOL = 1e-12


@dataclass
class Step:
    """One reduction step: what it did, the objective and neuron count after it."""

    name: str
    objective: float
    neurons: int
    accepted: bool
    prediction_change: float
    note: str = ""

    def to_dict(self) -> dict:
        return {"step": self.name, "objective": self.objective, "neurons": self.neurons,
                "accepted": self.accepted, "prediction_change": self.prediction_change, "note": self.note}


@dataclass
class ReduceResult:
    network: Network
    objective_before: float
    objective_after: float
    neurons_before: int
    neurons_after: int
    steps: list[Step]
    n_samples: int
    # networks along the constant-objective pruning path (scaled, fixed directions), first to last
    prune_path: list[Network] = field(default_factory=list)

    def to_dict(self) -> dict:
        from ..records import jsonable as _jsonable

        return _jsonable({
            "objective_before": self.objective_before,
            "objective_after": self.objective_after,
            "neurons_before": self.neurons_before,
            "neurons_after": self.neurons_after,
            "n_samples": self.n_samples,
            "max_neurons_guaranteed": self.n_samples + 1,
            "steps": [s.to_dict() for s in self.steps],
            "prediction_rtol": PREDICTION_RTOL,
        })


def nonzero_neurons(net: Network) -> int:
    """Neurons with alpha_j != 0 and ut_j != 0 (the others contribute nothing)."""
    Ut = net.Ut()
    return int(np.count_nonzero((net.alpha != 0) & np.any(Ut != 0, axis=0)))


def _drop_zero(net: Network, model: Model) -> Network:
    Ut = net.Ut()
    keep = (net.alpha != 0) & np.any(Ut != 0, axis=0)
    return Network.from_augmented(Ut[:, keep], net.alpha[keep], model, net.c)


def caratheodory_path(net: Network, X: np.ndarray, model: Model) -> list[Network]:
    """Networks along the Caratheodory pruning of a *scaled* network (Lemma 1 / Prop. 6).

    Returns [net, net_1, ..., net_K]: each has one neuron fewer than the one before and the same
    predictions and penalty (in exact arithmetic); between two of them, t moves on a straight
    segment (the constant-objective path of Prop. 6). Neurons with N(ut) = 0 (constants of a free
    hidden bias) are kept as they are. Every network keeps the width of ``net`` (pruned neurons
    become zero).
    """
    Xt = model.augment(X)
    Ut = net.Ut()
    N = model.neuron_norm(Ut)
    live = np.flatnonzero((net.alpha != 0) & (N > 0))
    out = [net]
    if live.size <= 1:
        return out
    t = np.abs(net.alpha[live]) * N[live]
    unit = Ut[:, live] / N[live][None, :]
    sg = np.sign(net.alpha[live])
    A = sg[None, :] * np.maximum(Xt @ unit, 0.0)
    n = X.shape[0]
    act = np.ones(live.size, dtype=bool)

    def network(tv):
        Ut2, al2 = Ut.copy(), net.alpha.copy()
        Ut2[:, live] = unit * np.sqrt(tv)[None, :]
        al2[live] = sg * np.sqrt(tv)
        return Network.from_augmented(Ut2, al2, model, net.c)

    while act.sum() > 1:
        idx = np.flatnonzero(act)
        K = np.vstack([A[:, idx], np.ones((1, idx.size))])
        _, s, vt = np.linalg.svd(K)
        # exact null vector when there are more atoms than rows; otherwise only a numerical one
        if idx.size <= n + 1 and not (s.size < idx.size or s[-1] <= NULL_RTOL * s[0]):
            break
        c = vt[-1]
        if not np.any(c > 0):
            c = -c
        ratio = np.where(c > 0, t[idx] / np.where(c > 0, c, 1.0), np.inf)
        j = int(np.argmin(ratio))
        t_new = t.copy()
        t_new[idx] = np.maximum(t[idx] - ratio[j] * c, 0.0)
        t_new[idx[j]] = 0.0
        t = t_new
        act = t > 0
        out.append(network(t))
    return out


def reduce_network(net: Network, data: Dataset, model: Model) -> ReduceResult:
    """Scale, merge per cone, prune (module docstring). The objective never rises.

    Each step is evaluated: it is kept only if L(after) <= L(before) + the rounding bounds of
    both evaluations (model.objective_error_bound) and the predictions move by at most
    PREDICTION_RTOL * (1 + max |yhat|); otherwise the step is reported as not accepted.
    """
    X = data.X
    yhat0 = predict(net, X)
    scale = 1.0 + float(np.max(np.abs(yhat0), initial=0.0))
    L0 = objective(net, data, model)
    cur, Lcur = net, L0
    steps: list[Step] = []
    prune_path: list[Network] = []

    def attempt(name, cand, note=""):
        nonlocal cur, Lcur
        Lc = objective(cand, data, model)
        dpred = float(np.max(np.abs(predict(cand, X) - yhat0), initial=0.0))
        slack = objective_error_bound(cur, data, model) + objective_error_bound(cand, data, model)
        ok = bool(np.isfinite(Lc) and Lc <= Lcur + slack and dpred <= PREDICTION_RTOL * scale)
        if ok:
            cur, Lcur = cand, Lc
        elif not note:
            note = "rejected: the objective would rise or the predictions move beyond the tolerance"
        steps.append(Step(name, float(Lcur), nonzero_neurons(cur), ok, dpred, note))
        return ok

    attempt("scale", _drop_zero(scaled(net, model), model), "|alpha_j| = N(u_j); zero neurons dropped")
    attempt("merge", merged(cur, model.augment(X), model), "one neuron per cone (Prop. 1 / Prop. 3)")
    path = caratheodory_path(cur, X, model)
    if len(path) > 1:
        ok = attempt("prune", _drop_zero(path[-1], model),
                     f"Caratheodory (Lemma 1 / Prop. 6): {len(path) - 1} neurons removed at constant objective")
        if ok:
            prune_path = path
    else:
        steps.append(Step("prune", float(Lcur), nonzero_neurons(cur), True, 0.0,
                          "nothing to prune: the atoms [a_j; 1] are independent"))
    return ReduceResult(cur, float(L0), float(Lcur), nonzero_neurons(net), nonzero_neurons(cur), steps,
                        data.n_samples, prune_path)
