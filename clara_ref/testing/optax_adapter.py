"""An optax ``GradientTransformation`` as a lockstep port (:func:`optax_port`; JAX users, needs ``jax`` and
``optax``)."""

from __future__ import annotations

from collections import OrderedDict
from typing import Callable

import numpy as np

from .quantities import port_result

__all__ = ["optax_port", "OptaxPort", "CACHE_SIZE"]

#: compiled (init, update) pairs kept, least recently used first out: each holds about 5 MB of XLA code, so the
#: cache stays under about 160 MB however many transformations a test suite builds (120 fresh closures once
#: reached 1 GB and ran LLVM out of memory while the cache was unbounded)
CACHE_SIZE = 32
_CACHE: OrderedDict = OrderedDict()


def _compile(transformation, hp_names):
    import jax
    import optax

    def build(hp):
        return transformation(**hp) if hp_names is not None else transformation

    def init(hp, p):
        return build(hp).init(p)

    def update(hp, opt_state, p, grads):
        updates, opt_state = build(hp).update(grads, opt_state, p)
        return optax.apply_updates(p, updates), opt_state

    return jax.jit(init), jax.jit(update)


def _cached(key, transformation, hp_names):
    if key in _CACHE:
        _CACHE.move_to_end(key)
    else:
        _CACHE[key] = _compile(transformation, hp_names)
        while len(_CACHE) > CACHE_SIZE:
            _CACHE.popitem(last=False)
    return _CACHE[key]


class OptaxPort:
    """The port :func:`optax_port` returns: call it with a flat gradient; ``theta0`` is the flat start in the
    port's dtype and ``leaf_order`` the pytree paths of its leaves in the order of theta; ``reload()`` rebuilds the
    transformation and its compiled step and restores the state from host copies of its leaves."""

    def __init__(self, transformation, theta0, eta_of, intermediates_of, dtype, hyperparameters):
        import jax
        import jax.numpy as jnp
        from jax.flatten_util import ravel_pytree

        self._jax = jax
        leaves = jax.tree_util.tree_leaves(theta0)
        if not leaves:
            raise ValueError("theta0 must hold at least one array")
        host = [np.asarray(a) for a in leaves]
        if dtype is None:
            dtype = "float32" if all(a.dtype == np.float32 for a in host) else "float64"
        if dtype not in ("float32", "float64"):
            raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
        self._check_rounding(jax, theta0, dtype)
        self.hp_names = tuple(sorted(hyperparameters)) if hyperparameters is not None else None
        if hyperparameters is not None and not callable(transformation):
            raise TypeError("with hyperparameters, transformation must be a factory such as optax.adam")
        if hyperparameters is None and not (hasattr(transformation, "init") and hasattr(transformation, "update")):
            raise TypeError(f"transformation must be an optax GradientTransformation, got "
                            f"{type(transformation).__name__}")
        self.transformation, self.eta_of, self.intermediates_of = transformation, eta_of, intermediates_of
        self.dtype, self.x64 = dtype, dtype == "float64"
        self.np_dtype = np.float32 if dtype == "float32" else np.float64
        with jax.enable_x64(self.x64):
            params = jax.tree_util.tree_map(lambda a: jnp.asarray(np.asarray(a), dtype=dtype), theta0)
            flat, self.unravel = ravel_pytree(params)
            self.leaf_order = [jax.tree_util.keystr(path) or "(root)"
                               for path, _ in jax.tree_util.tree_flatten_with_path(params)[0]]
            self.theta0 = np.asarray(flat).astype(self.np_dtype)
            self._check_round_trip(jax, params)
            self.key = (transformation, jax.tree_util.tree_structure(params),
                        tuple(tuple(np.shape(a)) for a in jax.tree_util.tree_leaves(params)), dtype, self.hp_names)
            self.init_fn, self.update_fn = _cached(self.key, transformation, self.hp_names)
            self.hp = {k: jnp.asarray(float(v), dtype=dtype) for k, v in (hyperparameters or {}).items()}
            self.params, self.state = params, self.init_fn(self.hp, params)

    def _check_rounding(self, jax, theta0, dtype):
        """Refuse to round float64 start weights into a float32 port (the rounding would be graded as a deviation
        of a few 1e-8 at step 1, far from its cause)."""
        if dtype != "float32":
            return
        for path, leaf in jax.tree_util.tree_flatten_with_path(theta0)[0]:
            a = np.asarray(leaf)
            if a.dtype == np.float64 and not np.array_equal(a.astype(np.float32).astype(np.float64), a):
                change = float(np.max(np.abs(a - a.astype(np.float32))))
                raise ValueError(f"theta0's leaf {jax.tree_util.keystr(path) or '(root)'} is float64 but the port is "
                                 f"float32, which rounds it (by up to {change:.3g}): pass float32 leaves, or "
                                 "dtype='float64'")

    def _check_round_trip(self, jax, params):
        """The flat start must unravel into exactly the pytree's leaves (ravel_pytree promotes mixed dtypes)."""
        for path, a, b in zip(self.leaf_order, jax.tree_util.tree_leaves(params),
                              jax.tree_util.tree_leaves(self.unravel(self.theta0))):
            if np.asarray(a).dtype != np.asarray(b).dtype or not np.array_equal(np.asarray(a), np.asarray(b)):
                raise ValueError(f"theta0's leaf {path} does not round-trip through the flat vector exactly "
                                 f"({np.asarray(a).dtype} against {np.asarray(b).dtype}); give every leaf the "
                                 "port's dtype")

    def __call__(self, g):
        jax = self._jax
        import jax.numpy as jnp
        from jax.flatten_util import ravel_pytree

        g = np.asarray(g)
        if g.shape != self.theta0.shape:
            raise ValueError(f"g must have the flattened theta0's shape {self.theta0.shape}, got {g.shape}")
        with jax.enable_x64(self.x64):
            grads = self.unravel(jnp.asarray(g, dtype=self.dtype))
            self.params, self.state = self.update_fn(self.hp, self.state, self.params, grads)
            theta = np.asarray(ravel_pytree(self.params)[0]).astype(self.np_dtype)
            return port_result(theta, self.state, self.eta_of, self.intermediates_of, convert=np.asarray)

    @property
    def box(self) -> dict:
        return {"params": self.params, "state": self.state}

    def reload(self):
        """Rebuild the port from its state, as a restart would: a freshly compiled step (bypassing the cache, so
        the transformation's Python code runs again) and the state restored from host copies of its leaves."""
        jax = self._jax

        def restored(tree):
            leaves, treedef = jax.tree_util.tree_flatten(tree)
            return jax.tree_util.tree_unflatten(treedef, [jax.numpy.asarray(np.array(a, copy=True)) for a in leaves])

        with jax.enable_x64(self.x64):
            self.init_fn, self.update_fn = _compile(self.transformation, self.hp_names)
            self.state, self.params = restored(self.state), restored(self.params)


def optax_port(transformation, theta0, eta_of: Callable | None = None, *, dtype=None,
               hyperparameters: dict | None = None, intermediates_of: Callable | None = None) -> OptaxPort:
    """A lockstep port around an optax transformation (JAX users; needs ``jax`` and ``optax``).

    ``theta0`` is a 1-D array or any pytree of arrays (a dict of layers, say); it is flattened with
    ``jax.flatten_util.ravel_pytree``, so theta and the gradients are flat vectors in the order of its leaves
    (``port.leaf_order`` names them; ``port.theta0`` is the flat start to give lockstep, which checks it; the blocks
    of the matching clara_ref optimizer are the leaves' sizes). ``dtype`` is ``"float64"`` (default for a float64
    theta0; JAX's 64-bit mode is switched on inside the port only) or ``"float32"``, which refuses float64 leaves it
    would round. ``eta_of(opt_state)`` reads the port's learning rate, ``intermediates_of(opt_state)`` a dict of its
    own quantities (``p_sq``, ``reference``, ...), compared by name.

    The update step is jit-compiled once and cached by (transformation, pytree structure, shapes, dtype) in a
    least-recently-used cache of CACHE_SIZE entries, so hypothesis examples that reuse a transformation do not
    recompile. To vary numeric hyperparameters across examples without recompiling, pass a factory as
    ``transformation`` and the numbers as ``hyperparameters``: ``optax_port(optax.adam, theta0,
    hyperparameters=dict(learning_rate=1e-3, b1=0.9))`` builds ``optax.adam(**hyperparameters)`` inside the compiled
    step, with the numbers traced (non-numeric options go into the factory, e.g. with ``functools.partial``).
    """
    return OptaxPort(transformation, theta0, eta_of, intermediates_of, dtype, hyperparameters)
