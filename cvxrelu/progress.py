"""Progress for long work: a rich bar on a terminal (stderr), nothing on a pipe.

The library takes ``progress=`` objects with one method, ``task(description, total)``, which
returns a callable ``advance(k)`` that may also have ``close()``.
"""

from __future__ import annotations

import sys


class _Null:
    def task(self, description, total):
        return _NullTask()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class _NullTask:
    def __call__(self, k=1):
        pass

    def close(self):
        pass


class _Rich:
    def __init__(self):
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._p = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                           TimeElapsedColumn(), console=Console(stderr=True), transient=True)

    def __enter__(self):
        self._p.start()
        return self

    def __exit__(self, *exc):
        self._p.stop()
        return False

    def task(self, description, total):
        tid = self._p.add_task(description, total=total)
        p = self._p

        class _T:
            def __call__(self, k=1):
                p.advance(tid, k)

            def close(self):
                p.remove_task(tid)

        return _T()


def make_progress(enabled: bool | None = None):
    """A progress sink: rich on a terminal (or when enabled=True), silent otherwise."""
    if enabled is None:
        enabled = sys.stderr.isatty()
    return _Rich() if enabled else _Null()
