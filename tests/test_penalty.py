"""The neuron norm N as one object (cvxrelu/penalty.py) against closed forms and brute force."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from cvxrelu.model import Model
from cvxrelu.penalty import GroupNorm

finite = st.floats(-10, 10, allow_nan=False, allow_infinity=False)


def rows(m=4, dt=3):
    return arrays(np.float64, (m, dt), elements=finite)


@pytest.mark.parametrize("free", [False, True])
@given(W=rows(), t=st.floats(0, 5))
@settings(max_examples=60, deadline=None)
def test_prox_is_the_minimizer(free, W, t):
    """prox(W, t) minimizes t N(z) + 1/2 ||z - w||^2 row by row: no random perturbation does better."""
    norm = GroupNorm(free)
    Z = norm.prox(W, t)
    f = lambda z, w: t * float(norm.value(z)) + 0.5 * float(np.sum((z - w) ** 2))  # noqa: E731
    rng = np.random.default_rng(0)
    for z, w in zip(Z, W):
        best = f(z, w)
        for _ in range(30):
            cand = z + 10.0 ** rng.uniform(-6, 0) * rng.standard_normal(z.size)
            assert f(cand, w) >= best - 1e-9 * (1 + abs(best))
    if free:  # the free coordinate passes unchanged
        np.testing.assert_array_equal(Z[:, -1], W[:, -1])


@pytest.mark.parametrize("free", [False, True])
@given(R=rows())
@settings(max_examples=60, deadline=None)
def test_dual_norm_bounds_the_inner_product(free, R):
    """r^T w <= N*(r) N(w) for random w, with equality at the subgradient direction."""
    norm = GroupNorm(free)
    D = norm.dual_norm(R)
    rng = np.random.default_rng(1)
    for r, d in zip(R, D):
        for _ in range(20):
            w = rng.standard_normal(r.size)
            assert r @ w <= d * float(norm.value(w)) + 1e-9 * (1 + abs(r @ w))
        if free and r[-1] != 0:
            assert d == np.inf
        elif np.any(r):
            w = norm.subgradient(r)  # E^T E r / ||E r||: attains ||E r||
            assert r @ w == pytest.approx(d, rel=1e-12)


@pytest.mark.parametrize("free", [False, True])
@given(w=arrays(np.float64, (3,), elements=finite))
@settings(max_examples=60, deadline=None)
def test_subgradient_is_the_gradient(free, w):
    norm = GroupNorm(free)
    if float(norm.value(w)) < 1e-3:
        return
    g = norm.subgradient(w)
    h = 1e-6
    fd = np.array([(float(norm.value(w + h * e)) - float(norm.value(w - h * e))) / (2 * h) for e in np.eye(3)])
    np.testing.assert_allclose(g, fd, atol=1e-6)


def test_model_neuron_norm_uses_it_column_wise():
    Ut = np.array([[3.0, 0.0], [4.0, 1.0], [12.0, 2.0]])
    np.testing.assert_allclose(Model(beta=1.0, hidden_bias="free").neuron_norm(Ut), [5.0, 1.0])
    np.testing.assert_allclose(Model(beta=1.0, hidden_bias="penalized").neuron_norm(Ut), [13.0, np.sqrt(5.0)])
    assert GroupNorm(True).selector(3).shape == (2, 3) and GroupNorm(False).n_penalized(3) == 3
