"""The drifting tasks in the report (preset ``drift``): the ideal rate of each phase and each method's metric at the
end of each phase (``figures`` draws, per task, the rates over time against the ideal rates, with the change
marked).

The ideal rate of a phase (``clara_ref.phases.ideal_rates``, ``ideal_rates_in_sequence`` for the tasks in sequence)
is measured here for SGD and for Adam over the rates and seeds of the records: each phase run on its own at every
rate of the grid, the second from where the best run of the first ended. A method's row in the tables is its best
initial rate by the median final metric (each method tuned once for the whole run, as a practitioner would tune
it), with its median metric (the distance, or the accuracy on the current task) at the end of phase 1 (step or
epoch change_at - 1) and at the end of the run, and for a task in sequence the accuracy on the first task at the
end.
"""

from __future__ import annotations

import math

import numpy as np

from .claims import Cells
from .claims.beyond import _best_of, ideal
from .grid import TASKS
from .optimizers import OPTIMIZERS

__all__ = ["drift_tasks", "task_of", "ideal", "ideal_for", "tuned_rows", "drift_section"]


def drift_tasks(records) -> list:
    """The drifting tasks among the records, in the task table's order."""
    present = {r["task"] for r in records}
    return [t for t in TASKS if t in present and TASKS[t].change_at]


def task_of(records, task_name):
    """The task as its records ran it (shortened to their scale, ``grid.Task.scaled``)."""
    scale = next((float(r.get("scale", 1.0)) for r in records if r["task"] == task_name), 1.0)
    return TASKS[task_name] if scale == 1.0 else TASKS[task_name].scaled(scale)


def ideal_for(records, task_name) -> dict:
    """The task's ideal rates (``claims.beyond.ideal``) over the rates and seeds its records ran."""
    recs = [r for r in records if r["task"] == task_name and not r.get("error")]
    return ideal(task_name, tuple(sorted({float(r["eta0"]) for r in recs})), tuple(sorted({r["seed"] for r in recs})),
                 float(recs[0].get("scale", 1.0)), recs[0].get("protocol", "clara_ref"))


def tuned_rows(records, task_name) -> list:
    """Per label: its best initial rate by the median final distance (the cells C6 reads, ``claims.beyond``), the
    medians at the end of each phase, and the runs at that rate."""
    recs = [r for r in records if r["task"] == task_name and not r.get("error")]
    cells = Cells.from_records(recs)
    rows = []
    for label in sorted({r["label"] for r in recs}, key=lambda lab: list(OPTIMIZERS).index(lab)
                        if lab in OPTIMIZERS else len(OPTIMIZERS)):
        _, rate, final = _best_of(cells, task_name, [label])
        runs = [r for r in recs if r["label"] == label and float(r["eta0"]) == rate]
        firsts = [r["first_task_metric"] for r in runs if r.get("first_task_metric") is not None]
        rows.append(dict(label=label, rate=rate, final=final,
                         phase1=cells.series_median("phase1", task_name, label, rate), runs=runs,
                         first_task=float(np.median(firsts)) if firsts else math.nan))
    return rows


def _num(x) -> str:
    return "diverged" if math.isinf(x) else "-" if math.isnan(x) else f"{x:.3g}"


def drift_section(records, figures) -> list[str]:
    """The report's section on the drifting tasks (empty when the records hold none)."""
    tasks = drift_tasks(records)
    if not tasks:
        return []
    lines = ["## When the ideal rate changes (beyond the paper)", "",
             "Each synthetic task changes at step `change_at` (the curvature, the optimum or the noise; "
             "`clara_ref.objectives.drifting`); each task in sequence trains the digits MLP on digits, then from "
             "epoch `change_at` on a second task made from it (the pixels or the labels permuted, "
             "`clara_ref.data.permuted`). The ideal rate of a phase is the best fixed rate of the grid for "
             "that phase run on its own, the second phase from where the best run of the first ended "
             "(`clara_ref.phases.ideal_rates` and `ideal_rates_in_sequence`, same rates and seeds as these runs):",
             "", "| task | change at | SGD: ideal rate, phase 1 -> 2 | Adam: ideal rate, phase 1 -> 2 |",
             "|---|---|---|---|"]
    for t in tasks:
        best = ideal_for(records, t)
        unit = "epoch" if TASKS[t].sequence else "step"
        lines.append(f"| {t} | {unit} {task_of(records, t).change_at:,} | " + " | ".join(
            f"{best[b][0].rate:g} -> {best[b][1].rate:g}" for b in ("sgd", "adam")) + " |")
    lines += ["", "Each method at its best initial rate (tuned once for the whole run, by the median final metric): "
              "the median distance to the current optimum (the synthetic tasks) or the median test accuracy on the "
              "current task (the tasks in sequence, with the accuracy on the first task at the end beside it) at "
              "the end of phase 1 and at the end of the run.", ""]
    for t in tasks:
        lines += [f"### {t}", ""]
        if f"drift_{t}.png" in figures:
            lines += [f"![rates against the ideal rates](drift_{t}.png)", ""]
        rows = tuned_rows(records, t)
        if TASKS[t].sequence:
            lines += ["| optimizer | best initial rate | accuracy, end of phase 1 | accuracy on task 2, end of run | "
                      "accuracy on task 1, end of run |", "|---|---|---|---|---|"]
            lines += [f"| {row['label']} | {row['rate']:g} | {_num(row['phase1'])} | {_num(row['final'])} | "
                      f"{_num(row['first_task'])} |" for row in rows]
        else:
            lines += ["| optimizer | best initial rate | distance, end of phase 1 | distance, end of run |",
                      "|---|---|---|---|"]
            lines += [f"| {row['label']} | {row['rate']:g} | {_num(row['phase1'])} | {_num(row['final'])} |"
                      for row in rows]
        lines.append("")
    return lines
