"""The bundled fixtures against the values fixtures/make_fixtures.py wrote beside them.

fixtures/expected.json holds, per fixture, the objective of its network (evaluated by the
script in plain numpy) and the global optimum over every pattern (the cvxpy oracle of
tests/oracles.py). The package must reproduce the objective, its lower bound must stay below the
optimum, and the verdicts must follow from the two numbers.
"""

import json
from pathlib import Path

import pytest

from cvxrelu.certificate import Status, verify
from cvxrelu.io import load_checkpoint
from cvxrelu.model import objective

FIX = Path(__file__).resolve().parents[1] / "fixtures"
EXPECTED = json.loads((FIX / "expected.json").read_text())
TOL = 1e-6


def test_every_fixture_has_expected_values():
    assert sorted(EXPECTED) == sorted(p.name for p in FIX.glob("*.h5"))


def test_figure1_closed_form():
    """Paper Figure 1 in our convention (beta = 1/2): optimum 0.375 (docs/method.md section 10)."""
    assert EXPECTED["figure1_optimal.h5"]["optimum"] == pytest.approx(0.375, rel=1e-9)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_objective_bound_and_verdict(name):
    exp = EXPECTED[name]
    ck = load_checkpoint(str(FIX / name))
    L = objective(ck.network, ck.data, ck.model)
    assert L == pytest.approx(exp["objective"], rel=1e-12)
    cert = verify(ck.network, ck.data, ck.model, tol=TOL)
    P = exp["optimum"]
    assert cert.lower_bound <= P + 1e-9 * max(1.0, abs(P))
    gap = (exp["objective"] - P) / max(1.0, abs(exp["objective"]))
    if gap <= 1e-9:  # the network is optimal (to the oracle's accuracy)
        assert cert.status is Status.OPTIMAL, cert.to_dict()
    elif gap > 10 * TOL:
        assert cert.status is Status.SUBOPTIMAL
        assert P - 1e-9 <= objective(cert.witness, ck.data, ck.model) < L
