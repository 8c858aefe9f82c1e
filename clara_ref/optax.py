"""CLARA for JAX: ``clara_ref.optax.clara``, an ``optax.GradientTransformation`` (the ``jax`` extra).

JAX and optax are imported when :func:`clara` is called, so that ``import clara_ref.optax`` (and collecting
clara_ref's doctests) works without them. One update, the equations of ``clara_ref/clara.py`` on a pytree,
blocks b = its leaves (``blocks="leaf"``) or all of them together (``blocks="global"``)::

    g <- grads + weight_decay * params                            coupled L2                       (E1)
    Adam: m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2;
          s <- (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)                               (E2-E6, K1)
    SGD:  s <- g                                                                                   (K1)
    x_b <- s_b (path_of="step")  or  g_b (path_of="gradient")                                      (K2)
    p_b <- (1 - c) p_b + c x_b / max(|x_b|, 1e-12);   P <- sum_b |p_b|^2                            (K3)
    ref  = sum_b E_null |p_b|^2 (clara_ref.reference, computed at init from the leaves' sizes)     (K4)
    updates <- -eta s      (move="unit": -eta s_b / max(|s_b|, 1e-12)), with the rate before this step   (K6)
    eta <- eta exp(d (P / ref - 1))                                                               (K5)

The tags (E1-E6, K1-K6) are those of ``clara_ref/directions.py`` and ``clara_ref/clara.py``; beside the lines
below they are cited without parentheses (the lines that define them are there).

Use it as any optax optimizer (``optax.apply_updates(params, updates)``), under ``jax.jit``, inside
``optax.chain`` or ``optax.masked`` (a masked-out leaf is no block). ``learning_rate`` is the *initial* rate; the
adapted one is ``state.eta``. With ``optax.inject_hyperparams(clara)(learning_rate=...)`` the initial rate is an
array of the state. ``c``, ``b1`` (and, for Adam's small blocks, ``b2`` and ``eps``) fix the reference, which
``init`` computes from the leaves' sizes: they must be numbers when ``init`` runs (call it outside ``jax.jit``, or
pass them in ``static_args``); ``update`` may be jitted with all of them traced.

Proven equal to ``clara_ref.clara`` step for step by the lockstep harness (tests/test_optax_clara.py)::

    import jax, optax
    from clara_ref.optax import clara

    opt = clara(1e-3, base="adam")
    state = opt.init(params)
    for x, y in batches:
        grads = jax.grad(loss)(params, x, y)
        updates, state = opt.update(grads, state, params)
        params = optax.apply_updates(params, updates)
    print(state.eta, state.p_sq, state.reference)
"""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any, NamedTuple

from . import _validate as V
from . import reference as R
from .directions import adam_direction, sgd_direction
from .path import CLAMP_FLOOR

__all__ = ["clara", "ClaraState"]


class ClaraState(NamedTuple):
    """State of :func:`clara`: ``count`` updates done; ``mu``, ``nu`` Adam's moments (None for SGD); ``path`` the
    path, one leaf per parameter leaf; ``eta`` the rate the next update uses; ``p_sq`` P after the last update;
    ``reference`` what P is compared with; ``multiplier`` the last factor applied to eta; ``d`` the damping in
    use (``"auto"`` resolved at init).

    >>> ClaraState._fields[:5]
    ('count', 'mu', 'nu', 'path', 'eta')
    """

    count: Any
    mu: Any
    nu: Any
    path: Any
    eta: Any
    p_sq: Any
    reference: Any
    multiplier: Any
    d: Any


def _number(jax, name, value, check):
    """A Python number is checked now (ValueError naming it); an array traced by jit or inject_hyperparams is
    taken as it is."""
    if isinstance(value, jax.core.Tracer):
        return value
    return check(name, float(value))


def _static(jax, name, value) -> float:
    """c and b1 fix the pure-noise reference, computed by init from the leaves' sizes: they must be numbers there."""
    if isinstance(value, jax.core.Tracer):
        raise ValueError(f"{name} fixes the pure-noise reference, computed once by init: it must be a number when "
                         f"init runs, not a traced array (call init outside jax.jit, or with "
                         f"optax.inject_hyperparams pass static_args=('c', 'b1'))")
    return float(value)


def _settings(jax, **given) -> SimpleNamespace:
    """Every setting of :func:`clara` checked (ValueError naming it); numbers traced by jit or
    inject_hyperparams are taken as they are."""
    o = SimpleNamespace(**given)
    o.base = V.one_of("base", o.base, ("adam", "sgd"))
    o.blocks = V.one_of("blocks", o.blocks, ("leaf", "global"))
    o.move = V.one_of("move", o.move, ("raw", "unit"))
    o.path_of = V.one_of("path_of", o.path_of, ("step", "gradient"))
    o.learning_rate = _number(jax, "learning_rate", o.learning_rate, V.positive)
    o.c = _number(jax, "c", o.c, lambda n, v: V.path_constant(v))
    o.b1 = _number(jax, "b1", o.b1, lambda n, v: V.in_range("beta1", v, 0.0, 1.0, lo_open=False, hi_open=True))
    o.b2 = _number(jax, "b2", o.b2, lambda n, v: V.in_range(n, v, 0.0, 1.0, lo_open=False, hi_open=True))
    o.eps = _number(jax, "eps", o.eps, V.nonnegative)
    o.weight_decay = _number(jax, "weight_decay", o.weight_decay, V.nonnegative)
    o.d = V.one_of("d", o.d, ("auto",)) if isinstance(o.d, str) else _number(jax, "d", o.d, V.nonnegative)
    if isinstance(o.reference, str):
        o.reference = V.one_of("reference", o.reference, ("direction", "random_walk"))
    else:
        o.reference = V.positive("reference", o.reference)
    return o


def _null_direction(jax, o):
    """The direction whose pure-noise path ref is. Adam's stationary mean depends on beta1 alone (the kappa
    series); the spread behind d="auto" comes, for blocks under 32 entries, from a seeded Monte Carlo of the whole
    direction, so b2 and eps are needed (as numbers) there only."""
    if o.base == "adam" and o.path_of == "step":
        if not isinstance(o.d, str):
            return adam_direction(beta1=_static(jax, "b1", o.b1))
        return adam_direction(beta1=_static(jax, "b1", o.b1), beta2=_static(jax, "b2", o.b2),
                              eps=_static(jax, "eps", o.eps))
    return sgd_direction()


def _reference_and_damping(jax, o, params) -> tuple:
    """(K4) sum_b mu(n_b) from the leaves' sizes (static under jit), and d ("auto": 2 sqrt(sum_b sigma_b^2))."""
    sizes = [math.prod(leaf.shape) for leaf in jax.tree_util.tree_leaves(params)]
    if o.blocks == "global":
        sizes = [sum(sizes)]
    direction, c = _null_direction(jax, o), _static(jax, "c", o.c)
    if isinstance(o.reference, float):
        ref = o.reference
    elif o.reference == "random_walk":
        ref = len(sizes) * R.random_walk_mean(c)
    else:
        ref = sum(R.path_sq_norm_mean(direction, c=c, n=n) for n in sizes)
    if o.d == "auto":
        return ref, 2.0 * math.sqrt(sum(R.path_sq_norm_std(direction, c=c, n=n) ** 2 for n in sizes))
    return ref, o.d


def _update(jax, o, grads, state, params):
    """One update (E1-E6, K1-K6 in the module box): the updates -eta s (or the unit move) and the new state."""
    import jax.numpy as jnp

    tree = jax.tree_util
    base, c, move, b1, b2, eps = o.base, o.c, o.move, o.b1, o.b2, o.eps
    weight_decay, blocks, path_of = o.weight_decay, o.blocks, o.path_of
    if not isinstance(weight_decay, float) or weight_decay:
        if params is None:
            raise ValueError("weight_decay needs params: call update(grads, state, params)")
        grads = tree.tree_map(lambda g, w: g + weight_decay * w, grads, params)        # E1
    t = state.count + 1
    if base == "adam":
        mu = tree.tree_map(lambda m, g: b1 * m + (1.0 - b1) * g, state.mu, grads)              # E2
        nu = tree.tree_map(lambda v, g: b2 * v + (1.0 - b2) * (g * g), state.nu, grads)        # E3
        tt = t.astype(state.eta.dtype)

        def propose(m, v):
            m_hat = m / (1.0 - b1**tt)                                                          # E4
            v_hat = v / (1.0 - b2**tt)                                                          # E5
            return m_hat / (jnp.sqrt(v_hat) + eps)                                             # E6

        s = tree.tree_map(propose, mu, nu)                                                     # K1
    else:
        mu, nu, s = None, None, grads                                                          # K1
    x = s if path_of == "step" else grads                                                      # K2
    x_sq = [jnp.sum(leaf * leaf) for leaf in tree.tree_leaves(x)]
    treedef = tree.tree_structure(x)
    if blocks == "global":
        weights = [c / jnp.maximum(jnp.sqrt(sum(x_sq)), CLAMP_FLOOR)] * len(x_sq)
    else:
        weights = [c / jnp.maximum(jnp.sqrt(q), CLAMP_FLOOR) for q in x_sq]
    path = tree.tree_map(lambda p, x, w: (1.0 - c) * p + w * x, state.path, x,                  # K3 p_b
                         tree.tree_unflatten(treedef, weights))
    P = sum(jnp.sum(p * p) for p in tree.tree_leaves(path))                                   # K3 P
    if move == "unit":
        s_sq = [jnp.sum(leaf * leaf) for leaf in tree.tree_leaves(s)]
        norms = [jnp.sqrt(sum(s_sq))] * len(s_sq) if blocks == "global" else [jnp.sqrt(q) for q in s_sq]
        scales = [state.eta / jnp.maximum(n, CLAMP_FLOOR) for n in norms]
        updates = tree.tree_map(lambda s, k: -k * s, s, tree.tree_unflatten(treedef, scales))  # K6 unit
    else:
        updates = tree.tree_map(lambda s: -state.eta * s, s)                                    # K6 raw
    multiplier = jnp.exp(state.d * (P / state.reference - 1.0))                                 # K5
    new = ClaraState(count=t, mu=mu, nu=nu, path=path, eta=state.eta * multiplier, p_sq=P.astype(state.eta.dtype),
                     reference=state.reference, multiplier=multiplier, d=state.d)
    return updates, new


def clara(learning_rate, base: str = "adam", *, c: float = 0.2, d: float | str = 1e-3, move: str = "raw",
          b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8, weight_decay: float = 0.0, blocks: str = "leaf",
          reference: str | float = "direction", path_of: str = "step"):
    """CLARA (arXiv 2508.05408) around Adam or SGD as an optax transformation (the module box has the equations).

    ``learning_rate`` the initial rate; ``base`` ``"adam"``/``"sgd"``; ``c`` in (0, 1]; ``d`` >= 0 or ``"auto"``
    (twice the exact null spread of P); ``move`` ``"raw"``/``"unit"``; ``b1``, ``b2``, ``eps`` Adam's; ``weight_decay``
    coupled L2 (``update`` then needs ``params``); ``blocks`` ``"leaf"`` (one block per leaf) or ``"global"``;
    ``reference`` ``"direction"``/``"random_walk"``/a float; ``path_of`` ``"step"``/``"gradient"``.
    Invalid settings raise ``ValueError`` naming the parameter.
    """
    import jax
    import jax.numpy as jnp
    import optax

    o = _settings(jax, learning_rate=learning_rate, base=base, c=c, d=d, move=move, b1=b1, b2=b2, eps=eps,
                  weight_decay=weight_decay, blocks=blocks, reference=reference, path_of=path_of)
    tree = jax.tree_util

    def init(params):
        leaves = tree.tree_leaves(params)
        if not leaves:
            raise ValueError("params must hold at least one array")
        dtype = jnp.result_type(*leaves)
        ref, damping = _reference_and_damping(jax, o, params)
        zeros = tree.tree_map(jnp.zeros_like, params)
        scalar = lambda x: jnp.asarray(x, dtype=dtype)           # noqa: E731
        return ClaraState(count=jnp.zeros([], jnp.int32), mu=zeros if o.base == "adam" else None,
                          nu=zeros if o.base == "adam" else None, path=zeros, eta=scalar(o.learning_rate),
                          p_sq=scalar(0.0), reference=scalar(ref), multiplier=scalar(1.0), d=scalar(damping))

    def update(grads, state, params=None):
        return _update(jax, o, grads, state, params)

    return optax.GradientTransformation(init, update)
