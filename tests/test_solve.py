"""solve(): exact column generation against the full program, 1-D kinks, logistic loss."""

import warnings

import numpy as np
import pytest

from cvxrelu.arrangements import analyze
from cvxrelu.certificate import Status, verify
from cvxrelu.model import Dataset, Model, objective
from cvxrelu.program import solve_convex_program
from cvxrelu.solve import solve

from oracles import convex_optimum, cvxpy_program

warnings.filterwarnings("ignore", message="Solution may be inaccurate")


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_kinks_sit_at_data_points_1d_free_bias(seed):
    """Ergen & Pilanci, Cor. 3.2: the optimal 1-D network is a spline with knots at data points."""
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(-2, 2, 15))
    data = Dataset(x[:, None], np.sin(2 * x) + 0.1 * rng.standard_normal(15))
    model = Model(beta=0.05, hidden_bias="free")
    res = solve(data, model)
    net = res.network
    live = (net.alpha != 0) & (net.U[0] != 0)
    kinks = -net.b[live] / net.U[0, live]
    assert kinks.size >= 1
    assert max(np.min(np.abs(x - k)) for k in kinks) <= 1e-9
    assert verify(net, data, model).status is Status.OPTIMAL


CASES = [
    ("squared", "none", "none"),
    ("squared", "penalized", "free"),
    ("squared", "free", "none"),
    ("logistic", "penalized", "none"),
    ("logistic", "none", "free"),
]


@pytest.mark.parametrize("loss,hb,ob", CASES)
def test_exact_solve_matches_full_program_and_certifies(loss, hb, ob):
    rng = np.random.default_rng(7)
    n, d = 9, 2
    X = rng.standard_normal((n, d))
    y = np.sign(X[:, 0] + 0.5 * rng.standard_normal(n)) if loss == "logistic" else rng.standard_normal(n)
    data = Dataset(X, y)
    model = Model(beta=0.2, loss=loss, hidden_bias=hb, output_bias=ob)
    Xt = model.augment(X)
    # the independent cvxpy formulation of the full program over every pattern
    full = cvxpy_program(Xt, y, analyze(Xt, patterns=True).patterns, model)
    res = solve(data, model)
    assert res.patterns == "exact"
    assert res.objective == pytest.approx(full, rel=1e-6)
    # Lemma 1: at most n + 1 penalized neurons (+ one constant neuron for a free hidden bias)
    assert np.count_nonzero(res.network.alpha) <= n + 1 + (hb == "free")
    assert objective(res.network, data, model) == pytest.approx(res.objective, rel=1e-12)
    assert verify(res.network, data, model).status is Status.OPTIMAL


def test_example1_solve_matches_the_paper_and_certifies():
    """Paper 000, Example 1 (section 3.1): X = [[1,0],[0,1],[1,1]], y = [1,0,0], beta = 0.1."""
    X, y = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]), np.array([1.0, 0.0, 0.0])
    data, model = Dataset(X, y), Model(beta=0.1)
    res = solve(data, model)
    P = analyze(X, patterns=True).patterns
    assert res.objective == pytest.approx(cvxpy_program(X, y, P, model), rel=1e-6)
    # the optimal network is one neuron, the paper's block w5 = (0.86, -0.79) (rounded)
    net = res.network
    assert np.count_nonzero(net.alpha) == 1
    j = int(np.flatnonzero(net.alpha)[0])
    np.testing.assert_allclose(net.U[:, j] * abs(net.alpha[j]), [0.86, -0.79], atol=6e-3)
    assert verify(net, data, model).status is Status.OPTIMAL


@pytest.mark.parametrize("separable", [True, False])
def test_logistic_separable_and_not(separable):
    rng = np.random.default_rng(3)
    X = rng.standard_normal((12, 2))
    y = np.sign(X[:, 0] + X[:, 1]) if separable else np.sign(X[:, 0] + 1.5 * rng.standard_normal(12))
    y[y == 0] = 1.0
    data = Dataset(X, y)
    model = Model(beta=0.1, loss="logistic", hidden_bias="penalized")
    Xt = model.augment(X)
    full = cvxpy_program(Xt, y, analyze(Xt, patterns=True).patterns, model)
    res = solve(data, model)
    assert res.objective == pytest.approx(full, rel=1e-6)
    cert = verify(res.network, data, model)
    assert cert.status is Status.OPTIMAL, cert.to_dict()


def test_sampled_patterns_are_reported_and_optimal_over_the_sample():
    rng = np.random.default_rng(4)
    X = rng.standard_normal((30, 3))
    y = rng.standard_normal(30)
    data = Dataset(X, y)
    model = Model(beta=0.5, hidden_bias="penalized")
    from cvxrelu.arrangements import sample_patterns

    P = sample_patterns(model.augment(X), 40, seed=1)
    full = solve_convex_program(model.augment(X), y, P, model).objective
    res = solve(data, model, patterns=40, seed=1, search=False)
    assert res.patterns == "sampled" and res.n_patterns == int(P.any(axis=1).sum())  # empty pattern dropped
    assert res.objective <= full * (1 + 1e-6) + 1e-9
    # the independent cvxpy formulation over the same patterns (fixtures/make_fixtures.py)
    oracle = convex_optimum(model.augment(X), y, model.beta, P[P.any(axis=1)], polish=False)[0]
    assert res.objective == pytest.approx(oracle, rel=1e-6)
    # optimal within the sample: the dual constraint holds on every sampled cell
    assert res.extra["sample_dual_ratio"] <= 1 + 1e-6
    assert res.lower_bound is not None and res.lower_bound <= res.objective


def test_pattern_search_only_improves_and_beats_its_gradient_warm_starts():
    """search.py: the objective never rises along the search, ends below the sampled program's
    and below every gradient warm start it ran (Thm. 3: their patterns are in the program)."""
    from cvxrelu.search import WARM_RUNS, train_gradient

    rng = np.random.default_rng(11)
    X = rng.standard_normal((60, 4))
    y = np.maximum(X @ rng.standard_normal((4, 3)), 0) @ rng.standard_normal(3) + 0.1 * rng.standard_normal(60)
    data = Dataset(X, y)
    model = Model(beta=0.05)
    res = solve(data, model, patterns=30, seed=2, search_rounds=10)
    hist = [h["objective"] for h in res.extra["pattern_search"]["history"]]
    assert all(b <= a * (1 + 1e-7) + 1e-9 for a, b in zip(hist, hist[1:]))
    # the search's programs contain the sampled patterns' program
    alone = solve(data, model, patterns=30, seed=2, search=False)
    assert "objective" not in res.extra["sampled_program"]
    assert res.objective <= alone.extra["sampled_program"]["objective"] * (1 + 1e-9)
    assert alone.objective == pytest.approx(alone.extra["sampled_program"]["objective"], rel=1e-6)
    assert res.objective == pytest.approx(hist[-1], rel=1e-7)
    width = res.extra["pattern_search"]["sources"]["warm_width"]
    for r in range(WARM_RUNS):
        warm = train_gradient(data, model, width, seed=2 * 1000 + r)
        assert res.objective <= objective(warm, data, model) * (1 + 1e-7)
    # and the network is optimal over its final pattern set (exact per-cell check)
    assert res.extra["sample_dual_ratio"] <= 1 + 1e-5


def test_cli_solver_choices_are_the_library_solvers():
    from cvxrelu.cli import solve as solve_cmd
    from cvxrelu.program import SOLVERS

    opt = next(p for p in solve_cmd.params if p.name == "solver")
    assert tuple(opt.type.choices) == SOLVERS


def test_search_time_limit_stops_rounds_but_keeps_the_warm_start_program():
    """search_seconds = 0: the first program (sampled + warm-start patterns) is solved, no
    dual-guided round starts, and the result says why."""
    rng = np.random.default_rng(5)
    X = rng.standard_normal((50, 3))
    y = np.maximum(X @ rng.standard_normal(3), 0) + 0.1 * rng.standard_normal(50)
    data, model = Dataset(X, y), Model(beta=0.05)
    res = solve(data, model, patterns=20, seed=0, search_seconds=0.0)
    ps = res.extra["pattern_search"]
    assert res.extra["rounds"] == 0 and ps["stopped"].startswith("time limit")
    assert [h["round"] for h in ps["history"]] == [0]
    assert ps["history"][0]["patterns"] == ps["sources"]["sampled_kept"] + ps["sources"]["gradient"]
    assert 0 <= ps["sources"]["sampled_kept"] <= ps["sources"]["sampled"]
    assert res.extra["sample_dual_ratio"] <= 1 + 1e-5


def test_face_polish_never_forms_the_left_factor_of_tall_active_sets(monkeypatch):
    """The face polish needs only the singular values and the right factor of each block's
    active rows (k x dt, k up to n): a full SVD also built the k x k left factor, 13 GiB at
    k = 41 865 on 1-D data with n = 1e5. On a 1-D problem whose blocks have many active rows,
    every tall SVD is thin, and solve still certifies its network."""
    import cvxrelu.solvers.polish as polish

    real = np.linalg.svd
    calls = []

    def spy(a, *args, **kw):
        calls.append((a.shape, kw.get("full_matrices", True)))
        return real(a, *args, **kw)

    monkeypatch.setattr(polish.np.linalg, "svd", spy)
    rng = np.random.default_rng(0)
    X = np.sort(rng.uniform(-2, 2, (200, 1)), axis=0)
    y = np.sin(1.5 * X[:, 0]) + 0.1 * rng.standard_normal(200)
    res = solve(Dataset(X, y), Model(beta=2.0, hidden_bias="penalized"))
    tall = [full for shape, full in calls if shape[0] >= shape[1] and shape[0] > 3]
    assert tall and not any(tall)
    assert res.status is Status.OPTIMAL
