"""Turn run records into ``summary.csv``, ``claims.json``, PNG figures and ``report.md``.

Rendering only: the verdicts come from ``clara_ref.experiments.claims`` (one pure function per claim, its
thresholds named and justified there); this module draws and writes them.

One source for every number: ``outcomes`` groups the runs' final metrics and diverged flags by cell, and the
tables (mean and spread over the runs that did not diverge, with the count of those that did), the figures
(median and inter-quartile range over the same runs, a marker at the plot's edge for each cell with diverged runs)
and ``summary.csv`` (one row per run, the same two fields) are all read from it. An accuracy of 0.0 is a result
like any other; only the ``diverged`` flag marks a divergence.
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections import defaultdict

import numpy as np

from .._io import atomic_write
from . import claims as claims_mod
from .grid import NULL_BURN_IN, OPTIMIZERS, TASKS

__all__ = ["write_summary", "write_figures", "write_report", "write_claims", "outcomes", "cell_text",
           "claims_table"]

CLARA_NAMES = claims_mod.CLARA_NAMES
#: the rules whose rate moves, whose trajectories the eta figures draw
PATH_RULES = CLARA_NAMES + ("adam-alera", "adam-clara-uncorrected", "adam-clara-uncorrected-matched",
                            "adam-clara-mismatched")


def outcomes(records) -> dict:
    """{(task, label, eta0): [(seed, final metric, diverged), ...]} over the runs that did not raise: the one source
    of the tables, the figures and (run by run) summary.csv."""
    out = defaultdict(list)
    for r in records:
        if r.get("error"):
            continue
        out[(r["task"], r["label"], r["eta0"])].append((r["seed"], float(r["final_metric"]), bool(r["diverged"])))
    for v in out.values():
        v.sort()
    return out


def _kept(runs) -> np.ndarray:
    """The final metrics of the runs that did not diverge."""
    return np.asarray([v for _, v, div in runs if not div], dtype=float)


def cell_text(runs, lower_is_better: bool) -> str:
    """A table cell: mean ± std over the runs that did not diverge, and how many of them diverged.

    >>> cell_text([(0, 0.0, False), (1, 0.567, False)], False)
    '0.283 ± 0.283'
    >>> cell_text([(0, 0.0, True), (1, 0.9, False)], False)
    '0.900 ± 0.000 (1/2 div)'
    """
    kept = _kept(runs)
    div = sum(d for _, _, d in runs)
    if not len(kept):
        return f"diverged {div}/{len(runs)}"
    m, s = float(kept.mean()), float(kept.std())
    txt = f"{m:.3g} ± {s:.2g}" if lower_is_better else f"{m:.3f} ± {s:.3f}"
    return txt + (f" ({div}/{len(runs)} div)" if div else "")


def _base(label: str) -> str:
    return label.split("[")[0]


def write_summary(records, path):
    """One row per run, sorted by run id; no timings, so identical runs give a byte-identical file (the times are in
    the run JSONs and the report)."""
    cols = ["run_id", "task", "optimizer", "label", "eta0", "seed", "protocol", "dtype", "steps_total",
            "damping_setting", "damping", "c", "reference", "metric_name", "final_metric", "diverged", "divergence",
            "final_eta", "length", "unit", "error"]
    atomic_write(path, lambda fh: _write_rows(fh, cols, records))


def _write_rows(fh, cols, records):
    w = csv.writer(fh)
    w.writerow(cols)
    for r in sorted(records, key=lambda r: r["run_id"]):
        etas = [e for e in r.get("eta", []) if e is not None]
        w.writerow([r["run_id"], r["task"], r["optimizer"], r["label"], r["eta0"], r["seed"],
                    r.get("protocol", "clara_ref"), r.get("dtype", ""), r.get("steps_total", ""),
                    _blank(r.get("damping_setting")), _blank(r.get("damping")), _blank(r.get("c")),
                    _blank(r.get("reference")), r["metric_name"], r["final_metric"], r["diverged"],
                    _blank(r.get("divergence")), etas[-1] if etas else "", r.get("steps", r.get("epochs")),
                    r.get("unit", ""), r.get("error") or ""])


def _blank(x):
    return "" if x is None else x


def _json_safe(x):
    """Non-finite floats become None (JSON has no inf: a null metric is a diverged run)."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {str(k): _json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_json_safe(v) for v in x]
    if isinstance(x, (np.floating, np.integer, np.bool_)):
        return _json_safe(x.item())
    return x


def write_claims(results, path) -> str:
    """``claims.json``: the ClaimResults as objects (non-finite numbers as null), with ``borderline``, the deciding
    cells and the seeds that decided each (the per-cell outcomes stay out: they are the bootstrap's working data)."""
    data = []
    for r in results:
        d = {k: v for k, v in r._asdict().items() if k != "outcomes"}
        d["deciding"] = [dict(task=t, label=lab, rate=e) for t, lab, e in r.deciding]
        data.append(dict(_json_safe(d), borderline=r.borderline))
    atomic_write(path, lambda fh: json.dump(data, fh, indent=1, allow_nan=False))
    return path


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
    files.append(_null_figure(plt, records, out_dir))
    files.append(_c0_rates_figure(plt, records, claims, out_dir))
    return [f for f in files if f]


def _tasks(records) -> list:
    return sorted({r["task"] for r in records}, key=list(TASKS).index)


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
        name = label + (" (x = d0)" if OPTIMIZERS[_base(label)][0] == "baseline" else "")
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


def _eta_figure(plt, task_name, recs, labels, out_dir):
    """eta_<task>.png: one panel per path rule, one curve per initial rate: median and IQR of eta over seeds."""
    rules = [lab for lab in labels if _base(lab) in PATH_RULES]
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
                med, lo, hi = (_plottable(np.nanpercentile(c, q, axis=0)) for q in (50, 25, 75))
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
        if _base(r["label"]) in CLARA_NAMES and _sweep_axis(r, axis) is not None:
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


def _label_order(label):
    names = list(OPTIMIZERS)
    base = label.split("[")[0]
    return (names.index(base) if base in names else 99, label)


# ------------------------------------------------------------------------------------------------ report
def _d_text(record) -> str:
    """A row's damping: the setting, and its value where "auto" resolves to a number or the ablation runs at a
    speed-matched one."""
    setting, value = record.get("damping_setting"), record.get("damping")
    if setting is None:
        return "-"
    if value is not None and (setting == "auto" or value != setting):
        return f"{setting} ({value:.3g})"
    return f"{setting}"


def _verdict_text(c) -> str:
    return f"**{c.verdict}**" + (" (borderline)" if c.borderline and c.verdict != claims_mod.UNDECIDED_VERDICT
                                 else "")


def _margin_text(c) -> str:
    return "-" if c.margin is None else f"{c.margin:+.3g}"


def _robustness_text(c) -> str:
    return "-" if c.robustness is None else f"{c.robustness:.0%}"


def _seeds_text(c) -> str:
    if c.seeds is None:
        return "-"
    if "undecided" in c.numbers:
        u = c.numbers["undecided"]
        return f"{c.seeds} (leans {u['leaning']}; stopped: {u['why']})"
    return f"{c.seeds}" + (" (extra seeds decided it)" if "decided_at_seeds" in c.numbers else "")


def claims_table(results) -> list[str]:
    """The claims as markdown table rows (also used by the README), C0's halves as rows of their own."""
    lines = ["| claim | verdict | margin | robustness | seeds | numbers |", "|---|---|---|---|---|---|"]
    for c in results:
        lines.append(f"| {c.id}: {c.text} | {_verdict_text(c)} | {_margin_text(c)} | {_robustness_text(c)} | "
                     f"{_seeds_text(c)} | {c.summary} |")
        for name, part in c.numbers.get("parts", {}).items():
            rob = part.get("robustness")
            note = f" (not robust; stopped: {part['undecided']})" if "undecided" in part else ""
            lines.append(f"| {c.id}, {name} half | {part['verdict']}{note} | {part['margin']:+.3g} | "
                         f"{'-' if rob is None else f'{rob:.0%}'} | | |")
    return lines


def threshold_table(sweep) -> list[str]:
    """Each threshold over its range: the verdicts of the claims that use it, and where they flip."""
    lines = ["| threshold | default | claim | verdict at each value | flips |", "|---|---|---|---|---|"]
    for name, row in sweep.items():
        for claim, verdicts in row["verdicts"].items():
            cells = ", ".join(f"{_num(v)}: {verdict}" for v, verdict in zip(row["values"], verdicts))
            flips = [f"between {_num(a)} and {_num(b)}" for a, b, va, vb in
                     zip(row["values"], row["values"][1:], verdicts, verdicts[1:]) if va != vb]
            lines.append(f"| `{name}` | {_num(row['default'])} | {claim} | {cells} | "
                         f"{'; '.join(flips) or 'none in the range'} |")
    return lines


def _num(v) -> str:
    return f"{v:.3g}" if isinstance(v, float) else str(v)


def _budgets(records) -> str:
    budgets = sorted({(r["task"], r.get("steps_total"), r.get("dtype")) for r in records},
                     key=lambda x: list(TASKS).index(x[0]))
    return "; ".join(f"{t} {n:,} steps ({dt})" for t, n, dt in budgets if n is not None)


def _header(preset, records) -> list[str]:
    protocols = sorted({r.get("protocol", "clara_ref") for r in records})
    intro = []
    if preset.demonstration:
        intro += [f"**A demonstration at reduced budgets.** The `{preset.name}` preset shortens its tasks (the step "
                  "budgets below), so its verdicts show how each claim is tested, not whether it holds: the `paper` "
                  "and `images` presets run the paper's budgets and are the test.", ""]
    if len(preset.dampings) > 1 or preset.dampings[0] is not None:
        damping = ("CLARA's damping d is swept over {" + ", ".join(str(d) for d in preset.dampings) + "} on every "
                   "task (\"auto\" is 2 x the exact null spread of the path statistic)" +
                   (", and its path constant c over {" + ", ".join(f"{c:g}" for c in preset.path_constants) +
                    "} at d in {" + ", ".join(str(d) for d in preset.path_constant_dampings) + "} for " +
                    ", ".join(preset.path_constant_optimizers) if preset.path_constants else "") +
                   "; the fixed-rate baselines run beside them.")
    else:
        damping = ("Synthetic tasks use CLARA's d = \"auto\" (2 x the exact null spread of the path statistic), "
                   "real-data tasks d = 1e-3, as the authors; every row states its d.")
    proto = ("Protocol: " + ", ".join(f"`{p}`" for p in protocols) + " (`clara_ref`: standardised features, "
             "stratified seeded split, reference = sum of per-block expectations; `authors`: raw features, plain "
             "seeded split, Adam-CLARA's reference K mu(N) from the authors' table; synthetic tasks are the same "
             "under both).")
    steps = {r["task"]: r.get("steps_total") for r in records}
    stand_in = [t for t in ("digits_mlp", "digits_mlp_long") if t in steps]
    if stand_in:
        intro += ["The digits MLP 64-128-64-10 stands in for the paper's image tasks (MNIST, Fashion-MNIST and CIFAR "
                  "are not bundled) at a step budget of its own: " +
                  ", ".join(f"`{t}` {steps[t]:,} steps" for t in stand_in) +
                  " in this run (the paper's MNIST runs take about 46,900).", ""]
    official = sorted(t for t in steps if TASKS[t].official_images)
    if official:
        intro += ["The paper's own image tasks, read from the dataset files: " + ", ".join(f"`{t}`" for t in official)
                  + " (MNIST and Fashion-MNIST: the MLP 784-256-128-10; CIFAR-10: the paper's CNN, 2,193,226 "
                  "parameters; batch 128, float32).", ""]
        if any(r.get("data_verified") is False for r in records if r["task"] in official):
            intro += ["**The image files of these runs were not checked against the official checksums "
                      "(`--no-verify`).** If they are not the official MNIST, Fashion-MNIST and CIFAR-10 files, "
                      "these numbers say nothing about the paper's claims.", ""]
        epochs = sorted({r["epochs"] for r in records if r["task"] in official and r.get("epochs") is not None})
        if epochs and epochs != [100]:
            intro += [f"These runs train for {', '.join(map(str, epochs))} epoch{'s' if epochs != [1] else ''}, not "
                      "the paper's 100: their verdicts are for that budget only.", ""]
    if any(TASKS[t].kind == "null" for t in steps):
        intro += [f"The pure-noise tasks (`pure_noise_<n>`, claim C0) feed N(0, I) gradients with no signal into one "
                  f"block of n coordinates; their metric is log eta_T - log eta_{NULL_BURN_IN}.", ""]
    return intro + [damping, "", proto, "", f"Step budgets (as run): {_budgets(records)}."]


def _reach_rows(records) -> list[str]:
    rows, seen = [], set()
    for r in records:
        if _base(r["optimizer"]) not in PATH_RULES or r.get("damping") is None or r.get("reference") is None:
            continue
        if TASKS[r["task"]].kind == "null":
            continue
        key = (r["task"], r["label"], r.get("protocol"))
        if key in seen:
            continue
        seen.add(key)
        up = claims_mod.log_rate_range(r["damping"], r["reference"], r["n_blocks"], r["steps_total"])
        rows.append(f"| {r['task']} | {r['label']} | {_d_text(r)} | {r['reference']:.4g} | {r['n_blocks']} | "
                    f"{r['steps_total']:,} | {_exp_str(up)} | {_exp_str(r['damping'] * r['steps_total'])} |")
    return rows


def _not_evaluable_lines(claims) -> list[str]:
    lines = []
    for c in claims:
        left = c.numbers.get("not_evaluable") or []
        if left:
            lines.append(f"- {c.id}: " + ", ".join(
                f"{v['task']}/{v['label']}" + (f" ({v['reach']:.3g}x)" if v.get("reach") is not None else "")
                for v in left))
    return lines


def _reach_text() -> str:
    """The least factor the claims ask of a rule's reach, as the report states it ("10x", or each claim's)."""
    factors = sorted(set(claims_mod.MIN_REACH.values()))
    if len(factors) == 1:
        return f"{factors[0]:g}x"
    return ", ".join(f"{f:g}x ({k})" for k, f in claims_mod.MIN_REACH.items())


def write_report(records, out_dir, preset, command, elapsed_s, figures, resumed: int = 0, claims=None,
                 decision=None, interrupted: bool = False) -> str:
    """Write report.md (and claims.json when ``claims`` is not given) and return the report's path. ``decision``:
    what the extra seeds did (``clara_ref.experiments.decide``), shown in its own section."""
    if claims is None:
        claims = claims_mod.evaluate(records)
        write_claims(claims, os.path.join(out_dir, "claims.json"))
    cells = outcomes(records)
    lines = [f"# clara_ref reproduction report: preset `{preset.name}`", "",
             f"Command: `{command}`  ",
             f"Runs: {len(records)} ({len(records) - resumed} computed by this command, {resumed} resumed from "
             f"earlier output); wall time {elapsed_s:.1f} s on {os.cpu_count()} cores; sum of the per-run times "
             f"{sum(r.get('wall_s', 0.0) for r in records):.1f} s; preset: {preset.note}.", ""]
    if interrupted:
        lines += ["**This command was interrupted**: the report covers the runs that had finished; a rerun resumes "
                  "the rest.", ""]
    lines += _header(preset, records)
    lines += ["", "## Claims", ""] + claims_table(claims)
    lines += ["", "Margin: the signed distance of the deciding statistic from the threshold of \"supported\" "
              f"(positive: on the supported side). Robustness: the share of {claims_mod.RESAMPLES} seed-bootstrap "
              "resamples (seeds "
              f"redrawn with replacement in every cell) that give the same verdict; below "
              f"{claims_mod.ROBUST_SHARE:.0%} the verdict is marked borderline. Seeds: the most seeds any cell of "
              "the claim had; a claim that was not robust at the preset's seeds got more on its deciding cells "
              f"(those whose outcome changes in at least {claims_mod.DECIDING_SHARE:.0%} of the resamples), and one "
              "still not robust at the end is *undecided*. Every claim counts only cells where the rule under test "
              f"can move its rate at least {_reach_text()} within the step budget (the table below). How each verdict "
              "is computed, with every "
              "threshold named and justified: `clara_ref/experiments/claims/`; every number is in "
              "`claims.json`.", ""]
    left = _not_evaluable_lines(claims)
    if left:
        lines += [f"Cells left out as not evaluable at this step budget (the rule cannot move its rate "
                  f"{_reach_text()}; the largest factor it can in parentheses):", ""] + left + [""]
    if decision is not None:
        lines += _decision_lines(decision)
    sweep = claims_mod.threshold_sweep(records)
    if sweep:
        lines += ["## Thresholds in the open", "",
                  "Each named threshold over a stated range, the others at their defaults (no bootstrap): where a "
                  "verdict changes, a reader sees how much it rests on the threshold.", ""] + threshold_table(sweep)
        lines.append("")
    dupes = claims_mod.identical_tasks(records)
    if dupes:
        lines += ["Identical results on two tasks (evidence a claim must not count twice): " +
                  "; ".join(f"{a} = {b} for {lab}" for a, b, lab in dupes) + ". No claim counts `" +
                  "`, `".join(claims_mod.EXCLUDED_TASKS) + "`.", ""]
    lines += ["## How far the rate can move", "",
              "CLARA multiplies eta by exp(d (P/ref - 1)) per step with 0 <= P <= K (K blocks), so over T steps the "
              "rate can rise by at most exp(d (K/ref - 1) T) and fall by at most exp(d T) (one block, c = 0.2: "
              "+8d per step for SGD, +0.465d for Adam). Every claim counts a cell only when its rule can move the "
              f"rate at least {_reach_text()}; C3 counts a poor initial rate only when the bound lets it climb to "
              "the smallest rate at which the fixed optimizer succeeds.", ""]
    if any(r["optimizer"] == "adam-alera" for r in records):
        lines += ["The 2017 rule (`adam-alera`) moves much faster than Adam-CLARA at the same nominal d: its C is "
                  "chosen (`alera.C_for_damping`) so that the effective damping C mu / sigma_b of its largest block "
                  "equals CLARA's d, but its exponent is a z-score against the random walk's mu = c/(2-c), so that "
                  "block's rate can rise by up to exp(d (1/mu - 1)) = exp(8 d) per step, where Adam-CLARA's rises by "
                  "at most exp(0.47 d): about 17 times faster in the exponent. On a short budget this, not the "
                  "correction, decides a comparison of the two (for example on digits from 1e-6), which is why C0's "
                  "benchmark half compares Adam-CLARA with the uncorrected rule at matched speed.", ""]
    lines += ["| task | optimizer | d | reference | K | steps | max factor up | max factor down |",
              "|---|---|---|---|---|---|---|---|"] + _reach_rows(records)
    lines += ["", "## Results (mean ± std over the seeds that did not diverge, and how many diverged; columns: "
              "initial rate, d0 for the baselines)", ""]
    for task_name in _tasks(records):
        task = TASKS[task_name]
        recs = [r for r in records if r["task"] == task_name]
        rates = sorted({r["eta0"] for r in recs})
        figs = [f"![{kind}]({kind}_{task_name}.png)" for kind in ("sensitivity", "eta", "damping", "pathconst")
                if f"{kind}_{task_name}.png" in figures]
        direction = ("lower" if task.lower_is_better else "higher") + " is better" if task.kind != "null" else \
            "near 0 is consistent"
        lines += [f"### {task_name}: {task.metric_name} ({direction})", "", *figs, "",
                  "| optimizer | d | " + " | ".join(f"{e:g}" for e in rates) + " |",
                  "|---|---|" + "---|" * len(rates)]
        for label in sorted({r["label"] for r in recs}, key=_label_order):
            first = next(r for r in recs if r["label"] == label)
            row = [(cell_text(cells[(task_name, label, e)], task.lower_is_better) if (task_name, label, e) in cells
                    else "") for e in rates]
            lines.append(f"| {label} | {_d_text(first)} | " + " | ".join(row) + " |")
        lines.append("")
    for fig, text in (("c0_pure_noise.png", "C0, pure noise"), ("c0_rates.png", "C0, the two rules' rates")):
        if fig in figures:
            lines += [f"![{text}]({fig})", ""]
    errors = [r for r in records if r.get("error")]
    if errors:
        lines += ["## Runs that raised an unexpected error", "",
                  "No claim counts them, and the next run of the same command computes them again.", ""] + \
            [f"- {r['run_id']}: {r['error']}" for r in errors]
    lines += ["", "## Files", "", "- `runs/*.json`: one record per run (configuration, versions, seed, protocol, "
              "dtype, step budget, resolved damping, path constant and reference, per-step or per-epoch loss, metric "
              "and eta, diverged flag and why)", "- `summary.csv`: one row per run", "- `claims.json`: every "
              "claim's verdict, numbers, margin, robustness, deciding cells and seeds",
              "- figures: " + ", ".join(f"`{f}`" for f in figures), ""]
    path = os.path.join(out_dir, "report.md")
    atomic_write(path, lambda fh: fh.write("\n".join(lines)))
    return path


def _decision_lines(decision) -> list[str]:
    if not decision.rounds and not any("undecided" in c.numbers for c in decision.results):
        return []
    lines = ["## Seeds until decided", ""]
    for k, r in enumerate(decision.rounds, 1):
        lines.append(f"- round {k}: seeds {r['seeds'][0]}-{r['seeds'][-1]} on {r['cells']} deciding cells "
                     f"({r['runs']} runs, about {r['estimate_s']:.0f} s estimated) for {', '.join(r['open'])}")
    lines += [f"- stopped: {decision.stopped}", ""]
    return lines


def _exp_str(x):
    if x is None:
        return "-"
    return f"{math.exp(x):.3g}" if x < 700 else f"e^{x:.0f}"
