"""The drifting tasks in the report (preset ``drift``): the ideal rate of each phase and each method's distance at the
end of each phase (``figures`` draws, per task, the rates over time against the ideal rates, with the change
marked).

The ideal rate of a phase (``clara_ref.phases.ideal_rates``) is measured here for SGD and for Adam over the rates
and seeds of the records: each phase run on its own at every rate of the grid, the second from where the best run
of the first ended. A method's row in the tables is its best initial rate by the median final distance (each
method tuned once for the whole run, as a practitioner would tune it), with its median distance at the end of
phase 1 (step change_at - 1) and at the end of the run.
"""

from __future__ import annotations

import math

from .claims import Cells
from .claims.beyond import _best_of, ideal
from .grid import TASKS
from .optimizers import OPTIMIZERS

__all__ = ["drift_tasks", "ideal", "ideal_for", "tuned_rows", "drift_section"]


def drift_tasks(records) -> list:
    """The drifting tasks among the records, in the task table's order."""
    present = {r["task"] for r in records}
    return [t for t in TASKS if t in present and TASKS[t].change_at]


def ideal_for(records, task_name) -> dict:
    """The task's ideal rates (``claims.beyond.ideal``) over the rates and seeds its records ran."""
    recs = [r for r in records if r["task"] == task_name]
    return ideal(task_name, tuple(sorted({float(r["eta0"]) for r in recs})), tuple(sorted({r["seed"] for r in recs})))


def tuned_rows(records, task_name) -> list:
    """Per label: its best initial rate by the median final distance (the cells C6 reads, ``claims.beyond``), the
    medians at the end of each phase, and the runs at that rate."""
    recs = [r for r in records if r["task"] == task_name and not r.get("error")]
    cells = Cells.from_records(recs)
    rows = []
    for label in sorted({r["label"] for r in recs}, key=lambda lab: list(OPTIMIZERS).index(lab)
                        if lab in OPTIMIZERS else len(OPTIMIZERS)):
        _, rate, final = _best_of(cells, task_name, [label])
        rows.append(dict(label=label, rate=rate, final=final,
                         phase1=cells.series_median("phase1", task_name, label, rate),
                         runs=[r for r in recs if r["label"] == label and float(r["eta0"]) == rate]))
    return rows


def _num(x) -> str:
    return "diverged" if math.isinf(x) else f"{x:.3g}"


def drift_section(records, figures) -> list[str]:
    """The report's section on the drifting tasks (empty when the records hold none)."""
    tasks = drift_tasks(records)
    if not tasks:
        return []
    lines = ["## When the ideal rate changes (beyond the paper)", "",
             "Each task changes at step `change_at` (the curvature, the optimum or the noise; "
             "`clara_ref.objectives.drifting`). The ideal rate of a phase is the best fixed rate of the grid for "
             "that phase run on its own, the second phase from where the best run of the first ended "
             "(`clara_ref.phases.ideal_rates`, same rates and seeds as these runs):", "",
             "| task | change at step | SGD: ideal rate, phase 1 -> 2 | Adam: ideal rate, phase 1 -> 2 |",
             "|---|---|---|---|"]
    for t in tasks:
        best = ideal_for(records, t)
        lines.append(f"| {t} | {TASKS[t].change_at:,} | " + " | ".join(
            f"{best[b][0].rate:g} -> {best[b][1].rate:g}" for b in ("sgd", "adam")) + " |")
    lines += ["", "Each method at its best initial rate (tuned once for the whole run, by the median final distance): "
              "the median distance to the current optimum at the end of phase 1 and at the end of the run.", ""]
    for t in tasks:
        lines += [f"### {t}", ""]
        if f"drift_{t}.png" in figures:
            lines += [f"![rates against the ideal rates](drift_{t}.png)", ""]
        lines += ["| optimizer | best initial rate | distance, end of phase 1 | distance, end of run |",
                  "|---|---|---|---|"]
        for row in tuned_rows(records, t):
            lines.append(f"| {row['label']} | {row['rate']:g} | {_num(row['phase1'])} | {_num(row['final'])} |")
        lines.append("")
    return lines
