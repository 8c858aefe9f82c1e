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

import math
import os

from .._io import atomic_write
from ..rate_control import log_rate_range
from . import claims as claims_mod
from .claim_text import summary
from .drift import drift_section
from .figures import write_figures
from .grid import NULL_BURN_IN, TASKS
from .optimizers import PATH_RULES
from .record import identical_tasks
from .tables import _d_text, _label_order, _tasks, cell_text, outcomes, write_claims, write_summary

__all__ = ["write_summary", "write_figures", "write_report", "write_claims", "outcomes", "cell_text",
           "claims_table"]


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
                     f"{_seeds_text(c)} | {summary(c)} |")
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
        if r["optimizer"] not in PATH_RULES or r.get("damping") is None or r.get("reference") is None:
            continue
        if TASKS[r["task"]].kind == "null":
            continue
        key = (r["task"], r["label"], r.get("protocol"))
        if key in seen:
            continue
        seen.add(key)
        up = log_rate_range(r["damping"], r["reference"], r["n_blocks"], r["steps_total"])
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


def _claims_section(claims, decision, records) -> list[str]:
    """The claims table, how to read it, the cells left out, the extra seeds, the thresholds and the twin tasks."""
    lines = []
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
    dupes = identical_tasks(records)
    if dupes:
        lines += ["Identical results on two tasks (evidence a claim must not count twice): " +
                  "; ".join(f"{a} = {b} for {lab}" for a, b, lab in dupes) + ". No claim counts `" +
                  "`, `".join(claims_mod.EXCLUDED_TASKS) + "`.", ""]
    return lines


def _reach_section(records) -> list[str]:
    """How far each path rule can move its rate in its budget, and why the 2017 rule moves faster."""
    lines = []
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
    return lines


def _results_section(records, figures) -> list[str]:
    """One table per task (mean and spread over the seeds that did not diverge, and how many diverged), its
    figures, C0's figures and the runs that raised."""
    cells = outcomes(records)
    lines = []
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
        optimizer_of = {r["label"]: r["optimizer"] for r in recs}
        for label in sorted(optimizer_of, key=lambda lab: _label_order(lab, optimizer_of[lab])):
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
    return lines


def write_report(records, out_dir, preset, command, elapsed_s, figures, resumed: int = 0, claims=None,
                 decision=None, interrupted: bool = False) -> str:
    """Write report.md (and claims.json when ``claims`` is not given) and return the report's path. ``decision``:
    what the extra seeds did (``clara_ref.experiments.decide``), shown in its own section."""
    if claims is None:
        claims = claims_mod.evaluate(records)
        write_claims(claims, os.path.join(out_dir, "claims.json"))
    lines = [f"# clara_ref reproduction report: preset `{preset.name}`", "",
             f"Command: `{command}`  ",
             f"Runs: {len(records)} ({len(records) - resumed} computed by this command, {resumed} resumed from "
             f"earlier output); wall time {elapsed_s:.1f} s on {os.cpu_count()} cores; sum of the per-run times "
             f"{sum(r.get('wall_s', 0.0) for r in records):.1f} s; preset: {preset.note}.", ""]
    if interrupted:
        lines += ["**This command was interrupted**: the report covers the runs that had finished; a rerun resumes "
                  "the rest.", ""]
    lines += _header(preset, records)
    lines += _claims_section(claims, decision, records)
    lines += _reach_section(records)
    lines += drift_section(records, figures)
    lines += _results_section(records, figures)
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
