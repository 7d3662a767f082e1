"""Output files: checked before any work, written atomically with the caller's umask.

Every file a command writes goes through :func:`atomic_write` (a temporary file in the target's
directory, then ``os.replace``): an interrupted or failed command leaves either the old file or
the new one, never half of one, and no temporary file behind. :func:`check_output` is what the
commands call on each output path before loading anything, so that a typo in ``-o`` costs no
solving time (docs/cli.md, "Outputs").
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .errors import InputError

#: Mode of a new regular file before the umask is applied (what ``open(path, "w")`` uses).
NEW_FILE_MODE = 0o666
#: Prefix of the temporary files of :func:`atomic_write` (hidden; tests look for leftovers).
TEMP_PREFIX = ".cvxrelu-"


def current_umask() -> int:
    """The process umask (read by setting and restoring it; the CLI is single-threaded)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write(path: str, write, suffix: str = ".tmp") -> None:
    """Call ``write(tmp)`` on a temporary file beside ``path``, give it the mode an ordinary new
    file would have (0666 minus the umask; ``mkstemp`` makes 0600), then rename it to ``path``.

    On any exception, KeyboardInterrupt included, the temporary file is removed and ``path`` is
    left as it was.
    """
    path = str(path)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise InputError(f"{path}: directory {directory} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=suffix, dir=directory)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, NEW_FILE_MODE & ~current_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _same_file(a: str, b: str) -> bool:
    if os.path.exists(a) and os.path.exists(b):
        return os.path.samefile(a, b)
    return os.path.realpath(a) == os.path.realpath(b)


def check_output(out: str, inputs=(), option: str = "-o", others=()) -> None:
    """Refuse, before any work, an output path that cannot be written (a directory, a missing
    or read-only directory, a read-only file) or that names one of the command's ``inputs`` or
    another of its outputs (``others``, as (option, path) pairs). Raises InputError (exit 2).
    """
    out = str(out)
    if out == "" or out.endswith(os.sep):
        raise InputError(f"{option} {out!r}: not a file name")
    if os.path.isdir(out):
        raise InputError(f"{option} {out}: is a directory; give a file name")
    directory = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(directory):
        raise InputError(f"{option} {out}: directory {directory} does not exist")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise InputError(f"{option} {out}: directory {directory} is not writable")
    for path in inputs:
        if path is not None and _same_file(str(path), out):
            raise InputError(f"{option} {out}: is also an input of this command ({path}); write to another file")
    for other_option, other in others:
        if other is not None and _same_file(str(other), out):
            raise InputError(f"{option} {out}: is also given to {other_option}; give two different files")
