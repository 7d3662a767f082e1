"""Witnesses: strictly better networks that prove a given network suboptimal (docs/method.md section 6).

Every candidate is evaluated with the true objective L and accepted only when it is below L of
the given network by more than both rounding bounds; a failing route yields no witness, never a
verdict.
"""

from __future__ import annotations

import math

import numpy as np

from .dual import DualBound
from .improve import improve_on_patterns
from .model import hidden, merged, objective, objective_error_bound, predict, replace_c, scaled, with_neuron

#: The subsampled convex program (improve_on_patterns, an interior-point solve over
#: n x patterns cone rows: 18 s of CPU at n = 100 000, 8 neurons, against 0.2 s for the exact
#: bound) runs only when no cheaper route already gives a witness, or when it is small:
#: samples x (neurons + 1) at most this many entries.
PROGRAM_ENTRIES = 200_000


def line_search_neuron(net, data, model, u, sign, L0):
    """Best of theta + (sqrt(eps) u, -sign sqrt(eps)) over a geometric grid of eps."""
    best = None
    Nu = float(model.neuron_norm(u[:, None])[0])
    if Nu <= 0:
        return None
    u = u / Nu
    for eps in np.geomspace(1e-8, 1e2, 41) * max(1.0, abs(L0)) / model.beta:
        cand = with_neuron(net, math.sqrt(eps) * u, -sign * math.sqrt(eps), model)
        val = objective(cand, data, model)
        if np.isfinite(val) and (best is None or val < best[0]):
            best = (val, cand)
    return best


def best_output_bias(net, data, model):
    """theta with its output bias c re-optimized (1-D Newton on a convex function)."""
    if model.output_bias == "none" or net.c is None:
        return None
    c = float(net.c)
    pen = model.beta if model.output_bias == "penalized" else 0.0
    base = predict(replace_c(net, 0.0), data.X)
    loss = model.loss_fn
    for _ in range(50):
        z = base + c
        grad = float(np.sum(loss.gradient(z, data.y))) + pen * c
        h = 1e-6 * max(1.0, abs(c))
        curv = (float(np.sum(loss.gradient(z + h, data.y))) - float(np.sum(loss.gradient(z - h, data.y)))) / (2 * h) + pen
        if curv <= 0 or not np.isfinite(curv):
            break
        step = grad / curv
        c -= step
        if abs(step) <= 1e-15 * max(1.0, abs(c)):
            break
    return replace_c(net, c)


def refit_output_weights(net, data, model):
    """Squared loss: theta with alpha re-optimized for fixed hidden weights and output bias
    (ridge regression, (Phi^T Phi + beta I) alpha = Phi^T (y - c), O(n m^2)), then rescaled."""
    if model.loss != "squared" or net.n_neurons == 0:
        return None
    Phi = np.maximum(hidden(net, data.X), 0.0)
    target = data.y - (net.c if net.c is not None else 0.0)
    A = Phi.T @ Phi + model.beta * np.eye(net.n_neurons)
    try:
        alpha = np.linalg.solve(A, Phi.T @ target)
    except np.linalg.LinAlgError:
        return None
    if not np.all(np.isfinite(alpha)):
        return None
    return scaled(type(net)(net.U, alpha, net.b, net.c), model)


def find_witness(net, data, model, bound: DualBound, L0: float, err0: float, Xt, errors: list | None = None,
                 program: bool = True):
    """Candidate better networks (docs/method.md section 6); returns (kind, network, objective) or None.

    Failures of a route (e.g. the subsampled program's solver) are appended to ``errors``: they
    only mean no witness from that route, never a verdict. ``program=False`` leaves out the
    convex program on the network's patterns (the one route whose time grows with the data;
    verify's bounded mode gets it from cvxrelu.refute instead, with the violated patterns).
    """
    errors = [] if errors is None else errors
    cands = []
    sc = scaled(net, model)
    cands.append(("rescaled neurons", sc))
    mg = merged(sc, Xt, model)
    cands.append(("merged neurons of one cone (Prop. 1)", mg))
    cb = best_output_bias(mg, data, model)
    if cb is not None:
        cands.append(("re-optimized output bias", cb))
    if bound.argmax is not None and bound.M_raw > model.beta:
        r = line_search_neuron(mg, data, model, bound.argmax, bound.argmax_sign, L0)
        if r is not None:
            cands.append(("added neuron along a violated dual constraint", r[1]))
    rf = refit_output_weights(mg, data, model)
    if rf is not None:
        cands.append(("refitted output weights", rf))
    best = _best_of(cands, data, model, L0, err0)
    if best is not None and data.n_samples * (net.n_neurons + 1) > PROGRAM_ENTRIES:
        return best  # a witness already; the program would cost far more than the bound
    extra = None if bound.argmax is None else bound.argmax
    better = None
    try:
        if program:
            better = improve_on_patterns(mg, data, model, extra_direction=extra)
    except Exception as exc:  # noqa: BLE001 - a failure here only means no witness from this route
        errors.append(f"{type(exc).__name__}: {exc}")
    if better is not None:
        cands.append(("convex program on the network's patterns (Thm. 3)", better))
    return _best_of(cands, data, model, L0, err0)


def _best_of(cands, data, model, L0, err0):
    """The candidate with the lowest objective among those below L0 by more than both
    rounding bounds, as (kind, network, objective), or None."""
    best = None
    for kind, cand in cands:
        val = objective(cand, data, model)
        if not np.isfinite(val):
            continue
        err = objective_error_bound(cand, data, model)
        if val + err < L0 - err0 and (best is None or val < best[2]):
            best = (kind, cand, float(val))
    return best


