"""Every bad input: exit 2, exactly one line on stderr naming the file and the object, no traceback.

The table BAD below is the project's bad-input table (docs/reliability.md lists it with the
message each row gets: `python tests/test_cli_bad_inputs.py` prints it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
FIX = ROOT / "fixtures"


def run(*args, cwd=None):
    env = dict(os.environ)
    return subprocess.run([sys.executable, "-m", "cvxrelu.cli", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, env=env, timeout=300)


def good(path, **over):
    """A valid checkpoint (Example 1), with entries replaced or removed (value None)."""
    X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    entries = {
        "model/U": np.array([[0.5], [-0.5]]),
        "model/alpha": np.array([0.7]),
        "data/X": X,
        "data/y": np.array([1.0, 0.0, 0.0]),
    }
    attrs = {"beta": 0.1, "loss": "squared", "hidden_bias": "none", "output_bias": "none"}
    for k, v in over.items():
        key = k.replace("__", "/")
        if key in attrs:
            if v is None:
                attrs.pop(key)
            else:
                attrs[key] = v
        elif v is None:
            entries.pop(key, None)
        else:
            entries[key] = v
    with h5py.File(path, "w") as f:
        f.attrs["format"] = "cvxrelu-checkpoint"
        f.attrs["version"] = 1
        g = f.create_group("model")
        for k, v in attrs.items():
            g.attrs[k] = v
        for k, v in entries.items():
            f[k] = v
    return path


def soft_link(p):
    good(p, model__U=None)
    with h5py.File(p, "a") as f:
        f["elsewhere"] = np.array([[0.5], [-0.5]])
        f["model/U"] = h5py.SoftLink("/elsewhere")
    return p


def external_link(p):
    other = p.parent / "other.h5"
    with h5py.File(other, "w") as f:
        f["U"] = np.array([[0.5], [-0.5]])
    good(p, model__U=None)
    with h5py.File(p, "a") as f:
        f["model/U"] = h5py.ExternalLink(str(other), "/U")
    return p


def external_storage(p):
    raw = p.parent / "raw.bin"
    np.array([0.5, -0.5]).tofile(raw)
    good(p, model__U=None)
    with h5py.File(p, "a") as f:
        f.create_dataset("model/U", shape=(2, 1), dtype="<f8", external=[(str(raw), 0, 16)])
    return p


def virtual(p):
    good(p, model__U=None)
    with h5py.File(p, "a") as f:
        f["src"] = np.array([0.5, -0.5])
        layout = h5py.VirtualLayout(shape=(2, 1), dtype="f8")
        layout[:, 0] = h5py.VirtualSource(f["src"])
        f["model"].create_virtual_dataset("U", layout)
    return p


def dtype_case(kind):
    def make(p):
        good(p, model__U=None)
        with h5py.File(p, "a") as f:
            if kind == "string":
                f["model/U"] = np.array([[b"a"], [b"b"]])
            elif kind == "complex":
                f["model/U"] = np.array([[0.5 + 1j], [-0.5]])
            elif kind == "compound":
                f["model/U"] = np.zeros((2, 1), dtype=[("a", "f8"), ("b", "f8")])
            elif kind == "bool":
                f["model/U"] = np.ones((2, 1), dtype=bool)
        return p
    return make


def odd_float(where):
    """A float type numpy cannot represent (exponent bias 4278191103; found by the fuzzer)."""
    def make(p):
        kw = {"beta": None} if where == "attribute" else {"model__U": None}
        good(p, **kw)
        tid = h5py.h5t.IEEE_F64LE.copy()
        tid.set_ebias(4278191103)
        with h5py.File(p, "a") as f:
            if where == "attribute":
                h5py.h5a.create(f["model"].id, b"beta", tid, h5py.h5s.create(h5py.h5s.SCALAR))
            else:
                h5py.h5d.create(f["model"].id, b"U", tid, h5py.h5s.create_simple((2, 1)))
        return p
    return make


def text_file(p):
    p.write_text("not an hdf5 file\n")
    return p


def empty_file(p):
    p.write_bytes(b"")
    return p


def directory(p):
    p.mkdir()
    return p


def truncated(p):
    good(p)
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 3])
    return p


# name, builder(path) -> path, extra CLI args, words the message must contain
BAD = [
    ("NaN in X", lambda p: good(p, data__X=np.array([[1.0, 0.0], [np.nan, 1.0], [1.0, 1.0]])), [], ["/data/X", "NaN", "row 1"]),
    ("inf in y", lambda p: good(p, data__y=np.array([1.0, np.inf, 0.0])), [], ["/data/y", "inf"]),
    ("NaN in U", lambda p: good(p, model__U=np.array([[np.nan], [0.0]])), [], ["/model/U", "NaN"]),
    ("NaN in alpha", lambda p: good(p, model__alpha=np.array([np.nan])), [], ["/model/alpha", "NaN"]),
    ("X rows != y length", lambda p: good(p, data__y=np.array([1.0, 0.0])), [], ["/data/X", "/data/y", "rows"]),
    ("U rows != X columns", lambda p: good(p, model__U=np.ones((3, 1))), [], ["/model/U", "columns"]),
    ("alpha length != U columns", lambda p: good(p, model__alpha=np.ones(2)), [], ["/model/alpha", "columns"]),
    ("missing /model/U", lambda p: good(p, model__U=None), [], ["missing /model/U"]),
    ("missing /model/alpha", lambda p: good(p, model__alpha=None), [], ["missing /model/alpha"]),
    ("missing /data, no --data", lambda p: good(p, data__X=None, data__y=None), [], ["no /data", "--data"]),
    ("beta = 0", lambda p: good(p, beta=0.0), [], ["beta", "> 0"]),
    ("beta < 0", lambda p: good(p, beta=-1.0), [], ["beta", "> 0"]),
    ("beta NaN", lambda p: good(p, beta=np.nan), [], ["beta"]),
    ("beta missing", lambda p: good(p, beta=None), [], ["beta"]),
    ("beta a string", lambda p: good(p, beta="big"), [], ["beta"]),
    ("unknown loss", lambda p: good(p, loss="hinge"), [], ["loss", "hinge"]),
    ("unknown bias mode", lambda p: good(p, hidden_bias="maybe"), [], ["hidden_bias", "maybe"]),
    ("hidden bias without b", lambda p: good(p, hidden_bias="penalized"), [], ["/model/b", "missing"]),
    ("logistic labels not +-1", lambda p: good(p, loss="logistic"), [], ["labels", "-1 or +1"]),
    ("empty X", lambda p: good(p, data__X=np.zeros((0, 2)), data__y=np.zeros(0)), [], ["/data/X", "empty"]),
    ("scalar X", lambda p: good(p, data__X=np.float64(1.0)), [], ["/data/X", "shape"]),
    ("3-D X", lambda p: good(p, data__X=np.ones((3, 2, 1))), [], ["/data/X", "shape"]),
    ("1-D U", lambda p: good(p, model__U=np.ones(2)), [], ["/model/U", "matrix"]),
    ("string dtype", dtype_case("string"), [], ["/model/U", "string"]),
    ("complex dtype", dtype_case("complex"), [], ["/model/U", "complex"]),
    ("compound dtype", dtype_case("compound"), [], ["/model/U", "compound"]),
    ("boolean dtype", dtype_case("bool"), [], ["/model/U", "boolean"]),
    ("unrepresentable float attribute", odd_float("attribute"), [], ["beta", "/model", "cannot be read"]),
    ("unrepresentable float dataset", odd_float("dataset"), [], ["/model/U", "unsupported HDF5 data type"]),
    ("soft link", soft_link, [], ["/model/U", "soft link"]),
    ("external link", external_link, [], ["/model/U", "external link"]),
    ("external storage", external_storage, [], ["/model/U", "external storage"]),
    ("virtual dataset", virtual, [], ["/model/U", "virtual"]),
    ("not an HDF5 file", text_file, [], ["not an HDF5 file"]),
    ("empty file", empty_file, [], ["not an HDF5 file"]),
    ("truncated HDF5 file", truncated, [], ["ck.h5"]),
    ("a directory", directory, [], ["directory"]),
    ("nonexistent file", lambda p: p, [], ["no such file"]),
    ("--tol negative", good, ["--tol", "-1"], ["--tol"]),
    ("--tol >= 1", good, ["--tol", "1"], ["--tol"]),
    ("--data with wrong columns", good, ["--data", "WRONGDATA"], ["/model/U", "columns"]),
    ("--atol negative", good, ["--atol", "-1"], ["--atol"]),
    ("--time-limit zero", good, ["--time-limit", "0"], ["--time-limit"]),
    ("width 0 with a neuron axis elsewhere (U of shape (0, 1))", lambda p: good(p, model__U=np.zeros((0, 1))),
     [], ["/model/U", "empty"]),
]
# (A data set too large to enumerate is no bad input since contract v2: tests/test_cli_v2.py.)


@pytest.mark.parametrize("name,build,extra,words", BAD, ids=[b[0] for b in BAD])
def test_bad_input(tmp_path, name, build, extra, words):
    ck = build(tmp_path / "ck.h5")
    args = []
    for a in extra:
        if a == "WRONGDATA":
            wd = tmp_path / "wrong.h5"
            with h5py.File(wd, "w") as f:
                f["data/X"] = np.ones((3, 4))
                f["data/y"] = np.ones(3)
            a = wd
        args.append(a)
    r = run("verify", ck, *args)
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert r.stdout == "", r.stdout  # nothing on stdout: a pipeline never reads half a result
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert "Traceback" not in r.stderr
    for w in words:
        assert w in lines[0], (w, lines[0])
    if name not in ("--tol negative", "--tol >= 1", "--atol negative", "--time-limit zero"):
        assert "ck.h5" in lines[0] or "wrong.h5" in lines[0]


def test_solve_bad_inputs(tmp_path):
    out = tmp_path / "out.h5"
    r = run("solve", FIX / "example1_optimal.h5", "--beta", "-1", "-o", out, "--json")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "beta" in r.stderr
    assert r.stdout == ""
    r = run("solve", FIX / "example1_optimal.h5", "--beta", "0.1", "--loss", "logistic", "-o", out, "--json")
    assert r.returncode == 2 and "-1 or +1" in r.stderr and r.stdout == ""
    assert not out.exists()  # nothing written on failure
    r = run("solve", FIX / "example1_optimal.h5", "--beta", "0.1", "--width", "0", "-o", out)
    assert r.returncode == 2 and r.stdout == ""


def test_verify_json_exit_codes_and_witness(tmp_path):
    r = run("verify", FIX / "example1_optimal.h5", "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    for key in ("status", "objective", "lower_bound", "gap", "relative_gap", "tolerance", "patterns"):
        assert key in d
    assert d["status"] == "optimal" and d["patterns"] == "exact"
    assert d["lower_bound"] <= d["objective"]
    w = tmp_path / "better.h5"
    r = run("verify", FIX / "example1_perturbed.h5", "--json", "--witness", w)
    assert r.returncode == 1
    d = json.loads(r.stdout)
    assert d["status"] == "suboptimal" and d["witness"]["objective"] < d["objective"]
    # the witness is a checkpoint that verify reads back, with the objective reported
    r2 = run("verify", w, "--json")
    assert json.loads(r2.stdout)["objective"] == pytest.approx(d["witness"]["objective"], rel=1e-12)


def test_solve_then_verify_round_trip(tmp_path):
    out = tmp_path / "net.h5"
    r = run("solve", FIX / "planted_d1.h5", "--beta", "0.05", "--hidden-bias", "penalized", "-o", out, "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["patterns"] == "exact" and d["neurons"] >= 1
    r = run("verify", out, "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    assert json.loads(r.stdout)["status"] == "optimal"


def test_every_command_is_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    for cmd in ("cvxrelu verify", "cvxrelu solve", "make demo", "make test"):
        assert cmd in readme
    r = run("--help")
    assert r.returncode == 0 and "verify" in r.stdout and "solve" in r.stdout


if __name__ == "__main__":  # print the table of bad inputs and the message each one gets
    import tempfile

    print("| input | exit | message |\n|---|---|---|")
    for name, build, extra, _ in BAD:
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            ck = build(tmp / "ck.h5")
            args = [a if a != "WRONGDATA" else str(tmp / "wrong.h5") for a in extra]
            if "WRONGDATA" in extra:
                with h5py.File(tmp / "wrong.h5", "w") as f:
                    f["data/X"] = np.ones((3, 4))
                    f["data/y"] = np.ones(3)
            r = run("verify", ck, *args)
            msg = r.stderr.strip().replace(str(tmp) + "/", "").replace("|", "\\|")
            print(f"| {name} | {r.returncode} | `{msg}` |")


def test_solve_sampled_with_search_time_limit_through_the_cli(tmp_path):
    """--patterns with --search-seconds 0: the first program only, said in the JSON; the
    checkpoint reads back with the same objective."""
    out = tmp_path / "net.h5"
    r = run("solve", FIX / "planted_d1.h5", "--beta", "0.05", "--patterns", "12", "--search-seconds", "0",
            "-o", out, "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["patterns"] == "sampled" and d["rounds"] == 0
    assert d["pattern_search"]["stopped"].startswith("time limit") and d["pattern_search"]["time_limit"] == 0
    r2 = run("verify", out, "--json")
    assert r2.returncode in (0, 1), r2.stderr
    assert json.loads(r2.stdout)["objective"] == pytest.approx(d["objective"], rel=1e-9)
