"""Checkpoints: save any optimizer state to ``.npz`` and load it back exactly (no pickle), checked in full.

The state is a tree of NamedTuples whose leaves are arrays, Python scalars, tuples and None. Arrays go into the
archive under their path (``direction.m``); everything else, and the tree's shape with the NamedTuple class names
and each array's shape and dtype, goes into a JSON record stored beside them. Python floats round-trip exactly
through JSON (shortest repr), so a run resumed from a checkpoint equals an uninterrupted run bit for bit. Arrays
come back as NumPy arrays. Given the optimizer, the record also holds its name and hyperparameters.

Loading trusts nothing in the file. Before anything is inflated, the archive's declared sizes are checked (no
member may declare more bytes than the archive holds: clara_ref writes uncompressed archives, so a member that
would inflate beyond it is a zip bomb or damage) and each array's header (its shape and dtype times the element
size must fit in its member). The record must name known state classes with exactly their fields, nested at most
:data:`MAX_DEPTH` deep, and every array it names must exist with the shape and dtype it declares. The state
itself must be one an update could have produced: every count ``t`` a non-negative int, every rate positive,
every float and array entry finite (an update refuses anything else, ``clara_ref.errors.NonFiniteStateError``),
the arrays 1-D, floating and all of one length and dtype. Whatever fails is a ``ValueError`` naming the file.
"""

from __future__ import annotations

import json
import math
import os
import zipfile

import numpy as np

from . import _validate as V
from ._io import atomic_write

__all__ = ["save_state", "load_state", "MAX_DEPTH", "MAX_RECORD_BYTES"]

_SCHEMA_KEY = "__clara_ref_state__"
#: the deepest nesting of states a record may declare (SALeRA's, the deepest, is 4)
MAX_DEPTH = 8
#: the largest JSON record a checkpoint may hold (a real one is under 2 kB)
MAX_RECORD_BYTES = 2**20
_FORMAT = 2


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


# ----------------------------------------------------------------------------------------------------- encoding

def _encode(node, path: str, arrays: dict):
    if node is None or isinstance(node, (bool, int, float, str)):
        if isinstance(node, float) and not math.isfinite(node):
            return {"float": repr(node)}
        return node
    if isinstance(node, tuple) and hasattr(node, "_fields"):
        return {"namedtuple": type(node).__name__,
                "fields": {f: _encode(getattr(node, f), f"{path}.{f}" if path else f, arrays) for f in node._fields}}
    if isinstance(node, tuple):
        return {"tuple": [_encode(v, f"{path}.{i}", arrays) for i, v in enumerate(node)]}
    if hasattr(node, "shape") and hasattr(node, "dtype"):
        arrays[path] = a = _to_numpy(node)
        return {"array": path, "shape": list(a.shape), "dtype": a.dtype.str}
    raise TypeError(f"cannot save a state leaf of type {type(node).__name__} at {path!r}")


def _to_numpy(a):
    if isinstance(a, np.ndarray):
        return a
    if hasattr(a, "get"):            # CuPy
        return a.get()
    return np.asarray(a)


def _jsonable(x):
    """A hyperparameter value as the record stores it (tuples as lists, inf and NaN spelled out)."""
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, float) and not math.isfinite(x):
        return {"float": repr(x)}
    return x


def _hyperparameters(optimizer) -> dict:
    return {k: _jsonable(v) for k, v in optimizer.hyperparameters().items()}


# ----------------------------------------------------------------------------------------------------- decoding

class _Bad(Exception):
    """What is wrong with the file (becomes the ValueError that names it)."""


def _decode(node, arrays, classes, where: str, depth: int, used: set):
    if depth > MAX_DEPTH:
        raise _Bad(f"the state is nested more than {MAX_DEPTH} deep at {where or 'the top'}")
    if node is None or isinstance(node, (bool, int, float, str)):
        return node
    if not isinstance(node, dict):
        raise _Bad(f"{where or 'the state'} is a JSON {type(node).__name__}, which no state holds")
    if "namedtuple" in node:
        cls = classes.get(node["namedtuple"]) if isinstance(node["namedtuple"], str) else None
        if cls is None:
            raise _Bad(f"{where or 'the state'} names {node['namedtuple']!r}, which is no clara_ref state class")
        fields = node.get("fields")
        if not isinstance(fields, dict) or set(fields) != set(cls._fields):
            got = sorted(fields) if isinstance(fields, dict) else fields
            raise _Bad(f"{where or 'the state'} ({cls.__name__}) must have the fields {list(cls._fields)}, got {got}")
        return cls(**{f: _decode(fields[f], arrays, classes, f"{where}.{f}" if where else f, depth + 1, used)
                      for f in cls._fields})
    if "tuple" in node and isinstance(node["tuple"], list):
        return tuple(_decode(v, arrays, classes, f"{where}[{i}]", depth + 1, used) for i, v in enumerate(node["tuple"]))
    if "array" in node:
        key = node["array"]
        if not isinstance(key, str) or key not in arrays:
            raise _Bad(f"{where} names the array {key!r}, which the archive does not hold")
        a = arrays[key]
        shape, dtype = node.get("shape"), node.get("dtype")
        if shape is not None and list(a.shape) != shape:
            raise _Bad(f"{where} declares shape {tuple(shape)} but its array has shape {a.shape}")
        if dtype is not None and a.dtype.str != dtype:
            raise _Bad(f"{where} declares dtype {dtype} but its array is {a.dtype.str}")
        used.add(key)
        return a
    if set(node) == {"float"} and node["float"] in ("inf", "-inf", "nan"):
        return float(node["float"])
    raise _Bad(f"{where or 'the state'} is an object with the keys {sorted(node)}, which no state holds")


def _check_state(state, where: str = "") -> None:
    """Refuse a state no update could have produced: counts, rates, finiteness, the arrays' kind and size."""
    arrays = []

    def walk(node, at):
        if isinstance(node, tuple) and hasattr(node, "_fields"):
            for f in node._fields:
                v = getattr(node, f)
                here = f"{at}.{f}" if at else f
                if f in ("t", "k") and (isinstance(v, bool) or not isinstance(v, int) or v < 0):
                    raise _Bad(f"{here} must be a non-negative int (an update count), got {v!r}")
                if f == "eta" and not (isinstance(v, float) and math.isfinite(v) and v > 0):
                    raise _Bad(f"{here} must be a finite positive float (the rate), got {v!r}")
                walk(v, here)
        elif isinstance(node, tuple):
            for i, v in enumerate(node):
                walk(v, f"{at}[{i}]")
        elif isinstance(node, float):
            if not math.isfinite(node):
                raise _Bad(f"{at} is {node!r}; an update never leaves a state with a non-finite value")
        elif isinstance(node, np.ndarray):
            if node.ndim != 1 or node.dtype not in (np.float32, np.float64):
                raise _Bad(f"{at} must be a 1-D float32 or float64 array, got {node.ndim}-D {node.dtype}")
            if not np.all(np.isfinite(node)):
                raise _Bad(f"{at} holds {int(np.sum(~np.isfinite(node)))} inf or NaN entries; an update never "
                           "leaves a state with a non-finite value")
            arrays.append((at, node))

    walk(state, where)
    if arrays:
        at, first = arrays[0]
        for other, a in arrays[1:]:
            if a.shape != first.shape or a.dtype != first.dtype:
                raise _Bad(f"{other} ({a.shape[0]} {a.dtype}) does not match {at} ({first.shape[0]} {first.dtype}): "
                           "the arrays of a state all have theta's size and dtype")
    etas = getattr(state, "etas", None)
    if isinstance(etas, tuple) and not all(isinstance(e, float) and e > 0 for e in etas):
        raise _Bad(f"etas must be positive floats (the block rates), got {etas!r}")


def _read_archive(path) -> tuple[object, dict]:
    """The JSON record and the arrays of the archive at ``path``, every declared size checked before reading."""
    limit = os.path.getsize(path)
    with zipfile.ZipFile(path) as zf:
        infos = zf.infolist()
        if len(infos) > 256:
            raise _Bad(f"{len(infos)} members; a state has a few dozen arrays at most")
        declared = sum(i.file_size for i in infos)
        if declared > limit:
            raise _Bad(f"its members declare {declared:,} bytes uncompressed in an archive of {limit:,} bytes "
                       "(clara_ref writes uncompressed archives: this one would inflate beyond its size)")
        arrays, record = {}, None
        for info in infos:
            if not info.filename.endswith(".npy"):
                raise _Bad(f"member {info.filename!r} is not an .npy array")
            key = info.filename[:-4]
            with zf.open(info) as fh:
                version = np.lib.format.read_magic(fh)
                if version not in ((1, 0), (2, 0), (3, 0)):
                    raise _Bad(f"member {info.filename!r} has .npy version {version}")
                read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else \
                    np.lib.format.read_array_header_2_0
                shape, _, dtype = read_header(fh, max_header_size=10_000)
                if dtype.hasobject:
                    raise _Bad(f"member {info.filename!r} holds Python objects")
                nbytes = math.prod(shape) * dtype.itemsize
                if nbytes > info.file_size:
                    raise _Bad(f"member {info.filename!r} declares shape {shape} of {dtype} ({nbytes:,} bytes) in "
                               f"{info.file_size:,} bytes")
                if key == _SCHEMA_KEY and (dtype.kind != "U" or shape != () or nbytes > 4 * MAX_RECORD_BYTES):
                    raise _Bad("its state record is not a short text")
            with zf.open(info) as fh:
                value = np.lib.format.read_array(fh, allow_pickle=False)
            if key == _SCHEMA_KEY:
                record = str(value)
            else:
                arrays[key] = value
    if record is None:
        raise _Bad("no clara_ref state record inside")
    try:
        return json.loads(record), arrays
    except RecursionError:
        raise _Bad("its state record is nested too deeply to read") from None


# ----------------------------------------------------------------------------------------------------- public

def save_state(path, state, optimizer=None) -> None:
    """Write ``state`` (any clara_ref optimizer state) to ``path`` as an ``.npz`` archive, atomically: a crash
    during the write leaves the previous file intact. The file is ``path`` exactly (no suffix is added), so
    ``load_state(path)`` reads it back. With ``optimizer`` (the one that made the state: checked), the archive
    records its name and hyperparameters, and ``load_state(path, optimizer=...)`` refuses another set.

    A ``ValueError`` refuses what is not a clara_ref state (None, a dict, a state with a NaN).

    >>> import numpy as np, tempfile, os
    >>> from clara_ref import adam
    >>> opt = adam(1e-3); st = opt.init(np.zeros(3))
    >>> f = os.path.join(tempfile.mkdtemp(), "state.npz")
    >>> save_state(f, st); back = load_state(f)
    >>> type(back).__name__, back.t, np.array_equal(back.direction.m, st.direction.m)
    ('ConstantRateState', 0, True)
    """
    V.path("path", path)
    classes = _state_classes()
    if not (isinstance(state, tuple) and type(state).__name__ in classes and
            classes[type(state).__name__] is type(state)):
        raise ValueError(f"state must be a clara_ref optimizer state (one of {', '.join(sorted(classes))}), got "
                         f"{type(state).__name__}")
    arrays: dict = {}
    tree = _encode(state, "", arrays)
    try:
        _check_state(_decode(tree, arrays, classes, "", 0, set()))
    except _Bad as exc:
        raise ValueError(f"state is not one an update could have produced: {exc}") from None
    record = {"format": _FORMAT, "state": tree}
    if optimizer is not None:
        V.has_methods("optimizer", optimizer, ("init", "update", "check_state", "hyperparameters"),
                      "a clara_ref optimizer")
        theta = next(iter(arrays.values()), None)
        if theta is not None:
            optimizer.check_state(state, theta)
        record.update(optimizer=repr(optimizer), name=optimizer.name, hyperparameters=_hyperparameters(optimizer))
    atomic_write(path, lambda fh: np.savez(fh, **{_SCHEMA_KEY: np.array(json.dumps(record))}, **arrays),
                 binary=True)


def load_state(path, optimizer=None):
    """Read a state written by :func:`save_state`, checked in full (the module's docstring says what), and with
    ``optimizer``, refuse a state that another optimizer made: another name or, when the archive records them,
    other hyperparameters (each difference named), then ``optimizer.check_state``. Every refusal is a
    ``ValueError`` naming the file.

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
    name = os.fspath(path)
    with open(path, "rb") as fh:
        magic = fh.read(4)
    try:
        if magic != b"PK\x03\x04":              # every .npz is a zip archive; this also keeps np.load from
            raise _Bad("not an .npz archive")   # reading the bytes as an .npy or a pickle
        record, arrays = _read_archive(path)
        made_by = None
        if isinstance(record, dict) and "state" in record:     # a record of this format or of the first
            made_by, record = record, record["state"]
        used: set = set()
        state = _decode(record, arrays, _state_classes(), "", 0, used)
        if not (isinstance(state, tuple) and hasattr(state, "_fields")):
            raise _Bad("the record holds no state")
        if set(arrays) - used:
            raise _Bad(f"arrays no field of the state names: {sorted(set(arrays) - used)}")
        _check_state(state)
    except (_Bad, ValueError, OSError, EOFError, KeyError, TypeError, zipfile.BadZipFile, RecursionError) as exc:
        # a truncated or corrupt file, another program's .npz or .npy, random bytes, a record that lies
        what = str(exc) if isinstance(exc, _Bad) else f"{type(exc).__name__}: {exc}"
        raise ValueError(f"{name!r} is not a readable clara_ref checkpoint: {what}") from None
    if optimizer is not None:
        _check_made_by(name, made_by, optimizer)
        theta = next(iter(arrays.values()), None)
        if theta is not None:
            optimizer.check_state(state, theta)
    return state


def _check_made_by(name: str, made_by, optimizer) -> None:
    if made_by is None or "name" not in made_by:
        return
    if made_by["name"] != optimizer.name:
        raise ValueError(f"{name} holds a state made by {made_by.get('optimizer')}, not by {optimizer.name}")
    stored = made_by.get("hyperparameters")
    if not isinstance(stored, dict):
        return                                   # a checkpoint of the first format records the name only
    here = _hyperparameters(optimizer)
    diffs = [f"{k}: {stored.get(k, '(absent)')!r} in the checkpoint, {here.get(k, '(absent)')!r} here"
             for k in sorted(set(stored) | set(here)) if stored.get(k, "(absent)") != here.get(k, "(absent)")]
    if diffs:
        raise ValueError(f"{name} holds a state made by {made_by.get('optimizer')}, whose hyperparameters differ "
                         f"from the optimizer given: " + "; ".join(diffs))
