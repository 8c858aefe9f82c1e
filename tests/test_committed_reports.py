"""The committed reports under docs/ agree with their summary.csv: every table cell of report.md is recomputed from
the runs of summary.csv (mean and spread of the runs that did not diverge, and how many did), no run that ends
beyond the divergence bound is recorded as not diverged, and no accuracy of 0.0 is shown as a divergence."""

import csv
import math
import pathlib

import numpy as np
import pytest

from clara_ref.experiments.grid import TASKS
from clara_ref.experiments.report import cell_text
from clara_ref.training import DIVERGENCE_FACTOR

DOCS = pathlib.Path(__file__).resolve().parent.parent / "docs"
REPORTS = [p.parent.name for p in sorted(DOCS.glob("*/report.md")) if (p.parent / "summary.csv").exists()]


def _summary(folder):
    with open(DOCS / folder / "summary.csv") as fh:
        return list(csv.DictReader(fh))


def _tables(folder):
    """{(task, label, rate): cell text} from the per-task tables of report.md."""
    out, task, rates = {}, None, None
    for line in (DOCS / folder / "report.md").read_text().splitlines():
        if line.startswith("### "):
            task, rates = line[4:].split(":")[0], None
        elif task and line.startswith("| optimizer | d |"):
            rates = [float(x) for x in line.strip("|").split("|")[2:]]
        elif task and rates and line.startswith("| ") and not line.startswith("|---"):
            cols = [c.strip() for c in line.strip().strip("|").split("|")]
            for rate, text in zip(rates, cols[2:]):
                if text:
                    out[(task, cols[0], rate)] = text
        elif not line.strip() and rates:
            task, rates = None, None
    return out


def _start_distance(task):
    t = TASKS[task]
    f = t.objective_of()
    return f.distance(f.x0)


def test_every_committed_report_is_checked():
    assert {"paper", "paper-authors", "images", "damping", "drift"} <= set(REPORTS)


@pytest.mark.parametrize("folder", REPORTS)
def test_report_tables_are_the_summary_recomputed(folder):
    rows = _summary(folder)
    runs = {}
    for r in rows:
        if r["error"]:
            continue
        key = (r["task"], r["label"], float(r["eta0"]))
        runs.setdefault(key, []).append((int(r["seed"]), float(r["final_metric"]), r["diverged"] == "True"))
    tables = _tables(folder)
    assert set(tables) == set(runs), "report.md and summary.csv hold different cells"
    for key, text in tables.items():
        assert text == cell_text(sorted(runs[key]), TASKS[key[0]].lower_is_better), key


@pytest.mark.parametrize("folder", REPORTS)
def test_no_run_beyond_the_bound_is_recorded_as_not_diverged(folder):
    """A synthetic run's final distance beyond DIVERGENCE_FACTOR times its start, or a non-finite final metric,
    is a divergence; an accuracy of exactly 0.0 is a result and stays one."""
    start = {t: _start_distance(t) for t in TASKS if TASKS[t].kind == "synthetic"}
    for r in _summary(folder):
        if r["error"] or r["diverged"] == "True":
            continue
        value = float(r["final_metric"])
        assert math.isfinite(value), r["run_id"]
        if r["task"] in start:
            assert value <= DIVERGENCE_FACTOR * start[r["task"]], r["run_id"]
    zeros = [r for r in _summary(folder) if r["metric_name"] == "test accuracy" and float(r["final_metric"]) == 0.0]
    assert all(r["diverged"] == "True" or r["divergence"] == "" for r in zeros)


def test_the_tables_read_a_zero_accuracy_as_a_result():
    assert cell_text([(0, 0.0, False), (1, 0.567, False)], False) == "0.283 ± 0.283"
    assert cell_text([(0, 0.0, True), (1, 0.567, False)], False) == "0.567 ± 0.000 (1/2 div)"
    assert cell_text([(0, math.inf, True)], True) == "diverged 1/1"
    assert np.isclose(float(cell_text([(0, 2.0, False), (1, 4.0, False)], True).split(" ")[0]), 3.0)
