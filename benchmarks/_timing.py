"""What every timing script in benchmarks/ shares, so that their figures survive a busy machine alike.

- ``race``: the contenders run interleaved, one call each per round, in an order rotated every round, so that a
  slow phase of the machine and the after-effects of one contender on the next (caches and the allocator hold what
  the last one left) hit all of them alike; each is reported by its minimum (the run least disturbed by the rest of
  the machine) and its spread (max / min). On more than one thread the scripts let each contender run untimed
  for a moment before its timed call, so that the worker threads of the contender before have gone idle
  (``settle``; ``settle_for(threads)`` gives the scripts' choice).
- ``pinned``: NumPy's BLAS (threadpoolctl) and torch (``torch.set_num_threads``, when torch is installed) run on the
  same number of threads.
- ``gemm_peak``: the machine's float32 matrix-product rate on the current threads, printed beside the figures so
  that a reader sees the distance to the limit.
"""

from __future__ import annotations

import contextlib
import time

import numpy as np


#: seconds of untimed calls of a contender before each of its timed calls on more than one thread (``race``)
SETTLE = 0.2


def settle_for(threads: int) -> float:
    """The ``settle`` of ``race`` for a run on ``threads`` threads: SETTLE on more than one, else none (a single
    thread leaves no workers spinning).

    >>> settle_for(1), settle_for(2)
    (0.0, 0.2)
    """
    return SETTLE if threads > 1 else 0.0


def race(contenders: dict, repeat: int, settle: float = 0.0) -> dict:
    """``{name: (minimum seconds, max / min)}`` of ``repeat`` interleaved, rotated rounds of ``contenders``
    (``{name: callable}``; each call is timed whole). One warm-up call each comes first. With ``settle`` > 0,
    each timed call comes after untimed calls of the same contender for at least ``settle`` seconds: on more than
    one thread, torch's OpenMP workers and OpenBLAS's spin for up to about a tenth of a second after their work,
    and a contender that starts meanwhile shares its cores with them (measured here: a 0.5 ms gradient reading
    2.65 ms right after a torch call on 2 threads); its own calls absorb that, as in a training loop, where steps
    follow steps of the same library. (A plain sleep instead would time every call from cold caches.)

    >>> out = race({"a": lambda: None, "b": lambda: None}, 3)
    >>> sorted(out), all(spread >= 1.0 for _, spread in out.values())
    (['a', 'b'], True)
    """
    if repeat < 1:
        raise ValueError(f"repeat must be >= 1, got {repeat}")
    names = list(contenders)
    for name in names:
        contenders[name]()                      # warm-up: first-touch allocations, lazy initialisation
    times = {name: [] for name in names}
    for r in range(repeat):
        k = r % len(names)
        for name in names[k:] + names[:k]:
            t0 = time.perf_counter()
            while time.perf_counter() - t0 < settle:
                contenders[name]()
            t0 = time.perf_counter()
            contenders[name]()
            times[name].append(time.perf_counter() - t0)
    return {name: (min(v), max(v) / min(v)) for name, v in times.items()}


@contextlib.contextmanager
def pinned(threads: int):
    """NumPy's BLAS and torch (if installed) on ``threads`` threads inside the block; torch's count is restored."""
    if threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    from threadpoolctl import threadpool_limits

    try:
        import torch
    except ImportError:
        torch = None
    saved = torch.get_num_threads() if torch is not None else None
    if torch is not None:
        torch.set_num_threads(threads)
    try:
        with threadpool_limits(threads):
            yield
    finally:
        if torch is not None:
            torch.set_num_threads(saved)


def torch_threads() -> str:
    """What torch reports for its thread count, or that it is not installed (for the header lines)."""
    try:
        import torch
    except ImportError:
        return "torch not installed"
    return f"torch reports {torch.get_num_threads()}"


def gemm_peak(repeat: int = 5, n: int = 2048) -> float:
    """GFLOP/s of the best of ``repeat`` float32 products of two n x n matrices (NumPy's BLAS, current threads)."""
    a = np.random.default_rng(0).standard_normal((n, n)).astype(np.float32)
    a @ a
    best = min(_timed(lambda: a @ a) for _ in range(repeat))
    return 2 * n**3 / best / 1e9


def _timed(f) -> float:
    t0 = time.perf_counter()
    f()
    return time.perf_counter() - t0
