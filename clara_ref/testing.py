"""A harness for property-testing a framework port (PyTorch, JAX, ...) against clara_ref, step for step.

Two pieces:

* :func:`lockstep` runs a clara_ref optimizer and a *port* side by side on the same gradients and fails with the
  first step at which their iterates (and, optionally, learning rates) differ by more than ``rtol``. The port is a
  callback ``port_step(g) -> theta`` or ``-> (theta, eta)``; it keeps its own state (a torch optimizer, a JAX
  state in a closure).
* hypothesis strategies (needs the ``testing`` extra): :func:`gradient_sequences`, :func:`quadratic_problems`,
  :func:`adam_hyperparameters`, :func:`clara_hyperparameters`.

:func:`torch_port` wraps a ``torch.optim`` optimizer on one float64 parameter as such a callback.

Deviation is measured norm-wise: ``max|theta_port - theta_ref| / max|theta_ref|`` (with the denominator floored at
the smallest normal float), so coordinates that pass near zero do not inflate it.

>>> import numpy as np
>>> from clara_ref import sgd
>>> def my_sgd(lr):            # a "port" with a planted bug: it ignores the learning rate after step 2
...     theta = np.array([1.0, 2.0]); k = [0]
...     def step(g):
...         k[0] += 1
...         theta[:] = theta - (lr if k[0] <= 2 else 2 * lr) * g
...         return theta.copy()
...     return step
>>> grads = [np.array([0.5, -1.0])] * 4
>>> lockstep(sgd(0.1), my_sgd(0.1), np.array([1.0, 2.0]), grads)
Traceback (most recent call last):
...
AssertionError: step 3: theta of the port deviates from clara_ref by 4.348e-02 (relative, rtol 1e-10)
"""

from __future__ import annotations

import sys
from typing import Callable, NamedTuple, Sequence

import numpy as np

__all__ = ["lockstep", "LockstepReport", "relative_deviation", "torch_port", "gradient_sequences",
           "quadratic_problems", "adam_hyperparameters", "clara_hyperparameters", "QuadraticProblem"]

_TINY = sys.float_info.min


def relative_deviation(port, ref) -> float:
    """max|port - ref| / max|ref|, the denominator floored at the smallest normal float.

    >>> relative_deviation(np.array([1.0, 2.0 + 1e-12]), np.array([1.0, 2.0]))  # doctest: +ELLIPSIS
    5.0...e-13
    """
    port, ref = np.asarray(port, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    if port.shape != ref.shape:
        raise AssertionError(f"the port returned shape {port.shape}, clara_ref has {ref.shape}")
    return float(np.max(np.abs(port - ref)) / max(float(np.max(np.abs(ref))), _TINY))


class LockstepReport(NamedTuple):
    """What :func:`lockstep` measured: the worst relative deviations over all steps, and the final states."""

    steps: int
    max_theta_deviation: float
    max_eta_deviation: float
    theta: np.ndarray
    state: object


def lockstep(optimizer, port_step: Callable, theta0, gradients, *, steps: int | None = None, rtol: float = 1e-10,
             eta_rtol: float | None = None, losses: Sequence[float] | None = None) -> LockstepReport:
    """Run ``optimizer`` and ``port_step`` in lockstep and assert that they agree after every step.

    ``gradients`` is a sequence of arrays, or a callable ``gradients(theta, k) -> g`` evaluated at clara_ref's
    iterate (then ``steps`` is required); both sides receive the very same array values (the port gets a copy).
    ``port_step(g)`` returns the port's new theta, or ``(theta, eta)`` to compare learning rates too (to
    ``eta_rtol``, default ``rtol``). ``losses`` are passed to ``update(..., loss=)`` (SALeRA).
    Raises AssertionError naming the first step that deviates by more than the tolerance.

    >>> from clara_ref import sgd
    >>> def port():                      # a correct port of SGD at 0.1
    ...     theta = np.array([1.0, -1.0])
    ...     def step(g):
    ...         theta[:] = theta - 0.1 * g
    ...         return theta.copy(), 0.1
    ...     return step
    >>> report = lockstep(sgd(0.1), port(), np.array([1.0, -1.0]), [np.array([1.0, 2.0])] * 3)
    >>> report.steps, report.max_theta_deviation, report.max_eta_deviation
    (3, 0.0, 0.0)
    """
    theta = np.array(theta0, dtype=np.float64) if not hasattr(theta0, "dtype") else theta0
    state = optimizer.init(theta)
    if callable(gradients):
        if steps is None:
            raise ValueError("steps is required when gradients is a callable")
        n_steps = int(steps)
    else:
        gradients = list(gradients)
        n_steps = len(gradients) if steps is None else min(int(steps), len(gradients))
    eta_rtol = rtol if eta_rtol is None else eta_rtol
    worst_theta = worst_eta = 0.0
    for k in range(n_steps):
        g = gradients(theta, k) if callable(gradients) else gradients[k]
        loss = None if losses is None else losses[k]
        theta, state = optimizer.update(theta, g, state, loss=loss)
        out = port_step(np.array(g, copy=True))
        port_theta, port_eta = out if isinstance(out, tuple) else (out, None)
        dev = relative_deviation(port_theta, theta)
        worst_theta = max(worst_theta, dev)
        if not dev <= rtol:
            raise AssertionError(f"step {k + 1}: theta of the port deviates from clara_ref by {dev:.3e} "
                                 f"(relative, rtol {rtol:g})")
        if port_eta is not None:
            edev = abs(float(port_eta) - state.eta) / max(abs(state.eta), _TINY)
            worst_eta = max(worst_eta, edev)
            if not edev <= eta_rtol:
                raise AssertionError(f"step {k + 1}: eta of the port is {float(port_eta)!r}, clara_ref has "
                                     f"{state.eta!r} (relative deviation {edev:.3e}, rtol {eta_rtol:g})")
    return LockstepReport(n_steps, worst_theta, worst_eta, theta, state)


def torch_port(make_optimizer: Callable, theta0, eta_of: Callable | None = None) -> Callable:
    """A ``port_step`` callback around a torch optimizer on one float64 parameter initialised to ``theta0``.

    ``make_optimizer(params)`` builds it (e.g. ``lambda ps: torch.optim.Adam(ps, lr=1e-3)``); ``eta_of(opt)``, if
    given, reads the port's learning rate after each step (e.g. ``lambda o: o.param_groups[0]["lr"]``).

    >>> import torch
    >>> from clara_ref import adam
    >>> step = torch_port(lambda ps: torch.optim.Adam(ps, lr=1e-2), np.zeros(3))
    >>> lockstep(adam(1e-2), step, np.zeros(3), [np.array([1.0, -2.0, 3.0])] * 5).max_theta_deviation < 1e-12
    True
    """
    import torch

    param = torch.nn.Parameter(torch.tensor(np.asarray(theta0, dtype=np.float64)))
    opt = make_optimizer([param])

    def step(g):
        param.grad = torch.tensor(np.asarray(g, dtype=np.float64))
        opt.step()
        theta = param.detach().numpy().copy()
        return (theta, eta_of(opt)) if eta_of is not None else theta

    step.optimizer = opt
    step.param = param
    return step


class QuadraticProblem(NamedTuple):
    """f(theta) = 1/2 sum_i h_i (theta_i - x_i)^2 with noisy gradients h (theta - x) + sigma xi_k.

    ``gradient(theta, k)`` is deterministic in (seed, k), so a reference and a port see the same noise.
    """

    theta0: np.ndarray
    curvature: np.ndarray
    optimum: np.ndarray
    noise: float
    seed: int

    def gradient(self, theta, k: int):
        xi = np.random.default_rng([self.seed, k]).standard_normal(self.theta0.shape[0])
        return self.curvature * (np.asarray(theta, dtype=np.float64) - self.optimum) + self.noise * xi


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


def gradient_sequences(n=(1, 12), steps=(1, 30), scale=(1e-3, 1e3), dtype=np.float64):
    """Strategy for ``(theta0, [g_1, ..., g_T])``: dimension in ``n``, T in ``steps``, each gradient a Gaussian
    vector times a log-uniform scale in ``scale`` (occasionally with an exactly zero entry).

    >>> from hypothesis import find
    >>> theta0, grads = find(gradient_sequences(n=(3, 3), steps=(2, 2)), lambda seq: True)
    >>> theta0.shape, len(grads), grads[0].dtype
    ((3,), 2, dtype('float64'))
    """
    st = _st()

    @st.composite
    def build(draw):
        dim = draw(st.integers(*n))
        T = draw(st.integers(*steps))
        seed = draw(st.integers(0, 2**31 - 1))
        rng = np.random.default_rng(seed)
        theta0 = rng.standard_normal(dim).astype(dtype)
        scales = 10.0 ** rng.uniform(np.log10(scale[0]), np.log10(scale[1]), size=T)
        grads = [(s * rng.standard_normal(dim)).astype(dtype) for s in scales]
        if draw(st.booleans()) and dim > 1:
            for g in grads:
                g[0] = 0.0
        return theta0, grads

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


def adam_hyperparameters():
    """Strategy for keyword arguments of ``clara_ref.adam`` (``eta0`` included).

    >>> from hypothesis import find
    >>> sorted(find(adam_hyperparameters(), lambda hp: True))
    ['beta1', 'beta2', 'eps', 'eta0', 'weight_decay']
    """
    st = _st()
    return st.fixed_dictionaries({
        "eta0": _floats(st, 1e-5, 1.0, log=True),
        "beta1": st.sampled_from([0.0, 0.5, 0.9, 0.99]),
        "beta2": st.sampled_from([0.9, 0.99, 0.999]),
        "eps": st.sampled_from([1e-8, 1e-6, 1e-3]),
        "weight_decay": st.sampled_from([0.0, 0.0, 1e-2, 0.5]),
    })


def clara_hyperparameters():
    """Strategy for keyword arguments of ``clara_ref.clara`` other than the direction and blocks.

    >>> from hypothesis import find
    >>> import clara_ref as cr
    >>> hp = find(clara_hyperparameters(), lambda hp: hp["move"] == "unit")
    >>> cr.clara(cr.sgd_direction(), **hp).move
    'unit'
    """
    st = _st()
    return st.fixed_dictionaries({
        "eta0": _floats(st, 1e-5, 1.0, log=True),
        "c": st.sampled_from([0.05, 0.1, 0.2, 0.5, 1.0]),
        "d": st.one_of(st.sampled_from([0.0, 1e-3, 0.1, 1.0]), st.just("auto")),
        "move": st.sampled_from(["raw", "unit"]),
        "path_of": st.sampled_from(["step", "gradient"]),
        "reference": st.sampled_from(["direction", "random_walk"]),
    })
