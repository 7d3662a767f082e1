"""The set of optimal networks (docs/constructive.md, "optimal-set"; paper 000 section 3.1, App. D).

With every activation pattern enumerated, the convex program (docs/constructive.md, eq. 4)

    P* = min_W loss( sum_b sg_b D_b Xt w_b [+ c] ) + beta sum_b N(w_b)  s.t.  w_b in C_b

has one block b = (pattern, sign sg) per cell and sign. What is computed:

1. P*: ``solve`` (exact column generation, certified lower bound).
2. Blocks that can be non-zero in *some* optimum: lam = grad loss(yhat*) is the same for every
   optimum (the loss is strictly convex in yhat, so yhat* is unique), and complementary
   slackness allows w_b != 0 only where the block's dual constraint is tight:
   max_{w in C_b, ||w|| <= 1} -sg g_b^T w = beta, g_b = Xt^T D_b lam (one NNLS per block).
   Blocks below beta - margin are zero in every optimum: margin = TIGHT_RTOL beta, and for the
   squared loss at least sigma_max(Xt) sqrt(2 (L - lower bound)), a bound on how far the value
   at the computed lam can be from the value at lam*.
3. The optimal face: yhat* is unique and so is the penalty R* = sum_b N(w_b) (and c with a
   penalized output bias), so W is optimal iff it is feasible, predicts yhat* and has
   sum_b N(w_b) <= R*. Numerically: a first solution W0 of the program over the candidate
   blocks (Clarabel), yhat0 and R0 read off it, and the face
   F = {W in cones : pred(W) [+ c] = yhat0, sum N(w_b) <= R0 (1 + FACE_RTOL) + FACE_RTOL}
   (FACE_RTOL_RETRY instead when a program fails on that thin face).
4. Uniqueness (App. D): min and max of every coordinate of W over F (one SOCP each); W* is
   unique when every spread max - min is at most UNIQUE_RTOL * max(1, max |W0|).
5. m* = min ||W||_0 over the optimal set: an upper bound from reweighted l1 on F (each iterate is
   optimal; the sparsest is re-solved on its support alone and its network certified by
   verify), then supports of size m_ub - 1 among the candidate blocks: one whose restricted
   optimum reaches P* (and whose network verifies) becomes the new bound, one size down; when
   every one stays above P* (1 + FACE_RTOL) + ABS_SLACK no smaller support exists (any smaller
   one is a subset of them) and m* is proven. At most MAX_SUBSET_PROGRAMS programs; otherwise m*
   is reported as an upper bound.
6. The optimal networks of width m >= m* (Thm. 1, eq. 11): the splittings of psi(W) for optimal
   W with ||W||_0 <= m; ``sample_networks`` draws random ones (random convex combinations of the
   optimal W found, then random splittings).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError, TooLargeError
from ..model import Dataset, Model, Network, objective

#: A block is a candidate (can be non-zero in some optimum) when its dual constraint value is at
#: least beta (1 - TIGHT_RTOL); generous, because lam comes from a numerical optimum.
TIGHT_RTOL = 1e-4
#: Relative slack of the penalty on the optimal face, and of P* when a support is tested.
FACE_RTOL = 1e-9
#: The penalty slack of the face when a program fails with FACE_RTOL (a face that is nearly a
#: single point can stall the interior-point method); the spread it opens, about
#: sqrt(FACE_RTOL_RETRY) ~ 3e-4, stays below UNIQUE_RTOL.
FACE_RTOL_RETRY = 1e-7
#: Absolute slack added to the support test (the Clarabel programs are accurate to about 1e-10).
ABS_SLACK = 1e-9
#: W* is reported unique when every coordinate's spread over the face is at most this, relative
#: to max(1, max |W0|). The face's penalty slack FACE_RTOL can open a spread of about
#: sqrt(FACE_RTOL) ~ 3e-5 along directions where the penalty is flat to first order.
UNIQUE_RTOL = 1e-3
#: A block is non-zero when N(w_b) > BLOCK_RTOL * max(1, max_b N(w_b)).
BLOCK_RTOL = 1e-6
#: Reweighted-l1 rounds on the face and the smoothing of their weights 1 / (N(w_b) + delta).
REWEIGHT_ROUNDS = 6
REWEIGHT_DELTA = 1e-6
#: At most this many coordinate programs (2 per coordinate of a candidate block) for uniqueness.
MAX_COORDINATE_PROGRAMS = 800
#: At most this many restricted programs to prove that no support of size m_ub - 1 is optimal.
MAX_SUBSET_PROGRAMS = 400
#: Clarabel settings for the small programs of this module.
CLARABEL = {"tol_gap_abs": 1e-11, "tol_gap_rel": 1e-11, "tol_feas": 1e-11, "max_iter": 400}


@dataclass
class Blocks:
    """Blocks b = (pattern index, sign): (K,) arrays and their matrices."""

    pattern: np.ndarray  # (K,) index into patterns
    sign: np.ndarray  # (K,) +1 / -1
    patterns: np.ndarray  # (p, n) bool

    def __len__(self):
        return int(self.pattern.size)

    def subset(self, idx) -> Blocks:
        idx = np.asarray(idx, dtype=int)
        return Blocks(self.pattern[idx], self.sign[idx], self.patterns)


@dataclass
class BlockSolution:
    W: np.ndarray  # (K, dt)
    c: float | None
    value: float
    status: str


@dataclass
class OptimalSet:
    status: str  # "optimal" (P* certified and the set computed) or "inconclusive"
    reason: str
    P_star: float | None = None
    lower_bound: float | None = None
    m_star: int | None = None
    m_star_proven: bool = False
    unique: bool | None = None
    details: dict = field(default_factory=dict)
    blocks: list = field(default_factory=list)
    optima: list = field(default_factory=list)  # optimal W found (over `candidates`), for sampling
    candidates: Blocks | None = None
    c_optima: list = field(default_factory=list)
    sparsest: np.ndarray | None = None  # (K,) bool support of the sparsest optimum found
    sparsest_W: np.ndarray | None = None  # that optimum, (K, dt) over `candidates`
    sparsest_c: float | None = None

    def sparsest_network(self, model: Model) -> Network | None:
        """psi(W) of the sparsest optimum found (m_star non-zero neurons)."""
        if self.sparsest_W is None or self.candidates is None:
            return None
        return network_of(self.sparsest_W, self.sparsest_c, self.candidates, model)

    def to_dict(self) -> dict:
        from ..records import jsonable as _jsonable

        out = {"status": self.status, "reason": self.reason, "P_star": self.P_star,
               "lower_bound": self.lower_bound, "m_star": self.m_star,
               "m_star_is": "exact" if self.m_star_proven else ("upper bound" if self.m_star is not None else None),
               "unique": self.unique, "blocks": self.blocks}
        out.update(self.details)
        return _jsonable(out)


# ----------------------------------------------------------------------------- programs


def _norm_coords(model: Model, dt: int) -> int:
    return dt - 1 if model.hidden_bias == "free" else dt


def block_matrices(Xt: np.ndarray, blocks: Blocks):
    """M (n, K dt) with M x = sum_b sg_b D_b Xt w_b, and the cone rows A_b = (2 D_b - I) Xt."""
    import scipy.sparse as sp

    n, _dt = Xt.shape
    S = blocks.patterns[blocks.pattern].astype(np.float64)  # (K, n)
    M = (S.T[:, :, None] * Xt[:, None, :] * blocks.sign[None, :, None]).reshape(n, -1)
    A = sp.block_diag([((2 * s - 1.0)[:, None] * Xt) for s in S], format="csr") if len(blocks) else None
    return M, A


def _loss_expr(model: Model, z, y):
    import cvxpy as cp

    if model.loss == "squared":
        return 0.5 * cp.sum_squares(z - y)
    return cp.sum(cp.logistic(-cp.multiply(y, z)))


def solve_blocks(Xt, y, blocks: Blocks, model: Model) -> BlockSolution:
    """The convex program restricted to ``blocks`` (Clarabel through cvxpy)."""
    import cvxpy as cp

    n, dt = Xt.shape
    K = len(blocks)
    has_c = model.effective_output_bias != "none"
    c = cp.Variable() if has_c else None
    if K == 0:
        z = (c * np.ones(n)) if has_c else np.zeros(n)
        pen = 0
        cons = []
    else:
        M, A = block_matrices(Xt, blocks)
        x = cp.Variable(K * dt)
        Wv = cp.reshape(x, (K, dt), order="C")
        z = M @ x + (c if has_c else 0)
        pen = cp.sum(cp.norm(Wv[:, :_norm_coords(model, dt)], 2, axis=1))
        cons = [A @ x >= 0]
    obj = _loss_expr(model, z, y) + model.beta * pen
    if has_c and model.effective_output_bias == "penalized":
        obj = obj + 0.5 * model.beta * cp.square(c)
    prob = cp.Problem(cp.Minimize(obj), cons)
    try:
        _quiet_solve(prob)
    except cp.error.SolverError:
        return BlockSolution(np.zeros((K, dt)), None, math.inf, "solver_error")
    if prob.status not in ("optimal", "optimal_inaccurate") or K and x.value is None:
        return BlockSolution(np.zeros((K, dt)), None, math.inf, str(prob.status))
    W = np.asarray(x.value).reshape(K, dt) if K else np.zeros((0, dt))
    cval = float(c.value) if has_c else None
    return BlockSolution(W, cval, convex_value(Xt, y, blocks, W, cval, model), str(prob.status))


def _quiet_solve(prob) -> None:
    """Clarabel with CLARABEL settings; cvxpy's "may be inaccurate" warning is not printed (the
    status is checked, and every network built from a result is evaluated)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prob.solve(solver="CLARABEL", **CLARABEL)


def convex_value(Xt, y, blocks: Blocks, W, c, model: Model) -> float:
    """The program's objective at (W, c), in numpy."""
    z = block_prediction(Xt, blocks, W) + (c if c is not None else 0.0)
    val = model.loss_fn.value(z, y) + model.beta * float(np.sum(block_norms(W, model)))
    if c is not None and model.effective_output_bias == "penalized":
        val += 0.5 * model.beta * c * c
    return float(val)


def block_prediction(Xt, blocks: Blocks, W) -> np.ndarray:
    if len(blocks) == 0:
        return np.zeros(Xt.shape[0])
    S = blocks.patterns[blocks.pattern]
    return np.sum(S.T * (Xt @ W.T) * blocks.sign[None, :], axis=1)


def block_norms(W, model: Model) -> np.ndarray:
    if W.shape[0] == 0:
        return np.zeros(0)
    return np.linalg.norm(W[:, :_norm_coords(model, W.shape[1])], axis=1)


class Face:
    """The optimal face F over the candidate blocks, with a linear objective q^T [x; c]."""

    def __init__(self, Xt, blocks: Blocks, yhat0, R0, c0, model: Model):
        import cvxpy as cp

        _n, dt = Xt.shape
        K = len(blocks)
        M, A = block_matrices(Xt, blocks)
        self.dt, self.K = dt, K
        self.x = cp.Variable(K * dt)
        ob = model.effective_output_bias
        self.c = cp.Variable() if ob != "none" else None
        Wv = cp.reshape(self.x, (K, dt), order="C")
        norms = cp.norm(Wv[:, :_norm_coords(model, dt)], 2, axis=1)
        # penalty slack R0 FACE_RTOL + FACE_RTOL (the second term for R0 = 0), FACE_RTOL_RETRY when a
        # program fails on the thinner face
        self.R0 = R0
        self.slack = cp.Parameter(nonneg=True, value=(R0 + 1.0) * FACE_RTOL)
        self.used_rtol = FACE_RTOL
        cons = [A @ self.x >= 0, cp.sum(norms) <= R0 + self.slack]
        z = M @ self.x + (self.c if self.c is not None else 0)
        cons.append(z == yhat0)
        if ob == "penalized":
            cons.append(self.c == c0)
        self.q = cp.Parameter(K * dt)
        self.lin = cp.Problem(cp.Minimize(self.q @ self.x), cons)
        self.wts = cp.Parameter(K, nonneg=True)
        self.weighted = cp.Problem(cp.Minimize(self.wts @ norms), cons)

    def _solve(self, prob):
        import cvxpy as cp

        for rtol in (FACE_RTOL, FACE_RTOL_RETRY):
            self.slack.value = (self.R0 + 1.0) * rtol
            try:
                _quiet_solve(prob)
            except cp.error.SolverError:
                continue
            if prob.status in ("optimal", "optimal_inaccurate") and self.x.value is not None:
                self.used_rtol = max(self.used_rtol, rtol)
                c = float(self.c.value) if self.c is not None else None
                return np.asarray(self.x.value).reshape(self.K, self.dt), c
        return None

    def linear(self, q):
        self.q.value = q
        return self._solve(self.lin)

    def reweighted(self, w):
        self.wts.value = w
        return self._solve(self.weighted)


# ----------------------------------------------------------------------------- steps


def candidate_blocks(Xt, lam, patterns, model: Model, margin: float | None = None) -> tuple[Blocks, np.ndarray]:
    """Blocks whose dual constraint is tight at lam (module docstring, step 2), and the values.

    value_b = max_{w in C_b, ||w|| <= 1} -sg g_b^T w = ||projection of -sg g_b onto C_b|| (NNLS:
    min_{zeta >= 0} ||A_b^T zeta + sg g_b||); kept when value_b >= beta - margin (default
    TIGHT_RTOL beta). With a free hidden bias every block is kept.
    """
    from scipy.optimize import nnls

    G = (patterns * lam[None, :]) @ Xt
    pat, sgn, vals = [], [], []
    for i in range(patterns.shape[0]):
        if not patterns[i].any():
            continue
        A = (2 * patterns[i] - 1.0)[:, None] * Xt
        for sg in (1, -1):
            if model.hidden_bias == "free":
                v = math.inf
            else:
                _, v = nnls(A.T, sg * G[i], maxiter=50 * Xt.shape[1] + 100)
            if v >= model.beta - (TIGHT_RTOL * model.beta if margin is None else margin):
                pat.append(i), sgn.append(sg), vals.append(v)
    return Blocks(np.array(pat, dtype=int), np.array(sgn, dtype=int), patterns), np.array(vals)


def _support(W, model) -> np.ndarray:
    N = block_norms(W, model)
    full = np.linalg.norm(W, axis=1) if W.size else np.zeros(0)
    scale = max(1.0, float(full.max(initial=0.0)))
    return np.maximum(N, full) > BLOCK_RTOL * scale


#: Two neurons are one (merged) when the cosine of their directions exceeds 1 - MERGE_COS_TOL.
MERGE_COS_TOL = 1e-6


def neuron_measure(W, blocks: Blocks, model: Model) -> list[tuple[np.ndarray, int, float]]:
    """The network of W as a list of (unit direction, sign, weight N(w)), parallel neurons of one
    sign merged (whichever block holds them): equal for two W that differ only by moving a
    boundary neuron between adjacent blocks."""
    N = block_norms(W, model)
    atoms: list[tuple[np.ndarray, int, float]] = []
    for b in np.flatnonzero(_support(W, model)):
        e = W[b] / np.linalg.norm(W[b])
        sg = int(blocks.sign[b])
        for k, (e2, sg2, wt) in enumerate(atoms):
            if sg2 == sg and float(e @ e2) >= 1 - MERGE_COS_TOL:
                atoms[k] = (e2, sg2, wt + float(N[b]))
                break
        else:
            atoms.append((e, sg, float(N[b])))
    return atoms


def _mass(mu) -> float:
    return float(sum(wt for _, _, wt in mu))


def measure_distance(mu, nu) -> float:
    """Total weight that does not match between two neuron measures (same direction and sign)."""
    left = [wt for _, _, wt in nu]
    d = 0.0
    for e, sg, wt in mu:
        for k, (e2, sg2, _) in enumerate(nu):
            if sg2 == sg and float(e @ e2) >= 1 - MERGE_COS_TOL:
                d += abs(wt - left[k])
                left[k] = 0.0
                break
        else:
            d += wt
    return d + float(sum(abs(x) for x in left))


def network_of(W, c, blocks: Blocks, model: Model, split=None) -> Network:
    """psi(W) (paper eq. 9), each block's neuron optionally split (eq. 11).

    Block w gives (w / sqrt(N(w)), sg sqrt(N(w))); ``split``: {block index: gammas summing to 1}
    replaces it by (sqrt(g) w / sqrt(N(w)), sg sqrt(g) sqrt(N(w))) for each g.
    """
    N = block_norms(W, model)
    cols, al = [], []
    sup = np.flatnonzero(_support(W, model))
    for b in sup:
        for g in (split or {}).get(int(b), [1.0]):
            cols.append(np.sqrt(g) * W[b] / np.sqrt(N[b]))
            al.append(blocks.sign[b] * np.sqrt(g) * np.sqrt(N[b]))
    dt = W.shape[1]
    Ut = np.array(cols).T if cols else np.zeros((dt, 0))
    c_out = (c if c is not None else 0.0) if model.output_bias != "none" else None
    return Network.from_augmented(Ut, np.array(al, dtype=np.float64), model, c_out)


def optimal_set(data: Dataset, model: Model, *, progress=None, coordinate_budget: int = MAX_COORDINATE_PROGRAMS,
                subset_budget: int = MAX_SUBSET_PROGRAMS, tol: float = 1e-6) -> OptimalSet:
    """P*, m*, uniqueness and the optimal blocks (module docstring). Never raises for size.

    ``status`` is "inconclusive" (with ``reason``) when the patterns cannot all be enumerated,
    when P* is not certified within ``tol`` or when a program fails.
    """
    from ..arrangements import analyze
    from ..certificate import verify
    from ..solve import solve

    if model.hidden_bias == "free":
        return OptimalSet("inconclusive", "optimal-set handles hidden_bias none or penalized: with a free "
                          "hidden bias a constant can be split between blocks at no cost, so the optimal W "
                          "is never unique and its constant part is not identifiable")
    msg = model.loss_fn.check_labels(data.y)
    if msg:
        raise InputError(msg)
    Xt = model.augment(data.X)
    try:
        P = analyze(Xt, patterns=True, progress=progress).patterns
    except TooLargeError as exc:
        return OptimalSet("inconclusive", f"the optimal set needs every activation pattern enumerated: {exc}")
    res = solve(data, model, progress=progress)
    L, lb = res.objective, res.lower_bound
    out = OptimalSet("inconclusive", "", P_star=L, lower_bound=lb)
    out.details.update(n_samples=data.n_samples, n_features=data.n_features, n_patterns=int(P.shape[0]),
                       tolerance=tol)
    if res.patterns != "exact" or lb is None or (L - lb) > tol * max(1.0, abs(L)):
        out.reason = f"P* not certified (gap {None if lb is None else L - lb}); the optimal set was not computed"
        return out
    from ..model import predict

    lam = model.loss_fn.gradient(predict(res.network, data.X), data.y)
    # how far lam can be from lam*: for the squared loss, L - P* >= 1/2 ||yhat - yhat*||^2 (the loss
    # is 1-strongly convex in the prediction), so ||lam - lam*|| <= sqrt(2 (L - lower_bound)) and
    # value_b moves by at most sigma_max(Xt) times that
    margin = TIGHT_RTOL * model.beta
    if model.loss == "squared":
        sigma = float(np.linalg.norm(Xt, 2))
        margin = max(margin, sigma * float(np.sqrt(2.0 * max(L - lb, 0.0))) * (1 + 1e-6))
    out.details["tight_margin"] = margin
    cand, _ = candidate_blocks(Xt, lam, P, model, margin)
    out.candidates = cand
    out.details["candidate_blocks"] = len(cand)
    out.details["tight_rtol"] = TIGHT_RTOL
    first = solve_blocks(Xt, data.y, cand, model)
    if not np.isfinite(first.value) or first.value > L * (1 + 1e-6) + 1e-9:
        out.reason = (f"the program over the candidate blocks gave {first.value}, above P* = {L}: "
                      "the tight-block screening or the solver failed")
        return out
    W0, c0 = first.W, first.c
    sup0 = _support(W0, model)
    out.details["first_solution_blocks"] = int(sup0.sum())
    out.details["face_rtol"] = FACE_RTOL
    if len(cand) == 0:
        # every dual constraint is slack: W* = 0 is the only optimum (the output constant, if any,
        # is fixed by the unique prediction), m* = 0
        zero_net = network_of(W0, c0, cand, model)
        if verify(zero_net, data, model, tol=tol).status.value != "optimal":
            out.reason = "the zero network (no tight block) did not verify optimal"
            return out
        out.m_star, out.m_star_proven, out.unique = 0, True, True
        out.sparsest, out.sparsest_W, out.sparsest_c = np.zeros(0, dtype=bool), W0, c0
        out.optima, out.c_optima = [W0], [c0]
        out.details["uniqueness"] = {"method": "no block can be non-zero in an optimum", "max_spread": 0.0,
                                     "tolerance": UNIQUE_RTOL}
        out.details["optimal_networks"] = "W* = 0: every optimal network has only zero neurons"
        if c0 is not None:
            out.details["c"] = c0
        out.status, out.reason = "optimal", "P* certified, every pattern enumerated"
        return out
    yhat0 = block_prediction(Xt, cand, W0) + (c0 if c0 is not None else 0.0)
    R0 = float(np.sum(block_norms(W0, model)))
    face = Face(Xt, cand, yhat0, R0, c0, model)
    optima, cs = [W0], [c0]

    # m*: reweighted l1 on the face (every iterate optimal), sparsest support re-solved
    best_sup, best_W, best_c = sup0, W0, c0
    w = np.ones(len(cand))
    for _ in range(REWEIGHT_ROUNDS):
        r = face.reweighted(w)
        if r is None:
            break
        Wr, cr = r
        optima.append(Wr), cs.append(cr)
        sr = _support(Wr, model)
        if sr.sum() < best_sup.sum():
            best_sup, best_W, best_c = sr, Wr, cr
        w = 1.0 / (block_norms(Wr, model) + REWEIGHT_DELTA * max(1.0, R0))
    thresh = L * (1 + FACE_RTOL) + ABS_SLACK

    def certified(support):
        """The program on ``support`` alone; its optimum if it reaches P* and its network verifies."""
        sub = solve_blocks(Xt, data.y, cand.subset(np.flatnonzero(support)), model)
        if not (np.isfinite(sub.value) and sub.value <= thresh):
            return None, sub.value
        Wfull = np.zeros_like(W0)
        Wfull[support] = sub.W
        net = network_of(Wfull, sub.c, cand, model)
        if verify(net, data, model, tol=tol).status.value != "optimal":
            return None, sub.value
        return (Wfull, sub.c, net), sub.value

    # an exactly sparse optimum: the sparsest support found, re-solved alone and certified
    got = None
    for support in (best_sup, sup0):
        got, _ = certified(support)
        if got is not None:
            break
    if got is None:
        out.reason = "no optimal W found by the face programs could be certified by verify"
        return out
    best_W, best_c, sparse_net = got
    optima.append(best_W), cs.append(best_c)
    m_ub = int(_support(best_W, model).sum())
    # m*: look for an optimal support of size m_ub - 1 among the candidate blocks; found -> it is
    # the new upper bound (certified) and the search goes on one size down; none -> m_ub is m*
    spent, worst = 0, math.inf
    while True:
        k = m_ub - 1
        if k < 0:
            out.m_star_proven = True
            break
        n_sub = math.comb(len(cand), k)
        if spent + n_sub > subset_budget:
            out.details["m_star_note"] = (f"{n_sub} supports of size {k} exceed the remaining budget of "
                                          f"{subset_budget - spent} programs: m* is an upper bound")
            break
        found, ambiguous, worst = None, False, math.inf
        for S in itertools.combinations(range(len(cand)), k):
            spent += 1
            mask = np.zeros(len(cand), dtype=bool)
            mask[list(S)] = True
            got, v = certified(mask)
            worst = min(worst, v) if np.isfinite(v) else worst
            if got is not None:
                found = got
                break
            if not v > thresh:  # reaches P* but does not verify, or a failed program: no proof
                ambiguous = True
                break
        if found is not None:
            best_W, best_c, sparse_net = found
            optima.append(best_W), cs.append(best_c)
            m_ub = int(_support(best_W, model).sum())
            continue
        if not ambiguous:
            out.m_star_proven = True
            out.details["m_star_best_smaller_support"] = worst
        else:
            out.details["m_star_note"] = "a smaller support came within the tolerance of P* without verifying"
        break
    out.details["m_star_programs"] = spent
    out.details["sparsest_network"] = {"neurons": int(sparse_net.n_neurons),
                                       "objective": objective(sparse_net, data, model), "verify": "optimal"}
    out.m_star = m_ub
    out.sparsest = _support(best_W, model)
    out.sparsest_W, out.sparsest_c = best_W, best_c

    # uniqueness (App. D): min and max of each coordinate over the face
    dt = Xt.shape[1]
    nco = len(cand) * dt
    lo = np.full(nco, np.nan)
    hi = np.full(nco, np.nan)
    scale = max(1.0, float(np.max(np.abs(W0), initial=0.0)))
    seen_spread = max(float(np.max(np.abs(Wa - W0), initial=0.0)) for Wa in optima)
    if 2 * nco <= coordinate_budget:
        ok = True
        for j in range(nco):
            for sgn_, arr in ((1.0, lo), (-1.0, hi)):
                q = np.zeros(nco)
                q[j] = sgn_
                r = face.linear(q)
                if r is None:
                    ok = False
                    break
                arr[j] = r[0].ravel()[j]
                optima.append(r[0]), cs.append(r[1])
            if not ok:
                break
        if ok:
            spread = float(np.max(hi - lo, initial=0.0))
            out.unique = bool(spread <= UNIQUE_RTOL * scale and seen_spread <= UNIQUE_RTOL * scale)
            out.details["uniqueness"] = {"method": "min and max of every coordinate over the optimal face",
                                         "max_spread": max(spread, seen_spread), "tolerance": UNIQUE_RTOL * scale,
                                         "programs": 2 * nco, "face_rtol": face.used_rtol}
    if out.unique is None:
        if seen_spread > UNIQUE_RTOL * scale:
            out.unique = False
            out.details["uniqueness"] = {"method": "two optimal W found that differ", "max_spread": seen_spread,
                                         "tolerance": UNIQUE_RTOL * scale}
        else:
            out.details["uniqueness"] = {"method": "not decided: the coordinate programs exceed the budget "
                                         f"({2 * nco} > {coordinate_budget}) or failed"}
    # W can be non-unique while the network is not: a neuron on a cell boundary can sit in either
    # adjacent block. Compare the networks of the optima found, neurons merged by direction.
    measures = [neuron_measure(Wa, cand, model) for Wa in optima]
    distinct = [measures[0]]
    for mu in measures[1:]:
        if all(measure_distance(mu, nu) > UNIQUE_RTOL * max(1.0, _mass(nu)) for nu in distinct):
            distinct.append(mu)
    out.details["unique_network"] = True if out.unique else (False if len(distinct) > 1 else None)
    out.details["distinct_networks_found"] = len(distinct)
    out.details["optima_compared"] = len(optima)
    # the blocks of the sparsest optimum, with their coordinate ranges over the optimal set
    Wb, cb = best_W, best_c
    N = block_norms(Wb, model)
    for b in np.flatnonzero(_support(Wb, model)):
        d = {"pattern": np.flatnonzero(P[cand.pattern[b]]).tolist(), "sign": int(cand.sign[b]),
             "w": Wb[b].tolist(), "norm": float(N[b]),
             "neuron": {"u": (Wb[b] / np.sqrt(N[b])).tolist(), "alpha": float(cand.sign[b] * np.sqrt(N[b]))}}
        if not np.isnan(lo[b * dt]):
            d["w_min"] = lo[b * dt:(b + 1) * dt].tolist()
            d["w_max"] = hi[b * dt:(b + 1) * dt].tolist()
        out.blocks.append(d)
    if cb is not None:
        out.details["c"] = cb
    out.details["optimal_networks"] = (
        f"for every width m >= m* ({m_ub}{'' if out.m_star_proven else ', an upper bound'}), the optimal "
        "networks of width m are the splittings of psi(W) (eq. 9) over optimal W with at most m non-zero "
        "blocks (Thm. 1, eq. 11): each block's neuron (u, alpha) split into (sqrt(g_k) u, sqrt(g_k) alpha), "
        "g_k > 0, sum_k g_k = 1, padded with zero neurons"
        + ("; W* is unique, so these are the splittings of the blocks listed" if out.unique else ""))
    out.optima, out.c_optima = optima, cs
    out.status = "optimal"
    out.reason = "P* certified, every pattern enumerated"
    return out


def sample_networks(res: OptimalSet, width: int, k: int, model: Model, seed: int = 0) -> list[Network]:
    """``k`` random optimal networks of exactly ``width`` neurons (Thm. 1).

    Each: a random convex combination of optimal W found (optimal: the optimal set is convex) whose
    support has at most ``width`` blocks (the sparsest optimum always qualifies), then a random
    splitting of its neurons (Dirichlet weights) to fill the width.
    """
    if res.status != "optimal" or res.m_star is None:
        raise InputError("no optimal set to sample from")
    if width < res.m_star:
        raise InputError(f"--width {width} is below m* = {res.m_star}: no optimal network has that width")
    rng = np.random.default_rng(seed)
    sups = [_support(W, model) for W in res.optima]
    sparse = [i for i, s in enumerate(sups) if s.sum() <= width]
    nets = []
    for _ in range(k):
        base = int(rng.choice(sparse))
        chosen = [base]
        union = sups[base].copy()
        for i in rng.permutation(len(res.optima)):
            if len(chosen) >= 4:
                break
            if i != base and (union | sups[i]).sum() <= width:
                chosen.append(int(i))
                union |= sups[i]
        lam = rng.dirichlet(np.ones(len(chosen)))
        W = sum(li * res.optima[i] for li, i in zip(lam, chosen))
        cvals = [res.c_optima[i] for i in chosen]
        c = None if cvals[0] is None else float(sum(li * ci for li, ci in zip(lam, cvals)))
        sup = np.flatnonzero(_support(W, model))
        extra = width - sup.size
        pieces = np.ones(sup.size, dtype=int)
        if sup.size:
            for j in rng.integers(0, sup.size, extra):
                pieces[j] += 1
        split = {int(b): list(rng.dirichlet(np.ones(pc))) for b, pc in zip(sup, pieces)}
        net = network_of(W, c, res.candidates, model, split)
        pad = width - net.n_neurons
        if pad > 0:
            Ut = np.hstack([net.Ut(), np.zeros((net.Ut().shape[0], pad))])
            net = Network.from_augmented(Ut, np.concatenate([net.alpha, np.zeros(pad)]), model, net.c)
        nets.append(net)
    return nets
