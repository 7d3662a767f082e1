"""The pattern search at large n (search.py): pricing in worker processes gives the same result
as in this process, and the programs warm-started by the previous solution's neurons (their
row screening starts from the rows nearest them) reach the same optimum as cold solves."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import cvxrelu.search as search
from cvxrelu.model import Dataset, Model, objective
from cvxrelu.program import network_from_blocks, solve_program
from cvxrelu.search import SEARCH_CHUNK, PatternHints, ascent_starts, pattern_search, violated_patterns
from cvxrelu.solve import solve
from cvxrelu.program import SCREEN_MIN_ROWS


def planted(seed, n, d, k=3, noise=0.1):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = np.maximum(X @ rng.standard_normal((d, k)), 0) @ rng.standard_normal(k) + noise * rng.standard_normal(n)
    return X, y


def _pricing_inputs(seed, n=300, d=4, width=12):
    X, y = planted(seed, n, d)
    model = Model(beta=0.05 * n / 60)
    data = Dataset(X, y)
    net = search.train_gradient(data, model, width, seed=seed, iters=50)
    Xt = model.augment(X)
    lam = model.loss_fn.gradient(search.predict(net, X), y)
    starts = ascent_starts(Xt, net, np.random.default_rng(seed))
    return Xt, lam, model, starts


@pytest.mark.parametrize("seed", [0, 3])
def test_parallel_pricing_is_bit_identical(seed):
    """violated_patterns on 2 worker processes: the same patterns, directions and ratio (bit for
    bit) as in this process; the starts span several SEARCH_CHUNK tasks per sign."""
    Xt, lam, model, starts = _pricing_inputs(seed)
    assert starts.shape[1] > 2 * SEARCH_CHUNK
    out = []
    for jobs in (1, 2):
        dirs = []
        found, ratio = violated_patterns(Xt, lam, model, starts.copy(), set(), directions=dirs, jobs=jobs)
        out.append((found, ratio, dirs))
    (f1, r1, d1), (f2, r2, d2) = out
    assert f1, "the instance must have violated constraints for the test to mean anything"
    assert r1 == r2
    assert len(f1) == len(f2) and all(np.array_equal(a, b) for a, b in zip(f1, f2))
    assert all(np.array_equal(a, b) for a, b in zip(d1, d2))


def test_chunked_ascent_matches_each_start_alone():
    """The chunks are independent: a start's ascent does not depend on the other starts."""
    Xt, lam, model, starts = _pricing_inputs(1, n=120, d=3)
    U, f = search.ascend(Xt, lam, starts.copy())
    for j in (0, 7, starts.shape[1] - 1):
        u1, f1 = search.ascend(Xt, lam, starts[:, j:j + 1].copy())
        np.testing.assert_allclose(u1[:, 0], U[:, j], rtol=1e-12, atol=1e-14)
        assert f1[0] == pytest.approx(f[j], rel=1e-12, abs=1e-14)


def test_solve_with_jobs_is_the_same_network():
    """solve(..., jobs=2) writes the network solve(..., jobs=1) writes."""
    X, y = planted(4, 70, 3)
    data, model = Dataset(X, y), Model(beta=0.05)
    a = solve(data, model, patterns=20, seed=1, search_rounds=1, jobs=1, time_limit=5)
    b = solve(data, model, patterns=20, seed=1, search_rounds=1, jobs=2, time_limit=5)
    assert a.objective == b.objective
    assert np.array_equal(a.network.U, b.network.U) and np.array_equal(a.network.alpha, b.network.alpha)
    assert a.extra["pattern_search"]["sources"] == b.extra["pattern_search"]["sources"]


def _record_search(seed, refresh, monkeypatch, n=SCREEN_MIN_ROWS + 40, d=3, p=20):
    """Every (patterns, hints, objective) the search's programs were solved with (screened)."""
    monkeypatch.setattr(search, "REFRESH_HINTS", refresh)
    X, y = planted(seed, n, d)
    model = Model(beta=1e-3 * n)
    Xt = model.augment(X)
    from cvxrelu.arrangements import sample_patterns

    P, G = sample_patterns(Xt, p, seed, return_directions=True)
    keep = P.any(axis=1)
    P, G = P[keep], G[keep]
    calls = []

    def solve_on(Q, H):
        sol = solve_program(Xt, y, Q, model, solver="ipm", hints=H)
        assert "screening" in sol.solver_info
        net = network_from_blocks(sol.W, sol.V, sol.c, model, 1e-9)
        calls.append((Q.copy(), H.copy(), objective(net, Dataset(X, y), model), sol.solver_info))
        return net, sol.used_patterns(1e-9)

    monkeypatch.setattr(search, "WARM_ITERS", 300)
    pattern_search(Dataset(X, y), model, P, solve_on, hints=G, seed=seed, max_rounds=3)
    return X, y, model, calls


@pytest.mark.parametrize("seed", [0, 1])
def test_warm_started_programs_reach_the_cold_optimum(seed, monkeypatch):
    """Each program of the search, screened from the previous solution's neurons (the warm
    start), has the optimum of the same program solved cold (unscreened): to 1e-8 relative.
    The hints are in (the closure of) their patterns' cells."""
    X, y, model, calls = _record_search(seed, True, monkeypatch)
    assert len(calls) >= 2, "the search must run dual-guided rounds for the warm start to be used"
    data, Xt = Dataset(X, y), model.augment(X)
    for Q, H, L, info in calls[1:]:
        cold = solve_program(Xt, y, Q, model, solver="ipm")
        Lc = objective(network_from_blocks(cold.W, cold.V, cold.c, model, 1e-9), data, model)
        # both polished: full precision; otherwise the interior point's own accuracy (it stops at
        # feasibility TOL_FEAS = 1e-8; seen: 1.01e-8 where the polish declined the warm solution)
        both = info.get("polished") and cold.solver_info.get("polished")
        assert L == pytest.approx(Lc, rel=1e-8 if both else 5e-8)
        S = np.where(Q, 1.0, -1.0)
        assert np.all(S * (H @ Xt.T) >= -1e-9 * np.linalg.norm(H, axis=1)[:, None] * np.linalg.norm(Xt, axis=1))


def test_renote_neurons_replaces_only_the_neurons_patterns():
    rng = np.random.default_rng(0)
    Xt = np.hstack([rng.standard_normal((40, 2)), np.ones((40, 1))])
    book = PatternHints(3)
    U = rng.standard_normal((3, 4))
    Q = (Xt @ U > 0).T
    book.note(Q, -np.ones((4, 3)))  # placeholders, not in the cells
    other = ~Q[0]
    book.note([other], [np.full(3, 7.0)])
    book.renote_neurons(Xt, np.hstack([U, np.zeros((3, 1))]))  # a dead neuron is skipped
    np.testing.assert_array_equal(book.of(Q), U.T)
    np.testing.assert_array_equal(book.of([other]), [np.full(3, 7.0)])


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000))
def test_hint_choice_never_changes_the_screened_optimum(seed):
    """Property: whatever direction in its cell each pattern is screened from (a sampled
    generator, or another point of the cell such as a neuron of an earlier solution), the
    screened interior point reaches the unscreened optimum (1e-8 relative)."""
    rng = np.random.default_rng(seed)
    n, d, p = SCREEN_MIN_ROWS + 60, 2, 8
    X, y = planted(seed, n, d)
    model = Model(beta=1e-3 * n)
    Xt = model.augment(X)
    from cvxrelu.arrangements import sample_patterns

    P, G = sample_patterns(Xt, p, seed, return_directions=True)
    P, G = P[P.any(axis=1)], G[P.any(axis=1)]
    # another direction in each cell: the generator moved towards a random point of the cell
    # (rejection from perturbations; the generator itself when none stays in the cell)
    G2 = G.copy()
    for i in range(G.shape[0]):
        for _ in range(20):
            g = G[i] + 0.5 * np.linalg.norm(G[i]) * rng.standard_normal(G.shape[1])
            if np.array_equal(Xt @ g > 0, P[i]):
                G2[i] = g
                break
    data = Dataset(X, y)
    vals = []
    for H in (None, G, G2):
        sol = solve_program(Xt, y, P, model, solver="ipm", hints=H)
        vals.append(objective(network_from_blocks(sol.W, sol.V, sol.c, model, 1e-9), data, model))
    assert vals[1] == pytest.approx(vals[0], rel=1e-8)
    assert vals[2] == pytest.approx(vals[0], rel=1e-8)


MODES = [("squared", "none", "none"), ("squared", "penalized", "free"), ("squared", "free", "penalized"),
         ("logistic", "none", "free"), ("logistic", "penalized", "penalized")]


def _model_data(loss, hb, ob, seed=0, n=40, d=3):
    X, y = planted(seed, n, d)
    if loss == "logistic":
        y = np.where(y > np.median(y), 1.0, -1.0)
    return Model(beta=0.1, loss=loss, hidden_bias=hb, output_bias=ob), Dataset(X, y)


@pytest.mark.parametrize("loss,hb,ob", MODES)
def test_warm_start_gradient_matches_finite_differences(loss, hb, ob):
    """The warm starts' L(theta) and gradient (L-BFGS needs both consistent): central
    differences agree, and L equals model.objective of the same network (the weight-decay
    form, docs/method.md section 1)."""
    model, data = _model_data(loss, hb, ob)
    net = search.train_gradient(data, model, 5, seed=1, iters=0, method="adam")  # the initialization
    params = {"U": net.U.copy(), "alpha": net.alpha.copy()}
    if net.b is not None:
        params["b"] = net.b.copy()
    if model.output_bias != "none":
        params["c"] = np.array([0.3])
    val, grads = search._loss_and_grads(params, data, model)
    from cvxrelu.model import Network
    same = Network(U=params["U"], alpha=params["alpha"], b=params.get("b"),
                   c=float(params["c"][0]) if "c" in params else None)
    assert val == pytest.approx(objective(same, data, model), rel=1e-12)
    h = 1e-6
    for k, v in params.items():
        for idx in [(0,) * v.ndim, tuple(s - 1 for s in v.shape)]:
            old = v[idx]
            v[idx] = old + h
            fp = search._loss_and_grads(params, data, model)[0]
            v[idx] = old - h
            fm = search._loss_and_grads(params, data, model)[0]
            v[idx] = old
            assert grads[k][idx] == pytest.approx((fp - fm) / (2 * h), rel=1e-5, abs=1e-6)


@pytest.mark.parametrize("loss,hb,ob", MODES)
def test_lbfgs_warm_start_improves_on_its_initialization(loss, hb, ob):
    model, data = _model_data(loss, hb, ob)
    init = search.train_gradient(data, model, 6, seed=2, iters=0, method="adam")
    net = search.train_gradient(data, model, 6, seed=2, iters=60)
    L0, L1 = objective(init, data, model), objective(net, data, model)
    assert np.isfinite(L1) and L1 < L0
    with pytest.raises(ValueError):
        search.train_gradient(data, model, 6, seed=2, method="sgd")


def test_default_search_budget_is_reported():
    """No --search-seconds: the automatic budget (at least SEARCH_MIN_SECONDS) is applied and
    reported; a given one is reported as given."""
    X, y = planted(2, 50, 3)
    data, model = Dataset(X, y), Model(beta=0.05)
    a = solve(data, model, patterns=10, seed=0, search_rounds=1, time_limit=5)
    ps = a.extra["pattern_search"]
    assert ps["time_limit_automatic"] and ps["time_limit"] >= search.SEARCH_MIN_SECONDS
    b = solve(data, model, patterns=10, seed=0, search_rounds=1, search_seconds=123.0, time_limit=5)
    assert b.extra["pattern_search"]["time_limit"] == 123.0 and not b.extra["pattern_search"]["time_limit_automatic"]
