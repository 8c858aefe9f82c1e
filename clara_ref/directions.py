"""Directions: what a base optimizer proposes before any learning rate is applied.

::

    SGD direction                          Adam direction (Kingma & Ba 2015, Algorithm 1)
    --------------------------------       ----------------------------------------------------------
    input: g_t, theta_{t-1}, lambda        input: g_t, theta_{t-1}, beta1, beta2, eps, lambda
    g <- g_t + lambda * theta_{t-1}  (G1)  g <- g_t + lambda * theta_{t-1}                      (E1)
    s_t <- g                         (G2)  m_t <- beta1 * m_{t-1} + (1 - beta1) * g             (E2)
                                           v_t <- beta2 * v_{t-1} + (1 - beta2) * g^2           (E3)
                                           m_hat <- m_t / (1 - beta1^t)                         (E4)
                                           v_hat <- v_t / (1 - beta2^t)                         (E5)
                                           s_t <- m_hat / (sqrt(v_hat) + eps)                   (E6)

A direction is a small immutable object (a frozen dataclass deriving from :class:`Direction`) with

* ``init(theta) -> state`` and ``propose(theta, g, state) -> (s, state)``: what the base optimizer proposes;
* ``gradient(theta, g)``: the gradient it sees (with coupled weight decay), the vector ``path_of="gradient"`` uses;
* ``null_mean(c, n, t)`` and ``null_std(c, n)``: E|p_t|^2 and the stationary spread of the path of its own unit
  steps under pure-noise gradients g ~ N(0, I_n), what ``reference="direction"`` and ``d="auto"`` use. SGD and Adam
  override them with closed forms (``clara_ref.reference``); the base class estimates them by a cached, seeded Monte
  Carlo of the direction's own ``propose``, so a new direction (RMSprop, say) works in ``clara`` without editing it.

Optimizers wrap it: ``sgd``/``adam`` move by ``eta * s`` with a
constant ``eta``; ``clara`` and ``alera`` adapt ``eta`` from the path of (normalised) directions. The Monte Carlo of
``clara_ref.reference`` calls the same ``propose`` on arrays of shape (trials, n), so there is exactly one copy of
Adam in the library.

Symbols: ``beta1``, ``beta2`` are torch's ``betas``; ``eps`` sits outside the square root (as torch.optim.Adam);
``weight_decay`` (lambda) is coupled L2 added to the gradient, as torch.optim and the authors' Adam_Clara do.

Notes
-----
* ``t`` is 0 in a fresh state and 1-based in the bias corrections (E4, E5).
* m_hat and v_hat are formed literally, one line per equation. torch folds the corrections into the step size;
  the two agree to float rounding (checked in tests/test_torch_crosscheck.py).
* A gradient so large that g^2 overflows (|g| > 1.3e154 in float64, 1.8e19 in float32) makes v_hat = inf and the
  step 0 for that coordinate, never NaN (as torch.optim.Adam); but v = inf would freeze that coordinate for good, so
  the optimizers refuse such an update (``NonFiniteStateError``, naming g**2) instead of returning it.

References
----------
Kingma & Ba, "Adam: A Method for Stochastic Optimization", arXiv 1412.6980, Algorithm 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from . import _validate as V
from . import reference as R
from ._backend import Array, array_namespace
from .allocator import freed_memory_kept

__all__ = ["Direction", "SGDDirection", "AdamDirection", "FusedAdamDirection", "SGDDirectionState",
           "AdamDirectionState", "sgd_direction", "adam_direction"]


#: entries per slice when the Adam direction runs its lines over a long NumPy vector a slice at a time (32,768:
#: 128 KiB in float32, 256 KiB in float64, so that the dozen arrays of one slice fit a core's L2 cache), from
#: ADAM_SLICED_FROM_KEPT entries on where freed memory is kept (``clara_ref.allocator.keep_freed_memory``, as in
#: ``reproduce``'s workers and the benchmarks), from ADAM_SLICED_FROM on otherwise. benchmarks/step_time.py races
#: both forms (docs/benchmarks/step_time.txt, 1 thread; us, one pass against slices). With freed memory kept, a
#: whole-vector pass reuses warm memory and wins while its arrays fit the L3 cache (235,146 entries, float32: 456
#: against 637; 1e6: 2,933 against 3,654, and 618 against 921, 4,933 against 5,243 in an earlier run); at 2,193,226
#: entries slices won in float64 (17,242 against 19,003) and in an earlier run's float32 (11,797 against 14,022),
#: while this run's float32 read 7,881 against 8,280, hence 2^20. With glibc's defaults a fresh whole-vector array
#: may come from fresh pages of the kernel, depending on the thresholds the process's earlier allocations left, and
#: the race varies from run to run: at 235,146 entries slices measured 9% faster in one run, 27% and 34% slower in
#: two others; at 1e6 they won in the earlier runs and lost by 10% to 17% in this one
ADAM_SLICE = 32_768
ADAM_SLICED_FROM = 6 * ADAM_SLICE
ADAM_SLICED_FROM_KEPT = 32 * ADAM_SLICE


class SGDDirectionState(NamedTuple):
    """State of the SGD direction: only the number of proposals made."""

    t: int


class AdamDirectionState(NamedTuple):
    """State of the Adam direction: step count ``t``, first moment ``m``, second moment ``v``."""

    t: int
    m: Any
    v: Any


@dataclass(frozen=True)
class Direction:
    """Base of every direction: subclass it as a frozen dataclass whose fields are the hyperparameters, and define
    ``init`` and ``propose`` (elementwise over the last axis, so that the Monte Carlo can run many trials as rows).

    Subclasses that know the pure-noise statistics of their unit steps in closed form override ``null_mean`` and
    ``null_std``; otherwise they come from ``clara_ref.reference.monte_carlo`` of ``propose`` itself (20,000
    trial-coordinates, 300 steps, seeded, cached per hyperparameters: a standard error of about 0.002 on the mean).
    """

    name = "direction"

    def init(self, theta: Array):  # pragma: no cover - every direction overrides
        raise NotImplementedError

    def propose(self, theta: Array, g: Array, state):  # pragma: no cover - every direction overrides
        raise NotImplementedError

    def gradient(self, theta, g):
        """The gradient the direction sees: g plus coupled L2 ((G1), (E1)) when the direction has a ``weight_decay``."""
        wd = getattr(self, "weight_decay", 0.0)
        return g + wd * theta if wd else g

    def null_mean(self, c: float, n: int | None, t: int | None) -> float:
        """E|p_t|^2 of the path of this direction's unit steps under g ~ N(0, I_n) (t None: stationary)."""
        return R.simulated_mean(self, c, n, t)

    def null_std(self, c: float, n: int | None) -> float:
        """Stationary standard deviation of |p|^2 under g ~ N(0, I_n) (n None: infinite dimension, 0)."""
        return R.simulated_std(self, c, n)

    def hyperparameters(self) -> dict:
        from dataclasses import fields

        return {"direction": self.name, **{f.name: getattr(self, f.name) for f in fields(self)}}


@dataclass(frozen=True)
class SGDDirection(Direction):
    """The SGD direction s = g (+ weight_decay * theta). Build it with :func:`sgd_direction`."""

    weight_decay: float = 0.0
    name = "sgd"

    def __post_init__(self):                     # the fields are checked here, so SGDDirection(...) is safe too
        object.__setattr__(self, "weight_decay", V.nonnegative("weight_decay", self.weight_decay))

    def init(self, theta: Array) -> SGDDirectionState:
        return SGDDirectionState(t=0)

    def null_mean(self, c, n, t):
        return R.random_walk_mean(c, t)      # reference.py's R1: independent isotropic unit vectors, any n

    def null_std(self, c, n):
        return 0.0 if n is None else R.random_walk_std(c, n)   # reference.py's R2

    def propose(self, theta: Array, g: Array, state: SGDDirectionState):
        return self.gradient(theta, g), SGDDirectionState(t=state.t + 1)  # (G1, G2)


@dataclass(frozen=True)
class AdamDirection(Direction):
    """The Adam direction m_hat / (sqrt(v_hat) + eps). Build it with :func:`adam_direction`."""

    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    weight_decay: float = 0.0
    name = "adam"

    def __post_init__(self):                     # the fields are checked here, so AdamDirection(...) is safe too
        for beta in ("beta1", "beta2"):
            object.__setattr__(self, beta, V.in_range(beta, getattr(self, beta), 0.0, 1.0, lo_open=False,
                                                      hi_open=True))
        object.__setattr__(self, "eps", V.nonnegative("eps", self.eps))
        object.__setattr__(self, "weight_decay", V.nonnegative("weight_decay", self.weight_decay))

    def init(self, theta: Array) -> AdamDirectionState:
        xp = array_namespace(theta)
        return AdamDirectionState(t=0, m=xp.zeros_like(theta), v=xp.zeros_like(theta))

    def null_mean(self, c, n, t):
        return R.adam_path_mean(self, c, n, t)           # reference.py's R3/R4; the cached transient for finite t

    def null_std(self, c, n):
        return R.adam_path_std(self, c, n)               # reference.py's R6, or a cached Monte Carlo below n = 32

    def propose(self, theta: Array, g: Array, state: AdamDirectionState):
        xp = array_namespace(g)
        t = state.t + 1
        g = self.gradient(theta, g)                                      # (E1)
        if xp is np and len(g.shape) == 1 and g.shape[0] >= _sliced_from():
            # A long NumPy vector goes through the same five lines a slice at a time: each line's fresh arrays then
            # stay in the core's cache instead of streaming the whole vector through memory once per line. Every
            # line is elementwise, so the bits are those of one pass (tests/test_directions.py checks it);
            # benchmarks/step_time.py measures the gain.
            s, m, v = np.empty_like(g), np.empty_like(g), np.empty_like(g)
            for a in range(0, g.shape[0], ADAM_SLICE):
                part = slice(a, a + ADAM_SLICE)
                s[part], m[part], v[part] = self._lines(xp, t, g[part], state.m[part], state.v[part])
        else:
            s, m, v = self._lines(xp, t, g, state.m, state.v)
        return s, AdamDirectionState(t=t, m=m, v=v)

    def _lines(self, xp, t, g, m_prev, v_prev):
        """(E2)-(E6) on the gradient g (E1 applied) and the previous moments: -> (s, m, v)."""
        # Each line is one equation of Kingma & Ba's Algorithm 1 and makes new arrays: the caller's g and the
        # state's m, v are never touched. The moments are the plain convex combinations, which stay finite for
        # every finite g (the form m + (1-beta1)(g - m) computes inf - inf once g^2 overflows).
        m = self.beta1 * m_prev + (1.0 - self.beta1) * g                 # (E2)
        v = self.beta2 * v_prev + (1.0 - self.beta2) * (g * g)           # (E3)
        m_hat = m / (1.0 - self.beta1**t)                                # (E4)
        v_hat = v / (1.0 - self.beta2**t)                                # (E5)
        s = m_hat / (xp.sqrt(v_hat) + self.eps)                          # (E6)
        return s, m, v


@dataclass(frozen=True)
class FusedAdamDirection(AdamDirection):
    """Adam's direction in a fused form for training speed: the same s_t as :class:`AdamDirection` in real
    arithmetic, in fewer passes over memory. Build it with ``adam_direction(..., fused=True)``.

    ::

        m_t <- (1 - beta1) * g;   m_t += beta1 * m_{t-1}                        (E2, into a fresh array)
        v_t <- g * g;  v_t *= 1 - beta2;   v_t += beta2 * v_{t-1}               (E3, into a fresh array)
        s_t <- [sqrt(c2) / c1] * m_t / (sqrt(v_t) + eps * sqrt(c2))            (E4-E6, folded)
               with c1 = 1 - beta1^t, c2 = 1 - beta2^t

    The folding is exact algebra: m_hat / (sqrt(v_hat) + eps) = (m_t / c1) / (sqrt(v_t) / sqrt(c2) + eps), and
    multiplying numerator and denominator by sqrt(c2) gives the last line. Kingma & Ba (arXiv 1412.6980, Sec. 2)
    note this reordering with a constant eps-hat in place of eps sqrt(c2), which changes what eps means early on;
    scaling eps by sqrt(c2) keeps the literal form's eps exactly. It saves the two arrays m_hat and v_hat and
    writes the later operations of each line into the line's own fresh array; the caller's g and the state's m, v
    are never touched. m_t and v_t are the literal form's bits (the same products and sums in the same order), s_t
    differs by float rounding only: tests/test_fused_adam.py runs both in lockstep (``clara_ref.testing.lockstep``,
    at its rounding-derived tolerances), and benchmarks/step_time.py, image_step_time.py and mlp_throughput.py
    measure the time saved. The literal :class:`AdamDirection` stays the default and
    the reference; the pure-noise statistics (``null_mean``, ``null_std``) are the same closed forms.
    """

    name = "adam-fused"

    def _lines(self, xp, t, g, m_prev, v_prev):
        """(E2)-(E6) folded, on the gradient g (E1 applied) and the previous moments: -> (s, m, v)."""
        c1, root_c2 = 1.0 - self.beta1**t, math.sqrt(1.0 - self.beta2**t)   # Python floats keep g's dtype
        m = g * (1.0 - self.beta1)                                       # (E2)
        m += self.beta1 * m_prev
        v = g * g                                                        # (E3)
        v *= 1.0 - self.beta2
        v += self.beta2 * v_prev
        s = xp.sqrt(v)                                                   # (E4-E6), folded
        s += self.eps * root_c2
        s = m / s
        s *= root_c2 / c1
        return s, m, v


def _sliced_from() -> int:
    """The length from which Adam's lines run a slice at a time (ADAM_SLICED_FROM, or ADAM_SLICED_FROM_KEPT where
    freed memory is kept)."""
    return ADAM_SLICED_FROM_KEPT if freed_memory_kept() else ADAM_SLICED_FROM


def sgd_direction(weight_decay: float = 0.0) -> SGDDirection:
    """The SGD direction: s_t = g_t + weight_decay * theta (G1, G2 in this module's box).

    Symbols: ``weight_decay`` is lambda, coupled L2 as in torch.optim.SGD.

    >>> import numpy as np
    >>> d = sgd_direction()
    >>> s, st = d.propose(np.zeros(2), np.array([1.0, -2.0]), d.init(np.zeros(2)))
    >>> s.tolist(), st.t
    ([1.0, -2.0], 1)
    """
    return SGDDirection(weight_decay=weight_decay)


def adam_direction(beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8,
                   weight_decay: float = 0.0, *, fused: bool = False) -> AdamDirection:
    """The Adam direction s_t = m_hat / (sqrt(v_hat) + eps) (E1-E6 in this module's box).

    Symbols: ``beta1, beta2`` = torch's ``betas``; ``eps`` outside the root; ``weight_decay`` = coupled L2.
    Reference: Kingma & Ba, arXiv 1412.6980, Algorithm 1.

    ``eps = 0`` is allowed (it makes the direction exactly invariant to rescaling the gradient). A coordinate whose
    gradient has been exactly 0 so far then gives 0 / 0 = NaN, which torch.optim.Adam with eps=0 returns silently;
    every clara_ref optimizer refuses such an update with a ``NonFiniteStateError`` that names eps = 0, and the
    training loops report it as a divergence (tests/test_directions.py).

    ``fused=True`` gives :class:`FusedAdamDirection`: the same direction, folded into fewer passes over memory for
    training speed (equal to this literal form up to float rounding, checked in lockstep by the tests).

    On the first step m_hat = g and v_hat = g^2, so s_1 = g / (|g| + eps), about sign(g):

    >>> import numpy as np
    >>> d = adam_direction()
    >>> s, st = d.propose(np.zeros(2), np.array([3.0, -0.5]), d.init(np.zeros(2)))
    >>> np.round(s, 6).tolist(), st.t
    ([1.0, -1.0], 1)
    """
    if not isinstance(fused, bool):
        raise ValueError(f"fused must be True or False, got {fused!r}")
    kind = FusedAdamDirection if fused else AdamDirection
    return kind(beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay)
