"""Files that are replaced, never half-written: write a uniquely named temporary file beside the target, flush and
fsync it, then ``os.replace`` it over the target (atomic on POSIX and Windows). A crash or a kill leaves either the
old file or the new one, and two processes writing the same target never share a temporary name."""

from __future__ import annotations

import os
import tempfile
from typing import Callable

__all__ = ["atomic_write"]


def atomic_write(path, write: Callable, *, binary: bool = False) -> None:
    """Call ``write(fh)`` on a fresh temporary file in ``path``'s folder, then move it over ``path``.

    >>> import os, tempfile
    >>> target = os.path.join(tempfile.mkdtemp(), "x.txt")
    >>> atomic_write(target, lambda fh: fh.write("hello"))
    >>> open(target).read(), sorted(os.listdir(os.path.dirname(target)))
    ('hello', ['x.txt'])
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb" if binary else "w") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
