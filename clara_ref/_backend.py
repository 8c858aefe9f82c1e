"""Array-namespace plumbing shared by every algorithm module.

Algorithm code never imports NumPy for its arithmetic: it asks the arrays it was given for their namespace
(`array_namespace`), so the same lines run on NumPy, CuPy or `array_api_strict` arrays. Scalars that describe the
optimizer (t, eta, d, norms) are always Python floats or ints on the host.

For plain NumPy arrays the namespace is NumPy itself (NumPy >= 2 implements the array API standard in its main
namespace), which avoids the small per-call cost of the compatibility wrapper on the hot path.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ._validate import FLOAT16_REASON
from .errors import NonFiniteGradientError

__all__ = ["Array", "array_namespace", "is_array", "dot", "sq_norm", "norm", "check_gradient",
           "NonFiniteGradientError", "as_1d_float"]

#: the type of every array argument of the public API: a NumPy array, or any array-API array (CuPy, torch through
#: array-api-compat, array-api-strict); the functions read its namespace, so one annotation serves them all
Array = Any


def is_array(x) -> bool:
    """An array instance (not a dtype class such as ``np.float16``, whose ``shape`` is a descriptor)."""
    return isinstance(getattr(x, "shape", None), tuple) and hasattr(x, "dtype") and not isinstance(x, type)


def array_namespace(*arrays):
    """Return the array-API namespace of ``arrays`` (NumPy itself for NumPy arrays).

    >>> import numpy as np
    >>> array_namespace(np.zeros(3)) is np
    True
    """
    if all(isinstance(a, np.ndarray) for a in arrays):
        return np
    import array_api_compat

    return array_api_compat.array_namespace(*arrays)


def dot(xp, a, b) -> float:
    """Inner product <a, b> of two 1-D arrays as a Python float (one pass, no temporary).

    >>> import numpy as np
    >>> dot(np, np.array([1.0, 2.0]), np.array([3.0, 4.0]))
    11.0
    """
    if xp is np:
        return float(np.dot(a, b))      # BLAS: one pass over memory, no temporary array
    return float(xp.vecdot(a, b))


def sq_norm(xp, x) -> float:
    """Squared Euclidean norm of the 1-D array ``x`` as a Python float (one pass, no temporary).

    >>> import numpy as np
    >>> sq_norm(np, np.array([3.0, 4.0]))
    25.0
    """
    return dot(xp, x, x)


def norm(xp, x) -> float:
    """Euclidean norm of the 1-D array ``x`` as a Python float, also where the sum of squares under- or overflows
    (entries of 1e-200 or 1e200): then it is max|x| |x / max|x||, one more pass.

    >>> import numpy as np
    >>> norm(np, np.array([3e-200, 4e-200])), norm(np, np.array([3.0, 4.0]))
    (5e-200, 5.0)
    """
    with np.errstate(over="ignore", under="ignore"):
        q = sq_norm(xp, x)
    if q > 0.0 and math.isfinite(q):
        return math.sqrt(q)
    scale = float(xp.max(xp.abs(x)))
    if scale == 0.0 or not math.isfinite(scale):
        return scale
    return scale * math.sqrt(sq_norm(xp, x / scale))


def finite_theta(xp, theta, when: str) -> None:
    """Refuse a theta that holds inf or NaN (``when``: "to start from", "at step 3"): one read pass, made where it
    is cheap next to the rest (init, the baselines' updates); the other updates find it in their result.

    >>> import numpy as np
    >>> finite_theta(np, np.array([1.0, np.nan]), "to start from")
    Traceback (most recent call last):
    ...
    ValueError: theta must be finite to start from; 1 of 2 entries are inf or NaN
    """
    if not bool(xp.all(xp.isfinite(theta))):
        count = int(xp.sum(xp.astype(~xp.isfinite(theta), xp.int64)))
        raise ValueError(f"theta must be finite {when}; {count} of {theta.shape[0]} entries are inf or NaN")


def check_gradient(xp, theta, g, step: int) -> bool:
    """Refuse a gradient whose shape or dtype does not match ``theta``, or that holds inf/NaN; return whether its
    sum of squares <g, g> is finite, which implies that every g_i^2 is (the updates use this to know that Adam's
    second moment cannot have overflowed).

    ``step`` is the 1-based number of the update being attempted; it is named in the message.
    The check is a single inner product <g, g>: it is finite only if every entry is finite (inf^2 = inf, NaN
    propagates), so only a non-finite value, or an overflow of the sum of squares, triggers the slower element-wise
    test. (BLAS dot is about twice as fast as a pairwise sum.)

    >>> import numpy as np
    >>> check_gradient(np, np.zeros(2), np.array([1.0, np.nan]), step=3)
    Traceback (most recent call last):
    ...
    clara_ref.errors.NonFiniteGradientError: non-finite gradient at step 3 (1 of 2 entries are inf or NaN); the state was left unchanged
    """
    if not is_array(g):
        raise TypeError(f"g must be an array like theta (shape {tuple(theta.shape)}, dtype {theta.dtype}), got "
                        f"{type(g).__name__}")
    if tuple(g.shape) != tuple(theta.shape):
        raise ValueError(f"g (the gradient) has shape {tuple(g.shape)}, which does not match theta's shape "
                         f"{tuple(theta.shape)}")
    if g.dtype != theta.dtype:
        raise ValueError(f"g (the gradient) has dtype {g.dtype}, which does not match theta's dtype {theta.dtype}")
    if xp is np:
        with np.errstate(over="ignore", invalid="ignore"):     # an overflow only triggers the full test
            total = dot(np, g, g)
    else:
        total = dot(xp, g, g)
    if math.isfinite(total):
        return True
    bad = int(xp.sum(xp.astype(~xp.isfinite(g), xp.int64)))
    if bad:
        raise NonFiniteGradientError(
            f"non-finite gradient at step {step} ({bad} of {g.shape[0]} entries are inf or NaN); "
            "the state was left unchanged"
        )
    return False


_NUMPY_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def as_1d_float(theta, name: str = "theta"):
    """Check that ``theta`` is a 1-D real floating array and return its namespace.

    >>> import numpy as np
    >>> as_1d_float(np.zeros((2, 2)))
    Traceback (most recent call last):
    ...
    ValueError: theta must be a 1-D array (use clara_ref.flatten for lists of arrays); got shape (2, 2)
    """
    if type(theta) is np.ndarray and theta.ndim == 1 and theta.dtype in _NUMPY_FLOATS and theta.shape[0]:
        return np                           # the common case, without the general checks' per-call cost
    if not is_array(theta):
        raise ValueError(f"{name} must be an array, got {type(theta).__name__}")
    xp = array_namespace(theta)
    if len(theta.shape) != 1:
        raise ValueError(
            f"{name} must be a 1-D array (use clara_ref.flatten for lists of arrays); got shape {tuple(theta.shape)}"
        )
    if not xp.isdtype(theta.dtype, "real floating"):
        raise ValueError(f"{name} must have a real floating dtype (float32 or float64), got {theta.dtype}")
    if "float16" in str(theta.dtype):
        raise ValueError(f"{name} must be float32 or float64, got float16 ({FLOAT16_REASON}; cast with "
                         f"theta.astype(np.float32))")
    if theta.shape[0] == 0:
        raise ValueError(f"{name} must have at least one entry")
    return xp
