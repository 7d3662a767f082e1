"""Pictures for ``verify --plot`` and ``solve --plot`` (matplotlib, the optional ``plot`` extra).

Panels (docs/cli.md, "Plots"):

* **fitted function** (1-D data): the network's output over the data's range, the data, and the
  kinks x = -b_j / u_j of its neurons; with a witness, the better network too.
* **dual function** (two augmented coordinates: 2-D data without hidden bias, or 1-D data with a
  penalized one): u -> |nu^T (Xt u)_+| / beta on the unit circle, angle on the x axis, against
  1. The certificate's dual point nu is rebuilt as in docs/method.md section 5 (the loss
  gradient, projected onto the conjugate's domain and, with a free output constant, onto
  1^T nu = 0). Where the curve exceeds 1 the dual constraint is violated (the certificate
  rescales nu, and a neuron along that direction lowers the objective); at an optimum it
  touches 1 exactly at the network's neuron directions (marked).
* **history** (solve): the objective and the certified lower bound against time, per
  column-generation round (exact patterns), or the objective per pattern-search round
  (sampled patterns, no bound).

The panels are pure functions of the network, data and the result record: nothing is
re-solved. Matplotlib is imported only here, and only when a plot is asked for.
"""

from __future__ import annotations

import math

import numpy as np

from .dual import exact_zero_sum, project_domain_zero_sum
from .errors import InputError
from .files import atomic_write
from .model import Dataset, Model, Network, predict

#: Points on the circle at which the dual function is drawn (its maximum between grid points is
#: the certificate's M, drawn as a separate line).
DUAL_GRID = 3600
#: Points on the x axis of the fitted-function panel.
FUNCTION_GRID = 1000
#: Neurons with |alpha_j| * ||u_j|| below this are not drawn as kinks (they do not bend f).
KINK_TOL = 1e-12
#: The dual panel shades a direction as violated when its value exceeds 1 by more than this
#: (relative): solvers stop at about 1e-8, and such overshoots are not worth a red band.
VIOLATION_SHADE_TOL = 1e-6
#: Resolution of the written PNG.
DPI = 110


def require_matplotlib(path: str) -> None:
    """Bad usage (exit 2, before any work) when matplotlib is missing."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise InputError(f"--plot {path}: needs matplotlib; install the plot extra "
                         "(pip install 'cvxrelu[plot]')") from None


def panels(model: Model, n_features: int, with_history: bool = False) -> list[str]:
    """The panels a plot of this problem has: "function", "dual", "history"."""
    out = []
    if n_features == 1:
        out.append("function")
    dt = n_features + (1 if model.has_hidden_bias else 0)
    if dt == 2 and model.hidden_bias != "free":
        out.append("dual")
    if with_history:
        out.append("history")
    return out


def check_plottable(path: str, model: Model, n_features: int, with_history: bool = False) -> None:
    """Bad usage (exit 2, before any work) when no panel applies to this problem."""
    if not panels(model, n_features, with_history):
        raise InputError(f"--plot {path}: pictures need 1-D data, or 2-D data without a hidden bias "
                         f"(this data has {n_features} features, hidden bias {model.hidden_bias})")


def dual_point(net: Network, data: Dataset, model: Model) -> np.ndarray:
    """The certificate's dual point before scaling (docs/method.md section 5)."""
    loss = model.loss_fn
    lam = loss.gradient(predict(net, data.X), data.y)
    lo, hi = loss.dual_box(data.y)
    if model.effective_output_bias == "free":
        nu = project_domain_zero_sum(lam, lo, hi)
        z = exact_zero_sum(nu, lo, hi)
        return z if z is not None else np.zeros_like(lam)
    return np.clip(lam, lo, hi)


def dual_curve(net: Network, data: Dataset, model: Model, grid: int = DUAL_GRID):
    """(angles, |nu^T (Xt u)_+| / beta) on the unit circle of the two augmented coordinates."""
    Xt = model.augment(data.X)
    if Xt.shape[1] != 2:
        raise ValueError("the dual function is drawn for two augmented coordinates only")
    nu = dual_point(net, data, model)
    th = np.linspace(-math.pi, math.pi, grid + 1)
    U = np.vstack([np.cos(th), np.sin(th)])
    return th, np.abs(nu @ np.maximum(Xt @ U, 0.0)) / model.beta


def _function_panel(ax, net, data, model, witness=None):
    x = data.X[:, 0]
    lo, hi = float(x.min()), float(x.max())
    pad = 0.1 * (hi - lo) if hi > lo else 1.0
    grid = np.linspace(lo - pad, hi + pad, FUNCTION_GRID)
    ax.scatter(x, data.y, s=14, color="k", zorder=3, label="data")
    ax.plot(grid, predict(net, grid[:, None]), color="C0", lw=1.8, label="network")
    b = net.b if net.b is not None else np.zeros(net.n_neurons)
    u = net.U[0]
    active = np.abs(net.alpha) * np.abs(u) > KINK_TOL
    kinks = -b[active] / u[active]
    kinks = kinks[(kinks >= grid[0]) & (kinks <= grid[-1])]
    for i, k in enumerate(np.unique(kinks)):
        ax.axvline(k, color="C1", ls=":", lw=1, label="kinks" if i == 0 else None)
    if kinks.size:
        ax.plot(kinks, predict(net, kinks[:, None]), "o", color="C1", ms=5, zorder=4)
    if witness is not None:
        ax.plot(grid, predict(witness, grid[:, None]), color="C3", lw=1.4, ls="--", label="better network (witness)")
    ax.set_xlabel("x")
    ax.set_ylabel("y  /  network output" if model.loss == "squared" else "label  /  logit")
    ax.set_title("fitted function and its kinks")
    ax.legend(fontsize=8)


def _dual_panel(ax, net, data, model, M=None):
    th, f = dual_curve(net, data, model)
    ax.plot(th, f, color="C0", lw=1.4, label="|nu^T (Xt u)_+| / beta")
    ax.axhline(1.0, color="k", lw=1, label="1 (the constraint)")
    over = f > 1.0 + VIOLATION_SHADE_TOL
    ax.fill_between(th, 1.0, f, where=over, color="C3", alpha=0.35, label=f"violated (max {f.max():.7g})" if over.any() else None)
    if M is not None and np.isfinite(M):
        ax.axhline(M / model.beta, color="C2", ls="--", lw=1, label=f"certificate's max = {M / model.beta:.6g}")
    Ut = net.Ut()
    nz = (np.linalg.norm(Ut, axis=0) > 0) & (np.abs(net.alpha) > 0)
    if nz.any():
        ang = np.arctan2(Ut[1, nz], Ut[0, nz])
        V = np.vstack([np.cos(ang), np.sin(ang)])
        nu = dual_point(net, data, model)
        val = np.abs(nu @ np.maximum(model.augment(data.X) @ V, 0.0)) / model.beta
        ax.plot(ang, val, "v", color="C1", ms=7, label="neuron directions", zorder=4)
    ax.set_xlim(-math.pi, math.pi)
    ax.set_xticks([-math.pi, -math.pi / 2, 0, math.pi / 2, math.pi], ["-pi", "-pi/2", "0", "pi/2", "pi"])
    names = ("u1", "b") if model.has_hidden_bias else ("u1", "u2")
    ax.set_xlabel(f"angle of u = ({names[0]}, {names[1]}) on the unit circle")
    ax.set_ylabel("dual constraint / beta")
    ax.set_title("dual function: tight at 1 where neurons sit, > 1 where violated")
    ax.legend(fontsize=8)


def _history_panel(ax, d: dict):
    hist = d.get("history") or (d.get("pattern_search") or {}).get("history") or []
    pts = [h for h in hist if h.get("objective") is not None]
    if not pts:
        ax.text(0.5, 0.5, "no rounds recorded (one program solved)", ha="center", va="center",
                transform=ax.transAxes)
        ax.set_axis_off()
        return
    timed = all("seconds" in h for h in pts)
    t = np.array([h["seconds"] if timed else h.get("round", i) for i, h in enumerate(pts)], dtype=float)
    ax.plot(t, [h["objective"] for h in pts], "o-", color="C0", ms=4, label="objective")
    lbs = [h.get("lower_bound") for h in pts]
    if any(lb is not None for lb in lbs):
        best = np.maximum.accumulate([lb if lb is not None else -np.inf for lb in lbs])
        ok = np.isfinite(best)
        ax.plot(t[ok], best[ok], "s-", color="C2", ms=4, label="certified lower bound (best so far)")
    else:
        ax.set_title("objective per pattern-search round (no bound: sampled patterns)")
    if d.get("objective") is not None:
        ax.axhline(d["objective"], color="0.5", ls=":", lw=1, label="final objective")
    ax.set_xlabel("seconds" if timed else "round")
    ax.set_ylabel("objective L")
    if not ax.get_title():
        ax.set_title("objective and bound against time (column generation)")
    ax.legend(fontsize=8)


def _save(fig, out: str) -> None:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    try:
        atomic_write(out, lambda tmp: fig.savefig(tmp, dpi=DPI, format="png"), suffix=".png")
    finally:
        plt.close(fig)


def _figure(n: int):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, n, figsize=(6.2 * n, 4.4), squeeze=False)
    return fig, list(axes[0])


def plot_verify(out: str, net: Network, data: Dataset, model: Model, cert: dict,
                witness: Network | None = None) -> None:
    """The verify picture: fitted function and/or dual function (see the module docstring)."""
    kinds = panels(model, data.X.shape[1])
    fig, axes = _figure(len(kinds))
    for ax, kind in zip(axes, kinds):
        if kind == "function":
            _function_panel(ax, net, data, model, witness)
        else:
            _dual_panel(ax, net, data, model, (cert.get("dual") or {}).get("M"))
    gap = cert.get("relative_gap")
    fig.suptitle(f"verify: {cert.get('status')}  (objective {cert.get('objective'):.8g}, relative gap "
                 f"{gap:.2e})" if gap is not None else f"verify: {cert.get('status')}")
    _save(fig, out)


def plot_solve(out: str, net: Network, data: Dataset, model: Model, result: dict) -> None:
    """The solve picture: fitted function and/or dual function, and the objective/bound history."""
    kinds = panels(model, data.X.shape[1], with_history=True)
    fig, axes = _figure(len(kinds))
    for ax, kind in zip(axes, kinds):
        if kind == "function":
            _function_panel(ax, net, data, model)
        elif kind == "dual":
            _dual_panel(ax, net, data, model)
        else:
            _history_panel(ax, result)
    fig.suptitle(f"solve ({result.get('patterns')} patterns): objective {result.get('objective'):.8g}")
    _save(fig, out)
