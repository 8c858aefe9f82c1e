"""Execute RunSpecs in a pool of worker processes, one JSON per run, resumable and deterministic."""

from __future__ import annotations

import json
import math
import os
import platform
import sys
import time

import numpy as np

import clara_ref as cr
from clara_ref._io import atomic_write, remove_stale_temporaries
from clara_ref.errors import ClaraRefError

from .grid import NULL_BURN_IN, TASKS, RunSpec, build_optimizer, load_data
from .pool import WorkerPool

__all__ = ["run_one", "run_all", "versions", "load_records", "RunFileError"]


def versions() -> dict:
    """Package versions recorded with every run."""
    import scipy
    import sklearn

    return {"clara_ref": cr.__version__, "numpy": np.__version__, "scipy": scipy.__version__,
            "scikit-learn": sklearn.__version__, "python": platform.python_version()}


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
        if task.stepwise:
            objective = cr.objectives.get(task.objective, n=task.n, noise=task.noise)
            r = cr.optimize(objective, opt, steps=task.steps, seed=spec.seed)
            metric = r.distance if task.kind == "synthetic" else _log_rate_change(r.eta)
            record.update(unit="step", steps=task.steps, loss=_finite_or_none(r.value),
                          metric=_finite_or_none(metric), eta=_finite_or_none(r.eta))
        else:
            data = load_data(spec, data_dir)
            # the steps this run makes on the data it read (the official counts unless the files are others)
            record["steps_total"] = task.epochs * math.ceil(len(data[1]) / task.batch_size)
            r = cr.train(task.model(), opt, data, epochs=task.epochs, batch_size=task.batch_size,
                         seed=spec.seed, dtype=np.dtype(task.dtype))
            record.update(unit="epoch", epochs=task.epochs, batch_size=task.batch_size,
                          loss=_finite_or_none(r.train_loss), metric=_finite_or_none(r.test_accuracy),
                          eta=_finite_or_none(r.eta))
        ref = getattr(r.state, "reference", None) if d_value is not None else None
        record.update(reference=None if ref is None else float(ref), diverged=bool(r.diverged),
                      diverged_at=r.diverged_at, divergence=r.divergence, message=r.message, error=None)
    except Exception as exc:          # a bug in one run must not crash the sweep: record it, retry it next time
        _as_error(record, f"{type(exc).__name__}: {exc}")
    record["final_metric"] = final_metric(record)
    record["wall_s"] = round(time.perf_counter() - t0, 4)
    return record


def _base_record(spec: RunSpec, task, data_verified) -> dict:
    """The fields every record has before the run starts (what it is, and how its task is scored)."""
    record = {"run_id": spec.run_id, "task": spec.task, "optimizer": spec.optimizer, "label": spec.label,
              "eta0": spec.eta0, "seed": spec.seed, "scale": spec.scale, "protocol": spec.protocol,
              "metric_name": task.metric_name, "role": task.role, "lower_is_better": task.lower_is_better,
              "chance": task.chance, "dtype": task.dtype, "steps_total": task.steps_total,
              "n_params": task.n_params(), "epochs_override": spec.epochs, "versions": versions()}
    if task.official_images:
        record["data_verified"] = data_verified
    return record


def _as_error(record: dict, error: str) -> dict:
    record.update(diverged=False, diverged_at=None, divergence=None, message="", error=error, loss=[], metric=[],
                  eta=[], reference=None)
    for key in ("damping", "damping_setting", "c", "n_blocks"):
        record.setdefault(key, None)
    return record


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


def final_metric(record) -> float:
    """The run's score: the last metric, or the worst possible value if it diverged (inf distance, accuracy 0; on
    a pure-noise task an infinite drift, signed by where the rate was going)."""
    task = TASKS[record["task"]]
    if record["diverged"] or not record["metric"] or record["metric"][-1] is None:
        if task.kind == "null":
            seen = [e for e in record["eta"] if e is not None]
            return math.inf if len(seen) < 2 or seen[-1] >= seen[0] else -math.inf
        return math.inf if task.lower_is_better else 0.0
    return float(record["metric"][-1])


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
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover
        return run()
    with threadpool_limits(1):
        return run()


def _work_on_cluster(spec: RunSpec, data_dir=None, data_verified=None):
    """One run on a dask worker: one BLAS thread, as in the process pool (a worker runs one task at a time)."""
    return _one_thread(lambda: _work(spec, data_dir, data_verified))


EXECUTORS = ("process", "dask")


def run_all(specs, out_dir: str, jobs: int = 1, progress: bool = True, *, executor: str = "process",
            scheduler: str | None = None, data_dir=None, data_verified=None) -> tuple[list[dict], int]:
    """Run every spec whose JSON is not in ``out_dir/runs`` yet (resume), in ``jobs`` worker processes
    (``executor="process"``) or on a dask.distributed cluster (``executor="dask"``: the scheduler at
    ``scheduler``, or a local cluster of ``jobs`` single-threaded worker processes). Finished runs come back to
    this process, which writes each one's JSON, so both executors give the same files.

    Returns the records of all specs (loaded from disk for those already done) and how many were resumed.
    """
    if executor not in EXECUTORS:
        raise ValueError(f"executor must be one of {', '.join(EXECUTORS)}; got {executor!r}")
    if scheduler is not None and executor != "dask":
        raise ValueError("scheduler is for executor='dask'")
    os.makedirs(os.path.join(out_dir, "runs"), exist_ok=True)
    for folder in (out_dir, os.path.join(out_dir, "runs")):
        for stale in remove_stale_temporaries(folder):      # debris of a writer killed by SIGKILL
            print(f"clara_ref reproduce: removed {stale}, a temporary file left by a killed run", file=sys.stderr)
    todo = [s for s in specs if not _usable(_path(out_dir, s), s)]
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(specs), initial=len(specs) - len(todo), unit="run", desc="reproduce",
                   dynamic_ncols=True)
    # Long runs first, so that the workers do not end waiting on one straggler.
    order = sorted(todo, key=lambda s: -_cost(s))
    if executor == "dask" and todo:
        _run_on_dask(order, out_dir, jobs, scheduler, data_dir, data_verified, bar)
    elif jobs <= 1 or len(todo) <= 1:
        for spec in todo:
            _write(_path(out_dir, spec), _one_thread(lambda: run_one(spec, data_dir, data_verified)))
            if bar:
                bar.update(1)
    else:
        pool = WorkerPool(min(jobs, len(todo)), data_dir, data_verified)

        def done(spec, record):
            _write(_path(out_dir, spec), record)
            if (record.get("error") or "").startswith("the worker process running it"):
                print(f"clara_ref reproduce: {spec.run_id}: {record['error']}; recorded as an error, the next run "
                      "computes it again", file=sys.stderr)
            if bar:
                bar.update(1)

        try:
            pool.run(order, done)
        except BaseException:
            pool.close(now=True)        # Ctrl-C or SIGTERM: stop the busy workers now (finished runs are on disk)
            raise
        pool.close()
    if bar:
        bar.close()
    return load_records(out_dir, specs), len(specs) - len(todo)


def _collect(finished, out_dir, bar) -> None:
    """Write each finished run's JSON as it arrives (from either executor's futures)."""
    for fut in finished:
        spec, record = fut.result()
        _write(_path(out_dir, spec), record)
        if bar:
            bar.update(1)


def _run_on_dask(order, out_dir, jobs, scheduler, data_dir, data_verified, bar):
    """Submit every run to a dask.distributed cluster and write each finished one (the ``cluster`` extra)."""
    try:
        import logging

        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise RunFileError("--executor dask needs dask.distributed: pip install 'clara_ref[cluster]'") from None
    cluster = None
    if scheduler is None:
        cluster = LocalCluster(n_workers=max(1, jobs), threads_per_worker=1, processes=True, dashboard_address=None,
                               silence_logs=logging.ERROR)
        client = Client(cluster)
    else:
        try:
            client = Client(scheduler, timeout="30s")
        except OSError as exc:
            raise RunFileError(f"cannot reach the dask scheduler at {scheduler}: {exc}") from None
    futures = []
    try:
        # long runs first, as in the process pool; pure=False: every run is computed, never deduplicated
        futures = [client.submit(_work_on_cluster, spec, data_dir, data_verified, pure=False,
                                 key=f"clara_ref-{spec.run_id}", priority=len(order) - k)
                   for k, spec in enumerate(order)]
        _collect(as_completed(futures), out_dir, bar)
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


#: fields every stored run must have
_REQUIRED = ("run_id", "task", "optimizer", "label", "eta0", "seed", "final_metric", "metric", "eta", "diverged")


def _usable(path, spec: RunSpec) -> bool:
    """Resume a run only from a file that parses, has every field, holds this very spec and did not end in an
    error; any other existing file is reported by name on stderr and the run is computed again."""
    if not os.path.exists(path):
        return False
    if os.path.isdir(path):
        raise RunFileError(f"{path} is a folder where the run's file belongs; move it away and rerun")
    why = None
    try:
        with open(path) as fh:
            record = json.load(fh)
    except (OSError, ValueError) as exc:
        why = f"unreadable ({type(exc).__name__})"
    else:
        expected = {"task": spec.task, "optimizer": spec.optimizer, "label": spec.label, "eta0": spec.eta0,
                    "seed": spec.seed, "scale": spec.scale, "protocol": spec.protocol,
                    "epochs_override": spec.epochs}
        if not isinstance(record, dict) or any(k not in record for k in _REQUIRED):
            why = "not a complete run record"
        elif any(record.get(k, "clara_ref" if k == "protocol" else None) != v for k, v in expected.items()):
            why = "it holds another run's spec"
        elif record.get("error"):
            why = f"it ended with an error ({record['error']})"
    if why is None:
        return True
    print(f"clara_ref reproduce: recomputing {path}: {why}", file=sys.stderr)
    return False


def load_records(out_dir: str, specs) -> list[dict]:
    records = []
    for spec in specs:
        with open(_path(out_dir, spec)) as fh:
            records.append(json.load(fh))
    return records
