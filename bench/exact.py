"""Benchmark ``verify --exact`` (cvxrelu/exact.py) on scikit-learn nets: cost and the true gap.

scikit-learn MLPRegressor / MLPClassifier (lbfgs, one hidden ReLU layer) on standardized
slices of the bundled diabetes and breast-cancer data, mapped to our objective as
``cvxrelu import`` does (beta = alpha, free biases, docs/conventions.md). For each: verify
(certificate.verify) and the exact optimum (exact.exact_optimum; verify --exact runs both),
wall and CPU seconds, the certificate's gap and the true gap bracket [L - P_hi, L - P_lo].

    python bench/exact.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np

from cvxrelu.certificate import verify
from cvxrelu.exact import exact_optimum
from cvxrelu.interop.conventions import from_sklearn
from cvxrelu.model import Dataset, Network, objective

#: (data set, n, feature columns, width, seed, alpha)
CASES = [
    ("diabetes", 100, (2, 8), 8, 0, 1.0),
    ("diabetes", 150, (2, 8), 4, 1, 2.0),
    ("diabetes", 200, (2, 8), 16, 2, 3.0),
    ("diabetes", 200, (2, 8), 8, 0, 0.3),
    ("diabetes", 100, (2, 8, 3), 8, 0, 1.0),
    ("breast_cancer", 100, (0, 1), 8, 0, 1.0),
]


def case(which, n, cols, width, seed, alpha):
    from sklearn import datasets
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    if which == "diabetes":
        X, y = datasets.load_diabetes(return_X_y=True)
        X, y = X[:n, list(cols)], y[:n]
        y = (y - y.mean()) / y.std()
        cls, loss = MLPRegressor, "squared"
    else:
        X, y = datasets.load_breast_cancer(return_X_y=True)
        X, y = X[:n, list(cols)], y[:n].astype(float)
        cls, loss = MLPClassifier, "logistic"
    X = (X - X.mean(0)) / X.std(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = cls(hidden_layer_sizes=(width,), alpha=alpha, activation="relu", solver="lbfgs", max_iter=3000,
                  tol=1e-12, random_state=seed).fit(X, y)
    model = from_sklearn(est.alpha, loss, n, type(est).__name__).model
    if loss == "logistic":
        y = np.where(y == est.classes_[1], 1.0, -1.0)
    net = Network(est.coefs_[0].astype(float), est.coefs_[1][:, 0].astype(float), est.intercepts_[0].astype(float),
                  float(est.intercepts_[1][0]))
    return Dataset(X, y), model, net


def timed(f):
    t, c = time.perf_counter(), time.process_time()
    out = f()
    return out, time.perf_counter() - t, time.process_time() - c


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="the first two cases only")
    a = ap.parse_args(argv)
    print(f"load average {os.getloadavg()[0]:.1f}")
    print("| data | n | d | m | alpha | loss | verify s (cpu) | exact s (cpu) | rounds | verify status | "
          "verify gap | true gap [L - P_hi, L - P_lo] | verify gap / true gap |")
    print("|---|---:|---:|---:|---:|---|---:|---:|---:|---|---:|---|---:|")
    for which, n, cols, width, seed, alpha in CASES[:2] if a.quick else CASES:
        data, model, net = case(which, n, cols, width, seed, alpha)
        L = objective(net, data, model)
        cert, tv, cv = timed(lambda: verify(net, data, model))
        ex, te, ce = timed(lambda: exact_optimum(net, data, model, time_limit=600.0))
        gl, gu = ex.gap_lower, ex.gap_upper
        ratio = "-" if not gl or gl <= 0 else f"{cert.gap / gl:.3g}"
        bracket = "-" if gl is None else f"[{gl:.4e}, {gu:.4e}]"
        print(f"| {which} | {n} | {len(cols)} | {width} | {alpha:g} | {model.loss} | {tv:.2f} ({cv:.2f}) | "
              f"{te:.2f} ({ce:.2f}) | {ex.rounds} | {cert.status.value} | {cert.gap:.4e} | {bracket} ({ex.status}) | "
              f"{ratio} |", flush=True)
        assert L == cert.objective


if __name__ == "__main__":
    main()
