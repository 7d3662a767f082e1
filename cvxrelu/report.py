"""Rendering of results: rich tables on a terminal; JSON is produced by the CLI directly.

On a terminal the reports are rich tables at the terminal's width. Piped or redirected, they
are plain text: no colour, no wrapping (a line is as long as its content) and no padding
(trailing spaces are stripped), so that ``grep`` and ``cut`` see whole phrases.
"""

from __future__ import annotations

import sys

from rich.console import Console
from rich.table import Table

#: Console width when the output is not a terminal: wide enough that rich never wraps a line.
PLAIN_WIDTH = 100_000


class _RstripLines:
    """A text stream that drops the trailing spaces of every line it forwards."""

    def __init__(self, stream):
        self._stream = stream
        self._pending = ""

    def write(self, text: str) -> int:
        lines = (self._pending + text).split("\n")
        self._pending = lines.pop()
        for line in lines:
            self._stream.write(line.rstrip() + "\n")
        return len(text)

    def flush(self) -> None:
        if self._pending.strip():
            self._stream.write(self._pending.rstrip())
        self._pending = ""
        self._stream.flush()

    def isatty(self) -> bool:
        return False


def make_console(file=None) -> Console:
    """A rich console for stdout (or ``file``): rich on a terminal, plain unwrapped text otherwise."""
    file = file if file is not None else sys.stdout
    if file.isatty():
        return Console(file=file)
    return Console(file=_RstripLines(file), width=PLAIN_WIDTH, no_color=True, color_system=None,
                   soft_wrap=True, highlight=False, emoji=False)


def yes_no(value) -> str:
    """Booleans as a reader writes them (never Python's True/False); None as "-"."""
    if value is None:
        return "-"
    return "yes" if value else "no"

_HEAD = {
    "optimal": ("[bold green]CERTIFIED GLOBALLY OPTIMAL[/]", "within the tolerance"),
    "suboptimal": ("[bold red]SUBOPTIMAL[/]", "a strictly better network is known"),
    "inconclusive": ("[bold yellow]INCONCLUSIVE[/]", "neither optimality nor a better network established"),
}


def _fmt(x, spec=".10g"):
    if x is None:
        return "-"
    if isinstance(x, bool):
        return yes_no(x)
    if isinstance(x, float):
        return format(x, spec)
    return str(x)


def render_certificate(d: dict, console: Console | None = None) -> None:
    console = console or make_console()
    head, sub = _HEAD.get(d.get("status"), (d.get("status"), ""))
    console.print(f"{head}  ({sub})")
    t = Table(show_header=False, box=None, pad_edge=False)
    t.add_column(style="bold")
    t.add_column()
    t.add_row("objective L(theta)", _fmt(d.get("objective")))
    t.add_row("certified lower bound", _fmt(d.get("lower_bound")))
    t.add_row("gap", _fmt(d.get("gap"), ".3e"))
    atol = d.get("atol")
    t.add_row("relative gap", f"{_fmt(d.get('relative_gap'), '.3e')}  (upper bound "
              f"{_fmt(d.get('relative_gap_upper_bound'), '.3e')}, tolerance {_fmt(d.get('tolerance'), '.1e')}"
              + (f", absolute tolerance {_fmt(atol, '.1e')}" if atol else "") + ")")
    arr = d.get("arrangement") or {}
    if d.get("patterns") == "bounded":
        t.add_row("patterns", f"bounded without enumerating them ({d.get('bound_method')}): "
                  f"{arr.get('nodes', 0)} branch-and-bound nodes, network uses {arr.get('network_patterns', '-')}")
    else:
        t.add_row("patterns", f"{d.get('patterns')}: {arr.get('cells_visited', '-')} cells visited, "
                  f"rank {arr.get('rank', '-')}, network uses {arr.get('network_patterns', '-')}")
    dual = d.get("dual") or {}
    if dual:
        t.add_row("dual constraint", f"max |lam^T (Xt u)_+| = {_fmt(dual.get('M'))} vs beta = "
                  f"{_fmt(dual.get('beta'))} (error bound {_fmt(dual.get('M_error_bound'), '.1e')})"
                  if d.get("patterns") != "bounded" else
                  f"max |lam^T (Xt u)_+| attains {_fmt(dual.get('M_lower'))}, at most {_fmt(dual.get('M_upper'))}, "
                  f"vs beta = {_fmt(dual.get('beta'))}")
    if d.get("dual_ratio_upper") is not None:
        t.add_row("proven M / beta", f"in [{_fmt(d.get('dual_ratio_lower'), '.8g')}, "
                  f"{_fmt(d.get('dual_ratio_upper'), '.8g')}] by {d.get('bound_method')} (> 1: a violated constraint)")
    nz = d.get("neurons") or {}
    if nz:
        t.add_row("neurons", f"{nz.get('given')} given, {nz.get('nonzero')} non-zero, "
                  f"{nz.get('after_merge')} after merging; nearly minimal: {_fmt(nz.get('nearly_minimal'))}")
    kkt = d.get("kkt") or {}
    worst = kkt.get("worst") or []
    if worst:
        w = worst[0]
        t.add_row("worst KKT residual", f"{_fmt(w.get('residual'), '.2e')} (block of neurons "
                  f"{w.get('neurons')}, sign {w.get('sign'):+d})")
    if kkt.get("zero_blocks_max_violation") is not None:
        t.add_row("zero blocks", f"max violation {_fmt(kkt['zero_blocks_max_violation'], '.2e')} (<= 0 is feasible)")
    own = d.get("own_patterns") or {}
    if "finding" in own:
        t.add_row("own patterns", f"{own['finding']}: the program over its {own['patterns']} pattern(s) (Thm. 3) "
                  f"reaches {_fmt(own['objective'])}")
    wit = d.get("witness")
    if wit:
        t.add_row("better network", f"objective {_fmt(wit.get('objective'))} "
                  f"(-{_fmt(wit.get('improvement'), '.3e')}), {wit.get('kind')}")
    if d.get("exact"):
        t.add_row("global optimum", exact_line(d["exact"]))
    if d.get("reason"):
        t.add_row("reason", d["reason"])
    tm = d.get("timings") or {}
    if "total_s" in tm:
        limit = d.get("time_limit")
        t.add_row("time", f"{tm['total_s']:.3f} s" + (f" (time limit {limit:g} s)" if limit else ""))
    console.print(t)
    console.file.flush()


def exact_line(e: dict) -> str:
    """The ``verify --exact`` line: P* bracketed, and how far above it the network is."""
    if e.get("status") == "skipped":
        return f"not computed: {e.get('reason')}"
    k = e.get("rounds") or 0
    how = (f"column generation, {k} round{'' if k == 1 else 's'}, {e.get('seconds', 0):.2f} s"
           + ("" if e.get("status") == "complete" else f"; {e.get('status')}: {e.get('reason')}"))
    if e.get("optimum_upper") is None:
        return f"not reached ({how})"
    lo = e.get("optimum_lower")
    line = f"P* in [{_fmt(lo)}, {_fmt(e['optimum_upper'])}] ({how}); "
    if lo is None:
        return line + f"your network is at least {_fmt(e.get('gap_lower'), '.3e')} above it"
    return line + (f"your network is {_fmt(e.get('gap_lower'), '.3e')} above it (relative "
                   f"{_fmt(e.get('relative_gap_lower'), '.3e')}; true gap in [{_fmt(e.get('gap_lower'), '.3e')}, "
                   f"{_fmt(e.get('gap_upper'), '.3e')}])")


def render_solve(d: dict, console: Console | None = None) -> None:
    console = console or make_console()
    head = {"optimal": "[bold green]SOLVED, CERTIFIED GLOBALLY OPTIMAL[/]",
            "inconclusive": "[bold yellow]SOLVED, NOT CERTIFIED[/] (inconclusive: the network is written)"}
    console.print(f"{head.get(d.get('status'), '[bold]SOLVED[/]')}  patterns: {d.get('patterns')} "
                  f"({d.get('n_patterns')})")
    t = Table(show_header=False, box=None, pad_edge=False)
    t.add_column(style="bold")
    t.add_column()
    t.add_row("objective", _fmt(d.get("objective")))
    if d.get("lower_bound") is not None:
        cert = d.get("certificate") or {}
        how = f", {cert.get('patterns')}: {cert.get('bound_method')}" if cert else ""
        t.add_row("lower bound", f"{_fmt(d.get('lower_bound'))}  (certified over every pattern{how})")
        t.add_row("relative gap", f"{_fmt(d.get('relative_gap'), '.3e')}"
                  + (f"  (tolerance {_fmt(d.get('tolerance'), '.1e')})" if d.get("tolerance") is not None else ""))
        better = d.get("better_network_found")
        if better and d.get("status") != "optimal":  # within the tolerance it is only noise
            t.add_row("better network", f"the certificate found one of objective {_fmt(better.get('objective'))} "
                      f"({better.get('kind')}); cvxrelu verify --witness writes it")
    else:
        t.add_row("lower bound", "- (not certified: the patterns cannot all be priced)")
    if d.get("why_sampled"):
        t.add_row("patterns", d["why_sampled"])
    sp = d.get("sampled_program")
    if sp and sp.get("objective") is not None:
        t.add_row("sampled program", f"{sp.get('patterns')} patterns from {sp.get('source')}: objective "
                  f"{_fmt(sp.get('objective'))} in {sp.get('seconds', 0):.2f} s")
    elif sp:
        t.add_row("sampled program", f"{sp.get('patterns')} patterns from {sp.get('source')} (solved together "
                  "with the warm starts' patterns)")
    ps = d.get("pattern_search")
    if ps:
        src = ps.get("sources") or {}
        t.add_row("pattern search", f"{ps.get('rounds')} rounds ({ps.get('stopped')}): "
                  f"{src.get('gradient', 0)} patterns from gradient warm starts, {src.get('dual_search', 0)} "
                  f"from dual-guided search, {ps.get('seconds', 0):.2f} s")
    if d.get("sample_dual_ratio") is not None:
        t.add_row("optimal over its patterns", f"max dual constraint / beta = {d['sample_dual_ratio']:.8f} "
                  "(<= 1 up to the solver tolerance)")
    t.add_row("neurons", f"{d.get('neurons')} non-zero (width {d.get('width')})")
    s = d.get("solver") or {}
    t.add_row("solver", f"{s.get('solver', '-')} {s.get('version', '')} status {s.get('status', '-')}, "
              f"{d.get('iterations')} iterations over {s.get('calls', '-')} solves, {d.get('rounds', 0)} rounds")
    if s.get("detail"):
        t.add_row("solver status", f"{s.get('status')}: {s['detail']}")
    scr = s.get("screening")
    if scr and scr.get("fallback"):
        t.add_row("row screening", f"last solve: {scr['fallback']}")
    elif scr:
        t.add_row("row screening", f"last solve: {scr['history'][-1]['rows_per_pattern_max']} of the rows per "
                  f"pattern, {scr['rounds']} round(s), {scr['violated_rows_left']} violated rows left "
                  f"(tolerance {scr['tolerance']:g})")
    t.add_row("time", f"{d.get('seconds', 0):.3f} s")
    if d.get("output"):
        t.add_row("written", d["output"])
    console.print(t)
    console.file.flush()
