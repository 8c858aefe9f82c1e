"""Learning-rate control from the path: the one body of CLARA and of the 2017 rule, equations beside their lines.

CLARA (arXiv 2508.05408) and ALeRA (arXiv 1709.01427) are the same loop: propose a direction, cumulate a path of
normalised vectors, compare |p|^2 with its expectation under pure noise, multiply the rate by an exponential of the
difference. They differ only in the choices of the table below (``COLUMNS``, K0): ``clara(...)`` and
``alera(...)`` are :class:`PathRateControl` with their column (``clara_ref/clara.py``, ``clara_ref/alera.py`` hold
what only they own: their fields, their state, SALeRA's Page-Hinkley test)::

    choice            what it chooses                          CLARA (2025)            the 2017 rule (ALeRA)
    ----------------  ---------------------------------------  ----------------------  ------------------------
    path_of           which vector enters the path             "step"                  "gradient"
    transient         expectation at finite t, or stationary   False                   True
    rates             one rate, or one rate per block          "global"                "per_block"
    adapt             rate changed after or before the move    "after_move"            "before_move"
    score             the exponent                             "ratio": d (P/ref - 1)  "z": C (P_b - mu_t)/sigma_b
    small             a block of norm <= floor                 "clamp" (1e-12)         "skip" (1e-6: decay only)

One update, both papers' equations (blocks b = 1..K; ``path_of``, ``transient`` are fields a user may change)::

    s_t <- direction(g_t)                  SGD: g + lambda theta;  Adam: m_hat / (sqrt(v_hat) + eps)      (K1)
    x_b <- s_b (path_of="step", CLARA)  or  g_b + lambda theta_b (path_of="gradient", 2017)             (K2)
    u_b <- x_b / max(|x_b|, 1e-12) (clamp)  or  x_b / |x_b|, 0 if |x_b| <= 1e-6 (skip)
    p_b <- (1 - c) p_b + c u_b;   P_b <- |p_b|^2        (clara_ref.path: P0, P1, P2)                   (K3)
    ref_b <- E_null |p_b|^2: the stationary mu_b of the vector entering the path (clara_ref.reference),
             or at finite t (transient: mu (1 - (1-c)^{2t}) for the random walk)                       (K4)
    adapt="before_move" (2017): eta <- adapt(eta)                                                       (K5)
    theta_b <- theta_b - eta_b s_b    (move="unit", the authors' "us": s_b / max(|s_b|, 1e-12))          (K6)
    adapt="after_move" (CLARA):  eta <- adapt(eta)                                                      (K5)

    adapt, rates="global" (CLARA):     eta <- eta exp(score(P, ref)),   P = sum_b P_b, ref = sum_b ref_b
    adapt, rates="per_block" (2017):   eta_b <- eta_b exp(score(P_b, ref_b))
    score="ratio": d (P / ref - 1);   score="z": C (P - ref) / sigma,  sigma the null spread of P
    d = "auto": 2 sqrt(sum_b sigma_b^2), twice the exact null spread of P (CLARA's class default, corrected)

Every rate is guarded: one that becomes inf, 0 or NaN raises ``LearningRateError`` unless ``eta_min``/``eta_max``
bound it explicitly. The paper's correction is the pair ``path_of="step"`` with ``reference="direction"``: the path
follows Adam's own steps, and P is compared with what Adam's steps give under pure noise.
"""

from __future__ import annotations

import math
from dataclasses import KW_ONLY, dataclass, fields
from functools import lru_cache
from typing import Any, NamedTuple

from . import _validate as V
from . import reference as R
from ._backend import as_1d_float, check_gradient
from ._core import block_slices, guard_rate, refuse_non_finite_step, safe_exp
from . import path as _path
from .path import CLAMP_FLOOR, SKIP_FLOOR, block_norms
from .directions import sgd_direction

__all__ = ["PathRateControl", "Step", "CHOICES", "COLUMNS", "validated"]

#: every choice and its allowed values (the first is CLARA's)
CHOICES = {"path_of": ("step", "gradient"), "rates": ("global", "per_block"), "adapt": ("after_move", "before_move"),
           "score": ("ratio", "z"), "small": ("clamp", "skip"), "move": ("raw", "unit"),
           "sigma": ("exact", "2017")}
#: the two rules as the two columns of the module's table: the choices each one fixes (path_of and transient are
#: fields of Clara and Alera, with these values as their defaults)
COLUMNS = {"clara": dict(path_of="step", transient=False, rates="global", adapt="after_move",    # (K0)
                         score="ratio", small="clamp"),
           "alera": dict(path_of="gradient", transient=True, rates="per_block", adapt="before_move",
                         score="z", small="skip")}
#: the norm at or below which a block counts as small, per ``small`` choice (the names of clara_ref.path)
FLOORS = {"clamp": CLAMP_FLOOR, "skip": SKIP_FLOOR}


class Step(NamedTuple):
    """What one update computed: the new iterate, the rates after this update, the path, its per-block squared
    norms, the reference they were compared with (sum over blocks), the factor applied to each rate, the
    direction's new state, and whether <g, g> was finite (no g_i^2 overflowed)."""

    theta: Any
    etas: tuple
    p: Any
    p_sqs: list
    reference: float
    multipliers: tuple
    direction: Any
    squares_fit: bool = True


@lru_cache(maxsize=256)
def _block_sizes(blocks, n: int) -> tuple:
    """The validated block sizes of a theta of size n (checked once per (blocks, n), not at every update)."""
    return V.blocks_tuple(blocks, n)


def _applied(eta: float, f: float, new: float) -> float:
    """The factor the rate was really multiplied by: f, or new / eta where the bounds eta_min/eta_max clamped it
    (an exp that overflowed to inf under eta_max is then the finite factor that reached the bound)."""
    return f if new == eta * f else new / eta


@lru_cache(maxsize=256)
def _null_mean(null_direction, c: float, sizes: tuple, t: int | None) -> float:
    return sum(R.path_sq_norm_mean(null_direction, c=c, n=n, t=t) for n in sizes)


@lru_cache(maxsize=256)
def _null_std(null_direction, c: float, rule: str, n: int) -> float:
    if rule == "2017":
        return c / math.sqrt(n)                    # the 2017 paper's spread, sqrt(2) too large for small c
    return R.path_sq_norm_std(null_direction, c=c, n=n)


def validated(*, direction, eta0, c=0.2, d=1e-3, move="raw", blocks=None, reference="direction", path_of="step",
              transient=False, rates="global", adapt="after_move", score="ratio", small="clamp", sigma="exact",
              eta_min=None, eta_max=None) -> dict:
    """Every hyperparameter of a path rule checked and normalised, as a dict of the same names: the one place where
    they are validated (PathRateControl and the optimizers built on it, ``Clara`` and ``Alera``, call it). Raises
    ``ValueError`` naming the parameter and its valid range."""
    if not all(hasattr(direction, a) for a in ("init", "propose", "gradient", "hyperparameters")):
        hint = (" (an optimizer such as cr.adam(...) is not a direction: pass cr.adam_direction() or "
                "cr.sgd_direction(), and the rate as eta0)") if hasattr(direction, "update") else ""
        raise ValueError(f"direction must be a direction (init, propose, gradient, hyperparameters), "
                         f"got {direction!r}{hint}")
    out = dict(direction=direction, eta0=V.positive("eta0", eta0), c=V.path_constant(c))
    for name, value in (("move", move), ("path_of", path_of), ("rates", rates), ("adapt", adapt),
                        ("score", score), ("small", small), ("sigma", sigma)):
        out[name] = V.one_of(name, value, CHOICES[name])
    if isinstance(d, str):
        if score != "ratio":
            raise ValueError(f"{'d' if score == 'ratio' else 'C'}='auto' needs score='ratio' (CLARA's damping)")
        out["d"] = V.one_of("d", d, ("auto",))
    else:
        out["d"] = V.nonnegative("d" if score == "ratio" else "C", d)
    if isinstance(reference, str):
        out["reference"] = V.one_of("reference", reference, ("direction", "random_walk"))
    else:
        if rates != "global":
            raise ValueError("a float reference needs rates='global' (it is compared with the sum over blocks)")
        out["reference"] = V.positive("reference", reference)
    out["transient"] = V.flag("transient", transient)
    out["eta_min"] = None if eta_min is None else V.positive("eta_min", eta_min)
    out["eta_max"] = None if eta_max is None else V.positive("eta_max", eta_max)
    if out["eta_min"] is not None and out["eta_max"] is not None and out["eta_min"] > out["eta_max"]:
        raise ValueError(f"eta_min must be <= eta_max, got {eta_min!r} > {eta_max!r}")
    out["blocks"] = None if blocks is None else V.block_sizes(blocks)
    return out


def log_rate_range(damping, reference, n_blocks, steps) -> float | None:
    """log of the largest factor a path rule can raise eta by in ``steps`` steps: d (K/ref - 1) T.

    P = sum_b |p_b|^2 is at most K (every block's path a unit vector), so each step multiplies eta by at most
    exp(d (K/ref - 1)). For SGD-CLARA with one block (ref = c/(2-c) = 1/9): 8 d per step. For the 2017 rule pass the
    effective damping of its largest block and ref = K mu, which gives the same bound for that block (the run
    records carry both; the claims read a cell's reach from them).

    >>> round(log_rate_range(1e-3, 1 / 9, 1, 1000), 6)
    8.0
    """
    if damping is None or reference is None or n_blocks is None or not reference > 0:
        return None
    return float(damping) * (n_blocks / float(reference) - 1.0) * steps


@dataclass(frozen=True)
class PathRateControl:
    """A path rule around a direction with every choice of the module table as a field: the engine that ``Clara``
    and ``Alera`` build from their own (validated) fields and run (its ``_step`` is one update, K1-K6).

    ``d`` is the damping: CLARA's d (score="ratio") or the 2017 rule's C (score="z"); ``"auto"`` (ratio only) is
    twice the exact null spread of P. ``reference`` is ``"direction"`` (the expectation for the vector entering the
    path), ``"random_walk"`` (c/(2-c) per block) or a float (rates="global" only: P is compared with it as given).
    The fields are checked by :func:`validated`.
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
    rates: str = "global"
    adapt: str = "after_move"
    score: str = "ratio"
    small: str = "clamp"
    sigma: str = "exact"
    eta_min: float | None = None
    eta_max: float | None = None

    def __post_init__(self):
        for name, value in validated(**{f.name: getattr(self, f.name) for f in fields(self)}).items():
            object.__setattr__(self, name, value)
        # The vector entering the path determines the null expectation: the direction's steps, or a random walk.
        object.__setattr__(self, "_null_direction", self.direction if self.path_of == "step" else sgd_direction())

    # -- reference math ------------------------------------------------------------------------------------------
    def reference_at(self, t: int, sizes: tuple) -> float:
        """What P (the sum over ``sizes``' blocks) is compared with after update ``t`` (K4)."""
        tt = t if self.transient else None
        if tt is not None and self._null_direction.name != "sgd" and tt > R.ADAM_TRANSIENT_STEPS:
            tt = None          # Adam's transient table ends here: the stationary value is used (and cached) after it
        if isinstance(self.reference, float):
            return self.reference                                      # (K4) a number given by the user
        if self.reference == "random_walk":
            return len(sizes) * R.random_walk_mean(self.c, tt)         # (K4) c/(2-c) per block, or its transient
        return _null_mean(self._null_direction, self.c, sizes, tt)     # (K4) sum_b mu_b of the path's vector

    def damping(self, sizes: tuple) -> float:
        """The damping in use; ``"auto"`` is 2 sqrt(sum_b sigma_b^2), the exact null spread of P doubled."""
        if self.d != "auto":
            return self.d
        return 2.0 * math.sqrt(sum(_null_std(self._null_direction, self.c, "exact", n) ** 2 for n in sizes))  # (K5)

    def _sizes(self, theta) -> tuple:
        return _block_sizes(self.blocks, theta.shape[0])

    # -- one update ------------------------------------------------------------------------------------------------
    def _std(self, n: int) -> float:
        """The null spread of P_b for a block of n (the 2017 rule's sigma_b, ``sigma`` choosing the formula)."""
        return _null_std(self._null_direction, self.c, self.sigma, n)

    def _step(self, theta, g, t_done, etas, p, dstate, d) -> Step:
        """One update (K1-K6), each choice of the module table looked up in its table of functions below."""
        xp = as_1d_float(theta)
        squares_fit = check_gradient(xp, theta, g, step=t_done + 1)   # before anything: a refusal changes nothing
        if p.shape != theta.shape:
            raise ValueError(f"state was made for theta of shape {tuple(p.shape)}, got {tuple(theta.shape)}")
        sizes = self._sizes(theta)
        slices = block_slices(sizes)
        t = t_done + 1
        s, dstate = self.direction.propose(theta, g, dstate)                           # (K1)
        s_norms = block_norms(s, slices) if (self.move == "unit" or self.path_of == "step") else None
        if s_norms is not None and not all(map(math.isfinite, s_norms)):
            refuse_non_finite_step(xp, s, g, self.direction, dstate, t)   # before the path and the rate see it
        x, x_norms = PATH_VECTORS[self.path_of](self, theta, g, s, s_norms)            # (K2)
        p, p_sqs = _path.cumulate(p, x, self.c, slices, FLOORS[self.small], small=self.small,   # (K3)
                                  norms=x_norms)
        new_etas, fs, ref = RATES[self.rates](self, etas, p_sqs, sizes, d, t)          # (K4, K5)
        moved_with = WHEN[self.adapt](etas, new_etas)                                  # (K5) before or after
        new_theta = MOVES[self.move](xp, theta, s, s_norms, moved_with, slices)        # (K6)
        return Step(new_theta, new_etas, p, p_sqs, ref, fs, dstate, squares_fit)


# -- the choices, one small function each; the columns of COLUMNS pick them by name ---------------------------------

def _step_enters(rule, theta, g, s, s_norms):
    """path_of="step" (CLARA): the direction's own step s enters the path (its block norms already known)."""
    return s, s_norms


def _gradient_enters(rule, theta, g, s, s_norms):
    """path_of="gradient" (2017): the raw gradient, with coupled L2 if the direction has it."""
    return rule.direction.gradient(theta, g), None


def _ratio(d, P, ref, spread):
    """score="ratio" (CLARA): d (P / ref - 1)."""
    return d * (P / ref - 1.0)


def _z(d, P, ref, spread):
    """score="z" (2017): C (P - ref) / sigma, sigma = ``spread()`` the null spread of P."""
    return d * (P - ref) / spread()


def _global(rule, etas, p_sqs, sizes, d, t):
    """rates="global" (CLARA): one rate, moved by the score of P = sum_b P_b against ref = sum_b ref_b.
    Returns the new rates, the factor applied to each and the reference."""
    P, ref = sum(p_sqs), rule.reference_at(t, sizes)                                  # (K4)
    f = safe_exp(SCORES[rule.score](d, P, ref, lambda: math.sqrt(sum(rule._std(n) ** 2 for n in sizes))))   # (K5)
    new = guard_rate(etas[0] * f, t, rule.eta_min, rule.eta_max)
    return (new,), (_applied(etas[0], f, new),), ref


def _per_block(rule, etas, p_sqs, sizes, d, t):
    """rates="per_block" (2017): block b's rate moved by the score of P_b against ref_b."""
    refs = [rule.reference_at(t, (n,)) for n in sizes]                                  # (K4)
    fs = tuple(safe_exp(SCORES[rule.score](d, q, r, lambda n=n: rule._std(n)))           # (K5)
               for q, r, n in zip(p_sqs, refs, sizes))
    new = tuple(guard_rate(e * f, t, rule.eta_min, rule.eta_max, block=b if len(etas) > 1 else None)
                for b, (e, f) in enumerate(zip(etas, fs)))
    return new, tuple(_applied(e, f, n) for e, f, n in zip(etas, fs, new)), sum(refs)


def _raw(xp, theta, s, s_norms, etas, slices):
    """move="raw" (both papers): theta_b - eta_b s_b."""
    if len(etas) == 1:
        new = s * -etas[0]
        new += theta                                                   # (K6) theta - eta s, one rate
        return new
    new = xp.asarray(theta, copy=True)
    for (a, b), e in zip(slices, etas):
        new[a:b] -= e * s[a:b]                                         # (K6) one rate per block
    return new


def _unit(xp, theta, s, s_norms, etas, slices):
    """move="unit" (the CLARA authors' "us"): theta_b - eta_b s_b / max(|s_b|, 1e-12)."""
    new = xp.asarray(theta, copy=True)
    for i, (a, b) in enumerate(slices):
        e = etas[i] if len(etas) > 1 else etas[0]
        new[a:b] -= (e / max(s_norms[i], CLAMP_FLOOR)) * s[a:b]        # (K6) unit
    return new


#: one function per value of each choice (the module table's rows): which vector enters the path (K2), how the
#: rates move (K4, K5), the exponent (K5), the move (K6), and which rates the move uses: the old ones when the
#: rate is adapted after the move (CLARA), the new ones when before (2017)
PATH_VECTORS = {"step": _step_enters, "gradient": _gradient_enters}
RATES = {"global": _global, "per_block": _per_block}
SCORES = {"ratio": _ratio, "z": _z}
MOVES = {"raw": _raw, "unit": _unit}
WHEN = {"after_move": lambda old, new: old, "before_move": lambda old, new: new}
