"""Metamorphic properties of verify: transformations that must not change verdict or gap."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from soundness_cases import make_problem, rescaled_to_gap
from cvxrelu.certificate import verify
from cvxrelu.model import Dataset, Model, Network, scaled

SETTINGS = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def case(seed, which):
    prob = make_problem(seed)
    net = prob.optimum if which == "optimal" else (rescaled_to_gap(prob, 50.0) or prob.optimum)
    return prob, scaled(net, prob.model) if which == "optimal" else net


def same(c1, c2, scale=1.0):
    assert c1.status == c2.status
    assert abs(c2.gap / scale - c1.gap) <= 1e-6 * max(1.0, abs(c1.objective)) + 1e-9


@SETTINGS
@given(seed=st.integers(0, 10**5), which=st.sampled_from(["optimal", "gap"]))
def test_permuting_samples(seed, which):
    prob, net = case(seed, which)
    perm = np.random.default_rng(seed).permutation(prob.data.n_samples)
    d2 = Dataset(prob.data.X[perm], prob.data.y[perm])
    same(verify(net, prob.data, prob.model), verify(net, d2, prob.model))


@SETTINGS
@given(seed=st.integers(0, 10**5), which=st.sampled_from(["optimal", "gap"]))
def test_permuting_neurons_and_adding_a_zero_neuron(seed, which):
    prob, net = case(seed, which)
    perm = np.random.default_rng(seed).permutation(net.n_neurons)
    Ut = np.hstack([net.Ut()[:, perm], np.zeros((net.Ut().shape[0], 1))])
    net2 = Network.from_augmented(Ut, np.append(net.alpha[perm], 0.0), prob.model, None)
    same(verify(net, prob.data, prob.model), verify(net2, prob.data, prob.model))


@SETTINGS
@given(seed=st.integers(0, 10**5), k=st.integers(2, 4))
def test_splitting_a_neuron(seed, k):
    prob, net = case(seed, "optimal")
    if net.n_neurons == 0:
        return
    g = np.random.default_rng(seed).dirichlet(np.ones(k))
    Ut = net.Ut()
    cols = [Ut[:, j] for j in range(1, net.n_neurons)] + [Ut[:, 0] * np.sqrt(t) for t in g]
    al = list(net.alpha[1:]) + [net.alpha[0] * np.sqrt(t) for t in g]
    net2 = Network.from_augmented(np.array(cols).T, np.array(al), prob.model, None)
    same(verify(net, prob.data, prob.model), verify(net2, prob.data, prob.model))


@SETTINGS
@given(seed=st.integers(0, 10**5), which=st.sampled_from(["optimal", "gap"]),
       s=st.sampled_from([0.25, 3.0]), a=st.sampled_from([0.5, 2.0]))
def test_rescaling_data_labels_and_beta(seed, which, s, a):
    """(X, y, beta, U, b, alpha) -> (a X, s y, s a beta, q U, a q b, q alpha), q = sqrt(s / a):
    predictions scale by s, loss and penalty by s^2, so L, P* and the gap scale by s^2.
    With a penalized hidden bias the bias term breaks this unless a = 1."""
    prob, net = case(seed, which)
    model = prob.model
    if model.hidden_bias == "penalized":
        a = 1.0
    q = np.sqrt(s / a)
    d2 = Dataset(a * prob.data.X, s * prob.data.y)
    m2 = Model(beta=s * a * model.beta, hidden_bias=model.hidden_bias)
    net2 = Network(U=q * net.U, alpha=q * net.alpha, b=None if net.b is None else a * q * net.b)
    c1, c2 = verify(net, prob.data, model), verify(net2, d2, m2)
    assert c2.objective == pytest.approx(s * s * c1.objective, rel=1e-9)
    # the verdict is relative to max(1, |L|): compare it only when both sides are clear
    if which == "gap" or (c1.relative_gap < 1e-8 and c2.relative_gap < 1e-8):
        assert c1.status == c2.status
    assert abs(c2.gap / (s * s) - c1.gap) <= 1e-6 * max(1.0, abs(c1.objective)) + 1e-8
