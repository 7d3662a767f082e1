"""Re-run README.md's Quick start sessions and write their real outputs back into README.md.

tests/test_docs.py checks that the section shows what the commands print; after a change to the
reports, run `.venv/bin/python scripts/update_quick_start.py` and review the diff.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    readme = ROOT / "README.md"
    text = readme.read_text()
    head, rest = text.split("## Quick start", 1)
    section, tail = rest.split("\n## ", 1)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "bin").mkdir()
        for name, target in (("cvxrelu", f'"{sys.executable}" -m cvxrelu "$@"'),
                             ("python", f'"{sys.executable}" "$@"')):
            p = tmp / "bin" / name
            p.write_text(f"#!/bin/sh\nexec {target}\n")
            p.chmod(p.stat().st_mode | stat.S_IEXEC)
        work = tmp / "work"
        work.mkdir()
        (work / "fixtures").symlink_to(ROOT / "fixtures")
        env = dict(os.environ, PATH=f"{tmp / 'bin'}{os.pathsep}{os.environ['PATH']}")
        env.setdefault("PYTHONPATH", str(ROOT))
        out, skipping = [], False
        for line in section.splitlines():
            if line.startswith("    $ "):
                r = subprocess.run(["bash", "-c", line[6:]], cwd=work, env=env, capture_output=True, text=True)
                if r.stderr:
                    raise SystemExit(f"{line[6:]}: stderr: {r.stderr}")
                out.append(line)
                out.extend("    " + s if s else "" for s in r.stdout.splitlines())
                out.append(f"    (exit {r.returncode})")
                skipping = True
            elif skipping and line.startswith("    "):
                continue  # the old output and exit line
            else:
                skipping = False
                out.append(line)
    readme.write_text(head + "## Quick start" + "\n".join(out) + "\n\n## " + tail)


if __name__ == "__main__":
    main()
