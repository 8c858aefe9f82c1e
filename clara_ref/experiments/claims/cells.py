"""Cells: the records grouped by (task, optimizer, initial rate) with each cell's seeds and its reach (how far its
rule can move the rate in its budget, ``clara_ref.rate_control.log_rate_range``); the helpers every claim uses."""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np

from ...rate_control import log_rate_range
from ..grid import TASKS
from .rules import (BENCHMARK_ROLES, CASES, DEFAULT, EXCLUDED_TASKS, FOLLOW_EPOCHS, FOLLOW_STEPS, NOT_AT_BUDGET,
                    NOT_IN_PRESET, TEXTS, ClaimResult, Thresholds)


# ---------------------------------------------------------------------------------------------- cells
class Cells:
    """Final metrics grouped by (task, label, initial rate), one row per cell and one column per seed (NaN-padded),
    with what the claims need to know of each task and of each (task, label)."""

    def __init__(self, keys, values, tasks, labels, final_etas=None, series=None):
        self.keys = list(keys)
        self.index = {k: i for i, k in enumerate(self.keys)}
        self.values = values
        self.tasks = tasks            # task -> dict(role, lower_is_better, chance, initial, steps_total)
        self.labels = labels          # (task, label) -> dict(optimizer, damping, damping_setting, c, reference, ...)
        self.final_etas = final_etas or {}   # (task, label, rate) -> [final eta of each seed]
        # name -> a matrix like ``values`` of another statistic of each run (the drifting tasks: "phase1", the
        # distance at the end of the first phase; "follow", the change of ln eta over FOLLOW_STEPS after the change)
        self.series = series or {}
        self.counts = np.sum(~np.isnan(values), axis=1)
        with np.errstate(invalid="ignore"):
            self.med = np.nanmedian(values, axis=1) if len(keys) else np.zeros(0)
            self.lo = np.nanmin(values, axis=1) if len(keys) else np.zeros(0)
        self.rates_of = defaultdict(list)
        for t, lab, e in self.keys:
            self.rates_of[(t, lab)].append(e)
        for k in self.rates_of:
            self.rates_of[k].sort()

    @classmethod
    def from_records(cls, records) -> "Cells":
        groups = defaultdict(list)
        tasks, labels, initial, etas = {}, {}, defaultdict(list), defaultdict(list)
        seeds_of, phase = defaultdict(set), defaultdict(dict)
        for r in records:
            if r.get("error"):
                continue              # a run that raised is no evidence either way (the report lists it)
            key = (r["task"], r["label"], float(r["eta0"]))
            groups[key].append((r["seed"], float(r["final_metric"])))
            change_at = change_at_of(r)
            if change_at:                 # a drifting task: the statistics of each phase as well
                phase[key][r["seed"]] = _phase_statistics(r, change_at)
            tasks.setdefault(r["task"], dict(role=r["role"], lower_is_better=bool(r["lower_is_better"]),
                                             chance=r.get("chance"), steps_total=int(r["steps_total"]),
                                             n_params=r.get("n_params"), change_at=change_at,
                                             scale=float(r.get("scale", 1.0)), protocol=r.get("protocol", "clara_ref"),
                                             phase_steps=_phase_steps(r, change_at)))
            if r.get("metric") and r["metric"][0] is not None:
                initial[r["task"]].append(float(r["metric"][0]))
            seen = [e for e in r.get("eta") or [] if e is not None]
            if seen and not r.get("diverged"):
                etas[key].append((r["seed"], float(seen[-1])))
            seeds_of[r["task"]].add(r["seed"])
            labels.setdefault((r["task"], r["label"]), dict(
                optimizer=r.get("optimizer", r["label"]), damping=r.get("damping"),
                damping_setting=r.get("damping_setting"), c=r.get("c"), reference=r.get("reference"),
                n_blocks=r.get("n_blocks")))
        for t in tasks:
            tasks[t]["initial"] = float(np.median(initial[t])) if initial[t] else math.nan
            tasks[t]["seeds"] = tuple(sorted(seeds_of[t]))
        keys = sorted(groups, key=lambda k: (k[0], k[1], k[2]))
        width = max((len(v) for v in groups.values()), default=0)
        values = np.full((len(keys), width), np.nan)
        for i, k in enumerate(keys):
            vals = [v for _, v in sorted(groups[k])]
            values[i, :len(vals)] = vals
        final_etas = {k: [e for _, e in sorted(v)] for k, v in etas.items()}
        series = {}
        if phase:
            for j, name in enumerate(("phase1", "follow")):
                m = np.full((len(keys), width), np.nan)
                for i, k in enumerate(keys):
                    vals = [v[j] for _, v in sorted(phase[k].items())]
                    m[i, :len(vals)] = vals
                series[name] = m
        return cls(keys, values, tasks, labels, final_etas, series)

    def resample(self, rng: np.random.Generator) -> "Cells":
        """A seed-bootstrap copy: every cell redraws its own seeds with replacement."""
        n, width = self.values.shape
        draw = np.floor(rng.random((n, width)) * self.counts[:, None]).astype(int)
        new = np.take_along_axis(self.values, draw, axis=1)
        beyond = np.arange(width)[None, :] >= self.counts[:, None]
        new[beyond] = np.nan
        series = {}
        for name, m in self.series.items():          # the same seeds drawn: a run's statistics stay together
            series[name] = np.take_along_axis(m, draw, axis=1)
            series[name][beyond] = np.nan
        return Cells(self.keys, new, self.tasks, self.labels, self.final_etas, series)

    # -- look-ups
    def has(self, task, label) -> bool:
        return (task, label) in self.rates_of

    def median(self, task, label, rate) -> float:
        return float(self.med[self.index[(task, label, rate)]])

    def series_median(self, name, task, label, rate) -> float:
        """The median over seeds of another statistic of the runs (``series``: "phase1", "follow")."""
        row = self.series[name][self.index[(task, label, rate)]]
        row = row[~np.isnan(row)]
        return float(np.median(row)) if len(row) else math.nan

    def worst(self, task, label, rate) -> float:
        """The worst seed (lowest accuracy; classification tasks only)."""
        return float(self.lo[self.index[(task, label, rate)]])

    def row(self, task, label, rate) -> np.ndarray:
        """The final metric of every seed of a cell."""
        row = self.values[self.index[(task, label, rate)]]
        return row[~np.isnan(row)]

    def spread(self, task, label, rate) -> float:
        row = self.row(task, label, rate)
        return float(row.max() - row.min())

    def claim_tasks(self, kinds=BENCHMARK_ROLES) -> list:
        """Tasks a claim counts, in a stable order: ``kinds`` filters by role ("synthetic", "tabular", "image",
        "null"; the pure-noise tasks count for C0 only)."""
        return [t for t in sorted(self.tasks) if t not in EXCLUDED_TASKS and self.tasks[t]["role"] in kinds]

    def common_rates(self, task, a, b) -> list:
        return sorted(set(self.rates_of[(task, a)]) & set(self.rates_of[(task, b)]))

    def better(self, task, a: float, b: float, th: "Thresholds" = DEFAULT) -> bool:
        """Is the median ``a`` better than ``b`` by more than the noise margin of the task's metric?"""
        if self.tasks[task]["lower_is_better"]:
            if math.isinf(a):
                return False
            return math.isinf(b) or a < b * (1.0 - th.rel_margin)
        return a > b + th.acc_margin

    def success(self, task, label, rate, th: "Thresholds" = DEFAULT) -> bool:
        """Did this cell succeed? Synthetic: median distance <= 1% of the start; else >= 90% of the task's best."""
        m = self.median(task, label, rate)
        info = self.tasks[task]
        if info["lower_is_better"]:
            return m <= th.success_distance * info["initial"]
        return m >= th.success_accuracy * self.best(task)

    def best(self, task) -> float:
        rows = [i for i, k in enumerate(self.keys) if k[0] == task]
        return float(np.max(self.med[rows]))

    def budget(self, task, per_phase: bool = False) -> int:
        """The task's steps: all of them, or (``per_phase``, a drifting task) those of its shorter phase."""
        return self.tasks[task]["phase_steps"] if per_phase and self.tasks[task]["change_at"] else \
            self.tasks[task]["steps_total"]

    def log_up(self, task, label, per_phase: bool = False) -> float | None:
        """log of the largest factor by which this label's rate can rise over the task's budget (``per_phase``:
        over its shorter phase; None: no rule)."""
        info = self.labels.get((task, label), {})
        return log_rate_range(info.get("damping"), info.get("reference"), info.get("n_blocks"),
                              self.budget(task, per_phase))

    def reach(self, task, label, per_phase: bool = False) -> float | None:
        """log of the largest factor by which this label's rule can move its rate, up or down, over the task's
        budget (``per_phase``: its shorter phase): max(d (K/ref - 1), d) T (None: no path rule, so the rate cannot
        move at all)."""
        up = self.log_up(task, label, per_phase)
        if up is None:
            return None
        down = float(self.labels[(task, label)]["damping"]) * self.budget(task, per_phase)
        return max(up, down)

    def can_act(self, task, label, factor: float, per_phase: bool = False) -> bool:
        """Can this label's rule move its rate by at least ``factor`` in the budget (``per_phase``: in each phase)?"""
        r = self.reach(task, label, per_phase)
        return r is not None and r >= math.log(factor)

    def variant(self, task, label) -> str:
        """The optimizer of a label (a sweep's label adds its d and c, which the records carry as fields)."""
        return self.labels.get((task, label), {}).get("optimizer", label)


class _Reach:
    """The cells a claim leaves out because the rule under test cannot move its rate by the claim's factor."""

    def __init__(self, cells: Cells, claim: str, th: Thresholds, per_phase: bool = False):
        self.cells, self.factor, self.left_out, self.per_phase = cells, th.min_reach(claim), {}, per_phase

    def ok(self, task, label) -> bool:
        if self.cells.can_act(task, label, self.factor, self.per_phase):
            return True
        r, steps = self.cells.reach(task, label, self.per_phase), self.cells.budget(task, self.per_phase)
        where = "in each phase of" if self.per_phase and self.cells.tasks[task]["change_at"] else "in"
        self.left_out[(task, label)] = dict(
            task=task, label=label, reach=None if r is None else math.exp(min(r, 700.0)), needed=self.factor,
            steps=steps,
            why="no path rule" if r is None else f"the rate can move at most {math.exp(min(r, 700.0)):.3g}x {where} "
            f"{steps:,} steps, less than the {self.factor:g}x this claim needs")
        return False

    def listing(self) -> list:
        return [self.left_out[k] for k in sorted(self.left_out)]


def change_at_of(record) -> int:
    """Where the record's task changes (its first step or epoch of phase 2; 0: a stationary task), at the record's
    scale (a shortened task changes earlier, ``grid.Task.scaled``)."""
    task = TASKS.get(record["task"])
    if task is None or not task.change_at:
        return 0
    scale = record.get("scale", 1.0)
    return task.change_at if scale == 1.0 else task.scaled(scale).change_at


def _phase_steps(record, change_at) -> int:
    """The optimizer steps of a drifting task's shorter phase (0: a stationary task). A task counted in epochs
    changes at an epoch: its phases are whole epochs of steps_total / epochs steps."""
    if not change_at:
        return 0
    units = record.get("steps") or record.get("epochs") or int(record["steps_total"])
    per_unit = int(record["steps_total"]) // units
    return per_unit * min(change_at - 1, units - change_at + 1)


def _phase_statistics(record, change_at) -> tuple:
    """(the metric at the end of phase 1, the change of ln eta over the FOLLOW_STEPS steps, or FOLLOW_EPOCHS epochs,
    after the change) of a drifting task's run: the worst value and NaN where the run had diverged before."""
    metric, eta = record.get("metric") or [], record.get("eta") or []
    k = change_at - 1
    worst = math.inf if record["lower_is_better"] else -math.inf
    first = metric[k] if k < len(metric) and metric[k] is not None else worst
    j = k + (FOLLOW_EPOCHS if record.get("unit") == "epoch" else FOLLOW_STEPS)
    ok = j < len(eta) and eta[j] is not None and eta[k] is not None and eta[j] > 0 and eta[k] > 0
    return float(first), (math.log(eta[j]) - math.log(eta[k])) if ok else math.nan


def _share(wins, losses, empty=math.nan) -> float:
    return wins / (wins + losses) if wins + losses else empty


def _by_share(share, th: Thresholds) -> str:
    return "supported" if share >= th.support_share else "not supported" if share <= th.reject_share else "mixed"


def _result(cid, verdict, numbers, margin, th: Thresholds, case="decided", outcomes=None) -> ClaimResult:
    if case not in CASES:
        raise ValueError(f"case must be one of {CASES}, got {case!r}")
    return ClaimResult(cid, TEXTS[cid], verdict, numbers, None if margin is None else float(margin), None, case,
                       outcomes or {}, thresholds=th)


def _absent(cid, th: Thresholds, numbers=None) -> ClaimResult:
    """The preset lacks the runs this claim needs (the report's sentence says which)."""
    return _result(cid, NOT_IN_PRESET, numbers or {}, None, th, "absent")


def _unreachable(cid, reach: _Reach, th: Thresholds, numbers=None) -> ClaimResult:
    """The runs exist, but no cell's rule can move its rate by the claim's factor within the budget."""
    numbers = dict(numbers or {}, not_evaluable=reach.listing())
    return _result(cid, NOT_AT_BUDGET, numbers, None, th, "unreachable")


def _cell(task, label, rate) -> tuple:
    return (task, label, float(rate))
