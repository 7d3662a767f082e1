"""verify reports the subsampled program of paper Thm. 3 (the program over the network's own
patterns) for a network it does not certify: a stationary-but-not-global network is "optimal over
its own patterns, not globally", a non-stationary one is not optimal even there."""

from __future__ import annotations

import dataclasses

import numpy as np

from cvxrelu.arrangements import network_patterns
from cvxrelu.certificate import verify
from cvxrelu.model import Dataset, Model
from cvxrelu.program import network_from_blocks, solve_program
from oracles import cvxpy_program


def _problem():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((30, 2))
    y = np.maximum(X @ [1.0, -1.0], 0) - np.maximum(X @ [-0.5, 1.0], 0) + 0.05 * rng.standard_normal(30)
    return Dataset(X, y), Model(beta=0.05)


def test_stationary_network_is_optimal_over_its_own_patterns_not_globally():
    data, model = _problem()
    Xt = model.augment(data.X)
    # one pattern of a single direction: the program over it is optimal there, not globally
    u = np.array([1.0, -1.0])
    P = (Xt @ u > 0)[None, :]
    sol = solve_program(Xt, data.y, P, model)
    net = network_from_blocks(sol.W, sol.V, sol.c, model, 1e-10)
    own = network_patterns(Xt, net.Ut())
    ref = cvxpy_program(Xt, data.y, np.unique(own, axis=0), model)  # independent oracle of the own program
    cert = verify(net, data, model)
    assert cert.status.value == "suboptimal"
    rep = cert.details["own_patterns"]
    assert rep["finding"] == "optimal over its own patterns, not globally"
    assert abs(rep["objective"] - ref) <= 1e-6 * abs(ref)
    assert rep["program_minus_lower_bound"] > 1e-3


def test_non_stationary_network_is_not_optimal_even_over_its_own_patterns():
    data, model = _problem()
    Xt = model.augment(data.X)
    P = (Xt @ np.array([1.0, -1.0]) > 0)[None, :]
    sol = solve_program(Xt, data.y, P, model)
    net = network_from_blocks(sol.W, sol.V, sol.c, model, 1e-10)
    net = dataclasses.replace(net, alpha=net.alpha * 1.5)  # same patterns, worse scale
    cert = verify(net, data, model)
    assert cert.details["own_patterns"]["finding"] == "not optimal even over its own patterns"
    assert cert.details["own_patterns"]["network_minus_program"] > 0
