"""Hyperparameter checks: every invalid value raises ValueError naming the parameter and its valid range."""

from __future__ import annotations

import math
import sys
from numbers import Integral, Real

__all__ = ["positive", "nonnegative", "in_range", "one_of", "block_sizes", "blocks_tuple", "flag",
           "integer", "seed", "float_dtype", "generator", "has_methods", "path", "real_scalar", "real_array",
           "MAX_COUNT", "MAX_SIZE", "MAX_SEED"]


def _real(name, value):
    if isinstance(value, bool) or not isinstance(value, Real):
        raise ValueError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if math.isnan(value):
        raise ValueError(f"{name} must not be NaN")
    return value


def positive(name: str, value, *, allow_inf: bool = False) -> float:
    """``value`` as a float, refusing anything outside (0, inf).

    >>> positive("eta0", 0.0)
    Traceback (most recent call last):
    ...
    ValueError: eta0 must be in (0, inf), got 0.0
    """
    v = _real(name, value)
    if not (v > 0.0) or (math.isinf(v) and not allow_inf):
        raise ValueError(f"{name} must be in (0, inf{']' if allow_inf else ')'}, got {value!r}")
    return v


def nonnegative(name: str, value) -> float:
    """``value`` as a float, refusing anything outside [0, inf).

    >>> nonnegative("weight_decay", -1)
    Traceback (most recent call last):
    ...
    ValueError: weight_decay must be in [0, inf), got -1
    """
    v = _real(name, value)
    if not (v >= 0.0) or math.isinf(v):
        raise ValueError(f"{name} must be in [0, inf), got {value!r}")
    return v


def in_range(name: str, value, lo: float, hi: float, *, lo_open: bool, hi_open: bool) -> float:
    """``value`` as a float inside the interval given by ``lo``, ``hi`` and the openness flags.

    >>> in_range("c", 1.5, 0.0, 1.0, lo_open=True, hi_open=False)
    Traceback (most recent call last):
    ...
    ValueError: c must be in (0.0, 1.0], got 1.5
    """
    v = _real(name, value)
    ok_lo = v > lo if lo_open else v >= lo
    ok_hi = v < hi if hi_open else v <= hi
    if not (ok_lo and ok_hi):
        raise ValueError(
            f"{name} must be in {'(' if lo_open else '['}{lo}, {hi}{')' if hi_open else ']'}, got {value!r}"
        )
    return v


def one_of(name: str, value, options) -> str:
    """``value`` if it is one of ``options``.

    >>> one_of("move", "step", ("raw", "unit"))
    Traceback (most recent call last):
    ...
    ValueError: move must be one of 'raw', 'unit'; got 'step'
    """
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"{name} must be one of {', '.join(repr(o) for o in options)}; got {value!r}")
    return value


def block_sizes(blocks) -> tuple[int, ...]:
    """Validate the form of ``blocks``: a non-empty sequence of positive ints.

    >>> block_sizes([3, 0])
    Traceback (most recent call last):
    ...
    ValueError: blocks must be None or a tuple of positive ints, got [3, 0]
    """
    try:
        sizes = tuple(blocks)
    except TypeError:
        raise ValueError(f"blocks must be None or a tuple of positive ints, got {blocks!r}") from None
    if isinstance(blocks, (str, bytes)) or not sizes or any(
            isinstance(b, bool) or not isinstance(b, Real) or not math.isfinite(b) or int(b) != b or b < 1
            for b in sizes):
        raise ValueError(f"blocks must be None or a tuple of positive ints, got {blocks!r}")
    return tuple(int(b) for b in sizes)


def blocks_tuple(blocks, size: int) -> tuple[int, ...]:
    """Validate ``blocks`` (None or positive block sizes summing to ``size``) and return the sizes.

    >>> blocks_tuple(None, 5)
    (5,)
    >>> blocks_tuple((2, 2), 5)
    Traceback (most recent call last):
    ...
    ValueError: blocks must sum to theta.size = 5, got (2, 2) (sum 4)
    """
    if blocks is None:
        return (int(size),)
    sizes = block_sizes(blocks)
    if sum(sizes) != size:
        raise ValueError(f"blocks must sum to theta.size = {size}, got {blocks!r} (sum {sum(sizes)})")
    return sizes


def flag(name: str, value) -> bool:
    """A True/False option.

    >>> flag("decouple", 1)
    Traceback (most recent call last):
    ...
    ValueError: decouple must be True or False, got 1
    """
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return value


#: the smallest c for which 1 - c < 1 in float64 (2^-53): below it the path never forgets
C_MIN = 2.0**-53


def path_constant(c, *, hi_open: bool = False) -> float:
    """The path constant c, in [2^-53, 1] (or [2^-53, 1)): below 2^-53, 1 - c rounds to 1 in float64, the path
    never decays and the reference math divides by log(1 - c) = 0.

    >>> path_constant(1e-17)
    Traceback (most recent call last):
    ...
    ValueError: c must be in [1.11e-16, 1]: below it 1 - c rounds to 1 and the path never forgets; got 1e-17
    """
    value = in_range("c", c, 0.0, 1.0, lo_open=True, hi_open=hi_open)
    if 1.0 - value == 1.0:
        raise ValueError(f"c must be in [{C_MIN:.3g}, 1{')' if hi_open else ']'}: below it 1 - c rounds to 1 and the "
                         f"path never forgets; got {c!r}")
    return value


def rate_scale(d0, lr) -> None:
    """D-Adaptation's and Prodigy's first rate d0 lr must be a normal float (>= 2.2e-308) and finite.

    >>> rate_scale(1e-320, 1.0)
    Traceback (most recent call last):
    ...
    ValueError: d0 * lr must be in [2.23e-308, inf) (a normal float64), got 1e-320 * 1.0 = 1e-320
    """
    product = d0 * lr
    if not (math.isfinite(product) and product >= sys.float_info.min):
        raise ValueError(f"d0 * lr must be in [{sys.float_info.min:.3g}, inf) (a normal float64), got {d0!r} * {lr!r} "
                         f"= {product!r}")


#: the largest count of steps, epochs or trials a loop accepts: a billion steps of the smallest problem take hours,
#: so anything above is a typo (2**70 used to loop for ever)
MAX_COUNT = 10**9
#: the largest size of an array the library allocates from a number it is given (a dimension, a layer width)
MAX_SIZE = 2**31 - 1


def integer(name: str, value, lo: int = 0, hi: int | None = None) -> int:
    """``value`` as an int in [``lo``, ``hi``] (NumPy integers are accepted; bools, floats and strings are not).

    >>> integer("steps", 2.0, lo=1)
    Traceback (most recent call last):
    ...
    ValueError: steps must be an int >= 1, got 2.0
    >>> integer("steps", 2**70, lo=1, hi=MAX_COUNT)
    Traceback (most recent call last):
    ...
    ValueError: steps must be an int in [1, 1000000000], got 1180591620717411303424
    """
    if isinstance(value, bool) or not isinstance(value, Integral) or value < lo or (hi is not None and value > hi):
        raise ValueError(f"{name} must be an int " + (f">= {lo}" if hi is None else f"in [{lo}, {hi}]") +
                         f", got {value!r}")
    return int(value)


def real_array(name: str, value, lo: float, hi: float):
    """``value`` (a real number or an array of them) as a float64 NumPy array with every entry in [lo, hi]: None,
    bools, strings, bytes, complex and object values are refused, and NaN.

    >>> real_array("rho", b"1", -1.0, 1.0)
    Traceback (most recent call last):
    ...
    ValueError: rho must be a real number or an array of real numbers in [-1.0, 1.0], got b'1'
    """
    import numpy as np

    bad = value is None or isinstance(value, (bool, str, bytes, np.bool_))
    if not bad:
        arr = np.asarray(value)
        bad = arr.dtype.kind not in "iuf"
    if bad:
        raise ValueError(f"{name} must be a real number or an array of real numbers in [{lo}, {hi}], got {value!r}")
    arr = arr.astype(np.float64)
    if np.isnan(arr).any() or (arr < lo).any() or (arr > hi).any():
        raise ValueError(f"{name} must lie in [{lo}, {hi}] (NaN is refused), got {value!r}")
    return arr


#: the largest seed: NumPy's legacy RandomState and scikit-learn's random_state take seeds in [0, 2**32 - 1]
MAX_SEED = 2**32 - 1


def seed(value, name: str = "seed") -> int:
    """A seed: an int in [0, 2**32 - 1] (the range scikit-learn's splits accept). ``None`` is refused, since it
    would give other numbers on every call.

    >>> seed(None)
    Traceback (most recent call last):
    ...
    ValueError: seed must be an int in [0, 4294967295] (None would draw fresh entropy and make runs irreproducible), got None
    """
    if isinstance(value, bool) or not isinstance(value, Integral) or not 0 <= value <= MAX_SEED:
        raise ValueError(f"{name} must be an int in [0, {MAX_SEED}] (None would draw fresh entropy and make runs "
                         f"irreproducible), got {value!r}")
    return int(value)


#: the precisions the library computes in; float16 is refused (eps = 1e-8 and the 1e-12 clamp underflow in it,
#: and torch.optim's own reference runs are float32 or float64)
FLOAT_DTYPES = ("float32", "float64")
#: why float16 is refused, in every message that refuses it
FLOAT16_REASON = "float16 is not supported: Adam's eps = 1e-8 and CLARA's 1e-12 clamp are below its smallest numbers"


def float_dtype(name: str, value):
    """``value`` as a NumPy dtype, float32 or float64; anything else (float16 included) raises ``ValueError``.

    >>> float_dtype("dtype", "float16")
    Traceback (most recent call last):
    ...
    ValueError: dtype must be float32 or float64, got 'float16' (float16 is not supported: Adam's eps = 1e-8 and CLARA's 1e-12 clamp are below its smallest numbers)
    """
    import numpy as np

    try:
        # a dtype, its name or its type; np.dtype would also read the dtype of a value such as np.float64(0.1)
        dt = np.dtype(value) if isinstance(value, (str, type, np.dtype)) else None
    except Exception:                # NumPy parses strings: np.dtype(",") is even a SyntaxError
        dt = None
    if value is None or dt is None or dt.name not in FLOAT_DTYPES:
        extra = f" ({FLOAT16_REASON})" if dt is not None and dt.name == "float16" else ""
        raise ValueError(f"{name} must be float32 or float64, got {value!r}{extra}")
    return dt


def generator(name: str, value, *, allow_none: bool = False):
    """A ``numpy.random.Generator`` (or None where allowed).

    >>> generator("rng", 0)
    Traceback (most recent call last):
    ...
    TypeError: rng must be a numpy.random.Generator (np.random.default_rng(seed)), got int
    """
    import numpy as np

    if value is None and allow_none:
        return None
    if not isinstance(value, np.random.Generator):
        raise TypeError(f"{name} must be a numpy.random.Generator (np.random.default_rng(seed))"
                        f"{' or None' if allow_none else ''}, got {type(value).__name__}")
    return value


def has_methods(name: str, value, methods: tuple, what: str):
    """``value`` if it has every method in ``methods`` (duck typing with a clear message).

    >>> has_methods("optimizer", 3, ("init", "update"), "a clara_ref optimizer")
    Traceback (most recent call last):
    ...
    TypeError: optimizer must be a clara_ref optimizer (with init, update), got int
    """
    if not all(callable(getattr(value, m, None)) for m in methods):
        raise TypeError(f"{name} must be {what} (with {', '.join(methods)}), got {type(value).__name__}")
    return value


def path(name: str, value):
    """A file path: ``str`` or ``os.PathLike`` (not empty).

    >>> path("path", None)
    Traceback (most recent call last):
    ...
    TypeError: path must be a str or os.PathLike naming a file, got NoneType
    """
    import os

    if isinstance(value, (str, os.PathLike)):
        text = os.fspath(value)
        if isinstance(text, str) and text.strip():
            return value
        if isinstance(text, str):
            raise ValueError(f"{name} must name a file, got an empty string")
    raise TypeError(f"{name} must be a str or os.PathLike naming a file, got {type(value).__name__}")


def real_scalar(name: str, value) -> float:
    """A real number as a float (NaN and inf allowed: callers decide what they mean).

    >>> real_scalar("loss", "x")
    Traceback (most recent call last):
    ...
    TypeError: loss must be a real number, got str
    """
    import numpy as np

    if isinstance(value, np.ndarray) and value.shape == ():
        value = value[()]
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    return float(value)
