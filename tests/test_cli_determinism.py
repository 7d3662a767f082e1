"""Same inputs give the same verdict and the same numbers whatever the thread settings.

The CLI pins BLAS to one thread (cvxrelu/cli.py); these runs set the usual thread variables to
different values and compare the JSON reports field by field (timings excluded).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIX = ROOT / "fixtures"
VOLATILE = {"seconds", "time", "solve_time_s", "timings", "elapsed"}


def _run(args, threads):
    env = dict(os.environ, OPENBLAS_NUM_THREADS=threads, OMP_NUM_THREADS=threads, MKL_NUM_THREADS=threads)
    r = subprocess.run([sys.executable, "-m", "cvxrelu.cli", *args, "--json"], capture_output=True,
                       text=True, env=env, cwd=ROOT, timeout=600)
    assert r.returncode in (0, 1), r.stderr
    return r.returncode, json.loads(r.stdout)


def _strip(obj):
    if isinstance(obj, dict):
        return {k: _strip(v) for k, v in obj.items() if k not in VOLATILE and not k.endswith("_s")}
    if isinstance(obj, list):
        return [_strip(v) for v in obj]
    return obj


@pytest.mark.parametrize("fixture", ["example1_optimal.h5", "example1_perturbed.h5", "planted_d1.h5"])
def test_verify_same_numbers_whatever_the_threads(fixture):
    a = _run(["verify", str(FIX / fixture)], "1")
    b = _run(["verify", str(FIX / fixture)], "2")
    c = _run(["verify", str(FIX / fixture)], "")
    assert a[0] == b[0] == c[0]
    assert _strip(a[1]) == _strip(b[1]) == _strip(c[1])
    assert a[1]["status"] in ("optimal", "suboptimal", "inconclusive")
