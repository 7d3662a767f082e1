"""Sound upper bounds on the dual constraint M(nu) without enumerating the arrangement.

The dual constraint (README.md, "How verify works", and docs/reliability.md) is

    M(nu) = max_{v in K} |f(v)|,   f(v) = nu^T (Xt v)_+ = sum_k nu_k (t_k)_+,  t_k = xt_k^T v,

with K the unit ball of the penalized coordinates. ``arrangements.analyze`` computes M exactly
by visiting every cell; that is exponential in the rank. This module bounds M from above at any
size, cheapest first, every bound rounded in the safe direction, and finds a value M attains
(``lower``) by local search.

The set K
---------
* No hidden bias, or a penalized one: K = {v : ||v|| <= 1} (all of Xt's columns penalized).
* A free hidden bias: Xt = [X, 1], v = (u, b) and only u is penalized; 1^T nu = 0 must hold
  exactly (else b -> +inf makes f unbounded: upper = +inf). With R >= max_k ||x_k||, every
  t_k = x_k^T u + b is >= 0 when b >= R (so f = nu^T X u + b 1^T nu = nu^T X u, its value at
  b = R) and <= 0 when b <= -R (f = 0, its value at b = -R). Hence M is the maximum over the
  compact K = {||u|| <= 1, |b| <= R}, whose support function is h_K(c) = ||c_u|| + R |c_b|.
  R is the computed max row norm rounded up: any R at least the exact one gives the same M.

For the ball, h_K(c) = ||c||. Everything below is written with h_K and holds for both.

Rank reduction
--------------
When the penalized block A (Xt, or X with a free bias) has numerical rank r below its width
(singular values under ``arrangements.RANK_TOL`` times the largest dropped), the work is done
on Q = fl(A V) (n x r) with V the r leading right singular vectors. With E = A - Q V^T (exact),
A u = Q a + E u with a = V^T u, ||a|| <= rho ||u||, rho^2 = 1 + ||V^T V - I||_F bounds
sigma_max(V)^2, so |f(u) - f_Q(a)| <= ||nu|| ||E||_F and M(A) <= rho M(Q) + ||nu|| ||E||_F
(for a free bias, f_Q(rho a', b) = rho f_Q(a', b / rho) and |b / rho| <= R keeps the bias in
the box). ||E||_F and rho are evaluated with their rounding errors added (``_reduce``).

1. Norm bounds (``norm``)
-------------------------
For ||v|| <= 1: |nu^T (Xt v)_+| <= ||nu_+|| ||Xt v|| (Cauchy-Schwarz on the rows with nu_k > 0,
and the same with nu_-), so M <= max(||nu_+||, ||nu_-||) sigma_max(Xt). For any positive
weights s_k, nu_k (t_k)_+ = (nu_k s_k) (t_k / s_k)_+, so with s_k = ||xt_k|| also
M <= max(||w_+||, ||w_-||) sigma_max(Y), w = nu o s, Y = diag(1/s) Xt (exact for orthogonal
rows). And (t_k)_+ <= ||xt_k|| gives M <= max(sum nu_k^+ ||xt_k||, sum nu_k^- ||xt_k||).
With a free bias, f(u, .) is piecewise linear in b with kinks at b = -x_k^T u, so
M = max(||X^T nu||, max_k M_k) with M_k the constraint value of the rows x_l - x_k without
bias; X - 1 x_k^T = (X - 1 c^T) + 1 (c - x_k)^T = [X - 1 c^T, 1] [I; (c - x_k)^T] for any c
bounds every sigma_max(X - 1 x_k^T) at once.

sigma_max is bounded soundly (``_sigma_max_upper``): the Gram matrix G of the smaller side is
formed (in extended precision when the platform has it) with the entrywise error
|fl(G) - G| <= gamma |B|^T |B| (so ||fl(G) - G||_2 <= gamma max row sum of |B|^T |B|), and
lambda_max(fl(G)) <= t is proved by a floating-point Cholesky factorization of
C = fl(t I - fl(G) - c I): if it runs to completion, C + dC = R^T R with
|dC| <= gamma_{m+1} |R^T| |R|, so ||dC||_2 <= gamma_{m+1} / (1 - gamma_{m+1}) tr(C) and
C >= -||dC|| I; c exceeds that and the rounding of C's diagonal, so t I - fl(G) >= 0.

Spike-free data (``spike-free``)
--------------------------------
{(Xt u)_+ : ||u|| <= 1} is convex for whitened data, rank-one data with a one-signed left factor
and diagonal data (Ergen & Pilanci, "Convex Geometry and Duality of Over-parameterized Neural
Networks", section 2.2.1). Two tests are made, without a free hidden bias:
* orthogonal rows: n' <= r (non-zero rows) and |xt_i^T xt_j| <= SPIKE_FREE_TOL ||xt_i|| ||xt_j||
  for i != j (whitened and diagonal data). Then Y has orthonormal rows, {Y u} is the unit ball
  of R^n' and M = max(||w_+||, ||w_-||) exactly: the weighted norm bound above is exact;
* rank one with a one-signed left factor: rows q_k = c_k a with c_k of one sign. Rank one is
  solved exactly in any case (f(alpha v) for alpha in [-1, 1] is piecewise linear with one kink).
The test only selects the label; the bound reported is the sound norm bound (with sigma_max
bounded from above), so it stays an upper bound if the data are only nearly spike-free.

2. Relaxation and 3. branch and bound
-------------------------------------
A node is a partial sign pattern: rows fixed active (t_k >= 0 on the node, set A), fixed inactive
(t_k <= 0, set I), the rest undecided (U), intersected with K; each undecided row has sound
bounds l_k <= t_k <= h_k over the node. We bound max g(v) over the node, g = sg f, for both
signs sg (nu' = sg nu). Weak duality, for any multipliers:
* rows in A: nu'_k t_k <= w_k t_k for any w_k >= nu'_k (since t_k >= 0);
* rows in I: nu'_k (t_k)_+ = 0 <= w_k t_k for any w_k <= 0 (since t_k <= 0);
* undecided rows with nu'_k < 0: nu'_k (t)_+ <= w_k t for any w_k in [nu'_k, 0]
  (-|nu'_k| max(0, t) <= -|nu'_k| theta t for theta in [0, 1]);
* undecided rows with nu'_k > 0: on [l, h], (t)_+ is convex, so t -> (t)_+ - a t is maximal at
  an end: nu'_k (t)_+ <= w_k t + max(nu'_k (l)_+ - w_k l, nu'_k (h)_+ - w_k h) with
  w_k = a nu'_k, any a (we use the chord's slope a = h / (h - l), the concave envelope);
* rows with nu'_k = 0 contribute 0 (w_k = 0).
Summing, g(v) <= (Xt^T w)^T v + C(w) on the node, hence
    max_node g <= h_K(Xt^T w) + C(w)       (*)
for every w in the box W(node) above. The best w solves a small SOCP (``_solve_node``:
min h_K(c_0 + G^T w) over the box, Clarabel); the solver's w is clipped into W(node) and (*) is
evaluated in floating point with its a-priori rounding bound added (``_node_bound``), so the
solver's accuracy affects only tightness, never soundness. With the chord slope fixed, (*)
minimized over w is the Lagrange dual of the relaxation that keeps fixed rows linear, negative
undecided rows exact (z_k >= 0, z_k >= t_k) and positive undecided rows at their concave
envelope; when no positive row is undecided the relaxation is exact (a leaf), and its primal
maximizer is the maximizer of the Lagrangian, v = argmax_K c^T v (c / ||c|| for the ball).

Bounds on t_k over a node: always |t_k| <= h_K(xt_k). After fixing row j, the node lies in
{g^T v <= 0} (g = xt_j for inactive, -xt_j for active), and for any rho >= 0,
max {y^T v : v in K, g^T v <= 0} <= h_K(y - rho g) (weak duality); children take the minimum
of their parent's bounds and this one (y = xt_k for h_k, y = -xt_k for -l_k) at a few rho
(projection coefficient; for a free bias also the rho that cancels the bias coordinate).
The same holds with all the node's constraints at once, max <= h_K(y - sum_j rho_j g_j) for any
rho >= 0 (``_tighten_all``: rho from a few accelerated projected-gradient steps on a
least-squares surrogate, the bound evaluated exactly). A row with l_k >= 0 (h_k <= 0) is
implied active (inactive). A child first evaluates (*) at its parent's multipliers moved into
its own box; if that already prunes it, no SOCP is solved.

Scale: entries above 2^SCALE_EXP give no bound (+inf); entries below 2^-SCALE_EXP are set to
zero first and their effect on f over K (at most sum_k |nu_k| ||dxt_k|| + sum_k |dnu_k| ||xt_k||)
is added to the bound, so that no square or product in the rounding analysis underflows.

Best-first search over nodes of both signs: branch on the undecided positive row with the
largest gap nu'_k (chord(t_k) - (t_k)_+) at the Lagrangian maximizer; prune nodes whose bound
is at most max(incumbent (1 + BNB_REL_GAP), stop_below). The returned upper bound is the
largest bound of any open or closed (pruned or leaf) node: each node's bound is sound and the
nodes cover K. The incumbent (``lower``) is f evaluated at a point: the caller's starts, data
rows, random directions, cell-wise ascent (``search.ascend``), and the nodes' maximizers.
"""

from __future__ import annotations

import heapq
import math
import time
from dataclasses import dataclass, field

import numpy as np

from .arrangements import RANK_TOL
from .errors import SolverError
from .search import ascend

#: Unit roundoff of float64.
UNIT = 2.0**-53
#: Rows count as orthogonal (spike-free test) when |xt_i^T xt_j| <= SPIKE_FREE_TOL ||xt_i|| ||xt_j||.
SPIKE_FREE_TOL = 1e-10
#: ``complete`` when upper - lower <= COMPLETE_REL_TOL * upper (M known to this relative accuracy).
COMPLETE_REL_TOL = 1e-6
#: Branch and bound prunes a node whose bound is at most incumbent * (1 + BNB_REL_GAP).
BNB_REL_GAP = 1e-7
#: Random starting directions of the incumbent search, and data rows used as starts (at most).
RANDOM_STARTS = 32
DATA_STARTS = 64
#: Ascent steps of the incumbent search at the root and at each branch-and-bound node.
ROOT_ASCENT_STEPS = 50
NODE_ASCENT_STEPS = 10
#: Gram matrices up to this many multiply-adds are formed in extended precision (np.longdouble).
EXTENDED_GRAM_WORK = 5e7
#: Above this size the Cholesky proof of sigma_max is skipped (the Frobenius norm is used).
CHOLESKY_MAX_DIM = 600
#: The free-bias pairwise bound sum_l nu_l^+ ||x_l - x_k|| is computed up to n^2 d this large.
PAIRWISE_MAX_WORK = 5e7
#: Branch and bound stops (sound bound: the largest open node) beyond this many stored bytes.
MAX_NODE_BYTES = 2 * 2**30
#: Clarabel settings of the node SOCPs (accuracy only affects tightness: bounds are re-derived).
NODE_SOLVER_SETTINGS = {"tol_gap_abs": 1e-11, "tol_gap_rel": 1e-10, "tol_feas": 1e-10, "max_iter": 100}
#: Accelerated projected-gradient steps (and power steps for its step size) of the
#: multi-constraint interval tightening of a node (``_tighten_all``; tightness only).
TIGHTEN_ITERATIONS = 40
TIGHTEN_POWER_STEPS = 12
#: ... skipped above this many multiply-adds per step (undecided rows x fixed rows x dims).
TIGHTEN_MAX_WORK = 2e7
#: Entries of Xt and nu above 2^SCALE_EXP in magnitude: no bound (upper = +inf); entries below
#: 2^-SCALE_EXP are set to 0 and their effect added (no underflow in the rounding analysis).
SCALE_EXP = 200
#: Progress descriptions are refreshed at most this often (seconds).
PROGRESS_EVERY = 0.5


def _gamma(k: float) -> float:
    """gamma_k = k u / (1 - k u): relative error bound of a k-term float64 sum or dot product."""
    ku = k * UNIT
    return ku / (1.0 - ku) if ku < 0.5 else math.inf


def _up(x: float, k: float) -> float:
    """x (>= 0, computed with a k-term error of relative size gamma_k) rounded up soundly."""
    return float(x) * (1.0 + 2.0 * _gamma(k + 2)) + 1e-300


def _norm_up(v: np.ndarray) -> float:
    """An upper bound on the exact Euclidean norm of the float vector v."""
    v = np.asarray(v, dtype=np.float64).ravel()
    return _up(float(np.linalg.norm(v)), v.size + 2)


def _row_norms_up(A: np.ndarray) -> np.ndarray:
    """Upper bounds on the exact row norms of A."""
    k = A.shape[1] + 3
    return np.linalg.norm(A, axis=1) * (1.0 + 2.0 * _gamma(k)) + 1e-300


@dataclass
class MBound:
    """What :func:`bound_dual_constraint` proved about M(nu).

    Attributes
    ----------
    upper : float
        SOUND upper bound on M(nu): every rounding error already added; +inf if none.
    lower : float
        f evaluated at ``argmax`` times ``sign`` (0.0 if none): a value M attains (up to rounding).
    argmax : (dt,) or None
        Direction with N(argmax) = 1 (free bias: includes b) attaining ``lower``.
    sign : int
        +1 if lower = nu^T (Xt u)_+, -1 if lower = -nu^T (Xt u)_+.
    method : str
        Which step produced ``upper``: "norm", "spike-free", "relaxation", "branch-and-bound".
    complete : bool
        True when upper - lower <= COMPLETE_REL_TOL * upper (M known), or stopped by a target
        (upper <= stop_below, or lower > stop_above).
    nodes : int
        Branch-and-bound nodes whose bound was computed (0 without branch and bound).
    seconds : float
        Wall time.
    details : dict
        Cheap bounds, root bound, rank used, spike-free test, nodes/s, open nodes, stop reason.
    """

    upper: float
    lower: float
    argmax: np.ndarray | None
    sign: int
    method: str
    complete: bool
    nodes: int = 0
    seconds: float = 0.0
    details: dict = field(default_factory=dict)

    @property
    def gap(self) -> float:
        """upper - lower."""
        return self.upper - self.lower


# ----------------------------------------------------------------------------- sigma_max


def _gram(B: np.ndarray):
    """fl(B^T B) (symmetric) and an upper bound on ||fl(B^T B) - B^T B||_2."""
    k, m = B.shape
    a = np.abs(B)
    rs = a.T @ (a @ np.ones(m))  # row sums of |B|^T |B| (nonnegative terms)
    smax = float(np.max(rs)) * (1.0 + 2.0 * _gamma(k + m + 2)) if m else 0.0
    ld = np.finfo(np.longdouble)
    if float(ld.eps) < 1e-17 and k * m * m <= EXTENDED_GRAM_WORK:
        Bl = B.astype(np.longdouble)
        Gl = Bl.T @ Bl
        ul = float(ld.eps) / 2.0
        kl = (k + 2) * ul
        coef = kl / (1.0 - kl) + 3.0 * UNIT  # extended products, rounding to float64, symmetrizing
        G = np.asarray(Gl, dtype=np.float64)
    else:
        G = B.T @ B
        coef = _gamma(k + 2) + 2.0 * UNIT
    G = 0.5 * (G + G.T)
    return G, coef * (1.0 + 4.0 * UNIT) * smax


def _cholesky_completes(C: np.ndarray) -> bool:
    """Whether the plain floating-point Cholesky factorization of C runs to completion."""
    m = C.shape[0]
    L = np.zeros_like(C)
    for j in range(m):
        d = C[j, j] - float(L[j, :j] @ L[j, :j])
        if not d > 0.0:
            return False
        ljj = math.sqrt(d)
        L[j, j] = ljj
        if j + 1 < m:
            L[j + 1:, j] = (C[j + 1:, j] - L[j + 1:, :j] @ L[j, :j]) / ljj
    return True


def _lambda_max_upper(G: np.ndarray) -> float | None:
    """A proven upper bound on lambda_max of the symmetric float matrix G (None if not proved)."""
    m = G.shape[0]
    if m == 0:
        return 0.0
    if not np.all(np.isfinite(G)):
        return None
    dg = np.diag(G)
    w = np.linalg.eigvalsh(G)
    lam = max(float(w[-1]), float(np.max(dg)), 0.0)
    scale = max(float(np.max(np.abs(w))), float(np.max(np.abs(dg))), 1e-300)
    delta = 8.0 * (m + 2) * UNIT * scale
    g1 = _gamma(m + 1)
    for _ in range(60):
        t = lam + delta
        diag = t - dg
        tr_up = float(np.sum(np.maximum(diag, 0.0))) * (1.0 + 2.0 * _gamma(m + 2)) + m * UNIT * t
        c = 2.0 * g1 / (1.0 - g1) * tr_up + 4.0 * UNIT * (abs(t) + float(np.max(np.abs(dg)))) + 1e-300
        C = -G.copy()
        np.fill_diagonal(C, diag - c)
        if _cholesky_completes(C):
            return t
        delta *= 4.0
    return None


def _sigma_max_upper(A: np.ndarray) -> tuple[float, str]:
    """A proven upper bound on sigma_max(A) (float A, exact), and how it was obtained."""
    A = np.asarray(A, dtype=np.float64)
    if A.size == 0:
        return 0.0, "empty"
    fro = _up(float(np.linalg.norm(A)), A.size + 2)
    B = A if A.shape[1] <= A.shape[0] else A.T
    if B.shape[1] > CHOLESKY_MAX_DIM:
        return fro, "frobenius"
    G, dG = _gram(B)
    t = _lambda_max_upper(G)
    if t is None:
        return fro, "frobenius"
    s = math.sqrt(max(t + dG, 0.0)) * (1.0 + 4.0 * UNIT) + 1e-300
    return (s, "cholesky") if s < fro else (fro, "frobenius")


# ----------------------------------------------------------------------------- helpers


def _f(Xt: np.ndarray, nu: np.ndarray, V: np.ndarray) -> np.ndarray:
    """f(v) = nu^T (Xt v)_+ for each column v of V (float evaluation)."""
    return nu @ np.maximum(Xt @ V, 0.0)


def _best_bias(X: np.ndarray, nu: np.ndarray, u: np.ndarray, R: float):
    """max over |b| <= R of f(u, b) and of -f(u, b) for a free bias, with the maximizing b.

    f(u, .) is piecewise linear with kinks at b = -x_k^T u, 0 at b = -R and nu^T X u at b = R;
    the kink values come from one sort: with p sorted decreasingly, f(-p_k) = sum_{j<k} nu_j
    (p_j - p_k). Returns ((value, b) for +f, (value, b) for -f).
    """
    p = X @ u
    order = np.argsort(-p, kind="stable")
    ps, ns = p[order], nu[order]
    c0 = np.concatenate([[0.0], np.cumsum(ns)[:-1]])
    c1 = np.concatenate([[0.0], np.cumsum(ns * ps)[:-1]])
    fk = c1 - ps * c0
    bk = np.clip(-ps, -R, R)
    vals = np.concatenate([fk, [0.0, float(nu @ p)]])
    bs = np.concatenate([bk, [-R, R]])
    i, j = int(np.argmax(vals)), int(np.argmin(vals))
    return (float(vals[i]), float(bs[i])), (float(-vals[j]), float(bs[j]))


class _Incumbent:
    """Best value of |f| found, evaluated on the original data."""

    def __init__(self, Xt, nu, free, R):
        self.Xt, self.nu, self.free, self.R = Xt, nu, free, R
        self.value, self.argmax, self.sign = 0.0, None, 1

    def offer(self, V: np.ndarray) -> None:
        """Evaluate |f| at the columns of V (normalized so that N(v) = 1; free: best b)."""
        if V.ndim == 1:
            V = V[:, None]
        V = V[:, np.all(np.isfinite(V), axis=0)]
        if V.shape[1] == 0:
            return
        if not self.free:
            n = np.linalg.norm(V, axis=0)
            V = V[:, n > 0] / n[n > 0]
            if V.shape[1] == 0:
                return
            fv = _f(self.Xt, self.nu, V)
            for sg in (1, -1):
                j = int(np.argmax(sg * fv))
                self._take(sg * float(fv[j]), V[:, j], sg)
            return
        X = self.Xt[:, :-1]
        n = np.linalg.norm(V[:-1], axis=0)
        for j in np.flatnonzero(n > 0):
            u = V[:-1, j] / n[j]
            (vp, bp), (vm, bm) = _best_bias(X, self.nu, u, self.R)
            for val, b, sg in ((vp, bp, 1), (vm, bm, -1)):
                if val > self.value:
                    v = np.append(u, b)
                    # re-evaluate the exact formula at the stored point
                    self._take(sg * float(_f(self.Xt, self.nu, v[:, None])[0]), v, sg)

    def _take(self, val: float, v: np.ndarray, sg: int) -> None:
        if val > self.value:
            self.value, self.argmax, self.sign = float(val), np.array(v, dtype=np.float64), int(sg)


# ----------------------------------------------------------------------------- rank reduction


def _reduce(A: np.ndarray):
    """Row space of A: (Q, V, rho, E_up, r) with A = Q V^T + E, ||V^T u|| <= rho ||u||,
    ||E||_2 <= E_up (all sound); V is None when A has full column rank (Q = A)."""
    n, p = A.shape
    if n == 0 or p == 0 or not np.any(A):
        return A, None, 1.0, 0.0, 0
    _, s, Vt = np.linalg.svd(A, full_matrices=False)
    r = int(np.sum(s > RANK_TOL * s[0]))
    if r >= p:
        return A, None, 1.0, 0.0, r
    V = Vt[:r].T.copy()
    Q = A @ V
    E = A - Q @ V.T
    # |fl(Q V^T) - Q V^T| <= gamma_r |Q| |V^T|; the subtraction adds u |E|
    E_up = (_up(float(np.linalg.norm(E)), E.size + 2) * (1.0 + 2.0 * UNIT)
            + _gamma(r + 2) * _up(float(np.linalg.norm(Q)), Q.size) * _up(float(np.linalg.norm(V)), V.size))
    D = V.T @ V - np.eye(r)
    d_up = _up(float(np.linalg.norm(D)), D.size) + _gamma(p + 2) * _up(float(np.linalg.norm(V)) ** 2, V.size)
    rho = math.sqrt(1.0 + d_up) * (1.0 + 4.0 * UNIT)
    return Q, V, rho, E_up, r


# ----------------------------------------------------------------------------- cheap bounds


def _norm_bounds(Q: np.ndarray, nu: np.ndarray, free: bool, R: float) -> dict:
    """Sound norm bounds on M for rows Q (K the unit ball, or ball x [-R, R] with a free bias)."""
    n, p = Q.shape
    nup, num = np.maximum(nu, 0.0), np.maximum(-nu, 0.0)
    big = max(_norm_up(nup), _norm_up(num))
    out = {}
    if not free:
        sig, how = _sigma_max_upper(Q)
        out["spectral"] = _up(big * sig, 2)
        out["sigma_max"] = sig
        out["sigma_method"] = how
        qn = _row_norms_up(Q)
        out["row_sum"] = _up(max(float(nup @ qn), float(num @ qn)), n + 2)
        nz = np.flatnonzero(np.linalg.norm(Q, axis=1) > 0)
        if nz.size:
            s = qn[nz]
            Y = Q[nz] / s[:, None]  # |fl(Y) - Y| <= u |Y|
            sy, _ = _sigma_max_upper(Y)
            sy = sy + 2.0 * UNIT * _up(float(np.linalg.norm(Y)), Y.size)
            w = nu[nz] * s
            wb = max(_norm_up(np.maximum(w, 0.0)), _norm_up(np.maximum(-w, 0.0))) * (1.0 + 2.0 * UNIT)
            out["weighted_spectral"] = _up(wb * sy, 2)
        else:
            out["weighted_spectral"] = 0.0
        return out
    # free hidden bias: M = max(||Q^T nu||, max_k M_k(Q - 1 q_k^T))
    g = _norm_up(Q.T @ nu) + _gamma(n + 2) * float(np.abs(nu) @ _row_norms_up(Q)) * 2.0
    out["all_active"] = g
    c = Q.mean(axis=0)
    Qc = Q - c[None, :]  # |fl - exact| <= u |fl|
    dist = _row_norms_up(Qc)
    Dmax = float(np.max(dist)) if n else 0.0
    sc, _ = _sigma_max_upper(Qc)
    sc += 2.0 * UNIT * _up(float(np.linalg.norm(Qc)), Qc.size)
    Qc1 = np.hstack([Qc, np.ones((n, 1))])
    sc1, _ = _sigma_max_upper(Qc1)
    sc1 += 2.0 * UNIT * _up(float(np.linalg.norm(Qc1)), Qc1.size)
    sig = min(sc + math.sqrt(n) * (1.0 + 2.0 * UNIT) * Dmax, sc1 * math.sqrt(1.0 + Dmax * Dmax) * (1.0 + 4.0 * UNIT))
    out["kink_spectral"] = max(g, _up(big * sig, 4))
    if n * n * p <= PAIRWISE_MAX_WORK:
        # M_k <= max(sum_l nu_l^+ ||q_l - q_k||, sum_l nu_l^- ||q_l - q_k||)
        Dk = np.sqrt(np.maximum(np.sum(Q * Q, 1)[:, None] + np.sum(Q * Q, 1)[None, :] - 2.0 * (Q @ Q.T), 0.0))
        # the expanded form's rounding: at most gamma_{p+3} (||q_l|| + ||q_k||)^2 under the root
        qn = np.linalg.norm(Q, axis=1)
        Dk = np.sqrt(Dk**2 + 2.0 * _gamma(p + 4) * (qn[:, None] + qn[None, :]) ** 2) * (1.0 + 4.0 * UNIT)
        pk = max(float(np.max(Dk @ nup)), float(np.max(Dk @ num))) if n else 0.0
        out["kink_row_sum"] = max(g, _up(pk, n + 2))
    return out


def _spike_free(A: np.ndarray) -> dict:
    """Numerical spike-free test on the rows A: orthogonal rows (whitened or diagonal data).

    Returns {"kind": a description or None, "tol": SPIKE_FREE_TOL, ...}; rank one with a
    one-signed left factor is recognized after the rank reduction (``bound_dual_constraint``).
    """
    nz = np.flatnonzero(np.linalg.norm(A, axis=1) > 0)
    m = nz.size
    out = {"kind": None, "tol": SPIKE_FREE_TOL,
           "test": "non-zero rows n' <= columns and |cos(xt_i, xt_j)| <= tol for i != j"}
    if m == 0:
        out["kind"] = "zero data"
        return out
    if m <= A.shape[1]:
        Y = A[nz] / np.linalg.norm(A[nz], axis=1)[:, None]
        C = Y @ Y.T
        off = float(np.max(np.abs(C - np.diag(np.diag(C))))) if m > 1 else 0.0
        out["max_row_cosine"] = off
        if off <= SPIKE_FREE_TOL:
            out["kind"] = "orthogonal rows (whitened or diagonal data)"
    return out


def _rank_one_exact(q: np.ndarray, nu: np.ndarray) -> float:
    """M for one column q (K = [-1, 1]): max(|sum_{q>0} nu q|, |sum_{q<0} nu |q||), rounded up."""
    P = float(nu[q > 0] @ q[q > 0])
    N = float(nu[q < 0] @ -q[q < 0])
    err = _gamma(q.size + 2) * float(np.abs(nu) @ np.abs(q)) * 2.0
    return max(abs(P), abs(N)) + err + 1e-300


# ----------------------------------------------------------------------------- nodes


class _Problem:
    """The (possibly reduced) rows G (n, dc) = Q, or [Q, 1] with a free bias, and K."""

    def __init__(self, Q: np.ndarray, nu: np.ndarray, free: bool, R: float):
        self.Q, self.nu, self.free, self.R = Q, nu, free, R
        n = Q.shape[0]
        self.G = np.hstack([Q, np.ones((n, 1))]) if free else Q
        self.n, self.dc = self.G.shape
        qn = _row_norms_up(Q)
        # h_K(xt_k) >= |t_k| on K (rounded up)
        self.hK_rows = (qn + R) * (1.0 + 2.0 * UNIT) if free else qn
        self.absG_norm = self.hK_rows
        self.zero = np.linalg.norm(Q, axis=1) == 0 if not free else np.zeros(n, bool)

    def hK(self, c: np.ndarray) -> float:
        if self.free:
            return float(np.linalg.norm(c[:-1])) + self.R * abs(float(c[-1]))
        return float(np.linalg.norm(c))

    def argmax_K(self, c: np.ndarray) -> np.ndarray:
        """A maximizer of c^T v over K."""
        if self.free:
            cu = c[:-1]
            n = np.linalg.norm(cu)
            u = cu / n if n > 0 else np.eye(cu.size)[0] if cu.size else cu
            return np.append(u, self.R * np.sign(c[-1]))
        n = np.linalg.norm(c)
        return c / n if n > 0 else np.eye(c.size)[0]

    def hK_many(self, Y: np.ndarray) -> np.ndarray:
        """Upper bounds on h_K of the exact rows of the float matrix Y."""
        if self.free:
            return (_row_norms_up(Y[:, :-1]) + self.R * np.abs(Y[:, -1])) * (1.0 + 4.0 * UNIT)
        return _row_norms_up(Y)


@dataclass
class _Node:
    sg: int
    state: np.ndarray  # int8: 1 active, -1 inactive, 0 undecided
    lo: np.ndarray
    hi: np.ndarray
    bound: float = math.inf
    v: np.ndarray | None = None
    depth: int = 0
    w: np.ndarray | None = None


def _box(prob: _Problem, node: _Node):
    """Multiplier box of a node: (lo, hi, fixed value (nan where free), const terms per row)."""
    nus = node.sg * prob.nu
    n = prob.n
    wlo = np.full(n, -np.inf)
    whi = np.full(n, np.inf)
    st = node.state
    act, ina, und = st == 1, st == -1, st == 0
    wlo[act] = nus[act]
    whi[ina] = 0.0
    neg = und & (nus < 0)
    wlo[neg], whi[neg] = nus[neg], 0.0
    fixed = np.full(n, np.nan)
    zero = und & (nus == 0)
    fixed[zero] = 0.0
    pos = und & (nus > 0)
    l, h = node.lo[pos], node.hi[pos]
    a = h / (h - l)  # 0 < a < 1 (l < 0 < h for undecided rows)
    fixed[pos] = nus[pos] * a
    return wlo, whi, fixed, pos


def _node_bound(prob: _Problem, node: _Node, w: np.ndarray, pos: np.ndarray):
    """(*) at the multipliers w (already in the box), with its rounding bound; and c."""
    nus = node.sg * prob.nu
    c = prob.G.T @ w
    l, h = node.lo[pos], node.hi[pos]
    wp, np_ = w[pos], nus[pos]
    const_terms = np.maximum(np_ * np.maximum(l, 0.0) - wp * l, np_ * np.maximum(h, 0.0) - wp * h)
    const = float(np.sum(const_terms))
    S_w = float(np.abs(w) @ prob.absG_norm)
    S_c = float(np.sum((np.abs(np_) + np.abs(wp)) * (np.abs(l) + np.abs(h))))
    hk = prob.hK(c)
    err = 2.0 * _gamma(prob.n + prob.dc + 8) * (S_w + hk + S_c) + 1e-300
    return hk + const + err, c


def _solve_node(prob: _Problem, node: _Node, stats: dict):
    """Bound of a node from the SOCP min h_K(G^T w) + C over the box; returns (bound, c)."""
    wlo, whi, fixed, pos = _box(prob, node)
    var = np.isnan(fixed)
    var &= ~prob.zero  # zero rows do not matter: keep them at a box value
    w = np.where(np.isnan(fixed), 0.0, fixed)
    # a zero row contributes nothing whatever w is; pick the box point nearest 0
    zr = prob.zero & np.isnan(fixed)
    w[zr] = np.clip(0.0, wlo[zr], whi[zr])
    idx = np.flatnonzero(var)
    if idx.size:
        w_var = _socp(prob, w, idx, wlo[idx], whi[idx], stats)
        if w_var is None:  # the solver failed: any point of the box still gives a bound
            w_var = np.clip(prob.nu[idx] * node.sg, wlo[idx], whi[idx])
            stats["solver_failures"] = stats.get("solver_failures", 0) + 1
        w[idx] = np.clip(w_var, wlo[idx], whi[idx])
    node.w = w
    return _node_bound(prob, node, w, pos)


def _inherited_bound(prob: _Problem, node: _Node, w_parent: np.ndarray):
    """(*) at the parent's multipliers moved into this node's box (no solve): a cheap bound."""
    wlo, whi, fixed, pos = _box(prob, node)
    w = np.where(np.isnan(fixed), np.clip(w_parent, wlo, whi), fixed)
    return _node_bound(prob, node, w, pos)


def _socp(prob: _Problem, w: np.ndarray, idx: np.ndarray, lo: np.ndarray, hi: np.ndarray, stats: dict):
    """min h_K(c0 + G_idx^T x) over lo <= x <= hi with Clarabel; None on failure."""
    import scipy.sparse as sp

    from .solvers.clarabel import solve_conic

    p = idx.size
    Gv = prob.G[idx]  # (p, dc)
    c0 = prob.G.T @ w - Gv.T @ w[idx]
    nv = p + (2 if prob.free else 1)
    # one COO triplet list, converted once (rows: box, free-bias pair, second-order cone)
    fl, fh = np.flatnonzero(np.isfinite(lo)), np.flatnonzero(np.isfinite(hi))
    nbox = fl.size + fh.size
    ii = [np.arange(nbox)]  # x - lo >= 0, hi - x >= 0
    jj = [np.concatenate([fl, fh])]
    vv = [np.concatenate([-np.ones(fl.size), np.ones(fh.size)])]
    rhs = [np.concatenate([-lo[fl], hi[fh]])]
    row = nbox
    if prob.free:
        # tau - c_b >= 0 and tau + c_b >= 0, c_b = c0_b + G_b^T x
        gb = Gv[:, -1]
        ar = np.arange(p)
        ii += [np.full(p, row), [row], np.full(p, row + 1), [row + 1]]
        jj += [ar, [p + 1], ar, [p + 1]]
        vv += [gb, [-1.0], -gb, [-1.0]]
        rhs.append(np.array([-c0[-1], c0[-1]]))
        row += 2
        du = prob.dc - 1
        Gu, cu = Gv[:, :-1], c0[:-1]
    else:
        du = prob.dc
        Gu, cu = Gv, c0
    nonneg = row
    ii.append([row])
    jj.append([p])
    vv.append([-1.0])
    ri, ci = np.nonzero(Gu.T)
    ii.append(row + 1 + ri)
    jj.append(ci)
    vv.append(-Gu.T[ri, ci])
    rhs.append(np.concatenate([[0.0], cu]))
    cones = [("nonneg", nonneg)] if nonneg else []
    cones.append(("soc", du + 1))
    q = np.zeros(nv)
    q[p] = 1.0
    if prob.free:
        q[p + 1] = prob.R
    m = row + du + 1
    A = sp.csc_matrix((np.concatenate([np.asarray(v, float) for v in vv]),
                       (np.concatenate([np.asarray(v, np.int64) for v in ii]),
                        np.concatenate([np.asarray(v, np.int64) for v in jj]))), shape=(m, nv))
    b = np.concatenate(rhs)
    P = sp.csc_matrix((nv, nv))
    try:
        x, _, info = solve_conic(P, q, A, b, cones, NODE_SOLVER_SETTINGS)
    except (SolverError, ValueError, ArithmeticError):
        return None
    stats["solver_iterations"] = stats.get("solver_iterations", 0) + info["iterations"]
    return x[:p]


def _tighten(prob: _Problem, node: _Node, j: int, side: int) -> None:
    """Fix row j (side +1 active, -1 inactive) and tighten the bounds of the undecided rows."""
    node.state[j] = side
    if side > 0:
        node.lo[j] = max(node.lo[j], 0.0)
    else:
        node.hi[j] = min(node.hi[j], 0.0)
    und = np.flatnonzero(node.state == 0)
    if und.size == 0:
        return
    g = prob.G[j] * (1.0 if side < 0 else -1.0)  # the node lies in {g^T v <= 0}
    for which in ("hi", "lo"):
        Y = prob.G[und] if which == "hi" else -prob.G[und]
        if prob.free:
            gu, yu = g[:-1], Y[:, :-1]
            gg = float(gu @ gu)
            rhos = [np.maximum(yu @ gu, 0.0) / gg if gg > 0 else np.zeros(und.size)]
            rb = Y[:, -1] / g[-1]
            rhos.append(np.where(rb > 0, rb, 0.0))
        else:
            gg = float(g @ g)
            if gg == 0:
                continue
            rhos = [np.maximum(Y @ g, 0.0) / gg]
        best = np.full(und.size, np.inf)
        for rho in rhos:
            rho = np.where(np.isfinite(rho), rho, 0.0)
            D = Y - rho[:, None] * g[None, :]  # |fl(D) - D| <= 2u (|Y| + rho |g|) entrywise
            slack = 2.0 * UNIT * (prob.hK_many(np.abs(Y)) + rho * prob.hK(np.abs(g))) * 2.0
            cand = prob.hK_many(D) + slack
            best = np.where(np.isfinite(cand), np.minimum(best, cand), best)
        if which == "hi":
            node.hi[und] = np.minimum(node.hi[und], best)
        else:
            node.lo[und] = np.maximum(node.lo[und], -best)
    # implied signs
    sub = node.state[und]
    sub[node.lo[und] >= 0.0] = 1
    sub[node.hi[und] <= 0.0] = -1
    node.state[und] = sub


def _tighten_all(prob: _Problem, node: _Node) -> None:
    """Tighten [l_k, h_k] of the undecided positive rows with all the node's sign constraints.

    For any rho >= 0 (one per fixed row j, constraint g_j^T v <= 0 on the node),
    max {y^T v : v in K, node} <= h_K(y - sum_j rho_j g_j) (weak duality). rho comes from
    TIGHTEN_ITERATIONS steps of accelerated projected gradient on the least-squares surrogate
    ||W (y - G_F^T rho)||^2 (W weighs a free bias coordinate by R), all rows at once; whatever
    rho >= 0 it returns, the bound is evaluated exactly with its rounding error added.
    """
    nus = node.sg * prob.nu
    U = np.flatnonzero((node.state == 0) & (nus > 0))
    F = np.flatnonzero((node.state != 0) & ~prob.zero)
    if U.size == 0 or F.size < 2 or 2 * U.size * F.size * prob.dc > TIGHTEN_MAX_WORK:
        return
    sgn = np.where(node.state[F] < 0, 1.0, -1.0)
    Gc = prob.G[F] * sgn[:, None]  # the node lies in {Gc v <= 0}
    Y = np.vstack([prob.G[U], -prob.G[U]])
    w = np.ones(prob.dc)
    if prob.free:
        w[-1] = max(prob.R, 1e-300)
    Gw, Yw = Gc * w, Y * w
    # step 1/L with L >= sigma_max(Gw)^2 estimated by power iteration (any step keeps rho >= 0)
    x = np.ones(Gw.shape[0])
    for _ in range(TIGHTEN_POWER_STEPS):
        x = Gw @ (Gw.T @ x)
        nx = np.linalg.norm(x)
        if not nx > 0:
            return
        x /= nx
    L = 1.2 * float(np.linalg.norm(Gw @ (Gw.T @ x))) + 1e-300
    rho = np.zeros((Y.shape[0], F.size))
    z, t = rho.copy(), 1.0
    GG = Gw @ Gw.T
    YG = Yw @ Gw.T
    for _ in range(TIGHTEN_ITERATIONS):
        grad = z @ GG - YG
        new = np.maximum(z - grad / L, 0.0)
        t2 = 0.5 * (1.0 + math.sqrt(1.0 + 4.0 * t * t))
        z = new + ((t - 1.0) / t2) * (new - rho)
        rho, t = new, t2
    rho = np.where(np.isfinite(rho), rho, 0.0)
    D = Y - rho @ Gc
    slack = 2.0 * _gamma(F.size + prob.dc + 4) * (np.concatenate([prob.hK_rows[U]] * 2)
                                                  + rho @ prob.hK_rows[F])
    bnd = prob.hK_many(D) + slack
    ok = np.isfinite(bnd)
    k = U.size
    hi_new, lo_new = bnd[:k], -bnd[k:]
    node.hi[U] = np.where(ok[:k], np.minimum(node.hi[U], hi_new), node.hi[U])
    node.lo[U] = np.where(ok[k:], np.maximum(node.lo[U], lo_new), node.lo[U])
    sub = node.state[U]
    sub[node.lo[U] >= 0.0] = 1
    sub[node.hi[U] <= 0.0] = -1
    node.state[U] = sub


def _branch_row(prob: _Problem, node: _Node) -> int | None:
    """The undecided positive row with the largest relaxation gap at the node's maximizer."""
    nus = node.sg * prob.nu
    pos = np.flatnonzero((node.state == 0) & (nus > 0))
    if pos.size == 0:
        return None
    l, h = node.lo[pos], node.hi[pos]
    a = h / (h - l)
    if node.v is not None:
        t = np.clip(prob.G[pos] @ node.v, l, h)
        gap = nus[pos] * (a * (t - l) - np.maximum(t, 0.0))
        k = int(np.argmax(gap))
        if gap[k] > 0:
            return int(pos[k])
    return int(pos[int(np.argmax(nus[pos] * a * (-l)))])


# ----------------------------------------------------------------------------- the driver


def _too_large(a: np.ndarray) -> bool:
    """Whether an entry of a exceeds 2^SCALE_EXP in magnitude."""
    return bool(a.size and float(np.max(np.abs(a))) > 2.0**SCALE_EXP)


def _check_inputs(Xt, nu, free):
    Xt = np.asarray(Xt, dtype=np.float64)
    nu = np.asarray(nu, dtype=np.float64)
    if Xt.ndim != 2:
        raise ValueError(f"Xt must be a 2-D array, got shape {Xt.shape}")
    if nu.shape != (Xt.shape[0],):
        raise ValueError(f"nu must have shape ({Xt.shape[0]},), got {nu.shape}")
    if not (np.all(np.isfinite(Xt)) and np.all(np.isfinite(nu))):
        raise ValueError("Xt and nu must be finite")
    if free and (Xt.shape[1] < 1 or not np.all(Xt[:, -1] == 1.0)):
        raise ValueError("with a free hidden bias the last column of Xt must be all ones")
    return Xt, nu



def _settled(upper: float, lower: float, stop_below: float, stop_above: float) -> bool:
    """Whether a bound answers its question: below the target, a violation above the refutation
    threshold, or upper and lower within COMPLETE_REL_TOL (M known)."""
    return bool(lower > stop_above or upper <= stop_below
                or (math.isfinite(upper) and upper - lower <= COMPLETE_REL_TOL * upper))


def _result(upper, method, inc, stop_below, stop_above, t0, details, complete_target=False, nodes=0) -> MBound:
    """The MBound of a finished (or stopped) computation, its incumbent giving the lower value."""
    upper, lower = float(upper), float(inc.value)
    return MBound(upper=upper, lower=lower, argmax=inc.argmax, sign=inc.sign, method=method,
                  complete=bool(complete_target) or _settled(upper, lower, stop_below, stop_above),
                  nodes=nodes, seconds=time.perf_counter() - t0, details=details)

def bound_dual_constraint(Xt, nu, *, free_bias: bool = False, stop_below: float = -np.inf,
                          stop_above: float = np.inf, time_limit: float = 60.0, starts=None,
                          progress=None, max_nodes: int | None = None, more_starts=None) -> MBound:
    """Sound upper bound (and an attained value) of M(nu) = max_{N(v) <= 1} |nu^T (Xt v)_+|.

    Cheapest first: norm bounds (with rank reduction), the spike-free test, the root relaxation,
    then best-first branch and bound over partial sign patterns (module docstring; the
    mathematics of the dual constraint is in README.md and docs/reliability.md).

    Parameters
    ----------
    Xt : (n, dt) array
        Augmented data; with ``free_bias`` its last column is all ones and the last coordinate
        (the bias) is not penalized.
    nu : (n,) array
        Dual point; with ``free_bias`` 1^T nu = 0 must hold exactly (else upper = +inf).
    stop_below : float
        Stop as soon as upper <= stop_below (certified enough).
    stop_above : float
        Stop as soon as lower > stop_above (a violated constraint: refuted).
    time_limit : float
        Seconds for the branch and bound; then the largest open node's bound is returned.
    starts : (dt, S) array, optional
        Directions seeding the incumbent (e.g. the network's neurons).
    more_starts : callable returning a (dt, S) array or None, optional
        Called once, only when the cheap bounds and the incumbent's first ascent have not settled
        the question: more directions for the incumbent (verify's refutation search).
    progress : object with ``task(description, total)``, optional
    max_nodes : int, optional
        Stop the branch and bound after this many node bounds (tests; sound either way).

    Returns
    -------
    MBound
    """
    t0 = time.perf_counter()
    Xt, nu = _check_inputs(Xt, nu, free_bias)
    n, dt = Xt.shape
    details: dict = {"n": n, "dt": dt, "free_bias": bool(free_bias)}

    def done(upper, method, inc, complete_target=False, nodes=0):
        return _result(upper, method, inc, stop_below, stop_above, t0, details, complete_target, nodes)

    if _too_large(Xt) or _too_large(nu):
        # the rounding bounds assume no overflow in squares and products
        details["reason"] = (f"entries of Xt or nu above 2^{SCALE_EXP} in magnitude: no sound "
                             "bound is computed (rescale the data)")
        return done(math.inf, "norm", _Incumbent(Xt, nu, free_bias, 0.0))
    # entries below 2^-SCALE_EXP are set to 0 (no underflow in the rounding analysis); on the
    # unit ball f moves by at most sum_k |nu_k| ||xt_k - xt'_k|| + sum_k |nu_k - nu'_k| ||xt'_k||
    tiny = 2.0**-SCALE_EXP
    Xs = np.where(np.abs(Xt) < tiny, 0.0, Xt)
    nus = np.where(np.abs(nu) < tiny, 0.0, nu)
    shift = 0.0
    if np.any(Xs != Xt) or np.any(nus != nu):
        # row norms of the change (t_k changes by at most that on the ball, whatever the bias)
        dx = np.sqrt(np.sum(Xs != Xt, axis=1)) * tiny
        dnu = np.where(nus != nu, tiny, 0.0)
        shift = _up(float(np.abs(nu) @ dx) + float(dnu @ _row_norms_up(Xs)), n + 2) * 2.0 + 1e-300
        if free_bias and math.fsum(nus.tolist()) != 0.0:
            # keep the exact zero sum: only Xt is cleaned (tiny nu_k stay; their squares may
            # underflow, an absolute error below n 2^-400 in the norms)
            nus = nu
            shift = _up(float(np.abs(nu) @ dx), n + 2) * 2.0 + 1e-300
        details["scale_shift"] = shift
    res = _bound(Xs, nus, free_bias, stop_below - shift, stop_above + shift, time_limit, starts,
                 progress, max_nodes, details, t0, more_starts)
    if shift > 0.0:
        res.upper = res.upper + shift
        if res.argmax is not None:
            res.lower = res.sign * float(_f(Xt, nu, res.argmax[:, None])[0])
        res.complete = res.complete and _settled(res.upper, res.lower, stop_below, stop_above)
    return res


def _finite_columns(starts, dt: int, name: str) -> np.ndarray:
    """Start directions as the finite columns of a (dt, S) array (a vector is one column)."""
    st = np.asarray(starts, dtype=np.float64)
    if st.ndim == 1:
        st = st[:, None]
    if st.shape[0] != dt:
        raise ValueError(f"{name} must have {dt} rows, got shape {st.shape}")
    return st[:, np.all(np.isfinite(st), axis=0)]


def _bound(Xt, nu, free_bias, stop_below, stop_above, time_limit, starts, progress, max_nodes,
           details, t0, more_starts=None) -> MBound:
    """bound_dual_constraint on data whose non-zero entries are in range."""
    n, dt = Xt.shape

    def done(upper, method, inc, complete_target=False, nodes=0):
        return _result(upper, method, inc, stop_below, stop_above, t0, details, complete_target, nodes)

    if free_bias:
        X = Xt[:, :-1]
        R = _up(float(np.max(np.linalg.norm(X, axis=1))) if n else 0.0, X.shape[1] + 2)
        inc = _Incumbent(Xt, nu, True, R)
        if math.fsum(nu.tolist()) != 0.0:
            details["reason"] = "1^T nu != 0 with a free hidden bias: M is unbounded"
            return done(math.inf, "norm", inc)
        A = X
    else:
        R = 0.0
        inc = _Incumbent(Xt, nu, False, 0.0)
        A = Xt
    if n == 0 or not np.any(nu) or (not np.any(A) and not free_bias):
        details["reason"] = "nu = 0 or no non-zero row: f = 0"
        return done(0.0, "norm", inc, complete_target=True)

    # 1. norm bounds (on the original rows: they need no reduction)
    cheap = _norm_bounds(A, nu, free_bias, R)
    details["all_active"] = cheap.pop("all_active", None)  # attained (free bias), not a bound
    details["sigma_max"] = cheap.pop("sigma_max", None)
    details["sigma_method"] = cheap.pop("sigma_method", None)
    details["cheap_bounds"] = cheap
    upper = min(cheap.values())
    method = "norm"
    if not free_bias:
        sf = _spike_free(A)
        details["spike_free"] = sf
        if sf["kind"] is not None:
            method = "spike-free"

    # incumbent: directions from the data, the caller, random, the weighted-norm maximizers
    rng = np.random.default_rng(0)
    S = [Xt.T @ np.maximum(nu, 0.0), Xt.T @ np.maximum(-nu, 0.0), Xt.T @ nu]
    pick = np.linspace(0, n - 1, min(n, DATA_STARTS)).astype(int)
    cols = [np.column_stack(S), Xt[pick].T, rng.standard_normal((dt, RANDOM_STARTS))]
    if starts is not None:
        cols.append(_finite_columns(starts, dt, "starts"))
    if not free_bias:
        # for orthogonal rows, Y^T w_+ is the maximizer (module docstring, spike-free data)
        qn = np.linalg.norm(A, axis=1)
        nz = qn > 0
        Y = np.zeros_like(A)
        Y[nz] = A[nz] / qn[nz, None]
        ws = nu * qn
        for sg in (1.0, -1.0):
            cols.append((Y.T @ np.maximum(sg * ws, 0.0))[:, None])
    Z = np.hstack(cols)
    inc.offer(Z)
    for sg in (1.0, -1.0):
        U, _ = ascend(Xt, sg * nu, Z.copy(), steps=ROOT_ASCENT_STEPS)
        inc.offer(U)
    done_now = done(upper, method, inc)
    if done_now.complete:
        return done_now
    if more_starts is not None:
        more = more_starts()
        if more is not None and np.size(more):
            inc.offer(_finite_columns(more, dt, "more_starts"))
            done_now = done(upper, method, inc)
            if done_now.complete:
                return done_now

    # rank reduction of the penalized block
    Q, V, rho, E_up, r = _reduce(A)
    nu_norm = _norm_up(nu)
    details["rank"] = r
    details["reduced"] = V is not None
    if V is not None:
        details["reduction"] = {"rho": rho, "residual_norm": E_up}

    def lift(b):
        return _up(rho * b, 2) + _up(nu_norm * E_up, 2) if V is not None else b

    R_core = R
    if V is not None and free_bias:
        R_core = _up(float(np.max(np.linalg.norm(Q, axis=1))), r + 2)
    if r == 1 and not free_bias and Q.shape[1] == 1:
        q = Q[:, 0]
        ex = lift(_rank_one_exact(q, nu))
        details["cheap_bounds"]["rank_one_exact"] = ex
        if np.all(q >= 0) or np.all(q <= 0):
            details["spike_free"]["kind"] = "rank one with a one-signed left factor"
            method = "spike-free"
        upper = min(upper, ex)
        v1 = V[:, 0] if V is not None else np.ones(1)
        inc.offer(np.column_stack([v1, -v1]))
        done_now = done(upper, method, inc)
        if done_now.complete:
            return done_now

    # 2. relaxation and 3. branch and bound
    prob = _Problem(Q, nu, free_bias, R_core)
    res = _branch_and_bound(prob, inc, V, lift, upper, stop_below, stop_above, time_limit,
                            progress, max_nodes, details, t0)
    bb_upper, nodes, root = res
    details["root_bound"] = root
    if root is not None and root < upper:
        upper, method = root, "relaxation"
    if bb_upper < upper:
        upper, method = bb_upper, "branch-and-bound"
    out = done(upper, method, inc, nodes=nodes)
    if nodes and out.seconds > 0:
        details["nodes_per_second"] = nodes / out.seconds
    return out


def _branch_and_bound(prob, inc, V, lift, cheap_upper, stop_below, stop_above, time_limit,
                      progress, max_nodes, details, t0):
    """Best-first branch and bound; returns (sound upper bound, nodes bounded, root bound)."""
    n = prob.n
    stats: dict = {}
    deadline = t0 + float(time_limit)
    node_bytes = n * (1 + 16) + 200
    max_open = max(16, int(MAX_NODE_BYTES // node_bytes))

    def to_original(v):
        if V is None:
            return v
        if prob.free:
            return np.append(V @ v[:-1], v[-1])
        return V @ v

    def offer(v, sg):
        if v is None:
            return
        vo = to_original(v)
        inc.offer(vo)
        U, _ = ascend(inc.Xt, sg * inc.nu, vo[:, None].copy(), steps=NODE_ASCENT_STEPS)
        inc.offer(U)

    heap: list = []
    counter = 0
    nodes = 0
    closed = -math.inf
    root_vals = []
    hK0 = prob.hK_rows
    for sg in (1, -1):
        node = _Node(sg, np.zeros(n, np.int8), -hK0.copy(), hK0.copy())
        if not prob.free:
            node.state[prob.zero] = -1
        b, c = _solve_node(prob, node, stats)
        nodes += 1
        node.bound = b
        node.v = prob.argmax_K(c)
        offer(node.v, sg)
        root_vals.append(b)
        heapq.heappush(heap, (-b, counter, node))
        counter += 1
    root = lift(max(root_vals))

    task = None
    last_show = 0.0
    stop = "exhausted"
    try:
        while heap:
            top = -heap[0][0]
            upper_now = lift(max(top, closed))
            if upper_now <= stop_below:
                stop = "upper <= stop_below"
                break
            if inc.value > stop_above:
                stop = "lower > stop_above"
                break
            if time.perf_counter() >= deadline:
                stop = "time limit"
                break
            if max_nodes is not None and nodes >= max_nodes:
                stop = "node limit"
                break
            if len(heap) >= max_open:
                stop = "memory limit"
                break
            if progress is not None and time.perf_counter() - last_show >= PROGRESS_EVERY:
                if task is not None and hasattr(task, "close"):
                    task.close()
                task = progress.task(
                    f"Bounding M: {inc.value:.6g} <= M <= {min(upper_now, cheap_upper):.6g} "
                    f"({nodes} nodes, {len(heap)} open)", None)
                last_show = time.perf_counter()
            _, _, node = heapq.heappop(heap)
            thr = max(inc.value * (1.0 + BNB_REL_GAP), stop_below)
            if node.bound <= thr:
                closed = max(closed, node.bound)
                continue
            j = _branch_row(prob, node)
            if j is None:  # a leaf: the relaxation is exact
                closed = max(closed, node.bound)
                continue
            for side in (1, -1):
                child = _Node(node.sg, node.state.copy(), node.lo.copy(), node.hi.copy(),
                              depth=node.depth + 1)
                _tighten(prob, child, j, side)
                if TIGHTEN_ITERATIONS:
                    _tighten_all(prob, child)
                thr = max(inc.value * (1.0 + BNB_REL_GAP), stop_below)
                b = math.inf
                if node.w is not None:
                    b, c = _inherited_bound(prob, child, node.w)
                if b <= thr:
                    stats["pruned_without_solve"] = stats.get("pruned_without_solve", 0) + 1
                    closed = max(closed, min(b, node.bound))
                    continue
                b, c = _solve_node(prob, child, stats)
                nodes += 1
                child.bound = min(b, node.bound)
                child.v = prob.argmax_K(c)
                offer(child.v, node.sg)
                if task is not None:
                    task(1)
                if child.bound <= max(inc.value * (1.0 + BNB_REL_GAP), stop_below):
                    closed = max(closed, child.bound)
                else:
                    heapq.heappush(heap, (-child.bound, counter, child))
                    counter += 1
    finally:
        if task is not None and hasattr(task, "close"):
            task.close()
    open_max = -heap[0][0] if heap else -math.inf
    upper_core = max(open_max, closed, 0.0)
    details["bnb"] = {"stop": stop, "open_nodes": len(heap), "closed_max": lift(max(closed, 0.0)),
                      "open_max": lift(open_max) if heap else None, **stats}
    return lift(upper_core), nodes, root
