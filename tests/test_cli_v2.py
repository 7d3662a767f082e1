"""The CLI as contract v2 describes it (docs/cli.md): every valid input gets a verdict, --atol,
--time-limit, relative_gap = gap / |objective|, solve's status and exit codes.

Every command runs in a subprocess, as a user meets it.
"""

import itertools
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cvxrelu.certificate import Status, verify
from cvxrelu.io import save_checkpoint
from cvxrelu.model import Dataset, Model, Network, objective
from cvxrelu.search import train_gradient
from cvxrelu.solve import solve

ROOT = Path(__file__).resolve().parents[1]
FIX = ROOT / "fixtures"

VERIFY_KEYS = ("status", "objective", "lower_bound", "gap", "relative_gap", "tolerance", "atol", "patterns",
               "bound_method", "dual_ratio_upper", "dual_ratio_lower", "seconds", "time_limit")
SOLVE_KEYS = ("status", "objective", "lower_bound", "gap", "relative_gap", "tolerance", "neurons", "patterns")


def run(*args):
    return subprocess.run([sys.executable, "-m", "cvxrelu.cli", *map(str, args)], capture_output=True,
                          text=True, env=dict(os.environ), timeout=600)


def planted(n, d, seed, width=5, noise=0.1):
    """Data from a planted ReLU network plus noise."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    U, a = rng.standard_normal((d, width)), rng.standard_normal(width)
    y = np.maximum(X @ U, 0) @ a
    return Dataset(X, y / np.std(y) + noise * rng.standard_normal(n))


@pytest.fixture(scope="module")
def adam_d10(tmp_path_factory):
    """An Adam-trained network on d = 10, n = 300 planted data (issue 14's ordinary case)."""
    data = planted(300, 10, seed=0)
    model = Model(beta=0.1)
    net = train_gradient(data, model, width=20, seed=0, iters=500)
    path = tmp_path_factory.mktemp("adam") / "adam.h5"
    save_checkpoint(path, net, model, data)
    return path, net, data, model


def test_d10_adam_network_is_not_refused_and_is_refuted(adam_d10, tmp_path):
    path, net, data, model = adam_d10
    w = tmp_path / "better.h5"
    r = run("verify", path, "--json", "--witness", w, "--time-limit", "30")
    assert r.returncode == 1, r.stderr
    assert r.stderr.strip() == "" or "Traceback" not in r.stderr
    d = json.loads(r.stdout)
    for key in VERIFY_KEYS:
        assert key in d, key
    assert d["status"] == "suboptimal" and d["patterns"] == "bounded"
    assert d["bound_method"] in ("spike-free", "branch-and-bound", "relaxation", "norm")
    assert math.isfinite(d["lower_bound"]) and d["lower_bound"] <= d["objective"]
    assert d["relative_gap"] == pytest.approx(d["gap"] / abs(d["objective"]))
    assert d["dual_ratio_lower"] > 1 and d["dual_ratio_upper"] >= d["dual_ratio_lower"]
    assert d["atol"] == 0 and d["tolerance"] == 1e-6 and d["time_limit"] == 30
    assert w.exists() and d["witness"]["objective"] < d["objective"]
    r2 = run("verify", w, "--json", "--time-limit", "5")
    assert r2.returncode in (0, 1), r2.stderr
    d2 = json.loads(r2.stdout)
    assert d2["objective"] < d["objective"]
    assert d2["objective"] == pytest.approx(d["witness"]["objective"], rel=1e-12)


def test_time_limit_is_accepted_and_the_command_returns(adam_d10):
    path, *_ = adam_d10
    r = run("verify", path, "--json", "--time-limit", "1")
    assert r.returncode in (0, 1), r.stderr
    d = json.loads(r.stdout)
    assert d["status"] in ("suboptimal", "inconclusive")
    assert math.isfinite(d["lower_bound"]) and d["time_limit"] == 1


def test_help_states_the_defaults():
    r = run("verify", "--help")
    assert r.returncode == 0
    for word in ("--time-limit", "--atol", "60"):
        assert word in r.stdout
    r = run("solve", "--help")
    assert r.returncode == 0 and "--tol" in r.stdout


def test_large_arrangement_gets_a_verdict_not_a_refusal(tmp_path):
    """20 samples in 22 dimensions: v1 refused it (exit 2); v2 answers."""
    rng = np.random.default_rng(0)
    data = Dataset(rng.standard_normal((20, 22)), np.ones(20))
    path = tmp_path / "ck.h5"
    save_checkpoint(path, Network(U=np.ones((22, 1)), alpha=np.ones(1)), Model(beta=0.1), data)
    r = run("verify", path, "--json", "--time-limit", "10")
    assert r.returncode in (0, 1), r.stderr
    d = json.loads(r.stdout)
    assert d["patterns"] == "bounded" and d["status"] in ("suboptimal", "inconclusive")


def test_relative_gap_regression_through_the_cli(tmp_path):
    """A network hundreds of times its global minimum, below L = 1, is not certified (v1 was)."""
    beta, rr = 4e-9, 1.39e-3
    net = Network(U=np.array([[math.sqrt(1 - rr)]]), alpha=np.array([math.sqrt(1 - rr)]))
    path = tmp_path / "small.h5"
    save_checkpoint(path, net, Model(beta=beta), Dataset(np.array([[1.0]]), np.array([1.0])))
    r = run("verify", path, "--json")
    assert r.returncode == 1, r.stderr
    d = json.loads(r.stdout)
    assert d["status"] != "optimal" and d["relative_gap"] > 0.9
    r = run("verify", path, "--json", "--atol", "1e-6")
    assert r.returncode == 0 and json.loads(r.stdout)["status"] == "optimal"


def test_width_zero_checkpoint_is_a_valid_network(tmp_path):
    rng = np.random.default_rng(1)
    X, y = rng.standard_normal((10, 2)), rng.standard_normal(10)
    beta = 2.0 * float(np.linalg.norm(y) * np.linalg.norm(X, 2))
    path = tmp_path / "zero.h5"
    save_checkpoint(path, Network(U=np.zeros((2, 0)), alpha=np.zeros(0)), Model(beta=beta), Dataset(X, y))
    r = run("verify", path, "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["status"] == "optimal" and d["objective"] == pytest.approx(0.5 * float(y @ y))
    # with a free hidden bias too (b of shape (0,))
    path2 = tmp_path / "zero_b.h5"
    save_checkpoint(path2, Network(U=np.zeros((2, 0)), alpha=np.zeros(0), b=np.zeros(0)),
                    Model(beta=beta, hidden_bias="penalized"), Dataset(X, y))
    r = run("verify", path2, "--json")
    assert r.returncode in (0, 1), r.stderr


@pytest.mark.parametrize("args,word", [(["--time-limit", "0"], "--time-limit"),
                                       (["--time-limit", "-3"], "--time-limit"),
                                       (["--atol", "-1"], "--atol"),
                                       (["--atol", "inf"], "--atol")])
def test_bad_new_options_exit_2(args, word):
    r = run("verify", FIX / "example1_optimal.h5", *args)
    assert r.returncode == 2 and r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and word in lines[0] and "Traceback" not in r.stderr


def test_solve_status_exit_codes_and_lower_bound(tmp_path):
    out = tmp_path / "net.h5"
    r = run("solve", FIX / "example1_optimal.h5", "--beta", "0.1", "-o", out, "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    for key in SOLVE_KEYS:
        assert key in d, key
    assert d["status"] == "optimal" and d["patterns"] == "exact" and d["tolerance"] == 1e-6
    assert d["relative_gap"] == pytest.approx(d["gap"] / abs(d["objective"]))
    r = run("verify", out, "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["status"] == "optimal"
    # tolerance 0 cannot be met (the objective's own rounding bound is > 0): exit 1, still written
    out0 = tmp_path / "net0.h5"
    r = run("solve", FIX / "example1_optimal.h5", "--beta", "0.1", "-o", out0, "--json", "--tol", "0")
    assert r.returncode == 1, r.stderr
    d0 = json.loads(r.stdout)
    assert d0["status"] == "inconclusive" and out0.exists()
    assert d0["objective"] == pytest.approx(d["objective"], rel=1e-9)


def test_solve_sampled_reports_a_certified_lower_bound(tmp_path):
    data = planted(200, 6, seed=3)
    src = tmp_path / "data.h5"
    save_checkpoint(src, Network(U=np.zeros((6, 0)), alpha=np.zeros(0)), Model(beta=0.1), data)
    out = tmp_path / "net.h5"
    r = run("solve", src, "--beta", "0.1", "--patterns", "20", "--search-rounds", "2", "-o", out, "--json",
            "--time-limit", "10")
    assert r.returncode in (0, 1), r.stderr
    d = json.loads(r.stdout)
    assert d["patterns"] == "sampled" and d["status"] in ("optimal", "inconclusive")
    assert d["lower_bound"] is not None and d["lower_bound"] <= d["objective"]
    assert (r.returncode == 0) == (d["status"] == "optimal")


MODES = list(itertools.product(["squared", "logistic"], ["none", "penalized", "free"],
                               ["none", "penalized", "free"]))


@pytest.mark.parametrize("loss,hb,ob", MODES)
def test_whatever_solve_calls_optimal_verify_certifies(loss, hb, ob):
    """CONTRACT v2: solve's status comes from the same certificate verify gives its network."""
    rng = np.random.default_rng(5)
    X = rng.standard_normal((25, 2))
    ys = np.sin(2 * X[:, 0]) + 0.5 * X[:, 1]
    y = np.where(ys > 0, 1.0, -1.0) if loss == "logistic" else ys
    data, model = Dataset(X, y), Model(beta=0.1, loss=loss, hidden_bias=hb, output_bias=ob)
    res = solve(data, model, tol=1e-6)
    d = res.to_dict()
    assert d["status"] in ("optimal", "inconclusive")
    assert d["lower_bound"] <= d["objective"]
    cert = verify(res.network, data, model, tol=1e-6)
    assert (cert.status is Status.OPTIMAL) == (d["status"] == "optimal")
    assert cert.objective == pytest.approx(objective(res.network, data, model), rel=0, abs=0)


def test_solve_then_verify_same_tolerance_through_the_cli(tmp_path):
    out = tmp_path / "net.h5"
    r = run("solve", FIX / "planted_d1.h5", "--beta", "0.05", "--hidden-bias", "free", "--output-bias", "free",
            "--tol", "1e-7", "-o", out, "--json")
    assert r.returncode in (0, 1), r.stderr
    d = json.loads(r.stdout)
    assert d["tolerance"] == 1e-7
    r2 = run("verify", out, "--json", "--tol", "1e-7")
    assert json.loads(r2.stdout)["status"] == d["status"] or d["status"] == "inconclusive"
    if d["status"] == "optimal":
        assert r.returncode == 0 and r2.returncode == 0
