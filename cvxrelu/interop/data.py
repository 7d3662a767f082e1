"""Training data from HDF5 (the checkpoint schema of README.md), .npz or CSV.

Every failure is an :class:`~cvxrelu.errors.InputError` naming the file and what is wrong.

* HDF5: /data/X and /data/y (or X and y at the root), read by :mod:`cvxrelu.io` in an
  isolated process;
* .npz: arrays ``X`` (n, d) and ``y`` (n,), read without pickles;
* CSV: a header row, then numbers; ``--target COLUMN`` names the label column, every other
  column is a feature.
"""

from __future__ import annotations

import csv
import os
import zipfile

import numpy as np

from ..errors import InputError
from ..model import Dataset

_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def _kind(path: str) -> str:
    low = path.lower()
    if low.endswith(".npz"):
        return "npz"
    if low.endswith((".csv", ".tsv", ".txt")):
        return "csv"
    return "hdf5"


def load_data(path: str, target: str | None = None) -> Dataset:
    """Load X (n_samples, n_features) and y (n_samples,) as float64 from HDF5, .npz or CSV."""
    path = str(path)
    if not os.path.exists(path):
        raise InputError(f"{path}: no such file")
    if os.path.isdir(path):
        raise InputError(f"{path}: is a directory, expected a data file (.h5, .npz or .csv)")
    kind = _kind(path)
    if target is not None and kind != "csv":
        raise InputError(f"{path}: --target applies to CSV files only (this file is read as {kind})")
    if kind == "npz":
        return _load_npz(path)
    if kind == "csv":
        if target is None:
            raise InputError(f"{path}: a CSV data file needs --target COLUMN naming the label column")
        return _load_csv(path, target)
    from ..io import load_isolated

    return load_isolated(path, "data")


def _finite_matrix(path, name, a, ndim):
    if a.dtype.kind not in "fiu":
        raise InputError(f"{path}: {name} has dtype {a.dtype}; expected real numbers")
    if a.ndim != ndim:
        raise InputError(f"{path}: {name} has shape {a.shape}, expected {'a matrix (2-D)' if ndim == 2 else 'a vector (1-D)'}")
    if a.size == 0:
        raise InputError(f"{path}: {name} is empty")
    a = np.ascontiguousarray(a, dtype=np.float64)
    bad = ~np.isfinite(a)
    if bad.any():
        pos = tuple(int(i) for i in np.argwhere(bad)[0])
        raise InputError(f"{path}: {name} contains NaN or inf at index {pos}")
    return a


def _load_npz(path: str) -> Dataset:
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in ("X", "y") if k not in z.files]
            if missing:
                raise InputError(f"{path}: missing array(s) {', '.join(missing)}; a data .npz holds X (n, d) and y (n,)")
            X, y = z["X"], z["y"]
    except InputError:
        raise
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"{path}: not a readable .npz file ({msg})") from None
    X = _finite_matrix(path, "X", X, 2)
    y = _finite_matrix(path, "y", y, 1)
    if X.shape[0] != y.shape[0]:
        raise InputError(f"{path}: X has {X.shape[0]} rows but y has {y.shape[0]} entries")
    return Dataset(X, y)


def _load_csv(path: str, target: str) -> Dataset:
    try:
        with open(path, newline="", encoding="utf-8") as f:
            sample = f.read(65536)
            f.seek(0)
            delimiter = "\t" if path.lower().endswith(".tsv") or ("\t" in sample and "," not in sample) else ","
            rows = list(csv.reader(f, delimiter=delimiter))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"{path}: cannot read as CSV ({exc})") from None
    rows = [r for r in rows if any(c.strip() for c in r)]
    if len(rows) < 2:
        raise InputError(f"{path}: a CSV data file needs a header row and at least one data row")
    header = [h.strip() for h in rows[0]]
    if target not in header:
        raise InputError(f"{path}: no column {target!r} (columns: {', '.join(header)})")
    if header.count(target) > 1:
        raise InputError(f"{path}: column {target!r} appears more than once")
    if len(header) < 2:
        raise InputError(f"{path}: no feature columns besides {target!r}")
    values = np.empty((len(rows) - 1, len(header)))
    for i, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise InputError(f"{path}: line {i} has {len(row)} fields, the header has {len(header)}")
        for j, cell in enumerate(row):
            try:
                values[i - 2, j] = float(cell)
            except ValueError:
                raise InputError(f"{path}: line {i}, column {header[j]!r}: {cell!r} is not a number") from None
            if not np.isfinite(values[i - 2, j]):
                raise InputError(f"{path}: line {i}, column {header[j]!r}: {cell!r} is not finite")
    t = header.index(target)
    X = np.ascontiguousarray(np.delete(values, t, axis=1))
    y = np.ascontiguousarray(values[:, t])
    return Dataset(X, y)
