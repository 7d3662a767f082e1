"""HDF5 checkpoints and data files (docs/format.md, format version 1); the only h5py import.

Loading is defensive, because checkpoints arrive from anywhere:

* only regular files that carry the HDF5 signature are opened;
* every object is looked up link by link, and only hard links are followed (no soft or
  external links);
* datasets with external storage, virtual datasets, or filters other than the built-in
  deflate / shuffle / fletcher32 / lzf are refused;
* only real numeric dtypes (float, signed or unsigned integer) are accepted and converted to
  float64; strings, objects, complex, compound, enum-less opaque types are refused;
* shapes are checked before reading, and the byte size and chunk count are capped;
* NaN and inf are located and reported.

Every failure is an :class:`~cvxrelu.errors.InputError` with one line that names the file,
the object and what is wrong. :func:`load_isolated` runs the parse in a child process with a
time limit, so that a crash or a hang inside libhdf5 cannot take the caller down.
Writes go to a temporary file in the target directory, then ``os.replace``.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import stat
import subprocess
import sys
from dataclasses import dataclass

import numpy as np

from .errors import InputError
from .files import atomic_write
from .model import BIAS_MODES, Dataset, Model, Network
from .validation import check_labels

FORMAT = "cvxrelu-checkpoint"
VERSION = 1
#: Largest dataset accepted, in bytes once converted to float64.
MAX_BYTES = 2 * 1024**3
#: Largest number of chunks of one dataset.
MAX_CHUNKS = 1_000_000
#: Time limit of an isolated parse, in seconds.
LOAD_TIMEOUT = 120.0
#: HDF5 filter ids that are built into libhdf5 (deflate, shuffle, fletcher32) or h5py (lzf).
ALLOWED_FILTERS = {1: "deflate", 2: "shuffle", 3: "fletcher32", 32000: "lzf"}
_SIGNATURE = b"\x89HDF\r\n\x1a\n"


@dataclass
class Checkpoint:
    network: Network
    model: Model
    data: Dataset | None
    path: str
    sha256: str


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# ----------------------------------------------------------------------------- reading


def check_file(path: str) -> None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None
    if stat.S_ISDIR(st.st_mode):
        raise InputError(f"{path}: is a directory, expected an HDF5 file")
    if not stat.S_ISREG(st.st_mode):
        raise InputError(f"{path}: not a regular file")
    try:
        with open(path, "rb") as f:
            # the superblock sits at 0, 512, 1024, 2048, ... (after an optional user block)
            off = 0
            while off == 0 or off < min(st.st_size, 1 << 24):
                f.seek(off)
                if f.read(8) == _SIGNATURE:
                    return
                off = 512 if off == 0 else off * 2
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None
    raise InputError(f"{path}: not an HDF5 file (no HDF5 signature)")


def lookup_dataset(f, path: str, name: str, required: bool = True):
    """Follow ``name`` link by link, hard links only; None if absent and not required."""
    import h5py

    node = f
    parts = [p for p in name.split("/") if p]
    for i, part in enumerate(parts):
        where = "/" + "/".join(parts[: i + 1])
        if not isinstance(node, h5py.Group):
            raise InputError(f"{path}: {where}: parent is not a group")
        link = node.get(part, getlink=True)
        if link is None:
            if required:
                raise InputError(f"{path}: missing {where}")
            return None
        if isinstance(link, h5py.SoftLink):
            raise InputError(f"{path}: {where} is a soft link; links are not followed, store the data itself")
        if isinstance(link, h5py.ExternalLink):
            raise InputError(f"{path}: {where} is an external link to another file; store the data itself")
        if not isinstance(link, h5py.HardLink):
            raise InputError(f"{path}: {where} is a link of an unsupported kind")
        node = node[part]
    return node


def read_dataset(f, path: str, name: str, ndim: int, required: bool = True, allow_scalar_as=None,
          empty_axis: int | None = None):
    """Read a real numeric dataset of the given ndim as float64, after every check.

    An empty dataset is refused, except when only axis ``empty_axis`` is 0 (the neuron axis
    of /model/U, /model/alpha and /model/b: a network of width 0 is the zero function).
    """
    import h5py

    ds = lookup_dataset(f, path, name, required)
    if ds is None:
        return None
    where = "/" + name.strip("/")
    if not isinstance(ds, h5py.Dataset):
        raise InputError(f"{path}: {where} is a group, expected a dataset")
    if ds.is_virtual:
        raise InputError(f"{path}: {where} is a virtual dataset; virtual datasets are refused")
    if ds.external:
        raise InputError(f"{path}: {where} uses external storage; store the data in the file")
    dcpl = ds.id.get_create_plist()
    for i in range(dcpl.get_nfilters()):
        fid = dcpl.get_filter(i)[0]
        if fid not in ALLOWED_FILTERS:
            raise InputError(
                f"{path}: {where} uses HDF5 filter {fid}; only {', '.join(ALLOWED_FILTERS.values())} are accepted"
            )
    try:
        dt = ds.dtype
    except (ValueError, TypeError, OSError) as exc:  # e.g. a float type numpy cannot represent
        raise InputError(f"{path}: {where} has an unsupported HDF5 data type ({exc}); expected float64") from None
    if dt.kind not in "fiu" or dt.fields is not None or dt.subdtype is not None:
        what = {"c": "complex", "S": "string", "U": "string", "O": "object (variable-length)",
                "V": "compound/opaque", "b": "boolean"}.get(dt.kind, str(dt))
        raise InputError(f"{path}: {where} has {what} dtype {dt}; expected real numbers (float64)")
    shape = ds.shape
    if shape is None:
        raise InputError(f"{path}: {where} is an empty (null) dataset")
    if len(shape) != ndim:
        if allow_scalar_as is not None and len(shape) == 1 and shape[0] == 1 and ndim == 0:
            shape = ()
        else:
            kind = {0: "a scalar", 1: "a vector (1-D)", 2: "a matrix (2-D)"}[ndim]
            raise InputError(f"{path}: {where} has shape {tuple(ds.shape)}, expected {kind}")
    size = int(np.prod(ds.shape, dtype=np.int64)) if ds.shape else 1
    if size * 8 > MAX_BYTES:
        raise InputError(f"{path}: {where} has {size} entries, more than the {MAX_BYTES >> 30} GiB limit")
    if ds.chunks is not None and ds.shape:
        n_chunks = int(np.prod([-(-s // c) for s, c in zip(ds.shape, ds.chunks)], dtype=np.int64))
        if n_chunks > MAX_CHUNKS:
            raise InputError(f"{path}: {where} has {n_chunks} chunks, more than the limit {MAX_CHUNKS}")
    width_zero = (empty_axis is not None and len(ds.shape) == ndim and ds.shape[empty_axis] == 0
                  and all(s > 0 for i, s in enumerate(ds.shape) if i != empty_axis))
    if ndim > 0 and size == 0 and not width_zero:
        raise InputError(f"{path}: {where} is empty (shape {tuple(ds.shape)})")
    try:
        arr = np.asarray(ds[()], dtype=np.float64).reshape(shape)
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: {where} cannot be read ({exc})") from None
    bad = ~np.isfinite(arr)
    if np.any(bad):
        pos = np.argwhere(bad)[0] if arr.ndim else ()
        val = arr[tuple(pos)] if arr.ndim else float(arr)
        kind = "NaN" if np.isnan(val) else "inf"
        at = "" if arr.ndim == 0 else (f" at index {pos[0]}" if arr.ndim == 1 else f" at row {pos[0]}, column {pos[1]}")
        raise InputError(f"{path}: {where} contains {kind}{at} ({int(bad.sum())} non-finite entries)")
    return arr


def _attr(path, obj, where, key):
    """An attribute's value; an attribute h5py cannot decode is bad input, not a crash."""
    try:
        return obj.attrs[key]
    except (ValueError, TypeError, OSError, KeyError) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"{path}: attribute {key} of {where} cannot be read ({msg})") from None


def _attr_str(path, obj, where, key, default):
    if key not in obj.attrs:
        return default
    v = _attr(path, obj, where, key)
    if isinstance(v, bytes):
        v = v.decode("utf-8", "replace")
    if isinstance(v, np.ndarray) and v.shape == () and v.dtype.kind in "SUO":
        v = v.item()
        v = v.decode("utf-8", "replace") if isinstance(v, bytes) else v
    if not isinstance(v, str):
        raise InputError(f"{path}: attribute {key} of {where} must be a string, got {v!r}")
    return v


def _read_data(f, path: str) -> Dataset | None:
    if lookup_dataset(f, path, "data", required=False) is not None:
        X = read_dataset(f, path, "data/X", 2)
        y = read_dataset(f, path, "data/y", 1)
        xname, yname = "/data/X", "/data/y"
    elif f.get("X", getlink=True) is not None or f.get("y", getlink=True) is not None:
        X = read_dataset(f, path, "X", 2)
        y = read_dataset(f, path, "y", 1)
        xname, yname = "/X", "/y"
    else:
        return None
    if X.shape[0] != y.shape[0]:
        raise InputError(f"{path}: {xname} has {X.shape[0]} rows but {yname} has {y.shape[0]} entries")
    return Dataset(np.ascontiguousarray(X), np.ascontiguousarray(y))


def _load(path: str, kind: str):
    import h5py

    check_file(path)
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise InputError(f"{path}: cannot open as HDF5 ({str(exc).splitlines()[0]})") from None
    with f:
        if kind == "data":
            data = _read_data(f, path)
            if data is None:
                raise InputError(f"{path}: missing /data/X and /data/y (or X and y at the root)")
            return data
        fmt = _attr_str(path, f, "/", "format", FORMAT)
        if fmt != FORMAT:
            raise InputError(f"{path}: attribute format of / is {fmt!r}, expected {FORMAT!r}")
        if "version" in f.attrs:
            ver = _attr(path, f, "/", "version")
            try:
                ok = int(np.asarray(ver).item()) == VERSION
            except (TypeError, ValueError):
                ok = False
            if not ok:
                raise InputError(f"{path}: checkpoint format version {ver!r} is not supported (expected {VERSION})")
        grp = lookup_dataset(f, path, "model")
        if not isinstance(grp, h5py.Group):
            raise InputError(f"{path}: /model is not a group")
        if "beta" not in grp.attrs:
            raise InputError(f"{path}: /model has no attribute beta (the weight decay, a number > 0)")
        beta_attr = _attr(path, grp, "/model", "beta")
        try:
            beta = float(np.asarray(beta_attr).item())
        except (TypeError, ValueError):
            raise InputError(f"{path}: attribute beta of /model is not a number: {beta_attr!r}") from None
        if not (np.isfinite(beta) and beta > 0):
            raise InputError(f"{path}: attribute beta of /model must be a finite number > 0, got {beta!r}")
        loss = _attr_str(path, grp, "/model", "loss", "squared")
        hb = _attr_str(path, grp, "/model", "hidden_bias", "none")
        ob = _attr_str(path, grp, "/model", "output_bias", "none")
        for key, val in (("hidden_bias", hb), ("output_bias", ob)):
            if val not in BIAS_MODES:
                raise InputError(f"{path}: attribute {key} of /model is {val!r}; expected one of {', '.join(BIAS_MODES)}")
        try:
            model = Model(beta=beta, loss=loss, hidden_bias=hb, output_bias=ob)
        except InputError as exc:
            raise InputError(f"{path}: /model: {exc}") from None
        U = read_dataset(f, path, "model/U", 2, empty_axis=1)
        alpha = read_dataset(f, path, "model/alpha", 1, empty_axis=0)
        if alpha.shape[0] != U.shape[1]:
            raise InputError(f"{path}: /model/alpha has {alpha.shape[0]} entries but /model/U has {U.shape[1]} columns")
        b = read_dataset(f, path, "model/b", 1, required=False, empty_axis=0)
        if hb != "none" and b is None:
            raise InputError(f"{path}: hidden_bias is {hb!r} but /model/b is missing")
        if hb == "none" and b is not None:
            raise InputError(f"{path}: /model/b is present but hidden_bias is 'none'; set the attribute or remove b")
        if b is not None and b.shape[0] != U.shape[1]:
            raise InputError(f"{path}: /model/b has {b.shape[0]} entries but /model/U has {U.shape[1]} columns")
        c = read_dataset(f, path, "model/c", 0, required=False, allow_scalar_as=True)
        if ob != "none" and c is None:
            raise InputError(f"{path}: output_bias is {ob!r} but /model/c is missing")
        if ob == "none" and c is not None:
            raise InputError(f"{path}: /model/c is present but output_bias is 'none'; set the attribute or remove c")
        net = Network(U=np.ascontiguousarray(U), alpha=alpha, b=b, c=None if c is None else float(c))
        data = _read_data(f, path)
        if data is not None:
            _check_against(path, net, model, data, "/data/X")
    return Checkpoint(net, model, data, path, "")


def _check_against(path, net: Network, model: Model, data: Dataset, xname: str) -> None:
    if net.U.shape[0] != data.X.shape[1]:
        raise InputError(f"{path}: /model/U has {net.U.shape[0]} rows but {xname} has {data.X.shape[1]} columns")
    check_labels(model, data.y, f"{path}: labels: ")


def load_checkpoint(path: str) -> Checkpoint:
    """Load and validate a checkpoint in this process (see :func:`load_isolated`)."""
    ck = _load(str(path), "checkpoint")
    ck.sha256 = sha256_file(str(path))
    return ck


def load_dataset(path: str) -> Dataset:
    """Load /data/X, /data/y (or X, y at the root) in this process."""
    return _load(str(path), "data")


def check_data_for(ck: Checkpoint, data: Dataset, data_path: str) -> None:
    """Check data given with --data against a checkpoint's network and loss."""
    _check_against(data_path, ck.network, ck.model, data, "/data/X")


def load_isolated(path: str, kind: str = "checkpoint", timeout: float = LOAD_TIMEOUT):
    """Parse in a child process with a time limit; a crash or hang becomes an InputError."""
    check_file(str(path))
    cmd = [sys.executable, "-c", "from cvxrelu.io import _child; _child()", str(path), kind]
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    try:
        out = subprocess.run(cmd, capture_output=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        raise InputError(f"{path}: reading the file took more than {timeout:.0f} s; refused") from None
    if out.returncode != 0 or not out.stdout:
        raise InputError(f"{path}: the HDF5 library failed while reading the file (exit {out.returncode})")
    try:
        tag, value = pickle.loads(out.stdout)
    except Exception:
        raise InputError(f"{path}: the HDF5 reader returned garbage") from None
    if tag == "error":
        raise InputError(value)
    if kind == "checkpoint":
        value.sha256 = sha256_file(str(path))
    return value


def _child() -> None:  # pragma: no cover - runs in the isolated process
    path, kind = sys.argv[1], sys.argv[2]
    try:
        value = ("ok", _load(path, kind))
    except InputError as exc:
        value = ("error", str(exc))
    except Exception as exc:  # anything else from h5py is still a bad file
        value = ("error", f"{path}: unreadable HDF5 file ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})")
    sys.stdout.buffer.write(pickle.dumps(value))
    sys.stdout.buffer.flush()


# ----------------------------------------------------------------------------- writing


def save_checkpoint(path: str, network: Network, model: Model, data: Dataset | None = None,
                    attrs: dict | None = None, model_attrs: dict | None = None) -> None:
    """Write a version-1 checkpoint atomically (temporary file in the same directory, rename).

    ``attrs`` go on the root, ``model_attrs`` on /model (e.g. how an imported network's
    objective was converted, docs/conventions.md).
    """
    import h5py

    def write(tmp):
        with h5py.File(tmp, "w") as f:
            f.attrs["format"] = FORMAT
            f.attrs["version"] = VERSION
            for k, v in (attrs or {}).items():
                f.attrs[k] = v
            g = f.create_group("model")
            g.attrs["beta"] = float(model.beta)
            g.attrs["loss"] = model.loss
            g.attrs["hidden_bias"] = model.hidden_bias
            g.attrs["output_bias"] = model.output_bias
            for k, v in (model_attrs or {}).items():
                g.attrs[k] = v
            g["U"] = np.asarray(network.U, dtype=np.float64)
            g["alpha"] = np.asarray(network.alpha, dtype=np.float64)
            if model.hidden_bias != "none":
                b = network.b if network.b is not None else np.zeros(network.n_neurons)
                g["b"] = np.asarray(b, dtype=np.float64)
            if model.output_bias != "none":
                g["c"] = np.float64(network.c if network.c is not None else 0.0)
            if data is not None:
                d = f.create_group("data")
                d["X"] = np.asarray(data.X, dtype=np.float64)
                d["y"] = np.asarray(data.y, dtype=np.float64)

    atomic_write(path, write, suffix=".h5.tmp")
