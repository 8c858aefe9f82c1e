"""Constant-rate optimizers: ``sgd`` and ``adam`` move by eta times their direction.

::

    input: eta, a direction (``clara_ref.directions``), theta_0
    initialize: direction state (Adam: m_0 = v_0 = 0), t = 0
    for t = 1, 2, ...:
        s_t <- direction(g_t)                      (C1)  SGD: g_t;  Adam: m_hat/(sqrt(v_hat)+eps)
        theta_t <- theta_{t-1} - eta * s_t         (C2)

References
----------
Robbins & Monro (1951) for SGD; Kingma & Ba, arXiv 1412.6980, Algorithm 1 for Adam.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from . import _validate as V
from ._backend import Array, as_1d_float, check_gradient, finite_theta
from ._core import Optimizer, finite_result
from .directions import adam_direction, sgd_direction

__all__ = ["ConstantRate", "ConstantRateState", "move_at", "sgd", "adam"]


class ConstantRateState(NamedTuple):
    """``t``: updates done; ``eta``: the (constant) learning rate; ``direction``: the direction's state."""

    t: int
    eta: float
    direction: Any


@dataclass(frozen=True, repr=False)
class ConstantRate(Optimizer):
    """Move by ``eta0 * s`` with a fixed rate; see :func:`sgd` and :func:`adam`. Its name is the direction's."""

    direction: Any
    eta0: float

    state_type = ConstantRateState

    def __post_init__(self):
        self._set(eta0=V.positive("eta0", self.eta0))

    @property
    def name(self) -> str:
        return self.direction.name

    def init(self, theta: Array) -> ConstantRateState:
        finite_theta(as_1d_float(theta), theta, "to start from")
        return ConstantRateState(t=0, eta=self.eta0, direction=self.direction.init(theta))

    def update(self, theta: Array, g: Array, state: ConstantRateState, *, loss=None):
        as_1d_float(theta)
        self.check_state(state, theta)
        return move_at(self.direction, as_1d_float(theta), theta, g, state, state.eta)


def move_at(direction, xp, theta, g, state: ConstantRateState, eta: float):
    """One update at the rate ``eta`` (C1, C2): the gradient checked, the direction's step, theta - eta s, and the
    new state (rate ``eta``) checked finite. ``ConstantRate`` moves at its fixed rate, ``clara_ref.schedules`` at the
    scheduled one."""
    squares_fit = check_gradient(xp, theta, g, step=state.t + 1)
    s, dstate = direction.propose(theta, g, state.direction)             # (C1)
    step = s * -eta                                                      # fresh array: s may be the caller's g
    step += theta                                                        # (C2) theta - eta s
    new = ConstantRateState(t=state.t + 1, eta=eta, direction=dstate)
    return finite_result(xp, state.t + 1, g, step, new, direction=direction, before=theta,
                         known=_arrays(dstate) if _moments_fit(direction, squares_fit) else ())


def _moments_fit(direction, squares_fit: bool) -> bool:
    """Are the direction's new moments finite without a test? Adam's m and v are convex combinations of their
    finite old values and of g and g^2, so they are finite when no g_i^2 overflowed (<g, g> finite) and no weight
    decay was added into g (which could overflow)."""
    return squares_fit and not getattr(direction, "weight_decay", 0.0)


def _arrays(node) -> tuple:
    """The arrays among a (direction) state's fields."""
    return tuple(x for x in node if hasattr(x, "shape") and hasattr(x, "dtype"))


def sgd(eta0: float, weight_decay: float = 0.0) -> ConstantRate:
    """Plain SGD at a constant rate: theta <- theta - eta0 * (g + weight_decay * theta) (C1, C2).

    Symbols: ``eta0`` = torch's ``lr``; ``weight_decay`` = coupled L2, as torch.optim.SGD (no momentum).

    >>> import numpy as np
    >>> opt = sgd(0.1)
    >>> theta, state = opt.update(np.array([1.0]), np.array([2.0]), opt.init(np.array([1.0])))
    >>> theta.tolist(), state.t, state.eta
    ([0.8], 1, 0.1)
    """
    return ConstantRate(sgd_direction(weight_decay=weight_decay), eta0)


def adam(eta0: float, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8,
         weight_decay: float = 0.0, *, fused: bool = False) -> ConstantRate:
    """Adam at a constant rate (Kingma & Ba Algorithm 1, literal m_hat and v_hat, eps outside the root).

    Symbols: ``eta0`` = torch's ``lr``; ``beta1, beta2`` = torch's ``betas``; ``weight_decay`` = coupled L2
    (torch.optim.Adam's ``weight_decay``, not AdamW). Reference: arXiv 1412.6980.

    ``fused=True`` moves by the fused form of the same direction (``clara_ref.directions.FusedAdamDirection``: the
    bias corrections folded into the step, fewer passes over memory), equal to the literal form up to float
    rounding; it is named "adam-fused", and the literal form stays the default and the reference.

    The first step moves every coordinate by about eta0 (m_hat = g, v_hat = g^2):

    >>> import numpy as np
    >>> opt = adam(0.01)
    >>> theta, state = opt.update(np.zeros(2), np.array([5.0, -0.1]), opt.init(np.zeros(2)))
    >>> np.round(theta, 6).tolist()
    [-0.01, 0.01]
    """
    return ConstantRate(adam_direction(beta1, beta2, eps, weight_decay, fused=fused), eta0)
