"""cvxrelu: certify and compute globally optimal two-layer ReLU networks.

The package follows the hidden convex reformulation of two-layer ReLU networks with
weight decay (Pilanci & Ergen 2020; Wang, Lacotte & Pilanci, ICLR 2022).
"""

__version__ = "0.1.0"

from .errors import CvxReluError, InputError, SolverError  # noqa: F401
from .model import Dataset, Model, Network  # noqa: F401
