"""The CLI behaves like a good one, end to end through subprocesses (docs/cli.md):
help, outputs checked before any work and never over an input, the umask respected, Ctrl-C
exits 130 with nothing half-written, progress on a terminal (a pty) and silence on a pipe,
plain unwrapped piped reports, --plot (and its absence without matplotlib).
"""

from __future__ import annotations

import hashlib
import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import click
import h5py
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
FIX = ROOT / "fixtures"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def cmd(*args):
    return [sys.executable, "-m", "cvxrelu", *map(str, args)]


def run(*args, cwd=None, env=None, umask=None, timeout=300):
    e = dict(os.environ)
    e.update(env or {})
    pre = (lambda: os.umask(umask)) if umask is not None else None
    return subprocess.run(cmd(*args), capture_output=True, text=True, cwd=cwd, env=e, timeout=timeout,
                          preexec_fn=pre)


def one_line_error(r, *words):
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert "Traceback" not in r.stderr
    for w in words:
        assert w in lines[0], (w, lines[0])


def digest(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def data_file(path, n, d, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = np.sin(X @ rng.standard_normal(d)) + 0.1 * rng.standard_normal(n)
    with h5py.File(path, "w") as f:
        f["data/X"] = X
        f["data/y"] = y
    return path


def leftovers(directory):
    return sorted(p.name for p in Path(directory).iterdir() if p.name.startswith(".cvxrelu-"))


# ----------------------------------------------------------------------------- help


def test_bare_cvxrelu_prints_the_help_with_exit_codes():
    r = run()
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    assert r.stdout.startswith("Usage: cvxrelu")
    assert "Exit codes" in r.stdout
    for code in ("0 ", "1 ", "2 ", "3 ", "130"):
        assert f"\n    {code}" in r.stdout or f"  {code}" in r.stdout
    for command in ("verify", "solve", "import", "export"):
        assert command in r.stdout
    assert len(r.stdout.splitlines()) > 10  # not one squashed line


def test_every_option_of_every_command_has_a_help_text():
    from cvxrelu.cli import cli

    missing = []
    for name, command in cli.commands.items():
        for p in command.params:
            if isinstance(p, click.Option) and not (p.help or "").strip():
                missing.append(f"{name} {p.opts[0]}")
    assert missing == []


@pytest.mark.parametrize("command", ["verify", "solve"])
def test_command_help_through_the_cli(command):
    r = run(command, "--help")
    assert r.returncode == 0
    assert "--plot" in r.stdout and "FILE.png" in r.stdout
    assert "default" in r.stdout


# ----------------------------------------------------------------------------- outputs


def test_outputs_are_checked_before_any_work(tmp_path):
    data = data_file(tmp_path / "d.h5", 300, 2)  # a solve of this takes about a minute
    before = digest(data)
    t = time.perf_counter()
    one_line_error(run("solve", data, "--beta", "0.1", "-o", tmp_path), "-o", "is a directory")
    one_line_error(run("solve", data, "--beta", "0.1", "-o", tmp_path / "nope" / "x.h5"), "does not exist")
    one_line_error(run("solve", data, "--beta", "0.1", "-o", data), "is also an input")
    one_line_error(run("solve", data, "--beta", "0.1", "-o", tmp_path / "o.h5", "--plot", tmp_path / "o.h5"),
                   "--plot", "is also")
    one_line_error(run("solve", data, "--beta", "0.1", "-o", tmp_path / "o.h5", "--plot", tmp_path),
                   "--plot", "is a directory")
    assert time.perf_counter() - t < 120  # loose: each refusal came before the minute-long solve
    assert digest(data) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.h5"]


def test_verify_never_writes_over_its_inputs(tmp_path):
    ck = tmp_path / "ck.h5"
    ck.write_bytes((FIX / "example1_perturbed.h5").read_bytes())
    data = tmp_path / "data.h5"
    data.write_bytes(ck.read_bytes())
    before = digest(ck), digest(data)
    one_line_error(run("verify", ck, "--witness", ck), "--witness", "is also an input")
    one_line_error(run("verify", ck, "--data", data, "--witness", data), "--witness", "is also an input")
    # the same file through another name
    os.symlink(ck, tmp_path / "alias.h5")
    one_line_error(run("verify", ck, "--witness", tmp_path / "alias.h5"), "is also an input")
    one_line_error(run("verify", ck, "--plot", ck), "--plot", "is also an input")
    one_line_error(run("verify", ck, "--witness", tmp_path / "w.h5", "--plot", tmp_path / "w.h5"), "is also")
    assert (digest(ck), digest(data)) == before
    assert not (tmp_path / "w.h5").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_read_only_directory_is_refused_before_work(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        one_line_error(run("verify", FIX / "example1_perturbed.h5", "--witness", ro / "w.h5"), "not writable")
    finally:
        ro.chmod(0o700)


@pytest.mark.parametrize("umask,mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_written_files_respect_the_umask(tmp_path, umask, mode):
    r = run("verify", FIX / "example1_perturbed.h5", "--witness", tmp_path / "w.h5", umask=umask)
    assert r.returncode == 1, r.stderr
    r = run("solve", FIX / "planted_d1.h5", "--beta", "0.05", "-o", tmp_path / "s.h5", umask=umask)
    assert r.returncode == 0, r.stderr
    r = run("export", tmp_path / "s.h5", "-o", tmp_path / "s.npz", umask=umask)
    assert r.returncode == 0, r.stderr
    r = run("path", FIX / "example1_perturbed.h5", "-o", tmp_path / "p.h5", umask=umask)
    assert r.returncode in (0, 1), r.stderr
    for name in ("w.h5", "s.h5", "s.npz", "p.h5"):
        assert (tmp_path / name).stat().st_mode & 0o777 == mode, name
    assert leftovers(tmp_path) == []


def test_ctrl_c_exits_130_and_leaves_nothing(tmp_path):
    data = data_file(tmp_path / "d.h5", 300, 2)  # exact column generation: about a minute
    out = tmp_path / "out.h5"
    # the child gets the default SIGINT disposition whatever ours is (a shell's background job,
    # e.g. `make test &`, ignores SIGINT, and a child inherits that: the interrupt would be lost)
    p = subprocess.Popen(cmd("solve", data, "--beta", "0.1", "--hidden-bias", "penalized", "-o", out,
                             "--plot", tmp_path / "p.png"),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    time.sleep(4)  # inside the solve (not a timing assertion: any moment before the end will do)
    assert p.poll() is None, "the solve ended before the interrupt"
    p.send_signal(signal.SIGINT)
    stdout, stderr = p.communicate(timeout=120)
    assert p.returncode == 130, stderr
    assert stdout == ""
    assert stderr.strip().splitlines() == ["cvxrelu: interrupted"]
    assert sorted(x.name for x in tmp_path.iterdir()) == ["d.h5"]  # no output, no temporary file


# ----------------------------------------------------------------------------- terminal vs pipe


def _run_on_pty(args, cwd, timeout=300):
    """Run with stdout and stderr on a pseudo-terminal; returns (exit code, everything printed)."""
    master, slave = pty.openpty()
    env = dict(os.environ, TERM="xterm", COLUMNS="140", LINES="40")
    env.pop("NO_COLOR", None)
    p = subprocess.Popen(cmd(*args), stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, cwd=cwd, env=env)
    os.close(slave)
    chunks = []
    t0 = time.monotonic()
    while True:
        r, _, _ = select.select([master], [], [], 0.2)
        if r:
            try:
                data = os.read(master, 65536)
            except OSError:  # the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        elif p.poll() is not None:
            break
        if time.monotonic() - t0 > timeout:
            p.kill()
            raise AssertionError("timed out")
    p.wait()
    os.close(master)
    return p.returncode, b"".join(chunks).decode("utf-8", "replace")


def test_progress_on_a_terminal_names_the_stage_and_overall_progress(tmp_path):
    data = data_file(tmp_path / "d.h5", 120, 2)
    rc, text = _run_on_pty(["solve", data, "--beta", "0.1", "--hidden-bias", "penalized", "-o", "o.h5"],
                           cwd=tmp_path)
    assert rc == 0, text
    assert "cvxrelu solve" in text and "solving the convex program" in text  # the stage line
    assert "Column generation (rounds)" in text  # overall progress: round of the limit
    assert "gap " in text  # the bound closing
    assert "SOLVED" in text


def test_silence_on_a_pipe_and_plain_unwrapped_reports(tmp_path):
    data = data_file(tmp_path / "d.h5", 120, 2)
    r = run("solve", data, "--beta", "0.1", "--hidden-bias", "penalized", "-o", tmp_path / "o.h5")
    assert r.returncode == 0
    assert r.stderr == ""  # no progress on a pipe
    r = run("verify", FIX / "example1_perturbed.h5", "--witness", tmp_path / "w.h5")
    assert r.returncode == 1
    assert r.stderr == ""
    lines = r.stdout.splitlines()
    assert all(line == line.rstrip() for line in lines)  # unpadded
    assert any(len(line) > 80 for line in lines)  # unwrapped: long phrases stay on one line
    assert "\x1b[" not in r.stdout  # no colour codes
    assert "True" not in r.stdout and "False" not in r.stdout
    assert "nearly minimal: no" in r.stdout
    better = [line for line in lines if line.startswith("better network")]
    assert len(better) == 1 and better[0].endswith("(Thm. 3)")


# ----------------------------------------------------------------------------- plots


def _png(path):
    assert Path(path).read_bytes()[:8] == PNG_MAGIC
    assert Path(path).stat().st_size > 10_000


def test_verify_and_solve_plots(tmp_path):
    pytest.importorskip("matplotlib")
    r = run("verify", FIX / "planted_d1.h5", "--plot", tmp_path / "v1.png")  # 1-D: function + dual
    assert r.returncode == 0, r.stderr
    _png(tmp_path / "v1.png")
    r = run("verify", FIX / "example1_perturbed.h5", "--plot", tmp_path / "v2.png", "--json")  # 2-D: dual
    assert r.returncode == 1, r.stderr
    _png(tmp_path / "v2.png")
    r = run("solve", FIX / "planted_d1.h5", "--beta", "0.05", "--hidden-bias", "penalized", "-o", tmp_path / "s.h5",
            "--plot", tmp_path / "s.png")
    assert r.returncode == 0, r.stderr
    _png(tmp_path / "s.png")
    assert leftovers(tmp_path) == []


def test_plot_of_higher_dimensional_data_is_refused_before_work(tmp_path):
    pytest.importorskip("matplotlib")
    ck = tmp_path / "ck.h5"
    rng = np.random.default_rng(1)
    with h5py.File(ck, "w") as f:
        f.attrs["format"] = "cvxrelu-checkpoint"
        f.attrs["version"] = 1
        g = f.create_group("model")
        g.attrs.update({"beta": 0.1, "loss": "squared", "hidden_bias": "none", "output_bias": "none"})
        g["U"] = rng.standard_normal((3, 2))
        g["alpha"] = rng.standard_normal(2)
        f["data/X"] = rng.standard_normal((10, 3))
        f["data/y"] = rng.standard_normal(10)
    one_line_error(run("verify", ck, "--plot", tmp_path / "p.png"), "--plot", "1-D data")
    assert not (tmp_path / "p.png").exists()


def test_plot_without_matplotlib_is_bad_usage_before_work(tmp_path):
    shim = tmp_path / "shim"
    (shim / "matplotlib").mkdir(parents=True)
    (shim / "matplotlib" / "__init__.py").write_text("raise ImportError('matplotlib hidden by the test')\n")
    env = {"PYTHONPATH": os.pathsep.join([str(shim), os.environ.get("PYTHONPATH", str(ROOT))])}
    r = run("verify", FIX / "planted_d1.h5", "--plot", tmp_path / "p.png", env=env)
    one_line_error(r, "--plot", "plot extra")
    data = data_file(tmp_path / "d.h5", 300, 2)
    r = run("solve", data, "--beta", "0.1", "-o", tmp_path / "o.h5", "--plot", tmp_path / "p.png", env=env)
    one_line_error(r, "plot extra")
    assert not (tmp_path / "o.h5").exists() and not (tmp_path / "p.png").exists()
    r = run("verify", FIX / "planted_d1.h5", env=env)  # the core runs without matplotlib
    assert r.returncode == 0, r.stderr


def test_the_drawn_dual_function_peaks_at_the_certificates_M():
    """Oracle: the grid maximum of the drawn curve is the exact M of the arrangement engine
    (from below, and close at 3600 points on the circle)."""
    from cvxrelu.certificate import verify
    from cvxrelu.io import load_checkpoint
    from cvxrelu.plots import dual_curve

    for name in ("example1_perturbed.h5", "example1_optimal.h5", "planted_d1.h5"):
        ck = load_checkpoint(str(FIX / name))
        cert = verify(ck.network, ck.data, ck.model)
        M = cert.to_dict()["dual"]["M"]
        _, f = dual_curve(ck.network, ck.data, ck.model)
        top = float(f.max()) * ck.model.beta
        assert top <= M * (1 + 1e-9) + 1e-12
        assert top >= M * (1 - 1e-3)
