"""Files that are replaced, never half-written: write a uniquely named temporary file beside the target, flush and
fsync it, then ``os.replace`` it over the target (atomic on POSIX and Windows). A crash or a kill leaves either the
old file or the new one, and two processes writing the same target never share a temporary name.

The file gets the permissions an ordinary ``open()`` would give it (0666 less the umask): ``mkstemp`` creates its
temporary as 0600, which would leave a shared results folder unreadable to the rest of a group.

A writer killed by SIGKILL cannot remove its temporary file. The name records the writer's process id
(``.<target>.<pid>.<random>.tmp``), so :func:`remove_stale_temporaries` can later delete exactly the temporaries
whose writer is gone, and never one that a live process is still writing."""

from __future__ import annotations

import contextlib
import os
import signal
import re
import tempfile
import threading
from typing import Callable

__all__ = ["atomic_write", "remove_stale_temporaries", "signals_held"]

_TEMPORARY = re.compile(r"^\..+\.(\d+)\.[^.]+\.tmp$")


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
    with signals_held():
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(path)}.{os.getpid()}.",
                                   suffix=".tmp")
        try:
            with os.fdopen(fd, "wb" if binary else "w") as fh:
                write(fh)
                fh.flush()
                os.chmod(fh.fileno(), 0o666 & ~_umask())        # what open() would have given the file
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise


@contextlib.contextmanager
def signals_held(*, deliver: bool = True):
    """Hold Ctrl-C and SIGTERM for the duration of the block and yield the list of those that arrived meanwhile;
    with ``deliver``, hand each to the handler that was there once the block is done, as if it came then.

    ``atomic_write`` holds them while a file is written (a KeyboardInterrupt between creating the temporary and the
    ``try`` that removes it used to leave the temporary behind); the CLI holds them, undelivered, while it writes
    the summary and report, and then says what arrived. Python runs signal handlers in the main thread only, so the
    handlers are swapped there for ones that record the signal; in another thread this holds nothing. Only SIGKILL
    can leave a temporary (its name carries the writer's process id; :func:`remove_stale_temporaries`)."""
    arrived = []
    if threading.current_thread() is not threading.main_thread():
        yield arrived
        return
    old = {s: signal.signal(s, lambda signum, frame: arrived.append(signum)) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield arrived
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)
        for s in arrived if deliver else ():             # as if it came now, to the handler that was there
            handler = old[s]
            if callable(handler):
                handler(s, None)
            elif handler == signal.SIG_DFL:
                signal.raise_signal(s)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:          # another user's live process
        return True
    return True


def remove_stale_temporaries(folder) -> list:
    """Delete the temporary files of :func:`atomic_write` in ``folder`` whose writing process no longer exists
    (left by a kill); return their paths. Temporaries of live processes are left alone.

    >>> import tempfile
    >>> d = tempfile.mkdtemp()
    >>> open(os.path.join(d, ".run.json.999999999.ab12.tmp"), "w").close()     # no such process
    >>> [os.path.basename(p) for p in remove_stale_temporaries(d)], os.listdir(d)
    (['.run.json.999999999.ab12.tmp'], [])
    """
    removed = []
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return removed
    for name in names:
        match = _TEMPORARY.match(name)
        if match and int(match.group(1)) != os.getpid() and not _alive(int(match.group(1))):
            try:
                os.unlink(os.path.join(folder, name))
                removed.append(os.path.join(folder, name))
            except FileNotFoundError:
                pass
    return removed
