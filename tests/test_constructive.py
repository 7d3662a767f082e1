"""The constructive results (cvxrelu/constructive/): reduce, optimal-set, path, landscape.

Oracles: the objective and predictions evaluated directly, the certificate (verify, exact
enumeration), the paper's Example 1 (W* = one block w5* ~ [0.86, -0.79]), a boundary
construction whose optimal W is not unique, and brute force over supports.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cvxrelu.certificate import verify
from cvxrelu.constructive.optimal_set import optimal_set, sample_networks
from cvxrelu.constructive.reduce import (
    PREDICTION_RTOL,
    caratheodory_path,
    reduce_network,
)
from cvxrelu.model import (
    Dataset,
    Model,
    Network,
    objective,
    objective_error_bound,
    penalty,
    predict,
    scaled,
)

ROOT = Path(__file__).resolve().parents[1]
FIX = ROOT / "fixtures"
EX1 = (np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]), np.array([1.0, 0.0, 0.0]))
# an optimal neuron orthogonal to a data point lies on the boundary of two cells: it can sit in
# either block, or be split between them (same predictions, same penalty): W* is not unique
BOUNDARY = (np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([1.0, 0.0]))


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "cvxrelu.cli", *map(str, args)], check=False, capture_output=True,
                          text=True, cwd=cwd, timeout=600)


def write_data(path, X, y):
    with h5py.File(path, "w") as f:
        f["data/X"] = X
        f["data/y"] = y


def write_net(path, net: Network, X, y, beta, hidden_bias="none"):
    with h5py.File(path, "w") as f:
        f.attrs["format"] = "cvxrelu-checkpoint"
        f.attrs["version"] = 1
        f["model/U"] = net.U
        f["model/alpha"] = net.alpha
        if hidden_bias != "none":
            f["model/b"] = net.b
        f["model"].attrs.update(beta=beta, loss="squared", hidden_bias=hidden_bias, output_bias="none")
        f["data/X"] = X
        f["data/y"] = y


# ----------------------------------------------------------------------------- reduce


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10**6), n=st.integers(2, 7), m=st.integers(1, 14),
       hidden_bias=st.sampled_from(["none", "penalized", "free"]), dup=st.booleans())
def test_reduce_never_raises_the_objective_and_keeps_predictions(seed, n, m, hidden_bias, dup):
    rng = np.random.default_rng(seed)
    d = 2
    X = rng.standard_normal((n, d))
    y = rng.standard_normal(n)
    model = Model(beta=0.2, hidden_bias=hidden_bias)
    U = rng.standard_normal((d, m))
    alpha = rng.standard_normal(m)
    b = rng.standard_normal(m) if hidden_bias != "none" else None
    if dup:  # positively colinear copies (Prop. 1 merges them at constant objective)
        U = np.hstack([U, 2.0 * U[:, :1]])
        alpha = np.append(alpha, 0.5 * alpha[0])
        b = None if b is None else np.append(b, 2.0 * b[0])
    net = Network(U=U, alpha=alpha, b=b)
    data = Dataset(X, y)
    res = reduce_network(net, data, model)
    L0 = objective(net, data, model)
    L1 = objective(res.network, data, model)
    slack = objective_error_bound(net, data, model) + 2 * objective_error_bound(res.network, data, model)
    assert L1 <= L0 + slack
    assert res.objective_after == pytest.approx(L1, rel=1e-14, abs=1e-14)
    scale = 1 + np.abs(predict(net, X)).max()
    assert np.abs(predict(res.network, X) - predict(net, X)).max() <= PREDICTION_RTOL * scale
    # every step reported, non-increasing, and the end has at most n + 1 neurons
    objs = [res.objective_before] + [s.objective for s in res.steps]
    assert all(b_ <= a + slack for a, b_ in itertools.pairwise(objs))
    if all(s.accepted for s in res.steps) and hidden_bias != "free":
        assert res.neurons_after <= n + 1


def test_caratheodory_path_is_constant_objective():
    rng = np.random.default_rng(3)
    X, y = rng.standard_normal((4, 2)), rng.standard_normal(4)
    model, data = Model(beta=0.3), Dataset(X, y)
    net = scaled(Network(U=rng.standard_normal((2, 12)), alpha=rng.standard_normal(12)), model)
    path = caratheodory_path(net, X, model)
    assert len(path) >= 12 - 5 + 1  # at least m - (n + 1) eliminations
    L = objective(net, data, model)
    for p in path:
        assert p.n_neurons == 12  # the width is kept: pruned neurons are zero
        assert objective(p, data, model) == pytest.approx(L, rel=1e-12)
        assert penalty(p, model) == pytest.approx(penalty(net, model), rel=1e-12)
    assert np.count_nonzero(path[-1].alpha) <= 5


def test_reduce_merges_a_split_optimal_network_to_one_neuron():
    from cvxrelu.io import load_checkpoint

    ck = load_checkpoint(FIX / "example1_optimal.h5")
    res = reduce_network(ck.network, ck.data, ck.model)
    assert res.neurons_before == 2 and res.neurons_after == 1
    assert res.objective_after <= res.objective_before + 1e-15
    assert verify(res.network, ck.data, ck.model).status.value == "optimal"


# ----------------------------------------------------------------------------- optimal-set


@pytest.fixture(scope="module")
def example1():
    X, y = EX1
    model = Model(beta=0.1)
    return Dataset(X, y), model, optimal_set(Dataset(X, y), model)


@pytest.fixture(scope="module")
def boundary():
    X, y = BOUNDARY
    model = Model(beta=0.1)
    return Dataset(X, y), model, optimal_set(Dataset(X, y), model)


def test_example1_is_unique_with_one_block(example1):
    data, _model, res = example1
    assert res.status == "optimal"
    assert res.m_star == 1 and res.m_star_proven
    assert res.unique is True
    (blk,) = res.blocks
    # paper 000, Example 1: W* has one non-zero block w5* = [0.86, -0.79] on D5 = diag(1, 0, 1)
    assert blk["pattern"] == [0, 2] and blk["sign"] == 1
    np.testing.assert_allclose(blk["w"], [0.86, -0.79], atol=0.005)
    assert res.details["uniqueness"]["max_spread"] <= 1e-6
    # P* agrees with the independent closed form along the single block's direction: the
    # objective is 1/2 ||D X w - y||^2 + beta ||w|| at w = w5*
    w = np.array(blk["w"])
    D = np.array([1.0, 0.0, 1.0])
    val = 0.5 * np.sum((D * (data.X @ w) - data.y) ** 2) + 0.1 * np.linalg.norm(w)
    assert res.P_star == pytest.approx(val, rel=1e-8)


def test_boundary_optimum_is_not_unique_and_m_star_below_first_solution(boundary):
    _data, _model, res = boundary
    assert res.status == "optimal"
    assert res.unique is False
    assert res.details["uniqueness"]["max_spread"] > 0.5
    assert res.m_star == 1 and res.m_star_proven
    assert res.details["first_solution_blocks"] > res.m_star
    # closed form: one neuron along e1 with ||w|| = 1 - beta, P* = beta^2/2 + beta (1 - beta)
    assert res.P_star == pytest.approx(0.5 * 0.01 + 0.1 * 0.9, rel=1e-8)


def test_symmetric_construction_has_distinct_optimal_networks():
    """X = +-e1, +-e2, y = 1: the neurons at 45 and 225 degrees, or at 135 and 315 degrees, give the
    same predictions at the same penalty (closed form P* = 2 sqrt(2) beta - beta^2): two different
    optimal networks, m* = 2, while an interior-point solution mixes both (4 blocks)."""
    X = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]])
    y = np.ones(4)
    beta = 0.1
    model = Model(beta=beta)
    res = optimal_set(Dataset(X, y), model)
    assert res.status == "optimal"
    assert res.P_star == pytest.approx(2 * np.sqrt(2) * beta - beta**2, rel=1e-8)
    assert res.m_star == 2 and res.m_star_proven
    assert res.unique is False and res.details["unique_network"] is False
    assert res.details["first_solution_blocks"] == 4 > res.m_star
    dirs = sorted(round(float(np.degrees(np.arctan2(b["w"][1], b["w"][0]))) % 360) for b in res.blocks)
    assert dirs in ([45, 225], [135, 315])
    for net in sample_networks(res, 4, 3, model, seed=1):
        assert verify(net, Dataset(X, y), model).status.value == "optimal"


def test_boundary_non_uniqueness_is_not_a_different_network(boundary):
    _, _, res = boundary
    # the neuron moves between two adjacent blocks: W differs, the network does not
    assert res.details["distinct_networks_found"] == 1 and res.details["unique_network"] is None


@pytest.mark.parametrize("which", ["example1", "boundary"])
@pytest.mark.parametrize("width", [1, 2, 5])
def test_every_sampled_network_verifies_optimal(which, width, request):
    data, model, res = request.getfixturevalue(which)
    nets = sample_networks(res, width, 4, model, seed=width)
    assert len(nets) == 4
    for net in nets:
        assert net.n_neurons == width
        cert = verify(net, data, model)
        assert cert.status.value == "optimal", cert.to_dict()


def test_sampling_below_m_star_is_refused(example1):
    from cvxrelu.errors import InputError

    _data, model, res = example1
    with pytest.raises(InputError, match="below m"):
        sample_networks(res, 0, 1, model)


@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 10**6), n=st.integers(3, 6), hidden_bias=st.sampled_from(["none", "penalized"]))
def test_m_star_matches_brute_force_over_supports(seed, n, hidden_bias):
    """m* against an independent brute force: the smallest set of candidate blocks whose
    restricted program (cvxpy oracle of tests/oracles.py over the same blocks) reaches P*."""
    import itertools

    from cvxrelu.constructive.optimal_set import ABS_SLACK, FACE_RTOL, solve_blocks

    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 2))
    y = rng.standard_normal(n)
    model = Model(beta=0.05 + 0.3 * rng.random(), hidden_bias=hidden_bias)
    res = optimal_set(Dataset(X, y), model)
    assert res.status == "optimal"
    cand = res.candidates
    X = model.augment(X)
    best = None
    for k in range(len(cand) + 1):
        for S in itertools.combinations(range(len(cand)), k):
            if solve_blocks(X, y, cand.subset(list(S)), model).value <= res.P_star * (1 + FACE_RTOL) + ABS_SLACK:
                best = k
                break
        if best is not None:
            break
    if res.m_star_proven:
        assert res.m_star == best
    else:
        assert res.m_star >= best


def test_optimal_set_needs_enumeration_is_inconclusive(monkeypatch):
    import cvxrelu.arrangements as arr
    from cvxrelu.errors import TooLargeError

    def too_large(*a, **k):
        raise TooLargeError("2e9 cells (estimated) is too many")

    monkeypatch.setattr(arr, "analyze", too_large)
    X, y = EX1
    res = optimal_set(Dataset(X, y), Model(beta=0.1))
    assert res.status == "inconclusive" and "enumerated" in res.reason
    assert res.m_star is None and res.unique is None


# ----------------------------------------------------------------------------- CLI


def test_cli_reduce_end_to_end(tmp_path):
    out = tmp_path / "red.h5"
    r = run("reduce", FIX / "example1_perturbed.h5", "-o", out, "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    for key in ("objective_before", "objective_after", "neurons_before", "neurons_after", "steps"):
        assert key in d
    assert d["objective_after"] <= d["objective_before"]
    assert d["neurons_after"] == 1
    assert out.exists()
    r = run("reduce", FIX / "example1_perturbed.h5", "-o", out)  # readable report
    assert r.returncode == 0 and "prune" in r.stdout


def test_cli_optimal_set_end_to_end(tmp_path):
    data = tmp_path / "ex1.h5"
    write_data(data, *EX1)
    outdir = tmp_path / "samples"
    r = run("optimal-set", data, "--beta", "0.1", "--json", "--sample", "3", "--width", "4", "-o", outdir)
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    for key in ("P_star", "m_star", "unique", "blocks"):
        assert key in d
    assert d["m_star"] == 1 and d["unique"] is True
    files = sorted(os.listdir(outdir))
    assert len(files) == 3
    r = run("verify", outdir / files[0], "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["status"] == "optimal"
    r = run("optimal-set", data, "--beta", "0.1")
    assert r.returncode == 0 and "m*" in r.stdout


@pytest.mark.parametrize("args,fragment", [
    (["optimal-set", "{missing}", "--beta", "0.1"], "no such file"),
    (["optimal-set", "{data}", "--beta", "-1"], "beta"),
    (["optimal-set", "{data}", "--beta", "0.1", "--sample", "2"], "--width"),
    (["optimal-set", "{data}", "--beta", "0.1", "--sample", "2", "--width", "3", "-o", "{data}"], "directory"),
    (["reduce", "{data}", "-o", "{tmp}/x.h5"], "model"),
    (["reduce", "{ck}", "-o", "{ck}"], "overwrite"),
    (["reduce", "{ck}", "-o", "{tmp}/nodir/x.h5"], "does not exist"),
])
def test_cli_bad_input_exit_2(tmp_path, args, fragment):
    data = tmp_path / "d.h5"
    write_data(data, *EX1)
    ck = tmp_path / "ck.h5"
    ck.write_bytes((FIX / "example1_optimal.h5").read_bytes())
    subs = {"missing": tmp_path / "nope.h5", "data": data, "tmp": tmp_path, "ck": ck}
    r = run(*[a.format(**subs) for a in args])
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert fragment in r.stderr


# ----------------------------------------------------------------------------- path


def _random_net(rng, d, m, hidden_bias="none"):
    U = rng.standard_normal((d, m))
    alpha = rng.standard_normal(m)
    U[:, 1] = 2.0 * U[:, 0]  # a colinear pair (merged at constant objective)
    alpha[1] = 0.3 * alpha[0]
    alpha[2] = 0.0  # a dead neuron (shrinks to zero)
    return Network(U=U, alpha=alpha, b=rng.standard_normal(m) if hidden_bias != "none" else None)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10**6), m=st.integers(4, 12), hidden_bias=st.sampled_from(["none", "penalized"]))
def test_path_objectives_never_increase_and_global_end_verifies(seed, m, hidden_bias):
    from cvxrelu.constructive.path import PATH_RTOL, build_path

    rng = np.random.default_rng(seed)
    n, d = 4, 2
    X, y = rng.standard_normal((n, d)), rng.standard_normal(n)
    model, data = Model(beta=0.2, hidden_bias=hidden_bias), Dataset(X, y)
    net = _random_net(rng, d, m, hidden_bias)
    opt = optimal_set(data, model)
    assert opt.status == "optimal"
    star = opt.sparsest_network(model)
    res = build_path(net, data, model, star, opt.m_star)
    objs = np.array([objective(p, data, model) for p in res.networks])
    np.testing.assert_allclose(objs, res.objectives, rtol=1e-15)
    tol = PATH_RTOL * max(1.0, abs(objs[0]))
    assert np.all(np.diff(objs) <= tol)
    assert all(p.n_neurons == m for p in res.networks)  # the path stays in networks of width m
    # predictions are constant from the end of scaling to the minimal network
    i_min = max(i for i, s in enumerate(res.stages) if s in ("start", "scale", "merge", "prune"))
    scale = 1 + np.abs(predict(net, X)).max()
    assert np.abs(predict(res.networks[i_min], X) - predict(net, X)).max() <= 1e-8 * scale
    assert np.count_nonzero(res.networks[i_min].alpha) <= n + 1
    if m >= n + 1 + opt.m_star:  # Prop. 7: the path must reach a global minimum
        assert res.reaches == "global"
    if res.reaches == "global":
        assert verify(res.networks[-1], data, model).status.value == "optimal"
        assert res.objectives[-1] == pytest.approx(opt.P_star, rel=1e-7)


def test_path_without_room_stops_at_a_minimal_network():
    from cvxrelu.constructive.path import build_path

    rng = np.random.default_rng(5)
    X, y = rng.standard_normal((6, 2)), rng.standard_normal(6)
    model, data = Model(beta=0.05), Dataset(X, y)
    net = Network(U=rng.standard_normal((2, 3)), alpha=rng.standard_normal(3))
    opt = optimal_set(data, model)
    star = opt.sparsest_network(model)
    res = build_path(net, data, model, star, opt.m_star)
    k = np.count_nonzero(res.networks[-1].alpha)
    if k + opt.m_star > 3:
        assert res.reaches == "minimal" and "exceeds the width" in res.reason
    assert np.all(np.diff(res.objectives) <= 1e-8 * max(1, res.objectives[0]))


def test_cli_path_end_to_end(tmp_path):
    rng = np.random.default_rng(0)
    X, y = EX1
    ck = tmp_path / "wide.h5"
    write_net(ck, _random_net(rng, 2, 9), X, y, 0.1)
    out, png = tmp_path / "path.h5", tmp_path / "path.png"
    r = run("path", ck, "-o", out, "--plot", png, "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["reaches"] == "global" and isinstance(d["objectives"], list)
    with h5py.File(out, "r") as f:
        assert f.attrs["format"] == "cvxrelu-path" and f.attrs["reaches"] == "global"
        objs = f["path/objective"][()]
        K = objs.size
        assert f["path/U"].shape == (K, 2, 9) and f["path/alpha"].shape == (K, 9)
        assert next(s.decode() if isinstance(s, bytes) else s for s in f["path/stage"][()]) == "start"
        # the stored networks have the stored objectives (recomputed independently)
        model = Model(beta=0.1)
        for k in range(K):
            net = Network(U=f["path/U"][k], alpha=f["path/alpha"][k])
            assert objective(net, Dataset(X, y), model) == pytest.approx(objs[k], rel=1e-12)
    np.testing.assert_allclose(objs, d["objectives"])
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # a narrow network: exit 1, reaches "minimal"
    narrow = tmp_path / "narrow.h5"
    rng = np.random.default_rng(5)
    X6, y6 = rng.standard_normal((6, 2)), rng.standard_normal(6)
    write_net(narrow, Network(U=rng.standard_normal((2, 1)), alpha=np.array([0.1])), X6, y6, 0.05)
    r = run("path", narrow, "-o", tmp_path / "p2.h5", "--json")
    d = json.loads(r.stdout)
    assert r.returncode == (0 if d["reaches"] == "global" else 1)


def test_cli_path_free_hidden_bias_falls_back_to_solve(tmp_path):
    """No optimal set with a free hidden bias: the last stage uses solve's certified network."""
    rng = np.random.default_rng(3)
    X, y = rng.standard_normal((4, 1)), rng.standard_normal(4)
    ck = tmp_path / "free.h5"
    with h5py.File(ck, "w") as f:
        f["model/U"] = rng.standard_normal((1, 14))
        f["model/alpha"] = rng.standard_normal(14)
        f["model/b"] = rng.standard_normal(14)
        f["model"].attrs.update(beta=0.2, hidden_bias="free")
        f["data/X"], f["data/y"] = X, y
    r = run("path", ck, "-o", tmp_path / "p.h5", "--json")
    assert r.returncode in (0, 1), r.stderr
    d = json.loads(r.stdout)
    assert r.returncode == (0 if d["reaches"] == "global" else 1)
    objs = np.array(d["objectives"])
    assert np.all(np.diff(objs) <= 1e-8 * max(1.0, abs(objs[0])))
    if d["reaches"] == "global":
        assert d["end_verify"] == "optimal"


def test_cli_path_plot_without_matplotlib_is_exit_2(tmp_path):
    code = ("import sys; sys.modules['matplotlib'] = None; from cvxrelu.cli import main; "
            f"main(['path', r'{FIX / 'example1_optimal.h5'}', '-o', r'{tmp_path / 'p.h5'}', '--plot', "
            f"r'{tmp_path / 'p.png'}'])")
    r = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=300)
    assert r.returncode == 2
    assert "matplotlib" in r.stderr and r.stderr.count("\n") == 1
    assert not (tmp_path / "p.h5").exists()


# ----------------------------------------------------------------------------- landscape


def test_landscape_statements_example1():
    from cvxrelu.constructive.landscape import landscape

    X, y = EX1
    d = landscape(Dataset(X, y), Model(beta=0.1), width=5)
    assert d["m_star"] == 1 and d["m_star_is"] == "exact"
    assert d["thresholds"] == {"no_spurious_valleys": 5, "convex_in_realizations": 8,
                               "descent_paths_unregularized": 3}
    by = {s["source"]: s for s in d["statements"]}
    assert by["[000] Prop. 7"]["condition_holds"] is True and by["[000] Prop. 7"]["scope"] == "this data"
    assert by["[000] section 5"]["condition_holds"] is False
    assert by["[002] Thm. 1 and Cor. 1"]["scope"] == "worst case over data sets"
    assert by["[002] Thm. 1 and Cor. 1"]["condition_holds"] is False  # d = 2 < 4
    assert by["[004] Thm. 1"]["condition_holds"] is False  # 5 < 2 (n + 1)
    for s in d["statements"]:
        assert s["source"] and s["scope"] in ("this data", "every data set of this size", "worst case over data sets")


def test_landscape_002_applies_for_large_n_small_width():
    from cvxrelu.constructive.landscape import statements

    st_ = {s["source"]: s for s in statements(n=40, d=5, width=20, m_star=3, m_star_exact=True, model=Model(beta=1.0))}
    # d = 5: m > 4 + 8/2 = 8, n >= m + 2d - 2 = 28
    assert st_["[002] Thm. 1 and Cor. 1"]["condition_holds"] is True
    assert st_["[000] Prop. 7"]["condition_holds"] is False  # 20 < 44
    assert st_["[002], recalling Venturi et al. (2018)"]["condition_holds"] is False


def test_cli_landscape_end_to_end(tmp_path):
    data = tmp_path / "ex1.h5"
    write_data(data, *EX1)
    r = run("landscape", data, "--beta", "0.1", "--width", "8", "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["m_star"] == 1 and len(d["statements"]) >= 6
    r = run("landscape", data, "--beta", "0.1")
    assert r.returncode == 0 and "Prop. 7" in r.stdout
    r = run("landscape", data, "--beta", "0")
    assert r.returncode == 2 and r.stderr.count("\n") == 1


def test_constructive_commands_are_documented():
    readme = (ROOT / "README.md").read_text()
    doc = (ROOT / "docs" / "constructive.md").read_text()
    for cmd in ("reduce", "optimal-set", "path", "landscape"):
        assert f"cvxrelu {cmd}" in readme and f"cvxrelu {cmd}" in doc
    r = run("--help")
    assert all(c in r.stdout for c in ("reduce", "optimal-set", "path", "landscape"))


@pytest.mark.parametrize("output_bias", ["none", "free"])
def test_large_beta_zero_network_is_the_unique_optimum(output_bias):
    """Closed form (skglm's alpha_max idea): beta above max_u |lam0^T (X u)_+| makes W* = 0."""
    X, y = EX1
    model = Model(beta=10.0, output_bias=output_bias)
    res = optimal_set(Dataset(X, y), model)
    assert res.status == "optimal" and res.m_star == 0 and res.m_star_proven and res.unique is True
    assert res.blocks == []
    expected = 0.5 * float(y @ y) if output_bias == "none" else 0.5 * float(np.sum((y - y.mean()) ** 2))
    assert res.P_star == pytest.approx(expected, rel=1e-8)
    for net in sample_networks(res, 3, 2, model):
        assert net.n_neurons == 3 and verify(net, Dataset(X, y), model).status.value == "optimal"


def test_example1_gd_script_points_lie_on_the_segment(capsys):
    """scripts/example1_gd.py (docs/constructive.md): GD runs that verify optimal have their
    alpha_i u_i on the segment [0, w*] with sum gamma_i = 1 (Thm. 1, eq. 11)."""
    import re
    import runpy

    mod = runpy.run_path(str(ROOT / "scripts" / "example1_gd.py"))
    mod["main"](["--trials", "3", "--seed", "1"])
    out = capsys.readouterr().out
    trials = re.findall(r"verify (\w+)\n  gamma_i = \[([^\]]*)\]\s+sum = (\S+)\s+max distance to the line = (\S+)", out)
    assert len(trials) == 3
    optimal = [t for t in trials if t[0] == "optimal"]
    assert optimal  # at least one run reaches the global minimum (seed 1: two of three)
    for _, gammas, total, dist in optimal:
        g = np.array(gammas.split(), dtype=float)
        assert np.all(g >= -1e-8) and abs(float(total) - 1.0) <= 1e-6 and float(dist) <= 1e-6
