"""Activation patterns of the data: the cells of the arrangement {u : xt_k^T u = 0}.

Two jobs share one engine:

* **enumerate** every activation pattern s = 1[Xt u > 0] of a full-dimensional cell
  (MATH.md section 1), exactly, also for data not in general position;
* compute the **dual constraint value** M(nu) = max_{||u|| <= 1} |nu^T (Xt u)_+|
  (MATH.md section 5) exactly over all cells, with an a-priori floating-point error bound.

The engine (``_explore``) rests on two facts about a central arrangement in a subspace S:

1. every cell has a facet on some hyperplane H_k, and the cells that touch H_k from either
   side are the lifts of the cells of the restricted arrangement in S ∩ H_k; so the cells of
   S are the union over k of those lifts (each cell appears once per facet);
2. on a cell the function f(u) = nu^T (Xt u)_+ is linear, u -> h^T u; its maximum over the
   unit sphere of the cell is ||h|| when h/||h|| lies in the cell, and otherwise lies on the
   cell's boundary, i.e. on some H_k.  Hence max_S f = max(max_k max_{S ∩ H_k} f, interior
   candidates), and a candidate h/||h|| is valid exactly when f(h/||h||) = ||h||.

The recursion stops at dimension 2, where the hyperplanes are lines through the origin and
an angular sweep visits every cell in order with an O(1) update per crossing, and at
dimension 1. Cost: about n^(r-2) sweeps of O(n log n) each for rank r, plus the cells' interior
candidates that survive a norm filter.

Degeneracy (duplicate, parallel, zero or rank-deficient rows) is handled by explicit
tolerances (below). Their effect on M is bounded and added to the reported error bound;
for enumeration they decide ties, which is exact for data whose genuine distinctions are
larger than the tolerances (integer and float data of ordinary size).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .errors import TooLargeError

#: A row whose projection on the current subspace is below RANK_TOL times the largest
#: singular value of Xt is treated as zero there; singular values below it are dropped.
RANK_TOL = 1e-12
#: Two rows define the same hyperplane of a subspace when the sine of their angle is below this.
PARALLEL_TOL = 1e-10
#: Crossings of the 2-D sweep closer than this (radians) are one crossing.
ANGLE_TOL = 1e-12
#: Unit roundoff.
UNIT = 2.0**-53
#: Refuse exact work beyond this many cells (time and memory on a 2-core, 24 GiB machine).
MAX_CELLS = 3e7
#: Refuse to materialize explicit patterns beyond this many pattern entries (cells * n).
MAX_PATTERN_ENTRIES = 4e8


def cover_count(n: int, r: int) -> int:
    """Cells of n central hyperplanes in general position in R^r: 2 sum_{k<r} C(n-1, k)."""
    if n == 0 or r == 0:
        return 1
    return 2 * sum(math.comb(n - 1, k) for k in range(min(r, n)))


@dataclass
class SphereMax:
    """Max over the unit sphere of +f and -f with their maximizers (original coordinates)."""

    plus: float = -np.inf
    plus_at: np.ndarray | None = None
    minus: float = -np.inf
    minus_at: np.ndarray | None = None

    def update(self, value: float, point: np.ndarray, sign: int) -> None:
        if sign > 0 and value > self.plus:
            self.plus, self.plus_at = float(value), point
        elif sign < 0 and value > self.minus:
            self.minus, self.minus_at = float(value), point

    def merge(self, other: "SphereMax") -> None:
        if other.plus_at is not None:
            self.update(other.plus, other.plus_at, +1)
        if other.minus_at is not None:
            self.update(other.minus, other.minus_at, -1)

    @property
    def value(self) -> float:
        return max(self.plus, self.minus, 0.0)


@dataclass
class _Ctx:
    nu: np.ndarray | None  # weights of the rows (None: enumeration only)
    margin: float  # validity margin of interior candidates (error scale of f)
    progress: object | None = None
    cells_seen: int = 0
    candidates_checked: int = 0


@dataclass
class ArrangementResult:
    """What :func:`analyze` found.

    Attributes
    ----------
    patterns : (p, n) bool or None
        The distinct activation patterns of the full-dimensional cells (zero rows are 0).
    M : float or None
        Computed max_{||u||<=1} |nu^T (Xt u)_+|.
    M_error : float
        Bound on |computed - exact| for M (rounding, tolerances, dropped rank).
    argmax : (dt,) or None
        A unit vector where |f| is (about) M; ``argmax_sign`` says whether f or -f.
    rank : int
        Rank of Xt used (singular values above RANK_TOL * largest).
    cells_visited : int
        Cells visited by the engine, with repetitions (one per facet).
    """

    patterns: np.ndarray | None
    M: float | None
    M_error: float
    argmax: np.ndarray | None
    argmax_sign: int
    rank: int
    n_rows_used: int
    cells_visited: int
    candidates_checked: int
    tolerances: dict = field(default_factory=dict)

    @property
    def n_patterns(self) -> int | None:
        return None if self.patterns is None else int(self.patterns.shape[0])


def tolerances() -> dict:
    return {
        "rank_tol": RANK_TOL,
        "parallel_tol": PARALLEL_TOL,
        "angle_tol": ANGLE_TOL,
    }


def estimate_cells(Xt: np.ndarray) -> tuple[int, int]:
    """(rank, general-position cell count) of the arrangement of Xt's rows."""
    Xt = np.asarray(Xt, dtype=np.float64)
    nz = np.linalg.norm(Xt, axis=1) > 0
    if not np.any(nz):
        return 0, 1
    s = np.linalg.svd(Xt[nz], compute_uv=False)
    r = int(np.sum(s > RANK_TOL * s[0]))
    return r, cover_count(int(nz.sum()), r)


def analyze(
    Xt: np.ndarray,
    nu: np.ndarray | None = None,
    *,
    patterns: bool = False,
    progress=None,
    max_cells: float = MAX_CELLS,
) -> ArrangementResult:
    """Enumerate the cells of the arrangement of Xt's rows and/or compute M(nu).

    Parameters
    ----------
    Xt : (n, dt) array
        Augmented data (rows xt_k).
    nu : (n,) array, optional
        Dual weights; when given, M(nu) = max_{||u||_2 <= 1} |nu^T (Xt u)_+| is computed.
    patterns : bool
        Return the distinct activation patterns (bool (p, n)).
    progress : object with ``task(description, total)``, optional
    max_cells : float
        Refuse (TooLargeError) when the general-position cell count exceeds this.
    """
    Xt = np.asarray(Xt, dtype=np.float64)
    n, dt = Xt.shape
    norms = np.linalg.norm(Xt, axis=1)
    keep = np.flatnonzero(norms > 0)
    r, est = estimate_cells(Xt)
    if est > max_cells:
        raise TooLargeError(
            f"exact enumeration needs about {est:.3g} activation patterns "
            f"(n={n}, rank {r}), more than the limit {max_cells:.3g}; "
            "use sampled patterns (solve --patterns N) or fewer samples"
        )
    if patterns and est * n > MAX_PATTERN_ENTRIES:
        raise TooLargeError(
            f"the exact pattern list would have about {est:.3g} patterns of {n} samples, "
            f"more than fits in memory here; use sampled patterns (--patterns N)"
        )
    nu_k = None if nu is None else np.asarray(nu, dtype=np.float64)[keep]
    A = Xt[keep]
    if r == 0:
        pats = np.zeros((1, n), dtype=bool) if patterns else None
        return ArrangementResult(pats, 0.0 if nu is not None else None, 0.0, None, 1, 0, 0, 1, 0, tolerances())
    _, s, Vt = np.linalg.svd(A, full_matrices=False)
    Vr = Vt[:r].T  # (dt, r) orthonormal basis of the row space
    Q = A @ Vr  # (m, r) coordinates of the rows
    dropped_sigma = float(s[r]) if r < s.size else 0.0

    margin = 0.0
    S = 0.0
    if nu_k is not None:
        S = float(np.abs(nu_k) @ np.linalg.norm(A, axis=1))
        m = A.shape[0]
        # a-priori error scale of any computed f value, cell gradient or candidate norm:
        # sums of at most 2m terms |nu_l| ||xt_l||, projections in r dims, nested r levels.
        margin = 32.0 * (2 * m + 4 * r + 8) * UNIT * S * (r + 1)
    ctx = _Ctx(nu=nu_k, margin=margin, progress=progress)
    payload = np.eye(A.shape[0]) if patterns else np.zeros((A.shape[0], 0))
    sums, smax, _, _ = _explore(Q, payload, Vr, ctx, top=True)

    pats = None
    if patterns:
        inner = sums > 0.5
        inner = np.unique(inner, axis=0)
        pats = np.zeros((inner.shape[0], n), dtype=bool)
        pats[:, keep] = inner
    M = M_err = None
    argmax, sign = None, 1
    if nu_k is not None:
        M = smax.value
        if smax.plus >= smax.minus:
            argmax, sign = smax.plus_at, 1
        else:
            argmax, sign = smax.minus_at, -1
        # Tolerances: a misjudged tie or a near-parallel row hides at most a sliver of
        # angular width ~ tol, on which f moves by at most S * width.
        M_err = (
            margin
            + S * (PARALLEL_TOL + ANGLE_TOL) * 4
            + dropped_sigma * float(np.linalg.norm(nu_k))
        )
    return ArrangementResult(
        patterns=pats,
        M=M,
        M_error=float(M_err) if M_err is not None else 0.0,
        argmax=argmax,
        argmax_sign=sign,
        rank=r,
        n_rows_used=int(keep.size),
        cells_visited=ctx.cells_seen,
        candidates_checked=ctx.candidates_checked,
        tolerances=tolerances(),
    )


# ----------------------------------------------------------------------------- the engine

_NO_ROWS = np.zeros((1, 0), dtype=np.intp)
_NO_ACT = np.zeros((1, 0), dtype=bool)


def _explore(Q, payload, E, ctx: _Ctx, top=False):
    """Cells of the arrangement of rows Q (m, s) in R^s, and max of +-f on the sphere.

    Returns (sums, smax): ``sums[c] = sum_{l active in cell c} payload[l]`` for every cell
    (with repetitions), and the SphereMax of f(z) = nu^T (Q z)_+ over ||z|| = 1, with points
    mapped by the embedding E (dt, s) to original coordinates.
    """
    m, s = Q.shape
    if s == 1:
        return _explore_1d(Q, payload, E, ctx)
    if m == 0:
        smax = SphereMax()
        if ctx.nu is not None:
            smax.update(0.0, E[:, 0].copy(), +1)
            smax.update(0.0, E[:, 0].copy(), -1)
        ctx.cells_seen += 1
        return np.zeros((1, payload.shape[1])), smax, _NO_ROWS, _NO_ACT
    if s == 2:
        return _sweep_2d(Q, payload, E, ctx)

    nu = ctx.nu
    # gradient prefix: the child returns, per cell, sum of nu_l Q_l (this level's coordinates)
    grad_rows = (nu[:, None] * Q) if nu is not None else np.zeros((m, 0))
    ext = np.hstack([grad_rows, payload])
    g = grad_rows.shape[1]
    norms = np.linalg.norm(Q, axis=1)
    unit = Q / norms[:, None]
    assigned = np.zeros(m, dtype=bool)
    pieces, rows_p, act_p = [], [], []
    smax = SphereMax()
    reps = []
    for k in range(m):
        if assigned[k]:
            continue
        cosk = unit @ unit[k]
        sin = np.linalg.norm(unit - cosk[:, None] * unit[k][None, :], axis=1)
        group = (sin <= PARALLEL_TOL) & ~assigned
        group[k] = True
        assigned |= group
        reps.append((k, group, np.sign(cosk)))
    task = None
    if top and ctx.progress is not None:
        task = ctx.progress.task("Exploring activation patterns", total=len(reps))
    try:
        for k, group, orient in reps:
            # orthonormal basis of the hyperplane unit[k]^perp inside R^s
            _, _, vt = np.linalg.svd(unit[k][None, :])
            B = vt[1:].T  # (s, s-1)
            rest = ~group
            child_Q = Q[rest] @ B
            child_ext = ext[rest]
            saved = ctx.nu
            ctx.nu = None if nu is None else nu[rest]
            child_sums, child_max, c_rows, c_act = _explore(child_Q, child_ext, E @ B, ctx)
            ctx.nu = saved
            smax.merge(child_max)
            plus = ext[group & (orient > 0)].sum(axis=0)
            minus = ext[group & (orient < 0)].sum(axis=0)
            pieces.append(child_sums + plus[None, :])
            pieces.append(child_sums + minus[None, :])
            # known signs of each lifted cell: the child's (re-indexed) and row k itself
            rest_idx = np.flatnonzero(rest)
            mapped = rest_idx[c_rows] if c_rows.size else c_rows.reshape(child_sums.shape[0], 0)
            kcol = np.full((child_sums.shape[0], 1), k)
            rows_p += [np.hstack([mapped, kcol]), np.hstack([mapped, kcol])]
            act_p += [np.hstack([c_act, np.ones_like(kcol, dtype=bool)]),
                      np.hstack([c_act, np.zeros_like(kcol, dtype=bool)])]
            if task is not None:
                task(1)
    finally:
        if task is not None and hasattr(task, "close"):
            task.close()
    sums = np.vstack(pieces)
    rows, act = np.vstack(rows_p), np.vstack(act_p)
    ctx.cells_seen += sums.shape[0]
    if nu is not None:
        _interior_candidates(Q, nu, sums[:, :g], E, ctx, smax, rows, act)
    return sums[:, g:], smax, rows, act


def _interior_candidates(Q, nu, H, E, ctx: _Ctx, smax: SphereMax, rows, act, chunk: int = 4096):
    """Cells whose gradient h points into the cell: max of f there is ||h|| at h/||h||.

    A candidate matters only if ||h|| exceeds what is already known; it is valid iff
    f(h/||h||) = ||h|| (for +f) or f(-h/||h||) = -||h|| (for -f), checked with ctx.margin.
    Before that O(n) check, an O(1) necessary one: h/||h|| (resp. -h/||h||) must lie on the
    cell's side of the few facet rows whose signs are known (``rows``, ``act``). A candidate
    cut there lies outside its closed cell, so its cell's maximum is on a hyperplane (covered).
    """
    hn = np.linalg.norm(H, axis=1)
    known = max(smax.plus, smax.minus, 0.0)
    idx = np.flatnonzero(hn > known)
    if idx.size and rows.shape[1]:
        dots = np.einsum("ckj,cj->ck", Q[rows[idx]], H[idx])
        okp = np.all(np.where(act[idx], dots >= 0, dots <= 0), axis=1)
        okm = np.all(np.where(act[idx], dots <= 0, dots >= 0), axis=1)
        idx = idx[okp | okm]
    if idx.size == 0:
        return
    # larger norms first, so that the threshold rises quickly
    idx = idx[np.argsort(-hn[idx], kind="stable")]
    for start in range(0, idx.size, chunk):
        sel = idx[start : start + chunk]
        known = max(smax.plus, smax.minus, 0.0)
        sel = sel[hn[sel] > known]
        if sel.size == 0:
            break
        Z = H[sel] / hn[sel][:, None]  # (c, s)
        P = Q @ Z.T  # (m, c)
        fplus = nu @ np.maximum(P, 0.0)
        fminus = nu @ np.maximum(-P, 0.0)  # f(-z)
        ctx.candidates_checked += sel.size
        okp = fplus >= hn[sel] - ctx.margin
        okm = -fminus >= hn[sel] - ctx.margin
        if np.any(okp):
            j = int(np.argmax(np.where(okp, hn[sel], -np.inf)))
            smax.update(float(hn[sel][j]), E @ Z[j], +1)
        if np.any(okm):
            j = int(np.argmax(np.where(okm, hn[sel], -np.inf)))
            smax.update(float(hn[sel][j]), -(E @ Z[j]), -1)


def _explore_1d(Q, payload, E, ctx: _Ctx):
    """R^1: the two half-lines z = +1 and z = -1."""
    q = Q[:, 0]
    pos, neg = q > 0, q < 0
    sums = np.vstack([payload[pos].sum(axis=0), payload[neg].sum(axis=0)])
    ctx.cells_seen += 2
    smax = SphereMax()
    if ctx.nu is not None:
        nu = ctx.nu
        e = E[:, 0]
        fp = float(nu @ np.maximum(q, 0.0))  # f(+1)
        fm = float(nu @ np.maximum(-q, 0.0))  # f(-1)
        smax.update(fp, e.copy(), +1)
        smax.update(-fp, e.copy(), -1)
        smax.update(fm, -e, +1)
        smax.update(-fm, -e, -1)
    return sums, smax, _NO_ROWS.reshape(2, 0), _NO_ACT.reshape(2, 0)


def _sweep_2d(Q, payload, E, ctx: _Ctx):
    """R^2: sweep the angle; row l is active on the open half-circle around its direction.

    Row l enters at a_l = phi_l - pi/2 and leaves at e_l = phi_l + pi/2 (mod 2 pi).
    Cells are the arcs between consecutive distinct crossings.
    """
    m = Q.shape[0]
    nu = ctx.nu
    two_pi = 2.0 * np.pi
    phi = np.arctan2(Q[:, 1], Q[:, 0])
    a = np.mod(phi - np.pi / 2, two_pi)
    e = np.mod(phi + np.pi / 2, two_pi)
    grad_rows = (nu[:, None] * Q) if nu is not None else np.zeros((m, 0))
    ext = np.hstack([grad_rows, payload])
    g = grad_rows.shape[1]
    theta = np.concatenate([a, e])
    delta = np.vstack([ext, -ext])
    order = np.argsort(theta, kind="stable")
    theta = theta[order]
    delta = delta[order]
    # active just before the first crossing: rows whose exit comes before their entry
    start = ext[e < a].sum(axis=0)
    states = start[None, :] + np.cumsum(delta, axis=0)  # state after each crossing
    # arc j runs from theta[j] to theta[j+1] (the last one wraps around)
    nxt = np.append(theta[1:], theta[0] + two_pi)
    length = nxt - theta
    keep = length > ANGLE_TOL
    if not np.any(keep):  # cannot happen (entries and exits are pi apart); be safe
        keep[:] = True
    ev_row = order % m
    ev_entry = order < m
    nxt_i = np.append(np.arange(1, 2 * m), 0)
    # the rows of the crossings bounding each arc, and whether they are active on it
    rows = np.column_stack([ev_row, ev_row[nxt_i]])[keep]
    act = np.column_stack([ev_entry, ~ev_entry[nxt_i]])[keep]
    states, lo, hi = states[keep], theta[keep], nxt[keep]
    ctx.cells_seen += states.shape[0]
    smax = SphereMax()
    if nu is not None:
        H = states[:, :g]  # (c, 2) gradient of f on each arc
        hn = np.linalg.norm(H, axis=1)
        psi = np.arctan2(H[:, 1], H[:, 0])
        for sgn in (+1, -1):
            direction = psi if sgn > 0 else psi + np.pi
            inside = np.mod(direction - lo, two_pi) <= (hi - lo)
            v_lo = sgn * (H[:, 0] * np.cos(lo) + H[:, 1] * np.sin(lo))
            v_hi = sgn * (H[:, 0] * np.cos(hi) + H[:, 1] * np.sin(hi))
            best = np.maximum(v_lo, v_hi)
            at = np.where(v_lo >= v_hi, lo, hi)
            best = np.where(inside & (hn > 0), hn, best)
            at = np.where(inside & (hn > 0), direction, at)
            j = int(np.argmax(best))
            z = np.array([np.cos(at[j]), np.sin(at[j])])
            smax.update(float(best[j]), E @ z, sgn)
    return states[:, g:], smax, rows, act


def f_value(Xt: np.ndarray, nu: np.ndarray, u: np.ndarray) -> float:
    """f(u) = nu^T (Xt u)_+."""
    return float(nu @ np.maximum(Xt @ u, 0.0))


# ----------------------------------------------------------------------------- patterns


def network_patterns(Xt: np.ndarray, Ut: np.ndarray) -> np.ndarray:
    """Patterns 1[Xt ut_j > 0] of the neurons, shape (n_neurons, n_samples), distinct."""
    if Ut.shape[1] == 0:
        return np.zeros((0, Xt.shape[0]), dtype=bool)
    return np.unique((Xt @ Ut > 0).T, axis=0)


def sample_patterns(Xt: np.ndarray, n_patterns: int, seed: int = 0) -> np.ndarray:
    """Patterns of Gaussian random directions, deduplicated (at most n_patterns)."""
    rng = np.random.default_rng(seed)
    G = rng.standard_normal((Xt.shape[1], n_patterns))
    return np.unique((Xt @ G > 0).T, axis=0)


def brute_force_patterns(Xt: np.ndarray) -> np.ndarray:
    """All patterns by testing every sign vector with an exact-ish LP (test oracle, n <= 12).

    A pattern s is a full-dimensional cell iff there is u with (2s-1)_k xt_k^T u >= 1 for
    every non-zero row (scale invariance turns "> 0" into ">= 1"). Zero rows get 0.
    """
    from scipy.optimize import linprog

    n, dt = Xt.shape
    nz = np.flatnonzero(np.linalg.norm(Xt, axis=1) > 0)
    out = []
    for bits in range(2 ** nz.size):
        s = np.array([(bits >> i) & 1 for i in range(nz.size)], dtype=float)
        sg = 2 * s - 1
        A = -(sg[:, None] * Xt[nz])
        res = linprog(np.zeros(dt), A_ub=A, b_ub=-np.ones(nz.size), bounds=[(None, None)] * dt, method="highs")
        if res.status == 0:
            full = np.zeros(n, dtype=bool)
            full[nz] = s > 0
            out.append(full)
    if not out:
        out.append(np.zeros(n, dtype=bool))
    return np.unique(np.array(out), axis=0)
