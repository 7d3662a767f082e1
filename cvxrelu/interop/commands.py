"""``cvxrelu import`` and ``cvxrelu export``: thin click commands over cvxrelu.interop.

Conventions and the conversion table: docs/conventions.md.
"""

from __future__ import annotations

import json
import os
import sys

import click

from ..errors import InputError

_EXIT_CODES = ("\b\nExit codes: 0 written; 2 bad usage or bad input (one line on stderr, nothing "
               "written); 3 internal error.")


def check_output(out: str, inputs: list[str]) -> None:
    """Refuse, before any work, an output that cannot be written or would replace an input."""
    if os.path.isdir(out):
        raise InputError(f"{out}: is a directory; -o takes a file name")
    directory = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(directory):
        raise InputError(f"{out}: directory {directory} does not exist")
    if not os.access(directory, os.W_OK):
        raise InputError(f"{out}: directory {directory} is not writable")
    for path in inputs:
        if path is None or not os.path.exists(path) or not os.path.exists(out):
            continue
        if os.path.samefile(path, out):
            raise InputError(f"{out}: is also an input ({path}); write to another file")


def _emit(d: dict, as_json: bool, lines: list[str]) -> None:
    if as_json:
        sys.stdout.write(json.dumps(d, allow_nan=False) + "\n")
    else:
        for line in lines:
            click.echo(line)


def _num(x):
    return "-" if x is None else f"{x:.10g}"


@click.command("import", epilog=_EXIT_CODES)
@click.argument("source")
@click.option("--data", "data_path", required=True,
              help="Training data: HDF5 (/data/X, /data/y), .npz (X, y) or CSV with a header (then --target).")
@click.option("-o", "--output", "out", required=True, help="Checkpoint to write (HDF5, with the data).")
@click.option("--format", "fmt", type=click.Choice(["auto", "sklearn", "torch", "safetensors", "keras", "npz"]),
              default="auto", show_default=True,
              help="Format of SOURCE; auto: from the extension (.pkl/.joblib, .pt/.pth, .safetensors, "
                   ".keras/.weights.h5, .npz).")
@click.option("--beta", type=float, default=None,
              help="Our weight decay beta (> 0), for sources that do not state their objective.")
@click.option("--weight-decay", type=float, default=None,
              help="Coupled weight decay wd of SGD/Adam (weight_decay=wd): beta = wd / (r k), see "
                   "docs/conventions.md. Needs --reduction.")
@click.option("--l2", type=float, default=None,
              help="L2 regularizer factor lambda (Keras l2(lambda): lambda ||W||^2 in the loss); "
                   "same as --weight-decay 2*lambda. Needs --reduction.")
@click.option("--reduction", type=click.Choice(["mean", "sum"]), default=None,
              help="How the training loss combined the samples (PyTorch and Keras default: mean).")
@click.option("--decayed", type=click.Choice(["weights", "all"]), default=None,
              help="Which parameters the decay covered: weights (biases free, e.g. in a no-decay parameter "
                   "group) or all (biases decayed too). Required when the network has biases and the file "
                   "does not say.")
@click.option("--loss", type=click.Choice(["squared", "logistic"]), default=None,
              help="squared (MSE) or logistic (binary cross-entropy on logits; labels 0/1 or -1/+1 are "
                   "mapped to -1/+1). Default: from the file, else squared.")
@click.option("--optimizer", type=click.Choice(["sgd", "adam", "adamw", "other"]), default=None,
              help="The optimizer that applied --weight-decay; adamw (decoupled decay) is refused with "
                   "--weight-decay, since no beta describes it.")
@click.option("--target", default=None, help="CSV only: the name of the label column.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
def import_command(source, data_path, out, fmt, beta, weight_decay, l2, reduction, decayed, loss, optimizer,
                   target, as_json):
    """Convert a trained network SOURCE and its training data into a checkpoint.

    SOURCE: a scikit-learn MLPRegressor / binary MLPClassifier (pickle or joblib), a PyTorch
    state_dict or model of Linear -> ReLU -> Linear (.pt, needs torch), .safetensors, Keras 3
    .keras / .weights.h5 of Dense(relu) -> Dense(1), or .npz with named arrays.

    WARNING: pickles, joblib files and full PyTorch models run arbitrary code when loaded;
    import only files you trust. The conversion of the objective is stored in the
    checkpoint's /model attributes and printed (docs/conventions.md).
    """
    from ..io import save_checkpoint
    from .convert import Objective, convert
    from .data import load_data
    from .importers import read_source

    check_output(out, [source, data_path])
    src = read_source(source, fmt)
    data = load_data(data_path, target)
    res = convert(src, data, Objective(beta=beta, weight_decay=weight_decay, l2=l2, reduction=reduction,
                                       decayed=decayed, loss=loss, optimizer=optimizer), source, data_path)
    from .. import __version__

    save_checkpoint(out, res.network, res.model, res.data, attrs={"imported_with": f"cvxrelu {__version__}"},
                    model_attrs=res.model_attrs)
    d = dict(res.report, output=out)
    r = d
    lines = [f"imported {r['source']} ({r['format']}): {r['description']}",
             f"data {r['data']}: {r['n_samples']} samples, {r['n_features']} features",
             (f"objective: loss {r['loss']}, beta {_num(r['beta'])}, hidden bias {r['hidden_bias']}, "
             f"output bias {r['output_bias']}"),
             f"conversion: {r['conversion']}",
             f"L(theta) = {_num(r['objective'])}"
             + (f"  (framework's training objective F = L / {_num(r['framework_objective_scale'])} = "
                f"{_num(r['framework_objective'])})" if r["framework_objective_scale"] else "")]
    if r["label_map"]:
        lines.append("labels: " + ", ".join(f"{k} -> {v:+d}" for k, v in r["label_map"].items()))
    if r["prediction_check"]:
        pc = r["prediction_check"]
        lines.append(f"checked: the source model's own {pc['compared']}s agree to "
                     f"{pc['max_relative_difference']:.1e} (tolerance {pc['tolerance']:.0e})")
    lines += [f"note: {n}" for n in r["notes"]]
    lines.append(f"written {out}; next: cvxrelu verify {out}")
    _emit(d, as_json, lines)
    return 0


@click.command("export", epilog=_EXIT_CODES)
@click.argument("checkpoint")
@click.option("-o", "--output", "out", required=True,
              help="File to write: .pt (PyTorch state_dict), .safetensors, .npz or .pkl (scikit-learn).")
@click.option("--format", "fmt", type=click.Choice(["auto", "torch", "safetensors", "npz", "sklearn"]),
              default="auto", show_default=True, help="Output format; auto: from the extension of -o.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
def export_command(checkpoint, out, fmt, as_json):
    """Write the network of CHECKPOINT (e.g. a witness or a solved network) for another framework.

    PyTorch and safetensors get the state_dict of Sequential(Linear(d, m), ReLU(), Linear(m, 1))
    in float64; scikit-learn an MLPRegressor / MLPClassifier pickle with alpha = beta. The
    layouts are in docs/conventions.md.
    """
    from ..io import load_isolated
    from .exporters import detect_export_format, export, read_classes, reread_check

    check_output(out, [checkpoint])
    if fmt == "auto":
        fmt = detect_export_format(out)
    ck = load_isolated(checkpoint, "checkpoint")
    classes = read_classes(checkpoint) if ck.model.loss == "logistic" else None
    notes = export(ck.network, ck.model, out, fmt, classes=classes)
    if fmt in ("torch", "safetensors"):
        from .conventions import to_framework

        notes.append(to_framework(ck.model, ck.data.n_samples if ck.data is not None else None))
    diff = reread_check(out, fmt, ck)
    d = {"status": "exported", "checkpoint": checkpoint, "output": out, "format": fmt,
         "beta": ck.model.beta, "loss": ck.model.loss, "hidden_bias": ck.model.hidden_bias,
         "output_bias": ck.model.output_bias, "neurons": ck.network.n_neurons,
         "reread_max_relative_difference": diff, "notes": notes}
    lines = [(f"exported {checkpoint} -> {out} ({fmt}): {ck.network.n_neurons} neurons, beta {_num(ck.model.beta)}, "
             f"loss {ck.model.loss}, hidden bias {ck.model.hidden_bias}, output bias {ck.model.output_bias}")]
    if diff is not None:
        lines.append(f"checked: read back, predictions agree to {diff:.1e}")
    lines += [f"note: {n}" for n in notes]
    _emit(d, as_json, lines)
    return 0
