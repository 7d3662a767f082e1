"""The user docs are true: README's quick start is re-run and compared, every command and
option of `cvxrelu --help` is documented in docs/cli.md, every key of the JSON reports is
explained there, and docs/api.md's examples run (doctest)."""

from __future__ import annotations

import doctest
import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
CLI_DOC = ROOT / "docs" / "cli.md"
#: Report rows whose values depend on the machine or the library versions: not compared.
VOLATILE_ROWS = ("time ", "solver ")
#: Objects in the JSON whose keys are free-form names (tolerances, versions, hashes, settings).
FREE_FORM = {"tolerances", "versions", "inputs_sha256", "inputs", "settings"}


def quick_start():
    """[(command, documented output lines, documented exit code)] of README's Quick start."""
    text = README.read_text()
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    sessions, cur = [], None
    for line in section.splitlines():
        if line.startswith("    $ "):
            cur = [line[6:], [], None]
            sessions.append(cur)
        elif cur is not None and line.startswith("    (exit "):
            cur[2] = int(line.strip()[6:-1])
            cur = None
        elif cur is not None and line.startswith("    "):
            cur[1].append(line[4:])
    return sessions


def shim_bin(tmp_path) -> Path:
    """`cvxrelu` and `python` on PATH, both this interpreter (and the package it imports)."""
    b = tmp_path / "bin"
    b.mkdir()
    for name, target in (("cvxrelu", f'"{sys.executable}" -m cvxrelu "$@"'), ("python", f'"{sys.executable}" "$@"')):
        p = b / name
        p.write_text(f"#!/bin/sh\nexec {target}\n")
        p.chmod(p.stat().st_mode | stat.S_IEXEC)
    return b


def test_readme_quick_start_runs_as_shown(tmp_path):
    pytest.importorskip("matplotlib")  # the session draws a picture
    sessions = quick_start()
    assert len(sessions) >= 4 and all(code is not None for _, _, code in sessions)
    work = tmp_path / "work"
    work.mkdir()
    (work / "fixtures").symlink_to(ROOT / "fixtures")
    env = dict(os.environ, PATH=f"{shim_bin(tmp_path)}{os.pathsep}{os.environ['PATH']}")
    env.setdefault("PYTHONPATH", str(ROOT))
    for command, shown, code in sessions:
        r = subprocess.run(["bash", "-c", command], cwd=work, env=env, capture_output=True, text=True, timeout=600)
        assert r.returncode == code, (command, r.stdout, r.stderr)
        assert r.stderr == "", (command, r.stderr)
        got = r.stdout.splitlines()
        assert len(got) == len(shown), (command, got)
        for want, have in zip(shown, got):
            if want.startswith(VOLATILE_ROWS):
                assert have.split()[0] == want.split()[0]
            else:
                assert have == want, command
    assert (work / "planted.png").read_bytes()[:4] == b"\x89PNG"


def _help(*args) -> str:
    r = subprocess.run([sys.executable, "-m", "cvxrelu", *args, "--help"], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_every_command_and_option_of_the_help_is_in_docs_cli():
    doc = CLI_DOC.read_text()
    top = _help()
    commands = re.findall(r"^  ([a-z][a-z-]+)  ", top.split("Commands:", 1)[1], flags=re.M)
    assert {"verify", "solve", "import", "export", "reduce", "path", "landscape", "optimal-set"} <= set(commands)
    missing = []
    for c in commands:
        if f"cvxrelu {c}" not in doc:
            missing.append(f"cvxrelu {c}")
        options = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*|-[a-z])\b", _help(c).split("Options:", 1)[1]))
        for opt in sorted(options - {"-h", "--help"}):
            if not re.search(rf"(?<![\w-]){re.escape(opt)}(?![\w-])", doc):
                missing.append(f"{c} {opt}")
    assert missing == []


def _keys(d, depth=0):
    for k, v in d.items():
        yield k
        if k in FREE_FORM or depth >= 3:
            continue
        if isinstance(v, dict):
            yield from _keys(v, depth + 1)
        elif isinstance(v, list) and v and isinstance(v[0], dict):
            for e in v:
                yield from _keys(e, depth + 1)


def test_every_json_key_is_explained_in_docs_cli(tmp_path):
    data = ROOT / "fixtures" / "planted_d1.h5"
    runs = [
        ["verify", ROOT / "fixtures" / "example1_perturbed.h5", "--witness", tmp_path / "w.h5"],
        ["verify", data],
        ["verify", ROOT / "fixtures" / "example1_perturbed.h5", "--exact", "--optimal-out", tmp_path / "o.h5"],
        ["solve", data, "--beta", "0.05", "--hidden-bias", "penalized", "-o", tmp_path / "s.h5"],
        ["solve", data, "--beta", "0.05", "--patterns", "20", "--search-rounds", "2", "-o", tmp_path / "p.h5"],
        ["solve", data, "--beta", "0.05", "--patterns", "20", "--no-search", "-o", tmp_path / "q.h5"],
    ]
    doc = CLI_DOC.read_text()
    missing = set()
    for args in runs:
        r = subprocess.run([sys.executable, "-m", "cvxrelu", *map(str, args), "--json"], capture_output=True,
                           text=True, timeout=300)
        assert r.returncode in (0, 1), r.stderr
        missing |= {k for k in _keys(json.loads(r.stdout)) if f"`{k}`" not in doc}
    assert missing == set()


def test_api_examples_run():
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        res = doctest.testfile(str(ROOT / "docs" / "api.md"), module_relative=False,
                               optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    finally:
        os.chdir(cwd)
    assert res.attempted >= 20
    assert res.failed == 0
