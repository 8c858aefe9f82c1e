"""Execute RunSpecs in a pool of worker processes, one JSON per run, resumable and deterministic."""

from __future__ import annotations

import functools
import json
import math
import os
import platform
import sys
import time

import numpy as np

from .._version import __version__ as clara_ref_version
from ..allocator import keep_freed_memory
from ..phases import train_in_sequence
from ..training import optimize, train
from clara_ref._io import atomic_write, remove_stale_temporaries
from clara_ref.errors import ClaraRefError, ClusterError

from .grid import NULL_BURN_IN, RunSpec, build_optimizer, load_data, load_sequence
from .pool import WorkerPool
from .torch_engine import engine_versions, train_torch
from .record import MISSING, NotRegular, RunRecord, RunRecordError, final_metric, read_run_file

__all__ = ["run_one", "run_all", "versions", "load_records", "RunFileError"]


def versions() -> dict:
    """Package versions recorded with every run (a new dict each call: the caller may keep it in a record)."""
    return dict(_versions())


@functools.lru_cache(maxsize=1)
def _versions() -> tuple:
    import scipy
    import sklearn

    return (("clara_ref", clara_ref_version), ("numpy", np.__version__), ("scipy", scipy.__version__),
            ("scikit-learn", sklearn.__version__), ("python", platform.python_version()))


def _finite_or_none(xs):
    return [x if math.isfinite(x) else None for x in map(float, xs)]


def run_one(spec: RunSpec, data_dir=None, data_verified=None) -> dict:
    """Run one spec and return its JSON-ready record. Never raises: an unexpected error is recorded.

    ``data_dir`` is the folder of the paper's image sets (tasks on them read their official files there);
    ``data_verified`` records whether the command checked those files against the official checksums.

    Besides the curves, a record carries what the claims need to read it on its own (``clara_ref.experiments.
    claims``): the task's role, metric direction, chance level and step budget, the damping in use (``damping``,
    resolved; ``damping_setting`` as given), the path constant ``c``, the reference P was compared with and the
    number of blocks K; ``diverged`` with ``divergence`` saying why (``clara_ref.training``).

    A task in sequence (``Task.sequence``) trains on its first task, then on the second from where the first left
    (``clara_ref.phases.train_in_sequence``): the metric is the accuracy on the current task, and
    ``first_task_metric`` the accuracy on the first task at the end.

    On a pure-noise task the metric is log eta_t - log eta_B, the change of the rate's logarithm since step
    B = ``NULL_BURN_IN`` (negative before it), so the final metric is the drift a sound rule keeps near 0.
    """
    task = spec.resolved_task()
    t0 = time.perf_counter()
    record = _base_record(spec, task, data_verified)
    try:
        opt, d_setting, d_value = build_optimizer(spec)
        blocks = getattr(opt, "blocks", None)
        record.update(damping_setting=d_setting, damping=d_value, c=getattr(opt, "c", None),
                      n_blocks=None if d_value is None else len(blocks or (1,)))
        record["config"] = {"method": opt.name, **{k: (list(v) if isinstance(v, tuple) else v)
                                                   for k, v in opt.hyperparameters().items()}}
        r = _train(spec, task, opt, record, data_dir)
        ref = getattr(r.state, "reference", None) if d_value is not None else None
        record.update(reference=None if ref is None else float(ref), diverged=bool(r.diverged),
                      diverged_at=r.diverged_at, divergence=r.divergence, message=r.message, error=None)
    except Exception as exc:          # a bug in one run must not crash the sweep: record it, retry it next time
        _as_error(record, f"{type(exc).__name__}: {exc}")
    record["final_metric"] = final_metric(record)
    record["wall_s"] = round(time.perf_counter() - t0, 4)
    try:
        return RunRecord.from_dict(record, run_id=spec.run_id).to_dict()
    except RunRecordError as exc:    # a clara_ref bug: recorded (and so retried), never stored as a result
        return error_record(spec, f"internal error, the run's record breaks its schema: {exc}", data_verified)


def _train(spec: RunSpec, task, opt, record: dict, data_dir):
    """Run the spec's optimizer on its task and put the curves in ``record``; the run's result (its ``state``,
    ``diverged``, ...). A stepwise task runs ``optimize`` (its metric the distance, or the pure-noise tasks' change
    of log eta); a data task ``train`` (the torch engine's ``train_torch``); a task in sequence its two phases."""
    if task.stepwise:
        r = optimize(task.objective_of(), opt, steps=task.steps, seed=spec.seed)
        metric = r.distance if task.kind == "synthetic" else _log_rate_change(r.eta)
        record.update(unit="step", steps=task.steps, loss=_finite_or_none(r.value), metric=_finite_or_none(metric),
                      eta=_finite_or_none(r.eta))
        return r
    dtype = np.dtype(task.dtype)
    datasets = load_sequence(spec, data_dir) if task.sequence else (load_data(spec, data_dir),)
    # the steps this run makes on the data it read (the official counts unless the files are others)
    record["steps_total"] = task.epochs * math.ceil(len(datasets[0][1]) / task.batch_size)
    if task.sequence:
        s = train_in_sequence(task.model(), opt, *datasets, epochs=task.phase_epochs, batch_size=task.batch_size,
                              seed=spec.seed, dtype=dtype)
        r = s.run
        record["first_task_metric"] = s.first_task_accuracy
    else:                                    # the torch engine: on the run's device, one thread as the BLAS
        torch_run = dict(device=spec.device, threads=1) if spec.engine == "torch" else {}
        r = (train_torch if torch_run else train)(task.model(), opt, datasets[0], epochs=task.epochs,
                                                  batch_size=task.batch_size, seed=spec.seed, dtype=dtype, **torch_run)
    record.update(unit="epoch", epochs=task.epochs, batch_size=task.batch_size, loss=_finite_or_none(r.train_loss),
                  metric=_finite_or_none(r.test_accuracy), eta=_finite_or_none(r.eta))
    return r


def _base_record(spec: RunSpec, task, data_verified) -> dict:
    """The fields every record has before the run starts (what it is, and how its task is scored)."""
    record = {"run_id": spec.run_id, "task": spec.task, "optimizer": spec.optimizer, "label": spec.label,
              "eta0": spec.eta0, "seed": spec.seed, "scale": spec.scale, "protocol": spec.protocol,
              "metric_name": task.metric_name, "role": task.role, "lower_is_better": task.lower_is_better,
              "chance": task.chance, "dtype": task.dtype, "steps_total": task.steps_total,
              "n_params": task.n_params(), "epochs_override": spec.epochs,
              "versions": {**versions(), **engine_versions(spec.engine)}}
    if task.official_images:
        record.update(data_verified=data_verified, engine=spec.engine, device=spec.device)
    return record


def _as_error(record: dict, error: str) -> dict:
    record.update(diverged=False, diverged_at=None, divergence=None, message="", error=error, loss=[], metric=[],
                  eta=[], reference=None)
    for key in ("damping", "damping_setting", "c", "n_blocks"):
        record.setdefault(key, None)
    return record


def _lost_run(spec: RunSpec, cause: str, data_verified=None) -> dict:
    """The record of a run whose worker died (the pool calls it in this process), said on stderr as it happens."""
    print(f"clara_ref reproduce: {spec.run_id}: {cause}; recorded as an error, the next run computes it again",
          file=sys.stderr)
    return error_record(spec, cause, data_verified)


def error_record(spec: RunSpec, error: str, data_verified=None) -> dict:
    """The record of a run that could not finish (its worker died): an error, retried by the next rerun."""
    record = _as_error(_base_record(spec, spec.resolved_task(), data_verified), error)
    record["final_metric"] = final_metric(record)
    record["wall_s"] = 0.0
    return record


def _log_rate_change(etas) -> list:
    """log eta_t - log eta_B for every step t (B = NULL_BURN_IN, or the last step before it for a shorter run)."""
    base = math.log(etas[min(NULL_BURN_IN, len(etas) - 1)])
    return [math.log(e) - base if e > 0 and math.isfinite(e) else math.nan for e in etas]


def _path(out_dir, spec: RunSpec) -> str:
    return os.path.join(out_dir, "runs", spec.run_id + ".json")


def _write(path, record):
    try:
        atomic_write(path, lambda fh: json.dump(record, fh, allow_nan=True))
    except OSError as exc:
        raise RunFileError(f"cannot write the run file {path}: {exc.strerror or exc} (is the folder read-only or the "
                           "disk full?)") from None


def _work(spec: RunSpec, data_dir=None, data_verified=None):
    return spec, run_one(spec, data_dir, data_verified)


def _one_thread(run):
    """Run ``run()`` with one BLAS thread, as every worker does, and give the caller its threads back after."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        return run()


def _work_on_cluster(spec: RunSpec, data_dir=None, data_verified=None):
    """One run on a dask worker: one BLAS thread and freed memory kept, as in the process pool's workers."""
    keep_freed_memory()
    return _one_thread(lambda: _work(spec, data_dir, data_verified))


EXECUTORS = ("process", "dask")


def run_all(specs, out_dir: str, jobs: int = 1, progress: bool = True, *, executor: str = "process",
            scheduler: str | None = None, data_dir=None, data_verified=None,
            stats: dict | None = None) -> tuple[list[dict], int]:
    """Run every spec whose JSON is not in ``out_dir/runs`` yet (resume), in ``jobs`` worker processes
    (``executor="process"``) or on a dask.distributed cluster (``executor="dask"``: the scheduler at
    ``scheduler``, or a local cluster of ``jobs`` single-threaded worker processes). Finished runs come back to
    this process, which writes each one's JSON, so both executors give the same files.

    A run is resumed only from a regular file that validates as a :class:`~clara_ref.experiments.record.RunRecord`
    of this very spec and did not end in an error; any other file is named on stderr and its run computed again. A
    FIFO, folder or device where a run's file belongs is named and the run skipped (recorded in the returned list as
    an error, not written): nothing is read from it nor written over it.

    Two sweeps on one folder share the work: each claims a run before computing it (a lock that the system
    releases when the process ends, even by SIGKILL) and skips the runs another sweep holds, then waits for those
    and reads their files; a run the other sweep did not finish is computed here.

    Returns the records of all specs (as stored) and how many were resumed. ``stats``, a dict, gets how many runs
    were ``computed`` here, ``resumed``, read as ``finished_elsewhere`` (by another sweep meanwhile) and ``skipped``
    (added to the counts it already holds).
    """
    if executor not in EXECUTORS:
        raise ValueError(f"executor must be one of {', '.join(EXECUTORS)}; got {executor!r}")
    if scheduler is not None and executor != "dask":
        raise ValueError("scheduler is for executor='dask'")
    records, skipped = _scan(specs, out_dir, data_verified)
    resumed = len(records)
    todo = [s for s in specs if s.run_id not in records and s.run_id not in skipped]
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(specs), initial=len(specs) - len(todo), unit="run", desc="reproduce",
                   dynamic_ncols=True)
    total = _compute_all(todo, out_dir, records, bar, executor, jobs, scheduler, data_dir, data_verified)
    if stats is not None:
        for key, n in (("computed", total), ("resumed", resumed), ("skipped", len(skipped)),
                       ("finished_elsewhere", len(records) - resumed - total)):
            stats[key] = stats.get(key, 0) + n
    return [records.get(s.run_id) or skipped[s.run_id] for s in specs], resumed


def _compute(order, take, done, executor, jobs, scheduler, data_dir, data_verified) -> int:
    """Run each spec of ``order`` that ``take`` accepts (asked just before the run starts), calling ``done`` with
    its record; return how many ran."""
    count = 0

    def counted(spec, record):
        nonlocal count
        count += 1
        done(spec, record)

    if executor == "dask":
        mine = [s for s in order if take(s)]
        if mine:
            _run_on_dask(mine, counted, jobs, scheduler, data_dir, data_verified)
    elif jobs <= 1 or len(order) <= 1:
        for spec in order:
            if take(spec):
                counted(spec, _one_thread(lambda: run_one(spec, data_dir, data_verified)))
    else:
        pool = WorkerPool(min(jobs, len(order)), run_one, _lost_run, data_dir, data_verified)
        try:
            pool.run(order, counted, take=take)
        except BaseException:
            pool.close(now=True)        # Ctrl-C or SIGTERM: stop the busy workers now (finished runs are on disk)
            raise
        pool.close()
    return count


class RunClaims:
    """Which sweep computes which run, when several share one results folder: one lock file (``.claims`` beside
    ``runs/``) in which a run's claim is a one-byte POSIX record lock at an offset given by its run id's hash. The
    system drops a process's locks when it ends, however it ends, so a claim never outlives its sweep. Where ``fcntl`` is missing
    (Windows) every claim succeeds: two sweeps there may both compute a run, and still write the same file."""

    def __init__(self, folder: str):
        try:
            import fcntl
        except ImportError:  # pragma: no cover
            self.fd, self._fcntl = None, None
            return
        self._fcntl = fcntl
        self.fd = os.open(os.path.join(folder, ".claims"), os.O_RDWR | os.O_CREAT, 0o666)

    @staticmethod
    def _offset(run_id: str) -> int:
        import hashlib

        return int.from_bytes(hashlib.sha256(run_id.encode()).digest()[:6], "big")

    def acquire(self, run_id: str, *, wait: bool) -> bool:
        if self.fd is None:
            return True
        flags = self._fcntl.LOCK_EX | (0 if wait else self._fcntl.LOCK_NB)
        try:
            self._fcntl.lockf(self.fd, flags, 1, self._offset(run_id))
        except (BlockingIOError, PermissionError):
            return False
        return True

    def release(self, run_id: str) -> None:
        if self.fd is not None:
            self._fcntl.lockf(self.fd, self._fcntl.LOCK_UN, 1, self._offset(run_id))

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)          # drops every claim this process still holds
            self.fd = None


def _run_on_dask(order, done, jobs, scheduler, data_dir, data_verified):
    """Submit every run to a dask.distributed cluster and write each finished one (the ``cluster`` extra)."""
    try:
        import logging

        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError as exc:
        raise ClusterError(f"--executor dask needs dask.distributed ({exc}): pip install 'clara_ref[cluster]'") \
            from None
    cluster = None
    if scheduler is None:
        try:
            cluster = LocalCluster(n_workers=max(1, jobs), threads_per_worker=1, processes=True,
                                   dashboard_address=None, silence_logs=logging.ERROR)
            client = Client(cluster)
        except Exception as exc:       # noqa: BLE001 - whatever dask raises, the sweep says it and stops
            if cluster is not None:
                cluster.close()
            raise ClusterError(f"cannot start a local dask cluster of {max(1, jobs)} workers: "
                               f"{type(exc).__name__}: {exc}") from None
    else:
        try:
            client = Client(scheduler, timeout="30s")
        except Exception as exc:       # noqa: BLE001 - a malformed address is a ValueError, an absent one OSError
            raise ClusterError(f"cannot reach the dask scheduler at {scheduler!r}: {type(exc).__name__}: {exc}") \
                from None
    futures = []
    try:
        # long runs first, as in the process pool; pure=False: every run is computed, never deduplicated
        futures = [client.submit(_work_on_cluster, spec, data_dir, data_verified, pure=False,
                                 key=f"clara_ref-{spec.run_id}", priority=len(order) - k)
                   for k, spec in enumerate(order)]
        for fut in as_completed(futures):
            done(*fut.result())
    except BaseException:
        client.cancel(futures)           # Ctrl-C or SIGTERM: drop what is pending; finished runs are on disk
        raise
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _cost(spec: RunSpec) -> float:
    task = spec.resolved_task()
    return task.steps_total * task.n_params_cost()


class RunFileError(ClaraRefError):
    """A run's file cannot be written where it belongs (the command says which and why)."""


def _scan(specs, out_dir, data_verified):
    """The runs already on disk: ({run id: record} of those that can be resumed, {run id: error record} of those
    whose path holds something that is not a regular file, skipped); stale temporaries removed, every other file
    that cannot be resumed named on stderr."""
    runs = os.path.join(out_dir, "runs")
    os.makedirs(runs, exist_ok=True)
    for folder in (out_dir, runs):
        for stale in remove_stale_temporaries(folder):      # debris of a writer killed by SIGKILL
            print(f"clara_ref reproduce: removed {stale}, a temporary file left by a killed run", file=sys.stderr)
    records, skipped = {}, {}
    for spec in specs:
        record, why = _stored(_path(out_dir, spec), spec)
        if record is not None:
            records[spec.run_id] = record
        elif isinstance(why, NotRegular):
            skipped[spec.run_id] = error_record(spec, f"not run: {_path(out_dir, spec)} {why}; move it away and "
                                                      "rerun", data_verified)
        elif why != MISSING:
            print(f"clara_ref reproduce: recomputing {_path(out_dir, spec)}: {why}", file=sys.stderr)
    for run_id, record in skipped.items():
        print(f"clara_ref reproduce: skipping {run_id}: {record['error'][len('not run: '):]}", file=sys.stderr)
    return records, skipped


def _compute_all(todo, out_dir, records, bar, executor, jobs, scheduler, data_dir, data_verified) -> int:
    """Compute ``todo``, each run claimed first (another sweep on the folder may hold or finish it), its record
    written and put into ``records``; returns how many were computed here."""
    claims, total = RunClaims(out_dir), 0
    try:
        # Long runs first, so that the workers do not end waiting on one straggler.
        pending = sorted(todo, key=lambda s: -_cost(s))
        while pending:
            held = []

            def take(spec):
                """Claim ``spec`` for this sweep unless another holds it or has finished it meanwhile."""
                if not claims.acquire(spec.run_id, wait=False):
                    held.append(spec)
                    return False
                record, _ = _stored(_path(out_dir, spec), spec)
                if record is not None:                   # another sweep wrote it between our read and our claim
                    claims.release(spec.run_id)
                    records[spec.run_id] = record
                    if bar:
                        bar.update(1)
                    return False
                return True

            def done(spec, record):
                _write(_path(out_dir, spec), record)
                claims.release(spec.run_id)
                records[spec.run_id] = json.loads(json.dumps(record, allow_nan=True))   # as a rerun reads it
                if bar:
                    bar.update(1)

            computed = _compute(pending, take, done, executor, jobs, scheduler, data_dir, data_verified)
            total += computed
            if held and not computed:
                # everything left is another sweep's: wait (holding no claim ourselves) until it lets one go
                claims.acquire(held[0].run_id, wait=True)
                claims.release(held[0].run_id)
            pending = held
    finally:
        claims.close()
        if bar:
            bar.close()
    return total


def _stored(path, spec: RunSpec) -> tuple[dict | None, str]:
    """(the stored record, "") when the file at ``path`` can be resumed from: a regular file that validates, holds
    this very spec and did not end in an error; else (None, why not)."""
    record, why = read_run_file(path, spec.run_id)
    if record is None:
        return None, why
    expected = {"task": spec.task, "optimizer": spec.optimizer, "label": spec.label, "eta0": spec.eta0,
                "seed": spec.seed, "scale": spec.scale, "protocol": spec.protocol, "epochs_override": spec.epochs}
    if any(record[k] != v for k, v in expected.items()):
        return None, "it holds another run's spec"
    if record["error"]:
        return None, f"it ended with an error ({record['error']})"
    return record, ""


def load_records(out_dir: str, specs) -> list[dict]:
    """The stored records of ``specs`` whose run files validate (any other is named on stderr and left out)."""
    records = []
    for spec in specs:
        record, why = read_run_file(_path(out_dir, spec), spec.run_id)
        if record is None:
            print(f"clara_ref reproduce: leaving out {_path(out_dir, spec)}: {why}", file=sys.stderr)
        else:
            records.append(record)
    return records
