"""verify --exact (cvxrelu/exact.py): P* bracketed by column generation, the true gap, the verdict.

Oracles: the cvxpy program over every pattern (tests/oracles.py, small problems), and for the
scikit-learn nets an independent column generation (cvxpy + Clarabel on the working set, a
brute-force angle grid as the pricing) that shares nothing with the package's engine.
"""

from __future__ import annotations

import json
import math
import os
import pickle
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oracles import all_patterns_bruteforce, cvxpy_program, oracle_column_generation_2d
from cvxrelu import exact as exact_mod
from cvxrelu.certificate import Certificate, Status, verify
from cvxrelu.errors import SolverError
from cvxrelu.exact import WITNESS_KIND, ExactResult, exact_optimum, merge_into
from cvxrelu.interop.conventions import from_sklearn
from cvxrelu.io import load_checkpoint, save_checkpoint
from cvxrelu.model import Dataset, Model, Network, objective

warnings.filterwarnings("ignore", message="Solution may be inaccurate")

ROOT = Path(__file__).resolve().parents[1]


def run(*args):
    return subprocess.run([sys.executable, "-m", "cvxrelu", *map(str, args)], check=False, capture_output=True,
                          text=True, env=dict(os.environ), timeout=600)


def small_problem(seed, n, d, loss, hb, ob, m=3):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = np.sign(X[:, 0] - 0.2 + 0.5 * rng.standard_normal(n)) if loss == "logistic" else \
        X[:, 0] - np.abs(X[:, -1]) + 0.3 * rng.standard_normal(n)
    if loss == "logistic":
        y[y == 0] = 1.0
    model = Model(beta=0.3, loss=loss, hidden_bias=hb, output_bias=ob)
    net = Network(rng.standard_normal((d, m)), rng.standard_normal(m),
                  rng.standard_normal(m) if hb != "none" else None,
                  float(rng.standard_normal()) if ob != "none" else None)
    return Dataset(X, y), model, net


def full_optimum(data, model):
    """The oracle: cvxpy over every pattern of the (augmented) arrangement."""
    Xt = model.augment(data.X)
    P = all_patterns_bruteforce(Xt, n_dirs=100_000)
    return float(cvxpy_program(Xt, data.y, P[P.any(axis=1)], model))


def assert_bracket(ex: ExactResult, P_star: float, L: float, data, model):
    slack = 1e-7 * max(1.0, abs(P_star))  # the oracle's own accuracy
    assert ex.optimum_lower <= P_star + slack
    assert P_star <= ex.optimum_upper + slack
    # the optimum's objective is evaluated: it is the upper end
    assert objective(ex.network, data, model) == ex.optimum_upper
    # the gap reported is L - P* within the bracket
    assert ex.gap_lower == L - ex.optimum_upper and ex.gap_upper == L - ex.optimum_lower
    assert ex.gap_lower - slack <= L - P_star <= ex.gap_upper + slack
    d = ex.to_dict()
    assert d["gap_lower"] == ex.gap_lower and d["relative_gap_upper"] == pytest.approx(ex.gap_upper / abs(L))
    json.dumps(d, allow_nan=False)


MODES = [
    ("squared", "none", "none"),
    ("squared", "penalized", "penalized"),
    ("squared", "free", "free"),
    ("squared", "none", "free"),
    ("logistic", "none", "none"),
    ("logistic", "free", "free"),
    ("logistic", "penalized", "free"),
]


@pytest.mark.parametrize("loss,hb,ob", MODES)
def test_bracket_contains_the_optimum_over_every_pattern(loss, hb, ob):
    data, model, net = small_problem(3, 10, 2, loss, hb, ob)
    L = objective(net, data, model)
    ex = exact_optimum(net, data, model, time_limit=60.0)
    assert ex.status == "complete", ex.reason
    # squared: polished restricted solutions; logistic: Clarabel's accuracy (no polish) is the limit
    width = 1e-6 if loss == "squared" else 1e-5
    assert ex.optimum_upper - ex.optimum_lower <= width * max(1.0, abs(ex.optimum_upper))
    assert_bracket(ex, full_optimum(data, model), L, data, model)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), n=st.integers(5, 9), d=st.integers(1, 2),
       hb=st.sampled_from(["none", "penalized", "free"]), scale=st.floats(0.0, 2.0))
def test_property_bracket_contains_the_optimum(seed, n, d, hb, scale):
    """Random data, random networks (scaled down to the zero network): P_lo <= P* <= P_hi."""
    data, model, net = small_problem(seed, n, d, "squared", hb, "free" if hb == "free" else "none")
    net = Network(scale * net.U, scale * net.alpha, net.b, net.c)
    ex = exact_optimum(net, data, model, time_limit=60.0)
    assert ex.status == "complete", ex.reason
    assert_bracket(ex, full_optimum(data, model), objective(net, data, model), data, model)


def test_optimal_network_has_a_zero_gap_and_stays_optimal():
    data, model, net = small_problem(4, 12, 2, "squared", "free", "free")
    first = exact_optimum(net, data, model, time_limit=60.0)
    opt = first.network
    cert = verify(opt, data, model)
    ex = exact_optimum(opt, data, model, time_limit=60.0)
    assert ex.gap_lower <= 1e-7 * ex.objective and ex.gap_upper >= -1e-12
    assert ex.gap_upper <= 1e-6 * ex.objective
    merged = merge_into(cert, ex, opt, data, model)
    assert cert.status is Status.OPTIMAL and merged.status is Status.OPTIMAL


def test_suboptimal_network_gets_the_optimum_as_witness():
    data, model, net = small_problem(5, 12, 2, "squared", "penalized", "penalized")
    cert = verify(net, data, model)
    ex = exact_optimum(net, data, model, time_limit=60.0)
    merged = merge_into(cert, ex, net, data, model)
    assert merged.status is Status.SUBOPTIMAL
    assert merged.lower_bound >= cert.lower_bound
    assert merged.lower_bound <= ex.optimum_upper
    if ex.optimum_lower > cert.lower_bound:
        assert merged.details["lower_bound_from"] == "exact" and merged.lower_bound == ex.optimum_lower
        assert merged.gap == merged.objective - merged.lower_bound
    # the optimum is the best known network: it is the witness (evaluated)
    assert merged.witness_objective == objective(merged.witness, data, model) <= ex.optimum_upper
    assert merged.witness_objective <= (cert.witness_objective if cert.witness is not None else math.inf)


def _cert(status, L, lb, **kw):
    return Certificate(status=status, objective=L, lower_bound=lb, gap=L - lb, relative_gap=(L - lb) / abs(L),
                       tolerance=1e-6, patterns="bounded", **kw)


def test_merge_rules_on_synthetic_results():
    """P_lo certifies when it closes the gap; a lower P_lo or a failed result changes nothing;
    an optimum not strictly better (by both rounding bounds) is no witness."""
    data, model, net = small_problem(6, 8, 2, "squared", "none", "none")
    L = objective(net, data, model)
    cert = _cert(Status.INCONCLUSIVE, L, L - 1.0)
    close = ExactResult("complete", L, optimum_upper=L, optimum_lower=L * (1 - 1e-9), network=net)
    m = merge_into(cert, close, net, data, model)
    assert m.status is Status.OPTIMAL and m.details["lower_bound_from"] == "exact"
    assert m.lower_bound == L * (1 - 1e-9) and m.witness is None
    # P_lo below the certificate's bound, optimum = the network itself: nothing changes
    same = ExactResult("complete", L, optimum_upper=L, optimum_lower=L - 2.0, network=net)
    m = merge_into(cert, same, net, data, model)
    assert m.status is Status.INCONCLUSIVE and m.lower_bound == L - 1.0 and "lower_bound_from" not in m.details
    # a failed run with nothing reached
    m = merge_into(cert, ExactResult("failed", L, reason="x"), net, data, model)
    assert m.status is Status.INCONCLUSIVE and m.lower_bound == L - 1.0
    # an optimal certificate is never touched
    ok = _cert(Status.OPTIMAL, L, L)
    assert merge_into(ok, same, net, data, model) is ok
    # a strictly better optimum becomes the witness
    better = Network(net.U, 0.0 * net.alpha)
    Lb = objective(better, data, model)
    assert Lb < L
    m = merge_into(cert, ExactResult("complete", L, optimum_upper=Lb, optimum_lower=Lb - 1e-3, network=better),
                   net, data, model)
    assert m.status is Status.SUBOPTIMAL and m.witness is better and m.details["witness_kind"] == WITNESS_KIND
    assert m.witness_objective == Lb


def test_skipped_when_one_pricing_does_not_fit():
    data, model, net = small_problem(7, 10, 2, "squared", "free", "free")
    ex = exact_optimum(net, data, model, time_limit=1e-9)
    assert ex.status == "skipped" and "time limit" in ex.reason
    assert ex.optimum_upper is None and ex.optimum_lower is None and ex.network is None
    d = ex.to_dict()
    assert d["gap_lower"] is None and d["status"] == "skipped"


def test_time_limit_reports_the_bracket_reached(monkeypatch):
    """The limit passes after the first round: the bracket of that round, still sound."""
    data, model, net = small_problem(8, 10, 2, "squared", "none", "none")
    real = exact_mod.choose_patterns
    monkeypatch.setattr(exact_mod, "choose_patterns", lambda X, m, t, p="auto": ("exact", real(X, m, 60.0)[1]))
    ex = exact_optimum(net, data, model, time_limit=1e-9)
    assert ex.status == "time_limit" and ex.rounds == 1
    assert ex.optimum_lower is not None and ex.optimum_upper is not None
    assert_bracket(ex, full_optimum(data, model), objective(net, data, model), data, model)


@pytest.mark.parametrize("fail_at", [1, 2])
def test_solver_failure_is_reported_never_a_verdict(monkeypatch, fail_at):
    data, model, net = small_problem(9, 10, 2, "squared", "none", "none")
    real = exact_mod.solve_program
    calls = {"n": 0}

    def flaky(*a, **k):
        calls["n"] += 1
        if calls["n"] >= fail_at:
            raise SolverError("synthetic failure")
        return real(*a, **k)

    monkeypatch.setattr(exact_mod, "solve_program", flaky)
    ex = exact_optimum(net, data, model, time_limit=60.0)
    assert ex.status == "failed" and "synthetic failure" in ex.reason
    cert = verify(net, data, model)
    merged = merge_into(cert, ex, net, data, model)
    if fail_at == 1:
        assert ex.network is None and ex.optimum_upper is None
        assert merged.status is cert.status and merged.lower_bound == cert.lower_bound
    else:
        assert_bracket(ex, full_optimum(data, model), objective(net, data, model), data, model)


# ----------------------------------------------------------------------------- scikit-learn nets (the issue)


def sklearn_case(n, width, seed, alpha, cols=(2, 8)):
    """An MLPRegressor (lbfgs, one hidden ReLU layer) on a standardized slice of diabetes."""
    from sklearn import datasets
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPRegressor

    X, y = datasets.load_diabetes(return_X_y=True)
    X, y = X[:n, list(cols)], y[:n]
    X = (X - X.mean(0)) / X.std(0)
    y = (y - y.mean()) / y.std()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = MLPRegressor(hidden_layer_sizes=(width,), alpha=alpha, activation="relu", solver="lbfgs",
                           max_iter=3000, tol=1e-12, random_state=seed).fit(X, y)
    return X, y, est


def assert_true_gap(ex_dict: dict, L: float, X, y, alpha, net_patterns):
    P_S, D_grid = oracle_column_generation_2d(X, y, alpha, initial=net_patterns)
    gap = L - P_S
    assert gap > 0
    # the oracle converged (its grid bound meets its program's value)
    assert abs(P_S - D_grid) <= 1e-3 * gap
    for key in ("gap_lower", "gap_upper"):
        assert abs(ex_dict[key] - gap) <= 0.01 * gap, (key, ex_dict[key], gap)
    assert ex_dict["optimum_lower"] <= P_S + 1e-7 * P_S


@pytest.mark.parametrize("n,width,seed,alpha", [(150, 4, 1, 2.0), (200, 16, 2, 3.0)])
def test_sklearn_true_gap_matches_an_independent_solve(n, width, seed, alpha):
    X, y, est = sklearn_case(n, width, seed, alpha)
    model = from_sklearn(est.alpha, "squared", n, "MLPRegressor").model
    net = Network(est.coefs_[0].astype(float), est.coefs_[1][:, 0].astype(float), est.intercepts_[0].astype(float),
                  float(est.intercepts_[1][0]))
    data = Dataset(X, y)
    L = objective(net, data, model)
    assert L == pytest.approx(n * est.loss_, rel=1e-10)  # the mapping of docs/conventions.md
    ex = exact_optimum(net, data, model, time_limit=120.0)
    assert ex.status == "complete", ex.reason
    pats = (model.augment(X) @ net.Ut() > 0).T
    assert_true_gap(ex.to_dict(), L, X, y, alpha, pats)


def test_cli_verify_exact_on_a_sklearn_net(tmp_path):
    """Import an MLPRegressor, verify --exact --optimal-out through the CLI; the true gap against
    the independent solve; the written optimum is certified optimal by plain verify."""
    n, alpha = 100, 1.0
    X, y, est = sklearn_case(n, 8, 0, alpha)
    with open(tmp_path / "m.pkl", "wb") as f:
        pickle.dump(est, f)
    np.savez(tmp_path / "d.npz", X=X, y=y)
    r = run("import", tmp_path / "m.pkl", "--data", tmp_path / "d.npz", "-o", tmp_path / "n.h5")
    assert r.returncode == 0, r.stderr
    r = run("verify", tmp_path / "n.h5", "--exact", "--optimal-out", tmp_path / "opt.h5", "--json")
    assert r.returncode == 1, r.stderr  # an lbfgs net is above the optimum here
    d = json.loads(r.stdout)
    e = d["exact"]
    assert e["status"] == "complete" and e["output"] == str(tmp_path / "opt.h5")
    assert d["status"] == "suboptimal" and d["lower_bound_from"] == "exact" and d["lower_bound"] == e["optimum_lower"]
    ck = load_checkpoint(tmp_path / "n.h5")
    pats = (ck.model.augment(X) @ ck.network.Ut() > 0).T
    assert_true_gap(e, d["objective"], X, y, alpha, pats)
    opt = load_checkpoint(tmp_path / "opt.h5")
    assert objective(opt.network, opt.data, opt.model) == pytest.approx(e["optimum_upper"], rel=1e-15)
    r = run("verify", tmp_path / "opt.h5", "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["status"] == "optimal", r.stdout[-300:]


# ----------------------------------------------------------------------------- bad input


@pytest.fixture
def checkpoint(tmp_path):
    data, model, net = small_problem(10, 8, 2, "squared", "none", "none")
    save_checkpoint(str(tmp_path / "c.h5"), net, model, data)
    return tmp_path / "c.h5"


def _one_line(r, *words):
    assert r.returncode == 2, (r.returncode, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr and r.stdout == ""
    for w in words:
        assert w in lines[0], (w, lines[0])


def test_optimal_out_unwritable_is_exit_2(checkpoint, tmp_path):
    _one_line(run("verify", checkpoint, "--exact", "--optimal-out", tmp_path / "missing" / "o.h5"),
              "--optimal-out", "does not exist")
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        if not os.access(ro, os.W_OK):  # root writes anywhere
            _one_line(run("verify", checkpoint, "--exact", "--optimal-out", ro / "o.h5"), "--optimal-out",
                      "not writable")
    finally:
        ro.chmod(0o700)


def test_optimal_out_bad_usage_is_exit_2(checkpoint, tmp_path):
    _one_line(run("verify", checkpoint, "--optimal-out", tmp_path / "o.h5"), "--optimal-out", "--exact")
    _one_line(run("verify", checkpoint, "--exact", "--optimal-out", checkpoint), "--optimal-out", "input")
    _one_line(run("verify", checkpoint, "--exact", "--optimal-out", tmp_path / "w.h5", "--witness",
                  tmp_path / "w.h5"), "--witness")
    assert not (tmp_path / "o.h5").exists()


def test_cli_exact_text_report_has_the_line(checkpoint):
    r = run("verify", checkpoint, "--exact")
    assert r.returncode == 1, r.stderr
    line = [ln for ln in r.stdout.splitlines() if ln.startswith("global optimum")]
    assert len(line) == 1 and "P* in [" in line[0] and "column generation" in line[0]
    assert "your network is" in line[0] and "above it (relative" in line[0]


def test_cli_exact_skipped_keeps_the_report(checkpoint):
    """A problem whose exact pricing does not fit: status skipped, the certificate stands."""
    r = run("verify", checkpoint, "--exact", "--json", "--time-limit", "1e-9")
    assert r.returncode in (0, 1), r.stderr
    d = json.loads(r.stdout)
    assert d["exact"]["status"] == "skipped" and d["exact"]["reason"]
    assert d["status"] in ("optimal", "suboptimal", "inconclusive") and d.get("lower_bound_from") != "exact"
    assert d["lower_bound"] is not None and d["lower_bound"] <= d["objective"]


def test_crossed_bracket_is_a_failure_not_a_bound(monkeypatch):
    """A lower bound above an evaluated objective can only be a bug: reported, never used."""
    data, model, net = small_problem(11, 8, 2, "squared", "none", "none")
    real = exact_mod.column_generation

    def crossed(*a, **k):
        cg = real(*a, **k)
        cg.lower_bound = cg.objective + 1.0
        return cg

    monkeypatch.setattr(exact_mod, "column_generation", crossed)
    ex = exact_optimum(net, data, model, time_limit=60.0)
    assert ex.status == "failed" and "inconsistent" in ex.reason and ex.optimum_lower is None
    cert = verify(net, data, model)
    assert merge_into(cert, ex, net, data, model).lower_bound == cert.lower_bound
