"""Synthetic objectives with exact gradients, known optima and the authors' noise model.

Every objective is built by a factory, so its value and gradient share their parameters::

    sphere            f(x) = sum_i x_i^2                                          x* = 0
    ellipsoid         f(x) = sum_i kappa^{(i-1)/(n-1)} x_i^2    (kappa = 1e6)      x* = 0
    ellipsoid_rotated f(x) = sum_i kappa^{(i-1)/(n-1)} (Q^T x)_i^2, Q a fixed seeded rotation     x* = 0
    rosenbrock        f(x) = sum_i 100 (x_{i+1} - x_i^2)^2 + (1 - x_i)^2          x* = 1
    himmelblau        f(x, y) = (x^2 + y - 11)^2 + (x + y^2 - 7)^2                 four minima, (3, 2) among them
    beale             f(x, y) = sum_k (c_k - x + x y^k)^2,  c = (1.5, 2.25, 2.625)  x* = (3, 0.5)
    three_hump_camel  f(x, y) = 2x^2 - 1.05x^4 + x^6/6 + xy + y^2                  x* = 0
    ackley            f(x, y) = -20 exp(-0.2 sqrt((x^2+y^2)/2)) - exp((cos 2 pi x + cos 2 pi y)/2) + e + 20   x* = 0
    pure_noise        f(x) = 0,  grad(x, rng) = sigma xi  (no signal at all)             every x is optimal

Noise (as the authors' notebooks): with ``noise = sigma > 0`` and an rng, ``grad(x, rng)`` returns the exact
gradient at x + sigma xi, xi ~ N(0, I). The metric is the distance to the nearest global minimum
(``objective.distance(x)``).

``pure_noise`` is the null hypothesis of the path rules: its gradients are i.i.d. N(0, sigma^2 I) whatever x is, so
a sound rule's rate should neither rise nor fall on it (docs/derivations.md; claim C0 of the benchmark). Its
``distance`` is |x|, how far the noise has carried x from the start 0.

Why a rotated ellipsoid: Adam's step is invariant to rescaling each coordinate of the gradient (up to eps), so on
the axis-aligned ellipsoid, started at x0 = 100 in every coordinate, Adam moves exactly as on the sphere. Turned by a
random orthogonal Q (Haar-distributed: QR of a Gaussian matrix with the signs of R's diagonal moved into Q), the
same spectrum and the same start distance can no longer be undone by a diagonal preconditioner.

Objectives with a time: the four *drifting* tasks (``DRIFTING``, a :class:`Drifting` each) change at a known step
``change_at`` (mid-run), the setting in which the CLARA paper motivates online adaptation (arXiv 2508.05408: the
ideal rate "potentially changes during training"). Each is a noisy isotropic quadratic
f_t(x) = h_t |x - c_t|^2 in n = 10 coordinates, started at x0 = 100 (the sphere's start) unless said, whose
gradient is taken at x + sigma_t xi (the same noise model):

    quadratic_jump_up    h_t = 1 before change_at, 100 after (the curvature jumps up 100x)       c_t = 0
    quadratic_jump_down  h_t = 100, then 1 (down 100x)                                          c_t = 0
    moving_sphere        h_t = 1; c_t = v t u drifts at v = 1 per step along u = (1, ..., 1)/sqrt(n) away from
                         the start x0 = -100, then jumps by 100 along u at change_at and stays there
    noise_jump           h_t = 1, c_t = 0; sigma_t = 1, then 10 (the gradient noise grows tenfold)

Time is the step: ``grad(x, rng, t)`` is the gradient of update t (t = 1, 2, ...), and ``value(x, t)`` and
``distance(x, t)`` score the point after update t (t = 0: the start) on the same f_t, so a run's curves are
measured against the optimum of their own step. A stationary :class:`Objective` takes ``t`` and ignores it
(``stationary`` is True): its values, its random draws and every pinned trajectory are those of before.

References: Rosenbrock (1960); Himmelblau (1972); the 2-D functions as in the CLARA authors' notebooks
(arXiv 2508.05408).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from . import _validate as V

__all__ = ["Objective", "Drifting", "get", "drifting", "rotation", "NAMES", "DRIFTING"]

NAMES = ("sphere", "ellipsoid", "ellipsoid_rotated", "rosenbrock", "himmelblau", "beale", "three_hump_camel", "ackley",
         "pure_noise")
#: the objectives whose f changes at a known step (:class:`Drifting`)
DRIFTING = ("quadratic_jump_up", "quadratic_jump_down", "moving_sphere", "noise_jump")


@dataclass(frozen=True)
class Objective:
    """A differentiable test function. ``value(x)``, ``grad(x, rng=None)``, ``x_star`` (one global minimum),
    ``minima`` (all of them), ``x0`` (the default start), ``distance(x)`` (to the nearest minimum)."""

    name: str
    n: int
    noise: float
    x_star: np.ndarray
    x0: np.ndarray
    minima: np.ndarray
    _value: Callable = field(repr=False)
    _grad: Callable = field(repr=False)

    def _check(self, x):
        return _point(x, self.n, self.name)

    #: the objective does not change with the step: ``t`` is accepted and ignored
    stationary = True

    def value(self, x, t: int | None = None) -> float:
        """f(x), exact (no noise)."""
        _time(t)
        return float(self._value(self._check(x)))

    def grad(self, x, rng: np.random.Generator | None = None, t: int | None = None) -> np.ndarray:
        """The gradient at x, or at x + noise xi when ``noise > 0`` and ``rng`` is given (``pure_noise``: noise xi
        itself, the gradient of f = 0 plus pure noise)."""
        x = self._check(x)
        V.generator("rng", rng, allow_none=True)
        _time(t)
        if self.name == "pure_noise":
            return self.noise * rng.standard_normal(self.n) if self.noise > 0.0 and rng is not None else 0.0 * x
        if self.noise > 0.0 and rng is not None:
            x = x + self.noise * rng.standard_normal(self.n)
        return self._grad(x)

    def distance(self, x, t: int | None = None) -> float:
        """Euclidean distance from x to the nearest global minimum."""
        x = self._check(x)
        _time(t)
        return float(np.min(np.linalg.norm(self.minima - x, axis=1)))


def _point(x, n: int, name: str) -> np.ndarray:
    """x as a float64 array of shape (n,): only real floating values (complex, integer, datetime and object arrays
    used to be converted silently or to give NaN)."""
    try:
        kind = np.asarray(x).dtype.kind
    except (TypeError, ValueError):
        kind = None
    if kind != "f":
        what = type(x).__name__ if kind is None else f"{type(x).__name__} of dtype {np.asarray(x).dtype}"
        raise TypeError(f"x must be a real floating array of shape ({n},) (float32 or float64), got {what}")
    x = np.asarray(x, dtype=np.float64)
    if x.shape != (n,):
        raise ValueError(f"x must have shape ({n},) for {name}, got {x.shape}")
    return x


def _time(t) -> int:
    """The step ``t`` (None: 0, the start), a non-negative int."""
    return 0 if t is None else V.integer("t", t, hi=V.MAX_COUNT)


@dataclass(frozen=True)
class Drifting:
    """f_t(x) = h_t |x - c_t|^2 with gradient noise sigma_t added to x, changing at step ``change_at`` (module
    docstring). ``curvature`` and ``noise`` give h and sigma before and from ``change_at`` on; the optimum is
    c_t = (``speed`` t + ``jump`` [t >= change_at]) u with u = (1, ..., 1)/sqrt(n), and after the change it keeps
    drifting only if ``drift_after``. Same methods as :class:`Objective`, with the step ``t`` (required for the
    gradient: a time-free call is a mistake here)."""

    name: str
    n: int
    change_at: int
    curvature: tuple = (1.0, 1.0)
    noise: tuple = (1.0, 1.0)
    speed: float = 0.0
    jump: float = 0.0
    drift_after: bool = False
    x0: np.ndarray = field(default=None, repr=False)

    stationary = False

    def phase(self, t: int) -> int:
        """0 before ``change_at``, 1 from it on (t = 0, the start, belongs to the first phase)."""
        return 0 if _time(t) < self.change_at else 1

    def optimum(self, t: int) -> np.ndarray:
        """c_t, the minimiser of f_t."""
        t = _time(t)
        u = np.full(self.n, 1.0 / math.sqrt(self.n))
        if t < self.change_at:
            return (self.speed * t) * u
        moved = t if self.drift_after else self.change_at
        return (self.speed * moved + self.jump) * u                       # (T2) c_t after the change

    def _check(self, x):
        return _point(x, self.n, self.name)

    def value(self, x, t: int | None = None) -> float:
        """f_t(x), exact (no noise)."""
        r = self._check(x) - self.optimum(t)
        return float(self.curvature[self.phase(t)] * (r @ r))

    def grad(self, x, rng: np.random.Generator | None = None, t: int | None = None) -> np.ndarray:
        """2 h_t (x + sigma_t xi - c_t): the gradient of f_t at x + sigma_t xi (at x without an rng)."""
        if t is None:
            raise ValueError(f"t (the step) is required: {self.name} changes at step {self.change_at}")
        x = self._check(x)
        V.generator("rng", rng, allow_none=True)
        k = self.phase(t)
        if rng is not None and self.noise[k] > 0.0:
            x = x + self.noise[k] * rng.standard_normal(self.n)
        return 2.0 * self.curvature[k] * (x - self.optimum(t))             # (T1) grad f_t at x + sigma_t xi

    def distance(self, x, t: int | None = None) -> float:
        """|x - c_t|."""
        return float(np.linalg.norm(self._check(x) - self.optimum(t)))


def _drifting(name: str, n: int, change_at: int) -> Drifting:
    kinds = {"quadratic_jump_up": dict(curvature=(1.0, 100.0)),
             "quadratic_jump_down": dict(curvature=(100.0, 1.0)),
             "moving_sphere": dict(speed=1.0, jump=100.0),
             "noise_jump": dict(noise=(1.0, 10.0))}
    start = -100.0 if name == "moving_sphere" else 100.0   # the optimum drifts away from x0 (never passes it)
    return Drifting(name, n, change_at, x0=np.full(n, start), **kinds[name])


def _sphere(n):
    return (lambda x: np.sum(x * x)), (lambda x: 2.0 * x), np.zeros(n), np.full(n, 100.0)


def _ellipsoid(n, condition):
    h = condition ** (np.arange(n) / max(n - 1, 1))            # h_i = kappa^{(i-1)/(n-1)}
    return (lambda x: np.sum(h * x * x)), (lambda x: 2.0 * h * x), np.zeros(n), np.full(n, 100.0)


def rotation(n: int, seed: int) -> np.ndarray:
    """A random n x n rotation drawn uniformly (Haar measure) from ``numpy.random.default_rng(seed)``.

    >>> Q = rotation(4, seed=0)
    >>> bool(np.allclose(Q @ Q.T, np.eye(4)))
    True
    """
    z = np.random.default_rng(seed).standard_normal((n, n))
    q, r = np.linalg.qr(z)
    return q * np.sign(np.diag(r))                               # column signs fixed: Haar, not QR's convention


def _ellipsoid_rotated(n, condition, seed):
    h = condition ** (np.arange(n) / max(n - 1, 1))
    Q = rotation(n, seed)
    A = (Q * h) @ Q.T                                            # Q diag(h) Q^T: the same spectrum, turned
    A = 0.5 * (A + A.T)                                          # exactly symmetric in floating point
    return (lambda x: x @ A @ x), (lambda x: 2.0 * (A @ x)), np.zeros(n), np.full(n, 100.0)


def _rosenbrock(n):
    def value(x):
        return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)

    def grad(x):
        g = np.zeros_like(x)
        r = x[1:] - x[:-1] ** 2
        g[:-1] += -400.0 * x[:-1] * r - 2.0 * (1.0 - x[:-1])   # d/dx_i of both terms with x_i first
        g[1:] += 200.0 * r                                       # d/dx_{i+1} of 100 (x_{i+1} - x_i^2)^2
        return g

    x0 = np.where(np.arange(n) % 2 == 0, -1.2, 1.0)
    return value, grad, np.ones(n), x0


def _himmelblau():
    def value(x):
        a, b = x[0] ** 2 + x[1] - 11.0, x[0] + x[1] ** 2 - 7.0
        return a * a + b * b

    def grad(x):
        a, b = x[0] ** 2 + x[1] - 11.0, x[0] + x[1] ** 2 - 7.0
        return np.array([4.0 * x[0] * a + 2.0 * b, 2.0 * a + 4.0 * x[1] * b])

    minima = np.array([[3.0, 2.0], [-2.805118, 3.131312], [-3.779310, -3.283186], [3.584428, -1.848126]])
    return value, grad, minima, np.zeros(2)


_BEALE_C = (1.5, 2.25, 2.625)


def _beale():
    def value(x):
        return sum((c - x[0] + x[0] * x[1] ** k) ** 2 for k, c in enumerate(_BEALE_C, start=1))

    def grad(x):
        gx = gy = 0.0
        for k, c in enumerate(_BEALE_C, start=1):
            r = c - x[0] + x[0] * x[1] ** k
            gx += 2.0 * r * (x[1] ** k - 1.0)
            gy += 2.0 * r * k * x[0] * x[1] ** (k - 1)
        return np.array([gx, gy])

    return value, grad, np.array([[3.0, 0.5]]), np.array([1.0, 1.0])


def _three_hump_camel():
    def value(x):
        return 2 * x[0] ** 2 - 1.05 * x[0] ** 4 + x[0] ** 6 / 6 + x[0] * x[1] + x[1] ** 2

    def grad(x):
        return np.array([4 * x[0] - 4.2 * x[0] ** 3 + x[0] ** 5 + x[1], x[0] + 2 * x[1]])

    return value, grad, np.zeros((1, 2)), np.array([2.0, -1.0])


def _ackley():
    two_pi = 2.0 * math.pi

    def value(x):
        r = math.sqrt(0.5 * float(x @ x))
        return (-20.0 * math.exp(-0.2 * r) - math.exp(0.5 * float(np.sum(np.cos(two_pi * x)))) + math.e + 20.0)

    def grad(x):
        r = math.sqrt(0.5 * float(x @ x))
        # d/dx of -20 exp(-0.2 r) = 20 * 0.2 exp(-0.2 r) * dr/dx, dr/dx = x / (2 r); 0 at the origin by symmetry
        g1 = (2.0 * math.exp(-0.2 * r) / r) * x if r > 0 else np.zeros(2)
        g2 = math.exp(0.5 * float(np.sum(np.cos(two_pi * x)))) * math.pi * np.sin(two_pi * x)
        return g1 + g2

    return value, grad, np.zeros((1, 2)), np.array([1.5, 1.5])


def get(name: str, n: int | None = None, noise: float = 0.0, condition: float = 1e6,
        rotation_seed: int = 0) -> Objective:
    """The objective ``name`` (one of NAMES) in dimension ``n`` (default 10; the 2-D functions need n = 2 or
    None), with gradient noise of standard deviation ``noise`` added to x before evaluation. ``condition`` is the
    ellipsoids' condition number, ``rotation_seed`` the seed of ``ellipsoid_rotated``'s rotation.

    >>> f = get("rosenbrock", n=2)
    >>> f.value(f.x_star), f.grad(f.x_star).tolist(), f.x0.tolist()
    (0.0, [0.0, 0.0], [-1.2, 1.0])
    """
    if isinstance(name, str) and name in DRIFTING:
        raise ValueError(f"{name} changes with the step: build it with objectives.drifting({name!r}, change_at=...)")
    if not isinstance(name, str) or name not in NAMES:
        raise ValueError(f"name must be one of {', '.join(NAMES)}; unknown objective {name!r}")
    if isinstance(noise, bool) or not isinstance(noise, (int, float)) or not (noise >= 0.0) or math.isinf(noise):
        raise ValueError(f"noise must be in [0, inf), got {noise!r}")
    two_d = name in ("himmelblau", "beale", "three_hump_camel", "ackley")
    if two_d:
        if not (n is None or (isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n == 2)):
            raise ValueError(f"{name} is 2-dimensional: n must be 2 or None, got {n!r}")
        n = 2
    else:
        n = 10 if n is None else n
        lo = 2 if name == "rosenbrock" else 1
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not lo <= n <= V.MAX_SIZE:
            raise ValueError(f"n must be an int in [{lo}, {V.MAX_SIZE}] for {name}, got {n!r}")
        n = int(n)
    if name == "sphere":
        value, grad, x_star, x0 = _sphere(n)
    elif name in ("ellipsoid", "ellipsoid_rotated"):
        if isinstance(condition, bool) or not isinstance(condition, (int, float)) or not (condition >= 1.0) \
                or math.isinf(condition):
            raise ValueError(f"condition must be in [1, inf), got {condition!r}")
        if name == "ellipsoid":
            value, grad, x_star, x0 = _ellipsoid(n, float(condition))
        else:
            if isinstance(rotation_seed, bool) or not isinstance(rotation_seed, (int, np.integer)) or rotation_seed < 0:
                raise ValueError(f"rotation_seed must be a non-negative int, got {rotation_seed!r}")
            value, grad, x_star, x0 = _ellipsoid_rotated(n, float(condition), int(rotation_seed))
    elif name == "rosenbrock":
        value, grad, x_star, x0 = _rosenbrock(n)
    elif name == "pure_noise":
        value, grad, x_star, x0 = (lambda x: 0.0), (lambda x: 0.0 * x), np.zeros(n), np.zeros(n)
    else:
        value, grad, minima, x0 = {"himmelblau": _himmelblau, "beale": _beale,
                                   "three_hump_camel": _three_hump_camel, "ackley": _ackley}[name]()
        return Objective(name, 2, float(noise), minima[0].copy(), x0, minima, value, grad)
    return Objective(name, n, float(noise), x_star, x0, x_star[None, :].copy(), value, grad)


def drifting(name: str, change_at: int, n: int = 10) -> Drifting:
    """The drifting objective ``name`` (one of DRIFTING) in ``n`` coordinates, changing at step ``change_at``.

    >>> f = drifting("quadratic_jump_up", change_at=500)
    >>> f.value(f.x0, t=0), f.value(f.x0, t=500), f.distance(f.x0, t=499)
    (100000.0, 10000000.0, 316.22776601683796)
    """
    if not isinstance(name, str) or name not in DRIFTING:
        raise ValueError(f"name must be one of {', '.join(DRIFTING)}; unknown drifting objective {name!r}")
    change_at = V.integer("change_at", change_at, lo=1, hi=V.MAX_COUNT)
    n = V.integer("n", n, lo=1, hi=V.MAX_SIZE)
    return _drifting(name, n, change_at)
