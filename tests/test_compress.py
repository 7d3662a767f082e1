"""Row compression of planar squared-loss programs (cvxrelu/solvers/compress.py).

Oracles: the uncompressed program's objective at arbitrary points (the loss must agree up to the
returned constant everywhere, not only at the optimum), the uncompressed program's optimum
(program._solve_program on all rows), and the cone constraints row by row.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cvxrelu.convex import convex_objective
from cvxrelu.model import Model
from cvxrelu.program import COMPRESS_MIN_ROWS, _solve_program, solve_program
from cvxrelu.solvers.compress import _two_point, compress, groups


def _patterns(Xt, rng, p):
    G = rng.standard_normal((Xt.shape[1], p))
    return (Xt @ G > 0).T


def _one_d(rng, n, dup=False):
    x = rng.uniform(-2, 2, n)
    if dup:
        x = np.round(x, 1)  # many exactly repeated rows
    return np.column_stack([x, np.ones(n)]), np.sin(1.5 * x) + 0.1 * rng.standard_normal(n)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(40, 400), p=st.integers(1, 12),
       kind=st.sampled_from(["1d", "1d-dup", "2feat"]))
def test_loss_equal_up_to_the_offset_everywhere(seed, n, p, kind):
    rng = np.random.default_rng(seed)
    if kind == "2feat":
        Xt = rng.standard_normal((n, 2))
        y = rng.standard_normal(n)
    else:
        Xt, y = _one_d(rng, n, dup=kind == "1d-dup")
    S = _patterns(Xt, rng, p)
    out = compress(Xt, y, S)
    if out is None:
        return
    Xc, yc, Sc, offset, info = out
    assert Xc.shape[0] == info["rows_kept"] < n
    model = Model(beta=0.1)
    for _ in range(3):
        W, V = rng.standard_normal((p, 2)), rng.standard_normal((p, 2))
        full = convex_objective(Xt, y, S, W, V, None, model)
        small = convex_objective(Xc, yc, Sc, W, V, None, model) + offset
        assert small == pytest.approx(full, rel=1e-10, abs=1e-10)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(40, 400), p=st.integers(1, 12),
       kind=st.sampled_from(["1d", "1d-dup", "2feat"]))
def test_cones_unchanged(seed, n, p, kind):
    """A direction satisfies a pattern's sign constraints on the compressed rows iff it does on
    the original rows: the kept rows are original rows, the new ones lie in their group's hull."""
    rng = np.random.default_rng(seed)
    Xt = rng.standard_normal((n, 2)) if kind == "2feat" else _one_d(rng, n, dup=kind == "1d-dup")[0]
    y = rng.standard_normal(n)
    S = _patterns(Xt, rng, p)
    out = compress(Xt, y, S)
    if out is None:
        return
    Xc, _, Sc, _, _ = out
    ang = rng.uniform(0, 2 * np.pi, 400)
    U = np.vstack([np.cos(ang), np.sin(ang)])
    for b in range(p):
        sig, sigc = np.where(S[b], 1.0, -1.0), np.where(Sc[b], 1.0, -1.0)
        ok = np.all(sig[:, None] * (Xt @ U) >= -1e-12, axis=0)
        okc = np.all(sigc[:, None] * (Xc @ U) >= -1e-12, axis=0)
        assert np.array_equal(ok, okc)


def test_two_point_moments_and_range():
    rng = np.random.default_rng(3)
    for _ in range(200):
        m = rng.integers(2, 50)
        z = rng.exponential(1.0, m) ** rng.uniform(0.2, 4)  # skewed: the equal-weight pair leaves the range
        w = rng.uniform(0.1, 2.0, m)
        pts, wts = _two_point(z, w)
        assert np.all(wts >= 0) and np.all(pts >= z.min() - 1e-12) and np.all(pts <= z.max() + 1e-12)
        for k in range(3):
            assert float(wts @ pts**k) == pytest.approx(float(w @ z**k), rel=1e-9)


def test_groups_are_rows_with_the_same_patterns():
    S = np.array([[1, 1, 0, 0, 1], [0, 0, 1, 1, 0]], dtype=bool)
    inv, k = groups(S)
    assert k == 2 and inv[0] == inv[1] == inv[4] and inv[2] == inv[3] and inv[0] != inv[2]


def test_not_compressed_when_nothing_is_saved_or_cones_are_not_planar():
    rng = np.random.default_rng(0)
    Xt = rng.standard_normal((300, 3))
    assert compress(Xt, rng.standard_normal(300), _patterns(Xt, rng, 4)) is None  # dt = 3
    Xt2 = rng.standard_normal((300, 2))
    # every row its own group: nothing to merge
    S = np.eye(300, dtype=bool)[:20]
    S = np.vstack([S, rng.random((40, 300)) < 0.5])
    assert compress(Xt2, rng.standard_normal(300), S) is None


def test_group_spanning_pi_or_more_keeps_its_rows():
    """Rows all around the origin (2 features, no bias) in one group: no open half-plane holds
    them, so none may be replaced; the other group (a narrow arc) is compressed to 4 rows."""
    rng = np.random.default_rng(5)
    th = np.r_[rng.uniform(0, 2 * np.pi, 30), rng.uniform(0.1, 0.6, 400)]
    Xt = np.column_stack([np.cos(th), np.sin(th)])
    S = (np.arange(th.size) >= 30)[None, :]
    out = compress(Xt, rng.standard_normal(th.size), S)
    assert out is not None
    Xc, _, Sc, _, info = out
    assert info["rows_kept"] == 30 + 4 and info["rows_merged"] == 398
    kept = {tuple(r) for r in Xc}
    assert all(tuple(r) in kept for r in Xt[:30])


@pytest.mark.parametrize("beta", [0.3, 30.0])
def test_compressed_program_has_the_uncompressed_optimum(beta):
    """1-D data, n = 3000: solve_program (compressed) against _solve_program on every row."""
    rng = np.random.default_rng(1)
    n = max(3000, COMPRESS_MIN_ROWS + 1)
    Xt, y = _one_d(rng, n)
    model = Model(beta=beta, hidden_bias="penalized")
    S = _patterns(Xt, rng, 24)
    sol = solve_program(Xt, y, S, model)
    assert sol.solver_info["compression"]["rows_kept"] < n / 10
    ref = _solve_program(Xt, y, S, model, solver="clarabel")
    assert "compression" not in ref.solver_info
    assert sol.objective == pytest.approx(ref.objective, rel=1e-8)
    assert sol.objective == pytest.approx(convex_objective(Xt, y, S, sol.W, sol.V, sol.c, model), rel=1e-13)
    assert sol.prediction.shape == (n,)


def test_output_bias_is_not_compressed():
    rng = np.random.default_rng(2)
    n = COMPRESS_MIN_ROWS + 100
    Xt, y = _one_d(rng, n)
    S = _patterns(Xt, rng, 6)
    for model in (Model(beta=1.0, hidden_bias="penalized", output_bias="free"),
                  Model(beta=1.0, hidden_bias="free")):
        assert "compression" not in solve_program(Xt, y, S, model).solver_info
