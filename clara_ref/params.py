"""Flat parameter vectors: the optimizers work on one 1-D array; models keep their tensors as blocks of it."""

from __future__ import annotations

import math

from ._backend import array_namespace, is_array

__all__ = ["flatten", "block_sizes"]


def _arrays(arrays) -> list:
    """``arrays`` as a non-empty list of arrays (anything with a shape), or a TypeError naming ``arrays``."""
    if is_array(arrays) or isinstance(arrays, (str, bytes)):
        raise TypeError(f"arrays must be a list of arrays, got one {type(arrays).__name__}; wrap it: [a]")
    try:
        arrays = list(arrays)
    except TypeError:
        raise TypeError(f"arrays must be a list of arrays, got {type(arrays).__name__}") from None
    if not arrays:
        raise ValueError("arrays must hold at least one array")
    for i, a in enumerate(arrays):
        if not is_array(a):
            raise TypeError(f"arrays[{i}] must be an array, got {type(a).__name__}")
    return arrays


def block_sizes(arrays) -> tuple[int, ...]:
    """The number of entries of each array: the ``blocks`` argument for per-tensor adaptation.

    >>> import numpy as np
    >>> block_sizes([np.zeros((3, 2)), np.zeros(2)])
    (6, 2)
    """
    return tuple(int(math.prod(a.shape)) for a in _arrays(arrays))


def flatten(arrays):
    """Concatenate ``arrays`` into one 1-D vector and return it with the inverse map.

    ``unflatten(theta)`` returns new arrays of the original shapes (views are never handed out, so the caller's
    arrays and the flat vector stay independent).

    >>> import numpy as np
    >>> theta, unflatten = flatten([np.ones((2, 2)), np.zeros(3)])
    >>> theta.shape, [a.shape for a in unflatten(theta)]
    ((7,), [(2, 2), (3,)])
    """
    arrays = _arrays(arrays)
    xp = array_namespace(*arrays)
    shapes = [tuple(a.shape) for a in arrays]
    sizes = block_sizes(arrays)
    theta = xp.concat([xp.reshape(a, (-1,)) for a in arrays])

    def unflatten(flat):
        if tuple(flat.shape) != (sum(sizes),):
            raise ValueError(f"unflatten expects shape ({sum(sizes)},), got {tuple(flat.shape)}")
        out, start = [], 0
        for shape, n in zip(shapes, sizes):
            out.append(xp.reshape(xp.asarray(flat[start:start + n], copy=True), shape))
            start += n
        return out

    return theta, unflatten
