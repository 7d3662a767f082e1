"""Progress for long work: rich bars on a terminal (stderr), nothing on a pipe.

The library takes ``progress=`` objects with one method, ``task(description, total)``, which
returns a callable ``advance(k)`` that may also have ``close()`` and ``note(text)`` (a short
status such as the current gap, shown beside the bar). Tasks nest: a task opened while another
is open is drawn indented under it, so the overall progress (column-generation or search round
of the limit, hyperplanes of the arrangement explored) stays on screen while the per-solve bars
come and go. The first line names the command's stage (:meth:`stage`) and the time since start.
"""

from __future__ import annotations

import sys

#: Refreshes per second of the terminal display.
REFRESH_PER_SECOND = 8


class _Null:
    def task(self, description, total):
        return _NullTask()

    def stage(self, text):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class _NullTask:
    def __call__(self, k=1):
        pass

    def note(self, text):
        pass

    def close(self):
        pass


class _Rich:
    def __init__(self, command: str = "cvxrelu"):
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        console = Console(stderr=True)
        class _Count(MofNCompleteColumn):
            def render(self, task):  # the stage line has no count
                return super().render(task) if task.total is not None else ""

        self._p = Progress(TextColumn("{task.description}"), BarColumn(bar_width=30), _Count(),
                           TextColumn("{task.fields[note]}"), TimeElapsedColumn(), console=console,
                           transient=True, refresh_per_second=REFRESH_PER_SECOND)
        self._command = command
        self._open: list[int] = []
        self._head = self._p.add_task(self._title("starting"), total=None, note="")

    def _title(self, text):
        return f"[bold]{self._command}[/]: {text}"

    def stage(self, text):
        """Name the command's current stage on the first line."""
        self._p.update(self._head, description=self._title(text))

    def __enter__(self):
        self._p.start()
        return self

    def __exit__(self, *exc):
        self._p.stop()
        return False

    def task(self, description, total):
        indent = "  " * (len(self._open) + 1)
        tid = self._p.add_task(indent + description, total=total, note="")
        self._open.append(tid)
        p, opened = self._p, self._open

        class _T:
            def __call__(self, k=1):
                p.advance(tid, k)

            def note(self, text):
                p.update(tid, note=text)

            def close(self):
                if tid in opened:
                    opened.remove(tid)
                    p.remove_task(tid)

        return _T()


def make_progress(enabled: bool | None = None, command: str = "cvxrelu"):
    """A progress sink: rich on a terminal (stderr) or when enabled=True, silent otherwise."""
    if enabled is None:
        enabled = sys.stderr.isatty()
    return _Rich(command) if enabled else _Null()
