"""Refutation at any d: the violation search against exact enumeration, and strictly better networks."""

import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from cvxrelu.lower_bound import enumerated_constraint
from cvxrelu.io import load_checkpoint
from cvxrelu.model import Dataset, Model, Network, objective, objective_error_bound, predict
from cvxrelu.refute import (
    VIOLATION_TOL,
    _best_kinks,
    _cone_projection,
    find_violations,
    line_search_neuron,
    network_search,
    program_on_patterns,
    refute,
)
from cvxrelu.search import train_gradient

warnings.filterwarnings("ignore", message="Solution may be inaccurate")
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
MODES = ("none", "penalized", "free")


def exact_M(Xt, nu, model):
    """max over N(ut) = 1 of |nu^T (Xt ut)_+| and its error bound, by exact enumeration."""
    X = Xt[:, :-1] if model.hidden_bias == "free" else Xt
    M, err, *_ = enumerated_constraint(Xt, X, nu, model)
    return M, err


def instance(rng, hidden_bias, d=None, n=None):
    d = int(rng.integers(1, 4)) if d is None else d
    n = int(rng.integers(4, 40)) if n is None else n
    model = Model(beta=float(rng.uniform(0.2, 3.0)), hidden_bias=hidden_bias)
    X = rng.standard_normal((n, d))
    nu = rng.standard_normal(n)
    if hidden_bias == "free":
        nu -= nu.mean()
    return model.augment(X), nu, model


def assert_strictly_better(net, data, model, result):
    kind, better, val = result
    assert isinstance(kind, str) and kind
    assert val == objective(better, data, model)  # the objective returned is the evaluated one
    L0 = objective(net, data, model)
    assert val + objective_error_bound(better, data, model) < L0 - objective_error_bound(net, data, model)


# ----------------------------------------------------------------------------- the search vs exact M


@pytest.mark.parametrize("hidden_bias", MODES)
def test_search_never_exceeds_and_usually_finds_the_exact_maximum(hidden_bias):
    rng = np.random.default_rng({"none": 1, "penalized": 2, "free": 3}[hidden_bias])
    found = 0
    trials = 25
    for t in range(trials):
        Xt, nu, model = instance(rng, hidden_bias)
        M, err = exact_M(Xt, nu, model)
        ref = find_violations(Xt, nu, model, time_budget=5.0, rng=t)
        assert ref.ratio * model.beta <= M + err + 1e-12
        assert np.all(ref.ratios * model.beta <= M + err + 1e-12)
        found += abs(ref.ratio * model.beta - M) <= 1e-6 * max(1.0, M)
        # every direction reported is a violation of the stated sign, at the stated ratio
        for j in range(ref.directions.shape[1]):
            ut = ref.directions[:, j]
            assert model.neuron_norm(ut[:, None])[0] == pytest.approx(1.0)
            f = ref.signs[j] * float(nu @ np.maximum(Xt @ ut, 0.0))
            assert f / model.beta == pytest.approx(ref.ratios[j], rel=1e-12)
            assert ref.ratios[j] > 1 + VIOLATION_TOL
        pats = {(Xt @ ref.directions[:, j] > 0).tobytes() + bytes([int(ref.signs[j] > 0)])
                for j in range(ref.directions.shape[1])}
        assert len(pats) == ref.directions.shape[1]  # distinct patterns per sign
        assert ref.violated == (ref.directions.shape[1] > 0)
    assert found >= 0.9 * trials


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), mode=st.sampled_from(MODES), d=st.integers(1, 3),
       n=st.integers(1, 25), scale=st.sampled_from([1e-3, 1.0, 1e3]))
def test_search_ratio_is_a_lower_bound_of_the_exact_one(seed, mode, d, n, scale):
    rng = np.random.default_rng(seed)
    Xt, nu, model = instance(rng, mode, d=d, n=n)
    Xt = Xt * scale
    M, err = exact_M(Xt, nu, model)
    ref = find_violations(Xt, nu, model, time_budget=2.0, rng=seed)
    assert np.isfinite(ref.ratio)
    assert ref.ratio * model.beta <= M + err + 1e-12 * max(1.0, M)


def test_kink_values_match_brute_force():
    rng = np.random.default_rng(5)
    X = rng.standard_normal((30, 3))
    nu = rng.standard_normal(30)
    nu -= nu.mean()
    U = rng.standard_normal((3, 7))
    f, k, b = _best_kinks(X, nu, U)
    for j in range(7):
        vals = [nu @ np.maximum(X @ U[:, j] - X[i] @ U[:, j], 0.0) for i in range(30)]
        assert f[j] == pytest.approx(max(vals), abs=1e-12)
        assert b[j] == pytest.approx(-X[k[j]] @ U[:, j])


def test_cone_projection_against_cvxpy():
    cp = pytest.importorskip("cvxpy")
    rng = np.random.default_rng(6)
    A = rng.standard_normal((40, 4))
    g = rng.standard_normal(4) * 3
    w = _cone_projection(A, g)
    x = cp.Variable(4)
    cp.Problem(cp.Minimize(cp.sum_squares(x - g)), [A @ x >= 0]).solve(solver=cp.CLARABEL)
    assert np.all(A @ w >= -1e-9)
    np.testing.assert_allclose(w, x.value, atol=1e-6)


def test_bad_shapes_raise():
    model = Model(beta=1.0)
    Xt = np.ones((5, 2))
    with pytest.raises(ValueError):
        find_violations(Xt, np.ones(4), model)
    with pytest.raises(ValueError):
        find_violations(Xt, np.ones(5), model, starts=np.ones((3, 2)))


# ----------------------------------------------------------------------------- refute


def planted(n, d, seed, loss="squared"):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    W = rng.standard_normal((d, 4))
    y = np.maximum(X @ W + 0.3, 0.0) @ rng.standard_normal(4) + 0.1 * rng.standard_normal(n)
    if loss == "logistic":
        y = np.where(y > np.median(y), 1.0, -1.0)
    return Dataset(X, y)


def test_stationary_but_not_global_network_at_d10_is_refuted():
    """The convex program over three sampled patterns, mapped back (eq. 9), is a stationary point
    of L (paper Thm. 3) but not a global minimum: refute finds a violated dual constraint at
    d = 10 and a strictly better evaluated network."""
    data = planted(150, 10, 0)
    model = Model(beta=0.5, hidden_bias="penalized")
    Xt = model.augment(data.X)
    rng = np.random.default_rng(1)
    P = (Xt @ rng.standard_normal((11, 3)) > 0).T
    net = program_on_patterns(data, model, P)  # optimal over its patterns, so stationary (Thm. 3)
    info = {}
    res = refute(net, data, model, time_budget=4.0, info=info, program=False)
    assert info["refutation"].ratio > 1
    assert res is not None
    assert_strictly_better(net, data, model, res)


def test_certified_optimal_fixture_is_never_refuted():
    ck = load_checkpoint(str(FIXTURES / "example1_optimal.h5"))
    for seed in range(5):
        info = {}
        assert refute(ck.network, ck.data, ck.model, time_budget=2.0, rng=seed, info=info) is None
        assert info["refutation"].ratio <= 1 + 1e-6


def test_perturbed_fixture_is_refuted_with_a_better_network():
    ck = load_checkpoint(str(FIXTURES / "example1_perturbed.h5"))
    res = refute(ck.network, ck.data, ck.model, time_budget=2.0)
    if res is not None:  # a perturbation need not violate the dual constraint; if one is claimed, it holds
        assert_strictly_better(ck.network, ck.data, ck.model, res)


@pytest.mark.parametrize("loss", ["squared", "logistic"])
@pytest.mark.parametrize("hidden_bias", MODES)
@pytest.mark.parametrize("output_bias", MODES)
def test_adam_networks_are_refuted_in_every_mode(loss, hidden_bias, output_bias):
    data = planted(80, 4, 2, loss)
    model = Model(beta=0.2 if loss == "squared" else 0.05, loss=loss, hidden_bias=hidden_bias,
                  output_bias=output_bias)
    net = train_gradient(data, model, width=6, seed=3, iters=200)
    info = {}
    res = refute(net, data, model, time_budget=3.0, info=info)
    assert info["refutation"].ratio > 1
    assert res is not None, info
    assert_strictly_better(net, data, model, res)


def test_line_search_along_a_violation_decreases_the_objective():
    data = planted(60, 3, 4)
    model = Model(beta=0.3)
    net = Network(U=np.zeros((3, 0)), alpha=np.zeros(0))  # the zero network
    nu = model.loss_fn.gradient(predict(net, data.X), data.y)
    ref = find_violations(data.X, nu, model, time_budget=2.0)
    assert ref.violated
    L0 = objective(net, data, model)
    val, better = line_search_neuron(net, data, model, ref.best_direction, ref.best_sign, L0)
    assert val < L0
    # first-order prediction: L changes by about eps (beta - ratio beta) for small eps
    assert better.n_neurons == 1


def test_zero_dual_point_has_no_violation():
    rng = np.random.default_rng(8)
    for mode in MODES:
        Xt, _, model = instance(rng, mode, d=3, n=20)
        ref = find_violations(Xt, np.zeros(20), model, time_budget=1.0)
        assert ref.ratio == 0.0 and not ref.violated and ref.directions.shape[1] == 0


@pytest.mark.parametrize("loss", ["squared", "logistic"])
def test_first_order_program_route_gives_an_evaluated_candidate(loss, monkeypatch):
    import cvxrelu.refute as R

    monkeypatch.setattr(R, "IPM_MAX_ENTRIES", 0)
    monkeypatch.setattr(R, "CONIC_MAX_ENTRIES", 0)
    data = planted(80, 4, 9, loss)
    model = Model(beta=0.2 if loss == "squared" else 0.05, loss=loss, hidden_bias="penalized")
    net = train_gradient(data, model, width=6, seed=3, iters=200)
    info = {}
    res = refute(net, data, model, time_budget=3.0, info=info)
    assert res is not None
    assert_strictly_better(net, data, model, res)
    kind = "convex program on the network's and the violated patterns (Thm. 3)"
    assert kind in info["candidates"], info["errors"]
    assert np.isfinite(info["candidates"][kind])


def test_a_search_run_beforehand_gives_refute_the_same_network():
    """verify runs network_search before its bound and hands it to refute with the generator it
    used: refute must then return what it returns on its own (the same kind, network, objective)."""
    data = planted(150, 10, 0)
    model = Model(beta=0.5, hidden_bias="penalized")
    Xt = model.augment(data.X)
    P = (Xt @ np.random.default_rng(1).standard_normal((11, 3)) > 0).T
    net = program_on_patterns(data, model, P)
    alone = refute(net, data, model, time_budget=60.0, rng=0, program=False)
    rng = np.random.default_rng(0)
    search = network_search(net, data, model, rng=rng)
    info = {}
    reused = refute(net, data, model, time_budget=60.0, rng=rng, program=False, search=search, info=info)
    assert info["refutation"] is search and search.ratio > 1
    assert alone is not None and reused is not None
    assert reused[0] == alone[0] and reused[2] == alone[2]
    np.testing.assert_array_equal(reused[1].U, alone[1].U)
    np.testing.assert_array_equal(reused[1].alpha, alone[1].alpha)
