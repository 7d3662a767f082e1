"""Row compression of a squared-loss program whose cones live in the plane (dt = 2).

On the program over patterns D_1..D_p (docs/method.md eq. (2.3)) two data rows that every
pattern treats alike (the same column of the pattern matrix S) enter it only through their sum
of outer products and their labels: with the rows of such a group g stacked in X_g,

    sum_{i in g} (theta . x_i - y_i)^2 = theta' G_g theta - 2 theta' h_g + sum y_i^2,
    G_g = X_g' X_g,  h_g = X_g' y_g,

for every coefficient vector theta the program builds on those rows (a sum of +-u_b over the
patterns containing the group). So the loss of a group of m rows can be carried by any few rows
with the same G_g and h_g. The cone constraints need more care: each pattern asks
sigma_b x_i' u_b >= 0 of every row, i.e. of the group's conic hull. In the plane that hull is
spanned by the group's two extreme rows (smallest and largest angle), so:

* the two extreme rows stay, as they are (with their labels);
* the other rows are replaced by two rows inside the hull with the same outer-product sum
  (_two_point: the moment problem of a weighted 1-D point set, below), labelled so that the
  label term h is the same too.

Every constraint of the compressed program is one of the original program's (the extreme rows)
or implied by them (rows inside the hull of a group), and its loss equals the original one minus
the constant ``offset`` (the part of sum y^2 no row carries any more) at every feasible point:
the two programs have the same minimizers. With 1-D data and a hidden bias, a group is a run of
consecutive rows in sorted order between two of the working set's thresholds, so a program over
p patterns keeps at most 4 (p + 1) rows whatever n: column generation's programs at n = 1e5 stop
scaling with n (docs/benchmarks.md).

Not compressed: an output bias (its column of ones is not scaled with the rows; the caller
checks), groups spanning an angle of pi or more (not inside an open half-plane), and groups of at
most COMPRESS_MIN_GROUP rows. A group whose rows are nearly parallel (tangent spread below
COMPRESS_MIN_SPREAD) keeps its rows too, unless they are exactly parallel: the two replacement
rows' labels grow like 1 / spread, and their rounding with them.
"""

from __future__ import annotations

import numpy as np

from ..model import unique_rows

#: Groups of at most this many rows are kept as they are (compression saves nothing there).
COMPRESS_MIN_GROUP = 8
#: Below this spread of a group's tangent coordinate (z = b / a, its rows a (z, 1) in the
#: group's own frame) the two replacement rows would be nearly parallel and their labels large
#: (about |h| / spread): the group keeps its rows, unless they are exactly parallel (one row).
COMPRESS_MIN_SPREAD = 1e-4
#: Compress only when the program keeps at most this fraction of the rows.
COMPRESS_MAX_FRACTION = 0.5


def groups(S: np.ndarray) -> tuple[np.ndarray, int]:
    """(inverse, count): the rows' group labels (rows with the same column of S) and their number."""
    S = np.asarray(S, dtype=bool)
    if S.shape[1] == 0:
        return np.zeros(0, dtype=np.intp), 0
    _, inverse = unique_rows(S.T, return_inverse=True)
    return inverse, int(inverse.max()) + 1


def _two_point(z: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Points (k,) in [min z, max z] and weights (k,) >= 0, k <= 2, with the zeroth, first and
    second moments of the weighted points (z, w): sum w, sum w z and sum w z^2.

    With mean mu and standard deviation s, the two-point family mu - s t, mu + s / t with
    weights W / (1 + t^2), W t^2 / (1 + t^2) (t > 0) matches them; t = 1 (equal weights) when
    both points lie in the range, else the t nearest 1 that keeps them there. Such a t exists
    since s^2 <= (mu - min z)(max z - mu) (the Bhatia-Davis inequality).
    """
    W = float(w.sum())
    mu = float(w @ z) / W
    var = max(float(w @ (z - mu) ** 2) / W, 0.0)
    s = np.sqrt(var)
    if s == 0.0:
        return np.array([mu]), np.array([W])
    lo, hi = float(z.min()), float(z.max())
    t_max = (mu - lo) / s          # mu - s t >= lo
    t_min = s / max(hi - mu, 1e-300)  # mu + s / t <= hi
    t = min(max(1.0, t_min), t_max)
    pts = np.clip(np.array([mu - s * t, mu + s / t]), lo, hi)
    return pts, np.array([W / (1.0 + t * t), W * t * t / (1.0 + t * t)])


def compress(Xt: np.ndarray, y: np.ndarray, S: np.ndarray):
    """(Xc, yc, Sc, offset, info) with the same program up to the constant offset, or None.

    ``offset``: the original loss 1/2 ||r||^2 minus the compressed one at every point (>= 0 up
    to rounding). None when dt != 2 or when compression would keep more than
    COMPRESS_MAX_FRACTION of the rows.
    """
    Xt = np.asarray(Xt, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    S = np.asarray(S, dtype=bool)
    n, dt = Xt.shape
    if dt != 2 or n == 0:
        return None
    inv, k = groups(S)
    if 4 * k > COMPRESS_MAX_FRACTION * n:
        return None
    order = np.argsort(inv, kind="stable")
    bounds = np.flatnonzero(np.diff(inv[order])) + 1
    rows, labels, members, offset, merged = [], [], [], 0.0, 0

    def keep(idx, X_rows, y_rows):
        """Rows of the group ``idx`` as given (a row of the group supplies the patterns' column)."""
        rows.append(X_rows), labels.append(y_rows), members.append(np.full(X_rows.shape[0], idx[0]))

    for idx in np.split(order, bounds):
        if idx.size <= COMPRESS_MIN_GROUP:
            keep(idx, Xt[idx], y[idx])
            continue
        Xg, yg = Xt[idx], y[idx]
        norms = np.linalg.norm(Xg, axis=1)
        keep_all = np.any(norms == 0.0)
        if not keep_all:
            # angles from the first row: inside an open half-plane the group spans an arc of
            # less than pi through it, so atan2 does not wrap; q bisects the arc
            r0 = Xg[0] / norms[0]
            phi = np.arctan2(Xg @ np.array([-r0[1], r0[0]]), Xg @ r0)
            mid = 0.5 * (float(phi.min()) + float(phi.max()))
            q = np.cos(mid) * r0 + np.sin(mid) * np.array([-r0[1], r0[0]])
            qp = np.array([-q[1], q[0]])
            a, b = Xg @ q, Xg @ qp
            keep_all = bool(np.any(a <= 1e-12 * norms))  # not inside an open half-plane
        if keep_all:
            keep(idx, Xg, yg)
            continue
        z = b / a
        ext = np.unique([int(np.argmin(z)), int(np.argmax(z))])
        rest = np.ones(idx.size, dtype=bool)
        rest[ext] = False
        zr, wr = z[rest], a[rest] ** 2
        spread = float(zr.max() - zr.min())
        if 0.0 < spread < COMPRESS_MIN_SPREAD:
            keep(idx, Xg, yg)
            continue
        pts, wts = _two_point(zr, wr)
        V = np.sqrt(wts)[:, None] * (pts[:, None] * qp[None, :] + q[None, :])  # rows inside the hull
        h = Xg[rest].T @ yg[rest]
        if V.shape[0] == 2:
            t = np.linalg.solve(V.T, h)
        else:  # parallel rows: h lies along them
            t = np.array([float(V[0] @ h) / float(V[0] @ V[0])])
        offset += 0.5 * (float(yg[rest] @ yg[rest]) - float(t @ t))
        keep(idx, np.vstack([Xg[ext], V]), np.concatenate([yg[ext], t]))
        merged += int(rest.sum())
    Xc = np.vstack(rows)
    if Xc.shape[0] > COMPRESS_MAX_FRACTION * n:
        return None
    src = np.concatenate(members)  # a row of the original group, for the patterns' column
    info = {"rows": int(n), "rows_kept": int(Xc.shape[0]), "groups": int(k), "rows_merged": merged}
    return Xc, np.concatenate(labels), S[:, src], offset, info
