"""The CLI gives bit-identical JSON whatever BLAS thread count the caller asks for.

cvxrelu/cli.py sets OPENBLAS_NUM_THREADS, OMP_NUM_THREADS, MKL_NUM_THREADS and
VECLIB_MAXIMUM_THREADS to 1 at import, before numpy loads, because a multithreaded BLAS may sum
in a different order from run to run. Setting those variables from outside therefore changes
nothing, by design; what these tests check is

* that the pin is really in force in a CLI process (a caller asking for 2 threads gets 1), and
* that two runs with different requested thread settings give bit-identical JSON reports
  (timings excluded): every float is compared exactly, not within a tolerance.
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
THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")


def _env(threads):
    return dict(os.environ, **{v: threads for v in THREAD_VARS})


def _run(args, threads):
    r = subprocess.run([sys.executable, "-m", "cvxrelu.cli", *args, "--json"], capture_output=True,
                       text=True, env=_env(threads), cwd=ROOT, timeout=600)
    assert r.returncode in (0, 1), r.stderr
    return r.returncode, r.stdout


def _strip(obj):
    if isinstance(obj, dict):
        return {k: _strip(v) for k, v in obj.items() if k not in VOLATILE and not k.endswith("_s")}
    if isinstance(obj, list):
        return [_strip(v) for v in obj]
    return obj


def test_the_cli_pins_blas_to_one_thread_whatever_the_caller_asks():
    code = ("import cvxrelu.cli, os, json; "
            f"print(json.dumps({{v: os.environ[v] for v in {THREAD_VARS!r}}}))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env("2"), cwd=ROOT,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {v: "1" for v in THREAD_VARS}


@pytest.mark.parametrize("fixture", ["example1_optimal.h5", "example1_perturbed.h5", "planted_d1.h5"])
def test_verify_json_bit_identical_under_different_thread_requests(fixture):
    a = _run(["verify", str(FIX / fixture)], "1")
    b = _run(["verify", str(FIX / fixture)], "2")
    assert a[0] == b[0]
    da, db = json.loads(a[1]), json.loads(b[1])
    assert da["status"] in ("optimal", "suboptimal", "inconclusive")
    # exact comparison of every number: json.dumps of the stripped reports must be equal strings
    assert json.dumps(_strip(da), sort_keys=True) == json.dumps(_strip(db), sort_keys=True)
