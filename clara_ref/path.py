"""The cumulation, written once: the path of normalised vectors that every path rule in clara_ref compares with its
expectation under pure noise.

::

    input: path p (block b in its slice), vector x (the step or the gradient), path constant c, floor
    for every block b:
        u_b <- x_b / |x_b|                                                                    (P0)
               a block with |x_b| <= floor:  small="clamp": u_b <- x_b / floor  (|u_b| < 1, the authors' clamp)
                                             small="skip":  u_b <- 0            (the 2017 rule: the path decays)
        p_b <- (1 - c) p_b + c u_b                                                            (P1)
    return p and |p_b|^2 for every block                                                      (P2)

``clara`` and ``alera`` (K3 of clara_ref/rate_control.py) and the pure-noise simulation ``reference.monte_carlo``
all call :func:`cumulate`, so the optimizer and the simulation of its null hypothesis run the same code. Under pure
noise the u_b are independent isotropic unit vectors and E|p_t|^2 = mu (1 - (1-c)^{2t}), mu = c/(2-c)
(``reference.random_walk_mean``; derived in docs/derivations.md).

References
----------
Schoenauer-Sebag, Schoenauer, Sebag, arXiv 1709.01427 (the path of normalised gradients); Atamna, Maus, Kievelitz,
Glasmachers, arXiv 2508.05408 (the path of the optimizer's own steps, the 1e-12 clamp).
"""

from __future__ import annotations

import math

from ._backend import array_namespace
from ._core import block_sq_norms

__all__ = ["cumulate", "block_norms", "SMALL", "CLAMP_FLOOR", "SKIP_FLOOR"]

#: what a block whose norm is at most the floor contributes: "clamp" (divide by the floor) or "skip" (nothing)
SMALL = ("clamp", "skip")
#: CLARA's floor (the authors' 1e-12 clamp): a block of norm |x_b| < 1e-12 gives u_b = x_b / 1e-12, |u_b| < 1
CLAMP_FLOOR = 1e-12
#: the 2017 rule's floor: a block of gradient norm <= 1e-6 adds nothing, its path only decays
SKIP_FLOOR = 1e-6


def block_norms(x, slices) -> list:
    """|x_b| for every block: Python floats for a 1-D ``x``; for a 2-D ``x`` (rows = independent trials, blocks
    along the last axis) one array of row norms per block.

    >>> import numpy as np
    >>> block_norms(np.array([3.0, 4.0, 2.0]), ((0, 2), (2, 3)))
    [5.0, 2.0]
    """
    xp = array_namespace(x)
    if x.ndim == 1:
        return [math.sqrt(q) for q in block_sq_norms(xp, x, slices)]
    return [xp.sqrt(xp.sum(x[:, a:b] * x[:, a:b], axis=-1)) for a, b in slices]


def _weight(xp, c, nb, floor, small):
    """c / |x_b| (with the clamp), or 0 for a skipped block: the factor that turns x_b into c u_b."""
    if isinstance(nb, float):
        if small == "skip" and nb <= floor:
            return 0.0
        return c / max(nb, floor)
    w = c / xp.maximum(nb, floor)
    if small == "skip":
        w = xp.where(nb > floor, w, 0.0)
    return w[:, None]


def cumulate(p, x, c: float, slices, floor: float, *, small: str = "clamp", norms=None):
    """One cumulation step (P0-P2): returns the new path and the list of its per-block squared norms.

    ``p`` and ``x`` have the same shape: 1-D (one optimizer, blocks ``slices``) or 2-D (independent trials in rows,
    ``slices`` along the last axis). ``floor`` and ``small`` say what a block of norm at most ``floor`` gives (see
    the module box). ``norms`` may pass |x_b| when the caller already has them. Neither ``p`` nor ``x`` is
    modified.

    >>> import numpy as np
    >>> p, sq = cumulate(np.zeros(3), np.array([3.0, 4.0, 0.0]), 0.2, ((0, 2), (2, 3)), 1e-12)
    >>> p.tolist(), [round(q, 12) for q in sq]
    ([0.12, 0.16, 0.0], [0.04, 0.0])
    """
    if small not in SMALL:
        raise ValueError(f"small must be one of {SMALL}, got {small!r}")
    xp = array_namespace(x)
    if norms is None:
        norms = block_norms(x, slices)
    new = p * (1.0 - c)                                           # (1 - c) p
    for (a, b), nb in zip(slices, norms):
        w = _weight(xp, c, nb, floor, small)                      # (P0) c u_b = (c / |x_b|) x_b
        if isinstance(w, float) and w == 0.0:
            continue                                              # a skipped block: its path only decays
        new[..., a:b] += w * x[..., a:b]                          # (P1) p_b <- (1 - c) p_b + c u_b
    if new.ndim == 1:
        return new, block_sq_norms(xp, new, slices)               # (P2)
    return new, [xp.sum(new[:, a:b] * new[:, a:b], axis=-1) for a, b in slices]
