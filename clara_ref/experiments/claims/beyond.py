"""C6 and C7, beyond the paper: on the drifting tasks, does CLARA follow a change of the ideal rate? On the
stationary ones, does a tuned schedule do what CLARA does? (package docstring: ``clara_ref.experiments.claims``)."""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from ...constant import adam, sgd
from ...phases import ideal_rates, ideal_rates_in_sequence
from ..grid import TASKS, RunSpec, load_sequence
from ..optimizers import OPTIMIZERS
from .cells import Cells, _absent, _cell, _Reach, _result, _share, _unreachable
from .rules import CLARA_NAMES, DEFAULT, ClaimResult, Thresholds

PHASES = ("phase1", "end")
_BASES = {"sgd": sgd, "adam": adam}


@lru_cache(maxsize=64)
def ideal(task_name: str, rates: tuple, seeds: tuple, scale: float = 1.0, protocol: str = "clara_ref") -> dict:
    """{base: (phase 1, phase 2)} ideal rates (``PhaseIdeal``) of a drifting task for SGD and Adam over ``rates``
    and ``seeds`` at the runs' ``scale`` (``clara_ref.phases.ideal_rates``, or ``ideal_rates_in_sequence`` for a
    task in sequence on the data of each seed under ``protocol``; deterministic, so computed once per task, rates,
    seeds, scale and protocol)."""
    task = TASKS[task_name] if scale == 1.0 else TASKS[task_name].scaled(scale)
    if task.sequence:
        def pair(seed):
            return load_sequence(RunSpec(task_name, "sgd", 1.0, seed, protocol=protocol))
        return {base: tuple(ideal_rates_in_sequence(task.model(), make, pair, rates, epochs=task.phase_epochs,
                                                    batch_size=task.batch_size, seeds=seeds,
                                                    dtype=np.dtype(task.dtype)))
                for base, make in _BASES.items()}
    return {base: tuple(ideal_rates(task.objective_of(), make, rates, steps=task.steps, seeds=seeds))
            for base, make in _BASES.items()}


def _best_of(cells: Cells, t, labels):
    """(label, rate, median) of the best cell over ``labels`` and their rates: the tuned choice among them, the
    lowest median distance or the highest median accuracy (ties go to the alphabetically first label, then to the
    smaller rate)."""
    low = cells.tasks[t]["lower_is_better"]
    cands = [(cells.median(t, lab, e), lab, e) for lab in labels for e in cells.rates_of[(t, lab)]]
    m, lab, e = min(cands, key=lambda c: (c[0] if low else -c[0], c[1], c[2]))
    return lab, e, m


def _first_phase(task: str, base: str) -> tuple:
    """What the first phase of a drifting task is, as the base optimizer sees it: the curvature, noise, drift and
    start before the change (Adam's steps ignore a scale of the gradient, eps aside, so the curvature is left out
    for Adam). Three of the four synthetic tasks share their first phase (h = 1, sigma = 1, a still optimum): it is
    one comparison, counted once; so do the two tasks in sequence (the same data, model and epochs before the
    change)."""
    spec = TASKS[task]
    if spec.sequence:
        return (base, "sequence", spec.dataset, spec.sizes, spec.batch_size, spec.dtype, spec.damping, spec.change_at)
    f = spec.objective_of()
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
    info = cells.tasks[t]
    first, second = ideal(t, tuple(cells.rates_of[(t, base)]), info["seeds"], info["scale"], info["protocol"])[base]
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
    median final metric): X-CLARA against the tuned fixed X and the better of the tuned schedules X-cosine and
    X-step, at the end of each phase (the metric at step, or epoch, change_at - 1 and at the end of the run; a first
    phase that repeats an earlier task's for X is shown and not counted, ``_first_phase``). A win is a median better
    than both by more than the noise margin (REL_MARGIN for distances, ACC_MARGIN for the accuracy on the current
    task of a task in sequence), a loss a median that either beats by as much; the rest ties. Following: over
    FOLLOW_STEPS steps (FOLLOW_EPOCHS epochs on a task in sequence) after the change, X-CLARA's median ln eta must
    move by at least FOLLOW_SHARE of ln(ideal_2 / ideal_1) in its direction, the ideal rates of X for the two phases
    measured by ``clara_ref.phases.ideal_rates`` (``ideal_rates_in_sequence``) over the records' rates and seeds (a
    base whose two ideal rates are equal has nothing to follow: not evaluable). A task where X-CLARA's rate cannot
    move MIN_REACH-fold within each phase is not evaluable. Supported when the share of wins among decided
    comparisons and the share of followed changes both reach SUPPORT_SHARE; not supported when neither exceeds
    REJECT_SHARE."""
    reach = _Reach(cells, "C6", th, per_phase=True)
    pairs, outcomes, beats, follows, unchanged, seen = [], {}, [], [], [], set()
    for t in cells.claim_tasks(("drift",)):
        for base in ("sgd", "adam"):
            clara, schedules = base + "-clara", [lab for lab in (base + "-cosine", base + "-step") if cells.has(t, lab)]
            if not (cells.has(t, base) and cells.has(t, clara) and schedules) or not reach.ok(t, clara):
                continue
            rate = {lab: _best_of(cells, t, [lab])[1] for lab in [clara, base] + schedules}
            sign = 1.0 if cells.tasks[t]["lower_is_better"] else -1.0
            best_schedule = min(schedules, key=lambda lab: (sign * cells.median(t, lab, rate[lab]), lab))
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


# ---------------------------------------------------------------------------------------------- C7
def claim_c7(cells: Cells, th: Thresholds = DEFAULT) -> ClaimResult:
    """C7 per stationary task (the claims' synthetic, tabular and image tasks) and base X: the best of X's CLARA
    variants that can move their rate MIN_REACH-fold, the best fixed X and the best of X's schedules, each tuned
    over its initial rates (the best median). Among the pairs where CLARA beats the tuned fixed rate (by the noise
    margin: CLARA has a benefit there), the share where the tuned schedule is at least as good as CLARA (better or
    within the margin). Supported (CLARA's benefit is what annealing gives) when that share reaches SUPPORT_SHARE,
    not supported when it is at most REJECT_SHARE; no pair with a benefit leaves nothing to explain (mixed)."""
    reach = _Reach(cells, "C7", th)
    rows, outcomes = [], {}
    for t in cells.claim_tasks():
        for base in ("sgd", "adam"):
            schedules = [lab for lab in (base + "-cosine", base + "-step") if cells.has(t, lab)]
            variants = [lab for (tt, lab) in sorted(cells.rates_of) if tt == t and cells.variant(t, lab) in CLARA_NAMES
                        and OPTIMIZERS[cells.variant(t, lab)].base == base]
            if not (schedules and cells.has(t, base) and variants):
                continue
            variants = [lab for lab in variants if reach.ok(t, lab)]
            if not variants:
                continue
            c_lab, c_rate, c = _best_of(cells, t, variants)
            f_lab, f_rate, f = _best_of(cells, t, [base])
            s_lab, s_rate, s = _best_of(cells, t, schedules)
            benefit = cells.better(t, c, f, th)
            outcome = ("no benefit" if not benefit else "clara" if cells.better(t, c, s, th) else
                       "schedule" if cells.better(t, s, c, th) else "tie")
            rows.append(dict(task=t, base=base, clara=c_lab, clara_rate=c_rate, clara_median=c, fixed_rate=f_rate,
                             fixed_median=f, schedule=s_lab, schedule_rate=s_rate, schedule_median=s, outcome=outcome))
            outcomes[(t, base)] = (outcome, (_cell(t, c_lab, c_rate), _cell(t, f_lab, f_rate), _cell(t, s_lab, s_rate)))
    if not rows:
        if reach.left_out:
            return _unreachable("C7", reach, th)
        return _absent("C7", th)
    counts = {k: sum(r["outcome"] == k for r in rows) for k in ("clara", "schedule", "tie", "no benefit")}
    matched = counts["schedule"] + counts["tie"]
    share = _share(matched, counts["clara"])
    numbers = dict(schedule_better=counts["schedule"], ties=counts["tie"], clara_better=counts["clara"],
                   no_benefit=counts["no benefit"], share=share, pairs=rows, not_evaluable=reach.listing())
    if math.isnan(share):
        return _result("C7", "mixed", numbers, -th.support_share, th, "no_separation", outcomes)
    verdict = ("supported" if share >= th.support_share else "not supported" if share <= th.reject_share else "mixed")
    return _result("C7", verdict, numbers, share - th.support_share, th, outcomes=outcomes)
