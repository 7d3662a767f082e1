"""verify() beyond enumeration (bounded mode) and the v2 status rule.

Independent oracle: whitened data (X X^T = I, n <= d) are spike-free, and for the squared loss
without biases the global optimum has a closed form. The set of predictions one unit neuron
can make is {(X u)_+ : ||u|| <= 1} = {z >= 0 : ||z|| <= 1}, so a network's prediction is
z = p - q with p, q >= 0 and the least penalty is beta (||p|| + ||q||) (one neuron per sign,
docs/method.md, spike-free data). Minimizing 1/2 ||p - q - y||^2 + beta (||p|| + ||q||)
separates over the signs of y and gives

    P* = f(y_+) + f(y_-),  f(a) = ||a||^2 / 2 if ||a|| <= beta else beta ||a|| - beta^2 / 2,

reached by p = (1 - beta / ||y_+||)_+ y_+ (the shrunk positive part), q likewise, i.e. the
neuron u = X^T p / sqrt(||p||), alpha = sqrt(||p||) and its negative twin.
"""

import math
from pathlib import Path

import numpy as np
import pytest

from cvxrelu.certificate import Status, verify
from cvxrelu.model import Dataset, Model, Network, objective
from cvxrelu.search import train_gradient


def whitened(n, d, seed):
    """X (n, d) with orthonormal rows, and labels y (n,)."""
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.standard_normal((d, n)))
    return Q.T.copy(), rng.standard_normal(n)


def f_closed(a, beta):
    na = float(np.linalg.norm(a))
    return na * na / 2 if na <= beta else beta * na - beta * beta / 2


def closed_form_optimum(X, y, beta, pieces=(0.5, 0.3, 0.2)):
    """P* and an optimal network, each sign's neuron split into len(pieces) neurons (Thm. 1)."""
    P = f_closed(np.maximum(y, 0), beta) + f_closed(np.maximum(-y, 0), beta)
    cols, alphas = [], []
    for sg in (1.0, -1.0):
        a = np.maximum(sg * y, 0.0)
        na = float(np.linalg.norm(a))
        if na <= beta:
            continue
        p = (1 - beta / na) * a
        npn = float(np.linalg.norm(p))
        u = X.T @ p / math.sqrt(npn)
        for g in pieces:
            cols.append(u * math.sqrt(g))
            alphas.append(sg * math.sqrt(npn) * math.sqrt(g))
    net = Network(U=np.array(cols).T.reshape(X.shape[1], -1), alpha=np.array(alphas))
    return P, net


@pytest.mark.parametrize("n,d", [(30, 40), (100, 150)])
def test_whitened_closed_form_optimum_is_certified_spike_free(n, d):
    X, y = whitened(n, d, seed=n)
    beta = 0.4 * min(np.linalg.norm(np.maximum(y, 0)), np.linalg.norm(np.maximum(-y, 0)))
    P, net = closed_form_optimum(X, y, beta)
    data, model = Dataset(X, y), Model(beta=float(beta))
    assert objective(net, data, model) == pytest.approx(P, rel=1e-12)
    cert = verify(net, data, model)
    d_ = cert.to_dict()
    assert cert.status is Status.OPTIMAL, d_
    assert d_["patterns"] == "bounded" and d_["bound_method"] == "spike-free"
    assert cert.lower_bound <= P + 1e-12 * P
    assert cert.lower_bound >= P * (1 - 1e-9)
    assert d_["dual_ratio_lower"] <= d_["dual_ratio_upper"]
    assert d_["dual_ratio_upper"] == pytest.approx(1.0, abs=1e-9)


def test_whitened_one_sign_too_small_to_carry_a_neuron():
    """||y_-|| <= beta: the optimum has only the positive neuron, and the bound is still tight."""
    X, y = whitened(30, 40, seed=3)
    y = np.abs(y)
    y[:3] = -0.01
    beta = 0.5 * float(np.linalg.norm(np.maximum(y, 0)))
    P, net = closed_form_optimum(X, y, beta)
    data, model = Dataset(X, y), Model(beta=beta)
    assert net.n_neurons == 3
    cert = verify(net, data, model)
    assert cert.status is Status.OPTIMAL
    assert P * (1 - 1e-9) <= cert.lower_bound <= P * (1 + 1e-12)


@pytest.mark.parametrize("n,d", [(30, 40), (100, 150)])
def test_whitened_perturbed_and_trained_networks_are_suboptimal(n, d):
    X, y = whitened(n, d, seed=n + 1)
    beta = 0.4 * min(np.linalg.norm(np.maximum(y, 0)), np.linalg.norm(np.maximum(-y, 0)))
    P, net = closed_form_optimum(X, y, beta)
    data, model = Dataset(X, y), Model(beta=float(beta))
    rng = np.random.default_rng(0)
    perturbed = Network(U=net.U + 1e-2 * rng.standard_normal(net.U.shape), alpha=net.alpha * 0.99)
    trained = train_gradient(data, model, width=6, seed=1, iters=300)
    for cand in (perturbed, trained):
        cert = verify(cand, data, model, time_limit=30.0)
        assert cert.status is Status.SUBOPTIMAL, cert.to_dict()
        assert cert.witness is not None
        wobj = objective(cert.witness, data, model)
        assert wobj == cert.witness_objective
        assert wobj < cert.objective
        assert wobj >= P * (1 - 1e-12)  # nothing beats the closed-form optimum
        assert math.isfinite(cert.lower_bound) and cert.lower_bound <= P * (1 + 1e-12)
        assert cert.to_dict()["patterns"] == "bounded"


def test_relative_gap_is_gap_over_objective_regression():
    """v1 divided by max(1, |L|): at L < 1 the tolerance was absolute, and this network, whose
    objective is hundreds of times its global minimum, was certified optimal at tol 1e-6."""
    beta = 4e-9
    X, y = np.array([[1.0]]), np.array([1.0])
    r = 1.39e-3  # residual: loss 1/2 r^2 ~ 9.7e-7 < 1e-6
    net = Network(U=np.array([[math.sqrt(1 - r)]]), alpha=np.array([math.sqrt(1 - r)]))
    data, model = Dataset(X, y), Model(beta=beta)
    P = f_closed(y, beta)  # X = [1] is whitened
    L = objective(net, data, model)
    assert L < 1e-6 and L / P > 200
    cert = verify(net, data, model, tol=1e-6)
    assert cert.status is not Status.OPTIMAL
    assert cert.relative_gap == pytest.approx(cert.gap / abs(cert.objective))
    assert cert.relative_gap > 0.9
    assert cert.lower_bound <= P * (1 + 1e-12)
    # an absolute tolerance is there when one is wanted, and only when asked for
    assert verify(net, data, model, tol=1e-6, atol=1e-6).status is Status.OPTIMAL


def test_atol_and_tol_decide_in_the_contract_order():
    X, y = whitened(30, 40, seed=5)
    beta = 0.3 * min(np.linalg.norm(np.maximum(y, 0)), np.linalg.norm(np.maximum(-y, 0)))
    P, net = closed_form_optimum(X, y, beta)
    data, model = Dataset(X, y), Model(beta=float(beta))
    worse = Network(U=net.U * 1.001, alpha=net.alpha / 1.001)  # same predictions, more penalty
    L = objective(worse, data, model)
    excess = L - P
    assert excess > 0
    assert verify(worse, data, model, tol=0.0).status is Status.SUBOPTIMAL
    assert verify(worse, data, model, tol=2 * excess / L).status is Status.OPTIMAL
    assert verify(worse, data, model, tol=0.0, atol=2 * excess).status is Status.OPTIMAL
    c = verify(worse, data, model, tol=0.0, atol=0.5 * excess)
    assert c.status is Status.SUBOPTIMAL and c.to_dict()["atol"] == 0.5 * excess


@pytest.mark.parametrize("optimal", [True, False])
def test_width_zero_network(optimal):
    """U of shape (d, 0) is the zero function: certified when zero is optimal, else refuted."""
    rng = np.random.default_rng(11)
    X, y = rng.standard_normal((12, 2)), rng.standard_normal(12)
    # the zero network is optimal iff M(y) <= beta; ||y|| sigma_max(X) bounds M(y)
    beta = 2.0 * np.linalg.norm(y) * np.linalg.norm(X, 2) if optimal else 1e-2
    net = Network(U=np.zeros((2, 0)), alpha=np.zeros(0))
    data, model = Dataset(X, y), Model(beta=float(beta))
    cert = verify(net, data, model)
    assert cert.objective == pytest.approx(0.5 * float(y @ y))
    if optimal:
        assert cert.status is Status.OPTIMAL
    else:
        assert cert.status is Status.SUBOPTIMAL and cert.witness_objective < cert.objective


def test_forced_bounded_mode_agrees_with_enumeration_on_small_data():
    """Small d: the bounded mode never certifies what enumeration refutes, and certifies the
    closed-form optimum of tiny whitened data."""
    rng = np.random.default_rng(2)
    X, y = rng.standard_normal((15, 2)), rng.standard_normal(15)
    model = Model(beta=0.2)
    net = train_gradient(Dataset(X, y), model, width=4, seed=0, iters=200)
    exact = verify(net, Dataset(X, y), model, patterns="exact")
    bounded = verify(net, Dataset(X, y), model, patterns="bounded", time_limit=10.0)
    assert exact.to_dict()["patterns"] == "exact" and exact.to_dict()["bound_method"] == "enumeration"
    assert bounded.to_dict()["patterns"] == "bounded"
    assert exact.status is Status.SUBOPTIMAL and bounded.status is not Status.OPTIMAL
    assert bounded.lower_bound <= exact.objective


def test_bad_time_limit_and_atol_are_input_errors():
    from cvxrelu.errors import InputError

    X, y = np.eye(2), np.ones(2)
    net = Network(U=np.ones((2, 1)), alpha=np.ones(1))
    for kw in ({"time_limit": 0.0}, {"time_limit": -1.0}, {"time_limit": math.nan}, {"atol": -1.0},
               {"atol": math.inf}, {"patterns": "sampled"}):
        with pytest.raises(InputError):
            verify(net, Dataset(X, y), Model(beta=0.1), **kw)


def test_bounded_mode_seeds_the_bound_with_the_refutation_search():
    """tests/data/d10_sampled.npz: a network from solve over sampled patterns at d = 10 (made by
    tests/data/make_d10_sampled.py). The branch and bound's own ascent attains M / beta = 1 + 5e-7
    at its gradient (the network's neurons are the maximizers it finds), below the largest value
    that still certifies, so it used to branch until its share of the time limit ran out. The
    refutation's search, which verify now runs inside the bound once its cheap stages have not
    settled, finds M / beta > 1.1: the bound stops before branching, the refutation reuses the
    search, and the verdict is suboptimal with an evaluated, strictly better network."""
    from cvxrelu.bounds import bound_dual_constraint
    from cvxrelu.lower_bound import dual_start, live_directions

    z = np.load(Path(__file__).with_name("data") / "d10_sampled.npz")
    data, model = Dataset(z["X"], z["y"]), Model(beta=float(z["beta"]))
    net = Network(U=z["U"], alpha=z["alpha"])
    nu1, _ = dual_start(net, data, model)
    alone = bound_dual_constraint(model.augment(data.X), nu1, starts=live_directions(net, model), max_nodes=0)
    assert alone.lower / model.beta < 1 + 1e-4  # the bound's own ascent misses the violation
    cert = verify(net, data, model, time_limit=60.0)
    d = cert.to_dict()
    assert d["patterns"] == "bounded" and cert.status is Status.SUBOPTIMAL
    assert "search_s" in d["timings"]
    ratio = d["refutation"]["ratio"]
    assert ratio > 1.1
    assert d["dual_ratio_lower"] >= ratio * (1 - 1e-12)
    assert d["arrangement"]["stop_above"] < d["dual_ratio_lower"] * model.beta
    assert d["arrangement"]["nodes"] == 0
    wobj = objective(cert.witness, data, model)
    assert wobj == cert.witness_objective < cert.objective
    assert cert.lower_bound <= wobj


def test_report_only_witness_bound_does_not_branch(monkeypatch):
    """Once the witness is better than the tolerance allows, nothing can certify from its gradient:
    the bound there only sharpens the report. It gets the cheap bounds and no branching
    (WITNESS_BOUND_NODES), so it does not spend SHORT_SHARE of the time limit (6 s on
    bench/solve.py's 10-D networks) and does not depend on the clock."""
    import cvxrelu.certificate as C
    from cvxrelu.lower_bound import certifying_bound, dual_start

    rng = np.random.default_rng(0)  # planted 10-D data (a 5-neuron network and noise)
    X, U0, a0 = rng.standard_normal((200, 10)), rng.standard_normal((10, 5)), rng.standard_normal(5)
    y = np.maximum(X @ U0, 0) @ a0 + 0.1 * rng.standard_normal(200)
    data, model = Dataset(X, y), Model(beta=0.2)
    net = train_gradient(data, model, width=6, seed=1, iters=300)
    calls = []
    real = C.bound_for

    def spy(*a, **kw):
        b = real(*a, **kw)
        calls.append((kw.get("max_nodes"), b.details.get("nodes"), b.method))
        return b

    monkeypatch.setattr(C, "bound_for", spy)
    cert = verify(net, data, model, time_limit=60.0)
    assert cert.status is Status.SUBOPTIMAL and cert.to_dict()["patterns"] == "bounded"
    nu_w, _ = dual_start(cert.witness, data, model)
    needed = cert.objective * (1 - cert.tolerance)
    assert certifying_bound(nu_w, data.y, model, needed) == -math.inf  # report only
    assert len(calls) == 2  # the network's gradient, then the witness's
    assert calls[1][0] == C.WITNESS_BOUND_NODES == 0
    assert calls[1][1] is not None and calls[1][1] <= 2, calls  # the root only
    assert cert.lower_bound <= cert.witness_objective
