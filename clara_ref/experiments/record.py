"""The one schema of a stored run: :class:`RunRecord`.

The runner writes every run's JSON through :meth:`RunRecord.from_dict` (so it cannot write a record that breaks the
schema), and ``reproduce`` resumes a run from its file only when :func:`validate` finds nothing wrong with it: every
field of the right type, every number that must be finite finite, the curves of equal and consistent length, the
run id equal to the file's name and the final metric equal to the one the curves give. A file that fails is named
on stderr with the first thing wrong and its run is computed again, so a hand-edited or damaged run file can change
neither summary.csv nor claims.json.

Stored JSON keeps non-finite curve points as ``null``; the only infinities a valid record holds are a diverged run's
``final_metric`` (the worst value, see :func:`final_metric`)."""

from __future__ import annotations

import dataclasses
import math
import os
from collections import defaultdict

from .grid import TASKS

__all__ = ["RunRecord", "RunRecordError", "validate", "final_metric", "read_run_file", "MAX_RUN_FILE_BYTES",
           "NotRegular", "MISSING", "identical_tasks"]

#: a run file larger than this is not read (the largest real one, a 1000-step run, is about 70 kB)
MAX_RUN_FILE_BYTES = 64 * 2**20


class RunRecordError(ValueError):
    """A stored run breaks the schema; the message says which field and how."""


# ----------------------------------------------------------------------------------------------------------------
# value checks: each returns None when ``v`` is acceptable, else a few words saying what it must be


def _real(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _str(v):
    return None if isinstance(v, str) else "a string"


def _text(v):
    return None if isinstance(v, str) and v else "a non-empty string"


def _bool(v):
    return None if isinstance(v, bool) else "true or false"


def _count(v):
    return None if isinstance(v, int) and not isinstance(v, bool) and v >= 0 else "a non-negative integer"


def _positive_count(v):
    return None if isinstance(v, int) and not isinstance(v, bool) and v >= 1 else "a positive integer"


def _finite(v):
    return None if _real(v) and math.isfinite(v) else "a finite number"


def _positive(v):
    return None if _real(v) and math.isfinite(v) and v > 0 else "a finite positive number"


def _nonnegative(v):
    return None if _real(v) and math.isfinite(v) and v >= 0 else "a finite non-negative number"


def _score(v):
    return None if _real(v) and not math.isnan(v) else "a number (infinite only for a diverged run)"


def _optional(check):
    def f(v):
        return None if v is None else check(v)
    f.__name__ = f"optional{check.__name__}"
    return f


def _damping_setting(v):
    return None if v is None or v == "auto" or _positive(v) is None else "null, \"auto\" or a finite positive number"


def _curve(v):
    if not isinstance(v, list):
        return "a list of finite numbers or nulls"
    bad = next((k for k, x in enumerate(v) if x is not None and _finite(x) is not None), None)
    return None if bad is None else f"a list of finite numbers or nulls (entry {bad} is {v[bad]!r})"


def _versions(v):
    ok = isinstance(v, dict) and v and all(isinstance(k, str) and isinstance(x, str) for k, x in v.items())
    return None if ok else "an object of package names and version strings"


def _scalar(x):
    """A hyperparameter: null, a string, a boolean or a number that is not NaN (D-Adaptation's default growth rate
    is inf)."""
    return x is None or isinstance(x, (str, bool)) or (_real(x) and not math.isnan(x))


def _config(v):
    if not isinstance(v, dict) or not isinstance(v.get("method"), str):
        return "an object with the method's name (\"method\") and its hyperparameters"
    for k, x in v.items():
        if not (_scalar(x) or (isinstance(x, list) and all(_scalar(y) for y in x))):
            return f"an object of hyperparameters that are numbers (not NaN), strings or lists of them ({k!r} is not)"
    return None


# ----------------------------------------------------------------------------------------------------------------
# the schema

_CHECKS = {
    "run_id": _text, "task": _text, "optimizer": _text, "label": _text, "eta0": _positive, "seed": _count,
    "scale": _positive, "protocol": _text, "metric_name": _text, "role": _text, "lower_is_better": _bool,
    "chance": _optional(_finite), "dtype": _text, "steps_total": _positive_count, "n_params": _positive_count,
    "epochs_override": _optional(_positive_count), "versions": _versions, "data_verified": _optional(_bool),
    "engine": _optional(_text), "device": _optional(_text),
    "damping_setting": _damping_setting, "damping": _optional(_positive), "c": _optional(_positive),
    "n_blocks": _optional(_positive_count), "config": _optional(_config), "unit": _optional(_text),
    "steps": _optional(_positive_count), "epochs": _optional(_positive_count),
    "batch_size": _optional(_positive_count), "loss": _curve, "metric": _curve, "eta": _curve,
    "first_task_metric": _optional(_finite),
    "reference": _optional(_positive), "diverged": _bool, "diverged_at": _optional(_count),
    "divergence": _optional(_text), "message": _str, "error": _optional(_text), "final_metric": _score,
    "wall_s": _nonnegative,
}

#: fields that only some records have: data_verified, engine and device (tasks on the official image files: which
#: engine trained it, "numpy" or "torch", on which device); config and unit with the
#: step or epoch fields (every run that did not end in an error); first_task_metric (tasks in sequence: the accuracy
#: on the first task at the end, null when the run diverged)
_OPTIONAL = {"data_verified", "engine", "device", "config", "unit", "steps", "epochs", "batch_size",
             "first_task_metric"}


@dataclasses.dataclass(frozen=True, kw_only=True)
class RunRecord:
    """One run as stored in ``runs/<run_id>.json``: what ran (the spec's fields and the optimizer's ``config``), how
    its task is scored (``metric_name``, ``role``, ``lower_is_better``, ``chance``), the curves (``loss``,
    ``metric``, ``eta``: one point per step or epoch from the start, ``null`` where not finite), how it ended
    (``diverged`` with ``diverged_at`` and ``divergence``, or ``error``) and its score ``final_metric``. The
    fields are in the order the file stores them."""

    run_id: str
    task: str
    optimizer: str
    label: str
    eta0: float
    seed: int
    scale: float
    protocol: str
    metric_name: str
    role: str
    lower_is_better: bool
    chance: float | None
    dtype: str
    steps_total: int
    n_params: int
    epochs_override: int | None
    versions: dict
    data_verified: bool | None = None
    engine: str | None = None
    device: str | None = None
    damping_setting: object
    damping: float | None
    c: float | None
    n_blocks: int | None
    config: dict | None = None
    unit: str | None = None
    steps: int | None = None
    epochs: int | None = None
    batch_size: int | None = None
    loss: list
    metric: list
    eta: list
    first_task_metric: float | None = None
    reference: float | None
    diverged: bool
    diverged_at: int | None
    divergence: str | None
    message: str
    error: str | None
    final_metric: float
    wall_s: float

    @classmethod
    def from_dict(cls, record: dict, *, run_id: str | None = None) -> RunRecord:
        """The record of a JSON object; :class:`RunRecordError` naming the first field that breaks the schema
        (``run_id``: the name the record must carry, its file's)."""
        problem = validate(record, run_id=run_id)
        if problem:
            raise RunRecordError(problem)
        return cls(**record)

    def to_dict(self) -> dict:
        """The JSON object to store: every field, less the optional ones this record does not have (they are None:
        a run that ended in an error before it started has no config nor unit; only the tasks on the official
        image files record data_verified, and every finished run of a task in sequence first_task_metric)."""
        task = TASKS[self.task]
        keep = ({"data_verified", "engine", "device"} if task.official_images else set()) | \
            ({"first_task_metric"} if task.sequence and self.error is None else set())
        return {k: v for k, v in dataclasses.asdict(self).items()
                if not (k in _OPTIONAL and v is None and k not in keep)}


def validate(record, *, run_id: str | None = None) -> str | None:
    """The first way ``record`` breaks the schema of :class:`RunRecord`, in words, or None when it keeps it."""
    if not isinstance(record, dict):
        return f"a run record is a JSON object, not {type(record).__name__}"
    for name, check in _CHECKS.items():
        if name not in record:
            if name in _OPTIONAL:
                continue
            return f"the field {name!r} is missing"
        value = record[name]
        what = check(value)
        if what:
            shown = "" if isinstance(value, (list, dict)) and "(" in what else f"; it is {_short(value)}"
            return f"{name} must be {what}{shown}"
    unknown = sorted(set(record) - set(_CHECKS))
    if unknown:
        return f"unknown field {unknown[0]!r} (a record of another version?)"
    if run_id is not None and record["run_id"] != run_id:
        return f"run_id {record['run_id']!r} is not its file's name {run_id!r}"
    if record["task"] not in TASKS:
        return f"task {record['task']!r} is not a task of this version"
    return _consistent(record)


def _consistent(r) -> str | None:
    """The checks that read several fields together."""
    lengths = {len(r["loss"]), len(r["metric"]), len(r["eta"])}
    if r["error"] is not None:
        if lengths != {0} or r["diverged"]:
            return "a run that ended in an error has empty curves and did not diverge"
    else:
        unit = r.get("unit")
        count = {"step": "steps", "epoch": "epochs"}.get(unit)
        if count is None or r.get("config") is None:
            return f"a finished run has a config and a unit of 'step' or 'epoch' (unit is {_short(unit)})"
        if r.get(count) is None or (unit == "epoch" and r.get("batch_size") is None):
            return f"a run counted in {unit}s records its {count}" + (" and batch_size" if unit == "epoch" else "")
        n = r[count]
        if len(lengths) != 1:
            return f"loss, metric and eta have different lengths ({len(r['loss'])}, {len(r['metric'])}, " \
                   f"{len(r['eta'])})"
        length = lengths.pop()
        if r["diverged"]:
            if not 1 <= length <= n + 1:
                return f"a diverged run's curves have 1 to {n + 1} points ({count} + 1); they have {length}"
            if r["diverged_at"] is None or r["diverged_at"] > n or r["divergence"] is None:
                return f"a diverged run records diverged_at (at most {n}) and its divergence"
        else:
            if length != n + 1:
                return f"the curves of a run that did not diverge have {count} + 1 = {n + 1} points; they have {length}"
            if r["diverged_at"] is not None or r["divergence"] is not None:
                return "a run that did not diverge has no diverged_at nor divergence"
    in_sequence = bool(TASKS[r["task"]].sequence) and r["error"] is None
    if ("first_task_metric" in r) != in_sequence:
        return ("a finished run of a task in sequence records first_task_metric (null when it diverged), and no other "
                "run does")
    if in_sequence and (r["first_task_metric"] is None) != r["diverged"]:
        return "first_task_metric is null exactly when the run diverged"
    expected = final_metric(r)
    if not (r["final_metric"] == expected):
        return f"final_metric is {r['final_metric']!r} but the curves give {expected!r}"
    return None


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


def _short(v) -> str:
    text = repr(v)
    return text if len(text) <= 60 else text[:57] + "..."


class NotRegular(str):
    """The reason a run file is not resumed when it is not a regular file (a FIFO, folder, device or socket): the
    sweep names it and leaves it alone, never reads or replaces it. A ``str``, so it prints like any reason."""


#: the reason for a run file that does not exist yet
MISSING = "missing"


def read_run_file(path: str, run_id: str) -> tuple[dict | None, str | None]:
    """(the record, None) from the run file at ``path`` when it is a regular file that parses and validates, else
    (None, why not). Never opens anything but a regular file (a FIFO would block the reader for ever), never reads
    more than :data:`MAX_RUN_FILE_BYTES`, and a nesting too deep to parse is a reason, not a crash."""
    import json
    import stat

    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return None, MISSING
    except OSError as exc:
        return None, f"cannot be examined ({exc.strerror or exc})"
    if not stat.S_ISREG(mode):
        kind = ("a folder" if stat.S_ISDIR(mode) else "a FIFO" if stat.S_ISFIFO(mode) else
                "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "a socket" if stat.S_ISSOCK(mode) else
                "not a regular file")
        return None, NotRegular(f"it is {kind}, not a regular file")
    try:
        # O_NONBLOCK: if something replaced the file by a FIFO since the stat, opening it does not wait for a writer
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                return None, NotRegular("it is not a regular file")
            raw = fh.read(MAX_RUN_FILE_BYTES + 1)
    except OSError as exc:
        return None, f"unreadable ({exc.strerror or exc})"
    if len(raw) > MAX_RUN_FILE_BYTES:
        return None, f"larger than {MAX_RUN_FILE_BYTES} bytes"
    try:
        record = json.loads(raw.decode("utf-8"))
    except RecursionError:
        return None, "unreadable (nested too deeply)"
    except ValueError as exc:
        return None, f"unreadable ({type(exc).__name__})"
    try:
        problem = validate(record, run_id=run_id)
    except RecursionError:
        return None, "nested too deeply"
    return (record, None) if problem is None else (None, problem)


# ----------------------------------------------------------------------------------------------------------------
# a check over many records

def identical_tasks(records, rtol: float = 1e-6) -> list[tuple]:
    """Pairs of tasks on which an optimizer gave the same metric curves (to relative ``rtol``) in every common
    (label, rate, seed): duplicated evidence that a claim would count twice. Returns (task_a, task_b, label).

    Whole curves are compared, not final values, so two runs that merely both diverged do not match. The default
    tolerance separates real duplicates (Adam on the sphere and the axis-aligned ellipsoid differ only through
    eps = 1e-8 against sqrt(v_hat), relative 1e-8 or less) from different tasks (different from the first step).
    Pure-noise tasks are left out: their gradients ignore theta, so their curves say nothing about a task.
    """
    by = defaultdict(dict)
    for r in records:
        if r.get("role") == "null":
            continue
        by[(r["task"], r["label"])][(float(r["eta0"]), r["seed"])] = r.get("metric") or []
    out = []
    tasks = sorted({t for t, _ in by})
    for i, a in enumerate(tasks):
        for b in tasks[i + 1:]:
            for lab in sorted({lab for t, lab in by if t == a} & {lab for t, lab in by if t == b}):
                ra, rb = by[(a, lab)], by[(b, lab)]
                common = set(ra) & set(rb)
                if common and all(_same_curve(ra[k], rb[k], rtol) for k in common):
                    out.append((a, b, lab))
    return out


def _same_curve(x, y, rtol) -> bool:
    if len(x) != len(y) or not x:
        return False
    for u, v in zip(x, y):
        if u is None or v is None:
            if u is not v:
                return False
        elif abs(u - v) > rtol * max(abs(u), abs(v)):
            return False
    return True
