"""Reductions of a network that keep its objective: minimal form, pruning, merging, width.

Each function returns a network whose objective L is no higher than its input's (a step that
would raise L is not taken): the Caratheodory reduction to at most n + 1 active neurons
(docs/method.md section 7), removal of interior-point leftovers, merging of neurons that share
a cone, kink snapping for 1-D data, and padding or reduction to an exact width.
"""

from __future__ import annotations

import numpy as np

from .errors import InputError
from .model import Dataset, Model, Network, merged, objective, penalty, predict, scaled

#: Neurons this small relative to the largest are candidates for removal (prune_tiny_neurons).
PRUNE_REL = 1e-4
#: A removal or move of the constant is kept when L rises by at most this, relative to
#: max(1, |L|) of the input network (far below solve's column-generation tolerance 1e-9 and
#: verify's tolerances): it removes interior-point leftovers whose effect is pure rounding.
OBJECTIVE_SLACK_REL = 1e-12
#: ... and, unless it lowers L by more than PRUNE_GAIN_REL (relative, as above), only when it
#: moves the dual constraint by at most PRUNE_DUAL_REL of beta (``dual_shift``, all removals
#: together): far below verify's default tolerance 1e-6, so that pruning never costs the
#: certificate of an optimal network.
PRUNE_DUAL_REL = 1e-8
PRUNE_GAIN_REL = 1e-10
#: No output constant but a free hidden bias: the constant is carried by one bias neuron
#: (u = 0, b = B, alpha = const / B) with B the smallest power of two (exact product) of at
#: least CONSTANT_BIAS * max(1, |const|): its penalty beta/2 alpha^2 <= beta/2 * 1e-12. The
#: infimum (alpha -> 0) is not attained: this is the documented clean form (docs/method.md
#: section 7).
CONSTANT_BIAS = 1e6
#: caratheodory_reduce keeps its reduced network only when the predictions moved by at most
#: this (relative to beta, ``dual_shift``, as for pruning) and the penalty did not rise beyond
#: OBJECTIVE_SLACK_REL; otherwise it returns its (rescaled) input unchanged.
CARATHEODORY_DUAL_REL = 1e-8


def _slack(L: float) -> float:
    return OBJECTIVE_SLACK_REL * max(1.0, abs(L))


def live_neurons(net: Network) -> np.ndarray:
    """(m,) bool: neurons that can change a prediction (alpha != 0 and a non-zero (u, b))."""
    Ut = net.Ut()
    return (net.alpha != 0) & np.any(Ut != 0, axis=0) if net.n_neurons else np.zeros(0, dtype=bool)


def constant_to_c(net: Network, data: Dataset, model: Model) -> Network:
    """Constants carried by neurons (u = 0, b > 0: alpha relu(b) on every sample) go into c.

    With an output constant (output bias "free", or "penalized" when that does not raise L
    beyond OBJECTIVE_SLACK_REL) the constant neurons are removed and their sum is added to c.
    Otherwise, with a free hidden bias, they become one bias neuron in the clean form of
    CONSTANT_BIAS (alpha = const / B, B a power of two); with a penalized hidden bias they
    stay (they are proper neurons). Zero neurons (alpha = 0 or (u, b) = 0) are dropped. L
    never rises beyond OBJECTIVE_SLACK_REL.
    """
    if net.n_neurons == 0:
        return net
    L0 = objective(net, data, model)
    live = live_neurons(net)
    if net.b is not None:
        const_j = live & np.all(net.U == 0, axis=0)
    else:
        const_j = np.zeros(net.n_neurons, dtype=bool)
    Ut = net.Ut()
    keep = live & ~const_j
    K = float(np.sum(net.alpha[const_j] * np.maximum(net.b[const_j], 0.0))) if const_j.any() else 0.0
    cands = []
    if const_j.any() and model.output_bias != "none":
        cands.append(Network.from_augmented(Ut[:, keep], net.alpha[keep], model, (net.c or 0.0) + K))
    if const_j.any() and model.hidden_bias == "free":
        cols, al = Ut[:, keep], net.alpha[keep]
        if K != 0.0:
            B = 2.0 ** int(np.ceil(np.log2(CONSTANT_BIAS * max(1.0, abs(K)))))
            u = np.zeros((Ut.shape[0], 1))
            u[-1, 0] = B
            cols, al = np.hstack([cols, u]), np.append(al, K / B)
        cands.append(Network.from_augmented(cols, al, model, net.c))
    # always: the input without its zero neurons (same predictions and penalty)
    cands.append(Network.from_augmented(Ut[:, live], net.alpha[live], model, net.c))
    for cand in cands:
        if objective(cand, data, model) <= L0 + _slack(L0):
            return cand
    return net


def caratheodory_reduce(net: Network, X: np.ndarray, model: Model) -> Network:
    """At most n + 1 neurons with the same predictions and penalty (Lemma 1, Prop. 6).

    With scaled neurons t_j = |alpha_j| N(ut_j) and atoms a_j = sign(alpha_j) relu(Xt ut_j / N(ut_j)),
    predictions are sum t_j a_j and the penalty beta sum t_j. While more than n + 1 atoms are
    used, [a_j; 1] are dependent: moving t along a null vector keeps both, until a t_j hits 0.

    Neurons of norm N = 0 but a non-zero bias (a free hidden bias: u = 0, alpha relu(b) on every
    sample, no penalty) are no atoms: they are kept as they are (with no output constant they
    carry the network's constant; dropping them moved the predictions of the breast-cancer
    slice's squared free / none optimum by its constant and raised L by 5.7%).

    The null vectors are those of [a_j; 1] with unit columns: a free hidden bias's interior-point
    leftovers have N ~ 1e-10 and |b| / N up to 1e19, and the unscaled SVD's null vector then
    moved the predictions by 5e-3 (L up by 1.8e-4 relative, breast-cancer slice). The result is
    kept only when the predictions moved by at most CARATHEODORY_DUAL_REL (``dual_shift``) and
    the penalty did not rise; else the rescaled input is returned.
    """

    net = scaled(net, model)
    Xt = model.augment(X)
    Ut = net.Ut()
    N = model.neuron_norm(Ut)
    live = np.flatnonzero((net.alpha != 0) & (N > 0))
    constants = np.flatnonzero((net.alpha != 0) & (N == 0) & np.any(Ut != 0, axis=0))
    n = X.shape[0]
    if live.size <= n + 1:
        return net
    t = np.abs(net.alpha[live]) * N[live]
    unit = Ut[:, live] / N[live][None, :]
    A = np.sign(net.alpha[live])[None, :] * np.maximum(Xt @ unit, 0.0)  # neuron j = t_j * A[:, j]
    act = np.ones(live.size, dtype=bool)
    while act.sum() > n + 1:
        idx = np.flatnonzero(act)
        K = np.vstack([A[:, idx], np.ones((1, idx.size))])
        scale = np.linalg.norm(K, axis=0)  # >= 1 (the row of ones)
        c = np.linalg.svd(K / scale[None, :])[2][-1] / scale
        if not np.any(c > 0):
            c = -c
        ratio = np.where(c > 0, t[idx] / np.where(c > 0, c, 1), np.inf)
        j = int(np.argmin(ratio))
        t[idx] = t[idx] - ratio[j] * c
        t[idx[j]] = 0.0
        t = np.maximum(t, 0.0)
        act = t > 0
    keep = live[act]
    tk = t[act]
    u = Ut[:, keep] / N[keep][None, :]
    Ut_new = u * np.sqrt(tk)[None, :]
    alpha_new = np.sign(net.alpha[keep]) * np.sqrt(tk)
    out = Network.from_augmented(np.hstack([Ut_new, Ut[:, constants]]),
                                 np.concatenate([alpha_new, net.alpha[constants]]), model, net.c)
    p0, p1 = penalty(net, model), penalty(out, model)
    if (dual_shift(predict(out, X) - predict(net, X), X, model) > CARATHEODORY_DUAL_REL
            or p1 > p0 + OBJECTIVE_SLACK_REL * max(1.0, p0)):
        return net
    return out


def prune_tiny_neurons(net: Network, data: Dataset, model: Model) -> Network:
    """Drop neurons of size |alpha_j| N(ut_j) <= PRUNE_REL * the largest (and neurons inactive on
    every sample), one at a time, smallest first, whenever L stays within OBJECTIVE_SLACK_REL
    of the input's and either L drops by more than PRUNE_GAIN_REL or the dual point moves by
    at most PRUNE_DUAL_REL (``dual_shift``).

    An interior-point solution leaves blocks that are zero at the optimum at a small non-zero
    size (about the solver's tolerance); their dual constraints are slack, so removing them
    lowers the penalty by more than it changes the loss. The objective is re-evaluated for every
    removal: the result is never worse than the input by more than OBJECTIVE_SLACK_REL.

    Near an optimum the objective is flat (removing a neuron of relative size s changes L by
    O(s^2)) but the loss gradient, the dual point the certificate starts from, moves by O(s):
    at n = 400 a removal that changed L by 1e-12 moved the predictions by 5e-7 and the dual
    constraint M / beta from 1 + 6e-6 to 1.0012, so the certificate of the pruned network no
    longer closed. A removal that does not lower L clearly is therefore kept only when it
    moves the predictions (all removals so far together) by a shift the dual constraint
    absorbs (``dual_shift``).
    """
    N = model.neuron_norm(net.Ut()) * np.abs(net.alpha)
    if N.size == 0:
        return net
    Xt = model.augment(data.X)
    dead = ~np.any(Xt @ net.Ut() > 0, axis=0)  # relu(Xt ut) = 0 on every sample
    cand = [int(j) for j in np.argsort(N) if 0 < N[j] and (N[j] <= PRUNE_REL * N.max() or dead[j])]
    if not cand:
        return net
    keep = np.ones(net.n_neurons, dtype=bool)
    L0 = objective(net, data, model)
    Ut = net.Ut()
    p0 = predict(net, data.X)
    gain = PRUNE_GAIN_REL * max(1.0, abs(L0))
    for j in cand:
        keep[j] = False
        trial = Network.from_augmented(Ut[:, keep], net.alpha[keep], model, net.c)
        L = objective(trial, data, model)
        ok = L <= L0 + _slack(L0) and (
            L < L0 - gain or dual_shift(predict(trial, data.X) - p0, data.X, model) <= PRUNE_DUAL_REL)
        if not ok:
            keep[j] = True
    return Network.from_augmented(Ut[:, keep], net.alpha[keep], model, net.c)


def dual_shift(dpred: np.ndarray, X: np.ndarray, model: Model) -> float:
    """A bound on how far a change ``dpred`` of the predictions moves the dual constraint
    M(grad loss) (lower_bound.py), relative to beta: sum_k |dpred_k| R_k / beta with R_k the
    Lipschitz radius of M in coordinate k (||xt_k||, or 2 max ||x_k|| with a free hidden bias)
    and the losses' gradients 1-Lipschitz in the prediction (squared: 1, logistic: 1/4)."""
    if model.hidden_bias == "free":
        R = 2.0 * float(np.max(np.linalg.norm(X, axis=1), initial=0.0))
        total = R * float(np.sum(np.abs(dpred)))
    else:
        total = float(np.abs(dpred) @ np.linalg.norm(model.augment(X), axis=1))
    return total / model.beta


def merge_cones(net: Network, data: Dataset, model: Model) -> Network:
    """One neuron per cone (paper Prop. 1), kept only if the objective does not rise.

    Blocks of different patterns can meet on a shared face (in 1-D the optimal kinks sit at data
    points): docs/method.md eq. (7.1) then gives parallel neurons of one cone, a non-minimal network.
    """

    mg = merged(scaled(net, model), model.augment(data.X), model)
    if mg.n_neurons < net.n_neurons and objective(mg, data, model) <= objective(net, data, model):
        return mg
    return net


def snap_kinks_1d(net: Network, X: np.ndarray, model: Model) -> Network:
    """1-D data, free hidden bias: move every kink -b/u onto a data point (Ergen & Pilanci, Cor. 3.2).

    On the data, relu(u (x - t)) with x_lo < t < x_hi (consecutive data points) equals
    lam relu(u (x - x_lo)) + (1 - lam) relu(u (x - x_hi)), lam = (x_hi - t) / (x_hi - x_lo), and the
    scaled penalty |alpha| |u| splits the same way: the optimum is not unique there, and this
    picks its extreme points. A kink beyond the data on the neuron's active side is moved to the
    extreme data point; the constant it leaves goes to the free output constant (c, or a bias
    neuron when the output bias is "none"). Neurons of one cone are merged afterwards.
    """

    if X.shape[1] != 1 or model.hidden_bias != "free" or net.n_neurons == 0:
        return net
    net = scaled(net, model)
    xs = np.unique(X[:, 0])
    U, b, alpha = net.U[0], net.b, net.alpha
    cols_u, cols_b, al = [], [], []
    const = 0.0
    for u, bj, a in zip(U, b, alpha):
        if u == 0 or a == 0:
            cols_u.append(u), cols_b.append(bj), al.append(a)
            continue
        t = -bj / u
        k = int(np.searchsorted(xs, t))
        if k < xs.size and xs[k] == t:
            cols_u.append(u), cols_b.append(bj), al.append(a)
        elif 0 < k < xs.size:
            lo, hi = xs[k - 1], xs[k]
            lam = (hi - t) / (hi - lo)
            for tt, w in ((lo, lam), (hi, 1.0 - lam)):
                cols_u.append(u), cols_b.append(-u * tt), al.append(a * w)
        elif (k == 0 and u > 0) or (k == xs.size and u < 0):  # active on every data point
            tt = xs[0] if k == 0 else xs[-1]
            cols_u.append(u), cols_b.append(-u * tt), al.append(a)
            const += a * u * (tt - t)
        else:  # inactive on every data point: contributes nothing
            continue
    c = net.c
    if const != 0.0:
        if model.output_bias == "free":
            c = (c or 0.0) + const
        else:
            B = 1e4 * max(1.0, abs(const))
            cols_u.append(0.0), cols_b.append(B), al.append(const / B)
    out = Network(U=np.array(cols_u)[None, :], alpha=np.array(al), b=np.array(cols_b), c=c)
    return merged(scaled(out, model), model.augment(X), model)


def set_width(net: Network, width: int | None, model: Model) -> Network:
    """Exactly ``width`` neurons: pad with zero neurons, or split the largest (Thm. 1)."""
    if width is None:
        return net
    live = np.flatnonzero(net.alpha != 0)
    if width < live.size:
        raise InputError(
            f"--width {width} is too small: the optimal network needs {live.size} neurons"
        )
    Ut, alpha = net.Ut()[:, live], net.alpha[live]
    cols, al = [Ut[:, j] for j in range(live.size)], list(alpha)
    if live.size and width > live.size:
        # splitting a neuron into (u sqrt(g), alpha sqrt(g)) pieces keeps L: do it to fill width
        j = int(np.argmax(np.abs(alpha)))
        extra = width - live.size
        g = 1.0 / (extra + 1)
        cols[j], al[j] = Ut[:, j] * np.sqrt(g), alpha[j] * np.sqrt(g)
        for _ in range(extra):
            cols.append(Ut[:, j] * np.sqrt(g))
            al.append(alpha[j] * np.sqrt(g))
    while len(al) < width:
        cols.append(np.zeros(Ut.shape[0]))
        al.append(0.0)
    return Network.from_augmented(np.array(cols).T.reshape(Ut.shape[0], -1), np.array(al), model, net.c)
