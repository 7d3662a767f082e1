"""From a :class:`~cvxrelu.interop.importers.Source` and its training data to our checkpoint.

The one decision made here is the training objective (docs/conventions.md): stated by the
file (scikit-learn, or a file written by ``cvxrelu export``), or given by the user as
``beta`` directly or as a coupled weight decay / L2 factor with its reduction; biases
decayed or not. Anything the file and the options leave open is refused, never guessed,
except the loss of an architecture that does not say (the contract's default, squared,
stated in the report).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError
from ..model import Dataset, Model, Network, objective, predict
from . import conventions
from .importers import PREDICTION_RTOL, PREDICTION_RTOL_FLOAT32, Source


@dataclass
class Objective:
    """What the user said about the objective (command-line options); None = not given."""

    beta: float | None = None
    weight_decay: float | None = None
    l2: float | None = None
    reduction: str | None = None
    decayed: str | None = None
    loss: str | None = None
    optimizer: str | None = None


@dataclass
class Imported:
    network: Network
    model: Model
    data: Dataset
    model_attrs: dict
    report: dict = field(default_factory=dict)


def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def convert(src: Source, data: Dataset, opts: Objective, source_path: str, data_path: str) -> Imported:
    """Decide the objective, map the labels, check the predictions; see the module docstring."""
    d = src.U.shape[0]
    if data.n_features != d:
        raise InputError(f"{data_path}: X has {data.n_features} columns but the network in {source_path} "
                         f"takes {d} inputs")
    has_b, has_c = src.b is not None, src.c is not None
    given = [k for k in ("beta", "weight_decay", "l2") if getattr(opts, k) is not None]
    notes = list(src.notes)

    # ---- the loss
    implied = src.stated["loss"] if src.stated else src.loss
    if opts.loss is not None and implied is not None and opts.loss != implied:
        raise InputError(f"{source_path}: --loss {opts.loss} contradicts the file, which says {implied}")
    loss = opts.loss or implied
    if loss is None:
        loss = "squared"
        notes.append("loss squared assumed (the file does not say); pass --loss logistic for a "
                     "binary cross-entropy on logits")

    # ---- decoupled weight decay describes no objective of this form
    adamw = opts.optimizer == "adamw" or src.decoupled_decay
    if adamw and (opts.weight_decay is not None or opts.l2 is not None):
        raise InputError(f"{source_path}: AdamW's decoupled weight decay is not a penalty in the training "
                         "objective (its fixed point depends on the learning rate and Adam's scaling), so no "
                         "beta corresponds to it; pass --beta for the objective to certify against, or retrain "
                         "with coupled decay (SGD or Adam weight_decay)")
    if adamw:
        notes.append("trained with AdamW: the certificate is for the objective with the beta given, "
                     "not for what AdamW minimised")

    # ---- the objective
    if src.stated is not None:
        extra = given + [k for k in ("reduction", "decayed") if getattr(opts, k) is not None]
        if extra:
            what = {"sklearn": lambda st: f"alpha = {st['alpha']!r}", "keras": lambda st: f"l2({st['l2']!r})",
                    "cvxrelu": lambda st: f"beta = {st['beta']!r}"}[src.stated["kind"]](src.stated)
            raise InputError(f"{source_path}: the file states its objective ({what}); drop "
                             f"{', '.join('--' + k.replace('_', '-') for k in extra)}")
        if src.stated["kind"] == "sklearn":
            conv = conventions.from_sklearn(src.stated["alpha"], loss, data.n_samples, src.stated["estimator"])
        elif src.stated["kind"] == "keras":
            if adamw:
                raise InputError(f"{source_path}: the compiled optimizer has a (decoupled) weight_decay on top of the "
                                 "l2 regularizers; no beta describes that objective")
            conv = conventions.from_weight_decay(src.stated["l2"], src.stated["reduction"], loss,
                                                 src.stated["hidden_bias"], src.stated["output_bias"],
                                                 data.n_samples, kind="l2")
            conv = conventions.Conversion(conv.model, conv.scale, "Keras config.json: " + conv.text)
        else:
            hb, ob = src.stated["hidden_bias"], src.stated["output_bias"]
            if (hb != "none") != has_b or (ob != "none") != has_c:
                raise InputError(f"{source_path}: metadata says hidden_bias {hb}, output_bias {ob} but the "
                                 f"file {'has' if has_b else 'has no'} hidden bias and "
                                 f"{'has' if has_c else 'has no'} output bias")
            conv = conventions.from_beta(src.stated["beta"], loss, hb, ob)
            conv = conventions.Conversion(conv.model, None, conv.text.replace("given on the command line",
                                                                              "stated in the file"))
    else:
        if len(given) != 1:
            raise InputError(f"{source_path}: a {src.fmt} file does not state its training objective; pass "
                             "exactly one of --beta B, --weight-decay WD (coupled, as SGD/Adam weight_decay) or "
                             f"--l2 LAMBDA (Keras l2 regularizer){' (got ' + ', '.join(given) + ')' if given else ''}")
        hb, ob = conventions.bias_modes(opts.decayed, has_b, has_c, source_path)
        if opts.beta is not None:
            if opts.reduction is not None:
                raise InputError("--reduction applies to --weight-decay and --l2, not to --beta")
            conv = conventions.from_beta(opts.beta, loss, hb, ob)
        else:
            if opts.reduction is None:
                raise InputError(f"{source_path}: with --{'weight-decay' if opts.weight_decay is not None else 'l2'} "
                                 "say how the loss was reduced over the samples: --reduction mean (the default of "
                                 "MSELoss, BCEWithLogitsLoss, Keras) or --reduction sum")
            if opts.weight_decay is not None:
                conv = conventions.from_weight_decay(opts.weight_decay, opts.reduction, loss, hb, ob, data.n_samples)
            else:
                conv = conventions.from_weight_decay(opts.l2, opts.reduction, loss, hb, ob, data.n_samples, kind="l2")
    model = conv.model

    # ---- labels
    y = data.y
    label_map = None
    if loss == "logistic":
        if src.classes is not None:
            neg, pos = src.classes
            try:
                neg_f, pos_f = float(neg), float(pos)
            except (TypeError, ValueError):
                raise InputError(f"{source_path}: the classifier's classes {src.classes!r} are not numbers; the "
                                 "data file holds numbers") from None
        else:
            vals = set(np.unique(y).tolist())
            neg_f, pos_f = (0.0, 1.0) if vals <= {0.0, 1.0} and vals != {1.0} else (-1.0, 1.0)
        bad = ~np.isin(y, (neg_f, pos_f))
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            raise InputError(f"{data_path}: y[{k}] = {y[k]:g}; the logistic loss needs the two classes "
                             f"{neg_f:g} and {pos_f:g}")
        y = np.where(y == pos_f, 1.0, -1.0)
        label_map = {f"{neg_f:g}": -1, f"{pos_f:g}": 1}
    data = Dataset(np.ascontiguousarray(data.X), np.ascontiguousarray(y))

    net = Network(U=src.U, alpha=src.alpha, b=src.b if has_b else None, c=src.c if has_c else None)
    yhat = predict(net, data.X)

    # ---- the framework's own predictions, when it can be run
    check = None
    if src.reference is not None:
        ref = np.asarray(src.reference(data.X), dtype=np.float64).reshape(-1)
        ours = _sigmoid(yhat) if src.reference_kind == "probability" else yhat
        diff = float(np.max(np.abs(ours - ref)) / max(1.0, float(np.max(np.abs(ref)))))
        tol = PREDICTION_RTOL_FLOAT32 if src.float32 else PREDICTION_RTOL
        if not diff <= tol:
            raise InputError(f"{source_path}: the network as read does not reproduce the model's own predictions "
                             f"on {data_path} (relative difference {diff:.2e} > {tol:.0e}); its architecture is not "
                             "Linear -> ReLU -> Linear as assumed")
        check = {"compared": src.reference_kind, "max_relative_difference": diff, "tolerance": tol}

    L = objective(net, data, model)
    attrs = {"imported_from": str(source_path), "import_format": src.fmt, "source": src.description,
             "conversion": conv.text, "data_from": str(data_path)}
    if conv.scale is not None:
        attrs["framework_objective_scale"] = float(conv.scale)
    if label_map is not None:
        attrs["label_map"] = json.dumps(label_map)
    if src.classes is not None:
        attrs["classes"] = json.dumps(list(src.classes))
    if notes:
        attrs["import_notes"] = "; ".join(notes)
    report = {
        "status": "imported", "source": str(source_path), "format": src.fmt, "description": src.description,
        "data": str(data_path), "n_samples": data.n_samples, "n_features": data.n_features,
        "neurons": net.n_neurons, "beta": model.beta, "loss": model.loss, "hidden_bias": model.hidden_bias,
        "output_bias": model.output_bias, "conversion": conv.text, "objective": L,
        "framework_objective_scale": conv.scale,
        "framework_objective": None if conv.scale is None else L / conv.scale,
        "label_map": label_map, "prediction_check": check, "notes": notes,
    }
    return Imported(net, model, data, attrs, report)
