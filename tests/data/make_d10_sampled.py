"""Writes tests/data/d10_sampled.npz: a network from `solve` over sampled patterns at d = 10.

Planted data (n = 200, d = 10, 5 planted neurons, noise 0.1, seed 3), squared loss, no biases,
beta = 0.2; solve(data, model, patterns=60, search=True, search_seconds=10). The search is
time-limited, so a re-run may give another network; the tests only need one on which the
branch and bound's own ascent attains M / beta near 1 while the refutation's search finds a
clearly violated dual constraint (here 1 + 5e-7 against 1.18).

    PYTHONPATH=. python tests/data/make_d10_sampled.py
"""

from pathlib import Path

import numpy as np

from cvxrelu.model import Dataset, Model
from cvxrelu.solve import solve

if __name__ == "__main__":
    n, d, seed = 200, 10, 3
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    U, a = rng.standard_normal((d, 5)), rng.standard_normal(5)
    y = np.maximum(X @ U, 0) @ a + 0.1 * rng.standard_normal(n)
    model = Model(beta=1e-3 * n)
    net = solve(Dataset(X, y), model, patterns=60, search=True, search_seconds=10).network
    np.savez_compressed(Path(__file__).with_name("d10_sampled.npz"), X=X, y=y, U=net.U, alpha=net.alpha,
                        beta=model.beta)
