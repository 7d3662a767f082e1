"""Fuzz the checkpoint loader the way the CLI uses it (isolated child process, time limit).

    python scripts/fuzz_loader.py --minutes 30 [--seed 0] [--timeout 20]

Inputs are (a) byte-level mutations of valid checkpoints (bit flips, overwritten runs,
truncations, insertions, duplicated blocks) and (b) structurally random HDF5 files (random
groups, links, dtypes, shapes, attributes, filters). Each file goes through
``cvxrelu.io.load_isolated``. Outcomes:

* ok            the file loaded (it was valid after all)
* bad input     an InputError with a specific message (the intended path)
* library error an InputError wrapping an h5py/libhdf5 exception (OSError, KeyError, ...)
* crash         the child died (signal) and the loader reported it as bad input
* timeout       the child exceeded the time limit and was killed (reported as bad input)
* BUG           any exception escaping load_isolated, or a Python error from our own code
                (IndexError, TypeError, AttributeError, ...) inside the child

The run fails (exit 1) if any BUG occurs.
"""

from __future__ import annotations

import argparse
import collections
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cvxrelu.errors import InputError  # noqa: E402
from cvxrelu.io import load_isolated  # noqa: E402

SEEDS = sorted((ROOT / "fixtures").glob("*.h5"))
LIBRARY = ("OSError", "KeyError", "RuntimeError", "ValueError: Unable", "SystemError")
OURS = ("IndexError", "TypeError", "AttributeError", "NameError", "UnboundLocalError", "AssertionError",
        "ZeroDivisionError", "ValueError")


def mutate(data: bytes, rng: random.Random) -> bytes:
    b = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        op = rng.randrange(6)
        if not b:
            break
        i = rng.randrange(len(b))
        if op == 0:
            b[i] ^= 1 << rng.randrange(8)
        elif op == 1:
            n = rng.randint(1, 64)
            b[i : i + n] = bytes(rng.randrange(256) for _ in range(min(n, len(b) - i)))
        elif op == 2:
            del b[i:]
        elif op == 3:
            b[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 32)))
        elif op == 4:
            j = rng.randrange(len(b))
            n = rng.randint(1, 256)
            b[i : i + n] = b[j : j + n]
        else:
            b[i] = rng.choice([0, 0xFF, 0x7F, 0x80])
    return bytes(b)


def random_structure(path: str, rng: random.Random) -> None:
    nrs = np.random.default_rng(rng.randrange(2**32))
    dtypes = ["f8", "f4", "i4", "u1", "c16", "S3", "bool", [("a", "f8")], h5py.string_dtype()]
    with h5py.File(path, "w") as f:
        if rng.random() < 0.8:
            f.attrs["format"] = rng.choice(["cvxrelu-checkpoint", "other", b"cvxrelu-checkpoint"])
        if rng.random() < 0.8:
            f.attrs["version"] = rng.choice([1, 2, "1", 1.0, -1])
        names = ["model/U", "model/alpha", "model/b", "model/c", "data/X", "data/y", "X", "y"]
        for name in names:
            if rng.random() < 0.25:
                continue
            kind = rng.random()
            if kind < 0.08:
                f[name] = h5py.SoftLink(rng.choice(["/data/X", "/nowhere", "/model"]))
                continue
            if kind < 0.12:
                f[name] = h5py.ExternalLink("missing.h5", "/x")
                continue
            if kind < 0.16:
                f.require_group(name)
                continue
            shape = tuple(rng.randint(0, 5) for _ in range(rng.choice([0, 1, 1, 2, 2, 3])))
            dt = rng.choice(dtypes)
            try:
                if dt == "S3" or dt is h5py.string_dtype():
                    arr = np.full(shape, "abc", dtype=object if dt is not None and dt != "S3" else "S3")
                    f.create_dataset(name, data=arr, dtype=dt)
                elif isinstance(dt, list):
                    f.create_dataset(name, shape=shape, dtype=np.dtype(dt))
                else:
                    arr = nrs.standard_normal(shape) * 10 ** rng.randint(-300, 300) if rng.random() < 0.2 else nrs.standard_normal(shape)
                    if rng.random() < 0.1 and arr.size:
                        arr.flat[rng.randrange(arr.size)] = rng.choice([np.nan, np.inf, -np.inf])
                    kw = {}
                    if shape and all(s > 0 for s in shape) and rng.random() < 0.3:
                        kw = {"chunks": tuple(1 for _ in shape), "compression": rng.choice(["gzip", "lzf", None])}
                    with np.errstate(all="ignore"):
                        f.create_dataset(name, data=arr.astype(dt), **kw)
            except (ValueError, TypeError, OSError):
                pass
        if "model" in f and isinstance(f["model"], h5py.Group):
            g = f["model"]
            for key, choices in (("beta", [0.1, 0.0, -1.0, np.nan, "x", 1e308, [1.0, 2.0]]),
                                 ("loss", ["squared", "logistic", "hinge", b"squared", 3]),
                                 ("hidden_bias", ["none", "penalized", "free", "bogus"]),
                                 ("output_bias", ["none", "penalized", "free", b"free"])):
                if rng.random() < 0.8:
                    try:
                        g.attrs[key] = rng.choice(choices)
                    except (TypeError, ValueError):
                        pass


def classify(exc_msg: str) -> str:
    if "crashed" in exc_msg or "failed while reading" in exc_msg:
        return "crash"
    if "took more than" in exc_msg:
        return "timeout"
    if "unreadable HDF5 file (" in exc_msg:
        kind = exc_msg.split("unreadable HDF5 file (", 1)[1].split(":", 1)[0]
        if kind in ("OSError", "KeyError", "RuntimeError", "SystemError"):
            return "library error"
        return "BUG"
    return "bad input"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=30)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=20)
    ap.add_argument("--keep", default="fuzz-findings", help="directory for files that triggered a BUG")
    ap.add_argument("--stop-after", type=int, default=0, help="stop after this many files (0: run for --minutes)")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    seeds = [p.read_bytes() for p in SEEDS]
    counts = collections.Counter()
    bugs = []
    t_end = time.time() + 60 * args.minutes
    t0 = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        i = 0
        while time.time() < t_end and not (args.stop_after and i >= args.stop_after):
            path = os.path.join(tmp, f"f{i % 4}.h5")
            source = "mutation" if rng.random() < 0.6 else "structure"
            try:
                if source == "mutation":
                    Path(path).write_bytes(mutate(rng.choice(seeds), rng))
                else:
                    random_structure(path, rng)
            except Exception:
                continue
            try:
                load_isolated(path, "checkpoint", timeout=args.timeout)
                outcome = "ok"
            except InputError as exc:
                outcome = classify(str(exc))
                if outcome == "BUG":
                    bugs.append(str(exc))
            except Exception as exc:  # escaped the loader: a bug
                outcome = "BUG"
                bugs.append(f"escaped: {type(exc).__name__}: {exc}")
            if outcome == "BUG":
                os.makedirs(args.keep, exist_ok=True)
                kept = Path(args.keep, f"bug{len(bugs)}-seed{args.seed}-file{i}.h5")
                kept.write_bytes(Path(path).read_bytes())
                print(f"BUG in file {i} (kept as {kept}): {bugs[-1]}", flush=True)
            counts[(source, outcome)] += 1
            i += 1
            if i % 200 == 0:
                print(f"{time.time() - t0:7.0f} s  {i} files  {dict(counts)}", flush=True)
    print(f"\nfuzzed {i} files in {time.time() - t0:.0f} s (seed {args.seed}, per-file limit {args.timeout} s)")
    print("| source | outcome | files |\n|---|---|---|")
    for (src, out), k in sorted(counts.items()):
        print(f"| {src} | {out} | {k} |")
    for b in bugs[:20]:
        print("BUG:", b)
    sys.exit(1 if bugs else 0)


if __name__ == "__main__":
    main()
