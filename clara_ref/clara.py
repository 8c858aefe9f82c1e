"""CLARA: cumulative learning-rate adaptation from the path of the optimizer's own unit steps.

::

    input: direction (SGD or Adam), eta_0, c, d, blocks b = 1..K, move, path_of, reference, [eta_min, eta_max]
    initialize: p_0 = 0 (one slice per block), eta = eta_0, t = 0
    for t = 1, 2, ...:
        s_t <- direction(g_t)                                        (K1)  SGD: g;  Adam: m_hat/(sqrt(v_hat)+eps)
        ### Parameter move, with the current eta
        theta_b <- theta_b - eta * s_b     (unit: s_b / max(|s_b|, 1e-12))                            (K6)
        ### Cumulation
        x_b <- s_b  (path_of="step")  or  g_b  (path_of="gradient")                                  (K2)
        p_b <- (1 - c) p_b + c x_b / max(|x_b|, 1e-12);   P <- sum_b |p_b|^2                       (K3)
        ### Adapt the learning rate
        ref <- sum_b E_null|p_b|^2   (see ``reference``)                                              (K4)
        eta <- eta * exp(d (P / ref - 1)),  then clamp to [eta_min, eta_max] if given                 (K5)

Every line is computed in ``clara_ref/rate_control.py`` under its tag (the rule both papers share; CLARA is its
column ``COLUMNS["clara"]``, K0), the cumulation (K3) by ``clara_ref.path.cumulate`` (P0-P2).

The conceptual correction of the 2025 paper over the 2017 rule is two named choices: ``path_of`` (which vector
enters the path) and ``reference`` (what |p|^2 is compared with). ``path_of="step", reference="direction"`` is
CLARA; ``path_of="gradient", reference="random_walk"`` is the uncorrected gradient-path rule.

Symbols: ``c`` is the path constant (alpha in 1709.01427), ``d`` CLARA's damping (not D-Adaptation's distance
estimate), ``p`` the path, ``mu`` the per-block null expectation of |p_b|^2.

Notes
-----
* Defaults follow the authors' published experiments (c = 0.2, d = 1e-3, raw moves, one global rate updated after
  the move, path weight c). Their class defaults are options: ``move="unit"`` ("us") and ``d="auto"``, which is
  2 x the exact stationary standard deviation of P under pure noise (their rule 2 sigma, with sigma correct).
* ``reference="direction"`` (default) is sum_b mu(n_b) for the vector entering the path: for SGD, or for
  path_of="gradient", the random walk c/(2-c) per block; for Adam's steps the kappa series of
  ``clara_ref.reference`` per block. The authors' code used K mu(N_total) from a table keyed by the total
  parameter count; pass that number as a float ``reference`` to reproduce their trajectories step for step.
* ``transient=True`` replaces mu by the finite-t expectation E|p_t|^2 (the path starts at 0), as the 2017 rule does.
* ``blocks=None`` is **one block** over all parameters. The authors normalise per tensor: pass one block per
  tensor, ``blocks=cr.block_sizes(list_of_arrays)`` or a model's ``block_sizes``. Each block is normalised on its
  own; a zero direction gives u_b = 0 (the path decays, which lowers eta), and a direction below 1e-12 is divided by
  1e-12 (the authors' clamp), so its unit vector is shorter than 1.
* The update is ``clara_ref.rate_control.PathRateControl`` with CLARA's column of choices; the cumulation (K3)
  is ``clara_ref.path.cumulate``, the same code the 2017 rule and the Monte Carlo of the null hypothesis run.
* The rate never silently becomes inf, 0 or NaN: such an update raises ``LearningRateError`` unless the explicit
  bounds catch it.

References
----------
Atamna, Maus, Kievelitz, Glasmachers, "Cumulative Learning Rate Adaptation: Revisiting Path-Based Schedules for SGD
and Adam", arXiv 2508.05408; code asmaatamna/cumulative-learning-rate-adaptation @ 505f977
(optimizers/sgd_clara.py, adam_clara.py). Path rule: Schoenauer-Sebag et al., arXiv 1709.01427.
"""

from __future__ import annotations

import dataclasses
from dataclasses import KW_ONLY, dataclass
from typing import Any, NamedTuple

from ._backend import Array, as_1d_float, finite_theta
from ._core import Optimizer, finite_result
from .constant import _arrays, _moments_fit
from .rate_control import COLUMNS, PathRateControl, validated

__all__ = ["Clara", "ClaraState", "clara"]


class ClaraState(NamedTuple):
    """State of :func:`clara`.

    ``t``: updates done. ``eta``: the rate the next move uses (already adapted by this update). ``p``: the path,
    shaped like theta, block b in its slice. ``p_sq``: sum_b |p_b|^2 after this update (K3). ``reference``: what it
    was compared with (K4). ``multiplier``: exp(d (p_sq/reference - 1)), the last factor applied to eta (K5).
    ``d``: the damping in use (``"auto"`` resolved). ``direction``: the direction's own state.
    """

    t: int
    eta: float
    p: Any
    p_sq: float
    reference: float
    multiplier: float
    d: float
    direction: Any


@dataclass(frozen=True, repr=False)
class Clara(Optimizer):
    """CLARA (arXiv 2508.05408) around ``direction``: a c-weighted path of per-block unit vectors, one global rate
    updated after the move by eta <- eta exp(d (P/ref - 1)) (K1-K6 in the module box).

    Parameters: ``direction`` = ``sgd_direction()`` or ``adam_direction()``; ``eta0`` initial rate (torch ``lr``);
    ``c`` in (0, 1] path constant; ``d`` >= 0 damping or ``"auto"`` (2 x the exact null spread of P: 0.0878 for
    SGD at n = 10; for large n 0.278/sqrt(n) for SGD and 0.601/sqrt(n) for Adam, tests/test_clara.py; the authors'
    experiments all use d = 1e-3); ``move`` ``"raw"``/``"unit"``
    (the authors' "us"); ``blocks`` None (one global block) or block sizes summing to theta.size (the authors: one
    block per tensor, ``cr.block_sizes(tensors)``);
    ``reference`` ``"direction"``/``"random_walk"``/a float; ``path_of`` ``"step"``/``"gradient"``;
    ``transient`` use the finite-t expectation; ``eta_min``/``eta_max`` optional explicit bounds.

    With d = 0 it moves exactly like its base optimizer. The first update multiplies eta by
    exp(d (c^2 / ref - 1)), e.g. exp(-0.64 d) for SGD:

    >>> import numpy as np
    >>> from clara_ref import sgd_direction
    >>> opt = Clara(sgd_direction(), eta0=0.1, d=0.5)
    >>> theta, state = opt.update(np.ones(3), np.ones(3), opt.init(np.ones(3)))
    >>> round(state.p_sq, 12), round(state.eta / 0.1, 12), round(float(np.exp(-0.64 * 0.5)), 12)
    (0.04, 0.726149037074, 0.726149037074)
    """

    direction: Any
    eta0: float
    _: KW_ONLY
    c: float = 0.2
    d: float | str = 1e-3
    move: str = "raw"
    blocks: tuple | None = None
    reference: str | float = "direction"
    path_of: str = "step"
    transient: bool = False
    eta_min: float | None = None
    eta_max: float | None = None

    name = "clara"
    #: the choices CLARA fixes: its column of the table in clara_ref/rate_control.py (path_of and transient are
    #: fields above, with that column's values as their defaults)
    CHOICES = {k: v for k, v in COLUMNS["clara"].items() if k not in ("path_of", "transient")}

    state_type = ClaraState

    def __post_init__(self):
        # the fields checked and normalised by rate_control.validated and carried into the rule as they are (the
        # rule's own check of them, the same function, then finds them normal: nothing is copied back)
        names = [f.name for f in dataclasses.fields(self)]
        checked = validated(**{k: getattr(self, k) for k in names}, **self.CHOICES)
        self._set(**{k: checked[k] for k in names})
        self._set(_rule=PathRateControl(**{k: getattr(self, k) for k in names}, **self.CHOICES))

    def reference_at(self, t: int, sizes: tuple) -> float:
        """The value (K4) that P is compared with after update ``t`` for blocks of ``sizes``."""
        return self._rule.reference_at(t, sizes)

    def damping(self, sizes: tuple) -> float:
        """The damping d; ``"auto"`` is 2 sqrt(sum_b sigma_b^2), the exact null spread of P doubled."""
        return self._rule.damping(sizes)

    def init(self, theta: Array) -> ClaraState:
        xp = as_1d_float(theta)
        finite_theta(xp, theta, "to start from")
        sizes = self._rule._sizes(theta)
        return ClaraState(t=0, eta=self.eta0, p=xp.zeros_like(theta), p_sq=0.0,
                          reference=self.reference_at(0, sizes) if not self.transient else 0.0,
                          multiplier=1.0, d=self.damping(sizes), direction=self.direction.init(theta))

    def update(self, theta: Array, g: Array, state: ClaraState, *, loss=None):
        xp = as_1d_float(theta)
        self.check_state(state, theta)
        # (K1-K6): propose, move with the current eta, cumulate, adapt eta after the move
        step = self._rule._step(theta, g, state.t, (state.eta,), state.p, state.direction, state.d)
        new = ClaraState(t=state.t + 1, eta=step.etas[0], p=step.p, p_sq=sum(step.p_sqs), reference=step.reference,
                         multiplier=step.multipliers[0], d=state.d, direction=step.direction)
        # the path is finite when its squared norm p_sq (a float of the state, tested) is; the moments as in sgd/adam
        known = (step.p,) + (_arrays(step.direction) if _moments_fit(self.direction, step.squares_fit) else ())
        return finite_result(xp, state.t + 1, g, step.theta, new, known=known, direction=self.direction,
                             before=theta)


#: the factory is the class: one parameter list, in the dataclass fields
clara = Clara
