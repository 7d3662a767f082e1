"""Issue 15, last part: the fixes that make solve and verify agree at real sizes.

* reductions.prune_tiny_neurons never moves the dual point the certificate starts from
  (a removal that keeps L within rounding but moves the predictions is refused);
* column generation's pricing ceiling (colgen._priced) never stops on a cell of its own
  working set, and column generation with the ceiling reaches the same optimum as without;
* column generation's history says what each round added and what came back after a drop,
  and a pattern that comes back is kept from then on (no cycling);
* solve keeps every block of a squared-loss program (solve.KEEP_BLOCKS_SQUARED): the network
  predicts exactly what the program's blocks predict;
* reductions.caratheodory_reduce keeps the constant neurons of a free hidden bias (u = 0,
  b != 0): without them the breast-cancer slice's squared free / none optimum lost its
  constant (L 12.697 -> 13.417) and was certified only after solve adopted verify's witness.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cvxrelu.colgen as colgen
from cvxrelu.arrangements import analyze
from cvxrelu.certificate import Status, verify
from cvxrelu.convex import block_predictions
from cvxrelu.model import Dataset, Model, Network, objective, penalty, predict, scaled
from cvxrelu.program import network_from_blocks, solve_program
from cvxrelu.reductions import PRUNE_DUAL_REL, caratheodory_reduce, dual_shift, prune_tiny_neurons
from cvxrelu.solve import solve


def _data(n, d, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = np.sin(2 * X[:, 0]) + (0.5 * X[:, 1] if d > 1 else 0.0) + 0.1 * rng.standard_normal(n)
    return Dataset(X, y)


def _split(net: Network, j: int, eps: float, model: Model) -> Network:
    """Neuron j split into a (1 - eps) and an eps part of the same direction: the same
    predictions and the same penalty (scaled form)."""
    Ut = net.Ut()
    a, b = np.sqrt(1.0 - eps), np.sqrt(eps)
    cols = np.hstack([Ut, b * Ut[:, j:j + 1]])
    cols[:, j] *= a
    alpha = np.append(net.alpha, b * net.alpha[j])
    alpha[j] *= a
    return Network.from_augmented(cols, alpha, model, net.c)


def test_pruning_does_not_move_the_dual_point_of_an_optimum():
    """A tiny split-off part of an optimal neuron changes L by O(eps^2) only (below the
    objective slack) but the predictions by O(eps): removing it would leave the network
    1e-7 away from the optimum in the dual, and verify could no longer certify it. The
    pruned network keeps its predictions, and verify still says optimal at tol 1e-8."""
    data = _data(40, 2)
    m = Model(beta=0.05, hidden_bias="penalized", output_bias="free")
    net = solve(data, m, tol=1e-9).network
    assert verify(net, data, m, tol=1e-8).status is Status.OPTIMAL
    j = int(np.argmax(np.abs(net.alpha)))
    noisy = _split(net, j, 1e-7, m)
    np.testing.assert_allclose(predict(noisy, data.X), predict(net, data.X), rtol=0, atol=1e-12)
    out = prune_tiny_neurons(noisy, data, m)
    shift = dual_shift(predict(out, data.X) - predict(noisy, data.X), data.X, m)
    assert shift <= PRUNE_DUAL_REL
    assert verify(out, data, m, tol=1e-8).status is Status.OPTIMAL
    # without the dual test (removal judged by L alone) the split-off part would go
    Ut = noisy.Ut()
    dropped = Network.from_augmented(Ut[:, :-1], noisy.alpha[:-1], m, noisy.c)
    assert abs(objective(dropped, data, m) - objective(noisy, data, m)) <= 1e-12 * objective(noisy, data, m)
    assert dual_shift(predict(dropped, data.X) - predict(noisy, data.X), data.X, m) > 100 * PRUNE_DUAL_REL


def test_dual_shift_bounds_the_change_of_the_dual_constraint():
    """dual_shift(dpred) * beta bounds |M(lam + dpred) - M(lam)| (exact M by enumeration)."""
    rng = np.random.default_rng(3)
    for hb in ("none", "penalized"):
        m = Model(beta=0.3, hidden_bias=hb)
        X = rng.standard_normal((14, 2))
        Xt = m.augment(X)
        lam = rng.standard_normal(14)
        d = 1e-3 * rng.standard_normal(14)
        M0, M1 = analyze(Xt, lam).M, analyze(Xt, lam + d).M
        assert abs(M1 - M0) <= dual_shift(d, X, m) * m.beta * (1 + 1e-9)


def test_pricing_ceiling_never_stops_on_a_cell_of_the_working_set():
    """With every cell in the working set, no value can exceed the ceiling's M_work term: the
    enumeration runs to the end (complete) and gives the exact M, even at a network far from
    optimal (where the ceiling of beta alone would stop at the first cell)."""
    data = _data(15, 2, seed=1)
    m = Model(beta=0.05, hidden_bias="penalized")
    Xt = m.augment(data.X)
    rng = np.random.default_rng(0)
    net = Network(U=rng.standard_normal((2, 3)), alpha=0.1 * rng.standard_normal(3), b=rng.standard_normal(3))
    everything = analyze(Xt, patterns=True).patterns
    L = objective(net, data, m)
    b = colgen._priced(net, data, m, L, everything)
    full = colgen._priced(net, data, m, L, None)
    assert b.complete and full.complete and b.M_raw == full.M_raw > m.beta
    # a working set without the maximizer's cell: the stop is at a cell outside the set
    own = (Xt @ full.argmax > 0)
    part = everything[~np.all(everything == own, axis=1)]
    s = colgen._priced(net, data, m, L, part)
    if not s.complete:
        assert not any(np.array_equal(row, Xt @ s.argmax > 0) for row in part)
        assert s.M_raw > m.beta


def _colgen_case(n, seed, hidden_bias="penalized"):
    """2-D data (penalized output bias, ``hidden_bias``) and the restricted programs' network (every block kept)."""
    data = _data(n, 2, seed=seed)
    m = Model(beta=0.05, hidden_bias=hidden_bias, output_bias="penalized")
    Xt = m.augment(data.X)

    def on_patterns(P):
        sol = solve_program(Xt, data.y, P[P.any(axis=1)], m)
        return network_from_blocks(sol.W, sol.V, sol.c, m, 0.0)

    return data, m, on_patterns


@pytest.mark.parametrize("hb", ["none", "penalized"])
def test_column_generation_with_and_without_the_ceiling_agree(hb):
    data, m, on_patterns = _colgen_case(30, seed=2, hidden_bias=hb)
    a = colgen.column_generation(data, m, on_patterns, tol=1e-9, ceiling=True)
    b = colgen.column_generation(data, m, on_patterns, tol=1e-9, ceiling=False)
    assert a.objective == pytest.approx(b.objective, rel=1e-8)
    assert a.relative_gap <= 1e-7 and b.relative_gap <= 1e-7
    assert a.history[-1]["complete"] and all("added" in h and "returned" in h for h in a.history)


def test_squared_loss_networks_keep_every_block(monkeypatch):
    """With the face polish failing (as at n = 400), the network column generation gets
    predicts exactly what the program's blocks predict (every block kept), so its gradient is
    the program's own dual point."""
    import cvxrelu.solvers.ipm_program as ipm_program

    monkeypatch.setattr(ipm_program, "polished", lambda sol, *a, **k: sol)
    data = _data(60, 2, seed=4)
    m = Model(beta=0.05, hidden_bias="penalized", output_bias="penalized")
    Xt = m.augment(data.X)
    seen = []
    real = colgen.column_generation

    def spy(data_, model_, solve_on_patterns, **kw):
        def wrapped(P, hints=None):
            net = solve_on_patterns(P, hints)
            sol = solve_program(Xt, data.y, P[P.any(axis=1)], m, hints=None)
            seen.append((net, sol, P[P.any(axis=1)]))
            return net
        return real(data_, model_, wrapped, **kw)

    import cvxrelu.solve as solve_mod

    monkeypatch.setattr(solve_mod, "column_generation", spy)
    res = solve(data, m)
    assert res.status is Status.OPTIMAL
    net, sol, P = seen[-1]
    blocks = block_predictions(Xt, P, sol.W, sol.V) + sol.c
    assert np.max(np.abs(predict(net, data.X) - blocks)) <= 1e-12 * max(1.0, np.max(np.abs(blocks)))


def _best_gaps(history):
    """The best relative gap (certificate.relative of the best objective and bound so far)
    after each round of a column-generation history."""
    from cvxrelu.certificate import relative

    out, L, lb = [], np.inf, -np.inf
    for h in history:
        L, lb = min(L, h["objective"]), max(lb, h["lower_bound"])
        out.append(relative(L - lb, L))
    return out


@pytest.mark.parametrize("key,rounds", [("stall_gap", "STALL_ROUNDS"), ("stall_gap_long", "STALL_LONG_ROUNDS")])
def test_column_generation_stops_when_its_gap_stalls(key, rounds, monkeypatch):
    """With a tolerance no solver reaches (0), column generation given ``stall_gap`` (or
    ``stall_gap_long``) ends "stalled" at the first round where the best gap is at most it and
    has not halved over STALL_ROUNDS (STALL_LONG_ROUNDS) rounds; the network it returns is the
    best of its rounds, and verify certifies it at a tolerance above that gap.

    The gap of this case levels off near 1.6e-9 (the restricted programs' accuracy), where
    pricing soon has nothing new to add and the rounds end "nothing new" first. Here each round
    also adds the pattern of one random direction (a real cell: more columns never hurt the
    program), so that only the stall rule can end the rounds."""
    data, m, on_patterns = _colgen_case(120, seed=1)
    stall = 1e-8
    real = colgen._neighbour_patterns
    extra = np.random.default_rng(0)
    Xt = m.augment(data.X)

    def with_a_random_pattern(*a, **kw):
        P = real(*a, **kw)
        return np.vstack([P, (Xt @ extra.standard_normal(Xt.shape[1]) > 0)[None, :]])

    monkeypatch.setattr(colgen, "_neighbour_patterns", with_a_random_pattern)
    cg = colgen.column_generation(data, m, on_patterns, tol=0.0, **{key: stall})
    assert cg.stopped == "stalled"
    g = _best_gaps(cg.history)
    k, r = getattr(colgen, rounds), colgen.STALL_FACTOR

    def stalled(i):
        return i >= k and g[i] <= stall and g[i] > r * g[i - k]

    assert stalled(len(g) - 1) and not any(stalled(i) for i in range(len(g) - 1))
    assert cg.relative_gap == g[-1] <= stall
    assert objective(cg.network, data, m) == cg.objective == min(h["objective"] for h in cg.history)
    assert verify(cg.network, data, m, tol=1e-6).status is Status.OPTIMAL


def test_column_generation_never_stalls_above_the_stall_gap():
    """A stall gap below every gap reached never ends the rounds: column generation ends on
    its tolerance, a dual point without violation, or nothing new to add."""
    data, m, on_patterns = _colgen_case(40, seed=5)
    cg = colgen.column_generation(data, m, on_patterns, tol=1e-9, stall_gap=1e-300)
    assert cg.stopped in ("gap", "no violation", "nothing new")
    assert min(_best_gaps(cg.history)) > 1e-300


def test_solve_says_why_column_generation_stopped():
    data = _data(40, 2, seed=5)
    m = Model(beta=0.05, hidden_bias="penalized", output_bias="penalized")
    res = solve(data, m)
    assert res.status is Status.OPTIMAL
    assert res.to_dict()["colgen_stopped"] in ("gap", "no violation", "stalled", "nothing new", "max rounds")


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10**6), n=st.integers(2, 8), extra=st.integers(1, 8), k=st.integers(1, 3),
       output_bias=st.sampled_from(["none", "penalized", "free"]))
def test_caratheodory_keeps_the_constant_neurons_of_a_free_hidden_bias(seed, n, extra, k, output_bias):
    """More than n + 1 neurons, k of them constants (u = 0, b != 0: alpha relu(b) on every
    sample, norm 0 under a free hidden bias): the reduction keeps the predictions (the
    constants included) and the penalty, with at most n + 1 neurons besides the constants."""
    rng = np.random.default_rng(seed)
    d = 2
    X = rng.standard_normal((n, d))
    m = Model(beta=0.3, hidden_bias="free", output_bias=output_bias)
    w = n + 1 + extra + k
    U, b = rng.standard_normal((d, w)), rng.standard_normal(w)
    U[:, :k] = 0.0
    b[:k] = np.abs(b[:k]) + 1.0  # relu(b) > 0: a non-zero constant on every sample
    net = scaled(Network(U=U, alpha=rng.standard_normal(w), b=b, c=0.5 if output_bias != "none" else None), m)
    red = caratheodory_reduce(net, X, m)
    p, q = predict(net, X), predict(red, X)
    np.testing.assert_allclose(q, p, rtol=0, atol=1e-9 * (1 + np.abs(p).max()))
    assert penalty(red, m) <= penalty(net, m) * (1 + 1e-9) + 1e-12
    assert np.count_nonzero((red.alpha != 0) & np.any(red.U != 0, axis=0)) <= n + 1


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10**6), n=st.integers(2, 8), extra=st.integers(1, 8), tiny=st.floats(1e-12, 1e-8))
def test_caratheodory_keeps_predictions_with_nearly_constant_neurons(seed, n, extra, tiny):
    """Interior-point leftovers of a free hidden bias: neurons with |u| ~ 1e-10 and b ~ 1
    (nearly constant, the atom relu(Xt ut / N) of size |b| / N ~ 1e10 after scaling). The
    reduction keeps the predictions to rounding (the unscaled null vector moved them by 5e-3 on
    the breast-cancer slice) and the penalty."""
    rng = np.random.default_rng(seed)
    d = 2
    X = rng.standard_normal((n, d))
    m = Model(beta=0.1, hidden_bias="free", output_bias="penalized")
    w = n + 1 + extra + 2
    U, b = rng.standard_normal((d, w)), rng.standard_normal(w)
    U[:, :2] *= tiny
    b[:2] = np.abs(b[:2]) + 1.0
    net = scaled(Network(U=U, alpha=rng.standard_normal(w), b=b, c=0.5), m)
    red = caratheodory_reduce(net, X, m)
    p, q = predict(net, X), predict(red, X)
    np.testing.assert_allclose(q, p, rtol=0, atol=1e-9 * (1 + np.abs(p).max()))
    assert penalty(red, m) <= penalty(net, m) * (1 + 1e-9) + 1e-12
