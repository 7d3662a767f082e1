"""The arrangement engine against brute force (patterns by LP, M by per-cell projections)."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from scipy.optimize import nnls

from cvxrelu.arrangements import analyze, brute_force_patterns, cover_count


def m_oracle(Xt, nu, patterns):
    """max over cells and signs of min_{z >= 0} ||sg g + A^T z|| (the cone projection)."""
    best = 0.0
    for s in patterns:
        A = (2 * s - 1)[:, None] * Xt
        g = Xt.T @ (s * nu)
        for sg in (1, -1):
            _, r = nnls(A.T, -sg * g, maxiter=5000)
            best = max(best, r)
    return best


def degenerate(rng, kind, n, dt):
    if kind == "gaussian":
        return rng.standard_normal((n, dt))
    if kind == "integer":
        return rng.integers(-2, 3, size=(n, dt)).astype(float)
    if kind == "duplicates":
        X = rng.standard_normal((n, dt))
        X[n // 2 :] = X[: n - n // 2] * rng.choice([1.0, -2.0, 3.0], (n - n // 2, 1))
        return X
    if kind == "zero_rows":
        X = rng.standard_normal((n, dt))
        X[:: 3] = 0.0
        return X
    if kind == "rank_deficient":
        k = max(1, dt - 1)
        return rng.integers(-2, 3, size=(n, k)).astype(float) @ rng.standard_normal((k, dt))
    if kind == "collinear_with_bias":  # points on a line in R^2, plus a bias column
        t = rng.integers(-3, 4, size=n).astype(float)
        return np.column_stack([t, 2 * t + 1, np.ones(n)])
    raise AssertionError(kind)


KINDS = ["gaussian", "integer", "duplicates", "zero_rows", "rank_deficient", "collinear_with_bias"]


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10**6), kind=st.sampled_from(KINDS), n=st.integers(1, 8), dt=st.integers(1, 4))
def test_patterns_and_M_match_brute_force(seed, kind, n, dt):
    rng = np.random.default_rng(seed)
    Xt = degenerate(rng, kind, n, dt)
    nu = rng.standard_normal(Xt.shape[0])
    res = analyze(Xt, nu, patterns=True)
    bf = brute_force_patterns(Xt)
    assert {tuple(r) for r in res.patterns} == {tuple(r) for r in bf}
    M = m_oracle(Xt, nu, bf)
    assert abs(res.M - M) <= 1e-8 * (1 + M)
    assert res.M_error >= 0


def test_general_position_count_is_covers():
    rng = np.random.default_rng(0)
    for n, r in [(10, 2), (12, 3), (9, 4)]:
        Xt = rng.standard_normal((n, r))
        assert analyze(Xt, patterns=True).n_patterns == cover_count(n, r)


def test_example1_patterns_are_the_papers():
    X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    pats = {tuple(int(v) for v in r) for r in analyze(X, patterns=True).patterns}
    assert pats == {(0, 0, 0), (0, 1, 0), (0, 1, 1), (1, 0, 0), (1, 0, 1), (1, 1, 1)}


def test_argmax_attains_M():
    rng = np.random.default_rng(3)
    Xt = np.hstack([rng.standard_normal((40, 2)), np.ones((40, 1))])
    nu = rng.standard_normal(40)
    res = analyze(Xt, nu)
    f = nu @ np.maximum(Xt @ res.argmax, 0.0)
    assert abs(res.argmax_sign * f - res.M) <= 1e-9 * (1 + res.M)
    assert abs(np.linalg.norm(res.argmax) - 1) < 1e-12


@pytest.mark.parametrize("n,dt", [(30, 3), (20, 4)])
def test_M_matches_projection_oracle_at_moderate_size(n, dt):
    rng = np.random.default_rng(n)
    Xt = np.hstack([rng.standard_normal((n, dt - 1)), np.ones((n, 1))])
    nu = rng.standard_normal(n)
    res = analyze(Xt, nu, patterns=True)
    assert abs(res.M - m_oracle(Xt, nu, res.patterns)) <= 1e-9 * res.M


def test_refuses_when_too_large():
    from cvxrelu.errors import TooLargeError

    X = np.random.default_rng(0).standard_normal((400, 6))
    with pytest.raises(TooLargeError, match="activation patterns"):
        analyze(X, np.ones(400))
