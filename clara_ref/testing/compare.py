"""The lockstep comparison: a clara_ref optimizer and a port side by side on the same gradients (:func:`lockstep`).

What is compared after every step t (``compare=``, "both" by default), on the port's dtype's tolerances
(:data:`TOLERANCES`)::

    theta    max_i |theta_port - theta_ref|  <=  atol + rtol S_t,   S_t = max(|theta_ref,t|_inf, |theta_ref,t-1|_inf)
    update   max_i |D_port - D_ref|  <=  atol + rtol |D_ref|_inf + 2 eps S_t,   D = theta_t - theta_{t-1}
    eta      |eta_port - eta_ref| / |eta_ref| <= eta rtol, whenever the port returns its rate
    named    every other quantity the port returns (m, v, p, p_sq, reference, multiplier, ...), relative to
             clara_ref's field of that name, on the theta tolerance

A non-finite value never passes: a port whose theta, update, rate or intermediate is inf or NaN where clara_ref's
is finite fails at once, naming the step, the quantity and the coordinate (NaN compares false with everything, so
a plain ``diff > tol`` would let it through). When both sides have diverged (clara_ref raises its divergence
error, or both iterates are beyond ``DIVERGENCE_BOUND`` (1 + |theta0|_inf), or the port's is non-finite while
clara_ref's is beyond that bound) the comparison stops there and the report says so (``LockstepReport.stopped``):
rounding differences between two diverging trajectories grow without bound (threefold a step on Rosenbrock) and
say nothing about the port.

Before the first step, a port that knows its own start (``port.theta0``, as the adapters set it) must start from
theta0 exactly, in its own dtype: a leaf order other than theta0's or a float64 theta0 rounded to a float32 port
fails there, naming the port's leaf order. ``reload_every=k`` rebuilds the port from its saved state
(``port.reload()``: torch's ``state_dict``, optax's state) every k steps, which a port that keeps state outside it
does not survive.
"""

from __future__ import annotations

import math
from typing import Callable, NamedTuple, Sequence

import numpy as np

from ..errors import LearningRateError, NonFiniteGradientError, NonFiniteStateError, RateFloorError
from .quantities import (_TINY, _as_array, _block_of, _both_sides, _nonfinite, _reference_value, _unpack,
                         relative_deviation)

__all__ = ["lockstep", "LockstepReport", "relative_deviation", "UPDATE_FLOOR_ULPS", "DIVERGENCE_BOUND"]

#: the update test's floor, in units of the machine epsilon times the size of theta (see the module box)
UPDATE_FLOOR_ULPS = 2.0
#: both sides have diverged once |theta|_inf exceeds this multiple of 1 + |theta0|_inf
DIVERGENCE_BOUND = 1e3
#: the reference's divergence errors: the comparison stops where clara_ref raises one of them
_STOPS = (LearningRateError, NonFiniteStateError, RateFloorError, NonFiniteGradientError)


class LockstepReport(NamedTuple):
    """What :func:`lockstep` measured: the steps compared, the worst deviations over them (``None`` for a quantity
    never compared), the tolerances used, clara_ref's last iterate and state, why the comparison stopped before the
    last step (``stopped``: both sides diverged; None when every step was compared) and how often the port was
    rebuilt from its saved state (``reloads``)."""

    steps: int
    max_theta_deviation: float | None
    max_eta_deviation: float | None
    theta: np.ndarray
    state: object
    max_update_deviation: float | None = None
    max_intermediate_deviation: dict | None = None
    tolerances: dict | None = None
    stopped: str | None = None
    reloads: int = 0


# -- what the port answered ------------------------------------------------------------------------------------------


# -- messages --------------------------------------------------------------------------------------------------------


# -- the comparison --------------------------------------------------------------------------------------------------

class _Run:
    """One lockstep comparison, step by step (:func:`lockstep` is ``_Run(...).go()``)."""

    def __init__(self, optimizer, port_step, theta0, gradients, steps, rtol, atol, eta_rtol, compare, losses,
                 reload_every):
        if compare not in ("theta", "update", "both"):
            raise ValueError(f"compare must be one of 'theta', 'update', 'both'; got {compare!r}")
        for name, value in (("rtol", rtol), ("atol", atol), ("eta_rtol", eta_rtol)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or
                                      not value >= 0 or math.isinf(value)):
                raise ValueError(f"{name} must be None or in [0, inf), got {value!r}")
        if reload_every is not None:
            if isinstance(reload_every, bool) or not isinstance(reload_every, int) or reload_every < 1:
                raise ValueError(f"reload_every must be None or a positive int, got {reload_every!r}")
            if not callable(getattr(port_step, "reload", None)):
                raise ValueError("reload_every needs a port with a reload() method (torch_port and optax_port have "
                                 "one)")
        self.optimizer, self.port_step, self.compare = optimizer, port_step, compare
        self.rtol, self.atol, self.eta_rtol, self.reload_every = rtol, atol, eta_rtol, reload_every
        self.theta = np.array(theta0, dtype=np.float64) if not hasattr(theta0, "dtype") else theta0
        self.gradients, self.n_steps = self._steps(gradients, steps)
        if losses is not None and len(losses) < self.n_steps:
            raise ValueError(f"losses has {len(losses)} entries for {self.n_steps} steps")
        self.losses = losses
        self.blocks = getattr(optimizer, "blocks", None)
        self.bound = DIVERGENCE_BOUND * (1.0 + float(np.max(np.abs(np.asarray(self.theta, dtype=np.float64)))))
        self.worst = {"theta": None, "update": None, "eta": None}
        self.worst_named: dict = {}
        self.tol = None
        self.reloads = 0

    @staticmethod
    def _steps(gradients, steps):
        if callable(gradients):
            if steps is None:
                raise ValueError("steps is required when gradients is a callable")
            return gradients, int(steps)
        gradients = list(gradients)
        if steps is not None and int(steps) > len(gradients):
            raise ValueError(f"steps = {steps} but only {len(gradients)} gradients were given")
        return gradients, len(gradients) if steps is None else int(steps)

    def go(self) -> LockstepReport:
        from .strategies import note_inputs

        note_inputs(self.optimizer, self.theta, self.gradients, self.n_steps)
        self.state = self.optimizer.init(self.theta)
        self._check_start()
        self.port_prev = np.asarray(self.theta, dtype=np.float64)
        stopped, done = None, 0
        for k in range(1, self.n_steps + 1):
            g = self.gradients(self.theta, k - 1) if callable(self.gradients) else self.gradients[k - 1]
            ref_prev = np.asarray(self.theta, dtype=np.float64)
            try:
                theta, state = self.optimizer.update(self.theta, g, self.state,
                                                     loss=None if self.losses is None else self.losses[k - 1])
            except _STOPS as exc:
                stopped = (f"step {k}: clara_ref stopped with its divergence error ({type(exc).__name__}: {exc}); "
                           "no comparison past it")
                break
            out = _unpack(self.port_step(np.array(g, copy=True)), k)
            self.theta, self.state = theta, state
            stopped = self._compare_step(k, out, ref_prev)
            if stopped:
                break
            done = k
            if self.reload_every and k % self.reload_every == 0 and k < self.n_steps:
                self.port_step.reload()
                self.reloads += 1
        return LockstepReport(done, self.worst["theta"], self.worst["eta"], self.theta, self.state,
                              self.worst["update"], self.worst_named or None, self.tol, stopped, self.reloads)

    def _check_start(self):
        """A port that knows its start must start from theta0 exactly, in its own dtype."""
        own = getattr(self.port_step, "theta0", None)
        if own is None:
            return
        own = np.asarray(own)
        ref = np.asarray(self.theta)
        order = getattr(self.port_step, "leaf_order", None)
        leaves = f" (the port's leaves, in its order: {', '.join(order)})" if order else ""
        if own.shape != ref.shape:
            raise AssertionError(f"step 0: the port holds {own.size} parameters, theta0 has {ref.size}{leaves}")
        if ref.dtype == np.float64 and own.dtype == np.float32 and not np.array_equal(ref.astype(np.float32), ref):
            change = float(np.max(np.abs(ref.astype(np.float32).astype(np.float64) - ref)))
            raise AssertionError(f"step 0: theta0 is float64 but the port holds it in float32, rounded by up to "
                                 f"{change:.3g}: give lockstep a float32 theta0 (theta0.astype(np.float32), so that "
                                 "clara_ref computes in float32 too) or build the port in float64")
        if not np.array_equal(own, ref.astype(own.dtype)):
            i = int(np.argmax(own != ref.astype(own.dtype)))
            raise AssertionError(f"step 0: the port starts from another theta0 than clara_ref: coordinate {i} is "
                                 f"{float(own[i])!r} in the port and {float(ref[i])!r} in theta0{leaves}")

    def _tolerances(self, port_raw):
        from .tolerances import tolerances_for

        self.tol = tolerances_for(port_raw.dtype, self.compare, self.rtol, self.atol, self.eta_rtol)

    def _compare_step(self, k, out, ref_prev):
        """Compare step k; return why the comparison stops (both sides diverged), or None."""
        port_raw = _as_array(out["theta"], "theta", k)
        if self.tol is None:
            self._tolerances(port_raw)
        port = port_raw.astype(np.float64)
        ref = np.asarray(self.theta, dtype=np.float64)
        if port.shape != ref.shape:
            raise AssertionError(f"step {k}: the port returned theta of shape {port.shape}, clara_ref has "
                                 f"{ref.shape}")
        ref_big = float(np.max(np.abs(ref))) > self.bound
        port_big = not np.all(np.isfinite(port)) or float(np.max(np.abs(port))) > self.bound
        if ref_big and port_big:
            return (f"step {k}: both sides have diverged (|theta| beyond {DIVERGENCE_BOUND:g} (1 + |theta0|) = "
                    f"{self.bound:.3g}): no comparison past it")
        _nonfinite(k, "theta", port, ref, self.blocks, out, self.state)
        for name in [n for n in out if n not in ("theta", "eta")]:   # intermediates come before the move
            self.worst_named[name] = max(self.worst_named.get(name, 0.0), self._named(name, out, k))
        self._theta_and_update(k, port, ref, ref_prev, out)
        if "eta" in out:
            self.worst["eta"] = max(self.worst["eta"] or 0.0, self._named("eta", out, k))
        return None

    def _theta_and_update(self, k, port, ref, ref_prev, out):
        tol = self.tol
        scale = max(float(np.max(np.abs(ref))), float(np.max(np.abs(ref_prev))), _TINY)
        diff = np.abs(port - ref)
        i = int(np.argmax(diff))
        theta_dev = float(diff[i]) / scale
        d_ref, d_port = ref - ref_prev, port - self.port_prev
        u_diff = np.abs(d_port - d_ref)
        floor = UPDATE_FLOOR_ULPS * tol["eps"] * scale             # the rounding of theta_t on each side
        u_scale = float(np.max(np.abs(d_ref)))
        update_dev = max(float(np.max(u_diff)) - floor, 0.0) / max(u_scale, _TINY)
        self.port_prev = port
        deviations = f"theta {theta_dev:.3e}, update {update_dev:.3e} ({tol['dtype']} port)"
        if self.compare in ("theta", "both"):
            self.worst["theta"] = max(self.worst["theta"] or 0.0, theta_dev)
            if not float(diff[i]) <= tol["atol"] + tol["theta"] * scale:
                self._fail(k, f"theta of the port deviates from clara_ref by {theta_dev:.4g} relative (tolerance: "
                           f"rtol {tol['theta']:g}, atol {tol['atol']:g})", i,
                           f"port {float(port[i])!r} vs clara_ref {float(ref[i])!r}", deviations, out)
        if self.compare in ("update", "both"):
            self.worst["update"] = max(self.worst["update"] or 0.0, update_dev)
            j = int(np.argmax(u_diff))
            if not float(u_diff[j]) <= tol["atol"] + tol["update"] * u_scale + floor:
                self._fail(k, f"the update theta_t - theta_(t-1) of the port deviates from clara_ref's by "
                           f"{update_dev:.4g} relative (tolerance: rtol {tol['update']:g} + {UPDATE_FLOOR_ULPS:g} "
                           f"ulps of theta, atol {tol['atol']:g})", j,
                           f"port update {float(d_port[j])!r} vs clara_ref {float(d_ref[j])!r}", deviations, out)

    def _fail(self, k, head, idx, values, deviations, out):
        raise AssertionError(f"step {k}: {head}; worst coordinate {idx} ({_block_of(idx, self.blocks)}), {values}; "
                             f"deviations: {deviations}; {_both_sides(out, self.state)}")

    def _named(self, name, out, k) -> float:
        """Compare the port's quantity ``name`` with clara_ref's field of that name (``eta``: the rate); return the
        relative deviation, or raise AssertionError past the tolerance (eta's, or theta's for intermediates)."""
        port_v = _as_array(out[name], name, k).astype(np.float64)
        ref_v = np.asarray(_reference_value(name, self.state, k), dtype=np.float64)
        if port_v.shape != ref_v.shape:
            raise AssertionError(f"step {k}: the port's {name} has shape {port_v.shape}, clara_ref's {ref_v.shape}")
        _nonfinite(k, name, port_v, ref_v, self.blocks, out, self.state)
        dev = relative_deviation(port_v, ref_v)
        limit = self.tol["eta"] if name == "eta" else self.tol["theta"]
        if not dev <= limit:
            if port_v.ndim:
                idx = int(np.argmax(np.abs(port_v - ref_v)))
                where = (f"worst coordinate {idx} ({_block_of(idx, self.blocks)}), port {float(port_v.flat[idx])!r} "
                         f"vs clara_ref {float(ref_v.flat[idx])!r}")
            else:
                where = f"port {float(port_v)!r} vs clara_ref {float(ref_v)!r}"
            raise AssertionError(f"step {k}: {name} of the port deviates from clara_ref by {dev:.4g} relative (rtol "
                                 f"{limit:g}); {where}; {_both_sides(out, self.state)}")
        return dev


def lockstep(optimizer, port_step: Callable, theta0, gradients, *, steps: int | None = None,
             rtol: float | None = None, atol: float | None = None, eta_rtol: float | None = None,
             compare: str = "both", losses: Sequence[float] | None = None,
             reload_every: int | None = None) -> LockstepReport:
    """Run ``optimizer`` and ``port_step`` in lockstep and assert that they agree after every step.

    ``gradients`` is a sequence of arrays, or a callable ``gradients(theta, k) -> g`` evaluated at clara_ref's
    iterate (then ``steps`` is required); both sides receive the very same values (the port gets a copy, in
    theta0's dtype). ``steps`` beyond the sequence is an error. ``port_step(g)`` returns the port's theta,
    ``(theta, eta)``, or a dict with ``theta`` and any of ``eta`` and the reference state's field names
    (``m``, ``v``, ``p``, ``p_sq``, ``reference``, ``multiplier``, ...), each compared with clara_ref's value of
    that name.

    ``compare`` is ``"both"`` (default), ``"theta"`` or ``"update"`` (module box); ``rtol`` (for theta, or the
    update with ``compare="update"``), ``atol`` (default 0) and ``eta_rtol`` default by the dtype the port returns
    (:data:`TOLERANCES`). ``losses`` go to ``update(..., loss=)`` (SALeRA). ``reload_every=k`` rebuilds the port
    from its saved state every k steps (``port_step.reload()``).

    Raises AssertionError at the first step that deviates or turns non-finite alone, naming the quantity, the
    worst coordinate and its block, both values, the theta and update deviations, and both sides' rate, path
    statistic, reference and multiplier; stops without a verdict where both sides have diverged (the report's
    ``stopped`` says so).

    >>> from clara_ref import sgd
    >>> def port():                      # a correct port of SGD at 0.1
    ...     theta = np.array([1.0, -1.0])
    ...     def step(g):
    ...         theta[:] = theta - 0.1 * g
    ...         return theta.copy(), 0.1
    ...     return step
    >>> report = lockstep(sgd(0.1), port(), np.array([1.0, -1.0]), [np.array([1.0, 2.0])] * 3)
    >>> report.steps, report.max_theta_deviation, report.max_eta_deviation, report.max_update_deviation
    (3, 0.0, 0.0, 0.0)
    """
    return _Run(optimizer, port_step, theta0, gradients, steps, rtol, atol, eta_rtol, compare, losses,
                reload_every).go()
