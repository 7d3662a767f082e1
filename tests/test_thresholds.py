"""Thresholds of the exact engine (cvxrelu/arrangements.py, "Thresholds: a floor and a ceiling"):
against the full enumeration, M_upper is never below the exact maximum, a stop happens exactly
when a value above the ceiling exists, and the verdicts of verify do not change."""

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import cvxrelu.arrangements as arr
from cvxrelu.arrangements import analyze
from cvxrelu.certificate import verify
from cvxrelu.lower_bound import lower_bound
from cvxrelu.model import Dataset, Model, Network

from test_arrangements import degenerate, m_oracle

KINDS = ["gaussian", "integer", "duplicates", "zero_rows"]


def instance(seed, n, dt, kind):
    rng = np.random.default_rng(seed)
    X = degenerate(rng, kind, n, dt - 1)
    return np.hstack([X, np.ones((n, 1))]), rng.standard_normal(n)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10**6), n=st.integers(2, 14), dt=st.integers(2, 4), kind=st.sampled_from(KINDS),
       factor=st.floats(0.0, 2.0))
def test_floor_gives_a_sound_upper_bound(seed, n, dt, kind, factor):
    """M_upper >= exact M for any floor; above the floor the value found is the maximum."""
    Xt, nu = instance(seed, n, dt, kind)
    full = analyze(Xt, nu)
    assert full.exact and full.M_upper == full.M + full.M_error
    target = factor * full.M
    res = analyze(Xt, nu, stop_below=target)
    # the floor leaves room for the largest error charge the tolerances may make (known only after
    # the run): at most 4 S (2 PARALLEL_TOL + ANGLE_TOL) plus rounding here (rank <= 4)
    S = float(np.abs(nu) @ np.linalg.norm(Xt, axis=1))
    assert max(target - 1e-9 * S, 0.0) <= res.floor <= max(target - res.M_error, 0.0)
    assert res.M_error == full.M_error
    assert res.M_upper >= full.M - 1e-12 * max(full.M, 1.0)
    assert res.M <= full.M + 2 * full.M_error + 1e-12  # a value attained, never more than M
    if full.M > res.floor + 2 * full.M_error + 1e-9:
        assert res.exact
        assert abs(res.M - full.M) <= 2 * full.M_error + 1e-12 * max(full.M, 1.0)
    assert res.cells_visited == full.cells_visited  # the floor skips checks, not cells


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10**6), n=st.integers(2, 14), dt=st.integers(2, 4), kind=st.sampled_from(KINDS),
       factor=st.floats(0.0, 2.0))
def test_ceiling_stops_exactly_when_a_larger_value_exists(seed, n, dt, kind, factor):
    Xt, nu = instance(seed, n, dt, kind)
    full = analyze(Xt, nu)
    C = factor * full.M
    res = analyze(Xt, nu, stop_above=C)
    if res.stopped:
        assert res.M > C and res.M <= full.M + 2 * full.M_error + 1e-12
        assert res.M_upper == math.inf and not res.exact
    else:
        # nothing above the ceiling was found: the run is the plain one, bit for bit
        assert res.M == full.M and res.cells_visited == full.cells_visited
        assert full.M <= C
    if full.M > C + 2 * full.M_error + 1e-9:
        assert res.stopped


def test_floor_against_an_independent_oracle():
    """The cone-projection oracle over brute-force cells: M_upper covers it, at every floor."""
    Xt, nu = instance(7, 9, 3, "gaussian")
    pats = analyze(Xt, patterns=True).patterns
    M = m_oracle(Xt, nu, pats)
    for factor in (0.0, 0.5, 0.99, 1.0, 1.01, 3.0):
        res = analyze(Xt, nu, stop_below=factor * M)
        assert res.M_upper >= M - 1e-9


def test_thresholds_are_ignored_for_patterns():
    Xt, nu = instance(3, 10, 3, "gaussian")
    a = analyze(Xt, nu, patterns=True)
    b = analyze(Xt, nu, patterns=True, stop_below=1e9, stop_above=0.0)
    assert np.array_equal(a.patterns, b.patterns) and a.M == b.M and not b.stopped and b.floor == 0.0


@pytest.fixture
def always_parallel(monkeypatch):
    monkeypatch.setattr(arr, "PARALLEL_MIN_SECONDS", 0.0)
    monkeypatch.setattr(arr, "SINGLE_TASK_SECONDS", 0.0)


@pytest.mark.parametrize("seed,n,dt", [(0, 60, 3), (1, 24, 4)])
def test_thresholds_are_bit_identical_for_one_and_two_jobs(always_parallel, seed, n, dt):
    """A stop in the middle of the partition gives the same prefix (counts, value, point)."""
    Xt, nu = instance(seed, n, dt, "gaussian")
    full = analyze(Xt, nu)
    # a ceiling the warm start does not pass but some task does
    _, _, Vr, keep, Q = arr.rank_and_rows(Xt)
    ws = arr._Engine(Q, Vr, nu[keep], patterns=False, margin=0.0)
    ws._warm_start()
    assert ws.best.value < full.M  # else the test would not stop mid-way
    C = 0.5 * (ws.best.value + full.M)
    for kw in ({"stop_above": C}, {"stop_below": 0.9 * full.M}, {"stop_below": 1.1 * full.M}):
        one, two = analyze(Xt, nu, jobs=1, **kw), analyze(Xt, nu, jobs=2, **kw)
        assert (one.M, one.M_error, one.argmax_sign, one.stopped, one.floor) == \
            (two.M, two.M_error, two.argmax_sign, two.stopped, two.floor)
        assert np.array_equal(one.argmax, two.argmax)
        assert (one.cells_visited, one.candidates_checked) == (two.cells_visited, two.candidates_checked)


def planted(seed, n, d):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2, 2, (n, d))
    return Dataset(X, np.sin(1.5 * X[:, 0]) + 0.1 * rng.standard_normal(n))


@pytest.mark.parametrize("seed", range(4))
def test_lower_bound_with_thresholds_is_sound_and_no_better(seed):
    data = planted(seed, 25, 2)
    model = Model(beta=0.3, hidden_bias="penalized")
    rng = np.random.default_rng(seed)
    nu = rng.standard_normal(25) * 0.3
    full = lower_bound(nu, data, model, patterns="exact")
    for below, above in ((0.5 * full.M_raw, math.inf), (2 * full.M_raw, math.inf), (-math.inf, 0.5 * full.M_raw)):
        lb = lower_bound(nu, data, model, patterns="exact", stop_below=below, stop_above=above, time_limit=2.0)
        assert lb.M_upper >= full.M_raw - full.M_error
        assert lb.lower_bound <= full.lower_bound + 1e-12 * max(1.0, abs(full.lower_bound))
        if above < math.inf:
            assert lb.details.get("stopped") == "above" and not lb.complete


@pytest.mark.parametrize("seed,stop_seconds", [(0, 0.0), (1, 0.0), (2, None)])
def test_verify_verdicts_are_those_of_the_full_enumeration(seed, stop_seconds, monkeypatch):
    """verify with the thresholds (the default) gives the same status as with the full
    enumeration (thresholds disabled), on nets that certify and on nets that do not."""
    from cvxrelu import certificate

    if stop_seconds is not None:  # the stop above, also on these small problems
        monkeypatch.setattr(certificate, "THRESHOLD_SECONDS", stop_seconds)

    data = planted(seed, 20, 1)
    model = Model(beta=0.2, hidden_bias="penalized")
    from cvxrelu.solve import solve

    good = solve(data, model).network
    rng = np.random.default_rng(seed)
    bad = Network(good.U + 0.3 * rng.standard_normal(good.U.shape), good.alpha, good.b, good.c)
    for net in (good, bad):
        a = verify(net, data, model, patterns="exact")
        real = certificate.lower_bound

        def full(*args, **kw):
            kw.pop("stop_below", None), kw.pop("stop_above", None)
            return real(*args, **kw)

        monkeypatch.setattr(certificate, "lower_bound", full)
        b = verify(net, data, model, patterns="exact")
        monkeypatch.setattr(certificate, "lower_bound", real)
        assert a.status == b.status
        if a.witness_objective is not None:
            assert a.lower_bound <= a.witness_objective


def test_too_large_but_stopped_by_the_warm_start(monkeypatch):
    """Beyond the engine's limits, a ceiling the warm start already passes still answers (the
    value attained is a lower bound on M); a ceiling it does not pass is refused as before."""
    from cvxrelu.errors import TooLargeError

    Xt, nu = instance(5, 30, 3, "gaussian")
    full = analyze(Xt, nu)
    monkeypatch.setattr(arr, "MAX_SECONDS", 0.0)
    with pytest.raises(TooLargeError):
        analyze(Xt, nu)
    res = analyze(Xt, nu, stop_above=0.1 * full.M)
    assert res.stopped and 0.1 * full.M < res.M <= full.M + 2 * full.M_error
    with pytest.raises(TooLargeError):
        analyze(Xt, nu, stop_above=2 * full.M)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10**6), n=st.integers(2, 12), d=st.integers(1, 3),
       bias=st.sampled_from(["none", "penalized", "free"]))
def test_norm_upper_bound_is_above_the_exact_maximum(seed, n, d, bias):
    """The report's upper bound after a stop above (lower_bound.norm_upper_bound) against the
    exact enumeration, for every hidden-bias mode."""
    from cvxrelu.lower_bound import enumerated_constraint, lipschitz_radius, norm_upper_bound

    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    model = Model(beta=1.0, hidden_bias=bias)
    nu = rng.standard_normal(n)
    if bias == "free":
        nu -= nu.mean()
        nu[-1] = -float(np.sum(nu[:-1]))  # an exact zero sum is not needed for the inequality
    Xt = model.augment(X)
    M, err, *_ = enumerated_constraint(Xt, X, nu, model)
    assert norm_upper_bound(nu, lipschitz_radius(X, model), Xt.shape[1]) >= M - err


@pytest.mark.parametrize("excess", [1e-6, 1e-4])
def test_a_slightly_violated_constraint_gets_the_whole_enumeration(monkeypatch, excess):
    """bound_for in exact mode with the thresholds on (THRESHOLD_SECONDS = 0) and a target no
    value of M can reach (tolerance 0): M(nu) exceeds beta by ``excess`` < CEILING_SLACK, so
    the enumeration does not stop at the certifying value but runs whole, and the lower bound
    is the exact one, not the norm bound (with CEILING_SLACK = 0 it stops, and the bound is
    far looser)."""
    import cvxrelu.certificate as cert_mod
    from cvxrelu.lower_bound import dual_start
    from cvxrelu.model import objective

    monkeypatch.setattr(cert_mod, "THRESHOLD_SECONDS", 0.0)  # thresholds on, at this small size
    rng = np.random.default_rng(3)
    X = rng.standard_normal((40, 2))
    y = rng.standard_normal(40)
    Xt = np.hstack([X, np.ones((40, 1))])
    M = analyze(Xt, y).M
    model = Model(M / (1 + excess), hidden_bias="penalized")
    data = Dataset(X, y)
    zero = Network(np.zeros((2, 1)), np.zeros(1), np.zeros(1))
    nu1, shift = dual_start(zero, data, model)
    L = objective(zero, data, model)
    results, default = {}, cert_mod.CEILING_SLACK
    for slack in (default, 0.0):
        monkeypatch.setattr(cert_mod, "CEILING_SLACK", slack)
        results[slack] = cert_mod.bound_for(nu1, shift, data, model, mode="exact", needed=L, allowed=0.0,
                                            seconds=10.0, short_seconds=1.0)
    whole, stopped = results[default], results[0.0]
    assert whole.complete and abs(whole.M_raw - M) <= 1e-9 * M
    assert not stopped.complete and stopped.details.get("stopped") == "above"
    assert L - whole.lower_bound <= 1e-3 * L < L - stopped.lower_bound
