"""ALeRA and SALeRA: the 2017 path rule, one learning rate per block, and its Page-Hinkley safety net.

ALeRA ("agnostic learning-rate adaptation")::

    input: direction, eta_0, c (alpha in the paper), C (adapt constant), blocks b = 1..K (layers), sigma rule
    initialize: p_b = 0, eta_b = eta_0, t = 0
    for t = 1, 2, ...:
        x_b <- g_b + lambda theta_b        (the raw gradient, coupled L2 if the direction has it)   (K2)
        if |x_b| > 1e-6:  p_b <- (1 - c) p_b + c x_b / |x_b|
        else:             p_b <- (1 - c) p_b             (tiny gradient: the path only decays)     (K3)
        mu_t <- c/(2-c) (1 - (1-c)^{2t})                 (transient random-walk mean)              (K4)
        sigma_b <- 2 mu (1-c)/sqrt(n_b (1+(1-c)^2))  ("exact")  or  c/sqrt(n_b)  ("2017")
        eta_b <- eta_b exp(C (|p_b|^2 - mu_t) / sigma_b)     -- the rate changes BEFORE the move    (K5)
        s <- direction(g)                                    SGD: g;  Adam: m_hat/(sqrt(v_hat)+eps)   (K1)
        theta_b <- theta_b - eta_b s_b                                                             (K6)

Every line is computed in ``clara_ref/rate_control.py`` under its tag: the rule both papers share, of which the
2017 rule is the column ``COLUMNS["alera"]`` (K0); the cumulation (K3) with small="skip" by
``clara_ref.path.cumulate``. This module computes what only the 2017 rule has: the conversion of a CLARA d into
its C (L1, :func:`C_for_damping`) and SALeRA's test (S1-S4).

SALeRA adds, before each ALeRA step, a one-sided Page-Hinkley test on the minibatch loss f_t::

    r = mbratio (batch size / training-set size); k = PH counter
    lbar <- (k lbar + f_t)/(k+1)  while k <= 1/r,  else  (1-r) lbar + r f_t      (relaxed loss)  (S1)
    mu0 <- (k mu0 + lbar)/(k+1);  U <- U + (lbar - mu0);  m <- min(m, U);  k <- k+1             (S2)
    alarm if U - m > lambda,   lambda = ph_lambda x f_1 (fixed at the first loss)              (S3)
    no alarm: theta_prev <- theta; ALeRA step (K1-K6); t <- t+1
    alarm:    theta <- theta_prev (backtrack); eta_b <- eta_b / 2 for every b;                  (S4)
              error if some eta_b < 1e-15; reset lbar = mu0 = U = m = k = 0; this gradient is discarded

Symbols: ``c`` = alpha of 1709.01427; ``C`` = its adapt constant; ``mu_t``, ``sigma_b`` the null mean and spread
of |p_b|^2; ``state.eta`` is the parameter-weighted geometric mean of the per-block rates ``state.etas``.

Notes
-----
* The path always holds normalised *raw gradients*, also around Adam (as the authors' agadam.lua): this is the
  "Adam with the 2017 rule" of the CLARA paper. The Adam move uses ``adam_direction`` (eps outside the root of the
  bias-corrected v_hat); agadam.lua puts eps on the uncorrected sqrt(v), which differs only at the eps scale.
* ``sigma="exact"`` uses the exact stationary spread (R2 of ``clara_ref.reference``); ``sigma="2017"`` the original
  c/sqrt(n_b), which is sqrt(2) too large for small c. The effective CLARA damping is C mu/sigma_b, which grows
  like sqrt(n_b); :func:`C_for_damping` converts a CLARA d into C.
* Default ``C = 1e-4``: for the 650-parameter digits softmax regression, c = 0.2 and the exact sigma that is an
  effective damping of about 2e-3, the order of the CLARA paper's d = 1e-3.
* The authors' Lua backtrack is a no-op (it assigns a local); here it really restores the previous iterate.
  ``reset_path_on_alarm`` and ``reset_t_on_alarm`` default to the Lua behaviour (False): m, v and the paths are kept.
* A non-finite loss counts as an alarm by itself (the Lua test would silently compare NaN).

References
----------
Schoenauer-Sebag, Schoenauer, Sebag, "Stochastic Gradient Descent: Going As Fast As Possible But Not Faster",
arXiv 1709.01427; code aschoenauer-sebag/salera @ 81e344a (luasrc/alera.lua, agadam.lua, salera.lua); Page (1954)
and Hinkley (1971) for the change-point test.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import KW_ONLY, dataclass
from typing import Any, NamedTuple

from . import _validate as V
from . import reference as R
from ._backend import Array, array_namespace, as_1d_float, finite_theta
from ._core import Optimizer, finite_result
from .constant import _arrays, _moments_fit
from .errors import RateFloorError
from .rate_control import COLUMNS, PathRateControl, validated

__all__ = ["Alera", "AleraState", "Salera", "SaleraState", "PageHinkleyState", "RateFloorError", "alera", "salera",
           "C_for_damping"]

#: SALeRA stops when a halved rate falls below this.
RATE_FLOOR = 1e-15


class AleraState(NamedTuple):
    """State of :func:`alera`.

    ``t``: updates done. ``eta``: parameter-weighted geometric mean of ``etas``, the rates this update's move used.
    ``etas``: one rate per block. ``p``: the path (block b in its slice). ``p_sq``: sum_b |p_b|^2. ``reference``:
    K mu_t, what p_sq was compared with (each block with mu_t). ``multiplier``: the factor by which ``eta`` changed
    in this update. ``multipliers``: the factor of each block (K5). ``direction``: the direction's state.
    """

    t: int
    eta: float
    etas: tuple
    p: Any
    p_sq: float
    reference: float
    multiplier: float
    multipliers: tuple
    direction: Any


def _geometric_mean(etas, sizes) -> float:
    total = sum(sizes)
    return math.exp(sum(n * math.log(e) for e, n in zip(etas, sizes)) / total)


def C_for_damping(d: float, n: int, c: float = 0.2, sigma: str = "exact") -> float:
    """The adapt constant C whose effective damping C mu / sigma(n) equals the CLARA damping ``d`` (L1).

    >>> round(C_for_damping(1e-3, 650) * 1e5, 3)
    4.9
    """
    d = V.nonnegative("d", d)
    spread = R.random_walk_std(c, n) if V.one_of("sigma", sigma, ("exact", "2017")) == "exact" else c / math.sqrt(n)
    return d * spread / R.random_walk_mean(c)                          # (L1) C = d sigma_b / mu


@dataclass(frozen=True, repr=False)
class _AleraParameters(Optimizer):
    """The hyperparameters ALeRA and SALeRA share (the fields of both)."""

    direction: Any
    eta0: float
    _: KW_ONLY
    c: float = 0.2
    C: float = 1e-4
    blocks: tuple | None = None
    sigma: str = "exact"


@dataclass(frozen=True, repr=False)
class Alera(_AleraParameters):
    """ALeRA (arXiv 1709.01427): per-block rates eta_b <- eta_b exp(C (|p_b|^2 - mu_t)/sigma_b), updated before
    the move, from a path of normalised raw gradients (K1-K6 in the module box).

    Parameters: ``direction`` = ``sgd_direction()`` or ``adam_direction()`` (the move); ``eta0`` initial rate;
    ``c`` in (0, 1) path constant (alpha); ``C`` >= 0 adapt constant; ``blocks`` None or block sizes (the authors:
    one block per layer, weight and bias together); ``sigma`` ``"exact"`` or ``"2017"``.

    The first factor is exactly 1, because |p_1|^2 = c^2 = mu_1:

    >>> import numpy as np
    >>> from clara_ref import sgd_direction
    >>> opt = Alera(sgd_direction(), 0.1, C=0.5)
    >>> theta, state = opt.update(np.ones(4), np.arange(4.0), opt.init(np.ones(4)))
    >>> state.etas, state.multiplier
    ((0.1,), 1.0)
    """


    name = "alera"
    #: the 2017 column of choices (clara_ref/rate_control.py)
    CHOICES = COLUMNS["alera"]

    state_type = AleraState

    def __post_init__(self):
        V.path_constant(self.c, hi_open=True)
        # the fields checked and normalised by rate_control.validated (C is the rule's d), then carried as they are
        checked = validated(direction=self.direction, eta0=self.eta0, c=self.c, d=self.C, blocks=self.blocks,
                            sigma=self.sigma, **self.CHOICES)
        self._set(eta0=checked["eta0"], c=checked["c"], C=checked["d"], blocks=checked["blocks"],
                  sigma=checked["sigma"])
        self._set(_rule=PathRateControl(self.direction, self.eta0, c=self.c, d=self.C, blocks=self.blocks,
                                        sigma=self.sigma, **self.CHOICES))

    def init(self, theta: Array) -> AleraState:
        xp = as_1d_float(theta)
        finite_theta(xp, theta, "to start from")
        sizes = V.blocks_tuple(self.blocks, theta.shape[0])
        return AleraState(t=0, eta=self.eta0, etas=(self.eta0,) * len(sizes), p=xp.zeros_like(theta), p_sq=0.0,
                          reference=0.0, multiplier=1.0, multipliers=(1.0,) * len(sizes),
                          direction=self.direction.init(theta))

    def update(self, theta: Array, g: Array, state: AleraState, *, loss=None):
        xp = as_1d_float(theta)
        self.check_state(state, theta)
        # (K1-K6): cumulate normalised gradients, adapt every block's rate, then move with the new rates
        step = self._rule._step(theta, g, state.t, state.etas, state.p, state.direction, self.C)
        eta = _geometric_mean(step.etas, V.blocks_tuple(self.blocks, theta.shape[0]))
        new = AleraState(t=state.t + 1, eta=eta, etas=step.etas, p=step.p, p_sq=sum(step.p_sqs),
                         reference=step.reference, multiplier=eta / state.eta, multipliers=step.multipliers,
                         direction=step.direction)
        # the path is finite when p_sq (tested) is; the moments when no g_i^2 overflowed (as in clara)
        known = (step.p,) + (_arrays(step.direction) if _moments_fit(self.direction, step.squares_fit) else ())
        return finite_result(xp, state.t + 1, g, step.theta, new, known=known, direction=self.direction,
                             before=theta)


#: the factory is the class: one parameter list, in the dataclass fields
alera = Alera


class PageHinkleyState(NamedTuple):
    """Page-Hinkley statistics (S1-S3): counter ``k``, relaxed loss ``loss_bar``, its running mean ``mu0``,
    cumulative sum ``U``, its running minimum ``m``, and the threshold ``lam`` (None before the first loss)."""

    k: int
    loss_bar: float
    mu0: float
    U: float
    m: float
    lam: float | None


class SaleraState(NamedTuple):
    """State of :func:`salera`.

    ``t``: accepted updates (an alarm does not count). ``eta``, ``etas``: as in :class:`AleraState`. ``alarm``:
    whether this call raised an alarm. ``alarms``: alarms so far. ``theta_prev``: the iterate before the last
    accepted update (restored on alarm). ``ph``: the Page-Hinkley statistics. ``alera``: the inner ALeRA state.
    ``p_sq``, ``reference``, ``multiplier`` read through to the inner state.
    """

    t: int
    eta: float
    etas: tuple
    alarm: bool
    alarms: int
    theta_prev: Any
    ph: PageHinkleyState
    alera: AleraState

    @property
    def p_sq(self) -> float:
        return self.alera.p_sq

    @property
    def reference(self) -> float:
        return self.alera.reference

    @property
    def multiplier(self) -> float:
        return self.alera.multiplier


def _copy(theta):
    return array_namespace(theta).asarray(theta, copy=True)


_PH_RESET = dict(k=0, loss_bar=0.0, mu0=0.0, U=0.0, m=0.0)


@dataclass(frozen=True, repr=False)
class Salera(_AleraParameters):
    """SALeRA (arXiv 1709.01427): ALeRA plus a Page-Hinkley test on the loss that, on alarm, restores the
    iterate from before the last update and halves every rate (S1-S4 in the module box).

    Parameters as :func:`alera`, plus: ``mbratio`` in (0, 1] = batch size / training-set size; ``ph_lambda`` > 0,
    the threshold as a fraction of the first loss (the Lua gLambda); ``ph_threshold`` an absolute threshold instead;
    ``backtrack`` restore the previous iterate on alarm; ``reset_path_on_alarm``, ``reset_t_on_alarm`` as ensmallen
    (both off, as the Lua code). ``update`` needs ``loss=``.

    A jump of the loss far above its running mean raises an alarm:

    >>> import numpy as np
    >>> from clara_ref import sgd_direction
    >>> opt = Salera(sgd_direction(), 0.1)
    >>> theta, st = np.ones(2), opt.init(np.ones(2))
    >>> theta, st = opt.update(theta, np.ones(2), st, loss=1.0)
    >>> theta2, st = opt.update(theta, np.ones(2), st, loss=50.0)
    >>> st.alarm, st.etas, theta2.tolist()
    (True, (0.05,), [1.0, 1.0])
    """

    mbratio: float = 0.01
    ph_lambda: float = 0.1
    ph_threshold: float | None = None
    backtrack: bool = True
    reset_path_on_alarm: bool = False
    reset_t_on_alarm: bool = False

    name = "salera"

    state_type = SaleraState

    def __post_init__(self):
        inner = Alera(**{f.name: getattr(self, f.name) for f in dataclasses.fields(Alera)})
        for flag in ("backtrack", "reset_path_on_alarm", "reset_t_on_alarm"):
            V.flag(flag, getattr(self, flag))
        self._set(inner=inner, eta0=inner.eta0, c=inner.c, C=inner.C, blocks=inner.blocks, sigma=inner.sigma,
                  mbratio=V.in_range("mbratio", self.mbratio, 0.0, 1.0, lo_open=True, hi_open=False),
                  ph_lambda=V.positive("ph_lambda", self.ph_lambda),
                  ph_threshold=None if self.ph_threshold is None else V.positive("ph_threshold", self.ph_threshold))

    def init(self, theta: Array) -> SaleraState:
        inner = self.inner.init(theta)
        # the state owns a copy: the caller may reuse its theta array in place
        return SaleraState(t=0, eta=inner.eta, etas=inner.etas, alarm=False, alarms=0, theta_prev=_copy(theta),
                           ph=PageHinkleyState(lam=self.ph_threshold, **_PH_RESET), alera=inner)

    def _page_hinkley(self, ph: PageHinkleyState, f: float):
        r, k = self.mbratio, ph.k
        lam = ph.lam
        if lam is None:                                     # threshold fixed once, at the first loss (S3)
            if not f > 0.0:
                raise ValueError(f"salera sets its threshold to ph_lambda x the first loss, which must be > 0; got "
                                 f"{f!r} (pass ph_threshold= to set it directly)")
            lam = self.ph_lambda * f
        if k <= 1.0 / r:
            loss_bar = (k * ph.loss_bar + f) / (k + 1)      # (S1) running mean for the first epoch
        else:
            loss_bar = (1.0 - r) * ph.loss_bar + r * f      # (S1) then an EMA with horizon ~ one epoch
        mu0 = (k * ph.mu0 + loss_bar) / (k + 1)             # (S2)
        U = ph.U + (loss_bar - mu0)
        m = min(ph.m, U)
        return PageHinkleyState(k + 1, loss_bar, mu0, U, m, lam), U - m > lam    # (S3)

    def update(self, theta: Array, g: Array, state: SaleraState, *, loss=None):
        xp = as_1d_float(theta)
        self.check_state(state, theta)
        if loss is None:
            raise ValueError("salera.update needs the minibatch loss: update(theta, g, state, loss=f)")
        f = V.real_scalar("loss", loss)
        if math.isfinite(f):
            ph, alarm = self._page_hinkley(state.ph, f)
        else:
            ph, alarm = state.ph, True                      # a non-finite loss is a catastrophe by itself
        if not alarm:
            new_theta, inner = self.inner.update(theta, g, state.alera)       # checked finite by ALeRA itself
            new = SaleraState(t=state.t + 1, eta=inner.eta, etas=inner.etas, alarm=False, alarms=state.alarms,
                              theta_prev=_copy(theta), ph=ph, alera=inner)
            known = (new_theta, inner.p) + _arrays(inner.direction)
            return finite_result(xp, state.t + 1, g, new_theta, new, known=known, direction=self.direction,
                                 before=theta)
        ### Alarm (S4): back to the previous iterate, halve every rate, reset the test, discard this gradient
        etas = tuple(e / 2.0 for e in state.alera.etas)                  # (S4) halve every rate
        if min(etas) < RATE_FLOOR:
            raise RateFloorError(f"salera: a learning rate fell to {min(etas)!r} < 1e-15 after an alarm at step "
                                 f"{state.t + 1}; training cannot continue")
        inner = state.alera
        sizes = V.blocks_tuple(self.inner.blocks, theta.shape[0])
        inner = inner._replace(etas=etas, eta=_geometric_mean(etas, sizes), multiplier=0.5,
                               multipliers=(0.5,) * len(etas))
        if self.reset_path_on_alarm:
            inner = inner._replace(p=inner.p * 0.0, p_sq=0.0)
        if self.reset_t_on_alarm:
            inner = inner._replace(t=0)
        new_theta = _copy(state.theta_prev) if self.backtrack else theta    # never hand out the state's array
        new = SaleraState(t=state.t, eta=inner.eta, etas=etas, alarm=True, alarms=state.alarms + 1,
                          theta_prev=state.theta_prev, ph=PageHinkleyState(lam=ph.lam, **_PH_RESET), alera=inner)
        known = (state.theta_prev, inner.p) + _arrays(inner.direction)      # all passed on from the checked state
        return finite_result(xp, state.t + 1, g, new_theta, new, known=known, direction=self.direction)


#: the factory is the class: one parameter list, in the dataclass fields
salera = Salera
