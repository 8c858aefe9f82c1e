"""clara_ref.allocator: glibc keeps freed memory for the next step's arrays, in reproduce's workers."""

import sys

import pytest

from clara_ref import allocator
from clara_ref.experiments import pool


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_glibc_takes_the_thresholds():
    assert allocator.keep_freed_memory() is True
    assert allocator.keep_freed_memory(64 << 20) is True          # again, another limit: still taken


@pytest.mark.parametrize("limit", [0, (1 << 20) - 1, (1 << 32) + 1, 1.5e9, True, "1G"])
def test_a_limit_outside_the_range_is_refused_by_name(limit):
    with pytest.raises(ValueError, match="limit must be an int in"):
        allocator.keep_freed_memory(limit)


def test_every_pool_worker_keeps_freed_memory(monkeypatch):
    import threadpoolctl

    calls = []
    monkeypatch.setattr(pool, "keep_freed_memory", lambda: calls.append(1) or True)
    monkeypatch.setattr(threadpoolctl, "threadpool_limits", lambda n: None)     # this process keeps its threads
    pool.init_worker()
    assert calls == [1]
