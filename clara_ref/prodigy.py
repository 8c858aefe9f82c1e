"""Prodigy, step for step as the ``prodigyopt`` 1.1.2 package.

::

    initialize: d = d_max = d0, numerator N = 0, s = m = v = 0, x0 = theta_0, k = 0
    for k = 0, 1, ...:
        dlr <- d lr bc,   bc = sqrt(1 - beta2^{k+1}) / (1 - beta1^{k+1}) if use_bias_correction else 1   (Q1)
        g <- g_k + lambda theta   (only if not decoupled)                                               (Q2)
        N <- beta3 N + (d/d0) dlr <g, x0 - theta>                                                       (Q3)
        m <- beta1 m + d (1 - beta1) g;   v <- beta2 v + d^2 (1 - beta2) g^2                            (Q4)
        s <- beta3 s + (d/d0) dlr g      (safeguard_warmup: (d/d0) d g)                                (Q5)
        if |s|_1 = 0: stop here, theta unchanged (m, v, s keep their update, as upstream)              (Q6)
        d_hat <- d_coef N / |s|_1;  if d = d0: d <- max(d, d_hat)                                      (Q7)
        d_max <- max(d_max, d_hat);  d <- min(d_max, d growth_rate)                                    (Q8)
        if decoupled: theta <- theta - lambda dlr theta                                                (Q9)
        theta <- theta - dlr m / (sqrt(v) + d eps)     (new d in the eps term, old d in dlr;           (Q10)
                                                        beta1 = 0: dlr d g instead of dlr m)

Symbols: ``d`` is Prodigy's distance estimate (not CLARA's damping); ``lr`` multiplies it (keep 1); ``beta3``
defaults to sqrt(beta2); ``beta1, beta2`` = the package's ``betas``. ``state.eta = d * lr``;
``state.numerator`` is N.

Notes
-----
* We follow the package's code. Its ``slice_p`` is 1 and ``fsdp_in_use`` False here; every tensor has a gradient.
* A zero |s|_1 leaves the iterate where it is and the step does not count, as upstream.
* Prodigy weights the numerator by the distance travelled <g, x0 - theta> and rescales by d/d0, so d grows faster
  than D-Adaptation's.

References
----------
Mishchenko & Defazio, "Prodigy: An Expeditiously Adaptive Parameter-Free Learner", arXiv 2306.06101; code
konstmish/prodigy, PyPI ``prodigyopt`` 1.1.2.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, NamedTuple

from . import _validate as V
from ._backend import Array, as_1d_float, dot, finite_theta
from ._core import Optimizer, begin_update, finite_result, guard_rate

__all__ = ["Prodigy", "ProdigyState", "prodigy"]


class ProdigyState(NamedTuple):
    """``t``: updates done (= the package's k). ``eta``: d lr. ``d``, ``d_hat``, ``d_max``, ``numerator`` (N) as
    in the module box. ``x0``: the first iterate. ``s``, ``m``, ``v``: the sums and moments."""

    t: int
    eta: float
    d: float
    d_hat: float
    d_max: float
    numerator: float
    x0: Any
    s: Any
    m: Any
    v: Any


@dataclass(frozen=True, repr=False)
class Prodigy(Optimizer):
    """Prodigy as ``prodigyopt.Prodigy`` 1.1.2 (Q1-Q10 in the module box).

    Parameters: ``lr`` > 0 multiplies d (keep 1); ``d0`` > 0; ``beta1``, ``beta2`` in [0, 1) (``betas``);
    ``beta3`` in [0, 1) or None for sqrt(beta2); ``eps`` > 0; ``weight_decay`` >= 0, decoupled (AdamW style) unless
    ``decouple=False``; ``use_bias_correction``; ``safeguard_warmup``; ``d_coef`` > 0; ``growth_rate`` >= 1.

    The first step is about theta_0 - 3.162 d0 lr sign(g_0) and leaves d at d0:

    >>> import numpy as np
    >>> opt = Prodigy(d0=1e-2)
    >>> theta, st = opt.update(np.zeros(2), np.array([2.0, -1.0]), opt.init(np.zeros(2)))
    >>> np.round(theta, 5).tolist(), st.d
    ([-0.03162, 0.03162], 0.01)
    """

    lr: float = 1.0
    d0: float = 1e-6
    beta1: float = 0.9
    beta2: float = 0.999
    beta3: float | None = None
    eps: float = 1e-8
    weight_decay: float = 0.0
    decouple: bool = True
    use_bias_correction: bool = False
    safeguard_warmup: bool = False
    d_coef: float = 1.0
    growth_rate: float = math.inf

    name = "prodigy"

    state_type = ProdigyState

    def __post_init__(self):
        for flag in ("decouple", "use_bias_correction", "safeguard_warmup"):
            V.flag(flag, getattr(self, flag))
        unit = dict(lo_open=False, hi_open=True)
        self._set(lr=V.positive("lr", self.lr), d0=V.positive("d0", self.d0),
                  beta1=V.in_range("beta1", self.beta1, 0.0, 1.0, **unit),
                  beta2=V.in_range("beta2", self.beta2, 0.0, 1.0, **unit),
                  beta3=None if self.beta3 is None else V.in_range("beta3", self.beta3, 0.0, 1.0, **unit),
                  eps=V.positive("eps", self.eps), weight_decay=V.nonnegative("weight_decay", self.weight_decay),
                  d_coef=V.positive("d_coef", self.d_coef),
                  growth_rate=V.in_range("growth_rate", self.growth_rate, 1.0, math.inf, lo_open=False, hi_open=False))
        V.rate_scale(self.d0, self.lr)

    def init(self, theta: Array) -> ProdigyState:
        xp = as_1d_float(theta)
        finite_theta(xp, theta, "to start from")
        z = xp.zeros_like(theta)
        return ProdigyState(t=0, eta=self.d0 * self.lr, d=self.d0, d_hat=self.d0, d_max=self.d0, numerator=0.0,
                            x0=xp.asarray(theta, copy=True), s=z, m=z, v=z)

    def update(self, theta: Array, g: Array, state: ProdigyState, *, loss=None):
        as_1d_float(theta)
        self.check_state(state, theta)
        xp = begin_update(theta, g, state)
        b1, b2, k, d, d0 = self.beta1, self.beta2, state.t, state.d, self.d0
        b3 = math.sqrt(b2) if self.beta3 is None else self.beta3
        bc = ((1 - b2 ** (k + 1)) ** 0.5) / (1 - b1 ** (k + 1)) if self.use_bias_correction else 1.0
        dlr = guard_rate(d * self.lr * bc, state.t + 1, None, None)                     # (Q1), a positive float
        if self.weight_decay and not self.decouple:
            g = g + self.weight_decay * theta                                           # (Q2)
        numerator = state.numerator * b3 + (d / d0) * dlr * dot(xp, g, state.x0 - theta)  # (Q3)
        m = state.m * b1 + (d * (1 - b1)) * g if b1 > 0 else state.m                    # (Q4)
        v = state.v * b2 + (d * d * (1 - b2)) * (g * g)
        s = state.s * b3 + ((d / d0) * (d if self.safeguard_warmup else dlr)) * g       # (Q5)
        s_l1 = float(xp.sum(xp.abs(s)))
        if s_l1 == 0.0:                                                                 # (Q6)
            return finite_result(xp, k + 1, g, theta, state._replace(s=s, m=m, v=v), known=(state.x0,))
        d_hat = self.d_coef * numerator / s_l1                                          # (Q7)
        if d == d0:
            d = max(d, d_hat)
        d_max = max(state.d_max, d_hat)                                                 # (Q8)
        d = min(d_max, d * self.growth_rate)
        new_theta = theta
        if self.weight_decay and self.decouple:
            new_theta = theta - (self.weight_decay * dlr) * theta                       # (Q9)
        denom = xp.sqrt(v) + d * self.eps
        if b1 > 0:
            new_theta = new_theta - dlr * (m / denom)                                   # (Q10)
        else:
            new_theta = new_theta - (dlr * d) * (g / denom)
        eta = guard_rate(d * self.lr, state.t + 1, None, None)     # d lr must stay a positive float
        new = ProdigyState(t=k + 1, eta=eta, d=d, d_hat=d_hat, d_max=d_max, numerator=numerator, x0=state.x0, s=s,
                           m=m, v=v)
        return finite_result(xp, k + 1, g, new_theta, new, known=(state.x0,))

#: the factory is the class: one parameter list, in the dataclass fields
prodigy = Prodigy
