"""Turn run records into ``summary.csv``, ``claims.json``, PNG figures and ``report.md``.

Rendering only: the verdicts come from ``clara_ref.experiments.claims`` (one pure function per claim, its
thresholds named and justified there); this module draws and writes them.
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
from .grid import OPTIMIZERS, TASKS

__all__ = ["write_summary", "write_figures", "write_report", "write_claims", "aggregate"]

CLARA_NAMES = claims_mod.CLARA_NAMES


def aggregate(records) -> dict:
    """{(task, label, eta0): [final metric of each seed]}."""
    out = defaultdict(list)
    for r in records:
        out[(r["task"], r["label"], r["eta0"])].append(r["final_metric"])
    return out


def _base(label: str) -> str:
    return label.split("[")[0]


def _is_path_rule(label: str) -> bool:
    return _base(label) in CLARA_NAMES or _base(label) == "adam-alera"


def write_summary(records, path):
    """One row per run, sorted by run id; no timings, so identical runs give a byte-identical file (the times are in
    the run JSONs and the report)."""
    cols = ["run_id", "task", "optimizer", "label", "eta0", "seed", "protocol", "dtype", "steps_total",
            "damping_setting", "damping", "reference", "metric_name", "final_metric", "diverged", "final_eta",
            "length", "unit", "error"]
    atomic_write(path, lambda fh: _write_rows(fh, cols, records))


def _write_rows(fh, cols, records):
    w = csv.writer(fh)
    w.writerow(cols)
    for r in sorted(records, key=lambda r: r["run_id"]):
        etas = [e for e in r.get("eta", []) if e is not None]
        w.writerow([r["run_id"], r["task"], r["optimizer"], r["label"], r["eta0"], r["seed"],
                    r.get("protocol", "clara_ref"), r.get("dtype", ""), r.get("steps_total", ""),
                    _blank(r.get("damping_setting")), _blank(r.get("damping")), _blank(r.get("reference")),
                    r["metric_name"], r["final_metric"], r["diverged"], etas[-1] if etas else "",
                    r.get("steps", r.get("epochs")), r.get("unit", ""), r.get("error") or ""])


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
    """``claims.json``: the ClaimResults as objects (non-finite numbers as null), with ``borderline``."""
    data = [dict(_json_safe(r._asdict()), borderline=r.borderline) for r in results]
    atomic_write(path, lambda fh: json.dump(data, fh, indent=1, allow_nan=False))
    return path


# ------------------------------------------------------------------------------------------------ figures
def write_figures(records, out_dir) -> list[str]:
    """Per task: the learning-rate sensitivity plot, the rate trajectories of the path rules (median and IQR over
    seeds, every initial rate), loss curves, and for a damping sweep the final metric against d."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)      # inf medians of diverged runs are simply not plotted
        return _write_figures(records, out_dir)


def _write_figures(records, out_dir) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    agg = aggregate(records)
    files = []
    for task_name in sorted({r["task"] for r in records}, key=list(TASKS).index):
        task = TASKS[task_name]
        recs = [r for r in records if r["task"] == task_name]
        labels = sorted({r["label"] for r in recs}, key=_label_order)
        # Sensitivity: final metric against the initial rate, median and inter-quartile range over seeds.
        fig, ax = plt.subplots(figsize=(9, 4.5))
        for label in labels:
            rates = sorted({r["eta0"] for r in recs if r["label"] == label})
            vals = [np.asarray(agg[(task_name, label, e)], dtype=float) for e in rates]
            med = _plottable([np.median(v) for v in vals])
            lo = _plottable([np.percentile(v, 25) for v in vals])
            hi = _plottable([np.percentile(v, 75) for v in vals])
            finite = np.isfinite(med)
            name = label + (" (x = d0)" if OPTIMIZERS[_base(label)][0] == "baseline" else "")
            ax.plot(np.array(rates)[finite], med[finite], marker="o", label=name)
            ok = np.isfinite(lo) & np.isfinite(hi)
            ax.fill_between(np.array(rates)[ok], lo[ok], hi[ok], alpha=0.15)
        ax.set_xscale("log")
        if task.lower_is_better:
            ax.set_yscale("log")
        ax.set_xlabel(r"initial learning rate $\eta_0$ (D-Adaptation / Prodigy: $d_0$)")
        ax.set_ylabel(task.metric_name)
        ax.set_title(f"{task_name}: sensitivity to the initial rate (median, IQR over seeds; diverged runs omitted)")
        ax.title.set_fontsize(9)
        ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
        files.append(_save(fig, out_dir, f"sensitivity_{task_name}.png"))
        plt.close(fig)
        files.append(_eta_figure(plt, task_name, recs, labels, out_dir))
        files.append(_loss_figure(plt, task_name, recs, labels, out_dir))
        if any("[d=" in lab for lab in labels):
            files.append(_damping_figure(plt, task_name, recs, labels, agg, out_dir))
    return [f for f in files if f]


def _curves(runs, key):
    """Runs' per-step (or per-epoch) curves as one NaN-padded array (a diverged run's curve stops early)."""
    n = max(len(r[key]) for r in runs)
    out = np.full((len(runs), n), np.nan)
    for i, r in enumerate(runs):
        out[i, :len(r[key])] = [np.nan if v is None else v for v in r[key]]
    return out


def _eta_figure(plt, task_name, recs, labels, out_dir):
    """eta_<task>.png: one panel per path rule, one curve per initial rate: median and IQR of eta over seeds."""
    rules = [lab for lab in labels if _is_path_rule(lab)]
    if not rules:
        return None
    cols = min(4, len(rules))
    rows = math.ceil(len(rules) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.4 * rows), squeeze=False)
    rates = sorted({r["eta0"] for r in recs})
    colours = plt.cm.viridis(np.linspace(0, 0.95, len(rates)))
    for ax, label in zip(axes.flat, rules):
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
    """loss_<task>.png: loss curves of the smallest seed at three initial rates."""
    seed = min(r["seed"] for r in recs)
    shown = [e for e in (1e-6, 1e-3, 1.0) if any(r["eta0"] == e for r in recs)] or sorted({r["eta0"] for r in recs})[:3]
    fig, axes = plt.subplots(1, len(shown), figsize=(4.5 * len(shown), 3.8), squeeze=False)
    for ax, e in zip(axes[0], shown):
        for label in labels:
            run = next((r for r in recs if r["label"] == label and r["eta0"] == e and r["seed"] == seed), None)
            if run is None or not run["loss"]:
                continue
            ys = _plottable([np.nan if v is None else v for v in run["loss"]])
            ax.plot(np.arange(len(ys)), ys, label=label)
        ax.set_yscale("log")
        ax.set_xlabel(recs[0].get("unit", "step"))
        ax.set_title(rf"{task_name}, $\eta_0$ = {e:g}, seed {seed}", fontsize=9)
    axes[0][0].set_ylabel("loss (noise-free value / full training loss)")
    axes[0][-1].legend(fontsize=7)
    name = _save(fig, out_dir, f"loss_{task_name}.png")
    plt.close(fig)
    return name


def _damping_figure(plt, task_name, recs, labels, agg, out_dir):
    """damping_<task>.png: final metric (median over seeds) against d, one panel per CLARA variant, one line per
    initial rate; the tuned fixed rate of the same base optimizer as a dashed line."""
    task = TASKS[task_name]
    variants = sorted({_base(lab) for lab in labels if "[d=" in lab}, key=_label_order)
    settings = []
    for lab in labels:
        if "[d=" in lab and lab.split("[d=")[1][:-1] not in settings:
            settings.append(lab.split("[d=")[1][:-1])
    settings.sort(key=lambda d: math.inf if d == "auto" else float(d))
    rates = sorted({r["eta0"] for r in recs})
    colours = plt.cm.viridis(np.linspace(0, 0.95, len(rates)))
    fig, axes = plt.subplots(1, len(variants), figsize=(4.2 * len(variants), 3.6), squeeze=False)
    for ax, variant in zip(axes[0], variants):
        for colour, e in zip(colours, rates):
            ys = [np.median(agg[(task_name, f"{variant}[d={d}]", e)]) if (task_name, f"{variant}[d={d}]", e) in agg
                  else np.nan for d in settings]
            ax.plot(range(len(settings)), _plottable(ys), marker="o", color=colour, label=f"{e:g}")
        base = variant.split("-")[0]
        fixed = [np.median(v) for (t, lab, _), v in agg.items() if t == task_name and lab == base]
        if fixed:
            best = min(fixed) if task.lower_is_better else max(fixed)
            ax.axhline(best, color="k", ls="--", lw=1, label=f"tuned {base}")
        ax.set_xticks(range(len(settings)), settings)
        ax.set_xlabel("damping d")
        ax.set_title(variant, fontsize=9)
        if task.lower_is_better:
            ax.set_yscale("log")
    axes[0][0].set_ylabel(task.metric_name + " (median over seeds)")
    axes[0][-1].legend(title=r"$\eta_0$", fontsize=6, title_fontsize=7)
    fig.suptitle(f"{task_name}: final metric against CLARA's damping d", fontsize=10)
    name = _save(fig, out_dir, f"damping_{task_name}.png")
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
def _cell(vals, lower_is_better):
    arr = np.asarray(vals, dtype=float)
    ok = np.isfinite(arr) & (arr > 0 if not lower_is_better else True)
    div = int((~np.isfinite(arr)).sum()) if lower_is_better else int((arr == 0).sum())
    if not ok.any():
        return f"diverged {div}/{len(arr)}"
    m, s = float(arr[ok].mean()), float(arr[ok].std())
    txt = f"{m:.3g} ± {s:.2g}" if lower_is_better else f"{m:.3f} ± {s:.3f}"
    return txt + (f" ({div}/{len(arr)} div)" if div else "")


def _d_text(record) -> str:
    """A row's damping: the setting, and its value where "auto" resolves to a number."""
    setting, value = record.get("damping_setting"), record.get("damping")
    if setting is None:
        return "-"
    return f"{setting} ({value:.3g})" if setting == "auto" and value is not None else f"{setting}"


def _verdict_text(c) -> str:
    return f"**{c.verdict}**" + (" (borderline)" if c.borderline else "")


def _margin_text(c) -> str:
    return "-" if c.margin is None else f"{c.margin:+.3g}"


def _robustness_text(c) -> str:
    return "-" if c.robustness is None else f"{c.robustness:.0%}"


def claims_table(results) -> list[str]:
    """The claims as markdown table rows (also used by the README)."""
    lines = ["| claim | verdict | margin | robustness | numbers |", "|---|---|---|---|---|"]
    for c in results:
        lines.append(f"| {c.id}: {c.text} | {_verdict_text(c)} | {_margin_text(c)} | {_robustness_text(c)} | "
                     f"{c.summary} |")
    return lines


def _header(preset, records) -> list[str]:
    protocols = sorted({r.get("protocol", "clara_ref") for r in records})
    budgets = sorted({(r["task"], r.get("steps_total"), r.get("dtype")) for r in records},
                     key=lambda x: list(TASKS).index(x[0]))
    if len(preset.dampings) > 1 or preset.dampings[0] is not None:
        damping = ("CLARA's damping d is swept over {" + ", ".join(str(d) for d in preset.dampings) + "} on every "
                   "task (\"auto\" is 2 x the exact null spread of the path statistic); the fixed-rate baselines "
                   "run beside it.")
    else:
        damping = ("Synthetic tasks use CLARA's d = \"auto\" (2 x the exact null spread of the path statistic), "
                   "real-data tasks d = 1e-3, as the authors; every row states its d.")
    proto = ("Protocol: " + ", ".join(f"`{p}`" for p in protocols) + " (`clara_ref`: standardised features, "
             "stratified seeded split, reference = sum of per-block expectations; `authors`: raw features, plain "
             "seeded split, Adam-CLARA's reference K mu(N) from the authors' table; synthetic tasks are the same "
             "under both).")
    tasks = {r["task"] for r in records}
    intro = []
    if tasks & {"digits_mlp", "digits_mlp_long"}:
        intro += ["The digits MLP 64-128-64-10 stands in for the paper's image tasks (MNIST, Fashion-MNIST and CIFAR "
                  "are not bundled) at a matched step budget: `digits_mlp` 12,150 steps, `digits_mlp_long` 46,935 "
                  "(the paper's MNIST runs take about 46,900).", ""]
    official = sorted(t for t in tasks if TASKS[t].official_images)
    if official:
        intro += ["The paper's own image tasks, read from the dataset files: " + ", ".join(f"`{t}`" for t in official)
                  + " (MNIST and Fashion-MNIST: the MLP 784-256-128-10; CIFAR-10: the paper's CNN, 2,193,226 "
                  "parameters; batch 128, float32).", ""]
        if any(r.get("data_verified") is False for r in records if r["task"] in official):
            intro += ["**The image files of these runs were not checked against the official checksums "
                      "(`--no-verify`).** If they are not the official MNIST, Fashion-MNIST and CIFAR-10 files, "
                      "these numbers say nothing about the paper's claims.", ""]
        epochs = sorted({r.get("epochs") for r in records if r["task"] in official})
        if epochs != [100]:
            intro += [f"These runs train for {', '.join(map(str, epochs))} epoch{'s' if epochs != [1] else ''}, not "
                      "the paper's 100: their "
                      "verdicts are for that budget only.", ""]
    return intro + [damping, "", proto, "",
                    "Step budgets: " + "; ".join(f"{t} {n:,} steps ({dt})" for t, n, dt in budgets
                                                 if n is not None) + "."]


def write_report(records, out_dir, preset, command, elapsed_s, figures, resumed: int = 0, claims=None) -> str:
    """Write report.md (and claims.json when ``claims`` is not given) and return the report's path."""
    agg = aggregate(records)
    if claims is None:
        claims = claims_mod.evaluate(records)
        write_claims(claims, os.path.join(out_dir, "claims.json"))
    lines = [f"# clara_ref reproduction report: preset `{preset.name}`", "",
             f"Command: `{command}`  ",
             f"Runs: {len(records)} ({len(records) - resumed} computed by this command, {resumed} resumed from "
             f"earlier output); wall time {elapsed_s:.1f} s on {os.cpu_count()} cores; sum of the per-run times "
             f"{sum(r['wall_s'] for r in records):.1f} s; preset: {preset.note}.", ""]
    lines += _header(preset, records)
    lines += ["", "## Claims", ""] + claims_table(claims)
    lines += ["", "Margin: the signed distance of the deciding statistic from the threshold of \"supported\" "
              "(positive: on the supported side). Robustness: the share of 200 seed-bootstrap resamples (seeds "
              "redrawn with replacement in every cell) that give the same verdict; below 90% the verdict is marked "
              "borderline. How each verdict is computed, with every threshold named and justified: "
              "`clara_ref/experiments/claims.py`; every number is in `claims.json`.", ""]
    dupes = claims_mod.identical_tasks(records)
    if dupes:
        lines += ["Identical results on two tasks (evidence a claim must not count twice): " +
                  "; ".join(f"{a} = {b} for {lab}" for a, b, lab in dupes) + ". No claim counts `" +
                  "`, `".join(claims_mod.EXCLUDED_TASKS) + "`.", ""]
    lines += ["## How far the rate can move", "",
              "CLARA multiplies eta by exp(d (P/ref - 1)) per step with 0 <= P <= K (K blocks), so over T steps the "
              "rate can rise by at most exp(d (K/ref - 1) T) and fall by at most exp(d T) (one block, c = 0.2: "
              "+8d per step for SGD, +0.465d for Adam). Claim C3 counts a poor initial rate only when this bound "
              "lets it climb to the smallest rate at which the fixed optimizer succeeds.", "",
              "| task | optimizer | d | reference | K | steps | max factor up | max factor down |",
              "|---|---|---|---|---|---|---|---|"]
    seen = set()
    for r in records:
        if _base(r["optimizer"]) not in CLARA_NAMES or r.get("damping") is None or r.get("reference") is None:
            continue
        key = (r["task"], r["label"], r.get("protocol"))
        if key in seen:
            continue
        seen.add(key)
        up = claims_mod.log_rate_range(r["damping"], r["reference"], r["n_blocks"], r["steps_total"])
        lines.append(f"| {r['task']} | {r['label']} | {_d_text(r)} | {r['reference']:.4g} | {r['n_blocks']} | "
                     f"{r['steps_total']:,} | {_exp_str(up)} | {_exp_str(r['damping'] * r['steps_total'])} |")
    lines += ["", "## Results (mean ± std over seeds of the final metric; columns: initial rate, d0 for the "
              "baselines)", ""]
    for task_name in sorted({r["task"] for r in records}, key=list(TASKS).index):
        task = TASKS[task_name]
        recs = [r for r in records if r["task"] == task_name]
        rates = sorted({r["eta0"] for r in recs})
        figs = [f"![{kind}]({kind}_{task_name}.png)" for kind in ("sensitivity", "eta", "damping")
                if f"{kind}_{task_name}.png" in figures]
        lines += [f"### {task_name}: {task.metric_name} ({'lower' if task.lower_is_better else 'higher'} is better)",
                  "", *figs, "",
                  "| optimizer | d | " + " | ".join(f"{e:g}" for e in rates) + " |",
                  "|---|---|" + "---|" * len(rates)]
        for label in sorted({r["label"] for r in recs}, key=_label_order):
            first = next(r for r in recs if r["label"] == label)
            cells = [(_cell(agg[(task_name, label, e)], task.lower_is_better) if (task_name, label, e) in agg
                      else "") for e in rates]
            lines.append(f"| {label} | {_d_text(first)} | " + " | ".join(cells) + " |")
        lines.append("")
    errors = [r for r in records if r.get("error")]
    if errors:
        lines += ["## Runs that raised an unexpected error", "",
                  "No claim counts them, and the next run of the same command computes them again.", ""] + \
            [f"- {r['run_id']}: {r['error']}" for r in errors]
    lines += ["", "## Files", "", "- `runs/*.json`: one record per run (configuration, versions, seed, protocol, "
              "dtype, step budget, resolved damping and reference, per-step or per-epoch loss, metric and eta, "
              "diverged flag)", "- `summary.csv`: one row per run", "- `claims.json`: every claim's verdict, "
              "numbers, margin and robustness",
              "- figures: " + ", ".join(f"`{f}`" for f in figures), ""]
    path = os.path.join(out_dir, "report.md")
    atomic_write(path, lambda fh: fh.write("\n".join(lines)))
    return path


def _exp_str(x):
    if x is None:
        return "-"
    return f"{math.exp(x):.3g}" if x < 700 else f"e^{x:.0f}"
