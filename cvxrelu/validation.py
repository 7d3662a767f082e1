"""Checks that a network, a model and a data set fit together; each failure is one InputError line.

The three places that used to carry their own copy (the loader, the solver and the verifier)
call these, and only choose the prefix that names the file or the option.
"""

from __future__ import annotations

import numpy as np

from .errors import InputError
from .model import Dataset, Model, Network


def check_labels(model: Model, y: np.ndarray, prefix: str = "") -> None:
    """Raise ``InputError(prefix + reason)`` when ``y`` is not a valid label vector for the loss."""
    msg = model.loss_fn.check_labels(y)
    if msg:
        raise InputError(prefix + msg)


def check_width(net: Network, n_features: int, prefix: str = "", xname: str = "X") -> None:
    """The network's input dimension must be the number of columns of X."""
    if net.U.shape[0] != n_features:
        raise InputError(f"{prefix}the network has {net.U.shape[0]} input features but {xname} has "
                         f"{n_features} columns")


def check_consistent(net: Network, data: Dataset, model: Model) -> None:
    """Shapes, hidden-bias presence and labels of (net, data, model) agree."""
    check_width(net, data.X.shape[1])
    if model.has_hidden_bias and net.b is None:
        raise InputError(f"hidden_bias is {model.hidden_bias!r} but the network has no b")
    if not model.has_hidden_bias and net.b is not None:
        raise InputError("the network has a hidden bias b but hidden_bias is 'none'")
    check_labels(model, data.y)
