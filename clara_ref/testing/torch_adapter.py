"""A ``torch.optim`` optimizer as a lockstep port (:func:`torch_port`)."""

from __future__ import annotations

import io
import math
from typing import Callable

import numpy as np

from .quantities import port_result
from .shapes import layout

__all__ = ["torch_port", "TorchPort"]


class TorchPort:
    """The port :func:`torch_port` returns: call it with a gradient, get the port's theta (and rate, and
    intermediates); ``reload()`` rebuilds the optimizer from its ``state_dict`` (saved and loaded through
    ``torch.save``/``torch.load``, as a checkpoint is) on fresh parameter tensors of the current values.
    ``optimizer``, ``params`` (``param`` is the first) and ``theta0`` (the start, in the port's dtype) are
    readable."""

    def __init__(self, make_optimizer, theta0, eta_of, intermediates_of, shapes, dtype, check_grad):
        import torch

        self._torch = torch
        theta0 = np.asarray(theta0)
        if theta0.ndim != 1 or theta0.size == 0:
            raise ValueError(f"theta0 must be a non-empty 1-D array, got shape {theta0.shape}")
        if dtype is None:
            dtype = torch.float32 if theta0.dtype == np.float32 else torch.float64
        if dtype not in (torch.float32, torch.float64):
            raise ValueError(f"dtype must be torch.float32 or torch.float64, got {dtype!r}")
        self.layout, sizes = layout([theta0.shape] if shapes is None else shapes)
        if sum(sizes) != theta0.size:
            raise ValueError(f"the trainable shapes hold {sum(sizes)} entries, theta0 has {theta0.size}")
        self.make_optimizer, self.eta_of, self.intermediates_of = make_optimizer, eta_of, intermediates_of
        self.dtype, self.check_grad, self.shape = dtype, check_grad, theta0.shape
        self.np_dtype = np.float32 if dtype == torch.float32 else np.float64
        self.params, start = [], 0
        for shape, is_frozen, fill in self.layout:
            if is_frozen:
                self.params.append(torch.nn.Parameter(torch.full(shape, fill, dtype=dtype), requires_grad=False))
            else:
                n = math.prod(shape)
                self.params.append(torch.nn.Parameter(torch.tensor(theta0[start:start + n].reshape(shape),
                                                                   dtype=dtype)))
                start += n
        self.frozen_values = [p.detach().clone() if is_frozen else None
                              for p, (_, is_frozen, _) in zip(self.params, self.layout)]
        self.optimizer = make_optimizer(self.params)
        self.theta0 = self._theta()
        self.leaf_order = [f"tensor {i} {shape}" + (" (frozen)" if is_frozen else "")
                           for i, (shape, is_frozen, _) in enumerate(self.layout)]
        self.count = 0

    @property
    def param(self):
        return self.params[0]

    def _theta(self) -> np.ndarray:
        return np.concatenate([p.detach().cpu().numpy().ravel() for p, (_, is_frozen, _) in
                               zip(self.params, self.layout) if not is_frozen]).astype(self.np_dtype)

    def __call__(self, g):
        torch = self._torch
        self.count += 1
        g = np.asarray(g)
        if g.shape != self.shape:
            raise ValueError(f"g must have theta0's shape {self.shape}, got {g.shape}")
        given, start = [], 0
        for p, (shape, is_frozen, _) in zip(self.params, self.layout):
            if is_frozen:
                p.grad = None
                given.append(None)
                continue
            n = math.prod(shape)
            p.grad = torch.tensor(np.ascontiguousarray(g[start:start + n]).reshape(shape), dtype=self.dtype)
            given.append((p.grad, p.grad.clone()) if self.check_grad else None)
            start += n
        self.optimizer.step()
        self._check_tensors(given)
        return port_result(self._theta(), self.optimizer, self.eta_of, self.intermediates_of)

    def _check_tensors(self, given):
        torch = self._torch
        for i, (p, (shape, is_frozen, _)) in enumerate(zip(self.params, self.layout)):
            if is_frozen and not torch.equal(p.detach(), self.frozen_values[i]):
                raise AssertionError(f"step {self.count}: the port moved frozen tensor {i} (shape {shape}), which "
                                     "has no gradient")
            if given[i] is not None and not torch.equal(given[i][0], given[i][1]):
                change = float((given[i][0] - given[i][1]).abs().max())
                raise AssertionError(f"step {self.count}: the port changed the gradient (.grad) of tensor {i} "
                                     f"(shape {shape}) in place, by up to {change:.3g}; a port must leave .grad as "
                                     "given (pass check_grad=False to allow it)")

    def reload(self):
        """Rebuild the optimizer from its state_dict, as a checkpoint restores it: saved and loaded through
        torch.save/torch.load, on new parameter tensors holding the current values."""
        torch = self._torch
        buffer = io.BytesIO()
        torch.save(self.optimizer.state_dict(), buffer)
        buffer.seek(0)
        saved = torch.load(buffer, weights_only=False)
        self.params = [torch.nn.Parameter(p.detach().clone(), requires_grad=p.requires_grad) for p in self.params]
        self.optimizer = self.make_optimizer(self.params)
        self.optimizer.load_state_dict(saved)


def torch_port(make_optimizer: Callable, theta0, eta_of: Callable | None = None, *, shapes=None, dtype=None,
               check_grad: bool = True, intermediates_of: Callable | None = None) -> TorchPort:
    """A lockstep port around a torch optimizer, its parameters initialised from ``theta0``.

    ``make_optimizer(params)`` builds it from the list of parameters (e.g. ``lambda ps: torch.optim.Adam(ps,
    lr=1e-3)``); ``eta_of(opt)``, if given, reads the port's learning rate after each step; ``intermediates_of(opt)``
    returns a dict of the port's own quantities after each step (``p_sq``, ``reference``, ``multiplier``, ``p`` in
    theta's layout, ...), compared by name with clara_ref's state fields. ``shapes`` (default: one tensor of
    theta0's shape) makes one parameter per shape, in order, the trainable sizes summing to theta0.size; a
    ``frozen(shape)`` entry is a parameter without a gradient (``requires_grad=False``, ``.grad`` None), which must
    not move. ``dtype`` is the torch dtype of the parameters (default: theta0's precision, float64 or float32).
    With ``check_grad`` (default) a step that changes a ``.grad`` tensor in place fails, naming the tensor (the
    authors' us-mode SGD normalises ``.grad`` itself, their Adam adds weight decay into it). ``reload()`` (what
    ``lockstep(..., reload_every=k)`` calls) rebuilds the optimizer from its ``state_dict``.

    >>> import torch
    >>> from clara_ref import adam
    >>> from clara_ref.testing import lockstep
    >>> step = torch_port(lambda ps: torch.optim.Adam(ps, lr=1e-2), np.zeros(5), shapes=[(2, 2), (1,)])
    >>> lockstep(adam(1e-2), step, np.zeros(5), [np.array([1.0, -2.0, 3.0, 0.5, 1.0])] * 5).max_theta_deviation < 1e-12
    True
    """
    return TorchPort(make_optimizer, theta0, eta_of, intermediates_of, shapes, dtype, check_grad)
