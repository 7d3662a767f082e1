"""Sound bounds on the dual constraint M(nu) (cvxrelu/bounds.py) against independent oracles:
the exact enumeration (arrangements.analyze), closed forms (spike-free data, sigma_max of small
integer matrices in exact arithmetic) and brute force over the cells of a node (NNLS)."""

from decimal import Decimal, getcontext
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import nnls

from cvxrelu import bounds as B
from cvxrelu.arrangements import analyze
from cvxrelu.bounds import MBound, bound_dual_constraint

# ----------------------------------------------------------------------------- oracles


def exact_M(Xt, nu, free):
    """Exact M and its error bound by enumeration (free bias: the kink identity, n arrangements)."""
    if not free:
        r = analyze(Xt, nu)
        return r.M, r.M_error
    X = Xt[:, :-1]
    M = float(np.linalg.norm(X.T @ nu))
    err = 1e-13 * (1 + float(np.abs(nu) @ np.linalg.norm(Xt, axis=1)))
    for k in range(X.shape[0]):
        r = analyze(X - X[k][None, :], nu)
        M, err = max(M, r.M), max(err, r.M_error)
    return M, err


def zero_sum(nu):
    """nu - mean on a dyadic grid (scaled to the magnitude of nu), summing to exactly 0."""
    import math

    nu = nu - nu.mean()
    m = float(np.max(np.abs(nu))) if nu.size else 0.0
    if m == 0.0:
        return np.zeros_like(nu)
    q = 2.0 ** (math.floor(math.log2(m)) - 30)
    nu = np.round(nu / q) * q
    nu[-1] = -math.fsum(nu[:-1].tolist())
    assert math.fsum(nu.tolist()) == 0.0
    return nu


def data(rng, kind, n, dt):
    if kind == "gaussian":
        return rng.standard_normal((n, dt))
    if kind == "integer":
        return rng.integers(-2, 3, size=(n, dt)).astype(float)
    if kind == "duplicates":
        X = rng.standard_normal((n, dt))
        X[n // 2:] = X[: n - n // 2] * rng.choice([1.0, -2.0, 3.0], (n - n // 2, 1))
        return X
    if kind == "zero_rows":
        X = rng.standard_normal((n, dt))
        X[::3] = 0.0
        return X
    if kind == "colinear":
        return np.outer(rng.standard_normal(n), rng.standard_normal(dt))
    if kind == "rank_deficient":
        k = max(1, dt - 1)
        return rng.integers(-2, 3, size=(n, k)).astype(float) @ rng.standard_normal((k, dt))
    if kind == "scaled":
        return rng.standard_normal((n, dt)) * 10.0 ** rng.integers(-6, 7)
    raise AssertionError(kind)


KINDS = ["gaussian", "integer", "duplicates", "zero_rows", "colinear", "rank_deficient", "scaled"]


def nu_for(rng, n, free):
    nu = rng.standard_normal(n) * (1e-9 if rng.random() < 0.1 else 1.0)
    if rng.random() < 0.2:
        nu[rng.random(n) < 0.3] = 0.0
    if free:
        nu = zero_sum(nu)
    return nu


def check_result(res: MBound, Xt, nu, M, err, free):
    assert np.isfinite(res.upper)
    assert res.upper >= M - err, (res.upper, M, err, res.method)
    scale = float(np.abs(nu) @ np.linalg.norm(Xt, axis=1)) + 1e-300
    assert res.lower <= res.upper + 1e-14 * scale
    assert res.lower <= M + err + 1e-14 * scale
    for name, v in res.details.get("cheap_bounds", {}).items():
        assert v >= M - err, (name, v, M)
    if res.details.get("root_bound") is not None:
        assert res.details["root_bound"] >= M - err
    if res.argmax is not None:
        v = res.argmax
        if free:
            assert abs(np.linalg.norm(v[:-1]) - 1) < 1e-12
        else:
            assert abs(np.linalg.norm(v) - 1) < 1e-12
        f = float(nu @ np.maximum(Xt @ v, 0.0))
        assert abs(res.sign * f - res.lower) <= 1e-14 * scale
    else:
        assert res.lower == 0.0


def run_sweep(seed, count, free):
    rng = np.random.default_rng(seed)
    done = 0
    while done < count:
        kind = KINDS[rng.integers(len(KINDS))]
        n = int(rng.integers(1, 9))
        d = int(rng.integers(1, 3 if free else 4))
        X = data(rng, kind, n, d)
        Xt = np.hstack([X, np.ones((n, 1))]) if free else X
        nu = nu_for(rng, n, free)
        if nu is None:
            continue
        M, err = exact_M(Xt, nu, free)
        runs = [(30, 1), (30, 3), (0.0, None), (30, None)] if done % 4 == 0 else [(30, None)]
        for limit, cap in runs:
            res = bound_dual_constraint(Xt, nu, free_bias=free, time_limit=limit, max_nodes=cap)
            check_result(res, Xt, nu, M, err, free)
            if cap is None and limit > 0 and res.complete:
                assert res.upper - res.lower <= 1e-6 * res.upper + 1e-300
        done += 1


# ----------------------------------------------------------------------------- soundness


def test_soundness_random_no_free_bias():
    run_sweep(1, 600, free=False)


def test_soundness_random_free_bias():
    run_sweep(2, 250, free=True)


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 10**6), kind=st.sampled_from(KINDS), n=st.integers(1, 7),
       d=st.integers(1, 3), free=st.booleans(), cap=st.sampled_from([1, 2, 5, None]))
def test_soundness_property(seed, kind, n, d, free, cap):
    rng = np.random.default_rng(seed)
    d = min(d, 2) if free else d
    X = data(rng, kind, n, d)
    Xt = np.hstack([X, np.ones((n, 1))]) if free else X
    nu = nu_for(rng, n, free)
    if nu is None:
        return
    M, err = exact_M(Xt, nu, free)
    res = bound_dual_constraint(Xt, nu, free_bias=free, time_limit=30, max_nodes=cap)
    check_result(res, Xt, nu, M, err, free)


@pytest.mark.slow
def test_soundness_large_sweep():
    run_sweep(11, 3000, free=False)
    run_sweep(12, 2000, free=True)


# ----------------------------------------------------------------------------- completion


@pytest.mark.parametrize("d", [2, 3, 4])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bnb_completes_to_enumerated_M(d, seed):
    rng = np.random.default_rng(100 * d + seed)
    n = 14
    Xt = rng.standard_normal((n, d))
    nu = rng.standard_normal(n)
    ex = analyze(Xt, nu)
    res = bound_dual_constraint(Xt, nu, time_limit=120)
    assert res.complete
    assert abs(res.upper - ex.M) <= 1e-6 * ex.M
    assert abs(res.lower - ex.M) <= 1e-6 * ex.M


@pytest.mark.parametrize("d", [1, 2])
def test_bnb_completes_free_bias(d):
    rng = np.random.default_rng(7 + d)
    n = 10
    X = rng.standard_normal((n, d))
    Xt = np.hstack([X, np.ones((n, 1))])
    nu = zero_sum(rng.standard_normal(n))
    M, _ = exact_M(Xt, nu, True)
    res = bound_dual_constraint(Xt, nu, free_bias=True, time_limit=120)
    assert res.complete
    assert abs(res.upper - M) <= 1e-6 * M
    assert abs(res.lower - M) <= 1e-6 * M


def test_bnb_forced_past_the_incumbent():
    """With a stop_below far below M, the search must close the gap by branching itself."""
    rng = np.random.default_rng(5)
    Xt = rng.standard_normal((12, 3))
    nu = rng.standard_normal(12)
    ex = analyze(Xt, nu)
    res = bound_dual_constraint(Xt, nu, time_limit=120)
    assert res.method in ("branch-and-bound", "relaxation", "norm")
    assert res.upper >= ex.M - ex.M_error
    assert res.upper <= ex.M * (1 + 1e-6)


def test_rank_deficient_high_dimension_is_reduced():
    rng = np.random.default_rng(3)
    Xt = rng.standard_normal((15, 2)) @ rng.standard_normal((2, 7))
    nu = rng.standard_normal(15)
    ex = analyze(Xt, nu)
    res = bound_dual_constraint(Xt, nu, time_limit=60)
    assert res.details["reduced"] and res.details["rank"] == 2
    assert res.upper >= ex.M - ex.M_error
    assert res.complete and abs(res.upper - ex.M) <= 1e-6 * ex.M


# ----------------------------------------------------------------------------- spike-free


def whitened(rng, n, d):
    Q, _ = np.linalg.qr(rng.standard_normal((d, n)))
    return Q.T  # (n, d), orthonormal rows


@pytest.mark.parametrize("n,d", [(30, 40), (100, 150)])
def test_whitened_is_spike_free_and_exact(n, d):
    rng = np.random.default_rng(n)
    Xt = whitened(rng, n, d)
    nu = rng.standard_normal(n)
    closed = max(np.linalg.norm(np.maximum(nu, 0)), np.linalg.norm(np.maximum(-nu, 0)))
    res = bound_dual_constraint(Xt, nu)
    assert res.method == "spike-free"
    assert res.details["spike_free"]["kind"].startswith("orthogonal rows")
    assert res.upper >= closed * (1 - 1e-15)
    assert abs(res.upper - closed) <= 1e-12 * closed
    assert abs(res.lower - closed) <= 1e-12 * closed
    assert res.complete


def test_diagonal_data_spike_free():
    rng = np.random.default_rng(4)
    s = rng.uniform(0.5, 3.0, 6) * rng.choice([-1, 1], 6)
    Xt = np.zeros((6, 8))
    Xt[np.arange(6), np.arange(6)] = s
    nu = rng.standard_normal(6)
    w = nu * np.abs(s)
    closed = max(np.linalg.norm(np.maximum(w, 0)), np.linalg.norm(np.maximum(-w, 0)))
    res = bound_dual_constraint(Xt, nu)
    assert res.method == "spike-free"
    assert abs(res.upper - closed) <= 1e-12 * closed
    assert res.complete and res.upper >= analyze(Xt, nu).M - 1e-12


def test_rank_one_positive_factor_spike_free():
    rng = np.random.default_rng(6)
    c = rng.uniform(0.1, 2.0, 20)
    a = rng.standard_normal(5)
    Xt = np.outer(c, a)
    nu = rng.standard_normal(20)
    closed = abs(nu @ c) * np.linalg.norm(a)
    res = bound_dual_constraint(Xt, nu)
    assert res.method == "spike-free", res.details
    assert res.upper >= closed * (1 - 1e-14)
    assert abs(res.upper - closed) <= 1e-9 * closed
    assert res.complete


def test_not_spike_free_is_not_labelled():
    rng = np.random.default_rng(8)
    Xt = rng.standard_normal((30, 5))
    res = bound_dual_constraint(Xt, rng.standard_normal(30), time_limit=1)
    assert res.details["spike_free"]["kind"] is None
    assert res.method != "spike-free"


def test_nearly_whitened_stays_sound():
    """Perturbed whitened data fail the test; the bound is still >= the exact value."""
    rng = np.random.default_rng(9)
    Xt = whitened(rng, 3, 3) + 1e-3 * rng.standard_normal((3, 3))
    nu = rng.standard_normal(3)
    res = bound_dual_constraint(Xt, nu)
    ex = analyze(Xt, nu)
    assert res.upper >= ex.M - ex.M_error


# ----------------------------------------------------------------------------- sigma_max


def exact_sigma2(A):
    """lambda_max of A^T A (2 x 2) in exact rational arithmetic, as a Decimal to 50 digits."""
    getcontext().prec = 60
    F = [[Fraction(float(x)) for x in row] for row in A]
    G = [[sum(F[k][i] * F[k][j] for k in range(len(F))) for j in range(2)] for i in range(2)]
    tr = G[0][0] + G[1][1]
    det = G[0][0] * G[1][1] - G[0][1] * G[1][0]
    disc = tr * tr - 4 * det
    D = lambda q: Decimal(q.numerator) / Decimal(q.denominator)
    return (D(tr) + D(disc).sqrt()) / 2


@settings(max_examples=200, deadline=None)
@given(entries=st.lists(st.integers(-2**20, 2**20), min_size=6, max_size=6),
       shift=st.integers(-40, 40), rows=st.sampled_from([2, 3]))
def test_sigma_max_upper_is_sound_exactly(entries, shift, rows):
    A = np.array(entries[: rows * 2], dtype=float).reshape(rows, 2) * 2.0**shift
    if rows == 2:
        A = A.T.copy()
    sig, _ = B._sigma_max_upper(A)
    lam = exact_sigma2(A if A.shape[1] == 2 else A.T)
    assert Decimal(sig) ** 2 >= lam
    if lam > 0:
        assert float(Decimal(sig) ** 2 / lam) <= 1 + 1e-12


def test_sigma_max_upper_nearly_tight():
    rng = np.random.default_rng(0)
    for shape in [(50, 5), (5, 50), (200, 11), (40, 40)]:
        A = rng.standard_normal(shape)
        s = np.linalg.norm(A, 2)
        up, how = B._sigma_max_upper(A)
        assert how == "cholesky"
        assert s <= up <= s * (1 + 1e-12)


# ----------------------------------------------------------------------------- node bounds


def cells_of(Xt):
    return analyze(Xt, None, patterns=True).patterns.astype(int)


def cell_max(Xt, nus, s):
    """max over the closed cell of pattern s and the unit ball of nus^T (Xt u)_+ (NNLS)."""
    A = (2 * s - 1)[:, None] * Xt
    g = Xt.T @ (s * nus)
    _, r = nnls(A.T, -g, maxiter=5000)
    return r


@settings(max_examples=80, deadline=None)
@given(seed=st.integers(0, 10**6), n=st.integers(2, 7), d=st.integers(2, 3),
       fixes=st.integers(0, 4))
def test_node_bound_dominates_brute_force(seed, n, d, fixes):
    rng = np.random.default_rng(seed)
    Xt = rng.standard_normal((n, d))
    nu = rng.standard_normal(n)
    prob = B._Problem(Xt, nu, False, 0.0)
    pats = cells_of(Xt)
    for sg in (1, -1):
        node = B._Node(sg, np.zeros(n, np.int8), -prob.hK_rows.copy(), prob.hK_rows.copy())
        for _ in range(fixes):
            und = np.flatnonzero(node.state == 0)
            if und.size == 0:
                break
            B._tighten(prob, node, int(rng.choice(und)), int(rng.choice([1, -1])))
            B._tighten_all(prob, node)
        ok = np.all((node.state != 1) | (pats == 1), axis=1) & np.all((node.state != -1) | (pats == 0), axis=1)
        true = max([cell_max(Xt, sg * nu, s) for s in pats[ok]], default=0.0)
        bound, _ = B._solve_node(prob, node, {})
        assert bound >= true - 1e-12 * (1 + true)
        # every point of the multiplier box gives a bound (weak duality), not only the solver's
        wlo, whi, fixed, pos = B._box(prob, node)
        for _ in range(5):
            w = np.where(np.isnan(fixed), rng.standard_normal(n) * 3, fixed)
            w = np.clip(w, wlo, whi)
            b2, _ = B._node_bound(prob, node, w, pos)
            assert b2 >= true - 1e-12 * (1 + true)
        # the interval bounds of the undecided rows hold on every admissible cell's extreme rays
        assert np.all(node.lo <= node.hi)


def test_tightened_intervals_hold_on_samples():
    rng = np.random.default_rng(1)
    Xt = rng.standard_normal((8, 3))
    prob = B._Problem(Xt, rng.standard_normal(8), False, 0.0)
    node = B._Node(1, np.zeros(8, np.int8), -prob.hK_rows.copy(), prob.hK_rows.copy())
    B._tighten(prob, node, 0, 1)
    B._tighten(prob, node, 3, -1)
    B._tighten(prob, node, 5, 1)
    before = node.hi.copy(), node.lo.copy()
    B._tighten_all(prob, node)
    U = rng.standard_normal((3, 400000))
    U *= rng.random(400000) ** (1 / 3) / np.linalg.norm(U, axis=0)  # uniform in the ball
    T = Xt @ U
    inside = (T[0] >= 0) & (T[3] <= 0) & (T[5] >= 0)
    T = T[:, inside]
    und = node.state == 0
    assert np.all(T.min(axis=1)[und] >= node.lo[und] - 1e-12)
    assert np.all(T.max(axis=1)[und] <= node.hi[und] + 1e-12)
    assert np.all(T[node.state == 1] >= -1e-12) and np.all(T[node.state == -1] <= 1e-12)
    assert np.any(node.hi < prob.hK_rows - 1e-6)  # the tightening did something
    assert np.all(node.hi <= before[0]) and np.all(node.lo >= before[1])


# ----------------------------------------------------------------------------- API behaviour


def test_stop_below_and_stop_above():
    rng = np.random.default_rng(2)
    Xt = rng.standard_normal((12, 3))
    nu = rng.standard_normal(12)
    M = analyze(Xt, nu).M
    res = bound_dual_constraint(Xt, nu, stop_below=10 * M)
    assert res.complete and M <= res.upper <= 10 * M
    res = bound_dual_constraint(Xt, nu, stop_above=0.5 * M)
    assert res.complete and res.lower > 0.5 * M


def test_time_limit_zero_still_sound():
    rng = np.random.default_rng(4)
    Xt = rng.standard_normal((40, 4))
    nu = rng.standard_normal(40)
    ex = analyze(Xt, nu)
    res = bound_dual_constraint(Xt, nu, time_limit=0.0)
    assert res.upper >= ex.M - ex.M_error and np.isfinite(res.upper)


def test_free_bias_needs_zero_sum():
    Xt = np.array([[1.0, 1.0], [2.0, 1.0], [-1.0, 1.0]])
    res = bound_dual_constraint(Xt, np.array([1.0, -0.5, 0.0]), free_bias=True)
    assert res.upper == np.inf and not res.complete


def test_bad_inputs_raise():
    with pytest.raises(ValueError):
        bound_dual_constraint(np.array([[np.nan, 1.0]]), np.array([1.0]))
    with pytest.raises(ValueError):
        bound_dual_constraint(np.ones((3, 2)), np.ones(2))
    with pytest.raises(ValueError):
        bound_dual_constraint(np.ones((3, 2)) * 2, np.zeros(3), free_bias=True)


def test_extreme_scales():
    res = bound_dual_constraint(np.array([[1.0, 1.0]]), np.array([1e70]))
    assert res.upper == np.inf and not res.complete
    rng = np.random.default_rng(3)
    Xt = rng.standard_normal((8, 2))
    Xt[0, 0], Xt[3, 1] = 1e-70, -1e-90
    nu = rng.standard_normal(8)
    nu[2] = 1e-80
    ex = analyze(Xt, nu)
    res = bound_dual_constraint(Xt, nu)
    assert res.details["scale_shift"] > 0
    assert res.upper >= ex.M - ex.M_error and abs(res.upper - ex.M) <= 1e-6 * ex.M


def test_zero_data_and_zero_nu():
    res = bound_dual_constraint(np.zeros((4, 3)), np.ones(4))
    assert res.upper == 0.0 and res.complete
    res = bound_dual_constraint(np.ones((4, 3)), np.zeros(4))
    assert res.upper == 0.0 and res.lower == 0.0 and res.complete


def test_starts_seed_the_incumbent_and_progress_reports():
    rng = np.random.default_rng(5)
    Xt = rng.standard_normal((60, 5))
    nu = rng.standard_normal(60)
    seen = []

    class P:
        def task(self, description, total):
            seen.append(description)
            return lambda k=1: None

    res = bound_dual_constraint(Xt, nu, time_limit=1.5, starts=rng.standard_normal((5, 3)), progress=P())
    assert res.lower > 0 and res.upper >= res.lower
    assert seen and seen[0].startswith("Bounding M")


def test_more_starts_is_asked_only_when_the_cheap_stages_do_not_settle():
    """``more_starts`` (verify's refutation search) is called once, after the norm bounds, the
    spike-free test and the first ascent, and only when they have not settled the question; a
    direction it gives that attains more than ``stop_above`` stops the bound before branching,
    with that value as the attained one."""
    rng = np.random.default_rng(3)
    # orthonormal rows: spike-free, settled exactly by the cheap stage
    Q, _ = np.linalg.qr(rng.standard_normal((12, 8)))
    calls = []
    res = bound_dual_constraint(Q.T.copy(), rng.standard_normal(8), more_starts=lambda: calls.append(1))
    assert res.method == "spike-free" and calls == []
    # tests/data/d10_sampled.npz: the first ascent attains M / beta = 1 + 5e-7 at the network's
    # gradient; the refutation's search finds more than 1.1, which ends the bound before branching
    from pathlib import Path

    from cvxrelu.lower_bound import dual_start, live_directions
    from cvxrelu.model import Dataset, Model, Network
    from cvxrelu.refute import network_search

    z = np.load(Path(__file__).with_name("data") / "d10_sampled.npz")
    data, model = Dataset(z["X"], z["y"]), Model(beta=float(z["beta"]))
    net = Network(U=z["U"], alpha=z["alpha"])
    nu, _ = dual_start(net, data, model)
    Xt, beta = model.augment(data.X), model.beta
    search = network_search(net, data, model)
    assert search.ratio > 1.1
    stop = 1.01 * beta
    without = bound_dual_constraint(Xt, nu, stop_above=stop, starts=live_directions(net, model), max_nodes=0)
    assert without.lower <= stop
    res = bound_dual_constraint(Xt, nu, stop_above=stop, starts=live_directions(net, model), max_nodes=50,
                                more_starts=lambda: calls.append(1) or search.directions)
    assert calls == [1]
    assert res.nodes == 0 and res.lower >= search.ratio * beta * (1 - 1e-12) and res.upper >= res.lower
