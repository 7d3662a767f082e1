"""The structured interior-point method (cvxrelu/solvers/ipm.py).

Its cone algebra is checked by identities, its answers against the independent cvxpy
formulation (tests/oracles.py) and against Clarabel on the conic form of program.py, on random,
degenerate and both coupling regimes (Woodbury when p dt >= n, Gram otherwise).
"""

import warnings

import numpy as np
import pytest
from hypothesis import assume, example, given, settings, strategies as st

from cvxrelu.arrangements import analyze, sample_patterns
from cvxrelu.colgen import restricted_pricing
from cvxrelu.errors import SolverError
from cvxrelu.model import Dataset, Model, objective, predict
from cvxrelu.program import network_from_blocks, solve_convex_program, solve_program
from cvxrelu.solvers import ipm
from cvxrelu.solvers.ipm import (_SocScaling, _jordan, _jordan_solve, _soc_eig_clip, _soc_margin_step,
                                 _soc_max_step, solve_ipm)

from oracles import cvxpy_program

warnings.filterwarnings("ignore", message="Solution may be inaccurate")

MODES = ["none", "penalized", "free"]


def _interior(rng, m, k):
    x = rng.standard_normal((m, k))
    x[:, 0] = np.linalg.norm(x[:, 1:], axis=1) * (1 + rng.uniform(1e-3, 2, m))
    return x


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10**6), k=st.integers(2, 12))
def test_nt_scaling_identities(seed, k):
    rng = np.random.default_rng(seed)
    s, z = _interior(rng, 5, k), _interior(rng, 5, k)
    sc = _SocScaling.of(s, z)
    lam = sc.apply(z)
    np.testing.assert_allclose(lam, sc.apply_inv(s), rtol=1e-9, atol=1e-12 * np.abs(s).max())
    v = rng.standard_normal((5, k))
    np.testing.assert_allclose(sc.apply(sc.apply_inv(v)), v, atol=1e-10 * np.abs(v).max())
    np.testing.assert_allclose(np.einsum("mij,mj->mi", sc.inv_square(), v),
                               sc.apply_inv(sc.apply_inv(v)), rtol=1e-9, atol=1e-12)
    # the scaled point lies in the cone (W is an automorphism of it)
    assert np.all(lam[:, 0] > np.linalg.norm(lam[:, 1:], axis=1))
    r = rng.standard_normal((5, k))
    np.testing.assert_allclose(_jordan(lam, _jordan_solve(lam, r)), r, atol=1e-9 * np.abs(r).max())


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10**6), k=st.integers(2, 8))
def test_soc_step_reaches_the_boundary_exactly(seed, k):
    rng = np.random.default_rng(seed)
    x, d = _interior(rng, 6, k), rng.standard_normal((6, k))
    a = _soc_max_step(x, d)
    for xi, di, ai in zip(x, d, a):
        if np.isfinite(ai):
            y = xi + ai * di
            assert abs(y[0] - np.linalg.norm(y[1:])) <= 1e-9 * (1 + np.abs(y).max())
            inside = xi + 0.5 * ai * di
            assert inside[0] > np.linalg.norm(inside[1:])
        else:  # the whole ray stays in the cone
            y = xi + 1e6 * di
            assert y[0] >= np.linalg.norm(y[1:]) - 1e-6 * np.abs(y).max()


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10**6), k=st.integers(2, 6), gap=st.sampled_from([1.0, 1e-6, 1e-12, 1e-14]))
def test_soc_margin_step_keeps_iterates_resolvable(seed, k, gap):
    """The step also stops at the shrunk cone x_0 (1 - SOC_MARGIN) >= ||x_1||; a cone already
    closer to its boundary keeps at least half its relative distance; never beyond the true cone."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((6, k))
    nx = np.linalg.norm(x[:, 1:], axis=1)
    x[:, 0] = nx / (1.0 - gap)  # relative distance to the boundary: gap
    d = rng.standard_normal((6, k))
    a = _soc_margin_step(x, d)
    assert a <= float(np.min(_soc_max_step(x, d), initial=np.inf))
    if np.isfinite(a):
        y = x + 0.99 * a * d
        rel = (y[:, 0] - np.linalg.norm(y[:, 1:], axis=1)) / y[:, 0]
        assert np.all(rel >= min(ipm.SOC_MARGIN, 0.5 * gap) * (1 - 1e-6) - 4e-16)


def _ipm_objective(Xt, y, P, model):
    return solve_program(Xt, y, P, model, solver="ipm")


@settings(max_examples=18, deadline=None)
@given(seed=st.integers(0, 10**6), hb=st.sampled_from(MODES), ob=st.sampled_from(MODES),
       n=st.integers(4, 30), d=st.integers(1, 3), n_dirs=st.integers(2, 30))
# a block that stays non-zero drives its Hessian's largest eigenvalue up like 1 / mu^2; the Schur
# floor sized on it once overtook the coupling's curvature, the refinement stalled and the step
# left a dual residual of 2e-4 (numerical_error, "a second-order cone iterate left the interior")
@example(seed=124377, hb="none", ob="none", n=12, d=1, n_dirs=2)
def test_objective_matches_cvxpy_oracle(seed, hb, ob, n, d, n_dirs):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = rng.standard_normal(n)
    model = Model(beta=float(rng.uniform(0.05, 2.0)), hidden_bias=hb, output_bias=ob)
    Xt = model.augment(X)
    P = sample_patterns(Xt, n_dirs, seed)
    P = P[P.any(axis=1)]
    assume(P.shape[0] > 0)
    sol = _ipm_objective(Xt, y, P, model)
    ref = cvxpy_program(Xt, y, P, model)
    assert sol.objective == pytest.approx(ref, rel=1e-7, abs=1e-9)
    assert sol.solver_info["status"] in ("solved", "almost_solved")


def test_nonzero_block_near_the_boundary_is_solved_to_full_tolerance():
    """The hypothesis example above, directly: the step of every iteration solves the Newton
    system (no dual residual from the Schur floor) and no cone iterate reaches its boundary."""
    rng = np.random.default_rng(124377)
    X, y = rng.standard_normal((12, 1)), rng.standard_normal(12)
    model = Model(beta=float(rng.uniform(0.05, 2.0)))
    Xt = model.augment(X)
    P = sample_patterns(Xt, 2, 124377)
    P = P[P.any(axis=1)]
    seen = []
    r = solve_ipm(Xt, y, P, model.beta, trace=seen.append)
    assert r.info["status"] == "solved"
    dres = [d["dual_residual"] for d in seen] + [r.info["dual_residual"]]
    first = next(i for i, v in enumerate(dres) if v <= ipm.TOL_FEAS)
    assert max(dres[first:]) <= ipm.TOL_FEAS  # once dual feasible, the steps keep it so
    assert r.info["primal_objective"] == pytest.approx(cvxpy_program(Xt, y, P, model), rel=1e-8)


@pytest.mark.parametrize("n,n_dirs", [(60, 3), (8, 40)])
def test_both_coupling_regimes_agree_with_clarabel(n, n_dirs):
    rng = np.random.default_rng(n)
    X = rng.standard_normal((n, 2))
    y = np.maximum(X @ [1.0, -0.5], 0) + 0.1 * rng.standard_normal(n)
    model = Model(beta=0.3, hidden_bias="penalized", output_bias="free")
    Xt = model.augment(X)
    P = sample_patterns(Xt, n_dirs, 1)
    P = P[P.any(axis=1)]
    sol = _ipm_objective(Xt, y, P, model)
    expected = "gram" if P.shape[0] * Xt.shape[1] < n else "woodbury"
    assert sol.solver_info["coupling"].startswith(expected)
    ref = solve_convex_program(Xt, y, P, model).objective
    assert sol.objective == pytest.approx(ref, rel=1e-8)


def _degenerate(kind, rng):
    n = int(rng.integers(5, 12))
    if kind == "duplicates":
        X = rng.integers(-2, 3, (n, 2)).astype(float)
        X[n // 2:] = X[: n - n // 2]
    elif kind == "zero rows":
        X = rng.standard_normal((n, 2))
        X[:2] = 0.0
    elif kind == "rank one":
        X = np.outer(rng.standard_normal(n), rng.standard_normal(3))
    else:  # d > n
        n = int(rng.integers(3, 6))
        X = rng.standard_normal((n, n + 2))
    return X


@pytest.mark.parametrize("kind", ["duplicates", "zero rows", "rank one", "d > n"])
@pytest.mark.parametrize("hb", MODES)
def test_degenerate_data_with_exact_patterns(kind, hb):
    rng = np.random.default_rng(len(kind) + 7 * MODES.index(hb))
    X = _degenerate(kind, rng)
    y = rng.standard_normal(X.shape[0])
    model = Model(beta=0.2, hidden_bias=hb)
    Xt = model.augment(X)
    P = analyze(Xt, patterns=True).patterns
    P = P[P.any(axis=1)]
    sol = _ipm_objective(Xt, y, P, model)
    assert sol.objective == pytest.approx(cvxpy_program(Xt, y, P, model), rel=1e-7, abs=1e-9)


def test_solution_is_feasible_and_dual_certified_on_its_patterns():
    """Primal: every block in its cone; dual: max over the cells of the dual constraint <= beta."""
    rng = np.random.default_rng(5)
    X = rng.standard_normal((80, 3))
    y = np.maximum(X @ rng.standard_normal(3), 0) + 0.1 * rng.standard_normal(80)
    model = Model(beta=0.5)
    P = sample_patterns(X, 60, 2)
    P = P[P.any(axis=1)]
    sol = _ipm_objective(X, y, P, model)
    for M in (sol.W, sol.V):
        A = (2 * P - 1.0) * (M @ X.T)  # (p, n): sigma_ik x_k' w_i
        scale = np.linalg.norm(M, axis=1)[:, None] * np.linalg.norm(X, axis=1)[None, :]
        assert np.all(A >= -1e-7 * scale)
    net = network_from_blocks(sol.W, sol.V, sol.c, model, 1e-9)
    L = objective(net, Dataset(X, y), model)
    assert L == pytest.approx(sol.objective, rel=1e-7)
    lam = predict(net, X) - y
    M, _, _ = restricted_pricing(X, lam, P, model.beta)
    assert M <= model.beta * (1 + 1e-5)


def test_failure_is_an_error_never_an_answer():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 2))
    y = rng.standard_normal(30)
    P = sample_patterns(X, 20, 0)
    with pytest.raises(SolverError):
        solve_ipm(X, y, P, 0.3, max_iter=2)


def test_inaccurate_iterate_only_on_request_feasible_and_never_below_the_optimum():
    """allow_inaccurate: a run cut short returns its feasible iterate of smallest gap, labelled
    "inaccurate" with that gap, whose objective is not below the true optimum (beyond the
    feasibility tolerance); without it the same run is an error."""
    rng = np.random.default_rng(3)
    X = rng.standard_normal((40, 3))
    y = rng.standard_normal(40)
    P = sample_patterns(X, 25, 0)
    seen = []
    full = solve_ipm(X, y, P, 0.3, trace=seen.append)
    opt = full.info["primal_objective"]
    # the trace sees every iteration that took a step, in order, with its measures
    assert [d["iteration"] for d in seen] == list(range(full.info["iterations"]))
    assert all(0 < d["step"] <= 1 and d["relative_gap"] >= 0 for d in seen)
    found = 0
    for it in range(4, 14):
        try:
            r = solve_ipm(X, y, P, 0.3, max_iter=it, allow_inaccurate=True)
        except SolverError:
            continue  # no feasible iterate yet
        if r.info["status"] != "inaccurate":
            continue
        found += 1
        assert r.info["relative_gap"] > ipm.REDUCED_TOL_GAP_REL
        assert r.info["primal_residual"] <= ipm.REDUCED_TOL_FEAS
        assert r.info["primal_objective"] >= opt - 1e-5 * max(1.0, abs(opt))
        with pytest.raises(SolverError):
            solve_ipm(X, y, P, 0.3, max_iter=it)
    assert found > 0


def test_auto_falls_back_to_clarabel_when_the_ipm_fails(monkeypatch):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((20, 2))
    y = rng.standard_normal(20)
    model = Model(beta=0.3)
    P = sample_patterns(X, 10, 0)

    def broken(*args, **kwargs):
        raise SolverError("forced failure")

    monkeypatch.setattr(ipm, "solve_ipm", broken)
    sol = solve_program(X, y, P, model, solver="auto")
    assert sol.solver_info["solver"] == "clarabel"
    assert "forced failure" in sol.solver_info["fallback_from"]
    with pytest.raises(SolverError):
        solve_program(X, y, P, model, solver="ipm")


def test_polish_never_raises_the_objective_and_sharpens_the_dual_point():
    """program.polish_squared: Newton on the identified face. The raw interior-point answer is
    accurate in the objective but its gradient, the dual point verify uses, only to about the
    square root of the tolerance; the polished one satisfies the dual constraints tightly."""
    from cvxrelu.program import convex_objective, polish_squared

    rng = np.random.default_rng(8)
    X = rng.standard_normal((120, 3))
    y = np.maximum(X @ rng.standard_normal(3), 0) + 0.1 * rng.standard_normal(120)
    model = Model(beta=0.5)
    P = sample_patterns(X, 40, 3)
    P = P[P.any(axis=1)]
    p = P.shape[0]
    raw = solve_ipm(X, y, P, model.beta)
    W, V = raw.U[:p], raw.U[p:]
    out = polish_squared(X, y, P, W, V, None, model, support=raw.support)
    assert out is not None
    W2, V2, _ = out
    assert convex_objective(X, y, P, W2, V2, None, model) <= convex_objective(X, y, P, W, V, None, model)

    def dual_ratio(W, V):
        net = network_from_blocks(W, V, None, model, 1e-12)
        M, _, _ = restricted_pricing(X, predict(net, X) - y, P, model.beta)
        return M / model.beta

    assert dual_ratio(W2, V2) - 1 <= 1e-8
    # never a worse violation than the raw point's (a raw point strictly inside, ratio < 1, may be
    # polished onto the boundary: ratio 1 up to rounding)
    assert dual_ratio(W2, V2) <= max(dual_ratio(W, V), 1.0) + 1e-12


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10**6), k=st.integers(2, 12), scale=st.floats(1e-3, 1e3))
def test_soc_eigenvalue_clip(seed, k, scale):
    """The SOC corrector's target: Jordan eigenvalues v0 +- ||v1|| moved into [lo, hi] (a decrease
    by at most hi), eigenvectors kept; an element already inside comes back unchanged."""
    rng = np.random.default_rng(seed)
    v = scale * rng.standard_normal((6, k))
    lo, hi = 0.1 * scale, 10.0 * scale

    def eig(x):
        nx = np.linalg.norm(x[:, 1:], axis=1)
        return np.sort(np.c_[x[:, 0] + nx, x[:, 0] - nx], axis=1)

    out = _soc_eig_clip(v, lo, hi)
    e = eig(v)
    expect = np.sort(np.maximum(np.clip(e, lo, hi), e - hi), axis=1)
    assert np.allclose(eig(out), expect, rtol=1e-9, atol=1e-9 * scale)
    # same eigenvectors: the vector part keeps its direction (or vanishes)
    cos = np.einsum("ij,ij->i", out[:, 1:], v[:, 1:])
    assert np.all(cos >= -1e-12 * scale**2) or np.allclose(out[:, 1:], 0)
    inside = np.zeros((6, k))
    inside[:, 0], inside[:, 1] = 2.0 * scale, 0.5 * scale
    assert np.allclose(_soc_eig_clip(inside, lo, hi), inside, rtol=1e-12)


def test_unknown_solver_settings_are_rejected_at_the_seam():
    """A misspelt option is an InputError naming it, for every backend; known ones reach the backend."""
    from cvxrelu.convex import SolverStatus
    from cvxrelu.errors import InputError

    rng = np.random.default_rng(0)
    X = rng.standard_normal((12, 2))
    y = rng.standard_normal(12)
    model = Model(beta=0.1)
    P = sample_patterns(X, 6, 0)
    for opts, word in (({"ipm": {"tol": 1e-3}}, "'tol'"), ({"first-order": {"tol_feas": 1}}, "'tol_feas'"),
                           ({"clarabel": {"tol_gap": 1e-3}}, "'tol_gap'"), ({"cvxopt": {}}, "'cvxopt'")):
        with pytest.raises(InputError, match=word):
            solve_program(X, y, P, model, solver="auto", settings=opts)
    sol = solve_program(X, y, P, model, solver="first-order", settings={"first-order": {"tol": 1e-14, "max_iter": 10}})
    assert sol.status is SolverStatus.INACCURATE and sol.solver_info["iterations"] <= 10 + 200
    # the setting reached Clarabel (MaxIterations); its failure falls back to the barrier method
    sol = solve_program(X, y, P, model, solver="clarabel", settings={"clarabel": {"max_iter": 1}})
    assert "MaxIterations" in sol.solver_info["fallback_from"] and sol.solver.startswith("cvxrelu-newton")
