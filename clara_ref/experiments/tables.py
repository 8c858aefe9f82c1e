"""The run records as the report's cells and files: ``outcomes`` (the one source of every number the tables, the
figures and the summary show), the text of a table cell, ``summary.csv`` and ``claims.json`` (the package's
rendering is described in ``clara_ref.experiments.report``)."""

from __future__ import annotations

import csv
import json
import math
from collections import defaultdict

import numpy as np

from .._io import atomic_write
from .claim_text import summary
from .grid import OPTIMIZERS, TASKS



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
    """``claims.json``: the ClaimResults as objects (non-finite numbers as null), each with its sentence (``summary``,
    from ``claim_text``), ``borderline``, the deciding cells and the seeds that decided it (the per-cell outcomes,
    the case and the thresholds stay out: the bootstrap's working data and what the sentence was made from)."""
    data = []
    for r in results:
        d = dict(id=r.id, text=r.text, verdict=r.verdict, numbers=r.numbers, margin=r.margin,
                 robustness=r.robustness, summary=summary(r),
                 deciding=[dict(task=t, label=lab, rate=e) for t, lab, e in r.deciding], seeds=r.seeds)
        data.append(dict(_json_safe(d), borderline=r.borderline))
    atomic_write(path, lambda fh: json.dump(data, fh, indent=1, allow_nan=False))
    return path


def _tasks(records) -> list:
    return sorted({r["task"] for r in records}, key=list(TASKS).index)


def _label_order(label, optimizer=None):
    """Sort key of a table row or figure panel: the optimizer's place in the table, then the label (a sweep's
    labels add d and c to the same optimizer: the records give ``optimizer``, nothing is parsed from the label)."""
    names = list(OPTIMIZERS)
    optimizer = label if optimizer is None else optimizer
    return (names.index(optimizer) if optimizer in names else len(names), label)


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
