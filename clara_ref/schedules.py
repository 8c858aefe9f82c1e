"""Learning-rate schedules as baselines: the rate is a fixed function of the step, with no feedback from the run.

A path rule such as CLARA lowers its rate on noisy tasks; so does a decay schedule. To tell adaptation from
annealing, the benchmark runs SGD and Adam with the two schedules a practitioner would try first, started from
the same initial rates at the same budget T::

    input: eta0, a direction (clara_ref.directions), the budget T, a schedule f
    for t = 1, 2, ..., T:
        eta_t <- eta0 f(t - 1)                          (H1)  f of the 0-based step s = t - 1
        s_t <- direction(g_t)                           (C1)  the constant-rate update of clara_ref.constant,
        theta_t <- theta_{t-1} - eta_t s_t              (C2)  at the rate eta_t (constant.move_at)

    cosine with linear warm-up over W = ceil(warmup T) steps (warmup = 0.05):
        f(s) = (s + 1) / W                              for s < W       (H2)  eta0 / W up to eta0
        f(s) = (1 + cos(pi (s - W) / (T - W))) / 2      for s >= W      (H3)  eta0 down towards 0
    step decay, x gamma = 0.1 at 50% and 75% of the budget:
        f(s) = gamma ** #{m in milestones : s >= m T}                   (H4)

Conventions (as torch.optim.lr_scheduler's LinearLR followed by CosineAnnealingLR, and MultiStepLR, stepped once
per update): the cosine part never reaches 0 within the budget (its last rate is eta0 (1 + cos(pi (T-1-W)/(T-W)))
/ 2 > 0), and the step decay's milestones fall at the 0-based steps ceil(0.5 T) and ceil(0.75 T). An update
beyond the budget is refused: a schedule is defined for its T steps only.

The state is ``ConstantRateState``: ``eta`` is the rate of the update just made (``eta0``, the nominal initial
rate, before the first), ``t`` the updates done.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from . import _validate as V
from ._backend import Array, as_1d_float, finite_theta
from ._core import Optimizer
from .constant import ConstantRateState, move_at
from .directions import adam_direction, sgd_direction
from .errors import LearningRateError

__all__ = ["Scheduled", "SCHEDULES", "scheduled", "cosine_factor", "step_factor"]

#: the schedules, by name
SCHEDULES = ("cosine", "step")


def cosine_factor(s: int, total: int, warmup: float = 0.05) -> float:
    """f(s) of the cosine schedule with linear warm-up (H2, H3).

    >>> [round(cosine_factor(s, 100), 4) for s in (0, 4, 5, 52, 99)]
    [0.2, 1.0, 1.0, 0.5, 0.0003]
    """
    w = max(1, math.ceil(warmup * total))
    if s < w:
        return (s + 1) / w                                              # (H2)
    return 0.5 * (1.0 + math.cos(math.pi * (s - w) / (total - w)))     # (H3)


def step_factor(s: int, total: int, milestones=(0.5, 0.75), gamma: float = 0.1) -> float:
    """f(s) of the step decay (H4).

    >>> [step_factor(s, 100) for s in (0, 49, 50, 74, 75, 99)]
    [1.0, 1.0, 0.1, 0.1, 0.010000000000000002, 0.010000000000000002]
    """
    return gamma ** sum(s >= math.ceil(m * total) for m in milestones)   # (H4)


@dataclass(frozen=True, repr=False)
class Scheduled(Optimizer):
    """Move by eta_t s_t with eta_t = eta0 f(t - 1) (module box); see :func:`scheduled`."""

    direction: Any
    eta0: float
    total_steps: int
    schedule: str = "cosine"
    warmup: float = 0.05
    milestones: tuple = (0.5, 0.75)
    gamma: float = 0.1

    state_type = ConstantRateState

    def __post_init__(self):
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, got {self.schedule!r}")
        milestones = tuple(V.in_range("milestones", m, 0.0, 1.0, lo_open=True, hi_open=True)
                           for m in self.milestones)
        self._set(eta0=V.positive("eta0", self.eta0),
                  total_steps=V.integer("total_steps", self.total_steps, lo=2, hi=V.MAX_COUNT),
                  warmup=V.in_range("warmup", self.warmup, 0.0, 1.0, lo_open=True, hi_open=True),
                  milestones=milestones,
                  gamma=V.in_range("gamma", self.gamma, 0.0, 1.0, lo_open=True, hi_open=True))

    @property
    def name(self) -> str:
        return f"{self.direction.name}-{self.schedule}"

    def rate(self, t: int) -> float:
        """eta_t, the rate of update t (1-based) (H1)."""
        s = t - 1
        if self.schedule == "cosine":
            return self.eta0 * cosine_factor(s, self.total_steps, self.warmup)
        return self.eta0 * step_factor(s, self.total_steps, self.milestones, self.gamma)

    def init(self, theta: Array) -> ConstantRateState:
        finite_theta(as_1d_float(theta), theta, "to start from")
        return ConstantRateState(t=0, eta=self.eta0, direction=self.direction.init(theta))

    def update(self, theta: Array, g: Array, state: ConstantRateState, *, loss=None):
        xp = as_1d_float(theta)
        self.check_state(state, theta)
        t = state.t + 1
        if t > self.total_steps:
            raise LearningRateError(f"step {t} is beyond the schedule's total_steps = {self.total_steps}: a "
                                    "schedule is defined for its budget only; the state was left unchanged")
        return move_at(self.direction, xp, theta, g, state, self.rate(t))     # (H1), then constant.py's move


def scheduled(base: str, eta0: float, total_steps: int, schedule: str = "cosine", **options) -> Scheduled:
    """SGD (``base="sgd"``) or Adam (``"adam"``, default betas and eps) with a schedule over ``total_steps``
    updates: ``schedule="cosine"`` (linear warm-up over ``warmup`` = 5% of the budget, then a half cosine) or
    ``"step"`` (x ``gamma`` = 0.1 at each of ``milestones`` = 50% and 75% of the budget).

    >>> import numpy as np
    >>> opt = scheduled("sgd", 1.0, total_steps=100, schedule="step")
    >>> theta, state = np.ones(1), opt.init(np.ones(1))
    >>> for _ in range(60):
    ...     theta, state = opt.update(theta, np.ones(1), state)
    >>> round(state.eta, 12), round(float(theta[0]), 9)
    (0.1, -50.0)
    """
    directions = {"sgd": sgd_direction, "adam": adam_direction}
    if base not in directions:
        raise ValueError(f"base must be 'sgd' or 'adam', got {base!r}")
    return Scheduled(directions[base](), eta0, total_steps, schedule, **options)
