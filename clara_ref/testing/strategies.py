"""hypothesis strategies for property-testing a port (the ``testing`` extra), the settings they need, and the
notes lockstep leaves in a falsifying example.

The strategies draw inside the domain on which :data:`clara_ref.testing.TOLERANCES` were measured (dampings up to
0.5, weight decay up to 0.01, 1 to 12 coordinates, 1 to 30 steps, gradient scales 1e-3 to 1e3): a correct port
never fails on what they draw, and a port that fails on it has a bug. ``SETTINGS`` are the hypothesis settings a
lockstep test needs: no deadline (the first example of a torch or JAX port compiles and loads kernels for
seconds), derandomised (the same examples on every run).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .shapes import Frozen, frozen, layout  # noqa: F401 - frozen is used in the doctests

__all__ = ["gradient_sequences", "quadratic_problems", "block_partitions", "parameter_shapes", "adam_hyperparameters",
           "adam_direction_hyperparameters", "clara_hyperparameters", "QuadraticProblem", "note_inputs", "settings"]


def settings():
    """hypothesis settings for lockstep tests: ``deadline=None`` (the first example of a torch or JAX port takes
    seconds), ``derandomize=True`` (the same examples on every run), failing examples printed in full. Use it as a
    decorator: ``@clara_ref.testing.SETTINGS``.
    """
    try:
        from hypothesis import settings as hypothesis_settings
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise ImportError("clara_ref.testing.SETTINGS needs hypothesis: pip install 'clara_ref[testing]'") from exc
    return hypothesis_settings(deadline=None, derandomize=True, print_blob=True)


def note_inputs(optimizer, theta0, gradients, steps):
    """Show the values actually used in hypothesis' falsifying example (no-op outside a hypothesis test)."""
    try:
        from hypothesis import note
        from hypothesis.control import currently_in_test_context
    except ImportError:  # pragma: no cover - hypothesis is optional
        return
    if not currently_in_test_context():
        return
    with np.printoptions(precision=17, threshold=200, linewidth=120):
        note(f"lockstep: optimizer {optimizer!r}")
        note(f"lockstep: theta0 = {np.asarray(theta0)!r}")
        if not callable(gradients):
            for k, g in enumerate(gradients[:steps]):
                note(f"lockstep: g_{k + 1} = {np.asarray(g)!r}")



class QuadraticProblem(NamedTuple):
    """f(theta) = 1/2 sum_i h_i (theta_i - x_i)^2 with noisy gradients h (theta - x) + sigma xi_k.

    ``gradient(theta, k)`` is deterministic in (seed, k), so a reference and a port see the same noise; it is
    returned in theta's precision (float32 for a float32 theta).
    """

    theta0: np.ndarray
    curvature: np.ndarray
    optimum: np.ndarray
    noise: float
    seed: int

    def gradient(self, theta, k: int):
        theta = np.asarray(theta)
        dtype = theta.dtype if theta.dtype in (np.float32, np.float64) else np.float64
        xi = np.random.default_rng([self.seed, k]).standard_normal(self.theta0.shape[0])
        g = self.curvature * (theta.astype(np.float64) - self.optimum) + self.noise * xi
        return g.astype(dtype)


def _st():
    try:
        from hypothesis import strategies as st
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise ImportError("clara_ref.testing strategies need hypothesis: pip install 'clara_ref[testing]'") from exc
    return st


def _floats(st, lo, hi, log=False):
    if log:
        return st.floats(np.log10(lo), np.log10(hi)).map(lambda e: float(10.0**e))
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


def _choices(st, name, given, allowed):
    given = tuple(given)
    bad = [v for v in given if v not in allowed]
    if not given or bad:
        raise ValueError(f"{name} must be a non-empty subset of {allowed}, got {given!r}")
    return st.sampled_from(given)


def gradient_sequences(n=(1, 12), steps=(1, 30), scale=(1e-3, 1e3), dtype=np.float64, *, theta0=None, shapes=None):
    """Strategy for ``(theta0, [g_1, ..., g_T])``: T in ``steps``, each gradient a Gaussian vector times a
    log-uniform scale in ``scale`` (occasionally with an exactly zero entry).

    The dimension is drawn from ``n``, unless ``shapes`` (the trainable sizes of a list of shapes, frozen ones left
    out) or a given ``theta0`` (a model's initial weights, returned as given) fixes it.

    >>> from hypothesis import find
    >>> theta0, grads = find(gradient_sequences(n=(3, 3), steps=(2, 2)), lambda seq: True)
    >>> theta0.shape, len(grads), grads[0].dtype
    ((3,), 2, dtype('float64'))
    >>> _, grads = find(gradient_sequences(shapes=[(2, 2), frozen((3,)), (1,)], steps=(1, 1)), lambda seq: True)
    >>> grads[0].shape
    (5,)
    """
    st = _st()
    fixed = None
    if theta0 is not None:
        theta0 = np.array(theta0, copy=True)
        if theta0.ndim != 1 or theta0.size == 0:
            raise ValueError(f"theta0 must be a non-empty 1-D array, got shape {theta0.shape}")
        dtype = theta0.dtype
        fixed = theta0.size
    if shapes is not None:
        size = sum(layout(shapes)[1])
        if fixed is not None and fixed != size:
            raise ValueError(f"theta0 has {fixed} entries but the trainable shapes hold {size}")
        fixed = size

    @st.composite
    def build(draw):
        dim = fixed if fixed is not None else draw(st.integers(*n))
        T = draw(st.integers(*steps))
        seed = draw(st.integers(0, 2**31 - 1))
        rng = np.random.default_rng(seed)
        start = theta0.copy() if theta0 is not None else rng.standard_normal(dim).astype(dtype)
        scales = 10.0 ** rng.uniform(np.log10(scale[0]), np.log10(scale[1]), size=T)
        grads = [(s * rng.standard_normal(dim)).astype(dtype) for s in scales]
        if draw(st.booleans()) and dim > 1:
            for g in grads:
                g[0] = 0.0
        return start, grads

    return build()


def block_partitions(n=(1, 12), max_blocks: int = 4):
    """Strategy for block sizes (a tuple of positive ints) summing to a dimension drawn from ``n`` (an int fixes
    it), with at most ``max_blocks`` blocks: the ``blocks`` of an optimizer.

    >>> from hypothesis import find
    >>> find(block_partitions(n=5, max_blocks=2), lambda b: len(b) == 2)
    (1, 4)
    """
    st = _st()
    lo, hi = (n, n) if isinstance(n, int) else n

    @st.composite
    def build(draw):
        total = draw(st.integers(lo, hi))
        k = draw(st.integers(1, min(max_blocks, total)))
        cuts = sorted(draw(st.lists(st.integers(1, total - 1), min_size=k - 1, max_size=k - 1, unique=True))) \
            if k > 1 else []
        edges = [0, *cuts, total]
        return tuple(b - a for a, b in zip(edges[:-1], edges[1:]))

    return build()


def parameter_shapes(tensors=(1, 4), max_side: int = 4, frozen_tensors: bool = False):
    """Strategy for a list of parameter shapes (1-D or 2-D, sides up to ``max_side``), like a small model's
    weights and biases; with ``frozen_tensors``, some entries may be :func:`frozen` (at least one stays
    trainable).

    >>> from hypothesis import find
    >>> shapes = find(parameter_shapes(frozen_tensors=True), lambda s: any(isinstance(x, Frozen) for x in s))
    >>> any(not isinstance(x, Frozen) for x in shapes)
    True
    """
    st = _st()
    side = st.integers(1, max_side)
    shape = st.one_of(st.tuples(side), st.tuples(side, side))

    @st.composite
    def build(draw):
        shapes = draw(st.lists(shape, min_size=tensors[0], max_size=tensors[1]))
        if not frozen_tensors:
            return shapes
        marks = draw(st.lists(st.booleans(), min_size=len(shapes), max_size=len(shapes)))
        marks[draw(st.integers(0, len(shapes) - 1))] = False             # keep one trainable
        return [Frozen(s) if m else s for s, m in zip(shapes, marks)]

    return build()


def quadratic_problems(n=(1, 12), noise=(0.0, 1.0)):
    """Strategy for :class:`QuadraticProblem`: log-uniform curvatures in [1e-2, 1e2], a random optimum and start,
    gradient noise with standard deviation in ``noise``.

    >>> from hypothesis import find
    >>> q = find(quadratic_problems(n=(2, 2)), lambda q: True)
    >>> q.theta0.shape, np.array_equal(q.gradient(q.theta0, 3), q.gradient(q.theta0, 3)), bool(q.curvature.min() >= 0.01)
    ((2,), True, True)
    """
    st = _st()

    @st.composite
    def build(draw):
        dim = draw(st.integers(*n))
        seed = draw(st.integers(0, 2**31 - 1))
        rng = np.random.default_rng(seed)
        return QuadraticProblem(theta0=rng.standard_normal(dim) * 3.0, curvature=10.0 ** rng.uniform(-2, 2, dim),
                                optimum=rng.standard_normal(dim), noise=draw(_floats(st, *noise)), seed=seed)

    return build()


def adam_direction_hyperparameters():
    """Strategy for keyword arguments of ``clara_ref.adam_direction`` (beta1, beta2, eps, weight_decay).

    >>> from hypothesis import find
    >>> sorted(find(adam_direction_hyperparameters(), lambda hp: True))
    ['beta1', 'beta2', 'eps', 'weight_decay']
    """
    st = _st()
    return st.fixed_dictionaries({
        "beta1": st.sampled_from([0.0, 0.5, 0.9, 0.99]),
        "beta2": st.sampled_from([0.9, 0.99, 0.999]),
        "eps": st.sampled_from([1e-8, 1e-6, 1e-3]),
        "weight_decay": st.sampled_from([0.0, 0.0, 1e-2]),
    })


def adam_hyperparameters():
    """Strategy for keyword arguments of ``clara_ref.adam`` (those of ``adam_direction`` and ``eta0``).

    >>> from hypothesis import find
    >>> sorted(find(adam_hyperparameters(), lambda hp: True))
    ['beta1', 'beta2', 'eps', 'eta0', 'weight_decay']
    """
    st = _st()
    return st.builds(lambda eta0, hp: {"eta0": eta0, **hp}, _floats(st, 1e-5, 1.0, log=True),
                     adam_direction_hyperparameters())


def clara_hyperparameters(*, moves=("raw", "unit"), path_of=("step", "gradient"),
                          references=("direction", "random_walk"), dampings=(0.0, 1e-3, 0.1, 0.5, "auto"),
                          cs=(0.05, 0.1, 0.2, 0.5, 1.0), eta0=(1e-5, 1.0)):
    """Strategy for keyword arguments of ``clara_ref.clara`` other than the direction and blocks, restricted to the
    variants a port implements (each argument: the values to draw from).

    >>> from hypothesis import find
    >>> import clara_ref as cr
    >>> hp = find(clara_hyperparameters(moves=("unit",), dampings=("auto",)), lambda hp: True)
    >>> cr.clara(cr.sgd_direction(), **hp).move, hp["d"]
    ('unit', 'auto')
    """
    st = _st()
    return st.fixed_dictionaries({
        "eta0": _floats(st, eta0[0], eta0[1], log=True),
        "c": _choices(st, "cs", cs, (0.05, 0.1, 0.2, 0.5, 1.0) + tuple(c for c in cs if isinstance(c, float)
                                                                      and 0 < c <= 1)),
        "d": _choices(st, "dampings", dampings, tuple(x for x in dampings if x == "auto" or
                                                      (isinstance(x, (int, float)) and x >= 0))),
        "move": _choices(st, "moves", moves, ("raw", "unit")),
        "path_of": _choices(st, "path_of", path_of, ("step", "gradient")),
        "reference": _choices(st, "references", references, ("direction", "random_walk")),
    })
