"""A structure-exploiting primal-dual interior-point method for the squared-loss program.

The convex program of docs/method.md eq. (2.3) with the squared loss, over patterns D_1..D_p, has
2p blocks b (w_1..w_p, then v_1..v_p, signs sg_b = +1 / -1):

    min  1/2 || sum_b sg_b D_b Xt u_b + c 1 - y ||^2 + beta sum_b t_b  [+ h_c / 2 c^2]
    s.t. sigma_bk xt_k^T u_b / ||xt_k|| >= 0      (n rows per block, sigma_b = 2 D_b - 1)
         || N-part of u_b || <= t_b               (one second-order cone per block)

i.e.  min 1/2 x'Px + q'x  s.t.  A x + s = 0,  s in K = R_+^{2pn} x (Q^k)^{2p}.
This module solves it with Mehrotra's predictor-corrector on Nesterov-Todd scaled
directions (Vandenberghe, "The CVXOPT linear and quadratic cone program solvers", 2010).

Why not a general sparse solver: every Newton step solves (P + A' Theta A) dx = r. A' Theta A
is block diagonal (one (dt+1) x (dt+1) block per b), but P = Gamma' Gamma couples all blocks
through the n predictions (Gamma is n x 2p dt with about half its entries non-zero). A
general sparse LDL' (Clarabel with qdldl or faer) sees 2pn + n coupled rows and fills in
badly: 28 s at n = 1000 and 100 patterns (docs/benchmarks.md). Here the coupling is a
low-rank update of a block-diagonal matrix, solved by the Woodbury identity:

    (H + Gamma' Gamma)^-1 = H^-1 - H^-1 Gamma' K^-1 Gamma H^-1,
    K = I_n + Gamma H^-1 Gamma' = I_n + sum_i D_i Xt C_i Xt' D_i,  C_i = S_{w_i} + S_{v_i},

S_b the u-part of H_b^-1 (w_i and v_i share D_i Xt up to sign). Forming K is one dense
rank-(p dt) update, n^2 p dt flops with BLAS-3, and its Cholesky factor n^3 / 3. When
p dt < n the same system is solved in the other orientation ("gram"): K^-1 = I - M
(C^-1 + M'M)^-1 M', M = [D_1 Xt, ..., D_p Xt], with M'M formed once, (p dt)^3 / 3 per step.
A free or penalized output bias c (a column of ones in Gamma) is eliminated by a scalar
Schur complement.

Cost per iteration: O(p n dt^2) for the block Hessians and the cone algebra, plus
min(n^2 p dt + n^3/3, (p dt)^3/3) for the coupling; 25 to 45 iterations in practice.

Row screening (solve_ipm_screened): most of a block's n cone rows are redundant (a cell of an
arrangement in R^dt has few facets), yet each is a cone pair, and on the programs of a pattern
search at large n the iterations grow with them (59 at n = 2 000, stalled at n = 20 000). The
program over a subset of rows per pattern is a relaxation; solved, checked against every row,
and re-solved with the violated rows added, it ends at the full program's optimum, in 22 to 25
iterations per round on those programs (docs/benchmarks.md).

Everything returned is a hint for the caller: the objective of the network read off the
solution is recomputed, and optimality over the patterns is checked independently
(solve.py: restricted pricing; verify: the exact dual bound).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla

from ..convex import SolverStatus
from ..errors import SolverError

SOLVER_NAME = "cvxrelu-ipm (structured primal-dual interior point)"

#: Stop when the relative duality gap s'z / max(1, |primal objective|) is below this ...
TOL_GAP_REL = 1e-9
#: ... and the primal residual (relative to max(1, ||U||, ||t||)) and the dual residual
#: (relative to the linear term, max(1, sqrt 2 ||Gamma' y||, beta sqrt(2p))) are below this.
TOL_FEAS = 1e-8
#: When the iterations break down (rounding), the best iterate is returned as "almost_solved"
#: if it meets these looser tolerances; otherwise the solve fails.
REDUCED_TOL_GAP_REL = 1e-7
REDUCED_TOL_FEAS = 1e-6
#: Give up after this many iterations (status "max_iter", reported as a SolverError).
MAX_ITER = 120
#: Stop as "stalled" when the merit (the largest of the relative gap and residuals over their
#: reduced tolerances) fell by less than STALL_FACTOR over the last STALL_ITERS iterations.
#: Seen at n = 20 000 with ~300 patterns: feasible to 1e-16 but the gap shrinking by ~1 % per
#: iteration from 5e-3 on (steps of 0.06), where MAX_ITER would cost another 50 iterations.
STALL_ITERS = 15
STALL_FACTOR = 2.0
#: Fraction of the step to the cone boundary taken.
STEP_FRACTION = 0.99
#: A second-order cone iterate x is stored in its own coordinates, where a distance to the
#: boundary x_0 - ||x_1|| below eps x_0 is lost to rounding although the scaled step rule
#: (lam + a W^-1 ds) still sees it: the step also keeps x_0 (1 - SOC_MARGIN) >= ||x_1|| for each
#: cone (one already closer keeps at least half its relative distance, _soc_margin_step). A
#: cone's share of the gap is then left at about SOC_MARGIN s_0 z_0, far below TOL_GAP_REL
#: |objective| (z_0 -> beta and beta s_0 <= objective). Without it a block that stays non-zero,
#: the cone blocking every step near the optimum, came within one ulp of its boundary (its
#: distance cut 100-fold per step by STEP_FRACTION) and the next NT scaling failed.
SOC_MARGIN = 1e-13
#: Eigen-directions of a block Hessian below this times the block's coupling scale (the largest
#: diagonal entry of Xt' D_i Xt) are solved through the small dense Schur complement (_KKT).
SMALL_EIG = 1e-6
#: ... and so are those below this times the block's largest eigenvalue (not resolved in float64).
EIG_NOISE = 1e-9
#: A small direction's own curvature is taken as at least this times its block's largest
#: eigenvalue (the rounding level of H_b): where the coupling does not curve it either, the
#: Newton system is singular to working precision there (two near-identical neurons).
EIG_FLOOR = 1e-13
#: ... but the part of that floor above H_b's own rounding (EIG_ROUND times its largest
#: eigenvalue) is capped at this fraction of the direction's curvature from the coupling (the
#: diagonal of Gamma_S' K^-1 Gamma_S). The floor is a perturbation that the iterative
#: refinement removes only while it is small against the curvature it perturbs; H_b's largest
#: eigenvalue grows like 1 / mu^2, and on a block that stays non-zero a floor of EIG_FLOOR times
#: it overtook the coupling's curvature near the optimum (20 against 5), refinement stalled with
#: a dual residual of 2e-4 in the step and the next iterate fell onto the cone boundary.
EIG_FLOOR_COUPLED = 1e-3
EIG_ROUND = 4.0 * float(np.finfo(np.float64).eps)
#: Gondzio's multiple centrality correctors per iteration (0 turns them off), the step
#: increase each aims for, the fraction of it that must be gained, and the target box.
CENTRALITY_CORRECTORS = 2
CC_DELTA = 0.2
CC_GAIN = 0.1
CC_LO, CC_HI = 0.1, 10.0
#: The correctors also re-centre the second-order cones (their Jordan eigenvalues).
SOC_CORRECTORS = True
#: Iterative refinement of each Newton direction on the full (unreduced) KKT system.
REFINE_STEPS = 10
REFINE_TOL = 1e-11
#: ... looser for the predictor and the centrality correctors, which only shape the step.
REFINE_TOL_AUX = 1e-6


def _norm(parts) -> float:
    return float(np.sqrt(sum(float(np.sum(np.square(p))) for p in parts)))


@dataclass
class IPMResult:
    """Solution of the program: U (2p, dt) = [W; V], t (2p,), c, and solver statistics."""

    U: np.ndarray
    t: np.ndarray
    c: float | None
    z_lp: np.ndarray
    z_soc: np.ndarray
    info: dict

    @property
    def support(self) -> np.ndarray:
        """(2p,) bool: blocks read as non-zero, by strict complementarity of their cone pair.

        A non-zero block has t_b of the order of the largest and a relative dual slack
        (z_0 - ||z_1||) / z_0 near 0 (z_0 -> beta); a zero block the reverse. Non-zero iff
        t_b / max t > (z_0 - ||z_1||) / z_0.
        """
        tau = self.t / max(float(np.max(self.t, initial=0.0)), 1e-300)
        rho = (self.z_soc[:, 0] - np.linalg.norm(self.z_soc[:, 1:], axis=1)) / np.maximum(self.z_soc[:, 0], 1e-300)
        return tau > rho


# ------------------------------------------------------------------------ second-order cones
# A batch of m cones of one dimension k is an (m, k) array; column 0 is the "t" part.


def _jdot(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """u' J v per cone, J = diag(1, -1, ..., -1)."""
    return u[:, 0] * v[:, 0] - np.einsum("ij,ij->i", u[:, 1:], v[:, 1:])


def _jordan(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Jordan product u o v = (u'v, u0 v1 + v0 u1) per cone."""
    out = np.empty_like(u)
    out[:, 0] = np.einsum("ij,ij->i", u, v)
    out[:, 1:] = u[:, :1] * v[:, 1:] + v[:, :1] * u[:, 1:]
    return out


def _jordan_solve(lam: np.ndarray, r: np.ndarray) -> np.ndarray:
    """x with lam o x = r (the arrow matrix of lam inverted in closed form)."""
    l0, l1 = lam[:, 0], lam[:, 1:]
    det = l0 * l0 - np.einsum("ij,ij->i", l1, l1)
    x = np.empty_like(r)
    x[:, 0] = (l0 * r[:, 0] - np.einsum("ij,ij->i", l1, r[:, 1:])) / det
    x[:, 1:] = (r[:, 1:] - x[:, :1] * l1) / l0[:, None]
    return x


@dataclass
class _SocScaling:
    """Nesterov-Todd scaling W = beta (2 wbar wbar' - J) of a batch of cones (W z = W^-1 s)."""

    wbar: np.ndarray  # (m, k)
    beta: np.ndarray  # (m,)

    @classmethod
    def of(cls, s: np.ndarray, z: np.ndarray) -> "_SocScaling":
        sJ, zJ = _jdot(s, s), _jdot(z, z)
        if np.any(sJ <= 0) or np.any(zJ <= 0):
            raise FloatingPointError("a second-order cone iterate left the interior")
        sb = s / np.sqrt(sJ)[:, None]
        zb = z / np.sqrt(zJ)[:, None]
        gamma = np.sqrt(0.5 * (1.0 + np.einsum("ij,ij->i", sb, zb)))
        # w = (sbar + J zbar) / (2 gamma) is the hyperbolic rotation 2 w w' - J taking zbar to
        # sbar; W needs its square root, 2 v v' - J with v = (w + e) / sqrt(2 (w_0 + 1)).
        w = np.empty_like(s)
        w[:, 0] = (sb[:, 0] + zb[:, 0]) / (2 * gamma)
        w[:, 1:] = (sb[:, 1:] - zb[:, 1:]) / (2 * gamma)[:, None]
        w[:, 0] += 1.0
        w /= np.sqrt(2.0 * w[:, 0])[:, None]
        return cls(w, (sJ / zJ) ** 0.25)

    def apply(self, v: np.ndarray) -> np.ndarray:
        """W v = beta (2 wbar (wbar' v) - J v)."""
        out = 2.0 * self.wbar * np.einsum("ij,ij->i", self.wbar, v)[:, None]
        out[:, 0] -= v[:, 0]
        out[:, 1:] += v[:, 1:]
        return self.beta[:, None] * out

    def apply_inv(self, v: np.ndarray) -> np.ndarray:
        """W^-1 v = (2 J wbar (wbar' J v) - J v) / beta."""
        Jw = self.wbar.copy()
        Jw[:, 1:] *= -1.0
        out = 2.0 * Jw * np.einsum("ij,ij->i", Jw, v)[:, None]
        out[:, 0] -= v[:, 0]
        out[:, 1:] += v[:, 1:]
        return out / self.beta[:, None]

    def inv_square(self) -> np.ndarray:
        """W^-2 as (m, k, k) matrices."""
        m, k = self.wbar.shape
        Jw = self.wbar.copy()
        Jw[:, 1:] *= -1.0
        Winv = 2.0 * Jw[:, :, None] * Jw[:, None, :]
        Winv[:, 0, 0] -= 1.0
        idx = np.arange(1, k)
        Winv[:, idx, idx] += 1.0
        Winv /= self.beta[:, None, None]
        return Winv @ Winv


def _soc_eig_clip(v: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """v with its Jordan eigenvalues v0 +- ||v1|| clipped into [lo, hi] (per cone), and any
    decrease limited to hi (as for the LP pairs)."""
    nv = np.linalg.norm(v[:, 1:], axis=1)
    e1, e2 = v[:, 0] + nv, v[:, 0] - nv
    f1 = np.maximum(np.clip(e1, lo, hi), e1 - hi)
    f2 = np.maximum(np.clip(e2, lo, hi), e2 - hi)
    out = np.empty_like(v)
    out[:, 0] = 0.5 * (f1 + f2)
    u = v[:, 1:] / np.where(nv > 0, nv, 1.0)[:, None]
    out[:, 1:] = 0.5 * (f1 - f2)[:, None] * u
    return out


def _soc_max_step(x: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Largest alpha >= 0 with x + alpha d in the cone, per cone (x in the interior); inf if none."""
    a = _jdot(d, d)
    b = 2.0 * _jdot(x, d)
    c = _jdot(x, x)
    out = np.full(x.shape[0], np.inf)
    disc = b * b - 4 * a * c
    ok = disc >= 0
    sq = np.sqrt(np.where(ok, disc, 0.0))
    qq = -0.5 * (b + np.where(b >= 0, sq, -sq))
    with np.errstate(divide="ignore", invalid="ignore"):
        r1 = np.where(a != 0, qq / a, np.inf)
        r2 = np.where(qq != 0, c / qq, np.inf)
    roots = np.stack([r1, r2])
    roots = np.where((roots > 0) & ok[None, :], roots, np.inf)
    out = np.min(roots, axis=0)
    # a line through the interior that stays inside q >= 0 but crosses x0 = 0 would enter -Q:
    # impossible without a root, but guard the linear case a = 0 as well
    lin = (a == 0) & (b < 0)
    out = np.where(lin, np.minimum(out, -c / np.where(lin, b, -1.0)), out)
    return out


def _soc_margin_step(x: np.ndarray, d: np.ndarray) -> float:
    """Largest alpha >= 0 keeping x + alpha d in the shrunk cone x_0 (1 - delta) >= ||x_1|| per cone,
    delta = SOC_MARGIN, or half the present relative distance (x_0 - ||x_1||) / x_0 of a cone
    already closer than that; inf if none limits the step."""
    rel = (x[:, 0] - np.linalg.norm(x[:, 1:], axis=1)) / x[:, 0]
    delta = np.minimum(SOC_MARGIN, 0.5 * rel)
    xs, ds = x.copy(), d.copy()
    xs[:, 0] *= 1.0 - delta
    ds[:, 0] *= 1.0 - delta
    return float(np.min(_soc_max_step(xs, ds), initial=np.inf))


def _lp_max_step(inv_x: np.ndarray, d: np.ndarray) -> float:
    """Largest alpha >= 0 with x + alpha d >= 0 (x > 0 given by 1 / x): 1 / max(-d / x)."""
    r = float(np.max(-d * inv_x, initial=0.0))
    return np.inf if r <= 0.0 else 1.0 / r


# ------------------------------------------------------------------------------ the problem


class _Program:
    """Fixed data and the linear maps of one program instance."""

    def __init__(self, Xt, y, patterns, beta, nd, cmode, rows=None):
        self.Xt = np.ascontiguousarray(Xt, dtype=np.float64)
        self.y = np.asarray(y, dtype=np.float64)
        self.D = np.asarray(patterns, dtype=np.float64)  # (p, n)
        self.beta = float(beta)
        self.n, self.dt = self.Xt.shape
        self.p = self.D.shape[0]
        self.m = 2 * self.p
        self.nd = nd  # penalized coordinates (the first nd of u)
        self.k = nd + 1
        self.has_c = cmode != "none"
        self.h_c = self.beta if cmode == "penalized" else 0.0
        norms = np.linalg.norm(self.Xt, axis=1)
        if rows is None:
            # every row of every block: the shared (nr, dt) rows and (m, nr) signs
            self.rows = np.flatnonzero(norms > 0)  # zero rows give the constraint 0 >= 0: dropped
            self.Xn = self.Xt[self.rows] / norms[self.rows][:, None]  # (nr, dt)
            sig = 2.0 * self.D[:, self.rows] - 1.0
            self.Sig = np.vstack([sig, sig])  # (m, nr)
            self.nr = self.rows.size
            self.Phi = (self.Xn[:, :, None] * self.Xn[:, None, :]).reshape(self.nr, -1)
            self.A = None
        else:
            # a subset of rows per pattern (row screening, solve_ipm_screened): the signed,
            # normalized rows of each block as an (m, r) x dt stack; w_i and v_i share pattern i's
            rows = np.asarray(rows, dtype=np.intp)
            if rows.ndim != 2 or rows.shape[0] != self.p or rows.shape[1] == 0:
                raise ValueError("rows must be a (p, r) array of row indices, r >= 1")
            if np.any(norms[rows] <= 0):
                raise ValueError("rows must index non-zero rows of Xt")
            Xn = self.Xt[rows] / norms[rows][:, :, None]  # (p, r, dt)
            sig = 2.0 * np.take_along_axis(self.D, rows, axis=1) - 1.0  # (p, r)
            A = sig[:, :, None] * Xn
            self.A = np.ascontiguousarray(np.concatenate([A, A]))  # (m, r, dt)
            self.AT = np.ascontiguousarray(np.transpose(self.A, (0, 2, 1)))  # (m, dt, r)
            self.nr = rows.shape[1]
        self.ones_G = self.D @ self.Xt  # (p, dt): Xt' D_i 1
        self.degree = self.m * self.nr + self.m
        # scale of the coupling's curvature per block: max diagonal entry of Xt' D_i Xt
        gd = np.max(self.D @ (self.Xt * self.Xt), axis=1, initial=0.0) if self.p else np.zeros(0)
        gd = np.where(gd > 0, gd, max(float(np.max(gd, initial=0.0)), 1.0))
        self.curv = np.concatenate([gd, gd])
        self.gram = self.p * self.dt < self.n
        if self.gram:
            self.M = (self.D.T[:, :, None] * self.Xt[:, None, :]).reshape(self.n, self.p * self.dt)
            self.MtM = self.M.T @ self.M
        # scale of the dual residual: the linear term q = (-Gamma' y, beta 1)
        self.scale_q = max(1.0, float(np.linalg.norm(self.D @ (self.Xt * self.y[:, None]))) * np.sqrt(2),
                           self.beta * np.sqrt(self.m))

    # Gamma x = sum_b sg_b D_b Xt u_b (+ c): predictions from the block variables
    def gamma(self, U: np.ndarray, c: float) -> np.ndarray:
        E = U[: self.p] - U[self.p:]
        z = np.einsum("in,in->n", E @ self.Xt.T, self.D)
        return z + c if self.has_c else z

    def gamma_T(self, r: np.ndarray) -> tuple[np.ndarray, float]:
        G0 = (self.D * r[None, :]) @ self.Xt  # (p, dt)
        return np.vstack([G0, -G0]), float(np.sum(r)) if self.has_c else 0.0

    # the cone map: s = -A x, i.e. LP slacks sigma * (Xn u) and SOC slacks (t, u[:nd])
    def cone_of(self, U: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        lp = self.Sig * (U @ self.Xn.T) if self.A is None else np.matmul(self.A, U[:, :, None])[:, :, 0]
        soc = np.empty((self.m, self.k))
        soc[:, 0] = t
        soc[:, 1:] = U[:, : self.nd]
        return lp, soc

    def cone_T(self, z_lp: np.ndarray, z_soc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(-A)' z: the adjoint of cone_of."""
        gU = (self.Sig * z_lp) @ self.Xn if self.A is None else np.matmul(self.AT, z_lp[:, :, None])[:, :, 0]
        gU[:, : self.nd] += z_soc[:, 1:]
        return gU, z_soc[:, 0].copy()

    def objective(self, U, t, c) -> float:
        r = self.gamma(U, c) - self.y
        val = 0.5 * float(r @ r) + self.beta * float(np.sum(t))
        if self.has_c:
            val += 0.5 * self.h_c * c * c
        return val


class _KKT:
    """Factorization of N = P + A' Theta A for one iteration, and solves with it.

    N = H + Gamma'Gamma (+ the output constant), H block diagonal. Near the optimum each
    non-zero block's H_b has an eigenvalue far below the rest (its cones' slacks sit on their
    boundary rays), a direction in which only Gamma'Gamma is curved; H_b is formed with errors
    of eps * ||H_b||, so that eigenvalue is noise and Woodbury through H_b^-1 would amplify it.
    The eigen-directions of H_b below SMALL_EIG times the block's coupling scale are therefore
    taken out: Woodbury runs on the truncated inverse H^+ (bounded), and the few small
    directions Q_S (about one per non-zero block) are solved exactly through the dense Schur
    complement S = Lambda_S + Gamma_S' K^-1 Gamma_S, K = I + Gamma H^+ Gamma', Gamma_S = Gamma Q_S,
    in which their curvature comes from the coupling.
    """

    def __init__(self, pr: _Program, theta_lp: np.ndarray, theta_soc: np.ndarray):
        self.pr = pr
        m, dt, nd, p = pr.m, pr.dt, pr.nd, pr.p
        H = np.zeros((m, dt + 1, dt + 1))
        if pr.A is None:
            H[:, :dt, :dt] = (theta_lp @ pr.Phi).reshape(m, dt, dt)
        else:
            H[:, :dt, :dt] = np.matmul(pr.AT * theta_lp[:, None, :], pr.A)
        # SOC block on (t, u[:nd]); our variable order is (u, t)
        H[:, dt, dt] += theta_soc[:, 0, 0]
        H[:, :nd, dt] += theta_soc[:, 1:, 0]
        H[:, dt, :nd] += theta_soc[:, 0, 1:]
        H[:, :nd, :nd] += theta_soc[:, 1:, 1:]
        H = 0.5 * (H + np.transpose(H, (0, 2, 1)))
        lam, Q = np.linalg.eigh(H)  # ascending eigenvalues per block
        # small: below the coupling's scale, or below what H_b's own rounding (eps ||H_b||) resolves
        thr = np.maximum(SMALL_EIG * pr.curv, EIG_NOISE * np.abs(lam[:, -1]))
        small = lam < thr[:, None]
        inv_l = np.where(small, 0.0, 1.0 / np.where(small, 1.0, lam))
        self.Hp = np.matmul(Q * inv_l[:, None, :], np.transpose(Q, (0, 2, 1)))  # truncated H^-1
        # C_i = H^+_{w_i} + H^+_{v_i} on u (PSD); R_i R_i' = C_i
        Cu = self.Hp[:, :dt, :dt]
        C = Cu[:p] + Cu[p:]
        C = 0.5 * (C + np.transpose(C, (0, 2, 1)))
        cl, cv = np.linalg.eigh(C)
        R = cv * np.sqrt(np.maximum(cl, 0.0))[:, None, :]  # (p, dt, dt)
        if pr.gram:
            # K^-1 = I - M R (I + R' M'M R)^-1 R' M'  (R block diagonal)
            Q4 = pr.MtM.reshape(p, dt, p, dt)
            T = np.einsum("iab,iajc->ibjc", R, Q4)
            T = np.einsum("ibjc,jcd->ibjd", T, R).reshape(p * dt, p * dt)
            T[np.diag_indices_from(T)] += 1.0
            self.R = R
            self.F = sla.cho_factor(T, lower=True, check_finite=False, overwrite_a=True)
        else:
            B = np.matmul(pr.Xt[None, :, :], R) * pr.D[:, :, None]  # (p, n, dt)
            B = np.ascontiguousarray(np.transpose(B, (1, 0, 2))).reshape(pr.n, p * dt)
            K = B @ B.T  # a plain GEMM: faster than SYRK in OpenBLAS at these shapes
            K[np.diag_indices_from(K)] += 1.0
            self.K = sla.cho_factor(K, lower=True, check_finite=False, overwrite_a=True)
        # the small directions: Schur complement S = Lambda_S + Gamma_S' K^-1 Gamma_S
        bs, js = np.nonzero(small)
        self.n_small = int(bs.size)
        if bs.size:
            self.bs = bs
            self.QS = Q[bs, :, js]  # (ns, dt + 1)
            sg = np.where(bs < p, 1.0, -1.0)
            GS = (pr.Xt @ self.QS[:, :dt].T) * pr.D[bs % p].T * sg[None, :]  # (n, ns)
            self.GS = GS
            S = GS.T @ self._K_solve(GS)
            # H_b's small eigenvalues are known only to about eps ||H_b||: never trust less. Above
            # that rounding level the floor only guards directions the coupling does not curve
            # (S singular there); where it does, the floor stays a small fraction of that curvature
            lmax = np.abs(lam[bs, -1])
            coupled = np.maximum(np.diag(S), 0.0)
            floor = (np.maximum(EIG_ROUND * lmax, np.minimum(EIG_FLOOR * lmax, EIG_FLOOR_COUPLED * coupled))
                     + 1e-14 * pr.curv[bs])
            S[np.diag_indices_from(S)] += np.maximum(lam[bs, js], floor)
            self.S = sla.cho_factor(S, lower=True, check_finite=False, overwrite_a=True)
        if pr.has_c:
            ones_U = np.vstack([pr.ones_G, -pr.ones_G])
            a2U, a2t = self._solve_N(ones_U, np.zeros(m))
            self.a2 = (a2U, a2t)
            self.schur = pr.n + pr.h_c - float(np.sum(self._gamma_u(a2U)))

    def _gamma_u(self, U):
        E = U[: self.pr.p] - U[self.pr.p:]
        return np.einsum("in,in->n", E @ self.pr.Xt.T, self.pr.D)

    def _gamma_uT(self, h):
        G0 = (self.pr.D * h[None, :]) @ self.pr.Xt
        return np.vstack([G0, -G0])

    def _K_solve(self, g: np.ndarray) -> np.ndarray:
        """K^-1 g, K = I + Gamma H^+ Gamma' (g: (n,) or (n, k))."""
        pr = self.pr
        if not pr.gram:
            return sla.cho_solve(self.K, g, check_finite=False)
        p, dt = pr.p, pr.dt
        vec = g.ndim == 1
        # M' g and M v through D and Xt for a vector (reads the p x n patterns, not the
        # n x p dt matrix M: ten times less memory traffic); one GEMM with M for a matrix
        v = ((pr.D @ (pr.Xt * g[:, None])).reshape(p * dt) if vec else pr.M.T @ g)  # (p dt, ...)
        shp = v.shape
        v = np.einsum("iab,ia...->ib...", self.R, v.reshape((p, dt) + shp[1:])).reshape(shp)
        v = sla.cho_solve(self.F, v, check_finite=False)
        v = np.einsum("iab,ib...->ia...", self.R, v.reshape((p, dt) + shp[1:])).reshape(shp)
        if vec:
            return g - np.einsum("in,in->n", v.reshape(p, dt) @ pr.Xt.T, pr.D)
        return g - pr.M @ v

    def _Hp(self, rU, rt):
        r = np.concatenate([rU, rt[:, None]], axis=1)
        a = np.einsum("mij,mj->mi", self.Hp, r)
        return a[:, :-1], a[:, -1]

    def _solve_E(self, rU, rt):
        """N_EE^-1 r on the non-small directions (Woodbury with H^+)."""
        aU, at = self._Hp(rU, rt)
        h = self._K_solve(self._gamma_u(aU))
        bU, bt = self._Hp(self._gamma_uT(h), np.zeros(self.pr.m))
        return aU - bU, at - bt, h

    def _solve_N(self, rU, rt):
        """(H + Gamma_u' Gamma_u)^-1 r on the block variables."""
        if not self.n_small:
            aU, at, _ = self._solve_E(rU, rt)
            return aU, at
        dt = self.pr.dt
        # x_S = S^-1 (Q_S' r - Gamma_S' K^-1 Gamma H^+ r)
        _, _, h = self._solve_E(rU, rt)
        rS = np.einsum("sj,sj->s", self.QS[:, :dt], rU[self.bs]) + self.QS[:, dt] * rt[self.bs]
        xS = sla.cho_solve(self.S, rS - self.GS.T @ h, check_finite=False)
        # x_E = N_EE^-1 (r - Gamma' Gamma_S x_S), then x = x_E + Q_S x_S
        aU, at, _ = self._solve_E(rU - self._gamma_uT(self.GS @ xS), rt)
        np.add.at(aU, self.bs, xS[:, None] * self.QS[:, :dt])
        np.add.at(at, self.bs, xS * self.QS[:, dt])
        return aU, at

    def solve(self, rU, rt, rc):
        """(P + A' Theta A) dx = r for dx = (dU, dt, dc)."""
        aU, at = self._solve_N(rU, rt)
        if not self.pr.has_c:
            return aU, at, 0.0
        dc = (rc - float(np.sum(self._gamma_u(aU)))) / self.schur
        return aU - dc * self.a2[0], at - dc * self.a2[1], dc


# ------------------------------------------------------------------------------ the method


class _Newton:
    """Newton directions at one iterate: the scaling, the factorization, and solves with both.

    The linearized KKT system (A = -cone map, W the NT scaling, lam = W z = W^-1 s):

        P dx + A'dz = bx,   A dx + ds = bz,   lam o (W dz + W^-1 ds) = rs.

    With u = lam \\ rs: (P + A'Theta A) dx = bx + A'Theta (bz - W u), Theta = W^-2; then
    dz = Theta (A dx - bz) + W^-1 u and ds = W (u - W dz). Each direction is refined on the
    full (unreduced) system, which also removes what the Schur floor of _KKT perturbs.
    """

    def __init__(self, pr: _Program, s_lp, z_lp, s_soc, z_soc):
        self.pr = pr
        # LP pairs: W = diag(sqrt(s / z)), lam = sqrt(s z); the formulas below use s, z, 1/s,
        # 1/z and Theta = z / s directly (w lam = s, lam / w = z), which saves a third of the
        # passes over these 2pn-long arrays, the bulk of an iteration's cost at large n
        self.s_lp, self.z_lp = s_lp, z_lp
        self.s_soc, self.z_soc = s_soc, z_soc
        self.inv_s = 1.0 / s_lp
        self.inv_z = 1.0 / z_lp
        self.lam_lp = np.sqrt(s_lp * z_lp)
        self.theta_lp = z_lp * self.inv_s
        self.sc = _SocScaling.of(s_soc, z_soc)
        self.lam_soc = self.sc.apply(z_soc)
        self.kkt = _KKT(pr, self.theta_lp, self.sc.inv_square())

    def _direction(self, b):
        pr, sc = self.pr, self.sc
        bxU, bxt, bxc, bz_lp, bz_soc, rs_lp, rs_soc = b
        # LP part, with u = rs / lam: Theta (bz - W u) = Theta bz - rs / s,
        # dz = Theta (-A dx - bz) + W^-1 u = rs / s - Theta (A dx + bz), ds = (rs - s dz) / z
        rs_s = rs_lp * self.inv_s
        a_lp = self.theta_lp * bz_lp
        a_lp -= rs_s
        u_soc = _jordan_solve(self.lam_soc, rs_soc)
        cU, ct = pr.cone_T(a_lp, sc.apply_inv(sc.apply_inv(bz_soc - sc.apply(u_soc))))
        del a_lp
        dU, dtt, dc = self.kkt.solve(bxU - cU, bxt - ct, bxc)
        Alp, Asoc = pr.cone_of(dU, dtt)
        Alp += bz_lp
        Alp *= self.theta_lp
        dz_lp = np.subtract(rs_s, Alp, out=rs_s)
        dz_soc = sc.apply_inv(sc.apply_inv(-Asoc - bz_soc) + u_soc)
        ds_lp = self.s_lp * dz_lp
        np.subtract(rs_lp, ds_lp, out=ds_lp)
        ds_lp *= self.inv_z
        ds_soc = sc.apply(u_soc - sc.apply(dz_soc))
        return [dU, dtt, dc, ds_lp, ds_soc, dz_lp, dz_soc]

    def _residual(self, b, d):
        pr, sc = self.pr, self.sc
        dU, dtt, dc, ds_lp, ds_soc, dz_lp, dz_soc = d
        pU, pc = pr.gamma_T(self.kkt._gamma_u(dU) + (dc if pr.has_c else 0.0))
        aU, at = pr.cone_T(dz_lp, dz_soc)
        Alp, Asoc = pr.cone_of(dU, dtt)
        return [b[0] - (pU - aU), b[1] + at, b[2] - (pc + pr.h_c * dc if pr.has_c else 0.0),
                b[3] - (ds_lp - Alp), b[4] - (ds_soc - Asoc),
                b[5] - (self.s_lp * dz_lp + self.z_lp * ds_lp),  # lam o (W dz + W^-1 ds)
                b[6] - _jordan(self.lam_soc, sc.apply(dz_soc) + sc.apply_inv(ds_soc))]

    def solve(self, b, tol: float | None = None):
        """A refined direction [dU, dt, dc, ds_lp, ds_soc, dz_lp, dz_soc] for the right-hand side b."""
        return self.refine(b, self._direction(b), tol)

    def refine(self, b, d, tol: float | None = None):
        """Iterative refinement of d on the full system until its residual is below
        tol (1 + ||b||) (REFINE_TOL by default) or stops contracting."""
        tol = REFINE_TOL if tol is None else tol
        bnorm = _norm(b)
        e = self._residual(b, d)
        enorm = _norm(e)
        for _ in range(REFINE_STEPS):
            if enorm <= tol * (1.0 + bnorm):
                break
            d2 = [di + ci for di, ci in zip(d, self._direction(e))]
            e2 = self._residual(b, d2)
            e2norm = _norm(e2)
            if not e2norm < 0.5 * enorm:  # no longer contracting: keep the better one
                if e2norm < enorm:
                    d = d2
                break
            d, e, enorm = d2, e2, e2norm
        return d

    def max_step(self, d) -> float:
        """Largest alpha with s + alpha ds and z + alpha dz in the cones.

        Measured in the scaled space (s + a ds in K <=> lam + a W^-1 ds in K, as W is an
        automorphism of K), where lam is well centred although s and z hug the boundary.
        """
        sc = self.sc
        ds_lp, ds_soc, dz_lp, dz_soc = d[3], d[4], d[5], d[6]
        return min(_lp_max_step(self.inv_s, ds_lp),  # lam + a W^-1 ds >= 0 <=> s + a ds >= 0
                   _lp_max_step(self.inv_z, dz_lp),
                   float(np.min(_soc_max_step(self.lam_soc, sc.apply_inv(ds_soc)), initial=np.inf)),
                   float(np.min(_soc_max_step(self.lam_soc, sc.apply(dz_soc)), initial=np.inf)),
                   _soc_margin_step(self.s_soc, ds_soc),
                   _soc_margin_step(self.z_soc, dz_soc))


def solve_ipm(
    Xt: np.ndarray,
    y: np.ndarray,
    patterns: np.ndarray,
    beta: float,
    *,
    free_hidden_bias: bool = False,
    output_bias: str = "none",
    tol_gap_rel: float = TOL_GAP_REL,
    tol_feas: float = TOL_FEAS,
    max_iter: int = MAX_ITER,
    allow_inaccurate: bool = False,
    progress=None,
    trace=None,
    rows=None,
) -> IPMResult:
    """Solve the squared-loss convex program over ``patterns`` (see the module docstring).

    Parameters
    ----------
    Xt : (n, dt) augmented data; y : (n,) targets; patterns : (p, n) bool rows D_i.
    beta : weight decay (> 0).
    free_hidden_bias : N(u) leaves the last coordinate of u out (docs/method.md eq. (1.2)).
    output_bias : "none", "free" or "penalized" (the effective mode of the output constant).
    tol_gap_rel, tol_feas, max_iter : stopping rule (module constants by default).
    trace : called with a dict of each iteration's measures (gap, residuals, steps), if given.
    rows : (p, r) indices of the rows kept per pattern (all non-zero rows when None); the
        program with fewer rows is a relaxation (``solve_ipm_screened`` adds the rows it violates).
    allow_inaccurate : when neither the tolerances nor the reduced ones are met, return the
        feasible iterate (residuals within the reduced tolerances) of smallest gap, with status
        "inaccurate", instead of raising; its gap is in ``info``. A caller that reads a network
        off it evaluates that network's objective itself.

    Returns
    -------
    IPMResult with U = [W; V] (2p, dt), t, c and solver statistics in ``info``.

    Raises
    ------
    SolverError when neither the tolerances nor the reduced tolerances are met.
    """
    t0 = time.perf_counter()
    Xt = np.asarray(Xt, dtype=np.float64)
    dt = Xt.shape[1]
    nd = dt - 1 if free_hidden_bias else dt
    pr = _Program(Xt, y, patterns, beta, nd, output_bias, rows)
    m = pr.m

    # ---- starting point (CVXOPT's): solve with W = I, then shift s and z into the interiors
    try:
        kkt = _KKT(pr, np.ones((m, pr.nr)), np.broadcast_to(np.eye(pr.k), (m, pr.k, pr.k)))
    except (FloatingPointError, np.linalg.LinAlgError) as exc:
        raise SolverError(f"the interior-point method could not start: {exc}") from None
    qU, _ = pr.gamma_T(-pr.y)
    qc = float(-np.sum(pr.y)) if pr.has_c else 0.0
    U, t, c = kkt.solve(-qU, np.full(m, -pr.beta), -qc)
    s_lp, s_soc = pr.cone_of(U, t)  # s = -A x, z = A x

    def shift(lp, soc):
        a = max(float(-np.min(lp, initial=np.inf)),
                float(np.max(np.linalg.norm(soc[:, 1:], axis=1) - soc[:, 0], initial=-np.inf)))
        if a >= 0:
            lp = lp + (1 + a)
            soc = soc.copy()
            soc[:, 0] += 1 + a
        return lp, soc

    z_lp, z_soc = shift(-s_lp, -s_soc)
    s_lp, s_soc = shift(s_lp, s_soc)

    status = "max_iter"
    best = (np.inf,)
    best_feasible = None  # (relgap, U, t, c, z_lp, z_soc, it, pres, dres)
    merits = []
    it = 0
    pcost = gap = pres = dres = relgap = np.nan
    correctors = 0
    task = progress.task("Interior-point solve", total=max_iter) if progress else None
    try:
        for it in range(max_iter + 1):
            # residuals r_x = P x + q + A'z and r_z = A x + s, gap s'z
            gU, gc = pr.gamma_T(pr.gamma(U, c) - pr.y)
            aU, at = pr.cone_T(z_lp, z_soc)
            rxU, rxt = gU - aU, pr.beta - at
            rxc = gc + pr.h_c * c if pr.has_c else 0.0
            clp, csoc = pr.cone_of(U, t)
            rz_lp, rz_soc = s_lp - clp, s_soc - csoc
            gap = float(np.sum(s_lp * z_lp) + np.sum(s_soc * z_soc))
            pcost = pr.objective(U, t, c)
            pres = _norm([rz_lp, rz_soc]) / max(1.0, float(np.linalg.norm(U)), float(np.linalg.norm(t)))
            dres = _norm([rxU, rxt, np.array([rxc])]) / pr.scale_q
            relgap = gap / max(1.0, abs(pcost))
            if not all(np.isfinite(v) for v in (pcost, gap, pres, dres)):
                status = "numerical_error (non-finite iterate)"
                break
            if pres <= tol_feas and dres <= tol_feas and relgap <= tol_gap_rel:
                status = "solved"
                break
            merit = max(relgap / REDUCED_TOL_GAP_REL, pres / REDUCED_TOL_FEAS, dres / REDUCED_TOL_FEAS)
            if merit < best[0]:
                best = (merit, U, t, c, z_lp, z_soc, it, relgap, pres, dres)
            if (pres <= REDUCED_TOL_FEAS and dres <= REDUCED_TOL_FEAS
                    and (best_feasible is None or relgap < best_feasible[0])):
                best_feasible = (relgap, U, t, c, z_lp, z_soc, it, pres, dres)
            merits.append(merit)
            if it >= STALL_ITERS and STALL_FACTOR * merit > merits[-STALL_ITERS - 1]:
                status = "stalled"
                break
            if it == max_iter:
                break
            nt = _Newton(pr, s_lp, z_lp, s_soc, z_soc)
            mu = gap / pr.degree
            lam_lp, lam_soc = nt.lam_lp, nt.lam_soc
            base = [-rxU, -rxt, -rxc, -rz_lp, -rz_soc]
            # predictor (affine scaling): rs = -lam o lam
            aff = nt.solve(base + [-lam_lp * lam_lp, -_jordan(lam_soc, lam_soc)], tol=REFINE_TOL_AUX)
            a_aff = min(1.0, nt.max_step(aff))
            sigma = (1.0 - a_aff) ** 3
            # corrector: rs = -lam o lam + sigma mu e - (W^-1 ds_a) o (W dz_a)
            rs_lp = -lam_lp * lam_lp + sigma * mu - aff[3] * aff[5]
            rs_soc = -_jordan(lam_soc, lam_soc) - _jordan(nt.sc.apply_inv(aff[4]), nt.sc.apply(aff[6]))
            rs_soc[:, 0] += sigma * mu
            d = nt.solve(base + [rs_lp, rs_soc])
            alpha = min(1.0, STEP_FRACTION * nt.max_step(d))
            rs_total, rs_soc_total = rs_lp, rs_soc
            # Gondzio's centrality correctors: with 2pn LP pairs some pair always blocks the
            # step; push the outlying products of a longer trial step back into
            # [CC_LO, CC_HI] sigma mu, and keep the corrected direction if it goes further.
            # The second-order cones get the same treatment through the eigenvalues of their
            # scaled products (W^-1 s) o (W z) (SOC_CORRECTORS): one badly centred cone often
            # blocks the step on its own
            for _ in range(CENTRALITY_CORRECTORS):
                if alpha >= 1.0:
                    break
                a_t = min(1.0, alpha + CC_DELTA)
                v = (s_lp + a_t * d[3]) * (z_lp + a_t * d[5])
                mu_t = sigma * mu
                r = np.clip(v, CC_LO * mu_t, CC_HI * mu_t) - v
                np.maximum(r, -CC_HI * mu_t, out=r)
                if SOC_CORRECTORS:
                    vs = _jordan(lam_soc + a_t * nt.sc.apply_inv(d[4]), lam_soc + a_t * nt.sc.apply(d[6]))
                    r_soc = _soc_eig_clip(vs, CC_LO * mu_t, CC_HI * mu_t) - vs
                else:
                    r_soc = np.zeros_like(rs_soc)
                zero = [np.zeros_like(rxU), np.zeros_like(rxt), 0.0, np.zeros_like(rz_lp), np.zeros_like(rz_soc)]
                cd = nt.solve(zero + [r, r_soc], tol=REFINE_TOL_AUX)
                d2 = [a + b for a, b in zip(d, cd)]
                a2 = min(1.0, STEP_FRACTION * nt.max_step(d2))
                if a2 < alpha + CC_GAIN * CC_DELTA:
                    break
                d, alpha, rs_total, rs_soc_total = d2, a2, rs_total + r, rs_soc_total + r_soc
                correctors += 1
            if rs_total is not rs_lp:  # the correctors were solved loosely: refine the sum
                d = nt.refine(base + [rs_total, rs_soc_total], d)
                alpha = min(1.0, STEP_FRACTION * nt.max_step(d))
            if trace is not None:
                trace({"iteration": it, "relative_gap": relgap, "primal_residual": pres, "dual_residual": dres,
                       "affine_step": a_aff, "sigma": sigma, "step": alpha, "small_directions": nt.kkt.n_small,
                       "seconds": time.perf_counter() - t0})
            U, t, c = U + alpha * d[0], t + alpha * d[1], c + alpha * d[2]
            s_lp, s_soc = s_lp + alpha * d[3], s_soc + alpha * d[4]
            z_lp, z_soc = z_lp + alpha * d[5], z_soc + alpha * d[6]
            if task:
                task(1)
    except (FloatingPointError, np.linalg.LinAlgError) as exc:
        status = f"numerical_error ({exc})"
    finally:
        if task and hasattr(task, "close"):
            task.close()
    # ``status`` so far is why the iterations stopped; the returned status is a SolverStatus
    info = {
        "solver": SOLVER_NAME,
        "status": SolverStatus.SOLVED,
        "iterations": it,
        "detail": None,
        "centrality_correctors": correctors,
        "primal_objective": pcost,
        "relative_gap": relgap,
        "primal_residual": pres,
        "dual_residual": dres,
        "solve_time_s": time.perf_counter() - t0,
        "coupling": "gram (p dt < n)" if pr.gram else "woodbury (n x n)",
        "settings": {"tol_gap_rel": tol_gap_rel, "tol_feas": tol_feas, "max_iter": max_iter,
                     "reduced_tol_gap_rel": REDUCED_TOL_GAP_REL, "reduced_tol_feas": REDUCED_TOL_FEAS,
                     "step_fraction": STEP_FRACTION, "soc_margin": SOC_MARGIN, "small_eig": SMALL_EIG, "eig_noise": EIG_NOISE,
                     "eig_floor": EIG_FLOOR,
                     "eig_floor_coupled": EIG_FLOOR_COUPLED, "centrality_correctors": CENTRALITY_CORRECTORS,
                     "soc_correctors": SOC_CORRECTORS,
                     "refine_steps": REFINE_STEPS, "refine_tol": REFINE_TOL,
                     "stall_iters": STALL_ITERS, "stall_factor": STALL_FACTOR},
    }
    if status != "solved" and best[0] <= 1.0:
        # the last iterations lost accuracy (rounding near the boundary): the best iterate met
        # the reduced tolerances; callers check optimality independently in any case
        _, U, t, c, z_lp, z_soc, best_it, relgap, pres, dres = best
        info.update(status=SolverStatus.ALMOST_SOLVED, detail=f"best iterate kept, then {status}",
                    best_iteration=best_it, primal_objective=pr.objective(U, t, c), relative_gap=relgap,
                    primal_residual=pres, dual_residual=dres)
        status = "almost_solved"
    if status not in ("solved", "almost_solved") and allow_inaccurate and best_feasible is not None:
        relgap, U, t, c, z_lp, z_soc, best_it, pres, dres = best_feasible
        info.update(status=SolverStatus.INACCURATE, detail=f"best feasible iterate kept, then {status}",
                    best_iteration=best_it, primal_objective=pr.objective(U, t, c), relative_gap=relgap,
                    primal_residual=pres, dual_residual=dres)
        status = "inaccurate"
    if status not in ("solved", "almost_solved", "inaccurate"):
        raise SolverError(f"the interior-point method stopped with status {status} after {it} iterations "
                          f"(relative gap {relgap:.1e}, residuals {pres:.1e} / {dres:.1e})")
    return IPMResult(U, t, c if pr.has_c else None, z_lp, z_soc, info)
