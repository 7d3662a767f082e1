"""cvxrelu import / export: round trips for every format, the objective conversions, bad input.

Oracles: each framework's own forward pass and training objective, written out here from the
framework's definition (PyTorch MSELoss / BCEWithLogitsLoss + coupled weight decay, Keras
mse + l2, scikit-learn's loss_ after fitting), never through cvxrelu.interop.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cvxrelu.interop import conventions
from cvxrelu.io import load_checkpoint
from cvxrelu.model import Dataset, Model, Network, objective, predict

ROOT = Path(__file__).resolve().parents[1]


def run(*args, cwd=None, env=None):
    return subprocess.run([sys.executable, "-m", "cvxrelu", *map(str, args)], check=False, capture_output=True, text=True,
                          cwd=cwd, env=env or dict(os.environ), timeout=300)


def assert_bad(res, *words, out=None):
    """Exit 2, exactly one line on stderr naming the words, no traceback, no output left."""
    assert res.returncode == 2, (res.returncode, res.stdout, res.stderr)
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert "Traceback" not in res.stderr
    for w in words:
        assert w.lower() in lines[0].lower(), (w, lines[0])
    if out is not None:
        assert not Path(out).exists()
        assert not [p for p in Path(out).parent.iterdir() if p.name.startswith(".cvxrelu-")]


def _dump(obj, path):
    with open(path, "wb") as f:
        pickle.dump(obj, f)


def _load(path):
    with open(path, "rb") as f:
        return pickle.load(f)


def rel(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.max(np.abs(a - b)) / max(1e-300, float(np.max(np.abs(b)))))


def problem(n=24, d=3, m=5, seed=0, logistic=False):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = np.sign(X[:, 0] + 0.3) if logistic else X[:, 0] - np.abs(X[:, 1]) + 0.1 * rng.standard_normal(n)
    W1 = rng.standard_normal((m, d))
    b1 = rng.standard_normal(m)
    W2 = rng.standard_normal((1, m))
    b2 = rng.standard_normal(1)
    return X, y, W1, b1, W2, b2


def torch_forward(X, W1, b1, W2, b2):
    """nn.Sequential(Linear, ReLU, Linear) written out: relu(X W1^T + b1) W2^T + b2."""
    H = X @ W1.T + (0 if b1 is None else b1)
    return (np.maximum(H, 0) @ W2.T + (0 if b2 is None else b2)).ravel()


def framework_objective(X, y, params, decayed_params, loss, reduction, wd):
    """F = reduce(MSELoss or BCEWithLogitsLoss with labels 0/1) + wd/2 ||decayed||^2."""
    z = torch_forward(X, *params)
    if loss == "squared":
        per = (z - y) ** 2
    else:
        t = (y > 0).astype(float)
        per = -(t * -np.logaddexp(0, -z) + (1 - t) * -np.logaddexp(0, z))
    data = per.mean() if reduction == "mean" else per.sum()
    return data + wd / 2 * sum(float(np.sum(p**2)) for p in decayed_params)


# ----------------------------------------------------------------------------- conventions


@pytest.mark.parametrize("loss", ["squared", "logistic"])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("decayed", ["weights", "all"])
def test_weight_decay_conversion_matches_the_framework_objective(loss, reduction, decayed):
    X, y, W1, b1, W2, b2 = problem(logistic=loss == "logistic")
    wd = 0.037
    decayed_params = [W1, W2] if decayed == "weights" else [W1, b1, W2, b2]
    F = framework_objective(X, y, (W1, b1, W2, b2), decayed_params, loss, reduction, wd)
    mode = "free" if decayed == "weights" else "penalized"
    conv = conventions.from_weight_decay(wd, reduction, loss, mode, mode, len(y))
    net = Network(U=W1.T.copy(), alpha=W2[0].copy(), b=b1, c=float(b2[0]))
    L = objective(net, Dataset(X, y), conv.model)
    assert L == pytest.approx(conv.scale * F, rel=1e-12)
    # the closed forms of docs/conventions.md
    k = 2 if loss == "squared" else 1
    assert conv.model.beta == pytest.approx(wd * (len(y) if reduction == "mean" else 1) / k, rel=1e-15)


@settings(max_examples=40, deadline=None)
@given(lam=st.floats(1e-4, 10), n=st.integers(1, 200), reduction=st.sampled_from(["mean", "sum"]))
def test_l2_factor_is_weight_decay_twice(lam, n, reduction):
    a = conventions.from_weight_decay(lam, reduction, "squared", "free", "free", n, kind="l2")
    b = conventions.from_weight_decay(2 * lam, reduction, "squared", "free", "free", n)
    assert a.model.beta == pytest.approx(b.model.beta, rel=1e-14) and a.scale == b.scale
    # Keras mse + l2(lam): beta = n lam (mean) or lam (sum)
    assert a.model.beta == pytest.approx(lam * (n if reduction == "mean" else 1), rel=1e-14)


# ----------------------------------------------------------------------------- scikit-learn


def _fit(kind, X, y, **kw):
    pytest.importorskip("sklearn")
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    cls = MLPRegressor if kind == "reg" else MLPClassifier
    params = {"hidden_layer_sizes": (6,), "alpha": 0.4, "solver": "lbfgs", "max_iter": 300, "random_state": 1}
    params.update(kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return cls(**params).fit(X, y)


def test_sklearn_regressor_round_trip(tmp_path):
    X, y, *_ = problem(n=40)
    est = _fit("reg", X, y)
    _dump(est, tmp_path / "reg.pkl")
    np.savez(tmp_path / "d.npz", X=X, y=y)
    res = run("import", tmp_path / "reg.pkl", "--data", tmp_path / "d.npz", "-o", tmp_path / "net.h5", "--json")
    assert res.returncode == 0, res.stderr
    d = json.loads(res.stdout)
    ck = load_checkpoint(tmp_path / "net.h5")
    assert (ck.model.beta, ck.model.loss, ck.model.hidden_bias, ck.model.output_bias) == (0.4, "squared", "free", "free")
    assert rel(predict(ck.network, X), est.predict(X)) <= 1e-10
    # scikit-learn's own training objective at the fitted weights: L = n * loss_ (lbfgs: loss_ = f(x*))
    L = objective(ck.network, ck.data, ck.model)
    assert L == pytest.approx(len(y) * est.loss_, rel=1e-10)
    assert d["objective"] == pytest.approx(L, rel=1e-15) and d["framework_objective"] == pytest.approx(est.loss_, rel=1e-10)
    with h5py.File(tmp_path / "net.h5") as f:
        assert f["model"].attrs["import_format"] == "sklearn"
        assert "L = n * loss_" in f["model"].attrs["conversion"]


def test_sklearn_classifier_round_trip_maps_the_classes(tmp_path):
    pytest.importorskip("joblib")
    import joblib

    X, y, *_ = problem(n=40, logistic=True)
    labels = np.where(y > 0, 7.0, 3.0)  # classes 3 -> -1, 7 -> +1
    est = _fit("clf", X, labels, alpha=0.3)
    joblib.dump(est, tmp_path / "clf.joblib")
    np.savez(tmp_path / "d.npz", X=X, y=labels)
    res = run("import", tmp_path / "clf.joblib", "--data", tmp_path / "d.npz", "-o", tmp_path / "net.h5")
    assert res.returncode == 0, res.stderr
    ck = load_checkpoint(tmp_path / "net.h5")
    assert ck.model.loss == "logistic"
    np.testing.assert_array_equal(ck.data.y, np.where(labels == 7.0, 1.0, -1.0))
    z = predict(ck.network, X)
    p = est.predict_proba(X)[:, 1]
    assert np.max(np.abs(1 / (1 + np.exp(-z)) - p)) <= 1e-12
    # its decision: positive logit <=> class 7
    np.testing.assert_array_equal(np.where(z > 0, 7.0, 3.0), est.predict(X))
    assert objective(ck.network, ck.data, ck.model) == pytest.approx(len(y) * est.loss_, rel=1e-10)


def test_sklearn_refusals(tmp_path):
    X, y, *_ = problem(n=30)
    np.savez(tmp_path / "d.npz", X=X, y=y)
    out = tmp_path / "o.h5"
    cases = {
        "tanh.pkl": (_fit("reg", X, y, activation="tanh"), "activation"),
        "deep.pkl": (_fit("reg", X, y, hidden_layer_sizes=(4, 4)), "hidden layers"),
        "multi.pkl": (_fit("clf", X, np.arange(30) % 3), "classes"),
    }
    for name, (est, word) in cases.items():
        _dump(est, tmp_path / name)
        assert_bad(run("import", tmp_path / name, "--data", tmp_path / "d.npz", "-o", out), name, word, out=out)
    _dump({"not": "a model"}, tmp_path / "dict.pkl")
    assert_bad(run("import", tmp_path / "dict.pkl", "--data", tmp_path / "d.npz", "-o", out), "dict", out=out)
    (tmp_path / "junk.pkl").write_bytes(b"not a pickle at all")
    assert_bad(run("import", tmp_path / "junk.pkl", "--data", tmp_path / "d.npz", "-o", out), "unpickle", out=out)
    est = _fit("reg", X, y)
    _dump(est, tmp_path / "ok.pkl")
    # the estimator states its objective: --beta would contradict or duplicate it
    assert_bad(run("import", tmp_path / "ok.pkl", "--data", tmp_path / "d.npz", "-o", out, "--beta", "1"),
               "states its objective", out=out)
    # data of the wrong width
    np.savez(tmp_path / "wide.npz", X=np.hstack([X, X]), y=y)
    assert_bad(run("import", tmp_path / "ok.pkl", "--data", tmp_path / "wide.npz", "-o", out), "columns", out=out)


# ----------------------------------------------------------------------------- safetensors


def test_safetensors_round_trip_with_weight_decay(tmp_path):
    from safetensors.numpy import save_file

    X, y, W1, b1, W2, b2 = problem(n=30, m=4)
    save_file({"0.weight": W1, "0.bias": b1, "2.weight": W2, "2.bias": b2}, str(tmp_path / "m.safetensors"))
    np.savez(tmp_path / "d.npz", X=X, y=y)
    wd = 0.01
    res = run("import", tmp_path / "m.safetensors", "--data", tmp_path / "d.npz", "-o", tmp_path / "n.h5",
              "--weight-decay", wd, "--reduction", "mean", "--decayed", "weights", "--json")
    assert res.returncode == 0, res.stderr
    ck = load_checkpoint(tmp_path / "n.h5")
    assert ck.model.beta == pytest.approx(len(y) * wd / 2, rel=1e-15)
    assert (ck.model.hidden_bias, ck.model.output_bias) == ("free", "free")
    assert rel(predict(ck.network, X), torch_forward(X, W1, b1, W2, b2)) <= 1e-10
    F = framework_objective(X, y, (W1, b1, W2, b2), [W1, W2], "squared", "mean", wd)
    assert objective(ck.network, ck.data, ck.model) == pytest.approx(len(y) / 2 * F, rel=1e-12)
    assert json.loads(res.stdout)["framework_objective"] == pytest.approx(F, rel=1e-12)


def test_safetensors_logistic_without_biases_and_labels_01(tmp_path):
    from safetensors.numpy import save_file

    X, y, W1, _, W2, _ = problem(n=20, logistic=True)
    t = (y > 0).astype(float)
    save_file({"fc1.weight": W1, "fc2.weight": W2}, str(tmp_path / "m.safetensors"))
    np.savez(tmp_path / "d.npz", X=X, y=t)
    res = run("import", tmp_path / "m.safetensors", "--data", tmp_path / "d.npz", "-o", tmp_path / "n.h5",
              "--loss", "logistic", "--weight-decay", "0.1", "--reduction", "sum")
    assert res.returncode == 0, res.stderr
    ck = load_checkpoint(tmp_path / "n.h5")
    assert (ck.model.loss, ck.model.beta, ck.model.hidden_bias, ck.model.output_bias) == ("logistic", 0.1, "none", "none")
    np.testing.assert_array_equal(ck.data.y, 2 * t - 1)
    F = framework_objective(X, y, (W1, None, W2, None), [W1, W2], "logistic", "sum", 0.1)
    assert objective(ck.network, ck.data, ck.model) == pytest.approx(F, rel=1e-12)


def test_import_needs_the_objective_and_refuses_adamw(tmp_path):
    from safetensors.numpy import save_file

    X, y, W1, b1, W2, b2 = problem(n=10)
    save_file({"0.weight": W1, "0.bias": b1, "2.weight": W2, "2.bias": b2}, str(tmp_path / "m.safetensors"))
    np.savez(tmp_path / "d.npz", X=X, y=y)
    base = ["import", tmp_path / "m.safetensors", "--data", tmp_path / "d.npz", "-o", tmp_path / "o.h5"]
    out = tmp_path / "o.h5"
    assert_bad(run(*base), "--beta", out=out)
    assert_bad(run(*base, "--beta", "1"), "--decayed", out=out)
    assert_bad(run(*base, "--weight-decay", "0.1", "--decayed", "weights"), "--reduction", out=out)
    assert_bad(run(*base, "--beta", "1", "--weight-decay", "0.1", "--decayed", "all"), "exactly one", out=out)
    assert_bad(run(*base, "--weight-decay", "0.1", "--reduction", "mean", "--decayed", "all", "--optimizer", "adamw"),
               "AdamW", out=out)
    assert_bad(run(*base, "--beta", "-1", "--decayed", "all"), "beta", out=out)
    # labels that are not two classes under the logistic loss
    assert_bad(run(*base, "--beta", "1", "--decayed", "all", "--loss", "logistic"), "logistic", out=out)
    # --beta with --decayed all: penalized biases
    res = run(*base, "--beta", "0.5", "--decayed", "all")
    assert res.returncode == 0, res.stderr
    ck = load_checkpoint(out)
    assert (ck.model.hidden_bias, ck.model.output_bias) == ("penalized", "penalized")


def test_unexpected_tensors_and_shapes_are_refused(tmp_path):
    from safetensors.numpy import save_file

    X, y, W1, b1, W2, _b2 = problem(n=10)
    np.savez(tmp_path / "d.npz", X=X, y=y)
    out = tmp_path / "o.h5"
    cases = {
        "three.safetensors": ({"0.weight": W1, "2.weight": W2, "4.weight": W2}, "two linear layers"),
        "bn.safetensors": ({"0.weight": W1, "2.weight": W2, "1.running_mean": b1}, "unexpected"),
        "chain.safetensors": ({"0.weight": W1, "2.weight": np.ones((2, 5))}, "chain"),
    }
    for name, (arrays, word) in cases.items():
        save_file(arrays, str(tmp_path / name))
        assert_bad(run("import", tmp_path / name, "--data", tmp_path / "d.npz", "-o", out, "--beta", "1"),
                   name, word, out=out)
    (tmp_path / "junk.safetensors").write_bytes(b"\x00" * 50)
    assert_bad(run("import", tmp_path / "junk.safetensors", "--data", tmp_path / "d.npz", "-o", out, "--beta", "1"),
               "safetensors", out=out)


# ----------------------------------------------------------------------------- Keras


def write_keras_weights(f, K1, c1, K2, c2):
    """The HDF5 layout Keras 3 writes (saving_lib.H5IOStore): /layers/<snake_name>/vars/<i>."""
    f.create_group("vars")
    f.create_group("layers/input_layer/vars")
    for name, K, c in (("dense", K1, c1), ("dense_1", K2, c2)):
        g = f.create_group(f"layers/{name}/vars")
        g["0"] = K
        if c is not None:
            g["1"] = c
    f.create_group("optimizer/vars")


def test_keras_weights_h5_round_trip_with_l2(tmp_path):
    X, y, W1, b1, W2, b2 = problem(n=25, m=4)
    K1, K2 = W1.T.copy(), W2.T.copy()  # Keras kernels are (in, out)
    with h5py.File(tmp_path / "m.weights.h5", "w") as f:
        write_keras_weights(f, K1, b1, K2, b2)
    np.savez(tmp_path / "d.npz", X=X, y=y)
    lam = 0.003
    res = run("import", tmp_path / "m.weights.h5", "--data", tmp_path / "d.npz", "-o", tmp_path / "n.h5",
              "--l2", lam, "--reduction", "mean", "--decayed", "weights")
    assert res.returncode == 0, res.stderr
    assert "architecture" in res.stdout  # the .weights.h5 assumption is stated
    ck = load_checkpoint(tmp_path / "n.h5")
    keras_pred = (np.maximum(X @ K1 + b1, 0) @ K2 + b2).ravel()
    assert rel(predict(ck.network, X), keras_pred) <= 1e-10
    # Keras: F = mean((yhat - y)^2) + lam (||K1||^2 + ||K2||^2); ours L = n/2 F, beta = n lam
    F = np.mean((keras_pred - y) ** 2) + lam * (np.sum(K1**2) + np.sum(K2**2))
    assert ck.model.beta == pytest.approx(len(y) * lam, rel=1e-14)
    assert objective(ck.network, ck.data, ck.model) == pytest.approx(len(y) / 2 * F, rel=1e-12)


def _keras_config(act1="relu", act2="sigmoid", units2=1, extra=()):
    layers = [{"class_name": "InputLayer", "config": {"batch_shape": [None, 3]}},
              {"class_name": "Dense", "config": {"name": "dense", "units": 5, "activation": act1, "use_bias": True}},
              *extra,
              {"class_name": "Dense", "config": {"name": "dense_1", "units": units2, "activation": act2, "use_bias": True}}]
    return {"class_name": "Sequential", "config": {"name": "sequential", "layers": layers}}


def _write_keras_zip(path, cfg, K1, c1, K2, c2):
    import io

    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        write_keras_weights(f, K1, c1, K2, c2)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("metadata.json", json.dumps({"keras_version": "3.5.0"}))
        zf.writestr("config.json", json.dumps(cfg))
        zf.writestr("model.weights.h5", buf.getvalue())


def test_keras_file_with_sigmoid_output_is_logistic(tmp_path):
    X, y, W1, b1, W2, b2 = problem(n=20, m=5, logistic=True)
    _write_keras_zip(tmp_path / "m.keras", _keras_config(), W1.T, b1, W2.T, b2)
    np.savez(tmp_path / "d.npz", X=X, y=(y > 0).astype(float))
    res = run("import", tmp_path / "m.keras", "--data", tmp_path / "d.npz", "-o", tmp_path / "n.h5",
              "--beta", "0.2", "--decayed", "weights")
    assert res.returncode == 0, res.stderr
    ck = load_checkpoint(tmp_path / "n.h5")
    assert ck.model.loss == "logistic"
    assert rel(predict(ck.network, X), torch_forward(X, W1, b1, W2, b2)) <= 1e-10
    np.testing.assert_array_equal(ck.data.y, y)
    out = tmp_path / "o.h5"
    for cfg, word in ((_keras_config(act1="tanh"), "relu"), (_keras_config(units2=2), "units"),
                      (_keras_config(extra=[{"class_name": "BatchNormalization", "config": {}}]), "BatchNormalization")):
        _write_keras_zip(tmp_path / "bad.keras", cfg, W1.T, b1, W2.T, b2)
        assert_bad(run("import", tmp_path / "bad.keras", "--data", tmp_path / "d.npz", "-o", out, "--beta", "1",
                       "--decayed", "all"), word, out=out)


# ----------------------------------------------------------------------------- npz, CSV, export


def test_npz_export_and_reimport_keep_the_objective(tmp_path):
    X, y, W1, b1, W2, _b2 = problem(n=15, m=3)
    np.savez(tmp_path / "m.npz", U=W1.T, alpha=W2[0], b=b1)
    np.savez(tmp_path / "d.npz", X=X, y=y)
    res = run("import", tmp_path / "m.npz", "--data", tmp_path / "d.npz", "-o", tmp_path / "n.h5", "--beta", "0.7",
              "--decayed", "all")
    assert res.returncode == 0, res.stderr
    ck = load_checkpoint(tmp_path / "n.h5")
    assert (ck.model.hidden_bias, ck.model.output_bias) == ("penalized", "none")
    for fmt, ext in (("npz", "npz"), ("safetensors", "safetensors")):
        res = run("export", tmp_path / "n.h5", "-o", tmp_path / f"back.{ext}")
        assert res.returncode == 0, res.stderr
        # the exported file states its objective: imported again without options
        res = run("import", tmp_path / f"back.{ext}", "--data", tmp_path / "d.npz", "-o", tmp_path / f"again_{fmt}.h5")
        assert res.returncode == 0, res.stderr
        ck2 = load_checkpoint(tmp_path / f"again_{fmt}.h5")
        assert ck2.model == ck.model
        assert rel(predict(ck2.network, X), predict(ck.network, X)) <= 1e-14
        assert objective(ck2.network, ck2.data, ck2.model) == objective(ck.network, ck.data, ck.model)
    from safetensors.numpy import load_file

    sd = load_file(str(tmp_path / "back.safetensors"))
    assert set(sd) == {"0.weight", "0.bias", "2.weight"}
    assert rel(torch_forward(X, sd["0.weight"], sd["0.bias"], sd["2.weight"], None), predict(ck.network, X)) <= 1e-14


def test_export_to_sklearn_predicts_the_same(tmp_path):
    pytest.importorskip("sklearn")
    X, y, *_ = problem(n=40, logistic=True)
    labels = np.where(y > 0, 1.0, 0.0)
    est = _fit("clf", X, labels)
    _dump(est, tmp_path / "c.pkl")
    np.savez(tmp_path / "d.npz", X=X, y=labels)
    assert run("import", tmp_path / "c.pkl", "--data", tmp_path / "d.npz", "-o", tmp_path / "n.h5").returncode == 0
    res = run("export", tmp_path / "n.h5", "-o", tmp_path / "back.pkl", "--json")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["reread_max_relative_difference"] <= 1e-12
    back = _load(tmp_path / "back.pkl")
    np.testing.assert_array_equal(back.classes_, est.classes_)
    assert np.max(np.abs(back.predict_proba(X) - est.predict_proba(X))) <= 1e-12
    assert back.alpha == est.alpha
    # a regressor: the solved network of cvxrelu, back in scikit-learn
    Xr, yr, *_ = problem(n=8, d=2)
    with h5py.File(tmp_path / "data.h5", "w") as f:
        f["X"], f["y"] = Xr, yr
    res = run("solve", tmp_path / "data.h5", "--beta", "0.1", "--hidden-bias", "free", "-o", tmp_path / "s.h5")
    assert res.returncode == 0, res.stderr
    assert run("export", tmp_path / "s.h5", "-o", tmp_path / "s.pkl").returncode == 0
    ck = load_checkpoint(tmp_path / "s.h5")
    reg = _load(tmp_path / "s.pkl")
    assert rel(reg.predict(Xr), predict(ck.network, Xr)) <= 1e-10
    assert reg.alpha == 0.1


def test_solved_network_leaves_and_comes_back_certified(tmp_path):
    """solve -> export safetensors -> import (objective read from the metadata) -> verify: optimal."""
    X, y, *_ = problem(n=8, d=2)
    with h5py.File(tmp_path / "data.h5", "w") as f:
        f["X"], f["y"] = X, y
    assert run("solve", tmp_path / "data.h5", "--beta", "0.2", "-o", tmp_path / "s.h5").returncode == 0
    assert run("export", tmp_path / "s.h5", "-o", tmp_path / "s.safetensors").returncode == 0
    res = run("import", tmp_path / "s.safetensors", "--data", tmp_path / "data.h5", "-o", tmp_path / "back.h5")
    assert res.returncode == 0, res.stderr
    res = run("verify", tmp_path / "back.h5", "--json")
    assert res.returncode == 0, res.stdout + res.stderr
    assert json.loads(res.stdout)["status"] == "optimal"


def test_csv_data_and_its_errors(tmp_path):
    X, y, W1, _b1, W2, _b2 = problem(n=6, d=2, m=3)
    np.savez(tmp_path / "m.npz", U=W1.T, alpha=W2[0])
    rows = ["x1,target,x2"] + [f"{float(a)!r},{float(t)!r},{float(b)!r}" for (a, b), t in zip(X, y)]
    (tmp_path / "d.csv").write_text("\n".join(rows) + "\n")
    out = tmp_path / "n.h5"
    res = run("import", tmp_path / "m.npz", "--data", tmp_path / "d.csv", "--target", "target", "-o", out, "--beta", "1")
    assert res.returncode == 0, res.stderr
    ck = load_checkpoint(out)
    np.testing.assert_array_equal(ck.data.X, X)
    np.testing.assert_array_equal(ck.data.y, y)
    out.unlink()
    assert_bad(run("import", tmp_path / "m.npz", "--data", tmp_path / "d.csv", "-o", out, "--beta", "1"),
               "--target", out=out)
    assert_bad(run("import", tmp_path / "m.npz", "--data", tmp_path / "d.csv", "--target", "y", "-o", out,
                   "--beta", "1"), "no column", out=out)
    (tmp_path / "bad.csv").write_text("x1,target,x2\n1,2,3\n1,oops,3\n")
    assert_bad(run("import", tmp_path / "m.npz", "--data", tmp_path / "bad.csv", "--target", "target", "-o", out,
                   "--beta", "1"), "line 3", "oops", out=out)


def test_outputs_are_checked_before_any_work(tmp_path):
    X, y, W1, _b1, W2, _b2 = problem(n=6, d=2, m=3)
    np.savez(tmp_path / "m.npz", U=W1.T, alpha=W2[0])
    np.savez(tmp_path / "d.npz", X=X, y=y)
    base = ["import", tmp_path / "m.npz", "--data", tmp_path / "d.npz", "--beta", "1"]
    assert_bad(run(*base, "-o", tmp_path), "directory")
    assert_bad(run(*base, "-o", tmp_path / "nowhere" / "n.h5"), "does not exist")
    before = (tmp_path / "d.npz").read_bytes()
    assert_bad(run(*base, "-o", tmp_path / "d.npz"), "input")
    assert (tmp_path / "d.npz").read_bytes() == before
    assert_bad(run(*base[:-2], "-o", tmp_path / "n.h5"), "--beta", out=tmp_path / "n.h5")
    assert_bad(run("import", tmp_path / "missing.pt", "--data", tmp_path / "d.npz", "-o", tmp_path / "n.h5"),
               "missing.pt", out=tmp_path / "n.h5")
    if _has("sklearn"):  # a file read in the wrong format
        assert_bad(run("import", tmp_path / "m.npz", "--data", tmp_path / "d.npz", "-o", tmp_path / "n.h5",
                       "--beta", "1", "--format", "sklearn"), "scikit-learn", out=tmp_path / "n.h5")
    assert run(*base, "-o", tmp_path / "n.h5").returncode == 0
    assert_bad(run("export", tmp_path / "n.h5", "-o", tmp_path / "n.h5"), "input")
    assert_bad(run("export", tmp_path / "n.h5", "-o", tmp_path / "n.txt"), "--format", out=tmp_path / "n.txt")
    assert run("export", tmp_path / "n.h5", "-o", tmp_path / "n.npz").returncode == 0
    assert (tmp_path / "n.npz").stat().st_mode & 0o777 == 0o666 & ~_umask()


def _has(mod):
    try:
        __import__(mod)
        return True
    except ImportError:
        return False


def _umask():
    m = os.umask(0)
    os.umask(m)
    return m


def test_python_m_cvxrelu_and_help():
    res = run("--help")
    assert res.returncode == 0 and "import" in res.stdout and "export" in res.stdout
    res = run("import", "--help")
    assert res.returncode == 0
    text = " ".join(res.stdout.split())
    assert "arbitrary code" in text and "Exit codes" in text
    for opt in ("--beta", "--weight-decay", "--l2", "--reduction", "--decayed", "--loss", "--optimizer", "--target",
                "--format"):
        assert opt in text


# ----------------------------------------------------------------------------- PyTorch (when installed)


def test_torch_state_dict_and_full_model_round_trip(tmp_path):
    try:
        import torch
    except Exception:  # noqa: BLE001 - absent, or a build whose libraries are missing
        pytest.skip("torch is not installed (make test-interop installs it)")
    X, y, *_ = problem(n=30, m=4)
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 1)).double()
    wd = 1e-3
    opt = torch.optim.SGD([{"params": [net[0].weight, net[2].weight], "weight_decay": wd},
                           {"params": [net[0].bias, net[2].bias], "weight_decay": 0.0}], lr=0.05)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    for _ in range(200):
        opt.zero_grad()
        torch.nn.functional.mse_loss(net(Xt).ravel(), yt, reduction="mean").backward()
        opt.step()
    torch.save(net.state_dict(), tmp_path / "sd.pt")
    torch.save(net, tmp_path / "full.pt")
    np.savez(tmp_path / "d.npz", X=X, y=y)
    with torch.no_grad():
        ref = net(Xt).numpy().ravel()
        F = float(torch.nn.functional.mse_loss(net(Xt).ravel(), yt) + wd / 2 * (net[0].weight.pow(2).sum()
                                                                                 + net[2].weight.pow(2).sum()))
    for name in ("sd.pt", "full.pt"):
        out = tmp_path / f"{name}.h5"
        res = run("import", tmp_path / name, "--data", tmp_path / "d.npz", "-o", out, "--weight-decay", wd,
                  "--reduction", "mean", "--decayed", "weights")
        assert res.returncode == 0, res.stderr
        ck = load_checkpoint(out)
        assert rel(predict(ck.network, X), ref) <= 1e-10
        assert objective(ck.network, ck.data, ck.model) == pytest.approx(len(y) / 2 * F, rel=1e-10)
    res = run("export", tmp_path / "sd.pt.h5", "-o", tmp_path / "back.pt")
    assert res.returncode == 0, res.stderr
    net2 = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 1)).double()
    net2.load_state_dict(torch.load(tmp_path / "back.pt", weights_only=True))
    with torch.no_grad():
        assert rel(net2(Xt).numpy().ravel(), ref) <= 1e-12


# ----------------------------------------------------------------------------- real data


@pytest.mark.slow
@pytest.mark.parametrize("which", ["diabetes", "breast_cancer"])
def test_real_data_sklearn_nets_are_imported_and_verified(tmp_path, which):
    """Slices of scikit-learn's bundled data sets (docs/conventions.md explains the verdicts).

    Whatever the verdict, it must be consistent: lower bound <= objective; a suboptimal
    verdict comes with a witness that, exported back to scikit-learn, predicts like the
    checkpoint and has a strictly smaller scikit-learn objective.
    """
    pytest.importorskip("sklearn")
    from sklearn import datasets

    if which == "diabetes":
        X, y = datasets.load_diabetes(return_X_y=True)
        X, y = X[:80, [2, 8]], (y[:80] - y[:80].mean()) / y[:80].std()
    else:
        X, y = datasets.load_breast_cancer(return_X_y=True)
        X, y = X[:80, [0, 1]], y[:80].astype(float)
    X = (X - X.mean(0)) / X.std(0)
    est = _fit("reg" if which == "diabetes" else "clf", X, y, hidden_layer_sizes=(8,), alpha=1.0, max_iter=5000,
               tol=1e-14, random_state=0)
    _dump(est, tmp_path / "m.pkl")
    np.savez(tmp_path / "d.npz", X=X, y=y)
    assert run("import", tmp_path / "m.pkl", "--data", tmp_path / "d.npz", "-o", tmp_path / "n.h5").returncode == 0
    res = run("verify", tmp_path / "n.h5", "--json", "--witness", tmp_path / "w.h5")
    assert res.returncode in (0, 1), res.stderr
    d = json.loads(res.stdout)
    assert d["objective"] == pytest.approx(len(y) * est.loss_, rel=1e-10)
    assert d["lower_bound"] <= d["objective"]
    if d["status"] != "suboptimal":
        return
    assert run("export", tmp_path / "w.h5", "-o", tmp_path / "w.pkl").returncode == 0
    w = _load(tmp_path / "w.pkl")
    ck = load_checkpoint(tmp_path / "w.h5")
    z = predict(ck.network, X)
    if which == "diabetes":
        assert rel(w.predict(X), z) <= 1e-10
        data_loss = 0.5 * np.mean((w.predict(X) - y) ** 2)
    else:
        p = w.predict_proba(X)[:, 1]
        assert np.max(np.abs(p - 1 / (1 + np.exp(-z)))) <= 1e-12
        data_loss = -np.mean(np.where(y == 1, np.log(p), np.log1p(-p)))
    # scikit-learn's objective at the witness (its formula, module docstring of conventions.py)
    sk_obj = data_loss + w.alpha / (2 * len(y)) * sum(float(np.sum(c**2)) for c in w.coefs_)
    assert sk_obj < est.loss_


def _torch_or_skip():
    try:
        import torch
    except Exception:  # noqa: BLE001
        pytest.skip("torch is not installed (make test-interop installs it)")
    return torch


def test_torch_logistic_adamw_and_wrong_architectures(tmp_path):
    torch = _torch_or_skip()
    X, y, *_ = problem(n=30, m=4, logistic=True)
    t = (y > 0).astype(float)
    np.savez(tmp_path / "d.npz", X=X, y=t)
    torch.manual_seed(1)
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 1)).double()
    wd = 0.01
    opt = torch.optim.Adam(net.parameters(), lr=0.02, weight_decay=wd)  # one group: everything decayed
    Xt, tt = torch.from_numpy(X), torch.from_numpy(t)
    for _ in range(100):
        opt.zero_grad()
        torch.nn.functional.binary_cross_entropy_with_logits(net(Xt).ravel(), tt).backward()
        opt.step()
    with torch.no_grad():
        F = float(torch.nn.functional.binary_cross_entropy_with_logits(net(Xt).ravel(), tt)
                  + wd / 2 * sum(p.pow(2).sum() for p in net.parameters()))
        ref = net(Xt).numpy().ravel()
    torch.save({"model_state_dict": net.state_dict(), "optimizer_state_dict": opt.state_dict(), "epoch": 100},
               tmp_path / "ckpt.pt")
    out = tmp_path / "n.h5"
    res = run("import", tmp_path / "ckpt.pt", "--data", tmp_path / "d.npz", "-o", out, "--loss", "logistic",
              "--weight-decay", wd, "--reduction", "mean", "--decayed", "all")
    assert res.returncode == 0, res.stderr
    ck = load_checkpoint(out)
    assert (ck.model.beta, ck.model.hidden_bias, ck.model.output_bias) == (pytest.approx(len(y) * wd), "penalized", "penalized")
    assert rel(predict(ck.network, X), ref) <= 1e-10
    np.testing.assert_array_equal(ck.data.y, y)
    assert objective(ck.network, ck.data, ck.model) == pytest.approx(len(y) * F, rel=1e-10)
    out.unlink()
    # the same training checkpoint with AdamW: its decoupled decay is recognised and refused
    adamw = torch.optim.AdamW(net.parameters(), lr=0.02, weight_decay=wd)
    torch.save({"model_state_dict": net.state_dict(), "optimizer_state_dict": adamw.state_dict()}, tmp_path / "w.pt")
    assert_bad(run("import", tmp_path / "w.pt", "--data", tmp_path / "d.npz", "-o", out, "--loss", "logistic",
                   "--weight-decay", wd, "--reduction", "mean", "--decayed", "all"), "AdamW", out=out)
    # full models that are not Linear -> ReLU -> Linear
    tanh = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1))
    torch.save(tanh, tmp_path / "tanh.pt")
    assert_bad(run("import", tmp_path / "tanh.pt", "--data", tmp_path / "d.npz", "-o", out, "--beta", "1",
                   "--decayed", "all"), "Tanh", out=out)


class ReluAfterOutput(__import__("torch").nn.Module if _has("torch") else object):
    """Linear, ReLU, Linear modules, but applied in another order: its predictions give it away."""

    def __init__(self):
        import torch

        super().__init__()
        self.fc1, self.act, self.fc2 = torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 1)

    def forward(self, x):
        return self.act(self.fc2(self.fc1(x)))


def test_torch_full_model_is_checked_against_its_own_predictions(tmp_path):
    torch = _torch_or_skip()
    X, y, *_ = problem(n=20, m=4)
    np.savez(tmp_path / "d.npz", X=X, y=y)
    torch.manual_seed(0)
    torch.save(ReluAfterOutput(), tmp_path / "odd.pt")
    out = tmp_path / "n.h5"
    res = run("import", tmp_path / "odd.pt", "--data", tmp_path / "d.npz", "-o", out, "--beta", "1",
              "--decayed", "weights", cwd=Path(__file__).parent)
    assert_bad(res, "does not reproduce", out=out)


@pytest.mark.slow
def test_real_data_torch_net_is_imported_and_verified(tmp_path):
    """A PyTorch BCE net with Adam's coupled decay on a breast-cancer slice: imported, verified."""
    torch = _torch_or_skip()
    pytest.importorskip("sklearn")
    from sklearn import datasets

    X, y = datasets.load_breast_cancer(return_X_y=True)
    X, t = X[:80, [0, 1]], y[:80].astype(float)
    X = (X - X.mean(0)) / X.std(0)
    np.savez(tmp_path / "d.npz", X=X, y=t)
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1)).double()
    wd = 0.02
    opt = torch.optim.Adam([{"params": [net[0].weight, net[2].weight], "weight_decay": wd},
                            {"params": [net[0].bias, net[2].bias], "weight_decay": 0.0}], lr=0.01)
    Xt, tt = torch.from_numpy(X), torch.from_numpy(t)
    for _ in range(1500):
        opt.zero_grad()
        torch.nn.functional.binary_cross_entropy_with_logits(net(Xt).ravel(), tt).backward()
        opt.step()
    with torch.no_grad():
        F = float(torch.nn.functional.binary_cross_entropy_with_logits(net(Xt).ravel(), tt)
                  + wd / 2 * (net[0].weight.pow(2).sum() + net[2].weight.pow(2).sum()))
    torch.save(net.state_dict(), tmp_path / "m.pt")
    res = run("import", tmp_path / "m.pt", "--data", tmp_path / "d.npz", "-o", tmp_path / "n.h5", "--loss", "logistic",
              "--weight-decay", wd, "--reduction", "mean", "--decayed", "weights", "--optimizer", "adam")
    assert res.returncode == 0, res.stderr
    res = run("verify", tmp_path / "n.h5", "--json", "--tol", "1e-3")
    assert res.returncode in (0, 1), res.stderr
    d = json.loads(res.stdout)
    assert d["objective"] == pytest.approx(len(t) * F, rel=1e-10)  # beta = n wd, L = n F
    assert d["lower_bound"] <= d["objective"]


def test_docs_describe_every_interop_option():
    conv = (ROOT / "docs" / "conventions.md").read_text()
    readme = (ROOT / "README.md").read_text()
    assert "cvxrelu import" in readme and "cvxrelu export" in readme and "docs/conventions.md" in readme
    from cvxrelu.interop.commands import export_command, import_command

    for cmd in (import_command, export_command):
        for p in cmd.params:
            for opt in p.opts:
                if opt.startswith("--") and opt not in ("--json", "--output", "--format"):
                    assert opt in readme, opt
                    assert p.help, f"{opt} has no help text"
    for opt in ("--weight-decay", "--l2", "--reduction", "--decayed", "--beta", "--loss logistic"):
        assert opt in conv, opt


@settings(max_examples=30, deadline=None)
@given(beta=st.floats(1e-3, 1e3), n=st.integers(1, 10_000), loss=st.sampled_from(["squared", "logistic"]),
       hb=st.sampled_from(["none", "free", "penalized"]))
def test_export_note_inverts_the_import_conversion(beta, n, loss, hb):
    model = Model(beta=beta, loss=loss, hidden_bias=hb, output_bias="free")
    text = conventions.to_framework(model, n)
    k = conventions.LOSS_FACTOR[loss]
    for wd, red in ((k * beta, "sum"), (k * beta / n, "mean")):
        assert repr(wd) in text
        back = conventions.from_weight_decay(wd, red, loss, hb, "free", n)
        assert back.model.beta == pytest.approx(beta, rel=1e-13)


def test_keras_file_states_its_objective_through_l2_and_the_compiled_loss(tmp_path):
    X, y, W1, b1, W2, b2 = problem(n=25, m=5)
    K1, K2 = W1.T.copy(), W2.T.copy()
    lam = 0.004
    reg = {"module": "keras.regularizers", "class_name": "L2", "config": {"l2": lam}, "registered_name": None}

    def cfg(loss="mse", reg2=reg, bias_reg=None, act2="linear", wd=None):
        c = _keras_config(act2=act2)
        c["config"]["layers"][1]["config"]["kernel_regularizer"] = reg
        c["config"]["layers"][1]["config"]["bias_regularizer"] = bias_reg
        c["config"]["layers"][2]["config"]["kernel_regularizer"] = reg2
        c["compile_config"] = {"optimizer": {"class_name": "SGD", "config": {"learning_rate": 0.01, "weight_decay": wd}},
                               "loss": loss}
        return c

    np.savez(tmp_path / "d.npz", X=X, y=y)
    _write_keras_zip(tmp_path / "m.keras", cfg(bias_reg=reg), K1, b1, K2, b2)
    res = run("import", tmp_path / "m.keras", "--data", tmp_path / "d.npz", "-o", tmp_path / "n.h5")
    assert res.returncode == 0, res.stderr
    ck = load_checkpoint(tmp_path / "n.h5")
    assert ck.model.beta == pytest.approx(len(y) * lam, rel=1e-14)
    assert (ck.model.loss, ck.model.hidden_bias, ck.model.output_bias) == ("squared", "penalized", "free")
    pred = (np.maximum(X @ K1 + b1, 0) @ K2 + b2).ravel()
    F = np.mean((pred - y) ** 2) + lam * (np.sum(K1**2) + np.sum(K2**2) + np.sum(b1**2))  # Keras: loss + penalties
    assert objective(ck.network, ck.data, ck.model) == pytest.approx(len(y) / 2 * F, rel=1e-12)
    # a sum reduction, given as a loss object
    _write_keras_zip(tmp_path / "s.keras", cfg(loss={"class_name": "MeanSquaredError", "config": {"reduction": "sum"}}),
                     K1, b1, K2, b2)
    assert run("import", tmp_path / "s.keras", "--data", tmp_path / "d.npz", "-o", tmp_path / "s.h5").returncode == 0
    assert load_checkpoint(tmp_path / "s.h5").model.beta == pytest.approx(lam, rel=1e-14)
    out = tmp_path / "o.h5"
    bad = {
        "other factor": cfg(reg2={"class_name": "L2", "config": {"l2": 2 * lam}}),
        "l1": cfg(reg2={"class_name": "L1L2", "config": {"l1": 0.1, "l2": lam}}),
        "from_logits": cfg(loss={"class_name": "BinaryCrossentropy", "config": {"from_logits": True}}, act2="sigmoid"),
        "decoupled": cfg(wd=0.01),
        "huber": cfg(loss="huber"),
    }
    for word, c in bad.items():
        _write_keras_zip(tmp_path / "b.keras", c, K1, b1, K2, b2)
        res = run("import", tmp_path / "b.keras", "--data", tmp_path / "d.npz", "-o", out)
        assert_bad(res, out=out)
        assert {"other factor": "one weight decay", "l1": "L1", "from_logits": "from_logits", "decoupled": "decoupled",
                "huber": "huber"}[word] in res.stderr
    # the file states its objective: options that would restate it are refused
    assert_bad(run("import", tmp_path / "m.keras", "--data", tmp_path / "d.npz", "-o", out, "--l2", lam,
                   "--reduction", "mean"), "states its objective", out=out)


def test_missing_optional_packages_are_bad_usage_not_crashes(tmp_path):
    """Without torch / safetensors / scikit-learn: exit 2 naming the file and the extra to install."""
    block = tmp_path / "block"
    for mod in ("torch", "safetensors", "sklearn", "joblib"):
        (block / mod).mkdir(parents=True)
        (block / mod / "__init__.py").write_text(f"raise ModuleNotFoundError('absent', name={mod!r})\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(block), os.environ.get("PYTHONPATH", "")]))
    X, y, W1, _, W2, _ = problem(n=6, d=2, m=3)
    np.savez(tmp_path / "m.npz", U=W1.T, alpha=W2[0])
    np.savez(tmp_path / "d.npz", X=X, y=y)
    assert run("import", tmp_path / "m.npz", "--data", tmp_path / "d.npz", "-o", tmp_path / "n.h5", "--beta", "1",
               env=env).returncode == 0
    for src, extra in (("m.safetensors", "safetensors"), ("m.pt", "torch"), ("m.pkl", "sklearn")):
        (tmp_path / src).write_bytes(b"whatever")
        assert_bad(run("import", tmp_path / src, "--data", tmp_path / "d.npz", "-o", tmp_path / "o.h5", "--beta", "1",
                       env=env), src, f"cvxrelu[{extra}]", out=tmp_path / "o.h5")
    for out, extra in (("o.safetensors", "safetensors"), ("o.pt", "torch"), ("o.pkl", "sklearn")):
        assert_bad(run("export", tmp_path / "n.h5", "-o", tmp_path / out, env=env), out, f"cvxrelu[{extra}]",
                   out=tmp_path / out)
