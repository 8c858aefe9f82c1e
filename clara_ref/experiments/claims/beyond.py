"""C6, beyond the paper: on the drifting tasks, does CLARA follow a change of the ideal rate? (package docstring:
``clara_ref.experiments.claims``)."""

from __future__ import annotations

import math

from ..drift import ideal
from ..grid import TASKS
from .cells import Cells, _absent, _cell, _Reach, _result, _share, _unreachable
from .rules import DEFAULT, ClaimResult, Thresholds

PHASES = ("phase1", "end")


def _tuned(cells: Cells, t, label) -> float:
    """The initial rate with the best median final distance (ties to the smaller rate)."""
    rates = cells.rates_of[(t, label)]
    return min(rates, key=lambda e: (cells.median(t, label, e), e))


def _first_phase(task: str, base: str) -> tuple:
    """What the first phase of a drifting task is, as the base optimizer sees it: the curvature, noise, drift and
    start before the change (Adam's steps ignore a scale of the gradient, eps aside, so the curvature is left out
    for Adam). Three of the four tasks share their first phase (h = 1, sigma = 1, a still optimum): it is one
    comparison, counted once."""
    f = TASKS[task].objective_of()
    return (base, None if base == "adam" else f.curvature[0], f.noise[0], f.speed, tuple(f.x0))


def _at(cells: Cells, phase, t, label, rate) -> float:
    return cells.series_median("phase1", t, label, rate) if phase == "phase1" else cells.median(t, label, rate)


def _beat(cells: Cells, th: Thresholds, t, base, rate, best_schedule, seen, row, outcomes) -> list:
    """The outcome at the end of each phase of X-CLARA against the tuned X and the better tuned schedule (a first
    phase already seen for X is "repeat": shown, not counted)."""
    clara, counted = base + "-clara", []
    basis = (_cell(t, clara, rate[clara]), _cell(t, base, rate[base]), _cell(t, best_schedule, rate[best_schedule]))
    for phase in PHASES:
        a, f, s = (_at(cells, phase, t, lab, rate[lab]) for lab in (clara, base, best_schedule))
        if phase == "phase1":
            problem = _first_phase(t, base)
            if problem in seen:                       # the same first phase as an earlier task: shown, not counted
                row[phase] = dict(clara=a, fixed=f, schedule=s, outcome="repeat")
                continue
            seen.add(problem)
        outcome = ("win" if cells.better(t, a, f, th) and cells.better(t, a, s, th) else
                   "loss" if cells.better(t, f, a, th) or cells.better(t, s, a, th) else "tie")
        row[phase] = dict(clara=a, fixed=f, schedule=s, outcome=outcome)
        outcomes[("beat", t, base, phase)] = (outcome, basis)
        counted.append(outcome)
    return counted


def _follow(cells: Cells, th: Thresholds, t, base, rate, row, outcomes):
    """Did X-CLARA's rate move at least FOLLOW_SHARE of the way to the new ideal (None: the ideal did not change)?"""
    clara = base + "-clara"
    first, second = ideal(t, tuple(cells.rates_of[(t, base)]), cells.tasks[t]["seeds"])[base]
    row["ideal"] = (first.rate, second.rate)
    if first.rate == second.rate:
        row["follow"] = None
        return None
    need = math.log(second.rate / first.rate)
    moved = cells.series_median("follow", t, clara, rate[clara])
    ok = math.isfinite(moved) and math.copysign(1.0, need) * moved >= th.follow_share * abs(need)
    row["follow"] = dict(moved=moved, needed=need, followed=bool(ok))
    outcomes[("follow", t, base)] = ("followed" if ok else "not followed", (_cell(t, clara, rate[clara]),))
    return bool(ok)


def claim_c6(cells: Cells, th: Thresholds = DEFAULT) -> ClaimResult:
    """C6 per drifting task and base X (SGD, Adam), every method at its best initial rate for the whole run (by the
    median final distance): X-CLARA against the tuned fixed X and the better of the tuned schedules X-cosine and
    X-step, at the end of each phase (the distance at step change_at - 1, and at the end of the run; a first phase
    that repeats an earlier task's for X is shown and not counted, ``_first_phase``). A win is a median lower than
    both by more than REL_MARGIN, a loss a median that either beats by as much; the rest ties. Following: over
    FOLLOW_STEPS steps after the change, X-CLARA's median ln eta must move by at least FOLLOW_SHARE of
    ln(ideal_2 / ideal_1) in its direction, the ideal rates of X for the two phases measured by
    ``clara_ref.phases.ideal_rates`` over the records' rates and seeds (a base whose two ideal rates are equal
    has nothing to follow: not evaluable). Supported when the share of wins among decided comparisons and the
    share of followed changes both reach SUPPORT_SHARE; not supported when neither exceeds REJECT_SHARE."""
    reach = _Reach(cells, "C6", th)
    pairs, outcomes, beats, follows, unchanged, seen = [], {}, [], [], [], set()
    for t in cells.claim_tasks(("drift",)):
        for base in ("sgd", "adam"):
            clara, schedules = base + "-clara", [lab for lab in (base + "-cosine", base + "-step") if cells.has(t, lab)]
            if not (cells.has(t, base) and cells.has(t, clara) and schedules) or not reach.ok(t, clara):
                continue
            rate = {lab: _tuned(cells, t, lab) for lab in [clara, base] + schedules}
            best_schedule = min(schedules, key=lambda lab: (cells.median(t, lab, rate[lab]), lab))
            row = dict(task=t, base=base, clara_rate=rate[clara], fixed_rate=rate[base], schedule=best_schedule,
                       schedule_rate=rate[best_schedule])
            beats += _beat(cells, th, t, base, rate, best_schedule, seen, row, outcomes)
            followed = _follow(cells, th, t, base, rate, row, outcomes)
            if followed is None:
                unchanged.append(f"{t}/{base}")
            else:
                follows.append(followed)
            pairs.append(row)
    if not pairs:
        if reach.left_out:
            return _unreachable("C6", reach, th)
        return _absent("C6", th)
    won, lost = beats.count("win"), beats.count("loss")
    wins, share_followed = _share(won, lost), _share(sum(follows), len(follows) - sum(follows))
    numbers = dict(wins=won, losses=lost, ties=beats.count("tie"), win_share=wins, followed=sum(follows),
                   not_followed=len(follows) - sum(follows), follow_share=share_followed, ideal_unchanged=unchanged,
                   pairs=pairs, not_evaluable=reach.listing())
    shares = [x for x in (wins, share_followed) if not math.isnan(x)]
    if len(shares) < 2:
        return _result("C6", "mixed", numbers, -th.support_share, th, "no_separation", outcomes)
    margin = min(shares) - th.support_share
    verdict = ("supported" if margin >= 0 else "not supported" if max(shares) <= th.reject_share else "mixed")
    return _result("C6", verdict, numbers, margin, th, outcomes=outcomes)
