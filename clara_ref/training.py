"""Training loops: any optimizer on a model and dataset (``train``) or on a synthetic objective (``optimize``).

A run has diverged, stops and is reported as diverged (``diverged``, ``diverged_at``, and ``divergence`` saying
which of these it was) when

* its loss or parameters became non-finite, an update refused a non-finite gradient or would have made its state
  non-finite (``NonFiniteStateError``), its rate left the floats (``LearningRateError``) or fell through SALeRA's
  floor (``RateFloorError``); or
* its training loss (``train``) or its distance to the optimum (``optimize``) ends beyond ``DIVERGENCE_FACTOR``
  (1e3) times its value at the start: a run that ends that far from where it began has not converged, and its
  finite but astronomical numbers (distances of 1e52 on Rosenbrock) would otherwise be averaged as results. The
  bound is applied to the end of the run, not to every step: SGD-CLARA on the noisy sphere, started from 1e-6,
  overshoots to 1e6 times its start distance while its rate climbs and still ends at 1e-4 of it, a result.

Any other error propagates: for example ``dadapt_sgd`` refuses a zero first gradient and ``salera`` a first loss
<= 0 with a ``ValueError``, which are not divergences. An accuracy of 0.0 is a result, not a divergence.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from . import _validate as V
from ._backend import Array
from .data import _batches
from .errors import LearningRateError, NonFiniteGradientError, NonFiniteStateError, RateFloorError

__all__ = ["train", "optimize", "TrainResult", "OptimizeResult", "DIVERGENCE_FACTOR"]

#: a run has diverged once its training loss (train) or its distance to the optimum (optimize) exceeds this
#: multiple of its value at the start (three orders of magnitude: no converging run goes that far back)
DIVERGENCE_FACTOR = 1e3

_DIVERGENCE = (NonFiniteGradientError, LearningRateError, RateFloorError, FloatingPointError, OverflowError)
#: what ``divergence`` says for each kind of exception (the first class that matches)
_KINDS = ((NonFiniteGradientError, "non-finite gradient"), (NonFiniteStateError, "non-finite optimizer state"),
          (LearningRateError, "rate out of the floats"), (RateFloorError, "rate below SALeRA's floor"),
          (OverflowError, "overflow"))


class _NonFinite(FloatingPointError):
    """The loss, value or parameters became non-finite (raised and caught inside the loops)."""


def _kind(exc) -> str:
    if isinstance(exc, _NonFinite):
        return exc.args[0]
    return next((k for cls, k in _KINDS if isinstance(exc, cls)), "floating-point error")


def _factor(divergence_factor):
    return None if divergence_factor is None else V.positive("divergence_factor", divergence_factor)


def _beyond(value: float, start: float, factor, what: str) -> str | None:
    """The divergence a run that ends at ``value`` from ``start`` has, or None."""
    if factor is not None and start > 0.0 and value > factor * start:
        return f"{what} ended beyond {factor:g} x its start"
    return None


def _path_signal(state):
    """The path statistic and what it is compared with, (P, ref), or (None, None) for an optimizer without a path."""
    p_sq, ref = getattr(state, "p_sq", None), getattr(state, "reference", None)
    return (None, None) if p_sq is None or ref is None else (float(p_sq), float(ref))


class TrainResult(NamedTuple):
    """Per-epoch records; index 0 is before training. ``train_loss`` is the full training-set loss,
    ``test_accuracy`` the test accuracy, ``eta`` the optimizer's rate at the end of the epoch, ``p_sq`` and
    ``reference`` the path statistic P = sum_b |p_b|^2 and what it was compared with at that moment (None for
    optimizers without a path: P / reference is the signal that drives a path rule's rate)."""

    train_loss: list
    test_accuracy: list
    eta: list
    diverged: bool
    diverged_at: int | None
    message: str
    theta: np.ndarray
    state: object
    p_sq: list
    reference: list
    divergence: str | None = None


def _split(data):
    """``data`` as (X_train, y_train, X_test, y_test), four arrays whose rows pair up."""
    if not isinstance(data, (tuple, list)) or len(data) != 4:
        raise TypeError(f"data must be a tuple (X_train, y_train, X_test, y_test), got {type(data).__name__}"
                        + (f" of length {len(data)}" if isinstance(data, (tuple, list)) else ""))
    arrays = []
    for name, given in zip(("X_train", "y_train", "X_test", "y_test"), data):
        try:
            a = np.asarray(given)
        except (TypeError, ValueError):
            a = None
        if a is None or a.ndim != (2 if name.startswith("X") else 1) or a.dtype == object:
            raise TypeError(f"data: {name} must be a {'2-D feature' if name.startswith('X') else '1-D label'} array, "
                            f"got {type(given).__name__}")
        arrays.append(a)
    for x, y, part in ((arrays[0], arrays[1], "train"), (arrays[2], arrays[3], "test")):
        if x.shape[0] != y.shape[0]:
            raise ValueError(f"data: X_{part} has {x.shape[0]} rows but y_{part} has {y.shape[0]} labels")
        if x.shape[0] == 0:
            raise ValueError(f"data: X_{part} has no rows (the losses and accuracies average over at least one)")
        if x.dtype.kind not in "iuf":
            raise TypeError(f"data: X_{part} must hold real numbers, got dtype {x.dtype}")
        if y.dtype.kind not in "iu":
            raise TypeError(f"data: y_{part} must hold integer class labels, got dtype {y.dtype}")
    return arrays


def train(model, optimizer, data, *, epochs: int, batch_size: int = 128, seed: int = 0,
          dtype=np.float64, divergence_factor: float | None = DIVERGENCE_FACTOR, theta0=None,
          state0=None) -> TrainResult:
    """Train ``model`` with ``optimizer`` on ``data = (X_train, y_train, X_test, y_test)``.

    The parameters are initialised and the minibatches shuffled from ``numpy.random.default_rng(seed)``.
    ``theta0`` and ``state0`` go on from where an earlier run left (its ``theta`` and ``state``, for example on a
    second task: ``clara_ref.data.permuted``) instead of from the model's initialisation and ``optimizer.init``.
    ``dtype`` (float64 or float32) is the precision of the parameters and features. The run counts as diverged
    when its full training loss ends beyond ``divergence_factor`` times the initial one (None: only non-finite
    values count; see the module docstring).

    >>> import clara_ref as cr
    >>> data = cr.data.load("iris")
    >>> r = train(cr.models.softmax_regression(4, 3), cr.adam(0.05), data, epochs=20, batch_size=32)
    >>> r.diverged, r.test_accuracy[-1] > 0.8
    (False, True)
    """
    V.has_methods("model", model, ("init", "loss_and_grad", "loss", "accuracy"), "a clara_ref model")
    V.has_methods("optimizer", optimizer, ("init", "update"), "a clara_ref optimizer")
    epochs = V.integer("epochs", epochs, hi=V.MAX_COUNT)
    batch_size = V.integer("batch_size", batch_size, lo=1, hi=V.MAX_SIZE)
    seed = V.seed(seed)
    dtype = V.float_dtype("dtype", dtype)
    factor = _factor(divergence_factor)
    X, y, X_test, y_test = _split(data)
    X, X_test = np.asarray(X, dtype=dtype), np.asarray(X_test, dtype=dtype)
    rng = np.random.default_rng(seed)
    theta, state = _start(model, optimizer, rng, dtype, theta0, state0)
    losses = [model.loss(theta, X, y)]             # also checks X and y (shapes, dtype, labels), once per run
    accs = [model.accuracy(theta, X_test, y_test)]  # and X_test, y_test
    # The minibatches are rows of X and y, and every later loss and accuracy is taken on the same arrays, so a model
    # that offers them computes these without checking the data again (clara_ref.models.Model's *_checked methods:
    # on iris the checks cost about a fifth of a run, benchmarks/mlp_throughput.py); any other model's methods are
    # called as they are.
    loss_and_grad = getattr(model, "loss_and_grad_checked", model.loss_and_grad)
    loss_of = getattr(model, "loss_checked", model.loss)
    accuracy_of = getattr(model, "accuracy_checked", model.accuracy)
    etas = [state.eta]
    signal = [_path_signal(state)]
    for epoch in range(1, epochs + 1):
        try:
            with np.errstate(over="ignore", invalid="ignore"):
                for Xb, yb in _batches(X, y, batch_size, rng):     # data.minibatches, its arguments checked above
                    loss, g = loss_and_grad(theta, Xb, yb)
                    theta, state = optimizer.update(theta, g, state, loss=loss)
                full_loss = loss_of(theta, X, y)
            if not math.isfinite(full_loss) or not np.all(np.isfinite(theta)):
                raise _NonFinite("non-finite loss or parameters")
        except _DIVERGENCE as exc:
            return TrainResult(losses, accs, etas, True, epoch, f"{type(exc).__name__}: {exc}", theta, state,
                               *map(list, zip(*signal)), divergence=_kind(exc))
        losses.append(full_loss)
        accs.append(accuracy_of(theta, X_test, y_test))
        etas.append(state.eta)
        signal.append(_path_signal(state))
    beyond = _beyond(losses[-1], losses[0], factor, "loss")
    return TrainResult(losses, accs, etas, beyond is not None, epochs if beyond else None, beyond or "", theta,
                       state, *map(list, zip(*signal)), divergence=beyond)


def _start(model, optimizer, rng, dtype, theta0, state0):
    """theta and state to train from: the model's initialisation (drawn from ``rng`` in any case, so that the
    minibatches are shuffled alike) and ``optimizer.init``, or a run's ``theta0`` and ``state0`` to go on from."""
    theta = model.init(rng).astype(dtype, copy=False)
    if theta0 is not None:
        given = np.asarray(theta0)
        if given.shape != theta.shape or given.dtype != theta.dtype:
            raise ValueError(f"theta0 must have shape {theta.shape} and dtype {theta.dtype}, got {given.shape} "
                             f"{given.dtype}")
        theta = given.copy()
    return theta, (optimizer.init(theta) if state0 is None else state0)


class OptimizeResult(NamedTuple):
    """Per-step records on a synthetic objective; index 0 is the start. ``distance`` to the nearest optimum,
    ``value`` (noise-free), ``eta``, ``p_sq``, ``reference`` and ``divergence`` (as in :class:`TrainResult`); ``x``
    the final point (scipy's field names where they apply)."""

    distance: list
    value: list
    eta: list
    diverged: bool
    diverged_at: int | None
    message: str
    x: np.ndarray
    state: object
    p_sq: list
    reference: list
    divergence: str | None = None


def optimize(objective, optimizer, *, steps: int, seed: int = 0, x0: Array | None = None,
             divergence_factor: float | None = DIVERGENCE_FACTOR, t0: int = 0, state0=None) -> OptimizeResult:
    """Minimise ``objective`` (``clara_ref.objectives.get``) for ``steps`` noisy-gradient steps.

    The run counts as diverged when the distance to the optimum ends beyond ``divergence_factor`` times the
    initial distance (None: only non-finite values count; see the module docstring).

    An objective that changes with the step (``objective.stationary`` False, ``clara_ref.objectives.drifting``)
    gets the step: update k takes ``grad(x, rng, t=t0 + k)`` and its point is scored by ``value`` and ``distance``
    at t0 + k (the start at t0). ``t0`` and ``state0`` (an optimizer state to go on from instead of
    ``optimizer.init(x0)``) run one phase of such a task from where an earlier run left it. A stationary objective
    is called without t, as always.

    >>> import clara_ref as cr
    >>> r = optimize(cr.objectives.get("sphere", n=3, noise=0.1), cr.sgd(0.1), steps=100)
    >>> r.distance[0] > 100, r.distance[-1] < 0.2
    (True, True)
    """
    V.has_methods("objective", objective, ("value", "grad", "distance"), "an objective (clara_ref.objectives.get)")
    V.has_methods("optimizer", optimizer, ("init", "update"), "a clara_ref optimizer")
    steps = V.integer("steps", steps, hi=V.MAX_COUNT)
    seed = V.seed(seed)
    factor = _factor(divergence_factor)
    rng = np.random.default_rng(seed)
    try:
        x = np.array(objective.x0 if x0 is None else x0, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"x0 must be None or a real array, got {type(x0).__name__}") from None
    if x0 is not None and x.shape != np.shape(objective.x0):
        raise ValueError(f"x0 must have shape {np.shape(objective.x0)}, got {x.shape}")
    t0 = V.integer("t0", t0, hi=V.MAX_COUNT)
    timed = not getattr(objective, "stationary", True)
    if t0 and not timed:
        raise ValueError(f"t0 must be 0 for an objective without time, got {t0}")
    at = (lambda k: dict(t=t0 + k)) if timed else (lambda k: {})
    state = optimizer.init(x) if state0 is None else state0
    dist, vals, etas = [objective.distance(x, **at(0))], [objective.value(x, **at(0))], [state.eta]
    signal = [_path_signal(state)]
    with np.errstate(over="ignore", invalid="ignore"):
        for k in range(1, steps + 1):
            try:
                g = objective.grad(x, rng, **at(k))
                x, state = optimizer.update(x, g, state, loss=vals[-1])
                value = objective.value(x, **at(k))
                if not math.isfinite(value) or not np.all(np.isfinite(x)):
                    raise _NonFinite("non-finite value or iterate")
            except _DIVERGENCE as exc:
                return OptimizeResult(dist, vals, etas, True, k, f"{type(exc).__name__}: {exc}", x, state,
                                      *map(list, zip(*signal)), divergence=_kind(exc))
            dist.append(objective.distance(x, **at(k)))
            vals.append(value)
            etas.append(state.eta)
            signal.append(_path_signal(state))
    beyond = _beyond(dist[-1], dist[0], factor, "distance")
    return OptimizeResult(dist, vals, etas, beyond is not None, steps if beyond else None, beyond or "", x, state,
                          *map(list, zip(*signal)), divergence=beyond)
