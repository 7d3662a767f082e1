"""Activation patterns of the data: the cells of the arrangement {u : xt_k^T u = 0}.

Two jobs share one engine:

* **enumerate** every activation pattern s = 1[Xt u > 0] of a full-dimensional cell
  (docs/method.md section 1), exactly, also for data not in general position;
* compute the **dual constraint value** M(nu) = max_{||u|| <= 1} |nu^T (Xt u)_+|
  (docs/method.md eq. (5.5)) exactly over all cells, with an a-priori floating-point error bound.

The mathematics
---------------
The engine rests on two facts about a central arrangement in a subspace S:

1. every cell has a facet on some hyperplane H_k, and the cells that touch H_k from either
   side are the lifts of the cells of the restricted arrangement in S ∩ H_k; so the cells of
   S are the union over k of those lifts (each cell appears once per facet);
2. on a cell the function f(u) = nu^T (Xt u)_+ is linear, u -> h^T u; its maximum over the
   unit sphere of the cell is ||P_S h|| when P_S h lies in the cell, and otherwise lies on the
   cell's boundary, i.e. on some S ∩ H_k.  Hence max_S f = max(max_k max_{S ∩ H_k} f, interior
   candidates), and a candidate z = P_S h/||P_S h|| is valid exactly when f(z) = ||P_S h||.

Applied recursively, the subspaces met are the **flats** of the arrangement (intersections of
hyperplanes). A flat F is identified by its **key**, the set of (original) rows whose
hyperplanes contain it; its rows are the others. Every flat of dimension 2 is solved by an
exact angular sweep (the hyperplanes are lines through the origin; the sweep visits every cell
in order with an O(1) update per crossing and maximizes f on each arc exactly).

The engine: each flat once
--------------------------
A flat of codimension c is reached along every ordering of its c hyperplanes, so a plain
recursion does about m!/(m-r)! 2^r work for m rows of rank r, however few cells there are
(9 x 11 Gaussian data, rank 9, 512 cells: out of memory). The engine (``_Engine``) instead
works on the lattice of flats:

* **discovery** (``_discover``): a depth-first walk from the whole space that creates each
  flat of dimension >= 3 once (looked up by key), with its row groups (rows whose hyperplanes
  coincide in the flat, PARALLEL_TOL; a child's key is its parent's key plus the group, so
  parallel and duplicate rows are identified the same way on every path) and an orthonormal
  basis (Householder complements of the group normals, in the coordinates of the row space of
  Xt, taken from the first path that reaches the flat), and counts the distinct parents of
  every flat (``indeg``);
* **cells** (``_cells_of``): the cells of a flat are the lifts of its children's cells (fact
  1); they are computed once, handed to each of the ``indeg`` parents and then dropped.
  From rank DEDUP_RANK on (and whenever patterns are wanted) the engine carries each cell's
  sign vector and keeps one copy per cell in every list it hands on, so that copies (one per
  facet) do not multiply level after level. Flats of dimension 2 are swept, all the children
  of one 3-dimensional flat in one vectorized batch; the top level's lifts are consumed as
  they come (patterns, candidates) and never stored.

Everything a flat hands to its parents is coordinate-free: a cell's sign vector (bits over the
original rows), its gradient h = sum_{l active} nu_l q_l in the coordinates of the row space
(q_l = row l there), and the original indices of a few rows with known sign on the cell (for a
cheap necessary test of interior candidates). A parent lifts a child's cell by adding the rows
of the group it restricted along (those active on the chosen side) to the sign vector and the
gradient, and the group's first row to the rows of known sign. The interior candidate of a
cell of a flat with basis B is z = B B^T h/||B^T h||; candidates are kept only when ||B^T h||
exceeds the best value of |f| attained so far (a warm start, ``_warm_start``, makes that value
close to M from the beginning) and pass the cheap test, and are checked in batches, largest
first, against all rows (``_flush``).

Cost: in general position with m rows of rank r, a flat of dimension s >= 3 costs the lifting
of its children's cells, 2 (m-c) cover(m-c-1, s-1) entries (c = r - s), every flat of dimension
2 is swept once per parent (r - 2 times; at rank 4 once, PAIR_ONCE: the plane of rows j < k is
swept in the flat of j, which also hands its arcs to the flat of k and lifts them to the top
once), and the number of flats of codimension c is C(m, c).
The total is a small factor (about 2^(r-1)) times the number of cells; ``estimate_work`` turns
it into seconds and bytes that ``analyze`` checks before starting (``refusal``).

Soundness of M_error
--------------------
M(nu) must never be underestimated by more than the reported ``M_error``. In exact arithmetic
the engine returns max |f| over the unit sphere of the row space exactly: a maximizer u* lies
in the relative interior of a cell of the lowest-dimensional flat F containing it (the whole
space or a flat); if dim F >= 3 that cell is in F's cell list (complete by fact 1, by
induction from the sweeps up) and u* is its interior candidate; if dim F <= 2, u* lies on the
closed arc of some sweep, where the maximum is computed exactly. Sharing does not change this:
each flat's list is the same complete list whichever parent asks for it (each flat is
explored once instead of once per path, with the same row groups on every path because groups
are part of the key); deduplication drops only entries whose sign vectors are equal, i.e.
copies of the same cell (same gradient in exact arithmetic; the rows of known sign kept with
the first copy are valid for every copy); the cheap test rejects only candidates outside their
closed cell, whose maximum then lies on a hyperplane, i.e. on a child flat; and candidates are
skipped only when their norm is at most a value of |f| actually attained at some point (the
warm start's, the sweeps', accepted candidates'), so a skipped candidate cannot raise the max.
In floating point, the error terms are:

* rounding (``margin``): a gradient is a sum of at most 3m + r terms nu_l q_l (the sweep's
  running sum adds and removes each row once, lifting adds each row's group once), its
  projection and norm are r-term dot products through bases built by at most r Householder
  steps, f(z) is an m-term sum over all rows (rows of the flat's key vanish on it up to the
  basis' rounding), and f(-z) = f(z) - (Q^T nu)^T z adds an r-term product; each is bounded by
  (number of terms + O(r)) u S with S = sum_l |nu_l| ||xt_l||, and margin = 32 (4m + 4r + 8)
  (r + 1) u S dominates their sum. A candidate is accepted when f(z) >= ||B^T h|| - margin
  (minus the merges' slack below, when rows were merged), so an accepted value exceeds an
  attained one by at most that, and a true interior maximum is never rejected;
* decisions by tolerance, charged for what the engine actually did (``_Engine.sliver``,
  ``_Engine.dropped``): rows whose hyperplanes are merged in a flat (sine <= PARALLEL_TOL to
  their group's first row), arcs of a sweep shorter than ANGLE_TOL dropped, and rows whose
  projection on the row space is below RANK_TOL times the largest singular value treated as
  zero (they change f by at most |nu_l| ||xt_l||, added). f is S-Lipschitz on the unit ball
  (|f(u) - f(v)| <= sum_l |nu_l| |q_l^T (u - v)| <= S ||u - v||), and positively homogeneous.

  *Merges.* In a flat F a row with unit normal b merged with its group's first row a (normals
  in F, oriented alike; computed sine s) is treated as vanishing on a's hyperplane. The true
  arrangement of F differs only inside the **slivers** where b^T u and a^T u differ in sign;
  there |a^T u| <= |(a - b)^T u| <= ||a - b|| <= (1 + s) sine(a, b) =: w for a unit u, so a
  maximizer u* in a sliver is within w of the point u1 = u* - (a^T u*) a of a's hyperplane, the
  engine's child flat, and |f(u1/||u1||)| >= |f(u1)| >= |f(u*)| - S w. On that child the rows
  merged into the key do not vanish exactly: each is at most ||q_l|| w there, so the engine's
  model of f on the child (key rows at zero) is within S w of f. That costs 2 S w per level
  of the flats crossed on the way down (at most r - 2 levels have merges: flats of dimension
  >= 3), and interior candidates are accepted within that slack (``accept_slack``: f(z) >=
  ||B^T h|| - margin - 2 S w), so a true maximum of the model is never rejected (an accepted
  value may exceed an attained one by the slack: M only grows, which is safe). w is the
  largest computed sine of any pair actually merged, plus SINE_ROUNDING (r + 2) u for the
  rounding of the sine itself (the geometry's own rounding, rows and bases, is in ``margin``:
  it moves f by O(u) ||q_l|| |nu_l| per row); exact duplicates (computed sine 0) cost that
  rounding only, and nothing is charged when no rows were merged.

  *Dropped arcs.* A run of consecutive dropped arcs lies between two kept crossings whose
  directions are ends of kept arcs, where the value is computed with the arc's exact
  gradient; a point of the run is within its width of such an end, so f there is at most S
  times the width above a computed value. The width of a run is the sum of its computed
  gaps (the angles telescope, so their rounding, ANGLE_ROUNDING, counts at the two ends):
  the engine records, per plane, the sum of all dropped gaps (a bound on every run in it) and
  keeps the largest, 0 when no arc was dropped.

  Kept crossings are ordered correctly: a computed gap above ANGLE_TOL exceeds the angles'
  rounding, so only dropped gaps can hide a swapped pair. The charge is
  4 S ((r - 2) w + dropped width): twice the 2 S w per level of merges, four times the S per
  dropped width derived above. The sliver fields are maxima, reduced over the partitioned run's tasks by max (order
  free), so M_error is bit-identical whatever ``jobs``. Before this accounting the charge was
  4 S (PARALLEL_TOL + ANGLE_TOL) always, ~4e-10 S, a relative gap floor near 1e-8;
  now general-position data pay the margin only (~1e-12 S at n ~ 10);
* the dropped rank: rows are projected on the r leading right singular vectors; on the unit
  ball the rest changes f by at most sigma_{r+1} ||nu||.

Thresholds: a floor and a ceiling
-----------------------------------
A caller that needs only to know whether M(nu) is below some value (the certificate: a bound
below the value that certifies is enough) passes a ``floor`` F; one that needs only to know
whether M(nu) is above some value (a violated dual constraint) passes a ``ceiling`` C.

* **Floor.** Every skip above compares a norm with a known value v; with a floor, v is
  max(attained, F) instead of the attained value alone. The argument of the previous section
  then shows: every candidate, arc or lift skipped has |f| at most its norm, at most v, so the
  exact maximum is at most max(M_found, F) + M_error, where M_found is the largest attained
  value (rounding: the skipped norms are computed values, within ``margin`` of the exact
  ones, as before). The result reports M_found and ``M_upper`` = max(M_found, F) + M_error;
  M_found is the maximum itself (``exact``) when it exceeds F, since then v = attained at the
  end and the previous section applies unchanged. F = 0 is the plain engine.
* **Ceiling.** Once a value above C is attained the engine stops (``stopped``): M_found is a
  value of |f| at a point, so M(nu) >= M_found - M_error, and no upper bound is claimed
  (``M_upper`` = inf). With tasks, the stop is that of the first task (in task order) that
  stops; the tasks after it are cancelled or their results ignored, so the counts, M_found and
  its point are the same whatever the number of workers.

Degeneracy (duplicate, parallel, zero or rank-deficient rows) is handled by those explicit
tolerances; for enumeration they decide ties, which is exact for data whose genuine
distinctions are larger than the tolerances (integer and float data of ordinary size).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .errors import TooLargeError
from .model import unique_rows
from .parallel import resolve_jobs, run_tasks

#: A row whose projection on the row space is below RANK_TOL times the largest singular value
#: of Xt is treated as zero; singular values below it are dropped.
RANK_TOL = 1e-12
#: Two rows define the same hyperplane of a subspace when the sine of their angle is below this.
PARALLEL_TOL = 1e-10
#: Crossings of the 2-D sweep closer than this (radians) are one crossing.
ANGLE_TOL = 1e-12
#: Unit roundoff.
UNIT = 2.0**-53
#: Bound on the rounding of a computed sine between two unit rows of a flat (a dot product and
#: a norm in at most r coordinates; r + 2 terms each, doubled), in units of UNIT per (r + 2).
SINE_ROUNDING = 8.0
#: Bound (radians) on the rounding of a computed crossing angle of the 2-D sweep (arctan2 of
#: a normalized pair, a shift by pi/2, a wrap by 2 pi and a shift by pi: a few ulps of 2 pi).
ANGLE_ROUNDING = 64 * UNIT
#: Coarse pre-test of the parallel test (not a tolerance of the result): two rows with
#: 1 - |cos| >= PARALLEL_PREFILTER have a sine > 1e-4, far above PARALLEL_TOL, and are not
#: compared further; the others get the exact sine test.
PARALLEL_PREFILTER = 1e-8
#: The advice that ends every refusal message (``refusal``).
ADVICE = "; use sampled patterns (solve --patterns N) or fewer samples"
#: Refuse exact work beyond this many cells (general-position count; also used by solve).
MAX_CELLS = 3e7
#: Refuse to materialize explicit patterns beyond this many pattern entries (cells * n).
MAX_PATTERN_ENTRIES = 4e8
#: Refuse when the engine's estimated running time (``estimate_work``) exceeds this (seconds,
#: one core of the 2-core CI machine kind).
MAX_SECONDS = 600.0
#: Refuse when the engine's estimated peak memory exceeds this (bytes; the machine has 24 GiB,
#: and the estimate counts about twice what is used).
MAX_BYTES = 12 * 2**30
#: Row entries (children x rows) swept in one vectorized batch (about 200 bytes each).
SWEEP_BATCH = 2**19
#: Without patterns, sign vectors are carried (to deduplicate the cell lists of flats) from
#: this rank on. At rank 4 the flats of dimension 3 only feed the top level, and sorting them
#: costs about what the copies cost (measured: n = 200, 14 s with, 10 s without).
DEDUP_RANK = 5
#: Starting directions and steps of the warm start (a heuristic lower bound on M, see
#: ``_Engine._warm_start``).
WARM_STARTS = 64
WARM_STEPS = 8
#: Interior candidates checked at once against all rows.
CANDIDATE_CHUNK = 1024
#: Deferred interior candidates are checked once this many have accumulated.
POOL_FLUSH = 2**20
#: The first flush comes after this many candidates, each next one after twice as many (up
#: to POOL_FLUSH): early flushes raise the attained value that the norm tests compare with.
POOL_FIRST_FLUSH = 2**12
#: Cost model of ``estimate_work``, seconds on one core of the 2-core CI machine kind: per
#: lifted cell entry, per row entry of a 2-D sweep, per flat of dimension >= 3, per entry
#: (cells x samples) of the pattern list. Measured on general-position data of rank 3..16
#: (e.g. rank 3, n = 3000: 12 s measured, 13 s estimated; rank 5, n = 80: 43 s vs 59 s;
#: 16 x 16: 80 s vs 151 s).
COST_PER_ENTRY = 3e-7
COST_PER_SWEPT = 3e-7
COST_PER_FLAT = 2e-4
COST_PER_PATTERN_ENTRY = 5e-9
#: At rank 3 and 4 the engine streams the top levels (arcs' rows built only for survivors,
#: 3-D flats streamed to the top), and its cost depends on nu: at the gradient of an OPTIMAL
#: network (the case verify must be fast for) far more cells have a gradient norm above the
#: largest value while their maximum lies on their boundary, so more candidates are tested
#: than for a noise-like nu. Recalibrated after SAMPLE_ROWS and HALF_SORT (CPU s, one job,
#: BLAS on one thread, the planted data of bench/scale.py; measured / the raw estimate above,
#: i.e. before this factor): rank 3, optimal network, n = 2000: 2.91 / 6.0; verify of the
#: optimal network at n = 10 000 (with the floor): 79.7 / 150; noise-like nu, n = 1500: 1.19 /
#: 3.4 (docs/benchmarks.md, "Scale, third stop"). The factor keeps a margin of about 1.2 above
#: optimal networks; a noise-like nu takes 2 to 3 times less.
STREAMED_COST_FACTOR = 0.65
#: The same at rank 4 with PAIR_ONCE (the raw estimate then counts each plane once): optimal
#: networks, n = 200: 3.97 / 13.0, n = 400: 29.96 / 104.9; n = 1000 (verify with the floor, 2
#: jobs, CPU of both): 364 / 1645; noise-like nu, n = 250: 4.35 / 25.5.
RANK4_COST_FACTOR = 0.36
#: Tasks the top level of the recursion is cut into at rank 3 and 4 (contiguous ranges of its
#: hyperplane groups). The partition depends only on the problem, never on the number of
#: workers, and the per-task results are reduced in task order, so M, M_error, the argmax and
#: the counts are bit-identical whatever ``jobs`` or ``scheduler`` (``analyze``). At rank 3
#: and 4 no flat of dimension >= 3 is shared between two top-level children, so the tasks
#: repeat no work; from rank DEDUP_RANK on they would (shared flats are recomputed in every
#: task that reaches them), so the top level is one task there.
PARTITION_TASKS = 32
#: Below this estimated running time (seconds, ``estimate_work``) the tasks run in this
#: process whatever ``jobs`` says (starting worker processes costs about a second); the
#: results are the same either way.
PARALLEL_MIN_SECONDS = 2.0
#: Below this estimated work (seconds, one job) the top level is one task instead of
#: PARTITION_TASKS: each task builds its own engine and discovers its flats again (about 1 ms a
#: task), a third of a small verify (d = 2, n = 50). Depends on the data only, so the results are
#: still the same for every ``jobs`` and scheduler.
SINGLE_TASK_SECONDS = 0.25
#: Fraction of a core each extra worker adds in practice (``estimate_work`` with jobs > 1;
#: measured 1 -> 2 jobs on the 2-core machine, docs/benchmarks.md).
PARALLEL_EFFICIENCY = 0.8
#: Stream the cells of the 3-D flats to the top at rank 4 (``_Engine._stream_to_top``);
#: False builds each flat's list first (the reference path, kept for tests).
STREAM_RANK4 = True
#: At rank 4 sweep each plane once instead of once per parent (``_Engine._stream_to_top``):
#: the plane along rows j < k is swept in the 3-D flat of row j, which also lifts its arcs into
#: the flat of row k (that flat's interior candidates) and to the top (the four cells j +-,
#: k +-, which the flat of k would have lifted again). Applies to the planes whose two
#: parent flats both have singleton row groups (general position), the others are swept
#: in each parent as before. False: every plane swept in both parents (reference path).
PAIR_ONCE = True
#: Push each cell's interior candidate from some of its faces instead of every one (the top
#: level at rank 3, the streamed rank-4 path; flats in general position). A cell of a 3-D flat is met once per facet (row k),
#: through the arc of the plane of k, whose two ends lie on the cell's neighbouring facets a, b
#: (the crossing rows there); its facets form a cycle, so the facet of smallest index satisfies
#: k < min(a, b): pushing only from such faces loses no cell. A top-level cell C is met once per
#: 2-face (rows j, k; the arc's ends on rows a, b): with j0 the smallest facet of C and k the
#: smallest facet of the 3-D cone C ∩ H_j0, max(j0, k) < min(a, b), so the rule
#: max(j, k) < min(a, b) loses no cell either. Planes where an arc was dropped (ANGLE_TOL) keep
#: every push (their arcs' ends need not be true neighbours). Candidates of the same cell are
#: the same point (up to rounding), so only duplicates are skipped.
CANONICAL_PUSH = True
#: The cheap test of a candidate lifted from an arc (rank 3 top level; rank 4 streamed flats
#: and top) also uses the rows crossed just before and just after the arc (their sign on every
#: lift of the arc is their state on the arc), not only the arc's own rows and the rows lifted
#: along: fewer candidates reach the O(n) check.
NEIGHBOUR_ROWS = True
#: The third test of a candidate lifted from an arc (after its known rows and NEIGHBOUR_ROWS):
#: its sign on SAMPLE_ROWS fixed rows (a seeded random subset, the same in every task) against
#: the cell's, read at the arc's midpoint p (a point of the cell's closure where no row but the
#: arc's own plane vanishes). Most candidates that reach the O(n) check lie far outside their
#: cell and many rows separate them from it, so a sample of rows rejects them at O(SAMPLE_ROWS)
#: cost each. 0 turns the test off; it runs only when m > SAMPLE_MIN_ROWS.
SAMPLE_ROWS = 128
SAMPLE_MIN_ROWS = 1024
#: A sample row's sign at p is trusted, and z is on its wrong side, only beyond this value of
#: the products of unit vectors (rounding is ~1e-15 here; a row within it of p, e.g. the arc's
#: own plane, or of z is not used): the test never rejects a z in the closed cell.
SAMPLE_SIGN_TOL = 1e-9
#: Below this norm of dlo + dhi (arcs of nearly pi) the midpoint is dlo turned by pi/2.
MID_WIDE = 1e-3
#: Sweeps of planes without padding sort the L crossings in [0, pi) only: the other L follow
#: in the same order, pi later (``_crossing_order``: with e = a -+ pi as the sweep computes it no
#: two can come out of order; if they ever did, the batch is sorted whole). False: always all 2 L.
HALF_SORT = True
#: Memory of the interpreter and libraries before any work (bytes), for ``estimate_work``.
BASE_BYTES = 80 * 2**20

_WORD = np.dtype("<u8")
#: Bit reversal of a byte.
_REV8 = np.array([int(f"{i:08b}"[::-1], 2) for i in range(256)], dtype=np.uint8)
#: Constants of the splitmix64 word hash in ``_unique_index`` (an optimization only).
_HASH_MUL = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_TWO_PI = 2.0 * np.pi


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
        """Record ``value`` of ``sign * f`` at ``point`` if it beats the current best."""
        if sign > 0 and value > self.plus:
            self.plus, self.plus_at = float(value), point
        elif sign < 0 and value > self.minus:
            self.minus, self.minus_at = float(value), point

    def merge(self, other: "SphereMax") -> None:
        """Take the better of each side of ``other``."""
        if other.plus_at is not None:
            self.update(other.plus, other.plus_at, +1)
        if other.minus_at is not None:
            self.update(other.minus, other.minus_at, -1)

    @property
    def value(self) -> float:
        """max(max f, max -f, 0)."""
        return max(self.plus, self.minus, 0.0)


@dataclass
class ArrangementResult:
    """What :func:`analyze` found.

    Attributes
    ----------
    patterns : (p, n) bool or None
        The distinct activation patterns of the full-dimensional cells (zero rows are 0),
        in lexicographic order.
    M : float or None
        Computed max_{||u||<=1} |nu^T (Xt u)_+|.
    M_error : float
        Bound on |computed - exact| for M (rounding, tolerances, dropped rank).
    argmax : (dt,) or None
        A unit vector where |f| is (about) M; ``argmax_sign`` says whether f or -f.
    rank : int
        Rank of Xt used (singular values above RANK_TOL * largest).
    n_rows_used : int
        Rows that are not zero (see RANK_TOL).
    cells_visited : int
        Cell entries produced by the engine: swept arcs and lifted cells, with repetitions
        (a cell of a flat is produced once per facet, each flat once).
    candidates_checked : int
        Interior candidates evaluated against all rows.
    tolerances : dict
        The tolerances used (``tolerances()``).
    floor : float
        Values of |f| at most this were not searched for (``analyze``): M is then the largest
        value found, and M(nu) <= max(M, floor) + M_error (``M_upper``).
    stopped : bool
        The exploration stopped once a value above ``analyze``'s ceiling was attained: M is
        a value attained (M(nu) >= M - M_error), not the maximum; ``M_upper`` is inf.
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
    floor: float = 0.0
    stopped: bool = False

    @property
    def n_patterns(self) -> int | None:
        return None if self.patterns is None else int(self.patterns.shape[0])

    @property
    def M_upper(self) -> float:
        """A sound upper bound on M(nu): max(M, floor) + M_error, or inf after a stop."""
        if self.M is None or self.stopped:
            return math.inf
        return max(self.M, self.floor) + self.M_error

    @property
    def exact(self) -> bool:
        """Whether M is the maximum itself (to M_error): neither below the floor nor stopped."""
        return self.M is not None and not self.stopped and self.M > self.floor


def tolerances() -> dict:
    """The named tolerances that decide ties (reported with every certificate)."""
    return {
        "rank_tol": RANK_TOL,
        "parallel_tol": PARALLEL_TOL,
        "angle_tol": ANGLE_TOL,
    }


def rank_and_rows(Xt: np.ndarray):
    """Row space of Xt: (rank r, singular values, V (dt, r), nonzero row indices, Q (m, r))."""
    norms = np.linalg.norm(Xt, axis=1)
    nz = np.flatnonzero(norms > 0)
    if nz.size == 0:
        return 0, np.zeros(0), np.zeros((Xt.shape[1], 0)), nz, np.zeros((0, 0))
    _, s, Vt = np.linalg.svd(Xt[nz], full_matrices=False)
    r = int(np.sum(s > RANK_TOL * s[0]))
    Vr = Vt[:r].T
    Q = Xt[nz] @ Vr
    # rows (numerically) outside the kept row space are zero there (RANK_TOL)
    qn = np.linalg.norm(Q, axis=1)
    ok = qn > RANK_TOL * s[0]
    return r, s, Vr, nz[ok], Q[ok]


def estimate_cells(Xt: np.ndarray) -> tuple[int, int]:
    """(rank, general-position cell count) of the arrangement of Xt's rows.

    The general-position count ``cover_count(m, r)`` of the m non-zero rows is an upper bound
    on the number of cells of any arrangement of m hyperplanes of rank r.
    """
    Xt = np.asarray(Xt, dtype=np.float64)
    r, _, _, rows, _ = rank_and_rows(Xt)
    if r == 0:
        return 0, 1
    return r, cover_count(int(rows.size), r)


def estimate_work(m: int, r: int, *, patterns: bool = False, n: int | None = None,
                  with_nu: bool = True, jobs: int = 1) -> dict:
    """Estimated cost of the engine on m non-zero rows of rank r.

    The counts are those of general position, which bound every arrangement of m hyperplanes
    of rank r: at most C(m, c) flats of codimension c, at most cover_count(k, s) cells in a
    flat of dimension s cut by k rows, and each flat of dimension 2 swept once per parent
    (r - 2 parents in general position; a degenerate flat may have more parents, but then
    the arrangement has fewer flats and cells).

    Parameters
    ----------
    m, r : int
        Non-zero rows and rank.
    patterns : bool
        Whether the explicit pattern list is wanted.
    n : int, optional
        Samples (columns of the pattern list); default m.
    with_nu : bool
        Whether M(nu) is computed (cell gradients are carried).
    jobs : int
        Worker processes: at rank 3 and 4 the time is divided by the effective parallelism
        1 + PARALLEL_EFFICIENCY (w - 1), w = min(jobs, PARTITION_TASKS), and the memory of the
        sweeps multiplied by w (each worker sweeps its own batch).

    Returns
    -------
    dict
        ``cells`` (general-position cell count), ``flats`` (flats of dimension >= 3),
        ``entries`` (lifted cell entries), ``swept`` (row entries of the 2-D sweeps),
        ``seconds`` (running time, from COST_PER_* measured on the 2-core CI machine kind; it
        over-estimates by up to about 2x) and ``bytes`` (peak memory, counting every
        shared cell list as alive at once: also an over-estimate).
    """
    n = m if n is None else n
    cells = cover_count(m, r) if r > 0 else 1
    W = (m + 63) // 64 if (patterns or r >= DEDUP_RANK) else 0
    entry = 8 * W + (8 * r if with_nu else 0) + 5 * max(r, 2) + 16  # one cell entry, bytes
    flats = entries = swept = memo = peak_node = 0
    once = r == 4 and PAIR_ONCE and STREAM_RANK4 and with_nu and not patterns  # _Engine._pair_flags
    if r <= 2:
        swept = m if r == 2 else 0
        entries = cells
    else:
        for c in range(0, r - 2):
            s, k = r - c, m - c
            if k <= 0:
                break
            count = math.comb(m, c)
            lifted = 2 * k * cover_count(k - 1, s - 1)  # lifts of the children's cells
            if c == 0 and once:
                lifted //= 2  # each plane lifted to the top once
            flats += count
            entries += count * lifted
            if c >= 1:
                peak_node = max(peak_node, lifted)
            if c >= 2:  # shared lists, kept until their last parent is done
                memo += count * cover_count(k, s)
            if s == 3:
                # each plane swept once per parent, or once (PAIR_ONCE)
                swept += count * k * max(k - 1, 0) // (2 if once else 1)
    seconds = COST_PER_ENTRY * entries + COST_PER_SWEPT * swept + COST_PER_FLAT * flats
    w = min(max(jobs, 1), PARTITION_TASKS) if 3 <= r < DEDUP_RANK else 1
    if 3 <= r < DEDUP_RANK:
        seconds *= RANK4_COST_FACTOR if once else STREAMED_COST_FACTOR
    seconds /= 1.0 + PARALLEL_EFFICIENCY * (w - 1)
    nbytes = (BASE_BYTES + entry * (memo + peak_node) + 300 * flats * (1 + r)
              + w * min(swept, SWEEP_BATCH) * 100 * (r + 4 + W))
    if patterns:
        top = 2 * m * cover_count(max(m - 1, 0), max(r - 1, 0))  # top-level lifts, kept
        nbytes += 8 * W * min(top, 4 * POOL_FLUSH + cells) + 2 * cells * n
        seconds += COST_PER_PATTERN_ENTRY * cells * n
    return {"cells": cells, "flats": flats, "entries": entries, "swept": swept,
            "seconds": seconds, "bytes": nbytes}


def refusal(Xt: np.ndarray, *, nu: bool = True, patterns: bool = False,
            max_cells: float = MAX_CELLS) -> str | None:
    """Why ``analyze(Xt, ...)`` would refuse (a one-line message), or None if it would run.

    Parameters
    ----------
    Xt : (n, dt) array
        Augmented data.
    nu : bool
        Whether M(nu) is wanted.
    patterns : bool
        Whether the explicit pattern list is wanted.
    max_cells : float
        Limit on the cell count.
    """
    Xt = np.asarray(Xt, dtype=np.float64)
    n = Xt.shape[0]
    r, _, _, rows, _ = rank_and_rows(Xt)
    return refusal_for_size(int(rows.size), r, n, nu=nu, patterns=patterns, max_cells=max_cells)


def refusal_for_size(m: int, r: int, n: int, *, nu: bool, patterns: bool, max_cells: float,
                     jobs: int = 1, max_seconds: float | None = None) -> str | None:
    max_seconds = MAX_SECONDS if max_seconds is None else max_seconds
    est = estimate_work(m, r, patterns=patterns, n=n, with_nu=nu, jobs=jobs)
    cells = est["cells"]
    over = []
    if patterns and cells > max_cells:
        over.append(f"{max_cells:.3g} patterns")
    if est["seconds"] > max_seconds:
        over.append(f"{max_seconds:.0f} s")
    if est["bytes"] > MAX_BYTES:
        over.append(f"{MAX_BYTES / 2**30:.0f} GiB")
    if over:
        return (
            f"exact enumeration needs about {cells:.3g} activation patterns (n={n}, rank {r}; "
            f"estimated {est['seconds']:.2g} s and {est['bytes'] / 2**30:.2g} GiB), more than the "
            f"limit of {' and '.join(over)}" + ADVICE
        )
    if patterns and cells * n > MAX_PATTERN_ENTRIES:
        return (
            f"the exact pattern list would have about {cells:.3g} patterns of {n} samples, "
            f"more than fits in memory here; use sampled patterns (--patterns N)"
        )
    return None


def analyze(
    Xt: np.ndarray,
    nu: np.ndarray | None = None,
    *,
    patterns: bool = False,
    progress=None,
    max_cells: float = MAX_CELLS,
    jobs: int | None = 1,
    scheduler: str | None = None,
    stop_below: float = -math.inf,
    stop_above: float = math.inf,
    max_seconds: float | None = None,
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
        Refuse (TooLargeError) when the pattern list is wanted and the general-position cell
        count exceeds this (without patterns the cells are streamed, and the time and memory
        estimates decide).
    jobs : int or None
        Worker processes (None or 0: all cores). The top level of the recursion is cut into
        tasks that depend only on the data (PARTITION_TASKS), reduced in task order: every
        field of the result is bit-identical whatever ``jobs`` (docs/scale.md).
    scheduler : str, optional
        Address of a dask.distributed scheduler that runs the same tasks instead (optional
        extra ``dask``); same results.
    stop_below : float
        An upper bound on M(nu) at most this is all that is needed: values of |f| at most
        floor = stop_below - M_error are not looked for (every norm test compares with the
        larger of the attained value and the floor; module docstring, "Thresholds"), and the
        result's ``M_upper`` is max(M, floor) + M_error. Ignored for the pattern list.
    stop_above : float
        Stop as soon as a value of |f| above this is attained (``stopped``: M is then a value
        attained, not the maximum). The stop is taken at the same point whatever ``jobs``.
    max_seconds : float, optional
        Refuse when the estimated running time (``estimate_work`` with ``jobs``) exceeds this
        (None: MAX_SECONDS; verify passes its time limit when that is larger).

    Returns
    -------
    ArrangementResult

    Raises
    ------
    TooLargeError
        Before any work, when the cell count exceeds ``max_cells``, or the engine's estimated
        time or memory (``estimate_work``) exceeds ``max_seconds`` or MAX_BYTES, or the pattern
        list would exceed MAX_PATTERN_ENTRIES; the one-line message (``refusal``) names the
        estimates. With a finite ``stop_above`` and M wanted (rank >= 3) the warm start runs
        first: if it attains a value above ``stop_above``, the stopped result is returned.
    """
    Xt = np.asarray(Xt, dtype=np.float64)
    n, dt = Xt.shape
    r, sv, Vr, keep, Q = rank_and_rows(Xt)
    m = int(keep.size)
    jobs = resolve_jobs(jobs)
    why = refusal_for_size(m, r, n, nu=nu is not None, patterns=patterns, max_cells=max_cells,
                           jobs=jobs if scheduler is None else 1, max_seconds=max_seconds)
    # too large for the whole enumeration: only a stop above the ceiling at the warm start
    # (before any cell) can still answer
    warm_only = why is not None and nu is not None and not patterns and r >= 3 and stop_above < math.inf
    if why is not None and not warm_only:
        raise TooLargeError(why)
    if r == 0:
        pats = np.zeros((1, n), dtype=bool) if patterns else None
        return ArrangementResult(pats, 0.0 if nu is not None else None, 0.0, None, 1, 0, 0, 1, 0,
                                 tolerances())
    nu_all = None if nu is None else np.asarray(nu, dtype=np.float64)
    nu_k = None if nu_all is None else nu_all[keep]
    dropped_sigma = float(sv[r]) if r < sv.size else 0.0

    margin = 0.0
    S = 0.0
    zero_rows = 0.0
    if nu_k is not None:
        S = float(np.abs(nu_k) @ np.linalg.norm(Xt[keep], axis=1))
        # a-priori error scale of any computed f value, cell gradient or candidate norm
        # (module docstring, "Soundness of M_error")
        margin = 32.0 * (4 * m + 4 * r + 8) * UNIT * S * (r + 1)
        # rows treated as zero (RANK_TOL) change f by at most |nu_l| ||xt_l|| on the unit ball
        zero = np.ones(n, dtype=bool)
        zero[keep] = False
        others = np.flatnonzero(zero)
        if others.size:
            zero_rows = float(np.abs(nu_all[others]) @ np.linalg.norm(Xt[others], axis=1))
    M_err = None
    floor = 0.0
    if nu_k is not None and not patterns:  # the thresholds concern M; patterns need every cell
        # the floor leaves room for the error allowance the tolerances may charge (the charge
        # itself is known only after the run: below); a larger charge only loosens M_upper
        prior_err = (
            margin
            + 4.0 * S * (max(r - 2, 1) * 1.01 * PARALLEL_TOL + ANGLE_TOL)
            + zero_rows
            + dropped_sigma * float(np.linalg.norm(nu_k))
        )
        floor = max(float(stop_below) - prior_err, 0.0)
    else:
        stop_above = math.inf
    eng = _Engine(Q, Vr, nu_k, patterns=patterns, margin=margin, progress=progress, floor=floor,
                  ceiling=float(stop_above))
    if warm_only:
        try:
            eng._warm_start()
        except _StopAbove:
            pass
        if not eng.stopped:
            raise TooLargeError(why)
    elif r <= 2:
        try:
            eng.run()
        except _StopAbove:
            pass
    else:
        est = estimate_work(m, r, patterns=patterns, n=n, with_nu=nu is not None)["seconds"]
        if scheduler is None and est < PARALLEL_MIN_SECONDS:
            jobs = 1
        _run_partitioned(eng, jobs, scheduler, progress, single=est < SINGLE_TASK_SECONDS)

    pats = None
    if patterns:
        pats = _spread_columns(eng.patterns(), keep, n)
    M = None
    argmax, sign = None, 1
    if nu_k is not None:
        smax = eng.best
        M = smax.value
        if smax.plus >= smax.minus:
            argmax, sign = smax.plus_at, 1
        else:
            argmax, sign = smax.minus_at, -1
        # slivers of what the tolerances actually did (module docstring): per level of merges
        # and for the dropped arcs of the sweeps, f moves by at most S times the width
        M_err = (
            margin
            + 4.0 * S * (max(r - 2, 0) * eng.sliver() + eng.dropped())
            + zero_rows
            + dropped_sigma * float(np.linalg.norm(nu_k))
        )
    return ArrangementResult(
        patterns=pats,
        M=M,
        M_error=float(M_err) if M_err is not None else 0.0,
        argmax=argmax,
        argmax_sign=sign,
        rank=r,
        n_rows_used=m,
        cells_visited=eng.cells_seen,
        candidates_checked=eng.candidates_checked,
        tolerances=tolerances(),
        floor=floor,
        stopped=eng.stopped,
    )


def _append_row(crows: np.ndarray, cact: np.ndarray, row: np.ndarray, side: bool):
    """The known-sign rows of lifted cells: each cell's rows and signs with one more row
    (``row[i]``) of sign ``side``."""
    rows = np.empty((crows.shape[0], crows.shape[1] + 1), dtype=np.int32)
    rows[:, :-1] = crows
    rows[:, -1] = row
    act = np.empty(rows.shape, dtype=bool)
    act[:, :-1] = cact
    act[:, -1] = side
    return rows, act


# ----------------------------------------------------------------------------- partitioned run


@dataclass
class _Task:
    """One task of the top level: the top-level children lo..hi-1 of ``root``."""

    Q: np.ndarray
    Vr: np.ndarray
    nu: np.ndarray | None
    patterns: bool
    margin: float
    root: "_Node"
    best: SphereMax
    lo: int
    hi: int
    merged_sine: float = -1.0
    floor: float = 0.0
    ceiling: float = math.inf
    pair: np.ndarray | None = None


def _run_task(task: _Task, progress=None):
    """Explore the cells lifted from the top-level children lo..hi-1 (a fresh engine that
    starts from the warm start's attained values). Returns (best, cells, candidates, bits,
    merged sine, dropped width)."""
    eng = _Engine(task.Q, task.Vr, task.nu, patterns=task.patterns, margin=task.margin,
                  progress=progress, floor=task.floor, ceiling=task.ceiling)
    eng.merged_sine = task.merged_sine  # the top flat's merges (discovered by the caller)
    eng.pair = task.pair
    eng.best = SphereMax(task.best.plus, task.best.plus_at, task.best.minus, task.best.minus_at)
    js = np.arange(task.lo, task.hi)
    eng.nodes[task.root.key] = task.root
    try:
        eng._discover_children(task.root, js)
        eng._node_cells(task.root, top=True, js=js)
        eng._flush()
    except _StopAbove:
        pass
    bits = None
    if task.patterns:
        bits = _unique_rows(np.concatenate(eng.top_bits)) if eng.top_bits else np.zeros((0, eng.W), _WORD)
    return eng.best, eng.cells_seen, eng.candidates_checked, bits, eng.stopped, eng.merged_sine, eng.dropped_width


def _run_partitioned(eng: "_Engine", jobs: int, scheduler: str | None, progress, single: bool = False) -> None:
    """Rank >= 3: warm start and top-level flat here, the top-level children in tasks
    (PARTITION_TASKS, fixed by the data), results reduced in task order into ``eng``.

    Reduction: ``best`` starts from the warm start's values and takes each task's with a
    strict comparison in task order (a tie goes to the earlier task); counts add up; sign
    vectors are pooled (``patterns`` sorts them); the merged sine and dropped width take the
    maximum (order-free). Each task starts from the same warm start
    and sees only its own attained values, so nothing a task computes depends on the others
    or on which worker ran it.
    """
    if eng.nu is not None:
        try:
            eng._warm_start()
        except _StopAbove:
            return
    root = eng._discover(frozenset(), np.arange(eng.m), np.eye(eng.r), recurse=False)
    K = root.normals.shape[0]
    n_tasks = 1 if (eng.r >= DEDUP_RANK or single) else max(1, min(K, PARTITION_TASKS))
    pair = eng._pair_flags(root)
    if pair is None:
        edges = [(K * i) // n_tasks for i in range(n_tasks + 1)]
    else:
        # flat j sweeps about K - j planes: contiguous ranges of about equal work
        work = np.cumsum(np.where(pair, K - np.arange(K), K).astype(np.float64))
        cuts = np.searchsorted(work, work[-1] * np.arange(1, n_tasks) / n_tasks, side="right")
        edges = sorted(set([0, *(int(c) for c in cuts), K]))
        n_tasks = len(edges) - 1
    tasks = [_Task(eng.Q, eng.Vr, eng.nu, eng.want_patterns, eng.margin, root, eng.best,
                   edges[i], edges[i + 1], eng.merged_sine, eng.floor, eng.ceiling, pair)
             for i in range(n_tasks)]
    if n_tasks == 1 and scheduler is None:
        results = [_run_task(tasks[0], progress)]
    else:
        task = progress.task("Exploring activation patterns", total=n_tasks) if progress else None
        try:
            # the results up to the first task that stopped above the ceiling (task order:
            # the same prefix whatever jobs; later tasks are cancelled or ignored)
            results = run_tasks(_run_task, tasks, jobs=jobs, scheduler=scheduler, progress=task,
                                until=lambda res: res[4])
        finally:
            if task is not None and hasattr(task, "close"):
                task.close()
    for best, cells, cands, bits, stopped, merged, dropped in results:
        eng.merged_sine = max(eng.merged_sine, merged)
        eng.dropped_width = max(eng.dropped_width, dropped)
        eng.best.merge(best)
        eng.cells_seen += cells
        eng.candidates_checked += cands
        if bits is not None:
            eng.top_bits.append(bits)
        if stopped:
            eng.stopped = True
            break


# ----------------------------------------------------------------------------- the engine


class _Cells:
    """Cells of one flat (or lifts of them), coordinate-free.

    Attributes
    ----------
    bits : (N, W) uint64
        Sign vector of each cell over the original rows (bit l of word l // 64 set iff row l
        is active); W = 0 when the engine carries no sign vectors.
    grads : (N, r) float or None
        Gradient sum_{l active} nu_l q_l in row-space coordinates (None without nu).
    rows : (N, w) int32
        Original indices of rows with known sign on the cell (m = none, a zero row).
    act : (N, w) bool
        Whether each of those rows is active on the cell.
    """

    __slots__ = ("bits", "grads", "rows", "act", "lazy", "geo")

    def __init__(self, bits, grads, rows, act, lazy=None, geo=None):
        self.bits, self.grads, self.rows, self.act = bits, grads, rows, act
        # arcs of a sweep: (row of each crossing, entry flag of each crossing, crossing that
        # opens each arc, crossing that closes it); rows/act are built on demand from them
        self.lazy = lazy
        # arcs of a sweep: (direction of each crossing in its plane, the planes' bases in
        # row-space coordinates, the plane of each arc), for ``mids``
        self.geo = geo

    def __len__(self) -> int:
        return self.bits.shape[0]

    def rows_act(self, idx):
        """``(rows[idx], act[idx])`` (for a sweep's arcs, built only for those)."""
        if self.lazy is None:
            return self.rows[idx], self.act[idx]
        top_ev, entry, ai, an = self.lazy
        lo, hi = ai[idx], an[idx]
        rows = np.column_stack([top_ev[lo], top_ev[hi]]).astype(np.int32)
        act = np.column_stack([entry[lo], ~entry[hi]])
        return rows, act

    def mids(self, idx):
        """The midpoints (len(idx), r) of the arcs ``idx`` as unit vectors in row-space
        coordinates (None: not a sweep's arcs). An arc runs counterclockwise from its opening
        direction to its closing one and spans at most pi."""
        if self.geo is None or self.lazy is None:
            return None
        dirs, Bl, kk = self.geo
        _, _, ai, an = self.lazy
        lo = dirs[ai[idx]]
        s = lo + dirs[an[idx]]
        nrm = np.hypot(s[:, 0], s[:, 1])
        wide = nrm < MID_WIDE
        if np.any(wide):
            s[wide] = np.column_stack([-lo[wide, 1], lo[wide, 0]])
            nrm[wide] = 1.0
        s /= nrm[:, None]
        return np.einsum("nrt,nt->nr", Bl[kk[idx]], s)

    def materialize(self) -> "_Cells":
        if self.lazy is not None:
            self.rows, self.act = self.rows_act(np.arange(len(self)))
            self.lazy = None
        return self

    def take(self, idx) -> "_Cells":
        rows, act = self.rows_act(idx)
        return _Cells(self.bits[idx], None if self.grads is None else self.grads[idx], rows, act)

    @staticmethod
    def concat(parts: list) -> "_Cells":
        if len(parts) == 1:
            return parts[0]
        parts = [p.materialize() for p in parts]
        g = None if parts[0].grads is None else np.concatenate([p.grads for p in parts])
        return _Cells(np.concatenate([p.bits for p in parts]), g,
                      np.concatenate([p.rows for p in parts]),
                      np.concatenate([p.act for p in parts]))


@dataclass
class _Node:
    """A flat of dimension >= 3.

    Attributes
    ----------
    key : frozenset
        Original rows whose hyperplanes contain the flat.
    rest : (k,) int
        The other rows (ascending).
    B : (r, s) float
        Orthonormal basis of the flat in row-space coordinates.
    label : (k,) int
        Group of each row of ``rest`` (rows whose hyperplanes coincide in the flat), 0..K-1
        in the order of the groups' first rows.
    orient : (k,) float
        +1 or -1: the row's normal points like (or against) its group's first row.
    normals : (K, s) float
        Unit normal of each group (its first row) in flat coordinates; the child flat along
        group j has basis ``B @ _complements(normals)[j]``.
    indeg : int
        Number of distinct parents (flats one dimension up that restrict to this one).
    """

    key: frozenset
    rest: np.ndarray
    B: np.ndarray
    label: np.ndarray
    orient: np.ndarray
    normals: np.ndarray
    singletons: bool
    indeg: int = 0

    @property
    def dim(self) -> int:
        return self.B.shape[1]

    def child_key(self, j: int) -> frozenset:
        return self.key | frozenset(self.rest[self.label == j].tolist())


def _parallel_groups(P: np.ndarray):
    """Group the rows of P (k, s) whose hyperplanes coincide: sine of their angle <= PARALLEL_TOL.

    Greedy in row order: the first unassigned row starts a group and takes every unassigned
    row parallel or antiparallel to it. Returns (label (k,), orient (k,), unit normals of the
    groups' first rows (K, s), the largest computed sine between a row and the first row of
    its group, or -1.0 when no two rows were merged).
    """
    k = P.shape[0]
    norms = np.linalg.norm(P, axis=1)
    unit = P / norms[:, None]
    label = np.arange(k)
    orient = np.ones(k)
    # coarse pre-test on |cos|; exact sine test only on the few surviving pairs
    block = max(1, 2**22 // max(k, 1))
    ii, jj = [], []
    for lo in range(0, k, block):
        C = unit[lo:lo + block] @ unit.T
        a, b = np.nonzero(np.abs(C) >= 1.0 - PARALLEL_PREFILTER)
        off = (a + lo) != b
        ii.append(a[off] + lo)
        jj.append(b[off])
    ii = np.concatenate(ii) if ii else np.zeros(0, dtype=np.intp)
    jj = np.concatenate(jj) if jj else np.zeros(0, dtype=np.intp)
    if ii.size == 0:
        return label, orient, unit, -1.0
    order = np.lexsort((jj, ii))
    ii, jj = ii[order], jj[order]
    starts = np.searchsorted(ii, np.arange(k + 1))
    assigned = np.zeros(k, dtype=bool)
    rep_of = np.arange(k)
    merged = -1.0
    for i in np.unique(ii):
        if assigned[i]:
            continue
        assigned[i] = True
        cand = jj[starts[i]:starts[i + 1]]
        cand = cand[~assigned[cand]]
        if cand.size == 0:
            continue
        cos = unit[cand] @ unit[i]
        sin = np.linalg.norm(unit[cand] - cos[:, None] * unit[i][None, :], axis=1)
        sel = sin <= PARALLEL_TOL
        cand, cos = cand[sel], cos[sel]
        if cand.size:
            merged = max(merged, float(sin[sel].max()))
        assigned[cand] = True
        rep_of[cand] = i
        orient[cand] = np.sign(cos)
    reps, label = np.unique(rep_of, return_inverse=True)
    return label, orient, unit[reps], merged


def _complements(U: np.ndarray) -> np.ndarray:
    """Orthonormal bases (K, s, s-1) of the orthogonal complements of the unit rows U (K, s).

    Householder: with j = argmax |u_j| and v = u + sign(u_j) e_j, the reflection
    I - 2 v v^T / v^T v maps u to -sign(u_j) e_j, so its other columns span u's complement.
    """
    K, s = U.shape
    ar = np.arange(K)
    j = np.argmax(np.abs(U), axis=1)
    V = U.copy()
    V[ar, j] += np.where(U[ar, j] >= 0, 1.0, -1.0)
    vv = np.einsum("ki,ki->k", V, V)
    Hh = np.eye(s)[None, :, :] - (2.0 / vv)[:, None, None] * V[:, :, None] * V[:, None, :]
    cols = np.arange(s)[None, :]
    keep = cols != j[:, None]  # (K, s)
    idx = np.nonzero(keep)[1].reshape(K, s - 1)
    return np.take_along_axis(Hh, idx[:, None, :], axis=2)


class _StopAbove(Exception):
    """Raised inside the engine once an attained value exceeds its ceiling (``analyze``)."""


class _Engine:
    """The lattice-of-flats engine (module docstring). One instance per ``analyze`` call."""

    def __init__(self, Q, Vr, nu, *, patterns: bool, margin: float, progress=None,
                 floor: float = 0.0, ceiling: float = math.inf):
        m, r = Q.shape
        # thresholds (``analyze``): values of |f| at most ``floor`` need not be found; stop
        # (_StopAbove) once an attained value exceeds ``ceiling``
        self.floor = float(floor)
        self.ceiling = float(ceiling)
        self.stopped = False
        self.m, self.r = m, r
        self.Q = Q
        self.Qs = np.vstack([Q, np.zeros((1, r))])  # row m: the "no row" sentinel
        self.Vr = Vr
        self.nu = nu
        if nu is not None:
            self.nus = np.append(nu, 0.0)
            self.Gs = self.nus[:, None] * self.Qs
        self.want_patterns = patterns
        # sign vectors: for the patterns, and to deduplicate flats' cell lists
        self.W = (m + 63) // 64 if (patterns or r >= DEDUP_RANK) else 0
        bits = np.zeros((m + 1, self.W), dtype=_WORD)
        if self.W:
            rows = np.arange(m)
            bits[rows, rows // 64] = np.left_shift(np.uint64(1), (rows % 64).astype(np.uint64))
        self.rowbits = bits
        self.margin = margin
        self.progress = progress
        self.best = SphereMax()
        self.nodes: dict = {}
        self.memo: dict = {}
        self.pool: list = []
        self.pool_size = 0
        self.pool_limit = POOL_FIRST_FLUSH
        self.top_bits: list = []
        self.top_bits_size = 0
        self.cells_seen = 0
        self.candidates_checked = 0
        # what the tolerances actually did (module docstring, "Soundness of M_error"): the
        # largest computed sine of two distinct rows merged as parallel (-1: none merged) and
        # the largest total width of the arcs dropped in one plane (-1: none dropped)
        self.merged_sine = -1.0
        self.dropped_width = -1.0
        # PAIR_ONCE: which top-level children (flats of rows j) sweep their planes once
        # (``_pair_flags``), or None
        self.pair = None
        self.unit_rows = None  # Q's rows normalized (PAIR_ONCE's other flats), when first needed
        self.sample = None  # SAMPLE_ROWS unit rows for the third test of candidates
        if nu is not None and SAMPLE_ROWS and m > SAMPLE_MIN_ROWS:
            pick = np.sort(np.random.default_rng(0).choice(m, min(SAMPLE_ROWS, m), replace=False))
            S = Q[pick]
            nrm = np.linalg.norm(S, axis=1)
            self.sample = np.ascontiguousarray((S[nrm > 0] / nrm[nrm > 0, None]).T)  # (r, s)
        # S = sum |nu_l| ||q_l||: scale of f's variation (Lipschitz constant on the unit ball)
        self.S = 0.0 if nu is None else float(np.abs(nu) @ np.linalg.norm(Q, axis=1))

    def sliver(self) -> float:
        """Angular width w bounding what the merges actually made: a row merged with its
        group's first row a (unit normals b, a in the flat, computed sine s) is off a's
        hyperplane by at most ||b -+ a|| <= (1 + s) sine(b, a) on the unit sphere of the flat,
        and the computed sine is within SINE_ROUNDING (r + 2) UNIT of the sine of the computed
        rows. 0 when nothing was merged."""
        if self.merged_sine < 0:
            return 0.0
        s = self.merged_sine + SINE_ROUNDING * (self.r + 2) * UNIT
        return (1.0 + s) * s

    def dropped(self) -> float:
        """Largest width of a run of dropped arcs in one plane (their computed widths add up to
        the run's, so the angles' rounding counts at its two ends only). 0 when none."""
        if self.dropped_width < 0:
            return 0.0
        return self.dropped_width + 2 * ANGLE_ROUNDING

    def accept_slack(self) -> float:
        """How far below ||B^T h|| an interior candidate's f(z) may be and still be accepted:
        rounding (``margin``) and the rows of the flat's key merged as parallel, which vanish on
        the flat only up to ||q_l|| times the sliver width (at most S w in all)."""
        return self.margin + 2.0 * self.S * self.sliver()

    @property
    def known(self) -> float:
        """The value the norm tests compare with: the best attained |f| or the floor."""
        return max(self.best.value, self.floor)

    def _check_stop(self) -> None:
        """Stop the exploration once an attained value exceeds the ceiling."""
        if self.best.value > self.ceiling:
            self.stopped = True
            raise _StopAbove

    # ------------------------------------------------------------------ driver

    def run(self) -> None:
        """Explore the whole row space; results in ``best`` and ``patterns()``."""
        m, r = self.m, self.r
        if self.nu is not None and r >= 3:
            self._warm_start()
        if r == 1:
            self._line()
        elif r == 2:
            y = self.Q[None, :, :]
            top = np.arange(m)[None, :]
            cells, _ = self._sweep(y, top, np.array([m]), np.eye(2)[None, :, :], None)
            self._take_top(cells, candidates=False)  # the sweep maximized f on every arc
        else:
            root = self._discover(frozenset(), np.arange(m), np.eye(r))
            self._node_cells(root, top=True)
        self._flush()

    def patterns(self) -> np.ndarray:
        """Distinct sign vectors of the top-level cells, bool (p, m), lexicographic order."""
        bits = np.concatenate(self.top_bits) if self.top_bits else np.zeros((1, self.W), _WORD)
        bits = _unique_rows(bits)
        # keys whose unsigned order is the lexicographic order of the columns (row 0 first):
        # reverse the bits of each byte, read each word big-endian
        keys = _REV8[bits.view(np.uint8)].view(">u8").astype(_WORD)
        order = np.lexsort(keys.T[::-1])
        keys = keys[order]
        first = np.ones(order.size, dtype=bool)
        first[1:] = np.any(keys[1:] != keys[:-1], axis=1)  # exact: drops what the hash left in
        bits = bits[order[first]]
        inner = np.unpackbits(bits.view(np.uint8), axis=1, count=self.m, bitorder="little")
        return inner.view(bool)

    def _warm_start(self) -> None:
        """A good attained value of +-f before the exploration, so that the norm test of
        interior candidates discards most of them from the start.

        From WARM_STARTS directions (the data rows, the overall gradient Q^T nu, and Gaussian
        ones) iterate z <- sgn h(z)/||h(z)||, where h(z) is the gradient of the cell containing
        z, and record every value of sgn f met. Only a heuristic: every recorded value is
        f evaluated at its point, so it never exceeds M (beyond rounding, within ``margin``).
        """
        Q, nu, r = self.Q, self.nu, self.r
        rng = np.random.default_rng(0)
        picks = Q[np.linspace(0, self.m - 1, min(self.m, WARM_STARTS // 2)).astype(int)]
        Z0 = np.vstack([Q.T @ nu, picks, rng.standard_normal((WARM_STARTS // 2, r))])
        for sgn in (+1.0, -1.0):
            Z = Z0 * sgn
            for _ in range(WARM_STEPS):
                n = np.sqrt(np.einsum("ij,ij->i", Z, Z))
                Z = Z[n > 0] / n[n > 0, None]
                if Z.shape[0] == 0:
                    break
                P = Q @ Z.T
                act = P > 0
                fv = nu @ np.where(act, P, 0.0)
                j = int(np.argmax(sgn * fv))
                self.best.update(float(sgn * fv[j]), self.Vr @ Z[j], int(sgn))
                Z = sgn * ((act * nu[:, None]).T @ Q)
        self._check_stop()

    def _line(self) -> None:
        """Rank 1: the two half-lines u = +v and u = -v."""
        q = self.Q[:, 0]
        e = self.Vr[:, 0]
        for sgn, act in ((1.0, q > 0), (-1.0, q < 0)):
            if self.want_patterns:
                self.top_bits.append(np.bitwise_or.reduce(self.rowbits[:-1][act], axis=0,
                                                          initial=np.uint64(0))[None, :])
            if self.nu is not None:
                fv = float(self.nu @ np.maximum(sgn * q, 0.0))
                self.best.update(fv, sgn * e, +1)
                self.best.update(-fv, sgn * e, -1)
        self.cells_seen += 2
        if self.nu is not None:
            self._check_stop()

    # ------------------------------------------------------------------ discovery

    def _discover(self, key: frozenset, rest: np.ndarray, B: np.ndarray, recurse: bool = True) -> _Node:
        """The node of the flat ``key`` (created once), and recursively (``recurse``) its
        children of dim >= 3."""
        node = self.nodes.get(key)
        if node is not None:
            return node
        s = B.shape[1]
        if rest.size:
            label, orient, normals, merged = _parallel_groups(self.Q[rest] @ B)
            self.merged_sine = max(self.merged_sine, merged)
        else:
            label, orient, normals = np.zeros(0, np.int32), np.zeros(0, np.int8), np.zeros((0, s))
        node = _Node(key, rest.astype(np.int32), B, label.astype(np.int32), orient.astype(np.int8),
                     normals, singletons=normals.shape[0] == rest.size)
        self.nodes[key] = node
        if recurse:
            self._discover_children(node, np.arange(normals.shape[0]))
        return node

    def _discover_children(self, node: _Node, js: np.ndarray) -> None:
        """Discover the children ``js`` of ``node`` (those of dimension >= 3) recursively."""
        if node.dim - 1 < 3 or node.rest.size == 0 or js.size == 0:
            return
        H = _complements(node.normals[js])
        rest, label = node.rest, node.label
        for i, j in enumerate(js):
            members = label == j
            child = self._discover(node.key | frozenset(rest[members].tolist()), rest[~members],
                                   node.B @ H[i])
            child.indeg += 1

    # ------------------------------------------------------------------ cells of flats

    def _cells_of(self, key: frozenset) -> _Cells:
        """Cells of the flat ``key`` (dim >= 3): computed at the first request, kept until each
        of its ``indeg`` parents has asked for them (the counts are exact: every parent is
        itself computed once), then dropped."""
        entry = self.memo.get(key)
        if entry is not None:
            entry[1] -= 1
            if entry[1] <= 0:
                del self.memo[key]
            return entry[0]
        node = self.nodes[key]
        cells = self._node_cells(node, top=False)
        if node.indeg > 1:
            self.memo[key] = [cells, node.indeg - 1]
        return cells

    def _group_sums(self, node: _Node):
        """Per group: gradient and bits of its rows active on the + and - side, and its first row.

        Returns (plus_g (K, r) or None, minus_g, plus_b (K, W), minus_b, first (K,)); the minus
        terms are None when every group is a single row (nothing is active on its - side).
        """
        K, r, W = node.normals.shape[0], self.r, self.W
        rest = node.rest
        first = np.zeros(K, dtype=np.int32)
        if node.singletons:
            first[:] = rest
            plus_g = self.Gs[rest] if self.nu is not None else None
            # the - side of a lone row adds nothing (None)
            return plus_g, None, self.rowbits[rest], None, first
        lab = node.label
        first[:] = rest[np.unique(lab, return_index=True)[1]]  # the first row of each group
        pos = node.orient > 0
        plus_g = minus_g = None
        if self.nu is not None:
            plus_g = np.zeros((K, r))
            minus_g = np.zeros((K, r))
            np.add.at(plus_g, lab[pos], self.Gs[rest[pos]])
            np.add.at(minus_g, lab[~pos], self.Gs[rest[~pos]])
        plus_b = np.zeros((K, W), dtype=_WORD)
        minus_b = np.zeros((K, W), dtype=_WORD)
        if W:
            np.bitwise_or.at(plus_b, lab[pos], self.rowbits[rest[pos]])
            np.bitwise_or.at(minus_b, lab[~pos], self.rowbits[rest[~pos]])
        return plus_g, minus_g, plus_b, minus_b, first

    def _lift(self, c: _Cells, kk: np.ndarray, sums) -> _Cells:
        """Both lifts of child cells ``c`` (child group ``kk`` each) into the parent flat.

        The first half lies on the side where the group's first row is active (the group's
        rows oriented like it are active), the second half on the other side.
        """
        plus_g, minus_g, plus_b, minus_b, first = sums
        c.materialize()
        n, w = c.rows.shape
        rows = np.empty((2 * n, w + 1), dtype=np.int32)
        rows[:n, :w] = c.rows
        rows[n:, :w] = c.rows
        rows[:n, w] = first[kk]
        rows[n:, w] = rows[:n, w]
        act = np.empty((2 * n, w + 1), dtype=bool)
        act[:n, :w] = c.act
        act[n:, :w] = c.act
        act[:n, w] = True
        act[n:, w] = False
        bits = np.empty((2 * n, self.W), dtype=_WORD)
        np.bitwise_or(c.bits, plus_b[kk], out=bits[:n])
        if minus_b is None:
            bits[n:] = c.bits
        else:
            np.bitwise_or(c.bits, minus_b[kk], out=bits[n:])
        grads = None
        if c.grads is not None:
            grads = np.empty((2 * n, self.r))
            np.add(c.grads, plus_g[kk], out=grads[:n])
            if minus_g is None:
                grads[n:] = c.grads
            else:
                np.add(c.grads, minus_g[kk], out=grads[n:])
        return _Cells(bits, grads, rows, act)

    def _node_cells(self, node: _Node, top: bool, js: np.ndarray | None = None) -> _Cells | None:
        """Cells of a flat of dimension >= 3 from its children's (fact 1), with its candidates.

        For the top flat the lifted cells are consumed on the fly (patterns, candidates) and
        nothing is returned; otherwise the deduplicated cell list is returned.
        """
        s = node.dim
        if node.rest.size == 0:
            # no row cuts this flat: one cell, on which f = 0
            self._zero_cell(node.B)
            cells = self._empty_cells(s, 1)
            self.cells_seen += 1
            if top:
                self._take_top(cells)
                return None
            return cells
        sums = self._group_sums(node)
        K = node.normals.shape[0]
        todo = np.arange(K) if js is None else js
        task = None
        if top and self.progress is not None:
            task = self.progress.task("Exploring activation patterns (hyperplanes)", total=todo.size)
            estimate = cover_count(self.m, self.r)  # general position: an upper bound on the cells
        parts = []
        try:
            if s == 3:
                P = self.Q[node.rest] @ node.B
                H = _complements(node.normals)
                k = node.rest.size
                per = max(1, SWEEP_BATCH // max(k, 1))
                for lo in range(0, todo.size, per):
                    batch = todo[lo:lo + per]
                    arcs, kk = self._sweep_children(node, batch, P, H)
                    if top:
                        ok = self._canonical_top(node, arcs, kk)
                        self._take_top_lifts(arcs, kk, sums, ok, None if ok is None else self._neighbour_rows(arcs))
                    else:
                        parts.append(self._lift(arcs, kk, sums))
                        self.cells_seen += len(parts[-1])
                    if task is not None:
                        task(batch.size)
                        if hasattr(task, "note"):
                            task.note(f"{self.cells_seen} cells visited (sub-flats included); the arrangement has <= {estimate}")
            else:
                for j in todo:
                    if top and self._streams(node, j):
                        self._stream_to_top(self.nodes[node.child_key(j)], int(j), sums)
                        if task is not None:
                            task(1)
                        continue
                    c = self._cells_of(node.child_key(j))
                    kk = np.full(len(c), j, dtype=np.intp)
                    if top:
                        self._take_top_lifts(c, kk, sums)
                    else:
                        parts.append(self._lift(c, kk, sums))
                        self.cells_seen += len(parts[-1])
                    if task is not None:
                        task(1)
                        if hasattr(task, "note"):
                            task.note(f"{self.cells_seen} cells visited (sub-flats included); the arrangement has <= {estimate}")
        finally:
            if task is not None and hasattr(task, "close"):
                task.close()
        if top:
            return None
        cells = _Cells.concat(parts)
        if self.W:
            # one copy per cell, so that copies do not multiply level after level
            cells = cells.take(_unique_index(cells.bits))
        self._candidates(cells, node.B)
        return cells

    def _streams(self, root: _Node, j) -> bool:
        """Whether the child j of the top flat is streamed (``_stream_to_top``): rank 4 (its
        3-D children have the top flat as their only parent), M wanted, no patterns."""
        if not (STREAM_RANK4 and self.r == 4 and self.nu is not None and not self.want_patterns):
            return False
        child = self.nodes.get(root.child_key(j))
        return child is not None and child.rest.size > 0 and child.dim == 3

    def _pair_flags(self, root: _Node) -> np.ndarray | None:
        """PAIR_ONCE at rank 4: for each top-level child j, whether the 3-D flat of row j has
        singleton row groups (then each of its planes lies on exactly two rows, j and k, and
        has exactly two parents, the flats of j and of k: a third row through the plane would
        be parallel to k in the flat of j). None when the sweep-once path does not apply.

        Discovers the top level's children here (the tasks discover their own again: the
        same computation on the same data, so the same flags).
        """
        if not (PAIR_ONCE and STREAM_RANK4 and self.r == 4 and self.nu is not None
                and not self.want_patterns and root.singletons and root.rest.size > 2):
            return None
        K = root.normals.shape[0]
        self._discover_children(root, np.arange(K))
        flags = np.zeros(K, dtype=bool)
        for j in range(K):
            child = self.nodes.get(root.child_key(j))
            flags[j] = child is not None and child.singletons and child.dim == 3 and child.rest.size > 0
        self.nodes = {root.key: root}  # the tasks rebuild what they need
        return flags

    def _stream_to_top(self, node: _Node, j: int, top_sums) -> None:
        """The cells of the 3-D flat ``node`` (top-level child j), streamed batch by batch:
        each batch of swept arcs is lifted into the flat and at once to the top, and only the
        lifted cells that can matter are built.

        A cell of the flat matters only through its interior candidate in the flat (norm
        ||B^T g|| <= ||g||) and through its two lifts to the top (gradients g + the top
        group's sums); a cell all three of whose norms are at most a value of |f| already
        attained cannot raise M (the norm test of ``_candidates`` and ``_take_top_lifts``
        would skip each of them), so it is counted and dropped without building its rows.
        Memory: one sweep batch (SWEEP_BATCH row entries) instead of the flat's whole list.
        """
        sums = self._group_sums(node)
        plus_g, minus_g, _, _, first = sums
        tplus, tminus = top_sums[0][j], (None if top_sums[1] is None else top_sums[1][j])
        P = self.Q[node.rest] @ node.B
        H = _complements(node.normals)
        K, k = node.normals.shape[0], node.rest.size
        todo = np.arange(K)
        pair = self.pair is not None and bool(self.pair[j])
        if pair:
            # PAIR_ONCE: the plane along rows j, k (child c, row k = rest[c]) of two
            # general-position flats is swept by the flat of min(j, k) only
            other = node.rest  # singleton groups: child c is row rest[c] (= top child rest[c])
            both = self.pair[other]
            todo = np.flatnonzero(~(both & (other < j)))
            cross = both & (other > j)  # children whose arcs also go to the flat of row k
            if self.unit_rows is None:  # the flats' unit normals, once per engine
                self.unit_rows = self.Q / np.linalg.norm(self.Q, axis=1)[:, None]
            normals = self.unit_rows
        per = max(1, SWEEP_BATCH // max(k, 1))
        for lo in range(0, todo.size, per):
            batch = todo[lo:lo + per]
            arcs, kk = self._sweep_children(node, batch, P, H)
            n = len(arcs)
            flat_ok = top_ok = cross_ok = None
            if (CANONICAL_PUSH and node.singletons and tminus is None and self.nu is not None
                    and arcs.lazy is not None and self.arc_clean is not None):
                # CANONICAL_PUSH: each cell's candidate from some of its faces, not every one
                top_ev, _, ai, an = arcs.lazy
                lo_ab = np.minimum(top_ev[ai], top_ev[an])  # the rows at the arc's two ends
                krow = node.rest[kk]
                bad = ~self.arc_clean
                flat_ok = bad | (krow < lo_ab)
                top_ok = bad | (np.maximum(krow, j) < lo_ab)
                cross_ok = bad | (j < lo_ab)
            extra = None if flat_ok is None else self._neighbour_rows(arcs)
            if pair:
                self._cross_candidates(arcs, kk, cross, other, normals, j, cross_ok, extra)
            # CANONICAL_PUSH: top_ok implies flat_ok, so a cell whose flat_ok is False pushes
            # none of its three candidates and is not built
            base = np.flatnonzero(flat_ok) if (flat_ok is not None and tminus is None) else None
            grads, kb = (arcs.grads, kk) if base is None else (arcs.grads[base], kk[base])
            for side_g, side in ((plus_g, True), (minus_g, False)):
                t2 = self.known ** 2
                g = grads + side_g[kb] if side_g is not None else grads
                gp = g + tplus
                # the flat's candidate (norm at most ||g||) or a top lift's can matter
                top = np.einsum("ij,ij->i", gp, gp) > t2
                if base is not None:
                    top &= top_ok[base]
                elif tminus is not None:
                    gm = g + tminus
                    top |= np.einsum("ij,ij->i", gm, gm) > t2
                keep = np.flatnonzero((np.einsum("ij,ij->i", g, g) > t2) | top)
                idx = keep if base is None else base[keep]
                g = g[keep]
                self.cells_seen += n + 2 * (n - idx.size)  # lifted into the flat; dropped lifts
                if idx.size == 0:
                    continue
                rows, act = _append_row(*arcs.rows_act(idx), first[kk[idx]], side)
                if tminus is None and self.nu is not None:
                    # rows other than j, k keep their sign on the arc's lifts: a second stage
                    self._flat_and_top(np.ascontiguousarray(g), rows, act, node.B, j, tplus,
                                       None if flat_ok is None else flat_ok[idx],
                                       None if top_ok is None else top_ok[idx],
                                       _at(extra, idx), (arcs, idx))
                    continue
                sub = _Cells(np.zeros((idx.size, 0), _WORD), np.ascontiguousarray(g), rows, act)
                self._candidates(sub, node.B)
                self._take_top_lifts(sub, np.full(idx.size, j, dtype=np.intp), top_sums)

    def _flat_and_top(self, g: np.ndarray, rows: np.ndarray, act: np.ndarray, B: np.ndarray, j: int,
                      tplus: np.ndarray, flat_ok=None, top_ok=None, extra=None, origin=None) -> None:
        """``_candidates`` in the flat (basis B) and ``_take_top_lifts`` (row j, a lone row at
        the top: its + side adds tplus, its - side nothing) for the cells with gradients g and
        known rows (rows, act) (the same tests as ``_push``: the top lifts' known rows are
        these plus row j). ``flat_ok``, ``top_ok``: which cells' candidates are pushed
        (CANONICAL_PUSH; None: all). ``extra``, ``origin``: as in ``_push_tested``."""
        hF = g @ B
        idx = _above(hF, self.known)
        if flat_ok is not None:
            idx = idx[flat_ok[idx]]
        if idx.size:
            U = hF[idx] @ B.T
            self._push_tested(U, np.einsum("nwr,nr->nw", self.Qs[rows[idx]], U), act[idx], _at(extra, idx),
                              _at(origin, idx))
        qj = self.Q[j]
        self.cells_seen += 2 * g.shape[0]  # the two lifts to the top (as _take_top_lifts counts)
        for side in (True, False):
            g2 = g + tplus if side else g
            idx = _above(g2, self.known)
            if top_ok is not None:
                idx = idx[top_ok[idx]]
            if idx.size == 0:
                continue
            U = g2[idx]
            dots = np.empty((idx.size, rows.shape[1] + 1))
            np.einsum("nwr,nr->nw", self.Qs[rows[idx]], U, out=dots[:, :-1])
            dots[:, -1] = U @ qj
            acts = np.empty(dots.shape, dtype=bool)
            acts[:, :-1] = act[idx]
            acts[:, -1] = side
            self._push_tested(U, dots, acts, _at(extra, idx), _at(origin, idx))

    def _cross_candidates(self, arcs: _Cells, kk: np.ndarray, cross: np.ndarray, other: np.ndarray,
                          normals: np.ndarray, j: int, ok=None, extra=None) -> None:
        """PAIR_ONCE: the interior candidates, in the flat of row k, of the lifts of the arcs
        of the planes along rows j, k (``kk``: child index c in the flat of j, k = other[c])
        for the children marked ``cross``; the flat of k does not sweep those planes.

        The lift of an arc into the flat of k has gradient g (row j inactive) or g + nu_j q_j
        (row j active), and its candidate in that flat (the hyperplane of row k, unit normal
        n_k in row-space coordinates) is z = g - (n_k^T g) n_k, of norm
        sqrt(||g||^2 - (n_k^T g)^2): the projection B_k B_k^T g without forming the basis.
        """
        sel = cross[kk]
        count = int(np.count_nonzero(sel))
        if ok is not None:  # CANONICAL_PUSH (the cells' facet in the flat of k is row j)
            sel = sel & ok
        if count == 0:
            return
        t2 = self.known ** 2
        base = np.flatnonzero(sel)
        for side in (True, False):
            self.cells_seen += count
            g = arcs.grads[base] + self.Gs[j] if side else arcs.grads[base]
            # ||z|| <= ||g||: only lifts whose gradient beats the known value can matter
            keep = np.flatnonzero(np.einsum("ij,ij->i", g, g) > t2)
            if keep.size == 0:
                continue
            idx = base[keep]
            g = g[keep]
            nk = normals[other[kk[idx]]]
            U = g - np.einsum("ij,ij->i", g, nk)[:, None] * nk
            keep = np.flatnonzero(np.einsum("ij,ij->i", U, U) > t2)
            if keep.size == 0:
                continue
            idx = idx[keep]
            rows, act = _append_row(*arcs.rows_act(idx), np.full(idx.size, j, np.int32), side)
            self._push(U[keep], rows, act, _at(extra, idx), (arcs, idx))

    def _take_top(self, cells: _Cells, candidates: bool = True) -> None:
        """Top-level cells: keep their sign vectors (patterns) and test their candidates."""
        if self.want_patterns:
            self._keep_bits(cells.bits)
        if candidates:
            self._candidates(cells, None)

    def _keep_bits(self, bits: np.ndarray) -> None:
        """Collect top-level sign vectors, merging duplicates now and then."""
        self.top_bits.append(bits)
        self.top_bits_size += bits.shape[0]
        if self.top_bits_size > 4 * POOL_FLUSH:
            merged = _unique_rows(np.concatenate(self.top_bits))
            self.top_bits, self.top_bits_size = [merged], merged.shape[0]

    def _canonical_top(self, node: _Node, arcs: _Cells, kk: np.ndarray) -> np.ndarray | None:
        """CANONICAL_PUSH at rank 3: the arcs (of the planes of rows kk) whose top-level lifts
        push their candidates: the plane's row is below both rows at the arc's ends (a cell's
        facet of smallest index always is). None: every arc (degenerate flats, dropped arcs)."""
        if not (CANONICAL_PUSH and node.singletons and self.nu is not None and arcs.lazy is not None
                and self.arc_clean is not None and self.arc_clean.size == len(arcs)):
            return None
        top_ev, _, ai, an = arcs.lazy
        return ~self.arc_clean | (node.rest[kk] < np.minimum(top_ev[ai], top_ev[an]))

    def _neighbour_rows(self, arcs: _Cells):
        """Two more rows of known sign on each arc's top-level lifts (NEIGHBOUR_ROWS): the rows
        of the crossings just before the arc's opening crossing and just after its closing one,
        with their state on the arc. Only for planes with every arc kept (their crossing order
        is exact); elsewhere, and where such a row is one of the arc's own, the sentinel row m
        (no constraint). Lazy: returns (fn, None), fn(idx) giving (rows, act) of the arcs idx,
        built only for the candidates that reach this test. None when not applicable."""
        span = getattr(self, "arc_span", None)
        if not NEIGHBOUR_ROWS or span is None or span < 4 or self.arc_clean is None:
            return None
        top_ev, entry, ai_all, an_all = arcs.lazy
        clean, m = self.arc_clean, self.m

        def at(idx):
            ai, an = ai_all[idx], an_all[idx]
            t = ai % span
            prev = np.where(t == 0, ai + span - 1, ai - 1)
            t = (an + 1) % span
            nxt = np.where(t == 0, an + 1 - span, an + 1)
            rows = np.column_stack([top_ev[prev], top_ev[nxt]]).astype(np.int32)
            # the state after a crossing holds until that row crosses again: on the arc, the row
            # crossed at prev is in the state it entered there, the row crossed at nxt in the other
            act = np.column_stack([entry[prev], ~entry[nxt]])
            own = (rows == top_ev[ai][:, None]) | (rows == top_ev[an][:, None]) | ~clean[idx][:, None]
            rows[own] = m
            return rows, act

        return at, None

    def _take_top_lifts(self, c: _Cells, kk: np.ndarray, sums, ok: np.ndarray | None = None,
                        extra=None) -> None:
        """``_take_top(self._lift(c, kk, sums))`` without building the lifted rows that the
        norm test discards: the top-level list is the largest and is not kept. ``ok``: which
        cells' candidates are pushed (CANONICAL_PUSH; None: all)."""
        plus_g, minus_g, plus_b, minus_b, first = sums
        n = len(c)
        self.cells_seen += 2 * n
        if self.want_patterns:
            self._keep_bits(c.bits | plus_b[kk])
            self._keep_bits(c.bits if minus_b is None else c.bits | minus_b[kk])
        if self.nu is None or n == 0:
            return
        for side_g, side in ((plus_g, True), (minus_g, False)):
            g = c.grads if side_g is None else c.grads + side_g[kk]
            idx = _above(g, self.known)
            if ok is not None:
                idx = idx[ok[idx]]
            if idx.size == 0:
                continue
            rows, act = _append_row(*c.rows_act(idx), first[kk[idx]], side)
            self._push(g[idx], rows, act, _at(extra, idx), (c, idx))

    def _empty_cells(self, w: int, count: int) -> _Cells:
        """``count`` cells with no active row and no known row (w sentinel columns)."""
        g = None if self.nu is None else np.zeros((count, self.r))
        return _Cells(np.zeros((count, self.W), _WORD), g, np.full((count, w), self.m, np.int32),
                      np.zeros((count, w), bool))

    def _zero_cell(self, B: np.ndarray) -> None:
        """A flat no row cuts: f = 0 on it."""
        if self.nu is not None:
            p = self.Vr @ B[:, 0]
            self.best.update(0.0, p, +1)
            self.best.update(0.0, p.copy(), -1)

    # ------------------------------------------------------------------ 2-D sweeps

    def _sweep_children(self, node: _Node, js: np.ndarray, P: np.ndarray, H: np.ndarray):
        """Sweep the 2-D children ``js`` of a 3-D flat in one batch.

        Returns (cells, kk): the arcs of all those children and the child index of each.
        """
        k = node.rest.size
        Kc = js.size
        if node.singletons:
            L = k - 1
            base = np.arange(L)
            loc = base[None, :] + (base[None, :] >= js[:, None])
            counts = np.full(Kc, L)
            valid = None
        else:
            mask = node.label[None, :] != js[:, None]
            counts = mask.sum(axis=1)
            L = int(counts.max()) if Kc else 0
            ii, jj = np.nonzero(mask)
            starts = np.cumsum(counts) - counts
            col = np.arange(ii.size) - np.repeat(starts, counts)
            loc = np.zeros((Kc, L), dtype=np.intp)
            loc[ii, col] = jj
            valid = np.arange(L)[None, :] < counts[:, None]
        Hj = H[js]  # (Kc, 3, 2): bases of the children in the flat's coordinates
        y = np.einsum("kls,kst->klt", P[loc], Hj)
        top = node.rest[loc]
        if valid is not None:
            top = np.where(valid, top, self.m)
            y[~valid] = 0.0
        Bl = np.einsum("rs,kst->krt", node.B, Hj)
        cells, kk = self._sweep(y, top, counts, Bl, valid)
        return cells, js[kk]

    def _sweep(self, y, top, counts, Bl, valid):
        """Exact angular sweep of K planes at once.

        Row l (direction phi_l in its plane) is active on the open half-circle around phi_l: it
        enters at phi_l - pi/2 and leaves at phi_l + pi/2. The cells of a plane are the arcs
        between consecutive crossings (arcs shorter than ANGLE_TOL are dropped); the state of
        an arc is a running sum (gradients) or running xor (sign vectors) over the crossings.
        Every arc is shorter than pi, so the max of a linear function h^T z on it is ||h|| if h
        points into it and else its value at an end; both signs are recorded in ``best``.

        Parameters
        ----------
        y : (K, L, 2)
            Rows in each plane's coordinates (padding entries must be 0).
        top : (K, L) int
            Their original indices (padding: m).
        counts : (K,) int
            Rows of each plane.
        Bl : (K, r, 2)
            Each plane's basis in row-space coordinates.
        valid : (K, L) bool or None
            Which entries are rows (None: all).

        Returns
        -------
        (cells, kk)
            The arcs of all planes, and the plane of each arc.
        """
        K, L = top.shape
        empty = np.flatnonzero(counts == 0)
        out, outk = [], []
        for k in empty:  # a plane no row cuts: one cell, f = 0 there
            self._zero_cell(Bl[k])
            out.append(self._empty_cells(2, 1))
            outk.append(np.array([k]))
        self.cells_seen += empty.size
        if L == 0:
            return _Cells.concat(out), np.concatenate(outk)
        norm = np.hypot(y[..., 0], y[..., 1])
        if valid is not None:
            norm[~valid] = 1.0
        yh = y / norm[..., None]
        phi = np.arctan2(yh[..., 1], yh[..., 0])
        a = phi - np.pi / 2  # entry angle, in [-3 pi/2, pi/2]
        a[a < 0] += _TWO_PI
        e = np.where(a >= np.pi, a - np.pi, a + np.pi)  # exit angle
        start = e < a  # active just before angle 0
        if valid is not None:
            a[~valid] = np.inf
            e[~valid] = np.inf
            start &= valid
        order, th = _crossing_order(a, e, half=valid is None and HALF_SORT)
        row = order % L
        entry = order < L
        # flat gathers (cheaper than take_along_axis): crossing i of plane k is row row[k, i]
        frow = row + (np.arange(K) * L)[:, None]
        # direction of each crossing: entry phi - pi/2 -> (yh1, -yh0), exit -> (-yh1, yh0)
        sgn = np.where(entry, 1.0, -1.0)
        d = yh.reshape(K * L, 2)[frow]
        dirs = np.stack([d[..., 1], -d[..., 0]], axis=2) * sgn[..., None]
        n_ev = 2 * counts
        full = valid is None  # every plane has 2L crossings
        if full:
            nxt_th = np.roll(th, -1, axis=1)
            nxt_th[:, -1] += _TWO_PI
            keep = nxt_th - th > ANGLE_TOL
            full = bool(keep.all())
            clean = np.ones(K, dtype=bool) if full else keep.all(axis=1)
            if not full:
                self._note_dropped(np.where(keep, 0.0, nxt_th - th))
        else:
            ar = np.arange(K)
            has = n_ev > 0
            nxt_i = np.minimum(np.arange(1, 2 * L + 1), 2 * L - 1)[None, :].repeat(K, axis=0)
            nxt_i[ar[has], n_ev[has] - 1] = 0
            nxt_th = np.take_along_axis(th, nxt_i, axis=1)
            nxt_th[ar[has], n_ev[has] - 1] += _TWO_PI
            with np.errstate(invalid="ignore"):  # padding: inf - inf
                real = np.arange(2 * L)[None, :] < n_ev[:, None]
                keep = real & (nxt_th - th > ANGLE_TOL)
                drop = real & ~keep
                clean = ~drop.any(axis=1)
                if drop.any():
                    self._note_dropped(np.where(drop, nxt_th - th, 0.0))
        if not full and valid is None:
            nxt_i = np.broadcast_to((np.arange(1, 2 * L + 1) % (2 * L))[None, :], (K, 2 * L))
        # arcs by flat crossing index (plane k, crossing t -> k 2L + t): the crossing that
        # opens each kept arc (ai) and the one that closes it (an)
        base = (np.arange(K) * 2 * L)[:, None]
        if full:
            ai = np.arange(K * 2 * L)
            an = (base + (np.arange(1, 2 * L + 1) % (2 * L))[None, :]).ravel()

            def pick(X):
                return X.reshape((K * 2 * L,) + X.shape[2:])

            kk = np.repeat(np.arange(K), 2 * L)
        else:
            kk, tt = np.nonzero(keep)
            ai = kk * (2 * L) + tt
            an = kk * (2 * L) + nxt_i[kk, tt]

            def pick(X):
                return X.reshape((K * 2 * L,) + X.shape[2:])[ai]

        top_ev = top.ravel()[frow]
        lazy = (top_ev.ravel(), entry.ravel(), ai, an)
        self.arc_span = 2 * L if valid is None else None  # crossings per plane (all planes alike)
        W = self.W
        if W:
            Bb = self.rowbits[top_ev]  # (K, 2L, W)
            sb = np.bitwise_or.reduce(np.where(start[..., None], self.rowbits[top], np.uint64(0)),
                                      axis=1)
            bits = pick(np.bitwise_xor.accumulate(Bb, axis=1) ^ sb[:, None, :])
        else:
            bits = np.zeros((kk.size, 0), _WORD)
        grads = None
        if self.nu is not None:
            r = self.r
            D = np.concatenate([self.Gs[top], self.nus[top][..., None] * y], axis=2)  # (K, L, r+2)
            st = np.einsum("kl,klc->kc", start.astype(np.float64), D)
            Dev = D.reshape(K * L, r + 2)[frow]
            Dev *= sgn[..., None]
            np.cumsum(Dev, axis=1, out=Dev)
            Dev += st[:, None, :]
            sel = pick(Dev)
            grads = sel[:, :r]
            self._arc_max(sel[:, r:], dirs.reshape(K * 2 * L, 2), ai, an, Bl, kk)
        self.cells_seen += kk.size
        cells = _Cells(bits, grads, None, None, lazy, (dirs.reshape(K * 2 * L, 2), Bl, kk))
        # per arc: no arc of its plane was dropped (CANONICAL_PUSH relies on true neighbours)
        self.arc_clean = clean[kk]
        if out:
            cells = _Cells.concat(out + [cells])
            kk = np.concatenate(outk + [kk])
            self.arc_clean = None
        return cells, kk

    def _note_dropped(self, gaps: np.ndarray) -> None:
        """Record the widths (K, 2L; 0 where kept) of dropped arcs: per plane their sum bounds
        every run of consecutive dropped arcs."""
        self.dropped_width = max(self.dropped_width, float(np.max(np.sum(gaps, axis=1))))

    def _arc_max(self, H, dirs, ai, an, Bl, kk) -> None:
        """Exact max of +f and -f on each arc from direction dlo to dhi (counterclockwise, at
        most pi) with gradient H (plane coordinates): ||H|| if +-H points into the arc, else
        the larger value at an end."""
        if H.shape[0] == 0:
            return
        hn = np.hypot(H[:, 0], H[:, 1])
        # on an arc |f(z)| = |H^T z| <= ||H||: arcs with ||H|| at most an attained value cannot
        # raise either maximum (``best`` takes strict improvements only)
        keep = np.flatnonzero(hn > self.known)
        if keep.size == 0:
            return
        H, kk, hn = H[keep], kk[keep], hn[keep]
        dlo, dhi = dirs[ai[keep]], dirs[an[keep]]  # the directions of the arc's ends
        c_lo = dlo[:, 0] * H[:, 1] - dlo[:, 1] * H[:, 0]  # cross(dlo, H)
        c_hi = H[:, 0] * dhi[:, 1] - H[:, 1] * dhi[:, 0]  # cross(H, dhi)
        v_lo = np.einsum("ij,ij->i", H, dlo)
        v_hi = np.einsum("ij,ij->i", H, dhi)
        for sgn in (+1, -1):
            inside = (sgn * c_lo >= 0) & (sgn * c_hi >= 0) & (hn > 0)
            best = np.where(inside, hn, np.maximum(sgn * v_lo, sgn * v_hi))
            j = int(np.argmax(best))
            if inside[j]:
                z = sgn * H[j] / hn[j]
            else:
                z = dlo[j] if sgn * v_lo[j] >= sgn * v_hi[j] else dhi[j]
            self.best.update(float(best[j]), self.Vr @ (Bl[kk[j]] @ z), sgn)
        self._check_stop()

    # ------------------------------------------------------------------ interior candidates

    def _candidates(self, cells: _Cells, B: np.ndarray | None) -> None:
        """Interior candidates of ``cells`` in the flat with basis B (None: the whole space).

        A candidate z = B B^T h / ||B^T h|| matters only if ||B^T h|| exceeds the best value
        known (an attained value of f, see ``_flush``); the others are skipped here.
        """
        if self.nu is None or len(cells) == 0:
            return
        hF = cells.grads if B is None else cells.grads @ B
        idx = _above(hF, self.known)
        if idx.size == 0:
            return
        U = hF[idx] if B is None else hF[idx] @ B.T
        self._push(U, *cells.rows_act(idx))

    def _push(self, U, rows, act, extra=None, origin=None) -> None:
        """Defer candidates z = U/||U|| (row-space coordinates) after an O(1) necessary test.

        z (resp. -z) must lie on the cell's side of its rows of known sign (``rows``, ``act``);
        a candidate cut there lies outside its closed cell, whose maximum is then on a
        hyperplane (covered by the children). Survivors are checked by ``_flush``.
        """
        self._push_tested(U, np.einsum("nwr,nr->nw", self.Qs[rows], U), act, extra, origin)

    def _push_tested(self, U, dots, act, extra=None, origin=None) -> None:
        """``_push`` with the known rows' products dots = q_row^T U already computed.

        ``extra`` (fn, sel): more rows of known sign (fn(sel[i]) gives rows and states of the
        cells i; sel None: all), built and tested on the survivors only (NEIGHBOUR_ROWS). ``origin`` (arcs, sel): the
        arcs ``arcs[sel]`` the cells were lifted from, for the sample test (SAMPLE_ROWS)."""
        # z on the cell's side of every known row: act -> q^T z >= 0, else <= 0; -z: the reverse
        okp, okm = _sides_ok(dots, act)
        sel = okp | okm
        if extra is not None and np.any(sel):
            # the second stage (NEIGHBOUR_ROWS), on the survivors of the first
            s_idx = np.flatnonzero(sel)
            rows2, act2 = extra[0](_compose(extra[1], s_idx))
            p2, m2 = _sides_ok(np.einsum("nwr,nr->nw", self.Qs[rows2], U[s_idx]), act2)
            okp[s_idx] &= p2
            okm[s_idx] &= m2
            sel = okp | okm
        if origin is not None and self.sample is not None and np.any(sel):
            # the third stage (SAMPLE_ROWS), on the survivors of the second
            s_idx = np.flatnonzero(sel)
            P = origin[0].mids(_compose(origin[1], s_idx))
            if P is not None:
                p3, m3 = self._sample_sides(U[s_idx], P)
                okp[s_idx] &= p3
                okm[s_idx] &= m3
                sel = okp | okm
        if not np.any(sel):
            return
        U = U[sel]
        h = np.sqrt(np.einsum("ij,ij->i", U, U))
        self.pool.append((U / h[:, None], h, okp[sel], okm[sel]))
        self.pool_size += h.size
        if self.pool_size >= self.pool_limit:
            self.pool_limit = min(2 * self.pool_limit, POOL_FLUSH)
            self._flush()

    def _sample_sides(self, U: np.ndarray, P: np.ndarray):
        """(okp, okm) of the sample test: whether z = U/||U|| (resp. -z) is on the side of
        every sample row that the cell is on, the cell's side read at its point P (unit, row
        space). Only products beyond SAMPLE_SIGN_TOL (in units of ||U||) count, so a z in the
        closed cell is never rejected (rounding is many orders below)."""
        T = U @ self.sample  # (N, s): ||U|| q^T z
        Pp = P @ self.sample  # q^T p
        tau = SAMPLE_SIGN_TOL * np.sqrt(np.einsum("ij,ij->i", U, U))[:, None]
        side = np.where(Pp > 0, T, -T)  # > 0: z on the cell's side of the row
        trusted = np.abs(Pp) > SAMPLE_SIGN_TOL
        okp = ~np.any(trusted & (side < -tau), axis=1)
        okm = ~np.any(trusted & (side > tau), axis=1)
        return okp, okm

    def _flush(self) -> None:
        """Check the deferred candidates, largest norm first: valid iff f(+-z) = +-||h||."""
        if not self.pool:
            return
        Z = np.concatenate([p[0] for p in self.pool])
        hn = np.concatenate([p[1] for p in self.pool])
        okp = np.concatenate([p[2] for p in self.pool])
        okm = np.concatenate([p[3] for p in self.pool])
        self.pool, self.pool_size = [], 0
        order = np.argsort(-hn, kind="stable")
        nu, margin = self.nu, self.accept_slack()
        g_all = self.Q.T @ nu  # nu^T Q z = f(z) - f(-z)
        for lo in range(0, order.size, CANDIDATE_CHUNK):
            sel = order[lo:lo + CANDIDATE_CHUNK]
            sel = sel[hn[sel] > self.known]
            if sel.size == 0:
                break
            Zs = Z[sel]
            Pm = self.Q @ Zs.T  # (m, c)
            np.maximum(Pm, 0.0, out=Pm)
            fplus = nu @ Pm  # f(z)
            fminus = fplus - Zs @ g_all  # f(-z)
            self.candidates_checked += sel.size
            h = hn[sel]
            vp = okp[sel] & (fplus >= h - margin)
            vm = okm[sel] & (-fminus >= h - margin)
            if np.any(vp):
                j = int(np.argmax(np.where(vp, h, -np.inf)))
                self.best.update(float(h[j]), self.Vr @ Zs[j], +1)
            if np.any(vm):
                j = int(np.argmax(np.where(vm, h, -np.inf)))
                self.best.update(float(h[j]), -(self.Vr @ Zs[j]), -1)
            self._check_stop()


def _crossing_order(a: np.ndarray, e: np.ndarray, half: bool):
    """The crossings of K planes sorted by angle: (order (K, 2L), th (K, 2L)), order indexing
    [a, e] along axis 1 (entry of row l: l, its exit: L + l), th the sorted angles.

    ``half`` (HALF_SORT; no padding): a row's crossings are pi apart (e = a -+ pi, exact for
    a >= pi by Sterbenz's lemma, rounded once otherwise), so those in [pi, 2 pi) follow in the
    order of those in [0, pi): L angles are sorted instead of 2 L. If the angles are found out
    of order anyway (rounding), the batch is sorted whole, so th is always non-decreasing."""
    K, L = a.shape
    ae = np.concatenate([a, e], axis=1)
    base2 = (np.arange(K) * 2 * L)[:, None]
    if half:
        first_entry = a < np.pi  # the row's crossing in [0, pi) is its entry
        oh = np.argsort(np.where(first_entry, a, e), axis=1, kind="stable")
        fe = np.take_along_axis(first_entry, oh, axis=1)
        order = np.concatenate([np.where(fe, oh, oh + L), np.where(fe, oh + L, oh)], axis=1)
        th = ae.ravel()[order + base2]
        if not np.any(th[:, 1:] < th[:, :-1]):
            return order, th
    order = np.argsort(ae, axis=1, kind="stable")
    return order, ae.ravel()[order + base2]


def _sides_ok(dots: np.ndarray, act: np.ndarray):
    """(okp, okm): whether z (resp. -z) is on the known side of every row, from the products
    dots = q_row^T z (N, w) and the rows' states act (N, w): act -> q^T z >= 0, else <= 0.
    Column by column: numpy's reductions along a short axis are slow."""
    sd = np.where(act, dots, -dots)
    pos, neg = sd >= 0, sd <= 0
    okp, okm = pos[:, 0].copy(), neg[:, 0].copy()
    for c in range(1, sd.shape[1]):
        okp &= pos[:, c]
        okm &= neg[:, c]
    return okp, okm


def _at(lazy, idx):
    """A lazy selection (source, sel) of cells -- ``extra`` (fn, sel) or ``origin`` (arcs, sel) of
    ``_push_tested`` -- restricted to ``idx``: only ``sel`` is composed. None stays None."""
    return None if lazy is None else (lazy[0], _compose(lazy[1], idx))


def _compose(sel, idx):
    """``sel[idx]``, where sel None stands for every index."""
    return idx if sel is None else sel[idx]


def _spread_columns(inner: np.ndarray, keep: np.ndarray, n: int) -> np.ndarray:
    """(p, n) bool with columns ``keep`` (ascending) from ``inner`` (p, len(keep)), others 0."""
    if keep.size == n:
        return np.ascontiguousarray(inner)
    out = np.zeros((inner.shape[0], n), dtype=bool)
    # copy runs of consecutive columns as slices (zero rows are usually few)
    breaks = np.flatnonzero(np.diff(keep) != 1) + 1
    for lo, hi in zip(np.r_[0, breaks], np.r_[breaks, keep.size]):
        out[:, keep[lo]:keep[lo] + hi - lo] = inner[:, lo:hi]
    return out


def _above(H: np.ndarray, known: float) -> np.ndarray:
    """Indices of the rows of H (N, s) whose norm exceeds ``known`` (>= 0)."""
    return np.flatnonzero(np.einsum("ij,ij->i", H, H) > known * known)


def _unique_index(bits: np.ndarray) -> np.ndarray:
    """Indices of rows of ``bits`` (N, W) uint64 with every exact duplicate but one removed.

    Rows are sorted by a 64-bit hash of their words and a row is dropped only when it equals
    its predecessor word for word, so a hash collision can only leave a duplicate in, never
    drop a distinct row. (Used where extra copies are harmless; ``_Engine.patterns`` removes
    the last ones exactly.)
    """
    N, W = bits.shape
    if N < 2:
        return np.arange(N)
    if W == 1:
        h = bits[:, 0]
    else:
        h = np.zeros(N, dtype=_WORD)
        for w in range(W):  # splitmix64 finalizer over h + word
            h += bits[:, w]
            h += _HASH_MUL
            h ^= h >> np.uint64(30)
            h *= _MIX1
            h ^= h >> np.uint64(27)
            h *= _MIX2
            h ^= h >> np.uint64(31)
    order = np.argsort(h)
    hs = h[order]
    same = hs[1:] == hs[:-1]
    if W > 1 and np.any(same):
        bs = bits[order]
        same &= np.all(bs[1:] == bs[:-1], axis=1)
    keep = np.ones(N, dtype=bool)
    keep[1:] = ~same
    return order[keep]


def _unique_rows(bits: np.ndarray) -> np.ndarray:
    """The distinct rows of ``bits`` (N, W) uint64."""
    return bits[_unique_index(bits)]


def f_value(Xt: np.ndarray, nu: np.ndarray, u: np.ndarray) -> float:
    """f(u) = nu^T (Xt u)_+."""
    return float(nu @ np.maximum(Xt @ u, 0.0))


# ----------------------------------------------------------------------------- patterns


def network_patterns(Xt: np.ndarray, Ut: np.ndarray) -> np.ndarray:
    """Patterns 1[Xt ut_j > 0] of the neurons, shape (n_neurons, n_samples), distinct."""
    if Ut.shape[1] == 0:
        return np.zeros((0, Xt.shape[0]), dtype=bool)
    return unique_rows((Xt @ Ut > 0).T)


def sample_patterns(Xt: np.ndarray, n_patterns: int, seed: int = 0, return_directions: bool = False):
    """Patterns of Gaussian random directions, deduplicated (at most n_patterns).

    With ``return_directions`` also the (p, dt) direction that generated each pattern (a point
    of its cell, the hint solvers' row screening starts from).
    """
    rng = np.random.default_rng(seed)
    G = rng.standard_normal((Xt.shape[1], n_patterns))
    P, first = unique_rows((Xt @ G > 0).T, return_index=True)
    return (P, G[:, first].T.copy()) if return_directions else P


def interior_directions(Xt: np.ndarray, patterns: np.ndarray) -> np.ndarray:
    """A direction in each pattern's cell: (p, dt), u_i maximizing min_k sigma_ik xt_k' u / ||xt_k||
    over the box |u| <= 1 (an LP per pattern, HiGHS; 0.17 s at n = 20 000, dt = 11). Where the
    LP fails, or the pattern is not a full-dimensional cell, the row is the LP's point or zero:
    a hint, not a claim."""
    from scipy.optimize import linprog

    Xt = np.asarray(Xt, dtype=np.float64)
    norms = np.linalg.norm(Xt, axis=1)
    nz = norms > 0
    Xn = Xt[nz] / norms[nz][:, None]
    dt = Xt.shape[1]
    c = np.zeros(dt + 1)
    c[-1] = -1.0
    out = np.zeros((np.shape(patterns)[0], dt))
    for i, row in enumerate(np.asarray(patterns, dtype=bool)):
        sg = np.where(row[nz], 1.0, -1.0)
        A = np.hstack([-(sg[:, None] * Xn), np.ones((Xn.shape[0], 1))])
        res = linprog(c, A_ub=A, b_ub=np.zeros(Xn.shape[0]), bounds=[(-1.0, 1.0)] * dt + [(None, 1.0)],
                      method="highs-ds")
        if res.status == 0 and res.x is not None:
            out[i] = res.x[:dt]
    return out


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
    return unique_rows(np.array(out))
