"""Parameter shapes of a port: trainable tensors and frozen ones (``frozen(shape)``), in the order of theta."""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

__all__ = ["Frozen", "frozen", "layout"]


class Frozen(NamedTuple):
    """A parameter tensor without a gradient (a frozen layer): its shape and the value it is filled with. It is part
    of the port's parameter list, but not of theta; the CLARA authors count it in K."""

    shape: tuple
    value: float = 0.0


def frozen(shape, value: float = 0.0) -> Frozen:
    """Mark a parameter shape as frozen (no gradient) for :func:`torch_port`, :func:`authors_clara` and
    :func:`gradient_sequences`.

    >>> frozen((3, 2))
    Frozen(shape=(3, 2), value=0.0)
    """
    return Frozen(_shape(shape), float(value))


def _shape(shape) -> tuple:
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
        shape = (int(shape),)
    try:
        shape = tuple(shape)
    except TypeError:
        raise ValueError(f"a shape must be a tuple of positive ints, got {shape!r}") from None
    if any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1 for s in shape):
        raise ValueError(f"a shape must be a tuple of positive ints, got {shape!r}")
    return tuple(int(s) for s in shape)


def layout(shapes):
    """[(shape, is_frozen, fill)] for a list of shapes and Frozen markers, and the trainable sizes (the ``blocks``
    of the matching clara_ref optimizer).

    >>> layout([(3, 2), (2,), frozen((4,))])[1]
    (6, 2)
    """
    if shapes is None or isinstance(shapes, (str, bytes)) or len(shapes) == 0:
        raise ValueError(f"shapes must be a non-empty list of shapes (and frozen(...) markers), got {shapes!r}")
    out = []
    for s in shapes:
        if isinstance(s, Frozen):
            out.append((_shape(s.shape), True, s.value))
        else:
            out.append((_shape(s), False, 0.0))
    sizes = tuple(math.prod(s) for s, is_frozen, _ in out if not is_frozen)
    if not sizes:
        raise ValueError("shapes must contain at least one trainable (not frozen) shape")
    return out, sizes
