"""A harness for property-testing a framework port (PyTorch, JAX/optax, ...) against clara_ref, step for step.

Pieces:

* :func:`lockstep` runs a clara_ref optimizer and a *port* side by side on the same gradients and fails at the
  first step where they disagree. The port is a callback ``port_step(g)`` returning its new theta, ``(theta, eta)``,
  or a dict of named quantities (``theta``, ``eta``, and any of ``m``, ``v``, ``p``, ``p_sq``, ... compared with the
  reference state's fields of those names). It keeps its own state (a torch optimizer, an optax state).
* Adapters that build such a callback: :func:`torch_port` (a ``torch.optim`` optimizer over one or several tensors,
  frozen ones included, float64 or float32, checking that the port leaves ``.grad`` alone) and :func:`optax_port`
  (an optax transformation over a pytree, jit-compiled once and cached across hypothesis examples).
* :func:`authors_clara`: the ``clara(...)`` that reproduces the CLARA authors' ``SGD_Clara``/``Adam_Clara`` for a
  list of parameter shapes (their blocks, move, reference K mu(N) and default damping).
* hypothesis strategies (the ``testing`` extra): :func:`gradient_sequences`, :func:`quadratic_problems`,
  :func:`block_partitions`, :func:`parameter_shapes`, :func:`adam_hyperparameters`,
  :func:`adam_direction_hyperparameters`, :func:`clara_hyperparameters`.

What is compared, and how (``compare=``)::

    "theta"  (default)  after step t:  max_i |theta_port - theta_ref|  <=  atol + rtol S_t,
                        S_t = max(|theta_ref,t|_inf, |theta_ref,t-1|_inf)  (the size of the operands of the move)
    "update"            after step t:  max_i |D_port - D_ref|  <=  atol + rtol |D_ref|_inf + 2 eps S_t,
                        D = theta_t - theta_{t-1} of each side, eps the machine epsilon of the port's dtype
    "both"              both tests

Scaling theta's deviation by S_t (not by |theta_t| alone) is the absolute floor: rounding in theta_{t-1} - eta s is
relative to its operands, so an iterate that lands near zero does not inflate the deviation. The update test is the
sharper one for bugs that change each step a little (a rate adapted before the move changes every update by the
factor exp(d (P/ref - 1)), about 1e-3, while theta moves by only eta times that); its floor 2 eps S_t is what the
updates of two correct ports can differ by through rounding alone (each side rounds theta_t and theta_t-1, half an
ulp each; tests/test_lockstep.py shows a mixed-precision port that needs it), and the reported update deviation is
what lies beyond that floor, relative to |D_ref|_inf.

Default tolerances depend on the dtype the port returns (:data:`TOLERANCES`). They were set from the worst
deviations of correct ports (torch.optim.Adam and SGD, the CLARA rule in torch with SGD and Adam, raw and unit
moves, d from 1e-3 to 0.5) over 3,000 float32 and 2,000 float64 examples of this module's strategies
(``adam_hyperparameters``, ``gradient_sequences`` with up to 12 coordinates, 30 steps, gradient scales 1e-3 to
1e3), with a margin of 3 or more; tests/test_testing.py repeats the measurement on 60 examples and asserts that it
stays 3x below them::

    dtype      theta rtol   update rtol   eta rtol    worst measured (theta / update / eta)
    float64    1e-10        1e-10         1e-10       4.3e-14 / 4.4e-16 / 1.9e-15
    float32    5e-4         1e-5          1e-5        1.7e-4  / 1.1e-6  / 1.7e-6

The float32 theta worst comes from Adam with beta1 > beta2, where m_hat is a sum of nearly cancelling terms and
rounding is amplified over the steps; the update test is far tighter because it does not accumulate.
A float32 theta tolerance cannot see a rate adapted before the move at d = 1e-3 (theta moves by 3e-7 relative),
but its update deviates by 2e-4 to 9e-4, twenty times the float32 update tolerance or more.

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

import math
import sys
from typing import Callable, NamedTuple, Sequence

import numpy as np

__all__ = ["lockstep", "LockstepReport", "TOLERANCES", "relative_deviation", "torch_port", "optax_port", "Frozen",
           "frozen", "authors_clara", "gradient_sequences", "quadratic_problems", "block_partitions",
           "parameter_shapes", "adam_hyperparameters", "adam_direction_hyperparameters", "clara_hyperparameters",
           "QuadraticProblem"]

_TINY = sys.float_info.min
#: the update test's floor, in units of the machine epsilon times the size of theta (see the module box)
UPDATE_FLOOR_ULPS = 2.0

#: default tolerances by the dtype the port returns: theta, update and eta relative tolerances (module box)
TOLERANCES = {
    "float64": {"theta": 1e-10, "update": 1e-10, "eta": 1e-10},
    "float32": {"theta": 5e-4, "update": 1e-5, "eta": 1e-5},
}


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


class LockstepReport(NamedTuple):
    """What :func:`lockstep` measured: the worst deviations over all steps (``None`` for a quantity never
    compared), the tolerances used, and clara_ref's final iterate and state."""

    steps: int
    max_theta_deviation: float | None
    max_eta_deviation: float | None
    theta: np.ndarray
    state: object
    max_update_deviation: float | None = None
    max_intermediate_deviation: dict | None = None
    tolerances: dict | None = None


# -- the port's answer ----------------------------------------------------------------------------------------------

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
    """The first field called ``name`` in a nested NamedTuple state (depth first), or a KeyError."""
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


def _block_of(index: int, blocks) -> str:
    if not blocks:
        return "one block"
    start = 0
    for b, n in enumerate(blocks):
        if index < start + n:
            return f"block {b} of sizes {tuple(blocks)}"
        start += n
    return "outside the blocks"


def _diagnostics(state) -> str:
    parts = []
    for name in ("eta", "p_sq", "reference", "multiplier"):
        value = getattr(state, name, None)
        if isinstance(value, (int, float)):
            parts.append(f"{name} {float(value):.6g}")
    return ", ".join(parts)


def _note_inputs(optimizer, theta0, gradients, steps):
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


def _check_named(name, value, k, blocks, tol, deviations, state) -> float:
    """Compare the port's quantity ``name`` with clara_ref's field of that name (``eta``: the rate); return the
    relative deviation, or raise AssertionError past the tolerance (eta's, or theta's for intermediates)."""
    if name == "eta":
        ref_value = state.eta
    else:
        try:
            ref_value = _find(state, name)
        except KeyError:
            raise ValueError(f"step {k}: the port returned {name!r}, which clara_ref's {type(state).__name__} does "
                             f"not have; its fields: {', '.join(_fields(state))}") from None
    port_v = _as_array(value, name, k).astype(np.float64)
    ref_v = np.asarray(ref_value, dtype=np.float64)
    if port_v.shape != ref_v.shape:
        raise AssertionError(f"step {k}: the port's {name} has shape {port_v.shape}, clara_ref's {ref_v.shape}")
    dev = relative_deviation(port_v, ref_v)
    limit = tol["eta"] if name == "eta" else tol["theta"]
    if not dev <= limit:
        if port_v.ndim:
            idx = int(np.argmax(np.abs(port_v - ref_v)))
            where = (f"worst coordinate {idx} ({_block_of(idx, blocks)}), port {float(port_v.flat[idx])!r} vs "
                     f"clara_ref {float(ref_v.flat[idx])!r}")
        else:
            where = f"port {float(port_v)!r} vs clara_ref {float(ref_v)!r}"
        raise AssertionError(f"step {k}: {name} of the port deviates from clara_ref by {dev:.4g} relative (rtol "
                             f"{limit:g}); {where}; deviations: {deviations}; clara_ref at this step: "
                             f"{_diagnostics(state)}")
    return dev


def lockstep(optimizer, port_step: Callable, theta0, gradients, *, steps: int | None = None,
             rtol: float | None = None, atol: float | None = None, eta_rtol: float | None = None,
             compare: str = "theta", losses: Sequence[float] | None = None) -> LockstepReport:
    """Run ``optimizer`` and ``port_step`` in lockstep and assert that they agree after every step.

    ``gradients`` is a sequence of arrays, or a callable ``gradients(theta, k) -> g`` evaluated at clara_ref's
    iterate (then ``steps`` is required); both sides receive the very same values (the port gets a copy, in
    theta0's dtype). ``steps`` beyond the sequence is an error. ``port_step(g)`` returns the port's theta,
    ``(theta, eta)``, or a dict with ``theta`` and any of ``eta`` and the reference state's field names
    (``m``, ``v``, ``p``, ``p_sq``, ...), each compared with clara_ref's value of that name.

    ``compare`` is ``"theta"``, ``"update"`` or ``"both"`` (module box); ``rtol`` (for theta, or the update with
    ``compare="update"``), ``atol`` (default 0) and ``eta_rtol`` default by the dtype the port returns
    (:data:`TOLERANCES`). ``losses`` go to ``update(..., loss=)`` (SALeRA).
    Raises AssertionError at the first step that deviates, naming the quantity, the worst coordinate and its
    block, both values, the theta and update deviations, and clara_ref's eta, p_sq, reference and multiplier.

    >>> from clara_ref import sgd
    >>> def port():                      # a correct port of SGD at 0.1
    ...     theta = np.array([1.0, -1.0])
    ...     def step(g):
    ...         theta[:] = theta - 0.1 * g
    ...         return theta.copy(), 0.1
    ...     return step
    >>> report = lockstep(sgd(0.1), port(), np.array([1.0, -1.0]), [np.array([1.0, 2.0])] * 3)
    >>> report.steps, report.max_theta_deviation, report.max_eta_deviation, report.max_update_deviation
    (3, 0.0, 0.0, None)
    """
    if compare not in ("theta", "update", "both"):
        raise ValueError(f"compare must be one of 'theta', 'update', 'both'; got {compare!r}")
    for name, value in (("rtol", rtol), ("atol", atol), ("eta_rtol", eta_rtol)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or
                                  not value >= 0 or math.isinf(value)):
            raise ValueError(f"{name} must be None or in [0, inf), got {value!r}")
    theta = np.array(theta0, dtype=np.float64) if not hasattr(theta0, "dtype") else theta0
    if callable(gradients):
        if steps is None:
            raise ValueError("steps is required when gradients is a callable")
        n_steps = int(steps)
    else:
        gradients = list(gradients)
        if steps is not None and int(steps) > len(gradients):
            raise ValueError(f"steps = {steps} but only {len(gradients)} gradients were given")
        n_steps = len(gradients) if steps is None else int(steps)
    if losses is not None and len(losses) < n_steps:
        raise ValueError(f"losses has {len(losses)} entries for {n_steps} steps")
    _note_inputs(optimizer, theta, gradients, n_steps)
    blocks = getattr(optimizer, "blocks", None)
    state = optimizer.init(theta)
    port_prev = np.asarray(theta, dtype=np.float64)
    worst = {"theta": None, "update": None, "eta": None}
    worst_named: dict = {}
    tol = None
    for k in range(1, n_steps + 1):
        g = gradients(theta, k - 1) if callable(gradients) else gradients[k - 1]
        loss = None if losses is None else losses[k - 1]
        ref_prev = np.asarray(theta, dtype=np.float64)
        theta, state = optimizer.update(theta, g, state, loss=loss)
        out = _unpack(port_step(np.array(g, copy=True)), k)
        port_raw = _as_array(out["theta"], "theta", k)
        if tol is None:                                       # tolerances by the dtype the port returns
            kind = "float32" if port_raw.dtype == np.float32 else "float64"
            base = TOLERANCES[kind]
            tol = {"dtype": kind, "theta": base["theta"] if rtol is None or compare == "update" else rtol,
                   "update": base["update"] if rtol is None or compare == "theta" else rtol,
                   "eta": base["eta"] if eta_rtol is None else eta_rtol, "atol": 0.0 if atol is None else atol,
                   "eps": float(np.finfo(np.float32 if kind == "float32" else np.float64).eps)}
        port_theta = port_raw.astype(np.float64)
        ref = np.asarray(theta, dtype=np.float64)
        if port_theta.shape != ref.shape:
            raise AssertionError(f"step {k}: the port returned theta of shape {port_theta.shape}, clara_ref has "
                                 f"{ref.shape}")
        scale = max(float(np.max(np.abs(ref))), float(np.max(np.abs(ref_prev))), _TINY)
        diff = np.abs(port_theta - ref)
        i = int(np.argmax(diff))
        theta_dev = float(diff[i]) / scale
        d_ref, d_port = ref - ref_prev, port_theta - port_prev
        u_diff = np.abs(d_port - d_ref)
        floor = UPDATE_FLOOR_ULPS * tol["eps"] * scale             # the rounding of theta_t on each side
        u_scale = float(np.max(np.abs(d_ref)))
        update_dev = max(float(np.max(u_diff)) - floor, 0.0) / max(u_scale, _TINY)
        port_prev = port_theta
        checks = []
        if compare in ("theta", "both"):
            worst["theta"] = max(worst["theta"] or 0.0, theta_dev)
            checks.append(("theta", float(diff[i]) > tol["atol"] + tol["theta"] * scale, i))
        if compare in ("update", "both"):
            worst["update"] = max(worst["update"] or 0.0, update_dev)
            j = int(np.argmax(u_diff))
            checks.append(("update", float(u_diff[j]) > tol["atol"] + tol["update"] * u_scale + floor, j))
        # intermediates first (they come before the move), then theta and its update, then the adapted rate
        context = (k, blocks, tol, f"theta {theta_dev:.3e}, update {update_dev:.3e} ({tol['dtype']} port)", state)
        for name in [n for n in out if n not in ("theta", "eta")]:
            worst_named[name] = max(worst_named.get(name, 0.0), _check_named(name, out[name], *context))
        for what, failed, idx in checks:
            if failed:
                if what == "theta":
                    head = (f"theta of the port deviates from clara_ref by {theta_dev:.4g} relative (tolerance: rtol "
                            f"{tol['theta']:g}, atol {tol['atol']:g})")
                    values = f"port {float(port_theta[idx])!r} vs clara_ref {float(ref[idx])!r}"
                else:
                    head = (f"the update theta_t - theta_(t-1) of the port deviates from clara_ref's by "
                            f"{update_dev:.4g} relative (tolerance: rtol {tol['update']:g} + "
                            f"{UPDATE_FLOOR_ULPS:g} ulps of theta, atol {tol['atol']:g})")
                    values = f"port update {float(d_port[idx])!r} vs clara_ref {float(d_ref[idx])!r}"
                raise AssertionError(
                    f"step {k}: {head}; worst coordinate {idx} ({_block_of(idx, blocks)}), {values}; deviations: "
                    f"theta {theta_dev:.3e}, update {update_dev:.3e} ({tol['dtype']} port); clara_ref at this "
                    f"step: {_diagnostics(state)}")
        if "eta" in out:
            worst["eta"] = max(worst["eta"] or 0.0, _check_named("eta", out["eta"], *context))
    return LockstepReport(n_steps, worst["theta"], worst["eta"], theta, state, worst["update"],
                          worst_named or None, tol)


# -- parameter shapes, frozen tensors, the authors' classes ---------------------------------------------------------

class Frozen(NamedTuple):
    """A parameter tensor without a gradient (a frozen layer): its shape and the value it is filled with. It is part
    of the port's parameter list, but not of theta; the CLARA authors count it in K."""

    shape: tuple
    value: float = 0.0


def frozen(shape, value: float = 0.0) -> Frozen:
    """Mark a parameter shape as frozen (no gradient) for :func:`torch_port`, :func:`authors_clara` and
    :func:`gradient_sequences`.

    >>> frozen((3, 2))
    Frozen(shape=(3, 2), value=0.0)
    """
    return Frozen(_shape(shape), float(value))


def _shape(shape) -> tuple:
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
        shape = (int(shape),)
    try:
        shape = tuple(shape)
    except TypeError:
        raise ValueError(f"a shape must be a tuple of positive ints, got {shape!r}") from None
    if any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1 for s in shape):
        raise ValueError(f"a shape must be a tuple of positive ints, got {shape!r}")
    return tuple(int(s) for s in shape)


def _layout(shapes):
    """[(shape, is_frozen, fill)] for a list of shapes and Frozen markers, and the trainable sizes."""
    if shapes is None or isinstance(shapes, (str, bytes)) or len(shapes) == 0:
        raise ValueError(f"shapes must be a non-empty list of shapes (and frozen(...) markers), got {shapes!r}")
    out = []
    for s in shapes:
        if isinstance(s, Frozen):
            out.append((_shape(s.shape), True, s.value))
        else:
            out.append((_shape(s), False, 0.0))
    sizes = tuple(math.prod(s) for s, is_frozen, _ in out if not is_frozen)
    if not sizes:
        raise ValueError("shapes must contain at least one trainable (not frozen) shape")
    return out, sizes


def trainable_sizes(shapes) -> tuple:
    """The sizes of the trainable tensors of ``shapes``: the ``blocks`` of the matching clara_ref optimizer.

    >>> trainable_sizes([(3, 2), (2,), frozen((4,))])
    (6, 2)
    """
    return _layout(shapes)[1]


def authors_clara(params_shapes, lr: float, d: float | None = None, unit_step_direction: bool = False,
                  optimizer: str = "sgd", *, c: float = 0.2, beta1: float = 0.9, beta2: float = 0.999,
                  eps: float = 1e-8, weight_decay: float = 0.0):
    """The ``clara(...)`` that reproduces the CLARA authors' ``SGD_Clara`` / ``Adam_Clara`` (asmaatamna/
    cumulative-learning-rate-adaptation @ 505f977) on a model whose parameters have ``params_shapes``.

    Their rule (``clara_ref/clara.py``'s Notes): one block per tensor with a gradient, the move with the current
    rate, one rate adapted after the move, compared with K mu where K counts *every* tensor (frozen ones too, use
    :func:`frozen`) and mu is c/(2-c) for SGD or, for Adam, their Monte-Carlo table keyed by the number N of
    trainable parameters (``clara_ref.authors``). ``d=None`` is their class default 2 sigma: for SGD
    sigma = sqrt(2) mu (1-c) / sqrt((1 + (1-c)^2) N) (their formula, sqrt(2) too small, docs/companion.md), for
    Adam their table's sigma(N). A parameter count their Adam table lacks raises ``ValueError`` (their code fails
    there too). Only the keyword arguments of their classes are offered; the table is for c = 0.2 and the
    default betas, which their code uses whatever c is.

    >>> opt = authors_clara([(4, 3), (3,)], lr=0.01, optimizer="adam")
    >>> opt.blocks, round(opt.reference, 4), opt.move
    ((12, 3), 1.3458, 'raw')
    """
    from . import authors
    from . import _validate as V
    from .clara import clara
    from .directions import adam_direction, sgd_direction

    layout, sizes = _layout(params_shapes)
    V.flag("unit_step_direction", unit_step_direction)
    V.one_of("optimizer", optimizer, ("sgd", "adam"))
    c = V.path_constant(c)
    K, N = len(layout), int(sum(sizes))
    if optimizer == "sgd":
        mu = c / (2.0 - c)
        sigma = math.sqrt(2.0) * mu * (1.0 - c) / math.sqrt((1.0 + (1.0 - c) ** 2) * N)
        direction = sgd_direction(weight_decay=weight_decay)
    else:
        mu, _ = authors.adam_mu(N)
        sigma = authors.ADAM_SIGMA_TABLE[N]
        direction = adam_direction(beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay)
    return clara(direction, lr, c=c, d=2.0 * sigma if d is None else d, move="unit" if unit_step_direction else "raw",
                 blocks=sizes, reference=K * mu)


# -- adapters: torch and optax --------------------------------------------------------------------------------------

def torch_port(make_optimizer: Callable, theta0, eta_of: Callable | None = None, *, shapes=None, dtype=None,
               check_grad: bool = True) -> Callable:
    """A ``port_step`` callback around a torch optimizer, its parameters initialised from ``theta0``.

    ``make_optimizer(params)`` builds it from the list of parameters (e.g. ``lambda ps: torch.optim.Adam(ps,
    lr=1e-3)``); ``eta_of(opt)``, if given, reads the port's learning rate after each step. ``shapes`` (default: one
    tensor of theta0's shape) makes one parameter per shape, in order, the trainable sizes summing to theta0.size;
    a ``frozen(shape)`` entry is a parameter without a gradient (``requires_grad=False``, ``.grad`` None), which
    must not move. ``dtype`` is the torch dtype of the parameters (default: theta0's precision, float64 or float32).
    With ``check_grad`` (default) a step that changes a ``.grad`` tensor in place fails, naming the tensor (the
    authors' us-mode SGD normalises ``.grad`` itself, their Adam adds weight decay into it).

    >>> import torch
    >>> from clara_ref import adam
    >>> step = torch_port(lambda ps: torch.optim.Adam(ps, lr=1e-2), np.zeros(5), shapes=[(2, 2), (1,)])
    >>> lockstep(adam(1e-2), step, np.zeros(5), [np.array([1.0, -2.0, 3.0, 0.5, 1.0])] * 5).max_theta_deviation < 1e-12
    True
    """
    import torch

    theta0 = np.asarray(theta0)
    if theta0.ndim != 1 or theta0.size == 0:
        raise ValueError(f"theta0 must be a non-empty 1-D array, got shape {theta0.shape}")
    if dtype is None:
        dtype = torch.float32 if theta0.dtype == np.float32 else torch.float64
    if dtype not in (torch.float32, torch.float64):
        raise ValueError(f"dtype must be torch.float32 or torch.float64, got {dtype!r}")
    layout, sizes = _layout([theta0.shape] if shapes is None else shapes)
    if sum(sizes) != theta0.size:
        raise ValueError(f"the trainable shapes hold {sum(sizes)} entries, theta0 has {theta0.size}")
    params, start = [], 0
    for shape, is_frozen, fill in layout:
        if is_frozen:
            params.append(torch.nn.Parameter(torch.full(shape, fill, dtype=dtype), requires_grad=False))
        else:
            n = math.prod(shape)
            params.append(torch.nn.Parameter(torch.tensor(theta0[start:start + n].reshape(shape), dtype=dtype)))
            start += n
    frozen_values = [p.detach().clone() if is_frozen else None for p, (_, is_frozen, _) in zip(params, layout)]
    opt = make_optimizer(params)
    count = [0]
    np_dtype = np.float32 if dtype == torch.float32 else np.float64

    def step(g):
        count[0] += 1
        g = np.asarray(g)
        if g.shape != theta0.shape:
            raise ValueError(f"g must have theta0's shape {theta0.shape}, got {g.shape}")
        given, start = [], 0
        for p, (shape, is_frozen, _) in zip(params, layout):
            if is_frozen:
                p.grad = None
                given.append(None)
                continue
            n = math.prod(shape)
            p.grad = torch.tensor(np.ascontiguousarray(g[start:start + n]).reshape(shape), dtype=dtype)
            given.append((p.grad, p.grad.clone()) if check_grad else None)
            start += n
        opt.step()
        for i, (p, (shape, is_frozen, _)) in enumerate(zip(params, layout)):
            if is_frozen and not torch.equal(p.detach(), frozen_values[i]):
                raise AssertionError(f"step {count[0]}: the port moved frozen tensor {i} (shape {shape}), which has "
                                     "no gradient")
            if given[i] is not None and not torch.equal(given[i][0], given[i][1]):
                change = float((given[i][0] - given[i][1]).abs().max())
                raise AssertionError(f"step {count[0]}: the port changed the gradient (.grad) of tensor {i} (shape "
                                     f"{shape}) in place, by up to {change:.3g}; a port must leave .grad as given "
                                     "(pass check_grad=False to allow it)")
        theta = np.concatenate([p.detach().cpu().numpy().ravel() for p, (_, is_frozen, _) in zip(params, layout)
                                if not is_frozen]).astype(np_dtype)
        return (theta, float(eta_of(opt))) if eta_of is not None else theta

    step.optimizer = opt
    step.params = params
    step.param = params[0]
    return step


_OPTAX_CACHE: dict = {}


def optax_port(transformation, theta0, eta_of: Callable | None = None, *, dtype=None,
               hyperparameters: dict | None = None) -> Callable:
    """A ``port_step`` callback around an optax transformation (JAX users; needs ``jax`` and ``optax``).

    ``theta0`` is a 1-D array or any pytree of arrays (a dict of layers, say); it is flattened with
    ``jax.flatten_util.ravel_pytree``, so theta and the gradients are flat vectors in the order of its leaves (the
    blocks of the matching clara_ref optimizer are the leaves' sizes). ``dtype`` is ``"float64"`` (default for a
    float64 theta0; JAX's 64-bit mode is switched on inside the port only) or ``"float32"``. ``eta_of(opt_state)``
    reads the port's learning rate.

    The update step is jit-compiled once and cached by (transformation, pytree structure, shapes, dtype), so
    hypothesis examples that reuse a transformation do not recompile. To vary numeric hyperparameters across
    examples without recompiling, pass a factory as ``transformation`` and the numbers as ``hyperparameters``:
    ``optax_port(optax.adam, theta0, hyperparameters=dict(learning_rate=1e-3, b1=0.9))`` builds
    ``optax.adam(**hyperparameters)`` inside the compiled step, with the numbers traced (non-numeric options go
    into the factory, e.g. with ``functools.partial``).
    """
    import jax
    import jax.numpy as jnp
    import optax
    from jax.flatten_util import ravel_pytree

    leaves = jax.tree_util.tree_leaves(theta0)
    if not leaves:
        raise ValueError("theta0 must hold at least one array")
    if dtype is None:
        dtype = "float32" if all(np.asarray(a).dtype == np.float32 for a in leaves) else "float64"
    if dtype not in ("float32", "float64"):
        raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
    hp_names = tuple(sorted(hyperparameters)) if hyperparameters is not None else None
    if hyperparameters is not None and not callable(transformation):
        raise TypeError("with hyperparameters, transformation must be a factory such as optax.adam")
    if hyperparameters is None and not (hasattr(transformation, "init") and hasattr(transformation, "update")):
        raise TypeError(f"transformation must be an optax GradientTransformation, got {type(transformation).__name__}")
    x64 = dtype == "float64"
    with jax.enable_x64(x64):
        params = jax.tree_util.tree_map(lambda a: jnp.asarray(np.asarray(a), dtype=dtype), theta0)
        flat, unravel = ravel_pytree(params)
        structure = jax.tree_util.tree_structure(params)
        key = (transformation, structure, tuple(tuple(np.shape(a)) for a in jax.tree_util.tree_leaves(params)),
               dtype, hp_names)
        if key not in _OPTAX_CACHE:
            def build(hp):
                return transformation(**hp) if hp_names is not None else transformation

            def init(hp, p):
                return build(hp).init(p)

            def update(hp, opt_state, p, grads):
                updates, opt_state = build(hp).update(grads, opt_state, p)
                return optax.apply_updates(p, updates), opt_state

            _OPTAX_CACHE[key] = (jax.jit(init), jax.jit(update))
        init_fn, update_fn = _OPTAX_CACHE[key]
        hp = {k: jnp.asarray(float(v), dtype=dtype) for k, v in (hyperparameters or {}).items()}
        opt_state = init_fn(hp, params)
    box = {"params": params, "state": opt_state}
    np_dtype = np.float32 if dtype == "float32" else np.float64

    def step(g):
        g = np.asarray(g)
        if g.shape != tuple(flat.shape):
            raise ValueError(f"g must have the flattened theta0's shape {tuple(flat.shape)}, got {g.shape}")
        with jax.enable_x64(x64):
            grads = unravel(jnp.asarray(g, dtype=dtype))
            box["params"], box["state"] = update_fn(hp, box["state"], box["params"], grads)
            theta = np.asarray(ravel_pytree(box["params"])[0]).astype(np_dtype)
            eta = None if eta_of is None else float(eta_of(box["state"]))
        return theta if eta_of is None else (theta, eta)

    step.box = box
    step.unravel = unravel
    return step


# -- strategies -----------------------------------------------------------------------------------------------------

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
        size = sum(_layout(shapes)[1])
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
        "weight_decay": st.sampled_from([0.0, 0.0, 1e-2, 0.5]),
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
                          references=("direction", "random_walk"), dampings=(0.0, 1e-3, 0.1, 1.0, "auto"),
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
