"""The worker processes of a sweep: each run goes to one idle worker, and a worker that dies costs only that run.

A ``concurrent.futures.ProcessPoolExecutor`` breaks for good when one of its workers dies (killed, or out of
memory): every pending run fails with ``BrokenProcessPool`` and the sweep with it. Here the parent hands each run to
one worker over that worker's own pipe, so it always knows which run a worker holds; when a worker's process ends
while it holds a run, that run is recorded as an error naming the cause (the signal, or the exit code), a new
worker takes the dead one's place, and the sweep goes on. An error is no result: the next rerun computes the run
again (the runner's resume).

Each worker runs with one BLAS thread (the pool already uses every core), keeps freed memory for the next step's
arrays (``clara_ref.allocator``: no page faults for every temporary) and exits within half a second when its
parent dies, even by SIGKILL. Closing the pool, normally or on Ctrl-C and SIGTERM, ends every worker and waits for
it, so nothing of a command runs after it returns.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections import deque
from multiprocessing.connection import wait

from ..allocator import keep_freed_memory

__all__ = ["WorkerPool", "init_worker"]


def init_worker(parent: int | None = None):
    """One BLAS thread, freed memory kept for the next step's arrays (``clara_ref.allocator``); with ``parent``,
    exit within half a second once that process is gone."""
    keep_freed_memory()
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:  # pragma: no cover
        pass
    if parent is not None:
        def watch():
            while True:
                time.sleep(0.5)
                if os.getppid() != parent:
                    os._exit(1)

        threading.Thread(target=watch, daemon=True).start()


def _work(conn, parent, work, data_dir, data_verified):
    signal.signal(signal.SIGINT, signal.SIG_IGN)        # the parent decides when a sweep stops
    init_worker(parent)
    while True:
        try:
            spec = conn.recv()
        except (EOFError, OSError):
            return
        if spec is None:
            return
        conn.send(work(spec, data_dir, data_verified))


def _cause(exitcode) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        hint = " (the kernel's out-of-memory killer sends SIGKILL)" if name == "SIGKILL" else ""
        return f"the worker process running it was killed by {name}{hint}"
    return f"the worker process running it exited with code {exitcode}"


class _Worker:
    def __init__(self, ctx, work, data_dir, data_verified):
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_work, args=(child, os.getpid(), work, data_dir, data_verified),
                                   daemon=True)
        self.process.start()
        child.close()
        self.spec = None


class WorkerPool:
    """``jobs`` worker processes, each computing ``work(spec, data_dir, data_verified) -> record``; a run whose
    worker died gets ``lost(spec, cause, data_verified) -> record`` instead (the runner passes its ``run_one`` and
    ``error_record``, so this module needs nothing of it). ``run(specs, done)`` calls ``done(spec, record)`` in this
    process for every spec, as each finishes (in completion order); ``close()`` ends the workers and waits."""

    def __init__(self, jobs: int, work, lost, data_dir=None, data_verified=None):
        self.ctx = multiprocessing.get_context()
        self.lost = lost
        self.data = (work, data_dir, data_verified)
        self.workers = [_Worker(self.ctx, *self.data) for _ in range(jobs)]

    def run(self, specs, done, *, take=None) -> int:
        """Run every spec (those that ``take(spec)``, asked just before a worker gets it, accepts); return how many
        runs died with their worker."""
        pending, died = deque(specs), 0
        while pending or any(w.spec is not None for w in self.workers):
            for i in range(len(self.workers)):
                while self.workers[i].spec is None and pending:
                    spec = pending.popleft()
                    if take is None or take(spec):
                        self._send(i, spec)
            busy = [w for w in self.workers if w.spec is not None]
            ready = set(wait([w.conn for w in busy] + [w.process.sentinel for w in busy], timeout=1.0))
            for i, w in enumerate(self.workers):
                if w.spec is None or not (w.conn in ready or w.process.sentinel in ready):
                    continue
                record = self._receive(w)
                if record is None:                      # the process ended holding the run: replace it
                    w.process.join()                    # its pipe can close before it is reaped: wait for the code
                    record = self.lost(w.spec, _cause(w.process.exitcode), self.data[2])
                    died += 1
                    self.workers[i] = _Worker(self.ctx, *self.data)
                spec, w.spec = w.spec, None
                done(spec, record)
        return died

    def _send(self, i, spec):
        """Give ``spec`` to worker ``i``; a worker that died while idle (nothing of a run lost) is replaced first."""
        w = self.workers[i]
        if not w.process.is_alive():
            w.process.join()
            self.workers[i] = w = _Worker(self.ctx, *self.data)
        w.spec = spec
        try:
            w.conn.send(spec)
        except (BrokenPipeError, ConnectionResetError):
            pass              # it died between the check and the send: its sentinel fires and the run is an error

    @staticmethod
    def _receive(w):
        try:
            if w.conn.poll():
                return w.conn.recv()
        except (EOFError, OSError):
            return None
        return None if not w.process.is_alive() else WorkerPool._wait_for(w)

    @staticmethod
    def _wait_for(w):
        """The sentinel fired but the process is alive (a race with its exit): the result or the death follows."""
        try:
            return w.conn.recv()
        except (EOFError, OSError):
            return None

    def close(self, *, now: bool = False):
        """End every worker and wait for it: politely when the sweep is done, at once (``now``) on an interrupt."""
        for w in self.workers:
            try:
                if now:
                    w.process.terminate()
                else:
                    w.conn.send(None)
            except (OSError, ValueError):
                pass
        for w in self.workers:
            w.process.join(timeout=None if now else 5)
            if w.process.is_alive():
                w.process.terminate()
                w.process.join()
            w.conn.close()
