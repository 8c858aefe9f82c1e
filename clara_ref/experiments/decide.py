"""Seeds until decided: a claim whose verdict is not robust at the preset's seeds gets more seeds where it is
decided.

The bootstrap of ``clara_ref.experiments.claims`` says how often a verdict survives redrawing the seeds; a verdict
that holds in fewer than ROBUST_SHARE (90%) of the resamples is not a result yet. Its *deciding cells* are the
(task, optimizer, rate) cells whose outcome (a win, a loss, a tie, a success) the resamples change in at least
DECIDING_SHARE (10%) of them. Those cells, and only those, are run again with the next seeds, in order (5, 6, ...
for a preset of seeds 0-4), ``batch`` seeds per round, up to ``max_seeds`` per cell, and the claims are evaluated
again, until every claim is robust, no deciding cell has seeds left, or the next round would not fit in the time
budget. Extra seeds are ordinary runs (one JSON each), so a rerun resumes them like every other run, and the same
records always lead to the same next round.

A claim that is still not robust at the end is "undecided": its verdict is replaced by that word, and its
``numbers["undecided"]`` keeps the verdict it leaned to, its robustness, the seeds it had and why it stopped.
A claim with parts (C0's two halves) is also given seeds while one of its parts is not robust; a part still not
robust at the end says so (``numbers["parts"][name]["undecided"]``) beside a claim verdict that is. Every claim's
``seeds`` (the most seeds any of its cells had) says how many seeds decided it.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from . import claims as C

__all__ = ["until_decided", "Decision"]


class Decision:
    """What the extra rounds did: ``results`` (the final claims), ``records`` (the base and the extra runs),
    ``rounds`` (one dict per round: the seeds added, the cells, the runs, the claims still open) and ``stopped``
    (why the extra rounds ended)."""

    def __init__(self, results, records, rounds, stopped):
        self.results, self.records, self.rounds, self.stopped = results, records, rounds, stopped


def _template(specs) -> dict:
    """(task, label, rate) -> a RunSpec of that cell (its seed to be replaced)."""
    return {(s.task, s.label, float(s.eta0)): s for s in specs}


def _cost(records) -> dict:
    """(task, label) -> the median wall time of its runs so far, the estimate of one more."""
    times = {}
    for r in records:
        times.setdefault((r["task"], r["label"]), []).append(float(r.get("wall_s") or 0.0))
    return {k: float(np.median(v)) for k, v in times.items()}


def until_decided(specs, records, run, *, max_seeds: int, budget_s: float, jobs: int = 1, batch: int = 5,
                  evaluate=C.evaluate) -> Decision:
    """Evaluate the claims on ``records`` and give the deciding cells of every claim that is not robust more
    seeds, as the module docstring says. ``run(specs) -> records`` runs (or resumes) the extra specs.

    ``budget_s`` bounds the wall time of the extra runs on ``jobs`` workers, charged with the time each run's
    record gives (``wall_s``), whether it was computed now or resumed from disk: a rerun of the same command on
    the same folder stops at the same round as the command that computed it (a budget charged with the time a
    command spent would let every rerun add a round). Before a round, its runs are estimated by the median time
    of their cell's runs so far; a round that would not fit is not started."""
    if max_seeds < 1 or batch < 1 or budget_s < 0:
        raise ValueError("max_seeds and batch must be >= 1 and budget_s >= 0")
    templates = _template(specs)
    records = list(records)
    results = evaluate(records)
    rounds, left, stopped = [], float(budget_s), "every claim is robust"
    opened = {r.id for r in results if _open(r)}
    while True:
        open_claims = [r for r in results if _open(r)]
        if not open_claims:
            stopped = "every claim is robust"
            break
        seeds_of = _seeds(records)
        cells = sorted({c for r in open_claims for c in r.deciding if c in templates})
        todo = []
        for cell in cells:
            have = seeds_of.get(cell, set())
            start = max(have) + 1 if have else 0
            todo += [replace(templates[cell], seed=s) for s in range(start, min(start + batch, max_seeds))
                     if len(have) < max_seeds]
        if not todo:
            stopped = f"the deciding cells have {max_seeds} seeds" if cells else "no cell decides the open claims"
            break
        cost = _cost(records)
        estimate = sum(cost.get((s.task, s.label), 0.0) for s in todo) / max(1, jobs)
        if estimate > left:
            stopped = (f"the next round (about {estimate:.0f} s) does not fit in what is left of the "
                       f"{budget_s:.0f} s budget ({max(left, 0.0):.0f} s)")
            break
        extra = run(todo)
        records += extra
        left -= sum(float(r.get("wall_s") or 0.0) for r in extra) / max(1, jobs)
        results = evaluate(records)
        rounds.append(dict(seeds=sorted({s.seed for s in todo}), cells=len(cells), runs=len(todo),
                           open=[r.id for r in open_claims], estimate_s=estimate))
    final = []
    for r in results:
        if r.id in opened and _open(r) and r.robustness < C.ROBUST_SHARE:
            numbers = dict(r.numbers, undecided=dict(leaning=r.verdict, robustness=r.robustness, seeds=r.seeds,
                                                     why=stopped))
            r = r._replace(verdict=C.UNDECIDED_VERDICT, numbers=numbers)
        elif r.id in opened and _open(r):
            # the claim's verdict is robust, but a part of it is not: the part says so
            parts = {k: dict(v, undecided=stopped) if k in _open_parts(r) else v
                     for k, v in r.numbers["parts"].items()}
            r = r._replace(numbers=dict(r.numbers, parts=parts, decided_at_seeds=r.seeds))
        elif r.id in opened:
            r = r._replace(numbers=dict(r.numbers, decided_at_seeds=r.seeds))
        final.append(r)
    return Decision(final, records, rounds, stopped)


def _open(result) -> bool:
    """Is this verdict not robust yet: a real verdict whose bootstrap robustness, or that of one of its parts (C0's
    two halves), is below ROBUST_SHARE?"""
    if result.robustness is None or result.verdict in C.UNDECIDED or math.isnan(result.robustness):
        return False
    return result.robustness < C.ROBUST_SHARE or bool(_open_parts(result))


def _open_parts(result) -> list:
    return [k for k, v in result.numbers.get("parts", {}).items()
            if v.get("robustness") is not None and v["robustness"] < C.ROBUST_SHARE]


def _seeds(records) -> dict:
    out = {}
    for r in records:
        out.setdefault((r["task"], r["label"], float(r["eta0"])), set()).add(int(r["seed"]))
    return out
