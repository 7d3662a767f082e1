"""Column generation with exact pricing reaches the optimum of the full convex program."""

import warnings

import numpy as np
import pytest

from oracles import convex_optimum
from cvxrelu.arrangements import analyze, sample_patterns
from cvxrelu.certificate import Status, verify
from cvxrelu.colgen import column_generation, restricted_pricing
from cvxrelu.model import Dataset, Model, Network

warnings.filterwarnings("ignore", message="Solution may be inaccurate")


def oracle_solver(data, model):
    def solve(P):
        _, Ut, alpha = convex_optimum(model.augment(data.X), data.y, model.beta, P)
        return Network.from_augmented(Ut, alpha, model, None)

    return solve


@pytest.mark.parametrize("seed,n,d,hb", [(0, 12, 1, "penalized"), (1, 10, 2, "none"), (2, 9, 2, "penalized")])
def test_colgen_matches_full_program(seed, n, d, hb):
    rng = np.random.default_rng(seed)
    data = Dataset(rng.standard_normal((n, d)), rng.standard_normal(n))
    model = Model(beta=0.2, hidden_bias=hb)
    Xt = model.augment(data.X)
    full, _, _ = convex_optimum(Xt, data.y, model.beta, analyze(Xt, patterns=True).patterns)
    cg = column_generation(data, model, oracle_solver(data, model), tol=1e-8)
    assert cg.objective == pytest.approx(full, rel=1e-6, abs=1e-9)
    assert cg.lower_bound <= cg.objective
    assert verify(cg.network, data, model).status is Status.OPTIMAL


def test_restricted_pricing_is_exact_per_cell():
    """The restricted value equals the exact M when the candidates are all the cells."""
    rng = np.random.default_rng(5)
    Xt = np.hstack([rng.standard_normal((15, 2)), np.ones((15, 1))])
    lam = rng.standard_normal(15)
    res = analyze(Xt, lam, patterns=True)
    val, i, viol = restricted_pricing(Xt, lam, res.patterns, beta=0.0)
    assert val == pytest.approx(res.M, rel=1e-9)
    sub = sample_patterns(Xt, 5, seed=0)
    assert restricted_pricing(Xt, lam, sub, beta=0.0)[0] <= res.M + 1e-9


@pytest.mark.parametrize("n", [1000, 30_000, 200_000])
def test_heuristic_ascent_starts_shrink_with_n(monkeypatch, n):
    """The ascent's data-row and random starts are SEARCH_DATA_STARTS each up to
    HEURISTIC_START_ROWS / SEARCH_DATA_STARTS rows, then HEURISTIC_START_ROWS / n (at least
    HEURISTIC_MIN_STARTS), plus two per live neuron (the neuron and its jittered copy)."""
    from cvxrelu import colgen
    from cvxrelu.search import SEARCH_DATA_STARTS

    seen = []
    monkeypatch.setattr(colgen, "violated_patterns", lambda Xt, lam, model, starts, *a, **k: (seen.append(starts.shape[1]), ([], 0.0))[1])
    rng = np.random.default_rng(0)
    data = Dataset(rng.uniform(-2, 2, (n, 1)), rng.standard_normal(n))
    model = Model(beta=1.0, hidden_bias="penalized")
    net = Network(U=np.array([[1.0, -1.0, 0.5]]), alpha=np.array([1.0, 1.0, -1.0]), b=np.array([0.1, 0.2, 0.3]))
    Xt = model.augment(data.X)
    colgen._heuristic_patterns(Xt, data, model, net, np.zeros((0, n), dtype=bool), rng)
    k = SEARCH_DATA_STARTS if n * SEARCH_DATA_STARTS <= colgen.HEURISTIC_START_ROWS else max(
        colgen.HEURISTIC_MIN_STARTS, colgen.HEURISTIC_START_ROWS // n)
    assert seen == [2 * k + 2 * 3]
    assert (k < SEARCH_DATA_STARTS) == (n > 25_000)
