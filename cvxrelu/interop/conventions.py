"""Training objectives of other frameworks, converted to ours (docs/conventions.md).

Ours (docs/conventions.md, README.md):

    L(theta) = loss(yhat, y) + beta/2 sum_j (||u_j||^2 + alpha_j^2)  [+ beta/2 ||b||^2] [+ beta/2 c^2]

with ``squared``: 1/2 sum_i (yhat_i - y_i)^2 and ``logistic``: sum_i log(1 + exp(-y_i yhat_i)),
labels -1/+1. A framework minimises some F(theta); when F is a positive multiple of L,
``L = scale * F`` and both have the same minimisers, so a certificate for L is one for F.

A framework's per-sample loss is ``k`` times ours: ``k = 2`` for the squared error
(MSELoss, Keras "mse": (yhat - y)^2 without the 1/2) and ``k = 1`` for the binary cross-entropy
on logits with labels {0, 1} (-log sigmoid(s z) = log(1 + exp(-s z)) with s = 2 t - 1).
With reduction ``r`` (1/n for a mean, 1 for a sum) and a coupled weight decay ``wd`` (the
gradient step adds wd * theta, i.e. F contains wd/2 ||theta||^2; SGD and Adam's
``weight_decay``) or an L2 regulariser ``lambda ||W||^2`` (Keras ``l2(lambda)``, wd = 2 lambda):

    F = r k loss(yhat, y) + wd/2 ||theta||^2  =  r k [ loss + wd / (2 r k) ||theta||^2 ]

so ``beta = wd / (r k)`` and ``L = F / (r k)``. scikit-learn's ``loss_`` is
``1/n [loss + alpha/2 ||W||^2]`` for both losses it trains (its squared error has the 1/2),
so ``beta = alpha`` and ``L = n * loss_``, with free (unpenalised) biases.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import InputError
from ..model import Model

#: Per-sample loss of the frameworks divided by ours: squared error (no 1/2) and BCE on logits.
LOSS_FACTOR = {"squared": 2.0, "logistic": 1.0}
REDUCTIONS = ("mean", "sum")
DECAYED = ("weights", "all")


@dataclass(frozen=True)
class Conversion:
    """Our model, and how the framework's objective F relates to ours: L = scale * F.

    ``scale`` is None when the source gives ``beta`` directly (F is then ours).
    """

    model: Model
    scale: float | None
    text: str


def bias_modes(decayed: str | None, has_hidden_bias: bool, has_output_bias: bool, source: str) -> tuple[str, str]:
    """(hidden_bias, output_bias): absent biases are "none", present ones follow ``decayed``."""
    if (has_hidden_bias or has_output_bias) and decayed is None:
        raise InputError(f"{source}: the network has biases but the source does not say whether they were "
                         "penalized; pass --decayed weights (biases free, e.g. in a parameter group without "
                         "decay) or --decayed all (biases decayed like the weights)")
    mode = "free" if decayed == "weights" else "penalized"
    return (mode if has_hidden_bias else "none", mode if has_output_bias else "none")


def from_beta(beta: float, loss: str, hidden_bias: str, output_bias: str) -> Conversion:
    model = _model(beta, loss, hidden_bias, output_bias)
    text = (f"beta = {float(beta)!r} given on the command line; loss {loss}; hidden bias {hidden_bias}, "
            f"output bias {output_bias}")
    return Conversion(model, None, text)


def from_weight_decay(wd: float, reduction: str, loss: str, hidden_bias: str, output_bias: str,
                      n_samples: int, kind: str = "weight_decay") -> Conversion:
    """A coupled weight decay (``kind="weight_decay"``) or an L2 factor (``kind="l2"``).

    Implements beta = wd / (r k), L = F / (r k) (module docstring).
    """
    if not (wd > 0):
        raise InputError(f"--{kind.replace('_', '-')} must be > 0, got {wd!r}")
    if reduction not in REDUCTIONS:
        raise InputError(f"--reduction must be one of {', '.join(REDUCTIONS)}, got {reduction!r}")
    k = LOSS_FACTOR[loss]
    r = 1.0 / n_samples if reduction == "mean" else 1.0
    coupled = wd if kind == "weight_decay" else 2.0 * wd
    beta = coupled / (r * k)
    scale = 1.0 / (r * k)
    frame = {"squared": "squared error (yhat - y)^2 without the 1/2 (MSELoss, Keras mse)",
             "logistic": "binary cross-entropy on logits, labels {0, 1} (BCEWithLogitsLoss)"}[loss]
    pen = (f"coupled weight decay wd = {float(wd)!r} (F contains wd/2 ||theta||^2)" if kind == "weight_decay"
           else f"L2 regulariser lambda = {float(wd)!r} (F contains lambda ||W||^2, i.e. wd = 2 lambda)")
    red = f"mean over n = {n_samples} samples" if reduction == "mean" else "sum over samples"
    text = (f"framework objective F = {reduction} of the {frame} + {pen}; {red}; "
            f"ours L = F / (r k) with r = {'1/n' if reduction == 'mean' else '1'}, k = {k:g}: "
            f"L = {scale!r} * F, beta = wd / (r k) = {beta!r}; "
            f"hidden bias {hidden_bias}, output bias {output_bias}")
    return Conversion(_model(beta, loss, hidden_bias, output_bias), scale, text)


def from_sklearn(alpha: float, loss: str, n_samples: int, estimator: str) -> Conversion:
    """scikit-learn: loss_ = (1/n) [loss + alpha/2 ||W||^2], biases free: beta = alpha, L = n loss_."""
    if not (alpha > 0):
        raise InputError(f"{estimator} has alpha = {alpha!r}; the certificate needs a weight decay > 0")
    text = (f"scikit-learn {estimator}: loss_ = (1/n) [{'1/2 sum (yhat - y)^2' if loss == 'squared' else 'sum log(1 + exp(-y yhat))'}"
            f" + alpha/2 ||W||^2] with intercepts not penalized; n = {n_samples}: L = n * loss_, "
            f"beta = alpha = {float(alpha)!r}; hidden bias free, output bias free")
    return Conversion(_model(float(alpha), loss, "free", "free"), float(n_samples), text)


def _model(beta, loss, hidden_bias, output_bias) -> Model:
    try:
        return Model(beta=float(beta), loss=loss, hidden_bias=hidden_bias, output_bias=output_bias)
    except InputError as exc:
        raise InputError(f"the converted objective is not valid: {exc}") from None


def to_framework(model: Model, n_samples: int | None) -> str:
    """How to train the same objective in PyTorch (the inverse of :func:`from_weight_decay`)."""
    k = LOSS_FACTOR[model.loss]
    crit = "MSELoss" if model.loss == "squared" else "BCEWithLogitsLoss (labels 0/1)"
    decayed = ["weights"]
    if model.hidden_bias == "penalized":
        decayed.append("hidden bias")
    if model.output_bias == "penalized":
        decayed.append("output bias")
    free = [name for name, mode in (("hidden bias", model.hidden_bias), ("output bias", model.output_bias))
            if mode == "free"]
    groups = " and ".join(decayed) + (f"; {' and '.join(free)} in a group without decay" if free else "")
    text = f"the same objective in PyTorch: {crit}(reduction='sum') with weight_decay = {k * model.beta!r} on {groups}"
    if n_samples:
        text += f", or reduction='mean' with weight_decay = {k * model.beta / n_samples!r} (n = {n_samples})"
    return text
