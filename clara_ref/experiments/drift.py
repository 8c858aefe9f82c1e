"""The drifting tasks in the report (preset ``drift``): the ideal rate of each phase, each method's distance at the
end of each phase, and per task a figure of the rates over time against the ideal rates, with the change marked.

The ideal rate of a phase (``clara_ref.phases.ideal_rates``) is measured here for SGD and for Adam over the rates
and seeds of the records: each phase run on its own at every rate of the grid, the second from where the best run
of the first ended. A method's row in the tables is its best initial rate by the median final distance (each
method tuned once for the whole run, as a practitioner would tune it), with its median distance at the end of
phase 1 (step change_at - 1) and at the end of the run.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from ..constant import adam, sgd
from ..phases import ideal_rates
from .grid import TASKS
from .optimizers import OPTIMIZERS

__all__ = ["drift_tasks", "ideal", "tuned_rows", "drift_section", "drift_figure"]

_BASES = {"sgd": sgd, "adam": adam}


def drift_tasks(records) -> list:
    """The drifting tasks among the records, in the task table's order."""
    present = {r["task"] for r in records}
    return [t for t in TASKS if t in present and TASKS[t].change_at]


@lru_cache(maxsize=64)
def ideal(task_name: str, rates: tuple, seeds: tuple) -> dict:
    """{base: (phase 1, phase 2)} ideal rates (``PhaseIdeal``) of the task for SGD and Adam."""
    task = TASKS[task_name]
    return {base: tuple(ideal_rates(task.objective_of(), make, rates, steps=task.steps, seeds=seeds))
            for base, make in _BASES.items()}


def _ideal_for(records, task_name) -> dict:
    recs = [r for r in records if r["task"] == task_name]
    return ideal(task_name, tuple(sorted({float(r["eta0"]) for r in recs})), tuple(sorted({r["seed"] for r in recs})))


def _phase_end(record, change_at) -> float:
    """The distance at the end of phase 1 (after update change_at - 1); inf when the run diverged before."""
    metric = record.get("metric") or []
    k = change_at - 1
    if k >= len(metric) or metric[k] is None:
        return math.inf
    return float(metric[k])


def tuned_rows(records, task_name) -> list:
    """Per label: its best initial rate by the median final distance, and the medians at the end of each phase."""
    task = TASKS[task_name]
    recs = [r for r in records if r["task"] == task_name and not r.get("error")]
    rows = []
    for label in sorted({r["label"] for r in recs}, key=lambda lab: list(OPTIMIZERS).index(lab)
                        if lab in OPTIMIZERS else len(OPTIMIZERS)):
        best = None
        for e in sorted({r["eta0"] for r in recs if r["label"] == label}):
            runs = [r for r in recs if r["label"] == label and r["eta0"] == e]
            final = float(np.median([math.inf if r["diverged"] else r["final_metric"] for r in runs]))
            first = float(np.median([_phase_end(r, task.change_at) for r in runs]))
            if best is None or final < best["final"]:
                best = dict(label=label, rate=e, phase1=first, final=final, runs=runs)
        rows.append(best)
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
        best = _ideal_for(records, t)
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


def drift_figure(plt, task_name, records, out_dir, save) -> str:
    """drift_<task>.png: for the SGD and the Adam family, each method at its best initial rate, the rate over time
    (median and inter-quartile band over seeds) against the ideal fixed rate of each phase, and the distance over
    time; the change is marked."""
    task = TASKS[task_name]
    rows = {row["label"]: row for row in tuned_rows(records, task_name)}
    best = _ideal_for(records, task_name)
    fig, axes = plt.subplots(2, 2, figsize=(11, 7.5), squeeze=False)
    for i, base in enumerate(("sgd", "adam")):
        family = [lab for lab in rows if lab in OPTIMIZERS and (OPTIMIZERS[lab].base == base or
                                                                 (base == "adam" and OPTIMIZERS[lab].base is None))]
        for label in family:
            runs = [r for r in rows[label]["runs"] if r.get("eta") and r.get("metric")]
            if not runs:
                continue
            for ax, key in ((axes[i][0], "eta"), (axes[i][1], "metric")):
                width = max(len(r[key]) for r in runs)
                c = np.full((len(runs), width), np.nan)
                for k, r in enumerate(runs):
                    vals = [np.nan if v is None else v for v in r[key]]
                    c[k, :len(vals)] = vals
                with np.errstate(all="ignore"):
                    med, lo, hi = (np.nanpercentile(c, q, axis=0) for q in (50, 25, 75))
                x = np.arange(width)
                line, = ax.plot(x, med, lw=1.1, label=f"{label} ({rows[label]['rate']:g})")
                ax.fill_between(x, lo, hi, color=line.get_color(), alpha=0.15, lw=0)
        first, second = best[base]
        axes[i][0].hlines([first.rate], 0, task.change_at, colors="k", linestyles="--", lw=1.2,
                          label=f"ideal fixed rate ({first.rate:g} -> {second.rate:g})")
        axes[i][0].hlines([second.rate], task.change_at, task.steps, colors="k", linestyles="--", lw=1.2)
        for ax, what in ((axes[i][0], r"learning rate $\eta$"), (axes[i][1], "distance to the current optimum")):
            ax.axvline(task.change_at, color="grey", lw=0.8, ls=":")
            ax.set_yscale("log")
            ax.set_ylabel(what)
            ax.set_title(f"{base.upper() if base == 'sgd' else 'Adam'} family", fontsize=9)
            ax.set_xlabel("step")
        axes[i][0].legend(fontsize=6, loc="best")
    fig.suptitle(f"{task_name}: each method at its best initial rate (median, IQR over seeds); the change at step "
                 f"{task.change_at}", fontsize=10)
    name = save(fig, out_dir, f"drift_{task_name}.png")
    plt.close(fig)
    return name
