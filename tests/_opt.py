"""Test-only access to the independent cvxpy formulation in fixtures/make_fixtures.py."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fixtures"))

from make_fixtures import convex_optimum  # noqa: E402,F401
