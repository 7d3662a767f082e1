"""solve -> verify agreement in every loss x hidden-bias x output-bias mode (issue 15).

For each data set and mode: ``solve`` (library), the network written to a checkpoint, read back
and verified (certificate.verify, the same tolerance); one row per case: solve's status, verify's
status, whether the objectives are equal bit for bit, seconds (wall and CPU) of solve and verify.
The data sets are tests/test_solid.py's DATASETS (synthetic 1-D / 2-D at n = 200, 2-D at n = 400,
scikit-learn breast-cancer and diabetes slices at n = 150, 3 standardized features).

    python bench/agree.py                         # every data set and mode (long)
    python bench/agree.py --data 2d-200 --loss logistic
    python bench/agree.py --data diabetes-150 --loss squared --hidden penalized --output none
    python bench/agree.py --data cancer-150 --loss squared --hidden free --log /tmp/agree

With ``--log DIR``: per case, DIR/<data>-<loss>-<hidden>-<output>.log (each progress task
opened and closed and each note, with the seconds since solve started: what a long case was
doing when stopped) and .json (solve's result, column generation's history included, and
verify's status, objective and bound).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import tempfile
import time
from pathlib import Path

if __name__ == "__main__":  # pin BLAS before numpy loads (the CLI does the same)
    for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[_v] = "1"

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

MODES = ("none", "penalized", "free")


class _LogProgress:
    """A progress sink (cvxrelu/progress.py's interface) writing one line per task opened or
    closed and per note, with the seconds since it was made, flushed at once."""

    def __init__(self, path: Path):
        self._f = open(path, "w")  # noqa: SIM115 - closed by close()
        self._t0 = time.perf_counter()
        self._depth = 0

    def _line(self, text: str) -> None:
        self._f.write(f"{time.perf_counter() - self._t0:9.1f} {'  ' * self._depth}{text}\n")
        self._f.flush()

    def stage(self, text):
        self._line(f"stage: {text}")

    def task(self, description, total):
        self._line(f"open: {description} (total {total})")
        self._depth += 1
        log, opened, count = self, time.perf_counter(), [0]

        class _T:
            def __call__(self, k=1):
                count[0] += k

            def note(self, text):
                log._line(f"note: {description}: {text}")

            def close(self):
                log._depth = max(log._depth - 1, 0)
                log._line(f"close: {description} ({count[0]} steps, {time.perf_counter() - opened:.1f} s)")

        return _T()

    def close(self):
        self._f.close()


def main(argv=None) -> None:
    from test_solid import DATASETS

    from cvxrelu.certificate import verify
    from cvxrelu.io import load_checkpoint, save_checkpoint
    from cvxrelu.model import Model
    from cvxrelu.solve import solve

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    ap.add_argument("--loss", nargs="+", default=["squared", "logistic"])
    ap.add_argument("--hidden", nargs="+", default=list(MODES), choices=MODES, help="hidden-bias modes to run")
    ap.add_argument("--output", nargs="+", default=list(MODES), choices=MODES, help="output-bias modes to run")
    ap.add_argument("--log", type=Path, default=None, help="directory for each case's progress log and result JSON")
    args = ap.parse_args(argv)
    print("| data | loss | hidden | output | solve | verify | same objective | solve s (cpu) | verify s (cpu) |")
    print("|---|---|---|---|---|---|---|---|---|", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        for name, loss, hb, ob in itertools.product(args.data, args.loss, args.hidden, args.output):
            data = DATASETS[name](loss)
            beta = 0.1 if name.startswith(("cancer", "diabetes")) else 0.05
            m = Model(beta=beta, loss=loss, hidden_bias=hb, output_bias=ob)
            stem = f"{name}-{loss}-{hb}-{ob}"
            progress = None
            if args.log is not None:
                args.log.mkdir(parents=True, exist_ok=True)
                progress = _LogProgress(args.log / f"{stem}.log")
            t, c = time.perf_counter(), time.process_time()
            try:
                res = solve(data, m, progress=progress)
            except Exception as exc:  # noqa: BLE001 - a row, never a crash
                print(f"| {name} | {loss} | {hb} | {ob} | error: {type(exc).__name__}: {exc} | | | | |", flush=True)
                if progress is not None:
                    progress.close()
                continue
            ts, cs = time.perf_counter() - t, time.process_time() - c
            path = Path(tmp) / "net.h5"
            save_checkpoint(path, res.network, m, data)
            ck = load_checkpoint(str(path))
            t, c = time.perf_counter(), time.process_time()
            cert = verify(ck.network, ck.data, ck.model, tol=res.tolerance)
            tv, cv = time.perf_counter() - t, time.process_time() - c
            if progress is not None:
                progress.close()
                record = {"solve": res.to_dict(), "verify": {
                    "status": cert.status.value, "objective": cert.objective, "lower_bound": cert.lower_bound},
                    "solve_seconds": ts, "solve_cpu": cs, "verify_seconds": tv, "verify_cpu": cv}
                (args.log / f"{stem}.json").write_text(json.dumps(record, indent=1, default=str))
            print(f"| {name} | {loss} | {hb} | {ob} | {res.status.value} | {cert.status.value} | "
                  f"{cert.objective == res.objective} | {ts:.1f} ({cs:.1f}) | {tv:.1f} ({cv:.1f}) |", flush=True)


if __name__ == "__main__":
    main()
