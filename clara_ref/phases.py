"""The ideal rate of each phase of a drifting task: what a rule that follows the change should move its rate to.

A drifting objective (``clara_ref.objectives.drifting``) changes at step ``change_at``, so a run has two phases:
steps 1 .. change_at - 1 and change_at .. T. The *ideal rate of a phase* is the best fixed rate of a grid for that
phase run on its own from the state in which the phase begins:

* phase 1: every rate of the grid from the task's start x0 for change_at - 1 steps; the best rate is the one with
  the smallest median (over seeds) final distance to the phase's optimum;
* phase 2: every rate of the grid for T - change_at + 1 steps, each seed starting where that seed's run at the best
  rate of phase 1 ended (its iterate and its optimizer state, the rate replaced by the one tried), with the noise
  of a stream of its own (seed ``PHASE_TWO_SEED + seed``, so no phase-1 draw is reused).

A run that diverges counts as an infinite distance. Ties go to the smaller rate (the grid is tried in increasing
order and a rate must be strictly better to win).
"""

from __future__ import annotations

import math
from typing import Callable, NamedTuple

import numpy as np

from . import _validate as V
from .training import optimize

__all__ = ["PhaseIdeal", "ideal_rates", "PHASE_TWO_SEED"]

#: phase 2's runs draw their noise from default_rng(PHASE_TWO_SEED + seed)
PHASE_TWO_SEED = 10_000


class PhaseIdeal(NamedTuple):
    """One phase: its first step ``t0 + 1``, its length ``steps``, the best ``rate`` of the grid and the median
    final distance of every rate tried (``medians``: {rate: median})."""

    phase: int
    t0: int
    steps: int
    rate: float
    medians: dict


def _median_final(results) -> float:
    finals = [math.inf if r.diverged else r.distance[-1] for r in results]
    return float(np.median(finals))


def _best(medians: dict) -> float:
    best = None
    for rate in sorted(medians):
        if best is None or medians[rate] < medians[best]:
            best = rate                                       # (T3) the best fixed rate of the phase
    return best


def ideal_rates(objective, build: Callable[[float], object], rates, *, steps: int, seeds=(0, 1, 2, 3, 4)) -> list:
    """The ideal rate of both phases of ``objective`` (module docstring) for the fixed-rate optimizer that
    ``build(rate)`` makes (``clara_ref.sgd``, ``clara_ref.adam``), over ``rates``, in a run of ``steps`` steps.

    >>> import clara_ref as cr
    >>> f = cr.objectives.drifting("quadratic_jump_up", change_at=200)
    >>> [p.rate for p in ideal_rates(f, cr.sgd, (1e-4, 1e-3, 1e-2, 1e-1), steps=400, seeds=(0, 1, 2))]
    [0.1, 0.0001]
    """
    if getattr(objective, "stationary", True):
        raise ValueError("objective must change with the step (clara_ref.objectives.drifting)")
    steps = V.integer("steps", steps, lo=objective.change_at, hi=V.MAX_COUNT)
    rates = tuple(sorted(V.positive("rates", r) for r in rates))
    if not rates:
        raise ValueError("rates must hold at least one rate")
    seeds = tuple(V.seed(s) for s in seeds)
    if not seeds:
        raise ValueError("seeds must hold at least one seed")
    first = objective.change_at - 1
    runs = {r: [optimize(objective, build(r), steps=first, seed=s, divergence_factor=None) for s in seeds]
            for r in rates}
    medians = {r: _median_final(runs[r]) for r in rates}
    best = _best(medians)
    out = [PhaseIdeal(1, 0, first, best, medians)]
    second = steps - first
    starts = runs[best]
    medians2 = {}
    for r in rates:
        results = []
        for s, start in zip(seeds, starts):
            if start.diverged:
                results.append(start)                 # nowhere to go on from: the phase starts diverged
                continue
            results.append(optimize(objective, build(r), steps=second, seed=PHASE_TWO_SEED + s, x0=start.x,
                                    t0=first, state0=start.state._replace(eta=r), divergence_factor=None))
        medians2[r] = _median_final(results)
    out.append(PhaseIdeal(2, first, second, _best(medians2), medians2))
    return out
