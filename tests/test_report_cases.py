"""Every report can be written: each preset's summary, claims, figures and report on records where every
run diverged or one run ended in an error, and (on the presets that hold every kind of task and figure) where none
diverged or the metric has no positive value (a distance of exactly 0, an accuracy of 0). The records are made here,
not run (valid RunRecords with three-point curves), so the test covers every task kind of every preset in seconds."""

import math

import pytest

from clara_ref.experiments import claims, record, report, runner
from clara_ref.experiments.grid import PRESETS, TASKS, expand


def _record(spec, case, k):
    r = runner.error_record(spec, "x", None)
    task = spec.resolved_task()
    n = 2
    r.update(config={"method": spec.optimizer}, error=None, wall_s=0.01, damping_setting=None, damping=None, c=None)
    if task.stepwise:
        r.update(unit="step", steps=n)
    else:
        r.update(unit="epoch", epochs=n, batch_size=task.batch_size)
    null = task.kind == "null"
    start = 0.0 if null else (10.0 if task.lower_is_better else 0.3)
    end = {"none diverged": (0.01 * spec.eta0 if task.lower_is_better else 0.9) if not null else -0.1 * (k % 3),
           "metric zero": 0.0}.get(case, start)
    r["loss"], r["metric"], r["eta"] = [1.0, 0.5, 0.25], [start, (start + end) / 2, end], [spec.eta0] * 3
    if case == "all diverged":
        r.update(diverged=True, diverged_at=1, divergence="non-finite value or iterate", loss=[1.0, None],
                 metric=[start, None], eta=[spec.eta0, None])
    if case == "one errored" and k == 0:
        r = runner.error_record(spec, "RuntimeError: one run failed", None)
    r["final_metric"] = record.final_metric(r)
    assert record.validate(r, run_id=spec.run_id) is None, record.validate(r, run_id=spec.run_id)
    return r


# every preset where everything diverged and where one run errored (the failures seen in real sweeps); where
# nothing diverged and where the metric is 0 (the log-scaled axes' other trap), on the presets with every task kind
CASES = [(p, c) for p in PRESETS for c in ("all diverged", "one errored")] + \
        [(p, c) for p in ("quick", "damping") for c in ("none diverged", "metric zero")]


@pytest.fixture
def cheap_figures(monkeypatch):
    """The figures are drawn and saved in full (that is where a log-scaled axis without positive data fails), at a
    tenth of the resolution and without tight_layout's search for margins, which take most of the time."""
    from matplotlib.figure import Figure

    real = Figure.savefig
    monkeypatch.setattr(Figure, "tight_layout", lambda self, *a, **k: None)
    monkeypatch.setattr(Figure, "savefig", lambda self, *a, **k: real(self, *a, **{**k, "dpi": 9}))


@pytest.mark.parametrize("preset,case", CASES)
def test_every_preset_reports_every_case(tmp_path, preset, case, cheap_figures):
    p = PRESETS[preset]
    # the drift preset's report measures the ideal rate of each phase of each task (seconds of real runs, tested
    # in tests/test_drift.py): one of its four tasks, all of one kind, covers its report
    specs = expand(p, tasks=p.tasks[:1] if preset == "drift" else None, seeds=p.seeds[:2])
    records = [_record(s, case, k) for k, s in enumerate(specs)]
    report.write_summary(records, str(tmp_path / "summary.csv"))
    results = claims.evaluate(records)
    report.write_claims(results, str(tmp_path / "claims.json"))
    # the figures of one task of each kind: drawing all of them would take minutes, and they depend on the kind only
    kinds = {}
    for r in records:
        kinds.setdefault((TASKS[r["task"]].kind, TASKS[r["task"]].lower_is_better), r["task"])
    drawn = [r for r in records if r["task"] in kinds.values()]
    if preset == "damping" and case in ("one errored", "none diverged"):
        drawn = []       # its 30-panel figures take seconds; one error or none changes nothing the quick preset lacks
    elif preset == "damping":
        # one swept variant (every d and c of SGD-CLARA) and its fixed rate draw every kind of figure the sweep has;
        # the other variants repeat the same panels (and drawing them costs 10 s)
        drawn = [r for r in drawn if r["optimizer"] in ("sgd", "sgd-clara")]
    figures = report.write_figures(drawn, str(tmp_path), results)
    path = report.write_report(records, str(tmp_path), p, "test", 1.0, figures, claims=results)
    text = open(path).read()
    for task in {r["task"] for r in records}:
        assert f"### {task}" in text
    if case == "all diverged":
        assert "diverged 2/2" in text and "| diverged 2/2 |" in text
    for c in results:
        assert c.verdict in text and (c.margin is None or not math.isnan(c.margin))


def test_the_figures_nan_percentiles_are_numpys_numbers():
    """figures._nan_percentiles (the rate figures' median and IQR, vectorised) gives exactly np.nanpercentile's
    numbers on NaN-padded curves: runs that stopped early, columns with 0 to all values."""
    import warnings

    import numpy as np

    from clara_ref.experiments.figures import _nan_percentiles

    rng = np.random.default_rng(0)
    for _ in range(200):
        c = rng.lognormal(0.0, 3.0, (int(rng.integers(1, 12)), int(rng.integers(1, 40))))
        for row in range(c.shape[0]):
            if rng.random() < 0.4:
                c[row, int(rng.integers(0, c.shape[1])):] = np.nan
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)          # all-NaN columns: NaN, with a warning
            expected = np.nanpercentile(c, (50, 25, 75), axis=0)
        assert np.array_equal(_nan_percentiles(c, (50, 25, 75)), expected, equal_nan=True)
