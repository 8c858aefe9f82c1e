"""What lockstep compares, read from both sides: a port's return value unpacked, clara_ref's state fields by
name, the relative deviation, the block of a coordinate, and the message for a value non-finite on one side."""

from __future__ import annotations

import sys

import numpy as np

_TINY = sys.float_info.min


def relative_deviation(port, ref) -> float:
    """max|port - ref| / max|ref|, the denominator floored at the smallest normal float.

    >>> relative_deviation(np.array([1.0, 2.0 + 1e-12]), np.array([1.0, 2.0]))  # doctest: +ELLIPSIS
    5.0...e-13
    """
    port, ref = np.asarray(port, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    if port.shape != ref.shape:
        raise AssertionError(f"the port returned shape {port.shape}, clara_ref has {ref.shape}")
    denom = max(float(np.max(np.abs(ref))) if ref.size else 0.0, _TINY)
    return float(np.max(np.abs(port - ref))) / denom if ref.size else 0.0


def port_result(theta, source, eta_of=None, intermediates_of=None, convert=lambda v: v):
    """What an adapter's step returns, the form ``_unpack`` reads: theta alone, or with the rate
    ``eta_of(source)`` and the named quantities ``intermediates_of(source)`` (each passed through ``convert``)
    when the port exposes them (``source``: the torch optimizer, or the optax state)."""
    if eta_of is None and intermediates_of is None:
        return theta
    out = {"theta": theta}
    if eta_of is not None:
        out["eta"] = float(eta_of(source))
    if intermediates_of is not None:
        out.update({k: convert(v) for k, v in intermediates_of(source).items()})
    return out


def _unpack(out, k: int) -> dict:
    """A port's return value as a dict with at least ``theta``."""
    if isinstance(out, dict):
        if "theta" not in out:
            raise TypeError(f"step {k}: the port returned a dict without 'theta' (keys {sorted(out)})")
        return dict(out)
    if isinstance(out, (tuple, list)):
        if len(out) != 2:
            raise TypeError(f"step {k}: the port returned a {type(out).__name__} of length {len(out)}; return "
                            "theta, (theta, eta) or a dict of named quantities")
        return {"theta": out[0], "eta": out[1]}
    return {"theta": out}


def _as_array(x, what: str, k: int) -> np.ndarray:
    if hasattr(x, "detach"):                                  # a torch tensor
        x = x.detach().cpu().numpy()
    try:
        a = np.asarray(x)
    except Exception as exc:  # noqa: BLE001
        raise TypeError(f"step {k}: the port's {what} is not an array ({type(x).__name__}: {exc})") from None
    if a.dtype.kind not in "fiu":
        raise TypeError(f"step {k}: the port's {what} has dtype {a.dtype}, not a real floating dtype")
    return a


def _find(state, name):
    """The first field called ``name`` in a nested NamedTuple state (breadth first), or a KeyError."""
    stack = [state]
    while stack:
        node = stack.pop(0)
        if isinstance(node, tuple) and hasattr(node, "_fields"):
            if name in node._fields:
                return getattr(node, name)
            stack.extend(getattr(node, f) for f in node._fields)
    raise KeyError(name)


def _fields(state) -> list:
    out, stack = [], [state]
    while stack:
        node = stack.pop(0)
        if isinstance(node, tuple) and hasattr(node, "_fields"):
            out.extend(node._fields)
            stack.extend(getattr(node, f) for f in node._fields)
    return sorted(set(out))


def _reference_value(name, state, k):
    if name == "eta":
        return state.eta
    try:
        return _find(state, name)
    except KeyError:
        raise ValueError(f"step {k}: the port returned {name!r}, which clara_ref's {type(state).__name__} does not "
                         f"have; its fields: {', '.join(_fields(state))}") from None


def _block_of(index: int, blocks) -> str:
    if not blocks:
        return "one block"
    start = 0
    for b, n in enumerate(blocks):
        if index < start + n:
            return f"block {b} of sizes {tuple(blocks)}"
        start += n
    return "outside the blocks"


def _scalars(values) -> str:
    return ", ".join(f"{name} {float(v):.6g}" for name, v in values if np.ndim(v) == 0)


def _both_sides(out, state) -> str:
    """clara_ref's eta, p_sq, reference and multiplier at this step, and every scalar the port returned beside
    theta with clara_ref's value of the same name."""
    ours = [(n, getattr(state, n)) for n in ("eta", "p_sq", "reference", "multiplier")
            if isinstance(getattr(state, n, None), (int, float))]
    text = f"clara_ref at this step: {_scalars(ours)}"
    theirs = [(n, v) for n, v in out.items() if n != "theta" and np.ndim(_as_array(v, n, 0)) == 0]
    if theirs:
        text += f"; the port: {_scalars(theirs)}"
    return text


def _nonfinite(k, what, port, ref, blocks, out, state):
    """True where both sides are non-finite at the same coordinates; AssertionError where only one side is."""
    port_bad, ref_bad = ~np.isfinite(port), ~np.isfinite(ref)
    if not (port_bad.any() or ref_bad.any()):
        return False
    odd = port_bad != ref_bad
    if odd.any():
        i = int(np.argmax(odd.ravel()))
        where = f" at coordinate {i} ({_block_of(i, blocks)})" if np.ndim(port) else ""
        raise AssertionError(f"step {k}: {what} of the port is {float(np.ravel(port)[i])!r}{where} where "
                             f"clara_ref's is {float(np.ravel(ref)[i])!r}: a non-finite value never passes; "
                             f"{_both_sides(out, state)}")
    return True
