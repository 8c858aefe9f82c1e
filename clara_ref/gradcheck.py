"""A central-difference gradient checker, as scipy.optimize.check_grad but reporting a relative error."""

from __future__ import annotations

import numpy as np

__all__ = ["numerical_grad", "gradcheck"]


def numerical_grad(f, x, h: float = 1e-6) -> np.ndarray:
    """Central differences (f(x + h e_i) - f(x - h e_i)) / (2h) for every coordinate (error O(h^2)).

    >>> numerical_grad(lambda x: float(x @ x), np.array([1.0, -2.0])).round(6).tolist()
    [2.0, -4.0]
    """
    x = np.array(x, dtype=np.float64, copy=True)
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        old = x[i]
        x[i] = old + h
        fp = f(x)
        x[i] = old - h
        fm = f(x)
        x[i] = old
        out[i] = (fp - fm) / (2.0 * h)
    return out


def gradcheck(f, grad, x, h: float = 1e-6) -> float:
    """Relative error |grad(x) - numerical| / max(|grad(x)|, |numerical|, 1e-12) (norm-wise).

    >>> gradcheck(lambda x: float(np.sum(np.sin(x))), np.cos, np.array([0.3, 1.0])) < 1e-8
    True
    """
    analytic = np.asarray(grad(x), dtype=np.float64)
    numeric = numerical_grad(f, x, h)
    scale = max(float(np.linalg.norm(analytic)), float(np.linalg.norm(numeric)), 1e-12)
    return float(np.linalg.norm(analytic - numeric) / scale)
