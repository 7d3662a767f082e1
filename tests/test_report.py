"""Rendering (cvxrelu/report.py): what a terminal user reads matches the result dictionaries."""

import io
from pathlib import Path

from rich.console import Console

from cvxrelu.certificate import verify
from cvxrelu.io import load_checkpoint
from cvxrelu.model import Model
from cvxrelu.report import render_certificate, render_solve
from cvxrelu.solve import solve

FIX = Path(__file__).resolve().parents[1] / "fixtures"


def _render(fn, d):
    buf = io.StringIO()
    fn(d, Console(file=buf, width=200, color_system=None))
    return buf.getvalue()


def test_certificate_optimal_and_suboptimal():
    for name, head in (("example1_optimal.h5", "CERTIFIED GLOBALLY OPTIMAL"), ("example1_perturbed.h5", "SUBOPTIMAL")):
        ck = load_checkpoint(str(FIX / name))
        d = verify(ck.network, ck.data, ck.model).to_dict()
        out = _render(render_certificate, d)
        assert out.splitlines()[0].startswith(head), out
        assert format(d["objective"], ".10g") in out and format(d["lower_bound"], ".10g") in out
        assert ("better network" in out) == (d["witness"] is not None)


def test_certificate_without_bound_says_why():
    d = {"status": "inconclusive", "objective": 1.0, "lower_bound": None, "gap": None, "relative_gap": None,
         "tolerance": 1e-6, "patterns": "exact", "reason": "numerical failure while bounding: x"}
    out = _render(render_certificate, d)
    assert out.startswith("INCONCLUSIVE") and "numerical failure while bounding" in out


def test_solve_names_every_backend_and_its_status():
    ck = load_checkpoint(str(FIX / "example1_optimal.h5"))
    for solver, name in (("first-order", "first-order (AL-FISTA)"), ("clarabel", "clarabel"), ("ipm", "cvxrelu-ipm")):
        res = solve(ck.data, Model(beta=0.1), solver=solver)
        d = res.to_dict()
        assert d["solver"]["solver"].startswith(name) and d["solver"]["status"] in ("solved", "almost_solved",
                                                                                   "inaccurate")
        out = _render(render_solve, d)
        assert f"solver        {d['solver']['solver']}" in out or d["solver"]["solver"] in out
        assert "status " + d["solver"]["status"] in out
        assert format(d["objective"], ".10g") in out


def test_solve_detail_is_shown():
    d = {"objective": 1.0, "lower_bound": None, "patterns": "sampled", "n_patterns": 3, "neurons": 1, "width": 1,
         "solver": {"solver": "x", "status": "inaccurate", "detail": "rows still violated", "calls": 1},
         "iterations": 3, "seconds": 0.1}
    out = _render(render_solve, d)
    assert "inaccurate: rows still violated" in out and "not certified" in out
