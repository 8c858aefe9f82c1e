"""clara reproduces the CLARA authors' optimizers step for step when given their blocking, move and reference.

The oracle below is a short torch port written from the rule of the authors' ``SGD_Clara`` and ``Adam_Clara``
(asmaatamna/cumulative-learning-rate-adaptation @ 505f977): per-tensor loop, unit vectors with a 1e-12 clamp, the
move with the current lr, one global lr adapted after all tensors by exp(d (P / (K mu) - 1)), mu taken from their
table keyed by the total parameter count, grads mutated in place as upstream. ``clara(direction, eta0, c=, d=, move=,
blocks=tensor sizes, reference=K * mu)`` must match it to float64 rounding (relative 1e-10).
"""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import clara_ref as cr
from clara_ref.testing import lockstep

torch = pytest.importorskip("torch")


class AuthorsStyleClara:
    """The authors' update rule over a list of torch tensors (see the module docstring)."""

    def __init__(self, params, lr, kind, c, d, mu, unit, betas=(0.9, 0.999), eps=1e-8):
        self.params, self.lr, self.kind, self.c, self.d, self.mu, self.unit = params, lr, kind, c, d, mu, unit
        self.betas, self.eps = betas, eps
        self.state = [dict(path=torch.zeros_like(p), m=torch.zeros_like(p), v=torch.zeros_like(p), t=0)
                      for p in params]

    @torch.no_grad()
    def step(self):
        P, K = 0.0, len(self.params)
        for p, s in zip(self.params, self.state):
            g = p.grad
            if self.kind == "adam":
                b1, b2 = self.betas
                s["t"] += 1
                s["m"].mul_(b1).add_(g, alpha=1 - b1)
                s["v"].mul_(b2).addcmul_(g, g, value=1 - b2)
                step = (s["m"] / (1 - b1 ** s["t"])) / ((s["v"] / (1 - b2 ** s["t"])).sqrt() + self.eps)
            else:
                step = g
            unit = step / max(float(step.norm()), 1e-12)
            p.sub_(self.lr * (unit if self.unit else step))
            s["path"].mul_(1 - self.c).add_(unit, alpha=self.c)
            P += float(s["path"].pow(2).sum())
        self.lr *= math.exp(self.d * (P / (K * self.mu) - 1))


SHAPES = [(3, 2), (2,), (4, 2), (2,)]          # two linear layers: weight, bias, weight, bias
SIZES = tuple(int(np.prod(s)) for s in SHAPES)


def _port(theta0, **kw):
    tensors, start = [], 0
    for shape in SHAPES:
        n = int(np.prod(shape))
        tensors.append(torch.nn.Parameter(torch.tensor(theta0[start:start + n].reshape(shape))))
        start += n
    opt = AuthorsStyleClara(tensors, **kw)

    def step(g):
        start = 0
        for p, shape in zip(tensors, SHAPES):
            n = int(np.prod(shape))
            p.grad = torch.tensor(g[start:start + n].reshape(shape).copy())
            start += n
        opt.step()
        return np.concatenate([p.detach().numpy().ravel() for p in tensors]), opt.lr

    return step


@settings(max_examples=60)
@given(seed=st.integers(0, 2**31 - 1), kind=st.sampled_from(["sgd", "adam"]), unit=st.booleans(),
       c=st.sampled_from([0.1, 0.2, 0.5]), d=st.sampled_from([1e-3, 0.05, 0.5]), steps=st.integers(1, 30))
def test_clara_matches_the_authors_rule(seed, kind, unit, c, d, steps):
    rng = np.random.default_rng(seed)
    theta0 = rng.standard_normal(sum(SIZES))
    grads = [rng.standard_normal(sum(SIZES)) * 10 ** rng.uniform(-2, 2) for _ in range(steps)]
    # their table value for N = 16 does not exist; any mu works the same way: use the SGD mu and a table-like 0.6729
    mu = c / (2 - c) if kind == "sgd" else 0.6729
    direction = cr.sgd_direction() if kind == "sgd" else cr.adam_direction()
    ours = cr.clara(direction, 0.05, c=c, d=d, move="unit" if unit else "raw", blocks=SIZES,
                    reference=len(SIZES) * mu)
    lockstep(ours, _port(theta0, lr=0.05, kind=kind, c=c, d=d, mu=mu, unit=unit), theta0, grads, rtol=1e-10)
