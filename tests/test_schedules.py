"""The schedule baselines (clara_ref.schedules): the rate of every update against the closed forms (H2)-(H4), and
the move theta - eta_t s_t made with the direction of a constant-rate optimizer."""

import math

import numpy as np
import pytest

import clara_ref as cr
from clara_ref.errors import LearningRateError
from clara_ref.schedules import scheduled


def _rates(opt, steps):
    theta, state, out = np.ones(3), opt.init(np.ones(3)), []
    for _ in range(steps):
        theta, state = opt.update(theta, np.full(3, 0.5), state)
        out.append(state.eta)
    return out


def test_cosine_with_warm_up_at_warm_up_mid_run_and_end():
    T, eta0 = 1000, 0.3
    rates = _rates(scheduled("sgd", eta0, T), T)
    W = 50                                                       # ceil(0.05 * 1000) warm-up updates
    assert rates[0] == pytest.approx(eta0 / W, rel=1e-15)        # update 1: eta0 (0 + 1) / W
    assert rates[24] == pytest.approx(eta0 * 25 / W, rel=1e-15)  # half-way through the warm-up
    assert rates[W - 1] == pytest.approx(eta0, rel=1e-15)        # the warm-up ends at eta0 ...
    assert rates[W] == pytest.approx(eta0, rel=1e-15)            # ... where the cosine starts (s = W)
    mid = W + (T - W) // 2                                        # s - W = (T - W) / 2: cos(pi / 2) = 0
    assert rates[mid] == pytest.approx(eta0 / 2, rel=1e-12)
    assert rates[-1] == pytest.approx(eta0 * (1 + math.cos(math.pi * (T - 1 - W) / (T - W))) / 2, rel=1e-12)
    assert 0 < rates[-1] < 1e-5 * eta0                           # near 0, never 0 within the budget
    assert all(a <= b for a, b in zip(rates[:W], rates[1:W])) and all(a >= b for a, b in zip(rates[W:], rates[W + 1:]))


def test_step_decay_multiplies_by_a_tenth_at_half_and_three_quarters():
    T, eta0 = 200, 0.5
    rates = _rates(scheduled("adam", eta0, T, schedule="step"), T)
    assert rates[:100] == [eta0] * 100                           # updates 1-100: s = 0 .. 99 < ceil(0.5 T)
    assert rates[100:150] == [eta0 * 0.1] * 50                   # s = 100 .. 149
    assert rates[150:] == [eta0 * 0.1 ** 2] * 50                 # s = 150 .. 199
    odd = _rates(scheduled("sgd", 1.0, 7, schedule="step"), 7)   # ceil(3.5) = 4, ceil(5.25) = 6
    assert odd == [1.0] * 4 + [0.1] * 2 + [0.1 ** 2]


def test_the_move_is_the_direction_at_the_scheduled_rate():
    theta = np.array([0.3, -1.2, 2.0])
    g = np.array([0.5, 0.25, -1.0])
    opt = scheduled("adam", 0.2, total_steps=100)
    fixed = cr.adam(0.2 / 5)                                     # update 1 runs at eta0 / W, W = 5
    a, _ = opt.update(theta, g, opt.init(theta))
    b, _ = fixed.update(theta, g, fixed.init(theta))
    assert a.tolist() == b.tolist()
    assert theta.tolist() == [0.3, -1.2, 2.0]                     # the caller's array is not touched
    sgd = scheduled("sgd", 0.2, total_steps=100)                  # SGD's step is g itself: theta - (0.2 / 5) g
    moved, _ = sgd.update(theta, g, sgd.init(theta))
    assert moved.tolist() == (theta - 0.04 * g).tolist()


def test_a_schedule_refuses_what_it_cannot_do():
    opt = scheduled("sgd", 0.1, total_steps=2)
    theta, state = np.ones(2), opt.init(np.ones(2))
    for _ in range(2):
        theta, state = opt.update(theta, np.ones(2), state)
    with pytest.raises(LearningRateError, match="step 3 is beyond the schedule's total_steps = 2"):
        opt.update(theta, np.ones(2), state)
    for bad, match in ((dict(base="rmsprop"), "base must be"), (dict(schedule="linear"), "schedule must be one of"),
                       (dict(total_steps=1), "total_steps"), (dict(warmup=0.0), "warmup"),
                       (dict(gamma=1.5), "gamma"), (dict(milestones=(0.5, 1.0)), "milestones")):
        args = dict(base="sgd", eta0=0.1, total_steps=10) | bad
        with pytest.raises(ValueError, match=match):
            scheduled(**args)


def test_the_grid_runs_each_schedule_over_the_run_s_own_budget():
    from clara_ref.experiments.grid import PRESETS, TASKS, RunSpec, build_optimizer
    from clara_ref.experiments.optimizers import SCHEDULE_NAMES

    assert SCHEDULE_NAMES == ("sgd-cosine", "adam-cosine", "sgd-step", "adam-step")
    for name in SCHEDULE_NAMES:
        full = build_optimizer(RunSpec(task="sphere", optimizer=name, eta0=0.1, seed=0))[0]
        half = build_optimizer(RunSpec(task="iris", optimizer=name, eta0=0.1, seed=0, scale=0.5))[0]
        assert full.total_steps == TASKS["sphere"].steps_total
        assert half.total_steps == TASKS["iris"].scaled(0.5).steps_total
        assert full.name == name                                    # "sgd-cosine" is its own name too
    assert set(SCHEDULE_NAMES) <= set(PRESETS["paper"].optimizers)     # C7 reads them on the paper's tasks
