"""The explicit path of non-increasing objective of paper 000, section 5 (docs/constructive.md, "path").

From a network theta of width m, keeping the width (pruned neurons become zero):

1. scale   each neuron moves along r -> (sqrt(r) u_j, alpha_j / sqrt(r)), r from 1 to
           r* = |alpha_j| / N(u_j): 1/2 (r N(u)^2 + alpha^2 / r) is convex in r with its minimum at
           r*, so it decreases; predictions are unchanged. Dead neurons (alpha_j = 0 or N(u_j) = 0,
           not a free-bias constant) shrink to zero.
2. merge   in each cone (trichotomy and sign of alpha) with k >= 2 neurons, with v_j = |alpha_j| ut_j:
           v_1(t) = v_1 + t sum_{j>=2} v_j, v_j(t) = (1 - t) v_j. All stay in the cone, so the
           predictions are constant; the penalty (1 - t) sum_{j>=2} N(v_j) + N(v_1 + t S) has slope
           at most N(S) - sum_{j>=2} N(v_j) <= 0 (Prop. 1 when colinear: constant; Prop. 3 otherwise).
3. prune   Caratheodory (Lemma 1 / Prop. 6; reduce.caratheodory_path): straight segments in the
           neuron sizes at constant predictions and penalty, to at most n + 1 non-zero neurons.
4. global  (Prop. 7) when the k remaining neurons and an optimal network theta* of m* neurons
           (cvxrelu optimal-set) fit in the width, k + m* <= m (guaranteed when m >= n + 1 + m*):
           theta(t) = {sqrt(1 - t) theta_tilde, sqrt(t) theta*} [c(t) = (1 - t) c + t c*]. Predictions
           and penalty are affine (the penalized c^2 convex) in t, so L(theta(t)) is convex with its
           minimum at t = 1: non-increasing.

The path is written as K networks with their objectives (HDF5 layout in docs/constructive.md);
between two written networks of a stage the path is the stage's formula above.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..files import atomic_write
from ..model import Dataset, Model, Network, group_neurons, objective, predict
from .reduce import caratheodory_path

#: Objectives along a path may rise by at most PATH_RTOL * max(1, |L(start)|) from one written
#: network to the next (rounding; the construction is non-increasing in exact arithmetic, and
#: theta* is optimal to the solver's accuracy, about 1e-9 relative).
PATH_RTOL = 1e-8
#: Networks written per continuous stage (scale, merge, global), end points included.
STAGE_POINTS = 6
PATH_FORMAT = "cvxrelu-path"
PATH_VERSION = 1


@dataclass
class PathResult:
    networks: list[Network]
    objectives: list[float]
    stages: list[str]
    t: list[float]
    reaches: str  # "global" or "minimal"
    reason: str
    details: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        from ..records import jsonable as _jsonable

        rises = np.diff(self.objectives) if len(self.objectives) > 1 else np.zeros(0)
        out = {"reaches": self.reaches, "reason": self.reason, "objectives": self.objectives,
               "stages": self.stages, "t": self.t, "networks": len(self.networks),
               "width": int(self.networks[0].n_neurons) if self.networks else 0,
               "max_rise": float(max(rises.max(initial=0.0), 0.0)), "path_rtol": PATH_RTOL}
        out.update(self.details)
        return _jsonable(out)


def _pad(net: Network, width: int, model: Model) -> Network:
    extra = width - net.n_neurons
    if extra <= 0:
        return net
    Ut = np.hstack([net.Ut(), np.zeros((net.Ut().shape[0], extra))])
    return Network.from_augmented(Ut, np.concatenate([net.alpha, np.zeros(extra)]), model, net.c)


def scale_stage(net: Network, model: Model, ts) -> list[Network]:
    Ut, alpha = net.Ut(), net.alpha
    N = model.neuron_norm(Ut)
    full = np.linalg.norm(Ut, axis=0)
    live = (N > 0) & (alpha != 0)
    constant = (N == 0) & (full > 0) & (alpha != 0)  # free-bias constants stay
    rstar = np.ones_like(alpha)
    rstar[live] = np.abs(alpha[live]) / N[live]
    out = []
    for t in ts:
        r = 1.0 + t * (rstar - 1.0)
        s = np.sqrt(r)
        U2 = Ut * s[None, :]
        a2 = np.where(live, alpha / np.where(live, s, 1.0), alpha)
        dead = ~live & ~constant  # contributes nothing: shrink it to zero
        U2[:, dead] *= 1.0 - t
        a2 = np.where(dead, alpha * (1.0 - t), a2)
        out.append(Network.from_augmented(U2, a2, model, net.c))
    return out


def merge_stage(net: Network, Xt: np.ndarray, model: Model, ts) -> list[Network]:
    """Stage 2 on a scaled network (module docstring)."""
    groups = group_neurons(net, Xt, model)
    Ut = net.Ut()
    V = Ut * np.abs(net.alpha)[None, :]  # v_j = |alpha_j| ut_j (scaled: N(v_j) = alpha_j^2)
    sign = np.sign(net.alpha)
    out = []
    for t in ts:
        Vt = V.copy()
        for idx in groups.groups:
            if len(idx) < 2:
                continue
            S = V[:, idx[1:]].sum(axis=1)
            Vt[:, idx[0]] = V[:, idx[0]] + t * S
            Vt[:, idx[1:]] = (1.0 - t) * V[:, idx[1:]]
        U2, a2 = Ut.copy(), net.alpha.copy()
        multi = [g for g in groups.groups if len(g) >= 2]
        moved = np.concatenate(multi).astype(int) if multi else np.zeros(0, dtype=int)
        for j in moved:
            Nv = float(model.neuron_norm(Vt[:, j:j + 1])[0])
            if Nv > 0:
                U2[:, j] = Vt[:, j] / np.sqrt(Nv)
                a2[j] = sign[j] * np.sqrt(Nv)
            else:
                U2[:, j] = 0.0
                a2[j] = 0.0
        out.append(Network.from_augmented(U2, a2, model, net.c))
    return out


def global_stage(net: Network, star: Network, model: Model, ts) -> list[Network] | None:
    """Stage 4: None when the k live neurons of ``net`` and those of ``star`` do not fit in its width."""
    m = net.n_neurons
    Ut, alpha = net.Ut(), net.alpha
    live = np.flatnonzero((alpha != 0) & np.any(Ut != 0, axis=0))
    Us, als = star.Ut(), star.alpha
    slive = np.flatnonzero((als != 0) & np.any(Us != 0, axis=0))
    free = [j for j in range(m) if j not in set(live.tolist())]
    if len(free) < slive.size:
        return None
    slots = free[:slive.size]
    c0 = net.c if net.c is not None else 0.0
    cs = star.c if star.c is not None else 0.0
    out = []
    for t in ts:
        U2 = np.zeros_like(Ut)
        a2 = np.zeros_like(alpha)
        U2[:, live] = np.sqrt(1.0 - t) * Ut[:, live]
        a2[live] = np.sqrt(1.0 - t) * alpha[live]
        U2[:, slots] = np.sqrt(t) * Us[:, slive]
        a2[slots] = np.sqrt(t) * als[slive]
        c = None if net.c is None and star.c is None else (1.0 - t) * c0 + t * cs
        out.append(Network.from_augmented(U2, a2, model, c))
    return out


def build_path(net: Network, data: Dataset, model: Model, star: Network | None, m_star: int | None,
               star_note: str = "") -> PathResult:
    """The path of the module docstring; ``star``: an optimal network (m_star neurons) or None."""
    from ..certificate import verify

    ts = np.linspace(0.0, 1.0, STAGE_POINTS)
    Xt = model.augment(data.X)
    nets, stages, tt = [net], ["start"], [0.0]

    def add(stage, seq, times):
        nets.extend(seq)
        stages.extend([stage] * len(seq))
        tt.extend(float(x) for x in times)

    add("scale", scale_stage(net, model, ts)[1:], ts[1:])
    add("merge", merge_stage(nets[-1], Xt, model, ts)[1:], ts[1:])
    pr = caratheodory_path(nets[-1], data.X, model)[1:]
    add("prune", pr, np.arange(1, len(pr) + 1, dtype=float))
    minimal = nets[-1]
    n = data.n_samples
    k = int(np.count_nonzero(minimal.alpha))
    details = {"n_samples": n, "m_star": m_star, "neurons_minimal": k,
               "threshold_prop7": None if m_star is None else n + 1 + m_star}
    reaches, reason = "minimal", ""
    if star is None:
        reason = f"reached a minimal network with {k} neurons; no optimal network to go on to ({star_note})"
    else:
        seq = global_stage(minimal, star, model, ts)
        if seq is None:
            ks = int(np.count_nonzero(star.alpha))
            guarantee = (f"m >= n + 1 + m* = {n + 1 + m_star}" if m_star is not None else
                         "m >= n + 1 + m*; m* is not known here")
            reason = (f"reached a minimal network with {k} neurons; {k} + {ks} (the optimal network's neurons) "
                      f"exceeds the width {net.n_neurons} (Prop. 7 guarantees the path for {guarantee})")
        else:
            add("global", seq[1:], ts[1:])
            cert = verify(nets[-1], data, model)
            details["end_verify"] = cert.status.value
            if cert.status.value == "optimal":
                reaches, reason = "global", "reached a global minimum (certified by verify)"
            else:
                reason = f"the end of the path did not verify optimal ({cert.status.value})"
    objs = [float(objective(p, data, model)) for p in nets]
    yhat0 = predict(net, data.X)
    details["prediction_change_to_minimal"] = float(np.max(np.abs(predict(minimal, data.X) - yhat0), initial=0.0))
    return PathResult(nets, objs, stages, tt, reaches, reason, details)


def save_path(path: str, res: PathResult, model: Model, data: Dataset) -> None:
    """Write a path (layout in docs/constructive.md) atomically: temporary file, then rename."""
    import h5py

    def write(tmp):
        with h5py.File(tmp, "w") as f:
            f.attrs["format"] = PATH_FORMAT
            f.attrs["version"] = PATH_VERSION
            f.attrs["reaches"] = res.reaches
            g = f.create_group("model")
            g.attrs["beta"] = float(model.beta)
            g.attrs["loss"] = model.loss
            g.attrs["hidden_bias"] = model.hidden_bias
            g.attrs["output_bias"] = model.output_bias
            p = f.create_group("path")
            p["U"] = np.stack([n.U for n in res.networks]).astype(np.float64)
            p["alpha"] = np.stack([n.alpha for n in res.networks]).astype(np.float64)
            if model.hidden_bias != "none":
                p["b"] = np.stack([n.b if n.b is not None else np.zeros(n.n_neurons) for n in res.networks])
            if model.output_bias != "none":
                p["c"] = np.array([n.c if n.c is not None else 0.0 for n in res.networks], dtype=np.float64)
            p["objective"] = np.array(res.objectives, dtype=np.float64)
            p["t"] = np.array(res.t, dtype=np.float64)
            p.create_dataset("stage", data=np.array(res.stages, dtype=object), dtype=h5py.string_dtype())
            d = f.create_group("data")
            d["X"] = np.asarray(data.X, dtype=np.float64)
            d["y"] = np.asarray(data.y, dtype=np.float64)

    atomic_write(path, write, suffix=".h5.tmp")


def plot_path(res: PathResult, out: str) -> None:
    """The objective profile along the path, one colour per stage (needs matplotlib)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    x = np.arange(len(res.objectives))
    ax.plot(x, res.objectives, color="0.6", lw=1, zorder=1)
    colors = {"start": "k", "scale": "C0", "merge": "C1", "prune": "C2", "global": "C3"}
    for st in dict.fromkeys(res.stages):
        idx = [i for i, s in enumerate(res.stages) if s == st]
        ax.scatter(x[idx], np.array(res.objectives)[idx], s=22, color=colors.get(st, "C4"), label=st, zorder=2)
    ax.set_xlabel("network along the path")
    ax.set_ylabel("objective L")
    ax.set_title(f"non-increasing path (reaches: {res.reaches})")
    ax.legend()
    fig.tight_layout()
    try:
        atomic_write(out, lambda tmp: fig.savefig(tmp, dpi=110, format="png"), suffix=".png")
    finally:
        plt.close(fig)
