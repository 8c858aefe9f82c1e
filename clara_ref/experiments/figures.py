"""The report's PNG figures: final metric against the initial rate (sensitivity), the rate and loss trajectories,
the final metric against d and c (damping preset), the pure-noise drift, and C0's two rules' rates side by side.
Every figure reads ``tables.outcomes``, draws diverged runs as a marker at its edge and scales its axes to the runs
that did not diverge."""

from __future__ import annotations

import math
import os
from collections import defaultdict

import numpy as np

from . import claims as claims_mod
from .grid import NULL_BURN_IN, TASKS
from .drift import drift_tasks, ideal_for, task_of, tuned_rows
from .optimizers import CLARA_NAMES, OPTIMIZERS, PATH_RULES
from .tables import _kept, _label_order, _tasks, outcomes


# ------------------------------------------------------------------------------------------------ figures
def write_figures(records, out_dir, claims=None) -> list[str]:
    """Per task: the learning-rate sensitivity plot, the rate trajectories of the path rules (median and IQR over
    seeds, every initial rate), loss curves, for a sweep the final metric against d and against c; for C0 the
    pure-noise drift and the two rules' rates on the task where they differ most."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)      # all-NaN slices of diverged runs are simply not drawn
        return _write_figures(records, out_dir, claims)


def _write_figures(records, out_dir, claims) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cells = outcomes(records)
    files = []
    for task_name in _tasks(records):
        recs = [r for r in records if r["task"] == task_name and not r.get("error")]
        if not recs:
            continue
        labels = sorted({r["label"] for r in recs}, key=_label_order)
        if TASKS[task_name].kind == "null":
            continue                        # drawn together in c0_pure_noise.png
        files.append(_sensitivity_figure(plt, task_name, recs, labels, cells, out_dir))
        files.append(_eta_figure(plt, task_name, recs, labels, out_dir))
        files.append(_loss_figure(plt, task_name, recs, labels, out_dir))
        files.append(_sweep_figure(plt, task_name, recs, cells, out_dir, "d"))
        files.append(_sweep_figure(plt, task_name, recs, cells, out_dir, "c"))
    for task_name in drift_tasks(records):
        files.append(_drift_figure(plt, task_name, records, out_dir))
    files.append(_null_figure(plt, records, out_dir))
    files.append(_c0_rates_figure(plt, records, claims, out_dir))
    return [f for f in files if f]


def _finite_positive(values) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    return arr[np.isfinite(arr) & (arr > 0)]


def _sensitivity_figure(plt, task_name, recs, labels, cells, out_dir):
    """Final metric against the initial rate: median and IQR over the runs that did not diverge; a cell with
    diverged runs gets a marker at the plot's edge (top for a distance, bottom for an accuracy) with their count.
    The axes are scaled to the runs that did not diverge."""
    task = TASKS[task_name]
    fig, ax = plt.subplots(figsize=(9, 4.5))
    if len(labels) > 10:                    # more lines than the default cycle has colours: dark, then light shades
        ax.set_prop_cycle(color=plt.cm.tab20.colors[::2] + plt.cm.tab20.colors[1::2])
    edge = 0.98 if task.lower_is_better else 0.02
    trans = ax.get_xaxis_transform()
    kept_all = []
    for k, label in enumerate(labels):
        rates = sorted({r["eta0"] for r in recs if r["label"] == label})
        kept = [_kept(cells[(task_name, label, e)]) for e in rates]
        med = np.array([np.median(v) if len(v) else np.nan for v in kept])
        lo = np.array([np.percentile(v, 25) if len(v) else np.nan for v in kept])
        hi = np.array([np.percentile(v, 75) if len(v) else np.nan for v in kept])
        kept_all += [x for v in kept for x in v]
        optimizer = next(r["optimizer"] for r in recs if r["label"] == label)        # a field, not parsed
        name = label + (" (x = d0)" if OPTIMIZERS[optimizer].family == "baseline" else "")
        ok = np.isfinite(med)
        line, = ax.plot(np.array(rates)[ok], med[ok], marker="o", label=name)
        ax.fill_between(np.array(rates)[ok], lo[ok], hi[ok], alpha=0.15, color=line.get_color())
        for e in rates:
            n_div = sum(d for _, _, d in cells[(task_name, label, e)])
            if n_div:
                ax.plot([e * 1.06 ** (k - len(labels) / 2)], [edge], transform=trans, marker="v" if edge > 0.5
                        else "^", color=line.get_color(), ms=6, clip_on=False, ls="none")
    ax.set_xscale("log")
    if task.lower_is_better:
        positive = _finite_positive(kept_all)
        if len(positive):
            ax.set_yscale("log")
            ax.set_ylim(positive.min() / 2, positive.max() * 2)
    ax.set_xlabel(r"initial learning rate $\eta_0$ (D-Adaptation / Prodigy: $d_0$)")
    ax.set_ylabel(task.metric_name)
    note = "; every run diverged" if not len(kept_all) else ""
    ax.set_title(f"{task_name}: sensitivity to the initial rate{note}\n(median, IQR over the runs that did not "
                 "diverge; a triangle at the edge: some seeds of that cell diverged)", fontsize=8)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    name = _save(fig, out_dir, f"sensitivity_{task_name}.png")
    plt.close(fig)
    return name


def _curves(runs, key):
    """Runs' per-step (or per-epoch) curves as one NaN-padded array (a diverged run's curve stops early)."""
    n = max(len(r[key]) for r in runs)
    out = np.full((len(runs), n), np.nan)
    for i, r in enumerate(runs):
        out[i, :len(r[key])] = [np.nan if v is None else v for v in r[key]]
    return out


def _nan_percentiles(c, qs) -> np.ndarray:
    """``np.nanpercentile(c, qs, axis=0)``, the same numbers, vectorised: the columns are sorted (NaN last) and
    grouped by how many values they hold, and each group's first k rows go through one ``np.percentile``.
    (``nanpercentile`` along an axis loops over the columns in Python: 30 s of the paper report's figures.)"""
    out = np.full((len(qs), c.shape[1]), np.nan)
    ordered = np.sort(c, axis=0)                                  # NaN sort last
    counts = np.sum(~np.isnan(c), axis=0)
    for k in np.unique(counts[counts > 0]):
        cols = counts == k
        out[:, cols] = np.percentile(ordered[:k, cols], qs, axis=0)
    return out


def _eta_figure(plt, task_name, recs, labels, out_dir):
    """eta_<task>.png: one panel per path rule, one curve per initial rate: median and IQR of eta over seeds."""
    moves = {r["label"] for r in recs if r["optimizer"] in PATH_RULES}
    rules = [lab for lab in labels if lab in moves]
    if not rules:
        return None
    cols = min(4, len(rules))
    rows = math.ceil(len(rules) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.4 * rows), squeeze=False)
    rates = sorted({r["eta0"] for r in recs})
    colours = plt.cm.viridis(np.linspace(0, 0.95, len(rates)))
    for ax, label in zip(axes.flat, rules):
        drawn = False
        for colour, e in zip(colours, rates):
            runs = [r for r in recs if r["label"] == label and r["eta0"] == e and r["eta"]]
            if not runs:
                continue
            with np.errstate(all="ignore"):
                c = _curves(runs, "eta")
                med, lo, hi = map(_plottable, _nan_percentiles(c, (50, 25, 75)))
            x = np.arange(len(med))
            ax.plot(x, med, color=colour, lw=1.2, label=f"{e:g}")
            ax.fill_between(x, lo, hi, color=colour, alpha=0.2, lw=0)
            drawn = drawn or bool(np.isfinite(med).any())
        if drawn:
            ax.set_yscale("log")
        ax.set_title(label, fontsize=9)
        ax.set_xlabel(recs[0].get("unit", "step"))
    for ax in axes.flat[len(rules):]:
        ax.set_visible(False)
    axes[0][0].set_ylabel(r"learning rate $\eta$ (median, IQR over seeds)")
    axes[0][-1].legend(title=r"$\eta_0$", fontsize=6, title_fontsize=7, loc="best")
    fig.suptitle(f"{task_name}: rate trajectories of the path rules from every initial rate", fontsize=10)
    name = _save(fig, out_dir, f"eta_{task_name}.png")
    plt.close(fig)
    return name


def _loss_figure(plt, task_name, recs, labels, out_dir):
    """loss_<task>.png: loss curves of the smallest seed at three initial rates; the y axis is scaled to the runs
    that did not diverge (a diverged run's curve stops where it diverged)."""
    seed = min(r["seed"] for r in recs)
    shown = [e for e in (1e-6, 1e-3, 1.0) if any(r["eta0"] == e for r in recs)] or sorted({r["eta0"] for r in recs})[:3]
    fig, axes = plt.subplots(1, len(shown), figsize=(4.5 * len(shown), 3.8), squeeze=False)
    for ax, e in zip(axes[0], shown):
        kept = []
        for label in labels:
            run = next((r for r in recs if r["label"] == label and r["eta0"] == e and r["seed"] == seed), None)
            if run is None or not run["loss"]:
                continue
            ys = _plottable([np.nan if v is None else v for v in run["loss"]])
            ax.plot(np.arange(len(ys)), ys, label=label + (" (diverged)" if run["diverged"] else ""),
                    ls=":" if run["diverged"] else "-")
            if not run["diverged"]:
                kept += list(ys)
        positive = _finite_positive(kept)
        if len(positive):
            ax.set_yscale("log")
            ax.set_ylim(positive.min() / 2, positive.max() * 2)
        ax.set_xlabel(recs[0].get("unit", "step"))
        ax.set_title(rf"{task_name}, $\eta_0$ = {e:g}, seed {seed}", fontsize=9)
    axes[0][0].set_ylabel("loss (noise-free value / full training loss)")
    axes[0][-1].legend(fontsize=7)
    name = _save(fig, out_dir, f"loss_{task_name}.png")
    plt.close(fig)
    return name


def _sweep_axis(record, axis):
    """A run's place on a sweep's axis, read from its fields: its damping setting or its path constant."""
    return record.get("damping_setting") if axis == "d" else record.get("c")


def _sweep_figure(plt, task_name, recs, cells, out_dir, axis):
    """damping_<task>.png (axis "d") or pathconst_<task>.png (axis "c"): the final metric (median over the runs that
    did not diverge) against the swept value, one panel per CLARA variant, one line per initial rate, at every
    setting of the other axis; the tuned fixed rate of the same base optimizer as a dashed line. Drawn only for a
    sweep (a variant at two or more values)."""
    task = TASKS[task_name]
    other = "c" if axis == "d" else "d"
    by = defaultdict(lambda: defaultdict(set))      # variant -> other value -> {values on the axis}
    for r in recs:
        if r["optimizer"] in CLARA_NAMES and _sweep_axis(r, axis) is not None:
            by[r["optimizer"]][str(_sweep_axis(r, other))].add(_sweep_axis(r, axis))
    panels = [(v, o, sorted(vals, key=_axis_key)) for v, groups in by.items() for o, vals in groups.items()
              if len(vals) >= 2]
    if not panels:
        return None
    panels.sort(key=lambda p: (_label_order(p[0]), p[1]))
    rates = sorted({r["eta0"] for r in recs})
    colours = plt.cm.viridis(np.linspace(0, 0.95, len(rates)))
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.6), squeeze=False)
    for ax, (variant, at, values) in zip(axes[0], panels):
        for colour, e in zip(colours, rates):
            ys = []
            for value in values:
                runs = [(r["seed"], float(r["final_metric"]), bool(r["diverged"])) for r in recs
                        if r["optimizer"] == variant and r["eta0"] == e and _sweep_axis(r, axis) == value
                        and str(_sweep_axis(r, other)) == at]
                kept = _kept(runs)
                ys.append(np.median(kept) if len(kept) else np.nan)
            ax.plot(range(len(values)), ys, marker="o", color=colour, label=f"{e:g}")
        base = variant.split("-")[0]
        fixed = [np.median(_kept(v)) for (t, lab, _), v in cells.items() if t == task_name and lab == base
                 and len(_kept(v))]
        if fixed:
            best = min(fixed) if task.lower_is_better else max(fixed)
            ax.axhline(best, color="k", ls="--", lw=1, label=f"tuned {base}")
        ax.set_xticks(range(len(values)), [str(v) for v in values])
        ax.set_xlabel("damping d" if axis == "d" else "path constant c")
        ax.set_title(f"{variant} ({other} = {at})", fontsize=9)
        if task.lower_is_better and len(_finite_positive([y for line in ax.get_lines() for y in line.get_ydata()])):
            ax.set_yscale("log")
    axes[0][0].set_ylabel(task.metric_name + " (median over seeds)")
    axes[0][-1].legend(title=r"$\eta_0$", fontsize=6, title_fontsize=7)
    what = "damping d" if axis == "d" else "path constant c"
    fig.suptitle(f"{task_name}: final metric against CLARA's {what}", fontsize=10)
    name = _save(fig, out_dir, f"{'damping' if axis == 'd' else 'pathconst'}_{task_name}.png")
    plt.close(fig)
    return name


def _axis_key(v):
    return math.inf if isinstance(v, str) else float(v)


def _null_figure(plt, records, out_dir):
    """c0_pure_noise.png: log eta_t - log eta_B on pure noise, one column per block size (median and range over
    seeds): the three rules above, the two that should stay near 0 zoomed in below."""
    null = [r for r in records if TASKS[r["task"]].kind == "null" and not r.get("error")]
    if not null:
        return None
    tasks = _tasks(null)
    fig, axes = plt.subplots(2, len(tasks), figsize=(4.2 * len(tasks), 6.4), squeeze=False)
    colours = dict(zip(claims_mod.NULL_RULES, ("C0", "C1", "C2")))
    for col, t in enumerate(tasks):
        for row, rules in enumerate((claims_mod.NULL_RULES, ("adam-clara", "adam-clara-uncorrected"))):
            ax = axes[row][col]
            for label in rules:
                runs = [r for r in null if r["task"] == t and r["label"] == label and r["metric"]]
                if not runs:
                    continue
                c = _curves(runs, "metric")
                x = np.arange(c.shape[1])
                ax.plot(x, np.nanmedian(c, axis=0), lw=1.2, label=label, color=colours[label])
                ax.fill_between(x, np.nanmin(c, axis=0), np.nanmax(c, axis=0), alpha=0.2, color=colours[label],
                                lw=0)
            ax.axvline(NULL_BURN_IN, color="grey", lw=0.8, ls=":")
            ax.axhline(0.0, color="k", lw=0.6)
            ax.set_xlabel("step")
            ax.set_title(f"{t} (n = {_n_of(null, t)})" + ("" if row == 0 else ", zoomed"), fontsize=9)
    for row in range(2):
        axes[row][0].set_ylabel(rf"log $\eta_t$ - log $\eta_{{{NULL_BURN_IN}}}$")
        axes[row][-1].legend(fontsize=7)
    fig.suptitle("C0: the rate under pure-noise gradients (median and range over seeds; a sound rule stays near 0)",
                 fontsize=10)
    name = _save(fig, out_dir, "c0_pure_noise.png")
    plt.close(fig)
    return name


def _n_of(records, task):
    return next((r.get("n_params") for r in records if r["task"] == task), "?")


def _c0_rates_figure(plt, records, claims, out_dir):
    """c0_rates.png: the rate of Adam-CLARA and of the uncorrected rule at matched speed, side by side, from every
    initial rate, on the task C0 names as the one where they leave the rate furthest apart."""
    c0 = next((c for c in claims or [] if c.id == "C0"), None)
    task = (c0.numbers.get("benchmark") or {}).get("named_task") if c0 is not None else None
    if task is None:
        return None
    recs = [r for r in records if r["task"] == task and r["label"] in ("adam-clara", claims_mod.ABLATION)]
    if not recs:
        return None
    fig, axes = plt.subplots(1, 2, figsize=(9.5, 3.8), sharey=True, squeeze=False)
    rates = sorted({r["eta0"] for r in recs})
    colours = plt.cm.viridis(np.linspace(0, 0.95, len(rates)))
    for ax, label in zip(axes[0], ("adam-clara", claims_mod.ABLATION)):
        for colour, e in zip(colours, rates):
            runs = [r for r in recs if r["label"] == label and r["eta0"] == e and r["eta"]]
            if runs:
                c = _curves(runs, "eta")
                ax.plot(np.arange(c.shape[1]), _plottable(np.nanmedian(c, axis=0)), color=colour, label=f"{e:g}")
        ax.set_yscale("log")
        ax.set_title(label, fontsize=9)
        ax.set_xlabel(recs[0].get("unit", "step"))
    axes[0][0].set_ylabel(r"learning rate $\eta$ (median over seeds)")
    axes[0][-1].legend(title=r"$\eta_0$", fontsize=6, title_fontsize=7)
    fig.suptitle(f"C0 on {task}: Adam's step path with its own reference against the gradient path with the random "
                 "walk's, at the same speed", fontsize=9)
    name = _save(fig, out_dir, "c0_rates.png")
    plt.close(fig)
    return name


def _drift_figure(plt, task_name, records, out_dir) -> str:
    """drift_<task>.png: for the SGD and the Adam family, each method at its best initial rate, the rate over time
    (median and inter-quartile band over seeds) against the ideal fixed rate of each phase, and the metric over
    time (the distance, or the accuracy on the current task of a task in sequence); the change is marked."""
    task = task_of(records, task_name)
    unit = "epoch" if task.sequence else "step"
    rows = {row["label"]: row for row in tuned_rows(records, task_name)}
    best = ideal_for(records, task_name)
    fig, axes = plt.subplots(2, 2, figsize=(11, 7.5), squeeze=False)
    for i, base in enumerate(("sgd", "adam")):
        family = [lab for lab in rows if lab in OPTIMIZERS and (OPTIMIZERS[lab].base == base or
                                                                 (base == "adam" and OPTIMIZERS[lab].base is None))]
        for label in family:
            runs = [r for r in rows[label]["runs"] if r.get("eta") and r.get("metric")]
            if not runs:
                continue
            for ax, key in ((axes[i][0], "eta"), (axes[i][1], "metric")):
                with np.errstate(all="ignore"):
                    c = _curves(runs, key)
                    med, lo, hi = _nan_percentiles(c, (50, 25, 75))
                x = np.arange(c.shape[1])
                line, = ax.plot(x, med, lw=1.1, label=f"{label} ({rows[label]['rate']:g})")
                ax.fill_between(x, lo, hi, color=line.get_color(), alpha=0.15, lw=0)
        first, second = best[base]
        change, end = task.change_at, (task.epochs if task.sequence else task.steps)
        axes[i][0].hlines([first.rate], 0, change, colors="k", linestyles="--", lw=1.2,
                          label=f"ideal fixed rate ({first.rate:g} -> {second.rate:g})")
        axes[i][0].hlines([second.rate], change, end, colors="k", linestyles="--", lw=1.2)
        metric = "test accuracy on the current task" if task.sequence else "distance to the current optimum"
        for ax, what in ((axes[i][0], r"learning rate $\eta$"), (axes[i][1], metric)):
            ax.axvline(change, color="grey", lw=0.8, ls=":")
            ax.set_yscale("linear" if task.sequence and ax is axes[i][1] else "log")
            ax.set_ylabel(what)
            ax.set_title(f"{base.upper() if base == 'sgd' else 'Adam'} family", fontsize=9)
            ax.set_xlabel(unit)
        axes[i][0].legend(fontsize=6, loc="best")
    fig.suptitle(f"{task_name}: each method at its best initial rate (median, IQR over seeds); the change at {unit} "
                 f"{task.change_at}", fontsize=10)
    name = _save(fig, out_dir, f"drift_{task_name}.png")
    plt.close(fig)
    return name


def _plottable(values) -> np.ndarray:
    """Values for a log axis: non-finite and astronomically large ones (diverging runs) become NaN (not drawn)."""
    arr = np.asarray(values, dtype=float)
    return np.where(np.isfinite(arr) & (np.abs(arr) < 1e100), arr, np.nan)


def _save(fig, out_dir, name):
    from matplotlib.ticker import LogLocator, NullLocator

    # Diverging runs make log axes span hundreds of decades; default minor ticks then make layout very slow.
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            if axis.get_scale() == "log":
                axis.set_major_locator(LogLocator(numticks=8))
                axis.set_minor_locator(NullLocator())
    fig.tight_layout()
    fig.savefig(os.path.join(out_dir, name), dpi=90)
    return name
