"""JSON-safe records: what a report carries besides numbers (finite floats, versions, hashes).

Every dictionary the CLI prints goes through :func:`jsonable`, so a NaN or an infinity becomes
``null`` and numpy scalars and arrays become plain Python values (docs/cli.md, "JSON keys").
"""

from __future__ import annotations

import hashlib
import math
import platform
from enum import Enum

import numpy as np

from . import __version__


def finite(x) -> float | None:
    """``float(x)`` when finite, else None (JSON has no NaN or infinity)."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def jsonable(obj):
    """``obj`` with numpy values made plain and non-finite floats made None, recursively."""
    if isinstance(obj, Enum):
        return jsonable(obj.value)
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [jsonable(v) for v in obj.tolist()]
    if isinstance(obj, np.generic):
        return jsonable(obj.item())
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    return obj


def array_sha256(a: np.ndarray) -> str:
    """SHA-256 of the float64, C-ordered bytes of ``a``."""
    return hashlib.sha256(np.ascontiguousarray(a, dtype=np.float64).tobytes()).hexdigest()


def versions() -> dict:
    """Versions of cvxrelu, numpy, scipy, Python and (when installed) Clarabel."""
    import scipy

    out = {"cvxrelu": __version__, "numpy": np.__version__, "scipy": scipy.__version__,
           "python": platform.python_version()}
    try:
        import clarabel

        out["clarabel"] = getattr(clarabel, "__version__", "unknown")
    except ImportError:  # pragma: no cover
        pass
    return out
