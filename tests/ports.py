"""Ports used by the harness tests: the CLARA rule over a list of tensors, as a user would write it in torch and in
optax, with switches that plant the bugs the harness must catch. They play the user's ports (the one place where a
second implementation is allowed), written from the rule in ``clara_ref/clara.py`` and the authors' classes
(asmaatamna/cumulative-learning-rate-adaptation @ 505f977): per-tensor unit vectors with a 1e-12 clamp, the move
with the current lr, one lr adapted after all tensors by exp(d (P / ref - 1)), tensors without a gradient skipped
(but counted in K when ref is K mu). The reference is what a port must compute: the sum over its tensors of the
expected |p_b|^2 under pure noise, from ``clara_ref.reference`` (Adam's steps: the kappa series; SGD: c/(2-c)).

Planted bugs (``bug=``), each of which the default ``lockstep`` must catch:

* ``"bias_ahead"``: Adam's bias corrections use t + 1 instead of t;
* ``"eps_inside"``: eps inside the square root, sqrt(v_hat + eps);
* ``"path_of_gradient"``: the path cumulates the normalised gradient instead of the step;
* ``"rate_before_move"``: the lr is adapted before the move (as the 2017 rule does);
* ``"stale_rate"``: the move uses the lr of the previous step;
* ``"c_d_swapped"``: the path constant and the damping trade places;
* ``"reference_wrong_size"``: every tensor is compared with the reference of the whole model's size (the authors'
  K mu(N));
* ``"global_norm"``: one norm over all tensors instead of one per tensor (in the path and in a unit move);
* ``"no_decay"``: the path forgets its (1 - c) decay, p <- p + c u;
* ``"exponent_sign"``: lr <- lr exp(-d (P / ref - 1));
* ``"grad_in_place"``: the step normalises ``p.grad`` itself (the authors' us-mode SGD);
* ``"wd_into_grad"``: weight decay is added into ``p.grad`` (the authors' Adam);
* ``"path_float32"``: the path is kept in float32 inside a float64 port;
* ``"nan_rate"``: the lr becomes NaN after the first step.

``ForeachClara`` is the same correct rule organised differently (torch._foreach ops over the tensor list, the
moments by lerp), and with ``step_in_attribute=True`` it keeps its step count as a Python attribute instead of in
its state, which only a reload shows.
"""

import math

import torch

import clara_ref as cr

BUGS = ("bias_ahead", "eps_inside", "path_of_gradient", "rate_before_move", "stale_rate", "c_d_swapped",
        "reference_wrong_size", "global_norm", "no_decay", "exponent_sign", "grad_in_place", "wd_into_grad",
        "path_float32", "nan_rate")
#: the bugs an optax port plants too
OPTAX_BUGS = ("bias_ahead", "eps_inside", "path_of_gradient", "c_d_swapped", "no_decay", "exponent_sign")


def reference_of(sizes, kind="adam", c=0.2, beta1=0.9):
    """What a correct port compares P with: sum_b E|p_b|^2 under pure noise, from clara_ref.reference."""
    direction = cr.adam_direction(beta1=beta1) if kind == "adam" else cr.sgd_direction()
    return sum(cr.reference.path_sq_norm_mean(direction, c=c, n=int(n)) for n in sizes)


class TorchClara(torch.optim.Optimizer):
    """CLARA over a list of tensors (one block each). ``reference``: a float (K mu, the authors'), or None for the
    correct sum of per-tensor expectations."""

    def __init__(self, params, lr, reference=None, kind="adam", c=0.2, d=1e-3, unit=False, betas=(0.9, 0.999),
                 eps=1e-8, weight_decay=0.0, bug=None):
        assert bug is None or bug in BUGS
        if bug == "c_d_swapped":
            c, d = d, c
        super().__init__(params, dict(lr=lr, prev_lr=lr))
        self.kind, self.c, self.d, self.unit, self.betas, self.eps = kind, c, d, unit, betas, eps
        self.weight_decay, self.bug = weight_decay, bug
        sizes = [p.numel() for p in self.param_groups[0]["params"] if p.requires_grad]
        if reference is None:
            per = [n if bug != "reference_wrong_size" else sum(sizes) for n in sizes]
            reference = reference_of(per, kind, c=0.2 if bug == "c_d_swapped" else c, beta1=betas[0])
        self.reference = reference

    def _adapt(self, P):
        group = self.param_groups[0]
        sign = -1.0 if self.bug == "exponent_sign" else 1.0
        group["prev_lr"] = group["lr"]
        group["lr"] *= math.exp(sign * self.d * (P / self.reference - 1.0))
        if self.bug == "nan_rate":
            group["lr"] = float("nan")

    def _direction(self, p, state):
        g = p.grad
        if self.weight_decay:
            if self.bug == "wd_into_grad":
                g.add_(p, alpha=self.weight_decay)
            else:
                g = g + self.weight_decay * p
        if self.kind != "adam":
            if self.bug == "grad_in_place":
                return g.div_(max(float(g.norm()), 1e-12))
            return g.clone()
        if not state:
            state.update(t=0, m=torch.zeros_like(p), v=torch.zeros_like(p))
        b1, b2 = self.betas
        state["t"] += 1
        t = state["t"] + (1 if self.bug == "bias_ahead" else 0)
        state["m"].mul_(b1).add_(g, alpha=1 - b1)
        state["v"].mul_(b2).addcmul_(g, g, value=1 - b2)
        m_hat, v_hat = state["m"] / (1 - b1**t), state["v"] / (1 - b2**t)
        return m_hat / ((v_hat + self.eps).sqrt() if self.bug == "eps_inside" else v_hat.sqrt() + self.eps)

    @torch.no_grad()
    def step(self):
        params = self.param_groups[0]["params"]
        directions = [None if p.grad is None else self._direction(p, self.state[p]) for p in params]
        vectors = [None if s is None else (p.grad if self.bug == "path_of_gradient" else s)
                   for p, s in zip(params, directions)]
        total = math.sqrt(sum(float(x.pow(2).sum()) for x in vectors if x is not None))
        P = 0.0
        for p, x in zip(params, vectors):
            if x is None:
                continue
            state = self.state[p]
            if "path" not in state:
                state["path"] = torch.zeros_like(p, dtype=torch.float32 if self.bug == "path_float32" else p.dtype)
            norm = total if self.bug == "global_norm" else float(x.norm())
            decay = 1.0 if self.bug == "no_decay" else 1 - self.c
            state["path"].mul_(decay).add_((x / max(norm, 1e-12)).to(state["path"].dtype), alpha=self.c)
            P += float(state["path"].double().pow(2).sum())
        if self.bug == "rate_before_move":
            self._adapt(P)
        group = self.param_groups[0]
        lr = group["prev_lr"] if self.bug == "stale_rate" else group["lr"]
        for p, s in zip(params, directions):
            if s is not None:
                norm = total if self.bug == "global_norm" else float(s.norm())
                p.sub_(lr * (s / max(norm, 1e-12) if self.unit else s))
        if self.bug != "rate_before_move":
            self._adapt(P)


class ForeachClara(torch.optim.Optimizer):
    """The same correct CLARA-Adam, organised as torch's foreach optimizers are: one list operation over all
    tensors at a time, the moments by lerp. ``step_in_attribute`` keeps the step count outside the state."""

    def __init__(self, params, lr, c=0.2, d=1e-3, betas=(0.9, 0.999), eps=1e-8, step_in_attribute=False):
        super().__init__(params, dict(lr=lr))
        self.c, self.d, self.betas, self.eps, self.step_in_attribute = c, d, betas, eps, step_in_attribute
        self.reference = reference_of([p.numel() for p in self.param_groups[0]["params"]], "adam", c, betas[0])
        self.t = 0

    @torch.no_grad()
    def step(self):
        group = self.param_groups[0]
        ps = [p for p in group["params"] if p.grad is not None]
        gs = [p.grad for p in ps]
        for p in ps:
            if not self.state[p]:
                self.state[p].update(t=0, m=torch.zeros_like(p), v=torch.zeros_like(p), path=torch.zeros_like(p))
        ms, vs, paths = ([self.state[p][k] for p in ps] for k in ("m", "v", "path"))
        b1, b2 = self.betas
        torch._foreach_lerp_(ms, gs, 1 - b1)
        torch._foreach_mul_(vs, b2)
        torch._foreach_addcmul_(vs, gs, gs, value=1 - b2)
        if self.step_in_attribute:
            self.t += 1
            t = self.t
        else:
            for p in ps:
                self.state[p]["t"] += 1
            t = self.state[ps[0]]["t"]
        denom = torch._foreach_div(torch._foreach_sqrt(vs), math.sqrt(1 - b2**t))
        torch._foreach_add_(denom, self.eps)
        s = torch._foreach_div(torch._foreach_div(ms, 1 - b1**t), denom)
        norms = [max(float(x), 1e-12) for x in torch._foreach_norm(s)]
        torch._foreach_mul_(paths, 1 - self.c)
        torch._foreach_add_(paths, [x / n for x, n in zip(s, norms)], alpha=self.c)
        P = sum(float(x) ** 2 for x in torch._foreach_norm(paths))
        torch._foreach_add_(ps, s, alpha=-group["lr"])
        group["lr"] *= math.exp(self.d * (P / self.reference - 1.0))


def authors_port(params, lr, kind, d=None, unit=False, c=0.2, bug=None):
    """``TorchClara`` configured the way the authors' classes configure themselves from a parameter list: K counts
    every tensor, N only those that require a gradient, mu and sigma from c/(2-c) and their formula (SGD) or their
    table (Adam), and d = 2 sigma when not given."""
    from clara_ref.authors import ADAM_MU_TABLE, ADAM_SIGMA_TABLE

    K = len(params)
    N = sum(p.numel() for p in params if p.requires_grad)
    if kind == "sgd":
        mu = c / (2 - c)
        sigma = math.sqrt(2) * mu * (1 - c) / math.sqrt((1 + (1 - c) ** 2) * N)
    else:
        mu, sigma = ADAM_MU_TABLE[N], ADAM_SIGMA_TABLE[N]
    return TorchClara(params, lr, K * mu, kind=kind, c=c, d=2 * sigma if d is None else d, unit=unit, bug=bug)


def optax_clara(learning_rate, sizes, c=0.2, d=1e-3, b1=0.9, b2=0.999, eps=1e-8, bug=None):
    """CLARA-Adam as an optax GradientTransformation over a pytree (one block per leaf): its state carries the
    moments, the path, the step count and the rate (``state.lr``, what ``eta_of`` reads)."""
    from typing import NamedTuple

    import jax
    import jax.numpy as jnp
    import optax

    assert bug is None or bug in OPTAX_BUGS
    if bug == "c_d_swapped":
        c, d = d, c
    reference = reference_of(sizes, "adam", c=0.2 if bug == "c_d_swapped" else c, beta1=b1)

    class State(NamedTuple):
        t: jnp.ndarray
        m: object
        v: object
        path: object
        lr: jnp.ndarray

    def init(params):
        zeros = jax.tree_util.tree_map(jnp.zeros_like, params)
        dtype = jax.tree_util.tree_leaves(params)[0].dtype
        return State(jnp.zeros([], jnp.int32), zeros, zeros, zeros, jnp.asarray(learning_rate, dtype))

    def update(grads, state, params=None):
        t = state.t + 1
        tb = t + (1 if bug == "bias_ahead" else 0)
        m = jax.tree_util.tree_map(lambda m, g: b1 * m + (1 - b1) * g, state.m, grads)
        v = jax.tree_util.tree_map(lambda v, g: b2 * v + (1 - b2) * g * g, state.v, grads)

        def direction(m, v):
            m_hat, v_hat = m / (1 - b1**tb), v / (1 - b2**tb)
            return m_hat / (jnp.sqrt(v_hat + eps) if bug == "eps_inside" else jnp.sqrt(v_hat) + eps)

        s = jax.tree_util.tree_map(direction, m, v)
        x = grads if bug == "path_of_gradient" else s
        decay = 1.0 if bug == "no_decay" else 1.0 - c
        path = jax.tree_util.tree_map(lambda p, x: decay * p + c * x / jnp.maximum(jnp.linalg.norm(x), 1e-12),
                                      state.path, x)
        P = sum(jnp.sum(p * p) for p in jax.tree_util.tree_leaves(path))
        sign = -1.0 if bug == "exponent_sign" else 1.0
        lr = state.lr * jnp.exp(sign * d * (P / reference - 1.0))
        updates = jax.tree_util.tree_map(lambda s: -state.lr * s, s)
        return updates, State(t, m, v, path, lr)

    return optax.GradientTransformation(init, update)
