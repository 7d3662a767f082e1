"""Exceptions shared by the library and translated to exit codes in one place (cli.py)."""


class CvxReluError(Exception):
    """Base class of every error the library raises on purpose."""

    exit_code = 3


class InputError(CvxReluError):
    """Bad usage or bad input: exit code 2, one line naming what and where."""

    exit_code = 2


class SolverError(CvxReluError):
    """A numerical solver failed or returned an unusable answer.

    Never turned into a verdict: verify reports ``inconclusive`` or exits 3.
    """

    exit_code = 3


class TooLargeError(InputError):
    """The exact enumeration would not fit in time or memory (exit 2, with an estimate)."""
