r"""Reference statistics of the path under pure noise: what ``clara`` and ``alera`` compare ``|p|^2`` with.

::

    The path (P0-P2 of clara_ref/path.py)   p_0 = 0,   p_t = (1 - c) p_{t-1} + c u_t,   u_t = s_t / |s_t|
    unrolled            E|p_t|^2 = c^2 sum_{i,j=0}^{t-1} (1-c)^{i+j} E<u_{t-i}, u_{t-j}>

    SGD (u_t i.i.d. isotropic, any n):
      mean              E|p_t|^2 = mu (1 - (1-c)^{2t}),   mu = c / (2 - c)                         (R1)
      stationary sd     sigma = 2 mu (1-c) / sqrt(n (1 + (1-c)^2))                                 (R2)

    Adam (u_t = a_t/|a_t|, a_t = m_hat/(sqrt(v_hat)+eps), g_t ~ N(0, I_n)):
      n -> inf          mu_A = mu (1 + (1-c) beta1) / (1 - (1-c) beta1)                           (R3)
      finite n          mu_A(n) = mu [1 + 2 sum_{h>=1} (1-c)^h kappa_n(beta1^h)]                  (R4)
      kappa_n(rho)      = rho (2/n) [Gamma((n+1)/2) / Gamma(n/2)]^2 2F1(1/2, 1/2; n/2 + 1; rho^2)  (R5)
      spread (n >= 32)  sigma_A^2 = (2 c^4 / n) tr(M R M R),  W_ij = (1-c)^{i+j},
                        R_ij = beta1^{|i-j|}, r_i = sum_j W_ij R_ij, M = W - diag(r)              (R6)

    Monte Carlo         the direction's own propose and the optimizer's own cumulate on g_t ~ N(0, I_n)   (R7)

(R4) replaces the lag-h correlation beta1^h of the momentum by kappa_n(beta1^h), the expected cosine of two
n-dimensional Gaussian vectors whose coordinates have correlation rho; it treats sqrt(v_hat) as constant, so it is
exact at n = 1 (u = sign(m)) and otherwise good to about 0.001 (the noise of v_hat is neglected).

Notes
-----
* Finite t for Adam has no closed form: for t <= ``ADAM_TRANSIENT_STEPS`` the mean comes from a cached, seeded
  Monte Carlo of the direction's own ``propose`` at dimension ``min(n, 1000)`` (the mean moves by about 0.13/n with
  n, so capping the dimension costs at most 0.00013) with about 40000 trial-coordinates, a standard error of about
  0.002; beyond it the stationary value (R3/R4) is used. Both stay within 0.01 of a Monte Carlo at every n and t
  (tests/test_reference.py checks this).
* The Adam spread (R6) is a large-n delta method; below n = 32 it is off by up to 20% (about 1% at n = 42), so there the
  spread comes from a cached seeded Monte Carlo (2000 trials, 300 steps or 10/(1 - beta1) where the momentum is
  longer, relative accuracy about 2%).
* (R5) is evaluated stably at every n (``kappa``): its hypergeometric factor by its positive power series from
  c = n/2 + 1 >= 10 on (scipy's hyp2f1 overflows there for beta1 >= 0.95 at even n >= 198), its gamma factor by an
  asymptotic series above n = 100,000; a value that is still not finite raises ``ReferenceValueError`` naming the
  block size and the hyperparameters.
* Adam's reference is taken to depend on beta1 and c only (beta2 and eps enter through the neglected v_hat noise);
  weight decay is ignored (the null hypothesis is pure noise around theta = 0).

References
----------
ALeRA/SALeRA: Schoenauer-Sebag, Schoenauer, Sebag, arXiv 1709.01427 (R1). CLARA: Atamna, Maus, Kievelitz,
Glasmachers, arXiv 2508.05408 (R3). Every formula is derived in docs/derivations.md, (R2) and (R4)-(R6) for
clara_ref itself.
"""

from __future__ import annotations

import dataclasses
import math
from functools import lru_cache
from typing import NamedTuple

import numpy as np
from scipy import special

from . import _validate as V
from .errors import ReferenceValueError
from . import path as _path
from .path import CLAMP_FLOOR

__all__ = ["random_walk_mean", "random_walk_std", "kappa", "path_sq_norm_mean", "path_sq_norm_std",
           "ReferenceValueError", "monte_carlo", "MonteCarloResult", "adam_path_mean", "adam_path_std",
           "simulated_mean", "simulated_std", "ADAM_TRANSIENT_STEPS"]

#: Up to this t the Adam transient comes from the cached Monte Carlo; after it, the stationary value.
ADAM_TRANSIENT_STEPS = 200
_MC_DIM_CAP = 1000          # dimension used for the cached Monte Carlo when n is larger (or infinite)
_MC_ELEMENTS = 40_000       # trials * dimension of the cached transient Monte Carlo
_SPREAD_MC_BELOW = 32       # below this n the Adam spread comes from the cached Monte Carlo


def _check_c(c) -> float:
    return V.path_constant(c)


def _check_n(n, allow_none=True):
    if n is None and allow_none:
        return None
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive int{' or None (infinite dimension)' if allow_none else ''}, got {n!r}")
    return int(n)


def _check_t(t):
    if t is None:
        return None
    if isinstance(t, bool) or not isinstance(t, (int, np.integer)) or t < 0:
        raise ValueError(f"t must be a non-negative int or None (stationary), got {t!r}")
    return int(t)


def random_walk_mean(c: float = 0.2, t: int | None = None) -> float:
    """E|p_t|^2 of the path of i.i.d. isotropic unit vectors (R1): mu (1 - (1-c)^{2t}), or mu = c/(2-c) if t is None.

    Exact in every dimension n >= 1, since E<u_i, u_j> = delta_ij.

    >>> round(random_walk_mean(0.2), 12), round(random_walk_mean(0.2, t=1), 12), round(random_walk_mean(0.2, t=2), 12)
    (0.111111111111, 0.04, 0.0656)
    """
    c, t = _check_c(c), _check_t(t)
    mu = c / (2.0 - c)                                       # (R1) stationary mean
    return mu if t is None else mu * (1.0 - (1.0 - c) ** (2 * t))


def random_walk_std(c: float = 0.2, n: int = 1) -> float:
    """Exact stationary standard deviation of |p|^2 for i.i.d. isotropic unit vectors in R^n (R2).

    >>> round(random_walk_std(0.2, n=1), 4)
    0.1388
    """
    c, n = _check_c(c), _check_n(n, allow_none=False)
    mu = random_walk_mean(c)
    return 2.0 * mu * (1.0 - c) / math.sqrt(n * (1.0 + (1.0 - c) ** 2))   # (R2)


def kappa(n: int, rho):
    """Expected cosine of two Gaussian vectors in R^n whose coordinate pairs have correlation ``rho`` (R5).

    >>> round(float(kappa(1, 0.5)), 9), round(2 / math.pi * math.asin(0.5), 9)
    (0.333333333, 0.333333333)
    >>> float(kappa(7, 1.0))
    1.0
    """
    n = _check_n(n, allow_none=False)
    rho = V.real_array("rho", rho, -1.0, 1.0)
    inside = np.abs(rho) < 1.0
    f = _hyp2f1_half(n / 2.0 + 1.0, np.where(inside, rho * rho, 0.0))
    out = rho * _gamma_factor(n) * f                          # (R5)
    return np.where(inside, out, rho)                        # kappa_n(+-1) = +-1 exactly


#: above this n the gamma factor of (R5) comes from its asymptotic series: the difference of two log-gammas of about
#: n log n loses n eps to cancellation (7.5e-11 relative at n = 1e5, 2e-8 at 1e8), the series has 7 terms and an
#: error below 1e-15 there; at and below it the log-gamma form is kept, so that no result computed with it moves
_GAMMA_SERIES_ABOVE = 100_000
#: coefficients of Gamma(x + 1/2) / Gamma(x) / sqrt(x) in powers of 1/x (DLMF 5.11.13 with a = 1/2, b = 0)
_GAMMA_RATIO_SERIES = (1.0, -1 / 8, 1 / 128, 5 / 1024, -21 / 32768, -399 / 262144, 869 / 4194304)
#: from this c on the power series of 2F1(1/2, 1/2; c; z) sums in at most a few hundred terms for every z < 1;
#: below it scipy.special.hyp2f1 (which itself overflows to inf or nan for large c and z > 0.9: n = 198, 200,
#: 1000, ... at beta1 >= 0.95), whose transformations near z = 1 beat thousands of terms of the series
_SERIES_FROM_C = 10.0


def _gamma_factor(n: int) -> float:
    """(2/n) [Gamma((n+1)/2) / Gamma(n/2)]^2, the k = 0 term of (R5) divided by rho."""
    if n <= _GAMMA_SERIES_ABOVE:
        return float(np.exp(2.0 * (special.gammaln((n + 1) / 2.0) - special.gammaln(n / 2.0))) * 2.0 / n)
    x = n / 2.0
    ratio = sum(a * x**-i for i, a in enumerate(_GAMMA_RATIO_SERIES))    # Gamma(x + 1/2) / (Gamma(x) sqrt(x))
    return ratio * ratio


def _hyp2f1_half(c: float, z):
    """2F1(1/2, 1/2; c; z) for c >= 3/2 and 0 <= z < 1, element-wise (the hypergeometric factor of (R5)).

    For c >= _SERIES_FROM_C its power series sum_k [(1/2)_k]^2 / ((c)_k k!) z^k: every term is positive (no
    cancellation) and the ratio of consecutive terms, z (k + 1/2)^2 / ((k + c)(k + 1)), is below z, so the tail after
    a term t is below t z / (1 - z); the sum stops when that bound is below 1e-17 of the sum. Below it,
    scipy.special.hyp2f1.
    """
    z = np.asarray(z, dtype=np.float64)
    if c < _SERIES_FROM_C:
        return special.hyp2f1(0.5, 0.5, c, z)
    total, term, k = np.ones_like(z), np.ones_like(z), 0
    zmax = float(np.max(z)) if z.size else 0.0
    while True:
        term = term * ((k + 0.5) ** 2 / ((k + c) * (k + 1.0))) * z
        total = total + term
        k += 1
        if float(np.max(term / total)) * zmax / (1.0 - zmax) < 1e-17:
            return total


def _adam_stationary_mean(c: float, beta1: float, n: int | None) -> float:
    mu = random_walk_mean(c)
    a, b = 1.0 - c, beta1
    if n is None:
        return mu * (1.0 + a * b) / (1.0 - a * b)            # (R3)
    if a * b == 0.0:
        return mu                                             # c = 1 or beta1 = 0: no correlated lags
    # Truncate where (a b)^h < 1e-17: kappa_n(b^h) <= b^h, so the neglected tail is below float64 rounding.
    H = max(1, min(1_000_000, math.ceil(math.log(1e-17) / math.log(a * b))))
    h = np.arange(1, H + 1)
    return float(mu * (1.0 + 2.0 * np.sum(a**h * kappa(n, b**h))))   # (R4)


def _adam_delta_std(c: float, beta1: float, n: int) -> float:
    a, b = 1.0 - c, beta1
    if a == 0.0:
        return 0.0                                            # c = 1: p = u, so |p|^2 = 1 always
    H = max(2, min(4000, math.ceil(math.log(1e-17) / math.log(a)) + 1))
    i = np.arange(H)
    W = np.outer(a**i, a**i)                                   # W_ij = (1-c)^{i+j}
    R = b ** np.abs(i[:, None] - i[None, :])                   # R_ij = beta1^{|i-j|}
    M = W - np.diag((W * R).sum(axis=1))                       # M = W - diag(r)
    A = M @ R
    return math.sqrt(2.0 * c**4 / n * float(np.sum(A * A.T)))  # (R6): tr(MRMR) = sum_ij A_ij A_ji


class MonteCarloResult(NamedTuple):
    """Monte Carlo estimate of |p_T|^2 under i.i.d. N(0, I_n) gradients.

    ``mean``, ``std`` (sample sd, ddof=1) and ``se`` (= std / sqrt(trials)) of |p_T|^2 at T = ``steps``;
    ``mean_t[k]`` is the mean of |p_{k+1}|^2 over trials, for every step, and ``meansq_t[k]`` the mean of its square
    (so that a stationary spread can be estimated from many steps, not only the last).
    """

    mean: float
    std: float
    se: float
    mean_t: np.ndarray
    trials: int
    steps: int
    meansq_t: np.ndarray | None = None


def monte_carlo(direction, n: int, c: float = 0.2, steps: int = 1000, trials: int = 1000,
                seed: int = 0) -> MonteCarloResult:
    """Simulate the path (R7) of ``direction`` under pure-noise gradients g_t ~ N(0, I_n), all trials at once.

    The direction's own ``propose`` runs on arrays of shape (trials, n) (Adam's update is element-wise), so the
    simulated optimizer is the library's optimizer, not a copy. Trials are processed in chunks of at most about
    2 million numbers, so memory stays bounded; results depend only on the arguments.

    >>> from clara_ref.directions import sgd_direction
    >>> r = monte_carlo(sgd_direction(), n=5, steps=1, trials=10)
    >>> round(r.mean, 12), r.std < 1e-12       # |p_1|^2 = c^2 exactly
    (0.04, True)
    """
    c = _check_c(c)
    n = V.integer("n", n, lo=1, hi=V.MAX_SIZE)
    steps = V.integer("steps", steps, lo=1, hi=V.MAX_COUNT)
    trials = V.integer("trials", trials, lo=1, hi=V.MAX_COUNT)
    _check_direction(direction)
    seed = V.seed(seed)
    chunk = max(1, min(trials, 2_000_000 // n))
    children = np.random.SeedSequence(seed).spawn((trials + chunk - 1) // chunk)
    finals, sums, sums_sq = [], np.zeros(steps), np.zeros(steps)
    for k, child in enumerate(children):
        rows = min(chunk, trials - k * chunk)
        rng = np.random.default_rng(child)
        theta = np.zeros((rows, n))
        state = direction.init(theta)
        p = np.zeros((rows, n))
        for t in range(steps):
            g = rng.standard_normal((rows, n))
            s, state = direction.propose(theta, g, state)
            p, (sq,) = _path.cumulate(p, s, c, ((0, n),), CLAMP_FLOOR)   # (R7) the optimizer's own cumulation
            sums[t] += sq.sum()
            sums_sq[t] += (sq * sq).sum()
        finals.append(sq)
    sq = np.concatenate(finals)
    std = float(sq.std(ddof=1)) if trials > 1 else 0.0
    return MonteCarloResult(mean=float(sq.mean()), std=std, se=std / math.sqrt(trials), mean_t=sums / trials,
                            trials=int(trials), steps=int(steps), meansq_t=sums_sq / trials)


def _null_adam(direction):
    """The direction as the null simulation runs it: weight decay off (theta stays 0 under pure noise anyway),
    so that directions differing only there share one cached simulation. A frozen dataclass: hashable by value.
    This module never imports ``directions`` (which imports it): it takes the direction it is given."""
    return dataclasses.replace(direction, weight_decay=0.0)


@lru_cache(maxsize=64)
def _adam_transient_table(c, direction, n_eff) -> np.ndarray:
    trials = max(200, _MC_ELEMENTS // n_eff)
    return monte_carlo(direction, n_eff, c=c, steps=ADAM_TRANSIENT_STEPS, trials=trials, seed=20250805).mean_t


def _spread_steps(beta1: float) -> int:
    """Steps of the small-n spread simulation: 300, or 10 / (1 - beta1) where the momentum remembers longer (the
    lag-h correlation beta1^h of Adam's steps must have died out: 10,000 steps at beta1 = 0.999)."""
    return max(300, math.ceil(10.0 / (1.0 - beta1)))


@lru_cache(maxsize=64)
def _adam_small_n_std(c, direction, n) -> float:
    return monte_carlo(direction, n, c=c, steps=_spread_steps(direction.beta1), trials=2000, seed=20250806).std


def _check_direction(direction):
    if not all(callable(getattr(direction, a, None)) for a in ("init", "propose", "null_mean", "null_std")):
        raise ValueError(f"direction must be a clara_ref direction (init, propose, null_mean, null_std), "
                         f"got {direction!r}")


def adam_path_mean(direction, c: float, n: int | None, t: int | None) -> float:
    """E|p_t|^2 for Adam's unit steps: (R3) at n = None, the kappa series (R4) at finite n, the cached transient
    Monte Carlo for t <= ADAM_TRANSIENT_STEPS (see the module notes)."""
    if t == 0:
        return 0.0
    if t is not None and t <= ADAM_TRANSIENT_STEPS:
        n_eff = _MC_DIM_CAP if n is None else min(n, _MC_DIM_CAP)
        return float(_adam_transient_table(c, _null_adam(direction), n_eff)[t - 1])
    return _adam_stationary_mean(c, direction.beta1, n)


def adam_path_std(direction, c: float, n: int | None) -> float:
    """Stationary spread for Adam's unit steps: (R6) for n >= 32, a cached seeded Monte Carlo below, 0 at n = None."""
    if n is None:
        return 0.0
    if n < _SPREAD_MC_BELOW:
        return _adam_small_n_std(c, _null_adam(direction), n)
    return _adam_delta_std(c, direction.beta1, n)


_SIM_STEPS = 300            # steps of the generic simulation: (1-c)^{2*300} is negligible for c >= 0.05
_SIM_ELEMENTS = 20_000      # trials * dimension of the generic simulation


@lru_cache(maxsize=64)
def _simulation(direction, c: float, n_eff: int) -> MonteCarloResult:
    trials = max(200, _SIM_ELEMENTS // n_eff)
    return monte_carlo(direction, n_eff, c=c, steps=_SIM_STEPS, trials=trials, seed=20250807)


def simulated_mean(direction, c: float, n: int | None, t: int | None) -> float:
    """E|p_t|^2 of any direction's unit steps from a cached seeded Monte Carlo of its own ``propose`` (at dimension
    min(n, 1000); t None or beyond 300 steps: the value at step 300)."""
    if t == 0:
        return 0.0
    r = _simulation(direction, c, _MC_DIM_CAP if n is None else min(n, _MC_DIM_CAP))
    return float(r.mean_t[min(t, _SIM_STEPS) - 1] if t is not None else r.mean_t[-1])


def simulated_std(direction, c: float, n: int | None) -> float:
    """The stationary spread of |p|^2 of any direction, from the same cached simulation (0 at n = None)."""
    if n is None:
        return 0.0
    return _simulation(direction, c, min(n, _MC_DIM_CAP)).std


def path_sq_norm_mean(direction, c: float = 0.2, n: int | None = None, t: int | None = None) -> float:
    """E|p_t|^2 of the path of ``direction``'s unit steps under i.i.d. N(0, I_n) gradients.

    * SGD direction: (R1), exact for every n and t (n is ignored).
    * Adam direction: t = None (stationary) gives (R3) for n = None and the kappa series (R4) for finite n (exact at
      n = 1, within about 0.001 for n >= 2); a finite t <= ADAM_TRANSIENT_STEPS uses the cached Monte Carlo
      described in the module notes (within 0.01 at every n, t).
    * Any other direction: its own ``null_mean`` (by default a cached seeded simulation of its ``propose``).

    ``t = 0`` gives 0 (the path starts at zero).

    >>> from clara_ref import sgd_direction, adam_direction
    >>> round(path_sq_norm_mean(sgd_direction(), c=0.2, t=10), 4)
    0.1098
    >>> round(path_sq_norm_mean(adam_direction(), c=0.2), 6), round(path_sq_norm_mean(adam_direction(), n=1), 4)
    (0.68254, 0.5261)
    """
    c, n, t = _check_c(c), _check_n(n), _check_t(t)
    _check_direction(direction)
    return _finite(direction.null_mean(c, n, t), "path_sq_norm_mean", direction, c, n, t)


def path_sq_norm_std(direction, c: float = 0.2, n: int | None = None) -> float:
    """Stationary standard deviation of |p|^2 under i.i.d. N(0, I_n) gradients.

    SGD direction: (R2), exact. Adam direction: the delta method (R6) for n >= 32 (about 1% accurate there), a
    cached seeded Monte Carlo below. ``n = None`` (infinite dimension) gives 0.

    >>> from clara_ref import sgd_direction, adam_direction
    >>> round(path_sq_norm_std(sgd_direction(), n=15), 4), round(path_sq_norm_std(adam_direction(), n=650), 4)
    (0.0358, 0.0118)
    """
    c, n = _check_c(c), _check_n(n)
    _check_direction(direction)
    return _finite(direction.null_std(c, n), "path_sq_norm_std", direction, c, n, None)


def _finite(value, what, direction, c, n, t) -> float:
    """``value`` as a float, or ReferenceValueError naming the block size and the hyperparameters: a path rule must
    never compare |p|^2 with inf or NaN (its rate would then fail far from the cause)."""
    value = float(value)
    if math.isfinite(value):
        return value
    hp = ", ".join(f"{k}={v!r}" for k, v in direction.hyperparameters().items())
    raise ReferenceValueError(f"{what} is {value!r} for a block of n = {n} (c = {c}, t = {t}, {hp}): the reference "
                              "cannot be computed there")
