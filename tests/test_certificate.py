"""verify(): paper examples, optimal networks from the convex program, and soundness properties."""

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from oracles import convex_optimum
from cvxrelu.arrangements import analyze
from cvxrelu.certificate import Status, exact_zero_sum, verify
from cvxrelu.model import Dataset, Model, Network, merged, objective, predict

warnings.filterwarnings("ignore", message="Solution may be inaccurate")

EX1_X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
EX1_Y = np.array([1.0, 0.0, 0.0])


def optimal_network(X, y, beta, hidden_bias="none"):
    model = Model(beta=beta, hidden_bias=hidden_bias)
    Xt = model.augment(X)
    val, Ut, alpha = convex_optimum(Xt, y, beta, analyze(Xt, patterns=True).patterns)
    return val, Network.from_augmented(Ut, alpha, model, None), model


def test_example1_convex_optimum_and_certificate():
    val, net, model = optimal_network(EX1_X, EX1_Y, 0.1)
    assert net.n_neurons == 1
    w = net.Ut()[:, 0] * abs(net.alpha[0])  # block w5 = |alpha| u
    np.testing.assert_allclose(w, [0.86, -0.79], atol=6e-3)  # paper's rounded numbers
    cert = verify(net, Dataset(EX1_X, EX1_Y), model)
    assert cert.status is Status.OPTIMAL
    assert cert.lower_bound <= cert.objective
    assert abs(cert.objective - val) <= 1e-8


def test_example1_split_network_certified_and_perturbed_refuted():
    _, net, model = optimal_network(EX1_X, EX1_Y, 0.1)
    g = np.array([0.2, 0.3, 0.5])
    split = Network(U=np.hstack([net.U * np.sqrt(t) for t in g]),
                    alpha=np.concatenate([net.alpha * np.sqrt(t) for t in g]))
    data = Dataset(EX1_X, EX1_Y)
    assert verify(split, data, model).status is Status.OPTIMAL
    pert = Network(U=split.U + 0.02, alpha=split.alpha * 0.97)
    cert = verify(pert, data, model)
    assert cert.status is Status.SUBOPTIMAL
    assert cert.witness_objective < cert.objective
    assert objective(cert.witness, data, model) == pytest.approx(cert.witness_objective)


def test_figure1_toy():
    X, y, model = np.array([[1.0]]), np.array([1.0]), Model(beta=0.5)
    net = Network(U=np.array([[2**-0.5]]), alpha=np.array([2**-0.5]))
    cert = verify(net, Dataset(X, y), model)
    assert cert.status is Status.OPTIMAL
    assert cert.objective == pytest.approx(0.375)
    assert cert.lower_bound == pytest.approx(0.375, abs=1e-8)
    # a non-optimal point of the same landscape
    worse = Network(U=np.array([[1.0]]), alpha=np.array([0.3]))
    assert verify(worse, Dataset(X, y), model).status is Status.SUBOPTIMAL


def _random_problem(seed, n, d, hidden_bias):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = rng.standard_normal(n)
    beta = float(rng.uniform(0.05, 0.5))
    return X, y, beta, hidden_bias


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10**6), n=st.integers(3, 7), d=st.integers(1, 2),
       hidden_bias=st.sampled_from(["none", "penalized"]))
def test_convex_solution_certified_and_pruned_one_refuted(seed, n, d, hidden_bias):
    X, y, beta, hb = _random_problem(seed, n, d, hidden_bias)
    val, net, model = optimal_network(X, y, beta, hb)
    data = Dataset(X, y)
    cert = verify(net, data, model)
    assert cert.status is Status.OPTIMAL, cert.to_dict()
    assert cert.lower_bound <= cert.objective
    if net.n_neurons >= 1:
        # drop the neuron that matters most: the objective rises, so not optimal
        j = int(np.argmax(np.abs(net.alpha) * np.linalg.norm(net.Ut(), axis=0)))
        keep = np.arange(net.n_neurons) != j
        pruned = Network.from_augmented(net.Ut()[:, keep], net.alpha[keep], model, None)
        if objective(pruned, data, model) > val * (1 + 1e-4) + 1e-9:
            c2 = verify(pruned, data, model)
            assert c2.status is Status.SUBOPTIMAL
            assert c2.witness_objective < c2.objective


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10**6), m=st.integers(0, 5),
       hidden_bias=st.sampled_from(["none", "penalized", "free"]),
       output_bias=st.sampled_from(["none", "penalized", "free"]),
       loss=st.sampled_from(["squared", "logistic"]))
def test_lower_bound_never_exceeds_objective(seed, m, hidden_bias, output_bias, loss):
    rng = np.random.default_rng(seed)
    n, d = 6, 2
    X = rng.standard_normal((n, d))
    y = rng.choice([-1.0, 1.0], n) if loss == "logistic" else rng.standard_normal(n)
    model = Model(beta=float(rng.uniform(0.01, 1)), loss=loss, hidden_bias=hidden_bias, output_bias=output_bias)
    net = Network(U=rng.standard_normal((d, m)), alpha=rng.standard_normal(m),
                  b=rng.standard_normal(m) if hidden_bias != "none" else None,
                  c=float(rng.standard_normal()) if output_bias != "none" else None)
    cert = verify(net, Dataset(X, y), model)
    assert cert.lower_bound <= cert.objective
    if cert.status is Status.SUBOPTIMAL:
        assert cert.witness_objective < cert.objective
    assert cert.status in (Status.SUBOPTIMAL, Status.INCONCLUSIVE, Status.OPTIMAL)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10**6), m=st.integers(1, 6), hidden_bias=st.sampled_from(["none", "penalized", "free"]))
def test_merging_never_changes_predictions(seed, m, hidden_bias):
    rng = np.random.default_rng(seed)
    X = rng.integers(-2, 3, size=(7, 2)).astype(float)
    model = Model(beta=0.1, hidden_bias=hidden_bias)
    U = rng.standard_normal((2, m))
    U[:, -1] = U[:, 0] * 2.0  # one colinear pair at least
    net = Network(U=U, alpha=rng.standard_normal(m), b=rng.standard_normal(m) if hidden_bias != "none" else None)
    mg = merged(net, model.augment(X), model)
    np.testing.assert_allclose(predict(mg, X), predict(net, X), atol=1e-10)
    assert mg.n_neurons <= net.n_neurons


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10**6), n=st.integers(1, 50), logistic=st.booleans())
def test_exact_zero_sum_is_exact_and_in_box(seed, n, logistic):
    from fractions import Fraction

    rng = np.random.default_rng(seed)
    if logistic:
        y = rng.choice([-1.0, 1.0], n)
        lo, hi = np.where(y > 0, -1.0, 0.0), np.where(y > 0, 0.0, 1.0)
        nu = np.clip(rng.uniform(-1, 1, n), lo, hi)
    else:
        lo, hi = np.full(n, -np.inf), np.full(n, np.inf)
        nu = rng.standard_normal(n) * 10.0 ** rng.integers(-8, 8)
    nu = nu - nu.mean()
    z = exact_zero_sum(nu, lo, hi)
    if z is None:
        return
    assert sum(Fraction(float(v)) for v in z) == 0
    assert np.all(z >= lo) and np.all(z <= hi)
    if not logistic:  # (a centered logistic point may leave the box: then z moves it back)
        assert np.max(np.abs(z - nu)) <= 1e-12 * (1 + np.sum(np.abs(nu)))
