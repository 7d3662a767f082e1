"""What the papers say about the training landscape for given n, d and width m
(docs/constructive.md, "landscape").

Every statement carries its source, its condition, whether the condition holds here, and its
scope: "this data" (a guarantee for the data and objective at hand), "every data set of this
size" (a guarantee that holds for this data too) or "worst case over data sets" (some data set
of this size behaves badly; it says nothing about this one). Papers (in docs/constructive.md):

* [000] Wang, Lacotte & Pilanci, ICLR 2022: Lemma 1, Thm. 1, Prop. 7, section 5;
* [002] Sharifnassab, Salehkaleybar & Golestani, ICLR 2020: Thm. 1 (squared loss, no weight
  decay, no biases) and the result of Venturi et al. (2018) it recalls;
* [004] "No spurious local minima ... wide and deep networks" (ICLR 2021 submission): Thm. 1.
"""

from __future__ import annotations

import math

from ..model import Dataset, Model


def min_width_002(d: int) -> float:
    """Smallest m for which [002] Thm. 1's construction has zero-loss global minima.

    The construction uses n = m + 2d - 2 and needs m > 4n / (2d - 2) (Soudry & Carmon), i.e.
    m (d - 3) > 4 (d - 1): m > 4 + 8 / (d - 3). (The extracted text of the theorem's own bound
    on m is garbled; this is the condition its proof uses.) Infinite for d <= 3.
    """
    return math.inf if d <= 3 else 4.0 + 8.0 / (d - 3)


def statements(n: int, d: int, width: int | None, m_star: int | None, m_star_exact: bool, model: Model) -> list[dict]:
    """The statements for n samples, d features, width m (module docstring)."""
    m = width
    ms = m_star if m_star is not None else n + 1  # Lemma 1: m* <= n + 1
    ms_word = "m*" if (m_star is not None and m_star_exact) else "an upper bound on m*"

    def holds(cond):
        return None if m is None else bool(cond)

    weight_decay = f"this objective (loss {model.loss}, weight decay beta = {model.beta:g})"
    out = [
        {"source": "[000] Lemma 1", "condition": "always",
         "statement": f"m* <= n + 1 = {n + 1}: some optimal network has at most n + 1 non-zero neurons",
         "condition_holds": True, "scope": "this data", "objective": weight_decay},
        {"source": "[000] Thm. 1", "condition": f"m >= m* = {ms}" + ("" if ms_word == "m*" else " (upper bound)"),
         "statement": "every width m >= m* reaches the global minimum P*, and the optimal networks of width m "
                      "are exactly the splittings of the convex program's optimal blocks (cvxrelu optimal-set); "
                      "below m* no network of width m reaches P*" if ms_word == "m*" else
                      "every width m at or above this bound reaches the global minimum P*",
         "condition_holds": holds(m >= ms) if m is not None else None, "scope": "this data", "objective": weight_decay},
        {"source": "[000] Prop. 7", "condition": f"m >= n + 1 + m* = {n + 1 + ms}",
         "statement": "no spurious valleys: from every network of width m there is a path of non-increasing "
                      "objective to a global minimum (cvxrelu path constructs it)",
         "condition_holds": holds(m >= n + 1 + ms) if m is not None else None, "scope": "this data", "objective": weight_decay},
        {"source": "[000] section 5", "condition": f"m >= 2 (n + 1) = {2 * (n + 1)}",
         "statement": "the landscape is convex in terms of realizations: between any two networks there are "
                      "networks realizing every convex combination of their predictions, reached at constant "
                      "objective (Prop. 6) and built as in Prop. 7",
         "condition_holds": holds(m >= 2 * (n + 1)) if m is not None else None, "scope": "every data set of this size",
         "objective": weight_decay},
    ]
    m002 = min_width_002(d)
    cond002 = d >= 4 and (m is not None and m > m002 and n >= m + 2 * d - 2)
    out.append({
        "source": "[002] Thm. 1 and Cor. 1",
        "condition": (f"d >= 4 (here d = {d}), m > {m002:.4g} (re-derived), n >= m + 2d - 2" if d >= 4 else
                      f"d >= 4 (here d = {d}: the construction needs d >= 4), n >= m + 2d - 2")
                     + ("" if m is None else f" = {m + 2 * d - 2}"),
        "statement": "some training sets of this size have sub-optimal local minima with positive curvature "
                     "('cupped'), from which no descent path reaches a global minimum",
        "condition_holds": None if m is None else bool(cond002), "scope": "worst case over data sets",
        "objective": "squared loss without weight decay and without biases; says nothing about this data set",
    })
    out.append({
        "source": "[002], recalling Venturi et al. (2018)", "condition": f"n <= m (here n = {n})",
        "statement": "descent paths to a global minimum exist from every initial network",
        "condition_holds": holds(m is not None and n <= m) if m is not None else None, "scope": "every data set of this size",
        "objective": "squared loss without weight decay (the result's setting); for weight decay see [000] Prop. 7",
    })
    out.append({
        "source": "[004] Thm. 1", "condition": f"width >= 2 o (n + 1)^l = 2 (n + 1) = {2 * (n + 1)} "
                                             "(one output o = 1, one hidden layer l = 1)",
        "statement": "no spurious local minima: every local minimum has a non-increasing path to a global one",
        "condition_holds": holds(m is not None and m >= 2 * (n + 1)) if m is not None else None,
        "scope": "every data set of this size",
        "objective": "any loss convex in the output, unconstrained or with a norm constraint r(theta) <= 1; "
                     "weight decay as a penalty is outside its setting (for it see [000] Prop. 7)",
    })
    return out


def landscape(data: Dataset, model: Model, width: int | None = None, progress=None) -> dict:
    """m* (cvxrelu optimal-set), the thresholds of [000] and the statements for this n, d, m."""
    from .optimal_set import optimal_set

    res = optimal_set(data, model, progress=progress)
    n, d = data.n_samples, data.n_features
    ms = res.m_star if res.status == "optimal" else None
    exact = bool(ms is not None and res.m_star_proven)
    m_used = ms if ms is not None else n + 1
    status = "optimal" if exact else "inconclusive"
    return {
        "status": status,
        "reason": "m* determined exactly" if exact else (
            "m* is an upper bound (" + (res.reason if ms is None else "minimality not proven within the budget")
            + "); thresholds use it, so they stay sufficient"),
        "n_samples": n, "n_features": d, "width": width,
        "m_star": ms, "m_star_is": "exact" if exact else "upper bound",
        "m_star_used": m_used,
        "P_star": res.P_star,
        "thresholds": {"no_spurious_valleys": n + 1 + m_used, "convex_in_realizations": 2 * (n + 1),
                       "descent_paths_unregularized": n},
        "statements": statements(n, d, width, ms, exact, model),
    }
