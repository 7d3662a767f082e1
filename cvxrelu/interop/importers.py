"""Read a two-layer ReLU network from scikit-learn, PyTorch, safetensors, Keras or .npz.

Each reader returns a :class:`Source`: the weights in our layout (U (n_features, n_neurons),
alpha (n_neurons,), b, c), what the file says about its training objective, and, when the
framework itself can be run (scikit-learn, a full PyTorch model), a function computing its
own predictions so that the import is checked against them (:data:`PREDICTION_RTOL`).

Security: scikit-learn pickles / joblib files and full PyTorch model files are unpickled,
and unpickling runs arbitrary code: import only files you trust. A PyTorch state_dict is
read with ``torch.load(weights_only=True)`` first; safetensors, Keras and .npz files are
data only (``np.load(allow_pickle=False)``).
"""

from __future__ import annotations

import io as _io
import json
import os
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError

#: Largest relative difference allowed between the source framework's own predictions and
#: those of the imported network, when the source can be run (float64 weights). Relative
#: to max(1, max |prediction|).
PREDICTION_RTOL = 1e-9
#: The same for float32 weights evaluated by the framework in float32 arithmetic.
PREDICTION_RTOL_FLOAT32 = 1e-4
FORMATS = ("sklearn", "torch", "safetensors", "keras", "npz")


@dataclass
class Source:
    """A network read from another framework, before its objective is converted.

    ``stated`` is what the file says about the objective: ``{"kind": "sklearn", "alpha",
    "loss", "estimator"}``, ``{"kind": "cvxrelu", "beta", "loss", "hidden_bias",
    "output_bias"}`` or None (then the user must say). ``loss`` is a loss implied by the
    architecture (a classifier, a final sigmoid), ``classes`` the labels mapped to (-1, +1),
    ``reference(X)`` the framework's own predictions (logits; for a classifier the
    probability of the positive class, ``reference_kind = "probability"``).
    """

    U: np.ndarray
    alpha: np.ndarray
    b: np.ndarray | None
    c: float | None
    fmt: str
    description: str
    stated: dict | None = None
    loss: str | None = None
    classes: tuple | None = None
    reference: Callable | None = None
    reference_kind: str = "prediction"
    float32: bool = False
    notes: list = field(default_factory=list)
    decoupled_decay: bool = False


def detect_format(path: str) -> str:
    low = path.lower()
    if low.endswith((".pkl", ".pickle", ".joblib", ".sav")):
        return "sklearn"
    if low.endswith((".pt", ".pth", ".bin")) and not low.endswith(".weights.bin"):
        return "torch"
    if low.endswith(".safetensors"):
        return "safetensors"
    if low.endswith((".keras", ".weights.h5")):
        return "keras"
    if low.endswith(".npz"):
        return "npz"
    if low.endswith((".h5", ".hdf5")):
        return "keras"
    raise InputError(f"{path}: cannot tell the format from the file name; pass --format "
                     f"{'|'.join(FORMATS)}")


def read_source(path: str, fmt: str = "auto") -> Source:
    """Read SOURCE in the given format (``auto``: from the file name)."""
    path = str(path)
    if not os.path.exists(path):
        raise InputError(f"{path}: no such file")
    if os.path.isdir(path):
        raise InputError(f"{path}: is a directory, expected a model file")
    if fmt == "auto":
        fmt = detect_format(path)
    reader = {"sklearn": read_sklearn, "torch": read_torch, "safetensors": read_safetensors,
              "keras": read_keras, "npz": read_npz}.get(fmt)
    if reader is None:
        raise InputError(f"--format must be one of auto, {', '.join(FORMATS)}; got {fmt!r}")
    return reader(path)


# ----------------------------------------------------------------------------- helpers


def _f64(path, name, a, ndim=None) -> np.ndarray:
    a = np.asarray(a)
    if a.dtype.kind not in "fiu":
        raise InputError(f"{path}: {name} has dtype {a.dtype}; expected real numbers")
    if ndim is not None and a.ndim != ndim:
        raise InputError(f"{path}: {name} has shape {a.shape}, expected {ndim} dimension(s)")
    out = np.ascontiguousarray(a, dtype=np.float64)
    if not np.all(np.isfinite(out)):
        raise InputError(f"{path}: {name} contains NaN or inf")
    return out


def _natural(name: str):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def _bias_name(weight_name: str) -> str | None:
    for suffix in ("weight", "kernel"):
        if weight_name.endswith(suffix):
            return weight_name[: -len(suffix)] + "bias"
    return None


def linear_pair(arrays: dict, path: str, fmt: str, layout: str = "out_in") -> Source:
    """Linear -> ReLU -> Linear from named arrays (a state_dict and the like).

    ``layout="out_in"``: weights stored (out_features, in_features) as in PyTorch;
    ``"in_out"``: (in, out) as Keras kernels. Exactly two 2-D arrays (the two layers), each
    with an optional bias named like it (``...weight`` -> ``...bias``); nothing else.
    The order is the one that makes the shapes chain, (m, d) then (1, m); when both orders
    chain (d = m = 1) the names decide in natural order ("0.weight" before "2.weight").
    """
    mats = sorted((k for k, v in arrays.items() if np.ndim(v) == 2), key=_natural)
    if len(mats) != 2:
        raise InputError(f"{path}: expected the weights of exactly two linear layers (2-D arrays), found "
                         f"{len(mats)}{': ' + ', '.join(mats) if mats else ''}; only Linear -> ReLU -> Linear is supported")
    biases = {}
    for k in mats:
        bn = _bias_name(k)
        biases[k] = bn if bn is not None and bn in arrays else None
    used = set(mats) | {v for v in biases.values() if v}
    extra = sorted(set(arrays) - used, key=_natural)
    if extra:
        shapes = ", ".join(f"{k} {tuple(np.shape(arrays[k]))}" for k in extra[:4])
        raise InputError(f"{path}: unexpected array(s) {shapes}; only Linear -> ReLU -> Linear (weights and "
                         "biases) is supported")
    W = {k: _f64(path, k, arrays[k], 2) for k in mats}
    if layout == "in_out":
        W = {k: v.T for k, v in W.items()}

    def chains(a, b):
        return W[b].shape[0] == 1 and W[b].shape[1] == W[a].shape[0]

    orders = [(a, b) for a, b in ((mats[0], mats[1]), (mats[1], mats[0])) if chains(a, b)]
    if not orders:
        shapes = ", ".join(f"{k} {tuple(np.shape(arrays[k]))}" for k in mats)
        raise InputError(f"{path}: the layer shapes {shapes} do not chain as Linear(d, m) -> ReLU -> Linear(m, 1)")
    first, second = orders[0]
    m = W[first].shape[0]
    b1 = c = None
    if biases[first]:
        b1 = _f64(path, biases[first], arrays[biases[first]]).reshape(-1)
        if b1.shape != (m,):
            raise InputError(f"{path}: {biases[first]} has shape {np.shape(arrays[biases[first]])}, expected ({m},)")
    if biases[second]:
        cb = _f64(path, biases[second], arrays[biases[second]]).reshape(-1)
        if cb.shape != (1,):
            raise InputError(f"{path}: {biases[second]} has shape {np.shape(arrays[biases[second]])}, expected (1,)")
        c = float(cb[0])
    desc = f"hidden layer {first} ({m} neurons{', bias ' + biases[first] if b1 is not None else ', no bias'}), " \
           f"output layer {second}{' with bias ' + biases[second] if c is not None else ' without bias'}"
    f32 = any(np.asarray(arrays[k]).dtype == np.float32 for k in used)
    return Source(U=np.ascontiguousarray(W[first].T), alpha=np.ascontiguousarray(W[second][0]), b=b1, c=c,
                  fmt=fmt, description=desc, float32=f32)


def _stated_from_meta(meta: dict, path: str) -> dict | None:
    """Objective written by ``cvxrelu export`` (keys beta, loss, hidden_bias, output_bias)."""
    if not meta or "beta" not in meta:
        return None
    try:
        return {"kind": "cvxrelu", "beta": float(meta["beta"]), "loss": str(meta.get("loss", "squared")),
                "hidden_bias": str(meta.get("hidden_bias", "none")),
                "output_bias": str(meta.get("output_bias", "none"))}
    except (TypeError, ValueError):
        raise InputError(f"{path}: metadata beta is not a number: {meta['beta']!r}") from None


def _require(module: str, extra: str, path: str):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise InputError(f"{path}: reading this format needs the {module} package: "
                         f"pip install 'cvxrelu[{extra}]'") from None


# ----------------------------------------------------------------------------- scikit-learn


def read_sklearn(path: str) -> Source:
    """A fitted MLPRegressor or binary MLPClassifier, one hidden ReLU layer (pickle / joblib).

    Unpickling runs arbitrary code: only trusted files.
    """
    _require("sklearn", "sklearn", path)
    try:
        try:
            import joblib

            est = joblib.load(path)
        except ImportError:
            import pickle

            with open(path, "rb") as f:
                est = pickle.load(f)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure is a bad file
        msg = str(exc).splitlines()[0] if str(exc) else ""
        raise InputError(f"{path}: cannot unpickle as a scikit-learn estimator ({type(exc).__name__}: {msg})") from None
    name = type(est).__name__
    if name not in ("MLPRegressor", "MLPClassifier"):
        raise InputError(f"{path}: holds a {name}; expected a fitted scikit-learn MLPRegressor or MLPClassifier")
    if not hasattr(est, "coefs_"):
        raise InputError(f"{path}: the {name} is not fitted (no coefs_)")
    if est.activation != "relu":
        raise InputError(f"{path}: the {name} uses activation {est.activation!r}; only 'relu' is supported")
    if len(est.coefs_) != 2:
        raise InputError(f"{path}: the {name} has {len(est.coefs_) - 1} hidden layers; only one is supported")
    W1, W2 = est.coefs_
    b1, b2 = est.intercepts_
    if W2.shape[1] != 1:
        what = "classes" if name == "MLPClassifier" else "outputs"
        raise InputError(f"{path}: the {name} has {W2.shape[1]} {what}; only one output (binary classification) is supported")
    if name == "MLPRegressor":
        if getattr(est, "loss", "squared_error") != "squared_error":
            raise InputError(f"{path}: the MLPRegressor uses loss {est.loss!r}; only 'squared_error' is supported")
        if est.out_activation_ != "identity":
            raise InputError(f"{path}: output activation {est.out_activation_!r}, expected 'identity'")
        loss, classes = "squared", None
    else:
        if est.out_activation_ != "logistic" or len(est.classes_) != 2:
            raise InputError(f"{path}: the MLPClassifier is not binary ({len(est.classes_)} classes); "
                             "only binary classification is supported")
        loss = "logistic"
        classes = tuple(est.classes_.tolist())
    U = _f64(path, "coefs_[0]", W1, 2)
    src = Source(U=U, alpha=_f64(path, "coefs_[1]", W2, 2)[:, 0].copy(), b=_f64(path, "intercepts_[0]", b1, 1),
                 c=float(_f64(path, "intercepts_[1]", b2, 1)[0]), fmt="sklearn",
                 description=f"{name}(hidden_layer_sizes=({U.shape[1]},), activation='relu', alpha={est.alpha!r}, "
                             f"solver={est.solver!r})",
                 stated={"kind": "sklearn", "alpha": float(est.alpha), "loss": loss, "estimator": name},
                 loss=loss, classes=classes, float32=W1.dtype == np.float32)
    if name == "MLPRegressor":
        src.reference = lambda X: np.asarray(est.predict(X), dtype=np.float64).reshape(-1)
    else:
        src.reference = lambda X: np.asarray(est.predict_proba(X), dtype=np.float64)[:, 1]
        src.reference_kind = "probability"
    if getattr(est, "early_stopping", False) and est.solver != "lbfgs":
        src.notes.append(f"early_stopping: the estimator was trained on {1 - est.validation_fraction:g} of its "
                         "data, so its loss_ is not over the data given here")
    if est.solver != "lbfgs":
        src.notes.append(f"solver {est.solver!r}: loss_ is the running average over the last epoch's "
                         "mini-batches, not the objective at the final weights; compare with L / n approximately")
    return src


# ----------------------------------------------------------------------------- PyTorch


_STATE_KEYS = ("state_dict", "model_state_dict", "model")
_OPT_KEYS = ("optimizer", "optimizer_state_dict", "optim", "optimizer_state")


def read_torch(path: str) -> Source:
    """A state_dict (or a dict holding one) or a full nn.Module of Linear -> ReLU -> Linear."""
    torch = _require("torch", "torch", path)
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001 - not a plain state_dict: a full model needs the unpickler
        try:
            obj = torch.load(path, map_location="cpu", weights_only=False)
        except Exception as exc:  # noqa: BLE001
            msg = str(exc).splitlines()[0] if str(exc) else ""
            raise InputError(f"{path}: cannot load with torch.load ({type(exc).__name__}: {msg})") from None
    module = None
    decoupled = False
    if isinstance(obj, torch.nn.Module):
        module = obj
        kinds = [type(mm).__name__ for mm in module.modules() if not list(mm.children())]
        if kinds != ["Linear", "ReLU", "Linear"]:
            raise InputError(f"{path}: the model's layers are {', '.join(kinds)}; expected Linear, ReLU, Linear")
        state = module.state_dict()
    elif isinstance(obj, dict):
        state = obj
        for key in _STATE_KEYS:
            if isinstance(obj.get(key), dict):
                state = obj[key]
                break
        for key in _OPT_KEYS:
            opt = obj.get(key)
            if isinstance(opt, dict) and isinstance(opt.get("param_groups"), list):
                decoupled = any(bool(g.get("decoupled_weight_decay", False)) and g.get("weight_decay", 0)
                                for g in opt["param_groups"] if isinstance(g, dict))
    else:
        raise InputError(f"{path}: holds a {type(obj).__name__}; expected a state_dict or an nn.Module")
    arrays = {}
    for k, v in state.items():
        if not torch.is_tensor(v):
            raise InputError(f"{path}: entry {k!r} is a {type(v).__name__}, not a tensor")
        if v.dtype not in (torch.float64, torch.float32, torch.float16, torch.bfloat16):
            raise InputError(f"{path}: tensor {k} has dtype {v.dtype}; expected floating point")
        arrays[k] = v.detach().cpu().to(torch.float64).numpy() if v.dtype != torch.float32 else v.detach().cpu().numpy()
    src = linear_pair(arrays, path, "torch")
    src.decoupled_decay = decoupled
    if module is not None:
        ref = module.double().eval()

        def reference(X):
            with torch.no_grad():
                return ref(torch.from_numpy(np.ascontiguousarray(X, dtype=np.float64))).numpy().reshape(-1)

        src.reference = reference
        src.float32 = False  # evaluated in float64 after .double()
        src.description = f"{type(module).__name__}: {src.description}"
    return src


# ----------------------------------------------------------------------------- safetensors / npz


def read_safetensors(path: str) -> Source:
    """A .safetensors file of Linear -> ReLU -> Linear (PyTorch names), read without torch."""
    _require("safetensors", "safetensors", path)
    from safetensors import safe_open

    try:
        with safe_open(path, framework="np") as f:
            meta = f.metadata() or {}
            arrays = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 - safe_open is not iterable
    except Exception as exc:  # noqa: BLE001 - the Rust reader raises its own error types
        msg = str(exc).splitlines()[0] if str(exc) else ""
        raise InputError(f"{path}: not a readable safetensors file ({type(exc).__name__}: {msg})") from None
    src = linear_pair(arrays, path, "safetensors")
    src.stated = _stated_from_meta({k.removeprefix("cvxrelu."): v for k, v in meta.items()
                                    if k.startswith("cvxrelu.")}, path)
    return src


def read_npz(path: str) -> Source:
    """Named arrays: ``U`` (d, m), ``alpha`` (m,), optional ``b`` (m,), ``c`` (); or PyTorch-style
    ``<layer>.weight`` / ``<layer>.bias``. Optional ``beta``, ``loss``, ``hidden_bias``,
    ``output_bias`` state the objective (as ``cvxrelu export --format npz`` writes)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"{path}: not a readable .npz file ({msg})") from None
    meta = {}
    for key in ("beta", "loss", "hidden_bias", "output_bias"):
        if key in arrays:
            v = arrays.pop(key)
            if v.shape != ():
                raise InputError(f"{path}: {key} must be a scalar, has shape {v.shape}")
            meta[key] = v.item()
    if "U" in arrays or "alpha" in arrays:
        for k in ("U", "alpha"):
            if k not in arrays:
                raise InputError(f"{path}: has {'U' if k == 'alpha' else 'alpha'} but no {k}")
        extra = sorted(set(arrays) - {"U", "alpha", "b", "c"})
        if extra:
            raise InputError(f"{path}: unexpected array(s) {', '.join(extra)} next to U and alpha")
        U = _f64(path, "U", arrays["U"], 2)
        alpha = _f64(path, "alpha", arrays["alpha"], 1)
        if alpha.shape[0] != U.shape[1]:
            raise InputError(f"{path}: alpha has {alpha.shape[0]} entries but U has {U.shape[1]} columns")
        b = _f64(path, "b", arrays["b"], 1) if "b" in arrays else None
        if b is not None and b.shape != alpha.shape:
            raise InputError(f"{path}: b has {b.shape[0]} entries but U has {U.shape[1]} columns")
        c = None
        if "c" in arrays:
            cv = _f64(path, "c", arrays["c"]).reshape(-1)
            if cv.shape != (1,):
                raise InputError(f"{path}: c must be a scalar, has shape {arrays['c'].shape}")
            c = float(cv[0])
        src = Source(U=U, alpha=alpha, b=b, c=c, fmt="npz",
                     description=f"arrays U {U.shape}, alpha{', b' if b is not None else ''}{', c' if c is not None else ''}",
                     float32=arrays["U"].dtype == np.float32)
    else:
        src = linear_pair(arrays, path, "npz")
    if meta:
        if "beta" not in meta:
            raise InputError(f"{path}: has {', '.join(meta)} but no beta")
        src.stated = _stated_from_meta(meta, path)
    return src


# ----------------------------------------------------------------------------- Keras


def _dense_index(name: str) -> int | None:
    m = re.fullmatch(r"dense(?:_(\d+))?", name)
    return None if m is None else int(m.group(1) or 0)


def read_keras(path: str) -> Source:
    """Keras 3 ``.weights.h5`` or ``.keras`` (zip: config.json + model.weights.h5), no TensorFlow.

    Keras 3 stores layer k's variables at /layers/<name>/vars/<i>, the name being the class
    name in snake case with _1, _2, ... for later layers of the same class (dense, dense_1);
    a Dense layer's vars are 0 = kernel (in, out), 1 = bias. A .weights.h5 has no
    architecture: Dense(relu) -> Dense(1, linear) is assumed; a .keras file's config.json is
    checked (activations, units, use_bias; a final sigmoid means the logistic loss).
    """
    import h5py

    config_loss = stated = None
    decoupled = False
    notes = []
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as zf:
                names = zf.namelist()
                if "model.weights.h5" not in names:
                    raise InputError(f"{path}: a .keras archive without model.weights.h5 (has {', '.join(names[:5])})")
                cfg = json.loads(zf.read("config.json")) if "config.json" in names else None
                blob = zf.read("model.weights.h5")
        except (zipfile.BadZipFile, OSError, ValueError, KeyError) as exc:
            raise InputError(f"{path}: not a readable .keras archive ({exc})") from None
        if cfg is None:
            raise InputError(f"{path}: a .keras archive without config.json")
        config_loss = _check_keras_config(cfg, path)
        stated, decoupled, cfg_notes = _keras_objective(cfg, path)
        notes += cfg_notes
        handle, where = _io.BytesIO(blob), f"{path}!model.weights.h5"
    else:
        from ..io import check_file

        check_file(path)
        handle, where = path, path
        notes.append("a .weights.h5 has no architecture: Dense(relu) -> Dense(1, linear) assumed; "
                     "import the .keras file to have it checked")
    try:
        f = h5py.File(handle, "r")
    except OSError as exc:
        raise InputError(f"{where}: cannot open as HDF5 ({str(exc).splitlines()[0]})") from None
    with f:
        if "model" in f and "format" in f.attrs:
            raise InputError(f"{where}: this is already a cvxrelu checkpoint; verify it directly")
        rootname = "layers" if "layers" in f else "_layer_checkpoint_dependencies" if "_layer_checkpoint_dependencies" in f else None
        if rootname is None:
            raise InputError(f"{where}: no /layers group; not a Keras 3 weights file")
        arrays = {}
        from ..io import lookup_dataset, read_dataset

        root = lookup_dataset(f, where, rootname)
        for name in root:
            vars_ = lookup_dataset(f, where, f"{rootname}/{name}/vars", required=False)
            nvars = 0 if vars_ is None else len(vars_)
            idx = _dense_index(name)
            if idx is None:
                if nvars:
                    raise InputError(f"{where}: layer {name} has weights; only Dense layers are supported")
                if not name.startswith(("input_layer", "dropout")):
                    raise InputError(f"{where}: layer {name} is not supported; expected Dense(relu) -> Dense(1)")
                continue
            keys = sorted(vars_.keys()) if vars_ is not None else []
            if keys not in (["0"], ["0", "1"]):
                raise InputError(f"{where}: /{rootname}/{name}/vars has {keys}; a Dense layer has 0 (kernel) and 1 (bias)")
            arrays[f"{name}.kernel"] = read_dataset(f, where, f"{rootname}/{name}/vars/0", 2)
            if "1" in keys:
                arrays[f"{name}.bias"] = read_dataset(f, where, f"{rootname}/{name}/vars/1", 1)
    src = linear_pair(arrays, where, "keras", layout="in_out")
    src.description = "Keras Dense -> Dense: " + src.description
    src.loss = config_loss
    src.notes += notes
    src.decoupled_decay = decoupled
    if stated is not None:
        if (stated["hidden_bias"] != "none") != (src.b is not None) or (stated["output_bias"] != "none") != (src.c is not None):
            raise InputError(f"{path}: config.json's use_bias does not match the stored weights")
        src.stated = stated
    return src


def _check_keras_config(cfg: dict, path: str) -> str | None:
    """Dense(relu) -> Dense(1, linear | sigmoid) in config.json; the implied loss for sigmoid."""
    try:
        layers = cfg["config"]["layers"]
        kinds = [layer["class_name"] for layer in layers]
    except (KeyError, TypeError):
        raise InputError(f"{path}: config.json has no layer list") from None
    dense = [layer.get("config", {}) for layer in layers if layer["class_name"] == "Dense"]
    other = [k for k in kinds if k not in ("Dense", "InputLayer", "Dropout")]
    if other or len(dense) != 2:
        raise InputError(f"{path}: layers {', '.join(kinds)}; expected Dense(relu) -> Dense(1)")
    a1, a2 = dense[0].get("activation"), dense[1].get("activation")
    if a1 != "relu":
        raise InputError(f"{path}: the first Dense layer has activation {a1!r}; expected 'relu'")
    if dense[1].get("units") != 1:
        raise InputError(f"{path}: the last Dense layer has {dense[1].get('units')} units; expected 1")
    if a2 == "sigmoid":
        return "logistic"
    if a2 not in ("linear", None):
        raise InputError(f"{path}: the last Dense layer has activation {a2!r}; expected 'linear' or 'sigmoid'")
    return None


_MSE = ("mse", "mean_squared_error", "MeanSquaredError")
_BCE = ("binary_crossentropy", "BinaryCrossentropy")


def _keras_l2(reg, path: str, where: str) -> float | None:
    """lambda of an L2 regularizer config (None for no regularizer); L1 terms are refused."""
    if reg is None:
        return None
    cls, conf = reg.get("class_name"), reg.get("config") or {}
    if cls in ("L2", "L1L2"):
        if float(conf.get("l1", 0.0) or 0.0) != 0.0:
            raise InputError(f"{path}: {where} has an L1 term; only L2 (weight decay) is supported")
        lam = float(conf.get("l2", 0.0) or 0.0)
        return lam if lam > 0 else None
    raise InputError(f"{path}: {where} is a {cls} regularizer; only L2 is supported")


def _keras_objective(cfg: dict, path: str):
    """The objective a .keras file states: L2 regularizers, the compiled loss and its reduction.

    Returns (stated or None, decoupled weight decay?, notes). Stated only when both Dense
    kernels carry the same l2(lambda), each bias carries none or the same, and the compiled loss
    is mean squared error or binary cross-entropy with a known reduction (docs/conventions.md).
    """
    dense = [layer.get("config", {}) for layer in cfg["config"]["layers"] if layer["class_name"] == "Dense"]
    kern = [_keras_l2(d.get("kernel_regularizer"), path, f"Dense layer {i + 1}'s kernel_regularizer")
            for i, d in enumerate(dense)]
    bias = [_keras_l2(d.get("bias_regularizer"), path, f"Dense layer {i + 1}'s bias_regularizer")
            if d.get("use_bias", True) else None for i, d in enumerate(dense)]
    compile_cfg = cfg.get("compile_config") or {}
    opt = (compile_cfg.get("optimizer") or {}) if isinstance(compile_cfg.get("optimizer"), dict) else {}
    wd = (opt.get("config") or {}).get("weight_decay")
    decoupled = bool(wd) and float(wd) > 0
    if all(v is None for v in kern + bias):
        return None, decoupled, []
    if kern[0] is None or kern[0] != kern[1]:
        raise InputError(f"{path}: the Dense kernels have L2 factors {kern[0]} and {kern[1]}; the objective cvxrelu "
                         "certifies has one weight decay for both layers")
    lam = kern[0]
    modes = []
    for i, (d, b) in enumerate(zip(dense, bias)):
        if not d.get("use_bias", True):
            modes.append("none")
        elif b is None:
            modes.append("free")
        elif b == lam:
            modes.append("penalized")
        else:
            raise InputError(f"{path}: Dense layer {i + 1}'s bias has L2 factor {b}, its kernels {lam}; only the same "
                             "factor or none is supported")
    loss_cfg = compile_cfg.get("loss")
    if loss_cfg is None:
        return None, decoupled, [(f"config.json has l2({lam!r}) regularizers but no compiled loss: pass --l2 {lam!r} "
                                 "and --reduction")]
    name, reduction, conf = loss_cfg, "sum_over_batch_size", {}
    if isinstance(loss_cfg, dict):
        name, conf = loss_cfg.get("class_name"), loss_cfg.get("config") or {}
        reduction = conf.get("reduction", "sum_over_batch_size")
    if reduction not in ("sum_over_batch_size", "sum"):
        raise InputError(f"{path}: compiled loss reduction {reduction!r}; expected 'sum_over_batch_size' or 'sum'")
    notes = []
    if name in _MSE:
        loss = "squared"
    elif name in _BCE:
        loss = "logistic"
        sigmoid = dense[1].get("activation") == "sigmoid"
        if bool(conf.get("from_logits", False)) == sigmoid:
            raise InputError(f"{path}: binary cross-entropy with from_logits={conf.get('from_logits', False)} after a "
                             f"{'sigmoid' if sigmoid else 'linear'} output; the logits are not what the loss sees")
        if float(conf.get("label_smoothing", 0.0) or 0.0) != 0.0:
            raise InputError(f"{path}: binary cross-entropy with label smoothing is not the logistic loss")
        if sigmoid:
            notes.append("Keras clips probabilities to [1e-7, 1 - 1e-7] in binary_crossentropy: its loss equals "
                         "ours only where |logit| < 16")
    else:
        raise InputError(f"{path}: compiled loss {name!r}; only mean squared error and binary cross-entropy are supported")
    stated = {"kind": "keras", "l2": lam, "reduction": "mean" if reduction == "sum_over_batch_size" else "sum",
              "loss": loss, "hidden_bias": modes[0], "output_bias": modes[1]}
    return stated, decoupled, notes
