"""D-Adaptation (SGD and Adam variants), step for step as the ``dadaptation`` 3.2 package.

DAdaptSGD (``dadaptation/dadapt_sgd.py``), lambda = coupled L2, beta = momentum::

    initialize: d = d0, numerator A = 0, s = 0, x0 = theta_0, k = 0
    for k = 0, 1, ...:
        if k = 0:  G0 <- |g_0|    (without L2, as upstream)                           (D1)
        g <- g_k + lambda theta                                                       (D2)
        lam_k <- d lr / G0                                                            (D3)
        A <- A + lam_k <g, s>;   s <- s + lam_k g                  (old s in <g, s>)   (D4)
        if |s| = 0: stop here, theta unchanged (upstream divides by zero instead)     (D5)
        d_hat <- 2 A / |s|;   d <- max(d, min(d_hat, d growth_rate))                  (D6)
        z <- x0 - s;   theta <- beta theta + (1 - beta) z                             (D7)

DAdaptAdam (``dadaptation/dadapt_adam.py``, the "IP" variant of v3)::

    initialize: d = d0, numerator N = 0, s = m = v = 0, k = 0
    for k = 0, 1, ...:
        dlr <- d lr bc,   bc = sqrt(1 - beta2^{k+1}) / (1 - beta1^{k+1}) if use_bias_correction else 1   (F1)
        g <- g_k + lambda theta   (unless decoupled)                                                     (F2)
        a <- dlr <g, s / (sqrt(v) + eps)>                            (old s and v)                       (F3)
        m <- beta1 m + dlr (1 - beta1) g;   v <- beta2 v + (1 - beta2) g^2                               (F4)
        s <- sqrt(beta2) s + dlr (1 - sqrt(beta2)) g;   S <- |s|_1                                       (F5)
        if S = 0: stop here, theta unchanged (m, v, s keep their update, as upstream)                    (F6)
        N <- sqrt(beta2) N + (1 - sqrt(beta2)) a;   d_hat <- N / ((1 - sqrt(beta2)) S)                   (F7)
        d <- max(d, min(d_hat, d growth_rate))                                                            (F8)
        if decoupled: theta <- theta - lambda dlr theta;   theta <- theta - m / (sqrt(v) + eps)          (F9)

Symbols: ``d`` here is D-Adaptation's distance estimate (not CLARA's damping); ``lr`` multiplies it (keep 1);
``d0`` its initial value; ``beta1, beta2`` = the package's ``betas``. ``state.eta = d * lr`` (no bias-correction
factor), the quantity users log; ``state.numerator`` is A (SGD) or N (Adam).

Notes
-----
* We follow the package's code, not the paper: as far as can be read, the paper's Algorithm 1 bound has an extra
  1/2 and different weights; the code is what users run and what CLARA's authors compared with.
* Upstream failure points: a zero first gradient makes DAdaptSGD divide by zero; here it raises ``ValueError``.
  A zero accumulated sum leaves the iterate where it is and the step does not count (``t`` and the bias
  correction do not advance), as upstream DAdaptAdam does (upstream DAdaptSGD would divide by zero first).
* ``layer_scale`` (one parameter group) is 1, and every tensor has a gradient; the package's sums over tensors are
  sums over the whole flat vector here.
* d is non-decreasing, so ``d0`` is a floor on the step scale (CLARA's authors ran DAdaptAdam with d0 = initial LR).

References
----------
Defazio & Mishchenko, "Learning-Rate-Free Learning by D-Adaptation", ICML 2023, arXiv 2301.07733; code
facebookresearch/dadaptation @ c984980, PyPI ``dadaptation`` 3.2.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, NamedTuple

from . import _validate as V
from ._backend import Array, as_1d_float, dot, finite_theta, norm, sq_norm
from ._core import Optimizer, begin_update, finite_result, guard_rate

__all__ = ["DAdaptSGD", "DAdaptSGDState", "DAdaptAdam", "DAdaptAdamState", "dadapt_sgd", "dadapt_adam"]


def _growth(growth_rate) -> float:
    return V.in_range("growth_rate", growth_rate, 1.0, math.inf, lo_open=False, hi_open=False)


class DAdaptSGDState(NamedTuple):
    """``t``: updates done (= the package's k). ``eta``: d lr. ``d``, ``d_hat``: the estimate and its last
    candidate. ``numerator``: A. ``g0_norm``: |g_0|. ``x0``: the first iterate. ``s``: the weighted gradient sum."""

    t: int
    eta: float
    d: float
    d_hat: float
    numerator: float
    g0_norm: float
    x0: Any
    s: Any


@dataclass(frozen=True, repr=False)
class DAdaptSGD(Optimizer):
    """D-Adaptation SGD as ``dadaptation.DAdaptSGD`` 3.2 (D1-D7 in the module box).

    Parameters: ``lr`` > 0 multiplies d (keep 1); ``d0`` > 0 initial distance estimate; ``momentum`` in [0, 1);
    ``weight_decay`` >= 0 coupled L2; ``growth_rate`` >= 1 cap on d's growth per step.

    The first step is theta_0 - d0 lr g_0/|g_0| and leaves d at d0:

    >>> import numpy as np
    >>> opt = DAdaptSGD(d0=0.5)
    >>> theta, st = opt.update(np.zeros(2), np.array([3.0, 4.0]), opt.init(np.zeros(2)))
    >>> theta.tolist(), st.d
    ([-0.3, -0.4], 0.5)
    """

    lr: float = 1.0
    d0: float = 1e-6
    momentum: float = 0.0
    weight_decay: float = 0.0
    growth_rate: float = math.inf

    name = "dadapt_sgd"

    state_type = DAdaptSGDState

    def __post_init__(self):
        self._set(lr=V.positive("lr", self.lr), d0=V.positive("d0", self.d0),
                  momentum=V.in_range("momentum", self.momentum, 0.0, 1.0, lo_open=False, hi_open=True),
                  weight_decay=V.nonnegative("weight_decay", self.weight_decay),
                  growth_rate=_growth(self.growth_rate))
        V.rate_scale(self.d0, self.lr)

    def init(self, theta: Array) -> DAdaptSGDState:
        xp = as_1d_float(theta)
        finite_theta(xp, theta, "to start from")
        return DAdaptSGDState(t=0, eta=self.d0 * self.lr, d=self.d0, d_hat=self.d0, numerator=0.0, g0_norm=0.0,
                              x0=xp.asarray(theta, copy=True), s=xp.zeros_like(theta))

    def update(self, theta: Array, g: Array, state: DAdaptSGDState, *, loss=None):
        as_1d_float(theta)
        self.check_state(state, theta)
        xp = begin_update(theta, g, state)
        g0_norm = state.g0_norm
        if state.t == 0:
            g0_norm = norm(xp, g)              # (D1); also where |g|^2 under- or overflows
            if g0_norm == 0.0:
                raise ValueError("dadapt_sgd: the first gradient is zero, so lr/|g_0| is undefined (upstream "
                                 "divides by zero); start from a point with a non-zero gradient")
        if self.weight_decay:
            g = g + self.weight_decay * theta                                 # (D2)
        lam = state.d * self.lr / g0_norm                                     # (D3)
        numerator = state.numerator + lam * dot(xp, g, state.s)              # (D4) with the old s
        s = state.s + lam * g                                                 # (D4)
        s_sq = sq_norm(xp, s)
        if s_sq == 0.0:                                                       # (D5)
            return finite_result(xp, state.t + 1, g, theta, state._replace(g0_norm=g0_norm, s=s),
                                 known=(state.x0,))
        d_hat = 2.0 * numerator / math.sqrt(s_sq)                             # (D6)
        d = max(state.d, min(d_hat, state.d * self.growth_rate))
        z = state.x0 - s                                                      # (D7)
        c_k = 1.0 - self.momentum
        new_theta = z if self.momentum == 0.0 else theta * (1.0 - c_k) + c_k * z
        eta = guard_rate(d * self.lr, state.t + 1, None, None)     # d lr must stay a positive float
        new = DAdaptSGDState(t=state.t + 1, eta=eta, d=d, d_hat=d_hat, numerator=numerator, g0_norm=g0_norm,
                             x0=state.x0, s=s)
        return finite_result(xp, state.t + 1, g, new_theta, new, known=(state.x0,))

class DAdaptAdamState(NamedTuple):
    """``t``: updates done (= the package's k). ``eta``: d lr. ``d``, ``d_hat``, ``numerator`` (N) as in the
    module box. ``s``: the weighted gradient sum; ``m``, ``v``: the moments (m carries the factor dlr)."""

    t: int
    eta: float
    d: float
    d_hat: float
    numerator: float
    s: Any
    m: Any
    v: Any


@dataclass(frozen=True, repr=False)
class DAdaptAdam(Optimizer):
    """D-Adaptation Adam as ``dadaptation.DAdaptAdam`` 3.2 (F1-F9 in the module box).

    Parameters: ``lr`` > 0 multiplies d (keep 1); ``d0`` > 0; ``beta1`` in [0, 1), ``beta2`` in [0, 1) (the
    package's ``betas``); ``eps`` > 0; ``weight_decay`` >= 0, coupled unless ``decouple``;
    ``use_bias_correction``; ``growth_rate`` >= 1.

    The first step is about theta_0 - 3.162 d0 lr sign(g_0), since m = d0 lr 0.1 g and sqrt(v) = 0.0316 |g|:

    >>> import numpy as np
    >>> opt = DAdaptAdam(d0=1e-2)
    >>> theta, st = opt.update(np.zeros(2), np.array([2.0, -1.0]), opt.init(np.zeros(2)))
    >>> np.round(theta, 5).tolist(), st.d
    ([-0.03162, 0.03162], 0.01)
    """

    lr: float = 1.0
    d0: float = 1e-6
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    weight_decay: float = 0.0
    decouple: bool = False
    use_bias_correction: bool = False
    growth_rate: float = math.inf

    name = "dadapt_adam"

    state_type = DAdaptAdamState

    def __post_init__(self):
        for flag in ("decouple", "use_bias_correction"):
            V.flag(flag, getattr(self, flag))
        self._set(lr=V.positive("lr", self.lr), d0=V.positive("d0", self.d0),
                  beta1=V.in_range("beta1", self.beta1, 0.0, 1.0, lo_open=False, hi_open=True),
                  beta2=V.in_range("beta2", self.beta2, 0.0, 1.0, lo_open=False, hi_open=True),
                  eps=V.positive("eps", self.eps), weight_decay=V.nonnegative("weight_decay", self.weight_decay),
                  growth_rate=_growth(self.growth_rate))
        V.rate_scale(self.d0, self.lr)

    def init(self, theta: Array) -> DAdaptAdamState:
        xp = as_1d_float(theta)
        finite_theta(xp, theta, "to start from")
        z = xp.zeros_like(theta)
        return DAdaptAdamState(t=0, eta=self.d0 * self.lr, d=self.d0, d_hat=self.d0, numerator=0.0, s=z, m=z, v=z)

    def update(self, theta: Array, g: Array, state: DAdaptAdamState, *, loss=None):
        as_1d_float(theta)
        self.check_state(state, theta)
        xp = begin_update(theta, g, state)
        b1, b2, k = self.beta1, self.beta2, state.t
        sqrt_b2 = b2**0.5
        bc = ((1 - b2 ** (k + 1)) ** 0.5) / (1 - b1 ** (k + 1)) if self.use_bias_correction else 1.0
        dlr = guard_rate(state.d * self.lr * bc, k + 1, None, None)                     # (F1), a positive float
        if self.weight_decay and not self.decouple:
            g = g + self.weight_decay * theta                                           # (F2)
        a = dlr * float(xp.sum(g * (state.s / (xp.sqrt(state.v) + self.eps))))         # (F3)
        m = state.m * b1 + (dlr * (1 - b1)) * g                                         # (F4)
        v = state.v * b2 + (1 - b2) * (g * g)
        s = state.s * sqrt_b2 + (dlr * (1 - sqrt_b2)) * g                               # (F5)
        s_l1 = float(xp.sum(xp.abs(s)))
        if s_l1 == 0.0:                                                                 # (F6)
            return finite_result(xp, k + 1, g, theta, state._replace(s=s, m=m, v=v))
        numerator = sqrt_b2 * state.numerator + (1 - sqrt_b2) * a                      # (F7)
        d_hat = numerator / ((1 - sqrt_b2) * s_l1)
        d = max(state.d, min(d_hat, state.d * self.growth_rate))                        # (F8)
        new_theta = theta
        if self.weight_decay and self.decouple:
            new_theta = theta - (self.weight_decay * dlr) * theta                       # (F9)
        new_theta = new_theta - m / (xp.sqrt(v) + self.eps)                             # (F9)
        eta = guard_rate(d * self.lr, state.t + 1, None, None)     # d lr must stay a positive float
        new = DAdaptAdamState(t=k + 1, eta=eta, d=d, d_hat=d_hat, numerator=numerator, s=s, m=m, v=v)
        return finite_result(xp, k + 1, g, new_theta, new)

#: the factories are the classes: one parameter list, in the dataclass fields
dadapt_sgd = DAdaptSGD
dadapt_adam = DAdaptAdam
