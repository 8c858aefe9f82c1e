"""A harness for property-testing a framework port (PyTorch, JAX/optax, ...) against clara_ref, step for step.

Pieces, one module each:

* ``compare``: :func:`lockstep` runs a clara_ref optimizer and a *port* side by side on the same gradients and fails
  at the first step where they disagree, or where the port turns non-finite alone; it stops without a verdict
  where both sides have diverged. The port is a callable ``port(g)`` returning its new theta, ``(theta, eta)``, or a
  dict of named quantities (``theta``, ``eta``, and any of ``m``, ``v``, ``p``, ``p_sq``, ``reference``,
  ``multiplier``, ... compared with the reference state's fields of those names); it keeps its own state.
* ``tolerances``: :data:`TOLERANCES`, the defaults by the port's dtype, and how they were derived and measured.
* ``torch_adapter``, ``optax_adapter``: :func:`torch_port` (a ``torch.optim`` optimizer over one or several
  tensors, frozen ones included, float64 or float32, checking that the port leaves ``.grad`` alone, reloadable from
  its ``state_dict``) and :func:`optax_port` (an optax transformation over a pytree, its start checked, jit-compiled
  once and cached across hypothesis examples).
* ``authors``: :func:`authors_clara`, the ``clara(...)`` that reproduces the CLARA authors' ``SGD_Clara`` and
  ``Adam_Clara`` for a list of parameter shapes (``shapes``: :func:`frozen` marks a tensor without a gradient).
* ``strategies``: hypothesis strategies (the ``testing`` extra) that draw inside the domain the tolerances were
  measured on, and :data:`SETTINGS` (``@SETTINGS`` on a lockstep test: no deadline, derandomised).

What a port of CLARA for Adam must compute besides the update: Adam's pure-noise reference, the expected |p_b|^2
of the path of Adam's own unit steps for every block size n_b, ``clara_ref.reference.path_sq_norm_mean(
adam_direction(beta1=...), c, n_b)`` (the kappa series (R4) of docs/derivations.md), and for ``d="auto"`` twice the
null spread of P, 2 sqrt(sum_b path_sq_norm_std(direction, c, n_b)^2) (``clara(...).damping(blocks)`` gives it).

>>> import numpy as np
>>> from clara_ref import sgd
>>> def my_sgd(lr):            # a "port" with a planted bug: it doubles the learning rate after step 2
...     theta = np.array([1.0, 2.0]); k = [0]
...     def step(g):
...         k[0] += 1
...         theta[:] = theta - (lr if k[0] <= 2 else 2 * lr) * g
...         return theta.copy()
...     return step
>>> grads = [np.array([0.5, -1.0])] * 4
>>> lockstep(sgd(0.1), my_sgd(0.1), np.array([1.0, 2.0]), grads)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
AssertionError: step 3: theta of the port deviates from clara_ref by 0.04348 relative (tolerance: rtol 1e-10, atol 0); worst coordinate 1 (one block), port 2.4000000000000004 vs clara_ref 2.3000000000000003; deviations: theta 4.348e-02, update 1.000e+00 (float64 port); clara_ref at this step: eta 0.1
"""

from __future__ import annotations

from .authors import authors_clara
from .compare import DIVERGENCE_BOUND, UPDATE_FLOOR_ULPS, LockstepReport, lockstep, relative_deviation
from .optax_adapter import optax_port
from .shapes import Frozen, frozen
from .strategies import (QuadraticProblem, adam_direction_hyperparameters, adam_hyperparameters, block_partitions,
                         clara_hyperparameters, gradient_sequences, parameter_shapes, quadratic_problems)
from .tolerances import TOLERANCES
from .torch_adapter import torch_port

__all__ = ["lockstep", "LockstepReport", "TOLERANCES", "relative_deviation", "torch_port", "optax_port", "Frozen",
           "frozen", "authors_clara", "gradient_sequences", "quadratic_problems", "block_partitions",
           "parameter_shapes", "adam_hyperparameters", "adam_direction_hyperparameters", "clara_hyperparameters",
           "QuadraticProblem", "SETTINGS", "DIVERGENCE_BOUND", "UPDATE_FLOOR_ULPS"]


def __getattr__(name):
    """``SETTINGS`` is built on first use, so that the harness imports without hypothesis."""
    if name == "SETTINGS":
        from .strategies import settings

        return settings()
    raise AttributeError(f"module 'clara_ref.testing' has no attribute {name!r}")
