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

Real data in sequence (``train_in_sequence``, ``ideal_rates_in_sequence``): a model is trained on a first task for
E1 epochs, then on a second (``clara_ref.data.permuted``: the pixels or the labels permuted) for E2 epochs from
where the first left, its parameters and its optimizer state (the rate, the path, the moments) carried over. The
minibatches of the second phase are shuffled from a stream of their own (seed ``PHASE_TWO_SEED + seed``). The
metric is the test accuracy on the current task (higher is better; a diverged run counts as -inf); the ideal rate of
each phase is defined as above, the second phase from where that seed's run at phase 1's best rate ended.
"""

from __future__ import annotations

import math
from typing import Callable, NamedTuple

import numpy as np

from . import _validate as V
from .training import TrainResult, optimize, train

__all__ = ["PhaseIdeal", "ideal_rates", "PHASE_TWO_SEED", "SequenceResult", "train_in_sequence",
           "ideal_rates_in_sequence"]

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


def _median_accuracy(results) -> float:
    finals = [-math.inf if r.diverged else r.test_accuracy[-1] for r in results]
    return float(np.median(finals))


def _best(medians: dict, lower_is_better: bool = True) -> float:
    best = None
    for rate in sorted(medians):
        if best is None or (medians[rate] < medians[best] if lower_is_better else medians[rate] > medians[best]):
            best = rate                                       # (T3) the best fixed rate of the phase
    return best


def _grid(rates, seeds) -> tuple:
    """The rates (checked, in increasing order: ties go to the smaller) and seeds a phase is tried at."""
    rates = tuple(sorted(V.positive("rates", r) for r in rates))
    if not rates:
        raise ValueError("rates must hold at least one rate")
    seeds = tuple(V.seed(s) for s in seeds)
    if not seeds:
        raise ValueError("seeds must hold at least one seed")
    return rates, seeds


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
    rates, seeds = _grid(rates, seeds)
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


class SequenceResult(NamedTuple):
    """A run over two tasks in sequence: ``run`` holds the curves of both phases joined (a ``TrainResult``: index 0
    is the start, epochs 1 .. E1 on the first task, E1 + 1 .. E1 + E2 on the second; ``test_accuracy`` is the
    accuracy on the current task), ``first_task_accuracy`` the accuracy on the first task's test part at the end
    (None when the run diverged), ``change_at`` the first epoch of the second phase (E1 + 1)."""

    run: TrainResult
    first_task_accuracy: float | None
    change_at: int


def _phase_two(first: TrainResult, optimizer, model, second_data, epochs, batch_size, seed, dtype, eta=None,
               **kw):
    """Phase 2 from where ``first`` ended (its parameters and state; ``eta`` replaces the state's rate if given)."""
    state = first.state if eta is None else first.state._replace(eta=eta)   # (T4) phase 2 goes on from phase 1
    return train(model, optimizer, second_data, epochs=epochs, batch_size=batch_size, seed=PHASE_TWO_SEED + seed,
                 dtype=dtype, theta0=first.theta, state0=state, **kw)


def train_in_sequence(model, optimizer, first, second, *, epochs, batch_size: int = 128, seed: int = 0,
                      dtype=np.float64) -> SequenceResult:
    """Train ``model`` with ``optimizer`` for ``epochs = (E1, E2)`` epochs: E1 on the data ``first``, then E2 on
    ``second`` from where the first phase left (module docstring). A run that diverges in phase 1 stops there.

    >>> import clara_ref as cr
    >>> a = cr.data.load("iris")
    >>> b = cr.data.permuted(a, "labels", seed=0)
    >>> r = train_in_sequence(cr.models.softmax_regression(4, 3), cr.adam(0.05), a, b, epochs=(10, 10),
    ...                       batch_size=32)
    >>> len(r.run.test_accuracy), r.change_at, r.run.test_accuracy[10] > 0.7, r.first_task_accuracy < 0.5
    (21, 11, True, True)
    """
    e1, e2 = _two_epochs(epochs)
    one = train(model, optimizer, first, epochs=e1, batch_size=batch_size, seed=seed, dtype=dtype)
    if one.diverged:
        return SequenceResult(one, None, e1 + 1)
    two = _phase_two(one, optimizer, model, second, e2, batch_size, seed, dtype)
    # index 0 of phase 2 is where phase 1 ended (on the second task's data): the joined curves skip it, so that
    # entry k is epoch k of the whole run
    joined = TrainResult(one.train_loss + two.train_loss[1:], one.test_accuracy + two.test_accuracy[1:],
                         one.eta + two.eta[1:], two.diverged, None if two.diverged_at is None else e1 + two.diverged_at,
                         two.message, two.theta, two.state, one.p_sq + two.p_sq[1:],
                         one.reference + two.reference[1:], two.divergence)
    X_test, y_test = first[2], first[3]
    acc = None if two.diverged else model.accuracy(two.theta, np.asarray(X_test, dtype=two.theta.dtype), y_test)
    return SequenceResult(joined, acc, e1 + 1)


def _two_epochs(epochs) -> tuple:
    if not isinstance(epochs, (tuple, list)) or len(epochs) != 2:
        raise ValueError(f"epochs must be a pair (E1, E2) of positive epoch counts, got {epochs!r}")
    return tuple(V.integer(f"epochs[{i}]", e, hi=V.MAX_COUNT) for i, e in enumerate(epochs))


def ideal_rates_in_sequence(model, build: Callable[[float], object], tasks, rates, *, epochs, batch_size: int = 128,
                            seeds=(0, 1, 2, 3, 4), dtype=np.float64) -> list:
    """The ideal rate of both phases of a sequence (module docstring) for the fixed-rate optimizer ``build(rate)``:
    phase 1 trains on the first task for E1 epochs from the model's initialisation at every rate; phase 2 trains on
    the second for E2 epochs from where each seed's run at the best rate of phase 1 ended. ``tasks`` is a pair of
    datasets ``(first, second)``, or a function of the seed that returns one (a split per seed). ``medians`` are the
    median final test accuracies (a diverged run: -inf).

    >>> import clara_ref as cr
    >>> a = cr.data.load("iris")
    >>> pair = (a, cr.data.permuted(a, "labels", seed=0))
    >>> [p.rate for p in ideal_rates_in_sequence(cr.models.softmax_regression(4, 3), cr.sgd, pair, (1e-3, 1e-1),
    ...                                          epochs=(5, 5), batch_size=32, seeds=(0, 1))]
    [0.1, 0.1]
    """
    e1, e2 = _two_epochs(epochs)
    rates, seeds = _grid(rates, seeds)
    pairs = {s: (tasks(s) if callable(tasks) else tasks) for s in seeds}
    runs = {r: [train(model, build(r), pairs[s][0], epochs=e1, batch_size=batch_size, seed=s, dtype=dtype,
                      divergence_factor=None) for s in seeds] for r in rates}
    medians = {r: _median_accuracy(runs[r]) for r in rates}
    best = _best(medians, lower_is_better=False)
    medians2 = {}
    for r in rates:
        results = [start if start.diverged else
                   _phase_two(start, build(r), model, pairs[s][1], e2, batch_size, s, dtype, eta=r,
                              divergence_factor=None)
                   for s, start in zip(seeds, runs[best])]
        medians2[r] = _median_accuracy(results)
    return [PhaseIdeal(1, 0, e1, best, medians), PhaseIdeal(2, e1, e2, _best(medians2, lower_is_better=False),
                                                             medians2)]
