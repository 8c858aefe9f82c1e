"""Keep freed memory inside the process, so that the fresh arrays of every training step reuse it
(:func:`keep_freed_memory`; glibc's malloc, Linux).

The reference optimizers and models write each equation as a fresh array (m, v, m_hat, v_hat, the step, ...), about
1 MB each for the MNIST MLP and up to 150 MB for the CIFAR-10 CNN. glibc's malloc serves blocks above its mmap
threshold with fresh pages from the kernel, and gives memory at the top of its heap back once more than its trim
threshold lies free there; its dynamic thresholds (128 KB rising to at most 32 MB) then make every step fault in its
temporaries' pages anew. benchmarks/image_step_time.py measures a training step with freed memory kept (its
default) or not (``--glibc-defaults``): on this project's 2-core machine the CIFAR-10 CNN step (batch 128, float32,
Adam) went from 585 to 537 ms on one thread and from 474 to 424 ms on two (docs/benchmarks/image_step_time.txt as
commit 23a6983 left it, and its version before). The numbers computed do not change, only where their memory comes
from.

``reproduce``'s workers call it (they run one run after another and nothing else); a user's own process keeps
glibc's defaults unless it calls :func:`keep_freed_memory` itself. The cost is memory that stays with the process
after a step (at most ``limit`` bytes at the top of the heap) instead of going back to the system.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

__all__ = ["keep_freed_memory", "freed_memory_kept", "M_TRIM_THRESHOLD", "M_MMAP_THRESHOLD"]

#: glibc's mallopt parameters (malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
#: older glibc refuse an M_MMAP_THRESHOLD above HEAP_MAX_SIZE / 2 = 32 MiB (64-bit): the setting then falls back to it
_MMAP_MAX = 32 * 1024 * 1024
#: whether :func:`keep_freed_memory` took effect in this process (clara_ref.directions reads it: Adam slices long
#: vectors where their fresh arrays would otherwise come from fresh pages)
_kept = False


def freed_memory_kept() -> bool:
    """Whether :func:`keep_freed_memory` took effect in this process.

    >>> isinstance(freed_memory_kept(), bool)
    True
    """
    return _kept


def keep_freed_memory(limit: int = 1 << 30) -> bool:
    """Have glibc keep up to ``limit`` bytes of freed memory at the top of its heap (M_TRIM_THRESHOLD) and serve
    blocks up to ``limit`` from its heap (M_MMAP_THRESHOLD; 32 MiB where an older glibc refuses more). Returns True
    when glibc took both settings, False where there is no glibc (macOS, Windows, musl): nothing is changed there.

    >>> keep_freed_memory(0)
    Traceback (most recent call last):
    ...
    ValueError: limit must be an int in [1048576, 4294967296] (bytes), got 0
    """
    if isinstance(limit, bool) or not isinstance(limit, int) or not (1 << 20) <= limit <= (1 << 32):
        raise ValueError(f"limit must be an int in [1048576, 4294967296] (bytes), got {limit!r}")
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    global _kept
    mmap = bool(mallopt(M_MMAP_THRESHOLD, limit)) or bool(mallopt(M_MMAP_THRESHOLD, min(limit, _MMAP_MAX)))
    _kept = bool(mallopt(M_TRIM_THRESHOLD, limit)) and mmap
    return _kept
