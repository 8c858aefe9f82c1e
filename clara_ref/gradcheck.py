"""A central-difference gradient checker, as scipy.optimize.check_grad but reporting a relative error."""

from __future__ import annotations

import numpy as np

from . import _validate as V
from ._backend import Array

__all__ = ["numerical_grad", "gradcheck"]


def numerical_grad(f, x, h: float = 1e-6) -> np.ndarray:
    """Central differences (f(x + h e_i) - f(x - h e_i)) / (2h) for every coordinate (error O(h^2)).

    >>> numerical_grad(lambda x: float(x @ x), np.array([1.0, -2.0])).round(6).tolist()
    [2.0, -4.0]
    """
    x = _point(x)
    V.positive("h", h)
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        old = x[i]
        x[i] = old + h
        fp = _value(f, x)
        x[i] = old - h
        fm = _value(f, x)
        x[i] = old
        out[i] = (fp - fm) / (2.0 * h)
    return out


def _value(f, x) -> float:
    value = f(x)
    try:
        return V.real_scalar("f(x)", value)
    except TypeError:
        raise TypeError(f"f must return a real number, got {type(value).__name__}") from None


def _point(x) -> np.ndarray:
    try:
        x = np.array(x, dtype=np.float64, copy=True)
    except (TypeError, ValueError):
        raise TypeError(f"x must be a 1-D real array, got {type(x).__name__}") from None
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"x must be a non-empty 1-D array, got shape {x.shape}")
    return x


def gradcheck(f, grad, x: Array, h: float = 1e-6) -> float:
    """Relative error |grad(x) - numerical| / max(|grad(x)|, |numerical|, 1e-12) (norm-wise).

    >>> gradcheck(lambda x: float(np.sum(np.sin(x))), np.cos, np.array([0.3, 1.0])) < 1e-8
    True
    """
    if not callable(f):
        raise TypeError(f"f must be a callable f(x) -> float, got {type(f).__name__}")
    if not callable(grad):
        raise TypeError(f"grad must be a callable grad(x) -> array, got {type(grad).__name__}")
    x = _point(x)
    V.positive("h", h)
    analytic = np.asarray(grad(x), dtype=np.float64)
    if analytic.shape != x.shape:
        raise ValueError(f"grad(x) must have x's shape {x.shape}, got {analytic.shape}")
    numeric = numerical_grad(f, x, h)
    scale = max(float(np.linalg.norm(analytic)), float(np.linalg.norm(numeric)), 1e-12)
    return float(np.linalg.norm(analytic - numeric) / scale)
