"""Tight dual points (cvxrelu/refine.py).

Oracle: on enumerable 2-D problems the barrier Newton solve over every cell of the
arrangement is the global optimum P* (checked against cvxpy in tests/test_newton.py). A
network that is optimal to ~1e-12 in objective but whose gradient is off by ~1e-6 (its blocks
scaled by 1 + 1e-6 r: second order in L, first order in lam) gets a loose bound from lam and
a bound within 1e-9 of P* from the refined point.
"""

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from cvxrelu.arrangements import analyze
from cvxrelu.certificate import dual_bound
from cvxrelu.errors import SolverError
from cvxrelu.model import Dataset, Model, objective
from cvxrelu.program import network_from_blocks
from cvxrelu.refine import lower_bound_at, refine_dual
from cvxrelu.solvers import newton
from cvxrelu.solvers.newton import solve_barrier

MODES = ["none", "penalized", "free"]
COMBOS = [(loss, hb, ob) for loss in ("squared", "logistic") for hb in MODES for ob in MODES]


def _optimum(seed, loss, hb, ob, n=10, beta=0.1, require_polish=True):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 2))
    y = rng.standard_normal(n) if loss == "squared" else np.where(rng.standard_normal(n) > 0, 1.0, -1.0)
    m = Model(beta=beta, loss=loss, hidden_bias=hb, output_bias=ob)
    Xt = m.augment(X)
    P = analyze(Xt, patterns=True).patterns
    sol = solve_barrier(Xt, y, P, m)
    if require_polish:
        assert sol.solver_info["polished"]
    return Dataset(X, y), m, sol


def _net(W, V, c, m):
    """network_from_blocks, with its constant neuron (u = 0, b = B) made 1e4 times larger so
    that the constant's penalty beta/2 alpha^2 is ~1e-17 instead of ~1e-10."""
    net = network_from_blocks(W, V, c, m, 1e-9)
    if net.b is not None:
        const = (np.linalg.norm(net.U, axis=0) == 0) & (net.b != 0)
        if const.any():
            b, alpha = net.b.copy(), net.alpha.copy()
            b[const] *= 1e4
            alpha[const] /= 1e4
            net = replace(net, b=b, alpha=alpha)
    return net


def _near_optimal_net(sol, m, seed, eps=1e-6):
    rng = np.random.default_rng(seed + 1)
    W = sol.W * (1 + eps * rng.standard_normal((sol.W.shape[0], 1)))
    V = sol.V * (1 + eps * rng.standard_normal((sol.V.shape[0], 1)))
    return _net(W, V, sol.c, m)


def _unscaled_dual_objective(nu, data, m, b):
    """The dual objective at nu * beta / M (exact M, no error allowance)."""
    s = min(1.0, m.beta / b.M_raw)
    D = -m.loss_fn.conjugate(s * nu, data.y)
    if m.effective_output_bias == "penalized":
        D -= float(np.sum(s * nu)) ** 2 / (2 * m.beta)
    return D


@pytest.mark.parametrize("loss,hb,ob", COMBOS)
def test_refined_bound_reaches_the_optimum(loss, hb, ob):
    data, m, sol = _optimum(0, loss, hb, ob)
    Pstar = sol.objective  # a feasible point's objective: >= the true optimum
    net = _near_optimal_net(sol, m, 0)
    L = objective(net, data, m)
    assert L - Pstar <= 1e-10 * abs(Pstar)  # the network is optimal to ~1e-12 (and the constant neuron)
    lb_lam = dual_bound(net, data, m).lower_bound
    nu, info = refine_dual(net, data, m)
    b = lower_bound_at(nu, data, m)
    assert b.lower_bound == info["lower_bound"]
    assert b.lower_bound <= Pstar  # soundness
    # the refined point is the optimal dual point: M(nu) = beta to rounding and its dual
    # objective equals P* to ~1e-11 before the certificate's error allowance for M ...
    assert b.M_raw <= m.beta * (1 + 1e-11)
    assert Pstar - _unscaled_dual_objective(nu, data, m, b) <= 1e-11 * abs(Pstar)
    # ... and within 1e-9 after the certificate's error allowance for M (the arrangement
    # engine charges only what its tolerances did: rounding, ~1e-12 S here)
    assert Pstar - b.lower_bound <= 1e-9 * abs(Pstar)
    # the network's own gradient gives a looser bound
    assert lb_lam <= b.lower_bound
    assert Pstar - lb_lam > 10 * (Pstar - b.lower_bound)


def test_lower_bound_at_lam_is_dual_bound():
    data, m, sol = _optimum(4, "logistic", "penalized", "penalized")
    net = _near_optimal_net(sol, m, 4, eps=1e-3)
    from cvxrelu.model import predict

    lam = m.loss_fn.gradient(predict(net, data.X), data.y)
    a, b = dual_bound(net, data, m), lower_bound_at(lam, data, m)
    assert a.lower_bound == b.lower_bound and a.M_raw == b.M_raw and a.scale == b.scale


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10**5), combo=st.sampled_from(COMBOS), beta=st.floats(0.02, 1.0))
def test_property_refined_bound_sound_and_tight(seed, combo, beta):
    # the property needs an optimum accurate to ~1e-12: the face polish runs in every case
    # (also where the zero network is optimal and the blocks carry cancelling free constants)
    data, m, sol = _optimum(seed, *combo, n=8, beta=beta, require_polish=False)
    # the oracle must be accurate to ~1e-12: examples where the face polish did not run are
    # left out (found: squared, free hidden bias, no output bias, beta = 1, seed 11721)
    assume(sol.solver_info["polished"])
    net = _near_optimal_net(sol, m, seed)
    nu, info = refine_dual(net, data, m)
    b = lower_bound_at(nu, data, m)
    assert b.lower_bound <= sol.objective
    # M_error charges only what the arrangement engine's tolerances did: the bound itself is
    # within 1e-9 of P*, with no allowance for it (beyond the bound's own rounding term when
    # P* is ~0: logistic, penalized, free, beta = 1, seed 11721 has P* = 8e-51)
    assert sol.objective - b.lower_bound <= 1e-9 * abs(sol.objective) + 1e-290


def test_zero_network_with_cancelling_free_constants_is_polished():
    """Logistic loss, free hidden bias, no output bias, beta = 1: the zero network is optimal
    and the barrier's blocks carry free constants that cancel (+-b in the all-ones cell's
    blocks, unseen by the penalty); the polish replaces them by the one best constant and the
    optimum is exact (balanced labels: 8 log 2)."""
    data, m, sol = _optimum(1, "logistic", "free", "none", n=8, beta=1.0)
    assert sol.solver_info["polished"]
    assert not np.any(np.linalg.norm(np.vstack([sol.W, sol.V])[:, :-1], axis=1))
    assert np.sum(data.y > 0) == 4
    assert abs(sol.objective - 8 * np.log(2.0)) <= 1e-14 * sol.objective
    nu, _ = refine_dual(_near_optimal_net(sol, m, 1), data, m)
    b = lower_bound_at(nu, data, m)
    assert sol.objective - 1e-12 <= b.lower_bound <= sol.objective


def test_suboptimal_network_adds_violated_cells():
    # drop the largest block of the optimum: the network is suboptimal; the restricted program
    # on its patterns (plus the argmax cells of the bounds, round by round) recovers P*
    data, m, sol = _optimum(2, "squared", "penalized", "none")
    W, V = sol.W.copy(), sol.V.copy()
    U = np.vstack([W, V])
    k = int(np.argmax(np.linalg.norm(U, axis=1)))
    U[k] = 0.0
    p = W.shape[0]
    net = _net(U[:p], U[p:], sol.c, m)
    lb_lam = dual_bound(net, data, m).lower_bound
    _, info = refine_dual(net, data, m)
    assert info["rounds"] >= 1 and info["stopped"] == "converged"
    assert lb_lam < info["lower_bound"] <= sol.objective
    assert sol.objective - info["lower_bound"] <= 1e-6 * abs(sol.objective)


def test_solver_failure_keeps_the_networks_point(monkeypatch):
    data, m, sol = _optimum(1, "logistic", "free", "none")
    net = _near_optimal_net(sol, m, 1)

    def boom(*a, **k):
        raise SolverError("no")

    monkeypatch.setattr(newton, "solve_barrier", boom)
    nu, info = refine_dual(net, data, m)
    assert info["errors"] and info["stopped"] == "solver failure"
    assert info["lower_bound"] == dual_bound(net, data, m).lower_bound
    assert lower_bound_at(nu, data, m).lower_bound == info["lower_bound"]
