"""cvxrelu: certify and compute globally optimal two-layer ReLU networks.

The package follows the hidden convex reformulation of two-layer ReLU networks with
weight decay (Pilanci & Ergen 2020; Wang, Lacotte & Pilanci, ICLR 2022).
Importing the package is cheap; the main objects load on first use.
"""

__version__ = "0.1.0"

_LAZY = {
    "Dataset": "model", "Model": "model", "Network": "model",
    "CvxReluError": "errors", "InputError": "errors", "SolverError": "errors",
    "verify": "certificate", "solve": "solve",
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(name)
