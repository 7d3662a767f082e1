import numpy as np
from hypothesis import given, settings, strategies as st

from cvxrelu.losses import get_loss


def _labels(loss, rng, n):
    return rng.choice([-1.0, 1.0], n) if loss == "logistic" else rng.standard_normal(n)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10**6), loss=st.sampled_from(["squared", "logistic"]))
def test_gradient_matches_finite_differences(seed, loss):
    rng = np.random.default_rng(seed)
    n = 5
    y = _labels(loss, rng, n)
    z = 3 * rng.standard_normal(n)
    L = get_loss(loss)
    g = L.gradient(z, y)
    h = 1e-6
    fd = np.array([(L.value(z + h * e, y) - L.value(z - h * e, y)) / (2 * h) for e in np.eye(n)])
    np.testing.assert_allclose(g, fd, rtol=1e-5, atol=1e-7)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10**6), loss=st.sampled_from(["squared", "logistic"]))
def test_fenchel_young(seed, loss):
    """loss(z) + loss*(nu) >= nu^T z, with equality at nu = grad loss(z)."""
    rng = np.random.default_rng(seed)
    n = 6
    y = _labels(loss, rng, n)
    z = 2 * rng.standard_normal(n)
    L = get_loss(loss)
    nu = L.gradient(z, y)
    assert abs(L.value(z, y) + L.conjugate(nu, y) - nu @ z) < 1e-9 * (1 + abs(L.value(z, y)))
    lo, hi = L.dual_box(y)
    other = np.clip(rng.standard_normal(n), lo, hi)
    assert L.value(z, y) + L.conjugate(other, y) >= other @ z - 1e-12


def test_logistic_conjugate_outside_domain_is_infinite():
    L = get_loss("logistic")
    y = np.array([1.0, -1.0])
    assert L.conjugate(np.array([0.5, 0.0]), y) == np.inf
    assert np.isfinite(L.conjugate(np.array([-0.5, 0.25]), y))
