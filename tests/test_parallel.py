"""Parallel enumeration: the partition is fixed by the data and reduced in task order, so every
field of the result is bit-identical whatever the number of workers or the executor
(cvxrelu/parallel.py, arrangements.PARTITION_TASKS; docs/scale.md)."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import cvxrelu.arrangements as arr
from cvxrelu.arrangements import analyze, brute_force_patterns
from cvxrelu.errors import InputError
from cvxrelu.parallel import resolve_jobs, run_tasks

from test_arrangements import degenerate, m_oracle


def same(a, b):
    """Bit-identical results (M, M_error, argmax and its sign, counts, patterns)."""
    assert a.M == b.M and a.M_error == b.M_error
    assert a.argmax_sign == b.argmax_sign
    assert np.array_equal(a.argmax, b.argmax)
    assert (a.cells_visited, a.candidates_checked, a.rank) == (b.cells_visited, b.candidates_checked, b.rank)
    if a.patterns is None:
        assert b.patterns is None
    else:
        assert np.array_equal(a.patterns, b.patterns)


@pytest.fixture
def always_parallel(monkeypatch):
    """Use worker processes even for small instances (they are skipped below PARALLEL_MIN_SECONDS)."""
    monkeypatch.setattr(arr, "PARALLEL_MIN_SECONDS", 0.0)
    monkeypatch.setattr(arr, "SINGLE_TASK_SECONDS", 0.0)


def instance(seed, n, dt, kind="gaussian"):
    rng = np.random.default_rng(seed)
    X = degenerate(rng, kind, n, dt - 1)
    Xt = np.hstack([X, np.ones((n, 1))])
    return Xt, rng.standard_normal(n)


@pytest.mark.parametrize("seed,n,dt,kind", [(0, 90, 3, "gaussian"), (1, 30, 4, "gaussian"),
                                            (2, 40, 3, "integer"), (3, 24, 4, "duplicates")])
def test_one_and_two_jobs_are_bit_identical(always_parallel, seed, n, dt, kind):
    Xt, nu = instance(seed, n, dt, kind)
    one = analyze(Xt, nu, jobs=1)
    two = analyze(Xt, nu, jobs=2)
    same(one, two)
    pat1 = analyze(Xt, nu, patterns=True, jobs=1)
    pat2 = analyze(Xt, nu, patterns=True, jobs=2)
    same(pat1, pat2)
    # and the value is the true M (independent oracle over the enumerated cells)
    assert abs(one.M - m_oracle(Xt, nu, pat1.patterns)) <= 1e-9 * max(one.M, 1.0) + one.M_error


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10**6), n=st.integers(3, 9), dt=st.integers(3, 4),
       tasks=st.sampled_from([1, 2, 3, 7, 32]))
def test_partition_does_not_change_the_cells_or_M(seed, n, dt, tasks):
    """However the top level is cut, the union of the tasks' cells is the arrangement (checked
    against the brute-force LP enumeration) and M is the same."""
    Xt, nu = instance(seed, n, dt)
    ref = analyze(Xt, nu, patterns=True)
    saved = arr.PARTITION_TASKS, arr.SINGLE_TASK_SECONDS
    try:
        arr.PARTITION_TASKS, arr.SINGLE_TASK_SECONDS = tasks, 0.0
        res = analyze(Xt, nu, patterns=True)
    finally:
        arr.PARTITION_TASKS, arr.SINGLE_TASK_SECONDS = saved
    assert np.array_equal(res.patterns, brute_force_patterns(Xt))
    assert abs(res.M - ref.M) <= res.M_error + ref.M_error


def _square(x):
    return x * x


def test_run_tasks_keeps_task_order_and_checks_jobs():
    assert run_tasks(_square, range(7), jobs=2) == [x * x for x in range(7)]
    ticks = []
    assert run_tasks(_square, [3], jobs=1, progress=ticks.append) == [9] and ticks == [1]
    assert resolve_jobs(None) >= 1 and resolve_jobs(0) == resolve_jobs(None) and resolve_jobs(3) == 3
    with pytest.raises(InputError):
        resolve_jobs(-1)


def test_estimate_work_divides_time_among_workers():
    one = arr.estimate_work(2000, 3)
    two = arr.estimate_work(2000, 3, jobs=2)
    assert two["seconds"] < one["seconds"] and two["cells"] == one["cells"]
    assert arr.estimate_work(30, 6, jobs=4)["seconds"] == arr.estimate_work(30, 6)["seconds"]


def test_dask_local_cluster_is_bit_identical(monkeypatch):
    distributed = pytest.importorskip("distributed")
    monkeypatch.setattr(arr, "SINGLE_TASK_SECONDS", 0.0)  # small instances: the partition still
    Xt, nu = instance(5, 60, 3)
    ref = analyze(Xt, nu, jobs=1)
    pat = analyze(Xt, nu, patterns=True, jobs=1)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        res = analyze(Xt, nu, scheduler=cluster.scheduler_address)
        same(ref, res)
        same(pat, analyze(Xt, nu, patterns=True, scheduler=cluster.scheduler_address))
        Xt4, nu4 = instance(6, 20, 4)
        same(analyze(Xt4, nu4), analyze(Xt4, nu4, scheduler=cluster.scheduler_address))


def test_unreachable_scheduler_is_bad_usage(monkeypatch):
    pytest.importorskip("distributed")
    monkeypatch.setattr("cvxrelu.parallel.CONNECT_TIMEOUT", 2.0)
    Xt, nu = instance(5, 20, 3)
    with pytest.raises(InputError, match="cannot connect"):
        analyze(Xt, nu, scheduler="tcp://127.0.0.1:9")


# ------------------------------------------------------------------ CLI end to end

def _cli(args):
    import subprocess
    import sys
    r = subprocess.run([sys.executable, "-m", "cvxrelu.cli", *args], capture_output=True, text=True,
                       timeout=600)
    return r


def _strip(obj):
    if isinstance(obj, dict):
        # times, and the cost model's estimate (which divides by the worker count), may differ
        return {k: _strip(v) for k, v in obj.items()
                if k not in ("timings", "seconds", "enumeration_seconds") and not k.endswith("_s")}
    if isinstance(obj, list):
        return [_strip(v) for v in obj]
    return obj


def test_cli_verify_same_certificate_for_jobs_and_scheduler(tmp_path):
    import json

    from cvxrelu.io import save_checkpoint
    from cvxrelu.model import Dataset, Model, Network

    rng = np.random.default_rng(3)
    X = rng.uniform(-2, 2, (50, 2))
    y = np.sin(1.5 * X[:, 0]) + 0.1 * rng.standard_normal(50)
    net = Network(rng.standard_normal((2, 3)), rng.standard_normal(3), rng.standard_normal(3))
    path = str(tmp_path / "net.h5")
    save_checkpoint(path, net, Model(0.5, hidden_bias="penalized"), Dataset(X, y))
    outs = []
    for extra in (["--jobs", "1"], ["--jobs", "2"], []):
        r = _cli(["verify", path, "--json", *extra])
        assert r.returncode in (0, 1), r.stderr
        outs.append(_strip(json.loads(r.stdout)))
    assert outs[0] == outs[1] == outs[2]
    assert outs[0]["arrangement"]["rank"] == 3
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        r = _cli(["verify", path, "--json", "--scheduler", cluster.scheduler_address])
        assert r.returncode in (0, 1), r.stderr
        assert _strip(json.loads(r.stdout)) == outs[0]
    bad = _cli(["verify", path, "--jobs", "-1"])
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


# ------------------------------------------------------------------ witness at large n

def test_large_n_witness_skips_the_program_when_a_cheap_route_proves_suboptimality(monkeypatch):
    """Above PROGRAM_ENTRIES the interior-point program on the network's patterns is not solved
    once a cheap route (rescale, merge, line search, ridge refit) has a strictly better network;
    the witness is still evaluated with the true objective."""
    import cvxrelu.witness as wit
    from cvxrelu.certificate import Status, verify
    from cvxrelu.model import Dataset, Model, Network, objective

    rng = np.random.default_rng(0)
    n = 3000
    X = rng.uniform(-2, 2, (n, 1))
    y = np.sin(1.5 * X[:, 0]) + 0.1 * rng.standard_normal(n)
    net = Network(rng.standard_normal((1, 6)), rng.standard_normal(6), rng.uniform(-2, 2, 6))
    model = Model(0.01 * n, hidden_bias="penalized")
    data = Dataset(X, y)
    calls = []
    real = wit.improve_on_patterns
    monkeypatch.setattr(wit, "improve_on_patterns", lambda *a, **k: calls.append(1) or real(*a, **k))
    monkeypatch.setattr(wit, "PROGRAM_ENTRIES", 1000)
    cert = verify(net, data, model)
    assert cert.status is Status.SUBOPTIMAL and not calls
    assert objective(cert.witness, data, model) < objective(net, data, model)
    monkeypatch.setattr(wit, "PROGRAM_ENTRIES", 10**9)
    cert2 = verify(net, data, model)
    assert cert2.status is Status.SUBOPTIMAL and calls


def test_refit_output_weights_solves_the_ridge_problem():
    from cvxrelu.model import Dataset, Model, Network, objective
    from cvxrelu.witness import refit_output_weights

    rng = np.random.default_rng(1)
    X = rng.standard_normal((40, 2))
    y = rng.standard_normal(40)
    model = Model(0.3)
    net = Network(rng.standard_normal((2, 4)), rng.standard_normal(4))
    rf = refit_output_weights(net, Dataset(X, y), model)
    # closed form on the fixed features, then rescaling can only lower the objective
    Phi = np.maximum(X @ net.U, 0.0)
    alpha = np.linalg.solve(Phi.T @ Phi + 0.3 * np.eye(4), Phi.T @ y)
    ridge = Network(net.U, alpha)
    assert objective(rf, Dataset(X, y), model) <= objective(ridge, Dataset(X, y), model) + 1e-12
    assert objective(ridge, Dataset(X, y), model) <= objective(net, Dataset(X, y), model)
    assert refit_output_weights(net, Dataset(X, np.sign(y) + (y == 0)), Model(0.3, loss="logistic")) is None


# ------------------------------------------------------------------ streaming at rank 4

@pytest.mark.parametrize("seed,n,kind", [(2, 40, "gaussian"), (5, 30, "integer"), (7, 24, "duplicates")])
def test_rank4_streaming_matches_the_reference_path(monkeypatch, seed, n, kind):
    """Streaming the 3-D flats' cells to the top (dropping cells whose three norms are at most
    an attained value) gives the same M, M_error, argmax and counts as building the lists."""
    Xt, nu = instance(seed, n, 4, kind)
    monkeypatch.setattr(arr, "PAIR_ONCE", False)  # the counts of PAIR_ONCE differ (fewer sweeps)
    monkeypatch.setattr(arr, "STREAM_RANK4", False)
    ref = analyze(Xt, nu)
    monkeypatch.setattr(arr, "STREAM_RANK4", True)
    res = analyze(Xt, nu)
    assert res.M == ref.M and res.M_error == ref.M_error and np.array_equal(res.argmax, ref.argmax)
    assert res.cells_visited == ref.cells_visited
    pats = analyze(Xt, patterns=True).patterns
    assert abs(res.M - m_oracle(Xt, nu, pats)) <= 1e-9 * max(res.M, 1.0) + res.M_error


def collinear_triples(rng, n):
    """Points in R^3 (bias appended: rank 4) in general position except that some triples are
    collinear: three augmented rows in a 2-D subspace, so the flats of those rows are not
    singletons (two rows parallel in each) while the top level is."""
    X = rng.standard_normal((n, 3))
    for a, b, c in ((0, 1, 2), (3, 4, 5), (3, 6, 7)):
        t = rng.choice([0.3, 0.5, -1.0, 2.0])
        X[c] = t * X[a] + (1 - t) * X[b]
    return np.hstack([X, np.ones((n, 1))])


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10**6), n=st.integers(8, 26),
       kind=st.sampled_from(["gaussian", "integer", "duplicates", "collinear"]), tasks=st.sampled_from([1, 3, 32]))
def test_sweeping_each_plane_once_gives_the_same_M(seed, n, kind, tasks):
    """PAIR_ONCE (rank 4: each plane swept by one of its two parent flats, which also computes
    the other flat's candidates) and CANONICAL_PUSH (each cell's candidate from the faces that
    the smallest-index rule picks, not all) give the reference path's M, at most its M_error (candidates in the
    other flat are projections along its normal instead of through its basis: equal up to
    rounding) and the true maximum over the enumerated cells."""
    rng = np.random.default_rng(seed)
    if kind == "collinear":
        Xt = collinear_triples(rng, n)
    else:
        Xt = np.hstack([degenerate(rng, kind, n, 3), np.ones((n, 1))])
    nu = rng.standard_normal(n)
    saved = arr.PARTITION_TASKS, arr.PAIR_ONCE, arr.CANONICAL_PUSH, arr.SINGLE_TASK_SECONDS
    try:
        arr.PARTITION_TASKS, arr.SINGLE_TASK_SECONDS = tasks, 0.0
        arr.PAIR_ONCE = arr.CANONICAL_PUSH = False
        ref = analyze(Xt, nu)
        arr.PAIR_ONCE = arr.CANONICAL_PUSH = True
        res = analyze(Xt, nu)
        arr.PAIR_ONCE = False
        canonical_only = analyze(Xt, nu)
    finally:
        arr.PARTITION_TASKS, arr.PAIR_ONCE, arr.CANONICAL_PUSH, arr.SINGLE_TASK_SECONDS = saved
    assert abs(canonical_only.M - ref.M) <= 1e-12 * max(ref.M, 1.0)
    assert canonical_only.M_error == ref.M_error and canonical_only.candidates_checked <= ref.candidates_checked
    # the sweeps it runs are a subset of the reference's (same planes, same coordinates), so
    # the arcs it drops are too: M_error can only be smaller
    assert res.M_error <= ref.M_error
    assert abs(res.M - ref.M) <= 1e-12 * max(ref.M, 1.0)
    pats = analyze(Xt, patterns=True).patterns
    assert abs(res.M - m_oracle(Xt, nu, pats)) <= 1e-9 * max(res.M, 1.0) + res.M_error


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10**6), n=st.integers(3, 40),
       kind=st.sampled_from(["gaussian", "integer", "duplicates", "zero_rows"]), tasks=st.sampled_from([1, 3, 32]))
def test_canonical_pushes_at_rank_3_give_the_same_M(seed, n, kind, tasks):
    """CANONICAL_PUSH at rank 3 (a top-level cell's candidate pushed only from the facets whose
    row is below both rows at its arc's ends) checks fewer candidates and finds the same M as
    pushing from every facet, and the true maximum over the enumerated cells."""
    rng = np.random.default_rng(seed)
    Xt = np.hstack([degenerate(rng, kind, n, 2), np.ones((n, 1))])
    nu = rng.standard_normal(n)
    saved = arr.PARTITION_TASKS, arr.CANONICAL_PUSH, arr.SINGLE_TASK_SECONDS
    try:
        arr.PARTITION_TASKS, arr.SINGLE_TASK_SECONDS = tasks, 0.0
        arr.CANONICAL_PUSH = False
        ref = analyze(Xt, nu)
        arr.CANONICAL_PUSH = True
        res = analyze(Xt, nu)
    finally:
        arr.PARTITION_TASKS, arr.CANONICAL_PUSH, arr.SINGLE_TASK_SECONDS = saved
    assert res.M_error == ref.M_error and res.candidates_checked <= ref.candidates_checked
    assert abs(res.M - ref.M) <= 1e-12 * max(ref.M, 1.0)
    pats = analyze(Xt, patterns=True).patterns
    assert abs(res.M - m_oracle(Xt, nu, pats)) <= 1e-9 * max(res.M, 1.0) + res.M_error


def test_pair_once_applies_only_where_both_flats_are_general(monkeypatch):
    """The flags: general position sweeps every plane once (fewer cells visited than the
    reference path); the flats of collinear rows keep their own sweeps."""
    rng = np.random.default_rng(4)
    Xt = collinear_triples(rng, 20)
    eng = arr._Engine(Xt, np.eye(4), rng.standard_normal(20), patterns=False, margin=0.0)
    root = eng._discover(frozenset(), np.arange(20), np.eye(4), recurse=False)
    flags = eng._pair_flags(root)
    assert flags is not None
    assert not flags[[0, 1, 2, 3, 4, 5, 6, 7]].any() and flags[8:].all()
    Xg = np.hstack([rng.standard_normal((20, 3)), np.ones((20, 1))])
    nu = rng.standard_normal(20)
    monkeypatch.setattr(arr, "PAIR_ONCE", False)
    ref = analyze(Xg, nu)
    monkeypatch.setattr(arr, "PAIR_ONCE", True)
    res = analyze(Xg, nu)
    assert res.cells_visited < ref.cells_visited and res.M == ref.M


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10**6), rows=st.integers(0, 12), cols=st.integers(1, 70),
       kind=st.sampled_from(["bool", "int8"]))
def test_unique_rows_is_numpy_unique_axis0(seed, rows, cols, kind):
    from cvxrelu.model import unique_rows

    rng = np.random.default_rng(seed)
    A = rng.integers(0, 2, (rows, cols)).astype(bool) if kind == "bool" else \
        rng.integers(-1, 2, (rows, cols)).astype(np.int8)
    if rows > 3:
        A[rows // 2:] = A[: rows - rows // 2]  # duplicates
    ref = np.unique(A, axis=0, return_index=True, return_inverse=True)
    got = unique_rows(A, return_index=True, return_inverse=True)
    assert np.array_equal(ref[0], got[0]) and np.array_equal(ref[1], got[1])
    assert np.array_equal(np.asarray(ref[2]).ravel(), got[2])
    assert np.array_equal(unique_rows(A), ref[0])


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10**6), n=st.integers(3, 30), rank=st.sampled_from([3, 4]),
       kind=st.sampled_from(["gaussian", "integer", "duplicates", "zero_rows", "collinear"]),
       sample=st.sampled_from([1, 4, 16, 64]), tasks=st.sampled_from([1, 3]))
def test_sample_rows_test_gives_the_same_M(seed, n, rank, kind, sample, tasks):
    """The third test of candidates (SAMPLE_ROWS: the candidate's sign on a sample of rows
    against the cell's at its arc's midpoint) rejects only candidates outside their closed cell:
    the same M as without it (at most rounding apart), fewer or as many candidates checked, and
    the true maximum over the enumerated cells. The test is forced on at every size here."""
    rng = np.random.default_rng(seed)
    if kind == "collinear":
        Xt = collinear_triples(rng, max(n, 8))[:, 4 - rank:] if rank == 4 else \
            np.hstack([degenerate(rng, "gaussian", n, 2), np.ones((n, 1))])
    else:
        Xt = np.hstack([degenerate(rng, kind, n, rank - 1), np.ones((n, 1))])
    nu = rng.standard_normal(Xt.shape[0])
    saved = arr.PARTITION_TASKS, arr.SAMPLE_ROWS, arr.SAMPLE_MIN_ROWS, arr.SINGLE_TASK_SECONDS
    try:
        arr.PARTITION_TASKS, arr.SINGLE_TASK_SECONDS = tasks, 0.0
        arr.SAMPLE_ROWS = 0
        ref = analyze(Xt, nu)
        arr.SAMPLE_ROWS, arr.SAMPLE_MIN_ROWS = sample, 0
        res = analyze(Xt, nu)
    finally:
        arr.PARTITION_TASKS, arr.SAMPLE_ROWS, arr.SAMPLE_MIN_ROWS, arr.SINGLE_TASK_SECONDS = saved
    assert res.M_error == ref.M_error and res.candidates_checked <= ref.candidates_checked
    assert abs(res.M - ref.M) <= 1e-12 * max(ref.M, 1.0)
    pats = analyze(Xt, patterns=True).patterns
    assert abs(res.M - m_oracle(Xt, nu, pats)) <= 1e-9 * max(res.M, 1.0) + res.M_error


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10**6), n=st.integers(1, 30), kind=st.sampled_from(["gaussian", "integer", "duplicates"]))
def test_arc_midpoints_lie_inside_their_arcs(seed, n, kind):
    """``_Cells.mids``: every row that does not vanish on the arc's plane has at the midpoint the
    sign it has on the arc (the arc's sign vector, from the sweep's running xor), with a margin
    far above rounding; the midpoint is a unit vector in the plane."""
    rng = np.random.default_rng(seed)
    Xt = np.hstack([degenerate(rng, kind, n, 2), np.ones((n, 1))])
    eng = arr._Engine(Xt, np.eye(3), rng.standard_normal(n), patterns=True, margin=0.0)
    root = eng._discover(frozenset(), np.arange(n), np.eye(3), recurse=False)
    P = Xt[root.rest] @ root.B
    H = arr._complements(root.normals)
    js = np.arange(root.normals.shape[0])
    arcs, kk = eng._sweep_children(root, js, P, H)
    if arcs.lazy is None:  # a plane no row cuts: its cell is not an arc
        return
    mids = arcs.mids(np.arange(len(arcs)))
    assert np.allclose(np.linalg.norm(mids, axis=1), 1.0, atol=1e-12)
    dots = mids @ Xt.T  # (arcs, n)
    scale = np.linalg.norm(Xt, axis=1)
    act = np.unpackbits(arcs.bits.view(np.uint8), axis=1, count=n, bitorder="little").astype(bool)
    for i in range(len(arcs)):
        own = root.rest[root.label == kk[i]]  # the rows whose hyperplane is the arc's plane
        assert np.all(np.abs(dots[i, own]) <= 1e-12 * scale[own])
        other = np.setdiff1d(np.arange(n), own)
        # a margin far above rounding, and the arc's sign on every other row
        assert np.all(np.abs(dots[i, other]) > 1e-9 * scale[other])
        assert np.array_equal(dots[i, other] > 0, act[i, other])


@pytest.mark.parametrize("rank, n", [(3, 60), (4, 30)])
def test_sample_rows_test_rejects_candidates(monkeypatch, rank, n):
    """The sample test does work: on random data it leaves at most a quarter of the candidates
    to the O(n) check, with the same M."""
    rng = np.random.default_rng(rank)
    Xt = np.hstack([rng.standard_normal((n, rank - 1)), np.ones((n, 1))])
    nu = rng.standard_normal(n)
    monkeypatch.setattr(arr, "SAMPLE_ROWS", 0)
    ref = analyze(Xt, nu)
    monkeypatch.setattr(arr, "SAMPLE_ROWS", 16)
    monkeypatch.setattr(arr, "SAMPLE_MIN_ROWS", 0)
    res = analyze(Xt, nu)
    assert res.candidates_checked < ref.candidates_checked / 4
    assert res.M == ref.M


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10**6), n=st.integers(2, 40), rank=st.sampled_from([3, 4]),
       kind=st.sampled_from(["gaussian", "integer", "duplicates", "zero_rows"]))
def test_half_sort_gives_the_same_sweeps(seed, n, rank, kind):
    """HALF_SORT (sort the crossings in [0, pi) and repeat their order pi later) gives the same
    M as sorting every crossing, the same cells, and the true maximum over the cells; in general
    position the same order, so every count is equal too."""
    rng = np.random.default_rng(seed)
    Xt = np.hstack([degenerate(rng, kind, n, rank - 1), np.ones((n, 1))])
    nu = rng.standard_normal(n)
    saved = arr.HALF_SORT
    try:
        arr.HALF_SORT = False
        ref = analyze(Xt, nu)
        arr.HALF_SORT = True
        res = analyze(Xt, nu)
    finally:
        arr.HALF_SORT = saved
    assert res.cells_visited == ref.cells_visited and res.M_error == ref.M_error
    assert abs(res.M - ref.M) <= 1e-12 * max(ref.M, 1.0)
    if kind == "gaussian":
        assert res.M == ref.M and res.candidates_checked == ref.candidates_checked
    pats = analyze(Xt, patterns=True).patterns
    assert abs(res.M - m_oracle(Xt, nu, pats)) <= 1e-9 * max(res.M, 1.0) + res.M_error


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10**6), K=st.integers(1, 4), L=st.integers(1, 30),
       kind=st.sampled_from(["uniform", "ties", "near_pi", "inconsistent"]))
def test_crossing_order_sorts_every_angle(seed, K, L, kind):
    """``_crossing_order``: the half sort's angles equal the full stable sort's, element by
    element (two sorted orders of one multiset), and its order is a permutation mapping to
    them; angles that break e = a -+ pi (``inconsistent``, rounding noise) make it sort the batch
    whole, still sorted."""
    rng = np.random.default_rng(seed)
    if kind == "ties":
        a = rng.choice([0.0, 0.5, np.pi / 2, np.pi, 3.0, 5.0], (K, L))
    elif kind == "near_pi":
        a = np.pi + rng.integers(-3, 4, (K, L)) * np.spacing(np.pi)
    else:
        a = rng.uniform(0.0, 2 * np.pi, (K, L))
    e = np.where(a >= np.pi, a - np.pi, a + np.pi)
    if kind == "inconsistent":
        e = e + rng.choice([0.0, 1e-15, -1e-15], (K, L))
    order, th = arr._crossing_order(a, e, half=True)
    ref_order, ref_th = arr._crossing_order(a, e, half=False)
    assert np.array_equal(th, ref_th)
    assert np.all(np.diff(th, axis=1) >= 0)
    ae = np.concatenate([a, e], axis=1)
    assert np.array_equal(np.sort(order, axis=1), np.tile(np.arange(2 * L), (K, 1)))
    assert np.array_equal(np.take_along_axis(ae, order, axis=1), th)


def test_crossing_order_falls_back_when_the_half_order_is_not_sorted():
    """Two rows whose exits (pi after their entries) are out of their entries' order: the half
    order is rejected and the whole batch sorted."""
    a = np.array([[1.0, 1.0 + 4e-16, 2.0]])
    e = np.array([[1.0 + np.pi + 1e-15, 1.0 + 4e-16 + np.pi, 2.0 + np.pi]])
    order, th = arr._crossing_order(a, e, half=True)
    assert np.array_equal(order, np.argsort(np.concatenate([a, e], axis=1), axis=1, kind="stable"))
    assert np.all(np.diff(th, axis=1) >= 0) and order[0, 4] == 3 and order[0, 3] == 4


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10**6), n=st.integers(3, 30), rank=st.sampled_from([3, 4]),
       kind=st.sampled_from(["gaussian", "integer", "duplicates"]))
def test_small_problems_run_as_one_task_with_the_same_result(seed, n, rank, kind):
    """Below SINGLE_TASK_SECONDS the top level is one task: the same M, argmax sign, M_error and
    cells as the partition into PARTITION_TASKS (a candidate may be skipped earlier in one engine
    whose attained value rose, so only fewer or as many candidates), and the oracle's maximum."""
    rng = np.random.default_rng(seed)
    Xt = np.hstack([degenerate(rng, kind, n, rank - 1), np.ones((n, 1))])
    nu = rng.standard_normal(n)
    saved = arr.SINGLE_TASK_SECONDS
    try:
        arr.SINGLE_TASK_SECONDS = 0.0
        parts = analyze(Xt, nu)
        arr.SINGLE_TASK_SECONDS = 1e9
        one = analyze(Xt, nu)
    finally:
        arr.SINGLE_TASK_SECONDS = saved
    assert one.M == parts.M and one.M_error == parts.M_error and one.argmax_sign == parts.argmax_sign
    assert one.cells_visited == parts.cells_visited and one.candidates_checked <= parts.candidates_checked
    pats = analyze(Xt, patterns=True).patterns
    assert abs(one.M - m_oracle(Xt, nu, pats)) <= 1e-9 * max(one.M, 1.0) + one.M_error
