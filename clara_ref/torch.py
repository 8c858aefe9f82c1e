"""CLARA for PyTorch: ``clara_ref.torch.CLARA``, a ``torch.optim.Optimizer`` (the ``torch`` extra).

This module imports torch only when ``CLARA`` is first read, so that ``import clara_ref.torch`` (and collecting
clara_ref's doctests) works without torch installed. The optimizer itself, with its equations beside their lines,
is ``clara_ref/_torch_optim.py``; it is proven equal to ``clara_ref.clara`` step for step by the lockstep harness
(tests/test_torch_optim.py)::

    import torch
    from clara_ref.torch import CLARA

    model = torch.nn.Linear(784, 10)
    opt = CLARA(model.parameters(), lr=1e-3, base="adam")        # c = 0.2, d = 1e-3, one block per tensor
    for x, y in batches:
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()                                                # .grad is read, never written
    print(opt.param_groups[0]["lr"], opt.state["clara"])          # the adapted rate; t, d, P, reference, factor

What a port needs besides the update, and what this one computes once per block size: Adam's pure-noise reference
E|p_b|^2 for each tensor's size (``clara_ref.reference.path_sq_norm_mean(adam_direction(beta1), c, n)``, the
kappa series), so that any model trains, whatever its parameter count (the authors' classes look the total up in
an eight-entry table). The 2017 rule (ALeRA) has no torch class here: use ``clara_ref.alera`` on flat arrays.
"""

from __future__ import annotations

__all__ = ["CLARA"]  # noqa: F822 - read lazily by __getattr__


def __getattr__(name):
    if name == "CLARA":
        try:
            from ._torch_optim import CLARA
        except ModuleNotFoundError as exc:    # pragma: no cover - exercised only without torch
            if exc.name != "torch":
                raise
            raise ImportError("clara_ref.torch needs torch: pip install 'clara_ref[torch]' (or torch itself)") from exc
        return CLARA
    raise AttributeError(f"module 'clara_ref.torch' has no attribute {name!r}")
