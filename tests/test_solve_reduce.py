"""Caratheodory reduction (Lemma 1 / Prop. 6) and width handling of solve.py."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from cvxrelu.errors import InputError
from cvxrelu.model import Dataset, Model, Network, objective, penalty, predict, scaled
from cvxrelu.solve import caratheodory_reduce, set_width, solve


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10**6), n=st.integers(2, 6), extra=st.integers(1, 6),
       hidden_bias=st.sampled_from(["none", "penalized", "free"]))
def test_reduction_keeps_predictions_and_penalty(seed, n, extra, hidden_bias):
    rng = np.random.default_rng(seed)
    d = 2
    X = rng.standard_normal((n, d))
    model = Model(beta=0.3, hidden_bias=hidden_bias)
    m = n + 1 + extra
    net = scaled(Network(U=rng.standard_normal((d, m)), alpha=rng.standard_normal(m),
                         b=rng.standard_normal(m) if hidden_bias != "none" else None), model)
    red = caratheodory_reduce(net, X, model)
    assert np.count_nonzero(red.alpha) <= n + 1
    np.testing.assert_allclose(predict(red, X), predict(net, X), atol=1e-8 * (1 + np.abs(predict(net, X)).max()))
    # the penalty can only drop (it is unchanged for a scaled network up to rounding)
    assert penalty(red, model) <= penalty(net, model) * (1 + 1e-9) + 1e-12


def test_width_pads_and_splits_without_changing_the_objective():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((5, 2)), rng.standard_normal(5)
    model = Model(beta=0.2)
    net = scaled(Network(U=rng.standard_normal((2, 2)), alpha=rng.standard_normal(2)), model)
    data = Dataset(X, y)
    for m in (2, 3, 7):
        w = set_width(net, m, model)
        assert w.n_neurons == m
        assert objective(w, data, model) == pytest.approx(objective(net, data, model), rel=1e-12)
    with pytest.raises(InputError, match="too small"):
        set_width(net, 1, model)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10**6), m=st.integers(1, 6), scale=st.floats(1e-9, 1e-5))
def test_pruning_never_raises_the_objective(seed, m, scale):
    from cvxrelu.solve import prune_tiny_neurons

    rng = np.random.default_rng(seed)
    X = rng.standard_normal((12, 2))
    y = rng.standard_normal(12)
    data, model = Dataset(X, y), Model(beta=0.3)
    U = rng.standard_normal((2, m))
    alpha = rng.standard_normal(m)
    alpha[0] *= scale  # a tiny neuron among ordinary ones
    net = Network(U=U, alpha=alpha)
    pruned = prune_tiny_neurons(net, data, model)
    assert objective(pruned, data, model) <= objective(net, data, model)
    assert pruned.n_neurons <= net.n_neurons


def test_pruning_removes_a_spurious_neuron_from_an_optimum():
    from cvxrelu.solve import prune_tiny_neurons

    X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    y = np.array([1.0, 0.0, 0.0])
    data, model = Dataset(X, y), Model(beta=0.1)
    best = solve(data, model).network
    # a 1e-8-sized neuron on a cone whose dual constraint is slack at the optimum
    spur = Network(U=np.hstack([best.U, [[1e-4], [1e-4]]]), alpha=np.append(best.alpha, 1e-4))
    assert objective(spur, data, model) > objective(best, data, model)
    pruned = prune_tiny_neurons(spur, data, model)
    assert pruned.n_neurons == best.n_neurons
    assert objective(pruned, data, model) == pytest.approx(objective(best, data, model), rel=1e-12)
