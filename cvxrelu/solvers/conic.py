"""The convex program (docs/method.md eq. (2.3)) in Clarabel's native conic form.

    min  loss( sum_i D_i Xt (w_i - v_i) + c 1 ) + beta sum_i (N(w_i) + N(v_i)) [+ beta/2 c^2]
    s.t. (2 D_i - I) Xt w_i >= 0,  (2 D_i - I) Xt v_i >= 0

Variables, in order: w (p dt), v (p dt), tw (p), tv (p), [c], z (n) [, l (n), a (n), b (n)].
z is the prediction (one equality block); tw, tv are the norm epigraphs (one second-order cone
per block); the squared loss is the quadratic 1/2 ||z - y||^2 ("z-form"). For the squared loss
with few blocks (p dt <= PFORM_RATIO * n) the "P-form" is used instead: the variable z is
replaced by u = w - v (p dt) and the loss by the dense quadratic 1/2 [u; c]^T M^T M [u; c] -
y^T M [u; c] with M = [D_1 Xt, ..., D_p Xt, 1]; the sparse LDL^T then works on a dense
(p dt) block instead of the fill that n prediction rows of ~n/2 entries each create (5.5x faster
at n = 1000, 50 patterns, d = 10: 2.7 s vs 14.9 s; slower beyond about 0.6 n, see PFORM_RATIO). The logistic loss uses two
exponential cones per sample: l_k >= log(1 + exp(-y_k z_k)) <=> a_k + b_k <= 1,
(-l_k, 1, a_k) and (-y_k z_k - l_k, 1, b_k) in K_exp = {(x, y, z): y exp(x/y) <= z}.
The matrices are assembled once from COO index arrays (no loop over samples or patterns).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..convex import ConvexSolution, block_predictions, convex_objective
from ..model import Model
from .clarabel import solve_conic

#: Use the P-form for the squared loss when p * dt <= PFORM_RATIO * n. Measured at n = 1000,
#: d = 10 (while choosing the form): P-form 2.7 s / 3.7 s vs z-form 15 s / 23 s for 50 / 60 patterns,
#: but 121 s / 140 s vs 16 s / 22 s for 75 / 100 (the fill of the sparse LDL^T changes abruptly).
PFORM_RATIO = 0.5




def solve_convex_program(
    Xt: np.ndarray, y: np.ndarray, patterns: np.ndarray, model: Model, *, settings: dict | None = None
) -> ConvexSolution:
    """Solve the program over the given patterns with Clarabel.

    Parameters
    ----------
    Xt : (n, dt) augmented data; y : (n,) labels; patterns : (p, n) bool (rows D_i).
    """
    Xt = np.asarray(Xt, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    S = np.asarray(patterns, dtype=bool)
    n, dt = Xt.shape
    p = S.shape[0]
    ob = model.effective_output_bias
    has_c = ob != "none"
    logistic = model.loss == "logistic"
    pform = not logistic and p * dt <= PFORM_RATIO * n
    # variable offsets (in the P-form, the n slots of z hold u = w - v instead: p dt slots)
    o_w, o_v = 0, p * dt
    o_tw, o_tv = 2 * p * dt, 2 * p * dt + p
    o_c = 2 * p * dt + 2 * p
    o_z = o_c + (1 if has_c else 0)
    o_l = o_z + (p * dt if pform else n)
    nvar = o_l + (3 * n if logistic else 0)
    o_a, o_b = o_l + n, o_l + 2 * n

    rows, cols, vals, b, cones = [], [], [], [], []
    r0 = 0

    def add(r, c, v):
        rows.append(np.asarray(r, dtype=np.int64).ravel())
        cols.append(np.asarray(c, dtype=np.int64).ravel())
        vals.append(np.asarray(v, dtype=np.float64).ravel())

    jj = np.arange(dt)
    if pform:
        # 1'. equality: u - w + v = 0
        m = p * dt
        add(r0 + np.arange(m), o_z + np.arange(m), np.ones(m))
        add(r0 + np.arange(m), o_w + np.arange(m), -np.ones(m))
        add(r0 + np.arange(m), o_v + np.arange(m), np.ones(m))
        b.append(np.zeros(m))
        cones.append(("zero", m))
        r0 += m
    else:
        # 1. equality: z - sum_i D_i Xt (w_i - v_i) - c 1 = 0
        ii, kk = np.nonzero(S)  # active (pattern, sample) pairs
        rr = np.repeat(kk, dt)
        cw = (ii[:, None] * dt + jj[None, :]).ravel()
        xv = Xt[kk].ravel()
        add(r0 + rr, o_w + cw, -xv)
        add(r0 + rr, o_v + cw, xv)
        if has_c:
            add(r0 + np.arange(n), np.full(n, o_c), -np.ones(n))
        add(r0 + np.arange(n), o_z + np.arange(n), np.ones(n))
        b.append(np.zeros(n))
        cones.append(("zero", n))
        r0 += n
    # 2. cone constraints: -(2 D_i - I) Xt w_i + s = 0, s >= 0 (and the same for v)
    sgn = (2.0 * S - 1.0)  # (p, n)
    ip = np.repeat(np.arange(p), n)
    kp = np.tile(np.arange(n), p)
    rows_c = (ip * n + kp)[:, None].repeat(dt, axis=1).ravel()
    cols_c = (ip[:, None] * dt + jj[None, :]).ravel()
    vals_c = (-(sgn.ravel()[:, None]) * Xt[kp]).ravel()
    for off in (o_w, o_v):
        add(r0 + rows_c, off + cols_c, vals_c)
        b.append(np.zeros(p * n))
        cones.append(("nonneg", p * n))
        r0 += p * n
    # 3. second-order cones (t_i, N-part of w_i)
    nd = model.group_norm.n_penalized(dt)
    for off, ot in ((o_w, o_tw), (o_v, o_tv)):
        for i in range(p):
            add([r0], [ot + i], [-1.0])
            add(r0 + 1 + np.arange(nd), off + i * dt + np.arange(nd), -np.ones(nd))
            b.append(np.zeros(nd + 1))
            cones.append(("soc", nd + 1))
            r0 += nd + 1
    # 4. logistic epigraph
    if logistic:
        for k in range(n):
            # (-l_k, 1, a_k) in K_exp
            add([r0, r0 + 2], [o_l + k, o_a + k], [1.0, -1.0])
            b.append(np.array([0.0, 1.0, 0.0]))
            cones.append(("exp", 3))
            r0 += 3
            # (-y_k z_k - l_k, 1, b_k) in K_exp
            add([r0, r0, r0 + 2], [o_z + k, o_l + k, o_b + k], [y[k], 1.0, -1.0])
            b.append(np.array([0.0, 1.0, 0.0]))
            cones.append(("exp", 3))
            r0 += 3
        # a_k + b_k <= 1
        add(r0 + np.arange(n), o_a + np.arange(n), np.ones(n))
        add(r0 + np.arange(n), o_b + np.arange(n), np.ones(n))
        b.append(np.ones(n))
        cones.append(("nonneg", n))
        r0 += n
    A = sp.csc_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(r0, nvar))
    bvec = np.concatenate(b)
    # merge consecutive cones of one kind (exp cones stay separate)
    merged: list[tuple[str, int]] = []
    for kind, dim in cones:
        if merged and kind == merged[-1][0] and kind in ("zero", "nonneg"):
            merged[-1] = (kind, merged[-1][1] + dim)
        else:
            merged.append((kind, dim))
    q = np.zeros(nvar)
    q[o_tw : o_tw + 2 * p] = model.beta
    Pd = np.zeros(nvar)
    if logistic:
        q[o_l : o_l + n] = 1.0
    elif not pform:
        Pd[o_z : o_z + n] = 1.0
        q[o_z : o_z + n] = -y
    if has_c and ob == "penalized":
        Pd[o_c] = model.beta
    P = sp.diags(Pd, format="csc")
    if pform:
        # loss 1/2 ||M [u; c] - y||^2 on the variables u (and c): dense Gram block
        M = (S.T[:, :, None] * Xt[:, None, :]).reshape(n, p * dt)
        idx = np.arange(o_z, o_z + p * dt)
        if has_c:
            M = np.hstack([np.ones((n, 1)), M])
            idx = np.concatenate([[o_c], idx])
        Gm = np.triu(M.T @ M)
        gi, gj = np.nonzero(Gm)
        P = P + sp.csc_matrix((Gm[gi, gj], (idx[gi], idx[gj])), shape=(nvar, nvar))
        q[idx] += -(M.T @ y)
    x, _, info = solve_conic(P, q, A, bvec, merged, settings)
    W = x[o_w:o_v].reshape(p, dt)
    V = x[o_v:o_tw].reshape(p, dt)
    c = float(x[o_c]) if has_c else None
    pred = block_predictions(Xt, S, W, V) + (c if c is not None else 0.0)
    obj = convex_objective(Xt, y, S, W, V, c, model)
    info.update({"n_patterns": p, "n_variables": nvar, "n_constraints": r0, "nnz": int(A.nnz),
                 "form": "P" if pform else ("exp-cone" if logistic else "z")})
    return ConvexSolution(W, V, c, obj, pred, info)
