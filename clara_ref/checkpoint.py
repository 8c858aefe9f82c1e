"""Checkpoints: save any optimizer state to ``.npz`` and load it back exactly (no pickle).

The state is a tree of NamedTuples whose leaves are arrays, Python scalars, tuples and None. Arrays go into the
archive under their path (``direction.m``); everything else, and the tree's shape with the NamedTuple class names,
goes into a JSON string stored beside them. Python floats round-trip exactly through JSON (shortest repr), so a run
resumed from a checkpoint equals an uninterrupted run bit for bit. Arrays come back as NumPy arrays.
"""

from __future__ import annotations

import json
import os
import zipfile

import numpy as np

from . import _validate as V
from ._io import atomic_write

__all__ = ["save_state", "load_state"]

_SCHEMA_KEY = "__clara_ref_state__"


def _state_classes() -> dict:
    import importlib

    classes = {}
    # import_module, not "from . import clara": the package re-exports functions under the modules' names.
    for name in ("directions", "constant", "clara", "alera", "dadapt", "prodigy"):
        module = importlib.import_module(f"clara_ref.{name}")
        for name in getattr(module, "__all__", []):
            obj = getattr(module, name)
            if isinstance(obj, type) and issubclass(obj, tuple) and hasattr(obj, "_fields"):
                classes[name] = obj
    return classes


def _encode(node, path: str, arrays: dict):
    if node is None or isinstance(node, (bool, int, float, str)):
        if isinstance(node, float) and not np.isfinite(node):
            return {"float": repr(node)}
        return node
    if isinstance(node, tuple) and hasattr(node, "_fields"):
        return {"namedtuple": type(node).__name__,
                "fields": {f: _encode(getattr(node, f), f"{path}.{f}" if path else f, arrays) for f in node._fields}}
    if isinstance(node, tuple):
        return {"tuple": [_encode(v, f"{path}.{i}", arrays) for i, v in enumerate(node)]}
    if hasattr(node, "shape") and hasattr(node, "dtype"):
        arrays[path] = _to_numpy(node)
        return {"array": path}
    raise TypeError(f"cannot save a state leaf of type {type(node).__name__} at {path!r}")


def _to_numpy(a):
    if isinstance(a, np.ndarray):
        return a
    if hasattr(a, "get"):            # CuPy
        return a.get()
    return np.asarray(a)


def _decode(node, arrays, classes):
    if isinstance(node, dict):
        if "namedtuple" in node:
            cls = classes[node["namedtuple"]]
            return cls(**{f: _decode(v, arrays, classes) for f, v in node["fields"].items()})
        if "tuple" in node:
            return tuple(_decode(v, arrays, classes) for v in node["tuple"])
        if "array" in node:
            return arrays[node["array"]]
        if "float" in node:
            return float(node["float"])
    return node


def save_state(path, state, optimizer=None) -> None:
    """Write ``state`` (any clara_ref optimizer state) to ``path`` as an ``.npz`` archive, atomically: a crash
    during the write leaves the previous file intact. The file is ``path`` exactly (no suffix is added), so
    ``load_state(path)`` reads it back. With ``optimizer``, the archive records which optimizer made the state
    (its name and hyperparameters), and ``load_state(path, optimizer=...)`` checks it.

    >>> import numpy as np, tempfile, os
    >>> from clara_ref import adam
    >>> opt = adam(1e-3); st = opt.init(np.zeros(3))
    >>> f = os.path.join(tempfile.mkdtemp(), "state.npz")
    >>> save_state(f, st); back = load_state(f)
    >>> type(back).__name__, back.t, np.array_equal(back.direction.m, st.direction.m)
    ('ConstantRateState', 0, True)
    """
    V.path("path", path)
    if optimizer is not None:
        V.has_methods("optimizer", optimizer, ("init", "update", "check_state"), "a clara_ref optimizer")
    arrays: dict = {}
    schema = _encode(state, "", arrays)
    if optimizer is not None:
        schema = {"state": schema, "optimizer": repr(optimizer), "name": optimizer.name}
    atomic_write(path, lambda fh: np.savez(fh, **{_SCHEMA_KEY: np.array(json.dumps(schema))}, **arrays),
                 binary=True)


def load_state(path, optimizer=None):
    """Read a state written by :func:`save_state`. With ``optimizer``, refuse a state that another optimizer made
    (the name recorded at saving, then ``optimizer.check_state``): a ``ValueError`` says what does not match.

    >>> import numpy as np, tempfile, os
    >>> from clara_ref import clara, sgd_direction
    >>> opt = clara(sgd_direction(), 0.1); st = opt.init(np.ones(2))
    >>> f = os.path.join(tempfile.mkdtemp(), "s.npz"); save_state(f, st)
    >>> type(load_state(f)).__name__, load_state(f).eta
    ('ClaraState', 0.1)
    """
    V.path("path", path)
    if optimizer is not None:
        V.has_methods("optimizer", optimizer, ("init", "update", "check_state"), "a clara_ref optimizer")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no checkpoint at {os.fspath(path)!r}" +
                                (" (it is a folder)" if os.path.isdir(path) else ""))
    with open(path, "rb") as fh:
        magic = fh.read(4)
    try:
        if magic != b"PK\x03\x04":              # every .npz is a zip archive; this also keeps np.load from
            raise ValueError("not an .npz archive")   # reading the bytes as an .npy or a pickle
        with np.load(path, allow_pickle=False) as archive:
            if not hasattr(archive, "files") or _SCHEMA_KEY not in archive.files:
                raise ValueError("no clara_ref state record inside")
            schema = json.loads(str(archive[_SCHEMA_KEY]))
            arrays = {k: archive[k] for k in archive.files if k != _SCHEMA_KEY}
        made_by = None
        if isinstance(schema, dict) and "optimizer" in schema and "state" in schema:
            made_by, schema = schema, schema["state"]
        state = _decode(schema, arrays, _state_classes())
    except (ValueError, OSError, EOFError, KeyError, TypeError, zipfile.BadZipFile) as exc:
        # a truncated or corrupt file, another program's .npz or .npy, or random bytes (which np.load would
        # otherwise report as "pickled data")
        raise ValueError(f"{os.fspath(path)!r} is not a readable clara_ref checkpoint: "
                         f"{type(exc).__name__}: {exc}") from None
    if optimizer is not None:
        if made_by is not None and made_by["name"] != optimizer.name:
            raise ValueError(f"{path} holds a state made by {made_by['optimizer']}, not by {optimizer.name}")
        theta = next((a for a in arrays.values() if a.ndim == 1), None)
        if theta is not None:
            optimizer.check_state(state, theta)
    return state
