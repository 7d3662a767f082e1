"""Write a checkpoint's network back to PyTorch, safetensors, .npz or scikit-learn.

Layouts (docs/conventions.md):

* ``torch`` (.pt) and ``safetensors``: the state_dict of
  ``nn.Sequential(nn.Linear(d, m), nn.ReLU(), nn.Linear(m, 1))`` in float64: ``0.weight``
  (m, d) = U^T, ``0.bias`` (m,) = b, ``2.weight`` (1, m) = alpha^T, ``2.bias`` (1,) = c; a bias
  the model does not have is left out (build that Linear with ``bias=False``). The
  safetensors metadata carries ``cvxrelu.beta``, ``cvxrelu.loss``, ``cvxrelu.hidden_bias``,
  ``cvxrelu.output_bias``, so that ``cvxrelu import`` reads the objective back.
* ``npz``: arrays U, alpha, [b], [c] and the scalars beta, loss, hidden_bias, output_bias.
* ``sklearn``: a pickled MLPRegressor (squared loss) or MLPClassifier (logistic loss, classes
  from the checkpoint's /model attribute ``classes`` when it was imported, else -1 and 1)
  with ``alpha = beta``; missing biases become zero intercepts. scikit-learn never penalizes
  intercepts, so a network whose biases are penalized gets a note: its objective in
  scikit-learn differs from ours by beta/2 (||b||^2 + c^2).

Every file is written to a temporary file in the target directory, then renamed.
"""

from __future__ import annotations

import os
import pickle
import warnings
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..files import atomic_write
from ..model import Model, Network

EXPORT_FORMATS = ("torch", "safetensors", "npz", "sklearn")
_EXT = {".pt": "torch", ".pth": "torch", ".safetensors": "safetensors", ".npz": "npz", ".pkl": "sklearn",
        ".pickle": "sklearn", ".joblib": "sklearn"}


def detect_export_format(path: str) -> str:
    ext = os.path.splitext(path.lower())[1]
    if ext not in _EXT:
        raise InputError(f"{path}: cannot tell the export format from the extension; pass --format "
                         f"{'|'.join(EXPORT_FORMATS)}")
    return _EXT[ext]


def state_dict_arrays(net: Network, model: Model) -> dict[str, np.ndarray]:
    """The float64 state_dict of Sequential(Linear(d, m), ReLU(), Linear(m, 1))."""
    out = {"0.weight": np.ascontiguousarray(net.U.T, dtype=np.float64)}
    if model.hidden_bias != "none":
        out["0.bias"] = np.ascontiguousarray(net.b if net.b is not None else np.zeros(net.n_neurons), dtype=np.float64)
    out["2.weight"] = np.ascontiguousarray(net.alpha[None, :], dtype=np.float64)
    if model.output_bias != "none":
        out["2.bias"] = np.array([net.c if net.c is not None else 0.0], dtype=np.float64)
    return out


def _meta(model: Model) -> dict[str, str]:
    return {"beta": repr(float(model.beta)), "loss": model.loss, "hidden_bias": model.hidden_bias,
            "output_bias": model.output_bias}


def _atomic(path: str, write) -> None:
    atomic_write(path, write, suffix=os.path.splitext(path)[1] + ".tmp")


def export(net: Network, model: Model, path: str, fmt: str, classes=None) -> list[str]:
    """Write ``net`` to ``path`` in ``fmt``; returns notes for the report."""
    if fmt not in EXPORT_FORMATS:
        raise InputError(f"--format must be one of {', '.join(EXPORT_FORMATS)}; got {fmt!r}")
    notes: list[str] = []
    if fmt == "npz":
        arrays = {"U": net.U, "alpha": net.alpha}
        if model.hidden_bias != "none":
            arrays["b"] = net.b if net.b is not None else np.zeros(net.n_neurons)
        if model.output_bias != "none":
            arrays["c"] = np.float64(net.c if net.c is not None else 0.0)
        arrays.update(beta=np.float64(model.beta), loss=np.str_(model.loss),
                      hidden_bias=np.str_(model.hidden_bias), output_bias=np.str_(model.output_bias))

        def write(tmp):
            with open(tmp, "wb") as f:
                np.savez(f, **arrays)

    elif fmt == "safetensors":
        _need("safetensors", "safetensors", path)
        from safetensors.numpy import save_file

        sd = state_dict_arrays(net, model)
        meta = {f"cvxrelu.{k}": v for k, v in _meta(model).items()}

        def write(tmp):
            save_file(sd, tmp, metadata=meta)

    elif fmt == "torch":
        torch = _need("torch", "torch", path)
        sd = {k: torch.from_numpy(v.copy()) for k, v in state_dict_arrays(net, model).items()}

        def write(tmp):
            torch.save(sd, tmp)

    else:
        _need("sklearn", "sklearn", path)
        est = sklearn_estimator(net, model, classes)
        if model.hidden_bias == "penalized" or model.output_bias == "penalized":
            notes.append("scikit-learn does not penalize intercepts: its loss_ for this network differs from "
                         "ours / n by beta/2 (||b||^2 + c^2) / n")
        notes.append("unpickling runs code: load this file only where you trust it")

        def write(tmp):
            with open(tmp, "wb") as f:
                pickle.dump(est, f, protocol=pickle.HIGHEST_PROTOCOL)

    _atomic(path, write)
    return notes


def _need(module: str, extra: str, path: str = "export"):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise InputError(f"{path}: writing this format needs the {module} package: "
                         f"pip install 'cvxrelu[{extra}]'") from None


def sklearn_estimator(net: Network, model: Model, classes=None):
    """A fitted-looking MLPRegressor / MLPClassifier holding ``net`` (alpha = beta).

    The estimator is fitted for one iteration on a few synthetic points of the right shape
    (so that scikit-learn's own bookkeeping is in place), then its weights are replaced.
    """
    _need("sklearn", "sklearn")
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    d, m = net.U.shape
    rng = np.random.default_rng(0)
    Xs = rng.standard_normal((4, d))
    kwargs = {"hidden_layer_sizes": (m,), "activation": "relu", "alpha": float(model.beta), "solver": "lbfgs",
                  "max_iter": 1, "random_state": 0}
    if model.loss == "squared":
        est = MLPRegressor(**kwargs)
        ys = np.arange(4.0)
    else:
        est = MLPClassifier(**kwargs)
        cls = list(classes) if classes is not None else [-1, 1]
        ys = np.array([cls[0], cls[1], cls[0], cls[1]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(Xs, ys)
    b = net.b if net.b is not None else np.zeros(m)
    c = net.c if net.c is not None else 0.0
    est.coefs_ = [np.array(net.U, dtype=np.float64), np.array(net.alpha, dtype=np.float64)[:, None]]
    est.intercepts_ = [np.array(b, dtype=np.float64), np.array([c], dtype=np.float64)]
    for stale in ("loss_", "loss_curve_", "best_loss_"):  # they describe the synthetic fit
        if hasattr(est, stale):
            delattr(est, stale)
    return est


def read_classes(path: str):
    """The classes an imported classifier's labels were mapped from (/model attribute), or None."""
    import json

    import h5py

    try:
        with h5py.File(path, "r") as f:
            raw = f["model"].attrs.get("classes")
    except (OSError, KeyError):
        return None
    if raw is None:
        return None
    try:
        classes = json.loads(raw.decode() if isinstance(raw, bytes) else str(raw))
    except ValueError:
        raise InputError(f"{path}: attribute classes of /model is not JSON: {raw!r}") from None
    if not (isinstance(classes, list) and len(classes) == 2):
        raise InputError(f"{path}: attribute classes of /model must list two classes, got {classes!r}")
    return classes


def reread_check(path: str, fmt: str, ck) -> float:
    """Read the written file back with the importer; max relative difference of predictions.

    On the checkpoint's data when it has some, else on 64 standard normal points. A
    difference above EXPORT_RTOL is an internal error: the file would not hold the network.
    """
    from ..model import predict
    from .importers import read_source

    src = read_source(path, fmt)
    back = Network(U=src.U, alpha=src.alpha, b=src.b, c=src.c)
    X = ck.data.X if ck.data is not None else np.random.default_rng(0).standard_normal((64, ck.network.n_features))
    a, b = predict(ck.network, X), predict(back, X)
    diff = float(np.max(np.abs(a - b)) / max(1.0, float(np.max(np.abs(a)))))
    if not diff <= EXPORT_RTOL:
        Path(path).unlink(missing_ok=True)
        raise RuntimeError(f"{path}: read back, the exported network's predictions differ by {diff:.2e}")
    return diff


#: Largest relative difference between the checkpoint's predictions and those of the file
#: written by export, read back (float64 all the way: only summation order differs).
EXPORT_RTOL = 1e-12
