"""CLARA: cumulative learning-rate adaptation from the path of the optimizer's own unit steps.

::

    input: direction (SGD or Adam), eta_0, c, d, blocks b = 1..K, move, path_of, reference, [eta_min, eta_max]
    initialize: p_0 = 0 (one slice per block), eta = eta_0, t = 0
    for t = 1, 2, ...:
        s_t <- direction(g_t)                                        (A1)  SGD: g;  Adam: m_hat/(sqrt(v_hat)+eps)
        ### Parameter move, with the current eta
        raw:  theta_b <- theta_b - eta * s_b                         (A2)
        unit: theta_b <- theta_b - eta * s_b / max(|s_b|, 1e-12)     (A2')
        ### Cumulation
        x_b <- s_b  (path_of="step")  or  g_b  (path_of="gradient")  (A3)
        u_b <- x_b / max(|x_b|, 1e-12)                               (A4)
        p_b <- (1 - c) p_b + c u_b                                   (A5)
        ### Adapt the learning rate
        P   <- sum_b |p_b|^2                                         (A6)
        ref <- sum_b E_null|p_b|^2   (see ``reference``)             (A7)
        eta <- eta * exp(d (P / ref - 1)),  then clamp to [eta_min, eta_max] if given   (A8)

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
* Blocks are normalised one by one, as the authors normalise per tensor. A zero direction gives u_b = 0: the path
  decays, which lowers eta.
* The rate never silently becomes inf, 0 or NaN: such an update raises ``LearningRateError`` unless the explicit
  bounds catch it.

References
----------
Atamna, Maus, Kievelitz, Glasmachers, "Cumulative Learning Rate Adaptation: Revisiting Path-Based Schedules for SGD
and Adam", arXiv 2508.05408; code asmaatamna/cumulative-learning-rate-adaptation @ 505f977
(optimizers/sgd_clara.py, adam_clara.py). Path rule: Schoenauer-Sebag et al., arXiv 1709.01427.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any, NamedTuple

from . import _validate as V
from . import reference as R
from ._backend import as_1d_float
from ._core import Optimizer, begin_update, block_slices, block_sq_norms, guard_rate, safe_exp
from .directions import AdamDirection, SGDDirection, sgd_direction

__all__ = ["Clara", "ClaraState", "clara"]


class ClaraState(NamedTuple):
    """State of :func:`clara`.

    ``t``: updates done. ``eta``: the rate the next move uses (already adapted by this update). ``p``: the path,
    shaped like theta, block b in its slice. ``p_sq``: sum_b |p_b|^2 after this update (A6). ``reference``: what it
    was compared with (A7). ``multiplier``: exp(d (p_sq/reference - 1)), the last factor applied to eta (A8).
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


@lru_cache(maxsize=256)
def _null_mean(direction, c: float, sizes: tuple, t: int | None) -> float:
    return sum(R.path_sq_norm_mean(direction, c=c, n=n, t=t) for n in sizes)


class Clara(Optimizer):
    """CLARA wrapped around a direction; build it with :func:`clara`."""

    name = "clara"

    def __init__(self, direction, eta0, *, c=0.2, d=1e-3, move="raw", blocks=None, reference="direction",
                 path_of="step", transient=False, eta_min=None, eta_max=None):
        if not isinstance(direction, (SGDDirection, AdamDirection)):
            raise ValueError(f"direction must be sgd_direction() or adam_direction(), got {direction!r}")
        self.direction = direction
        self.eta0 = V.positive("eta0", eta0)
        self.c = V.in_range("c", c, 0.0, 1.0, lo_open=True, hi_open=False)
        self.d = V.one_of("d", d, ("auto",)) if isinstance(d, str) else V.nonnegative("d", d)
        self.move = V.one_of("move", move, ("raw", "unit"))
        self.path_of = V.one_of("path_of", path_of, ("step", "gradient"))
        if isinstance(reference, str):
            self.reference = V.one_of("reference", reference, ("direction", "random_walk"))
        else:
            self.reference = V.positive("reference", reference)
        if not isinstance(transient, bool):
            raise ValueError(f"transient must be True or False, got {transient!r}")
        self.transient = transient
        self.eta_min = None if eta_min is None else V.positive("eta_min", eta_min)
        self.eta_max = None if eta_max is None else V.positive("eta_max", eta_max)
        if self.eta_min is not None and self.eta_max is not None and self.eta_min > self.eta_max:
            raise ValueError(f"eta_min must be <= eta_max, got {eta_min!r} > {eta_max!r}")
        self.blocks = None if blocks is None else V.block_sizes(blocks)
        # The vector entering the path determines the null expectation: Adam's steps, or a random walk.
        self._null_direction = direction if path_of == "step" else sgd_direction()

    # -- reference math ------------------------------------------------------------------------------------------
    def reference_at(self, t: int, sizes: tuple) -> float:
        """The value (A7) that P is compared with after update ``t`` for blocks of ``sizes``."""
        tt = t if self.transient else None
        if tt is not None and isinstance(self._null_direction, AdamDirection) and tt > R.ADAM_TRANSIENT_STEPS:
            tt = None          # Adam's transient table ends here: the stationary value is used (and cached) after it
        if isinstance(self.reference, float):
            return self.reference
        if self.reference == "random_walk":
            return len(sizes) * R.random_walk_mean(self.c, tt)
        return _null_mean(self._null_direction, self.c, sizes, tt)

    def damping(self, sizes: tuple) -> float:
        """The damping d; ``"auto"`` is 2 sqrt(sum_b sigma_b^2), the exact null spread of P doubled."""
        if self.d != "auto":
            return self.d
        return 2.0 * math.sqrt(sum(R.path_sq_norm_std(self._null_direction, self.c, n) ** 2 for n in sizes))

    # -- the optimizer ---------------------------------------------------------------------------------------------
    def _sizes(self, theta) -> tuple:
        return V.blocks_tuple(self.blocks, theta.shape[0])

    def init(self, theta) -> ClaraState:
        xp = as_1d_float(theta)
        sizes = self._sizes(theta)
        return ClaraState(t=0, eta=self.eta0, p=xp.zeros_like(theta), p_sq=0.0,
                          reference=self.reference_at(0, sizes) if not self.transient else 0.0,
                          multiplier=1.0, d=self.damping(sizes), direction=self.direction.init(theta))

    def update(self, theta, g, state: ClaraState, *, loss=None):
        xp = begin_update(theta, g, state)
        if state.p.shape != theta.shape:
            raise ValueError(f"state was made for theta of shape {tuple(state.p.shape)}, got {tuple(theta.shape)}")
        sizes = self._sizes(theta)
        slices = block_slices(sizes)
        t, c, eta = state.t + 1, self.c, state.eta

        s, dstate = self.direction.propose(theta, g, state.direction)           # (A1)
        s_norms = [math.sqrt(q) for q in block_sq_norms(xp, s, slices)]

        ### Parameter move, with the current eta
        if self.move == "raw":
            new_theta = s * -eta
            new_theta += theta                                                     # (A2)
        else:
            new_theta = xp.asarray(theta, copy=True)
            for (a, b), nb in zip(slices, s_norms):
                new_theta[a:b] -= (eta / max(nb, R.NORM_FLOOR)) * s[a:b]          # (A2')

        ### Cumulation
        if self.path_of == "step":
            x, x_norms = s, s_norms                                                # (A3)
        else:
            x = self.direction.gradient(theta, g)
            x_norms = [math.sqrt(q) for q in block_sq_norms(xp, x, slices)]
        # (A5) written as p + c (u - p): one fresh array updated in place, no second temporary.
        if len(slices) == 1:
            p = x * (1.0 / max(x_norms[0], R.NORM_FLOOR))                          # (A4) u
        else:
            p = xp.asarray(x, copy=True)
            for (a, b), nb in zip(slices, x_norms):
                p[a:b] *= 1.0 / max(nb, R.NORM_FLOOR)                              # (A4) u_b
        p -= state.p
        p *= c
        p += state.p                                                               # (A5) (1-c) p + c u

        ### Adapt the learning rate
        p_sq = sum(block_sq_norms(xp, p, slices))                                  # (A6)
        ref = self.reference_at(t, sizes)                                          # (A7)
        multiplier = safe_exp(state.d * (p_sq / ref - 1.0))                        # (A8)
        new_eta = guard_rate(eta * multiplier, t, self.eta_min, self.eta_max)
        return new_theta, ClaraState(t=t, eta=new_eta, p=p, p_sq=p_sq, reference=ref, multiplier=multiplier,
                                     d=state.d, direction=dstate)

    def hyperparameters(self) -> dict:
        return {"eta0": self.eta0, "c": self.c, "d": self.d, "move": self.move, "blocks": self.blocks,
                "reference": self.reference, "path_of": self.path_of, "transient": self.transient,
                "eta_min": self.eta_min, "eta_max": self.eta_max, **self.direction.hyperparameters()}


def clara(direction, eta0: float, *, c: float = 0.2, d: float | str = 1e-3, move: str = "raw", blocks=None,
          reference: str | float = "direction", path_of: str = "step", transient: bool = False,
          eta_min: float | None = None, eta_max: float | None = None) -> Clara:
    """CLARA (arXiv 2508.05408) around ``direction``: a c-weighted path of per-block unit vectors, one global rate
    updated after the move by eta <- eta exp(d (P/ref - 1)) (A1-A8 in the module box).

    Parameters: ``direction`` = ``sgd_direction()`` or ``adam_direction()``; ``eta0`` initial rate (torch ``lr``);
    ``c`` in (0, 1] path constant; ``d`` >= 0 damping or ``"auto"``; ``move`` ``"raw"``/``"unit"`` (the authors'
    "us"); ``blocks`` None or block sizes summing to theta.size (the authors: one block per tensor);
    ``reference`` ``"direction"``/``"random_walk"``/a float; ``path_of`` ``"step"``/``"gradient"``;
    ``transient`` use the finite-t expectation; ``eta_min``/``eta_max`` optional explicit bounds.

    With d = 0 it moves exactly like its base optimizer. The first update multiplies eta by
    exp(d (c^2 / ref - 1)), e.g. exp(-0.64 d) for SGD:

    >>> import numpy as np
    >>> from clara_ref import sgd_direction
    >>> opt = clara(sgd_direction(), eta0=0.1, d=0.5)
    >>> theta, state = opt.update(np.ones(3), np.ones(3), opt.init(np.ones(3)))
    >>> round(state.p_sq, 12), round(state.eta / 0.1, 12), round(float(np.exp(-0.64 * 0.5)), 12)
    (0.04, 0.726149037074, 0.726149037074)
    """
    return Clara(direction, eta0, c=c, d=d, move=move, blocks=blocks, reference=reference, path_of=path_of,
                 transient=transient, eta_min=eta_min, eta_max=eta_max)
