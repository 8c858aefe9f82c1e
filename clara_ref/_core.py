"""Pieces shared by the optimizers: the base class, block slicing and the learning-rate guard."""

from __future__ import annotations

import contextlib
import dataclasses
import math
from functools import lru_cache

import numpy as np

from ._backend import as_1d_float, check_gradient, finite_theta, is_array, sq_norm
from .errors import LearningRateError, NonFiniteStateError

__all__ = ["Optimizer", "block_slices", "block_sq_norms", "guard_rate", "LearningRateError", "begin_update",
           "safe_exp", "finite_result", "NonFiniteStateError"]


class Optimizer:
    """Base class: an optimizer is a pair of pure functions ``init`` and ``update`` plus its hyperparameters.

    Every optimizer is a frozen dataclass whose fields are its hyperparameters, written once: the class is also the
    factory (``clara``, ``alera``, ... are the classes themselves, or build one), ``__post_init__`` validates and
    normalises the fields, and ``hyperparameters()`` reads them back, so the two cannot drift. Subclasses set
    ``name`` and implement ``init(theta) -> state`` and ``update(theta, g, state, *, loss=None) -> (theta, state)``.
    """

    name = "optimizer"

    def hyperparameters(self) -> dict:
        """Every field, in order, with a ``direction`` field spelt out as the direction's own hyperparameters."""
        out = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "direction":
                out.update(value.hyperparameters())
            else:
                out[f.name] = value
        return out

    def check_state(self, state, theta) -> None:
        """Refuse a state this optimizer did not make for this theta: another optimizer's state type, another
        direction's, arrays of another shape or dtype, or another number of blocks. Raises ``ValueError`` saying
        what does not match (checkpoints restored with ``load_state`` go through the same test on the first update).
        """
        expected = getattr(self, "state_type", None)
        if expected is not None and type(state) is not expected:
            raise ValueError(f"state is {_a(type(state).__name__)}, but {self.name} needs the {expected.__name__} of its "
                             f"own init(theta): the state was made by another optimizer")
        direction = getattr(self, "direction", None)
        made = None if direction is None else _direction_state_type(direction, theta)
        blocks = getattr(self, "blocks", None)
        etas = getattr(state, "etas", None)
        if _fits(state, theta.shape, theta.dtype, made) and (etas is None or len(etas) == len(blocks or (1,))):
            return                          # every update's case, in one quick pass; the walk below says what is wrong
        for path, node in _walk(state, "state"):
            if path.endswith(".direction") and direction is not None:
                made = _direction_state_type(direction, theta)
                if type(node) is not made:
                    raise ValueError(f"{path} is {_a(type(node).__name__)}, but this optimizer's {direction.name} "
                                     f"direction keeps {_a(made.__name__)}: the state was made by another optimizer")
            elif hasattr(node, "shape") and hasattr(node, "dtype"):
                if tuple(node.shape) != tuple(theta.shape) or node.dtype != theta.dtype:
                    raise ValueError(f"{path} has shape {tuple(node.shape)} and dtype {node.dtype}, theta "
                                     f"{tuple(theta.shape)} and {theta.dtype}: the state was made for another theta")
        if etas is not None and len(etas) != len(blocks or (1,)):
            raise ValueError(f"state has {len(etas)} block rates, but this optimizer has {len(blocks or (1,))} "
                             f"blocks ({blocks}): the state was made by another optimizer")

    def _set(self, **values) -> None:
        """Store validated (normalised) values on the frozen instance; used by ``__post_init__`` only."""
        for key, value in values.items():
            object.__setattr__(self, key, value)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.hyperparameters().items())
        return f"{self.name}({args})"


_DIRECTION_STATE_TYPES: dict = {}


def _a(name: str) -> str:
    """``name`` with its indefinite article, for messages: "an AdamDirectionState", "a ClaraState", and "an
    SGDDirectionState" (an initialism is read letter by letter: "es-gee-dee")."""
    initialism = name[1:2].isupper()
    an = name[:1] in "AEIOUaeiou" or (initialism and name[:1] in "FHLMNRSX")
    return f"{'an' if an else 'a'} {name}"


def _direction_state_type(direction, theta):
    """The state class ``direction.init`` makes (computed once per direction class)."""
    key = type(direction)
    if key not in _DIRECTION_STATE_TYPES:
        _DIRECTION_STATE_TYPES[key] = type(direction.init(theta[:1]))
    return _DIRECTION_STATE_TYPES[key]


def _fits(node, shape, dtype, direction_type) -> bool:
    """Does every array of a nested NamedTuple state have theta's shape and dtype, and every field called
    ``direction`` the direction's state type? (``check_state``'s quick pass: no paths built.)"""
    for name, child in zip(node._fields, node):
        if isinstance(child, tuple):
            if hasattr(child, "_fields"):
                if name == "direction" and direction_type is not None and type(child) is not direction_type:
                    return False
                if not _fits(child, shape, dtype, direction_type):
                    return False
        elif hasattr(child, "shape") and hasattr(child, "dtype") and not isinstance(child, type):
            if child.shape != shape or child.dtype != dtype:
                return False
    return True


def _walk(node, path):
    """(path, node) for every field of a nested NamedTuple state, depth first."""
    yield path, node
    if isinstance(node, tuple) and hasattr(node, "_fields"):
        for name in node._fields:
            yield from _walk(getattr(node, name), f"{path}.{name}")


def begin_update(theta, g, state):
    """Common checks before a baseline's update: theta is a finite 1-D float array, g matches it and is finite.

    Returns the array namespace. Raises before anything is computed, so a refused gradient leaves the state as it was.
    (D-Adaptation SGD computes its iterate from x0, not from theta: a NaN theta would vanish silently.)
    """
    xp = as_1d_float(theta)
    finite_theta(xp, theta, f"at step {state.t + 1}")
    check_gradient(xp, theta, g, step=state.t + 1)
    return xp


def _leaves(node, path):
    """(path, leaf) for every array and float of a state: nested NamedTuples and tuples (``etas``) are walked."""
    if is_array(node):
        yield path, node
    elif isinstance(node, float):
        yield path, node
    elif isinstance(node, tuple):
        names = getattr(node, "_fields", None) or [f"[{i}]" for i in range(len(node))]
        for name, child in zip(names, node):
            yield from _leaves(child, f"{path}.{name}" if not name.startswith("[") else f"{path}{name}")


def _all_finite(xp, x) -> bool:
    """One inner product <x, x> (BLAS): finite only if every entry is; the element-wise test runs only when it is
    not (a non-finite entry, or a sum of squares that overflowed from large finite entries). NumPy's floating-point
    warnings are off around the whole check (``finite_result``)."""
    total = float(np.dot(x, x)) if xp is np else sq_norm(xp, x)
    return math.isfinite(total) or bool(xp.all(xp.isfinite(x)))


def _first_bad(xp, node, known):
    """The field names leading to the first non-finite float or array of ``node`` (() for the node itself), or
    None when every one is finite; arrays whose id is in ``known`` are not tested."""
    if isinstance(node, float):
        return None if math.isfinite(node) else ()
    if isinstance(node, np.ndarray) or is_array(node):
        return None if id(node) in known or _all_finite(xp, node) else ()
    if isinstance(node, tuple):
        names = getattr(node, "_fields", None)
        for i, child in enumerate(node):
            if child is None or isinstance(child, (int, str)):      # counts, flags: always finite
                continue
            bad = _first_bad(xp, child, known)
            if bad is not None:
                return (f".{names[i]}" if names else f"[{i}]",) + bad
    return None


def _cause(xp, name, g, direction, state) -> str:
    """What made ``name`` non-finite, where it can be told from the gradient, the direction and the new state."""
    v = getattr(getattr(state, "direction", None), "v", None)
    if getattr(direction, "eps", None) == 0.0 and v is not None and bool(xp.any(v == 0)):
        return ("eps = 0 and a coordinate whose gradient has been exactly 0 so far: m_hat / (sqrt(v_hat) + eps) is "
                "0 / 0 there (use eps > 0)")
    if name == "theta":
        eta = getattr(state, "eta", None)
        return (f"the move overflowed: theta - eta s left the range of {g.dtype}"
                + (f" (eta = {eta:.3g}, max |g| = {float(xp.max(xp.abs(g))):.3g})" if isinstance(eta, float) else ""))
    gmax = float(xp.max(xp.abs(g)))
    limit = math.sqrt(float(xp.finfo(g.dtype).max))
    if gmax > limit:
        return (f"g**2 overflowed: |g| = {gmax:.3g} exceeds {limit:.3g}, the square root of the largest "
                f"{g.dtype} (Adam's v and the baselines' squared sums then hold inf)")
    return "the cause could not be told from the gradient"


def finite_result(xp, step: int, g, theta, state, *, known=(), direction=None, before=None):
    """The last line of every update: ``(theta, state)`` when every array and float in them is finite, else
    ``NonFiniteStateError`` naming the step, the first non-finite quantity and its cause where it can be told.

    ``known`` holds arrays of the new state already known to be finite, which are not tested again: those an
    update passes on from the old state unchanged (D-Adaptation's x0), and those it can prove finite without a pass
    over memory (Adam's m and v when <g, g> was finite, so that no g_i^2 overflowed; a path whose squared norm, a
    float of the state that is tested here, is finite). An array's test is one BLAS inner product, a read pass over
    it: every avoidable one costs a few per cent of a large update (benchmarks/step_time.py). Nothing is returned on
    failure, so the caller keeps its theta and state: an update either succeeds with finite values or changes
    nothing. ``before``: the theta the update was given, examined only on failure (was it finite already?).

    >>> import numpy as np
    >>> finite_result(np, 3, np.array([1e200]), np.zeros(1), (np.array([np.inf]),))   # a state of one array
    Traceback (most recent call last):
    ...
    clara_ref.errors.NonFiniteStateError: non-finite state[0] after the update at step 3 (1 of 1 entries are inf or NaN): g**2 overflowed: |g| = 1e+200 exceeds 1.34e+154, the square root of the largest float64 (Adam's v and the baselines' squared sums then hold inf); the caller's theta and state are unchanged
    """
    known = {id(a) for a in known}
    if xp is np:
        with np.errstate(over="ignore", invalid="ignore"):
            bad = _locate(xp, theta, state, known)
    else:
        bad = _locate(xp, theta, state, known)
    if bad is None:
        return theta, state
    name = "theta" if bad == () else "state" + "".join(bad)
    leaf = theta if bad == () else _walk_to(state, bad)
    if is_array(leaf):
        count = int(xp.sum(xp.astype(~xp.isfinite(leaf), xp.int64)))
        what = f"({count} of {leaf.shape[0] if len(leaf.shape) else 1} entries are inf or NaN)"
    else:
        what = f"= {leaf!r}"
    if name == "theta" and before is not None and not bool(xp.all(xp.isfinite(before))):
        raise ValueError(f"theta must be finite at step {step}; the theta passed in already holds "
                         f"{int(xp.sum(xp.astype(~xp.isfinite(before), xp.int64)))} inf or NaN entries")
    raise NonFiniteStateError(f"non-finite {name} after the update at step {step} {what}: "
                              f"{_cause(xp, name, g, direction, state)}; the caller's theta and state are unchanged")


def refuse_non_finite_step(xp, s, g, direction, dstate, step: int) -> None:
    """Raise ``NonFiniteStateError`` naming the cause when the direction's step ``s`` holds inf or NaN (a path
    rule calls this when a block norm of ``s`` is not finite, before the path and the rate are computed from it:
    the rate would otherwise become NaN and be reported as a rate problem). A finite ``s`` whose squared norm
    merely overflowed passes."""
    with np.errstate(over="ignore", invalid="ignore") if xp is np else contextlib.nullcontext():
        if _all_finite(xp, s):
            return
    holder = type("_S", (), {"direction": dstate})()
    count = int(xp.sum(xp.astype(~xp.isfinite(s), xp.int64)))
    raise NonFiniteStateError(f"non-finite step of the direction at step {step} ({count} of {s.shape[0]} entries "
                              f"are inf or NaN): {_cause(xp, 'the step', g, direction, holder)}; the caller's theta "
                              "and state are unchanged")


def _locate(xp, theta, state, known):
    """() when theta is not finite, else the path to the state's first non-finite leaf, or None."""
    if _first_bad(xp, theta, known) is not None:
        return ()
    return _first_bad(xp, state, known)


def _walk_to(node, names):
    for name in names:
        node = getattr(node, name[1:]) if name.startswith(".") else node[int(name[1:-1])]
    return node


@lru_cache(maxsize=256)
def block_slices(sizes: tuple[int, ...]) -> tuple[tuple[int, int], ...]:
    """(start, stop) of each block of a flat vector.

    >>> block_slices((2, 3))
    ((0, 2), (2, 5))
    """
    out, start = [], 0
    for n in sizes:
        out.append((start, start + n))
        start += n
    return tuple(out)


def block_sq_norms(xp, x, slices) -> list[float]:
    """Squared norm of every block of ``x`` as Python floats (one pass over x).

    >>> import numpy as np
    >>> block_sq_norms(np, np.array([3.0, 4.0, 1.0]), ((0, 2), (2, 3)))
    [25.0, 1.0]
    """
    if len(slices) == 1:
        return [sq_norm(xp, x)]
    if xp is np:                # sq_norm's own line, inlined: called for every block at every update
        return [float(np.dot(x[a:b], x[a:b])) for a, b in slices]
    return [sq_norm(xp, x[a:b]) for a, b in slices]


def guard_rate(eta: float, step: int, eta_min: float | None, eta_max: float | None, *,
               block: int | None = None) -> float:
    """Apply the optional explicit bounds and refuse a rate that is inf, 0 or NaN (``block``: named in the message).

    >>> guard_rate(5.0, 3, None, 1.0)
    1.0
    >>> guard_rate(float("inf"), 3, None, None)
    Traceback (most recent call last):
    ...
    clara_ref.errors.LearningRateError: learning rate became inf at step 3; bound it with eta_min/eta_max or lower the damping
    """
    if not math.isnan(eta):
        if eta_max is not None and eta > eta_max:
            eta = eta_max
        if eta_min is not None and eta < eta_min:
            eta = eta_min
    if not math.isfinite(eta) or eta <= 0.0:
        which = "learning rate" if block is None else f"learning rate of block {block}"
        raise LearningRateError(
            f"{which} became {eta!r} at step {step}; bound it with eta_min/eta_max or lower the damping"
        )
    return eta


def safe_exp(x: float) -> float:
    """exp(x) that returns inf instead of raising OverflowError (the guard then reports it).

    >>> safe_exp(1000.0)
    inf
    """
    try:
        return math.exp(x)
    except OverflowError:
        return math.inf
